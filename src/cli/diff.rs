//! `diff`: the difference between two schemas, each the history (replayed on a disposable
//! database, optionally up to a version), a database, or nothing. The work is
//! [`crate::engine::diff`]; this module parses, resolves the sources in the CLI's environment
//! (`.env`, the dev database) and renders.

use clap::Args;
use serde::Serialize;

use super::Context;
use super::db::block_on;
use super::each;
use crate::engine::diff::{self, DiffOutcome, DiffRequest, Resolver, Source};
use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::report::{Output, style};
use crate::schema::plan::{Destructive, Note, Unsupported};
use crate::schema::{self, Change, ChangeKind};
use crate::workspace::{SetSpec, Workspace};

/// Show the difference between two schemas: the history, a database, or nothing
#[derive(Debug, Args)]
#[command(after_help = "\
A SOURCE is one of:
  history            the history replayed on a disposable database
  history@VERSION    …up to and including VERSION
  database           the database other commands use
                     ($DATABASE_URL, .env, else the dev database)
  empty              no schema at all
  schema             the wanted schema: `schema` in [package.metadata.migrate]
  FILE.sql, DIR      …or these SQL files, loaded on a disposable database
  URL                postgres://… or sqlite:…

Examples:
  cargo migrate diff
      what the database has that the history has not
  cargo migrate diff --from history@20240101000000
      what the migrations since then changed
  cargo migrate diff --from empty --to history
      the whole schema, as additions
  cargo migrate diff --to postgres://ro@prod/app --format json
  cargo migrate diff --from database --to history --sql
      the SQL that brings the database to the history

Exit codes: 0 the schemas are equal, 1 they differ.")]
pub struct DiffArgs {
    /// The schema to compare from
    #[arg(long, value_name = "SOURCE", default_value = "history")]
    pub from: String,

    /// The schema to compare to
    #[arg(long, value_name = "SOURCE", default_value = "database")]
    pub to: String,

    /// Keep retrying database connections for this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 0, value_parser = super::parse_secs)]
    pub wait: u64,

    /// Give up on one connection attempt after this many seconds without an answer
    #[arg(long, value_name = "SECS", default_value_t = crate::engine::DEFAULT_CONNECT_TIMEOUT_SECS, value_parser = super::parse_secs)]
    pub connect_timeout: u64,

    /// Print the SQL that turns FROM into TO instead of the summary and unified diff
    #[arg(long)]
    pub sql: bool,
}

#[derive(Debug, Serialize)]
struct DiffReport<'a> {
    from: &'a str,
    to: &'a str,
    equal: bool,
    changes: &'a [Change],
    /// Unified diff of the rendered schemas (empty when equal).
    diff: &'a str,
    /// With `--sql`: the statements that turn `from` into `to`, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    sql: Option<&'a [String]>,
    /// With `--sql`: the changes no statement expresses, each with the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    unsupported: Option<&'a [Unsupported]>,
    /// With `--sql`: the statements that lose data, by position in `sql`, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    destructive: Option<&'a [Destructive]>,
    /// With `--sql`: why `sql` must run on one connection, in order; null when each
    /// statement may run on a connection of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    one_session: Option<Option<&'a str>>,
    /// With `--sql`: positions in `sql` of the statements that may run again after a failure
    /// part-way with the same result.
    #[serde(skip_serializing_if = "Option::is_none")]
    rerun_safe: Option<&'a [usize]>,
    /// With `--sql`: remarks on statements, by position in `sql`.
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<&'a [Note]>,
}

pub fn run(context: &Context, args: &DiffArgs) -> Result<()> {
    each::read_only(context, |context, workspace, spec| {
        run_set(context, workspace, spec, args)
    })
}

