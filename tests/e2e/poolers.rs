//! Production connection paths: PgBouncer (started by the tests, next to a throw-away
//! cluster) in session, transaction and statement pooling, and a direct URL for migrations.

use crate::support;

use std::process::{Child, Stdio};

use serde_json::Value;
use support::{Outcome, PoolMode, Workspace};

const FILTERS: &[(&str, &str)] = &[(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]")];

/// `cargo-migrate ARGS --database-url URL --format json` in `ws`, exiting `code`.
#[track_caller]
fn json(ws: &Workspace, url: &str, args: &[&str], code: i32) -> Outcome {
    let mut all = args.to_vec();
    all.extend(["--format", "json", "--database-url", url]);
    support::no_panic(ws.run(&all)).assert_code(code)
}

/// The versions a run applied or reverted itself (not those it found done by another run).
fn ran(list: &Value) -> usize {
    list.as_array()
        .expect("list")
        .iter()
        .filter(|run| run["skipped"] != Value::Bool(true))
        .count()
}

/// Every command that touches the history, through PgBouncer in session and in transaction
/// pooling (`pgbouncer=true`): up (a no-transaction migration among them), status, down (the
/// no-transaction one too), redo, baseline, resolve, reset, diff. The pooler's server connections
/// are then left holding no advisory lock and no session setting of ours.
#[test]
fn every_command_works_through_pgbouncer_in_session_and_transaction_pooling() {
    let Some(pg) = support::postgres() else {
        return;
    };
    pg.through_each_pool_mode(|mode, direct, url| {
        let ws = Workspace::copy("check-pg");

        let up = json(&ws, url, &["up"], 0).run_json();
        assert_eq!(ran(&up["applied"]), 7, "{mode:?}: {up}");
        let status = json(&ws, url, &["status", "--exit-code"], 0).json();
        assert_eq!(status["migrations"].as_array().unwrap().len(), 7);
        let down = json(&ws, url, &["down", "-n", "2", "--yes"], 0).run_json();
        assert_eq!(ran(&down["reverted"]), 2, "{mode:?}: {down}");
        let up = json(&ws, url, &["up"], 0).run_json();
        assert_eq!(ran(&up["applied"]), 2, "{mode:?}: {up}");
        let redo = json(&ws, url, &["redo"], 0).run_json();
        assert_eq!(ran(&redo["reverted"]), 1, "{mode:?}: {redo}");
        assert_eq!(ran(&redo["applied"]), 1, "{mode:?}: {redo}");
        let down = json(&ws, url, &["down", "--all", "--yes"], 0).run_json();
        assert_eq!(ran(&down["reverted"]), 7, "{mode:?}: {down}");

        let versions: Vec<String> = status["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["version"].as_str().unwrap().to_string())
            .collect();
        let baseline = json(&ws, url, &["baseline", &versions[0]], 0).json();
        assert_eq!(
            baseline["recorded"].as_array().unwrap().len(),
            1,
            "{baseline}"
        );
        json(&ws, url, &["resolve", &versions[0], "--rolled-back"], 0);
        let reset = json(&ws, url, &["reset", "--yes"], 0).run_json();
        assert_eq!(ran(&reset["applied"]), 7, "{mode:?}: {reset}");
        let rows = pg.query(
            direct,
            "SELECT count(*)::text, bool_and(success)::text FROM _cargo_migrate",
        );
        assert_eq!(rows[0], [Some("7".into()), Some("true".into())], "{mode:?}");

        // The schema read through the pooler (`diff`, and `check`'s drift step) is a clean
        // replay's, read after read: no statement of ours outlives its transaction there.
        for _ in 0..3 {
            support::no_panic(ws.run(&[
                "--sandbox",
                "local",
                "diff",
                "--from",
                "history",
                "--to",
                url,
            ]))
            .assert_code(0);
        }

        // Nothing of ours stays on the pooler's server connections.
        let leftovers = pg.query(
            direct,
            "SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory'",
        );
        assert_eq!(
            leftovers[0][0].as_deref(),
            Some("0"),
            "{mode:?}: advisory locks left"
        );
    });
}

/// A transaction pooler the URL does not announce (no `pgbouncer=true`) is caught when two
/// connections of one run are served by one backend, as PgBouncer does when it is otherwise
/// idle: the run then takes no session lock, and none is left on the pooler's server
/// connections. (Best effort: with other clients busy, it may not be seen; docs/deploy.md.)
#[test]
fn an_unannounced_transaction_pooler_is_caught_when_idle() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let Some(bouncer) = pg.bouncer(PoolMode::Transaction) else {
        return;
    };
    let direct = pg.database("app");
    let url = bouncer.url("app");
    let ws = Workspace::copy("check-pg");
    for _ in 0..3 {
        let up = json(&ws, &url, &["up"], 0).run_json();
        assert_eq!(ran(&up["applied"]), 7, "{up}");
        let locks = pg.query(
            &direct,
            "SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory'",
        );
        assert_eq!(locks[0][0].as_deref(), Some("0"), "a session lock was left");
        let down = json(&ws, &url, &["down", "--all", "--yes"], 0).run_json();
        assert_eq!(ran(&down["reverted"]), 7, "{down}");
    }
}

/// 16 `up` processes at once through PgBouncer in transaction pooling, on the crates-io
/// history: every process exits 0, every migration is applied exactly once (each transaction
/// takes the run lock and re-reads the history), and the schema is a clean replay's.
#[test]
fn sixteen_concurrent_ups_through_transaction_pooling_apply_crates_io_once() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    let Some(pg) = support::postgres() else {
        return;
    };
    let Some(bouncer) = pg.bouncer(PoolMode::Transaction) else {
        return;
    };
    let direct = pg.database("concurrent");
    let url = format!("{}?pgbouncer=true", bouncer.url("concurrent"));
    let dir = corpora.join("crates-io/migrations");
    let ws = Workspace::empty();
    let children: Vec<Child> = (0..16)
        .map(|_| {
            support::command()
                .current_dir(ws.path())
                .args(["up", "--format", "json", "--dialect", "postgres"])
                .arg("--dir")
                .arg(&dir)
                .args(["--database-url", &url])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn cargo-migrate up")
        })
        .collect();
    let mut applied_total = 0;
    for child in children {
        let output = child.wait_with_output().expect("wait");
        let outcome = support::no_panic(support::outcome_of(ws.path(), output)).assert_code(0);
        applied_total += ran(&outcome.run_json()["applied"]);
    }
    assert_eq!(
        applied_total, 285,
        "each migration applied by exactly one process"
    );
    let rows = pg.query(
        &direct,
        "SELECT count(*)::text, count(DISTINCT version)::text, bool_and(success)::text FROM _cargo_migrate",
    );
    assert_eq!(
        rows[0],
        [Some("285".into()), Some("285".into()), Some("true".into())]
    );
    let dir = dir.to_str().unwrap();
    support::no_panic(Workspace::empty().run(&[
        "status",
        "--exit-code",
        "--dialect",
        "postgres",
        "--dir",
        dir,
        "--database-url",
        &url,
    ]))
    .assert_code(0);
    // The schema is exactly a clean replay's (read over the direct connection).
    support::no_panic(Workspace::empty().run(&[
        "--dialect",
        "postgres",
        "--dir",
        dir,
        "--sandbox",
        "local",
        "diff",
        "--from",
        "history",
        "--to",
        &direct,
    ]))
    .assert_code(0);
}

