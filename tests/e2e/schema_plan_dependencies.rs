//! What the planner makes again around a change, decided by what the catalog records each
//! part of a table uses (`pg_depend`, issue 13 item 2), not by names found in its text.
//! Plans are applied statement by statement, each on a connection of its own, and must reach
//! the target with the rows kept.

use crate::support;

use std::time::Duration;

use cargo_migrate::db::{ConnectOptions, Database, DatabaseUrl};
use cargo_migrate::dialect::Dialect;
use cargo_migrate::schema::model::{Dependency, DependencyKind, QualifiedName};
use cargo_migrate::schema::{self, Excluded, Schema};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn inspect(url: &str) -> Schema {
    let options = ConnectOptions {
        wait: Duration::ZERO,
        connect_timeout: Duration::from_secs(10),
        lock_timeout: Duration::from_secs(5),
        create_if_missing: true,
    };
    let mut db = Database::connect(
        &DatabaseUrl::sandbox(url, Dialect::Postgres),
        &options,
        |_| {},
    )
    .await
    .expect("connect");
    let history = vec![Excluded {
        schema: "public".into(),
        table: "_cargo_migrate".into(),
    }];
    db.inspect(&history).await.expect("inspect")
}

/// Plans `a` → `b` on databases built from them, applies the plan statement by statement on
/// a third database made like `a`, and requires the result to be `b` with `rows` (a query
/// giving one text column) returning `expected`. The plan's script, for more checks.
fn apply(
    pg: &support::Pg,
    rt: &tokio::runtime::Runtime,
    tag: &str,
    (a, b): (&str, &str),
    (rows, expected): (&str, &[&str]),
) -> String {
    let urls: Vec<String> = (0..3).map(|n| pg.database(&format!("{tag}_{n}"))).collect();
    pg.execute(&urls[0], a);
    pg.execute(&urls[1], b);
    pg.execute(&urls[2], a);
    let (from, to) = rt.block_on(async { (inspect(&urls[0]).await, inspect(&urls[1]).await) });
    let plan = schema::plan(&from, &to);
    let script = plan.script();
    assert!(
        plan.is_complete(),
        "{tag}: {:?}\n{script}",
        plan.unsupported
    );
    if let Err(stopped) = pg.apply_plan(&urls[2], &plan) {
        panic!("{tag}: {}\n{script}", stopped.error);
    }
    let after = rt.block_on(inspect(&urls[2]));
    let left: Vec<String> = schema::diff(&after, &to)
        .iter()
        .map(|c| c.summary())
        .collect();
    assert!(left.is_empty(), "{tag}: {left:?}\n{script}");
    let got: Vec<String> = pg
        .query(&urls[2], rows)
        .into_iter()
        .map(|row| row[0].clone().unwrap_or_default())
        .collect();
    assert_eq!(got, expected, "{tag}\n{script}");
    script
}

const MOOD_A: &str = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');";
/// Without a label: the type is made again.
const MOOD_B: &str = "CREATE TYPE mood AS ENUM ('sad', 'ok');";

/// Names of a retyped column and of a type made again that appear in the parts' text only
/// inside string literals: nothing is dropped and made again for them.
#[test]
fn a_name_in_a_string_literal_is_not_a_use() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let table = |mood: &str, amount: &str| {
        format!(
            "{mood}
            CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql
                AS $$BEGIN -- amount, mood
                RETURN NEW; END$$;
            CREATE TABLE notes (id int, amount {amount}, m mood,
                note text CHECK (note <> 'amount' AND note <> 'mood'));
            CREATE INDEX notes_note ON notes (note) WHERE note <> 'mood';
            ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
            CREATE POLICY own ON notes USING (note <> 'amount');
            CREATE TRIGGER touch BEFORE UPDATE ON notes FOR EACH ROW
                WHEN (NEW.note <> 'amount') EXECUTE FUNCTION stamp();
            INSERT INTO notes VALUES (1, 7, 'ok', 'kept');"
        )
    };
    let (a, b) = (table(MOOD_A, "integer"), table(MOOD_B, "bigint"));
    let script = apply(
        &pg,
        &rt,
        "literal",
        (&a, &b),
        (
            "SELECT id || '|' || amount || '|' || m || '|' || note FROM notes",
            &["1|7|ok|kept"],
        ),
    );
    for needless in [
        "DROP POLICY",
        "DROP TRIGGER",
        "DROP CONSTRAINT",
        "DROP INDEX",
    ] {
        assert!(!script.contains(needless), "{needless}\n{script}");
    }
}

