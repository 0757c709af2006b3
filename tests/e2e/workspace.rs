//! Which sets a command works on in a Cargo workspace, end to end: the current directory and
//! `--manifest-path` select the package as in cargo; `-p` (repeatable), `--workspace` and
//! `--exclude` name several; at a virtual root the read-only commands run every set and the
//! changing ones need a selection. Real workspaces (`fixtures/workspace`, `example/`), a real
//! PostgreSQL (`accounts`) and SQLite files (`shop`), each set on its own database.

use crate::support;

use std::path::Path;

use serde_json::Value;
use support::{Outcome, Pg, Workspace, postgres, run_in, run_in_env, sqlite_tables};

/// `sqlite:<absolute path>` of `file` in the workspace.
fn sqlite_url(ws: &Workspace, file: &str) -> String {
    format!("sqlite:{}?mode=rwc", ws.path().join(file).display())
}

/// The fixture with each set's URL variable pointing at a database of its own: `accounts` on a
/// fresh PostgreSQL database, `shop` on a SQLite file.
struct Databases {
    ws: Workspace,
    pg: Pg,
    accounts: String,
    shop: String,
}

impl Databases {
    fn new(name: &str) -> Option<Databases> {
        let pg = postgres()?;
        let accounts = pg.database(name);
        let ws = Workspace::copy("workspace");
        // An empty file is an empty SQLite database: `status` reads it (it creates none).
        std::fs::write(ws.path().join("shop.db"), "").expect("create shop.db");
        let shop = sqlite_url(&ws, "shop.db");
        Some(Databases {
            ws,
            pg,
            accounts,
            shop,
        })
    }

    fn run_in(&self, dir: &str, args: &[&str]) -> Outcome {
        run_in_env(
            &self.ws.path().join(dir),
            args,
            &[
                ("ACCOUNTS_DATABASE_URL", &self.accounts),
                ("SHOP_DATABASE_URL", &self.shop),
            ],
        )
    }

    fn run(&self, args: &[&str]) -> Outcome {
        self.run_in(".", args)
    }
}

