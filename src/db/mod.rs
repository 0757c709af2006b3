//! Talking to databases: connecting (with `--wait`), locking, reading and writing the history
//! table, and executing migrations. One module per dialect; [`Database`] dispatches.

pub mod history;
mod pg_params;
mod postgres;
mod privilege;
pub mod run_lock;
mod sqlite;
mod tls;
pub mod url;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use history::{AppliedRow, HistoryFormat};

use crate::dialect::Dialect;
use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::migration::Migration;
use crate::migration::prepare::Prepared;
use crate::secrets;
use tracing::Instrument;
pub use url::DatabaseUrl;

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Keep retrying a connection that fails for a transient reason this long in all, every
    /// attempt included (`--wait`).
    pub wait: Duration,
    /// Give up on one connection attempt (the lock connection's too) after this long without
    /// an answer (`--connect-timeout`).
    pub connect_timeout: Duration,
    /// Wait this long for the migration lock (`--lock-timeout`).
    pub lock_timeout: Duration,
    /// SQLite: create the database file if it does not exist (mutating commands only).
    pub create_if_missing: bool,
}

/// Which way a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    /// What happens to a migration run this way: "applied" or "reverted".
    pub fn past(self) -> &'static str {
        match self {
            Direction::Up => "applied",
            Direction::Down => "reverted",
        }
    }

    /// The script that runs `migration` this way (a down script may be absent).
    pub fn script(self, migration: &Migration) -> Option<&crate::migration::Script> {
        match self {
            Direction::Up => Some(&migration.up),
            Direction::Down => migration.down.as_ref(),
        }
    }
}

/// A migration that ran.
#[derive(Debug, Clone, Copy)]
pub struct Ran {
    pub elapsed: Duration,
    /// Another process applied (or reverted) it between our plan and our turn (SQLite, where
    /// each migration takes the lock on its own).
    pub skipped: bool,
}

/// A migration that failed, with what is needed to point at the failing SQL.
#[derive(Debug, Clone)]
pub struct Failure {
    pub script: PathBuf,
    /// 1-based line and column in the script, when known.
    pub position: Option<(usize, usize)>,
    /// SQLSTATE (PostgreSQL) or the SQLite result code.
    pub code: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub server_hint: Option<String>,
    /// A no-transaction migration that stopped part-way and is recorded as failed.
    pub recorded_as_failed: bool,
    /// No-transaction migrations: how many statements ran before the failing one.
    pub statements_done: Option<usize>,
    /// It stopped before its first statement was sent (a script that does not split, a start
    /// row that could not be written): nothing of it ran.
    pub before_first_statement: bool,
    /// The connection broke or the server ended the session (shutdown, a terminated backend,
    /// a session timeout): not the script's doing; a transactional migration is wholly
    /// applied or not at all.
    pub connection_lost: bool,
    /// The server rolled the migration back for a reason of the moment, not of the script
    /// (serialization failure, deadlock): running it again may well succeed.
    pub transient: bool,
    /// Another process held the database's lock for longer than the lock timeout (SQLite's
    /// SQLITE_BUSY family; PostgreSQL's lock_not_available).
    pub lock_busy: bool,
    /// The migration did not start: the connection holding the run lock was gone, so this
    /// run no longer excludes others.
    pub lock_lost: bool,
    /// The script ran but its history change was refused (a missing privilege on the history
    /// table): rolled back whole, and this error, not the script, is the outcome.
    pub bookkeeping: Option<Error>,
}

impl Failure {
    pub(crate) fn from_driver(
        script: &std::path::Path,
        err: &sqlx::Error,
        position: Option<(usize, usize)>,
    ) -> Failure {
        let (code, detail, server_hint) = match err {
            sqlx::Error::Database(db) => {
                match db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    Some(pg) => (
                        Some(pg.code().to_string()),
                        pg.detail().map(secrets::redact),
                        pg.hint().map(secrets::redact),
                    ),
                    None => (db.code().map(|c| c.to_string()), None, None),
                }
            }
            _ => (None, None, None),
        };
        Failure {
            script: script.to_path_buf(),
            position,
            code,
            message: driver_reason(err),
            detail,
            server_hint,
            recorded_as_failed: false,
            statements_done: None,
            before_first_statement: false,
            connection_lost: is_connection_lost(err),
            transient: is_transient(err),
            lock_busy: is_lock_busy(err),
            lock_lost: false,
            bookkeeping: None,
        }
    }

    pub(crate) fn message(script: &std::path::Path, message: &str) -> Failure {
        Failure {
            script: script.to_path_buf(),
            position: None,
            code: None,
            message: message.to_string(),
            detail: None,
            server_hint: None,
            recorded_as_failed: false,
            statements_done: None,
            before_first_statement: false,
            connection_lost: false,
            transient: false,
            lock_busy: false,
            lock_lost: false,
            bookkeeping: None,
        }
    }

    pub(crate) fn split(
        script: &std::path::Path,
        err: &crate::migration::split::SplitError,
    ) -> Failure {
        Failure {
            position: Some((err.line, err.column)),
            // Split before anything is sent: nothing ran.
            before_first_statement: true,
            ..Failure::message(
                script,
                &format!("cannot split the script into statements: {}", err.message),
            )
        }
    }
}

