//! History tables: our own, and sqlx's and diesel's, which are adopted rather than duplicated
//! so cargo-migrate can run beside `sqlx::migrate!()` or `diesel migration run`.
//!
//! Pure: this module builds SQL text and interprets rows; the dialect modules execute it.

pub mod dbmate;
pub mod drizzle;
pub mod goose;
pub mod prisma;

use sha2::{Digest, Sha384};

use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode};
use crate::migration::{Migration, checksum};

pub mod flyway;
pub mod golang_migrate;
pub mod refinery;

/// The default name of our own history table.
pub const DEFAULT_TABLE: &str = "_cargo_migrate";
/// sqlx's table (`sqlx::migrate!()`, `sqlx migrate run`).
pub const SQLX_TABLE: &str = "_sqlx_migrations";
/// diesel's table (`diesel migration run`).
pub const DIESEL_TABLE: &str = "__diesel_schema_migrations";

/// Which table records applied migrations, in whose format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryFormat {
    /// `name` may be `schema.table`.
    Own {
        name: String,
    },
    /// `schema`: where the table was found, so writes do not depend on `search_path`.
    Sqlx {
        schema: Option<String>,
    },
    Diesel {
        schema: Option<String>,
    },
    /// Drizzle's (see [`drizzle`]): on PostgreSQL in the `drizzle` schema unless found elsewhere.
    Drizzle {
        schema: Option<String>,
    },
    Dbmate {
        schema: Option<String>,
    },
    Goose {
        schema: Option<String>,
    },
    Prisma {
        schema: Option<String>,
    },
    Flyway {
        schema: Option<String>,
    },
    Refinery {
        schema: Option<String>,
    },
    /// `versions`: the set's, which the one-row table needs to be read and reverted.
    GolangMigrate {
        schema: Option<String>,
        versions: Vec<i64>,
    },
}

/// The columns our own table has, in order; an existing table must have exactly these.
pub const OWN_COLUMNS: &[&str] = &[
    "version",
    "name",
    "checksum",
    "applied_at",
    "execution_ms",
    "success",
    "failure",
];
pub const SQLX_COLUMNS: &[&str] = &[
    "version",
    "description",
    "installed_on",
    "success",
    "checksum",
    "execution_time",
];
pub const DIESEL_COLUMNS: &[&str] = &["version", "run_on"];

/// A row of any history table, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRow {
    /// As stored: our table keeps the version as written; sqlx an integer; diesel the version
    /// without dashes.
    pub version: String,
    pub name: Option<String>,
    /// Raw checksum bytes (ours: SHA-256 of the CRLF-normalised up script; sqlx: SHA-384 of
    /// its raw bytes); `None` where the format has none (diesel).
    pub checksum: Option<Vec<u8>>,
    pub applied_at: Option<String>,
    pub execution_ms: Option<i64>,
    pub success: bool,
    /// Why a migration is recorded as failed (ours only).
    pub failure: Option<String>,
}

impl HistoryFormat {
    /// The format of another tool's history (`kind` not ours, sqlx's or diesel's): Drizzle's
    /// lives in the `drizzle` schema on PostgreSQL, the others where CREATE TABLE puts them.
    pub fn of_tool(kind: crate::config::HistoryKind, dialect: Dialect) -> HistoryFormat {
        use crate::config::HistoryKind;
        match kind {
            HistoryKind::Drizzle => HistoryFormat::Drizzle {
                schema: (dialect == Dialect::Postgres).then(|| drizzle::PG_SCHEMA.to_string()),
            },
            HistoryKind::Dbmate => HistoryFormat::Dbmate { schema: None },
            HistoryKind::Goose => HistoryFormat::Goose { schema: None },
            HistoryKind::Prisma => HistoryFormat::Prisma { schema: None },
            HistoryKind::Flyway => HistoryFormat::Flyway { schema: None },
            HistoryKind::Refinery => HistoryFormat::Refinery { schema: None },
            // Read with the set's versions where the session knows them (see `Session::open`).
            HistoryKind::GolangMigrate => HistoryFormat::GolangMigrate {
                schema: None,
                versions: Vec::new(),
            },
            HistoryKind::Sqlx => HistoryFormat::Sqlx { schema: None },
            HistoryKind::Diesel => HistoryFormat::Diesel { schema: None },
            HistoryKind::Own => HistoryFormat::Own {
                name: DEFAULT_TABLE.to_string(),
            },
        }
    }

    /// The table's name, schema-qualified once the session has located it.
    pub fn table(&self) -> String {
        let qualify = |schema: &Option<String>, table: &str| match schema {
            Some(schema) => format!("{schema}.{table}"),
            None => table.to_string(),
        };
        match self {
            HistoryFormat::Own { name } => name.clone(),
            HistoryFormat::Sqlx { schema } => qualify(schema, SQLX_TABLE),
            HistoryFormat::Diesel { schema } => qualify(schema, DIESEL_TABLE),
            HistoryFormat::Drizzle { schema } => qualify(schema, drizzle::TABLE),
            HistoryFormat::Dbmate { schema } => qualify(schema, dbmate::TABLE),
            HistoryFormat::Goose { schema } => qualify(schema, goose::TABLE),
            HistoryFormat::Prisma { schema } => qualify(schema, prisma::TABLE),
            HistoryFormat::Flyway { schema } => qualify(schema, flyway::TABLE),
            HistoryFormat::Refinery { schema } => qualify(schema, refinery::TABLE),
            HistoryFormat::GolangMigrate { schema, .. } => qualify(schema, golang_migrate::TABLE),
        }
    }

