//! Normalisation of SQL text taken from a database as the user wrote it (SQLite stores the
//! original statements), so that spelling differences that do not change meaning compare equal.
//!
//! The text is cut into tokens by sqlparser's SQLite tokenizer, then written back in one
//! canonical spelling:
//!
//! - Comments are dropped; a statement's final `;` is dropped.
//! - Tokens are separated by one space, except: none after `(` and none before `)`; none
//!   before `,` or `;` (and one after `,`); none on either side of `.`; none between a name and
//!   the `(` that follows it (a function call `lower(x)`, a column list `users(id)`), while a
//!   keyword keeps its space (`IN (1, 2)`, `AS (`, `CHECK (`); none between a unary `+`/`-`
//!   and its operand (`DEFAULT -1`).
//! - Keywords (SQLite's own list, [`SQLITE_KEYWORDS`]) are upper-cased. Other unquoted words
//!   (identifiers, function and type names) are lower-cased: SQLite compares identifiers
//!   without regard to (ASCII) case.
//! - A quoted identifier (`"x"`, `` `x` ``, `[x]`) whose content is a lower-case name that is
//!   not a keyword loses its quotes (it means the same as the bare word). Any other quoted
//!   identifier keeps its content byte for byte, re-quoted with `"`: SQLite reads a
//!   double-quoted word that names no column as a string, so `"Active"` must not become
//!   `active`.
//! - String and blob literals, numbers and parameters are kept byte for byte.
//!
//! Expressions (checks, defaults, generated columns, index keys and predicates) go one step
//! further in [`expression`]: the normalised text is parsed by sqlparser and printed back by
//! its `Display`, which also settles redundant spacing inside operators and keyword spellings
//! that the tokens alone do not.

use std::borrow::Cow;

use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

/// SQLite's keywords (sqlite.org/lang_keywords.html), upper-case and sorted. They are
/// upper-cased by normalisation, and an identifier spelled like one needs quotes.
pub const SQLITE_KEYWORDS: [&str; 147] = [
    "ABORT",
    "ACTION",
    "ADD",
    "AFTER",
    "ALL",
    "ALTER",
    "ALWAYS",
    "ANALYZE",
    "AND",
    "AS",
    "ASC",
    "ATTACH",
    "AUTOINCREMENT",
    "BEFORE",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CASCADE",
    "CASE",
    "CAST",
    "CHECK",
    "COLLATE",
    "COLUMN",
    "COMMIT",
    "CONFLICT",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "CURRENT",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "DATABASE",
    "DEFAULT",
    "DEFERRABLE",
    "DEFERRED",
    "DELETE",
    "DESC",
    "DETACH",
    "DISTINCT",
    "DO",
    "DROP",
    "EACH",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXCLUDE",
    "EXCLUSIVE",
    "EXISTS",
    "EXPLAIN",
    "FAIL",
    "FILTER",
    "FIRST",
    "FOLLOWING",
    "FOR",
    "FOREIGN",
    "FROM",
    "FULL",
    "GENERATED",
    "GLOB",
    "GROUP",
    "GROUPS",
    "HAVING",
    "IF",
    "IGNORE",
    "IMMEDIATE",
    "IN",
    "INDEX",
    "INDEXED",
    "INITIALLY",
    "INNER",
    "INSERT",
    "INSTEAD",
    "INTERSECT",
    "INTO",
    "IS",
    "ISNULL",
    "JOIN",
    "KEY",
    "LAST",
    "LEFT",
    "LIKE",
    "LIMIT",
    "MATCH",
    "MATERIALIZED",
    "NATURAL",
    "NO",
    "NOT",
    "NOTHING",
    "NOTNULL",
    "NULL",
    "NULLS",
    "OF",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OTHERS",
    "OUTER",
    "OVER",
    "PARTITION",
    "PLAN",
    "PRAGMA",
    "PRECEDING",
    "PRIMARY",
    "QUERY",
    "RAISE",
    "RANGE",
    "RECURSIVE",
    "REFERENCES",
    "REGEXP",
    "REINDEX",
    "RELEASE",
    "RENAME",
    "REPLACE",
    "RESTRICT",
    "RETURNING",
    "RIGHT",
    "ROLLBACK",
    "ROW",
    "ROWS",
    "SAVEPOINT",
    "SELECT",
    "SET",
    "TABLE",
    "TEMP",
    "TEMPORARY",
    "THEN",
    "TIES",
    "TO",
    "TRANSACTION",
    "TRIGGER",
    "UNBOUNDED",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VACUUM",
    "VALUES",
    "VIEW",
    "VIRTUAL",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "WITHOUT",
];

