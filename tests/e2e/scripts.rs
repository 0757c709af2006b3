//! What a migration script may hold, end to end on PostgreSQL and SQLite: transaction control
//! (a whole-script `BEGIN … COMMIT` wrapper runs, anything else is refused before the run
//! starts), scripts the tokenizer cannot read, NUL bytes and UTF-16 without a byte order mark;
//! and that a failing statement is located without running anything twice.
//!
//! The real binary runs with `--dir migrations` on a workspace written here; what the database
//! holds afterwards is read back with sqlx. Each case runs on both dialects.

use crate::support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Outcome, Pg, Workspace};

const V1: &str = "20240101000000";
const V2: &str = "20240102000000";
const V3: &str = "20240103000000";

/// A database of one dialect for one test.
enum Db {
    // Boxed: a cluster handle is large.
    Postgres { pg: Box<Pg>, url: String },
    Sqlite { url: String },
}

impl Db {
    /// A fresh PostgreSQL database, or `None` (the test skips, saying why) without the
    /// server binaries.
    fn postgres() -> Option<Db> {
        let pg = support::postgres()?;
        let url = pg.database("app");
        Some(Db::Postgres {
            pg: Box::new(pg),
            url,
        })
    }

    fn sqlite(ws: &Workspace) -> Db {
        Db::Sqlite {
            url: format!("sqlite:{}", ws.path().join("app.db").display()),
        }
    }

    fn url(&self) -> &str {
        match self {
            Db::Postgres { url, .. } | Db::Sqlite { url } => url,
        }
    }

    /// The first column of the first row of `sql`, which must yield text.
    fn scalar(&self, sql: &str) -> String {
        let rows = match self {
            Db::Postgres { pg, url } => pg.query(url, sql),
            Db::Sqlite { url } => support::sqlite_query(url, sql),
        };
        rows[0][0].clone().expect("a value")
    }

    fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT CAST(count(*) AS TEXT) FROM {table}"))
            .parse()
            .expect("a count")
    }

    /// The versions recorded as applied, in order.
    fn history(&self) -> Vec<String> {
        let sql = "SELECT version FROM _cargo_migrate WHERE success ORDER BY version";
        let rows = match self {
            Db::Postgres { pg, url } => pg.query(url, sql),
            Db::Sqlite { url } => support::sqlite_query(url, sql),
        };
        rows.into_iter()
            .filter_map(|mut row| row.remove(0))
            .collect()
    }
}

