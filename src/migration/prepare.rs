//! Checking a script before anything of a run executes, and deciding what is sent for it.
//!
//! A transactional migration runs in one transaction with its history row: applied and
//! recorded, or neither. Transaction control in its script would break that (a `COMMIT`
//! half-way makes what comes before permanent while the history says nothing ran; on SQLite a
//! `BEGIN` inside our transaction fails), so it is refused here, before the run starts, except
//! for the common case of a script wrapped whole in one `BEGIN; … COMMIT;` (hand-written and
//! Flyway-style files), which runs with the wrapper blanked out. A script the tokenizer cannot
//! read (an unterminated string, dollar quote or comment) is refused too: sent as it is, it would
//! swallow the history statement that follows it.

use std::borrow::Cow;
use std::ops::ControlFlow;

use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, display_path};
use crate::migration::split::{self, Control, Statement};

/// Why a script may not run, located in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    /// 1-based line and column (in characters) in the script.
    pub line: usize,
    pub column: usize,
    pub hint: String,
}

impl Refusal {
    /// The refusal as an error pointing at `path:line:col` (exit 2: the file needs fixing).
    pub fn error(&self, path: &std::path::Path) -> Error {
        Error::input(self.code, self.message.clone())
            .at(format!(
                "{}:{}:{}",
                display_path(path),
                self.line,
                self.column
            ))
            .hint(self.hint.clone())
    }
}

/// A checked script: what to send for it, and where its statements start.
#[derive(Debug, Clone, Default)]
pub struct Prepared<'a> {
    /// The script itself, or, for a transactional script wrapped whole in `BEGIN; … COMMIT;`,
    /// the script with the wrapper's statements blanked (each character but newlines becomes a
    /// space, so lines, columns and PostgreSQL's character positions still point into the file).
    pub sql: Cow<'a, str>,
    /// Byte offset in `sql` of each statement, in order: the database counts the statements
    /// that completed, and this names the one that failed without splitting the script again.
    starts: Vec<usize>,
}

impl Prepared<'_> {
    /// Line and column where the statement at `index` (0-based) of `sql` starts; `None` past
    /// the last statement.
    pub fn statement_position(&self, index: usize) -> Option<(usize, usize)> {
        let offset = *self.starts.get(index)?;
        Some(split::line_column_of_byte_offset(&self.sql, offset))
    }

    /// `sql` cut at statement starts into pieces of at least `size` bytes (the last may be
    /// shorter), which run one after the other as the whole would. SQLite copies the rest of
    /// the text it was given at every statement it prepares, so a large script sent whole
    /// costs time in the square of its size; in pieces, in proportion to it.
    pub fn batches(&self, size: usize) -> Vec<&str> {
        let mut batches = Vec::new();
        let mut from = 0;
        for &start in &self.starts {
            if start - from >= size {
                batches.push(&self.sql[from..start]);
                from = start;
            }
        }
        batches.push(&self.sql[from..]);
        batches
    }
}

