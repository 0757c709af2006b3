//! Migrations that change the session the tool's own connection relies on: its prepared
//! statements (`DISCARD ALL`, `DEALLOCATE`), its settings and role (`RESET ALL`, `SET ROLE`,
//! `SET SESSION AUTHORIZATION`, `set_config('search_path', …)`) and the runner lock it holds
//! (`DISCARD ALL`, `pg_advisory_unlock_all()`). Each form, in transactional and
//! no-transaction migrations, through `up`, `status`, `down`, `redo` and `check` on a real
//! cluster, and through PgBouncer.

use crate::support;

use serde_json::Value;
use support::{Outcome, Pg, PoolMode, Workspace};

/// `cargo-migrate ARGS --database-url URL` in `ws`, exiting `code`.
#[track_caller]
fn cm(ws: &Workspace, url: &str, args: &[&str], code: i32) -> Outcome {
    let mut all = args.to_vec();
    all.extend(["--database-url", url]);
    let outcome = support::no_panic(ws.run(&all));
    assert_eq!(
        outcome.code, code,
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        outcome.stdout, outcome.stderr
    );
    outcome
}

const NO_TX: &str = "-- migrate:no-transaction\n";

/// Every prepared statement of the session dropped by name, as `DEALLOCATE name` does.
const DEALLOCATE_EACH: &str = "DO $$ DECLARE n text; BEGIN FOR n IN SELECT name FROM pg_prepared_statements LOOP EXECUTE format('DEALLOCATE %I', n); END LOOP; END $$;\n";

/// fixtures/single plus one migration pair per form that drops the session's prepared
/// statements, in both kinds of migration.
fn prepared_statement_set() -> Workspace {
    let ws = Workspace::copy("single");
    let no_tx = |body: &str| format!("{NO_TX}{body}");
    ws.add_migration(
        "20240103000000_discard_all",
        &no_tx(
            "CREATE TABLE a (id int);\nDISCARD ALL;\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n",
        ),
        &no_tx("DISCARD ALL;\nDROP TABLE a;\n"),
    );
    ws.add_migration(
        "20240104000000_deallocate_all",
        &no_tx("DEALLOCATE ALL;\nCREATE TABLE b (id int);\nDEALLOCATE PREPARE ALL;\n"),
        &no_tx("DEALLOCATE ALL;\nDROP TABLE b;\n"),
    );
    ws.add_migration("20240105000000_deallocate_in_transaction",
        "DEALLOCATE ALL;\nCREATE TABLE c (id int);\nDISCARD PLANS;\nDISCARD SEQUENCES;\nDISCARD TEMP;\n",
        "DEALLOCATE ALL;\nDROP TABLE c;\n",
    );
    ws.add_migration(
        "20240106000000_deallocate_each",
        &format!("{DEALLOCATE_EACH}CREATE TABLE d (id int);\n"),
        &format!("{DEALLOCATE_EACH}DROP TABLE d;\n"),
    );
    ws.add_migration(
        "20240107000000_deallocate_each_no_transaction",
        &no_tx(&format!("CREATE TABLE e (id int);\n{DEALLOCATE_EACH}")),
        &no_tx(&format!("{DEALLOCATE_EACH}DROP TABLE e;\n")),
    );
    ws.add_migration(
        "20240108000000_discard_all_last",
        &no_tx("CREATE TABLE f (id int);\nDISCARD ALL;\n"),
        &no_tx("DROP TABLE f;\nDISCARD ALL;\n"),
    );
    ws
}

/// A statement that fails unless `condition` holds in the migration's session.
fn must(condition: &str) -> String {
    format!(
        "DO $$ BEGIN IF NOT ({condition}) THEN RAISE EXCEPTION 'session state leaked: {}'; END IF; END $$;\n",
        condition.replace('\'', "''")
    )
}

/// The history as (version, success), in version order.
fn history(pg: &Pg, url: &str) -> Vec<(String, bool)> {
    pg.query(
        url,
        "SELECT version, success::text FROM public._cargo_migrate ORDER BY version",
    )
    .into_iter()
    .map(|row| (row[0].clone().unwrap(), row[1].as_deref() == Some("true")))
    .collect()
}

fn all_applied(pg: &Pg, url: &str, count: usize) {
    let rows = history(pg, url);
    assert_eq!(rows.len(), count, "{rows:?}");
    assert!(rows.iter().all(|(_, success)| *success), "{rows:?}");
}

