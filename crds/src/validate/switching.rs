//! The switch rules: what a switch strategy needs from the plan and the
//! selection, and the bounds of an automatic rollback.

use super::{Report, ViolationKind};
use crate::plan::{PortPlanSpec, Rollback, SwitchStrategy};
use crate::selection::VersionSelectionSpec;

/// The longest progress deadline turnout accepts: an hour.
pub const MAX_PROGRESS_DEADLINE_SECONDS: u32 = 3600;

pub(super) fn check_rollback(path: &str, rollback: Option<&Rollback>, r: &mut Report) {
    let Some(rb) = rollback else {
        return;
    };
    let d = rb.progress_deadline_seconds;
    if d == 0 || d > MAX_PROGRESS_DEADLINE_SECONDS {
        r.push(
            ViolationKind::InvalidSwitch,
            format!("{path}.progressDeadlineSeconds"),
            format!(
                "progressDeadlineSeconds is {d}; give the new version between 1 and {MAX_PROGRESS_DEADLINE_SECONDS} seconds to become ready"
            ),
        );
    }
    if rb.min_ready_seconds > d {
        r.push(
            ViolationKind::InvalidSwitch,
            format!("{path}.minReadySeconds"),
            format!(
                "minReadySeconds ({}) is longer than progressDeadlineSeconds ({d}); a switch could never finish in time",
                rb.min_ready_seconds
            ),
        );
    }
}

/// `Overlap` and `Pause` run two versions' containers at once: a switch
/// that copies data (it needs the old version stopped, a quiescent source)
/// cannot use them. Ports shared between versions are checked with the
/// other port conflicts.
pub(super) fn check_strategy_for(
    plan: &PortPlanSpec,
    selection: &VersionSelectionSpec,
    r: &mut Report,
) {
    let strategy = plan.switch_strategy;
    if strategy == SwitchStrategy::StopFirst || !selection.sync_on_switch {
        return;
    }
    for (i, a) in plan.versions.iter().enumerate() {
        for b in &plan.versions[i + 1..] {
            let Some(shared) = a
                .data
                .iter()
                .find(|x| b.data.iter().any(|y| y.name == x.name))
            else {
                continue;
            };
            if r.stop() {
                return;
            }
            r.push(
                ViolationKind::InvalidSwitch,
                "spec.syncOnSwitch",
                format!(
                    "the plan's switchStrategy {} cannot apply: versions {} and {} both hold data {:?}, which a switch between them copies (syncOnSwitch is true) and a copy needs the old version stopped first. Set syncOnSwitch: false, or use switchStrategy StopFirst",
                    strategy.as_str(),
                    a.name,
                    b.name,
                    shared.name
                ),
            );
            return;
        }
    }
}
