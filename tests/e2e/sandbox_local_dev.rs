//! The persistent dev cluster of the `local` sandbox (`start_dev`, `dev_status`, `stop_dev`)
//! against the machine's own PostgreSQL server binaries.
//!
//! Without the binaries the tests print why they are skipped and pass, except under
//! `CI=true`, where missing binaries are a failure. Every cluster a test starts is stopped by
//! a [`DevGuard`], also when the test fails.

use crate::support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cargo_migrate::error::ErrorCode;
use cargo_migrate::sandbox::local::{self, DevCluster, LocalOptions};
use sqlx::{Connection, PgConnection};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Stops the dev cluster in its directory when dropped, so no test leaves a server behind.
struct DevGuard(PathBuf);

impl Drop for DevGuard {
    fn drop(&mut self) {
        if let Err(error) = local::stop_dev(&self.0) {
            eprintln!(
                "could not stop the dev cluster in {}: {error:?}",
                self.0.display()
            );
        }
    }
}

/// A temporary parent for dev directories. As root, the server's user must be able to reach
/// the directory: a 0700 root-owned parent would make the data move to /var/tmp (tested on
/// its own in `an_unreachable_directory_moves_the_data_as_root`).
fn dev_parent() -> tempfile::TempDir {
    let parent = tempfile::tempdir().unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    parent
}

fn options(database: &str) -> LocalOptions {
    LocalOptions {
        database: database.to_string(),
        ..LocalOptions::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every process on the machine: (pid, command line with spaces for NULs).
fn processes() -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        found.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
    }
    found
}

/// The postmasters whose command line names `data_dir` (backends retitle themselves).
fn postmasters(data_dir: &Path) -> Vec<u32> {
    let needle = format!("-D {} ", data_dir.display());
    processes()
        .into_iter()
        .filter(|(_, cmdline)| cmdline.contains(&needle))
        .map(|(pid, _)| pid)
        .collect()
}

/// Fields of `/proc/<pid>/stat` after the command name: state, ppid, pgrp, session, ….
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry but runs nothing.
    stat_fields(pid).is_some_and(|fields| fields[0] != "Z")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Asserts no server runs on `data_dir` any more and `pid` is gone.
