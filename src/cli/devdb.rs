//! `db start|stop|status|url`: the set's dev database, which commands use when no URL is given.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::Context;
use super::db::block_on;
use crate::db::DatabaseUrl;
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result};
use crate::report::style;
use crate::sandbox::{self, Dev, DevKey, Provider, SandboxKind};
use crate::workspace::{SetSpec, Workspace};

/// Manage the set's dev database: the disposable database commands use without a URL
#[derive(Debug, Args)]
#[command(after_help = "\
The dev database is one per workspace set and kind, kept between commands so `up`, `status` and
`down` see the same state. PostgreSQL sets get a Docker container (or, with --sandbox local or
without Docker, a cluster of the locally installed PostgreSQL); SQLite sets a file. Without
--sandbox, the kind used last is kept; another kind's dev database is never deleted by a switch.

Examples:
  cargo migrate db start
  export DATABASE_URL=$(cargo migrate db url)     point the application at it
  cargo migrate db status
  cargo migrate db stop --purge                   also remove cached Docker images")]
pub struct DevDbArgs {
    #[command(subcommand)]
    pub action: DevDbAction,
}

#[derive(Debug, Subcommand)]
pub enum DevDbAction {
    /// Start the dev database (or find it running)
    Start,
    /// Stop the dev databases (every kind's, or --sandbox KIND's) and delete their data
    Stop {
        /// Also remove cargo-migrate's cached, pre-initialised Docker images
        #[arg(long)]
        purge: bool,
    },
    /// Which dev databases run, and where (the one commands use first)
    Status,
    /// Print the dev database's URL (starting it if needed), for scripts and .env files
    Url,
}

#[derive(Debug, Serialize)]
struct DevReport<'a> {
    running: bool,
    provider: Option<&'static str>,
    image: Option<&'a str>,
    /// The URL to connect with (the sandbox's fixed password is not a secret).
    url: Option<&'a str>,
    started: bool,
}

/// `db status --format json`: the database commands use (as before), and every one.
#[derive(Debug, Serialize)]
struct StatusReport<'a> {
    running: bool,
    provider: Option<&'static str>,
    image: Option<&'a str>,
    url: Option<&'a str>,
    started: bool,
    databases: Vec<DevReport<'a>>,
}

/// `db stop --format json`.
#[derive(Debug, Serialize)]
struct StopReport {
    running: bool,
    stopped: Vec<&'static str>,
    /// `null` when Docker did not answer.
    purged_images: Option<usize>,
}

fn key_and_dialect(workspace: &Workspace, spec: &SetSpec) -> Result<(DevKey, Dialect)> {
    let dialect = known_dialect(workspace, spec, "no dev database can be chosen")?;
    Ok((DevKey::new(&workspace.root, &spec.dir), dialect))
}

/// The set's dialect, or an error saying that without it, `consequence`.
pub(super) fn known_dialect(
    workspace: &Workspace,
    spec: &SetSpec,
    consequence: &str,
) -> Result<Dialect> {
    spec.dialect().ok_or_else(|| {
        Error::input(
            ErrorCode::UnknownDialect,
            format!(
                "the dialect of set `{}` is not known, so {consequence}",
                spec.label(&workspace.root)
            ),
        )
        .at(spec
            .manifest_path
            .as_deref()
            .map_or_else(|| "--dialect".into(), crate::error::display_path))
        .hint("set `dialect` in [package.metadata.migrate], pass --dialect, or pass --database-url")
    })
}

pub(super) fn provider_for(
    context: &Context,
    spec: &SetSpec,
    dialect: Dialect,
) -> Result<Provider> {
    let kind = context
        .global
        .sandbox
        .or(spec.config.sandbox)
        .unwrap_or(SandboxKind::Auto);
    sandbox::resolve(kind, dialect)
}

/// The Docker image for the set's sandboxes; `live_major` is the major version of the live
/// server the set is compared with, when there is one.
pub(super) fn image_for(spec: &SetSpec, live_major: Option<&str>) -> String {
    sandbox::default_image(spec.config.image.as_deref(), live_major)
}

/// The kind asked for with --sandbox or the set's `sandbox` setting, if any.
fn chosen_kind(context: &Context, spec: &SetSpec) -> Option<SandboxKind> {
    context
        .global
        .sandbox
        .or(spec.config.sandbox)
        .filter(|kind| *kind != SandboxKind::Auto)
}

/// Starts the set's dev database (or finds it running) with the chosen provider and image,
/// showing progress notes (an image pull) on stderr. Without a choice, the kind used last
/// is kept while its database exists: switching kinds is always asked for.
fn start(context: &Context, spec: &SetSpec, key: &DevKey, dialect: Dialect) -> Result<(Dev, bool)> {
    let provider = match chosen_kind(context, spec) {
        None => match sandbox::dev_preferred(key)
            .filter(|kept| sandbox::resolve(kind_of(*kept), dialect).is_ok())
        {
            Some(kept) => kept,
            None => provider_for(context, spec, dialect)?,
        },
        Some(_) => provider_for(context, spec, dialect)?,
    };
    block_on(sandbox::dev_start(
        key,
        provider,
        &image_for(spec, None),
        &|note| context.output.status(format!("note: {note}")),
    ))
}

