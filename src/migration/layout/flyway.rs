//! Flyway's layout: `V<version>__<description>.sql` (versioned), `U<version>__<description>.sql`
//! (undo: our down), `R__<description>.sql` (repeatable), read where they lie.
//!
//! Facts from Flyway's sources (`ResourceNameParser`, `MigrationVersion`, `ChecksumCalculator`):
//! - the prefix is matched first, then the name splits at the first separator (`__`);
//! - a version is digit groups joined by `.` or `_` (`_` is shown and stored as `.`), compared
//!   numerically part by part with trailing zero parts ignored;
//! - the description is the rest with `_` read as a space;
//! - the checksum is CRC-32 over the script's lines without their line breaks (a leading byte
//!   order mark dropped), stored as a signed 32-bit integer.

use std::path::Path;

use super::{Classified, Entry, Found, Layout, ScanOptions, is_ignored};
use crate::error::{Error, ErrorCode, Result};
use crate::migration::version::{Version, VersionOrder};
use crate::migration::{Migration, checksum, has_no_transaction_directive};

/// Flyway's `sqlMigrationSuffixes` default.
const SUFFIX: &str = ".sql";

/// The parts of Flyway's names a project may configure (`sqlMigrationPrefix`,
/// `undoSqlMigrationPrefix`, `repeatableSqlMigrationPrefix`, `sqlMigrationSeparator`):
/// `[package.metadata.migrate.flyway]` with `prefix`, `undo-prefix`, `repeatable-prefix`,
/// `separator`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub prefix: String,
    pub undo_prefix: String,
    pub repeatable_prefix: String,
    pub separator: String,
}

impl Default for Names {
    /// Flyway's defaults.
    fn default() -> Names {
        Names {
            prefix: "V".into(),
            undo_prefix: "U".into(),
            repeatable_prefix: "R".into(),
            separator: "__".into(),
        }
    }
}

impl Names {
    /// The `flyway` table of the configuration. `Err`: what is wrong, for the caller to place.
    pub fn parse(value: &serde_json::Value) -> std::result::Result<Names, String> {
        let serde_json::Value::Object(entries) = value else {
            return Err(
                "must be a table with prefix, undo-prefix, repeatable-prefix or separator".into(),
            );
        };
        let mut names = Names::default();
        for (key, value) in entries {
            let text = value
                .as_str()
                .filter(|text| !text.is_empty())
                .ok_or_else(|| format!("`{key}` must be a non-empty string"))?
                .to_string();
            match key.as_str() {
                "prefix" => names.prefix = text,
                "undo-prefix" => names.undo_prefix = text,
                "repeatable-prefix" => names.repeatable_prefix = text,
                "separator" => names.separator = text,
                other => {
                    return Err(format!(
                        "unknown key `{other}`; expected prefix, undo-prefix, repeatable-prefix or separator"
                    ));
                }
            }
        }
        Ok(names)
    }
}
/// Flyway's per-script configuration file: `<script>.conf`.
const CONF_SUFFIX: &str = ".conf";

pub const EXPECTED: &str = "V<version>__<description>.sql, U<version>__<description>.sql for its undo, or R__<description>.sql for a repeatable script (version: digits separated by . or _, like 1, 1.2 or 1_12_15)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Versioned,
    Undo,
    Repeatable,
}

/// A file name in Flyway's form, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name<'a> {
    pub kind: Kind,
    /// Empty for a repeatable.
    pub version: &'a str,
    /// As written (underscores kept).
    pub description: &'a str,
}

/// Reads `file` as Flyway does; `None` when it has no Flyway prefix and suffix, or the part
/// before the separator is not a version. The suffix is matched ignoring case, as Flyway does.
pub fn parse_name<'a>(file: &'a str, names: &Names) -> Option<Name<'a>> {
    let stem_len = file.len().checked_sub(SUFFIX.len())?;
    if !file.is_char_boundary(stem_len) || !file[stem_len..].eq_ignore_ascii_case(SUFFIX) {
        return None;
    }
    let stem = &file[..stem_len];
    // The longest prefix that matches, as Flyway tries them.
    let mut prefixes = [
        (names.prefix.as_str(), Kind::Versioned),
        (names.undo_prefix.as_str(), Kind::Undo),
        (names.repeatable_prefix.as_str(), Kind::Repeatable),
    ];
    prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
    let (kind, rest) = prefixes
        .iter()
        .find_map(|(prefix, kind)| stem.strip_prefix(prefix).map(|rest| (*kind, rest)))?;
    let (version, description) = rest.split_once(names.separator.as_str())?;
    let valid = match kind {
        Kind::Repeatable => version.is_empty(),
        _ => Version::parse(version, VersionOrder::Parts).is_ok(),
    };
    (valid && !description.is_empty()).then_some(Name {
        kind,
        version,
        description,
    })
}

