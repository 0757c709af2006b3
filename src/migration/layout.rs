//! Layouts: how a set writes its migrations on disk, detected per directory.
//!
//! - directory style (our default, and diesel's): `<version>_<name>/up.sql`, optional
//!   `down.sql` and `metadata.toml` (`run_in_transaction = false`);
//! - sqlx style: `<version>_<name>.sql`, or `<version>_<name>.up.sql` + `.down.sql`.
//!
//! Classifying names is pure ([`classify`]); reading the files happens in [`scan`].

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Serialize;

use super::version::{Version, VersionError, VersionOrder};
use super::{Migration, Migrations, Script, checksum, has_no_transaction_directive};
use crate::error::{Error, ErrorCode, Result, display_path};

pub mod flyway;
pub mod nested;
pub mod refinery;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Directory,
    Sqlx,
    Drizzle,
    Dbmate,
    Goose,
    Prisma,
    Flyway,
    GolangMigrate,
    Refinery,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Directory => "directory",
            Layout::Sqlx => "sqlx",
            Layout::Drizzle => "drizzle",
            Layout::Dbmate => "dbmate",
            Layout::Goose => "goose",
            Layout::Prisma => "prisma",
            Layout::Flyway => "flyway",
            Layout::GolangMigrate => "golang-migrate",
            Layout::Refinery => "refinery",
        }
    }

    /// The history a set in this layout keeps unless `history` says otherwise: a tool's
    /// folder keeps that tool's table, so the team can switch either way.
    pub fn tool_history(self) -> Option<crate::config::HistoryKind> {
        use crate::config::HistoryKind;
        match self {
            Layout::Drizzle => Some(HistoryKind::Drizzle),
            Layout::Dbmate => Some(HistoryKind::Dbmate),
            Layout::Goose => Some(HistoryKind::Goose),
            Layout::Prisma => Some(HistoryKind::Prisma),
            Layout::Flyway => Some(HistoryKind::Flyway),
            Layout::GolangMigrate => Some(HistoryKind::GolangMigrate),
            Layout::Refinery => Some(HistoryKind::Refinery),
            _ => None,
        }
    }

    /// Each layout orders versions the way its own tool does.
    pub fn version_order(self) -> VersionOrder {
        match self {
            Layout::Directory => VersionOrder::TextWithoutDashes,
            Layout::Sqlx => VersionOrder::Integer,
            Layout::Drizzle => VersionOrder::TextWithoutDashes,
            Layout::Dbmate => VersionOrder::TextWithoutDashes,
            Layout::Goose => VersionOrder::Integer,
            Layout::Prisma => VersionOrder::TextWithoutDashes,
            Layout::Flyway => VersionOrder::Parts,
            Layout::GolangMigrate => VersionOrder::Integer,
            Layout::Refinery => VersionOrder::Integer,
        }
    }

    /// The pattern shown when a name does not parse.
    pub(crate) fn expected_pattern(self) -> &'static str {
        match self {
            Layout::Directory => {
                "<version>_<name>/ holding up.sql (version: digits like 20240101120000, or YYYY-MM-DD-HHMMSS)"
            }
            Layout::Sqlx => "<version>_<name>.sql or <version>_<name>.up.sql (version: digits)",
            Layout::Drizzle => "<NNNN>_<name>.sql listed in meta/_journal.json",
            Layout::Dbmate => "<version>_<name>.sql with `-- migrate:up` (version: digits)",
            Layout::Goose => "<version>_<name>.sql with `-- +goose Up` (version: digits)",
            Layout::Prisma => "<timestamp>_<name>/ holding migration.sql",
            Layout::Flyway => flyway::EXPECTED,
            Layout::Refinery => refinery::EXPECTED,
            Layout::GolangMigrate => {
                "<version>_<name>.up.sql and <version>_<name>.down.sql (version: digits)"
            }
        }
    }
}

impl std::str::FromStr for Layout {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "directory" | "diesel" => Ok(Layout::Directory),
            "sqlx" => Ok(Layout::Sqlx),
            "drizzle" => Ok(Layout::Drizzle),
            "dbmate" => Ok(Layout::Dbmate),
            "goose" => Ok(Layout::Goose),
            "prisma" => Ok(Layout::Prisma),
            "flyway" => Ok(Layout::Flyway),
            "golang-migrate" => Ok(Layout::GolangMigrate),
            "refinery" => Ok(Layout::Refinery),
            _ => Err(format!(
                "unknown layout `{text}`; expected `directory`, `sqlx`, `drizzle`, `dbmate`, `goose`, `prisma`, `flyway`, `golang-migrate` or `refinery`"
            )),
        }
    }
}

/// What the caller knows about a set before it is read.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// File names (with `*` wildcards) to skip besides the built-in ones.
    pub ignore: Vec<String>,
    /// The layout for a set with no migrations yet.
    pub default_layout: Option<Layout>,
    /// A `--dir` set: its settings come from a `--config` file, not a Cargo.toml table.
    pub dir_mode: bool,
    /// Flyway's configurable name parts.
    pub flyway: flyway::Names,
    /// The set lives in sub-folders whose names match this pattern (see [`nested`]).
    pub subfolders: Option<String>,
}

