//! `--sandbox local` where it cannot run: the local PostgreSQL sandbox needs Unix (Unix
//! sockets, process groups, signals, running the server as another user). The same API as
//! on Unix, so callers need no `cfg`: nothing is found, and starting one says why not.

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorClass, ErrorCode};

/// Options for [`LocalPostgres::start`] and [`start_dev`] (see the Unix module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOptions {
    pub binaries: Option<PathBuf>,
    pub database: String,
    pub template_cache: Option<PathBuf>,
    pub listen: Option<std::net::IpAddr>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            binaries: None,
            database: "postgres".to_string(),
            template_cache: None,
            listen: None,
        }
    }
}

/// Never exists here: [`LocalPostgres::start`] always fails.
#[derive(Debug)]
pub enum LocalPostgres {}

impl LocalPostgres {
    pub async fn start(_options: LocalOptions) -> Result<LocalPostgres, Error> {
        Err(unsupported())
    }

    pub fn url(&self) -> String {
        match *self {}
    }

    pub fn version(&self) -> &str {
        match *self {}
    }

    pub async fn create_database(&self, _name: &str) -> Result<String, Error> {
        match *self {}
    }

    pub fn stop(&mut self) -> Result<(), Error> {
        match *self {}
    }
}

/// A persistent cluster's address (never found here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCluster {
    pub url: String,
}

pub fn find_binaries(_explicit: Option<&Path>) -> Option<PathBuf> {
    None
}

pub fn server_version(_binaries: &Path) -> Result<String, Error> {
    Err(unsupported())
}

pub async fn start_dev(_dir: &Path, _options: LocalOptions) -> Result<(DevCluster, bool), Error> {
    Err(unsupported())
}

pub async fn dev_status(_dir: &Path) -> Result<Option<DevCluster>, Error> {
    Ok(None)
}

pub fn stop_dev(_dir: &Path) -> Result<bool, Error> {
    Ok(false)
}

fn unsupported() -> Error {
    Error::new(
        ErrorClass::Input,
        ErrorCode::NoSandbox,
        "the local PostgreSQL sandbox runs on Unix only (Linux, macOS, the BSDs)",
    )
    .at("--sandbox local")
    .hint("use --sandbox docker (Docker Desktop), or pass --database-url")
}
