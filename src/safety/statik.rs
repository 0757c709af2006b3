//! The static half: squawk-linter's rules over a migration's script (its own parser, its own
//! rules: none is rewritten here), each violation mapped to our code, its statement and its
//! byte offset in the file.

use std::sync::OnceLock;

use squawk_linter::{Linter, LinterSettings, Rule};
use squawk_syntax::SourceFile;

use super::{CODES, Code};

/// What squawk reported, placed in the script.
#[derive(Debug, Clone)]
pub struct Hit {
    pub code: &'static Code,
    pub rule: String,
    pub message: String,
    /// Byte offset in the script.
    pub offset: usize,
    /// The statement it is in (index into the splitter's statements).
    pub statement: Option<usize>,
}

/// What the linter made of one script.
#[derive(Debug, Clone, Default)]
pub struct Lint {
    pub hits: Vec<Hit>,
    /// Statements the parser could not read, with the byte offset of the first error.
    pub unparsed: Vec<(usize, usize)>,
}

/// The squawk rules some code maps, with their code.
fn rules() -> &'static [(Rule, &'static Code)] {
    static RULES: OnceLock<Vec<(Rule, &'static Code)>> = OnceLock::new();
    RULES.get_or_init(|| {
        CODES
            .iter()
            .flat_map(|code| {
                code.squawk
                    .iter()
                    .filter_map(move |name| Some((name.parse::<Rule>().ok()?, code)))
            })
            .collect()
    })
}

/// The statement (by index) a byte offset falls in: the last one starting at or before it.
pub fn statement_at(starts: &[usize], offset: usize) -> Option<usize> {
    match starts.partition_point(|&start| start <= offset) {
        0 => (!starts.is_empty()).then_some(0),
        n => Some(n - 1),
    }
}

/// Lints `sql`, a PostgreSQL script whose statements start at `starts`, that runs in a
/// transaction (`transactional`) or statement by statement.
pub fn lint(sql: &str, starts: &[usize], transactional: bool) -> Lint {
    let parse = SourceFile::parse(sql);
    let mut unparsed: Vec<(usize, usize)> = Vec::new();
    for error in parse.errors() {
        let offset = usize::from(error.range().start());
        if let Some(statement) = statement_at(starts, offset)
            && !unparsed.iter().any(|(s, _)| *s == statement)
        {
            unparsed.push((statement, offset));
        }
    }
    let mut linter = Linter::from(rules().iter().map(|(rule, _)| *rule));
    linter.settings = LinterSettings {
        assume_in_transaction: transactional,
        ..Default::default()
    };
    let hits = linter
        .lint(&parse, sql)
        .into_iter()
        .filter_map(|violation| {
            let code = rules()
                .iter()
                .find(|(rule, _)| *rule == violation.code)
                .map(|(_, code)| *code)?;
            let offset = usize::from(violation.text_range.start());
            let statement = statement_at(starts, offset);
            // A statement the parser could not read gets no guesses from its partial tree.
            if statement.is_some_and(|s| unparsed.iter().any(|(u, _)| *u == s)) {
                return None;
            }
            Some(Hit {
                code,
                rule: violation.code.to_string(),
                message: violation.message,
                offset,
                statement,
            })
        })
        .collect();
    Lint { hits, unparsed }
}

/// The rules squawk has none for, over the statements (byte offset, text) of one script:
/// an enum value added and then used in the same transaction, and a table or column dropped
/// with CASCADE (which takes the views using it along).
pub fn own_rules(statements: &[(usize, &str)], transactional: bool) -> Vec<Hit> {
    use super::words::{Token, tokens};
    let code = |name: &str| super::code(name).expect("a known code");
    let mut hits = Vec::new();
    // Values added so far in this transaction: (type, value).
    let mut added: Vec<(String, String)> = Vec::new();
    for (index, (offset, text)) in statements.iter().enumerate() {
        let words = tokens(text);
        let ident = |i: usize| match words.get(i) {
            Some(Token::Ident {
                text,
                quoted: false,
            }) => text.as_str(),
            _ => "",
        };
        if ident(0) == "alter" && ident(1) == "type" {
            // ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'value' …
            let value_at = words
                .windows(2)
                .position(|pair| {
                    matches!((&pair[0], &pair[1]), (
                        Token::Ident { text: add, quoted: false },
                        Token::Ident { text: value, quoted: false },
                    ) if add == "add" && value == "value")
                })
                .and_then(|at| words[at + 2..].iter().find(|t| matches!(t, Token::Str(_))));
            if transactional && let Some(Token::Str(value)) = value_at {
                let name: Vec<String> = words[2..]
                    .iter()
                    .take_while(
                        |t| !matches!(t, Token::Ident { text, quoted: false } if text == "add"),
                    )
                    .filter_map(|t| match t {
                        Token::Ident { text, .. } => Some(text.clone()),
                        Token::Dot => Some(".".into()),
                        _ => None,
                    })
                    .collect();
                added.push((name.concat(), value.clone()));
            }
            continue;
        }
        if let Some((ty, value)) = added.iter().find(|(_, value)| {
            words
                .iter()
                .any(|t| matches!(t, Token::Str(s) if s == value))
        }) {
            hits.push(Hit {
                code: code("enum-value-used-in-transaction"),
                rule: "cargo-migrate".into(),
                message: format!(
                    "the value '{value}' added to enum {ty} in this transaction is used before it commits"
                ),
                offset: *offset,
                statement: Some(index),
            });
        }
        let drops_table_or_column = (ident(0) == "drop" && ident(1) == "table")
            || (ident(0) == "alter"
                && ident(1) == "table"
                && (2..words.len()).any(|i| ident(i) == "drop" && ident(i + 1) != "constraint"));
        if drops_table_or_column && (2..words.len()).any(|i| ident(i) == "cascade") {
            hits.push(Hit {
                code: code("drop-used-by-view"),
                rule: "cargo-migrate".into(),
                message: "DROP … CASCADE also drops, without naming them, the views that use what it drops".into(),
                offset: *offset,
                statement: Some(index),
            });
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Dialect;
    use crate::migration::split;

    fn codes(sql: &str, transactional: bool) -> Vec<(&'static str, Option<usize>)> {
        let starts: Vec<usize> = split::split(sql, Dialect::Postgres)
            .unwrap()
            .iter()
            .map(|s| s.offset)
            .collect();
        let mut found: Vec<_> = lint(sql, &starts, transactional)
            .hits
            .iter()
            .map(|hit| (hit.code.code, hit.statement))
            .collect();
        found.sort();
        found.dedup();
        found
    }

    #[test]
    fn squawk_rules_map_to_codes_and_statements() {
        type Expected = &'static [(&'static str, Option<usize>)];
        let table: &[(&str, Expected)] = &[
            (
                "SET lock_timeout = '2s';\nCREATE INDEX i ON t (a);",
                &[("index-not-concurrent", Some(1))],
            ),
            (
                "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN c timestamptz DEFAULT now();",
                &[],
            ),
            (
                "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid();",
                &[("volatile-default", Some(1))],
            ),
            (
                "SET lock_timeout = '2s';\nALTER TABLE t ALTER COLUMN c TYPE bigint;",
                &[("column-type-rewrite", Some(1))],
            ),
            (
                "SET lock_timeout = '2s';\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);",
                &[("constraint-validated", Some(1))],
            ),
            (
                "SET lock_timeout = '2s';\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;",
                &[],
            ),
            (
                "ALTER TABLE t DROP COLUMN c;",
                &[
                    ("breaking-drop", Some(0)),
                    ("missing-lock-timeout", Some(0)),
                ],
            ),
        ];
        for (sql, expected) in table {
            assert_eq!(&codes(sql, true), expected, "{sql}");
        }
    }

    #[test]
    fn concurrently_in_a_transaction_only_when_it_is_one() {
        let sql = "SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY i ON t (a);";
        assert_eq!(codes(sql, true), [("concurrently-in-transaction", Some(1))]);
        assert_eq!(codes(sql, false), []);
    }

    #[test]
    fn an_unreadable_statement_is_named_and_not_guessed_at() {
        let sql = "CREATE INDEX i ON t (a);\nALTER TABLE t FROBNICATE c;\nSELECT 1;";
        let starts: Vec<usize> = split::split(sql, Dialect::Postgres)
            .unwrap()
            .iter()
            .map(|s| s.offset)
            .collect();
        let lint = lint(sql, &starts, true);
        assert_eq!(
            lint.unparsed.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [1]
        );
    }

    #[test]
    fn own_rules_find_enum_values_used_early_and_cascading_drops() {
        let found = |sql: &str, transactional: bool| -> Vec<(&'static str, Option<usize>)> {
            let split = split::split(sql, Dialect::Postgres).unwrap();
            let statements: Vec<(usize, &str)> = split.iter().map(|s| (s.offset, s.text)).collect();
            own_rules(&statements, transactional)
                .iter()
                .map(|hit| (hit.code.code, hit.statement))
                .collect()
        };
        let used = "ALTER TYPE mood ADD VALUE 'meh';\nUPDATE people SET mood = 'meh';";
        assert_eq!(
            found(used, true),
            [("enum-value-used-in-transaction", Some(1))]
        );
        // Outside a transaction each statement commits: the value is usable.
        assert_eq!(found(used, false), []);
        assert_eq!(
            found(
                "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh';\nSELECT 'ok';",
                true
            ),
            []
        );
        assert_eq!(
            found(
                "ALTER TABLE t DROP COLUMN c CASCADE;\nDROP TABLE u CASCADE;\nDROP TABLE v;",
                true
            ),
            [
                ("drop-used-by-view", Some(0)),
                ("drop-used-by-view", Some(1))
            ]
        );
        assert_eq!(found("ALTER TABLE t DROP CONSTRAINT k CASCADE;", true), []);
    }

    #[test]
    fn offsets_fall_in_statements() {
        let starts = [0, 10, 20];
        let table = [(0, Some(0)), (9, Some(0)), (10, Some(1)), (25, Some(2))];
        for (offset, expected) in table {
            assert_eq!(statement_at(&starts, offset), expected, "{offset}");
        }
        assert_eq!(statement_at(&[], 3), None);
    }
}
