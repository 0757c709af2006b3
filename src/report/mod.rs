//! Rendering results for people (coloured, concise) and for machines (one JSON object, or
//! JSON Lines [`events`] for the commands that run migrations).

pub mod events;
pub mod log;

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::rc::Rc;

use owo_colors::{OwoColorize, Style};
use serde::Serialize;

use crate::error::Error;
use crate::secrets;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    // GitHub workflow annotations: `lint` only (other commands refuse it).
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl std::str::FromStr for ColorChoice {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(ColorChoice::Auto),
            "always" => Ok(ColorChoice::Always),
            "never" => Ok(ColorChoice::Never),
            _ => Err(()),
        }
    }
}

/// Whether to colour a stream. Precedence: `--color`, then `CARGO_TERM_COLOR`, then a
/// non-empty `NO_COLOR` (off), then whether the stream is a terminal.
pub fn use_color(
    flag: Option<ColorChoice>,
    env: impl Fn(&str) -> Option<String>,
    is_terminal: bool,
) -> bool {
    let choice = flag
        .or_else(|| env("CARGO_TERM_COLOR").and_then(|v| v.parse().ok()))
        .unwrap_or(ColorChoice::Auto);
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => env("NO_COLOR").is_none_or(|v| v.is_empty()) && is_terminal,
    }
}

/// How and where a command writes its output.
#[derive(Debug, Clone)]
pub struct Output {
    pub format: Format,
    pub quiet: bool,
    pub verbose: u8,
    color_stdout: bool,
    color_stderr: bool,
    /// When one command runs for several sets with `--format json`: each set's object is
    /// collected here, and the run prints one object holding them all.
    capture: Option<Rc<RefCell<Vec<serde_json::Value>>>>,
}

/// Styles used across commands, so the palette stays consistent.
pub mod style {
    use owo_colors::Style;

    pub fn header() -> Style {
        Style::new().bold()
    }
    pub fn good() -> Style {
        Style::new().green().bold()
    }
    pub fn bad() -> Style {
        Style::new().red().bold()
    }
    pub fn warn() -> Style {
        Style::new().yellow().bold()
    }
    pub fn dim() -> Style {
        Style::new().dimmed()
    }
    pub fn hint() -> Style {
        Style::new().cyan().bold()
    }
}

impl Output {
    pub fn new(format: Format, color: Option<ColorChoice>, quiet: bool, verbose: u8) -> Output {
        let env = |name: &str| std::env::var(name).ok();
        Output {
            format,
            quiet,
            verbose,
            color_stdout: use_color(color, env, std::io::stdout().is_terminal()),
            color_stderr: use_color(color, env, std::io::stderr().is_terminal()),
            capture: None,
        }
    }

    /// This output, with [`print_json`](Self::print_json) collecting into `into` instead of
    /// printing.
    pub fn capturing(&self, into: Rc<RefCell<Vec<serde_json::Value>>>) -> Output {
        Output {
            capture: Some(into),
            ..self.clone()
        }
    }

    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// `text` styled for stdout (plain when colour is off).
    pub fn paint(&self, text: impl std::fmt::Display, style: Style) -> String {
        paint(self.color_stdout, text, style)
    }

    /// Whether stderr is coloured.
    pub fn color_stderr(&self) -> bool {
        self.color_stderr
    }

    /// `text` styled for stderr.
    pub fn paint_err(&self, text: impl std::fmt::Display, style: Style) -> String {
        paint(self.color_stderr, text, style)
    }

