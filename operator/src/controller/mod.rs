//! The Kubernetes driver (`turnout run`): a kube-rs controller for
//! VersionSelection that drives the same reconcile as standalone mode against
//! this host's Docker engine, and reports status with server-side apply.
//!
//! One room per step: `dereference.rs` reads the plan and the Secrets it
//! names (named `get`s only, never a list or watch), `selection.rs` is the
//! reconcile, `status.rs` writes status, `events.rs` publishes Events,
//! `datasync/` runs DataSyncs, `lease.rs` elects a leader.

pub mod datasync;
pub mod dereference;
pub mod events;
pub mod lease;
pub mod selection;
pub mod status;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use turnout_crds::{PortPlan, VersionSelection};

use crate::host::HostPorts;
use crate::metrics::Metrics;
use crate::reconcile::Reconciler;
use crate::runtime::settle::settled_events;
use crate::runtime::{ContainerRuntime, RuntimeError};
use crate::sync::run::SyncOptions;

pub use dereference::{load_plan, load_plan_for, secret_refs};
pub use events::recorder;
pub use selection::{FINALIZER, cleanup, reconcile, reconcile_with_finalizer};
pub use status::{FIELD_MANAGER, apply_status};

/// Why reconciling one selection failed; the reason is the variant's `strum` name.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
pub enum ControllerError {
    #[error(
        "PortPlan {plan} does not exist in namespace {namespace}; create it or fix spec.planRef"
    )]
    PlanMissing { plan: String, namespace: String },
    #[error("reading Secret {name}: {source}")]
    #[strum(serialize = "SecretUnavailable")]
    Secret {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("the Kubernetes API: {0}")]
    #[strum(serialize = "ApiError")]
    Kube(#[from] kube::Error),
    #[error("the host: {0}")]
    Host(#[source] RuntimeError),
    #[error("turnout is shutting down; the next turnout finishes this")]
    #[strum(serialize = "Interrupted")]
    ShuttingDown,
}

impl ControllerError {
    /// A stable name for metrics and condition reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            ControllerError::Host(e) => e.reason(),
            other => other.into(),
        }
    }
}

/// What a controller needs to reconcile.
pub struct Context<R, H> {
    pub client: Client,
    pub reconciler: Reconciler<R, H>,
    pub recorder: Recorder,
    /// How DataSyncs run on this host.
    pub sync_options: SyncOptions,
    /// The label selector of the selections this turnout serves.
    pub selector: Option<String>,
    /// Held for each reconcile and DataSync: one host, one change at a time.
    pub host: tokio::sync::Mutex<()>,
    /// What `/metrics` serves.
    pub metrics: Arc<Metrics>,
    /// Cancelled on shutdown: no action starts after it.
    pub cancel: CancellationToken,
    /// Where the notifications of selections and DataSyncs go (none: not sent).
    pub notifier: Option<crate::notify::Notifier>,
    /// Where each selection's latest status goes for the status page
    /// (`turnout run --listen`); None: nowhere.
    pub views: Option<Arc<crate::http::Shared>>,
    /// Consecutive failed reconciles per selection (namespace/name), for backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl<R, H> Context<R, H> {
    pub fn new(client: Client, reconciler: Reconciler<R, H>, sync_options: SyncOptions) -> Self {
        Context {
            recorder: recorder(client.clone()),
            client,
            reconciler,
            sync_options,
            selector: None,
            host: tokio::sync::Mutex::new(()),
            metrics: Arc::default(),
            cancel: CancellationToken::new(),
            notifier: None,
            views: None,
            failures: Mutex::default(),
        }
    }

