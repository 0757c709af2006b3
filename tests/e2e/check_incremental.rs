//! `check` reads the schema again after every up and down, and reads again only the relations
//! a step changed (with everything depending on them) while keeping the rest from the last
//! read. These tests hold that to the whole read: each kind of change a migration can make is
//! a down that forgets to undo it (which `check` must report) or a rename that affects what
//! other objects print (which must be read again where it shows), and every read is compared
//! with a whole one (`CARGO_MIGRATE_VERIFY_INCREMENTAL_READS=1` turns a difference into an
//! error).

use serde_json::Value;

use crate::support::{self, Workspace, postgres};

/// A migration: name, up, down, and whether the down leaves something behind.
struct Case {
    name: &'static str,
    up: &'static str,
    down: &'static str,
    undone: bool,
}

const fn undone(name: &'static str, up: &'static str, down: &'static str) -> Case {
    Case {
        name,
        up,
        down,
        undone: true,
    }
}

/// A down that forgets the whole up.
const fn forgotten(name: &'static str, up: &'static str) -> Case {
    Case {
        name,
        up,
        down: "SELECT 1;\n",
        undone: false,
    }
}

/// Swaps the names of two columns of `users`; done again, it undoes itself.
const SWAP_ID_AND_NAME: &str = "ALTER TABLE users RENAME COLUMN id TO swap;\n\
     ALTER TABLE users RENAME COLUMN name TO id;\n\
     ALTER TABLE users RENAME COLUMN swap TO name;\n";

