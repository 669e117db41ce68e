//! The `turnout` binary: parses the command line and hands over to a command.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use turnout::cli::{Cli, Command, LogFormat};
use turnout::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Validate { files, output } => commands::validate::run(&files, output),
        Command::Ports { file, output } => commands::ports::run(&file, output),
        Command::Crds => commands::crds::run(),
        Command::Standalone {
            file,
            status_file,
            listen,
            resync,
            git,
            branch,
            interval,
            git_timeout,
            webhook_secret_file,
            http,
            state,
            data,
        } => block_on(async move {
            let git = git.map(|url| {
                turnout::gitsource::GitSource::new(
                    &url,
                    &branch,
                    Duration::from_secs(interval.max(1)),
                    Duration::from_secs(git_timeout.max(1)),
                )
            });
            turnout::standalone::run(turnout::standalone::Options {
                file,
                status_file,
                listen,
                state_dir: state.dir,
                resync: Duration::from_secs(resync.max(1)),
                sync: data.switch_options(),
                git: git.transpose()?,
                webhook_secret_file,
                http: http.limits(),
            })
            .await
            .map(|()| ExitCode::SUCCESS)
        }),
        Command::Run {
            namespace,
            selector,
            listen,
            lease,
            state,
            data,
        } => block_on(commands::run::run(
            namespace,
            selector,
            listen,
            lease,
            state.dir,
            data.switch_options(),
        )),
        Command::Plan { files, output } => block_on(commands::plan::run(files, output)),
        Command::Apply {
            files,
            status_file,
            state,
            data,
        } => block_on(commands::apply::run(
            files,
            status_file,
            state.dir,
            data.switch_options(),
        )),
        Command::Sync {
            files,
            from,
            to,
            no_backup,
            allow_overwrite_newer,
            source_plan,
            force,
            data,
            state,
        } => block_on(commands::sync::run(
            files,
            from,
            to,
            no_backup,
            allow_overwrite_newer,
            commands::sync::Promotion { source_plan, force },
            data,
            state.dir,
        )),
        Command::Backups { files, data } => commands::sync::backups(files, data),
        Command::Restore {
            files,
            backup,
            no_verify,
            data,
            state,
        } => block_on(commands::sync::restore_cmd(
            files, backup, no_verify, data, state.dir,
        )),
        Command::Status {
            addr,
            status_file,
            output,
        } => block_on(commands::status::run(addr, status_file, output)),
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

fn block_on<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    f: F,
) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f)
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
