//! Inspecting a PostgreSQL database from its catalogs.

use sqlx::PgConnection;

use super::Excluded;
use super::model::Schema;
use crate::error::Result;

/// Reads the schema of the database `conn` is connected to, leaving out `excluded` tables.
pub(crate) async fn inspect(conn: &mut PgConnection, excluded: &[Excluded]) -> Result<Schema> {
    let _ = (conn, excluded);
    todo!("PostgreSQL inspection")
}
