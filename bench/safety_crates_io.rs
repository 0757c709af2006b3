//! `cargo bench --bench safety_crates_io`: what deploy safety costs on the crates-io history
//! (285 migrations) on a local scratch PostgreSQL, against plain `check` measured in the same
//! run: `check --reversibility none --no-safety` (the replay alone), `check --reversibility
//! none --safety all` (the replay with every migration traced on it), `lint --all` (every
//! migration traced on a replay of its own), default `check --no-safety` (every down verified)
//! and `check --safety all` (the same, every migration traced).
//!
//! Target (issue 15): tracing adds at most 1x to the check of the same migrations: `check
//! --safety all` within 2x of `check --no-safety`. Also printed: what tracing adds to the
//! replay alone. Needs ../shared/corpora and PostgreSQL's server binaries; prints why it skips
//! otherwise.

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
    let rows: [(&str, &[&str]); 5] = [
        (
            "check --reversibility none --no-safety (replay)",
            &["check", "--reversibility", "none", "--no-safety"],
        ),
        (
            "check --reversibility none --safety all",
            &["check", "--reversibility", "none", "--safety", "all"],
        ),
        ("lint --all (285 migrations traced)", &["lint", "--all"]),
        (
            "check --no-safety (every down verified)",
            &["check", "--no-safety"],
        ),
        (
            "check --safety all (and 285 traced)",
            &["check", "--safety", "all"],
        ),
    ];
    let times: Vec<f64> = rows
        .iter()
        .map(|(_, args)| time(args).as_secs_f64())
        .collect();
    let base = times[0];
    println!("crates-io: 285 migrations, median of {RUNS} runs");
    println!("{:<52} {:>10} {:>9}", "", "time", "vs base");
    for ((label, _), took) in rows.iter().zip(&times) {
        println!(
            "{label:<52} {:>10} {:>8.2}x",
            format!("{took:.2} s"),
            took / base
        );
    }
    // What tracing every migration adds: to the replay alone (check without reversibility,
    // and lint on a replay of its own), and to the default check of the same migrations.
    let on_replay = (times[1] - base) / base;
    let lint = (times[2] - base) / base;
    let on_check = (times[4] - times[3]) / times[3];
    println!(
        "tracing all 285 adds {on_replay:.2}x to the replay alone ({lint:.2}x for lint --all)"
    );
    println!("tracing all 285 adds {on_check:.2}x to the default check of them");
    println!(
        "target: tracing adds at most 1x to the check of the same migrations: {} ({on_check:.2}x)",
        if on_check <= 1.0 { "met" } else { "NOT met" },
    );
}
