//! No command ever prints a database password: every command × every way a connection can go
//! (refused, wrong password, unknown database, success) × where the URL comes from
//! (`--database-url`, `.env`) × `--format human|json` and human with `-vv` (the log of every
//! statement the tool sends), against a real PostgreSQL cluster in which one role must log in
//! with a password.

use crate::support;

use std::os::unix::fs::PermissionsExt;

use support::{Outcome, Workspace, run_in_env};

/// Distinctive, so finding it anywhere in the output cannot be a coincidence.
const PASSWORD: &str = "S3cr3t-pw-9f2c";
const ROLE: &str = "secret_app";
const V1: &str = "20240101120000"; // fixtures/single: create_users

/// Which URL a command reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// `--database-url`, else `DATABASE_URL`, else `.env`: it connects either way.
    Url,
    /// Only a URL named on purpose (`--database-url`): `.env` is for the dev loop, and
    /// without the flag the command works on a disposable database (`check`, `schema`).
    FlagOnly,
    /// No URL at all (and it must not print one it found in `.env` either).
    None,
}

const URL: Reads = Reads::Url;
const FLAG_ONLY: Reads = Reads::FlagOnly;
const NO_URL: Reads = Reads::None;

/// Every command of `src/cli/mod.rs` (arguments, which URL it reads), in an order in which
/// each one has something to do on the success path. A command added there gets one line
/// here.
const COMMANDS: &[(&[&str], Reads)] = &[
    (&["list", "-v"], NO_URL),
    (&["status"], URL),
    (&["up", "--yes"], URL),
    (&["redo"], URL),
    (&["down"], URL),
    (&["resolve", V1, "--rolled-back"], URL),
    (&["baseline", V1], URL),
    (&["reset", "--yes"], URL),
    (&["up", "--dry-run"], URL),
    (&["check", "--reversibility", "none"], FLAG_ONLY),
    (&["lint"], FLAG_ONLY),
    (&["schema"], FLAG_ONLY),
    // `diff` compares the history with `--to` (given the URL), else with `database` (.env).
    (&["diff"], URL),
    (&["new", "add_things"], NO_URL),
    (&["db", "status"], NO_URL),
    (&["db", "url"], NO_URL),
    (&["db", "stop"], NO_URL),
    (&["completions", "bash"], NO_URL),
    (&["man", "up"], NO_URL),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing listens on the port.
    Refused,
    /// The server refuses the password.
    WrongPassword,
    /// The role logs in, but the database does not exist.
    UnknownDatabase,
    Success,
}

#[derive(Debug, Clone, Copy)]
enum Source {
    Flag,
    DotEnv,
}

#[test]
fn no_command_prints_the_password() {
    let Some(pg) = support::postgres() else {
        return;
    };
    pg.password_role(ROLE, PASSWORD);
    // Dev databases (`db url`) live here, as local clusters (from one template cache); each
    // run stops its own.
    let cache = tempfile::Builder::new()
        .prefix("cm-secrets-cache-")
        .tempdir()
        .expect("cache dir");
    // As root, a local cluster runs as an unprivileged user, who must reach its directory.
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let cache_dir = cache.path().to_string_lossy().to_string();
    let mut runs = 0;
    for mode in [
        Mode::Refused,
        Mode::WrongPassword,
        Mode::UnknownDatabase,
        Mode::Success,
    ] {
        for source in [Source::Flag, Source::DotEnv] {
            for format in ["human", "json", "human-vv"] {
                let url = match mode {
                    // Port 1 on the loopback address: nothing listens there.
                    Mode::Refused => format!("postgres://{ROLE}:{PASSWORD}@127.0.0.1:1/app"),
                    Mode::WrongPassword => {
                        // The password is in the URL, with a suffix the server refuses.
                        pg.url_as(ROLE, &format!("{PASSWORD}-wrong"), "postgres")
                    }
                    Mode::UnknownDatabase => pg.url_as(ROLE, PASSWORD, "no_such_database"),
                    Mode::Success => {
                        let name = format!("s_{}_{format}", runs);
                        pg.database(&name);
                        pg.url_as(ROLE, PASSWORD, &name)
                    }
                };
                runs += run_every_command(mode, source, format, &url, &cache_dir);
            }
        }
    }
    // 4 modes × 2 sources × 3 formats × every command.
    assert_eq!(runs, 24 * COMMANDS.len());
}

