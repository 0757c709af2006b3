//! Running migrations against a database: finding its URL, opening a session (connect, pick
//! the history table, lock), and turning failures into errors that point into the files.
//! The commands in `cli/` drive this; the rules of what to run live in [`status`].

pub mod author;
pub mod check;
pub mod diff;
pub mod replay;
pub mod scratch;
pub mod status;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::HistoryKind;
use crate::db::history::{self, AppliedRow, HistoryFormat};
use crate::db::{ConnectOptions, Database, DatabaseUrl, Direction, Failure};
use crate::error::{Error, ErrorClass, ErrorCode, Result, display_path};
use crate::migration::Migration;
use crate::workspace::SetSpec;

/// Which `.env` files [`find_url`] may read: the package directory's, then the workspace
/// root's; or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dotenv {
    /// Read `DATABASE_URL` (or the configured variable) from the first of these files that
    /// sets it (files that do not exist are passed over).
    Read(Vec<PathBuf>),
    /// Read no `.env`, for this reason (`with --dir`, `with --no-dotenv`); `ignored` is the
    /// file that would otherwise be read, named in the error when no URL is found.
    Skipped { ignored: PathBuf, why: &'static str },
}

/// The URL from `--database-url`, else the configured environment variable (default
/// `DATABASE_URL`), else that variable in the `.env` files `dotenv` names (the package
/// directory's, then the workspace root's; never the current directory's otherwise); `None`
/// when none is set.
pub fn find_url(
    flag: Option<&str>,
    spec: &SetSpec,
    dotenv: &Dotenv,
) -> Result<Option<DatabaseUrl>> {
    Ok(find_url_and_source(flag, spec, dotenv)?.map(|(url, _)| url))
}

/// [`find_url`], with where the URL came from (`DATABASE_URL in app/.env`), for `-v`.
pub fn find_url_and_source(
    flag: Option<&str>,
    spec: &SetSpec,
    dotenv: &Dotenv,
) -> Result<Option<(DatabaseUrl, String)>> {
    if let Some(flag) = flag {
        return DatabaseUrl::parse(flag, "--database-url")
            .map(|url| Some((url, "--database-url".to_string())));
    }
    if let Some(url) = find_explicit_url(None, spec)? {
        let variable = url_variables(spec)
            .into_iter()
            .find(|v| std::env::var(v).is_ok_and(|value| !value.trim().is_empty()))
            .unwrap_or_else(|| url_variable(spec));
        return Ok(Some((url, format!("environment variable {variable}"))));
    }
    let Dotenv::Read(files) = dotenv else {
        return Ok(None);
    };
    for dotenv in files.iter().filter(|file| file.is_file()) {
        // The direct URL first, as in the environment.
        for variable in url_variables(spec) {
            let entries =
                dotenvy::from_path_iter(dotenv).map_err(|err| dotenv_error(dotenv, &err))?;
            for entry in entries {
                let (key, value) = entry.map_err(|err| dotenv_error(dotenv, &err))?;
                if key == variable && !value.trim().is_empty() {
                    let source = format!("{variable} in {}", display_path(dotenv));
                    return DatabaseUrl::parse(&value, &source).map(|url| Some((url, source)));
                }
            }
        }
    }
    Ok(None)
}

/// The environment variables that may hold the set's URL, in order of preference: the
/// direct URL's (`direct-url-env`, when configured), then the database URL's.
fn url_variables(spec: &SetSpec) -> Vec<String> {
    spec.config
        .direct_url_env
        .iter()
        .cloned()
        .chain([url_variable(spec)])
        .collect()
}

/// The URL from `--database-url`, else the configured environment variable: a database named
/// on purpose, never the `.env` of the dev loop (for `check`'s drift step, which must not
/// compare against whatever a developer's `.env` points at).
pub fn find_explicit_url(flag: Option<&str>, spec: &SetSpec) -> Result<Option<DatabaseUrl>> {
    if let Some(url) = flag {
        return DatabaseUrl::parse(url, "--database-url").map(Some);
    }
    // A direct URL, when configured and set, wins: the database URL may lead to a pooler
    // (docs/deploy.md, Poolers).
    for variable in url_variables(spec) {
        match std::env::var(&variable) {
            Ok(url) if !url.trim().is_empty() => {
                return DatabaseUrl::parse(&url, &format!("environment variable {variable}"))
                    .map(Some);
            }
            // Set, but not text: saying "not set" would send people looking in the wrong
            // place. The value is not shown (it may hold a password).
            Err(std::env::VarError::NotUnicode(_)) => return Err(Error::input(
                ErrorCode::BadDatabaseUrl,
                format!("environment variable {variable} is set but is not valid UTF-8"),
            )
            .at(format!("environment variable {variable}"))
            .hint(format!(
                "set {variable} to a URL in plain text, e.g. postgres://user@host/db (a byte of another encoding, such as Latin-1, is in it now)"
            ))),
            _ => {}
        }
    }
    Ok(None)
}

