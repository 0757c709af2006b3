//! `check`: the CI gate. Integrity, clean replay, reversibility and (with a database URL)
//! drift; every problem is reported, and the exit code is 1 when any step failed. The work is
//! [`crate::engine::check::run`]; this module parses, shows progress and renders.

use std::cell::Cell;
use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;

use super::Context;
use super::db::{block_on, format_duration};
use super::each;
use crate::engine::check::{
    self, CheckReport, CheckRequest, Finding, Header, Reversibility, Step, StepStatus,
};
use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::report::{Output, style};
use crate::safety::run::SafetyMode;
use crate::workspace::{SetSpec, Workspace};

/// Verify the history: it replays cleanly, every down undoes its up, a live database has not drifted
#[derive(Debug, Args)]
#[command(after_help = "\
Steps: integrity (versions, layout), clean replay (every up on a fresh disposable database), \
reversibility (each down restores the schema before its up, and the up applies again), drift \
(with a database URL: its schema against the history replayed up to its applied version), \
safety (locks, rewrites, lock timeouts, traced on the replay; see `lint`).

--safety auto looks at the migrations not yet on the target: pending on the database, else \
new since --since REF (or `safety.since`), else the newest; --since wins over pending.

Examples:
  cargo migrate check                              in CI: exit 1 on any problem
  cargo migrate check --reversibility last:3       only the newest 3 downs
  cargo migrate check --since origin/main          safety of what a PR adds
  cargo migrate check --safety all                 trace every migration
  cargo migrate check --database-url $PROD_RO_URL  also production's schema
  cargo migrate check --format json")]
pub struct CheckArgs {
    /// Database to compare for drift [default: $DATABASE_URL; never .env]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Which down scripts to verify: all, none, or last:N (the newest N)
    #[arg(long, value_name = "WHICH", default_value = "all", value_parser = parse_reversibility)]
    pub reversibility: Reversibility,

    /// Keep retrying the connection to the live database for this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 0, value_parser = super::parse_secs)]
    pub wait: u64,

    /// Which migrations the safety step traces: auto, all, none, or last:N
    #[arg(long, value_name = "WHICH", default_value = "auto", value_parser = parse_safety)]
    pub safety: SafetyMode,

    /// Same as --safety none: skip the deploy-safety step
    #[arg(long, conflicts_with_all = ["safety", "since"])]
    pub no_safety: bool,

    /// Safety step: migrations added since this git ref [default: safety.since]
    #[arg(long, value_name = "REF")]
    pub since: Option<String>,

    /// Give up on one connection attempt after this many seconds without an answer
    #[arg(long, value_name = "SECS", default_value_t = crate::engine::DEFAULT_CONNECT_TIMEOUT_SECS, value_parser = super::parse_secs)]
    pub connect_timeout: u64,
}

fn parse_reversibility(text: &str) -> std::result::Result<Reversibility, String> {
    text.parse()
}

fn parse_safety(text: &str) -> std::result::Result<SafetyMode, String> {
    text.parse()
}

pub fn run(context: &Context, args: &CheckArgs) -> Result<()> {
    each::read_only(context, |context, workspace, spec| {
        run_set(context, workspace, spec, args)
    })
}

fn run_set(
    context: &Context,
    workspace: &Workspace,
    spec: &SetSpec,
    args: &CheckArgs,
) -> Result<()> {
    let provider = || {
        let dialect =
            super::devdb::known_dialect(workspace, spec, "no scratch database can be chosen")?;
        super::devdb::provider_for(context, spec, dialect)
    };
    let safety = if args.no_safety {
        SafetyMode::None
    } else {
        args.safety
    };
    if args.since.is_some() && safety != SafetyMode::Auto {
        return Err(Error::input(
            ErrorCode::Usage,
            "--since chooses the safety step's migrations only with --safety auto",
        )
        .hint("drop --since, or --safety (auto is the default)"));
    }
    let request = CheckRequest {
        database_url: args.database_url.as_deref(),
        reversibility: args.reversibility,
        waits: (args.wait, args.connect_timeout),
        safety: (safety, args.since.as_deref()),
        provider: &provider,
    };
    let display = Display::new(&context.output);
    let report = block_on(check::run(workspace, spec, &request, &display));
    display.clear();
    let mut report = report?;
    if let Some(path) = &spec.config.schema_file
        && report.replay.status == StepStatus::Passed
        && let Some(finding) = super::schema::locked_finding(context, workspace, spec, path)?
    {
        // The committed schema file is part of what the replay proves.
        report.replay.status = StepStatus::Failed;
        report.replay.findings.push(finding);
        report.ok = false;
    }
    finish(context, &report, display.printed.get())
}