/// Runs every command in a fresh copy of `fixtures/single` with `url` given by `source`;
/// returns how many runs were checked.
fn run_every_command(mode: Mode, source: Source, format: &str, url: &str, cache: &str) -> usize {
    let ws = Workspace::copy("single");
    if let Source::DotEnv = source {
        std::fs::write(ws.path().join(".env"), format!("DATABASE_URL={url}\n"))
            .expect("write .env");
    }
    let mut checked = 0;
    for &(command, reads) in COMMANDS {
        let mut args: Vec<&str> = match format.strip_suffix("-vv") {
            Some(format) => vec!["--format", format, "-vv", "--color", "never"],
            None => vec!["--format", format, "--color", "never"],
        };
        args.extend_from_slice(command);
        if ["db", "check", "schema", "diff", "lint"].contains(&command[0]) {
            args.extend(["--sandbox", "local"]);
        }
        let flag = matches!(source, Source::Flag);
        if flag && reads != NO_URL {
            args.extend([
                if command[0] == "diff" {
                    "--to"
                } else {
                    "--database-url"
                },
                url,
            ]);
        }
        let connects = reads == URL || (reads == FLAG_ONLY && flag);
        let outcome = run_in_env(ws.path(), &args, &[("XDG_CACHE_HOME", cache)]);
        let label = format!("{mode:?}, URL from {source:?}, --format {format}: {args:?}");
        assert_no_password(&outcome, &label);
        if connects {
            check_exit(mode, &outcome, &label);
        } else {
            assert_eq!(outcome.code, 0, "{label}\n{}", outcome.snapshot());
        }
        checked += 1;
    }
    checked
}

#[track_caller]
fn assert_no_password(outcome: &Outcome, label: &str) {
    for (stream, text) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
        assert!(
            !text.contains(PASSWORD),
            "the password is in {stream}: {label}\n{}",
            outcome.snapshot()
        );
        assert!(
            !text.contains("panicked"),
            "{label}\n{}",
            outcome.snapshot()
        );
    }
}

/// The run failed the way `mode` makes it fail (or did not fail at all).
#[track_caller]
fn check_exit(mode: Mode, outcome: &Outcome, label: &str) {
    match mode {
        Mode::Success => assert_eq!(outcome.code, 0, "{label}\n{}", outcome.snapshot()),
        _ => {
            assert_eq!(outcome.code, 3, "{label}\n{}", outcome.snapshot());
            let text = format!("{}{}", outcome.stdout, outcome.stderr);
            assert!(
                text.contains("database-unreachable") || text.contains("cannot connect"),
                "{label}\n{}",
                outcome.snapshot()
            );
            if mode == Mode::WrongPassword {
                assert!(
                    text.contains("password authentication failed"),
                    "{label}\n{}",
                    outcome.snapshot()
                );
            }
        }
    }
}

/// `COMMANDS` covers every subcommand the binary has, so a new command cannot skip the test.
#[test]
fn every_command_is_covered() {
    use clap::CommandFactory;
    let cli = cargo_migrate::cli::Cli::command();
    let missing: Vec<&str> = cli
        .get_subcommands()
        .map(|c| c.get_name())
        .filter(|name| !COMMANDS.iter().any(|(args, _)| args[0] == *name))
        .collect();
    assert!(
        missing.is_empty(),
        "add {missing:?} to COMMANDS in tests/e2e/secrets.rs (one line each)"
    );
}

// ------------------------------------------------------- passwords that need care, and words

/// The two halves of every password below: finding either in the output is a (partial) leak.
const HEAD: &str = "Hx4q";
const TAIL: &str = "Zr8w";

