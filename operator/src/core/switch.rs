//! Which version runs, where a switch comes from, and whether a version's
//! data is in use: pure reads of what was observed.

use super::model::{ObservedContainer, Role, RunState};

/// Where a switch to `active` comes from: `active` itself when it already
/// runs (drift is not a switch), else the version found running, if any.
pub fn switch_from(observed: &[ObservedContainer], plan: &str, active: &str) -> Option<String> {
    let active_runs = observed.iter().any(|o| {
        o.is_ours(plan)
            && o.state == RunState::Running
            && o.role() == Some(Role::Version(active.to_string()))
    });
    if active_runs {
        Some(active.to_string())
    } else {
        running_version(observed, plan)
    }
}

/// The version whose containers were running (the first found), if any.
pub fn running_version(observed: &[ObservedContainer], plan: &str) -> Option<String> {
    observed
        .iter()
        .filter(|o| o.is_ours(plan) && o.state == RunState::Running)
        .find_map(|o| match o.role() {
            Some(Role::Version(v)) => Some(v),
            _ => None,
        })
}

/// The containers of `version` of `plan` that are up in any way (running,
/// restarting, paused): while there is one, the version's data is in use
/// and is never overwritten. The one rule every way of syncing follows.
pub fn version_up(observed: &[ObservedContainer], plan: &str, version: &str) -> Vec<String> {
    observed
        .iter()
        .filter(|o| {
            o.is_ours(plan)
                && o.state.is_up()
                && o.role() == Some(Role::Version(version.to_string()))
        })
        .map(|o| o.name.clone())
        .collect()
}

/// The sentence a sync that must wait for `version` says.
pub fn waiting_for(version: &str) -> String {
    format!("waiting: version {version} is running, and its data is not overwritten under it")
}
