//! Prometheus metrics: reconciles, errors by reason, durations, switch phase
//! durations, drift corrections. Labels are stable names, never messages.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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

/// All of turnout's metrics and the registry that serves them.
pub struct Metrics {
    registry: Registry,
    pub reconciles: Family<OutcomeLabel, Counter>,
    pub errors: Family<ReasonLabel, Counter>,
    pub reconcile_seconds: Histogram,
    pub switch_phase_seconds: Family<PhaseLabel, Histogram>,
    pub drift_corrections: Counter,
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
        Metrics {
            registry,
            reconciles,
            errors,
            reconcile_seconds,
            switch_phase_seconds,
            drift_corrections,
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
