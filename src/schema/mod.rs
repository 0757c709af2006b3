//! Schemas: inspect a live database into a dialect-neutral [`model`], render it as
//! deterministic DDL-like text ([`render`]), and compare two of them ([`diff`]).
//!
//! Inspection is one module per dialect ([`postgres`], [`sqlite`]), each a driver behind the
//! `driver::Driver` trait; each reads the catalogs with a fixed number of queries, whatever
//! the number of tables. The normalisation rules are
//! written down in `docs/drift.md`.

pub mod diff;
mod driver;
pub mod model;
pub mod normalize;
pub mod plan;
pub(crate) mod postgres;
pub mod render;
pub(crate) mod sqlite;

pub use diff::{Change, ChangeKind, Delta, SchemaChanges, TableDelta, changes, diff};
pub use model::Schema;
pub use plan::{Plan, plan};
pub use render::render;

/// Inspection is the schema drivers' (each reads its own catalogs): it is here, not in
/// `db`, so that `db` (connections, history, runs) does not depend on `schema`, which
/// depends on it.
impl crate::db::Database {
    /// Reads the database's schema, leaving out `excluded` tables (the history table).
    pub async fn inspect(&mut self, excluded: &[Excluded]) -> crate::error::Result<Schema> {
        match driver::driver(self.dialect()) {
            Some(driver) => driver.inspect(self, excluded).await,
            None => Err(driver::wrong_connection(self.dialect(), self)),
        }
    }
}

/// A table inspection leaves out: the history table (own, sqlx's or diesel's), which is
/// bookkeeping, not schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    /// `public` (PostgreSQL) or `main` (SQLite) unless the table lives elsewhere.
    pub schema: String,
    pub table: String,
}