/// The environment variable that holds the set's URL.
pub fn url_variable(spec: &SetSpec) -> String {
    spec.config
        .database_url_env
        .clone()
        .unwrap_or_else(|| "DATABASE_URL".to_string())
}

/// The error for a command that needs a URL and has none ([`find_url`] gave `None`).
pub fn no_url_error(spec: &SetSpec, dotenv: &Dotenv) -> Error {
    let variable = url_variable(spec);
    let (location, ignored) = match dotenv {
        Dotenv::Read(paths) => (
            format!(
                "{variable} (environment or {})",
                paths
                    .iter()
                    .map(|path| display_path(path))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        ),
        Dotenv::Skipped { ignored, why } => (
            format!("{variable} (environment; no .env is read {why})"),
            ignored.is_file().then(|| {
                format!(
                    " in the environment ({} is not read {why})",
                    display_path(ignored)
                )
            }),
        ),
    };
    Error::input(
        ErrorCode::NoDatabaseUrl,
        format!("no database URL: --database-url is not given and {variable} is not set"),
    )
    .at(location)
    .hint(format!(
        "pass --database-url postgres://user@host/db (or sqlite:app.db), or set {variable}{}",
        ignored.unwrap_or_default()
    ))
}

fn dotenv_error(path: &Path, err: &dotenvy::Error) -> Error {
    let location = match err {
        dotenvy::Error::LineParse(line, index) => {
            dotenv_line_location(path, line, *index).unwrap_or_else(|| display_path(path))
        }
        _ => display_path(path),
    };
    // The line may hold a password: show the kind of problem, not the line.
    let reason = match err {
        dotenvy::Error::LineParse(..) => "a line cannot be parsed".to_string(),
        dotenvy::Error::Io(io) => crate::error::io_reason(io),
        _ => "it cannot be read".to_string(),
    };
    Error::input(ErrorCode::BadConfig, format!("cannot read .env: {reason}"))
        .at(location)
        .hint("write each setting as NAME=value on its own line")
}

/// `path:line:column` of the line dotenvy could not parse. dotenvy gives the line's text and
/// the index in it where parsing stopped, not its line number, so the line is looked up.
fn dotenv_line_location(path: &Path, line: &str, index: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let first = line.lines().next().filter(|l| !l.trim().is_empty())?;
    let start = text
        .lines()
        .position(|candidate| candidate.trim_end_matches('\r') == first)?;
    let shown = display_path(path);
    Some(if index < first.len() && first.is_char_boundary(index) {
        let column = first[..index].chars().count() + 1;
        format!("{shown}:{}:{column}", start + 1)
    } else {
        format!("{shown}:{}", start + 1)
    })
}

/// Checks that the URL's dialect is the set's.
pub fn check_dialect(url: &DatabaseUrl, spec: &SetSpec, root: &Path) -> Result<()> {
    match spec.dialect() {
        Some(dialect) if dialect != url.dialect() => Err(Error::input(
            ErrorCode::DialectMismatch,
            format!(
                "set `{}` is written for {dialect}, but the database URL is {}",
                spec.label(root),
                url.dialect()
            ),
        )
        .at(url.redacted())
        .hint("point the URL at a database of the set's dialect, or fix `dialect` in [package.metadata.migrate]")),
        _ => Ok(()),
    }
}

/// What opening a session needs.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub connect: ConnectOptions,
    /// Take the lock and create the history table (every command that changes anything).
    pub mutating: bool,
    /// Our own table's name.
    pub own_table: String,
    /// The configured history format (`history = …`), if any.
    pub history: Option<HistoryKind>,
    /// The set's versions, for a history that records only the newest (golang-migrate's).
    pub versions: Vec<i64>,
}

