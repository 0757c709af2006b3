//! `completions`: the shell completion script for `cargo-migrate` (clap_complete).

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, Context};
use crate::error::Result;

/// Print the shell completion script (bash, zsh, fish, powershell, elvish) to stdout
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate completions bash > ~/.local/share/bash-completion/completions/cargo-migrate
  cargo migrate completions zsh > ~/.zfunc/_cargo-migrate
  cargo migrate completions fish > ~/.config/fish/completions/cargo-migrate.fish

The script completes `cargo-migrate`; README (Usage, Shell completions) shows how to hook it
to `cargo migrate`.")]
pub struct CompletionsArgs {
    /// The shell to write the script for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// The script, as text: for the command and for the tests.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    // Named after the binary, not `cargo migrate`: a shell registers completions per
    // executable, and a name with a space would make no valid function name.
    clap_complete::generate(shell, &mut command, "cargo-migrate", &mut script);
    script
}

pub fn run(_context: &Context, args: &CompletionsArgs) -> Result<()> {
    use std::io::Write;
    // A closed pipe is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(&script(args.shell));
    Ok(())
}
