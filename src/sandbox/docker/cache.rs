//! The start-up cache: `cargo-migrate-cache/<image>:<tag>` images whose cluster is already
//! initialised, built in the background by a priming container and used while their source
//! label matches the image's id.

use super::*;

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

/// A usable start-up cache image.
pub(super) struct CacheImage {
    pub(super) name: String,
    pub(super) tag: String,
    pub(super) volumes: Vec<String>,
}

/// The cache image: its cluster is in the image layer (overlayfs), so no tmpfs over it; the
/// declared volumes get a tmpfs each instead of an anonymous volume that would outlive a
/// killed run. The image's USER is the server's, so the entrypoint changes no ownership (a
/// `chown -R` would copy every file up from the image layer).
pub(super) fn cache_request(cache: &CacheImage, workspace: &str) -> ContainerRequest<GenericImage> {
    request(
        &cache.name,
        &cache.tag,
        &[("PGDATA", CACHE_PGDATA)],
        &cache.volumes,
        workspace,
    )
}

/// The cache image of `image`, when it exists and was built from `source` (its current id).
pub(super) async fn usable_cache(
    docker: &Docker,
    image: &str,
    source: &ImageInspect,
) -> Option<CacheImage> {
    let source_id = source.id.as_deref()?;
    let cache = cache_matches(docker, image, source_id).await?;
    let (name, tag) = split_image(&cache_image_name(image));
    Some(CacheImage {
        name,
        tag,
        volumes: image_volumes(&cache),
    })
}

pub(super) async fn cache_matches(
    docker: &Docker,
    image: &str,
    source_id: &str,
) -> Option<ImageInspect> {
    let cache = docker.inspect_image(&cache_image_name(image)).await.ok()?;
    let labels = cache.config.as_ref()?.labels.as_ref()?;
    let label = |key: &str| labels.get(key).map(String::as_str);
    (label(CACHE_OF_LABEL) == Some(image)
        && label(CACHE_SOURCE_LABEL) == Some(source_id)
        && label(CACHE_FORMAT_LABEL) == Some(CACHE_FORMAT))
    .then_some(cache)
}

pub(super) async fn discard_cache(docker: &Docker, image: &str) {
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
pub(super) fn cacheable(source: &ImageInspect) -> bool {
    image_volumes(source).iter().all(|volume| {
        let volume = volume.trim_end_matches('/');
        !(volume.is_empty()
            || CACHE_PGDATA == volume
            || CACHE_PGDATA.starts_with(&format!("{volume}/")))
    })
}

/// A background build of a start-up cache image. Dropping it before it is done cancels it and
/// removes its priming container.
pub(super) struct CacheBuild {
    pub(super) task: Option<JoinHandle<Result<Duration>>>,
    pub(super) container: String,
    /// Set just before the priming container is created.
    pub(super) create_requested: Arc<AtomicBool>,
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

pub(super) async fn finish_build(mut build: CacheBuild) -> Option<Result<Duration>> {
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
pub(super) static BUILDING: Mutex<Vec<String>> = Mutex::new(Vec::new());
pub(super) static PRIMING_COUNTER: AtomicU32 = AtomicU32::new(0);

/// This process's claim on building the cache of an image; released when dropped.
pub(super) struct BuildClaim(String);

impl BuildClaim {
    pub(super) fn take(image: &str) -> Option<BuildClaim> {
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
pub(super) async fn spawn_cache_build(
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
pub(super) struct Priming {
    pub(super) image: String,
    /// The id of `image` the cache is built from.
    pub(super) source_id: String,
    pub(super) workspace: String,
    /// The name of the priming container.
    pub(super) container: String,
    pub(super) create_requested: Arc<AtomicBool>,
}

pub(super) async fn build_cache(
    docker: Docker,
    priming: Priming,
    _claim: BuildClaim,
) -> Result<Duration> {
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
pub(super) async fn prime(docker: &Docker, priming: &Priming) -> Result<()> {
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
pub(super) async fn server_uid(docker: &Docker, container: &str) -> Option<String> {
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
