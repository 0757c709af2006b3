//! `cargo bench --bench sqlite_scale`: `cargo migrate up` on SQLite at scale, against the
//! sqlite3 shell measured in the same run, on the same disk, with the same files:
//!
//! - one migration of generated DDL and INSERTs of about 2, 7, 15 and 50 MB, against
//!   `sqlite3 DB < FILE` with the file wrapped in `BEGIN;` … `COMMIT;` (one transaction, as
//!   `up` runs it);
//! - 10,000 small migrations, against one sqlite3 session applying the same files, each in a
//!   transaction of its own (as `up` does, one commit per migration).
//!
//! Each case runs `RUNS` times (`SQLITE_SCALE_RUNS` to change it) on a fresh database file,
//! the tools taking turns; the table shows medians and the ratio to sqlite3. Inputs are
//! generated at run time in a temporary directory (nothing big is committed). A run still going
//! after 300 s is stopped and shown as such. `CARGO_MIGRATE_BIN=PATH` times another build of
//! cargo-migrate (an older one, say) on the same inputs. Needs `sqlite3` on PATH; prints why it
//! skips otherwise.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support.rs"]
mod common;

const SCRIPT_MEGABYTES: [usize; 4] = [2, 7, 15, 50];
const MIGRATIONS: usize = 10_000;
const LIMIT: Duration = Duration::from_secs(300);

fn main() {
    if !Command::new("sqlite3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("skipped: the sqlite3 shell is not on PATH (the baseline)");
        return;
    }
    let runs: usize = std::env::var("SQLITE_SCALE_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(3)
        .max(1);
    let binary = std::env::var_os("CARGO_MIGRATE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_cargo-migrate")));
    let work = tempfile::tempdir().expect("temp dir");
    let mut rows = Vec::new();

    for megabytes in SCRIPT_MEGABYTES {
        let case = work.path().join(format!("script_{megabytes}mb"));
        let (script, statements) = data_script(megabytes * 1_000_000);
        write(&case.join("migrations/0001_data/up.sql"), &script);
        write(
            &case.join("wrapped.sql"),
            &format!("BEGIN;\n{script}COMMIT;\n"),
        );
        let label = format!(
            "one migration of {:.1} MB ({} statements)",
            script.len() as f64 / 1e6,
            thousands(statements)
        );
        eprintln!("{label}…");
        rows.push((label, measure(&binary, &case, runs)));
    }

    let case = work.path().join("many");
    let mut session = String::new();
    for (index, sql) in small_migrations(MIGRATIONS).iter().enumerate() {
        write(
            &case.join(format!("migrations/{:05}_m{}/up.sql", index + 1, index + 1)),
            sql,
        );
        let _ = write!(session, "BEGIN;\n{sql}COMMIT;\n");
    }
    write(&case.join("wrapped.sql"), &session);
    let label = format!("{} small migrations", thousands(MIGRATIONS));
    eprintln!("{label}…");
    rows.push((label, measure(&binary, &case, runs)));

    println!(
        "\ncargo migrate up on SQLite against the sqlite3 shell (`sqlite3 DB < FILE`, each \
         migration in one transaction), fresh file per run, median of {runs}:\n"
    );
    println!("| case | sqlite3 | cargo-migrate up | ratio |");
    println!("|---|---:|---:|---:|");
    for (label, (shell, ours)) in &rows {
        let shell = median(shell);
        let ours = median(ours);
        let ratio = match (shell, ours) {
            (Some(shell), Some(ours)) => {
                format!("{:.2}×", ours.as_secs_f64() / shell.as_secs_f64())
            }
            _ => "—".to_string(),
        };
        println!("| {label} | {} | {} | {ratio} |", show(shell), show(ours));
    }
}

/// Durations of runs; `None`: the run was stopped at [`LIMIT`].
type Times = Vec<Option<Duration>>;

/// Times the sqlite3 shell and cargo-migrate `runs` times each on `case` (its `migrations/`
/// and `wrapped.sql`), taking turns so that a slow moment of the machine hits both.
fn measure(binary: &Path, case: &Path, runs: usize) -> (Times, Times) {
    let (mut shell, mut ours) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let shell_db = case.join(format!("shell_{run}.db"));
        let ours_db = case.join(format!("ours_{run}.db"));
        let time_shell = || {
            let mut command = Command::new("sqlite3");
            command
                .arg(&shell_db)
                .stdin(File::open(case.join("wrapped.sql")).expect("open wrapped.sql"));
            timed(command, case)
        };
        let time_ours = || {
            let mut command = Command::new(binary);
            command
                .args(["up", "-q", "--dialect", "sqlite", "--database-url"])
                .arg(format!("sqlite:{}", ours_db.display()))
                .arg("--dir")
                .arg(case.join("migrations"));
            timed(command, case)
        };
        if run % 2 == 0 {
            shell.push(time_shell());
            ours.push(time_ours());
        } else {
            ours.push(time_ours());
            shell.push(time_shell());
        }
        if shell[run].is_some() && ours[run].is_some() {
            // The same schema and rows both ways (the history table aside).
            assert_eq!(
                fingerprint(&shell_db),
                fingerprint(&ours_db),
                "sqlite3 and cargo-migrate disagree on {}",
                case.display()
            );
        }
        for db in [&shell_db, &ours_db] {
            let _ = std::fs::remove_file(db);
        }
    }
    (shell, ours)
}

