//! One migration's findings: the static hits and the trace of its statements combined, the
//! allow comments and the configured severities applied.

use serde::Serialize;

use super::statik::{self, Lint};
use super::suppress::{self, Allowed};
use super::trace::MigrationTrace;
use super::{Expect, Finding, Lock, SafetyConfig, Severity, Verdict};
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result, display_path};
use crate::migration::split::{self, Statement};
use crate::migration::{Migration, prepare};

/// The codes that apply to SQLite.
pub const SQLITE_CODES: &[&str] = &["breaking-drop", "breaking-rename"];

/// A migration read for analysis: its statements (as the replay runs them) and its lint.
pub struct Read<'m> {
    pub migration: &'m Migration,
    pub sql: String,
    pub statements: Vec<(usize, usize, usize, String)>,
    pub lint: Lint,
    pub allowed: Allowed,
}

impl Read<'_> {
    pub fn texts(&self) -> Vec<&str> {
        self.statements.iter().map(|s| s.3.as_str()).collect()
    }
}

/// Reads and lints `migration` (its up script).
///
/// # Errors
///
/// An allow comment naming an unknown code; a script the tokenizer cannot split (the replay
/// would refuse it too).
pub fn read(migration: &Migration, dialect: Dialect) -> Result<Read<'_>> {
    let path = &migration.up.path;
    let transactional = !migration.no_transaction;
    let prepared = prepare::prepare(&migration.up.sql, dialect, transactional)
        .or_else(|_| prepare::prepare(&migration.up.sql, dialect, false))
        .map_err(|refusal| refusal.error(path))?;
    let sql = prepared.sql.into_owned();
    let split: Vec<Statement<'_>> = split::split(&sql, dialect).unwrap_or_default();
    let statements: Vec<(usize, usize, usize, String)> = split
        .iter()
        .map(|s| (s.offset, s.line, s.column, s.text.to_string()))
        .collect();
    let starts: Vec<usize> = statements.iter().map(|s| s.0).collect();
    let allowed = suppress::allowed(&migration.up.sql, &starts).map_err(|unknown| {
        Error::input(
            ErrorCode::UnknownSafetyCode,
            if unknown.code.is_empty() {
                "`-- migrate:allow` names no finding code".to_string()
            } else {
                format!("`-- migrate:allow` names an unknown finding code `{}`", unknown.code)
            },
        )
        .at(format!(
            "{}:{}:{}",
            display_path(path),
            unknown.line,
            unknown.column
        ))
        .hint("name one or more codes docs/safety.md lists, then the reason, e.g. `-- migrate:allow index-not-concurrent small table`")
    })?;
    let mut lint = statik::lint(&sql, &starts, transactional);
    let texts: Vec<(usize, &str)> = statements.iter().map(|s| (s.0, s.3.as_str())).collect();
    lint.hits.extend(statik::own_rules(&texts, transactional));
    if dialect == Dialect::Sqlite {
        // squawk reads PostgreSQL. SQLite locks the whole database for a migration and has no
        // concurrent builds, so only the codes about the running application apply, and its
        // own syntax (AUTOINCREMENT, …) is no finding.
        lint.hits
            .retain(|hit| SQLITE_CODES.contains(&hit.code.code));
        lint.unparsed.clear();
    }
    Ok(Read {
        migration,
        sql,
        statements,
        lint,
        allowed,
    })
}

/// A migration's part of the report.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub version: String,
    pub name: String,
    pub file: String,
    pub transactional: bool,
    /// Whether the statements were traced on a scratch database, and if not, why.
    pub traced: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_traced: Option<String>,
    /// Tables that got a few rows before the trace.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seeded: Vec<String>,
    /// Every traced statement that took a lock on an existing relation or rewrote one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<StatementLocks>,
    pub findings: Vec<Finding>,
    /// Findings that `-- migrate:allow` or `off` removed.
    pub allowed: usize,
    #[serde(skip)]
    pub sql: String,
}

/// One row group of the lock table.
#[derive(Debug, Clone, Serialize)]
pub struct StatementLocks {
    pub line: usize,
    pub column: usize,
    pub duration_ms: f64,
    pub lock_timeout: String,
    pub locks: Vec<Lock>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rewrites: Vec<String>,
}