/// Shows a check as it runs: on a terminal (stderr; not with `-q` or `--format json`) a
/// progress line (the step, migration i of n, the elapsed time) and each step's result line
/// as the step finishes; otherwise only the status notes, and the report at the end.
struct Display<'o> {
    output: &'o Output,
    bar: Option<indicatif::ProgressBar>,
    /// How many of the report's lines (header and steps) were printed already.
    printed: Cell<usize>,
}

impl<'o> Display<'o> {
    fn new(output: &'o Output) -> Display<'o> {
        let live = !output.json() && !output.quiet && std::io::stderr().is_terminal();
        Display {
            output,
            bar: live.then(progress_bar),
            printed: Cell::new(0),
        }
    }

    /// Prints `line` on stdout without tearing the progress line.
    fn print(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.output.line(&line)),
            None => self.output.line(&line),
        }
    }

    fn status(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.output.status(&line)),
            None => self.output.status(&line),
        }
    }

    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The progress line: a spinner, the step, a bar with migration i of n, what is under way,
/// the elapsed time.
fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(progress_style(false));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn progress_style(counted: bool) -> indicatif::ProgressStyle {
    let template = if counted {
        "{spinner} {prefix:>13} [{bar:25}] {pos}/{len} {wide_msg} {elapsed}"
    } else {
        "{spinner} {prefix:>13} {wide_msg} {elapsed}"
    };
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

impl check::Progress for Display<'_> {
    fn note(&self, message: &str) {
        self.status(message.to_string());
    }

    fn stage(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_style(progress_style(false));
            bar.set_prefix("check");
            bar.set_message(what.to_string());
        }
    }

    fn ready(&self, header: &Header) {
        let output = self.output;
        self.status(crate::report::status_line(
            "Using",
            format_args!(
                "a disposable database ({})",
                header.sandbox.as_deref().unwrap_or_default()
            ),
            |verb| output.paint_err(verb, style::good()),
        ));
        if self.bar.is_some() {
            self.print(header_line(output, header));
            self.printed.set(1);
        }
    }

    fn migration(&self, step: &'static str, index: usize, total: usize, label: &str) {
        if let Some(bar) = &self.bar {
            if index == 0 {
                bar.set_style(progress_style(true));
                bar.set_length(total as u64);
                bar.set_prefix(step);
            }
            bar.set_position(index as u64);
            bar.set_message(label.to_string());
        }
        if self.output.verbose > 0 {
            self.status(format!(
                "{} {}/{total} {label}",
                self.output.paint_err("Replaying", style::dim()),
                index + 1
            ));
        }
    }

    fn finished(&self, name: &'static str, step: &Step) {
        if self.bar.is_some() {
            self.print(step_line(self.output, name, step));
            self.printed.set(self.printed.get() + 1);
        }
    }
}

/// Prints the report (what the display did not print yet) and turns failed steps into the
/// exit code.
fn finish(context: &Context, report: &CheckReport, printed: usize) -> Result<()> {
    let output = &context.output;
    if output.json() {
        output.print_json(report);
    } else {
        print_human(context, report, printed);
    }
    let mut failed: Vec<(&str, usize)> = report
        .steps()
        .iter()
        .filter(|(_, step)| step.status == StepStatus::Failed)
        .map(|(name, step)| (*name, step.findings.len()))
        .collect();
    if report.safety.failed() {
        failed.push(("safety", report.safety.errors()));
    }
    if failed.is_empty() {
        return Ok(());
    }
    let problems: usize = failed.iter().map(|(_, n)| n).sum();
    let steps: Vec<String> = failed
        .iter()
        .map(|(name, n)| format!("{name}: {n}"))
        .collect();
    Err(Error::new(
        ErrorClass::CheckFailed,
        ErrorCode::CheckFailed,
        format!(
            "check failed: {problems} problem{} ({})",
            if problems == 1 { "" } else { "s" },
            steps.join(", ")
        ),
    )
    .at(report.header.set.clone())
    .hint("each problem is listed above with the migration and file it is about")
    .reported_in_json())
}

