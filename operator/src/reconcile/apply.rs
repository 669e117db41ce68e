//! Applying a diff: the preflight that pulls images, then the switch around
//! the phases (`phases.rs`): where it comes from, its intent on disk, the
//! copy between the infrastructure and the new version, and the rollback
//! when the new version does not come up. The cancellation token is
//! checked between phases and between actions, never inside one, so an
//! action under way always finishes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use tracing::info;
use turnout_crds::selection::PhaseTimings;

use super::phases::Watch;
use super::switch::Intent;
use super::{Applied, ApplyError, Outcome, Reconciler, Run, Switch, Target};
use crate::core::model::{Desired, ObservedContainer};
use crate::core::{Action, Blocker, Phase, preflight};
use crate::host::HostPorts;
use crate::runtime::ContainerRuntime;

pub(super) fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl<R: ContainerRuntime, H: HostPorts> Reconciler<R, H> {
    /// What stands in the way of `desired`. Reads images and host sockets;
    /// with `pull`, pulls an image that is missing (pulling changes no
    /// container, so it may happen before anything stops). Changes nothing else.
    pub async fn preflight(
        &self,
        desired: &Desired,
        observed: &[ObservedContainer],
        pull: bool,
    ) -> Vec<Blocker> {
        let adopting = crate::core::preflight::adoptions(desired, observed);
        let images: BTreeSet<&str> = desired
            .containers
            .iter()
            .chain(
                desired
                    .inactive
                    .iter()
                    .filter(|d| adopting.contains(d.name()) || desired.made(d.name()).is_some()),
            )
            .map(|c| c.spec.image.as_str())
            .collect();
        let mut present = BTreeMap::new();
        for image in images {
            // An engine error here shows up as the image missing, with the reason logged.
            match self.runtime.image_id(image).await {
                Ok(Some(id)) => {
                    present.insert(image.to_string(), id);
                }
                Ok(None) if !pull => {}
                Ok(None) => {
                    if let Some(id) = self.pull(image).await {
                        present.insert(image.to_string(), id);
                    }
                }
                Err(e) => tracing::warn!(image, error = %e, "cannot inspect image"),
            }
        }
        let mut blockers = preflight(desired, observed, &self.host.listeners(), &present);
        blockers.extend(super::binds::refused(desired, &adopting, &self.protected));
        blockers
    }

    /// Pulls `image`; its id once present, None (logged) when it cannot be had.
    async fn pull(&self, image: &str) -> Option<String> {
        if let Err(e) = self.runtime.pull(image).await {
            tracing::warn!(image, error = %e, "image missing and not pullable");
            return None;
        }
        info!(image, "pulled");
        match self.runtime.image_id(image).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(image, error = %e, "cannot inspect the pulled image");
                None
            }
        }
    }

    /// Runs the actions phase by phase, copying a switch's data between
    /// the infrastructure and the new version, then reads the host again.
    /// A switch whose new version does not come up goes back to the
    /// previous one when the target asks for rollback.
    pub(super) async fn apply(
        &self,
        target: &Target,
        desired: Desired,
        before: &[ObservedContainer],
        actions: Vec<Action>,
        run: &Run<'_>,
    ) -> Outcome {
        let started_at = jiff::Timestamp::now();
        // Drift (another version's container started by hand) is not a switch:
        // when the active version already runs, that is where we come from.
        let from = crate::core::switch_from(before, &desired.plan, &desired.active_version);
        let is_switch = from.as_deref() != Some(desired.active_version.as_str());
        if is_switch {
            run.progress
                .switch_started(from.as_deref(), &desired.active_version);
        }
        let sync_from = self.sync_source(target, before);
        self.record_intent(&desired, sync_from.as_deref(), false);
        // Only a switch with somewhere to go back to is watched.
        let watch = target
            .rollback()
            .filter(|_| is_switch && from.is_some())
            .map(Watch::of);
        let mut steps = self
            .run_phases(
                target,
                &desired,
                &actions,
                sync_from.as_deref(),
                watch.as_ref(),
                run,
            )
            .await;
        let mut desired = desired;
        let mut rolled_back = None;
        if let Some(back_to) = from.as_deref().filter(|_| watch.is_some())
            && steps.failed_in == Some(Phase::Version)
            && steps.error.as_ref().is_some_and(ApplyError::rolls_back)
            && let Some((back, rb)) = self.roll_back(target, back_to, &mut steps, run).await
        {
            desired = back;
            rolled_back = Some(rb);
        }
        let observed = match self.runtime.list().await {
            Ok(o) => o,
            Err(e) => {
                steps.error.get_or_insert(ApplyError::Runtime(e));
                Vec::new()
            }
        };
        // Containers untouched by this reconcile keep their cached readiness.
        steps
            .ready
            .extend(self.readiness(&desired, &observed).await);
        let switch = is_switch.then(|| Switch {
            from,
            to: target.selection.active_version.clone(),
            started_at,
            finished_at: jiff::Timestamp::now(),
        });
        Outcome::Applied(Applied {
            desired,
            observed,
            done: steps.done,
            ready: steps.ready,
            error: steps.error,
            switch,
            timings: steps.timings,
            synced: steps.copy.steps,
            data_sync: steps.copy.name,
            rolled_back,
        })
    }

    fn record_intent(&self, desired: &Desired, from: Option<&str>, synced: bool) {
        if let (Some(setup), Some(from)) = (&self.sync, from) {
            setup.save(&Intent {
                plan: desired.plan.clone(),
                from: from.to_string(),
                to: desired.active_version.clone(),
                synced,
            });
        }
    }

    /// The switch's copy from `from`, as the DataSync named for it.
    pub(super) async fn copy_on_switch(
        &self,
        target: &Target,
        from: &str,
        timings: &mut PhaseTimings,
    ) -> CopyResult {
        let Some(setup) = &self.sync else {
            return CopyResult::default();
        };
        let to = target.selection.active_version.clone();
        let t0 = Instant::now();
        let name = target.datasync_name(from);
        let r = setup.copier.sync(&name, target, from).await;
        timings.sync_ms = Some(ms(t0));
        let mut result = CopyResult {
            name: Some(name),
            ..CopyResult::default()
        };
        match r {
            Ok(steps) => {
                result.steps = steps;
                setup.save(&Intent {
                    plan: target.plan_name.clone(),
                    from: from.to_string(),
                    to,
                    synced: true,
                });
            }
            Err(failure) => {
                if !failure.retryable {
                    setup.failed(target.switch_key(from), failure.message.clone());
                }
                result.error = Some(ApplyError::Sync {
                    from: from.to_string(),
                    to,
                    message: failure.message,
                });
            }
        }
        result
    }
}

/// What the switch's copy left for the outcome.
#[derive(Default)]
pub(super) struct CopyResult {
    pub name: Option<String>,
    pub steps: Vec<turnout_crds::datasync::SyncStep>,
    pub error: Option<ApplyError>,
}
