//! Fault injection: `up` of the crates-io history (285 migrations) interrupted at random
//! moments, ten times by each of four faults: the server stopped with `pg_ctl stop -m
//! immediate` (SIGQUIT) and with `-m fast` (SIGINT, sessions end with 57P01) and then started
//! again on the same data directory, the migrating backend terminated
//! (`pg_terminate_backend` from another connection), and the tool itself killed (SIGKILL).
//!
//! After each: the exit code is 3 (retryable) when the server was the cause, never 1 or 2;
//! `status` is truthful (the schema is exactly that of the migrations it calls applied); a new
//! `up` completes; and the final schema equals a clean replay's. The moments come from a
//! seeded generator (`FAULT_SEED` replays a sequence).

use crate::support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Outcome, Pg, Workspace, command, corpora, postgres};

const ROUNDS_PER_FAULT: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    StopImmediate,
    StopFast,
    TerminateBackend,
    KillTool,
}

/// xorshift64*: small, deterministic, seedable.
struct Moments(u64);

impl Moments {
    fn next_below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound.max(1)
    }
}

struct Corpus<'a> {
    ws: &'a Workspace,
    dir: &'a Path,
}

impl Corpus<'_> {
    fn run(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["--dir", self.dir.to_str().unwrap(), "--dialect", "postgres"];
        all.extend_from_slice(args);
        let outcome = self.ws.run(&all);
        assert!(
            !outcome.stderr.contains("panicked"),
            "{args:?} panicked: {}",
            outcome.stderr
        );
        outcome
    }

    fn spawn_up(&self, url: &str) -> Child {
        command()
            .current_dir(self.ws.path())
            .args([
                "--dir",
                self.dir.to_str().unwrap(),
                "--dialect",
                "postgres",
                "--format",
                "json",
                "up",
                "--database-url",
                url,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn up")
    }

    /// The normalized schema of the database at `url` (history table left out).
    fn schema(&self, url: &str) -> String {
        self.run(&["schema", "--database-url", url])
            .assert_code(0)
            .stdout
    }
}

/// Versions of a `status --format json` report's entries in `state`.
fn in_state(status: &Value, state: &str) -> Vec<String> {
    status["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["state"] == state)
        .map(|m| m["version"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until no backend of cargo-migrate is connected to `database`: a killed client's
/// backend finishes the query it was sent before it notices, and what it commits counts.
fn wait_for_orphans(pg: &Pg, admin: &str, database: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let sql = format!(
        "SELECT count(*)::text FROM pg_stat_activity WHERE application_name = 'cargo-migrate' AND datname = '{database}'"
    );
    while pg.query(admin, &sql)[0][0].as_deref() != Some("0") {
        assert!(
            Instant::now() < deadline,
            "backends of the interrupted run did not end"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Terminates the backend running a migration in `database`, polling until one is active or
/// the run is over; whether one was terminated.
fn terminate_migrating_backend(pg: &Pg, admin: &str, database: &str, child: &mut Child) -> bool {
    let sql = format!(
        "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
         WHERE application_name = 'cargo-migrate' AND datname = '{database}' AND state = 'active' \
           AND pid <> pg_backend_pid()"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !pg.query(admin, &sql).is_empty() {
            return true;
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

#[test]
fn faults_during_up_forty_times() {
    let Some(mut pg) = postgres() else {
        return;
    };
    let Some(root) = corpora() else {
        return;
    };
    let dir = root.join("crates-io/migrations");
    let ws = Workspace::empty();
    let corpus = Corpus { ws: &ws, dir: &dir };
    let admin = pg.server.url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let begun = Instant::now();

    // A clean replay: its schema is the goal, its duration the window faults are drawn from.
    let clean = pg.database("clean");
    let started = Instant::now();
    corpus.run(&["up", "--database-url", &clean]).assert_code(0);
    let window = (started.elapsed().as_millis() as u64).max(50);
    let goal = corpus.schema(&clean);
    // The schema after each version, built on demand from a clean partial replay.
    let mut references: HashMap<Option<String>, String> = HashMap::new();
    let mut reference = |pg: &Pg, version: Option<&String>| -> String {
        references
            .entry(version.cloned())
            .or_insert_with(|| {
                let url = pg.database(&format!("ref_{}", references_name(version)));
                if let Some(version) = version {
                    corpus
                        .run(&["up", "--to", version, "--database-url", &url])
                        .assert_code(0);
                }
                corpus.schema(&url)
            })
            .clone()
    };

    let seed = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("fault moments: seed {seed} (FAULT_SEED), window {window} ms");
    let mut moments = Moments(seed);
    let faults = [
        Fault::StopImmediate,
        Fault::StopFast,
        Fault::TerminateBackend,
        Fault::KillTool,
    ];
    let mut mid_run: HashMap<&'static str, usize> = HashMap::new();
    for round in 0..ROUNDS_PER_FAULT * faults.len() {
        let fault = faults[round % faults.len()];
        let database = format!("fault_{round}");
        let url = pg.database(&database);
        let delay = moments.next_below(window);
        let mut child = corpus.spawn_up(&url);
        std::thread::sleep(Duration::from_millis(delay));
        let hit = match fault {
            Fault::StopImmediate | Fault::StopFast => {
                let running = matches!(child.try_wait(), Ok(None));
                pg.server
                    .halt(fault == Fault::StopFast)
                    .expect("stop the server");
                running
            }
            Fault::TerminateBackend => {
                terminate_migrating_backend(&pg, &admin, &database, &mut child)
            }
            Fault::KillTool => {
                let running = matches!(child.try_wait(), Ok(None));
                let _ = child.kill();
                running
            }
        };
        let output = child.wait_with_output().expect("wait for up");
        let outcome = support::outcome_of(ws.path(), output);
        if matches!(fault, Fault::StopImmediate | Fault::StopFast) {
            runtime
                .block_on(pg.server.restart())
                .expect("restart the server");
        }
        wait_for_orphans(&pg, &admin, &database);
        // Not the script's fault: retryable, whatever the moment (0: it finished first).
        match fault {
            Fault::KillTool => {}
            _ => {
                assert!(
                    outcome.code == 3 || outcome.code == 0,
                    "round {round} ({fault:?} after {delay} ms): exit {}\n{}",
                    outcome.code,
                    outcome.stdout
                );
                if outcome.code == 3 {
                    let error = outcome
                        .stdout
                        .lines()
                        .last()
                        .and_then(|line| serde_json::from_str::<Value>(line).ok())
                        .map(|line| line["error"].clone())
                        .unwrap_or_default();
                    assert_eq!(error["exit_code"], 3, "round {round}: {error}");
                    assert!(
                        !error["hint"]
                            .as_str()
                            .unwrap_or_default()
                            .contains("fix the script"),
                        "round {round}: {error}"
                    );
                }
            }
        }
        if hit && outcome.code != 0 {
            *mid_run.entry(fault_name(fault)).or_default() += 1;
        }

        // Truthful status.
        let status = corpus
            .run(&["status", "--database-url", &url, "--format", "json"])
            .assert_code(0)
            .json();
        assert!(
            in_state(&status, "modified").is_empty() && in_state(&status, "missing").is_empty(),
            "round {round}: {status}"
        );
        let applied = in_state(&status, "applied");
        let failed = in_state(&status, "failed");
        eprintln!(
            "round {round}: {fault:?} after {delay} ms: exit {}, {} applied, {} failed",
            outcome.code,
            applied.len(),
            failed.len()
        );
        if failed.is_empty() {
            assert_eq!(
                corpus.schema(&url),
                reference(&pg, applied.last()),
                "round {round}: the schema is not that of the {} applied migrations",
                applied.len()
            );
        } else {
            // A no-transaction migration cut short: shown as failed; the operator settles it.
            assert_eq!(failed.len(), 1, "round {round}: {status}");
            let version = &failed[0];
            let resolution = if corpus.schema(&url) == reference(&pg, Some(version)) {
                "--applied"
            } else {
                "--rolled-back"
            };
            corpus
                .run(&["resolve", version, resolution, "--database-url", &url])
                .assert_code(0);
        }
        // A new run completes, and the schema is the clean replay's.
        corpus.run(&["up", "--database-url", &url]).assert_code(0);
        corpus
            .run(&["status", "--database-url", &url, "--exit-code"])
            .assert_code(0);
        assert_eq!(
            corpus.schema(&url),
            goal,
            "round {round}: after a new up the schema differs from a clean replay"
        );
    }
    eprintln!(
        "{} rounds in {:?}; interrupted mid-run: {mid_run:?}",
        ROUNDS_PER_FAULT * faults.len(),
        begun.elapsed()
    );
    for fault in faults {
        assert!(
            mid_run.get(fault_name(fault)).copied().unwrap_or(0) >= 2,
            "{fault:?} should interrupt some runs mid-way: {mid_run:?}"
        );
    }
}

fn fault_name(fault: Fault) -> &'static str {
    match fault {
        Fault::StopImmediate => "stop -m immediate",
        Fault::StopFast => "stop -m fast",
        Fault::TerminateBackend => "pg_terminate_backend",
        Fault::KillTool => "SIGKILL",
    }
}

fn references_name(version: Option<&String>) -> String {
    version.map_or("none".to_string(), |v| v.replace('-', "_"))
}
