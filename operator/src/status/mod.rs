//! Report: turn a reconcile [`Outcome`] into the VersionSelection status of
//! DESIGN.md (kstatus conditions, containers, last switch, history).

pub mod document;
pub mod refused;

pub use document::{StandaloneStatus, write_atomically};
pub use refused::{RefusedEdit, RefusedPlan};

use turnout_crds::selection::{Condition, ContainerStatus, SwitchRecord, VersionSelectionStatus};

use crate::core::model::{ObservedContainer, RunState};
use crate::reconcile::{Outcome, Target, running_version};

/// How many past switches the status keeps.
pub const HISTORY: usize = 10;

/// A short, stable label for an outcome (metrics, logs).
pub fn outcome_label(o: &Outcome) -> &'static str {
    match o {
        Outcome::Invalid(_) => "invalid",
        Outcome::Unobserved(_) => "unobserved",
        Outcome::Blocked { .. } => "blocked",
        Outcome::Paused { .. } => "paused",
        Outcome::Applied(a) if a.error.is_some() => "failed",
        Outcome::Applied(a) if a.done.is_empty() => "converged",
        Outcome::Applied(_) => "applied",
    }
}

/// The condition reason of an outcome, and whether the selection is Ready.
fn verdict(target: &Target, o: &Outcome) -> (&'static str, bool, String) {
    let active = &target.selection.active_version;
    match o {
        Outcome::Invalid(v) => (
            "InvalidPlan",
            false,
            format!(
                "{} rule(s) broken: {}",
                v.len(),
                v.iter()
                    .take(3)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        Outcome::Unobserved(e) => (e.reason(), false, e.to_string()),
        Outcome::Blocked { blockers, .. } => (
            blockers.first().map_or("Blocked", |b| b.reason()),
            false,
            format!(
                "the switch to {active} has not begun, nothing was stopped: {}",
                blockers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        Outcome::Paused { pending, .. } => (
            "Paused",
            pending.is_empty(),
            format!("paused: {} action(s) pending", pending.len()),
        ),
        Outcome::Applied(a) => match &a.error {
            Some(e) => (e.reason(), false, e.to_string()),
            // Held on the previous version: not what the spec asks for, and
            // not tried again until the spec changes.
            None if a.rolled_back.is_some() => (
                "RolledBack",
                false,
                a.rolled_back
                    .as_ref()
                    .map(crate::reconcile::RolledBack::message)
                    .unwrap_or_default(),
            ),
            None if a.converged() => (
                "Converged",
                true,
                format!(
                    "version {active} is running; {} container(s) ready",
                    a.ready.len()
                ),
            ),
            None => {
                let unready: Vec<&str> = a
                    .desired
                    .containers
                    .iter()
                    .map(|c| c.name())
                    .filter(|n| !a.ready.contains(*n))
                    .collect();
                (
                    "Unhealthy",
                    false,
                    format!("not ready: {}", unready.join(", ")),
                )
            }
        },
    }
}

fn condition(
    prev: Option<&VersionSelectionStatus>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &str,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_string();
    let since = prev
        .and_then(|p| p.conditions.iter().find(|c| c.type_ == type_))
        .filter(|c| c.status == status)
        .map_or_else(|| now.to_string(), |c| c.last_transition_time.clone());
    Condition {
        type_: type_.to_string(),
        status,
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time: since,
        observed_generation: generation,
    }
}

/// A selected version without containers of its own (only the
/// infrastructure runs) is active once the host converged on it: no
/// container names it, so the running version cannot say so.
fn empty_version_converged(target: &Target, outcome: &Outcome) -> Option<String> {
    let active = &target.selection.active_version;
    let empty = target
        .plan
        .version(active)
        .is_some_and(|v| v.containers.is_empty());
    let converged = matches!(outcome, Outcome::Applied(a) if a.error.is_none() && a.converged());
    (empty && converged).then(|| active.clone())
}

fn observed_of(o: &Outcome) -> Option<&[ObservedContainer]> {
    match o {
        Outcome::Blocked { observed, .. } | Outcome::Paused { observed, .. } => Some(observed),
        Outcome::Applied(a) => Some(&a.observed),
        Outcome::Invalid(_) | Outcome::Unobserved(_) => None,
    }
}

/// The status after `outcome`, carrying history over from `prev`.
pub fn status_of(
    target: &Target,
    outcome: &Outcome,
    prev: Option<&VersionSelectionStatus>,
) -> VersionSelectionStatus {
    let mut status = VersionSelectionStatus {
        observed_generation: target.generation,
        conditions: conditions_of(target, outcome, prev),
        last_switch: prev.and_then(|p| p.last_switch.clone()),
        history: prev.map(|p| p.history.clone()).unwrap_or_default(),
        ..Default::default()
    };
    match observed_of(outcome) {
        Some(observed) => {
            status.active_version = running_version(observed, &target.plan_name)
                .or_else(|| empty_version_converged(target, outcome));
            status.containers = containers_of(target, outcome, observed);
        }
        None => {
            status.active_version = prev.and_then(|p| p.active_version.clone());
            status.containers = prev.map(|p| p.containers.clone()).unwrap_or_default();
        }
    }
    if let Some(record) = switch_record(outcome) {
        status.history.insert(0, record.clone());
        status.history.truncate(HISTORY);
        status.last_switch = Some(record);
    }
    status
}

/// Ready, Progressing and Degraded, as kstatus reads them.
fn conditions_of(
    target: &Target,
    outcome: &Outcome,
    prev: Option<&VersionSelectionStatus>,
) -> Vec<Condition> {
    let now = jiff::Timestamp::now().to_string();
    let (reason, ready, message) = verdict(target, outcome);
    let progressing = matches!(outcome, Outcome::Blocked { .. })
        || matches!(outcome, Outcome::Applied(a) if a.error.is_none() && !a.converged());
    let degraded = !ready && !progressing && !matches!(outcome, Outcome::Paused { .. });
    let generation = target.generation;
    let (p_reason, p_message) = if progressing {
        (reason, message.as_str())
    } else {
        ("Idle", "no change under way")
    };
    let (d_reason, d_message) = if degraded {
        (reason, message.as_str())
    } else {
        ("AsExpected", "no fault")
    };
    vec![
        condition(prev, "Ready", ready, reason, &message, generation, &now),
        condition(
            prev,
            "Progressing",
            progressing,
            p_reason,
            p_message,
            generation,
            &now,
        ),
        condition(
            prev, "Degraded", degraded, d_reason, d_message, generation, &now,
        ),
    ]
}

/// The plan's containers as observed, with their readiness.
fn containers_of(
    target: &Target,
    outcome: &Outcome,
    observed: &[ObservedContainer],
) -> Vec<ContainerStatus> {
    let ready = match outcome {
        Outcome::Applied(a) => Some(&a.ready),
        _ => None,
    };
    observed
        .iter()
        .filter(|o| o.is_ours(&target.plan_name))
        .map(|o| ContainerStatus {
            name: o.name.clone(),
            role: o.role().map(|r| r.label().to_string()).unwrap_or_default(),
            state: o.state.as_str().to_string(),
            ready: o.state == RunState::Running && ready.is_some_and(|r| r.contains(&o.name)),
            image: (!o.image.is_empty()).then(|| o.image.clone()),
            ports: o.ports.iter().map(ToString::to_string).collect(),
        })
        .collect()
}

/// The record of the switch an outcome made, if it made one.
fn switch_record(outcome: &Outcome) -> Option<SwitchRecord> {
    let Outcome::Applied(a) = outcome else {
        return None;
    };
    let sw = a.switch.as_ref()?;
    Some(SwitchRecord {
        from: sw.from.clone(),
        to: sw.to.clone(),
        started_at: sw.started_at.to_string(),
        finished_at: Some(sw.finished_at.to_string()),
        outcome: if a.error.is_some() {
            "Failed"
        } else if a.rolled_back_now() {
            "RolledBack"
        } else {
            "Succeeded"
        }
        .to_string(),
        message: match (&a.error, &a.rolled_back) {
            (Some(e), _) => Some(e.to_string()),
            (None, Some(rb)) if a.rolled_back_now() => Some(rb.message()),
            _ => None,
        },
        phases: a.timings.clone(),
        data_sync: a.data_sync.clone(),
    })
}

/// What keeps `outcome` from beginning a change (empty unless Blocked).
pub fn blockers_of(outcome: &Outcome) -> Vec<crate::core::preflight::Blocker> {
    match outcome {
        Outcome::Blocked { blockers, .. } => blockers.clone(),
        _ => Vec::new(),
    }
}

/// The `Ready` condition of a status.
pub fn ready_condition(s: &VersionSelectionStatus) -> Option<&Condition> {
    s.conditions.iter().find(|c| c.type_ == "Ready")
}
