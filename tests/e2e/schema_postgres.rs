//! PostgreSQL schema inspection against real databases: what the model holds for a schema that
//! has every kind of object, that it does not depend on how the schema was spelled or on the
//! session, that excluded tables vanish with what hangs off them, and that hand-made changes
//! show.

use crate::support;

use std::time::Duration;

use cargo_migrate::db::{ConnectOptions, Database, DatabaseUrl};
use cargo_migrate::dialect::Dialect;
use cargo_migrate::schema::model::{
    ConstraintKind, IndexKey, QualifiedName, RoutineKind, Schema, UserTypeKind,
};
use cargo_migrate::schema::{Excluded, diff, render};
use support::Pg;

/// The history table every test database has, and which inspection must leave out.
fn history() -> Vec<Excluded> {
    vec![Excluded {
        schema: "public".into(),
        table: "_cargo_migrate".into(),
    }]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn connect(url: &str) -> Database {
    let options = ConnectOptions {
        wait: Duration::ZERO,
        connect_timeout: Duration::from_secs(10),
        lock_timeout: Duration::from_secs(5),
        create_if_missing: false,
    };
    Database::connect(
        &DatabaseUrl::sandbox(url, Dialect::Postgres),
        &options,
        |_| {},
    )
    .await
    .expect("connect")
}

/// The schema of the database at `url`, from a fresh connection, without the history table.
fn inspect(url: &str) -> Schema {
    runtime().block_on(async {
        let mut db = connect(url).await;
        db.inspect(&history()).await.expect("inspect")
    })
}

fn name(text: &str) -> QualifiedName {
    QualifiedName::new("public", text)
}

fn qualified(schema: &str, text: &str) -> QualifiedName {
    QualifiedName::new(schema, text)
}

/// Roles are the cluster's, not a database's: created once per cluster.
fn create_roles(pg: &Pg, url: &str) {
    pg.execute(url, "CREATE ROLE reader; CREATE ROLE writer;");
}

fn has_extension(pg: &Pg, url: &str, extension: &str) -> bool {
    let rows = pg.query(
        url,
        &format!("SELECT name::text FROM pg_available_extensions WHERE name = '{extension}'"),
    );
    if rows.is_empty() {
        eprintln!("note: the {extension} extension is not installed; its part is left out");
    }
    !rows.is_empty()
}

/// A schema with every kind of object the model has; `email_type` is `citext` when that
/// extension is available (its objects must not show), `text` otherwise.
fn rich_schema(email_type: &str) -> String {
    let extension = if email_type == "citext" {
        "CREATE EXTENSION citext;"
    } else {
        ""
    };
    format!(
        r#"
{extension}
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'application data';
CREATE SCHEMA audit;

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';
COMMENT ON TYPE mood IS 'how it feels';
CREATE DOMAIN app.positive AS integer NOT NULL DEFAULT 1
    CONSTRAINT positive_check CHECK (VALUE > 0) CONSTRAINT small CHECK (VALUE < 1000);
CREATE DOMAIN code AS text COLLATE "C";
CREATE TYPE app.pair AS (left_value integer, right_value text);
CREATE TYPE floatrange AS RANGE (subtype = float8);
CREATE SEQUENCE app.invoice_numbers AS integer
    START 1000 INCREMENT 5 MINVALUE 1000 MAXVALUE 999999 CACHE 10 CYCLE;
COMMENT ON SEQUENCE app.invoice_numbers IS 'invoice numbers';
SELECT nextval('app.invoice_numbers');

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 2),
    email {email_type} NOT NULL,
    name varchar(100) COLLATE "C",
    mood mood DEFAULT 'ok',
    score numeric(10, 2) NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    email_domain text GENERATED ALWAYS AS (split_part(email::text, '@', 2)) STORED,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_score_check CHECK (score >= 0)
);
COMMENT ON TABLE users IS 'people';
COMMENT ON COLUMN users.email IS 'login';
COMMENT ON CONSTRAINT users_score_check ON users IS 'never negative';

CREATE TABLE app.posts (
    id serial PRIMARY KEY,
    author_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    title text NOT NULL,
    body text,
    tags text[] NOT NULL DEFAULT '{{}}',
    published_at timestamp,
    during tstzrange,
    quantity app.positive,
    CONSTRAINT posts_during_excl EXCLUDE USING gist (during WITH &&)
);
CREATE INDEX posts_title_lower ON app.posts (lower(title) text_pattern_ops DESC NULLS LAST)
    INCLUDE (author_id) WHERE published_at IS NOT NULL;
CREATE INDEX posts_tags ON app.posts USING gin (tags);
CREATE UNIQUE INDEX posts_author_title ON app.posts (author_id, title COLLATE "C" NULLS FIRST)
    NULLS NOT DISTINCT;
COMMENT ON INDEX app.posts_tags IS 'tag search';
ALTER TABLE app.posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.posts FORCE ROW LEVEL SECURITY;
CREATE POLICY own_posts ON app.posts FOR UPDATE TO writer, reader
    USING (author_id = 1) WITH CHECK (author_id = 1);
CREATE POLICY everyone_reads ON app.posts AS RESTRICTIVE FOR SELECT USING (true);

CREATE TABLE audit.events (id bigint NOT NULL, at timestamptz NOT NULL, payload jsonb)
    PARTITION BY RANGE (at);
CREATE TABLE audit.events_2024 PARTITION OF audit.events
    FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');
CREATE TABLE audit.events_default PARTITION OF audit.events DEFAULT;
CREATE INDEX events_at ON audit.events (at);
CREATE UNLOGGED TABLE audit.scratch (note text);

CREATE TABLE base_item (id integer, label text);
CREATE TABLE tagged (tag text);
CREATE TABLE special_item (extra text) INHERITS (base_item, tagged);

CREATE VIEW app.published AS SELECT id, title FROM app.posts WHERE published_at IS NOT NULL;
COMMENT ON VIEW app.published IS 'visible posts';
CREATE MATERIALIZED VIEW post_counts AS
    SELECT author_id, count(*) AS posts FROM app.posts GROUP BY author_id;
CREATE UNIQUE INDEX post_counts_author ON post_counts (author_id);

CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_at := now();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION touch() IS 'stamps rows';
CREATE FUNCTION app.add(a integer, b integer DEFAULT 1) RETURNS integer
    LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE PROCEDURE app.cleanup(days integer) LANGUAGE sql
    AS $$ DELETE FROM app.posts WHERE published_at < now() - make_interval(days => days) $$;
CREATE AGGREGATE app.total(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '0');
CREATE FUNCTION published_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO app.posts (author_id, title) VALUES (1, NEW.title);
    RETURN NEW;
END
$$;
CREATE FUNCTION audit.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;

CREATE TRIGGER users_touch BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER users_touch_update BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE users DISABLE TRIGGER users_touch_update;
COMMENT ON TRIGGER users_touch ON users IS 'on insert';
CREATE TRIGGER published_insert INSTEAD OF INSERT ON app.published
    FOR EACH ROW EXECUTE FUNCTION published_insert();
CREATE TRIGGER events_noop AFTER INSERT ON audit.events
    FOR EACH ROW EXECUTE FUNCTION audit.noop();

CREATE TABLE _cargo_migrate (id serial, version bigint PRIMARY KEY, name text NOT NULL);
CREATE INDEX _cargo_migrate_name ON _cargo_migrate (name);
CREATE TRIGGER history_touch AFTER INSERT ON _cargo_migrate
    FOR EACH ROW EXECUTE FUNCTION audit.noop();
"#
    )
}

