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
    fn offsets_fall_in_statements() {
        let starts = [0, 10, 20];
        let table = [(0, Some(0)), (9, Some(0)), (10, Some(1)), (25, Some(2))];
        for (offset, expected) in table {
            assert_eq!(statement_at(&starts, offset), expected, "{offset}");
        }
        assert_eq!(statement_at(&[], 3), None);
    }
}
