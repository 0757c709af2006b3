//! The command line: clap types, one module per command, and the entry point that maps
//! errors to exit codes.

mod baseline;
mod check;
mod completions;
mod db;
mod devdb;
mod diff;
mod down;
mod each;
mod lint;
mod list;
mod man;
mod new;
mod redo;
mod reset;
mod resolve;
mod schema;
mod scratch;
mod status;
mod up;
mod version;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result};
use crate::report::{ColorChoice, Format, Output};
use crate::workspace::{Selector, Source, Workspace};

const ABOUT: &str = "SQL schema migrations for Rust workspaces";

const AFTER_HELP: &str = "\
Examples:
  cargo migrate list                      every migration set in the workspace
  cargo migrate new add_users_table       scaffold a migration in the only set
  cargo migrate -p billing new add_index  …in package `billing`'s set
  cargo migrate status --workspace        every set, each on its own database
  cargo migrate status                    what is applied on $DATABASE_URL
  cargo migrate up                        apply the pending migrations
  cargo migrate check                     in CI: replay, reversibility, drift
  cargo migrate lint --since origin/main  deploy safety: locks, rewrites
  cargo migrate schema                    the schema the history produces
  cargo migrate db url                    the dev database used without a URL
  cargo migrate completions bash          shell completions (also zsh, fish, …)
  cargo migrate man                       the man page
  cargo migrate -vV                       version, commit and dialects
  cargo-migrate migrate list --dir /migrations --dialect postgres
                                          without Cargo

Exit codes: 0 ok, 1 a check failed, 2 usage/config/input error, 3 database or Docker \
unreachable.";

#[derive(Debug, Parser)]
#[command(
    name = "cargo-migrate",
    bin_name = "cargo migrate",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The options every command takes. In a command's `-h` they come after its own options, under
/// their own heading, so what is particular to the command is read first.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global Options")]
pub struct GlobalArgs {
    /// Path to the workspace's (or a package's) Cargo.toml
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "dir")]
    pub manifest_path: Option<PathBuf>,

    /// The package whose migration set to use, repeatable [default: the current directory's]
    #[arg(
        short = 'p',
        long,
        global = true,
        value_name = "NAME",
        conflicts_with = "dir"
    )]
    pub package: Vec<String>,

    /// Every set of the workspace
    //  (cargo's `--all` is no alias here: `down --all` already means every migration)
    #[arg(long, global = true, conflicts_with_all = ["dir", "package"])]
    pub workspace: bool,

    /// With --workspace: leave out this package's set (repeatable)
    #[arg(long, global = true, value_name = "NAME", requires = "workspace")]
    pub exclude: Vec<String>,

    /// Use this migrations directory instead of the Cargo workspace (no Cargo needed)
    #[arg(long, global = true, value_name = "PATH")]
    pub dir: Option<PathBuf>,

    /// With --dir: read settings from this TOML file (the keys of [package.metadata.migrate])
    #[arg(long, global = true, value_name = "FILE", requires = "dir")]
    pub config: Option<PathBuf>,

    /// Do not read .env files (the package's, the workspace root's; with --dir none is read)
    #[arg(long, global = true)]
    pub no_dotenv: bool,

    /// SQL dialect: postgres, sqlite or mysql (overrides configuration)
    #[arg(long, global = true, value_name = "DIALECT", value_parser = parse_dialect)]
    pub dialect: Option<Dialect>,

    /// Disposable database to use when no URL is given: auto, docker, local, sqlite
    #[arg(long, global = true, value_enum, value_name = "KIND")]
    pub sandbox: Option<crate::sandbox::SandboxKind>,

    /// Coloring: auto, always, never (also CARGO_TERM_COLOR, NO_COLOR)
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    pub color: Option<ColorChoice>,

    /// Output format
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "human",
        value_name = "FORMAT"
    )]
    pub format: Format,

    /// Print nothing but results and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more detail; -vv also logs the SQL the tool sends (filter: CARGO_MIGRATE_LOG)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn parse_dialect(text: &str) -> std::result::Result<Dialect, String> {
    text.parse()
}