    /// Writes one line of a command's result to stdout (never suppressed by `-q`), as is: a
    /// URL in it was redacted where it was formatted, and nothing else is rewritten (a schema
    /// or a script is printed byte for byte).
    pub fn line(&self, text: impl std::fmt::Display) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = writeln!(out, "{text}");
    }

    /// Writes `text` to stdout: the dev database's URL for `$(cargo migrate db url)`, whose
    /// password cargo-migrate made and is no secret.
    pub fn raw_line(&self, text: &str) {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    /// Writes a status line as cargo's `Shell::status` does: `verb` right-aligned in 12
    /// columns and painted after padding (so the alignment holds with colour on a terminal),
    /// then `rest`; to stderr, unless `-q`. Status lines say what the tool did; results
    /// (tables, schemas, SQL, JSON) go to stdout through [`line`](Self::line).
    pub fn verb(&self, verb: &str, style: Style, rest: impl std::fmt::Display) {
        self.status(status_line(verb, rest, |text| self.paint_err(text, style)));
    }

    /// A spinner on stderr for work of unknown length (`what`, then the elapsed time), shown
    /// only on a terminal and not with `-q` or `--format json`; cleared when dropped. Notes
    /// printed meanwhile go through [`Spinner::status`] so they do not tear its line.
    pub fn spinner(&self, what: &str) -> Spinner<'_> {
        let shown = !self.json() && !self.quiet && std::io::stderr().is_terminal();
        let bar = shown.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {wide_msg} {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.set_message(what.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Spinner { output: self, bar }
    }

    /// Writes a status line to stderr unless `-q`.
    pub fn status(&self, text: impl std::fmt::Display) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }

    /// Prints the one JSON object of a `--format json` run, with `format_version` first.
    pub fn print_json(&self, value: &impl Serialize) {
        if let Some(capture) = &self.capture {
            // Serialising our own types cannot fail.
            capture
                .borrow_mut()
                .push(serde_json::to_value(value).unwrap_or_default());
            return;
        }
        // Serialising our own types cannot fail.
        let text = serde_json::to_string(&Document::new(value)).unwrap_or_default();
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    /// Reports a failed command: a JSON object on stdout, or what/where/hint on stderr.
    pub fn print_error(&self, error: &Error) {
        let error = &shown(error);
        if self.json() {
            if !error.reported_in_json {
                self.print_json(&ErrorReport::from(error));
            }
            return;
        }
        if error.reported_in_human {
            return;
        }
        let mut text = format!(
            "{} {}",
            self.paint_err("error:", style::bad()),
            self.paint_err(&error.message, style::header())
        );
        if let Some(location) = &error.location {
            text.push_str(&format!(
                "\n  {} {location}",
                self.paint_err("-->", style::dim())
            ));
        }
        if let Some(detail) = &error.detail {
            for line in detail.lines() {
                text.push_str(&format!("\n  {}", self.paint_err(line, style::dim())));
            }
        }
        if let Some(hint) = &error.hint {
            text.push_str(&format!(
                "\n  {} {hint}",
                self.paint_err("hint:", style::hint())
            ));
        }
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}

/// `error` as printed: its message and location may quote text we do not control (a
/// driver's message, an argument), so a credential form left in them is redacted here, before
/// any JSON escaping. Hints are ours (they show `scheme://user:password@host` as a pattern),
/// and the detail (code frames of migration files, the server's detail, redacted where it is
/// read) is printed as is.
pub fn shown(error: &Error) -> Error {
    let mut shown = error.clone();
    shown.message = secrets::redact(&error.message);
    shown.location = error.location.as_deref().map(secrets::redact);
    shown
}

/// `text` with its control characters escaped (`\n`, `\t`, `\u{1b}`, and the bidirectional
/// overrides), for a migration name or path shown to a person: names are free text (a file
/// may be named with a newline or an ANSI escape), and printed raw they could forge lines or
/// colours. Every name and path in human output passes through here; JSON needs nothing
/// (serde escapes control characters).
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let needs = |c: char| {
        c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if !text.chars().any(needs) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if needs(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// See [`Output::spinner`].
pub struct Spinner<'o> {
    output: &'o Output,
    bar: Option<indicatif::ProgressBar>,
}

impl Spinner<'_> {
    /// A status line (see [`Output::status`]) printed above the spinner.
    pub fn status(&self, text: impl std::fmt::Display) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.output.status(text)),
            None => self.output.status(text),
        }
    }
}

impl Drop for Spinner<'_> {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `verb` right-aligned in cargo's 12 columns, then `rest`; `paint` styles the padded verb.
pub fn status_line(
    verb: &str,
    rest: impl std::fmt::Display,
    paint: impl Fn(&str) -> String,
) -> String {
    format!("{} {rest}", paint(&format!("{verb:>12}")))
}

fn paint(enabled: bool, text: impl std::fmt::Display, style: Style) -> String {
    if enabled {
        text.style(style).to_string()
    } else {
        text.to_string()
    }
}

