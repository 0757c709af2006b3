//! SQLite schema inspection against real database files: what the model holds for a schema
//! that has every kind of object, that it does not depend on how the schema was spelled or
//! built (`ALTER TABLE` against a whole `CREATE TABLE`), that the history table and SQLite's
//! own tables are left out, that hand-made changes show, and that real-world histories give
//! the same model twice.

use crate::support;

use std::str::FromStr;
use std::time::Duration;

use cargo_migrate::db::{ConnectOptions, Database, DatabaseUrl};
use cargo_migrate::dialect::Dialect;
use cargo_migrate::schema::Excluded;
use cargo_migrate::schema::model::{IndexKey, QualifiedName, Schema, Table};
use serde_json::{Value, json};
use support::Workspace;

// ------------------------------------------------------------------------------- helpers

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `sqlite:<absolute path>` of `file` in the workspace.
fn db_url(ws: &Workspace, file: &str) -> String {
    format!("sqlite:{}", ws.path().join(file).display())
}

/// Runs statements on the database (created if missing), as a user would by hand.
fn execute(url: &str, sql: &str) {
    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
    runtime().block_on(async {
        let options = SqliteConnectOptions::from_str(url)
            .expect("sqlite URL")
            .create_if_missing(true);
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .expect("connect");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

/// A new database file in the workspace with `sql` run in it; its URL.
fn database(ws: &Workspace, file: &str, sql: &str) -> String {
    let url = db_url(ws, file);
    execute(&url, sql);
    url
}

/// The schema of the database at `url`, through the tool's own connection, without the
/// history table.
fn inspect(url: &str) -> Schema {
    runtime().block_on(async {
        let options = ConnectOptions {
            wait: Duration::ZERO,
            connect_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(5),
            create_if_missing: false,
        };
        let mut db = Database::connect(
            &DatabaseUrl::sandbox(url, Dialect::Sqlite),
            &options,
            |_| {},
        )
        .await
        .expect("connect");
        let excluded = [Excluded {
            schema: "main".into(),
            table: "_cargo_migrate".into(),
        }];
        db.inspect(&excluded).await.expect("inspect")
    })
}

fn name(text: &str) -> QualifiedName {
    QualifiedName::new("main", text)
}

fn table<'s>(schema: &'s Schema, text: &str) -> &'s Table {
    schema
        .tables
        .get(&name(text))
        .unwrap_or_else(|| panic!("no table {text} in {:?}", schema.tables.keys()))
}

/// A part of the model as JSON, to compare with a `json!` literal.
/// The model as JSON, without a table's `depends_on` (derived from the definitions; checked
/// on its own).
fn as_json(value: &impl serde::Serialize) -> Value {
    let mut value = serde_json::to_value(value).expect("model serializes");
    if let Some(object) = value.as_object_mut() {
        object.remove("depends_on");
    }
    value
}

// ----------------------------------------------------------------------------- the model

/// Every kind of object SQLite has, spelled with some of its liberties.
const RICH_SCHEMA: &str = r#"
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email varchar ( 320 ) NOT NULL CONSTRAINT users_email_key UNIQUE,
    name TEXT COLLATE nocase DEFAULT 'anonymous',
    karma int DEFAULT -1 CHECK (karma >= -100),
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    updated_at TEXT DEFAULT CURRENT_TIMESTAMP,
    email_domain TEXT GENERATED ALWAYS AS (substr(email, instr(email, '@') + 1)) VIRTUAL,
    karma_doubled INT AS (karma * 2) STORED,
    CONSTRAINT users_name_not_empty CHECK (length(name) > 0)
);

CREATE TABLE "we""ird" (
    "first name" TEXT,
    "Order" INTEGER,
    PRIMARY KEY ("first name", "Order")
) WITHOUT ROWID;

CREATE TABLE posts (
    id INTEGER NOT NULL,
    user_id INTEGER REFERENCES users ON DELETE CASCADE,
    author_name TEXT,
    author_order INTEGER,
    title TEXT NOT NULL,
    body BLOB,
    price REAL CHECK (price > 0),
    CONSTRAINT posts_pkey PRIMARY KEY (id),
    UNIQUE (user_id, title) ON CONFLICT REPLACE,
    FOREIGN KEY (author_name, author_order) REFERENCES "we""ird" ("first name", "Order")
        ON UPDATE SET NULL DEFERRABLE INITIALLY DEFERRED
) STRICT;

