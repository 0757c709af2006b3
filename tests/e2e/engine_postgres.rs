//! The migration engine end to end on PostgreSQL: the real binary against real throw-away
//! clusters (one per test, from the template cache, removed when the test ends).
//!
//! Without PostgreSQL's server binaries the database tests print why they are skipped and pass
//! (under `CI=true` they fail instead); the real-world histories are skipped the same way when
//! `../shared/corpora` is absent. Success paths are checked through `--format json` and the
//! database itself; error output is pinned with snapshots, filtered for the parts that change
//! between runs (socket directory, durations, timestamps, pids).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Outcome, Pg, Workspace};

const V1: &str = "20240101120000"; // fixtures/single: create_users
const V2: &str = "20240102090000"; // fixtures/single: add_email_to_users
const V3: &str = "20240103000000"; // added by `extend_single`: create_posts
const V4: &str = "20240104000000"; // added by `extend_single`: create_comments

/// Filters for the parts of the output that differ between runs.
const FILTERS: &[(&str, &str)] = &[
    // The cluster's socket directory: `/dev/shm/cm-AbC123` or `$TMPDIR/cm-AbC123`, also
    // percent-encoded.
    (r"(?:/[^\s/?&%]+)*/cm-[A-Za-z0-9]{6}\b", "[SOCKET]"),
    (r"(?:%2F[^\s/?&%]+)*%2Fcm-[A-Za-z0-9]{6}\b", "[SOCKET]"),
    (r"\(\d+(?:\.\d+)? m?s\)", "([DURATION])"),
    (r"\bin \d+(?:\.\d+)? m?s\b", "in [DURATION]"),
    (
        r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}(?::?\d{2})?|Z)?",
        "[TIMESTAMP]",
    ),
    (r"\bpid \d+", "pid [PID]"),
];

/// Pins `outcome` (exit code, stdout, stderr) as snapshot `name`, filtered.
#[track_caller]
fn snapshot(name: &str, outcome: &Outcome) {
    insta::with_settings!({filters => FILTERS.to_vec()}, {
        insta::assert_snapshot!(name, outcome.snapshot());
    });
}

/// `cargo-migrate ARGS --database-url URL` in `ws`, checked for panics.
#[track_caller]
fn cm(ws: &Workspace, url: &str, args: &[&str]) -> Outcome {
    let mut all = args.to_vec();
    all.extend(["--database-url", url]);
    support::no_panic(ws.run(&all))
}

/// `--format json` run: the exit code must be `code`; returns the one JSON object, or for a
/// run that prints events (`up` but `--dry-run`, `down`, `redo`, `reset`) the events folded
/// into one ([`Outcome::run_json`]).
#[track_caller]
fn cm_json(ws: &Workspace, url: &str, args: &[&str], code: i32) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let outcome = cm(ws, url, &all).assert_code(code);
    let streams = args
        .iter()
        .any(|a| matches!(*a, "up" | "down" | "redo" | "reset"))
        && !args.contains(&"--dry-run");
    if streams {
        outcome.run_json()
    } else {
        outcome.json()
    }
}

/// `status --format json` as (version, state) pairs.
#[track_caller]
fn states(ws: &Workspace, url: &str) -> Vec<(String, String)> {
    let status = cm_json(ws, url, &["status"], 0);
    status["migrations"]
        .as_array()
        .expect("migrations array")
        .iter()
        .map(|m| {
            (
                m["version"].as_str().unwrap().to_string(),
                m["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The versions in a JSON run report list (`applied`, `reverted`).
fn versions(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array of runs")
        .iter()
        .map(|run| run["version"].as_str().unwrap().to_string())
        .collect()
}

/// Rows of our own history table: (version, success), in version order.
fn history(pg: &Pg, url: &str) -> Vec<(String, bool)> {
    pg.query(
        url,
        "SELECT version, success::text FROM _cargo_migrate ORDER BY version",
    )
    .into_iter()
    .map(|row| (row[0].clone().unwrap(), row[1].as_deref() == Some("true")))
    .collect()
}

fn applied(versions: &[&str]) -> Vec<(String, bool)> {
    versions.iter().map(|v| (v.to_string(), true)).collect()
}

fn count(pg: &Pg, url: &str, sql: &str) -> i64 {
    pg.query(url, sql)[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

fn column_exists(pg: &Pg, url: &str, table: &str, column: &str) -> bool {
    count(
        pg,
        url,
        &format!(
            "SELECT count(*)::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = '{table}' AND column_name = '{column}'"
        ),
    ) == 1
}

/// Writes a directory-style migration `migrations/<dir>/up.sql` (and `down.sql`).
fn write_migration(ws: &Workspace, dir: &str, up: &str, down: Option<&str>) {
    let path = ws.path().join("migrations").join(dir);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("up.sql"), up).unwrap();
    if let Some(down) = down {
        std::fs::write(path.join("down.sql"), down).unwrap();
    }
}

/// fixtures/single plus two more reversible migrations: four in all.
fn extend_single(ws: &Workspace) {
    write_migration(
        ws,
        &format!("{V3}_create_posts"),
        "CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));\n",
        Some("DROP TABLE posts;\n"),
    );
    write_migration(
        ws,
        &format!("{V4}_create_comments"),
        "CREATE TABLE comments (id bigint PRIMARY KEY, post_id bigint REFERENCES posts (id));\n",
        Some("DROP TABLE comments;\n"),
    );
}

/// A single-threaded runtime for driving sqlx's own migrator.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Runs sqlx's real migrator over `dir` (validating the checksums of what is applied).
fn sqlx_migrate(url: &str, dir: &Path) -> Result<(), sqlx::migrate::MigrateError> {
    use sqlx::Connection;
    block_on(async {
        let migrator = sqlx::migrate::Migrator::new(dir).await?;
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        migrator.run(&mut conn).await
    })
}

/// A child process killed when dropped, so a failing test leaves nothing running.
struct Running {
    child: Option<Child>,
    dir: PathBuf,
}

impl Running {
    fn spawn(dir: &Path, args: &[&str]) -> Running {
        let child = support::command()
            .current_dir(dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cargo-migrate");
        Running {
            child: Some(child),
            dir: dir.to_path_buf(),
        }
    }

    fn wait(mut self) -> Outcome {
        let output = self.child.take().unwrap().wait_with_output().unwrap();
        support::no_panic(support::outcome_of(&self.dir, output))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ------------------------------------------------------------------------------- basics

/// status on a fresh database lists everything as pending and creates nothing; up applies
/// all, records each with its checksum, and status --exit-code is then satisfied.
#[test]
fn status_then_up_on_a_fresh_database() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");

    let out = cm(&ws, &url, &["status"]).assert_code(0);
    assert!(
        out.stdout.contains("2 migrations: 0 applied, 2 pending"),
        "{}",
        out.stdout
    );
    // The table reads as configured, as on SQLite; the schema it is pinned to follows.
    assert!(
        out.stdout
            .contains("(history in _cargo_migrate, schema public)"),
        "{}",
        out.stdout
    );
    assert_eq!(
        pg.tables(&url),
        Vec::<String>::new(),
        "status must not create anything"
    );

    let up = cm_json(&ws, &url, &["up"], 0);
    assert_eq!(versions(&up["applied"]), [V1, V2]);
    assert_eq!(up["started"]["pending"], json!(2));
    assert_eq!(up["started"]["to_apply"], json!(2));
    assert_eq!(up["finished"]["applied"], json!(2));
    cm(&ws, &url, &["status", "--exit-code"]).assert_code(0);
    assert_eq!(pg.tables(&url), ["_cargo_migrate", "users"]);
    assert!(column_exists(&pg, &url, "users", "email"));

    // Each row carries the version and name as written, the checksum `list` shows, success.
    let listed = ws
        .run(&["list", "-v", "--format", "json"])
        .assert_code(0)
        .json();
    let items = listed["sets"][0]["items"].as_array().unwrap();
    let rows = pg.query(
        &url,
        "SELECT version, name, checksum, success::text, failure, \
                (applied_at > now() - interval '1 minute')::text, (execution_ms >= 0)::text \
         FROM _cargo_migrate ORDER BY version",
    );
    assert_eq!(rows.len(), 2);
    for (row, item) in rows.iter().zip(items) {
        assert_eq!(row[0].as_deref(), item["version"].as_str());
        assert_eq!(row[1].as_deref(), item["name"].as_str());
        assert_eq!(row[2].as_deref(), item["checksum"].as_str());
        assert_eq!(row[2].as_deref().unwrap().len(), 64);
        assert_eq!(row[3].as_deref(), Some("true"));
        assert_eq!(row[4], None);
        assert_eq!(row[5].as_deref(), Some("true"));
        assert_eq!(row[6].as_deref(), Some("true"));
    }

    // Nothing left: up says so and changes nothing.
    let again = cm(&ws, &url, &["up"]).assert_code(0);
    assert!(
        again
            .stderr
            .contains("Nothing to apply: the database is up to date"),
        "{}",
        again.stderr
    );
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));
}

/// status --exit-code fails while anything is pending; the JSON shape, with the URL taken from
/// DATABASE_URL (password redacted) and --database-url winning over it.
#[test]
fn status_exit_code_and_json_from_database_url_env() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    let with_password = url.replace("postgres://postgres@", "postgres://postgres:EnvPw-4711@");
    let status = |args: &[&str]| {
        support::no_panic(support::run_in_env(
            ws.path(),
            args,
            &[("DATABASE_URL", &with_password)],
        ))
    };

    let out = status(&["status", "--exit-code"]).assert_code(1);
    assert!(
        out.stdout.contains("2 migrations: 0 applied, 2 pending"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("the database is not up to date: 2 pending"),
        "{}",
        out.stderr
    );

    let out = status(&["status", "--format", "json"]).assert_code(0);
    assert!(!out.stdout.contains("EnvPw-4711"));
    let report = out.json();
    let redacted = url.replace("postgres://postgres@", "postgres://postgres:***@");
    assert_eq!(report["database"], json!(redacted));
    assert_eq!(report["history_table"], "public._cargo_migrate");
    assert_eq!(report["history_format"], "cargo-migrate");
    assert_eq!(
        report["migrations"],
        json!([
            {"version": V1, "name": "create_users", "state": "pending", "out_of_order": false,
             "applied_at": null, "execution_ms": null, "failure": null},
            {"version": V2, "name": "add_email_to_users", "state": "pending", "out_of_order": false,
             "applied_at": null, "execution_ms": null, "failure": null},
        ])
    );
    assert_eq!(
        report["summary"],
        json!({"applied": 0, "pending": 2, "modified": 0, "missing": 0, "failed": 0})
    );

    // One applied, one pending: still exit 1; human output names what is pending.
    cm(&ws, &url, &["up", "--to", V1]).assert_code(0);
    let out = status(&["status", "--exit-code"]).assert_code(1);
    assert!(
        out.stdout.contains("2 migrations: 1 applied, 1 pending"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("1 pending, 0 modified, 0 missing, 0 failed"),
        "{}",
        out.stderr
    );

    // --database-url beats DATABASE_URL (here pointing at a database that does not exist).
    let elsewhere = url.replace("/app?", "/nosuch?");
    let out = status(&["status", "--database-url", &elsewhere]).assert_code(3);
    assert!(
        out.stderr.contains("database \"nosuch\" does not exist"),
        "{}",
        out.stderr
    );

    cm(&ws, &url, &["up"]).assert_code(0);
    status(&["status", "--exit-code"]).assert_code(0);
}

/// `status --exit-code --format json` with something pending prints exactly one JSON object:
/// the status report (which says why), with exit code 1.
#[test]
fn status_exit_code_json_is_one_object() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    let report = cm_json(&ws, &url, &["status", "--exit-code"], 1);
    assert_eq!(report["up_to_date"], false);
    assert_eq!(report["summary"]["pending"], 2);
    assert!(report.get("error").is_none(), "{report}");
}

// --------------------------------------------------------------------------------- down

/// down reverts the newest one by default, everything after V with --to, N with -n (--yes),
/// everything with --all; reverting several without --yes and without a terminal is refused.
#[test]
fn down_variants_and_confirmation() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    extend_single(&ws);
    cm(&ws, &url, &["up"]).assert_code(0);
    assert_eq!(
        pg.tables(&url),
        ["_cargo_migrate", "comments", "posts", "users"]
    );

    let down = cm_json(&ws, &url, &["down"], 0);
    assert_eq!(versions(&down["reverted"]), [V4]);
    assert_eq!(down["reverted"][0]["direction"], "down");
    assert_eq!(history(&pg, &url), applied(&[V1, V2, V3]));
    assert_eq!(pg.tables(&url), ["_cargo_migrate", "posts", "users"]);

    // --to V keeps V; one to revert needs no confirmation.
    let down = cm_json(&ws, &url, &["down", "--to", V2], 0);
    assert_eq!(versions(&down["reverted"]), [V3]);
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));

    cm(&ws, &url, &["up"]).assert_code(0);
    let down = cm_json(&ws, &url, &["down", "-n", "2", "--yes"], 0);
    assert_eq!(versions(&down["reverted"]), [V4, V3]);
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));

    // Two to revert, no --yes, no terminal: refused before anything runs.
    let refused = cm(&ws, &url, &["down", "-n", "2"]).assert_code(2);
    snapshot("down_n2_without_yes", &refused);
    let refused = cm_json(&ws, &url, &["down", "--all"], 2);
    assert_eq!(refused["error"]["code"], "confirmation-required");
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));
    assert!(column_exists(&pg, &url, "users", "email"));

    let down = cm_json(&ws, &url, &["down", "--all", "--yes"], 0);
    assert_eq!(versions(&down["reverted"]), [V2, V1]);
    assert_eq!(history(&pg, &url), applied(&[]));
    assert_eq!(pg.tables(&url), ["_cargo_migrate"]);

    let nothing = cm(&ws, &url, &["down"]).assert_code(0);
    assert!(
        nothing.stderr.contains("Nothing to revert"),
        "{}",
        nothing.stderr
    );
}

