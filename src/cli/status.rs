//! `status`: every migration's state on the database.

use clap::Args;
use serde::Serialize;

use super::Context;
use super::db::{self, DbArgs};
use super::each::{self, Json, Kind};
use crate::engine::status::{Entry, State};
use crate::error::{Error, ErrorClass, ErrorCode, Result};
use crate::report::{Table, style};

/// Show which migrations are applied, pending, modified, missing or failed
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate status
  cargo migrate status --database-url postgres://app@localhost/app
  cargo migrate status --exit-code      exit 1 unless all is applied (deploys)
  cargo migrate status --format json")]
pub struct StatusArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Exit with 1 when anything is pending, modified, missing or failed
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Debug, Serialize)]
struct StatusReport<'a> {
    database: &'a str,
    history_table: String,
    history_format: &'static str,
    /// Everything applied: nothing pending, modified, missing or failed.
    up_to_date: bool,
    migrations: Vec<EntryReport<'a>>,
    summary: Summary,
}

#[derive(Debug, Serialize)]
struct EntryReport<'a> {
    version: &'a str,
    name: &'a str,
    state: State,
    out_of_order: bool,
    /// RFC 3339, UTC.
    applied_at: Option<String>,
    execution_ms: Option<i64>,
    failure: Option<&'a str>,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    applied: usize,
    pending: usize,
    modified: usize,
    missing: usize,
    failed: usize,
}

impl Summary {
    fn of(entries: &[Entry<'_, '_>]) -> Summary {
        let mut summary = Summary::default();
        for entry in entries {
            *match entry.state {
                State::Applied => &mut summary.applied,
                State::Pending => &mut summary.pending,
                State::Modified => &mut summary.modified,
                State::Missing => &mut summary.missing,
                State::Failed => &mut summary.failed,
            } += 1;
        }
        summary
    }

    fn all_applied(&self) -> bool {
        self.pending + self.modified + self.missing + self.failed == 0
    }
}

pub fn run(context: &Context, args: &StatusArgs) -> Result<()> {
    let sets = db::sets(context, Kind::ReadOnly, &args.db)?;
    each::run(
        context,
        Kind::ReadOnly,
        Json::Object,
        sets,
        |context, workspace, spec| {
            let target = db::target(context, workspace, spec, &args.db)?;
            let session = db::block_on(db::open(context, &target, &args.db, false))?;
            let entries = db::entries(&target, &session.rows, &session.format);
            let summary = Summary::of(&entries);
            let output = &context.output;
            if output.json() {
                output.print_json(&StatusReport {
                    database: session.url.redacted(),
                    history_table: session.format.table(),
                    history_format: session.format.label(),
                    up_to_date: summary.all_applied(),
                    migrations: entries
                        .iter()
                        .map(|e| EntryReport {
                            version: &e.version,
                            name: &e.name,
                            state: e.state,
                            out_of_order: e.out_of_order,
                            applied_at: e
                                .row
                                .and_then(|r| r.applied_at.as_deref())
                                .map(crate::report::rfc3339_utc),
                            execution_ms: e.row.and_then(|r| r.execution_ms),
                            failure: e.row.and_then(|r| r.failure.as_deref()),
                        })
                        .collect(),
                    summary: Summary::of(&entries),
                });
            } else {
                print_human(
                    context,
                    &session.url.to_string(),
                    &session.format.table(),
                    &entries,
                    &summary,
                );
            }
            if args.exit_code && !summary.all_applied() {
                return Err(Error::new(
            ErrorClass::CheckFailed,
            ErrorCode::NotUpToDate,
            format!(
                "the database is not up to date: {} pending, {} modified, {} missing, {} failed",
                summary.pending, summary.modified, summary.missing, summary.failed
            ),
        )
        .at(session.url.redacted())
        .hint(if summary.failed + summary.modified + summary.missing > 0 {
            "see the states above: `up` applies pending ones; failed ones need `resolve`, modified and missing ones their files"
        } else {
            "`cargo migrate up` applies the pending ones"
        })
        .reported_in_json());
            }
            Ok(())
        },
    )
}

fn print_human(
    context: &Context,
    url: &str,
    table_name: &str,
    entries: &[Entry<'_, '_>],
    summary: &Summary,
) {
    let output = &context.output;
    if !output.quiet {
        // The table as configured, then PostgreSQL's schema: a workspace with a PostgreSQL
        // and a SQLite set shows `_cargo_migrate` for both, not once qualified and once not.
        let table = match table_name.split_once('.') {
            Some((schema, name)) => format!("{name}, schema {schema}"),
            None => table_name.to_string(),
        };
        output.line(format!(
            "{} {url} {}",
            output.paint("Database", style::header()),
            output.paint(format!("(history in {table})"), style::dim())
        ));
    }
    if !entries.is_empty() {
        let mut table = Table::new(&[
            ("VERSION", false),
            ("NAME", false),
            ("STATE", false),
            ("APPLIED AT", false),
            ("TIME", true),
        ]);
        for entry in entries {
            let state = match (entry.state, entry.out_of_order) {
                (State::Pending, true) => "pending (out of order)".to_string(),
                (state, _) => state.as_str().to_string(),
            };
            let state_style = match entry.state {
                State::Applied => None,
                State::Pending => Some(style::warn()),
                State::Modified | State::Missing | State::Failed => Some(style::bad()),
            };
            table.styled_row(vec![
                (entry.version.clone(), None),
                (crate::report::printable(&entry.name).into_owned(), None),
                (state, state_style),
                (
                    entry
                        .row
                        .and_then(|r| r.applied_at.as_deref())
                        .map(|at| {
                            // To the second: `2026-11-22T10:00:00Z`.
                            let at = crate::report::rfc3339_utc(at);
                            match at.strip_suffix('Z') {
                                Some(time) if time.len() > 19 => format!("{}Z", &time[..19]),
                                _ => at,
                            }
                        })
                        .unwrap_or_default(),
                    None,
                ),
                (
                    entry
                        .row
                        .and_then(|r| r.execution_ms)
                        .filter(|_| entry.state != State::Missing)
                        .map(|ms| format!("{ms} ms"))
                        .unwrap_or_default(),
                    None,
                ),
            ]);
        }
        output.line(table.render(|text, style| output.paint(text, style)));
    }
    let mut parts = vec![format!("{} applied", summary.applied)];
    for (count, word) in [
        (summary.pending, "pending"),
        (summary.modified, "modified"),
        (summary.missing, "missing"),
        (summary.failed, "failed"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {word}"));
        }
    }
    output.line(format!(
        "{} migration{}: {}",
        entries.len(),
        if entries.len() == 1 { "" } else { "s" },
        parts.join(", ")
    ));
    for entry in entries.iter().filter(|e| e.state == State::Failed) {
        output.status(format!(
            "{} {} failed part-way{}; after fixing the database run `cargo migrate resolve {} --applied` or `--rolled-back`",
            output.paint_err("note:", style::warn()),
            entry.version,
            entry
                .row
                .and_then(|r| r.failure.as_deref())
                .map(|f| format!(" ({f})"))
                .unwrap_or_default(),
            entry.version
        ));
    }
}
