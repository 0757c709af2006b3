//! `cargo bench --bench inspect`: how long schema inspection takes on PostgreSQL, against
//! `pg_dump --schema-only` (the usual way to read a schema) on the same database in the same
//! run, on a throw-away cluster:
//!
//! - crates-io: the final schema of the crates.io history (applied with `cargo migrate up`);
//! - generated: 5,000 tables, each with five columns, a primary key, an index and up to two
//!   foreign keys.
//!
//! Both sides are timed from nothing to the whole schema: inspection opens its connection,
//! pg_dump is a process that connects and writes the dump to /dev/null. After one warm-up
//! run each, `RUNS` runs; the table shows medians and the ratio to pg_dump. Needs PostgreSQL's
//! server binaries (and ../shared/corpora for crates-io); prints why it skips otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cargo_migrate::db::{ConnectOptions, Database, DatabaseUrl};
use cargo_migrate::dialect::Dialect;
use cargo_migrate::schema::{Excluded, Schema};
use sqlx::Connection;

#[path = "support.rs"]
mod common;

use common::median;

const RUNS: usize = 7;
const GENERATED_TABLES: usize = 5_000;
/// Tables created per transaction: one transaction for all would run out of lock slots.
const TABLES_PER_BATCH: usize = 250;

fn main() {
    let Some(bin_dir) = common::postgres_binaries() else {
        return;
    };
    let pg_dump = bin_dir.join("pg_dump");
    let runtime = common::runtime();
    let server = common::local_cluster(&runtime);

    let mut databases: Vec<(String, String, String)> = Vec::new();
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/crates-io/migrations");
    if corpus.is_dir() {
        let url = runtime
            .block_on(server.create_database("crates_io"))
            .expect("create database");
        let output = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
            .args(["up", "-q", "--dialect", "postgres", "--database-url", &url])
            .arg("--dir")
            .arg(&corpus)
            .output()
            .expect("run cargo-migrate up");
        assert!(
            output.status.success(),
            "up failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        databases.push(("crates-io".into(), "crates_io".into(), url));
    } else {
        println!(
            "note: {} not found (the shared corpora are on the project's machines): crates-io left out",
            corpus.display()
        );
    }
    let url = runtime
        .block_on(server.create_database("generated"))
        .expect("create database");
    runtime.block_on(create_generated(&url));
    databases.push((
        format!("generated, {GENERATED_TABLES} tables"),
        "generated".into(),
        url,
    ));

    println!(
        "\nschema inspection vs pg_dump --schema-only, median of {RUNS} (after a warm-up run):\n"
    );
    println!("| schema | objects | cargo-migrate inspect | pg_dump --schema-only | ratio |");
    println!("|---|---|---:|---:|---:|");
    for (label, database, url) in &databases {
        let (schema, _) = inspect(&runtime, url);
        dump(&pg_dump, server.socket_dir(), database);
        let inspect_times: Vec<Duration> = (0..RUNS).map(|_| inspect(&runtime, url).1).collect();
        let dump_times: Vec<Duration> = (0..RUNS)
            .map(|_| dump(&pg_dump, server.socket_dir(), database))
            .collect();
        let ours = median(&inspect_times);
        let theirs = median(&dump_times);
        println!(
            "| {label} | {} | {:.0} ms | {:.0} ms | {:.2}× |",
            describe(&schema),
            ours.as_secs_f64() * 1000.0,
            theirs.as_secs_f64() * 1000.0,
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
}

/// Connects and inspects, as `cargo migrate` does: the schema and how long it took.
fn inspect(runtime: &tokio::runtime::Runtime, url: &str) -> (Schema, Duration) {
    let options = ConnectOptions {
        wait: Duration::ZERO,
        connect_timeout: Duration::from_secs(10),
        lock_timeout: Duration::from_secs(5),
        create_if_missing: false,
    };
    let excluded = [Excluded {
        schema: "public".into(),
        table: "_cargo_migrate".into(),
    }];
    runtime.block_on(async {
        let started = Instant::now();
        let mut db = Database::connect(
            &DatabaseUrl::sandbox(url, Dialect::Postgres),
            &options,
            |_| {},
        )
        .await
        .expect("connect");
        let schema = db.inspect(&excluded).await.expect("inspect");
        (schema, started.elapsed())
    })
}

/// One `pg_dump --schema-only` of `database` to /dev/null: how long it took.
fn dump(pg_dump: &PathBuf, socket: &Path, database: &str) -> Duration {
    let started = Instant::now();
    let output = Command::new(pg_dump)
        .args([
            "--schema-only",
            "-U",
            "postgres",
            "-d",
            database,
            "-f",
            "/dev/null",
        ])
        .arg("-h")
        .arg(socket)
        .output()
        .expect("run pg_dump");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

/// Table `index` of the generated schema: a primary key, five columns, an index, and foreign
/// keys to the previous table and to the one at half its number.
fn generated_table(index: usize) -> String {
    let mut sql = format!(
        "CREATE TABLE t{index} (\n    id bigint PRIMARY KEY,\n    name text NOT NULL,\n    \
         amount numeric(12, 2) NOT NULL DEFAULT 0,\n    \
         created_at timestamptz NOT NULL DEFAULT now(),\n    parent_id bigint"
    );
    if index > 0 {
        sql.push_str(&format!(" REFERENCES t{}(id)", index - 1));
    }
    sql.push_str(",\n    owner_id bigint");
    if index > 1 {
        sql.push_str(&format!(" REFERENCES t{}(id) ON DELETE CASCADE", index / 2));
    }
    sql.push_str(&format!(
        "\n);\nCREATE INDEX t{index}_name ON t{index} (name, created_at DESC);\n"
    ));
    sql
}

async fn create_generated(url: &str) {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    for batch in (0..GENERATED_TABLES)
        .collect::<Vec<_>>()
        .chunks(TABLES_PER_BATCH)
    {
        let sql: String = batch.iter().map(|&index| generated_table(index)).collect();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("BEGIN;\n{sql}COMMIT;")))
            .execute(&mut conn)
            .await
            .expect("create the generated tables");
    }
}

/// What the schema holds, in a few words.
fn describe(schema: &Schema) -> String {
    let indexes: usize = schema.tables.values().map(|t| t.indexes.len()).sum();
    let constraints: usize = schema.tables.values().map(|t| t.constraints.len()).sum();
    let columns: usize = schema.tables.values().map(|t| t.columns.len()).sum();
    format!(
        "{} tables, {columns} columns, {constraints} constraints, {indexes} indexes, {} routines",
        schema.tables.len(),
        schema.routines.len()
    )
}