// --------------------------------------------------------------------------- redo, reset

/// redo runs the newest migration's down and up again.
#[test]
fn redo_reverts_and_reapplies_the_newest() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    cm(&ws, &url, &["up"]).assert_code(0);
    pg.execute(
        &url,
        "INSERT INTO users (name, email) VALUES ('ada', 'ada@example.com')",
    );

    let redo = cm_json(&ws, &url, &["redo"], 0);
    assert_eq!(versions(&redo["reverted"]), [V2]);
    assert_eq!(versions(&redo["applied"]), [V2]);
    // The column was dropped and added again: the user is still there, their email is not.
    assert_eq!(
        pg.query(&url, "SELECT name, email FROM users"),
        [[Some("ada".to_string()), None]]
    );
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));

    let refused = cm_json(&ws, &url, &["redo", "-n", "2"], 2);
    assert_eq!(refused["error"]["code"], "confirmation-required");
    let redo = cm_json(&ws, &url, &["redo", "-n", "2", "--yes"], 0);
    assert_eq!(versions(&redo["reverted"]), [V2, V1]);
    assert_eq!(versions(&redo["applied"]), [V1, V2]);
    assert_eq!(count(&pg, &url, "SELECT count(*)::text FROM users"), 0);
}

/// reset --yes drops everything, also what no migration created, and applies all again;
/// without --yes it is refused and nothing is dropped.
#[test]
fn reset_drops_everything_and_reapplies() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    cm(&ws, &url, &["up"]).assert_code(0);
    pg.execute(
        &url,
        "CREATE TABLE stray (id int);
         CREATE SCHEMA extra;
         CREATE TABLE extra.things (id int);
         CREATE TYPE mood AS ENUM ('ok');
         CREATE SEQUENCE counter;
         CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
         INSERT INTO users (name) VALUES ('ada');",
    );
    let owner_and_acl = "SELECT pg_get_userbyid(nspowner)::text, coalesce(nspacl::text, '') \
                         FROM pg_namespace WHERE nspname = 'public'";
    let public_before = pg.query(&url, owner_and_acl);

    let refused = cm(&ws, &url, &["reset"]).assert_code(2);
    snapshot("reset_without_yes", &refused);
    assert_eq!(pg.tables(&url), ["_cargo_migrate", "stray", "users"]);
    assert_eq!(
        count(&pg, &url, "SELECT count(*)::text FROM extra.things"),
        0
    );
    assert_eq!(count(&pg, &url, "SELECT count(*)::text FROM users"), 1);

    let reset = cm_json(&ws, &url, &["reset", "--yes"], 0);
    assert_eq!(versions(&reset["applied"]), [V1, V2]);
    // It says what it dropped (a serial's own sequence goes with its table, unlisted).
    assert_eq!(
        reset["started"]["dropped"],
        serde_json::json!([
            "schema extra",
            "sequence public.counter",
            "table extra.things",
            "table public._cargo_migrate",
            "table public.stray",
            "table public.users"
        ])
    );
    assert_eq!(pg.tables(&url), ["_cargo_migrate", "users"]);
    assert_eq!(count(&pg, &url, "SELECT count(*)::text FROM users"), 0);
    let leftovers = pg.query(
        &url,
        "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'extra')::text, \
                (SELECT count(*) FROM pg_type WHERE typname = 'mood')::text, \
                (SELECT count(*) FROM pg_class WHERE relname = 'counter')::text, \
                (SELECT count(*) FROM pg_proc WHERE proname = 'answer')::text",
    );
    assert_eq!(
        leftovers,
        [[
            Some("0".to_string()),
            Some("0".into()),
            Some("0".into()),
            Some("0".into())
        ]]
    );
    assert_eq!(
        pg.query(&url, owner_and_acl),
        public_before,
        "public keeps its owner and privileges"
    );
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));
    cm(&ws, &url, &["status", "--exit-code"]).assert_code(0);
}

