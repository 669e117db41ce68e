//! Applying a diff: the phases in order (stop, infrastructure, version),
//! the switch's copy between the last two, each container's chain of
//! actions in parallel with the others', then the readiness waits. The
//! cancellation token is checked between phases and between actions, never
//! inside one, so an action under way always finishes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures::future::join_all;
use tracing::info;
use turnout_crds::selection::PhaseTimings;

use super::switch::Intent;
use super::{Applied, ApplyError, Outcome, Reconciler, Run, Switch, Target};
use crate::core::model::{Desired, ObservedContainer};
use crate::core::{Action, ActionKind, Blocker, Phase, preflight};
use crate::host::HostPorts;
use crate::probe;
use crate::runtime::{ContainerConfig, ContainerRuntime};

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What a phase did: each action with its error, who became ready, the
/// first error, and the time spent waiting for readiness.
type PhaseResult = (
    Vec<(Action, Option<String>)>,
    BTreeSet<String>,
    Option<ApplyError>,
    u64,
);

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
                    .filter(|d| adopting.contains(d.name())),
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
        if from.as_deref() != Some(desired.active_version.as_str()) {
            run.progress
                .switch_started(from.as_deref(), &desired.active_version);
        }
        let sync_from = self.sync_source(target, before);
        self.record_intent(&desired, sync_from.as_deref(), false);
        let mut copy = CopyResult::default();
        let mut timings = PhaseTimings::default();
        let (mut done, mut ready, mut error) = (Vec::new(), BTreeSet::new(), None);
        for phase in [Phase::Stop, Phase::Infrastructure, Phase::Version] {
            // Shutdown between phases: no copy and no action starts after it.
            if phase != Phase::Stop && run.cancelled() {
                error = Some(ApplyError::Cancelled);
                break;
            }
            // The copy runs once the old version is stopped (a quiescent
            // source) and the infrastructure is up, before the new version starts.
            if phase == Phase::Version
                && let Some(f) = &sync_from
            {
                copy = self.copy_on_switch(target, f, &mut timings).await;
                if let Some(e) = copy.error.take() {
                    error = Some(e);
                    break;
                }
            }
            let of_phase: Vec<&Action> = actions.iter().filter(|a| a.phase == phase).collect();
            if of_phase.is_empty() {
                continue;
            }
            let t0 = Instant::now();
            let (results, phase_ready, phase_error, wait_ms) =
                self.run_phase(target, &desired, &of_phase, run).await;
            done.extend(results);
            ready.extend(phase_ready);
            record_timing(&mut timings, phase, ms(t0), wait_ms);
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
        ready.extend(self.readiness(&desired, &observed).await);
        let is_switch = from.as_deref() != Some(desired.active_version.as_str());
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
            synced: copy.steps,
            data_sync: copy.name,
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
    async fn copy_on_switch(
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

    /// Runs one phase: each container's chain of actions in parallel with the
    /// others', then the readiness waits, in parallel.
    async fn run_phase(
        &self,
        target: &Target,
        desired: &Desired,
        actions: &[&Action],
        run: &Run<'_>,
    ) -> PhaseResult {
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
        let runs = chains
            .iter()
            .map(|(_, chain)| self.run_chain(target, desired, chain, run));
        let mut results = Vec::new();
        let mut first_error = None;
        for (r, e) in join_all(runs).await {
            results.extend(r);
            if first_error.is_none() {
                first_error = e;
            }
        }
        if first_error.is_some() {
            return (results, BTreeSet::new(), first_error, 0);
        }
        let (waited, ready, wait_error, wait_ms) = self.wait_ready(desired, &waits, run).await;
        results.extend(waited);
        (results, ready, wait_error, wait_ms)
    }

    /// One container's actions, in order, stopping at the first error or
    /// when cancelled.
    async fn run_chain(
        &self,
        target: &Target,
        desired: &Desired,
        chain: &[&Action],
        run: &Run<'_>,
    ) -> (Vec<(Action, Option<String>)>, Option<ApplyError>) {
        let mut results = Vec::new();
        for a in chain {
            if run.cancelled() {
                return (results, Some(ApplyError::Cancelled));
            }
            run.progress.started(a);
            let r = self.act(target, desired, a, run).await;
            let msg = r.as_ref().err().map(ToString::to_string);
            run.progress.finished(a, msg.as_deref());
            results.push(((*a).clone(), msg));
            if let Err(e) = r {
                return (results, Some(e));
            }
        }
        (results, None)
    }

    /// The readiness waits of a phase, in parallel.
    async fn wait_ready(&self, desired: &Desired, waits: &[&Action], run: &Run<'_>) -> PhaseResult {
        let t0 = Instant::now();
        let waited = join_all(waits.iter().map(|a| async move {
            run.progress.started(a);
            let r = match desired.get(&a.container) {
                Some(d) => probe::wait_ready(self.runtime.as_ref(), &d.spec, &|| run.cancelled())
                    .await
                    .map_err(|seconds| match seconds {
                        None => ApplyError::Cancelled,
                        Some(seconds) => ApplyError::NotReady {
                            container: a.container.clone(),
                            seconds,
                        },
                    }),
                None => Ok(()),
            };
            let msg = r.as_ref().err().map(ToString::to_string);
            run.progress.finished(a, msg.as_deref());
            ((*a).clone(), r)
        }))
        .await;
        let wait_ms = ms(t0);
        let (mut results, mut ready, mut first_error) = (Vec::new(), BTreeSet::new(), None);
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

    async fn act(
        &self,
        target: &Target,
        desired: &Desired,
        a: &Action,
        run: &Run<'_>,
    ) -> Result<(), ApplyError> {
        let rt = self.runtime.as_ref();
        match a.kind {
            ActionKind::Stop => Ok(rt
                .stop(&a.container, target.stop_timeout(&a.container))
                .await?),
            ActionKind::Remove => Ok(rt.remove(&a.container).await?),
            ActionKind::Create => {
                let Some(d) = desired.get(&a.container) else {
                    return Ok(());
                };
                let resolver = crate::secrets::resolver_of(target);
                let files = self.secrets.write_for(&d.spec, &resolver)?;
                Ok(rt.create(&ContainerConfig::of(d, files)).await?)
            }
            ActionKind::Start => Ok(rt.start(&a.container).await?),
            ActionKind::WaitReady => Ok(()),
            ActionKind::Adopt => match desired.get(&a.container) {
                Some(d) => self.adopt(target, d, true, run).await,
                None => match desired.inactive.iter().find(|d| d.name() == a.container) {
                    Some(d) => self.adopt(target, d, false, run).await,
                    None => Ok(()),
                },
            },
        }
    }
}

/// What the switch's copy left for the outcome.
#[derive(Default)]
struct CopyResult {
    name: Option<String>,
    steps: Vec<turnout_crds::datasync::SyncStep>,
    error: Option<ApplyError>,
}

fn record_timing(timings: &mut PhaseTimings, phase: Phase, ms: u64, wait_ms: u64) {
    match phase {
        Phase::Stop => timings.stop_ms = Some(ms),
        _ => {
            timings.start_ms = Some(timings.start_ms.unwrap_or(0) + ms.saturating_sub(wait_ms));
            timings.ready_ms = Some(timings.ready_ms.unwrap_or(0) + wait_ms);
        }
    }
}
