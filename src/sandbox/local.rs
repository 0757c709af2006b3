//! The `local` sandbox: PostgreSQL clusters run from the machine's own server binaries
//! (`initdb` and `postgres`): throw-away ones for the test suite and `--sandbox local`
//! ([`LocalPostgres`]), and the persistent per-workspace dev database ([`start_dev`]).
//!
//! A throw-away cluster lives in one temporary directory (under `/dev/shm` when it has room,
//! else the system temp directory) that holds the data directory (`data/`), the server log
//! (`postgres.log`) and the Unix socket: the server listens on no TCP address unless
//! [`LocalOptions::listen`] names one (tests of TLS, which PostgreSQL offers over TCP only). It runs
//! with durability switched off (`fsync`, `synchronous_commit`, `full_page_writes`), since
//! the data is thrown away. [`LocalPostgres::stop`] (or dropping the value) shuts the server
//! down and deletes the directory.
//!
//! PostgreSQL refuses to run as root, so when this process is root the server runs as the
//! `postgres` user (or `nobody`), without root's supplementary groups.
//!
//! A small watchdog (`sh`) is started next to each throw-away server: it waits for
//! end-of-file on a pipe only this process holds, so if the process ends without dropping the
//! cluster (killed, `std::process::exit`, a cluster kept in a `static`), the watchdog stops
//! the server and deletes the directory instead.
//!
//! A dev cluster ([`start_dev`], [`dev_status`], [`stop_dev`]) lives in a directory the caller
//! names and outlives the process that started it: the server is detached (its own session,
//! no descriptor of ours) and has no watchdog, so later processes find it through
//! `data/postmaster.pid`. It keeps `fsync` and `full_page_writes` on (only
//! `synchronous_commit` is off: a crash may lose the last commits, never the cluster). The
//! directory holds:
//!
//! - `data/`: the data directory; `data.init/` while it is being created;
//! - `postgres.log`: the log of the current server;
//! - the Unix socket, or a `socket` file naming a short directory under `/tmp` that holds it
//!   when the directory's own path is too long for a socket;
//! - `database`: the database the URL names (the last one [`start_dev`] was asked for);
//! - `lock`: locked (`flock`) while a process starts or stops the cluster;
//! - as root, when the server's user cannot reach the directory (say it is under `/root`):
//!   a `home` file naming the directory under `/var/tmp` that holds `data/` and the socket.

use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::Connection;

use crate::error::{Error, ErrorClass, ErrorCode, io_reason};

/// The port number in the socket's name (`.s.PGSQL.5432`); no TCP port is opened.
const PORT: u16 = 5432;
/// The superuser `initdb` creates; every URL connects as it.
const SUPERUSER: &str = "postgres";
/// How long the server may take to accept its first connection.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one connection attempt may take while waiting for the server.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fast shutdown (SIGINT) may take before an immediate one (SIGQUIT).
const FAST_SHUTDOWN_WAIT: Duration = Duration::from_secs(10);
/// How long an immediate shutdown may take before SIGKILL.
const IMMEDIATE_SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
/// `/dev/shm` is used only with at least this much free space: Docker gives containers a
/// 64 MiB `/dev/shm`, and one cluster alone takes about 40 MiB.
const SHM_MIN_FREE: u128 = 512 * 1024 * 1024;
/// The longest Unix socket path (`sun_path` is 108 bytes with the terminating NUL).
const MAX_SOCKET_PATH: usize = 107;
/// How many lines of `initdb` output or server log an error shows.
const TAIL_LINES: usize = 20;
/// How long a dev cluster's lock is waited for: another process may be creating the cluster
/// (initdb) and waiting for its server ([`READY_TIMEOUT`]), or stopping it.
const DEV_LOCK_TIMEOUT: Duration = Duration::from_secs(120);
/// Where a dev cluster's socket goes when the directory's own path is too long.
const SHORT_SOCKET_BASE: &str = "/tmp";
/// Where a dev cluster's data goes when the server's user cannot reach the directory
/// (kept across reboots, unlike `/tmp`); `/tmp` when it does not exist.
const RELOCATED_HOME_BASE: &str = "/var/tmp";
/// The name prefix of the directories made under [`SHORT_SOCKET_BASE`] and
/// [`RELOCATED_HOME_BASE`], followed by a hash of the dev directory's path.
const RELOCATED_PREFIX: &str = "cm-dev-";
/// What a dev directory may hold; [`stop_dev`] deletes these and nothing else.
const DEV_ENTRIES: &[&str] = &[
    "data",
    "data.init",
    "postgres.log",
    "lock",
    "database",
    "database.tmp",
    "socket",
    "socket.tmp",
    "home",
    "home.tmp",
    ".s.PGSQL.5432",
    ".s.PGSQL.5432.lock",
];

/// Options for [`LocalPostgres::start`] and [`start_dev`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOptions {
    /// The directory holding `initdb` and `postgres`; `None` searches (see [`find_binaries`]).
    pub binaries: Option<PathBuf>,
    /// The database [`LocalPostgres::url`] names; created at start unless it is `postgres`.
    pub database: String,
    /// Where to keep an initialised template data directory (`<dir>/pg<major>-template`), so
    /// later starts copy it instead of running `initdb`. `None`: no cache.
    pub template_cache: Option<PathBuf>,
    /// Also listen on TCP at this address (port 5432), besides the Unix socket: for what only
    /// TCP has, such as TLS (PostgreSQL never offers TLS on a Unix socket). Tests pass a
    /// loopback address of their own (127.x.y.z) so parallel clusters do not collide.
    pub listen: Option<std::net::IpAddr>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            binaries: None,
            database: SUPERUSER.to_string(),
            template_cache: None,
            listen: None,
        }
    }
}

/// How long the parts of [`LocalPostgres::start`] took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartupTimings {
    /// Creating the data directory: running `initdb`, or copying the cached template (see
    /// [`LocalPostgres::initialised_from_template`]).
    pub init: Duration,
    /// From spawning `postgres` to the first successful `SELECT 1`.
    pub ready: Duration,
    /// The whole of `start`, binary discovery and database creation included.
    pub total: Duration,
}

/// A running throw-away PostgreSQL cluster; stopped and deleted by [`stop`](Self::stop) or
/// when dropped.
#[derive(Debug)]
pub struct LocalPostgres {
    /// The temporary directory: socket directory, parent of the data directory and the log.
    root: PathBuf,
    data_dir: PathBuf,
    database: String,
    version: String,
    binaries: PathBuf,
    server: Option<Child>,
    /// When `server` was spawned.
    spawned_at: Option<Instant>,
    watchdog: Option<Child>,
    from_template: bool,
    timings: StartupTimings,
    /// [`LocalOptions::listen`], kept for [`restart`](Self::restart).
    listen: Option<std::net::IpAddr>,
    /// Set once the directory is gone, so `stop` is idempotent.
    removed: bool,
}

/// The unprivileged account the server runs as when this process is root.
#[derive(Debug, Clone)]
struct RunAs {
    name: &'static str,
    uid: u32,
    gid: u32,
}

/// The server binaries, their major version, and the account they run as: what every start
/// needs.
#[derive(Debug, Clone)]
struct Installation {
    binaries: PathBuf,
    version: String,
    run_as: Option<RunAs>,
}

/// Which kind of cluster a server is started for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// [`LocalPostgres`]: durability off, stopped with this process (watchdog).
    Throwaway,
    /// [`start_dev`]: durable, detached from this process.
    Dev,
}

impl Kind {
    /// How messages name the cluster.
    fn name(self) -> &'static str {
        match self {
            Kind::Throwaway => "PostgreSQL sandbox",
            Kind::Dev => "dev database",
        }
    }

    /// Where the cluster's files are, for hints.
    fn place(self) -> &'static str {
        match self {
            Kind::Throwaway => "the temp directory",
            Kind::Dev => "the dev database's directory",
        }
    }
}

