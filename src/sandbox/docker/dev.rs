//! Dev containers ([`start_dev`], [`dev_status`], [`stop_dev`]): named, persistent,
//! managed with bollard directly (testcontainers would remove them).

use super::*;

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
    let mut registration = None;
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
                // Until it answers, a container we create is removed if a signal ends the
                // process: an interrupted start leaves no half-made dev database.
                registration = Some(Registration::new(name));
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
        drop(registration);
        return Ok((dev, started));
    }
}

/// Registers a container with the signal handler while it lives.
struct Registration(String);

impl Registration {
    fn new(name: &str) -> Registration {
        watchdog::register(name);
        Registration(name.to_string())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        watchdog::unregister(&self.0);
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

pub(super) async fn create_dev(
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

pub(super) fn is_dev(info: &ContainerInspectResponse) -> bool {
    info.config
        .as_ref()
        .and_then(|config| config.labels.as_ref())
        .and_then(|labels| labels.get(DEV_LABEL))
        .is_some_and(|value| value == "1")
}

/// Refuses to touch a container of that name that cargo-migrate did not create.
pub(super) fn ensure_dev(info: &ContainerInspectResponse, name: &str) -> Result<()> {
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

pub(super) fn is_running(info: &ContainerInspectResponse) -> bool {
    info.state
        .as_ref()
        .and_then(|state| state.running)
        .unwrap_or(false)
}

pub(super) fn dev_container(info: &ContainerInspectResponse, name: &str) -> Option<DevContainer> {
    let port = loopback_host_port(info)?;
    Some(DevContainer {
        url: format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/{DEV_DATABASE}"),
        id: info.id.clone()?,
        name: name.to_string(),
        image: info.config.as_ref()?.image.clone()?,
    })
}
