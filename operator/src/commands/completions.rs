//! `turnout completions SHELL`: a completion script, generated from the
//! same definitions as `--help`, so it knows every command and flag.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Print a shell completion script, generated from the same definitions as --help.
///
/// bash: source <(turnout completions bash), or save it as /usr/share/bash-completion/completions/turnout
///
/// zsh: turnout completions zsh > "${fpath[1]}/_turnout"
///
/// fish: turnout completions fish > ~/.config/fish/completions/turnout.fish
///
/// Example: turnout completions bash
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

impl CompletionsArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let script = script(self.shell);
        std::io::stdout().lock().write_all(&script)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// The script for `shell`. It is built in memory and then written, because
/// the generator cannot report a failed write (`| head` closes the pipe).
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "turnout", &mut out);
    out
}