/// An open connection to a database, of one dialect.
pub enum Database {
    // Boxed: a PostgreSQL connection is large, and a `Database` is moved around.
    Postgres(Box<postgres::Postgres>),
    Sqlite(sqlite::Sqlite),
}

impl Database {
    /// Connects, retrying transient failures until `options.wait` runs out: a total deadline,
    /// so an attempt that hangs (a server that accepts and never answers) is cut off at it, and
    /// every attempt at `options.connect_timeout`. `on_wait` is called once when the first
    /// attempt fails and waiting begins.
    pub async fn connect(
        url: &DatabaseUrl,
        options: &ConnectOptions,
        mut on_wait: impl FnMut(&str),
    ) -> Result<Database> {
        // A command that changes the database (the only ones that may create it) would change
        // a copy that is gone when it exits, and report success.
        if options.create_if_missing && url.sqlite_database() == Some(url::SqliteDatabase::Memory) {
            return Err(Error::input(
                ErrorCode::BadDatabaseUrl,
                "an in-memory SQLite database lives only as long as this command: nothing it changes would be kept",
            )
            .at(url.redacted())
            .hint("point the URL at a file (sqlite:path/to/app.db); in-memory databases suit read-only commands such as `status`"));
        }
        let started = Instant::now();
        let deadline = deadline_after(options.wait);
        let mut announced = false;
        // The URL's own connect_timeout (libpq's) is the more specific setting.
        let connect_timeout = url.connect_timeout().unwrap_or(options.connect_timeout);
        let options = &ConnectOptions {
            connect_timeout,
            ..options.clone()
        };
        loop {
            let budget = if options.wait.is_zero() {
                options.connect_timeout
            } else {
                options
                    .connect_timeout
                    .min(deadline.saturating_duration_since(Instant::now()))
            };
            let attempt = match url.dialect() {
                Dialect::Postgres => postgres::Postgres::connect(url, budget, options)
                    .await
                    .map(|pg| Database::Postgres(Box::new(pg))),
                Dialect::Sqlite => sqlite::Sqlite::connect(url, options)
                    .await
                    .map(Database::Sqlite),
                Dialect::Mysql => {
                    return Err(Error::input(
                        ErrorCode::UnsupportedDialect,
                        "MySQL and MariaDB databases are not supported yet",
                    )
                    .at(url.redacted())
                    .hint("PostgreSQL and SQLite are supported today"));
                }
            };
            match attempt {
                Ok(database) => return Ok(database),
                Err(failure) if failure.retryable && Instant::now() < deadline => {
                    if !announced {
                        on_wait(&format!(
                            "waiting for the database at {} ({})",
                            url.endpoint(),
                            failure.reason
                        ));
                        announced = true;
                    }
                    let pause = Duration::from_millis(250)
                        .min(deadline.saturating_duration_since(Instant::now()));
                    tokio::time::sleep(pause).await;
                }
                Err(failure) => {
                    // The time actually spent retrying: none when the first answer was final
                    // (a wrong password is not retried, whatever --wait says).
                    let waited = announced.then(|| started.elapsed());
                    return Err(connect_error(url, &failure, waited));
                }
            }
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Database::Postgres(_) => Dialect::Postgres,
            Database::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Takes the migration lock for the rest of the session: PostgreSQL a session advisory
    /// lock on a dedicated connection, SQLite an `flock` on a sidecar file (see [`run_lock`]).
    pub async fn lock(
        &mut self,
        url: &DatabaseUrl,
        lock_name: &str,
        timeout: Duration,
    ) -> Result<()> {
        match self {
            Database::Postgres(pg) => pg.lock(url, lock_name, timeout).await,
            Database::Sqlite(sqlite) => sqlite.lock(timeout).await,
        }
    }

    /// Refuses a PostgreSQL standby or read-only session (exit 2), before anything is locked.
    pub async fn refuse_read_only(&mut self) -> Result<()> {
        match self {
            Database::Postgres(pg) => pg.refuse_read_only().await,
            Database::Sqlite(_) => Ok(()),
        }
    }

    /// The server's major version (PostgreSQL); `None` for an embedded database.
    pub async fn server_major(&mut self) -> Result<Option<String>> {
        match self {
            Database::Postgres(pg) => pg.server_major().await.map(Some),
            Database::Sqlite(_) => Ok(None),
        }
    }

    /// Which history table exists: (own, sqlx, diesel).
    pub async fn existing_histories(&mut self, own: &str) -> Result<(bool, bool, bool)> {
        let check = [
            own.to_string(),
            history::SQLX_TABLE.to_string(),
            history::DIESEL_TABLE.to_string(),
        ];
        let mut found = [false; 3];
        for (slot, table) in found.iter_mut().zip(&check) {
            *slot = !self.columns_of(table).await?.is_empty();
        }
        Ok((found[0], found[1], found[2]))
    }

    /// `format` and whether its table exists: for the other tools' tables, looked for only
    /// when the set is in that tool's format.
    pub async fn history_of(&mut self, format: HistoryFormat) -> Result<(HistoryFormat, bool)> {
        let exists = !self.columns_of(&format.table()).await?.is_empty();
        Ok((format, exists))
    }

    /// The column names of `table` (empty when it does not exist).
    pub async fn columns_of(&mut self, table: &str) -> Result<Vec<String>> {
        match self {
            Database::Postgres(pg) => pg.columns_of(table).await,
            Database::Sqlite(sqlite) => sqlite.columns_of(table).await,
        }
    }

    /// The schema `table` is in (PostgreSQL, when it exists); SQLite has none to pin.
    pub async fn schema_of(&mut self, table: &str) -> Result<Option<String>> {
        match self {
            Database::Postgres(pg) => pg.schema_of(table).await,
            Database::Sqlite(_) => Ok(None),
        }
    }

    /// Creates the history table if it does not exist.
    pub async fn ensure_history(&mut self, format: &HistoryFormat) -> Result<()> {
        let with_schema = match (&mut *self, format) {
            (Database::Postgres(pg), HistoryFormat::Own { .. }) => match format.schema() {
                Some(schema) => !pg.schema_exists(&schema).await?,
                None => false,
            },
            _ => false,
        };
        let sql = format.create_sql(self.dialect(), with_schema);
        self.execute(&sql).await
    }

    /// The schema an unqualified CREATE TABLE would use (PostgreSQL: the first existing one
    /// on the search_path); SQLite has none to pin.
    pub async fn current_schema(&mut self) -> Result<Option<String>> {
        match self {
            Database::Postgres(pg) => pg.current_schema().await,
            Database::Sqlite(_) => Ok(None),
        }
    }

    /// Every row of the history table; none if it does not exist yet.
    pub async fn read_history(&mut self, format: &HistoryFormat) -> Result<Vec<AppliedRow>> {
        let columns = self.columns_of(&format.table()).await?;
        if columns.is_empty() {
            return Ok(Vec::new());
        }
        let expected = format.columns();
        let mut sorted_found: Vec<&str> = columns.iter().map(String::as_str).collect();
        sorted_found.sort_unstable();
        let mut sorted_expected = expected.to_vec();
        sorted_expected.sort_unstable();
        if sorted_found != sorted_expected {
            return Err(Error::input(
                ErrorCode::HistoryTableMismatch,
                format!(
                    "table `{}` exists but is not a {} history table (columns: {})",
                    format.table(),
                    format.label(),
                    columns.join(", ")
                ),
            )
            .at(format.table().to_string())
            .hint("name cargo-migrate's table differently with `history-table` in [package.metadata.migrate]"));
        }
        let sql = format.select_sql(self.dialect());
        match self {
            Database::Postgres(pg) => pg.read_rows(&sql).await,
            Database::Sqlite(sqlite) => sqlite.read_rows(&sql).await,
        }
    }

    /// Writes history statements (`resolve`, `baseline`) in one transaction, values bound.
    pub async fn record(&mut self, statements: &[history::Statement]) -> Result<()> {
        match self {
            Database::Postgres(pg) => pg.record(statements).await,
            Database::Sqlite(sqlite) => sqlite.record(statements).await,
        }
    }

    /// Runs DDL of our own (the history table) in one transaction.
    pub async fn execute(&mut self, sql: &str) -> Result<()> {
        match self {
            Database::Postgres(pg) => pg.execute(sql).await,
            Database::Sqlite(sqlite) => sqlite.execute(sql).await,
        }
    }

    /// Applies or reverts one migration, with its history change, atomically unless it is a
    /// no-transaction migration; its script is checked first (see
    /// [`crate::migration::prepare`]), a refusal reported as the migration's failure. A run of
    /// several migrations checks them all before the first runs and calls
    /// [`Database::run_prepared`].
    pub async fn run(
        &mut self,
        format: &HistoryFormat,
        migration: &Migration,
        direction: Direction,
    ) -> Result<Ran, Failure> {
        let Some(script) = direction.script(migration) else {
            return Err(Failure::message(&migration.up.path, "no down script"));
        };
        let prepared = crate::migration::prepare::prepare(
            &script.sql,
            self.dialect(),
            !migration.no_transaction,
        )
        .map_err(|refusal| Failure {
            position: Some((refusal.line, refusal.column)),
            before_first_statement: true,
            ..Failure::message(&script.path, &refusal.message)
        })?;
        self.run_prepared(format, migration, direction, &prepared)
            .await
    }

    /// [`Database::run`] with the script in `direction` as
    /// [`crate::migration::prepare::prepare`] checked it.
    pub async fn run_prepared(
        &mut self,
        format: &HistoryFormat,
        migration: &Migration,
        direction: Direction,
        prepared: &Prepared<'_>,
    ) -> Result<Ran, Failure> {
        match self {
            Database::Postgres(pg) => pg.run(format, migration, direction, prepared).await,
            Database::Sqlite(sqlite) => sqlite.run(format, migration, direction, prepared).await,
        }
    }

    /// Opens a probe: the transactional migrations run until [`Database::end_probe`] run in
    /// savepoints of one transaction, which `end_probe` rolls back (`check` tries a down and
    /// its up again that way, and needs no rebuild when they fail). Scratch databases only.
    /// No-transaction migrations must not run in a probe. A PostgreSQL schema read in a probe
    /// runs in a savepoint of it.
    pub async fn begin_probe(&mut self) -> Result<()> {
        match self {
            Database::Sqlite(sqlite) => sqlite.begin_probe().await,
            Database::Postgres(pg) => pg.begin_probe().await,
        }
    }

    /// Rolls back everything run since [`Database::begin_probe`].
    pub async fn end_probe(&mut self) -> Result<()> {
        match self {
            Database::Sqlite(sqlite) => sqlite.end_probe().await,
            Database::Postgres(pg) => pg.end_probe().await,
        }
    }

    /// Drops everything in the database (every non-system schema, or every SQLite object).
    /// Empties the database; returns what it dropped (`table public.users`, `schema app`, …).
    pub async fn drop_everything(&mut self) -> Result<Vec<String>> {
        match self {
            Database::Postgres(pg) => pg.drop_everything().await,
            Database::Sqlite(sqlite) => sqlite.drop_everything().await,
        }
    }
}

/// Why a connection attempt failed, and whether trying again may help.
pub(crate) struct ConnectFailure {
    pub reason: String,
    pub retryable: bool,
    /// What to do about it, when the reason calls for a hint of its own.
    pub hint: Option<&'static str>,
    /// The connection settings are wrong (a TLS certificate or mode): an input error with
    /// this code, exit 2, so a Job does not retry what only a change of configuration fixes.
    pub input: Option<ErrorCode>,
}

/// The instant `duration` from now, or far in the future when that does not fit an `Instant`
/// (the flags are range-checked; this keeps the library from panicking on any value).
pub(crate) fn deadline_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 60 * 60)))
        .unwrap_or(now)
}

