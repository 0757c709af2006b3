//! `diff --sql`'s planner against real databases: for pairs of schemas made by hand (both
//! ways), and for every step of real histories (forwards, backwards, in jumps of many steps,
//! and the whole schema from nothing and back), applying the plan from A to a database at A
//! must give B's model exactly (DESIGN.md §6). `SHOW_PLANS=1` prints the pairs' plans.

use crate::support;

use std::path::Path;
use std::time::Duration;

use cargo_migrate::db::history::HistoryFormat;
use cargo_migrate::db::{ConnectOptions, Database, DatabaseUrl, Direction};
use cargo_migrate::dialect::Dialect;
use cargo_migrate::engine::replay::Replayer;
use cargo_migrate::migration::{ScanOptions, scan};
use cargo_migrate::schema::{self, Excluded, Schema};
use support::Workspace;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn history() -> Vec<Excluded> {
    vec![Excluded {
        schema: "public".into(),
        table: "_cargo_migrate".into(),
    }]
}

async fn connect(url: &str, dialect: Dialect) -> Database {
    let options = ConnectOptions {
        wait: Duration::ZERO,
        connect_timeout: Duration::from_secs(10),
        lock_timeout: Duration::from_secs(5),
        create_if_missing: true,
    };
    Database::connect(&DatabaseUrl::sandbox(url, dialect), &options, |_| {})
        .await
        .expect("connect")
}

/// Runs each statement on its own (a new enum label cannot be used in the transaction that
/// added it).
async fn apply(db: &mut Database, statements: &[String], context: &str) {
    for statement in statements {
        if let Err(error) = db.execute(statement).await {
            panic!(
                "{context}: applying the plan failed at\n{statement}\n{error:?}\n\nplan:\n{}",
                statements.join("\n")
            );
        }
    }
}

