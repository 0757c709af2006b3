//! Migration names are free text (sqlx-style file names): one holding a newline or an ANSI
//! escape is shown escaped to people, never raw, so it cannot forge output lines or colours;
//! JSON keeps the name as it is (serde escapes it).

use crate::support;

use support::{Outcome, Workspace};

const NEWLINE: &str = "20240101000000_two\nlines";
const ESCAPE: &str = "20240102000000_red\u{1b}[31mred";
/// Fails, so its path is shown in an error's `-->` line.
const FAILING: &str = "20240103000000_clear\u{1b}[2Jscreen";

fn workspace() -> Workspace {
    let ws = Workspace::empty();
    let dir = ws.path().join("migrations");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (name, sql) in [
        (NEWLINE, "CREATE TABLE a (x int);\n"),
        (ESCAPE, "CREATE TABLE b (x int);\n"),
        (FAILING, "CREATE TABLE c (x int,);\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.sql")), sql).expect("write migration");
    }
    ws
}

#[track_caller]
fn assert_escaped(outcome: &Outcome, label: &str) {
    let text = format!("{}{}", outcome.stdout, outcome.stderr);
    assert!(
        !text.contains('\u{1b}'),
        "{label}: a raw escape is printed\n{text:?}"
    );
    assert!(
        !text.lines().any(|line| line.starts_with("lines")),
        "{label}: a name's newline is printed raw\n{text}"
    );
    assert!(!text.contains("panicked"), "{label}\n{text}");
}

/// Runs the commands that print names and paths against `url` (`dialect`), checking each.
fn names_are_escaped(url: &str, dialect: &str) {
    let ws = workspace();
    let run = |args: &[&str], code: i32| {
        let mut all = vec![
            "--dir",
            "migrations",
            "--dialect",
            dialect,
            "--color",
            "never",
        ];
        all.extend_from_slice(args);
        let outcome = support::run_in(ws.path(), &all);
        assert_eq!(outcome.code, code, "{all:?}\n{}", outcome.snapshot());
        assert_escaped(&outcome, &format!("{all:?}"));
        outcome
    };
    let list = run(&["list", "-v"], 0);
    assert!(list.stdout.contains("two\\nlines"), "{}", list.stdout);
    assert!(list.stdout.contains("red\\u{1b}[31mred"), "{}", list.stdout);
    let up = run(&["up", "--yes", "--database-url", url], 1);
    assert!(
        up.stderr
            .contains("20240103000000_clear\\u{1b}[2Jscreen.sql:1:"),
        "the failing file's path, escaped:\n{}",
        up.stderr
    );
    run(&["up", "--dry-run", "--database-url", url], 0);
    let status = run(&["status", "--database-url", url], 0);
    assert!(status.stdout.contains("two\\nlines"), "{}", status.stdout);
    run(
        &["up", "--yes", "--database-url", url, "--format", "json"],
        1,
    );
    // JSON carries the name itself.
    let json = run(&["status", "--database-url", url, "--format", "json"], 0).json();
    let names: Vec<&str> = json["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["two\nlines", "red\u{1b}[31mred", "clear\u{1b}[2Jscreen"]
    );
    // sqlx-style files have no down script: the error names the migration and its file.
    let down = run(&["down", "--all", "--yes", "--database-url", url], 1);
    assert!(down.stderr.contains("red\\u{1b}[31mred"), "{}", down.stderr);
}

#[test]
fn control_characters_in_names_are_escaped_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    names_are_escaped(&url, "sqlite");
}

#[test]
fn control_characters_in_names_are_escaped_on_postgres() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("names");
    names_are_escaped(&url, "postgres");
}
