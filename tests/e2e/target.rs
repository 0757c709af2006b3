//! Which database a command touches, end to end with the real binary: the locality guard of
//! `reset` (decided from the driver's effective target, before connecting), IPv6 literal
//! hosts, SQLite URL forms and paths, and which `.env` is read.
//!
//! "Remote" targets here are host names that do not resolve (`db.invalid`): nothing is ever
//! sent off this machine. Local TCP targets are a forwarder on a loopback address in front of
//! a throw-away cluster's Unix socket (the clusters open no TCP port).

use crate::support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{Outcome, Pg, Workspace};

/// A TCP listener on a loopback address that forwards every connection to a Unix socket.
struct Forwarder {
    address: SocketAddr,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
}

impl Forwarder {
    fn start(bind: &str, socket: PathBuf) -> Forwarder {
        let listener = TcpListener::bind((bind, 0)).unwrap_or_else(|e| panic!("bind {bind}: {e}"));
        let address = listener.local_addr().expect("local address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = UnixStream::connect(&socket) else {
                    continue;
                };
                let (mut client_in, mut server_out) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || {
                    pump(&mut client_in, &mut server_out);
                    let _ = server_out.shutdown(Shutdown::Write);
                });
                let (mut server_in, mut client_out) = (server, client);
                std::thread::spawn(move || {
                    pump(&mut server_in, &mut client_out);
                    let _ = client_out.shutdown(Shutdown::Write);
                });
            }
        });
        Forwarder { address, accepted }
    }

    fn port(&self) -> u16 {
        self.address.port()
    }
}

fn pump(from: &mut impl Read, to: &mut impl Write) {
    let mut buffer = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buffer) {
        if n == 0 || to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
}

/// The cluster's Unix socket file.
fn socket_file(pg: &Pg) -> PathBuf {
    pg.server.socket_dir().join(".s.PGSQL.5432")
}

