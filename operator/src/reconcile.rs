//! One reconcile: observe -> validate -> build -> diff -> preflight -> apply.
//! The drivers (standalone watcher, one-shot `apply`, the Kubernetes
//! controller) call [`Reconciler::reconcile`] and turn its [`Outcome`] into
//! status with [`crate::status`].
//!
//! Level-triggered: each call re-reads the host and computes the diff from
//! scratch, so a reconcile interrupted anywhere is finished by the next one.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::path::PathBuf;

use futures::future::{BoxFuture, join_all};
use sha2::{Digest, Sha256};
use tracing::{info, warn};
use turnout_crds::plan::{DEFAULT_STOP_TIMEOUT_SECONDS, PortPlanSpec};
use turnout_crds::selection::{PhaseTimings, VersionSelectionSpec};
use turnout_crds::validate::{Violation, validate_plan, validate_selection};

use crate::core::model::{Desired, DesiredContainer, ObservedContainer, Role, RunState};
use crate::core::{Action, ActionKind, Blocker, Phase, build_desired, diff, preflight};
use crate::host::HostPorts;
use crate::probe;
use crate::runtime::{ContainerConfig, ContainerRuntime, RuntimeError};
use crate::secrets::{SecretError, SecretFiles, SecretResolver};

/// What one reconcile is asked to converge to.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub plan_name: String,
    pub plan: PortPlanSpec,
    pub selection_name: String,
    pub selection: VersionSelectionSpec,
    /// The selection's generation, when it has one (Kubernetes).
    pub generation: Option<i64>,
}

/// Why applying an action failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(
        "the data sync {from} -> {to} failed: {message}; {to} was not started and nothing was overwritten"
    )]
    Sync {
        from: String,
        to: String,
        message: String,
    },
    #[error("interrupted: turnout is shutting down; the next reconcile finishes the change")]
    Cancelled,
    #[error(
        "container {container} did not become ready within {seconds}s; check `docker logs {container}` and its readiness probe"
    )]
    NotReady { container: String, seconds: u32 },
}

impl ApplyError {
    /// The condition reason this error reports under.
    pub fn reason(&self) -> &'static str {
        match self {
            ApplyError::Runtime(e) => e.reason(),
            ApplyError::Secret(e) => e.reason(),
            ApplyError::NotReady { .. } => "Unhealthy",
            ApplyError::Cancelled => "Interrupted",
            ApplyError::Sync { .. } => "SyncFailed",
        }
    }
}

/// What a reconcile did. Status is built only from an outcome.
// One value per reconcile, moved once: boxing `Applied` would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Outcome {
    /// The plan or the selection breaks a rule; nothing on the host was touched.
    Invalid(Vec<Violation>),
    /// The engine could not be listed; nothing was touched.
    Unobserved(RuntimeError),
    /// Something stands in the way; nothing was touched.
    Blocked {
        observed: Vec<ObservedContainer>,
        pending: Vec<Action>,
        blockers: Vec<Blocker>,
    },
    /// `paused: true`: the actions that would run, none run.
    Paused {
        observed: Vec<ObservedContainer>,
        pending: Vec<Action>,
    },
    /// The actions ran (possibly none: converged).
    Applied(Applied),
}

/// The result of applying a diff.
#[derive(Debug)]
pub struct Applied {
    pub desired: Desired,
    /// The host after the actions.
    pub observed: Vec<ObservedContainer>,
    /// Each action and its error, if it failed. Empty on a converged host.
    pub done: Vec<(Action, Option<String>)>,
    /// Containers that passed their readiness probe.
    pub ready: BTreeSet<String>,
    /// The first error, which stopped the later phases.
    pub error: Option<ApplyError>,
    /// The version that was running before, when this was a switch.
    pub switch: Option<Switch>,
    pub timings: PhaseTimings,
    /// The data copied on this switch (`syncOnSwitch`), one step per binding.
    pub synced: Vec<turnout_crds::datasync::SyncStep>,
    /// The DataSync this switch ran (or tried), when it copied data.
    pub data_sync: Option<String>,
}