/// The `set` names of a `{"sets": […]}` report, in order.
fn set_names(report: &Value) -> Vec<String> {
    report["sets"]
        .as_array()
        .unwrap_or_else(|| panic!("no `sets` array: {report}"))
        .iter()
        .map(|s| s["set"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn created_migrations(ws: &Workspace) -> Vec<String> {
    ws.files()
        .into_iter()
        .filter(|f| {
            f.contains("/migrations/") && !f.contains("20240301") && !f.contains("20240302")
        })
        .collect()
}

// ------------------------------------------------------------------ item 1: the current package

#[test]
fn new_inside_a_member_writes_into_its_own_set() {
    let ws = Workspace::copy("workspace");
    // `jobs` has no set yet; two other crates have one each.
    let outcome = run_in(&ws.path().join("crates/jobs"), &["new", "create_jobs"]).assert_code(0);
    let created = created_migrations(&ws);
    assert_eq!(created.len(), 2, "{created:?}\n{}", outcome.stderr);
    assert!(
        created
            .iter()
            .all(|f| f.starts_with("crates/jobs/migrations/") && f.contains("_create_jobs/")),
        "{created:?}"
    );
    // Below the member's directory too, now into its new set.
    run_in(&ws.path().join("crates/jobs/src"), &["new", "add_runs"]).assert_code(0);
    let created = created_migrations(&ws);
    assert_eq!(created.len(), 4, "{created:?}");
    assert!(
        created.iter().all(|f| f.starts_with("crates/jobs/")),
        "{created:?}"
    );
}

#[test]
fn status_below_a_member_uses_its_set() {
    let Some(dbs) = Databases::new("status_below_a_member") else {
        return;
    };
    let outcome = dbs
        .run_in("crates/shop/src", &["status", "--format", "json"])
        .assert_code(0);
    let report = outcome.json();
    // One set selected: the single-set shape, unchanged.
    assert!(report.get("sets").is_none(), "{report}");
    let versions: Vec<&str> = report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["20240302000000"]);
    assert!(
        report["database"].as_str().unwrap().contains("shop.db"),
        "{report}"
    );
    // The PostgreSQL set from its own directory, on its own database.
    let report = dbs
        .run_in("crates/accounts", &["status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(report["migrations"][0]["version"], "20240301000000");
    // A member without a set says so, instead of using another crate's set.
    let outcome = dbs.run_in("crates/jobs/src", &["status"]).assert_code(2);
    assert!(
        outcome.stderr.contains("package `jobs` has no migrations"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn manifest_path_selects_the_member_it_names() {
    let ws = Workspace::copy("workspace");
    let list = |dir: &Path, args: &[&str]| -> Vec<String> {
        let mut all = args.to_vec();
        all.extend(["list", "--format", "json"]);
        run_in(dir, &all).assert_code(0).json()["sets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["package"].as_str().unwrap_or("-").to_string())
            .collect()
    };
    let root = ws.path();
    assert_eq!(
        list(root, &["--manifest-path", "crates/shop/Cargo.toml"]),
        ["shop"]
    );
    // The workspace's own manifest selects the workspace, wherever the command runs.
    let shop = root.join("crates/shop");
    assert_eq!(
        list(&shop, &["--manifest-path", "../../Cargo.toml"]),
        ["accounts", "shop"]
    );
    assert_eq!(list(&shop, &[]), ["shop"]);
    // `new` through a member's manifest, from the root.
    run_in(
        root,
        &[
            "--manifest-path",
            "crates/jobs/Cargo.toml",
            "new",
            "create_jobs",
        ],
    )
    .assert_code(0);
    assert!(
        created_migrations(&ws)
            .iter()
            .all(|f| f.starts_with("crates/jobs/migrations/")),
        "{:?}",
        ws.files()
    );
}

// ------------------------------------------------------------------ item 2: several sets

#[test]
fn read_only_commands_at_a_virtual_root_run_every_set() {
    let Some(dbs) = Databases::new("read_only_at_the_root") else {
        return;
    };
    let outcome = dbs.run(&["status"]).assert_code(0);
    let accounts = outcome.stdout.find("Set accounts").expect(&outcome.stdout);
    let shop = outcome.stdout.find("Set shop").expect(&outcome.stdout);
    assert!(accounts < shop, "{}", outcome.stdout);
    assert!(
        outcome.stdout[accounts..shop].contains("create_accounts")
            && outcome.stdout[shop..].contains("create_orders"),
        "{}",
        outcome.stdout
    );
    let report = dbs
        .run(&["status", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(set_names(&report), ["accounts", "shop"]);
    assert_eq!(
        report["sets"][0]["migrations"][0]["name"], "create_accounts",
        "{report}"
    );
    assert_eq!(report["sets"][1]["migrations"][0]["name"], "create_orders");
    // list, schema and check go through every set as well.
    let listed = dbs.run(&["list", "--format", "json"]).assert_code(0).json();
    assert_eq!(listed["sets"].as_array().unwrap().len(), 2);
    let check = dbs
        .run(&["--sandbox", "local", "check", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(set_names(&check), ["accounts", "shop"]);
    assert!(
        check["sets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["ok"] == true),
        "{check}"
    );
    // --exclude leaves a set out; with one left, the single-set shape.
    let report = dbs
        .run(&[
            "status",
            "--workspace",
            "--exclude",
            "accounts",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(report["migrations"][0]["name"], "create_orders", "{report}");
    drop(dbs.pg);
}

#[test]
fn changing_commands_run_for_several_sets_only_when_named() {
    let Some(dbs) = Databases::new("changing_at_the_root") else {
        return;
    };
    // Nothing named at the root: refused, nothing applied anywhere.
    let outcome = dbs.run(&["up"]).assert_code(2);
    assert!(outcome.stderr.contains("--workspace"), "{}", outcome.stderr);
    assert!(dbs.pg.tables(&dbs.accounts).is_empty());
    assert!(sqlite_tables(&dbs.shop).is_empty());
    // --workspace: each set on its own database.
    let outcome = dbs.run(&["up", "--workspace"]).assert_code(0);
    assert!(
        outcome.stderr.contains("Set accounts") && outcome.stderr.contains("Set shop"),
        "{}",
        outcome.stderr
    );
    assert!(
        dbs.pg
            .tables(&dbs.accounts)
            .contains(&"accounts".to_string()),
        "{:?}",
        dbs.pg.tables(&dbs.accounts)
    );
    assert!(!dbs.pg.tables(&dbs.accounts).contains(&"orders".to_string()));
    let shop_tables = sqlite_tables(&dbs.shop);
    assert!(
        shop_tables.contains(&"orders".to_string()),
        "{shop_tables:?}"
    );
    assert!(!shop_tables.contains(&"accounts".to_string()));
    // -p twice; as events, each set's run after a `set` event naming it.
    let outcome = dbs
        .run(&["down", "-p", "accounts", "-p", "shop", "--format", "json"])
        .assert_code(0);
    let events: Vec<Value> = outcome
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e["event"].as_str().unwrap() {
            "set" => format!("set:{}", e["set"].as_str().unwrap()),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "set:accounts",
            "started",
            "reverted",
            "finished",
            "set:shop",
            "started",
            "reverted",
            "finished"
        ]
    );
    assert!(!sqlite_tables(&dbs.shop).contains(&"orders".to_string()));
}

#[test]
fn the_exit_code_is_the_worst_of_the_sets() {
    let Some(dbs) = Databases::new("worst_exit_code") else {
        return;
    };
    dbs.run(&["up", "-p", "shop"]).assert_code(0);
    // accounts pending (1), shop up to date (0): 1, and both reported.
    let outcome = dbs.run(&["status", "--exit-code"]).assert_code(1);
    assert!(outcome.stdout.contains("Set shop"), "{}", outcome.stdout);
    assert!(
        outcome.stderr.contains("1 of 2 sets failed: accounts"),
        "{}",
        outcome.stderr
    );
    let report = dbs
        .run(&["status", "--exit-code", "--format", "json"])
        .assert_code(1)
        .json();
    assert_eq!(report["sets"][0]["up_to_date"], false);
    assert_eq!(report["sets"][1]["up_to_date"], true);
    // accounts unreachable (3) and shop not up to date (1): 1, a retry would not fix shop.
    dbs.run(&["down", "-p", "shop"]).assert_code(0);
    let closed = "postgres://app@127.0.0.1:1/app";
    let outcome = run_in_env(
        dbs.ws.path(),
        &["status", "--exit-code", "--format", "json"],
        &[
            ("ACCOUNTS_DATABASE_URL", closed),
            ("SHOP_DATABASE_URL", &dbs.shop),
        ],
    )
    .assert_code(1);
    let report = outcome.json();
    assert_eq!(
        report["sets"][0]["error"]["code"], "database-unreachable",
        "{report}"
    );
    assert_eq!(report["sets"][1]["up_to_date"], false);
    // Unreachable alone: 3, retryable.
    run_in_env(
        dbs.ws.path(),
        &["status"],
        &[
            ("ACCOUNTS_DATABASE_URL", closed),
            ("SHOP_DATABASE_URL", &dbs.shop),
        ],
    )
    .assert_code(3);
}

#[test]
fn one_url_for_sets_sharing_a_history_table_is_refused() {
    let ws = Workspace::copy("workspace");
    let url = sqlite_url(&ws, "one.db");
    let outcome = ws.run(&["status", "--database-url", &url]).assert_code(2);
    assert!(
        outcome.stderr.contains("would share one history table"),
        "{}",
        outcome.stderr
    );
    let report = ws
        .run(&[
            "up",
            "--workspace",
            "--database-url",
            &url,
            "--format",
            "json",
        ])
        .assert_code(2);
    assert!(
        report.stdout.contains("shared-history-table"),
        "{}",
        report.stdout
    );
    assert!(!ws.path().join("one.db").exists(), "nothing may be created");
    insta::assert_snapshot!("workspace_shared_history_table", outcome.snapshot());
}

#[test]
fn exclude_needs_workspace_and_names_a_package() {
    let ws = Workspace::copy("workspace");
    ws.run(&["status", "--exclude", "shop"]).assert_code(2);
    let outcome = ws
        .run(&["list", "--workspace", "--exclude", "nosuch"])
        .assert_code(2);
    assert!(
        outcome.stderr.contains("package `nosuch`"),
        "{}",
        outcome.stderr
    );
}

/// The bundled example: `check` at its root checks both sets; `status` inside each crate
/// shows that crate's set.
#[test]
fn the_example_is_checked_whole_at_its_root() {
    let Some(pg) = postgres() else {
        return;
    };
    let ws = Workspace::empty();
    support::copy_dir(&support::repo().join("example"), ws.path());
    let outcome = ws.run(&["--sandbox", "local", "check"]).assert_code(0);
    for set in ["Set catalog", "Set orders"] {
        assert!(outcome.stdout.contains(set), "{}", outcome.stdout);
    }
    let report = ws
        .run(&["--sandbox", "local", "check", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(set_names(&report), ["catalog", "orders"]);
    std::fs::write(ws.path().join("orders.db"), "").expect("create orders.db");
    let orders = sqlite_url(&ws, "orders.db");
    let outcome = run_in(
        &ws.path().join("crates/orders"),
        &["status", "--database-url", &orders],
    )
    .assert_code(0);
    assert!(
        outcome.stdout.contains("create_orders"),
        "{}",
        outcome.stdout
    );
    assert!(
        !outcome.stdout.contains("create_books"),
        "{}",
        outcome.stdout
    );
    let catalog = pg.database("example_catalog");
    let outcome = run_in(
        &ws.path().join("crates/catalog/src"),
        &["status", "--database-url", &catalog],
    )
    .assert_code(0);
    assert!(
        outcome.stdout.contains("create_books"),
        "{}",
        outcome.stdout
    );
    assert!(
        !outcome.stdout.contains("create_orders"),
        "{}",
        outcome.stdout
    );
}