impl ScanOptions {
    /// Where hints tell the user to put a setting.
    pub fn settings_place(&self) -> &'static str {
        if self.dir_mode {
            "the --config file"
        } else {
            "[package.metadata.migrate]"
        }
    }
}

/// A directory entry, as far as classification needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
}

/// A migration found by name, before its files are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub version: Version,
    pub name: String,
    /// Directory style: the migration's directory. sqlx style: the up file.
    pub up: String,
    /// sqlx style only: the down file.
    pub down: Option<String>,
}

/// The result of classifying a directory's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub layout: Layout,
    pub sqlx_reversible: bool,
    /// Sorted by version under the layout's rule.
    pub found: Vec<Found>,
}

/// For a set that no format reads: which formats its names came closest to, and the setting
/// that reads it as the closest one (or that it is a layout not read yet).
fn closest_formats(entries: &[Entry], options: &ScanOptions, expected: Layout) -> String {
    let entries: Vec<&Entry> = entries
        .iter()
        .filter(|e| !is_ignored(&e.name, options))
        .collect();
    let count = |test: &dyn Fn(&Entry) -> bool| entries.iter().filter(|e| test(e)).count();
    let mut formats = [
        (
            Layout::Flyway,
            count(&|e: &Entry| !e.is_dir && flyway::parse_name(&e.name, &options.flyway).is_some()),
        ),
        (
            Layout::Sqlx,
            count(&|e: &Entry| matches!(shape(e), Shape::SqlxFile { .. })),
        ),
        (
            Layout::Directory,
            count(&|e: &Entry| matches!(shape(e), Shape::Directory { .. })),
        ),
    ];
    formats.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let numbered_folders = count(&|e: &Entry| {
        e.is_dir && !e.name.is_empty() && e.name.bytes().all(|b| b.is_ascii_digit())
    });
    let matched: Vec<String> = formats
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(layout, n)| format!("{} ({n} of {})", layout.as_str(), entries.len()))
        .collect();
    let mut text = String::new();
    // Only when the names point elsewhere than the pattern the hint already gives.
    if !matched.is_empty() && formats[0].0 != expected {
        text.push_str(&format!(
            ". Closest formats by name: {}",
            matched.join(", ")
        ));
        // Only a layout read from configuration changes how a set with files is read.
        if formats[0].0 == Layout::Flyway {
            text.push_str(&format!(
                "; `layout = \"flyway\"` in {} reads the set as Flyway's and names what does not fit",
                options.settings_place()
            ));
        }
    }
    if numbered_folders > 0 {
        text.push_str(&format!(
            ". Numbered sub-folders (a history split by folder, like `0/`, `1/`) are read with `subfolders = \"*\"` in {}",
            options.settings_place()
        ));
    }
    text
}

/// Names that are never migrations: dotfiles, docs, licences.
fn is_ignored_by_default(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    name.starts_with('.')
        || upper.starts_with("README")
        || upper.starts_with("LICENSE")
        || upper.ends_with(".MD")
}

/// Whether `name` is skipped: a built-in exception or one of the set's `ignore` patterns.
pub(crate) fn is_ignored(name: &str, options: &ScanOptions) -> bool {
    is_ignored_by_default(name) || options.ignore.iter().any(|p| wildcard_match(p, name))
}

/// `*` matches any run of characters; everything else matches itself.
///
/// Greedy, going back only to the last `*`: at worst pattern length × name length steps, however
/// many `*` the pattern has (trying every split at every `*` was exponential in their number).
/// Comparing bytes is comparing characters: the text after a `*` starts with a whole character,
/// which can only match at a character boundary of the name.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (pattern, name) = (pattern.as_bytes(), name.as_bytes());
    let (mut p, mut n) = (0, 0);
    // The last `*` seen: where the pattern resumes after it, and where in the name that resumed
    // match was last tried.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                p += 1;
                star = Some((p, n));
            }
            Some(&byte) if byte == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                // Let the `*` take one more byte and try again.
                Some((resume, tried)) => {
                    p = resume;
                    n = tried + 1;
                    star = Some((resume, n));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&byte| byte == b'*')
}

/// `<version>_<name>` split at the first underscore.
pub(crate) fn split_version(stem: &str) -> Option<(&str, &str)> {
    stem.split_once('_')
        .filter(|(version, name)| !version.is_empty() && !name.is_empty())
}

/// What an entry would be in each layout.
enum Shape<'a> {
    Directory {
        version: &'a str,
        name: &'a str,
    },
    SqlxFile {
        version: &'a str,
        name: &'a str,
        kind: SqlxKind,
    },
    Unknown,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SqlxKind {
    Simple,
    Up,
    Down,
}

