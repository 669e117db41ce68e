//! The pure part of a reconcile: validate the target, build the desired
//! state and diff it against what was observed. No I/O.

use turnout_crds::validate::{Violation, validate_plan, validate_selection};

use super::model::{Desired, ObservedContainer};
use super::target::Target;
use super::{Action, build_desired, diff};

/// Validation, desired state and the ordered actions that converge
/// `observed` to it; or every rule the target breaks.
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
    let mut desired = build_desired(
        &target.plan_name,
        &target.plan,
        &target.selection.active_version,
    )
    .ok_or_else(Vec::new)?;
    if target.adopt {
        for c in desired.containers.iter_mut().chain(&mut desired.inactive) {
            c.adopt = true;
        }
    }
    let actions = diff(&desired, observed);
    Ok((desired, actions))
}
