//! Splitting SQL scripts into statements (for migrations that run outside a transaction, and to
//! check every script before it runs).
//!
//! Some statements cannot run inside a transaction block (PostgreSQL's
//! `CREATE INDEX CONCURRENTLY`, `ALTER TYPE ... ADD VALUE` before PostgreSQL 12, ...). A
//! migration marked "no transaction" is therefore sent statement by statement, which needs the
//! script cut at its top-level `;`. The cut also lets an error reported by the database for one
//! statement be located in the file.
//!
//! Finding the top-level `;` is a lexical question (strings, quoted identifiers, dollar quotes,
//! comments, nested comments...), so it is answered by sqlparser's tokenizer in the script's
//! dialect rather than by a lexer of our own. On top of the tokens, two things are ours:
//!
//! - **Compound bodies.** A SQLite or MySQL trigger (`CREATE TRIGGER ... BEGIN ...; ...; END`),
//!   a MySQL stored routine or event, and a PostgreSQL 14+ SQL-standard function body
//!   (`BEGIN ATOMIC ...; ...; END`) contain `;` that do not end the statement. Inside those
//!   statements only, `BEGIN`/`CASE` ... `END` nesting is tracked; a plain `BEGIN;`, `COMMIT;`
//!   or `END;` elsewhere is an ordinary statement.
//! - **Tokenizer gaps** (sqlparser 0.63), each worked around below:
//!   PostgreSQL escape strings whose escapes denote non-ASCII bytes (`E'\xC3\xA9'`) are
//!   rejected as "Unterminated encoded string literal"; SQLite's block comments may end at the
//!   end of input but are rejected as unterminated; MySQL's executable comments (`/*!40101 ...
//!   */`) are re-tokenized with positions that do not match the text; MySQL's `--` at the very
//!   end of a script is a comment but read as two minus signs.

use std::fmt;
use std::ops::ControlFlow;

use sqlparser::dialect::{
    Dialect as TokenizerDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect,
};
use sqlparser::tokenizer::{Location, Token, Tokenizer, Whitespace};

use crate::dialect::Dialect;

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement's text, from its first token to its last token (the terminating `;`
    /// excluded), as a slice of the script.
    pub text: &'a str,
    /// Byte offset of `text` in the script.
    pub offset: usize,
    /// 1-based line and column (in characters) where `text` starts in the script.
    pub line: usize,
    pub column: usize,
    /// The transaction control this statement is, if it is one (read from its leading
    /// unquoted words, so a `BEGIN` in a function body or trigger, or the `END` of a `CASE`,
    /// is none).
    pub control: Option<Control>,
}

/// A statement that starts, ends or subdivides a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `BEGIN` or `START TRANSACTION`; `plain` when nothing but `WORK`/`TRANSACTION` (SQLite:
    /// `DEFERRED`/`IMMEDIATE`/`EXCLUSIVE`) follows, i.e. no isolation level or access mode.
    Begin { plain: bool },
    /// `COMMIT` or `END`; `plain` when nothing but `WORK`/`TRANSACTION` follows (no `AND CHAIN`).
    Commit { plain: bool },
    /// `ROLLBACK` or `ABORT` of the whole transaction.
    Rollback,
    /// `SAVEPOINT`, `RELEASE [SAVEPOINT]`, `ROLLBACK [WORK | TRANSACTION] TO ...`.
    Savepoint,
    /// `PREPARE TRANSACTION`, `COMMIT PREPARED`, `ROLLBACK PREPARED` (two-phase commit).
    TwoPhase,
}

/// What a statement is, as [`Control`] tells it, from its lexemes.
fn control(lexemes: &[Lexeme]) -> Option<Control> {
    let keyword = |index: usize| match lexemes.get(index).map(|lexeme| lexeme.kind) {
        Some(Kind::Keyword(keyword)) => Some(keyword),
        _ => None,
    };
    // Whether every lexeme from `from` on is one of `words`.
    let only = |from: usize, words: &[Keyword]| {
        lexemes
            .iter()
            .skip(from)
            .all(|lexeme| matches!(lexeme.kind, Kind::Keyword(k) if words.contains(&k)))
    };
    use Keyword::{
        Abort, Begin, Commit, Deferred, End, Exclusive, Immediate, Prepare, Prepared, Release,
        Rollback, Savepoint, Start, To, Transaction, Work,
    };
    Some(match keyword(0)? {
        Begin => Control::Begin {
            plain: only(1, &[Work, Transaction, Deferred, Immediate, Exclusive]),
        },
        Start if keyword(1) == Some(Transaction) => Control::Begin {
            plain: only(2, &[]),
        },
        Commit if keyword(1) == Some(Prepared) => Control::TwoPhase,
        Commit | End => Control::Commit {
            plain: only(1, &[Work, Transaction]),
        },
        Rollback if keyword(1) == Some(Prepared) => Control::TwoPhase,
        Rollback if (1..=2).any(|index| keyword(index) == Some(To)) => Control::Savepoint,
        Rollback | Abort => Control::Rollback,
        Savepoint | Release => Control::Savepoint,
        Prepare if keyword(1) == Some(Transaction) => Control::TwoPhase,
        _ => return None,
    })
}

/// A script that could not be split, because the tokenizer could not read part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    /// What the tokenizer could not read (e.g. "Unterminated string literal"), as sqlparser
    /// words it.
    pub message: String,
    /// 1-based line and column (in characters) where the unreadable token starts (for an
    /// unterminated literal or comment: where it opens, not the end of the script).
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {}, column {}",
            self.message, self.line, self.column
        )
    }
}

impl std::error::Error for SplitError {}

/// Splits `sql` into statements at top-level `;`. Comments and whitespace between statements are
/// not part of any statement; a script of only comments/whitespace yields no statements; empty
/// statements (`;;`) are skipped.
///
/// Semicolons inside literals, quoted identifiers, comments, and the compound bodies described in
/// the [module documentation](self) do not end a statement. A final statement without a trailing
/// `;` is still a statement. Never panics.
///
/// # Errors
///
/// A [`SplitError`] when the tokenizer cannot read the script (an unterminated literal, quoted
/// identifier or comment), located where the unreadable token starts.
pub fn split(sql: &str, dialect: Dialect) -> Result<Vec<Statement<'_>>, SplitError> {
    let mut statements = Vec::new();
    for_each(sql, dialect, |statement| {
        statements.push(statement);
        ControlFlow::Continue(())
    })?;
    Ok(statements)
}

/// Like [`split`], but hands each statement to `visit` as soon as it is read, so a caller that
/// keeps little (a check, a count) needs memory for a chunk of the script only, not for all its
/// statements. `visit` may stop the split early with `ControlFlow::Break`.
///
/// # Errors
///
/// As [`split`]; statements before the unreadable token have been visited.
pub fn for_each<'a>(
    sql: &'a str,
    dialect: Dialect,
    visit: impl FnMut(Statement<'a>) -> ControlFlow<()>,
) -> Result<(), SplitError> {
    split_in_chunks(sql, dialect, CHUNK, visit)
}

/// Bytes of script tokenized at a time. sqlparser's tokenizer keeps every token of its input
/// (some 90 bytes each, whitespace included), so a large script read whole would need many
/// times its size in memory; in chunks, only the statements' bounds are kept.
const CHUNK: usize = 256 * 1024;

fn split_in_chunks<'a>(
    sql: &'a str,
    dialect: Dialect,
    chunk: usize,
    mut visit: impl FnMut(Statement<'a>) -> ControlFlow<()>,
) -> Result<(), SplitError> {
    let mut locator = Locator::new(sql);
    let mut pending = Pending::default();
    let mut failure = None;
    lex(
        sql,
        dialect,
        chunk,
        &mut locator.clone(),
        |lexemes, at_end| match pending.emit(
            sql,
            dialect,
            &mut locator,
            lexemes,
            at_end,
            &mut visit,
        ) {
            Ok(flow) => flow,
            Err(error) => {
                failure = Some(error);
                ControlFlow::Break(())
            }
        },
    )?;
    failure.map_or(Ok(()), Err)
}