/// A column changes type under a default, a check, an expression index, a generated column,
/// a policy and a trigger that use it, and a type made again changes under a check that
/// uses it: each reaches the target, both ways.
#[test]
fn parts_using_a_retyped_column_are_made_again_both_ways() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let table = |mood: &str, amount: &str| {
        format!(
            "{mood}
            CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql
                AS $$BEGIN RETURN NEW; END$$;
            CREATE TABLE items (id int PRIMARY KEY,
                amount {amount} DEFAULT 0 CHECK (amount >= 0),
                twice bigint GENERATED ALWAYS AS (amount * 2) STORED,
                feeling text CHECK (feeling::mood <> 'sad'));
            CREATE INDEX items_amount ON items ((amount + 1));
            ALTER TABLE items ENABLE ROW LEVEL SECURITY;
            CREATE POLICY small ON items USING (amount < 1000);
            CREATE TRIGGER touch BEFORE UPDATE OF amount ON items FOR EACH ROW
                EXECUTE FUNCTION stamp();
            INSERT INTO items (id, amount, feeling) VALUES (1, 5, 'ok');"
        )
    };
    let (a, b) = (table(MOOD_A, "integer"), table(MOOD_B, "bigint"));
    let rows = (
        "SELECT id || '|' || amount || '|' || twice || '|' || feeling FROM items",
        &["1|5|10|ok"][..],
    );
    let script = apply(&pg, &rt, "retype_forward", (&a, &b), rows);
    for remade in [
        "DROP POLICY small ON items;",
        "DROP TRIGGER touch ON items;",
        "ALTER TABLE items DROP CONSTRAINT items_feeling_check;",
        "ALTER TABLE items DROP COLUMN twice;",
    ] {
        assert!(script.contains(remade), "{remade}\n{script}");
    }
    apply(&pg, &rt, "retype_backward", (&b, &a), rows);
}

/// The model records what each part uses, columns included, and through the body of an
/// atomic SQL function what that body uses; a PL/pgSQL body records nothing.
#[test]
fn dependencies_are_read_from_the_catalog_through_atomic_bodies() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let url = pg.database("deps_model");
    pg.execute(
        &url,
        "CREATE TABLE limits (name text PRIMARY KEY, most integer);
        CREATE FUNCTION within(n integer) RETURNS boolean LANGUAGE sql STABLE
            BEGIN ATOMIC SELECT n <= (SELECT max(most) FROM limits); END;
        CREATE FUNCTION loose(n integer) RETURNS boolean LANGUAGE plpgsql STABLE
            AS $$BEGIN RETURN n <= (SELECT max(most) FROM limits); END$$;
        CREATE TABLE orders (id int, amount int, label text DEFAULT 'amount',
            CONSTRAINT fits CHECK (within(amount)), CONSTRAINT loosely CHECK (loose(amount)));
        ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
        CREATE POLICY mine ON orders USING (amount > 0 AND label <> 'id');",
    );
    let schema = rt.block_on(inspect(&url));
    let table = &schema.tables[&QualifiedName::new("public", "orders")];
    let used = |kind, name: &str, column: Option<&str>| Dependency {
        kind,
        name: QualifiedName::new("public", name),
        column: column.map(str::to_string),
    };
    assert_eq!(
        table.depends_on.constraints["fits"],
        [
            used(DependencyKind::Relation, "limits", Some("most")),
            used(DependencyKind::Relation, "orders", Some("amount")),
            used(DependencyKind::Routine, "within", None),
        ]
    );
    assert_eq!(
        table.depends_on.constraints["loosely"],
        [
            used(DependencyKind::Relation, "orders", Some("amount")),
            used(DependencyKind::Routine, "loose", None),
        ]
    );
    assert_eq!(
        table.depends_on.policies["mine"],
        [
            used(DependencyKind::Relation, "orders", Some("amount")),
            used(DependencyKind::Relation, "orders", Some("label")),
        ]
    );
    assert!(!table.depends_on.columns.contains_key("label"));
    // A routine's own list: what an atomic body uses directly, the types of any routine's
    // arguments and result; a PL/pgSQL body records nothing.
    assert_eq!(
        schema.routines["within(n integer)"].depends_on,
        [used(DependencyKind::Relation, "limits", Some("most"))]
    );
    assert!(schema.routines["loose(n integer)"].depends_on.is_empty());
}

