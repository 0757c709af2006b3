//! Proof against the real tools: dbmate (its npm package ships the binary) and drizzle-orm's
//! migrator (node-postgres) share a database with cargo-migrate in both directions. One
//! applies part of a history, the other continues, and the first reads the result: everything
//! applied, and a next migration applied without complaint.
//!
//! The tools are installed with npm into a cache outside the repository
//! (`$CARGO_MIGRATE_TOOL_CACHE`, default `<target dir>/../tool-cache` or the temp dir), bounded
//! in time. Without npm or the registry the tests skip with a reason, and fail under CI=true.
//! Prisma's schema engine is downloaded from binaries.prisma.sh at install, which is not
//! reachable here: Prisma's table is tested against its documented format (tests/e2e/formats.rs).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Workspace, fixture, in_ci, postgres};

const PACKAGES: &[&str] = &["dbmate@2", "drizzle-orm@0.44", "pg@8"];

fn cache_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_MIGRATE_TOOL_CACHE") {
        return PathBuf::from(dir);
    }
    std::env::temp_dir().join("cargo-migrate-tool-cache")
}

/// Runs `command` with a deadline: a hung install or tool fails the test instead of the suite.
fn run_bounded(mut command: Command, limit: Duration) -> std::process::Output {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The tools' install directory, installing them once; `None` (skip) when npm or the registry
/// is not available outside CI.
fn tools() -> Option<PathBuf> {
    let dir = cache_dir();
    let ready = |dir: &Path| {
        dir.join("node_modules/.bin/dbmate").exists()
            && dir.join("node_modules/drizzle-orm/package.json").exists()
            && dir.join("node_modules/pg/package.json").exists()
    };
    if ready(&dir) {
        return Some(dir);
    }
    std::fs::create_dir_all(&dir).expect("create the tool cache");
    if let Err(err) = Command::new("npm").arg("--version").output() {
        let reason = format!("npm is not available ({err})");
        assert!(!in_ci(), "{reason}");
        eprintln!("skipped: {reason}");
        return None;
    }
    let mut npm = Command::new("npm");
    npm.args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .args(PACKAGES);
    let output = run_bounded(npm, Duration::from_secs(300));
    if !output.status.success() || !ready(&dir) {
        let reason = format!(
            "npm install {} failed: {}",
            PACKAGES.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!in_ci(), "{reason}");
        eprintln!("skipped: {reason}");
        return None;
    }
    Some(dir)
}

fn dbmate(tools: &Path, url: &str, dir: &Path, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(tools.join("node_modules/.bin/dbmate"));
    command
        .args(["--url", url, "--migrations-dir"])
        .arg(dir)
        .arg("--no-dump-schema")
        .args(args);
    run_bounded(command, Duration::from_secs(60))
}

fn ok(output: std::process::Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what}: {text}");
    text
}

fn cargo_migrate(ws: &Workspace, dir: &Path, dialect: &str, url: &str, args: &[&str]) -> String {
    let mut all = vec![args[0]];
    all.extend([
        "--dir",
        dir.to_str().unwrap(),
        "--dialect",
        dialect,
        "--database-url",
        url,
    ]);
    all.extend(&args[1..]);
    ws.run(&all).assert_code(0).stdout
}

const NEXT_DBMATE: &str = "-- migrate:up\nCREATE TABLE tags (id integer PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE tags;\n";