CREATE UNIQUE INDEX posts_title ON posts (title COLLATE NOCASE DESC);
CREATE INDEX posts_recent ON posts (user_id, lower(title)) WHERE body IS NOT NULL;

CREATE VIEW user_posts AS
    SELECT u.email, p.title -- every post
    FROM users u JOIN posts p ON p.user_id = u.id;

CREATE TRIGGER users_touch AFTER UPDATE ON users
BEGIN
    UPDATE users SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;

CREATE TRIGGER user_posts_insert INSTEAD OF INSERT ON user_posts
BEGIN
    INSERT INTO posts (id, title) VALUES (NULL, NEW.title);
END;

CREATE VIRTUAL TABLE notes USING fts5(title, body);

CREATE TABLE _cargo_migrate (version TEXT PRIMARY KEY);
CREATE INDEX _cargo_migrate_version ON _cargo_migrate (version);
CREATE TRIGGER _cargo_migrate_touch AFTER INSERT ON _cargo_migrate BEGIN SELECT 1; END;

INSERT INTO users (email, name) VALUES ('a@example.com', 'a');
ANALYZE;
"#;

#[test]
fn rich_schema_is_read_into_the_model() {
    let ws = Workspace::empty();
    let url = database(&ws, "rich.db", RICH_SCHEMA);
    let schema = inspect(&url);

    assert_eq!(schema.dialect, Dialect::Sqlite);
    // No history table, no sqlite_sequence (AUTOINCREMENT), no sqlite_stat1 (ANALYZE), no
    // shadow tables of the full-text index.
    assert_eq!(
        schema
            .tables
            .keys()
            .map(QualifiedName::as_str)
            .collect::<Vec<_>>(),
        ["notes", "posts", "users", "we\"ird"]
    );

    assert_eq!(
        as_json(table(&schema, "users")),
        json!({
            "columns": [
                {"name": "id", "data_type": "INTEGER", "nullable": true},
                {"name": "email", "data_type": "VARCHAR(320)", "nullable": false},
                {"name": "name", "data_type": "TEXT", "nullable": true,
                 "default": "'anonymous'", "collation": "NOCASE"},
                {"name": "karma", "data_type": "INT", "nullable": true, "default": "-1"},
                {"name": "created_at", "data_type": "TEXT", "nullable": false,
                 "default": "datetime('now')"},
                {"name": "updated_at", "data_type": "TEXT", "nullable": true,
                 "default": "CURRENT_TIMESTAMP"},
                {"name": "email_domain", "data_type": "TEXT", "nullable": true,
                 "generated": {"expression": "SUBSTR(email, instr(email, '@') + 1)",
                               "storage": "VIRTUAL"}},
                {"name": "karma_doubled", "data_type": "INT", "nullable": true,
                 "generated": {"expression": "karma * 2", "storage": "STORED"}},
            ],
            "constraints": {
                "check (karma >= -100)": {"kind": "check", "definition": "CHECK (karma >= -100)"},
                "primary key": {"kind": "primary_key",
                                "definition": "PRIMARY KEY (id) AUTOINCREMENT",
                                "columns": ["id"]},
                "users_email_key": {"kind": "unique", "definition": "UNIQUE (email)",
                                    "columns": ["email"]},
                "users_name_not_empty": {"kind": "check",
                                         "definition": "CHECK (length(name) > 0)"},
            },
            "triggers": {
                "users_touch": {"definition": "CREATE TRIGGER users_touch AFTER UPDATE ON users \
                    BEGIN UPDATE users SET updated_at = CURRENT_TIMESTAMP WHERE id = new.id; END"},
            },
        })
    );

    // What the parts use of the table's columns, lexed from their text: names in string
    // literals (`'@'`) are not uses.
    let column = |name: &str| json!({"kind": "relation", "name": "users", "column": name});
    assert_eq!(
        serde_json::to_value(&table(&schema, "users").depends_on).expect("serializes"),
        json!({
            "columns": {
                "email_domain": [column("email")],
                "karma_doubled": [column("karma")],
            },
            "constraints": {
                "check (karma >= -100)": [column("karma")],
                "primary key": [column("id")],
                "users_email_key": [column("email")],
                "users_name_not_empty": [column("name")],
            },
            "triggers": {"users_touch": [column("id"), column("updated_at")]},
        })
    );

    assert_eq!(
        as_json(table(&schema, "posts")),
        json!({
            "columns": [
                {"name": "id", "data_type": "INTEGER", "nullable": false},
                {"name": "user_id", "data_type": "INTEGER", "nullable": true},
                {"name": "author_name", "data_type": "TEXT", "nullable": true},
                {"name": "author_order", "data_type": "INTEGER", "nullable": true},
                {"name": "title", "data_type": "TEXT", "nullable": false},
                {"name": "body", "data_type": "BLOB", "nullable": true},
                {"name": "price", "data_type": "REAL", "nullable": true},
            ],
            "constraints": {
                "check (price > 0)": {"kind": "check", "definition": "CHECK (price > 0)"},
                "foreign key (author_name, author_order) references \"we\"\"ird\"(\"first name\", \"Order\")": {
                    "kind": "foreign_key",
                    "definition": "FOREIGN KEY (author_name, author_order) \
                        REFERENCES \"we\"\"ird\"(\"first name\", \"Order\") \
                        ON UPDATE SET NULL DEFERRABLE INITIALLY DEFERRED",
                    "columns": ["author_name", "author_order"],
                    // The target as the catalog names it, not as the definition spells it.
                    "references": {"table": "we\"ird", "columns": ["first name", "Order"]},
                },
                // `REFERENCES users` alone refers to its primary key.
                "foreign key (user_id) references users(id)": {
                    "kind": "foreign_key",
                    "definition": "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
                    "columns": ["user_id"],
                    "references": {"table": "users", "columns": ["id"]},
                },
                "posts_pkey": {"kind": "primary_key", "definition": "PRIMARY KEY (id)",
                               "columns": ["id"]},
                "unique (user_id, title)": {
                    "kind": "unique",
                    "definition": "UNIQUE (user_id, title) ON CONFLICT REPLACE",
                    "columns": ["user_id", "title"],
                },
            },
            "indexes": {
                "posts_recent": {
                    "unique": false,
                    "method": "btree",
                    "keys": [{"expression": "user_id"}, {"expression": "lower(title)"}],
                    "predicate": "body IS NOT NULL",
                },
                "posts_title": {
                    "unique": true,
                    "method": "btree",
                    "keys": [{"expression": "title", "collation": "NOCASE", "descending": true}],
                },
            },
            "options": ["STRICT"],
        })
    );

    assert_eq!(
        as_json(table(&schema, "we\"ird")),
        json!({
            "columns": [
                // The primary key of a WITHOUT ROWID table is NOT NULL.
                {"name": "first name", "data_type": "TEXT", "nullable": false},
                {"name": "Order", "data_type": "INTEGER", "nullable": false},
            ],
            "constraints": {
                "primary key": {"kind": "primary_key",
                                "definition": "PRIMARY KEY (\"first name\", \"Order\")",
                                "columns": ["first name", "Order"]},
            },
            "options": ["WITHOUT ROWID"],
        })
    );

    assert_eq!(
        as_json(table(&schema, "notes")),
        json!({"columns": [], "options": ["USING fts5(title, body)"]})
    );

    assert_eq!(
        as_json(&schema.views),
        json!({
            "user_posts": {
                "materialized": false,
                "definition": "CREATE VIEW user_posts AS SELECT u.email, p.title \
                    FROM users u JOIN posts p ON p.user_id = u.id",
                // INSTEAD OF triggers hang off their view.
                "triggers": {
                    "user_posts_insert": {"definition": "CREATE TRIGGER user_posts_insert \
                        INSTEAD OF INSERT ON user_posts BEGIN INSERT INTO posts(id, title) \
                        VALUES (NULL, new.title); END"},
                },
            },
        })
    );
}

