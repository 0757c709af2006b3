//! SQLite's run-level lock: an exclusive `flock(2)` on a sidecar file next to the database,
//! `<database>.migrate-lock`, held from before the history is read until the command ends.
//!
//! Why a sidecar file and `flock`, not a lock row in the database or SQLite's own locks:
//! - SQLite's write lock cannot be held for a whole run: a no-transaction migration must run
//!   statement by statement in autocommit, and our own migration connection needs the lock.
//! - A lock row (taken under `BEGIN IMMEDIATE`) survives a killed process; telling a stale
//!   row from a live one needs pid + host checks that fail across hosts and on pid reuse.
//!   A `flock` is released by the kernel when the process exits, however it exits.
//! - POSIX `fcntl` locks on the database file itself would collide with SQLite's own (they
//!   are per process and dropped when *any* descriptor of the file closes); `flock` on another
//!   file touches nothing SQLite does.
//!
//! The holder writes `pid=… host=… since=…` into the file so a process that times out can
//! say who holds it. The file is removed when the lock is released; a lock taken on a file
//! that was removed meanwhile (its inode is no longer at the path) is dropped and taken again.

use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
#[cfg(unix)]
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorClass, ErrorCode, Result, display_path, io_reason};

/// The sidecar lock file of the SQLite database at `database`.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_os_string();
    name.push(".migrate-lock");
    PathBuf::from(name)
}

/// A held run lock; released (and its file removed) when dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock on `database`'s sidecar file, polling until `timeout` has passed.
    pub async fn acquire(database: &Path, timeout: Duration) -> Result<RunLock> {
        let path = lock_path(database);
        let deadline = super::deadline_after(timeout);
        let mut pause = Duration::from_millis(10);
        loop {
            if let Some(lock) = try_lock(&path)? {
                return Ok(lock);
            }
            if Instant::now() >= deadline {
                return Err(timeout_error(database, &path, timeout));
            }
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Remove the file while still holding the lock (so nobody locks it in between and
        // then loses it), and only if it is still ours. Closing the descriptor unlocks.
        if same_file(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// One attempt: `Some` when the lock is ours, `None` when another process holds it (or the
/// file was replaced while we locked it: try again).
fn try_lock(path: &Path) -> Result<Option<RunLock>> {
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    options.mode(0o644);
    let mut file = options
        .open(path)
        .map_err(|err| lock_io_error("cannot open the migration lock file", path, &err))?;
    // std's File::try_lock is flock(2) on Unix and LockFileEx on Windows.
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Ok(None),
        Err(fs::TryLockError::Error(err)) => {
            return Err(lock_io_error(
                "cannot lock the migration lock file",
                path,
                &err,
            ));
        }
    }
    if !same_file(&file, path) {
        // The previous holder removed the file between our open and our lock.
        return Ok(None);
    }
    // Who holds it, for the message of a process that gives up waiting. Best effort: the
    // lock itself is what counts.
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = writeln!(file, "{}", holder_line());
    let _ = file.flush();
    Ok(Some(RunLock {
        file,
        path: path.to_path_buf(),
    }))
}

/// Whether `path` still names the open `file`.
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// `pid=123 host=web-1 since=2026-11-22T10:00:00Z`
fn holder_line() -> String {
    format!(
        "pid={} host={} since={}",
        std::process::id(),
        host_name().unwrap_or_else(|| "unknown".to_string()),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> bool {
    // Windows does not let another process delete a file this one holds open (std opens
    // without FILE_SHARE_DELETE), so the file cannot have been replaced under the lock.
    true
}

fn host_name() -> Option<String> {
    #[cfg(unix)]
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    #[cfg(not(unix))]
    let name = std::env::var("COMPUTERNAME").unwrap_or_default();
    (!name.is_empty()).then_some(name)
}

/// "pid 123 on web-1, since 2026-11-22T10:00:00Z", from what the holder wrote.
fn describe_holder(path: &Path) -> Option<String> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    let field = |key: &str| {
        text.split_whitespace()
            .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    };
    let pid = field("pid")?;
    let mut out = format!("pid {pid}");
    if let Some(host) = field("host") {
        out.push_str(&format!(" on {host}"));
    }
    if let Some(since) = field("since") {
        out.push_str(&format!(", since {since}"));
    }
    Some(out)
}

fn timeout_error(database: &Path, path: &Path, timeout: Duration) -> Error {
    let holder = describe_holder(path);
    Error::new(
        ErrorClass::Unreachable,
        ErrorCode::LockTimeout,
        format!(
            "another migration run holds the lock on {} (waited {} s){}",
            display_path(database),
            timeout.as_secs(),
            holder.map(|h| format!(": {h}")).unwrap_or_default()
        ),
    )
    .at_path(path)
    .hint("wait for it to finish, raise --lock-timeout, or stop that process (the lock is released when it exits)")
}

fn lock_io_error(action: &str, path: &Path, err: &io::Error) -> Error {
    Error::new(
        ErrorClass::Unreachable,
        ErrorCode::DatabaseError,
        format!("{action}: {}", io_reason(err)),
    )
    .at_path(path)
    .hint(
        "the directory of the database file must be writable (SQLite needs it for its journal too)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn second_holder_times_out_naming_the_first_then_gets_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("app.db");
        let runtime = runtime();
        let first = runtime
            .block_on(RunLock::acquire(&db, Duration::ZERO))
            .unwrap();
        assert_eq!(first.path(), dir.path().join("app.db.migrate-lock"));
        let error = runtime
            .block_on(RunLock::acquire(&db, Duration::from_millis(50)))
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::LockTimeout);
        assert_eq!(error.exit_code(), 3);
        assert!(
            error
                .message
                .contains(&format!("pid {} on ", std::process::id())),
            "{}",
            error.message
        );
        drop(first);
        assert!(!dir.path().join("app.db.migrate-lock").exists());
        let again = runtime.block_on(RunLock::acquire(&db, Duration::ZERO));
        assert!(again.is_ok());
    }

    #[test]
    fn unwritable_directory_is_a_clear_error() {
        let error = runtime()
            .block_on(RunLock::acquire(
                Path::new("/nonexistent-dir/app.db"),
                Duration::ZERO,
            ))
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::DatabaseError);
        assert!(
            error
                .message
                .starts_with("cannot open the migration lock file")
        );
    }
}
