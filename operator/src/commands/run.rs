//! `turnout run`: the Kubernetes operator for this host.
//!
//! It takes the host lock (one turnout per host), then the Lease (one
//! leader per set of selections in the cluster), then runs the
//! VersionSelection and DataSync controllers. On SIGTERM or SIGINT the
//! change under way finishes, no other starts, and the Lease is released so
//! a successor starts at once. Losing the Lease stops the process at once
//! (exit 1): another instance leads now.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tracing::{error, info};

use crate::cli::{CrashArgs, StateDir};
use crate::commands::data::DataArgs;
use crate::controller::datasync::KubeSwitchSync;
use crate::controller::lease::{self, LeaseConfig};
use crate::controller::{self, Context};
use crate::host::ProcHost;
use crate::http::Shared;
use crate::lock::HostLock;
use crate::metrics::Metrics;
use crate::reconcile::Reconciler;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::docker::address::{self, EngineFlags};
use crate::secrets::SecretFiles;

/// Run as a Kubernetes operator for this host: reconcile VersionSelections
/// (applied with kubectl or a GitOps tool) against this host's Docker engine.
///
/// Uses the in-cluster config or KUBECONFIG. One turnout per host: run it
/// on each Docker host with a --selector that picks that host's selections.
///
/// Example: turnout run --namespace apps --selector turnout.dev/host=db-1
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Only selections in this namespace (default: all namespaces).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Only selections matching this label selector.
    #[arg(long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Serve /metrics, /healthz and /readyz on this address (and, with
    /// --status-page, the status page and /status).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9477")]
    pub listen: SocketAddr,
    /// Also serve the read-only status page (/ui, /status, /portmap.svg)
    /// of the selections this instance reconciles. Off by default: --listen
    /// is on every address of the host, and the page shows container
    /// names, images, ports and the processes holding planned ports.
    #[arg(long)]
    pub status_page: bool,
    #[command(flatten)]
    pub lease: LeaseArgs,
    #[command(flatten)]
    pub crash: CrashArgs,
    #[command(flatten)]
    pub state: StateDir,
    #[command(flatten)]
    pub data: DataArgs,
}

const PAGE_OFF: &str = "the status page is off: start `turnout run` with --status-page to serve it (and /status) on --listen\n";

/// Leader election.
#[derive(clap::Args, Debug, Clone)]
pub struct LeaseArgs {
    /// The Lease's namespace (default: $POD_NAMESPACE, else the client's namespace).
    #[arg(long, value_name = "NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// The Lease's name (default: `turnout`, or `turnout-<hash>` of
    /// --namespace and --selector, so instances serving different
    /// selections do not contend).
    #[arg(long, value_name = "NAME")]
    pub lease_name: Option<String>,
    /// Who this instance is in the Lease (default: $POD_NAME, else the host
    /// name). The same identity after a restart takes the Lease back at once.
    #[arg(long, value_name = "ID", env = "TURNOUT_IDENTITY")]
    pub identity: Option<String>,
    /// How long a leader's claim stands without renewal.
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    pub lease_seconds: u64,
}

impl LeaseArgs {
    fn config(
        &self,
        namespace: Option<&str>,
        selector: Option<&str>,
        client_ns: &str,
    ) -> anyhow::Result<LeaseConfig> {
        let lease_ns = self
            .lease_namespace
            .clone()
            .or_else(|| {
                std::env::var("POD_NAMESPACE")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| client_ns.to_string());
        let name = self
            .lease_name
            .clone()
            .unwrap_or_else(|| lease_name(namespace, selector));
        let identity = match &self.identity {
            Some(i) => i.clone(),
            None => match std::env::var("POD_NAME").ok().filter(|s| !s.is_empty()) {
                Some(p) => p,
                None => host_name()?,
            },
        };
        if self.lease_seconds < 3 {
            anyhow::bail!(
                "--lease-seconds {}: use at least 3, so a renew may fail and be retried before leadership ends",
                self.lease_seconds
            );
        }
        let duration = Duration::from_secs(self.lease_seconds);
        Ok(LeaseConfig {
            duration,
            renew_every: duration / 3,
            retry_every: Duration::from_secs(2).min(duration / 3),
            ..LeaseConfig::new(lease_ns, name, identity)
        })
    }
}

/// `turnout`, or `turnout-` and a short hash of what this instance serves.
pub fn lease_name(namespace: Option<&str>, selector: Option<&str>) -> String {
    if namespace.is_none() && selector.is_none() {
        return "turnout".to_string();
    }
    let key = format!("{}|{}", namespace.unwrap_or(""), selector.unwrap_or(""));
    let hash: String = Sha256::digest(key.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("turnout-{hash}")
}

fn host_name() -> anyhow::Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if name.is_empty() {
        anyhow::bail!("cannot tell this host's name; pass --identity");
    }
    Ok(name)
}

impl RunArgs {
    /// Runs the operator, driving the engine `engine` (`--engine`, else
    /// `DOCKER_HOST`) names, until a signal or the loss of the Lease.
    pub async fn run(self, engine: EngineFlags) -> anyhow::Result<ExitCode> {
        // kube's TLS needs one process-wide crypto provider; several crates bring rustls.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // One reconciler per host, whoever drives it (operator, standalone, apply).
        let _lock = HostLock::acquire(&self.state.dir.join("turnout.lock")).await?;
        let client = kube::Client::try_default().await?;
        let lease_cfg = self.lease.config(
            self.namespace.as_deref(),
            self.selector.as_deref(),
            client.default_namespace(),
        )?;
        let address = address::resolve_local(&engine, "run")?;
        let runtime = Arc::new(DockerRuntime::connect_to(address).await?);
        info!(engine = %runtime.describe(), "driving the Docker engine");
        let metrics = Arc::new(Metrics::new());
        let mut shared = Shared::with_metrics(metrics.clone());
        if !self.status_page {
            shared.page_off = Some(PAGE_OFF);
        }
        let shared = Arc::new(shared);
        let listen = self.listen;
        let listener = crate::http::bind(listen).await.map_err(|e| {
            anyhow::anyhow!("cannot listen on {listen}: {e}; pick another address with --listen")
        })?;
        tokio::spawn(crate::http::serve(listener, shared.clone()));
        if self.status_page {
            info!(%listen, "serving the status page, /status, /metrics, /healthz and /readyz");
        } else {
            info!(%listen, "serving /metrics, /healthz and /readyz (the status page is off; --status-page turns it on)");
        }
        self.lead(client, lease_cfg, runtime, shared).await
    }

