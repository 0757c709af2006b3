//! The `local` sandbox: a throw-away PostgreSQL cluster run from the machine's own server
//! binaries (`initdb` and `postgres`), for the test suite and for `--sandbox local`.
//!
//! A cluster lives in one temporary directory (under `/dev/shm` when it has room, else the
//! system temp directory) that holds the data directory (`data/`), the server log
//! (`postgres.log`) and the Unix socket: the server listens on no TCP address at all. It runs
//! with durability switched off (`fsync`, `synchronous_commit`, `full_page_writes`), since
//! the data is thrown away. [`LocalPostgres::stop`] (or dropping the value) shuts the server
//! down and deletes the directory.
//!
//! PostgreSQL refuses to run as root, so when this process is root the server runs as the
//! `postgres` user (or `nobody`), without root's supplementary groups.
//!
//! A small watchdog (`sh`) is started next to each server: it waits for end-of-file on a pipe
//! only this process holds, so if the process ends without dropping the cluster (killed,
//! `std::process::exit`, a cluster kept in a `static`), the watchdog stops the server and
//! deletes the directory instead.

use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// Options for [`LocalPostgres::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOptions {
    /// The directory holding `initdb` and `postgres`; `None` searches (see [`find_binaries`]).
    pub binaries: Option<PathBuf>,
    /// The database [`LocalPostgres::url`] names; created at start unless it is `postgres`.
    pub database: String,
    /// Where to keep an initialised template data directory (`<dir>/pg<major>-template`), so
    /// later starts copy it instead of running `initdb`. `None`: no cache.
    pub template_cache: Option<PathBuf>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            binaries: None,
            database: SUPERUSER.to_string(),
            template_cache: None,
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
        let mut cluster = tokio::task::spawn_blocking(move || prepare(options))
            .await
            .map_err(|err| {
                sandbox_error(format!(
                    "the PostgreSQL sandbox could not be prepared: {err}"
                ))
            })??;
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
        format!(
            "postgres://{SUPERUSER}@localhost:{PORT}/{}?host={}&sslmode=disable",
            percent_encode(database.as_bytes(), b""),
            percent_encode(self.root.as_os_str().as_bytes(), b"/"),
        )
    }

    /// Creates a fresh, empty database and returns its URL.
    pub async fn create_database(&self, name: &str) -> Result<String, Error> {
        if name.is_empty() || name.len() > 63 || name.contains('\0') {
            return Err(Error::input(
                ErrorCode::BadArgument,
                format!("`{name}` is not a valid PostgreSQL database name"),
            )
            .hint("use 1 to 63 bytes and no NUL character"));
        }
        let failed = |err: sqlx::Error| {
            let duplicate = err
                .as_database_error()
                .and_then(|db| db.code())
                .is_some_and(|code| code == "42P04");
            sandbox_error(format!(
                "cannot create database `{name}` in the PostgreSQL sandbox: {}",
                sqlx_reason(&err)
            ))
            .at_path(&self.root)
            .hint(if duplicate {
                "database names are unique within the cluster: pick another name"
            } else {
                "check that the sandbox is still running"
            })
        };
        let mut conn = sqlx::PgConnection::connect(&self.url_for(SUPERUSER))
            .await
            .map_err(failed)?;
        let sql = format!("CREATE DATABASE {}", quote_identifier(name));
        let created = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map_err(failed);
        let _ = conn.close().await;
        created?;
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

    /// Polls until `SELECT 1` succeeds, the server exits, or [`READY_TIMEOUT`] passes.
    async fn wait_ready(&mut self) -> Result<(), Error> {
        let spawned = self.spawned_at.unwrap_or_else(Instant::now);
        let url = self.url_for(SUPERUSER);
        let socket = self.root.join(format!(".s.PGSQL.{PORT}"));
        let mut last_error = String::from("the server has not created its socket yet");
        loop {
            if let Some(server) = self.server.as_mut()
                && let Ok(Some(status)) = server.try_wait()
            {
                self.server = None;
                return Err(self.with_log_tail(
                    sandbox_error(format!(
                        "the PostgreSQL sandbox server exited at start-up ({status})"
                    ))
                    .at_path(&self.binaries.join("postgres"))
                    .hint("the server log says why; check that the binaries work and that the temp directory is writable"),
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
                return Err(self.with_log_tail(
                    sandbox_error(format!(
                        "the PostgreSQL sandbox server did not accept connections within {} s: {last_error}",
                        READY_TIMEOUT.as_secs(),
                    ))
                    .at_path(&self.binaries.join("postgres"))
                    .hint("the machine may be overloaded; the server log may say more"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.timings.ready = spawned.elapsed();
        Ok(())
    }

    /// `error` with the last lines of the server log as its detail (read now: the log is
    /// deleted with the cluster).
    fn with_log_tail(&self, error: Error) -> Error {
        match read_tail(&self.root.join("postgres.log")) {
            Some(tail) if !tail.is_empty() => {
                error.detail(format!("server log (last lines):\n{tail}"))
            }
            _ => error,
        }
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        let _ = self.stop();
    }
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
    let binaries = find_binaries(options.binaries.as_deref())
        .ok_or_else(|| no_binaries_error(options.binaries.as_deref()))?;
    let version = server_version(&binaries)?;
    let run_as = run_as()?;
    let root = create_root(run_as.as_ref())?;
    // From here on, dropping `cluster` stops whatever runs and deletes `root`.
    let mut cluster = LocalPostgres {
        data_dir: root.join("data"),
        root,
        database: options.database.clone(),
        version,
        binaries,
        server: None,
        spawned_at: None,
        watchdog: None,
        from_template: false,
        timings: StartupTimings::default(),
        removed: false,
    };

    let init_begun = Instant::now();
    let template = options
        .template_cache
        .as_ref()
        .map(|dir| dir.join(format!("pg{}-template", cluster.version)));
    if let Some(template) = &template
        && template_is_usable(template, &cluster.version)
    {
        let owner = run_as.as_ref().map(|user| (user.uid, user.gid));
        match copy_tree(template, &cluster.data_dir, owner) {
            Ok(()) => cluster.from_template = true,
            // A template deleted or damaged under our feet: fall back to initdb.
            Err(_) => {
                let _ = remove_tree(&cluster.data_dir);
            }
        }
    }
    if !cluster.from_template {
        initdb(&cluster, run_as.as_ref())?;
        if let (Some(cache), Some(template)) = (&options.template_cache, &template) {
            // The cache only saves time: a cache that cannot be written is not an error.
            let _ = save_template(&cluster.data_dir, cache, template);
        }
    }
    cluster.timings.init = init_begun.elapsed();

    start_server(&mut cluster, run_as.as_ref())?;
    cluster.watchdog = spawn_watchdog(&cluster);
    Ok(cluster)
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

/// The major version from `postgres --version` (`postgres (PostgreSQL) 15.18 (Debian …)`).
fn server_version(binaries: &Path) -> Result<String, Error> {
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

/// Runs `initdb` into the cluster's data directory.
fn initdb(cluster: &LocalPostgres, run_as: Option<&RunAs>) -> Result<(), Error> {
    let program = cluster.binaries.join("initdb");
    let mut command = server_command(&program, run_as, &cluster.root);
    command
        .arg("-D")
        .arg(&cluster.data_dir)
        .args(["-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C"])
        .arg("--no-sync");
    if major_number(&cluster.version) >= 13 {
        command.arg("--no-instructions");
    }
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
        .hint("initdb's output says why; check that the temp directory is writable and has room"))
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

/// Spawns `postgres` on the data directory, listening on the Unix socket only.
fn start_server(cluster: &mut LocalPostgres, run_as: Option<&RunAs>) -> Result<(), Error> {
    let log_path = cluster.root.join("postgres.log");
    let log = fs::File::create(&log_path)
        .and_then(|log| Ok((log.try_clone()?, log)))
        .map_err(|err| {
            sandbox_error(format!(
                "cannot create the PostgreSQL sandbox log: {}",
                io_reason(&err)
            ))
            .at_path(&log_path)
            .hint("check that the temp directory is writable")
        })?;
    if let Some(user) = run_as {
        // The log is written through the inherited descriptor; owning it only lets the
        // server's user read it too.
        let _ = chown(&log_path, user.uid, user.gid);
    }
    let program = cluster.binaries.join("postgres");
    let mut command = server_command(&program, run_as, &cluster.root);
    command
        .arg("-D")
        .arg(&cluster.data_dir)
        .arg("-k")
        .arg(&cluster.root)
        .arg("-p")
        .arg(PORT.to_string())
        .args([
            "-c",
            "listen_addresses=",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=100",
            "-c",
            "unix_socket_permissions=0777",
        ])
        .stdout(log.0)
        .stderr(log.1);
    let server = command
        .spawn()
        .map_err(|err| spawn_error("postgres", &program, &err).hint(user_hint(run_as)))?;
    cluster.server = Some(server);
    cluster.spawned_at = Some(Instant::now());
    Ok(())
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
    let pid = server.id();
    for (signal, wait) in [
        (libc::SIGINT, FAST_SHUTDOWN_WAIT),
        (libc::SIGQUIT, IMMEDIATE_SHUTDOWN_WAIT),
    ] {
        if !matches!(server.try_wait(), Ok(None)) {
            return;
        }
        send_signal(pid, signal);
        if wait_exit(server, wait) {
            return;
        }
    }
    // Backends notice the postmaster's death on their own, but take no chances.
    let children = children_of(pid);
    let _ = server.kill();
    let _ = server.wait();
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

/// Waits up to `timeout` for `child` to exit; `true` once it has (or cannot be waited on).
fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => return false,
            Ok(Some(_)) | Err(_) => return true,
        }
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