    /// The same table, qualified with `schema` unless it already names one.
    pub fn in_schema(&self, schema: &str) -> HistoryFormat {
        match self {
            HistoryFormat::Own { name } if !name.contains('.') => HistoryFormat::Own {
                name: format!("{schema}.{name}"),
            },
            HistoryFormat::Own { name } => HistoryFormat::Own { name: name.clone() },
            HistoryFormat::Sqlx { schema: None } => HistoryFormat::Sqlx {
                schema: Some(schema.to_string()),
            },
            HistoryFormat::Diesel { schema: None } => HistoryFormat::Diesel {
                schema: Some(schema.to_string()),
            },
            HistoryFormat::Drizzle { schema: None } => HistoryFormat::Drizzle {
                schema: Some(schema.to_string()),
            },
            HistoryFormat::Dbmate { schema: None } => HistoryFormat::Dbmate {
                schema: Some(schema.to_string()),
            },
            HistoryFormat::Goose { schema: None } => HistoryFormat::Goose {
                schema: Some(schema.to_string()),
            },
            HistoryFormat::Prisma { schema: None } => HistoryFormat::Prisma {
                schema: Some(schema.to_string()),
            },
            HistoryFormat::Flyway { schema: None } => HistoryFormat::Flyway {
                schema: Some(schema.to_string()),
            },
            HistoryFormat::Refinery { schema: None } => HistoryFormat::Refinery {
                schema: Some(schema.to_string()),
            },
            HistoryFormat::GolangMigrate {
                schema: None,
                versions,
            } => HistoryFormat::GolangMigrate {
                schema: Some(schema.to_string()),
                versions: versions.clone(),
            },
            qualified => qualified.clone(),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            HistoryFormat::Own { .. } => "cargo-migrate",
            HistoryFormat::Sqlx { .. } => "sqlx",
            HistoryFormat::Diesel { .. } => "diesel",
            HistoryFormat::Drizzle { .. } => "drizzle",
            HistoryFormat::Dbmate { .. } => "dbmate",
            HistoryFormat::Goose { .. } => "goose",
            HistoryFormat::Prisma { .. } => "prisma",
            HistoryFormat::Flyway { .. } => "flyway",
            HistoryFormat::Refinery { .. } => "refinery",
            HistoryFormat::GolangMigrate { .. } => "golang-migrate",
        }
    }

