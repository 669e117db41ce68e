//! The Kubernetes driver (`turnout run`): a kube-rs controller for
//! VersionSelection that drives the same reconcile as standalone mode against
//! this host's Docker engine, and reports status with server-side apply.
//!
//! Secrets the plan references are read with `get` on those named Secrets
//! only, never listed or watched.

pub mod datasync;
pub mod lease;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use tracing::{info, warn};
use turnout_crds::plan::{PortPlanSpec, SecretSource};
use turnout_crds::{PortPlan, VersionSelection};

use crate::core::Action as HostAction;
use crate::host::HostPorts;
use crate::metrics::Metrics;
use crate::reconcile::{Outcome, Progress, Reconciler, Target};
use crate::runtime::ContainerRuntime;
use crate::secrets::{SecretError, SecretResolver};
use crate::status::status_of;
use crate::sync::run::SyncOptions;
use datasync::OwnerSlot;

/// The field manager of everything turnout writes.
pub const FIELD_MANAGER: &str = "turnout";

/// Why reconciling one selection failed.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(
        "PortPlan {plan} does not exist in namespace {namespace}; create it or fix spec.planRef"
    )]
    PlanMissing { plan: String, namespace: String },
    #[error("reading Secret {name}: {source}")]
    Secret {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("the Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("the host: {0}")]
    Host(String),
    #[error("turnout is shutting down; the next turnout finishes this")]
    ShuttingDown,
}

impl ControllerError {
    /// A stable name for metrics and condition reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            ControllerError::PlanMissing { .. } => "PlanMissing",
            ControllerError::Secret { .. } => "SecretUnavailable",
            ControllerError::Kube(_) => "ApiError",
            ControllerError::Host(_) => "EngineUnavailable",
            ControllerError::ShuttingDown => "Interrupted",
        }
    }
}

/// Secret values read from the cluster for the current reconcile. The
/// standalone sources (`from.file`, `from.env`) are refused: under the
/// operator they would read the operator's own files and environment.
#[derive(Clone, Default)]
pub struct ClusterSecrets(Arc<RwLock<SecretValues>>);

/// (Secret name, key) -> value.
type SecretValues = HashMap<(String, String), Vec<u8>>;

impl ClusterSecrets {
    fn replace(&self, values: SecretValues) {
        if let Ok(mut g) = self.0.write() {
            *g = values;
        }
    }
}

impl SecretResolver for ClusterSecrets {
    fn resolve(
        &self,
        container: &str,
        secret: &str,
        from: &SecretSource,
    ) -> Result<Vec<u8>, SecretError> {
        // The operator's own files and environment are not the plan's to read.
        let Some(r) = &from.secret_key_ref else {
            let (source_kind, what) = if from.file.is_some() {
                ("file", "files")
            } else {
                ("env", "environment")
            };
            return Err(SecretError::NotInCluster {
                container: container.to_string(),
                secret: secret.to_string(),
                source_kind,
                what,
            });
        };
        self.0
            .read()
            .ok()
            .and_then(|m| m.get(&(r.name.clone(), r.key.clone())).cloned())
            .ok_or_else(|| SecretError::ClusterSecretMissing {
                container: container.to_string(),
                secret: secret.to_string(),
                name: r.name.clone(),
                key: r.key.clone(),
            })
    }
}

