//! The `docker` disposable PostgreSQL: containers of the official `postgres` image interface
//! (any image that honours POSTGRES_PASSWORD / POSTGRES_DB / PGDATA, port 5432 and a clean
//! shutdown on SIGINT), published on 127.0.0.1 only, durability off for speed.
//!
//! - **Ephemeral sandboxes** ([`DockerPostgres`]) are started with testcontainers and removed
//!   when dropped. Their data lives on tmpfs, or in the layer of a start-up cache image.
//! - **Start-up cache**: the official image runs initdb and a temporary server at every start
//!   (0.6–1.5 s); a container whose cluster is already initialised is up in about 0.35 s. The
//!   first start of an image builds `cargo-migrate-cache/<image>:<tag>` in the background (a
//!   "priming" container without tmpfs, stopped cleanly and committed); later starts use it as
//!   long as its `org.cargo-migrate.cache-source` label is the current id of the image.
//! - **Dev containers** ([`start_dev`]) are named, persistent, and outlive the process; they are
//!   managed with bollard directly (testcontainers would remove them).
//! - **Leftovers**: every container records the process that created it (pid, start time,
//!   host), so [`sweep_leftovers`] can remove those of runs that were killed with SIGKILL.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sqlx::Connection;
use testcontainers::bollard::Docker;
use testcontainers::bollard::errors::Error as DockerError;
use testcontainers::bollard::models::{
    ContainerConfig, ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum,
    HostConfig, ImageInspect, PortBinding, PortMap,
};
use testcontainers::bollard::query_parameters::{
    CommitContainerOptions, CreateContainerOptions, CreateImageOptions, ListContainersOptions,
    ListImagesOptions, LogsOptions, RemoveContainerOptions, RemoveImageOptions,
    StopContainerOptions, TopOptions,
};
use testcontainers::core::{IntoContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, ImageExt};
use tokio::task::JoinHandle;

use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::secrets::redact;

mod cache;
mod daemon;
mod dev;
mod owners;

pub use cache::{cache_image_name, purge_cache};
pub use daemon::{check_daemon, check_socket, image_present};
pub use dev::{DevContainer, dev_status, start_dev, stop_dev};
pub use owners::sweep_leftovers;
// For the signal handler (`super::interrupt`).
pub(crate) use daemon::remove_container_blocking;

// The concerns share helpers and constants: each sees the others' crate-private items.
use cache::*;
use daemon::*;
use owners::*;

/// Every container cargo-migrate starts carries this label (value: the workspace), so leftovers
/// can be found and removed.
pub const LABEL: &str = "org.cargo-migrate.sandbox";
/// Marks dev containers (value `1`): persistent, never swept.
pub const DEV_LABEL: &str = "org.cargo-migrate.dev";
/// The pid of the process that created an ephemeral or priming container.
pub const PID_LABEL: &str = "org.cargo-migrate.pid";
/// The host name of that process (pids only mean something on their own host).
pub const HOST_LABEL: &str = "org.cargo-migrate.host";
/// That process's start time (field 22 of `/proc/<pid>/stat`), so a reused pid is not taken
/// for the creator.
pub const PID_START_LABEL: &str = "org.cargo-migrate.pid-start";
/// On a start-up cache image: the image it was built from (`postgres:15`).
pub const CACHE_OF_LABEL: &str = "org.cargo-migrate.cache-of";
/// On a start-up cache image: the id of that image when the cache was built.
pub const CACHE_SOURCE_LABEL: &str = "org.cargo-migrate.cache-source";
/// On a start-up cache image: how it was built; other values are rebuilt. Bump it when what
/// the cached cluster holds changes (password, database, PGDATA, the way it is primed).
const CACHE_FORMAT_LABEL: &str = "org.cargo-migrate.cache-format";
const CACHE_FORMAT: &str = "1";
/// The repository prefix of start-up cache images.
pub const CACHE_REPOSITORY: &str = "cargo-migrate-cache";
/// Where cache images keep their cluster: outside the image's declared volumes (a volume is
/// not part of `docker commit`), and not the official image's PGDATA, so nothing from the
/// image interface (volume checks of postgres 18+) applies to it.
const CACHE_PGDATA: &str = "/var/lib/cargo-migrate/pgdata";
/// The official image's PGDATA before 18 (18+ sets it in the image's environment).
const DEFAULT_PGDATA: &str = "/var/lib/postgresql/data";
/// The password of sandbox servers. They listen on 127.0.0.1 only.
const PASSWORD: &str = "cargo-migrate";
const DATABASE: &str = "sandbox";
const DEV_DATABASE: &str = "dev";
const PORT: &str = "5432/tcp";
/// Durability off: a sandbox is thrown away, a dev database rebuilt from migrations. A clean
/// stop (`docker stop`, `docker restart`) still writes everything out.
const SERVER_OPTIONS: [&str; 6] = [
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
];
/// The official image's line when the final server is up (it also prints it for the temporary
/// server it runs while initialising, hence the `SELECT 1` that follows).
const READY_LINE: &str = "database system is ready to accept connections";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest a start-up cache build may take (it runs initdb once).
const PRIMING_TIMEOUT: Duration = Duration::from_secs(120);