impl LocalPostgres {
    /// Finds the binaries, creates a cluster in a temporary directory (from the template cache
    /// when there is one), starts `postgres` on a Unix socket only, and returns once a
    /// connection runs `SELECT 1`.
    ///
    /// Needs a Tokio runtime with the time driver enabled.
    pub async fn start(options: LocalOptions) -> Result<LocalPostgres, Error> {
        let begun = Instant::now();
        let database = options.database.clone();
        // initdb and the copies block for a while: keep them off the async worker.
        let mut cluster = blocking(Kind::Throwaway, move || prepare(options)).await?;
        // On any error below, dropping `cluster` stops the server and deletes the directory.
        cluster.wait_ready().await?;
        if database != SUPERUSER {
            cluster.create_database(&database).await?;
        }
        cluster.timings.total = begun.elapsed();
        Ok(cluster)
    }

    /// A sqlx URL for the cluster's database ([`LocalOptions::database`]), e.g.
    /// `postgres://postgres@localhost:5432/postgres?host=/dev/shm/cm-AbC123&sslmode=disable`.
    pub fn url(&self) -> String {
        self.url_for(&self.database)
    }

    /// A sqlx URL for another database of the cluster.
    pub fn url_for(&self, database: &str) -> String {
        socket_url(&self.root, database)
    }

    /// Creates a fresh, empty database and returns its URL.
    pub async fn create_database(&self, name: &str) -> Result<String, Error> {
        check_database_name(name)?;
        create_database_at(Kind::Throwaway, &self.root, &self.root, name, false).await?;
        Ok(self.url_for(name))
    }

    /// The server's major version, e.g. `15` (or `9.6` before PostgreSQL 10).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directory holding the server's Unix socket (and the data directory and the log);
    /// the whole of it is deleted by [`stop`](Self::stop).
    pub fn socket_dir(&self) -> &Path {
        &self.root
    }

    /// The directory the server binaries were run from.
    pub fn binaries(&self) -> &Path {
        &self.binaries
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    /// Whether the data directory was copied from the template cache (`false`: `initdb` ran).
    pub fn initialised_from_template(&self) -> bool {
        self.from_template
    }

    /// How long the start took, by part.
    pub fn timings(&self) -> StartupTimings {
        self.timings
    }

    /// Stops the server (fast shutdown, then immediate, then SIGKILL) and deletes the
    /// directory. Calling it again does nothing.
    pub fn stop(&mut self) -> Result<(), Error> {
        // The watchdog goes first: it must never act on a pid that is no longer the server's.
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if let Some(mut server) = self.server.take() {
            shut_down(&mut server);
        }
        if self.removed {
            return Ok(());
        }
        remove_tree(&self.root).map_err(|err| {
            sandbox_error(format!(
                "cannot delete the PostgreSQL sandbox directory: {}",
                io_reason(&err)
            ))
            .at_path(&self.root)
            .hint("delete the directory by hand")
        })?;
        self.removed = true;
        Ok(())
    }

    /// Stops the server but keeps its data directory, as `pg_ctl stop -m fast` (`fast`:
    /// SIGINT, sessions are ended with 57P01 and a checkpoint is written) or `-m immediate`
    /// (SIGQUIT, no checkpoint: the next start recovers from the WAL). For fault-injection
    /// tests; [`restart`](Self::restart) starts it again on the same data.
    pub fn halt(&mut self, fast: bool) -> Result<(), Error> {
        // The watchdog watches the old server's pid, which must not be acted on once it is gone.
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let Some(mut server) = self.server.take() else {
            return Ok(());
        };
        send_signal(server.id(), if fast { libc::SIGINT } else { libc::SIGQUIT });
        let exited = wait_until(
            &mut || !matches!(server.try_wait(), Ok(None)),
            FAST_SHUTDOWN_WAIT,
        );
        if !exited {
            // Not in time: stop it the hard way, so the caller never waits for ever.
            shut_down(&mut server);
        }
        let _ = server.wait();
        Ok(())
    }

    /// Starts the server again on its data directory after [`halt`](Self::halt), and returns
    /// once it accepts connections.
    pub async fn restart(&mut self) -> Result<(), Error> {
        if self.server.is_some() {
            return Ok(());
        }
        let binaries = self.binaries.clone();
        let install = blocking(Kind::Throwaway, move || {
            Installation::locate(Some(&binaries))
        })
        .await?;
        let server = install.spawn(
            Kind::Throwaway,
            &self.data_dir,
            &self.root,
            &self.root.join("postgres.log"),
            &self.root,
            self.listen,
        )?;
        self.server = Some(server);
        self.spawned_at = Some(Instant::now());
        self.watchdog = spawn_watchdog(self);
        self.wait_ready().await
    }

    /// Polls until `SELECT 1` succeeds, the server exits, or [`READY_TIMEOUT`] passes.
    async fn wait_ready(&mut self) -> Result<(), Error> {
        let spawned = self.spawned_at.unwrap_or_else(Instant::now);
        let server = &mut self.server;
        let ready = wait_ready(
            Kind::Throwaway,
            &self.root,
            &self.root.join("postgres.log"),
            &self.binaries.join("postgres"),
            spawned,
            || {
                let status = server.as_mut()?.try_wait().ok()??;
                *server = None;
                Some(status.to_string())
            },
        )
        .await?;
        self.timings.ready = ready;
        Ok(())
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A persistent cluster's address and process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCluster {
    /// A sqlx URL for the database [`start_dev`] was (last) asked for, on the Unix socket.
    pub url: String,
    /// The postmaster's process id.
    pub pid: u32,
    /// The data directory: `<dir>/data`, unless relocated (see the module documentation).
    pub data_dir: PathBuf,
    /// The major version of the data directory, e.g. `15`.
    pub version: String,
}

/// Starts the dev cluster kept in `dir` (created if needed: data in `dir/data`, socket in
/// `dir`, log in `dir/postgres.log`, pid from `dir/data/postmaster.pid`), or returns the
/// running one. `bool`: whether it was started now.
///
/// Two exceptions to that layout, recorded in `dir`: a socket path too long for a Unix
/// socket puts the socket in a short directory under `/tmp`; as root, a `dir` the server's
/// user cannot reach (say under a 0700 `/root`) puts the data and the socket under
/// `/var/tmp`. [`DevCluster::data_dir`] and the URL always say where they are.
///
/// Uses `options.template_cache` like [`LocalPostgres::start`]. The server is not watched
/// and keeps running when this process exits: it is detached (its own session, standard
/// streams not inherited). Creates `options.database` if missing; the URL names it. Two
/// processes starting the same directory at once end with one server (a lock in `dir`).
///
/// Needs a Tokio runtime with the time driver enabled.
pub async fn start_dev(dir: &Path, options: LocalOptions) -> Result<(DevCluster, bool), Error> {
    check_database_name(&options.database)?;
    let given = dir.to_path_buf();
    let (layout, lock) =
        blocking(Kind::Dev, move || open_dev_dir(&given, run_as()?.as_ref())).await?;
    // Whatever happens, the lock is released when `lock` is dropped, at return.
    let result = start_dev_locked(layout, options).await;
    drop(lock);
    result
}

/// The running dev cluster in `dir`, if its postmaster is alive and accepts `SELECT 1`; a
/// stale `postmaster.pid` (dead pid) means not running.
pub async fn dev_status(dir: &Path) -> Result<Option<DevCluster>, Error> {
    let dir = match fs::canonicalize(dir) {
        Ok(dir) => dir,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(dev_io_error(
                "cannot read the dev database's directory",
                dir,
                &err,
            ));
        }
    };
    let layout = DevLayout::read(dir);
    let Some(pid) = dev_postmaster(&layout, false)? else {
        return Ok(None);
    };
    let url = socket_url(&layout.socket_dir, SUPERUSER);
    match tokio::time::timeout(PROBE_TIMEOUT, probe(&url)).await {
        Ok(Ok(())) => Ok(Some(layout.cluster(pid))),
        _ => Ok(None),
    }
}

/// Stops the dev cluster in `dir` (fast shutdown, then immediate, then SIGKILL, as
/// [`LocalPostgres::stop`] does) and deletes `dir`. `Ok(false)` when there was nothing to
/// stop (the directory is still removed if present).
///
/// Only what a dev cluster puts in `dir` is deleted: anything else there is left, with an
/// error, so a wrong `dir` cannot cost other files.
pub fn stop_dev(dir: &Path) -> Result<bool, Error> {
    let dir = match fs::canonicalize(dir) {
        Ok(dir) => dir,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => {
            return Err(dev_io_error(
                "cannot read the dev database's directory",
                dir,
                &err,
            ));
        }
    };
    let deadline = Instant::now() + DEV_LOCK_TIMEOUT;
    let Some(lock) = lock_file(&dir.join("lock"), deadline)? else {
        // Deleted meanwhile by another `stop_dev`.
        return Ok(false);
    };
    let layout = DevLayout::read(dir);
    let stopped = match dev_postmaster(&layout, false)? {
        Some(pid) => {
            stop_process(pid, || {
                if pid_state(pid) == PidState::Running {
                    return false;
                }
                reap(pid);
                true
            });
            true
        }
        None => false,
    };
    let removed = remove_dev_dir(&layout);
    drop(lock);
    removed.map(|()| stopped)
}

/// Where a dev cluster's parts are, as its directory's records say.
#[derive(Debug, Clone)]
struct DevLayout {
    /// The dev directory (canonical): log, lock and records.
    dir: PathBuf,
    /// The directory holding `data/`: `dir`, or the one the `home` record names.
    home: PathBuf,
    /// The directory holding the socket: `home`, or the one the `socket` record names.
    socket_dir: PathBuf,
}

impl DevLayout {
    fn read(dir: PathBuf) -> DevLayout {
        let home = read_record(&dir, "home").unwrap_or_else(|| dir.clone());
        let socket_dir = read_record(&dir, "socket").unwrap_or_else(|| home.clone());
        DevLayout {
            dir,
            home,
            socket_dir,
        }
    }