/// A database made by `sql`, and its model.
async fn build(url: &str, dialect: Dialect, sql: &str) -> Schema {
    let mut db = connect(url, dialect).await;
    if !sql.trim().is_empty() {
        db.execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
    db.inspect(&history()).await.expect("inspect")
}

/// Plans `a` → `b`, applies the plan on a third database made like `a`, and checks that its
/// model is `b`'s.
async fn round_trip(urls: [&str; 3], dialect: Dialect, label: &str, a: &str, b: &str) {
    let from = build(urls[0], dialect, a).await;
    let to = build(urls[1], dialect, b).await;
    let plan = schema::plan(&from, &to);
    if IRREVERSIBLE.contains(&label) {
        assert!(
            !plan.unsupported.is_empty(),
            "{label}: expected to be reported as not expressible; plan:\n{}",
            plan.statements.join("\n")
        );
        return;
    }
    assert!(
        plan.unsupported.is_empty(),
        "{label}: unsupported {:?}\nplan:\n{}",
        plan.unsupported,
        plan.statements.join("\n")
    );
    if std::env::var("SHOW_PLANS").is_ok() {
        eprintln!("== {label}\n{}", plan.statements.join("\n"));
    }
    let mut db = connect(urls[2], dialect).await;
    if !a.trim().is_empty() {
        db.execute(a).await.expect("build a");
    }
    apply(&mut db, &plan.statements, label).await;
    let after = db.inspect(&history()).await.expect("inspect");
    let left = schema::diff(&after, &to);
    assert!(
        left.is_empty(),
        "{label}: the plan leaves differences:\n{}\nplan:\n{}",
        left.iter()
            .map(|c| c.summary())
            .collect::<Vec<_>>()
            .join("\n"),
        plan.statements.join("\n")
    );
}

/// Directions that cannot be expressed, and must be reported as such.
const IRREVERSIBLE: &[&str] = &[
    // A composite's attribute cannot change type while a column uses it.
    "composite attribute retyped in use (forward)",
    "composite attribute retyped in use (backward)",
    // Nor its collation.
    "composite attribute collation changed in use (forward)",
    "composite attribute collation changed in use (backward)",
];

/// Hand-made pairs of PostgreSQL schemas: each object kind added, removed and altered.
const PG_PAIRS: &[(&str, &str, &str)] = &[
    (
        "empty and everything",
        "",
        r#"
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'application';
CREATE EXTENSION pg_trgm;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.positive AS integer NOT NULL DEFAULT 1 CONSTRAINT positive_check CHECK (VALUE > 0);
CREATE TYPE app.pair AS (left_value integer, right_value text);
CREATE TYPE floatrange AS RANGE (subtype = float8);
CREATE SEQUENCE app.invoice_numbers AS integer START 1000 INCREMENT 5 MINVALUE 1000 MAXVALUE 999999 CACHE 10 CYCLE;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.created_at := now(); RETURN NEW; END $$;
CREATE FUNCTION app.add(a integer, b integer DEFAULT 1) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE AGGREGATE app.total(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '0');
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 2) PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name varchar(100) COLLATE "C",
    mood mood DEFAULT 'ok',
    score numeric(10, 2) NOT NULL DEFAULT 0 CHECK (score >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    bonus integer DEFAULT app.add(1, 2),
    email_domain text GENERATED ALWAYS AS (split_part(email, '@', 2)) STORED
);
COMMENT ON TABLE users IS 'people';
COMMENT ON COLUMN users.email IS 'login';
CREATE TABLE app.posts (
    id serial PRIMARY KEY,
    author_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    title text NOT NULL,
    during tstzrange,
    quantity app.positive,
    CONSTRAINT posts_during_excl EXCLUDE USING gist (during WITH &&)
);
CREATE INDEX posts_title_lower ON app.posts (lower(title) text_pattern_ops DESC NULLS LAST) INCLUDE (author_id) WHERE title <> '';
CREATE INDEX posts_title_trgm ON app.posts USING gin (title gin_trgm_ops);
COMMENT ON INDEX app.posts_title_lower IS 'by title';
ALTER TABLE app.posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_posts ON app.posts FOR UPDATE USING (author_id = 1) WITH CHECK (author_id = 1);
CREATE TABLE events (id bigint NOT NULL, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');
CREATE INDEX events_at ON events (at);
CREATE TABLE base_item (id integer, label text);
CREATE TABLE special_item (extra text) INHERITS (base_item);
CREATE TRIGGER users_touch BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER users_touch_update BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE users DISABLE TRIGGER users_touch_update;
CREATE VIEW app.titles AS SELECT id, title FROM app.posts;
CREATE VIEW app.short_titles AS SELECT id FROM app.titles WHERE length(title) < 10;
CREATE MATERIALIZED VIEW post_counts AS SELECT author_id, count(*) AS posts FROM app.posts GROUP BY author_id;
CREATE UNIQUE INDEX post_counts_author ON post_counts (author_id);
COMMENT ON VIEW app.titles IS 'titles';
"#,
    ),
    (
        "enum labels added",
        "CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE TABLE t (m mood DEFAULT 'sad');",
        "CREATE TYPE mood AS ENUM ('awful', 'sad', 'ok', 'happy', 'great'); CREATE TABLE t (m mood DEFAULT 'ok');",
    ),
    (
        "domain over another type",
        "CREATE DOMAIN d AS integer CHECK (VALUE > 0); \
         CREATE TABLE t (x d DEFAULT 1, xs d[], CHECK (x::integer < 100)); \
         INSERT INTO t VALUES (5, '{1,2}');",
        "CREATE DOMAIN d AS bigint CHECK (VALUE > 0); \
         CREATE TABLE t (x d DEFAULT 1, xs d[], CHECK (x::integer < 100));",
    ),
    (
        "composite attribute retyped in use",
        "CREATE TYPE p AS (a integer); CREATE TABLE t (x p);",
        "CREATE TYPE p AS (a bigint); CREATE TABLE t (x p);",
    ),
    (
        "enum labels removed and reordered while columns use it",
        r#"
CREATE TYPE mood AS ENUM ('sad', 'meh', 'ok', 'happy');
CREATE TABLE t (
    id integer PRIMARY KEY,
    m mood NOT NULL DEFAULT 'ok',
    ms mood[],
    CHECK (m <> 'meh')
);
CREATE INDEX t_happy ON t (id) WHERE m = 'happy';
CREATE VIEW v AS SELECT id, m FROM t;
CREATE FUNCTION is_ok(x mood) RETURNS boolean LANGUAGE sql AS $$ SELECT x = 'ok' $$;
INSERT INTO t VALUES (1, 'ok', '{sad,ok}');
"#,
        r#"
CREATE TYPE mood AS ENUM ('happy', 'ok', 'sad');
CREATE TABLE t (
    id integer PRIMARY KEY,
    m mood NOT NULL DEFAULT 'ok',
    ms mood[],
    CHECK (m <> 'sad')
);
CREATE INDEX t_happy ON t (id) WHERE m = 'happy';
CREATE VIEW v AS SELECT id, m FROM t;
CREATE FUNCTION is_ok(x mood) RETURNS boolean LANGUAGE sql AS $$ SELECT x = 'ok' $$;
"#,
    ),
    (
        "unused enum recreated",
        "CREATE TYPE mood AS ENUM ('sad', 'happy');",
        "CREATE TYPE mood AS ENUM ('happy', 'sad');",
    ),
    (
        "domain altered",
        "CREATE DOMAIN d AS integer CONSTRAINT a CHECK (VALUE > 0); CREATE TABLE t (x d);",
        "CREATE DOMAIN d AS integer NOT NULL DEFAULT 5 CONSTRAINT b CHECK (VALUE < 100); CREATE TABLE t (x d);",
    ),
    (
        "composite altered",
        "CREATE TYPE p AS (a integer, b text); CREATE TABLE t (x p); CREATE TYPE q AS (a integer);",
        "CREATE TYPE p AS (a integer, c date); CREATE TABLE t (x p); CREATE TYPE q AS (a bigint);",
    ),
    (
        "sequence altered and owned",
        "CREATE SEQUENCE s; CREATE TABLE t (id integer);",
        "CREATE SEQUENCE s AS integer INCREMENT 3 MAXVALUE 5000 CACHE 5 CYCLE; CREATE TABLE t (id integer DEFAULT nextval('s')); ALTER SEQUENCE s OWNED BY t.id; COMMENT ON SEQUENCE s IS 'ids';",
    ),
    (
        "columns altered",
        r#"
CREATE TABLE t (
    id integer PRIMARY KEY,
    a integer NOT NULL DEFAULT 1,
    b text,
    c varchar(10) COLLATE "C",
    d bigint GENERATED BY DEFAULT AS IDENTITY,
    e integer,
    f text GENERATED ALWAYS AS (upper(b)) STORED,
    g integer
);
CREATE INDEX t_f ON t (f);
CREATE VIEW v AS SELECT a, c FROM t;
"#,
        r#"
CREATE TABLE t (
    id integer PRIMARY KEY,
    a bigint DEFAULT 2,
    b text NOT NULL DEFAULT '',
    c varchar(20),
    d bigint,
    e integer GENERATED ALWAYS AS IDENTITY (START WITH 5),
    f text GENERATED ALWAYS AS (lower(b)) STORED,
    h jsonb
);
CREATE INDEX t_f ON t (f);
CREATE VIEW v AS SELECT a, c FROM t;
COMMENT ON COLUMN t.b IS 'bee';
"#,
    ),
    (
        "keys changed under a foreign key",
        r#"
CREATE TABLE parent (id integer PRIMARY KEY, code text);
CREATE TABLE child (id integer PRIMARY KEY, parent_id integer REFERENCES parent (id));
"#,
        r#"
CREATE TABLE parent (id bigint, code text, CONSTRAINT parent_pkey PRIMARY KEY (id, code));
CREATE TABLE child (id integer PRIMARY KEY, parent_id bigint, parent_code text,
    CONSTRAINT child_parent_id_fkey FOREIGN KEY (parent_id, parent_code) REFERENCES parent (id, code));
"#,
    ),
    (
        // No cast between two enums: through text.
        "a column moves from one enum to another",
        r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE feeling AS ENUM ('sad', 'ok', 'happy', 'elated');
CREATE TABLE people (id int, mood mood DEFAULT 'ok', moods mood[]);
"#,
        r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE feeling AS ENUM ('sad', 'ok', 'happy', 'elated');
CREATE TABLE people (id int, mood feeling DEFAULT 'ok', moods feeling[]);
"#,
    ),
    (
        // An unchanged foreign key whose referenced key changes goes before it and comes back
        // after; its target is read from the catalog, so a name with a space is no harder
        // than another.
        "key changed under an unchanged foreign key, quoted names",
        r#"
CREATE TABLE "Parent Table" (id integer, code text, CONSTRAINT "Parent Table_pkey" PRIMARY KEY (id));
CREATE TABLE child (id integer PRIMARY KEY, parent_id integer REFERENCES "Parent Table" (id));
"#,
        r#"
CREATE TABLE "Parent Table" (id integer, code text,
    CONSTRAINT "Parent Table_pkey" PRIMARY KEY (id, code), CONSTRAINT "Parent Table_id_key" UNIQUE (id));
CREATE TABLE child (id integer PRIMARY KEY, parent_id integer REFERENCES "Parent Table" (id));
"#,
    ),
    (
        "constraints, indexes, triggers, policies",
        r#"
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TABLE t (id integer CONSTRAINT t_pkey PRIMARY KEY, x integer CHECK (x > 0), y text UNIQUE);
CREATE INDEX t_x ON t (x);
CREATE UNIQUE INDEX t_y_nulls ON t (y);
CREATE TRIGGER t_f BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();
ALTER TABLE t ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON t FOR SELECT USING (x > 0);
"#,
        r#"
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.x := 1; RETURN NEW; END $$;
CREATE TABLE t (id integer CONSTRAINT t_pkey PRIMARY KEY, x integer CHECK (x > 1), y text);
CREATE UNIQUE INDEX t_x ON t (x) WHERE x > 10;
CREATE UNIQUE INDEX t_y_nulls ON t (y) NULLS NOT DISTINCT;
CREATE INDEX t_y ON t (y);
CREATE TRIGGER t_f BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();
ALTER TABLE t FORCE ROW LEVEL SECURITY;
CREATE POLICY p ON t AS RESTRICTIVE FOR SELECT USING (x > 0);
COMMENT ON CONSTRAINT t_pkey ON t IS 'key';
"#,
    ),
    (
        "views and routines",
        r#"
CREATE TABLE t (id integer, name text);
CREATE FUNCTION g(x integer) RETURNS integer LANGUAGE sql AS 'SELECT x';
CREATE VIEW v AS SELECT id, g(id) AS gid FROM t;
CREATE VIEW w AS SELECT id FROM v;
CREATE MATERIALIZED VIEW m AS SELECT id FROM t;
"#,
        r#"
CREATE TABLE t (id integer, name text);
CREATE FUNCTION g(x integer) RETURNS bigint LANGUAGE sql AS 'SELECT x::bigint';
CREATE VIEW v AS SELECT id, name, g(id) AS gid FROM t;
CREATE VIEW w AS SELECT id FROM v;
CREATE MATERIALIZED VIEW m AS SELECT id, name FROM t;
CREATE INDEX m_id ON m (id);
COMMENT ON MATERIALIZED VIEW m IS 'em';
"#,
    ),
    (
        "a column a generated column uses changes type",
        "CREATE TABLE t (a integer, b integer GENERATED ALWAYS AS (a * 2) STORED, c text);",
        "CREATE TABLE t (a bigint, b integer GENERATED ALWAYS AS (a * 2) STORED, c varchar(5));",
    ),
    (
        "a function with a body parsed when created",
        "",
        r#"
CREATE TABLE t (id integer);
CREATE VIEW v AS SELECT id FROM t;
CREATE FUNCTION v_count() RETURNS bigint LANGUAGE sql
    BEGIN ATOMIC SELECT count(*) FROM v; END;
"#,
    ),
    (
        "what a function body parsed when created names changes",
        r#"
CREATE TABLE t (id integer, name text);
CREATE VIEW v AS SELECT id FROM t;
CREATE FUNCTION v_count() RETURNS bigint LANGUAGE sql
    BEGIN ATOMIC SELECT count(*) FROM v; END;
CREATE FUNCTION t_names() RETURNS bigint LANGUAGE sql
    BEGIN ATOMIC SELECT count(name) FROM t; END;
"#,
        r#"
CREATE TABLE t (id bigint, label text);
CREATE VIEW v AS SELECT id FROM t WHERE id > 0;
CREATE FUNCTION v_count() RETURNS bigint LANGUAGE sql
    BEGIN ATOMIC SELECT count(*) FROM v; END;
CREATE FUNCTION t_names() RETURNS bigint LANGUAGE sql
    BEGIN ATOMIC SELECT count(label) FROM t; END;
"#,
    ),
    (
        "routine arguments renamed",
        r#"
CREATE FUNCTION add(a integer, b integer DEFAULT 1) RETURNS integer LANGUAGE sql AS 'SELECT a + b';
CREATE TABLE t (x integer DEFAULT add(1), CHECK (add(x) > 0));
"#,
        r#"
CREATE FUNCTION add(left_value integer, right_value integer) RETURNS integer LANGUAGE sql
    AS 'SELECT left_value + right_value';
CREATE TABLE t (x integer DEFAULT add(1, 1), CHECK (add(x, 1) > 0));
"#,
    ),
    (
        "assorted alterations",
        r#"
CREATE SCHEMA app;
CREATE SCHEMA ext;
CREATE EXTENSION citext WITH SCHEMA public;
CREATE SEQUENCE counter AS bigint;
CREATE DOMAIN app.short AS text CONSTRAINT short_check CHECK (length(VALUE) < 10);
CREATE TABLE accounts (
    id integer GENERATED BY DEFAULT AS IDENTITY (START WITH 1 CACHE 1),
    handle citext NOT NULL,
    code app.short,
    score integer NOT NULL DEFAULT 0,
    label text COLLATE "C",
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_score_check CHECK (score >= 0)
);
CREATE INDEX accounts_lower_label ON accounts (lower(label)) WHERE score > 0;
CREATE UNLOGGED TABLE scratch (note text);
CREATE TABLE events (id bigint NOT NULL, kind text NOT NULL) PARTITION BY LIST (kind);
CREATE TABLE events_a PARTITION OF events FOR VALUES IN ('a');
CREATE FUNCTION no_op() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER events_no_op AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION no_op();
CREATE PROCEDURE app.cleanup(days integer) LANGUAGE sql AS $$ DELETE FROM accounts WHERE score < days $$;
CREATE MATERIALIZED VIEW top AS SELECT id, score FROM accounts WHERE score > 10;
CREATE VIEW top_ids AS SELECT id FROM top;
"#,
        r#"
CREATE SCHEMA app;
CREATE SCHEMA ext;
COMMENT ON SCHEMA ext IS 'extensions';
CREATE EXTENSION citext WITH SCHEMA ext;
CREATE SEQUENCE counter AS integer START 5;
CREATE DOMAIN app.short AS text CONSTRAINT short_check CHECK (length(VALUE) < 20);
CREATE TABLE accounts (
    id integer GENERATED ALWAYS AS IDENTITY (START WITH 100 CACHE 10),
    handle ext.citext NOT NULL,
    code app.short,
    score bigint NOT NULL DEFAULT 1,
    label text COLLATE "POSIX",
    serial_no serial,
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_score_check CHECK (score >= 1)
);
CREATE INDEX accounts_lower_label ON accounts (lower(label)) WHERE score > 1;
CREATE TABLE scratch (note text);
CREATE TABLE events (id bigint NOT NULL, kind text NOT NULL, at date) PARTITION BY LIST (kind);
CREATE TABLE events_a PARTITION OF events FOR VALUES IN ('a');
CREATE TABLE events_b PARTITION OF events FOR VALUES IN ('b');
CREATE INDEX events_at ON events (at);
CREATE FUNCTION no_op() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER events_no_op AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION no_op();
CREATE PROCEDURE app.cleanup(days integer) LANGUAGE sql AS $$ DELETE FROM accounts WHERE score < days + 1 $$;
CREATE MATERIALIZED VIEW top AS SELECT id, score FROM accounts WHERE score > 10;
CREATE VIEW top_ids AS SELECT id FROM top;
"#,
    ),
    (
        "partitions attached and detached, parents changed",
        r#"
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 (id bigint NOT NULL, at date NOT NULL);
CREATE TABLE base (id integer);
CREATE TABLE tagged (tag text);
CREATE TABLE item (id integer, tag text, extra text) INHERITS (base);
CREATE INDEX events_at ON events (at);
"#,
        r#"
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE base (id integer);
CREATE TABLE tagged (tag text);
CREATE TABLE item (id integer, tag text, extra text) INHERITS (tagged);
CREATE INDEX events_at ON events (at);
"#,
    ),
    (
        "instead-of triggers, procedures, roles, default partitions",
        "",
        r#"
CREATE SCHEMA audit;
CREATE DOMAIN code AS text COLLATE "C";
CREATE TABLE posts (id serial PRIMARY KEY, author_id integer NOT NULL, title code NOT NULL);
CREATE VIEW published AS SELECT id, title FROM posts;
CREATE FUNCTION published_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO posts (author_id, title) VALUES (1, NEW.title);
    RETURN NEW;
END
$$;
CREATE TRIGGER published_insert INSTEAD OF INSERT ON published
    FOR EACH ROW EXECUTE FUNCTION published_insert();
COMMENT ON TRIGGER published_insert ON published IS 'writes through';
CREATE PROCEDURE cleanup(days integer) LANGUAGE sql AS $$ DELETE FROM posts WHERE id < days $$;
COMMENT ON PROCEDURE cleanup(integer) IS 'old posts';
ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_posts ON posts FOR UPDATE TO plan_writer, plan_reader USING (author_id = 1);
CREATE TABLE audit.events (id bigint NOT NULL, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE audit.events_default PARTITION OF audit.events DEFAULT;
CREATE TABLE audit.events_2024 PARTITION OF audit.events
    FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00') PARTITION BY LIST (id);
CREATE TABLE audit.a_events_2024_one PARTITION OF audit.events_2024 FOR VALUES IN (1);
CREATE FUNCTION audit.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER events_noop AFTER INSERT ON audit.events FOR EACH ROW EXECUTE FUNCTION audit.noop();
CREATE INDEX events_at ON audit.events (at);
ALTER TABLE audit.events ADD CONSTRAINT events_at_check CHECK (at > '2000-01-01');
"#,
    ),
    (
        "view options set, changed, reset, and created with a view",
        r#"
CREATE TABLE items (id int, secret text);
CREATE VIEW open_items AS SELECT id FROM items;
CREATE VIEW positive AS SELECT id FROM items WHERE id > 0 WITH LOCAL CHECK OPTION;
CREATE VIEW guarded WITH (security_barrier) AS SELECT id FROM items WHERE secret IS NULL;
"#,
        r#"
CREATE TABLE items (id int, secret text);
CREATE VIEW open_items WITH (security_invoker = true) AS SELECT id FROM items;
CREATE VIEW positive AS SELECT id FROM items WHERE id > 0 WITH CASCADED CHECK OPTION;
CREATE VIEW guarded AS SELECT id FROM items WHERE secret IS NULL;
CREATE VIEW invoker WITH (security_invoker, check_option = local) AS SELECT id FROM positive;
"#,
    ),
    (
        "policy and domain check comments added, changed and removed",
        r#"
CREATE DOMAIN percent AS integer
    CONSTRAINT at_least_zero CHECK (VALUE >= 0) CONSTRAINT at_most_100 CHECK (VALUE <= 100);
COMMENT ON CONSTRAINT at_least_zero ON DOMAIN percent IS 'no debt';
CREATE TABLE items (id int, share percent);
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON items FOR SELECT USING (true);
CREATE POLICY writers ON items FOR INSERT WITH CHECK (id > 0);
COMMENT ON POLICY writers ON items IS 'real ids';
"#,
        r#"
CREATE DOMAIN percent AS integer
    CONSTRAINT at_least_zero CHECK (VALUE >= 0) CONSTRAINT at_most_100 CHECK (VALUE < 101);
COMMENT ON CONSTRAINT at_most_100 ON DOMAIN percent IS 'a whole, at most';
CREATE DOMAIN grade AS integer CONSTRAINT passing CHECK (VALUE > 3);
COMMENT ON CONSTRAINT passing ON DOMAIN grade IS 'four and up';
CREATE TABLE items (id int, share percent);
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON items FOR SELECT USING (true);
COMMENT ON POLICY readers ON items IS 'everyone';
CREATE POLICY writers ON items FOR INSERT WITH CHECK (id > 1);
COMMENT ON POLICY writers ON items IS 'real ids';
CREATE TABLE notes (id int);
CREATE POLICY mine ON notes USING (id = 1);
COMMENT ON POLICY mine ON notes IS 'own notes';
"#,
    ),
    (
        "composite attribute collations added and changed",
        r#"
CREATE TYPE label AS (code text, title text);
CREATE TYPE used AS (code text COLLATE "C");
CREATE TABLE items (id int, tag used);
"#,
        r#"
CREATE TYPE label AS (code text COLLATE "C", title text);
CREATE TYPE used AS (code text COLLATE "C", note text COLLATE "POSIX");
CREATE TYPE fresh AS (name text COLLATE "POSIX");
CREATE TABLE items (id int, tag used);
"#,
    ),
    (
        "composite attribute collation changed in use",
        r#"
CREATE TYPE used AS (code text COLLATE "C");
CREATE TABLE items (id int, tag used);
"#,
        r#"
CREATE TYPE used AS (code text COLLATE "POSIX");
CREATE TABLE items (id int, tag used);
"#,
    ),
    (
        // Found by tests/schema_property.rs (seed 6221119): the parent's ALTER reaches the
        // child's inherited column, which a view on the child uses.
        "a view on a child uses a column its parent retypes",
        "CREATE TABLE parent (id integer PRIMARY KEY, c varchar(60)); \
         CREATE TABLE child (x integer) INHERITS (parent); \
         CREATE VIEW child_view AS SELECT id, c FROM child; \
         INSERT INTO child VALUES (1, 'v1', 2);",
        "CREATE TABLE parent (id integer PRIMARY KEY, c text); \
         CREATE TABLE child (x integer) INHERITS (parent); \
         CREATE VIEW child_view AS SELECT id, c FROM child;",
    ),
    (
        // Found by tests/schema_property.rs (seed 6221082): a new child that defines its own
        // copy of a column its existing parent retypes is made after the parent's ALTER.
        "a new child keeps its own copy of a column the parent retypes",
        "CREATE TABLE parent (id integer PRIMARY KEY, c text); \
         INSERT INTO parent VALUES (1, '7');",
        "CREATE TABLE parent (id integer PRIMARY KEY, c bigint); \
         CREATE TABLE child (x integer, c bigint) INHERITS (parent);",
    ),
    (
        // Found by tests/schema_property.rs (seed 6221124): no cast between an integer and
        // an enum; through text there is.
        "a column moves between an integer and an enum",
        "CREATE TYPE mood AS ENUM ('1', '2'); CREATE TABLE t (c integer, d mood[]);",
        "CREATE TYPE mood AS ENUM ('1', '2'); CREATE TABLE t (c mood, d text[]);",
    ),
    (
        // Found by tests/schema_property.rs: the first new label was placed before the
        // next one, which was new too.
        "enum labels added at the start",
        "CREATE TYPE e AS ENUM ('x', 'y'); CREATE TABLE t (c e); INSERT INTO t VALUES ('x');",
        "CREATE TYPE e AS ENUM ('m', 'a', 'x', 'y'); CREATE TABLE t (c e);",
    ),
];

#[test]
fn postgres_pairs_round_trip_both_ways() {
    let Some(pg) = support::postgres() else {
        return;
    };
    // Roles are the cluster's, not a database's.
    pg.execute(
        &pg.server.url(),
        "CREATE ROLE plan_reader; CREATE ROLE plan_writer;",
    );
    let rt = runtime();
    for (at, (label, a, b)) in PG_PAIRS.iter().enumerate() {
        for (direction, (from, to)) in [("forward", (a, b)), ("backward", (b, a))] {
            let urls: Vec<String> = (0..3)
                .map(|n| pg.database(&format!("pair{at}_{direction}_{n}")))
                .collect();
            rt.block_on(round_trip(
                [&urls[0], &urls[1], &urls[2]],
                Dialect::Postgres,
                &format!("{label} ({direction})"),
                from,
                to,
            ));
        }
    }
}

/// A table whose partition key changes cannot be expressed, nor can its partitions, whose
/// bounds are in the new key's terms: both are reported, and no statement is attempted.
#[test]
fn postgres_partition_key_change_is_reported() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let (a, b) = (pg.database("rekey_a"), pg.database("rekey_b"));
    rt.block_on(async {
        let from = build(
            &a,
            Dialect::Postgres,
            "CREATE TABLE events (id bigint NOT NULL, kind text NOT NULL) PARTITION BY RANGE (id);",
        )
        .await;
        let to = build(
            &b,
            Dialect::Postgres,
            "CREATE TABLE events (id bigint NOT NULL, kind text NOT NULL) PARTITION BY LIST (kind); \
             CREATE TABLE events_a PARTITION OF events FOR VALUES IN ('a');",
        )
        .await;
        let plan = schema::plan(&from, &to);
        assert!(plan.statements.is_empty(), "{:?}", plan.statements);
        let changes: Vec<&str> = plan.unsupported.iter().map(|u| u.change.as_str()).collect();
        assert_eq!(
            changes,
            [
                "+ table events_a",
                "table events: partition by RANGE (id) → LIST (kind)"
            ],
            "{:?}",
            plan.unsupported
        );
    });
}

const SQLITE_PAIRS: &[(&str, &str, &str)] = &[
    (
        "empty and everything",
        "",
        r#"
CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE, name TEXT COLLATE NOCASE, score REAL DEFAULT 0 CHECK (score >= 0));
CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE, title TEXT, upper_title TEXT GENERATED ALWAYS AS (upper(title)) VIRTUAL);
CREATE INDEX posts_author ON posts (author_id);
CREATE UNIQUE INDEX posts_title ON posts (lower(title)) WHERE title IS NOT NULL;
CREATE VIEW titles AS SELECT id, title FROM posts;
CREATE TRIGGER posts_touch AFTER INSERT ON posts BEGIN UPDATE users SET score = score + 1 WHERE id = NEW.author_id; END;
CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
"#,
    ),
    (
        "columns added and dropped",
        // Rows in both: ADD COLUMN must work on a table that has some.
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER); \
         CREATE VIEW v AS SELECT id, a FROM t; INSERT INTO t VALUES (1, 'a', 2);",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, c TEXT NOT NULL DEFAULT 'x', d INTEGER, \
         e TEXT DEFAULT (datetime('now'))); \
         CREATE VIEW v AS SELECT id, a FROM t; INSERT INTO t VALUES (1, 'a', 'x', 2, NULL);",
    ),
    (
        "table rebuilt",
        r#"
CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE t (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id), a TEXT, b INTEGER NOT NULL DEFAULT 0);
CREATE INDEX t_a ON t (a);
CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN UPDATE parent SET name = NEW.a WHERE id = NEW.parent_id; END;
CREATE VIEW v AS SELECT id, a FROM t;
"#,
        r#"
CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE t (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE, a TEXT NOT NULL DEFAULT '', b TEXT, CHECK (length(a) < 100));
CREATE INDEX t_a ON t (a);
CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN UPDATE parent SET name = NEW.a WHERE id = NEW.parent_id; END;
CREATE VIEW v AS SELECT id, a FROM t;
"#,
    ),
    (
        "rebuild with dependents elsewhere",
        r#"
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE log (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id), what TEXT);
CREATE TRIGGER log_names AFTER INSERT ON log BEGIN UPDATE users SET name = NEW.what WHERE id = NEW.user_id; END;
CREATE VIEW named AS SELECT id, name FROM users WHERE name IS NOT NULL;
CREATE VIEW named_ids AS SELECT id FROM named;
"#,
        r#"
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '', created_at TEXT DEFAULT CURRENT_TIMESTAMP) STRICT;
CREATE TABLE log (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id), what TEXT);
CREATE TRIGGER log_names AFTER INSERT ON log BEGIN UPDATE users SET name = NEW.what WHERE id = NEW.user_id; END;
CREATE VIEW named AS SELECT id, name FROM users WHERE name IS NOT NULL;
CREATE VIEW named_ids AS SELECT id FROM named;
CREATE INDEX users_name ON users (name COLLATE NOCASE DESC);
"#,
    ),
    (
        // Found by tests/schema_property.rs (seeds 6221106, 6221144): the rename ending
        // `a`'s rebuild checks every trigger, and `b`'s (rebuilt after) names `a`.
        "a trigger on a rebuilt table names another rebuilt table",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, x INTEGER); \
         CREATE TABLE b (id INTEGER PRIMARY KEY, y INTEGER); \
         CREATE TRIGGER b_touch AFTER UPDATE ON b BEGIN DELETE FROM a WHERE 0; END; \
         INSERT INTO a VALUES (1, 1); INSERT INTO b VALUES (1, 1);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT); \
         CREATE TABLE b (id INTEGER PRIMARY KEY, y TEXT); \
         CREATE TRIGGER b_touch AFTER UPDATE ON b BEGIN DELETE FROM a WHERE 0; END;",
    ),
    (
        // Found by tests/schema_property.rs (seed 6221134): with foreign keys enforced, a
        // referenced table with rows can only be dropped after the tables referencing it.
        "tables dropped with rows that reference each other",
        "CREATE TABLE a (id INTEGER PRIMARY KEY); \
         CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id)); \
         INSERT INTO a VALUES (1); INSERT INTO b VALUES (1, 1);",
        "CREATE TABLE c (id INTEGER PRIMARY KEY);",
    ),
];

