//! Flyway's history table, `flyway_schema_history`, kept in Flyway's own format so a team can
//! run `flyway migrate` and cargo-migrate on the same database, either way round.
//!
//! Facts from Flyway's sources (`PostgreSQLDatabase`/`SQLiteDatabase.getRawCreateScript`,
//! `JdbcTableSchemaHistory`): one row per applied script, keyed by `installed_rank` (1, 2, …),
//! the version as shown (`1.12.15`), the description with `_` as spaces, `type` `SQL`, the
//! script's file name, Flyway's CRC-32 checksum as a signed integer, the database user
//! (`current_user`; empty on SQLite), execution time in milliseconds. Rows without a version
//! (the schema-creation marker, repeatables) and undo/delete markers are not migrations here.

use super::{Elapsed, Part, Statement, Value};
use crate::dialect::Dialect;
use crate::migration::Migration;
use crate::migration::layout::flyway;

pub const TABLE: &str = "flyway_schema_history";

pub const COLUMNS: &[&str] = &[
    "installed_rank",
    "version",
    "description",
    "type",
    "script",
    "checksum",
    "installed_by",
    "installed_on",
    "execution_time",
    "success",
];

/// Flyway's `version VARCHAR(50)`.
pub const VERSION_LENGTH: usize = 50;

/// The table and its indexes as Flyway creates them (`IF NOT EXISTS` added: the history is
/// created under our lock, but a table Flyway made first must be left alone).
pub fn create_sql(table: &str, bare: &str, dialect: Dialect) -> String {
    let (timestamp, primary_key) = match dialect {
        Dialect::Sqlite => (
            "TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now'))",
            " PRIMARY KEY",
        ),
        _ => ("TIMESTAMP NOT NULL DEFAULT now()", ""),
    };
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {table} (\n    \
         \"installed_rank\" INT NOT NULL{primary_key},\n    \
         \"version\" VARCHAR(50),\n    \
         \"description\" VARCHAR(200) NOT NULL,\n    \
         \"type\" VARCHAR(20) NOT NULL,\n    \
         \"script\" VARCHAR(1000) NOT NULL,\n    \
         \"checksum\" INTEGER,\n    \
         \"installed_by\" VARCHAR(100) NOT NULL,\n    \
         \"installed_on\" {timestamp},\n    \
         \"execution_time\" INTEGER NOT NULL,\n    \
         \"success\" BOOLEAN NOT NULL\n)"
    );
    let index = super::quote_ident(&format!("{bare}_s_idx"));
    if dialect == Dialect::Postgres {
        let pk = super::quote_ident(&format!("{bare}_pk"));
        sql.push_str(&format!(
            ";\nDO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '{}'::regclass AND contype = 'p') THEN ALTER TABLE {table} ADD CONSTRAINT {pk} PRIMARY KEY (\"installed_rank\"); END IF; END $$",
            table.replace('\'', "''")
        ));
    }
    sql.push_str(&format!(
        ";\nCREATE INDEX IF NOT EXISTS {index} ON {table} (\"success\")"
    ));
    sql
}

/// Every migration row, oldest first, in the columns [`super::HistoryFormat::select_sql`] reads.
/// A repeatable script counts by its newest row (Flyway adds one each time it re-applies it),
/// read with the version [`stored_version`] gives it (`R__` and its description).
pub fn select_sql(table: &str, dialect: Dialect) -> String {
    let (checksum, installed_on, execution_time) = match dialect {
        // to_hex of a negative int is its 32-bit two's complement: the bytes of the u32.
        Dialect::Postgres => (
            "lpad(to_hex(checksum), 8, '0')",
            "installed_on::text",
            "execution_time::bigint",
        ),
        _ => (
            "printf('%08x', checksum & 4294967295)",
            "CAST(installed_on AS TEXT)",
            "execution_time",
        ),
    };
    format!(
        "SELECT CASE WHEN version IS NULL THEN '{REPEATABLE_MARK}' || description ELSE version END, \
         description, CASE WHEN checksum IS NULL THEN NULL ELSE {checksum} END, \
         {installed_on}, {execution_time}, success, NULL FROM {table} AS f \
         WHERE (version IS NOT NULL OR (type = 'SQL' AND installed_rank = {})) \
         AND type NOT IN ('SCHEMA', 'DELETE', 'UNDO_SQL', 'UNDO_JDBC', 'UNDO_SCRIPT') \
         ORDER BY installed_rank",
        newest_repeatable_rank(table, "f.description")
    )
}

