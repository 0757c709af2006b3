//! Never hang, never panic, never blame the script for the server: every wait of a run is
//! bounded (connecting, `--wait`, table locks), every duration flag is range-checked, errors
//! the script did not cause exit 3 (retryable), and connection failures are told in plain
//! words. Real binary, real PostgreSQL (a local throw-away cluster) and SQLite; the "servers
//! that misbehave" are listeners on 127.0.0.1 in this process.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Outcome, Pg, Workspace};

/// `cargo-migrate ARGS` in `ws`, checked for panics.
#[track_caller]
fn run(ws: &Workspace, args: &[&str]) -> Outcome {
    let outcome = ws.run(args);
    assert!(
        !outcome.stderr.contains("panicked") && !outcome.stdout.contains("panicked"),
        "cargo-migrate panicked\n{}",
        outcome.snapshot()
    );
    outcome
}

/// The `error` object of a `--format json` run (one object, or the last event of a run).
fn json_error(outcome: &Outcome) -> serde_json::Value {
    let last = outcome.stdout.lines().last().unwrap_or_default();
    let value: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {}", outcome.stdout));
    match value.get("error") {
        Some(error) => error.clone(),
        None => value,
    }
}

fn write_migration(ws: &Workspace, dir: &str, up: &str) {
    let path = ws.path().join("migrations").join(dir);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("up.sql"), up).unwrap();
    std::fs::write(path.join("down.sql"), "SELECT 1;\n").unwrap();
}

/// A listener on 127.0.0.1 that treats each connection with `serve` on its own thread; its
/// port. The threads end with the test process.
fn misbehaving_server(serve: fn(std::net::TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    port
}

// ------------------------------------------------------------------------- duration flags

/// Every duration flag, on every value that used to overflow an `Instant` or SQLite's busy
/// timeout (exit 101), or that is not a number of seconds: a usage error (exit 2) naming the
/// flag. The largest accepted value runs without a panic.
#[test]
fn duration_flags_are_range_checked() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = format!("sqlite:{}", ws.path().join("app.db").display());
    let cases: &[(&str, &[&str])] = &[
        ("up", &["--lock-timeout", "9223372036854775807"]),
        ("up", &["--lock-timeout", "18446744073709551616"]),
        ("up", &["--lock-timeout", "2147484"]),
        ("up", &["--lock-timeout", "604801"]),
        ("up", &["--lock-timeout=-1"]),
        ("up", &["--wait", "18446744073709551615"]),
        ("up", &["--wait", "1.5"]),
        ("status", &["--wait", "9223372036854775807"]),
        ("status", &["--connect-timeout", "9223372036854775807"]),
        ("down", &["--lock-timeout", "9223372036854775807"]),
        ("schema", &["--wait", "9223372036854775807"]),
        ("check", &["--wait", "99999999999"]),
        ("diff", &["--connect-timeout", "99999999999"]),
    ];
    for (command, flag) in cases {
        let mut args = vec!["--format", "json", command];
        args.extend_from_slice(flag);
        if *command != "diff" {
            args.extend(["--database-url", &url]);
        }
        let outcome = run(&ws, &args);
        assert_eq!(outcome.code, 2, "{args:?}\n{}", outcome.snapshot());
        let error = json_error(&outcome);
        assert_eq!(error["code"], "usage", "{args:?}: {error}");
        assert!(
            error["location"]
                .as_str()
                .unwrap_or_default()
                .contains(flag[0].split('=').next().unwrap()),
            "{args:?}: the error names the flag: {error}"
        );
    }
    let human = run(
        &ws,
        &["up", "--lock-timeout", "2147484", "--database-url", &url],
    );
    insta::assert_snapshot!("lock_timeout_out_of_range", human.snapshot());
    // The largest value of each is fine (SQLite: the busy timeout of a week).
    let max = "604800";
    run(
        &ws,
        &[
            "up",
            "--lock-timeout",
            max,
            "--wait",
            max,
            "--connect-timeout",
            max,
            "--database-url",
            &url,
        ],
    )
    .assert_code(0);
}

// ------------------------------------------------------------------------------- connecting