fn shape(entry: &Entry) -> Shape<'_> {
    if entry.is_dir {
        return match split_version(&entry.name) {
            Some((version, name)) if looks_like_version(version) => {
                Shape::Directory { version, name }
            }
            _ => Shape::Unknown,
        };
    }
    let (stem, kind) = if let Some(stem) = entry.name.strip_suffix(".up.sql") {
        (stem, SqlxKind::Up)
    } else if let Some(stem) = entry.name.strip_suffix(".down.sql") {
        (stem, SqlxKind::Down)
    } else if let Some(stem) = entry.name.strip_suffix(".sql") {
        (stem, SqlxKind::Simple)
    } else {
        return Shape::Unknown;
    };
    match split_version(stem) {
        Some((version, name)) if version.bytes().all(|b| b.is_ascii_digit()) => Shape::SqlxFile {
            version,
            name,
            kind,
        },
        _ => Shape::Unknown,
    }
}

/// Digits or dashes: a version-ish prefix, checked properly by [`Version::parse`].
fn looks_like_version(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && text.bytes().any(|b| b.is_ascii_digit())
}

pub(crate) fn version_error(err: VersionError, file: &Path, layout: Layout) -> Error {
    match err {
        VersionError::Malformed => {
            Error::input(ErrorCode::BadMigrationName, "malformed migration version")
                .at_path(file)
                .hint(format!("expected {}", layout.expected_pattern()))
        }
        VersionError::TooLarge => Error::input(
            ErrorCode::VersionTooLarge,
            "migration version does not fit a signed 64-bit integer",
        )
        .at_path(file)
        .hint("use a UTC timestamp like 20240101120000 or a small sequence number"),
    }
}

/// Decides the layout of `dir` from its entries' names and pairs up sqlx files. Pure: `dir`
/// is only used to name files in errors.
pub fn classify(dir: &Path, entries: &[Entry], options: &ScanOptions) -> Result<Classified> {
    // Other tools' formats, each recognised by its own module.
    if flyway::applies(entries, options) {
        return flyway::classify(dir, entries, options);
    }
    if options.default_layout == Some(Layout::Refinery) {
        return refinery::classify(dir, entries, options);
    }
    let mut directory_style = Vec::new();
    let mut sqlx_style = Vec::new();
    let mut unknown = Vec::new();
    for entry in entries {
        if is_ignored(&entry.name, options) {
            continue;
        }
        match shape(entry) {
            Shape::Directory { .. } => directory_style.push(entry),
            Shape::SqlxFile { .. } => sqlx_style.push(entry),
            Shape::Unknown => unknown.push(entry),
        }
    }

    if let Some(entry) = unknown.first() {
        // Hint at the layout the rest of the set uses; for a lone entry, at its own kind.
        let layout = if sqlx_style.len() > directory_style.len()
            || (directory_style.is_empty() && !entry.is_dir && entry.name.ends_with(".sql"))
        {
            Layout::Sqlx
        } else {
            Layout::Directory
        };
        let what = if entry.is_dir { "directory" } else { "file" };
        return Err(Error::input(
            ErrorCode::BadMigrationName,
            format!("`{}` is not a migration {what} name", entry.name),
        )
        .at_path(&dir.join(&entry.name))
        .hint(format!(
            "expected {}; or list it under `ignore` in {}{}",
            layout.expected_pattern(),
            options.settings_place(),
            closest_formats(entries, options, layout)
        )));
    }

    if !directory_style.is_empty() && !sqlx_style.is_empty() {
        let (layout, odd) = if directory_style.len() >= sqlx_style.len() {
            (Layout::Directory, &sqlx_style)
        } else {
            (Layout::Sqlx, &directory_style)
        };
        let mut odd: Vec<&str> = odd.iter().map(|e| e.name.as_str()).collect();
        odd.sort_unstable();
        return Err(Error::input(
            ErrorCode::MixedLayout,
            format!(
                "the set mixes layouts: mostly {}-style, but these are not: {}",
                layout.as_str(),
                odd.join(", ")
            ),
        )
        .at_path(dir)
        .hint(format!(
            "convert or remove the odd ones so every migration is {}",
            layout.expected_pattern()
        )));
    }

    let layout = if !sqlx_style.is_empty() {
        Layout::Sqlx
    } else if !directory_style.is_empty() {
        Layout::Directory
    } else {
        options.default_layout.unwrap_or(Layout::Directory)
    };
    // golang-migrate's names are sqlx's pairs: read so only when configured.
    let layout = match (layout, options.default_layout) {
        (Layout::Sqlx, Some(Layout::GolangMigrate)) => Layout::GolangMigrate,
        (layout, _) => layout,
    };
    let order = layout.version_order();

    let mut found = Vec::new();
    let mut sqlx_reversible = false;
    match layout {
        Layout::Directory => {
            for entry in directory_style {
                if let Shape::Directory { version, name } = shape(entry) {
                    let version = Version::parse(version, order)
                        .map_err(|e| version_error(e, &dir.join(&entry.name), layout))?;
                    found.push(Found {
                        version,
                        name: name.to_string(),
                        up: entry.name.clone(),
                        down: None,
                    });
                }
            }
        }
        Layout::Sqlx | Layout::GolangMigrate => {
            // Pair `.up.sql` with `.down.sql` by version.
            let mut by_version: BTreeMap<Version, (Option<Found>, Option<&Entry>)> =
                BTreeMap::new();
            for entry in &sqlx_style {
                let Shape::SqlxFile {
                    version,
                    name,
                    kind,
                } = shape(entry)
                else {
                    continue;
                };
                let file = dir.join(&entry.name);
                let version =
                    Version::parse(version, order).map_err(|e| version_error(e, &file, layout))?;
                let slot = by_version.entry(version.clone()).or_default();
                match kind {
                    SqlxKind::Down => {
                        if let Some(other) = slot.1 {
                            return Err(duplicate_version(&version, dir, &other.name, &entry.name));
                        }
                        slot.1 = Some(entry);
                    }
                    SqlxKind::Simple | SqlxKind::Up => {
                        if let Some(other) = &slot.0 {
                            return Err(duplicate_version(&version, dir, &other.up, &entry.name));
                        }
                        sqlx_reversible |= kind == SqlxKind::Up;
                        slot.0 = Some(Found {
                            version,
                            name: name.to_string(),
                            up: entry.name.clone(),
                            down: None,
                        });
                    }
                }
            }
            for (_, (up, down)) in by_version {
                match (up, down) {
                    (Some(mut up), down) => {
                        if let Some(down) = down {
                            if !up.up.ends_with(".up.sql") {
                                return Err(Error::input(
                                    ErrorCode::DownWithoutUp,
                                    format!(
                                        "`{}` pairs with `{}`, which is not an .up.sql file",
                                        down.name, up.up
                                    ),
                                )
                                .at_path(&dir.join(&down.name))
                                .hint(format!(
                                    "rename `{}` to `{}_{}.up.sql`",
                                    up.up,
                                    up.version.as_str(),
                                    up.name
                                )));
                            }
                            up.down = Some(down.name.clone());
                        }
                        found.push(up);
                    }
                    (None, Some(down)) => {
                        return Err(Error::input(
                            ErrorCode::DownWithoutUp,
                            format!("`{}` has no matching .up.sql", down.name),
                        )
                        .at_path(&dir.join(&down.name))
                        .hint("add the up script, or remove the down script"));
                    }
                    (None, None) => {}
                }
            }
        }
        // Tool layouts are read by `super::format` (see `scan`), never classified by name.
        Layout::Drizzle => {}
        Layout::Dbmate => {}
        Layout::Goose => {}
        Layout::Prisma => {}
        // Classified by their own modules, above.
        Layout::Flyway | Layout::Refinery => {}
    }

    sort_refusing_duplicates(&mut found, dir)?;
    Ok(Classified {
        layout,
        sqlx_reversible,
        found,
    })
}

