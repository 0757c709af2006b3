//! SQLite: each migration in a `BEGIN IMMEDIATE` transaction that re-checks the history first,
//! so several processes running `up` on one file apply each migration exactly once.

use std::str::FromStr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection, Row};
use tracing::Instrument;

use super::history::{AppliedRow, Elapsed, HistoryFormat, Statement};
use super::{
    ConnectFailure, ConnectOptions, Direction, Failure, Ran, database_error, driver_reason,
};
use crate::db::DatabaseUrl;
use crate::db::url::SqliteDatabase;
use crate::dialect::Dialect;
use crate::error::Result;
use crate::migration::Migration;
use crate::migration::prepare::Prepared;

/// Bytes of script sent to SQLite at a time (see [`Prepared::batches`]).
const BATCH: usize = 16 * 1024;

pub struct Sqlite {
    conn: SqliteConnection,
    /// How long to wait for another process's migration (`--lock-timeout`).
    lock_timeout: Duration,
    /// Commit the open `BEGIN IMMEDIATE` right after the next autocommit statement: a
    /// no-transaction migration's "started" row is written under the lock that checked the
    /// history, so two processes never both start it.
    commit_after_next: bool,
    /// The database file (`None`: an in-memory database, private to this process).
    file: Option<std::path::PathBuf>,
    /// The run-level lock of a mutating command, held until the session ends.
    run_lock: Option<super::run_lock::RunLock>,
    /// Inside a probe (see [`Sqlite::begin_probe`]): a migration's transaction is a
    /// savepoint of the probe's, so rolling the probe back undoes it.
    in_probe: bool,
}

impl Sqlite {
    /// The session's connection, for schema inspection.
    pub(crate) fn connection(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    pub(crate) async fn connect(
        url: &DatabaseUrl,
        options: &ConnectOptions,
    ) -> Result<Sqlite, ConnectFailure> {
        let mut connect_options =
            SqliteConnectOptions::from_str(url.expose()).map_err(|err| ConnectFailure {
                reason: driver_reason(&err),
                retryable: false,
                hint: None,
                input: None,
            })?;
        // The file as `sqlite_database` read it (a `file:` URI resolved to its path), so SQLite
        // opens the very file the run lock is taken beside.
        let database = url.sqlite_database();
        if let Some(SqliteDatabase::File(path)) = &database {
            connect_options = connect_options.filename(path);
        }
        let connect_options = connect_options
            .create_if_missing(options.create_if_missing)
            // Waiting for another process's write lock is how SQLite serialises migration runs.
            // SQLite takes the busy timeout in milliseconds as an `int` (the driver panics
            // beyond): clamp, although the flags are range-checked well below.
            .busy_timeout(
                options
                    .lock_timeout
                    .min(Duration::from_millis(i32::MAX as u64)),
            )
            // As sqlite3 and diesel run migrations: table rebuilds rely on it being off.
            .foreign_keys(false);
        let conn = SqliteConnection::connect_with(&connect_options)
            .await
            .map_err(|err| ConnectFailure {
                reason: open_failure_reason(&connect_options, options.create_if_missing, &err),
                retryable: false,
                hint: None,
                input: None,
            })?;
        Ok(Sqlite {
            conn,
            lock_timeout: options.lock_timeout,
            commit_after_next: false,
            file: match database {
                Some(SqliteDatabase::File(path)) => Some(path),
                _ => None,
            },
            run_lock: None,
            in_probe: false,
        })
    }

    /// Takes the run-level lock (see [`super::run_lock`]) for the rest of the session, so
    /// a second run waits for the first instead of planning against its half-done work.
    pub(crate) async fn lock(&mut self, timeout: Duration) -> Result<()> {
        if self.run_lock.is_some() {
            return Ok(());
        }
        if let Some(file) = &self.file {
            self.run_lock = Some(super::run_lock::RunLock::acquire(file, timeout).await?);
        }
        Ok(())
    }

    pub(crate) async fn columns_of(&mut self, table: &str) -> Result<Vec<String>> {
        let (schema, name) = match table.split_once('.') {
            Some((schema, name)) => (schema, name),
            None => ("main", table),
        };
        sqlx::query_scalar("SELECT name FROM pragma_table_info($1, $2) ORDER BY cid")
            .bind(name)
            .bind(schema)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|err| database_error("cannot inspect the history table", &err))
    }

    pub(crate) async fn read_rows(&mut self, sql: &str) -> Result<Vec<AppliedRow>> {
        let rows = sqlx::query(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|err| database_error("cannot read the history table", &err))?;
        rows.iter()
            .map(super::decode_applied_row)
            .collect::<Result<_, _>>()
            .map_err(|err| database_error("cannot read the history table", &err))
    }

    pub(crate) async fn execute(&mut self, sql: &str) -> Result<()> {
        let wrapped = format!("BEGIN IMMEDIATE;\n{sql};\nCOMMIT;");
        if let Err(err) = sqlx::raw_sql(AssertSqlSafe(wrapped))
            .execute(&mut self.conn)
            .await
        {
            self.rollback().await;
            return Err(database_error("cannot update the history table", &err));
        }
        Ok(())
    }

