//! `-- migrate:allow CODE [CODE…] [reason]`: a comment that allows findings. Before a statement
//! (in the comments between it and the statement before) it allows them for that statement; in
//! the file's leading comments, separated from the first statement by a blank line, for the
//! whole file.

use std::collections::{BTreeSet, HashMap};

/// The comment's marker.
pub const MARKER: &str = "-- migrate:allow";

/// What a script allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    pub file: BTreeSet<String>,
    /// By statement index (0-based, in the splitter's order).
    pub statements: HashMap<usize, BTreeSet<String>>,
}

impl Allowed {
    pub fn allows(&self, statement: Option<usize>, code: &str) -> bool {
        self.file.contains(code)
            || statement
                .and_then(|index| self.statements.get(&index))
                .is_some_and(|codes| codes.contains(code))
    }
}

/// An allow comment naming a code that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCode {
    pub code: String,
    pub line: usize,
    pub column: usize,
}

/// Reads the allow comments of `sql`, whose statements start at byte offsets `starts`.
///
/// # Errors
///
/// The first comment that names an unknown code (a typo would silently allow nothing).
pub fn allowed(sql: &str, starts: &[usize]) -> Result<Allowed, UnknownCode> {
    let mut result = Allowed::default();
    let mut offset = 0;
    for (index, line) in sql.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix(MARKER) else {
            continue;
        };
        // A comment line, not a statement's trailing comment: only whitespace before it.
        let column = line.len() - trimmed.len() + 1;
        // The codes: words up to the first that is not a known code (the reason starts there),
        // so a reason needs no separator; a first word that is no code is an error.
        let mut codes = Vec::new();
        for word in rest
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
        {
            if super::code(word).is_some() {
                codes.push(word.to_string());
            } else if codes.is_empty() {
                return Err(UnknownCode {
                    code: word.to_string(),
                    line: index + 1,
                    column,
                });
            } else {
                break;
            }
        }
        if codes.is_empty() {
            return Err(UnknownCode {
                code: String::new(),
                line: index + 1,
                column,
            });
        }
        let next = starts.iter().position(|&start| start >= line_start);
        let before_first = next == Some(0) || starts.is_empty();
        let gap_to_next = match next {
            Some(i) => {
                sql[line_start + line.len()..starts[i]].contains("\n\n")
                    || sql[line_start..starts[i]]
                        .lines()
                        .skip(1)
                        .any(|l| l.trim().is_empty())
            }
            None => true,
        };
        if before_first && gap_to_next {
            result.file.extend(codes);
        } else if let Some(i) = next {
            result.statements.entry(i).or_default().extend(codes);
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Dialect;
    use crate::migration::split;

    fn allowed_in(sql: &str) -> Result<Allowed, UnknownCode> {
        let starts: Vec<usize> = split::split(sql, Dialect::Postgres)
            .unwrap()
            .iter()
            .map(|s| s.offset)
            .collect();
        allowed(sql, &starts)
    }

    #[test]
    fn allow_comments_by_place() {
        let sql = "-- migrate:allow breaking-drop because the app stopped using it\n\nALTER TABLE a DROP COLUMN b;\n-- migrate:allow index-not-concurrent, table-rewrite small table\nCREATE INDEX i ON a (c);\nCREATE INDEX j ON a (d);\n";
        let allowed = allowed_in(sql).unwrap();
        assert!(allowed.allows(Some(0), "breaking-drop"));
        assert!(allowed.allows(Some(2), "breaking-drop"), "file-wide");
        assert!(allowed.allows(Some(1), "index-not-concurrent"));
        assert!(allowed.allows(Some(1), "table-rewrite"));
        assert!(!allowed.allows(Some(2), "index-not-concurrent"));
        // Directly above the first statement: that statement only.
        let sql = "-- migrate:allow index-not-concurrent\nCREATE INDEX i ON a (c);\nCREATE INDEX j ON a (d);\n";
        let allowed = allowed_in(sql).unwrap();
        assert!(allowed.allows(Some(0), "index-not-concurrent"));
        assert!(!allowed.allows(Some(1), "index-not-concurrent"));
    }

    #[test]
    fn an_unknown_code_is_refused_where_it_is() {
        let error =
            allowed_in("SELECT 1;\n  -- migrate:allow index-not-concurent\nSELECT 2;").unwrap_err();
        assert_eq!(
            error,
            UnknownCode {
                code: "index-not-concurent".into(),
                line: 2,
                column: 3
            }
        );
        assert!(allowed_in("-- migrate:allow\nSELECT 1;").is_err());
    }
}
