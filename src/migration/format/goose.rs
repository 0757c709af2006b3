//! goose folders: `<version>_<name>.sql` with `-- +goose Up` and `-- +goose Down` sections,
//! `-- +goose StatementBegin` / `StatementEnd` around statements that hold `;`, and
//! `-- +goose NO TRANSACTION`. Versions are integers, ordered numerically. goose's history is
//! `goose_db_version(id, version_id, is_applied, tstamp)`.

use std::path::Path;

use super::super::Migration;
use super::super::layout::{Entry, Layout, ScanOptions, is_ignored};
use super::super::version::Version;
use super::lines;
use crate::error::{Error, ErrorCode, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Annotation {
    Up,
    Down,
    StatementBegin,
    StatementEnd,
    NoTransaction,
    /// `ENVSUB ON/OFF` and anything newer: not something we can honour.
    Other,
}

/// The annotation a line is, as goose reads it (`-- +goose` then the command).
fn annotation(line: &str) -> Option<Annotation> {
    let command = line.trim().strip_prefix("-- +goose")?;
    if !command.is_empty() && !command.starts_with(char::is_whitespace) {
        return None;
    }
    let command = command.trim().to_ascii_lowercase();
    Some(match command.as_str() {
        "up" => Annotation::Up,
        "down" => Annotation::Down,
        "statementbegin" => Annotation::StatementBegin,
        "statementend" => Annotation::StatementEnd,
        "no transaction" => Annotation::NoTransaction,
        _ => Annotation::Other,
    })
}

pub fn has_markers(text: &str) -> bool {
    text.lines()
        .any(|line| annotation(line) == Some(Annotation::Up))
}

pub fn sections(text: &str) -> std::result::Result<super::Sections, (usize, String)> {
    let mut up: Option<usize> = None;
    let mut up_end = None;
    let mut down: Option<usize> = None;
    let mut no_transaction = false;
    let mut in_statement: Option<usize> = None;
    for (index, (start, line, next)) in lines(text).enumerate() {
        let line_no = index + 1;
        match annotation(line) {
            Some(Annotation::Up) => {
                if up.is_some() || down.is_some() {
                    return Err((line_no, "a second section marker `-- +goose Up`".into()));
                }
                up = Some(next);
            }
            Some(Annotation::Down) => {
                if up.is_none() {
                    return Err((line_no, "`-- +goose Down` before `-- +goose Up`".into()));
                }
                if down.is_some() {
                    return Err((line_no, "a second `-- +goose Down`".into()));
                }
                if in_statement.is_some() {
                    return Err((line_no, "`-- +goose Down` inside StatementBegin/End".into()));
                }
                up_end = Some(start);
                down = Some(next);
            }
            Some(Annotation::StatementBegin) => {
                if in_statement.is_some() {
                    return Err((line_no, "StatementBegin inside StatementBegin".into()));
                }
                in_statement = Some(line_no);
            }
            Some(Annotation::StatementEnd) if in_statement.take().is_none() => {
                return Err((line_no, "StatementEnd without StatementBegin".into()));
            }
            Some(Annotation::StatementEnd) => {}
            Some(Annotation::NoTransaction) => no_transaction = true,
            Some(Annotation::Other) => {
                return Err((
                    line_no,
                    format!("unsupported goose annotation `{}`", line.trim()),
                ));
            }
            None if up.is_none() => {
                let trimmed = line.trim();
                if !trimmed.is_empty() && !trimmed.starts_with("--") {
                    return Err((
                        line_no,
                        "SQL before `-- +goose Up` (goose runs only what is in its sections)"
                            .into(),
                    ));
                }
            }
            None => {}
        }
    }
    if let Some(line) = in_statement {
        return Err((line, "StatementBegin without StatementEnd".into()));
    }
    let Some(up) = up else {
        return Err((1, "no `-- +goose Up` annotation".into()));
    };
    Ok(super::Sections {
        up: (up, up_end.unwrap_or(text.len())),
        down: down.map(|start| (start, text.len())),
        no_transaction,
    })
}

pub fn scan(dir: &Path, entries: &[Entry], options: &ScanOptions) -> Result<Vec<Migration>> {
    if let Some(go) = entries
        .iter()
        .find(|e| !e.is_dir && e.name.ends_with(".go") && !is_ignored(&e.name, options))
    {
        return Err(Error::input(
            ErrorCode::UnsupportedLayout,
            format!("`{}` is a Go migration, which only goose can run", go.name),
        )
        .at_path(&dir.join(&go.name))
        .hint("rewrite it as SQL, or list it under `ignore` in [package.metadata.migrate] and run it with goose"));
    }
    super::scan_section_files(dir, entries, options, Layout::Goose, read)
}

fn read(path: &Path, version: Version, name: &str) -> Result<Migration> {
    super::section_migration(
        path,
        version,
        name,
        sections,
        "goose",
        "a goose file is `-- +goose Up`, its SQL, then optionally `-- +goose Down` and the SQL that reverts it",
    )
}

/// `new`: one file with both sections, statements wrapped as goose's own scaffold does.
pub fn scaffold(
    dir: &Path,
    stem: &str,
    up: &str,
    down: Option<&str>,
    no_transaction: bool,
) -> super::Planned {
    let mut text = String::new();
    if no_transaction {
        text.push_str("-- +goose NO TRANSACTION\n");
    }
    text.push_str("-- +goose Up\n-- +goose StatementBegin\n");
    text.push_str(super::without_directive(up).trim_end());
    text.push_str("\n-- +goose StatementEnd\n\n-- +goose Down\n-- +goose StatementBegin\n");
    if let Some(down) = down {
        text.push_str(super::without_directive(down).trim_end());
        text.push('\n');
    }
    text.push_str("-- +goose StatementEnd\n");
    (None, vec![(dir.join(format!("{stem}.sql")), text)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_as_goose_reads_them() {
        let text = "-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\ncreate function f() returns int as $$ select 1; $$ language sql;\n-- +goose StatementEnd\n-- +goose Down\ndrop function f;\n";
        let s = sections(text).unwrap();
        assert!(s.no_transaction);
        assert!(text[s.up.0..s.up.1].contains("create function"));
        assert!(!text[s.up.0..s.up.1].contains("drop function"));
        assert_eq!(&text[s.down.unwrap().0..], "drop function f;\n");
        let bad: &[(&str, usize)] = &[
            ("create table a ();\n", 1),
            ("select 1;\n-- +goose Up\n", 1),
            ("-- +goose Down\n", 1),
            ("-- +goose Up\n-- +goose StatementBegin\nselect 1;\n", 2),
            ("-- +goose Up\n-- +goose StatementEnd\n", 2),
            ("-- +goose Up\n-- +goose ENVSUB ON\n", 2),
        ];
        for (text, line) in bad {
            assert_eq!(sections(text).unwrap_err().0, *line, "{text:?}");
        }
        assert!(has_markers("-- +goose up\n"));
        assert!(!has_markers("-- +gooseUp\n"));
    }
}