/// A duration for people: whole seconds, tenths below one.
pub(crate) fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs >= 0.95 {
        format!("{:.0} s", secs)
    } else {
        format!("{:.1} s", secs)
    }
}

fn connect_error(url: &DatabaseUrl, failure: &ConnectFailure, waited: Option<Duration>) -> Error {
    let waited = match waited {
        Some(waited) => format!(" (after waiting {})", seconds(waited)),
        None => String::new(),
    };
    let (class, code) = match failure.input {
        Some(code) => (ErrorClass::Input, code),
        None => (ErrorClass::Unreachable, ErrorCode::DatabaseUnreachable),
    };
    Error::new(
        class,
        code,
        format!(
            "cannot connect to the database at {}{waited}: {}",
            url.endpoint(),
            failure.reason
        ),
    )
    .at(url.redacted())
    .hint(match (url.dialect(), failure.hint, failure.retryable) {
        (Dialect::Sqlite, _, _) => {
            "check the path in the URL and the permissions of the file and its directory"
        }
        (_, Some(hint), _) => hint,
        (_, None, true) => {
            "check that the server runs and the host and port are right; --wait SECS keeps retrying while it starts"
        }
        (_, None, false) => "check the user, password and database name in the URL",
    })
}

/// A driver error as text without secrets (and without sqlx's "error returned from database:"
/// prefix, which adds nothing for people).
pub(crate) fn driver_reason(err: &sqlx::Error) -> String {
    let text = match err {
        sqlx::Error::Database(db) => db.message().to_string(),
        // sqlx says "expected to read 5 bytes, got 0 bytes at EOF".
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection".to_string()
        }
        // Without the driver's source location, e.g. "(sqlx_postgres::connection::tls:95)".
        sqlx::Error::Protocol(text) => format!(
            "the server's answer was not understood ({})",
            without_source_location(text)
        ),
        other => other.to_string(),
    };
    let text = text
        .strip_prefix("error communicating with database: ")
        .unwrap_or(&text)
        .to_string();
    secrets::redact(&crate::error::strip_os_error(&text))
}

