//! SQLite: each migration in a `BEGIN IMMEDIATE` transaction that re-checks the history first,
//! so several processes running `up` on one file apply each migration exactly once.

use std::str::FromStr;
use std::time::Instant;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::history::{AppliedRow, HistoryFormat, from_hex, literal};
use super::{
    ConnectFailure, ConnectOptions, Direction, Failure, Ran, database_error, driver_reason,
    locate_in_statement,
};
use crate::db::DatabaseUrl;
use crate::dialect::Dialect;
use crate::error::Result;
use crate::migration::{Migration, split};

pub struct Sqlite {
    conn: SqliteConnection,
}

impl Sqlite {
    pub(crate) async fn connect(
        url: &DatabaseUrl,
        options: &ConnectOptions,
    ) -> Result<Sqlite, ConnectFailure> {
        let connect_options = SqliteConnectOptions::from_str(url.expose())
            .map_err(|err| ConnectFailure {
                reason: driver_reason(&err),
                retryable: false,
            })?
            .create_if_missing(options.create_if_missing)
            // Waiting for another process's write lock is how SQLite serialises migration runs.
            .busy_timeout(options.lock_timeout)
            // As sqlite3 and diesel run migrations: table rebuilds rely on it being off.
            .foreign_keys(false);
        let conn = SqliteConnection::connect_with(&connect_options)
            .await
            .map_err(|err| ConnectFailure {
                reason: driver_reason(&err),
                retryable: false,
            })?;
        Ok(Sqlite { conn })
    }

    pub(crate) async fn columns_of(&mut self, table: &str) -> Result<Vec<String>> {
        let (schema, name) = match table.split_once('.') {
            Some((schema, name)) => (schema, name),
            None => ("main", table),
        };
        let rows = sqlx::query("SELECT name FROM pragma_table_info($1, $2) ORDER BY cid")
            .bind(name)
            .bind(schema)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|err| database_error("cannot inspect the history table", &err))?;
        rows.iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<_, _>>()
            .map_err(|err| database_error("cannot inspect the history table", &err))
    }

    pub(crate) async fn read_rows(&mut self, sql: &str) -> Result<Vec<AppliedRow>> {
        let rows = sqlx::query(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|err| database_error("cannot read the history table", &err))?;
        rows.iter()
            .map(|row| -> Result<AppliedRow, sqlx::Error> {
                Ok(AppliedRow {
                    version: row.try_get(0)?,
                    name: row.try_get(1)?,
                    checksum: row
                        .try_get::<Option<String>, _>(2)?
                        .as_deref()
                        .and_then(from_hex),
                    applied_at: row.try_get(3)?,
                    execution_ms: row.try_get(4)?,
                    success: row.try_get(5)?,
                    failure: row.try_get(6)?,
                })
            })
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

    pub(crate) async fn run(
        &mut self,
        format: &HistoryFormat,
        migration: &Migration,
        direction: Direction,
    ) -> Result<Ran, Failure> {
        let script = match direction {
            Direction::Up => &migration.up,
            Direction::Down => match &migration.down {
                Some(down) => down,
                None => return Err(Failure::message(&migration.up.path, "no down script")),
            },
        };
        if migration.no_transaction {
            return super::run_statements(
                self,
                Dialect::Sqlite,
                format,
                migration,
                direction,
                script,
            )
            .await;
        }
        let started = Instant::now();
        // Takes the write lock, waiting up to the busy timeout for another process's run.
        self.simple("BEGIN IMMEDIATE")
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
        if let Err(err) = self.simple(&script.sql).await {
            self.rollback().await;
            let position = self.locate(&script.sql).await;
            return Err(Failure::from_driver(&script.path, &err, position));
        }
        let elapsed = started.elapsed();
        let bookkeeping = match direction {
            Direction::Up => format.insert_sql(
                Dialect::Sqlite,
                migration,
                true,
                &elapsed.as_millis().to_string(),
                None,
            ),
            Direction::Down => {
                format.delete_sql(Dialect::Sqlite, &format.stored_version(migration))
            }
        };
        if let Err(err) = self.simple(&format!("{bookkeeping};\nCOMMIT")).await {
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
        let stored = format.stored_version(migration);
        let condition = match format {
            HistoryFormat::Sqlx => format!("version = {stored}"),
            _ => format!("version = {}", literal(Dialect::Sqlite, &stored)),
        };
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {condition}",
            format.quoted_table()
        );
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await?;
        Ok(count > 0)
    }

    /// Replays the script statement by statement in a transaction that is rolled back, to find
    /// the statement that fails (SQLite reports no position).
    async fn locate(&mut self, script: &str) -> Option<(usize, usize)> {
        let statements = split::split(script, Dialect::Sqlite).ok()?;
        self.simple("BEGIN").await.ok()?;
        let mut found = None;
        for statement in &statements {
            if self.simple(statement.text).await.is_err() {
                found = Some(locate_in_statement(statement, script, None));
                break;
            }
        }
        self.rollback().await;
        found
    }

    async fn simple(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        super::Autocommit::execute(self, sql).await
    }

    async fn rollback(&mut self) {
        // Fails harmlessly when no transaction is open; the original error matters.
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
    }

    pub(crate) async fn drop_everything(&mut self) -> Result<()> {
        let rows = sqlx::query(
            "SELECT type, name FROM sqlite_master \
             WHERE type IN ('view', 'table', 'trigger') AND name NOT LIKE 'sqlite_%' \
             ORDER BY CASE type WHEN 'trigger' THEN 0 WHEN 'view' THEN 1 ELSE 2 END",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|err| database_error("cannot list the database's objects", &err))?;
        let mut sql = String::from("BEGIN IMMEDIATE;\n");
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
        Ok(())
    }
}

impl super::Autocommit for Sqlite {
    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        if sql.trim().is_empty() {
            return Ok(());
        }
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut self.conn)
            .await
            .map(|_| ())
    }

    /// SQLite reports no position.
    fn error_position(_err: &sqlx::Error) -> Option<usize> {
        None
    }
}
