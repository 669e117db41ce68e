//! The reconciler of a real host: its Docker engine, its listening sockets
//! (`/proc`), secret files under the state directory, and `syncOnSwitch`
//! through the engine. Standalone mode and `turnout apply` both drive it.

use std::path::Path;
use std::sync::Arc;

use crate::host::ProcHost;
use crate::reconcile::Reconciler;
use crate::runtime::docker::DockerRuntime;
use crate::secrets::SecretFiles;
use crate::sync::run::{EngineSwitchSync, SyncOptions};

pub fn engine_reconciler(
    runtime: Arc<DockerRuntime>,
    state_dir: &Path,
    sync: SyncOptions,
) -> Reconciler<DockerRuntime, ProcHost> {
    let intents = sync.state_dir.clone();
    let protected = [
        state_dir.to_path_buf(),
        sync.state_dir.clone(),
        sync.backup_dir.clone(),
    ];
    let copier = EngineSwitchSync {
        runtime: runtime.clone(),
        options: sync,
    };
    Reconciler::new(
        runtime,
        ProcHost,
        SecretFiles::new(state_dir.join("secrets")),
    )
    .with_sync(Arc::new(copier), intents)
    .with_adoption_records(state_dir.join("adopted"))
    .with_rollback_records(state_dir)
    .with_protected_dirs(protected)
}