/// An open database with its history table read.
pub struct Session {
    pub db: Database,
    pub url: DatabaseUrl,
    pub format: HistoryFormat,
    pub rows: Vec<AppliedRow>,
}

impl Session {
    /// Connects, picks and pins the history table, and (mutating) locks and creates it.
    /// `storable`: migrations whose versions must fit the history format — refused before
    /// anything is locked or created (empty for read-only commands, which may show them).
    pub async fn open(
        url: &DatabaseUrl,
        options: &SessionOptions,
        storable: &[Migration],
        on_wait: impl FnMut(&str),
    ) -> Result<Session> {
        let db = Database::connect(url, &options.connect, on_wait).await?;
        // The database's own errors (a file that is not a database, a missing privilege) say
        // what failed but not where: the URL is the where.
        Session::open_history(db, url, options, storable)
            .await
            .map_err(|err| match err.location {
                Some(_) => err,
                None => err.at(url.redacted()),
            })
    }

    async fn open_history(
        mut db: Database,
        url: &DatabaseUrl,
        options: &SessionOptions,
        storable: &[Migration],
    ) -> Result<Session> {
        // A standby (Patroni, a replica endpoint) is never migrated: refused before the lock.
        if options.mutating || url.requires_primary() {
            db.refuse_read_only().await?;
        }
        let (own, sqlx, diesel) = db.existing_histories(&options.own_table).await?;
        // Configured: that format, found or to be created. Otherwise an existing table is
        // adopted: ours first, then sqlx's, then diesel's.
        let kind = options.history.unwrap_or(if own || !(sqlx || diesel) {
            HistoryKind::Own
        } else if sqlx {
            HistoryKind::Sqlx
        } else {
            HistoryKind::Diesel
        });
        // Then Flyway's, looked for only where none of those is (a read-only command on a
        // database Flyway or a Flyway set keeps, before the set's layout is known).
        let kind = if options.history.is_none()
            && !(own || sqlx || diesel)
            && db
                .history_of(HistoryFormat::Flyway { schema: None })
                .await?
                .1
        {
            HistoryKind::Flyway
        } else {
            kind
        };
        let (format, exists) = match kind {
            HistoryKind::Own => (
                HistoryFormat::Own {
                    name: options.own_table.clone(),
                },
                own,
            ),
            HistoryKind::Sqlx => (HistoryFormat::Sqlx { schema: None }, sqlx),
            HistoryKind::Diesel => (HistoryFormat::Diesel { schema: None }, diesel),
            HistoryKind::Flyway => {
                db.history_of(HistoryFormat::Flyway { schema: None })
                    .await?
            }
            HistoryKind::Refinery => {
                db.history_of(HistoryFormat::Refinery { schema: None })
                    .await?
            }
            HistoryKind::GolangMigrate => {
                let versions = options.versions.clone();
                db.history_of(HistoryFormat::GolangMigrate {
                    schema: None,
                    versions,
                })
                .await?
            }
            tool => {
                let format = HistoryFormat::of_tool(tool, db.dialect());
                let exists = !db.columns_of(&format.table()).await?.is_empty();
                (format, exists)
            }
        };
        format.check_storable(storable)?;
        // Pin the table to its schema — where it is, else where CREATE TABLE would put it —
        // before locking: a migration's `SET search_path` then cannot send our bookkeeping
        // elsewhere, and every spelling of one table (`_cargo_migrate`,
        // `public._cargo_migrate`) takes one lock.
        let located = match db.schema_of(&format.table()).await? {
            Some(schema) => Some(schema),
            None if format.schema().is_none() => db.current_schema().await?,
            None => None,
        };
        let format = match located {
            Some(schema) => format.in_schema(&schema),
            None => format,
        };
        refuse_system_schema(&format, db.dialect())?;
        if options.mutating {
            db.lock(url, &format.table(), options.connect.lock_timeout)
                .await?;
            if !exists {
                db.ensure_history(&format).await?;
            }
        }
        // Read after locking: what another run did before we got the lock counts.
        let rows = db.read_history(&format).await?;
        Ok(Session {
            db,
            url: url.clone(),
            format,
            rows,
        })
    }

    pub async fn reload(&mut self) -> Result<()> {
        self.rows = self.db.read_history(&self.format).await?;
        Ok(())
    }
}