/// `text` without a trailing `(module::path:line)`, which sqlx appends to protocol errors.
pub(crate) fn without_source_location(text: &str) -> &str {
    match text.rsplit_once(" (") {
        Some((head, tail)) if tail.ends_with(')') && tail.contains("::") && !tail.contains(' ') => {
            head
        }
        _ => text,
    }
}

/// An error of our own SQL (history bookkeeping, locking): exit 3, the database misbehaved.
pub(crate) fn database_error(context: &str, err: &sqlx::Error) -> Error {
    // SQLITE_NOTADB: the URL names a file, but not a SQLite database.
    if let sqlx::Error::Database(db) = err
        && db.code().as_deref() == Some("26")
    {
        return Error::new(
            ErrorClass::Unreachable,
            ErrorCode::DatabaseUnreachable,
            format!("{context}: the file is not a SQLite database"),
        )
        .hint("check the path in the URL: that file exists but holds something else");
    }
    // insufficient_privilege: the user may connect, but not do what the history needs.
    if let Some(error) = privilege::refused(context, err, None) {
        return error;
    }
    let hint = if is_pooler_symptom(err) {
        "the URL seems to lead to a connection pooler in transaction mode (PgBouncer, Supavisor…): add pgbouncer=true to it, or migrate over a direct connection (`direct-url-env`); see docs/deploy.md, Poolers"
    } else if is_transient(err) {
        "the server ended the connection or rolled back for a reason of the moment (a restart, a failover, a terminated session), not a problem of the migrations; run the command again"
    } else {
        "check the connection and the user's privileges"
    };
    Error::new(
        ErrorClass::Unreachable,
        ErrorCode::DatabaseError,
        format!("{context}: {}", driver_reason(err)),
    )
    .hint(hint)
}

