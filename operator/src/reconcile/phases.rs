//! Running a diff's actions: the phases in order (stop, infrastructure,
//! version, standby), or the stop phase alongside the others under
//! `switchStrategy: Overlap`; each container's chain of actions in parallel
//! with the others'; the readiness waits, bounded by a watched switch's
//! deadline; and what a watched switch checks once its version is up.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::future::join_all;
use turnout_crds::plan::{Rollback, SwitchStrategy};
use turnout_crds::selection::PhaseTimings;

use super::apply::{CopyResult, ms};
use super::{ApplyError, Reconciler, Run, Target};
use crate::core::model::Desired;
use crate::core::{Action, ActionKind, Phase, Role};
use crate::host::HostPorts;
use crate::probe;
use crate::runtime::{ContainerConfig, ContainerRuntime};

/// What a phase did: each action with its error, who became ready, the
/// first error, and the time spent waiting for readiness.
type PhaseResult = (
    Vec<(Action, Option<String>)>,
    BTreeSet<String>,
    Option<ApplyError>,
    u64,
);

impl<R: ContainerRuntime, H: HostPorts> Reconciler<R, H> {
    /// The phases in order; under `switchStrategy: Overlap` (and no copy)
    /// the stop phase runs alongside the others instead of before them.
    pub(super) async fn run_phases(
        &self,
        target: &Target,
        desired: &Desired,
        actions: &[Action],
        sync_from: Option<&str>,
        watch: Option<&Watch>,
        run: &Run<'_>,
    ) -> Steps {
        const UP: [Phase; 3] = [Phase::Infrastructure, Phase::Version, Phase::Standby];
        if desired.strategy == SwitchStrategy::Overlap && sync_from.is_none() {
            let (mut stopped, up) = tokio::join!(
                self.run_sequence(target, desired, actions, &[Phase::Stop], None, None, run),
                self.run_sequence(target, desired, actions, &UP, None, watch, run),
            );
            stopped.absorb(up);
            return stopped;
        }
        let all = [
            Phase::Stop,
            Phase::Infrastructure,
            Phase::Version,
            Phase::Standby,
        ];
        self.run_sequence(target, desired, actions, &all, sync_from, watch, run)
            .await
    }

    /// `phases` one after the other, stopping at the first error; the
    /// switch's copy runs before the version phase.
    #[allow(clippy::too_many_arguments)]
    async fn run_sequence(
        &self,
        target: &Target,
        desired: &Desired,
        actions: &[Action],
        phases: &[Phase],
        sync_from: Option<&str>,
        watch: Option<&Watch>,
        run: &Run<'_>,
    ) -> Steps {
        let mut steps = Steps::default();
        for &phase in phases {
            // Shutdown between phases: no copy and no action starts after it.
            if phase != Phase::Stop && run.cancelled() {
                steps.error = Some(ApplyError::Cancelled);
                break;
            }
            // The copy runs once the old version is stopped (a quiescent
            // source) and the infrastructure is up, before the new version starts.
            if phase == Phase::Version
                && let Some(f) = sync_from
            {
                steps.copy = self.copy_on_switch(target, f, &mut steps.timings).await;
                if let Some(e) = steps.copy.error.take() {
                    steps.error = Some(e);
                    break;
                }
            }
            let of_phase: Vec<&Action> = actions.iter().filter(|a| a.phase == phase).collect();
            if of_phase.is_empty() {
                continue;
            }
            let t0 = Instant::now();
            let watch = watch.filter(|_| phase == Phase::Version);
            let (results, phase_ready, mut phase_error, wait_ms) =
                self.run_phase(target, desired, &of_phase, watch, run).await;
            if phase_error.is_none()
                && let Some(w) = watch
            {
                phase_error = self.stays_up(desired, w, t0).await;
            }
            steps.done.extend(results);
            steps.ready.extend(phase_ready);
            record_timing(&mut steps.timings, phase, ms(t0), wait_ms);
            if phase_error.is_some() {
                steps.error = phase_error;
                steps.failed_in = Some(phase);
                break;
            }
        }
        steps
    }