/// PostgreSQL's own schemas (`pg_catalog`, `pg_toast…`, `information_schema`) are no place
/// for a history: `reset` keeps them (so the history would outlive what it records), and
/// their contents belong to the server.
/// `history-table` naming one is refused with the configuration; this catches an unqualified
/// table that the search_path puts there.
fn refuse_system_schema(format: &HistoryFormat, dialect: crate::dialect::Dialect) -> Result<()> {
    let Some(schema) = format.schema() else {
        return Ok(());
    };
    if dialect != crate::dialect::Dialect::Postgres || !history::is_system_schema(&schema) {
        return Ok(());
    }
    Err(Error::input(
        ErrorCode::BadConfig,
        format!(
            "the history table `{}` would be in `{schema}`, a system schema",
            format.table()
        ),
    )
    .at("the database's search_path")
    .hint("put a schema of your own first on the user's or database's search_path, or name one: `history-table = \"public._cargo_migrate\"` in [package.metadata.migrate]"))
}

/// The set's versions as integers (those that are), for [`SessionOptions::versions`].
pub fn set_versions(set: &crate::migration::Migrations) -> Vec<i64> {
    set.migrations
        .iter()
        .filter_map(|m| m.version.as_str().parse().ok())
        .collect()
}

/// The default own history table name of a set.
pub fn own_table(spec: &SetSpec) -> String {
    spec.config
        .history_table
        .clone()
        .unwrap_or_else(|| history::DEFAULT_TABLE.to_string())
}

/// `--connect-timeout`'s default: long enough for a TLS handshake over a slow link, short
/// enough that a server that accepts connections and never answers is reported in seconds.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;

/// Connection settings from the command line.
pub fn connect_options(
    wait_secs: u64,
    connect_timeout_secs: u64,
    lock_timeout_secs: u64,
    create_if_missing: bool,
) -> ConnectOptions {
    ConnectOptions {
        wait: Duration::from_secs(wait_secs),
        connect_timeout: Duration::from_secs(connect_timeout_secs),
        lock_timeout: Duration::from_secs(lock_timeout_secs),
        create_if_missing,
    }
}

/// Checks the scripts `plan` runs in `direction` before the first of them runs, and returns what
/// to send for each (see [`crate::migration::prepare`]): a script that cannot be read, or that
/// holds transaction control where none may be, stops the run before anything changes.
pub fn prepare_plan<'m>(
    plan: &[&'m Migration],
    direction: Direction,
    dialect: crate::dialect::Dialect,
) -> Result<Vec<crate::migration::prepare::Prepared<'m>>> {
    plan.iter()
        .map(|migration| match direction.script(migration) {
            Some(script) => {
                crate::migration::prepare::prepare(&script.sql, dialect, !migration.no_transaction)
                    .map_err(|refusal| refusal.error(&script.path))
            }
            // The run reports the missing script when it reaches it.
            None => Ok(crate::migration::prepare::Prepared::default()),
        })
        .collect()
}

/// A failed migration as an error pointing into its file, with a code frame.
/// Whether `failure` is the database refusing to create something that exists: PostgreSQL's
/// duplicate-object class of SQLSTATEs, or SQLite's "already exists" (it has no codes).
fn already_exists(failure: &Failure) -> bool {
    match failure.code.as_deref() {
        // duplicate_database, _schema, _table, _object, _column, _function, _alias.
        Some(code) if code.len() == 5 && !code.starts_with("SQLITE") => matches!(
            code,
            "42P04" | "42P06" | "42P07" | "42710" | "42701" | "42723" | "42712"
        ),
        _ => failure.message.contains("already exists"),
    }
}

