//! Other tools' migration folders (Drizzle, dbmate, goose, Prisma) read in place, end to end:
//! the real binary applies and reverts the fixtures of `fixtures/formats/` on SQLite files and
//! on a throw-away PostgreSQL cluster, and each tool's history table is read back to check it
//! holds what that tool itself would write (values per the tools' sources, see
//! docs/layouts.md).

use crate::support;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use support::{Workspace, corpora, fixture, postgres, sqlite_query};

/// A copy of `fixtures/formats/<format>` as `migrations/` of a fresh directory, its tool's
/// dialect (Prisma's provider, Drizzle's journal) set to `dialect`: the fixtures are written
/// for PostgreSQL and run on both.
fn copy_format(format: &str, dialect: &str) -> (Workspace, PathBuf) {
    let ws = Workspace::empty();
    let dir = ws.path().join("migrations");
    support::copy_dir(&fixture("formats").join(format), &dir);
    if dialect == "sqlite" {
        for (file, from, to) in [
            ("migration_lock.toml", "\"postgresql\"", "\"sqlite\""),
            ("meta/_journal.json", "\"postgresql\"", "\"sqlite\""),
        ] {
            let path = dir.join(file);
            if let Ok(text) = std::fs::read_to_string(&path) {
                std::fs::write(&path, text.replace(from, to)).unwrap();
            }
        }
    }
    (ws, dir)
}

fn run(ws: &Workspace, dir: &Path, dialect: &str, url: &str, args: &[&str]) -> support::Outcome {
    let mut all = vec![args[0]];
    all.extend([
        "--dir",
        dir.to_str().unwrap(),
        "--dialect",
        dialect,
        "--database-url",
        url,
    ]);
    all.extend(&args[1..]);
    ws.run(&all)
}