fn assert_no_server(data_dir: &Path, pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let running = postmasters(data_dir);
        if running.is_empty() && !alive(pid) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "a server still runs on {}: {running:?} (postmaster {pid} alive: {})",
                data_dir.display(),
                alive(pid)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn query_string(url: &str, sql: &'static str) -> String {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let value: String = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    value
}

async fn execute(url: &str, sql: &'static str) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

/// SIGKILLs the server and its children, as a crash (or the OOM killer) would, and waits
/// until they are gone.
fn crash(cluster: &DevCluster) {
    let children: Vec<u32> = processes()
        .into_iter()
        .map(|(pid, _)| pid)
        .filter(|pid| stat_fields(*pid).is_some_and(|f| f[1] == cluster.pid.to_string()))
        .collect();
    for pid in std::iter::once(cluster.pid).chain(children.iter().copied()) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::iter::once(cluster.pid)
        .chain(children.iter().copied())
        .any(alive)
    {
        assert!(Instant::now() < deadline, "the server did not die");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn starts_reuses_reports_and_stops() {
    if !support::have_local_postgres() {
        return;
    }
    let parent = dev_parent();
    let dir = parent.path().join("dev");
    let _guard = DevGuard(dir.clone());
    let cache = tempfile::tempdir().unwrap();
    let with_cache = LocalOptions {
        template_cache: Some(cache.path().to_path_buf()),
        ..options("app")
    };

    let begun = Instant::now();
    let (cluster, started) = local::start_dev(&dir, with_cache.clone()).await.unwrap();
    let first_start = begun.elapsed();
    assert!(started);
    let dir = dir.canonicalize().unwrap();
    assert_eq!(cluster.data_dir, dir.join("data"));
    assert_eq!(
        std::fs::read_to_string(dir.join("data/PG_VERSION"))
            .unwrap()
            .trim(),
        cluster.version
    );
    assert!(
        cache
            .path()
            .join(format!("pg{}-template", cluster.version))
            .join("PG_VERSION")
            .is_file(),
        "the template cache was not filled"
    );
    assert_eq!(
        cluster.url,
        format!(
            "postgres://postgres@localhost:5432/app?host={}&sslmode=disable",
            dir.display()
        )
    );
    let pid_file = std::fs::read_to_string(dir.join("data/postmaster.pid")).unwrap();
    assert_eq!(
        pid_file.lines().next(),
        Some(cluster.pid.to_string().as_str())
    );
    assert!(dir.join("postgres.log").is_file());

    assert_eq!(
        query_string(&cluster.url, "SELECT current_database()::text").await,
        "app"
    );
    // Durable, unlike the throw-away clusters; still no TCP.
    for (setting, expected) in [
        ("SHOW fsync", "on"),
        ("SHOW full_page_writes", "on"),
        ("SHOW synchronous_commit", "off"),
        ("SHOW listen_addresses", ""),
    ] {
        assert_eq!(
            query_string(&cluster.url, setting).await,
            expected,
            "{setting}"
        );
    }

    // Private files; as root, the server's user owns the data and the directory.
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&cluster.data_dir), 0o700);
    let status = std::fs::read_to_string(format!("/proc/{}/status", cluster.pid)).unwrap();
    let server_uid: u32 = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|uids| uids.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        std::fs::metadata(&cluster.data_dir).unwrap().uid(),
        server_uid
    );
    assert_eq!(std::fs::metadata(&dir).unwrap().uid(), server_uid);
    if is_root() {
        assert_ne!(server_uid, 0);
        let groups = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
        assert_eq!(groups.trim_end(), "Groups:", "supplementary groups left");
    }

    // Detached: its own session, and no descriptor of ours for its standard streams.
    let fields = stat_fields(cluster.pid).unwrap();
    assert_eq!(fields[3], cluster.pid.to_string(), "not a session leader");
    let fd = |n: u32| std::fs::read_link(format!("/proc/{}/fd/{n}", cluster.pid)).unwrap();
    assert_eq!(fd(0), Path::new("/dev/null"));
    assert_eq!(fd(1), dir.join("postgres.log"));
    assert_eq!(fd(2), dir.join("postgres.log"));

    // Started again: the running one.
    let begun = Instant::now();
    let (again, started) = local::start_dev(&dir, with_cache.clone()).await.unwrap();
    let restart = begun.elapsed();
    assert!(!started);
    assert_eq!(again, cluster);
    let status_begun = Instant::now();
    assert_eq!(
        local::dev_status(&dir).await.unwrap(),
        Some(cluster.clone())
    );
    let status_time = status_begun.elapsed();

    // Another database: created in the same server; the URL names the latest.
    let (other, started) = local::start_dev(&dir, options("other db")).await.unwrap();
    assert!(!started);
    assert_eq!(other.pid, cluster.pid);
    assert!(other.url.contains("/other%20db?"), "{}", other.url);
    assert_eq!(
        query_string(&other.url, "SELECT current_database()::text").await,
        "other db"
    );
    assert_eq!(local::dev_status(&dir).await.unwrap(), Some(other.clone()));

    let begun = Instant::now();
    assert!(local::stop_dev(&dir).unwrap());
    let stop = begun.elapsed();
    assert!(!dir.exists());
    assert_no_server(&cluster.data_dir, cluster.pid);
    assert!(!local::stop_dev(&dir).unwrap());
    assert_eq!(local::dev_status(&dir).await.unwrap(), None);

    // A new start after a stop begins afresh, from the template.
    let begun = Instant::now();
    let (fresh, started) = local::start_dev(&dir, with_cache).await.unwrap();
    let from_template = begun.elapsed();
    assert!(started);
    assert_ne!(fresh.pid, cluster.pid);
    assert!(local::stop_dev(&dir).unwrap());
    assert_no_server(&fresh.data_dir, fresh.pid);

    eprintln!(
        "dev cluster timings: first start (initdb) {first_start:?}, start from template {from_template:?}, start when running {restart:?}, status {status_time:?}, stop {stop:?}"
    );
}

/// Not a test on its own: run by `the_cluster_outlives_the_process_that_started_it` in a
/// child process, where it starts a dev cluster and exits without a word to it.
#[tokio::test]
async fn start_dev_and_exit() {
    let Some(dir) = std::env::var_os("CARGO_MIGRATE_DEV_START_DIR") else {
        return;
    };
    let (cluster, started) = local::start_dev(Path::new(&dir), options("kept"))
        .await
        .unwrap();
    assert!(started);
    println!("PID={}", cluster.pid);
    println!("URL={}", cluster.url);
    std::process::exit(0);
}

#[test]
fn the_cluster_outlives_the_process_that_started_it() {
    if !support::have_local_postgres() {
        return;
    }
    let parent = dev_parent();
    let dir = parent.path().join("dev");
    let _guard = DevGuard(dir.clone());

    // `output()` reads the child's pipes to their end: a server that kept them would hang it.
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "sandbox_local_dev::start_dev_and_exit",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CARGO_MIGRATE_DEV_START_DIR", &dir);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(command.output()));
    let output = receiver
        .recv_timeout(Duration::from_secs(120))
        .expect("the child's output did not end: the server holds its pipes")
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
    let pid: u32 = value("PID=").parse().unwrap();
    let url = value("URL=");
    assert!(
        alive(pid),
        "the server died with the process that started it"
    );

    // A later process (here: a new runtime, nothing shared) finds it and uses it.
    let found = runtime().block_on(async {
        let found = local::dev_status(&dir).await.unwrap().expect("not running");
        assert_eq!((found.pid, found.url.as_str()), (pid, url.as_str()));
        execute(
            &found.url,
            "CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)",
        )
        .await;
        found
    });
    // And another one sees the data.
    runtime().block_on(async {
        let again = local::dev_status(&dir).await.unwrap().expect("not running");
        assert_eq!(again, found);
        let value = query_string(&again.url, "SELECT id::text FROM kept").await;
        assert_eq!(value, "42");
    });

    assert!(local::stop_dev(&dir).unwrap());
    assert!(!dir.exists());
    assert_no_server(&found.data_dir, pid);
}

#[tokio::test]
async fn a_stale_postmaster_pid_means_not_running() {
    if !support::have_local_postgres() {
        return;
    }
    let parent = dev_parent();
    let dir = parent.path().join("dev");
    let _guard = DevGuard(dir.clone());
    let (cluster, _) = local::start_dev(&dir, options("app")).await.unwrap();
    execute(
        &cluster.url,
        "SET synchronous_commit = on; CREATE TABLE survivor (id int); INSERT INTO survivor VALUES (7)",
    )
    .await;

    // The server dies without a shutdown: postmaster.pid stays, naming a dead process.
    crash(&cluster);
    let pid_file = cluster.data_dir.join("postmaster.pid");
    assert!(pid_file.is_file());
    assert_eq!(local::dev_status(&dir).await.unwrap(), None);
    let (restarted, started) = local::start_dev(&dir, options("app")).await.unwrap();
    assert!(started);
    assert_ne!(restarted.pid, cluster.pid);
    assert_eq!(restarted.url, cluster.url);
    // Crash recovery kept the committed data.
    assert_eq!(
        query_string(&restarted.url, "SELECT id::text FROM survivor").await,
        "7"
    );

    // Its pid taken by another program: the server would refuse to start over that file.
    crash(&restarted);
    let mut other = Command::new("sleep").arg("60").spawn().unwrap();
    let socket_lock = dir.join(".s.PGSQL.5432.lock");
    for lock in [&pid_file, &socket_lock] {
        let text = std::fs::read_to_string(lock).unwrap();
        let rest = text.split_once('\n').map_or("", |(_, rest)| rest);
        std::fs::write(lock, format!("{}\n{rest}", other.id())).unwrap();
    }
    assert_eq!(local::dev_status(&dir).await.unwrap(), None);
    let started_again = local::start_dev(&dir, options("app")).await;
    let _ = other.kill();
    let _ = other.wait();
    let (third, started) = started_again.unwrap();
    assert!(started);
    assert_ne!(third.pid, other.id());
    assert_eq!(
        query_string(&third.url, "SELECT id::text FROM survivor").await,
        "7"
    );
    assert!(local::stop_dev(&dir).unwrap());
    assert_no_server(&third.data_dir, third.pid);
}

#[tokio::test]
async fn a_long_directory_puts_the_socket_under_tmp() {
    if !support::have_local_postgres() {
        return;
    }
    let parent = dev_parent();
    let dir = parent
        .path()
        .join("a-directory-name-long-enough-to-matter-".repeat(2))
        .join("and-another-one-to-push-the-socket-path-past-107-bytes");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::set_permissions(
        dir.parent().unwrap(),
        std::fs::Permissions::from_mode(0o711),
    )
    .unwrap();
    assert!(dir.join(".s.PGSQL.5432").as_os_str().len() > 107);
    let _guard = DevGuard(dir.clone());

    let (cluster, started) = local::start_dev(&dir, options("app")).await.unwrap();
    assert!(started);
    let dir = dir.canonicalize().unwrap();
    assert_eq!(cluster.data_dir, dir.join("data"));
    let socket_dir = PathBuf::from(std::fs::read_to_string(dir.join("socket")).unwrap());
    assert!(
        socket_dir.starts_with("/tmp") && socket_dir.join(".s.PGSQL.5432").exists(),
        "{socket_dir:?}"
    );
    assert!(
        socket_dir.join(".s.PGSQL.5432").as_os_str().len() <= 107,
        "{socket_dir:?}"
    );
    assert_eq!(mode(&socket_dir), 0o700);
    let parsed: sqlx::postgres::PgConnectOptions = cluster.url.parse().unwrap();
    assert_eq!(parsed.get_socket(), Some(&socket_dir));
    assert_eq!(
        query_string(&cluster.url, "SELECT current_database()::text").await,
        "app"
    );

    let (again, started) = local::start_dev(&dir, options("app")).await.unwrap();
    assert!(!started);
    assert_eq!(again, cluster);
    assert_eq!(
        local::dev_status(&dir).await.unwrap(),
        Some(cluster.clone())
    );

    // A restart keeps the socket's directory.
    crash(&cluster);
    let (restarted, started) = local::start_dev(&dir, options("app")).await.unwrap();
    assert!(started);
    assert_eq!(restarted.url, cluster.url);

    assert!(local::stop_dev(&dir).unwrap());
    assert!(!dir.exists());
    assert!(!socket_dir.exists(), "the socket's directory was left");
    assert_no_server(&cluster.data_dir, restarted.pid);
}

#[test]
fn concurrent_starts_make_one_server() {
    if !support::have_local_postgres() {
        return;
    }
    let parent = dev_parent();
    let dir = parent.path().join("dev");
    let _guard = DevGuard(dir.clone());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (dir, barrier) = (dir.clone(), barrier.clone());
            std::thread::spawn(move || {
                let runtime = runtime();
                barrier.wait();
                runtime.block_on(local::start_dev(&dir, options("app")))
            })
        })
        .collect();
    let results: Vec<(DevCluster, bool)> = threads
        .into_iter()
        .map(|thread| thread.join().unwrap().unwrap())
        .collect();
    let (first, second) = (&results[0], &results[1]);
    assert_eq!(first.0, second.0, "two different clusters");
    assert_eq!(
        [first.1, second.1]
            .iter()
            .filter(|started| **started)
            .count(),
        1,
        "exactly one call starts the server: {results:?}"
    );
    assert_eq!(postmasters(&first.0.data_dir), vec![first.0.pid]);
    runtime().block_on(async {
        assert_eq!(
            query_string(&first.0.url, "SELECT current_database()::text").await,
            "app"
        );
    });

    // A stop racing a start: either order is fine, but nothing is left half-done.
    let racers: Vec<_> = (0..2)
        .map(|n| {
            let (dir, barrier) = (dir.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                if n == 0 {
                    local::stop_dev(&dir).map(|_| None)
                } else {
                    runtime()
                        .block_on(local::start_dev(&dir, options("app")))
                        .map(|(cluster, _)| Some(cluster))
                }
            })
        })
        .collect();
    let outcomes: Vec<_> = racers
        .into_iter()
        .map(|racer| racer.join().unwrap().unwrap())
        .collect();
    let status = runtime().block_on(local::dev_status(&dir)).unwrap();
    match (&outcomes[1], status) {
        // Started after the stop (a new server), or found the old one before it.
        (Some(cluster), Some(running)) => assert_eq!(&running, cluster),
        (Some(cluster), None) => assert_no_server(&cluster.data_dir, cluster.pid),
        (None, _) => unreachable!(),
    }
    local::stop_dev(&dir).unwrap();
    assert!(!dir.exists());
    assert_no_server(&first.0.data_dir, first.0.pid);
}