/// Every kind of object lands where the model says, with the server's own spelling.
#[test]
fn rich_schema_is_read_in_full() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("rich");
    create_roles(&pg, &url);
    let citext = has_extension(&pg, &url, "citext");
    pg.execute(&url, &rich_schema(if citext { "citext" } else { "text" }));
    let schema = inspect(&url);

    // Namespaces: not public, not the system's.
    assert_eq!(
        schema.schemas.keys().collect::<Vec<_>>(),
        ["app", "audit"],
        "{schema:#?}"
    );
    assert_eq!(
        schema.schemas["app"].comment.as_deref(),
        Some("application data")
    );

    // The extension, and none of its types or functions.
    if citext {
        assert_eq!(
            schema.extensions.keys().collect::<Vec<_>>(),
            ["citext"],
            "plpgsql is every database's and left out"
        );
        assert_eq!(schema.extensions["citext"].schema, "public");
        assert!(!schema.types.contains_key(&name("citext")));
        assert!(
            !schema.routines.keys().any(|k| k.starts_with("citext")),
            "{:?}",
            schema.routines.keys()
        );
    }

    // Types.
    let mood = &schema.types[&name("mood")];
    assert_eq!(
        mood.kind,
        UserTypeKind::Enum {
            labels: vec!["sad".into(), "meh".into(), "ok".into(), "happy".into()]
        }
    );
    assert_eq!(mood.comment.as_deref(), Some("how it feels"));
    assert_eq!(
        schema.types[&qualified("app", "positive")].kind,
        UserTypeKind::Domain {
            base_type: "integer".into(),
            not_null: true,
            default: Some("1".into()),
            collation: None,
            checks: [
                (
                    "positive_check".to_string(),
                    "CHECK ((VALUE > 0))".to_string()
                ),
                ("small".to_string(), "CHECK ((VALUE < 1000))".to_string()),
            ]
            .into(),
            check_comments: Default::default(),
        }
    );
    let UserTypeKind::Domain { collation, .. } = &schema.types[&name("code")].kind else {
        panic!("code is a domain");
    };
    assert_eq!(collation.as_deref(), Some("\"C\""));
    assert_eq!(
        schema.types[&qualified("app", "pair")].kind,
        UserTypeKind::Composite {
            attributes: vec![
                ("left_value".into(), "integer".into()),
                ("right_value".into(), "text".into())
            ],
            collations: Default::default(),
        }
    );
    assert_eq!(
        schema.types[&name("floatrange")].kind,
        UserTypeKind::Range {
            subtype: "double precision".into()
        }
    );
    assert_eq!(
        schema.types.len(),
        5,
        "no array, row or multirange types: {:?}",
        schema.types.keys()
    );

    // Sequences: the serial's (owned) and the free one; not the identity column's, not the
    // excluded history table's; no current value anywhere.
    assert_eq!(
        schema
            .sequences
            .keys()
            .map(|k| k.as_str())
            .collect::<Vec<_>>(),
        ["app.invoice_numbers", "app.posts_id_seq"]
    );
    let invoices = &schema.sequences[&qualified("app", "invoice_numbers")];
    assert_eq!(
        (
            invoices.data_type.as_str(),
            invoices.start,
            invoices.increment,
            invoices.min_value,
            invoices.max_value,
            invoices.cache,
            invoices.cycle
        ),
        ("integer", 1000, 5, 1000, 999_999, 10, true)
    );
    assert_eq!(invoices.owned_by, None);
    assert_eq!(invoices.comment.as_deref(), Some("invoice numbers"));
    assert_eq!(
        schema.sequences[&qualified("app", "posts_id_seq")]
            .owned_by
            .as_deref(),
        Some("app.posts.id")
    );

    // Tables.
    assert_eq!(
        schema.tables.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        [
            "app.posts",
            "audit.events",
            "audit.events_2024",
            "audit.events_default",
            "audit.scratch",
            "base_item",
            "special_item",
            "tagged",
            "users"
        ]
    );
    let users = &schema.tables[&name("users")];
    assert_eq!(users.comment.as_deref(), Some("people"));
    assert_eq!(
        users
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        [
            "id",
            "email",
            "name",
            "mood",
            "score",
            "created_at",
            "email_domain"
        ]
    );
    let id = users.column("id").unwrap();
    assert_eq!(id.data_type, "bigint");
    assert!(!id.nullable);
    assert_eq!(id.default, None);
    let identity = id.identity.as_ref().expect("identity");
    assert_eq!(
        (
            identity.generation.as_str(),
            identity.start,
            identity.increment,
            identity.min_value,
            identity.max_value,
            identity.cache,
            identity.cycle
        ),
        ("ALWAYS", 10, 2, 1, i64::MAX, 1, false)
    );
    let email = users.column("email").unwrap();
    assert_eq!(email.data_type, if citext { "citext" } else { "text" });
    assert!(!email.nullable);
    assert_eq!(email.comment.as_deref(), Some("login"));
    assert_eq!(
        email.collation, None,
        "the type's own collation is left out"
    );
    let user_name = users.column("name").unwrap();
    assert_eq!(user_name.data_type, "character varying(100)");
    assert!(user_name.nullable);
    assert_eq!(user_name.collation.as_deref(), Some("\"C\""));
    assert_eq!(
        users.column("mood").unwrap().default.as_deref(),
        Some("'ok'::mood")
    );
    let score = users.column("score").unwrap();
    assert_eq!(score.data_type, "numeric(10,2)");
    assert_eq!(score.default.as_deref(), Some("0"));
    assert_eq!(
        users.column("created_at").unwrap().data_type,
        "timestamp with time zone"
    );
    let generated = users.column("email_domain").unwrap().generated.as_ref();
    let generated = generated.expect("generated column");
    assert_eq!(generated.storage, "STORED");
    assert!(
        generated.expression.contains("split_part"),
        "{}",
        generated.expression
    );
    assert_eq!(users.column("email_domain").unwrap().default, None);

    let constraints: Vec<(&str, ConstraintKind, &str, Vec<&str>)> = users
        .constraints
        .iter()
        .map(|(n, c)| {
            (
                n.as_str(),
                c.kind,
                c.definition.as_str(),
                c.columns.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        constraints,
        [
            (
                "users_email_key",
                ConstraintKind::Unique,
                "UNIQUE (email)",
                vec!["email"]
            ),
            (
                "users_pkey",
                ConstraintKind::PrimaryKey,
                "PRIMARY KEY (id)",
                vec!["id"]
            ),
            (
                "users_score_check",
                ConstraintKind::Check,
                "CHECK ((score >= (0)::numeric))",
                vec![]
            ),
        ]
    );
    assert_eq!(
        users.constraints["users_score_check"].comment.as_deref(),
        Some("never negative")
    );
    assert!(
        users.indexes.is_empty(),
        "constraints' own indexes are not indexes"
    );
    assert_eq!(
        users.triggers.keys().collect::<Vec<_>>(),
        ["users_touch", "users_touch_update"]
    );
    assert_eq!(
        users.triggers["users_touch"].definition,
        "CREATE TRIGGER users_touch BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION touch()"
    );
    assert_eq!(users.triggers["users_touch"].enabled, None);
    assert_eq!(
        users.triggers["users_touch"].comment.as_deref(),
        Some("on insert")
    );
    assert_eq!(
        users.triggers["users_touch_update"].enabled.as_deref(),
        Some("D")
    );
    assert!(!users.row_security);

    let posts = &schema.tables[&qualified("app", "posts")];
    assert_eq!(
        posts.column("id").unwrap().default.as_deref(),
        Some("nextval('app.posts_id_seq'::regclass)")
    );
    assert_eq!(posts.column("tags").unwrap().data_type, "text[]");
    assert_eq!(
        posts.column("tags").unwrap().default.as_deref(),
        Some("'{}'::text[]")
    );
    assert_eq!(posts.column("quantity").unwrap().data_type, "app.positive");
    let fk = &posts.constraints["posts_author_id_fkey"];
    assert_eq!(fk.kind, ConstraintKind::ForeignKey);
    assert_eq!(
        fk.definition,
        "FOREIGN KEY (author_id) REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
    );
    assert_eq!(fk.columns, ["author_id"]);
    let exclusion = &posts.constraints["posts_during_excl"];
    assert_eq!(exclusion.kind, ConstraintKind::Exclusion);
    assert_eq!(exclusion.definition, "EXCLUDE USING gist (during WITH &&)");
    assert_eq!(exclusion.columns, ["during"]);
    assert_eq!(posts.constraints.len(), 3, "{:?}", posts.constraints.keys());

    assert_eq!(
        posts.indexes.keys().collect::<Vec<_>>(),
        ["posts_author_title", "posts_tags", "posts_title_lower"]
    );
    let title_lower = &posts.indexes["posts_title_lower"];
    assert!(!title_lower.unique);
    assert_eq!(title_lower.method, "btree");
    assert_eq!(
        title_lower.keys,
        [IndexKey {
            expression: "lower(title)".into(),
            opclass: Some("text_pattern_ops".into()),
            collation: None,
            descending: true,
            nulls: Some("NULLS LAST".into()),
        }]
    );
    assert_eq!(title_lower.include, ["author_id"]);
    assert_eq!(
        title_lower.predicate.as_deref(),
        Some("(published_at IS NOT NULL)")
    );
    let tags = &posts.indexes["posts_tags"];
    assert_eq!(tags.method, "gin");
    assert_eq!(
        tags.keys,
        [IndexKey::column("tags")],
        "array_ops is the default"
    );
    assert_eq!(tags.comment.as_deref(), Some("tag search"));
    let author_title = &posts.indexes["posts_author_title"];
    assert!(author_title.unique);
    assert!(author_title.nulls_not_distinct);
    assert_eq!(
        author_title.keys,
        [
            IndexKey::column("author_id"),
            IndexKey {
                collation: Some("\"C\"".into()),
                nulls: Some("NULLS FIRST".into()),
                ..IndexKey::column("title")
            }
        ]
    );
    assert!(posts.row_security);
    assert!(posts.force_row_security);
    let own_posts = &posts.policies["own_posts"];
    assert_eq!(own_posts.command, "UPDATE");
    assert!(own_posts.permissive);
    assert_eq!(own_posts.roles, ["reader", "writer"]);
    assert_eq!(own_posts.using.as_deref(), Some("(author_id = 1)"));
    assert_eq!(own_posts.with_check.as_deref(), Some("(author_id = 1)"));
    let everyone = &posts.policies["everyone_reads"];
    assert_eq!(everyone.command, "SELECT");
    assert!(!everyone.permissive);
    assert_eq!(everyone.roles, ["public"]);
    assert_eq!(everyone.using.as_deref(), Some("true"));
    assert_eq!(everyone.with_check, None);

    let events = &schema.tables[&qualified("audit", "events")];
    assert_eq!(events.partition_by.as_deref(), Some("RANGE (at)"));
    assert_eq!(events.indexes.keys().collect::<Vec<_>>(), ["events_at"]);
    assert_eq!(events.triggers.keys().collect::<Vec<_>>(), ["events_noop"]);
    let events_2024 = &schema.tables[&qualified("audit", "events_2024")];
    let partition = events_2024.partition_of.as_ref().expect("a partition");
    assert_eq!(partition.parent, qualified("audit", "events"));
    assert_eq!(
        partition.bound,
        "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')"
    );
    assert!(events_2024.inherits.is_empty());
    assert!(
        events_2024.triggers.is_empty(),
        "the server's copy of the parent's trigger is not listed"
    );
    assert_eq!(
        schema.tables[&qualified("audit", "events_default")]
            .partition_of
            .as_ref()
            .map(|p| p.bound.as_str()),
        Some("DEFAULT")
    );
    assert_eq!(
        schema.tables[&qualified("audit", "scratch")].options,
        ["UNLOGGED"]
    );
    assert!(events.options.is_empty());
    assert_eq!(
        schema.tables[&name("special_item")].inherits,
        [name("base_item"), name("tagged")]
    );
    assert_eq!(
        schema.tables[&name("special_item")]
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["id", "label", "tag", "extra"]
    );

    // Views.
    let published = &schema.views[&qualified("app", "published")];
    assert!(!published.materialized);
    // Pretty-printed by the server (whose exact layout changes between major versions),
    // qualified the same way whatever the session's search_path.
    assert!(
        published.definition.contains("FROM app.posts")
            && published.definition.contains("published_at IS NOT NULL"),
        "{:?}",
        published.definition
    );
    assert_eq!(published.comment.as_deref(), Some("visible posts"));
    assert_eq!(
        published.triggers["published_insert"].definition,
        "CREATE TRIGGER published_insert INSTEAD OF INSERT ON app.published FOR EACH ROW EXECUTE FUNCTION published_insert()"
    );
    let counts = &schema.views[&name("post_counts")];
    assert!(counts.materialized);
    assert_eq!(
        counts.indexes["post_counts_author"].keys,
        [IndexKey::column("author_id")]
    );
    assert!(counts.indexes["post_counts_author"].unique);

    // Routines.
    assert_eq!(
        schema.routines.keys().collect::<Vec<_>>(),
        [
            "app.add(a integer, b integer)",
            "app.cleanup(IN days integer)",
            "app.total(integer)",
            "audit.noop()",
            "published_insert()",
            "touch()"
        ]
    );
    let add = &schema.routines["app.add(a integer, b integer)"];
    assert_eq!(add.kind, RoutineKind::Function);
    assert_eq!(add.language, "sql");
    assert_eq!(add.returns, "integer");
    assert!(
        add.definition
            .starts_with("CREATE OR REPLACE FUNCTION app.add(a integer, b integer DEFAULT 1)"),
        "{}",
        add.definition
    );
    assert!(add.definition.contains("IMMUTABLE"), "{}", add.definition);
    let cleanup = &schema.routines["app.cleanup(IN days integer)"];
    assert_eq!(cleanup.kind, RoutineKind::Procedure);
    assert_eq!(cleanup.returns, "");
    let total = &schema.routines["app.total(integer)"];
    assert_eq!(total.kind, RoutineKind::Aggregate);
    assert_eq!(total.returns, "integer");
    assert_eq!(
        total.definition,
        "CREATE AGGREGATE app.total(integer) (SFUNC = int4pl(integer,integer), STYPE = integer, INITCOND = '0')"
    );
    assert_eq!(
        schema.routines["touch()"].comment.as_deref(),
        Some("stamps rows")
    );
    assert_eq!(schema.routines["touch()"].language, "plpgsql");
    assert_eq!(schema.routines["touch()"].returns, "trigger");

    // The history table, and its index, sequence and trigger, are gone.
    assert!(!schema.tables.contains_key(&name("_cargo_migrate")));
    assert!(
        !serde_json::to_string(&schema)
            .unwrap()
            .contains("_cargo_migrate"),
        "nothing mentions the history table"
    );
}

/// The same SQL in two databases, or the same schema spelled differently, gives equal models.
#[test]
fn equal_schemas_give_equal_models() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let first = pg.database("first");
    create_roles(&pg, &first);
    let second = pg.database("second");
    let citext = has_extension(&pg, &first, "citext");
    let sql = rich_schema(if citext { "citext" } else { "text" });
    pg.execute(&first, &sql);
    // Objects made in another order, with unrelated churn in between (OIDs, attnums differ).
    pg.execute(
        &second,
        "CREATE TABLE churn (a int, b int); ALTER TABLE churn DROP COLUMN a; DROP TABLE churn;",
    );
    pg.execute(&second, &sql);
    assert_eq!(inspect(&first), inspect(&second));

    // Different spelling of one schema.
    let canonical = pg.database("canonical");
    pg.execute(
        &canonical,
        r#"
CREATE TABLE owners (id integer PRIMARY KEY);
CREATE TABLE items (
    id integer NOT NULL,
    name character varying(10),
    owner_id integer,
    flag boolean DEFAULT false,
    seen timestamp with time zone,
    later integer,
    CONSTRAINT items_pkey PRIMARY KEY (id),
    CONSTRAINT items_name_check CHECK (name <> ''),
    CONSTRAINT items_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES owners (id)
);
CREATE INDEX items_name ON items USING btree (name ASC NULLS LAST);
CREATE INDEX items_seen ON items (seen DESC NULLS FIRST);
"#,
    );
    let respelled = pg.database("respelled");
    pg.execute(
        &respelled,
        r#"
CREATE TABLE owners (id int4 CONSTRAINT owners_pkey PRIMARY KEY);
CREATE TABLE items (
    id int PRIMARY KEY,
    name varchar(10),
    owner_id int REFERENCES owners,
    flag bool DEFAULT FALSE,
    seen timestamptz,
    dropped text
);
ALTER TABLE items ADD CONSTRAINT items_name_check CHECK (name <> '');
ALTER TABLE items DROP COLUMN dropped;
ALTER TABLE items ADD COLUMN later int;
CREATE INDEX items_name ON items (name text_ops);
CREATE INDEX items_seen ON items (seen DESC);
"#,
    );
    assert_eq!(inspect(&canonical), inspect(&respelled));
}