/// Writes `migrations/<version>_<name>/up.sql` as bytes.
fn write(ws: &Workspace, version: &str, name: &str, up: impl AsRef<[u8]>) {
    let dir = ws
        .path()
        .join("migrations")
        .join(format!("{version}_{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("up.sql"), up).unwrap();
}

/// `cargo-migrate --dir migrations ARGS --database-url URL`, killed (and the test failed) if it
/// has not finished within a minute: a script must never make a run spin.
#[track_caller]
fn cm(ws: &Workspace, db: &Db, args: &[&str]) -> Outcome {
    let mut child = support::command()
        .current_dir(ws.path())
        .args(["--dir", "migrations"])
        .args(args)
        .args(["--database-url", db.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cargo-migrate");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "cargo-migrate {args:?} did not finish in 60 s\nstderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let outcome = support::outcome_of(ws.path(), child.wait_with_output().expect("output"));
    assert!(
        !outcome.stderr.contains("panicked"),
        "cargo-migrate panicked:\n{}",
        outcome.stderr
    );
    outcome
}

/// `up --format json` exiting with `code`: the events folded into one object.
#[track_caller]
fn up_json(ws: &Workspace, db: &Db, code: i32) -> Value {
    cm(ws, db, &["--format", "json", "up"])
        .assert_code(code)
        .run_json()
}

#[track_caller]
fn snapshot(name: &str, outcome: &Outcome) {
    insta::with_settings!({filters => vec![
        (r"\(\d+(?:\.\d+)? m?s\)", "([DURATION])"),
        (r"\bin \d+(?:\.\d+)? m?s\b", "in [DURATION]"),
    ]}, {
        insta::assert_snapshot!(name, outcome.snapshot());
    });
}

// ------------------------------------------------------------------- transaction control

/// The ledger of the issue: a `COMMIT` inside a migration, then a failure. Refused before
/// anything runs (the migration before it included), as often as it is run; a whole-script
/// wrapper runs once, recorded with the checksum of the file as written.
fn transaction_control(ws: &Workspace, db: &Db) {
    write(
        ws,
        V1,
        "create_ledger",
        "CREATE TABLE ledger (amount integer);\n",
    );
    write(
        ws,
        V2,
        "credit",
        "INSERT INTO ledger VALUES (1);\nBEGIN; INSERT INTO ledger VALUES (100); COMMIT;\nSELECT 1/0;\n",
    );
    for _ in 0..3 {
        let run = up_json(ws, db, 2);
        assert_eq!(run["error"]["code"], "transaction-control", "{run}");
        assert_eq!(
            run["error"]["location"],
            format!("migrations/{V2}_credit/up.sql:2:1")
        );
    }
    // Nothing ran: not even the migration before it.
    assert_eq!(db.history(), Vec::<String>::new());
    // A dry run refuses what the run would.
    cm(ws, db, &["up", "--dry-run"]).assert_code(2);
    if matches!(db, Db::Postgres { .. }) {
        snapshot(
            "transaction_control_is_refused",
            &cm(ws, db, &["up"]).assert_code(2),
        );
    }

    // Wrapped whole, it is an ordinary migration: applied once, with its history row.
    let wrapped = "-- Flyway style\nBEGIN;\nINSERT INTO ledger VALUES (100);\nCOMMIT;\n";
    write(ws, V2, "credit", wrapped);
    up_json(ws, db, 0);
    up_json(ws, db, 0);
    assert_eq!(db.count("ledger"), 1);
    assert_eq!(db.history(), [V1, V2]);
    let listed = support::run_in(
        ws.path(),
        &["--dir", "migrations", "--format", "json", "-v", "list"],
    )
    .assert_code(0)
    .json();
    let checksum = listed["sets"][0]["items"][1]["checksum"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        db.scalar(&format!(
            "SELECT checksum FROM _cargo_migrate WHERE version = '{V2}'"
        )),
        checksum,
        "the checksum is the file's as written"
    );

    // A wrapped migration that fails applies nothing, however often it runs, and the failing
    // statement is found where it is in the file.
    // Errors the database gives no position for.
    let fails = match db {
        Db::Postgres { .. } => "SELECT 1/0",
        Db::Sqlite { .. } => "SELECT abs(-9223372036854775808)",
    };
    write(
        ws,
        V3,
        "debit",
        format!("BEGIN;\nINSERT INTO ledger VALUES (-50);\n\n  {fails};\nCOMMIT;\n"),
    );
    for _ in 0..3 {
        let run = up_json(ws, db, 1);
        assert_eq!(run["error"]["code"], "migration-failed", "{run}");
        assert_eq!(
            run["error"]["location"],
            format!("migrations/{V3}_debit/up.sql:4:3")
        );
        assert!(
            run["error"]["hint"]
                .as_str()
                .unwrap()
                .starts_with("nothing of it was applied"),
            "{run}"
        );
    }
    assert_eq!(db.count("ledger"), 1);
    assert_eq!(db.history(), [V1, V2]);

    // Outside a transaction, the script's own transactions are its business.
    write(
        ws,
        V3,
        "debit",
        "-- migrate:no-transaction\nBEGIN;\nINSERT INTO ledger VALUES (-50);\nCOMMIT;\n",
    );
    up_json(ws, db, 0);
    assert_eq!(db.count("ledger"), 2);
    assert_eq!(db.history(), [V1, V2, V3]);
}

#[test]
fn transaction_control_postgres() {
    let Some(db) = Db::postgres() else {
        return;
    };
    transaction_control(&Workspace::empty(), &db);
}

#[test]
fn transaction_control_sqlite() {
    let ws = Workspace::empty();
    let db = Db::sqlite(&ws);
    transaction_control(&ws, &db);
}

// ------------------------------------------------------------------- locating a failure

/// A failure the database gives no position for is found by counting the statements that
/// completed: the statements before it are not run a second time (a sequence shows it).
fn failing_statement_is_located_without_a_replay(ws: &Workspace, db: &Db) {
    let (create, next) = match db {
        Db::Postgres { .. } => (
            "CREATE SEQUENCE s;\nCREATE TABLE calls (n bigint);\n",
            "INSERT INTO calls VALUES (nextval('s'))",
        ),
        // SQLite has no sequences: a row counts the runs instead.
        Db::Sqlite { .. } => (
            "CREATE TABLE calls (n integer);\n",
            "INSERT INTO calls VALUES (1)",
        ),
    };
    write(ws, V1, "setup", create);
    up_json(ws, db, 0);
    let failing = "CREATE TABLE t (x int CHECK (x > 0));\n";
    write(
        ws,
        V2,
        "fails_late",
        format!(
            "{failing}{next};\n/* ; a comment; */ INSERT INTO t VALUES (1);\nINSERT INTO t VALUES\n  (-1);\n"
        ),
    );
    let run = up_json(ws, db, 1);
    assert_eq!(
        run["error"]["location"],
        format!("migrations/{V2}_fails_late/up.sql:4:1"),
        "{run}"
    );
    if let Db::Postgres { .. } = db {
        // The sequence moved once: the INSERT ran in the migration only, not in a replay.
        assert_eq!(
            db.scalar("SELECT last_value || ' ' || is_called FROM s"),
            "1 true"
        );
    }
    assert_eq!(db.count("calls"), 0);
    assert_eq!(db.history(), [V1]);
}

#[test]
fn failing_statement_is_located_without_a_replay_postgres() {
    let Some(db) = Db::postgres() else {
        return;
    };
    failing_statement_is_located_without_a_replay(&Workspace::empty(), &db);
}

#[test]
fn failing_statement_is_located_without_a_replay_sqlite() {
    let ws = Workspace::empty();
    let db = Db::sqlite(&ws);
    failing_statement_is_located_without_a_replay(&ws, &db);
}

// ------------------------------------------------------------------- unreadable scripts

/// An unterminated string, dollar quote or comment is reported where it opens, before
/// anything runs, in transactional and no-transaction migrations alike; never as an error in
/// the history statement that would have followed it.
fn unterminated_tokens(ws: &Workspace, db: &Db) {
    write(ws, V1, "create_a", "CREATE TABLE a (x text);\n");
    up_json(ws, db, 0);
    let mut cases = vec![
        ("INSERT INTO a VALUES ('oops);\n", (1, 23), "string"),
        (
            "INSERT INTO a VALUES ('x');\n/* the rest is commented out\nINSERT INTO a VALUES ('y');\n",
            (2, 1),
            "comment",
        ),
        (
            "-- migrate:no-transaction\nINSERT INTO a VALUES ('x');\nINSERT INTO a VALUES (\"y);\n",
            (3, 23),
            "delimiter",
        ),
    ];
    if let Db::Postgres { .. } = db {
        cases.push((
            "CREATE FUNCTION f() RETURNS int AS $$\nSELECT 1;\n",
            (1, 36),
            "dollar",
        ));
        cases.push((
            "-- migrate:no-transaction\nINSERT INTO a VALUES ('x');\nDO $body$ BEGIN PERFORM 1; END $bod$;\n",
            (3, 4),
            "dollar",
        ));
    }
    for (sql, (line, column), what) in cases {
        // SQLite's block comments may end at the end of the script.
        if what == "comment" && matches!(db, Db::Sqlite { .. }) {
            continue;
        }
        write(ws, V2, "broken", sql);
        let run = up_json(ws, db, 2);
        assert_eq!(run["error"]["code"], "unreadable-sql", "{sql}: {run}");
        assert_eq!(
            run["error"]["location"],
            format!("migrations/{V2}_broken/up.sql:{line}:{column}"),
            "{sql}"
        );
        let message = run["error"]["message"].as_str().unwrap();
        assert!(message.contains(what), "{sql}: {message}");
        assert!(!message.contains("_cargo_migrate"), "{message}");
        assert_eq!(db.count("a"), 0, "{sql}");
        assert_eq!(db.history(), [V1], "{sql}");
    }
    if let Db::Postgres { .. } = db {
        write(ws, V2, "broken", "INSERT INTO a VALUES ('oops);\n");
        snapshot(
            "unterminated_string_is_refused",
            &cm(ws, db, &["up"]).assert_code(2),
        );
    }
}

#[test]
fn unterminated_tokens_postgres() {
    let Some(db) = Db::postgres() else {
        return;
    };
    unterminated_tokens(&Workspace::empty(), &db);
}

#[test]
fn unterminated_tokens_sqlite() {
    let ws = Workspace::empty();
    let db = Db::sqlite(&ws);
    unterminated_tokens(&ws, &db);
}

// ------------------------------------------------------------------- bytes that are not SQL

/// A NUL byte, UTF-16 without a byte order mark, invalid UTF-8: refused when the set is read,
/// with the file and where in it, before the database is touched; never a spinning run.
fn bytes_that_are_not_sql(ws: &Workspace, db: &Db) {
    write(ws, V1, "create_a", "CREATE TABLE a (x text);\n");
    up_json(ws, db, 0);
    let utf16: Vec<u8> = "INSERT INTO a VALUES ('x');\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        // Between statements: SQLite's statement loop made no progress past it, forever.
        (
            b"INSERT INTO a VALUES ('x');\n\0\n".to_vec(),
            "nul-byte-in-sql",
            ":2:1",
        ),
        (
            b"INSERT INTO a VALUES ('x');\nINSERT INTO a VALUES ('\0');\n".to_vec(),
            "nul-byte-in-sql",
            ":2:24",
        ),
        (b"\0".to_vec(), "nul-byte-in-sql", ":1:1"),
        (utf16, "non-utf8-sql", ":1:1"),
        (
            b"INSERT INTO a VALUES ('x');\nINSERT INTO a VALUES ('\xe9');\n".to_vec(),
            "non-utf8-sql",
            ":2:24",
        ),
    ];
    for (bytes, code, at) in cases {
        write(ws, V2, "binary", &bytes);
        let run = up_json(ws, db, 2);
        assert_eq!(run["error"]["code"], code, "{run}");
        assert_eq!(
            run["error"]["location"],
            format!("migrations/{V2}_binary/up.sql{at}")
        );
        // `list` and `status` read the set the same way.
        support::run_in(ws.path(), &["--dir", "migrations", "list"]).assert_code(2);
        assert_eq!(db.count("a"), 0);
        assert_eq!(db.history(), [V1]);
    }
    if let Db::Sqlite { .. } = db {
        write(
            ws,
            V2,
            "binary",
            b"INSERT INTO a VALUES ('x');\nINSERT INTO a VALUES ('\0');\n",
        );
        snapshot("nul_byte_is_refused", &cm(ws, db, &["up"]).assert_code(2));
    }
}

#[test]
fn bytes_that_are_not_sql_postgres() {
    let Some(db) = Db::postgres() else {
        return;
    };
    bytes_that_are_not_sql(&Workspace::empty(), &db);
}

#[test]
fn bytes_that_are_not_sql_sqlite() {
    let ws = Workspace::empty();
    let db = Db::sqlite(&ws);
    bytes_that_are_not_sql(&ws, &db);
}

// ------------------------------------------------------------------- redo and reset

/// `redo` and `reset` change the database before they apply: the scripts they will apply are
/// checked before that, so a refusal leaves the database as it was.
fn redo_and_reset_check_before_changing_anything(ws: &Workspace, db: &Db) {
    write(ws, V1, "create_a", "CREATE TABLE a (x int);\n");
    let down = ws
        .path()
        .join("migrations")
        .join(format!("{V1}_create_a"))
        .join("down.sql");
    std::fs::write(&down, "DROP TABLE a;\n").unwrap();
    up_json(ws, db, 0);
    // The up script gains a COMMIT after it was applied.
    write(ws, V1, "create_a", "CREATE TABLE a (x int);\nCOMMIT;\n");
    for args in [&["redo"][..], &["reset", "--yes"]] {
        let mut all = vec!["--format", "json"];
        all.extend(args);
        let run = cm(ws, db, &all).assert_code(2).run_json();
        assert_eq!(
            run["error"]["code"], "transaction-control",
            "{args:?}: {run}"
        );
        assert_eq!(db.count("a"), 0, "{args:?}: the table is still there");
        assert_eq!(db.history(), [V1], "{args:?}");
    }
}

#[test]
fn redo_and_reset_check_before_changing_anything_postgres() {
    let Some(db) = Db::postgres() else {
        return;
    };
    redo_and_reset_check_before_changing_anything(&Workspace::empty(), &db);
}

#[test]
fn redo_and_reset_check_before_changing_anything_sqlite() {
    let ws = Workspace::empty();
    let db = Db::sqlite(&ws);
    redo_and_reset_check_before_changing_anything(&ws, &db);
}
