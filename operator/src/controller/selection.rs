//! The VersionSelection controller's reconcile, as named steps:
//! dereference (plan and secrets) -> target -> reconcile the host (holding
//! it) -> write status -> publish Events -> decide when to look again.
//! Deleting a selection runs [`cleanup`] behind a finalizer.

use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::info;
use turnout_crds::VersionSelection;
use turnout_crds::selection::VersionSelectionStatus;

use super::events::{Collect, publish, publish_actions};
use super::status::apply_status;
use super::{Context, ControllerError, backoff, dereference, key_of};
use crate::core::target::{Owner, SecretValues, Target};
use crate::host::HostPorts;
use crate::reconcile::{Outcome, Run};
use crate::runtime::ContainerRuntime;
use crate::status::status_of;

/// The finalizer that lets `onDelete` act before a selection disappears.
pub const FINALIZER: &str = "turnout.dev/cleanup";

/// What one reconcile converges to: the selection, its plan, the secret
/// values read for it and its place in the cluster.
fn target_of(
    sel: &VersionSelection,
    plan: turnout_crds::PortPlanSpec,
    secrets: crate::core::target::SecretMap,
) -> Target {
    Target {
        plan_name: sel.spec.plan_ref.clone(),
        plan,
        selection_name: sel.name_any(),
        selection: sel.spec.clone(),
        generation: sel.metadata.generation,
        owner: Some(Owner {
            namespace: sel.namespace().unwrap_or_else(|| "default".to_string()),
            uid: sel.uid().unwrap_or_default(),
        }),
        secrets: SecretValues::Cluster(Arc::new(secrets)),
        adopt: false,
    }
}

