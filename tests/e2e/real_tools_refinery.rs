//! refinery's own Runner (the `refinery` crate, as an application embeds it) and cargo-migrate
//! share one SQLite database and `refinery_schema_history`, in both directions: each reads
//! what the other wrote without a divergent or missing migration, and applies the next one.
//! (refinery_cli takes too long to build here; its Runner is the same code.)

use crate::support;

use std::path::Path;

use support::{Workspace, sqlite_query};

const FILES: [(&str, &str); 4] = [
    (
        "V1__create_users.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    ),
    (
        "V2__add_email.sql",
        "ALTER TABLE users ADD COLUMN email TEXT;\n",
    ),
    (
        "V3__add_posts.sql",
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER);\n",
    ),
    (
        "V4__add_tags.sql",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n",
    ),
];

fn write(dir: &Path, upto: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, sql) in &FILES[..upto] {
        std::fs::write(dir.join(name), sql).unwrap();
    }
}

/// refinery's Runner over the files in `dir`, up to `target` (all when `None`): the versions
/// it applied now.
fn refinery_run(dir: &Path, db: &Path, target: Option<i32>) -> Vec<i32> {
    let migrations = refinery::load_sql_migrations(dir).expect("refinery reads the folder");
    let mut runner = refinery::Runner::new(&migrations);
    if let Some(version) = target {
        runner = runner.set_target(refinery::Target::Version(version));
    }
    let mut conn = rusqlite::Connection::open(db).expect("open");
    let report = runner
        .run(&mut conn)
        .unwrap_or_else(|e| panic!("refinery refuses the history: {e}"));
    report
        .applied_migrations()
        .iter()
        .map(|m| m.version())
        .collect()
}

fn cargo_migrate(ws: &Workspace, url: &str, args: &[&str]) -> support::Outcome {
    let mut all = vec![args[0], "--dir", "sql", "--config", "migrate.toml"];
    all.extend(["--database-url", url]);
    all.extend(&args[1..]);
    ws.run(&all)
}

fn states(ws: &Workspace, url: &str) -> Vec<String> {
    let json = cargo_migrate(ws, url, &["status", "--format", "json"])
        .assert_code(0)
        .json();
    json["migrations"]
        .as_array()
        .unwrap_or_else(|| panic!("{json}"))
        .iter()
        .map(|m| m["state"].as_str().unwrap().to_string())
        .collect()
}

fn setup() -> (Workspace, std::path::PathBuf, String) {
    let ws = Workspace::empty();
    std::fs::write(
        ws.path().join("migrate.toml"),
        "dialect = \"sqlite\"\nlayout = \"refinery\"\n",
    )
    .unwrap();
    let db = ws.path().join("app.db");
    let url = format!("sqlite:{}?mode=rwc", db.display());
    (ws, db, url)
}

/// refinery first, then cargo-migrate, then refinery again.
#[test]
fn refinery_then_cargo_migrate_then_refinery() {
    let (ws, db, url) = setup();
    let dir = ws.path().join("sql");
    write(&dir, 3);
    assert_eq!(refinery_run(&dir, &db, Some(1)), [1]);
    assert_eq!(states(&ws, &url), ["applied", "pending", "pending"]);
    cargo_migrate(&ws, &url, &["up", "--to", "2"]).assert_code(0);
    // refinery sees 1 and 2 applied as it would have applied them, and goes on with 3.
    assert_eq!(refinery_run(&dir, &db, None), [3]);
    write(&dir, 4);
    assert_eq!(refinery_run(&dir, &db, None), [4]);
    assert_eq!(
        states(&ws, &url),
        ["applied", "applied", "applied", "applied"]
    );
    let rows = sqlite_query(
        &url,
        "SELECT CAST(version AS TEXT), name FROM refinery_schema_history ORDER BY version",
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[1][1].as_deref(), Some("add_email"));
}

/// cargo-migrate first, then refinery, then cargo-migrate again.
#[test]
fn cargo_migrate_then_refinery_then_cargo_migrate() {
    let (ws, db, url) = setup();
    let dir = ws.path().join("sql");
    write(&dir, 3);
    cargo_migrate(&ws, &url, &["up", "--to", "1"]).assert_code(0);
    assert_eq!(refinery_run(&dir, &db, Some(2)), [2]);
    assert_eq!(states(&ws, &url), ["applied", "applied", "pending"]);
    cargo_migrate(&ws, &url, &["up"]).assert_code(0);
    write(&dir, 4);
    cargo_migrate(&ws, &url, &["up"]).assert_code(0);
    // Nothing left for refinery, and nothing it calls divergent or missing.
    assert_eq!(refinery_run(&dir, &db, None), Vec::<i32>::new());
    assert!(states(&ws, &url).iter().all(|s| s == "applied"));
}