/// The version of every JSON document's shape: each top-level object (and each line of an
/// event stream) carries it as `format_version`. It changes only when a field is removed or
/// changes meaning; new fields do not change it.
pub const FORMAT_VERSION: u32 = 1;

/// A top-level JSON document: `body`'s fields after `format_version`.
#[derive(Serialize)]
pub struct Document<'a, T: Serialize> {
    format_version: u32,
    #[serde(flatten)]
    body: &'a T,
}

impl<'a, T: Serialize> Document<'a, T> {
    pub fn new(body: &'a T) -> Self {
        Document {
            format_version: FORMAT_VERSION,
            body,
        }
    }
}

/// `text`, a timestamp as a database returned it (`2026-11-22 10:00:00.123+01`, or without a
/// zone from a `TIMESTAMP` column or SQLite's `CURRENT_TIMESTAMP`, both UTC), in RFC 3339 UTC
/// with milliseconds like every timestamp cargo-migrate prints: `2026-11-22T09:00:00.123Z`.
/// Text that is no timestamp is returned as it is, so nothing read is lost.
pub fn rfc3339_utc(text: &str) -> String {
    use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
    let text = text.trim();
    // PostgreSQL writes a zone as `+01`, `+05:30` or `-03:30:00`; chrono's `%#z` reads the
    // first two forms, and seconds in a zone are historic (LMT) only.
    let zoned = DateTime::parse_from_rfc3339(text)
        .ok()
        .or_else(|| {
            ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"]
                .iter()
                .find_map(|format| DateTime::parse_from_str(text, format).ok())
        })
        .map(|t| t.with_timezone(&Utc));
    let naive = || {
        ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .map(|t| t.and_utc())
    };
    match zoned.or_else(naive) {
        Some(time) => time.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => text.to_string(),
    }
}

/// The JSON shape of an error: `{"error": {...}}`, the same object under `error` in an event
/// stream's `error` line.
#[derive(Debug, Serialize)]
pub struct ErrorReport<'a> {
    pub error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub location: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
    pub hint: Option<&'a str>,
    pub exit_code: i32,
}

impl<'a> From<&'a Error> for ErrorReport<'a> {
    fn from(error: &'a Error) -> Self {
        ErrorReport {
            error: ErrorBody {
                code: error.code.as_str(),
                message: &error.message,
                location: error.location.as_deref(),
                detail: error.detail.as_deref(),
                hint: error.hint.as_deref(),
                exit_code: error.exit_code(),
            },
        }
    }
}

/// A plain-text table: columns padded to their widest cell, numbers right-aligned. Cells may
/// carry a style, applied after padding so colour codes never skew the layout.
pub struct Table {
    header: Vec<&'static str>,
    right_aligned: Vec<bool>,
    rows: Vec<Vec<(String, Option<Style>)>>,
}