/// Whether the selection's last status said Ready for its current spec.
fn was_converged(sel: &VersionSelection) -> bool {
    sel.status.as_ref().is_some_and(|s| {
        s.observed_generation == sel.metadata.generation
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// One reconcile of one selection.
pub async fn reconcile<R: ContainerRuntime, H: HostPorts>(
    sel: Arc<VersionSelection>,
    ctx: Arc<Context<R, H>>,
) -> Result<Action, ControllerError> {
    let ns = sel.namespace().unwrap_or_else(|| "default".to_string());
    let host = ctx.host.lock().await;
    if ctx.stopping() {
        return Ok(Action::await_change());
    }
    let (plan, secrets) = dereference::load_plan_for(
        &ctx.client,
        &ns,
        &sel.spec.plan_ref,
        &sel.spec.notifications,
    )
    .await?;
    let target = target_of(&sel, plan, secrets);
    let collected = Collect::default();
    let progress = crate::notify::Notifying {
        inner: &collected,
        notifier: ctx.notifier.as_ref(),
        target: &target,
    };
    let started = std::time::Instant::now();
    let outcome = ctx
        .reconciler
        .reconcile(&target, &Run::new(&progress, ctx.cancel.clone()))
        .await;
    // The host is free again: what follows only talks to the API server, and
    // a slow API must not hold up a shutdown waiting for the host.
    drop(host);
    ctx.metrics
        .observe(&outcome, started.elapsed(), was_converged(&sel));
    let status = status_of(&target, &outcome, sel.status.as_ref());
    if let Some(n) = &ctx.notifier {
        n.after_reconcile(
            &target,
            sel.status.as_ref(),
            &status,
            &outcome,
            was_converged(&sel),
        );
    }
    show(&ctx, &key_of(&sel), &target, &status, &outcome);
    let selections: Api<VersionSelection> = Api::namespaced(ctx.client.clone(), &ns);
    apply_status(&selections, &sel.name_any(), "VersionSelection", &status).await?;
    report(&ctx, &sel, collected.take(), &status).await;
    Ok(next(&ctx, &key_of(&sel), &outcome))
}

/// The status page's view of the selection (`turnout run --listen`): the
/// document `/status` serves in standalone mode. DataSyncs are objects of
/// the cluster (`kubectl get datasyncs`) and are not repeated here.
fn show<R, H>(
    ctx: &Context<R, H>,
    key: &str,
    target: &Target,
    status: &VersionSelectionStatus,
    outcome: &Outcome,
) {
    let Some(views) = &ctx.views else { return };
    let data = match crate::sync::record::Records::load(&ctx.sync_options.state_dir) {
        Ok(r) => r.entries,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the data records for the status page");
            Default::default()
        }
    };
    let doc = crate::status::StandaloneStatus {
        file: format!("VersionSelection {key}"),
        plan: target.plan_name.clone(),
        selection: key.to_string(),
        desired_version: target.selection.active_version.clone(),
        file_error: None,
        refused_edit: None,
        updated_at: jiff::Timestamp::now().to_string(),
        status: status.clone(),
        data_syncs: Vec::new(),
        applied_revision: None,
        data,
        blockers: crate::status::blockers_of(outcome),
        engine: None,
    };
    views.publish(key, doc, target.plan.clone());
}

/// Events: each action, and why the selection is not Ready.
async fn report<R, H>(
    ctx: &Context<R, H>,
    sel: &VersionSelection,
    actions: Vec<(crate::core::Action, Option<String>)>,
    status: &VersionSelectionStatus,
) {
    let reference = sel.object_ref(&());
    publish_actions(&ctx.recorder, &reference, actions).await;
    if let Some(c) = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready" && c.status != "True")
    {
        publish(
            &ctx.recorder,
            &reference,
            true,
            &c.reason,
            "Reconcile",
            &c.message,
        )
        .await;
    }
}

/// When to look at the selection again, after `outcome`.
fn next<R, H>(ctx: &Context<R, H>, key: &str, outcome: &Outcome) -> Action {
    match outcome {
        // An invalid spec waits for a change; nothing on the host moved.
        Outcome::Invalid(_) => {
            ctx.succeeded(key);
            Action::await_change()
        }
        Outcome::Applied(a) if a.converged() => {
            ctx.succeeded(key);
            Action::requeue(Duration::from_secs(60))
        }
        // The engine unreachable or an action failed: back off like any other trouble.
        Outcome::Unobserved(_) => Action::requeue(backoff(ctx.failed(key))),
        Outcome::Applied(a) if a.error.is_some() => Action::requeue(backoff(ctx.failed(key))),
        // Something in the way (a foreign listener, a missing image): look
        // again soon, backing off a little.
        Outcome::Blocked { .. } => {
            Action::requeue(backoff(ctx.failed(key)).min(Duration::from_secs(30)))
        }
        // Paused, or still becoming ready.
        _ => {
            ctx.succeeded(key);
            Action::requeue(Duration::from_secs(5))
        }
    }
}

/// Deleting a selection: with `onDelete: Stop` its plan's managed
/// containers are stopped (never removed; volumes are never touched); with
/// `Keep` (the default) the host is left as it is.
pub async fn cleanup<R: ContainerRuntime, H: HostPorts>(
    sel: Arc<VersionSelection>,
    ctx: Arc<Context<R, H>>,
) -> Result<Action, ControllerError> {
    if let Some(views) = &ctx.views {
        views.forget(&key_of(&sel));
    }
    if sel.spec.on_delete != turnout_crds::selection::OnDelete::Stop {
        ctx.succeeded(&key_of(&sel));
        return Ok(Action::await_change());
    }
    let _host = ctx.host.lock().await;
    if ctx.stopping() {
        // The finalizer stays: the next turnout stops the containers.
        return Err(ControllerError::ShuttingDown);
    }
    let rt = &ctx.reconciler.runtime;
    let observed = rt.list().await.map_err(ControllerError::Host)?;
    let reference = sel.object_ref(&());
    for c in observed
        .iter()
        .filter(|c| c.is_ours(&sel.spec.plan_ref) && c.state.is_up())
    {
        if ctx.stopping() {
            return Err(ControllerError::ShuttingDown);
        }
        info!(container = %c.name, "onDelete: Stop");
        rt.stop(&c.name, turnout_crds::plan::DEFAULT_STOP_TIMEOUT_SECONDS)
            .await
            .map_err(ControllerError::Host)?;
        let note = format!(
            "stop {}: the selection was deleted with onDelete: Stop",
            c.name
        );
        publish(&ctx.recorder, &reference, false, "Stopping", "stop", &note).await;
    }
    ctx.succeeded(&key_of(&sel));
    Ok(Action::await_change())
}

/// The controller's reconcile: [`reconcile`] behind the finalizer, [`cleanup`] on delete.
pub async fn reconcile_with_finalizer<R: ContainerRuntime, H: HostPorts>(
    sel: Arc<VersionSelection>,
    ctx: Arc<Context<R, H>>,
) -> Result<Action, kube::runtime::finalizer::Error<ControllerError>> {
    use kube::runtime::finalizer::{Event as Finalizer, finalizer};
    let ns = sel.namespace().unwrap_or_else(|| "default".to_string());
    let api: Api<VersionSelection> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, sel, |event| async {
        match event {
            Finalizer::Apply(s) => reconcile(s, ctx.clone()).await,
            Finalizer::Cleanup(s) => cleanup(s, ctx.clone()).await,
        }
    })
    .await
}