/// One of each kind of change, on `fixtures/check-pg`'s schema (users with an identity, an
/// enum, a domain and a trigger; posts with a serial, a foreign key, a check, a generated
/// column and a policy; a view and a materialized view; a partitioned table; a sequence).
const CASES: &[Case] = &[
    // Renames: what others print changes with them, and the down puts them back. Each is
    // renamed back by the next migration, so later cases find the names they use.
    undone(
        "rename_column_used_by_view_and_index",
        "ALTER TABLE users RENAME COLUMN email TO mail;\n",
        "ALTER TABLE users RENAME COLUMN mail TO email;\n",
    ),
    undone(
        "rename_column_back",
        "ALTER TABLE users RENAME COLUMN mail TO email;\n",
        "ALTER TABLE users RENAME COLUMN email TO mail;\n",
    ),
    undone(
        "rename_table_referenced_by_key_and_view",
        "ALTER TABLE users RENAME TO people;\n",
        "ALTER TABLE people RENAME TO users;\n",
    ),
    undone(
        "rename_table_back",
        "ALTER TABLE people RENAME TO users;\n",
        "ALTER TABLE users RENAME TO people;\n",
    ),
    undone(
        "rename_sequence_of_a_default",
        "ALTER SEQUENCE posts_id_seq RENAME TO post_ids;\n",
        "ALTER SEQUENCE post_ids RENAME TO posts_id_seq;\n",
    ),
    undone(
        "rename_sequence_back",
        "ALTER SEQUENCE post_ids RENAME TO posts_id_seq;\n",
        "ALTER SEQUENCE posts_id_seq RENAME TO post_ids;\n",
    ),
    undone(
        "rename_function_of_a_trigger",
        "ALTER FUNCTION touch() RENAME TO touch_rows;\n",
        "ALTER FUNCTION touch_rows() RENAME TO touch;\n",
    ),
    undone(
        "rename_function_back",
        "ALTER FUNCTION touch_rows() RENAME TO touch;\n",
        "ALTER FUNCTION touch() RENAME TO touch_rows;\n",
    ),
    // Two column names swapped: the same names, on other column numbers, which a key
    // referencing one of them (and the view) print. Swapping again undoes it.
    undone(
        "swap_column_names_under_a_key",
        SWAP_ID_AND_NAME,
        SWAP_ID_AND_NAME,
    ),
    undone("swap_column_names_back", SWAP_ID_AND_NAME, SWAP_ID_AND_NAME),
    undone(
        "functions_of_a_check_and_a_default",
        "CREATE FUNCTION positive(n integer) RETURNS boolean LANGUAGE sql IMMUTABLE \
             AS 'SELECT n > 0';\n\
         CREATE FUNCTION greeting() RETURNS text LANGUAGE sql AS $$SELECT 'hi'$$;\n\
         ALTER TABLE posts ADD CONSTRAINT posts_id_positive CHECK (positive(id));\n\
         ALTER TABLE posts ALTER COLUMN body SET DEFAULT greeting();\n",
        "ALTER TABLE posts ALTER COLUMN body DROP DEFAULT;\n\
         ALTER TABLE posts DROP CONSTRAINT posts_id_positive;\n\
         DROP FUNCTION greeting();\nDROP FUNCTION positive(integer);\n",
    ),
    // What a check and a default print of a function is its name: renamed, and moved to
    // another schema.
    undone(
        "rename_functions_of_a_check_and_a_default",
        "ALTER FUNCTION positive(integer) RENAME TO is_positive;\n\
         ALTER FUNCTION greeting() SET SCHEMA billing;\n",
        "ALTER FUNCTION is_positive(integer) RENAME TO positive;\n\
         ALTER FUNCTION billing.greeting() SET SCHEMA public;\n",
    ),
    undone(
        "view_on_a_view",
        "CREATE VIEW active_emails AS SELECT email FROM active_users;\n",
        "DROP VIEW active_emails;\n",
    ),
    undone(
        "rename_view_column_used_by_a_view",
        "ALTER VIEW active_users RENAME COLUMN email TO address;\n",
        "ALTER VIEW active_users RENAME COLUMN address TO email;\n",
    ),
    undone(
        "rename_view_column_back",
        "ALTER VIEW active_users RENAME COLUMN address TO email;\n",
        "ALTER VIEW active_users RENAME COLUMN email TO address;\n",
    ),
    // Names that arrays print as their NULL unless quoted: a table, a column referenced by
    // a key (the key's columns are an array), a parent of an inheriting table.
    undone(
        "names_spelled_null",
        "CREATE TABLE \"NULL\" (\"NULL\" integer PRIMARY KEY);\n\
         CREATE TABLE refers (\"NULL\" integer REFERENCES \"NULL\" (\"NULL\"));\n\
         CREATE TABLE heir () INHERITS (\"NULL\");\n",
        "DROP TABLE heir;\nDROP TABLE refers;\nDROP TABLE \"NULL\";\n",
    ),
    undone(
        "names_spelled_null_change",
        "ALTER TABLE refers ADD COLUMN note text;\nALTER TABLE heir ADD COLUMN note text;\n",
        "ALTER TABLE heir DROP COLUMN note;\nALTER TABLE refers DROP COLUMN note;\n",
    ),
    undone(
        "composite_and_inheritance",
        "CREATE TYPE pair AS (a integer);\n\
         CREATE TABLE events (id integer);\n\
         CREATE TABLE login_events (who text) INHERITS (events);\n",
        "DROP TABLE login_events;\nDROP TABLE events;\nDROP TYPE pair;\n",
    ),
    // Downs that forget: each must be found.
    forgotten(
        "comment_on_constraint",
        "COMMENT ON CONSTRAINT posts_title_check ON posts IS 'not empty';\n",
    ),
    forgotten(
        "comment_on_index",
        "COMMENT ON INDEX posts_search IS 'full text';\n",
    ),
    forgotten(
        "comment_on_column",
        "COMMENT ON COLUMN posts.body IS 'markdown';\n",
    ),
    forgotten(
        "comment_on_trigger",
        "COMMENT ON TRIGGER users_touch ON users IS 'keeps created_at';\n",
    ),
    forgotten(
        "comment_on_policy",
        "COMMENT ON POLICY own_posts ON posts IS 'rows of the signed-in user';\n",
    ),
    forgotten(
        "sequence_increment",
        "ALTER SEQUENCE billing.invoice_numbers INCREMENT BY 5;\n",
    ),
    forgotten(
        "sequence_owner",
        "ALTER SEQUENCE billing.invoice_numbers OWNED BY billing.invoices.id;\n",
    ),
    forgotten(
        "trigger_disabled",
        "ALTER TABLE users DISABLE TRIGGER users_touch;\n",
    ),
    forgotten(
        "policy_changed",
        "ALTER POLICY own_posts ON posts USING (true);\n",
    ),
    forgotten(
        "index_renamed",
        "ALTER INDEX posts_search RENAME TO posts_full_text;\n",
    ),
    forgotten(
        "function_of_a_trigger_renamed",
        "ALTER FUNCTION touch() RENAME TO touch_row;\n",
    ),
    forgotten(
        "comment_on_function",
        "COMMENT ON FUNCTION touch_row() IS 'sets created_at';\n",
    ),
    forgotten("enum_value_added", "ALTER TYPE mood ADD VALUE 'meh';\n"),
    forgotten(
        "composite_attribute_added",
        "ALTER TYPE pair ADD ATTRIBUTE b integer;\n",
    ),
    forgotten(
        "partition_detached",
        "ALTER TABLE billing.invoices DETACH PARTITION billing.invoices_2024;\n",
    ),
    forgotten(
        "inheritance_ended",
        "ALTER TABLE login_events NO INHERIT events;\n",
    ),
    forgotten(
        "identity_increment",
        "ALTER TABLE users ALTER COLUMN id SET INCREMENT BY 10;\n",
    ),
    forgotten(
        "default_from_another_sequence",
        "ALTER TABLE posts ALTER COLUMN id SET DEFAULT nextval('billing.invoice_numbers');\n",
    ),
    forgotten(
        "view_replaced",
        "CREATE OR REPLACE VIEW active_users AS \
         SELECT id, email, name FROM users WHERE mood <> 'sad';\n",
    ),
    forgotten(
        "table_made_again",
        "DROP TABLE login_events;\nCREATE TABLE login_events (who text, at timestamptz);\n",
    ),
    forgotten(
        "unlogged",
        "ALTER TABLE billing.invoices_2024 SET UNLOGGED;\n",
    ),
    forgotten(
        "column_used_by_views_key_and_policy_renamed",
        "ALTER TABLE posts RENAME COLUMN user_id TO author_id;\n",
    ),
    forgotten(
        "referenced_table_renamed",
        "ALTER TABLE users RENAME TO members;\n",
    ),
    forgotten("schema_comment", "COMMENT ON SCHEMA billing IS 'money';\n"),
];

