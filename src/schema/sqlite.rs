//! Inspecting a SQLite database from `sqlite_master` and its pragmas.

use sqlx::SqliteConnection;

use super::Excluded;
use super::model::Schema;
use crate::error::Result;

/// Reads the schema of the database `conn` is connected to, leaving out `excluded` tables.
pub(crate) async fn inspect(conn: &mut SqliteConnection, excluded: &[Excluded]) -> Result<Schema> {
    let _ = (conn, excluded);
    todo!("SQLite inspection")
}
