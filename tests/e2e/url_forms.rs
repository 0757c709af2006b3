//! The connection forms managed services and Patroni hand out, end to end with the real
//! binary: `options=-c search_path=…`, `application_name`, `connect_timeout`,
//! `target_session_attrs`, several hosts (refused, saying what to use), and a read-only
//! standby (a real streaming replica made with `pg_basebackup -R`), which is never migrated:
//! exit 2 before the run lock is taken.

use crate::support;

use std::net::TcpListener;
use std::process::Command;

use support::{Outcome, Pg, Workspace};

/// A workspace of one migration that records the session's application_name and schema.
fn workspace() -> Workspace {
    let ws = Workspace::empty();
    let dir = ws.path().join("migrations/20240101000000_seen");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("up.sql"),
        "CREATE TABLE seen AS SELECT current_setting('application_name') AS app, current_schema() AS schema;\n",
    )
    .unwrap();
    std::fs::write(dir.join("down.sql"), "DROP TABLE seen;\n").unwrap();
    ws
}

#[track_caller]
fn run(ws: &Workspace, args: &[&str], url: &str) -> Outcome {
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--dir",
        "migrations",
        "--dialect",
        "postgres",
        "--database-url",
        url,
    ]);
    let outcome = ws.run(&all);
    assert!(
        !outcome.stderr.contains("panicked"),
        "{}",
        outcome.snapshot()
    );
    outcome
}

/// `url` with `param` added to its query.
fn with(url: &str, param: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}

fn clean(pg: &Pg, outcome: &Outcome) -> String {
    outcome.snapshot().replace(
        &pg.server.socket_dir().to_string_lossy().to_string(),
        "[SOCKET]",
    )
}

#[test]
fn search_path_application_name_and_connect_timeout_from_the_url_are_honoured() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let admin = pg.database("app");
    pg.execute(&admin, "CREATE SCHEMA tenant");
    let ws = workspace();
    let url = with(
        &with(&admin, "options=-c%20search_path%3Dtenant"),
        "application_name=deploy-job-42",
    );
    run(&ws, &["up"], &url).assert_code(0);
    // The history table and the migration's table went to the URL's search_path.
    let rows = pg.query(
        &admin,
        "SELECT app, schema FROM tenant.seen UNION ALL SELECT count(*)::text, 'history' FROM tenant._cargo_migrate",
    );
    assert_eq!(
        rows,
        [
            [
                Some("deploy-job-42".to_string()),
                Some("tenant".to_string())
            ],
            [Some("1".to_string()), Some("history".to_string())],
        ]
    );
    assert!(pg.tables(&admin).is_empty(), "nothing in public");
    run(&ws, &["status", "--exit-code"], &url).assert_code(0);

    // Without one, the session says it is cargo-migrate.
    run(&ws, &["down", "--yes"], &url).assert_code(0);
    run(
        &ws,
        &["up"],
        &with(&admin, "options=-c%20search_path%3Dtenant"),
    )
    .assert_code(0);
    let app = pg.query(&admin, "SELECT app FROM tenant.seen");
    assert_eq!(app, [[Some("cargo-migrate".to_string())]]);

    // connect_timeout bounds an attempt against a server that never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let outcome = run(
        &ws,
        &["status"],
        &format!("postgres://u@127.0.0.1:{port}/app?sslmode=disable&connect_timeout=2"),
    );
    assert_eq!(outcome.code, 3, "{}", outcome.snapshot());
    assert!(
        outcome.stderr.contains("within 2 s"),
        "{}",
        outcome.snapshot()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    drop(silent);
}