/// The statement being read: how far its lexemes have been scanned for the `;` that ends it,
/// so a statement spread over many chunks is scanned once, not once per chunk.
#[derive(Default)]
struct Pending {
    /// `None` until the statement's head is known (see [`Pending::emit`]).
    scan: Option<Scan>,
}

struct Scan {
    blocks: Blocks,
    /// Lexemes of the statement already looked at.
    index: usize,
}

/// Lexemes enough to read any statement head [`has_compound_body`] looks at.
const HEAD: usize = 16;

impl Pending {
    /// Hands `visit` the statements of `lexemes` that are complete (ended by a `;`, or by the
    /// end of the script when `at_end`), and removes their lexemes.
    fn emit<'a>(
        &mut self,
        sql: &'a str,
        dialect: Dialect,
        locator: &mut Locator<'_>,
        lexemes: &mut Vec<Lexeme>,
        at_end: bool,
        visit: &mut impl FnMut(Statement<'a>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, SplitError> {
        let mut consumed = 0;
        let mut flow = ControlFlow::Continue(());
        while let Some(rest) = lexemes.get(consumed..).filter(|rest| !rest.is_empty()) {
            if rest[0].kind == Kind::Semicolon && self.scan.is_none() {
                // An empty statement (`;;`, or a `;` with nothing before it).
                consumed += 1;
                continue;
            }
            let Some(length) = self.statement_length(rest, dialect, at_end) else {
                break;
            };
            let first = rest[0];
            let end = rest
                .get(..length)
                .and_then(<[Lexeme]>::last)
                .map_or(first.end, |last| last.end);
            // `trim_ascii_end`: sqlparser's MySQL tokenizer reads `@` and the character after it
            // as one word whatever that character is, so `SELECT @\t` would end with a tab.
            let Some(text) = sql.get(first.start..end).map(str::trim_ascii_end) else {
                // Unreachable: lexemes are in script order and on character boundaries.
                let (line, column) = locator.position(first.start);
                return Err(SplitError {
                    message: "internal error: statement bounds out of order".to_owned(),
                    line,
                    column,
                });
            };
            let (line, column) = locator.position(first.start);
            let control = control(rest.get(..length).unwrap_or_default());
            // The statement and its terminating `;` (if any).
            consumed += (length + 1).min(rest.len());
            if visit(Statement {
                text,
                offset: first.start,
                line,
                column,
                control,
            })
            .is_break()
            {
                flow = ControlFlow::Break(());
                break;
            }
        }
        lexemes.drain(..consumed.min(lexemes.len()));
        Ok(flow)
    }

    /// Number of lexemes of the statement that `lexemes` starts with, up to (excluding) the `;`
    /// that ends it, or all of them at the end of the script; `None` when more lexemes are
    /// needed to know.
    fn statement_length(
        &mut self,
        lexemes: &[Lexeme],
        dialect: Dialect,
        at_end: bool,
    ) -> Option<usize> {
        if self.scan.is_none() {
            let head_known = at_end
                || lexemes.len() >= HEAD
                || lexemes.iter().any(|lexeme| lexeme.kind == Kind::Semicolon);
            if !head_known {
                return None;
            }
            self.scan = Some(Scan {
                blocks: Blocks {
                    dialect,
                    tracking: has_compound_body(lexemes, dialect),
                    depth: 0,
                    end_case: false,
                },
                index: 0,
            });
        }
        let scan = self.scan.as_mut()?;
        // A keyword's meaning may depend on the lexeme after it, which may be in the next chunk.
        let limit = if at_end {
            lexemes.len()
        } else {
            lexemes.len().saturating_sub(1)
        };
        while scan.index < limit {
            let index = scan.index;
            scan.index += 1;
            match lexemes[index].kind {
                Kind::Semicolon if scan.blocks.depth == 0 => {
                    self.scan = None;
                    return Some(index);
                }
                Kind::Keyword(keyword) => {
                    let next = lexemes.get(index + 1).map(|next| next.kind);
                    scan.blocks.keyword(keyword, next);
                }
                _ => {}
            }
        }
        if at_end {
            self.scan = None;
            return Some(lexemes.len());
        }
        None
    }
}

/// Converts a 1-based character position into `text` (as PostgreSQL reports error positions) to
/// a 1-based (line, column), columns in characters. Positions past the end clamp to the end
/// (the position just after the last character); position 0 is taken as 1.
///
/// Lines end at `\n` (so CRLF text counts lines as expected), as in [`split`].
pub fn line_column_of_char_position(text: &str, position: usize) -> (usize, usize) {
    let offset = text
        .char_indices()
        .nth(position.saturating_sub(1))
        .map_or(text.len(), |(offset, _)| offset);
    line_column_of_byte_offset(text, offset)
}

/// 1-based (line, column in characters) of a byte offset into `text`, e.g. to show where a
/// [`Statement`] starts. An offset inside a multi-byte character counts as that character's
/// start; offsets past the end clamp to the end.
pub fn line_column_of_byte_offset(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset)];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.bytes().filter(|&byte| byte == b'\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// A token that matters for splitting (whitespace and comments dropped), by byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lexeme {
    start: usize,
    end: usize,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Semicolon,
    /// An unquoted word the statement-boundary rules look at.
    Keyword(Keyword),
    /// Any other token (including words the rules ignore).
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    Abort,
    Atomic,
    Begin,
    Case,
    Commit,
    Create,
    Deferred,
    Definer,
    End,
    Event,
    Exclusive,
    Function,
    If,
    Immediate,
    Loop,
    Or,
    Prepare,
    Prepared,
    Procedure,
    Release,
    Repeat,
    Replace,
    Rollback,
    Savepoint,
    Start,
    /// `TEMP` or `TEMPORARY`.
    Temporary,
    To,
    Transaction,
    Trigger,
    While,
    Work,
}

