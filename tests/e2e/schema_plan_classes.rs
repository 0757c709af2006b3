//! Classes of plans `diff --sql` once got wrong, against real databases (issue 13, items 7
//! and 8). Inheritance: a column a
//! child inherits in one schema and defines itself in the other, or both; a default that is
//! each table's own. Constraints the rows refuse stop the plan in its up-front checks. Each pair is
//! planned both ways on tables holding rows; the plan is applied statement by statement, each
//! on a connection of its own, and then the model must be the target's (apart from what the
//! plan says it cannot express) and the rows that both schemas keep must still be there.

use crate::support;

use std::time::Duration;

use cargo_migrate::db::{ConnectOptions, Database, DatabaseUrl};
use cargo_migrate::dialect::Dialect;
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

/// What one direction of a pair must give.
struct Expect {
    /// The plan's `cannot express` changes.
    unsupported: &'static [&'static str],
    /// The differences left after applying the plan (those it cannot express), as summaries.
    left: &'static [&'static str],
    /// A query on the planned database and its rows, one string per row (columns joined
    /// with `|`): the data both schemas keep.
    rows: (&'static str, &'static [&'static str]),
}

struct Case {
    label: &'static str,
    a: &'static str,
    b: &'static str,
    forward: Expect,
    backward: Expect,
}

const NOTES: &str = "SELECT id || '|' || coalesce(note, 'null') FROM child ORDER BY id";

const CASES: &[Case] = &[
    Case {
        // The parent's column goes; the child keeps it as its own, with its values: the drop
        // must not reach the child (`ONLY`). Back: the parent gains the column, and the
        // server merges the child's into it, which stays the child's own too.
        label: "inherited only ↔ the child's own",
        a: "CREATE TABLE parent (id integer, note text);
            CREATE TABLE child () INHERITS (parent);
            INSERT INTO child VALUES (1, 'kept');",
        b: "CREATE TABLE parent (id integer);
            CREATE TABLE child (note text) INHERITS (parent);
            INSERT INTO child VALUES (1, 'kept');",
        forward: Expect {
            unsupported: &[],
            left: &[],
            rows: (NOTES, &["1|kept"]),
        },
        backward: Expect {
            unsupported: &["column child.note: inherited and the table's own → inherited only"],
            left: &["~ column child.note: also local true → false"],
            rows: (NOTES, &["1|kept"]),
        },
    },
    Case {
        // Inherited and the child's own: the parent's drop leaves it; back, merged again.
        label: "inherited and own ↔ own only",
        a: "CREATE TABLE parent (id integer, note text);
            CREATE TABLE child (note text) INHERITS (parent);
            INSERT INTO child VALUES (1, 'kept');",
        b: "CREATE TABLE parent (id integer);
            CREATE TABLE child (note text) INHERITS (parent);
            INSERT INTO child VALUES (1, 'kept');",
        forward: Expect {
            unsupported: &[],
            left: &[],
            rows: (NOTES, &["1|kept"]),
        },
        backward: Expect {
            unsupported: &[],
            left: &[],
            rows: (NOTES, &["1|kept"]),
        },
    },
    Case {
        // Both lose it: the child's own copy survives the parent's drop and needs a drop of
        // its own after it; back, the child's copy is added before the parent's, so that it
        // is merged and stays the child's own.
        label: "inherited and own ↔ gone from both",
        a: "CREATE TABLE parent (id integer, note text);
            CREATE TABLE child (note text) INHERITS (parent);
            INSERT INTO child VALUES (1, 'dropped');",
        b: "CREATE TABLE parent (id integer);
            CREATE TABLE child () INHERITS (parent);
            INSERT INTO child VALUES (1);",
        forward: Expect {
            unsupported: &[],
            left: &[],
            rows: ("SELECT id::text FROM child", &["1"]),
        },
        backward: Expect {
            unsupported: &[],
            left: &[],
            rows: (NOTES, &["1|null"]),
        },
    },
    Case {
        // Three generations and a sibling: the middle table keeps the column as its own (its
        // child goes on inheriting it from there), the sibling loses it.
        label: "a middle generation keeps what its parent drops, a sibling does not",
        a: "CREATE TABLE parent (id integer, note text);
            CREATE TABLE child () INHERITS (parent);
            CREATE TABLE grandchild () INHERITS (child);
            CREATE TABLE sibling () INHERITS (parent);
            INSERT INTO child VALUES (1, 'kept');
            INSERT INTO grandchild VALUES (2, 'kept too');
            INSERT INTO sibling VALUES (3, 'dropped');",
        b: "CREATE TABLE parent (id integer);
            CREATE TABLE child (note text) INHERITS (parent);
            CREATE TABLE grandchild () INHERITS (child);
            CREATE TABLE sibling () INHERITS (parent);
            INSERT INTO child VALUES (1, 'kept');
            INSERT INTO grandchild VALUES (2, 'kept too');
            INSERT INTO sibling VALUES (3);",
        forward: Expect {
            unsupported: &[],
            left: &[],
            rows: (
                "SELECT id || '|' || coalesce(note, 'null') FROM child ORDER BY id",
                &["1|kept", "2|kept too"],
            ),
        },
        backward: Expect {
            unsupported: &["column child.note: inherited and the table's own → inherited only"],
            left: &["~ column child.note: also local true → false"],
            rows: (
                "SELECT id || '|' || coalesce(note, 'null') FROM parent ORDER BY id",
                &["1|kept", "2|kept too", "3|null"],
            ),
        },
    },
    Case {
        // The child leaves its parent and loses one of its columns: once it no longer
        // inherits them they are its own, and the one it loses needs a drop of its own. Back,
        // the child must have the parent's columns before it inherits it: added as its own.
        label: "a child leaves its parent and loses a column",
        a: "CREATE TABLE parent (id integer, note text);
            CREATE TABLE child (extra text) INHERITS (parent);
            INSERT INTO child VALUES (1, 'dropped', 'x');",
        b: "CREATE TABLE parent (id integer, note text);
            CREATE TABLE child (id integer, extra text);
            INSERT INTO child VALUES (1, 'x');",
        forward: Expect {
            unsupported: &[],
            left: &[],
            rows: ("SELECT id || '|' || extra FROM child", &["1|x"]),
        },
        backward: Expect {
            unsupported: &[
                "column child.id: inherited and the table's own → inherited only",
                "column child.note: inherited and the table's own → inherited only",
            ],
            left: &[
                "~ column child.id: also local true → false",
                "~ column child.note: also local true → false",
            ],
            rows: (NOTES, &["1|null"]),
        },
    },
    Case {
        // A parent's default changes; the child's column is its own with its own default,
        // which the parent's change must not reach (`ALTER TABLE ONLY`), both ways.
        label: "a parent's default changes, a child keeps its own",
        a: "CREATE TABLE parent (id integer, note text DEFAULT 'p');
            CREATE TABLE child (note text DEFAULT 'c') INHERITS (parent);
            INSERT INTO child VALUES (1, 'kept');",
        b: "CREATE TABLE parent (id integer, note text);
            CREATE TABLE child (note text DEFAULT 'c') INHERITS (parent);
            INSERT INTO child VALUES (1, 'kept');",
        forward: Expect {
            unsupported: &[],
            left: &[],
            rows: (NOTES, &["1|kept"]),
        },
        backward: Expect {
            unsupported: &[],
            left: &[],
            rows: (NOTES, &["1|kept"]),
        },
    },
    Case {
        // The parent's column changes type and default; the child inherits the column but
        // has a default of its own on one side: each table's default has its own statement,
        // the child's after the parent's type change reached it.
        label: "a parent's column changes type and default, an inheriting child's differs",
        a: "CREATE TABLE parent (id integer, note integer DEFAULT 1);
            CREATE TABLE child () INHERITS (parent);
            ALTER TABLE child ALTER COLUMN note SET DEFAULT 2;
            INSERT INTO child VALUES (1, 5);",
        b: "CREATE TABLE parent (id integer, note bigint DEFAULT 3);
            CREATE TABLE child () INHERITS (parent);
            INSERT INTO child VALUES (1, 5);",
        forward: Expect {
            unsupported: &[],
            left: &[],
            rows: ("SELECT id || '|' || note FROM child", &["1|5"]),
        },
        backward: Expect {
            unsupported: &[],
            left: &[],
            rows: ("SELECT id || '|' || note FROM child", &["1|5"]),
        },
    },
    Case {
        // The same with partitions: each partition's default is its own too.
        label: "a partitioned table's default changes, and its partition's",
        a: "CREATE TABLE parent (id integer, note text DEFAULT 'p') PARTITION BY RANGE (id);
            CREATE TABLE part PARTITION OF parent FOR VALUES FROM (0) TO (10);
            CREATE TABLE other PARTITION OF parent FOR VALUES FROM (10) TO (20);
            ALTER TABLE other ALTER COLUMN note SET DEFAULT 'o';
            INSERT INTO parent VALUES (1, 'kept'), (11, 'kept too');",
        b: "CREATE TABLE parent (id integer, note text) PARTITION BY RANGE (id);
            CREATE TABLE part PARTITION OF parent FOR VALUES FROM (0) TO (10);
            CREATE TABLE other PARTITION OF parent FOR VALUES FROM (10) TO (20);
            ALTER TABLE other ALTER COLUMN note SET DEFAULT 'o';
            INSERT INTO parent VALUES (1, 'kept'), (11, 'kept too');",
        forward: Expect {
            unsupported: &[],
            left: &[],
            rows: (
                "SELECT id || '|' || note FROM parent ORDER BY id",
                &["1|kept", "11|kept too"],
            ),
        },
        backward: Expect {
            unsupported: &[],
            left: &[],
            rows: (
                "SELECT id || '|' || note FROM parent ORDER BY id",
                &["1|kept", "11|kept too"],
            ),
        },
    },
];

#[test]
fn inherited_and_own_columns_keep_their_rows_both_ways() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    for (at, case) in CASES.iter().enumerate() {
        for (direction, (a, b, expect)) in [
            ("forward", (case.a, case.b, &case.forward)),
            ("backward", (case.b, case.a, &case.backward)),
        ] {
            let label = format!("{} ({direction})", case.label);
            let urls: Vec<String> = (0..3)
                .map(|n| pg.database(&format!("inherit{at}_{direction}_{n}")))
                .collect();
            pg.execute(&urls[0], a);
            pg.execute(&urls[1], b);
            pg.execute(&urls[2], a);
            let (from, to) =
                rt.block_on(async { (inspect(&urls[0]).await, inspect(&urls[1]).await) });
            let plan = schema::plan(&from, &to);
            let unsupported: Vec<&str> =
                plan.unsupported.iter().map(|u| u.change.as_str()).collect();
            assert_eq!(
                unsupported,
                expect.unsupported,
                "{label}: what the plan cannot express\n{}",
                plan.script()
            );
            // Each statement on a connection of its own.
            if let Err(stopped) = pg.apply_plan(&urls[2], &plan) {
                panic!("{label}: {}\n{}", stopped.error, plan.script());
            }
            let after = rt.block_on(inspect(&urls[2]));
            let left: Vec<String> = schema::diff(&after, &to)
                .iter()
                .map(|change| change.summary())
                .collect();
            assert_eq!(
                left,
                expect.left,
                "{label}: differences left\n{}",
                plan.script()
            );
            let (query, expected) = expect.rows;
            let rows: Vec<String> = pg
                .query(&urls[2], query)
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(Option::unwrap_or_default)
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect();
            assert_eq!(rows, expected, "{label}: rows\n{}", plan.script());
        }
    }
}