    pub fn columns(&self) -> &'static [&'static str] {
        match self {
            HistoryFormat::Own { .. } => OWN_COLUMNS,
            HistoryFormat::Sqlx { .. } => SQLX_COLUMNS,
            HistoryFormat::Diesel { .. } => DIESEL_COLUMNS,
            HistoryFormat::Drizzle { .. } => drizzle::COLUMNS,
            HistoryFormat::Dbmate { .. } => dbmate::COLUMNS,
            HistoryFormat::Goose { .. } => goose::COLUMNS,
            HistoryFormat::Prisma { .. } => prisma::COLUMNS,
            HistoryFormat::Flyway { .. } => flyway::COLUMNS,
            HistoryFormat::Refinery { .. } => refinery::COLUMNS,
            HistoryFormat::GolangMigrate { .. } => golang_migrate::COLUMNS,
        }
    }

    /// The column a migration's row is found by.
    fn key_column(&self) -> &'static str {
        match self {
            HistoryFormat::Drizzle { .. } => drizzle::KEY,
            HistoryFormat::Dbmate { .. } => dbmate::KEY,
            HistoryFormat::Goose { .. } => goose::KEY,
            HistoryFormat::Prisma { .. } => prisma::KEY,
            _ => "version",
        }
    }

    /// The table name quoted for SQL (each part of `schema.table`).
    pub fn quoted_table(&self) -> String {
        quote_qualified(&self.table())
    }

    /// The schema the table is in, when named.
    pub fn schema(&self) -> Option<String> {
        self.table()
            .split_once('.')
            .map(|(schema, _)| schema.to_string())
    }

    /// Whether the table can record a failed (partly applied) migration.
    pub fn records_failures(&self) -> bool {
        // Drizzle's, dbmate's and goose's rows exist only once a migration is applied.
        !matches!(
            self,
            HistoryFormat::Diesel { .. }
                | HistoryFormat::Drizzle { .. }
                | HistoryFormat::Dbmate { .. }
                | HistoryFormat::Goose { .. }
                | HistoryFormat::Refinery { .. }
        )
    }

    /// `CREATE TABLE IF NOT EXISTS …` in this format (sqlx's and diesel's exactly as those
    /// tools create them).
    /// `with_schema`: create the table's schema first (one that does not exist yet; asking
    /// for an existing one would need the CREATE privilege on the database all the same).
    pub fn create_sql(&self, dialect: Dialect, with_schema: bool) -> String {
        let table = self.quoted_table();
        let (timestamp, now, bytes) = match dialect {
            Dialect::Postgres => ("TIMESTAMPTZ", "now()", "BYTEA"),
            Dialect::Sqlite => ("TIMESTAMP", "CURRENT_TIMESTAMP", "BLOB"),
            Dialect::Mysql => ("TIMESTAMP", "CURRENT_TIMESTAMP", "BLOB"),
        };
        match self {
            HistoryFormat::Own { .. } => {
                let schema = match (self.schema(), dialect) {
                    (Some(schema), Dialect::Postgres) if with_schema => {
                        format!("CREATE SCHEMA IF NOT EXISTS {};\n", quote_ident(&schema))
                    }
                    _ => String::new(),
                };
                format!(
                    "{schema}CREATE TABLE IF NOT EXISTS {table} (\n    \
                     version TEXT PRIMARY KEY,\n    \
                     name TEXT NOT NULL,\n    \
                     checksum TEXT NOT NULL,\n    \
                     applied_at {timestamp} NOT NULL DEFAULT {now},\n    \
                     execution_ms BIGINT NOT NULL,\n    \
                     success BOOLEAN NOT NULL,\n    \
                     failure TEXT\n)"
                )
            }
            HistoryFormat::Sqlx { .. } => format!(
                "CREATE TABLE IF NOT EXISTS {table} (\n    \
                 version BIGINT PRIMARY KEY,\n    \
                 description TEXT NOT NULL,\n    \
                 installed_on {timestamp} NOT NULL DEFAULT {now},\n    \
                 success BOOLEAN NOT NULL,\n    \
                 checksum {bytes} NOT NULL,\n    \
                 execution_time BIGINT NOT NULL\n)"
            ),
            HistoryFormat::Diesel { .. } => format!(
                "CREATE TABLE IF NOT EXISTS {table} (\n    \
                 version VARCHAR(50) PRIMARY KEY NOT NULL,\n    \
                 run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP\n)"
            ),
            HistoryFormat::Drizzle { .. } => {
                drizzle::create_sql(&table, self.schema().as_deref(), dialect)
            }
            HistoryFormat::Dbmate { .. } => dbmate::create_sql(&table),
            HistoryFormat::Goose { .. } => goose::create_sql(&table, dialect),
            HistoryFormat::Prisma { .. } => prisma::create_sql(&table, dialect),
            HistoryFormat::Flyway { .. } => flyway::create_sql(&table, flyway::TABLE, dialect),
            HistoryFormat::Refinery { .. } => refinery::create_sql(&table),
            HistoryFormat::GolangMigrate { .. } => golang_migrate::create_sql(&table, dialect),
        }
    }

    /// Selects every row as (version, name, checksum-as-hex, applied_at, execution_ms,
    /// success, failure), all text or integer columns that both drivers decode alike.
    pub fn select_sql(&self, dialect: Dialect) -> String {
        let table = self.quoted_table();
        let text = |column: &str| match dialect {
            Dialect::Postgres => format!("{column}::text"),
            _ => format!("CAST({column} AS TEXT)"),
        };
        let hex = |column: &str| match dialect {
            Dialect::Postgres => format!("encode({column}, 'hex')"),
            _ => format!("lower(hex({column}))"),
        };
        let truth = match dialect {
            Dialect::Postgres => "true",
            _ => "1",
        };
        match self {
            HistoryFormat::Drizzle { .. } => drizzle::select_sql(&table, truth),
            HistoryFormat::Dbmate { .. } => dbmate::select_sql(&table, truth),
            HistoryFormat::Goose { .. } => goose::select_sql(&table, truth),
            HistoryFormat::Prisma { .. } => prisma::select_sql(&table, dialect),
            HistoryFormat::Own { .. } => format!(
                "SELECT version, name, checksum, {}, execution_ms, success, failure FROM {table}",
                text("applied_at")
            ),
            HistoryFormat::Sqlx { .. } => format!(
                "SELECT {}, description, {}, {}, execution_time / 1000000, success, NULL FROM {table}",
                text("version"),
                hex("checksum"),
                text("installed_on")
            ),
            HistoryFormat::Diesel { .. } => format!(
                "SELECT version, NULL, NULL, {}, NULL, {}, NULL FROM {table}",
                text("run_on"),
                match dialect {
                    Dialect::Postgres => "true",
                    _ => "1",
                }
            ),
            HistoryFormat::Flyway { .. } => flyway::select_sql(&table, dialect),
            HistoryFormat::Refinery { .. } => refinery::select_sql(&table, dialect),
            HistoryFormat::GolangMigrate { versions, .. } => {
                golang_migrate::select_sql(&table, dialect, versions)
            }
        }
    }

    /// How this format stores `migration`'s version, or why it cannot.
    pub fn stored_version(&self, migration: &Migration) -> Result<StoredVersion, NotStorable> {
        let version = migration.version.as_str();
        if migration.repeatable
            && !matches!(
                self,
                HistoryFormat::Flyway { .. } | HistoryFormat::Own { .. }
            )
        {
            return Err(NotStorable {
                reason: format!(
                    "`{version}` is a Flyway repeatable script, which only Flyway's history (`flyway_schema_history`) and cargo-migrate's own record"
                ),
            });
        }
        match self {
            HistoryFormat::Own { .. } => Ok(StoredVersion::Text(version.to_string())),
            // sqlx keeps a BIGINT; `0001` is stored as 1. Only plain digits: `+1` or `1e3`
            // would parse somewhere, and `2024-01-15` would be arithmetic in SQL text.
            HistoryFormat::Refinery { .. } => version
                .parse::<i32>()
                .ok()
                .filter(|_| version.bytes().all(|b| b.is_ascii_digit()))
                .map(|n| StoredVersion::Integer(i64::from(n)))
                .ok_or_else(|| NotStorable {
                    reason: format!(
                        "refinery stores versions as int4, and `{version}` is not a whole number up to 2147483647"
                    ),
                }),
            HistoryFormat::Sqlx { .. } | HistoryFormat::GolangMigrate { .. } => {
                let tool = self.label();
                if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(NotStorable {
                        reason: format!(
                            "{tool} stores versions as BIGINT, and `{version}` is not a whole number"
                        ),
                    });
                }
                version
                    .parse::<i64>()
                    .map(StoredVersion::Integer)
                    .map_err(|_| NotStorable {
                        reason: format!(
                            "{tool} stores versions as BIGINT, and `{version}` is beyond a signed 64-bit integer"
                        ),
                    })
            }
            HistoryFormat::Diesel { .. } => {
                let plain = version.replace('-', "");
                if plain.chars().count() > DIESEL_VERSION_LENGTH {
                    return Err(NotStorable {
                        reason: format!(
                            "diesel stores versions as VARCHAR({DIESEL_VERSION_LENGTH}), and `{plain}` has {} characters",
                            plain.chars().count()
                        ),
                    });
                }
                Ok(StoredVersion::Text(plain))
            }
            HistoryFormat::Drizzle { .. } => drizzle::stored_version(migration),
            HistoryFormat::Dbmate { .. } => dbmate::stored_version(migration),
            HistoryFormat::Goose { .. } => goose::stored_version(migration),
            HistoryFormat::Prisma { .. } => prisma::stored_version(migration),
            HistoryFormat::Flyway { .. } => flyway::stored_version(migration)
                .map(StoredVersion::Text)
                .map_err(|reason| NotStorable { reason }),
        }
    }

    /// A version as read back from this format's table (as text, see [`Self::select_sql`]),
    /// typed for the statements that address its row.
    pub fn parse_stored(&self, text: &str) -> StoredVersion {
        match self {
            HistoryFormat::Sqlx { .. }
            | HistoryFormat::Drizzle { .. }
            | HistoryFormat::Goose { .. }
            | HistoryFormat::GolangMigrate { .. }
            | HistoryFormat::Refinery { .. } => text.parse::<i64>().map_or_else(
                |_| StoredVersion::Text(text.to_string()),
                StoredVersion::Integer,
            ),
            _ => StoredVersion::Text(text.to_string()),
        }
    }

    /// Refuses, before anything runs, a set with a version this format cannot store: naming
    /// the first such migration, the format and the reason.
    pub fn check_storable(&self, migrations: &[Migration]) -> Result<(), Error> {
        let mut refused = migrations
            .iter()
            .filter_map(|m| self.stored_version(m).err().map(|why| (m, why)));
        let Some((migration, why)) = refused.next() else {
            return Ok(());
        };
        Err(self.refusal(migration, &why, refused.count()))
    }

    /// The error for `migration`, whose version this format cannot store (`more`: how many
    /// other migrations have the same problem).
    pub fn refusal(&self, migration: &Migration, why: &NotStorable, more: usize) -> Error {
        let more = match more {
            0 => String::new(),
            1 => " (and 1 more migration)".to_string(),
            n => format!(" (and {n} more migrations)"),
        };
        let hint = match self {
            HistoryFormat::Drizzle { .. } => {
                "Drizzle's history records the journal's `when`: keep it for a Drizzle folder (meta/_journal.json), or keep cargo-migrate's own history (`history = \"cargo-migrate\"` in [package.metadata.migrate]); nothing was changed"
            }
            HistoryFormat::Sqlx { .. } => {
                "a sqlx history needs whole-number versions (e.g. 20240115101010_create_users): rename the migrations, or keep cargo-migrate's own history (`history = \"cargo-migrate\"` in [package.metadata.migrate]); nothing was changed"
            }
            _ => {
                "shorten the version, or keep cargo-migrate's own history (`history = \"cargo-migrate\"` in [package.metadata.migrate]); nothing was changed"
            }
        };
        Error::input(
            ErrorCode::VersionNotStorable,
            format!(
                "migration {}_{} cannot be recorded in the {} history table `{}`: {}{more}",
                migration.version.as_str(),
                migration.name,
                self.label(),
                self.table(),
                why.reason
            ),
        )
        .at_path(&migration.up.path)
        .hint(hint)
    }

    /// The checksum this format records for `migration`, if it records one.
    pub fn checksum_of(&self, migration: &Migration) -> Option<Vec<u8>> {
        match self {
            HistoryFormat::Own { .. } => Some(migration.checksum.to_vec()),
            HistoryFormat::Sqlx { .. } => {
                Some(Sha384::digest(migration.up.sql.as_bytes()).to_vec())
            }
            HistoryFormat::Diesel { .. } => None,
            HistoryFormat::Flyway { .. } => Some(flyway::checksum_bytes(migration)),
            HistoryFormat::GolangMigrate { .. } => None,
            HistoryFormat::Refinery { .. } => refinery::checksum_bytes(migration),
            HistoryFormat::Drizzle { .. } => Some(drizzle::checksum(migration)),
            HistoryFormat::Dbmate { .. } => None,
            HistoryFormat::Goose { .. } => None,
            HistoryFormat::Prisma { .. } => Some(prisma::checksum(migration)),
        }
    }

    /// Whether a recorded checksum is `migration`'s: the same bytes, or for Prisma (which
    /// accepts either line ending, so a Windows checkout does not look modified) the script with
    /// its line endings as LF or as CRLF.
    pub fn checksum_matches(&self, recorded: &[u8], migration: &Migration) -> bool {
        match self {
            HistoryFormat::Prisma { .. } => prisma::checksum_matches(recorded, migration),
            _ => self
                .checksum_of(migration)
                .is_none_or(|current| current == recorded),
        }
    }

    /// The statement that records `migration` as applied (or, with `success` false, as started
    /// or failed).
    pub fn insert(
        &self,
        migration: &Migration,
        success: bool,
        elapsed: Elapsed,
        failure: Option<&str>,
    ) -> Result<Statement, NotStorable> {
        let version = self.stored_version(migration)?.into();
        let table = self.quoted_table();
        Ok(match self {
            HistoryFormat::Own { .. } => Statement::sql(format!(
                "INSERT INTO {table} (version, name, checksum, execution_ms, success, failure) VALUES "
            ))
            .values([
                Part::Value(version),
                Part::Value(Value::Text(migration.name.clone())),
                Part::Value(Value::Text(checksum::to_hex(&migration.checksum))),
                elapsed.millis(),
                Part::Value(Value::Bool(success)),
                Part::Value(Value::text_or_null(failure)),
            ])
            // A repeatable script applied again replaces its row (one per version here).
            .push(if migration.repeatable {
                " ON CONFLICT (version) DO UPDATE SET checksum = excluded.checksum, \
                 applied_at = CURRENT_TIMESTAMP, execution_ms = excluded.execution_ms, \
                 success = excluded.success, failure = excluded.failure"
            } else {
                ""
            }),
            HistoryFormat::Sqlx { .. } => Statement::sql(format!(
                "INSERT INTO {table} (version, description, success, checksum, execution_time) VALUES "
            ))
            .values([
                Part::Value(version),
                Part::Value(Value::Text(migration.name.replace('_', " "))),
                Part::Value(Value::Bool(success)),
                Part::Value(Value::Bytes(
                    self.checksum_of(migration).unwrap_or_default(),
                )),
                elapsed.nanos(),
            ]),
            HistoryFormat::Diesel { .. } => {
                Statement::sql(format!("INSERT INTO {table} (version) VALUES "))
                    .values([Part::Value(version)])
            }
            HistoryFormat::Drizzle { .. } => Statement::sql(format!("INSERT INTO {table} (hash, created_at) VALUES "))
                .values([Part::Value(Value::Text(checksum::to_hex(&drizzle::checksum(migration)))), Part::Value(version)]),
            HistoryFormat::Dbmate { .. } => Statement::sql(format!("INSERT INTO {table} (version) VALUES "))
                .values([Part::Value(version)]),
            HistoryFormat::Goose { .. } => Statement::sql(format!("INSERT INTO {table} (version_id, is_applied) VALUES "))
                .values([Part::Value(version), Part::Value(Value::Bool(true))]),
            HistoryFormat::Prisma { .. } => Statement::sql(format!(
                "INSERT INTO {table} (id, checksum, finished_at, migration_name, logs, started_at, applied_steps_count) VALUES "
            ))
            .values([
                Part::Value(Value::Text(prisma::new_id(migration))),
                Part::Value(Value::Text(checksum::to_hex(&prisma::checksum(migration)))),
                if success { prisma::now() } else { Part::Sql("NULL".to_string()) },
                Part::Value(version),
                Part::Value(Value::text_or_null(failure)),
                prisma::now(),
                Part::Value(Value::Integer(i64::from(success))),
            ]),
            HistoryFormat::Flyway { .. } => {
                flyway::insert(&table, migration, version, success, elapsed)
            }
            HistoryFormat::GolangMigrate { .. } => {
                golang_migrate::set_version(&table, integer(&version), !success)
            }
            HistoryFormat::Refinery { .. } => refinery::insert(&table, migration, version),
        })
    }

    /// Marks a started migration finished (`failure` None) or failed. Empty for diesel's
    /// table, which cannot record a failure (its row exists only once all is done).
    pub fn finish(
        &self,
        migration: &Migration,
        execution_ms: i64,
        failure: Option<&str>,
    ) -> Result<Statement, NotStorable> {
        let version = self.stored_version(migration)?.into();
        let table = self.quoted_table();
        let success = Value::Bool(failure.is_none());
        Ok(match self {
            HistoryFormat::Own { .. } => Statement::sql(format!("UPDATE {table} SET success = "))
                .value(success)
                .push(", execution_ms = ")
                .value(Value::Integer(execution_ms))
                .push(", failure = ")
                .value(Value::text_or_null(failure))
                .push(" WHERE version = ")
                .value(version),
            HistoryFormat::Sqlx { .. } => Statement::sql(format!("UPDATE {table} SET success = "))
                .value(success)
                .push(", execution_time = ")
                .value(Value::Integer(execution_ms.saturating_mul(1_000_000)))
                .push(" WHERE version = ")
                .value(version),
            HistoryFormat::GolangMigrate { .. } => {
                golang_migrate::set_version(&table, integer(&version), failure.is_some())
            }
            HistoryFormat::Flyway { .. } => {
                Statement::sql(format!("UPDATE {table} SET success = "))
                    .value(success)
                    .push(", execution_time = ")
                    .value(Value::Integer(execution_ms.clamp(0, i64::from(i32::MAX))))
                    .append(flyway::row_condition(&table, migration, version))
            }
            HistoryFormat::Diesel { .. }
            | HistoryFormat::Drizzle { .. }
            | HistoryFormat::Dbmate { .. }
            | HistoryFormat::Goose { .. }
            | HistoryFormat::Refinery { .. } => match failure {
                None => self.insert(migration, true, Elapsed::Millis(0), None)?,
                Some(_) => Statement::default(),
            },
            HistoryFormat::Prisma { .. } => {
                let statement = Statement::sql(format!("UPDATE {table} SET finished_at = "));
                match failure {
                    None => statement.part(prisma::now()),
                    Some(_) => statement.push("NULL"),
                }
                .push(", applied_steps_count = ")
                .value(Value::Integer(i64::from(failure.is_none())))
                .push(", logs = ")
                .value(Value::text_or_null(failure))
                .push(" WHERE rolled_back_at IS NULL AND migration_name = ")
                .value(version)
            }
        })
    }

    /// Sets an applied migration's row to `failure` (a down under way, or stopped part-way),
    /// or back to applied (`None`), keeping when and how long it was applied. Empty for
    /// diesel's table, which has no such state.
    pub fn mark(
        &self,
        migration: &Migration,
        failure: Option<&str>,
    ) -> Result<Statement, NotStorable> {
        let version = self.stored_version(migration)?.into();
        let table = self.quoted_table();
        let success = Value::Bool(failure.is_none());
        Ok(match self {
            HistoryFormat::Own { .. } => Statement::sql(format!("UPDATE {table} SET success = "))
                .value(success)
                .push(", failure = ")
                .value(Value::text_or_null(failure))
                .push(" WHERE version = ")
                .value(version),
            HistoryFormat::Sqlx { .. } => Statement::sql(format!("UPDATE {table} SET success = "))
                .value(success)
                .push(" WHERE version = ")
                .value(version),
            HistoryFormat::Flyway { .. } => {
                Statement::sql(format!("UPDATE {table} SET success = "))
                    .value(success)
                    .append(flyway::row_condition(&table, migration, version))
            }
            HistoryFormat::GolangMigrate { .. } => {
                golang_migrate::set_version(&table, integer(&version), failure.is_some())
            }
            HistoryFormat::Diesel { .. } | HistoryFormat::Refinery { .. } => Statement::default(),
            HistoryFormat::Drizzle { .. } => Statement::default(),
            HistoryFormat::Dbmate { .. } => Statement::default(),
            HistoryFormat::Goose { .. } => Statement::default(),
            // Prisma's failed state is a row without `finished_at`, the reason in `logs`.
            HistoryFormat::Prisma { .. } => {
                let statement = Statement::sql(format!("UPDATE {table} SET finished_at = "));
                match failure {
                    None => statement
                        .push("coalesce(finished_at, ")
                        .part(prisma::now())
                        .push(")"),
                    Some(_) => statement.push("NULL"),
                }
                .push(", logs = ")
                .value(Value::text_or_null(failure))
                .push(" WHERE rolled_back_at IS NULL AND migration_name = ")
                .value(version)
            }
        })
    }

    /// Removes `migration`'s row (golang-migrate: makes the migration before it current).
    pub fn delete(&self, migration: &Migration) -> Result<Statement, NotStorable> {
        let stored = self.stored_version(migration)?;
        // A repeatable script's newest row (an attempt that did nothing).
        if let HistoryFormat::Flyway { .. } = self
            && migration.repeatable
        {
            let table = self.quoted_table();
            return Ok(Statement::sql(format!("DELETE FROM {table}"))
                .append(flyway::row_condition(&table, migration, stored.into())));
        }
        if let (HistoryFormat::GolangMigrate { versions, .. }, StoredVersion::Integer(version)) =
            (self, &stored)
        {
            return Ok(golang_migrate::set_version(
                &self.quoted_table(),
                golang_migrate::previous(versions, *version),
                false,
            ));
        }
        Ok(self.delete_stored(stored))
    }

    /// Forgets the row of a version as stored (`resolve --rolled-back`): removes it, or, in
    /// Prisma's table, sets `rolled_back_at` as `prisma migrate resolve --rolled-back` does
    /// (the row stays, and no longer counts).
    pub fn forget_stored(&self, version: StoredVersion) -> Statement {
        match self {
            HistoryFormat::Prisma { .. } => Statement::sql(format!(
                "UPDATE {} SET rolled_back_at = ",
                self.quoted_table()
            ))
            .part(prisma::now())
            .push(" WHERE rolled_back_at IS NULL AND migration_name = ")
            .value(version.into()),
            _ => self.delete_stored(version),
        }
    }

    /// Clears `migration`'s row (`stored`, as read back) before a new one is recorded in its
    /// place (`resolve --applied`): Prisma keeps the replaced attempt, marked rolled back, as
    /// `prisma migrate resolve --applied` does; the others remove it.
    pub fn replaced(
        &self,
        migration: &Migration,
        stored: StoredVersion,
    ) -> Result<Statement, NotStorable> {
        match self {
            HistoryFormat::Prisma { .. } => Ok(self.forget_stored(stored)),
            _ => self.delete(migration),
        }
    }

    /// Removes the row of a version as stored (a row read back, whose file may be gone).
    pub fn delete_stored(&self, version: StoredVersion) -> Statement {
        // A Flyway repeatable script's rows, read back as `R__<description>`.
        if let (HistoryFormat::Flyway { .. }, StoredVersion::Text(text)) = (self, &version)
            && let Some(description) = text.strip_prefix("R__")
        {
            return Statement::sql(format!(
                "DELETE FROM {} WHERE version IS NULL AND type = 'SQL' AND description = ",
                self.quoted_table()
            ))
            .value(Value::Text(description.to_string()));
        }
        Statement::sql(format!(
            "DELETE FROM {} WHERE {} = ",
            self.quoted_table(),
            self.key_column()
        ))
        .value(version.into())
    }

    /// `migration`'s row as (success, failure), for [`Statement::parameterized`] with one
    /// row out: `failure` is NULL where the format has none.
    pub fn recorded_row(&self, migration: &Migration) -> Result<Statement, NotStorable> {
        let version: Value = self.stored_version(migration)?.into();
        let table = self.quoted_table();
        if let (HistoryFormat::GolangMigrate { .. }, Value::Integer(version)) = (self, &version) {
            return Ok(golang_migrate::recorded_row(&self.quoted_table(), *version));
        }
        match self {
            HistoryFormat::Flyway { .. } => {
                return Ok(flyway::recorded_row(&table, migration, version));
            }
            // The newest row of the version says whether it is applied.
            HistoryFormat::Goose { .. } => {
                return Ok(Statement::sql(format!(
                    "SELECT 1, NULL FROM {table} AS g WHERE g.is_applied AND g.id = (SELECT max(h.id) FROM {table} AS h WHERE h.version_id = "
                ))
                .value(version)
                .push(")"));
            }
            HistoryFormat::Prisma { .. } => {
                return Ok(Statement::sql(format!(
                    "SELECT finished_at IS NOT NULL, CASE WHEN finished_at IS NULL THEN coalesce(logs, 'failed') END FROM {table} WHERE rolled_back_at IS NULL AND migration_name = "
                ))
                .value(version)
                .push(" ORDER BY ")
                .part(prisma::started_at_text())
                .push(" DESC LIMIT 1"));
            }
            _ => {}
        }
        let (success, failure) = match self {
            HistoryFormat::Own { .. } => ("success", "failure"),
            HistoryFormat::Sqlx { .. } | HistoryFormat::Flyway { .. } => ("success", "NULL"),
            HistoryFormat::GolangMigrate { .. } => ("NOT dirty", "NULL"),
            // diesel's rows exist only for applied migrations.
            HistoryFormat::Diesel { .. } | HistoryFormat::Refinery { .. } => ("1", "NULL"),
            // Rows exist only for applied migrations.
            _ => ("1", "NULL"),
        };
        Ok(Statement::sql(format!(
            "SELECT {success}, {failure} FROM {table} WHERE {} = ",
            self.key_column()
        ))
        .value(version))
    }
}