/// Checks `sql`, a script of `dialect` that runs in a transaction (`transactional`) or
/// statement by statement, and says what to send for it (see [`Prepared`]).
///
/// # Errors
///
/// A [`Refusal`] when the script cannot be split into statements, or when a transactional
/// script holds transaction control other than a whole-script wrapper.
pub fn prepare(sql: &str, dialect: Dialect, transactional: bool) -> Result<Prepared<'_>, Refusal> {
    let mut starts = Vec::new();
    // The transaction control statements: few, so all are kept.
    let mut controls: Vec<(usize, Statement<'_>, Control)> = Vec::new();
    split::for_each(sql, dialect, |statement| {
        starts.push(statement.offset);
        if let Some(control) = statement.control {
            controls.push((starts.len() - 1, statement, control));
        }
        ControlFlow::Continue(())
    })
    .map_err(|error| unreadable(&error))?;
    let count = starts.len();
    if !transactional || controls.is_empty() {
        return Ok(Prepared {
            sql: Cow::Borrowed(sql),
            starts,
        });
    }
    if let [
        (0, begin, Control::Begin { plain: true }),
        (last, commit, Control::Commit { plain: true }),
    ] = controls.as_slice()
        && *last + 1 == count
    {
        // The blanked statements are no longer statements.
        starts.pop();
        starts.remove(0);
        return Ok(Prepared {
            sql: Cow::Owned(blank(sql, &[begin, commit])),
            starts,
        });
    }
    // Report the first statement that is not part of a wrapper.
    let wrapped = matches!(
        controls.first(),
        Some((0, _, Control::Begin { plain: true }))
    ) && matches!(controls.last(), Some((last, _, Control::Commit { plain: true })) if last + 1 == count);
    let (_, statement, _) = match controls.as_slice() {
        [_, inner, ..] if wrapped => inner,
        [first, ..] => first,
        [] => {
            return Ok(Prepared {
                sql: Cow::Borrowed(sql),
                starts,
            });
        }
    };
    Err(Refusal {
        code: ErrorCode::TransactionControl,
        message: format!(
            "`{}` in a migration that runs in a transaction",
            summary(statement.text)
        ),
        line: statement.line,
        column: statement.column,
        hint: "each migration runs in one transaction with its history row, which transaction \
               control inside it would break: remove the statement (a script wrapped whole in \
               one BEGIN … COMMIT is fine), or run the migration statement by statement with \
               `-- migrate:no-transaction` as its first line"
            .to_string(),
    })
}

/// A refusal for a script the tokenizer cannot read.
fn unreadable(error: &split::SplitError) -> Refusal {
    let mut message = error.message.trim_end_matches('.').to_string();
    if let Some(first) = message.get(..1) {
        message.replace_range(..1, &first.to_lowercase());
    }
    Refusal {
        code: ErrorCode::UnreadableSql,
        message: format!("the SQL cannot be read: {message}"),
        line: error.line,
        column: error.column,
        hint: "close the string, quoted identifier, dollar quote or comment that starts here \
               (nothing was run)"
            .to_string(),
    }
}

