//! Authoring from a change, end to end through the binary on real databases: `new
//! --from-drift`, `new --to FILE` and a configured `schema`, renames and destructive steps,
//! `schema --write/--check`, on SQLite and PostgreSQL (scratch with `--sandbox local`).

use crate::support;

use support::{Workspace, sqlite_query};

fn sqlite_url(ws: &Workspace, file: &str) -> String {
    format!("sqlite:{}", ws.path().join(file).display())
}

/// Names of the migration directories (directory layout), sorted.
fn migration_dirs(ws: &Workspace) -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(ws.path().join("migrations"))
        .expect("migrations dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    dirs
}

fn read(ws: &Workspace, dir_suffix: &str, file: &str) -> String {
    let dir = migration_dirs(ws)
        .into_iter()
        .find(|d| d.ends_with(dir_suffix))
        .unwrap_or_else(|| panic!("no migration {dir_suffix}"));
    std::fs::read_to_string(ws.path().join("migrations").join(dir).join(file)).expect("read")
}

/// A SQLite workspace with its history applied to `dev.db`.
fn sqlite_workspace() -> (Workspace, String) {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = sqlite_url(&ws, "dev.db");
    ws.run(&["up", "--database-url", &url]).assert_code(0);
    (ws, url)
}

#[test]
fn sqlite_from_drift_writes_a_verified_migration_that_check_accepts() {
    let (ws, url) = sqlite_workspace();
    sqlite_query(&url, "ALTER TABLE users ADD COLUMN bio TEXT");
    sqlite_query(&url, "CREATE INDEX users_bio ON users (bio)");
    let out = ws
        .run(&["new", "add_bio", "--from-drift", "--database-url", &url])
        .assert_code(0);
    assert!(
        out.stderr
            .contains("Verified up reaches the target, down returns"),
        "{}",
        out.stderr
    );
    let up = read(&ws, "_add_bio", "up.sql");
    let down = read(&ws, "_add_bio", "down.sql");
    assert!(up.contains("bio"), "{up}");
    // SQLite drops a column by rebuilding the table (its index goes with it).
    assert!(down.contains("_new_users"), "{down}");
    // The written migration passes the gate: replay, reversibility.
    ws.run(&["check"]).assert_code(0);
    // The database already has it: recorded as applied, `up` has nothing to do.
    assert!(out.stderr.contains("--applied"), "{}", out.stderr);
    let version = migration_dirs(&ws)
        .into_iter()
        .find(|d| d.ends_with("_add_bio"))
        .and_then(|d| d.split('_').next().map(str::to_string))
        .expect("version");
    ws.run(&["resolve", &version, "--applied", "--database-url", &url])
        .assert_code(0);
    ws.run(&["status", "--database-url", &url, "--exit-code"])
        .assert_code(0);
    // The history now describes the database.
    ws.run(&["diff", "--from", "history", "--to", &url])
        .assert_code(0);
}

#[test]
fn sqlite_from_drift_without_a_difference_writes_nothing() {
    let (ws, url) = sqlite_workspace();
    let before = ws.files();
    let out = ws
        .run(&["new", "nothing", "--from-drift", "--database-url", &url])
        .assert_code(0);
    assert!(
        out.stderr.contains("no changes; nothing written"),
        "{}",
        out.stderr
    );
    assert_eq!(ws.files(), before);
}

#[test]
fn from_drift_without_a_source_names_the_three_ways() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let out = ws
        .run(&["new", "add_bio", "--from-drift", "--format", "json"])
        .assert_code(2);
    let report = out.json();
    assert_eq!(report["error"]["code"], "no-database-url", "{report}");
    let hint = report["error"]["hint"].as_str().unwrap_or_default();
    for way in ["db start", "--database-url", "--to FILE"] {
        assert!(hint.contains(way), "{hint}");
    }
}

#[test]
fn an_existing_name_is_refused_before_any_database_work() {
    let (ws, url) = sqlite_workspace();
    sqlite_query(&url, "ALTER TABLE users ADD COLUMN bio TEXT");
    let out = ws
        .run(&[
            "new",
            "create_users",
            "--from-drift",
            "--database-url",
            &url,
            "--format",
            "json",
        ])
        .assert_code(2);
    assert_eq!(out.json()["error"]["code"], "duplicate-name");
}

