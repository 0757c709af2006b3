//! The catalog objects beyond tables, views, types and routines (collations, text search
//! dictionaries and configurations, operators with their families and classes, casts,
//! foreign data wrappers, servers and foreign tables, event triggers), against real
//! databases: a database holding one differs from one without it, `schema` shows it, and a
//! plan creates, drops or changes it and reaches the other side, with each statement run on
//! its own.

use crate::support;

use std::time::Duration;

use cargo_migrate::db::{ConnectOptions, Database, DatabaseUrl};
use cargo_migrate::dialect::Dialect;
use cargo_migrate::schema::model::ObjectKind;
use cargo_migrate::schema::{self, Excluded, Schema};
use support::{Pg, Workspace};

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

async fn connect(url: &str) -> Database {
    let options = ConnectOptions {
        wait: Duration::ZERO,
        connect_timeout: Duration::from_secs(10),
        lock_timeout: Duration::from_secs(5),
        create_if_missing: true,
    };
    Database::connect(
        &DatabaseUrl::sandbox(url, Dialect::Postgres),
        &options,
        |_| {},
    )
    .await
    .expect("connect")
}

/// A database made by `sql`, and its model.
async fn build(url: &str, sql: &str) -> Schema {
    let mut db = connect(url).await;
    if !sql.trim().is_empty() {
        db.execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
    db.inspect(&history()).await.expect("inspect")
}

/// Functions that compare text case-insensitively, for operators and a hash class.
const ABS_FUNCTIONS: &str = r#"
CREATE FUNCTION ci_eq(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT lower($1) = lower($2)';
CREATE FUNCTION ci_hash(text) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT hashtext(lower($1))';
"#;

/// Pairs of schemas (label, kinds the second one has and the first one does not, first,
/// second): each planned both ways.
fn pairs() -> Vec<(&'static str, Vec<ObjectKind>, String, String)> {
    vec![
        (
            "collations used by columns and a domain",
            vec![ObjectKind::Collation],
            String::new(),
            r#"
CREATE COLLATION german (provider = icu, locale = 'de-DE');
CREATE COLLATION "case insensitive" (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE COLLATION plain (provider = libc, locale = 'C');
COMMENT ON COLLATION german IS 'phone book order';
CREATE DOMAIN name_ci AS text COLLATE "case insensitive";
CREATE TABLE people (name text COLLATE german, nick name_ci, code text COLLATE plain);
CREATE INDEX people_code ON people (name COLLATE plain);
"#
            .to_string(),
        ),
        (
            "a collation that changes while nothing uses it",
            vec![],
            "CREATE COLLATION local_order (provider = icu, locale = 'de-DE');".to_string(),
            "CREATE COLLATION local_order (provider = icu, locale = 'fr-FR'); \
             COMMENT ON COLLATION local_order IS 'now French';"
                .to_string(),
        ),
        (
            "text search dictionaries and a configuration used by a generated column",
            vec![
                ObjectKind::TextSearchDictionary,
                ObjectKind::TextSearchConfiguration,
            ],
            String::new(),
            r#"
CREATE TEXT SEARCH DICTIONARY plain_words (TEMPLATE = simple, stopwords = 'english', accept = false);
CREATE TEXT SEARCH DICTIONARY stems (TEMPLATE = snowball, language = 'english');
CREATE TEXT SEARCH CONFIGURATION docs (COPY = english);
ALTER TEXT SEARCH CONFIGURATION docs ALTER MAPPING FOR asciiword, word WITH plain_words, stems;
ALTER TEXT SEARCH CONFIGURATION docs DROP MAPPING FOR email, url;
COMMENT ON TEXT SEARCH CONFIGURATION docs IS 'for documents';
CREATE TABLE documents (body text, search tsvector GENERATED ALWAYS AS (to_tsvector('docs', body)) STORED);
"#
            .to_string(),
        ),
        (
            "operators, an operator family and class used by an index",
            vec![
                ObjectKind::Operator,
                ObjectKind::OperatorFamily,
                ObjectKind::OperatorClass,
            ],
            ABS_FUNCTIONS.to_string(),
            format!(
                r#"{ABS_FUNCTIONS}
CREATE OPERATOR === (FUNCTION = ci_eq, LEFTARG = text, RIGHTARG = text, COMMUTATOR = ===, NEGATOR = !==, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE FUNCTION ci_ne(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT lower($1) <> lower($2)';
CREATE OPERATOR !== (FUNCTION = ci_ne, LEFTARG = text, RIGHTARG = text, NEGATOR = ===);
CREATE OPERATOR FAMILY ci_family USING hash;
CREATE OPERATOR CLASS ci_ops FOR TYPE text USING hash FAMILY ci_family AS OPERATOR 1 ===, FUNCTION 1 ci_hash(text);
CREATE OPERATOR CLASS ci_implicit FOR TYPE text USING hash AS OPERATOR 1 ===, FUNCTION 1 ci_hash(text);
COMMENT ON OPERATOR === (text, text) IS 'equal but for case';
CREATE TABLE words (word text);
CREATE INDEX words_ci ON words USING hash (word ci_ops);
"#
            ),
        ),
        (
            "casts from an enum, one through a function",
            vec![ObjectKind::Cast],
            "CREATE TYPE mood AS ENUM ('sad', 'happy');".to_string(),
            r#"
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE FUNCTION mood_score(mood) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT CASE $1 WHEN ''sad'' THEN 0 ELSE 1 END';
CREATE CAST (mood AS integer) WITH FUNCTION mood_score(mood) AS ASSIGNMENT;
CREATE CAST (mood AS bigint) WITH INOUT;
COMMENT ON CAST (mood AS integer) IS 'happiness';
"#
            .to_string(),
        ),
        (
            "a foreign data wrapper, servers and a foreign table",
            vec![
                ObjectKind::ForeignDataWrapper,
                ObjectKind::Server,
                ObjectKind::ForeignTable,
            ],
            String::new(),
            r#"
CREATE FOREIGN DATA WRAPPER files OPTIONS (root '/srv');
CREATE SERVER archive TYPE 'disk' VERSION '2' FOREIGN DATA WRAPPER files OPTIONS (path 'old', mode 'ro');
CREATE SERVER spare FOREIGN DATA WRAPPER files;
COMMENT ON SERVER archive IS 'cold storage';
CREATE FOREIGN TABLE archived_users (id integer NOT NULL, name text OPTIONS (column_name 'full_name') COLLATE "C", seen timestamptz DEFAULT now()) SERVER archive OPTIONS (file 'users.csv');
COMMENT ON FOREIGN TABLE archived_users IS 'users who left';
"#
            .to_string(),
        ),
        (
            "a server whose options change",
            vec![],
            "CREATE FOREIGN DATA WRAPPER files; \
             CREATE SERVER archive FOREIGN DATA WRAPPER files OPTIONS (path 'old');"
                .to_string(),
            "CREATE FOREIGN DATA WRAPPER files; \
             CREATE SERVER archive FOREIGN DATA WRAPPER files OPTIONS (path 'new');"
                .to_string(),
        ),
        (
            "event triggers, one disabled",
            vec![ObjectKind::EventTrigger],
            "CREATE FUNCTION note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE NOTICE 'ddl'; END $$;"
                .to_string(),
            r#"
CREATE FUNCTION note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'ddl'; END $$;
CREATE EVENT TRIGGER on_tables ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE') EXECUTE FUNCTION note_ddl();
CREATE EVENT TRIGGER on_drops ON sql_drop EXECUTE FUNCTION note_ddl();
ALTER EVENT TRIGGER on_drops DISABLE;
COMMENT ON EVENT TRIGGER on_tables IS 'audit';
"#
            .to_string(),
        ),
    ]
}

/// Plans `from` → `to`, applies the plan statement by statement on a database made like
/// `from`, and checks that its model is `to`'s.
async fn round_trip(urls: &[String], label: &str, a: &str, b: &str) {
    let from = build(&urls[0], a).await;
    let to = build(&urls[1], b).await;
    let plan = schema::plan(&from, &to);
    assert!(
        plan.unsupported.is_empty(),
        "{label}: unsupported {:?}\nplan:\n{}",
        plan.unsupported,
        plan.statements.join("\n")
    );
    if std::env::var("SHOW_PLANS").is_ok() {
        eprintln!("== {label}\n{}", plan.statements.join("\n"));
    }
    let mut db = connect(&urls[2]).await;
    if !a.trim().is_empty() {
        db.execute(a).await.expect("build a");
    }
    for statement in &plan.statements {
        // A fresh connection for each statement: the plan must not rely on a session.
        let mut db = connect(&urls[2]).await;
        if let Err(error) = db.execute(statement).await {
            panic!(
                "{label}: applying the plan failed at\n{statement}\n{error:?}\n\nplan:\n{}",
                plan.statements.join("\n")
            );
        }
    }
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

#[test]
fn each_kind_differs_renders_and_round_trips_both_ways() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    for (at, (label, kinds, a, b)) in pairs().into_iter().enumerate() {
        // The side with the objects differs from the side without, by those kinds.
        let first = rt.block_on(build(&pg.database(&format!("objects{at}_a")), &a));
        let second = rt.block_on(build(&pg.database(&format!("objects{at}_b")), &b));
        let changes = schema::diff(&first, &second);
        assert!(!changes.is_empty(), "{label}: no difference found");
        for kind in &kinds {
            assert!(
                changes
                    .iter()
                    .any(|change| change.object == kind.as_str() && change.from.is_none()),
                "{label}: no added {} in\n{changes:#?}",
                kind.as_str()
            );
            let text = schema::render(&second);
            let keyword = format!("CREATE {} ", kind.keyword());
            assert!(text.contains(&keyword), "{label}: {keyword} not in\n{text}");
        }
        for (direction, (from, to)) in [("forward", (&a, &b)), ("backward", (&b, &a))] {
            let urls: Vec<String> = (0..3)
                .map(|n| pg.database(&format!("objects{at}_{direction}_{n}")))
                .collect();
            rt.block_on(round_trip(
                &urls,
                &format!("{label} ({direction})"),
                from,
                to,
            ));
        }
    }
}

/// The same objects made with other spellings (option order, defaults written out, names
/// quoted) read the same.
#[test]
fn objects_are_read_in_one_spelling() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let one = rt.block_on(build(
        &pg.database("spelling_one"),
        "CREATE COLLATION german (provider = icu, locale = 'de-DE', deterministic = true); \
         CREATE FOREIGN DATA WRAPPER files; \
         CREATE SERVER archive FOREIGN DATA WRAPPER files OPTIONS (mode 'ro', path 'old');",
    ));
    let two = rt.block_on(build(
        &pg.database("spelling_two"),
        "CREATE COLLATION \"german\" (locale = 'de-DE', provider = 'icu'); \
         CREATE FOREIGN DATA WRAPPER \"files\" NO HANDLER NO VALIDATOR; \
         CREATE SERVER archive FOREIGN DATA WRAPPER files OPTIONS (path 'old', mode 'ro');",
    ));
    assert_eq!(schema::diff(&one, &two), Vec::new());
    assert_eq!(one.objects.len(), 3, "{:#?}", one.objects);
}

/// A collation that changes while a column uses it cannot be dropped and made again: the
/// plan says so instead of emitting a `DROP COLLATION` the server refuses.
#[test]
fn a_collation_in_use_that_changes_is_reported() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let rt = runtime();
    let table = "CREATE TABLE people (name text COLLATE local_order);";
    let from = rt.block_on(build(
        &pg.database("in_use_from"),
        &format!("CREATE COLLATION local_order (provider = icu, locale = 'de-DE'); {table}"),
    ));
    let to = rt.block_on(build(
        &pg.database("in_use_to"),
        &format!("CREATE COLLATION local_order (provider = icu, locale = 'fr-FR'); {table}"),
    ));
    let plan = schema::plan(&from, &to);
    assert_eq!(plan.unsupported.len(), 1, "{:?}", plan.unsupported);
    assert!(
        plan.unsupported[0].reason.contains("column people.name"),
        "{:?}",
        plan.unsupported
    );
    assert!(
        !plan.statements.iter().any(|s| s.contains("COLLATION")),
        "{:?}",
        plan.statements
    );
}

/// The real binary: `schema` shows the objects of a database, `diff` reports them, and
/// `diff --sql` from an empty schema creates the collation before the table that uses it.
#[test]
fn schema_and_diff_show_the_objects() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let ws = Workspace::copy("check-pg");
    let url = pg.database("objects_cli");
    create_objects(&pg, &url);
    let run = |args: &[&str]| {
        let mut all = vec!["--sandbox", "local"];
        all.extend_from_slice(args);
        ws.run(&all)
    };
    let text = run(&["schema", "--database-url", &url])
        .assert_code(0)
        .stdout;
    for expected in [
        "CREATE COLLATION german (provider = icu, locale = 'de-DE');",
        "CREATE TEXT SEARCH CONFIGURATION docs (PARSER = \"default\");",
        "CREATE CAST (mood AS integer) WITH INOUT;",
        "CREATE SERVER archive FOREIGN DATA WRAPPER files;",
    ] {
        assert!(text.contains(expected), "{expected} not in\n{text}");
    }
    let report = run(&["diff", "--from", "empty", "--to", &url, "--color", "never"])
        .assert_code(1)
        .stdout;
    for expected in [
        "+ collation german",
        "+ text search configuration docs",
        "+ cast (mood AS integer)",
        "+ foreign data wrapper files",
        "+ server archive",
    ] {
        assert!(report.contains(expected), "{expected} not in\n{report}");
    }
    let sql = run(&["diff", "--sql", "--from", "empty", "--to", &url])
        .assert_code(1)
        .stdout;
    let at = |needle: &str| {
        sql.find(needle)
            .unwrap_or_else(|| panic!("{needle} not in\n{sql}"))
    };
    assert!(
        at("CREATE COLLATION german") < at("CREATE TABLE people"),
        "{sql}"
    );
    assert!(at("CREATE CAST") > at("CREATE TYPE mood"), "{sql}");
}

fn create_objects(pg: &Pg, url: &str) {
    pg.execute(
        url,
        "CREATE COLLATION german (provider = icu, locale = 'de-DE'); \
         CREATE TABLE people (name text COLLATE german); \
         CREATE TEXT SEARCH CONFIGURATION docs (PARSER = default); \
         CREATE TYPE mood AS ENUM ('sad', 'happy'); \
         CREATE CAST (mood AS integer) WITH INOUT; \
         CREATE FOREIGN DATA WRAPPER files; \
         CREATE SERVER archive FOREIGN DATA WRAPPER files;",
    );
}