// ---------------------------------------------------------------------------------- up

/// up --to stops after V; up --dry-run prints the plan's SQL and changes nothing at all.
#[test]
fn up_to_and_dry_run() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    extend_single(&ws);

    let dry = cm(&ws, &url, &["up", "--dry-run"]).assert_code(0);
    assert!(
        dry.stdout.contains(&format!(
            "-- {V1}_create_users (migrations/{V1}_create_users/up.sql)"
        )),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("ALTER TABLE users ADD COLUMN email text;"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("CREATE TABLE comments"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stderr
            .contains("dry run: 4 migrations would be applied to postgres://postgres@localhost"),
        "{}",
        dry.stderr
    );
    assert!(dry.stderr.contains("nothing was changed"), "{}", dry.stderr);
    assert_eq!(
        pg.tables(&url),
        Vec::<String>::new(),
        "a dry run creates no history table"
    );

    let up = cm_json(&ws, &url, &["up", "--to", V2], 0);
    assert_eq!(versions(&up["applied"]), [V1, V2]);
    assert_eq!(pg.tables(&url), ["_cargo_migrate", "users"]);

    let dry = cm_json(&ws, &url, &["up", "--dry-run"], 0);
    assert_eq!(dry["dry_run"], json!(true));
    assert_eq!(dry["applied"], json!([]));
    let plan = dry["plan"].as_array().unwrap();
    assert_eq!(plan.len(), 2);
    assert_eq!(plan[0]["version"], V3);
    assert_eq!(plan[0]["no_transaction"], json!(false));
    assert!(
        plan[0]["sql"]
            .as_str()
            .unwrap()
            .starts_with("CREATE TABLE posts")
    );
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));

    let unknown = cm_json(&ws, &url, &["up", "--to", "20990101000000"], 2);
    assert_eq!(unknown["error"]["code"], "unknown-version");

    let up = cm_json(&ws, &url, &["up", "--to", V3], 0);
    assert_eq!(versions(&up["applied"]), [V3]);
    assert_eq!(
        states(&ws, &url),
        pairs(&[
            (V1, "applied"),
            (V2, "applied"),
            (V3, "applied"),
            (V4, "pending")
        ])
    );
}

// ------------------------------------------------------------------------- failures

/// A transactional migration that fails at its 2nd statement: exit 1, pointed at file:line:col
/// with a code frame, and nothing of it applied or recorded; earlier migrations stay.
#[test]
fn failing_transactional_migration_applies_nothing() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    cm(&ws, &url, &["up"]).assert_code(0);

    // A comment with non-ASCII text first: PostgreSQL counts positions in characters.
    write_migration(
        &ws,
        &format!("{V3}_create_audit"),
        "-- Übersicht: schöne Grüße ✓\nCREATE TABLE audit (id bigint PRIMARY KEY);\nCREATE TABLE audit_detail (\n    id bigint,\n    note integr NOT NULL\n);\nCREATE INDEX audit_detail_id ON audit_detail (id);\n",
        None,
    );
    let failed = cm(&ws, &url, &["up"]).assert_code(1);
    snapshot("failing_transactional_typo", &failed);
    let json = cm_json(&ws, &url, &["up"], 1);
    assert_eq!(json["error"]["code"], "migration-failed");
    assert_eq!(
        json["error"]["location"],
        format!("migrations/{V3}_create_audit/up.sql:5:10")
    );
    assert!(
        json["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("= error code 42704")
    );
    assert_eq!(
        pg.tables(&url),
        ["_cargo_migrate", "users"],
        "statement 1 was rolled back"
    );
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));

    // An error PostgreSQL gives no position for: the line is found by replaying the script.
    write_migration(
        &ws,
        &format!("{V3}_create_audit"),
        "CREATE TABLE audit (id bigint PRIMARY KEY);\n\n    DROP TABLE nosuch;\nCREATE TABLE audit_detail (id bigint);\n",
        None,
    );
    let failed = cm(&ws, &url, &["up"]).assert_code(1);
    snapshot("failing_transactional_no_position", &failed);
    assert!(
        failed
            .stderr
            .contains(&format!("--> migrations/{V3}_create_audit/up.sql:3:5")),
        "{}",
        failed.stderr
    );
    assert_eq!(pg.tables(&url), ["_cargo_migrate", "users"]);
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));
    assert_eq!(
        states(&ws, &url),
        pairs(&[(V1, "applied"), (V2, "applied"), (V3, "pending")])
    );

    // Fixed, it applies.
    write_migration(
        &ws,
        &format!("{V3}_create_audit"),
        "CREATE TABLE audit (id bigint PRIMARY KEY);\n",
        None,
    );
    cm(&ws, &url, &["up"]).assert_code(0);
    assert_eq!(history(&pg, &url), applied(&[V1, V2, V3]));
}

/// A no-transaction migration that fails after its 1st statement is recorded as failed: status
/// says so, up refuses until `resolve`, and after fixing the file up applies it.
#[test]
fn failing_no_transaction_migration_is_recorded_as_failed() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    cm(&ws, &url, &["up"]).assert_code(0);
    let dir = format!("{V3}_audit");
    write_migration(
        &ws,
        &dir,
        "-- migrate:no-transaction\nCREATE TABLE audit (id bigint);\nCREATE INDEX CONCURRENTLY audit_at ON audit (created_at);\n",
        None,
    );
    let failed = cm(&ws, &url, &["up"]).assert_code(1);
    snapshot("failing_no_transaction_part_way", &failed);
    assert_eq!(
        pg.tables(&url),
        ["_cargo_migrate", "audit", "users"],
        "statement 1 stays"
    );
    assert_eq!(
        history(&pg, &url),
        [(V1.into(), true), (V2.into(), true), (V3.into(), false)]
    );

    let status = cm_json(&ws, &url, &["status"], 0);
    assert_eq!(status["migrations"][2]["state"], "failed");
    assert_eq!(status["summary"]["failed"], 1);
    let failure = status["migrations"][2]["failure"].as_str().unwrap();
    assert!(
        failure.contains("up stopped at 3:1 after 1 of 2 statements"),
        "{failure}"
    );
    assert!(
        failure.contains("column \"created_at\" does not exist"),
        "{failure}"
    );
    let human = cm(&ws, &url, &["status", "--exit-code"]).assert_code(1);
    assert!(human.stdout.contains("failed"), "{}", human.stdout);
    assert!(
        human
            .stderr
            .contains(&format!("cargo migrate resolve {V3} --applied")),
        "{}",
        human.stderr
    );

    let refused = cm(&ws, &url, &["up"]).assert_code(1);
    snapshot("up_refuses_failed_migration", &refused);
    let refused = cm_json(&ws, &url, &["down"], 1);
    assert_eq!(refused["error"]["code"], "failed-migration");
    assert_eq!(history(&pg, &url).len(), 3);

    // Undo statement 1 by hand, record that nothing of it remains, fix the file, run it.
    pg.execute(&url, "DROP TABLE audit");
    let resolved = cm_json(&ws, &url, &["resolve", V3, "--rolled-back"], 0);
    assert_eq!(resolved["was"], "failed");
    assert_eq!(resolved["now"], "pending");
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));
    write_migration(
        &ws,
        &dir,
        "-- migrate:no-transaction\nCREATE TABLE audit (id bigint, created_at timestamptz);\nCREATE INDEX CONCURRENTLY audit_at ON audit (created_at);\n",
        None,
    );
    let up = cm_json(&ws, &url, &["up"], 0);
    assert_eq!(versions(&up["applied"]), [V3]);
    assert_eq!(history(&pg, &url), applied(&[V1, V2, V3]));
    assert_eq!(
        count(
            &pg,
            &url,
            "SELECT count(*)::text FROM pg_index WHERE indexrelid = 'audit_at'::regclass AND indisvalid"
        ),
        1
    );
    cm(&ws, &url, &["status", "--exit-code"]).assert_code(0);
}

/// A no-transaction migration whose first statement fails changed nothing: it stays pending,
/// with no history row.
#[test]
fn no_transaction_migration_failing_at_its_first_statement_stays_pending() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    cm(&ws, &url, &["up"]).assert_code(0);
    write_migration(
        &ws,
        &format!("{V3}_index_posts"),
        "-- migrate:no-transaction\n-- posts come later\nCREATE INDEX CONCURRENTLY posts_user ON posts (user_id);\nCREATE TABLE audit (id bigint);\n",
        None,
    );
    let failed = cm(&ws, &url, &["up"]).assert_code(1);
    snapshot("failing_no_transaction_first_statement", &failed);
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));
    assert_eq!(pg.tables(&url), ["_cargo_migrate", "users"]);
    assert_eq!(
        states(&ws, &url),
        pairs(&[(V1, "applied"), (V2, "applied"), (V3, "pending")])
    );
}