/// Combines `read`'s static hits with `trace` (`None`: not traced, for the reason given).
pub fn combine(
    read: &Read<'_>,
    trace: std::result::Result<&MigrationTrace, &str>,
    config: &SafetyConfig,
) -> MigrationReport {
    let migration = read.migration;
    let file = display_path(&migration.up.path);
    let count = read.statements.len();
    let traced_statement = |index: usize| -> Option<&super::trace::StatementTrace> {
        trace.ok().and_then(|t| t.statements.get(index))
    };
    let mut findings: Vec<Finding> = Vec::new();
    let mut allowed = 0;
    let mut push = |finding: Finding, statement: Option<usize>, findings: &mut Vec<Finding>| {
        if finding.severity == Severity::Off || read.allowed.allows(statement, finding.code) {
            allowed += 1;
        } else {
            findings.push(finding);
        }
    };
    let locks_of = |index: usize| -> Vec<Lock> {
        traced_statement(index)
            .map(|s| {
                s.locks
                    .iter()
                    .chain(&s.reused)
                    .map(|(relation, kind, mode)| Lock {
                        relation: relation.clone(),
                        kind,
                        mode: mode.clone(),
                        blocks: super::blocks(mode),
                        held_across: count.saturating_sub(index + 1),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let met = |expect: Expect, index: usize| -> Option<bool> {
        // A failing statement has no trace of its own, only its error.
        match expect {
            Expect::Fails(state) => {
                let failed = trace.ok()?.failed_with(index, state, "");
                return (failed || traced_statement(index).is_some()).then_some(failed);
            }
            Expect::DroppedView => {
                if trace.ok()?.failed_with(index, DEPENDENT_OBJECTS, "view ") {
                    return Some(true);
                }
                return traced_statement(index).map(|s| !s.dropped_views.is_empty());
            }
            _ => {}
        }
        let s = traced_statement(index)?;
        // A lock an earlier statement took on a relation this one names counts: the statement
        // needs it as much (`DROP INDEX` then `ADD PRIMARY KEY` on the same table).
        let mut all = s.locks.iter().chain(&s.reused);
        let blocking = all.clone().any(|l| super::blocks_writes(&l.2));
        Some(match expect {
            Expect::BlockingLock => blocking,
            Expect::ExclusiveLock => all.any(|l| l.2 == "AccessExclusiveLock"),
            Expect::Rewrite => !s.rewrites.is_empty(),
            // Any later statement that blocks without a timeout of the script's own.
            Expect::LockWithoutTimeout => (index..count)
                .filter_map(traced_statement)
                .any(|s| !s.own_lock_timeout && s.locks.iter().any(|l| super::blocks_writes(&l.2))),
            Expect::Nothing | Expect::Fails(_) | Expect::DroppedView => return None,
        })
    };
    let position = |offset: usize| split::line_column_of_byte_offset(&read.sql, offset);
    let make = |code: &'static super::Code,
                verdict: Verdict,
                offset: usize,
                message: String,
                statement: Option<usize>,
                rule: Option<String>| {
        let (line, column) = position(offset);
        let severity = match (config.severity_of(code), verdict) {
            (Severity::Off, _) => Severity::Off,
            (_, Verdict::StaticOnly) => Severity::Note,
            (severity, _) => severity,
        };
        let (locks, rewrites) = match statement {
            Some(index) if verdict != Verdict::StaticOnly => (
                locks_of(index),
                traced_statement(index)
                    .map(|s| s.rewrites.clone())
                    .unwrap_or_default(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        Finding {
            code: code.code,
            severity,
            verdict,
            migration: format!("{}_{}", migration.version.as_str(), migration.name),
            location: format!("{file}:{line}:{column}"),
            file: file.clone(),
            line,
            column,
            message,
            hint: code.rewrite,
            locks,
            rewrites,
            rule,
        }
    };
    // Which statements a confirmed static finding explains (no trace-only duplicate then).
    let mut explained_lock = vec![false; count];
    let mut explained_rewrite = vec![false; count];
    // Statements whose dropped views or failure a confirmed static finding explains.
    let mut explained_other = vec![false; count];
    let mut timeout_reported = false;
    for hit in &read.lint.hits {
        let verdict = match hit.statement.and_then(|index| met(hit.code.expect, index)) {
            Some(true) => Verdict::Confirmed,
            Some(false) => Verdict::StaticOnly,
            None => Verdict::Untraced,
        };
        if let Some(index) = hit.statement
            && verdict == Verdict::Confirmed
        {
            match hit.code.expect {
                Expect::Rewrite => {
                    explained_rewrite[index] = true;
                    explained_lock[index] = true;
                }
                Expect::BlockingLock | Expect::ExclusiveLock => explained_lock[index] = true,
                Expect::Fails(_) | Expect::DroppedView => explained_other[index] = true,
                Expect::LockWithoutTimeout | Expect::Nothing => {}
            }
        }
        if hit.code.expect == Expect::LockWithoutTimeout {
            timeout_reported = true;
        }
        let finding = make(
            hit.code,
            verdict,
            hit.offset,
            format!(
                "{}{} ({})",
                hit.message.trim_end_matches('.'),
                match hit.statement.and_then(traced_statement) {
                    Some(s) if !s.dropped_views.is_empty() =>
                        format!("; it dropped {}", s.dropped_views.join(", ")),
                    _ => String::new(),
                },
                hit.code.problem
            ),
            hit.statement,
            Some(hit.rule.clone()),
        );
        push(finding, hit.statement, &mut findings);
    }
    for (index, offset) in &read.lint.unparsed {
        let code = super::code("unparsed-statement").expect("a known code");
        let verdict = if traced_statement(*index).is_some() {
            Verdict::TraceOnly
        } else {
            Verdict::Untraced
        };
        let finding = make(
            code,
            verdict,
            *offset,
            "the static parser cannot read this statement: no static rule ran on it".to_string(),
            Some(*index),
            None,
        );
        push(finding, Some(*index), &mut findings);
    }
    let mut held_reported = false;
    if let Ok(trace) = trace {
        // What only the failure of a statement tells (the replay fails there too).
        if let Some((index, message)) = &trace.failed
            && *index < count
            && !explained_other[*index]
        {
            let name = if trace.failed_with(*index, UNSAFE_NEW_ENUM_VALUE, "") {
                Some("enum-value-used-in-transaction")
            } else if trace.failed_with(*index, DEPENDENT_OBJECTS, "view ") {
                Some("drop-used-by-view")
            } else {
                None
            };
            if let Some(name) = name {
                let code = super::code(name).expect("a known code");
                let detail = trace
                    .failed_code
                    .as_ref()
                    .map(|(_, detail)| detail.replace('\n', "; "))
                    .filter(|detail| !detail.is_empty())
                    .map(|detail| format!(": {detail}"))
                    .unwrap_or_default();
                let finding = make(
                    code,
                    Verdict::TraceOnly,
                    read.statements[*index].0,
                    format!("fails on the scratch database: {message}{detail}"),
                    Some(*index),
                    None,
                );
                push(finding, Some(*index), &mut findings);
            }
        }
        for (index, step) in trace.statements.iter().enumerate() {
            let offset = read.statements[index].0;
            if !step.dropped_views.is_empty() && !explained_other[index] {
                let code = super::code("drop-used-by-view").expect("a known code");
                let finding = make(
                    code,
                    Verdict::TraceOnly,
                    offset,
                    format!(
                        "also dropped {} {} without naming {} ({})",
                        if step.dropped_views.len() == 1 {
                            "view"
                        } else {
                            "views"
                        },
                        step.dropped_views.join(", "),
                        if step.dropped_views.len() == 1 {
                            "it"
                        } else {
                            "them"
                        },
                        code.problem
                    ),
                    Some(index),
                    None,
                );
                push(finding, Some(index), &mut findings);
            }
            let exclusive: Vec<&(String, &str, String)> = step
                .locks
                .iter()
                .filter(|l| l.2 == "AccessExclusiveLock")
                .collect();
            let blocking: Vec<&(String, &str, String)> = step
                .locks
                .iter()
                .filter(|l| super::blocks_writes(&l.2))
                .collect();
            if !step.rewrites.is_empty() && !explained_rewrite[index] {
                let code = super::code("table-rewrite").expect("a known code");
                let finding = make(
                    code,
                    Verdict::TraceOnly,
                    offset,
                    format!("rewrote {} ({})", step.rewrites.join(", "), code.problem),
                    Some(index),
                    None,
                );
                push(finding, Some(index), &mut findings);
                explained_lock[index] = true;
            }
            let further = count.saturating_sub(index + 1);
            // A brief lock under a timeout of the migration's own, with nothing after it in
            // the transaction, is the safe form of most changes: it neither queues traffic
            // for long nor is held while other work runs.
            if !explained_lock[index] && (!step.own_lock_timeout || further > 0) {
                let (name, locks) = if exclusive.is_empty() {
                    ("write-blocking-lock", &blocking)
                } else {
                    ("access-exclusive-lock", &exclusive)
                };
                if let Some(first) = locks.first() {
                    let code = super::code(name).expect("a known code");
                    let finding = make(
                        code,
                        Verdict::TraceOnly,
                        offset,
                        format!(
                            "{} on {} {} (blocks {} until the transaction ends)",
                            first.2,
                            first.1,
                            first.0,
                            super::blocks(&first.2)
                        ),
                        Some(index),
                        None,
                    );
                    push(finding, Some(index), &mut findings);
                }
            }
            if !timeout_reported && !step.own_lock_timeout && !blocking.is_empty() {
                timeout_reported = true;
                let code = super::code("missing-lock-timeout").expect("a known code");
                let finding = make(
                    code,
                    Verdict::TraceOnly,
                    offset,
                    format!(
                        "{} on {} requested with lock_timeout {} (not the migration's own)",
                        blocking[0].2, blocking[0].0, step.lock_timeout
                    ),
                    Some(index),
                    None,
                );
                push(finding, Some(index), &mut findings);
            }
            if !held_reported
                && further > 0
                && migration_is_transactional(migration)
                && let Some(first) = exclusive.iter().find(|l| l.1 == "table")
            {
                held_reported = true;
                let code = super::code("lock-held-across-statements").expect("a known code");
                let finding = make(
                    code,
                    Verdict::TraceOnly,
                    offset,
                    format!(
                        "AccessExclusiveLock on {} is held across {further} further statement{} until the migration commits",
                        first.0,
                        if further == 1 { "" } else { "s" }
                    ),
                    Some(index),
                    None,
                );
                push(finding, Some(index), &mut findings);
            }
        }
    }
    findings.sort_by(|a, b| (a.line, a.column, a.code).cmp(&(b.line, b.column, b.code)));
    let locks = match trace {
        Ok(trace) => trace
            .statements
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.locks.is_empty() || !s.rewrites.is_empty())
            .map(|(index, s)| StatementLocks {
                line: read.statements[index].1,
                column: read.statements[index].2,
                duration_ms: (s.duration.as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
                lock_timeout: s.lock_timeout.clone(),
                locks: locks_of(index),
                rewrites: s.rewrites.clone(),
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    MigrationReport {
        version: migration.version.as_str().to_string(),
        name: migration.name.clone(),
        file,
        transactional: !migration.no_transaction,
        traced: trace.is_ok(),
        not_traced: trace.err().map(str::to_string),
        seeded: trace.map(|t| t.seeded.clone()).unwrap_or_default(),
        locks,
        findings,
        allowed,
        sql: read.migration.up.sql.clone(),
    }
}

/// SQLSTATE of "unsafe use of new value" (an enum value used in the transaction that added it).
const UNSAFE_NEW_ENUM_VALUE: &str = "55P04";
/// SQLSTATE of "cannot drop … because other objects depend on it".
const DEPENDENT_OBJECTS: &str = "2BP01";

fn migration_is_transactional(migration: &Migration) -> bool {
    !migration.no_transaction
}

#[cfg(test)]
mod tests {
    /// Every code the trace reports by name exists (a typo would panic mid-run).
    #[test]
    fn the_codes_the_trace_names_exist() {
        let source = include_str!("analyse.rs");
        let mut named = 0;
        for piece in source.split("super::code(\"").skip(1) {
            let name = &piece[..piece.find('"').unwrap_or(0)];
            // (This test's own pattern leaves an empty piece.)
            if name.is_empty() {
                continue;
            }
            assert!(super::super::code(name).is_some(), "unknown code {name}");
            named += 1;
        }
        assert!(named >= 4, "{named}");
        // Chosen by lock mode, through a variable.
        for name in ["write-blocking-lock", "access-exclusive-lock"] {
            assert!(super::super::code(name).is_some(), "{name}");
        }
        for name in super::SQLITE_CODES {
            assert!(super::super::code(name).is_some(), "{name}");
        }
    }
}