/// Whether `word` is one of SQLite's keywords, in any case.
pub fn is_keyword(word: &str) -> bool {
    SQLITE_KEYWORDS
        .binary_search(&word.to_ascii_uppercase().as_str())
        .is_ok()
}

/// What a token is, as far as spelling and spacing go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexemeKind {
    /// An unquoted word in [`SQLITE_KEYWORDS`].
    Keyword,
    /// Any other unquoted word: an identifier, a function or a type name.
    Word,
    /// `"x"`, `` `x` `` or `[x]`.
    QuotedIdentifier,
    /// A string, blob or number literal, or a parameter: kept as written.
    Literal,
    OpenParen,
    CloseParen,
    Comma,
    Period,
    Semicolon,
    /// Operators and any other punctuation.
    Operator,
}

/// One token of SQL text (comments and whitespace are not tokens here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexeme<'a> {
    pub kind: LexemeKind,
    /// The token as written, a slice of the text.
    pub raw: &'a str,
}

impl<'a> Lexeme<'a> {
    /// Whether this is the keyword `keyword` (given in upper case).
    pub fn is_keyword(&self, keyword: &str) -> bool {
        self.kind == LexemeKind::Keyword && self.raw.eq_ignore_ascii_case(keyword)
    }

    /// Whether this token can name something: an unquoted word (keywords included, as SQLite
    /// accepts many of them as names) or a quoted identifier. SQLite also accepts a string
    /// literal where a name is expected (`CREATE TABLE 't'(...)`).
    pub fn is_name(&self) -> bool {
        matches!(
            self.kind,
            LexemeKind::Keyword | LexemeKind::Word | LexemeKind::QuotedIdentifier
        ) || (self.kind == LexemeKind::Literal && self.raw.starts_with('\''))
    }

    /// The name this token stands for: quotes removed, case kept. For other tokens, the text.
    pub fn name(&self) -> String {
        match self.kind {
            LexemeKind::QuotedIdentifier => unquote(self.raw),
            LexemeKind::Literal if self.raw.starts_with('\'') => unquote(self.raw),
            _ => self.raw.to_string(),
        }
    }

    /// The token in its canonical spelling (see the module documentation).
    pub fn canonical(&self) -> Cow<'a, str> {
        match self.kind {
            LexemeKind::Keyword => Cow::Owned(self.raw.to_ascii_uppercase()),
            LexemeKind::Word => Cow::Owned(self.raw.to_ascii_lowercase()),
            LexemeKind::QuotedIdentifier => {
                let content = unquote(self.raw);
                if is_plain_lower_case_name(&content) {
                    Cow::Owned(content)
                } else {
                    Cow::Owned(double_quoted(&content))
                }
            }
            _ => Cow::Borrowed(self.raw),
        }
    }
}

/// The content of a quoted identifier or string: delimiters removed, doubled delimiters undone.
fn unquote(raw: &str) -> String {
    let mut chars = raw.chars();
    let (Some(open), Some(_close)) = (chars.next(), chars.next_back()) else {
        return raw.to_string();
    };
    let content = chars.as_str();
    match open {
        '"' => content.replace("\"\"", "\""),
        '`' => content.replace("``", "`"),
        '\'' => content.replace("''", "'"),
        // `[x]` has no escape: it ends at the first `]`.
        _ => content.to_string(),
    }
}

