//! Crash safety: `up` of the crates-io history killed with SIGKILL at random moments, 20 times
//! in a row. After each kill, `status` is truthful (the schema is exactly what the migrations it
//! calls applied produce), a no-transaction migration cut short shows as failed with the
//! command that settles it, and a new `up` completes; at the end the schema equals a clean
//! replay.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Outcome, Pg, Workspace, command, corpora, postgres};

const ROUNDS: usize = 20;

/// A small deterministic generator (xorshift64*): the seed is printed, so a failing sequence
/// of kill moments can be replayed with `CRASH_SEED`.
struct Moments(u64);

impl Moments {
    fn next_below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound.max(1)
    }
}

fn tool(ws: &Workspace, corpus: &Path, args: &[&str]) -> Outcome {
    let mut all = vec![
        "--dir",
        corpus.to_str().unwrap(),
        "--dialect",
        "postgres",
        "--sandbox",
        "local",
    ];
    all.extend_from_slice(args);
    ws.run(&all)
}

/// Polls `count_sql` (a count, as text) on `admin` until it gives `expected`, for up to 30 s.
fn wait_for_count(pg: &Pg, admin: &str, count_sql: &str, expected: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while pg.query(admin, count_sql)[0][0].as_deref() != Some(expected) {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until no backend of cargo-migrate is connected: a killed client's backend finishes
/// the query it was sent before it notices, and what it commits counts.
fn wait_for_orphans(pg: &Pg, admin: &str) {
    wait_for_count(
        pg,
        admin,
        "SELECT count(*)::text FROM pg_stat_activity WHERE application_name = 'cargo-migrate'",
        "0",
        "backends of the killed run did not end",
    );
}

/// `version`s of the entries of a `status --format json` report in `state`.
fn in_state(status: &Value, state: &str) -> Vec<String> {
    status["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["state"] == state)
        .map(|m| m["version"].as_str().unwrap().to_string())
        .collect()
}

/// Whether the database's schema equals the history replayed up to `version` (`None`: no
/// migration applied).
fn schema_matches(ws: &Workspace, corpus: &Path, url: &str, version: Option<&str>) -> bool {
    let from = version.map_or("empty".to_string(), |v| format!("history@{v}"));
    let outcome = tool(ws, corpus, &["diff", "--from", &from, "--to", url, "-q"]);
    assert!(
        outcome.code == 0 || outcome.code == 1,
        "diff failed: {outcome:?}"
    );
    outcome.code == 0
}

#[test]
fn kill_nine_during_up_twenty_times() {
    let Some(pg) = postgres() else {
        return;
    };
    let Some(root) = corpora() else {
        return;
    };
    let corpus = root.join("crates-io/migrations");
    let ws = Workspace::empty();
    let admin = pg.server.url();
    // How long a whole `up` takes here: kill moments are drawn from that window.
    let calibration = pg.database("calibration");
    let begun = Instant::now();
    tool(&ws, &corpus, &["up", "--database-url", &calibration]).assert_code(0);
    let mut window = begun.elapsed().as_millis() as u64;
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("kill moments: seed {seed} (CRASH_SEED), window {window} ms");
    let mut moments = Moments(seed);
    let mut cut_short = 0;
    let mut settled = 0;
    for round in 0..ROUNDS {
        let url = pg.database(&format!("crash_{round}"));
        let delay = moments.next_below(window);
        let mut child = command()
            .current_dir(ws.path())
            .args([
                "--dir",
                corpus.to_str().unwrap(),
                "--dialect",
                "postgres",
                "up",
                "--database-url",
                &url,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn up");
        std::thread::sleep(Duration::from_millis(delay));
        // Child::kill is SIGKILL on Unix.
        let _ = child.kill();
        let _ = child.wait();
        wait_for_orphans(&pg, &admin);

        let status = tool(
            &ws,
            &corpus,
            &["status", "--database-url", &url, "--format", "json"],
        )
        .assert_code(0)
        .json();
        let applied = in_state(&status, "applied");
        let failed = in_state(&status, "failed");
        assert!(
            in_state(&status, "modified").is_empty() && in_state(&status, "missing").is_empty(),
            "round {round}: {status}"
        );
        if applied.len() < 285 {
            cut_short += 1;
        } else {
            // The run finished before the kill (this machine got faster than at calibration,
            // e.g. less loaded): aim earlier from now on.
            window = (delay * 3 / 4).max(10);
        }
        eprintln!(
            "round {round}: killed after {delay} ms: {} applied, {} failed",
            applied.len(),
            failed.len()
        );
        // Truthful: what status calls applied is exactly what the schema holds.
        if failed.is_empty() {
            assert!(
                schema_matches(&ws, &corpus, &url, applied.last().map(String::as_str)),
                "round {round}: the schema is not that of the {} applied migrations",
                applied.len()
            );
        } else {
            // A no-transaction migration cut short: shown as failed, with the way out.
            assert_eq!(failed.len(), 1, "round {round}: {status}");
            let version = &failed[0];
            let human = tool(&ws, &corpus, &["status", "--database-url", &url]);
            assert!(
                human
                    .stderr
                    .contains(&format!("cargo migrate resolve {version}")),
                "round {round}: {}",
                human.stderr
            );
            // The operator's check: did its statements take effect?
            let resolution = if schema_matches(&ws, &corpus, &url, Some(version)) {
                "--applied"
            } else {
                "--rolled-back"
            };
            tool(
                &ws,
                &corpus,
                &["resolve", version, resolution, "--database-url", &url],
            )
            .assert_code(0);
            settled += 1;
        }
        // A new run completes, and the result is the clean replay's schema.
        tool(&ws, &corpus, &["up", "--database-url", &url]).assert_code(0);
        tool(
            &ws,
            &corpus,
            &["status", "--database-url", &url, "--exit-code"],
        )
        .assert_code(0);
        assert!(
            schema_matches(&ws, &corpus, &url, Some("2026-07-30-140000-0000")),
            "round {round}: after a new up the schema differs from a clean replay"
        );
    }
    eprintln!(
        "{ROUNDS} kills, {cut_short} mid-run, {settled} no-transaction migrations settled, 0 failures"
    );
    assert!(
        cut_short >= ROUNDS / 4,
        "kills should land mid-run ({cut_short} of {ROUNDS})"
    );
}

/// A no-transaction migration killed between its statements: what ran stays, `status` shows
/// it failed with the command that settles it, `up` refuses until it is settled, and after
/// the operator's fix a new `up` completes.
#[test]
fn kill_nine_inside_a_no_transaction_migration() {
    let Some(pg) = postgres() else {
        return;
    };
    let ws = Workspace::empty();
    let set = ws.path().join("migrations");
    for (name, up) in [
        (
            "20240101000000_create_events",
            "CREATE TABLE events (x integer, y integer);\n",
        ),
        (
            "20240102000000_index_events",
            "-- migrate:no-transaction\n\
             CREATE INDEX CONCURRENTLY events_x ON events (x);\n\
             SELECT pg_sleep(2);\n\
             CREATE INDEX CONCURRENTLY events_y ON events (y);\n",
        ),
    ] {
        std::fs::create_dir_all(set.join(name)).unwrap();
        std::fs::write(set.join(name).join("up.sql"), up).unwrap();
        std::fs::write(set.join(name).join("down.sql"), "SELECT 1;\n").unwrap();
    }
    let url = pg.database("no_transaction");
    let admin = pg.server.url();
    let dir = set.to_str().unwrap();
    let mut child = command()
        .current_dir(ws.path())
        .args([
            "--dir",
            dir,
            "--dialect",
            "postgres",
            "up",
            "--database-url",
            &url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn up");
    // Kill it while the second statement runs.
    wait_for_count(
        &pg,
        &admin,
        "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(2)%'",
        "1",
        "the migration never reached pg_sleep",
    );
    let _ = child.kill();
    let _ = child.wait();
    wait_for_orphans(&pg, &admin);
    let args = |extra: &[&str]| -> Vec<String> {
        ["--dir", dir, "--dialect", "postgres"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let run = |extra: &[&str]| {
        let all = args(extra);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        ws.run(&all)
    };
    let status = run(&["status", "--database-url", &url, "--color", "never"]).assert_code(0);
    assert!(
        status
            .stderr
            .contains("cargo migrate resolve 20240102000000 --applied"),
        "{}",
        status.stderr
    );
    let json = run(&["status", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(in_state(&json, "failed"), ["20240102000000"]);
    // What ran before the kill stays: the first index, not the second.
    let indexes = pg.query(
        &url,
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'events' ORDER BY 1",
    );
    assert_eq!(indexes, [[Some("events_x".to_string())]]);
    // `up` refuses to run over it.
    let refused = run(&["up", "--database-url", &url]);
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(refused.stderr.contains("resolve"), "{}", refused.stderr);
    // The operator undoes the part that ran, settles the row, and runs up again.
    pg.execute(&url, "DROP INDEX events_x");
    run(&[
        "resolve",
        "20240102000000",
        "--rolled-back",
        "--database-url",
        &url,
    ])
    .assert_code(0);
    run(&["up", "--database-url", &url]).assert_code(0);
    run(&["status", "--database-url", &url, "--exit-code"]).assert_code(0);
}
