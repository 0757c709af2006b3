//! golang-migrate sets (`layout = "golang-migrate"`) with golang-migrate's own one-row history,
//! `schema_migrations (version, dirty)`, on SQLite and PostgreSQL.
//!
//! The Go tool's side is recorded from its sources (`database/sqlite3`, `database/postgres`):
//! its CREATE TABLE, and a version set by replacing the one row (`dirty` while a migration runs
//! and after it failed).

use crate::support;

use support::{Workspace, postgres, sqlite_query};

const SET: [(&str, &str); 6] = [
    (
        "1_create_users.up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    ),
    ("1_create_users.down.sql", "DROP TABLE users;\n"),
    (
        "2_add_email.up.sql",
        "ALTER TABLE users ADD COLUMN email TEXT;\n",
    ),
    (
        "2_add_email.down.sql",
        "ALTER TABLE users DROP COLUMN email;\n",
    ),
    (
        "10_add_posts.up.sql",
        "CREATE TABLE posts (id INTEGER PRIMARY KEY);\n",
    ),
    ("10_add_posts.down.sql", "DROP TABLE posts;\n"),
];

/// golang-migrate's CREATE on SQLite.
const GO_SQLITE_CREATE: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,dirty bool);
CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version);";

fn workspace(dialect: &str) -> Workspace {
    let ws = Workspace::empty();
    let dir = ws.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in SET {
        std::fs::write(dir.join(name), body).unwrap();
    }
    std::fs::write(
        ws.path().join("migrate.toml"),
        format!("dialect = \"{dialect}\"\nlayout = \"golang-migrate\"\n"),
    )
    .unwrap();
    ws
}

fn run(ws: &Workspace, url: &str, command: &[&str]) -> support::Outcome {
    let mut args = vec!["--dir", "migrations", "--config", "migrate.toml"];
    args.extend_from_slice(command);
    args.extend(["--database-url", url]);
    ws.run(&args)
}

/// Runs `;`-separated statements on a SQLite database (created if missing), one at a time, as
/// the other tool would have run them.
fn sqlite_exec(url: &str, sql: &str) {
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlite_query(url, statement);
    }
}

fn text(value: &str) -> Option<String> {
    Some(value.to_string())
}

const ROW: &str = "SELECT CAST(version AS TEXT), CAST(dirty AS TEXT) FROM schema_migrations";

#[test]
fn a_golang_migrate_set_on_sqlite_keeps_one_row() {
    let ws = workspace("sqlite");
    let url = format!("sqlite:{}?mode=rwc", ws.path().join("app.db").display());
    let json = ws
        .run(&[
            "--dir",
            "migrations",
            "--config",
            "migrate.toml",
            "list",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(json["sets"][0]["layout"], "golang-migrate", "{json}");
    assert_eq!(json["sets"][0]["newest"], "10");
    run(&ws, &url, &["up"]).assert_code(0);
    assert_eq!(sqlite_query(&url, ROW), [vec![text("10"), text("0")]]);
    let status = run(&ws, &url, &["status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["summary"]["applied"], 3, "{status}");
    assert_eq!(status["history_format"], "golang-migrate");
    // Each down makes the migration before it current; the last one empties the table.
    run(&ws, &url, &["down"]).assert_code(0);
    assert_eq!(sqlite_query(&url, ROW), [vec![text("2"), text("0")]]);
    run(&ws, &url, &["down", "--all", "--yes"]).assert_code(0);
    assert!(sqlite_query(&url, ROW).is_empty());
    assert_eq!(support::sqlite_tables(&url), ["schema_migrations"]);
    run(&ws, &url, &["up"]).assert_code(0);
    assert_eq!(sqlite_query(&url, ROW), [vec![text("10"), text("0")]]);
}

/// golang-migrate applied 1 and 2 (its table, its row); cargo-migrate goes on from there; a
/// dirty version is shown failed and stops `up`, as it stops golang-migrate.
#[test]
fn a_golang_migrate_history_on_sqlite_is_continued() {
    let ws = workspace("sqlite");
    let url = format!("sqlite:{}?mode=rwc", ws.path().join("app.db").display());
    let setup = format!(
        "{GO_SQLITE_CREATE}\n{}{}INSERT INTO schema_migrations (version, dirty) VALUES (2, 0);",
        SET[0].1, SET[2].1
    );
    sqlite_exec(&url, &setup);
    let status = run(&ws, &url, &["status", "--format", "json"]).json();
    assert_eq!(status["summary"]["applied"], 2, "{status}");
    assert_eq!(status["summary"]["pending"], 1, "{status}");
    run(&ws, &url, &["up"]).assert_code(0);
    assert_eq!(sqlite_query(&url, ROW), [vec![text("10"), text("0")]]);
    // Dirty, as golang-migrate leaves a version whose migration failed.
    sqlite_exec(&url, "UPDATE schema_migrations SET dirty = 1");
    let status = run(&ws, &url, &["status", "--format", "json"]).json();
    assert_eq!(status["summary"]["failed"], 1, "{status}");
    assert_eq!(status["summary"]["applied"], 2, "{status}");
}

#[test]
fn a_golang_migrate_set_on_postgresql_keeps_one_row() {
    let Some(pg) = postgres() else {
        return;
    };
    let url = pg.database("golang_migrate");
    let ws = workspace("postgres");
    run(&ws, &url, &["up"]).assert_code(0);
    assert_eq!(pg.query(&url, ROW), [vec![text("10"), text("false")]]);
    // The table as golang-migrate creates it.
    let columns = pg.query(
        &url,
        "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns WHERE table_name = 'schema_migrations' ORDER BY ordinal_position",
    );
    assert_eq!(
        columns,
        [
            vec![text("version"), text("bigint"), text("NO")],
            vec![text("dirty"), text("boolean"), text("NO")]
        ]
    );
    run(&ws, &url, &["down"]).assert_code(0);
    assert_eq!(pg.query(&url, ROW), [vec![text("2"), text("false")]]);
    run(&ws, &url, &["down", "--all", "--yes"]).assert_code(0);
    assert!(pg.query(&url, ROW).is_empty());
    // golang-migrate's own write (TRUNCATE, INSERT) is read back.
    pg.execute(
        &url,
        &format!(
            "{}TRUNCATE schema_migrations; INSERT INTO schema_migrations (version, dirty) VALUES (1, false);",
            SET[0].1
        ),
    );
    let status = run(&ws, &url, &["status", "--format", "json"]).json();
    assert_eq!(status["summary"]["applied"], 1, "{status}");
    run(&ws, &url, &["up"]).assert_code(0);
    assert_eq!(pg.query(&url, ROW), [vec![text("10"), text("false")]]);
}