    pub(crate) async fn record(&mut self, statements: &[Statement]) -> Result<()> {
        let context = "cannot update the history table";
        self.simple("BEGIN IMMEDIATE")
            .await
            .map_err(|err| database_error(context, &err))?;
        for statement in statements.iter().filter(|s| !s.is_empty()) {
            let query = super::bound::<sqlx::Sqlite>(statement, Dialect::Sqlite);
            if let Err(err) = query.execute(&mut self.conn).await {
                self.rollback().await;
                return Err(database_error(context, &err));
            }
        }
        if let Err(err) = self.simple("COMMIT").await {
            self.rollback().await;
            return Err(database_error(context, &err));
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
        if migration.no_transaction {
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
                Dialect::Sqlite,
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
            return result;
        }
        let started = Instant::now();
        // Takes the write lock, waiting up to the busy timeout for another process's run.
        self.simple(if self.in_probe {
            "SAVEPOINT cargo_migrate_step"
        } else {
            "BEGIN IMMEDIATE"
        })
        .await
        .map_err(|err| Failure::from_driver(&script.path, &err, None))?;
        // Another process may have done this migration while we waited for the lock.
        let recorded = self
            .is_recorded(format, migration)
            .await
            .map_err(|err| Failure::from_driver(&script.path, &err, None));
        let done_already = match (recorded, direction) {
            (Err(failure), _) => {
                self.rollback().await;
                return Err(failure);
            }
            (Ok(recorded), Direction::Up) => recorded,
            (Ok(recorded), Direction::Down) => !recorded,
        };
        if done_already {
            self.rollback().await;
            return Ok(Ran {
                elapsed: started.elapsed(),
                skipped: true,
            });
        }
        // Statements that completed: SQLite reports no position, and the count names the
        // failing statement, so nothing needs to run again to find it.
        let mut completed = 0;
        let mut outcome = Ok(());
        crate::report::log::script_started(
            migration.version.as_str(),
            &migration.name,
            direction.as_str(),
        );
        // The script's statements are the migration's, not the tool's: not logged.
        async {
            for batch in prepared.batches(BATCH) {
                let mut results =
                    sqlx::raw_sql(AssertSqlSafe(batch.to_string())).execute_many(&mut self.conn);
                while let Some(result) = results.next().await {
                    match result {
                        Ok(_) => completed += 1,
                        Err(err) => {
                            outcome = Err(err);
                            break;
                        }
                    }
                }
                if outcome.is_err() {
                    break;
                }
            }
        }
        .instrument(crate::report::log::script_span())
        .await;
        if let Err(err) = outcome {
            self.rollback().await;
            let position = prepared.statement_position(completed);
            return Err(Failure::from_driver(&script.path, &err, position));
        }
        let elapsed = started.elapsed();
        let bookkeeping = match direction {
            Direction::Up => format.insert(
                migration,
                true,
                Elapsed::Millis(elapsed.as_millis() as i64),
                None,
            ),
            Direction::Down => format.delete(migration),
        };
        let bookkeeping = match bookkeeping {
            Ok(statement) => statement,
            Err(err) => {
                self.rollback().await;
                return Err(Failure::message(&script.path, &err.reason));
            }
        };
        let written = match super::bound::<sqlx::Sqlite>(&bookkeeping, Dialect::Sqlite)
            .execute(&mut self.conn)
            .await
        {
            Ok(_) => {
                self.simple(if self.in_probe {
                    "RELEASE cargo_migrate_step"
                } else {
                    "COMMIT"
                })
                .await
            }
            Err(err) => Err(err),
        };
        if let Err(err) = written {
            self.rollback().await;
            return Err(Failure::from_driver(&script.path, &err, None));
        }
        Ok(Ran {
            elapsed,
            skipped: false,
        })
    }

    async fn is_recorded(
        &mut self,
        format: &HistoryFormat,
        migration: &Migration,
    ) -> Result<bool, sqlx::Error> {
        Ok(self.recorded_row(format, migration).await?.is_some())
    }

    /// `migration`'s history row as (success, failure), if it has one.
    async fn recorded_row(
        &mut self,
        format: &HistoryFormat,
        migration: &Migration,
    ) -> Result<Option<(bool, Option<String>)>, sqlx::Error> {
        // Refused up front (`HistoryFormat::check_storable`): a version the format cannot
        // store has no row.
        let Ok(select) = format.recorded_row(migration) else {
            return Ok(None);
        };
        let row = super::bound::<sqlx::Sqlite>(&select, Dialect::Sqlite)
            .fetch_optional(&mut self.conn)
            .await?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
    }

    /// Before a no-transaction migration: whether another process already did it (`true`:
    /// skip it). The history is checked under the write lock, which is kept until
    /// run_statements has marked the migration under way. A migration another process is running
    /// right now is waited for, up to the lock timeout.
    async fn claim(
        &mut self,
        format: &HistoryFormat,
        migration: &Migration,
        direction: Direction,
        script: &std::path::Path,
    ) -> Result<bool, Failure> {
        let waiting_since = Instant::now();
        loop {
            self.simple("BEGIN IMMEDIATE")
                .await
                .map_err(|err| Failure::from_driver(script, &err, None))?;
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
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    async fn simple(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        super::Autocommit::execute(self, sql).await
    }

    async fn rollback(&mut self) {
        // Fails harmlessly when no transaction is open; the original error matters.
        // In a probe, only the failed migration's savepoint goes: the probe stays open.
        let sql = if self.in_probe {
            "ROLLBACK TO cargo_migrate_step; RELEASE cargo_migrate_step"
        } else {
            "ROLLBACK"
        };
        let _ = sqlx::raw_sql(sql).execute(&mut self.conn).await;
    }

    /// Opens a probe: a transaction that the migrations run next (transactional ones only;
    /// each in a savepoint) and [`Sqlite::end_probe`] roll back together, so `check` tries a
    /// down script and its up again and is back where it was, whatever they did.
    pub(crate) async fn begin_probe(&mut self) -> Result<()> {
        self.simple("BEGIN IMMEDIATE")
            .await
            .map_err(|err| database_error("cannot open a transaction", &err))?;
        self.in_probe = true;
        Ok(())
    }

    /// Rolls the probe back: everything run since [`Sqlite::begin_probe`] is undone.
    pub(crate) async fn end_probe(&mut self) -> Result<()> {
        self.in_probe = false;
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut self.conn)
            .await
            .map(|_| ())
            .map_err(|err| database_error("cannot roll back a transaction", &err))
    }

    pub(crate) async fn drop_everything(&mut self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT type, name FROM sqlite_master \
             WHERE type IN ('view', 'table', 'trigger') AND name NOT LIKE 'sqlite_%' \
             ORDER BY CASE type WHEN 'trigger' THEN 0 WHEN 'view' THEN 1 ELSE 2 END",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|err| database_error("cannot list the database's objects", &err))?;
        let mut sql = String::from("BEGIN IMMEDIATE;\n");
        let mut dropped = Vec::with_capacity(rows.len());
        for row in &rows {
            let kind: String = row
                .try_get(0)
                .map_err(|err| database_error("cannot list the database's objects", &err))?;
            let name: String = row
                .try_get(1)
                .map_err(|err| database_error("cannot list the database's objects", &err))?;
            sql.push_str(&format!(
                "DROP {} IF EXISTS {};\n",
                kind.to_uppercase(),
                super::history::quote_ident(&name)
            ));
            // Quoted only when needed, as PostgreSQL's quote_ident does.
            let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            dropped.push(if plain {
                format!("{kind} {name}")
            } else {
                format!("{kind} {}", super::history::quote_ident(&name))
            });
        }
        // AUTOINCREMENT counters live in sqlite_sequence, which cannot be dropped.
        let has_sequence: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
                .fetch_one(&mut self.conn)
                .await
                .map_err(|err| database_error("cannot list the database's objects", &err))?;
        if has_sequence > 0 {
            sql.push_str("DELETE FROM sqlite_sequence;\n");
        }
        sql.push_str("COMMIT;");
        if let Err(err) = self.simple(&sql).await {
            self.rollback().await;
            return Err(database_error("cannot empty the database", &err));
        }
        // Tables before views before triggers, as people list them.
        dropped.reverse();
        Ok(dropped)
    }
}

/// Why a database file did not open. SQLite says only "unable to open database file"; say
/// what is missing when that is the reason.
fn open_failure_reason(
    options: &SqliteConnectOptions,
    create_if_missing: bool,
    err: &sqlx::Error,
) -> String {
    let file = options.get_filename();
    if file.as_os_str().is_empty() || file.exists() {
        return driver_reason(err);
    }
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            format!(
                "the directory {} does not exist",
                crate::report::printable(&dir.display().to_string())
            )
        }
        _ if !create_if_missing => "the database file does not exist (commands that change \
            the database, such as `up`, create it; `status` does not)"
            .to_string(),
        _ => driver_reason(err),
    }
}

impl super::Autocommit for Sqlite {
    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        if sql.trim().is_empty() {
            return Ok(());
        }
        let result = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut self.conn)
            .await
            .map(|_| ());
        self.end_claim(result).await
    }

    async fn record(&mut self, statement: &Statement) -> Result<(), sqlx::Error> {
        let result = super::bound::<sqlx::Sqlite>(statement, Dialect::Sqlite)
            .execute(&mut self.conn)
            .await
            .map(|_| ());
        self.end_claim(result).await
    }

    /// SQLite reports no position.
    fn error_position(_err: &sqlx::Error) -> Option<usize> {
        None
    }
}

impl Sqlite {
    /// After an autocommit statement: commits the claim of `Sqlite::claim` if one is open,
    /// ending its transaction with this statement.
    async fn end_claim(&mut self, result: Result<(), sqlx::Error>) -> Result<(), sqlx::Error> {
        if !std::mem::take(&mut self.commit_after_next) {
            return result;
        }
        let commit = match result {
            Ok(()) => sqlx::raw_sql("COMMIT")
                .execute(&mut self.conn)
                .await
                .map(|_| ()),
            Err(err) => Err(err),
        };
        if commit.is_err() {
            self.rollback().await;
        }
        commit
    }
}