/// The longest duration a `SECS` flag (`--wait`, `--lock-timeout`, `--connect-timeout`)
/// takes: a week. Far beyond any sensible wait, and small enough that every deadline fits
/// an `Instant`, PostgreSQL's `lock_timeout` (milliseconds in an `int`) and SQLite's busy
/// timeout (the same), so no value can overflow anywhere below.
pub const MAX_SECS: u64 = 7 * 24 * 60 * 60;

/// Parses a `SECS` flag: a whole number of seconds from 0 to [`MAX_SECS`].
pub fn parse_secs(text: &str) -> std::result::Result<u64, String> {
    let secs: u64 = text
        .trim()
        .parse()
        .map_err(|_| "expected a whole number of seconds, e.g. 30".to_string())?;
    if secs > MAX_SECS {
        return Err(format!("at most {MAX_SECS} seconds (7 days) can be given"));
    }
    Ok(secs)
}

#[derive(Debug, Subcommand)]
pub enum Command {
    List(list::ListArgs),
    New(new::NewArgs),
    Status(status::StatusArgs),
    Up(up::UpArgs),
    Down(down::DownArgs),
    Redo(redo::RedoArgs),
    Reset(reset::ResetArgs),
    Resolve(resolve::ResolveArgs),
    Baseline(baseline::BaselineArgs),
    Check(check::CheckArgs),
    Lint(lint::LintArgs),
    Diff(diff::DiffArgs),
    Schema(schema::SchemaArgs),
    Db(devdb::DevDbArgs),
    Completions(completions::CompletionsArgs),
    Man(man::ManArgs),
}

/// What every command gets: the parsed global flags and the output channel.
pub struct Context {
    pub global: GlobalArgs,
    pub output: Output,
}

impl Context {
    /// Where the sets come from: `--dir`, or the Cargo workspace.
    pub fn source(&self) -> Source {
        match &self.global.dir {
            Some(dir) => Source::Dir {
                dir: dir.clone(),
                config: self.global.config.clone(),
            },
            None => Source::Cargo {
                manifest_path: self.global.manifest_path.clone(),
            },
        }
    }

    pub fn workspace(&self) -> Result<Workspace> {
        Workspace::load(&self.source(), self.global.dialect)
    }

    /// What `-p`, `--workspace`, `--exclude`, `--manifest-path` and the current directory
    /// select.
    pub fn selector(&self) -> Result<Selector> {
        let cwd = std::env::current_dir().map_err(|e| {
            Error::io(
                ErrorCode::UnreadableDirectory,
                "read the current directory",
                std::path::Path::new("."),
                &e,
            )
        })?;
        Ok(Selector {
            packages: self.global.package.clone(),
            workspace: self.global.workspace,
            exclude: self.global.exclude.clone(),
            manifest_path: self.global.manifest_path.as_ref().map(|p| cwd.join(p)),
            cwd,
        })
    }
}

/// Runs the command line `args` (as the process received them) and returns the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let mut args: Vec<OsString> = args.into_iter().collect();
    // `cargo migrate x` runs `cargo-migrate migrate x`; accept both that and `cargo-migrate x`.
    if args.get(1).is_some_and(|a| a == "migrate") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => return report_usage_error(&args, &err),
    };
    let output = Output::new(
        cli.global.format,
        cli.global.color,
        cli.global.quiet,
        cli.global.verbose,
    );
    if let Some(warning) = crate::report::log::init(cli.global.verbose, output.color_stderr()) {
        output.status(format!(
            "{} {warning}",
            output.paint_err("warning:", crate::report::style::warn())
        ));
    }
    let context = Context {
        global: cli.global,
        output,
    };
    // Workflow annotations exist for lint's findings only; elsewhere the flag would be
    // ignored, and a CI step reading annotations would see none without knowing why.
    if context.output.format == Format::Github && !matches!(cli.command, Command::Lint(_)) {
        let error = Error::coded(
            ErrorCode::Usage,
            "`--format github` is for `lint` (workflow annotations on the findings' lines)",
        )
        .at("--format github")
        .hint("use `--format human` or `--format json` for this command");
        return report_error(&context.output, &error);
    }
    let result: Result<()> = match &cli.command {
        Command::List(args) => list::run(&context, args),
        Command::New(args) => new::run(&context, args),
        Command::Status(args) => status::run(&context, args),
        Command::Up(args) => up::run(&context, args),
        Command::Down(args) => down::run(&context, args),
        Command::Redo(args) => redo::run(&context, args),
        Command::Reset(args) => reset::run(&context, args),
        Command::Resolve(args) => resolve::run(&context, args),
        Command::Baseline(args) => baseline::run(&context, args),
        Command::Check(args) => check::run(&context, args),
        Command::Diff(args) => diff::run(&context, args),
        Command::Schema(args) => schema::run(&context, args),
        Command::Db(args) => devdb::run(&context, args),
        Command::Completions(args) => completions::run(&context, args),
        Command::Man(args) => man::run(&context, args),
        Command::Lint(args) => lint::run(&context, args),
    };
    match result {
        Ok(()) => 0,
        Err(error) => report_error(&context.output, &error),
    }
}

