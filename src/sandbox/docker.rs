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
use std::os::unix::net::UnixStream;
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

/// A persistent dev container (see [`start_dev`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevContainer {
    /// `postgres://postgres:…@127.0.0.1:<port>/dev`; the port changes when the container is
    /// started again (Docker picks a free one at every start).
    pub url: String,
    pub id: String,
    pub name: String,
    /// The image the container was created from (which may differ from the one asked for:
    /// an existing container is kept as it is).
    pub image: String,
}

/// Starts (or finds) the dev container `name` (e.g. `cargo-migrate-dev-<hash>`) from `image`,
/// labelled `LABEL=workspace` and `org.cargo-migrate.dev=1`, published on 127.0.0.1 with a
/// random host port, data in the image's volume (not tmpfs: it survives `docker restart`),
/// durability settings off as in [`DockerPostgres::start`], and not removed when this process
/// exits. A running container is returned as it is (`false`), a stopped one is started, a
/// missing one created (pulling `image` if needed). Returns once `SELECT 1` works; `bool`:
/// whether it was started or created now.
pub async fn start_dev(image: &str, name: &str, workspace: &str) -> Result<(DevContainer, bool)> {
    check_daemon()?;
    // Best effort: leftovers of killed runs go before we add one more container.
    let _ = sweep_leftovers().await;
    let docker = client().await?;
    let mut lost_race = false;
    loop {
        let started = match inspect_container(&docker, name).await? {
            Some(info) => {
                ensure_dev(&info, name)?;
                match info.state.as_ref().and_then(|state| state.status) {
                    Some(ContainerStateStatusEnum::RUNNING)
                    | Some(ContainerStateStatusEnum::RESTARTING) => false,
                    Some(ContainerStateStatusEnum::PAUSED) => {
                        docker.unpause_container(name).await.map_err(|err| {
                            docker_error(&format!("cannot unpause the dev container {name}"), &err)
                        })?;
                        false
                    }
                    _ => {
                        start_container(&docker, name).await?;
                        true
                    }
                }
            }
            None => {
                ensure_image(&docker, image).await?;
                match create_dev(&docker, image, name, workspace).await {
                    Ok(()) => {}
                    // Another process created it meanwhile: use that one.
                    Err(err) if is_status(&err, 409) && !lost_race => {
                        lost_race = true;
                        continue;
                    }
                    Err(err) => {
                        return Err(docker_error(
                            &format!("cannot create the dev container {name} from {image}"),
                            &err,
                        ));
                    }
                }
                start_container(&docker, name).await?;
                true
            }
        };
        let info = inspect_container(&docker, name).await?.ok_or_else(|| {
            sandbox_error(format!(
                "the dev container {name} disappeared while starting"
            ))
        })?;
        let dev = dev_container(&info, name).ok_or_else(|| {
            sandbox_error(format!(
                "the dev container {name} publishes no port 5432 on 127.0.0.1"
            ))
            .hint(format!(
                "remove it (`docker rm -f {name}`, or `cargo migrate db stop`) so it is created again"
            ))
        })?;
        wait_ready(&docker, name, &dev.url, READY_TIMEOUT)
            .await
            .map_err(|reason| {
                sandbox_error(format!(
                    "the dev container {name} never accepted a connection: {reason}"
                ))
                .hint("see `docker logs` of the container; check that the image is a PostgreSQL server image (official `postgres` interface)")
            })?;
        return Ok((dev, started));
    }
}

/// The running dev container `name`, if any.
pub async fn dev_status(name: &str) -> Result<Option<DevContainer>> {
    check_daemon()?;
    let docker = client().await?;
    let Some(info) = inspect_container(&docker, name).await? else {
        return Ok(None);
    };
    if !is_dev(&info) || !is_running(&info) {
        return Ok(None);
    }
    Ok(dev_container(&info, name))
}

