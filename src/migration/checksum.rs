//! The one place checksums of migration scripts are computed.

use sha2::{Digest, Sha256};

/// SHA-256 of an up script with CRLF line endings normalised to LF, so a Windows checkout
/// (git `core.autocrlf`) does not make every applied migration look modified.
pub fn checksum(script: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let mut rest = script;
    while let Some(at) = rest.windows(2).position(|pair| pair == b"\r\n") {
        hasher.update(&rest[..at]);
        hasher.update(b"\n");
        rest = &rest[at + 2..];
    }
    hasher.update(rest);
    hasher.finalize().into()
}

/// Lower-case hex, the form checksums take in output and in the history table.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_lf_checkouts_have_the_same_checksum() {
        assert_eq!(
            checksum(b"CREATE TABLE a ();\r\nDROP TABLE b;\r\n"),
            checksum(b"CREATE TABLE a ();\nDROP TABLE b;\n")
        );
        // A lone CR is content, not a line ending.
        assert_ne!(checksum(b"a\rb"), checksum(b"a\nb"));
    }

    #[test]
    fn is_plain_sha256_of_the_normalised_bytes() {
        assert_eq!(
            to_hex(&checksum(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            checksum(b"select 1;\r\n"),
            <[u8; 32]>::from(Sha256::digest(b"select 1;\n"))
        );
    }
}