impl Keyword {
    const SPELLINGS: [(&'static str, Keyword); 32] = [
        ("ABORT", Keyword::Abort),
        ("ATOMIC", Keyword::Atomic),
        ("BEGIN", Keyword::Begin),
        ("CASE", Keyword::Case),
        ("COMMIT", Keyword::Commit),
        ("CREATE", Keyword::Create),
        ("DEFERRED", Keyword::Deferred),
        ("DEFINER", Keyword::Definer),
        ("END", Keyword::End),
        ("EVENT", Keyword::Event),
        ("EXCLUSIVE", Keyword::Exclusive),
        ("FUNCTION", Keyword::Function),
        ("IF", Keyword::If),
        ("IMMEDIATE", Keyword::Immediate),
        ("LOOP", Keyword::Loop),
        ("OR", Keyword::Or),
        ("PREPARE", Keyword::Prepare),
        ("PREPARED", Keyword::Prepared),
        ("PROCEDURE", Keyword::Procedure),
        ("RELEASE", Keyword::Release),
        ("REPEAT", Keyword::Repeat),
        ("REPLACE", Keyword::Replace),
        ("ROLLBACK", Keyword::Rollback),
        ("SAVEPOINT", Keyword::Savepoint),
        ("START", Keyword::Start),
        ("TEMP", Keyword::Temporary),
        ("TEMPORARY", Keyword::Temporary),
        ("TO", Keyword::To),
        ("TRANSACTION", Keyword::Transaction),
        ("TRIGGER", Keyword::Trigger),
        ("WHILE", Keyword::While),
        ("WORK", Keyword::Work),
    ];

    /// The keyword an unquoted word spells, if the splitter cares about it.
    fn of(word: &str) -> Option<Keyword> {
        Self::SPELLINGS
            .iter()
            .find(|(spelling, _)| word.eq_ignore_ascii_case(spelling))
            .map(|&(_, keyword)| keyword)
    }
}

/// Tokenizes `sql` with sqlparser, in chunks of about `chunk_size` bytes, and hands the lexemes
/// that matter for splitting to `on_lexemes` after each chunk (`at_end` after the last), which
/// removes those it is done with. Stops early when `on_lexemes` breaks.
///
/// A chunk ends just after a newline, which no word, number or operator contains; a token that
/// does span the cut (a string, a comment) makes the tokenizer fail on it, and reading resumes
/// at that token with a larger chunk, so the lexemes are those of the whole script read at once.
///
/// When the tokenizer rejects a token that the database accepts (see [`recover`]), the token's
/// extent is found by hand and tokenizing resumes after it, on the rest of the script.
fn lex(
    sql: &str,
    dialect: Dialect,
    chunk_size: usize,
    locator: &mut Locator<'_>,
    mut on_lexemes: impl FnMut(&mut Vec<Lexeme>, bool) -> ControlFlow<()>,
) -> Result<(), SplitError> {
    let postgres = PostgreSqlDialect {};
    let sqlite = SQLiteDialect {};
    let mysql = MySqlDialect {};
    let tokenizer_dialect: &dyn TokenizerDialect = match dialect {
        Dialect::Postgres => &postgres,
        Dialect::Sqlite => &sqlite,
        Dialect::Mysql => &mysql,
    };

    let mut sink = LexemeSink::default();
    let mut base = 0;
    let mut size = chunk_size.max(1);
    // Reused across chunks: the tokens of one chunk at a time.
    let mut tokens = Vec::new();
    while base < sql.len() {
        let (end, last) = chunk_end(sql, base, size);
        let Some(chunk) = sql.get(base..end) else {
            break;
        };
        // The tokenizer counts lines and columns from the start of `chunk`.
        let origin = locator.position(base);
        tokens.clear();
        let outcome = Tokenizer::new(tokenizer_dialect, chunk)
            .with_unescape(false)
            .tokenize_with_location_into_buf(&mut tokens);
        // On a failure inside a chunk that is not the last, the tokens read before the failing
        // one are kept if whitespace precedes it (a fresh tokenizer reads a token after
        // whitespace as it would after nothing); otherwise the chunk is read again, larger.
        let keep = outcome.is_ok()
            || last
            || tokens
                .last()
                .is_none_or(|token| matches!(token.token, Token::Whitespace(_)));
        // Where the token after the last one read starts.
        let mut next_start = base;
        if keep {
            for token in &tokens {
                let start = locator.byte_offset(rebase(origin, token.span.start));
                let end = locator
                    .byte_offset(rebase(origin, token.span.end))
                    .max(start);
                next_start = next_start.max(end);
                sink.push(sql, &token.token, start, end);
            }
        }
        match outcome {
            Ok(()) => {
                base = end;
                size = chunk_size.max(1);
            }
            Err(_) if !last => {
                base = next_start;
                size = size.saturating_mul(2);
            }
            Err(error) => match recover(sql, next_start, dialect) {
                Some(Recovery::Token { end }) => {
                    sink.lexemes.push(Lexeme {
                        start: next_start,
                        end,
                        kind: Kind::Other,
                    });
                    base = end;
                }
                Some(Recovery::CommentToEnd) => break,
                None => {
                    let mut at = next_start;
                    if let Some(hint) = &sink.hint
                        && (hint.start..hint.end).contains(&at)
                    {
                        // The last token read came from an executable comment, whose positions
                        // are not the text's (see `LexemeSink`): the error is in the comment
                        // (reported inside it) or right after it.
                        let reported = locator.byte_offset(rebase(origin, error.location));
                        at = if reported < hint.end {
                            hint.start
                        } else {
                            hint.end
                        };
                    }
                    let (line, column) = locator.position(at);
                    return Err(SplitError {
                        message: error.message,
                        line,
                        column,
                    });
                }
            },
        }
        if on_lexemes(&mut sink.lexemes, false).is_break() {
            return Ok(());
        }
    }
    let lexemes = &mut sink.lexemes;
    if dialect == Dialect::Mysql && sql.ends_with("--") {
        // MySQL starts a comment at `--` followed by whitespace or a control character, which
        // includes the end of the input; sqlparser requires whitespace, and reads a final `--`
        // as two minus signs.
        let dashes = sql.len() - 2;
        while lexemes.last().is_some_and(|lexeme| lexeme.start >= dashes) {
            lexemes.pop();
        }
        // `@--`: the `@` word took a dash (see `split`).
        if let Some(last) = lexemes.last_mut() {
            last.end = last.end.min(dashes);
        }
    }
    let _ = on_lexemes(lexemes, true);
    Ok(())
}

/// Where the chunk starting at `base` ends: just after the first newline at least `size` bytes
/// on, or at the end of the script; and whether that is the end.
fn chunk_end(sql: &str, base: usize, size: usize) -> (usize, bool) {
    let target = base.saturating_add(size);
    let newline = sql
        .as_bytes()
        .get(target..)
        .and_then(|rest| rest.iter().position(|&byte| byte == b'\n'));
    match newline {
        Some(index) if target + index + 1 < sql.len() => (target + index + 1, false),
        _ => (sql.len(), true),
    }
}

/// How to carry on after the tokenizer rejected the token at some offset.
enum Recovery {
    /// The token is valid and ends at byte `end`: keep it as an opaque token.
    Token { end: usize },
    /// The token is a comment that runs to the end of the script.
    CommentToEnd,
}

/// Works around tokenizer rejections of tokens the database accepts (sqlparser 0.63); `at` is
/// where the rejected token starts. `None` when the error stands.
///
/// - PostgreSQL: sqlparser decodes escape strings while tokenizing and fails on escapes that
///   denote bytes above 0x7F, e.g. `E'\xC3\xA9'` (UTF-8 for `é`), reporting them as
///   unterminated. Their extent is simple to find: `\` escapes the next character, `''` is a
///   quote. What the escapes mean is the server's business.
/// - SQLite: a block comment may end at the end of input ("up to and including the next `*/` or
///   until the end of input", sqlite.org/lang_comment.html); sqlparser requires the `*/`.
fn recover(sql: &str, at: usize, dialect: Dialect) -> Option<Recovery> {
    let rest = sql.get(at..)?;
    match dialect {
        Dialect::Postgres if rest.starts_with("E'") || rest.starts_with("e'") => {
            escape_string_length(rest).map(|length| Recovery::Token { end: at + length })
        }
        Dialect::Sqlite if rest.starts_with("/*") => Some(Recovery::CommentToEnd),
        _ => None,
    }
}

/// Length in bytes of the PostgreSQL escape string (`E'...'`) that `text` starts with, or `None`
/// when it is not terminated.
fn escape_string_length(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    // Past the `E'`. Only ASCII bytes are compared, and UTF-8 continuation bytes never equal an
    // ASCII byte, so byte steps cannot mistake part of a character for a quote.
    let mut index = 2;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'\\' => index += 2,
            b'\'' if bytes.get(index + 1) == Some(&b'\'') => index += 2,
            b'\'' => return Some(index + 1),
            _ => index += 1,
        }
    }
    None
}

/// Collects lexemes from tokens, undoing sqlparser's expansion of MySQL executable comments.
///
/// sqlparser replaces `/*!40101 SET NAMES utf8 */` by the tokens of its content, positioned as if
/// the content started where the comment does. Those positions do not match the text, so the
/// whole comment is kept as one opaque lexeme instead (MySQL executes the content; a `;` in it
/// does not end the statement).
#[derive(Default)]
struct LexemeSink {
    lexemes: Vec<Lexeme>,
    /// The executable comment being skipped over, if any.
    hint: Option<Hint>,
}

struct Hint {
    start: usize,
    end: usize,
    /// Whether the comment's lexeme was pushed (not before a non-whitespace token of its
    /// content is seen: `/*!40101 */` is only a comment).
    pushed: bool,
}

