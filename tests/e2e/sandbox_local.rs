//! The `local` sandbox against the machine's own PostgreSQL server binaries.
//!
//! Without the binaries the tests print why they are skipped and pass, except under
//! `CI=true`, where missing binaries are a failure.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cargo_migrate::error::ErrorCode;
use cargo_migrate::sandbox::local::{self, LocalOptions, LocalPostgres};
use sqlx::{Connection, PgConnection, Row};

/// Every process on the machine: (pid, parent pid, command line with spaces for NULs).
fn processes() -> Vec<(u32, u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let (Ok(cmdline), Ok(stat)) = (
            std::fs::read(format!("/proc/{pid}/cmdline")),
            std::fs::read_to_string(format!("/proc/{pid}/stat")),
        ) else {
            continue;
        };
        let Some(ppid) = stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse().ok())
        else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        found.push((pid, ppid, cmdline));
    }
    found
}

/// The server of `data_dir` and its children (backends retitle themselves, so only the
/// postmaster's command line names the data directory).
fn server_processes(data_dir: &Path) -> Vec<u32> {
    let all = processes();
    let needle = data_dir.to_string_lossy().into_owned();
    let postmasters: Vec<u32> = all
        .iter()
        .filter(|(_, _, cmdline)| cmdline.contains(&needle))
        .map(|(pid, _, _)| *pid)
        .collect();
    let mut pids = postmasters.clone();
    pids.extend(
        all.iter()
            .filter(|(_, ppid, _)| postmasters.contains(ppid))
            .map(|(pid, _, _)| *pid),
    );
    pids
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry but runs nothing.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Asserts the cluster's directory and processes are gone (waiting up to `patience`).
fn assert_cleaned_up(socket_dir: &Path, data_dir: &Path, pids: &[u32], patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|pid| alive(*pid)).collect();
        let running = server_processes(data_dir);
        if !socket_dir.exists() && left.is_empty() && running.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "not cleaned up: directory exists = {}, processes still alive = {left:?}, servers on the data dir = {running:?}",
                socket_dir.exists()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn query_string(url: &str, sql: &'static str) -> String {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let row = sqlx::query(sql).fetch_one(&mut conn).await.unwrap();
    let value: String = row.get(0);
    conn.close().await.unwrap();
    value
}

#[tokio::test]
async fn starts_serves_and_stops() {
    if !support::have_local_postgres() {
        return;
    }
    let mut pg = LocalPostgres::start(LocalOptions::default()).await.unwrap();
    let data_dir = pg.data_dir().to_path_buf();
    let socket_dir = pg.socket_dir().to_path_buf();
    assert!(data_dir.join("PG_VERSION").is_file());
    assert!(data_dir.starts_with(&socket_dir));
    let mode = |path: &Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions())
            & 0o777
    };
    assert_eq!(
        mode(&socket_dir),
        0o700,
        "only the server's user may reach the socket"
    );
    assert_eq!(mode(&data_dir), 0o700);
    if Path::new("/dev/shm").is_dir() {
        assert!(socket_dir.starts_with("/dev/shm"), "{socket_dir:?}");
    }
    assert!(!pg.initialised_from_template());
    assert!(
        pg.version().chars().all(|c| c.is_ascii_digit() || c == '.'),
        "{}",
        pg.version()
    );

    // The URL form: the socket directory as the `host` query parameter.
    let url = pg.url();
    assert_eq!(
        url,
        format!(
            "postgres://postgres@localhost:5432/postgres?host={}&sslmode=disable",
            socket_dir.display()
        )
    );
    let parsed: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    assert_eq!(parsed.get_socket(), Some(&socket_dir));
    assert_eq!(parsed.get_database(), Some("postgres"));
    assert_eq!(parsed.get_username(), "postgres");

    let version = query_string(&url, "SELECT version()").await;
    assert!(
        version.starts_with(&format!("PostgreSQL {}", pg.version())),
        "{version}"
    );
    for (setting, expected) in [
        ("SHOW listen_addresses", ""),
        ("SHOW fsync", "off"),
        ("SHOW synchronous_commit", "off"),
        ("SHOW full_page_writes", "off"),
        ("SHOW max_connections", "100"),
        ("SHOW unix_socket_permissions", "0777"),
        ("SHOW server_encoding", "UTF8"),
        ("SHOW lc_collate", "C"),
    ] {
        assert_eq!(query_string(&url, setting).await, expected, "{setting}");
    }

    // One cluster, many databases.
    let second = pg.create_database("second db").await.unwrap();
    assert_eq!(second, pg.url_for("second db"));
    let mut conn = PgConnection::connect(&second).await.unwrap();
    sqlx::query("CREATE TABLE t (id int)")
        .execute(&mut conn)
        .await
        .unwrap();
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(name, "second db");
    conn.close().await.unwrap();
    let again = pg.create_database("second db").await.unwrap_err();
    assert_eq!(again.code, ErrorCode::SandboxFailed);
    assert!(
        again.message.contains("already exists"),
        "{}",
        again.message
    );

    // As root the server runs as an unprivileged user, without supplementary groups.
    let pid = pg.pid().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert!(
            uid_line.split_whitespace().skip(1).all(|uid| uid != "0"),
            "{uid_line}"
        );
        let groups = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
        assert_eq!(groups.trim_end(), "Groups:", "supplementary groups left");
    }

    let pids = server_processes(&data_dir);
    assert!(pids.contains(&pid), "{pids:?} lacks the postmaster {pid}");
    assert!(pids.len() > 1, "no server children found: {pids:?}");
    pg.stop().unwrap();
    assert!(!data_dir.exists());
    assert_cleaned_up(&socket_dir, &data_dir, &pids, Duration::ZERO);
    assert_eq!(pg.pid(), None);
    pg.stop().unwrap(); // idempotent
}

