//! `completions`: the shell completion script for `cargo-migrate` (clap_complete).

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, Context};
use crate::error::Result;

/// Print the shell completion script (bash, zsh, fish, powershell, elvish) to stdout
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo migrate completions bash \\
      > ~/.local/share/bash-completion/completions/cargo-migrate
  cargo migrate completions zsh > ~/.zfunc/_cargo-migrate
  cargo migrate completions fish \\
      > ~/.config/fish/completions/cargo-migrate.fish

The script completes `cargo-migrate`; README (Usage, Shell completions) shows how to hook it \
to `cargo migrate`.")]
pub struct CompletionsArgs {
    /// The shell to write the script for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// The script, as text: for the command and for the tests.
pub fn script(shell: Shell) -> Vec<u8> {
    // Named after the binary, not `cargo migrate`: a shell registers completions per
    // executable, and clap_complete derives the subcommands' names from this one (with the
    // space, bash's script looked `up` up under a name it never set).
    let mut command = Cli::command().bin_name("cargo-migrate");
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "cargo-migrate", &mut script);
    if shell == Shell::Bash {
        // clap_complete 4.6's bash script spells the hyphen of `cargo-migrate` `__` where it
        // sets `cmd` and `__subcmd__` where it matches it, so no subcommand's options were
        // completed; one spelling makes them meet (tests/e2e/shell.rs completes `up --dry`).
        let text =
            String::from_utf8_lossy(&script).replace("cargo__subcmd__migrate", "cargo__migrate");
        script = text.into_bytes();
    }
    script
}

pub fn run(_context: &Context, args: &CompletionsArgs) -> Result<()> {
    use std::io::Write;
    // A closed pipe is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(&script(args.shell));
    Ok(())
}
