//! A safety run over a set: the selected migrations linted, and, on PostgreSQL, traced on a
//! fresh scratch database while the history up to the last of them is replayed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::analyse::{self, MigrationReport};
use super::trace::{MigrationTrace, Prepared};
use super::{SafetyConfig, Severity, Verdict};
use crate::db::Database;
use crate::db::Direction;
use crate::db::history::HistoryFormat;
use crate::dialect::Dialect;
use crate::engine::replay::Replayer;
use crate::error::{Error, Result};
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
    /// Milliseconds the trace took (its own transactions, and the migrations it applied in
    /// them; not the rest of the replay).
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
/// `scratch` server of PostgreSQL, each selected transactional migration is traced on the
/// replay's connection just before the replay applies it (or as it applies it, see
/// [`super::trace::trace_on`]); otherwise only the static rules run.
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
    let mut reports = Vec::new();
    let mut trace_ms = 0;
    let mut prepared = Prepared::default();
    for (index, migration) in migrations[..=*last].iter().enumerate() {
        // Whether the trace applied the migration (in its own transaction, see `trace_on`).
        let mut applied = false;
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
                let traced = trace_before_apply(
                    &mut replayer.db,
                    format,
                    migration,
                    &read.texts(),
                    &mut prepared,
                )
                .await?;
                trace_ms += begun.elapsed().as_millis();
                match traced {
                    Some((trace, applied_by_trace)) => {
                        applied = applied_by_trace;
                        analyse::combine(read, Ok(&trace), config)
                    }
                    None => analyse::combine(read, Err("not traced"), config),
                }
            };
            reports.push(report);
        }
        if applied {
            continue;
        }
        prepared.forget_relations();
        if let Err(failure) = replayer.run(migration, Direction::Up).await {
            // A failure a finding explains (an enum value used too early, a drop a view
            // stops) is reported as that finding; the migrations after it are linted only.
            let explained = selected.contains(&index)
                && reports
                    .last()
                    .is_some_and(|report| report.findings.iter().any(explains_failure));
            if !explained {
                return Err(crate::engine::failure_error(
                    &failure,
                    migration,
                    Direction::Up,
                ));
            }
            for later in index + 1..=*last {
                if let Some(at) = selected.iter().position(|&s| s == later) {
                    reports.push(analyse::combine(&reads[at], Err(NOT_REPLAYED), config));
                }
            }
            break;
        }
    }
    Ok((reports, trace_ms))
}

/// Traces `statements` (`migration`'s up) on the replay's own connection `db`, just before the
/// replay applies it: the trace and whether it applied the migration itself (then the replay
/// must not). `None` off PostgreSQL.
///
/// # Errors
///
/// As [`super::trace::trace_on`].
async fn trace_before_apply(
    db: &mut Database,
    format: &HistoryFormat,
    migration: &Migration,
    statements: &[&str],
    prepared: &mut Prepared,
) -> Result<Option<(MigrationTrace, bool)>> {
    let Database::Postgres(pg) = db else {
        return Ok(None);
    };
    let apply = pg.up_wrapping(format, migration);
    let traced = super::trace::trace_on(
        pg.connection(),
        &format.table(),
        statements,
        apply.as_ref(),
        prepared,
    )
    .await?;
    Ok(Some(traced))
}

/// Why a migration after one that fails on the replay is not traced.
const NOT_REPLAYED: &str = "not traced: an earlier migration fails on the replay";

/// Whether `finding` is what makes its migration fail on the replay (so the run reports it
/// instead of the replay's error).
fn explains_failure(finding: &super::Finding) -> bool {
    matches!(
        finding.code,
        "enum-value-used-in-transaction" | "drop-used-by-view" | "concurrently-in-transaction"
    ) && matches!(finding.verdict, Verdict::Confirmed | Verdict::TraceOnly)
}