    fn data(&self) -> PathBuf {
        self.home.join("data")
    }

    /// Where a new data directory is made, to be renamed to `data` once complete.
    fn staging(&self) -> PathBuf {
        self.home.join("data.init")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// The database the URL names.
    fn database(&self) -> String {
        fs::read(self.dir.join("database"))
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| SUPERUSER.to_string())
    }

    fn cluster(&self, pid: u32) -> DevCluster {
        let data_dir = self.data();
        DevCluster {
            url: socket_url(&self.socket_dir, &self.database()),
            pid,
            version: read_version(&data_dir),
            data_dir,
        }
    }
}

/// A held `flock` on a dev directory's lock file; released when dropped.
#[derive(Debug)]
struct DevLock {
    _file: fs::File,
}

/// The rest of [`start_dev`], with the directory locked.
async fn start_dev_locked(
    layout: DevLayout,
    options: LocalOptions,
) -> Result<(DevCluster, bool), Error> {
    let database = options.database.clone();
    if let Some(pid) = dev_postmaster(&layout, true)? {
        // It runs: it may still be starting up (its starter died) or shutting down.
        let outcome = wait_ready(
            Kind::Dev,
            &layout.socket_dir,
            &layout.log(),
            &layout.data(),
            Instant::now(),
            || (pid_state(pid) != PidState::Running).then(|| "it is gone".to_string()),
        )
        .await;
        match outcome {
            Ok(_) => {
                finish_dev(&layout, &database).await?;
                return Ok((layout.cluster(pid), false));
            }
            Err(error) if pid_state(pid) == PidState::Running => {
                return Err(error.hint(
                    "a server runs on the dev database but does not answer; stop it (`cargo migrate db stop`) and start again",
                ));
            }
            // It was shutting down: start a new one.
            Err(_) => {
                reap(pid);
            }
        }
    }

    let (layout, mut server, spawned, binaries) =
        blocking(Kind::Dev, move || spawn_dev(layout, &options)).await?;
    let ready = wait_ready(
        Kind::Dev,
        &layout.socket_dir,
        &layout.log(),
        &binaries.join("postgres"),
        spawned,
        || {
            server
                .try_wait()
                .ok()
                .flatten()
                .map(|status| status.to_string())
        },
    )
    .await;
    let finished = match ready {
        Ok(_) => finish_dev(&layout, &database).await,
        Err(error) => Err(error),
    };
    if let Err(error) = finished {
        // No server is left running behind an error; the data stays.
        let _ = tokio::task::spawn_blocking(move || shut_down(&mut server)).await;
        return Err(error);
    }
    let pid = server.id();
    // The server is not stopped with this process; while this process lives, a thread waits
    // for the server so that once it stops it does not linger as a zombie, which would keep
    // its pid taken and make a new server refuse to start over its lock files.
    let _ = std::thread::Builder::new()
        .name("cargo-migrate-dev-server".to_string())
        .spawn(move || server.wait());
    Ok((layout.cluster(pid), true))
}

/// Creates the database (unless it exists) and records it as the one the URL names.
async fn finish_dev(layout: &DevLayout, database: &str) -> Result<(), Error> {
    if database != SUPERUSER {
        create_database_at(Kind::Dev, &layout.socket_dir, &layout.dir, database, true).await?;
    }
    if layout.database() != database {
        write_record(&layout.dir, "database", Some(database.as_bytes()))?;
    }
    Ok(())
}

/// Everything up to a spawned dev server: binaries, where its files go, the data directory
/// (kept, or created), the detached server. Blocking; run off the async workers.
fn spawn_dev(
    layout: DevLayout,
    options: &LocalOptions,
) -> Result<(DevLayout, Child, Instant, PathBuf), Error> {
    let install = Installation::locate(options.binaries.as_deref())?;
    let layout = place_dev(layout, install.run_as.as_ref())?;
    let data = layout.data();
    if data.exists() {
        let found = read_version(&data);
        if found != install.version {
            return Err(sandbox_error(if found.is_empty() {
                "the dev database's data directory is damaged (it has no PG_VERSION)".to_string()
            } else {
                format!(
                    "the dev database was created by PostgreSQL {found}, but the server binaries are PostgreSQL {}",
                    install.version
                )
            })
            .at_path(&data)
            .hint(format!(
                "delete the dev database (`cargo migrate db stop`; its data is lost) or use PostgreSQL {found}'s binaries"
            )));
        }
    } else {
        // Made aside and renamed into place: `data` is never a half-made directory.
        let staging = layout.staging();
        remove_tree(&staging).map_err(|err| {
            dev_io_error("cannot delete an unfinished data directory", &staging, &err)
        })?;
        if let Err(error) = install.init_data_dir(
            Kind::Dev,
            &staging,
            &layout.home,
            options.template_cache.as_deref(),
        ) {
            let _ = remove_tree(&staging);
            return Err(error);
        }
        fs::rename(&staging, &data).map_err(|err| {
            dev_io_error("cannot move the new data directory into place", &data, &err)
        })?;
    }
    remove_stale_socket_lock(&layout.socket_dir, &data);
    let server = install.spawn(
        Kind::Dev,
        &data,
        &layout.socket_dir,
        &layout.log(),
        &layout.home,
        None,
    )?;
    Ok((layout, server, Instant::now(), install.binaries))
}

/// Creates the dev directory if needed, keeps it private (0700; as root, owned by the
/// server's user when it can reach it), and locks it. Retries when a [`stop_dev`] deletes
/// the directory while this waits for the lock.
fn open_dev_dir(given: &Path, run_as: Option<&RunAs>) -> Result<(DevLayout, DevLock), Error> {
    let deadline = Instant::now() + DEV_LOCK_TIMEOUT;
    loop {
        fs::create_dir_all(given).map_err(|err| {
            dev_io_error("cannot create the dev database's directory", given, &err)
        })?;
        let dir = fs::canonicalize(given)
            .map_err(|err| dev_io_error("cannot read the dev database's directory", given, &err))?;
        // 0700: with trust authentication, whoever reaches the socket is superuser.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(|err| {
            dev_io_error(
                "cannot make the dev database's directory private",
                &dir,
                &err,
            )
        })?;
        if let Some(user) = run_as
            && reachable(&dir, user)
        {
            // The server creates its socket (and initdb its data directory) in it.
            chown(&dir, user.uid, user.gid).map_err(|err| {
                dev_io_error(
                    &format!(
                        "cannot give the dev database's directory to user `{}`",
                        user.name
                    ),
                    &dir,
                    &err,
                )
            })?;
        }
        if let Some(lock) = lock_file(&dir.join("lock"), deadline)? {
            return Ok((DevLayout::read(dir), lock));
        }
    }
}