/// A running PostgreSQL container, removed when dropped.
pub struct DockerPostgres {
    container: ContainerAsync<GenericImage>,
    url: String,
    image: String,
    started_in: Duration,
    from_cache: bool,
    cache_build: Option<CacheBuild>,
}

impl DockerPostgres {
    /// Starts `image` (`name:tag`), labelled with `workspace` and this process, and returns once
    /// `SELECT 1` works.
    ///
    /// When a start-up cache of `image` exists and was built from its current id, the container
    /// starts from it (no initdb; data in the image layer, not on tmpfs): see
    /// [`DockerPostgres::from_cache`]. Otherwise the container starts from `image` with its data
    /// on tmpfs, and the cache is built in the background on this runtime, while the caller
    /// works (2–3 s of a second container: initdb, a clean stop, `docker commit`, and about a
    /// second for the engine to remove the committed container; a current-thread runtime runs
    /// it whenever the caller awaits): [`DockerPostgres::finish_cache`] waits for it and says
    /// how long it took; [`DockerPostgres::remove`] waits for it too; dropping the sandbox
    /// before it is done cancels it.
    pub async fn start(image: &str, workspace: &str) -> Result<DockerPostgres> {
        check_daemon()?;
        // Best effort: containers of runs that were killed (Ctrl-C during a cache build,
        // SIGKILL) go before this run adds its own.
        let _ = sweep_leftovers().await;
        let begun = Instant::now();
        let docker = client().await?;
        let source = inspect_image(&docker, image).await?;
        let mut launched = None;
        if let Some(source) = &source
            && let Some(cache) = usable_cache(&docker, image, source).await
        {
            match launch(cache_request(&cache, workspace)).await {
                Ok(pair) => launched = Some(pair),
                // A cache that does not start is dropped (and rebuilt): the image still works.
                Err(_) => discard_cache(&docker, image).await,
            }
        }
        let from_cache = launched.is_some();
        let (container, url) = match launched {
            Some(pair) => pair,
            None => {
                let pgdata = source
                    .as_ref()
                    .and_then(|source| image_env(source, "PGDATA"))
                    .unwrap_or_else(|| DEFAULT_PGDATA.to_string());
                launch(fresh_request(image, &pgdata, workspace))
                    .await
                    .map_err(|err| err.into_error(image, source.is_none()))?
            }
        };
        let started_in = begun.elapsed();
        let cache_build = if from_cache {
            None
        } else {
            spawn_cache_build(docker, image, workspace, source).await
        };
        Ok(DockerPostgres {
            container,
            url,
            image: image.to_string(),
            started_in,
            from_cache,
            cache_build,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn image(&self) -> &str {
        &self.image
    }

    pub fn container_id(&self) -> &str {
        self.container.id()
    }

    /// From the call to `start` to the first successful `SELECT 1`.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// Whether the container started from the start-up cache image (no initdb).
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// Whether this start is building the start-up cache in the background.
    pub fn building_cache(&self) -> bool {
        self.cache_build.is_some()
    }

    /// Waits for the start-up cache build this start began, if any: `Some(Ok(how long it
    /// took))`, `Some(Err(why not))` (the sandbox itself is unaffected), or `None` when there
    /// was nothing to build. For a status line such as "built a start-up image of postgres:15
    /// in 1.4 s".
    pub async fn finish_cache(&mut self) -> Option<Result<Duration>> {
        finish_build(self.cache_build.take()?).await
    }

    /// Stops and removes the container now (dropping it does the same, in the background),
    /// then waits for a start-up cache build still running (its outcome: [`finish_cache`]).
    ///
    /// [`finish_cache`]: DockerPostgres::finish_cache
    pub async fn remove(self) -> Result<()> {
        let DockerPostgres {
            container,
            image,
            cache_build,
            ..
        } = self;
        tracing::debug!(target: "cargo_migrate::docker", "remove container {}", container.id());
        let removed = container
            .rm()
            .await
            .map_err(|err| LaunchError::Start(redact(&err.to_string())).into_error(&image, false));
        if let Some(build) = cache_build {
            let _ = finish_build(build).await;
        }
        removed
    }
}

/// Why a container did not come up.
enum LaunchError {
    /// testcontainers could not create or start it (credentials already redacted).
    Start(String),
    /// It started but never answered `SELECT 1`.
    Connect(String),
}

impl LaunchError {
    /// `missing`: the image was not there before the start (so testcontainers tried a pull).
    fn into_error(self, image: &str, missing: bool) -> Error {
        match self {
            LaunchError::Start(text) => {
                let missing = missing
                    || text.contains("No such image")
                    || text.contains("pull access denied")
                    || text.contains("not found");
                let what = if missing {
                    format!(
                        "the image {image} is not available locally and could not be pulled: {text}"
                    )
                } else {
                    format!("cannot start a {image} container: {text}")
                };
                Error::new(ErrorClass::Unreachable, ErrorCode::SandboxFailed, what).hint(
                    if missing {
                        "the image is not available locally and could not be pulled: `docker pull` it, or set `image` in [workspace.metadata.migrate]"
                    } else {
                        "check `docker info`, or use --sandbox local"
                    },
                )
            }
            LaunchError::Connect(reason) => Error::new(
                ErrorClass::Unreachable,
                ErrorCode::SandboxFailed,
                format!("the {image} container never accepted a connection: {reason}"),
            )
            .hint(
                "check that the image is a PostgreSQL server image (official `postgres` interface)",
            ),
        }
    }
}

/// What every ephemeral container gets: port 5432 on 127.0.0.1 only, the server options, the
/// password and database, the owner labels.
fn request(
    name: &str,
    tag: &str,
    env: &[(&str, &str)],
    tmpfs: &[String],
    workspace: &str,
) -> ContainerRequest<GenericImage> {
    let mut request = GenericImage::new(name, tag)
        .with_exposed_port(5432.tcp())
        .with_wait_for(WaitFor::message_on_stderr(READY_LINE))
        .with_env_var("POSTGRES_PASSWORD", PASSWORD)
        .with_env_var("POSTGRES_DB", DATABASE)
        .with_labels(owner_labels(workspace))
        .with_startup_timeout(READY_TIMEOUT)
        .with_cmd(SERVER_OPTIONS)
        // testcontainers publishes every port on all addresses; a sandbox is for this host.
        .with_host_config_modifier(|host_config| {
            host_config.publish_all_ports = Some(false);
            host_config.port_bindings = Some(loopback_port());
        });
    for (key, value) in env {
        request = request.with_env_var(*key, *value);
    }
    for path in tmpfs {
        request = request.with_mount(Mount::tmpfs_mount(path.as_str()));
    }
    request
}

/// `image` as is: initdb at start, data on tmpfs at the image's PGDATA.
fn fresh_request(image: &str, pgdata: &str, workspace: &str) -> ContainerRequest<GenericImage> {
    let (name, tag) = split_image(image);
    request(&name, &tag, &[], &[pgdata.to_string()], workspace)
}

async fn launch(
    request: ContainerRequest<GenericImage>,
) -> std::result::Result<(ContainerAsync<GenericImage>, String), LaunchError> {
    // Named and registered before it exists, so a Ctrl-C during the start removes it too.
    let name = format!(
        "cargo-migrate-sandbox-{}-{}",
        std::process::id(),
        SANDBOX_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    watchdog::register(&name);
    tracing::debug!(target: "cargo_migrate::docker", "start container {name}");
    let container = request
        .with_container_name(name)
        .start()
        .await
        .map_err(|err| LaunchError::Start(redact(&err.to_string())))?;
    let port = container
        .get_host_port_ipv4(5432)
        .await
        .map_err(|err| LaunchError::Start(redact(&err.to_string())))?;
    let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/{DATABASE}");
    wait_for_select(&url, CONNECT_TIMEOUT)
        .await
        .map_err(LaunchError::Connect)?;
    Ok((container, url))
}

/// The last lines of a container's output and how it ended, when it is no longer running.
async fn exited(docker: &Docker, container: &str) -> Option<String> {
    let info = docker.inspect_container(container, None).await.ok()?;
    let state = info.state?;
    if state.running.unwrap_or(false) {
        return None;
    }
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: "8".to_string(),
        ..Default::default()
    };
    let mut logs = std::pin::pin!(docker.logs(container, Some(options)));
    let mut text = String::new();
    while let Some(Ok(chunk)) = logs.next().await {
        text.push_str(&chunk.to_string());
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(redact(&format!(
        "the container exited (code {}){}",
        state.exit_code.unwrap_or(-1),
        if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        }
    )))
}

/// One `SELECT 1`, bounded in time.
async fn select_once(url: &str) -> std::result::Result<(), String> {
    let attempt = async {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query("SELECT 1").execute(&mut conn).await?;
        conn.close().await
    };
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(crate::db::driver_reason(&err)),
        Err(_) => Err("no answer within 5 s".to_string()),
    }
}

/// Retries `SELECT 1` until it works: the ready line can come from the image's temporary
/// init server, and port publishing takes a moment.
async fn wait_for_select(url: &str, timeout: Duration) -> std::result::Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        match select_once(url).await {
            Ok(()) => return Ok(()),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(reason) => return Err(reason),
        }
    }
}