/// Runs `command` to completion (or stops it at [`LIMIT`]) and returns how long it took.
/// Panics when it fails.
fn timed(mut command: Command, case: &Path) -> Option<Duration> {
    let stderr_path = case.join("stderr.txt");
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(File::create(&stderr_path).expect("create stderr.txt"))
        .spawn()
        .expect("start the tool");
    loop {
        if let Some(status) = child.try_wait().expect("wait for the tool") {
            let elapsed = started.elapsed();
            assert!(
                status.success(),
                "{command:?} failed: {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
            return Some(elapsed);
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Object count and total rows of the user tables of a database, read with sqlite3.
fn fingerprint(db: &Path) -> String {
    let query = "SELECT count(*) || ' objects, ' || sum(type = 'table') || ' tables' \
                 FROM sqlite_master WHERE tbl_name NOT LIKE '\\_cargo%' ESCAPE '\\'";
    let output = Command::new("sqlite3")
        .arg(db)
        .arg(query)
        .output()
        .expect("run sqlite3");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A data migration of about `bytes` bytes, as a dump or a seed script looks: tables with an
/// index, a view and a trigger each, a thousand single-row INSERTs per table (text with quotes,
/// NULLs, reals), an UPDATE. Returns the script and its statement count.
fn data_script(bytes: usize) -> (String, usize) {
    let mut sql = String::with_capacity(bytes + 100_000);
    let mut statements = 0;
    let mut table = 0;
    while sql.len() < bytes {
        table += 1;
        let _ = write!(
            sql,
            "CREATE TABLE customers_{table} (\n    id INTEGER PRIMARY KEY,\n    name TEXT NOT NULL,\n    \
             email TEXT UNIQUE,\n    balance REAL,\n    note TEXT,\n    active INTEGER NOT NULL DEFAULT 1,\n    \
             created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP\n);\n\
             CREATE INDEX customers_{table}_name ON customers_{table} (name);\n\
             CREATE VIEW active_customers_{table} AS SELECT id, name FROM customers_{table} WHERE active = 1;\n\
             CREATE TRIGGER customers_{table}_touch AFTER UPDATE OF balance ON customers_{table}\n\
             BEGIN\n    UPDATE customers_{table} SET note = 'balance changed; was ' || OLD.balance WHERE id = NEW.id;\nEND;\n"
        );
        statements += 4;
        for row in 0..1000 {
            let note = if row % 3 == 0 {
                "NULL".to_string()
            } else {
                format!("'customer since {}; O''Brien''s referral'", 2000 + row % 25)
            };
            let _ = writeln!(
                sql,
                "INSERT INTO customers_{table} (name, email, balance, note, active) VALUES \
                 ('Customer {row} of {table}', 'c{row}.t{table}@example.com', {}.{:02}, {note}, {});",
                row * 7 % 1000,
                row % 100,
                row % 2
            );
            statements += 1;
        }
        let _ = writeln!(
            sql,
            "UPDATE customers_{table} SET active = 0 WHERE balance < 10;"
        );
        statements += 1;
    }
    (sql, statements)
}

/// `count` small migrations as a long-lived project accumulates them, over a hundred tables:
/// creating them, then adding columns, inserting rows, replacing indexes, updating.
fn small_migrations(count: usize) -> Vec<String> {
    const TABLES: usize = 100;
    (1..=count)
        .map(|i| {
            let t = (i - 1) % TABLES + 1;
            if i <= TABLES {
                return format!(
                    "CREATE TABLE t{t} (\n    id INTEGER PRIMARY KEY,\n    name TEXT NOT NULL,\n    \
                     created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP\n);\n\
                     CREATE INDEX t{t}_name ON t{t} (name);\n"
                );
            }
            match i % 4 {
                0 => format!("ALTER TABLE t{t} ADD COLUMN c{i} TEXT;\n"),
                1 => format!(
                    "INSERT INTO t{t} (name) VALUES ('row {i}'), ('row {i}, again');\n"
                ),
                2 => format!(
                    // The index this one replaces: the same table's, TABLES migrations ago.
                    "DROP INDEX IF EXISTS ix{};\nCREATE INDEX ix{i} ON t{t} (created_at, name);\n",
                    i - TABLES
                ),
                _ => format!("UPDATE t{t} SET name = upper(name) WHERE id % 3 = 0;\n"),
            }
        })
        .collect()
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create dir");
    }
    std::fs::write(path, text).expect("write file");
}

fn median(times: &[Option<Duration>]) -> Option<Duration> {
    // A stopped run counts as the slowest.
    let slowest: Vec<Duration> = times.iter().map(|t| t.unwrap_or(Duration::MAX)).collect();
    Some(common::median(&slowest)).filter(|&m| m != Duration::MAX)
}

fn show(time: Option<Duration>) -> String {
    match time {
        Some(time) => format!("{:.0} ms", time.as_secs_f64() * 1000.0),
        None => format!("> {} s (stopped)", LIMIT.as_secs()),
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