/// The session's search_path and output settings change nothing in the model, and are as the
/// session had them after inspection (the same connection goes on to run migrations).
#[test]
fn the_session_settings_neither_matter_nor_change() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("session");
    pg.execute(
        &url,
        r#"
CREATE SCHEMA app;
CREATE TYPE app.kind AS ENUM ('a', 'b');
CREATE TABLE app.things (
    id bigserial PRIMARY KEY,
    kind app.kind NOT NULL DEFAULT 'a',
    at timestamptz DEFAULT '2024-06-01 12:00:00+00',
    span interval DEFAULT '1 day 02:00:00',
    ratio float8 DEFAULT 0.1,
    note text DEFAULT 'it''s'
);
CREATE TABLE things (id bigint REFERENCES app.things (id), kind app.kind);
CREATE VIEW app.recent AS SELECT t.id, t.at FROM app.things t WHERE t.at > '2024-01-01 00:00:00+00';
CREATE TABLE app.log (at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE app.log_2024 PARTITION OF app.log FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');
"#,
    );
    let plain = inspect(&url);

    let (from_session, settings) = runtime().block_on(async {
        let mut db = connect(&url).await;
        db.execute(
            "SET search_path = app, public; SET TimeZone = 'Asia/Tokyo'; \
             SET DateStyle = 'SQL, DMY'; SET IntervalStyle = 'iso_8601'; \
             SET extra_float_digits = 0; SET quote_all_identifiers = on",
        )
        .await
        .expect("change the session's settings");
        let schema = db.inspect(&history()).await.expect("inspect");
        db.execute(
            "CREATE TABLE public.settings_after AS SELECT \
             current_setting('search_path') AS search_path, \
             current_setting('TimeZone') AS time_zone, \
             current_setting('DateStyle') AS date_style, \
             current_setting('quote_all_identifiers') AS quote_all",
        )
        .await
        .expect("record the settings");
        // Read back in the session too: the transaction was committed, not left open.
        let columns = db
            .columns_of("public.settings_after")
            .await
            .expect("columns");
        (schema, columns)
    });
    assert_eq!(plain, from_session);
    assert_eq!(
        settings,
        ["search_path", "time_zone", "date_style", "quote_all"]
    );
    let rows = pg.query(
        &url,
        "SELECT search_path, time_zone, date_style, quote_all FROM settings_after",
    );
    assert_eq!(
        rows,
        [[
            Some("app, public".to_string()),
            Some("Asia/Tokyo".to_string()),
            Some("SQL, DMY".to_string()),
            Some("on".to_string())
        ]]
    );
    let things = &plain.tables[&qualified("app", "things")];
    assert_eq!(
        things.column("at").unwrap().default.as_deref(),
        Some("'2024-06-01 12:00:00+00'::timestamp with time zone")
    );
    assert_eq!(
        plain.tables[&name("things")]
            .column("kind")
            .unwrap()
            .data_type,
        "app.kind"
    );
}