/// [`wait_for_select`] for a container started with bollard: also gives up, with its last
/// output, as soon as the container is no longer running.
async fn wait_ready(
    docker: &Docker,
    container: &str,
    url: &str,
    timeout: Duration,
) -> std::result::Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut checked = Instant::now();
    loop {
        match select_once(url).await {
            Ok(()) => return Ok(()),
            Err(reason) => {
                if Instant::now() >= deadline {
                    return Err(reason);
                }
                if checked.elapsed() >= Duration::from_millis(500) {
                    checked = Instant::now();
                    if let Some(exited) = exited(docker, container).await {
                        return Err(exited);
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Numbers the disposable containers of this process (names must be unique).
static SANDBOX_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Disposable containers are removed on Ctrl-C, SIGTERM and SIGQUIT (see [`super::interrupt`]).
mod watchdog {
    pub(super) use crate::sandbox::interrupt::{register, unregister};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_split_into_name_and_tag() {
        assert_eq!(split_image("postgres:15"), ("postgres".into(), "15".into()));
        assert_eq!(
            split_image("postgres"),
            ("postgres".into(), "latest".into())
        );
        assert_eq!(
            split_image("registry.local:5000/pg/postgres:16-alpine"),
            ("registry.local:5000/pg/postgres".into(), "16-alpine".into())
        );
        assert_eq!(
            split_image("registry.local:5000/postgres"),
            ("registry.local:5000/postgres".into(), "latest".into())
        );
    }

    #[test]
    fn cache_images_have_valid_names() {
        assert_eq!(
            cache_image_name("postgres:15"),
            "cargo-migrate-cache/postgres:15"
        );
        assert_eq!(
            cache_image_name("postgres"),
            "cargo-migrate-cache/postgres:latest"
        );
        assert_eq!(
            cache_image_name("Registry.local:5000/pg/postgres:16-alpine"),
            "cargo-migrate-cache/registry-local-5000-pg-postgres:16-alpine"
        );
        assert_eq!(
            cache_image_name("cargo-migrate-test/pg:cachetest"),
            "cargo-migrate-cache/cargo-migrate-test-pg:cachetest"
        );
        assert_eq!(cache_image_name("__:-x"), "cargo-migrate-cache/image:_-x");
    }

    #[test]
    fn a_declared_volume_over_the_cache_cluster_prevents_caching() {
        let with_volumes = |volumes: &[&str]| ImageInspect {
            config: Some(testcontainers::bollard::models::ImageConfig {
                volumes: Some(volumes.iter().map(ToString::to_string).collect()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(cacheable(&with_volumes(&["/var/lib/postgresql/data"])));
        assert!(cacheable(&with_volumes(&["/var/lib/postgresql"])));
        assert!(cacheable(&with_volumes(&[])));
        assert!(!cacheable(&with_volumes(&["/var/lib"])));
        assert!(!cacheable(&with_volumes(&["/var/lib/cargo-migrate/"])));
        assert!(!cacheable(&with_volumes(&["/"])));
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        let me = std::process::id();
        assert!(process_alive(me, process_start(me).as_deref()));
        assert!(
            !process_alive(me, Some("1")),
            "another start time: a reused pid"
        );
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        assert!(!process_alive(pid, None));
    }
}