/// dbmate then cargo-migrate then dbmate, and the other way round, on one database.
fn dbmate_both_ways(tools: &Path, dialect: &str, urls: (&str, &str), dbmate_urls: (&str, &str)) {
    // dbmate first: it applies the first migration; cargo-migrate the rest.
    let ws = Workspace::empty();
    let dir = ws.path().join("db/migrations");
    support::copy_dir(&fixture("formats/dbmate"), &dir);
    let first_only = ws.path().join("first");
    std::fs::create_dir(&first_only).unwrap();
    std::fs::copy(
        dir.join("20240101000000_create_users.sql"),
        first_only.join("20240101000000_create_users.sql"),
    )
    .unwrap();
    ok(
        dbmate(tools, dbmate_urls.0, &first_only, &["up"]),
        "dbmate up (first)",
    );
    cargo_migrate(&ws, &dir, dialect, urls.0, &["up"]);
    let status = ok(
        dbmate(tools, dbmate_urls.0, &dir, &["status"]),
        "dbmate status",
    );
    assert!(
        status.contains("Applied: 3") && status.contains("Pending: 0"),
        "{status}"
    );
    std::fs::write(dir.join("20240104000000_create_tags.sql"), NEXT_DBMATE).unwrap();
    ok(
        dbmate(tools, dbmate_urls.0, &dir, &["up"]),
        "dbmate up (next)",
    );
    let states = cargo_migrate(&ws, &dir, dialect, urls.0, &["status"]);
    assert!(states.contains("4 migrations: 4 applied"), "{states}");
    // dbmate reverts what cargo-migrate applied, and cargo-migrate sees it.
    ok(
        dbmate(tools, dbmate_urls.0, &dir, &["rollback"]),
        "dbmate rollback",
    );
    let states = cargo_migrate(&ws, &dir, dialect, urls.0, &["status"]);
    assert!(states.contains("3 applied, 1 pending"), "{states}");

    // cargo-migrate first: it applies two; dbmate the rest; cargo-migrate reverts all of it.
    let ws = Workspace::empty();
    let dir = ws.path().join("db/migrations");
    support::copy_dir(&fixture("formats/dbmate"), &dir);
    cargo_migrate(
        &ws,
        &dir,
        dialect,
        urls.1,
        &["up", "--to", "20240102000000"],
    );
    std::fs::write(dir.join("20240104000000_create_tags.sql"), NEXT_DBMATE).unwrap();
    let output = ok(
        dbmate(tools, dbmate_urls.1, &dir, &["up"]),
        "dbmate up (rest)",
    );
    assert!(output.contains("20240103000000_index_email"), "{output}");
    let states = cargo_migrate(&ws, &dir, dialect, urls.1, &["status"]);
    assert!(states.contains("4 migrations: 4 applied"), "{states}");
    cargo_migrate(&ws, &dir, dialect, urls.1, &["down", "--all", "--yes"]);
    let status = ok(
        dbmate(tools, dbmate_urls.1, &dir, &["status"]),
        "dbmate status",
    );
    assert!(status.contains("Applied: 0"), "{status}");
}

#[test]
fn dbmate_and_cargo_migrate_share_sqlite() {
    let Some(tools) = tools() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let a = temp.path().join("a.db");
    let b = temp.path().join("b.db");
    dbmate_both_ways(
        &tools,
        "sqlite",
        (
            &format!("sqlite:{}", a.display()),
            &format!("sqlite:{}", b.display()),
        ),
        (
            &format!("sqlite:{}", a.display()),
            &format!("sqlite:{}", b.display()),
        ),
    );
}

#[test]
fn dbmate_and_cargo_migrate_share_postgres() {
    let Some(tools) = tools() else {
        return;
    };
    let Some(pg) = postgres() else {
        return;
    };
    let a = pg.database("dbmate_first");
    let b = pg.database("ours_first");
    dbmate_both_ways(&tools, "postgres", (&a, &b), (&a, &b));
}

