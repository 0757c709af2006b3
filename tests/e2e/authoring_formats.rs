//! Authoring into the other tools' formats: `new --from-drift` on SQLite writes the new
//! migration in the set's own format (dbmate, goose, Flyway, Prisma, Drizzle with its journal
//! entry, golang-migrate, refinery), and the set reads it back: `list` counts it, `check`
//! passes, and `up` of the whole set gives the changed database's schema.

use crate::support;

use support::{Workspace, fixture, sqlite_query};

/// A set's files: (name, contents); empty: the fixture of the format's name.
type Files = &'static [(&'static str, &'static str)];

/// (format, layout setting, files of a two-step set)
const SETS: &[(&str, Option<&str>, Files)] = &[
    ("dbmate", None, &[]),
    ("goose", None, &[]),
    ("drizzle", None, &[]),
    ("prisma", None, &[]),
    (
        "flyway",
        None,
        &[
            (
                "V1__create_users.sql",
                "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
            ),
            ("U1__create_users.sql", "DROP TABLE users;\n"),
            (
                "V2__add_email.sql",
                "ALTER TABLE users ADD COLUMN email TEXT;\n",
            ),
            (
                "U2__add_email.sql",
                "ALTER TABLE users DROP COLUMN email;\n",
            ),
        ],
    ),
    (
        "golang-migrate",
        Some("golang-migrate"),
        &[
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
        ],
    ),
    (
        "refinery",
        Some("refinery"),
        &[
            (
                "V1__create_users.sql",
                "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
            ),
            (
                "V2__add_email.sql",
                "ALTER TABLE users ADD COLUMN email TEXT;\n",
            ),
        ],
    ),
];

/// The set in `migrations/` with a `migrate.toml` naming SQLite (and the layout where it is
/// not detected); the fixtures' PostgreSQL provider and journal dialect set to SQLite.
fn workspace(format: &str, layout: Option<&str>, files: &[(&str, &str)]) -> Workspace {
    let ws = Workspace::empty();
    let dir = ws.path().join("migrations");
    if files.is_empty() {
        support::copy_dir(&fixture("formats").join(format), &dir);
        for (file, from, to) in [
            ("migration_lock.toml", "\"postgresql\"", "\"sqlite\""),
            ("meta/_journal.json", "\"postgresql\"", "\"sqlite\""),
        ] {
            let path = dir.join(file);
            if let Ok(text) = std::fs::read_to_string(&path) {
                std::fs::write(&path, text.replace(from, to)).unwrap();
            }
        }
    } else {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, body) in files {
            std::fs::write(dir.join(name), body).unwrap();
        }
    }
    let mut config = "dialect = \"sqlite\"\n".to_string();
    if let Some(layout) = layout {
        config.push_str(&format!("layout = \"{layout}\"\n"));
    }
    std::fs::write(ws.path().join("migrate.toml"), config).unwrap();
    ws
}

fn run(ws: &Workspace, command: &[&str]) -> support::Outcome {
    let mut args = vec!["--dir", "migrations", "--config", "migrate.toml"];
    args.extend_from_slice(command);
    ws.run(&args)
}

fn read(ws: &Workspace, file: &str) -> String {
    std::fs::read_to_string(ws.path().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn from_drift_writes_each_format_and_the_set_reads_it_back() {
    for (format, layout, files) in SETS {
        let ws = workspace(format, *layout, files);
        let url = format!("sqlite:{}?mode=rwc", ws.path().join("dev.db").display());
        run(&ws, &["up", "--database-url", &url]).assert_code(0);
        let listed = run(&ws, &["list", "--format", "json"])
            .assert_code(0)
            .json();
        assert_eq!(listed["sets"][0]["layout"], *format, "{listed}");
        let count = listed["sets"][0]["migrations"].as_u64().unwrap();
        sqlite_query(
            &url,
            "CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL)",
        );
        sqlite_query(&url, "CREATE INDEX tags_label ON tags (label)");
        let before = ws.files();
        let out = run(
            &ws,
            &["new", "add_tags", "--from-drift", "--database-url", &url],
        )
        .assert_code(0);
        assert!(out.stderr.contains("Verified"), "{format}: {}", out.stderr);
        let created: Vec<String> = ws
            .files()
            .into_iter()
            .filter(|f| !before.contains(f) && !f.starts_with("dev.db"))
            .collect();
        let up_file = |suffix: &str| {
            created
                .iter()
                .find(|f| f.ends_with(suffix))
                .unwrap_or_else(|| panic!("{format}: no {suffix} in {created:?}"))
                .clone()
        };
        match *format {
            "dbmate" => {
                let text = read(&ws, &up_file("_add_tags.sql"));
                assert!(text.contains("-- migrate:up"), "{text}");
                let down = text.split("-- migrate:down").nth(1).expect("down");
                assert!(down.contains("DROP TABLE"), "{text}");
                assert!(text.contains("CREATE TABLE"), "{text}");
            }
            "goose" => {
                let text = read(&ws, &up_file("00004_add_tags.sql"));
                assert!(text.contains("-- +goose Up"), "{text}");
                let down = text.split("-- +goose Down").nth(1).expect("down");
                assert!(down.contains("DROP TABLE"), "{text}");
            }
            "drizzle" => {
                let text = read(&ws, &up_file("0002_add_tags.sql"));
                assert!(text.contains("CREATE TABLE"), "{text}");
                let journal = read(&ws, "migrations/meta/_journal.json");
                assert!(journal.contains("\"0002_add_tags\""), "{journal}");
            }
            "prisma" => {
                let text = read(&ws, &up_file("_add_tags/migration.sql"));
                assert!(text.contains("CREATE TABLE"), "{text}");
            }
            "flyway" => {
                assert!(read(&ws, "migrations/V3__add_tags.sql").contains("CREATE TABLE"));
                assert!(read(&ws, "migrations/U3__add_tags.sql").contains("DROP TABLE"));
            }
            "golang-migrate" => {
                assert!(read(&ws, &up_file("3_add_tags.up.sql")).contains("CREATE TABLE"));
                assert!(read(&ws, &up_file("3_add_tags.down.sql")).contains("DROP TABLE"));
            }
            "refinery" => {
                assert!(read(&ws, "migrations/V3__add_tags.sql").contains("CREATE TABLE"));
            }
            other => panic!("{other}"),
        }
        // Read back: one more migration of the same format, the gate passes, and the whole
        // set applied to a fresh database gives the changed one's schema.
        let listed = run(&ws, &["list", "--format", "json"])
            .assert_code(0)
            .json();
        assert_eq!(listed["sets"][0]["layout"], *format, "{listed}");
        assert_eq!(
            listed["sets"][0]["migrations"],
            count + 1,
            "{format}: {listed}"
        );
        let checked = run(&ws, &["check"]);
        assert_eq!(
            checked.code, 0,
            "{format}: {}\n{}",
            checked.stdout, checked.stderr
        );
        let fresh = format!("sqlite:{}?mode=rwc", ws.path().join("fresh.db").display());
        run(&ws, &["up", "--database-url", &fresh]).assert_code(0);
        let diff = run(&ws, &["diff", "--from", &fresh, "--to", &url]);
        assert_eq!(diff.code, 0, "{format}: {}\n{}", diff.stdout, diff.stderr);
    }
}