/// Runs statements on a SQLite file as a user (or the other tool) would.
fn sqlite_execute(url: &str, sql: &str) {
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

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Rows of `sql` as text, on either database.
fn rows(pg: Option<&support::Pg>, url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    match pg {
        Some(pg) => pg.query(url, sql),
        None => sqlite_query(url, sql),
    }
}

fn first_column(pg: Option<&support::Pg>, url: &str, sql: &str) -> Vec<String> {
    rows(pg, url, sql)
        .into_iter()
        .map(|mut row| row.remove(0).unwrap_or_else(|| "NULL".into()))
        .collect()
}

/// `status --format json`: each migration's (version, state).
fn states(ws: &Workspace, dir: &Path, dialect: &str, url: &str) -> Vec<(String, String)> {
    let json = run(ws, dir, dialect, url, &["status", "--format", "json"])
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

fn all_applied(states: &[(String, String)]) -> bool {
    states.iter().all(|(_, state)| state == "applied")
}

/// The whole life of a fixture set on one database: up, the tool's table, down, up again.
fn lifecycle(format: &str, dialect: &str, pg: Option<&support::Pg>, url: &str) {
    let (ws, dir) = copy_format(format, dialect);
    run(&ws, &dir, dialect, url, &["up"]).assert_code(0);
    let states_after_up = states(&ws, &dir, dialect, url);
    assert!(
        all_applied(&states_after_up),
        "{format}: {states_after_up:?}"
    );
    let q = |sql: &str| first_column(pg, url, sql);
    match format {
        "dbmate" => {
            assert_eq!(
                q("SELECT version FROM schema_migrations ORDER BY version"),
                ["20240101000000", "20240102000000", "20240103000000"]
            );
        }
        "goose" => {
            // goose seeds version 0; then one applied row per migration.
            assert_eq!(
                q(
                    "SELECT CAST(version_id AS TEXT) FROM goose_db_version WHERE is_applied ORDER BY id"
                ),
                ["0", "1", "2", "3"]
            );
        }
        "drizzle" => {
            let table = if pg.is_some() {
                "drizzle.__drizzle_migrations"
            } else {
                "__drizzle_migrations"
            };
            let recorded = rows(
                pg,
                url,
                &format!("SELECT hash, CAST(created_at AS TEXT) FROM {table} ORDER BY created_at"),
            );
            let expected: Vec<Vec<Option<String>>> = [
                ("0000_create_users.sql", "1704067200000"),
                ("0001_add_email.sql", "1704153600000"),
            ]
            .iter()
            .map(|(file, when)| vec![Some(sha256_hex(&dir.join(file))), Some(when.to_string())])
            .collect();
            assert_eq!(recorded, expected);
        }
        "prisma" => {
            let recorded = rows(
                pg,
                url,
                "SELECT migration_name, checksum, CAST(applied_steps_count AS TEXT), \
                 CASE WHEN finished_at IS NULL THEN 'no' ELSE 'yes' END, \
                 CAST(length(id) AS TEXT) FROM _prisma_migrations ORDER BY migration_name",
            );
            let expected: Vec<Vec<Option<String>>> =
                ["20240101000000_init", "20240102000000_add_email"]
                    .iter()
                    .map(|name| {
                        vec![
                            Some(name.to_string()),
                            Some(sha256_hex(&dir.join(name).join("migration.sql"))),
                            Some("1".into()),
                            Some("yes".into()),
                            Some("36".into()),
                        ]
                    })
                    .collect();
            assert_eq!(recorded, expected);
        }
        _ => unreachable!(),
    }
    // Our own table is not created: the tool's is the history.
    let own = q(&match pg {
        Some(_) => {
            "SELECT CAST(count(*) AS TEXT) FROM pg_tables WHERE tablename = '_cargo_migrate'"
                .to_string()
        }
        None => "SELECT CAST(count(*) AS TEXT) FROM sqlite_master WHERE name = '_cargo_migrate'"
            .to_string(),
    });
    assert_eq!(own, ["0"], "{format}");

    if format == "drizzle" {
        // Drizzle has no downs.
        run(&ws, &dir, dialect, url, &["down"]).assert_code(1);
        return;
    }
    run(&ws, &dir, dialect, url, &["down", "--all", "--yes"]).assert_code(0);
    let states_after_down = states(&ws, &dir, dialect, url);
    assert!(
        states_after_down.iter().all(|(_, s)| s == "pending"),
        "{format}: {states_after_down:?}"
    );
    run(&ws, &dir, dialect, url, &["up"]).assert_code(0);
    assert!(all_applied(&states(&ws, &dir, dialect, url)));
}

#[test]
fn formats_on_sqlite() {
    for format in ["dbmate", "goose", "drizzle", "prisma"] {
        let db = tempfile::NamedTempFile::new().unwrap();
        let url = format!("sqlite:{}", db.path().display());
        lifecycle(format, "sqlite", None, &url);
    }
}

#[test]
fn formats_on_postgres() {
    let Some(pg) = postgres() else {
        return;
    };
    for format in ["dbmate", "goose", "drizzle", "prisma"] {
        let url = pg.database(format);
        lifecycle(format, "postgres", Some(&pg), &url);
    }
}

#[test]
fn layouts_are_detected_and_listed() {
    for (format, migrations, reversible, no_tx) in [
        ("dbmate", 3, 3, 1),
        ("goose", 3, 3, 1),
        ("drizzle", 2, 0, 0),
        ("prisma", 2, 2, 0),
    ] {
        let (ws, dir) = copy_format(format, "postgres");
        let json = ws
            .run(&[
                "list",
                "--dir",
                dir.to_str().unwrap(),
                "--dialect",
                "postgres",
                "--format",
                "json",
            ])
            .assert_code(0)
            .json();
        let set = &json["sets"][0];
        assert_eq!(set["layout"], format);
        assert_eq!(set["migrations"], migrations, "{format}");
        assert_eq!(set["reversible"], reversible, "{format}");
        assert_eq!(set["no_transaction"], no_tx, "{format}");
    }
}

/// Prisma's failed state (a row without `finished_at`, the error in `logs`, as `prisma migrate
/// deploy` leaves it) is read as a failed migration: `status` shows it, `up` refuses to go on;
/// a row rolled back with `prisma migrate resolve --rolled-back` no longer counts.
#[test]
fn prisma_failed_state_is_read_as_prisma_writes_it() {
    let (ws, dir) = copy_format("prisma", "sqlite");
    let db = tempfile::NamedTempFile::new().unwrap();
    let url = format!("sqlite:{}", db.path().display());
    run(&ws, &dir, "sqlite", &url, &["up", "--to", "20240101000000"]).assert_code(0);
    let checksum = sha256_hex(&dir.join("20240102000000_add_email/migration.sql"));
    sqlite_execute(
        &url,
        &format!(
            "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, started_at, applied_steps_count) \
             VALUES ('00000000-0000-4000-8000-000000000001', '{checksum}', NULL, '20240102000000_add_email', 'Database error: column exists', CURRENT_TIMESTAMP, 0)"
        ),
    );
    let states = states(&ws, &dir, "sqlite", &url);
    assert_eq!(
        states[1],
        ("20240102000000".to_string(), "failed".to_string())
    );
    let outcome = run(&ws, &dir, "sqlite", &url, &["up"]);
    assert_ne!(outcome.code, 0, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("column exists"),
        "{}",
        outcome.stderr
    );
    // Rolled back by Prisma's resolve: pending again, and `up` applies it.
    sqlite_execute(
        &url,
        "UPDATE _prisma_migrations SET rolled_back_at = CURRENT_TIMESTAMP WHERE finished_at IS NULL",
    );
    run(&ws, &dir, "sqlite", &url, &["up"]).assert_code(0);
    let live = sqlite_query(
        &url,
        "SELECT migration_name FROM _prisma_migrations WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL ORDER BY migration_name",
    );
    assert_eq!(live.len(), 2);
}

/// Drizzle folders: a file missing from the journal is refused (Drizzle would never run it).
#[test]
fn drizzle_file_not_in_journal_is_refused() {
    let (ws, dir) = copy_format("drizzle", "sqlite");
    std::fs::write(dir.join("0002_stray.sql"), "SELECT 1;\n").unwrap();
    let outcome = ws
        .run(&[
            "list",
            "--dir",
            dir.to_str().unwrap(),
            "--dialect",
            "sqlite",
        ])
        .assert_code(2);
    assert!(
        outcome.stderr.contains("not listed in meta/_journal.json"),
        "{}",
        outcome.stderr
    );
}

/// dbmate: SQL outside the sections is refused at its line, as dbmate refuses it.
#[test]
fn dbmate_sql_outside_sections_is_refused() {
    let (ws, dir) = copy_format("dbmate", "sqlite");
    std::fs::write(
        dir.join("20240104000000_bad.sql"),
        "-- a comment\nSELECT 1;\n-- migrate:up\nSELECT 2;\n",
    )
    .unwrap();
    let outcome = ws
        .run(&[
            "list",
            "--dir",
            dir.to_str().unwrap(),
            "--dialect",
            "sqlite",
        ])
        .assert_code(2);
    assert!(
        outcome.stderr.contains("20240104000000_bad.sql:2"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("bad-tool-metadata") || outcome.stderr.contains("SQL before"),
        "{}",
        outcome.stderr
    );
}

/// karakeep: 94 Drizzle migrations in journal order, applied on SQLite and recorded as Drizzle
/// records them; `check` passes in its own format.
#[test]
fn karakeep_drizzle_corpus() {
    let Some(root) = corpora() else {
        return;
    };
    let dir = root.join("karakeep/packages/db/drizzle");
    let ws = Workspace::empty();
    let db = ws.path().join("karakeep.db");
    let url = format!("sqlite:{}", db.display());
    let json = ws
        .run(&[
            "list",
            "-v",
            "--dir",
            dir.to_str().unwrap(),
            "--dialect",
            "sqlite",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    let set = &json["sets"][0];
    assert_eq!(set["layout"], "drizzle");
    assert_eq!(set["migrations"], 94);
    assert_eq!(set["reversible"], 0);
    let journal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta/_journal.json")).unwrap())
            .unwrap();
    let tags: Vec<String> = journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["tag"].as_str().unwrap().to_string())
        .collect();
    let listed: Vec<String> = set["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}_{}",
                m["version"].as_str().unwrap(),
                m["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(listed, tags);

    run(&ws, &dir, "sqlite", &url, &["up"]).assert_code(0);
    let recorded = sqlite_query(
        &url,
        "SELECT hash, CAST(created_at AS TEXT) FROM __drizzle_migrations ORDER BY created_at",
    );
    assert_eq!(recorded.len(), 94);
    let first = &journal["entries"][0];
    assert_eq!(
        recorded[0],
        vec![
            Some(sha256_hex(
                &dir.join(format!("{}.sql", first["tag"].as_str().unwrap()))
            )),
            Some(first["when"].to_string()),
        ]
    );
    run(&ws, &dir, "sqlite", &url, &["check"]).assert_code(0);
}

/// supabase-postgres: 30 dbmate files whose down sections are all empty (irreversible), read
/// as dbmate reads them. (Applying them needs the Supabase image's roles and extensions.)
#[test]
fn supabase_dbmate_corpus() {
    let Some(root) = corpora() else {
        return;
    };
    let dir = root.join("supabase-postgres/migrations/db/migrations");
    let json = Workspace::empty()
        .run(&[
            "list",
            "--dir",
            dir.to_str().unwrap(),
            "--dialect",
            "postgres",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    let set = &json["sets"][0];
    assert_eq!(set["layout"], "dbmate");
    assert_eq!(set["migrations"], 30);
    assert_eq!(set["reversible"], 0);
    assert_eq!(set["newest"], "20240606060239");
}

/// `new` in each format follows its naming and scaffolds its sections; the set then reads
/// (one more migration, in the same format) and the new migration applies.
#[test]
fn new_follows_each_format() {
    for (format, expect) in [
        ("dbmate", "-- migrate:up"),
        ("goose", "-- +goose Up"),
        ("drizzle", ""),
        ("prisma", ""),
    ] {
        let (ws, dir) = copy_format(format, "sqlite");
        let before = ws.files();
        let dir_arg = dir.to_str().unwrap();
        ws.run(&["--dir", dir_arg, "--dialect", "sqlite", "new", "add_tags"])
            .assert_code(0);
        let created: Vec<String> = ws
            .files()
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        assert!(!created.is_empty(), "{format}: nothing created");
        let script = created
            .iter()
            .find(|f| f.ends_with(".sql") && !f.ends_with("down.sql"))
            .unwrap_or_else(|| panic!("{format}: {created:?}"));
        let text = std::fs::read_to_string(ws.path().join(script)).unwrap();
        assert!(text.contains(expect), "{format}: {text}");
        match format {
            "drizzle" => assert!(script.ends_with("0002_add_tags.sql"), "{script}"),
            "prisma" => assert!(script.ends_with("_add_tags/migration.sql"), "{script}"),
            "goose" => assert!(script.contains("/00004_add_tags.sql"), "{script}"),
            _ => assert!(script.ends_with("_add_tags.sql"), "{script}"),
        }
        let json = ws
            .run(&[
                "list",
                "--dir",
                dir_arg,
                "--dialect",
                "sqlite",
                "--format",
                "json",
            ])
            .assert_code(0)
            .json();
        assert_eq!(json["sets"][0]["layout"], format);
        let count = json["sets"][0]["migrations"].as_u64().unwrap();
        let db = tempfile::NamedTempFile::new().unwrap();
        let url = format!("sqlite:{}", db.path().display());
        let all = states_after_up(&ws, &dir, &url);
        assert_eq!(all.len() as u64, count, "{format}");
        assert!(all_applied(&all), "{format}: {all:?}");
    }
}

fn states_after_up(ws: &Workspace, dir: &Path, url: &str) -> Vec<(String, String)> {
    run(ws, dir, "sqlite", url, &["up"]).assert_code(0);
    states(ws, dir, "sqlite", url)
}

/// A Prisma folder whose lock file names another provider, or a Drizzle journal for another
/// dialect, is refused: its SQL is written for that database.
#[test]
fn tool_dialect_must_match_the_set() {
    for format in ["prisma", "drizzle"] {
        let (ws, dir) = copy_format(format, "postgres");
        let outcome = ws
            .run(&[
                "list",
                "--dir",
                dir.to_str().unwrap(),
                "--dialect",
                "sqlite",
            ])
            .assert_code(2);
        assert!(
            outcome.stderr.contains("is for `postgresql`"),
            "{}",
            outcome.stderr
        );
        assert!(
            outcome.stderr.contains("dialect-mismatch")
                || outcome.stderr.contains("dialect is sqlite"),
            "{}",
            outcome.stderr
        );
    }
}

/// goose's table as goose itself leaves it (recorded: its seed row, and an older goose's down
/// that added an `is_applied = false` row instead of deleting): the newest row of a version
/// decides, so version 2 is pending; `up` applies it and goose's rows follow.
#[test]
fn goose_table_written_by_goose_is_read_as_goose_reads_it() {
    let (ws, dir) = copy_format("goose", "sqlite");
    let db = tempfile::NamedTempFile::new().unwrap();
    let url = format!("sqlite:{}", db.path().display());
    sqlite_execute(
        &url,
        "CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('now')));
         INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1), (1, 1), (2, 1), (2, 0);
         CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL);",
    );
    let before = states(&ws, &dir, "sqlite", &url);
    assert_eq!(
        before.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        ["applied", "pending", "pending"]
    );
    run(&ws, &dir, "sqlite", &url, &["up"]).assert_code(0);
    assert!(all_applied(&states(&ws, &dir, "sqlite", &url)));
    run(&ws, &dir, "sqlite", &url, &["down"]).assert_code(0);
    let rows = sqlite_query(
        &url,
        "SELECT CAST(version_id AS TEXT), CAST(is_applied AS TEXT) FROM goose_db_version ORDER BY id",
    );
    let rows: Vec<(String, String)> = rows
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    // Applying 2 added a newer row; reverting 3 deleted its rows.
    assert_eq!(
        rows,
        pairs(&[("0", "1"), ("1", "1"), ("2", "1"), ("2", "0"), ("2", "1")])
    );
}

/// `check` passes in each tool's format against a live PostgreSQL database migrated by
/// cargo-migrate: the tool's history table (and Drizzle's own `drizzle` schema) is no drift.
#[test]
fn check_passes_in_each_format_on_postgres() {
    let Some(pg) = postgres() else {
        return;
    };
    for format in ["drizzle", "dbmate", "goose", "prisma"] {
        let (ws, dir) = copy_format(format, "postgres");
        let url = pg.database(&format!("check_{format}"));
        run(&ws, &dir, "postgres", &url, &["up"]).assert_code(0);
        let outcome = run(&ws, &dir, "postgres", &url, &["check"]);
        assert_eq!(
            outcome.code, 0,
            "{format}: {}{}",
            outcome.stdout, outcome.stderr
        );
    }
}

/// Prisma compares checksums whatever the line endings (a Windows checkout is not a change);
/// an edited migration.sql is.
#[test]
fn prisma_checksum_ignores_line_endings_but_not_edits() {
    let (ws, dir) = copy_format("prisma", "sqlite");
    let db = tempfile::NamedTempFile::new().unwrap();
    let url = format!("sqlite:{}", db.path().display());
    run(&ws, &dir, "sqlite", &url, &["up"]).assert_code(0);
    let script = dir.join("20240101000000_init/migration.sql");
    let text = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, text.replace('\n', "\r\n")).unwrap();
    assert!(all_applied(&states(&ws, &dir, "sqlite", &url)));
    std::fs::write(&script, text.replace("\"name\"", "\"full_name\"")).unwrap();
    let after_edit = states(&ws, &dir, "sqlite", &url);
    assert_eq!(after_edit[0].1, "modified", "{after_edit:?}");
}

/// `resolve --rolled-back` on Prisma's table does what `prisma migrate resolve --rolled-back`
/// does: the row stays, with `rolled_back_at` set, and no longer counts; `--applied` keeps the
/// replaced attempt the same way. On SQLite the moments are written as Prisma writes them:
/// integer milliseconds since 1970.
#[test]
fn prisma_resolve_keeps_rows_rolled_back_and_writes_prisma_moments() {
    let (ws, dir) = copy_format("prisma", "sqlite");
    let db = tempfile::NamedTempFile::new().unwrap();
    let url = format!("sqlite:{}", db.path().display());
    run(&ws, &dir, "sqlite", &url, &["up", "--to", "20240101000000"]).assert_code(0);
    let checksum = sha256_hex(&dir.join("20240102000000_add_email/migration.sql"));
    // A failed attempt as Prisma leaves it on SQLite (moments in milliseconds).
    sqlite_execute(
        &url,
        &format!(
            "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, started_at, applied_steps_count) \
             VALUES ('00000000-0000-4000-8000-000000000001', '{checksum}', NULL, '20240102000000_add_email', 'Database error', 1704153600000, 0)"
        ),
    );
    assert_eq!(states(&ws, &dir, "sqlite", &url)[1].1, "failed");
    run(
        &ws,
        &dir,
        "sqlite",
        &url,
        &["resolve", "20240102000000", "--rolled-back"],
    )
    .assert_code(0);
    let q = |sql: &str| sqlite_query(&url, sql);
    assert_eq!(
        q(
            "SELECT typeof(rolled_back_at) FROM _prisma_migrations WHERE id = '00000000-0000-4000-8000-000000000001'"
        ),
        [[Some("integer".to_string())]]
    );
    assert_eq!(states(&ws, &dir, "sqlite", &url)[1].1, "pending");
    run(&ws, &dir, "sqlite", &url, &["up"]).assert_code(0);
    // Every moment we wrote is an integer of milliseconds near now.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for row in q(
        "SELECT CAST(started_at AS TEXT), CAST(finished_at AS TEXT), typeof(started_at), typeof(finished_at) \
         FROM _prisma_migrations WHERE rolled_back_at IS NULL",
    ) {
        assert_eq!(row[2].as_deref(), Some("integer"), "{row:?}");
        assert_eq!(row[3].as_deref(), Some("integer"), "{row:?}");
        for moment in &row[..2] {
            let ms: i64 = moment.as_deref().unwrap().parse().unwrap();
            assert!((ms - now_ms).abs() < 600_000, "{ms} vs {now_ms}");
        }
    }
    assert!(all_applied(&states(&ws, &dir, "sqlite", &url)));
    // Rolled back after all, then marked applied: each replaced row stays, rolled back.
    run(
        &ws,
        &dir,
        "sqlite",
        &url,
        &["resolve", "20240102000000", "--rolled-back"],
    )
    .assert_code(0);
    run(
        &ws,
        &dir,
        "sqlite",
        &url,
        &["resolve", "20240102000000", "--applied"],
    )
    .assert_code(0);
    let rows = q(
        "SELECT CAST(rolled_back_at IS NULL AS TEXT), CAST(finished_at IS NULL AS TEXT) FROM _prisma_migrations \
         WHERE migration_name = '20240102000000_add_email' ORDER BY rolled_back_at IS NULL, started_at",
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[2], [Some("1".to_string()), Some("0".to_string())]);
    assert!(all_applied(&states(&ws, &dir, "sqlite", &url)));
}

/// The same on PostgreSQL: `resolve --rolled-back` sets `rolled_back_at` (a `timestamptz`).
#[test]
fn prisma_resolve_rolled_back_on_postgres() {
    let Some(pg) = postgres() else {
        return;
    };
    let (ws, dir) = copy_format("prisma", "postgres");
    let url = pg.database("prisma_resolve");
    run(
        &ws,
        &dir,
        "postgres",
        &url,
        &["up", "--to", "20240101000000"],
    )
    .assert_code(0);
    let checksum = sha256_hex(&dir.join("20240102000000_add_email/migration.sql"));
    pg.execute(
        &url,
        &format!(
            "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, started_at, applied_steps_count) \
             VALUES ('00000000-0000-4000-8000-000000000001', '{checksum}', NULL, '20240102000000_add_email', 'Database error', now(), 0)"
        ),
    );
    assert_eq!(states(&ws, &dir, "postgres", &url)[1].1, "failed");
    run(
        &ws,
        &dir,
        "postgres",
        &url,
        &["resolve", "20240102000000", "--rolled-back"],
    )
    .assert_code(0);
    assert_eq!(
        first_column(
            Some(&pg),
            &url,
            "SELECT CAST(rolled_back_at IS NOT NULL AS TEXT) FROM _prisma_migrations WHERE id = '00000000-0000-4000-8000-000000000001'"
        ),
        ["true"]
    );
    run(&ws, &dir, "postgres", &url, &["up"]).assert_code(0);
    assert!(all_applied(&states(&ws, &dir, "postgres", &url)));
}