/// Each character a password may hold that a URL, a shell, JSON or a connection string treats
/// specially.
const SPECIAL: &[char] = &['/', '?', '#', '"', '\\', '%', '@', ':', '\'', ' '];

#[track_caller]
fn assert_no_half(outcome: &Outcome, label: &str) {
    for half in [HEAD, TAIL] {
        assert!(
            !outcome.stdout.contains(half) && !outcome.stderr.contains(half),
            "`{half}` is printed: {label}\n{}",
            outcome.snapshot()
        );
    }
    assert!(
        !outcome.stderr.contains("panicked"),
        "{label}\n{}",
        outcome.snapshot()
    );
}

/// A password holding any of [`SPECIAL`] is never printed, in whole or in part, human or JSON:
/// in a good URL (success and wrong password), typed unencoded in `--database-url` (refused
/// or unreachable), and in a URL pasted as a bare argument, which clap echoes.
#[test]
fn passwords_with_special_characters_are_never_printed() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let db = pg.database("app");
    let ws = Workspace::copy("single");
    for (i, c) in SPECIAL.iter().enumerate() {
        let password = format!("{HEAD}{c}{TAIL}");
        let role = format!("special_{i}");
        pg.password_role(&role, &password);
        let good = pg.url_as(&role, &password, "app");
        let wrong = pg.url_as(&role, &format!("{password}-no"), "app");
        let unencoded = format!("postgres://{role}:{password}@127.0.0.1:1/app");
        for format in ["human", "json"] {
            let base = ["--format", format, "--color", "never"];
            let run = |args: &[&str], codes: &[i32]| {
                let all: Vec<&str> = base.iter().chain(args).copied().collect();
                let outcome = support::run_in(ws.path(), &all);
                let label = format!("password with {c:?}: {all:?}");
                assert_no_half(&outcome, &label);
                assert!(
                    codes.contains(&outcome.code),
                    "{label}\n{}",
                    outcome.snapshot()
                );
                outcome
            };
            let status = run(&["status", "--database-url", &good], &[0]);
            assert!(
                status.stdout.contains(&format!("{role}:***@")),
                "{}",
                status.snapshot()
            );
            run(&["up", "--yes", "--database-url", &good], &[0]);
            run(&["down", "--all", "--yes", "--database-url", &good], &[0]);
            let refused = run(&["status", "--database-url", &wrong], &[3]);
            assert!(
                format!("{}{}", refused.stdout, refused.stderr)
                    .contains("password authentication failed"),
                "{}",
                refused.snapshot()
            );
            // `/`, `?`, `#` and `%` make the URL say something else: refused (exit 2); the
            // rest parse, and nothing listens on port 1 (exit 3).
            run(&["status", "--database-url", &unencoded], &[2, 3]);
            run(&["diff", "--from", "empty", "--to", &unencoded], &[2, 3]);
            let bare = run(&["status", &unencoded], &[2]);
            assert!(
                format!("{}{}", bare.stdout, bare.stderr).contains(&format!("{role}:***@")),
                "{}",
                bare.snapshot()
            );
        }
    }
    drop(db);
}

