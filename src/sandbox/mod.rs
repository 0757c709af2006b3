//! Disposable databases: what commands use when no database URL is given.
//!
//! Providers: [`docker`] runs a PostgreSQL container (testcontainers); [`local`] runs a
//! throw-away PostgreSQL cluster from the machine's own server binaries; SQLite sets use a
//! file. The **dev database** is one such database per workspace set, kept between commands
//! (`cargo migrate db start|stop|status|url`), so `up`, `status` and `down` see the same state.

pub mod docker;
pub mod interrupt;
#[cfg(unix)]
pub mod local;
// Elsewhere, the same API reports that the local sandbox needs Unix.
#[cfg(not(unix))]
#[path = "local_unsupported.rs"]
pub mod local;
pub mod scratch;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dialect::Dialect;
use crate::error::{Error, ErrorClass, ErrorCode, Result};

/// `--sandbox`: which kind of disposable database to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxKind {
    /// Docker if its daemon answers, else local PostgreSQL binaries, else an error.
    Auto,
    Docker,
    Local,
    Sqlite,
}

impl FromStr for SandboxKind {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        match text {
            "auto" => Ok(SandboxKind::Auto),
            "docker" => Ok(SandboxKind::Docker),
            "local" => Ok(SandboxKind::Local),
            "sqlite" => Ok(SandboxKind::Sqlite),
            _ => Err(format!(
                "unknown sandbox `{text}`; expected auto, docker, local or sqlite"
            )),
        }
    }
}

/// A provider, once `auto` is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Docker,
    Local,
    Sqlite,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Docker => "docker",
            Provider::Local => "local",
            Provider::Sqlite => "sqlite",
        }
    }
}

/// Decides the provider for a set of `dialect`. SQLite sets always use a file.
pub fn resolve(kind: SandboxKind, dialect: Dialect) -> Result<Provider> {
    match (dialect, kind) {
        (Dialect::Sqlite, SandboxKind::Auto | SandboxKind::Sqlite) => Ok(Provider::Sqlite),
        (Dialect::Sqlite, other) => Err(Error::input(
            ErrorCode::BadArgument,
            format!(
                "--sandbox {} is for PostgreSQL; this set is SQLite",
                kind_name(other)
            ),
        )
        .at("--sandbox")
        .hint("SQLite sets use a file: drop --sandbox, or pass --sandbox sqlite")),
        (Dialect::Postgres, SandboxKind::Sqlite) => Err(Error::input(
            ErrorCode::BadArgument,
            "--sandbox sqlite cannot run a PostgreSQL set",
        )
        .at("--sandbox")
        .hint("use --sandbox docker or --sandbox local, or pass --database-url")),
        (Dialect::Postgres, SandboxKind::Docker) => Ok(Provider::Docker),
        (Dialect::Postgres, SandboxKind::Local) => Ok(Provider::Local),
        (Dialect::Postgres, SandboxKind::Auto) => {
            if docker::check_daemon().is_ok() {
                Ok(Provider::Docker)
            } else if local::find_binaries(None).is_some() {
                Ok(Provider::Local)
            } else {
                Err(Error::new(
                    ErrorClass::Unreachable,
                    ErrorCode::NoSandbox,
                    "no database URL, and no way to start a disposable PostgreSQL: Docker does not answer and no PostgreSQL server binaries are installed",
                )
                .at("--sandbox auto")
                .hint("start Docker, or install PostgreSQL (Debian: apt-get install postgresql), or pass --database-url"))
            }
        }
        (Dialect::Mysql, _) => Err(Error::input(
            ErrorCode::UnsupportedDialect,
            "disposable MySQL/MariaDB databases are not supported yet",
        )
        .at("--sandbox")
        .hint("pass --database-url")),
    }
}

fn kind_name(kind: SandboxKind) -> &'static str {
    match kind {
        SandboxKind::Auto => "auto",
        SandboxKind::Docker => "docker",
        SandboxKind::Local => "local",
        SandboxKind::Sqlite => "sqlite",
    }
}

