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

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use tracing::{debug, info, warn};
use turnout_crds::datasync::{DataSyncSpec, DataSyncStatus, SyncPhase, SyncStep};
use turnout_crds::validate::{validate_plan, validate_sync};
use turnout_crds::{DataSync, PortPlanSpec, VersionSelection};

use super::{ClusterSecrets, Context, ControllerError, apply_status};
use crate::core::Role;
use crate::host::HostPorts;
use crate::reconcile::{SwitchSync, SyncFailure};
use crate::runtime::ContainerRuntime;
use crate::runtime::stream::DataExec;
use crate::secrets::SecretResolver;
use crate::sync::run::{SyncOptions, execute_once, store_of};

/// Label naming the selection whose switch created a DataSync.
pub const LABEL_SELECTION: &str = "turnout.dev/selection";

/// The selection a switch copies for: where its DataSync lives and who owns it.
#[derive(Clone, Debug)]
pub struct SwitchOwner {
    pub namespace: String,
    pub selection: String,
    pub plan: String,
    pub reference: OwnerReference,
}

impl SwitchOwner {
    /// The owner of the DataSyncs `sel`'s switches create.
    pub fn of(sel: &VersionSelection) -> Option<SwitchOwner> {
        Some(SwitchOwner {
            namespace: sel.namespace()?,
            selection: sel.name_any(),
            plan: sel.spec.plan_ref.clone(),
            reference: sel.controller_owner_ref(&())?,
        })
    }
}

/// The selection being reconciled, set by the selection controller before
/// each reconcile (reconciles of one host never overlap).
pub type OwnerSlot = Arc<Mutex<Option<SwitchOwner>>>;

/// The operator's switch copier: each copy is a DataSync object owned by
/// the selection, executed here on the host's engine.
pub struct KubeSwitchSync<R> {
    pub client: Client,
    pub runtime: Arc<R>,
    pub secrets: ClusterSecrets,
    pub options: SyncOptions,
    pub owner: OwnerSlot,
}

impl<R: DataExec + 'static> SwitchSync for KubeSwitchSync<R> {
    fn has_data(&self, plan: &PortPlanSpec, from: &str, to: &str) -> bool {
        crate::sync::plan_steps("", plan, from, to).is_ok_and(|s| !s.is_empty())
    }

    fn sync<'a>(
        &'a self,
        name: &'a str,
        target: &'a crate::reconcile::Target,
        from: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SyncStep>, SyncFailure>> {
        let (plan, to) = (&target.plan, target.selection.active_version.as_str());
        Box::pin(async move {
            let owner = self
                .owner
                .lock()
                .ok()
                .and_then(|g| g.clone())
                .ok_or_else(|| SyncFailure::retry("no VersionSelection owns this switch"))?;
            let spec = DataSyncSpec {
                plan_ref: owner.plan.clone(),
                from: from.to_string(),
                to: to.to_string(),
                backup: true,
                allow_overwrite_newer: self.options.allow_overwrite_newer,
                force: false,
            };
            let api: Api<DataSync> = Api::namespaced(self.client.clone(), &owner.namespace);
            let ds = ensure(&api, name, spec, &owner).await?;
            let (status, _) = execute(
                &api,
                self.runtime.as_ref(),
                &self.secrets,
                &self.options,
                &ds,
                plan,
            )
            .await;
            match status.phase {
                Some(SyncPhase::Succeeded) => Ok(status.steps),
                _ => Err(SyncFailure::failed(
                    status
                        .message
                        .unwrap_or_else(|| format!("DataSync {name} failed")),
                )),
            }
        })
    }
}