/// Writes the cases into `ws` after its own migrations, each forgetful one after a
/// reversible step of its own: after a finding the walk goes on from a fresh copy, whose
/// first read is a whole one, so the spacer's read is the one the case's read goes on from.
fn write_cases(ws: &Workspace) -> Vec<String> {
    let mut forgotten = Vec::new();
    for (index, case) in CASES.iter().enumerate() {
        let spacer = format!("202402{:02}000000_spacer_{index}", index + 1);
        ws.add_migration(
            &spacer,
            &format!("CREATE TABLE spacer_{index} (id integer);\n"),
            &format!("DROP TABLE spacer_{index};\n"),
        );
        let name = format!("202402{:02}000001_{}", index + 1, case.name);
        ws.add_migration(&name, case.up, case.down);
        if !case.undone {
            forgotten.push(name);
        }
    }
    forgotten
}

fn check(ws: &Workspace) -> Value {
    let outcome = support::run_in_env(
        ws.path(),
        &[
            "--sandbox",
            "local",
            "check",
            "--no-safety",
            "--format",
            "json",
        ],
        &[("CARGO_MIGRATE_VERIFY_INCREMENTAL_READS", "1")],
    );
    let report = outcome.json();
    assert!(report.get("error").is_none(), "{report}");
    report
}

#[test]
fn every_kind_of_change_a_down_forgets_is_found_by_incremental_reads() {
    if postgres().is_none() {
        return;
    }
    let ws = Workspace::copy("check-pg");
    let expected = write_cases(&ws);
    let report = check(&ws);
    let found: Vec<String> = report["reversibility"]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .map(|finding| {
            assert_eq!(finding["kind"], "down_incomplete", "{finding}");
            finding["migration"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(found, expected, "{report}");
    // Every read was compared with a whole one and matched; most were incremental.
    assert!(
        report["timings"]["inspections"].as_u64().unwrap() > 2 * CASES.len() as u64,
        "{report}"
    );
}
