//! The `turnout` binary: parses the command line, sets up logging and hands
//! over to the command (see [`turnout::cli`]).

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use turnout::cli::{Cli, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    init_logging(cli.global.log_format);
    match cli.command.run(cli.global.engine_flags()) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// `turnout ports FILE | head` closes the pipe early; that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
