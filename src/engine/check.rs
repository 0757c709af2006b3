//! `check`, the CI gate: a history replays cleanly on a fresh database, every down script
//! undoes its up, and a live database has not drifted from what the history produces.
//!
//! Reversibility runs forward, one migration at a time: apply its up, read the schema, apply
//! its down, read the schema again and compare it with the schema before the up, then apply
//! the up again. A migration whose down fails or leaves something else behind is reported
//! and the walk goes on from the state after its up — so one run reports every irreversible
//! migration, not only the first. That state comes from the mirror on PostgreSQL (a database
//! that only gets the ups; see [`Mirror`]), from rolling back the probe the down ran in on
//! SQLite, else from a fresh database with the ups replayed.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::replay::{Replayer, excluded_history};
use super::status::{Entry, State};
use crate::db::history::HistoryFormat;
use crate::db::{Direction, Failure};
use crate::dialect::Dialect;
use crate::error::Result;
use crate::migration::Migration;
use crate::sandbox::scratch::Scratch;
use crate::schema::{self, Change, Schema};

/// `--reversibility`: which migrations' down scripts are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reversibility {
    All,
    /// The newest N migrations.
    Last(usize),
    None,
}

impl std::str::FromStr for Reversibility {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        match text {
            "all" => Ok(Reversibility::All),
            "none" => Ok(Reversibility::None),
            _ => text
                .strip_prefix("last:")
                .and_then(|n| n.parse().ok())
                .map(Reversibility::Last)
                .ok_or_else(|| {
                    format!("`{text}` is not a reversibility mode; expected all, none or last:N (e.g. last:5)")
                }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Passed,
    Failed,
    Skipped,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The set does not load: duplicate or unparsable versions, mixed layouts, …
    Integrity,
    /// An up script fails on a fresh database.
    ApplyFailed,
    /// A down script fails right after its up.
    DownFailed,
    /// A down script runs but leaves a schema different from the one before its up.
    DownIncomplete,
    /// A down script has no statements (and no `-- migrate:down-does-nothing`): not run,
    /// it would revert nothing.
    DownEmpty,
    /// The up script fails when applied again after its down.
    ReapplyFailed,
    /// The live database records a migration whose up script has changed since.
    Modified,
    /// The live database records a migration that has no file.
    Missing,
    /// The live database records a migration as failed (partly applied).
    Failed,
    /// The live database's schema differs from the one its applied migrations produce.
    Drift,
}

/// One problem `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// `version_name` of the migration it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<String>,
    pub message: String,
    /// `file:line:col` of a failing statement, or the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// A code frame and the database's detail lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Schema changes (down-incomplete: before up → after down; drift: history → database).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// The same, as a unified diff of the rendered schemas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

impl Finding {
    fn new(
        kind: FindingKind,
        migration: Option<&Migration>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            kind,
            migration: migration.map(label),
            message: message.into(),
            location: None,
            detail: None,
            changes: Vec::new(),
            diff: None,
        }
    }

    /// A finding from a failed script: `what` failed, with the database's message, and the
    /// location and code frame the command's own error would show.
    fn from_failure(
        kind: FindingKind,
        migration: &Migration,
        failure: &Failure,
        direction: Direction,
        what: &str,
    ) -> Finding {
        let error = super::failure_error(failure, migration, direction);
        Finding {
            location: error.location,
            detail: error.detail,
            ..Finding::new(
                kind,
                Some(migration),
                format!("{what}: {}", failure.message),
            )
        }
    }

    fn with_changes(
        mut self,
        changes: Vec<Change>,
        from: &Schema,
        to: &Schema,
        labels: (&str, &str),
    ) -> Finding {
        self.changes = changes;
        let diff = schema::diff::unified(
            &schema::render(from),
            &schema::render(to),
            labels.0,
            labels.1,
        );
        self.diff = (!diff.is_empty()).then_some(diff);
        self
    }
}

/// `version_name`, as findings and messages name a migration.
pub fn label(migration: &Migration) -> String {
    format!(
        "{}_{}",
        migration.version.as_str(),
        crate::report::printable(&migration.name)
    )
}

/// One step's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub status: StepStatus,
    /// One line: what was verified, or why the step was skipped.
    pub summary: String,
    pub findings: Vec<Finding>,
    pub duration_ms: u128,
}

