//! `cargo bench --bench up_crates_io`: how long `cargo migrate up` takes to apply the crates-io
//! history (285 migrations) to a fresh PostgreSQL database, against baselines measured in the
//! same run on the same throw-away cluster:
//!
//! - psql per file: one `psql -X -q -v ON_ERROR_STOP=1 -1 -f FILE` process per migration (what a
//!   shell script does; no `-1` for the no-transaction ones);
//! - psql session: all files in one `psql -f F1 -f F2 …` session;
//! - floor: one psql process sending each file as one query (`psql -c F1 -c F2 …`): one round
//!   trip per migration and no bookkeeping at all;
//! - sqlx-cli and diesel_cli when they are on PATH (sqlx gets a copy in its flat layout);
//! - cargo-migrate through PgBouncer in transaction pooling (`pgbouncer=true`), when PgBouncer
//!   is installed: started in front of the same cluster, over TCP on 127.0.0.1.
//!
//! Each tool runs `RUNS` times on a fresh database; the table shows medians and the ratio to the
//! floor. Needs ../shared/corpora and PostgreSQL's server binaries; prints why it skips otherwise.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use cargo_migrate::migration::{ScanOptions, scan};

// The tests' helpers: a throw-away cluster and PgBouncer in front of it.
#[path = "../tests/support/mod.rs"]
mod support;

#[path = "support.rs"]
mod common;

const RUNS: usize = 5;

/// A tool under test: its label, and how to build its command for (database name, URL).
type Tool<'a> = (&'a str, Box<dyn Fn(&str, &str) -> Command + 'a>);

fn main() {
    let Some(corpus) = common::crates_io_corpus() else {
        return;
    };
    let Some(bin_dir) = common::postgres_binaries() else {
        return;
    };
    let psql = ["psql", "/usr/bin/psql"]
        .iter()
        .map(PathBuf::from)
        .chain(std::iter::once(bin_dir.join("psql")))
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .expect("psql (postgresql-client) is needed for the baselines");
    let runtime = common::runtime();
    let pg = support::postgres().expect("start PostgreSQL");
    let server = &pg.server;
    let bouncer = support::find_pgbouncer()
        .is_some()
        .then(|| pg.bouncer(support::PoolMode::Transaction))
        .flatten();
    let migrations = scan(&corpus, &ScanOptions::default()).expect("read the corpus");
    let ups: Vec<(PathBuf, bool)> = migrations
        .migrations
        .iter()
        .map(|m| (m.up.path.clone(), m.no_transaction))
        .collect();
    let socket = server.socket_dir().to_path_buf();
    let psql_base = |database: &str| {
        let mut command = Command::new(&psql);
        command
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .arg("-h")
            .arg(&socket);
        command
    };

    let sqlx_dir = tempfile::tempdir().expect("temp dir");
    let mut tools: Vec<Tool> = vec![
        (
            "cargo-migrate up",
            Box::new(|_db: &str, url: &str| {
                let mut command = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"));
                command.args(["up", "-q", "--dialect", "postgres", "--database-url", url]);
                command.arg("--dir").arg(&corpus);
                command
            }),
        ),
        (
            "floor: psql -c per file, one process",
            Box::new(|db: &str, _url: &str| {
                let mut command = psql_base(db);
                for (path, _) in &ups {
                    command
                        .arg("-c")
                        .arg(std::fs::read_to_string(path).expect("read"));
                }
                command
            }),
        ),
        (
            "psql -f per file, one session",
            Box::new(|db: &str, _url: &str| {
                let mut command = psql_base(db);
                for (path, _) in &ups {
                    command.arg("-f").arg(path);
                }
                command
            }),
        ),
    ];
    if let Some(bouncer) = &bouncer {
        tools.push((
            "cargo-migrate up, PgBouncer transaction pooling",
            Box::new(|db: &str, _url: &str| {
                let url = format!("{}?pgbouncer=true", bouncer.url(db));
                let mut command = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"));
                command.args(["up", "-q", "--dialect", "postgres", "--database-url", &url]);
                command.arg("--dir").arg(&corpus);
                command
            }),
        ));
    }
    if on_path("sqlx") {
        // sqlx wants `<version>_<name>.sql` in one directory, versions as integers.
        for (index, (path, no_transaction)) in ups.iter().enumerate() {
            let mut sql = std::fs::read_to_string(path).expect("read");
            if *no_transaction {
                sql = format!("-- no-transaction\n{sql}");
            }
            std::fs::write(sqlx_dir.path().join(format!("{}_m.sql", index + 1)), sql)
                .expect("write");
        }
        let source = sqlx_dir.path().to_path_buf();
        tools.push((
            "sqlx migrate run",
            Box::new(move |_db: &str, url: &str| {
                let mut command = Command::new("sqlx");
                command
                    .args(["migrate", "run", "--database-url", url, "--source"])
                    .arg(&source);
                command
            }),
        ));
    }
    if on_path("diesel") {
        let dir = corpus.clone();
        tools.push((
            "diesel migration run",
            Box::new(move |_db: &str, url: &str| {
                let mut command = Command::new("diesel");
                command
                    .args(["migration", "run", "--database-url", url, "--migration-dir"])
                    .arg(&dir);
                command
            }),
        ));
    }

    // The per-file psql baseline is slow (~12 s a run): measured once per run like the others.
    let per_file = |db: &str| -> Duration {
        let started = Instant::now();
        for (path, no_transaction) in &ups {
            let mut command = psql_base(db);
            if !no_transaction {
                command.arg("-1");
            }
            let status = command.arg("-f").arg(path).output().expect("run psql");
            assert!(
                status.status.success(),
                "psql -f {}: {}",
                path.display(),
                String::from_utf8_lossy(&status.stderr)
            );
        }
        started.elapsed()
    };

    let mut results: Vec<(String, Vec<Duration>)> = Vec::new();
    let mut counter = 0;
    let mut fresh = |runtime: &tokio::runtime::Runtime| {
        counter += 1;
        let name = format!("bench_{counter}");
        let url = runtime
            .block_on(server.create_database(&name))
            .expect("create database");
        (name, url)
    };
    for (label, make) in &tools {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let (db, url) = fresh(&runtime);
            let started = Instant::now();
            let output = make(&db, &url).output().expect("run tool");
            let elapsed = started.elapsed();
            assert!(
                output.status.success(),
                "{label} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            times.push(elapsed);
        }
        results.push((label.to_string(), times));
    }
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let (db, _url) = fresh(&runtime);
        times.push(per_file(&db));
    }
    results.push(("psql -1 -f, one process per file".into(), times));

    let median = common::median::<Duration>;
    let floor = results
        .iter()
        .find(|(label, _)| label.starts_with("floor"))
        .map(|(_, t)| median(t))
        .expect("floor measured");
    println!(
        "\nup of crates-io ({} migrations), fresh database per run, median of {RUNS}:\n",
        ups.len()
    );
    println!("| tool | median | ratio to floor |");
    println!("|---|---:|---:|");
    for (label, times) in &results {
        let m = median(times);
        println!(
            "| {label} | {:.0} ms | {:.2}× |",
            m.as_secs_f64() * 1000.0,
            m.as_secs_f64() / floor.as_secs_f64()
        );
    }
}

fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
