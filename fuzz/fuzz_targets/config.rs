//! `[package.metadata.migrate]` / `[workspace.metadata.migrate]` parsing.
//!
//! Two modes, chosen by the first byte:
//! - anything but `\0`: the input is a Cargo.toml. It goes through `toml::from_str`, then, as
//!   `cargo metadata` hands it over (TOML → JSON), through `MigrateConfig::parse` for its
//!   `package.metadata.migrate` and `workspace.metadata.migrate` tables, and for the whole
//!   document taken as one such table;
//! - `\0`: the rest is structured input (`arbitrary`) that builds a table from the known keys
//!   (and a few others) with values of random types, so the parser's type and value checks are
//!   exercised rather than the TOML lexer.
//!
//! Invariants: nothing panics; an error is a configuration error that names a key of the table
//! in backquotes (or says the table is not a table) and is located at the manifest; a parsed
//! configuration only holds settings whose keys are in the table, with paths under the base.

#![no_main]

use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use cargo_migrate::config::MigrateConfig;
use cargo_migrate::error::ErrorCode;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const TABLES: [&str; 2] = ["[package.metadata.migrate]", "[workspace.metadata.migrate]"];

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, rest)) => {
            let Ok(table) = Unstructured::new(rest).arbitrary::<FuzzTable>() else {
                return;
            };
            let value = table.to_toml();
            check(&value);
            if let toml::Value::Table(table) = &value {
                // The same table written out and read back, as a real manifest would be.
                if let Ok(text) = toml::to_string(table)
                    && let Ok(again) = toml::from_str::<toml::Table>(&text)
                {
                    check(&toml::Value::Table(again));
                }
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(data) else {
                return;
            };
            let Ok(document) = toml::from_str::<toml::Table>(text) else {
                return;
            };
            for section in ["package", "workspace"] {
                if let Some(migrate) = document
                    .get(section)
                    .and_then(|s| s.get("metadata"))
                    .and_then(|m| m.get("migrate"))
                {
                    check(migrate);
                }
            }
            check(&toml::Value::Table(document));
        }
    }
});

/// Parses `value` as both tables and checks the outcome.
fn check(value: &toml::Value) {
    // What `cargo metadata` does with `package.metadata`: TOML serialised as JSON.
    let Ok(json) = serde_json::to_value(value) else {
        return;
    };
    let manifest = Path::new("/ws/crates/app/Cargo.toml");
    let base = Path::new("/ws/crates/app");
    for table in TABLES {
        match MigrateConfig::parse(&json, table, manifest, base) {
            Ok(config) => check_config(&json, &config, base),
            Err(error) => {
                assert!(
                    matches!(
                        error.code,
                        ErrorCode::BadConfig | ErrorCode::UnknownConfigKey
                    ),
                    "{error:?}"
                );
                let location = error.location.as_deref().unwrap_or_default();
                assert!(
                    location.contains("Cargo.toml") && location.contains(table),
                    "{error:?}"
                );
                assert!(error.message.contains(table), "{error:?}");
                match &json {
                    Value::Object(entries) => assert!(
                        entries
                            .keys()
                            .any(|key| error.message.contains(&format!("`{key}`"))),
                        "the error names no key: {error:?}"
                    ),
                    _ => assert!(error.message.contains("must be a table"), "{error:?}"),
                }
            }
        }
    }
}

fn check_config(json: &Value, config: &MigrateConfig, base: &Path) {
    let Value::Object(entries) = json else {
        panic!("parsed a {json:?} that is not a table");
    };
    let has = |key: &str| entries.contains_key(key);
    assert_eq!(config.dir.is_some(), has("dir"));
    assert_eq!(config.dialect.is_some(), has("dialect"));
    assert_eq!(config.layout.is_some(), has("layout"));
    assert_eq!(config.history.is_some(), has("history"));
    assert_eq!(config.history_table.is_some(), has("history-table"));
    assert_eq!(config.templates.is_some(), has("templates"));
    assert_eq!(config.image.is_some(), has("image"));
    assert_eq!(config.sandbox.is_some(), has("sandbox"));
    assert_eq!(config.database_url_env.is_some(), has("database-url-env"));
    if !has("ignore") {
        assert!(config.ignore.is_empty());
    }
    // Relative paths resolve against the base; absolute ones stand.
    for (key, path) in [("dir", &config.dir), ("templates", &config.templates)] {
        if let (Some(path), Some(Value::String(written))) = (path, entries.get(key)) {
            assert_eq!(path, &base.join(written));
            assert!(!written.trim().is_empty());
        }
    }
    if let Some(name) = &config.history_table {
        assert!(cargo_migrate::config::is_identifier(name));
    }
    if let Some(name) = &config.database_url_env {
        assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }
    // Merging is total and keeps the package's own settings.
    let merged = config.clone().or(config);
    assert_eq!(&merged, config);
    let defaults = MigrateConfig::default().or(config);
    assert_eq!(defaults.dir, None);
    assert_eq!(defaults.dialect, config.dialect);
}

