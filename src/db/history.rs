//! History tables: our own, and sqlx's and diesel's, which are adopted rather than duplicated
//! so cargo-migrate can run beside `sqlx::migrate!()` or `diesel migration run`.
//!
//! Pure: this module builds SQL text and interprets rows; the dialect modules execute it.

use sha2::{Digest, Sha384};

use crate::dialect::Dialect;
use crate::migration::{Migration, checksum};

/// The default name of our own history table.
pub const DEFAULT_TABLE: &str = "_cargo_migrate";
/// sqlx's table (`sqlx::migrate!()`, `sqlx migrate run`).
pub const SQLX_TABLE: &str = "_sqlx_migrations";
/// diesel's table (`diesel migration run`).
pub const DIESEL_TABLE: &str = "__diesel_schema_migrations";

/// Which table records applied migrations, in whose format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryFormat {
    /// `name` may be `schema.table`.
    Own {
        name: String,
    },
    /// `schema`: where the table was found, so writes do not depend on `search_path`.
    Sqlx {
        schema: Option<String>,
    },
    Diesel {
        schema: Option<String>,
    },
}

/// The columns our own table has, in order; an existing table must have exactly these.
pub const OWN_COLUMNS: &[&str] = &[
    "version",
    "name",
    "checksum",
    "applied_at",
    "execution_ms",
    "success",
    "failure",
];
pub const SQLX_COLUMNS: &[&str] = &[
    "version",
    "description",
    "installed_on",
    "success",
    "checksum",
    "execution_time",
];
pub const DIESEL_COLUMNS: &[&str] = &["version", "run_on"];

/// A row of any history table, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRow {
    /// As stored: our table keeps the version as written; sqlx an integer; diesel the version
    /// without dashes.
    pub version: String,
    pub name: Option<String>,
    /// Raw checksum bytes (ours: SHA-256 of the CRLF-normalised up script; sqlx: SHA-384 of
    /// its raw bytes); `None` where the format has none (diesel).
    pub checksum: Option<Vec<u8>>,
    pub applied_at: Option<String>,
    pub execution_ms: Option<i64>,
    pub success: bool,
    /// Why a migration is recorded as failed (ours only).
    pub failure: Option<String>,
}

impl HistoryFormat {
    /// The table's name, schema-qualified once the session has located it.
    pub fn table(&self) -> String {
        let qualify = |schema: &Option<String>, table: &str| match schema {
            Some(schema) => format!("{schema}.{table}"),
            None => table.to_string(),
        };
        match self {
            HistoryFormat::Own { name } => name.clone(),
            HistoryFormat::Sqlx { schema } => qualify(schema, SQLX_TABLE),
            HistoryFormat::Diesel { schema } => qualify(schema, DIESEL_TABLE),
        }
    }

    /// The same table, qualified with `schema` unless it already names one.
    pub fn in_schema(&self, schema: &str) -> HistoryFormat {
        match self {
            HistoryFormat::Own { name } if !name.contains('.') => HistoryFormat::Own {
                name: format!("{schema}.{name}"),
            },
            HistoryFormat::Own { name } => HistoryFormat::Own { name: name.clone() },
            HistoryFormat::Sqlx { schema: None } => HistoryFormat::Sqlx {
                schema: Some(schema.to_string()),
            },
            HistoryFormat::Diesel { schema: None } => HistoryFormat::Diesel {
                schema: Some(schema.to_string()),
            },
            qualified => qualified.clone(),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            HistoryFormat::Own { .. } => "cargo-migrate",
            HistoryFormat::Sqlx { .. } => "sqlx",
            HistoryFormat::Diesel { .. } => "diesel",
        }
    }