/// [`RICH_SCHEMA`] written otherwise: other whitespace, keyword case, comments, quoting,
/// declaration order of tables and of table constraints, column constraints as table
/// constraints, `DEFAULT (...)` around a literal, `DEFAULT NULL` (what no default means), a
/// referenced table and column in another
/// case. The names themselves keep their case: they are what `SELECT *` returns.
const RICH_SCHEMA_RESPELLED: &str = r#"
create virtual table notes using FTS5 ( Title , Body ) ;
create table [we"ird] ( `first name` text , "Order" integer ,
  primary key ( [first name] , "Order" ) ) without rowid;
/* users, with everything */
create table "users"(
  "id" integer primary key autoincrement,
  email VARCHAR(320) not null,
  [name] text default('anonymous') collate NOCASE,
  karma INT default(-1),
  created_at text default ( DATETIME( 'now' ) ) not null,
  updated_at text default current_timestamp,
  email_domain text as (SUBSTR( email,INSTR(email , '@')+1 )),
  karma_doubled int generated always as (karma*2) stored,
  check(KARMA>=-100),
  constraint users_email_key unique(email),
  constraint users_name_not_empty check(LENGTH(name)>0)
);
create table posts(
  id integer not null constraint posts_pkey primary key,
  user_id integer,
  author_name text,
  author_order integer,
  title text not null,
  body blob default null,
  price real,
  foreign key(author_name,author_order) references "we""ird"("first name",[Order])
    on update set null deferrable initially deferred,
  check (price>0),
  foreign key (user_id) references USERS(ID) on delete cascade on update no action,
  unique(user_id,title) on conflict replace
) strict;
create unique index posts_title on posts(title collate nocase desc);
create index posts_recent on posts(user_id,LOWER(title)) where body is not null;
create view user_posts as select u.email,p.title from users u join posts p on p.user_id=u.id;
create trigger users_touch after update on users begin
  update users set updated_at=current_timestamp where id=NEW.id; -- keep it fresh