/// CREATE INDEX CONCURRENTLY in a no-transaction migration (diesel's metadata.toml) applies,
/// and its DROP INDEX CONCURRENTLY down script reverts it.
#[test]
fn create_index_concurrently_applies_and_reverts() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("blog");
    let ws = Workspace::copy("diesel-style");
    let up = cm_json(&ws, &url, &["up"], 0);
    assert_eq!(
        versions(&up["applied"]),
        [
            "00000000000000",
            "2024-05-01-101500",
            "2024-06-01-000000-0000",
            "20240701000000"
        ]
    );
    let index_valid = "SELECT count(*)::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                       WHERE c.relname = 'posts_title' AND i.indisvalid";
    assert_eq!(count(&pg, &url, index_valid), 1);
    assert!(column_exists(&pg, &url, "posts", "published"));
    assert_eq!(history(&pg, &url).len(), 4);

    let down = cm_json(&ws, &url, &["down", "-n", "2", "--yes"], 0);
    assert_eq!(
        versions(&down["reverted"]),
        ["20240701000000", "2024-06-01-000000-0000"]
    );
    assert_eq!(count(&pg, &url, index_valid), 0);
    assert_eq!(history(&pg, &url).len(), 2);
    cm(&ws, &url, &["up"]).assert_code(0);
    assert_eq!(count(&pg, &url, index_valid), 1);
}

/// A UTF-8 byte order mark at the start of a script (Windows editors write one) is not SQL:
/// transactional and no-transaction migrations with one apply, and error positions still
/// point at the right line.
#[test]
fn byte_order_mark_is_not_sql() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    cm(&ws, &url, &["up"]).assert_code(0);
    let tx = format!("{V3}_windows");
    write_migration(
        &ws,
        &tx,
        "\u{feff}-- written on Windows\r\nCREATE TABLE a (id int);\r\nCREATE TABLE b (x integr);\r\n",
        None,
    );
    let failed = cm_json(&ws, &url, &["up"], 1);
    assert_eq!(failed["error"]["code"], "migration-failed");
    assert_eq!(
        failed["error"]["location"],
        format!("migrations/{tx}/up.sql:3:19")
    );
    assert_eq!(pg.tables(&url), ["_cargo_migrate", "users"]);

    write_migration(
        &ws,
        &tx,
        "\u{feff}-- written on Windows\r\nCREATE TABLE a (id int);\r\n",
        None,
    );
    write_migration(
        &ws,
        &format!("{V4}_windows_index"),
        "\u{feff}-- migrate:no-transaction\r\nCREATE INDEX CONCURRENTLY a_id ON a (id);\r\n",
        None,
    );
    let up = cm_json(&ws, &url, &["up"], 0);
    assert_eq!(versions(&up["applied"]), [V3, V4]);
    assert_eq!(
        count(
            &pg,
            &url,
            "SELECT count(*)::text FROM pg_index WHERE indexrelid = 'a_id'::regclass AND indisvalid"
        ),
        1
    );
    cm(&ws, &url, &["status", "--exit-code"]).assert_code(0);
}

/// A migration may change the session's search_path (`SET search_path TO app;` is legal SQL
/// that psql runs as is); cargo-migrate's own bookkeeping must still find its history table.
#[test]
fn migration_that_sets_search_path_is_recorded() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    write_migration(
        &ws,
        &format!("{V3}_app_schema"),
        "CREATE SCHEMA app;\nSET search_path TO app;\nCREATE TABLE things (id int);\n",
        None,
    );
    let up = cm_json(&ws, &url, &["up"], 0);
    assert_eq!(versions(&up["applied"]), [V1, V2, V3]);
    assert_eq!(history(&pg, &url), applied(&[V1, V2, V3]));
    assert_eq!(count(&pg, &url, "SELECT count(*)::text FROM app.things"), 0);
}

// --------------------------------------------------------------- history protections

/// An applied migration whose file changed: up refuses unless --allow-modified.
#[test]
fn modified_migration_is_refused_unless_allowed() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    cm(&ws, &url, &["up"]).assert_code(0);
    let up_sql = ws
        .path()
        .join(format!("migrations/{V1}_create_users/up.sql"));
    let mut sql = std::fs::read_to_string(&up_sql).unwrap();
    sql.push_str("-- an afterthought\n");
    std::fs::write(&up_sql, sql).unwrap();
    extend_single(&ws);

    assert_eq!(
        states(&ws, &url),
        pairs(&[
            (V1, "modified"),
            (V2, "applied"),
            (V3, "pending"),
            (V4, "pending")
        ])
    );
    let refused = cm(&ws, &url, &["up"]).assert_code(1);
    snapshot("up_refuses_modified", &refused);
    assert!(refused.stderr.contains("--allow-modified"));
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));

    let up = cm_json(&ws, &url, &["up", "--allow-modified"], 0);
    assert_eq!(versions(&up["applied"]), [V3, V4]);
    // Still modified (the record keeps the checksum of what ran).
    assert_eq!(
        states(&ws, &url)[0],
        (V1.to_string(), "modified".to_string())
    );
}

/// An applied migration whose directory is gone: status shows it missing, up refuses unless
/// --allow-missing.
#[test]
fn missing_migration_file_is_refused_unless_allowed() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    cm(&ws, &url, &["up"]).assert_code(0);
    std::fs::remove_dir_all(
        ws.path()
            .join(format!("migrations/{V2}_add_email_to_users")),
    )
    .unwrap();
    extend_single(&ws);

    let status = cm_json(&ws, &url, &["status"], 0);
    assert_eq!(status["migrations"][1]["version"], V2);
    assert_eq!(status["migrations"][1]["name"], "add_email_to_users");
    assert_eq!(status["migrations"][1]["state"], "missing");
    let human = cm(&ws, &url, &["status", "--exit-code"]).assert_code(1);
    assert!(human.stdout.contains("1 missing"), "{}", human.stdout);

    let refused = cm(&ws, &url, &["up"]).assert_code(1);
    snapshot("up_refuses_missing", &refused);
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));

    let up = cm_json(&ws, &url, &["up", "--allow-missing"], 0);
    assert_eq!(versions(&up["applied"]), [V3, V4]);
    assert_eq!(history(&pg, &url), applied(&[V1, V2, V3, V4]));
}

/// A pending migration older than applied ones: up refuses unless --allow-out-of-order.
#[test]
fn out_of_order_migration_is_refused_unless_allowed() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    cm(&ws, &url, &["up"]).assert_code(0);
    let older = "20240101150000";
    write_migration(
        &ws,
        &format!("{older}_create_tags"),
        "CREATE TABLE tags (name text PRIMARY KEY);\n",
        Some("DROP TABLE tags;\n"),
    );
    let status = cm_json(&ws, &url, &["status"], 0);
    assert_eq!(status["migrations"][1]["version"], older);
    assert_eq!(status["migrations"][1]["state"], "pending");
    assert_eq!(status["migrations"][1]["out_of_order"], json!(true));
    let human = cm(&ws, &url, &["status"]).assert_code(0);
    assert!(
        human.stdout.contains("pending (out of order)"),
        "{}",
        human.stdout
    );

    let refused = cm(&ws, &url, &["up"]).assert_code(1);
    snapshot("up_refuses_out_of_order", &refused);
    assert!(!pg.tables(&url).contains(&"tags".to_string()));

    let up = cm_json(&ws, &url, &["up", "--allow-out-of-order"], 0);
    assert_eq!(versions(&up["applied"]), [older]);
    assert_eq!(history(&pg, &url), applied(&[V1, older, V2]));
    cm(&ws, &url, &["status", "--exit-code"]).assert_code(0);
}

// --------------------------------------------------------------------------------- lock

