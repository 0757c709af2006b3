//! `-vv` and `CARGO_MIGRATE_LOG`: a log, on stderr, of what the tool itself does to a
//! database and to Docker or a local cluster: every SQL statement it sends (bookkeeping, locks,
//! inspection; sqlx's own `sqlx::query` events, so none is missed) and each container or
//! server action (`cargo_migrate::…` events at their call sites).
//!
//! A migration's own statements are not the tool's: they are sent inside [`script_span`], and
//! every sqlx event inside it is dropped, so a script's `ALTER ROLE … PASSWORD '…'` never
//! reaches the log. Every line passes through [`crate::secrets::redact`] as well, as every
//! URL shown does.
//!
//! Filtering is `RUST_LOG`'s syntax (`tracing-subscriber`'s `EnvFilter`) in
//! `CARGO_MIGRATE_LOG`, as cargo reads `CARGO_LOG`: `CARGO_MIGRATE_LOG=sqlx::query=debug`
//! logs only the SQL. Without it, `-vv` logs the SQL and the tool's own debug events.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// The variable holding a filter in `RUST_LOG`'s syntax.
pub const ENV: &str = "CARGO_MIGRATE_LOG";

/// What `-vv` logs when [`ENV`] is not set.
pub const DEFAULT_FILTER: &str = "cargo_migrate=debug,sqlx::query=debug";

/// The name of the span a migration's own statements run in.
const SCRIPT: &str = "migration_script";

/// Installs the log when `-vv` (or more) was given or [`ENV`] is set; otherwise logging costs
/// nothing (no subscriber: sqlx checks for one before formatting a statement). Returns a
/// warning to show when [`ENV`] does not parse (the default filter is used then).
pub fn init(verbose: u8, color: bool) -> Option<String> {
    let from_env = std::env::var(ENV).ok().filter(|v| !v.trim().is_empty());
    if verbose < 2 && from_env.is_none() {
        return None;
    }
    let (filter, warning) = filter(from_env.as_deref());
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(StderrLog { color });
    // Only fails when a subscriber is installed already (a second call): nothing to do then.
    let _ = tracing::subscriber::set_global_default(subscriber);
    warning
}

/// The filter `text` (from [`ENV`]) gives, or the default with why `text` was refused. The
/// script span is always enabled: without it, a filter such as `sqlx=trace` would let a
/// migration's statements through.
fn filter(text: Option<&str>) -> (EnvFilter, Option<String>) {
    let (mut filter, warning) = match text.map(EnvFilter::try_new) {
        None => (EnvFilter::new(DEFAULT_FILTER), None),
        Some(Ok(filter)) => (filter, None),
        Some(Err(err)) => (
            EnvFilter::new(DEFAULT_FILTER),
            Some(format!(
                "{ENV} is not a log filter ({err}); using `{DEFAULT_FILTER}`"
            )),
        ),
    };
    if let Ok(directive) = "cargo_migrate::report::log=trace".parse() {
        filter = filter.add_directive(directive);
    }
    (filter, warning)
}

/// The span a migration's statements are sent in: sqlx's events inside it are not logged
/// ([`script_started`] says what ran instead).
pub fn script_span() -> tracing::Span {
    tracing::trace_span!(target: "cargo_migrate::report::log", SCRIPT)
}

/// The line standing for a migration's statements, which are not logged.
pub fn script_started(version: &str, name: &str, direction: &str) {
    tracing::debug!(
        target: "cargo_migrate::sql",
        "the {direction} script of {version}_{name} (its statements are the migration's: not logged)"
    );
}

/// Logs `command` (program and arguments), a local cluster's action, as it is about to run.
pub fn command(command: &std::process::Command) {
    if !tracing::enabled!(target: "cargo_migrate::cluster", tracing::Level::DEBUG) {
        return;
    }
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    tracing::debug!(target: "cargo_migrate::cluster", "run {line}");
}

