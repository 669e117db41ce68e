//! Prometheus metrics: reconciles, errors by reason, durations, switch phase
//! durations, drift corrections, leadership. Labels are stable names, never
//! messages.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::reconcile::Outcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabel {
    pub phase: &'static str,
}

/// A notification's sink kind and event.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotifyLabel {
    pub kind: &'static str,
    pub event: &'static str,
}

/// All of turnout's metrics and the registry that serves them.
pub struct Metrics {
    registry: Registry,
    pub reconciles: Family<OutcomeLabel, Counter>,
    pub errors: Family<ReasonLabel, Counter>,
    pub reconcile_seconds: Histogram,
    pub switch_phase_seconds: Family<PhaseLabel, Histogram>,
    pub drift_corrections: Counter,
    /// Switches that went back to the previous version by themselves.
    pub rollbacks: Counter,
    /// 1 while this instance holds the Lease (`turnout run`).
    pub leader: Gauge,
    /// Notifications delivered, given up on, and dropped on a full queue.
    pub notifications_sent: Family<NotifyLabel, Counter>,
    pub notifications_failed: Family<NotifyLabel, Counter>,
    pub notifications_dropped: Family<NotifyLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("turnout");
        let reconciles = Family::<OutcomeLabel, Counter>::default();
        let errors = Family::<ReasonLabel, Counter>::default();
        let reconcile_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 18));
        let switch_phase_seconds = Family::<PhaseLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.01, 2.0, 16))
        });
        let drift_corrections = Counter::default();
        let leader = Gauge::default();
        let rollbacks = Counter::default();
        registry.register(
            "rollbacks",
            "Switches whose new version did not come up and that went back to the previous version",
            rollbacks.clone(),
        );
        registry.register("reconciles", "Reconciles by outcome", reconciles.clone());
        registry.register("errors", "Reconcile errors by reason", errors.clone());
        registry.register(
            "reconcile_duration_seconds",
            "Time of one reconcile",
            reconcile_seconds.clone(),
        );
        registry.register(
            "switch_phase_duration_seconds",
            "Time of each phase of a switch (stop, sync, start, ready)",
            switch_phase_seconds.clone(),
        );
        registry.register(
            "drift_corrections",
            "Reconciles that changed a host nobody asked to change (drift)",
            drift_corrections.clone(),
        );
        registry.register(
            "leader",
            "1 while this instance holds the Lease and serves selections (turnout run)",
            leader.clone(),
        );
        let [
            notifications_sent,
            notifications_failed,
            notifications_dropped,
        ] = [(); 3].map(|()| Family::<NotifyLabel, Counter>::default());
        for (name, help, family) in [
            (
                "notifications_sent",
                "Notifications a sink accepted",
                &notifications_sent,
            ),
            (
                "notifications_failed",
                "Notifications given up on after their retries",
                &notifications_failed,
            ),
            (
                "notifications_dropped",
                "Notifications dropped because the queue was full",
                &notifications_dropped,
            ),
        ] {
            registry.register(name, help, family.clone());
        }
        Metrics {
            notifications_sent,
            notifications_failed,
            notifications_dropped,
            registry,
            reconciles,
            errors,
            reconcile_seconds,
            switch_phase_seconds,
            drift_corrections,
            rollbacks,
            leader,
        }
    }

    /// Counts one reconcile: its outcome, how long it took, its errors by
    /// reason, a drift correction (`was_converged`: the same spec had
    /// converged before) and the phases of a switch.
    pub fn observe(&self, outcome: &Outcome, took: std::time::Duration, was_converged: bool) {
        self.reconcile_seconds.observe(took.as_secs_f64());
        self.reconciles
            .get_or_create(&OutcomeLabel {
                outcome: crate::status::outcome_label(outcome),
            })
            .inc();
        let reason = |reason: &'static str| {
            self.errors.get_or_create(&ReasonLabel { reason }).inc();
        };
        match outcome {
            Outcome::Invalid(_) => reason("InvalidPlan"),
            Outcome::Unobserved(e) => reason(e.reason()),
            Outcome::Blocked { blockers, .. } => blockers.iter().for_each(|b| reason(b.reason())),
            Outcome::Paused { .. } => {}
            Outcome::Applied(a) => {
                if let Some(e) = &a.error {
                    reason(e.reason());
                }
                if !a.done.is_empty() && was_converged && a.switch.is_none() {
                    self.drift_corrections.inc();
                }
                if a.rolled_back_now() {
                    self.rollbacks.inc();
                }
                if a.switch.is_some() {
                    let t = &a.timings;
                    for (phase, ms) in [
                        ("stop", t.stop_ms),
                        ("sync", t.sync_ms),
                        ("start", t.start_ms),
                        ("ready", t.ready_ms),
                        ("rollback", t.rollback_ms),
                    ] {
                        if let Some(ms) = ms {
                            self.switch_phase_seconds
                                .get_or_create(&PhaseLabel { phase })
                                .observe(ms as f64 / 1000.0);
                        }
                    }
                }
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