end;
create trigger user_posts_insert instead of insert on user_posts begin
  insert into posts(id,title) values(null,NEW.title);
end;
create table _cargo_migrate (version text primary key, applied_at text);
"#;

#[test]
fn spelling_does_not_change_the_model() {
    let ws = Workspace::empty();
    let canonical = database(&ws, "canonical.db", RICH_SCHEMA);
    let respelled = database(&ws, "respelled.db", RICH_SCHEMA_RESPELLED);
    assert_eq!(inspect(&canonical), inspect(&respelled));
}

/// Tables built with `ALTER TABLE` (columns added one by one, columns and tables renamed),
/// which SQLite records by editing the original `CREATE TABLE` text, give the same model as
/// the same tables created whole.
#[test]
fn altered_tables_equal_tables_created_whole() {
    let ws = Workspace::empty();
    let whole = database(
        &ws,
        "whole.db",
        "CREATE TABLE users (id INTEGER PRIMARY KEY);
         CREATE TABLE accounts (
             id INTEGER PRIMARY KEY,
             label TEXT NOT NULL DEFAULT 'x',
             owner INTEGER REFERENCES users(id) ON DELETE SET NULL,
             code TEXT COLLATE NOCASE CHECK (length(code) < 10),
             shout TEXT AS (upper(label)) VIRTUAL
         );
         CREATE INDEX accounts_label ON accounts (label) WHERE label <> '';
         CREATE VIEW labels AS SELECT label FROM accounts;
         CREATE TRIGGER accounts_check AFTER INSERT ON accounts
         BEGIN SELECT label FROM accounts WHERE id = NEW.id; END;",
    );
    let altered = database(
        &ws,
        "altered.db",
        "CREATE TABLE users (id INTEGER PRIMARY KEY);
         CREATE TABLE old_accounts (id INTEGER PRIMARY KEY, old_label TEXT NOT NULL DEFAULT 'x');
         CREATE INDEX accounts_label ON old_accounts (old_label) WHERE old_label <> '';
         CREATE VIEW labels AS SELECT old_label FROM old_accounts;
         CREATE TRIGGER accounts_check AFTER INSERT ON old_accounts
         BEGIN SELECT old_label FROM old_accounts WHERE id = NEW.id; END;
         ALTER TABLE old_accounts ADD COLUMN owner INTEGER REFERENCES users(id) ON DELETE SET NULL;
         ALTER TABLE old_accounts ADD COLUMN code TEXT COLLATE NOCASE CHECK (length(code) < 10);
         ALTER TABLE old_accounts ADD   COLUMN   shout TEXT AS (upper(old_label)) VIRTUAL;
         ALTER TABLE old_accounts RENAME COLUMN old_label TO label;
         ALTER TABLE old_accounts RENAME TO accounts;",
    );
    // The edited text is not what was written whole (the test would prove nothing if it were).
    let sql = |url: &str| support::sqlite_query(url, "SELECT sql FROM sqlite_schema ORDER BY name");
    assert_ne!(sql(&whole), sql(&altered));
    assert_eq!(inspect(&whole), inspect(&altered));
}