/// Whether a driver error is what a transaction pooler does to a session that expects to keep
/// its server connection: another client's prepared statement found there, or ours gone.
fn is_pooler_symptom(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    // 42P05 duplicate_prepared_statement, 26000 invalid_sql_statement_name.
    matches!(db.code().as_deref(), Some("42P05" | "26000")) && db.message().contains("sqlx_s_")
}

/// Whether a driver error means another process held the lock too long: SQLite's
/// SQLITE_BUSY (5) and its extended codes, PostgreSQL's lock_not_available (55P03).
pub(crate) fn is_lock_busy(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    matches!(
        db.code().as_deref(),
        Some("5" | "261" | "517" | "773" | "55P03")
    )
}

/// Whether a driver error means the connection itself broke, or the server ended the session:
/// 57P01 admin_shutdown (`pg_ctl stop -m fast`, `pg_terminate_backend`), 57P02
/// crash_shutdown, 57P03 cannot_connect_now, 57P05 idle_session_timeout, 25P03
/// idle_in_transaction_session_timeout, and class 08 (connection exceptions).
pub(crate) fn is_connection_lost(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_session_ending_code(&code)),
        _ => false,
    }
}

/// SQLSTATEs after which the server has ended (or is ending) the session.
fn is_session_ending_code(code: &str) -> bool {
    matches!(code, "57P01" | "57P02" | "57P03" | "57P05" | "25P03") || code.starts_with("08")
}

/// Whether a driver error is one of the moment rather than of the script: the session ended
/// (see [`is_connection_lost`]), or the server rolled the transaction back because of another
/// session (40001 serialization_failure, 40P01 deadlock_detected).
pub(crate) fn is_transient(err: &sqlx::Error) -> bool {
    if is_connection_lost(err) {
        return true;
    }
    matches!(
        err,
        sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001" | "40P01"))
    )
}