#[test]
fn sqlite_pairs_round_trip_both_ways() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let rt = runtime();
    for (at, (label, a, b)) in SQLITE_PAIRS.iter().enumerate() {
        for (direction, (from, to)) in [("forward", (a, b)), ("backward", (b, a))] {
            let urls: Vec<String> = (0..3)
                .map(|n| {
                    let path = dir.path().join(format!("pair{at}_{direction}_{n}.db"));
                    format!("sqlite:{}", path.display())
                })
                .collect();
            rt.block_on(round_trip(
                [&urls[0], &urls[1], &urls[2]],
                Dialect::Sqlite,
                &format!("{label} ({direction})"),
                from,
                to,
            ));
        }
    }
}

// ---------------------------------------------------------------------- real histories

/// Steps known not to be expressible, with why: (migration name, reason).
type KnownExceptions = &'static [(&'static str, &'static str)];

/// Replays `dir` migration by migration on one database, and moves a second database
/// forward by applying the plan from the previous schema to the new one instead of the
/// migration; after every step the second database's model must equal the first's.
/// Returns (steps equal, steps).
async fn follow_history(
    dir: &Path,
    dialect: Dialect,
    replay_url: &str,
    planned_url: &str,
    known: KnownExceptions,
) -> (usize, usize) {
    // Drizzle keeps its journal in `meta/` next to the scripts.
    let options = ScanOptions {
        ignore: vec!["meta".to_string()],
        ..ScanOptions::default()
    };
    let migrations = scan(dir, &options).expect("scan the corpus");
    let url = DatabaseUrl::sandbox(replay_url, dialect);
    let format = HistoryFormat::Own {
        name: "_cargo_migrate".to_string(),
    };
    let mut replayer = Replayer::open(&url, format.clone())
        .await
        .expect("open the replay");
    let mut planned = connect(planned_url, dialect).await;
    let mut before = replayer.inspect().await.expect("inspect");
    let mut equal = 0;
    let total = migrations.migrations.len();
    for migration in &migrations.migrations {
        replayer
            .run(migration, Direction::Up)
            .await
            .unwrap_or_else(|failure| panic!("{}: {failure:?}", migration.name));
        let after = replayer.inspect().await.expect("inspect");
        let plan = schema::plan(&before, &after);
        let exception = known.iter().find(|(name, _)| *name == migration.name);
        if !plan.unsupported.is_empty() {
            assert!(
                exception.is_some(),
                "{}: unsupported {:?}",
                migration.name,
                plan.unsupported
            );
        }
        apply(&mut planned, &plan.statements, &migration.name).await;
        let reached = planned.inspect(&history()).await.expect("inspect");
        let left = schema::diff(&reached, &after);
        if left.is_empty() {
            assert!(
                exception.is_none(),
                "{} is listed as a known exception but its plan is complete",
                migration.name
            );
            equal += 1;
        } else {
            assert!(
                exception.is_some(),
                "{}: the plan leaves differences:\n{}\nplan:\n{}",
                migration.name,
                left.iter()
                    .map(|c| c.summary())
                    .collect::<Vec<_>>()
                    .join("\n"),
                plan.statements.join("\n")
            );
            // Carry on from the migration's own result: the next step plans from it.
            planned.drop_everything().await.expect("reset");
            planned
                .ensure_history(&format)
                .await
                .expect("history table");
            for done in migrations
                .migrations
                .iter()
                .take_while(|m| m.version <= migration.version)
            {
                planned
                    .run(&format, done, Direction::Up)
                    .await
                    .unwrap_or_else(|failure| panic!("{}: {failure:?}", done.name));
            }
        }
        before = after;
    }
    (equal, total)
}