/// The Docker image for PostgreSQL sandboxes: the configured one, else the official image of
/// the live server's major version when one is known, else of the locally installed
/// PostgreSQL (so its psql and pg_dump match), else a current release.
pub fn default_image(configured: Option<&str>, live_major: Option<&str>) -> String {
    if let Some(image) = configured {
        return image.to_string();
    }
    let major = live_major
        .map(str::to_string)
        .or_else(|| local::find_binaries(None).and_then(|bin| local::server_version(&bin).ok()));
    format!("postgres:{}", major.as_deref().unwrap_or(DEFAULT_MAJOR))
}

/// The PostgreSQL major version used when nothing else says which.
pub const DEFAULT_MAJOR: &str = "17";

/// Where a set's dev database lives: a state directory in the user's cache, and the Docker
/// container name; both derived from the workspace root and the set's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevKey {
    pub dir: PathBuf,
    pub container: String,
    /// The value of the containers' workspace label.
    pub workspace: String,
}

impl DevKey {
    pub fn new(workspace_root: &Path, set_dir: &Path) -> DevKey {
        let digest = Sha256::digest(
            format!("{}\0{}", workspace_root.display(), set_dir.display()).as_bytes(),
        );
        let short = crate::migration::checksum::to_hex(&digest[..8]);
        DevKey {
            dir: cache_dir().join("dev").join(&short),
            container: format!("cargo-migrate-dev-{short}"),
            workspace: workspace_root.display().to_string(),
        }
    }

    fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn sqlite_file(&self) -> PathBuf {
        self.dir.join("dev.sqlite3")
    }

    fn sqlite_url(&self) -> String {
        format!("sqlite:{}?mode=rwc", self.sqlite_file().display())
    }
}

/// `$XDG_CACHE_HOME/cargo-migrate`, else `~/.cache/cargo-migrate`, else the temp dir's.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    base.join("cargo-migrate")
}

/// What `state.json` records about a dev database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevState {
    pub provider: Provider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// A running dev database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dev {
    pub provider: Provider,
    /// Not for printing: may hold the sandbox's password (registered with `secrets`).
    #[serde(skip)]
    pub url: String,
    pub image: Option<String>,
}

fn read_state(key: &DevKey) -> Option<DevState> {
    let text = std::fs::read_to_string(key.state_file()).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_state(key: &DevKey, state: &DevState) -> Result<()> {
    std::fs::create_dir_all(&key.dir)
        .and_then(|()| {
            std::fs::write(
                key.state_file(),
                serde_json::to_string(state).unwrap_or_default(),
            )
        })
        .map_err(|err| {
            Error::io(
                ErrorCode::SandboxFailed,
                "write the dev database's state",
                &key.dir,
                &err,
            )
            .hint("check that the cache directory is writable (XDG_CACHE_HOME)")
        })
}

/// The kind `auto` uses for the set's dev database: the kind used last, while its database
/// exists (so `cargo migrate --sandbox local up` then `cargo migrate status` see the same
/// database), else `None` (the usual choice: Docker, then local binaries).
pub fn dev_preferred(key: &DevKey) -> Option<Provider> {
    let state = read_state(key)?;
    let exists = match state.provider {
        Provider::Sqlite => key.sqlite_file().exists(),
        Provider::Local => key.dir.join("postgres").exists(),
        // The container outlives our records; whether it exists is the daemon's to say.
        Provider::Docker => docker::check_daemon().is_ok(),
    };
    exists.then_some(state.provider)
}

/// Starts the set's dev database of `provider`, or returns it when it runs already. Each
/// kind has its own dev database (a SQLite file, a local cluster's directory, a named
/// container), so choosing another kind never touches the others; the choice is recorded
/// for [`dev_preferred`]. `bool`: whether it was started now.
/// `notify` receives one-line progress notes worth showing (an image being pulled).
pub async fn dev_start(
    key: &DevKey,
    provider: Provider,
    image: &str,
    notify: &dyn Fn(&str),
) -> Result<(Dev, bool)> {
    // An interruption at any moment leaves a dev database we find again, or none.
    interrupt::install();
    let previous = read_state(key);
    let (url, started, image) = match provider {
        Provider::Sqlite => {
            std::fs::create_dir_all(&key.dir).map_err(|err| {
                Error::io(
                    ErrorCode::SandboxFailed,
                    "create the dev database's directory",
                    &key.dir,
                    &err,
                )
            })?;
            let file = key.sqlite_file();
            let started = !file.exists();
            // An empty file is an empty SQLite database: "started", for every command.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .map_err(|err| {
                    Error::io(
                        ErrorCode::SandboxFailed,
                        "create the dev database",
                        &file,
                        &err,
                    )
                })?;
            (key.sqlite_url(), started, None)
        }
        Provider::Local => {
            let (cluster, started) = local::start_dev(
                &key.dir.join("postgres"),
                local::LocalOptions {
                    template_cache: Some(cache_dir().join("templates")),
                    database: "dev".to_string(),
                    ..local::LocalOptions::default()
                },
            )
            .await?;
            (cluster.url, started, None)
        }
        Provider::Docker => {
            if !docker::image_present(image).await? {
                notify(&format!("pulling {image}: it is not present locally"));
            }
            let (container, started) =
                docker::start_dev(image, &key.container, &key.workspace).await?;
            (container.url, started, Some(container.image))
        }
    };
    // The Docker image is kept while another kind is in use: it describes the container.
    let recorded_image = image
        .clone()
        .or_else(|| previous.and_then(|state| state.image));
    write_state(
        key,
        &DevState {
            provider,
            image: recorded_image,
        },
    )?;
    Ok((
        Dev {
            provider,
            url,
            image,
        },
        started,
    ))
}