impl Table {
    /// `columns`: (title, right-aligned).
    pub fn new(columns: &[(&'static str, bool)]) -> Table {
        Table {
            header: columns.iter().map(|(title, _)| *title).collect(),
            right_aligned: columns.iter().map(|(_, right)| *right).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| (c, None)).collect());
    }

    pub fn styled_row(&mut self, cells: Vec<(String, Option<Style>)>) {
        self.rows.push(cells);
    }

    /// Renders the table; `paint` styles the header (bold) and styled cells. Lines carry no
    /// trailing spaces.
    pub fn render(&self, paint: impl Fn(&str, Style) -> String) -> String {
        let width = |i: usize| {
            self.rows
                .iter()
                .map(|r| r[i].0.chars().count())
                .chain([self.header[i].len()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.header.len()).map(width).collect();
        let format_row = |cells: Vec<(&str, Option<Style>)>| {
            let last = cells
                .iter()
                .rposition(|(text, _)| !text.is_empty())
                .unwrap_or(0);
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .take(last + 1)
                .map(|(i, (cell, style))| {
                    let pad = " ".repeat(widths[i].saturating_sub(cell.chars().count()));
                    let shown = match style {
                        Some(style) => paint(cell, *style),
                        None => cell.to_string(),
                    };
                    if self.right_aligned[i] {
                        format!("{pad}{shown}")
                    } else if i == last {
                        shown
                    } else {
                        format!("{shown}{pad}")
                    }
                })
                .collect();
            padded.join("  ")
        };
        let header = self
            .header
            .iter()
            .map(|h| (*h, Some(style::header())))
            .collect();
        let mut lines = vec![format_row(header)];
        for row in &self.rows {
            lines.push(format_row(
                row.iter().map(|(t, s)| (t.as_str(), *s)).collect(),
            ));
        }
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn colour_follows_flag_then_cargo_then_no_color_then_terminal() {
        assert!(use_color(None, env(&[]), true));
        assert!(!use_color(None, env(&[]), false));
        assert!(!use_color(None, env(&[("NO_COLOR", "1")]), true));
        assert!(use_color(None, env(&[("NO_COLOR", "")]), true));
        assert!(use_color(
            Some(ColorChoice::Always),
            env(&[("NO_COLOR", "1")]),
            false
        ));
        assert!(!use_color(Some(ColorChoice::Never), env(&[]), true));
        assert!(use_color(
            None,
            env(&[("CARGO_TERM_COLOR", "always")]),
            false
        ));
        assert!(!use_color(
            None,
            env(&[("CARGO_TERM_COLOR", "never")]),
            true
        ));
        assert!(!use_color(
            Some(ColorChoice::Auto),
            env(&[("CARGO_TERM_COLOR", "always")]),
            false
        ));
    }

    #[test]
    fn control_characters_are_escaped() {
        for (text, shown) in [
            ("create_users", "create_users"),
            ("two\nlines", "two\\nlines"),
            ("red\u{1b}[31mred", "red\\u{1b}[31mred"),
            ("tab\there\r", "tab\\there\\r"),
            ("evil\u{202e}txt", "evil\\u{202e}txt"),
            ("café_ünïcode", "café_ünïcode"),
        ] {
            assert_eq!(printable(text), shown, "{text:?}");
        }
    }

    #[test]
    fn status_verbs_are_padded_before_painting() {
        let coloured = status_line("Applied", "1_a (1 ms)", |text| {
            paint(true, text, style::good())
        });
        assert!(
            coloured.starts_with("\u{1b}[32;1m     Applied\u{1b}[0m 1_a"),
            "{coloured:?}"
        );
        assert_eq!(
            status_line("Finished", "x", |text| text.to_string()),
            "    Finished x"
        );
        assert_eq!(
            status_line("Longer-than-twelve", "x", |text| text.to_string()),
            "Longer-than-twelve x"
        );
    }

    #[test]
    fn database_timestamps_become_rfc3339_utc() {
        for (text, shown) in [
            ("2026-11-22 10:00:00.123456+00", "2026-11-22T10:00:00.123Z"),
            ("2026-11-22 10:00:00+01", "2026-11-22T09:00:00.000Z"),
            ("2026-11-22 10:00:00.5+05:30", "2026-11-22T04:30:00.500Z"),
            ("2026-11-22 01:00:00-03:30", "2026-11-22T04:30:00.000Z"),
            ("2026-11-22 10:00:00", "2026-11-22T10:00:00.000Z"),
            ("2026-11-22 10:00:00.25", "2026-11-22T10:00:00.250Z"),
            ("2026-11-22T10:00:00Z", "2026-11-22T10:00:00.000Z"),
            ("not a time", "not a time"),
        ] {
            assert_eq!(rfc3339_utc(text), shown, "{text:?}");
        }
    }

    #[test]
    fn documents_carry_format_version_first() {
        #[derive(Serialize)]
        struct Report {
            applied: usize,
        }
        assert_eq!(
            serde_json::to_string(&Document::new(&Report { applied: 2 })).unwrap(),
            r#"{"format_version":1,"applied":2}"#
        );
    }

    #[test]
    fn table_pads_columns() {
        let mut table = Table::new(&[("NAME", false), ("N", true), ("LAST", false)]);
        table.row(vec!["a".into(), "10".into(), "x".into()]);
        table.row(vec!["long".into(), "2".into(), "y".into()]);
        table.row(vec!["z".into(), "1".into(), String::new()]);
        assert_eq!(
            table.render(|text, _| text.to_string()),
            "NAME   N  LAST\na     10  x\nlong   2  y\nz      1"
        );
    }
}
