//! Bad input: every way a user can hand cargo-migrate a broken workspace, configuration,
//! database URL, command line or database state. Each case runs the real binary, checks it did
//! not panic, checks the exit code (1 a check failed, 2 bad input, 3 unreachable) and the JSON
//! error `code`, pins the whole human output with a snapshot, and (for `new`) checks that
//! nothing was written. `docs/errors.md` keeps the catalogue of these cases as a table
//! (checked against this file by `tests/e2e/docs.rs`).
//!
//! The broken workspaces live in `fixtures/broken/<case>/`; cases that need no special files use
//! the good fixtures or an empty directory, and make their state at test time (permissions,
//! symbolic links, byte-level encodings, databases).

use crate::support;

use std::path::Path;
use std::process::Command;

use support::{Outcome, Workspace};

/// Runs the binary in `ws` and checks it did not panic, whatever else it did.
#[track_caller]
fn run(ws: &Workspace, args: &[&str]) -> Outcome {
    let outcome = ws.run(args);
    assert_no_panic(&outcome.stdout, &outcome.stderr);
    outcome
}

#[track_caller]
fn assert_no_panic(stdout: &str, stderr: &str) {
    assert!(
        !stdout.contains("panicked") && !stderr.contains("panicked"),
        "cargo-migrate panicked\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

/// Every file and every directory below the workspace: `ws.files()` alone would not notice an
/// empty migration directory left behind by a failed `new`.
fn contents(ws: &Workspace) -> (Vec<String>, Vec<String>) {
    fn dirs(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
                dirs(root, &path, out);
            }
        }
    }
    let mut found = Vec::new();
    dirs(ws.path(), ws.path(), &mut found);
    found.sort();
    (ws.files(), found)
}

/// Runs `new ARGS…` (or any writing command) and checks it left the workspace as it was.
#[track_caller]
fn run_writing(ws: &Workspace, args: &[&str]) -> Outcome {
    let before = contents(ws);
    let outcome = run(ws, args);
    assert_eq!(
        contents(ws),
        before,
        "a failed command changed the workspace"
    );
    outcome
}

/// Runs `ARGS` again with `--format json` and checks the error's stable `code` (the human
/// output the snapshots pin does not show it). Also checks nothing was written.
#[track_caller]
fn assert_error_code(ws: &Workspace, args: &[&str], code: &str) {
    let mut json_args = vec!["--format", "json"];
    json_args.extend_from_slice(args);
    let json = run_writing(ws, &json_args).json();
    assert_eq!(json["error"]["code"], code, "{json}");
    assert_eq!(json["error"]["exit_code"], 2, "{json}");
}

// ---------------------------------------------------------------------------------------------
// Running as an unprivileged user (permission cases)
// ---------------------------------------------------------------------------------------------

/// The result of a run that may have gone through `setpriv`; rendered like
/// [`Outcome::snapshot`] so the snapshots look the same.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    dir: std::path::PathBuf,
}

impl Run {
    /// The `code` of the one JSON error object a `--format json` run printed.
    fn error_code(&self) -> String {
        let json: serde_json::Value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", self.stdout));
        assert_eq!(json["error"]["exit_code"], 2, "{json}");
        json["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn snapshot(&self) -> String {
        let clean = |text: &str| {
            let mut text = text.replace(&*self.dir.to_string_lossy(), "[WORKSPACE]");
            if let Ok(canonical) = self.dir.canonicalize() {
                text = text.replace(&*canonical.to_string_lossy(), "[WORKSPACE]");
            }
            text.replace(&*support::repo().to_string_lossy(), "[REPO]")
        };
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code,
            clean(&self.stdout),
            clean(&self.stderr)
        )
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs the binary in `ws` as the current user, or, when that is root (which ignores file
/// permissions, as in CI containers), as user `nobody` through `setpriv`.
///
/// Only for `--dir` runs: `nobody` cannot reach the toolchain under root's home, so `cargo
/// metadata` would fail for a reason that has nothing to do with the test.
fn run_unprivileged(ws: &Workspace, args: &[&str]) -> Run {
    let base = support::command();
    let mut command = if is_root() {
        // `nobody` must be able to reach the workspace: tempfile makes its root 0700.
        set_mode(ws.path(), 0o755);
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(base.get_program());
        command
    } else {
        Command::new(base.get_program())
    };
    // The same environment as `support::command()`.
    for (key, value) in base.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let output = command
        .current_dir(ws.path())
        .args(args)
        .output()
        .expect("run cargo-migrate (as root this needs `setpriv` from util-linux)");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        dir: ws.path().to_path_buf(),
    };
    assert_no_panic(&run.stdout, &run.stderr);
    assert!(
        !run.stderr.contains("setpriv:"),
        "setpriv failed: {}",
        run.stderr
    );
    run
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {path:?}: {e}"));
}

// ---------------------------------------------------------------------------------------------
// Migration files
// ---------------------------------------------------------------------------------------------

#[test]
fn duplicate_version_directory_style() {
    let ws = Workspace::copy("broken/duplicate-version-dir");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "duplicate-version");
    insta::assert_snapshot!("duplicate_version_dir", outcome.snapshot());
}

#[test]
fn duplicate_version_sqlx_style() {
    let ws = Workspace::copy("broken/duplicate-version-sqlx");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "duplicate-version");
    insta::assert_snapshot!("duplicate_version_sqlx", outcome.snapshot());
}

#[test]
fn unparsable_file_name_in_directory_set() {
    let ws = Workspace::copy("broken/bad-name-file");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "bad-migration-name");
    insta::assert_snapshot!("bad_name_file", outcome.snapshot());
}

#[test]
fn unparsable_directory_name() {
    let ws = Workspace::copy("broken/bad-name-dir");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "bad-migration-name");
    insta::assert_snapshot!("bad_name_dir", outcome.snapshot());
}

#[test]
fn mixed_layouts() {
    let ws = Workspace::copy("broken/mixed-layout");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "mixed-layout");
    insta::assert_snapshot!("mixed_layout", outcome.snapshot());
}

#[test]
fn down_without_up_directory_style() {
    let ws = Workspace::copy("broken/down-without-up-dir");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "down-without-up");
    insta::assert_snapshot!("down_without_up_dir", outcome.snapshot());
}

#[test]
fn down_without_up_sqlx_style() {
    let ws = Workspace::copy("broken/down-without-up-sqlx");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "down-without-up");
    insta::assert_snapshot!("down_without_up_sqlx", outcome.snapshot());
}

#[test]
fn migration_directory_without_scripts() {
    let ws = Workspace::copy("broken/missing-up");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "missing-up");
    insta::assert_snapshot!("missing_up", outcome.snapshot());
}

