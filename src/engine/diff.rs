//! `diff`: the difference between two schemas, each the history (replayed on a disposable
//! database, optionally up to a version), a database, or nothing.

use crate::db::DatabaseUrl;
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result};
use crate::migration::{Migration, Migrations};
use crate::sandbox::Provider;
use crate::sandbox::scratch::Scratch;
use crate::schema::{self, Change, Schema};
use crate::secrets;
use crate::workspace::{SetSpec, Workspace};

/// A side of the comparison, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    History {
        version: Option<String>,
    },
    Database,
    Empty,
    Url(String),
    /// The wanted schema in SQL files: the configured `schema` (`None`), or a file or
    /// directory given.
    SchemaFiles(Option<std::path::PathBuf>),
}

impl Source {
    /// Parses `text`, given as `flag` (`--from`, `--to`).
    pub fn parse(text: &str, flag: &str) -> Result<Source> {
        let text = text.trim();
        if text == "history" {
            return Ok(Source::History { version: None });
        }
        if let Some(version) = text.strip_prefix("history@") {
            return Ok(Source::History {
                version: Some(version.to_string()),
            });
        }
        match text {
            "schema" => Ok(Source::SchemaFiles(None)),
            "database" => Ok(Source::Database),
            "empty" => Ok(Source::Empty),
            // Anything with a database scheme is a URL, a malformed one included
            // (`postgres:user:pw@host/db`): its parser says what is wrong without showing it.
            _ if text.contains("://") || has_database_scheme(text) => {
                Ok(Source::Url(text.to_string()))
            }
            _ if text.ends_with(".sql") || std::path::Path::new(text).is_dir() => {
                Ok(Source::SchemaFiles(Some(text.into())))
            }
            _ => Err(Error::input(
                ErrorCode::BadArgument,
                // Shown through the one formatter: it may be a libpq connection string
                // (`host=db password=… dbname=app`).
                format!("`{}` is not a schema source", secrets::redact_value(text)),
            )
            .at(flag)
            .hint("use history, history@VERSION, database, empty, schema (the configured `schema`), an .sql file or directory, or a database URL (postgres://user:password@host/db, not a `key=value` connection string)")),
        }
    }

    pub fn is_history(&self) -> bool {
        matches!(self, Source::History { .. })
    }
}

/// Whether `text` starts with the scheme of a database URL (`postgres:`, `sqlite:`, …).
fn has_database_scheme(text: &str) -> bool {
    text.split_once(':').is_some_and(|(scheme, _)| {
        ["postgres", "postgresql", "sqlite", "mysql", "mariadb"]
            .iter()
            .any(|known| known.eq_ignore_ascii_case(scheme))
    })
}

/// A source resolved to what is read: the history's first migrations, no schema, or a
/// database.
pub enum Side<'m> {
    History(&'m [Migration]),
    Empty(Dialect),
    Live(DatabaseUrl),
    /// SQL files loaded into a scratch database.
    Files(Vec<std::path::PathBuf>),
}

/// What resolving a source needs from the caller's environment.
pub struct Resolver<'a> {
    /// The database other commands use (`database`): the URL from the environment, else the
    /// dev database, started if need be.
    pub database: &'a dyn Fn() -> Result<DatabaseUrl>,
    /// The set's dialect, for `empty`; an error when it is not known.
    pub dialect: &'a dyn Fn() -> Result<Dialect>,
}

/// Resolves `source`; `migrations` is the scanned set when a side is the history.
pub fn resolve<'m>(
    workspace: &Workspace,
    spec: &SetSpec,
    source: &Source,
    migrations: Option<&'m Migrations>,
    resolver: &Resolver<'_>,
) -> Result<Side<'m>> {
    let url = match source {
        Source::History { version } => {
            // Not reached without migrations: the caller scans whenever a side is the history.
            let Some(migrations) = migrations else {
                return Ok(Side::History(&[]));
            };
            return super::scratch::up_to(migrations, version.as_deref()).map(Side::History);
        }
        Source::Empty => return (resolver.dialect)().map(Side::Empty),
        Source::SchemaFiles(given) => {
            let paths: Vec<std::path::PathBuf> = match (given, &spec.config.schema) {
                (Some(path), _) => vec![path.clone()],
                (None, Some(configured)) => vec![configured.clone()],
                (None, None) => {
                    return Err(Error::input(
                        ErrorCode::BadArgument,
                        "`schema` names the configured schema file, and none is configured",
                    )
                    .at(spec.label(&workspace.root))
                    .hint("set `schema = \"db/schema.sql\"` in [package.metadata.migrate], or give the file's path"));
                }
            };
            return super::author::schema_files(&paths).map(Side::Files);
        }
        Source::Url(text) => DatabaseUrl::parse(text, "--from/--to")?,
        Source::Database => (resolver.database)()?,
    };
    super::check_dialect(&url, spec, &workspace.root)?;
    Ok(Side::Live(url))
}

