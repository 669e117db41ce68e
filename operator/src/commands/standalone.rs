//! `turnout standalone`: watch a desired-state file (or a git repository
//! holding it) and the engine, and keep the host on it. The driver itself
//! is [`crate::standalone`]; this is its command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{CrashArgs, StateDir};
use crate::commands::data::DataArgs;
use crate::gitsource::GitSource;

/// Watch a desired-state file and keep the host on it (the default way to run turnout).
///
/// FILE holds a PortPlan and a VersionSelection (the same documents
/// `kubectl apply` takes). Edit `activeVersion` and turnout switches the
/// host; an edit that fails to parse or validate is reported and ignored.
/// Docker events trigger a reconcile within milliseconds (drift is put
/// back); a periodic re-list catches lost events. One turnout per host:
/// a second one waits for the host lock.
///
/// Example: turnout standalone --file desired.yaml --listen 127.0.0.1:9477
#[derive(Debug, clap::Args)]
pub struct StandaloneArgs {
    /// The desired-state YAML file to watch.
    #[arg(long, short, value_name = "FILE")]
    pub file: PathBuf,
    /// Write the status here as JSON after every reconcile (replaced atomically).
    #[arg(long, value_name = "FILE")]
    pub status_file: Option<PathBuf>,
    /// Serve /status, /healthz and /metrics on this address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9477")]
    pub listen: Option<SocketAddr>,
    /// Seconds between full re-lists of the host.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub resync: u64,
    /// Follow this git repository; --file is then a path inside it. Each
    /// new commit is reconciled, and the status records it. Credentials
    /// in an https URL (https://user:token@host/repo.git) are handed to
    /// git out of sight and shown as ***. git runs with a clean
    /// environment: ssh keys and credential helpers are configured in
    /// STATE-DIR/git-home/.gitconfig. A URL with credentials belongs in
    /// TURNOUT_GIT_URL: every local user can read a command line.
    #[arg(
        long,
        value_name = "URL",
        env = "TURNOUT_GIT_URL",
        hide_env_values = true
    )]
    pub git: Option<String>,
    /// The branch to follow with --git.
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// Seconds between pulls with --git.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub interval: u64,
    /// Seconds one git command may take before it is killed.
    #[arg(long, value_name = "SECONDS", default_value_t = 120, requires = "git")]
    pub git_timeout: u64,
    /// A file holding the secret that signs POST /hooks/git (the
    /// X-Hub-Signature-256 header of GitHub and Gitea): a signed
    /// request pulls at once. Without it the hook is off.
    #[arg(long, value_name = "FILE", requires = "git")]
    pub webhook_secret_file: Option<PathBuf>,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub crash: CrashArgs,
    #[command(flatten)]
    pub state: StateDir,
    #[command(flatten)]
    pub data: DataArgs,
}

impl StandaloneArgs {
    /// Runs until SIGINT/SIGTERM, driving the engine `engine` (`--engine`,
    /// else `DOCKER_HOST`) names.
    pub async fn run(
        self,
        engine: crate::runtime::docker::address::EngineFlags,
    ) -> anyhow::Result<ExitCode> {
        let git = self.git.map(|url| {
            GitSource::new(
                &url,
                &self.branch,
                Duration::from_secs(self.interval.max(1)),
                Duration::from_secs(self.git_timeout.max(1)),
            )
        });
        crate::standalone::run(crate::standalone::Options {
            file: self.file,
            status_file: self.status_file,
            listen: self.listen,
            state_dir: self.state.dir,
            resync: Duration::from_secs(self.resync.max(1)),
            sync: self.data.switch_options(),
            git: git.transpose()?,
            webhook_secret_file: self.webhook_secret_file,
            http: self.http.limits(),
            crash: self.crash.limit(),
            engine,
        })
        .await
        .map(|()| ExitCode::SUCCESS)
    }
}

/// Bounds of the HTTP server (advanced; the defaults suit a control surface).
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Seconds a client has to send a request's head, or its body.
    #[arg(
        long,
        hide = true,
        value_name = "SECONDS",
        env = "TURNOUT_HTTP_TIMEOUT",
        default_value_t = 10
    )]
    pub http_timeout: u64,
    /// Open HTTP connections at most (idle ones make room for new ones).
    #[arg(
        long,
        hide = true,
        value_name = "N",
        env = "TURNOUT_HTTP_MAX_CONNECTIONS",
        default_value_t = 256
    )]
    pub http_max_connections: usize,
}

impl HttpArgs {
    pub fn limits(&self) -> crate::http::Limits {
        crate::http::Limits {
            max_connections: self.http_max_connections.max(1),
            ..crate::http::Limits::with_timeout(Duration::from_secs(self.http_timeout.max(1)))
        }
    }
}