impl Step {
    pub fn skipped(why: impl Into<String>) -> Step {
        Step {
            status: StepStatus::Skipped,
            summary: why.into(),
            findings: Vec::new(),
            duration_ms: 0,
        }
    }

    fn finished(summary: String, findings: Vec<Finding>, took: Duration) -> Step {
        Step {
            status: if findings.is_empty() {
                StepStatus::Passed
            } else {
                StepStatus::Failed
            },
            summary,
            findings,
            duration_ms: took.as_millis(),
        }
    }
}

/// The drift step's result, with the live database's pending migrations listed apart: they
/// are not drift.
#[derive(Debug, Clone, Serialize)]
pub struct DriftStep {
    #[serde(flatten)]
    pub step: Step,
    /// `version_name` of migrations not applied on the live database.
    pub pending: Vec<String>,
}

/// The live database of the drift step, opened by the caller.
pub struct Live<'s, 'm, 'r> {
    pub session: &'s mut super::Session,
    /// Every migration's state on it.
    pub entries: Vec<Entry<'m, 'r>>,
}

/// What the replay (clean replay and reversibility) produced.
pub struct Replayed {
    pub replay: Step,
    pub reversibility: Step,
    /// The schema after the first `snapshot_after` migrations, when asked for and reached.
    pub snapshot: Option<Schema>,
    pub timings: Timings,
}

/// Where a replay's time went.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    /// Running up and down scripts (rebuilds excluded).
    pub scripts_ms: u128,
    /// Reading schemas.
    pub inspect_ms: u128,
    pub inspections: usize,
    /// Rebuilding the state after an irreversible migration.
    pub rebuild_ms: u128,
    pub rebuilds: usize,
}

/// Accumulates [`Timings`] while the replay runs.
#[derive(Default)]
struct Clock {
    scripts: Duration,
    inspect: Duration,
    inspections: usize,
    rebuild: Duration,
    rebuilds: usize,
}

/// The schema of the replayer's database now, for comparing only (never planned from), so
/// without what tables' parts use: each read goes on from the last one ([`Replayer::inspect`]).
async fn read_compared(replayer: &mut Replayer) -> Result<Schema> {
    schema::without_table_dependencies(replayer.inspect()).await
}

impl Clock {
    async fn inspect(&mut self, replayer: &mut Replayer) -> Result<Schema> {
        let begun = Instant::now();
        let schema = read_compared(replayer).await;
        self.inspect += begun.elapsed();
        self.inspections += 1;
        schema
    }

    fn absorb(&mut self, other: Clock) {
        self.scripts += other.scripts;
        self.inspect += other.inspect;
        self.inspections += other.inspections;
        self.rebuild += other.rebuild;
        self.rebuilds += other.rebuilds;
    }

    fn timings(&self) -> Timings {
        Timings {
            scripts_ms: self.scripts.as_millis(),
            inspect_ms: self.inspect.as_millis(),
            inspections: self.inspections,
            rebuild_ms: self.rebuild.as_millis(),
            rebuilds: self.rebuilds,
        }
    }
}