/// A stored version as golang-migrate's integer (its versions are always integers).
fn integer(version: &Value) -> Option<i64> {
    match version {
        Value::Integer(n) => Some(*n),
        _ => None,
    }
}

/// The longest version diesel's `VARCHAR(50)` column holds.
const DIESEL_VERSION_LENGTH: usize = 50;

/// What `failure` holds while a no-transaction migration runs: a row left like this by a
/// process that died shows the migration as failed, and tells which way it was going.
pub const UP_STARTED: &str = "started, not finished (the process stopped part-way)";
pub const DOWN_STARTED: &str = "down started, not finished (the process stopped part-way; the migration may be partly reverted)";

/// Whether a failed row's reason says the migration is still being run (by another process,
/// or by one that died), rather than that it failed.
pub fn in_progress(failure: &str) -> bool {
    failure == UP_STARTED || failure == DOWN_STARTED
}

/// Why a version cannot be stored in a history format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotStorable {
    pub reason: String,
}

/// A version as a history format stores it: the key of its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredVersion {
    Text(String),
    Integer(i64),
}

impl StoredVersion {
    /// As [`HistoryFormat::select_sql`] reads it back: what rows are matched on.
    pub fn as_text(&self) -> String {
        match self {
            StoredVersion::Text(text) => text.clone(),
            StoredVersion::Integer(n) => n.to_string(),
        }
    }
}

