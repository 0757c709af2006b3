//! A safety run over a set: the selected migrations linted, and, on PostgreSQL, traced on a
//! fresh scratch database while the history up to the last of them is replayed.

use serde::Serialize;

use super::analyse::{self, MigrationReport};
use super::trace::Tracer;
use super::{SafetyConfig, Severity, Verdict};
use crate::db::Direction;
use crate::db::history::HistoryFormat;
use crate::dialect::Dialect;
use crate::engine::replay::Replayer;
use crate::error::Result;
use crate::migration::Migration;
use crate::sandbox::scratch::Scratch;

/// Counts for the summary line and the JSON document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub migrations: usize,
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    pub confirmed: usize,
    pub static_only: usize,
    pub trace_only: usize,
    pub untraced: usize,
    pub allowed: usize,
    /// Milliseconds the trace took (its own transactions; not the replay).
    pub trace_ms: u128,
}

impl Summary {
    pub fn of(reports: &[MigrationReport], trace_ms: u128) -> Summary {
        let mut summary = Summary {
            migrations: reports.len(),
            trace_ms,
            ..Summary::default()
        };
        for report in reports {
            summary.allowed += report.allowed;
            for finding in &report.findings {
                match finding.severity {
                    Severity::Error => summary.errors += 1,
                    Severity::Warning => summary.warnings += 1,
                    Severity::Note => summary.notes += 1,
                    Severity::Off => {}
                }
                match finding.verdict {
                    Verdict::Confirmed => summary.confirmed += 1,
                    Verdict::StaticOnly => summary.static_only += 1,
                    Verdict::TraceOnly => summary.trace_only += 1,
                    Verdict::Untraced => summary.untraced += 1,
                }
            }
        }
        summary
    }
}

/// Analyses the migrations of `migrations` at `selected` (indexes in apply order). With a
/// `scratch` server of PostgreSQL, each selected transactional migration is traced before the
/// replay applies it; otherwise only the static rules run.
///
/// # Errors
///
/// An allow comment naming an unknown code; the scratch database failing; a migration that
/// fails on the replay (the replay's own error, pointing into its file).
pub async fn analyse(
    scratch: Option<&mut Scratch>,
    format: &HistoryFormat,
    dialect: Dialect,
    migrations: &[Migration],
    selected: &[usize],
    config: &SafetyConfig,
) -> Result<(Vec<MigrationReport>, u128)> {
    let reads = selected
        .iter()
        .map(|&index| analyse::read(&migrations[index], dialect))
        .collect::<Result<Vec<_>>>()?;
    let Some(last) = selected.iter().max() else {
        return Ok((Vec::new(), 0));
    };
    let scratch = match scratch {
        Some(scratch) if dialect == Dialect::Postgres => scratch,
        _ => {
            let reason = if dialect == Dialect::Postgres {
                "not traced (--no-trace)"
            } else {
                "not traced: locks are traced on PostgreSQL only"
            };
            let reports = reads
                .iter()
                .map(|read| analyse::combine(read, Err(reason), config))
                .collect();
            return Ok((reports, 0));
        }
    };
    let url = scratch.fresh_database().await?;
    let mut replayer = Replayer::open(&url, format.clone()).await?;
    let mut tracer = Tracer::connect(&url, &format.table()).await?;
    let mut reports = Vec::new();
    let mut trace_ms = 0;
    for (index, migration) in migrations[..=*last].iter().enumerate() {
        if let Some(at) = selected.iter().position(|&s| s == index) {
            let read = &reads[at];
            let report = if migration.no_transaction {
                analyse::combine(
                    read,
                    Err(
                        "not traced: it runs outside a transaction, so each statement's locks end with it",
                    ),
                    config,
                )
            } else {
                let begun = std::time::Instant::now();
                let trace = tracer.trace(&read.texts()).await?;
                trace_ms += begun.elapsed().as_millis();
                analyse::combine(read, Ok(&trace), config)
            };
            reports.push(report);
        }
        if let Err(failure) = replayer.run(migration, Direction::Up).await {
            return Err(crate::engine::failure_error(
                &failure,
                migration,
                Direction::Up,
            ));
        }
    }
    Ok((reports, trace_ms))
}

/// `check`'s safety step: the migrations not yet on the target — pending on the live database
/// when there is one, else new since `safety.since`, else the newest — analysed on the check's
/// own scratch server.
#[derive(Debug, Clone, Serialize)]
pub struct SafetyStep {
    pub status: crate::engine::check::StepStatus,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Summary>,
    pub migrations: Vec<MigrationReport>,
    pub duration_ms: u128,
}

impl SafetyStep {
    pub fn skipped(why: impl Into<String>) -> SafetyStep {
        SafetyStep {
            status: crate::engine::check::StepStatus::Skipped,
            summary: why.into(),
            selection: None,
            counts: None,
            migrations: Vec::new(),
            duration_ms: 0,
        }
    }

    pub fn failed(&self) -> bool {
        self.status == crate::engine::check::StepStatus::Failed
    }

    /// Error-level findings (what fails the step).
    pub fn errors(&self) -> usize {
        self.counts.as_ref().map_or(0, |c| c.errors)
    }
}

/// Runs the safety step. `pending`: the indexes not applied on the live database, when one was
/// given.
///
/// # Errors
///
/// As [`analyse`], and a `safety.since` naming no git ref.
pub async fn check_step(
    scratch: &mut Scratch,
    format: &HistoryFormat,
    dialect: Dialect,
    dir: &std::path::Path,
    migrations: &[Migration],
    pending: Option<Vec<usize>>,
    config: &SafetyConfig,
) -> Result<SafetyStep> {
    let begun = std::time::Instant::now();
    let (selected, selection) = match (pending, &config.since) {
        (Some(pending), _) => (pending, "pending on the database".to_string()),
        (None, Some(reference)) => (
            super::select::since(dir, reference, migrations)?,
            format!("new since {reference}"),
        ),
        (None, None) => (super::select::last(1, migrations), "the newest".to_string()),
    };
    if selected.is_empty() {
        return Ok(SafetyStep {
            selection: Some(selection.clone()),
            ..SafetyStep::skipped(format!("no migration to look at ({selection})"))
        });
    }
    let (reports, trace_ms) = analyse(
        Some(scratch),
        format,
        dialect,
        migrations,
        &selected,
        config,
    )
    .await?;
    let counts = Summary::of(&reports, trace_ms);
    let status = if counts.errors > 0 {
        crate::engine::check::StepStatus::Failed
    } else {
        crate::engine::check::StepStatus::Passed
    };
    let summary = format!(
        "{} migration{} ({selection}): {} error{}, {} warning{}; {} confirmed by the trace",
        counts.migrations,
        if counts.migrations == 1 { "" } else { "s" },
        counts.errors,
        if counts.errors == 1 { "" } else { "s" },
        counts.warnings,
        if counts.warnings == 1 { "" } else { "s" },
        counts.confirmed
    );
    Ok(SafetyStep {
        status,
        summary,
        selection: Some(selection),
        counts: Some(counts),
        migrations: reports,
        duration_ms: begun.elapsed().as_millis(),
    })
}
