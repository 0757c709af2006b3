//! What the database commands share: their flags, finding the set and the URL, running a plan
//! with per-migration output, and the guard in front of destructive commands.

use std::future::Future;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::Context;
use super::each::{Json, Kind};
use crate::db::{DatabaseUrl, Direction};
use crate::engine::{self, Session, SessionOptions, status};
use crate::error::{Error, ErrorCode, Result};
use crate::migration::{Migration, Migrations};
use crate::report::events::{self, Event};
use crate::report::{ErrorReport, style};
use crate::workspace::{SetSpec, Workspace};

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL [default: $DATABASE_URL (or the configured variable), then the package's .env, the workspace's]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Keep retrying the connection for this many seconds in all (a database that starts later)
    #[arg(long, value_name = "SECS", default_value_t = 0, value_parser = super::parse_secs)]
    pub wait: u64,

    /// Give up on one connection attempt after this many seconds without an answer
    #[arg(long, value_name = "SECS", default_value_t = engine::DEFAULT_CONNECT_TIMEOUT_SECS, value_parser = super::parse_secs)]
    pub connect_timeout: u64,

    /// Wait at most this many seconds for any lock: another run's migration lock, and each
    /// lock a migration's statements wait for
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = super::parse_secs)]
    pub lock_timeout: u64,
}

/// A set and the database it is run against.
pub struct Target {
    pub spec: SetSpec,
    /// How the set is named in output: its package, or its directory.
    pub label: String,
    pub migrations: Migrations,
    pub url: DatabaseUrl,
    /// The set's dev database (no URL was given): destructive commands need no confirmation.
    pub disposable: bool,
}

/// The workspace and the sets a database command runs for (see [`super::each::sets`]); with
/// several, two of them must not share one database's history table.
pub fn sets(context: &Context, kind: Kind, args: &DbArgs) -> Result<(Workspace, Vec<SetSpec>)> {
    let (workspace, sets) = super::each::sets(context, kind)?;
    if sets.len() > 1 {
        let targets: Vec<(&SetSpec, Option<DatabaseUrl>)> = sets
            .iter()
            // A set whose URL does not resolve fails in its own run, with its own error.
            .map(|spec| {
                let dotenv = dotenv(context, &workspace.root, spec);
                let url = engine::find_url(args.database_url.as_deref(), spec, &dotenv);
                (spec, url.ok().flatten())
            })
            .collect();
        super::each::refuse_shared_history(&workspace, &targets)?;
    }
    Ok((workspace, sets))
}

/// The set's database: the given URL, or, in a Cargo workspace, the set's dev database
/// (started on demand, its URL printed once). With `--dir` (production images) no URL is an
/// error: a deploy must never migrate a database it just made up.
pub fn target(
    context: &Context,
    workspace: &Workspace,
    spec: &SetSpec,
    args: &DbArgs,
) -> Result<Target> {
    let spec = spec.clone();
    let migrations = spec.scan()?;
    let dotenv = dotenv(context, &workspace.root, &spec);
    let found = engine::find_url_and_source(args.database_url.as_deref(), &spec, &dotenv)?;
    let (url, disposable) = match found {
        Some((url, source)) => {
            if context.output.verbose > 0 {
                context.output.verb(
                    "Using",
                    crate::report::style::dim(),
                    format!("the database URL from {source}"),
                );
            }
            (url, false)
        }
        None if context.global.dir.is_some() => {
            return Err(engine::no_url_error(&spec, &dotenv));
        }
        None => (super::devdb::ensure_dev(context, workspace, &spec)?, true),
    };
    engine::check_dialect(&url, &spec, &workspace.root)?;
    Ok(Target {
        label: spec.label(&workspace.root),
        spec,
        migrations,
        url,
        disposable,
    })
}

/// The `.env` files a command may read its URL from: in a Cargo workspace the set's package's
/// (beside its Cargo.toml), then the workspace root's; none with `--dir` (a production image: a stray `.env` in its working directory must not
/// choose the database) or `--no-dotenv`.
pub fn dotenv(
    context: &Context,
    workspace_root: &std::path::Path,
    spec: &SetSpec,
) -> engine::Dotenv {
    let path = workspace_root.join(".env");
    if context.global.dir.is_some() {
        engine::Dotenv::Skipped {
            ignored: path,
            why: "with --dir",
        }
    } else if context.global.no_dotenv {
        engine::Dotenv::Skipped {
            ignored: path,
            why: "with --no-dotenv",
        }
    } else {
        // A member's own `.env` (beside its Cargo.toml) first: it is about that package.
        let package = spec
            .package
            .as_ref()
            .and(spec.manifest_path.as_deref())
            .and_then(|manifest| manifest.parent())
            .map(|dir| dir.join(".env"))
            .filter(|own| *own != path);
        engine::Dotenv::Read(package.into_iter().chain([path]).collect())
    }
}