/// The drops the server makes with a parent's, and the ones the plan must write itself.
#[test]
fn a_parents_drop_reaches_only_children_that_lose_the_column() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let plan_of = |at: usize| {
        let case = &CASES[at];
        let (a, b) = (
            pg.database(&format!("drops{at}_a")),
            pg.database(&format!("drops{at}_b")),
        );
        pg.execute(&a, case.a);
        pg.execute(&b, case.b);
        let (from, to) = rt.block_on(async { (inspect(&a).await, inspect(&b).await) });
        schema::plan(&from, &to)
    };
    // The middle generation keeps it: ONLY, then the sibling's own drop, after it.
    let plan = plan_of(3);
    assert_eq!(
        plan.statements,
        [
            "ALTER TABLE ONLY parent DROP COLUMN note;",
            "ALTER TABLE sibling DROP COLUMN note;",
        ]
    );
    assert!(plan.destructive(0).is_some() && plan.destructive(1).is_some());
    // The child's own copy outlives the parent's and goes after it.
    let plan = plan_of(2);
    assert_eq!(
        plan.statements,
        [
            "ALTER TABLE parent DROP COLUMN note;",
            "ALTER TABLE child DROP COLUMN note;",
        ]
    );
}

/// Planned `a` → `b` on databases built from them, and the three URLs (a, b, a third made
/// like `a` for the plan to be applied to).
fn planned(
    pg: &support::Pg,
    rt: &tokio::runtime::Runtime,
    tag: &str,
    a: &str,
    b: &str,
) -> (schema::Plan, Schema, Schema, String) {
    let urls: Vec<String> = (0..3).map(|n| pg.database(&format!("{tag}_{n}"))).collect();
    pg.execute(&urls[0], a);
    pg.execute(&urls[1], b);
    pg.execute(&urls[2], a);
    let (from, to) = rt.block_on(async { (inspect(&urls[0]).await, inspect(&urls[1]).await) });
    (schema::plan(&from, &to), from, to, urls[2].clone())
}