// ------------------------------------------------------------------------------ structure

/// A `metadata.migrate` table, or occasionally something that is not a table.
#[derive(Debug, Arbitrary)]
enum FuzzTable {
    Table(Vec<(FuzzKey, FuzzValue)>),
    NotATable(FuzzValue),
}

#[derive(Debug, Arbitrary)]
enum FuzzKey {
    Known(u8),
    Other(String),
}

const KEYS: [&str; 14] = [
    "dir",
    "dialect",
    "layout",
    "history",
    "history-table",
    "templates",
    "image",
    "sandbox",
    "database-url-env",
    "ignore",
    // Near misses.
    "history_table",
    "Dialect",
    "dirs",
    "",
];

#[derive(Debug, Arbitrary)]
enum FuzzValue {
    Text(FuzzText),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Datetime(u32, u16),
    Array(Vec<FuzzValue>),
    Table(Vec<(FuzzKey, FuzzValue)>),
}

#[derive(Debug, Arbitrary)]
enum FuzzText {
    Known(u8),
    Other(String),
}

/// Values that pass or nearly pass some key's checks.
const TEXTS: [&str; 30] = [
    "postgres",
    "PostgreSQL",
    "pg",
    "sqlite",
    "sqlite3",
    "mysql",
    "mariadb",
    "oracle",
    "directory",
    "diesel",
    "sqlx",
    "cargo-migrate",
    "own",
    "auto",
    "docker",
    "local",
    "db/migrations",
    "/abs/migrations",
    "",
    " ",
    "_cargo_migrate",
    "app.history",
    "a.b.c",
    "1abc",
    "APP_DATABASE_URL",
    "DATABASE-URL",
    "postgres:17",
    "*.txt",
    "data_*.sql",
    "é",
];

impl FuzzTable {
    fn to_toml(&self) -> toml::Value {
        match self {
            FuzzTable::Table(entries) => table(entries, 0),
            FuzzTable::NotATable(value) => value.to_toml(0),
        }
    }
}

impl FuzzKey {
    fn as_str(&self) -> &str {
        match self {
            FuzzKey::Known(index) => KEYS[usize::from(*index) % KEYS.len()],
            FuzzKey::Other(key) => key,
        }
    }
}

impl FuzzValue {
    fn to_toml(&self, depth: usize) -> toml::Value {
        match self {
            FuzzValue::Text(FuzzText::Known(index)) => {
                toml::Value::String(TEXTS[usize::from(*index) % TEXTS.len()].to_owned())
            }
            FuzzValue::Text(FuzzText::Other(text)) => toml::Value::String(text.clone()),
            FuzzValue::Integer(number) => toml::Value::Integer(*number),
            FuzzValue::Float(number) => toml::Value::Float(*number),
            FuzzValue::Boolean(flag) => toml::Value::Boolean(*flag),
            FuzzValue::Datetime(seconds, nanos) => {
                let text = format!(
                    "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                    1970 + seconds % 9000,
                    1 + seconds % 12,
                    1 + seconds % 28,
                    seconds % 24,
                    seconds % 60,
                    (seconds / 60) % 60,
                    nanos % 1000
                );
                text.parse()
                    .map(toml::Value::Datetime)
                    .unwrap_or(toml::Value::String(text))
            }
            FuzzValue::Array(items) if depth < 4 => {
                toml::Value::Array(items.iter().map(|item| item.to_toml(depth + 1)).collect())
            }
            FuzzValue::Table(entries) if depth < 4 => table(entries, depth + 1),
            FuzzValue::Array(_) | FuzzValue::Table(_) => toml::Value::Array(Vec::new()),
        }
    }
}

fn table(entries: &[(FuzzKey, FuzzValue)], depth: usize) -> toml::Value {
    let mut table = toml::Table::new();
    for (key, value) in entries {
        table.insert(key.as_str().to_owned(), value.to_toml(depth));
    }
    toml::Value::Table(table)
}