/// Creates the DataSync `name` owned by `owner`, or returns the one that
/// exists (creating it again is a no-op). API trouble is retryable (the copy
/// has not begun). One that exists but belongs to another selection (say, a
/// deleted one of the same name whose DataSyncs are not yet
/// garbage-collected) waits for the collector; one that copies something
/// else is refused until someone deletes it.
pub async fn ensure(
    api: &Api<DataSync>,
    name: &str,
    spec: DataSyncSpec,
    owner: &SwitchOwner,
) -> Result<DataSync, SyncFailure> {
    let mut labels = std::collections::BTreeMap::new();
    // A label value holds at most 63 characters; the owner reference says it anyway.
    if owner.selection.len() <= 63 {
        labels.insert(LABEL_SELECTION.to_string(), owner.selection.clone());
    }
    let ds = DataSync {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(owner.namespace.clone()),
            owner_references: Some(vec![owner.reference.clone()]),
            labels: Some(labels),
            ..Default::default()
        },
        spec,
        status: None,
    };
    let existing = match api.create(&PostParams::default(), &ds).await {
        Ok(created) => {
            info!(datasync = name, "created DataSync");
            return Ok(created);
        }
        Err(kube::Error::Api(e)) if e.code == 409 => api
            .get(name)
            .await
            .map_err(|e| SyncFailure::retry(format!("cannot read DataSync {name}: {e}")))?,
        Err(e) => {
            return Err(SyncFailure::retry(format!(
                "cannot create DataSync {name}: {e}"
            )));
        }
    };
    let ours = existing
        .owner_references()
        .iter()
        .any(|o| o.uid == owner.reference.uid);
    if !ours {
        return Err(SyncFailure::retry(format!(
            "DataSync {name} exists but belongs to another VersionSelection (an earlier one of the same name?); it goes when that one is garbage-collected, or delete it"
        )));
    }
    if existing.spec.plan_ref != ds.spec.plan_ref
        || existing.spec.from != ds.spec.from
        || existing.spec.to != ds.spec.to
    {
        return Err(SyncFailure::failed(format!(
            "DataSync {name} exists and copies {} {} -> {}, not {} {} -> {}; delete it",
            existing.spec.plan_ref,
            existing.spec.from,
            existing.spec.to,
            ds.spec.plan_ref,
            ds.spec.from,
            ds.spec.to
        )));
    }
    Ok(existing)
}

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
    plan: &PortPlanSpec,
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
            execute_once(rt, secrets, opts, &key, plan, ds.spec.clone())
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

/// Whether the DataSync was created by a selection's switch (which runs it).
fn owned_by_selection(ds: &DataSync) -> bool {
    ds.owner_references()
        .iter()
        .any(|o| o.kind == "VersionSelection" && o.controller == Some(true))
}

/// Whether `ds` is finished: Succeeded, or Failed for its current spec.
fn finished(ds: &DataSync) -> bool {
    let Some(status) = &ds.status else {
        return false;
    };
    match status.phase {
        Some(SyncPhase::Succeeded) => true,
        Some(SyncPhase::Failed) => status.observed_generation == ds.metadata.generation,
        _ => false,
    }
}