/// The Secrets a plan references: (name, key) pairs.
pub fn secret_refs(plan: &PortPlanSpec) -> Vec<(String, String)> {
    let mut refs: Vec<(String, String)> = plan
        .infrastructure
        .iter()
        .chain(plan.versions.iter().flat_map(|v| v.containers.iter()))
        .flat_map(|c| c.secrets.iter())
        .filter_map(|s| s.from.secret_key_ref.as_ref())
        .map(|r| (r.name.clone(), r.key.clone()))
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

/// What a controller needs to reconcile.
pub struct Context<R, H> {
    pub client: Client,
    pub reconciler: Reconciler<R, H, ClusterSecrets>,
    pub secrets: ClusterSecrets,
    pub recorder: Recorder,
    /// How DataSyncs run on this host.
    pub sync_options: SyncOptions,
    /// The label selector of the selections this turnout serves.
    pub selector: Option<String>,
    /// The selection being reconciled, for the DataSyncs its switch creates.
    pub owner: OwnerSlot,
    /// Held for each reconcile and DataSync: one host, one change at a time.
    pub host: tokio::sync::Mutex<()>,
    /// What `/metrics` serves.
    pub metrics: Arc<Metrics>,
    /// Consecutive failed reconciles per selection (namespace/name), for backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Set on shutdown: no action starts after it.
    stopping: AtomicBool,
}

impl<R, H> Context<R, H> {
    /// `owner` is the slot given to the reconciler's switch copier, if any.
    pub fn new(
        client: Client,
        reconciler: Reconciler<R, H, ClusterSecrets>,
        secrets: ClusterSecrets,
        sync_options: SyncOptions,
        owner: OwnerSlot,
    ) -> Self {
        Context {
            recorder: recorder(client.clone()),
            client,
            reconciler,
            secrets,
            sync_options,
            selector: None,
            owner,
            host: tokio::sync::Mutex::new(()),
            metrics: Arc::default(),
            failures: Mutex::default(),
            stopping: AtomicBool::new(false),
        }
    }

    /// Shutdown: the action under way finishes, no other starts (in any
    /// reconcile or DataSync, running or waiting for the host).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Whether [`Context::stop`] was called.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
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

    /// Count reconciles into `metrics` (the ones `/metrics` serves).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Serve only the selections matching this label selector.
    pub fn with_selector(mut self, selector: Option<String>) -> Self {
        self.selector = selector;
        self
    }

    /// Reads the PortPlan `plan` of namespace `ns`, and the values of the
    /// Secrets it references (named `get`s only: the operator may not list
    /// or watch Secrets) into the secret resolver.
    pub async fn load_plan(&self, ns: &str, plan: &str) -> Result<PortPlanSpec, ControllerError> {
        let plans: Api<PortPlan> = Api::namespaced(self.client.clone(), ns);
        let Some(found) = plans.get_opt(plan).await? else {
            return Err(ControllerError::PlanMissing {
                plan: plan.to_string(),
                namespace: ns.to_string(),
            });
        };
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let mut values = HashMap::new();
        for (secret, key) in secret_refs(&found.spec) {
            let s = secrets
                .get_opt(&secret)
                .await
                .map_err(|source| ControllerError::Secret {
                    name: secret.clone(),
                    source,
                })?;
            if let Some(v) = s.and_then(|s| s.data).and_then(|d| d.get(&key).cloned()) {
                values.insert((secret, key), v.0);
            }
        }
        self.secrets.replace(values);
        Ok(found.spec)
    }
}

/// Writes `status` of the object `name` by server-side apply under turnout's
/// field manager. A conflict (409) or a server error is retried a few times
/// with a growing pause; the last error is returned.
pub async fn apply_status<K, S>(
    api: &Api<K>,
    name: &str,
    kind: &str,
    status: &S,
) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    S: serde::Serialize,
{
    let patch = serde_json::json!({
        "apiVersion": turnout_crds::API_VERSION,
        "kind": kind,
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut pause = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        match api.patch_status(name, &params, &Patch::Apply(&patch)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e))
                if attempt < STATUS_ATTEMPTS
                    && (e.code == 409 || e.code == 429 || e.code >= 500) =>
            {
                warn!(
                    object = name,
                    code = e.code,
                    attempt,
                    "status write refused; retrying"
                );
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
        attempt += 1;
    }
}

/// How many times a status write is tried.
const STATUS_ATTEMPTS: u32 = 5;

/// Collects the actions of a reconcile, to publish them as Events after it.
struct Collect<'a> {
    done: Mutex<Vec<(HostAction, Option<String>)>>,
    stopping: &'a AtomicBool,
}

impl Progress for Collect<'_> {
    fn started(&self, _: &HostAction) {}

    fn cancelled(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn finished(&self, a: &HostAction, error: Option<&str>) {
        if let Ok(mut v) = self.done.lock() {
            v.push((a.clone(), error.map(str::to_string)));
        }
    }
}

/// One reconcile of one selection.
pub async fn reconcile<R: ContainerRuntime, H: HostPorts>(
    sel: Arc<VersionSelection>,
    ctx: Arc<Context<R, H>>,
) -> Result<Action, ControllerError> {
    let ns = sel.namespace().unwrap_or_else(|| "default".to_string());
    let name = sel.name_any();
    let _host = ctx.host.lock().await;
    if ctx.stopping() {
        return Ok(Action::await_change());
    }
    let plan = ctx.load_plan(&ns, &sel.spec.plan_ref).await?;
    if let Ok(mut slot) = ctx.owner.lock() {
        *slot = datasync::SwitchOwner::of(&sel);
    }
    let target = Target {
        plan_name: sel.spec.plan_ref.clone(),
        plan,
        selection_name: name.clone(),
        selection: sel.spec.clone(),
        generation: sel.metadata.generation,
    };
    let collected = Collect {
        done: Mutex::default(),
        stopping: &ctx.stopping,
    };
    let started = std::time::Instant::now();
    let outcome = ctx.reconciler.reconcile(&target, &collected).await;
    // The host is free again: what follows only talks to the API server, and
    // a slow API must not hold up a shutdown waiting for the host.
    drop(_host);
    let was_converged = sel.status.as_ref().is_some_and(|s| {
        s.observed_generation == sel.metadata.generation
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    });
    ctx.metrics
        .observe(&outcome, started.elapsed(), was_converged);
    let status = status_of(&target, &outcome, sel.status.as_ref());
    let selections: Api<VersionSelection> = Api::namespaced(ctx.client.clone(), &ns);
    apply_status(&selections, &name, "VersionSelection", &status).await?;

    let reference = sel.object_ref(&());
    let actions = collected.done.lock().map(|v| v.clone()).unwrap_or_default();
    for (a, error) in actions {
        let ev = Event {
            type_: if error.is_some() {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason_of(a.kind),
            note: Some(match &error {
                Some(e) => format!("{} {}: {e}", a.kind.as_str(), a.container),
                None => format!("{} {}: {}", a.kind.as_str(), a.container, a.reason),
            }),
            action: a.kind.as_str().to_string(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&ev, &reference).await {
            warn!(error = %e, "cannot publish an event");
        }
    }
    if let Some(c) = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready" && c.status != "True")
    {
        let ev = Event {
            type_: EventType::Warning,
            reason: c.reason.clone(),
            note: Some(c.message.chars().take(1000).collect()),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&ev, &reference).await {
            warn!(error = %e, "cannot publish an event");
        }
    }
    let key = key_of(&sel);
    Ok(match &outcome {
        // An invalid spec waits for a change; nothing on the host moved.
        Outcome::Invalid(_) => {
            ctx.succeeded(&key);
            Action::await_change()
        }
        Outcome::Applied(a) if a.converged() => {
            ctx.succeeded(&key);
            Action::requeue(Duration::from_secs(60))
        }
        // The engine unreachable or an action failed: back off like any other trouble.
        Outcome::Unobserved(_) => Action::requeue(backoff(ctx.failed(&key))),
        Outcome::Applied(a) if a.error.is_some() => Action::requeue(backoff(ctx.failed(&key))),
        // Something in the way (a foreign listener, a missing image): look
        // again soon, backing off a little.
        Outcome::Blocked { .. } => {
            Action::requeue(backoff(ctx.failed(&key)).min(Duration::from_secs(30)))
        }
        // Paused, or still becoming ready.
        _ => {
            ctx.succeeded(&key);
            Action::requeue(Duration::from_secs(5))
        }
    })
}

fn reason_of(kind: crate::core::ActionKind) -> String {
    use crate::core::ActionKind::*;
    match kind {
        Stop => "Stopping",
        Remove => "Removing",
        Create => "Creating",
        Start => "Starting",
        WaitReady => "WaitingReady",
    }
    .to_string()
}

/// The finalizer that lets `onDelete` act before a selection disappears.
pub const FINALIZER: &str = "turnout.dev/cleanup";

/// Deleting a selection: with `onDelete: Stop` its plan's managed
/// containers are stopped (never removed; volumes are never touched); with
/// `Keep` (the default) the host is left as it is.
pub async fn cleanup<R: ContainerRuntime, H: HostPorts>(
    sel: Arc<VersionSelection>,
    ctx: Arc<Context<R, H>>,
) -> Result<Action, ControllerError> {
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
    let observed = rt
        .list()
        .await
        .map_err(|e| ControllerError::Host(e.to_string()))?;
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
            .map_err(|e| ControllerError::Host(e.to_string()))?;
        let ev = Event {
            type_: EventType::Normal,
            reason: "Stopping".into(),
            note: Some(format!(
                "stop {}: the selection was deleted with onDelete: Stop",
                c.name
            )),
            action: "stop".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&ev, &reference).await {
            warn!(error = %e, "cannot publish an event");
        }
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

/// The recorder of turnout's Events.
pub fn recorder(client: Client) -> Recorder {
    Recorder::new(
        client,
        Reporter {
            controller: "turnout".into(),
            instance: std::env::var("HOSTNAME").ok(),
        },
    )
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
    controller
        .watches(plans, watcher::Config::default(), move |plan: PortPlan| {
            selections_of(&selections.state(), &plan)
        })
        .run(reconcile_with_finalizer, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                warn!(error = %e, "controller");
            }
        })
        .await;
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