    pub fn columns(&self) -> &'static [&'static str] {
        match self {
            HistoryFormat::Own { .. } => OWN_COLUMNS,
            HistoryFormat::Sqlx { .. } => SQLX_COLUMNS,
            HistoryFormat::Diesel { .. } => DIESEL_COLUMNS,
        }
    }

    /// The table name quoted for SQL (each part of `schema.table`).
    pub fn quoted_table(&self) -> String {
        quote_qualified(&self.table())
    }

    /// The schema the table is in, when named.
    pub fn schema(&self) -> Option<String> {
        self.table()
            .split_once('.')
            .map(|(schema, _)| schema.to_string())
    }

    /// Whether the table can record a failed (partly applied) migration.
    pub fn records_failures(&self) -> bool {
        !matches!(self, HistoryFormat::Diesel { .. })
    }

    /// `CREATE TABLE IF NOT EXISTS …` in this format (sqlx's and diesel's exactly as those
    /// tools create them).
    pub fn create_sql(&self, dialect: Dialect) -> String {
        let table = self.quoted_table();
        let (timestamp, now, bytes) = match dialect {
            Dialect::Postgres => ("TIMESTAMPTZ", "now()", "BYTEA"),
            Dialect::Sqlite => ("TIMESTAMP", "CURRENT_TIMESTAMP", "BLOB"),
            Dialect::Mysql => ("TIMESTAMP", "CURRENT_TIMESTAMP", "BLOB"),
        };
        match self {
            HistoryFormat::Own { .. } => {
                let schema = match (self.schema(), dialect) {
                    (Some(schema), Dialect::Postgres) => {
                        format!("CREATE SCHEMA IF NOT EXISTS {};\n", quote_ident(&schema))
                    }
                    _ => String::new(),
                };
                format!(
                    "{schema}CREATE TABLE IF NOT EXISTS {table} (\n    \
                     version TEXT PRIMARY KEY,\n    \
                     name TEXT NOT NULL,\n    \
                     checksum TEXT NOT NULL,\n    \
                     applied_at {timestamp} NOT NULL DEFAULT {now},\n    \
                     execution_ms BIGINT NOT NULL,\n    \
                     success BOOLEAN NOT NULL,\n    \
                     failure TEXT\n)"
                )
            }
            HistoryFormat::Sqlx { .. } => format!(
                "CREATE TABLE IF NOT EXISTS {table} (\n    \
                 version BIGINT PRIMARY KEY,\n    \
                 description TEXT NOT NULL,\n    \
                 installed_on {timestamp} NOT NULL DEFAULT {now},\n    \
                 success BOOLEAN NOT NULL,\n    \
                 checksum {bytes} NOT NULL,\n    \
                 execution_time BIGINT NOT NULL\n)"
            ),
            HistoryFormat::Diesel { .. } => format!(
                "CREATE TABLE IF NOT EXISTS {table} (\n    \
                 version VARCHAR(50) PRIMARY KEY NOT NULL,\n    \
                 run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP\n)"
            ),
        }
    }

    /// Selects every row as (version, name, checksum-as-hex, applied_at, execution_ms,
    /// success, failure), all text or integer columns that both drivers decode alike.
    pub fn select_sql(&self, dialect: Dialect) -> String {
        let table = self.quoted_table();
        let text = |column: &str| match dialect {
            Dialect::Postgres => format!("{column}::text"),
            _ => format!("CAST({column} AS TEXT)"),
        };
        let hex = |column: &str| match dialect {
            Dialect::Postgres => format!("encode({column}, 'hex')"),
            _ => format!("lower(hex({column}))"),
        };
        match self {
            HistoryFormat::Own { .. } => format!(
                "SELECT version, name, checksum, {}, execution_ms, success, failure FROM {table}",
                text("applied_at")
            ),
            HistoryFormat::Sqlx { .. } => format!(
                "SELECT {}, description, {}, {}, execution_time / 1000000, success, NULL FROM {table}",
                text("version"),
                hex("checksum"),
                text("installed_on")
            ),
            HistoryFormat::Diesel { .. } => format!(
                "SELECT version, NULL, NULL, {}, NULL, {}, NULL FROM {table}",
                text("run_on"),
                match dialect {
                    Dialect::Postgres => "true",
                    _ => "1",
                }
            ),
        }
    }

    /// How this format stores `migration`'s version.
    pub fn stored_version(&self, migration: &Migration) -> String {
        let version = migration.version.as_str();
        match self {
            HistoryFormat::Own { .. } => version.to_string(),
            // sqlx keeps an integer; `0001` is stored as 1.
            HistoryFormat::Sqlx { .. } => version
                .parse::<i64>()
                .map_or_else(|_| version.to_string(), |n| n.to_string()),
            HistoryFormat::Diesel { .. } => version.replace('-', ""),
        }
    }

    /// The checksum this format records for `migration`, if it records one.
    pub fn checksum_of(&self, migration: &Migration) -> Option<Vec<u8>> {
        match self {
            HistoryFormat::Own { .. } => Some(migration.checksum.to_vec()),
            HistoryFormat::Sqlx { .. } => {
                Some(Sha384::digest(migration.up.sql.as_bytes()).to_vec())
            }
            HistoryFormat::Diesel { .. } => None,
        }
    }

    /// The statement that records `migration` as applied (or, with `success` false, as started
    /// or failed). `execution_ms` is an SQL expression so the one-round-trip apply can measure
    /// on the server.
    pub fn insert_sql(
        &self,
        dialect: Dialect,
        migration: &Migration,
        success: bool,
        execution_ms: &str,
        failure: Option<&str>,
    ) -> String {
        let table = self.quoted_table();
        let version = self.stored_version(migration);
        let literal = |text: &str| literal(dialect, text);
        let boolean = |value: bool| match (dialect, value) {
            (Dialect::Postgres, true) => "true",
            (Dialect::Postgres, false) => "false",
            (_, true) => "1",
            (_, false) => "0",
        };
        match self {
            HistoryFormat::Own { .. } => format!(
                "INSERT INTO {table} (version, name, checksum, execution_ms, success, failure) \
                 VALUES ({}, {}, {}, {execution_ms}, {}, {})",
                literal(&version),
                literal(&migration.name),
                literal(&checksum::to_hex(&migration.checksum)),
                boolean(success),
                failure.map_or_else(|| "NULL".to_string(), literal)
            ),
            HistoryFormat::Sqlx { .. } => format!(
                "INSERT INTO {table} (version, description, success, checksum, execution_time) \
                 VALUES ({version}, {}, {}, {}, ({execution_ms}) * 1000000)",
                literal(&migration.name.replace('_', " ")),
                boolean(success),
                bytes_literal(dialect, &self.checksum_of(migration).unwrap_or_default()),
            ),
            HistoryFormat::Diesel { .. } => format!(
                "INSERT INTO {table} (version) VALUES ({})",
                literal(&version)
            ),
        }
    }

    /// Marks a started migration finished (`failure` None) or failed.
    pub fn finish_sql(
        &self,
        dialect: Dialect,
        migration: &Migration,
        execution_ms: i64,
        failure: Option<&str>,
    ) -> String {
        let table = self.quoted_table();
        let version = self.stored_version(migration);
        let success = match (dialect, failure.is_none()) {
            (Dialect::Postgres, true) => "true",
            (Dialect::Postgres, false) => "false",
            (_, true) => "1",
            (_, false) => "0",
        };
        match self {
            HistoryFormat::Own { .. } => format!(
                "UPDATE {table} SET success = {success}, execution_ms = {execution_ms}, failure = {} \
                 WHERE version = {}",
                failure.map_or_else(|| "NULL".to_string(), |f| literal(dialect, f)),
                literal(dialect, &version)
            ),
            HistoryFormat::Sqlx { .. } => format!(
                "UPDATE {table} SET success = {success}, execution_time = {} WHERE version = {version}",
                execution_ms.saturating_mul(1_000_000)
            ),
            // diesel cannot record a failure: the row exists only once all is done.
            HistoryFormat::Diesel { .. } => match failure {
                None => self.insert_sql(dialect, migration, true, "0", None),
                Some(_) => String::new(),
            },
        }
    }

    /// Removes `migration`'s row.
    pub fn delete_sql(&self, dialect: Dialect, stored_version: &str) -> String {
        let table = self.quoted_table();
        match self {
            HistoryFormat::Sqlx { .. } => {
                format!("DELETE FROM {table} WHERE version = {stored_version}")
            }
            _ => format!(
                "DELETE FROM {table} WHERE version = {}",
                literal(dialect, stored_version)
            ),
        }
    }
}