/// A database without a `public` schema inspects fine.
#[test]
fn a_database_without_public_schema() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("no_public");
    pg.execute(
        &url,
        "DROP SCHEMA public CASCADE; CREATE SCHEMA app; \
         CREATE TABLE app.t (id int PRIMARY KEY, at timestamptz DEFAULT now());",
    );
    let schema = inspect(&url);
    assert_eq!(schema.schemas.keys().collect::<Vec<_>>(), ["app"]);
    assert_eq!(
        schema.tables.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["app.t"]
    );
    assert_eq!(
        schema.tables[&qualified("app", "t")].constraints["t_pkey"].definition,
        "PRIMARY KEY (id)"
    );
}

/// Excluded tables are left out with their indexes, constraints, triggers and owned
/// sequences, wherever they live; a table of the same name elsewhere stays.
#[test]
fn excluded_tables_are_left_out_with_what_hangs_off_them() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("excluded");
    pg.execute(
        &url,
        r#"
CREATE SCHEMA ops;
CREATE TABLE _cargo_migrate (id serial PRIMARY KEY, version bigint UNIQUE, name text);
CREATE INDEX _cargo_migrate_name ON _cargo_migrate (name);
CREATE TABLE ops.history (id bigint GENERATED BY DEFAULT AS IDENTITY, note text);
CREATE SEQUENCE ops.history_notes OWNED BY ops.history.note;
CREATE TABLE ops._cargo_migrate (id int);
CREATE TABLE kept (id int);
"#,
    );
    let excluded = [
        Excluded {
            schema: "public".into(),
            table: "_cargo_migrate".into(),
        },
        Excluded {
            schema: "ops".into(),
            table: "history".into(),
        },
    ];
    let schema = runtime().block_on(async {
        let mut db = connect(&url).await;
        db.inspect(&excluded).await.expect("inspect")
    });
    assert_eq!(
        schema.tables.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["kept", "ops._cargo_migrate"]
    );
    assert!(
        schema.sequences.is_empty(),
        "owned sequences go with their table: {:?}",
        schema.sequences
    );
    let text = serde_json::to_string(&schema).unwrap();
    assert!(!text.contains("_cargo_migrate_name"), "{text}");
    assert!(!text.contains("_cargo_migrate_pkey"), "{text}");
}

