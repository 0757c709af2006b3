//! The SQL statement splitter, in every dialect, and the position helpers beside it.
//!
//! Input: any bytes, read as UTF-8 (invalid sequences replaced, as a script that passed
//! `read_script` is always UTF-8).
//!
//! Invariants, for each dialect:
//! - `split` never panics;
//! - every statement is non-empty, is the slice of the script at its `offset`, starts and ends
//!   with a token (no surrounding whitespace, no leading comment), sits at its reported
//!   line/column, and starts at or after the end of the previous one;
//! - what lies between statements (and before the first, after the last) tokenizes to
//!   whitespace, comments and `;` only, so no SQL is lost;
//! - an error's line/column is inside the script;
//! - `line_column_of_char_position` stays within the text, is monotonic, and agrees with
//!   `line_column_of_byte_offset`;
//! - `has_no_transaction_directive` never panics, and a directive honoured in a directory set
//!   is honoured in a sqlx set.

#![no_main]

use cargo_migrate::dialect::Dialect;
use cargo_migrate::migration::Layout;
use cargo_migrate::migration::has_no_transaction_directive;
use cargo_migrate::migration::split::{
    Statement, line_column_of_byte_offset, line_column_of_char_position, split,
};
use libfuzzer_sys::fuzz_target;
use sqlparser::dialect::{
    Dialect as TokenizerDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect,
};
use sqlparser::tokenizer::{Token, Tokenizer};

fuzz_target!(|data: &[u8]| {
    let sql = String::from_utf8_lossy(data);
    let sql = sql.as_ref();
    for dialect in Dialect::ALL {
        match split(sql, dialect) {
            Ok(statements) => check_statements(sql, dialect, &statements),
            Err(error) => {
                assert!(!error.message.is_empty());
                assert_within(sql, (error.line, error.column), "error position");
            }
        }
    }
    check_positions(sql);
    let directory = has_no_transaction_directive(sql, Layout::Directory);
    let sqlx = has_no_transaction_directive(sql, Layout::Sqlx);
    assert!(!directory || sqlx);
    if sqlx {
        assert!(sql.trim_start_matches('\u{feff}').starts_with("-- "));
    }
});

fn check_statements(sql: &str, dialect: Dialect, statements: &[Statement<'_>]) {
    let mut previous_end = 0;
    for statement in statements {
        let Statement {
            text,
            offset,
            line,
            column,
            ..
        } = *statement;
        assert!(!text.is_empty(), "{dialect}: empty statement");
        assert_eq!(
            sql.get(offset..offset + text.len()),
            Some(text),
            "{dialect}: statement is not the script's text at its offset"
        );
        assert!(
            !text.starts_with(|c: char| c.is_ascii_whitespace())
                && !text.ends_with(|c: char| c.is_ascii_whitespace())
                && !starts_with_comment(&sql[offset..], dialect),
            "{dialect}: statement not trimmed to its tokens: {text:?}"
        );
        assert_eq!(
            (line, column),
            line_column_of_byte_offset(sql, offset),
            "{dialect}: position of {text:?}"
        );
        assert!(offset >= previous_end, "{dialect}: statements overlap");
        assert_only_separators(sql, previous_end, offset, dialect, false);
        previous_end = offset + text.len();
    }
    assert_only_separators(sql, previous_end, sql.len(), dialect, true);
}

/// Whether `text` starts with a comment in `dialect` (as sqlparser reads it).
fn starts_with_comment(text: &str, dialect: Dialect) -> bool {
    let mysql = dialect == Dialect::Mysql;
    // MySQL executes `/*!...*/`; its `--` is a comment only before whitespace or the end.
    (text.starts_with("/*") && !(mysql && text.starts_with("/*!")))
        || text
            .strip_prefix("--")
            .is_some_and(|rest| !mysql || rest.chars().next().is_none_or(char::is_whitespace))
        || (mysql && text.starts_with('#'))
}

/// What lies between two statements tokenizes to whitespace (comments included) and `;` only.
fn assert_only_separators(sql: &str, from: usize, to: usize, dialect: Dialect, last: bool) {
    let mut gap = &sql[from..to];
    if last && dialect == Dialect::Mysql {
        // A final `--` is a comment for MySQL, two minus signs for sqlparser.
        gap = gap.strip_suffix("--").unwrap_or(gap);
    }
    let postgres = PostgreSqlDialect {};
    let sqlite = SQLiteDialect {};
    let mysql = MySqlDialect {};
    let tokenizer_dialect: &dyn TokenizerDialect = match dialect {
        Dialect::Postgres => &postgres,
        Dialect::Sqlite => &sqlite,
        Dialect::Mysql => &mysql,
    };
    match Tokenizer::new(tokenizer_dialect, gap).tokenize() {
        Ok(tokens) => assert!(
            tokens
                .iter()
                .all(|token| matches!(token, Token::Whitespace(_) | Token::SemiColon)),
            "{dialect}: not only separators between statements: {gap:?}"
        ),
        // SQLite's block comment may run to the end of the script; sqlparser wants `*/`.
        Err(error) => assert!(
            last && dialect == Dialect::Sqlite && gap.contains("/*"),
            "{dialect}: gap between statements does not tokenize ({error}): {gap:?}"
        ),
    }
}

/// (line, column) is a position in `text`: an existing line, at most one past its last
/// character.
fn assert_within(text: &str, (line, column): (usize, usize), what: &str) {
    assert!(line >= 1 && column >= 1, "{what}: ({line}, {column})");
    let line_text = text
        .split('\n')
        .nth(line - 1)
        .unwrap_or_else(|| panic!("{what}: line {line} past the end"));
    assert!(
        column <= line_text.chars().count() + 1,
        "{what}: column {column} past the end of line {line}"
    );
}

fn check_positions(text: &str) {
    let characters = text.chars().count();
    let mut samples = vec![
        0,
        1,
        2,
        characters / 2,
        characters,
        characters + 1,
        characters + 7,
    ];
    samples.extend(
        text.match_indices('\n')
            .take(8)
            .map(|(offset, _)| text[..offset].chars().count() + 1),
    );
    samples.push(usize::MAX);
    samples.sort_unstable();
    let mut previous = (1, 1);
    for position in samples {
        let found = line_column_of_char_position(text, position);
        assert_within(text, found, "line_column_of_char_position");
        assert!(found >= previous, "not monotonic at {position}");
        previous = found;
        // The position-th character (1-based) starts at this byte offset.
        let offset = text
            .char_indices()
            .nth(position.max(1) - 1)
            .map_or(text.len(), |(offset, _)| offset);
        assert_eq!(found, line_column_of_byte_offset(text, offset));
    }
    // Byte offsets inside a character round down to its start.
    for offset in [
        1,
        2,
        3,
        text.len() / 2,
        text.len().saturating_sub(1),
        text.len() + 3,
    ] {
        let found = line_column_of_byte_offset(text, offset);
        assert_within(text, found, "line_column_of_byte_offset");
        assert_eq!(
            found,
            line_column_of_byte_offset(text, text.floor_char_boundary(offset))
        );
    }
}
