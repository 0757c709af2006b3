//! Other tools' migration folders, read where they lie: Drizzle, dbmate, goose and Prisma.
//!
//! Each format lives in its own module (naming, parsing, scaffolding); this module detects
//! which one a folder is written in and dispatches. The layouts of [`super::layout`] (directory
//! and sqlx style) are the fallback when no other tool's marks are found.

pub mod dbmate;
pub mod drizzle;
pub mod goose;
pub mod prisma;

use std::path::Path;

use super::layout::{
    Entry, Layout, ScanOptions, duplicate_version, is_ignored, read_script, refuse_empty_up,
    split_version, version_error,
};
use super::version::Version;
use super::{Migration, Migrations, Script, checksum, is_placeholder_down};
use crate::error::{Error, ErrorCode, Result, display_path};

/// The tool layout `dir` is written in, if its entries carry one tool's marks: a Drizzle
/// journal, a Prisma lock file or `<version>_<name>/migration.sql`, dbmate's or goose's section
/// markers. A `layout` setting naming a tool format wins over detection (a dbmate or goose set
/// whose files have no markers yet looks like sqlx's).
pub fn detect(dir: &Path, entries: &[Entry], options: &ScanOptions) -> Option<Layout> {
    if let Some(layout) = options.default_layout.filter(|l| is_tool_layout(*l)) {
        return Some(layout);
    }
    if drizzle::detect(dir, entries) {
        return Some(Layout::Drizzle);
    }
    if prisma::detect(dir, entries) {
        return Some(Layout::Prisma);
    }
    // Section markers: reading the heads of the `.sql` files is cheap next to running them.
    let sql_files = entries
        .iter()
        .filter(|e| !e.is_dir && e.name.ends_with(".sql"));
    for entry in sql_files {
        let Ok(text) = std::fs::read_to_string(dir.join(&entry.name)) else {
            continue;
        };
        if goose::has_markers(&text) {
            return Some(Layout::Goose);
        }
        if dbmate::has_markers(&text) {
            return Some(Layout::Dbmate);
        }
    }
    None
}

/// Whether `layout` is one of the tool formats of this module.
pub fn is_tool_layout(layout: Layout) -> bool {
    matches!(
        layout,
        Layout::Drizzle | Layout::Dbmate | Layout::Goose | Layout::Prisma
    )
}

/// Reads a set in a tool format.
pub fn scan(
    dir: &Path,
    layout: Layout,
    entries: &[Entry],
    options: &ScanOptions,
) -> Result<Migrations> {
    let migrations = match layout {
        Layout::Drizzle => drizzle::scan(dir, entries, options)?,
        Layout::Dbmate => dbmate::scan(dir, entries, options)?,
        Layout::Goose => goose::scan(dir, entries, options)?,
        Layout::Prisma => prisma::scan(dir, entries, options)?,
        // Only these tool layouts are dispatched here (see `detect`); the others are read by
        // `layout::scan`.
        Layout::Directory
        | Layout::Sqlx
        | Layout::Flyway
        | Layout::GolangMigrate
        | Layout::Refinery => Vec::new(),
    };
    Ok(Migrations {
        layout,
        sqlx_reversible: false,
        migrations,
        nested: false,
    })
}

/// A section of a file as its own script, with the lines before it blanked out: errors the
/// splitter and the database report by line then point into the file as written.
pub fn section(path: &Path, text: &str, start: usize, end: usize) -> Script {
    let lines_before = text[..start].matches('\n').count();
    let mut sql = "\n".repeat(lines_before);
    sql.push_str(&text[start..end]);
    Script {
        path: path.to_path_buf(),
        sql,
    }
}

