//! The `turnout` binary: parses the command line and hands over to a command.

use std::process::ExitCode;

use clap::Parser;

use turnout::cli::{Cli, Command};
use turnout::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { files, output } => commands::validate::run(&files, output),
        Command::Ports { file, output } => commands::ports::run(&file, output),
        Command::Crds => commands::crds::run(),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `turnout ports FILE | head` closes the pipe early; that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