/// What routines use, read from the catalog: types of arguments and results (any
/// language), an atomic body's relations, columns, types and routines (not those it calls
/// through them), an aggregate's support functions.
#[test]
fn routines_depend_on_what_the_catalog_records() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let url = pg.database("deps_routines");
    pg.execute(
        &url,
        "CREATE TYPE mood AS ENUM ('sad', 'ok');
        CREATE TABLE notes (id int, feeling text);
        CREATE FUNCTION calm(x text) RETURNS boolean LANGUAGE sql IMMUTABLE
            BEGIN ATOMIC SELECT x::mood <> 'sad'; END;
        CREATE FUNCTION calmest() RETURNS bigint LANGUAGE sql STABLE
            BEGIN ATOMIC SELECT count(*) FROM notes WHERE calm(feeling); END;
        CREATE FUNCTION loud(m mood) RETURNS mood[] LANGUAGE plpgsql
            AS $$BEGIN RETURN ARRAY[m, 'sad'::mood]; END$$;
        CREATE FUNCTION add_one(s bigint, x int) RETURNS bigint LANGUAGE sql IMMUTABLE
            BEGIN ATOMIC SELECT s + x; END;
        CREATE AGGREGATE tally(int) (SFUNC = add_one, STYPE = bigint, INITCOND = '0');",
    );
    let schema = rt.block_on(inspect(&url));
    let used = |kind, name: &str, column: Option<&str>| Dependency {
        kind,
        name: QualifiedName::new("public", name),
        column: column.map(str::to_string),
    };
    assert_eq!(
        schema.routines["calm(x text)"].depends_on,
        [used(DependencyKind::Type, "mood", None)]
    );
    assert_eq!(
        schema.routines["calmest()"].depends_on,
        [
            used(DependencyKind::Relation, "notes", Some("feeling")),
            used(DependencyKind::Routine, "calm", None),
        ]
    );
    assert_eq!(
        schema.routines["loud(m mood)"].depends_on,
        [used(DependencyKind::Type, "mood", None)]
    );
    assert_eq!(
        schema.routines["tally(integer)"].depends_on,
        [used(DependencyKind::Routine, "add_one", None)]
    );
    // `check`'s walk leaves them out with the tables' (only plans use them).
    let light = rt.block_on(schema::without_table_dependencies(inspect(&url)));
    assert!(light.routines.values().all(|r| r.depends_on.is_empty()));
    assert!(schema::diff(&light, &schema).is_empty());
}

/// An unchanged atomic function whose body uses a type made again, called by a check, a
/// default, a generated column, an expression index, a trigger's condition, a policy, a view
/// and another atomic function: the function goes after them and before the type, and comes
/// back after the type and before them. Both ways.
#[test]
fn an_atomic_function_using_a_type_made_again_is_made_again_with_its_callers() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let schema = |mood: &str| {
        format!(
            "{mood}
            CREATE FUNCTION calm(x text) RETURNS boolean LANGUAGE sql IMMUTABLE
                BEGIN ATOMIC SELECT x::mood <> 'sad'; END;
            CREATE FUNCTION restless(x text) RETURNS boolean LANGUAGE sql IMMUTABLE
                BEGIN ATOMIC SELECT NOT calm(x); END;
            CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql
                AS $$BEGIN RETURN NEW; END$$;
            CREATE TABLE notes (id int PRIMARY KEY, feeling text CHECK (calm(feeling)),
                settled boolean DEFAULT calm('ok'),
                quiet boolean GENERATED ALWAYS AS (calm(feeling)) STORED);
            CREATE INDEX notes_restless ON notes ((restless(feeling)));
            CREATE TRIGGER touch BEFORE UPDATE ON notes FOR EACH ROW
                WHEN (calm(NEW.feeling)) EXECUTE FUNCTION stamp();
            ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
            CREATE POLICY calm_only ON notes USING (calm(feeling));
            CREATE VIEW calm_notes AS SELECT id FROM notes WHERE calm(feeling);
            INSERT INTO notes (id, feeling) VALUES (1, 'ok');"
        )
    };
    let (a, b) = (schema(MOOD_A), schema(MOOD_B));
    let rows = (
        "SELECT n.id || '|' || feeling || '|' || settled || '|' || quiet || '|' || v.id \
         FROM notes n JOIN calm_notes v USING (id)",
        &["1|ok|true|true|1"][..],
    );
    let script = apply(&pg, &rt, "atomic_type_forward", (&a, &b), rows);
    let at = |statement: &str| {
        script
            .find(statement)
            .unwrap_or_else(|| panic!("{statement}\n{script}"))
    };
    assert!(at("DROP VIEW calm_notes;") < at("DROP FUNCTION calm(x text);"));
    assert!(at("DROP FUNCTION restless(x text);") < at("DROP FUNCTION calm(x text);"));
    assert!(at("DROP CONSTRAINT notes_feeling_check;") < at("DROP FUNCTION calm(x text);"));
    assert!(
        at("CREATE OR REPLACE FUNCTION public.calm(") < at("ADD CONSTRAINT notes_feeling_check")
    );
    apply(&pg, &rt, "atomic_type_backward", (&b, &a), rows);
}