/// What the history says of a no-transaction migration about to run, read under the run
/// lock (SQLite's write lock, a pooled run's transaction lock) by the claim that keeps two
/// processes from both starting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Another run did it meanwhile: skip it.
    Done,
    /// Ours to run. `hold`: keep the lock until the migration is marked under way, so the
    /// mark is the lease other runs see (formats that cannot record it release at once).
    Run { hold: bool },
    /// Another run stopped part-way through it and recorded why.
    FailedElsewhere(String),
    /// Another run is executing it right now (or died doing so): wait for its outcome.
    Busy,
}

/// The claim of a migration run in `direction`, given its history row as (success, failure).
pub(crate) fn claim_of(
    direction: Direction,
    row: Option<(bool, Option<String>)>,
    format: &HistoryFormat,
) -> Claim {
    match (direction, row) {
        (Direction::Up, Some((true, _))) | (Direction::Down, None) => Claim::Done,
        (Direction::Up, None) | (Direction::Down, Some((true, _))) => Claim::Run {
            hold: format.records_failures(),
        },
        (_, Some((false, failure))) => match failure.filter(|f| !history::in_progress(f)) {
            Some(failure) => Claim::FailedElsewhere(failure),
            None => Claim::Busy,
        },
    }
}

/// What the claim's caller does with its lock's transaction once [`Claim`] is known.
#[derive(Debug)]
pub(crate) enum ClaimStep {
    /// Keep the transaction (and so the lock) open: the migration is ours to run, and the
    /// next history record (its "under way" mark) commits it.
    Hold,
    /// Roll the transaction back and return this: skip (`true`), run (`false`), or fail.
    // Boxed: a failure is large, and the other steps carry nothing.
    Release(Result<bool, Box<Failure>>),
    /// Roll the transaction back and look again shortly: another run is executing it.
    Wait,
}

impl Claim {
    /// The step for this claim, `waited` into waiting for another run (at most `timeout`).
    pub(crate) fn step(
        self,
        script: &std::path::Path,
        waited: Duration,
        timeout: Duration,
    ) -> ClaimStep {
        match self {
            Claim::Done => ClaimStep::Release(Ok(true)),
            Claim::Run { hold: true } => ClaimStep::Hold,
            Claim::Run { hold: false } => ClaimStep::Release(Ok(false)),
            Claim::FailedElsewhere(failure) => {
                ClaimStep::Release(Err(Box::new(Failure::failed_elsewhere(script, &failure))))
            }
            Claim::Busy if waited >= timeout => {
                ClaimStep::Release(Err(Box::new(Failure::still_running(script, timeout))))
            }
            Claim::Busy => ClaimStep::Wait,
        }
    }
}

impl Failure {
    /// A claim that found the migration failed by another run.
    fn failed_elsewhere(script: &std::path::Path, failure: &str) -> Failure {
        Failure {
            recorded_as_failed: true,
            ..Failure::message(
                script,
                &format!("another process ran it and it failed: {failure}"),
            )
        }
    }

    /// A claim that waited `--lock-timeout` for another run to finish the migration.
    fn still_running(script: &std::path::Path, waited: Duration) -> Failure {
        Failure::message(
            script,
            &format!(
                "another process started it and has not finished it after {} (--lock-timeout); if that process is gone, settle it with `resolve`",
                seconds(waited)
            ),
        )
    }
}

/// Line and column in `script` of a failure inside `statement`: at the server's position
/// within the statement when it gave one, else at the statement's start.
pub(crate) fn locate_in_statement(
    statement: &crate::migration::split::Statement<'_>,
    script: &str,
    position_in_statement: Option<usize>,
) -> (usize, usize) {
    match position_in_statement {
        Some(position) => {
            let chars_before = script[..statement.offset].chars().count();
            crate::migration::split::line_column_of_char_position(script, chars_before + position)
        }
        None => (statement.line, statement.column),
    }
}

/// A connection that runs one SQL text in autocommit, for the no-transaction runner.
pub(crate) trait Autocommit {
    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error>;
    /// Runs one history statement in autocommit, its values bound.
    async fn record(&mut self, statement: &history::Statement) -> Result<(), sqlx::Error>;
    /// The 1-based character position of an error in the text sent, if the server gives one.
    fn error_position(err: &sqlx::Error) -> Option<usize>;
    /// The role logged in as, for the GRANT a refused history statement needs.
    fn role(&self) -> Option<&str> {
        None
    }
}