/// The whole history's schema from nothing, and back to nothing, each in one plan: the
/// ordering of hundreds of objects at once.
async fn whole_schema_both_ways(dir: &Path, dialect: Dialect, urls: [&str; 2]) {
    let options = ScanOptions {
        ignore: vec!["meta".to_string()],
        ..ScanOptions::default()
    };
    let migrations = scan(dir, &options).expect("scan the corpus");
    let format = HistoryFormat::Own {
        name: "_cargo_migrate".to_string(),
    };
    let mut replayer = Replayer::open(&DatabaseUrl::sandbox(urls[0], dialect), format)
        .await
        .expect("open the replay");
    if let Err((migration, failure)) = replayer.apply_all(&migrations.migrations).await {
        panic!("{}: {failure:?}", migration.name);
    }
    let full = replayer.inspect().await.expect("inspect");
    let empty = Schema::empty(dialect);

    let mut built = connect(urls[1], dialect).await;
    let plan = schema::plan(&empty, &full);
    assert!(plan.is_complete(), "{:?}", plan.unsupported);
    apply(&mut built, &plan.statements, "from nothing").await;
    let left = schema::diff(&built.inspect(&history()).await.expect("inspect"), &full);
    assert!(left.is_empty(), "from nothing: {left:#?}");

    let plan = schema::plan(&full, &empty);
    assert!(plan.is_complete(), "{:?}", plan.unsupported);
    apply(&mut replayer.db, &plan.statements, "to nothing").await;
    let left = schema::diff(&replayer.inspect().await.expect("inspect"), &empty);
    assert!(left.is_empty(), "to nothing: {left:#?}");
    eprintln!(
        "{}: the whole schema from nothing and back, {} and {} statements",
        dir.display(),
        schema::plan(&empty, &full).statements.len(),
        plan.statements.len()
    );
}

