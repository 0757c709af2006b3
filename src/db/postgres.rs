//! PostgreSQL: one round trip per transactional migration (the script and its history row in
//! one simple-query message), a session advisory lock on a dedicated connection, and error
//! positions mapped back into the migration file.

use std::str::FromStr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgErrorPosition};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::history::{AppliedRow, HistoryFormat};
use super::{
    ConnectFailure, Direction, Failure, Ran, database_error, driver_reason, is_connection_lost,
};
use crate::db::DatabaseUrl;
use crate::dialect::Dialect;
use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::migration::prepare::Prepared;
use crate::migration::{Migration, split};

const APPLICATION_NAME: &str = "cargo-migrate";
/// Prefix of the one-round-trip message; error positions are counted from its start.
const BEGIN: &str = "BEGIN;\n";

pub struct Postgres {
    conn: PgConnection,
    options: PgConnectOptions,
    /// The connection holding the advisory lock, kept open for the whole session.
    lock: Option<PgConnection>,
}

impl Postgres {
    /// The session's connection, for schema inspection.
    pub(crate) fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    pub(crate) async fn connect(url: &DatabaseUrl) -> Result<Postgres, ConnectFailure> {
        let options = PgConnectOptions::from_str(url.expose())
            .map_err(|err| ConnectFailure {
                reason: driver_reason(&err),
                retryable: false,
            })?
            .application_name(APPLICATION_NAME);
        let conn = PgConnection::connect_with(&options)
            .await
            .map_err(|err| ConnectFailure {
                retryable: retryable(&err),
                reason: driver_reason(&err),
            })?;
        Ok(Postgres {
            conn,
            options,
            lock: None,
        })
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
        let runner = runner_key(name);
        let mut lock_conn = PgConnection::connect_with(&self.options)
            .await
            .map_err(|err| database_error("cannot open the lock connection", &err))?;
        let deadline = Instant::now() + timeout;
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
        sqlx::query("SELECT pg_advisory_lock_shared($1)")
            .bind(runner)
            .execute(&mut self.conn)
            .await
            .map_err(|err| database_error("cannot take the migration lock", &err))?;
        self.lock = Some(lock_conn);
        Ok(())
    }

    /// The server's major version: `15` for 15.4.
    pub(crate) async fn server_major(&mut self) -> Result<String> {
        let number: String = sqlx::query_scalar("SELECT current_setting('server_version_num')")
            .fetch_one(&mut self.conn)
            .await
            .map_err(|err| database_error("cannot read the server version", &err))?;
        let number: u32 = number.trim().parse().unwrap_or(0);
        // 90600 → 9.6 (before 10 the major had two parts), 150004 → 15.
        Ok(if number >= 100_000 {
            (number / 10_000).to_string()
        } else {
            format!("{}.{}", number / 10_000, number / 100 % 100)
        })
    }

    pub(crate) async fn columns_of(&mut self, table: &str) -> Result<Vec<String>> {
        let quoted = super::history::quote_qualified(table);
        sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_attribute a \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
        )
        .bind(quoted)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|err| database_error("cannot inspect the history table", &err))
    }

    pub(crate) async fn schema_of(&mut self, table: &str) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = to_regclass($1)",
        )
        .bind(super::history::quote_qualified(table))
        .fetch_optional(&mut self.conn)
        .await
        .map_err(|err| database_error("cannot locate the history table", &err))
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
        let wrapped = format!("BEGIN;\n{sql};\nCOMMIT;");
        if let Err(err) = sqlx::raw_sql(AssertSqlSafe(wrapped))
            .execute(&mut self.conn)
            .await
        {
            self.rollback().await;
            return Err(database_error("cannot update the history table", &err));
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
        let bookkeeping = bookkeeping(format, migration, direction);
        let started = Instant::now();
        // The script and its history change travel together: applied and recorded, or neither.
        let message = format!("{BEGIN}{}\n;\n{bookkeeping};\nCOMMIT;", without_bom(sql));
        // Statements that completed, `BEGIN` included: on a failure PostgreSQL gives no position
        // for, the count names the failing statement, so nothing needs to run again to find it.
        let mut completed = 0;
        let outcome = {
            let mut results = sqlx::raw_sql(AssertSqlSafe(message)).execute_many(&mut self.conn);
            loop {
                match results.next().await {
                    Some(Ok(_)) => completed += 1,
                    Some(Err(err)) => break Err(err),
                    None => break Ok(()),
                }
            }
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
                let position = error_position(&err).and_then(|p| {
                    let in_script = p.checked_sub(BEGIN.chars().count())?;
                    (in_script >= 1 && in_script <= script.sql.chars().count())
                        .then(|| split::line_column_of_char_position(&script.sql, in_script))
                });
                let position = position.or_else(|| {
                    // `completed` counts our `BEGIN`; a failure of the `BEGIN` itself is ours.
                    let index = usize::checked_sub(completed, 1)?;
                    prepared.statement_position(index)
                });
                Err(Failure::from_driver(&script.path, &err, position))
            }
        }
    }

    async fn rollback(&mut self) {
        // Harmless outside a transaction (a warning); the original error is what matters.
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
    }

    pub(crate) async fn drop_everything(&mut self) -> Result<()> {
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
            .map(|_| ())
            .map_err(|err| database_error("cannot empty the database", &err))
    }
}

/// The history change that travels with a transactional migration.
pub(super) fn bookkeeping(
    format: &HistoryFormat,
    migration: &Migration,
    direction: Direction,
) -> String {
    match direction {
        // Measured on the server: the time since the transaction began.
        Direction::Up => format.insert_sql(
            Dialect::Postgres,
            migration,
            true,
            "(extract(epoch from clock_timestamp() - now()) * 1000)::bigint",
            None,
        ),
        Direction::Down => format.delete_sql(Dialect::Postgres, &format.stored_version(migration)),
    }
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

fn retryable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => true,
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
            .await
            .map(|_| ())
    }

    fn error_position(err: &sqlx::Error) -> Option<usize> {
        error_position(err)
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
    fn a_byte_order_mark_becomes_one_space() {
        assert_eq!(without_bom("\u{feff}select 1;"), " select 1;");
        assert_eq!(without_bom("select '\u{feff}';"), "select '\u{feff}';");
    }
}