#[test]
fn sqlite_schema_file_and_configured_schema() {
    let (ws, _) = sqlite_workspace();
    let schema = "\
CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE, name TEXT);
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT ''
);
CREATE INDEX posts_user_id ON posts (user_id);
CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE);
";
    std::fs::create_dir_all(ws.path().join("db")).expect("mkdir");
    std::fs::write(ws.path().join("db/schema.sql"), schema).expect("write");
    // `diff --to FILE` shows the same difference.
    let out = ws
        .run(&["diff", "--to", "db/schema.sql", "--sql"])
        .assert_code(1);
    assert!(out.stdout.contains("body"), "{}", out.stdout);
    ws.run(&["new", "add_body", "--to", "db/schema.sql"])
        .assert_code(0);
    assert!(read(&ws, "_add_body", "up.sql").contains("body"));
    ws.run(&["check"]).assert_code(0);
    // Configured: `new NAME` diffs against it; the history now matches, so nothing to write.
    let manifest = ws.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        text.replace(
            "dialect = \"sqlite\"",
            "dialect = \"sqlite\"\nschema = \"db/schema.sql\"",
        ),
    )
    .expect("manifest");
    ws.run(&["diff", "--to", "schema"]).assert_code(0);
    let out = ws.run(&["new", "again"]).assert_code(0);
    assert!(
        out.stderr.contains("no changes; nothing written"),
        "{}",
        out.stderr
    );
    // A template still works when asked for by name.
    ws.run(&["new", "by_hand", "--template", "default"])
        .assert_code(0);
}

#[test]
fn a_schema_file_that_does_not_load_is_located_at_file_line_col() {
    let (ws, _) = sqlite_workspace();
    let before = ws.files();
    std::fs::write(
        ws.path().join("schema.sql"),
        "CREATE TABLE a (id INTEGER);\n\nCREATE TABLE b (id INTEGER REFERENCES);\n",
    )
    .expect("write");
    let after_write = ws.files();
    let out = ws
        .run(&["new", "broken", "--to", "schema.sql", "--format", "json"])
        .assert_code(2);
    let report = out.json();
    assert_eq!(report["error"]["code"], "bad-schema-file", "{report}");
    let location = report["error"]["location"].as_str().unwrap_or_default();
    assert!(location.starts_with("schema.sql:3:"), "{location}");
    assert_eq!(ws.files(), after_write);
    assert_ne!(before, after_write);
}