fn run_set(
    context: &Context,
    workspace: &Workspace,
    spec: &SetSpec,
    args: &DiffArgs,
) -> Result<()> {
    let from = Source::parse(&args.from, "--from")?;
    let to = Source::parse(&args.to, "--to")?;
    let migrations = if from.is_history() || to.is_history() {
        Some(spec.scan()?)
    } else {
        None
    };
    // Resolve both sides before any work, so a bad URL or version fails at once.
    let database = || {
        let dotenv = super::db::dotenv(context, &workspace.root, spec);
        match crate::engine::find_url(None, spec, &dotenv)? {
            Some(url) => Ok(url),
            None if context.global.dir.is_some() => Err(crate::engine::no_url_error(spec, &dotenv)),
            None => super::devdb::ensure_dev(context, workspace, spec),
        }
    };
    let dialect = || super::devdb::known_dialect(workspace, spec, "an empty schema has no dialect");
    let resolver = Resolver {
        database: &database,
        dialect: &dialect,
    };
    let from_side = diff::resolve(workspace, spec, &from, migrations.as_ref(), &resolver)?;
    let to_side = diff::resolve(workspace, spec, &to, migrations.as_ref(), &resolver)?;
    let from_label = diff::label(&from, &from_side);
    let to_label = diff::label(&to, &to_side);
    let provider = || super::scratch::provider(context, workspace, spec);
    let request = DiffRequest {
        waits: (args.wait, args.connect_timeout),
        provider: &provider,
        on_scratch: &|described| super::scratch::announce(context, described),
        on_note: &|note| context.output.status(note),
        sql: args.sql,
    };
    let DiffOutcome {
        changes,
        unified,
        plan,
    } = block_on(diff::run(
        workspace,
        spec,
        (&from_side, &to_side),
        (&from_label, &to_label),
        &request,
    ))?;
    let output = &context.output;
    if output.json() {
        output.print_json(&DiffReport {
            from: &from_label,
            to: &to_label,
            equal: changes.is_empty(),
            changes: &changes,
            diff: &unified,
            sql: plan.as_ref().map(|plan| plan.statements.as_slice()),
            unsupported: plan.as_ref().map(|plan| plan.unsupported.as_slice()),
            destructive: plan.as_ref().map(|plan| plan.destructive.as_slice()),
            one_session: plan.as_ref().map(|plan| plan.one_session.as_deref()),
            rerun_safe: plan.as_ref().map(|plan| plan.rerun_safe.as_slice()),
            notes: plan.as_ref().map(|plan| plan.notes.as_slice()),
        });
    } else if let Some(plan) = &plan {
        print_sql(output, plan);
    } else if changes.is_empty() {
        output.line(format!(
            "{} {from_label} and {to_label} have the same schema",
            output.paint("Equal", style::good())
        ));
    } else {
        for change in &changes {
            output.line(paint_change(output, change));
        }
        output.line("");
        for line in unified.lines() {
            output.line(paint_diff_line(output, line));
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    let error = Error::new(
        ErrorClass::CheckFailed,
        ErrorCode::SchemaDiffers,
        format!(
            "the schemas differ: {} change{}",
            changes.len(),
            if changes.len() == 1 { "" } else { "s" }
        ),
    )
    .at(format!("{from_label} → {to_label}"))
    .hint("write a migration for the changes, or run `cargo migrate up` if they are pending")
    .reported_in_json();
    if plan.is_some() && !output.json() {
        // The script is what was asked for: a difference is its subject, not an error. The
        // exit code (1) still says the schemas differ.
        output.status(format!(
            "{} {} change{} from {from_label} to {to_label}, as SQL above",
            output.paint_err("note:", style::hint()),
            changes.len(),
            if changes.len() == 1 { "" } else { "s" }
        ));
        return Err(error.reported_in_human());
    }
    Err(error)
}

/// The plan as a script ([`schema::Plan::script`]: a one-session header, destructive
/// statements marked, what it leaves out as comments); what it leaves out is also warned
/// about on stderr, so a script piped to a file is not taken as complete.
fn print_sql(output: &Output, plan: &schema::Plan) {
    for line in plan.script().lines() {
        output.line(line);
    }
    if plan.unsupported.is_empty() {
        return;
    }
    output.status(format!(
        "{} {} change{} cannot be expressed as SQL (listed as `-- cannot express` comments)",
        output.paint_err("warning:", style::warn()),
        plan.unsupported.len(),
        if plan.unsupported.len() == 1 { "" } else { "s" }
    ));
}

/// A change's summary line, coloured by kind.
pub(super) fn paint_change(output: &Output, change: &Change) -> String {
    let style = match change.kind {
        ChangeKind::Added => style::good(),
        ChangeKind::Removed => style::bad(),
        ChangeKind::Altered => style::warn(),
    };
    output.paint(change.summary(), style)
}

/// A unified diff line, coloured like `git diff`.
pub fn paint_diff_line(output: &Output, line: &str) -> String {
    let style = if line.starts_with("+++") || line.starts_with("---") {
        style::header()
    } else if line.starts_with('+') {
        style::good()
    } else if line.starts_with('-') {
        style::bad()
    } else if line.starts_with("@@") {
        style::hint()
    } else {
        return line.to_string();
    };
    output.paint(line, style)
}