/// Traces taken on `check`'s own replay, each just before the replay applies a selected
/// migration, on the replay's connection (in the migration's own transaction when nothing is
/// seeded, see [`super::trace::trace_on`]): the safety step then needs no replay of its own,
/// and costs the traced migrations' observations (and, for those seeded, their statements once
/// more).
pub struct ReplayTraces {
    selected: Vec<usize>,
    dialect: Dialect,
    format: HistoryFormat,
    /// The trace's queries, prepared on the replay's connection.
    prepared: Prepared,
    traces: HashMap<usize, MigrationTrace>,
    /// The last migration the replay reached (the one that failed, if one did).
    reached: Option<usize>,
    /// The migration the last trace applied, when the one before this call was traced and
    /// applied by its trace (see [`Prepared::forget_relations`]).
    applied: Option<usize>,
    error: Option<Error>,
    /// Time spent tracing (the replay's own time leaves it out).
    pub time: Duration,
}

impl ReplayTraces {
    pub fn new(selected: &[usize], format: &HistoryFormat, dialect: Dialect) -> ReplayTraces {
        ReplayTraces {
            selected: selected.to_vec(),
            dialect,
            format: format.clone(),
            prepared: Prepared::default(),
            traces: HashMap::new(),
            reached: None,
            applied: None,
            error: None,
            time: Duration::ZERO,
        }
    }

    /// Called by the replay before it applies migration `index` on `db`. Returns whether the
    /// trace applied it (see [`super::trace::trace_on`]): then the replay must not.
    pub async fn before_apply(
        &mut self,
        index: usize,
        migration: &Migration,
        db: &mut Database,
    ) -> bool {
        self.reached = Some(index);
        // Between two traces, the walk only reads the schema and tries downs in probes it
        // rolls back; anything else (a migration the replay applied, a rebuilt database)
        // leaves the relations the last trace read out of date.
        if self.applied.take().map(|last| last + 1) != Some(index) {
            self.prepared.forget_relations();
        }
        if self.error.is_some() || migration.no_transaction || !self.selected.contains(&index) {
            return false;
        }
        // A script that cannot be read is the safety step's error to report (it reads it
        // again); here it is just not traced.
        let Ok(read) = analyse::read(migration, self.dialect) else {
            return false;
        };
        let begun = Instant::now();
        let traced = trace_before_apply(
            db,
            &self.format,
            migration,
            &read.texts(),
            &mut self.prepared,
        )
        .await;
        let applied = match traced {
            Ok(Some((trace, applied))) => {
                self.traces.insert(index, trace);
                if applied {
                    self.applied = Some(index);
                }
                applied
            }
            Ok(None) => false,
            Err(error) => {
                self.error = Some(error);
                false
            }
        };
        self.time += begun.elapsed();
        applied
    }
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

/// `check --safety`: which migrations the safety step looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafetyMode {
    /// Those not yet on the target: pending on the live database when there is one, else new
    /// since `--since` or `safety.since`, else the newest.
    Auto,
    All,
    /// The newest N.
    Last(usize),
    None,
}

impl std::str::FromStr for SafetyMode {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        match text {
            "auto" => Ok(SafetyMode::Auto),
            "all" => Ok(SafetyMode::All),
            "none" => Ok(SafetyMode::None),
            _ => text
                .strip_prefix("last:")
                .and_then(|n| n.parse().ok())
                .map(SafetyMode::Last)
                .ok_or_else(|| {
                    format!(
                        "`{text}` is not a safety mode; expected auto, all, none or last:N (e.g. last:5)"
                    )
                }),
        }
    }
}

