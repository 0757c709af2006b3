//! The integration tests: one test binary with one module per area (as cargo and nextest
//! do), so the crate is linked once instead of once per file. Run one area with
//! `cargo test --test e2e <module>::`, e.g. `cargo test --test e2e check::`.

// Shared helpers; bench/up_crates_io.rs uses the same file.
#[path = "../support/mod.rs"]
mod support;

mod authoring;
mod authoring_corpora;
mod authoring_formats;
mod authoring_terminal;
mod check;
mod check_incremental;
mod cli;
mod corpora;
mod crash;
mod devdb;
mod devdb_interrupt;
mod docker_image;
mod docs;
mod engine_postgres;
mod engine_sqlite;
mod errors;
mod fault;
mod formats;
mod formats_flyway;
mod formats_flyway_repeatable;
mod formats_golang_migrate;
mod formats_nested;
mod formats_refinery;
mod loaders;
mod names;
mod poolers;
mod real_tools;
mod real_tools_refinery;
mod roles;
mod safety;
mod sandbox_docker;
mod sandbox_local;
mod sandbox_local_dev;
mod sandbox_local_user;
mod sandbox_signals;
mod schema_objects;
mod schema_plan;
mod schema_plan_classes;
mod schema_plan_dependencies;
mod schema_postgres;
mod schema_property;
mod schema_sqlite;
mod scripts;
mod secrets;
mod session_state;
mod shell;
mod target;
mod tls;
mod url_forms;
mod waits;
mod workspace;
