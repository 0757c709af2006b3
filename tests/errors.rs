//! Bad input: every way a user can hand cargo-migrate a broken workspace, configuration or
//! command line. Each case runs the real binary, expects exit code 2, pins the whole output
//! with a snapshot, and (for `new`) checks that nothing was written.
//!
//! The broken workspaces live in `fixtures/broken/<case>/`; cases that need no special files use
//! the good fixtures or an empty directory. Permission cases create their state at test time.

mod support;

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

#[test]
fn dbmate_style_file_is_refused() {
    let ws = Workspace::copy("broken/dbmate-style");
    let outcome = run(&ws, &["list"]);
    let outcome = outcome.assert_code(2);
    assert_error_code(&ws, &["list"], "unsupported-layout");
    insta::assert_snapshot!("dbmate_style", outcome.snapshot());
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
    let ws = Workspace::copy("single");
    let outcome = run(&ws, &["list", "--frobnicate"]);
    let outcome = outcome.assert_code(2);
    insta::assert_snapshot!("usage_unknown_flag", outcome.snapshot());
}

#[test]
fn unknown_dialect_flag() {
    let ws = Workspace::copy("single");
    let outcome = run(&ws, &["--dialect", "oracle", "list"]);
    let outcome = outcome.assert_code(2);
    insta::assert_snapshot!("usage_unknown_dialect", outcome.snapshot());
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