/// A server that accepts the connection and never says anything: `--wait` is a total deadline
/// and `--connect-timeout` bounds each attempt (it used to run for ever).
#[test]
fn server_that_never_answers_is_given_up_on() {
    let port = misbehaving_server(|stream| {
        // Hold the connection open, say nothing.
        std::thread::sleep(Duration::from_secs(120));
        drop(stream);
    });
    let ws = Workspace::copy("single");
    let url = format!("postgres://app@127.0.0.1:{port}/app");
    let started = Instant::now();
    let waited = run(&ws, &["status", "--wait", "3", "--database-url", &url]).assert_code(3);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "status --wait 3 took {took:?}"
    );
    assert!(
        waited.stderr.contains("did not answer within"),
        "{}",
        waited.stderr
    );

    let started = Instant::now();
    let once = run(
        &ws,
        &[
            "--format",
            "json",
            "up",
            "--connect-timeout",
            "1",
            "--database-url",
            &url,
        ],
    )
    .assert_code(3);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "up --connect-timeout 1 took {took:?}"
    );
    let error = json_error(&once);
    assert_eq!(error["code"], "database-unreachable");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.ends_with("the server did not answer within 1 s"),
        "{message}"
    );
    assert!(
        error["hint"]
            .as_str()
            .unwrap()
            .contains("--connect-timeout"),
        "{error}"
    );
}

