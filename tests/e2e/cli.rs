//! End-to-end tests of `list`, `new` and the command frame on real Cargo workspaces.

use crate::support;

use std::process::Command;

use support::{Workspace, run_in};

#[test]
fn list_single_crate() {
    let ws = Workspace::copy("single");
    insta::assert_snapshot!("list_single", ws.run(&["list"]).assert_code(0).snapshot());
}

#[test]
fn list_workspace_with_two_sets() {
    let ws = Workspace::copy("multi");
    insta::assert_snapshot!("list_multi", ws.run(&["list"]).assert_code(0).snapshot());
}

#[test]
fn list_json_has_the_documented_fields() {
    let ws = Workspace::copy("multi");
    let json = ws.run(&["list", "--format", "json"]).assert_code(0).json();
    insta::assert_json_snapshot!("list_multi_json", json);
    let sets = json["sets"].as_array().unwrap();
    assert_eq!(sets.len(), 2);
    for set in sets {
        for key in [
            "package",
            "dir",
            "layout",
            "dialect",
            "migrations",
            "reversible",
            "no_transaction",
        ] {
            assert!(set.get(key).is_some(), "missing {key} in {set}");
        }
    }
    // Workspace default, overridden per package.
    assert_eq!(sets[0]["history_table"], "schema_history");
    assert_eq!(sets[1]["history_table"], "billing_history");
    // Inferred from sqlx's `sqlite` feature.
    assert_eq!(sets[0]["dialect_source"], "dependencies");
}

#[test]
fn list_verbose_shows_each_migration() {
    let ws = Workspace::copy("diesel-style");
    insta::assert_snapshot!(
        "list_diesel_verbose",
        ws.run(&["list", "-v"]).assert_code(0).snapshot()
    );
}

#[test]
fn list_sqlx_style_counts_no_transaction_directive() {
    let ws = Workspace::copy("sqlx-style");
    let json = ws.run(&["list", "--format", "json"]).assert_code(0).json();
    let set = &json["sets"][0];
    assert_eq!(set["layout"], "sqlx");
    assert_eq!(set["migrations"], 2);
    assert_eq!(set["reversible"], 2);
    assert_eq!(set["no_transaction"], 1);
}