/// The set's running dev databases, at most one per kind, the one `auto` uses first. Found
/// where each kind lives (the file, the cluster's directory, the container's name), not from
/// our records, so a start that was interrupted before it recorded anything is found too.
/// Docker is asked only when its daemon answers.
pub async fn dev_status(key: &DevKey) -> Result<Vec<Dev>> {
    let state = read_state(key);
    let mut found = Vec::new();
    if key.sqlite_file().exists() {
        found.push(Dev {
            provider: Provider::Sqlite,
            url: key.sqlite_url(),
            image: None,
        });
    }
    if let Some(cluster) = local::dev_status(&key.dir.join("postgres")).await? {
        found.push(Dev {
            provider: Provider::Local,
            url: cluster.url,
            image: None,
        });
    }
    if docker::check_daemon().is_ok()
        && let Some(container) = docker::dev_status(&key.container).await?
    {
        found.push(Dev {
            provider: Provider::Docker,
            url: container.url,
            image: Some(container.image),
        });
    }
    if let Some(state) = state {
        found.sort_by_key(|dev| dev.provider != state.provider);
    }
    Ok(found)
}

/// What [`dev_stop`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stopped {
    /// The dev databases stopped (their data deleted), by kind.
    pub databases: Vec<Provider>,
    /// How many cached Docker images `purge` removed; `None` without `purge`, or when
    /// Docker does not answer.
    pub purged_images: Option<usize>,
}