fn report_error(output: &Output, error: &Error) -> i32 {
    // An error caused by Ctrl-C's cleanup (a container removed under us) is not the story:
    // the signal handler prints "interrupted" and ends the process.
    crate::sandbox::interrupt::wait_if_interrupted();
    output.print_error(error);
    error.exit_code()
}

/// Reports what clap could not parse like every other error (what, where, hint; one JSON object
/// with `--format json`; exit 2), with any password in the arguments scrubbed: clap echoes
/// the offending argument, and a URL pasted without `--database-url` is one.
fn report_usage_error(args: &[OsString], err: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    let output = output_from_raw_args(args);
    let asked_for_help = matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    // Help and version are what the user asked for (stdout, exit 0); so is the help shown for a
    // bare `cargo migrate`, unless a machine reads the output.
    if err.kind() == ErrorKind::DisplayVersion && version::verbose_requested(args) {
        version::print(&output);
        return 0;
    }
    if asked_for_help && !(output.json() && err.exit_code() != 0) {
        let _ = err.print();
        return err.exit_code();
    }
    // Each argument is one value: its password ends exactly where the argument says, even when
    // clap quotes it inside a sentence.
    for arg in args {
        crate::secrets::register_in(&arg.to_string_lossy());
    }
    report_error(&output, &usage_error(args, err))
}

/// clap's error as ours: its first lines are the message, its `tip:` lines the hint, its usage
/// line the detail, and the argument it names the location.
fn usage_error(args: &[OsString], err: &clap::Error) -> Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let help = match command_named_in(args) {
        Some(command) => format!("see `cargo migrate {command} --help`"),
        None => "see `cargo migrate --help` for the commands".to_string(),
    };
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // clap's rendering of this one is the whole help text.
        return Error::input(ErrorCode::Usage, "no command given")
            .at("command line")
            .hint(help);
    }
    // clap echoes the argument it could not place, which may be a URL pasted without
    // `--database-url`.
    let rendered = crate::secrets::redact(&err.render().to_string());
    let mut message = Vec::new();
    let mut hints = Vec::new();
    let mut usage = None;
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(tip) = line.strip_prefix("tip: ") {
            hints.push(tip.to_string());
        } else if let Some(text) = line.strip_prefix("Usage: ") {
            usage = Some(format!("usage: {text}"));
        } else if line.starts_with("For more information") {
            // Replaced by the hint naming the command's own --help.
        } else if hints.is_empty() && usage.is_none() {
            // The message, and the arguments a "not provided" message lists below it.
            message.push(line.strip_prefix("error: ").unwrap_or(line));
        }
    }
    let mut message = message.join(" ");
    if message.is_empty() {
        message = "the command line could not be parsed".to_string();
    }
    // clap's guess for a flag of another command can mislead (`up --all` → `--allow-missing`,
    // which would apply past a missing file): say what the command does instead.
    if let (Some(ContextValue::String(arg)), Some(command)) =
        (err.get(ContextKind::InvalidArg), command_named_in(args))
        && let Some(instead) = misplaced_flag(&command, arg)
    {
        hints = vec![instead.to_string()];
        // clap's usage line repeats its guess (`cargo migrate up --allow-missing`).
        usage = None;
    }
    let location = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => {
            format!("command line, {}", crate::secrets::redact_value(arg))
        }
        _ => "command line".to_string(),
    };
    hints.push(help);
    let mut error = Error::input(ErrorCode::Usage, message)
        .at(location)
        .hint(hints.join("; "));
    if let Some(usage) = usage {
        error = error.detail(usage);
    }
    error
}