#[test]
fn non_utf8_sql_names_the_line() {
    let ws = Workspace::copy("broken/non-utf8-sql");
    let up = ws.path().join("migrations/20240101000000_a/up.sql");
    let bytes = std::fs::read(&up).unwrap();
    assert!(
        bytes.contains(&0xe9) && std::str::from_utf8(&bytes).is_err(),
        "the fixture lost its Latin-1 byte (re-encoded on checkout?)"
    );
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "non-utf8-sql");
    assert!(
        outcome.stderr.contains("up.sql:3:"),
        "the error should point at line 3: {}",
        outcome.stderr
    );
    insta::assert_snapshot!("non_utf8_sql", outcome.snapshot());
}

#[test]
fn sqlx_version_too_large() {
    let ws = Workspace::copy("broken/version-too-large");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "version-too-large");
    insta::assert_snapshot!("version_too_large", outcome.snapshot());
}

#[test]
fn diesel_metadata_toml_with_a_wrong_type() {
    let ws = Workspace::copy("broken/bad-metadata-toml");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "bad-metadata-toml");
    insta::assert_snapshot!("bad_metadata_toml", outcome.snapshot());
}

#[test]
fn diesel_metadata_toml_with_an_unknown_key() {
    let ws = Workspace::copy("broken/metadata-toml-unknown-key");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "bad-metadata-toml");
    insta::assert_snapshot!("metadata_toml_unknown_key", outcome.snapshot());
}

#[test]
fn unreadable_migrations_directory() {
    let ws = Workspace::copy("single");
    let migrations = ws.path().join("migrations");
    set_mode(&migrations, 0o000);
    let outcome = run_unprivileged(&ws, &["--dir", "migrations", "list"]);
    let json = run_unprivileged(&ws, &["--format", "json", "--dir", "migrations", "list"]);
    set_mode(&migrations, 0o755);
    assert_eq!(json.error_code(), "unreadable-directory", "{}", json.stdout);
    assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
    insta::assert_snapshot!("unreadable_directory", outcome.snapshot());
}

/// A migration directory that cannot be read is said to be unreadable (permission denied),
/// not to "have no up.sql".
#[test]
fn unreadable_migration_subdirectory() {
    let ws = Workspace::copy("single");
    let migration = ws.path().join("migrations/20240101120000_create_users");
    set_mode(&migration, 0o000);
    let outcome = run_unprivileged(&ws, &["--dir", "migrations", "list"]);
    let json = run_unprivileged(&ws, &["--format", "json", "--dir", "migrations", "list"]);
    set_mode(&migration, 0o755);
    assert_eq!(json.error_code(), "unreadable-directory", "{}", json.stdout);
    assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
    assert!(
        outcome.stderr.contains("permission denied"),
        "{}",
        outcome.stderr
    );
    insta::assert_snapshot!("unreadable_migration_subdirectory", outcome.snapshot());
}

#[test]
fn unreadable_migration_file() {
    let ws = Workspace::copy("single");
    let up = ws
        .path()
        .join("migrations/20240101120000_create_users/up.sql");
    set_mode(&up, 0o000);
    let outcome = run_unprivileged(&ws, &["--dir", "migrations", "list"]);
    let json = run_unprivileged(&ws, &["--format", "json", "--dir", "migrations", "list"]);
    set_mode(&up, 0o644);
    assert_eq!(json.error_code(), "unreadable-file", "{}", json.stdout);
    assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
    insta::assert_snapshot!("unreadable_file", outcome.snapshot());
}

/// dbmate runs only what is in its sections: SQL before `-- migrate:up` is refused at its line.
#[test]
fn dbmate_file_with_sql_outside_its_sections() {
    let ws = Workspace::copy("broken/dbmate-outside-sections");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "bad-tool-metadata");
    insta::assert_snapshot!("dbmate_outside_sections", outcome.snapshot());
}

// ---------------------------------------------------------------------------------------------
// `new`
// ---------------------------------------------------------------------------------------------

#[test]
fn new_into_read_only_directory_writes_nothing() {
    let ws = Workspace::copy("single");
    let migrations = ws.path().join("migrations");
    set_mode(&migrations, 0o555);
    let args = [
        "--dir",
        "migrations",
        "--dialect",
        "postgres",
        "new",
        "add_orders",
    ];
    let before = contents(&ws);
    let outcome = run_unprivileged(&ws, &args);
    let json = run_unprivileged(&ws, &[&["--format", "json"][..], &args].concat());
    assert_eq!(
        contents(&ws),
        before,
        "a failed `new` changed the workspace"
    );
    set_mode(&migrations, 0o755);
    assert_eq!(json.error_code(), "unwritable-directory", "{}", json.stdout);
    assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
    insta::with_settings!({filters => vec![(r"\b\d{14}_add_orders", "[VERSION]_add_orders")]}, {
        insta::assert_snapshot!("new_read_only_directory", outcome.snapshot());
    });
}

