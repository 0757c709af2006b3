//! Flyway sets read where they lie, with Flyway's own history table (`flyway_schema_history`)
//! written as Flyway writes it, on PostgreSQL and SQLite; hawkbit's PostgreSQL history.
//!
//! Flyway itself cannot be installed here (it is on Maven Central only), so its side is
//! recorded: the table as Flyway's `getRawCreateScript` creates it, and rows with the checksums
//! Flyway's `ChecksumCalculator` gives (CRC-32 of the lines without line breaks; computed for
//! these fixtures with an independent CRC-32, Python's `zlib.crc32`).

use crate::support;

use std::path::{Path, PathBuf};

use support::{Workspace, corpora, postgres, sqlite_query};

const HAWKBIT_PG: &str =
    "hawkbit/hawkbit-repository/hawkbit-repository-jpa/src/main/resources/db/migration/POSTGRESQL";

/// hawkbit's first scripts and their Flyway checksums.
const HAWKBIT_CHECKSUMS: [(&str, &str, i32); 3] = [
    ("1.12.15", "V1_12_15__baseline___POSTGRESQL.sql", 224281080),
    (
        "1.12.16",
        "V1_12_16__add_action_initiated_by___POSTGRESQL.sql",
        -596342656,
    ),
    (
        "1.12.17",
        "V1_12_17__add_index_target_modified___POSTGRESQL.sql",
        -1465992534,
    ),
];

/// A small Flyway set: dotted and underscored versions (1 < 1.1 < 1_2 < 10), an undo, CRLF
/// line ends and a byte order mark (neither changes Flyway's checksum).
const SET: [(&str, &[u8]); 5] = [
    (
        "V1__create_users.sql",
        b"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    ),
    ("V1.1__add_email.sql", b"ALTER TABLE users ADD COLUMN email TEXT;\n"),
    (
        "V1_2__add_posts.sql",
        b"CREATE TABLE posts (\r\n    id INTEGER PRIMARY KEY,\r\n    user_id INTEGER REFERENCES users (id)\r\n);\r\n",
    ),
    (
        "V10__add_tags.sql",
        b"\xef\xbb\xbfCREATE TABLE tags (id INTEGER PRIMARY KEY);\n",
    ),
    ("U10__add_tags.sql", b"DROP TABLE tags;\n"),
];

/// (version, description, script, checksum) Flyway records for [`SET`], in order.
const SET_ROWS: [(&str, &str, &str, &str); 4] = [
    ("1", "create users", "V1__create_users.sql", "51675886"),
    ("1.1", "add email", "V1.1__add_email.sql", "273465196"),
    ("1.2", "add posts", "V1_2__add_posts.sql", "-665060939"),
    ("10", "add tags", "V10__add_tags.sql", "-1510504174"),
];

/// Flyway's own CREATE for PostgreSQL (`PostgreSQLDatabase.getRawCreateScript`).
const FLYWAY_PG_CREATE: &str = r#"CREATE TABLE "public"."flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");"#;

/// Flyway's own CREATE for SQLite (`SQLiteDatabase.getRawCreateScript`).
const FLYWAY_SQLITE_CREATE: &str = r#"CREATE TABLE "main"."flyway_schema_history" (
    "installed_rank" INT NOT NULL PRIMARY KEY,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INT,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
    "execution_time" INT NOT NULL,
    "success" BOOLEAN NOT NULL
);
CREATE INDEX "main"."flyway_schema_history_s_idx" ON "flyway_schema_history" ("success");"#;

fn hawkbit() -> Option<PathBuf> {
    corpora().map(|root| root.join(HAWKBIT_PG))
}

fn write_set(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, body) in SET {
        std::fs::write(dir.join(name), body).unwrap();
    }
}

const ROWS_SQL: &str = "SELECT CAST(installed_rank AS TEXT), version, description, type, script, CAST(checksum AS TEXT), installed_by, CAST(success AS TEXT) FROM flyway_schema_history ORDER BY flyway_schema_history.installed_rank";

fn text(value: &str) -> Option<String> {
    Some(value.to_string())
}