/// The history table is left out with its indexes and triggers, whatever the case of its
/// name; SQLite's own tables never appear.
#[test]
fn history_and_sqlite_tables_are_left_out() {
    let ws = Workspace::empty();
    let url = database(
        &ws,
        "left-out.db",
        "CREATE TABLE _Cargo_Migrate (version TEXT PRIMARY KEY, name TEXT UNIQUE);
         CREATE INDEX history_name ON _cargo_migrate (name);
         CREATE TRIGGER history_check BEFORE DELETE ON _cargo_migrate BEGIN SELECT 1; END;
         CREATE TABLE counters (id INTEGER PRIMARY KEY AUTOINCREMENT, n INT);
         CREATE INDEX counters_n ON counters (n);
         INSERT INTO counters (n) VALUES (1), (2);
         ANALYZE;",
    );
    let names: Vec<String> = support::sqlite_query(&url, "SELECT name FROM sqlite_schema")
        .into_iter()
        .filter_map(|mut row| row.remove(0))
        .collect();
    for internal in ["sqlite_sequence", "sqlite_stat1"] {
        assert!(
            names.iter().any(|n| n == internal),
            "{internal} in {names:?}"
        );
    }
    let schema = inspect(&url);
    assert_eq!(
        schema
            .tables
            .keys()
            .map(QualifiedName::as_str)
            .collect::<Vec<_>>(),
        ["counters"]
    );
    assert!(schema.views.is_empty());
}

/// A view whose table was dropped (SQLite allows it) does not stop inspection.
#[test]
fn broken_view_does_not_stop_inspection() {
    let ws = Workspace::empty();
    let url = database(
        &ws,
        "broken.db",
        "CREATE TABLE gone (a INT);
         CREATE VIEW dangling AS SELECT a FROM gone;
         DROP TABLE gone;
         CREATE TABLE kept (b INT);",
    );
    let schema = inspect(&url);
    assert_eq!(
        schema
            .tables
            .keys()
            .map(QualifiedName::as_str)
            .collect::<Vec<_>>(),
        ["kept"]
    );
    assert_eq!(
        schema.views[&name("dangling")].definition,
        "CREATE VIEW dangling AS SELECT a FROM gone"
    );
}

// ------------------------------------------------------------------------------- changes

const BASE: &str = "
    CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, status TEXT DEFAULT 'active');
    CREATE INDEX users_email ON users (email);
    CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';
";

/// Each hand-made change on top of [`BASE`] shows in the model, and nothing else changes.
#[test]
fn hand_made_changes_show() {
    let ws = Workspace::empty();
    let base = inspect(&database(&ws, "base.db", BASE));
    let changed = |file: &str, change: &str| {
        let url = database(&ws, file, BASE);
        execute(&url, change);
        let schema = inspect(&url);
        assert_ne!(schema, base, "{change}");
        schema
    };
    let users = name("users");

    let mut schema = changed("add-column.db", "ALTER TABLE users ADD COLUMN name TEXT");
    let added = schema
        .tables
        .get_mut(&users)
        .unwrap()
        .columns
        .pop()
        .unwrap();
    assert_eq!(
        (added.name.as_str(), added.data_type.as_str()),
        ("name", "TEXT")
    );
    assert_eq!(schema, base);

    let schema = changed("drop-index.db", "DROP INDEX users_email");
    let mut expected = base.clone();
    expected.tables.get_mut(&users).unwrap().indexes.clear();
    expected
        .tables
        .get_mut(&users)
        .unwrap()
        .depends_on
        .indexes
        .clear();
    assert_eq!(schema, expected);

    // SQLite cannot alter a default: the table is rebuilt, as its documentation says.
    let schema = changed(
        "change-default.db",
        "DROP VIEW active_users;
         CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL, status TEXT DEFAULT 'inactive');
         INSERT INTO users_new SELECT * FROM users;
         DROP TABLE users;
         ALTER TABLE users_new RENAME TO users;
         CREATE INDEX users_email ON users (email);
         CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';",
    );
    let mut expected = base.clone();
    expected.tables.get_mut(&users).unwrap().columns[2].default = Some("'inactive'".into());
    assert_eq!(schema, expected);

    let mut schema = changed("add-table.db", "CREATE TABLE tags (name TEXT PRIMARY KEY)");
    let tags = schema.tables.remove(&name("tags")).expect("tags");
    assert_eq!(tags.columns.len(), 1);
    assert_eq!(tags.constraints["primary key"].columns, ["name"]);
    assert_eq!(schema, base);

    let mut schema = changed(
        "add-trigger.db",
        "CREATE TRIGGER users_lower AFTER INSERT ON users
         BEGIN UPDATE users SET email = lower(email) WHERE id = NEW.id; END",
    );
    let trigger = schema
        .tables
        .get_mut(&users)
        .unwrap()
        .triggers
        .remove("users_lower")
        .expect("trigger");
    schema
        .tables
        .get_mut(&users)
        .unwrap()
        .depends_on
        .triggers
        .remove("users_lower");
    assert_eq!(
        trigger.definition,
        "CREATE TRIGGER users_lower AFTER INSERT ON users \
         BEGIN UPDATE users SET email = lower(email) WHERE id = new.id; END"
    );
    assert_eq!(schema, base);

    let schema = changed(
        "change-view.db",
        "DROP VIEW active_users;
         CREATE VIEW active_users AS SELECT id, email, status FROM users WHERE status = 'active';",
    );
    let mut expected = base.clone();
    expected
        .views
        .get_mut(&name("active_users"))
        .unwrap()
        .definition =
        "CREATE VIEW active_users AS SELECT id, email, status FROM users WHERE status = 'active'"
            .into();
    assert_eq!(schema, expected);
}

