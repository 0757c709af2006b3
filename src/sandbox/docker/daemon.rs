//! The Docker daemon: reaching it (and saying why not), images, containers, ports.

use super::*;

/// Pulls `image` when it is not there (silently: an error says what went wrong).
pub(super) async fn ensure_image(docker: &Docker, image: &str) -> Result<()> {
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

/// testcontainers' client (same DOCKER_HOST and settings as the ephemeral containers).
pub(super) async fn client() -> Result<Docker> {
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

pub(super) fn is_status(err: &DockerError, code: u16) -> bool {
    matches!(err, DockerError::DockerResponseServerError { status_code, .. } if *status_code == code)
}

pub(super) fn docker_error(what: &str, err: &DockerError) -> Error {
    sandbox_error(format!("{what}: {}", redact(&err.to_string())))
        .hint("check `docker info`, or use --sandbox local")
}

pub(super) fn sandbox_error(what: String) -> Error {
    Error::new(ErrorClass::Unreachable, ErrorCode::SandboxFailed, what)
}

pub(super) fn cache_error(what: String) -> Error {
    sandbox_error(what).hint(
        "the start-up cache is only an optimisation: sandboxes still start from the image itself",
    )
}

pub(super) async fn inspect_image(docker: &Docker, image: &str) -> Result<Option<ImageInspect>> {
    match docker.inspect_image(image).await {
        Ok(info) => Ok(Some(info)),
        Err(err) if is_status(&err, 404) => Ok(None),
        Err(err) => Err(docker_error(
            &format!("cannot inspect the image {image}"),
            &err,
        )),
    }
}

pub(super) async fn inspect_container(
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

pub(super) async fn start_container(docker: &Docker, name: &str) -> Result<()> {
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

pub(super) fn remove_options() -> RemoveContainerOptions {
    RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    }
}

/// Removes a container from any thread, with a client and runtime of its own. A create request
/// may still be on its way (its task was cancelled after sending it): when there is nothing to
/// remove yet, it looks once more a moment later.
pub(crate) fn remove_container_blocking(name: &str) {
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
pub(super) fn loopback_port() -> PortMap {
    HashMap::from([(
        PORT.to_string(),
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".to_string()),
            host_port: Some(String::new()),
        }]),
    )])
}

pub(super) fn loopback_host_port(info: &ContainerInspectResponse) -> Option<u16> {
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

pub(super) fn image_env(info: &ImageInspect, key: &str) -> Option<String> {
    info.config
        .as_ref()?
        .env
        .as_ref()?
        .iter()
        .find_map(|entry| entry.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

pub(super) fn image_volumes(info: &ImageInspect) -> Vec<String> {
    info.config
        .as_ref()
        .and_then(|config| config.volumes.clone())
        .unwrap_or_default()
}

/// `name:tag` (tag `latest` when absent; a registry port is not a tag).
pub(super) fn split_image(image: &str) -> (String, String) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

/// Where the Docker daemon should be: `DOCKER_HOST` when it is a unix socket, else the
/// default socket.
pub(super) fn socket_path() -> Option<PathBuf> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => host.strip_prefix("unix://").map(PathBuf::from),
        // Windows: a named pipe, which the client tries and reports on.
        _ if cfg!(not(unix)) => None,
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
    #[cfg(unix)]
    let connected = std::os::unix::net::UnixStream::connect(path);
    #[cfg(not(unix))]
    let connected = std::fs::metadata(path);
    let (what, hint) = match connected {
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