#[test]
fn hawkbit_postgresql_is_a_flyway_set() {
    let Some(path) = hawkbit() else {
        return;
    };
    let json = Workspace::empty()
        .run(&[
            "list",
            "--dir",
            path.to_str().unwrap(),
            "--dialect",
            "postgres",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    let set = &json["sets"][0];
    assert_eq!(set["layout"], "flyway", "{json}");
    assert_eq!(set["migrations"], 16);
    assert_eq!(set["reversible"], 0);
    // Numeric part order: 1_12_30 is the newest, although `1_12_15` < `1_12_2…` as text.
    assert_eq!(set["newest"], "1_12_30");
}

/// hawkbit applies in place with Flyway's table written as Flyway writes it; then `status`
/// and a second `up` agree everything is applied.
#[test]
fn hawkbit_postgresql_applies_into_flyway_schema_history() {
    let Some(path) = hawkbit() else {
        return;
    };
    let Some(pg) = postgres() else {
        return;
    };
    let url = pg.database("hawkbit");
    let dir = path.to_str().unwrap();
    let ws = Workspace::empty();
    ws.run(&["up", "--dir", dir, "--database-url", &url])
        .assert_code(0);
    let user = pg.query(&url, "SELECT current_user::text")[0][0].clone();
    let rows = pg.query(&url, ROWS_SQL);
    assert_eq!(rows.len(), 16);
    for (index, (version, script, checksum)) in HAWKBIT_CHECKSUMS.iter().enumerate() {
        assert_eq!(rows[index][0], Some((index + 1).to_string()));
        assert_eq!(rows[index][1].as_deref(), Some(*version));
        assert_eq!(rows[index][4].as_deref(), Some(*script));
        assert_eq!(rows[index][5], Some(checksum.to_string()));
        assert_eq!(rows[index][3], text("SQL"));
        assert_eq!(rows[index][6], user);
        assert_eq!(rows[index][7], text("true"));
    }
    assert_eq!(rows[0][2], text("baseline   POSTGRESQL"));
    assert_eq!(rows[15][1], text("1.12.30"));
    ws.run(&["up", "--dir", dir, "--database-url", &url])
        .assert_code(0);
    let status = ws
        .run(&[
            "status",
            "--dir",
            dir,
            "--database-url",
            &url,
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(status["summary"]["pending"], 0, "{status}");
    assert_eq!(pg.query(&url, ROWS_SQL).len(), 16);
    // `check` in its own format: a clean replay, and no drift against the live database
    // (Flyway's table, its key and index are the history, not the schema).
    let check = ws
        .run(&[
            "--sandbox",
            "local",
            "check",
            "--dir",
            dir,
            "--database-url",
            &url,
        ])
        .assert_code(0);
    assert!(check.stdout.contains("flyway layout"), "{}", check.stdout);
    assert!(check.stdout.contains("ok drift"), "{}", check.stdout);
}

/// The other way round: Flyway applied the first three scripts (its table and rows as it
/// writes them); cargo-migrate reads them as applied, unmodified, and ranks the rest after.
#[test]
fn hawkbit_postgresql_continues_a_history_flyway_began() {
    let Some(path) = hawkbit() else {
        return;
    };
    let Some(pg) = postgres() else {
        return;
    };
    let url = pg.database("hawkbit_flyway_first");
    pg.execute(&url, FLYWAY_PG_CREATE);
    for (rank, (version, script, checksum)) in HAWKBIT_CHECKSUMS.iter().enumerate() {
        let sql = std::fs::read_to_string(path.join(script)).unwrap();
        pg.execute(&url, &sql);
        let description = script
            .split_once("__")
            .unwrap()
            .1
            .trim_end_matches(".sql")
            .replace('_', " ");
        pg.execute(
            &url,
            &format!(
                "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) \
                 VALUES ({}, '{version}', '{description}', 'SQL', '{script}', {checksum}, 'flyway', 12, true)",
                rank + 1
            ),
        );
    }
    let dir = path.to_str().unwrap();
    let ws = Workspace::empty();
    let status = ws
        .run(&[
            "status",
            "--dir",
            dir,
            "--database-url",
            &url,
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(status["summary"]["pending"], 13, "{status}");
    ws.run(&["up", "--dir", dir, "--database-url", &url])
        .assert_code(0);
    let rows = pg.query(&url, ROWS_SQL);
    assert_eq!(rows.len(), 16);
    assert_eq!(rows[2][6], text("flyway"));
    assert_eq!(rows[3][0], text("4"));
    assert_eq!(rows[3][1], text("1.12.18"));
}

/// Runs `;`-separated statements on a SQLite database (created if missing), one at a time, as
/// the other tool would have run them.
fn sqlite_exec(url: &str, sql: &str) {
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlite_query(url, statement);
    }
}

fn sqlite_rows(url: &str) -> Vec<Vec<Option<String>>> {
    sqlite_query(url, ROWS_SQL)
}

/// The small set on SQLite: versions in Flyway's order, rows as Flyway writes them, an undo
/// reverts and removes its row, and a changed script is reported as modified.
#[test]
fn a_flyway_set_on_sqlite_keeps_flyways_table() {
    let ws = Workspace::empty();
    write_set(&ws.path().join("db/migration"));
    let url = format!("sqlite:{}", ws.path().join("app.db").display());
    let args =
        |command: &'static str| vec![command, "--dir", "db/migration", "--database-url", &url];
    ws.run(&args("up")).assert_code(0);
    let rows = sqlite_rows(&url);
    assert_eq!(rows.len(), 4);
    for (index, (version, description, script, checksum)) in SET_ROWS.iter().enumerate() {
        assert_eq!(
            rows[index],
            [
                Some((index + 1).to_string()),
                text(version),
                text(description),
                text("SQL"),
                text(script),
                text(checksum),
                text(""),
                text("1"),
            ],
            "{script}"
        );
    }
    assert_eq!(
        support::sqlite_tables(&url),
        ["flyway_schema_history", "posts", "tags", "users"]
    );
    ws.run(&args("down")).assert_code(0);
    assert_eq!(sqlite_rows(&url).len(), 3);
    assert!(!support::sqlite_tables(&url).contains(&"tags".to_string()));
    ws.run(&args("up")).assert_code(0);
    let rows = sqlite_rows(&url);
    assert_eq!(rows[3][0], text("4"), "ranked after every row there is");
    // A changed script no longer matches Flyway's checksum.
    std::fs::write(
        ws.path().join("db/migration/V1__create_users.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n",
    )
    .unwrap();
    let mut status_args = args("status");
    status_args.extend(["--format", "json"]);
    let status = ws.run(&status_args).json();
    assert_eq!(status["summary"]["modified"], 1, "{status}");
    // `check` replays the set and reverts it with its undo script.
    let check = ws
        .run(&["check", "--dir", "db/migration", "--dialect", "sqlite"])
        .assert_code(0);
    assert!(
        check.stdout.contains("ok reversibility"),
        "{}",
        check.stdout
    );
    assert_eq!(status["history_format"], "flyway", "{status}");
}

/// Flyway applied the first two on SQLite; cargo-migrate reads Flyway's table and goes on.
#[test]
fn a_flyway_history_on_sqlite_is_continued() {
    let ws = Workspace::empty();
    write_set(&ws.path().join("db/migration"));
    let path = ws.path().join("app.db");
    let url = format!("sqlite:{}", path.display());
    let mut setup = format!("{FLYWAY_SQLITE_CREATE}\n");
    setup.push_str(std::str::from_utf8(SET[0].1).unwrap());
    setup.push_str(std::str::from_utf8(SET[1].1).unwrap());
    for (rank, (version, description, script, checksum)) in SET_ROWS[..2].iter().enumerate() {
        setup.push_str(&format!(
            "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) \
             VALUES ({}, '{version}', '{description}', 'SQL', '{script}', {checksum}, '', 3, 1);\n",
            rank + 1
        ));
    }
    sqlite_exec(&format!("{url}?mode=rwc"), &setup);
    let args =
        |command: &'static str| vec![command, "--dir", "db/migration", "--database-url", &url];
    let mut status_args = args("status");
    status_args.extend(["--format", "json"]);
    let status = ws.run(&status_args).assert_code(0).json();
    assert_eq!(status["summary"]["pending"], 2, "{status}");
    ws.run(&args("up")).assert_code(0);
    let rows = sqlite_rows(&url);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[2][0], text("3"));
    assert_eq!(rows[3][5], text("-1510504174"));
}

/// The same set on PostgreSQL: the rows carry the connected user, and `down` then `up` rank
/// the re-applied script last.
#[test]
fn a_flyway_set_on_postgresql_keeps_flyways_table() {
    let Some(pg) = postgres() else {
        return;
    };
    let url = pg.database("flyway_set");
    let ws = Workspace::empty();
    write_set(&ws.path().join("db/migration"));
    let args =
        |command: &'static str| vec![command, "--dir", "db/migration", "--database-url", &url];
    ws.run(&args("up")).assert_code(0);
    let user = pg.query(&url, "SELECT current_user::text")[0][0].clone();
    let rows = pg.query(&url, ROWS_SQL);
    assert_eq!(rows.len(), 4);
    for (index, (version, description, script, checksum)) in SET_ROWS.iter().enumerate() {
        assert_eq!(
            rows[index],
            [
                Some((index + 1).to_string()),
                text(version),
                text(description),
                text("SQL"),
                text(script),
                text(checksum),
                user.clone(),
                text("true"),
            ],
            "{script}"
        );
    }
    ws.run(&args("down")).assert_code(0);
    ws.run(&args("up")).assert_code(0);
    let rows = pg.query(&url, ROWS_SQL);
    // `down` deleted the row (Flyway sees the script as pending again); re-applied, it is
    // ranked after every row there is.
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[3][0], text("4"));
    // The primary key and index Flyway creates are there.
    let indexes = pg.query(
        &url,
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'flyway_schema_history' ORDER BY 1",
    );
    assert_eq!(
        indexes,
        [
            vec![text("flyway_schema_history_pk")],
            vec![text("flyway_schema_history_s_idx")]
        ]
    );
}

/// `new` in a Flyway set follows Flyway's naming: the newest version's last part counted up,
/// a `V` script and its `U` undo; `list` names the layout.
#[test]
fn new_in_a_flyway_set_writes_flyway_names() {
    let ws = Workspace::empty();
    write_set(&ws.path().join("db/migration"));
    ws.run(&[
        "new",
        "add_comments",
        "--dir",
        "db/migration",
        "--dialect",
        "sqlite",
    ])
    .assert_code(0);
    let files = ws.files();
    assert!(
        files.contains(&"db/migration/V11__add_comments.sql".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"db/migration/U11__add_comments.sql".to_string()),
        "{files:?}"
    );
    let json = ws
        .run(&[
            "list",
            "--dir",
            "db/migration",
            "--dialect",
            "sqlite",
            "--format",
            "json",
        ])
        .assert_code(0)
        .json();
    assert_eq!(json["sets"][0]["layout"], "flyway");
    assert_eq!(json["sets"][0]["migrations"], 5);
    assert_eq!(json["sets"][0]["newest"], "11");
}

/// Prefixes and separator configured as in Flyway (here in a `--config` file); `new` goes on
/// in them.
#[test]
fn configured_flyway_names_are_read_and_written() {
    let ws = Workspace::empty();
    let dir = ws.path().join("sql");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("M1-create_users.sql"),
        "CREATE TABLE users (id INTEGER);\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("M1.1-add_name.sql"),
        "ALTER TABLE users ADD COLUMN name TEXT;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("MU1.1-add_name.sql"),
        "ALTER TABLE users DROP COLUMN name;\n",
    )
    .unwrap();
    std::fs::write(
        ws.path().join("migrate.toml"),
        "dialect = \"sqlite\"\nflyway = { prefix = \"M\", undo-prefix = \"MU\", separator = \"-\" }\n",
    )
    .unwrap();
    let base = ["--dir", "sql", "--config", "migrate.toml"];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        ws.run(&args)
    };
    let json = run(&["list", "--format", "json"]).assert_code(0).json();
    assert_eq!(json["sets"][0]["layout"], "flyway", "{json}");
    assert_eq!(json["sets"][0]["reversible"], 1);
    run(&["new", "add_email"]).assert_code(0);
    let files = ws.files();
    assert!(
        files.contains(&"sql/M1.2-add_email.sql".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"sql/MU1.2-add_email.sql".to_string()),
        "{files:?}"
    );
    let url = format!("sqlite:{}?mode=rwc", ws.path().join("app.db").display());
    run(&["up", "--database-url", &url]).assert_code(0);
    let rows = sqlite_rows(&url);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][4], text("M1.1-add_name.sql"));
}