impl LexemeSink {
    fn push(&mut self, sql: &str, token: &Token, start: usize, end: usize) {
        let whitespace = matches!(token, Token::Whitespace(_) | Token::EOF);
        let is_comment = matches!(token, Token::Whitespace(Whitespace::MultiLineComment(_)));
        let inside_hint = self.hint.as_ref().is_some_and(|hint| start < hint.end);
        if !inside_hint && !is_comment && sql.get(start..).is_some_and(|s| s.starts_with("/*")) {
            // No token but a comment starts with `/*`: this is the first token of an expanded
            // executable comment, which ends at the first `*/` (MySQL comments do not nest).
            let end = sql
                .get(start + 2..)
                .and_then(|content| content.find("*/"))
                .map_or(sql.len(), |close| start + 2 + close + 2);
            self.hint = Some(Hint {
                start,
                end,
                pushed: false,
            });
        }
        if let Some(hint) = self.hint.as_mut().filter(|hint| start < hint.end) {
            if !whitespace && !hint.pushed {
                hint.pushed = true;
                self.lexemes.push(Lexeme {
                    start: hint.start,
                    end: hint.end,
                    kind: Kind::Other,
                });
            }
            return;
        }
        let kind = match token {
            _ if whitespace => return,
            Token::SemiColon => Kind::Semicolon,
            Token::Word(word) if word.quote_style.is_none() => {
                Keyword::of(&word.value).map_or(Kind::Other, Kind::Keyword)
            }
            _ => Kind::Other,
        };
        self.lexemes.push(Lexeme { start, end, kind });
    }
}

/// Whether the statement `lexemes` starts with is a SQLite or MySQL trigger, or a MySQL stored
/// routine or event: statements whose body may be a `BEGIN ... END` block of `;`-terminated
/// statements.
///
/// Recognised heads: `CREATE [OR REPLACE] [TEMP | TEMPORARY] TRIGGER` (SQLite, MySQL), and for
/// MySQL also `CREATE [OR REPLACE] [DEFINER = user] {TRIGGER | PROCEDURE | FUNCTION | EVENT}`.
fn has_compound_body(lexemes: &[Lexeme], dialect: Dialect) -> bool {
    if dialect == Dialect::Postgres {
        return false;
    }
    let mut kinds = lexemes
        .iter()
        .map(|lexeme| lexeme.kind)
        .take_while(|&kind| kind != Kind::Semicolon);
    if kinds.next() != Some(Kind::Keyword(Keyword::Create)) {
        return false;
    }
    let mut next = kinds.next();
    if next == Some(Kind::Keyword(Keyword::Or)) {
        if kinds.next() != Some(Kind::Keyword(Keyword::Replace)) {
            return false;
        }
        next = kinds.next();
    }
    if next == Some(Kind::Keyword(Keyword::Temporary)) {
        next = kinds.next();
    }
    let is_routine = |kind: &Kind| {
        matches!(
            kind,
            Kind::Keyword(
                Keyword::Trigger | Keyword::Procedure | Keyword::Function | Keyword::Event
            )
        )
    };
    if dialect == Dialect::Mysql && next == Some(Kind::Keyword(Keyword::Definer)) {
        // `= 'user'@'host'`, `= user@host`, `= CURRENT_USER()`: a few tokens.
        next = kinds.take(8).find(is_routine);
    }
    match next {
        Some(Kind::Keyword(Keyword::Trigger)) => true,
        Some(kind) => dialect == Dialect::Mysql && is_routine(&kind),
        None => false,
    }
}

/// `BEGIN`/`CASE` ... `END` nesting inside one statement.
struct Blocks {
    dialect: Dialect,
    /// Whether the statement has a compound body, so nesting is tracked (known from its head for
    /// SQLite/MySQL, from `BEGIN ATOMIC` for PostgreSQL).
    tracking: bool,
    depth: usize,
    /// The next keyword is the `CASE` of MySQL's `END CASE`, which opens nothing.
    end_case: bool,
}

impl Blocks {
    fn keyword(&mut self, keyword: Keyword, next: Option<Kind>) {
        if std::mem::take(&mut self.end_case) {
            return;
        }
        match keyword {
            Keyword::Begin => {
                if self.dialect == Dialect::Postgres && next == Some(Kind::Keyword(Keyword::Atomic))
                {
                    self.tracking = true;
                }
                if self.tracking {
                    self.depth = self.depth.saturating_add(1);
                }
            }
            // A `CASE` expression or (MySQL) statement, closed by `END` or `END CASE`.
            Keyword::Case if self.tracking => self.depth = self.depth.saturating_add(1),
            Keyword::End if self.tracking => {
                // MySQL's `END IF`, `END LOOP`, `END WHILE`, `END REPEAT` close constructs
                // that were not counted (their bodies are within a `BEGIN` anyway).
                let closes_uncounted = matches!(
                    next,
                    Some(Kind::Keyword(
                        Keyword::If | Keyword::Loop | Keyword::While | Keyword::Repeat
                    ))
                );
                if !closes_uncounted {
                    self.depth = self.depth.saturating_sub(1);
                    self.end_case = next == Some(Kind::Keyword(Keyword::Case));
                }
            }
            _ => {}
        }
    }
}

/// A position reported by a tokenizer that started at `origin`, as a position in the script.
fn rebase(origin: (usize, usize), location: Location) -> (usize, usize) {
    let line = usize::try_from(location.line).unwrap_or(usize::MAX).max(1);
    let column = usize::try_from(location.column)
        .unwrap_or(usize::MAX)
        .max(1);
    if line == 1 {
        (origin.0, origin.1.saturating_add(column - 1))
    } else {
        (origin.0.saturating_add(line - 1), column)
    }
}

/// Converts between byte offsets and 1-based (line, column in characters) positions in one
/// text, as sqlparser's tokenizer counts them: lines end at `\n` only (a `\r` is an ordinary
/// character of its line).
///
/// Positions are mostly asked for in increasing order, so the last answer is kept as a cursor
/// to walk on from, keeping the whole split linear even on one very long line.
#[derive(Clone)]
struct Locator<'a> {
    text: &'a str,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
    cursor: Cursor,
}