/// While one run holds the migration lock (a migration sleeping), another gives up after
/// --lock-timeout with exit 3 and names the holder; the first then finishes normally.
#[test]
fn lock_held_by_another_run_times_out() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    cm(&ws, &url, &["up"]).assert_code(0);
    write_migration(&ws, &format!("{V3}_slow"), "SELECT pg_sleep(4);\n", None);

    let spawn =
        |args: &[&str]| Running::spawn(ws.path(), &[args, &["--database-url", &url]].concat());
    let started = Instant::now();
    let a = spawn(&["up"]);
    let sleeping = "SELECT count(*)::text FROM pg_stat_activity \
                    WHERE application_name = 'cargo-migrate' AND state = 'active' \
                      AND query LIKE '%pg_sleep(4)%'";
    while count(&pg, &url, sleeping) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "process A never started its migration"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Both at once, so they fit in A's 4 seconds; C waits (default --lock-timeout 60 s).
    let b_json = spawn(&["up", "--lock-timeout", "1", "--format", "json"]);
    let b_human = spawn(&["up", "--lock-timeout", "1"]);
    let c = spawn(&["up", "--format", "json"]);
    let b_json = b_json.wait().assert_code(3);
    let b_human = b_human.wait().assert_code(3);
    let error = &b_json.run_json()["error"];
    assert_eq!(error["code"], "lock-timeout");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("(waited 1 s): pid "), "{message}");
    assert!(
        message.contains("(cargo-migrate, from local socket"),
        "{message}"
    );
    snapshot("lock_timeout", &b_human);

    let a = a.wait().assert_code(0);
    assert!(
        a.stderr.contains(&format!("Applied {V3}_slow")),
        "{}",
        a.stderr
    );
    assert!(started.elapsed() >= Duration::from_secs(4));
    // C got the lock once A was done, and read the history after locking: nothing left.
    let c = c.wait().assert_code(0);
    assert_eq!(c.run_json()["applied"], json!([]));
    assert_eq!(history(&pg, &url), applied(&[V1, V2, V3]));
}

// ---------------------------------------------------------------------- adoption: sqlx

/// A database migrated by sqlx's own migrator is adopted: cargo-migrate reads and writes
/// `_sqlx_migrations` in sqlx's format, so sqlx afterwards finds everything applied (it checks
/// the checksums) and runs nothing.
#[test]
fn adopts_sqlx_history_written_by_sqlx() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("library");
    let ws = Workspace::copy("pg-sqlx");
    let migrations = ws.path().join("migrations");
    // A Windows checkout: sqlx checksums the raw bytes, CRLF included.
    std::fs::write(
        migrations.join("2_create_books.sql"),
        "CREATE TABLE books (\r\n    id bigint PRIMARY KEY,\r\n    author_id bigint NOT NULL REFERENCES authors (id),\r\n    title text NOT NULL\r\n);\r\n",
    )
    .unwrap();

    let first_only = tempfile::tempdir().unwrap();
    std::fs::copy(
        migrations.join("1_create_authors.sql"),
        first_only.path().join("1_create_authors.sql"),
    )
    .unwrap();
    sqlx_migrate(&url, first_only.path()).expect("sqlx applies the first migration");

    let status = cm_json(&ws, &url, &["status"], 0);
    assert_eq!(status["history_table"], "public._sqlx_migrations");
    assert_eq!(status["history_format"], "sqlx");
    assert_eq!(
        states(&ws, &url),
        pairs(&[("1", "applied"), ("2", "pending"), ("3", "pending")])
    );

    let up = cm_json(&ws, &url, &["up"], 0);
    assert_eq!(versions(&up["applied"]), ["2", "3"]);
    assert_eq!(
        pg.tables(&url),
        ["_sqlx_migrations", "authors", "books"],
        "no _cargo_migrate"
    );
    cm(&ws, &url, &["status", "--exit-code"]).assert_code(0);

    // Every row is what sqlx itself would have written.
    let expected: Vec<Vec<Option<String>>> =
        block_on(sqlx::migrate::Migrator::new(migrations.as_path()))
            .unwrap()
            .iter()
            .map(|m| {
                vec![
                    Some(m.version.to_string()),
                    Some(m.description.to_string()),
                    Some(m.checksum.iter().map(|b| format!("{b:02x}")).collect()),
                    Some("true".to_string()),
                ]
            })
            .collect();
    let rows = pg.query(
        &url,
        "SELECT version::text, description, encode(checksum, 'hex'), success::text \
         FROM _sqlx_migrations ORDER BY version",
    );
    assert_eq!(rows, expected);
    let installed = "SELECT string_agg(installed_on::text || execution_time::text, ',' ORDER BY version) FROM _sqlx_migrations";
    let before = pg.query(&url, installed);

    sqlx_migrate(&url, &migrations).expect("sqlx accepts what cargo-migrate recorded");
    assert_eq!(
        pg.query(&url, installed),
        before,
        "sqlx had nothing left to do"
    );
    assert_eq!(
        count(
            &pg,
            &url,
            "SELECT count(*)::text FROM pg_index WHERE indexrelid = 'books_author'::regclass AND indisvalid"
        ),
        1
    );
}

/// In a reversible sqlx set, down removes sqlx's row (and sqlx re-applies it afterwards).
#[test]
fn down_in_an_adopted_sqlx_history() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("shelf");
    let ws = Workspace::copy("pg-sqlx-reversible");
    let migrations = ws.path().join("migrations");
    sqlx_migrate(&url, &migrations).expect("sqlx applies both");
    assert_eq!(
        states(&ws, &url),
        pairs(&[("20240101000000", "applied"), ("20240201000000", "applied")])
    );

    let down = cm_json(&ws, &url, &["down"], 0);
    assert_eq!(versions(&down["reverted"]), ["20240201000000"]);
    assert_eq!(
        pg.query(
            &url,
            "SELECT version::text FROM _sqlx_migrations ORDER BY version"
        ),
        [[Some("20240101000000".to_string())]]
    );
    assert_eq!(pg.tables(&url), ["_sqlx_migrations", "authors"]);

    sqlx_migrate(&url, &migrations).expect("sqlx re-applies the reverted one");
    assert_eq!(pg.tables(&url), ["_sqlx_migrations", "authors", "books"]);
    cm(&ws, &url, &["status", "--exit-code"]).assert_code(0);
}

/// Bookkeeping SQL must mean the same whatever the server's string settings: with
/// `standard_conforming_strings = off` (legacy databases), sqlx-format rows must still carry
/// the checksum sqlx computes, so sqlx and cargo-migrate keep agreeing.
#[test]
fn sqlx_history_with_standard_conforming_strings_off() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("library");
    pg.execute(
        &url,
        "ALTER DATABASE library SET standard_conforming_strings = off",
    );
    let ws = Workspace::copy("pg-sqlx");
    let migrations = ws.path().join("migrations");
    let first_only = tempfile::tempdir().unwrap();
    std::fs::copy(
        migrations.join("1_create_authors.sql"),
        first_only.path().join("1_create_authors.sql"),
    )
    .unwrap();
    sqlx_migrate(&url, first_only.path()).expect("sqlx applies the first migration");

    let up = cm_json(&ws, &url, &["up"], 0);
    assert_eq!(versions(&up["applied"]), ["2", "3"]);
    cm(&ws, &url, &["status", "--exit-code"]).assert_code(0);
    sqlx_migrate(&url, &migrations).expect("sqlx accepts what cargo-migrate recorded");
}

// -------------------------------------------------------------------- adoption: diesel

/// Dashed versions (`2024-01-15-101010`) cannot be stored in sqlx's BIGINT column. They
/// once reached SQL unquoted and were recorded as `-99002` (the arithmetic result), after
/// which status showed them pending and following its hints applied them twice. Now every
/// command that writes the history refuses them before it locks or creates anything,
/// whether sqlx's table is configured or adopted; `status` shows them pending.
#[test]
fn versions_sqlx_cannot_store_are_refused_before_anything_runs() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let ws = Workspace::copy("single");
    let migrations = ws.path().join("migrations");
    for (from, to) in [
        (
            "20240101120000_create_users",
            "2024-01-15-101010_create_users",
        ),
        (
            "20240102090000_add_email_to_users",
            "2024-01-16-101010_add_email_to_users",
        ),
    ] {
        std::fs::rename(migrations.join(from), migrations.join(to)).unwrap();
    }
    // Configured: `history = "sqlx"`, on an empty database.
    let manifest = ws.path().join("Cargo.toml");
    let toml = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        toml.replace(
            "dialect = \"postgres\"",
            "dialect = \"postgres\"\nhistory = \"sqlx\"",
        ),
    )
    .unwrap();
    let url = pg.database("configured");
    let up = cm(&ws, &url, &["up", "--color", "never"]).assert_code(2);
    snapshot("sqlx_history_refuses_a_dashed_version", &up);
    assert_eq!(pg.tables(&url), Vec::<String>::new(), "nothing was created");
    let json = cm(&ws, &url, &["up", "--dry-run", "--format", "json"])
        .assert_code(2)
        .json();
    assert_eq!(json["error"]["code"], "version-not-storable");

    // Adopted: sqlx's table exists (sqlx made it), nothing configured.
    std::fs::write(&manifest, toml).unwrap();
    let url = pg.database("adopted");
    let sqlx_set = tempfile::tempdir().unwrap();
    std::fs::write(
        sqlx_set.path().join("1_create_accounts.sql"),
        "CREATE TABLE accounts (id bigint);\n",
    )
    .unwrap();
    sqlx_migrate(&url, sqlx_set.path()).expect("sqlx makes its table");
    let rows = "SELECT version::text FROM _sqlx_migrations ORDER BY version";
    let before = pg.query(&url, rows);
    for args in [
        &["up"][..],
        &["baseline", "2024-01-16-101010"],
        &["resolve", "2024-01-15-101010", "--applied"],
        &["redo"],
        &["down"],
        &["reset", "--yes"],
    ] {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let outcome = cm(&ws, &url, &all).assert_code(2);
        let error = outcome
            .stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find_map(|value| {
                value
                    .get("error")
                    .cloned()
                    .or_else(|| (value["event"] == "error").then_some(value))
            })
            .unwrap_or_else(|| panic!("{args:?}: no error in {}", outcome.stdout));
        assert_eq!(error["code"], "version-not-storable", "{args:?}: {error}");
        assert_eq!(pg.query(&url, rows), before, "{args:?} changed the history");
        assert_eq!(
            pg.tables(&url),
            ["_sqlx_migrations", "accounts"],
            "{args:?}"
        );
    }
    let status = cm_json(&ws, &url, &["status"], 0);
    assert_eq!(status["history_format"], "sqlx");
    assert_eq!(status["summary"]["pending"], 2);
}