impl From<StoredVersion> for Value {
    fn from(version: StoredVersion) -> Value {
        match version {
            StoredVersion::Text(text) => Value::Text(text),
            StoredVersion::Integer(n) => Value::Integer(n),
        }
    }
}

/// A value in a history statement. Values exist only in this typed form, so each reaches SQL
/// as a bound parameter of its type, or (PostgreSQL's one-round-trip apply) as a literal
/// written for its column's type — never pasted into the text as it comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Integer(i64),
    Bool(bool),
    Bytes(Vec<u8>),
    /// A NULL of a text column.
    NullText,
}

impl Value {
    fn text_or_null(text: Option<&str>) -> Value {
        text.map_or(Value::NullText, |text| Value::Text(text.to_string()))
    }

    /// The value as a literal of its type.
    fn literal(&self, dialect: Dialect) -> String {
        match (self, dialect) {
            (Value::Text(text), _) => literal(dialect, text),
            // Parenthesised: `- 5` after an operator must stay one number.
            (Value::Integer(n), _) if *n < 0 => format!("({n})"),
            (Value::Integer(n), _) => n.to_string(),
            (Value::Bool(b), Dialect::Postgres) => b.to_string(),
            (Value::Bool(b), _) => u8::from(*b).to_string(),
            (Value::Bytes(bytes), _) => bytes_literal(dialect, bytes),
            (Value::NullText, _) => "NULL".to_string(),
        }
    }
}

