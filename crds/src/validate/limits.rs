//! How big a plan turnout checks, and how many faults it reports.
//!
//! Several rules compare pairs (host ports published twice, overlapping
//! ranges), so their cost grows with the square of the plan. A plan from a
//! file is bounded by the loader's budget and one from the Kubernetes API
//! by the object size limit, but both allow tens of thousands of ranges or
//! ports: thousands of seconds of checking and billions of violations. A real
//! host has a few versions and a few dozen containers, so these limits sit
//! far above any real plan and keep every check well under a second.

use super::{Report, Violation, ViolationKind};
use crate::plan::PortPlanSpec;

/// Most versions in one plan.
pub const MAX_VERSIONS: usize = 256;
/// Most containers in one plan, infrastructure and every version together.
pub const MAX_CONTAINERS: usize = 2048;
/// Most port ranges in one plan, over every version.
pub const MAX_RANGES: usize = 2048;
/// Most published ports in one plan, over every container.
pub const MAX_PUBLISHED_PORTS: usize = 8192;
/// Most data bindings in one plan, over every version.
pub const MAX_DATA_BINDINGS: usize = 2048;
/// Most violations reported for one plan; a person fixes the first ones
/// and validates again.
pub const MAX_VIOLATIONS: usize = 1000;

/// A `TooLarge` violation for each count over its limit; empty when the
/// plan is small enough to check.
pub(super) fn plan_size_violations(plan: &PortPlanSpec) -> Vec<Violation> {
    let containers = || {
        plan.infrastructure
            .iter()
            .chain(plan.versions.iter().flat_map(|v| &v.containers))
    };
    let counts = [
        (
            "spec.versions",
            "versions",
            plan.versions.len(),
            MAX_VERSIONS,
        ),
        ("spec", "containers", containers().count(), MAX_CONTAINERS),
        (
            "spec.versions",
            "port ranges",
            plan.versions.iter().map(|v| v.ranges.len()).sum(),
            MAX_RANGES,
        ),
        (
            "spec",
            "published ports",
            containers().map(|c| c.ports.len()).sum(),
            MAX_PUBLISHED_PORTS,
        ),
        (
            "spec.versions",
            "data bindings",
            plan.versions.iter().map(|v| v.data.len()).sum(),
            MAX_DATA_BINDINGS,
        ),
    ];
    counts
        .into_iter()
        .filter(|(_, _, n, max)| n > max)
        .map(|(path, what, n, max)| Violation {
            kind: ViolationKind::TooLarge,
            path: path.to_string(),
            subjects: Vec::new(),
            port: None,
            message: format!(
                "the plan has {n} {what}; turnout checks plans of at most {max}, so it is not checked further. Split it into several plans (one per host)"
            ),
        })
        .collect()
}

/// How many items of a list a message names.
const LISTED: usize = 8;

/// The first few items, and how many more there are: a message about a
/// plan of thousands of versions stays a sentence.
pub fn first_few<I>(items: I) -> String
where
    I: ExactSizeIterator,
    I::Item: std::fmt::Display,
{
    let total = items.len();
    let mut list = items
        .take(LISTED)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if total > LISTED {
        list.push_str(&format!(" and {} more", total - LISTED));
    }
    list
}

impl Report {
    /// Whether the report holds [`MAX_VIOLATIONS`]: the pairwise checks stop
    /// as soon as it does, so a plan of faults costs no more than a clean one.
    pub(super) fn full(&self) -> bool {
        self.found.len() >= MAX_VIOLATIONS
    }

    /// When the report is full, marks it cut and says so: a pairwise check
    /// that found one more violation returns instead of formatting it.
    pub(super) fn stop(&mut self) -> bool {
        if self.full() {
            self.dropped = true;
        }
        self.dropped
    }

    /// The violations, with a last one saying the list was cut when it was.
    pub(super) fn finish(mut self) -> Vec<Violation> {
        if self.dropped {
            self.found.push(Violation {
                kind: ViolationKind::TooManyViolations,
                path: "spec".to_string(),
                subjects: Vec::new(),
                port: None,
                message: format!(
                    "checking stopped after {MAX_VIOLATIONS} violations; fix these and validate again"
                ),
            });
        }
        self.found
    }
}
