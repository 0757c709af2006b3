//! Prisma Migrate's history, `_prisma_migrations`: one row per attempt (`id` a UUID,
//! `checksum` = SHA-256 hex of migration.sql as written, `migration_name` = the folder name,
//! `started_at`, `finished_at` (NULL while running or after a failure, with the error in
//! `logs`), `rolled_back_at` (set by `prisma migrate resolve --rolled-back`: the row no longer
//! counts), `applied_steps_count`).

use sha2::{Digest, Sha256};

use crate::dialect::Dialect;
use crate::migration::Migration;

use super::{NotStorable, Part, StoredVersion};

pub const TABLE: &str = "_prisma_migrations";
pub const COLUMNS: &[&str] = &[
    "id",
    "checksum",
    "finished_at",
    "migration_name",
    "logs",
    "rolled_back_at",
    "started_at",
    "applied_steps_count",
];
pub const KEY: &str = "migration_name";

/// As Prisma's schema engine creates it.
pub fn create_sql(table: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => format!(
            "CREATE TABLE IF NOT EXISTS {table} (\n    \
             \"id\" VARCHAR(36) PRIMARY KEY NOT NULL,\n    \
             \"checksum\" VARCHAR(64) NOT NULL,\n    \
             \"finished_at\" TIMESTAMPTZ,\n    \
             \"migration_name\" VARCHAR(255) NOT NULL,\n    \
             \"logs\" TEXT,\n    \
             \"rolled_back_at\" TIMESTAMPTZ,\n    \
             \"started_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n    \
             \"applied_steps_count\" INTEGER NOT NULL DEFAULT 0\n)"
        ),
        _ => format!(
            "CREATE TABLE IF NOT EXISTS {table} (\n    \
             \"id\" TEXT PRIMARY KEY NOT NULL,\n    \
             \"checksum\" TEXT NOT NULL,\n    \
             \"finished_at\" DATETIME,\n    \
             \"migration_name\" TEXT NOT NULL,\n    \
             \"logs\" TEXT,\n    \
             \"rolled_back_at\" DATETIME,\n    \
             \"started_at\" DATETIME NOT NULL DEFAULT current_timestamp,\n    \
             \"applied_steps_count\" INTEGER UNSIGNED NOT NULL DEFAULT 0\n)"
        ),
    }
}

/// The rows that count (not rolled back), newest attempt first; a row without `finished_at`
/// is a failed (or running) migration, its `logs` the reason.
pub fn select_sql(table: &str, dialect: Dialect) -> String {
    let started = match dialect {
        Dialect::Postgres => "CAST(started_at AS TEXT)",
        _ => SQLITE_STARTED_AT_TEXT,
    };
    format!(
        "SELECT migration_name, NULL, checksum, {started}, NULL, \
         finished_at IS NOT NULL, CASE WHEN finished_at IS NULL THEN coalesce(logs, 'failed') END \
         FROM {table} WHERE rolled_back_at IS NULL ORDER BY {started} DESC"
    )
}

/// The present moment as Prisma writes it: on PostgreSQL a `timestamptz`; on SQLite the
/// milliseconds since 1970 as an integer (Prisma's driver binds a date-time that way, and
/// reads back either that or text).
pub(super) fn now() -> Part {
    Part::Dialects {
        postgres: vec![Part::Sql("CURRENT_TIMESTAMP".into())],
        other: vec![Part::Sql(
            "CAST(round((julianday('now') - 2440587.5) * 86400000) AS INTEGER)".into(),
        )],
    }
}

/// `started_at` as text that orders by time whichever way a row was written on SQLite (Prisma's
/// integer milliseconds, or text from an older writer).
const SQLITE_STARTED_AT_TEXT: &str = "(CASE WHEN typeof(started_at) = 'integer' \
     THEN strftime('%Y-%m-%d %H:%M:%f', started_at / 1000.0, 'unixepoch') \
     ELSE CAST(started_at AS TEXT) END)";

/// [`SQLITE_STARTED_AT_TEXT`] where it applies, `started_at` as it is on PostgreSQL.
pub(super) fn started_at_text() -> Part {
    Part::Dialects {
        postgres: vec![Part::Sql("started_at".into())],
        other: vec![Part::Sql(SQLITE_STARTED_AT_TEXT.into())],
    }
}

pub fn stored_version(migration: &Migration) -> Result<StoredVersion, NotStorable> {
    let name = format!("{}_{}", migration.version.as_str(), migration.name);
    if name.chars().count() > 255 {
        return Err(NotStorable {
            reason: "Prisma stores migration names as VARCHAR(255)".to_string(),
        });
    }
    Ok(StoredVersion::Text(name))
}

/// SHA-256 of migration.sql as written, as Prisma records it.
pub fn checksum(migration: &Migration) -> Vec<u8> {
    Sha256::digest(migration.up.sql.as_bytes()).to_vec()
}

/// Prisma's comparison: the checksum of the script as written, with LF line endings, or with
/// CRLF ones.
pub fn checksum_matches(recorded: &[u8], migration: &Migration) -> bool {
    let sql = migration.up.sql.as_str();
    let lf = sql.replace("\r\n", "\n");
    let crlf = lf.replace('\n', "\r\n");
    [sql, lf.as_str(), crlf.as_str()]
        .iter()
        .any(|text| Sha256::digest(text.as_bytes()).as_slice() == recorded)
}

/// A random (version 4) UUID for a row's `id`, from the clock, the process and a counter
/// hashed: unique per attempt, which is all Prisma asks of it.
pub fn new_id(migration: &Migration) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut hasher = Sha256::new();
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hasher.update(migration.name.as_bytes());
    let mut bytes: [u8; 16] = [0; 16];
    bytes.copy_from_slice(&hasher.finalize()[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = crate::migration::checksum::to_hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