#[test]
fn postgres_corpora_whole_schema_both_ways() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    let Some(pg) = support::postgres() else {
        return;
    };
    for (at, dir) in [
        "crates-io/migrations",
        "vaultwarden/migrations/postgresql",
        "atuin/crates/atuin-server-postgres/migrations",
    ]
    .into_iter()
    .enumerate()
    {
        let urls = [
            pg.database(&format!("whole{at}_replay")),
            pg.database(&format!("whole{at}_built")),
        ];
        runtime().block_on(whole_schema_both_ways(
            &corpora.join(dir),
            Dialect::Postgres,
            [&urls[0], &urls[1]],
        ));
    }
}

#[test]
fn sqlite_corpora_whole_schema_both_ways() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    for dir in [
        "vaultwarden/migrations/sqlite",
        "atuin/crates/atuin-server-sqlite/migrations",
        "atuin/crates/atuin-client/migrations",
        "karakeep/packages/db/drizzle",
    ] {
        let temp = tempfile::tempdir().expect("temporary directory");
        let urls = ["replay.db", "built.db"]
            .map(|file| format!("sqlite:{}", temp.path().join(file).display()));
        runtime().block_on(whole_schema_both_ways(
            &corpora.join(dir),
            Dialect::Sqlite,
            [&urls[0], &urls[1]],
        ));
    }
}

fn postgres_history(dir: &str, known: KnownExceptions) {
    let Some(corpora) = support::corpora() else {
        return;
    };
    let Some(pg) = support::postgres() else {
        return;
    };
    // Database names are limited to 63 bytes: the corpus's own name is enough.
    let name = dir.split('/').next().unwrap_or(dir).replace('-', "_");
    let replay = pg.database(&format!("{name}_replay"));
    let planned = pg.database(&format!("{name}_planned"));
    let (equal, total) = runtime().block_on(follow_history(
        &corpora.join(dir),
        Dialect::Postgres,
        &replay,
        &planned,
        known,
    ));
    eprintln!("{dir}: {equal}/{total} steps equal after applying the plan");
    assert_eq!(equal + known.len(), total);
}

fn sqlite_history(dir: &str, known: KnownExceptions) {
    let Some(corpora) = support::corpora() else {
        return;
    };
    let temp = tempfile::tempdir().expect("temporary directory");
    let replay = format!("sqlite:{}", temp.path().join("replay.db").display());
    let planned = format!("sqlite:{}", temp.path().join("planned.db").display());
    let (equal, total) = runtime().block_on(follow_history(
        &corpora.join(dir),
        Dialect::Sqlite,
        &replay,
        &planned,
        known,
    ));
    eprintln!("{dir}: {equal}/{total} steps equal after applying the plan");
    assert_eq!(equal + known.len(), total);
}

