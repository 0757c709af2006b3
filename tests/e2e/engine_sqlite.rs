//! End-to-end tests of the database commands (`status`, `up`, `down`, `redo`, `reset`,
//! `resolve`, `baseline`) against real SQLite files: the real binary runs on copies of the
//! fixture workspaces (or workspaces generated here), and the database is read back with sqlx.
//!
//! Success paths are asserted on `--format json` and on the database itself; refusals and
//! failures are pinned with snapshots (durations, timestamps and temp paths filtered).

use crate::support;

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use serde_json::Value;
use support::{Outcome, Workspace, sqlite_query, sqlite_tables};

// ------------------------------------------------------------------------------- helpers

/// `sqlite:<absolute path>` of `file` in the workspace.
fn db_url(ws: &Workspace, file: &str) -> String {
    format!("sqlite:{}", ws.path().join(file).display())
}

/// The first column of every row, as text (`NULL` for null).
fn column(url: &str, sql: &str) -> Vec<String> {
    sqlite_query(url, sql)
        .into_iter()
        .map(|mut row| row.remove(0).unwrap_or_else(|| "NULL".to_string()))
        .collect()
}

/// How many rows `table` has.
fn count(url: &str, table: &str) -> usize {
    column(
        url,
        &format!("SELECT CAST(count(*) AS TEXT) FROM \"{table}\""),
    )[0]
    .parse()
    .expect("a count")
}

/// The versions recorded in our history table, in order.
fn history(url: &str) -> Vec<String> {
    column(url, "SELECT version FROM _cargo_migrate ORDER BY version")
}

/// Runs statements on the database as a user would by hand.
fn execute(url: &str, sql: &str) {
    use sqlx::Connection;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
}

/// Writes `text` to `relative` in the workspace, creating directories.
fn write(ws: &Workspace, relative: &str, text: &str) {
    let path = ws.path().join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).expect("create dir");
    std::fs::write(path, text).expect("write file");
}

/// The `version` of every object in a JSON array (`applied`, `reverted`, `migrations`).
fn versions(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|item| item["version"].as_str().expect("version").to_string())
        .collect()
}

/// `version: state` of every migration in `status --format json`.
fn states(ws: &Workspace, url: &str) -> Vec<String> {
    let json = ws
        .run(&["status", "--database-url", url, "--format", "json"])
        .assert_code(0)
        .json();
    json["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .map(|m| {
            format!(
                "{}: {}",
                m["version"].as_str().unwrap(),
                m["state"].as_str().unwrap()
            )
        })
        .collect()
}

/// Replaces what changes from run to run: durations, timestamps.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"\(\d+(\.\d+)? m?s\)", "([DURATION])"),
        (r" in \d+(\.\d+)? m?s", " in [DURATION]"),
        (
            r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?",
            "[TIMESTAMP]",
        ),
    ]
}

/// Pins an outcome (exit code, stdout, stderr) with the unstable parts filtered.
fn snapshot(name: &str, outcome: &Outcome) {
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!(name, outcome.snapshot());
    });
}

const LIFECYCLE: [&str; 4] = [
    "20240101000000",
    "20240102000000",
    "20240103000000",
    "20240104000000",
];

// ------------------------------------------------------------- creating, status, history

/// `status` only reads: on a file that does not exist it fails (exit 3) and says so, and the
/// file is still not there afterwards.
#[test]
fn status_on_a_missing_file_does_not_create_it() {
    let ws = Workspace::copy("sqlx-style");
    let url = db_url(&ws, "app.db");
    let outcome = ws.run(&["status", "--database-url", &url]).assert_code(3);
    assert!(
        !ws.path().join("app.db").exists(),
        "status created the file"
    );
    assert!(
        outcome.stderr.contains("does not exist"),
        "the message should say the file is missing: {}",
        outcome.stderr
    );
    let json = ws
        .run(&[
            "status",
            "--database-url",
            &url,
            "--exit-code",
            "--format",
            "json",
        ])
        .assert_code(3)
        .json();
    assert_eq!(json["error"]["code"], "database-unreachable");
    assert_eq!(
        json["error"]["message"],
        format!(
            "cannot connect to the database at {}: the database file does not exist \
             (commands that change the database, such as `up`, create it; `status` does not)",
            ws.path().join("app.db").display()
        )
    );
    assert_eq!(json["error"]["location"], url.as_str());
    assert!(
        !ws.path().join("app.db").exists(),
        "status created the file"
    );
    assert_eq!(
        ws.files().iter().filter(|f| f.contains("app.db")).count(),
        0
    );

    // `up` creates the file, not its directory.
    let url = db_url(&ws, "no-such-dir/app.db");
    let json = ws
        .run(&["up", "--database-url", &url, "--format", "json"])
        .assert_code(3)
        .run_json();
    assert_eq!(json["error"]["code"], "database-unreachable");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with(&format!(
            "the directory {} does not exist",
            ws.path().join("no-such-dir").display()
        )),
        "{message}"
    );
    assert!(!ws.path().join("no-such-dir").exists());
}

/// The hint under "the database file does not exist" should be about the file, not about a
/// server login.
#[test]
fn status_on_a_missing_file_hints_at_the_file() {
    let ws = Workspace::copy("sqlx-style");
    let url = db_url(&ws, "app.db");
    let json = ws
        .run(&["status", "--database-url", &url, "--format", "json"])
        .assert_code(3)
        .json();
    let hint = json["error"]["hint"].as_str().expect("a hint");
    assert!(
        !hint.contains("password") && !hint.contains("user"),
        "a SQLite file has no user or password: {hint}"
    );
}