/// Runs the clean replay and the reversibility walk on fresh databases of `scratch`.
/// `snapshot_after`: also keep the schema after that many migrations (for drift).
/// `progress` is told of each migration before it runs, for a progress display.
pub async fn replay(
    scratch: &mut Scratch,
    migrations: &[Migration],
    format: &HistoryFormat,
    reversibility: Reversibility,
    snapshot_after: Option<usize>,
    progress: &dyn Progress,
    mut traces: Option<&mut crate::safety::run::ReplayTraces>,
) -> Result<Replayed> {
    let begun = Instant::now();
    let total = migrations.len();
    let first_checked = match reversibility {
        Reversibility::All => 0,
        Reversibility::Last(n) => total.saturating_sub(n),
        Reversibility::None => total,
    };
    let in_range = |index: usize| index >= first_checked && migrations[index].down.is_some();
    // A placeholder down is reported without running it; only the others are run.
    let checked = |index: usize| in_range(index) && !migrations[index].down_is_empty;
    if migrations.iter().any(drops_prepared_statements) {
        crate::schema::disable_prepared_reads();
    }
    let mut replayer = Replayer::open(&scratch.fresh_database().await?, format.clone()).await?;
    let mut mirror = if replayer.db.dialect() == Dialect::Postgres
        && (first_checked..total).any(checked)
        && !migrations.iter().any(touches_cluster)
    {
        Some(Mirror::open(scratch, format).await?)
    } else {
        None
    };
    let mut replay_findings = Vec::new();
    let mut reverse_findings = Vec::new();
    let mut verified = 0;
    let mut applied = 0;
    let mut reverse_time = Duration::ZERO;
    let mut snapshot = None;
    let mut clock = Clock::default();
    // The schema before the current migration's up, when something needs it.
    let mut before: Option<Schema> = None;
    if snapshot_after == Some(0) {
        snapshot = Some(clock.inspect(&mut replayer).await?);
    }
    for (index, migration) in migrations.iter().enumerate() {
        let step = if first_checked < total {
            REVERSIBILITY
        } else {
            REPLAY
        };
        progress.migration(step, index, total, &label(migration));
        let check_this = checked(index);
        if check_this && before.is_none() {
            before = Some(clock.inspect(&mut replayer).await?);
        }
        // The safety step's trace of this migration, on this database just before its up.
        let applied_by_trace = match traces.as_deref_mut() {
            Some(traces) => {
                traces
                    .before_apply(index, migration, &mut replayer.db)
                    .await
            }
            None => false,
        };
        let script_begun = Instant::now();
        let applied_now = if applied_by_trace {
            Ok(crate::db::Ran {
                elapsed: Duration::ZERO,
                skipped: false,
            })
        } else {
            replayer.run(migration, Direction::Up).await
        };
        clock.scripts += script_begun.elapsed();
        if let Err(failure) = applied_now {
            replay_findings.push(Finding::from_failure(
                FindingKind::ApplyFailed,
                migration,
                &failure,
                Direction::Up,
                "the up script fails",
            ));
            break;
        }
        applied += 1;
        if in_range(index)
            && migration.down_is_empty
            && let Some(down) = &migration.down
        {
            verified += 1;
            let mut finding = Finding::new(
                FindingKind::DownEmpty,
                Some(migration),
                format!(
                    "the down script has no statements, so reverting does nothing; write it, or \
                     add `{}` if that is on purpose",
                    crate::migration::DOWN_DOES_NOTHING_MARKER
                ),
            );
            finding.location = Some(crate::error::display_path(&down.path));
            reverse_findings.push(finding);
        }
        let step_begun = Instant::now();
        let after_needed =
            snapshot_after == Some(index + 1) || (index + 1 < total && checked(index + 1));
        // The schema after this up, when the mirror read it meanwhile.
        let mut after = None;
        if check_this && let Some(before) = before.take() {
            verified += 1;
            if let Some(mirror_now) = mirror.as_mut() {
                // The down is tried on the walk's database while the mirror applies the up
                // and reads the schema after it, at the same time.
                let mut verify_clock = Clock::default();
                let follow = mirror_now.follow(&migrations[..=index], after_needed);
                let (finding, followed) = if migration.no_transaction {
                    let verify = reverse_one(&mut replayer, migration, &before, &mut verify_clock);
                    tokio::join!(verify, follow)
                } else {
                    let verify = probe(&mut replayer, migration, &before, &mut verify_clock);
                    tokio::join!(verify, follow)
                };
                clock.absorb(verify_clock);
                let finding = finding?;
                match followed {
                    Ok((read, took)) => {
                        if let Some(took) = took {
                            clock.inspect += took;
                            clock.inspections += 1;
                        }
                        after = read;
                    }
                    // The mirror could not follow (a history that is not deterministic):
                    // the walk goes on without it, as it would have.
                    Err(_) => mirror = None,
                }
                if let Some(finding) = finding {
                    reverse_findings.push(finding);
                    // A probe's rollback left the walk's database after the up; a
                    // no-transaction migration's down did not.
                    if migration.no_transaction {
                        let rebuild_begun = Instant::now();
                        replayer = match mirror.as_mut() {
                            // The mirror is at the state after this up: a copy of it is.
                            Some(mirror_now) => mirror_now.copy(scratch, format).await?,
                            None => rebuild(scratch, format, &migrations[..=index]).await?,
                        };
                        clock.rebuild += rebuild_begun.elapsed();
                        clock.rebuilds += 1;
                    }
                }
            } else if !migration.no_transaction {
                // In a probe, rolled back whatever happens: the walk goes on from the state
                // after the up, with no rebuild.
                let finding = probe(&mut replayer, migration, &before, &mut clock).await?;
                reverse_findings.extend(finding);
            } else {
                let finding = reverse_one(&mut replayer, migration, &before, &mut clock).await?;
                if let Some(finding) = finding {
                    reverse_findings.push(finding);
                    // Whatever the failed down left, the walk goes on from a clean state.
                    let rebuild_begun = Instant::now();
                    replayer = rebuild(scratch, format, &migrations[..=index]).await?;
                    clock.rebuild += rebuild_begun.elapsed();
                    clock.rebuilds += 1;
                }
            }
        }
        if after_needed {
            let after = match after {
                Some(after) => after,
                None => clock.inspect(&mut replayer).await?,
            };
            if snapshot_after == Some(index + 1) {
                snapshot = Some(after.clone());
            }
            before = Some(after);
        }
        if check_this {
            reverse_time += step_begun.elapsed();
        }
    }
    let traced_time = traces.map_or(Duration::ZERO, |traces| traces.time);
    let replay_time = begun.elapsed().saturating_sub(reverse_time + traced_time);
    let replay = Step::finished(
        if replay_findings.is_empty() {
            format!("{applied} migrations applied on a fresh database")
        } else {
            format!("{applied} of {total} migrations applied; the history stops there")
        },
        replay_findings,
        replay_time,
    );
    let reversibility = if first_checked >= total {
        Step::skipped("not asked for (--reversibility none)")
    } else if verified == 0 && replay.status == StepStatus::Passed {
        Step::skipped("no migration in range has a down script")
    } else {
        let irreversible = reverse_findings.len();
        Step::finished(
            if irreversible == 0 {
                format!("{verified} down scripts undo their up")
            } else {
                format!(
                    "{} of {verified} down scripts undo their up; {irreversible} do not",
                    verified - irreversible
                )
            },
            reverse_findings,
            reverse_time,
        )
    };
    Ok(Replayed {
        replay,
        reversibility,
        snapshot,
        timings: clock.timings(),
    })
}