/// Decides where the data directory and the socket go (see the module documentation),
/// creating and recording relocated directories. Called with the directory locked and no
/// server running.
fn place_dev(layout: DevLayout, run_as: Option<&RunAs>) -> Result<DevLayout, Error> {
    let DevLayout {
        dir,
        home,
        socket_dir,
    } = layout;
    let owner = run_as.map_or_else(effective_uid, |user| user.uid);
    let hash = path_hash(&dir);
    let home = if home != dir && is_relocated(&home, Some(owner)) {
        home
    } else if let Some(user) = run_as
        && !reachable(&dir, user)
    {
        let base = Path::new(RELOCATED_HOME_BASE);
        let base = if base.is_dir() {
            base
        } else {
            Path::new(SHORT_SOCKET_BASE)
        };
        let created = make_relocated(base, &hash, run_as)?;
        write_record(&dir, "home", Some(created.as_os_str().as_bytes()))?;
        created
    } else {
        write_record(&dir, "home", None)?;
        dir.clone()
    };
    let socket_dir = if home.join(socket_name()).as_os_str().len() <= MAX_SOCKET_PATH {
        write_record(&dir, "socket", None)?;
        home.clone()
    } else if socket_dir != home && is_relocated(&socket_dir, Some(owner)) {
        socket_dir
    } else {
        let created = make_relocated(Path::new(SHORT_SOCKET_BASE), &hash, run_as)?;
        write_record(&dir, "socket", Some(created.as_os_str().as_bytes()))?;
        created
    };
    Ok(DevLayout {
        dir,
        home,
        socket_dir,
    })
}

/// Whether `user` (without supplementary groups, as the server runs) may search every
/// directory above `dir`. Only mode bits are read: an ACL that would let it through just
/// relocates the data needlessly.
fn reachable(dir: &Path, user: &RunAs) -> bool {
    dir.ancestors().skip(1).all(|ancestor| {
        fs::metadata(ancestor).is_ok_and(|meta| {
            let bit = if meta.uid() == user.uid {
                0o100
            } else if meta.gid() == user.gid {
                0o010
            } else {
                0o001
            };
            meta.mode() & bit != 0
        })
    })
}

/// A new private directory `<base>/cm-dev-<hash>-XXXXXX`, owned by the server's user.
fn make_relocated(base: &Path, hash: &str, run_as: Option<&RunAs>) -> Result<PathBuf, Error> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("{RELOCATED_PREFIX}{hash}-"))
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(base)
        .map_err(|err| dev_io_error("cannot create a directory for the dev database", base, &err))?
        .keep();
    if let Some(user) = run_as
        && let Err(err) = chown(&dir, user.uid, user.gid)
    {
        let _ = fs::remove_dir(&dir);
        return Err(dev_io_error(
            &format!("cannot give a directory to user `{}`", user.name),
            &dir,
            &err,
        ));
    }
    Ok(dir)
}

/// Whether `path` is a directory [`make_relocated`] made: named so, directly under one of
/// the bases, a real directory (no symlink); with `owner`, also owned by it and private.
fn is_relocated(path: &Path, owner: Option<u32>) -> bool {
    let named = path
        .file_name()
        .is_some_and(|name| name.as_bytes().starts_with(RELOCATED_PREFIX.as_bytes()));
    let placed = path.parent().is_some_and(|parent| {
        parent == Path::new(SHORT_SOCKET_BASE) || parent == Path::new(RELOCATED_HOME_BASE)
    });
    named
        && placed
        && fs::symlink_metadata(path).is_ok_and(|meta| {
            meta.is_dir() && owner.is_none_or(|uid| meta.uid() == uid && meta.mode() & 0o077 == 0)
        })
}

/// A short hex digest of a path, naming the relocated directories after their dev directory.
fn path_hash(path: &Path) -> String {
    Sha256::digest(path.as_os_str().as_bytes())
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A record in the dev directory: a file holding one path or name.
fn read_record(dir: &Path, name: &str) -> Option<PathBuf> {
    let bytes = fs::read(dir.join(name)).ok()?;
    (!bytes.is_empty()).then(|| PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

/// Writes (atomically: a reader sees the old or the new value) or deletes a record.
fn write_record(dir: &Path, name: &str, value: Option<&[u8]>) -> Result<(), Error> {
    let path = dir.join(name);
    let written = match value {
        None => match fs::remove_file(&path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        },
        Some(bytes) => {
            let staging = dir.join(format!("{name}.tmp"));
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&staging)
                .and_then(|mut file| file.write_all(bytes))
                .and_then(|()| fs::rename(&staging, &path))
        }
    };
    written.map_err(|err| dev_io_error("cannot write the dev database's records", &path, &err))
}

/// Locks `path` (creating it), waiting until `deadline`. `None` when the file is no longer
/// at `path` once locked (its directory was deleted meanwhile) or its directory is gone.
fn lock_file(path: &Path, deadline: Instant) -> Result<Option<DevLock>, Error> {
    let file = match fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(dev_io_error(
                "cannot open the dev database's lock file",
                path,
                &err,
            ));
        }
    };
    loop {
        // SAFETY: flock has no memory-safety preconditions; `file` keeps the descriptor open.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            break;
        }
        let err = io::Error::last_os_error();
        if !matches!(err.raw_os_error(), Some(code) if code == libc::EWOULDBLOCK || code == libc::EINTR)
        {
            return Err(dev_io_error(
                "cannot lock the dev database's lock file",
                path,
                &err,
            ));
        }
        if Instant::now() >= deadline {
            return Err(sandbox_error(format!(
                "another process has held the dev database's lock for over {} s",
                DEV_LOCK_TIMEOUT.as_secs()
            ))
            .at_path(path)
            .hint("another cargo-migrate may be starting or stopping the dev database: wait for it to finish, or end it"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let held = file
        .metadata()
        .map_err(|err| dev_io_error("cannot read the dev database's lock file", path, &err))?;
    let current = fs::metadata(path);
    let same = current.is_ok_and(|meta| meta.dev() == held.dev() && meta.ino() == held.ino());
    Ok(same.then_some(DevLock { _file: file }))
}

/// The pid of the postmaster running on the dev cluster's data directory, from
/// `postmaster.pid`. A stale file is left for the server to replace (it checks that no
/// process of the old server still uses the data), except when its pid now belongs to
/// another program, which would make the server refuse to start: with `clean_stale`, that
/// file is deleted.
fn dev_postmaster(layout: &DevLayout, clean_stale: bool) -> Result<Option<u32>, Error> {
    let data = layout.data();
    let pid_file = data.join("postmaster.pid");
    let text = match fs::read(&pid_file) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(dev_io_error(
                "cannot read the dev database's postmaster.pid",
                &pid_file,
                &err,
            ));
        }
    };
    let Some(pid) = text
        .lines()
        .next()
        .and_then(|line| line.trim().parse::<u32>().ok())
        .filter(|pid| *pid > 0)
    else {
        return Ok(None);
    };
    let state = pid_state(pid);
    match state {
        PidState::Running if is_postmaster_of(pid, &data) => return Ok(Some(pid)),
        PidState::Gone => return Ok(None),
        // A dead server of this process (started by an earlier `start_dev`) waits to be reaped.
        PidState::Zombie if reap(pid) => return Ok(None),
        _ => {}
    }
    if clean_stale {
        let _ = fs::remove_file(&pid_file);
    }
    Ok(None)
}

/// Deletes the socket's lock file (and the socket) of a server that no longer runs when its
/// pid now belongs to another process: the server would refuse to start over it. Called with
/// no server running on `data_dir`.
fn remove_stale_socket_lock(socket_dir: &Path, data_dir: &Path) {
    let lock = socket_dir.join(format!("{}.lock", socket_name()));
    let Ok(text) = fs::read_to_string(&lock) else {
        return;
    };
    let Some(pid) = text
        .lines()
        .next()
        .and_then(|line| line.trim().parse::<u32>().ok())
    else {
        return;
    };
    if pid_state(pid) == PidState::Gone
        || (pid_state(pid) == PidState::Running && is_postmaster_of(pid, data_dir))
    {
        // Gone: the server replaces the file itself. Ours: not stale.
        return;
    }
    let _ = fs::remove_file(&lock);
    let _ = fs::remove_file(socket_dir.join(socket_name()));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PidState {
    Running,
    /// Exited, not yet reaped by its parent.
    Zombie,
    Gone,
}

fn pid_state(pid: u32) -> PidState {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return PidState::Gone;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    if unsafe { libc::kill(raw, 0) } != 0
        && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    {
        return PidState::Gone;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => match stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.trim_start().chars().next())
        {
            Some('Z' | 'X') => PidState::Zombie,
            _ => PidState::Running,
        },
        // Gone meanwhile, or no /proc at all (then kill said it exists).
        Err(_) if Path::new("/proc/self/stat").exists() => PidState::Gone,
        Err(_) => PidState::Running,
    }
}

/// Whether the live process `pid` is a postmaster of `data_dir`: its working directory (a
/// postmaster moves into its data directory) or an argument names it. Without `/proc`,
/// assumed.
fn is_postmaster_of(pid: u32, data_dir: &Path) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    if fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == data_dir) {
        return true;
    }
    fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        cmdline
            .split(|byte| *byte == 0)
            .any(|arg| arg == data_dir.as_os_str().as_bytes())
    })
}