/// Each change made by hand shows in the model, and nothing else changes.
#[test]
fn hand_made_changes_show() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("changes");
    pg.execute(
        &url,
        r#"
CREATE TYPE status AS ENUM ('new', 'done');
CREATE TABLE items (id int PRIMARY KEY, name text, qty int DEFAULT 1, status status);
CREATE INDEX items_name ON items (name);
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY small ON items USING (qty < 10);
CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 41';
CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
"#,
    );
    type Check = fn(&Schema, &Schema);
    let changes: [(&str, Check); 8] = [
        (
            "ALTER TABLE items ADD COLUMN price numeric(8, 2)",
            |_, after| {
                assert_eq!(
                    after.tables[&name("items")]
                        .column("price")
                        .map(|c| c.data_type.as_str()),
                    Some("numeric(8,2)")
                );
            },
        ),
        ("DROP INDEX items_name", |before, after| {
            assert!(
                before.tables[&name("items")]
                    .indexes
                    .contains_key("items_name")
            );
            assert!(after.tables[&name("items")].indexes.is_empty());
        }),
        (
            "ALTER TABLE items ALTER COLUMN qty SET DEFAULT 5",
            |_, after| {
                assert_eq!(
                    after.tables[&name("items")]
                        .column("qty")
                        .unwrap()
                        .default
                        .as_deref(),
                    Some("5")
                );
            },
        ),
        ("CREATE TABLE extra (id int)", |before, after| {
            assert_eq!(after.tables.len(), before.tables.len() + 1);
            assert!(after.tables.contains_key(&name("extra")));
        }),
        (
            "CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'",
            |before, after| {
                assert!(before.routines["answer()"].definition.contains("SELECT 41"));
                assert!(after.routines["answer()"].definition.contains("SELECT 42"));
            },
        ),
        ("ALTER TYPE status ADD VALUE 'archived'", |_, after| {
            assert_eq!(
                after.types[&name("status")].kind,
                UserTypeKind::Enum {
                    labels: vec!["new".into(), "done".into(), "archived".into()]
                }
            );
        }),
        (
            "CREATE TRIGGER items_stamp BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION stamp()",
            |_, after| {
                assert!(
                    after.tables[&name("items")]
                        .triggers
                        .contains_key("items_stamp")
                );
            },
        ),
        (
            "ALTER POLICY small ON items USING (qty < 20)",
            |_, after| {
                assert_eq!(
                    after.tables[&name("items")].policies["small"]
                        .using
                        .as_deref(),
                    Some("(qty < 20)")
                );
            },
        ),
    ];
    let mut before = inspect(&url);
    for (sql, check) in changes {
        pg.execute(&url, sql);
        let after = inspect(&url);
        assert_ne!(before, after, "{sql} shows");
        check(&before, &after);
        before = after;
    }
}