/// Writes each event as one line (a statement's continuation lines indented) to stderr.
struct StderrLog {
    color: bool,
}

impl<S> Layer<S> for StderrLog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let target = event.metadata().target();
        let in_script = || {
            ctx.event_scope(event)
                .is_some_and(|mut scope| scope.any(|span| span.name() == SCRIPT))
        };
        if target.starts_with("sqlx") && in_script() {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = render(*event.metadata().level(), target, &fields, self.color);
        let mut err = std::io::stderr().lock();
        // A closed stderr is no reason to stop a migration.
        let _ = writeln!(err, "{}", crate::secrets::redact(&line));
    }
}

/// The fields of one event that the line shows.
#[derive(Default)]
struct Fields {
    message: String,
    /// sqlx: the statement in full when it is longer than its `summary`.
    statement: String,
    summary: String,
    rest: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "db.statement" => self.statement = value.to_string(),
            "summary" => self.summary = value.to_string(),
            name => self.rest.push((name.to_string(), value.to_string())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            // Seconds as a float duplicate `elapsed`.
            "elapsed_secs" => {}
            name => self.rest.push((name.to_string(), format!("{value:?}"))),
        }
    }
}

/// `DEBUG sql: SELECT … (rows_affected=0 rows_returned=1 elapsed=1.2ms)`: sqlx's statements
/// under the target `sql`, everything else under its own.
fn render(level: tracing::Level, target: &str, fields: &Fields, color: bool) -> String {
    let (target, text) = if target == "sqlx::query" {
        let statement = match fields.statement.trim() {
            "" => fields.summary.trim(),
            full => full,
        };
        let text = match fields.message.as_str() {
            "" => statement.to_string(),
            message => format!("{message}: {statement}"),
        };
        ("sql", text)
    } else {
        (
            target.strip_prefix("cargo_migrate::").unwrap_or(target),
            fields.message.clone(),
        )
    };
    let level = format!("{level:>5}");
    let level = super::paint(color, level, super::style::dim());
    let mut line = format!("{level} {target}: ");
    let indent = " ".repeat(8);
    for (i, part) in text.lines().enumerate() {
        if i > 0 {
            line.push('\n');
            line.push_str(&indent);
        }
        line.push_str(part);
    }
    if !fields.rest.is_empty() {
        line.push_str(" (");
        for (i, (name, value)) in fields.rest.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            let _ = write!(line, "{name}={value}");
        }
        line.push(')');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_render_as_one_indented_block() {
        let fields = Fields {
            summary: "select version, name …".into(),
            statement: "\n\nSELECT version, name\nFROM _cargo_migrate\n".into(),
            rest: vec![
                ("rows_returned".into(), "2".into()),
                ("elapsed".into(), "1.2ms".into()),
            ],
            ..Fields::default()
        };
        assert_eq!(
            render(tracing::Level::DEBUG, "sqlx::query", &fields, false),
            "DEBUG sql: SELECT version, name\n        FROM _cargo_migrate (rows_returned=2 elapsed=1.2ms)"
        );
        let short = Fields {
            summary: "BEGIN".into(),
            ..Fields::default()
        };
        assert_eq!(
            render(tracing::Level::DEBUG, "sqlx::query", &short, false),
            "DEBUG sql: BEGIN"
        );
        let docker = Fields {
            message: "start container cm-dev-x".into(),
            ..Fields::default()
        };
        assert_eq!(
            render(
                tracing::Level::DEBUG,
                "cargo_migrate::docker",
                &docker,
                false
            ),
            "DEBUG docker: start container cm-dev-x"
        );
    }

    #[test]
    fn a_bad_filter_falls_back_to_the_default() {
        assert!(filter(Some("sqlx::query=debug")).1.is_none());
        assert!(filter(None).1.is_none());
        let (_, warning) = filter(Some("sqlx=[=bogus"));
        assert!(warning.is_some_and(|w| w.contains(ENV)));
    }
}