#[derive(Debug, Clone, Copy)]
struct Cursor {
    line: usize,
    column: usize,
    offset: usize,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(newline, _)| newline + 1))
            .collect();
        Locator {
            text,
            line_starts,
            cursor: Cursor {
                line: 1,
                column: 1,
                offset: 0,
            },
        }
    }

    /// Byte offset of a (line, column). Positions past the end of their line clamp to the line's
    /// end, lines past the last to the end of the text.
    fn byte_offset(&mut self, (line, column): (usize, usize)) -> usize {
        let line = line.max(1);
        let Some(&line_start) = self.line_starts.get(line - 1) else {
            return self.text.len();
        };
        // The line's `\n`, or the end of the text.
        let line_end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |next_start| next_start - 1);
        let mut cursor = if self.cursor.line == line && self.cursor.column <= column {
            self.cursor
        } else {
            Cursor {
                line,
                column: 1,
                offset: line_start,
            }
        };
        let mut characters = self.text.get(cursor.offset..line_end).unwrap_or("").chars();
        while cursor.column < column {
            let Some(character) = characters.next() else {
                break;
            };
            cursor.column += 1;
            cursor.offset += character.len_utf8();
        }
        self.cursor = cursor;
        cursor.offset
    }

    /// (line, column) of a byte offset, clamped to the text and rounded down to a character
    /// boundary.
    fn position(&mut self, offset: usize) -> (usize, usize) {
        let offset = self.text.floor_char_boundary(offset);
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self
            .line_starts
            .get(line.wrapping_sub(1))
            .copied()
            .unwrap_or(0);
        let from = if self.cursor.line == line && self.cursor.offset <= offset {
            self.cursor
        } else {
            Cursor {
                line,
                column: 1,
                offset: line_start,
            }
        };
        let column = from.column
            + self
                .text
                .get(from.offset..offset)
                .map_or(0, |between| between.chars().count());
        self.cursor = Cursor {
            line,
            column,
            offset,
        };
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---------------------------------------------------------------- helpers

    /// Splits `sql` read whole, and checks that reading it in chunks of a few bytes (every cut
    /// falling inside tokens, strings, comments and statement heads) gives the same statements,
    /// or the same error.
    fn chunked(sql: &str, dialect: Dialect) -> Result<Vec<Statement<'_>>, SplitError> {
        let collect = |chunk: usize| {
            let mut statements = Vec::new();
            split_in_chunks(sql, dialect, chunk, |statement| {
                statements.push(statement);
                ControlFlow::Continue(())
            })
            .map(|()| statements)
        };
        let whole = collect(usize::MAX);
        for chunk in [1, 2, 3, 7, 16, 64] {
            assert_eq!(
                collect(chunk),
                whole,
                "{dialect}, chunks of {chunk}: {sql:?}"
            );
        }
        whole
    }

    /// Splits and checks the invariants every split must hold, returning the texts.
    fn texts(sql: &str, dialect: Dialect) -> Vec<&str> {
        let statements =
            chunked(sql, dialect).unwrap_or_else(|error| panic!("{dialect}: {error} in {sql:?}"));
        assert_consistent(sql, dialect, &statements);
        statements.iter().map(|statement| statement.text).collect()
    }

    /// Statements are non-empty slices of the script at their offsets, in order, starting with
    /// a token (not whitespace or a comment) at their reported line/column, and what lies
    /// between them is only whitespace, comments and `;`.
    fn assert_consistent(sql: &str, dialect: Dialect, statements: &[Statement<'_>]) {
        let mut previous_end = 0;
        for statement in statements {
            let Statement {
                text,
                offset,
                line,
                column,
                ..
            } = *statement;
            assert!(!text.is_empty(), "empty statement in {sql:?}");
            assert!(
                !text.starts_with(|c: char| c.is_ascii_whitespace())
                    && !text.ends_with(|c: char| c.is_ascii_whitespace())
                    && !starts_with_comment(&sql[offset..], dialect),
                "statement not trimmed to its tokens: {text:?} in {sql:?}"
            );
            assert_eq!(sql.get(offset..offset + text.len()), Some(text));
            assert_eq!(
                (line, column),
                line_column_of_byte_offset(sql, offset),
                "position of {text:?}"
            );
            assert!(offset >= previous_end, "statements overlap in {sql:?}");
            assert_only_separators(sql, previous_end, offset, dialect, false);
            previous_end = offset + text.len();
        }
        assert_only_separators(sql, previous_end, sql.len(), dialect, true);
    }

    fn starts_with_comment(text: &str, dialect: Dialect) -> bool {
        let mysql = dialect == Dialect::Mysql;
        // MySQL executes `/*!...*/`, and `--` is a comment there only before whitespace or the
        // end (or a control character, which sqlparser does not know: a known limitation).
        (text.starts_with("/*") && !(mysql && text.starts_with("/*!")))
            || text
                .strip_prefix("--")
                .is_some_and(|rest| !mysql || rest.chars().next().is_none_or(char::is_whitespace))
            || (mysql && text.starts_with('#'))
    }

    /// What lies between two statements tokenizes to whitespace, comments and `;` only.
    fn assert_only_separators(sql: &str, from: usize, to: usize, dialect: Dialect, last: bool) {
        let mut gap = &sql[from..to];
        if last && dialect == Dialect::Mysql {
            // A final `--` is a comment for MySQL, minus signs for sqlparser (see `lex`).
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
                "not only separators between statements: {gap:?} in {sql:?}"
            ),
            // SQLite's comment running to the end of the script (see `recover`).
            Err(_) => assert!(
                last && dialect == Dialect::Sqlite && gap.contains("/*"),
                "gap does not tokenize: {gap:?}"
            ),
        }
    }

    fn all(sql: &str, expected: &[&str]) {
        for dialect in Dialect::ALL {
            assert_eq!(texts(sql, dialect), expected, "{dialect}");
        }
    }

    fn error(sql: &str, dialect: Dialect) -> SplitError {
        match chunked(sql, dialect) {
            Ok(statements) => panic!("{dialect}: expected an error, got {statements:?}"),
            Err(error) => error,
        }
    }

    // ---------------------------------------------------------------- basics

    #[test]
    fn splits_at_semicolons_and_keeps_a_final_statement_without_one() {
        all(
            "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\nSELECT 1",
            &[
                "CREATE TABLE a (id int)",
                "INSERT INTO a VALUES (1)",
                "SELECT 1",
            ],
        );
        all("SELECT 1;", &["SELECT 1"]);
        all("  SELECT 1  ", &["SELECT 1"]);
    }

    #[test]
    fn skips_empty_statements_comments_and_whitespace() {
        all("", &[]);
        all(" \n\t ", &[]);
        all(";", &[]);
        all(";; ;\n;", &[]);
        all("-- only a comment\n/* and another */\n", &[]);
        all("-- no newline at the end", &[]);
        all("SELECT 1;;SELECT 2;;;", &["SELECT 1", "SELECT 2"]);
        all(
            "-- header\nSELECT 1 -- trailing\n;\n/* between */ SELECT 2 /* before ; */;",
            &["SELECT 1", "SELECT 2"],
        );
        // A comment inside a statement is part of its text.
        all("SELECT 1 -- one\n + 2;", &["SELECT 1 -- one\n + 2"]);
    }

    // ---------------------------------------------------------------- literals

    #[test]
    fn semicolon_in_single_quoted_strings() {
        all(
            "SELECT 'a;b'; SELECT 'it''s;'; SELECT '';",
            &["SELECT 'a;b'", "SELECT 'it''s;'", "SELECT ''"],
        );
    }

    #[test]
    fn semicolon_in_postgres_escape_strings() {
        assert_eq!(
            texts(
                r"SELECT E'a\';b'; SELECT e'\\'; SELECT E'x''y;';",
                Dialect::Postgres
            ),
            [r"SELECT E'a\';b'", r"SELECT e'\\'", r"SELECT E'x''y;'"]
        );
    }

    /// sqlparser rejects `E'\xC3\xA9'` (escapes denoting bytes above 0x7F) as an unterminated
    /// literal; PostgreSQL reads `é`. See `recover`.
    #[test]
    fn postgres_escape_strings_with_non_ascii_byte_escapes() {
        assert!(
            Tokenizer::new(&PostgreSqlDialect {}, r"E'\xC3\xA9'")
                .tokenize()
                .is_err(),
            "sqlparser now accepts E'\\xC3\\xA9': the workaround in `recover` can go"
        );
        let sql = "INSERT INTO t VALUES (E'\\xC3\\xA9;\\'', 'x;');\nSELECT E'\\377' || 'é';";
        assert_eq!(
            texts(sql, Dialect::Postgres),
            [
                "INSERT INTO t VALUES (E'\\xC3\\xA9;\\'', 'x;')",
                "SELECT E'\\377' || 'é'",
            ]
        );
        let statements = chunked(sql, Dialect::Postgres).unwrap();
        assert_eq!((statements[1].line, statements[1].column), (2, 1));
        // Still an error when it is really unterminated.
        let unterminated = error("SELECT 1;\nSELECT E'\\xC3 ;", Dialect::Postgres);
        assert_eq!((unterminated.line, unterminated.column), (2, 8));
    }

    #[test]
    fn semicolon_in_dollar_quotes() {
        let sql = "\
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;
DO $body$ BEGIN PERFORM 1; RAISE NOTICE '$$;'; END $body$;
SELECT $tag$ a $$ ; b $other$ ; $tag$, $1;";
        assert_eq!(
            texts(sql, Dialect::Postgres),
            [
                "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    NEW.updated_at = now();\n    RETURN NEW;\nEND;\n$$",
                "DO $body$ BEGIN PERFORM 1; RAISE NOTICE '$$;'; END $body$",
                "SELECT $tag$ a $$ ; b $other$ ; $tag$, $1",
            ]
        );
    }

    #[test]
    fn semicolon_in_quoted_identifiers() {
        assert_eq!(
            texts(
                r#"CREATE TABLE "a;b" ("c"";" int); SELECT 1;"#,
                Dialect::Postgres
            ),
            [r#"CREATE TABLE "a;b" ("c"";" int)"#, "SELECT 1"]
        );
        for dialect in [Dialect::Sqlite, Dialect::Mysql] {
            assert_eq!(
                texts("CREATE TABLE `a;b` (`c``;` int); SELECT 1;", dialect),
                ["CREATE TABLE `a;b` (`c``;` int)", "SELECT 1"],
                "{dialect}"
            );
        }
        assert_eq!(
            texts(r#"SELECT [a;b], "c;d" FROM t; SELECT 1"#, Dialect::Sqlite),
            [r#"SELECT [a;b], "c;d" FROM t"#, "SELECT 1"]
        );
    }

    #[test]
    fn mysql_strings_with_backslash_escapes() {
        assert_eq!(
            texts(
                r#"INSERT INTO t VALUES ('a\';b', "c\";d", 'e\\'); SELECT 1"#,
                Dialect::Mysql
            ),
            [
                r#"INSERT INTO t VALUES ('a\';b', "c\";d", 'e\\')"#,
                "SELECT 1"
            ]
        );
    }

    // ---------------------------------------------------------------- comments

    #[test]
    fn semicolon_in_line_comments() {
        all(
            "SELECT 1 -- a;b\n, 2; -- c;d\nSELECT 3 -- e;f",
            &["SELECT 1 -- a;b\n, 2", "SELECT 3"],
        );
        assert_eq!(
            texts("SELECT 1 # a;b\n; # c;d\nSELECT 2", Dialect::Mysql),
            ["SELECT 1", "SELECT 2"]
        );
        // MySQL: `--` is a comment before whitespace, a control character or the end only.
        assert_eq!(
            texts("SELECT 1 --x;\nSELECT 2; --", Dialect::Mysql),
            ["SELECT 1 --x", "SELECT 2"]
        );
        assert_eq!(texts("SELECT 1--", Dialect::Mysql), ["SELECT 1"]);
    }

    #[test]
    fn semicolon_in_block_comments() {
        all(
            "/* a;\n b; */ SELECT 1 /* c; */; /**/ SELECT 2 /* ; */",
            &["SELECT 1", "SELECT 2"],
        );
    }

    #[test]
    fn postgres_block_comments_nest() {
        assert_eq!(
            texts(
                "/* outer /* inner; */ still comment; */ SELECT 1; SELECT /* a /* b; */ c; */ 2;",
                Dialect::Postgres
            ),
            ["SELECT 1", "SELECT /* a /* b; */ c; */ 2"]
        );
    }

    #[test]
    fn sqlite_and_mysql_block_comments_do_not_nest() {
        for dialect in [Dialect::Sqlite, Dialect::Mysql] {
            assert_eq!(
                texts("/* outer /* inner; */ SELECT 1; SELECT 2;", dialect),
                ["SELECT 1", "SELECT 2"],
                "{dialect}"
            );
        }
    }

    /// sqlite.org/lang_comment.html: a block comment may run to the end of input; sqlparser
    /// rejects it. See `recover`.
    #[test]
    fn sqlite_block_comment_may_end_at_end_of_input() {
        assert_eq!(
            texts("SELECT 1; /* trailing; SELECT 2;", Dialect::Sqlite),
            ["SELECT 1"]
        );
        let unterminated = error("SELECT 1;\n  /* trailing", Dialect::Postgres);
        assert_eq!(
            (unterminated.line, unterminated.column),
            (2, 3),
            "{unterminated}"
        );
    }

    /// `/*!40101 ... */` is executed by MySQL; sqlparser re-tokenizes its content with
    /// positions that do not match the text. See `LexemeSink`.
    #[test]
    fn mysql_executable_comments_are_statement_text() {
        let sql = "/*!40101 SET NAMES utf8mb4 */;\n/*!40014 SET a=1; SET b=2 */;\nSELECT 1 /*!*/ /*!40000 */; /*!50000 SELECT*/ 2;";
        assert_eq!(
            texts(sql, Dialect::Mysql),
            [
                "/*!40101 SET NAMES utf8mb4 */",
                "/*!40014 SET a=1; SET b=2 */",
                "SELECT 1",
                "/*!50000 SELECT*/ 2",
            ]
        );
        let statements = chunked(sql, Dialect::Mysql).unwrap();
        assert_eq!((statements[1].line, statements[1].column), (2, 1));

        let inside = error("SELECT 1;\n/*!40101 SET 'abc */;", Dialect::Mysql);
        assert_eq!((inside.line, inside.column), (2, 1), "{inside}");
        let after = error("SELECT 1;\n/*!40101 SET a=1 */ 'abc", Dialect::Mysql);
        assert_eq!((after.line, after.column), (2, 21), "{after}");
    }

    // ---------------------------------------------------------------- compound bodies

    #[test]
    fn sqlite_trigger_bodies() {
        let sql = "\
CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN
    INSERT INTO log VALUES (NEW.id);
    UPDATE c SET n = n + CASE WHEN NEW.x THEN 1 ELSE 0 END;
END;
CREATE TEMP TRIGGER IF NOT EXISTS t_upd AFTER UPDATE ON t
WHEN CASE WHEN NEW.x THEN 1 END
BEGIN SELECT CASE WHEN NEW.y < 0 THEN RAISE(ABORT, 'no;') END; DELETE FROM q; END;
create temporary trigger t_del after delete on t begin delete from log; end;
CREATE TABLE \"end\" (x);
SELECT 1";
        assert_eq!(
            texts(sql, Dialect::Sqlite),
            [
                "CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN\n    INSERT INTO log VALUES (NEW.id);\n    UPDATE c SET n = n + CASE WHEN NEW.x THEN 1 ELSE 0 END;\nEND",
                "CREATE TEMP TRIGGER IF NOT EXISTS t_upd AFTER UPDATE ON t\nWHEN CASE WHEN NEW.x THEN 1 END\nBEGIN SELECT CASE WHEN NEW.y < 0 THEN RAISE(ABORT, 'no;') END; DELETE FROM q; END",
                "create temporary trigger t_del after delete on t begin delete from log; end",
                "CREATE TABLE \"end\" (x)",
                "SELECT 1",
            ]
        );
    }

    #[test]
    fn mysql_trigger_and_routine_bodies() {
        let sql = "\
CREATE TRIGGER t_ins BEFORE INSERT ON t FOR EACH ROW
BEGIN
    IF NEW.x < 0 THEN SET NEW.x = 0; END IF;
    SET NEW.y = CASE WHEN NEW.x > 1 THEN 'big;' ELSE 'small' END;
    CASE NEW.z WHEN 1 THEN SET NEW.w = 1; ELSE SET NEW.w = 2; END CASE;
END;
CREATE DEFINER=`root`@`localhost` TRIGGER t_upd AFTER UPDATE ON t FOR EACH ROW BEGIN INSERT INTO log VALUES (1); END;
CREATE OR REPLACE TRIGGER t_del AFTER DELETE ON t FOR EACH ROW BEGIN DELETE FROM log; END;
CREATE PROCEDURE p() BEGIN
    DECLARE i INT DEFAULT 0;
    l: LOOP SET i = i + 1; IF i > 3 THEN LEAVE l; END IF; END LOOP l;
    WHILE i > 0 DO SET i = i - 1; END WHILE;
    REPEAT SET i = i + 1; UNTIL i > 2 END REPEAT;
END;
CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1;
SELECT 1";
        assert_eq!(
            texts(sql, Dialect::Mysql),
            [
                "CREATE TRIGGER t_ins BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n    IF NEW.x < 0 THEN SET NEW.x = 0; END IF;\n    SET NEW.y = CASE WHEN NEW.x > 1 THEN 'big;' ELSE 'small' END;\n    CASE NEW.z WHEN 1 THEN SET NEW.w = 1; ELSE SET NEW.w = 2; END CASE;\nEND",
                "CREATE DEFINER=`root`@`localhost` TRIGGER t_upd AFTER UPDATE ON t FOR EACH ROW BEGIN INSERT INTO log VALUES (1); END",
                "CREATE OR REPLACE TRIGGER t_del AFTER DELETE ON t FOR EACH ROW BEGIN DELETE FROM log; END",
                "CREATE PROCEDURE p() BEGIN\n    DECLARE i INT DEFAULT 0;\n    l: LOOP SET i = i + 1; IF i > 3 THEN LEAVE l; END IF; END LOOP l;\n    WHILE i > 0 DO SET i = i - 1; END WHILE;\n    REPEAT SET i = i + 1; UNTIL i > 2 END REPEAT;\nEND",
                "CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1",
                "SELECT 1",
            ]
        );
    }

    #[test]
    fn postgres_sql_standard_bodies() {
        let sql = "\
CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
CREATE OR REPLACE PROCEDURE p(x int) LANGUAGE sql
begin atomic
    INSERT INTO t VALUES (CASE WHEN x > 0 THEN 'pos;' ELSE 'neg' END);
    UPDATE t SET y = CASE x WHEN 1 THEN 2 END;
end;
SELECT CASE WHEN true THEN 1 END;
SELECT 3";
        assert_eq!(
            texts(sql, Dialect::Postgres),
            [
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
                "CREATE OR REPLACE PROCEDURE p(x int) LANGUAGE sql\nbegin atomic\n    INSERT INTO t VALUES (CASE WHEN x > 0 THEN 'pos;' ELSE 'neg' END);\n    UPDATE t SET y = CASE x WHEN 1 THEN 2 END;\nend",
                "SELECT CASE WHEN true THEN 1 END",
                "SELECT 3",
            ]
        );
    }

    #[test]
    fn transaction_statements_are_ordinary_statements() {
        all(
            "BEGIN; CREATE TABLE a (x int); COMMIT; BEGIN; SELECT 1; END; SELECT 2;",
            &[
                "BEGIN",
                "CREATE TABLE a (x int)",
                "COMMIT",
                "BEGIN",
                "SELECT 1",
                "END",
                "SELECT 2",
            ],
        );
        assert_eq!(
            texts(
                "BEGIN TRANSACTION; SELECT CASE WHEN 1 THEN 2 END; END TRANSACTION; SELECT 3",
                Dialect::Sqlite
            ),
            [
                "BEGIN TRANSACTION",
                "SELECT CASE WHEN 1 THEN 2 END",
                "END TRANSACTION",
                "SELECT 3",
            ]
        );
        // A PostgreSQL trigger has no compound body: no nesting is tracked.
        assert_eq!(
            texts(
                "CREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW EXECUTE FUNCTION f(); BEGIN; END;",
                Dialect::Postgres
            ),
            [
                "CREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW EXECUTE FUNCTION f()",
                "BEGIN",
                "END",
            ]
        );
    }

    #[test]
    fn transaction_control_is_read_from_the_leading_words() {
        use Control::*;
        let cases: &[(&str, Dialect, Option<Control>)] = &[
            ("BEGIN", Dialect::Postgres, Some(Begin { plain: true })),
            ("begin work", Dialect::Postgres, Some(Begin { plain: true })),
            (
                "BEGIN /* é */ TRANSACTION",
                Dialect::Postgres,
                Some(Begin { plain: true }),
            ),
            (
                "BEGIN IMMEDIATE TRANSACTION",
                Dialect::Sqlite,
                Some(Begin { plain: true }),
            ),
            (
                "BEGIN ISOLATION LEVEL SERIALIZABLE",
                Dialect::Postgres,
                Some(Begin { plain: false }),
            ),
            (
                "BEGIN READ ONLY",
                Dialect::Postgres,
                Some(Begin { plain: false }),
            ),
            (
                "START TRANSACTION",
                Dialect::Postgres,
                Some(Begin { plain: true }),
            ),
            (
                "START TRANSACTION READ WRITE",
                Dialect::Postgres,
                Some(Begin { plain: false }),
            ),
            ("COMMIT", Dialect::Postgres, Some(Commit { plain: true })),
            (
                "END TRANSACTION",
                Dialect::Sqlite,
                Some(Commit { plain: true }),
            ),
            ("end", Dialect::Postgres, Some(Commit { plain: true })),
            (
                "COMMIT AND CHAIN",
                Dialect::Postgres,
                Some(Commit { plain: false }),
            ),
            ("ROLLBACK", Dialect::Postgres, Some(Rollback)),
            ("ABORT WORK", Dialect::Postgres, Some(Rollback)),
            (
                "ROLLBACK TO SAVEPOINT a",
                Dialect::Postgres,
                Some(Savepoint),
            ),
            (
                "ROLLBACK TRANSACTION TO a",
                Dialect::Sqlite,
                Some(Savepoint),
            ),
            ("SAVEPOINT a", Dialect::Sqlite, Some(Savepoint)),
            ("RELEASE SAVEPOINT a", Dialect::Postgres, Some(Savepoint)),
            ("PREPARE TRANSACTION 'x'", Dialect::Postgres, Some(TwoPhase)),
            ("COMMIT PREPARED 'x'", Dialect::Postgres, Some(TwoPhase)),
            ("ROLLBACK PREPARED 'x'", Dialect::Postgres, Some(TwoPhase)),
            // Not transaction control.
            ("PREPARE q AS SELECT 1", Dialect::Postgres, None),
            ("START", Dialect::Postgres, None),
            ("\"BEGIN\"", Dialect::Postgres, None),
            ("SELECT CASE WHEN true THEN 1 END", Dialect::Postgres, None),
            (
                "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
                Dialect::Postgres,
                None,
            ),
            (
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
                Dialect::Postgres,
                None,
            ),
            (
                "CREATE FUNCTION f() RETURNS void AS $$ BEGIN COMMIT; END $$ LANGUAGE plpgsql",
                Dialect::Postgres,
                None,
            ),
            ("DO $$ BEGIN ROLLBACK; END $$", Dialect::Postgres, None),
            (
                "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END",
                Dialect::Sqlite,
                None,
            ),
        ];
        for &(sql, dialect, expected) in cases {
            let statements = chunked(sql, dialect).unwrap();
            assert_eq!(statements.len(), 1, "{sql}");
            assert_eq!(statements[0].control, expected, "{sql}");
        }
    }

    #[test]
    fn an_unclosed_compound_body_runs_to_the_end() {
        assert_eq!(
            texts(
                "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2;",
                Dialect::Sqlite
            ),
            ["CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2;"]
        );
    }

    // ---------------------------------------------------------------- positions

    #[test]
    fn line_and_column_after_comments_and_blank_lines() {
        let sql = "-- header\n\n/* block\n comment */   SELECT 1;\n\n\n    SELECT\n  2;  SELECT 3";
        let statements = chunked(sql, Dialect::Postgres).unwrap();
        assert_consistent(sql, Dialect::Postgres, &statements);
        let positions: Vec<_> = statements
            .iter()
            .map(|s| (s.text, s.offset, s.line, s.column))
            .collect();
        assert_eq!(
            positions,
            [
                ("SELECT 1", 34, 4, 15),
                ("SELECT\n  2", 50, 7, 5),
                ("SELECT 3", 63, 8, 7),
            ]
        );
    }

    #[test]
    fn multi_byte_text_before_a_statement() {
        let sql = "-- créé ✓ 🦀\nSELECT 'ü;é'; /* ß */ SELECT '🦀';";
        let statements = chunked(sql, Dialect::Postgres).unwrap();
        assert_consistent(sql, Dialect::Postgres, &statements);
        let second = &statements[1];
        assert_eq!(second.text, "SELECT '🦀'");
        // Bytes: 19 for the comment line, then `SELECT 'ü;é'; /* ß */ ` (25 bytes, 23 chars).
        assert_eq!(second.offset, "-- créé ✓ 🦀\nSELECT 'ü;é'; /* ß */ ".len());
        assert_eq!((second.line, second.column), (2, 23));
        assert_eq!(
            &sql[second.offset..second.offset + second.text.len()],
            second.text
        );
        for dialect in Dialect::ALL {
            texts(sql, dialect);
        }
    }

    #[test]
    fn crlf_line_endings() {
        let sql = "-- one\r\nSELECT 1;\r\n\r\n  SELECT\r\n  2; -- c;\r\nSELECT 3\r\n";
        for dialect in Dialect::ALL {
            let statements = chunked(sql, dialect).unwrap();
            assert_consistent(sql, dialect, &statements);
            let positions: Vec<_> = statements
                .iter()
                .map(|s| (s.text, s.line, s.column))
                .collect();
            assert_eq!(
                positions,
                [
                    ("SELECT 1", 2, 1),
                    ("SELECT\r\n  2", 4, 3),
                    ("SELECT 3", 6, 1),
                ],
                "{dialect}"
            );
        }
    }

    // ---------------------------------------------------------------- errors

    #[test]
    fn tokenizer_errors_point_at_the_unreadable_token() {
        let unterminated_string = error(
            "SELECT 1;\n\nSELECT 'é', 'abc;\nSELECT 2;",
            Dialect::Postgres,
        );
        assert_eq!(
            unterminated_string,
            SplitError {
                message: "Unterminated string literal".to_owned(),
                line: 3,
                column: 13,
            }
        );
        assert_eq!(
            unterminated_string.to_string(),
            "Unterminated string literal at line 3, column 13"
        );
        for dialect in Dialect::ALL {
            let error = error("SELECT 1;\n  SELECT 'x", dialect);
            assert_eq!((error.line, error.column), (2, 10), "{dialect}");
        }

        // sqlparser reports the end of the script; the opening `$$` is more useful.
        let dollar = error(
            "SELECT 1;\nCREATE FUNCTION f() AS $$ SELECT 1; \n\n",
            Dialect::Postgres,
        );
        assert_eq!((dollar.line, dollar.column), (2, 24), "{dollar}");
        assert!(dollar.message.contains("dollar"), "{dollar}");
        let tagged = error("SELECT $body$ 1; $bod$", Dialect::Postgres);
        assert_eq!((tagged.line, tagged.column), (1, 8), "{tagged}");

        let identifier = error("SELECT \"abc;", Dialect::Postgres);
        assert_eq!((identifier.line, identifier.column), (1, 8));
    }

    // ---------------------------------------------------------------- position helpers

    #[test]
    fn char_positions_to_line_and_column() {
        let text = "é🦀x\nab\n";
        assert_eq!(line_column_of_char_position(text, 1), (1, 1));
        assert_eq!(line_column_of_char_position(text, 0), (1, 1));
        assert_eq!(line_column_of_char_position(text, 2), (1, 2));
        assert_eq!(line_column_of_char_position(text, 3), (1, 3));
        assert_eq!(line_column_of_char_position(text, 4), (1, 4)); // the `\n`
        assert_eq!(line_column_of_char_position(text, 5), (2, 1));
        assert_eq!(line_column_of_char_position(text, 7), (2, 3));
        // Past the end: just after the last character.
        assert_eq!(line_column_of_char_position(text, 8), (3, 1));
        assert_eq!(line_column_of_char_position(text, 1000), (3, 1));
        assert_eq!(line_column_of_char_position("", 1), (1, 1));
        assert_eq!(line_column_of_char_position("abc", 99), (1, 4));
        assert_eq!(line_column_of_char_position("a\r\nb", 4), (2, 1));
    }

    #[test]
    fn byte_offsets_to_line_and_column() {
        let text = "é🦀x\nab";
        assert_eq!(line_column_of_byte_offset(text, 0), (1, 1));
        assert_eq!(line_column_of_byte_offset(text, 2), (1, 2));
        // Inside the crab: its start.
        assert_eq!(line_column_of_byte_offset(text, 4), (1, 2));
        assert_eq!(line_column_of_byte_offset(text, 6), (1, 3));
        assert_eq!(line_column_of_byte_offset(text, 8), (2, 1));
        assert_eq!(line_column_of_byte_offset(text, 10), (2, 3));
        assert_eq!(line_column_of_byte_offset(text, 1000), (2, 3));
        assert_eq!(line_column_of_byte_offset("", 5), (1, 1));
    }

    // ---------------------------------------------------------------- robustness

    /// Every prefix of a script full of traps splits without panicking, and consistently when it
    /// splits at all.
    #[test]
    fn prefixes_of_tricky_scripts_never_panic() {
        let scripts = [
            "/* a /* b; */ c; */ SELECT E'\\xC3\\xA9;', $t$ ; $t$, \"q;\" -- x;\n; BEGIN ATOMIC SELECT CASE WHEN 1 THEN 2 END; END; é🦀\r\n",
            "CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN SELECT [x;y], `z;`, 'it''s;'; END; /* tail",
            "/*!40101 SET a=1; */; CREATE DEFINER=`r`@`h` PROCEDURE p() BEGIN IF 1 THEN SELECT 'a\\';'; END IF; END; # c;\n--x\n",
        ];
        for script in scripts {
            for (end, _) in script.char_indices() {
                let prefix = &script[..end];
                for dialect in Dialect::ALL {
                    if let Ok(statements) = chunked(prefix, dialect) {
                        assert_consistent(prefix, dialect, &statements);
                    }
                }
            }
        }
    }

    /// Random scripts made of the fragments the splitter cares about (a deterministic
    /// xorshift, so a failure reproduces) split without panicking, and consistently when they
    /// split at all.
    #[test]
    fn random_scripts_never_panic() {
        const FRAGMENTS: [&str; 52] = [
            "'", "''", "\"", "`", "[", "]", "$$", "$a$", "$", "E'", "e'", "\\", ";", ";", "--",
            "-", "#", "/*", "*/", "/*!", "*", "/", "\n", "\r\n", "\r", " ", " ", "é", "🦀",
            "BEGIN", "ATOMIC", "END", "CASE", "IF", "CREATE", "TRIGGER", "TEMP", "DEFINER", "=",
            "@", "x", "1", "SELECT", "(", ")", "\t", "\0", "._", "U&'", "N'", "\\x", "?",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let length = next() % 24;
            let script: String = (0..length)
                .map(|_| FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize])
                .collect();
            for dialect in Dialect::ALL {
                if let Ok(statements) = chunked(&script, dialect) {
                    assert_consistent(&script, dialect, &statements);
                }
            }
        }
    }

    // ---------------------------------------------------------------- real-world corpora

    /// The dialect of a corpus file, from its path.
    fn corpus_dialect(path: &str) -> Dialect {
        if ["sqlite", "karakeep", "atuin-client"]
            .iter()
            .any(|part| path.contains(part))
        {
            Dialect::Sqlite
        } else if path.contains("mysql") || path.contains("MYSQL") {
            Dialect::Mysql
        } else {
            Dialect::Postgres
        }
    }

    fn sql_files(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                sql_files(&path, files);
            } else if path.extension().is_some_and(|extension| extension == "sql") {
                files.push(path);
            }
        }
    }

    /// Every `.sql` file of `../shared/corpora` splits, into statements consistent with the file.
    #[test]
    fn splits_every_corpus_file() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora");
        if !root.exists() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{} is missing on CI", root.display());
            }
            println!("skipped: {} does not exist", root.display());
            return;
        }
        let mut files = Vec::new();
        sql_files(&root, &mut files);
        assert!(files.len() > 1000, "only {} files", files.len());
        let mut failures = Vec::new();
        let mut statement_count = 0;
        for file in &files {
            let relative = file.strip_prefix(&root).unwrap().to_string_lossy();
            let dialect = corpus_dialect(&relative);
            let sql = std::fs::read_to_string(file).unwrap();
            let mut line_by_line = Vec::new();
            let chunked = split_in_chunks(&sql, dialect, 1, |statement| {
                line_by_line.push(statement);
                ControlFlow::Continue(())
            });
            let whole = split(&sql, dialect);
            assert_eq!(
                chunked.map(|()| line_by_line),
                whole,
                "{relative}: read line by line"
            );
            match whole {
                Ok(statements) => {
                    assert_consistent(&sql, dialect, &statements);
                    statement_count += statements.len();
                }
                Err(error) => failures.push(format!("{relative} ({dialect}): {error}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        println!("{} files, {statement_count} statements", files.len());

        let spot =
            root.join("crates-io/migrations/2024-10-25-112826_make-unique-version-unique/up.sql");
        let sql = std::fs::read_to_string(spot).unwrap();
        assert_eq!(
            texts(&sql, Dialect::Postgres),
            [
                "create unique index concurrently if not exists versions_crate_id_num_no_build_uindex\n    on versions (crate_id, num_no_build)"
            ]
        );
    }
}