/// Whether a stored row is the one of `migration` (versions compared as each format stores
/// them).
pub fn row_matches(format: &HistoryFormat, row: &AppliedRow, migration: &Migration) -> bool {
    row.version == format.stored_version(migration)
}

/// A string literal that means `text` whatever the server's settings: PostgreSQL `E'…'`
/// (so backslashes behave the same with `standard_conforming_strings` off), SQL `'…'`
/// elsewhere. NUL, which no SQL text can hold, is dropped.
pub fn literal(dialect: Dialect, text: &str) -> String {
    let text = text.replace('\0', "");
    match dialect {
        Dialect::Postgres => format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''")),
        Dialect::Mysql => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''")),
        Dialect::Sqlite => format!("'{}'", text.replace('\'', "''")),
    }
}

fn bytes_literal(dialect: Dialect, bytes: &[u8]) -> String {
    let hex = checksum::to_hex(bytes);
    match dialect {
        // decode() reads the same whatever `standard_conforming_strings` says.
        Dialect::Postgres => format!("decode('{hex}', 'hex')"),
        _ => format!("X'{hex}'"),
    }
}

/// `"name"` with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."table"` or `"table"`.
pub fn quote_qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, table)) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
        None => quote_ident(name),
    }
}

/// Parses a lower-case hex string into bytes; `None` if it is not hex.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::{Script, Version, VersionOrder};

    fn migration(version: &str, name: &str, sql: &str) -> Migration {
        Migration {
            version: Version::parse(version, VersionOrder::TextWithoutDashes).unwrap(),
            name: name.into(),
            up: Script {
                path: "up.sql".into(),
                sql: sql.into(),
            },
            down: None,
            no_transaction: false,
            checksum: checksum::checksum(sql.as_bytes()),
        }
    }

    #[test]
    fn literals_survive_quotes_and_backslashes() {
        assert_eq!(
            literal(Dialect::Postgres, r"it's a \path"),
            r"E'it''s a \\path'"
        );
        assert_eq!(
            literal(Dialect::Sqlite, r"it's a \path"),
            r"'it''s a \path'"
        );
        assert_eq!(literal(Dialect::Sqlite, "nul\0byte"), "'nulbyte'");
    }

    #[test]
    fn identifiers_are_quoted_per_part() {
        assert_eq!(quote_qualified("app.history"), "\"app\".\"history\"");
        assert_eq!(quote_qualified("_cargo_migrate"), "\"_cargo_migrate\"");
    }

    #[test]
    fn stored_versions_follow_each_tool() {
        let m = migration("2024-01-01-120000-0000", "a", "");
        assert_eq!(
            HistoryFormat::Diesel { schema: None }.stored_version(&m),
            "202401011200000000"
        );
        let own = HistoryFormat::Own {
            name: DEFAULT_TABLE.into(),
        };
        assert_eq!(own.stored_version(&m), "2024-01-01-120000-0000");
        let m = migration("0001", "a", "");
        assert_eq!(HistoryFormat::Sqlx { schema: None }.stored_version(&m), "1");
    }

    #[test]
    fn sqlx_checksum_is_sha384_of_raw_bytes() {
        let m = migration("1", "a", "select 1;\r\n");
        let sum = HistoryFormat::Sqlx { schema: None }
            .checksum_of(&m)
            .unwrap();
        assert_eq!(sum.len(), 48);
        assert_eq!(sum, Sha384::digest(b"select 1;\r\n").to_vec());
    }

    #[test]
    fn insert_statements() {
        let m = migration("1", "add_user's_table", "x");
        let own = HistoryFormat::Own {
            name: "app.h".into(),
        };
        let sql = own.insert_sql(Dialect::Postgres, &m, true, "7", None);
        assert!(sql.starts_with("INSERT INTO \"app\".\"h\" (version, name, checksum, execution_ms, success, failure) VALUES (E'1', E'add_user''s_table', E'"), "{sql}");
        assert!(sql.ends_with(", 7, true, NULL)"), "{sql}");
        let sql =
            HistoryFormat::Sqlx { schema: None }.insert_sql(Dialect::Sqlite, &m, true, "7", None);
        assert!(
            sql.contains("VALUES (1, 'add user''s table', 1, X'"),
            "{sql}"
        );
        assert!(sql.ends_with(", (7) * 1000000)"), "{sql}");
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(from_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