/// Verifies a transactional migration just applied ([`reverse_one`]) in a probe that is rolled
/// back whatever happens, so the walk goes on from the state after its up without rebuilding
/// it: both dialects' DDL is transactional, and a PostgreSQL schema read in a probe runs in a
/// savepoint of it. The reads in the probe see the down's changes; the next read, after the
/// rollback, finds them gone by the same row versions that found them.
async fn probe(
    replayer: &mut Replayer,
    migration: &Migration,
    before: &Schema,
    clock: &mut Clock,
) -> Result<Option<Finding>> {
    replayer.db.begin_probe().await?;
    let finding = reverse_one(replayer, migration, before, clock).await;
    let ended = replayer.db.end_probe().await;
    let finding = finding?;
    ended?;
    Ok(finding)
}

/// A second database on the scratch server (PostgreSQL) that only ever gets the ups, in step
/// with the walk: while the walk's database tries a migration's down and its up again (in a
/// probe when the migration is transactional), the mirror applies the up and reads the schema
/// after it (the next migration's *before*), so the two overlap; and after a no-transaction
/// migration's finding, which no probe undoes, the walk goes on from a copy of the mirror
/// (`CREATE DATABASE … TEMPLATE`) instead of replaying every up again.
struct Mirror {
    /// `None` only while it is copied.
    replayer: Option<Replayer>,
    url: crate::db::DatabaseUrl,
    /// How many of the migrations it has applied.
    applied: usize,
}

impl Mirror {
    async fn open(scratch: &mut Scratch, format: &HistoryFormat) -> Result<Mirror> {
        let url = scratch.fresh_database().await?;
        Ok(Mirror {
            replayer: Some(Replayer::open(&url, format.clone()).await?),
            url,
            applied: 0,
        })
    }

