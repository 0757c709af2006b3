//! Disposable databases.
//!
//! [`local`] runs a throw-away PostgreSQL cluster from the machine's own server binaries.

pub mod local;
