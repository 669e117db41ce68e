//! `turnout run`: the Kubernetes operator for this host.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tracing::info;

use crate::controller::datasync::{KubeSwitchSync, OwnerSlot};
use crate::controller::{self, ClusterSecrets, Context};
use crate::host::ProcHost;
use crate::lock::HostLock;
use crate::reconcile::Reconciler;
use crate::runtime::docker::DockerRuntime;
use crate::secrets::SecretFiles;
use crate::standalone::Shared;
use crate::sync::run::SyncOptions;

pub async fn run(
    namespace: Option<String>,
    selector: Option<String>,
    listen: SocketAddr,
    state_dir: PathBuf,
    sync: SyncOptions,
) -> anyhow::Result<ExitCode> {
    // kube's TLS needs one process-wide crypto provider; several crates bring rustls.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // One reconciler per host, whoever drives it (operator, standalone, apply).
    let _lock = HostLock::acquire(&state_dir.join("turnout.lock")).await?;
    let client = kube::Client::try_default().await?;
    let runtime = Arc::new(DockerRuntime::connect().await?);
    let secrets = ClusterSecrets::default();
    let owner = OwnerSlot::default();
    let copier = KubeSwitchSync {
        client: client.clone(),
        runtime: runtime.clone(),
        secrets: secrets.clone(),
        options: sync.clone(),
        owner: owner.clone(),
    };
    let reconciler = Reconciler::new(
        runtime,
        ProcHost,
        SecretFiles::new(state_dir.join("secrets"), secrets.clone()),
    )
    .with_sync(Arc::new(copier), sync.state_dir.clone());
    let shared = Arc::new(Shared::default());
    let listener = crate::http::bind(listen).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {listen}: {e}; pick another address with --listen")
    })?;
    tokio::spawn(crate::http::serve(listener, shared));
    info!(%listen, "serving /metrics, /healthz and /readyz");
    let ctx = Arc::new(
        Context::new(client, reconciler, secrets, sync.clone(), owner)
            .with_selector(selector.clone()),
    );
    tokio::select! {
        _ = controller::run(ctx.clone(), namespace.clone(), selector) => {}
        _ = controller::datasync::run(ctx, namespace) => {}
        _ = tokio::signal::ctrl_c() => info!("interrupted; stopping"),
    }
    Ok(ExitCode::SUCCESS)
}
