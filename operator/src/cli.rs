//! The command line: what each command does and the flags it takes.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::output::Format;

/// turnout keeps a Docker host on one selected version of a multi-version
/// application stack: shared databases on their standard ports, exactly one
/// version's services on that version's port ranges, data carried across.
///
/// Start with `turnout validate plan.yaml` and `turnout ports plan.yaml`.
#[derive(Debug, Parser)]
#[command(name = "turnout", version, about, long_about)]
pub struct Cli {
    /// Log format (levels with RUST_LOG, e.g. RUST_LOG=turnout=debug).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plans, selections and syncs against every rule, and print every violation.
    ///
    /// Files hold the same YAML documents `kubectl apply` takes (PortPlan,
    /// VersionSelection, DataSync), separated by `---`. A selection is checked
    /// against the plan it names, so pass the plan's file too. Exits 0 when
    /// everything is valid, 1 when anything is not.
    ///
    /// Example: turnout validate examples/three-versions.yaml examples/version-selection.yaml
    Validate {
        /// YAML files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Print the port table of a plan: infrastructure ports, and each version's ranges and assigned ports.
    ///
    /// Example: turnout ports examples/three-versions.yaml
    Ports {
        /// A YAML file holding one PortPlan.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
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
    Standalone {
        /// The desired-state YAML file to watch.
        #[arg(long, short, value_name = "FILE")]
        file: PathBuf,
        /// Write the status here as JSON after every reconcile (replaced atomically).
        #[arg(long, value_name = "FILE")]
        status_file: Option<PathBuf>,
        /// Serve /status, /healthz and /metrics on this address.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9477")]
        listen: Option<std::net::SocketAddr>,
        /// Seconds between full re-lists of the host.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        resync: u64,
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
        git: Option<String>,
        /// The branch to follow with --git.
        #[arg(long, default_value = "main")]
        branch: String,
        /// Seconds between pulls with --git.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        interval: u64,
        /// Seconds one git command may take before it is killed.
        #[arg(long, value_name = "SECONDS", default_value_t = 120, requires = "git")]
        git_timeout: u64,
        /// A file holding the secret that signs POST /hooks/git (the
        /// X-Hub-Signature-256 header of GitHub and Gitea): a signed
        /// request pulls at once. Without it the hook is off.
        #[arg(long, value_name = "FILE", requires = "git")]
        webhook_secret_file: Option<PathBuf>,
        #[command(flatten)]
        http: HttpArgs,
        #[command(flatten)]
        state: StateDir,
        #[command(flatten)]
        data: crate::commands::sync::DataArgs,
    },
    /// Run as a Kubernetes operator for this host: reconcile VersionSelections
    /// (applied with kubectl or a GitOps tool) against this host's Docker engine.
    ///
    /// Uses the in-cluster config or KUBECONFIG. One turnout per host: run it
    /// on each Docker host with a --selector that picks that host's selections.
    ///
    /// Example: turnout run --namespace apps --selector turnout.dev/host=db-1
    Run {
        /// Only selections in this namespace (default: all namespaces).
        #[arg(long)]
        namespace: Option<String>,
        /// Only selections matching this label selector.
        #[arg(long, value_name = "SELECTOR")]
        selector: Option<String>,
        /// Serve /metrics, /healthz and /readyz on this address.
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9477")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        lease: crate::commands::run::LeaseArgs,
        #[command(flatten)]
        state: StateDir,
        #[command(flatten)]
        data: crate::commands::sync::DataArgs,
    },
    /// Show what `apply` would do: the ordered actions with their reasons, and what blocks them. Changes nothing.
    ///
    /// Example: turnout plan desired.yaml
    Plan {
        /// Files holding a VersionSelection and its PortPlan.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Reconcile the host once, with progress; exits 0 when the host converged.
    ///
    /// Example: turnout apply desired.yaml
    Apply {
        /// Files holding a VersionSelection and its PortPlan.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Also write the status here as JSON.
        #[arg(long, value_name = "FILE")]
        status_file: Option<PathBuf>,
        #[command(flatten)]
        state: StateDir,
        #[command(flatten)]
        data: crate::commands::sync::DataArgs,
    },
    /// Show the status of the running standalone turnout.
    ///
    /// Example: turnout status; turnout status -o json
    Status {
        /// Address of the running turnout's HTTP endpoint.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9477")]
        addr: std::net::SocketAddr,
        /// Read a status file instead of asking the running process.
        #[arg(long, value_name = "FILE")]
        status_file: Option<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Copy the data of one version into another (databases the versions bind under the same name).
    ///
    /// Each target is backed up, loaded into a staging database, verified
    /// against the source (row counts and checksums) and swapped in
    /// atomically. A target written to since turnout last synced it is
    /// refused unless --allow-overwrite-newer. The target version must not be running.
    ///
    /// Example: turnout sync --from future --to dao plan.yaml
    Sync {
        /// Files holding the PortPlan.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The source version.
        #[arg(long)]
        from: String,
        /// The target version.
        #[arg(long)]
        to: String,
        /// Do not back the targets up first.
        #[arg(long)]
        no_backup: bool,
        /// Overwrite a target written to since turnout last synced it.
        #[arg(long)]
        allow_overwrite_newer: bool,
        /// Take the source version from this plan: another environment whose
        /// containers run on this engine (e.g. local -> test cloud).
        #[arg(long, value_name = "FILE")]
        source_plan: Option<PathBuf>,
        /// Allow copying into an earlier stage (prod -> test).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        data: crate::commands::sync::DataArgs,
        #[command(flatten)]
        state: StateDir,
    },
    /// List the backups of every data binding of a plan.
    Backups {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        data: crate::commands::sync::DataArgs,
    },
    /// Put a backup back into the database it was taken from (the current contents are backed up first).
    ///
    /// Example: turnout restore plan.yaml --backup /var/lib/turnout/backups/test-mysql/dao_users/20261125T120000.000Z.sql
    Restore {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The backup file, as `turnout backups` lists it.
        #[arg(long, value_name = "PATH")]
        backup: PathBuf,
        /// Restore a backup even without the record of what it holds (older
        /// backups), or when it loads differently from that record.
        #[arg(long)]
        no_verify: bool,
        #[command(flatten)]
        data: crate::commands::sync::DataArgs,
        #[command(flatten)]
        state: StateDir,
    },
    /// Print the CustomResourceDefinitions (PortPlan, VersionSelection, DataSync) as YAML.
    ///
    /// Example: turnout crds | kubectl apply -f -
    Crds,
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

/// Logging options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
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
            ..crate::http::Limits::with_timeout(std::time::Duration::from_secs(
                self.http_timeout.max(1),
            ))
        }
    }
}