/// Plain views' options are read however they were spelled and rendered in `CREATE VIEW`'s
/// `WITH (...)`; a materialized view's storage parameters are not read.
#[test]
fn view_options_are_read_and_rendered() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("view_options");
    pg.execute(
        &url,
        r#"
CREATE TABLE items (id int, secret text);
CREATE VIEW plain AS SELECT id FROM items;
CREATE VIEW invoker WITH (security_invoker = on, security_barrier) AS SELECT id FROM items;
CREATE VIEW checked AS SELECT id FROM items WHERE id > 0 WITH CASCADED CHECK OPTION;
CREATE VIEW local_checked WITH (check_option = LOCAL, security_barrier = false)
    AS SELECT id FROM items WHERE id > 0;
CREATE MATERIALIZED VIEW counted WITH (fillfactor = 50) AS SELECT count(*) AS n FROM items;
"#,
    );
    let schema = inspect(&url);
    let options = |view: &str| schema.views[&name(view)].options.clone();
    assert_eq!(options("plain"), Vec::<String>::new());
    assert_eq!(
        options("invoker"),
        ["security_barrier=true", "security_invoker=true"]
    );
    assert_eq!(options("checked"), ["check_option=cascaded"]);
    assert_eq!(
        options("local_checked"),
        ["check_option=local"],
        "false is the default, left out"
    );
    assert_eq!(options("counted"), Vec::<String>::new(), "storage");
    let text = render(&schema);
    assert!(
        text.contains(
            "CREATE VIEW invoker WITH (security_barrier=true, security_invoker=true) AS\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("CREATE VIEW checked WITH (check_option=cascaded) AS\n"),
        "{text}"
    );
    assert!(text.contains("CREATE VIEW plain AS\n"), "{text}");
    assert!(
        text.contains("CREATE MATERIALIZED VIEW counted AS\n"),
        "{text}"
    );

    // Changed in place by hand: the model follows, and the diff names the attribute.
    pg.execute(
        &url,
        "ALTER VIEW plain SET (security_invoker = true); ALTER VIEW checked RESET (check_option);",
    );
    let after = inspect(&url);
    let changes: Vec<String> = diff(&schema, &after).iter().map(|c| c.summary()).collect();
    assert_eq!(
        changes,
        [
            "~ view checked: options check_option=cascaded → none",
            "~ view plain: options none → security_invoker=true",
        ]
    );
}

