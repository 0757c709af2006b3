//! refinery's history table, `refinery_schema_history`, kept in refinery's format so
//! `refinery migrate` (or a crate's `embed_migrations!` runner) and cargo-migrate can take turns.
//!
//! Facts from refinery's sources (`refinery_core/src/traits/mod.rs`): `version int4 PRIMARY
//! KEY, name, applied_on, checksum` (all three `VARCHAR(255)`); a row is written once a
//! migration is applied (no failed state), `applied_on` as RFC 3339, `checksum` as the decimal
//! SipHash-1-3 of name, version and SQL.

use super::{Part, Statement, Value};
use crate::dialect::Dialect;
use crate::migration::Migration;
use crate::migration::layout::refinery;

pub const TABLE: &str = "refinery_schema_history";
pub const COLUMNS: &[&str] = &["version", "name", "applied_on", "checksum"];

pub fn create_sql(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table}(\n             \
         version int4 PRIMARY KEY,\n             \
         name VARCHAR(255),\n             \
         applied_on VARCHAR(255),\n             \
         checksum VARCHAR(255))"
    )
}

/// The rows; the checksum is read as the bytes of its decimal text, as [`checksum_bytes`]
/// gives it.
pub fn select_sql(table: &str, dialect: Dialect) -> String {
    let (version, checksum, truth) = match dialect {
        Dialect::Postgres => (
            "version::text",
            "encode(convert_to(checksum, 'UTF8'), 'hex')",
            "true",
        ),
        _ => ("CAST(version AS TEXT)", "lower(hex(checksum))", "1"),
    };
    format!(
        "SELECT {version}, name, {checksum}, applied_on, NULL, {truth}, NULL FROM {table} ORDER BY version"
    )
}

/// refinery's checksum of `migration` (its version as refinery's `i32`).
pub fn checksum_bytes(migration: &Migration) -> Option<Vec<u8>> {
    let version: i32 = migration.version.as_str().parse().ok()?;
    Some(refinery::checksum(&migration.name, version, &migration.up.sql).into_bytes())
}

/// The row of an applied migration.
pub fn insert(table: &str, migration: &Migration, version: Value) -> Statement {
    let applied_on = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let checksum = checksum_bytes(migration)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    Statement::sql(format!(
        "INSERT INTO {table} (version, name, applied_on, checksum) VALUES "
    ))
    .values([
        Part::Value(version),
        Part::Value(Value::Text(migration.name.clone())),
        Part::Value(Value::Text(applied_on)),
        Part::Value(Value::Text(checksum)),
    ])
}