/// Reaps `pid` if it is an exited child of this process; `true` if it was.
fn reap(pid: u32) -> bool {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return false;
    };
    let mut status = 0;
    // SAFETY: waitpid only writes `status`, which outlives the call.
    unsafe { libc::waitpid(raw, &mut status, libc::WNOHANG) == raw }
}

/// Deletes what the dev cluster made: relocated directories, then the dev directory's own
/// entries, then the directory, unless something else is in it.
fn remove_dev_dir(layout: &DevLayout) -> Result<(), Error> {
    for relocated in [&layout.home, &layout.socket_dir] {
        if *relocated != layout.dir && is_relocated(relocated, None) {
            remove_tree(relocated).map_err(|err| {
                dev_io_error("cannot delete the dev database's files", relocated, &err)
                    .hint("delete the directory by hand")
            })?;
        }
    }
    let foreign = |dir: &Path| -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if !DEV_ENTRIES.contains(&name.as_str()) {
                names.push(name);
            }
        }
        Ok(names)
    };
    let dir = &layout.dir;
    let delete_failed = |err: io::Error| {
        dev_io_error("cannot delete the dev database's files", dir, &err)
            .hint("delete the directory by hand")
    };
    for name in DEV_ENTRIES {
        let path = dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => remove_tree(&path).map_err(delete_failed)?,
            Ok(_) => match fs::remove_file(&path) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => {
                    return Err(delete_failed(err));
                }
                _ => {}
            },
            Err(_) => {}
        }
    }
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => match foreign(dir) {
            // Only a dev cluster's files: a `start_dev` has just begun again in it.
            Ok(names) if names.is_empty() => Ok(()),
            Ok(names) => Err(sandbox_error(format!(
                "the dev database is stopped and its files deleted, but its directory also holds files it did not make: {}",
                names.join(", ")
            ))
            .at_path(dir)
            .hint("check that this is the directory you meant, and delete it by hand")),
            Err(_) => Err(delete_failed(err)),
        },
    }
}

fn dev_io_error(message: &str, path: &Path, err: &io::Error) -> Error {
    sandbox_error(format!("{message}: {}", io_reason(err)))
        .at_path(path)
        .hint("check the permissions of the directory and of the directories above it")
}

/// Where the PostgreSQL server binaries are: `explicit` (a directory holding `initdb` and
/// `postgres`, or one of those files), else `pg_config --bindir` when `pg_config` is on the
/// `PATH`, else the directory of `initdb` on the `PATH` (symlinks resolved), else the highest
/// `/usr/lib/postgresql/*/bin`. `None` when there are none (or `explicit` holds none).
pub fn find_binaries(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        let dir = if path.is_file() { path.parent()? } else { path };
        return has_server_binaries(dir).then(|| dir.to_path_buf());
    }
    if let Some(dir) = pg_config_bindir()
        && has_server_binaries(&dir)
    {
        return Some(dir);
    }
    if let Some(dir) = initdb_on_path() {
        return Some(dir);
    }
    highest_debian_bindir()
}

fn has_server_binaries(dir: &Path) -> bool {
    is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.mode() & 0o111 != 0)
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    (output.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

fn initdb_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("initdb"))
        .filter(|initdb| is_executable(initdb))
        .filter_map(|initdb| {
            fs::canonicalize(initdb)
                .ok()?
                .parent()
                .map(Path::to_path_buf)
        })
        .find(|dir| has_server_binaries(dir))
}

/// Debian and Ubuntu install each major version in `/usr/lib/postgresql/<version>/bin`.
fn highest_debian_bindir() -> Option<PathBuf> {
    fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: Vec<u32> = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<_>>()?;
            let bin = entry.path().join("bin");
            has_server_binaries(&bin).then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
}

/// Everything up to a spawned server: binaries, user, directory, data directory, server,
/// watchdog. Blocking; run off the async workers.
fn prepare(options: LocalOptions) -> Result<LocalPostgres, Error> {
    let install = Installation::locate(options.binaries.as_deref())?;
    let root = create_root(install.run_as.as_ref())?;
    // From here on, dropping `cluster` stops whatever runs and deletes `root`.
    let mut cluster = LocalPostgres {
        data_dir: root.join("data"),
        root,
        database: options.database.clone(),
        version: install.version.clone(),
        binaries: install.binaries.clone(),
        server: None,
        spawned_at: None,
        watchdog: None,
        from_template: false,
        timings: StartupTimings::default(),
        listen: options.listen,
        removed: false,
    };

    let init_begun = Instant::now();
    cluster.from_template = install.init_data_dir(
        Kind::Throwaway,
        &cluster.data_dir,
        &cluster.root,
        options.template_cache.as_deref(),
    )?;
    cluster.timings.init = init_begun.elapsed();

    let log = cluster.root.join("postgres.log");
    let server = install.spawn(
        Kind::Throwaway,
        &cluster.data_dir,
        &cluster.root,
        &log,
        &cluster.root,
        cluster.listen,
    )?;
    cluster.server = Some(server);
    cluster.spawned_at = Some(Instant::now());
    cluster.watchdog = spawn_watchdog(&cluster);
    Ok(cluster)
}

/// Runs blocking start-up work (binary discovery, initdb, copies) off the async workers.
async fn blocking<T: Send + 'static>(
    kind: Kind,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| sandbox_error(format!("the {} could not be prepared: {err}", kind.name())))?
}

fn no_binaries_error(explicit: Option<&Path>) -> Error {
    let hint = "install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`, Fedora: `dnf install postgresql-server`, macOS: `brew install postgresql`), or use `--sandbox docker`";
    match explicit {
        Some(dir) => Error::new(
            ErrorClass::Unreachable,
            ErrorCode::NoPostgresBinaries,
            "no PostgreSQL server binaries (`initdb` and `postgres`) in the given directory",
        )
        .at_path(dir)
        .hint(format!(
            "name the directory holding `initdb` and `postgres` (e.g. /usr/lib/postgresql/15/bin), or {hint}"
        )),
        None => Error::new(
            ErrorClass::Unreachable,
            ErrorCode::NoPostgresBinaries,
            "no PostgreSQL server binaries (`initdb` and `postgres`) found: not via `pg_config`, not on the PATH, not in /usr/lib/postgresql",
        )
        .hint(hint),
    }
}

fn sandbox_error(message: impl Into<String>) -> Error {
    Error::new(ErrorClass::Unreachable, ErrorCode::SandboxFailed, message)
}