/// A step that cannot be planned must be listed, and the walk goes on after it: a table
/// partitioned by another key, between two ordinary steps.
#[test]
fn a_known_exception_is_listed_and_the_walk_goes_on() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let steps = [
        (
            "20240101000000_events",
            "CREATE TABLE events (id bigint NOT NULL, kind text NOT NULL) PARTITION BY RANGE (id);",
        ),
        (
            "20240102000000_by_kind",
            "DROP TABLE events; \
             CREATE TABLE events (id bigint NOT NULL, kind text NOT NULL) PARTITION BY LIST (kind);",
        ),
        (
            "20240103000000_more",
            "CREATE TABLE u (id integer PRIMARY KEY);",
        ),
    ];
    for (name, sql) in steps {
        std::fs::write(dir.path().join(format!("{name}.sql")), sql).expect("write");
    }
    let (replay, planned) = (pg.database("known_replay"), pg.database("known_planned"));
    let known: KnownExceptions = &[("by_kind", "a table's partition key changes")];
    let (equal, total) = runtime().block_on(follow_history(
        dir.path(),
        Dialect::Postgres,
        &replay,
        &planned,
        known,
    ));
    assert_eq!((equal, total), (2, 3));
}

#[test]
fn crates_io_every_step_planned() {
    postgres_history("crates-io/migrations", &[]);
}

#[test]
fn vaultwarden_postgresql_every_step_planned() {
    postgres_history("vaultwarden/migrations/postgresql", &[]);
}

#[test]
fn vaultwarden_sqlite_every_step_planned() {
    sqlite_history("vaultwarden/migrations/sqlite", &[]);
}

#[test]
fn atuin_sqlite_every_step_planned() {
    sqlite_history("atuin/crates/atuin-server-sqlite/migrations", &[]);
    sqlite_history("atuin/crates/atuin-client/migrations", &[]);
}

#[test]
fn atuin_postgresql_every_step_planned() {
    postgres_history("atuin/crates/atuin-server-postgres/migrations", &[]);
}

#[test]
fn karakeep_sqlite_every_step_planned() {
    sqlite_history("karakeep/packages/db/drizzle", &[]);
}

/// Every step taken backwards: from the schema after migration i to the one before it, the
/// way a down script would go, on one database walking from the newest schema to nothing.
/// Returns the steps that did not reach their target, with what was left or unsupported.
async fn walk_back(dir: &Path, dialect: Dialect, urls: [&str; 2]) -> (usize, Vec<String>) {
    let options = ScanOptions {
        ignore: vec!["meta".to_string()],
        ..ScanOptions::default()
    };
    let migrations = scan(dir, &options).expect("scan the corpus");
    let format = HistoryFormat::Own {
        name: "_cargo_migrate".to_string(),
    };
    let mut replayer = Replayer::open(&DatabaseUrl::sandbox(urls[0], dialect), format)
        .await
        .expect("open the replay");
    let mut schemas = vec![replayer.inspect().await.expect("inspect")];
    for migration in &migrations.migrations {
        replayer
            .run(migration, Direction::Up)
            .await
            .unwrap_or_else(|failure| panic!("{}: {failure:?}", migration.name));
        schemas.push(replayer.inspect().await.expect("inspect"));
    }
    let mut db = connect(urls[1], dialect).await;
    let mut current = Schema::empty(dialect);
    let mut failed = Vec::new();
    let newest = schemas.len() - 1;
    let first = schema::plan(&current, &schemas[newest]);
    apply(&mut db, &first.statements, "newest").await;
    current = db.inspect(&history()).await.expect("inspect");
    for step in (1..=newest).rev() {
        let target = &schemas[step - 1];
        let name = &migrations.migrations[step - 1].name;
        let plan = schema::plan(&current, target);
        let mut problems: Vec<String> = plan
            .unsupported
            .iter()
            .map(|u| format!("unsupported {}: {}", u.change, u.reason))
            .collect();
        for statement in &plan.statements {
            if let Err(error) = db.execute(statement).await {
                problems.push(format!("failed {statement}: {}", error.message));
                break;
            }
        }
        current = db.inspect(&history()).await.expect("inspect");
        problems.extend(schema::diff(&current, target).iter().map(|c| c.summary()));
        if !problems.is_empty() {
            failed.push(format!("{name}: {}", problems.join("; ")));
            // Back on track: the target schema, built from nothing.
            db.drop_everything().await.expect("reset");
            let rebuild = schema::plan(&Schema::empty(dialect), target);
            apply(&mut db, &rebuild.statements, "rebuild").await;
            current = db.inspect(&history()).await.expect("inspect");
        }
    }
    (newest, failed)
}