/// Refuses a folder whose tool says it is for another database than the set's dialect:
/// Prisma's `migration_lock.toml` `provider`, Drizzle's journal `dialect`.
pub fn check_dialect(dir: &Path, layout: Layout, dialect: crate::dialect::Dialect) -> Result<()> {
    let (said, file) = match layout {
        Layout::Prisma => match prisma::provider(dir)? {
            Some(provider) => (provider, dir.join(prisma::LOCK_FILE)),
            None => return Ok(()),
        },
        Layout::Drizzle => match drizzle::read_journal(dir)?.dialect {
            Some(journal_dialect) => (journal_dialect, dir.join(drizzle::JOURNAL)),
            None => return Ok(()),
        },
        _ => return Ok(()),
    };
    let theirs = match said.as_str() {
        "postgresql" | "postgres" | "cockroachdb" => "postgres",
        "sqlite" | "turso" => "sqlite",
        "mysql" | "singlestore" => "mysql",
        other => other,
    };
    if theirs == dialect.as_str() {
        return Ok(());
    }
    Err(crate::error::Error::input(
        crate::error::ErrorCode::DialectMismatch,
        format!(
            "the {} folder is for `{said}`, but the set's dialect is {}",
            layout.as_str(),
            dialect.as_str()
        ),
    )
    .at_path(&file)
    .hint("point the set at the folder written for this database, or set `dialect` to match"))
}

/// Byte offsets of each line of `text`: (start, end without the line break, next start).
pub fn lines(text: &str) -> impl Iterator<Item = (usize, &str, usize)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |raw| {
        let start = offset;
        offset += raw.len();
        (start, raw.trim_end_matches(['\n', '\r']), offset)
    })
}

/// The planned files of `new` in a tool format: (directory to create, files with contents).
pub type Planned = (
    Option<std::path::PathBuf>,
    Vec<(std::path::PathBuf, String)>,
);

/// `new` in a tool format: the tool's naming, its sections scaffolded around `up` and `down`.
pub fn scaffold(
    layout: Layout,
    dir: &Path,
    stem: &str,
    up: String,
    down: Option<String>,
    no_transaction: bool,
) -> Result<Planned> {
    match layout {
        Layout::Dbmate => Ok(dbmate::scaffold(
            dir,
            stem,
            &up,
            down.as_deref(),
            no_transaction,
        )),
        Layout::Goose => Ok(goose::scaffold(
            dir,
            stem,
            &up,
            down.as_deref(),
            no_transaction,
        )),
        Layout::Prisma => Ok(prisma::scaffold(dir, stem, up, down)),
        Layout::Drizzle => drizzle::scaffold(dir, stem, up),
        Layout::Directory
        | Layout::Sqlx
        | Layout::Flyway
        | Layout::GolangMigrate
        | Layout::Refinery => Ok((None, Vec::new())),
    }
}

