//! Least privilege, as the deployment guides recommend: a migration role separate from the
//! app's, not a superuser. Real binary, real PostgreSQL: `up` by a role that owns the schema
//! works; a role lacking what the bookkeeping needs (CREATE on the schema, the history
//! table's privileges) is told which privilege and the `GRANT` that fixes it; a read-only
//! role can run `status`, `schema` and `check`'s drift step.

use crate::support;

use support::{Outcome, Pg, Workspace};

/// A workspace of migrations `1` and `2`, run with `--dir`.
fn workspace() -> Workspace {
    let ws = Workspace::empty();
    for (dir, up, down) in [
        (
            "20240101000000_users",
            "CREATE TABLE users (id bigint PRIMARY KEY, name text);\n",
            "DROP TABLE users;\n",
        ),
        (
            "20240102000000_posts",
            "CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\n",
            "DROP TABLE posts;\n",
        ),
    ] {
        ws.add_migration(dir, up, down);
    }
    ws
}

#[track_caller]
fn run(ws: &Workspace, args: &[&str], url: &str) -> Outcome {
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--dir",
        "migrations",
        "--dialect",
        "postgres",
        "--database-url",
        url,
    ]);
    let outcome = ws.run(&all);
    assert!(
        !outcome.stderr.contains("panicked"),
        "{}",
        outcome.snapshot()
    );
    outcome
}

/// A cluster with database `app` (owned by the superuser), and its URL for `role`.
fn cluster() -> Option<(Pg, String)> {
    let pg = support::postgres()?;
    let admin = pg.database("app");
    Some((pg, admin))
}

fn url_for(pg: &Pg, role: &str) -> String {
    // The cluster trusts local connections: the password is not checked.
    pg.url_as(role, "unused", "app")
}

#[test]
fn a_non_superuser_that_owns_the_schema_migrates() {
    let Some((pg, admin)) = cluster() else {
        return;
    };
    pg.execute(
        &admin,
        "CREATE ROLE migrator LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE",
    );
    pg.execute(&admin, "ALTER SCHEMA public OWNER TO migrator");
    let ws = workspace();
    let url = url_for(&pg, "migrator");
    run(&ws, &["up"], &url).assert_code(0);
    run(&ws, &["status", "--exit-code"], &url).assert_code(0);
    run(&ws, &["down", "--yes"], &url).assert_code(0);
    run(&ws, &["redo", "--yes"], &url).assert_code(0);
    run(&ws, &["up"], &url).assert_code(0);
    assert_eq!(pg.tables(&admin), ["_cargo_migrate", "posts", "users"]);
    let owners = pg.query(
        &admin,
        "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'public' GROUP BY 1",
    );
    assert_eq!(owners, [[Some("migrator".to_string())]]);
}

#[test]
fn a_role_lacking_a_privilege_the_history_needs_is_told_the_grant() {
    let Some((pg, admin)) = cluster() else {
        return;
    };
    pg.execute(&admin, "CREATE ROLE deployer LOGIN");
    let ws = workspace();
    let url = url_for(&pg, "deployer");
    let mut report = String::new();
    // No CREATE on the schema: the history table cannot be created.
    let outcome = run(&ws, &["up"], &url);
    report.push_str(&format!(
        "## no CREATE on schema public\n{}\n",
        outcome.snapshot()
    ));
    assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
    let json = run(&ws, &["up", "--format", "json"], &url);
    assert_eq!(json.run_json()["error"]["code"], "insufficient-privilege");
    assert!(pg.tables(&admin).is_empty(), "nothing was created");

    // The history table belongs to another role (the superuser ran the first deploy).
    run(&ws, &["up", "--to", "20240101000000"], &admin).assert_code(0);
    pg.execute(&admin, "GRANT CREATE ON SCHEMA public TO deployer");
    let outcome = run(&ws, &["up"], &url);
    report.push_str(&format!(
        "## history table of another role\n{}\n",
        outcome.snapshot()
    ));
    assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
    assert_eq!(pg.tables(&admin), ["_cargo_migrate", "users"]);

    // Reading is not enough: the history row of each migration is written with it. (users is
    // the superuser's: posts references it.)
    pg.execute(&admin, "GRANT REFERENCES ON users TO deployer");
    pg.execute(&admin, "GRANT SELECT ON public._cargo_migrate TO deployer");
    let outcome = run(&ws, &["up"], &url);
    report.push_str(&format!(
        "## history table readable, not writable\n{}\n",
        outcome.snapshot()
    ));
    assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
    assert_eq!(pg.tables(&admin), ["_cargo_migrate", "users"]);

    // The GRANT the hint names is enough.
    pg.execute(
        &admin,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON public._cargo_migrate TO deployer",
    );
    run(&ws, &["up"], &url).assert_code(0);

    // A no-transaction migration writes its history rows on their own: refused the same way,
    // before any of its statements runs.
    let path = ws.path().join("migrations/20240103000000_index");
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(
        path.join("up.sql"),
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY posts_user ON posts (user_id);\n",
    )
    .unwrap();
    std::fs::write(path.join("down.sql"), "DROP INDEX posts_user;\n").unwrap();
    pg.execute(
        &admin,
        "REVOKE INSERT ON public._cargo_migrate FROM deployer",
    );
    let outcome = run(&ws, &["up"], &url);
    report.push_str(&format!(
        "## no-transaction migration, history not insertable\n{}\n",
        outcome.snapshot()
    ));
    assert_eq!(outcome.code, 2, "{}", outcome.snapshot());
    let index = pg.query(
        &admin,
        "SELECT count(*)::text FROM pg_indexes WHERE indexname = 'posts_user'",
    );
    assert_eq!(index, [[Some("0".to_string())]], "nothing of it ran");
    let socket = pg.server.socket_dir().to_string_lossy().to_string();
    insta::assert_snapshot!(report.replace(&socket, "[SOCKET]"));
}

#[test]
fn a_read_only_role_runs_status_schema_and_the_drift_check() {
    let Some((pg, admin)) = cluster() else {
        return;
    };
    let ws = workspace();
    run(&ws, &["up"], &admin).assert_code(0);
    pg.execute(&admin, "CREATE ROLE reader LOGIN");
    pg.execute(
        &admin,
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader",
    );
    // Read-only for real: any write would fail.
    pg.execute(
        &admin,
        "ALTER ROLE reader SET default_transaction_read_only = on",
    );
    let url = url_for(&pg, "reader");
    let status = run(&ws, &["status", "--exit-code"], &url).assert_code(0);
    assert!(
        status.stdout.contains("20240102000000"),
        "{}",
        status.snapshot()
    );
    let schema = run(&ws, &["schema"], &url).assert_code(0);
    assert!(
        schema.stdout.contains("CREATE TABLE posts"),
        "{}",
        schema.snapshot()
    );
    let check = run(&ws, &["--sandbox", "local", "check"], &url).assert_code(0);
    assert!(
        check.stdout.contains("drift") || check.stderr.contains("drift"),
        "{}",
        check.snapshot()
    );
}