/// What to say instead of clap's "a similar argument exists" for a flag that belongs to
/// another command.
fn misplaced_flag(command: &str, arg: &str) -> Option<&'static str> {
    let flag = arg.split_once('=').map_or(arg, |(flag, _)| flag);
    match (command, flag) {
        ("up", "--all") => Some(
            "`up` applies every pending migration without a flag (--to VERSION stops earlier); --all is `down`'s",
        ),
        ("up", "--count" | "-n") => {
            Some("`up` applies every pending migration; --to VERSION stops after that one")
        }
        _ => None,
    }
}

/// The (sub)command the arguments name, as in `db start`, for a pointer to its `--help`.
fn command_named_in(args: &[OsString]) -> Option<String> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let mut names = Vec::new();
    for arg in args.iter().skip(1).filter_map(|a| a.to_str()) {
        if arg == "--" {
            break;
        }
        let Some(sub) = command.find_subcommand(arg).cloned() else {
            continue;
        };
        names.push(sub.get_name().to_string());
        command = sub;
    }
    (!names.is_empty()).then(|| names.join(" "))
}

/// The output settings the arguments ask for, read leniently because clap could not parse them:
/// `--format json` must give JSON even when another argument is wrong.
fn output_from_raw_args(args: &[OsString]) -> Output {
    use clap::ValueEnum;
    let mut format = Format::Human;
    let mut color = None;
    let texts: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for (i, arg) in texts.iter().enumerate() {
        if arg == "--" {
            break;
        }
        let value_of = |flag: &str| {
            arg.strip_prefix(flag)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_string)
                .or_else(|| (arg == flag).then(|| texts.get(i + 1).cloned()).flatten())
        };
        if let Some(value) = value_of("--format") {
            format = Format::from_str(&value, true).unwrap_or(format);
        }
        if let Some(value) = value_of("--color") {
            color = ColorChoice::from_str(&value, true).ok().or(color);
        }
    }
    Output::new(format, color, false, 0)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks (unique names, valid groups) for every command, which
    /// otherwise fire only when that command is parsed.
    #[test]
    fn command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// Help is read on 80-column terminals, where clap wraps every line at the width: an
    /// example line (indented) must fit, so it is never broken mid-sentence, and a prose
    /// paragraph is one line, so clap reflows it at word boundaries instead of leaving orphans.
    #[test]
    fn help_texts_fit_80_columns() {
        fn visit(command: &clap::Command, path: &str, problems: &mut Vec<String>) {
            let path = format!("{path} {}", command.get_name());
            if let Some(text) = command.get_after_help() {
                let text = text.to_string();
                let lines: Vec<&str> = text.lines().collect();
                for (i, line) in lines.iter().enumerate() {
                    let indented = line.starts_with(' ');
                    if indented && line.chars().count() > 79 {
                        problems.push(format!("{path}: longer than 79 columns: {line}"));
                    }
                    let next = lines.get(i + 1).copied().unwrap_or("");
                    if !indented && !line.is_empty() && !next.is_empty() && !next.starts_with(' ') {
                        problems.push(format!("{path}: paragraph broken by hand: {line}"));
                    }
                }
            }
            for sub in command.get_subcommands() {
                visit(sub, &path, problems);
            }
        }
        let mut problems = Vec::new();
        visit(&super::Cli::command(), "", &mut problems);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn seconds_flags_are_range_checked() {
        for (text, expected) in [
            ("0", Some(0)),
            ("30", Some(30)),
            (" 60 ", Some(60)),
            ("604800", Some(604_800)),
            ("604801", None),
            ("2147484", None),
            ("9223372036854775807", None),
            ("18446744073709551616", None),
            ("-1", None),
            ("1.5", None),
            ("abc", None),
            ("", None),
        ] {
            assert_eq!(super::parse_secs(text).ok(), expected, "{text:?}");
        }
    }
}