    /// Applies the ups of `migrations` it has not applied yet and, with `read`, reads the
    /// schema after them (with the time the read took).
    async fn follow(
        &mut self,
        migrations: &[Migration],
        read: bool,
    ) -> Result<(Option<Schema>, Option<Duration>)> {
        let Some(replayer) = self.replayer.as_mut() else {
            return Ok((None, None));
        };
        if let Err((migration, failure)) = replayer.apply_all(&migrations[self.applied..]).await {
            return Err(super::failure_error(&failure, migration, Direction::Up));
        }
        self.applied = migrations.len();
        if !read {
            return Ok((None, None));
        }
        let begun = Instant::now();
        let schema = read_compared(replayer).await?;
        Ok((Some(schema), Some(begun.elapsed())))
    }

    /// A new database that is a copy of the mirror, opened for the walk; the mirror is
    /// closed for the copy (a template must have no connection) and opened again.
    async fn copy(&mut self, scratch: &mut Scratch, format: &HistoryFormat) -> Result<Replayer> {
        // Dropping the connection ends its session; the server lets the copy wait for that.
        drop(self.replayer.take());
        let copy = scratch.copy_database(&self.url).await;
        self.replayer = Some(Replayer::open(&self.url, format.clone()).await?);
        Replayer::open(&copy?, format.clone()).await
    }
}

/// Whether `migration` changes what the whole server shares (roles, tablespaces, databases):
/// the mirror and the walk's database would then see each other's changes, so `check` does
/// without the mirror.
fn touches_cluster(migration: &Migration) -> bool {
    let scripts = std::iter::once(&migration.up).chain(migration.down.as_ref());
    // A line that starts such a statement: words in strings or comments (`RAISE EXCEPTION
    // 'cannot create user …'`) do not count.
    scripts.into_iter().any(|script| {
        script.sql.lines().any(|line| {
            let mut words = line.split_whitespace().map(str::to_ascii_lowercase);
            let (Some(verb), Some(object)) = (words.next(), words.next()) else {
                return false;
            };
            matches!(verb.as_str(), "create" | "drop" | "alter")
                && matches!(
                    object.trim_end_matches(';'),
                    "role" | "user" | "group" | "tablespace" | "database"
                )
        })
    })
}

/// Whether a script of `migration` drops its session's prepared statements: a line that
/// starts a `DISCARD` or `DEALLOCATE` statement (as in [`touches_cluster`], a word in a
/// comment or a string does not count).
fn drops_prepared_statements(migration: &Migration) -> bool {
    let scripts = std::iter::once(&migration.up).chain(migration.down.as_ref());
    scripts.into_iter().any(|script| {
        script.sql.lines().any(|line| {
            line.split_whitespace().next().is_some_and(|verb| {
                let verb = verb.trim_end_matches(';');
                verb.eq_ignore_ascii_case("discard") || verb.eq_ignore_ascii_case("deallocate")
            })
        })
    })
}

/// Verifies one migration just applied: its down runs and restores `before`, and its up
/// applies again. `None` when it does.
async fn reverse_one(
    replayer: &mut Replayer,
    migration: &Migration,
    before: &Schema,
    clock: &mut Clock,
) -> Result<Option<Finding>> {
    let begun = Instant::now();
    let reverted = replayer.run(migration, Direction::Down).await;
    clock.scripts += begun.elapsed();
    if let Err(failure) = reverted {
        return Ok(Some(Finding::from_failure(
            FindingKind::DownFailed,
            migration,
            &failure,
            Direction::Down,
            "the down script fails right after the up",
        )));
    }
    let after_down = clock.inspect(replayer).await?;
    // Equal means "no change" by the diff's rules (not `==`, which also sees what the diff
    // deliberately ignores, such as column order).
    let changes = schema::diff(before, &after_down);
    if !changes.is_empty() {
        let down = migration
            .down
            .as_ref()
            .map(|down| crate::error::display_path(&down.path));
        let mut finding = Finding::new(
            FindingKind::DownIncomplete,
            Some(migration),
            "the down script leaves a schema different from the one before the up",
        )
        .with_changes(changes, before, &after_down, ("before up", "after down"));
        finding.location = down;
        return Ok(Some(finding));
    }
    let begun = Instant::now();
    let reapplied = replayer.run(migration, Direction::Up).await;
    clock.scripts += begun.elapsed();
    if let Err(failure) = reapplied {
        return Ok(Some(Finding::from_failure(
            FindingKind::ReapplyFailed,
            migration,
            &failure,
            Direction::Up,
            "the up script fails when applied again after its down",
        )));
    }
    Ok(None)
}

