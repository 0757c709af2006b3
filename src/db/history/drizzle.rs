//! Drizzle's history, `drizzle.__drizzle_migrations` (PostgreSQL) or `__drizzle_migrations`
//! (SQLite): `id`, `hash` = SHA-256 (hex) of the migration file as written, `created_at` = the
//! journal's `when`. Drizzle's migrator reads only the newest `created_at` and runs the journal
//! entries after it; a row is keyed here by `created_at`. No failure state: a row exists once a
//! migration is applied.

use sha2::{Digest, Sha256};

use super::{NotStorable, StoredVersion, quote_ident};
use crate::dialect::Dialect;
use crate::migration::Migration;

pub const TABLE: &str = "__drizzle_migrations";
/// Where Drizzle keeps the table on PostgreSQL (its `migrationsSchema` default).
pub const PG_SCHEMA: &str = "drizzle";
pub const COLUMNS: &[&str] = &["id", "hash", "created_at"];
pub const KEY: &str = "created_at";

/// As drizzle-orm's migrators create it (`id SERIAL` on SQLite too, so ids stay NULL there,
/// as Drizzle leaves them).
pub fn create_sql(table: &str, schema: Option<&str>, dialect: Dialect) -> String {
    let schema = match (schema, dialect) {
        (Some(schema), Dialect::Postgres) => {
            format!("CREATE SCHEMA IF NOT EXISTS {};\n", quote_ident(schema))
        }
        _ => String::new(),
    };
    let created_at = match dialect {
        Dialect::Postgres => "bigint",
        _ => "numeric",
    };
    format!(
        "{schema}CREATE TABLE IF NOT EXISTS {table} (\n    \
         id SERIAL PRIMARY KEY,\n    \
         hash text NOT NULL,\n    \
         created_at {created_at}\n)"
    )
}

pub fn select_sql(table: &str, truth: &str) -> String {
    format!("SELECT CAST(created_at AS TEXT), NULL, hash, NULL, NULL, {truth}, NULL FROM {table}")
}

pub fn stored_version(migration: &Migration) -> Result<StoredVersion, NotStorable> {
    migration
        .created_at
        .map(StoredVersion::Integer)
        .ok_or_else(|| NotStorable {
            reason: "Drizzle records each migration by its journal entry's `when`, and only a Drizzle folder (meta/_journal.json) has one".to_string(),
        })
}

/// SHA-256 of the file as written, as Drizzle hashes it (no line-ending normalisation).
pub fn checksum(migration: &Migration) -> Vec<u8> {
    Sha256::digest(migration.up.sql.as_bytes()).to_vec()
}
