//! No command ever prints a database password: every command × every way a connection can go
//! (refused, wrong password, unknown database, success) × where the URL comes from
//! (`--database-url`, `.env`) × `--format human|json`, against a real PostgreSQL cluster in
//! which one role must log in with a password.

mod support;

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
    (&["schema"], FLAG_ONLY),
    // `diff` compares the history with `--to` (given the URL), else with `database` (.env).
    (&["diff"], URL),
    (&["new", "add_things"], NO_URL),
    (&["db", "status"], NO_URL),
    (&["db", "url"], NO_URL),
    (&["db", "stop"], NO_URL),
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
            for format in ["human", "json"] {
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
    // 4 modes × 2 sources × 2 formats × every command.
    assert_eq!(runs, 16 * COMMANDS.len());
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
        let mut args: Vec<&str> = vec!["--format", format, "--color", "never"];
        args.extend_from_slice(command);
        if ["db", "check", "schema", "diff"].contains(&command[0]) {
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
        "add {missing:?} to COMMANDS in tests/secrets.rs (one line each)"
    );
}