/// drizzle-orm's own migrator (node-postgres), run on `dir`.
fn drizzle_migrate(tools: &Path, url: &str, dir: &Path) -> String {
    let script = "const { drizzle } = require('drizzle-orm/node-postgres');\n\
        const { migrate } = require('drizzle-orm/node-postgres/migrator');\n\
        const { Client } = require('pg');\n\
        (async () => {\n\
          const client = new Client({ connectionString: process.argv[1] });\n\
          await client.connect();\n\
          await migrate(drizzle(client), { migrationsFolder: process.argv[2] });\n\
          const r = await client.query('SELECT count(*) AS n FROM drizzle.__drizzle_migrations');\n\
          console.log('rows=' + r.rows[0].n);\n\
          await client.end();\n\
        })().catch((e) => { console.error(e); process.exit(1); });\n";
    let mut command = Command::new("node");
    command
        .current_dir(tools)
        .args(["-e", script, url])
        .arg(dir)
        .env("NODE_PATH", tools.join("node_modules"));
    ok(
        run_bounded(command, Duration::from_secs(60)),
        "drizzle migrate",
    )
}

/// node-postgres reads a Unix socket from `host=` only in its own spelling: the socket path
/// as the host of the URL.
fn node_url(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let host = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("host="))
        .map(|h| h.replace("%2F", "/"));
    match host {
        Some(host) => {
            let (authority, database) = base.rsplit_once('/').unwrap_or((base, ""));
            let port = authority.rsplit_once(':').map_or("5432", |(_, port)| port);
            format!("socket:{host}?db={database}&user=postgres&port={port}")
        }
        None => url.to_string(),
    }
}

fn add_drizzle_migration(dir: &Path) {
    std::fs::write(
        dir.join("0002_create_tags.sql"),
        "CREATE TABLE tags (id integer PRIMARY KEY);\n",
    )
    .unwrap();
    let path = dir.join("meta/_journal.json");
    let mut journal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    journal["entries"].as_array_mut().unwrap().push(serde_json::json!({
        "idx": 2, "version": "7", "when": 1704240000000_i64, "tag": "0002_create_tags", "breakpoints": true
    }));
    std::fs::write(&path, serde_json::to_string_pretty(&journal).unwrap()).unwrap();
}

#[test]
fn drizzle_and_cargo_migrate_share_postgres() {
    let Some(tools) = tools() else {
        return;
    };
    let Some(pg) = postgres() else {
        return;
    };
    // Drizzle first (the first entry only), cargo-migrate the rest, Drizzle the next one.
    let url = pg.database("drizzle_first");
    let ws = Workspace::empty();
    let dir = ws.path().join("drizzle");
    support::copy_dir(&fixture("formats/drizzle"), &dir);
    let first_only = ws.path().join("first");
    support::copy_dir(&dir, &first_only);
    std::fs::remove_file(first_only.join("0001_add_email.sql")).unwrap();
    let journal_path = first_only.join("meta/_journal.json");
    let mut journal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal_path).unwrap()).unwrap();
    journal["entries"].as_array_mut().unwrap().truncate(1);
    std::fs::write(&journal_path, journal.to_string()).unwrap();
    let out = drizzle_migrate(&tools, &node_url(&url), &first_only);
    assert!(out.contains("rows=1"), "{out}");
    cargo_migrate(&ws, &dir, "postgres", &url, &["up"]);
    // Drizzle sees both applied (runs nothing) and applies the next one.
    add_drizzle_migration(&dir);
    let out = drizzle_migrate(&tools, &node_url(&url), &dir);
    assert!(out.contains("rows=3"), "{out}");
    let states = cargo_migrate(&ws, &dir, "postgres", &url, &["status"]);
    assert!(states.contains("3 migrations: 3 applied"), "{states}");

    // cargo-migrate first, Drizzle continues.
    let url = pg.database("ours_first");
    let ws = Workspace::empty();
    let dir = ws.path().join("drizzle");
    support::copy_dir(&fixture("formats/drizzle"), &dir);
    cargo_migrate(&ws, &dir, "postgres", &url, &["up"]);
    add_drizzle_migration(&dir);
    let out = drizzle_migrate(&tools, &node_url(&url), &dir);
    assert!(out.contains("rows=3"), "{out}");
    let states = cargo_migrate(&ws, &dir, "postgres", &url, &["status"]);
    assert!(states.contains("3 migrations: 3 applied"), "{states}");
}