/// A database with diesel's history table is adopted: its rows count as applied, and up
/// records the rest there with diesel's dash-less versions.
#[test]
fn adopts_diesel_history() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("blog");
    let ws = Workspace::copy("diesel-style");
    let first = std::fs::read_to_string(
        ws.path()
            .join("migrations/00000000000000_diesel_initial_setup/up.sql"),
    )
    .unwrap();
    // As `diesel migration run` leaves it after the first migration.
    pg.execute(
        &url,
        &format!(
            "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
             {first}
             INSERT INTO __diesel_schema_migrations (version) VALUES ('00000000000000');"
        ),
    );

    let status = cm_json(&ws, &url, &["status"], 0);
    assert_eq!(status["history_table"], "public.__diesel_schema_migrations");
    assert_eq!(status["history_format"], "diesel");
    assert_eq!(
        states(&ws, &url),
        pairs(&[
            ("00000000000000", "applied"),
            ("2024-05-01-101500", "pending"),
            ("2024-06-01-000000-0000", "pending"),
            ("20240701000000", "pending"),
        ])
    );

    let up = cm_json(&ws, &url, &["up"], 0);
    assert_eq!(up["applied"].as_array().unwrap().len(), 3);
    assert_eq!(
        pg.query(
            &url,
            "SELECT version::text FROM __diesel_schema_migrations ORDER BY version"
        ),
        [
            [Some("00000000000000".to_string())],
            [Some("20240501101500".into())],
            [Some("202406010000000000".into())],
            [Some("20240701000000".into())],
        ]
    );
    assert_eq!(
        pg.tables(&url),
        ["__diesel_schema_migrations", "posts"],
        "no _cargo_migrate"
    );
    cm(&ws, &url, &["status", "--exit-code"]).assert_code(0);

    let down = cm_json(&ws, &url, &["down"], 0);
    assert_eq!(versions(&down["reverted"]), ["20240701000000"]);
    assert_eq!(
        count(
            &pg,
            &url,
            "SELECT count(*)::text FROM __diesel_schema_migrations"
        ),
        3
    );
}

// -------------------------------------------------------------------------- redaction

const PASSWORD: &str = "Sup3rSecretPw";

/// Asserts the password is in none of the outputs, and the redacted URL is where a URL is shown.
#[track_caller]
fn assert_redacted(outcomes: &[(&str, Outcome, bool)], secrets: &[&str], redacted: &str) {
    for (what, outcome, shows_url) in outcomes {
        for secret in secrets {
            assert!(
                !outcome.stdout.contains(secret) && !outcome.stderr.contains(secret),
                "{what}: the password is printed\nstdout:\n{}\nstderr:\n{}",
                outcome.stdout,
                outcome.stderr
            );
        }
        if *shows_url {
            assert!(
                outcome.stdout.contains(redacted) || outcome.stderr.contains(redacted),
                "{what}: no `{redacted}`\nstdout:\n{}\nstderr:\n{}",
                outcome.stdout,
                outcome.stderr
            );
        }
    }
}

/// A password in --database-url is never printed, whatever the command or failure.
#[test]
fn password_in_the_url_is_never_printed() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let secret_url = url.replace(
        "postgres://postgres@",
        &format!("postgres://postgres:{PASSWORD}@"),
    );
    let ws = Workspace::copy("single");
    let run = |args: &[&str]| cm(&ws, &secret_url, args);

    let mut outcomes = vec![
        ("status", run(&["status"]).assert_code(0), true),
        (
            "up --dry-run",
            run(&["up", "--dry-run"]).assert_code(0),
            true,
        ),
        ("up", run(&["up"]).assert_code(0), true),
        (
            "status json",
            run(&["status", "--format", "json"]).assert_code(0),
            true,
        ),
        ("down --all", run(&["down", "--all"]).assert_code(2), true),
        ("reset", run(&["reset"]).assert_code(2), true),
        ("down", run(&["down"]).assert_code(0), true),
        (
            "down json",
            run(&["down", "--format", "json"]).assert_code(0),
            true,
        ),
        ("up --to", run(&["up", "--to", V1]).assert_code(0), true),
        ("reset --yes", run(&["reset", "--yes"]).assert_code(0), true),
    ];
    write_migration(
        &ws,
        &format!("{V3}_bad"),
        "CREATE TABLE t (x integr);\n",
        None,
    );
    outcomes.push(("failing up", run(&["up"]).assert_code(1), false));
    outcomes.push((
        "failing up json",
        run(&["up", "--format", "json"]).assert_code(1),
        false,
    ));
    outcomes.push((
        "status --exit-code",
        run(&["status", "--exit-code"]).assert_code(1),
        true,
    ));
    let wrong_socket = secret_url.replace("host=/", "host=/nonexistent/");
    outcomes.push((
        "connection failure",
        cm(&ws, &wrong_socket, &["status"]).assert_code(3),
        true,
    ));
    outcomes.push((
        "connection failure json",
        cm(&ws, &wrong_socket, &["up", "--format", "json"]).assert_code(3),
        true,
    ));
    outcomes.push((
        "refused with password",
        cm(
            &ws,
            &format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/db"),
            &["status"],
        )
        .assert_code(3),
        true,
    ));
    assert_redacted(&outcomes, &[PASSWORD], "postgres:***@");
}

/// A password in `.env` (percent-encoded, with characters that need it) is never printed,
/// neither as written nor decoded.
#[test]
fn password_in_dotenv_is_never_printed() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    let encoded = "Env%2FSecret%40Pw";
    let decoded = "Env/Secret@Pw";
    let env_url = url.replace(
        "postgres://postgres@",
        &format!("postgres://postgres:{encoded}@"),
    );
    std::fs::write(
        ws.path().join(".env"),
        format!("# local settings\nDATABASE_URL={env_url}\n"),
    )
    .unwrap();
    let run = |args: &[&str]| support::no_panic(ws.run(args));

    let mut outcomes = vec![
        ("status", run(&["status"]).assert_code(0), true),
        ("up", run(&["up"]).assert_code(0), true),
        (
            "status json",
            run(&["status", "--format", "json"]).assert_code(0),
            true,
        ),
    ];
    assert_eq!(
        history(&pg, &url),
        applied(&[V1, V2]),
        "the .env URL was used"
    );
    std::fs::write(
        ws.path().join(".env"),
        format!(
            "DATABASE_URL={}\n",
            env_url.replace("host=/", "host=/nonexistent/")
        ),
    )
    .unwrap();
    outcomes.push(("connection failure", run(&["status"]).assert_code(3), true));
    outcomes.push((
        "connection failure json",
        run(&["status", "--format", "json"]).assert_code(3),
        true,
    ));
    assert_redacted(&outcomes, &[encoded, decoded, "Secret"], "postgres:***@");
}

// ------------------------------------------------------------------ connection failures

/// Connection refused: exit 3, database-unreachable, naming host:port.
#[test]
fn connection_refused() {
    let ws = Workspace::copy("single");
    let out = cm(&ws, "postgres://u@127.0.0.1:1/db", &["status"]).assert_code(3);
    snapshot("connection_refused", &out);
    let json = cm_json(&ws, "postgres://u@127.0.0.1:1/db", &["up"], 3);
    assert_eq!(json["error"]["code"], "database-unreachable");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1")
    );
}

/// --wait keeps retrying a server that is not there, says so, and gives up after the wait.
#[test]
fn wait_retries_then_gives_up() {
    let ws = Workspace::copy("single");
    let url =
        "postgres://postgres@localhost:5432/app?host=/nonexistent/pg-socket-dir&sslmode=disable";
    let started = Instant::now();
    let out = cm(&ws, url, &["status", "--wait", "2"]).assert_code(3);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500),
        "gave up after {took:?}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        out.stderr
            .starts_with("waiting for the database at socket /nonexistent/pg-socket-dir"),
        "{}",
        out.stderr
    );
    snapshot("wait_gives_up", &out);
    let json = cm_json(&ws, url, &["up", "--wait", "1"], 3);
    assert_eq!(json["error"]["code"], "database-unreachable");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(after waiting 1 s)")
    );
}