/// Runs the binary in `ws` with `args`, the `PG*` variables of the test's environment cleared
/// and `env` set.
fn run(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut command = support::command();
    command.current_dir(ws.path()).args(args);
    for var in ["PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE"] {
        command.env_remove(var);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let outcome = support::outcome_of(ws.path(), command.output().expect("run cargo-migrate"));
    assert!(
        !outcome.stderr.contains("panicked"),
        "cargo-migrate panicked:\n{}",
        outcome.stderr
    );
    outcome
}

fn error_code(outcome: &Outcome) -> String {
    let value: serde_json::Value = outcome
        .stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON in stdout:\n{}\n{}", outcome.stdout, outcome.stderr));
    let error = value.get("error").unwrap_or(&value);
    error["code"].as_str().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------------------------------------
// Item: the locality guard follows the effective connection target

/// A URL naming `localhost` whose `host` parameter, or a `PGHOST`/`PGHOSTADDR` variable
/// (when the URL names no host), sends the driver elsewhere is refused without
/// `--allow-remote`, before any connection: even with `--wait 30` it answers at once, with no
/// "waiting for the database" line.
#[test]
fn reset_refuses_a_remote_effective_target_before_connecting() {
    let ws = Workspace::copy("single");
    type Env<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(&str, Env, &str)] = &[
        (
            "postgres://app@localhost/app?host=db.invalid",
            &[],
            "db.invalid:5432",
        ),
        (
            "postgres://app@localhost:5432/app?host=localhost&host=db.invalid&port=6543",
            &[],
            "db.invalid:6543",
        ),
        (
            "postgres:///app",
            &[("PGHOST", "db.invalid")],
            "db.invalid:5432",
        ),
        (
            "postgres:///app",
            &[("PGHOST", "localhost"), ("PGHOSTADDR", "db.invalid")],
            "db.invalid:5432",
        ),
        ("postgres://app@db.invalid/app", &[], "db.invalid:5432"),
    ];
    for (url, env, shown) in cases {
        let started = Instant::now();
        let outcome = run(
            &ws,
            &["reset", "--yes", "--wait", "30", "--database-url", url],
            env,
        );
        assert_eq!(outcome.code, 2, "{url} {env:?}:\n{}", outcome.stderr);
        assert!(
            outcome
                .stderr
                .contains("refusing to reset a database that may be on another host")
                && outcome.stderr.contains(shown)
                && outcome.stderr.contains("cannot be resolved"),
            "{url} {env:?}:\n{}",
            outcome.stderr
        );
        assert!(
            !outcome.stderr.contains("waiting for the database"),
            "{url}: it tried to connect:\n{}",
            outcome.stderr
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{url}: refused only after {:?}",
            started.elapsed()
        );
        let json = run(
            &ws,
            &["reset", "--yes", "--format", "json", "--database-url", url],
            env,
        );
        assert_eq!(error_code(&json), "confirmation-required", "{url}");
    }
    let outcome = run(
        &ws,
        &[
            "reset",
            "--yes",
            "--database-url",
            "postgres://app:hunter2@localhost/app?host=db.invalid",
        ],
        &[],
    );
    insta::assert_snapshot!("reset_of_a_remote_effective_target", outcome.snapshot());
    // With --allow-remote the guard lets it through: the failure is then the connection's.
    let allowed = run(
        &ws,
        &[
            "reset",
            "--yes",
            "--allow-remote",
            "--database-url",
            "postgres://app@localhost/app?host=db.invalid",
        ],
        &[],
    );
    assert_eq!(allowed.code, 3, "{}", allowed.stderr);
    assert!(!allowed.stderr.contains("refusing"), "{}", allowed.stderr);
}

/// Every spelling of this machine is local: `reset --yes` is not refused for loopback
/// addresses written as `127.1`, `0.0.0.0`, `localhost.`, `[::1]` or an IPv4-mapped IPv6
/// address, for a Unix socket given as the URL's host or by `PGHOST`, nor when a `host`
/// parameter brings a remote-looking URL back home. They reach the cluster through a
/// forwarder on 127.0.0.1 (and one on ::1), and reset it.
#[test]
fn reset_accepts_every_spelling_of_this_machine() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let socket_url = pg.database("app");
    let socket_dir = pg.server.socket_dir().to_string_lossy().into_owned();
    let v4 = Forwarder::start("127.0.0.1", socket_file(&pg));
    let v6 = Forwarder::start("::1", socket_file(&pg));
    let ws = Workspace::copy("single");
    let encoded_dir = socket_dir.replace('/', "%2F");
    let urls = [
        format!("postgres://postgres@127.0.0.1:{}/app", v4.port()),
        format!("postgres://postgres@127.1:{}/app", v4.port()),
        format!("postgres://postgres@0.0.0.0:{}/app", v4.port()),
        format!("postgres://postgres@localhost.:{}/app", v4.port()),
        format!("postgres://postgres@[::ffff:127.0.0.1]:{}/app", v4.port()),
        format!("postgres://postgres@[::1]:{}/app", v6.port()),
        format!("postgres://postgres@db.invalid/app?host={socket_dir}"),
        format!(
            "postgres://postgres@db.invalid:{}/app?host=127.0.0.1",
            v4.port()
        ),
        format!("postgres://postgres@{encoded_dir}/app"),
        socket_url.clone(),
    ];
    for url in &urls {
        let outcome = run(&ws, &["reset", "--yes", "--database-url", url], &[]);
        // `localhost.` is local whether or not this machine's resolver knows the name with
        // its final dot; what matters is that the guard did not refuse it.
        assert!(
            !outcome.stderr.contains("refusing"),
            "{url} was refused:\n{}",
            outcome.stderr
        );
        if !url.contains("localhost.") {
            assert_eq!(outcome.code, 0, "{url}:\n{}", outcome.stderr);
        }
    }
    let outcome = run(
        &ws,
        &[
            "reset",
            "--yes",
            "--database-url",
            "postgres:///app?user=postgres",
        ],
        &[("PGHOST", &socket_dir)],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(v4.accepted.load(Ordering::SeqCst) > 0);
    assert_eq!(pg.tables(&socket_url), ["_cargo_migrate", "users"]);
}

// ---------------------------------------------------------------------------------------------
// Item: IPv6 literal hosts

/// `postgres://user@[::1]:port/db` connects (it used to fail with "Name or service not
/// known": the brackets were handed to the resolver), and `status` and `up` work through it.
#[test]
fn ipv6_literal_host_connects() {
    let Some(pg) = support::postgres() else {
        return;
    };
    let socket_url = pg.database("app");
    let v6 = Forwarder::start("::1", socket_file(&pg));
    let ws = Workspace::copy("single");
    let url = format!(
        "postgres://postgres@[::1]:{}/app?sslmode=disable",
        v6.port()
    );
    let up = run(&ws, &["up", "--database-url", &url], &[]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let status = run(
        &ws,
        &["status", "--format", "json", "--database-url", &url],
        &[],
    );
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(v6.accepted.load(Ordering::SeqCst) >= 2);
    assert_eq!(pg.tables(&socket_url), ["_cargo_migrate", "users"]);
    // Connection errors name the endpoint with its brackets.
    let closed = run(
        &ws,
        &[
            "status",
            "--database-url",
            "postgres://postgres@[::1]:1/app",
        ],
        &[],
    );
    assert_eq!(closed.code, 3, "{}", closed.stderr);
    assert!(closed.stderr.contains("[::1]:1"), "{}", closed.stderr);
}

// ---------------------------------------------------------------------------------------------
// Item: SQLite URLs name a real file, or are refused

/// The migrations applied in `url`'s file, read with the driver.
fn sqlite_history(url: &str) -> Vec<String> {
    support::sqlite_query(url, "SELECT version FROM _cargo_migrate ORDER BY version")
        .into_iter()
        .filter_map(|mut row| row.remove(0))
        .collect()
}

/// Runs `args` with a deadline: a command that blocks (as `sqlite:/dev/null` did) is killed
/// and reported instead of hanging the test.
fn run_bounded(ws: &Workspace, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Outcome {
    let mut command = support::command();
    command
        .current_dir(ws.path())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("run cargo-migrate");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    support::outcome_of(ws.path(), child.wait_with_output().expect("output"))
}

/// `DATABASE_URL="sqlite:"` (a variable built from one that is not set) is refused, naming the
/// variable, instead of migrating a temporary database that vanishes and reporting success.
#[test]
fn sqlite_url_without_a_file_is_refused() {
    let ws = Workspace::copy("root-set");
    for url in ["sqlite:", "sqlite://", "sqlite:?mode=rwc"] {
        let outcome = run(&ws, &["up"], &[("DATABASE_URL", url)]);
        assert_eq!(outcome.code, 2, "{url}:\n{}", outcome.stderr);
        assert!(
            outcome.stderr.contains("names no database file")
                && outcome
                    .stderr
                    .contains("--> environment variable DATABASE_URL"),
            "{url}:\n{}",
            outcome.stderr
        );
        assert!(!outcome.stderr.contains("Finished"), "{}", outcome.stderr);
    }
    let outcome = run(&ws, &["up"], &[("DATABASE_URL", "sqlite:")]);
    insta::assert_snapshot!("sqlite_url_without_a_file", outcome.snapshot());
}

/// A device, a directory or a FIFO is no database file: refused at once (exit 2), naming the
/// path, with no lock file left beside it. `sqlite:/dev/null` used to hang and leave
/// `/dev/null.migrate-lock`.
#[test]
fn sqlite_url_naming_something_other_than_a_file_is_refused() {
    let ws = Workspace::copy("root-set");
    let fifo = ws.path().join("pipe.db");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    std::fs::create_dir(ws.path().join("dir.db")).expect("mkdir");
    let cases = [
        ("sqlite:/dev/null", "`/dev/null` is a character device"),
        ("sqlite:pipe.db", "`pipe.db` is a FIFO"),
        ("sqlite:dir.db", "`dir.db` is a directory"),
        (
            "sqlite:file:/dev/null?mode=rwc",
            "`/dev/null` is a character device",
        ),
    ];
    for (url, says) in cases {
        for command in ["up", "status"] {
            let outcome = run_bounded(
                &ws,
                &[command, "--database-url", url],
                &[],
                Duration::from_secs(20),
            );
            assert_eq!(outcome.code, 2, "{command} {url}:\n{}", outcome.stderr);
            assert!(
                outcome.stderr.contains(says) && outcome.stderr.contains("--> --database-url"),
                "{command} {url}:\n{}",
                outcome.stderr
            );
        }
    }
    assert!(!Path::new("/dev/null.migrate-lock").exists());
    assert!(!ws.path().join("pipe.db.migrate-lock").exists());
    let outcome = run(&ws, &["up", "--database-url", "sqlite:/dev/null"], &[]);
    insta::assert_snapshot!("sqlite_url_naming_a_device", outcome.snapshot());
}

/// URI forms work: `sqlite:file:/abs/x.db?mode=rwc` (it used to fail on its lock file's
/// path), `sqlite:///abs` and `sqlite://rel` apply to the file they name, and the run lock is
/// beside that file: a lock held there makes the run wait and time out.
#[test]
fn sqlite_uri_forms_use_the_real_file_and_lock_beside_it() {
    use cargo_migrate::db::run_lock::RunLock;
    let ws = Workspace::copy("root-set");
    let absolute = |name: &str| ws.path().join(name).to_string_lossy().into_owned();
    let cases = [
        (
            format!("sqlite:file:{}?mode=rwc", absolute("uri.db")),
            absolute("uri.db"),
        ),
        (
            format!("sqlite:file://{}", absolute("uri-slashes.db")),
            absolute("uri-slashes.db"),
        ),
        (
            format!("sqlite://{}", absolute("triple.db")),
            absolute("triple.db"),
        ),
        ("sqlite://relative.db".to_string(), absolute("relative.db")),
        (
            "sqlite:file:relative-uri.db".to_string(),
            absolute("relative-uri.db"),
        ),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (url, file) in &cases {
        let outcome = run(&ws, &["up", "--database-url", url], &[]);
        assert_eq!(outcome.code, 0, "{url}:\n{}", outcome.stderr);
        assert_eq!(sqlite_history(&format!("sqlite:{file}")), ["0001"], "{url}");
        assert!(
            !Path::new(&format!("{file}.migrate-lock")).exists(),
            "{url}"
        );
        let status = run(&ws, &["status", "--exit-code", "--database-url", url], &[]);
        assert_eq!(status.code, 0, "{url}:\n{}", status.stderr);
        // The run lock is the one beside the real file.
        let held = runtime
            .block_on(RunLock::acquire(Path::new(file), Duration::ZERO))
            .expect("take the lock");
        let blocked = run(
            &ws,
            &[
                "down",
                "--yes",
                "--lock-timeout",
                "1",
                "--database-url",
                url,
            ],
            &[],
        );
        assert_eq!(blocked.code, 3, "{url}:\n{}", blocked.stderr);
        assert!(
            blocked.stderr.contains("migrate-lock"),
            "{}",
            blocked.stderr
        );
        drop(held);
    }
    // Nothing was created under a `file:` directory or with the URI as a name.
    assert!(!ws.path().join("file:").exists());
}

/// An in-memory database is gone when the command exits: commands that change the database
/// refuse it (nothing they did would be kept), read-only ones work on it.
#[test]
fn sqlite_in_memory_is_refused_for_changes() {
    let ws = Workspace::copy("root-set");
    for url in [
        "sqlite::memory:",
        "sqlite://?mode=memory",
        "sqlite:file::memory:",
    ] {
        for command in [&["up"][..], &["reset", "--yes"], &["baseline", "0001"]] {
            let mut args = command.to_vec();
            args.extend(["--database-url", url]);
            let outcome = run(&ws, &args, &[]);
            assert_eq!(outcome.code, 2, "{args:?}:\n{}", outcome.stderr);
            assert!(
                outcome.stderr.contains("in-memory SQLite database"),
                "{args:?}:\n{}",
                outcome.stderr
            );
            assert!(!outcome.stderr.contains("Finished"), "{}", outcome.stderr);
        }
        let status = run(&ws, &["status", "--database-url", url], &[]);
        assert_eq!(status.code, 0, "{url}:\n{}", status.stderr);
        assert!(status.stdout.contains("pending"), "{}", status.stdout);
    }
    let outcome = run(&ws, &["up", "--database-url", "sqlite::memory:"], &[]);
    insta::assert_snapshot!("sqlite_in_memory_up", outcome.snapshot());
}

// ---------------------------------------------------------------------------------------------
// Item: which `.env` is read

/// With `--dir` (a production image) no `.env` is read, not even one in the working
/// directory naming a database: the URL comes from `--database-url` or the environment, and
/// without one the command stops (it used to migrate the `.env`'s database).
#[test]
fn dir_mode_reads_no_dotenv() {
    let ws = Workspace::copy("root-set");
    let stray = ws.path().join("stray.db");
    std::fs::write(
        ws.path().join(".env"),
        format!("DATABASE_URL=sqlite:{}\n", stray.display()),
    )
    .expect("write .env");
    let outcome = run(
        &ws,
        &["up", "--dir", "migrations", "--dialect", "sqlite"],
        &[],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(!stray.exists(), "the .env's database was created");
    insta::assert_snapshot!("dir_mode_reads_no_dotenv", outcome.snapshot());
    let json = run(
        &ws,
        &[
            "status",
            "--dir",
            "migrations",
            "--dialect",
            "sqlite",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(error_code(&json), "no-database-url");
    // The environment is honoured.
    let wanted = ws.path().join("wanted.db");
    let url = format!("sqlite:{}", wanted.display());
    let outcome = run(
        &ws,
        &["up", "--dir", "migrations", "--dialect", "sqlite"],
        &[("DATABASE_URL", &url)],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(sqlite_history(&url), ["0001"]);
    assert!(!stray.exists());
}

/// In a Cargo workspace the `.env` read is the workspace root's, wherever the command runs
/// (a `.env` in the current directory below the root is not read), and `--no-dotenv` reads
/// none: the command then falls back to the set's dev database, as with no `.env` at all.
#[test]
fn cargo_mode_reads_the_root_dotenv_unless_no_dotenv() {
    let ws = Workspace::copy("root-set");
    let from_root = ws.path().join("from-root.db");
    let from_cwd = ws.path().join("from-cwd.db");
    std::fs::write(
        ws.path().join(".env"),
        format!("DATABASE_URL=sqlite:{}\n", from_root.display()),
    )
    .expect("write .env");
    // A directory of the root package that is no member's: the root's set is the one used.
    let below = ws.path().join("tools");
    std::fs::create_dir_all(&below).expect("create dir");
    std::fs::write(
        below.join(".env"),
        format!("DATABASE_URL=sqlite:{}\n", from_cwd.display()),
    )
    .expect("write .env");
    let outcome = support::run_in(&below, &["up", "--format", "json"]).assert_code(0);
    assert_eq!(
        outcome.run_json()["database"],
        format!("sqlite:{}", from_root.display())
    );
    assert!(!from_cwd.exists());
    std::fs::remove_file(&from_root).expect("remove");
    let outcome = run(&ws, &["up", "--no-dotenv", "--format", "json"], &[]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let database = outcome.run_json()["database"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !database.contains("from-root") && !database.contains("from-cwd"),
        "{database}"
    );
    assert!(!from_root.exists() && !from_cwd.exists());
}

/// A member's own `.env` (beside its Cargo.toml) is read before the workspace root's, and
/// `-v` says which file the URL came from.
#[test]
fn a_member_dotenv_comes_before_the_root_one() {
    let ws = Workspace::copy("multi");
    let member = ws.path().join("crates/accounts");
    let from_member = ws.path().join("from-member.db");
    let from_root = ws.path().join("from-root.db");
    std::fs::write(
        member.join(".env"),
        format!("DATABASE_URL=sqlite:{}\n", from_member.display()),
    )
    .expect("write .env");
    std::fs::write(
        ws.path().join(".env"),
        format!("DATABASE_URL=sqlite:{}\n", from_root.display()),
    )
    .expect("write .env");
    let outcome = run(&ws, &["-p", "accounts", "up", "-v"], &[]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(from_member.exists() && !from_root.exists());
    assert!(
        outcome
            .stderr
            .contains("Using the database URL from DATABASE_URL in crates/accounts/.env"),
        "{}",
        outcome.stderr
    );
    // Without the member's file, the root's is used, and said so.
    std::fs::remove_file(member.join(".env")).expect("remove");
    let outcome = run(&ws, &["-p", "accounts", "up", "-v"], &[]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("Using the database URL from DATABASE_URL in .env"),
        "{}",
        outcome.stderr
    );
    assert!(from_root.exists());
}
