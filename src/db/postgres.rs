//! PostgreSQL: one round trip per transactional migration (the script and its history row in
//! one simple-query message), a session advisory lock on a dedicated connection, and error
//! positions mapped back into the migration file.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgErrorPosition};
use sqlx::{AssertSqlSafe, Connection, Row};
use tracing::Instrument;

use super::history::{AppliedRow, Elapsed, HistoryFormat, NotStorable, Statement};
use super::{
    ConnectFailure, ConnectOptions, Direction, Failure, Ran, database_error, driver_reason,
    is_connection_lost,
};
use crate::db::DatabaseUrl;
use crate::dialect::Dialect;
use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::migration::prepare::Prepared;
use crate::migration::{Migration, split};

const APPLICATION_NAME: &str = "cargo-migrate";
/// Prefix of the one-round-trip message; error positions are counted from its start.
const BEGIN: &str = "BEGIN;\n";
/// [`BEGIN`] of a migration inside a probe: a savepoint (see [`Postgres::begin_probe`]).
const PROBE_STEP: &str = "SAVEPOINT cargo_migrate_step;\n";
/// How many statements the one-round-trip message sends before the script: `BEGIN` and
/// `SET LOCAL lock_timeout` (see `begin_prefix`).
const PREFIX_STATEMENTS: usize = 2;

pub struct Postgres {
    conn: PgConnection,
    options: PgConnectOptions,
    /// The connection holding the advisory lock, kept open for the whole session.
    lock: Option<PgConnection>,
    /// `--connect-timeout`, for the lock connection.
    connect_timeout: Duration,
    /// `--lock-timeout`: also the `lock_timeout` of every migration, so a statement waiting
    /// for a table lock gives up instead of waiting for ever.
    lock_timeout: Duration,
    /// The main connection's backend pid (mutating sessions), to name who blocks it.
    backend_pid: Option<i32>,
    /// The role logged in as, for the GRANT a refused history statement needs.
    user: String,
    /// Behind a pooler (`pgbouncer=true`): each transaction may run on another server
    /// connection, so nothing relies on session state. No lock connection and no session
    /// lock (a pooler would leave it held by whichever server connection ran it, after we
    /// leave); the run lock is a transaction-scoped advisory lock taken in each transaction
    /// that changes anything, and the history is re-read under it.
    pooled: bool,
    /// Pooled, mutating sessions: the run lock's key (see [`Postgres::lock`]).
    xact_key: Option<i64>,
    /// Pooled: a claim's transaction is open (a no-transaction migration's lease); the next
    /// history record commits it.
    commit_after_next: bool,
    /// Direct, mutating sessions: the runner key the main connection holds shared (see
    /// [`Postgres::lock`]), taken again after a migration that may have released it.
    runner_key: Option<i64>,
    /// Inside a probe ([`Postgres::begin_probe`]): a migration's transaction is a savepoint
    /// of the probe's, so rolling the probe back undoes it.
    in_probe: bool,
}

impl Postgres {
    /// The session's connection, for schema inspection.
    pub(crate) fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// What [`Postgres::run`] sends around `migration`'s up script (it is transactional):
    /// the transaction's opening, and its history row with the commit; for a caller that
    /// sends the script its own way (the safety trace, which runs it statement by statement
    /// with observations in between). `None` where `run` does more than that message: behind
    /// a pooler, or holding the run lock (scratch databases hold none).
    pub(crate) fn up_wrapping(
        &self,
        format: &HistoryFormat,
        migration: &Migration,
    ) -> Option<(String, String)> {
        if self.pooled || self.lock.is_some() || migration.no_transaction {
            return None;
        }
        let bookkeeping = bookkeeping(format, migration, Direction::Up).ok()?;
        Some((self.begin_prefix(), format!("{bookkeeping};\nCOMMIT;")))
    }

    /// Connects, giving up after `budget` without an answer.
    pub(crate) async fn connect(
        url: &DatabaseUrl,
        budget: Duration,
        settings: &ConnectOptions,
    ) -> Result<Postgres, ConnectFailure> {
        // The same options the locality guard judged (see `DatabaseUrl::locality`).
        let options = url.pg_options().map_err(|err| ConnectFailure {
            reason: driver_reason(&err),
            retryable: false,
            hint: None,
            input: None,
        })?;
        // The URL's application_name (or PGAPPNAME) is the operator's choice: keep it.
        let options = match options.get_application_name() {
            Some(_) => options,
            None => options.application_name(APPLICATION_NAME),
        };
        // A startup parameter poolers refuse ("unsupported startup parameter:
        // extra_float_digits", PgBouncer without ignore_startup_parameters); nothing here
        // reads floats as text.
        let options = options.extra_float_digits(None);
        let mode = super::tls::effective_mode(url, options.get_ssl_mode());
        let options = options.ssl_mode(mode);
        super::tls::check_files(url, mode)?;
        let conn = connect_within(url, &options, budget).await?;
        let user = options.get_username().to_string();
        Ok(Postgres {
            conn,
            options,
            lock: None,
            connect_timeout: settings.connect_timeout,
            lock_timeout: settings.lock_timeout,
            backend_pid: None,
            user,
            pooled: url.pooled(),
            xact_key: None,
            commit_after_next: false,
            runner_key: None,
            in_probe: false,
        })
    }

    /// An error of our own SQL: a missing privilege named with its GRANT (exit 2), else
    /// [`database_error`].
    fn refused(&self, context: &str, err: &sqlx::Error) -> Error {
        super::privilege::refused(context, err, Some(&self.user))
            .unwrap_or_else(|| database_error(context, err))
    }

