//! Flyway repeatable scripts (`R__<description>.sql`): applied after every versioned script,
//! in description order, again whenever their checksum changes, never reverted; recorded in
//! `flyway_schema_history` as Flyway records them (version NULL, type `SQL`, a new row at the
//! next `installed_rank` each time). Checksums below were computed with an independent CRC-32
//! (Python's `zlib.crc32` over the script's lines without their line breaks).

use crate::support;

use std::path::Path;

use support::{Workspace, postgres, sqlite_query};

const A_COUNTS: &str =
    "DROP VIEW IF EXISTS a_counts;\nCREATE VIEW a_counts AS SELECT count(*) AS n FROM users;\n";
const A_COUNTS_CRC: &str = "-341173528";
const USER_NAMES: &str =
    "DROP VIEW IF EXISTS user_names;\nCREATE VIEW user_names AS SELECT name FROM users;\n";
const USER_NAMES_CRC: &str = "-1823359598";
const USER_NAMES_CHANGED: &str = "DROP VIEW IF EXISTS user_names;\nCREATE VIEW user_names AS SELECT name AS full_name FROM users;\n";
const USER_NAMES_CHANGED_CRC: &str = "-1832576459";

const ROWS_SQL: &str = "SELECT CAST(installed_rank AS TEXT), version, description, type, script, CAST(checksum AS TEXT), CAST(success AS TEXT) FROM flyway_schema_history ORDER BY installed_rank";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

fn run(ws: &Workspace, url: &str, args: &[&str]) -> support::Outcome {
    let mut all = vec![args[0], "--dir", "sql", "--config", "migrate.toml"];
    all.extend(["--database-url", url]);
    all.extend(&args[1..]);
    ws.run(&all)
}