/// Runs `future` on a single-threaded runtime: the work is one connection at a time.
pub fn block_on<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| {
            // Not the database's fault: the process could not get its threads or event
            // queue (a resource limit), which a retry may well not hit again.
            Error::coded(
                ErrorCode::RuntimeFailed,
                format!("cannot start the async runtime: {err}"),
            )
            .hint("check the process's limits (open files, threads: `ulimit -a`) and try again")
        })?;
    runtime.block_on(future)
}

pub async fn open(
    context: &Context,
    target: &Target,
    args: &DbArgs,
    mutating: bool,
) -> Result<Session> {
    let options = SessionOptions {
        connect: engine::connect_options(
            args.wait,
            args.connect_timeout,
            args.lock_timeout,
            mutating,
        ),
        mutating,
        own_table: engine::own_table(&target.spec),
        history: target
            .spec
            .config
            .history
            .or(target.migrations.layout.tool_history()),
        versions: engine::set_versions(&target.migrations),
    };
    // A version the history cannot store is refused before anything changes; read-only
    // commands may show such a migration (as pending: it can have no row).
    let storable: &[Migration] = if mutating {
        &target.migrations.migrations
    } else {
        &[]
    };
    Session::open(&target.url, &options, storable, |message| {
        context.output.status(message)
    })
    .await
}

/// Every migration's state, given the history `rows` read in `format`.
pub fn entries<'m, 'r>(
    target: &'m Target,
    rows: &'r [crate::db::history::AppliedRow],
    format: &crate::db::history::HistoryFormat,
) -> Vec<status::Entry<'m, 'r>> {
    status::status(
        &target.migrations.migrations,
        rows,
        format,
        target.migrations.order(),
    )
}

/// One migration that ran.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub version: String,
    pub name: String,
    pub direction: &'static str,
    pub duration_ms: u128,
    /// Done by another process while this one waited for the lock.
    pub skipped: bool,
}