fn header_line(output: &Output, header: &Header) -> String {
    format!(
        "{} set {} ({}, {} migrations){}",
        output.paint("Checked", style::header()),
        header.set,
        header.dialect.unwrap_or("unknown dialect"),
        header.migrations,
        header
            .sandbox
            .as_ref()
            .map(|s| format!(" on a disposable database ({s})"))
            .unwrap_or_default()
    )
}

fn step_line(output: &Output, name: &str, step: &Step) -> String {
    let (word, style) = match step.status {
        StepStatus::Passed => ("ok", style::good()),
        StepStatus::Failed => ("FAILED", style::bad()),
        StepStatus::Skipped => ("skipped", style::dim()),
    };
    let took = if step.status == StepStatus::Skipped {
        String::new()
    } else {
        output.paint(
            format!(
                " ({})",
                format_duration(Duration::from_millis(step.duration_ms as u64))
            ),
            style::dim(),
        )
    };
    format!(
        "  {} {:<13} {}{took}",
        output.paint(format!("{word:>7}"), style),
        name,
        step.summary
    )
}

/// The report in lines; the first `printed` (header and steps) were printed as the run went.
fn print_human(context: &Context, report: &CheckReport, printed: usize) {
    let output = &context.output;
    let mut lines = vec![header_line(output, &report.header)];
    lines.extend(
        report
            .steps()
            .iter()
            .map(|(name, step)| step_line(output, name, step)),
    );
    for line in lines.into_iter().skip(printed) {
        output.line(line);
    }
    print_safety_line(context, &report.safety);
    if !report.drift.pending.is_empty() {
        output.line(format!(
            "  {} not applied on the database (not drift): {}",
            output.paint("pending", style::dim()),
            report.drift.pending.join(", ")
        ));
    }
    if let Some(timings) = &report.timings
        && output.verbose > 0
    {
        output.line(format!(
            "  {}",
            output.paint(
                format!(
                    "time: scripts {} ms, {} schema reads {} ms, {} rebuilds {} ms",
                    timings.scripts_ms,
                    timings.inspections,
                    timings.inspect_ms,
                    timings.rebuilds,
                    timings.rebuild_ms
                ),
                style::dim()
            )
        ));
    }
    for (name, step) in report.steps() {
        for finding in &step.findings {
            print_finding(context, name, finding);
        }
    }
    for migration in &report.safety.migrations {
        super::lint::print_migration(context, migration);
    }
}

/// The safety step's line, as the other steps' (kept apart: it is not a [`Step`]).
fn print_safety_line(context: &Context, safety: &crate::safety::run::SafetyStep) {
    let output = &context.output;
    let (word, style) = match safety.status {
        StepStatus::Passed => ("ok", style::good()),
        StepStatus::Failed => ("FAILED", style::bad()),
        StepStatus::Skipped => ("skipped", style::dim()),
    };
    let took = if safety.status == StepStatus::Skipped {
        String::new()
    } else {
        output.paint(
            format!(
                " ({})",
                format_duration(Duration::from_millis(safety.duration_ms as u64))
            ),
            style::dim(),
        )
    };
    output.line(format!(
        "  {} {:<13} {}{took}",
        output.paint(format!("{word:>7}"), style),
        "safety",
        safety.summary
    ));
}

fn print_finding(context: &Context, step: &str, finding: &Finding) {
    let output = &context.output;
    output.line("");
    let about = finding
        .migration
        .as_ref()
        .map(|m| format!("{m}: "))
        .unwrap_or_default();
    output.line(format!(
        "{} {about}{}",
        output.paint(format!("{step}:"), style::bad()),
        output.paint(&finding.message, style::header())
    ));
    if let Some(location) = &finding.location {
        output.line(format!(
            "  {} {location}",
            output.paint("-->", style::dim())
        ));
    }
    if let Some(detail) = &finding.detail {
        for line in detail.lines() {
            output.line(format!("  {}", output.paint(line, style::dim())));
        }
    }
    for change in &finding.changes {
        output.line(format!("  {}", super::diff::paint_change(output, change)));
    }
    if let Some(diff) = &finding.diff {
        for line in diff.lines() {
            output.line(format!("  {}", super::diff::paint_diff_line(output, line)));
        }
    }
}