#[test]
fn sqlite_renames_and_destructive_steps() {
    let (ws, url) = sqlite_workspace();
    sqlite_query(&url, "ALTER TABLE users RENAME COLUMN name TO full_name");
    // Without a terminal or --rename: drop + add, a warning, and the drop needs consent.
    let before = ws.files();
    let out = ws
        .run(&["new", "rename_name", "--from-drift", "--database-url", &url])
        .assert_code(2);
    assert!(
        out.stderr.contains("--rename users.name=users.full_name"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("confirmation-required") || out.stderr.contains("lose data"));
    assert_eq!(ws.files(), before);
    // Told it is a rename: a RENAME COLUMN, no data lost, both ways verified.
    let out = ws
        .run(&[
            "new",
            "rename_name",
            "--from-drift",
            "--database-url",
            &url,
            "--rename",
            "users.name=users.full_name",
        ])
        .assert_code(0);
    assert!(out.stderr.contains("Verified"), "{}", out.stderr);
    let up = read(&ws, "_rename_name", "up.sql");
    assert!(up.contains("RENAME COLUMN"), "{up}");
    assert!(!up.contains("destructive"), "{up}");
    assert!(read(&ws, "_rename_name", "down.sql").contains("RENAME COLUMN"));
    ws.run(&["check"]).assert_code(0);

    // A dropped table is destructive: written with --allow-destructive, and marked.
    sqlite_query(&url, "DROP TABLE tags");
    ws.run(&[
        "new",
        "drop_tags",
        "--from-drift",
        "--database-url",
        &url,
        "--allow-destructive",
    ])
    .assert_code(0);
    let up = read(&ws, "_drop_tags", "up.sql");
    assert!(up.contains("-- destructive:"), "{up}");
    ws.run(&["check"]).assert_code(0);
}

#[test]
fn a_bad_rename_is_a_usage_error() {
    let (ws, url) = sqlite_workspace();
    sqlite_query(&url, "ALTER TABLE users ADD COLUMN bio TEXT");
    for rename in ["users.name", "users.nope=users.bio"] {
        let out = ws
            .run(&[
                "new",
                "x",
                "--from-drift",
                "--database-url",
                &url,
                "--rename",
                rename,
                "--format",
                "json",
            ])
            .assert_code(2);
        assert_eq!(out.json()["error"]["code"], "bad-argument", "{rename}");
    }
}

#[test]
fn sqlite_schema_write_and_check() {
    let (ws, url) = sqlite_workspace();
    ws.run(&["schema", "--write", "db/schema.txt"])
        .assert_code(0);
    let written = std::fs::read_to_string(ws.path().join("db/schema.txt")).expect("written");
    assert!(written.contains("tags"), "{written}");
    ws.run(&["schema", "--check", "db/schema.txt"])
        .assert_code(0);
    // A new migration without the file rewritten: exit 1 with a diff.
    sqlite_query(&url, "ALTER TABLE users ADD COLUMN bio TEXT");
    ws.run(&["new", "add_bio", "--from-drift", "--database-url", &url])
        .assert_code(0);
    let out = ws
        .run(&["schema", "--check", "db/schema.txt"])
        .assert_code(1);
    assert!(
        out.stdout.contains("+") && out.stdout.contains("bio"),
        "{}",
        out.stdout
    );
    // Configured `schema-file`: --write and --check take it, and so does `check`.
    let manifest = ws.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        text.replace(
            "dialect = \"sqlite\"",
            "dialect = \"sqlite\"\nschema-file = \"db/schema.txt\"",
        ),
    )
    .expect("manifest");
    ws.run(&["check"]).assert_code(1);
    ws.run(&["schema", "--write"]).assert_code(0);
    ws.run(&["schema", "--check"]).assert_code(0);
    ws.run(&["check"]).assert_code(0);
}

#[test]
fn schema_check_of_a_missing_file_fails() {
    let (ws, _) = sqlite_workspace();
    let out = ws
        .run(&["schema", "--check", "nope.txt", "--format", "json"])
        .assert_code(1);
    assert_eq!(out.json()["error"]["code"], "schema-differs");
    let out = ws
        .run(&["schema", "--write", "--format", "json"])
        .assert_code(2);
    assert_eq!(out.json()["error"]["code"], "bad-argument");
}

fn pg_workspace(pg: &support::Pg, name: &str) -> (Workspace, String) {
    let ws = Workspace::copy("check-pg");
    let url = pg.database(name);
    ws.run(&["up", "--database-url", &url]).assert_code(0);
    (ws, url)
}

#[test]
fn postgres_from_drift_and_schema_file() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let (ws, url) = pg_workspace(&pg, "author_drift");
    pg.execute(
        &url,
        "ALTER TABLE users ADD COLUMN bio text NOT NULL DEFAULT '';\
         CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
           user_id bigint REFERENCES users (id), body text);\
         CREATE INDEX notes_user ON notes (user_id);",
    );
    let out = ws
        .run(&[
            "--sandbox",
            "local",
            "new",
            "add_notes",
            "--from-drift",
            "--database-url",
            &url,
        ])
        .assert_code(0);
    assert!(out.stderr.contains("Verified"), "{}", out.stderr);
    ws.run(&["--sandbox", "local", "check"]).assert_code(0);
    ws.run(&["--sandbox", "local", "diff", "--to", &url])
        .assert_code(0);

    // The locked schema file, then a desired-state file on top of it.
    ws.run(&["--sandbox", "local", "schema", "--write", "schema.txt"])
        .assert_code(0);
    ws.run(&["--sandbox", "local", "schema", "--check", "schema.txt"])
        .assert_code(0);
    let (_, history) = pg_dump_like(&ws);
    let wanted = format!(
        "{history}\nCREATE TABLE audit (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());\n"
    );
    std::fs::write(ws.path().join("wanted.sql"), wanted).expect("write");
    let out = ws
        .run(&[
            "--sandbox",
            "local",
            "new",
            "add_audit",
            "--to",
            "wanted.sql",
        ])
        .assert_code(0);
    assert!(out.stderr.contains("Verified"), "{}", out.stderr);
    ws.run(&["--sandbox", "local", "check"]).assert_code(0);
    ws.run(&["--sandbox", "local", "schema", "--check", "schema.txt"])
        .assert_code(1);
}

