//! refinery's layout (`layout = "refinery"`): `V<n>__<name>.sql` (and `U<n>__<name>.sql`,
//! refinery's "unversioned" scripts, which share the version numbers), read where they lie.
//!
//! Facts from refinery's sources (`refinery_core/src/util.rs`, `runner.rs`): names match
//! `^([U|V])(\d+(?:\.\d+)?)__(\w+)\.sql$` with the version parsed as an `i32`; refinery has no
//! down scripts; the checksum is SipHash-1-3 (keys 0) over the name, the version and the SQL,
//! each fed through Rust's `Hash`, stored as the decimal `u64`.

use std::hash::{Hash, Hasher};
use std::path::Path;

use super::{Classified, Entry, Found, Layout, ScanOptions, is_ignored};
use crate::error::{Error, ErrorCode, Result};
use crate::migration::version::{Version, VersionOrder};

pub const EXPECTED: &str = "V<version>__<name>.sql (version: a whole number up to 2147483647; name: letters, digits and _)";

/// `(version, name)` of a refinery script name.
pub fn parse_name(file: &str) -> Option<(&str, &str)> {
    let stem = file.strip_suffix(".sql")?;
    let rest = stem.strip_prefix('V').or_else(|| stem.strip_prefix('U'))?;
    let (version, name) = rest.split_once("__")?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let word =
        |text: &str| !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || c == '_');
    (digits(version) && version.parse::<i32>().is_ok() && word(name)).then_some((version, name))
}

/// refinery's checksum of a migration, as it stores it.
pub fn checksum(name: &str, version: i32, sql: &str) -> String {
    let mut hasher = siphasher::sip::SipHasher13::new();
    name.hash(&mut hasher);
    version.hash(&mut hasher);
    sql.hash(&mut hasher);
    hasher.finish().to_string()
}

/// Classifies a refinery set: every entry must be a refinery script name.
pub fn classify(dir: &Path, entries: &[Entry], options: &ScanOptions) -> Result<Classified> {
    let mut found = Vec::new();
    for entry in entries.iter().filter(|e| !is_ignored(&e.name, options)) {
        let parsed = (!entry.is_dir).then(|| parse_name(&entry.name)).flatten();
        let Some((version, name)) = parsed else {
            return Err(Error::input(
                ErrorCode::BadMigrationName,
                format!("`{}` is not a refinery migration name", entry.name),
            )
            .at_path(&dir.join(&entry.name))
            .hint(format!(
                "expected {EXPECTED}; or list it under `ignore` in {}",
                options.settings_place()
            )));
        };
        let version = Version::parse(version, VersionOrder::Integer)
            .map_err(|err| super::version_error(err, &dir.join(&entry.name), Layout::Refinery))?;
        found.push(Found {
            version,
            name: name.to_string(),
            up: entry.name.clone(),
            down: None,
        });
    }
    super::sort_refusing_duplicates(&mut found, dir)?;
    Ok(Classified {
        layout: Layout::Refinery,
        sqlx_reversible: false,
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_name("V1__initial.sql"), Some(("1", "initial")));
        assert_eq!(parse_name("U3__add_cars.sql"), Some(("3", "add_cars")));
        assert_eq!(parse_name("V1.1__x.sql"), None);
        assert_eq!(parse_name("V1__add-x.sql"), None);
        assert_eq!(parse_name("V3000000000__x.sql"), None);
        assert_eq!(parse_name("1_x.sql"), None);
    }

    /// SipHash-1-3 with zero keys over name (bytes, 0xff), version (4 bytes little-endian)
    /// and SQL (bytes, 0xff); the expected value was computed with an independent SipHash-1-3
    /// (a Python transcription of the reference algorithm).
    #[test]
    fn checksum_is_refinerys() {
        assert_eq!(
            checksum("initial", 1, "CREATE TABLE persons (id int);\n"),
            "1091441964215326441"
        );
    }
}