/// A fresh database of `scratch` with `migrations` applied.
async fn rebuild(
    scratch: &mut Scratch,
    format: &HistoryFormat,
    migrations: &[Migration],
) -> Result<Replayer> {
    let mut replayer = Replayer::open(&scratch.fresh_database().await?, format.clone()).await?;
    if let Err((migration, failure)) = replayer.apply_all(migrations).await {
        // They applied a moment ago on another fresh database: a history that is not
        // deterministic (or a server problem). Report it as the error it is.
        return Err(super::failure_error(&failure, migration, Direction::Up));
    }
    Ok(replayer)
}

/// How the live database relates to the set: which migrations to replay for comparison.
pub struct LivePlan<'m> {
    /// Applied (or modified) migrations with files, in the set's order.
    pub applied: Vec<&'m Migration>,
    /// When `applied` is exactly the first N migrations of the set: N (the replay's snapshot
    /// serves, no second replay needed).
    pub prefix: Option<usize>,
    pub pending: Vec<String>,
    pub findings: Vec<Finding>,
}

/// Pure: what the live database's history says, as findings and a replay plan.
pub fn plan_live<'m>(entries: &[Entry<'m, '_>], migrations: &'m [Migration]) -> LivePlan<'m> {
    let mut applied = Vec::new();
    let mut pending = Vec::new();
    let mut findings = Vec::new();
    for entry in entries {
        let name = format!(
            "{}_{}",
            entry.version,
            crate::report::printable(&entry.name)
        );
        match (entry.state, entry.migration) {
            (State::Pending, _) => pending.push(name),
            (State::Applied, Some(migration)) => applied.push(migration),
            (State::Modified, Some(migration)) => {
                applied.push(migration);
                findings.push(Finding {
                    location: Some(crate::error::display_path(&migration.up.path)),
                    ..Finding::new(
                        FindingKind::Modified,
                        Some(migration),
                        "applied on the database, but its up script has changed since (checksum differs); the comparison uses the file as it is now",
                    )
                });
            }
            (State::Failed, migration) => findings.push(Finding {
                migration: Some(name),
                ..Finding::new(
                    FindingKind::Failed,
                    migration,
                    "recorded as failed on the database (partly applied); settle it with `cargo migrate resolve`",
                )
            }),
            (State::Missing, _) | (State::Applied | State::Modified, None) => {
                findings.push(Finding {
                    migration: Some(name),
                    ..Finding::new(
                        FindingKind::Missing,
                        None,
                        "applied on the database, but no migration file has its version",
                    )
                });
            }
        }
    }
    let prefix = applied
        .iter()
        .zip(migrations)
        .all(|(a, b)| std::ptr::eq(*a, b))
        .then_some(applied.len());
    LivePlan {
        applied,
        prefix,
        pending,
        findings,
    }
}

/// Compares the live database with `expected` (the history's schema at the live database's
/// applied version). `findings` holds the history findings from [`plan_live`].
pub async fn drift(
    live: &mut super::Session,
    expected: &Schema,
    mut findings: Vec<Finding>,
    pending: Vec<String>,
    applied: usize,
    took: Instant,
) -> Result<DriftStep> {
    let excluded = [excluded_history(&live.format, live.db.dialect())];
    let mut actual = live.db.inspect(&excluded).await?;
    super::replay::forget_history_schema(&live.format, &mut actual);
    let changes = schema::diff(expected, &actual);
    let differs = !changes.is_empty();
    if differs {
        findings.push(
            Finding::new(
                FindingKind::Drift,
                None,
                "the database's schema differs from the one its applied migrations produce",
            )
            .with_changes(changes, expected, &actual, ("history", "database")),
        );
    }
    let summary = if differs {
        format!("the database has drifted from its {applied} applied migrations")
    } else {
        format!("the database matches its {applied} applied migrations")
    };
    Ok(DriftStep {
        step: Step::finished(summary, findings, took.elapsed()),
        pending,
    })
}