/// `diff --from/--to` given something that is not a source (a libpq connection string, a URL
/// missing its `//`) says so without echoing the password, human and JSON; the other side is
/// a real SQLite database.
#[test]
fn diff_never_echoes_a_source_it_cannot_parse() {
    let ws = Workspace::copy("sqlite-lifecycle");
    let sqlite = format!("sqlite:{}", ws.path().join("app.db").display());
    let up = support::run_in(
        ws.path(),
        &[
            "--dialect",
            "sqlite",
            "up",
            "--yes",
            "--database-url",
            &sqlite,
        ],
    );
    assert_eq!(up.code, 0, "{}", up.snapshot());
    for (source, code, shown) in [
        (
            format!("host=db password={HEAD}{TAIL} dbname=app"),
            "bad-argument",
            "`host=db password=*** dbname=app` is not a schema source",
        ),
        (
            format!("host=db password='{HEAD} {TAIL}' dbname=app"),
            "bad-argument",
            "`host=db password='***' dbname=app` is not a schema source",
        ),
        (
            format!("postgres:user:{HEAD}{TAIL}@host/db"),
            "bad-database-url",
            "no `//` after its scheme",
        ),
        (
            format!("postgres://user:{HEAD}/{TAIL}@host/db"),
            "bad-database-url",
            "not percent-encoded",
        ),
    ] {
        for flag in ["--from", "--to"] {
            let (from, to) = if flag == "--from" {
                (source.as_str(), sqlite.as_str())
            } else {
                (sqlite.as_str(), source.as_str())
            };
            let args = ["diff", "--from", from, "--to", to];
            let human = support::run_in(ws.path(), &args);
            let label = format!("{args:?}");
            assert_no_half(&human, &label);
            assert_eq!(human.code, 2, "{label}\n{}", human.snapshot());
            assert!(
                human.stderr.contains(shown),
                "{label}\n{}",
                human.snapshot()
            );
            let mut json_args = vec!["--format", "json"];
            json_args.extend(args);
            let json = support::run_in(ws.path(), &json_args);
            assert_no_half(&json, &label);
            assert_eq!(json.json()["error"]["code"], code, "{label}");
            assert!(
                json.json()["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(shown)),
                "{label}\n{}",
                json.snapshot()
            );
        }
    }
}

/// A migration set whose names, columns, comments and timestamps hold the words people use as
/// dev passwords.
fn words_workspace() -> Workspace {
    let ws = Workspace::empty();
    let dir = ws.path().join("migrations/20260101000000_create_users");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("up.sql"),
        "CREATE TABLE users (\n    id bigint PRIMARY KEY,\n    master_password_hash text NOT NULL,\n    \
         created_at timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00'\n);\n\
         COMMENT ON TABLE users IS 'postgres users: password set in 2026';\n",
    )
    .expect("write up.sql");
    std::fs::write(dir.join("down.sql"), "DROP TABLE users;\n").expect("write down.sql");
    ws
}

/// Digits runs (timings, timestamps, the socket directory's name) as `N`, so two runs
/// compare; a mangled `2026` (`***`) still differs.
fn normalised(text: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// A password that is a common word (`postgres`, `password`, `2026`, `users`) hides only
/// itself: every command prints byte for byte what it prints with a distinctive password
/// (the redacted URL is the same), so names, columns, SQL to apply and timestamps are intact.
#[test]
fn common_word_passwords_rewrite_nothing_else() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let role = "migrator";
    pg.password_role(role, "Distinct-Pw-0x5f");
    let admin = pg.server.url();
    let ws = words_workspace();
    let outputs = |password: &str| -> Vec<String> {
        pg.execute(
            &admin,
            &format!("ALTER ROLE {role} PASSWORD '{password}'; DROP SCHEMA public CASCADE; CREATE SCHEMA public"),
        );
        let url = pg.url_as(role, password, "postgres");
        let commands: &[&[&str]] = &[
            &["list", "-v"],
            &["status", "--database-url", &url],
            &["up", "--dry-run", "--database-url", &url],
            &["up", "--yes", "--database-url", &url],
            &["status", "--database-url", &url],
            &["status", "--format", "json", "--database-url", &url],
            &["schema", "--database-url", &url],
            &["diff", "--from", "empty", "--to", &url],
            &["diff", "--from", "empty", "--to", &url, "--sql"],
            &[
                "diff", "--from", "empty", "--to", &url, "--sql", "--format", "json",
            ],
            &["down", "--yes", "--database-url", &url, "--format", "json"],
        ];
        commands
            .iter()
            .map(|args| {
                let mut all = vec![
                    "--dir",
                    "migrations",
                    "--dialect",
                    "postgres",
                    "--color",
                    "never",
                ];
                all.extend_from_slice(args);
                let outcome = support::run_in(ws.path(), &all);
                assert!(
                    [0, 1].contains(&outcome.code),
                    "{all:?}\n{}",
                    outcome.snapshot()
                );
                format!("{all:?}\n{}", normalised(&outcome.snapshot()))
            })
            .collect()
    };
    let baseline = outputs("Distinct-Pw-0x5f");
    assert!(
        baseline.iter().any(|o| o.contains("migrator:***@")),
        "the URL is shown redacted:\n{}",
        baseline.join("\n")
    );
    assert!(
        baseline.iter().any(|o| o.contains("master_password_hash")),
        "{}",
        baseline.join("\n")
    );
    for word in ["postgres", "password", "2026", "users"] {
        for (with_word, distinct) in outputs(word).iter().zip(&baseline) {
            // The first line is the command line, which names the password.
            let output = |text: &str| text.split_once('\n').map_or("", |(_, o)| o).to_string();
            assert_eq!(
                output(with_word),
                output(distinct),
                "password `{word}`: {with_word}"
            );
        }
    }
}