// ---------------------------------------------------------------------------- real data

/// Applies the migrations in `dir` with the tool's binary to a new file; its URL.
fn apply(ws: &Workspace, dir: &std::path::Path, file: &str) -> String {
    let url = db_url(ws, file);
    let dir = dir.to_str().expect("UTF-8 path");
    ws.run(&[
        "up",
        "--dir",
        dir,
        "--dialect",
        "sqlite",
        "--database-url",
        &url,
    ])
    .assert_code(0);
    url
}

/// vaultwarden's SQLite history (56 migrations, with table rebuilds) applied to two files
/// gives two identical models, without the history table.
#[test]
fn vaultwarden_sqlite_gives_the_same_model_twice() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    let dir = corpora.join("vaultwarden/migrations/sqlite");
    let ws = Workspace::empty();
    let first = inspect(&apply(&ws, &dir, "first.db"));
    let second = inspect(&apply(&ws, &dir, "second.db"));
    assert_eq!(first, second);
    assert_eq!(first.tables.len(), 28);
    assert!(!first.tables.contains_key(&name("_cargo_migrate")));
    assert!(first.views.is_empty());
    // Rebuilt by the migrations: what they end with is what is read.
    let sso_users = table(&first, "sso_users");
    assert_eq!(
        sso_users.constraints["foreign key (user_uuid) references users(uuid)"].definition,
        "FOREIGN KEY (user_uuid) REFERENCES users(uuid) ON UPDATE CASCADE ON DELETE CASCADE"
    );
    assert_eq!(
        sso_users
            .column("created_at")
            .and_then(|c| c.default.as_deref()),
        Some("CURRENT_TIMESTAMP")
    );
    // `groups` is a keyword since SQLite 3.28: quoted in definitions.
    assert!(
        table(&first, "groups_users")
            .constraints
            .contains_key("foreign key (groups_uuid) references \"groups\"(uuid)")
    );
    assert_eq!(
        table(&first, "users").constraints["unique (email)"].columns,
        ["email"]
    );
}