/// The migrations `check`'s safety step looks at (`None` with `--safety none`), and how they
/// were chosen. `pending`: the indexes not applied on the live database, when one was given;
/// `since`: `check --since`, which wins over `pending` and `safety.since` (asked for by name).
///
/// # Errors
///
/// `since` (else `safety.since`) naming no git ref.
pub fn check_selection(
    dir: &std::path::Path,
    migrations: &[Migration],
    (mode, since): (SafetyMode, Option<&str>),
    pending: Option<Vec<usize>>,
    config: &SafetyConfig,
) -> Result<Option<(Vec<usize>, String)>> {
    let since_ref = |reference: &str| -> Result<(Vec<usize>, String)> {
        Ok((
            super::select::since(dir, reference, migrations)?,
            format!("new since {reference}"),
        ))
    };
    Ok(Some(match mode {
        SafetyMode::None => return Ok(None),
        SafetyMode::All => ((0..migrations.len()).collect(), "all".to_string()),
        SafetyMode::Last(count) => (
            super::select::last(count, migrations),
            format!("the newest {count}"),
        ),
        SafetyMode::Auto => match (since, pending, &config.since) {
            (Some(reference), _, _) => since_ref(reference)?,
            (None, Some(pending), _) => (pending, "pending on the database".to_string()),
            (None, None, Some(reference)) => since_ref(reference)?,
            (None, None, None) => (super::select::last(1, migrations), "the newest".to_string()),
        },
    }))
}

/// What `check`'s safety step looks at: the migrations ([`check_selection`]), how they were
/// chosen, and the traces check's replay takes of them (when it takes any).
pub struct StepSelection {
    pub selected: Vec<usize>,
    /// How they were chosen, e.g. "pending on the database".
    pub selection: String,
    pub traces: Option<ReplayTraces>,
}

impl StepSelection {
    /// `selected` (chosen as `selection` says), to be traced on check's replay.
    pub fn traced(
        (selected, selection): (Vec<usize>, String),
        format: &HistoryFormat,
        dialect: Dialect,
    ) -> StepSelection {
        StepSelection {
            traces: Some(ReplayTraces::new(&selected, format, dialect)),
            selected,
            selection,
        }
    }
}

/// Runs the safety step over `step`'s migrations. With its traces (those check's replay
/// took), the migrations the replay reached are reported from them without a replay of the
/// step's own; when the replay failed (`replay_failed`), only those are.
///
/// # Errors
///
/// As [`analyse`].
pub async fn check_step(
    scratch: &mut Scratch,
    format: &HistoryFormat,
    dialect: Dialect,
    migrations: &[Migration],
    step: StepSelection,
    replay_failed: bool,
    config: &SafetyConfig,
) -> Result<SafetyStep> {
    let begun = std::time::Instant::now();
    let StepSelection {
        mut selected,
        selection,
        traces: mut traced,
    } = step;
    if let Some(traces) = traced.as_mut()
        && let Some(error) = traces.error.take()
    {
        return Err(error);
    }
    let mut selection = selection;
    if replay_failed {
        let reached = traced.as_ref().and_then(|t| t.reached);
        selected.retain(|&index| reached.is_some_and(|r| index <= r));
        if selected.is_empty() {
            return Ok(SafetyStep::skipped("the history does not replay"));
        }
        selection.push_str(", up to the migration that fails on the replay");
    }
    if selected.is_empty() {
        return Ok(SafetyStep {
            selection: Some(selection.clone()),
            ..SafetyStep::skipped(format!("no migration to look at ({selection})"))
        });
    }
    let covered = traced.as_ref().filter(|traces| {
        dialect == Dialect::Postgres
            && traces
                .reached
                .is_some_and(|r| selected.iter().all(|&i| i <= r))
    });
    let (reports, trace_ms) = match covered {
        Some(traces) => {
            let mut reports = Vec::new();
            for &index in &selected {
                let migration = &migrations[index];
                let read = analyse::read(migration, dialect)?;
                let trace = if migration.no_transaction {
                    Err(
                        "not traced: it runs outside a transaction, so each statement's locks end with it",
                    )
                } else {
                    traces
                        .traces
                        .get(&index)
                        .ok_or("not traced: the replay did not reach it")
                };
                reports.push(analyse::combine(&read, trace, config));
            }
            (reports, traces.time.as_millis())
        }
        None => {
            analyse(
                Some(scratch),
                format,
                dialect,
                migrations,
                &selected,
                config,
            )
            .await?
        }
    };
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
        duration_ms: begun.elapsed().as_millis()
            + covered.map_or(0, |traces| traces.time.as_millis()),
    })
}