/// A version as Flyway shows and stores it: `_` written as `.`.
pub fn display_version(raw: &str) -> String {
    raw.replace('_', ".")
}

/// A description as Flyway stores it: `_` read as a space.
pub fn description(name: &str) -> String {
    name.replace('_', " ")
}

/// Flyway's checksum of a script: CRC-32 of its lines without line breaks (`\n`, `\r\n` or a
/// lone `\r` end a line, as Java's `BufferedReader.readLine` reads them), after dropping a
/// leading byte order mark; as the signed integer Flyway stores.
pub fn checksum_of(sql: &str) -> i32 {
    let text = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    let mut crc = Crc32::new();
    for chunk in text.as_bytes().split(|&b| b == b'\n' || b == b'\r') {
        crc.update(chunk);
    }
    crc.finish() as i32
}

/// CRC-32 (IEEE 802.3, reflected, as `java.util.zip.CRC32`).
struct Crc32(u32);

impl Crc32 {
    fn new() -> Crc32 {
        Crc32(0xffff_ffff)
    }

    fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let mut value = (self.0 ^ u32::from(byte)) & 0xff;
            for _ in 0..8 {
                value = if value & 1 == 1 {
                    (value >> 1) ^ 0xedb8_8320
                } else {
                    value >> 1
                };
            }
            self.0 = (self.0 >> 8) ^ value;
        }
    }

    fn finish(&self) -> u32 {
        !self.0
    }
}

/// Whether the set is Flyway's: configured so, or holding Flyway names and no other tool's.
pub fn applies(entries: &[Entry], options: &ScanOptions) -> bool {
    match options.default_layout {
        Some(Layout::Flyway) => return true,
        // refinery's names are Flyway's: read as refinery's when configured so.
        Some(Layout::Refinery) => return false,
        _ => {}
    }
    let mut flyway = false;
    for entry in entries.iter().filter(|e| !is_ignored(&e.name, options)) {
        if !entry.is_dir && parse_name(&entry.name, &options.flyway).is_some() {
            flyway = true;
        } else if !matches!(super::shape(entry), super::Shape::Unknown) {
            return false;
        }
    }
    flyway
}

/// Classifies a Flyway set: versioned scripts paired with their undo by version.
pub fn classify(dir: &Path, entries: &[Entry], options: &ScanOptions) -> Result<Classified> {
    let mut found: Vec<Found> = Vec::new();
    let mut undos: Vec<(Version, &str)> = Vec::new();
    let scripts: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    for entry in entries {
        if is_ignored(&entry.name, options) {
            continue;
        }
        // `V1__x.sql.conf` configures `V1__x.sql`; read with it.
        if let Some(script) = entry.name.strip_suffix(CONF_SUFFIX)
            && !entry.is_dir
            && scripts.contains(&script)
        {
            continue;
        }
        let name = (!entry.is_dir)
            .then(|| parse_name(&entry.name, &options.flyway))
            .flatten();
        let Some(name) = name else {
            let what = if entry.is_dir { "directory" } else { "file" };
            return Err(Error::input(
                ErrorCode::BadMigrationName,
                format!("`{}` is not a Flyway migration {what} name", entry.name),
            )
            .at_path(&dir.join(&entry.name))
            .hint(format!(
                "expected {EXPECTED}; or list it under `ignore` in {}",
                options.settings_place()
            )));
        };
        if name.kind == Kind::Repeatable {
            // After every versioned script, by description; re-applied when it changes.
            found.push(Found {
                version: Version::repeatable(name.description),
                name: name.description.to_string(),
                up: entry.name.clone(),
                down: None,
            });
            continue;
        }
        let version = Version::parse(name.version, VersionOrder::Parts).map_err(|_| {
            super::version_error(
                super::VersionError::Malformed,
                &dir.join(&entry.name),
                Layout::Flyway,
            )
        })?;
        match name.kind {
            Kind::Undo => undos.push((version, entry.name.as_str())),
            _ => found.push(Found {
                version,
                name: name.description.to_string(),
                up: entry.name.clone(),
                down: None,
            }),
        }
    }
    super::sort_refusing_duplicates(&mut found, dir)?;
    for (version, undo) in undos {
        let Some(up) = found.iter_mut().find(|f| f.version.same_key(&version)) else {
            return Err(Error::input(
                ErrorCode::DownWithoutUp,
                format!(
                    "`{undo}` undoes version {}, which has no V script",
                    display_version(version.as_str())
                ),
            )
            .at_path(&dir.join(undo))
            .hint("add the versioned script, or remove the undo script"));
        };
        if let Some(other) = &up.down {
            return Err(super::duplicate_version(&version, dir, other, undo));
        }
        up.down = Some(undo.to_string());
    }
    Ok(Classified {
        layout: Layout::Flyway,
        sqlx_reversible: false,
        found,
    })
}