/// Columns moving between types PostgreSQL has no cast between (domains over two enums, an
/// enum to a domain over another, a domain to an enum) go through text, and the plan says so.
#[test]
fn cast_less_type_changes_go_through_text_both_ways() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let types = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
        CREATE TYPE feeling AS ENUM ('sad', 'ok', 'happy', 'elated');
        CREATE DOMAIN mood_d AS mood; CREATE DOMAIN feeling_d AS feeling;";
    let a = format!(
        "{types} CREATE TABLE people (id int, a mood_d, b mood, c mood_d, d mood_d[]);
        INSERT INTO people VALUES (1, 'ok', 'happy', 'sad', '{{ok,sad}}');"
    );
    let b = format!(
        "{types} CREATE TABLE people (id int, a feeling_d, b feeling_d, c feeling, d feeling_d[]);
        INSERT INTO people VALUES (1, 'ok', 'happy', 'sad', '{{ok,sad}}');"
    );
    for (direction, from_sql, to_sql) in [("forward", &a, &b), ("backward", &b, &a)] {
        let (plan, _, to, url) =
            planned(&pg, &rt, &format!("castless_{direction}"), from_sql, to_sql);
        assert!(plan.is_complete(), "{direction}: {:?}", plan.unsupported);
        let script = plan.script();
        for column in ["a", "b", "c"] {
            assert!(
                plan.statements.iter().any(|s| s
                    .starts_with(&format!("ALTER TABLE people ALTER COLUMN {column} TYPE"))
                    && s.contains(&format!("USING {column}::text::"))),
                "{direction}: {column} through text\n{script}"
            );
        }
        assert!(
            script.contains("-- note: people.a: no cast from "),
            "{direction}: the plan says so\n{script}"
        );
        assert_eq!(plan.notes.len(), 4, "{direction}: {:?}", plan.notes);
        if let Err(stopped) = pg.apply_plan(&url, &plan) {
            panic!("{direction}: {}\n{script}", stopped.error);
        }
        let after = rt.block_on(inspect(&url));
        let left: Vec<String> = schema::diff(&after, &to)
            .iter()
            .map(|c| c.summary())
            .collect();
        assert!(left.is_empty(), "{direction}: {left:?}\n{script}");
        let rows = pg.query(
            &url,
            "SELECT id || '|' || a || '|' || b || '|' || c || '|' || d::text FROM people",
        );
        assert_eq!(
            rows,
            [[Some("1|ok|happy|sad|{ok,sad}".to_string())]],
            "{direction}"
        );
    }
}

