//! Prisma Migrate folders: `<timestamp>_<name>/migration.sql` beside `migration_lock.toml`
//! (`provider = "postgresql"`). Prisma has no down scripts; a `down.sql` kept beside
//! `migration.sql` (as `prisma migrate diff` users write them) is read as the down. Folders
//! are applied in name order. Prisma's history is `_prisma_migrations`, one row per attempt,
//! keyed by the folder name.

use std::path::Path;

use super::super::layout::{
    Entry, Layout, ScanOptions, duplicate_version, is_ignored, read_optional_script,
    refuse_empty_up, split_version, version_error,
};
use super::super::version::Version;
use super::super::{Migration, checksum, is_placeholder_down};
use crate::error::{Error, ErrorCode, Result};

pub const LOCK_FILE: &str = "migration_lock.toml";
pub const SCRIPT: &str = "migration.sql";

pub fn detect(dir: &Path, entries: &[Entry]) -> bool {
    entries.iter().any(|e| !e.is_dir && e.name == LOCK_FILE)
        || entries
            .iter()
            .any(|e| e.is_dir && dir.join(&e.name).join(SCRIPT).is_file())
}

/// The lock file's `provider`, if the file is there and says one.
pub fn provider(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(LOCK_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(Error::io(
                ErrorCode::UnreadableFile,
                "read file",
                &path,
                &err,
            ));
        }
    };
    let value: toml::Table = toml::from_str(&text).map_err(|err| {
        Error::input(
            ErrorCode::BadToolMetadata,
            format!("invalid {LOCK_FILE}: {}", err.message()),
        )
        .at(super::super::layout::toml_location(
            &path,
            &text,
            err.span(),
        ))
        .hint("Prisma writes it as `provider = \"postgresql\"`: restore it from version control")
    })?;
    Ok(value
        .get("provider")
        .and_then(toml::Value::as_str)
        .map(str::to_string))
}

pub fn scan(dir: &Path, entries: &[Entry], options: &ScanOptions) -> Result<Vec<Migration>> {
    // Read now so a damaged lock file is reported, whoever compares it with the dialect.
    provider(dir)?;
    let mut migrations = Vec::new();
    for entry in entries {
        if is_ignored(&entry.name, options) || (!entry.is_dir && entry.name == LOCK_FILE) {
            continue;
        }
        let path = dir.join(&entry.name);
        let parsed = Some(entry.name.as_str())
            .filter(|_| entry.is_dir)
            .and_then(split_version)
            .filter(|(version, _)| version.bytes().all(|b| b.is_ascii_digit()));
        let Some((version, name)) = parsed else {
            return Err(Error::input(
                ErrorCode::BadMigrationName,
                format!("`{}` is not a Prisma migration directory name", entry.name),
            )
            .at_path(&path)
            .hint(format!(
                "expected {}; or list it under `ignore` in [package.metadata.migrate]",
                Layout::Prisma.expected_pattern()
            )));
        };
        let version = Version::parse(version, Layout::Prisma.version_order())
            .map_err(|e| version_error(e, &path, Layout::Prisma))?;
        let Some((up, bytes)) = read_optional_script(&path.join(SCRIPT))? else {
            return Err(Error::input(
                ErrorCode::MissingUp,
                format!("migration directory has no {SCRIPT}"),
            )
            .at_path(&path)
            .hint(format!("add {SCRIPT} with the migration's SQL")));
        };
        refuse_empty_up(&up)?;
        let down = read_optional_script(&path.join("down.sql"))?.map(|(script, _)| script);
        migrations.push(Migration {
            version,
            name: name.to_string(),
            checksum: checksum::checksum(&bytes),
            down_is_empty: down
                .as_ref()
                .is_some_and(|down| is_placeholder_down(&up.sql, &down.sql)),
            up,
            down,
            no_transaction: false,
            created_at: None,
            repeatable: false,
        });
    }
    migrations.sort_by(|a, b| a.version.cmp(&b.version));
    if let Some(pair) = migrations
        .windows(2)
        .find(|p| p[0].version.same_key(&p[1].version))
    {
        return Err(duplicate_version(
            &pair[1].version,
            dir,
            &format!("{}_{}", pair[0].version.as_str(), pair[0].name),
            &format!("{}_{}", pair[1].version.as_str(), pair[1].name),
        ));
    }
    Ok(migrations)
}

/// `new`: `<timestamp>_<name>/migration.sql` (and `down.sql` when the template has one).
pub fn scaffold(dir: &Path, stem: &str, up: String, down: Option<String>) -> super::Planned {
    let migration_dir = dir.join(stem);
    let mut files = vec![(migration_dir.join(SCRIPT), super::without_directive(&up))];
    files.extend(down.map(|down| {
        (
            migration_dir.join("down.sql"),
            super::without_directive(&down),
        )
    }));
    (Some(migration_dir), files)
}