fn double_quoted(content: &str) -> String {
    format!("\"{}\"", content.replace('"', "\"\""))
}

/// A name that reads the same unquoted and case-folded: lower-case ASCII letters, digits and
/// `_`, not starting with a digit, not a keyword.
fn is_plain_lower_case_name(name: &str) -> bool {
    is_plain_name(name) && !name.bytes().any(|byte| byte.is_ascii_uppercase())
}

/// ASCII letters, digits and `_`, not starting with a digit, not a keyword.
fn is_plain_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        && !is_keyword(name)
}

/// `name` as it is written in a definition built by the inspector (`FOREIGN KEY (a) ...`):
/// as is when it is a plain name, double-quoted otherwise. Case is kept: names in the model
/// are as the database reports them.
pub fn identifier(name: &str) -> String {
    if is_plain_name(name) {
        name.to_string()
    } else {
        double_quoted(name)
    }
}

/// The tokens of `sql`, without comments and whitespace; `None` when sqlparser's tokenizer
/// cannot read it.
pub fn lex(sql: &str) -> Option<Vec<Lexeme<'_>>> {
    let tokens = Tokenizer::new(&SQLiteDialect {}, sql)
        .with_unescape(false)
        .tokenize_with_location()
        .ok()?;
    let lines = LineStarts::of(sql);
    let mut lexemes = Vec::with_capacity(tokens.len());
    for token in tokens {
        let kind = match &token.token {
            Token::EOF | Token::Whitespace(_) => continue,
            Token::Word(word) => match word.quote_style {
                Some(_) => LexemeKind::QuotedIdentifier,
                None if is_keyword(&word.value) => LexemeKind::Keyword,
                None => LexemeKind::Word,
            },
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Placeholder(_) => LexemeKind::Literal,
            Token::LParen => LexemeKind::OpenParen,
            Token::RParen => LexemeKind::CloseParen,
            Token::Comma => LexemeKind::Comma,
            Token::Period => LexemeKind::Period,
            Token::SemiColon => LexemeKind::Semicolon,
            _ => LexemeKind::Operator,
        };
        let start = lines.byte_offset(sql, token.span.start);
        let end = lines.byte_offset(sql, token.span.end).max(start);
        lexemes.push(Lexeme {
            kind,
            raw: sql.get(start..end)?,
        });
    }
    Some(lexemes)
}

/// Byte offsets of the starts of lines, to turn the tokenizer's (line, column in characters)
/// into byte offsets. The tokenizer ends lines at `\n` only.
struct LineStarts(Vec<usize>);

impl LineStarts {
    fn of(text: &str) -> LineStarts {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(at, _)| at + 1));
        LineStarts(starts)
    }

    fn byte_offset(&self, text: &str, location: Location) -> usize {
        let line = usize::try_from(location.line).unwrap_or(usize::MAX);
        let column = usize::try_from(location.column).unwrap_or(usize::MAX);
        let Some(&line_start) = line.checked_sub(1).and_then(|index| self.0.get(index)) else {
            return text.len();
        };
        let rest = &text[line_start..];
        rest.char_indices()
            .nth(column.saturating_sub(1))
            .map_or(text.len(), |(offset, _)| line_start + offset)
    }
}