    /// Shutdown: the action under way finishes, no other starts (in any
    /// reconcile or DataSync, running or waiting for the host).
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Whether [`Context::stop`] was called.
    pub fn stopping(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Records one more failure of `key`; returns how many in a row.
    fn failed(&self, key: &str) -> u32 {
        let mut g = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = g.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Publish each selection's status to the status page served from `shared`.
    pub fn with_views(mut self, shared: Arc<crate::http::Shared>) -> Self {
        self.views = Some(shared);
        self
    }

    /// Count reconciles into `metrics` (the ones `/metrics` serves).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Send the selections' notifications through `notifier`.
    pub fn with_notifier(mut self, notifier: crate::notify::Notifier) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Serve only the selections matching this label selector.
    pub fn with_selector(mut self, selector: Option<String>) -> Self {
        self.selector = selector;
        self
    }
}

/// How long to wait after the `n`-th failure in a row: 5 s, doubling, at most 5 minutes.
pub fn backoff(n: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << n.saturating_sub(1).min(16));
    Duration::from_secs(secs.min(300))
}

/// API and engine trouble back off exponentially per selection (5 s,
/// doubling, at most 5 minutes; a success starts again at 5 s). A missing
/// plan is looked for again every 30 s at least (it may be applied next).
/// An invalid spec never gets here: it waits for a change.
pub fn error_policy<R, H>(
    sel: Arc<VersionSelection>,
    e: &kube::runtime::finalizer::Error<ControllerError>,
    ctx: Arc<Context<R, H>>,
) -> Action {
    use kube::runtime::finalizer::Error as F;
    let n = ctx.failed(&key_of(&sel));
    let wait = match e {
        F::ApplyFailed(ControllerError::PlanMissing { .. }) => {
            backoff(n).max(Duration::from_secs(30))
        }
        _ => backoff(n),
    };
    warn!(error = %e, failures = n, retry_in_s = wait.as_secs(), "reconcile failed");
    Action::requeue(wait)
}

fn key_of(sel: &VersionSelection) -> String {
    format!("{}/{}", sel.namespace().unwrap_or_default(), sel.name_any())
}

/// Runs the VersionSelection controller until the stream ends. A change of
/// a PortPlan reconciles the selections that reference it (an invalid plan
/// that is fixed converges at once, not at the next periodic requeue).
pub async fn run<R: ContainerRuntime, H: HostPorts>(
    ctx: Arc<Context<R, H>>,
    namespace: Option<String>,
    selector: Option<String>,
) {
    let (api, plans): (Api<VersionSelection>, Api<PortPlan>) = match &namespace {
        Some(ns) => (
            Api::namespaced(ctx.client.clone(), ns),
            Api::namespaced(ctx.client.clone(), ns),
        ),
        None => (Api::all(ctx.client.clone()), Api::all(ctx.client.clone())),
    };
    let mut config = watcher::Config::default();
    if let Some(s) = &selector {
        config = config.labels(s);
    }
    info!(
        namespace = namespace.as_deref().unwrap_or("all"),
        selector = selector.as_deref().unwrap_or(""),
        "watching VersionSelections"
    );
    let controller = Controller::new(api, config);
    let selections = controller.store();
    let engine = engine_triggers(ctx.reconciler.runtime.clone(), controller.store());
    controller
        .watches(plans, watcher::Config::default(), move |plan: PortPlan| {
            selections_of(&selections.state(), &plan)
        })
        .reconcile_on(engine)
        .run(selection::reconcile_with_finalizer, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                warn!(error = %e, "controller");
            }
        })
        .await;
}

/// Engine events as reconcile requests: an event about a container turnout
/// runs for plan P wakes the selections of P this turnout serves (a
/// container started, stopped or crashed by hand is put back at once, not
/// at the next periodic requeue). When the engine's event stream ends
/// (the engine restarted), every selection is reconciled: events may have
/// been lost. `die` events are settled first ([`settled_events`]).
fn engine_triggers<R: ContainerRuntime>(
    runtime: Arc<R>,
    store: Store<VersionSelection>,
) -> impl futures::Stream<Item = ObjectRef<VersionSelection>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    tokio::spawn(async move {
        // While the engine is away the stream ends at once: back off, so a
        // down engine is not a reconcile storm.
        let mut delay = Duration::from_millis(500);
        loop {
            let since = tokio::time::Instant::now();
            let mut events = settled_events(runtime.clone());
            while let Some(Ok(e)) = events.next().await {
                let Some(plan) = e.plan else { continue };
                for r in selections_of_plan(&store.state(), &plan) {
                    if tx.send(r).await.is_err() {
                        return;
                    }
                }
            }
            warn!("lost the engine's event stream; reconciling every selection");
            for s in store.state() {
                if tx.send(ObjectRef::from_obj(s.as_ref())).await.is_err() {
                    return;
                }
            }
            if since.elapsed() > Duration::from_secs(30) {
                delay = Duration::from_millis(500);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// The selections (among `known`) whose plan is named `plan`.
pub fn selections_of_plan(
    known: &[Arc<VersionSelection>],
    plan: &str,
) -> Vec<ObjectRef<VersionSelection>> {
    known
        .iter()
        .filter(|s| s.spec.plan_ref == plan)
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

/// The selections (among `known`) that reference `plan`.
pub fn selections_of(
    known: &[Arc<VersionSelection>],
    plan: &PortPlan,
) -> Vec<ObjectRef<VersionSelection>> {
    known
        .iter()
        .filter(|s| s.namespace() == plan.namespace() && s.spec.plan_ref == plan.name_any())
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_up_to_five_minutes() {
        let waits: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX).as_secs(), 300);
        assert_eq!(backoff(0).as_secs(), 5);
    }

    #[test]
    fn a_plan_change_reaches_the_selections_that_reference_it() {
        let sel = |ns: &str, name: &str, plan: &str| {
            let mut s = VersionSelection::new(
                name,
                serde_json::from_value(serde_json::json!({"planRef": plan, "activeVersion": "a"}))
                    .unwrap_or_else(|e| panic!("{e}")),
            );
            s.metadata.namespace = Some(ns.to_string());
            Arc::new(s)
        };
        let known = [
            sel("shop", "host", "p"),
            sel("shop", "other", "q"),
            sel("lab", "host", "p"),
        ];
        let mut plan = PortPlan::new(
            "p",
            serde_json::from_value(serde_json::json!({"versions": []}))
                .unwrap_or_else(|e| panic!("{e}")),
        );
        plan.metadata.namespace = Some("shop".into());
        let refs = selections_of(&known, &plan);
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].name, "host");
        assert_eq!(refs[0].namespace.as_deref(), Some("shop"));
    }
}
