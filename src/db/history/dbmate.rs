//! dbmate's history, `schema_migrations(version varchar(128) primary key)`: one row per
//! applied migration, its version as written in the file name. No checksum, no failure
//! state.

use crate::migration::Migration;

use super::{NotStorable, StoredVersion};

pub const TABLE: &str = "schema_migrations";
pub const COLUMNS: &[&str] = &["version"];
pub const KEY: &str = "version";
const LENGTH: usize = 128;

pub fn create_sql(table: &str) -> String {
    format!("CREATE TABLE IF NOT EXISTS {table} (version varchar({LENGTH}) PRIMARY KEY)")
}

pub fn select_sql(table: &str, truth: &str) -> String {
    format!("SELECT version, NULL, NULL, NULL, NULL, {truth}, NULL FROM {table}")
}

pub fn stored_version(migration: &Migration) -> Result<StoredVersion, NotStorable> {
    let version = migration.version.as_str();
    if version.chars().count() > LENGTH {
        return Err(NotStorable {
            reason: format!("dbmate stores versions as varchar({LENGTH})"),
        });
    }
    Ok(StoredVersion::Text(version.to_string()))
}