/// Stops the set's dev databases and deletes their data: every kind's, or only `only`'s.
/// Like [`dev_status`], each kind is looked for where it lives, so one whose start was
/// interrupted (or whose records were lost) is removed too. `purge` also removes
/// cargo-migrate's cached Docker images.
pub async fn dev_stop(key: &DevKey, only: Option<Provider>, purge: bool) -> Result<Stopped> {
    let wanted = |provider: Provider| only.is_none_or(|only| only == provider);
    let mut stopped = Stopped::default();
    let docker_answers = docker::check_daemon().is_ok();
    if wanted(Provider::Docker) && docker_answers && docker::stop_dev(&key.container).await? {
        stopped.databases.push(Provider::Docker);
    }
    let cluster = key.dir.join("postgres");
    if wanted(Provider::Local) && cluster.exists() {
        // Running or not (say after a reboot), its data is deleted: that is worth saying.
        local::stop_dev(&cluster)?;
        stopped.databases.push(Provider::Local);
    }
    let file = key.sqlite_file();
    if wanted(Provider::Sqlite) && file.exists() {
        std::fs::remove_file(&file).map_err(|err| {
            Error::io(
                ErrorCode::SandboxFailed,
                "delete the dev database",
                &file,
                &err,
            )
        })?;
        stopped.databases.push(Provider::Sqlite);
    }
    if purge && docker_answers {
        stopped.purged_images = Some(docker::purge_cache().await?);
    }
    // The records go with the last database; a kept one keeps them.
    let kept = [
        key.sqlite_file().exists(),
        cluster.exists(),
        only.is_some_and(|only| only != Provider::Docker),
    ];
    if !kept.contains(&true) && key.dir.exists() {
        std::fs::remove_dir_all(&key.dir).map_err(|err| {
            Error::io(
                ErrorCode::SandboxFailed,
                "delete the dev database",
                &key.dir,
                &err,
            )
        })?;
    }
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_sets_always_use_a_file() {
        assert_eq!(
            resolve(SandboxKind::Auto, Dialect::Sqlite).unwrap(),
            Provider::Sqlite
        );
        let err = resolve(SandboxKind::Docker, Dialect::Sqlite).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadArgument);
        let err = resolve(SandboxKind::Sqlite, Dialect::Postgres).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadArgument);
        assert_eq!(
            resolve(SandboxKind::Local, Dialect::Postgres).unwrap(),
            Provider::Local
        );
    }

    #[test]
    fn configured_image_wins_then_live_major() {
        assert_eq!(
            default_image(Some("postgres:16-alpine"), Some("15")),
            "postgres:16-alpine"
        );
        assert_eq!(default_image(None, Some("14")), "postgres:14");
    }

    #[test]
    fn dev_keys_differ_per_set_and_are_stable() {
        let a = DevKey::new(Path::new("/w"), Path::new("/w/a/migrations"));
        let b = DevKey::new(Path::new("/w"), Path::new("/w/b/migrations"));
        assert_ne!(a.dir, b.dir);
        assert_eq!(
            a,
            DevKey::new(Path::new("/w"), Path::new("/w/a/migrations"))
        );
        assert!(a.container.starts_with("cargo-migrate-dev-"));
    }

    fn key_in(dir: &Path) -> DevKey {
        DevKey {
            dir: dir.join("dev"),
            container: "cargo-migrate-dev-unit-test-never-created".to_string(),
            workspace: dir.display().to_string(),
        }
    }

    #[test]
    fn auto_keeps_the_kind_used_last_while_its_database_exists() {
        let temp = tempfile::tempdir().unwrap();
        let key = key_in(temp.path());
        assert_eq!(dev_preferred(&key), None, "nothing recorded");
        let state = |provider| DevState {
            provider,
            image: None,
        };
        write_state(&key, &state(Provider::Local)).unwrap();
        assert_eq!(dev_preferred(&key), None, "no local cluster's directory");
        std::fs::create_dir_all(key.dir.join("postgres")).unwrap();
        assert_eq!(dev_preferred(&key), Some(Provider::Local));
        write_state(&key, &state(Provider::Sqlite)).unwrap();
        assert_eq!(dev_preferred(&key), None, "no SQLite file");
        std::fs::write(key.sqlite_file(), b"").unwrap();
        assert_eq!(dev_preferred(&key), Some(Provider::Sqlite));
    }

    #[test]
    fn stopping_one_kind_keeps_the_others_and_the_records() {
        let temp = tempfile::tempdir().unwrap();
        let key = key_in(temp.path());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (dev, started) = runtime
            .block_on(dev_start(&key, Provider::Sqlite, "unused", &|_| {}))
            .unwrap();
        assert!(started);
        assert_eq!(dev.provider, Provider::Sqlite);
        // Another kind's leftovers (no cluster runs there: only its directory).
        std::fs::create_dir_all(key.dir.join("postgres")).unwrap();
        let stopped = runtime
            .block_on(dev_stop(&key, Some(Provider::Sqlite), false))
            .unwrap();
        assert_eq!(stopped.databases, vec![Provider::Sqlite]);
        assert_eq!(stopped.purged_images, None);
        assert!(!key.sqlite_file().exists());
        assert!(key.dir.join("postgres").exists(), "the local one is kept");
        assert!(
            key.state_file().exists(),
            "records stay with a kept database"
        );
    }
}