#[tokio::test]
async fn template_cache_replaces_initdb() {
    if !support::have_local_postgres() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let options = LocalOptions {
        template_cache: Some(cache.path().to_path_buf()),
        ..LocalOptions::default()
    };
    let started = Instant::now();
    let mut first = LocalPostgres::start(options.clone()).await.unwrap();
    let first_wall = started.elapsed();
    assert!(!first.initialised_from_template());
    let template = cache.path().join(format!("pg{}-template", first.version()));
    assert!(
        template.join("PG_VERSION").is_file(),
        "no template at {template:?}"
    );
    // Only the finished template is left: the staging directory is gone.
    let entries: Vec<_> = std::fs::read_dir(cache.path()).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    first.stop().unwrap();

    let started = Instant::now();
    let second = LocalPostgres::start(LocalOptions {
        database: "app".to_string(),
        ..options
    })
    .await
    .unwrap();
    let second_wall = started.elapsed();
    assert!(second.initialised_from_template());
    assert!(second.url().contains("/app?"), "{}", second.url());
    let name = query_string(&second.url(), "SELECT current_database()::text").await;
    assert_eq!(name, "app");
    // The copy belongs to the server's user and keeps the data directory's mode.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(second.data_dir()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o700);

    let (a, b) = (first.timings(), second.timings());
    eprintln!(
        "initdb path: init {:?}, ready {:?}, start {:?} (wall {first_wall:?}); template path: init {:?}, ready {:?}, start {:?} (wall {second_wall:?})",
        a.init, a.ready, a.total, b.init, b.ready, b.total
    );
    drop(second);
}

#[tokio::test]
async fn drop_stops_and_deletes() {
    if !support::have_local_postgres() {
        return;
    }
    let (socket_dir, data_dir, pids) = {
        let pg = LocalPostgres::start(LocalOptions::default()).await.unwrap();
        let version = query_string(&pg.url(), "SELECT version()").await;
        assert!(version.starts_with("PostgreSQL"));
        let data_dir = pg.data_dir().to_path_buf();
        (
            pg.socket_dir().to_path_buf(),
            data_dir.clone(),
            server_processes(&data_dir),
        )
    };
    assert!(!pids.is_empty());
    assert_cleaned_up(&socket_dir, &data_dir, &pids, Duration::ZERO);
}

#[test]
fn a_panicking_test_does_not_leak_the_server() {
    if !support::have_local_postgres() {
        return;
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let pg = LocalPostgres::start(LocalOptions::default()).await.unwrap();
            let data_dir = pg.data_dir().to_path_buf();
            sender
                .send((
                    pg.socket_dir().to_path_buf(),
                    data_dir.clone(),
                    server_processes(&data_dir),
                ))
                .unwrap();
            panic!("a test failing while its cluster runs");
        })
    })
    .join();
    assert!(outcome.is_err());
    let (socket_dir, data_dir, pids) = receiver.recv().unwrap();
    assert!(!pids.is_empty());
    assert_cleaned_up(&socket_dir, &data_dir, &pids, Duration::ZERO);
}