/// What can fail on the rows is checked before anything changes: the plan stops at its first
/// statements with nothing applied; once the rows fit, it runs through, and its statements
/// marked safe to re-run run again without error or change.
#[test]
fn plans_check_rows_first_and_mark_what_may_run_again() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let a = "CREATE TYPE mood AS ENUM ('sad', 'meh', 'ok');
        CREATE TABLE t (id int, n integer, s text, m mood DEFAULT 'ok');
        CREATE TABLE gone (id int);
        INSERT INTO t VALUES (1, NULL, 'x', 'ok'), (2, 100000, 'y', 'meh');";
    let b = "CREATE TYPE mood AS ENUM ('sad', 'ok');
        CREATE TABLE t (id int, n smallint NOT NULL DEFAULT 0, s text, m mood DEFAULT 'ok');
        COMMENT ON TABLE t IS 'fits';";
    let (plan, from, to, url) = planned(&pg, &rt, "checks_first", a, b);
    assert!(plan.is_complete(), "{:?}", plan.unsupported);
    let script = plan.script();
    let checks: Vec<usize> = (0..plan.statements.len())
        .filter(|at| plan.statements[*at].starts_with("DO $check$"))
        .collect();
    // NOT NULL, the narrower integer, the enum without 'meh': first, and safe to re-run.
    assert_eq!(checks, [0, 1, 2], "{script}");
    for at in &checks {
        assert!(plan.rerun_safe.contains(at), "{script}");
    }
    // The first failure is a check: nothing was applied.
    let support::Stopped { at, error } = pg
        .apply_plan(&url, &plan)
        .expect_err("the plan stops on the rows");
    assert!(checks.contains(&at), "stopped at {at}: {error}\n{script}");
    assert!(
        error.contains("the plan stops before changing anything"),
        "{error}"
    );
    let unchanged = rt.block_on(inspect(&url));
    assert!(
        schema::diff(&unchanged, &from).is_empty(),
        "nothing applied"
    );
    // Rows made to fit: it runs through.
    pg.execute(&url, "UPDATE t SET n = 1 WHERE n IS NULL; UPDATE t SET n = 2 WHERE n > 30000; UPDATE t SET m = 'ok' WHERE m = 'meh';");
    if let Err(stopped) = pg.apply_plan(&url, &plan) {
        panic!("{}\n{script}", stopped.error);
    }
    // What is marked safe runs again, and changes nothing.
    assert!(
        plan.rerun_safe
            .iter()
            .any(|at| plan.statements[*at].ends_with("SET NOT NULL;")),
        "{script}"
    );
    assert!(
        plan.rerun_safe
            .iter()
            .any(|at| plan.statements[*at].starts_with("COMMENT ON TABLE")),
        "{script}"
    );
    assert!(
        !plan
            .rerun_safe
            .iter()
            .any(|at| plan.statements[*at].starts_with("DROP TABLE")),
        "{script}"
    );
    for at in &plan.rerun_safe {
        pg.execute(&url, &plan.statements[*at]);
    }
    let after = rt.block_on(inspect(&url));
    let left: Vec<String> = schema::diff(&after, &to)
        .iter()
        .map(|c| c.summary())
        .collect();
    assert!(left.is_empty(), "{left:?}\n{script}");
    assert!(script.contains("-- safe to re-run\nDO $check$"), "{script}");
}