    /// `minReadySeconds` after the version phase began, every container of
    /// the new version must still be up; the first that is not fails the switch.
    async fn stays_up(
        &self,
        desired: &Desired,
        watch: &Watch,
        began: Instant,
    ) -> Option<ApplyError> {
        if let Some(wait) = watch.min_ready.checked_sub(began.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        for c in desired
            .containers
            .iter()
            .filter(|c| c.role != Role::Infrastructure)
        {
            if let Some(exit_code) = probe::exited(self.runtime.as_ref(), c.name()).await {
                return Some(ApplyError::Exited {
                    container: c.name().to_string(),
                    exit_code,
                });
            }
        }
        None
    }

    /// Runs one phase: each container's chain of actions in parallel with the
    /// others', then the readiness waits, in parallel.
    async fn run_phase(
        &self,
        target: &Target,
        desired: &Desired,
        actions: &[&Action],
        watch: Option<&Watch>,
        run: &Run<'_>,
    ) -> PhaseResult {
        let t0 = Instant::now();
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
        let deadline = watch.map(|w| (t0 + w.deadline, w.deadline_seconds()));
        let (waited, ready, wait_error, wait_ms) =
            self.wait_ready(desired, &waits, deadline, run).await;
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

    /// The readiness waits of a phase, in parallel; with a deadline (a
    /// watched switch), the first container still not ready then fails it.
    async fn wait_ready(
        &self,
        desired: &Desired,
        waits: &[&Action],
        deadline: Option<(Instant, u32)>,
        run: &Run<'_>,
    ) -> PhaseResult {
        let t0 = Instant::now();
        let finished = std::sync::Mutex::new(BTreeSet::new());
        let all = join_all(waits.iter().map(|a| async {
            run.progress.started(a);
            let r = match desired.get(&a.container) {
                Some(d) => probe::wait_ready(self.runtime.as_ref(), &d.spec, &|| run.cancelled())
                    .await
                    .map_err(|why| not_ready(&a.container, why)),
                None => Ok(()),
            };
            if let Ok(mut f) = finished.lock() {
                f.insert(a.container.clone());
            }
            let msg = r.as_ref().err().map(ToString::to_string);
            run.progress.finished(a, msg.as_deref());
            ((*a).clone(), r)
        }));
        let waited = match deadline {
            None => all.await,
            Some((deadline, seconds)) => {
                let limit = deadline.saturating_duration_since(t0);
                match tokio::time::timeout(limit, all).await {
                    Ok(w) => w,
                    Err(_) => {
                        let done = finished.lock().map(|f| f.clone()).unwrap_or_default();
                        return past_deadline(waits, &done, seconds, t0);
                    }
                }
            }
        };
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
                let Some(d) = desired.made(&a.container) else {
                    return Ok(());
                };
                let resolver = crate::secrets::resolver_of(target);
                let files = self.secrets.write_for(&d.spec, &resolver)?;
                Ok(rt.create(&ContainerConfig::of(d, files)).await?)
            }
            ActionKind::Start => Ok(rt.start(&a.container).await?),
            ActionKind::WaitReady => Ok(()),
            ActionKind::Pause => Ok(rt.pause(&a.container).await?),
            ActionKind::Unpause => Ok(rt.unpause(&a.container).await?),
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

/// The error of a readiness wait that did not succeed.
fn not_ready(container: &str, why: probe::NotReady) -> ApplyError {
    match why {
        probe::NotReady::Cancelled => ApplyError::Cancelled,
        probe::NotReady::TimedOut(seconds) => ApplyError::NotReady {
            container: container.to_string(),
            seconds,
        },
        probe::NotReady::Exited(exit_code) => ApplyError::Exited {
            container: container.to_string(),
            exit_code,
        },
    }
}

/// The waits of a watched switch when its deadline passed: those still
/// waiting fail, the first of them names the error.
fn past_deadline(
    waits: &[&Action],
    finished: &BTreeSet<String>,
    seconds: u32,
    t0: Instant,
) -> PhaseResult {
    let mut results = Vec::new();
    let mut first = None;
    for a in waits.iter().filter(|a| !finished.contains(&a.container)) {
        let e = ApplyError::NotReady {
            container: a.container.clone(),
            seconds,
        };
        results.push((
            (*a).clone(),
            Some(format!("{e} (the switch's progress deadline)")),
        ));
        first.get_or_insert(e);
    }
    (results, BTreeSet::new(), first, ms(t0))
}

/// How a switch that may roll back is watched: how long the new version
/// has to become ready, and how long it must then stay up.
pub(super) struct Watch {
    deadline: Duration,
    min_ready: Duration,
}

impl Watch {
    fn deadline_seconds(&self) -> u32 {
        u32::try_from(self.deadline.as_secs()).unwrap_or(u32::MAX)
    }

    pub(super) fn of(r: &Rollback) -> Watch {
        Watch {
            deadline: Duration::from_secs(u64::from(r.progress_deadline_seconds)),
            min_ready: Duration::from_secs(u64::from(r.min_ready_seconds)),
        }
    }
}

/// What the phases did, for the outcome.
#[derive(Default)]
pub(super) struct Steps {
    pub done: Vec<(Action, Option<String>)>,
    pub ready: BTreeSet<String>,
    pub error: Option<ApplyError>,
    /// The phase whose error stopped the rest.
    pub failed_in: Option<Phase>,
    pub timings: PhaseTimings,
    pub copy: CopyResult,
}

impl Steps {
    /// Folds in the steps of phases that ran alongside (Overlap).
    fn absorb(&mut self, other: Steps) {
        self.done.extend(other.done);
        self.ready.extend(other.ready);
        if self.error.is_none() {
            self.error = other.error;
            self.failed_in = other.failed_in;
        }
        let t = other.timings;
        self.timings.sync_ms = self.timings.sync_ms.or(t.sync_ms);
        self.timings.start_ms = self.timings.start_ms.or(t.start_ms);
        self.timings.ready_ms = self.timings.ready_ms.or(t.ready_ms);
        if other.copy.name.is_some() {
            self.copy = other.copy;
        }
    }
}

fn record_timing(timings: &mut PhaseTimings, phase: Phase, ms: u64, wait_ms: u64) {
    match phase {
        Phase::Stop => timings.stop_ms = Some(ms),
        // Warming the other versions is not part of the switch people wait for.
        Phase::Standby => {}
        _ => {
            timings.start_ms = Some(timings.start_ms.unwrap_or(0) + ms.saturating_sub(wait_ms));
            timings.ready_ms = Some(timings.ready_ms.unwrap_or(0) + wait_ms);
        }
    }
}