/// Orders `found` by version, refusing two files of one version (of any spelling that reads
/// as the same number).
pub(crate) fn sort_refusing_duplicates(found: &mut [Found], dir: &Path) -> Result<()> {
    found.sort_by(|a, b| a.version.cmp(&b.version));
    match found
        .windows(2)
        .find(|p| p[0].version.same_key(&p[1].version))
    {
        Some(pair) => Err(duplicate_version(
            &pair[1].version,
            dir,
            &pair[0].up,
            &pair[1].up,
        )),
        None => Ok(()),
    }
}

pub(crate) fn duplicate_version(version: &Version, dir: &Path, first: &str, second: &str) -> Error {
    Error::input(
        ErrorCode::DuplicateVersion,
        format!(
            "version {} is used twice: `{first}` and `{second}`",
            version.as_str()
        ),
    )
    .at_path(dir)
    .hint("give one of them a new version (`cargo migrate new` picks a free one)")
}

/// Reads the migrations in `dir`. A missing directory is an empty set.
pub fn scan(dir: &Path, options: &ScanOptions) -> Result<Migrations> {
    if let Some(pattern) = &options.subfolders {
        return nested::scan(dir, pattern, options);
    }
    let entries = match read_entries(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(Error::input(
                ErrorCode::UnreadableDirectory,
                "the migrations directory is a file, not a directory",
            )
            .at_path(dir)
            .hint("point `dir` in [package.metadata.migrate] (or --dir) at the directory that holds the migrations"));
        }
        Err(err) => {
            return Err(Error::io(
                ErrorCode::UnreadableDirectory,
                "read directory",
                dir,
                &err,
            ));
        }
    };
    // A link that leads nowhere would otherwise be misread as a badly named file.
    if let Some(entry) = entries
        .iter()
        .find(|e| e.broken_link && !is_ignored(&e.entry.name, options))
    {
        return Err(broken_link_error(&dir.join(&entry.entry.name)));
    }
    let entries: Vec<Entry> = entries.into_iter().map(|e| e.entry).collect();
    if let Some(layout) = super::format::detect(dir, &entries, options) {
        return super::format::scan(dir, layout, &entries, options);
    }
    let classified = classify(dir, &entries, options)?;
    let mut migrations = Vec::with_capacity(classified.found.len());
    for found in classified.found {
        migrations.push(match classified.layout {
            Layout::Directory => read_directory_migration(dir, found)?,
            Layout::Drizzle => break,
            Layout::Dbmate => break,
            Layout::Goose => break,
            Layout::Prisma => break,
            Layout::Sqlx | Layout::GolangMigrate => read_sqlx_migration(dir, found)?,
            Layout::Flyway => flyway::read(dir, found)?,
            Layout::Refinery => read_sqlx_migration(dir, found)?,
        });
    }
    Ok(Migrations {
        layout: classified.layout,
        sqlx_reversible: classified.sqlx_reversible,
        migrations,
        nested: false,
    })
}