/// The major version of the server binaries in `binaries`, from `postgres --version`
/// (`postgres (PostgreSQL) 15.18 (Debian …)` gives `15`).
pub fn server_version(binaries: &Path) -> Result<String, Error> {
    let postgres = binaries.join("postgres");
    let output = Command::new(&postgres)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|err| spawn_error("postgres --version", &postgres, &err))?;
    let text = String::from_utf8_lossy(&output.stdout);
    output
        .status
        .success()
        .then(|| major_version(&text))
        .flatten()
        .ok_or_else(|| {
            sandbox_error(format!(
                "`postgres --version` gave no version: {}",
                text.trim()
            ))
            .at_path(&postgres)
            .hint("check that the PostgreSQL server installation is complete")
        })
}

/// `15` from `… 15.18 …`, `17` from `17beta1`, `9.6` from `9.6.24`.
fn major_version(text: &str) -> Option<String> {
    let number = text
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = number.split('.').map(|part| {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        digits
    });
    let first = parts.next()?;
    let major: u32 = first.parse().ok()?;
    match parts.next() {
        Some(second) if major < 10 && !second.is_empty() => Some(format!("{first}.{second}")),
        _ => Some(first),
    }
}

/// `None` when not root; else the account to run the server as: `postgres`, or `nobody`.
fn run_as() -> Result<Option<RunAs>, Error> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    ["postgres", "nobody"]
        .into_iter()
        .find_map(|name| lookup_user(name).map(|(uid, gid)| RunAs { name, uid, gid }))
        .map(Some)
        .ok_or_else(|| {
            sandbox_error(
                "PostgreSQL refuses to run as root, and there is neither a `postgres` nor a `nobody` user to run it as",
            )
            .hint("create a `postgres` user (e.g. `useradd --system postgres`), or run as a non-root user")
        })
}

/// The uid and primary gid of a user, from the password database.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let c_name = CString::new(name).ok()?;
    let mut size = 4096;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; size];
        // SAFETY: passwd is plain data; getpwnam_r fills it with pointers into `buf`, which
        // outlives every use (only the numeric fields are read).
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: all pointers are valid for the duration of the call; `buf.len()` is its size.
        let rc = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && size < 1 << 20 {
            size *= 4;
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        return Some((pwd.pw_uid, pwd.pw_gid));
    }
}

/// A command for a server binary, run as `run_as` when this process is root.
fn server_command(program: &Path, run_as: Option<&RunAs>, cwd: &Path) -> Command {
    let mut command = Command::new(program);
    // The server binaries resolve relative paths against the working directory and complain
    // when they cannot read it; the sandbox directory is always readable by them.
    command.current_dir(cwd).stdin(Stdio::null());
    if let Some(user) = run_as {
        command.uid(user.uid).gid(user.gid);
        // Root's supplementary groups (root, and often disk, docker, …) must not follow the
        // server: they would let it (and any SQL that reaches the file system, like COPY …
        // TO PROGRAM as superuser) read and write what those groups can. std already calls
        // setgroups(0, NULL) when `uid` is set, just before setuid, but ignores EPERM
        // (no CAP_SETGID). A `pre_exec` hook cannot call setgroups itself: hooks run after
        // std's setuid, when it always fails with EPERM. So the hook checks the result
        // instead, and refuses to exec the server with any supplementary group left.
        //
        // SAFETY: the hook runs between fork and exec; it only calls getgroups(2), which is
        // async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(|| match libc::getgroups(0, std::ptr::null_mut()) {
                0 => Ok(()),
                n if n < 0 => Err(io::Error::last_os_error()),
                _ => Err(io::Error::from_raw_os_error(libc::EPERM)),
            });
        }
    }
    command
}

/// Creates the sandbox directory: under `/dev/shm` when it has room, else the temp dir.
fn create_root(run_as: Option<&RunAs>) -> Result<PathBuf, Error> {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() && free_space(shm).is_some_and(|free| free >= SHM_MIN_FREE) {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    // 0700: with trust authentication, whoever reaches the socket is superuser.
    let dir = tempfile::Builder::new()
        .prefix("cm-")
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(&base)
        .map_err(|err| {
            sandbox_error(format!(
                "cannot create the PostgreSQL sandbox directory: {}",
                io_reason(&err)
            ))
            .at_path(&base)
            .hint("check that the temp directory exists and is writable, or set TMPDIR")
        })?
        .keep();
    let socket = dir.join(format!(".s.PGSQL.{PORT}"));
    let failure =
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            Some(sandbox_error(format!(
            "the PostgreSQL sandbox socket path would be longer than {MAX_SOCKET_PATH} bytes"
        ))
        .at_path(&socket)
        .hint("set TMPDIR to a shorter directory, such as /tmp"))
        } else if let Some(user) = run_as {
            chown(&dir, user.uid, user.gid).err().map(|err| {
                sandbox_error(format!(
                "cannot give the PostgreSQL sandbox directory to user `{}`: {}",
                user.name,
                io_reason(&err)
            ))
            .at_path(&dir)
            .hint("run as a non-root user, or use a temp directory that allows chown (set TMPDIR)")
            })
        } else {
            None
        };
    match failure {
        Some(error) => {
            let _ = fs::remove_dir_all(&dir);
            Err(error)
        }
        None => Ok(dir),
    }
}

fn free_space(path: &Path) -> Option<u128> {
    let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain data, filled in by the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some(u128::from(stat.f_bavail) * u128::from(stat.f_frsize))
}

impl Installation {
    /// Finds the binaries and their version, and the account to run them as.
    fn locate(explicit: Option<&Path>) -> Result<Installation, Error> {
        let binaries = find_binaries(explicit).ok_or_else(|| no_binaries_error(explicit))?;
        let version = server_version(&binaries)?;
        let run_as = run_as()?;
        Ok(Installation {
            binaries,
            version,
            run_as,
        })
    }

    /// Creates `data_dir`: a copy of the cached template when `cache` holds a usable one,
    /// else by `initdb` (and then caches the result). `true`: copied from the template.
    fn init_data_dir(
        &self,
        kind: Kind,
        data_dir: &Path,
        cwd: &Path,
        cache: Option<&Path>,
    ) -> Result<bool, Error> {
        let template = cache.map(|dir| dir.join(format!("pg{}-template", self.version)));
        if let Some(template) = &template
            && template_is_usable(template, &self.version)
        {
            let owner = self.run_as.as_ref().map(|user| (user.uid, user.gid));
            match copy_tree(template, data_dir, owner) {
                Ok(()) => return Ok(true),
                // A template deleted or damaged under our feet: fall back to initdb.
                Err(_) => {
                    let _ = remove_tree(data_dir);
                }
            }
        }
        self.initdb(kind, data_dir, cwd)?;
        if let (Some(cache), Some(template)) = (cache, &template) {
            // The cache only saves time: a cache that cannot be written is not an error.
            let _ = save_template(data_dir, cache, template);
        }
        Ok(false)
    }

    /// Runs `initdb` into `data_dir`.
    fn initdb(&self, kind: Kind, data_dir: &Path, cwd: &Path) -> Result<(), Error> {
        let run_as = self.run_as.as_ref();
        let program = self.binaries.join("initdb");
        let mut command = server_command(&program, run_as, cwd);
        command
            .arg("-D")
            .arg(data_dir)
            .args(["-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C"])
            .arg("--no-sync");
        if major_number(&self.version) >= 13 {
            command.arg("--no-instructions");
        }
        crate::report::log::command(&command);
        let output = command
            .output()
            .map_err(|err| spawn_error("initdb", &program, &err).hint(user_hint(run_as)))?;
        if output.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Err(sandbox_error(format!("initdb failed ({})", output.status))
            .at_path(&program)
            .detail(format!(
                "initdb output (last lines):\n{}",
                tail_lines(&text)
            ))
            .hint(format!(
                "initdb's output says why; check that {} is writable and has room",
                kind.place()
            )))
    }