/// A pooler in statement mode cannot keep a transaction on one server connection: `up` is
/// refused before anything is created (exit 2, statement-pooling), with or without
/// `pgbouncer=true`, naming the problem and the fix.
#[test]
fn statement_pooling_is_refused() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let Some(bouncer) = pg.bouncer(PoolMode::Statement) else {
        return;
    };
    let direct = pg.database("app");
    let ws = Workspace::copy("check-pg");
    for url in [
        bouncer.url("app"),
        format!("{}?pgbouncer=true", bouncer.url("app")),
    ] {
        let outcome = support::no_panic(ws.run(&["up", "--database-url", &url])).assert_code(2);
        assert!(
            outcome.stderr.contains("statement mode"),
            "{}",
            outcome.stderr
        );
        assert!(pg.tables(&direct).is_empty(), "nothing was created");
    }
    let outcome = support::no_panic(ws.run(&["up", "--database-url", &bouncer.url("app")]));
    insta::with_settings!({filters => FILTERS.to_vec()}, {
        insta::assert_snapshot!("statement_pooling_refused", outcome.snapshot());
    });
    let json = json(&ws, &bouncer.url("app"), &["up"], 2).events();
    assert_eq!(json.last().unwrap()["error"]["code"], "statement-pooling");
}

/// `direct-url-env = "DIRECT_DATABASE_URL"`: when that variable is set, the set migrates over
/// it, though `DATABASE_URL` leads to a pooler (here one in statement mode, which would be
/// refused); when it is not set, `DATABASE_URL` is used. `--database-url` still wins.
#[test]
fn direct_url_env_is_preferred_when_set() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let Some(bouncer) = pg.bouncer(PoolMode::Statement) else {
        return;
    };
    let direct = pg.database("app");
    let pooled = bouncer.url("app");
    let ws = Workspace::copy("check-pg");
    let manifest = ws.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read Cargo.toml");
    let text = text.replace(
        "[package.metadata.migrate]\n",
        "[package.metadata.migrate]\ndirect-url-env = \"DIRECT_DATABASE_URL\"\n",
    );
    std::fs::write(&manifest, text).expect("write Cargo.toml");

    let both = [
        ("DATABASE_URL", pooled.as_str()),
        ("DIRECT_DATABASE_URL", direct.as_str()),
    ];
    let up = support::no_panic(support::run_in_env(
        ws.path(),
        &["up", "--format", "json"],
        &both,
    ))
    .assert_code(0)
    .run_json();
    assert_eq!(ran(&up["applied"]), 7, "{up}");
    assert_eq!(up["database"].as_str(), Some(direct.as_str()));

    // Without the direct URL, DATABASE_URL (the statement pool) is what is used: refused.
    let only_pooler = support::no_panic(support::run_in_env(
        ws.path(),
        &["down", "--yes"],
        &[("DATABASE_URL", pooled.as_str())],
    ))
    .assert_code(2);
    assert!(
        only_pooler.stderr.contains("statement mode"),
        "{}",
        only_pooler.stderr
    );

    // The same from the workspace's .env.
    std::fs::write(
        ws.path().join(".env"),
        format!("DATABASE_URL={pooled}\nDIRECT_DATABASE_URL={direct}\n"),
    )
    .expect("write .env");
    let status = support::no_panic(ws.run(&["status", "--format", "json"]))
        .assert_code(0)
        .json();
    assert_eq!(
        status["database"].as_str(),
        Some(direct.as_str()),
        "{status}"
    );
}