/// `status --format json`: every migration applied.
#[track_caller]
fn status_all_applied(ws: &Workspace, url: &str, count: usize) {
    let status = cm(ws, url, &["status", "--format", "json"], 0).json();
    let states: Vec<&str> = status["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .map(|m| m["state"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(states, vec!["applied"; count], "{status}");
}

/// up, status, redo, down --all, up again through `url`: each completes and the history
/// (read at `direct`) follows.
fn round_trip(pg: &Pg, ws: &Workspace, url: &str, direct: &str, count: usize) {
    cm(ws, url, &["up"], 0);
    all_applied(pg, direct, count);
    status_all_applied(ws, url, count);
    cm(ws, url, &["redo"], 0);
    all_applied(pg, direct, count);
    cm(ws, url, &["redo", "-n", "3", "-y"], 0);
    all_applied(pg, direct, count);
    cm(ws, url, &["down", "--all", "-y"], 0);
    assert_eq!(history(pg, direct), Vec::new());
    cm(ws, url, &["up"], 0);
    all_applied(pg, direct, count);
    status_all_applied(ws, url, count);
}

/// `DISCARD ALL`, `DEALLOCATE ALL`, `DEALLOCATE name` and `DISCARD PLANS/SEQUENCES/TEMP`, in
/// both kinds of migration, in every order: the history is written after each, and `check`
/// replays and reverses them.
#[test]
fn migrations_that_drop_prepared_statements_are_recorded() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = prepared_statement_set();
    round_trip(&pg, &ws, &url, &url, 8);
    let check = support::no_panic(ws.run(&["--sandbox", "local", "check", "--format", "json"]));
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
}

/// The same set through PgBouncer, in session and transaction pooling (`pgbouncer=true`).
#[test]
fn migrations_that_drop_prepared_statements_work_through_pgbouncer() {
    let Some(pg) = support::postgres() else {
        return;
    };
    pg.through_each_pool_mode(|_, direct, url| {
        let ws = prepared_statement_set();
        round_trip(&pg, &ws, url, direct, 8);
    });
}

/// Settings and role a migration changes (`SET ROLE`, `SET SESSION AUTHORIZATION`,
/// `set_config('search_path', '', false)` as pg_dump writes it, `RESET ALL`,
/// `statement_timeout`): the history is still written as the login role, in its table, and
/// the next migration starts from the connection's own settings.
#[test]
fn migrations_that_change_settings_and_role_are_recorded() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = settings_set(false);
    round_trip(&pg, &ws, &url, &url, 11);
    owners_follow_the_role(&pg, &url);
    let check = support::no_panic(ws.run(&["--sandbox", "local", "check", "--format", "json"]));
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
}

/// The same set through PgBouncer in transaction pooling (`pgbouncer=true`).
#[test]
fn migrations_that_change_settings_and_role_work_through_pgbouncer() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let Some(bouncer) = pg.bouncer(PoolMode::Transaction) else {
        return;
    };
    let direct = pg.database("app_pooled");
    let url = format!("{}?pgbouncer=true", bouncer.url("app_pooled"));
    let ws = settings_set(true);
    round_trip(&pg, &ws, &url, &direct, 11);
    owners_follow_the_role(&pg, &direct);
}

/// fixtures/single plus migrations that change the role and settings, each followed by one
/// that fails if anything of it leaked. `pooled`: no session lock_timeout to restore (behind a pooler none is set).
fn settings_set(pooled: bool) -> Workspace {
    let ws = Workspace::copy("single");
    let no_tx = |body: &str| format!("{NO_TX}{body}");
    // The role is the cluster's: made here if missing, so `check`'s scratch cluster has it.
    ws.add_migration("20240103000000_set_role",
        "DO $$ BEGIN CREATE ROLE app_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;\n\
         GRANT CREATE, USAGE ON SCHEMA public TO app_owner;\nSET ROLE app_owner;\nCREATE TABLE owned (id int);\n",
        "SET ROLE app_owner;\nDROP TABLE owned;\nRESET ROLE;\nREVOKE CREATE, USAGE ON SCHEMA public FROM app_owner;\n",
    );
    ws.add_migration(
        "20240104000000_after_set_role",
        // Fails unless the role is the login role again: app_owner may not read this.
        "CREATE TABLE mine (id int);\nSELECT count(*) FROM pg_authid;\n",
        "DROP TABLE mine;\n",
    );
    ws.add_migration(
        "20240105000000_session_authorization",
        &no_tx("SET SESSION AUTHORIZATION app_owner;\nCREATE TABLE owned2 (id int);\n"),
        &no_tx("SET SESSION AUTHORIZATION app_owner;\nDROP TABLE owned2;\n"),
    );
    ws.add_migration("20240106000000_empty_search_path",
        "SELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.dumped (id int);\n",
        "SELECT pg_catalog.set_config('search_path', '', false);\nDROP TABLE public.dumped;\n",
    );
    ws.add_migration(
        "20240107000000_after_search_path",
        // Unqualified: resolved on the connection's search_path again.
        "CREATE TABLE plain (id int);\n",
        "DROP TABLE plain;\n",
    );
    ws.add_migration("20240108000000_reset_all",
        // The tool's lock_timeout is back for the statements after `RESET ALL`.
        &no_tx(&format!(
            "SET lock_timeout = 0;\nRESET ALL;\n{}CREATE TABLE r (id int);\nCREATE INDEX CONCURRENTLY r_id ON r (id);\n",
            if pooled {
                String::new()
            } else {
                must("current_setting('lock_timeout') <> '0'")
            }
        )),
        &no_tx("RESET ALL;\nDROP TABLE r;\n"),
    );
    ws.add_migration(
        "20240109000000_statement_timeout",
        "CREATE TABLE t (id int);\nSET statement_timeout = '10s';\nSET ROLE app_owner;\n",
        "SET statement_timeout = '10s';\nDROP TABLE t;\n",
    );
    // Nothing of the migration before leaks into the next, in either kind of migration.
    let clean = format!(
        "{}{}{}",
        must("current_setting('statement_timeout') = '0'"),
        must("current_user = session_user"),
        must("current_setting('default_transaction_read_only') = 'off'")
    );
    ws.add_migration(
        "20240110000000_clean_session",
        &format!("{clean}CREATE TABLE clean (id int);\n"),
        &format!("{clean}DROP TABLE clean;\n"),
    );
    ws.add_migration("20240111000000_clean_session_no_transaction",
        &no_tx(
            "SET statement_timeout = '10s';\nSET ROLE app_owner;\nSET default_transaction_read_only = on;\n",
        ),
        &no_tx(&clean),
    );
    ws
}

