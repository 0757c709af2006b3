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

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::Connection;

use crate::error::{Error, ErrorClass, ErrorCode, io_reason};

mod binaries;
mod cluster;
mod dev;
mod privileges;
mod process;
mod template;

pub use binaries::{find_binaries, server_version};
pub use cluster::LocalPostgres;
pub use dev::{DevCluster, dev_status, start_dev, stop_dev};

// The concerns share helpers and constants: each sees the others' crate-private items.
use binaries::*;
use cluster::*;
use privileges::*;
use process::*;
use template::*;

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

/// Runs blocking start-up work (binary discovery, initdb, copies) off the async workers.
async fn blocking<T: Send + 'static>(
    kind: Kind,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| sandbox_error(format!("the {} could not be prepared: {err}", kind.name())))?
}

fn sandbox_error(message: impl Into<String>) -> Error {
    Error::new(ErrorClass::Unreachable, ErrorCode::SandboxFailed, message)
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