    /// Takes the run lock: a session advisory lock on a dedicated connection (so nothing a
    /// migration does on the main connection, `DISCARD ALL` included, can release it).
    ///
    /// Then waits for the connections of runs that died to go away. A killed client's lock
    /// connection, idle, ends at once and frees the run lock; its main connection's backend
    /// goes on with the query it was sent (a whole migration, COMMIT included) and only ends
    /// when it tries to answer. Every main connection holds the *runner* key (shared) for its
    /// life, so taking that key exclusively, once, proves no migration of an earlier run is
    /// still executing — and the history read next is final.
    pub(crate) async fn lock(
        &mut self,
        url: &DatabaseUrl,
        name: &str,
        timeout: Duration,
    ) -> Result<()> {
        let key = lock_key(name);
        if self.pooled {
            self.probe_transaction(url, None).await?;
            // Taken per transaction from now on: `pg_advisory_xact_lock` ends with the
            // transaction whatever happens, on whichever server connection ran it.
            self.xact_key = Some(key);
            return Ok(());
        }
        let runner = runner_key(name);
        let mut lock_conn = connect_within(url, &self.options, self.connect_timeout)
            .await
            .map_err(|failure| {
                Error::new(
                    ErrorClass::Unreachable,
                    ErrorCode::DatabaseUnreachable,
                    format!("cannot open the lock connection: {}", failure.reason),
                )
                .at(url.redacted())
                .hint(failure.hint.unwrap_or(
                    "the server answered the first connection but not this one; check its max_connections and run the command again",
                ))
            })?;
        // A transaction pooler the URL does not announce, caught when it can be: two
        // connections of ours served by one backend (the lock connection's, released after
        // its query, runs the main connection's next transaction: PgBouncer reuses the
        // server connection released last) can only be a pooler's doing. Then no session
        // lock is taken; the run goes on as with `pgbouncer=true`. Not seeing it proves
        // nothing (another client may have taken that server connection meanwhile).
        let lock_pid = backend_pid(&mut lock_conn).await;
        if self.probe_transaction(url, lock_pid.as_deref()).await? {
            drop(lock_conn);
            self.pooled = true;
            self.xact_key = Some(key);
            return Ok(());
        }
        // The lock connection sits idle for the whole run: a server-side idle_session_timeout
        // (PostgreSQL 14+) would end it and silently free the lock. Older servers do not know
        // the setting, which is fine: they cannot time it out either.
        let _ = sqlx::raw_sql("SET idle_session_timeout = 0")
            .execute(&mut lock_conn)
            .await;
        let deadline = super::deadline_after(timeout);
        if !poll_advisory_lock(&mut lock_conn, key, deadline).await? {
            return Err(lock_busy(&mut lock_conn, key, url, timeout).await);
        }
        if !poll_advisory_lock(&mut lock_conn, runner, deadline).await? {
            return Err(lock_busy(&mut lock_conn, runner, url, timeout).await);
        }
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(runner)
            .execute(&mut lock_conn)
            .await
            .map_err(|err| database_error("cannot take the migration lock", &err))?;
        // Simple queries: nothing of ours stays prepared on the main connection, where a
        // migration's `DISCARD ALL` or `DEALLOCATE` would drop it behind sqlx's back.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SELECT pg_advisory_lock_shared({runner})"
        )))
        .execute(&mut self.conn)
        .await
        .map_err(|err| database_error("cannot take the migration lock", &err))?;
        self.runner_key = Some(runner);
        self.backend_pid = backend_pid(&mut self.conn)
            .await
            .and_then(|pid| pid.parse().ok());
        self.lock = Some(lock_conn);
        Ok(())
    }

    /// Refuses a server that cannot be migrated: a standby in recovery, or a session that is
    /// read-only (`default_transaction_read_only`). Asked before the run lock is taken.
    pub(crate) async fn refuse_read_only(&mut self) -> Result<()> {
        // A simple query, as every query that may go through a pooler (see `scalar`).
        let answer = self
            .scalar("SELECT pg_is_in_recovery()::text || ' ' || current_setting('transaction_read_only')")
            .await
            .map_err(|err| self.refused("cannot ask whether the server is a standby", &err))?
            .unwrap_or_default();
        let (recovery, read_only) = answer.split_once(' ').unwrap_or((&answer, ""));
        let recovery = recovery == "true";
        if recovery {
            return Err(Error::input(
                ErrorCode::ReadOnlyDatabase,
                "the server is a read-only standby (in recovery): migrations run on the primary",
            )
            .hint("point the URL at the primary (read-write) server: the managed cluster's read-write endpoint, or Patroni's primary service"));
        }
        if read_only == "on" {
            return Err(Error::input(
                ErrorCode::ReadOnlyDatabase,
                "the session is read-only (default_transaction_read_only is on for this role or database)",
            )
            .hint(format!(
                "run migrations as a role that may write, or turn the setting off where it is set: ALTER ROLE {} SET default_transaction_read_only = off (or ALTER DATABASE …)",
                super::privilege::quote(&self.user)
            )));
        }
        Ok(())
    }

    /// The server's major version: `15` for 15.4.
    pub(crate) async fn server_major(&mut self) -> Result<String> {
        let number: String = self
            .scalar("SELECT current_setting('server_version_num')")
            .await
            .map_err(|err| database_error("cannot read the server version", &err))?
            .unwrap_or_default();
        let number: u32 = number.trim().parse().unwrap_or(0);
        // 90600 → 9.6 (before 10 the major had two parts), 150004 → 15.
        Ok(if number >= 100_000 {
            (number / 10_000).to_string()
        } else {
            format!("{}.{}", number / 10_000, number / 100 % 100)
        })
    }

    pub(crate) async fn columns_of(&mut self, table: &str) -> Result<Vec<String>> {
        let quoted = text_literal(&super::history::quote_qualified(table));
        let rows = sqlx::raw_sql(AssertSqlSafe(format!(
            "SELECT a.attname::text FROM pg_attribute a \
             WHERE a.attrelid = to_regclass({quoted}) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum"
        )))
        .fetch_all(&mut self.conn)
        .await
        .map_err(|err| database_error("cannot inspect the history table", &err))?;
        rows.iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(|err| database_error("cannot inspect the history table", &err))
    }

    pub(crate) async fn schema_of(&mut self, table: &str) -> Result<Option<String>> {
        let quoted = text_literal(&super::history::quote_qualified(table));
        self.scalar(&format!(
            "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = to_regclass({quoted})"
        ))
        .await
        .map_err(|err| database_error("cannot locate the history table", &err))
    }

    pub(crate) async fn current_schema(&mut self) -> Result<Option<String>> {
        self.scalar("SELECT current_schema()::text")
            .await
            .map_err(|err| self.refused("cannot locate the history table", &err))
    }

    pub(crate) async fn schema_exists(&mut self, schema: &str) -> Result<bool> {
        let exists = self
            .scalar(&format!(
                "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = {})::text",
                text_literal(schema)
            ))
            .await
            .map_err(|err| self.refused("cannot locate the history table", &err))?;
        Ok(exists.as_deref() == Some("true"))
    }

    /// The first column of the first row of `sql`, as text (`None`: no row, or NULL). A
    /// simple query, like every query of ours: the extended protocol's statements (sqlx
    /// prepares `sqlx_s_N` and executes it in a second round trip) do not survive a
    /// transaction pooler, which may run the two on different server connections.
    async fn scalar(&mut self, sql: &str) -> Result<Option<String>, sqlx::Error> {
        let rows = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut self.conn)
            .await?;
        match rows.first() {
            Some(row) => row.try_get(0),
            None => Ok(None),
        }
    }

    pub(crate) async fn read_rows(&mut self, sql: &str) -> Result<Vec<AppliedRow>> {
        let rows = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|err| self.refused("cannot read the history table", &err))?;
        rows.iter()
            .map(super::decode_applied_row)
            .collect::<Result<_, _>>()
            .map_err(|err| self.refused("cannot read the history table", &err))
    }

    pub(crate) async fn execute(&mut self, sql: &str) -> Result<()> {
        let wrapped = format!("BEGIN;\n{}{sql};\nCOMMIT;", self.xact_lock());
        if let Err(err) = sqlx::raw_sql(AssertSqlSafe(wrapped))
            .execute(&mut self.conn)
            .await
        {
            self.rollback().await;
            return Err(self.refused("cannot update the history table", &err));
        }
        Ok(())
    }

    pub(crate) async fn record(&mut self, statements: &[Statement]) -> Result<()> {
        let context = "cannot update the history table";
        // One message, values as literals of their types: no prepared statements (a pooler
        // may not keep them; a migration's `DISCARD ALL` or `DEALLOCATE` drops them).
        let mut message = format!("BEGIN;\n{}", self.xact_lock());
        for statement in statements.iter().filter(|s| !s.is_empty()) {
            message.push_str(&statement.inline(Dialect::Postgres));
            message.push_str(";\n");
        }
        message.push_str("COMMIT;");
        if let Err(err) = sqlx::raw_sql(AssertSqlSafe(message))
            .execute(&mut self.conn)
            .await
        {
            self.rollback().await;
            return Err(self.refused(context, &err));
        }
        Ok(())
    }

    pub(crate) async fn run(
        &mut self,
        format: &HistoryFormat,
        migration: &Migration,
        direction: Direction,
        prepared: &Prepared<'_>,
    ) -> Result<Ran, Failure> {
        let sql: &str = &prepared.sql;
        let Some(script) = direction.script(migration) else {
            return Err(Failure::message(&migration.up.path, "no down script"));
        };
        if let Err(err) = self.check_lock().await {
            return Err(Failure {
                lock_lost: true,
                ..Failure::from_driver(&script.path, &err, None)
            });
        }
        if migration.no_transaction {
            if self.pooled {
                return self
                    .run_pooled_statements(format, migration, direction, sql)
                    .await;
            }
            // Statement by statement in autocommit: the session's lock_timeout bounds them.
            let set = format!("SET lock_timeout = {}", lock_timeout_ms(self.lock_timeout));
            if let Err(err) = self.simple(&set).await {
                return Err(Failure::from_driver(&script.path, &err, None));
            }
            return super::run_statements(
                self,
                Dialect::Postgres,
                format,
                migration,
                direction,
                script,
                sql,
            )
            .await;
        }
        let bookkeeping = bookkeeping(format, migration, direction)
            .map_err(|err| Failure::message(&script.path, &err.reason))?;
        let started = Instant::now();
        // Pooled: the transaction is opened, locked and checked first; the script follows in
        // the same transaction (a pooler keeps a transaction on one server connection).
        if self.pooled {
            match self.begin_pooled(format, migration, direction).await {
                Ok(true) => {}
                Ok(false) => {
                    return Ok(Ran {
                        elapsed: started.elapsed(),
                        skipped: true,
                    });
                }
                Err(err) => return Err(self.lock_failure(&script.path, &err).await),
            }
        }
        // The script and its history change travel together: applied and recorded, or neither.
        // `SET LOCAL` bounds its lock waits by --lock-timeout for this transaction only; a
        // `SET lock_timeout` of the script's own comes later and wins, as it should.
        let prefix = if self.pooled {
            String::new()
        } else {
            self.begin_prefix()
        };
        // Statements the prefix sends before the script (pooled: `begin_pooled` sent them).
        let prefix_statements = if self.pooled { 0 } else { PREFIX_STATEMENTS };
        // Between the script and its history change: the runner lock checked when the script
        // may have released it, and the session put back as the connection opened it (a
        // `SET ROLE`, `RESET ALL` or search_path of the script's must change neither who writes
        // the history nor the migrations after it).
        let guard = self.runner_guard(&script.sql);
        let reset = self.session_reset(true);
        let commit = self.commit_statement();
        let message = format!(
            "{prefix}{}\n;\n{guard}{reset}{bookkeeping};\n{commit}",
            without_bom(sql)
        );
        // Statements that completed, the prefix's included: on a failure PostgreSQL gives no
        // position for, the count names the failing statement, so nothing needs to run again
        // to find it.
        let mut completed: usize = 0;
        // The script and the tool's own statements travel in one message, logged as these.
        crate::report::log::script_started(
            migration.version.as_str(),
            &migration.name,
            direction.as_str(),
        );
        tracing::debug!(target: "cargo_migrate::sql", "around it: {prefix}…;\n{guard}{reset}{bookkeeping};\n{commit}");
        let send = async {
            let mut results = sqlx::raw_sql(AssertSqlSafe(message)).execute_many(&mut self.conn);
            loop {
                match results.next().await {
                    Some(Ok(_)) => completed += 1,
                    Some(Err(err)) => break Err(err),
                    None => break Ok(()),
                }
            }
        };
        let send = send.instrument(crate::report::log::script_span());
        let (outcome, blocker) = match (self.lock.as_mut(), self.backend_pid) {
            (Some(lock), Some(pid)) => watch_blockers(send, lock, pid, self.lock_timeout).await,
            _ => (send.await, None),
        };
        match outcome {
            Ok(()) => Ok(Ran {
                elapsed: started.elapsed(),
                skipped: false,
            }),
            Err(err) => {
                if is_connection_lost(&err) {
                    return Err(Failure::from_driver(&script.path, &err, None));
                }
                self.rollback().await;
                let mut failure = Failure::from_driver(&script.path, &err, None);
                if failure.message.contains(RUNNER_RELEASED) {
                    // The guard's refusal: point at the script's call, not at our statement.
                    failure.position = unlock_position(&script.sql);
                    // P0001 is the RAISE's, not the script's: no code to look up.
                    failure.code = None;
                    return Err(failure);
                }
                if failure.lock_busy {
                    // Replaying the script to locate the statement would wait as long again.
                    failure.message = lock_wait_message(self.lock_timeout, blocker.as_deref());
                    return Err(failure);
                }
                if failure.transient {
                    // A deadlock or serialization failure says nothing about the script.
                    return Err(failure);
                }
                if let Some(refused) = super::privilege::refused(
                    "cannot record the migration in the history table",
                    &err,
                    Some(&self.user),
                ) && error_position(&err).is_none()
                {
                    // The script or its history row lacked a privilege: the count of
                    // completed statements tells which (past the script's last: the row).
                    let position = completed
                        .checked_sub(prefix_statements)
                        .and_then(|index| prepared.statement_position(index));
                    if position.is_none() {
                        failure.bookkeeping = Some(refused.at(format.table().to_string()));
                        return Err(failure);
                    }
                    failure.position = position;
                    return Err(failure);
                }
                let position = error_position(&err).and_then(|p| {
                    let in_script = p.checked_sub(prefix.chars().count())?;
                    (in_script >= 1 && in_script <= script.sql.chars().count())
                        .then(|| split::line_column_of_char_position(&script.sql, in_script))
                });
                failure.position = position.or_else(|| {
                    // `completed` counts the prefix's statements; a failure of those is ours.
                    let index = completed.checked_sub(prefix_statements)?;
                    prepared.statement_position(index)
                });
                Err(failure)
            }
        }
    }

    /// Pooled: opens the migration's transaction, takes the run lock in it (waiting at most
    /// --lock-timeout) and reads the history under it. `Ok(false)`: another run did this
    /// migration meanwhile; the transaction is rolled back and it is skipped. `Ok(true)`: the
    /// transaction stays open for the script.
    async fn begin_pooled(
        &mut self,
        format: &HistoryFormat,
        migration: &Migration,
        direction: Direction,
    ) -> Result<bool, sqlx::Error> {
        let open = format!("{}{}", self.begin_prefix(), self.xact_lock());
        if let Err(err) = sqlx::raw_sql(AssertSqlSafe(open))
            .execute(&mut self.conn)
            .await
        {
            self.rollback().await;
            return Err(err);
        }
        let recorded = match self.recorded_row(format, migration).await {
            Ok(row) => row.is_some(),
            Err(err) => {
                self.rollback().await;
                return Err(err);
            }
        };
        let to_do = match direction {
            Direction::Up => !recorded,
            Direction::Down => recorded,
        };
        if !to_do {
            self.rollback().await;
        }
        Ok(to_do)
    }

    /// `migration`'s history row as (success, failure), read under the run lock.
    async fn recorded_row(
        &mut self,
        format: &HistoryFormat,
        migration: &Migration,
    ) -> Result<Option<(bool, Option<String>)>, sqlx::Error> {
        // Refused up front (`HistoryFormat::check_storable`): such a version has no row.
        let Ok(select) = format.recorded_row(migration) else {
            return Ok(None);
        };
        // As text: `1` (diesel's rows exist only when applied) and `true` alike.
        let sql = format!(
            "SELECT r.success::text IN ('true', '1'), r.failure::text FROM ({}) AS r(success, failure)",
            select.inline(Dialect::Postgres)
        );
        let rows = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(&mut self.conn)
            .await?;
        rows.first()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
    }

    /// The failure of a pooled transaction that could not be opened and locked: a lock
    /// wait longer than --lock-timeout names the run lock.
    async fn lock_failure(&mut self, script: &std::path::Path, err: &sqlx::Error) -> Failure {
        let mut failure = Failure::from_driver(script, err, None);
        if failure.lock_busy {
            failure.message = format!(
                "it waited longer than --lock-timeout ({}) for the migration lock another run holds",
                super::seconds(self.lock_timeout)
            );
        }
        failure
    }

    /// Pooled: a no-transaction migration, claimed first (see [`Postgres::claim`]), then
    /// statement by statement. No session `SET lock_timeout`: behind a pooler it would stay
    /// on a server connection other clients then use.
    async fn run_pooled_statements(
        &mut self,
        format: &HistoryFormat,
        migration: &Migration,
        direction: Direction,
        sql: &str,
    ) -> Result<Ran, Failure> {
        let Some(script) = direction.script(migration) else {
            return Err(Failure::message(&migration.up.path, "no down script"));
        };
        let started = Instant::now();
        if self
            .claim(format, migration, direction, &script.path)
            .await?
        {
            return Ok(Ran {
                elapsed: started.elapsed(),
                skipped: true,
            });
        }
        let result = super::run_statements(
            self,
            Dialect::Postgres,
            format,
            migration,
            direction,
            script,
            sql,
        )
        .await;
        if self.commit_after_next {
            // run_statements stopped before writing anything (a script that does not split).
            self.commit_after_next = false;
            self.rollback().await;
        }
        result
    }

    /// Pooled, before a no-transaction migration: whether another run already did it (`true`:
    /// skip it). The history is read under the run lock, whose transaction is kept open until
    /// run_statements has marked the migration under way: that row is the lease other runs
    /// see. A migration another run is executing right now is waited for, up to
    /// --lock-timeout.
    async fn claim(
        &mut self,
        format: &HistoryFormat,
        migration: &Migration,
        direction: Direction,
        script: &std::path::Path,
    ) -> Result<bool, Failure> {
        let waiting_since = Instant::now();
        loop {
            let open = format!("{}{}", self.begin_prefix(), self.xact_lock());
            if let Err(err) = sqlx::raw_sql(AssertSqlSafe(open))
                .execute(&mut self.conn)
                .await
            {
                self.rollback().await;
                return Err(self.lock_failure(script, &err).await);
            }
            let row = match self.recorded_row(format, migration).await {
                Ok(row) => row,
                Err(err) => {
                    self.rollback().await;
                    return Err(Failure::from_driver(script, &err, None));
                }
            };
            let claim = super::claim_of(direction, row, format);
            match claim.step(script, waiting_since.elapsed(), self.lock_timeout) {
                super::ClaimStep::Hold => {
                    self.commit_after_next = true;
                    return Ok(false);
                }
                super::ClaimStep::Release(outcome) => {
                    self.rollback().await;
                    return outcome.map_err(|failure| *failure);
                }
                super::ClaimStep::Wait => {
                    self.rollback().await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Pooled, mutating sessions: the statement that takes the run lock for the rest of the
    /// transaction (empty otherwise: the session lock is held already).
    fn xact_lock(&self) -> String {
        match self.xact_key {
            Some(key) if self.pooled => format!("SELECT pg_advisory_xact_lock({key});\n"),
            _ => String::new(),
        }
    }

    /// Opens and rolls back a transaction in three messages (`BEGIN`, the backend's pid,
    /// `ROLLBACK`), and says whether its backend is `other_pid`'s (see [`Postgres::lock`]).
    ///
    /// Refuses a pooler in statement mode, which cannot keep a transaction on one server
    /// connection: PgBouncer ends the session at the first `BEGIN` that is not committed in
    /// the same message ("transaction blocks not allowed in statement pooling mode"). Neither
    /// lock works there, so nothing is run. A direct connection answers at once.
    async fn probe_transaction(
        &mut self,
        url: &DatabaseUrl,
        other_pid: Option<&str>,
    ) -> Result<bool> {
        let probe = match sqlx::raw_sql("BEGIN").execute(&mut self.conn).await {
            Ok(_) => match self.scalar("SELECT pg_backend_pid()::text").await {
                Ok(pid) => sqlx::raw_sql("ROLLBACK")
                    .execute(&mut self.conn)
                    .await
                    .map(|_| pid),
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
        };
        match probe {
            Ok(pid) => Ok(other_pid.is_some() && pid.as_deref() == other_pid),
            Err(err) if is_statement_pooling(&err) => Err(Error::input(
                ErrorCode::StatementPooling,
                format!(
                    "the database URL leads to a connection pooler in statement mode ({}), which cannot run a migration's transaction",
                    url.endpoint()
                ),
            )
            .at(url.redacted())
            .hint("migrate over a direct connection to the server (configure its variable with `direct-url-env`), or through a pool in session or transaction mode with pgbouncer=true in the URL; see docs/deploy.md, Poolers")),
            Err(err) => Err(database_error("cannot open a transaction", &err)),
        }
    }

    /// `BEGIN` and the transaction's `lock_timeout` (0 s means "do not wait": PostgreSQL's 0
    /// would mean "wait for ever", so it becomes 1 ms).
    fn begin_prefix(&self) -> String {
        format!(
            "{}SET LOCAL lock_timeout = {};\n",
            if self.in_probe { PROBE_STEP } else { BEGIN },
            lock_timeout_ms(self.lock_timeout)
        )
    }

    /// What ends a migration's transaction: `COMMIT`, or in a probe the release of its
    /// savepoint.
    fn commit_statement(&self) -> &'static str {
        if self.in_probe {
            "RELEASE SAVEPOINT cargo_migrate_step;"
        } else {
            "COMMIT;"
        }
    }

    /// Opens a probe on a scratch database: the transactional migrations run until
    /// [`Postgres::end_probe`] run in savepoints of one transaction, which `end_probe` rolls
    /// back. No-transaction migrations must not run in one.
    pub(crate) async fn begin_probe(&mut self) -> Result<()> {
        sqlx::raw_sql("BEGIN")
            .execute(&mut self.conn)
            .await
            .map_err(|err| database_error("cannot open a transaction", &err))?;
        self.in_probe = true;
        Ok(())
    }

    /// Rolls the probe back: everything run since [`Postgres::begin_probe`] is undone.
    pub(crate) async fn end_probe(&mut self) -> Result<()> {
        self.in_probe = false;
        sqlx::raw_sql(AssertSqlSafe(self.rollback_sql("ROLLBACK")))
            .execute(&mut self.conn)
            .await
            .map(|_| ())
            .map_err(|err| database_error("cannot roll back a transaction", &err))
    }

    /// Whether a probe is open: a schema read then runs in a savepoint of its transaction.
    pub(crate) fn in_probe(&self) -> bool {
        self.in_probe
    }

    /// Whether the connection holding the run lock is still there (one round trip). Checked
    /// before each migration: without it another run may start, and this one must stop.
    async fn check_lock(&mut self) -> Result<(), sqlx::Error> {
        match &mut self.lock {
            Some(lock) => lock.ping().await,
            None => Ok(()),
        }
    }

    async fn simple(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        super::Autocommit::execute(self, sql).await
    }

    /// `rollback` followed by taking the runner lock again: a session advisory lock
    /// released in the rolled-back transaction stays released.
    fn rollback_sql(&self, rollback: &str) -> String {
        match self.runner_key {
            Some(key) => format!("{rollback};\nSELECT pg_advisory_lock_shared({key})"),
            None => rollback.to_string(),
        }
    }

    async fn rollback(&mut self) {
        // Harmless outside a transaction (a warning); the original error is what matters. A
        // session advisory lock released in the transaction stays released: the runner lock
        // is taken again.
        let rollback = if self.in_probe {
            "ROLLBACK TO SAVEPOINT cargo_migrate_step"
        } else {
            "ROLLBACK"
        };
        let _ = sqlx::raw_sql(AssertSqlSafe(self.rollback_sql(rollback)))
            .execute(&mut self.conn)
            .await;
    }

    /// Statements that put the session back as the connection opened it, sent before each
    /// history change that follows a script: the login role (`SET ROLE`, `SET SESSION
    /// AUTHORIZATION`), every setting at its connection value (search_path, statement_timeout,
    /// client_encoding, standard_conforming_strings, …), the tool's lock_timeout, and the
    /// runner lock (`DISCARD ALL` and `pg_advisory_unlock_all()` release it). One message with
    /// the history statement, so behind a pooler both run on one server connection; there the
    /// lock_timeout is set for the transaction only (`in_transaction`) or not at all, never
    /// left on a server connection other clients then use.
    fn session_reset(&self, in_transaction: bool) -> String {
        let mut sql = String::from("SET SESSION AUTHORIZATION DEFAULT;\nRESET ROLE;\nRESET ALL;\n");
        let timeout = lock_timeout_ms(self.lock_timeout);
        if in_transaction {
            sql.push_str(&format!("SET LOCAL lock_timeout = {timeout};\n"));
        } else {
            // The message's own transaction began under the script's settings: a
            // `default_transaction_read_only` it turned on would refuse the history row.
            sql.push_str("SET TRANSACTION READ WRITE;\n");
            if !self.pooled {
                sql.push_str(&format!("SET lock_timeout = {timeout};\n"));
            }
        }
        if let Some(key) = self.runner_key {
            // Session locks stack: taking it again when it is held costs nothing but a count.
            sql.push_str(&format!("SELECT pg_advisory_lock_shared({key});\n"));
        }
        sql
    }

    /// A transactional script that may release the session's advisory locks
    /// (`pg_advisory_unlock_all()`): a statement, before its history change, that rolls the
    /// migration back when the runner lock is gone. It cannot be taken again in time: from the
    /// release on, a later run may have read the history as final while this transaction was
    /// still to commit (see [`Postgres::lock`]). Empty for any other script.
    fn runner_guard(&self, script: &str) -> String {
        let Some(key) = self.runner_key else {
            return String::new();
        };
        if !script.to_ascii_lowercase().contains("advisory_unlock") {
            return String::new();
        }
        let (high, low) = ((key >> 32) & 0xffff_ffff, key & 0xffff_ffff);
        format!(
            "DO $cargo_migrate$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_locks \
             WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND granted \
             AND mode = 'ShareLock' AND objsubid = 1 AND classid::bigint = {high} \
             AND objid::bigint = {low}) THEN RAISE EXCEPTION USING MESSAGE = {}, HINT = {}; \
             END IF; END $cargo_migrate$;\n",
            text_literal(RUNNER_RELEASED),
            text_literal(RUNNER_RELEASED_HINT),
        )
    }

    pub(crate) async fn drop_everything(&mut self) -> Result<Vec<String>> {
        // What goes, for the report: extensions, schemas but `public`, and the relations of
        // every schema (types, functions and the like go with their schema).
        let list = r#"
SELECT 'extension ' || quote_ident(extname) FROM pg_extension WHERE extname <> 'plpgsql'
UNION ALL
SELECT 'schema ' || quote_ident(nspname) FROM pg_namespace
 WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public')
   AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%'
   AND nspname NOT LIKE 'pg\_toast\_temp\_%'
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view '
                      WHEN 'S' THEN 'sequence ' WHEN 'f' THEN 'foreign table '
                      ELSE 'table ' END
       || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
   AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))
ORDER BY 1"#;
        let dropped: Vec<String> = sqlx::raw_sql(list)
            .fetch_all(&mut self.conn)
            .await
            .and_then(|rows| rows.iter().map(|row| row.try_get(0)).collect())
            .map_err(|err| database_error("cannot list the database's objects", &err))?;
        // Every schema but the system ones goes, with all it holds; `public` comes back with
        // its owner and privileges as they were (they differ between PostgreSQL versions).
        let sql = r#"
DO $cargo_migrate_reset$
DECLARE
    owner text;
    grants text[];
    item text;
BEGIN
    SELECT quote_ident(pg_get_userbyid(nspowner)) INTO owner
      FROM pg_namespace WHERE nspname = 'public';
    SELECT coalesce(array_agg(format('GRANT %s ON SCHEMA public TO %s', a.privilege_type,
               CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END)), '{}')
      INTO grants
      FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'public';
    FOR item IN SELECT quote_ident(extname) FROM pg_extension WHERE extname <> 'plpgsql' LOOP
        EXECUTE 'DROP EXTENSION IF EXISTS ' || item || ' CASCADE';
    END LOOP;
    FOR item IN SELECT quote_ident(nspname) FROM pg_namespace
                 WHERE nspname NOT IN ('pg_catalog', 'information_schema')
                   AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%' LOOP
        EXECUTE 'DROP SCHEMA ' || item || ' CASCADE';
    END LOOP;
    EXECUTE 'CREATE SCHEMA public' || CASE WHEN owner IS NULL THEN '' ELSE ' AUTHORIZATION ' || owner END;
    FOREACH item IN ARRAY grants LOOP
        EXECUTE item;
    END LOOP;
END
$cargo_migrate_reset$"#;
        sqlx::raw_sql(sql)
            .execute(&mut self.conn)
            .await
            .map_err(|err| database_error("cannot empty the database", &err))?;
        Ok(dropped)
    }
}

/// The history change that travels with a transactional migration, its values written as
/// literals of their column types (the message is a simple query: no parameters).
pub(super) fn bookkeeping(
    format: &HistoryFormat,
    migration: &Migration,
    direction: Direction,
) -> Result<String, NotStorable> {
    let statement = match direction {
        Direction::Up => format.insert(migration, true, Elapsed::ServerClock, None)?,
        Direction::Down => format.delete(migration)?,
    };
    Ok(statement.inline(Dialect::Postgres))
}

/// The backend pid serving `conn`'s next query, as text.
async fn backend_pid(conn: &mut PgConnection) -> Option<String> {
    let rows = sqlx::raw_sql("SELECT pg_backend_pid()::text")
        .fetch_all(conn)
        .await
        .ok()?;
    rows.first()?.try_get(0).ok()
}

/// A PostgreSQL string literal of `text` (for our simple queries, which carry no parameters).
fn text_literal(text: &str) -> String {
    Statement::text_literal(text).inline(Dialect::Postgres)
}

/// Whether the server (a pooler) refused a transaction because it pools by statement.
fn is_statement_pooling(err: &sqlx::Error) -> bool {
    let text = match err {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    };
    text.contains("statement pooling mode")
}

/// The advisory lock key for a history table: the same table, the same lock, across processes.
fn lock_key(name: &str) -> i64 {
    key_of(&format!("cargo-migrate lock {name}"))
}

/// The key every main connection holds shared while it may run migrations (see `lock`).
fn runner_key(name: &str) -> i64 {
    key_of(&format!("cargo-migrate runner {name}"))
}

fn key_of(text: &str) -> i64 {
    let digest = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// The lock-timeout error, naming who holds `key`.
async fn lock_busy(
    conn: &mut PgConnection,
    key: i64,
    url: &DatabaseUrl,
    timeout: Duration,
) -> Error {
    let holder = lock_holder(conn, key).await;
    Error::new(
        ErrorClass::Unreachable,
        ErrorCode::LockTimeout,
        format!(
            "another migration run holds the lock on {} (waited {} s){}",
            url.endpoint(),
            timeout.as_secs(),
            holder.map(|h| format!(": {h}")).unwrap_or_default()
        ),
    )
    .at(url.redacted())
    .hint("wait for it to finish, raise --lock-timeout, or end that session (SELECT pg_terminate_backend(PID)) if it is stuck")
}

/// Tries `pg_try_advisory_lock(key)` with backoff until `deadline`; whether it was taken.
async fn poll_advisory_lock(conn: &mut PgConnection, key: i64, deadline: Instant) -> Result<bool> {
    let mut pause = Duration::from_millis(20);
    loop {
        let acquired: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .map_err(|err| database_error("cannot take the migration lock", &err))?;
        if acquired {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// Who holds the advisory lock `key`: "pid 123 (cargo-migrate, from 10.0.0.5, since …)".
async fn lock_holder(conn: &mut PgConnection, key: i64) -> Option<String> {
    let row = sqlx::query(
        "SELECT a.pid, coalesce(nullif(a.application_name, ''), 'no application_name'), \
                coalesce(host(a.client_addr), 'local socket'), \
                to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
           AND l.classid::bigint = (($1 >> 32) & 4294967295) \
           AND l.objid::bigint = ($1 & 4294967295) \
         LIMIT 1",
    )
    .bind(key)
    .fetch_optional(conn)
    .await
    .ok()??;
    let pid: i32 = row.try_get(0).ok()?;
    let application: String = row.try_get(1).ok()?;
    let client: String = row.try_get(2).ok()?;
    let since: String = row.try_get(3).ok()?;
    Some(format!(
        "pid {pid} ({application}, from {client}, connected since {since} UTC)"
    ))
}

/// The message of [`Postgres::runner_guard`]'s refusal.
const RUNNER_RELEASED: &str = "the migration released the session's advisory locks (pg_advisory_unlock_all), cargo-migrate's runner lock among them: rolled back";
const RUNNER_RELEASED_HINT: &str = "release only the locks the migration took (pg_advisory_unlock(key)) or take them with pg_advisory_xact_lock, which ends with the transaction; in a `-- migrate:no-transaction` migration the runner lock is taken again after the statement";

/// Line and column of the script's first `advisory_unlock`, for the guard's refusal.
fn unlock_position(script: &str) -> Option<(usize, usize)> {
    let lower = script.to_ascii_lowercase();
    let at = lower
        .find("pg_advisory_unlock")
        .or_else(|| lower.find("advisory_unlock"))?;
    // ASCII lowering keeps byte offsets; the position counts characters.
    let before = &script[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Some((line, column))
}

/// Whether a statement of a no-transaction migration may undo session state the tool set:
/// `DISCARD` (ALL releases every advisory lock), `RESET` (ALL resets lock_timeout), or a call
/// of `pg_advisory_unlock…`.
fn undoes_session(sql: &str) -> bool {
    let verb = first_word(sql);
    verb.eq_ignore_ascii_case("discard")
        || verb.eq_ignore_ascii_case("reset")
        || sql.to_ascii_lowercase().contains("advisory_unlock")
}

/// The first word of a statement, past blanks and comments.
fn first_word(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    &rest[..end]
}

/// `duration` as a `lock_timeout` value in milliseconds, at least 1 (0 would disable it) and
/// at most what the setting holds (an `int`).
fn lock_timeout_ms(duration: Duration) -> String {
    let ms = duration.as_millis().clamp(1, i32::MAX as u128);
    format!("'{ms}ms'")
}

/// Connects within `budget`; a server that does not answer in time (it accepted the TCP
/// connection and says nothing, or packets are dropped) is a retryable failure.
async fn connect_within(
    url: &DatabaseUrl,
    options: &PgConnectOptions,
    budget: Duration,
) -> Result<PgConnection, ConnectFailure> {
    match tokio::time::timeout(budget, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => Ok(conn),
        // A refused certificate or TLS mode first: it can look like a lost connection.
        Ok(Err(err)) => Err(super::tls::failure(&err, url, options.get_ssl_mode())
            .unwrap_or_else(|| connect_failure(&err))),
        Err(_) => Err(ConnectFailure {
            reason: format!(
                "the server did not answer within {}",
                super::seconds(budget)
            ),
            retryable: true,
            hint: Some(
                "check that the host and port are the PostgreSQL server's and that no firewall drops the connection; --connect-timeout SECS waits longer for a slow server",
            ),
            input: None,
        }),
    }
}

/// A failed connection attempt in plain words, with a hint that fits what happened.
fn connect_failure(err: &sqlx::Error) -> ConnectFailure {
    match err {
        // At end-of-file sqlx reads the SSLRequest's one-byte answer as 0x00.
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) if is_hang_up(err) => ConnectFailure {
            reason: "the server closed the connection without answering".to_string(),
            retryable: true,
            hint: Some(
                "the server may be starting or shutting down, full (max_connections), or not PostgreSQL (check the port); a proxy in between may refuse this client; --wait SECS keeps retrying",
            ),
            input: None,
        },
        sqlx::Error::Protocol(text) => ConnectFailure {
            reason: not_postgres_reason(text),
            retryable: false,
            hint: Some(
                "check the host and port in the URL: they must be the PostgreSQL server's (usually port 5432), not a web server's or another service's",
            ),
            input: None,
        },
        _ => ConnectFailure {
            retryable: retryable(err),
            reason: driver_reason(err),
            hint: None,
            input: None,
        },
    }
}

/// Whether the server closed the connection without a word (sqlx: "expected to read 5 bytes,
/// got 0 bytes at EOF", "unexpected response from SSLRequest: 0x00", or a reset when it
/// closed before reading what was sent).
fn is_hang_up(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
        ),
        sqlx::Error::Protocol(text) => text.contains("SSLRequest: 0x00"),
        _ => false,
    }
}

/// What a protocol error at connect time means: the other end is not a PostgreSQL server.
fn not_postgres_reason(driver_text: &str) -> String {
    // sqlx: "unexpected response from SSLRequest: 0x48 (sqlx_postgres::connection::tls:95)";
    // 0x48 is the `H` of `HTTP/1.1 400 Bad Request`.
    let answer = driver_text
        .split("0x")
        .nth(1)
        .and_then(|hex| u8::from_str_radix(hex.get(..2)?, 16).ok());
    match answer {
        Some(b'H') => "the server does not speak PostgreSQL's protocol: it answered like an HTTP (web) server".to_string(),
        Some(byte) if byte.is_ascii_graphic() => format!(
            "the server does not speak PostgreSQL's protocol: it answered `{}`, which no PostgreSQL server sends",
            byte as char
        ),
        _ => "the server does not speak PostgreSQL's protocol: its answer was not one a PostgreSQL server sends".to_string(),
    }
}

/// The message of a migration that gave up waiting for a lock: how long, and who held it.
fn lock_wait_message(timeout: Duration, blocker: Option<&str>) -> String {
    match blocker {
        Some(blocker) => format!(
            "it waited longer than --lock-timeout ({}) for {blocker}",
            super::seconds(timeout)
        ),
        None => format!(
            "it waited longer than --lock-timeout ({}) for a lock another session holds",
            super::seconds(timeout)
        ),
    }
}

/// Runs `work` (a migration on the main connection) and, while it runs longer than a moment,
/// asks on the lock connection which session blocks it: when the lock timeout strikes, the
/// waiting is over and the blocker can no longer be read from `pg_blocking_pids`.
async fn watch_blockers<T>(
    work: impl std::future::Future<Output = T>,
    lock: &mut PgConnection,
    pid: i32,
    lock_timeout: Duration,
) -> (T, Option<String>) {
    tokio::pin!(work);
    let mut seen = None;
    // First look early enough to see a short timeout strike; then every half second.
    let mut pause = (lock_timeout / 2).clamp(Duration::from_millis(1), Duration::from_millis(250));
    loop {
        tokio::select! {
            result = &mut work => return (result, seen),
            () = tokio::time::sleep(pause) => {
                // `work` is not polled meanwhile; the server goes on executing it.
                if let Some(blocker) = blocker_of(lock, pid).await {
                    seen = Some(blocker);
                }
                pause = Duration::from_millis(500);
            }
        }
    }
}

/// The session that blocks backend `pid`, and the table it waits for: "a lock on table
/// `crates` held by pid 123 (psql, from local socket, idle in transaction, last query started
/// 2024-01-01 10:00:00 UTC)".
async fn blocker_of(conn: &mut PgConnection, pid: i32) -> Option<String> {
    let row = sqlx::query(
        "SELECT b.pid, coalesce(nullif(b.application_name, ''), 'no application_name'), \
                coalesce(host(b.client_addr), 'local socket'), coalesce(b.state, 'unknown state'), \
                coalesce(to_char(b.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '?'), \
                (SELECT string_agg(DISTINCT l.relation::regclass::text, ', ') FROM pg_locks l \
                  WHERE l.pid = $1 AND NOT l.granted AND l.relation IS NOT NULL) \
         FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids($1)) \
         ORDER BY b.pid LIMIT 1",
    )
    .bind(pid)
    .fetch_optional(conn)
    .await
    .ok()??;
    let blocker: i32 = row.try_get(0).ok()?;
    let application: String = row.try_get(1).ok()?;
    let client: String = row.try_get(2).ok()?;
    let state: String = row.try_get(3).ok()?;
    let query_start: String = row.try_get(4).ok()?;
    let tables: Option<String> = row.try_get(5).ok()?;
    let what = match tables {
        Some(tables) => format!("a lock on table {tables}"),
        None => "a lock".to_string(),
    };
    Some(format!(
        "{what} held by pid {blocker} ({application}, from {client}, {state}, last query started {query_start} UTC)"
    ))
}

fn retryable(err: &sqlx::Error) -> bool {
    match err {
        // TLS failures are settled by `tls::failure` (configuration, never retried).
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        // 57P03: the server is starting up; 53300: too many connections for now.
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("57P03" | "53300")),
        _ => false,
    }
}

/// The 1-based character position PostgreSQL reported in the text we sent.
pub(super) fn error_position(err: &sqlx::Error) -> Option<usize> {
    let sqlx::Error::Database(db) = err else {
        return None;
    };
    match db.try_downcast_ref::<PgDatabaseError>()?.position()? {
        PgErrorPosition::Original(position) => Some(position),
        PgErrorPosition::Internal { .. } => None,
    }
}

/// `sql` with a leading UTF-8 byte order mark (Windows editors write one) turned into a space:
/// PostgreSQL takes the mark for part of the first token, a syntax error. One character for
/// one, so the positions the server reports still count from the file's first character.
fn without_bom(sql: &str) -> std::borrow::Cow<'_, str> {
    match sql.strip_prefix('\u{feff}') {
        Some(rest) => format!(" {rest}").into(),
        None => sql.into(),
    }
}

impl super::Autocommit for Postgres {
    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        if sql.trim().is_empty() {
            return Ok(());
        }
        sqlx::raw_sql(AssertSqlSafe(without_bom(sql).into_owned()))
            .execute(&mut self.conn)
            .await?;
        // A statement that may have released the runner lock or reset the tool's
        // lock_timeout: both back before the next statement, so none of the migration runs
        // without them (a later run must not read the history while it executes).
        if !self.pooled && undoes_session(sql) {
            let mut restore = format!("SET lock_timeout = {}", lock_timeout_ms(self.lock_timeout));
            if let Some(key) = self.runner_key {
                restore.push_str(&format!(";\nSELECT pg_advisory_lock_shared({key})"));
            }
            sqlx::raw_sql(AssertSqlSafe(restore))
                .execute(&mut self.conn)
                .await?;
        }
        Ok(())
    }

    async fn record(&mut self, statement: &Statement) -> Result<(), sqlx::Error> {
        // Literals in a simple query, no prepared statement: the script may have dropped
        // them all (`DISCARD ALL`, `DEALLOCATE`), and a pooler may not keep them. The session
        // is put back first, in the same message (see `session_reset`). Pooled: the first
        // record after a claim ends the claim's transaction, so the row under way and the
        // lock check are one.
        let mut sql = self.session_reset(self.pooled && self.commit_after_next);
        sql.push_str(&statement.inline(Dialect::Postgres));
        let commit = std::mem::take(&mut self.commit_after_next);
        if commit {
            sql.push_str(";\nCOMMIT");
        }
        let result = sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut self.conn)
            .await
            .map(|_| ());
        if result.is_err() && commit {
            self.rollback().await;
        }
        result
    }

    fn error_position(err: &sqlx::Error) -> Option<usize> {
        error_position(err)
    }

    fn role(&self) -> Option<&str> {
        Some(&self.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_differ_per_table_and_are_stable() {
        assert_eq!(lock_key("_cargo_migrate"), lock_key("_cargo_migrate"));
        assert_ne!(lock_key("_cargo_migrate"), lock_key("app.history"));
        assert_ne!(lock_key("_cargo_migrate"), runner_key("_cargo_migrate"));
    }

    #[test]
    fn lock_timeout_is_never_zero_and_fits_an_int() {
        for (duration, expected) in [
            (Duration::ZERO, "'1ms'"),
            (Duration::from_millis(1500), "'1500ms'"),
            (Duration::from_secs(604_800), "'604800000ms'"),
            (Duration::from_secs(u64::MAX), "'2147483647ms'"),
        ] {
            assert_eq!(lock_timeout_ms(duration), expected, "{duration:?}");
        }
    }

    #[test]
    fn a_server_that_is_not_postgres_is_named() {
        for (driver, expected) in [
            (
                "unexpected response from SSLRequest: 0x48 (sqlx_postgres::connection::tls:95)",
                "it answered like an HTTP (web) server",
            ),
            (
                "unexpected response from SSLRequest: 0x53 (x::y:1)",
                "it answered `S`",
            ),
            ("unknown message type", "its answer was not one"),
        ] {
            let reason = not_postgres_reason(driver);
            assert!(reason.contains(expected), "{driver}: {reason}");
            assert!(!reason.contains("sqlx"), "{reason}");
        }
    }

    #[test]
    fn statements_that_may_undo_the_session_are_told_apart() {
        for sql in [
            "DISCARD ALL",
            "  -- why\n/* note */ discard all",
            "RESET ALL",
            "reset lock_timeout",
            "SELECT pg_advisory_unlock_all()",
            "select PG_ADVISORY_UNLOCK_SHARED(1)",
        ] {
            assert!(undoes_session(sql), "{sql}");
        }
        for sql in [
            "DEALLOCATE ALL",
            "SET search_path = app",
            "CREATE TABLE discard (id int)",
            "-- DISCARD ALL\nSELECT 1",
            "/* reset */ SELECT 1",
        ] {
            assert!(!undoes_session(sql), "{sql}");
        }
    }

    #[test]
    fn the_guard_points_at_the_scripts_unlock() {
        assert_eq!(
            unlock_position("CREATE TABLE t (id int);\n  SELECT pg_advisory_UNLOCK_all();\n"),
            Some((2, 10))
        );
        assert_eq!(unlock_position("SELECT 1;"), None);
    }

    #[test]
    fn a_byte_order_mark_becomes_one_space() {
        assert_eq!(without_bom("\u{feff}select 1;"), " select 1;");
        assert_eq!(without_bom("select '\u{feff}';"), "select '\u{feff}';");
    }
}
