//! The seam between the shared schema pipeline and a dialect: what a dialect's driver
//! (`schema/<dialect>/`) provides, and the one place a dialect picks its driver.
//!
//! The model, [`super::diff`], [`super::render`] and the planner's order ([`super::plan`])
//! are shared; reading the catalogs and spelling the dialect's own statements are the
//! driver's. Adding a dialect means adding a directory with a type implementing [`Driver`]
//! and one arm in [`driver`]; until then, its plans report every change as not expressible.

use futures_util::future::BoxFuture;

use super::model::Schema;
use super::plan::Planner;
use super::{Excluded, postgres, sqlite};
use crate::db::Database;
use crate::dialect::Dialect;
use crate::error::{Error, ErrorClass, ErrorCode, Result};

/// One dialect's part of the schema pipeline.
pub(in crate::schema) trait Driver: Sync {
    /// Reads the schema of `db` (a connection of this driver's dialect), leaving out
    /// `excluded` tables.
    fn inspect<'a>(
        &'a self,
        db: &'a mut Database,
        excluded: &'a [Excluded],
    ) -> BoxFuture<'a, Result<Schema>>;

    /// Adds the statements of this dialect for the changes `planner` holds, in the shared
    /// phases ([`super::plan::Phase`]).
    fn plan(&self, planner: &mut Planner<'_>);
}

/// The driver of `dialect`, or `None` when there is none yet (MySQL).
pub(in crate::schema) fn driver(dialect: Dialect) -> Option<&'static dyn Driver> {
    match dialect {
        Dialect::Postgres => Some(&postgres::PostgresDriver),
        Dialect::Sqlite => Some(&sqlite::SqliteDriver),
        Dialect::Mysql => None,
    }
}

/// The error of a driver handed another dialect's connection: a bug, reported rather than
/// read wrong.
pub(in crate::schema) fn wrong_connection(driver: Dialect, db: &Database) -> Error {
    Error::new(
        ErrorClass::Unreachable,
        ErrorCode::DatabaseError,
        format!(
            "the {driver:?} schema driver was given a {:?} connection",
            db.dialect()
        ),
    )
    .hint("this is a bug in cargo-migrate; please report it")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connectable_dialect_has_a_driver() {
        assert!(driver(Dialect::Postgres).is_some());
        assert!(driver(Dialect::Sqlite).is_some());
        assert!(driver(Dialect::Mysql).is_none());
    }
}