    /// Spawns `postgres` on `data_dir`, listening on a Unix socket in `socket_dir` (and on TCP
    /// at `listen`, port 5432, when given), its
    /// output going to `log` (created afresh). A dev server is detached from this process.
    fn spawn(
        &self,
        kind: Kind,
        data_dir: &Path,
        socket_dir: &Path,
        log_path: &Path,
        cwd: &Path,
        listen: Option<std::net::IpAddr>,
    ) -> Result<Child, Error> {
        let run_as = self.run_as.as_ref();
        let log = fs::File::create(log_path)
            .and_then(|log| Ok((log.try_clone()?, log)))
            .map_err(|err| {
                sandbox_error(format!(
                    "cannot create the {} log: {}",
                    kind.name(),
                    io_reason(&err)
                ))
                .at_path(log_path)
                .hint(format!("check that {} is writable", kind.place()))
            })?;
        if let Some(user) = run_as {
            // The log is written through the inherited descriptor; owning it only lets the
            // server's user read it too.
            let _ = chown(log_path, user.uid, user.gid);
        }
        let program = self.binaries.join("postgres");
        let mut command = server_command(&program, run_as, cwd);
        command
            .arg("-D")
            .arg(data_dir)
            .arg("-k")
            .arg(socket_dir)
            .arg("-p")
            .arg(PORT.to_string())
            .arg("-c")
            .arg(format!(
                "listen_addresses={}",
                listen
                    .map(|address| address.to_string())
                    .unwrap_or_default()
            ));
        match kind {
            Kind::Throwaway => command.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]),
            // A crash may lose the last commits, but never the cluster.
            Kind::Dev => command.args(["-c", "synchronous_commit=off"]),
        };
        command
            .args([
                "-c",
                "max_connections=100",
                "-c",
                "unix_socket_permissions=0777",
            ])
            .stdout(log.0)
            .stderr(log.1);
        if kind == Kind::Dev {
            detach(&mut command);
        }
        crate::report::log::command(&command);
        command
            .spawn()
            .map_err(|err| spawn_error("postgres", &program, &err).hint(user_hint(run_as)))
    }
}

/// Makes `command`'s process outlive this one unbothered: its own session (no terminal's
/// Ctrl-C, no process-group kill of ours reaches it) and no descriptor of ours beyond the
/// standard streams `command` sets, so nothing waiting for end-of-file on a pipe this
/// process inherited (a test harness, `$(cargo migrate db url)`, make's jobserver) waits for
/// the server.
fn detach(command: &mut Command) {
    // SAFETY: the hook runs between fork and exec; it only makes system calls (setsid,
    // close_range or getrlimit and fcntl), which are async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            close_on_exec_above_stderr();
            Ok(())
        });
    }
}

