//! DataSyncs a person (or a GitOps repository) creates: run once, on the
//! host whose turnout serves a selection of their plan, never while their
//! target version runs, and only if they pass the same rules as every other
//! way in. The reconcile reads as its steps: served here? -> hold the host
//! -> read afresh -> recorded here already? -> plan and secrets -> rules ->
//! target version up? -> run -> report.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::debug;
use turnout_crds::datasync::{DataSyncStatus, SyncPhase};
use turnout_crds::validate::{validate_plan, validate_sync};
use turnout_crds::{DataSync, PortPlanSpec, VersionSelection};

use super::{execute, repair_switch_status, source, store_key};
use crate::controller::events::publish;
use crate::controller::{Context, ControllerError, apply_status, load_plan};
use crate::core::target::{SecretMap, SecretValues};
use crate::host::HostPorts;
use crate::notify::{FinishedSync, SinkList};
use crate::runtime::ContainerRuntime;
use crate::runtime::stream::{DataExec, ReachOut};
use crate::secrets::ClusterSecrets;
use crate::sync::run::{SourceProblem, store_of};

/// Whether the DataSync was created by a selection's switch (which runs it).
fn owned_by_selection(ds: &DataSync) -> bool {
    ds.owner_references()
        .iter()
        .any(|o| o.kind == "VersionSelection" && o.controller == Some(true))
}

/// Whether `ds` is finished: Succeeded, or Failed for its current spec.
pub(super) fn finished(ds: &DataSync) -> bool {
    let Some(status) = &ds.status else {
        return false;
    };
    match status.phase {
        Some(SyncPhase::Succeeded) => true,
        Some(SyncPhase::Failed) => status.observed_generation == ds.metadata.generation,
        _ => false,
    }
}

/// One reconcile of a DataSync: run it once, on the host that serves its
/// plan, while its target version is not running.
pub async fn reconcile<R: ContainerRuntime + DataExec + ReachOut, H: HostPorts>(
    ds: Arc<DataSync>,
    ctx: Arc<Context<R, H>>,
) -> Result<Action, ControllerError> {
    if finished(&ds) {
        return Ok(Action::await_change());
    }
    if owned_by_selection(&ds) {
        return repair_switch_status(&ds, &ctx).await;
    }
    if !served_here(&ctx, &ds).await? {
        // Its selection may be applied after it (or served elsewhere): look again later.
        debug!(datasync = %ds.name_any(), plan = %ds.spec.plan_ref, "not a plan this turnout serves (yet)");
        return Ok(Action::requeue(Duration::from_secs(60)));
    }
    let _host = ctx.host.lock().await;
    if ctx.stopping() {
        return Ok(Action::await_change());
    }
    let api: Api<DataSync> = Api::namespaced(ctx.client.clone(), &namespace(&ds));
    // What the cache held may be older than a status written since.
    let Some(ds) = api.get_opt(&ds.name_any()).await? else {
        return Ok(Action::await_change());
    };
    if finished(&ds) || recorded_failure(&ctx, &api, &ds).await? {
        return Ok(Action::await_change());
    }
    let (plan, secrets) = load_plan(&ctx.client, &namespace(&ds), &ds.spec.plan_ref).await?;
    // The same rules as every other way in: a DataSync that breaks one
    // fails at once, before anything on the host is read or run.
    if let Some(problem) = invalid(&ds, &plan) {
        let status = failed(&ds, problem);
        apply_status(&api, &ds.name_any(), "DataSync", &status).await?;
        report(&ctx, &ds, &status).await;
        tell(&ctx, &ds, (&plan, &secrets), &status);
        return Ok(Action::await_change());
    }
    if let Some(wait) = wait_while_target_runs(&ctx, &api, &ds).await? {
        return Ok(wait);
    }
    if ctx.stopping() {
        return Ok(Action::await_change());
    }
    run(&ctx, &api, &ds, &plan, &secrets).await
}

fn namespace(ds: &DataSync) -> String {
    ds.namespace().unwrap_or_else(|| "default".to_string())
}

/// Only the turnout that serves a selection of the DataSync's plan runs
/// it: that is the host the plan's containers live on.
async fn served_here<R, H>(ctx: &Context<R, H>, ds: &DataSync) -> Result<bool, ControllerError> {
    let selections: Api<VersionSelection> = Api::namespaced(ctx.client.clone(), &namespace(ds));
    let mut lp = ListParams::default();
    if let Some(s) = &ctx.selector {
        lp = lp.labels(s);
    }
    Ok(selections
        .list(&lp)
        .await?
        .items
        .iter()
        .any(|s| s.spec.plan_ref == ds.spec.plan_ref))
}