    /// Takes the Lease, runs the controllers while it is held, and stops
    /// after the action under way when a signal comes or the Lease is lost.
    async fn lead(
        self,
        client: kube::Client,
        lease_cfg: LeaseConfig,
        runtime: Arc<DockerRuntime>,
        shared: Arc<Shared>,
    ) -> anyhow::Result<ExitCode> {
        let metrics = shared.metrics.clone();
        let RunArgs {
            namespace,
            selector,
            state,
            data,
            crash,
            status_page,
            ..
        } = self;
        let sync = data.switch_options();
        info!(lease = %lease_cfg.name, namespace = %lease_cfg.namespace, identity = %lease_cfg.identity, "taking the Lease");
        let signal = crate::shutdown::on_signal();
        let mut leader = tokio::select! {
            l = lease::acquire(client.clone(), lease_cfg) => l,
            _ = signal.cancelled() => {
                info!("stopped before leading");
                return Ok(ExitCode::SUCCESS);
            }
        };
        metrics.leader.set(1);

        let reconciler = kube_reconciler(&client, runtime, &state, &sync, crash.limit());
        let mut ctx = Context::new(client, reconciler, sync.clone())
            .with_selector(selector.clone())
            .with_metrics(metrics.clone());
        let (notifier, delivery) = crate::notify::Notifier::start(
            crate::notify::Delivery::default(),
            metrics.clone(),
            crate::notify::host_name(),
        );
        ctx = ctx.with_notifier(notifier);
        if status_page {
            ctx = ctx.with_views(shared);
        }
        let ctx = Arc::new(ctx);
        let controllers = futures::future::join(
            controller::run(ctx.clone(), namespace.clone(), selector),
            controller::datasync::run(ctx.clone(), namespace),
        );
        tokio::pin!(controllers);
        let lost = tokio::select! {
            _ = &mut controllers => None,
            lost = leader.lost() => Some(lost),
            _ = signal.cancelled() => {
                info!("signal received: finishing the action under way, starting no other");
                None
            }
        };
        if let Some(reason) = &lost {
            metrics.leader.set(0);
            error!(%reason, "lost the Lease: finishing the action under way, then stopping so another instance can lead");
        }
        // The action under way finishes (an abandoned copy or import would
        // leave a target half-written); no other starts.
        ctx.stop();
        // The host mutex is free only between changes; once it is held here
        // (until the process ends), nothing else can start.
        let _host = tokio::select! {
            _ = &mut controllers => None,
            g = ctx.host.lock() => Some(g),
        };
        delivery
            .finish(crate::notify::deliver::SHUTDOWN_GRACE)
            .await;
        if lost.is_some() {
            return Ok(ExitCode::FAILURE);
        }
        leader.release().await;
        metrics.leader.set(0);
        info!("released the Lease; stopped");
        Ok(ExitCode::SUCCESS)
    }
}

/// The reconciler of this host under Kubernetes: a switch's copy is a
/// DataSync, and everything else as in standalone mode.
fn kube_reconciler(
    client: &kube::Client,
    runtime: Arc<DockerRuntime>,
    state: &StateDir,
    sync: &crate::sync::run::SyncOptions,
    crash: crate::reconcile::CrashLimit,
) -> Reconciler<DockerRuntime, ProcHost> {
    let copier = KubeSwitchSync {
        client: client.clone(),
        runtime: runtime.clone(),
        options: sync.clone(),
    };
    Reconciler::new(
        runtime,
        ProcHost,
        SecretFiles::new(state.dir.join("secrets")),
    )
    .with_sync(Arc::new(copier), sync.state_dir.clone())
    .with_adoption_records(state.dir.join("adopted"))
    .with_rollback_records(&state.dir)
    .with_crash_limit(crash)
    .with_protected_dirs([
        state.dir.clone(),
        sync.state_dir.clone(),
        sync.backup_dir.clone(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_differ_by_what_an_instance_serves() {
        assert_eq!(lease_name(None, None), "turnout");
        let a = lease_name(None, Some("turnout.dev/host=a"));
        let b = lease_name(None, Some("turnout.dev/host=b"));
        let c = lease_name(Some("shop"), Some("turnout.dev/host=a"));
        assert!(a.starts_with("turnout-") && a.len() == "turnout-".len() + 8);
        assert!(a != b && a != c && b != c);
        assert_eq!(a, lease_name(None, Some("turnout.dev/host=a")));
    }
}