#[tokio::test]
async fn an_unreachable_directory_moves_the_data_as_root() {
    if !support::have_local_postgres() {
        return;
    }
    if !is_root() {
        eprintln!("skipping an_unreachable_directory_moves_the_data_as_root: only as root");
        return;
    }
    // Like /root/.cache/…: root's, 0700, so the server's user cannot get through.
    let parent = tempfile::tempdir().unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = parent.path().join("dev");
    let _guard = DevGuard(dir.clone());

    let (cluster, started) = local::start_dev(&dir, options("app")).await.unwrap();
    assert!(started);
    let dir = dir.canonicalize().unwrap();
    let home = PathBuf::from(std::fs::read_to_string(dir.join("home")).unwrap());
    assert!(
        home.starts_with("/var/tmp") || home.starts_with("/tmp"),
        "{home:?}"
    );
    assert_eq!(cluster.data_dir, home.join("data"));
    assert!(cluster.url.contains(&format!("host={}&", home.display())));
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&cluster.data_dir), 0o700);
    let server_uid = std::fs::metadata(&cluster.data_dir).unwrap().uid();
    assert_ne!(server_uid, 0);
    assert_eq!(std::fs::metadata(&home).unwrap().uid(), server_uid);
    // The directory itself stays root's.
    assert_eq!(std::fs::metadata(&dir).unwrap().uid(), 0);
    assert_eq!(
        query_string(&cluster.url, "SELECT current_database()::text").await,
        "app"
    );
    let (again, started) = local::start_dev(&dir, options("app")).await.unwrap();
    assert!(!started);
    assert_eq!(again, cluster);

    assert!(local::stop_dev(&dir).unwrap());
    assert!(!dir.exists());
    assert!(!home.exists(), "the moved data was left");
    assert_no_server(&cluster.data_dir, cluster.pid);
}

