//! cargo-migrate: SQL schema migrations for Rust workspaces.
//!
//! The binary is a thin command line ([`cli`]) over this library: [`workspace`] finds the
//! migration sets, [`migration`] reads, checks and scaffolds them, [`report`] renders results.

pub mod cli;
pub mod config;
pub mod db;
pub mod dialect;
pub mod engine;
pub mod error;
pub mod migration;
pub mod report;
pub mod safety;
pub mod sandbox;
pub mod schema;
pub mod secrets;
pub mod workspace;
