//! The command line: the global flags, the list of commands, and the
//! dispatch from one to the other. Each command's flags, help text and entry
//! point live next to it, in [`crate::commands`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::commands::{
    apply, backups, completions, crds, import, lineage, man, plan, ports, restore, run, standalone,
    status, sync, validate,
};
use crate::runtime::docker::address::EngineFlags;

/// turnout keeps a Docker host on one selected version of a multi-version
/// application stack: shared databases on their standard ports, exactly one
/// version's services on that version's port ranges, data carried across.
///
/// Start with `turnout validate plan.yaml` and `turnout ports plan.yaml`.
#[derive(Debug, Parser)]
#[command(name = "turnout", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The flags every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Log format (levels with RUST_LOG, e.g. RUST_LOG=turnout=debug).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The Docker engine to act on, as the Docker CLI's --host names it (default: unix:///var/run/docker.sock): ssh://USER@HOST, or tcp://HOST:2376 with TLS, for plan, import and sync; apply, standalone, run and restore act on this machine's engine only.
    // One paragraph: a second would give every command's --help the long
    // layout. An address turnout cannot use is never replaced by the local
    // socket; Docker contexts are refused (address.rs says why).
    #[arg(
        long,
        global = true,
        value_name = "ADDR",
        env = "DOCKER_HOST",
        hide_env_values = true
    )]
    pub engine: Option<String>,
    /// Directory of the TLS files for a tcp:// engine (ca.pem, cert.pem, key.pem; key mode 0600); naming it turns TLS verification on (default: DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set).
    #[arg(long, global = true, value_name = "DIR")]
    pub engine_certs: Option<PathBuf>,
}

impl GlobalArgs {
    /// What the command line says about the engine.
    pub fn engine_flags(&self) -> EngineFlags {
        EngineFlags {
            engine: self.engine.clone(),
            certs: self.engine_certs.clone(),
        }
    }
}

impl Cli {
    /// Parses the process's arguments (exiting with clap's message and
    /// code 2 on a usage error, as `Cli::parse` does).
    ///
    /// `--engine` holds only what the command line said: when the value
    /// came from `DOCKER_HOST` it is left to
    /// [`address::resolve`](crate::runtime::docker::address::resolve),
    /// which reads the variable itself, so a refusal names the variable the
    /// person set rather than a flag they never typed.
    pub fn parse_args() -> Cli {
        let matches = Cli::command().get_matches();
        let mut cli = Cli::from_arg_matches(&matches)
            .unwrap_or_else(|e| e.format(&mut Cli::command()).exit());
        if matches.value_source("engine") == Some(ValueSource::EnvVariable) {
            cli.global.engine = None;
        }
        cli
    }
}

/// The commands, in the order `turnout --help` lists them.
#[derive(Debug, Subcommand)]
pub enum Command {
    Validate(validate::ValidateArgs),
    Ports(ports::PortsArgs),
    Standalone(standalone::StandaloneArgs),
    Run(run::RunArgs),
    Plan(plan::PlanArgs),
    Apply(apply::ApplyArgs),
    Import(import::ImportArgs),
    Status(status::StatusArgs),
    Sync(sync::SyncArgs),
    Backups(backups::BackupsArgs),
    Lineage(lineage::LineageArgs),
    Restore(restore::RestoreArgs),
    Crds(crds::CrdsArgs),
    Completions(completions::CompletionsArgs),
    Man(man::ManArgs),
}

impl Command {
    /// Runs the command; `engine` is what `--engine` and `--engine-certs`
    /// said, for the commands that talk to the Docker engine.
    pub fn run(self, engine: EngineFlags) -> anyhow::Result<ExitCode> {
        match self {
            Command::Validate(args) => args.run(),
            Command::Ports(args) => args.run(),
            Command::Standalone(args) => block_on(args.run(engine)),
            Command::Run(args) => block_on(args.run(engine)),
            Command::Plan(args) => block_on(args.run(engine)),
            Command::Apply(args) => block_on(args.run(engine)),
            Command::Import(args) => block_on(args.run(engine)),
            Command::Status(args) => block_on(args.run(engine)),
            Command::Sync(args) => block_on(args.run(engine)),
            Command::Backups(args) => args.run(),
            Command::Lineage(args) => args.run(),
            Command::Restore(args) => block_on(args.run(engine)),
            Command::Crds(args) => args.run(),
            Command::Completions(args) => args.run(),
            Command::Man(args) => args.run(),
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

/// Where turnout keeps its host lock and secret files.
#[derive(Debug, Clone, clap::Args)]
pub struct StateDir {
    /// Directory for the host lock and the secret files (root-only).
    #[arg(
        long = "state-dir",
        value_name = "DIR",
        env = "TURNOUT_STATE_DIR",
        default_value = "/run/turnout"
    )]
    pub dir: PathBuf,
}

/// When turnout stops restarting a container that keeps going down.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct CrashArgs {
    /// Restarts of one container within --crash-window after which turnout
    /// stops restarting it and reports CrashLoop (with its exit code and log tail).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub crash_restarts: u32,
    /// The window --crash-restarts counts in, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub crash_window: u64,
}

impl CrashArgs {
    pub fn limit(&self) -> crate::reconcile::CrashLimit {
        crate::reconcile::CrashLimit {
            restarts: self.crash_restarts,
            window: std::time::Duration::from_secs(self.crash_window.max(1)),
        }
    }
}

/// Logging options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}