/// No URL anywhere: exit 2 no-database-url.
#[test]
fn no_database_url() {
    // In a Cargo workspace no URL means the dev database (tests/e2e/devdb.rs); with --dir, as in a
    // production image, it is an error.
    let ws = Workspace::copy("single");
    let out =
        support::no_panic(ws.run(&["status", "--dir", "migrations", "--dialect", "postgres"]))
            .assert_code(2);
    snapshot("no_database_url", &out);
    let json = support::no_panic(ws.run(&[
        "up",
        "--dir",
        "migrations",
        "--dialect",
        "postgres",
        "--format",
        "json",
    ]))
    .assert_code(2)
    .run_json();
    assert_eq!(json["error"]["code"], "no-database-url");
}

/// A MySQL URL: unsupported-dialect for a MySQL set; for a PostgreSQL set the mismatch is what
/// is reported, as for a SQLite URL.
#[test]
fn unsupported_and_mismatched_dialects() {
    let ws = Workspace::copy("single");
    let out = cm(
        &ws,
        "mysql://app@127.0.0.1/app",
        &["status", "--dialect", "mysql"],
    )
    .assert_code(2);
    snapshot("mysql_unsupported", &out);
    let json = cm_json(
        &ws,
        "mysql://app@127.0.0.1/app",
        &["--dir", "migrations", "up"],
        2,
    );
    assert_eq!(json["error"]["code"], "unsupported-dialect");

    let out = cm(&ws, "sqlite:app.db", &["up"]).assert_code(2);
    snapshot("sqlite_url_for_postgres_set", &out);
    assert!(!ws.path().join("app.db").exists());
    let json = cm_json(&ws, "mysql://app@127.0.0.1/app", &["status"], 2);
    assert_eq!(json["error"]["code"], "dialect-mismatch");
}

// ----------------------------------------------------------------- baseline, resolve

/// baseline V records everything up to V as applied without running it; resolve V --applied
/// records one pending migration.
#[test]
fn baseline_and_resolve_applied_record_without_running() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    extend_single(&ws);

    let baseline = cm_json(&ws, &url, &["baseline", V2], 0);
    assert_eq!(baseline["recorded"], json!([V1, V2]));
    assert_eq!(pg.tables(&url), ["_cargo_migrate"], "nothing was run");
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));
    assert_eq!(
        states(&ws, &url),
        pairs(&[
            (V1, "applied"),
            (V2, "applied"),
            (V3, "pending"),
            (V4, "pending")
        ])
    );
    // The database really has what the baseline claims: create it the way it would be.
    pg.execute(&url, "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, email text)");

    let resolved = cm_json(&ws, &url, &["resolve", V3, "--applied"], 0);
    assert_eq!(resolved["was"], "pending");
    assert_eq!(resolved["now"], "applied");
    assert_eq!(history(&pg, &url), applied(&[V1, V2, V3]));
    assert!(!pg.tables(&url).contains(&"posts".to_string()));

    let human = cm(&ws, &url, &["baseline", V2]).assert_code(0);
    assert!(
        human.stderr.contains("Recorded 0 migrations up to"),
        "{}",
        human.stderr
    );

    pg.execute(
        &url,
        "CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id))",
    );
    let up = cm_json(&ws, &url, &["up"], 0);
    assert_eq!(versions(&up["applied"]), [V4]);
    cm(&ws, &url, &["status", "--exit-code"]).assert_code(0);

    let unknown = cm_json(&ws, &url, &["baseline", "20990101000000"], 2);
    assert_eq!(unknown["error"]["code"], "unknown-version");
}

// --------------------------------------------------------------------- history table

/// An application table with the history table's name: history-table-mismatch, untouched.
#[test]
fn foreign_table_with_the_history_name_is_refused() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    pg.execute(&url, "CREATE TABLE _cargo_migrate (id int PRIMARY KEY, note text); INSERT INTO _cargo_migrate VALUES (1, 'mine')");
    let out = cm(&ws, &url, &["status"]).assert_code(2);
    snapshot("history_table_mismatch", &out);
    let json = cm_json(&ws, &url, &["up"], 2);
    assert_eq!(json["error"]["code"], "history-table-mismatch");
    assert_eq!(pg.tables(&url), ["_cargo_migrate"]);
    assert_eq!(
        count(&pg, &url, "SELECT count(*)::text FROM _cargo_migrate"),
        1
    );
}

/// `history-table = "app.history"`: the table (and its schema) is created there.
#[test]
fn history_table_in_another_schema() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    let manifest = ws.path().join("Cargo.toml");
    let toml = std::fs::read_to_string(&manifest).unwrap().replace(
        "dialect = \"postgres\"",
        "dialect = \"postgres\"\nhistory-table = \"app.history\"",
    );
    std::fs::write(&manifest, toml).unwrap();

    let status = cm_json(&ws, &url, &["status"], 0);
    assert_eq!(status["history_table"], "app.history");
    assert_eq!(status["summary"]["pending"], 2);
    assert_eq!(
        count(
            &pg,
            &url,
            "SELECT count(*)::text FROM pg_namespace WHERE nspname = 'app'"
        ),
        0,
        "status creates no schema"
    );

    let up = cm_json(&ws, &url, &["up"], 0);
    assert_eq!(versions(&up["applied"]), [V1, V2]);
    assert_eq!(pg.tables(&url), ["users"], "nothing of ours in public");
    assert_eq!(
        pg.query(&url, "SELECT version FROM app.history ORDER BY version"),
        [[Some(V1.to_string())], [Some(V2.to_string())]]
    );
    let status = cm_json(&ws, &url, &["status"], 0);
    assert_eq!(status["history_table"], "app.history");
    assert_eq!(status["summary"]["applied"], 2);
    let down = cm_json(&ws, &url, &["down"], 0);
    assert_eq!(versions(&down["reverted"]), [V2]);
    assert_eq!(
        count(&pg, &url, "SELECT count(*)::text FROM app.history"),
        1
    );
}

/// A history table in one of PostgreSQL's own schemas survived `reset` (which keeps them),
/// after which `status` said everything was applied. Such a table is refused: configured, as
/// a configuration error naming the setting; reached through the search_path, naming that.
/// Nothing is created.
#[test]
fn history_table_in_a_system_schema_is_refused() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    let manifest = ws.path().join("Cargo.toml");
    let toml = std::fs::read_to_string(&manifest).unwrap();
    let ours = "SELECT count(*)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                WHERE n.nspname IN ('information_schema', 'pg_catalog', 'pg_toast') \
                  AND c.relname IN ('migrations', 'history', '_cargo_migrate')";
    for (table, code) in [
        ("information_schema.migrations", 2),
        ("pg_catalog.history", 2),
        ("pg_toast.history", 2),
    ] {
        std::fs::write(
            &manifest,
            toml.replace(
                "dialect = \"postgres\"",
                &format!("dialect = \"postgres\"\nhistory-table = \"{table}\""),
            ),
        )
        .unwrap();
        for args in [&["up"][..], &["reset", "--yes"], &["status"]] {
            let outcome = cm(&ws, &url, args).assert_code(code);
            assert!(
                outcome.stderr.contains("a system schema")
                    && outcome.stderr.contains("[package.metadata.migrate]"),
                "{table} {args:?}: {}",
                outcome.stderr
            );
        }
        if table.starts_with("information_schema") {
            let outcome = cm(&ws, &url, &["up", "--color", "never"]);
            snapshot("history_table_in_a_system_schema", &outcome);
        }
    }
    // Not configured, but the search_path leads there.
    std::fs::write(&manifest, &toml).unwrap();
    pg.execute(
        &pg.server.url(),
        "ALTER DATABASE app SET search_path = information_schema, public",
    );
    let outcome = cm(&ws, &url, &["up", "--format", "json"]).assert_code(2);
    let error = &outcome.events().last().cloned().unwrap()["error"];
    assert_eq!(error["code"], "bad-config", "{error}");
    assert_eq!(error["location"], "the database's search_path", "{error}");
    assert_eq!(
        count(&pg, &url, ours),
        0,
        "nothing of ours in a system schema"
    );
    assert_eq!(pg.tables(&url), Vec::<String>::new(), "nothing applied");
}

