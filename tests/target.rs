//! Which database a command touches, end to end with the real binary: the locality guard of
//! `reset` (decided from the driver's effective target, before connecting), IPv6 literal
//! hosts, SQLite URL forms and paths, and which `.env` is read.
//!
//! "Remote" targets here are host names that do not resolve (`db.invalid`): nothing is ever
//! sent off this machine. Local TCP targets are a forwarder on a loopback address in front of
//! a throw-away cluster's Unix socket (the clusters open no TCP port).

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
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
    let cases: &[(&str, &[(&str, &str)], &str)] = &[
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
