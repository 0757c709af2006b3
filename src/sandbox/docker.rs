//! The `docker` disposable PostgreSQL: a container from the official `postgres` image interface
//! (any image that honours POSTGRES_PASSWORD / POSTGRES_DB and port 5432), started with
//! testcontainers, published on 127.0.0.1 only, data on tmpfs, durability off for speed.

use std::io::ErrorKind;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sqlx::Connection;
use testcontainers::core::{IntoContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::error::{Error, ErrorClass, ErrorCode, Result};

/// Every container cargo-migrate starts carries this label (value: the workspace), so leftovers
/// can be found and removed.
pub const LABEL: &str = "org.cargo-migrate.sandbox";
/// The password of sandbox servers. They listen on 127.0.0.1 only and live minutes.
const PASSWORD: &str = "cargo-migrate";
const DATABASE: &str = "sandbox";
/// The official image's line when the final server is up (it also prints it for the temporary
/// server it runs while initialising, hence the `SELECT 1` that follows).
const READY_LINE: &str = "database system is ready to accept connections";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// A running PostgreSQL container, removed when dropped.
pub struct DockerPostgres {
    container: ContainerAsync<GenericImage>,
    url: String,
    image: String,
    started_in: Duration,
}

impl DockerPostgres {
    /// Starts `image` (`name:tag`), labelled with `workspace`, and returns once `SELECT 1` works.
    pub async fn start(image: &str, workspace: &str) -> Result<DockerPostgres> {
        check_daemon()?;
        let begun = Instant::now();
        let (name, tag) = split_image(image);
        let request = GenericImage::new(name, tag)
            .with_exposed_port(5432.tcp())
            .with_wait_for(WaitFor::message_on_stderr(READY_LINE))
            .with_env_var("POSTGRES_PASSWORD", PASSWORD)
            .with_env_var("POSTGRES_DB", DATABASE)
            .with_label(LABEL, workspace)
            .with_mount(Mount::tmpfs_mount("/var/lib/postgresql/data"))
            .with_startup_timeout(READY_TIMEOUT)
            .with_cmd([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        let container = request
            .start()
            .await
            .map_err(|err| start_error(image, &err))?;
        let port = container
            .get_host_port_ipv4(5432)
            .await
            .map_err(|err| start_error(image, &err))?;
        let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/{DATABASE}");
        wait_for_select(&url).await.map_err(|reason| {
            Error::new(
                ErrorClass::Unreachable,
                ErrorCode::SandboxFailed,
                format!("the {image} container never accepted a connection: {reason}"),
            )
            .hint(
                "check that the image is a PostgreSQL server image (official `postgres` interface)",
            )
        })?;
        Ok(DockerPostgres {
            container,
            url,
            image: image.to_string(),
            started_in: begun.elapsed(),
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

    /// Stops and removes the container now (dropping it does the same, in the background).
    pub async fn remove(self) -> Result<()> {
        let image = self.image.clone();
        self.container
            .rm()
            .await
            .map_err(|err| start_error(&image, &err))
    }
}

/// `name:tag` (tag `latest` when absent; a registry port is not a tag).
fn split_image(image: &str) -> (String, String) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

/// Retries `SELECT 1` until it works: the ready line can come from the image's temporary
/// init server, and port publishing takes a moment.
async fn wait_for_select(url: &str) -> std::result::Result<(), String> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let attempt = async {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            sqlx::query("SELECT 1").execute(&mut conn).await?;
            conn.close().await
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(err) if Instant::now() < deadline => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => return Err(crate::db::driver_reason(&err)),
        }
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

fn start_error(image: &str, err: &testcontainers::TestcontainersError) -> Error {
    let text = crate::secrets::scrub(&err.to_string());
    let missing = text.contains("No such image")
        || text.contains("pull access denied")
        || text.contains("not found");
    Error::new(
        ErrorClass::Unreachable,
        ErrorCode::SandboxFailed,
        format!("cannot start a {image} container: {text}"),
    )
    .hint(if missing {
        "the image is not available locally and could not be pulled: `docker pull` it, or set `image` in [workspace.metadata.migrate]"
    } else {
        "check `docker info`, or use --sandbox local"
    })
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
}