/// `statement` as a query with its values bound as parameters of their types.
pub(crate) fn bound<'q, DB>(
    statement: &history::Statement,
    dialect: Dialect,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    String: for<'a> sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: for<'a> sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    bool: for<'a> sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Vec<u8>: for<'a> sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<String>: for<'a> sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let (sql, values) = statement.parameterized(dialect);
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in values {
        query = match value {
            history::Value::Text(text) => query.bind(text.clone()),
            history::Value::Integer(n) => query.bind(*n),
            history::Value::Bool(b) => query.bind(*b),
            history::Value::Bytes(bytes) => query.bind(bytes.clone()),
            history::Value::NullText => query.bind(None::<String>),
        };
    }
    query
}

/// A no-transaction migration: statement by statement in autocommit (so `CREATE INDEX
/// CONCURRENTLY` works), its history row marked as under way first (up: a "started" row;
/// down: the applied row marked as being reverted) so a process that dies part-way, in either
/// direction, leaves the migration shown as failed with the command that settles it.
/// A failure at the first statement changed nothing, so it puts the history back as it was;
/// a later one is recorded as failed, to be settled with `resolve`.
pub(crate) async fn run_statements<C: Autocommit>(
    conn: &mut C,
    dialect: Dialect,
    format: &HistoryFormat,
    migration: &Migration,
    direction: Direction,
    script: &crate::migration::Script,
    sql: &str,
) -> Result<Ran, Failure> {
    let statements = crate::migration::split::split(sql, dialect)
        .map_err(|err| Failure::split(&script.path, &err))?;
    // Refused up front (`HistoryFormat::check_storable`); kept as a failure, never a panic.
    let not_storable = |err: history::NotStorable| Failure::message(&script.path, &err.reason);
    let driver = |err: &sqlx::Error| Failure::from_driver(&script.path, err, None);
    let started = Instant::now();
    let records = format.records_failures();
    if records {
        let under_way = match direction {
            Direction::Up => format.insert(
                migration,
                false,
                history::Elapsed::Millis(0),
                Some(history::UP_STARTED),
            ),
            Direction::Down => format.mark(migration, Some(history::DOWN_STARTED)),
        }
        .map_err(not_storable)?;
        if let Err(err) = conn.record(&under_way).await {
            return Err(Failure {
                before_first_statement: true,
                ..refused_record(conn.role(), format, driver(&err), &err)
            });
        }
    }
    crate::report::log::script_started(
        migration.version.as_str(),
        &migration.name,
        direction.as_str(),
    );
    for (index, statement) in statements.iter().enumerate() {
        let span = crate::report::log::script_span();
        let Err(err) = conn.execute(statement.text).instrument(span).await else {
            continue;
        };
        let position = locate_in_statement(statement, sql, C::error_position(&err));
        let mut failure = Failure::from_driver(&script.path, &err, Some(position));
        failure.statements_done = Some(index);
        if failure.connection_lost {
            return Err(failure);
        }
        if index == 0 {
            // Nothing ran: the migration is exactly as before.
            if records {
                let undo = match direction {
                    Direction::Up => format.delete(migration),
                    Direction::Down => format.mark(migration, None),
                }
                .map_err(not_storable)?;
                conn.record(&undo).await.map_err(|err| driver(&err))?;
            }
        } else if records {
            let reason = format!(
                "{} stopped at {}:{} after {index} of {} statements: {}",
                direction.as_str(),
                position.0,
                position.1,
                statements.len(),
                failure.message
            );
            let elapsed = started.elapsed().as_millis() as i64;
            // Up: the start row becomes a failure. Down: the applied row stays, marked failed.
            let mark = match direction {
                Direction::Up => format.finish(migration, elapsed, Some(&reason)),
                Direction::Down => format.mark(migration, Some(&reason)),
            };
            failure.recorded_as_failed = match mark {
                Ok(mark) => conn.record(&mark).await.is_ok(),
                Err(_) => false,
            };
        }
        return Err(failure);
    }
    let elapsed = started.elapsed();
    let finish = match direction {
        Direction::Up => format.finish(migration, elapsed.as_millis() as i64, None),
        Direction::Down => format.delete(migration),
    }
    .map_err(not_storable)?;
    if !finish.is_empty()
        && let Err(err) = conn.record(&finish).await
    {
        return Err(refused_record(conn.role(), format, driver(&err), &err));
    }
    Ok(Ran {
        elapsed,
        skipped: false,
    })
}

