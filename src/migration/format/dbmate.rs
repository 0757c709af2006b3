//! dbmate folders: `<version>_<name>.sql`, each file holding a `-- migrate:up` section and an
//! optional `-- migrate:down` section; a marker may carry options (`transaction:false`).
//! dbmate's history is `schema_migrations(version)`.

use std::path::Path;

use super::super::layout::{
    Entry, Layout, ScanOptions, duplicate_version, is_ignored, read_script, refuse_empty_up,
    split_version, version_error,
};
use super::super::version::Version;
use super::super::{Migration, checksum, is_placeholder_down};
use super::{lines, section};
use crate::error::{Error, ErrorCode, Result, display_path};

/// Which marker a line is, with its options, as dbmate reads it: `--`, optional spaces,
/// `migrate:up` or `migrate:down`, then nothing or whitespace-separated `key:value` options.
fn marker(line: &str) -> Option<(bool, &str)> {
    let rest = line.strip_prefix("--")?.trim_start();
    let (up, rest) = if let Some(rest) = rest.strip_prefix("migrate:up") {
        (true, rest)
    } else if let Some(rest) = rest.strip_prefix("migrate:down") {
        (false, rest)
    } else {
        return None;
    };
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some((up, rest.trim()))
}

pub fn has_markers(text: &str) -> bool {
    text.lines()
        .any(|line| marker(line).is_some_and(|(up, _)| up))
}

/// Whether a marker's options turn the transaction off.
fn transaction_off(options: &str) -> bool {
    options
        .split_whitespace()
        .any(|option| option == "transaction:false")
}

/// The file split into its sections.
#[derive(Debug, PartialEq, Eq)]
pub struct Sections {
    /// Byte range of the up section (after its marker line).
    pub up: (usize, usize),
    pub down: Option<(usize, usize)>,
    pub up_no_transaction: bool,
}

/// Splits a dbmate file; an error names the 1-based line and what is wrong.
pub fn sections(text: &str) -> std::result::Result<Sections, (usize, String)> {
    let mut up: Option<(usize, bool)> = None;
    let mut down: Option<(usize, usize)> = None;
    let mut up_end = None;
    for (index, (start, line, next)) in lines(text).enumerate() {
        let line_no = index + 1;
        match marker(line) {
            Some((true, options)) => {
                if up.is_some() {
                    return Err((line_no, "a second `-- migrate:up` marker".into()));
                }
                if down.is_some() {
                    return Err((line_no, "`-- migrate:up` after `-- migrate:down`".into()));
                }
                up = Some((next, transaction_off(options)));
            }
            Some((false, _)) => {
                if up.is_none() {
                    return Err((line_no, "`-- migrate:down` before `-- migrate:up`".into()));
                }
                if down.is_some() {
                    return Err((line_no, "a second `-- migrate:down` marker".into()));
                }
                up_end = Some(start);
                down = Some((next, text.len()));
            }
            None if up.is_none() => {
                // dbmate refuses statements outside the sections.
                let trimmed = line.trim();
                if !trimmed.is_empty() && !trimmed.starts_with("--") {
                    return Err((
                        line_no,
                        "SQL before the `-- migrate:up` marker (dbmate runs only what is in its sections)"
                            .into(),
                    ));
                }
            }
            None => {}
        }
    }
    let Some((up_start, up_no_transaction)) = up else {
        return Err((1, "no `-- migrate:up` marker".into()));
    };
    Ok(Sections {
        up: (up_start, up_end.unwrap_or(text.len())),
        down,
        up_no_transaction,
    })
}

pub fn scan(dir: &Path, entries: &[Entry], options: &ScanOptions) -> Result<Vec<Migration>> {
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
                format!("`{}` is not a dbmate migration file name", entry.name),
            )
            .at_path(&path)
            .hint(format!(
                "expected {}; or list it under `ignore` in [package.metadata.migrate]",
                Layout::Dbmate.expected_pattern()
            )));
        };
        let version = Version::parse(version, Layout::Dbmate.version_order())
            .map_err(|e| version_error(e, &path, Layout::Dbmate))?;
        migrations.push(read(&path, version, name)?);
    }
    migrations.sort_by(|a, b| a.version.cmp(&b.version));
    if let Some(pair) = migrations
        .windows(2)
        .find(|p| p[0].version.same_key(&p[1].version))
    {
        return Err(duplicate_version(
            &pair[1].version,
            dir,
            &file_name(&pair[0].up.path),
            &file_name(&pair[1].up.path),
        ));
    }
    Ok(migrations)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read(path: &Path, version: Version, name: &str) -> Result<Migration> {
    let (file, _) = read_script(path)?;
    let text = file.sql.as_str();
    let parts = sections(text).map_err(|(line, what)| {
        Error::input(
            ErrorCode::BadToolMetadata,
            format!("dbmate migration: {what}"),
        )
        .at(format!("{}:{line}", display_path(path)))
        .hint("a dbmate file is `-- migrate:up`, its SQL, then optionally `-- migrate:down` and the SQL that reverts it")
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
        no_transaction: parts.up_no_transaction,
        created_at: None,
    })
}

/// `new`: one file with both sections (dbmate's own scaffold has them, empty).
pub fn scaffold(
    dir: &Path,
    stem: &str,
    up: &str,
    down: Option<&str>,
    no_transaction: bool,
) -> super::Planned {
    let options = if no_transaction {
        " transaction:false"
    } else {
        ""
    };
    let mut text = format!("-- migrate:up{options}\n{}", super::without_directive(up));
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("\n-- migrate:down{options}\n"));
    if let Some(down) = down {
        text.push_str(&super::without_directive(down));
    }
    (None, vec![(dir.join(format!("{stem}.sql")), text)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_as_dbmate_reads_them() {
        let text = "-- header comment\n--migrate:up transaction:false\ncreate index concurrently i on t (a);\n-- migrate:down\ndrop index i;\n";
        let s = sections(text).unwrap();
        assert!(s.up_no_transaction);
        assert_eq!(
            &text[s.up.0..s.up.1],
            "create index concurrently i on t (a);\n"
        );
        assert_eq!(&text[s.down.unwrap().0..], "drop index i;\n");
        // (file, error line)
        let bad: &[(&str, usize)] = &[
            ("create table a ();\n", 1),
            ("select 1;\n-- migrate:up\n", 1),
            ("-- migrate:down\n-- migrate:up\n", 1),
            ("-- migrate:up\n-- migrate:down\n-- migrate:down\n", 3),
            ("-- migrate:up\n-- migrate:up\n", 2),
        ];
        for (text, line) in bad {
            assert_eq!(sections(text).unwrap_err().0, *line, "{text:?}");
        }
        assert!(!has_markers("-- migrate:upgrade\n"));
        assert!(has_markers("-- migrate:up\n"));
        assert!(!has_markers("-- migrate:no-transaction\n"));
    }
}