/// A pair whose plans add constraints the other side's rows do not satisfy: `a`, `b`, rows
/// fitting `a` but not `b` (and the update that makes them fit `b`), and the same for `b`.
struct Misfit {
    label: &'static str,
    a: &'static str,
    b: &'static str,
    /// Rows of `a` that `b` refuses, then the statements that make them fit.
    a_rows: (&'static str, &'static str),
    b_rows: (&'static str, &'static str),
}

const MISFITS: &[Misfit] = &[
    Misfit {
        label: "a foreign key moves to another column",
        a: "CREATE TABLE parent (id integer PRIMARY KEY);
            CREATE TABLE t (id integer, p1 integer REFERENCES parent (id), p2 integer);
            INSERT INTO parent VALUES (1);",
        b: "CREATE TABLE parent (id integer PRIMARY KEY);
            CREATE TABLE t (id integer, p1 integer, p2 integer REFERENCES parent (id));
            INSERT INTO parent VALUES (1);",
        a_rows: (
            "INSERT INTO t VALUES (1, 1, 9), (2, NULL, NULL);",
            "UPDATE t SET p2 = 1;",
        ),
        b_rows: (
            "INSERT INTO t VALUES (1, 9, 1), (2, NULL, NULL);",
            "UPDATE t SET p1 = NULL;",
        ),
    },
    Misfit {
        label: "a check moves to another column",
        a: "CREATE TABLE t (id integer, a integer CHECK (a > 0), b integer);",
        b: "CREATE TABLE t (id integer, a integer, b integer CHECK (b > 0));",
        a_rows: (
            "INSERT INTO t VALUES (1, 1, -1), (2, 1, NULL);",
            "UPDATE t SET b = 1;",
        ),
        b_rows: ("INSERT INTO t VALUES (1, -1, 1);", "UPDATE t SET a = 1;"),
    },
    Misfit {
        label: "the primary key and a unique key move to other columns",
        a: "CREATE TABLE t (id integer PRIMARY KEY, code text, u1 text UNIQUE, u2 text);",
        b: "CREATE TABLE t (id integer, code text PRIMARY KEY, u1 text, u2 text UNIQUE);",
        a_rows: (
            "INSERT INTO t VALUES (1, 'x', 'a', 'z'), (2, 'y', 'b', 'z'), (3, 'w', NULL, NULL), \
             (4, 'v', NULL, NULL);",
            "UPDATE t SET u2 = id::text;",
        ),
        b_rows: (
            "INSERT INTO t VALUES (1, 'x', 'z', 'a'), (1, 'y', 'z', 'b');",
            "UPDATE t SET id = ascii(code), u1 = code;",
        ),
    },
    Misfit {
        label: "a unique index moves to another column, with a predicate",
        a: "CREATE TABLE t (id integer, a text, b text); CREATE UNIQUE INDEX t_a ON t (a);",
        b: "CREATE TABLE t (id integer, a text, b text);
            CREATE UNIQUE INDEX t_b ON t (b) WHERE b <> 'free';",
        a_rows: (
            "INSERT INTO t VALUES (1, 'x', 'z'), (2, 'y', 'z'), (3, 'w', 'free'), \
             (4, 'v', 'free'), (5, NULL, NULL), (6, NULL, NULL);",
            "UPDATE t SET b = a WHERE b = 'z';",
        ),
        b_rows: (
            "INSERT INTO t VALUES (1, 'x', 'a'), (2, 'x', 'b');",
            "UPDATE t SET a = b;",
        ),
    },
    Misfit {
        // The property test's seeds 6221380 and 6221469: the rows take the new column's
        // default (a constant, a function's result, a sequence's next values).
        label: "a new column with a default and a foreign key",
        a: "CREATE TABLE parent (id integer PRIMARY KEY);
            CREATE SEQUENCE s START 10;
            CREATE FUNCTION seven() RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 7';
            CREATE TABLE t (id integer);
            INSERT INTO parent VALUES (1);",
        b: "CREATE TABLE parent (id integer PRIMARY KEY);
            CREATE SEQUENCE s START 10;
            CREATE FUNCTION seven() RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 7';
            CREATE TABLE t (id integer,
                c integer NOT NULL DEFAULT 7 REFERENCES parent (id),
                f integer DEFAULT seven() REFERENCES parent (id),
                n integer NOT NULL DEFAULT nextval('s') REFERENCES parent (id));
            INSERT INTO parent VALUES (1);",
        a_rows: (
            "INSERT INTO t VALUES (1), (2);",
            "INSERT INTO parent VALUES (7), (10), (11);",
        ),
        // Back, the columns go: nothing to check.
        b_rows: ("INSERT INTO t VALUES (1, 1, 1, 1);", ""),
    },
    Misfit {
        label: "a foreign key to a table the plan creates",
        a: "CREATE TABLE t (id integer, p integer);",
        b: "CREATE TABLE other (id integer PRIMARY KEY);
            CREATE TABLE t (id integer, p integer REFERENCES other (id));",
        a_rows: (
            "INSERT INTO t VALUES (1, 5), (2, NULL);",
            "UPDATE t SET p = NULL;",
        ),
        b_rows: (
            "INSERT INTO other VALUES (5); INSERT INTO t VALUES (1, 5);",
            "",
        ),
    },
];

