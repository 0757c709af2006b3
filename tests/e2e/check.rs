//! `check`, `diff` and `schema` end to end: real Cargo workspaces under `fixtures/`, a real
//! scratch PostgreSQL (`--sandbox local`) or SQLite file, and real live databases altered by
//! hand for drift.

use crate::support;

use serde_json::Value;
use support::{Outcome, Pg, Workspace, corpora, postgres, sqlite_query};

/// Runs a command in `ws` with a local PostgreSQL scratch server.
fn run(ws: &Workspace, args: &[&str]) -> Outcome {
    let mut all = vec!["--sandbox", "local"];
    all.extend_from_slice(args);
    ws.run(&all)
}

/// The step `name` of a `check --format json` report.
fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    &report[name]
}

fn findings(report: &Value, name: &str) -> Vec<Value> {
    step(report, name)["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// (kind, object, name) of each change of a finding.
fn changes(finding: &Value) -> Vec<(String, String, String)> {
    finding["changes"]
        .as_array()
        .map(|changes| {
            changes
                .iter()
                .map(|c| {
                    (
                        c["kind"].as_str().unwrap_or_default().to_string(),
                        c["object"].as_str().unwrap_or_default().to_string(),
                        c["name"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_reversible_history_passes_every_step() {
    if postgres().is_none() {
        return;
    }
    let ws = Workspace::copy("check-pg");
    let outcome = run(&ws, &["check"]).assert_code(0);
    assert!(
        outcome.stdout.contains("clean replay") && outcome.stdout.contains("reversibility"),
        "{}",
        outcome.stdout
    );
    let report = run(&ws, &["check", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["migrations"], 7);
    for name in ["integrity", "replay", "reversibility"] {
        assert_eq!(step(&report, name)["status"], "passed", "{name}: {report}");
    }
    assert_eq!(step(&report, "drift")["status"], "skipped");
    assert!(
        step(&report, "reversibility")["summary"]
            .as_str()
            .unwrap()
            .starts_with("7 down scripts"),
        "{report}"
    );
}

#[test]
fn every_irreversible_migration_is_reported_in_one_run() {
    if postgres().is_none() {
        return;
    }
    let ws = Workspace::copy("check-irreversible");
    let report = run(&ws, &["check", "--format", "json"])
        .assert_code(1)
        .json();
    assert_eq!(report["ok"], false);
    assert_eq!(step(&report, "replay")["status"], "passed");
    let found = findings(&report, "reversibility");
    let named: Vec<(&str, &str)> = found
        .iter()
        .map(|f| {
            (
                f["migration"].as_str().unwrap(),
                f["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("20240102000000_index_handles", "down_incomplete"),
            ("20240103000000_add_bio", "down_failed"),
        ],
        "{report}"
    );
    // The index the down script forgot is the one difference.
    assert_eq!(
        changes(&found[0]),
        [(
            "added".to_string(),
            "index".to_string(),
            "accounts.accounts_handle".to_string()
        )]
    );
    assert!(
        found[1]["location"]
            .as_str()
            .unwrap()
            .ends_with("20240103000000_add_bio/down.sql:1:1"),
        "{}",
        found[1]
    );
    // Human output names both, with the file and the database's message.
    let human = run(&ws, &["check", "--color", "never"]).assert_code(1);
    assert!(
        human.stdout.contains("20240102000000_index_handles")
            && human.stdout.contains("20240103000000_add_bio")
            && human.stdout.contains("biography"),
        "{}",
        human.stdout
    );
    assert!(
        human.stderr.contains("check failed: 2 problems"),
        "{}",
        human.stderr
    );
    // Only the newest migration: it is reversible, so the check passes.
    run(&ws, &["check", "--reversibility", "last:1"]).assert_code(0);
    run(&ws, &["check", "--reversibility", "none"]).assert_code(0);
}

#[test]
fn a_failing_up_is_a_replay_finding_with_its_position() {
    if postgres().is_none() {
        return;
    }
    let ws = Workspace::copy("check-irreversible");
    std::fs::write(
        ws.path()
            .join("migrations/20240104000000_create_follows/up.sql"),
        "CREATE TABLE follows (\n    follower integer REFERENCES acounts (id)\n);\n",
    )
    .unwrap();
    let report = run(
        &ws,
        &["check", "--format", "json", "--reversibility", "none"],
    )
    .assert_code(1)
    .json();
    let found = findings(&report, "replay");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["kind"], "apply_failed");
    assert_eq!(found[0]["migration"], "20240104000000_create_follows");
    assert!(
        found[0]["location"]
            .as_str()
            .unwrap()
            .ends_with("20240104000000_create_follows/up.sql:1:1"),
        "{}",
        found[0]
    );
    assert!(found[0]["message"].as_str().unwrap().contains("acounts"));
}

#[test]
fn a_set_that_does_not_load_fails_integrity() {
    let ws = Workspace::copy("check-irreversible");
    std::fs::create_dir_all(ws.path().join("migrations/20240104000000_duplicate")).unwrap();
    std::fs::write(
        ws.path().join("migrations/20240104000000_duplicate/up.sql"),
        "SELECT 1;\n",
    )
    .unwrap();
    std::fs::write(
        ws.path()
            .join("migrations/20240104000000_duplicate/down.sql"),
        "SELECT 1;\n",
    )
    .unwrap();
    let report = run(&ws, &["check", "--format", "json"])
        .assert_code(1)
        .json();
    assert_eq!(step(&report, "integrity")["status"], "failed");
    assert_eq!(step(&report, "replay")["status"], "skipped");
    assert!(
        findings(&report, "integrity")[0]["message"]
            .as_str()
            .unwrap()
            .contains("20240104000000"),
        "{report}"
    );
}

/// A live database migrated with the fixture, then changed by hand with `alteration`.
fn drifted(pg: &Pg, ws: &Workspace, database: &str, alteration: &str) -> Value {
    let url = pg.database(database);
    run(ws, &["up", "--database-url", &url]).assert_code(0);
    pg.execute(&url, alteration);
    run(
        ws,
        &[
            "check",
            "--database-url",
            &url,
            "--reversibility",
            "none",
            "--format",
            "json",
        ],
    )
    .json()
}

#[test]
fn drift_names_exactly_the_change_made_by_hand() {
    let Some(pg) = postgres() else {
        return;
    };
    let ws = Workspace::copy("check-pg");
    // An untouched database: no drift.
    let clean = drifted(&pg, &ws, "clean", "SELECT 1");
    assert_eq!(clean["ok"], true, "{clean}");
    assert_eq!(step(&clean, "drift")["status"], "passed");
    let cases: [(&str, &str, (&str, &str, &str)); 8] = [
        (
            "add_column",
            "ALTER TABLE users ADD COLUMN nickname text",
            ("added", "column", "users.nickname"),
        ),
        (
            "drop_index",
            "DROP INDEX users_lower_email",
            ("removed", "index", "users.users_lower_email"),
        ),
        (
            "change_default",
            "ALTER TABLE users ALTER COLUMN mood SET DEFAULT 'happy'",
            ("altered", "column", "users.mood"),
        ),
        (
            "add_table",
            "CREATE TABLE audit (id integer)",
            ("added", "table", "audit"),
        ),
        (
            "change_function",
            "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
            ("altered", "routine", "touch()"),
        ),
        (
            "add_enum_value",
            "ALTER TYPE mood ADD VALUE 'ecstatic'",
            ("altered", "type", "mood"),
        ),
        (
            "add_trigger",
            "CREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch()",
            ("added", "trigger", "posts.posts_touch"),
        ),
        (
            "change_policy",
            "ALTER POLICY own_posts ON posts USING (true)",
            ("altered", "policy", "posts.own_posts"),
        ),
    ];
    for (database, alteration, (kind, object, name)) in cases {
        let report = drifted(&pg, &ws, database, alteration);
        assert_eq!(report["ok"], false, "{database}: {report}");
        let found = findings(&report, "drift");
        assert_eq!(found.len(), 1, "{database}: {report}");
        assert_eq!(found[0]["kind"], "drift");
        assert_eq!(
            changes(&found[0]),
            [(kind.to_string(), object.to_string(), name.to_string())],
            "{database}: {report}"
        );
        assert!(
            found[0]["diff"].as_str().is_some_and(|d| d.contains("@@")),
            "{database}: a unified diff: {report}"
        );
    }
}

/// Changes to what is compared in place (view options, comments) show as the one attribute
/// altered; a materialized view's storage parameters are not drift.
#[test]
fn drift_names_the_attribute_changed_in_place() {
    let Some(pg) = postgres() else {
        return;
    };
    let ws = Workspace::copy("check-pg");
    let storage = drifted(
        &pg,
        &ws,
        "matview_storage",
        "ALTER MATERIALIZED VIEW post_counts SET (fillfactor = 50)",
    );
    assert_eq!(storage["ok"], true, "storage is not compared: {storage}");
    let cases: [(&str, &str, (&str, &str, &str)); 3] = [
        (
            "view_security_invoker",
            "ALTER VIEW active_users SET (security_invoker = on)",
            ("view", "active_users", "options"),
        ),
        (
            "policy_comment",
            "COMMENT ON POLICY own_posts ON posts IS 'authors only'",
            ("policy", "posts.own_posts", "comment"),
        ),
        (
            "domain_check_comment",
            "COMMENT ON CONSTRAINT email_check ON DOMAIN email IS 'has an at sign'",
            ("type", "email", "check email_check comment"),
        ),
    ];
    for (database, alteration, (object, name, attribute)) in cases {
        let report = drifted(&pg, &ws, database, alteration);
        assert_eq!(report["ok"], false, "{database}: {report}");
        let found = findings(&report, "drift");
        assert_eq!(found.len(), 1, "{database}: {report}");
        assert_eq!(
            changes(&found[0]),
            [("altered".to_string(), object.to_string(), name.to_string())],
            "{database}: {report}"
        );
        assert_eq!(
            found[0]["changes"][0]["attribute"], attribute,
            "{database}: {report}"
        );
    }
}

#[test]
fn pending_migrations_are_not_drift_and_modified_ones_are_findings() {
    let Some(pg) = postgres() else {
        return;
    };
    let ws = Workspace::copy("check-pg");
    let url = pg.database("partial");
    run(
        &ws,
        &["up", "--database-url", &url, "--to", "20240103000000"],
    )
    .assert_code(0);
    let report = run(
        &ws,
        &[
            "check",
            "--database-url",
            &url,
            "--reversibility",
            "none",
            "--format",
            "json",
        ],
    )
    .assert_code(0)
    .json();
    assert_eq!(step(&report, "drift")["status"], "passed", "{report}");
    assert_eq!(
        step(&report, "drift")["pending"].as_array().unwrap().len(),
        4,
        "{report}"
    );
    // Edit an applied migration: reported as modified (and the schema still matches).
    let up = ws.path().join("migrations/20240103000000_posts/up.sql");
    let text = std::fs::read_to_string(&up).unwrap();
    std::fs::write(&up, format!("{text}\n-- reviewed\n")).unwrap();
    let report = run(
        &ws,
        &[
            "check",
            "--database-url",
            &url,
            "--reversibility",
            "none",
            "--format",
            "json",
        ],
    )
    .assert_code(1)
    .json();
    let found = findings(&report, "drift");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["kind"], "modified");
    assert_eq!(found[0]["migration"], "20240103000000_posts");
}

#[test]
fn sqlite_check_and_drift() {
    let ws = Workspace::copy("check-sqlite");
    let report = ws.run(&["check", "--format", "json"]).assert_code(0).json();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(step(&report, "reversibility")["status"], "passed");
    let cases: [(&str, &str, (&str, &str, &str)); 6] = [
        ("none", "SELECT 'unchanged'", ("", "", "")),
        (
            "add_index",
            "CREATE INDEX users_created_at ON users (created_at)",
            ("added", "index", "users.users_created_at"),
        ),
        (
            "add_column",
            "ALTER TABLE posts ADD COLUMN draft INTEGER NOT NULL DEFAULT 0",
            ("added", "column", "posts.draft"),
        ),
        (
            "drop_index",
            "DROP INDEX posts_user_id",
            ("removed", "index", "posts.posts_user_id"),
        ),
        (
            "add_table",
            "CREATE TABLE audit (id INTEGER PRIMARY KEY)",
            ("added", "table", "audit"),
        ),
        (
            "change_view",
            "DROP VIEW recent_posts; CREATE VIEW recent_posts AS SELECT id, title FROM posts ORDER BY id DESC LIMIT 20",
            ("altered", "view", "recent_posts"),
        ),
    ];
    for (name, alteration, (kind, object, changed)) in cases {
        let file = ws.path().join(format!("{name}.sqlite3"));
        let url = format!("sqlite:{}", file.display());
        ws.run(&["up", "--database-url", &url]).assert_code(0);
        sqlite_query(&url, alteration);
        let outcome = ws.run(&[
            "check",
            "--database-url",
            &url,
            "--reversibility",
            "none",
            "--format",
            "json",
        ]);
        let report = outcome.json();
        if name == "none" {
            assert_eq!(outcome.code, 0, "{report}");
            continue;
        }
        assert_eq!(outcome.code, 1, "{name}: {report}");
        let found = findings(&report, "drift");
        assert_eq!(
            changes(&found[0]),
            [(kind.to_string(), object.to_string(), changed.to_string())],
            "{name}: {report}"
        );
    }
}

#[test]
fn diff_between_sources() {
    let Some(pg) = postgres() else {
        return;
    };
    let ws = Workspace::copy("check-pg");
    // The same history twice: equal.
    run(&ws, &["diff", "--from", "history", "--to", "history"]).assert_code(0);
    // Everything the history makes, as additions.
    let report = run(
        &ws,
        &[
            "diff", "--from", "empty", "--to", "history", "--format", "json",
        ],
    )
    .assert_code(1)
    .json();
    assert_eq!(report["equal"], false);
    let changes: Vec<Value> = report["changes"].as_array().unwrap().clone();
    assert!(changes.iter().all(|c| c["kind"] == "added"), "{report}");
    assert!(
        changes
            .iter()
            .any(|c| c["object"] == "table" && c["name"] == "users"),
        "{report}"
    );
    // What the newest two migrations changed.
    let outcome = run(
        &ws,
        &[
            "diff",
            "--from",
            "history@20240105000000",
            "--to",
            "history",
            "--color",
            "never",
        ],
    )
    .assert_code(1);
    assert!(
        outcome.stdout.contains("+ table billing.invoices"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("--- history@20240105000000"),
        "{}",
        outcome.stdout
    );
    // A database URL, and `database` from DATABASE_URL: one column added by hand.
    let url = pg.database("diffed");
    run(&ws, &["up", "--database-url", &url]).assert_code(0);
    pg.execute(
        &url,
        "ALTER TABLE posts ADD COLUMN draft boolean NOT NULL DEFAULT false",
    );
    let outcome = run(&ws, &["diff", "--to", &url, "--color", "never"]).assert_code(1);
    assert!(
        outcome
            .stdout
            .lines()
            .next()
            .unwrap()
            .contains("posts.draft"),
        "{}",
        outcome.stdout
    );
    let outcome = support::run_in_env(
        ws.path(),
        &["--sandbox", "local", "diff"],
        &[("DATABASE_URL", url.as_str())],
    )
    .assert_code(1);
    assert!(outcome.stdout.contains("posts.draft"), "{}", outcome.stdout);
    // Bad sources are usage errors naming the flag.
    let bad = run(&ws, &["diff", "--from", "yesterday"]).assert_code(2);
    assert!(bad.stderr.contains("--from"), "{}", bad.stderr);
    run(
        &ws,
        &[
            "diff",
            "--from",
            "history@19990101000000",
            "--to",
            "history",
        ],
    )
    .assert_code(2);
}

/// `diff --sql`: the statements, a snapshot of them, and proof that they do the job: applied
/// to a database at the older version, it has the history's schema.
#[test]
fn diff_as_sql() {
    let Some(pg) = postgres() else {
        return;
    };
    let ws = Workspace::copy("check-pg");
    let from = ["--from", "history@20240103000000", "--to", "history"];
    let outcome = run(
        &ws,
        &[&["diff", "--sql", "--color", "never"], &from[..]].concat(),
    )
    .assert_code(1);
    assert!(outcome.stderr.is_empty() || !outcome.stderr.contains("cannot be expressed"));
    insta::assert_snapshot!("check_pg_diff_sql", outcome.stdout);
    // The JSON form carries the statements one by one: apply them to a database at the older
    // version, and nothing is left to differ.
    let report = run(
        &ws,
        &[&["diff", "--sql", "--format", "json"], &from[..]].concat(),
    )
    .assert_code(1)
    .json();
    assert_eq!(report["unsupported"], serde_json::json!([]), "{report}");
    let url = pg.database("planned");
    run(
        &ws,
        &["up", "--to", "20240103000000", "--database-url", &url],
    )
    .assert_code(0);
    for statement in report["sql"].as_array().unwrap() {
        pg.execute(&url, statement.as_str().unwrap());
    }
    let after = run(
        &ws,
        &[
            "diff", "--from", &url, "--to", "history", "--format", "json",
        ],
    )
    .assert_code(0)
    .json();
    assert_eq!(after["equal"], true, "{after}");
    // Equal schemas: no statements, exit 0.
    let equal = run(
        &ws,
        &["diff", "--sql", "--from", "history", "--to", "history"],
    )
    .assert_code(0);
    assert_eq!(equal.stdout, "");
    // A table partitioned by hand on another key cannot be changed back in place, nor can its
    // partitions be attached: comment lines and a warning, never wrong SQL.
    let live = pg.database("rekeyed");
    run(&ws, &["up", "--database-url", &live]).assert_code(0);
    pg.execute(
        &live,
        "DROP TABLE billing.invoices; CREATE TABLE billing.invoices (id bigint NOT NULL, \
         issued_on date NOT NULL, amount numeric(12, 2)) PARTITION BY RANGE (id)",
    );
    let outcome = run(
        &ws,
        &[
            "diff", "--sql", "--from", &live, "--to", "history", "--color", "never",
        ],
    )
    .assert_code(1);
    assert_eq!(
        outcome.stdout,
        "-- cannot express: + table billing.invoices_2024: a partition of a table whose \
         partition key changes\n\
         -- cannot express: table billing.invoices: partition by RANGE (id) → RANGE (issued_on): \
         a table cannot be partitioned, or its partition key changed, in place; write the \
         migration by hand (create the new table, move the rows, rename)\n"
    );
    assert!(
        outcome
            .stderr
            .contains("warning: 2 changes cannot be expressed as SQL"),
        "{}",
        outcome.stderr
    );
    let report = run(
        &ws,
        &[
            "diff", "--sql", "--from", &live, "--to", "history", "--format", "json",
        ],
    )
    .assert_code(1)
    .json();
    assert_eq!(report["sql"], serde_json::json!([]), "{report}");
    assert_eq!(
        report["unsupported"].as_array().unwrap().len(),
        2,
        "{report}"
    );
    // A label added by hand to an enum a column uses: the enum is made again without it and
    // the column converted.
    let labelled = pg.database("labelled");
    run(&ws, &["up", "--database-url", &labelled]).assert_code(0);
    pg.execute(&labelled, "ALTER TYPE mood ADD VALUE 'meh'");
    let report = run(
        &ws,
        &[
            "diff", "--sql", "--from", &labelled, "--to", "history", "--format", "json",
        ],
    )
    .assert_code(1)
    .json();
    assert_eq!(report["unsupported"], serde_json::json!([]), "{report}");
    for statement in report["sql"].as_array().unwrap() {
        pg.execute(&labelled, statement.as_str().unwrap());
    }
    run(&ws, &["diff", "--from", &labelled, "--to", "history"]).assert_code(0);
}

#[test]
fn sqlite_diff_as_sql() {
    let ws = Workspace::copy("check-sqlite");
    let forward = ws
        .run(&[
            "diff",
            "--sql",
            "--from",
            "history@20240102000000",
            "--to",
            "history",
        ])
        .assert_code(1);
    // The script is the answer: the exit code says the schemas differ, and no `error:` line
    // follows it.
    assert!(
        !forward.stderr.contains("error:") && forward.stderr.contains("note: 3 changes"),
        "{}",
        forward.stderr
    );
    let forward = forward.stdout;
    let backward = ws
        .run(&[
            "diff",
            "--sql",
            "--from",
            "history",
            "--to",
            "history@20240102000000",
        ])
        .assert_code(1)
        .stdout;
    insta::assert_snapshot!(
        "check_sqlite_diff_sql",
        format!("-- forward\n{forward}\n-- backward\n{backward}")
    );
}

#[test]
fn schema_text_is_deterministic_and_matches_the_database() {
    let Some(pg) = postgres() else {
        return;
    };
    let ws = Workspace::copy("check-pg");
    let first = run(&ws, &["schema"]).assert_code(0).stdout;
    let second = run(&ws, &["schema"]).assert_code(0).stdout;
    assert_eq!(first, second);
    assert!(first.contains("CREATE TABLE users"), "{first}");
    let url = pg.database("rendered");
    run(&ws, &["up", "--database-url", &url]).assert_code(0);
    let live = run(&ws, &["schema", "--database-url", &url])
        .assert_code(0)
        .stdout;
    assert_eq!(first, live);
    let early = run(&ws, &["schema", "--at", "20240101000000"])
        .assert_code(0)
        .stdout;
    assert!(!early.contains("CREATE TABLE"), "{early}");
    let json = run(&ws, &["schema", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(json["source"], "history");
    assert_eq!(json["version"], "20240107000000");
    assert!(json["schema"]["tables"]["users"].is_object(), "{json}");
    insta::assert_snapshot!("check_pg_schema", first);
}

#[test]
fn sqlite_schema_snapshot() {
    let ws = Workspace::copy("check-sqlite");
    let text = ws.run(&["schema"]).assert_code(0).stdout;
    insta::assert_snapshot!("check_sqlite_schema", text);
}

// ------------------------------------------------------------------------- real histories

/// `diff --from history --to history` on a corpus set: two replays into two databases must
/// give no difference.
fn replays_identically(dir: &str, dialect: &str) {
    let Some(root) = corpora() else {
        return;
    };
    let ws = Workspace::empty();
    let path = root.join(dir);
    let path = path.to_str().unwrap();
    let mut args = vec!["--dir", path, "--dialect", dialect];
    if dialect == "postgres" {
        args.extend(["--sandbox", "local"]);
    }
    args.extend([
        "diff", "--from", "history", "--to", "history", "--format", "json",
    ]);
    let report = ws.run(&args).json();
    assert_eq!(report["equal"], true, "{dir}: {report}");
}

#[test]
fn crates_io_replays_identically() {
    if postgres().is_some() {
        replays_identically("crates-io/migrations", "postgres");
    }
}

#[test]
fn vaultwarden_replays_identically() {
    if postgres().is_some() {
        replays_identically("vaultwarden/migrations/postgresql", "postgres");
    }
    replays_identically("vaultwarden/migrations/sqlite", "sqlite");
}

#[test]
fn atuin_replays_identically() {
    if postgres().is_some() {
        replays_identically("atuin/crates/atuin-server-postgres/migrations", "postgres");
    }
    replays_identically("atuin/crates/atuin-server-sqlite/migrations", "sqlite");
    replays_identically("atuin/crates/atuin-client/migrations", "sqlite");
}

/// `check` on a PostgreSQL corpus set: the names of the irreversible migrations it reports
/// (the clean replay must pass). `None` when the corpora or PostgreSQL are absent. Every
/// incremental schema read of the walk is compared with a whole one on the way (a difference
/// would be an error, not exit 1).
fn irreversible_in_corpus(dir: &str) -> Option<Vec<String>> {
    postgres()?;
    let path = corpora()?.join(dir);
    let workspace = Workspace::empty();
    let report = support::run_in_env(
        workspace.path(),
        &[
            "--dir",
            path.to_str().unwrap(),
            "--dialect",
            "postgres",
            "--sandbox",
            "local",
            "check",
            "--format",
            "json",
        ],
        &[("CARGO_MIGRATE_VERIFY_INCREMENTAL_READS", "1")],
    )
    .assert_code(1)
    .json();
    assert_eq!(step(&report, "replay")["status"], "passed", "{report}");
    let names: Vec<String> = findings(&report, "reversibility")
        .iter()
        .map(|f| f["migration"].as_str().unwrap().to_string())
        .collect();
    eprintln!("{dir}: {} irreversible: {names:?}", names.len());
    Some(names)
}

#[test]
fn crates_io_check_names_its_irreversible_migration() {
    let Some(names) = irreversible_in_corpus("crates-io/migrations") else {
        return;
    };
    assert!(
        names.contains(&"2024-10-25-112826_make-unique-version-unique".to_string()),
        "{names:?}"
    );
}

#[test]
fn vaultwarden_check_reports_all_irreversible_migrations_in_one_run() {
    let Some(names) = irreversible_in_corpus("vaultwarden/migrations/postgresql") else {
        return;
    };
    // More than one, all in this one run.
    assert!(names.len() > 1, "{names:?}");
}

/// The Docker provider serves as the scratch server too: a container whose own database is the
/// first replay, and more databases created in it for the rebuilds after irreversible ones.
#[test]
fn check_on_a_docker_scratch_server() {
    if !support::have_docker() {
        return;
    }
    let ws = Workspace::copy("check-irreversible");
    // A no-transaction migration cannot be tried in a probe: after its finding the walk goes
    // on from a copy of the mirror, a database made in the container.
    ws.add_migration("20240105000000_index_followers",
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY follows_follower ON follows (follower);\n",
        "-- migrate:no-transaction\n-- Forgot to drop the index.\nSELECT 1;\n",
    );
    let report = ws
        .run(&["--sandbox", "docker", "check", "--format", "json"])
        .assert_code(1)
        .json();
    assert!(
        report["sandbox"]
            .as_str()
            .unwrap()
            .starts_with("docker, postgres:"),
        "{report}"
    );
    assert_eq!(findings(&report, "reversibility").len(), 3, "{report}");
    assert_eq!(report["timings"]["rebuilds"], 1, "{report}");
}

#[test]
fn irreversible_downs_go_on_from_a_copy_of_the_mirror() {
    if postgres().is_none() {
        return;
    }
    let ws = Workspace::copy("check-irreversible");
    // A transactional migration's down is tried in a probe that is rolled back, so the walk
    // goes on from the state after its up as it is. After a no-transaction migration's
    // finding the walk goes on from a copy of the mirror (the database that only gets the
    // ups): the migrations after it need the state after its up, not the one the down left.
    ws.add_migration("20240105000000_index_followers",
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY follows_follower ON follows (follower);\n",
        "-- migrate:no-transaction\n-- Forgot to drop the index.\nSELECT 1;\n",
    );
    ws.add_migration("20240106000000_bio_index",
        "CREATE INDEX accounts_bio ON accounts (bio);\nCREATE INDEX follows_follower_2 ON follows (follower);\n",
        "DROP INDEX accounts_bio;\nDROP INDEX follows_follower_2;\n",
    );
    let report = run(&ws, &["check", "--format", "json"])
        .assert_code(1)
        .json();
    assert_eq!(step(&report, "replay")["status"], "passed", "{report}");
    let named: Vec<(String, String)> = findings(&report, "reversibility")
        .iter()
        .map(|f| {
            (
                f["migration"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("20240102000000_index_handles", "down_incomplete"),
            ("20240103000000_add_bio", "down_failed"),
            ("20240105000000_index_followers", "down_incomplete"),
        ]
        .map(|(m, k)| (m.to_string(), k.to_string())),
        "{report}"
    );
    assert_eq!(
        step(&report, "reversibility")["summary"],
        "3 of 6 down scripts undo their up; 3 do not",
        "{report}"
    );
    assert_eq!(report["timings"]["rebuilds"], 1, "{report}");
}

#[test]
fn a_migration_that_drops_prepared_statements_is_verified_all_the_same() {
    if postgres().is_none() {
        return;
    }
    // The scratch databases' schema reads keep their catalog queries prepared on the
    // connection, except for a history that drops its session's prepared statements
    // (DEALLOCATE ALL, DISCARD ALL): it is walked with unprepared reads as before, and they
    // still find what a down leaves behind.
    let ws = Workspace::copy("check-pg");
    ws.add_migration(
        "20240108000000_deallocate",
        "CREATE TABLE audit (id integer PRIMARY KEY);\nDEALLOCATE ALL;\n",
        "DEALLOCATE ALL;\nDROP TABLE audit;\n",
    );
    ws.add_migration(
        "20240110000000_audit_note",
        "ALTER TABLE audit ADD COLUMN note text;\nDEALLOCATE ALL;\n",
        "DEALLOCATE ALL;\n-- Forgot to drop the column.\nSELECT 1;\n",
    );
    let report = run(&ws, &["check", "--format", "json"])
        .assert_code(1)
        .json();
    assert_eq!(step(&report, "replay")["status"], "passed", "{report}");
    let found = findings(&report, "reversibility");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["migration"], "20240110000000_audit_note");
    assert_eq!(found[0]["kind"], "down_incomplete");
    assert_eq!(
        step(&report, "reversibility")["summary"],
        "8 of 9 down scripts undo their up; 1 do not",
        "{report}"
    );
}

#[test]
fn downs_that_replace_views_are_verified_beside_the_mirror() {
    if postgres().is_none() {
        return;
    }
    // Views that depend on each other, replaced and dropped by every down: the schema after
    // each up is read on the mirror database while the walk's database tries the down, and
    // a finding's walk goes on from a copy of the mirror.
    let ws = Workspace::copy("check-irreversible");
    for entry in std::fs::read_dir(ws.path().join("migrations")).unwrap() {
        std::fs::remove_dir_all(entry.unwrap().path()).unwrap();
    }
    ws.add_migration("20240101000000_accounts",
        "CREATE TABLE accounts (id integer PRIMARY KEY, handle text NOT NULL);\nCREATE VIEW handles AS SELECT handle FROM accounts;\n",
        "DROP VIEW handles;\nDROP TABLE accounts;\n",
    );
    for n in 2..8 {
        ws.add_migration(
            &format!("2024010{n}000000_view_{n}"),
            &format!("CREATE VIEW handles_{n} AS SELECT handle, {n} AS n FROM handles;\n"),
            &format!("DROP VIEW handles_{n};\n"),
        );
    }
    let report = run(&ws, &["check", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(
        step(&report, "reversibility")["summary"],
        "7 down scripts undo their up",
        "{report}"
    );
    // A down that leaves a view changed is still found.
    ws.add_migration(
        "20240108000000_view_8",
        "CREATE VIEW handles_8 AS SELECT handle FROM handles;\n",
        "SELECT 1;\n",
    );
    let report = run(&ws, &["check", "--format", "json"])
        .assert_code(1)
        .json();
    let found = findings(&report, "reversibility");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["migration"], "20240108000000_view_8");
    assert_eq!(found[0]["kind"], "down_incomplete");
}

#[test]
fn sqlite_irreversible_downs_are_rolled_back_and_the_walk_goes_on() {
    let ws = Workspace::copy("check-sqlite");
    // The down forgets the column; the next migration needs it (so it needs the state after
    // the up, not the one the down left).
    std::fs::write(
        ws.path()
            .join("migrations/20240104000000_add_user_name/down.sql"),
        "SELECT 1;\n",
    )
    .unwrap();
    ws.add_migration(
        "20240105000000_index_names",
        "CREATE INDEX users_name ON users (name);\n",
        "DROP INDEX users_name;\n",
    );
    ws.add_migration(
        "20240106000000_broken_down",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n",
        "DROP TABLE tagz;\n",
    );
    ws.add_migration(
        "20240107000000_tag_names",
        "ALTER TABLE tags ADD COLUMN name TEXT;\n",
        "ALTER TABLE tags DROP COLUMN name;\n",
    );
    let report = ws.run(&["check", "--format", "json"]).assert_code(1).json();
    assert_eq!(step(&report, "replay")["status"], "passed", "{report}");
    let named: Vec<(String, String)> = findings(&report, "reversibility")
        .iter()
        .map(|f| {
            (
                f["migration"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("20240104000000_add_user_name", "down_incomplete"),
            ("20240106000000_broken_down", "down_failed"),
        ]
        .map(|(m, k)| (m.to_string(), k.to_string())),
        "{report}"
    );
    assert_eq!(
        step(&report, "reversibility")["summary"],
        "5 of 7 down scripts undo their up; 2 do not",
        "{report}"
    );
    assert_eq!(report["timings"]["rebuilds"], 0, "{report}");
}

/// Runs `args` in `ws` on a pseudo-terminal (`script`), so stdout and stderr are a terminal;
/// returns the exit code and everything the terminal showed. `None` when `script` is missing.
fn on_terminal(ws: &Workspace, args: &[&str]) -> Option<(i32, String)> {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(!support::in_ci(), "`script` (util-linux) is needed in CI");
        println!("skipped: `script` (util-linux) is not installed");
        return None;
    }
    let quote = |arg: &str| format!("'{}'", arg.replace('\'', r"'\''"));
    let line = std::iter::once(env!("CARGO_BIN_EXE_cargo-migrate"))
        .chain(args.iter().copied())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let base = support::command();
    let mut command = std::process::Command::new("script");
    command
        .args(["-qec", &line, "/dev/null"])
        .current_dir(ws.path());
    // The environment the tests give the binary, which `script` passes on.
    for (name, value) in base.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let output = command
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .output()
        .expect("run script");
    Some((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

#[test]
fn check_shows_progress_on_a_terminal_and_nothing_extra_otherwise() {
    if postgres().is_none() {
        return;
    }
    let ws = Workspace::copy("check-pg");
    let Some((code, shown)) = on_terminal(&ws, &["--sandbox", "local", "check"]) else {
        return;
    };
    assert_eq!(code, 0, "{shown}");
    // The progress line names what is under way (the scratch server takes a moment to
    // start), and each step's line is printed as the step finishes.
    assert!(shown.contains("starting a disposable database"), "{shown}");
    for line in ["integrity", "clean replay", "reversibility", "drift"] {
        assert!(shown.contains(line), "{line}: {shown}");
    }
    // -q and --format json show no progress, on a terminal too.
    for quiet in [&["-q", "check"][..], &["check", "--format", "json"][..]] {
        let args: Vec<&str> = ["--sandbox", "local"]
            .iter()
            .chain(quiet)
            .copied()
            .collect();
        let (code, shown) = on_terminal(&ws, &args).unwrap();
        assert_eq!(code, 0, "{shown}");
        assert!(!shown.contains("starting a disposable database"), "{shown}");
    }
    // Piped: the same lines as always, and no progress.
    let piped = run(&ws, &["check"]).assert_code(0);
    assert!(
        !piped.stderr.contains("starting a disposable database"),
        "{}",
        piped.stderr
    );
    assert!(
        !piped.stdout.contains("starting a disposable database"),
        "{}",
        piped.stdout
    );
}

/// Issue 12 item 8: starting a scratch server for `schema` (and a dev database) shows a
/// spinner on a terminal, and nothing extra when piped or with -q.
#[test]
fn schema_shows_a_spinner_while_its_scratch_server_starts_on_a_terminal() {
    if postgres().is_none() {
        return;
    }
    let ws = Workspace::copy("check-pg");
    let Some((code, shown)) = on_terminal(&ws, &["--sandbox", "local", "schema"]) else {
        return;
    };
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("starting a disposable database (local)"),
        "{shown}"
    );
    let (code, shown) = on_terminal(&ws, &["--sandbox", "local", "-q", "schema"]).unwrap();
    assert_eq!(code, 0, "{shown}");
    assert!(!shown.contains("starting a disposable database"), "{shown}");
    let piped = run(&ws, &["schema"]).assert_code(0);
    assert!(
        !piped.stderr.contains("starting a disposable database"),
        "{}",
        piped.stderr
    );
}

#[test]
fn a_scratch_directory_that_cannot_be_made_is_sandbox_failed_with_exit_3() {
    // The class comes from the code alone: a sandbox that cannot be set up exits 3 wherever
    // it fails (here the SQLite scratch files' temporary directory; it exited 2 as an I/O
    // error of the user's files before).
    let ws = Workspace::copy("check-sqlite");
    let missing = ws.path().join("no-such-tmp");
    let outcome = support::run_in_env(
        ws.path(),
        &["check", "--format", "json"],
        &[("TMPDIR", missing.to_str().unwrap())],
    )
    .assert_code(3);
    let report = outcome.json();
    assert_eq!(report["error"]["code"], "sandbox-failed", "{report}");
    assert_eq!(report["error"]["exit_code"], 3, "{report}");
}