/// A change of the running version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub from: Option<String>,
    pub to: String,
    pub started_at: jiff::Timestamp,
    pub finished_at: jiff::Timestamp,
}

impl Applied {
    pub fn converged(&self) -> bool {
        self.error.is_none()
            && self
                .desired
                .containers
                .iter()
                .all(|c| self.ready.contains(c.name()))
    }
}

/// Reports actions as they run (the `apply` progress display, logs).
pub trait Progress: Send + Sync {
    fn started(&self, action: &Action);
    fn finished(&self, action: &Action, error: Option<&str>);
    /// When true, no further action starts (shutdown between actions).
    fn cancelled(&self) -> bool {
        false
    }
}

/// A progress sink that only logs.
pub struct LogProgress;

impl Progress for LogProgress {
    fn started(&self, a: &Action) {
        info!(container = %a.container, action = a.kind.as_str(), reason = %a.reason, "action");
    }

    fn finished(&self, a: &Action, error: Option<&str>) {
        if let Some(e) = error {
            warn!(container = %a.container, action = a.kind.as_str(), error = %e, "action failed");
        }
    }
}

/// Why a switch's copy did not happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncFailure {
    /// A sentence for status and logs.
    pub message: String,
    /// The copy itself never began (e.g. the Kubernetes API was briefly
    /// unreachable): the next reconcile tries again. Otherwise the same
    /// spec is not retried.
    pub retryable: bool,
}

impl SyncFailure {
    /// The copy ran and failed: not retried for the same spec.
    pub fn failed(message: impl Into<String>) -> SyncFailure {
        SyncFailure {
            message: message.into(),
            retryable: false,
        }
    }

    /// The copy could not begin; the next reconcile tries again.
    pub fn retry(message: impl Into<String>) -> SyncFailure {
        SyncFailure {
            message: message.into(),
            retryable: true,
        }
    }
}

impl From<String> for SyncFailure {
    fn from(message: String) -> SyncFailure {
        SyncFailure::failed(message)
    }
}

/// Copies a version's data into the next on a switch (`syncOnSwitch`).
pub trait SwitchSync: Send + Sync {
    /// Whether a switch `from` -> `to` has data bindings to copy.
    fn has_data(&self, plan: &PortPlanSpec, from: &str, to: &str) -> bool;
    /// Copies version `from`'s data into the target's active version, as
    /// the DataSync called `name` (deterministic per selection, switch and
    /// spec: running it again after it succeeded is a no-op).
    fn sync<'a>(
        &'a self,
        name: &'a str,
        target: &'a Target,
        from: &'a str,
    ) -> BoxFuture<'a, Result<Vec<turnout_crds::datasync::SyncStep>, SyncFailure>>;
}

/// A switch whose data still has to be copied, kept on disk so a turnout
/// killed after stopping the old version still syncs before starting the new.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Intent {
    plan: String,
    from: String,
    to: String,
    synced: bool,
}

/// Switch syncing: the copier, where intents live, and syncs that failed.
struct SyncSetup {
    copier: Arc<dyn SwitchSync>,
    dir: PathBuf,
    /// Switch key -> why its sync failed; such a switch does not begin again
    /// until the plan or selection changes (or turnout restarts).
    failed: Mutex<HashMap<String, String>>,
}

impl SyncSetup {
    fn intent_path(&self) -> PathBuf {
        self.dir.join("switch-intent.json")
    }