/// An unchanged atomic function whose body reads a column of another table that changes
/// type, called by a check: the server refuses the change while the function exists, so it
/// and the check go first and come back after. Both ways.
#[test]
fn an_atomic_function_reading_a_retyped_column_is_made_again_with_its_callers() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let schema = |most: &str| {
        format!(
            "CREATE TABLE limits (name text PRIMARY KEY, most {most});
            CREATE FUNCTION within(n integer) RETURNS boolean LANGUAGE sql STABLE
                BEGIN ATOMIC SELECT n <= (SELECT max(most) FROM limits); END;
            CREATE TABLE orders (id int PRIMARY KEY, amount int,
                CONSTRAINT fits CHECK (within(amount)));
            INSERT INTO limits VALUES ('all', 10);
            INSERT INTO orders VALUES (1, 7);"
        )
    };
    let (a, b) = (schema("integer"), schema("bigint"));
    let rows = (
        "SELECT o.id || '|' || amount || '|' || most FROM orders o, limits",
        &["1|7|10"][..],
    );
    let script = apply(&pg, &rt, "atomic_column_forward", (&a, &b), rows);
    assert!(script.contains("DROP CONSTRAINT fits;"), "{script}");
    apply(&pg, &rt, "atomic_column_backward", (&b, &a), rows);
}

/// New atomic functions called by a new view, a new check, a new column's default and a
/// kept column's new default on a kept table: each is created before them (after the views
/// would be too late), and dropped after them. Both ways.
#[test]
fn a_new_atomic_function_comes_before_the_views_and_checks_calling_it() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let a = "CREATE TABLE orders (id int PRIMARY KEY, amount int);
        INSERT INTO orders VALUES (1, 7);";
    let b = "CREATE FUNCTION small(n integer) RETURNS boolean LANGUAGE sql IMMUTABLE
            BEGIN ATOMIC SELECT n < 100; END;
        CREATE FUNCTION one() RETURNS integer LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT 1; END;
        CREATE TABLE orders (id int PRIMARY KEY, amount int DEFAULT one(),
            fine boolean DEFAULT small(5), CONSTRAINT fits CHECK (small(amount)));
        CREATE VIEW small_orders AS SELECT id FROM orders WHERE small(amount);
        INSERT INTO orders VALUES (1, 7);";
    apply(
        &pg,
        &rt,
        "atomic_new_forward",
        (a, b),
        (
            "SELECT id || '|' || amount || '|' || fine FROM orders",
            &["1|7|true"],
        ),
    );
    apply(
        &pg,
        &rt,
        "atomic_new_backward",
        (b, a),
        ("SELECT id || '|' || amount FROM orders", &["1|7"]),
    );
}

/// An unchanged atomic function reading a view whose definition changes: it goes before the
/// view and comes back after it. Both ways.
#[test]
fn an_atomic_function_reading_a_rebuilt_view_is_made_again_after_it() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let schema = |least: &str| {
        format!(
            "CREATE TABLE orders (id int PRIMARY KEY, amount int);
            CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > {least};
            CREATE FUNCTION big_count() RETURNS bigint LANGUAGE sql STABLE
                BEGIN ATOMIC SELECT count(*) FROM big_orders; END;
            INSERT INTO orders VALUES (1, 7), (2, 70);"
        )
    };
    let (a, b) = (schema("5"), schema("50"));
    let script = apply(
        &pg,
        &rt,
        "atomic_view_forward",
        (&a, &b),
        ("SELECT big_count()::text", &["1"]),
    );
    assert!(script.contains("DROP FUNCTION big_count();"), "{script}");
    apply(
        &pg,
        &rt,
        "atomic_view_backward",
        (&b, &a),
        ("SELECT big_count()::text", &["2"]),
    );
}

/// Atomic functions without a table in their body: one taking a table's row is created
/// after the table; one using only its argument before a new table whose default calls it,
/// and dropped after a dropped table whose default calls it. Both ways.
#[test]
fn atomic_functions_without_a_table_in_their_body_go_around_the_tables() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let a = "CREATE TABLE kept (id int PRIMARY KEY);
        INSERT INTO kept VALUES (1);";
    let b = "CREATE TABLE kept (id int PRIMARY KEY);
        CREATE FUNCTION plus(x integer) RETURNS integer LANGUAGE sql IMMUTABLE
            BEGIN ATOMIC SELECT x + 1; END;
        CREATE TABLE counters (id int PRIMARY KEY, n int DEFAULT plus(1));
        CREATE FUNCTION twice(c counters) RETURNS integer LANGUAGE sql IMMUTABLE
            BEGIN ATOMIC SELECT c.n * 2; END;
        INSERT INTO kept VALUES (1);";
    let rows = ("SELECT id::text FROM kept", &["1"][..]);
    apply(&pg, &rt, "atomic_plain_forward", (a, b), rows);
    apply(&pg, &rt, "atomic_plain_backward", (b, a), rows);
}