#[test]
fn new_name_in_camel_case() {
    let ws = Workspace::copy("single");
    let outcome = run_writing(&ws, &["new", "AddUsers"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", "AddUsers"], "bad-migration-name");
    insta::assert_snapshot!("new_name_camel_case", outcome.snapshot());
}

#[test]
fn new_name_with_dash() {
    let ws = Workspace::copy("single");
    let outcome = run_writing(&ws, &["new", "add-users"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", "add-users"], "bad-migration-name");
    insta::assert_snapshot!("new_name_dash", outcome.snapshot());
}

#[test]
fn new_name_empty() {
    let ws = Workspace::copy("single");
    let outcome = run_writing(&ws, &["new", ""]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", ""], "bad-migration-name");
    insta::assert_snapshot!("new_name_empty", outcome.snapshot());
}

#[test]
fn new_name_too_long() {
    let ws = Workspace::copy("single");
    let name = "a".repeat(101);
    let outcome = run_writing(&ws, &["new", &name]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", &name], "bad-migration-name");
    insta::assert_snapshot!("new_name_too_long", outcome.snapshot());
}

#[test]
fn new_name_not_ascii() {
    let ws = Workspace::copy("single");
    let outcome = run_writing(&ws, &["new", "café"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", "café"], "bad-migration-name");
    insta::assert_snapshot!("new_name_not_ascii", outcome.snapshot());
}

#[test]
fn new_without_package_in_a_workspace_of_several_sets() {
    let ws = Workspace::copy("multi");
    let outcome = run_writing(&ws, &["new", "add_x"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", "add_x"], "ambiguous-set");
    insta::assert_snapshot!("new_ambiguous_set", outcome.snapshot());
}

#[test]
fn new_with_unknown_template() {
    let ws = Workspace::copy("single");
    let outcome = run_writing(&ws, &["new", "x", "--template", "nosuch"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(
        &ws,
        &["new", "x", "--template", "nosuch"],
        "unknown-template",
    );
    insta::assert_snapshot!("new_unknown_template", outcome.snapshot());
}

#[test]
fn new_with_template_using_an_unknown_variable() {
    let ws = Workspace::copy("broken/bad-template");
    let outcome = run_writing(&ws, &["new", "add_audit", "--template", "audit"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(
        &ws,
        &["new", "add_audit", "--template", "audit"],
        "bad-template",
    );
    assert!(
        outcome.stderr.contains("db-templates/audit/up.sql:2"),
        "the error should name the template file and line: {}",
        outcome.stderr
    );
    insta::assert_snapshot!("new_bad_template", outcome.snapshot());
}

#[test]
fn new_sequential_on_timestamp_set() {
    let ws = Workspace::copy("single");
    let outcome = run_writing(&ws, &["new", "x", "--sequential"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", "x", "--sequential"], "bad-argument");
    insta::assert_snapshot!("new_sequential_on_timestamps", outcome.snapshot());
}

#[test]
fn new_with_the_name_of_an_existing_migration() {
    // `single` already has `20240101120000_create_users`.
    let ws = Workspace::copy("single");
    let outcome = run_writing(&ws, &["new", "create_users"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", "create_users"], "duplicate-name");
    insta::assert_snapshot!("new_existing_name", outcome.snapshot());
}

#[test]
fn new_twice_with_the_same_name() {
    let ws = Workspace::copy("single");
    let first = run(&ws, &["new", "add_orders"]);
    first.assert_code(0);
    let outcome = run_writing(&ws, &["new", "add_orders"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", "add_orders"], "duplicate-name");
    insta::with_settings!({filters => vec![(r"\b\d{14}_add_orders", "[VERSION]_add_orders")]}, {
        insta::assert_snapshot!("new_duplicate_name", outcome.snapshot());
    });
}

#[test]
fn new_when_the_dialect_cannot_be_known() {
    let ws = Workspace::copy("broken/unknown-dialect");
    let outcome = run_writing(&ws, &["new", "add_x"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", "add_x"], "unknown-dialect");
    insta::assert_snapshot!("new_unknown_dialect", outcome.snapshot());
}

#[test]
fn new_with_a_file_in_the_way() {
    let ws = Workspace::copy("broken/file-in-the-way");
    let outcome = run_writing(&ws, &["new", "add_orders"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", "add_orders"], "migration-exists");
    insta::assert_snapshot!("new_file_in_the_way", outcome.snapshot());
}

#[test]
fn new_with_a_missing_workspace_templates_directory() {
    let ws = Workspace::copy("broken/missing-templates-dir");
    let outcome = run_writing(&ws, &["new", "add_x"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", "add_x"], "bad-config");
    insta::assert_snapshot!("new_missing_templates_dir", outcome.snapshot());
}

#[test]
fn new_with_a_missing_package_templates_directory() {
    let ws = Workspace::copy("broken/missing-templates-dir-package");
    let outcome = run_writing(&ws, &["new", "add_x"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["new", "add_x"], "bad-config");
    assert!(
        outcome.stderr.contains("[package.metadata.migrate]"),
        "the hint should name the table that sets `templates`: {}",
        outcome.stderr
    );
    insta::assert_snapshot!("new_missing_templates_dir_package", outcome.snapshot());
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_key_in_package_config() {
    let ws = Workspace::copy("broken/unknown-key-package");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "unknown-config-key");
    insta::assert_snapshot!("unknown_key_package", outcome.snapshot());
}

#[test]
fn unknown_key_in_workspace_config_suggests_the_spelling() {
    let ws = Workspace::copy("broken/unknown-key-workspace");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "unknown-config-key");
    assert!(
        outcome.stderr.contains("did you mean `history-table`"),
        "{}",
        outcome.stderr
    );
    insta::assert_snapshot!("unknown_key_workspace", outcome.snapshot());
}

#[test]
fn dialect_of_the_wrong_type() {
    let ws = Workspace::copy("broken/bad-dialect-type");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "bad-config");
    assert!(outcome.stderr.contains("hint:"), "{}", outcome.stderr);
    insta::assert_snapshot!("bad_dialect_type", outcome.snapshot());
}

#[test]
fn unknown_dialect_in_config() {
    let ws = Workspace::copy("broken/bad-dialect-name");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "bad-config");
    assert!(outcome.stderr.contains("hint:"), "{}", outcome.stderr);
    insta::assert_snapshot!("bad_dialect_name", outcome.snapshot());
}

#[test]
fn history_table_that_is_not_an_identifier() {
    let ws = Workspace::copy("broken/bad-history-table");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "bad-config");
    insta::assert_snapshot!("bad_history_table", outcome.snapshot());
}

#[test]
fn ignore_that_is_not_a_list() {
    let ws = Workspace::copy("broken/bad-ignore");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "bad-config");
    assert!(outcome.stderr.contains("hint:"), "{}", outcome.stderr);
    insta::assert_snapshot!("bad_ignore", outcome.snapshot());
}

// ---------------------------------------------------------------------------------------------
// Finding the workspace and the set
// ---------------------------------------------------------------------------------------------

#[test]
fn package_without_migrations() {
    let ws = Workspace::copy("multi");
    let outcome = run(&ws, &["-p", "web", "list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["-p", "web", "list"], "no-migration-set");
    insta::assert_snapshot!("package_without_migrations", outcome.snapshot());
}

#[test]
fn unknown_package() {
    let ws = Workspace::copy("multi");
    let outcome = run(&ws, &["-p", "nosuch", "list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["-p", "nosuch", "list"], "unknown-package");
    insta::assert_snapshot!("unknown_package", outcome.snapshot());
}

#[test]
fn manifest_path_that_is_not_a_cargo_toml() {
    let ws = Workspace::empty();
    std::fs::write(ws.path().join("README.md"), "# not a manifest\n").unwrap();
    let outcome = run(&ws, &["--manifest-path", "README.md", "list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(
        &ws,
        &["--manifest-path", "README.md", "list"],
        "bad-manifest-path",
    );
    insta::assert_snapshot!("manifest_path_not_cargo_toml", outcome.snapshot());
}

#[test]
fn manifest_path_that_does_not_exist() {
    let ws = Workspace::copy("single");
    let outcome = run(&ws, &["--manifest-path", "nosuch/Cargo.toml", "list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(
        &ws,
        &["--manifest-path", "nosuch/Cargo.toml", "list"],
        "bad-manifest-path",
    );
    insta::assert_snapshot!("manifest_path_missing", outcome.snapshot());
}

#[test]
fn malformed_cargo_toml() {
    let ws = Workspace::copy("broken/malformed-manifest");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "cargo-metadata-failed");
    assert!(
        outcome.stderr.contains("--> Cargo.toml:3"),
        "the error should point at the bad line of Cargo.toml: {}",
        outcome.stderr
    );
    insta::assert_snapshot!("malformed_manifest", outcome.snapshot());
}

#[test]
fn no_cargo_project() {
    let ws = Workspace::empty();
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "cargo-metadata-failed");
    assert!(outcome.stderr.contains("--dir"), "{}", outcome.stderr);
    insta::assert_snapshot!("no_cargo_project", outcome.snapshot());
}

#[test]
fn dir_that_does_not_exist() {
    let ws = Workspace::copy("single");
    let outcome = run(&ws, &["--dir", "nosuch", "list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["--dir", "nosuch", "list"], "missing-directory");
    insta::assert_snapshot!("dir_missing", outcome.snapshot());
}

#[test]
fn dir_that_is_a_file() {
    let ws = Workspace::copy("single");
    let outcome = run(&ws, &["--dir", "Cargo.toml", "list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(
        &ws,
        &["--dir", "Cargo.toml", "list"],
        "unreadable-directory",
    );
    insta::assert_snapshot!("dir_is_a_file", outcome.snapshot());
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_flag() {
    usage_error("single", &["list", "--frobnicate"], "usage_unknown_flag");
}

#[test]
fn unknown_dialect_flag() {
    usage_error(
        "single",
        &["--dialect", "oracle", "list"],
        "usage_unknown_dialect",
    );
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

#[test]
fn json_error_is_one_object_on_stdout() {
    let ws = Workspace::copy("broken/duplicate-version-sqlx");
    let outcome = run(&ws, &["--format", "json", "list"]);
    let outcome = outcome.assert_code(2);
    assert_eq!(
        outcome.stdout.trim_end().lines().count(),
        1,
        "{}",
        outcome.stdout
    );
    assert_eq!(outcome.stderr, "", "JSON mode prints errors on stdout only");
    let json = outcome.json();
    assert_eq!(
        json,
        serde_json::json!({
            "format_version": 1,
            "error": {
                "code": "duplicate-version",
                "message": "version 1 is used twice: `0001_b.sql` and `1_a.sql`",
                "location": "migrations",
                "hint": "give one of them a new version (`cargo migrate new` picks a free one)",
                "exit_code": 2,
            }
        })
    );
}

#[test]
fn json_error_from_new_writes_nothing() {
    let ws = Workspace::copy("multi");
    let outcome = run_writing(&ws, &["--format", "json", "new", "add_x"]);
    let outcome = outcome.assert_code(2);
    assert_eq!(outcome.stderr, "", "JSON mode prints errors on stdout only");
    let json = outcome.json();
    let error = json["error"].as_object().expect("an `error` object");
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "exit_code", "hint", "location", "message"]);
    assert_eq!(error["code"], "ambiguous-set");
    assert_eq!(error["exit_code"], 2);
    assert_eq!(error["location"], "Cargo.toml");
    assert!(error["hint"].as_str().unwrap().contains("-p/--package"));
}

// ---------------------------------------------------------------------------------------------
// More helpers: edited fixtures, JSON errors of any exit code, filtered snapshots
// ---------------------------------------------------------------------------------------------

/// Filters for output that changes between runs: durations, timestamps, socket directories.
const FILTERS: &[(&str, &str)] = &[
    (r"(?:/[^\s/?&%]+)*/cm-[A-Za-z0-9]{6}\b", "[SOCKET]"),
    (r"\(\d+(?:\.\d+)? m?s\)", "([DURATION])"),
    (r"\bin \d+(?:\.\d+)? m?s\b", "in [DURATION]"),
    // TIME is right-aligned, so a two-digit duration also moves its header and neighbours.
    (r"(?m) +\d+ ms$", "  [MS] ms"),
    (r"(?m) +TIME$", "  TIME"),
    (
        r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?",
        "[TIMESTAMP]",
    ),
];

/// Pins `outcome` as snapshot `name` with [`FILTERS`] applied.
#[track_caller]
fn snapshot(name: &str, outcome: &Outcome) {
    insta::with_settings!({filters => FILTERS.to_vec()}, {
        insta::assert_snapshot!(name, outcome.snapshot());
    });
}

/// Runs `ARGS --format json` and checks the error's `code` and `exit_code`; unlike
/// [`assert_error_code`], for commands that may touch a database.
#[track_caller]
fn assert_json_error(ws: &Workspace, args: &[&str], code: &str, exit: i32) {
    let mut json_args = vec!["--format", "json"];
    json_args.extend_from_slice(args);
    let outcome = run(ws, &json_args).assert_code(exit);
    // Commands that run migrations print JSON Lines events, the error as the last one; the
    // others print one `{"error": …}` object. Both hold the error under `error`.
    let last = outcome.stdout.lines().last().unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(last).expect("a JSON line");
    assert_eq!(json["format_version"], 1, "{json}");
    let error = &json["error"];
    assert_eq!(error["code"], code, "{json}");
    assert_eq!(error["exit_code"], exit, "{json}");
}

/// Writes `bytes` to `relative` in `ws`, creating directories.
fn write(ws: &Workspace, relative: &str, bytes: impl AsRef<[u8]>) {
    let path = ws.path().join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
}

/// `fixtures/single` (a PostgreSQL set) with `line` added to its `[package.metadata.migrate]`.
fn single_with_config(line: &str) -> Workspace {
    let ws = Workspace::copy("single");
    let manifest = ws.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let edited = text.replace(
        "dialect = \"postgres\"\n",
        &format!("dialect = \"postgres\"\n{line}\n"),
    );
    assert_ne!(edited, text, "fixtures/single's configuration changed");
    std::fs::write(&manifest, edited).unwrap();
    ws
}

/// The newest migration of `fixtures/single`.
const SINGLE_NEWEST: &str = "migrations/20240102090000_add_email_to_users";

// ---------------------------------------------------------------------------------------------
// Migration files: contents, encodings, links
// ---------------------------------------------------------------------------------------------

/// A 0-byte up script is a scaffold nobody filled in: refused when the set is read, so `up`
/// can never record a migration that did nothing.
#[test]
fn empty_up_script_is_refused() {
    let ws = Workspace::copy("single");
    write(&ws, &format!("{SINGLE_NEWEST}/up.sql"), "");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "empty-migration");
    assert!(
        outcome
            .stderr
            .contains(&format!("--> {SINGLE_NEWEST}/up.sql")),
        "{}",
        outcome.stderr
    );
    insta::assert_snapshot!("empty_up_script", outcome.snapshot());
}

/// Whitespace, a byte order mark and stray `;` are no SQL either (sqlx layout here).
#[test]
fn up_script_of_whitespace_and_semicolons_is_refused() {
    let ws = Workspace::copy("sqlx-style");
    write(
        &ws,
        "migrations/20240201000000_index_notes.up.sql",
        "\u{feff}\n  ;\r\n\t;;\n",
    );
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "empty-migration");
    insta::assert_snapshot!("whitespace_up_script", outcome.snapshot());
}

/// The decision's other half: an up script of only comments is accepted. Real histories use
/// one as a deliberate no-op (vaultwarden's SQLite tree: "Integer size in SQLite is already
/// i64, so we don't need to do anything"), and every tool's scaffold (ours, diesel's, sqlx's)
/// is one, so `new` followed by `list` must keep working.
#[test]
fn comment_only_up_script_is_accepted() {
    let ws = Workspace::copy("single");
    write(
        &ws,
        &format!("{SINGLE_NEWEST}/up.sql"),
        "-- Nothing to do on PostgreSQL: the column exists since create_users.\n/* kept so versions match the SQLite tree */\n",
    );
    let outcome = run(&ws, &["list", "-v"]).assert_code(0);
    insta::assert_snapshot!("comment_only_up_script", outcome.snapshot());
}

/// A script saved as UTF-16 ("Unicode" in Windows editors) is named as such, not as a stray
/// Latin-1 byte.
#[test]
fn utf16_script_is_named_as_utf16() {
    let ws = Workspace::copy("single");
    let mut bytes = vec![0xff, 0xfe];
    for unit in "SELECT 1;\n".encode_utf16() {
        bytes.extend(unit.to_le_bytes());
    }
    write(&ws, &format!("{SINGLE_NEWEST}/up.sql"), bytes);
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "non-utf8-sql");
    assert!(outcome.stderr.contains("UTF-16"), "{}", outcome.stderr);
    insta::assert_snapshot!("utf16_script", outcome.snapshot());
}

/// `up.sql` that is a directory.
#[test]
fn up_sql_that_is_a_directory() {
    let ws = Workspace::copy("single");
    let up = ws.path().join(SINGLE_NEWEST).join("up.sql");
    std::fs::remove_file(&up).unwrap();
    std::fs::create_dir(&up).unwrap();
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "unreadable-file");
    insta::assert_snapshot!("up_sql_is_a_directory", outcome.snapshot());
}

/// `up.sql` as a symbolic link to a file that is gone: a broken file, not a missing one (which
/// would blame `down.sql` for having no `up.sql`).
#[test]
fn up_sql_that_is_a_dangling_symlink() {
    let ws = Workspace::copy("single");
    let up = ws.path().join(SINGLE_NEWEST).join("up.sql");
    std::fs::remove_file(&up).unwrap();
    std::os::unix::fs::symlink("../shared/add_email.sql", &up).unwrap();
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "unreadable-file");
    insta::assert_snapshot!("up_sql_dangling_symlink", outcome.snapshot());
}

/// A symbolic link loop (and a link to nothing) among the migrations: named as a broken link,
/// not as a badly named migration. Links under a dotfile name are ignored like any dotfile.
#[test]
fn migration_entry_that_is_a_symlink_loop() {
    let ws = Workspace::copy("single");
    let migrations = ws.path().join("migrations");
    std::os::unix::fs::symlink(".keep-link", migrations.join(".keep-link")).unwrap();
    run(&ws, &["list"]).assert_code(0);
    std::os::unix::fs::symlink(
        "20240103000000_loop",
        migrations.join("20240103000000_loop"),
    )
    .unwrap();
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "unreadable-file");
    insta::assert_snapshot!("symlink_loop", outcome.snapshot());

    std::fs::remove_file(migrations.join("20240103000000_loop")).unwrap();
    std::os::unix::fs::symlink(
        "/nonexistent/shared",
        migrations.join("20240103000000_shared"),
    )
    .unwrap();
    let dangling = run(&ws, &["list"]).assert_code(2);
    assert!(
        dangling
            .stderr
            .contains("broken symbolic link to `/nonexistent/shared`: its target does not exist"),
        "{}",
        dangling.stderr
    );
}

/// A stray file in a sqlx-style set: the hint shows the sqlx pattern, not the directory one.
#[test]
fn unknown_file_in_a_sqlx_set() {
    let ws = Workspace::copy("sqlx-style");
    write(&ws, "migrations/notes.txt", "to do: index tags\n");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "bad-migration-name");
    assert!(
        outcome.stderr.contains("<version>_<name>.sql"),
        "{}",
        outcome.stderr
    );
    insta::assert_snapshot!("unknown_file_sqlx", outcome.snapshot());
}

/// sqlx: a `.down.sql` beside a simple `.sql` (sqlx would run the simple one as an up script
/// and never see the down).
#[test]
fn sqlx_down_beside_a_simple_script() {
    let ws = Workspace::copy("sqlx-style");
    let migrations = ws.path().join("migrations");
    std::fs::rename(
        migrations.join("20240201000000_index_notes.up.sql"),
        migrations.join("20240201000000_index_notes.sql"),
    )
    .unwrap();
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "down-without-up");
    insta::assert_snapshot!("sqlx_down_beside_simple", outcome.snapshot());
}

// ---------------------------------------------------------------------------------------------
// Configuration: more keys and values, `.env`
// ---------------------------------------------------------------------------------------------

/// `sandbox` with a value that is no sandbox; a misspelt `sandbox` key is suggested.
#[test]
fn sandbox_that_is_not_a_kind() {
    let ws = single_with_config("sandbox = \"vm\"");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "bad-config");
    insta::assert_snapshot!("bad_sandbox", outcome.snapshot());

    let ws = single_with_config("sandbx = \"local\"");
    let typo = run(&ws, &["list"]).assert_code(2);
    assert!(
        typo.stderr.contains("did you mean `sandbox`?"),
        "{}",
        typo.stderr
    );
}

/// `image` that Docker would refuse, caught when the configuration is read rather than when a
/// container is started.
#[test]
fn image_that_is_not_a_docker_reference() {
    let ws = single_with_config("image = \"Postgres 17\"");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "bad-config");
    insta::assert_snapshot!("bad_image", outcome.snapshot());
}

#[test]
fn layout_that_is_not_known() {
    let ws = single_with_config("layout = \"liquibase\"");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "bad-config");
    insta::assert_snapshot!("bad_layout", outcome.snapshot());
}

#[test]
fn history_that_is_not_known() {
    let ws = single_with_config("history = \"liquibase\"");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "bad-config");
    assert!(
        outcome.stderr.contains("`history` holds"),
        "the hint should say what `history` holds: {}",
        outcome.stderr
    );
    insta::assert_snapshot!("bad_history", outcome.snapshot());
}

#[test]
fn database_url_env_that_is_not_a_variable_name() {
    let ws = single_with_config("database-url-env = \"APP DATABASE URL\"");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "bad-config");
    insta::assert_snapshot!("bad_database_url_env", outcome.snapshot());
}

#[test]
fn dir_that_is_empty_in_config() {
    let ws = single_with_config("dir = \"\"");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "bad-config");
    insta::assert_snapshot!("empty_dir_setting", outcome.snapshot());
}

/// `dir` naming a file.
#[test]
fn dir_in_config_that_is_a_file() {
    let ws = single_with_config("dir = \"src/lib.rs\"");
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "unreadable-directory");
    insta::assert_snapshot!("dir_setting_is_a_file", outcome.snapshot());
}

/// `migrate = "yes"` under `[package.metadata]`.
#[test]
fn migrate_metadata_that_is_not_a_table() {
    let ws = Workspace::copy("single");
    let manifest = ws.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let edited = text.replace(
        "[package.metadata.migrate]\ndialect = \"postgres\"\n",
        "[package.metadata]\nmigrate = \"yes\"\n",
    );
    assert_ne!(edited, text, "fixtures/single's configuration changed");
    std::fs::write(&manifest, edited).unwrap();
    let outcome = run(&ws, &["list"]).assert_code(2);
    assert_error_code(&ws, &["list"], "bad-config");
    insta::assert_snapshot!("metadata_not_a_table", outcome.snapshot());
}

/// A `.env` line that does not parse: pointed at by its line number (not the column in it),
/// and not shown, as it may hold a password.
#[test]
fn dotenv_with_a_line_that_does_not_parse() {
    let ws = Workspace::copy("single");
    write(
        &ws,
        ".env",
        "# local settings\nRUST_LOG=info\n\nDATABASE_URL='postgres://app:Zq9-secret@localhost/app\n",
    );
    let outcome = run(&ws, &["status"]).assert_code(2);
    assert_error_code(&ws, &["status"], "bad-config");
    assert!(outcome.stderr.contains("--> .env:4"), "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("Zq9-secret"), "{}", outcome.stderr);
    insta::assert_snapshot!("dotenv_bad_line", outcome.snapshot());
}

// ---------------------------------------------------------------------------------------------
// Database URLs
// ---------------------------------------------------------------------------------------------

/// `status --database-url URL` in `fixtures/single` (a PostgreSQL set): every URL here is
/// refused before any connection is tried.
#[track_caller]
fn bad_url(url: &str, code: &str, name: &str) -> Outcome {
    let ws = Workspace::copy("single");
    let args = ["status", "--database-url", url];
    let outcome = run(&ws, &args).assert_code(2);
    assert_error_code(&ws, &args, code);
    insta::assert_snapshot!(name, outcome.snapshot());
    outcome
}

#[test]
fn url_with_an_unknown_scheme() {
    let outcome = bad_url(
        "oracle://app:Zq9-secret@db/app",
        "bad-database-url",
        "url_unknown_scheme",
    );
    assert!(!outcome.stderr.contains("Zq9-secret"), "{}", outcome.stderr);
}

/// Not a URL at all (here a bare password pasted by mistake): none of it is shown.
#[test]
fn url_without_a_scheme() {
    let outcome = bad_url("Zq9-secret", "bad-database-url", "url_no_scheme");
    assert!(!outcome.stderr.contains("Zq9"), "{}", outcome.stderr);
}

/// `--database-url ""` (an unset variable expanded by a shell).
#[test]
fn url_that_is_empty() {
    bad_url("", "bad-database-url", "url_empty");
}

#[test]
fn url_without_a_host() {
    bad_url(
        "postgres://app:Zq9-secret@/app",
        "bad-database-url",
        "url_no_host",
    );
}

#[test]
fn url_with_a_port_out_of_range() {
    bad_url(
        "postgres://app@localhost:65536/app",
        "bad-database-url",
        "url_port_out_of_range",
    );
}

/// A `%` in a password that was not percent-encoded: refused instead of sent as a wrong
/// password.
#[test]
fn url_with_a_bad_percent_escape() {
    let outcome = bad_url(
        "postgres://app:50%off@localhost/app",
        "bad-database-url",
        "url_bad_percent_escape",
    );
    assert!(!outcome.stderr.contains("50%off"), "{}", outcome.stderr);
}

/// An `sslmode` typo is a bad URL (exit 2), not an unreachable server (exit 3).
#[test]
fn url_with_an_unknown_sslmode() {
    bad_url(
        "postgres://app@localhost/app?sslmode=required",
        "bad-database-url",
        "url_unknown_sslmode",
    );
}

/// A bad URL in `.env` is located there.
#[test]
fn url_in_dotenv_with_an_unknown_scheme() {
    let ws = Workspace::copy("single");
    write(&ws, ".env", "DATABASE_URL=postgress://app@localhost/app\n");
    let outcome = run(&ws, &["status"]).assert_code(2);
    assert_error_code(&ws, &["status"], "bad-database-url");
    assert!(
        outcome.stderr.contains("--> DATABASE_URL in .env"),
        "{}",
        outcome.stderr
    );
    insta::assert_snapshot!("url_in_dotenv", outcome.snapshot());
}

/// A SQLite file in a directory that does not exist: `up` creates files, not directories.
#[test]
fn sqlite_url_in_a_missing_directory() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let args = ["up", "--database-url", "sqlite:data/app.db"];
    let outcome = run(&ws, &args).assert_code(3);
    assert_json_error(&ws, &args, "database-unreachable", 3);
    assert!(!ws.path().join("data").exists());
    insta::assert_snapshot!("sqlite_missing_directory", outcome.snapshot());
}

// ---------------------------------------------------------------------------------------------
// Command-line arguments
// ---------------------------------------------------------------------------------------------

/// Usage errors caught by the argument parser: exit 2, before anything is read or connected.
#[track_caller]
fn usage_error(fixture: &str, args: &[&str], name: &str) -> Outcome {
    let ws = Workspace::copy(fixture);
    let outcome = run_writing(&ws, args).assert_code(2);
    assert!(outcome.stderr.starts_with("error: "), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("--> command line"),
        "{}",
        outcome.stderr
    );
    assert_error_code(&ws, args, "usage");
    insta::assert_snapshot!(name, outcome.snapshot());
    outcome
}

/// A URL pasted where no argument is expected: the parser echoes the argument, and the
/// password in it must not be shown.
#[test]
fn url_given_as_a_bare_argument() {
    let url = "postgres://app:s3cret-pass@db.internal/app";
    let outcome = usage_error("sqlite-lifecycle", &["up", url], "url_as_bare_argument");
    assert!(
        !outcome.stderr.contains("s3cret-pass"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("app:***@db.internal"),
        "{}",
        outcome.stderr
    );
    let ws = Workspace::copy("sqlite-lifecycle");
    let json = run_writing(&ws, &["--format", "json", "up", url]);
    assert!(!json.stdout.contains("s3cret-pass"), "{}", json.stdout);
}

/// `up --all` is `down`'s flag: the hint says what `up` does, not clap's "similar argument"
/// `--allow-missing` (which would apply past a missing file).
#[test]
fn up_all_is_not_pointed_at_allow_missing() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let outcome = run_writing(&ws, &["up", "--all"]).assert_code(2);
    assert!(
        !outcome.stderr.contains("--allow-missing")
            && outcome
                .stderr
                .contains("`up` applies every pending migration without a flag"),
        "{}",
        outcome.stderr
    );
}

/// `--format github` (workflow annotations) is `lint`'s: other commands refuse it rather than
/// print human output a CI step would not read as annotations.
#[test]
fn format_github_outside_lint_is_refused() {
    let ws = Workspace::copy("sqlite-lifecycle");
    for args in [
        &["--format", "github", "up"][..],
        &["status", "--format", "github"],
    ] {
        let outcome = run_writing(&ws, args).assert_code(2);
        assert!(
            outcome.stderr.contains("`--format github` is for `lint`"),
            "{args:?}: {}",
            outcome.stderr
        );
    }
}

/// `--format json` holds for arguments that do not parse: one error object on stdout, nothing
/// on stderr, whichever argument is wrong and wherever the flag stands.
#[test]
fn usage_error_as_json() {
    let ws = Workspace::copy("sqlite-lifecycle");
    for args in [
        &["--format", "json", "up", "--frobnicate"][..],
        &["up", "--format=json", "--lock-timeout", "abc"],
        &["frobnicate", "--format", "json"],
        &["--format", "json"],
    ] {
        let outcome = run_writing(&ws, args).assert_code(2);
        assert!(outcome.stderr.is_empty(), "{args:?}: {}", outcome.stderr);
        let json = outcome.json();
        assert_eq!(json["error"]["code"], "usage", "{args:?}: {json}");
        assert_eq!(json["error"]["exit_code"], 2, "{args:?}: {json}");
        assert!(
            json["error"]["hint"]
                .as_str()
                .is_some_and(|h| !h.is_empty()),
            "{args:?}: {json}"
        );
    }
    let json = run_writing(&ws, &["--format", "json", "up", "--databse-url", "x"])
        .assert_code(2)
        .json();
    assert!(
        json["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("'--database-url'")),
        "{json}"
    );
}

#[test]
fn up_to_an_unknown_version() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let args = [
        "up",
        "--database-url",
        "sqlite:app.db",
        "--to",
        "20990101000000",
    ];
    let outcome = run(&ws, &args).assert_code(2);
    assert_json_error(&ws, &args, "unknown-version", 2);
    // Refused before connecting: not even the database file was created.
    assert!(!ws.path().join("app.db").exists());
    insta::assert_snapshot!("up_to_unknown_version", outcome.snapshot());
}

/// `down -n 0` (and `redo -n 0`) asks for nothing, so it is refused rather than a silent
/// success.
#[test]
fn down_count_of_zero() {
    usage_error(
        "sqlite-lifecycle",
        &["down", "-n", "0", "--database-url", "sqlite:app.db"],
        "down_count_zero",
    );
    let ws = Workspace::copy("sqlite-lifecycle");
    run_writing(&ws, &["redo", "-n", "0", "--database-url", "sqlite:app.db"]).assert_code(2);
}

#[test]
fn down_count_with_all() {
    usage_error(
        "sqlite-lifecycle",
        &[
            "down",
            "-n",
            "2",
            "--all",
            "--database-url",
            "sqlite:app.db",
        ],
        "down_count_with_all",
    );
}

#[test]
fn resolve_without_an_outcome() {
    usage_error(
        "sqlite-lifecycle",
        &[
            "resolve",
            "20240101000000",
            "--database-url",
            "sqlite:app.db",
        ],
        "resolve_without_outcome",
    );
}

#[test]
fn check_reversibility_that_does_not_parse() {
    usage_error(
        "sqlite-lifecycle",
        &["check", "--reversibility", "last:x"],
        "check_reversibility_last_x",
    );
}

#[test]
fn lock_timeout_that_is_not_a_number() {
    usage_error(
        "sqlite-lifecycle",
        &[
            "up",
            "--lock-timeout",
            "abc",
            "--database-url",
            "sqlite:app.db",
        ],
        "lock_timeout_not_a_number",
    );
}

#[test]
fn new_without_a_name() {
    usage_error("single", &["new"], "new_without_name");
}

/// `diff --from yesterday`: a source that is none of history, history@VERSION, database,
/// empty or a URL.
#[test]
fn diff_from_an_unknown_source() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let args = ["diff", "--from", "yesterday"];
    let outcome = run_writing(&ws, &args).assert_code(2);
    assert_error_code(&ws, &args, "bad-argument");
    insta::assert_snapshot!("diff_unknown_source", outcome.snapshot());
}

#[test]
fn diff_from_history_at_an_unknown_version() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let args = [
        "diff",
        "--from",
        "history@20990101000000",
        "--to",
        "history",
    ];
    let outcome = run_writing(&ws, &args).assert_code(2);
    assert_error_code(&ws, &args, "unknown-version");
    insta::assert_snapshot!("diff_unknown_version", outcome.snapshot());
}

// ---------------------------------------------------------------------------------------------
// Database states: SQLite
// ---------------------------------------------------------------------------------------------

/// `sqlite:<ws>/<file>`, for the test's own connections (the binary gets `sqlite:<file>`,
/// relative to the workspace, so snapshots stay short).
fn sqlite_url(ws: &Workspace, file: &str) -> String {
    format!("sqlite:{}", ws.path().join(file).display())
}

fn sqlite_execute(url: &str, sql: &str) {
    use sqlx::Connection;
    let url = format!("{url}?mode=rwc");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
}

/// An application table named like the history table, with other columns: refused, and left
/// as it was.
#[test]
fn sqlite_table_named_like_the_history_table() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let url = sqlite_url(&ws, "app.db");
    sqlite_execute(
        &url,
        "CREATE TABLE _cargo_migrate (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO _cargo_migrate VALUES (1, 'mine')",
    );
    let args = ["up", "--database-url", "sqlite:app.db"];
    let outcome = run(&ws, &args).assert_code(2);
    assert_json_error(&ws, &args, "history-table-mismatch", 2);
    assert_eq!(support::sqlite_tables(&url), ["_cargo_migrate"]);
    assert_eq!(
        support::sqlite_query(&url, "SELECT note FROM _cargo_migrate"),
        [[Some("mine".to_string())]]
    );
    insta::assert_snapshot!("sqlite_history_table_mismatch", outcome.snapshot());
}

/// `fixtures/sqlite-lifecycle` applied to `app.db`, then its newest migration deleted.
fn applied_then_newest_deleted() -> Workspace {
    let ws = Workspace::copy("sqlite-lifecycle");
    run(&ws, &["up", "--database-url", "sqlite:app.db"]).assert_code(0);
    std::fs::remove_dir_all(ws.path().join("migrations/20240104000000_create_tags")).unwrap();
    ws
}

/// A history row whose file is gone: `status` shows it as missing (exit 0: it reports), and
/// `status --exit-code` fails (exit 1) for a deploy gate.
#[test]
fn status_of_a_history_row_whose_file_is_gone() {
    let ws = applied_then_newest_deleted();
    let outcome = run(&ws, &["status", "--database-url", "sqlite:app.db"]).assert_code(0);
    assert!(outcome.stdout.contains("missing"), "{}", outcome.stdout);
    snapshot("status_missing_file", &outcome);
    let args = ["status", "--exit-code", "--database-url", "sqlite:app.db"];
    let gate = run(&ws, &args).assert_code(1);
    snapshot("status_exit_code_missing_file", &gate);
}

/// `down` reaching a migration whose file is gone cannot revert it.
#[test]
fn down_of_a_migration_whose_file_is_gone() {
    let ws = applied_then_newest_deleted();
    let args = ["down", "--database-url", "sqlite:app.db"];
    let outcome = run(&ws, &args).assert_code(1);
    assert_json_error(&ws, &args, "missing-migration-file", 1);
    snapshot("down_missing_file", &outcome);
}

/// `resolve --applied` of a history row whose file is gone: there is nothing to checksum.
#[test]
fn resolve_applied_of_a_migration_whose_file_is_gone() {
    let ws = applied_then_newest_deleted();
    let args = [
        "resolve",
        "20240104000000",
        "--applied",
        "--database-url",
        "sqlite:app.db",
    ];
    let outcome = run(&ws, &args).assert_code(1);
    assert_json_error(&ws, &args, "missing-migration-file", 1);
    snapshot("resolve_applied_missing_file", &outcome);
}

/// A URL naming a file that is not a SQLite database: located at the URL, with a hint that
/// fits (not "check the privileges").
#[test]
fn sqlite_file_that_is_not_a_database() {
    let ws = Workspace::copy("sqlite-lifecycle");
    write(
        &ws,
        "app.db",
        "name,email\nada,ada@example.com\n".repeat(20),
    );
    let args = ["status", "--database-url", "sqlite:app.db"];
    let outcome = run(&ws, &args).assert_code(3);
    assert_json_error(&ws, &args, "database-unreachable", 3);
    insta::assert_snapshot!("sqlite_not_a_database", outcome.snapshot());
}

#[test]
fn sqlite_url_that_is_a_directory() {
    let ws = Workspace::copy("sqlite-lifecycle");
    std::fs::create_dir(ws.path().join("app.db")).unwrap();
    let args = ["up", "--database-url", "sqlite:app.db"];
    // Refused when the URL is read (exit 2): a path that is no file is a wrong URL, not an
    // unreachable database.
    let outcome = run(&ws, &args).assert_code(2);
    assert_json_error(&ws, &args, "bad-database-url", 2);
    insta::assert_snapshot!("sqlite_url_is_a_directory", outcome.snapshot());
}

// ---------------------------------------------------------------------------------------------
// Database states: PostgreSQL (a throw-away cluster per test; skipped without server binaries)
// ---------------------------------------------------------------------------------------------

/// A database that does not exist on a server that does.
#[test]
fn postgres_database_that_does_not_exist() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let missing = url.replacen("/app?", "/nosuch?", 1);
    assert_ne!(missing, url);
    let ws = Workspace::copy("single");
    let args = ["status", "--database-url", &missing];
    let outcome = run(&ws, &args).assert_code(3);
    assert_json_error(&ws, &args, "database-unreachable", 3);
    assert!(
        outcome.stderr.contains("\"nosuch\""),
        "the server's reason names the database: {}",
        outcome.stderr
    );
    snapshot("postgres_no_such_database", &outcome);
}

/// A user who may connect but not create the history table: cargo-migrate's own statement is
/// refused (exit 2, insufficient-privilege: retrying cannot fix it), the server's reason is
/// shown and the hint names the GRANT.
#[test]
fn postgres_user_without_create_privilege() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    pg.execute(
        &url,
        "CREATE ROLE reader LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    );
    let reader = url.replacen("postgres://postgres@", "postgres://reader@", 1);
    assert_ne!(reader, url);
    let ws = Workspace::copy("single");
    let args = ["up", "--database-url", &reader];
    let outcome = run(&ws, &args).assert_code(2);
    assert_json_error(&ws, &args, "insufficient-privilege", 2);
    assert!(
        outcome.stderr.contains("permission denied"),
        "{}",
        outcome.stderr
    );
    assert!(pg.tables(&url).is_empty(), "nothing was created");
    snapshot("postgres_no_create_privilege", &outcome);
}

/// `status` on a SQLite file that does not exist: `status` only reads, so it does not create
/// the file, and says which commands would.
#[test]
fn status_of_a_sqlite_file_that_does_not_exist() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let args = ["status", "--database-url", "sqlite:app.db"];
    let outcome = run(&ws, &args).assert_code(3);
    assert_json_error(&ws, &args, "database-unreachable", 3);
    assert!(!ws.path().join("app.db").exists());
    insta::assert_snapshot!("sqlite_status_missing_file", outcome.snapshot());
}

/// `down` reaching a migration without a down script (sqlx simple files): exit 1, nothing
/// reverted.
#[test]
fn down_past_an_irreversible_migration() {
    let ws = Workspace::copy("sqlx-style");
    let migrations = ws.path().join("migrations");
    std::fs::remove_file(migrations.join("20240201000000_index_notes.down.sql")).unwrap();
    std::fs::rename(
        migrations.join("20240201000000_index_notes.up.sql"),
        migrations.join("20240201000000_index_notes.sql"),
    )
    .unwrap();
    run(&ws, &["up", "--database-url", "sqlite:app.db"]).assert_code(0);
    let args = ["down", "--database-url", "sqlite:app.db"];
    let outcome = run(&ws, &args).assert_code(1);
    assert_json_error(&ws, &args, "irreversible-migration", 1);
    assert_eq!(
        support::sqlite_query(
            &sqlite_url(&ws, "app.db"),
            "SELECT count(*) || '' FROM _cargo_migrate"
        ),
        [[Some("2".to_string())]],
        "nothing was reverted"
    );
    insta::assert_snapshot!("down_irreversible", outcome.snapshot());
}
