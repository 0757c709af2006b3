//! Disposable databases.
//!
//! [`docker`] runs a PostgreSQL container (testcontainers); [`local`] runs a throw-away
//! PostgreSQL cluster from the machine's own server binaries.

pub mod docker;
pub mod local;
