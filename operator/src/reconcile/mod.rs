//! One reconcile: observe -> validate, build, diff ([`crate::core::plan`])
//! -> preflight -> apply -> readiness. The drivers (standalone watcher,
//! one-shot `apply`, the Kubernetes controller) call
//! [`Reconciler::reconcile`] and turn its [`Outcome`] into status with
//! [`crate::status`].
//!
//! Level-triggered: each call re-reads the host and computes the diff from
//! scratch, so a reconcile interrupted anywhere is finished by the next one.
//!
//! - `apply.rs`: the preflight that pulls images, and the switch around the phases;
//! - `phases.rs`: the actions, phase by phase (or overlapped), and the readiness waits;
//! - `rollback.rs`: going back to the previous version, and holding the host there;
//! - `switch.rs`: the data a switch copies (`syncOnSwitch`) and its intent on disk;
//! - `readiness.rs`: which containers passed their probe;
//! - `adopt.rs`: taking over a container made by hand, or putting it back.

mod adopt;
mod apply;
mod binds;
mod crash;
mod phases;
mod readiness;
mod rollback;
mod switch;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use turnout_crds::selection::PhaseTimings;
use turnout_crds::validate::Violation;

use crate::core::model::{Desired, ObservedContainer};
use crate::core::{Action, Blocker};
use crate::host::HostPorts;
use crate::runtime::{ContainerRuntime, RuntimeError};
use crate::secrets::{SecretError, SecretFiles};

pub use crate::core::target::Target;
pub use crate::core::{running_version, switch_from};
pub use crash::{CrashLimit, Held};
pub use rollback::RolledBack;
pub use switch::{SwitchSync, SyncFailure};

/// Why applying an action failed; the reason is the variant's `strum` name.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
pub enum ApplyError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(
        "the data sync {from} -> {to} failed: {message}; {to} was not started and nothing was overwritten"
    )]
    #[strum(serialize = "SyncFailed")]
    Sync {
        from: String,
        to: String,
        message: String,
    },
    #[error(
        "container {container} went down {restarts} time(s) within {window_s}s and turnout stopped restarting it (last exit code {exit_code}); its last log lines: {log_tail}. Fix the cause, then change the plan or selection, restart turnout, or start it yourself"
    )]
    #[strum(serialize = "CrashLoop")]
    CrashLoop {
        container: String,
        restarts: u32,
        window_s: u64,
        exit_code: String,
        log_tail: String,
    },
    #[error("container {container} was not adopted: {message}")]
    #[strum(serialize = "AdoptionFailed")]
    Adoption { container: String, message: String },
    #[error("interrupted: turnout is shutting down; the next reconcile finishes the change")]
    #[strum(serialize = "Interrupted")]
    Cancelled,
    #[error(
        "container {container} did not become ready within {seconds}s; check `docker logs {container}` and its readiness probe"
    )]
    #[strum(serialize = "Unhealthy")]
    NotReady { container: String, seconds: u32 },
    #[error(
        "container {container} exited (code {}) before it was ready; check `docker logs {container}`",
        exit_code.map_or_else(|| "unknown".to_string(), |c| c.to_string())
    )]
    #[strum(serialize = "Unhealthy")]
    Exited {
        container: String,
        exit_code: Option<i64>,
    },
    #[error(
        "the switch failed ({cause}) and going back to {back_to} failed too: {message}; turnout keeps trying to bring {back_to} up"
    )]
    #[strum(serialize = "RollbackFailed")]
    RollbackFailed {
        back_to: String,
        cause: String,
        message: String,
    },
}