/// Reads one versioned script, its undo, and its `.conf` (`executeInTransaction=false` runs it
/// outside a transaction, as in Flyway).
pub fn read(dir: &Path, found: Found) -> Result<Migration> {
    let up_path = dir.join(&found.up);
    let (up, up_bytes) = super::read_script(&up_path)?;
    super::refuse_empty_up(&up)?;
    let down = match &found.down {
        Some(name) => Some(super::read_script(&dir.join(name))?.0),
        None => None,
    };
    let mut no_transaction = has_no_transaction_directive(&up.sql, Layout::Flyway);
    let conf = dir.join(format!("{}{CONF_SUFFIX}", found.up));
    if let Ok(text) = std::fs::read_to_string(&conf) {
        no_transaction |= text.lines().any(|line| {
            line.split_once('=').is_some_and(|(key, value)| {
                key.trim() == "executeInTransaction" && value.trim().eq_ignore_ascii_case("false")
            })
        });
    }
    let repeatable = found.version.is_repeatable();
    Ok(Migration {
        no_transaction,
        version: found.version,
        name: found.name,
        checksum: checksum::checksum(&up_bytes),
        down_is_empty: down
            .as_ref()
            .is_some_and(|down| crate::migration::is_placeholder_down(&up.sql, &down.sql)),
        up,
        down,
        created_at: None,
        repeatable,
    })
}

/// The version `new` gives: the newest one with its last part counted up, keeping the way it
/// is written (`1_12_30` → `1_12_31`, `1.9` → `1.10`, `007` → `008`); `1` for the first.
pub fn next_version(newest: Option<&Version>) -> Version {
    let next = newest.map_or_else(
        || "1".to_string(),
        |newest| {
            let raw = newest.as_str();
            let start = raw.rfind(['.', '_']).map_or(0, |i| i + 1);
            let (head, last) = raw.split_at(start);
            format!("{head}{}", increment_digits(last))
        },
    );
    Version::parse(&next, VersionOrder::Parts).unwrap_or_else(|_| {
        newest
            .cloned()
            .unwrap_or_else(|| Version::parse("1", VersionOrder::Parts).expect("1 is a version"))
    })
}

/// Adds one to a run of decimal digits of any length, keeping its zero padding.
fn increment_digits(digits: &str) -> String {
    let mut bytes = digits.as_bytes().to_vec();
    for byte in bytes.iter_mut().rev() {
        if *byte == b'9' {
            *byte = b'0';
        } else {
            *byte += 1;
            return String::from_utf8(bytes).unwrap_or_default();
        }
    }
    format!("1{}", String::from_utf8(bytes).unwrap_or_default())
}

