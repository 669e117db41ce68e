//! The data a switch copies (`syncOnSwitch`): which version it comes from,
//! the intent kept on disk so a turnout killed after stopping the old
//! version still copies before starting the new, and the copies that failed
//! (a switch whose copy failed does not begin again for the same spec).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use turnout_crds::plan::PortPlanSpec;

use super::{Reconciler, Target};
use crate::core::Blocker;
use crate::core::model::ObservedContainer;
use crate::host::HostPorts;
use crate::runtime::ContainerRuntime;

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
    /// spec: running it again after it succeeded is a no-op). The target
    /// carries everything it needs: the plan, its secrets, its owner.
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
pub(super) struct Intent {
    pub plan: String,
    pub from: String,
    pub to: String,
    pub synced: bool,
}

/// Switch syncing: the copier, where intents live, and syncs that failed.
pub(super) struct SyncSetup {
    pub copier: Arc<dyn SwitchSync>,
    dir: PathBuf,
    /// Switch key -> why its sync failed; such a switch does not begin again
    /// until the plan or selection changes (or turnout restarts).
    failed: Mutex<HashMap<String, String>>,
}

impl SyncSetup {
    pub fn new(copier: Arc<dyn SwitchSync>, dir: PathBuf) -> SyncSetup {
        SyncSetup {
            copier,
            dir,
            failed: Mutex::new(HashMap::new()),
        }
    }

    fn intent_path(&self) -> PathBuf {
        self.dir.join("switch-intent.json")
    }

    fn intent(&self) -> Option<Intent> {
        let text = std::fs::read_to_string(self.intent_path()).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Records where the switch stands; a write that fails is logged (the
    /// switch goes on: the intent only helps a turnout that is killed).
    pub fn save(&self, intent: &Intent) {
        if let Err(e) = crate::files::replace_json(&self.intent_path(), intent) {
            tracing::warn!(error = %e, "cannot record the switch intent");
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        match self.failed.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Remembers that the copy of switch `key` failed, for `message`.
    pub fn failed(&self, key: String, message: String) {
        self.failures().insert(key, message);
    }
}

impl<R: ContainerRuntime, H: HostPorts> Reconciler<R, H> {
    /// The version whose data a switch to the active version must copy, if any.
    pub(super) fn sync_source(
        &self,
        target: &Target,
        observed: &[ObservedContainer],
    ) -> Option<String> {
        let setup = self.sync.as_ref()?;
        if !target.selection.sync_on_switch {
            return None;
        }
        let to = &target.selection.active_version;
        let from = crate::core::switch_from(observed, &target.plan_name, to)
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

    /// A blocker when this very switch's copy failed before.
    pub(super) fn failed_sync(
        &self,
        target: &Target,
        observed: &[ObservedContainer],
    ) -> Option<Blocker> {
        let setup = self.sync.as_ref()?;
        let from = self.sync_source(target, observed)?;
        let message = setup.failures().get(&target.switch_key(&from))?.clone();
        Some(Blocker::SyncFailed {
            from,
            to: target.selection.active_version.clone(),
            message,
        })
    }
}