/// A constraint the plan adds that the rows do not satisfy (a foreign key without a match,
/// a failing check, a repeated key) stops the plan in its up-front checks, before anything
/// changed; once the rows fit, the plan runs through to the target. Both ways.
#[test]
fn new_constraints_the_rows_refuse_stop_the_plan_before_any_change() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    for (at, misfit) in MISFITS.iter().enumerate() {
        for (direction, from_sql, to_sql, (rows, fix)) in [
            ("forward", misfit.a, misfit.b, misfit.a_rows),
            ("backward", misfit.b, misfit.a, misfit.b_rows),
        ] {
            let label = format!("{} ({direction})", misfit.label);
            let (plan, from, to, url) = planned(
                &pg,
                &rt,
                &format!("misfit{at}_{direction}"),
                from_sql,
                to_sql,
            );
            assert!(plan.is_complete(), "{label}: {:?}", plan.unsupported);
            let script = plan.script();
            pg.execute(&url, rows);
            if !fix.is_empty() {
                let support::Stopped { at: stopped, error } = pg
                    .apply_plan(&url, &plan)
                    .err()
                    .unwrap_or_else(|| panic!("{label}: the rows should stop it\n{script}"));
                assert!(
                    plan.statements[stopped].starts_with("DO $check$"),
                    "{label}: stopped at {stopped}: {error}\n{script}"
                );
                assert!(
                    error.contains("the plan stops before changing anything"),
                    "{label}: {error}"
                );
                let unchanged = rt.block_on(inspect(&url));
                assert!(
                    schema::diff(&unchanged, &from).is_empty(),
                    "{label}: nothing applied\n{script}"
                );
                pg.execute(&url, fix);
            }
            if let Err(stopped) = pg.apply_plan(&url, &plan) {
                panic!("{label}: once the rows fit, {}\n{script}", stopped.error);
            }
            let after = rt.block_on(inspect(&url));
            let left: Vec<String> = schema::diff(&after, &to)
                .iter()
                .map(|c| c.summary())
                .collect();
            assert!(left.is_empty(), "{label}: {left:?}\n{script}");
        }
    }
}

/// What cannot be checked before the plan runs (a foreign key on a column whose type the
/// plan changes) is said in a note on the statement that adds the constraint.
#[test]
fn a_constraint_the_checks_cannot_cover_has_a_note() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let a = "CREATE TABLE parent (id integer PRIMARY KEY);
        CREATE TABLE t (id integer, p bigint);";
    let b = "CREATE TABLE parent (id integer PRIMARY KEY);
        CREATE TABLE t (id integer, p integer REFERENCES parent (id));";
    let (plan, _, _, _) = planned(&pg, &rt, "unchecked_note", a, b);
    let script = plan.script();
    assert!(
        script.contains(
            "-- note: not checked before the plan runs (t.p changes): the rows may refuse it\n\
             ALTER TABLE t ADD CONSTRAINT t_p_fkey"
        ),
        "{script}"
    );
}
