//! Real-world histories from `../shared/corpora`: cargo-migrate must read them as their own
//! tools do. Counts are those of each corpus's MANIFEST.md.

use crate::support;

use serde_json::Value;
use support::{Workspace, corpora};

/// `list --dir DIR --dialect D --format json` on a corpus set, returning its one set.
fn list(dir: &str, dialect: &str) -> Option<Value> {
    let root = corpora()?;
    let path = root.join(dir);
    let ws = Workspace::empty();
    let outcome = ws
        .run(&[
            "list",
            "--dir",
            path.to_str().unwrap(),
            "--dialect",
            dialect,
            "--format",
            "json",
        ])
        .assert_code(0);
    let json = outcome.json();
    assert_eq!(json["sets"].as_array().unwrap().len(), 1);
    Some(json["sets"][0].clone())
}

fn counts(set: &Value) -> (u64, u64, u64, &str) {
    (
        set["migrations"].as_u64().unwrap(),
        set["reversible"].as_u64().unwrap(),
        set["no_transaction"].as_u64().unwrap(),
        set["layout"].as_str().unwrap(),
    )
}

#[test]
fn crates_io() {
    let Some(set) = list("crates-io/migrations", "postgres") else {
        return;
    };
    // 9 of the 285 down.sql files have no statements: irreversible, not counted.
    assert_eq!(counts(&set), (285, 276, 7, "directory"));
    assert_eq!(set["newest"], "2026-07-30-140000-0000");
}

/// crates-io mixes `20260120162913` and `2025-11-19-091444-0000`: diesel's dash-stripped
/// string order keeps them chronological, numeric order would not.
#[test]
fn crates_io_order_is_diesels() {
    let Some(root) = corpora() else {
        return;
    };
    let path = root.join("crates-io/migrations");
    let json = Workspace::empty()
        .run(&[
            "list",
            "-v",
            "--dir",
            path.to_str().unwrap(),
            "--dialect",
            "postgres",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    let versions: Vec<String> = json["sets"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_str().unwrap().replace('-', ""))
        .collect();
    assert_eq!(versions.len(), 285);
    assert_eq!(versions[0], "00000000000000");
    let mut sorted = versions.clone();
    sorted.sort();
    assert_eq!(versions, sorted);
    // The 7 no-transaction migrations are the ones with `run_in_transaction = false`.
    let no_tx: Vec<&str> = json["sets"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["no_transaction"] == true)
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(no_tx.contains(&"make-unique-version-unique"), "{no_tx:?}");
    assert_eq!(no_tx.len(), 7);
}

#[test]
fn vaultwarden_postgresql() {
    let Some(set) = list("vaultwarden/migrations/postgresql", "postgres") else {
        return;
    };
    // 26 of the 46 down.sql files have no statements (comments only): irreversible.
    assert_eq!(counts(&set), (46, 20, 0, "directory"));
}

#[test]
fn vaultwarden_mysql() {
    let Some(set) = list("vaultwarden/migrations/mysql", "mysql") else {
        return;
    };
    // 31 of the 55 down.sql files have no statements: irreversible.
    assert_eq!(counts(&set), (55, 24, 0, "directory"));
}

/// Includes `2024-03-13_170000_sso_userscascade`, whose version diesel reads as `2024-03-13`.
#[test]
fn vaultwarden_sqlite() {
    let Some(set) = list("vaultwarden/migrations/sqlite", "sqlite") else {
        return;
    };
    // 30 of the 56 down.sql files have no statements although their up has some:
    // irreversible. Two more are comment-only with a comment-only up: nothing to undo.
    assert_eq!(counts(&set), (56, 26, 0, "directory"));
}

#[test]
fn atuin_sets() {
    for (dir, dialect, expected) in [
        (
            "atuin/crates/atuin-server-postgres/migrations",
            "postgres",
            20,
        ),
        ("atuin/crates/atuin-server-sqlite/migrations", "sqlite", 7),
        ("atuin/crates/atuin-client/migrations", "sqlite", 12),
    ] {
        let Some(set) = list(dir, dialect) else {
            return;
        };
        assert_eq!(counts(&set), (expected, 0, 0, "sqlx"), "{dir}");
    }
}

/// Dialect comes from a vaultwarden-style directory name when no flag is given.
#[test]
fn dialect_from_directory_name() {
    let Some(root) = corpora() else {
        return;
    };
    let path = root.join("vaultwarden/migrations/postgresql");
    let json = Workspace::empty()
        .run(&["list", "--dir", path.to_str().unwrap(), "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(json["sets"][0]["dialect"], "postgres");
    assert_eq!(json["sets"][0]["dialect_source"], "directory-name");
}

// supabase-postgres (dbmate) and karakeep (Drizzle) are read in their own formats:
// tests/e2e/formats.rs.