/// A server that closes every connection at once: said in plain words, not as the driver's
/// "expected to read 5 bytes, got 0 bytes at EOF", with a hint about what it may be.
#[test]
fn server_that_hangs_up_is_named_plainly() {
    let port = misbehaving_server(drop);
    let ws = Workspace::copy("single");
    let url = format!("postgres://app:s3cret@127.0.0.1:{port}/app");
    let outcome = run(&ws, &["status", "--database-url", &url]).assert_code(3);
    assert!(
        outcome
            .stderr
            .contains("the server closed the connection without answering"),
        "{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("bytes at EOF"),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("password"), "{}", outcome.stderr);
    let port_filter = (format!(":{port}"), ":[PORT]".to_string());
    insta::assert_snapshot!(
        "server_hangs_up",
        outcome.snapshot().replace(&port_filter.0, &port_filter.1)
    );
}

/// An HTTP server where PostgreSQL should be: "does not speak PostgreSQL's protocol", not
/// "unexpected response from SSLRequest: 0x48 (sqlx_postgres::connection::tls:95)", and the
/// hint points at the port, not at the credentials.
#[test]
fn http_server_on_the_port_is_named_plainly() {
    let port = misbehaving_server(|mut stream| {
        let mut buffer = [0u8; 64];
        let _ = stream.read(&mut buffer);
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let ws = Workspace::copy("single");
    let url = format!("postgres://app@127.0.0.1:{port}/app");
    let outcome = run(&ws, &["status", "--database-url", &url]).assert_code(3);
    assert!(
        outcome
            .stderr
            .contains("it answered like an HTTP (web) server"),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("sqlx"), "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("password"), "{}", outcome.stderr);
    insta::assert_snapshot!(
        "http_server_on_the_port",
        outcome.snapshot().replace(&format!(":{port}"), ":[PORT]")
    );
}

/// `--wait 20` against a database that does not exist: that is not retried, so the error
/// says nothing of waiting (it used to say "after waiting 20 s" after 0 s).
#[test]
fn wait_reports_only_the_time_actually_waited() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let ws = Workspace::copy("single");
    let url = pg.server.url_for("nosuch");
    let started = Instant::now();
    let outcome = run(&ws, &["status", "--wait", "20", "--database-url", &url]).assert_code(3);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        outcome.stderr.contains("does not exist"),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("waiting"), "{}", outcome.stderr);
}

/// A `DATABASE_URL` that is not UTF-8 is said to be so, not "not set".
#[test]
fn database_url_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let ws = Workspace::copy("single");
    let output = support::command()
        .current_dir(ws.path())
        .args(["--dir", "migrations", "--dialect", "postgres", "status"])
        .env(
            "DATABASE_URL",
            std::ffi::OsStr::from_bytes(b"postgres://app:caf\xe9@db.invalid/app"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let outcome = support::outcome_of(ws.path(), output).assert_code(2);
    assert!(
        outcome.stderr.contains("is set but is not valid UTF-8"),
        "{}",
        outcome.stderr
    );
    insta::assert_snapshot!("database_url_not_utf8", outcome.snapshot());
}

// ------------------------------------------------------------------------------ table locks

/// A session holding a lock on a table the next migration alters: `up --lock-timeout 2`
/// gives up after about 2 s (it waited 24 s and more), exit 3 `lock-timeout`, naming the
/// blocking session (pid, application) and the table; nothing of the migration is applied.
#[test]
fn table_lock_wait_is_bounded_and_names_the_blocker() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let ws = Workspace::copy("single");
    let url = pg.database("locks");
    run(&ws, &["up", "--database-url", &url]).assert_code(0);
    write_migration(
        &ws,
        "20240103000000_alter_users",
        "CREATE TABLE before_lock (id int);\nALTER TABLE users ADD COLUMN nickname text;\n",
    );
    // Another session: a transaction holding ACCESS EXCLUSIVE on users, open until released.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (ready, is_ready) = std::sync::mpsc::channel::<i32>();
    let holder_url = format!("{url}&application_name=the-blocker");
    let holder = std::thread::spawn(move || {
        use sqlx::Connection;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&holder_url).await.unwrap();
            sqlx::raw_sql("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
            let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            ready.send(pid).unwrap();
            let _ = released.recv_timeout(Duration::from_secs(60));
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
        });
    });
    let blocker_pid = is_ready.recv().unwrap();
    let started = Instant::now();
    let outcome = run(
        &ws,
        &[
            "--format",
            "json",
            "up",
            "--lock-timeout",
            "2",
            "--database-url",
            &url,
        ],
    )
    .assert_code(3);
    let took = started.elapsed();
    let error = json_error(&outcome);
    assert_eq!(error["code"], "lock-timeout", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("held by pid {blocker_pid} (the-blocker")),
        "{message}"
    );
    assert!(message.contains("table users"), "{message}");
    assert!(message.contains("--lock-timeout (2 s)"), "{message}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(10),
        "took {took:?}"
    );
    let human = run(&ws, &["up", "--lock-timeout", "1", "--database-url", &url]).assert_code(3);
    let _ = release.send(());
    holder.join().unwrap();
    insta::with_settings!({filters => vec![
        (r"pid \d+", "pid [PID]"),
        (r"started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "started [TIME]"),
    ]}, {
        insta::assert_snapshot!("table_lock_timeout", human.snapshot());
    });
    // Nothing half-applied: not the table made before the wait, not the history row.
    assert_eq!(pg.tables(&url), ["_cargo_migrate", "users"]);
    run(&ws, &["up", "--database-url", &url]).assert_code(0);
    assert_eq!(pg.tables(&url), ["_cargo_migrate", "before_lock", "users"]);
}

/// A migration's own `SET lock_timeout` still wins over `--lock-timeout` (it comes later in
/// its transaction).
#[test]
fn a_migrations_own_lock_timeout_wins() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let ws = Workspace::copy("single");
    let url = pg.database("own_timeout");
    write_migration(
        &ws,
        "20240103000000_show",
        "SET lock_timeout = '7s';\nCREATE TABLE seen AS SELECT current_setting('lock_timeout') AS value;\n",
    );
    run(&ws, &["up", "--lock-timeout", "3", "--database-url", &url]).assert_code(0);
    assert_eq!(
        pg.query(&url, "SELECT value FROM seen"),
        [[Some("7s".to_string())]]
    );
}

// ------------------------------------------------------------------- errors of the moment