/// Runs `plan` in `direction`, printing a line per migration (and a progress bar on a
/// terminal for long plans), or with `--format json` an `applied`/`reverted`/`skipped`
/// event. Stops at the first failure.
pub async fn run_plan(
    context: &Context,
    session: &mut Session,
    plan: &[&Migration],
    direction: Direction,
) -> Result<Vec<RunReport>> {
    let output = &context.output;
    // Every script of the plan is checked before the first runs.
    let sqls = engine::prepare_plan(plan, direction, session.db.dialect())?;
    let show_lines = !output.json() && !output.quiet;
    let bar = (show_lines && plan.len() >= 10 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(plan.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let verb = match direction {
        Direction::Up => "Applied",
        Direction::Down => "Reverted",
    };
    let mut reports = Vec::with_capacity(plan.len());
    for (migration, sql) in plan.iter().zip(&sqls) {
        if let Some(bar) = &bar {
            bar.set_message(format!(
                "{}_{}",
                migration.version.as_str(),
                crate::report::printable(&migration.name)
            ));
        }
        let ran = match session
            .db
            .run_prepared(&session.format, migration, direction, sql)
            .await
        {
            Ok(ran) => ran,
            Err(failure) => {
                if let Some(bar) = &bar {
                    bar.finish_and_clear();
                }
                return Err(engine::failure_error(&failure, migration, direction));
            }
        };
        if output.json() {
            let ran_event = events::Ran {
                version: migration.version.as_str(),
                name: &migration.name,
                duration_ms: ran.elapsed.as_millis(),
            };
            events::emit(&match (ran.skipped, direction) {
                (true, _) => Event::Skipped {
                    version: migration.version.as_str(),
                    name: &migration.name,
                    direction: direction.as_str(),
                },
                (false, Direction::Up) => Event::Applied(ran_event),
                (false, Direction::Down) => Event::Reverted(ran_event),
            });
        }
        if show_lines {
            let rest = format!(
                "{}_{} {}",
                migration.version.as_str(),
                crate::report::printable(&migration.name),
                output.paint_err(
                    if ran.skipped {
                        "(done by another process)".to_string()
                    } else {
                        format!("({})", format_duration(ran.elapsed))
                    },
                    style::dim()
                )
            );
            let verb = if ran.skipped { "Skipped" } else { verb };
            match &bar {
                Some(bar) => bar.suspend(|| output.verb(verb, style::good(), &rest)),
                None => output.verb(verb, style::good(), &rest),
            }
        }
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        reports.push(RunReport {
            version: migration.version.as_str().to_string(),
            name: migration.name.clone(),
            direction: direction.as_str(),
            duration_ms: ran.elapsed.as_millis(),
            skipped: ran.skipped,
        });
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(reports)
}

/// Runs a command whose `--format json` output is an event stream (see
/// [`crate::report::events`]): a failure becomes its last line, an `error` event, instead of
/// the usual `{"error": …}` object.
pub fn event_stream(context: &Context, run: impl FnOnce() -> Result<()>) -> Result<()> {
    match run() {
        Err(error) if context.output.json() && !error.reported_in_json => {
            events::emit(&Event::Error {
                error: ErrorReport::from(&crate::report::shown(&error)).error,
            });
            Err(error.reported_in_json())
        }
        other => other,
    }
}

/// Runs a changing command whose `--format json` output is an event stream (`up`, `down`,
/// `redo`, `reset`) for every selected set, each set's failure the last line of its events.
pub fn each_set_with_events(
    context: &Context,
    args: &DbArgs,
    mut run: impl FnMut(&Context, &Workspace, &SetSpec) -> Result<()>,
) -> Result<()> {
    event_stream(context, || {
        let sets = sets(context, Kind::Changing, args)?;
        super::each::run(
            context,
            Kind::Changing,
            Json::Events,
            sets,
            |context, workspace, spec| event_stream(context, || run(context, workspace, spec)),
        )
    })
}

/// With `--format json`: the `started` event of a run (lock held, history read, plan made).
pub fn emit_started(
    context: &Context,
    target: &Target,
    session: &Session,
    command: &str,
    entries: &[status::Entry<'_, '_>],
    (to_apply, to_revert): (usize, usize),
    dropped: Option<&[String]>,
) {
    if !context.output.json() {
        return;
    }
    events::emit(&Event::Started {
        dropped,
        command,
        set: &target.label,
        database: session.url.redacted(),
        history_table: &session.format.table(),
        pending: entries
            .iter()
            .filter(|e| e.state == status::State::Pending)
            .count(),
        to_apply,
        to_revert,
    });
}

/// With `--format json`: the `finished` event, counting what `runs` did.
pub fn emit_finished(context: &Context, runs: &[RunReport], started: Instant) {
    if !context.output.json() {
        return;
    }
    let count = |direction: Direction| {
        runs.iter()
            .filter(|r| !r.skipped && r.direction == direction.as_str())
            .count()
    };
    events::emit(&Event::Finished {
        applied: count(Direction::Up),
        reverted: count(Direction::Down),
        skipped: runs.iter().filter(|r| r.skipped).count(),
        duration_ms: started.elapsed().as_millis(),
    });
}

/// The closing line of a run: "Finished 3 migrations on <url> in 25 ms".
pub fn print_summary(
    context: &Context,
    url: &DatabaseUrl,
    count: usize,
    what: &str,
    started: Instant,
) {
    let output = &context.output;
    if output.json() || output.quiet {
        return;
    }
    if count == 0 {
        output.verb("Nothing", style::good(), what);
        return;
    }
    output.verb(
        "Finished",
        style::good(),
        format!(
            "{count} migration{} on {url} in {}",
            if count == 1 { "" } else { "s" },
            format_duration(started.elapsed())
        ),
    );
}

pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// Asks before a destructive action: on a terminal a yes/no prompt, elsewhere a refusal unless
/// `--yes`. Prompts only when stdin and stderr are terminals, so CI and pipes never hang.
pub fn confirm(context: &Context, action: &str, target: &Target, yes: bool) -> Result<()> {
    // The dev database is disposable: nothing there needs protecting.
    if yes || target.disposable {
        return Ok(());
    }
    let url = &target.url;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive && !context.output.json() {
        let answer = dialoguer::Confirm::new()
            .with_prompt(format!("{action} on {url}?"))
            .default(false)
            .interact()
            .unwrap_or(false);
        if answer {
            return Ok(());
        }
        return Err(Error::input(
            ErrorCode::ConfirmationRequired,
            format!("not confirmed: {action}"),
        )
        .at(url.redacted())
        .hint("nothing was changed"));
    }
    Err(Error::input(
        ErrorCode::ConfirmationRequired,
        format!("refusing to {action} without confirmation"),
    )
    .at(url.redacted())
    .hint("pass --yes to confirm (no terminal to ask on)"))
}