/// The files `new` writes: `V<version>__<name>.sql`, and `U<version>__<name>.sql` for a down.
/// The prefixes and separator follow the set's own scripts (a set with configured ones goes
/// on in them), else Flyway's defaults.
pub fn scaffold_files(
    dir: &Path,
    existing: &[Migration],
    version: &str,
    name: &str,
    up: String,
    down: Option<String>,
) -> Vec<(std::path::PathBuf, String)> {
    let defaults = Names::default();
    let parts = |migration: &Migration, path: &Path| -> Option<(String, String)> {
        let file = path.file_name()?.to_str()?;
        let raw = migration.version.as_str();
        let at = file.find(raw)?;
        let end = file
            .len()
            .checked_sub(migration.name.len() + SUFFIX.len())?;
        let separator = file.get(at + raw.len()..end)?;
        Some((file[..at].to_string(), separator.to_string()))
    };
    let (prefix, separator) = existing
        .iter()
        .rev()
        .find(|m| !m.repeatable)
        .and_then(|m| parts(m, &m.up.path))
        .unwrap_or((defaults.prefix, defaults.separator));
    let undo_prefix = existing
        .iter()
        .rev()
        .find_map(|m| m.down.as_ref().and_then(|down| parts(m, &down.path)))
        .map_or(defaults.undo_prefix, |(prefix, _)| prefix);
    let mut files = vec![(
        dir.join(format!("{prefix}{version}{separator}{name}{SUFFIX}")),
        up,
    )];
    files.extend(down.map(|down| {
        (
            dir.join(format!("{undo_prefix}{version}{separator}{name}{SUFFIX}")),
            down,
        )
    }));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (file, expected) in [
            ("V1__init.sql", Some((Kind::Versioned, "1", "init"))),
            (
                "V1_12_15__baseline___POSTGRESQL.sql",
                Some((Kind::Versioned, "1_12_15", "baseline___POSTGRESQL")),
            ),
            (
                "V1.2__add_users.SQL",
                Some((Kind::Versioned, "1.2", "add_users")),
            ),
            (
                "U1.2__add_users.sql",
                Some((Kind::Undo, "1.2", "add_users")),
            ),
            ("R__views.sql", Some((Kind::Repeatable, "", "views"))),
            ("R1__views.sql", None),
            ("V__x.sql", None),
            ("V1_x.sql", None),
            ("V1a__x.sql", None),
            ("V1..2__x.sql", None),
            ("V1__.sql", None),
            ("1_init.sql", None),
            ("V1__x.sql.conf", None),
        ] {
            let got =
                parse_name(file, &Names::default()).map(|n| (n.kind, n.version, n.description));
            assert_eq!(got, expected, "{file}");
        }
    }

    /// Configured prefixes and separator; the longest matching prefix wins, as in Flyway.
    #[test]
    fn configured_names() {
        let names = Names::parse(&serde_json::json!({
            "prefix": "M", "undo-prefix": "MU", "separator": "-"
        }))
        .unwrap();
        let got = |file| parse_name(file, &names).map(|n| (n.kind, n.version, n.description));
        assert_eq!(
            got("M1.2-add_users.sql"),
            Some((Kind::Versioned, "1.2", "add_users"))
        );
        assert_eq!(
            got("MU1.2-add_users.sql"),
            Some((Kind::Undo, "1.2", "add_users"))
        );
        assert_eq!(got("V1__a.sql"), None);
        assert!(Names::parse(&serde_json::json!({"prefx": "M"})).is_err());
        assert!(Names::parse(&serde_json::json!({"prefix": ""})).is_err());
    }

    #[test]
    fn versions_compare_part_by_part() {
        let v = |raw: &str| Version::parse(raw, VersionOrder::Parts).unwrap();
        assert!(v("1_12_2") < v("1_12_15"));
        assert!(v("1.9") < v("1.10"));
        assert!(v("2") > v("1.999"));
        assert!(v("1.0").same_key(&v("1")));
        assert!(v("1_0_0").same_key(&v("1")));
        assert!(v("01.2").same_key(&v("1.2")));
        assert!(v("0") < v("0.1"));
        assert!(v("123456789012345678901234567890") > v("99"));
        assert_eq!(display_version("1_12_15"), "1.12.15");
        assert_eq!(
            description("baseline___POSTGRESQL"),
            "baseline   POSTGRESQL"
        );
    }

    #[test]
    fn new_versions_count_on_from_the_last_part() {
        let next = |raw: Option<&str>| {
            let newest = raw.map(|raw| Version::parse(raw, VersionOrder::Parts).unwrap());
            next_version(newest.as_ref()).as_str().to_string()
        };
        assert_eq!(next(None), "1");
        assert_eq!(next(Some("1_12_30")), "1_12_31");
        assert_eq!(next(Some("1.9")), "1.10");
        assert_eq!(next(Some("007")), "008");
        assert_eq!(next(Some("99")), "100");
    }

    /// Expected values are `java.util.zip.CRC32` over the concatenated lines, as Flyway's
    /// `ChecksumCalculator` computes them.
    #[test]
    fn checksums_are_flyways() {
        // CRC-32 of "123456789" is the standard check value 0xCBF43926.
        assert_eq!(checksum_of("123456789") as u32, 0xcbf4_3926);
        // Line breaks of any kind, and a byte order mark, do not count.
        assert_eq!(checksum_of("1234\n56789\n"), checksum_of("123456789"));
        assert_eq!(checksum_of("1234\r\n56789\r\n"), checksum_of("123456789"));
        assert_eq!(checksum_of("\u{feff}1234\r56789"), checksum_of("123456789"));
        assert_eq!(checksum_of(""), 0);
        // Stored signed: 0xCBF43926 is negative as an int.
        assert_eq!(checksum_of("123456789"), -873_187_034);
    }
}
