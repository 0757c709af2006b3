//! Scratch servers: a disposable database server for one command run (`check`, `schema`,
//! `diff`), removed when the run ends (also on Ctrl-C: the providers' own watchdogs).
//! Unlike the dev database, nothing of it is kept, so every replay starts from nothing.

use sqlx::Connection;

use super::Provider;
use super::docker::DockerPostgres;
use super::local::{LocalOptions, LocalPostgres};
use crate::db::DatabaseUrl;
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result};

/// A running scratch server, which hands out fresh empty databases.
pub struct Scratch {
    server: Server,
    /// How many databases were handed out so far.
    handed_out: usize,
}

enum Server {
    // Boxed: server handles are large, a temporary directory small.
    Docker(Box<DockerPostgres>),
    Local(Box<LocalPostgres>),
    /// A temporary directory holding one SQLite file per database.
    Sqlite(tempfile::TempDir),
}

impl Scratch {
    /// Starts a server of `provider` (`image` is the Docker image; `workspace` labels the
    /// container).
    pub async fn start(provider: Provider, image: &str, workspace: &str) -> Result<Scratch> {
        // Ctrl-C at any moment says "interrupted" (exit 130) and leaves no server behind.
        super::interrupt::install();
        let server = match provider {
            Provider::Docker => {
                Server::Docker(Box::new(DockerPostgres::start(image, workspace).await?))
            }
            Provider::Local => Server::Local(Box::new(
                LocalPostgres::start(LocalOptions {
                    template_cache: Some(super::cache_dir().join("templates")),
                    ..LocalOptions::default()
                })
                .await?,
            )),
            Provider::Sqlite => Server::Sqlite(
                tempfile::Builder::new()
                    .prefix("cargo-migrate-scratch-")
                    .tempdir()
                    .map_err(|err| {
                        Error::io(
                            ErrorCode::SandboxFailed,
                            "create a temporary directory for scratch databases",
                            &std::env::temp_dir(),
                            &err,
                        )
                        .hint("check that the temp directory (TMPDIR) is writable")
                    })?,
            ),
        };
        Ok(Scratch {
            server,
            handed_out: 0,
        })
    }

    /// What the server is, for a status line: `docker, postgres:15`, `local PostgreSQL 15`,
    /// `SQLite file`.
    pub fn describe(&self) -> String {
        match &self.server {
            Server::Docker(docker) => format!("docker, {}", docker.image()),
            Server::Local(local) => format!("local PostgreSQL {}", local.version()),
            Server::Sqlite(_) => "SQLite file".to_string(),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.server {
            Server::Docker(_) | Server::Local(_) => Dialect::Postgres,
            Server::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// A new, empty database on the server.
    pub async fn fresh_database(&mut self) -> Result<DatabaseUrl> {
        self.handed_out += 1;
        let name = format!("scratch_{}", self.handed_out);
        let url = match &self.server {
            // The container's own database is empty: the first one is free.
            Server::Docker(docker) if self.handed_out == 1 => docker.url().to_string(),
            Server::Docker(docker) => create_database(docker.url(), &name).await?,
            Server::Local(local) => local.create_database(&name).await?,
            Server::Sqlite(dir) => format!(
                "sqlite:{}?mode=rwc",
                dir.path().join(format!("{name}.sqlite3")).display()
            ),
        };
        Ok(DatabaseUrl::sandbox(&url, self.dialect()))
    }

    /// A new database on the server that is a copy of `template` (`CREATE DATABASE …
    /// TEMPLATE`), for `check` to go on from a state without replaying the migrations that
    /// made it. PostgreSQL only; `template` must have no open connection (the server waits a
    /// few seconds for the last one to go, then refuses).
    pub async fn copy_database(&mut self, template: &DatabaseUrl) -> Result<DatabaseUrl> {
        self.handed_out += 1;
        let name = format!("scratch_{}", self.handed_out);
        let failed = |reason: String| {
            Error::coded(
                ErrorCode::SandboxFailed,
                format!("cannot copy a scratch database into `{name}`: {reason}"),
            )
            .hint("check that the scratch server is still running")
        };
        let mut parsed =
            url::Url::parse(template.expose()).map_err(|err| failed(err.to_string()))?;
        let source = parsed.path().trim_start_matches('/').to_string();
        // Issued from the maintenance database: a connection to the template would stop the
        // copy.
        parsed.set_path("/postgres");
        let mut conn = sqlx::PgConnection::connect(parsed.as_str())
            .await
            .map_err(|err| failed(crate::secrets::redact(&err.to_string())))?;
        let created = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name} TEMPLATE \"{}\"",
            source.replace('"', "\"\"")
        )))
        .execute(&mut conn)
        .await
        .map_err(|err| failed(crate::secrets::redact(&err.to_string())));
        let _ = conn.close().await;
        created?;
        parsed.set_path(&format!("/{name}"));
        Ok(DatabaseUrl::sandbox(parsed.as_str(), self.dialect()))
    }

    /// Stops the server and deletes its data now (dropping does the same, best effort).
    pub async fn stop(self) -> Result<()> {
        match self.server {
            Server::Docker(docker) => docker.remove().await,
            Server::Local(mut local) => local.stop(),
            Server::Sqlite(dir) => dir.close().map_err(|err| {
                Error::io(
                    ErrorCode::SandboxFailed,
                    "delete the scratch databases",
                    &std::env::temp_dir(),
                    &err,
                )
            }),
        }
    }
}

/// Creates database `name` on the server `url` points at; returns the new database's URL.
async fn create_database(url: &str, name: &str) -> Result<String> {
    let failed = |reason: String| {
        Error::new(
            crate::error::ErrorClass::Unreachable,
            ErrorCode::SandboxFailed,
            format!("cannot create scratch database `{name}`: {reason}"),
        )
        .hint("check that the scratch container is still running (`docker ps`)")
    };
    let mut parsed = url::Url::parse(url).map_err(|err| failed(err.to_string()))?;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|err| failed(crate::secrets::redact(&err.to_string())))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .map_err(|err| failed(crate::secrets::redact(&err.to_string())))?;
    let _ = conn.close().await;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}
