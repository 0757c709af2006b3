//! Structured logs: the JSON Lines that `up`, `down`, `redo` and `reset` print with
//! `--format json`, one object per event, each written and flushed as it happens so a log
//! collector reading the stream sees a migration when it is done, not when the run ends.
//!
//! Every line carries `format_version`, `ts` (RFC 3339, UTC, milliseconds) and `event`; the
//! schema is in `docs/output.md`.

use std::io::Write;

use serde::Serialize;

use super::ErrorBody;

/// One event of a run.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    /// A run for several sets: the events that follow, up to the next `set`, are this set's.
    Set {
        set: &'a str,
    },
    /// The lock is held, the history read and the plan made.
    Started {
        command: &'a str,
        /// The set: its package, or its directory.
        set: &'a str,
        /// The URL, password redacted.
        database: &'a str,
        history_table: &'a str,
        /// Migrations not applied yet.
        pending: usize,
        /// Migrations this run will apply, and revert.
        to_apply: usize,
        to_revert: usize,
        /// `reset` only: what it dropped (`table public.users`, `schema app`, …).
        #[serde(skip_serializing_if = "Option::is_none")]
        dropped: Option<&'a [String]>,
    },
    Applied(Ran<'a>),
    Reverted(Ran<'a>),
    /// Another process applied (or reverted) it while this one waited.
    Skipped {
        version: &'a str,
        name: &'a str,
        direction: &'a str,
    },
    Finished {
        applied: usize,
        reverted: usize,
        skipped: usize,
        duration_ms: u128,
    },
    /// The run failed: under `error`, the object of every other `--format json` error. Always
    /// the last line.
    Error {
        error: ErrorBody<'a>,
    },
}

/// A migration that ran.
#[derive(Debug, Serialize)]
pub struct Ran<'a> {
    pub version: &'a str,
    pub name: &'a str,
    pub duration_ms: u128,
}

#[derive(Serialize)]
struct Line<'a> {
    format_version: u32,
    ts: String,
    #[serde(flatten)]
    event: &'a Event<'a>,
}

/// The current time as events show it: `2026-11-22T10:00:00.123Z`.
pub fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The line of `event` at `ts`. Its URL is redacted, and an error event comes from
/// [`super::shown`]: nothing is rewritten after JSON escaping.
pub fn render(event: &Event<'_>, ts: String) -> String {
    // Serialising our own types into a string cannot fail.
    serde_json::to_string(&Line {
        format_version: super::FORMAT_VERSION,
        ts,
        event,
    })
    .unwrap_or_default()
}

/// Writes `event` as one line on stdout and flushes it.
pub fn emit(event: &Event<'_>) {
    let line = render(event, timestamp());
    let mut out = std::io::stdout().lock();
    // A closed pipe is not worth failing the migration for.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_one_line_with_ts_and_event_first() {
        let ts = "2026-11-22T10:00:00.123Z".to_string();
        assert_eq!(
            render(
                &Event::Applied(Ran {
                    version: "20240101000000",
                    name: "create_users",
                    duration_ms: 3,
                }),
                ts.clone()
            ),
            r#"{"format_version":1,"ts":"2026-11-22T10:00:00.123Z","event":"applied","version":"20240101000000","name":"create_users","duration_ms":3}"#
        );
        assert_eq!(
            render(
                &Event::Finished {
                    applied: 1,
                    reverted: 0,
                    skipped: 2,
                    duration_ms: 40
                },
                ts.clone()
            ),
            r#"{"format_version":1,"ts":"2026-11-22T10:00:00.123Z","event":"finished","applied":1,"reverted":0,"skipped":2,"duration_ms":40}"#
        );
        let error = crate::error::Error::input(crate::error::ErrorCode::NoDatabaseUrl, "no URL")
            .hint("pass one");
        let report = super::super::ErrorReport::from(&error);
        assert_eq!(
            render(
                &Event::Error {
                    error: report.error
                },
                ts
            ),
            r#"{"format_version":1,"ts":"2026-11-22T10:00:00.123Z","event":"error","error":{"code":"no-database-url","message":"no URL","location":null,"hint":"pass one","exit_code":2}}"#
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let ts = timestamp();
        assert!(
            chrono::DateTime::parse_from_rfc3339(&ts).is_ok() && ts.ends_with('Z'),
            "{ts}"
        );
    }
}
