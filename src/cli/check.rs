//! `check`: the CI gate. Integrity, clean replay, reversibility and (with a database URL)
//! drift; every problem is reported, and the exit code is 1 when any step failed.

use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::Context;
use super::db::{block_on, format_duration};
use super::each;
use crate::engine::check::{self, DriftStep, Finding, Reversibility, Step, StepStatus, plan_live};
use crate::engine::status;
use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::report::style;
use crate::workspace::{SetSpec, Workspace};

/// Verify the history: it replays cleanly, every down undoes its up, a live database has not drifted
#[derive(Debug, Args)]
#[command(after_help = "\
Steps: integrity (versions, layout), clean replay (every up on a fresh disposable database), \
reversibility (each down restores the schema before its up, and the up applies again), drift \
(with a database URL: its schema against the history replayed up to its applied version).

Examples:
  cargo migrate check                              in CI: exit 1 on any problem
  cargo migrate check --reversibility last:3       only the newest 3 downs
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

    /// Skip the deploy-safety step (locks, rewrites, lock timeouts; see `lint`)
    #[arg(long)]
    pub no_safety: bool,

    /// Give up on one connection attempt after this many seconds without an answer
    #[arg(long, value_name = "SECS", default_value_t = crate::engine::DEFAULT_CONNECT_TIMEOUT_SECS, value_parser = super::parse_secs)]
    pub connect_timeout: u64,
}

fn parse_reversibility(text: &str) -> std::result::Result<Reversibility, String> {
    text.parse()
}

/// The JSON object of a run: one section per step.
#[derive(Debug, Serialize)]
struct CheckReport {
    set: String,
    dialect: Option<&'static str>,
    migrations: usize,
    sandbox: Option<String>,
    ok: bool,
    integrity: Step,
    replay: Step,
    reversibility: Step,
    drift: DriftStep,
    /// Deploy safety of the migrations not yet on the target (docs/safety.md).
    safety: crate::safety::run::SafetyStep,
    /// Where the replay's time went (absent when nothing was replayed).
    #[serde(skip_serializing_if = "Option::is_none")]
    timings: Option<check::Timings>,
}