/// `-vv` logs the statements the tool sends (its history table, its lock) but never a
/// migration's own: a script may carry a secret, and it is the user's SQL, not the tool's.
#[test]
fn the_sql_log_leaves_out_the_migrations_statements() {
    let ws = Workspace::copy("root-set");
    let dir = ws.path().join("migrations/0009_with_secret");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("up.sql"),
        format!("CREATE TABLE vault (note TEXT DEFAULT '{PASSWORD}');\n"),
    )
    .expect("write up.sql");
    std::fs::write(dir.join("down.sql"), "DROP TABLE vault;\n").expect("write down.sql");
    let url = format!("sqlite:{}?mode=rwc", ws.path().join("app.db").display());
    for args in [
        &["up", "-vv", "--database-url", &url][..],
        &["down", "-vv", "--yes", "--database-url", &url],
    ] {
        let outcome = run_in_env(ws.path(), args, &[]);
        assert_eq!(outcome.code, 0, "{args:?}\n{}", outcome.snapshot());
        assert!(!outcome.stderr.contains(PASSWORD), "{}", outcome.stderr);
        assert!(!outcome.stdout.contains("DEBUG"), "{}", outcome.stdout);
        assert!(
            outcome.stderr.contains("DEBUG sql: ")
                && outcome.stderr.contains("_cargo_migrate")
                && outcome.stderr.contains("script of 0009_with_secret"),
            "{args:?}\n{}",
            outcome.stderr
        );
    }
    // CARGO_MIGRATE_LOG filters (and turns the log on without -vv); sqlx=trace still leaves
    // the script out.
    let outcome = run_in_env(
        ws.path(),
        &["up", "--database-url", &url],
        &[("CARGO_MIGRATE_LOG", "sqlx=trace")],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.snapshot());
    assert!(
        outcome.stderr.contains("sql: ") && !outcome.stderr.contains(PASSWORD),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("script of"), "{}", outcome.stderr);
}

/// `-vv` logs the local cluster's actions (its server binaries, with their arguments) and the
/// catalog reads, on stderr; the schema on stdout stays clean.
#[test]
fn the_log_shows_cluster_actions() {
    if !support::have_local_postgres() {
        return;
    }
    let cache = tempfile::Builder::new()
        .prefix("cm-log-cache-")
        .tempdir()
        .expect("cache dir");
    // As root, a local cluster runs as an unprivileged user, who must reach its directory.
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let cache_dir = cache.path().to_string_lossy().to_string();
    let ws = Workspace::copy("single");
    let outcome = run_in_env(
        ws.path(),
        &["schema", "--sandbox", "local", "-vv", "--color", "never"],
        &[("XDG_CACHE_HOME", &cache_dir)],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.snapshot());
    assert!(
        outcome.stderr.contains("DEBUG cluster: run ")
            && outcome.stderr.contains("stop the server")
            && outcome.stderr.contains("DEBUG sql: "),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stdout.contains("DEBUG"), "{}", outcome.stdout);
}