/// A directory entry as read from disk.
pub(crate) struct ReadEntry {
    pub(crate) entry: Entry,
    /// A symbolic link whose target does not exist or cannot be resolved (a loop).
    pub(crate) broken_link: bool,
}

pub(crate) fn read_entries(dir: &Path) -> std::io::Result<Vec<ReadEntry>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // Follows symlinks: a linked migration directory is a migration directory.
        let target = fs::metadata(&path);
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        entries.push(ReadEntry {
            entry: Entry {
                name: entry.file_name().to_string_lossy().into_owned(),
                is_dir: target.as_ref().is_ok_and(fs::Metadata::is_dir),
            },
            broken_link: is_link && target.is_err(),
        });
    }
    // Directory order is arbitrary; sorting makes errors (which entry is reported) repeatable.
    entries.sort_by(|a, b| a.entry.name.cmp(&b.entry.name));
    Ok(entries)
}

/// A symbolic link that cannot be followed: names where it points and why it fails.
pub(crate) fn broken_link_error(path: &Path) -> Error {
    let target = fs::read_link(path)
        .map(|t| format!(" to `{}`", t.to_string_lossy()))
        .unwrap_or_default();
    let reason = match fs::metadata(path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            "its target does not exist".to_string()
        }
        Err(err) => crate::error::io_reason(&err),
        Ok(_) => "it cannot be followed".to_string(),
    };
    Error::input(
        ErrorCode::UnreadableFile,
        format!("broken symbolic link{target}: {reason}"),
    )
    .at_path(path)
    .hint("fix or remove the link (or list it under `ignore` in [package.metadata.migrate])")
}

fn read_directory_migration(dir: &Path, found: Found) -> Result<Migration> {
    let migration_dir = dir.join(&found.up);
    let up_path = migration_dir.join("up.sql");
    let down_path = migration_dir.join("down.sql");
    let up = read_optional_script(&up_path)?;
    let down = read_optional_script(&down_path)?;
    let Some((up, up_bytes)) = up else {
        let (code, message) = if down.is_some() {
            (ErrorCode::DownWithoutUp, "down.sql has no up.sql beside it")
        } else {
            (ErrorCode::MissingUp, "migration directory has no up.sql")
        };
        return Err(Error::input(code, message)
            .at_path(&migration_dir)
            .hint("add up.sql with the migration's SQL"));
    };
    refuse_empty_up(&up)?;
    let mut no_transaction = has_no_transaction_directive(&up.sql, Layout::Directory);
    let metadata_path = migration_dir.join("metadata.toml");
    if let Some(run_in_transaction) = read_metadata_toml(&metadata_path)? {
        no_transaction |= !run_in_transaction;
    }
    Ok(Migration {
        version: found.version,
        name: found.name,
        checksum: checksum::checksum(&up_bytes),
        created_at: None,
        repeatable: false,
        down_is_empty: down
            .as_ref()
            .is_some_and(|(down, _)| super::is_placeholder_down(&up.sql, &down.sql)),
        up,
        down: down.map(|(script, _)| script),
        no_transaction,
    })
}

fn read_sqlx_migration(dir: &Path, found: Found) -> Result<Migration> {
    let up_path = dir.join(&found.up);
    let (up, up_bytes) = read_script(&up_path)?;
    refuse_empty_up(&up)?;
    if let Some(line) = dbmate_marker_line(&up.sql) {
        // Read as sqlx, the `-- migrate:down` section would run as part of the up.
        return Err(Error::input(
            ErrorCode::UnsupportedLayout,
            "dbmate-style migration (`-- migrate:up` / `-- migrate:down` sections) is not supported yet",
        )
        .at(format!("{}:{line}", display_path(&up_path)))
        .hint("split it into <version>_<name>.up.sql and .down.sql, or <version>_<name>/up.sql and down.sql"));
    }
    let down = match &found.down {
        Some(name) => Some(read_script(&dir.join(name))?.0),
        None => None,
    };
    Ok(Migration {
        no_transaction: has_no_transaction_directive(&up.sql, Layout::Sqlx),
        version: found.version,
        name: found.name,
        checksum: checksum::checksum(&up_bytes),
        created_at: None,
        repeatable: false,
        down_is_empty: down
            .as_ref()
            .is_some_and(|down| super::is_placeholder_down(&up.sql, &down.sql)),
        up,
        down,
    })
}