impl CheckReport {
    fn steps(&self) -> [(&'static str, &Step); 4] {
        [
            ("integrity", &self.integrity),
            ("clean replay", &self.replay),
            ("reversibility", &self.reversibility),
            ("drift", &self.drift.step),
        ]
    }
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
    let spec = spec.clone();
    let set = spec.label(&workspace.root);
    let dialect = spec.dialect().map(|d| d.as_str());
    let begun = Instant::now();
    let migrations = match spec.scan() {
        Ok(migrations) => migrations,
        // A set that does not load is the integrity step's finding; nothing else can run.
        Err(error) if error.class == ErrorClass::Input => {
            let report = CheckReport {
                set,
                dialect,
                migrations: 0,
                sandbox: None,
                ok: false,
                integrity: Step {
                    status: StepStatus::Failed,
                    summary: "the set does not load".to_string(),
                    findings: vec![Finding {
                        kind: check::FindingKind::Integrity,
                        migration: None,
                        message: error.message.clone(),
                        location: error.location.clone(),
                        detail: error.hint.as_ref().map(|hint| format!("hint: {hint}")),
                        changes: Vec::new(),
                        diff: None,
                    }],
                    duration_ms: begun.elapsed().as_millis(),
                },
                replay: Step::skipped("the set does not load"),
                reversibility: Step::skipped("the set does not load"),
                drift: DriftStep {
                    step: Step::skipped("the set does not load"),
                    pending: Vec::new(),
                },
                safety: crate::safety::run::SafetyStep::skipped("the set does not load"),
                timings: None,
            };
            return finish(context, &report);
        }
        Err(error) => return Err(error),
    };
    let integrity = Step {
        status: StepStatus::Passed,
        summary: format!(
            "{} migrations, {} layout, versions unique and ordered",
            migrations.migrations.len(),
            migrations.layout.as_str()
        ),
        findings: Vec::new(),
        duration_ms: begun.elapsed().as_millis(),
    };
    let live_url = crate::engine::find_explicit_url(args.database_url.as_deref(), &spec)?;
    if let Some(url) = &live_url {
        crate::engine::check_dialect(url, &spec, &workspace.root)?;
    }
    let output = &context.output;
    let report = block_on(async {
        // The live database first: a wrong URL fails fast, and its version picks the image.
        let mut live = match &live_url {
            Some(url) => Some(
                super::scratch::open_live(context, &spec, url, (args.wait, args.connect_timeout))
                    .await?,
            ),
            None => None,
        };
        let live_major = match live.as_mut() {
            Some(session) => session.db.server_major().await?,
            None => None,
        };
        let entries = live.as_ref().map(|session| {
            status::status(
                &migrations.migrations,
                &session.rows,
                &session.format,
                migrations.order(),
            )
        });
        let live_plan = entries
            .as_ref()
            .map(|entries| plan_live(entries, &migrations.migrations));
        let pending = entries
            .as_ref()
            .map(|entries| crate::safety::select::pending(entries, &migrations.migrations));
        drop(entries);
        let mut scratch =
            super::scratch::start(context, workspace, &spec, live_major.as_deref()).await?;
        let sandbox = scratch.describe();
        let progress = |line: &str| {
            if output.verbose > 0 {
                output.status(format!(
                    "{} {line}",
                    output.paint_err("Replaying", style::dim())
                ));
            }
        };
        let replayed = check::replay(
            &mut scratch,
            &migrations.migrations,
            &super::scratch::replay_format(&spec),
            args.reversibility,
            live_plan.as_ref().and_then(|plan| plan.prefix),
            &progress,
        )
        .await?;
        let drift_begun = Instant::now();
        let drift = match (live.as_mut(), live_plan) {
            (None, _) | (_, None) => DriftStep {
                step: Step::skipped(
                    "no database to compare: pass --database-url or set DATABASE_URL",
                ),
                pending: Vec::new(),
            },
            (Some(session), Some(plan)) => {
                let expected = match replayed.snapshot.clone() {
                    Some(schema) => Some(schema),
                    // Not a prefix of the set (applied out of order): replay exactly those.
                    None if plan.prefix.is_none() => {
                        let applied: Vec<_> = plan.applied.iter().map(|m| (*m).clone()).collect();
                        super::scratch::history_schema(&mut scratch, &spec, &applied)
                            .await
                            .ok()
                    }
                    None => None,
                };
                match expected {
                    Some(expected) => {
                        check::drift(
                            session,
                            &expected,
                            plan.findings,
                            plan.pending,
                            plan.applied.len(),
                            drift_begun,
                        )
                        .await?
                    }
                    None => DriftStep {
                        step: Step::skipped(
                            "the history does not replay up to the database's applied version",
                        ),
                        pending: plan.pending,
                    },
                }
            }
        };
        let safety = if args.no_safety {
            crate::safety::run::SafetyStep::skipped("--no-safety")
        } else if replayed.replay.status == StepStatus::Failed {
            crate::safety::run::SafetyStep::skipped("the history does not replay")
        } else {
            let dialect = scratch.dialect();
            crate::safety::run::check_step(
                &mut scratch,
                &super::scratch::replay_format(&spec),
                dialect,
                &spec.dir,
                &migrations.migrations,
                pending,
                &spec.config.safety,
            )
            .await?
        };
        scratch.stop().await?;
        let ok = !safety.failed()
            && [
                &integrity,
                &replayed.replay,
                &replayed.reversibility,
                &drift.step,
            ]
            .iter()
            .all(|step| step.status != StepStatus::Failed);
        Ok(CheckReport {
            set: set.clone(),
            dialect,
            migrations: migrations.migrations.len(),
            sandbox: Some(sandbox),
            ok,
            integrity: integrity.clone(),
            replay: replayed.replay,
            reversibility: replayed.reversibility,
            drift,
            safety,
            timings: Some(replayed.timings),
        })
    })?;
    finish(context, &report)
}

/// Prints the report and turns failed steps into the exit code.
fn finish(context: &Context, report: &CheckReport) -> Result<()> {
    let output = &context.output;
    if output.json() {
        output.print_json(report);
    } else {
        print_human(context, report);
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
    .at(report.set.clone())
    .hint("each problem is listed above with the migration and file it is about")
    .reported_in_json())
}

fn print_human(context: &Context, report: &CheckReport) {
    let output = &context.output;
    output.line(format!(
        "{} set {} ({}, {} migrations){}",
        output.paint("Checked", style::header()),
        report.set,
        report.dialect.unwrap_or("unknown dialect"),
        report.migrations,
        report
            .sandbox
            .as_ref()
            .map(|s| format!(" on a disposable database ({s})"))
            .unwrap_or_default()
    ));
    for (name, step) in report.steps() {
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
        output.line(format!(
            "  {} {:<13} {}{took}",
            output.paint(format!("{word:>7}"), style),
            name,
            step.summary
        ));
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