impl ApplyError {
    /// The condition reason this error reports under.
    pub fn reason(&self) -> &'static str {
        match self {
            ApplyError::Runtime(e) => e.reason(),
            ApplyError::Secret(e) => e.reason(),
            other => other.into(),
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
    /// The host is held on the previous version because this spec's
    /// switch failed (now, or in an earlier reconcile).
    pub rolled_back: Option<RolledBack>,
}

impl Applied {
    /// Nothing to do on a host already as desired.
    fn converged_already(
        desired: Desired,
        observed: Vec<ObservedContainer>,
        ready: BTreeSet<String>,
    ) -> Applied {
        Applied {
            desired,
            observed,
            done: Vec::new(),
            ready,
            error: None,
            switch: None,
            timings: PhaseTimings::default(),
            synced: Vec::new(),
            data_sync: None,
            rolled_back: None,
        }
    }

    /// Whether this reconcile itself rolled a switch back (not one held
    /// from before).
    pub fn rolled_back_now(&self) -> bool {
        match (&self.rolled_back, &self.switch) {
            (Some(rb), Some(sw)) => sw.to == rb.failed,
            _ => false,
        }
    }

    pub fn converged(&self) -> bool {
        self.error.is_none()
            && self
                .desired
                .containers
                .iter()
                .all(|c| self.ready.contains(c.name()))
    }
}

/// A change of the running version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub from: Option<String>,
    pub to: String,
    pub started_at: jiff::Timestamp,
    pub finished_at: jiff::Timestamp,
}

/// Reports actions as they run (the `apply` progress display, logs, Events).
pub trait Progress: Send + Sync {
    fn started(&self, action: &Action);
    fn finished(&self, action: &Action, error: Option<&str>);
    /// A switch from `from` (None: nothing ran) to `to` begins.
    fn switch_started(&self, _from: Option<&str>, _to: &str) {}
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

/// How one reconcile runs: who hears about its actions, and the token that
/// stops it between actions (the action under way always finishes).
pub struct Run<'a> {
    pub progress: &'a dyn Progress,
    pub cancel: CancellationToken,
}

impl Default for Run<'static> {
    /// Logged, and never cancelled.
    fn default() -> Run<'static> {
        Run {
            progress: &LogProgress,
            cancel: CancellationToken::new(),
        }
    }
}

