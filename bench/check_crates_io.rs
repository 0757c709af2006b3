//! `cargo bench --bench check_crates_io`: the whole `cargo migrate check` on the crates-io
//! history (285 migrations, every down script verified) on a local scratch PostgreSQL, and where
//! its time goes, against a baseline measured in the same run: `up` of the same 285 migrations
//! on a fresh database (the cost of one plain replay).
//!
//! Target: the whole check under 60 s on a 2-core machine. Needs ../shared/corpora and
//! PostgreSQL's server binaries; prints why it skips otherwise.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cargo_migrate::sandbox::local::{LocalOptions, LocalPostgres, find_binaries};

const RUNS: usize = 3;

fn main() {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/crates-io/migrations");
    if !corpus.is_dir() {
        println!(
            "skipped: {} not found (the shared corpora are on the project's machines)",
            corpus.display()
        );
        return;
    }
    if find_binaries(None).is_none() {
        println!("skipped: PostgreSQL server binaries not found");
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

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime
        .block_on(LocalPostgres::start(LocalOptions::default()))
        .expect("start PostgreSQL");
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

    let mut check_times = Vec::new();
    let mut last_report = serde_json::Value::Null;
    for _ in 0..RUNS {
        let begun = Instant::now();
        let output = command(&["check", "--format", "json"])
            .output()
            .expect("run check");
        check_times.push(begun.elapsed());
        last_report = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
            panic!(
                "check printed no JSON ({err}): {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    }
    let up = median(&mut up_times);
    let check = median(&mut check_times);
    println!("crates-io: 285 migrations, median of {RUNS} runs");
    println!("{:<44} {:>10} {:>8}", "", "time", "vs up");
    println!(
        "{:<44} {:>10} {:>7.1}x",
        "cargo migrate up (fresh database; baseline)",
        format!("{:.2} s", up.as_secs_f64()),
        1.0
    );
    println!(
        "{:<44} {:>10} {:>7.1}x",
        "cargo migrate check (reversibility all)",
        format!("{:.2} s", check.as_secs_f64()),
        check.as_secs_f64() / up.as_secs_f64()
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
    println!("  irreversible: {irreversible:?}");
    println!(
        "target: under 60 s: {}",
        if check < Duration::from_secs(60) {
            "met"
        } else {
            "NOT met"
        }
    );
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn make_traversable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
}
