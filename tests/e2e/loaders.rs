//! The sets `new` starts are read by the crate's own migration library: sqlx's runtime
//! `Migrator` and diesel's `FileBasedMigrations` each see exactly the migrations `cargo
//! migrate new` created, in the same order, and run them (up, then down) on a real SQLite file.

use crate::support;

use std::path::Path;

use support::Workspace;

/// The templates whose inverse is known, in the order they are created. Names are chosen so
/// the guessed table and column line up: `users`, `email`.
const NEW: &[(&str, &str)] = &[
    ("create_users", "create_table"),
    ("add_email_to_users", "add_column"),
    ("index_email_on_users", "create_index_concurrently"),
];

/// Runs `new` for each of [`NEW`] in `package`; the (version, name) pairs it reports.
fn scaffold(ws: &Workspace, package: &str) -> Vec<(String, String)> {
    NEW.iter()
        .map(|(name, template)| {
            let report = ws
                .run(&[
                    "-p",
                    package,
                    "new",
                    name,
                    "--template",
                    template,
                    "--format",
                    "json",
                ])
                .assert_code(0)
                .json();
            assert_eq!(report["name"], *name, "{report}");
            (
                report["version"].as_str().unwrap().to_string(),
                name.to_string(),
            )
        })
        .collect()
}

fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_sqlx_crate_gets_a_set_sqlx_migrator_reads_and_runs() {
    let ws = Workspace::copy("new-by-library");
    let created = scaffold(&ws, "sqlx-app");
    let dir = ws.path().join("crates/sqlx-app/migrations");
    // Flat `.up.sql` + `.down.sql` pairs, 14-digit versions: what `sqlx::migrate!()` embeds.
    let expected_files: Vec<String> = created
        .iter()
        .flat_map(|(v, n)| [format!("{v}_{n}.down.sql"), format!("{v}_{n}.up.sql")])
        .collect();
    assert_eq!(sorted_names(&dir), expected_files);
    assert!(created.iter().all(|(v, _)| v.len() == 14));
    // sqlx's own spelling of the no-transaction directive, so sqlx honours it too.
    let (v, n) = &created[2];
    let up = std::fs::read_to_string(dir.join(format!("{v}_{n}.up.sql"))).unwrap();
    assert!(up.starts_with("-- no-transaction\n"), "{up}");

    let rt = runtime();
    let migrator = rt
        .block_on(sqlx::migrate::Migrator::new(dir.as_path()))
        .expect("sqlx reads the set");
    let seen: Vec<(String, String, bool)> = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| (m.version.to_string(), m.description.to_string(), m.no_tx))
        .collect();
    // sqlx shows a name's underscores as spaces.
    let expected: Vec<(String, String, bool)> = created
        .iter()
        .enumerate()
        .map(|(i, (v, n))| (v.clone(), n.replace('_', " "), i == 2))
        .collect();
    assert_eq!(seen, expected);
    let downs = migrator
        .iter()
        .filter(|m| m.migration_type.is_down_migration())
        .count();
    assert_eq!(downs, 3);

    let db = ws.path().join("sqlx.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        migrator.run(&pool).await.expect("sqlx runs the ups");
        pool.close().await;
    });
    assert_eq!(support::sqlite_tables(&url), ["_sqlx_migrations", "users"]);
    let index = support::sqlite_query(
        &url,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users' AND sql IS NOT NULL",
    );
    assert_eq!(index, [[Some("users_email_idx".to_string())]]);
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        migrator.undo(&pool, 0).await.expect("sqlx runs the downs");
        pool.close().await;
    });
    assert_eq!(support::sqlite_tables(&url), ["_sqlx_migrations"]);
    eprintln!("sqlx Migrator read and ran: {created:?}");
}

#[test]
fn a_diesel_crate_gets_a_set_diesel_migrations_reads_and_runs() {
    use diesel::Connection;
    use diesel::migration::MigrationSource;
    use diesel::sqlite::{Sqlite, SqliteConnection};
    use diesel_migrations::{FileBasedMigrations, MigrationHarness};

    let ws = Workspace::copy("new-by-library");
    let created = scaffold(&ws, "diesel-app");
    let dir = ws.path().join("crates/diesel-app/migrations");
    // diesel's directories and version style: `YYYY-MM-DD-HHMMSS-0000`.
    for (version, _) in &created {
        let bytes = version.as_bytes();
        assert_eq!(version.len(), "2026-01-01-000000-0000".len(), "{version}");
        assert!(
            [4, 7, 10, 17].iter().all(|&i| bytes[i] == b'-') && version.ends_with("-0000"),
            "{version}"
        );
    }
    let expected_dirs: Vec<String> = created.iter().map(|(v, n)| format!("{v}_{n}")).collect();
    assert_eq!(sorted_names(&dir), expected_dirs);
    // diesel reads no-transaction from metadata.toml.
    let metadata = std::fs::read_to_string(dir.join(&expected_dirs[2]).join("metadata.toml"))
        .expect("metadata.toml for the concurrent index");
    assert_eq!(metadata.trim(), "run_in_transaction = false");

    let source = FileBasedMigrations::from_path(&dir).expect("diesel reads the set");
    let mut seen: Vec<(String, String)> = MigrationSource::<Sqlite>::migrations(&source)
        .unwrap()
        .iter()
        .map(|m| (m.name().version().to_string(), m.name().to_string()))
        .collect();
    // diesel's order: by version (as the harness runs them).
    seen.sort();
    let expected: Vec<(String, String)> = created
        .iter()
        .map(|(v, n)| (v.replace('-', ""), format!("{v}_{n}")))
        .collect();
    assert_eq!(seen, expected);

    let db = ws.path().join("diesel.db");
    let mut conn = SqliteConnection::establish(db.to_str().unwrap()).unwrap();
    let ran = conn
        .run_pending_migrations(source.clone())
        .expect("diesel runs the ups");
    let ran: Vec<String> = ran.iter().map(ToString::to_string).collect();
    assert_eq!(
        ran,
        expected.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>()
    );
    let url = format!("sqlite://{}", db.display());
    assert_eq!(
        support::sqlite_tables(&url),
        ["__diesel_schema_migrations", "users"]
    );
    conn.revert_all_migrations(source)
        .expect("diesel runs the downs");
    assert_eq!(support::sqlite_tables(&url), ["__diesel_schema_migrations"]);
    eprintln!("diesel FileBasedMigrations read and ran: {ran:?}");
}