/// How reports name a side: the source as given, a database by its redacted URL.
pub fn label(source: &Source, side: &Side<'_>) -> String {
    match (source, side) {
        (_, Side::Live(url)) => url.redacted().to_string(),
        (Source::History { version: Some(v) }, _) => format!("history@{v}"),
        (Source::History { version: None }, _) => "history".to_string(),
        (_, Side::Files(files)) => files
            .iter()
            .map(|f| crate::error::display_path(f))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "empty".to_string(),
    }
}

/// The comparison of two sides.
pub struct DiffOutcome {
    pub changes: Vec<Change>,
    /// Unified diff of the rendered schemas (empty when equal).
    pub unified: String,
    /// With `sql`: the statements that turn `from` into `to`, and what they leave out.
    pub plan: Option<schema::Plan>,
}

/// What reading the sides needs.
pub struct DiffRequest<'a> {
    /// `--wait` and `--connect-timeout`, in seconds, for live databases.
    pub waits: (u64, u64),
    /// Decides the scratch server's provider, when a side is the history.
    pub provider: &'a dyn Fn() -> Result<Provider>,
    /// Called with the scratch server's description once it is up.
    pub on_scratch: &'a dyn Fn(&str),
    /// Status notes (a wait for a server).
    pub on_note: &'a dyn Fn(&str),
    /// Also plan the SQL that turns `from` into `to`.
    pub sql: bool,
}

/// Reads both sides (one scratch server serves both history sides) and compares them.
pub async fn run(
    workspace: &Workspace,
    spec: &SetSpec,
    (from, to): (&Side<'_>, &Side<'_>),
    labels: (&str, &str),
    request: &DiffRequest<'_>,
) -> Result<DiffOutcome> {
    let mut scratch = None;
    let read_both = async {
        let old = read(workspace, spec, from, &mut scratch, request).await?;
        let new = read(workspace, spec, to, &mut scratch, request).await?;
        Ok::<_, Error>((old, new))
    }
    .await;
    if let Some(scratch) = scratch {
        scratch.stop().await?;
    }
    let (old, new) = read_both?;
    let changes = schema::diff(&old, &new);
    let unified = schema::diff::unified(
        &schema::render(&old),
        &schema::render(&new),
        labels.0,
        labels.1,
    );
    let plan = request.sql.then(|| schema::plan(&old, &new));
    Ok(DiffOutcome {
        changes,
        unified,
        plan,
    })
}

/// The scratch server the sides share: the one a side already started (taken out of
/// `scratch`; put it back when done), or a new one. Each replay gets a fresh database on it.
async fn scratch_server(
    workspace: &Workspace,
    spec: &SetSpec,
    scratch: &mut Option<Scratch>,
    request: &DiffRequest<'_>,
) -> Result<Scratch> {
    if let Some(server) = scratch.take() {
        return Ok(server);
    }
    let provider = (request.provider)()?;
    let server = super::scratch::start(workspace, spec, provider, None).await?;
    (request.on_scratch)(&server.describe());
    Ok(server)
}

async fn read(
    workspace: &Workspace,
    spec: &SetSpec,
    side: &Side<'_>,
    scratch: &mut Option<Scratch>,
    request: &DiffRequest<'_>,
) -> Result<Schema> {
    match side {
        Side::History(migrations) => {
            let mut server = scratch_server(workspace, spec, scratch, request).await?;
            let schema = super::scratch::history_schema(&mut server, spec, migrations).await;
            *scratch = Some(server);
            schema
        }
        Side::Empty(dialect) => Ok(Schema::empty(*dialect)),
        Side::Files(files) => {
            let mut server = scratch_server(workspace, spec, scratch, request).await?;
            let schema = super::author::load_files(&mut server, spec, files).await;
            *scratch = Some(server);
            schema
        }
        Side::Live(url) => {
            let mut session =
                super::scratch::open_live(spec, url, request.waits, |note| (request.on_note)(note))
                    .await?;
            super::scratch::live_schema(&mut session).await
        }
    }
}