/// One reconcile of a DataSync a person created: run it once, on the host
/// that serves its plan, while its target version is not running.
pub async fn reconcile<R: ContainerRuntime + DataExec, H: HostPorts>(
    ds: Arc<DataSync>,
    ctx: Arc<Context<R, H>>,
) -> Result<Action, ControllerError> {
    if finished(&ds) {
        return Ok(Action::await_change());
    }
    let ns = ds.namespace().unwrap_or_else(|| "default".to_string());
    let name = ds.name_any();
    if owned_by_selection(&ds) {
        return repair_switch_status(&ds, &ctx).await;
    }
    // Only the turnout that serves a selection of this plan runs it: that
    // is the host the plan's containers live on.
    let selections: Api<VersionSelection> = Api::namespaced(ctx.client.clone(), &ns);
    let mut lp = ListParams::default();
    if let Some(s) = &ctx.selector {
        lp = lp.labels(s);
    }
    let served = selections
        .list(&lp)
        .await?
        .items
        .iter()
        .any(|s| s.spec.plan_ref == ds.spec.plan_ref);
    if !served {
        // Its selection may be applied after it (or served elsewhere): look again later.
        debug!(datasync = %name, plan = %ds.spec.plan_ref, "not a plan this turnout serves (yet)");
        return Ok(Action::requeue(Duration::from_secs(60)));
    }
    let _host = ctx.host.lock().await;
    if ctx.stopping() {
        return Ok(Action::await_change());
    }
    // What the cache held may be older than a status written since.
    let api: Api<DataSync> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(ds) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    if finished(&ds) {
        return Ok(Action::await_change());
    }
    // Failed here for this very spec (its status write was lost): say so, do not run again.
    if let Some(stored) = store_of(&ctx.sync_options)
        .get(&store_key(&ds))
        .filter(|s| s.status.phase == Some(SyncPhase::Failed) && s.spec == ds.spec)
    {
        let status = DataSyncStatus {
            observed_generation: ds.metadata.generation,
            ..stored.status
        };
        apply_status(&api, &name, "DataSync", &status).await?;
        return Ok(Action::await_change());
    }
    let plan = ctx.load_plan(&ns, &ds.spec.plan_ref).await?;
    // The same rules as every other way in: a DataSync that breaks one
    // fails at once, before anything on the host is read or run.
    if let Some(problem) = invalid(&ds, &plan) {
        let status = DataSyncStatus {
            phase: Some(SyncPhase::Failed),
            message: Some(problem),
            observed_generation: ds.metadata.generation,
            ..Default::default()
        };
        apply_status(&api, &name, "DataSync", &status).await?;
        publish(&ctx, &ds, false, status.message).await;
        return Ok(Action::await_change());
    }
    let observed = ctx
        .reconciler
        .runtime
        .list()
        .await
        .map_err(|e| ControllerError::Host(e.to_string()))?;
    // Up in any way (running, restarting, paused): its data is in use.
    let busy = observed.iter().any(|o| {
        o.is_ours(&ds.spec.plan_ref)
            && o.state.is_up()
            && o.role() == Some(Role::Version(ds.spec.to.clone()))
    });
    if busy {
        let waiting = DataSyncStatus {
            phase: Some(SyncPhase::Pending),
            message: Some(format!(
                "waiting: version {} is running, and its data is not overwritten under it",
                ds.spec.to
            )),
            observed_generation: ds.metadata.generation,
            ..Default::default()
        };
        if ds.status.as_ref() != Some(&waiting) {
            apply_status(&api, &name, "DataSync", &waiting).await?;
        }
        return Ok(Action::requeue(Duration::from_secs(30)));
    }
    if ctx.stopping() {
        return Ok(Action::await_change());
    }
    let (done, write_error) = execute(
        &api,
        ctx.reconciler.runtime.as_ref(),
        &ctx.secrets,
        &ctx.sync_options,
        &ds,
        &plan,
    )
    .await;
    let ok = done.phase == Some(SyncPhase::Succeeded);
    publish(&ctx, &ds, ok, done.message).await;
    // A lost status write is retried (the host's record keeps the copy from running again).
    if let Some(e) = write_error {
        return Err(e.into());
    }
    Ok(Action::await_change())
}

/// Why `ds` may not run with `plan`: its name, the plan's rules, or the
/// sync's own (versions the plan has, bindings that can be copied).
fn invalid(ds: &DataSync, plan: &PortPlanSpec) -> Option<String> {
    let name = ds.name_any();
    if let Err(e) = turnout_crds::names::check_datasync_name(&name) {
        return Some(format!(
            "[InvalidName] DataSync {}: {e}; nothing was run",
            turnout_crds::names::shown(&name)
        ));
    }
    let violations: Vec<String> = validate_plan(plan)
        .into_iter()
        .map(|v| format!("PortPlan {}: {v}", ds.spec.plan_ref))
        .chain(
            validate_sync(plan, &ds.spec)
                .into_iter()
                .map(|v| v.to_string()),
        )
        .collect();
    (!violations.is_empty()).then(|| {
        format!(
            "[InvalidDataSync] {} rule(s) broken, nothing was run: {}",
            violations.len(),
            violations.join("; ")
        )
    })
}

/// The Event a finished DataSync leaves: `Synced` or `SyncFailed`.
async fn publish<R, H>(ctx: &Context<R, H>, ds: &DataSync, ok: bool, message: Option<String>) {
    let ev = Event {
        type_: if ok {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason: if ok { "Synced" } else { "SyncFailed" }.into(),
        note: message.map(|m| m.chars().take(1000).collect()),
        action: "Sync".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &ds.object_ref(&())).await {
        warn!(error = %e, "cannot publish an event");
    }
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
pub async fn run<R: ContainerRuntime + DataExec, H: HostPorts>(
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
