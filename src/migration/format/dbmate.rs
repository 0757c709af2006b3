//! dbmate folders: `<version>_<name>.sql`, each file holding a `-- migrate:up` section and an
//! optional `-- migrate:down` section; a marker may carry options (`transaction:false`).
//! dbmate's history is `schema_migrations(version)`.

use std::path::Path;

use super::super::Migration;
use super::super::layout::{Entry, Layout, ScanOptions};
use super::super::version::Version;
use super::lines;
use crate::error::Result;

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

/// Splits a dbmate file; an error names the 1-based line and what is wrong.
pub fn sections(text: &str) -> std::result::Result<super::Sections, (usize, String)> {
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
    let Some((up_start, no_transaction)) = up else {
        return Err((1, "no `-- migrate:up` marker".into()));
    };
    Ok(super::Sections {
        up: (up_start, up_end.unwrap_or(text.len())),
        down,
        no_transaction,
    })
}

pub fn scan(dir: &Path, entries: &[Entry], options: &ScanOptions) -> Result<Vec<Migration>> {
    super::scan_section_files(dir, entries, options, Layout::Dbmate, read)
}

fn read(path: &Path, version: Version, name: &str) -> Result<Migration> {
    super::section_migration(
        path,
        version,
        name,
        sections,
        "dbmate",
        "a dbmate file is `-- migrate:up`, its SQL, then optionally `-- migrate:down` and the SQL that reverts it",
    )
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
        assert!(s.no_transaction);
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