/// Removes the dev container `name` (force, with its anonymous volumes: its data). Ok(false)
/// if there is none.
pub async fn stop_dev(name: &str) -> Result<bool> {
    check_daemon()?;
    let docker = client().await?;
    let Some(info) = inspect_container(&docker, name).await? else {
        return Ok(false);
    };
    ensure_dev(&info, name)?;
    tracing::debug!(target: "cargo_migrate::docker", "remove container {name}");
    match docker.remove_container(name, Some(remove_options())).await {
        Ok(()) => Ok(true),
        Err(err) if is_status(&err, 404) => Ok(false),
        Err(err) => Err(docker_error(
            &format!("cannot remove the dev container {name}"),
            &err,
        )),
    }
}

/// Removes containers labelled [`LABEL`] that are not dev containers and whose creating process
/// (labels [`PID_LABEL`], [`HOST_LABEL`], [`PID_START_LABEL`]) no longer runs on this host:
/// leftovers of runs killed with SIGKILL. Containers of other hosts, or without those labels,
/// are kept. Returns how many were removed.
pub async fn sweep_leftovers() -> Result<usize> {
    check_daemon()?;
    let docker = client().await?;
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![LABEL.to_string()],
        )])),
        ..Default::default()
    };
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(|err| docker_error("cannot list cargo-migrate's containers", &err))?;
    let host = host_name();
    let mut removed = 0;
    for container in containers {
        let labels = container.labels.unwrap_or_default();
        if labels.contains_key(DEV_LABEL) || labels.get(HOST_LABEL) != Some(&host) {
            continue;
        }
        let Some(pid) = labels
            .get(PID_LABEL)
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if process_alive(pid, labels.get(PID_START_LABEL).map(String::as_str)) {
            continue;
        }
        let Some(id) = container.id else { continue };
        match docker.remove_container(&id, Some(remove_options())).await {
            Ok(()) => removed += 1,
            // Gone already, or being removed by someone else.
            Err(err) if is_status(&err, 404) || is_status(&err, 409) => {}
            Err(err) => return Err(docker_error("cannot remove a leftover container", &err)),
        }
    }
    Ok(removed)
}

/// Removes the start-up cache images (all of them; for `db stop --purge`). Images still used by
/// a running container are kept. Returns how many were removed.
pub async fn purge_cache() -> Result<usize> {
    check_daemon()?;
    let docker = client().await?;
    let options = ListImagesOptions {
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![CACHE_OF_LABEL.to_string()],
        )])),
        ..Default::default()
    };
    let images = docker
        .list_images(Some(options))
        .await
        .map_err(|err| docker_error("cannot list the start-up cache images", &err))?;
    let mut removed = 0;
    for image in images {
        let options = RemoveImageOptions {
            force: true,
            ..Default::default()
        };
        match docker.remove_image(&image.id, Some(options), None).await {
            Ok(_) => removed += 1,
            Err(err) if is_status(&err, 404) || is_status(&err, 409) => {}
            Err(err) => {
                return Err(docker_error("cannot remove a start-up cache image", &err));
            }
        }
    }
    Ok(removed)
}

/// The start-up cache image of `image`: `cargo-migrate-cache/<name>:<tag>`, with the name
/// reduced to what a repository path component allows (`registry:5000/pg/postgres` →
/// `registry-5000-pg-postgres`).
pub fn cache_image_name(image: &str) -> String {
    let (name, tag) = split_image(image);
    let mut repo = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            repo.push(c.to_ascii_lowercase());
        } else if !repo.is_empty() && !repo.ends_with('-') {
            repo.push('-');
        }
    }
    let repo = repo.trim_end_matches('-');
    let repo = if repo.is_empty() { "image" } else { repo };
    let mut tag: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(127)
        .collect();
    if tag.starts_with(['.', '-']) || tag.is_empty() {
        tag.insert(0, '_');
    }
    format!("{CACHE_REPOSITORY}/{repo}:{tag}")
}

// --- Ephemeral containers -------------------------------------------------------------------

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