#[test]
fn several_hosts_and_unknown_session_attrs_are_refused_saying_what_to_use() {
    let ws = workspace();
    let mut report = String::new();
    for url in [
        "postgres://app:secret@db1.invalid:5432,db2.invalid:5432/app?target_session_attrs=read-write",
        "postgres://app@localhost/app?host=db1.invalid,db2.invalid",
        "postgres://app@db.invalid/app?target_session_attrs=readwrite",
        "postgres://app@db.invalid/app?connect_timeout=ten",
    ] {
        let outcome = run(&ws, &["up"], url);
        assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
        assert!(!outcome.stderr.contains("secret"));
        report.push_str(&format!(
            "## {}\n{}\n",
            url.replace("secret", "***"),
            outcome.snapshot()
        ));
    }
    insta::assert_snapshot!(report);
}

/// A streaming replica of `primary` (`pg_basebackup -R` into a second cluster's data
/// directory, then started on it): a real hot standby, over Unix sockets only.
fn standby_of(primary: &Pg) -> Option<Pg> {
    use std::os::unix::fs::MetadataExt;
    let mut standby = support::postgres()?;
    let data = standby.server.data_dir().to_path_buf();
    let owner = std::fs::metadata(&data).expect("data dir");
    standby.server.halt(true).expect("halt the second cluster");
    std::fs::remove_dir_all(&data).expect("empty the data dir");
    let basebackup = primary.server.binaries().join("pg_basebackup");
    let status = Command::new(&basebackup)
        .arg("-D")
        .arg(&data)
        .arg("-h")
        .arg(primary.server.socket_dir())
        .args([
            "-p", "5432", "-U", "postgres", "-R", "-X", "stream", "-c", "fast",
        ])
        .status()
        .expect("run pg_basebackup");
    assert!(status.success(), "pg_basebackup failed");
    // pg_basebackup ran as this user; the server runs as the data directory's owner.
    let chown = Command::new("chown")
        .arg("-R")
        .arg(format!("{}:{}", owner.uid(), owner.gid()))
        .arg(&data)
        .status()
        .expect("chown");
    assert!(chown.success());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(standby.server.restart())
        .expect("start the standby");
    Some(standby)
}

#[test]
fn a_read_only_standby_is_never_migrated() {
    let Some(primary) = support::postgres() else {
        return;
    };
    let Some(standby) = standby_of(&primary) else {
        return;
    };
    let replica = standby.server.url();
    assert_eq!(
        standby.query(&replica, "SELECT pg_is_in_recovery()::text"),
        [[Some("true".to_string())]]
    );
    let ws = workspace();
    let mut report = String::new();
    let outcome = run(&ws, &["up"], &replica);
    assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
    report.push_str(&format!(
        "## up on a standby\n{}\n",
        clean(&standby, &outcome)
    ));
    let json = run(&ws, &["up", "--format", "json"], &replica);
    assert_eq!(json.run_json()["error"]["code"], "read-only-database");
    // Refused before the run lock: a standby refuses advisory locks during recovery, and that
    // error (exit 3) is not what was said.
    assert!(!outcome.stderr.contains("lock"), "{}", outcome.snapshot());
    // Reading is fine on a standby, unless the URL asks for a primary.
    run(&ws, &["status"], &replica).assert_code(0);
    let outcome = run(
        &ws,
        &["status"],
        &with(&replica, "target_session_attrs=read-write"),
    );
    assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
    report.push_str(&format!(
        "## status with target_session_attrs=read-write on a standby\n{}\n",
        clean(&standby, &outcome)
    ));
    // The primary, with the same attribute, migrates; the replica follows.
    let main = with(&primary.server.url(), "target_session_attrs=read-write");
    run(&ws, &["up"], &main).assert_code(0);
    insta::assert_snapshot!(report);
}

#[test]
fn a_read_only_session_is_refused_before_the_lock() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let admin = pg.database("app");
    pg.execute(
        &admin,
        "ALTER DATABASE app SET default_transaction_read_only = on",
    );
    let ws = workspace();
    let outcome = run(&ws, &["up"], &admin);
    assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
    insta::assert_snapshot!(clean(&pg, &outcome));
    assert!(pg.tables(&admin).is_empty());
}
