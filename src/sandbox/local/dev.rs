//! Dev clusters ([`start_dev`], [`dev_status`], [`stop_dev`]): persistent clusters in a
//! directory the caller names, found again through `postmaster.pid`, locked while started or
//! stopped, relocated when the socket path is too long or the server's user cannot reach it.

use super::*;

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
pub(super) struct DevLayout {
    /// The dev directory (canonical): log, lock and records.
    pub(super) dir: PathBuf,
    /// The directory holding `data/`: `dir`, or the one the `home` record names.
    pub(super) home: PathBuf,
    /// The directory holding the socket: `home`, or the one the `socket` record names.
    pub(super) socket_dir: PathBuf,
}

impl DevLayout {
    pub(super) fn read(dir: PathBuf) -> DevLayout {
        let home = read_record(&dir, "home").unwrap_or_else(|| dir.clone());
        let socket_dir = read_record(&dir, "socket").unwrap_or_else(|| home.clone());
        DevLayout {
            dir,
            home,
            socket_dir,
        }
    }

    pub(super) fn data(&self) -> PathBuf {
        self.home.join("data")
    }

    /// Where a new data directory is made, to be renamed to `data` once complete.
    pub(super) fn staging(&self) -> PathBuf {
        self.home.join("data.init")
    }

    pub(super) fn log(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// The database the URL names.
    pub(super) fn database(&self) -> String {
        fs::read(self.dir.join("database"))
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| SUPERUSER.to_string())
    }

    pub(super) fn cluster(&self, pid: u32) -> DevCluster {
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
pub(super) struct DevLock {
    pub(super) _file: fs::File,
}

/// The rest of [`start_dev`], with the directory locked.
pub(super) async fn start_dev_locked(
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
pub(super) async fn finish_dev(layout: &DevLayout, database: &str) -> Result<(), Error> {
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
pub(super) fn spawn_dev(
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
pub(super) fn open_dev_dir(
    given: &Path,
    run_as: Option<&RunAs>,
) -> Result<(DevLayout, DevLock), Error> {
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
pub(super) fn place_dev(layout: DevLayout, run_as: Option<&RunAs>) -> Result<DevLayout, Error> {
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

/// A new private directory `<base>/cm-dev-<hash>-XXXXXX`, owned by the server's user.
pub(super) fn make_relocated(
    base: &Path,
    hash: &str,
    run_as: Option<&RunAs>,
) -> Result<PathBuf, Error> {
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
pub(super) fn is_relocated(path: &Path, owner: Option<u32>) -> bool {
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
pub(super) fn path_hash(path: &Path) -> String {
    Sha256::digest(path.as_os_str().as_bytes())
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A record in the dev directory: a file holding one path or name.
pub(super) fn read_record(dir: &Path, name: &str) -> Option<PathBuf> {
    let bytes = fs::read(dir.join(name)).ok()?;
    (!bytes.is_empty()).then(|| PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

/// Writes (atomically: a reader sees the old or the new value) or deletes a record.
pub(super) fn write_record(dir: &Path, name: &str, value: Option<&[u8]>) -> Result<(), Error> {
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
pub(super) fn lock_file(path: &Path, deadline: Instant) -> Result<Option<DevLock>, Error> {
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
        match file.try_lock() {
            Ok(()) => break,
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(err)) => {
                return Err(dev_io_error(
                    "cannot lock the dev database's lock file",
                    path,
                    &err,
                ));
            }
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
pub(super) fn dev_postmaster(layout: &DevLayout, clean_stale: bool) -> Result<Option<u32>, Error> {
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
pub(super) fn remove_stale_socket_lock(socket_dir: &Path, data_dir: &Path) {
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

/// Deletes what the dev cluster made: relocated directories, then the dev directory's own
/// entries, then the directory, unless something else is in it.
pub(super) fn remove_dev_dir(layout: &DevLayout) -> Result<(), Error> {
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

pub(super) fn dev_io_error(message: &str, path: &Path, err: &io::Error) -> Error {
    sandbox_error(format!("{message}: {}", io_reason(err)))
        .at_path(path)
        .hint("check the permissions of the directory and of the directories above it")
}
