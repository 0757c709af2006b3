//! `cargo bench --bench check_crates_io`: the whole `cargo migrate check` on the crates-io
//! history (285 migrations, every down script verified) on a local scratch PostgreSQL, and where
//! its time goes, against a baseline measured in the same run: `up` of the same 285 migrations
//! on a fresh database (the cost of one plain replay).
//!
//! Target: the whole check at most 2 s (on the machine where it took 5.0 s with a rebuild
//! after each irreversible down). `CARGO_MIGRATE_BASELINE=/path/to/cargo-migrate` also times
//! that build's check in the same run (e.g. a release build of an older commit), for a
//! before/after ratio to the same `up`. A second history, crates-io with 55 generated
//! migrations after it (340 in all), shows the time per migration stays the same. Needs
//! ../shared/corpora and PostgreSQL's server binaries; prints why it skips otherwise.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support.rs"]
mod common;

use common::{copy_dir, make_traversable, median};

const RUNS: usize = 3;

fn main() {
    let Some(corpus) = common::crates_io_corpus() else {
        return;
    };
    if common::postgres_binaries().is_none() {
        return;
    }
    let binary = env!("CARGO_BIN_EXE_cargo-migrate");
    let cache = tempfile::tempdir().expect("cache dir");
    // The scratch cluster runs as an unprivileged user when this is root: let it in.
    make_traversable(cache.path());
    let corpus = corpus.to_str().expect("UTF-8 path");
    let command = |args: &[&str]| {
        let mut command = Command::new(binary);
        command
            .args([
                "--dir",
                corpus,
                "--dialect",
                "postgres",
                "--sandbox",
                "local",
            ])
            .args(args)
            .env("XDG_CACHE_HOME", cache.path())
            .env_remove("DATABASE_URL");
        command
    };
    // Warm the template cache so no run pays for initdb.
    let _ = command(&["check", "--reversibility", "none", "-q"]).output();

    let runtime = common::runtime();
    let server = common::local_cluster(&runtime);
    let mut up_times = Vec::new();
    for run in 0..RUNS {
        let url = runtime
            .block_on(server.create_database(&format!("up_{run}")))
            .expect("create database");
        let begun = Instant::now();
        let output = command(&["up", "--database-url", &url, "-q"])
            .output()
            .expect("run up");
        assert!(output.status.success(), "up failed: {output:?}");
        up_times.push(begun.elapsed());
    }

    let baseline = std::env::var_os("CARGO_MIGRATE_BASELINE").map(std::path::PathBuf::from);
    let time_check = |binary: &Path, dir: &str| {
        let mut times = Vec::new();
        let mut last_report = serde_json::Value::Null;
        for _ in 0..RUNS {
            let begun = Instant::now();
            let output = Command::new(binary)
                .args(["--dir", dir, "--dialect", "postgres", "--sandbox", "local"])
                .args(["check", "--format", "json"])
                .env("XDG_CACHE_HOME", cache.path())
                .env_remove("DATABASE_URL")
                .output()
                .expect("run check");
            times.push(begun.elapsed());
            last_report = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
                panic!(
                    "check printed no JSON ({err}): {}",
                    String::from_utf8_lossy(&output.stderr)
                )
            });
        }
        (median(&times), last_report)
    };
    let (check, last_report) = time_check(Path::new(binary), corpus);
    let before = baseline
        .as_deref()
        .map(|baseline| time_check(baseline, corpus).0);
    let longer = tempfile::tempdir().expect("temp dir");
    make_traversable(longer.path());
    let longer_dir = longer.path().join("migrations");
    extend_history(Path::new(corpus), &longer_dir, 55);
    let (check_longer, _) = time_check(Path::new(binary), longer_dir.to_str().expect("UTF-8"));

    let up = median(&up_times);
    println!("crates-io: 285 migrations, median of {RUNS} runs");
    println!("{:<48} {:>10} {:>8}", "", "time", "vs up");
    let row = |what: &str, took: Duration| {
        println!(
            "{:<48} {:>10} {:>7.1}x",
            what,
            format!("{:.2} s", took.as_secs_f64()),
            took.as_secs_f64() / up.as_secs_f64()
        );
    };
    row("cargo migrate up (fresh database; baseline)", up);
    if let Some(before) = before {
        row("cargo migrate check, CARGO_MIGRATE_BASELINE", before);
    }
    row("cargo migrate check (reversibility all)", check);
    println!(
        "{:<48} {:>10} {:>7.1}x  ({:.1} ms per migration; 285: {:.1} ms)",
        "check of 340 migrations (crates-io + 55)",
        format!("{:.2} s", check_longer.as_secs_f64()),
        check_longer.as_secs_f64() / up.as_secs_f64(),
        check_longer.as_secs_f64() * 1000.0 / 340.0,
        check.as_secs_f64() * 1000.0 / 285.0,
    );
    println!();
    println!("where the last check's time went:");
    for step in ["integrity", "replay", "reversibility", "drift"] {
        println!(
            "  {step:<14} {:>8} ms  {}",
            last_report[step]["duration_ms"],
            last_report[step]["summary"].as_str().unwrap_or_default()
        );
    }
    let timings = &last_report["timings"];
    println!(
        "  scripts {} ms, schema reads {} ms ({} reads, {:.1} ms each), rebuilds {} ms ({})",
        timings["scripts_ms"],
        timings["inspect_ms"],
        timings["inspections"],
        timings["inspect_ms"].as_f64().unwrap_or(0.0)
            / timings["inspections"].as_f64().unwrap_or(1.0).max(1.0),
        timings["rebuild_ms"],
        timings["rebuilds"],
    );
    let irreversible: Vec<&str> = last_report["reversibility"]["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .filter_map(|f| f["migration"].as_str())
                .collect()
        })
        .unwrap_or_default();
    println!("  irreversible: {} {irreversible:?}", irreversible.len());
    println!(
        "target: at most 2 s: {}",
        if check <= Duration::from_secs(2) {
            "met"
        } else {
            "NOT met"
        }
    );
}

/// Copies the history `from` into `to` and adds `extra` generated migrations after it (a
/// table with an index each, and the down that drops it).
fn extend_history(from: &Path, to: &Path, extra: usize) {
    copy_dir(from, to);
    for n in 0..extra {
        let dir = to.join(format!("2026-08-01-1{n:05}-0000_generated_{n}"));
        std::fs::create_dir_all(&dir).expect("create migration dir");
        std::fs::write(
            dir.join("up.sql"),
            format!(
                "CREATE TABLE generated_{n} (id bigserial PRIMARY KEY, name text NOT NULL, \
                 created_at timestamptz NOT NULL DEFAULT now());\n\
                 CREATE INDEX generated_{n}_name ON generated_{n} (name);\n"
            ),
        )
        .expect("write up.sql");
        std::fs::write(dir.join("down.sql"), format!("DROP TABLE generated_{n};\n"))
            .expect("write down.sql");
    }
}