pub fn failure_error(failure: &Failure, migration: &Migration, direction: Direction) -> Error {
    if let Some(error) = &failure.bookkeeping {
        return error.clone();
    }
    let verb = match direction {
        Direction::Up => "applying",
        Direction::Down => "reverting",
    };
    let location = match failure.position {
        Some((line, column)) => format!("{}:{line}:{column}", display_path(&failure.script)),
        None => display_path(&failure.script),
    };
    let name = format!(
        "{}_{}",
        migration.version.as_str(),
        crate::report::printable(&migration.name)
    );
    if failure.lock_lost {
        return Error::new(
            ErrorClass::Unreachable,
            ErrorCode::MigrationInterrupted,
            format!(
                "stopped before {verb} {name}: the connection holding the migration lock was lost: {}",
                failure.message
            ),
        )
        .at(location)
        .hint("nothing of it ran; without the lock another run could start, so this one stopped; run the command again: it continues with what is still pending");
    }
    // Nothing of it was applied: a transaction rolled back, or a no-transaction migration
    // stopped at its first statement.
    let nothing_applied = !failure.recorded_as_failed
        && (!migration.no_transaction || failure.statements_done == Some(0));
    if failure.lock_busy && nothing_applied {
        return Error::new(
            ErrorClass::Unreachable,
            ErrorCode::LockTimeout,
            format!("{verb} {name} gave up waiting for a lock: {}", failure.message),
        )
        .at(location)
        .hint(format!(
            "nothing of this migration was {}; wait for that session to finish (or end it: SELECT pg_terminate_backend(PID) on PostgreSQL), then run the command again; or raise --lock-timeout",
            direction.past()
        ));
    }
    if failure.connection_lost && !migration.no_transaction {
        return Error::new(
            ErrorClass::Unreachable,
            ErrorCode::MigrationInterrupted,
            format!("{verb} {name} was interrupted: {}", failure.message),
        )
        .at(location)
        .hint("the server ended the connection (a shutdown, restart, failover or terminated session), not the script; the migration runs in one transaction with its history row, so it is wholly done or not at all; run the command again: it continues with what is still pending");
    }
    if failure.connection_lost {
        return Error::new(
            ErrorClass::Unreachable,
            ErrorCode::MigrationInterrupted,
            format!("{verb} {name} was interrupted: {}", failure.message),
        )
        .at(location)
        .hint(format!(
            "the server ended the connection (a shutdown, restart, failover or terminated session), not the script; it runs outside a transaction, so some statements may have run: run `cargo migrate status`; if it lists {} as failed, check what took effect and settle it with `cargo migrate resolve {} --applied` or `--rolled-back`, then run the command again",
            migration.version.as_str(),
            migration.version.as_str()
        ));
    }
    if failure.transient && nothing_applied {
        let error = Error::new(
            ErrorClass::Unreachable,
            ErrorCode::MigrationInterrupted,
            format!("{verb} {name} was rolled back by the server: {}", failure.message),
        )
        .at(location)
        .hint(format!(
            "it conflicted with another session (a deadlock or serialization failure), not a problem of the script; nothing of it was {}; run the command again",
            direction.past()
        ));
        return match &failure.code {
            Some(code) => error.detail(format!("= error code {code}")),
            None => error,
        };
    }
    let script = direction.script(migration);
    let mut detail = Vec::new();
    if let (Some((line, column)), Some(script)) = (failure.position, script)
        && let Some(frame) = code_frame(&script.sql, line, column)
    {
        detail.push(frame);
    }
    detail.extend(
        failure
            .code
            .as_ref()
            .map(|code| format!("= error code {code}")),
    );
    detail.extend(failure.detail.as_ref().map(|d| format!("= detail: {d}")));
    detail.extend(
        failure
            .server_hint
            .as_ref()
            .map(|h| format!("= server hint: {h}")),
    );
    let (class, hint) = if failure.recorded_as_failed {
        let state = match failure.statements_done {
            Some(_) => "so the statements before this one stay applied",
            // Another process's run failed it (SQLite's claim): nothing of ours ran.
            None => "and another run recorded it as failed",
        };
        (
            ErrorClass::CheckFailed,
            format!(
                "it runs outside a transaction, {state}; fix the database and the script, then `cargo migrate resolve {} --applied` or `--rolled-back`",
                migration.version.as_str()
            ),
        )
    } else if failure.before_first_statement {
        // A script that does not split, a start row that could not be written: nothing of it
        // was sent, whether it runs in a transaction or not.
        (
            ErrorClass::CheckFailed,
            format!(
                "nothing of it was {}: it stopped before its first statement; fix the cause and run the command again",
                direction.past()
            ),
        )
    } else if migration.no_transaction
        && direction == Direction::Up
        && nothing_applied
        && already_exists(failure)
    {
        // The usual cause is not the script: an earlier run of this migration stopped
        // part-way and was then resolved as rolled back without undoing what it did.
        (
            ErrorClass::CheckFailed,
            format!(
                "nothing of it was applied now, but an object it creates exists already: an earlier run that stopped part-way (then resolved with --rolled-back) may have left it behind; drop what that run created (or, if all of it is in place, `cargo migrate resolve {} --applied`), then run the command again",
                migration.version.as_str()
            ),
        )
    } else if migration.no_transaction && failure.statements_done == Some(0) {
        (
            ErrorClass::CheckFailed,
            format!(
                "nothing of it was {}: its first statement failed; fix the script and run the command again",
                direction.past()
            ),
        )
    } else if migration.no_transaction && failure.statements_done.is_some() {
        (
            ErrorClass::CheckFailed,
            "it runs outside a transaction, so the statements before this one stay applied; fix the script and the database, then run it again".to_string(),
        )
    } else if migration.no_transaction {
        // Stopped outside its statements (another process's run, the history row after them):
        // what is known is what the history says.
        (
            ErrorClass::CheckFailed,
            "it runs outside a transaction; `cargo migrate status` shows what is recorded of it; fix the cause and run the command again".to_string(),
        )
    } else {
        (
            ErrorClass::CheckFailed,
            format!(
                "nothing of it was {} (it ran in a transaction); fix the script and run the command again",
                direction.past()
            ),
        )
    };
    let mut error = Error::new(
        class,
        ErrorCode::MigrationFailed,
        format!("{verb} {name} failed: {}", failure.message),
    )
    .at(location)
    .hint(hint);
    if !detail.is_empty() {
        error = error.detail(detail.join("\n"));
    }
    error
}