/// The history's whole schema as SQL: every migration's up, concatenated in order.
fn pg_dump_like(ws: &Workspace) -> (Vec<String>, String) {
    let dirs = migration_dirs(ws);
    let mut sql = String::new();
    for dir in &dirs {
        let up = std::fs::read_to_string(ws.path().join("migrations").join(dir).join("up.sql"))
            .expect("up");
        // A no-transaction directive means nothing in a schema file.
        sql.push_str(&up.replace("CONCURRENTLY", ""));
        sql.push('\n');
    }
    (dirs, sql)
}

#[test]
fn postgres_rename_table_with_flag() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let (ws, url) = pg_workspace(&pg, "author_rename");
    pg.execute(
        &url,
        "CREATE TABLE drafts (id bigint PRIMARY KEY, body text);",
    );
    ws.run(&[
        "--sandbox",
        "local",
        "new",
        "add_drafts",
        "--from-drift",
        "--database-url",
        &url,
    ])
    .assert_code(0);
    pg.execute(&url, "ALTER TABLE drafts RENAME TO sketches;");
    let out = ws
        .run(&[
            "--sandbox",
            "local",
            "new",
            "rename_drafts",
            "--from-drift",
            "--database-url",
            &url,
            "--rename",
            "drafts=sketches",
        ])
        .assert_code(0);
    assert!(out.stderr.contains("Verified"), "{}", out.stderr);
    let up = read(&ws, "_rename_drafts", "up.sql");
    assert!(up.contains("RENAME TO"), "{up}");
    ws.run(&["--sandbox", "local", "check"]).assert_code(0);
}

#[test]
fn postgres_incomplete_change_needs_allow_incomplete() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let (ws, url) = pg_workspace(&pg, "author_incomplete");
    pg.execute(
        &url,
        "DROP TABLE billing.invoices CASCADE;\
         CREATE TABLE billing.invoices (id bigint NOT NULL, issued_on date NOT NULL, \
           amount numeric(12, 2)) PARTITION BY LIST (issued_on);",
    );
    let before = ws.files();
    let out = ws
        .run(&[
            "--sandbox",
            "local",
            "new",
            "repartition",
            "--from-drift",
            "--database-url",
            &url,
            "--allow-destructive",
            "--format",
            "json",
        ])
        .assert_code(1);
    assert_eq!(out.json()["error"]["code"], "incomplete-migration");
    assert_eq!(ws.files(), before);
    ws.run(&[
        "--sandbox",
        "local",
        "new",
        "repartition",
        "--from-drift",
        "--database-url",
        &url,
        "--allow-destructive",
        "--allow-incomplete",
    ])
    .assert_code(0);
    let up = read(&ws, "_repartition", "up.sql");
    assert!(up.contains("-- cannot express:"), "{up}");
}

#[test]
fn postgres_workspace_set_with_package_flag() {
    if support::postgres().is_none() {
        return;
    }
    let ws = Workspace::copy("multi");
    std::fs::write(
        ws.path().join("billing.sql"),
        "CREATE TABLE invoices (id bigint PRIMARY KEY, total_cents bigint NOT NULL);\n\
         CREATE INDEX invoices_total ON invoices (total_cents);\n\
         CREATE TABLE refunds (id bigint PRIMARY KEY, invoice_id bigint REFERENCES invoices (id));\n",
    )
    .expect("write");
    let out = ws
        .run(&[
            "--sandbox",
            "local",
            "-p",
            "billing",
            "new",
            "add_refunds",
            "--to",
            "billing.sql",
        ])
        .assert_code(0);
    assert!(out.stderr.contains("Verified"), "{}", out.stderr);
    // The set's own layout: sqlx's single file (the set has no down scripts).
    let written: Vec<String> = ws
        .files()
        .into_iter()
        .filter(|f| f.contains("add_refunds"))
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(
        written[0].starts_with("crates/billing/db/migrations/3_add_refunds"),
        "{written:?}"
    );
    ws.run(&["--sandbox", "local", "-p", "billing", "check"])
        .assert_code(0);
}