#[tokio::test]
async fn missing_binaries_and_missing_clusters() {
    let parent = dev_parent();
    let dir = parent.path().join("dev");
    let _guard = DevGuard(dir.clone());
    let empty = tempfile::tempdir().unwrap();
    let error = local::start_dev(
        &dir,
        LocalOptions {
            binaries: Some(empty.path().to_path_buf()),
            ..LocalOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, ErrorCode::NoPostgresBinaries);
    assert_eq!(error.exit_code(), 3);
    assert_eq!(local::dev_status(&dir).await.unwrap(), None);
    assert!(!local::stop_dev(&dir).unwrap());
    assert!(!dir.exists());

    let never = parent.path().join("never");
    assert_eq!(local::dev_status(&never).await.unwrap(), None);
    assert!(!local::stop_dev(&never).unwrap());
}

#[test]
fn stop_leaves_files_it_did_not_make() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("not-a-dev-dir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    std::fs::write(dir.join("postgres.log"), "").unwrap();
    let error = local::stop_dev(&dir).unwrap_err();
    assert_eq!(error.code, ErrorCode::SandboxFailed);
    assert!(error.message.contains("notes.txt"), "{error:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(!dir.join("postgres.log").exists());
}

#[tokio::test]
async fn startup_failures_carry_the_output() {
    if !support::have_local_postgres() {
        return;
    }
    let real = local::find_binaries(None).unwrap();
    for failing in ["initdb", "postgres"] {
        let parent = dev_parent();
        let dir = parent.path().join("dev");
        let _guard = DevGuard(dir.clone());
        let fake = support::fake_binaries(&real, failing);
        let error = local::start_dev(
            &dir,
            LocalOptions {
                binaries: Some(fake.path().to_path_buf()),
                ..LocalOptions::default()
            },
        )
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
            _ => "dev database server exited at start-up",
        };
        assert!(error.message.contains(expected), "{error:?}");
        // No half-made data directory; a data directory that was made stays (it is data).
        let dir = dir.canonicalize().unwrap();
        assert!(!dir.join("data.init").exists());
        assert_eq!(dir.join("data").exists(), failing == "postgres");
        assert_eq!(local::dev_status(&dir).await.unwrap(), None);
        assert!(postmasters(&dir.join("data")).is_empty());
        assert!(!local::stop_dev(&dir).unwrap());
    }
}
