//! Database passwords in what cargo-migrate prints. A password lives in a credential form: a
//! URL's `scheme://user:password@` (or `postgres:user:password@`, a typo for it), a
//! `password=`/`sslpassword=`/`PGPASSWORD=` key (libpq connection strings, URL parameters,
//! environment dumps) or a `password: "…"` field. [`redact`] is the one formatter that hides
//! them: every URL or connection string shown passes through it, and so does text we do not
//! control (driver and server messages) before it enters an error. Nothing outside a
//! credential form is ever rewritten, so a password that is also a common word (`postgres`,
//! `2026`) leaves the rest of the output alone.

use std::ops::Range;
use std::sync::Mutex;

/// Passwords this process was given. They are not searched for in output: they only tell
/// [`redact`] where a password inside a credential form ends when the text alone cannot (an
/// unencoded space, or an `@` in a URL's parameters).
static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Keys whose value is a password (compared case-insensitively, after percent-decoding).
const SECRET_KEYS: &[&str] = &["password", "sslpassword", "pgpassword", "passfile_password"];

/// What a hidden password is shown as.
const MASK: &str = "***";

/// Remembers `secret` as a password, so [`redact`] finds its end exactly.
pub fn register(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let mut known = KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !known.iter().any(|s| s == secret) {
        known.push(secret.to_string());
        // Longest first, so a password that starts with another is matched whole.
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with the password of every credential form in it replaced by `***`. A URL is taken
/// to end at whitespace; use [`redact_value`] for text that is one argument or setting.
pub fn redact(text: &str) -> String {
    mask(text, &spans(text, false, &known()))
}

/// Like [`redact`], for text that is one value (an argument, `--from`, a URL setting): a
/// URL's password may then hold spaces, and runs to the last `@`.
pub fn redact_value(text: &str) -> String {
    mask(text, &spans(text, true, &known()))
}

/// Registers the passwords of the credential forms in `text`, one value (an argument), so
/// that a message echoing part of it can be redacted exactly.
pub fn register_in(text: &str) {
    for span in spans(text, true, &known()) {
        let secret = &text[span];
        register(secret);
        if let Some(decoded) = percent_decoded(secret) {
            register(&decoded);
        }
    }
}

/// The password of the first URL in `text`, one value, as the text alone tells it
/// (`scheme://user:password@`, to the last `@`).
pub fn url_password(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    (0..text.len())
        .filter(|&i| text.is_char_boundary(i))
        .find_map(|i| url_password_at(text, bytes, i, true, &[]))
        .filter(|span| !span.is_empty())
        .map(|span| &text[span])
}

fn known() -> Vec<String> {
    KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

fn mask(text: &str, spans: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        out.push_str(&text[at..span.start]);
        out.push_str(MASK);
        at = span.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The byte ranges of the passwords in `text`, in order, not overlapping, none empty.
fn spans(text: &str, whole: bool, known: &[String]) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let span = url_password_at(text, bytes, i, whole, known)
            .or_else(|| key_password(text, bytes, i, known));
        match span {
            Some(span) => {
                i = span.end;
                if !span.is_empty() {
                    found.push(span);
                }
            }
            None => i += 1,
        }
        while i < bytes.len() && !text.is_char_boundary(i) {
            i += 1;
        }
    }
    found
}

fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.'
}

/// Schemes whose URLs carry credentials even when the `//` is forgotten.
const DATABASE_SCHEMES: &[&str] = &["postgres", "postgresql", "mysql", "mariadb"];

/// The password of a URL whose scheme starts at `i`: `scheme://user:password@…`, or
/// `postgres:user:password@…`. It runs to a known password followed by `@`, else to the last
/// `@` of the URL (which ends at whitespace unless `whole`): a password may hold `@`, `/`,
/// `?` or `#` typed unencoded, and hiding too much is better than too little.
fn url_password_at(
    text: &str,
    bytes: &[u8],
    i: usize,
    whole: bool,
    known: &[String],
) -> Option<Range<usize>> {
    if !bytes[i].is_ascii_alphabetic() || (i > 0 && is_scheme_byte(bytes[i - 1])) {
        return None;
    }
    let colon = i + bytes[i..].iter().position(|&b| !is_scheme_byte(b))?;
    if bytes[colon] != b':' {
        return None;
    }
    let scheme = &text[i..colon];
    let user_start = if bytes[colon + 1..].starts_with(b"//") {
        colon + 3
    } else if DATABASE_SCHEMES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
    {
        colon + 1
    } else {
        return None;
    };
    let user_end = user_start
        + bytes[user_start..]
            .iter()
            .position(|&b| b"@:/?#".contains(&b) || b.is_ascii_whitespace())
            .unwrap_or(bytes.len() - user_start);
    if bytes.get(user_end) != Some(&b':') {
        return None;
    }
    let start = user_end + 1;
    let rest = &text[start..];
    if let Some(secret) = known
        .iter()
        .find(|s| rest.starts_with(s.as_str()) && rest[s.len()..].starts_with('@'))
    {
        return Some(start..start + secret.len());
    }
    let end = if whole {
        bytes.len()
    } else {
        start
            + bytes[start..]
                .iter()
                .position(u8::is_ascii_whitespace)
                .unwrap_or(bytes.len() - start)
    };
    // No `@`: the `:` was the one of `host:port`.
    let at = text[start..end].rfind('@')?;
    Some(start..start + at)
}

/// The value of a password key starting at `i`: `password=value`, `password = 'quoted'`,
/// `PGPASSWORD=value`, `"password": "value"`, `password: Some("value")`.
fn key_password(text: &str, bytes: &[u8], i: usize, known: &[String]) -> Option<Range<usize>> {
    let is_key_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'%';
    if !bytes[i].is_ascii_alphabetic() || (i > 0 && is_key_byte(bytes[i - 1])) {
        return None;
    }
    let key_end = i + bytes[i..]
        .iter()
        .position(|&b| !is_key_byte(b))
        .unwrap_or(bytes.len() - i);
    let key = &text[i..key_end];
    let key = percent_decoded(key).unwrap_or_else(|| key.to_string());
    if !SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
        return None;
    }
    // In a URL's parameters a value ends at the next parameter.
    let in_query = i > 0 && (bytes[i - 1] == b'?' || bytes[i - 1] == b'&');
    let skip_blanks = |mut at: usize| {
        while bytes.get(at).is_some_and(|&b| b == b' ' || b == b'\t') {
            at += 1;
        }
        at
    };
    let mut at = key_end;
    if bytes.get(at).is_some_and(|&b| b == b'"' || b == b'\'') {
        at += 1;
    }
    at = skip_blanks(at);
    let assigned = match bytes.get(at) {
        Some(b'=') => true,
        Some(b':') => false,
        _ => return None,
    };
    at = skip_blanks(at + 1);
    if !assigned && bytes[at..].starts_with(b"Some(") {
        at += "Some(".len();
    }
    match bytes.get(at) {
        Some(&quote @ (b'"' | b'\'')) => {
            let start = at + 1;
            let mut end = start;
            while end < bytes.len() && bytes[end] != quote {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            let end = end.min(bytes.len());
            Some(start..end)
        }
        // `password: too short` is prose, not a credential.
        _ if !assigned => None,
        _ => {
            let start = at;
            let rest = &text[start..];
            let stops =
                |b: &u8| b.is_ascii_whitespace() || (in_query && (*b == b'&' || *b == b'#'));
            let mut end = start + rest.bytes().position(|b| stops(&b)).unwrap_or(rest.len());
            if let Some(secret) = known.iter().find(|s| rest.starts_with(s.as_str())) {
                end = end.max(start + secret.len());
            }
            Some(start..end)
        }
    }
}

/// `text` with its percent-escapes decoded, when it has any and they decode to UTF-8.
pub fn percent_decoded(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push((high * 16 + low) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str, whole: bool, known: &[&str]) -> String {
        let known: Vec<String> = known.iter().map(|s| s.to_string()).collect();
        mask(text, &spans(text, whole, &known))
    }

    #[test]
    fn url_passwords_are_hidden_and_nothing_else() {
        for (text, want) in [
            (
                "postgres://app:hunter2@db:5432/app",
                "postgres://app:***@db:5432/app",
            ),
            // A password equal to every other part stays hidden only where it is a password.
            (
                "postgres://postgres:postgres@localhost/postgres",
                "postgres://postgres:***@localhost/postgres",
            ),
            ("postgres://u@h:5432/db", "postgres://u@h:5432/db"),
            ("postgres://h:5432/db", "postgres://h:5432/db"),
            ("postgres://u:@h/db", "postgres://u:@h/db"),
            ("sqlite:data/app.db?mode=rwc", "sqlite:data/app.db?mode=rwc"),
            ("sqlite://data/app.db", "sqlite://data/app.db"),
            // Unencoded `/`, `?`, `#`, `@` in the password: hidden to the last `@`.
            ("postgres://u:pa/ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:pa?ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:pa#ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
            // The `//` forgotten.
            ("postgres:user:pw@host/db", "postgres:user:***@host/db"),
            ("mysql:user:pw@host/db", "mysql:user:***@host/db"),
            // In prose, a URL ends at whitespace.
            (
                "cannot use 'postgres://u:pw@h/db' (see a@b)",
                "cannot use 'postgres://u:***@h/db' (see a@b)",
            ),
            (
                "time 12:30:45 and note: x:y@z",
                "time 12:30:45 and note: x:y@z",
            ),
            ("redis://:pw@cache", "redis://:***@cache"),
        ] {
            assert_eq!(redacted(text, false, &[]), want, "{text}");
        }
    }

    #[test]
    fn key_passwords_are_hidden() {
        for (text, want) in [
            (
                "host=db password=hunter2 dbname=app",
                "host=db password=*** dbname=app",
            ),
            (
                "host=db password='hunter 2\\' x' dbname=app",
                "host=db password='***' dbname=app",
            ),
            ("host=db PASSWORD = secret", "host=db PASSWORD = ***"),
            ("PGPASSWORD=hunter2 psql", "PGPASSWORD=*** psql"),
            (
                "postgres://h/db?user=a&password=qp-1&sslmode=require",
                "postgres://h/db?user=a&password=***&sslmode=require",
            ),
            (
                "postgres://h/db?pass%77ord=qp-1&sslmode=require",
                "postgres://h/db?pass%77ord=***&sslmode=require",
            ),
            ("{\"password\":\"a\\\"b\"}", "{\"password\":\"***\"}"),
            (
                "PgConnectOptions { password: Some(\"x y\"), port: 5432 }",
                "PgConnectOptions { password: Some(\"***\"), port: 5432 }",
            ),
            // Prose about passwords is not a credential.
            (
                "password authentication failed for user \"postgres\"",
                "password authentication failed for user \"postgres\"",
            ),
            ("password: too short", "password: too short"),
            ("no_password=1 mypassword=2", "no_password=1 mypassword=2"),
        ] {
            assert_eq!(redacted(text, false, &[]), want, "{text}");
        }
    }

    #[test]
    fn known_passwords_give_the_exact_end() {
        // A space in the password ends the URL in prose, unless the password is known.
        assert_eq!(
            redacted("at postgres://u:pa ss@h/db now", false, &["pa ss"]),
            "at postgres://u:***@h/db now"
        );
        // An `@` in a parameter is not taken for the end of a known password.
        assert_eq!(
            redacted("postgres://u:pw@h/db?application_name=a@b", true, &["pw"]),
            "postgres://u:***@h/db?application_name=a@b"
        );
        assert_eq!(
            redacted("postgres://u:pw@h/db?application_name=a@b", true, &[]),
            "postgres://u:***@b"
        );
        assert_eq!(
            redacted("postgres://u:pa ss@h/db", true, &[]),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redacted("PGPASSWORD=pa ss psql", false, &["pa ss"]),
            "PGPASSWORD=*** psql"
        );
    }

    #[test]
    fn url_passwords_are_detected() {
        assert_eq!(url_password("postgres://u:12/ss@h/db"), Some("12/ss"));
        assert_eq!(url_password("postgres://u@h:5432/db"), None);
        assert_eq!(url_password("postgres://u:@h/db"), None);
        assert_eq!(url_password("sqlite:app.db"), None);
    }

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(percent_decoded("p%40ss%2F").as_deref(), Some("p@ss/"));
        assert_eq!(percent_decoded("plain"), None);
        assert_eq!(percent_decoded("50%zz").as_deref(), Some("50%zz"));
        assert_eq!(percent_decoded("%FF"), None);
    }
}