/// Removes our own no-transaction directive from a rendered template: tool formats say it in
/// their own words.
pub fn without_directive(sql: &str) -> String {
    match sql.strip_prefix(super::NO_TRANSACTION_DIRECTIVE) {
        Some(rest) => rest.trim_start_matches(['\r', '\n']).to_string(),
        None => sql.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_detected_by_their_tools_marks() {
        let temp = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = temp.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        let entries = |names: &[&str]| -> Vec<Entry> {
            names
                .iter()
                .map(|n| Entry {
                    name: n.trim_end_matches('/').to_string(),
                    is_dir: n.ends_with('/'),
                })
                .collect()
        };
        let options = ScanOptions::default();
        let dir = temp.path();
        write("1_a.sql", "create table a ();\n");
        assert_eq!(detect(dir, &entries(&["1_a.sql"]), &options), None);
        write("2_b.sql", "-- +goose Up\nselect 1;\n");
        assert_eq!(
            detect(dir, &entries(&["1_a.sql", "2_b.sql"]), &options),
            Some(Layout::Goose)
        );
        write("3_c.sql", "-- migrate:up\nselect 1;\n");
        assert_eq!(
            detect(dir, &entries(&["1_a.sql", "3_c.sql"]), &options),
            Some(Layout::Dbmate)
        );
        write("meta/_journal.json", "{}");
        assert_eq!(
            detect(dir, &entries(&["1_a.sql", "meta/"]), &options),
            Some(Layout::Drizzle)
        );
        write("20240101000000_init/migration.sql", "select 1;\n");
        assert_eq!(
            detect(dir, &entries(&["20240101000000_init/"]), &options),
            Some(Layout::Prisma)
        );
        // `layout` naming a tool format wins over what the files say.
        let configured = ScanOptions {
            default_layout: Some(Layout::Dbmate),
            ..Default::default()
        };
        assert_eq!(
            detect(dir, &entries(&["1_a.sql"]), &configured),
            Some(Layout::Dbmate)
        );
        let sqlx = ScanOptions {
            default_layout: Some(Layout::Sqlx),
            ..Default::default()
        };
        assert_eq!(detect(dir, &entries(&["1_a.sql"]), &sqlx), None);
    }

    #[test]
    fn sections_keep_their_line_numbers() {
        let text = "-- migrate:up\ncreate table a ();\n-- migrate:down\ndrop table a;\n";
        let start = text.find("create").unwrap();
        let end = text.find("-- migrate:down").unwrap();
        let script = section(Path::new("x.sql"), text, start, end);
        assert_eq!(script.sql, "\ncreate table a ();\n");
        let lines: Vec<_> = lines("a\r\nbb\nc").collect();
        assert_eq!(lines, [(0, "a", 3), (3, "bb", 6), (6, "c", 7)]);
    }
}

/// A folder of `<version>_<name>.sql` files with digits for versions, each file one migration
/// with its sections (dbmate's and goose's sets): every other entry is refused unless ignored;
/// `read` reads one file; duplicate versions are refused.
fn scan_section_files(
    dir: &Path,
    entries: &[Entry],
    options: &ScanOptions,
    layout: Layout,
    read: impl Fn(&Path, Version, &str) -> Result<Migration>,
) -> Result<Vec<Migration>> {
    let mut migrations = Vec::new();
    for entry in entries {
        if is_ignored(&entry.name, options) {
            continue;
        }
        let path = dir.join(&entry.name);
        let parsed = entry
            .name
            .strip_suffix(".sql")
            .filter(|_| !entry.is_dir)
            .and_then(split_version)
            .filter(|(version, _)| version.bytes().all(|b| b.is_ascii_digit()));
        let Some((version, name)) = parsed else {
            return Err(Error::input(
                ErrorCode::BadMigrationName,
                format!(
                    "`{}` is not a {} migration file name",
                    entry.name,
                    layout.as_str()
                ),
            )
            .at_path(&path)
            .hint(format!(
                "expected {}; or list it under `ignore` in [package.metadata.migrate]",
                layout.expected_pattern()
            )));
        };
        let version = Version::parse(version, layout.version_order())
            .map_err(|e| version_error(e, &path, layout))?;
        migrations.push(read(&path, version, name)?);
    }
    migrations.sort_by(|a, b| a.version.cmp(&b.version));
    if let Some(pair) = migrations
        .windows(2)
        .find(|p| p[0].version.same_key(&p[1].version))
    {
        let name = |m: &Migration| {
            m.up.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        return Err(duplicate_version(
            &pair[1].version,
            dir,
            &name(&pair[0]),
            &name(&pair[1]),
        ));
    }
    Ok(migrations)
}

/// Where a file's sections lie (dbmate's, goose's): the up's and the down's byte ranges
/// (after their marker lines), and whether the up runs outside a transaction.
#[derive(Debug)]
pub struct Sections {
    pub up: (usize, usize),
    pub down: Option<(usize, usize)>,
    pub no_transaction: bool,
}

/// One migration from a file with sections, `ranges` found by the tool's own reading (its
/// error: the line and what is wrong, reported with `hint`).
fn section_migration(
    path: &Path,
    version: Version,
    name: &str,
    ranges: impl FnOnce(&str) -> std::result::Result<Sections, (usize, String)>,
    tool: &str,
    hint: &str,
) -> Result<Migration> {
    let (file, _) = read_script(path)?;
    let text = file.sql.as_str();
    let parts = ranges(text).map_err(|(line, what)| {
        Error::input(
            ErrorCode::BadToolMetadata,
            format!("{tool} migration: {what}"),
        )
        .at(format!("{}:{line}", display_path(path)))
        .hint(hint.to_string())
    })?;
    let up = section(path, text, parts.up.0, parts.up.1);
    refuse_empty_up(&up)?;
    let down = parts
        .down
        .map(|(start, end)| section(path, text, start, end));
    Ok(Migration {
        version,
        name: name.to_string(),
        checksum: checksum::checksum(up.sql.as_bytes()),
        down_is_empty: down
            .as_ref()
            .is_some_and(|down| is_placeholder_down(&up.sql, &down.sql)),
        up,
        down,
        no_transaction: parts.no_transaction,
        created_at: None,
        repeatable: false,
    })
}
