//! Authoring on a terminal and when writing fails: the rename and data-loss questions are
//! answered on a real pseudo-terminal (`script`), and a migration that cannot be written
//! leaves nothing behind.

use crate::support;

use std::io::Write;
use std::process::Stdio;

use support::{Workspace, sqlite_query};

/// A SQLite workspace with its history applied to `dev.db`.
fn sqlite_workspace() -> (Workspace, String) {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = format!("sqlite:{}", ws.path().join("dev.db").display());
    ws.run(&["up", "--database-url", &url]).assert_code(0);
    (ws, url)
}

/// Runs `args` in `ws` on a pseudo-terminal (`script`), typing `keys` (buffered by the
/// terminal until the prompts read them one key each); returns the exit code and everything
/// the terminal showed. `None` when `script` is missing.
fn on_terminal(ws: &Workspace, args: &[&str], keys: &str) -> Option<(i32, String)> {
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
        .current_dir(ws.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The environment the tests give the binary, which `script` passes on.
    for (name, value) in base.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let mut child = command
        .env("TERM", "xterm")
        .env("COLUMNS", "200")
        .spawn()
        .expect("run script");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(keys.as_bytes()).expect("type the answers");
    drop(stdin);
    let output = child.wait_with_output().expect("wait for script");
    Some((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

/// The files `new` added since `before`.
fn added(ws: &Workspace, before: &[String]) -> Vec<String> {
    ws.files()
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect()
}

fn read_added(ws: &Workspace, added: &[String], suffix: &str) -> String {
    let file = added
        .iter()
        .find(|f| f.ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} in {added:?}"));
    std::fs::read_to_string(ws.path().join(file)).expect("read")
}

#[test]
fn the_rename_question_answered_yes_plans_a_rename() {
    let (ws, url) = sqlite_workspace();
    sqlite_query(&url, "ALTER TABLE users RENAME COLUMN name TO full_name");
    let before = ws.files();
    let args = ["new", "rename_name", "--from-drift", "--database-url", &url];
    let Some((code, shown)) = on_terminal(&ws, &args, "y") else {
        return;
    };
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("Was `users.name` renamed to `users.full_name`?"),
        "{shown}"
    );
    assert!(shown.contains("Verified"), "{shown}");
    let added = added(&ws, &before);
    assert_eq!(added.len(), 2, "{added:?}");
    let up = read_added(&ws, &added, "/up.sql");
    assert!(up.contains("RENAME COLUMN"), "{up}");
    assert!(!up.contains("destructive"), "{up}");
    assert!(read_added(&ws, &added, "/down.sql").contains("RENAME COLUMN"));
    ws.run(&["check"]).assert_code(0);
}

#[test]
fn the_rename_question_answered_no_asks_about_the_lost_data() {
    let (ws, url) = sqlite_workspace();
    sqlite_query(&url, "ALTER TABLE users RENAME COLUMN name TO full_name");
    let before = ws.files();
    let args = ["new", "rename_name", "--from-drift", "--database-url", &url];
    // Not renamed, and the drop is not confirmed: nothing is written.
    let Some((code, shown)) = on_terminal(&ws, &args, "nn") else {
        return;
    };
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("renamed to `users.full_name`?"), "{shown}");
    assert!(
        shown.contains("The migration loses data (") && shown.contains("Write it?"),
        "{shown}"
    );
    assert!(shown.contains("the migration would lose data"), "{shown}");
    assert_eq!(ws.files(), before);
    // Not renamed, and the drop confirmed: drop and add, the drop marked.
    let (code, shown) = on_terminal(&ws, &args, "ny").unwrap();
    assert_eq!(code, 0, "{shown}");
    let added = added(&ws, &before);
    assert_eq!(added.len(), 2, "{added:?}");
    let up = read_added(&ws, &added, "/up.sql");
    assert!(up.contains("-- destructive:"), "{up}");
    assert!(up.contains("full_name"), "{up}");
    assert!(!up.contains("RENAME COLUMN"), "{up}");
    ws.run(&["check"]).assert_code(0);
}

#[test]
fn the_data_loss_question_on_a_terminal() {
    let (ws, url) = sqlite_workspace();
    sqlite_query(&url, "DROP TABLE tags");
    let before = ws.files();
    let args = ["new", "drop_tags", "--from-drift", "--database-url", &url];
    let Some((code, shown)) = on_terminal(&ws, &args, "n") else {
        return;
    };
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("The migration loses data ("), "{shown}");
    assert!(!shown.contains("renamed to"), "{shown}");
    assert_eq!(ws.files(), before);
    let (code, shown) = on_terminal(&ws, &args, "y").unwrap();
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Verified"), "{shown}");
    let added = added(&ws, &before);
    let up = read_added(&ws, &added, "/up.sql");
    assert!(up.contains("-- destructive:"), "{up}");
    assert!(read_added(&ws, &added, "/down.sql").contains("CREATE TABLE"));
    ws.run(&["check"]).assert_code(0);
}

/// A migrations folder that cannot be written: the migration is planned and verified, then
/// refused with the folder named, and nothing (no file, no directory, no temporary) is left.
/// As root (CI), the binary runs as `nobody`, for whom the root-owned folder is read-only.
#[test]
fn a_folder_that_cannot_be_written_leaves_nothing_behind() {
    use std::os::unix::fs::PermissionsExt;

    let (ws, url) = sqlite_workspace();
    sqlite_query(&url, "ALTER TABLE users ADD COLUMN bio TEXT");
    // A bare folder (`--dir`): `nobody` cannot run the test user's `cargo metadata`.
    std::fs::remove_file(ws.path().join("Cargo.toml")).expect("rm Cargo.toml");
    let set = ["--dir", "migrations", "--dialect", "sqlite"];
    let before = ws.files();
    let migrations = ws.path().join("migrations");
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(&migrations)
            .expect("migrations")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let listed = listing();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let scratch = tempfile::tempdir().expect("scratch dir");
    for (path, mode) in [
        (ws.path(), 0o755),
        (migrations.as_path(), 0o555),
        (scratch.path(), 0o777),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let read_only = format!("{url}?mode=ro");
    let args = [
        set[0],
        set[1],
        set[2],
        set[3],
        "new",
        "add_bio",
        "--from-drift",
        "--database-url",
        &read_only,
        "--format",
        "json",
    ];
    let base = support::command();
    let mut command = if root {
        let mut command = std::process::Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_cargo-migrate"));
        command
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
    };
    for (name, value) in base.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let output = command
        .args(args)
        .current_dir(ws.path())
        .env("TMPDIR", scratch.path())
        .env("HOME", scratch.path())
        .output()
        .expect("run new");
    std::fs::set_permissions(&migrations, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["error"]["code"], "unwritable-directory", "{report}");
    let message = report["error"]["message"].as_str().unwrap_or_default();
    let location = report["error"]["location"].to_string();
    assert!(
        message.contains("migrations") || location.contains("migrations"),
        "{report}"
    );
    assert_eq!(listing(), listed, "nothing is left in the folder");
    assert_eq!(ws.files(), before);
    // Writable again, the same command writes the migration.
    let mut again = set.to_vec();
    again.extend(["new", "add_bio", "--from-drift", "--database-url", &url]);
    ws.run(&again).assert_code(0);
    assert_eq!(listing().len(), listed.len() + 1);
}