/// atuin's SQLite sets (server and client) applied to two files each give identical models.
#[test]
fn atuin_sqlite_sets_give_the_same_model_twice() {
    let Some(corpora) = support::corpora() else {
        return;
    };
    let mut models = Vec::new();
    for set in [
        "crates/atuin-server-sqlite/migrations",
        "crates/atuin-client/migrations",
    ] {
        let dir = corpora.join("atuin").join(set);
        let ws = Workspace::empty();
        let first = inspect(&apply(&ws, &dir, "first.db"));
        let second = inspect(&apply(&ws, &dir, "second.db"));
        assert_eq!(first, second, "{set}");
        assert!(!first.tables.contains_key(&name("_cargo_migrate")), "{set}");
        models.push(first);
    }
    let [server, client] = &models[..] else {
        unreachable!("two sets");
    };

    assert_eq!(
        server
            .tables
            .keys()
            .map(QualifiedName::as_str)
            .collect::<Vec<_>>(),
        ["history", "sessions", "store", "store_idx_cache", "users"]
    );
    let users = table(server, "users");
    assert_eq!(
        users.constraints["primary key"].definition,
        "PRIMARY KEY (id) AUTOINCREMENT"
    );
    assert_eq!(
        users.indexes["email_unique_idx"].keys,
        [IndexKey::column("lower(email)")]
    );
    assert!(users.indexes["email_unique_idx"].unique);

    // Columns added by `ALTER TABLE` come last, in the order they were added; a partial index
    // on an expression.
    let history = table(client, "history");
    let columns: Vec<&str> = history.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        columns[7..],
        [
            "hostname",
            "deleted_at",
            "author",
            "intent",
            "shell",
            "author_kind"
        ]
    );
    let by_host = &history.indexes["idx_history_hostname_timestamp"];
    assert_eq!(
        by_host.keys,
        [
            IndexKey::column("lower(hostname)"),
            IndexKey::column("timestamp")
        ]
    );
    assert_eq!(by_host.predicate.as_deref(), Some("deleted_at IS NULL"));
    assert!(!history.indexes.contains_key("idx_history_command"));
    assert_eq!(
        history.constraints["unique (timestamp, cwd, command)"].columns,
        ["timestamp", "cwd", "command"]
    );
}

/// `schema` prints SQL that SQLite takes back: an AUTOINCREMENT key is the column's own
/// clause (`id INTEGER PRIMARY KEY AUTOINCREMENT`), never `PRIMARY KEY (id) AUTOINCREMENT`,
/// which SQLite refuses; and the database made from the printed text has the same model.
#[test]
fn printed_schema_with_autoincrement_is_accepted_by_sqlite() {
    let ws = Workspace::copy("check-sqlite");
    let url = database(
        &ws,
        "autoincrement.db",
        "CREATE TABLE counters (id INTEGER PRIMARY KEY AUTOINCREMENT, n INT NOT NULL);
         CREATE TABLE named (id INTEGER CONSTRAINT named_pk PRIMARY KEY ON CONFLICT REPLACE AUTOINCREMENT);",
    );
    let printed = ws
        .run(&["schema", "--database-url", &url, "--color", "never"])
        .assert_code(0)
        .stdout;
    assert!(
        printed.contains("id INTEGER PRIMARY KEY AUTOINCREMENT"),
        "{printed}"
    );
    assert!(!printed.contains("PRIMARY KEY (id)"), "{printed}");
    let again = database(&ws, "again.db", &printed);
    assert_eq!(inspect(&url), inspect(&again), "{printed}");
}

/// SQLite records no dependencies: what a part uses of its table is lexed from its text once,
/// at inspection. A column named only inside string literals (a check's, a trigger's) is
/// dropped in place; the plan, applied statement by statement, reaches the target.
#[test]
fn a_column_named_only_in_string_literals_is_dropped_in_place() {
    let ws = Workspace::empty();
    let sql = |extra: &str| {
        format!(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT CHECK (note <> 'old'){extra});
            CREATE TRIGGER notes_seen AFTER INSERT ON notes BEGIN SELECT 'old'; END;
            INSERT INTO notes (id, note) VALUES (1, 'kept');"
        )
    };
    let from = database(&ws, "from.db", &sql(", old TEXT"));
    let to = database(&ws, "to.db", &sql(""));
    let applied = database(&ws, "applied.db", &sql(", old TEXT"));
    let (from, to_schema) = (inspect(&from), inspect(&to));
    assert!(
        !table(&from, "notes")
            .depends_on
            .constraints
            .values()
            .chain(table(&from, "notes").depends_on.triggers.values())
            .flatten()
            .any(|used| used.column.as_deref() == Some("old")),
        "{:?}",
        table(&from, "notes").depends_on
    );
    let plan = cargo_migrate::schema::plan(&from, &to_schema);
    assert!(plan.is_complete(), "{:?}", plan.unsupported);
    assert_eq!(
        plan.statements,
        ["ALTER TABLE notes DROP COLUMN old;"],
        "{}",
        plan.script()
    );
    for statement in &plan.statements {
        execute(&applied, statement);
    }
    let left = cargo_migrate::schema::diff(&inspect(&applied), &to_schema);
    assert!(left.is_empty(), "{left:?}");
}
