//! `cargo bench --bench safety_crates_io`: what deploy safety costs on the crates-io history
//! (285 migrations) on a local scratch PostgreSQL, against plain `check` measured in the same
//! run: `check` without the safety step (the replay), `check` with it (default: the newest
//! migration), `lint --all --no-trace` (squawk alone) and `lint --all` (every migration traced
//! on a replay of its own).
//!
//! Target (issue 15): tracing adds at most 1x to the check of the same migrations, i.e.
//! `lint --all` within 2x of `check --reversibility none --no-safety`. Needs ../shared/corpora
//! and PostgreSQL's server binaries; prints why it skips otherwise.

use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support.rs"]
mod common;

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
    common::make_traversable(cache.path());
    let corpus = corpus.to_str().expect("UTF-8 path");
    let time = |args: &[&str]| -> Duration {
        let times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let begun = Instant::now();
                let output = Command::new(binary)
                    .args([
                        "--dir",
                        corpus,
                        "--dialect",
                        "postgres",
                        "--sandbox",
                        "local",
                        "-q",
                    ])
                    .args(args)
                    .env("XDG_CACHE_HOME", cache.path())
                    .env_remove("DATABASE_URL")
                    .output()
                    .expect("run cargo-migrate");
                // lint exits 1 on error-level findings: a result, not a failure of the run.
                assert!(
                    matches!(output.status.code(), Some(0 | 1)),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                begun.elapsed()
            })
            .collect();
        common::median(&times)
    };
    // Warm the template cache so no run pays for initdb.
    let _ = time(&["check", "--reversibility", "none", "--no-safety"]);
    let rows: [(&str, &[&str]); 4] = [
        (
            "check --reversibility none --no-safety (baseline)",
            &["check", "--reversibility", "none", "--no-safety"],
        ),
        (
            "check --reversibility none (safety: newest)",
            &["check", "--reversibility", "none"],
        ),
        (
            "lint --all --no-trace (static only)",
            &["lint", "--all", "--no-trace"],
        ),
        ("lint --all (285 migrations traced)", &["lint", "--all"]),
    ];
    let times: Vec<Duration> = rows.iter().map(|(_, args)| time(args)).collect();
    let base = times[0].as_secs_f64();
    println!("crates-io: 285 migrations, median of {RUNS} runs");
    println!("{:<52} {:>10} {:>9}", "", "time", "vs base");
    for ((label, _), took) in rows.iter().zip(&times) {
        println!(
            "{label:<52} {:>10} {:>8.2}x",
            format!("{:.2} s", took.as_secs_f64()),
            took.as_secs_f64() / base
        );
    }
    // check traces its safety step's migrations on its own replay: the step's cost is the
    // traced statements, not a second replay.
    let step = times[1].as_secs_f64() / base;
    println!(
        "check: the safety step adds {:.2}x to check without it (target: at most 1x, i.e. <= 2.00x total)",
        step - 1.0
    );
    let traced = times[3].as_secs_f64() / base;
    println!(
        "lint --all: tracing every migration adds {:.2}x to their replay",
        traced - 1.0
    );
    println!(
        "target: tracing every migration adds at most 1x to the check of them: {} ({:.2}x)",
        if traced <= 2.0 { "met" } else { "NOT met" },
        traced
    );
}