/// Writes `lexemes` back as text, in canonical spelling and spacing.
pub fn join(lexemes: &[Lexeme<'_>]) -> String {
    let mut out = String::new();
    for (index, lexeme) in lexemes.iter().enumerate() {
        if let Some(previous) = index.checked_sub(1).map(|at| &lexemes[at]) {
            let before_previous = index.checked_sub(2).map(|at| &lexemes[at]);
            if spaced(before_previous, previous, lexeme) {
                out.push(' ');
            }
        }
        out.push_str(&lexeme.canonical());
    }
    out
}

/// Whether one space separates `previous` and `next` (`before_previous` tells a unary sign from
/// a binary one).
fn spaced(before_previous: Option<&Lexeme<'_>>, previous: &Lexeme<'_>, next: &Lexeme<'_>) -> bool {
    use LexemeKind::*;
    match (previous.kind, next.kind) {
        (_, CloseParen | Comma | Period | Semicolon) => false,
        (OpenParen | Period, _) => false,
        (Word | QuotedIdentifier, OpenParen) => false,
        (Operator, _) if is_unary_sign(before_previous, previous) => false,
        _ => true,
    }
}

/// Whether `sign` is a unary `+` or `-`: it does not follow an operand.
fn is_unary_sign(before: Option<&Lexeme<'_>>, sign: &Lexeme<'_>) -> bool {
    if sign.raw != "-" && sign.raw != "+" {
        return false;
    }
    let Some(before) = before else {
        return true;
    };
    match before.kind {
        LexemeKind::Word
        | LexemeKind::QuotedIdentifier
        | LexemeKind::Literal
        | LexemeKind::CloseParen => false,
        // Keywords that end an operand.
        LexemeKind::Keyword => ![
            "NULL",
            "CURRENT_DATE",
            "CURRENT_TIME",
            "CURRENT_TIMESTAMP",
            "END",
        ]
        .iter()
        .any(|keyword| before.is_keyword(keyword)),
        _ => true,
    }
}

/// `sql` in canonical form (see the module documentation). Text the tokenizer cannot read is
/// only trimmed and has its whitespace collapsed.
pub fn normalize(sql: &str) -> String {
    match lex(sql) {
        Some(mut lexemes) => {
            while lexemes
                .last()
                .is_some_and(|lexeme| lexeme.kind == LexemeKind::Semicolon)
            {
                lexemes.pop();
            }
            join(&lexemes)
        }
        None => sql.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// A declared column type in canonical form: every word upper-cased, words separated by one
/// space, no space inside parentheses or after commas there, as PostgreSQL prints
/// `numeric(10,2)`: `varchar ( 10 )` is `VARCHAR(10)`, `decimal(10, 2)` is `DECIMAL(10,2)`.
/// `INT` and `INTEGER` stay distinct (only `INTEGER PRIMARY KEY` aliases the rowid).
pub fn data_type(declared: &str) -> String {
    let Some(lexemes) = lex(declared) else {
        return declared
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_uppercase();
    };
    let mut out = String::new();
    let mut depth = 0usize;
    for lexeme in &lexemes {
        let space = !out.is_empty()
            && depth == 0
            && !matches!(
                lexeme.kind,
                LexemeKind::OpenParen | LexemeKind::CloseParen | LexemeKind::Comma
            );
        if space {
            out.push(' ');
        }
        match lexeme.kind {
            LexemeKind::OpenParen => depth += 1,
            LexemeKind::CloseParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        match lexeme.kind {
            LexemeKind::Keyword | LexemeKind::Word => {
                out.push_str(&lexeme.raw.to_ascii_uppercase())
            }
            _ => out.push_str(&lexeme.canonical()),
        }
    }
    out
}

/// An expression in canonical form: normalised, then parsed by sqlparser (SQLite dialect) and
/// printed back. An expression sqlparser cannot parse stays in its normalised form.
pub fn expression(sql: &str) -> String {
    match lex(sql) {
        Some(lexemes) => expression_of(&lexemes),
        None => normalize(sql),
    }
}

/// [`expression`] of tokens already cut.
pub fn expression_of(lexemes: &[Lexeme<'_>]) -> String {
    let normalized = join(lexemes);
    let dialect = SQLiteDialect {};
    let parsed = Parser::new(&dialect)
        .try_with_sql(&normalized)
        .and_then(|mut parser| {
            let expr = parser.parse_expr()?;
            // The whole text must be the expression, not just its start.
            let rest = parser.peek_token().token;
            Ok((expr, rest))
        });
    match parsed {
        Ok((expr, Token::EOF)) => expr.to_string(),
        _ => normalized,
    }
}

/// A PostgreSQL definition (a view's query) with each frozen instant written back as
/// `'now'`: a timestamp literal with fractional seconds
/// (`'2026-12-05 03:32:17.123456'::timestamp without time zone`) is what the server makes of
/// `'now'::timestamp` (or `'now'::timestamptz`) when the view is created, so two databases
/// made from the same history at different times hold different literals. Used to compare
/// definitions only; the model keeps the literal. A literal written by hand with fractional
/// seconds counts as frozen too, and `'today'::date` (a date without a time) is not
/// recognised (docs/drift.md).
pub fn without_frozen_instants(definition: &str) -> std::borrow::Cow<'_, str> {
    if !definition.contains("'::timestamp") {
        return std::borrow::Cow::Borrowed(definition);
    }
    let mut out = String::with_capacity(definition.len());
    let mut rest = definition;
    while let Some(open) = rest.find('\'') {
        out.push_str(&rest[..=open]);
        let after_open = &rest[open + 1..];
        let Some(close) = after_open.find('\'') else {
            rest = after_open;
            break;
        };
        let literal = &after_open[..close];
        let tail = &after_open[close..];
        if tail.starts_with("'::timestamp") && frozen_instant(literal) {
            out.push_str("now");
        } else {
            out.push_str(literal);
        }
        out.push('\'');
        rest = &tail[1..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// `YYYY-MM-DD HH:MM:SS.f…` with an optional UTC offset (`+00`, `-05:30`).
fn frozen_instant(literal: &str) -> bool {
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let Some((date, time)) = literal.split_once(' ') else {
        return false;
    };
    let date_ok = {
        let parts: Vec<&str> = date.split('-').collect();
        parts.len() == 3 && parts.iter().all(|part| digits(part)) && parts[0].len() >= 4
    };
    let time = time.find(['+', '-']).map_or(time, |offset| &time[..offset]);
    let Some((clock, fraction)) = time.split_once('.') else {
        return false;
    };
    let clock_ok = {
        let parts: Vec<&str> = clock.split(':').collect();
        parts.len() == 3 && parts.iter().all(|part| digits(part) && part.len() == 2)
    };
    date_ok && clock_ok && digits(fraction) && fraction.len() <= 6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_sorted_for_binary_search() {
        assert!(SQLITE_KEYWORDS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn removes_comments_and_collapses_whitespace() {
        let sql = "CREATE   VIEW v -- the view\n AS /* all of it */\n\tSELECT  *\r\n FROM t;";
        assert_eq!(normalize(sql), "CREATE VIEW v AS SELECT * FROM t");
    }

    #[test]
    fn comment_markers_inside_strings_are_text() {
        assert_eq!(
            normalize("select 'a  -- not a comment' ,  '/* nor this */'"),
            "SELECT 'a  -- not a comment', '/* nor this */'"
        );
    }

    #[test]
    fn strings_are_kept_byte_for_byte() {
        assert_eq!(
            normalize("SELECT 'It''s   HERE', x'0aFF', 1.50E3"),
            "SELECT 'It''s   HERE', x'0aFF', 1.50E3"
        );
    }

    #[test]
    fn keywords_upper_case_and_identifiers_lower_case() {
        assert_eq!(
            normalize("Select Name, COUNT(*) From Users Where Active is Not Null"),
            "SELECT name, count(*) FROM users WHERE active IS NOT NULL"
        );
    }

    #[test]
    fn quoted_identifiers_lose_needless_quotes_only() {
        assert_eq!(
            normalize(r#"SELECT "name", `id`, [email] FROM "users""#),
            "SELECT name, id, email FROM users"
        );
        // Mixed case, spaces, keywords and quotes need their quotes, and keep their bytes.
        assert_eq!(
            normalize(r#"SELECT "Name", [first name], `order`, "we""ird" FROM t"#),
            r#"SELECT "Name", "first name", "order", "we""ird" FROM t"#
        );
    }

    #[test]
    fn spacing_around_punctuation() {
        assert_eq!(
            normalize("select t . a,lower( b ) from t where c in(1,2) and d = - 1"),
            "SELECT t.a, lower(b) FROM t WHERE c IN (1, 2) AND d = -1"
        );
        assert_eq!(normalize("select a - 1, (b) -2"), "SELECT a - 1, (b) - 2");
        assert_eq!(
            normalize("create index i on t ( a desc , b )"),
            "CREATE INDEX i ON t(a DESC, b)"
        );
    }

    #[test]
    fn newlines_and_tabs_are_spaces() {
        assert_eq!(
            normalize("CREATE TRIGGER t AFTER INSERT ON a\nBEGIN\n\tUPDATE b SET c = 1;\nEND"),
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET c = 1; END"
        );
    }

    #[test]
    fn non_ascii_text_keeps_its_positions() {
        assert_eq!(
            normalize("SELECT 'é  ü' ,\n  \"Zoë\" FROM t"),
            "SELECT 'é  ü', \"Zoë\" FROM t"
        );
    }

    #[test]
    fn unreadable_text_is_only_collapsed() {
        assert_eq!(normalize("SELECT 'open\n  string"), "SELECT 'open string");
    }

    #[test]
    fn data_types() {
        assert_eq!(data_type("varchar ( 10 )"), "VARCHAR(10)");
        assert_eq!(data_type("decimal(10, 2)"), "DECIMAL(10,2)");
        assert_eq!(data_type("unsigned   big\tint"), "UNSIGNED BIG INT");
        assert_eq!(data_type("int"), "INT");
        assert_eq!(data_type("Integer"), "INTEGER");
        assert_eq!(data_type(""), "");
    }

    #[test]
    fn expressions_are_printed_by_sqlparser() {
        assert_eq!(
            expression("PRICE>0 and Qty  >= 1"),
            "price > 0 AND qty >= 1"
        );
        assert_eq!(expression("(datetime( 'now' ))"), "(datetime('now'))");
        assert_eq!(expression("Status IN('a','b')"), "status IN ('a', 'b')");
        assert_eq!(expression("CURRENT_TIMESTAMP"), "CURRENT_TIMESTAMP");
        assert_eq!(expression("-1"), "-1");
    }

    #[test]
    fn identifiers_in_built_definitions() {
        assert_eq!(identifier("user_id"), "user_id");
        assert_eq!(identifier("userId"), "userId");
        assert_eq!(identifier("order"), "\"order\"");
        assert_eq!(identifier("first name"), "\"first name\"");
        assert_eq!(identifier("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn frozen_instants_read_as_now() {
        for (definition, compared) in [
            (
                "SELECT 1 WHERE x > '2026-12-05 03:32:17.123456'::timestamp without time zone",
                "SELECT 1 WHERE x > 'now'::timestamp without time zone",
            ),
            (
                "SELECT '2026-12-05 03:32:17.1+00'::timestamp with time zone AS at",
                "SELECT 'now'::timestamp with time zone AS at",
            ),
            (
                "SELECT '2026-12-05 03:32:17.1-05:30'::timestamp with time zone",
                "SELECT 'now'::timestamp with time zone",
            ),
            // Whole seconds, dates, other types and other literals stay.
            (
                "SELECT '2026-01-01 00:00:00'::timestamp without time zone",
                "SELECT '2026-01-01 00:00:00'::timestamp without time zone",
            ),
            ("SELECT '2026-01-01'::date", "SELECT '2026-01-01'::date"),
            (
                "SELECT '2026-12-05 03:32:17.5'::text, 'it''s'::text",
                "SELECT '2026-12-05 03:32:17.5'::text, 'it''s'::text",
            ),
            ("SELECT 'x'", "SELECT 'x'"),
        ] {
            assert_eq!(
                without_frozen_instants(definition),
                compared,
                "{definition}"
            );
        }
    }
}
