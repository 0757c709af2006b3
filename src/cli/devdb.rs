//! `db start|stop|status|url`: the set's dev database, which commands use when no URL is given.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::Context;
use super::db::block_on;
use crate::db::DatabaseUrl;
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result};
use crate::report::{status_line, style};
use crate::sandbox::{self, Dev, DevKey, Provider, SandboxKind};
use crate::workspace::{SetSpec, Workspace};

/// Manage the set's dev database: the disposable database commands use without a URL
#[derive(Debug, Args)]
#[command(after_help = "\
The dev database is one per workspace set and kind, kept between commands so `up`, `status` \
and `down` see the same state. PostgreSQL sets get a Docker container (or, with --sandbox local \
or without Docker, a cluster of the locally installed PostgreSQL); SQLite sets a file. Without \
--sandbox, the kind used last is kept; another kind's dev database is never deleted by a switch.

Examples:
  cargo migrate db start
  export DATABASE_URL=$(cargo migrate db url)  point the application at it
  cargo migrate db status
  cargo migrate db stop --purge                also remove cached Docker images")]
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
    databases: Vec<SetDevReport<'a>>,
}

/// One dev database in `db status --format json`.
#[derive(Debug, Serialize)]
struct SetDevReport<'a> {
    /// The set's package name (or directory).
    set: &'a str,
    provider: &'static str,
    image: Option<&'a str>,
    url: &'a str,
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
    // The first Docker start may pull or build an image: a spinner says it is under way.
    let spinner = context.output.spinner(&format!(
        "starting the dev database ({})",
        provider.as_str()
    ));
    block_on(sandbox::dev_start(
        key,
        provider,
        &image_for(spec, None),
        &|note| spinner.status(format!("note: {note}")),
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
    let output = &context.output;
    let url_only = match &args.action {
        DevDbAction::Status => return status(context, &workspace),
        DevDbAction::Stop { purge } => return stop(context, &workspace, *purge),
        DevDbAction::Start => false,
        DevDbAction::Url => true,
    };
    let spec = workspace.select_one(&context.selector()?)?.clone();
    let (key, dialect) = key_and_dialect(&workspace, &spec)?;
    let (dev, started) = start(context, &spec, &key, dialect)?;
    if output.json() {
        output.print_json(&DevReport {
            running: true,
            provider: Some(dev.provider.as_str()),
            image: dev.image.as_deref(),
            url: Some(&dev.url),
            started,
        });
    } else if url_only {
        // For `$(cargo migrate db url)`: the URL alone, unscrubbed (it holds no secret).
        output.raw_line(&dev.url);
    } else {
        output.verb(
            if started { "Started" } else { "Running" },
            style::good(),
            format_args!("the dev database ({}): {}", describe(&dev), dev.url),
        );
    }
    Ok(())
}

/// `db status`: every dev database of the chosen sets (all of a workspace's by default).
fn status(context: &Context, workspace: &Workspace) -> Result<()> {
    let output = &context.output;
    let sets = workspace
        .choose(&context.selector()?)?
        .require_sets(workspace)?;
    let several = sets.len() > 1;
    let mut all = Vec::new();
    for spec in &sets {
        let key = DevKey::new(&workspace.root, &spec.dir);
        let devs = block_on(sandbox::dev_status(&key))?;
        all.push((spec.label(&workspace.root), devs));
    }
    if output.json() {
        // The first set's database commands use, as before; then every one.
        let current = all.iter().find_map(|(_, devs)| devs.first());
        output.print_json(&StatusReport {
            running: current.is_some(),
            provider: current.map(|d| d.provider.as_str()),
            image: current.and_then(|d| d.image.as_deref()),
            url: current.map(|d| d.url.as_str()),
            started: false,
            databases: all
                .iter()
                .flat_map(|(set, devs)| {
                    devs.iter().map(move |dev| SetDevReport {
                        set,
                        provider: dev.provider.as_str(),
                        image: dev.image.as_deref(),
                        url: &dev.url,
                    })
                })
                .collect(),
        });
        return Ok(());
    }
    for (set, devs) in &all {
        let whose = if several {
            format!(" of `{set}`")
        } else {
            String::new()
        };
        if devs.is_empty() {
            output.line(status_line(
                "Not running",
                format_args!("no dev database{whose} runs (`cargo migrate db start` starts one)"),
                |verb| output.paint(verb, style::dim()),
            ));
        }
        for (index, dev) in devs.iter().enumerate() {
            let note = if index == 0 && devs.len() > 1 {
                " (commands use this one; --sandbox picks another)"
            } else {
                ""
            };
            output.line(status_line(
                "Running",
                format_args!(
                    "the dev database{whose} ({}): {}{note}",
                    describe(dev),
                    dev.url
                ),
                |verb| output.paint(verb, style::good()),
            ));
        }
    }
    Ok(())
}

/// `db stop`: every dev database of the chosen sets, or only --sandbox KIND's.
fn stop(context: &Context, workspace: &Workspace, purge: bool) -> Result<()> {
    let output = &context.output;
    let sets = workspace
        .choose(&context.selector()?)?
        .require_sets(workspace)?;
    let several = sets.len() > 1;
    let mut report = StopReport {
        running: false,
        stopped: Vec::new(),
        purged_images: None,
    };
    for (index, spec) in sets.iter().enumerate() {
        let key = DevKey::new(&workspace.root, &spec.dir);
        let only = match chosen_kind(context, spec) {
            Some(kind) => Some(sandbox::resolve(
                kind,
                known_dialect(workspace, spec, "--sandbox cannot be checked against it")?,
            )?),
            None => None,
        };
        // The cached images are shared: purged once.
        let stopped = block_on(sandbox::dev_stop(&key, only, purge && index == 0))?;
        if index == 0 {
            report.purged_images = stopped.purged_images;
        }
        let whose = if several {
            format!(" of `{}`", spec.label(&workspace.root))
        } else {
            String::new()
        };
        for provider in &stopped.databases {
            report.stopped.push(provider.as_str());
            if !output.json() {
                output.verb(
                    "Stopped",
                    style::good(),
                    format_args!(
                        "the dev database{whose} ({}); its data is deleted",
                        provider.as_str()
                    ),
                );
            }
        }
    }
    if output.json() {
        output.print_json(&report);
        return Ok(());
    }
    if output.quiet {
        return Ok(());
    }
    if report.stopped.is_empty() {
        output.verb(
            "Stopped",
            style::dim(),
            "nothing: no dev database was running",
        );
    }
    match (purge, report.purged_images) {
        (false, _) => {}
        (true, None) => output.verb(
            "Skipped",
            style::dim(),
            "no cached Docker images removed: Docker does not answer",
        ),
        (true, Some(count)) => output.verb(
            "Removed",
            style::good(),
            format_args!(
                "{count} cached Docker image{} (rebuilt at the next start)",
                if count == 1 { "" } else { "s" }
            ),
        ),
    }
    Ok(())
}
