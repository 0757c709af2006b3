//! Schemas: inspect a live database into a dialect-neutral [`model`], render it as
//! deterministic DDL-like text ([`render`]), and compare two of them ([`diff`]).
//!
//! Inspection is one module per dialect ([`postgres`], [`sqlite`]); each reads the catalogs
//! with a fixed number of queries, whatever the number of tables. The normalisation rules are
//! written down in `docs/drift.md`.

pub mod diff;
pub mod model;
pub mod normalize;
pub mod plan;
pub(crate) mod postgres;
pub mod render;
pub(crate) mod sqlite;

pub use diff::{Change, ChangeKind, diff};
pub use model::Schema;
pub use plan::{Plan, plan};
pub use render::render;

/// A table inspection leaves out: the history table (own, sqlx's or diesel's), which is
/// bookkeeping, not schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    /// `public` (PostgreSQL) or `main` (SQLite) unless the table lives elsewhere.
    pub schema: String,
    pub table: String,
}