/// A failure to write a history row: a missing privilege is the outcome itself
/// (`insufficient-privilege`, at the history table), not the script's failure.
fn refused_record(
    role: Option<&str>,
    format: &HistoryFormat,
    mut failure: Failure,
    err: &sqlx::Error,
) -> Failure {
    failure.bookkeeping = privilege::refused(
        "cannot record the migration in the history table",
        err,
        role,
    )
    .map(|error| error.at(format.table().to_string()));
    failure
}

/// A history row as [`HistoryFormat::select_sql`] selects it, from either driver.
pub(crate) fn decode_applied_row<R>(row: &R) -> Result<AppliedRow, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(AppliedRow {
        version: row.try_get(0)?,
        name: row.try_get(1)?,
        checksum: row
            .try_get::<Option<String>, _>(2)?
            .as_deref()
            .and_then(history::from_hex),
        applied_at: row.try_get(3)?,
        execution_ms: row.try_get(4)?,
        success: row.try_get(5)?,
        failure: row.try_get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a claim decides from a migration's history row, for every state and direction.
    #[test]
    fn a_claim_follows_the_history_row() {
        let own = HistoryFormat::Own {
            name: "_cargo_migrate".into(),
        };
        let diesel = HistoryFormat::Diesel { schema: None };
        let applied = Some((true, None));
        let started = |what: &str| Some((false, Some(what.to_string())));
        let cases = [
            (Direction::Up, None, &own, Claim::Run { hold: true }),
            (Direction::Up, None, &diesel, Claim::Run { hold: false }),
            (Direction::Up, applied.clone(), &own, Claim::Done),
            (Direction::Down, None, &own, Claim::Done),
            (
                Direction::Down,
                applied.clone(),
                &own,
                Claim::Run { hold: true },
            ),
            (
                Direction::Up,
                started(history::UP_STARTED),
                &own,
                Claim::Busy,
            ),
            (
                Direction::Down,
                started(history::DOWN_STARTED),
                &own,
                Claim::Busy,
            ),
            (
                Direction::Up,
                started("up stopped at 3:1"),
                &own,
                Claim::FailedElsewhere("up stopped at 3:1".into()),
            ),
        ];
        for (direction, row, format, expected) in cases {
            assert_eq!(
                claim_of(direction, row.clone(), format),
                expected,
                "{direction:?} {row:?}"
            );
        }
        let script = std::path::Path::new("up.sql");
        let (second, minute) = (Duration::from_secs(1), Duration::from_secs(60));
        let step = |claim: Claim, waited| claim.step(script, waited, minute);
        assert!(matches!(
            step(Claim::Done, second),
            ClaimStep::Release(Ok(true))
        ));
        assert!(matches!(
            step(Claim::Run { hold: true }, second),
            ClaimStep::Hold
        ));
        assert!(matches!(
            step(Claim::Run { hold: false }, second),
            ClaimStep::Release(Ok(false))
        ));
        assert!(matches!(step(Claim::Busy, second), ClaimStep::Wait));
        assert!(matches!(
            step(Claim::Busy, minute),
            ClaimStep::Release(Err(failure)) if failure.message.contains("has not finished it after")
        ));
        assert!(matches!(
            step(Claim::FailedElsewhere("boom".into()), second),
            ClaimStep::Release(Err(failure)) if failure.recorded_as_failed
        ));
    }

    #[test]
    fn session_ending_and_conflict_codes_are_transient() {
        for (code, lost, transient) in [
            ("57P01", true, true),
            ("57P02", true, true),
            ("57P03", true, true),
            ("57P05", true, true),
            ("25P03", true, true),
            ("08006", true, true),
            ("40001", false, true),
            ("40P01", false, true),
            ("42601", false, false),
            ("55P03", false, false),
        ] {
            assert_eq!(is_session_ending_code(code), lost, "{code}");
            assert_eq!(
                is_session_ending_code(code) || matches!(code, "40001" | "40P01"),
                transient,
                "{code}"
            );
        }
    }

    #[test]
    fn driver_locations_are_dropped() {
        assert_eq!(
            without_source_location("unexpected response (sqlx_postgres::connection::tls:95)"),
            "unexpected response"
        );
        assert_eq!(without_source_location("a (b c)"), "a (b c)");
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(seconds(Duration::from_millis(300)), "0.3 s");
        assert_eq!(seconds(Duration::from_millis(1040)), "1 s");
        assert_eq!(seconds(Duration::from_secs(20)), "20 s");
        // Saturates instead of panicking.
        let _ = deadline_after(Duration::MAX);
    }
}