// ------------------------------------------------------------------ the operation

/// What a run of `check` is about: the set, and where it ran.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub set: String,
    pub dialect: Option<&'static str>,
    pub migrations: usize,
    /// The scratch server, as [`Scratch::describe`] says (none when nothing was replayed).
    pub sandbox: Option<String>,
}

/// The result of `check`: one section per step.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    #[serde(flatten)]
    pub header: Header,
    pub ok: bool,
    pub integrity: Step,
    pub replay: Step,
    pub reversibility: Step,
    pub drift: DriftStep,
    /// Deploy safety of the migrations not yet on the target (docs/safety.md).
    pub safety: crate::safety::run::SafetyStep,
    /// Where the replay's time went (absent when nothing was replayed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<Timings>,
}

impl CheckReport {
    /// The steps in order, with the names reports give them.
    pub fn steps(&self) -> [(&'static str, &Step); 4] {
        [
            (INTEGRITY, &self.integrity),
            (REPLAY, &self.replay),
            (REVERSIBILITY, &self.reversibility),
            (DRIFT, &self.drift.step),
        ]
    }

    /// A set that does not load: the integrity step's finding; nothing else can run.
    fn not_loading(header: Header, error: &crate::error::Error, took: Duration) -> CheckReport {
        let why = "the set does not load";
        CheckReport {
            header,
            ok: false,
            integrity: Step {
                status: StepStatus::Failed,
                summary: why.to_string(),
                findings: vec![Finding {
                    kind: FindingKind::Integrity,
                    migration: None,
                    message: error.message.clone(),
                    location: error.location.clone(),
                    detail: error.hint.as_ref().map(|hint| format!("hint: {hint}")),
                    changes: Vec::new(),
                    diff: None,
                }],
                duration_ms: took.as_millis(),
            },
            replay: Step::skipped(why),
            reversibility: Step::skipped(why),
            drift: DriftStep {
                step: Step::skipped(why),
                pending: Vec::new(),
            },
            safety: crate::safety::run::SafetyStep::skipped(why),
            timings: None,
        }
    }
}

/// The steps' names, as reports and progress show them.
pub const INTEGRITY: &str = "integrity";
pub const REPLAY: &str = "clean replay";
pub const REVERSIBILITY: &str = "reversibility";
pub const DRIFT: &str = "drift";

/// What `check` is asked to do.
pub struct CheckRequest<'a> {
    /// `--database-url` (else the set's variables are read): the database to compare for drift.
    pub database_url: Option<&'a str>,
    pub reversibility: Reversibility,
    /// `--wait` and `--connect-timeout`, in seconds, for the live database.
    pub waits: (u64, u64),
    /// `--safety` (`--no-safety` is `none`) and `--since`: the safety step's migrations.
    pub safety: (crate::safety::run::SafetyMode, Option<&'a str>),
    /// Decides the scratch server's provider (`--sandbox`, the configuration); called once
    /// the live database, if any, answered.
    pub provider: &'a dyn Fn() -> Result<crate::sandbox::Provider>,
}

/// What a running check tells its caller, for a progress display. Every method does nothing
/// by default; the report holds the same and more.
pub trait Progress {
    /// A status note: a wait for the live server.
    fn note(&self, _message: &str) {}
    /// Work whose length is not known starts: `what` it is (starting the scratch server,
    /// reading the live database). Also the hook for a sandbox provider's own progress (an
    /// image pulled or built).
    fn stage(&self, _what: &str) {}
    /// The scratch server is up; the run's header is complete.
    fn ready(&self, _header: &Header) {}
    /// The replay walk reached migration `index` (0-based) of `total`, `label`; `step` is the
    /// step it verifies (clean replay, or reversibility as well).
    fn migration(&self, _step: &'static str, _index: usize, _total: usize, _label: &str) {}
    /// A step finished (passed, failed or skipped).
    fn finished(&self, _name: &'static str, _step: &Step) {}
}

/// A [`Progress`] that shows nothing.
pub struct Quiet;

impl Progress for Quiet {}

/// `check` of one set: integrity, then (on a scratch server) clean replay and reversibility,
/// then drift against the live database when one is named. Problems are findings in the
/// report; `Err` only when the run itself could not go on (the scratch server does not start,
/// the live database does not answer, …).
pub async fn run(
    workspace: &crate::workspace::Workspace,
    spec: &crate::workspace::SetSpec,
    request: &CheckRequest<'_>,
    progress: &dyn Progress,
) -> Result<CheckReport> {
    let mut header = Header {
        set: spec.label(&workspace.root),
        dialect: spec.dialect().map(|d| d.as_str()),
        migrations: 0,
        sandbox: None,
    };
    let begun = Instant::now();
    let migrations = match spec.scan() {
        Ok(migrations) => migrations,
        Err(error) if error.class == crate::error::ErrorClass::Input => {
            return Ok(CheckReport::not_loading(header, &error, begun.elapsed()));
        }
        Err(error) => return Err(error),
    };
    header.migrations = migrations.migrations.len();
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
    let live_url = super::find_explicit_url(request.database_url, spec)?;
    if let Some(url) = &live_url {
        super::check_dialect(url, spec, &workspace.root)?;
    }
    // The live database first: a wrong URL fails fast, and its version picks the image.
    let mut live = match &live_url {
        Some(url) => {
            progress.stage("connecting to the database");
            Some(
                super::scratch::open_live(spec, url, request.waits, |note| progress.note(note))
                    .await?,
            )
        }
        None => None,
    };
    let live_major = match live.as_mut() {
        Some(session) => session.db.server_major().await?,
        None => None,
    };
    let entries = live.as_ref().map(|session| {
        super::status::status(
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
    let selection = crate::safety::run::check_selection(
        &spec.dir,
        &migrations.migrations,
        request.safety,
        pending,
        &spec.config.safety,
    )?;
    let provider = (request.provider)()?;
    progress.stage("starting a disposable database");
    let mut scratch =
        super::scratch::start(workspace, spec, provider, live_major.as_deref()).await?;
    header.sandbox = Some(scratch.describe());
    progress.ready(&header);
    progress.finished(INTEGRITY, &integrity);
    // The safety step's migrations are traced on the replay itself, before each is applied.
    let mut safety_step = selection.map(|selection| {
        crate::safety::run::StepSelection::traced(
            selection,
            &super::scratch::replay_format(spec),
            scratch.dialect(),
        )
    });
    let replayed = replay(
        &mut scratch,
        &migrations.migrations,
        &super::scratch::replay_format(spec),
        request.reversibility,
        live_plan.as_ref().and_then(|plan| plan.prefix),
        progress,
        safety_step.as_mut().and_then(|step| step.traces.as_mut()),
    )
    .await?;
    progress.finished(REPLAY, &replayed.replay);
    progress.finished(REVERSIBILITY, &replayed.reversibility);
    let drift_begun = Instant::now();
    let drift = match (live.as_mut(), live_plan) {
        (None, _) | (_, None) => DriftStep {
            step: Step::skipped("no database to compare: pass --database-url or set DATABASE_URL"),
            pending: Vec::new(),
        },
        (Some(session), Some(plan)) => {
            progress.stage("reading the database's schema");
            let expected = match replayed.snapshot.clone() {
                Some(schema) => Some(schema),
                // Not a prefix of the set (applied out of order): replay exactly those.
                None if plan.prefix.is_none() => {
                    let applied: Vec<_> = plan.applied.iter().map(|m| (*m).clone()).collect();
                    super::scratch::history_schema(&mut scratch, spec, &applied)
                        .await
                        .ok()
                }
                None => None,
            };
            match expected {
                Some(expected) => {
                    drift(
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
    progress.finished(DRIFT, &drift.step);
    let safety = match safety_step {
        None => crate::safety::run::SafetyStep::skipped("not asked for (--safety none)"),
        Some(step) => {
            progress.stage("tracing the locks of the new migrations");
            let dialect = scratch.dialect();
            crate::safety::run::check_step(
                &mut scratch,
                &super::scratch::replay_format(spec),
                dialect,
                &migrations.migrations,
                step,
                replayed.replay.status == StepStatus::Failed,
                &spec.config.safety,
            )
            .await?
        }
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
        header,
        ok,
        integrity,
        replay: replayed.replay,
        reversibility: replayed.reversibility,
        drift,
        safety,
        timings: Some(replayed.timings),
    })
}