    fn intent(&self) -> Option<Intent> {
        let text = std::fs::read_to_string(self.intent_path()).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn save(&self, intent: &Intent) -> std::io::Result<()> {
        crate::files::replace_json(&self.intent_path(), intent)
    }

    fn failed(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        match self.failed.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// The selection's generation, or outside Kubernetes a short hash of plan and selection.
fn generation_of(target: &Target) -> String {
    match target.generation {
        Some(g) => g.to_string(),
        None => {
            let spec = serde_json::to_vec(&(&target.plan, &target.selection)).unwrap_or_default();
            Sha256::digest(&spec)
                .iter()
                .take(5)
                .map(|b| format!("{b:02x}"))
                .collect()
        }
    }
}

/// Identifies one switch of one spec: a changed plan or selection is a new attempt.
fn switch_key(target: &Target, from: &str) -> String {
    format!(
        "{}/{from}->{}/{}",
        target.plan_name,
        target.selection.active_version,
        generation_of(target)
    )
}

/// The deterministic name of the DataSync a switch creates: selection, from,
/// to and generation, as a DNS label (at most 63 characters).
pub fn datasync_name(target: &Target, from: &str) -> String {
    let generation = generation_of(target);
    let raw = format!(
        "{}-{from}-to-{}",
        target.selection_name, target.selection.active_version
    );
    let mut name: String = raw
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name.truncate(62 - generation.len());
    format!("{}-{generation}", name.trim_matches('-'))
}

/// Drives the pipeline against one runtime and host.
pub struct Reconciler<R, H, S> {
    pub runtime: Arc<R>,
    host: H,
    secrets: SecretFiles<S>,
    /// Container id -> ready, so a converged host is not re-probed.
    ready_cache: Mutex<HashMap<String, bool>>,
    sync: Option<SyncSetup>,
}

impl<R: ContainerRuntime, H: HostPorts, S: SecretResolver> Reconciler<R, H, S> {
    pub fn new(runtime: Arc<R>, host: H, secrets: SecretFiles<S>) -> Self {
        Reconciler {
            runtime,
            host,
            secrets,
            ready_cache: Mutex::new(HashMap::new()),
            sync: None,
        }
    }

    /// Copies data on switches with `copier`, keeping switch intents in `dir`.
    pub fn with_sync(mut self, copier: Arc<dyn SwitchSync>, dir: impl Into<PathBuf>) -> Self {
        self.sync = Some(SyncSetup {
            copier,
            dir: dir.into(),
            failed: Mutex::new(HashMap::new()),
        });
        self
    }

    /// The version whose data a switch to the active version must copy, if any.
    fn sync_source(&self, target: &Target, observed: &[ObservedContainer]) -> Option<String> {
        let setup = self.sync.as_ref()?;
        if !target.selection.sync_on_switch {
            return None;
        }
        let to = &target.selection.active_version;
        let from = switch_from(observed, &target.plan_name, to)
            .filter(|f| f != to)
            .or_else(|| {
                // A switch interrupted after the old version stopped.
                setup
                    .intent()
                    .filter(|i| i.plan == target.plan_name && &i.to == to && !i.synced)
                    .map(|i| i.from)
            })?;
        setup
            .copier
            .has_data(&target.plan, &from, to)
            .then_some(from)
    }

    /// The pure part, without touching the host: validation, desired state and
    /// the diff against `observed`.
    pub fn plan(
        target: &Target,
        observed: &[ObservedContainer],
    ) -> Result<(Desired, Vec<Action>), Vec<Violation>> {
        let mut violations = validate_plan(&target.plan);
        violations.extend(validate_selection(
            &target.plan_name,
            &target.plan,
            &target.selection,
        ));
        if !violations.is_empty() {
            return Err(violations);
        }
        let desired = build_desired(
            &target.plan_name,
            &target.plan,
            &target.selection.active_version,
        )
        .ok_or_else(Vec::new)?;
        let actions = diff(&desired, observed);
        Ok((desired, actions))
    }

    /// One full reconcile.
    pub async fn reconcile(&self, target: &Target, progress: &dyn Progress) -> Outcome {
        let observed = match self.runtime.list().await {
            Ok(o) => o,
            Err(e) => return Outcome::Unobserved(e),
        };
        let (desired, actions) = match Self::plan(target, &observed) {
            Ok(x) => x,
            Err(v) => return Outcome::Invalid(v),
        };
        if target.selection.paused {
            return Outcome::Paused {
                observed,
                pending: actions,
            };
        }
        if actions.is_empty() {
            let ready = self.readiness(&desired, &observed).await;
            return Outcome::Applied(Applied {
                desired,
                observed,
                done: Vec::new(),
                ready,
                error: None,
                switch: None,
                timings: PhaseTimings::default(),
                synced: Vec::new(),
                data_sync: None,
            });
        }
        let mut blockers = self.preflight(&desired, &observed, true).await;
        if let (Some(setup), Some(from)) = (&self.sync, self.sync_source(target, &observed))
            && let Some(message) = setup.failed().get(&switch_key(target, &from))
        {
            blockers.push(Blocker::SyncFailed {
                from,
                to: target.selection.active_version.clone(),
                message: message.clone(),
            });
        }
        if !blockers.is_empty() {
            return Outcome::Blocked {
                observed,
                pending: actions,
                blockers,
            };
        }
        self.apply(target, desired, &observed, actions, progress)
            .await
    }

    /// What stands in the way of `desired`: reads images and host sockets, changes nothing.
    pub async fn preflight(
        &self,
        desired: &Desired,
        observed: &[ObservedContainer],
        pull: bool,
    ) -> Vec<Blocker> {
        let images: BTreeSet<&str> = desired
            .containers
            .iter()
            .map(|c| c.spec.image.as_str())
            .collect();
        let mut present = BTreeSet::new();
        for image in images {
            // An engine error here shows up as the image missing, with the reason logged.
            match self.runtime.image_present(image).await {
                Ok(true) => {
                    present.insert(image.to_string());
                }
                // Pulling changes no container, so it may happen before anything stops.
                Ok(false) if !pull => {}
                Ok(false) => match self.runtime.pull(image).await {
                    Ok(()) => {
                        info!(image, "pulled");
                        present.insert(image.to_string());
                    }
                    Err(e) => warn!(image, error = %e, "image missing and not pullable"),
                },
                Err(e) => warn!(image, error = %e, "cannot inspect image"),
            }
        }
        preflight(desired, observed, &self.host.listeners(), &present)
    }

    async fn apply(
        &self,
        target: &Target,
        desired: Desired,
        before: &[ObservedContainer],
        actions: Vec<Action>,
        progress: &dyn Progress,
    ) -> Outcome {
        let started_at = jiff::Timestamp::now();
        // Drift (another version's container started by hand) is not a switch:
        // when the active version already runs, that is where we come from.
        let from = switch_from(before, &desired.plan, &desired.active_version);
        let sync_from = self.sync_source(target, before);
        if let (Some(setup), Some(f)) = (&self.sync, &sync_from) {
            let intent = Intent {
                plan: desired.plan.clone(),
                from: f.clone(),
                to: desired.active_version.clone(),
                synced: false,
            };
            if let Err(e) = setup.save(&intent) {
                warn!(error = %e, "cannot record the switch intent");
            }
        }
        let mut synced = Vec::new();
        let mut data_sync = None;
        let is_switch = from.as_deref() != Some(desired.active_version.as_str());
        let mut timings = PhaseTimings::default();
        let mut done = Vec::new();
        let mut error = None;
        let mut ready = BTreeSet::new();
        for phase in [Phase::Stop, Phase::Infrastructure, Phase::Version] {
            // Shutdown between phases: no copy and no action starts after it.
            if phase != Phase::Stop && progress.cancelled() {
                error = Some(ApplyError::Cancelled);
                break;
            }
            // The copy runs once the old version is stopped (a quiescent
            // source) and the infrastructure is up, before the new version starts.
            if phase == Phase::Version
                && let (Some(setup), Some(f)) = (&self.sync, &sync_from)
            {
                let to = desired.active_version.clone();
                let t0 = Instant::now();
                let name = datasync_name(target, f);
                let r = setup.copier.sync(&name, target, f).await;
                data_sync = Some(name);
                timings.sync_ms = Some(u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX));
                match r {
                    Ok(steps) => {
                        synced = steps;
                        let intent = Intent {
                            plan: desired.plan.clone(),
                            from: f.clone(),
                            to,
                            synced: true,
                        };
                        if let Err(e) = setup.save(&intent) {
                            warn!(error = %e, "cannot record the finished sync");
                        }
                    }
                    Err(failure) => {
                        if !failure.retryable {
                            setup
                                .failed()
                                .insert(switch_key(target, f), failure.message.clone());
                        }
                        error = Some(ApplyError::Sync {
                            from: f.clone(),
                            to,
                            message: failure.message,
                        });
                        break;
                    }
                }
            }
            let of_phase: Vec<&Action> = actions.iter().filter(|a| a.phase == phase).collect();
            if of_phase.is_empty() {
                continue;
            }
            let t0 = Instant::now();
            let (results, phase_ready, phase_error, wait_ms) =
                self.run_phase(target, &desired, &of_phase, progress).await;
            done.extend(results);
            ready.extend(phase_ready);
            let ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
            match phase {
                Phase::Stop => timings.stop_ms = Some(ms),
                _ => {
                    timings.start_ms =
                        Some(timings.start_ms.unwrap_or(0) + ms.saturating_sub(wait_ms));
                    timings.ready_ms = Some(timings.ready_ms.unwrap_or(0) + wait_ms);
                }
            }
            if phase_error.is_some() {
                error = phase_error;
                break;
            }
        }
        let observed = match self.runtime.list().await {
            Ok(o) => o,
            Err(e) => {
                error.get_or_insert(ApplyError::Runtime(e));
                Vec::new()
            }
        };
        // Containers untouched by this reconcile keep their cached readiness.
        let more = self.readiness(&desired, &observed).await;
        ready.extend(more);
        let switch = is_switch.then(|| Switch {
            from,
            to: desired.active_version.clone(),
            started_at,
            finished_at: jiff::Timestamp::now(),
        });
        Outcome::Applied(Applied {
            desired,
            observed,
            done,
            ready,
            error,
            switch,
            timings,
            synced,
            data_sync,
        })
    }

    /// Runs one phase: each container's chain of actions in parallel with the
    /// others', then the readiness waits, in parallel.
    async fn run_phase(
        &self,
        target: &Target,
        desired: &Desired,
        actions: &[&Action],
        progress: &dyn Progress,
    ) -> (
        Vec<(Action, Option<String>)>,
        BTreeSet<String>,
        Option<ApplyError>,
        u64,
    ) {
        let mut chains: Vec<(String, Vec<&Action>)> = Vec::new();
        let mut waits: Vec<&Action> = Vec::new();
        for a in actions {
            if a.kind == ActionKind::WaitReady {
                waits.push(a);
                continue;
            }
            match chains.iter_mut().find(|(c, _)| *c == a.container) {
                Some((_, chain)) => chain.push(a),
                None => chains.push((a.container.clone(), vec![a])),
            }
        }
        let runs = chains.iter().map(|(_, chain)| async move {
            let mut results = Vec::new();
            for a in chain {
                if progress.cancelled() {
                    return (results, Some(ApplyError::Cancelled));
                }
                progress.started(a);
                let r = self.act(target, desired, a).await;
                let msg = r.as_ref().err().map(ToString::to_string);
                progress.finished(a, msg.as_deref());
                results.push(((*a).clone(), msg));
                if let Err(e) = r {
                    return (results, Some(e));
                }
            }
            (results, None)
        });
        let mut results = Vec::new();
        let mut first_error = None;
        for (r, e) in join_all(runs).await {
            results.extend(r);
            if first_error.is_none() {
                first_error = e;
            }
        }
        let mut ready = BTreeSet::new();
        if first_error.is_some() {
            return (results, ready, first_error, 0);
        }
        let t0 = Instant::now();
        let waited = join_all(waits.iter().map(|a| async move {
            progress.started(a);
            let spec = &desired.get(&a.container).map(|d| d.spec.clone());
            let r = match spec {
                Some(spec) => {
                    probe::wait_ready(self.runtime.as_ref(), spec, &|| progress.cancelled())
                        .await
                        .map_err(|seconds| match seconds {
                            None => ApplyError::Cancelled,
                            Some(seconds) => ApplyError::NotReady {
                                container: a.container.clone(),
                                seconds,
                            },
                        })
                }
                None => Ok(()),
            };
            let msg = r.as_ref().err().map(ToString::to_string);
            progress.finished(a, msg.as_deref());
            ((*a).clone(), r)
        }))
        .await;
        let wait_ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
        for (a, r) in waited {
            match r {
                Ok(()) => {
                    ready.insert(a.container.clone());
                    results.push((a, None));
                }
                Err(e) => {
                    results.push((a, Some(e.to_string())));
                    first_error.get_or_insert(e);
                }
            }
        }
        (results, ready, first_error, wait_ms)
    }

    async fn act(&self, target: &Target, desired: &Desired, a: &Action) -> Result<(), ApplyError> {
        let rt = self.runtime.as_ref();
        match a.kind {
            ActionKind::Stop => Ok(rt
                .stop(&a.container, stop_timeout(&target.plan, &a.container))
                .await?),
            ActionKind::Remove => Ok(rt.remove(&a.container).await?),
            ActionKind::Create => {
                let Some(d) = desired.get(&a.container) else {
                    return Ok(());
                };
                let files = self.secrets.write_for(&d.spec)?;
                Ok(rt.create(&ContainerConfig::of(d, files)).await?)
            }
            ActionKind::Start => Ok(rt.start(&a.container).await?),
            ActionKind::WaitReady => Ok(()),
        }
    }

    /// Which desired containers are ready: running, and their probe passed
    /// (cached per container id, so a converged host is probed once).
    async fn readiness(
        &self,
        desired: &Desired,
        observed: &[ObservedContainer],
    ) -> BTreeSet<String> {
        let running: Vec<(&DesiredContainer, &ObservedContainer)> = desired
            .containers
            .iter()
            .filter_map(|d| {
                observed
                    .iter()
                    .find(|o| {
                        o.name == d.name()
                            && o.state == RunState::Running
                            && o.is_ours(&desired.plan)
                    })
                    .map(|o| (d, o))
            })
            .collect();
        let cached: HashMap<String, bool> = self.cache().clone();
        let probes = running.iter().map(|(d, o)| {
            let known = cached.get(&o.id).copied() == Some(true);
            async move {
                let ok = known || probe::probe_once(self.runtime.as_ref(), &d.spec).await;
                (d.name().to_string(), o.id.clone(), ok)
            }
        });
        let results = join_all(probes).await;
        let mut cache = self.cache();
        cache.retain(|id, _| {
            observed
                .iter()
                .any(|o| &o.id == id && o.state == RunState::Running)
        });
        let mut ready = BTreeSet::new();
        for (name, id, ok) in results {
            cache.insert(id, ok);
            if ok {
                ready.insert(name);
            }
        }
        ready
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, bool>> {
        match self.ready_cache.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// Where a switch to `active` comes from: `active` itself when it already
/// runs (drift is not a switch), else the version found running, if any.
pub fn switch_from(observed: &[ObservedContainer], plan: &str, active: &str) -> Option<String> {
    let active_runs = observed.iter().any(|o| {
        o.is_ours(plan)
            && o.state == RunState::Running
            && o.role() == Some(Role::Version(active.to_string()))
    });
    if active_runs {
        Some(active.to_string())
    } else {
        running_version(observed, plan)
    }
}

/// The version whose containers were running (the first found), if any.
pub fn running_version(observed: &[ObservedContainer], plan: &str) -> Option<String> {
    observed
        .iter()
        .filter(|o| o.is_ours(plan) && o.state == RunState::Running)
        .find_map(|o| match o.role() {
            Some(Role::Version(v)) => Some(v),
            _ => None,
        })
}

/// The stop timeout the plan gives a container, wherever it is in the plan.
fn stop_timeout(plan: &PortPlanSpec, name: &str) -> u32 {
    plan.infrastructure
        .iter()
        .chain(plan.versions.iter().flat_map(|v| v.containers.iter()))
        .find(|c| c.name == name)
        .map_or(DEFAULT_STOP_TIMEOUT_SECONDS, |c| c.stop_timeout_seconds())
}

/// How long to wait before retrying after a blocker or transient error.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