/// How a repeatable script's rows are read back and matched: `R__` and the description.
const REPEATABLE_MARK: &str = "R__";

/// The rank of the newest row of the repeatable script whose description `description` (SQL)
/// is.
fn newest_repeatable_rank(table: &str, description: &str) -> String {
    format!(
        "(SELECT max(h.installed_rank) FROM {table} AS h WHERE h.version IS NULL AND h.type = 'SQL' AND h.description = {description})"
    )
}

/// The `WHERE` condition for `migration`'s row: its version, or for a repeatable script its
/// newest row.
pub fn row_condition(table: &str, migration: &Migration, version: Value) -> Statement {
    if migration.repeatable {
        Statement::sql(format!(
            " WHERE installed_rank = (SELECT max(h.installed_rank) FROM {table} AS h WHERE h.version IS NULL AND h.type = 'SQL' AND h.description = "
        ))
        .value(Value::Text(flyway::description(&migration.name)))
        .push(")")
    } else {
        Statement::sql(" WHERE version = ".to_string()).value(version)
    }
}

/// `migration`'s row as (success, failure): for a repeatable script its newest row, and only
/// while that row holds the script's current checksum (a changed script is to be re-applied).
pub fn recorded_row(table: &str, migration: &Migration, version: Value) -> Statement {
    let select = Statement::sql(format!("SELECT success, NULL FROM {table}"))
        .append(row_condition(table, migration, version));
    if migration.repeatable {
        return select
            .push(" AND checksum = ")
            .value(Value::Integer(i64::from(flyway::checksum_of(
                &migration.up.sql,
            ))));
    }
    select
}

/// The version as Flyway stores it, if it fits its column.
pub fn stored_version(migration: &Migration) -> Result<String, String> {
    if migration.repeatable {
        return Ok(format!(
            "{REPEATABLE_MARK}{}",
            flyway::description(&migration.name)
        ));
    }
    let version = flyway::display_version(migration.version.as_str());
    if version.chars().count() > VERSION_LENGTH {
        return Err(format!(
            "Flyway stores versions as VARCHAR({VERSION_LENGTH}), and `{version}` has {} characters",
            version.chars().count()
        ));
    }
    Ok(version)
}

/// Flyway's checksum as the 4 bytes [`select_sql`] reads back.
pub fn checksum_bytes(migration: &Migration) -> Vec<u8> {
    flyway::checksum_of(&migration.up.sql)
        .to_be_bytes()
        .to_vec()
}

/// `INSERT` of `migration`'s row, ranked after every row there is.
pub fn insert(
    table: &str,
    migration: &Migration,
    version: Value,
    success: bool,
    elapsed: Elapsed,
) -> Statement {
    let script = migration
        .up
        .path
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    Statement::sql(format!(
        "INSERT INTO {table} (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES "
    ))
    .values([
        Part::Sql(format!(
            "(SELECT COALESCE(MAX(installed_rank), 0) + 1 FROM {table})"
        )),
        // A repeatable script's rows have no version.
        if migration.repeatable {
            Part::Sql("NULL".to_string())
        } else {
            Part::Value(version)
        },
        Part::Value(Value::Text(flyway::description(&migration.name))),
        Part::Sql("'SQL'".to_string()),
        Part::Value(Value::Text(script)),
        Part::Value(Value::Integer(i64::from(flyway::checksum_of(
            &migration.up.sql,
        )))),
        Part::current_user(),
        elapsed.millis(),
        Part::Value(Value::Bool(success)),
    ])
}
