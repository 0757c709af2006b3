//! Replaying a history on a scratch database: what `schema`, `diff` and `check` build on.

use std::time::Duration;

use crate::db::history::HistoryFormat;
use crate::db::{ConnectOptions, Database, DatabaseUrl, Direction, Failure, Ran};
use crate::dialect::Dialect;
use crate::error::Result;
use crate::migration::Migration;
use crate::schema::{Excluded, Schema, ScratchReads};

/// A connection to a scratch database with its history table, which runs migrations and
/// reads the schema they produced.
pub struct Replayer {
    pub db: Database,
    pub format: HistoryFormat,
    /// The last scratch read of `db`, so the next reads only what changed.
    reads: ScratchReads,
}

impl Replayer {
    /// Connects to the empty database `url` and creates the history table `format`.
    pub async fn open(url: &DatabaseUrl, format: HistoryFormat) -> Result<Replayer> {
        let options = ConnectOptions {
            // A scratch server answers at once; its start already waited for it.
            wait: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(60),
            create_if_missing: true,
        };
        let mut db = Database::connect(url, &options, |_| {}).await?;
        db.ensure_history(&format).await?;
        Ok(Replayer {
            db,
            format,
            reads: ScratchReads::default(),
        })
    }

    pub async fn run(
        &mut self,
        migration: &Migration,
        direction: Direction,
    ) -> Result<Ran, Failure> {
        self.db.run(&self.format, migration, direction).await
    }

    /// Applies `migrations` in order; stops at the first failure, with its migration.
    pub async fn apply_all<'m>(
        &mut self,
        migrations: &'m [Migration],
    ) -> Result<(), (&'m Migration, Failure)> {
        for migration in migrations {
            self.run(migration, Direction::Up)
                .await
                .map_err(|failure| (migration, failure))?;
        }
        Ok(())
    }

    /// The schema as it is now, without the history table.
    pub async fn inspect(&mut self) -> Result<Schema> {
        let excluded = [excluded_history(&self.format, self.db.dialect())];
        let mut schema = self.db.inspect_scratch(&excluded, &mut self.reads).await?;
        forget_history_schema(&self.format, &mut schema);
        Ok(schema)
    }
}

/// The schema of `db` as it is now, without the history table `format`.
pub async fn read_schema(db: &mut Database, format: &HistoryFormat) -> Result<Schema> {
    let excluded = [excluded_history(format, db.dialect())];
    let mut schema = db.inspect(&excluded).await?;
    forget_history_schema(format, &mut schema);
    Ok(schema)
}

/// The history table `format` writes to, as inspection leaves it out.
pub fn excluded_history(format: &HistoryFormat, dialect: Dialect) -> Excluded {
    let table = format.table();
    let default_schema = match dialect {
        Dialect::Sqlite => "main",
        _ => "public",
    };
    match table.split_once('.') {
        Some((schema, name)) => Excluded {
            schema: schema.to_string(),
            table: name.to_string(),
        },
        None => Excluded {
            schema: default_schema.to_string(),
            table,
        },
    }
}

/// Drizzle keeps its history in a schema of its own (`drizzle`): with the table left out
/// (see [`excluded_history`]), an empty schema of that name is Drizzle's bookkeeping, not part
/// of the application's schema.
pub fn forget_history_schema(format: &HistoryFormat, schema: &mut Schema) {
    let HistoryFormat::Drizzle {
        schema: Some(namespace),
    } = format
    else {
        return;
    };
    let prefix = format!("{namespace}.");
    let holds = |name: &str| name.starts_with(&prefix);
    let in_use = schema.tables.keys().any(|n| holds(n.as_str()))
        || schema.views.keys().any(|n| holds(n.as_str()))
        || schema.sequences.keys().any(|n| holds(n.as_str()))
        || schema.types.keys().any(|n| holds(n.as_str()))
        || schema.routines.keys().any(|n| holds(n))
        || schema.extensions.values().any(|e| &e.schema == namespace);
    if !in_use {
        schema.schemas.remove(namespace);
    }
}