/// Failed here for this very spec (its status write was lost): the record
/// is written, and it does not run again.
async fn recorded_failure<R, H>(
    ctx: &Context<R, H>,
    api: &Api<DataSync>,
    ds: &DataSync,
) -> Result<bool, ControllerError> {
    let Some(stored) = store_of(&ctx.sync_options)
        .get(&store_key(ds))
        .filter(|s| s.status.phase == Some(SyncPhase::Failed) && s.spec == ds.spec)
    else {
        return Ok(false);
    };
    let status = DataSyncStatus {
        observed_generation: ds.metadata.generation,
        ..stored.status
    };
    apply_status(api, &ds.name_any(), "DataSync", &status).await?;
    Ok(true)
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

fn failed(ds: &DataSync, message: String) -> DataSyncStatus {
    DataSyncStatus {
        phase: Some(SyncPhase::Failed),
        message: Some(message),
        observed_generation: ds.metadata.generation,
        ..Default::default()
    }
}

/// While a container of the target version is up, the DataSync waits as
/// Pending (its data is never overwritten under it) and is looked at again.
async fn wait_while_target_runs<R: ContainerRuntime, H>(
    ctx: &Context<R, H>,
    api: &Api<DataSync>,
    ds: &DataSync,
) -> Result<Option<Action>, ControllerError> {
    let observed = ctx
        .reconciler
        .runtime
        .list()
        .await
        .map_err(ControllerError::Host)?;
    if crate::core::version_up(&observed, &ds.spec.plan_ref, &ds.spec.to).is_empty() {
        return Ok(None);
    }
    let waiting = DataSyncStatus {
        phase: Some(SyncPhase::Pending),
        message: Some(crate::core::switch::waiting_for(&ds.spec.to)),
        observed_generation: ds.metadata.generation,
        ..Default::default()
    };
    if ds.status.as_ref() != Some(&waiting) {
        apply_status(api, &ds.name_any(), "DataSync", &waiting).await?;
    }
    Ok(Some(Action::requeue(Duration::from_secs(30))))
}

/// Runs the DataSync and reports how it ended. A source in another
/// environment is read first (its plan and secrets from this namespace,
/// its engine reached); trouble there fails the DataSync, saying why.
async fn run<R: DataExec + ReachOut, H>(
    ctx: &Context<R, H>,
    api: &Api<DataSync>,
    ds: &DataSync,
    plan: &PortPlanSpec,
    secrets: &SecretMap,
) -> Result<Action, ControllerError> {
    let rt = ctx.reconciler.runtime.as_ref();
    let opts = &ctx.sync_options;
    let (done, write_error) = match &ds.spec.source {
        None => {
            let secrets = ClusterSecrets(secrets);
            execute(api, rt, &secrets, opts, ds, (plan, Ok(None))).await
        }
        Some(src) => {
            let ns = namespace(ds);
            match source::read(&ctx.client, &ns, src, &opts.state_dir).await {
                Err(e) => {
                    let e = Err(SourceProblem::Invalid(e));
                    execute(api, rt, &ClusterSecrets(secrets), opts, ds, (plan, e)).await
                }
                Ok(found) => {
                    // One namespace: the two plans' Secrets merge without clashing.
                    let mut all = secrets.clone();
                    all.extend(found.secrets);
                    let all = ClusterSecrets(&all);
                    // This very engine, named again, is no other engine.
                    let same = found
                        .engine
                        .as_ref()
                        .is_some_and(|a| Some(a.identity()) == rt.identity());
                    let mut env = found.env;
                    if same {
                        env.engine = None;
                    }
                    let env = Ok(Some(env));
                    match found.engine.filter(|_| !same) {
                        None => execute(api, rt, &all, opts, ds, (plan, env)).await,
                        Some(address) => match rt.with_source(address).await {
                            Ok(both) => execute(api, &both, &all, opts, ds, (plan, env)).await,
                            Err(e) => {
                                let why = format!("cannot reach the source's engine: {e}");
                                let e = Err(SourceProblem::Unreachable(why));
                                execute(api, rt, &all, opts, ds, (plan, e)).await
                            }
                        },
                    }
                }
            }
        }
    };
    // A source engine that did not answer: looked at again, no Event yet.
    if done.phase == Some(SyncPhase::Pending) {
        return match write_error {
            Some(e) => Err(e.into()),
            None => Ok(Action::requeue(Duration::from_secs(60))),
        };
    }
    report(ctx, ds, &done).await;
    tell(ctx, ds, (plan, secrets), &done);
    // A lost status write is retried (the host's record keeps the copy from running again).
    if let Some(e) = write_error {
        return Err(e.into());
    }
    Ok(Action::await_change())
}

/// The Event a finished DataSync leaves: `Synced` or `SyncFailed`.
async fn report<R, H>(ctx: &Context<R, H>, ds: &DataSync, status: &DataSyncStatus) {
    let ok = status.phase == Some(SyncPhase::Succeeded);
    let note = status.message.clone().unwrap_or_default();
    let (reason, regarding) = (if ok { "Synced" } else { "SyncFailed" }, ds.object_ref(&()));
    publish(&ctx.recorder, &regarding, !ok, reason, "Sync", &note).await;
}

/// Hands a finished attempt to the notifier: a failure goes to the sinks
/// of the DataSync's PortPlan (their URLs from the Secrets read with it),
/// the DataSync named `namespace/name`.
fn tell<R, H>(
    ctx: &Context<R, H>,
    ds: &DataSync,
    (plan, secrets): (&PortPlanSpec, &SecretMap),
    status: &DataSyncStatus,
) {
    let Some(n) = &ctx.notifier else { return };
    let name = ds.name_any();
    let finished = FinishedSync {
        key: &store_key(ds),
        selection: format!("{}/{name}", namespace(ds)),
        plan: &ds.spec.plan_ref,
        name: &name,
        spec: &ds.spec,
        status,
    };
    let secrets = SecretValues::Cluster(Arc::new(secrets.clone()));
    n.data_sync_finished(&finished, &SinkList::of_plan(plan, &secrets));
}
