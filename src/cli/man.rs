//! `man`: the manual pages, as roff (clap_mangen), from the same definitions as `--help`.

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use super::{Cli, Context};
use crate::error::{Error, ErrorCode, Result};

/// Print the man page (roff) of cargo-migrate or of one command, or write every page to a directory
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate man | man -l -               read the page now
  cargo migrate man up > cargo-migrate-up.1  the page of `up`
  cargo migrate man --out-dir /usr/local/share/man/man1
      install every page (then: man cargo-migrate-up)")]
pub struct ManArgs {
    /// The command whose page to print, e.g. `up` or `db start` [default: the main page]
    #[arg(value_name = "COMMAND", conflicts_with = "out_dir")]
    pub command: Vec<String>,

    /// Write every page (cargo-migrate.1, cargo-migrate-up.1, …) to this directory instead
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// The command line's definition, built as for the pages: subcommands are named
/// `cargo-migrate-up`, and clap's `help` subcommand gets no page.
fn built() -> clap::Command {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

/// The roff page of the command `path` names (the main page for an empty path).
pub fn page(path: &[String]) -> Result<Vec<u8>> {
    let mut command = built();
    for name in path {
        let Some(sub) = command.find_subcommand(name).cloned() else {
            return Err(Error::input(
                ErrorCode::Usage,
                format!("no command `{name}` has a man page"),
            )
            .at("command line")
            .hint("see `cargo migrate --help` for the commands"));
        };
        command = sub;
    }
    let mut roff = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = clap_mangen::Man::new(command).render(&mut roff);
    Ok(roff)
}

pub fn run(context: &Context, args: &ManArgs) -> Result<()> {
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(built(), dir))
            .map_err(|e| {
                Error::io(
                    ErrorCode::UnwritableDirectory,
                    "write the man pages",
                    dir,
                    &e,
                )
            })?;
        context
            .output
            .status(format!("wrote the man pages to {}", dir.display()));
        return Ok(());
    }
    use std::io::Write;
    // A closed pipe (`| man -l -` quitting early) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(&page(&args.command)?);
    Ok(())
}
