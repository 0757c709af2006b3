//! Secrets seen in this process (database passwords), and scrubbing them from any text that is
//! about to be printed. URLs are shown redacted where they are formatted; this is the second
//! line of defence for text we do not control (driver and server error messages).

use std::sync::Mutex;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Secrets shorter than this are not scrubbed: replacing every `a` in the output would make it
/// unreadable and protect nothing.
const MIN_LEN: usize = 3;

/// Remembers `secret` so [`scrub`] removes it from output.
pub fn register(secret: &str) {
    if secret.len() < MIN_LEN {
        return;
    }
    let mut secrets = SECRETS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_string());
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret replaced by `***`.
pub fn scrub(text: &str) -> String {
    let secrets = SECRETS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut text = text.to_string();
    for secret in secrets.iter() {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "***");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_registered_secrets_longest_first() {
        register("hunter2-long");
        register("hunter2");
        assert_eq!(scrub("pw hunter2-long / hunter2"), "pw *** / ***");
        register("ab");
        assert_eq!(scrub("ab"), "ab");
    }
}
