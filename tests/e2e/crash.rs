//! Crash safety: `up` of the crates-io history killed with SIGKILL at random moments, 20 times
//! in a row; `down`, `redo` and `reset` of a set of transactional and no-transaction
//! migrations killed at random moments too. After each kill, `status` is truthful (the schema
//! is exactly what the migrations it calls applied produce), a no-transaction migration cut
//! short in either direction shows as failed with the command that settles it, and a new run
//! completes; at the end the schema equals a clean replay.

use crate::support;

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

/// The down of a no-transaction migration killed between its statements (the first index
/// dropped CONCURRENTLY, the second not): `status` says failed, not applied, with why and the
/// command that settles it; neither `up` nor `down` runs over it; the operator puts the
/// dropped index back and records `--applied`, after which `down` runs it again in full.
#[test]
fn kill_nine_inside_a_no_transaction_down() {
    let Some(pg) = postgres() else {
        return;
    };
    let ws = Workspace::empty();
    let set = ws.path().join("migrations");
    for (name, up, down) in [
        (
            "20240101000000_create_events",
            "CREATE TABLE events (x integer, y integer);\n",
            "DROP TABLE events;\n",
        ),
        (
            "20240102000000_index_events",
            "-- migrate:no-transaction\n\
             CREATE INDEX CONCURRENTLY events_x ON events (x);\n\
             CREATE INDEX CONCURRENTLY events_y ON events (y);\n",
            "DROP INDEX CONCURRENTLY events_y;\n\
             SELECT pg_sleep(2);\n\
             DROP INDEX CONCURRENTLY events_x;\n",
        ),
    ] {
        std::fs::create_dir_all(set.join(name)).unwrap();
        std::fs::write(set.join(name).join("up.sql"), up).unwrap();
        std::fs::write(set.join(name).join("down.sql"), down).unwrap();
    }
    let url = pg.database("no_transaction_down");
    let admin = pg.server.url();
    let dir = set.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut all = vec!["--dir", dir, "--dialect", "postgres"];
        all.extend_from_slice(extra);
        all.extend(["--database-url", &url]);
        ws.run(&all)
    };
    run(&["up"]).assert_code(0);
    let mut child = command()
        .current_dir(ws.path())
        .args([
            "--dir",
            dir,
            "--dialect",
            "postgres",
            "down",
            "--database-url",
            &url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn down");
    wait_for_count(
        &pg,
        &admin,
        "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(2)%'",
        "1",
        "the down never reached pg_sleep",
    );
    let _ = child.kill();
    let _ = child.wait();
    wait_for_orphans(&pg, &admin);
    let indexes = "SELECT indexname::text FROM pg_indexes WHERE tablename = 'events' ORDER BY 1";
    assert_eq!(pg.query(&url, indexes), [[Some("events_x".to_string())]]);
    let json = run(&["status", "--format", "json"]).assert_code(0).json();
    assert_eq!(in_state(&json, "failed"), ["20240102000000"], "{json}");
    let failure = json["migrations"][1]["failure"].as_str().unwrap();
    assert!(failure.starts_with("down started"), "{failure}");
    let human = run(&["status", "--color", "never"]).assert_code(0);
    assert!(
        human
            .stderr
            .contains("cargo migrate resolve 20240102000000 --applied"),
        "{}",
        human.stderr
    );
    for args in [&["up"][..], &["down"]] {
        let refused = run(args).assert_code(1);
        assert!(
            refused.stderr.contains("failed part-way"),
            "{}",
            refused.stderr
        );
    }
    // The operator undoes the part of the down that ran: it is fully applied again.
    pg.execute(&url, "CREATE INDEX events_y ON events (y)");
    run(&["resolve", "20240102000000", "--applied"]).assert_code(0);
    run(&["status", "--exit-code"]).assert_code(0);
    run(&["down"]).assert_code(0);
    assert_eq!(pg.query(&url, indexes), Vec::<Vec<Option<String>>>::new());
    let json = run(&["status", "--format", "json"]).assert_code(0).json();
    assert_eq!(in_state(&json, "applied"), ["20240101000000"], "{json}");
}

/// The set for kills during `down`, `redo` and `reset`: four tables, each made in a
/// transaction, and for each a no-transaction migration making two indexes CONCURRENTLY (its
/// down dropping them CONCURRENTLY), every step slow enough to be cut in the middle.
/// (directory, up, down, the relations it makes)
fn slow_set() -> Vec<(String, String, String, Vec<String>)> {
    let mut set = Vec::new();
    for (index, table) in ["a", "b", "c", "d"].iter().enumerate() {
        set.push((
            format!("2024010{}000000_create_{table}", 2 * index + 1),
            format!("CREATE TABLE {table} (x integer, y integer);\nSELECT pg_sleep(0.04);\n"),
            format!("SELECT pg_sleep(0.04);\nDROP TABLE {table};\n"),
            vec![table.to_string()],
        ));
        set.push((
            format!("2024010{}000000_index_{table}", 2 * index + 2),
            format!(
                "-- migrate:no-transaction\n\
                 CREATE INDEX CONCURRENTLY {table}_x ON {table} (x);\n\
                 SELECT pg_sleep(0.08);\n\
                 CREATE INDEX CONCURRENTLY {table}_y ON {table} (y);\n"
            ),
            format!(
                "DROP INDEX CONCURRENTLY {table}_y;\n\
                 SELECT pg_sleep(0.08);\n\
                 DROP INDEX CONCURRENTLY {table}_x;\n"
            ),
            vec![format!("{table}_x"), format!("{table}_y")],
        ));
    }
    set
}

/// The relations of the public schema but the history table's.
fn relations(pg: &Pg, url: &str) -> Vec<String> {
    pg.query(
        url,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') \
           AND c.relname NOT LIKE '\\_cargo\\_migrate%' ORDER BY 1",
    )
    .into_iter()
    .filter_map(|row| row[0].clone())
    .collect()
}

/// `down --all`, `redo -n 3` and `reset`, each killed with SIGKILL at random moments, 4 times
/// each, on a database where everything is applied. After each kill: `status` is truthful
/// (the relations are exactly those of the migrations it calls applied); a no-transaction
/// migration cut short, in either direction, is the only one shown as failed, with the
/// command that settles it; the operator either completes it by hand and records it
/// `--applied`, or undoes it and records `--rolled-back`, after which `status` is truthful
/// again; and `up` completes to the full schema.
#[test]
fn kill_nine_during_down_redo_and_reset() {
    let Some(pg) = postgres() else {
        return;
    };
    let ws = Workspace::empty();
    let dir = ws.path().join("migrations");
    let set = slow_set();
    for (name, up, down, _) in &set {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("up.sql"), up).unwrap();
        std::fs::write(dir.join(name).join("down.sql"), down).unwrap();
    }
    let version_of = |name: &str| name.split('_').next().unwrap().to_string();
    let objects_of = |version: &str| -> Vec<String> {
        set.iter()
            .find(|(name, ..)| version_of(name) == version)
            .map(|(.., objects)| objects.clone())
            .unwrap()
    };
    let everything: Vec<String> = {
        let mut all: Vec<String> = set.iter().flat_map(|(.., o)| o.clone()).collect();
        all.sort();
        all
    };
    let admin = pg.server.url();
    let run = |args: &[&str], url: &str| {
        let mut all = vec!["--dir", dir.to_str().unwrap(), "--dialect", "postgres"];
        all.extend_from_slice(args);
        all.extend(["--database-url", url]);
        ws.run(&all)
    };
    let spawn = |args: &[&str], url: &str| {
        command()
            .current_dir(ws.path())
            .args(["--dir", dir.to_str().unwrap(), "--dialect", "postgres"])
            .args(args)
            .args(["--database-url", url, "--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn cargo-migrate")
    };
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("down/redo/reset kill moments: seed {seed} (CRASH_SEED)");
    let mut moments = Moments(seed);
    let (mut cut_short, mut settled) = (0, 0);
    for command in [&["down", "--all"][..], &["redo", "-n", "3"], &["reset"]] {
        // How long the whole command takes here: kill moments are drawn from that window.
        let url = pg.database(&format!("calibrate_{}", command[0]));
        run(&["up"], &url).assert_code(0);
        let begun = Instant::now();
        let mut child = spawn(command, &url);
        let _ = child.wait();
        let window = begun.elapsed().as_millis() as u64;
        for round in 0..4 {
            let url = pg.database(&format!("{}_{round}", command[0]));
            run(&["up"], &url).assert_code(0);
            let delay = moments.next_below(window);
            let mut child = spawn(command, &url);
            std::thread::sleep(Duration::from_millis(delay));
            let _ = child.kill();
            let _ = child.wait();
            wait_for_orphans(&pg, &admin);
            let what = format!(
                "{} round {round}, killed after {delay} of {window} ms",
                command[0]
            );

            let status = run(&["status", "--format", "json"], &url)
                .assert_code(0)
                .json();
            let applied = in_state(&status, "applied");
            let failed = in_state(&status, "failed");
            assert!(
                in_state(&status, "modified").is_empty() && in_state(&status, "missing").is_empty(),
                "{what}: {status}"
            );
            assert!(failed.len() <= 1, "{what}: {status}");
            // Where the command ends when it is not cut short: nothing applied (down --all)
            // or everything (redo, reset).
            let end = if command[0] == "down" { 0 } else { set.len() };
            if applied.len() != end || !failed.is_empty() {
                cut_short += 1;
            }
            eprintln!("{what}: {} applied, {} failed", applied.len(), failed.len());
            // Truthful: the relations are those of the applied migrations, and of the failed
            // one some (whichever way it was going, none or all may be left at a kill between
            // the history mark and its statements).
            let expected = |versions: &[String]| -> Vec<String> {
                let mut objects: Vec<String> =
                    versions.iter().flat_map(|v| objects_of(v)).collect();
                objects.sort();
                objects
            };
            let mut found = relations(&pg, &url);
            if let Some(version) = failed.first() {
                let human = run(&["status"], &url);
                assert!(
                    human
                        .stderr
                        .contains(&format!("cargo migrate resolve {version}")),
                    "{what}: {}",
                    human.stderr
                );
                // Neither way runs over it.
                assert_eq!(
                    run(&["up"], &url).code,
                    1,
                    "{what}: up ran over a failed migration"
                );
                assert_eq!(
                    run(&["down"], &url).code,
                    1,
                    "{what}: down ran over a failed migration"
                );
                let partial = objects_of(version);
                found.retain(|relation| !partial.contains(relation));
                assert_eq!(found, expected(&applied), "{what}: {status}");
                // The operator settles it: completes it by hand or undoes it, then says so.
                let complete = moments.next_below(2) == 0;
                let table = &partial[0][..1];
                for (index, column) in ["x", "y"].iter().enumerate() {
                    let sql = if complete {
                        format!(
                            "CREATE INDEX IF NOT EXISTS {} ON {table} ({column})",
                            partial[index]
                        )
                    } else {
                        format!("DROP INDEX IF EXISTS {}", partial[index])
                    };
                    pg.execute(&url, &sql);
                }
                let outcome = if complete {
                    "--applied"
                } else {
                    "--rolled-back"
                };
                run(&["resolve", version, outcome], &url).assert_code(0);
                settled += 1;
                let status = run(&["status", "--format", "json"], &url)
                    .assert_code(0)
                    .json();
                assert!(in_state(&status, "failed").is_empty(), "{what}: {status}");
                assert_eq!(
                    relations(&pg, &url),
                    expected(&in_state(&status, "applied")),
                    "{what}: after resolve {outcome}: {status}"
                );
            } else {
                assert_eq!(found, expected(&applied), "{what}: {status}");
            }
            // A new run completes, to the full schema.
            run(&["up"], &url).assert_code(0);
            run(&["status", "--exit-code"], &url).assert_code(0);
            assert_eq!(relations(&pg, &url), everything, "{what}: after a new up");
        }
    }
    eprintln!(
        "12 kills during down/redo/reset, {cut_short} mid-run, {settled} no-transaction migrations settled"
    );
    assert!(
        cut_short >= 6,
        "kills should land mid-run ({cut_short} of 12)"
    );
}