/// Comments on policies and on domains' checks are read, rendered as `COMMENT ON POLICY` and
/// `COMMENT ON CONSTRAINT ... ON DOMAIN`, and a change by hand shows as that comment alone.
#[test]
fn policy_and_domain_check_comments_are_read_and_rendered() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("object_comments");
    pg.execute(
        &url,
        r#"
CREATE SCHEMA app;
CREATE DOMAIN app.percent AS integer
    CONSTRAINT at_least_zero CHECK (VALUE >= 0) CONSTRAINT at_most_100 CHECK (VALUE <= 100);
COMMENT ON CONSTRAINT at_most_100 ON DOMAIN app.percent IS 'a whole, at most';
CREATE TABLE app.items (id int, share app.percent);
ALTER TABLE app.items ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Readers" ON app.items FOR SELECT USING (true);
CREATE POLICY writers ON app.items FOR INSERT WITH CHECK (id > 0);
COMMENT ON POLICY "Readers" ON app.items IS 'everyone''s';
"#,
    );
    let schema = inspect(&url);
    let UserTypeKind::Domain { check_comments, .. } =
        &schema.types[&qualified("app", "percent")].kind
    else {
        panic!("percent is a domain");
    };
    assert_eq!(
        check_comments,
        &[("at_most_100".to_string(), "a whole, at most".to_string())].into()
    );
    let items = &schema.tables[&qualified("app", "items")];
    assert_eq!(
        items.policies["Readers"].comment.as_deref(),
        Some("everyone's")
    );
    assert_eq!(items.policies["writers"].comment, None);
    let text = render(&schema);
    for line in [
        "COMMENT ON CONSTRAINT at_most_100 ON DOMAIN app.percent IS 'a whole, at most';\n",
        "COMMENT ON POLICY \"Readers\" ON app.items IS 'everyone''s';\n",
    ] {
        assert!(text.contains(line), "{line}in:\n{text}");
    }

    pg.execute(
        &url,
        "COMMENT ON CONSTRAINT at_most_100 ON DOMAIN app.percent IS NULL; \
         COMMENT ON CONSTRAINT at_least_zero ON DOMAIN app.percent IS 'no debt'; \
         COMMENT ON POLICY writers ON app.items IS 'only real ids';",
    );
    let after = inspect(&url);
    let changes: Vec<String> = diff(&schema, &after).iter().map(|c| c.summary()).collect();
    assert_eq!(
        changes,
        [
            "~ type app.percent: check at_least_zero comment none → no debt",
            "~ type app.percent: check at_most_100 comment a whole, at most → none",
            "~ policy app.items.writers: comment none → only real ids",
        ]
    );
}

/// A composite type's attribute collations are read where they are not the attribute type's
/// default, rendered in `CREATE TYPE`, and a type made again with another shows.
#[test]
fn composite_attribute_collations_are_read_and_rendered() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("composite_collations");
    pg.execute(
        &url,
        r#"
CREATE TYPE label AS (code text COLLATE "C", title text, note varchar(20) COLLATE "POSIX");
CREATE DOMAIN sorted AS text COLLATE "C";
CREATE TYPE tagged AS (tag sorted, plain text COLLATE "default");
"#,
    );
    let schema = inspect(&url);
    let UserTypeKind::Composite { collations, .. } = &schema.types[&name("label")].kind else {
        panic!("label is a composite");
    };
    assert_eq!(
        collations,
        &[
            ("code".to_string(), "\"C\"".to_string()),
            ("note".to_string(), "\"POSIX\"".to_string()),
        ]
        .into()
    );
    let UserTypeKind::Composite { collations, .. } = &schema.types[&name("tagged")].kind else {
        panic!("tagged is a composite");
    };
    assert!(
        collations.is_empty(),
        "a domain's own collation and the default are left out: {collations:?}"
    );
    let text = render(&schema);
    assert!(
        text.contains(
            "CREATE TYPE label AS (\n    code text COLLATE \"C\",\n    title text,\n    note character varying(20) COLLATE \"POSIX\"\n);\n"
        ),
        "{text}"
    );

    pg.execute(
        &url,
        "DROP TYPE label; \
         CREATE TYPE label AS (code text, title text COLLATE \"C\", note varchar(20) COLLATE \"POSIX\");",
    );
    let after = inspect(&url);
    let changes: Vec<String> = diff(&schema, &after).iter().map(|c| c.summary()).collect();
    assert_eq!(changes, ["~ type label: attributes changed"]);
}