/// How long a migration took, as a history value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elapsed {
    Millis(i64),
    /// Measured on the PostgreSQL server when the row is written: the time since the
    /// transaction began (the one-round-trip apply cannot know it beforehand).
    ServerClock,
}

/// The server-side measure of [`Elapsed::ServerClock`], in milliseconds.
const SERVER_MILLIS: &str = "(extract(epoch from clock_timestamp() - now()) * 1000)::bigint";

impl Elapsed {
    fn millis(self) -> Part {
        match self {
            Elapsed::Millis(ms) => Part::Value(Value::Integer(ms)),
            Elapsed::ServerClock => Part::Sql(SERVER_MILLIS.to_string()),
        }
    }

    /// sqlx records nanoseconds.
    fn nanos(self) -> Part {
        match self {
            Elapsed::Millis(ms) => Part::Value(Value::Integer(ms.saturating_mul(1_000_000))),
            Elapsed::ServerClock => Part::Sql(format!("({SERVER_MILLIS}) * 1000000")),
        }
    }
}

/// One history statement: SQL text of our own (table names quoted, fixed expressions) and
/// typed values, kept apart until it is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statement {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Sql(String),
    Value(Value),
    /// Text and values that differ by dialect (another tool's table written as that tool
    /// writes it on each database).
    Dialects {
        postgres: Vec<Part>,
        other: Vec<Part>,
    },
}