/// The 1-based line of a dbmate section marker, if the script has one.
fn dbmate_marker_line(sql: &str) -> Option<usize> {
    sql.lines()
        .position(|line| matches!(line.trim_end(), "-- migrate:up" | "-- migrate:down"))
        .map(|index| index + 1)
}

/// Whether `sql` holds nothing at all: only whitespace, a byte order mark and `;`.
///
/// Such an up script is a scaffold nobody filled in (or a file truncated by accident), and
/// applying it would record a migration that did nothing. A script of only comments is
/// accepted: real histories use one as a deliberate no-op that keeps versions aligned across
/// dialects ("-- Integer size in SQLite is already i64, so we don't need to do anything").
pub fn is_empty_script(sql: &str) -> bool {
    sql.chars()
        .all(|c| c.is_whitespace() || c == ';' || c == '\u{feff}')
}

pub(crate) fn refuse_empty_up(up: &Script) -> Result<()> {
    if !is_empty_script(&up.sql) {
        return Ok(());
    }
    let what = if up.sql.is_empty() {
        "the up script is empty"
    } else {
        "the up script holds no SQL (only whitespace and `;`)"
    };
    Err(Error::input(ErrorCode::EmptyMigration, what)
        .at_path(&up.path)
        .hint("write the migration's SQL, or delete the migration; for a deliberate no-op, say why in a comment (e.g. `-- nothing to do on SQLite`)"))
}

pub(crate) fn read_optional_script(path: &Path) -> Result<Option<(Script, Vec<u8>)>> {
    // `symlink_metadata`: a link that leads nowhere is a broken file, not an absent one.
    match fs::symlink_metadata(path) {
        Ok(_) => read_script(path).map(Some),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        // Anything else (a migration directory without permission to look in) is not
        // "there is no up.sql": say what stopped us.
        Err(err) => {
            let dir = path.parent().unwrap_or(path);
            Err(Error::io(
                ErrorCode::UnreadableDirectory,
                "read the migration directory",
                dir,
                &err,
            ))
        }
    }
}

/// Reads a script; refuses anything that is not UTF-8, naming the line of the first bad byte.
pub(crate) fn read_script(path: &Path) -> Result<(Script, Vec<u8>)> {
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            return Err(Error::input(
                ErrorCode::UnreadableFile,
                "expected a SQL file, found a directory",
            )
            .at_path(path)
            .hint("a migration's scripts are files: move the directory away and write the SQL in a file of this name"));
        }
        Err(_) if fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink()) => {
            return Err(broken_link_error(path));
        }
        _ => {}
    }
    let bytes =
        fs::read(path).map_err(|e| Error::io(ErrorCode::UnreadableFile, "read file", path, &e))?;
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        // Windows editors' "Unicode": every other byte is 0, which UTF-8 would reject at 1:1
        // with a misleading hint.
        return Err(Error::input(
            ErrorCode::NonUtf8Sql,
            "SQL file is UTF-16 (it starts with a UTF-16 byte order mark), not UTF-8",
        )
        .at(format!("{}:1:1", display_path(path)))
        .hint("re-save the file as UTF-8 (for example `iconv -f utf-16 -t utf-8`)"));
    }
    if let Some(error) = nul_byte_error(path, &bytes) {
        return Err(error);
    }
    let sql = match std::str::from_utf8(&bytes) {
        Ok(sql) => sql.to_string(),
        Err(err) => {
            let valid = &bytes[..err.valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let column =
                valid.len() - valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) + 1;
            return Err(
                Error::input(ErrorCode::NonUtf8Sql, "SQL file is not valid UTF-8")
                    .at(format!("{}:{line}:{column}", display_path(path)))
                    .hint("re-save the file as UTF-8 (for example `iconv -f latin1 -t utf-8`)"),
            );
        }
    };
    Ok((
        Script {
            path: path.to_path_buf(),
            sql,
        },
        bytes,
    ))
}

/// The error for a script holding a NUL byte, if it does. NUL is valid UTF-8 but no SQL: the
/// databases stop reading a statement at it (SQLite then makes no progress through the rest of
/// the script, forever; PostgreSQL breaks the protocol message), so it is refused when the set is
/// read. A file of NULs every other byte is UTF-16 saved without a byte order mark.
fn nul_byte_error(path: &Path, bytes: &[u8]) -> Option<Error> {
    // `contains` on bytes is a memchr: cheap on the large scripts that have none.
    if !bytes.contains(&0) {
        return None;
    }
    let offset = bytes.iter().position(|&byte| byte == 0)?;
    let head = &bytes[..bytes.len().min(64)];
    let zeros_at = |parity: usize| {
        head.iter()
            .enumerate()
            .filter(|(index, _)| index % 2 == parity)
            .all(|(_, &byte)| byte == 0)
    };
    if head.len() >= 2 && (zeros_at(0) || zeros_at(1)) {
        return Some(
            Error::input(
                ErrorCode::NonUtf8Sql,
                "SQL file is UTF-16 (every other byte is 0; it has no byte order mark), not UTF-8",
            )
            .at(format!("{}:1:1", display_path(path)))
            .hint("re-save the file as UTF-8 (for example `iconv -f utf-16le -t utf-8`)"),
        );
    }
    let before = &bytes[..offset];
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Some(
        Error::input(
            ErrorCode::NulByteInSql,
            format!("SQL file holds a NUL byte (at byte offset {offset})"),
        )
        .at(format!("{}:{line}:{column}", display_path(path)))
        .hint("remove it: a NUL byte is never part of SQL (is the file binary, or damaged by a tool?)"),
    )
}

