//! `lint`: deploy safety of migrations not yet deployed — squawk-linter's rules, confirmed on
//! PostgreSQL by tracing the locks each statement takes on a disposable database.

use clap::Args;
use serde::Serialize;

use super::Context;
use super::db::block_on;
use super::each;
use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::migration::Migrations;
use crate::report::{Format, style};
use crate::safety::analyse::MigrationReport;
use crate::safety::run::Summary;
use crate::safety::{Finding, Severity, select};
use crate::workspace::{SetSpec, Workspace};

/// Report locks on busy tables, rewrites and missing lock timeouts in migrations
#[derive(Debug, Args)]
#[command(after_help = "\
Which migrations: --pending (those not applied on --database-url or $DATABASE_URL), --since \
REF (added since a git ref), --last N, or --all. Default: pending when a database URL is \
given, else new since `safety.since` when configured, else the newest one.

Static rules (squawk-linter) run on every selected migration; on PostgreSQL each one is then \
run statement by statement on a disposable database (existing tables seeded with a few rows, \
rolled back) and the locks it takes on existing relations are read from pg_locks. Codes, \
their effects and safe rewrites: docs/safety.md. Allow one with `-- migrate:allow CODE reason`.

Examples:
  cargo migrate lint                           the newest migration
  cargo migrate lint --since origin/main       what a pull request adds
  cargo migrate lint --pending --database-url $PROD_RO_URL
  cargo migrate lint --all --no-trace          static rules only, no database
  cargo migrate lint --format github
      annotations on the pull request's lines")]
pub struct LintArgs {
    /// Migrations added since this git ref (committed, staged or untracked)
    #[arg(long, value_name = "REF", group = "which")]
    pub since: Option<String>,

    /// The newest N migrations
    #[arg(long, value_name = "N", group = "which")]
    pub last: Option<usize>,

    /// Migrations not applied on the database (--database-url or $DATABASE_URL)
    #[arg(long, group = "which")]
    pub pending: bool,

    /// Every migration
    #[arg(long, group = "which")]
    pub all: bool,

    /// Database whose pending migrations to lint [default: $DATABASE_URL; never .env]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Static rules only: no disposable database, no trace
    #[arg(long)]
    pub no_trace: bool,

    /// Keep retrying the connection to the database for this many seconds (with --pending)
    #[arg(long, value_name = "SECS", default_value_t = 0, value_parser = super::parse_secs)]
    pub wait: u64,
}

/// The JSON document of a set's run.
#[derive(Debug, Serialize)]
struct LintReport<'a> {
    format_version: u32,
    set: String,
    dialect: Option<&'static str>,
    /// How the migrations were chosen, e.g. "new since origin/main".
    selection: String,
    ok: bool,
    summary: Summary,
    migrations: &'a [MigrationReport],
}

pub fn run(context: &Context, args: &LintArgs) -> Result<()> {
    each::read_only(context, |context, workspace, spec| {
        run_set(context, workspace, spec, args)
    })
}

/// The selected indexes and how they were chosen.
fn choose(
    context: &Context,
    spec: &SetSpec,
    migrations: &Migrations,
    args: &LintArgs,
) -> Result<(Vec<usize>, String)> {
    let all = &migrations.migrations;
    if args.all {
        return Ok(((0..all.len()).collect(), "all".to_string()));
    }
    if let Some(count) = args.last {
        return Ok((select::last(count, all), format!("the newest {count}")));
    }
    if let Some(reference) = &args.since {
        return Ok((
            select::since(&spec.dir, reference, all)?,
            format!("new since {reference}"),
        ));
    }
    let url = crate::engine::find_explicit_url(args.database_url.as_deref(), spec)?;
    match url {
        Some(url) => {
            let indexes = pending(context, spec, migrations, &url, args.wait)?;
            Ok((indexes, format!("pending on {}", url.redacted())))
        }
        None if args.pending => Err(Error::input(
            ErrorCode::NoDatabaseUrl,
            "--pending needs the database whose pending migrations to lint",
        )
        .at(spec.label(&spec.dir))
        .hint(format!(
            "pass --database-url or set {} (a .env file is not read for this)",
            crate::engine::url_variable(spec)
        ))),
        None => match &spec.config.safety.since {
            Some(reference) => Ok((
                select::since(&spec.dir, reference, all)?,
                format!("new since {reference} (safety.since)"),
            )),
            None => Ok((select::last(1, all), "the newest".to_string())),
        },
    }
}

