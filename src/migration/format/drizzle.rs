//! Drizzle Kit folders: `NNNN_<name>.sql` files applied in the order of `meta/_journal.json`
//! (`entries[]` with `idx`, `tag`, `when`, `breakpoints`), statements separated by
//! `--> statement-breakpoint` lines (SQL comments, so the splitter reads through them).
//!
//! Drizzle's history records each migration by the journal's `when` and the SHA-256 of the
//! file as written, so the migration keeps `when` in [`Migration::created_at`].

use std::path::Path;

use serde::Deserialize;

use super::super::layout::{
    Entry, ScanOptions, is_ignored, read_script, refuse_empty_up, split_version, version_error,
};
use super::super::version::{Version, VersionOrder};
use super::super::{Migration, checksum};
use crate::error::{Error, ErrorCode, Result, display_path};

pub const JOURNAL: &str = "meta/_journal.json";

/// A `meta` directory with a journal in it.
pub fn detect(dir: &Path, entries: &[Entry]) -> bool {
    entries.iter().any(|e| e.is_dir && e.name == "meta") && dir.join(JOURNAL).is_file()
}

#[derive(Debug, Deserialize)]
pub struct Journal {
    #[serde(default)]
    pub dialect: Option<String>,
    pub entries: Vec<JournalEntry>,
}

#[derive(Debug, Deserialize)]
pub struct JournalEntry {
    pub when: i64,
    pub tag: String,
}

pub fn read_journal(dir: &Path) -> Result<Journal> {
    let path = dir.join(JOURNAL);
    let text = std::fs::read_to_string(&path)
        .map_err(|err| Error::io(ErrorCode::UnreadableFile, "read file", &path, &err))?;
    serde_json::from_str(&text).map_err(|err| {
        Error::input(
            ErrorCode::BadToolMetadata,
            format!("invalid Drizzle journal: {err}"),
        )
        .at(format!(
            "{}:{}:{}",
            display_path(&path),
            err.line(),
            err.column()
        ))
        .hint("the journal is written by `drizzle-kit generate`: restore it from version control")
    })
}

pub fn scan(dir: &Path, entries: &[Entry], options: &ScanOptions) -> Result<Vec<Migration>> {
    let journal = read_journal(dir)?;
    let journal_path = dir.join(JOURNAL);
    // Every file of the folder is a journal entry: Drizzle would skip one that is not, so a
    // hand-written migration nobody added to the journal would never run.
    for entry in entries {
        if entry.name == "meta" && entry.is_dir || is_ignored(&entry.name, options) {
            continue;
        }
        let listed = entry
            .name
            .strip_suffix(".sql")
            .is_some_and(|tag| !entry.is_dir && journal.entries.iter().any(|e| e.tag == tag));
        if !listed {
            return Err(Error::input(
                ErrorCode::BadMigrationName,
                format!("`{}` is not listed in {JOURNAL}", entry.name),
            )
            .at_path(&dir.join(&entry.name))
            .hint("Drizzle runs only the migrations its journal lists: add it with `drizzle-kit generate --custom`, or list it under `ignore` in [package.metadata.migrate]"));
        }
    }
    let mut migrations: Vec<Migration> = Vec::with_capacity(journal.entries.len());
    for entry in &journal.entries {
        let path = dir.join(format!("{}.sql", entry.tag));
        let Some((version, name)) = split_version(&entry.tag) else {
            return Err(Error::input(
                ErrorCode::BadMigrationName,
                format!("journal tag `{}` is not <version>_<name>", entry.tag),
            )
            .at_path(&journal_path)
            .hint("Drizzle tags look like 0000_happy_hulk"));
        };
        let version = Version::parse(version, VersionOrder::TextWithoutDashes)
            .map_err(|e| version_error(e, &path, super::super::Layout::Drizzle))?;
        if !path.is_file() {
            return Err(Error::input(
                ErrorCode::MissingUp,
                format!("the journal lists `{}`, but its file is missing", entry.tag),
            )
            .at_path(&path)
            .hint("restore the file from version control, or remove its entry from the journal"));
        }
        // The journal's order is the apply order; versions that disagree with it would show
        // (and compare) in another order than the one Drizzle runs.
        if let Some(previous) = migrations.last()
            && previous.version >= version
        {
            return Err(Error::input(
                ErrorCode::DuplicateVersion,
                format!(
                    "journal entry `{}` does not come after `{}_{}`",
                    entry.tag,
                    previous.version.as_str(),
                    previous.name
                ),
            )
            .at_path(&journal_path)
            .hint(
                "journal entries must be in increasing version order, as drizzle-kit writes them",
            ));
        }
        let (up, bytes) = read_script(&path)?;
        refuse_empty_up(&up)?;
        migrations.push(Migration {
            version,
            name: name.to_string(),
            checksum: checksum::checksum(&bytes),
            up,
            down: None,
            down_is_empty: false,
            no_transaction: false,
            created_at: Some(entry.when),
            repeatable: false,
        });
    }
    Ok(migrations)
}

/// `new`: Drizzle's file name, and the journal entry that makes Drizzle run it (the journal
/// is rewritten, the only file `new` changes rather than creates).
pub fn scaffold(dir: &Path, stem: &str, up: String) -> Result<super::Planned> {
    let path = dir.join(JOURNAL);
    let text = std::fs::read_to_string(&path)
        .map_err(|err| Error::io(ErrorCode::UnreadableFile, "read file", &path, &err))?;
    let mut journal: serde_json::Value = serde_json::from_str(&text).map_err(|err| {
        Error::input(
            ErrorCode::BadToolMetadata,
            format!("invalid Drizzle journal: {err}"),
        )
        .at_path(&path)
    })?;
    let Some(list) = journal
        .get_mut("entries")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return Err(
            Error::input(ErrorCode::BadToolMetadata, "the journal has no `entries`").at_path(&path),
        );
    };
    let version = list
        .last()
        .and_then(|e| e.get("version").cloned())
        .unwrap_or_else(|| serde_json::Value::String("7".into()));
    // Drizzle runs the entries whose `when` is after the newest recorded one: a clock behind
    // the newest entry's must not give the new one an older `when`.
    let newest = list
        .iter()
        .filter_map(|e| e.get("when").and_then(serde_json::Value::as_i64))
        .max()
        .unwrap_or(0);
    let when = chrono::Utc::now().timestamp_millis().max(newest + 1);
    list.push(serde_json::json!({
        "idx": list.len(),
        "version": version,
        "when": when,
        "tag": stem,
        "breakpoints": true,
    }));
    let mut rendered = serde_json::to_string_pretty(&journal).unwrap_or(text);
    rendered.push('\n');
    Ok((
        None,
        vec![(dir.join(format!("{stem}.sql")), up), (path, rendered)],
    ))
}

/// Whether `path` is a Drizzle journal (`…/meta/_journal.json`).
pub fn is_journal(path: &Path) -> bool {
    path.ends_with(JOURNAL)
}

/// Replaces the journal with `contents` through a temporary file renamed over it, so an
/// interrupted `new` leaves the old journal or the new one, never half of one.
pub fn replace_journal(path: &Path, contents: &str) -> Result<()> {
    let temp = path.with_extension("json.new");
    std::fs::write(&temp, contents)
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|err| {
            let _ = std::fs::remove_file(&temp);
            Error::io(ErrorCode::UnwritableDirectory, "write file", path, &err)
        })
}