/// Waits (up to 20 s) until `sql` (a count) on `admin` is not 0.
fn wait_until_nonzero(pg: &Pg, admin: &str, sql: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while pg.query(admin, sql)[0][0].as_deref() == Some("0") {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The migrating backend terminated (`pg_terminate_backend`, as a failover or an operator
/// does): exit 3 `migration-interrupted`, saying the run can be repeated, not exit 1 "fix the
/// script"; the repeat completes.
#[test]
fn terminated_backend_is_retryable() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let ws = Workspace::copy("single");
    let url = pg.database("terminated");
    write_migration(
        &ws,
        "20240103000000_slow",
        "CREATE TABLE slow (id int);\nSELECT pg_sleep(2);\n",
    );
    let child = support::command()
        .current_dir(ws.path())
        .args(["up", "--database-url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let admin = pg.server.url();
    wait_until_nonzero(
        &pg,
        &admin,
        "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND application_name = 'cargo-migrate'",
        "the migration never started",
    );
    pg.query(
        &admin,
        "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND application_name = 'cargo-migrate'",
    );
    let outcome = support::outcome_of(ws.path(), child.wait_with_output().unwrap()).assert_code(3);
    assert!(
        outcome
            .stderr
            .contains("error: applying 20240103000000_slow was interrupted"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("run the command again"),
        "{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("fix the script"),
        "{}",
        outcome.stderr
    );
    let status = run(&ws, &["status", "--database-url", &url, "--format", "json"]).assert_code(0);
    let pending: Vec<_> = status.json()["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["state"] == "pending")
        .map(|m| m["version"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pending, ["20240103000000"]);
    assert!(!pg.tables(&url).contains(&"slow".to_string()));
    run(&ws, &["up", "--database-url", &url]).assert_code(0);
}

/// A deadlock (or serialization failure) rolls the migration back for a reason of the moment:
/// exit 3 `migration-interrupted`, nothing applied.
#[test]
fn deadlock_is_retryable() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let ws = Workspace::copy("single");
    let url = pg.database("deadlock");
    // The server's own error, as a real deadlock raises it.
    write_migration(
        &ws,
        "20240103000000_conflicts",
        "CREATE TABLE conflicts (id int);\n\
         DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'; END $$;\n",
    );
    let outcome = run(&ws, &["--format", "json", "up", "--database-url", &url]).assert_code(3);
    let error = json_error(&outcome);
    assert_eq!(error["code"], "migration-interrupted", "{error}");
    assert!(
        error["hint"]
            .as_str()
            .unwrap()
            .contains("run the command again"),
        "{error}"
    );
    assert!(!pg.tables(&url).contains(&"conflicts".to_string()));
}

/// The connection holding the run lock is ended while a migration runs: the run stops before
/// the next migration (another run could have started), exit 3; the first migration is
/// applied, the second is not, and a new run completes.
#[test]
fn lost_lock_connection_stops_the_run() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let ws = Workspace::copy("single");
    let url = pg.database("lost_lock");
    run(&ws, &["up", "--database-url", &url]).assert_code(0);
    write_migration(
        &ws,
        "20240103000000_slow",
        "CREATE TABLE first (id int);\nSELECT pg_sleep(1.5);\n",
    );
    write_migration(
        &ws,
        "20240104000000_second",
        "CREATE TABLE second (id int);\n",
    );
    let child = support::command()
        .current_dir(ws.path())
        .args(["up", "--database-url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let admin = pg.server.url();
    wait_until_nonzero(
        &pg,
        &admin,
        "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(1.5)%' AND application_name = 'cargo-migrate'",
        "the migration never started",
    );
    // The lock connection: cargo-migrate's other backend, the one not running the migration.
    let ended = pg.query(
        &admin,
        "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
         WHERE application_name = 'cargo-migrate' AND query NOT LIKE '%pg_sleep(1.5)%' \
           AND datname = 'lost_lock'",
    );
    assert_eq!(ended.len(), 1, "{ended:?}");
    let outcome = support::outcome_of(ws.path(), child.wait_with_output().unwrap()).assert_code(3);
    assert!(
        outcome.stderr.contains(
            "stopped before applying 20240104000000_second: the connection holding the migration lock was lost"
        ),
        "{}",
        outcome.stderr
    );
    let tables = pg.tables(&url);
    assert!(tables.contains(&"first".to_string()), "{tables:?}");
    assert!(!tables.contains(&"second".to_string()), "{tables:?}");
    run(&ws, &["up", "--database-url", &url]).assert_code(0);
    assert!(pg.tables(&url).contains(&"second".to_string()));
}
