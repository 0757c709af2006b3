//! Throw-away clusters ([`LocalPostgres`]): the sandbox directory, initdb (or a copy of the
//! cached template), the server and its watchdog, readiness, databases and URLs.

use rustix::process::Signal;

use super::*;

/// A running throw-away PostgreSQL cluster; stopped and deleted by [`stop`](Self::stop) or
/// when dropped.
#[derive(Debug)]
pub struct LocalPostgres {
    /// The temporary directory: socket directory, parent of the data directory and the log.
    pub(super) root: PathBuf,
    pub(super) data_dir: PathBuf,
    pub(super) database: String,
    pub(super) version: String,
    pub(super) binaries: PathBuf,
    pub(super) server: Option<Child>,
    /// When `server` was spawned.
    pub(super) spawned_at: Option<Instant>,
    pub(super) watchdog: Option<Child>,
    pub(super) from_template: bool,
    pub(super) timings: StartupTimings,
    /// [`LocalOptions::listen`], kept for [`restart`](Self::restart).
    pub(super) listen: Option<std::net::IpAddr>,
    /// Set once the directory is gone, so `stop` is idempotent.
    pub(super) removed: bool,
}

/// The server binaries, their major version, and the account they run as: what every start
/// needs.
#[derive(Debug, Clone)]
pub(super) struct Installation {
    pub(super) binaries: PathBuf,
    pub(super) version: String,
    pub(super) run_as: Option<RunAs>,
}

/// Which kind of cluster a server is started for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// [`LocalPostgres`]: durability off, stopped with this process (watchdog).
    Throwaway,
    /// [`start_dev`]: durable, detached from this process.
    Dev,
}

impl Kind {
    /// How messages name the cluster.
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Throwaway => "PostgreSQL sandbox",
            Kind::Dev => "dev database",
        }
    }

    /// Where the cluster's files are, for hints.
    pub(super) fn place(self) -> &'static str {
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
        send_signal(server.id(), if fast { Signal::INT } else { Signal::QUIT });
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
    pub(super) async fn wait_ready(&mut self) -> Result<(), Error> {
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

/// Everything up to a spawned server: binaries, user, directory, data directory, server,
/// watchdog. Blocking; run off the async workers.
pub(super) fn prepare(options: LocalOptions) -> Result<LocalPostgres, Error> {
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

/// Creates the sandbox directory: under `/dev/shm` when it has room, else the temp dir.
pub(super) fn create_root(run_as: Option<&RunAs>) -> Result<PathBuf, Error> {
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

pub(super) fn free_space(path: &Path) -> Option<u128> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some(u128::from(stat.f_bavail) * u128::from(stat.f_frsize))
}

impl Installation {
    /// Finds the binaries and their version, and the account to run them as.
    pub(super) fn locate(explicit: Option<&Path>) -> Result<Installation, Error> {
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
    pub(super) fn init_data_dir(
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
    pub(super) fn initdb(&self, kind: Kind, data_dir: &Path, cwd: &Path) -> Result<(), Error> {
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
    pub(super) fn spawn(
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

/// Polls until `SELECT 1` succeeds on the socket in `socket_dir`, the server exits
/// (`exited` gives its status), or [`READY_TIMEOUT`] passes since `spawned`. Returns how long
/// it took since `spawned`. Errors carry the tail of `log`; `at` is what they point at.
pub(super) async fn wait_ready(
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
pub(super) fn with_log_tail(error: Error, log: &Path) -> Error {
    match read_tail(log) {
        Some(tail) if !tail.is_empty() => error.detail(format!("server log (last lines):\n{tail}")),
        _ => error,
    }
}

/// Creates database `name` in the cluster listening in `socket_dir`; with `if_missing`, an
/// existing one is fine. Errors point at `at`.
pub(super) async fn create_database_at(
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

pub(super) fn is_duplicate_database(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "42P04")
}

pub(super) fn check_database_name(name: &str) -> Result<(), Error> {
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
pub(super) fn socket_url(socket_dir: &Path, database: &str) -> String {
    format!(
        "postgres://{SUPERUSER}@localhost:{PORT}/{}?host={}&sslmode=disable",
        percent_encode(database.as_bytes(), b""),
        percent_encode(socket_dir.as_os_str().as_bytes(), b"/"),
    )
}

pub(super) fn socket_name() -> String {
    format!(".s.PGSQL.{PORT}")
}

pub(super) fn major_number(version: &str) -> u32 {
    version
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(0)
}

pub(super) fn spawn_error(what: &str, program: &Path, err: &io::Error) -> Error {
    sandbox_error(format!("cannot run `{what}`: {}", io_reason(err)))
        .at_path(program)
        .hint("check that the PostgreSQL server binaries are installed and executable")
}

/// Starts the watchdog that cleans up if this process goes away without stopping the
/// cluster; `None` (no watchdog) if `sh` cannot be started.
pub(super) fn spawn_watchdog(cluster: &LocalPostgres) -> Option<Child> {
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

/// One real connection and `SELECT 1`.
pub(super) async fn probe(url: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let result = sqlx::query("SELECT 1").execute(&mut conn).await;
    let _ = conn.close().await;
    result.map(drop)
}

/// The server's own message for database errors (sqlx adds the server's source line).
pub(super) fn sqlx_reason(err: &sqlx::Error) -> String {
    match err.as_database_error() {
        Some(db) => db.message().to_string(),
        None => err.to_string(),
    }
}

/// The last [`TAIL_LINES`] lines of a file, reading at most its last 16 KiB.
pub(super) fn read_tail(path: &Path) -> Option<String> {
    let mut file = fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)))
        .ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(tail_lines(&String::from_utf8_lossy(&bytes)))
}

pub(super) fn tail_lines(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// `"name"`, with embedded quotes doubled.
pub(super) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Percent-encodes everything but unreserved URL characters and `keep`.
pub(super) fn percent_encode(bytes: &[u8], keep: &[u8]) -> String {
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