/// `_cargo_migrate` and `public._cargo_migrate` name one table; the run lock's key once came
/// from the configured spelling, so runs configured differently took two locks and applied
/// the same migrations at once (failing on duplicate keys). Eight `up`s, half with each
/// spelling, started together: every one exits 0 and each migration is applied exactly once.
#[test]
fn two_spellings_of_the_history_table_take_one_lock() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("spellings");
    let plain = Workspace::copy("single");
    let qualified = Workspace::copy("single");
    let manifest = qualified.path().join("Cargo.toml");
    let toml = std::fs::read_to_string(&manifest).unwrap().replace(
        "dialect = \"postgres\"",
        "dialect = \"postgres\"\nhistory-table = \"public._cargo_migrate\"",
    );
    std::fs::write(&manifest, toml).unwrap();
    // Slow migrations, so the runs overlap.
    for ws in [&plain, &qualified] {
        for (version, table) in [(V3, "slow_a"), (V4, "slow_b")] {
            write_migration(
                ws,
                &format!("{version}_create_{table}"),
                &format!("SELECT pg_sleep(0.3);\nCREATE TABLE {table} (id bigint);\n"),
                None,
            );
        }
    }
    let runs: Vec<Running> = (0..8)
        .map(|i| {
            let ws = if i % 2 == 0 { &plain } else { &qualified };
            Running::spawn(
                ws.path(),
                &["up", "--format", "json", "--database-url", &url],
            )
        })
        .collect();
    let mut ran = Vec::new();
    for run in runs {
        let outcome = run.wait();
        assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
        ran.extend(versions(&outcome.run_json()["applied"]));
    }
    ran.sort();
    assert_eq!(
        ran,
        [V1, V2, V3, V4],
        "each migration applied by exactly one run"
    );
    assert_eq!(history(&pg, &url), applied(&[V1, V2, V3, V4]));
    let status = cm_json(&plain, &url, &["status"], 0);
    assert_eq!(status["history_table"], "public._cargo_migrate");
    assert_eq!(status["summary"]["applied"], 4);
}

// ------------------------------------------------------------------------- real data

/// Real-world histories apply in full; crates.io's reverts until its first down script that
/// does not undo its up (a `create unique index … if not exists` that a constraint drop cannot
/// reverse).
#[test]
fn real_world_histories() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    let Some(pg) = support::postgres() else {
        return;
    };
    let run = |url: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--dialect", "postgres", "--database-url", url]);
        support::no_panic(support::run_in(&corpora, &all))
    };

    let url = pg.database("crates_io");
    let dir = ["--dir", "crates-io/migrations"];
    let up = run(&url, &[&dir[..], &["up", "--format", "json"]].concat()).assert_code(0);
    assert_eq!(up.run_json()["applied"].as_array().unwrap().len(), 285);
    run(&url, &[&dir[..], &["status", "--exit-code"]].concat()).assert_code(0);
    // Nine of crates-io's down scripts are comments only (the newest 2019-11-11-162609's):
    // `down --all` is refused before anything runs.
    let refused = run(&url, &[&dir[..], &["down", "--all", "--yes"]].concat()).assert_code(1);
    assert!(
        refused
            .stderr
            .contains("2019-11-11-162609 drop_email_from_user cannot be reverted"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("Reverted "), "{}", refused.stderr);
    assert_eq!(
        count(&pg, &url, "SELECT count(*)::text FROM _cargo_migrate"),
        285
    );
    // Down to that one, the real down scripts run until one fails.
    let down = run(
        &url,
        &[&dir[..], &["down", "--to", "2019-11-11-162609", "--yes"]].concat(),
    )
    .assert_code(1);
    let reverted = down
        .stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Reverted "))
        .count();
    assert_eq!(reverted, 50, "{}", down.stderr);
    let (_, error) = down.stderr.split_once("error: ").expect("an error");
    insta::with_settings!({filters => FILTERS.to_vec()}, {
        insta::assert_snapshot!("crates_io_down_all", format!("error: {error}"));
    });
    assert!(error.contains("2024-10-25-112826_make-unique-version-unique"));
    assert!(error.contains("down.sql:1:1"));
    assert!(error.contains(
        "constraint \"versions_crate_id_num_no_build_uindex\" of relation \"versions\" does not exist"
    ));
    assert_eq!(
        count(&pg, &url, "SELECT count(*)::text FROM _cargo_migrate"),
        235
    );

    for (db, dir, expected) in [
        ("vaultwarden", "vaultwarden/migrations/postgresql", 46),
        ("atuin", "atuin/crates/atuin-server-postgres/migrations", 20),
    ] {
        let url = pg.database(db);
        let up = run(&url, &["--dir", dir, "up", "--format", "json"]).assert_code(0);
        assert_eq!(
            up.run_json()["applied"].as_array().unwrap().len(),
            expected,
            "{dir}"
        );
        run(&url, &["--dir", dir, "status", "--exit-code"]).assert_code(0);
    }
}

/// 16 `up` processes started at once against one database, on the crates-io history: every
/// process exits 0, every migration is applied exactly once (the advisory lock serialises the
/// runs; the later ones find nothing left), and history and schema agree.
#[test]
fn sixteen_concurrent_ups_apply_crates_io_once() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("concurrent");
    let dir = corpora.join("crates-io/migrations");
    let ws = Workspace::empty();
    let children: Vec<Child> = (0..16)
        .map(|_| {
            support::command()
                .current_dir(ws.path())
                .args(["up", "--format", "json", "--dialect", "postgres"])
                .arg("--dir")
                .arg(&dir)
                .args(["--database-url", &url])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn cargo-migrate up")
        })
        .collect();
    let mut applied_total = 0;
    for child in children {
        let output = child.wait_with_output().expect("wait");
        let outcome = support::outcome_of(ws.path(), output).assert_code(0);
        applied_total += outcome.run_json()["applied"]
            .as_array()
            .expect("applied")
            .len();
    }
    assert_eq!(
        applied_total, 285,
        "each migration applied by exactly one process"
    );
    let rows = pg.query(
        &url,
        "SELECT count(*)::text, count(DISTINCT version)::text, bool_and(success)::text FROM _cargo_migrate",
    );
    assert_eq!(
        rows[0],
        [Some("285".into()), Some("285".into()), Some("true".into())]
    );
    let status = Workspace::empty().run(&[
        "status",
        "--exit-code",
        "--dialect",
        "postgres",
        "--dir",
        dir.to_str().unwrap(),
        "--database-url",
        &url,
    ]);
    status.assert_code(0);
    // History and schema agree: the schema is exactly a clean replay's.
    Workspace::empty()
        .run(&[
            "--dialect",
            "postgres",
            "--dir",
            dir.to_str().unwrap(),
            "--sandbox",
            "local",
            "diff",
            "--from",
            "history",
            "--to",
            &url,
        ])
        .assert_code(0);
}

// ------------------------------------------------------------------------------- deploys

/// The deploy command line of docs/deploy.md, `cargo-migrate migrate up --dir /migrations
/// --dialect postgres --yes`, with the URL in `DATABASE_URL`, in a directory outside any Cargo
/// workspace and with no `cargo` on PATH: it applies everything and logs JSON events; run
/// again (a second replica) it finds nothing to do; `status --exit-code` is then 0.
#[test]
fn deploy_command_line_works_without_cargo() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("deploy");
    // Like an image: the migrations at their own path, the process started elsewhere.
    let image = tempfile::tempdir().expect("temp dir");
    let migrations = image.path().join("migrations");
    support::copy_dir(&support::fixture("single").join("migrations"), &migrations);
    let cwd = image.path().join("work");
    std::fs::create_dir(&cwd).expect("create dir");
    let deploy = |extra: &[&str]| {
        let mut command = support::command();
        command
            .current_dir(&cwd)
            .env("PATH", "/nonexistent")
            .env("DATABASE_URL", &url)
            .args(["migrate", "up", "--dir"])
            .arg(&migrations)
            .args(["--dialect", "postgres", "--yes"])
            .args(extra);
        let output = command.output().expect("run cargo-migrate");
        support::no_panic(support::outcome_of(&cwd, output))
    };
    let first = deploy(&["--format", "json"]).assert_code(0);
    let log = first.run_json();
    assert_eq!(versions(&log["applied"]), [V1, V2]);
    assert_eq!(log["started"]["to_apply"], json!(2));
    assert_eq!(log["finished"]["applied"], json!(2));
    assert!(
        log["set"].as_str().unwrap().ends_with("/migrations"),
        "{log}"
    );
    let second = deploy(&[]).assert_code(0);
    assert!(
        second.stderr.contains("Nothing to apply"),
        "{}",
        second.stderr
    );
    assert_eq!(history(&pg, &url), applied(&[V1, V2]));
    let status = support::command()
        .current_dir(&cwd)
        .env("PATH", "/nonexistent")
        .env("DATABASE_URL", &url)
        .args([
            "migrate",
            "status",
            "--exit-code",
            "--dialect",
            "postgres",
            "--dir",
        ])
        .arg(&migrations)
        .output()
        .expect("run cargo-migrate");
    support::no_panic(support::outcome_of(&cwd, status)).assert_code(0);
}