impl<'a> Run<'a> {
    pub fn new(progress: &'a dyn Progress, cancel: CancellationToken) -> Run<'a> {
        Run { progress, cancel }
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// Drives the pipeline against one runtime and host.
pub struct Reconciler<R, H> {
    pub runtime: Arc<R>,
    host: H,
    secrets: SecretFiles,
    /// Container id -> ready, so a converged host is not re-probed.
    ready_cache: Mutex<HashMap<String, bool>>,
    sync: Option<switch::SyncSetup>,
    adoptions: adopt::Adoptions,
    /// turnout's own directories on this host, which no bind may reach.
    protected: Vec<PathBuf>,
    crash: crash::CrashGuard,
    holds: rollback::Holds,
}

impl<R: ContainerRuntime, H: HostPorts> Reconciler<R, H> {
    pub fn new(runtime: Arc<R>, host: H, secrets: SecretFiles) -> Self {
        Reconciler {
            runtime,
            host,
            secrets,
            ready_cache: Mutex::new(HashMap::new()),
            sync: None,
            adoptions: adopt::Adoptions::new(None),
            protected: Vec::new(),
            crash: crash::CrashGuard::new(CrashLimit::default()),
            holds: rollback::Holds::new(None),
        }
    }

    /// Keeps rollback holds in `dir`, so a restart does not retry a switch
    /// that was rolled back.
    pub fn with_rollback_records(mut self, dir: impl Into<PathBuf>) -> Self {
        self.holds = rollback::Holds::new(Some(dir.into()));
        self
    }

    /// Stops restarting a container after `limit` (default: 5 restarts in 5 minutes).
    pub fn with_crash_limit(mut self, limit: CrashLimit) -> Self {
        self.crash = crash::CrashGuard::new(limit);
        self
    }

    /// Refuses plans that bind any of `dirs` (turnout's state, data and
    /// backups on this host), or a directory holding one.
    pub fn with_protected_dirs(mut self, dirs: impl IntoIterator<Item = PathBuf>) -> Self {
        self.protected.extend(dirs);
        self
    }

    /// Records each adopted container's original configuration in `dir`.
    pub fn with_adoption_records(mut self, dir: impl Into<PathBuf>) -> Self {
        self.adoptions = adopt::Adoptions::new(Some(dir.into()));
        self
    }

    /// Copies data on switches with `copier`, keeping switch intents in `dir`.
    pub fn with_sync(mut self, copier: Arc<dyn SwitchSync>, dir: impl Into<PathBuf>) -> Self {
        self.sync = Some(switch::SyncSetup::new(copier, dir.into()));
        self
    }

    /// The pure part, without touching the host: validation, desired state and
    /// the diff against `observed` ([`crate::core::plan()`]).
    pub fn plan(
        target: &Target,
        observed: &[ObservedContainer],
    ) -> Result<(Desired, Vec<Action>), Vec<Violation>> {
        crate::core::plan(target, observed)
    }

    /// One full reconcile: observe, plan, check nothing stands in the way,
    /// then apply (a converged host costs one list and its cached probes).
    pub async fn reconcile(&self, target: &Target, run: &Run<'_>) -> Outcome {
        // A spec whose switch was rolled back keeps the host where it went back to.
        let held = self.holds.for_target(target);
        let back;
        let target = match &held {
            Some(h) => {
                back = target.back_to(&h.back_to);
                &back
            }
            None => target,
        };
        let mut outcome = self.reconcile_to(target, run).await;
        if let Outcome::Applied(a) = &mut outcome
            && a.rolled_back.is_none()
        {
            a.rolled_back = held;
        }
        outcome
    }

    async fn reconcile_to(&self, target: &Target, run: &Run<'_>) -> Outcome {
        let observed = match self.runtime.list().await {
            Ok(o) => o,
            Err(e) => return Outcome::Unobserved(e),
        };
        let (desired, actions) = match crate::core::plan(target, &observed) {
            Ok(x) => x,
            Err(v) => return Outcome::Invalid(v),
        };
        if target.selection.paused {
            return Outcome::Paused {
                observed,
                pending: actions,
            };
        }
        let (actions, held) = self.crash.filter(
            &target.generation_key(),
            &desired,
            &observed,
            actions,
            std::time::Instant::now(),
        );
        let mut outcome = if actions.is_empty() {
            let ready = self.readiness(&desired, &observed).await;
            Outcome::Applied(Applied::converged_already(desired, observed, ready))
        } else {
            let mut blockers = self.preflight(&desired, &observed, true).await;
            blockers.extend(self.failed_sync(target, &observed));
            blockers.extend(self.failed_adoptions(target, &desired, &observed));
            if !blockers.is_empty() {
                return Outcome::Blocked {
                    observed,
                    pending: actions,
                    blockers,
                };
            }
            self.apply(target, desired, &observed, actions, run).await
        };
        if let Outcome::Applied(a) = &mut outcome {
            self.crash.seen(&a.desired, &a.observed, &a.done);
            if a.error.is_none()
                && let Some(h) = held.first()
            {
                a.error = Some(self.crash_loop(h).await);
            }
        }
        outcome
    }

    /// The error of a held container: how often it went down, how it last
    /// exited and what it last wrote.
    async fn crash_loop(&self, h: &Held) -> ApplyError {
        let exit_code = match self.runtime.inspect(&h.container).await {
            Ok(v) => v
                .pointer("/State/ExitCode")
                .and_then(serde_json::Value::as_i64)
                .map_or_else(|| "unknown".to_string(), |c| c.to_string()),
            Err(_) => "unknown".to_string(),
        };
        let log_tail = match self.runtime.log_tail(&h.container, 10).await {
            Ok(t) => crate::output::one_line(&t, 1024),
            Err(e) => format!("(cannot read them: {e})"),
        };
        ApplyError::CrashLoop {
            container: h.container.clone(),
            restarts: h.restarts,
            window_s: self.crash.limit().window.as_secs(),
            exit_code,
            log_tail,
        }
    }
}

/// How long to wait before retrying after a blocker or transient error.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