/// `up` creates the file, records each migration in `_cargo_migrate` (version, name,
/// checksum, success), and `status`/`--exit-code` report the state.
#[test]
fn up_creates_the_file_and_records_the_history() {
    let ws = Workspace::copy("sqlx-style");
    let url = db_url(&ws, "app.db");
    let json = ws
        .run(&[
            "up",
            "--database-url",
            &url,
            "--to",
            "20240101000000",
            "--format",
            "json",
        ])
        .assert_code(0)
        .run_json();
    assert!(
        ws.path().join("app.db").is_file(),
        "up did not create the file"
    );
    assert_eq!(versions(&json["applied"]), ["20240101000000"]);
    assert_eq!(json["database"], url.as_str());
    assert_eq!(sqlite_tables(&url), ["_cargo_migrate", "notes"]);

    // One pending: --exit-code fails, plain status does not.
    let pending = ws
        .run(&["status", "--database-url", &url, "--exit-code"])
        .assert_code(1);
    assert!(
        pending
            .stderr
            .contains("not up to date: 1 pending, 0 modified, 0 missing, 0 failed"),
        "{}",
        pending.stderr
    );
    let status = ws
        .run(&["status", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["history_table"], "_cargo_migrate");
    assert_eq!(status["history_format"], "cargo-migrate");
    assert_eq!(
        status["summary"],
        serde_json::json!({"applied": 1, "pending": 1, "modified": 0, "missing": 0, "failed": 0})
    );
    assert_eq!(status["migrations"][1]["state"], "pending");
    assert_eq!(status["migrations"][1]["applied_at"], Value::Null);
    // Every JSON document says its shape's version; times are RFC 3339 UTC (SQLite's
    // CURRENT_TIMESTAMP has no zone: it is UTC).
    assert_eq!(status["format_version"], 1);
    let applied_at = status["migrations"][0]["applied_at"]
        .as_str()
        .expect("a time");
    assert!(
        applied_at.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(applied_at).is_ok(),
        "{applied_at}"
    );

    let json = ws
        .run(&["up", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["applied"]), ["20240201000000"]);
    assert_eq!(json["applied"][0]["skipped"], false);
    ws.run(&["status", "--database-url", &url, "--exit-code"])
        .assert_code(0);
    assert_eq!(
        states(&ws, &url),
        ["20240101000000: applied", "20240201000000: applied"]
    );

    // The history rows: one per migration, successful, with a SHA-256 checksum.
    let rows = sqlite_query(
        &url,
        "SELECT version, name, checksum, CAST(success AS TEXT), failure, \
         CAST(typeof(execution_ms) AS TEXT), applied_at FROM _cargo_migrate ORDER BY version",
    );
    assert_eq!(rows.len(), 2);
    for (row, (version, name)) in rows.iter().zip([
        ("20240101000000", "create_notes"),
        ("20240201000000", "index_notes"),
    ]) {
        assert_eq!(row[0].as_deref(), Some(version));
        assert_eq!(row[1].as_deref(), Some(name));
        let checksum = row[2].as_deref().unwrap();
        assert!(
            checksum.len() == 64 && checksum.chars().all(|c| c.is_ascii_hexdigit()),
            "{checksum}"
        );
        assert_eq!(row[3].as_deref(), Some("1"));
        assert_eq!(row[4], None);
        assert_eq!(row[5].as_deref(), Some("integer"));
        assert!(row[6].is_some());
    }
    // The no-transaction migration ran too.
    assert_eq!(
        column(
            &url,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'notes_body'"
        ),
        ["notes_body"]
    );

    // Up to date: nothing to do.
    let again = ws.run(&["up", "--database-url", &url]).assert_code(0);
    assert!(
        again.stderr.contains("Nothing to apply"),
        "{}",
        again.stderr
    );
}

/// A relative `sqlite:` URL is relative to the current directory; the set at the workspace
/// root (fixtures/root-set) is found and applied.
#[test]
fn root_set_applies_with_a_relative_url() {
    let ws = Workspace::copy("root-set");
    let json = ws
        .run(&["up", "--database-url", "sqlite:app.db", "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["applied"]), ["0001"]);
    let url = db_url(&ws, "app.db");
    assert_eq!(sqlite_tables(&url), ["_cargo_migrate", "settings"]);
    assert_eq!(history(&url), ["0001"]);
}

/// In fixtures/multi, `accounts` is a SQLite set (inferred from sqlx's features) with the
/// workspace's `history-table = "schema_history"`; a PostgreSQL URL is refused for it.
#[test]
fn multi_accounts_set_uses_its_configured_history_table() {
    let ws = Workspace::copy("multi");
    let url = db_url(&ws, "accounts.db");
    let json = ws
        .run(&[
            "-p",
            "accounts",
            "up",
            "--database-url",
            &url,
            "--format",
            "json",
        ])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["applied"]), ["20240301000000"]);
    assert_eq!(sqlite_tables(&url), ["accounts", "schema_history"]);
    let status = ws
        .run(&[
            "-p",
            "accounts",
            "status",
            "--database-url",
            &url,
            "--exit-code",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(status["history_table"], "schema_history");
    assert_eq!(
        column(&url, "SELECT version FROM schema_history"),
        ["20240301000000"]
    );

    let mismatch = ws
        .run(&[
            "-p",
            "accounts",
            "up",
            "--database-url",
            "postgres://app@localhost/app",
        ])
        .assert_code(2);
    snapshot("multi_accounts_dialect_mismatch", &mismatch);
}

// ------------------------------------------------------------------ down, redo, reset

/// `down` reverts the newest; `--to V` everything after V; `-n 2` needs `--yes` without a
/// terminal (and then reverts nothing); `--all --yes` everything.
#[test]
fn down_reverts_newest_to_count_and_all() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    ws.run(&["up", "--database-url", &url]).assert_code(0);
    assert_eq!(history(&url), LIFECYCLE);

    let json = ws
        .run(&["down", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["reverted"]), ["20240104000000"]);
    assert_eq!(json["reverted"][0]["direction"], "down");
    assert_eq!(history(&url), LIFECYCLE[..3]);
    assert!(!sqlite_tables(&url).contains(&"tags".to_string()));

    let json = ws
        .run(&[
            "down",
            "--database-url",
            &url,
            "--to",
            "20240101000000",
            "--yes",
            "--format",
            "json",
        ])
        .assert_code(0)
        .run_json();
    assert_eq!(
        versions(&json["reverted"]),
        ["20240103000000", "20240102000000"]
    );
    assert_eq!(history(&url), LIFECYCLE[..1]);
    assert_eq!(sqlite_tables(&url), ["_cargo_migrate", "users"]);
    // 0003's down dropped the column again.
    assert_eq!(
        column(
            &url,
            "SELECT name FROM pragma_table_info('users') ORDER BY cid"
        ),
        ["id", "email"]
    );

    ws.run(&["up", "--database-url", &url]).assert_code(0);
    assert_eq!(history(&url), LIFECYCLE);

    // More than one without --yes and without a terminal: refused, nothing reverted.
    let refused = ws
        .run(&["down", "--database-url", &url, "-n", "2"])
        .assert_code(2);
    snapshot("down_two_without_yes", &refused);
    let json = ws
        .run(&[
            "down",
            "--database-url",
            &url,
            "-n",
            "2",
            "--format",
            "json",
        ])
        .assert_code(2)
        .run_json();
    assert_eq!(json["error"]["code"], "confirmation-required");
    assert_eq!(history(&url), LIFECYCLE);

    let json = ws
        .run(&[
            "down",
            "--database-url",
            &url,
            "-n",
            "2",
            "--yes",
            "--format",
            "json",
        ])
        .assert_code(0)
        .run_json();
    assert_eq!(
        versions(&json["reverted"]),
        ["20240104000000", "20240103000000"]
    );
    assert_eq!(history(&url), LIFECYCLE[..2]);

    let json = ws
        .run(&[
            "down",
            "--database-url",
            &url,
            "--all",
            "--yes",
            "--format",
            "json",
        ])
        .assert_code(0)
        .run_json();
    assert_eq!(
        versions(&json["reverted"]),
        ["20240102000000", "20240101000000"]
    );
    assert!(history(&url).is_empty());
    assert_eq!(sqlite_tables(&url), ["_cargo_migrate"]);

    // Nothing left to revert.
    let nothing = ws.run(&["down", "--database-url", &url]).assert_code(0);
    assert!(
        nothing.stderr.contains("Nothing to revert"),
        "{}",
        nothing.stderr
    );
}

/// `redo` reverts the newest migration and applies it again (its table comes back empty).
#[test]
fn redo_reverts_and_reapplies_the_newest() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    ws.run(&["up", "--database-url", &url]).assert_code(0);
    execute(&url, "INSERT INTO tags (label) VALUES ('by hand')");

    let json = ws
        .run(&["redo", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["reverted"]), ["20240104000000"]);
    assert_eq!(versions(&json["applied"]), ["20240104000000"]);
    assert_eq!(
        count(&url, "tags"),
        0,
        "the table was not dropped and recreated"
    );
    assert_eq!(history(&url), LIFECYCLE);

    // Two need --yes.
    let refused = ws
        .run(&[
            "redo",
            "--database-url",
            &url,
            "-n",
            "2",
            "--format",
            "json",
        ])
        .assert_code(2)
        .run_json();
    assert_eq!(refused["error"]["code"], "confirmation-required");
    let json = ws
        .run(&[
            "redo",
            "--database-url",
            &url,
            "-n",
            "2",
            "--yes",
            "--format",
            "json",
        ])
        .assert_code(0)
        .run_json();
    assert_eq!(
        versions(&json["reverted"]),
        ["20240104000000", "20240103000000"]
    );
    assert_eq!(
        versions(&json["applied"]),
        ["20240103000000", "20240104000000"]
    );
    assert_eq!(history(&url), LIFECYCLE);
    ws.run(&["status", "--database-url", &url, "--exit-code"])
        .assert_code(0);
}

/// `reset` refuses without `--yes`; with it, drops every table, view and trigger (also ones
/// made by hand, and a virtual table), resets AUTOINCREMENT counters and applies everything.
#[test]
fn reset_drops_everything_and_reapplies() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    ws.run(&["up", "--database-url", &url]).assert_code(0);
    execute(
        &url,
        "INSERT INTO users (email) VALUES ('2@example.com'), ('3@example.com'), ('4@example.com');
         DELETE FROM users WHERE id > 1;
         CREATE TABLE by_hand (x INTEGER PRIMARY KEY AUTOINCREMENT, y TEXT);
         INSERT INTO by_hand (y) VALUES ('a');
         CREATE VIEW user_emails AS SELECT email FROM users;
         CREATE TRIGGER users_touch AFTER INSERT ON users BEGIN INSERT INTO by_hand (y) VALUES (NEW.email); END;
         CREATE VIRTUAL TABLE docs USING fts5(body);
         INSERT INTO docs VALUES ('hello');",
    );
    assert_eq!(
        column(
            &url,
            "SELECT CAST(seq AS TEXT) FROM sqlite_sequence WHERE name = 'users'"
        ),
        ["4"]
    );

    let refused = ws.run(&["reset", "--database-url", &url]).assert_code(2);
    snapshot("reset_without_yes", &refused);
    assert!(sqlite_tables(&url).contains(&"by_hand".to_string()));
    assert_eq!(count(&url, "users"), 1);

    let json = ws
        .run(&["reset", "--database-url", &url, "--yes", "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["applied"]), LIFECYCLE);
    assert_eq!(
        sqlite_tables(&url),
        ["_cargo_migrate", "posts", "tags", "users"]
    );
    assert_eq!(
        column(
            &url,
            "SELECT type || ' ' || name FROM sqlite_master WHERE type IN ('view', 'trigger')"
        ),
        Vec::<String>::new()
    );
    // The counter started again: the migration's one user is id 1, the next one id 2.
    assert_eq!(
        column(
            &url,
            "SELECT CAST(seq AS TEXT) FROM sqlite_sequence ORDER BY name"
        ),
        ["1"]
    );
    execute(
        &url,
        "INSERT INTO users (email) VALUES ('again@example.com')",
    );
    assert_eq!(
        column(&url, "SELECT CAST(id AS TEXT) FROM users ORDER BY id"),
        ["1", "2"]
    );
    assert_eq!(history(&url), LIFECYCLE);
}

// ------------------------------------------------------------------------- failures

/// Statement 2 of 3 of a transactional migration fails: exit 1, pointed at
/// `up.sql:LINE:COL` with a code frame; nothing of it applied (statement 1's table is absent)
/// and no history row.
#[test]
fn failing_transactional_migration_changes_nothing() {
    let ws = Workspace::copy("root-set");
    write(
        &ws,
        "migrations/0002_broken/up.sql",
        "CREATE TABLE first_table (id INTEGER PRIMARY KEY);\n\
         -- the next statement fails\n\
         INSERT INTO first_table VALUES (1);   INSERT INTO no_such_table\n    VALUES (1);\n\
         CREATE TABLE third_table (id INTEGER);\n",
    );
    write(
        &ws,
        "migrations/0002_broken/down.sql",
        "DROP TABLE first_table;\n",
    );
    let url = db_url(&ws, "app.db");
    let outcome = ws.run(&["up", "--database-url", &url]).assert_code(1);
    snapshot("failing_transactional_migration", &outcome);
    assert!(
        outcome.stderr.contains("migrations/0002_broken/up.sql:3:"),
        "{}",
        outcome.stderr
    );
    // 0001 went in before; nothing of 0002.
    assert_eq!(sqlite_tables(&url), ["_cargo_migrate", "settings"]);
    assert_eq!(history(&url), ["0001"]);

    let json = ws
        .run(&["up", "--database-url", &url, "--format", "json"])
        .assert_code(1)
        .run_json();
    assert_eq!(json["error"]["code"], "migration-failed");
    assert_eq!(json["error"]["exit_code"], 1);
    assert_eq!(states(&ws, &url), ["0001: applied", "0002: pending"]);
}

/// Resolved as rolled back without undoing statement 1: the rerun's "already exists" is
/// explained as that earlier run's leftover, not as a fault of the script.
#[test]
fn rerun_after_rolled_back_names_the_leftover() {
    let ws = Workspace::copy("root-set");
    let script = "-- migrate:no-transaction\n\
                  CREATE TABLE partial (id INTEGER PRIMARY KEY);\n\
                  INSERT INTO no_such_table VALUES (1);\n";
    write(&ws, "migrations/0002_partial/up.sql", script);
    write(
        &ws,
        "migrations/0002_partial/down.sql",
        "DROP TABLE partial;\n",
    );
    let url = db_url(&ws, "app.db");
    ws.run(&["up", "--database-url", &url]).assert_code(1);
    ws.run(&["resolve", "0002", "--rolled-back", "--database-url", &url])
        .assert_code(0);
    write(
        &ws,
        "migrations/0002_partial/up.sql",
        &script.replace("no_such_table", "partial"),
    );
    let rerun = ws
        .run(&["up", "--database-url", &url, "--format", "json"])
        .assert_code(1)
        .run_json();
    assert_eq!(rerun["error"]["code"], "migration-failed");
    let hint = rerun["error"]["hint"].as_str().unwrap_or_default();
    assert!(
        hint.contains("an earlier run that stopped part-way")
            && hint.contains("cargo migrate resolve 0002 --applied")
            && !hint.contains("fix the script"),
        "{hint}"
    );
}

/// A no-transaction migration whose statement 2 fails: statement 1 stays, `status` shows it
/// failed, `up` (and `down`) refuse with a hint naming `cargo migrate resolve`; after
/// `resolve V --rolled-back`, cleaning up and fixing the script, `up` works.
#[test]
fn failing_no_transaction_migration_is_recorded_and_resolved() {
    let ws = Workspace::copy("root-set");
    let script = "-- migrate:no-transaction\n\
                  CREATE TABLE partial (id INTEGER PRIMARY KEY);\n\
                  INSERT INTO no_such_table VALUES (1);\n\
                  CREATE TABLE never (id INTEGER);\n";
    write(&ws, "migrations/0002_partial/up.sql", script);
    write(
        &ws,
        "migrations/0002_partial/down.sql",
        "DROP TABLE never;\nDROP TABLE partial;\n",
    );
    let url = db_url(&ws, "app.db");

    let outcome = ws.run(&["up", "--database-url", &url]).assert_code(1);
    snapshot("no_transaction_fails_part_way", &outcome);
    assert_eq!(
        sqlite_tables(&url),
        ["_cargo_migrate", "partial", "settings"]
    );

    let status = ws
        .run(&["status", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["migrations"][1]["state"], "failed");
    assert_eq!(
        status["migrations"][1]["failure"],
        "up stopped at 3:1 after 1 of 3 statements: no such table: no_such_table"
    );
    assert_eq!(status["summary"]["failed"], 1);
    let human = ws.run(&["status", "--database-url", &url]).assert_code(0);
    assert!(
        human
            .stderr
            .contains("after fixing the database run `cargo migrate resolve 0002 --applied` or `--rolled-back`"),
        "{}",
        human.stderr
    );
    ws.run(&["status", "--database-url", &url, "--exit-code"])
        .assert_code(1);

    let refused = ws.run(&["up", "--database-url", &url]).assert_code(1);
    snapshot("up_refuses_failed_migration", &refused);
    let json = ws
        .run(&["up", "--database-url", &url, "--format", "json"])
        .assert_code(1)
        .run_json();
    assert_eq!(json["error"]["code"], "failed-migration");
    assert!(
        json["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("cargo migrate resolve 0002"),
        "{json}"
    );
    let json = ws
        .run(&["down", "--database-url", &url, "--format", "json"])
        .assert_code(1)
        .run_json();
    assert_eq!(json["error"]["code"], "failed-migration");

    // Undo statement 1 by hand, record that, fix the script, go again.
    execute(&url, "DROP TABLE partial");
    let json = ws
        .run(&[
            "resolve",
            "0002",
            "--rolled-back",
            "--database-url",
            &url,
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(json["was"], "failed");
    assert_eq!(json["now"], "pending");
    assert_eq!(history(&url), ["0001"]);
    write(
        &ws,
        "migrations/0002_partial/up.sql",
        &script.replace("no_such_table", "partial"),
    );
    let json = ws
        .run(&["up", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["applied"]), ["0002"]);
    assert_eq!(count(&url, "partial"), 1);
    assert_eq!(
        sqlite_tables(&url),
        ["_cargo_migrate", "never", "partial", "settings"]
    );
    ws.run(&["status", "--database-url", &url, "--exit-code"])
        .assert_code(0);
    assert_eq!(
        column(
            &url,
            "SELECT CAST(success AS TEXT) || ' ' || coalesce(failure, '-') FROM _cargo_migrate WHERE version = '0002'"
        ),
        ["1 -"]
    );
}

/// A no-transaction migration whose first statement fails changed nothing: no history row,
/// still pending, and the hint says so.
#[test]
fn no_transaction_migration_failing_first_stays_pending() {
    let ws = Workspace::copy("root-set");
    write(
        &ws,
        "migrations/0002_first_fails/up.sql",
        "-- migrate:no-transaction\nINSERT INTO no_such_table VALUES (1);\nCREATE TABLE later (id INTEGER);\n",
    );
    let url = db_url(&ws, "app.db");
    let outcome = ws.run(&["up", "--database-url", &url]).assert_code(1);
    snapshot("no_transaction_fails_first", &outcome);
    assert_eq!(history(&url), ["0001"]);
    assert_eq!(states(&ws, &url), ["0001: applied", "0002: pending"]);
    assert_eq!(sqlite_tables(&url), ["_cargo_migrate", "settings"]);
}

// -------------------------------------------------------------------------- triggers

/// `CREATE TRIGGER … BEGIN …; …; END` stays one statement, in a transactional migration and in
/// a no-transaction one (split statement by statement).
#[test]
fn trigger_bodies_apply_with_and_without_transaction() {
    let ws = Workspace::copy("root-set");
    write(
        &ws,
        "migrations/0002_audit_trigger/up.sql",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL);
CREATE TABLE audit (item_id INTEGER, note TEXT);
CREATE TRIGGER items_insert AFTER INSERT ON items
BEGIN
    INSERT INTO audit VALUES (NEW.id, 'inserted; first');
    UPDATE audit SET note = note || ' (seen)' WHERE item_id = NEW.id;
    SELECT CASE WHEN NEW.qty < 0 THEN RAISE(ABORT, 'negative; qty') END;
END;
INSERT INTO items (qty) VALUES (5);
",
    );
    write(
        &ws,
        "migrations/0003_delete_trigger/up.sql",
        "-- migrate:no-transaction
CREATE TABLE log (message TEXT);
CREATE TRIGGER items_delete AFTER DELETE ON items
WHEN OLD.qty > 0
BEGIN
    INSERT INTO log VALUES ('deleted ' || OLD.id);
    DELETE FROM audit WHERE item_id = OLD.id;
END;
INSERT INTO items (qty) VALUES (7);
DELETE FROM items WHERE qty = 5;
",
    );
    let url = db_url(&ws, "app.db");
    let json = ws
        .run(&["up", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["applied"]), ["0001", "0002", "0003"]);
    assert_eq!(
        column(
            &url,
            "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        ),
        ["items_delete", "items_insert"]
    );
    // Both triggers fired with every statement of their bodies.
    assert_eq!(
        column(
            &url,
            "SELECT CAST(item_id AS TEXT) || ': ' || note FROM audit"
        ),
        ["2: inserted; first (seen)"]
    );
    assert_eq!(column(&url, "SELECT message FROM log"), ["deleted 1"]);
    // The RAISE in the body is there too.
    let body = column(
        &url,
        "SELECT sql FROM sqlite_master WHERE name = 'items_insert'",
    );
    assert!(body[0].ends_with("END"), "{}", body[0]);
    assert!(body[0].contains("RAISE(ABORT, 'negative; qty')"));
}

/// A no-transaction migration really runs outside any transaction (also outside the one that
/// checks the history and writes its "started" row): `VACUUM` and `PRAGMA journal_mode`
/// work there, while `VACUUM` in a transactional migration fails cleanly.
#[test]
fn no_transaction_migration_runs_outside_a_transaction() {
    let ws = Workspace::copy("root-set");
    write(
        &ws,
        "migrations/0002_vacuum/up.sql",
        "-- migrate:no-transaction\nCREATE TABLE scratch (x TEXT);\nVACUUM;\nPRAGMA journal_mode = WAL;\n",
    );
    write(
        &ws,
        "migrations/0003_vacuum_in_transaction/up.sql",
        "VACUUM;\n",
    );
    let url = db_url(&ws, "app.db");
    let outcome = ws.run(&["up", "--database-url", &url]).assert_code(1);
    snapshot("vacuum_in_transaction", &outcome);
    assert_eq!(history(&url), ["0001", "0002"]);
    assert_eq!(column(&url, "PRAGMA journal_mode"), ["wal"]);
    assert_eq!(
        states(&ws, &url),
        ["0001: applied", "0002: applied", "0003: pending"]
    );
}

// ------------------------------------------------------- modified, missing, out of order

fn lifecycle_up(ws: &Workspace, url: &str, to: &str) {
    ws.run(&["up", "--database-url", url, "--to", to])
        .assert_code(0);
}

/// An applied migration whose file changed: `up` refuses (exit 1), `status` says modified,
/// `--allow-modified` goes ahead.
#[test]
fn modified_migration_is_refused_unless_allowed() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    lifecycle_up(&ws, &url, "20240102000000");
    let path = ws
        .path()
        .join("migrations/20240101000000_create_users/up.sql");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("-- edited after it was applied\n");
    std::fs::write(&path, text).unwrap();

    let refused = ws.run(&["up", "--database-url", &url]).assert_code(1);
    snapshot("modified_refused", &refused);
    assert_eq!(history(&url), LIFECYCLE[..2]);
    assert_eq!(
        states(&ws, &url),
        [
            "20240101000000: modified",
            "20240102000000: applied",
            "20240103000000: pending",
            "20240104000000: pending"
        ]
    );
    ws.run(&["status", "--database-url", &url, "--exit-code"])
        .assert_code(1);

    let json = ws
        .run(&[
            "up",
            "--database-url",
            &url,
            "--allow-modified",
            "--format",
            "json",
        ])
        .assert_code(0)
        .run_json();
    assert_eq!(
        versions(&json["applied"]),
        ["20240103000000", "20240104000000"]
    );
    // Still modified: the override does not rewrite the recorded checksum.
    assert_eq!(states(&ws, &url)[0], "20240101000000: modified");
}

/// An applied migration whose file is gone: `up` refuses, `--allow-missing` goes ahead;
/// `down` cannot revert it.
#[test]
fn missing_migration_is_refused_unless_allowed() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    lifecycle_up(&ws, &url, "20240102000000");
    std::fs::remove_dir_all(ws.path().join("migrations/20240102000000_create_posts")).unwrap();

    let refused = ws.run(&["up", "--database-url", &url]).assert_code(1);
    snapshot("missing_refused", &refused);
    assert_eq!(history(&url), LIFECYCLE[..2]);
    assert_eq!(
        states(&ws, &url),
        [
            "20240101000000: applied",
            "20240102000000: missing",
            "20240103000000: pending",
            "20240104000000: pending"
        ]
    );

    let json = ws
        .run(&[
            "up",
            "--database-url",
            &url,
            "--allow-missing",
            "--format",
            "json",
        ])
        .assert_code(0)
        .run_json();
    assert_eq!(
        versions(&json["applied"]),
        ["20240103000000", "20240104000000"]
    );
    let json = ws
        .run(&[
            "down",
            "--database-url",
            &url,
            "--to",
            "20240101000000",
            "--yes",
            "--format",
            "json",
        ])
        .assert_code(1)
        .run_json();
    assert_eq!(json["error"]["code"], "missing-migration-file");
    // Refused before anything ran.
    assert_eq!(history(&url), LIFECYCLE);
}

/// A pending migration older than applied ones: `up` refuses, `--allow-out-of-order` applies it.
#[test]
fn out_of_order_migration_is_refused_unless_allowed() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    ws.run(&["up", "--database-url", &url]).assert_code(0);
    write(
        &ws,
        "migrations/20240102120000_from_a_branch/up.sql",
        "CREATE TABLE from_a_branch (id INTEGER);\n",
    );

    let refused = ws.run(&["up", "--database-url", &url]).assert_code(1);
    snapshot("out_of_order_refused", &refused);
    let status = ws
        .run(&["status", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["migrations"][2]["version"], "20240102120000");
    assert_eq!(status["migrations"][2]["state"], "pending");
    assert_eq!(status["migrations"][2]["out_of_order"], true);
    assert!(!sqlite_tables(&url).contains(&"from_a_branch".to_string()));

    let json = ws
        .run(&[
            "up",
            "--database-url",
            &url,
            "--allow-out-of-order",
            "--format",
            "json",
        ])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["applied"]), ["20240102120000"]);
    assert!(sqlite_tables(&url).contains(&"from_a_branch".to_string()));
    ws.run(&["status", "--database-url", &url, "--exit-code"])
        .assert_code(0);
}

// ----------------------------------------------------------------- sqlx's own migrator

/// A database migrated by sqlx's real `Migrator` is adopted: cargo-migrate reads and writes
/// `_sqlx_migrations` (never creating `_cargo_migrate`), and sqlx's Migrator accepts the
/// result (it validates every applied checksum) and has nothing left to do.
#[test]
fn sqlx_migrator_history_is_adopted() {
    use sqlx::Connection;
    use sqlx::migrate::Migrator;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
    use std::str::FromStr;

    let ws = Workspace::copy("sqlx-style");
    let url = db_url(&ws, "app.db");
    let first = ws.path().join("first-only");
    std::fs::create_dir(&first).unwrap();
    for file in [
        "20240101000000_create_notes.up.sql",
        "20240101000000_create_notes.down.sql",
    ] {
        std::fs::copy(ws.path().join("migrations").join(file), first.join(file)).unwrap();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let migrate = |dir: &Path| {
        runtime.block_on(async {
            let options = SqliteConnectOptions::from_str(&url)
                .unwrap()
                .create_if_missing(true);
            let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
            Migrator::new(dir).await?.run(&mut conn).await
        })
    };
    migrate(&first).expect("sqlx applies the first migration");

    let status = ws
        .run(&["status", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["history_format"], "sqlx");
    assert_eq!(status["history_table"], "_sqlx_migrations");
    assert_eq!(
        states(&ws, &url),
        ["20240101000000: applied", "20240201000000: pending"]
    );

    let json = ws
        .run(&["up", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["applied"]), ["20240201000000"]);
    assert_eq!(sqlite_tables(&url), ["_sqlx_migrations", "notes"]);
    assert_eq!(
        column(
            &url,
            "SELECT CAST(version AS TEXT) || ' ' || description || ' ' || CAST(success AS TEXT) \
             FROM _sqlx_migrations ORDER BY version"
        ),
        [
            "20240101000000 create notes 1",
            "20240201000000 index notes 1"
        ]
    );
    ws.run(&["status", "--database-url", &url, "--exit-code"])
        .assert_code(0);

    // sqlx's Migrator over the whole directory: checksums match, nothing left to apply.
    migrate(&ws.path().join("migrations")).expect("sqlx accepts what cargo-migrate recorded");
    assert_eq!(count(&url, "_sqlx_migrations"), 2);

    // down removes sqlx's rows: ours, then the one sqlx wrote.
    let json = ws
        .run(&["down", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["reverted"]), ["20240201000000"]);
    assert_eq!(
        column(&url, "SELECT CAST(version AS TEXT) FROM _sqlx_migrations"),
        ["20240101000000"]
    );
    assert_eq!(
        column(
            &url,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'notes_body'"
        ),
        Vec::<String>::new()
    );
    ws.run(&["down", "--database-url", &url]).assert_code(0);
    assert_eq!(count(&url, "_sqlx_migrations"), 0);
    assert_eq!(sqlite_tables(&url), ["_sqlx_migrations"]);
    // And sqlx can take it from there.
    migrate(&ws.path().join("migrations")).expect("sqlx re-applies everything");
    assert_eq!(count(&url, "_sqlx_migrations"), 2);
}

// ---------------------------------------------------------------------- concurrency

/// A workspace with `n` migrations: the first creates a counter table, every one inserts its
/// number into it (so a migration that ran twice shows up twice). `no_transaction` migrations
/// run outside a transaction and insert `rows` rows first, to take a while.
fn counter_workspace(n: usize, no_transaction: &[usize], rows: usize) -> Workspace {
    let ws = Workspace::empty();
    write(
        &ws,
        "Cargo.toml",
        "[package]\nname = \"sqlite-concurrency\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[package.metadata.migrate]\ndialect = \"sqlite\"\n\n[workspace]\n",
    );
    write(&ws, "src/lib.rs", "");
    write(
        &ws,
        "migrations/0001_m01/up.sql",
        "CREATE TABLE counter (migration INTEGER NOT NULL);\nINSERT INTO counter VALUES (1);\n",
    );
    for i in 2..=n {
        let sql = if no_transaction.contains(&i) {
            format!(
                "-- migrate:no-transaction\nCREATE TABLE t{i:02} (id INTEGER PRIMARY KEY);\n\
                 WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows})\n\
                 INSERT INTO t{i:02} SELECT x FROM c;\nINSERT INTO counter VALUES ({i});\n"
            )
        } else {
            format!(
                "CREATE TABLE t{i:02} (id INTEGER PRIMARY KEY);\nINSERT INTO counter VALUES ({i});\n"
            )
        };
        write(&ws, &format!("migrations/{i:04}_m{i:02}/up.sql"), &sql);
    }
    ws
}

/// Starts `n` `up` processes on `url` at once.
fn spawn_ups(ws: &Workspace, url: &str, n: usize) -> Vec<std::process::Child> {
    (0..n)
        .map(|_| {
            support::command()
                .current_dir(ws.path())
                .args(["up", "--database-url", url, "--color", "never"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start cargo-migrate")
        })
        .collect()
}

/// Waits for the processes and checks that every one succeeded, that each of the `n`
/// migrations was applied exactly once (by one of them: one "Applied" line over all, except
/// the `before` ones applied earlier; one history row; one counter row) and that
/// `status --exit-code` is 0. Returns the (applied, skipped) line counts.
fn check_concurrent_run(
    ws: &Workspace,
    url: &str,
    children: Vec<std::process::Child>,
    (n, before): (usize, usize),
    label: &str,
) -> (usize, usize) {
    let outputs: Vec<_> = children
        .into_iter()
        .map(|child| child.wait_with_output().expect("wait for cargo-migrate"))
        .collect();
    let report: String = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            format!(
                "--- process {i}: {}\n{}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .collect();
    for output in &outputs {
        assert_eq!(output.status.code(), Some(0), "{label}:\n{report}");
    }
    let lines = |word: &str| {
        outputs
            .iter()
            .map(|o| {
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .filter(|l| l.trim_start().starts_with(word))
                    .count()
            })
            .sum::<usize>()
    };
    assert_eq!(lines("Applied"), n - before, "{label}:\n{report}");
    let rows = column(
        url,
        "SELECT version || ' ' || CAST(success AS TEXT) FROM _cargo_migrate ORDER BY version",
    );
    let expected: Vec<String> = (1..=n).map(|i| format!("{i:04} 1")).collect();
    assert_eq!(rows, expected, "{label}");
    let counted = column(
        url,
        "SELECT CAST(migration AS TEXT) || 'x' || CAST(count(*) AS TEXT) FROM counter \
         GROUP BY migration ORDER BY migration",
    );
    let expected: Vec<String> = (1..=n).map(|i| format!("{i}x1")).collect();
    assert_eq!(counted, expected, "{label}: a migration ran more than once");
    let tables = sqlite_tables(url);
    assert_eq!(tables.len(), n + 1, "{label}: {tables:?}");
    ws.run(&["status", "--database-url", url, "--exit-code"])
        .assert_code(0);
    // History and schema agree: the schema is exactly a clean replay's.
    ws.run(&["diff", "--from", "history", "--to", url])
        .assert_code(0);
    (lines("Applied"), lines("Skipped"))
}

/// 8 `up` processes started at once on one SQLite file with 20 migrations, 3 rounds with fresh
/// files: every process exits 0 and each migration is applied exactly once.
#[test]
fn concurrent_up_processes_apply_each_migration_once() {
    const MIGRATIONS: usize = 20;
    const PROCESSES: usize = 8;
    let ws = counter_workspace(MIGRATIONS, &[], 0);
    for round in 1..=3 {
        let url = db_url(&ws, &format!("round{round}.db"));
        let started = Instant::now();
        let children = spawn_ups(&ws, &url, PROCESSES);
        let label = format!("round {round}");
        let (applied, skipped) = check_concurrent_run(&ws, &url, children, (MIGRATIONS, 0), &label);
        eprintln!(
            "{label}: {PROCESSES} processes, {applied} applied, {skipped} skipped (done by another process), {} ms",
            started.elapsed().as_millis()
        );
    }
}

/// Processes started while SQLite's write lock is held (by the test, for 1.5 s), with
/// no-transaction migrations to run: every migration runs exactly once (they used to fail
/// with `UNIQUE constraint failed: _cargo_migrate.version` on a "started" row). Since the
/// run lock, one process plans and runs while the others wait for it.
#[test]
fn concurrent_up_processes_share_a_no_transaction_migration() {
    use sqlx::Connection;
    const MIGRATIONS: usize = 12;
    const PROCESSES: usize = 8;
    let ws = counter_workspace(MIGRATIONS, &[5, 9], 30_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for round in 1..=2 {
        let url = db_url(&ws, &format!("nt{round}.db"));
        // The history table exists (so no process creates it after the lock is released).
        ws.run(&["up", "--database-url", &url, "--to", "0001"])
            .assert_code(0);
        let mut holder = runtime.block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .unwrap();
            conn
        });
        let started = Instant::now();
        let children = spawn_ups(&ws, &url, PROCESSES);
        // Long enough for every process to start, read the history and plan.
        std::thread::sleep(std::time::Duration::from_millis(1500));
        runtime.block_on(async {
            sqlx::raw_sql("ROLLBACK")
                .execute(&mut holder)
                .await
                .unwrap();
        });
        let label = format!("no-transaction round {round}");
        let (applied, skipped) = check_concurrent_run(&ws, &url, children, (MIGRATIONS, 1), &label);
        eprintln!(
            "{label}: {PROCESSES} processes, {applied} applied, {skipped} skipped, {} ms",
            started.elapsed().as_millis()
        );
    }
}

/// A process that starts while another is in the middle of a no-transaction migration waits
/// for it (the run-level lock, `<db>.migrate-lock`), as it would for PostgreSQL's session
/// lock, instead of reading the "started, not finished" row and refusing the migration as
/// failed part-way.
#[test]
fn up_waits_for_a_no_transaction_migration_in_progress() {
    let ws = counter_workspace(3, &[2], 3_000_000);
    let url = db_url(&ws, "app.db");
    let first = spawn_ups(&ws, &url, 1);
    // Wait until the first process is inside migration 2 (its "started" row is there).
    let in_migration_2 = || {
        ws.path().join("app.db").exists()
            && column(
                &url,
                "SELECT CAST(count(*) AS TEXT) FROM sqlite_master WHERE name = '_cargo_migrate'",
            ) == ["1"]
            && column(
                &url,
                "SELECT CAST(count(*) AS TEXT) FROM _cargo_migrate \
                 WHERE version = '0002' AND NOT success",
            ) == ["1"]
    };
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while !in_migration_2() {
        assert!(Instant::now() < deadline, "migration 2 never started");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let second = ws.run(&["up", "--database-url", &url]);
    let first = first
        .into_iter()
        .next()
        .unwrap()
        .wait_with_output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0));
    second.assert_code(0);
    assert_eq!(history(&url), ["0001", "0002", "0003"]);
}

/// Another connection holds SQLite's write lock longer than `--lock-timeout`: that is a
/// `lock-timeout` (exit 3, as docs/errors.md says), not a failure of the migration's SQL.
#[test]
fn sqlite_write_lock_held_too_long_is_a_lock_timeout() {
    use sqlx::Connection;
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    ws.run(&["up", "--database-url", &url, "--to", "20240101000000"])
        .assert_code(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut holder = runtime.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    });
    let outcome = ws.run(&[
        "up",
        "--database-url",
        &url,
        "--lock-timeout",
        "1",
        "--format",
        "json",
    ]);
    runtime.block_on(async {
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut holder)
            .await
            .unwrap();
    });
    let json = outcome.assert_code(3).run_json();
    assert_eq!(json["error"]["code"], "lock-timeout");
    assert_eq!(history(&url), ["20240101000000"]);
}

/// A mutating command waits for the run lock (`<db>.migrate-lock`) up to `--lock-timeout`,
/// then fails with `lock-timeout` (exit 3) naming the holder's pid and host; once the lock is
/// free it runs, and the lock file is gone afterwards. `status` takes no lock.
#[test]
fn sqlite_run_lock_times_out_naming_the_holder() {
    use cargo_migrate::db::run_lock::RunLock;
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    let database = ws.path().join("app.db");
    ws.run(&["up", "--database-url", &url, "--to", "20240101000000"])
        .assert_code(0);
    assert!(!ws.path().join("app.db.migrate-lock").exists());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let held = runtime
        .block_on(RunLock::acquire(&database, std::time::Duration::ZERO))
        .expect("take the lock");
    let started = Instant::now();
    let outcome = ws
        .run(&[
            "up",
            "--database-url",
            &url,
            "--lock-timeout",
            "1",
            "--format",
            "json",
        ])
        .assert_code(3);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    let error = &outcome.run_json()["error"];
    assert_eq!(error["code"], "lock-timeout");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("(waited 1 s): pid {} on ", std::process::id())),
        "{message}"
    );
    assert!(
        error["location"]
            .as_str()
            .unwrap()
            .ends_with("app.db.migrate-lock"),
        "{error}"
    );
    ws.run(&["status", "--database-url", &url, "--lock-timeout", "0"])
        .assert_code(0);
    for command in [
        &["down"][..],
        &["resolve", "20240101000000", "--applied"],
        &["baseline", "20240102000000"],
    ] {
        let mut args = command.to_vec();
        args.extend([
            "--database-url",
            &url,
            "--lock-timeout",
            "0",
            "--format",
            "json",
        ]);
        let outcome = ws.run(&args).assert_code(3);
        let code = if command[0] == "down" {
            outcome.run_json()["error"]["code"].clone()
        } else {
            outcome.json()["error"]["code"].clone()
        };
        assert_eq!(code, "lock-timeout", "{command:?}");
    }
    assert_eq!(history(&url), ["20240101000000"]);
    drop(held);
    ws.run(&["up", "--database-url", &url, "--lock-timeout", "1"])
        .assert_code(0);
    assert_eq!(history(&url).len(), 4);
    assert!(!ws.path().join("app.db.migrate-lock").exists());
}

// ----------------------------------------------------------------- where the URL comes from

/// `DATABASE_URL` in `.env` at the workspace root is used when no flag or variable is set.
#[test]
fn dotenv_database_url_is_picked_up() {
    let ws = Workspace::copy("root-set");
    let url = db_url(&ws, "from-dotenv.db");
    write(
        &ws,
        ".env",
        &format!("# local settings\nDATABASE_URL={url}\n"),
    );
    let json = ws
        .run(&["up", "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(json["database"], url.as_str());
    assert_eq!(history(&url), ["0001"]);
    let status = ws
        .run(&["status", "--exit-code", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["database"], url.as_str());
    // The environment wins over .env.
    let other = db_url(&ws, "from-env.db");
    let json = support::run_in_env(
        ws.path(),
        &["up", "--format", "json"],
        &[("DATABASE_URL", &other)],
    )
    .assert_code(0)
    .run_json();
    assert_eq!(json["database"], other.as_str());
    assert_eq!(history(&other), ["0001"]);
}

/// `database-url-env = "APP_DB"` makes the set read APP_DB (environment, then .env) and
/// ignore DATABASE_URL.
#[test]
fn database_url_env_setting_reads_its_variable() {
    let ws = Workspace::copy("sqlite-app-db");
    let wrong = db_url(&ws, "database-url.db");
    let right = db_url(&ws, "app-db.db");

    // Only DATABASE_URL: not used; with no APP_DB the set gets its dev database instead.
    let cache = tempfile::tempdir().expect("cache dir");
    let cache_dir = cache.path().to_string_lossy().to_string();
    let outcome = support::run_in_env(
        ws.path(),
        &["up", "--format", "json"],
        &[("DATABASE_URL", &wrong), ("XDG_CACHE_HOME", &cache_dir)],
    )
    .assert_code(0);
    let database = outcome.run_json()["database"].as_str().unwrap().to_string();
    assert!(database.contains("cargo-migrate/dev/"), "{database}");
    assert!(!ws.path().join("database-url.db").exists());

    write(
        &ws,
        ".env",
        &format!("DATABASE_URL={wrong}\nAPP_DB={right}\n"),
    );
    let json = ws
        .run(&["up", "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(json["database"], right.as_str());
    assert_eq!(sqlite_tables(&right), ["_cargo_migrate", "things"]);
    assert!(!ws.path().join("database-url.db").exists());

    let from_env = db_url(&ws, "from-env.db");
    let json = support::run_in_env(
        ws.path(),
        &["up", "--format", "json"],
        &[("APP_DB", &from_env), ("DATABASE_URL", &wrong)],
    )
    .assert_code(0)
    .run_json();
    assert_eq!(json["database"], from_env.as_str());
    assert_eq!(history(&from_env), ["0001"]);
    assert!(!ws.path().join("database-url.db").exists());
}

// ------------------------------------------------------------------- baseline, resolve

/// `baseline V` records everything up to V as applied without running it (adopting a
/// database made by hand); `up` then applies the rest.
#[test]
fn baseline_adopts_an_existing_database() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    // The database as it was made before migrations were used.
    execute(
        &format!("{url}?mode=rwc"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE);
         CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title TEXT NOT NULL);",
    );
    let json = ws
        .run(&[
            "baseline",
            "20240102000000",
            "--database-url",
            &url,
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(
        json["recorded"],
        serde_json::json!(["20240101000000", "20240102000000"])
    );
    assert_eq!(history(&url), LIFECYCLE[..2]);
    // Not run: the migration's INSERT did not happen.
    assert_eq!(count(&url, "users"), 0);
    assert_eq!(
        states(&ws, &url),
        [
            "20240101000000: applied",
            "20240102000000: applied",
            "20240103000000: pending",
            "20240104000000: pending"
        ]
    );
    // Again: nothing new to record.
    let json = ws
        .run(&[
            "baseline",
            "20240102000000",
            "--database-url",
            &url,
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(json["recorded"], serde_json::json!([]));

    let json = ws
        .run(&["up", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(
        versions(&json["applied"]),
        ["20240103000000", "20240104000000"]
    );
    ws.run(&["status", "--database-url", &url, "--exit-code"])
        .assert_code(0);

    let unknown = ws
        .run(&["baseline", "20990101000000", "--database-url", &url])
        .assert_code(2);
    snapshot("baseline_unknown_version", &unknown);
}

/// `resolve V --applied` records a pending migration as applied without running it.
#[test]
fn resolve_applied_records_without_running() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    lifecycle_up(&ws, &url, "20240103000000");
    execute(
        &url,
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE)",
    );
    let json = ws
        .run(&[
            "resolve",
            "20240104000000",
            "--applied",
            "--database-url",
            &url,
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(json["was"], "pending");
    assert_eq!(json["now"], "applied");
    assert_eq!(history(&url), LIFECYCLE);
    ws.run(&["status", "--database-url", &url, "--exit-code"])
        .assert_code(0);
    // Its checksum is the file's: not modified.
    assert_eq!(states(&ws, &url)[3], "20240104000000: applied");

    // --rolled-back of something not recorded, and an unknown version.
    execute(
        &url,
        "DELETE FROM _cargo_migrate WHERE version = '20240104000000'",
    );
    let not_recorded = ws
        .run(&[
            "resolve",
            "20240104000000",
            "--rolled-back",
            "--database-url",
            &url,
        ])
        .assert_code(2);
    snapshot("resolve_rolled_back_not_recorded", &not_recorded);
    let json = ws
        .run(&[
            "resolve",
            "2099",
            "--applied",
            "--database-url",
            &url,
            "--format",
            "json",
        ])
        .assert_code(2)
        .json();
    assert_eq!(json["error"]["code"], "unknown-version");
}

// ----------------------------------------------------------------------------- JSON output

/// `--format json` prints exactly one JSON object on stdout, also when `status --exit-code`
/// fails.
#[test]
fn status_exit_code_json_is_one_object() {
    let ws = Workspace::copy("sqlx-style");
    let url = db_url(&ws, "app.db");
    ws.run(&["up", "--database-url", &url, "--to", "20240101000000"])
        .assert_code(0);
    let outcome = ws
        .run(&[
            "status",
            "--database-url",
            &url,
            "--exit-code",
            "--format",
            "json",
        ])
        .assert_code(1);
    let json = outcome.json();
    assert_eq!(json["up_to_date"], false);
    assert_eq!(json["summary"]["pending"], 1);
    assert!(json.get("error").is_none(), "{json}");
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// `up --format json` prints JSON Lines: `started`, one `applied` per migration, `finished`;
/// each with `ts` and exactly the documented fields (docs/deploy.md).
#[test]
fn up_json_is_one_event_per_line() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    let outcome = ws
        .run(&[
            "up",
            "--database-url",
            &url,
            "--to",
            "20240102000000",
            "--format",
            "json",
        ])
        .assert_code(0);
    let events = outcome.events();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["started", "applied", "applied", "finished"]);
    let started = &events[0];
    assert_eq!(
        keys(started),
        [
            "command",
            "database",
            "event",
            "format_version",
            "history_table",
            "pending",
            "set",
            "to_apply",
            "to_revert",
            "ts"
        ]
    );
    assert_eq!(started["command"], "up");
    assert_eq!(started["set"], "sqlite-lifecycle");
    assert_eq!(started["database"], url.as_str());
    assert_eq!(started["history_table"], "_cargo_migrate");
    assert_eq!(started["pending"], 4);
    assert_eq!(started["to_apply"], 2);
    assert_eq!(started["to_revert"], 0);
    assert_eq!(
        keys(&events[1]),
        [
            "duration_ms",
            "event",
            "format_version",
            "name",
            "ts",
            "version"
        ]
    );
    assert_eq!(events[1]["version"], "20240101000000");
    assert_eq!(events[1]["name"], "create_users");
    assert!(events[1]["duration_ms"].is_u64());
    assert_eq!(events[2]["version"], "20240102000000");
    let finished = &events[3];
    assert_eq!(
        keys(finished),
        [
            "applied",
            "duration_ms",
            "event",
            "format_version",
            "reverted",
            "skipped",
            "ts"
        ]
    );
    assert_eq!(
        (
            &finished["applied"],
            &finished["reverted"],
            &finished["skipped"]
        ),
        (&Value::from(2), &Value::from(0), &Value::from(0))
    );
    assert!(outcome.stderr.is_empty(), "{}", outcome.stderr);

    // Nothing to do: started and finished only.
    let again = ws
        .run(&[
            "up",
            "--database-url",
            &url,
            "--to",
            "20240102000000",
            "--format",
            "json",
        ])
        .assert_code(0);
    let kinds: Vec<String> = again
        .events()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["started", "finished"]);
}

/// A failure ends the stream with an `error` event carrying the error object's fields (after
/// what did run), and the exit code; a failure before the run started is the only line.
#[test]
fn up_json_failure_is_an_error_event() {
    let ws = Workspace::copy("sqlite-lifecycle");
    write(
        &ws,
        "migrations/20240105000000_broken/up.sql",
        "CREATE TABLE ok (id INTEGER);\nSELEC 1;\n",
    );
    let url = db_url(&ws, "app.db");
    let outcome = ws
        .run(&["up", "--database-url", &url, "--format", "json"])
        .assert_code(1);
    let events = outcome.events();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "started", "applied", "applied", "applied", "applied", "error"
        ]
    );
    let line = events.last().unwrap();
    // The error is the object every `--format json` error carries, under `error`.
    assert_eq!(keys(line), ["error", "event", "format_version", "ts"]);
    let error = &line["error"];
    assert_eq!(
        keys(error),
        ["code", "detail", "exit_code", "hint", "location", "message"]
    );
    assert_eq!(error["code"], "migration-failed");
    assert_eq!(error["exit_code"], 1);
    assert!(
        error["location"]
            .as_str()
            .unwrap()
            .ends_with("20240105000000_broken/up.sql:2:1"),
        "{error}"
    );

    // The database cannot be opened: no run started, one `error` line.
    let outcome = ws
        .run(&[
            "up",
            "--database-url",
            "sqlite:/nonexistent-dir/app.db",
            "--format",
            "json",
        ])
        .assert_code(3);
    let events = outcome.events();
    assert_eq!(events.len(), 1, "{}", outcome.stdout);
    assert_eq!(events[0]["event"], "error");
    assert_eq!(events[0]["error"]["code"], "database-unreachable");

    // Refused before running (a human refusal, here confirmation): still an event.
    let outcome = ws
        .run(&["down", "--all", "--database-url", &url, "--format", "json"])
        .assert_code(2);
    assert_eq!(outcome.run_json()["error"]["code"], "confirmation-required");
}

/// `down`, `redo` and `reset` print the same events (`reverted` for a revert).
#[test]
fn down_redo_reset_json_are_event_streams() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    ws.run(&["up", "--database-url", &url]).assert_code(0);
    let kinds = |outcome: Outcome| -> Vec<String> {
        outcome
            .events()
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect()
    };
    let redo = ws
        .run(&["redo", "--database-url", &url, "--format", "json"])
        .assert_code(0);
    let started = redo.events()[0].clone();
    assert_eq!(
        (
            &started["command"],
            &started["to_apply"],
            &started["to_revert"]
        ),
        (&Value::from("redo"), &Value::from(1), &Value::from(1))
    );
    assert_eq!(kinds(redo), ["started", "reverted", "applied", "finished"]);
    let down = ws
        .run(&[
            "down",
            "-n",
            "2",
            "--yes",
            "--database-url",
            &url,
            "--format",
            "json",
        ])
        .assert_code(0);
    let finished = down.events().last().unwrap().clone();
    assert_eq!(finished["reverted"], 2);
    assert_eq!(kinds(down), ["started", "reverted", "reverted", "finished"]);
    let reset = ws
        .run(&["reset", "--yes", "--database-url", &url, "--format", "json"])
        .assert_code(0);
    let started = reset.events()[0].clone();
    assert_eq!(started["command"], "reset");
    // What it dropped: the set's two remaining tables and the history table.
    let dropped: Vec<&str> = started["dropped"]
        .as_array()
        .expect("dropped")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        dropped == ["table posts", "table users", "table _cargo_migrate"],
        "{started}"
    );
    assert_eq!(
        kinds(reset),
        [
            "started", "applied", "applied", "applied", "applied", "finished"
        ]
    );
    // In human form it says so, and lists every object with -v.
    let human = ws
        .run(&["reset", "--yes", "--database-url", &url, "-v"])
        .assert_code(0);
    assert!(
        human.stderr.contains("     Dropped 4 tables on ")
            && human.stderr.contains("             table users\n"),
        "{}",
        human.stderr
    );
}

/// Each event is written (and flushed) when it happens: a reader of the pipe sees a
/// migration's `applied` line while the process is still running the next one.
#[test]
fn up_json_events_are_flushed_as_they_happen() {
    use std::io::BufRead;
    // Migration 3 runs outside a transaction and takes a while (inserts 3M rows).
    let ws = counter_workspace(3, &[3], 3_000_000);
    let url = db_url(&ws, "app.db");
    let mut child = support::command()
        .current_dir(ws.path())
        .args(["up", "--database-url", &url, "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cargo-migrate");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let running_when_applied = loop {
        let line = lines.next().expect("a line before the end").expect("read");
        let event: Value = serde_json::from_str(&line).expect("a JSON line");
        seen.push(event["event"].as_str().unwrap().to_string());
        if event["event"] == "applied" && event["version"] == "0002" {
            break child.try_wait().expect("try_wait").is_none();
        }
    };
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert!(child.wait().expect("wait").success());
    assert!(
        running_when_applied,
        "the `applied` line of 0002 came only once the process had ended: {seen:?} {rest:?}"
    );
    assert_eq!(seen, ["started", "applied", "applied"]);
    assert_eq!(rest.len(), 2, "{rest:?}");
}

// ---------------------------------------------------------------------------- real data

/// vaultwarden's 56 SQLite migrations (diesel layout, with the odd directory
/// `2024-03-13_170000_sso_userscascade`: version `2024-03-13`) apply on a fresh file. 30 of its
/// down scripts are comments only, so `down --all` is refused before anything is reverted;
/// with those marked `-- migrate:down-does-nothing`, it runs all 56 and leaves exactly the 3
/// tables the corpus MANIFEST names.
#[test]
fn vaultwarden_sqlite_applies_and_reverts() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    let ws = Workspace::empty();
    // A copy, so the empty downs can be marked below.
    let dir = ws.path().join("migrations");
    support::copy_dir(&corpora.join("vaultwarden/migrations/sqlite"), &dir);
    let dir = dir.to_str().unwrap();
    let url = db_url(&ws, "vaultwarden.db");
    let base = ["--dir", dir, "--dialect", "sqlite", "--database-url", &url];
    let run = |args: &[&str]| ws.run(&[args, &base[..]].concat());

    let json = run(&["up", "--format", "json"]).assert_code(0).run_json();
    let applied = versions(&json["applied"]);
    assert_eq!(applied.len(), 56);
    // diesel's version is what comes before the first `_`.
    let odd = json["applied"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == "2024-03-13")
        .unwrap_or_else(|| panic!("2024-03-13 not applied: {applied:?}"));
    assert_eq!(odd["name"], "170000_sso_userscascade");
    assert_eq!(count(&url, "_cargo_migrate"), 56);
    run(&["status", "--exit-code"]).assert_code(0);

    // The newest migration's down is a comment: refused, nothing reverted.
    let json = run(&["down", "--all", "--yes", "--format", "json"])
        .assert_code(1)
        .run_json();
    assert_eq!(json["error"]["code"], "irreversible-migration", "{json}");
    assert!(versions(&json["reverted"]).is_empty());
    assert_eq!(count(&url, "_cargo_migrate"), 56);

    let list = ws
        .run(&[
            "--dir",
            dir,
            "--dialect",
            "sqlite",
            "list",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(list["sets"][0]["reversible"], 26, "{list}");
    let mut marked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let down = entry.unwrap().path().join("down.sql");
        let text = std::fs::read_to_string(&down).unwrap();
        let has_sql = text
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim().starts_with("--"));
        if !has_sql {
            std::fs::write(&down, format!("{text}\n-- migrate:down-does-nothing\n")).unwrap();
            marked += 1;
        }
    }
    // 30 placeholders, and 2 comment-only downs of comment-only ups (reversible as they are).
    assert_eq!(marked, 32);

    let json = run(&["down", "--all", "--yes", "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["reverted"]).len(), 56);
    assert_eq!(count(&url, "_cargo_migrate"), 0);
    let mut left: Vec<String> = sqlite_tables(&url)
        .into_iter()
        .filter(|t| t != "_cargo_migrate")
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["auth_requests", "folders_ciphers", "organization_api_key"]
    );
}

/// atuin's SQLite sets (sqlx layout, up only): the server's 7 and the client's 12 apply and
/// `status --exit-code` is 0.
#[test]
fn atuin_sqlite_sets_apply() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    for (set, expected) in [
        ("crates/atuin-server-sqlite/migrations", 7),
        ("crates/atuin-client/migrations", 12),
    ] {
        let dir = corpora.join("atuin").join(set);
        let dir = dir.to_str().unwrap();
        let ws = Workspace::empty();
        let url = db_url(&ws, "atuin.db");
        let base = ["--dir", dir, "--dialect", "sqlite", "--database-url", &url];
        let run = |args: &[&str]| ws.run(&[args, &base[..]].concat());
        let json = run(&["up", "--format", "json"]).assert_code(0).run_json();
        assert_eq!(versions(&json["applied"]).len(), expected, "{set}");
        assert_eq!(count(&url, "_cargo_migrate"), expected, "{set}");
        run(&["status", "--exit-code"]).assert_code(0);
    }
}

/// `history = "sqlx"` in the configuration: a fresh database gets sqlx's table (in sqlx's
/// format), not cargo-migrate's, so `sqlx::migrate!()` can take over later.
#[test]
fn configured_sqlx_history_is_created_in_sqlx_format() {
    let ws = Workspace::copy("sqlx-style");
    let manifest = ws.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "dialect = \"sqlite\"",
            "dialect = \"sqlite\"\nhistory = \"sqlx\"",
        ),
    )
    .unwrap();
    let url = db_url(&ws, "configured.db");
    ws.run(&["up", "--database-url", &url]).assert_code(0);
    assert_eq!(sqlite_tables(&url), ["_sqlx_migrations", "notes"]);
    let rows = sqlite_query(
        &url,
        "SELECT CAST(version AS TEXT), description, CAST(length(checksum) AS TEXT) FROM _sqlx_migrations ORDER BY version",
    );
    assert_eq!(
        rows,
        [
            [
                Some("20240101000000".to_string()),
                Some("create notes".to_string()),
                Some("48".to_string())
            ],
            [
                Some("20240201000000".to_string()),
                Some("index notes".to_string()),
                Some("48".to_string())
            ]
        ]
    );
    let status = ws
        .run(&["status", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(status["history_format"], "sqlx");
    assert_eq!(status["up_to_date"], true);
}

/// A URL of an unknown scheme: exit 2, the scheme named, and the password it holds not shown.
#[test]
fn unknown_url_scheme_is_refused_without_showing_the_password() {
    let ws = Workspace::copy("sqlx-style");
    let outcome = ws
        .run(&["status", "--database-url", "oracle://app:Zq9-secret@db/app"])
        .assert_code(2);
    assert!(
        outcome
            .stderr
            .contains("the database URL has an unknown scheme: `oracle:`"),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("Zq9-secret"), "{}", outcome.stderr);
    let json = ws
        .run(&[
            "status",
            "--database-url",
            "oracle://app:Zq9-secret@db/app",
            "--format",
            "json",
        ])
        .assert_code(2)
        .json();
    assert_eq!(json["error"]["code"], "bad-database-url");
    assert!(!json.to_string().contains("Zq9-secret"));
}

/// `down` reaching a migration without a down script stops before reverting anything: exit 1.
#[test]
fn down_stops_at_an_irreversible_migration() {
    let ws = Workspace::copy("sqlx-style");
    for entry in std::fs::read_dir(ws.path().join("migrations")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".down.sql") {
            std::fs::remove_file(&path).unwrap();
        } else if let Some(stem) = name.strip_suffix(".up.sql") {
            std::fs::rename(&path, path.with_file_name(format!("{stem}.sql"))).unwrap();
        }
    }
    let url = db_url(&ws, "irreversible.db");
    ws.run(&["up", "--database-url", &url]).assert_code(0);
    let outcome = ws.run(&["down", "--database-url", &url]).assert_code(1);
    assert!(
        outcome
            .stderr
            .contains("migration 20240201000000 index_notes has no down script"),
        "{}",
        outcome.stderr
    );
    let json = ws
        .run(&["down", "--database-url", &url, "--format", "json"])
        .assert_code(1)
        .run_json();
    assert_eq!(json["error"]["code"], "irreversible-migration");
    assert_eq!(history(&url).len(), 2, "nothing was reverted");
}

// ------------------------------------------------------------------- --dir with --config

/// A deploy without Cargo reads its settings from `--config FILE`: the history table's name
/// and the variable that holds the URL, as `[package.metadata.migrate]` would give them.
#[test]
fn dir_with_a_config_file() {
    let ws = Workspace::empty();
    let set = ws.path().join("migrations");
    std::fs::create_dir_all(set.join("20240101000000_create_notes")).unwrap();
    std::fs::write(
        set.join("20240101000000_create_notes/up.sql"),
        "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        set.join("20240101000000_create_notes/down.sql"),
        "DROP TABLE notes;\n",
    )
    .unwrap();
    std::fs::write(
        ws.path().join("migrate.toml"),
        "dialect = \"sqlite\"\nhistory-table = \"app_migrations\"\ndatabase-url-env = \"MIGRATE_DATABASE_URL\"\n",
    )
    .unwrap();
    let file = ws.path().join("app.db");
    let url = format!("sqlite:{}?mode=rwc", file.display());
    let outcome = support::run_in_env(
        ws.path(),
        &[
            "--dir",
            "migrations",
            "--config",
            "migrate.toml",
            "up",
            "--yes",
        ],
        &[("MIGRATE_DATABASE_URL", url.as_str())],
    )
    .assert_code(0);
    assert!(outcome.stderr.contains("Applied"), "{}", outcome.stderr);
    assert_eq!(sqlite_tables(&url), ["app_migrations", "notes"]);
    // Without the file, the variable is DATABASE_URL, which is not set.
    let outcome = support::run_in_env(
        ws.path(),
        &["--dir", "migrations", "--dialect", "sqlite", "status"],
        &[("MIGRATE_DATABASE_URL", url.as_str())],
    )
    .assert_code(2);
    assert!(
        outcome.stderr.contains("DATABASE_URL"),
        "{}",
        outcome.stderr
    );

    // Bad files are input errors naming the file (and the line).
    let bad = |text: &str, expected: &str| {
        std::fs::write(ws.path().join("bad.toml"), text).unwrap();
        let outcome = ws
            .run(&["--dir", "migrations", "--config", "bad.toml", "list"])
            .assert_code(2);
        assert!(outcome.stderr.contains(expected), "{}", outcome.stderr);
        assert!(outcome.stderr.contains("bad.toml"), "{}", outcome.stderr);
    };
    bad("dialect = \"sqlite\"\nhistory-table = \n", "not valid TOML");
    bad("dir = \"elsewhere\"\n", "--dir names the directory");
    bad("history-tabel = \"x\"\n", "history-table");
    let missing = ws
        .run(&["--dir", "migrations", "--config", "nope.toml", "list"])
        .assert_code(2);
    assert!(missing.stderr.contains("nope.toml"), "{}", missing.stderr);
    // --config without --dir is a usage error.
    ws.run(&["--config", "migrate.toml", "list"]).assert_code(2);
}

/// A down script without statements reverts nothing: `list` does not count it, `down` and
/// `redo` refuse it before touching anything (so the next `up` does not fail on a column that
/// was never dropped), `check` reports it, and a marker makes it deliberate. Templates whose
/// inverse is known scaffold it.
#[test]
fn a_down_without_statements_is_irreversible_unless_marked() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    // The default template's down is a comment for the author to replace.
    let created = ws
        .run(&["new", "add_nickname_to_users", "--format", "json"])
        .assert_code(0)
        .json();
    let dir = Path::new(created["created"][0].as_str().unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let version = created["version"].as_str().unwrap().to_string();
    write(
        &ws,
        dir.join("up.sql").to_str().unwrap(),
        "ALTER TABLE users ADD COLUMN nickname TEXT;\n",
    );
    let down_path = ws.path().join(&dir).join("down.sql");
    let scaffolded_down = std::fs::read_to_string(&down_path).unwrap();
    assert!(scaffolded_down.starts_with("-- Revert add_nickname_to_users"));

    let list = ws.run(&["list", "--format", "json"]).assert_code(0).json();
    assert_eq!(list["sets"][0]["migrations"], 5, "{list}");
    assert_eq!(list["sets"][0]["reversible"], 4, "{list}");
    let verbose = ws.run(&["list", "-v", "--color", "never"]).assert_code(0);
    let row = verbose
        .stdout
        .lines()
        .find(|l| l.contains("add_nickname_to_users"))
        .unwrap();
    assert!(row.ends_with("empty-down"), "{row}");

    ws.run(&["up", "--database-url", &url]).assert_code(0);
    let mut applied = LIFECYCLE
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>();
    applied.push(version.clone());
    assert_eq!(history(&url), applied);
    let columns = |url: &str| {
        column(
            url,
            "SELECT name FROM pragma_table_info('users') ORDER BY cid",
        )
    };
    let with_nickname = columns(&url);
    assert!(with_nickname.contains(&"nickname".to_string()));

    for command in ["down", "redo"] {
        let refused = ws
            .run(&[command, "--database-url", &url, "--format", "json"])
            .assert_code(1)
            .run_json();
        assert_eq!(
            refused["error"]["code"], "irreversible-migration",
            "{refused}"
        );
        assert!(
            refused["reverted"].as_array().unwrap().is_empty(),
            "{refused}"
        );
        assert!(
            refused["error"]["location"]
                .as_str()
                .unwrap()
                .ends_with("_add_nickname_to_users/down.sql"),
            "{refused}"
        );
        assert!(
            refused["error"]["hint"]
                .as_str()
                .unwrap()
                .starts_with("write the down script"),
            "{refused}"
        );
        // Nothing touched: the history and the column are as `up` left them.
        assert_eq!(history(&url), applied, "{command}");
        assert_eq!(columns(&url), with_nickname, "{command}");
    }
    let human = ws
        .run(&["down", "--database-url", &url, "--color", "never"])
        .assert_code(1);
    let mut version_filters = filters();
    version_filters.push((r"\d{14}", "[VERSION]"));
    insta::with_settings!({ filters => version_filters }, {
        insta::assert_snapshot!("down_refuses_a_down_without_statements", human.snapshot());
    });
    assert!(!human.stderr.contains("Reverted"), "{}", human.stderr);
    assert!(
        human.stderr.contains("its down script has no statements"),
        "{}",
        human.stderr
    );
    // The next `up` has nothing to do, rather than failing on a column that already exists.
    ws.run(&["up", "--database-url", &url]).assert_code(0);

    let report = ws
        .run(&["check", "--format", "json", "--reversibility", "last:1"])
        .assert_code(1)
        .json();
    let found = report["reversibility"]["findings"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["kind"], "down_empty", "{report}");
    assert_eq!(
        found[0]["migration"],
        format!("{version}_add_nickname_to_users"),
        "{report}"
    );

    // Saying that reverting needs nothing makes it reversible: `down` runs it and removes the row.
    std::fs::write(
        &down_path,
        "-- The column may stay; old code ignores it.\n-- migrate:down-does-nothing\n",
    )
    .unwrap();
    let list = ws.run(&["list", "--format", "json"]).assert_code(0).json();
    assert_eq!(list["sets"][0]["reversible"], 5, "{list}");
    let json = ws
        .run(&["down", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(versions(&json["reverted"]), [version.as_str()]);
    assert_eq!(history(&url), LIFECYCLE);
    assert_eq!(columns(&url), with_nickname);
    // (`check` would now say the column is left behind: the marker says so on purpose.)

    // A template whose inverse is known scaffolds it, so `down` really reverts (in a fresh
    // copy: above, the marked down left the column, so the nickname migration cannot re-apply).
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = db_url(&ws, "app.db");
    ws.run(&["new", "create_labels", "--template", "create_table"])
        .assert_code(0);
    ws.run(&["up", "--database-url", &url]).assert_code(0);
    assert!(sqlite_tables(&url).contains(&"labels".to_string()));
    let json = ws
        .run(&["down", "--database-url", &url, "--format", "json"])
        .assert_code(0)
        .run_json();
    assert_eq!(json["reverted"].as_array().unwrap().len(), 1);
    assert!(!sqlite_tables(&url).contains(&"labels".to_string()));
}

// ------------------------------------------------------------------------------- scale

/// Runs `cargo-migrate ARGS` in the workspace and kills it if it has not finished within
/// `limit` (the test then fails saying so): for behaviours whose failure is a hang or a
/// run that takes minutes. Returns (exit code, stdout, stderr).
fn run_within(ws: &Workspace, args: &[&str], limit: std::time::Duration) -> (i32, String, String) {
    // Files, not pipes: a child blocked on a full pipe would look like a slow one.
    let out_path = ws.path().join("run_within.stdout");
    let err_path = ws.path().join("run_within.stderr");
    let mut child = support::command()
        .current_dir(ws.path())
        .args(args)
        .args(["--color", "never"])
        .stdout(std::fs::File::create(&out_path).expect("create stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("create stderr file"))
        .spawn()
        .expect("start cargo-migrate");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().expect("kill cargo-migrate");
            child.wait().expect("reap cargo-migrate");
            panic!(
                "`cargo-migrate {}` still running after {} s",
                args.join(" "),
                limit.as_secs()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(out_path).expect("read stdout"),
        std::fs::read_to_string(err_path).expect("read stderr"),
    )
}

/// One transactional migration of 100,000 INSERTs (2.7 MB) applies within 30 s (well under
/// a second on the project's 2-core machine; `cargo bench --bench sqlite_scale` measures it
/// against the sqlite3 shell). It used to take minutes: sqlx handed SQLite the whole rest of
/// the script with each statement, and SQLite copied that rest every time (quadratic).
#[test]
fn large_script_applies_in_linear_time() {
    const ROWS: usize = 100_000;
    let ws = Workspace::copy("root-set");
    let mut script =
        String::from("CREATE TABLE readings (id INTEGER PRIMARY KEY, value INTEGER NOT NULL);\n");
    for i in 1..=ROWS {
        script.push_str(&format!("INSERT INTO readings (value) VALUES ({i});\n"));
    }
    write(&ws, "migrations/0002_readings/up.sql", &script);
    write(
        &ws,
        "migrations/0002_readings/down.sql",
        "DROP TABLE readings;\n",
    );
    let url = db_url(&ws, "app.db");
    let started = Instant::now();
    let (code, _, stderr) = run_within(
        &ws,
        &["up", "-q", "--database-url", &url],
        std::time::Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{stderr}");
    eprintln!(
        "{ROWS} statements applied in {} ms",
        started.elapsed().as_millis()
    );
    // Every statement ran, once.
    assert_eq!(
        column(
            &url,
            "SELECT CAST(count(*) AS TEXT) || ' ' || CAST(sum(value) AS TEXT) FROM readings"
        ),
        [format!("{ROWS} {}", ROWS * (ROWS + 1) / 2)]
    );
    assert_eq!(history(&url), ["0001", "0002"]);
}

/// A long transactional script failing at its last statement (3,000 before it) is located
/// at that statement's line, exit 1, nothing applied; a no-transaction migration of 300
/// statements applies. Both send SQLite hundreds of statements (a failure located by counting the statements that completed; autocommit one
/// at a time).
#[test]
fn long_statement_by_statement_runs_finish() {
    let ws = Workspace::copy("root-set");
    let url = db_url(&ws, "app.db");
    let limit = std::time::Duration::from_secs(60);
    let mut script = String::from("CREATE TABLE filled (id INTEGER PRIMARY KEY);\n");
    for i in 1..=3000 {
        script.push_str(&format!("INSERT INTO filled VALUES ({i});\n"));
    }
    script.push_str("INSERT INTO no_such_table VALUES (1);\n");
    write(&ws, "migrations/0002_long/up.sql", &script);
    let (code, _, stderr) = run_within(&ws, &["up", "--database-url", &url], limit);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("migrations/0002_long/up.sql:3002:1")
            && stderr.contains("no such table: no_such_table"),
        "{stderr}"
    );
    assert_eq!(sqlite_tables(&url), ["_cargo_migrate", "settings"]);

    let mut script =
        String::from("-- migrate:no-transaction\nCREATE TABLE filled (id INTEGER PRIMARY KEY);\n");
    for i in 1..300 {
        script.push_str(&format!("INSERT INTO filled VALUES ({i});\n"));
    }
    write(&ws, "migrations/0002_long/up.sql", &script);
    let (code, _, stderr) = run_within(&ws, &["up", "--database-url", &url], limit);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(count(&url, "filled"), 299);
    assert_eq!(history(&url), ["0001", "0002"]);
}