/// diesel's `metadata.toml`: `run_in_transaction = false`. Returns that setting if present.
fn read_metadata_toml(path: &Path) -> Result<Option<bool>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(Error::io(
                ErrorCode::UnreadableFile,
                "read file",
                path,
                &err,
            ));
        }
    };
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct MigrationMetadata {
        run_in_transaction: Option<bool>,
    }
    let metadata: MigrationMetadata = toml::from_str(&text).map_err(|err| {
        Error::input(
            ErrorCode::BadMetadataToml,
            format!("invalid metadata.toml: {}", first_line(err.message())),
        )
        .at(toml_location(path, &text, err.span()))
        .hint("the only setting is `run_in_transaction = false`")
    })?;
    Ok(metadata.run_in_transaction)
}

/// `path:line:col` for a byte span of a TOML document.
pub(crate) fn toml_location(
    path: &Path,
    text: &str,
    span: Option<std::ops::Range<usize>>,
) -> String {
    match span {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{}:{line}:{column}", display_path(path))
        }
        None => display_path(path),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(names: &[&str]) -> Vec<Entry> {
        names
            .iter()
            .map(|n| Entry {
                name: n.trim_end_matches('/').to_string(),
                is_dir: n.ends_with('/'),
            })
            .collect()
    }

    fn classify_names(names: &[&str]) -> Result<Classified> {
        classify(
            Path::new("migrations"),
            &entries(names),
            &ScanOptions::default(),
        )
    }

    fn versions(classified: &Classified) -> Vec<&str> {
        classified
            .found
            .iter()
            .map(|f| f.version.as_str())
            .collect()
    }

    #[test]
    fn directory_layout_in_diesel_order() {
        let c = classify_names(&[
            "20260120162913_new/",
            "2025-11-19-091444-0000_dashed/",
            "00000000000000_diesel_initial_setup/",
            "2019-11-15-182353_Add email notifications/",
            "README.md",
            ".keep",
        ])
        .unwrap();
        assert_eq!(c.layout, Layout::Directory);
        assert_eq!(
            versions(&c),
            [
                "00000000000000",
                "2019-11-15-182353",
                "2025-11-19-091444-0000",
                "20260120162913"
            ]
        );
        assert_eq!(c.found[1].name, "Add email notifications");
    }

    #[test]
    fn sqlx_layout_pairs_up_and_down_and_orders_numerically() {
        let c = classify_names(&[
            "10_ten.up.sql",
            "10_ten.down.sql",
            "9_nine.sql",
            "0011_eleven.sql",
        ])
        .unwrap();
        assert_eq!(c.layout, Layout::Sqlx);
        assert!(c.sqlx_reversible);
        assert_eq!(versions(&c), ["9", "10", "0011"]);
        assert_eq!(c.found[1].down.as_deref(), Some("10_ten.down.sql"));
    }

    #[test]
    fn mixed_layouts_name_the_odd_files() {
        let err = classify_names(&["1_a/", "2_b/", "3_c.sql"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::MixedLayout);
        assert!(
            err.message.contains("mostly directory-style"),
            "{}",
            err.message
        );
        assert!(err.message.ends_with("3_c.sql"), "{}", err.message);
    }

    #[test]
    fn duplicate_versions_under_the_layout_rule() {
        let err = classify_names(&["1_a.sql", "0001_b.sql"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::DuplicateVersion);
        let err = classify_names(&["2024-01-01-000000_a/", "20240101000000_b/"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::DuplicateVersion);
        let err = classify_names(&["1_a.sql", "1_a.up.sql"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::DuplicateVersion);
    }

    #[test]
    fn down_without_up_in_sqlx_layout() {
        let err = classify_names(&["1_a.up.sql", "2_b.down.sql"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::DownWithoutUp);
        assert!(err.message.contains("2_b.down.sql"));
    }

    #[test]
    fn unparsable_names_are_errors_naming_the_pattern() {
        let err = classify_names(&["1_a/", "schema.sql"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadMigrationName);
        assert_eq!(err.location.as_deref(), Some("migrations/schema.sql"));
        assert!(err.hint.unwrap().contains("<version>_<name>/"));
        let err = classify_names(&["v1_a/"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadMigrationName);
        let err = classify_names(&["2024--01_a/"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadMigrationName);
    }

    /// Flyway names: detected, ordered part by part, undo paired; mixed with another tool's
    /// names, the error names the closest formats and the setting (the --config file in
    /// `--dir` mode).
    #[test]
    fn flyway_sets_and_near_misses() {
        let c = classify_names(&[
            "V1_12_2__b.sql",
            "V1_12_15__c.sql",
            "V1__a.sql",
            "U1_12_15__c.sql",
            "V1_12_15__c.sql.conf",
        ])
        .unwrap();
        assert_eq!(c.layout, Layout::Flyway);
        assert_eq!(versions(&c), ["1", "1_12_2", "1_12_15"]);
        assert_eq!(c.found[2].down.as_deref(), Some("U1_12_15__c.sql"));
        let err = classify_names(&["V1__a.sql", "V2__b.sql", "3_c.sql"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadMigrationName);
        let hint = err.hint.unwrap();
        assert!(hint.contains("flyway (2 of 3), sqlx (1 of 3)"), "{hint}");
        assert!(
            hint.contains("`layout = \"flyway\"` in [package.metadata.migrate]"),
            "{hint}"
        );
        let options = ScanOptions {
            dir_mode: true,
            ..Default::default()
        };
        let err = classify(Path::new("m"), &entries(&["0/", "1/"]), &options).unwrap_err();
        let hint = err.hint.unwrap();
        assert!(!hint.contains("[package.metadata.migrate]"), "{hint}");
        assert!(hint.contains("in the --config file"), "{hint}");
        assert!(hint.contains("Numbered sub-folders"), "{hint}");
        let err = classify_names(&["V1__a.sql", "U2__b.sql"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::DownWithoutUp);
        let err = classify_names(&["V1__a.sql", "V1.0__b.sql"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::DuplicateVersion);
        // Repeatable scripts come after every versioned one.
        let set = classify_names(&["R__views.sql", "V2__b.sql", "V1__a.sql"]).unwrap();
        let order: Vec<&str> = set.found.iter().map(|f| f.up.as_str()).collect();
        assert_eq!(order, ["V1__a.sql", "V2__b.sql", "R__views.sql"]);
    }

    #[test]
    fn ignore_patterns_skip_files() {
        let options = ScanOptions {
            ignore: vec!["data_*.sql".into()],
            ..Default::default()
        };
        let c = classify(
            Path::new("m"),
            &entries(&["1_a/", "data_oauth_github.sql"]),
            &options,
        )
        .unwrap();
        assert_eq!(c.found.len(), 1);
    }

    #[test]
    fn empty_set_takes_the_default_layout() {
        let c = classify_names(&[]).unwrap();
        assert_eq!(c.layout, Layout::Directory);
        let options = ScanOptions {
            default_layout: Some(Layout::Sqlx),
            ..Default::default()
        };
        assert_eq!(
            classify(Path::new("m"), &[], &options).unwrap().layout,
            Layout::Sqlx
        );
    }

    #[test]
    fn dbmate_markers_are_found() {
        assert_eq!(
            dbmate_marker_line("-- migrate:up\ncreate table a();\n-- migrate:down\n"),
            Some(1)
        );
        assert_eq!(
            dbmate_marker_line("select 1;\n-- migrate:no-transaction\n"),
            None
        );
    }

    #[test]
    fn empty_scripts_have_nothing_but_whitespace_and_semicolons() {
        assert!(is_empty_script(""));
        assert!(is_empty_script("\u{feff}\n ;\r\n\t;;"));
        assert!(!is_empty_script("-- nothing to do on SQLite\n"));
        assert!(!is_empty_script("/* kept for version parity */"));
        assert!(!is_empty_script("SELECT 1"));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.txt", "notes.txt"));
        assert!(wildcard_match("data_*", "data_x.sql"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b", "ac"));
        assert!(wildcard_match("exact", "exact"));
        assert!(!wildcard_match("exact", "exactly"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("**", "x"));
        assert!(!wildcard_match("", "x"));
        assert!(wildcard_match("a*", "a"));
        assert!(wildcard_match("*é*", "café.sql"));
        assert!(wildcard_match("caf*.sql", "café.sql"));
        assert!(!wildcard_match("*é", "cafe"));
        assert!(wildcard_match("*ab*ab", "xabyabab"));
        assert!(!wildcard_match("*ab*abc", "xabyabab"));
    }

    /// Found by fuzzing (`fuzz/fuzz_targets/file_name.rs`): a pattern with many `*` took time
    /// exponential in their number (this one would not finish).
    #[test]
    fn wildcards_with_many_stars_are_fast() {
        let name = "a".repeat(200);
        let pattern = "*a".repeat(40) + "*b";
        assert!(!wildcard_match(&pattern, &name));
        assert!(wildcard_match(&"*a".repeat(40), &name));
        let stars = "data_".to_string() + &"*".repeat(100) + ".sql";
        assert!(wildcard_match(&stars, "data_oauth_github.sql"));
        assert!(!wildcard_match(&stars, &"data_x".repeat(50)));
    }
}