fn kind_of(provider: Provider) -> SandboxKind {
    match provider {
        Provider::Docker => SandboxKind::Docker,
        Provider::Local => SandboxKind::Local,
        Provider::Sqlite => SandboxKind::Sqlite,
    }
}

/// The set's dev database URL for a command given no URL: started on demand, announced once.
pub fn ensure_dev(context: &Context, workspace: &Workspace, spec: &SetSpec) -> Result<DatabaseUrl> {
    let (key, dialect) = key_and_dialect(workspace, spec)?;
    let (dev, started) = start(context, spec, &key, dialect)?;
    let url = DatabaseUrl::sandbox(&dev.url, dialect);
    if started {
        context.output.status(format!(
            "{} no database URL given: using the dev database ({}) at {}",
            context.output.paint_err("note:", style::warn()),
            describe(&dev),
            dev.url
        ));
    }
    Ok(url)
}

fn describe(dev: &Dev) -> String {
    match (&dev.provider, &dev.image) {
        (Provider::Docker, Some(image)) => format!("docker, {image}"),
        (provider, _) => provider.as_str().to_string(),
    }
}

pub fn run(context: &Context, args: &DevDbArgs) -> Result<()> {
    let workspace = context.workspace()?;
    let spec = workspace.select_one(&context.selector()?)?.clone();
    let (key, dialect) = key_and_dialect(&workspace, &spec)?;
    let output = &context.output;
    match &args.action {
        DevDbAction::Start | DevDbAction::Url => {
            let (dev, started) = start(context, &spec, &key, dialect)?;
            if output.json() {
                output.print_json(&DevReport {
                    running: true,
                    provider: Some(dev.provider.as_str()),
                    image: dev.image.as_deref(),
                    url: Some(&dev.url),
                    started,
                });
            } else if matches!(args.action, DevDbAction::Url) {
                // For `$(cargo migrate db url)`: the URL alone, unscrubbed (it holds no secret).
                output.raw_line(&dev.url);
            } else {
                output.line(format!(
                    "{:>12} the dev database ({}): {}",
                    output.paint(if started { "Started" } else { "Running" }, style::good()),
                    describe(&dev),
                    dev.url
                ));
            }
        }
        DevDbAction::Status => {
            let devs = block_on(sandbox::dev_status(&key))?;
            let current = devs.first();
            if output.json() {
                output.print_json(&StatusReport {
                    running: current.is_some(),
                    provider: current.map(|d| d.provider.as_str()),
                    image: current.and_then(|d| d.image.as_deref()),
                    url: current.map(|d| d.url.as_str()),
                    started: false,
                    databases: devs
                        .iter()
                        .map(|dev| DevReport {
                            running: true,
                            provider: Some(dev.provider.as_str()),
                            image: dev.image.as_deref(),
                            url: Some(&dev.url),
                            started: false,
                        })
                        .collect(),
                });
            } else if devs.is_empty() {
                output.line(format!(
                    "{:>12} no dev database runs for this set (`cargo migrate db start` starts one)",
                    output.paint("Not running", style::dim())
                ));
            } else {
                for (index, dev) in devs.iter().enumerate() {
                    output.line(format!(
                        "{:>12} the dev database ({}): {}{}",
                        output.paint("Running", style::good()),
                        describe(dev),
                        dev.url,
                        if index == 0 && devs.len() > 1 {
                            " (commands use this one; --sandbox picks another)"
                        } else {
                            ""
                        }
                    ));
                }
            }
        }
        DevDbAction::Stop { purge } => {
            let only = chosen_kind(context, &spec)
                .map(|kind| sandbox::resolve(kind, dialect))
                .transpose()?;
            let stopped = block_on(sandbox::dev_stop(&key, only, *purge))?;
            if output.json() {
                output.print_json(&StopReport {
                    running: false,
                    stopped: stopped.databases.iter().map(|p| p.as_str()).collect(),
                    purged_images: stopped.purged_images,
                });
            } else if !output.quiet {
                if stopped.databases.is_empty() {
                    output.line(format!(
                        "{:>12} nothing: no dev database was running",
                        output.paint("Stopped", style::dim())
                    ));
                }
                for provider in &stopped.databases {
                    output.line(format!(
                        "{:>12} the dev database ({}); its data is deleted",
                        output.paint("Stopped", style::good()),
                        provider.as_str()
                    ));
                }
                match (*purge, stopped.purged_images) {
                    (false, _) => {}
                    (true, None) => output.line(format!(
                        "{:>12} no cached Docker images removed: Docker does not answer",
                        output.paint("Skipped", style::dim())
                    )),
                    (true, Some(count)) => output.line(format!(
                        "{:>12} {count} cached Docker image{} (rebuilt at the next start)",
                        output.paint("Removed", style::good()),
                        if count == 1 { "" } else { "s" }
                    )),
                }
            }
        }
    }
    Ok(())
}