/// The start of a statement's text, for a message: its first line, shortened.
fn summary(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim_end();
    match line.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// `sql` with the text of `statements` blanked: every character but `\n` becomes a space.
fn blank(sql: &str, statements: &[&Statement<'_>]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut from = 0;
    for statement in statements {
        out.push_str(&sql[from..statement.offset]);
        out.extend(
            statement
                .text
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' }),
        );
        from = statement.offset + statement.text.len();
    }
    out.push_str(&sql[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(sql: &str, dialect: Dialect) -> Refusal {
        prepare(sql, dialect, true).expect_err(sql)
    }

    #[test]
    fn scripts_without_transaction_control_are_sent_as_they_are() {
        for sql in [
            "CREATE TABLE a (x int);\nINSERT INTO a VALUES (1);",
            "CREATE FUNCTION f() RETURNS void AS $$ BEGIN COMMIT; END $$ LANGUAGE plpgsql;",
            "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END;",
            "-- only a comment",
        ] {
            assert!(matches!(
                prepare(sql, Dialect::Postgres, true).map(|p| p.sql),
                Ok(Cow::Borrowed(_))
            ));
        }
        let trigger = "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET n = n + 1; END;";
        assert!(matches!(
            prepare(trigger, Dialect::Sqlite, true).map(|p| p.sql),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn a_whole_script_wrapper_is_blanked_in_place() {
        let sql = "-- Flyway style\nBEGIN;\nCREATE TABLE a (x int);\nINSERT INTO a VALUES ('é');\nCOMMIT;\n";
        let prepared = prepare(sql, Dialect::Postgres, true).unwrap();
        // Line 3 and 4 are the statements left.
        assert_eq!(prepared.statement_position(0), Some((3, 1)));
        assert_eq!(prepared.statement_position(1), Some((4, 1)));
        assert_eq!(prepared.statement_position(2), None);
        let sent = prepared.sql.clone();
        assert_eq!(
            prepared.batches(1),
            [
                "-- Flyway style\n     ;\n",
                "CREATE TABLE a (x int);\n",
                "INSERT INTO a VALUES ('é');\n      ;\n"
            ]
        );
        assert_eq!(prepared.batches(40).concat(), sent);
        assert_eq!(prepared.batches(40).len(), 2);
        assert_eq!(
            sent,
            "-- Flyway style\n     ;\nCREATE TABLE a (x int);\nINSERT INTO a VALUES ('é');\n      ;\n"
        );
        assert_eq!(sent.chars().count(), sql.chars().count());
        let sqlite = "begin transaction; create table a (x);\nend transaction";
        assert_eq!(
            prepare(sqlite, Dialect::Sqlite, true).unwrap().sql,
            "                 ; create table a (x);\n               "
        );
        // Outside a transaction, the script runs as written.
        assert!(matches!(
            prepare(sql, Dialect::Postgres, false).map(|p| p.sql),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn other_transaction_control_is_refused_where_it_is() {
        let ledger = "BEGIN; INSERT INTO ledger VALUES (100); COMMIT;\nSELECT 1/0;";
        let refusal = refused(ledger, Dialect::Postgres);
        assert_eq!(refusal.code, ErrorCode::TransactionControl);
        assert_eq!((refusal.line, refusal.column), (1, 1));
        assert_eq!(
            refusal.message,
            "`BEGIN` in a migration that runs in a transaction"
        );
        let cases: &[(&str, (usize, usize))] = &[
            ("CREATE TABLE a (x int);\nCOMMIT;", (2, 1)),
            (
                "BEGIN;\nCREATE TABLE a (x int);\n  SAVEPOINT s;\nCOMMIT;",
                (3, 3),
            ),
            ("BEGIN;\nCREATE TABLE a (x int);\nROLLBACK;", (1, 1)),
            (
                "BEGIN ISOLATION LEVEL SERIALIZABLE;\nSELECT 1;\nCOMMIT;",
                (1, 1),
            ),
            ("BEGIN;\nSELECT 1;\nCOMMIT AND CHAIN;", (1, 1)),
            ("BEGIN;\nCOMMIT;\nBEGIN;\nCOMMIT;", (2, 1)),
            ("SELECT 1;\nBEGIN;\nSELECT 2;\nCOMMIT;", (2, 1)),
            ("BEGIN;\nSELECT 1;", (1, 1)),
            ("SELECT 1;\nEND;", (2, 1)),
            ("PREPARE TRANSACTION 'x';", (1, 1)),
            ("SELECT 1; ROLLBACK TO SAVEPOINT a;", (1, 11)),
        ];
        for &(sql, at) in cases {
            let refusal = refused(sql, Dialect::Postgres);
            assert_eq!((refusal.line, refusal.column), at, "{sql}");
            assert_eq!(refusal.code, ErrorCode::TransactionControl, "{sql}");
            // A no-transaction migration runs its statements as written.
            assert!(prepare(sql, Dialect::Postgres, false).is_ok(), "{sql}");
        }
        let refusal = refused(
            "BEGIN;\nINSERT INTO a VALUES (1);\nEND;\nSELECT 2;",
            Dialect::Sqlite,
        );
        assert_eq!((refusal.line, refusal.column), (1, 1));
    }

    #[test]
    fn unreadable_scripts_are_refused_where_the_token_opens() {
        let cases: &[(&str, Dialect, (usize, usize), &str)] = &[
            (
                "SELECT 1;\n/* never closed\nSELECT 2;",
                Dialect::Postgres,
                (2, 1),
                "multi-line comment",
            ),
            (
                "CREATE FUNCTION f() RETURNS int AS $$\nSELECT 1;\n",
                Dialect::Postgres,
                (1, 36),
                "dollar",
            ),
            (
                "INSERT INTO a VALUES ('x);\n",
                Dialect::Sqlite,
                (1, 23),
                "string",
            ),
        ];
        for &(sql, dialect, at, what) in cases {
            for transactional in [true, false] {
                let refusal = prepare(sql, dialect, transactional).expect_err(sql);
                assert_eq!(refusal.code, ErrorCode::UnreadableSql, "{sql}");
                assert_eq!((refusal.line, refusal.column), at, "{sql}");
                assert!(refusal.message.contains(what), "{}", refusal.message);
            }
        }
    }
}