/// A folder no format reads: the error names the formats it came closest to and the setting
/// that reads it, in the `--config` file in `--dir` mode (never a Cargo.toml table there);
/// numbered sub-folders are named as such.
#[test]
fn a_folder_no_format_reads_names_the_closest_ones() {
    let ws = Workspace::empty();
    let dir = ws.path().join("m");
    std::fs::create_dir_all(dir.join("0")).unwrap();
    std::fs::create_dir_all(dir.join("1")).unwrap();
    std::fs::write(dir.join("0/01_init.up.sql"), "SELECT 1;\n").unwrap();
    let outcome = ws
        .run(&["list", "--dir", "m", "--dialect", "postgres"])
        .assert_code(2);
    assert!(
        outcome
            .stderr
            .contains("`0` is not a migration directory name"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("Numbered sub-folders"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("the --config file"),
        "{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("[package.metadata.migrate]"),
        "{}",
        outcome.stderr
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("V1__a.sql"), "SELECT 1;\n").unwrap();
    std::fs::write(dir.join("V2__b.sql"), "SELECT 1;\n").unwrap();
    std::fs::write(dir.join("3_c.sql"), "SELECT 1;\n").unwrap();
    let outcome = ws
        .run(&["list", "--dir", "m", "--dialect", "postgres"])
        .assert_code(2);
    assert!(
        outcome.stderr.contains("flyway (2 of 3), sqlx (1 of 3)"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("`layout = \"flyway\"` in the --config file"),
        "{}",
        outcome.stderr
    );
}