/// Not a test on its own: run by `the_watchdog_cleans_up_after_an_exit` in a child process,
/// where it starts a cluster and exits without dropping it.
#[tokio::test]
async fn exit_without_stopping() {
    if std::env::var_os("CARGO_MIGRATE_SANDBOX_EXIT_TEST").is_none() {
        return;
    }
    let pg = LocalPostgres::start(LocalOptions::default()).await.unwrap();
    println!("SOCKET_DIR={}", pg.socket_dir().display());
    println!("DATA_DIR={}", pg.data_dir().display());
    println!("PID={}", pg.pid().unwrap());
    std::process::exit(0);
}

#[test]
fn the_watchdog_cleans_up_after_an_exit() {
    if !support::have_local_postgres() {
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sandbox_local::exit_without_stopping",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CARGO_MIGRATE_SANDBOX_EXIT_TEST", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|line| Some(line.split_once(key)?.1))
            .unwrap_or_else(|| panic!("no {key} in {stdout}"))
            .to_string()
    };
    let socket_dir = std::path::PathBuf::from(value("SOCKET_DIR="));
    let data_dir = std::path::PathBuf::from(value("DATA_DIR="));
    let pid: u32 = value("PID=").parse().unwrap();
    assert_cleaned_up(&socket_dir, &data_dir, &[pid], Duration::from_secs(20));
}

#[tokio::test]
async fn missing_binaries_are_an_unreachable_error() {
    let empty = tempfile::tempdir().unwrap();
    let error = LocalPostgres::start(LocalOptions {
        binaries: Some(empty.path().to_path_buf()),
        ..LocalOptions::default()
    })
    .await
    .unwrap_err();
    assert_eq!(error.code, ErrorCode::NoPostgresBinaries);
    assert_eq!(error.exit_code(), 3);
    let hint = error.hint.unwrap();
    assert!(hint.contains("postgresql"), "{hint}");
    assert!(hint.contains("--sandbox docker"), "{hint}");
}

#[test]
fn finds_the_server_binaries() {
    if !support::have_local_postgres() {
        return;
    }
    let dir = local::find_binaries(None).unwrap();
    assert!(
        dir.join("initdb").is_file() && dir.join("postgres").is_file(),
        "{dir:?}"
    );
    // An explicit directory, or a binary in it, is taken as is.
    assert_eq!(local::find_binaries(Some(&dir)), Some(dir.clone()));
    assert_eq!(
        local::find_binaries(Some(&dir.join("initdb"))),
        Some(dir.clone())
    );
}

#[tokio::test]
async fn startup_failures_carry_the_output_and_clean_up() {
    if !support::have_local_postgres() {
        return;
    }
    let real = local::find_binaries(None).unwrap();
    for failing in ["initdb", "postgres"] {
        let fake = support::fake_binaries(&real, failing);
        let error = LocalPostgres::start(LocalOptions {
            binaries: Some(fake.path().to_path_buf()),
            ..LocalOptions::default()
        })
        .await
        .unwrap_err();
        assert_eq!(error.code, ErrorCode::SandboxFailed, "{error:?}");
        assert_eq!(error.exit_code(), 3);
        assert!(error.hint.is_some());
        let detail = error.detail.clone().unwrap_or_default();
        assert!(
            detail.contains(&format!("the {failing} stand-in fails on purpose")),
            "{error:?}"
        );
        let expected = match failing {
            "initdb" => "initdb failed",
            _ => "exited at start-up",
        };
        assert!(error.message.contains(expected), "{error:?}");
        // The sandbox directory (the parent of `-D <data dir>`) is gone.
        let args = std::fs::read_to_string(fake.path().join("args")).unwrap();
        let mut words = args.split_whitespace();
        let data_dir = words
            .by_ref()
            .skip_while(|word| *word != "-D")
            .nth(1)
            .unwrap_or_else(|| panic!("no -D in {args:?}"));
        let socket_dir = Path::new(data_dir).parent().unwrap();
        assert_cleaned_up(socket_dir, Path::new(data_dir), &[], Duration::ZERO);
    }
}