fn states(ws: &Workspace, url: &str) -> Vec<(String, String)> {
    let json = run(ws, url, &["status", "--format", "json"])
        .assert_code(0)
        .json();
    json["migrations"]
        .as_array()
        .unwrap_or_else(|| panic!("{json}"))
        .iter()
        .map(|m| {
            (
                m["version"].as_str().unwrap().to_string(),
                m["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A row as [`ROWS_SQL`] reads it; `success` as the database writes a true boolean.
fn row(
    rank: &str,
    version: Option<&str>,
    description: &str,
    script: &str,
    checksum: &str,
    truth: &str,
) -> Vec<Option<String>> {
    vec![
        Some(rank.into()),
        version.map(str::to_string),
        Some(description.into()),
        Some("SQL".into()),
        Some(script.into()),
        Some(checksum.into()),
        Some(truth.into()),
    ]
}

fn lifecycle(dialect: &str, pg: Option<&support::Pg>, url: &str) {
    let rows = |sql: &str| match pg {
        Some(pg) => pg.query(url, sql),
        None => sqlite_query(url, sql),
    };
    let truth = if pg.is_some() { "true" } else { "1" };
    let ws = Workspace::empty();
    let dir = ws.path().join("sql");
    write(
        ws.path(),
        "migrate.toml",
        &format!("dialect = \"{dialect}\"\n"),
    );
    write(
        &dir,
        "V1__create_users.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n",
    );
    write(&dir, "R__user_names.sql", USER_NAMES);
    write(&dir, "R__a_counts.sql", A_COUNTS);

    let json = ws
        .run(&[
            "list",
            "--dir",
            "sql",
            "--config",
            "migrate.toml",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(json["sets"][0]["layout"], "flyway", "{json}");
    assert_eq!(json["sets"][0]["migrations"], 3, "{json}");
    assert_eq!(
        states(&ws, url),
        pairs(&[
            ("1", "pending"),
            ("R__a_counts", "pending"),
            ("R__user_names", "pending")
        ])
    );

    run(&ws, url, &["up"]).assert_code(0);
    let v1 = row(
        "1",
        Some("1"),
        "create users",
        "V1__create_users.sql",
        "-2117012475",
        truth,
    );
    let a = row(
        "2",
        None,
        "a counts",
        "R__a_counts.sql",
        A_COUNTS_CRC,
        truth,
    );
    let names = row(
        "3",
        None,
        "user names",
        "R__user_names.sql",
        USER_NAMES_CRC,
        truth,
    );
    let mut expected = vec![v1.clone(), a.clone(), names.clone()];
    let got = rows(ROWS_SQL);
    // V1's checksum is checked by tests/formats_flyway.rs; here only its place.
    assert_eq!(got.len(), 3, "{got:?}");
    expected[0][5] = got[0][5].clone();
    assert_eq!(got, expected);
    assert!(states(&ws, url).iter().all(|(_, s)| s == "applied"));

    // Nothing changed: nothing runs again.
    run(&ws, url, &["up"]).assert_code(0);
    assert_eq!(rows(ROWS_SQL).len(), 3);

    // A new versioned script is not out of order because repeatables were applied after V1.
    write(
        &dir,
        "V2__add_email.sql",
        "ALTER TABLE users ADD COLUMN email TEXT;\n",
    );
    write(
        &dir,
        "U2__add_email.sql",
        "ALTER TABLE users DROP COLUMN email;\n",
    );
    assert_eq!(states(&ws, url)[1], ("2".into(), "pending".into()));
    run(&ws, url, &["up"]).assert_code(0);
    assert_eq!(rows(ROWS_SQL).len(), 4);

    // A changed repeatable is pending again; `up` adds a row at the next rank.
    write(&dir, "R__user_names.sql", USER_NAMES_CHANGED);
    assert_eq!(
        states(&ws, url).last().unwrap(),
        &("R__user_names".to_string(), "pending".to_string())
    );
    run(&ws, url, &["up"]).assert_code(0);
    let got = rows(ROWS_SQL);
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(
        got[4],
        row(
            "5",
            None,
            "user names",
            "R__user_names.sql",
            USER_NAMES_CHANGED_CRC,
            truth
        )
    );
    assert!(states(&ws, url).iter().all(|(_, s)| s == "applied"));
    assert_eq!(rows("SELECT full_name FROM user_names").len(), 0);

    // `down` reverts versioned scripts only.
    run(&ws, url, &["down", "--yes"]).assert_code(0);
    let now = states(&ws, url);
    assert_eq!(
        now,
        pairs(&[
            ("1", "applied"),
            ("2", "pending"),
            ("R__a_counts", "applied"),
            ("R__user_names", "applied")
        ])
    );

    // A history of whole-number versions cannot record a repeatable.
    write(
        ws.path(),
        "migrate.toml",
        &format!("dialect = \"{dialect}\"\nhistory = \"sqlx\"\n"),
    );
    let outcome = run(&ws, url, &["up"]);
    assert_ne!(outcome.code, 0);
    assert!(outcome.stderr.contains("repeatable"), "{}", outcome.stderr);
}

#[test]
fn flyway_repeatables_on_sqlite() {
    let db = tempfile::NamedTempFile::new().unwrap();
    let url = format!("sqlite:{}", db.path().display());
    lifecycle("sqlite", None, &url);
}

#[test]
fn flyway_repeatables_on_postgres() {
    let Some(pg) = postgres() else {
        return;
    };
    let url = pg.database("repeatables");
    lifecycle("postgres", Some(&pg), &url);
}

/// `check` replays a set with repeatables on a scratch database (in cargo-migrate's own
/// history, which records a repeatable script as one row it replaces when re-applied).
#[test]
fn check_replays_repeatables() {
    let ws = Workspace::empty();
    let dir = ws.path().join("sql");
    write(ws.path(), "migrate.toml", "dialect = \"sqlite\"\n");
    write(
        &dir,
        "V1__create_users.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n",
    );
    write(&dir, "U1__create_users.sql", "DROP TABLE users;\n");
    write(&dir, "R__a_counts.sql", A_COUNTS);
    let outcome = ws.run(&["check", "--dir", "sql", "--config", "migrate.toml"]);
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
}
