//! refinery sets (`layout = "refinery"`) with refinery's own `refinery_schema_history`, on
//! SQLite and PostgreSQL.
//!
//! refinery's side is recorded from its sources (`refinery_core`): its CREATE TABLE, and rows
//! whose checksums (SipHash-1-3 of name, version and SQL as Rust's `Hash` feeds them) were
//! computed with an independent SipHash-1-3 (a Python transcription of the reference
//! algorithm).

use crate::support;

use support::{Workspace, postgres, sqlite_query};

const SET: [(&str, &str); 3] = [
    (
        "V1__create_users.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    ),
    (
        "V2__add_email.sql",
        "ALTER TABLE users ADD COLUMN email TEXT;\n",
    ),
    (
        "V3__add_posts.sql",
        "CREATE TABLE posts (id INTEGER PRIMARY KEY);\n",
    ),
];

/// (version, name, checksum) refinery records for [`SET`].
const ROWS: [(&str, &str, &str); 3] = [
    ("1", "create_users", "18274778505149910206"),
    ("2", "add_email", "18350815520892875082"),
    ("3", "add_posts", "1347875819507036795"),
];

/// refinery's CREATE (`ASSERT_MIGRATIONS_TABLE_QUERY`, int4 versions).
const REFINERY_CREATE: &str = "CREATE TABLE IF NOT EXISTS refinery_schema_history(
             version int4 PRIMARY KEY,
             name VARCHAR(255),
             applied_on VARCHAR(255),
             checksum VARCHAR(255));";

const SELECT: &str =
    "SELECT CAST(version AS TEXT), name, checksum FROM refinery_schema_history ORDER BY version";

fn workspace(dialect: &str) -> Workspace {
    let ws = Workspace::empty();
    let dir = ws.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in SET {
        std::fs::write(dir.join(name), body).unwrap();
    }
    std::fs::write(
        ws.path().join("migrate.toml"),
        format!("dialect = \"{dialect}\"\nlayout = \"refinery\"\n"),
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

fn expected(rows: &[(&str, &str, &str)]) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .map(|(v, n, c)| {
            vec![
                Some(v.to_string()),
                Some(n.to_string()),
                Some(c.to_string()),
            ]
        })
        .collect()
}

/// Applied with refinery's rows; a history refinery began (its table, two rows) is continued;
/// a changed script is `modified` against refinery's checksum.
#[test]
fn a_refinery_set_on_sqlite_keeps_refinerys_table() {
    let ws = workspace("sqlite");
    let url = format!("sqlite:{}?mode=rwc", ws.path().join("app.db").display());
    run(&ws, &url, &["up"]).assert_code(0);
    assert_eq!(sqlite_query(&url, SELECT), expected(&ROWS));
    let applied_on = sqlite_query(&url, "SELECT applied_on FROM refinery_schema_history");
    let first = applied_on[0][0].clone().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&first).is_ok(),
        "RFC 3339: {first}"
    );
    std::fs::write(
        ws.path().join("migrations/V1__create_users.sql"),
        "CREATE TABLE users (id INTEGER);\n",
    )
    .unwrap();
    let status = run(&ws, &url, &["status", "--format", "json"]).json();
    assert_eq!(status["summary"]["modified"], 1, "{status}");
    assert_eq!(status["history_format"], "refinery");
}

#[test]
fn a_history_refinery_began_is_continued_on_postgresql() {
    let Some(pg) = postgres() else {
        return;
    };
    let url = pg.database("refinery");
    let mut setup = format!("{REFINERY_CREATE}\n{}{}", SET[0].1, SET[1].1);
    for (version, name, checksum) in &ROWS[..2] {
        setup.push_str(&format!(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES ({version}, '{name}', '2024-01-01T00:00:00Z', '{checksum}');\n"
        ));
    }
    pg.execute(&url, &setup);
    let ws = workspace("postgres");
    let status = run(&ws, &url, &["status", "--format", "json"]).json();
    assert_eq!(status["summary"]["applied"], 2, "{status}");
    assert_eq!(status["summary"]["modified"], 0, "{status}");
    assert_eq!(status["summary"]["pending"], 1, "{status}");
    run(&ws, &url, &["up"]).assert_code(0);
    assert_eq!(pg.query(&url, SELECT), expected(&ROWS));
    // `new` writes refinery's name, the next version.
    ws.run(&[
        "--dir",
        "migrations",
        "--config",
        "migrate.toml",
        "new",
        "add_tags",
    ])
    .assert_code(0);
    assert!(
        ws.files()
            .contains(&"migrations/V4__add_tags.sql".to_string()),
        "{:?}",
        ws.files()
    );
}