/// The line of `sql` at `line` with a caret under `column` (both 1-based, column in chars):
/// ```text
///    |
///  3 | ALTER TABLE versions DROP CONSTRAINT x;
///    |                      ^
/// ```
pub fn code_frame(sql: &str, line: usize, column: usize) -> Option<String> {
    let text = sql.lines().nth(line.checked_sub(1)?)?;
    let number = line.to_string();
    let gutter = " ".repeat(number.len());
    // Keep tabs under tabs so the caret lines up however the terminal renders them.
    let pad: String = text
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    Some(format!(
        "{gutter} |\n{number} | {}\n{gutter} | {pad}^",
        text.trim_end()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each way a migration stops gets a hint that is true of it.
    #[test]
    fn failure_hints_say_what_stayed_applied() {
        use crate::migration::{Script, Version, VersionOrder};
        let migration = |no_transaction| Migration {
            version: Version::parse("20240101000000", VersionOrder::TextWithoutDashes).unwrap(),
            name: "x".to_string(),
            up: Script {
                path: "up.sql".into(),
                sql: "SELECT 1;".to_string(),
            },
            down: None,
            down_is_empty: false,
            no_transaction,
            checksum: [0; 32],
            created_at: None,
            repeatable: false,
        };
        let base = Failure::message(Path::new("up.sql"), "boom");
        let cases: Vec<(bool, Failure, &str)> = vec![
            (
                false,
                base.clone(),
                "nothing of it was applied (it ran in a transaction)",
            ),
            (
                true,
                Failure {
                    before_first_statement: true,
                    ..base.clone()
                },
                "nothing of it was applied: it stopped before its first statement",
            ),
            (
                true,
                Failure {
                    statements_done: Some(0),
                    ..base.clone()
                },
                "nothing of it was applied: its first statement failed",
            ),
            (
                true,
                Failure {
                    statements_done: Some(2),
                    ..base.clone()
                },
                "the statements before this one stay applied",
            ),
            (
                true,
                Failure {
                    recorded_as_failed: true,
                    ..base.clone()
                },
                "another run recorded it as failed",
            ),
            (
                true,
                base.clone(),
                "`cargo migrate status` shows what is recorded of it",
            ),
        ];
        for (no_transaction, failure, expected) in cases {
            let error = failure_error(&failure, &migration(no_transaction), Direction::Up);
            let hint = error.hint.unwrap_or_default();
            assert!(hint.contains(expected), "{failure:?}: {hint}");
        }
    }

    #[test]
    fn code_frame_points_at_the_column() {
        let sql = "CREATE TABLE a ();\nALTER TABLE versions DROP CONSTRAINT x;\n";
        assert_eq!(
            code_frame(sql, 2, 22).unwrap(),
            "  |\n2 | ALTER TABLE versions DROP CONSTRAINT x;\n  |                      ^"
        );
        assert_eq!(
            code_frame("\tselect x;", 1, 9).unwrap(),
            "  |\n1 | \tselect x;\n  | \t       ^"
        );
        assert_eq!(code_frame(sql, 9, 1), None);
    }
}