/// Every step of every corpus, backwards (the way a down script goes): no step may be left
/// unsupported or unequal.
#[test]
fn corpora_every_step_planned_backwards() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    let mut failed = Vec::new();
    if let Some(pg) = support::postgres() {
        for (at, dir) in [
            "crates-io/migrations",
            "vaultwarden/migrations/postgresql",
            "atuin/crates/atuin-server-postgres/migrations",
        ]
        .into_iter()
        .enumerate()
        {
            let urls = [
                pg.database(&format!("back{at}_replay")),
                pg.database(&format!("back{at}_walk")),
            ];
            let (total, failures) = runtime().block_on(walk_back(
                &corpora.join(dir),
                Dialect::Postgres,
                [&urls[0], &urls[1]],
            ));
            eprintln!(
                "{dir}: {}/{total} steps backwards equal",
                total - failures.len()
            );
            failed.extend(failures);
        }
    }
    for dir in [
        "vaultwarden/migrations/sqlite",
        "atuin/crates/atuin-server-sqlite/migrations",
        "atuin/crates/atuin-client/migrations",
        "karakeep/packages/db/drizzle",
    ] {
        let temp = tempfile::tempdir().expect("temporary directory");
        let urls = ["replay.db", "walk.db"]
            .map(|file| format!("sqlite:{}", temp.path().join(file).display()));
        let (total, failures) = runtime().block_on(walk_back(
            &corpora.join(dir),
            Dialect::Sqlite,
            [&urls[0], &urls[1]],
        ));
        eprintln!(
            "{dir}: {}/{total} steps backwards equal",
            total - failures.len()
        );
        failed.extend(failures);
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Plans across many migrations at once (every 7th, 31st and 97th schema, forwards then
/// backwards), where changes of several steps must be ordered together.
#[test]
fn corpora_jumps_across_many_steps() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    // Without PostgreSQL (outside CI) the SQLite corpora still run.
    let pg = support::postgres();
    let rt = runtime();
    for (at, (dir, dialect)) in [
        ("crates-io/migrations", Dialect::Postgres),
        ("vaultwarden/migrations/postgresql", Dialect::Postgres),
        ("vaultwarden/migrations/sqlite", Dialect::Sqlite),
        ("karakeep/packages/db/drizzle", Dialect::Sqlite),
    ]
    .into_iter()
    .enumerate()
    {
        let temp = tempfile::tempdir().expect("temporary directory");
        let (replay, walk) = match dialect {
            Dialect::Sqlite => (
                format!("sqlite:{}", temp.path().join("r.db").display()),
                format!("sqlite:{}", temp.path().join("w.db").display()),
            ),
            _ => match &pg {
                Some(pg) => (
                    pg.database(&format!("jump{at}_r")),
                    pg.database(&format!("jump{at}_w")),
                ),
                None => continue,
            },
        };
        rt.block_on(async {
            let options = ScanOptions {
                ignore: vec!["meta".to_string()],
                ..ScanOptions::default()
            };
            let migrations = scan(&corpora.join(dir), &options).expect("scan");
            let format = HistoryFormat::Own {
                name: "_cargo_migrate".to_string(),
            };
            let mut replayer = Replayer::open(&DatabaseUrl::sandbox(&replay, dialect), format)
                .await
                .expect("open");
            let mut schemas = vec![replayer.inspect().await.expect("inspect")];
            for m in &migrations.migrations {
                replayer.run(m, Direction::Up).await.expect("up");
                schemas.push(replayer.inspect().await.expect("inspect"));
            }
            let mut db = connect(&walk, dialect).await;
            let mut current = Schema::empty(dialect);
            let n = schemas.len();
            let mut failures = 0;
            let mut steps = 0;
            for stride in [7usize, 31, 97] {
                // Forward by stride, then back by stride.
                let mut path: Vec<usize> = (0..n).step_by(stride).collect();
                path.push(n - 1);
                let back: Vec<usize> = path.iter().rev().copied().collect();
                for &target in path.iter().chain(back.iter()) {
                    let plan = schema::plan(&current, &schemas[target]);
                    steps += 1;
                    let mut problems: Vec<String> =
                        plan.unsupported.iter().map(|u| u.change.clone()).collect();
                    for st in &plan.statements {
                        if let Err(e) = db.execute(st).await {
                            problems.push(format!("failed {st}: {}", e.message));
                            break;
                        }
                    }
                    current = db.inspect(&history()).await.expect("inspect");
                    problems.extend(
                        schema::diff(&current, &schemas[target])
                            .iter()
                            .map(|c| c.summary()),
                    );
                    if !problems.is_empty() {
                        failures += 1;
                        eprintln!(
                            "{dir} stride {stride} → {target}: {}",
                            problems.join("; ").chars().take(600).collect::<String>()
                        );
                        db.drop_everything().await.expect("reset");
                        let rebuild = schema::plan(&Schema::empty(dialect), &schemas[target]);
                        apply(&mut db, &rebuild.statements, "rebuild").await;
                        current = db.inspect(&history()).await.expect("inspect");
                    }
                }
            }
            eprintln!("{dir}: {steps} jumps, {failures} failed");
            assert_eq!(failures, 0, "{dir}: see the failed jumps above");
        });
    }
}

/// `diff --sql` marks what a consumer must honour: the statements that lose data
/// (`-- destructive: why` in the script, `"destructive"` in JSON) and a plan that must run in
/// one session (`-- one session: why` first, `"one_session"` in JSON): a function whose body
/// names a table the plan creates later is only accepted with the `SET` the plan starts with,
/// which a statement run on a connection of its own (a pool) does not see.
#[test]
fn plans_mark_destructive_statements_and_one_session() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let before = "CREATE TABLE users (id int, name text, age integer, score numeric(10,2));
CREATE TABLE gone (id int);";
    let after = "CREATE TABLE users (id bigint, age smallint, score numeric(12,2));
CREATE TABLE teams (id bigint);
CREATE FUNCTION user_count() RETURNS bigint LANGUAGE sql
    AS 'SELECT count(*) FROM users JOIN teams ON teams.id = users.id';";
    let (from, to) = (pg.database("marks_from"), pg.database("marks_to"));
    pg.execute(&from, before);
    pg.execute(&to, after);
    let ws = Workspace::copy("check-pg");
    let args = ["diff", "--sql", "--from", &from, "--to", &to];
    let json = ws
        .run(&[&args[..], &["--format", "json"]].concat())
        .assert_code(1)
        .json();
    let sql: Vec<&str> = json["sql"]
        .as_array()
        .expect("sql")
        .iter()
        .map(|s| s.as_str().expect("statement"))
        .collect();
    let marked: Vec<(&str, &str)> = json["destructive"]
        .as_array()
        .expect("destructive")
        .iter()
        .map(|d| {
            let at = d["statement"].as_u64().expect("index") as usize;
            (sql[at], d["reason"].as_str().expect("reason"))
        })
        .collect();
    assert_eq!(
        marked,
        [
            (
                "ALTER TABLE users DROP COLUMN name;",
                "drops column users.name and its values"
            ),
            ("DROP TABLE gone;", "drops table gone and its rows"),
            (
                "ALTER TABLE users ALTER COLUMN age TYPE smallint USING age::smallint;",
                "users.age: changes type integer → smallint: values that do not fit are refused \
                 or cut"
            ),
        ],
        "widenings (id to bigint, score to numeric(12,2)) are not marked: {sql:#?}"
    );
    let one_session = json["one_session"].as_str().expect("one session");
    assert!(one_session.contains("check_function_bodies"), "{json}");

    // The script says the same.
    let script = ws.run(&args).assert_code(1).stdout;
    assert!(script.starts_with("-- one session: "), "{script}");
    assert!(
        script.contains("-- destructive: drops table gone and its rows\nDROP TABLE gone;"),
        "{script}"
    );

    // Each statement on a connection of its own: the function is refused.
    let pooled = pg.database("marks_pooled");
    pg.execute(&pooled, before);
    let refused = runtime().block_on(async {
        use sqlx::Connection;
        for statement in &sql {
            let mut conn = sqlx::PgConnection::connect(&pooled).await.expect("connect");
            if let Err(error) = sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(&mut conn)
                .await
            {
                return Some(error.to_string());
            }
        }
        None
    });
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("\"teams\" does not exist")),
        "{refused:?}"
    );
    // In one session, as marked: the plan gives the target schema.
    let session = pg.database("marks_session");
    pg.execute(&session, before);
    runtime().block_on(async {
        let mut db = connect(&session, Dialect::Postgres).await;
        let statements: Vec<String> = sql.iter().map(|s| s.to_string()).collect();
        apply(&mut db, &statements, "one session").await;
    });
    ws.run(&["diff", "--from", &session, "--to", &to])
        .assert_code(0);

    // A plan without such a setting may run anywhere: `one_session` is null.
    let without_routine = pg.database("marks_plain");
    pg.execute(
        &without_routine,
        "CREATE TABLE users (id int, name text, age integer, score numeric(10,2));",
    );
    let plain = ws
        .run(&[
            "diff",
            "--sql",
            "--from",
            &from,
            "--to",
            &without_routine,
            "--format",
            "json",
        ])
        .assert_code(1)
        .json();
    assert_eq!(plain["one_session"], serde_json::Value::Null, "{plain}");
}