impl Part {
    /// The connected user (`current_user`), as Flyway records it; empty text on SQLite.
    fn current_user() -> Part {
        Part::Dialects {
            postgres: vec![Part::Sql("current_user".into())],
            other: vec![Part::Sql("''".into())],
        }
    }
}

/// `parts` with each [`Part::Dialects`] replaced by the parts for `dialect`.
fn for_dialect(parts: &[Part], dialect: Dialect) -> Vec<&Part> {
    let mut flat = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            Part::Dialects { postgres, other } => flat.extend(for_dialect(
                if dialect == Dialect::Postgres {
                    postgres
                } else {
                    other
                },
                dialect,
            )),
            part => flat.push(part),
        }
    }
    flat
}

impl Statement {
    /// Only `text`, as a text value: with [`Statement::inline`], a string literal for a
    /// simple query of our own (a name looked up in the catalogue).
    pub fn text_literal(text: &str) -> Statement {
        Statement {
            parts: vec![Part::Value(Value::Text(text.to_string()))],
        }
    }

    fn sql(text: String) -> Statement {
        Statement {
            parts: vec![Part::Sql(text)],
        }
    }

    fn push(mut self, text: &str) -> Statement {
        self.parts.push(Part::Sql(text.to_string()));
        self
    }

    fn value(mut self, value: Value) -> Statement {
        self.parts.push(Part::Value(value));
        self
    }

    fn part(mut self, part: Part) -> Statement {
        self.parts.push(part);
        self
    }

    /// `other`'s parts appended.
    fn append(mut self, other: Statement) -> Statement {
        self.parts.extend(other.parts);
        self
    }

    /// `(a, b, c)` appended.
    fn values(mut self, items: impl IntoIterator<Item = Part>) -> Statement {
        self.parts.push(Part::Sql("(".to_string()));
        for (index, item) in items.into_iter().enumerate() {
            if index > 0 {
                self.parts.push(Part::Sql(", ".to_string()));
            }
            self.parts.push(item);
        }
        self.parts.push(Part::Sql(")".to_string()));
        self
    }

    /// Whether there is nothing to run (a format that cannot record this).
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The statement with each value written as a literal of its type: for PostgreSQL's
    /// transactional apply, whose script and history row travel in one simple-query message
    /// (which cannot carry parameters).
    pub fn inline(&self, dialect: Dialect) -> String {
        for_dialect(&self.parts, dialect)
            .into_iter()
            .map(|part| match part {
                Part::Sql(text) => text.clone(),
                Part::Value(value) => value.literal(dialect),
                Part::Dialects { .. } => String::new(),
            })
            .collect()
    }

    /// The statement with placeholders (`$1`… on PostgreSQL, `?` elsewhere), and the values
    /// to bind to them in order.
    pub fn parameterized(&self, dialect: Dialect) -> (String, Vec<&Value>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        for part in for_dialect(&self.parts, dialect) {
            match part {
                Part::Sql(text) => sql.push_str(text),
                Part::Dialects { .. } => {}
                Part::Value(value) => {
                    values.push(value);
                    match dialect {
                        Dialect::Postgres => sql.push_str(&format!("${}", values.len())),
                        _ => sql.push('?'),
                    }
                }
            }
        }
        (sql, values)
    }
}

/// A string literal that means `text` whatever the server's settings: PostgreSQL `E'…'`
/// (so backslashes behave the same with `standard_conforming_strings` off), SQL `'…'`
/// elsewhere. NUL, which no SQL text can hold, is dropped.
fn literal(dialect: Dialect, text: &str) -> String {
    let text = text.replace('\0', "");
    match dialect {
        Dialect::Postgres => format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''")),
        Dialect::Mysql => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''")),
        Dialect::Sqlite => format!("'{}'", text.replace('\'', "''")),
    }
}

fn bytes_literal(dialect: Dialect, bytes: &[u8]) -> String {
    let hex = checksum::to_hex(bytes);
    match dialect {
        // decode() reads the same whatever `standard_conforming_strings` says.
        Dialect::Postgres => format!("decode('{hex}', 'hex')"),
        _ => format!("X'{hex}'"),
    }
}

/// Whether `schema` is one of PostgreSQL's own: `information_schema`, or any `pg_` name
/// (reserved by the server: `pg_catalog`, `pg_toast`, `pg_temp_N`…). Case-insensitively, so
/// a spelling that the server would fold or that only looks different is refused too.
pub fn is_system_schema(schema: &str) -> bool {
    let schema = schema.to_ascii_lowercase();
    schema == "information_schema" || schema.starts_with("pg_")
}

/// `"name"` with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."table"` or `"table"`.
pub fn quote_qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, table)) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
        None => quote_ident(name),
    }
}

