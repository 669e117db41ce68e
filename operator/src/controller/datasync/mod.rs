//! DataSync objects in Kubernetes.
//!
//! A switch's copy (`syncOnSwitch`) becomes a DataSync object named after
//! the selection, the switch and the spec's generation, owned by the
//! VersionSelection (so deleting the selection garbage-collects it). Creating
//! it again is a no-op, and one that Succeeded never runs again.
//!
//! DataSyncs a person (or a GitOps repository) creates are run by the
//! DataSync controller, on the host whose turnout serves a selection of the
//! DataSync's plan, once, and never while the target version runs.
//!
//! Status is written by server-side apply under turnout's field manager:
//! Pending, Running, then Succeeded or Failed with one step per binding.
//!
//! `switch.rs`: a switch's DataSync; `user.rs`: the controller of the ones
//! people create; here: running one at most once, and repairing a switch's
//! DataSync whose last status write was lost.

mod source;
mod switch;
mod user;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use tracing::{info, warn};
use turnout_crds::datasync::{DataSyncStatus, SyncPhase};
use turnout_crds::{DataSync, PortPlanSpec};

use super::{Context, ControllerError, apply_status};
use crate::host::HostPorts;
use crate::runtime::ContainerRuntime;
use crate::runtime::stream::{DataExec, ReachOut};
use crate::secrets::SecretResolver;
use crate::sync::run::{SourceEnv, SourceProblem, SyncOptions, execute_once_from, store_of};

pub use switch::{KubeSwitchSync, LABEL_SELECTION, SwitchOwner, ensure};
use user::finished;
pub use user::reconcile;

/// The key of a DataSync in the host's local record of syncs: namespace,
/// name and UID, so a DataSync deleted and created again is a new one. A
/// key longer than a DataSync name may be is shortened with a hash of the whole.
fn store_key(ds: &DataSync) -> String {
    use sha2::{Digest, Sha256};
    let mut key = format!(
        "{}.{}",
        ds.namespace().unwrap_or_else(|| "default".into()),
        ds.name_any()
    );
    if let Some(uid) = &ds.metadata.uid {
        key.push('.');
        key.push_str(uid);
    }
    // Within a DataSync name's 253 characters; the store shortens long
    // ones for the file system.
    if key.len() > 240 {
        let hash = crate::sync::db::hex(&Sha256::digest(key.as_bytes())[..12]);
        key.truncate(200);
        while key.ends_with(['.', '-']) {
            key.pop();
        }
        key.push('-');
        key.push_str(&hash);
    }
    key
}

/// Runs `ds` unless it already Succeeded, writing its status (Running, then
/// the result) to the API. Idempotent twice over: a Succeeded object is
/// returned as it is, and the host's own record keeps a sync that succeeded
/// but whose status write was lost from running again. Returns the status
/// and, when writing it failed, why.
pub async fn execute<R: DataExec, S: SecretResolver>(
    api: &Api<DataSync>,
    rt: &R,
    secrets: &S,
    opts: &SyncOptions,
    ds: &DataSync,
    (plan, source): (&PortPlanSpec, Result<Option<SourceEnv>, SourceProblem>),
) -> (DataSyncStatus, Option<kube::Error>) {
    if let Some(s) = ds
        .status
        .as_ref()
        .filter(|s| s.phase == Some(SyncPhase::Succeeded))
    {
        return (s.clone(), None);
    }
    let name = ds.name_any();
    let key = store_key(ds);
    let done_before = store_of(opts)
        .get(&key)
        .filter(|s| s.status.phase == Some(SyncPhase::Succeeded) && s.spec == ds.spec);
    let status = match done_before {
        // It ran here already; only its status was lost.
        Some(stored) => stored.status,
        None => {
            let running = DataSyncStatus {
                phase: Some(SyncPhase::Running),
                message: Some(format!(
                    "copying the data of {} into {}",
                    ds.spec.from, ds.spec.to
                )),
                observed_generation: ds.metadata.generation,
                ..Default::default()
            };
            if let Err(e) = apply_status(api, &name, "DataSync", &running).await {
                warn!(datasync = %name, error = %e, "cannot write the DataSync's status");
            }
            info!(datasync = %name, from = %ds.spec.from, to = %ds.spec.to, "running DataSync");
            execute_once_from(rt, secrets, opts, &key, (plan, source), ds.spec.clone())
                .await
                .status
        }
    };
    let status = DataSyncStatus {
        observed_generation: ds.metadata.generation,
        ..status
    };
    info!(datasync = %name, phase = ?status.phase, message = status.message.as_deref().unwrap_or(""), "DataSync finished");
    let written = apply_status(api, &name, "DataSync", &status).await.err();
    if let Some(e) = &written {
        warn!(datasync = %name, error = %e, "cannot write the DataSync's status");
    }
    (status, written)
}

/// A switch's DataSync is run by its selection's reconcile. If the status
/// write at its end was lost, the object would say Running forever: once the
/// host is free (no copy under way), the host's record of the finished copy
/// is written instead.
async fn repair_switch_status<R: ContainerRuntime, H: HostPorts>(
    ds: &DataSync,
    ctx: &Context<R, H>,
) -> Result<Action, ControllerError> {
    let ns = ds.namespace().unwrap_or_else(|| "default".to_string());
    let name = ds.name_any();
    let _host = ctx.host.lock().await;
    let api: Api<DataSync> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(fresh) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    if finished(&fresh) {
        return Ok(Action::await_change());
    }
    let recorded = store_of(&ctx.sync_options)
        .get(&store_key(&fresh))
        .filter(|s| {
            s.spec == fresh.spec
                && matches!(
                    s.status.phase,
                    Some(SyncPhase::Succeeded | SyncPhase::Failed)
                )
        });
    if let Some(stored) = recorded {
        let status = DataSyncStatus {
            observed_generation: fresh.metadata.generation,
            ..stored.status
        };
        apply_status(&api, &name, "DataSync", &status).await?;
    }
    Ok(Action::await_change())
}

fn error_policy<R, H>(_: Arc<DataSync>, e: &ControllerError, _: Arc<Context<R, H>>) -> Action {
    warn!(error = %e, "DataSync reconcile failed");
    Action::requeue(Duration::from_secs(10))
}

/// Runs the DataSync controller until the stream ends.
pub async fn run<R: ContainerRuntime + DataExec + ReachOut, H: HostPorts>(
    ctx: Arc<Context<R, H>>,
    namespace: Option<String>,
) {
    let api: Api<DataSync> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    Controller::new(api, watcher::Config::default())
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                warn!(error = %e, "DataSync controller");
            }
        })
        .await;
}
