//! Histories split into numbered sub-folders (`subfolders`), and migrations wrapped whole in
//! `BEGIN; … COMMIT;` in every format: the real binary on SQLite files and a throw-away
//! PostgreSQL cluster.

use crate::support;

use std::path::Path;

use support::{Workspace, postgres, sqlite_query};

fn write(root: &Path, name: &str, text: &str) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `--dir m --config migrate.toml` plus `args`.
fn run(ws: &Workspace, args: &[&str]) -> support::Outcome {
    let mut all = vec![args[0], "--dir", "m", "--config", "migrate.toml"];
    all.extend(&args[1..]);
    ws.run(&all)
}

/// `status --format json`: each migration's (version, state).
fn states(ws: &Workspace, url: &str) -> Vec<(String, String)> {
    let json = run(ws, &["status", "--database-url", url, "--format", "json"])
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

fn rows(pg: Option<&support::Pg>, url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    match pg {
        Some(pg) => pg.query(url, sql),
        None => sqlite_query(url, sql),
    }
}

fn has_table(pg: Option<&support::Pg>, url: &str, table: &str) -> bool {
    let sql = match pg {
        Some(_) => format!("SELECT tablename FROM pg_tables WHERE tablename = '{table}'"),
        None => format!("SELECT name FROM sqlite_master WHERE name = '{table}'"),
    };
    !rows(pg, url, &sql).is_empty()
}

/// A set in numbered sub-folders, read folder by folder (`10/` after `2/`), applied,
/// extended with `new` (into the newest folder), reverted and re-applied; a wrapped migration
/// that fails leaves neither its table nor an applied row.
fn nested_lifecycle(dialect: &str, pg: Option<&support::Pg>, url: &str) {
    let ws = Workspace::empty();
    let m = ws.path().join("m");
    write(
        ws.path(),
        "migrate.toml",
        &format!("dialect = \"{dialect}\"\nsubfolders = \"*\"\n"),
    );
    write(&m, "1/01_users.up.sql", "CREATE TABLE users (id int);\n");
    write(&m, "1/01_users.down.sql", "DROP TABLE users;\n");
    write(
        &m,
        "1/02_names.up.sql",
        "BEGIN;\nCREATE TABLE names (id int);\nINSERT INTO names VALUES (1);\nCOMMIT;\n",
    );
    write(&m, "1/02_names.down.sql", "DROP TABLE names;\n");
    write(&m, "10/01_late.up.sql", "CREATE TABLE late (id int);\n");
    write(&m, "10/01_late.down.sql", "DROP TABLE late;\n");
    write(&m, "2/01_orders.up.sql", "CREATE TABLE orders (id int);\n");
    write(&m, "2/01_orders.down.sql", "DROP TABLE orders;\n");
    write(&m, "README.md", "not a migration\n");

    let json = run(&ws, &["list", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(json["sets"][0]["layout"], "sqlx", "{json}");
    assert_eq!(json["sets"][0]["migrations"], 4, "{json}");
    let order: Vec<String> = states(&ws, url).into_iter().map(|(v, _)| v).collect();
    assert_eq!(order, ["1/01", "1/02", "2/01", "10/01"]);

    run(&ws, &["up", "--database-url", url]).assert_code(0);
    let versions: Vec<String> = rows(
        pg,
        url,
        "SELECT version FROM _cargo_migrate WHERE success ORDER BY applied_at, version",
    )
    .into_iter()
    .map(|mut r| r.remove(0).unwrap())
    .collect();
    let mut sorted = versions.clone();
    sorted.sort();
    assert_eq!(sorted, ["1/01", "1/02", "10/01", "2/01"]);
    assert!(has_table(pg, url, "names"));

    // `new` continues the newest folder's numbering.
    run(&ws, &["new", "add_tags"]).assert_code(0);
    let files = ws.files();
    assert!(
        files.contains(&"m/10/02_add_tags.up.sql".to_string()),
        "{files:?}"
    );
    std::fs::write(
        m.join("10/02_add_tags.up.sql"),
        "CREATE TABLE tags (id int);\n",
    )
    .unwrap();
    std::fs::write(m.join("10/02_add_tags.down.sql"), "DROP TABLE tags;\n").unwrap();
    run(&ws, &["up", "--database-url", url]).assert_code(0);
    let states_now = states(&ws, url);
    assert_eq!(states_now.len(), 5, "{states_now:?}");
    assert!(
        states_now.iter().all(|(_, s)| s == "applied"),
        "{states_now:?}"
    );
    assert_eq!(states_now[4].0, "10/02");

    run(&ws, &["down", "--all", "--yes", "--database-url", url]).assert_code(0);
    assert!(states(&ws, url).iter().all(|(_, s)| s == "pending"));
    assert!(!has_table(pg, url, "users"));

    // A wrapped migration failing at its last statement: all or nothing, history row included.
    write(
        &m,
        "10/03_broken.up.sql",
        "BEGIN;\nCREATE TABLE broken (id int);\nINSERT INTO missing_table VALUES (1);\nCOMMIT;\n",
    );
    run(&ws, &["up", "--database-url", url]).assert_code(1);
    assert!(!has_table(pg, url, "broken"));
    let last = states(&ws, url).pop().unwrap();
    assert_eq!(last.0, "10/03");
    assert_ne!(last.1, "applied");
    assert!(has_table(pg, url, "tags"));
}

#[test]
fn nested_folders_on_sqlite() {
    let db = tempfile::NamedTempFile::new().unwrap();
    let url = format!("sqlite:{}", db.path().display());
    nested_lifecycle("sqlite", None, &url);
}

#[test]
fn nested_folders_on_postgres() {
    let Some(pg) = postgres() else {
        return;
    };
    let url = pg.database("nested");
    nested_lifecycle("postgres", Some(&pg), &url);
}

/// Folders that do not fit the configured pattern, and a numbered tree read without the
/// setting, are refused with the setting named.
#[test]
fn nested_folders_errors_name_the_setting() {
    let ws = Workspace::empty();
    let m = ws.path().join("m");
    write(ws.path(), "migrate.toml", "dialect = \"sqlite\"\n");
    write(&m, "1/01_a.up.sql", "SELECT 1;\n");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert!(
        outcome
            .stderr
            .contains("`subfolders = \"*\"` in the --config file"),
        "{}",
        outcome.stderr
    );
    write(
        ws.path(),
        "migrate.toml",
        "dialect = \"sqlite\"\nsubfolders = \"*\"\n",
    );
    write(&m, "02_stray.up.sql", "SELECT 1;\n");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert!(
        outcome
            .stderr
            .contains("`02_stray.up.sql` is not a sub-folder matching"),
        "{}",
        outcome.stderr
    );
    std::fs::remove_file(m.join("02_stray.up.sql")).unwrap();
    write(&m, "v/01_b.up.sql", "SELECT 1;\n");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert!(
        outcome.stderr.contains("has no number to order it by"),
        "{}",
        outcome.stderr
    );
}

/// A two-migration set in `format` whose second migration is wrapped whole in
/// `BEGIN; … COMMIT;` and ends with `last`: (files, config lines).
fn wrapped_set(format: &str, last: &str) -> (Vec<(String, String)>, &'static str) {
    let first = "CREATE TABLE first_one (id int);\n";
    let second = format!("BEGIN;\nCREATE TABLE wrapped (id int);\n{last};\nCOMMIT;\n");
    let files: Vec<(&str, String)> = match format {
        "directory" => vec![("1_a/up.sql", first.into()), ("2_b/up.sql", second)],
        "sqlx" => vec![("1_a.sql", first.into()), ("2_b.sql", second)],
        "golang-migrate" => vec![("1_a.up.sql", first.into()), ("2_b.up.sql", second)],
        "flyway" | "refinery" => vec![("V1__a.sql", first.into()), ("V2__b.sql", second)],
        "dbmate" => vec![
            (
                "1_a.sql",
                format!("-- migrate:up\n{first}-- migrate:down\n"),
            ),
            (
                "2_b.sql",
                format!("-- migrate:up\n{second}-- migrate:down\n"),
            ),
        ],
        "goose" => vec![
            ("1_a.sql", format!("-- +goose Up\n{first}")),
            ("2_b.sql", format!("-- +goose Up\n{second}")),
        ],
        "prisma" => vec![
            ("migration_lock.toml", "provider = \"sqlite\"\n".into()),
            ("20240101000000_a/migration.sql", first.into()),
            ("20240102000000_b/migration.sql", second),
        ],
        "drizzle" => vec![
            (
                "meta/_journal.json",
                r#"{"version":"7","dialect":"sqlite","entries":[
                {"idx":0,"version":"6","when":1704067200000,"tag":"0000_a","breakpoints":true},
                {"idx":1,"version":"6","when":1704153600000,"tag":"0001_b","breakpoints":true}]}"#
                    .into(),
            ),
            ("0000_a.sql", first.into()),
            ("0001_b.sql", second),
        ],
        other => panic!("{other}"),
    };
    let config = match format {
        "golang-migrate" => "layout = \"golang-migrate\"\n",
        "refinery" => "layout = \"refinery\"\n",
        "dbmate" => "layout = \"dbmate\"\n",
        _ => "",
    };
    (
        files
            .into_iter()
            .map(|(name, text)| (name.to_string(), text))
            .collect(),
        config,
    )
}

/// In every format, a migration wrapped whole in `BEGIN; … COMMIT;` runs in one transaction
/// with its history row: applied with the row when it succeeds, leaving neither its table nor
/// an applied row when its last statement fails.
#[test]
fn wrapped_migrations_are_atomic_in_every_format() {
    for format in [
        "directory",
        "sqlx",
        "golang-migrate",
        "flyway",
        "refinery",
        "dbmate",
        "goose",
        "prisma",
        "drizzle",
    ] {
        for (last, succeeds) in [
            ("INSERT INTO wrapped VALUES (1)", true),
            ("INSERT INTO missing_table VALUES (1)", false),
        ] {
            let ws = Workspace::empty();
            let (files, config) = wrapped_set(format, last);
            for (name, text) in &files {
                write(&ws.path().join("m"), name, text);
            }
            write(
                ws.path(),
                "migrate.toml",
                &format!("dialect = \"sqlite\"\n{config}"),
            );
            let db = ws.path().join("app.db");
            let url = format!("sqlite:{}?mode=rwc", db.display());
            let outcome = run(&ws, &["up", "--database-url", &url]);
            let states = states(&ws, &url);
            if succeeds {
                outcome.assert_code(0);
                assert!(
                    states.iter().all(|(_, s)| s == "applied"),
                    "{format}: {states:?}"
                );
                assert!(has_table(None, &url, "wrapped"), "{format}");
            } else {
                outcome.assert_code(1);
                assert_eq!(states[0].1, "applied", "{format}: {states:?}");
                assert_ne!(states[1].1, "applied", "{format}: {states:?}");
                assert!(!has_table(None, &url, "wrapped"), "{format}");
                assert!(has_table(None, &url, "first_one"), "{format}");
            }
        }
    }
}