/// crates.io's history applied by the tool to two databases gives the same model.
#[test]
fn crates_io_gives_identical_models() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    let Some(pg) = support::postgres() else {
        return;
    };
    let mut schemas = Vec::new();
    let mut urls = Vec::new();
    for database in ["crates_io_a", "crates_io_b"] {
        let url = pg.database(database);
        support::run_in(
            &corpora,
            &[
                "--dir",
                "crates-io/migrations",
                "up",
                "-q",
                "--dialect",
                "postgres",
                "--database-url",
                &url,
            ],
        )
        .assert_code(0);
        schemas.push(inspect(&url));
        urls.push(url);
    }
    let schema = &schemas[0];
    assert_eq!(schemas[0], schemas[1]);
    let indexes: usize = schema.tables.values().map(|t| t.indexes.len()).sum();
    let constraints: usize = schema.tables.values().map(|t| t.constraints.len()).sum();
    let triggers: usize = schema.tables.values().map(|t| t.triggers.len()).sum();
    let columns: usize = schema.tables.values().map(|t| t.columns.len()).sum();
    eprintln!(
        "crates-io: {} tables ({columns} columns, {constraints} constraints, {indexes} indexes, \
         {triggers} triggers), {} views, {} sequences, {} types, {} routines, extensions {:?}",
        schema.tables.len(),
        schema.views.len(),
        schema.sequences.len(),
        schema.types.len(),
        schema.routines.len(),
        schema.extensions.keys().collect::<Vec<_>>(),
    );
    assert!(!schema.tables.contains_key(&name("_cargo_migrate")));
    assert!(schema.tables.contains_key(&name("crates")));
    assert!(schema.tables.contains_key(&name("versions")));
    assert_eq!(
        schema.extensions.keys().collect::<Vec<_>>(),
        ["ltree", "pg_trgm", "pgcrypto"]
    );
    // The same counts straight from the catalogs (all of crates.io is in `public`).
    let count = |sql: &str| -> usize {
        pg.query(&urls[0], sql)[0][0]
            .as_deref()
            .and_then(|n| n.parse().ok())
            .expect("a count")
    };
    let not_extension = |catalog: &str, oid: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass \
             AND d.objid = {oid} AND d.deptype IN ('e', 'i'))"
        )
    };
    assert_eq!(
        schema.tables.len(),
        count(&format!(
            "SELECT count(*)::text FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace \
             AND c.relkind IN ('r', 'p') AND c.relname <> '_cargo_migrate' AND {}",
            not_extension("pg_class", "c.oid")
        ))
    );
    assert_eq!(
        schema.routines.len(),
        count(&format!(
            "SELECT count(*)::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace \
             AND {}",
            not_extension("pg_proc", "p.oid")
        ))
    );
    assert_eq!(
        triggers,
        count(
            "SELECT count(*)::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             WHERE NOT t.tgisinternal AND c.relkind IN ('r', 'p')"
        )
    );
    assert_eq!(
        indexes + constraints,
        count(
            "SELECT ((SELECT count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid \
                     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') \
                       AND c.relname <> '_cargo_migrate' \
                       AND NOT EXISTS (SELECT 1 FROM pg_constraint k \
                                       WHERE k.conindid = x.indexrelid \
                                         AND k.contype IN ('p', 'u', 'x'))) \
                  + (SELECT count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
                     WHERE c.relnamespace = 'public'::regnamespace \
                       AND c.relname <> '_cargo_migrate' \
                       AND k.contype IN ('p', 'u', 'c', 'f', 'x')))::text"
        )
    );
}

/// A view whose query names `'now'::timestamp` holds the instant it was created: the same
/// history replayed later is not a different schema (`diff` through the binary, exit 0), while
/// a real change to the query still is.
#[test]
fn frozen_instants_in_views_are_not_differences() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let view = "CREATE TABLE events (at timestamp, at_tz timestamptz);
CREATE VIEW recent AS SELECT at FROM events
    WHERE at > 'now'::timestamp - interval '1 day' AND at_tz < 'now'::timestamptz;";
    let first = pg.database("frozen_first");
    pg.execute(&first, view);
    // Another instant, whatever the clock's resolution.
    std::thread::sleep(Duration::from_millis(20));
    let second = pg.database("frozen_second");
    pg.execute(&second, view);
    let (a, b) = (inspect(&first), inspect(&second));
    assert_ne!(
        a.views[&name("recent")].definition,
        b.views[&name("recent")].definition,
        "the instants differ in the catalog"
    );
    assert!(diff(&a, &b).is_empty(), "{:?}", diff(&a, &b));
    let ws = support::Workspace::copy("check-pg");
    ws.run(&["diff", "--from", &first, "--to", &second])
        .assert_code(0);

    let third = pg.database("frozen_third");
    pg.execute(
        &third,
        "CREATE TABLE events (at timestamp, at_tz timestamptz);
CREATE VIEW recent AS SELECT at FROM events
    WHERE at > 'now'::timestamp - interval '2 days' AND at_tz < 'now'::timestamptz;",
    );
    let changes = diff(&a, &inspect(&third));
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].attribute.as_deref(), Some("definition"));
}

/// What a view uses comes from the catalog (`pg_depend` of the view and its rule): tables,
/// other views, routines and types of user schemas (an array type as its element), not
/// pg_catalog's.
#[test]
fn view_dependencies_are_read_from_the_catalog() {
    use cargo_migrate::schema::model::{Dependency, DependencyKind};
    let Some(pg) = support::postgres() else {
        return;
    };
    let url = pg.database("view_dependencies");
    pg.execute(
        &url,
        r#"
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('sad', 'ok');
CREATE TABLE "Order Items" (id int, mood app.mood, moods app.mood[]);
CREATE FUNCTION app.double(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x * 2';
CREATE VIEW base AS SELECT id, moods FROM "Order Items" WHERE mood <> 'sad'::app.mood;
CREATE VIEW app.derived AS SELECT app.double(id) AS twice, lower('X') AS x FROM base;
"#,
    );
    let schema = inspect(&url);
    let dependency = |kind, name| Dependency {
        kind,
        name,
        column: None,
    };
    assert_eq!(
        schema.views[&name("base")].depends_on,
        [
            dependency(DependencyKind::Relation, name("Order Items")),
            dependency(DependencyKind::Type, qualified("app", "mood")),
        ]
    );
    assert_eq!(
        schema.views[&qualified("app", "derived")].depends_on,
        [
            dependency(DependencyKind::Relation, name("base")),
            dependency(DependencyKind::Routine, qualified("app", "double")),
        ]
    );
}