/// Sets close-on-exec on every descriptor above 2. Runs between fork and exec.
fn close_on_exec_above_stderr() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets descriptor flags (Linux 5.11+;
        // older kernels fail with ENOSYS or EINVAL and the loop below does it).
        let done = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_ulong,
                libc::c_ulong::from(libc::c_uint::MAX),
                libc::c_ulong::from(libc::CLOSE_RANGE_CLOEXEC),
            )
        } == 0;
        if done {
            return;
        }
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes `limit`.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        libc::c_int::try_from(limit.rlim_cur.min(65_536)).unwrap_or(1024)
    } else {
        1024
    };
    for fd in 3..max {
        // SAFETY: fcntl on a descriptor number has no memory-safety preconditions.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// Polls until `SELECT 1` succeeds on the socket in `socket_dir`, the server exits
/// (`exited` gives its status), or [`READY_TIMEOUT`] passes since `spawned`. Returns how long
/// it took since `spawned`. Errors carry the tail of `log`; `at` is what they point at.
async fn wait_ready(
    kind: Kind,
    socket_dir: &Path,
    log: &Path,
    at: &Path,
    spawned: Instant,
    mut exited: impl FnMut() -> Option<String>,
) -> Result<Duration, Error> {
    let url = socket_url(socket_dir, SUPERUSER);
    let socket = socket_dir.join(socket_name());
    let mut last_error = String::from("the server has not created its socket yet");
    loop {
        if let Some(status) = exited() {
            return Err(with_log_tail(
                sandbox_error(format!(
                    "the {} server exited at start-up ({status})",
                    kind.name()
                ))
                .at_path(at)
                .hint(format!(
                    "the server log says why; check that the binaries work and that {} is writable",
                    kind.place()
                )),
                log,
            ));
        }
        if socket.exists() {
            match tokio::time::timeout(PROBE_TIMEOUT, probe(&url)).await {
                Ok(Ok(())) => break,
                Ok(Err(err)) => last_error = sqlx_reason(&err),
                Err(_) => last_error = "a connection attempt timed out".to_string(),
            }
        }
        if spawned.elapsed() >= READY_TIMEOUT {
            return Err(with_log_tail(
                sandbox_error(format!(
                    "the {} server did not accept connections within {} s: {last_error}",
                    kind.name(),
                    READY_TIMEOUT.as_secs(),
                ))
                .at_path(at)
                .hint("the machine may be overloaded; the server log may say more"),
                log,
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(spawned.elapsed())
}

/// `error` with the last lines of the server log as its detail (read now: a throw-away
/// cluster's log is deleted with it).
fn with_log_tail(error: Error, log: &Path) -> Error {
    match read_tail(log) {
        Some(tail) if !tail.is_empty() => error.detail(format!("server log (last lines):\n{tail}")),
        _ => error,
    }
}

/// Creates database `name` in the cluster listening in `socket_dir`; with `if_missing`, an
/// existing one is fine. Errors point at `at`.
async fn create_database_at(
    kind: Kind,
    socket_dir: &Path,
    at: &Path,
    name: &str,
    if_missing: bool,
) -> Result<(), Error> {
    let failed = |err: sqlx::Error| {
        let duplicate = is_duplicate_database(&err);
        sandbox_error(format!(
            "cannot create database `{name}` in the {}: {}",
            kind.name(),
            sqlx_reason(&err)
        ))
        .at_path(at)
        .hint(match (duplicate, kind) {
            (true, _) => "database names are unique within the cluster: pick another name",
            (false, Kind::Throwaway) => "check that the sandbox is still running",
            (false, Kind::Dev) => "check that the dev database is still running",
        })
    };
    let mut conn = sqlx::PgConnection::connect(&socket_url(socket_dir, SUPERUSER))
        .await
        .map_err(failed)?;
    let created = async {
        if if_missing {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(name)
                    .fetch_one(&mut conn)
                    .await?;
            if exists {
                return Ok(());
            }
        }
        let sql = format!("CREATE DATABASE {}", quote_identifier(name));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map(drop)
    }
    .await;
    let _ = conn.close().await;
    match created {
        Err(err) if if_missing && is_duplicate_database(&err) => Ok(()),
        other => other.map_err(failed),
    }
}

fn is_duplicate_database(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "42P04")
}

fn check_database_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > 63 || name.contains('\0') {
        return Err(Error::input(
            ErrorCode::BadArgument,
            format!("`{name}` is not a valid PostgreSQL database name"),
        )
        .hint("use 1 to 63 bytes and no NUL character"));
    }
    Ok(())
}

/// A sqlx URL for `database` of the cluster whose socket is in `socket_dir`.
fn socket_url(socket_dir: &Path, database: &str) -> String {
    format!(
        "postgres://{SUPERUSER}@localhost:{PORT}/{}?host={}&sslmode=disable",
        percent_encode(database.as_bytes(), b""),
        percent_encode(socket_dir.as_os_str().as_bytes(), b"/"),
    )
}

fn socket_name() -> String {
    format!(".s.PGSQL.{PORT}")
}

fn major_number(version: &str) -> u32 {
    version
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(0)
}

fn user_hint(run_as: Option<&RunAs>) -> String {
    match run_as {
        Some(user) => format!(
            "the binaries run as user `{}` (PostgreSQL refuses root); check that it may execute them",
            user.name
        ),
        None => "check that the PostgreSQL server binaries are executable".to_string(),
    }
}

fn spawn_error(what: &str, program: &Path, err: &io::Error) -> Error {
    sandbox_error(format!("cannot run `{what}`: {}", io_reason(err)))
        .at_path(program)
        .hint("check that the PostgreSQL server binaries are installed and executable")
}

/// Starts the watchdog that cleans up if this process goes away without stopping the
/// cluster; `None` (no watchdog) if `sh` cannot be started.
fn spawn_watchdog(cluster: &LocalPostgres) -> Option<Child> {
    // Reads its stdin until end-of-file, which only comes when this process has exited (the
    // write end is close-on-exec and held by nobody else), then shuts the server down
    // (immediate: the data is deleted anyway), SIGKILLs it after 10 s, and deletes the
    // directory. It ignores SIGINT, SIGTERM and SIGHUP so that a Ctrl-C or a CI timeout
    // that kills the process group still gets cleaned up.
    // A zombie counts as gone: once this process has exited, the server's new parent may
    // be slow to reap it (or, as PID 1 in some containers, never do it).
    const SCRIPT: &str = r#"trap '' INT TERM HUP
pid=$1 dir=$2
alive() {
  kill -0 "$pid" 2>/dev/null || return 1
  [ -r "/proc/$pid/stat" ] || return 0
  { read -r _ _ state _ < "/proc/$pid/stat"; } 2>/dev/null || return 1
  [ "$state" != Z ]
}
while read -r _; do :; done
kill -QUIT "$pid" 2>/dev/null
i=0
while alive && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
alive && kill -KILL "$pid" 2>/dev/null
rm -rf -- "$dir""#;
    let pid = cluster.pid()?;
    Command::new("/bin/sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("cargo-migrate-sandbox-watchdog")
        .arg(pid.to_string())
        .arg(&cluster.root)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// Stops the server: SIGINT (fast shutdown), SIGQUIT (immediate), then SIGKILL for it and
/// the children it had.
fn shut_down(server: &mut Child) {
    stop_process(server.id(), || !matches!(server.try_wait(), Ok(None)));
    let _ = server.wait();
}

/// The shutdown sequence for process `pid`, `exited` telling when it is gone: SIGINT (fast
/// shutdown), SIGQUIT (immediate), then SIGKILL for it and the children it had.
fn stop_process(pid: u32, mut exited: impl FnMut() -> bool) {
    tracing::debug!(target: "cargo_migrate::cluster", "stop the server (pid {pid})");
    for (signal, wait) in [
        (libc::SIGINT, FAST_SHUTDOWN_WAIT),
        (libc::SIGQUIT, IMMEDIATE_SHUTDOWN_WAIT),
    ] {
        if exited() {
            return;
        }
        send_signal(pid, signal);
        if wait_until(&mut exited, wait) {
            return;
        }
    }
    // Backends notice the postmaster's death on their own, but take no chances.
    let children = children_of(pid);
    send_signal(pid, libc::SIGKILL);
    wait_until(&mut exited, IMMEDIATE_SHUTDOWN_WAIT);
    for child in children {
        send_signal(child, libc::SIGKILL);
    }
}

fn send_signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Waits up to `timeout` for `exited`; `true` once it says so.
fn wait_until(exited: &mut impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if exited() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The processes whose parent is `parent`, from `/proc/<pid>/stat`.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid …": comm may hold spaces and parentheses.
            let after_comm = &stat[stat.rfind(')')? + 1..];
            let ppid: u32 = after_comm.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

/// Deletes a directory tree; a tree that is already gone is fine. Retries briefly, in case
/// a dying server process still creates files in it.
fn remove_tree(path: &Path) -> io::Result<()> {
    let mut attempts = 0;
    loop {
        match fs::remove_dir_all(path) {
            Ok(()) => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(_) if attempts < 5 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(err) => return Err(err),
        }
    }
}

/// A template is used only when it is complete and of the same major version.
fn template_is_usable(template: &Path, version: &str) -> bool {
    fs::read_to_string(template.join("PG_VERSION")).is_ok_and(|text| text.trim() == version)
        && template.join("global").join("pg_control").is_file()
}

/// Copies a freshly initialised data directory into the cache as `template`, atomically:
/// into a temporary directory next to it first, then renamed into place, so no process ever
/// sees a half-written template. Losing the race to another process is fine.
fn save_template(data_dir: &Path, cache: &Path, template: &Path) -> io::Result<()> {
    fs::create_dir_all(cache)?;
    let name = template
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(cache)?;
    let copy = staging.path().join("data");
    copy_tree(data_dir, &copy, None)?;
    match fs::rename(&copy, template) {
        Ok(()) => Ok(()),
        Err(_) if template_is_usable(template, &read_version(data_dir)) => Ok(()),
        Err(err) => Err(err),
    }
    // `staging` is deleted here, with the copy when the rename failed.
}

fn read_version(data_dir: &Path) -> String {
    fs::read_to_string(data_dir.join("PG_VERSION"))
        .map(|text| text.trim().to_string())
        .unwrap_or_default()
}

/// Copies a directory tree, keeping permission bits, giving every entry to `owner` when
/// set. Sockets and other special files are skipped (a data directory at rest has none).
fn copy_tree(from: &Path, to: &Path, owner: Option<(u32, u32)>) -> io::Result<()> {
    fs::create_dir(to)?;
    if let Some((uid, gid)) = owner {
        chown(to, uid, gid)?;
    }
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&source, &target, owner)?;
        } else if kind.is_file() {
            // Copies the permission bits too.
            fs::copy(&source, &target)?;
            if let Some((uid, gid)) = owner {
                chown(&target, uid, gid)?;
            }
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&source)?, &target)?;
            if let Some((uid, gid)) = owner {
                lchown(&target, uid, gid)?;
            }
        }
    }
    // Last, so a read-only directory can still be filled.
    let mode = fs::metadata(from)?.permissions().mode();
    fs::set_permissions(to, fs::Permissions::from_mode(mode))
}

fn chown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c_path` is a valid NUL-terminated string for the duration of the call.
    if unsafe { libc::chown(c_path.as_ptr(), uid, gid) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn lchown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c_path` is a valid NUL-terminated string for the duration of the call.
    if unsafe { libc::lchown(c_path.as_ptr(), uid, gid) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One real connection and `SELECT 1`.
async fn probe(url: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let result = sqlx::query("SELECT 1").execute(&mut conn).await;
    let _ = conn.close().await;
    result.map(drop)
}

/// The server's own message for database errors (sqlx adds the server's source line).
fn sqlx_reason(err: &sqlx::Error) -> String {
    match err.as_database_error() {
        Some(db) => db.message().to_string(),
        None => err.to_string(),
    }
}

/// The last [`TAIL_LINES`] lines of a file, reading at most its last 16 KiB.
fn read_tail(path: &Path) -> Option<String> {
    let mut file = fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)))
        .ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(tail_lines(&String::from_utf8_lossy(&bytes)))
}

fn tail_lines(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// `"name"`, with embedded quotes doubled.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Percent-encodes everything but unreserved URL characters and `keep`.
fn percent_encode(bytes: &[u8], keep: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || keep.contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions() {
        assert_eq!(
            major_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)").as_deref(),
            Some("15")
        );
        assert_eq!(
            major_version("postgres (PostgreSQL) 17beta1").as_deref(),
            Some("17")
        );
        assert_eq!(
            major_version("postgres (PostgreSQL) 9.6.24").as_deref(),
            Some("9.6")
        );
        assert_eq!(major_version("postgres (PostgreSQL)"), None);
    }

    #[test]
    fn encoding() {
        assert_eq!(percent_encode(b"/dev/shm/cm-a_b", b"/"), "/dev/shm/cm-a_b");
        assert_eq!(percent_encode(b"/tmp/a b&c", b"/"), "/tmp/a%20b%26c");
        assert_eq!(percent_encode(b"my db/x", b""), "my%20db%2Fx");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn tails() {
        let text: String = (1..=30).map(|n| format!("line {n}\n")).collect();
        let tail = tail_lines(&text);
        assert!(tail.starts_with("line 11\n"));
        assert!(tail.ends_with("line 30"));
    }

    #[test]
    fn explicit_directory_without_binaries() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_binaries(Some(dir.path())), None);
    }
}
