//! The SQLite driver: reads a live database into the model ([`inspect`]) and plans the
//! statements that change it (`plan`: the SQLite half of [`super::plan`]).

mod inspect;
mod plan;

pub(crate) use inspect::inspect;
#[cfg(test)]
pub(in crate::schema) use plan::sqlite_bare_default;
pub(in crate::schema) use plan::sqlite_index;

use futures_util::future::BoxFuture;

use super::Excluded;
use super::driver::{Driver, wrong_connection};
use super::model::Schema;
use super::plan::Planner;
use crate::db::Database;
use crate::dialect::Dialect;
use crate::error::Result;

/// SQLite's [`Driver`].
pub(in crate::schema) struct SqliteDriver;

impl Driver for SqliteDriver {
    fn inspect<'a>(
        &'a self,
        db: &'a mut Database,
        excluded: &'a [Excluded],
    ) -> BoxFuture<'a, Result<Schema>> {
        Box::pin(async move {
            match db {
                Database::Sqlite(sqlite) => inspect(sqlite.connection(), excluded).await,
                other => Err(wrong_connection(Dialect::Sqlite, other)),
            }
        })
    }

    fn plan(&self, planner: &mut Planner<'_>) {
        planner.sqlite();
    }
}