/// Parses a lower-case hex string into bytes; `None` if it is not hex.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::{Script, Version, VersionOrder};

    fn migration(version: &str, name: &str, sql: &str) -> Migration {
        Migration {
            version: Version::parse(version, VersionOrder::TextWithoutDashes).unwrap(),
            name: name.into(),
            up: Script {
                path: "up.sql".into(),
                sql: sql.into(),
            },
            down: None,
            down_is_empty: false,
            no_transaction: false,
            checksum: checksum::checksum(sql.as_bytes()),
            created_at: None,
            repeatable: false,
        }
    }

    #[test]
    fn literals_survive_quotes_and_backslashes() {
        assert_eq!(
            literal(Dialect::Postgres, r"it's a \path"),
            r"E'it''s a \\path'"
        );
        assert_eq!(
            literal(Dialect::Sqlite, r"it's a \path"),
            r"'it''s a \path'"
        );
        assert_eq!(literal(Dialect::Sqlite, "nul\0byte"), "'nulbyte'");
    }

    #[test]
    fn identifiers_are_quoted_per_part() {
        assert_eq!(quote_qualified("app.history"), "\"app\".\"history\"");
        assert_eq!(quote_qualified("_cargo_migrate"), "\"_cargo_migrate\"");
    }

    #[test]
    fn stored_versions_follow_each_tool() {
        let m = migration("2024-01-01-120000-0000", "a", "");
        assert_eq!(
            HistoryFormat::Diesel { schema: None }.stored_version(&m),
            Ok(StoredVersion::Text("202401011200000000".into()))
        );
        let own = HistoryFormat::Own {
            name: DEFAULT_TABLE.into(),
        };
        assert_eq!(
            own.stored_version(&m),
            Ok(StoredVersion::Text("2024-01-01-120000-0000".into()))
        );
        let m = migration("0001", "a", "");
        assert_eq!(
            HistoryFormat::Sqlx { schema: None }.stored_version(&m),
            Ok(StoredVersion::Integer(1))
        );
    }

    /// What sqlx's BIGINT and diesel's VARCHAR(50) cannot hold is refused, never rewritten.
    #[test]
    fn versions_a_format_cannot_store_are_refused() {
        let sqlx = HistoryFormat::Sqlx { schema: None };
        let diesel = HistoryFormat::Diesel { schema: None };
        let long = format!("2024{}", "1".repeat(47));
        for (format, version, stored) in [
            (
                &sqlx,
                "20240115101010",
                Some(StoredVersion::Integer(20240115101010)),
            ),
            (
                &sqlx,
                "9223372036854775807",
                Some(StoredVersion::Integer(i64::MAX)),
            ),
            (&sqlx, "9223372036854775808", None),
            (&sqlx, "2024-01-15-101010", None),
            (&sqlx, "2024-01-15", None),
            (&sqlx, "0000", Some(StoredVersion::Integer(0))),
            (
                &diesel,
                "2024-01-15-101010",
                Some(StoredVersion::Text("20240115101010".into())),
            ),
            (&diesel, long.as_str(), None),
        ] {
            let m = migration(version, "create_users", "");
            assert_eq!(format.stored_version(&m).ok(), stored, "{version}");
            let checked = format.check_storable(std::slice::from_ref(&m));
            assert_eq!(checked.is_ok(), stored.is_some(), "{version}");
            if let Err(err) = checked {
                assert_eq!(err.code, ErrorCode::VersionNotStorable);
                assert_eq!(err.exit_code(), 2);
                assert!(
                    err.message.contains(&format!("{version}_create_users")),
                    "{}",
                    err.message
                );
                assert!(err.message.contains(format.label()), "{}", err.message);
                assert_eq!(err.location.as_deref(), Some("up.sql"));
            }
        }
        let own = HistoryFormat::Own {
            name: DEFAULT_TABLE.into(),
        };
        let m = migration("2024-01-15-101010", "a", "");
        assert!(own.check_storable(&[m]).is_ok());
    }

    /// Values are typed: bound as parameters, or inlined as literals of their column type.
    #[test]
    fn statements_keep_values_apart_from_sql() {
        let m = migration("20240115101010", "it's_a \\ name", "x");
        let sqlx = HistoryFormat::Sqlx {
            schema: Some("public".into()),
        };
        let insert = sqlx.insert(&m, true, Elapsed::Millis(7), None).unwrap();
        let (sql, values) = insert.parameterized(Dialect::Postgres);
        assert_eq!(
            sql,
            "INSERT INTO \"public\".\"_sqlx_migrations\" (version, description, success, checksum, execution_time) VALUES ($1, $2, $3, $4, $5)"
        );
        assert_eq!(values[0], &Value::Integer(20240115101010));
        assert_eq!(values[1], &Value::Text("it's a \\ name".into()));
        assert_eq!(values[4], &Value::Integer(7_000_000));
        let (sql, _) = insert.parameterized(Dialect::Sqlite);
        assert!(sql.ends_with("VALUES (?, ?, ?, ?, ?)"), "{sql}");
        let inline = insert.inline(Dialect::Postgres);
        assert!(
            inline.contains("VALUES (20240115101010, E'it''s a \\\\ name', true, decode('"),
            "{inline}"
        );
        let inline = sqlx
            .insert(&m, true, Elapsed::ServerClock, None)
            .unwrap()
            .inline(Dialect::Postgres);
        assert!(
            inline.ends_with(
                ", ((extract(epoch from clock_timestamp() - now()) * 1000)::bigint) * 1000000)"
            ),
            "{inline}"
        );
        assert_eq!(
            sqlx.delete_stored(StoredVersion::Integer(-99002))
                .inline(Dialect::Postgres),
            "DELETE FROM \"public\".\"_sqlx_migrations\" WHERE version = (-99002)"
        );
        let own = HistoryFormat::Own {
            name: "app.h".into(),
        };
        let mark = own.mark(&m, Some(DOWN_STARTED)).unwrap();
        let (sql, values) = mark.parameterized(Dialect::Postgres);
        assert_eq!(
            sql,
            "UPDATE \"app\".\"h\" SET success = $1, failure = $2 WHERE version = $3"
        );
        assert_eq!(
            values,
            [
                &Value::Bool(false),
                &Value::Text(DOWN_STARTED.into()),
                &Value::Text("20240115101010".into())
            ]
        );
        assert!(
            HistoryFormat::Diesel { schema: None }
                .mark(&m, None)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn system_schemas() {
        for (schema, system) in [
            ("pg_catalog", true),
            ("pg_toast", true),
            ("pg_temp_3", true),
            ("information_schema", true),
            ("PG_CATALOG", true),
            ("public", false),
            ("app", false),
            ("pgx", false),
        ] {
            assert_eq!(is_system_schema(schema), system, "{schema}");
        }
    }

    #[test]
    fn sqlx_checksum_is_sha384_of_raw_bytes() {
        let m = migration("1", "a", "select 1;\r\n");
        let sum = HistoryFormat::Sqlx { schema: None }
            .checksum_of(&m)
            .unwrap();
        assert_eq!(sum.len(), 48);
        assert_eq!(sum, Sha384::digest(b"select 1;\r\n").to_vec());
    }

    #[test]
    fn insert_statements() {
        let m = migration("1", "add_user's_table", "x");
        let own = HistoryFormat::Own {
            name: "app.h".into(),
        };
        let sql = own
            .insert(&m, true, Elapsed::Millis(7), None)
            .unwrap()
            .inline(Dialect::Postgres);
        assert!(sql.starts_with("INSERT INTO \"app\".\"h\" (version, name, checksum, execution_ms, success, failure) VALUES (E'1', E'add_user''s_table', E'"), "{sql}");
        assert!(sql.ends_with(", 7, true, NULL)"), "{sql}");
        let sql = HistoryFormat::Sqlx { schema: None }
            .insert(&m, true, Elapsed::Millis(7), None)
            .unwrap()
            .inline(Dialect::Sqlite);
        assert!(
            sql.contains("VALUES (1, 'add user''s table', 1, X'"),
            "{sql}"
        );
        assert!(sql.ends_with(", 7000000)"), "{sql}");
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(from_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