/// The migrations not applied on the database at `url`.
fn pending(
    context: &Context,
    spec: &SetSpec,
    migrations: &Migrations,
    url: &crate::db::DatabaseUrl,
    wait: u64,
) -> Result<Vec<usize>> {
    let session = block_on(super::scratch::open_live(
        context,
        spec,
        url,
        (wait, crate::engine::DEFAULT_CONNECT_TIMEOUT_SECS),
    ))?;
    let entries = crate::engine::status::status(
        &migrations.migrations,
        &session.rows,
        &session.format,
        migrations.order(),
    );
    Ok(select::pending(&entries, &migrations.migrations))
}

fn run_set(
    context: &Context,
    workspace: &Workspace,
    spec: &SetSpec,
    args: &LintArgs,
) -> Result<()> {
    let migrations = spec.scan()?;
    let dialect = spec.dialect();
    let (selected, selection) = choose(context, spec, &migrations, args)?;
    let trace = !args.no_trace && dialect == Some(crate::dialect::Dialect::Postgres);
    let (reports, trace_ms) = block_on(async {
        let mut scratch = if trace && !selected.is_empty() {
            Some(super::scratch::start(context, workspace, spec, None).await?)
        } else {
            None
        };
        let result = crate::safety::run::analyse(
            scratch.as_mut(),
            &crate::engine::scratch::replay_format(spec),
            dialect.unwrap_or(crate::dialect::Dialect::Postgres),
            &migrations.migrations,
            &selected,
            &spec.config.safety,
        )
        .await;
        if let Some(scratch) = scratch {
            scratch.stop().await?;
        }
        result
    })?;
    let summary = Summary::of(&reports, trace_ms);
    let report = LintReport {
        format_version: 1,
        set: spec.label(&workspace.root),
        dialect: dialect.map(|d| d.as_str()),
        selection,
        ok: summary.errors == 0,
        summary,
        migrations: &reports,
    };
    let output = &context.output;
    match context.global.format {
        Format::Json => output.print_json(&report),
        Format::Github => print_github(context, &report),
        Format::Human => print_human(context, &report),
    }
    if report.ok {
        return Ok(());
    }
    Err(Error::new(
        ErrorClass::CheckFailed,
        ErrorCode::UnsafeMigration,
        format!(
            "{} deploy-safety error{} in {}",
            report.summary.errors,
            if report.summary.errors == 1 { "" } else { "s" },
            report.set
        ),
    )
    .at(report.set.clone())
    .hint("each finding above names the safe rewrite; allow a deliberate one with `-- migrate:allow CODE reason` above the statement")
    .reported_in_json())
}

/// `--format github`: one workflow command per finding, so the pull request shows it on its
/// line; the summary as a notice.
fn print_github(context: &Context, report: &LintReport<'_>) {
    let output = &context.output;
    for migration in report.migrations {
        for finding in &migration.findings {
            output.line(github_annotation(finding));
        }
    }
    output.line(format!(
        "::notice title=cargo migrate lint::{}",
        escape_data(&summary_line(report))
    ));
}

/// One workflow command for `finding`.
pub fn github_annotation(finding: &Finding) -> String {
    let level = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note | Severity::Off => "notice",
    };
    format!(
        "::{level} file={},line={},col={},title={}::{}",
        escape_property(&finding.file),
        finding.line,
        finding.column,
        escape_property(&format!("{} ({})", finding.code, finding.verdict.as_str())),
        escape_data(&format!("{}\nhint: {}", finding.message, finding.hint))
    )
}

/// Escapes a workflow command's message as the runner reads it.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn summary_line(report: &LintReport<'_>) -> String {
    let s = &report.summary;
    format!(
        "{} migration{} ({}): {} error{}, {} warning{}, {} note{}; {} confirmed, {} static-only, {} trace-only, {} untraced; {} allowed",
        s.migrations,
        if s.migrations == 1 { "" } else { "s" },
        report.selection,
        s.errors,
        if s.errors == 1 { "" } else { "s" },
        s.warnings,
        if s.warnings == 1 { "" } else { "s" },
        s.notes,
        if s.notes == 1 { "" } else { "s" },
        s.confirmed,
        s.static_only,
        s.trace_only,
        s.untraced,
        s.allowed
    )
}