/// Tables the migrations created under `SET ROLE` belong to that role; the others, and the
/// history, to the login role.
fn owners_follow_the_role(pg: &Pg, url: &str) {
    let owners = pg.query(
        url,
        "SELECT c.relname::text, pg_get_userbyid(c.relowner)::text FROM pg_class c \
         WHERE c.relname IN ('owned', 'owned2', 'mine', '_cargo_migrate') ORDER BY 1",
    );
    let owner = |table: &str| {
        owners
            .iter()
            .find(|row| row[0].as_deref() == Some(table))
            .and_then(|row| row[1].clone())
            .unwrap_or_default()
    };
    assert_eq!(owner("owned"), "app_owner");
    assert_eq!(owner("owned2"), "app_owner");
    assert_eq!(owner("mine"), owner("_cargo_migrate"));
    assert_ne!(owner("mine"), "app_owner");
}

/// A migration that releases the session's advisory locks: the runner lock, which proves to
/// a later run that no migration of this one is still executing, is taken again right after
/// the statement in a no-transaction migration (its next statement checks), and a
/// transactional migration that does it is refused and rolled back.
#[test]
fn migrations_that_release_advisory_locks() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("app");
    let ws = Workspace::copy("single");
    let held = "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND mode = 'ShareLock' AND granted) THEN RAISE EXCEPTION 'the runner lock is not held'; END IF; END $$;\n";
    ws.add_migration(
        "20240103000000_unlock_all",
        &format!("{NO_TX}CREATE TABLE u (id int);\nSELECT pg_advisory_unlock_all();\n{held}"),
        &format!("{NO_TX}DISCARD ALL;\n{held}DROP TABLE u;\n"),
    );
    round_trip(&pg, &ws, &url, &url, 3);

    ws.add_migration(
        "20240104000000_unlock_in_transaction",
        "CREATE TABLE v (id int);\nSELECT pg_advisory_unlock_all();\n",
        "DROP TABLE v;\n",
    );
    let refused = cm(&ws, &url, &["up"], 1);
    assert!(
        refused
            .stderr
            .contains("20240104000000_unlock_in_transaction/up.sql")
            && refused.stderr.contains("runner lock"),
        "{}",
        refused.stderr
    );
    all_applied(&pg, &url, 3);
    assert!(!pg.tables(&url).contains(&"v".to_string()));
    let status: Value = cm(&ws, &url, &["status", "--format", "json"], 0).json();
    assert_eq!(status["migrations"][3]["state"], "pending", "{status}");
    assert!(
        refused.stderr.contains("up.sql:2:8") && refused.stderr.contains("pg_advisory_xact_lock"),
        "{}",
        refused.stderr
    );

    // `DISCARD ALL` in a transaction: PostgreSQL refuses it; rolled back like any failure.
    ws.add_migration(
        "20240104000000_unlock_in_transaction",
        "CREATE TABLE v (id int);\nDISCARD ALL;\n",
        "DROP TABLE v;\n",
    );
    let refused = cm(&ws, &url, &["up"], 1);
    assert!(
        refused.stderr.contains("up.sql:2:1")
            && refused
                .stderr
                .contains("DISCARD ALL cannot run inside a transaction block"),
        "{}",
        refused.stderr
    );
    all_applied(&pg, &url, 3);
    assert!(!pg.tables(&url).contains(&"v".to_string()));
}