#[test]
fn list_package_filter() {
    let ws = Workspace::copy("multi");
    let json = ws
        .run(&["list", "-p", "billing", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(json["sets"].as_array().unwrap().len(), 1);
    assert_eq!(json["sets"][0]["package"], "billing");
}

#[test]
fn list_workspace_root_set() {
    let ws = Workspace::copy("root-set");
    let json = ws.run(&["list", "--format", "json"]).assert_code(0).json();
    assert_eq!(json["sets"][0]["package"], serde_json::Value::Null);
    assert_eq!(json["sets"][0]["dir"], "migrations");
    assert_eq!(json["sets"][0]["dialect"], "sqlite");
}

#[test]
fn list_from_a_member_directory_and_with_manifest_path() {
    let ws = Workspace::copy("multi");
    let member = ws.path().join("crates/billing");
    let from_member = run_in(&member, &["list", "--format", "json"])
        .assert_code(0)
        .json();
    let from_root = ws.run(&["list", "--format", "json"]).assert_code(0).json();
    // The member's directory selects the member, as in cargo; --workspace all of them.
    assert_eq!(from_member["sets"].as_array().unwrap().len(), 1);
    assert_eq!(from_member["sets"][0]["package"], "billing");
    let whole = run_in(&member, &["list", "--workspace", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(whole, from_root);
    let elsewhere = Workspace::empty();
    let manifest = ws.path().join("Cargo.toml");
    let with_manifest = elsewhere
        .run(&[
            "list",
            "--manifest-path",
            manifest.to_str().unwrap(),
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(with_manifest, from_root);
}

#[test]
fn list_without_cargo_using_dir() {
    let ws = Workspace::copy("single");
    let outcome = ws
        .run(&[
            "list",
            "--dir",
            "migrations",
            "--dialect",
            "postgres",
            "--format",
            "json",
        ])
        .assert_code(0);
    let set = &outcome.json()["sets"][0];
    assert_eq!(set["package"], serde_json::Value::Null);
    assert_eq!(set["migrations"], 2);
    assert_eq!(set["dialect_source"], "flag");
}

#[test]
fn list_empty_workspace_says_how_to_start() {
    let ws = Workspace::copy("multi");
    std::fs::remove_dir_all(ws.path().join("crates/accounts/migrations")).unwrap();
    std::fs::write(
        ws.path().join("crates/billing/Cargo.toml"),
        "[package]\nname = \"billing\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    )
    .unwrap();
    insta::assert_snapshot!("list_empty", ws.run(&["list"]).assert_code(0).snapshot());
}

/// Cargo runs `cargo-migrate migrate ARGS` for `cargo migrate ARGS`.
#[test]
fn runs_as_a_cargo_subcommand() {
    let ws = Workspace::copy("single");
    let direct = ws.run(&["list", "--format", "json"]).assert_code(0).json();
    let as_cargo_passes_it = ws
        .run(&["migrate", "list", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(direct, as_cargo_passes_it);

    // And through Cargo itself, with the binary's directory on PATH.
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["migrate", "list", "--format", "json"])
        .current_dir(ws.path())
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let through_cargo: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(through_cargo, direct);
}

#[test]
fn help_of_every_command_has_examples() {
    let ws = Workspace::empty();
    let commands = [
        "list",
        "new",
        "status",
        "up",
        "down",
        "redo",
        "reset",
        "resolve",
        "baseline",
        "db",
        "completions",
        "man",
    ];
    let mut every: Vec<Vec<&str>> = vec![vec!["--help"]];
    every.extend(commands.iter().map(|c| vec![*c, "--help"]));
    for args in &every {
        let outcome = ws.run(args).assert_code(0);
        assert!(
            outcome.stdout.contains("Examples:"),
            "{args:?}: {}",
            outcome.stdout
        );
    }
    insta::assert_snapshot!("help", ws.run(&["--help"]).snapshot());
}

/// A command's `-h` lists its own options first; the options every command takes follow
/// under their own heading.
#[test]
fn short_help_shows_the_command_options_before_the_global_ones() {
    let ws = Workspace::empty();
    let help = ws.run(&["up", "-h"]).assert_code(0).stdout;
    let own = help.find("\nOptions:\n").expect(&help);
    let global = help.find("\nGlobal Options:\n").expect(&help);
    assert!(own < global, "{help}");
    let dry_run = help.find("--dry-run").expect(&help);
    let manifest = help.find("--manifest-path").expect(&help);
    assert!(
        own < dry_run && dry_run < global && global < manifest,
        "{help}"
    );
    insta::assert_snapshot!("up_short_help", help);
}

#[test]
fn colour_is_off_in_pipes_and_follows_the_flags() {
    let ws = Workspace::copy("single");
    let escape = "\u{1b}[";
    assert!(!ws.run(&["list"]).stdout.contains(escape));
    assert!(
        ws.run(&["list", "--color", "always"])
            .stdout
            .contains(escape)
    );
    let forced_by_cargo = support::command()
        .current_dir(ws.path())
        .args(["list"])
        .env("CARGO_TERM_COLOR", "always")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&forced_by_cargo.stdout).contains(escape));
    let no_color = support::command()
        .current_dir(ws.path())
        .args(["list", "--color", "auto"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&no_color.stdout).contains(escape));
}

// ---------------------------------------------------------------------------------------- new

#[test]
fn new_in_directory_layout() {
    let ws = Workspace::copy("single");
    let outcome = ws
        .run(&["new", "add_posts", "--format", "json"])
        .assert_code(0);
    let json = outcome.json();
    let created: Vec<&str> = json["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let version = json["version"].as_str().unwrap();
    assert_eq!(version.len(), 14);
    assert!(version > "20240102090000");
    assert_eq!(
        created,
        [
            format!("migrations/{version}_add_posts/up.sql"),
            format!("migrations/{version}_add_posts/down.sql")
        ]
    );
    let up = std::fs::read_to_string(ws.path().join(created[0])).unwrap();
    assert!(
        up.starts_with(&format!("-- add_posts ({version}, app, postgres)")),
        "{up}"
    );
    // The new migration is part of the set.
    let listed = ws.run(&["list", "--format", "json"]).json();
    assert_eq!(listed["sets"][0]["migrations"], 3);
    assert_eq!(listed["sets"][0]["newest"], version);
}

#[test]
fn new_human_output_lists_created_paths() {
    let ws = Workspace::copy("single");
    let outcome = ws.run(&["new", "add_posts"]).assert_code(0);
    // Status lines, like cargo's, go to stderr.
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", outcome.stderr);
    assert!(lines[0].trim_start().starts_with("Created migrations/"));
    assert!(lines[0].ends_with("_add_posts/up.sql"));
    assert!(
        ws.run(&["new", "add_more", "-q"])
            .assert_code(0)
            .stdout
            .is_empty()
    );
}

#[test]
fn new_versions_strictly_increase_within_one_second() {
    let ws = Workspace::copy("single");
    let mut versions = Vec::new();
    for name in ["first", "second", "third"] {
        let json = ws
            .run(&["new", name, "--format", "json"])
            .assert_code(0)
            .json();
        versions.push(json["version"].as_str().unwrap().to_string());
    }
    assert!(
        versions[0] < versions[1] && versions[1] < versions[2],
        "{versions:?}"
    );
}

#[test]
fn new_follows_sqlx_reversible_layout() {
    let ws = Workspace::copy("sqlx-style");
    let json = ws
        .run(&[
            "new",
            "create_tags",
            "--template",
            "create_table",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    let version = json["version"].as_str().unwrap();
    assert_eq!(
        json["created"],
        serde_json::json!([
            format!("migrations/{version}_create_tags.up.sql"),
            format!("migrations/{version}_create_tags.down.sql"),
        ])
    );
    let up = std::fs::read_to_string(
        ws.path()
            .join(format!("migrations/{version}_create_tags.up.sql")),
    )
    .unwrap();
    assert!(up.contains("CREATE TABLE tags"), "{up}");
    assert!(up.contains("INTEGER PRIMARY KEY AUTOINCREMENT"), "{up}");
}

#[test]
fn new_follows_sqlx_simple_layout_and_sequential_versions() {
    let ws = Workspace::copy("multi");
    let outcome = ws
        .run(&["-p", "billing", "new", "add_paid_at"])
        .assert_code(0);
    assert!(
        outcome
            .stderr
            .contains("crates/billing/db/migrations/3_add_paid_at.sql"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("only the up script"),
        "{}",
        outcome.stderr
    );
    assert!(
        !ws.path()
            .join("crates/billing/db/migrations/3_add_paid_at.down.sql")
            .exists()
    );
}

#[test]
fn new_follows_diesel_dashed_style() {
    let ws = Workspace::copy("diesel-style");
    // The newest (20240701000000) is plain digits; make the newest dashed to see the style kept.
    std::fs::remove_dir_all(ws.path().join("migrations/20240701000000_add_published")).unwrap();
    let json = ws
        .run(&["new", "add_slug", "--format", "json"])
        .assert_code(0)
        .json();
    let version = json["version"].as_str().unwrap();
    assert_eq!(version.len(), "2024-06-01-000000-0000".len(), "{version}");
    assert!(version.ends_with("-0000"));
    assert!(
        ws.path()
            .join(format!("migrations/{version}_add_slug/up.sql"))
            .is_file()
    );
}

#[test]
fn new_creates_a_packages_first_set() {
    let ws = Workspace::copy("multi");
    let json = ws
        .run(&[
            "-p",
            "web",
            "new",
            "create_sessions",
            "--dialect",
            "sqlite",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(json["dir"], "crates/web/migrations");
    let listed = ws
        .run(&["list", "-p", "web", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(listed["sets"][0]["migrations"], 1);
}

/// An index's migration name says what is indexed: `add_email_index` indexes the column
/// `email` of a table the name does not give (a placeholder, never the table `email`), and
/// `add_email_index_to_users` the column of `users`.
#[test]
fn new_index_template_reads_table_and_column_from_the_name() {
    let ws = Workspace::copy("multi");
    for (name, expected) in [
        (
            "add_email_index",
            "table_name_email_idx ON table_name (email)",
        ),
        (
            "add_email_index_to_users",
            "users_email_idx ON users (email)",
        ),
    ] {
        let json = ws
            .run(&[
                "-p",
                "web",
                "new",
                name,
                "-t",
                "create_index_concurrently",
                "--dialect",
                "postgres",
                "--format",
                "json",
            ])
            .assert_code(0)
            .json();
        let up = json["created"]
            .as_array()
            .and_then(|created| {
                created
                    .iter()
                    .find_map(|p| p.as_str()?.ends_with("up.sql").then_some(p))
            })
            .and_then(|p| p.as_str())
            .expect("an up.sql");
        let sql = std::fs::read_to_string(ws.path().join(up)).expect("read up.sql");
        assert!(sql.contains(expected), "{name}: {sql}");
    }
}

#[test]
fn new_sequential_in_an_empty_set() {
    let ws = Workspace::copy("multi");
    let json = ws
        .run(&[
            "-p",
            "web",
            "new",
            "init",
            "--dialect",
            "postgres",
            "--sequential",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(json["version"], "0001");
    let json = ws
        .run(&[
            "-p",
            "web",
            "new",
            "next",
            "--format",
            "json",
            "--dialect",
            "postgres",
        ])
        .assert_code(0)
        .json();
    assert_eq!(json["version"], "0002");
}

#[test]
fn new_uses_workspace_templates() {
    let ws = Workspace::copy("root-set");
    let json = ws
        .run(&["new", "add_flags", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(json["version"], "0002");
    let up = std::fs::read_to_string(ws.path().join("migrations/0002_add_flags/up.sql")).unwrap();
    assert_eq!(up, "-- team template: add_flags for sqlite\n");
    // A workspace-only template without down.sql makes an irreversible migration.
    let json = ws
        .run(&[
            "new",
            "create_users_table",
            "-t",
            "audit_table",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(
        json["created"],
        serde_json::json!(["migrations/0003_create_users_table/up.sql"])
    );
    let up = std::fs::read_to_string(ws.path().join("migrations/0003_create_users_table/up.sql"))
        .unwrap();
    assert!(up.starts_with("CREATE TABLE users_audit"), "{up}");
    // Built-in templates stay available next to the workspace's.
    ws.run(&[
        "new",
        "index_users_on_email",
        "-t",
        "create_index_concurrently",
    ])
    .assert_code(0);
}

/// A directory of the templates directory without `up.sql` (like this repository's
/// `templates/deploy/`, a Dockerfile and manifests) is not a template: `new` does not list it
/// and refuses it by name, writing nothing.
#[test]
fn new_refuses_a_templates_subdirectory_without_up_sql() {
    let ws = Workspace::copy("root-set");
    let deploy = ws.path().join("db-templates/deploy");
    std::fs::create_dir(&deploy).unwrap();
    std::fs::write(deploy.join("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(deploy.join("job.yaml"), "kind: Job\n").unwrap();
    let before = ws.files();
    let outcome = ws
        .run(&["new", "add_flags", "--template", "deploy"])
        .assert_code(2);
    assert!(
        outcome
            .stderr
            .contains("error: `deploy` is not a migration template: its directory has no up.sql"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("--> db-templates/deploy"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("available templates: add_column, audit_table,"),
        "{}",
        outcome.stderr
    );
    assert_eq!(ws.files(), before, "nothing may be written");
    let json = ws
        .run(&[
            "new",
            "add_flags",
            "--template",
            "deploy",
            "--format",
            "json",
        ])
        .assert_code(2)
        .json();
    assert_eq!(json["error"]["code"], "unknown-template");
}

#[test]
fn new_index_template_is_no_transaction() {
    let ws = Workspace::copy("single");
    ws.run(&[
        "new",
        "index_email_on_users",
        "-t",
        "create_index_concurrently",
    ])
    .assert_code(0);
    let json = ws.run(&["list", "--format", "json"]).json();
    assert_eq!(json["sets"][0]["no_transaction"], 1);
}

/// README's first command runs `cargo migrate -p orders up` in `example/`: with no URL, the
/// SQLite set's migrations are applied to its dev database (a SQLite file), nothing installed.
#[test]
fn readme_first_command_applies_the_example_sqlite_set() {
    let ws = Workspace::copy("../example");
    let up = ws
        .run(&["-p", "orders", "up", "--color", "never"])
        .assert_code(0);
    assert!(
        up.stderr.contains("Applied 20250115100000_create_orders"),
        "{}{}",
        up.stdout,
        up.stderr
    );
    ws.run(&["-p", "orders", "status", "--exit-code"])
        .assert_code(0);
    ws.run(&["-p", "orders", "db", "stop", "--purge"]);
}

/// `cargo migrate list -v` in `example/` shows both sets.
#[test]
fn bundled_example_lists_its_two_sets() {
    let ws = Workspace::copy("../example");
    insta::assert_snapshot!(
        "example_list_verbose",
        ws.run(&["list", "-v"]).assert_code(0).snapshot()
    );
}

/// A dialect given once with `--dialect` to a crate with no database dependency is recorded
/// in its Cargo.toml (formatting and comments kept), so the next `new` needs no flag.
#[test]
fn new_remembers_a_dialect_given_once() {
    let ws = Workspace::copy("new-by-library");
    let manifest = ws.path().join("crates/plain-app/Cargo.toml");
    let before = std::fs::read_to_string(&manifest).unwrap();
    let first = ws
        .run(&[
            "-p",
            "plain-app",
            "new",
            "init",
            "--dialect",
            "mysql",
            "--color",
            "never",
        ])
        .assert_code(0);
    assert!(
        first.stderr.contains(
            "Recorded dialect = \"mysql\" in [package.metadata.migrate] of crates/plain-app/Cargo.toml"
        ),
        "{}",
        first.stderr
    );
    insta::with_settings!({filters => vec![(r"\b\d{14}_", "[VERSION]_")]}, {
        insta::assert_snapshot!("new_records_the_dialect", first.snapshot());
    });
    let after = std::fs::read_to_string(&manifest).unwrap();
    // One table added after [package]; every other byte as it was.
    assert_eq!(
        after,
        before.replace(
            "[dependencies]\n",
            "[package.metadata.migrate]\ndialect = \"mysql\"\n\n[dependencies]\n"
        )
    );
    // The next `new` knows the dialect, and says where it came from.
    let second = ws
        .run(&["-p", "plain-app", "new", "add_users", "--format", "json"])
        .assert_code(0)
        .json();
    assert!(second.get("dialect_recorded_in").is_none(), "{second}");
    // A crate with neither sqlx nor diesel gets the own layout: a directory, 14-digit version.
    let version = second["version"].as_str().unwrap();
    assert!(
        version.len() == 14 && version.bytes().all(|b| b.is_ascii_digit()),
        "{second}"
    );
    assert_eq!(
        second["created"][0],
        format!("crates/plain-app/migrations/{version}_add_users/up.sql"),
        "{second}"
    );
    let list = ws
        .run(&["-p", "plain-app", "list", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(list["sets"][0]["dialect"], "mysql", "{list}");
    assert_eq!(list["sets"][0]["dialect_source"], "config", "{list}");
    assert_eq!(list["sets"][0]["migrations"], 2, "{list}");
    // A flag that only repeats what the crate already says is not written anywhere.
    let sqlx_manifest = ws.path().join("crates/sqlx-app/Cargo.toml");
    let sqlx_before = std::fs::read_to_string(&sqlx_manifest).unwrap();
    ws.run(&[
        "-p",
        "sqlx-app",
        "new",
        "create_users",
        "-t",
        "create_table",
        "--dialect",
        "sqlite",
    ])
    .assert_code(0);
    assert_eq!(
        std::fs::read_to_string(&sqlx_manifest).unwrap(),
        sqlx_before
    );
}

/// Every top-level JSON document starts with `"format_version":1`: a command's object, a
/// run over several sets, an error, a usage error.
#[test]
fn every_json_document_carries_format_version_first() {
    let ws = Workspace::copy("multi");
    for args in [
        &["list", "--format", "json"][..],
        &["-p", "accounts", "list", "--format", "json"],
        &["new", "x", "--format", "json", "-p", "nope"],
        &["up", "--frobnicate", "--format", "json"],
        &["-vV", "--format", "json"],
    ] {
        let outcome = ws.run(args);
        assert!(
            outcome.stdout.starts_with("{\"format_version\":1,"),
            "{args:?}: {}",
            outcome.stdout
        );
        let json = outcome.json();
        if outcome.code != 0 {
            assert!(json["error"]["code"].is_string(), "{args:?}: {json}");
        }
    }
}