fn print_human(context: &Context, report: &LintReport<'_>) {
    let output = &context.output;
    output.line(format!(
        "{} set {} ({}, {})",
        output.paint("Linted", style::header()),
        report.set,
        report.dialect.unwrap_or("unknown dialect"),
        summary_line(report)
    ));
    for migration in report.migrations {
        print_migration(context, migration);
    }
}

/// A migration's findings with code frames, then its lock table.
pub fn print_migration(context: &Context, migration: &MigrationReport) {
    let output = &context.output;
    for finding in &migration.findings {
        let (word, paint) = match finding.severity {
            Severity::Error => ("error", style::bad()),
            Severity::Warning => ("warning", style::warn()),
            Severity::Note | Severity::Off => ("note", style::dim()),
        };
        output.line("");
        output.line(format!(
            "{}{} {}",
            output.paint(format!("{word}[{}]", finding.code), paint),
            output.paint(format!(" {}:", finding.verdict.as_str()), style::dim()),
            output.paint(&finding.message, style::header())
        ));
        output.line(format!(
            "  {} {}",
            output.paint("-->", style::dim()),
            finding.location
        ));
        if let Some(frame) = crate::engine::code_frame(&migration.sql, finding.line, finding.column)
        {
            for line in frame.lines() {
                output.line(format!("  {line}"));
            }
        }
        for lock in &finding.locks {
            output.line(format!(
                "  = {} on {} {} blocks {} until commit{}",
                lock.mode,
                lock.kind,
                lock.relation,
                lock.blocks,
                held(lock.held_across)
            ));
        }
        if !finding.rewrites.is_empty() {
            output.line(format!("  = rewrote {}", finding.rewrites.join(", ")));
        }
        output.line(format!(
            "  = {} {}",
            output.paint("hint:", style::hint()),
            finding.hint
        ));
    }
    let about = format!("{}_{}", migration.version, migration.name);
    if let Some(reason) = &migration.not_traced {
        if output.verbose > 0 || !migration.findings.is_empty() {
            output.line(format!(
                "\n{} {about}: {reason}",
                output.paint("Locks", style::dim())
            ));
        }
        return;
    }
    if migration.locks.is_empty() {
        if output.verbose > 0 {
            output.line(format!(
                "\n{} {about}: no lock on an existing relation",
                output.paint("Locks", style::dim())
            ));
        }
        return;
    }
    output.line(format!(
        "\n{} {about}{}:",
        output.paint("Locks", style::header()),
        if migration.seeded.is_empty() {
            String::new()
        } else {
            format!(" (seeded {})", migration.seeded.join(", "))
        }
    ));
    let mut table = crate::report::Table::new(&[
        ("at", false),
        ("mode", false),
        ("on", false),
        ("blocks", false),
        ("held", false),
        ("ms", true),
    ]);
    for statement in &migration.locks {
        let at = format!("{}:{}", statement.line, statement.column);
        for lock in &statement.locks {
            table.row(vec![
                at.clone(),
                lock.mode.clone(),
                format!("{} {}", lock.kind, lock.relation),
                lock.blocks.to_string(),
                format!("until commit{}", held(lock.held_across)),
                format!("{:.1}", statement.duration_ms),
            ]);
        }
        for rewrite in &statement.rewrites {
            table.row(vec![
                at.clone(),
                "(rewrite)".to_string(),
                rewrite.clone(),
                "-".to_string(),
                "-".to_string(),
                format!("{:.1}", statement.duration_ms),
            ]);
        }
    }
    for line in table.render(|text, s| output.paint(text, s)).lines() {
        output.line(format!("  {line}"));
    }
}

fn held(further: usize) -> String {
    match further {
        0 => String::new(),
        1 => " (+1 statement)".to_string(),
        n => format!(" (+{n} statements)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_escape_what_the_runner_reads() {
        assert_eq!(escape_data("a%b\nc\r"), "a%25b%0Ac%0D");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