/// A usable start-up cache image.
struct CacheImage {
    name: String,
    tag: String,
    volumes: Vec<String>,
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

/// The cache image: its cluster is in the image layer (overlayfs), so no tmpfs over it; the
/// declared volumes get a tmpfs each instead of an anonymous volume that would outlive a
/// killed run. The image's USER is the server's, so the entrypoint changes no ownership (a
/// `chown -R` would copy every file up from the image layer).
fn cache_request(cache: &CacheImage, workspace: &str) -> ContainerRequest<GenericImage> {
    request(
        &cache.name,
        &cache.tag,
        &[("PGDATA", CACHE_PGDATA)],
        &cache.volumes,
        workspace,
    )
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

// --- Start-up cache -------------------------------------------------------------------------

/// The cache image of `image`, when it exists and was built from `source` (its current id).
async fn usable_cache(docker: &Docker, image: &str, source: &ImageInspect) -> Option<CacheImage> {
    let source_id = source.id.as_deref()?;
    let cache = cache_matches(docker, image, source_id).await?;
    let (name, tag) = split_image(&cache_image_name(image));
    Some(CacheImage {
        name,
        tag,
        volumes: image_volumes(&cache),
    })
}

async fn cache_matches(docker: &Docker, image: &str, source_id: &str) -> Option<ImageInspect> {
    let cache = docker.inspect_image(&cache_image_name(image)).await.ok()?;
    let labels = cache.config.as_ref()?.labels.as_ref()?;
    let label = |key: &str| labels.get(key).map(String::as_str);
    (label(CACHE_OF_LABEL) == Some(image)
        && label(CACHE_SOURCE_LABEL) == Some(source_id)
        && label(CACHE_FORMAT_LABEL) == Some(CACHE_FORMAT))
    .then_some(cache)
}

async fn discard_cache(docker: &Docker, image: &str) {
    let options = RemoveImageOptions {
        force: true,
        ..Default::default()
    };
    let _ = docker
        .remove_image(&cache_image_name(image), Some(options), None)
        .await;
}

/// Whether a cluster at [`CACHE_PGDATA`] would end up in a commit of `image`'s containers:
/// not when a declared volume covers it.
fn cacheable(source: &ImageInspect) -> bool {
    image_volumes(source).iter().all(|volume| {
        let volume = volume.trim_end_matches('/');
        !(volume.is_empty()
            || CACHE_PGDATA == volume
            || CACHE_PGDATA.starts_with(&format!("{volume}/")))
    })
}

/// A background build of a start-up cache image. Dropping it before it is done cancels it and
/// removes its priming container.
struct CacheBuild {
    task: Option<JoinHandle<Result<Duration>>>,
    container: String,
    /// Set just before the priming container is created.
    create_requested: Arc<AtomicBool>,
}

impl Drop for CacheBuild {
    fn drop(&mut self) {
        if let Some(task) = self.task.take()
            && !task.is_finished()
        {
            task.abort();
            if !self.create_requested.load(Ordering::SeqCst) {
                return;
            }
            let name = self.container.clone();
            // The caller's runtime may be the current thread, blocked right here: a thread of
            // its own, with its own client, does the removal.
            let _ = std::thread::spawn(move || remove_container_blocking(&name)).join();
        }
    }
}

async fn finish_build(mut build: CacheBuild) -> Option<Result<Duration>> {
    let task = build.task.take()?;
    Some(match task.await {
        Ok(outcome) => outcome,
        Err(err) => {
            if let Ok(docker) = client().await {
                let _ = docker
                    .remove_container(&build.container, Some(remove_options()))
                    .await;
            }
            Err(cache_error(format!(
                "the start-up cache build stopped: {err}"
            )))
        }
    })
}

/// Images whose cache this process is building: one build per image at a time.
static BUILDING: Mutex<Vec<String>> = Mutex::new(Vec::new());
static PRIMING_COUNTER: AtomicU32 = AtomicU32::new(0);

/// This process's claim on building the cache of an image; released when dropped.
struct BuildClaim(String);

impl BuildClaim {
    fn take(image: &str) -> Option<BuildClaim> {
        let mut building = BUILDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if building.iter().any(|other| other == image) {
            return None;
        }
        building.push(image.to_string());
        Some(BuildClaim(image.to_string()))
    }
}

impl Drop for BuildClaim {
    fn drop(&mut self) {
        let mut building = BUILDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        building.retain(|other| *other != self.0);
    }
}

/// Starts building the cache of `image` on the current runtime, unless it cannot be cached
/// (no id, PGDATA under a declared volume) or this process builds it already.
async fn spawn_cache_build(
    docker: Docker,
    image: &str,
    workspace: &str,
    source: Option<ImageInspect>,
) -> Option<CacheBuild> {
    // Pulled by this start: look again.
    let source = match source {
        Some(source) => source,
        None => inspect_image(&docker, image).await.ok()??,
    };
    let source_id = source.id.clone()?;
    if !cacheable(&source) {
        return None;
    }
    let claim = BuildClaim::take(image)?;
    let container = format!(
        "cargo-migrate-prime-{}-{}",
        std::process::id(),
        PRIMING_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    watchdog::register(&container);
    let create_requested = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(build_cache(
        docker,
        Priming {
            image: image.to_string(),
            source_id,
            workspace: workspace.to_string(),
            container: container.clone(),
            create_requested: create_requested.clone(),
        },
        claim,
    ));
    Some(CacheBuild {
        task: Some(task),
        container,
        create_requested,
    })
}

/// What a cache build works on.
struct Priming {
    image: String,
    /// The id of `image` the cache is built from.
    source_id: String,
    workspace: String,
    /// The name of the priming container.
    container: String,
    create_requested: Arc<AtomicBool>,
}

async fn build_cache(docker: Docker, priming: Priming, _claim: BuildClaim) -> Result<Duration> {
    let begun = Instant::now();
    let outcome = tokio::time::timeout(PRIMING_TIMEOUT, prime(&docker, &priming)).await;
    // Removing the container right after `docker commit` takes the engine about a second.
    let _ = docker
        .remove_container(&priming.container, Some(remove_options()))
        .await;
    watchdog::unregister(&priming.container);
    match outcome {
        Ok(Ok(())) => Ok(begun.elapsed()),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(cache_error(format!(
            "building the start-up image of {} took longer than {} s",
            priming.image,
            PRIMING_TIMEOUT.as_secs()
        ))),
    }
}

/// Runs `image` once without tmpfs (cluster at [`CACHE_PGDATA`], in the container layer),
/// waits for `SELECT 1`, stops it cleanly and commits it as the cache image.
async fn prime(docker: &Docker, priming: &Priming) -> Result<()> {
    let Priming {
        image,
        source_id,
        workspace,
        container,
        create_requested,
    } = priming;
    let (image, source_id, container) = (image.as_str(), source_id.as_str(), container.as_str());
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        env: Some(vec![
            format!("POSTGRES_PASSWORD={PASSWORD}"),
            format!("POSTGRES_DB={DATABASE}"),
            format!("PGDATA={CACHE_PGDATA}"),
        ]),
        cmd: Some(SERVER_OPTIONS.iter().map(ToString::to_string).collect()),
        labels: Some(owner_labels(workspace).into_iter().collect()),
        exposed_ports: Some(vec![PORT.to_string()]),
        host_config: Some(HostConfig {
            port_bindings: Some(loopback_port()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptions {
        name: Some(container.to_string()),
        ..Default::default()
    };
    create_requested.store(true, Ordering::SeqCst);
    docker
        .create_container(Some(options), body)
        .await
        .map_err(|err| docker_error(&format!("cannot create a {image} container"), &err))?;
    start_container(docker, container).await?;
    let info = inspect_container(docker, container)
        .await?
        .ok_or_else(|| cache_error(format!("the container {container} disappeared")))?;
    let port = loopback_host_port(&info)
        .ok_or_else(|| cache_error(format!("the container {container} publishes no port")))?;
    let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/{DATABASE}");
    wait_ready(docker, container, &url, READY_TIMEOUT)
        .await
        .map_err(|reason| cache_error(format!("the {image} server never came up: {reason}")))?;
    let user = server_uid(docker, container).await;
    let stop = StopContainerOptions {
        signal: Some("SIGINT".to_string()),
        t: Some(30),
    };
    docker
        .stop_container(container, Some(stop))
        .await
        .map_err(|err| docker_error(&format!("cannot stop the container {container}"), &err))?;
    let exit_code = inspect_container(docker, container)
        .await?
        .and_then(|info| info.state)
        .and_then(|state| state.exit_code);
    if exit_code != Some(0) {
        return Err(cache_error(format!(
            "the {image} server did not shut down cleanly (exit code {exit_code:?})"
        )));
    }
    // Another process may have built it meanwhile.
    if cache_matches(docker, image, source_id).await.is_some() {
        return Ok(());
    }
    let cache = cache_image_name(image);
    let previous = docker
        .inspect_image(&cache)
        .await
        .ok()
        .and_then(|info| info.id);
    let (repo, tag) = split_image(&cache);
    let options = CommitContainerOptions {
        container: Some(container.to_string()),
        repo: Some(repo),
        tag: Some(tag),
        comment: Some(format!(
            "cargo-migrate: {image} with an initialised cluster"
        )),
        pause: false,
        ..Default::default()
    };
    // Merged by the engine with the container's own configuration (env, cmd, volumes, ...).
    let config = ContainerConfig {
        user,
        labels: Some(HashMap::from([
            (CACHE_OF_LABEL.to_string(), image.to_string()),
            (CACHE_SOURCE_LABEL.to_string(), source_id.to_string()),
            (CACHE_FORMAT_LABEL.to_string(), CACHE_FORMAT.to_string()),
        ])),
        ..Default::default()
    };
    let committed = docker
        .commit_container(options, config)
        .await
        .map_err(|err| docker_error(&format!("cannot commit {cache}"), &err))?;
    // The cache of an older source image, now untagged; kept while a container uses it (then
    // `purge_cache` finds it by its label).
    if let Some(previous) = previous
        && previous != committed.id
    {
        let options = RemoveImageOptions::default();
        let _ = docker.remove_image(&previous, Some(options), None).await;
    }
    Ok(())
}

/// The uid the server runs as, when `docker top` says (a single unprivileged uid that fits a
/// container's own user range, i.e. no user-namespace remapping shows through).
async fn server_uid(docker: &Docker, container: &str) -> Option<String> {
    let options = TopOptions {
        ps_args: "-o pid,uid".to_string(),
    };
    let top = docker.top_processes(container, Some(options)).await.ok()?;
    let column = top.titles?.iter().position(|title| title == "UID")?;
    let processes = top.processes?;
    let first = processes.first()?.get(column)?.clone();
    let uid: u32 = first.parse().ok()?;
    let same = processes.iter().all(|row| row.get(column) == Some(&first));
    (same && uid != 0 && uid < 65536).then_some(first)
}

// --- Dev containers -------------------------------------------------------------------------

async fn create_dev(
    docker: &Docker,
    image: &str,
    name: &str,
    workspace: &str,
) -> std::result::Result<(), DockerError> {
    tracing::debug!(target: "cargo_migrate::docker", "create container {name} from {image}");
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        env: Some(vec![
            format!("POSTGRES_PASSWORD={PASSWORD}"),
            format!("POSTGRES_DB={DEV_DATABASE}"),
        ]),
        cmd: Some(SERVER_OPTIONS.iter().map(ToString::to_string).collect()),
        labels: Some(HashMap::from([
            (LABEL.to_string(), workspace.to_string()),
            (DEV_LABEL.to_string(), "1".to_string()),
        ])),
        exposed_ports: Some(vec![PORT.to_string()]),
        host_config: Some(HostConfig {
            port_bindings: Some(loopback_port()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptions {
        name: Some(name.to_string()),
        ..Default::default()
    };
    docker
        .create_container(Some(options), body)
        .await
        .map(|_| ())
}

fn is_dev(info: &ContainerInspectResponse) -> bool {
    info.config
        .as_ref()
        .and_then(|config| config.labels.as_ref())
        .and_then(|labels| labels.get(DEV_LABEL))
        .is_some_and(|value| value == "1")
}

/// Refuses to touch a container of that name that cargo-migrate did not create.
fn ensure_dev(info: &ContainerInspectResponse, name: &str) -> Result<()> {
    if is_dev(info) {
        return Ok(());
    }
    Err(Error::new(
        ErrorClass::Input,
        ErrorCode::SandboxFailed,
        format!("a container named {name} exists and is not a cargo-migrate dev container"),
    )
    .hint(format!(
        "rename or remove it (`docker rm -f {name}`), it is in the way of the dev database"
    )))
}

fn is_running(info: &ContainerInspectResponse) -> bool {
    info.state
        .as_ref()
        .and_then(|state| state.running)
        .unwrap_or(false)
}

fn dev_container(info: &ContainerInspectResponse, name: &str) -> Option<DevContainer> {
    let port = loopback_host_port(info)?;
    Some(DevContainer {
        url: format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/{DEV_DATABASE}"),
        id: info.id.clone()?,
        name: name.to_string(),
        image: info.config.as_ref()?.image.clone()?,
    })
}

/// Pulls `image` when it is not there (silently: an error says what went wrong).
async fn ensure_image(docker: &Docker, image: &str) -> Result<()> {
    if inspect_image(docker, image).await?.is_some() {
        return Ok(());
    }
    let (name, tag) = split_image(image);
    tracing::debug!(target: "cargo_migrate::docker", "pull image {image}");
    let options = CreateImageOptions {
        from_image: Some(name),
        tag: Some(tag),
        ..Default::default()
    };
    let mut failure = None;
    let mut pull = std::pin::pin!(docker.create_image(Some(options), None, None));
    while let Some(step) = pull.next().await {
        if let Err(err) = step {
            failure = Some(redact(&err.to_string()));
            break;
        }
    }
    if inspect_image(docker, image).await?.is_some() {
        return Ok(());
    }
    let reason = failure.unwrap_or_else(|| "the pull did not produce it".to_string());
    Err(LaunchError::Start(reason).into_error(image, true))
}

// --- Docker helpers -------------------------------------------------------------------------

/// testcontainers' client (same DOCKER_HOST and settings as the ephemeral containers).
async fn client() -> Result<Docker> {
    testcontainers::core::client::docker_client_instance()
        .await
        .map_err(|err| {
            Error::new(
                ErrorClass::Unreachable,
                ErrorCode::DockerUnreachable,
                format!("cannot use Docker: {}", redact(&err.to_string())),
            )
            .hint("check `docker info`, or use --sandbox local")
        })
}

fn is_status(err: &DockerError, code: u16) -> bool {
    matches!(err, DockerError::DockerResponseServerError { status_code, .. } if *status_code == code)
}

fn docker_error(what: &str, err: &DockerError) -> Error {
    sandbox_error(format!("{what}: {}", redact(&err.to_string())))
        .hint("check `docker info`, or use --sandbox local")
}

fn sandbox_error(what: String) -> Error {
    Error::new(ErrorClass::Unreachable, ErrorCode::SandboxFailed, what)
}

fn cache_error(what: String) -> Error {
    sandbox_error(what).hint(
        "the start-up cache is only an optimisation: sandboxes still start from the image itself",
    )
}

async fn inspect_image(docker: &Docker, image: &str) -> Result<Option<ImageInspect>> {
    match docker.inspect_image(image).await {
        Ok(info) => Ok(Some(info)),
        Err(err) if is_status(&err, 404) => Ok(None),
        Err(err) => Err(docker_error(
            &format!("cannot inspect the image {image}"),
            &err,
        )),
    }
}

async fn inspect_container(
    docker: &Docker,
    name: &str,
) -> Result<Option<ContainerInspectResponse>> {
    match docker.inspect_container(name, None).await {
        Ok(info) => Ok(Some(info)),
        Err(err) if is_status(&err, 404) => Ok(None),
        Err(err) => Err(docker_error(
            &format!("cannot inspect the container {name}"),
            &err,
        )),
    }
}

async fn start_container(docker: &Docker, name: &str) -> Result<()> {
    tracing::debug!(target: "cargo_migrate::docker", "start container {name}");
    match docker.start_container(name, None).await {
        // 304: started by someone else meanwhile.
        Ok(()) => Ok(()),
        Err(err) if is_status(&err, 304) => Ok(()),
        Err(err) => Err(docker_error(
            &format!("cannot start the container {name}"),
            &err,
        )),
    }
}

fn remove_options() -> RemoveContainerOptions {
    RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    }
}

/// Removes a container from any thread, with a client and runtime of its own. A create request
/// may still be on its way (its task was cancelled after sending it): when there is nothing to
/// remove yet, it looks once more a moment later.
fn remove_container_blocking(name: &str) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let Ok(docker) = Docker::connect_with_defaults() else {
            return;
        };
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let removed = tokio::time::timeout(
                Duration::from_secs(30),
                docker.remove_container(name, Some(remove_options())),
            )
            .await;
            if !matches!(removed, Ok(Err(ref err)) if is_status(err, 404)) {
                return;
            }
        }
    });
}

/// Port 5432 published on 127.0.0.1, on a port Docker picks.
fn loopback_port() -> PortMap {
    HashMap::from([(
        PORT.to_string(),
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".to_string()),
            host_port: Some(String::new()),
        }]),
    )])
}

fn loopback_host_port(info: &ContainerInspectResponse) -> Option<u16> {
    info.network_settings
        .as_ref()?
        .ports
        .as_ref()?
        .get(PORT)?
        .as_ref()?
        .iter()
        .filter(|binding| binding.host_ip.as_deref() == Some("127.0.0.1"))
        .find_map(|binding| binding.host_port.as_deref()?.parse().ok())
}

fn image_env(info: &ImageInspect, key: &str) -> Option<String> {
    info.config
        .as_ref()?
        .env
        .as_ref()?
        .iter()
        .find_map(|entry| entry.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

fn image_volumes(info: &ImageInspect) -> Vec<String> {
    info.config
        .as_ref()
        .and_then(|config| config.volumes.clone())
        .unwrap_or_default()
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

// --- Readiness ------------------------------------------------------------------------------

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

// --- Owners ---------------------------------------------------------------------------------

/// The labels of a container this process owns: the workspace, and who created it.
fn owner_labels(workspace: &str) -> Vec<(String, String)> {
    let pid = std::process::id();
    let mut labels = vec![
        (LABEL.to_string(), workspace.to_string()),
        (PID_LABEL.to_string(), pid.to_string()),
        (HOST_LABEL.to_string(), host_name()),
    ];
    if let Some(start) = process_start(pid) {
        labels.push((PID_START_LABEL.to_string(), start));
    }
    labels
}

fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for writes of its length; gethostname NUL-terminates within
    // it or truncates (then the whole buffer is used).
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot.
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    let (_, after_comm) = stat.rsplit_once(')')?;
    after_comm.split_whitespace().nth(19).map(str::to_string)
}

/// Whether `pid` still runs and is the process that started at `start` (when known).
fn process_alive(pid: u32, start: Option<&str>) -> bool {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return true;
    };
    if raw <= 0 {
        // Not a process id: nothing to conclude.
        return true;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let alive = unsafe { libc::kill(raw, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !alive {
        return false;
    }
    match (start, process_start(pid)) {
        (Some(recorded), Some(actual)) => recorded == actual,
        _ => true,
    }
}

// --- Names and the daemon -------------------------------------------------------------------

/// `name:tag` (tag `latest` when absent; a registry port is not a tag).
fn split_image(image: &str) -> (String, String) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

/// Where the Docker daemon should be: `DOCKER_HOST` when it is a unix socket, else the
/// default socket.
fn socket_path() -> Option<PathBuf> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => host.strip_prefix("unix://").map(PathBuf::from),
        _ => Some(PathBuf::from("/var/run/docker.sock")),
    }
}

/// Says precisely why Docker cannot be used, where testcontainers would only say "client
/// error (Connect)": no socket, no permission, or nobody answering.
pub fn check_daemon() -> Result<()> {
    match socket_path() {
        Some(path) => check_socket(&path),
        // A TCP or SSH DOCKER_HOST: let the client try and report.
        None => Ok(()),
    }
}

/// [`check_daemon`] for the socket at `path`.
pub fn check_socket(path: &std::path::Path) -> Result<()> {
    let shown = path.display().to_string();
    let (what, hint) = match UnixStream::connect(path) {
        Ok(_) => return Ok(()),
        Err(err) => match err.kind() {
            ErrorKind::NotFound => (
                format!("Docker is not running: there is no socket at {shown}"),
                "start Docker (e.g. `sudo systemctl start docker`), or use --sandbox local (PostgreSQL installed here) or pass --database-url",
            ),
            ErrorKind::PermissionDenied => (
                format!("no permission to use Docker's socket {shown}"),
                "add your user to the `docker` group (then log in again), or use --sandbox local",
            ),
            ErrorKind::ConnectionRefused => (
                format!("Docker's socket {shown} exists but no daemon answers"),
                "start the Docker daemon again, or use --sandbox local",
            ),
            _ => (
                format!(
                    "cannot reach Docker at {shown}: {}",
                    crate::error::io_reason(&err)
                ),
                "check that Docker runs, or use --sandbox local",
            ),
        },
    };
    Err(
        Error::new(ErrorClass::Unreachable, ErrorCode::DockerUnreachable, what)
            .at(shown)
            .hint(hint),
    )
}

/// Whether `image` is present locally (so starting it needs no pull).
pub async fn image_present(image: &str) -> Result<bool> {
    check_daemon()?;
    let docker = client().await?;
    Ok(inspect_image(&docker, image).await?.is_some())
}

/// Numbers the disposable containers of this process (names must be unique).
static SANDBOX_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Our own Ctrl-C/SIGTERM/SIGQUIT handler for disposable containers (testcontainers' watchdog
/// panics when a container is already being removed, and then never ends the process).
/// Containers are registered by name before they exist; on a signal each is force-removed
/// (a missing or already-removing container is fine), then the signal's default action runs.
mod watchdog {
    use std::collections::BTreeSet;
    use std::sync::{Mutex, Once};

    use signal_hook::consts::{SIGINT, SIGQUIT, SIGTERM};
    use signal_hook::iterator::Signals;

    static NAMES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    static INSTALL: Once = Once::new();

    pub(super) fn register(name: &str) {
        INSTALL.call_once(install);
        NAMES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_string());
    }

    pub(super) fn unregister(name: &str) {
        NAMES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(name);
    }

    fn install() {
        // Without a handler the default action (terminate) simply stays: containers would
        // then be left to the next run's sweep.
        let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGQUIT]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let names: Vec<String> = NAMES
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .iter()
                    .cloned()
                    .collect();
                for name in &names {
                    super::remove_container_blocking(name);
                }
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                // SIGQUIT's default may dump core and return on some systems: end anyway.
                std::process::exit(128 + signal);
            }
        });
    }
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
