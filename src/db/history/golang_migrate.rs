//! golang-migrate's history table, `schema_migrations (version, dirty)`, kept in its own format
//! so `migrate` (the Go tool) and cargo-migrate can take turns on one database.
//!
//! Facts from golang-migrate's sources (`database/postgres`, `database/sqlite3`): the table
//! holds at most one row, the current version, and `dirty` while a migration runs (set before,
//! cleared after; left set when it fails). Setting a version replaces the row (TRUNCATE or
//! DELETE, then INSERT); no row means nothing is applied. Every migration up to the current
//! version counts as applied, so reading the table needs the set's versions, and reverting
//! one sets the version of the migration before it.

use super::{Part, Statement, Value};
use crate::dialect::Dialect;

pub const TABLE: &str = "schema_migrations";
pub const COLUMNS: &[&str] = &["version", "dirty"];

/// The table as golang-migrate creates it.
pub fn create_sql(table: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "CREATE TABLE IF NOT EXISTS {table} (version uint64,dirty bool);\n\
             CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON {table} (version)"
        ),
        _ => format!(
            "CREATE TABLE IF NOT EXISTS {table} (version bigint not null primary key, dirty boolean not null)"
        ),
    }
}

/// One row per applied migration: every version of the set up to the current one, and the
/// current one itself (its file may be gone); the current one is failed while dirty.
pub fn select_sql(table: &str, dialect: Dialect, versions: &[i64]) -> String {
    let (truth, text) = match dialect {
        Dialect::Postgres => ("true", "v.version::text"),
        _ => ("1", "CAST(v.version AS TEXT)"),
    };
    let mut known = format!("SELECT version FROM {table}");
    if !versions.is_empty() {
        let values: Vec<String> = versions.iter().map(|v| format!("({v})")).collect();
        known = format!(
            "SELECT column1 AS version FROM (VALUES {}) AS s UNION {known}",
            values.join(", ")
        );
    }
    format!(
        "SELECT {text}, NULL, NULL, NULL, NULL, \
         CASE WHEN v.version = h.version THEN NOT h.dirty ELSE {truth} END, NULL \
         FROM {table} h JOIN ({known}) AS v ON v.version <= h.version AND v.version >= 0 \
         ORDER BY v.version"
    )
}

/// Makes `version` the current one (`dirty` while it runs or after it failed); `None` clears
/// the table (nothing applied). One statement, so it binds like every other history write:
/// on PostgreSQL the other row is deleted in the same statement, on SQLite the one row
/// (always rowid 1, as golang-migrate's DELETE-then-INSERT leaves it) is replaced.
pub fn set_version(table: &str, version: Option<i64>, dirty: bool) -> Statement {
    let Some(version) = version else {
        return Statement::sql(format!("DELETE FROM {table}"));
    };
    Statement {
        parts: vec![Part::Dialects {
            postgres: vec![
                Part::Sql(format!(
                    "WITH cleared AS (DELETE FROM {table} WHERE version <> "
                )),
                Part::Value(Value::Integer(version)),
                Part::Sql(format!(") INSERT INTO {table} (version, dirty) VALUES (")),
                Part::Value(Value::Integer(version)),
                Part::Sql(", ".into()),
                Part::Value(Value::Bool(dirty)),
                Part::Sql(") ON CONFLICT (version) DO UPDATE SET dirty = EXCLUDED.dirty".into()),
            ],
            other: vec![
                Part::Sql(format!(
                    "INSERT OR REPLACE INTO {table} (rowid, version, dirty) VALUES (1, "
                )),
                Part::Value(Value::Integer(version)),
                Part::Sql(", ".into()),
                Part::Value(Value::Bool(dirty)),
                Part::Sql(")".into()),
            ],
        }],
    }
}

/// `version`'s state as (success, failure): applied when the current version is at or past
/// it, failed when it is the current one and dirty.
pub fn recorded_row(table: &str, version: i64) -> Statement {
    Statement {
        parts: vec![
            Part::Sql("SELECT CASE WHEN version = ".into()),
            Part::Value(Value::Integer(version)),
            Part::Sql(" THEN NOT dirty ELSE ".into()),
            Part::Dialects {
                postgres: vec![Part::Sql("true".into())],
                other: vec![Part::Sql("1".into())],
            },
            Part::Sql(format!(" END, NULL FROM {table} WHERE version >= ")),
            Part::Value(Value::Integer(version)),
        ],
    }
}

/// The version before `version` in the set, where a revert leaves the table.
pub fn previous(versions: &[i64], version: i64) -> Option<i64> {
    versions.iter().copied().filter(|v| *v < version).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Setting a version is one statement on each database, values bound.
    #[test]
    fn set_version_replaces_the_one_row() {
        let statement = set_version("\"schema_migrations\"", Some(20), true);
        let (sql, values) = statement.parameterized(Dialect::Postgres);
        assert_eq!(
            sql,
            "WITH cleared AS (DELETE FROM \"schema_migrations\" WHERE version <> $1) INSERT INTO \"schema_migrations\" (version, dirty) VALUES ($2, $3) ON CONFLICT (version) DO UPDATE SET dirty = EXCLUDED.dirty"
        );
        assert_eq!(
            values,
            [&Value::Integer(20), &Value::Integer(20), &Value::Bool(true)]
        );
        let (sql, values) = statement.parameterized(Dialect::Sqlite);
        assert_eq!(
            sql,
            "INSERT OR REPLACE INTO \"schema_migrations\" (rowid, version, dirty) VALUES (1, ?, ?)"
        );
        assert_eq!(values, [&Value::Integer(20), &Value::Bool(true)]);
        assert_eq!(
            set_version("t", None, false).inline(Dialect::Sqlite),
            "DELETE FROM t"
        );
    }

    #[test]
    fn previous_versions() {
        let versions = [1, 2, 10];
        assert_eq!(previous(&versions, 10), Some(2));
        assert_eq!(previous(&versions, 2), Some(1));
        assert_eq!(previous(&versions, 1), None);
        assert_eq!(previous(&[], 5), None);
    }

    #[test]
    fn reads_cover_every_version_up_to_the_current_one() {
        let sql = select_sql("t", Dialect::Sqlite, &[1, 2]);
        assert!(
            sql.contains("(SELECT column1 AS version FROM (VALUES (1), (2)) AS s UNION SELECT version FROM t)"),
            "{sql}"
        );
        assert!(sql.contains("ON v.version <= h.version"), "{sql}");
        let sql = select_sql("t", Dialect::Postgres, &[]);
        assert!(sql.contains("JOIN (SELECT version FROM t) AS v"), "{sql}");
    }
}
