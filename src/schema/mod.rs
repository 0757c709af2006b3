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

    /// [`Database::inspect`] for a scratch database that is read many times: on PostgreSQL
    /// the catalog queries stay prepared on the connection (planned once), and `reads` keeps
    /// the last read so that the next reads again only what changed (for reads without
    /// tables' dependencies, see [`without_table_dependencies`]). Never for a database a
    /// pooler may serve; `reads` belongs to this connection's database only.
    pub async fn inspect_scratch(
        &mut self,
        excluded: &[Excluded],
        reads: &mut ScratchReads,
    ) -> crate::error::Result<Schema> {
        match self {
            crate::db::Database::Postgres(pg) => {
                let nested = pg.in_probe();
                postgres::inspect_prepared(pg.connection(), excluded, &mut reads.postgres, nested)
                    .await
            }
            crate::db::Database::Sqlite(_) => self.inspect(excluded).await,
        }
    }
}

/// What the last scratch read of one database found, to read only what changed since
/// ([`Database::inspect_scratch`]). Start a new one for another database.
#[derive(Default)]
pub struct ScratchReads {
    postgres: postgres::ReadCache,
}

/// Runs `read` with its schema reads leaving out what tables' parts and routines use
/// (`Table::depends_on`, `Routine::depends_on`, which only plans need): for reads that are
/// only compared, as `check`'s walk does.
pub async fn without_table_dependencies<F: std::future::Future>(read: F) -> F::Output {
    postgres::without_table_dependencies(read).await
}

/// Whether scratch reads keep their catalog queries prepared ([`Database::inspect_scratch`]).
static PREPARED_READS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns prepared scratch reads off for this process: for a history whose scripts drop
/// their session's prepared statements (`DISCARD ALL`, `DEALLOCATE`), which would also drop
/// the history bookkeeping's own statements under the driver's feet.
pub fn disable_prepared_reads() {
    PREPARED_READS.store(false, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn prepared_reads() -> bool {
    PREPARED_READS.load(std::sync::atomic::Ordering::Relaxed)
}

/// A table inspection leaves out: the history table (own, sqlx's or diesel's), which is
/// bookkeeping, not schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    /// `public` (PostgreSQL) or `main` (SQLite) unless the table lives elsewhere.
    pub schema: String,
    pub table: String,
}
