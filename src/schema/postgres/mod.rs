//! The PostgreSQL driver: reads a live database into the model ([`inspect`]) and plans the
//! statements that change it (`plan`: the PostgreSQL half of [`super::plan`]).

mod inspect;
mod objects;
mod plan;

pub(crate) use inspect::{ReadCache, inspect, inspect_prepared, without_table_dependencies};

use futures_util::future::BoxFuture;

use super::Excluded;
use super::driver::{Driver, wrong_connection};
use super::model::Schema;
use super::plan::Planner;
use crate::db::Database;
use crate::dialect::Dialect;
use crate::error::Result;

/// PostgreSQL's [`Driver`].
pub(in crate::schema) struct PostgresDriver;

impl Driver for PostgresDriver {
    fn inspect<'a>(
        &'a self,
        db: &'a mut Database,
        excluded: &'a [Excluded],
    ) -> BoxFuture<'a, Result<Schema>> {
        Box::pin(async move {
            match db {
                Database::Postgres(pg) => inspect(pg.connection(), excluded).await,
                other => Err(wrong_connection(Dialect::Postgres, other)),
            }
        })
    }

    fn plan(&self, planner: &mut Planner<'_>) {
        planner.postgres();
    }
}
