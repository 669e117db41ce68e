//! Diff desired against observed into an ordered list of actions, each with
//! the reason it exists. Pure: `plan` prints the list, `apply` executes it.
//!
//! Order: stop what must not run (inactive versions) -> sync -> bring up
//! infrastructure and wait for it -> bring up the version and wait for it.
//! Only containers carrying turnout's labels for this plan are ever targets.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use turnout_crds::plan::SwitchStrategy;

use super::model::{Desired, DesiredContainer, ObservedContainer, Role, RunState};

/// When an action runs. Phases run in this order; actions of one phase run
/// in parallel, container by container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Phase {
    /// Stop containers that must not run.
    Stop,
    /// Bring up and wait for the infrastructure.
    Infrastructure,
    /// Bring up and wait for the active version.
    Version,
    /// Keep the inactive versions warm (`switchStrategy: Pause`): created,
    /// started once, then frozen. Last, so they never delay the active version.
    Standby,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Stop => "stop",
            Phase::Infrastructure => "infrastructure",
            Phase::Version => "version",
            Phase::Standby => "standby",
        }
    }

    fn of(role: &Role) -> Phase {
        match role {
            Role::Infrastructure => Phase::Infrastructure,
            Role::Version(_) => Phase::Version,
        }
    }
}

/// What to do to one container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ActionKind {
    /// SIGTERM, then kill after the container's stop timeout.
    Stop,
    /// Remove a stopped container (never its volumes).
    Remove,
    /// Create the container from its spec.
    Create,
    /// Start a created or stopped container.
    Start,
    /// Wait for the readiness probe.
    WaitReady,
    /// Freeze a running container (warm standby).
    Pause,
    /// Thaw a paused container.
    Unpause,
    /// Take over a container made by hand: keep the original stopped under
    /// another name, make turnout's in its place on the same data and, when
    /// it should run, start it and wait for it (the original is put back if
    /// it does not become ready).
    Adopt,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Stop => "stop",
            ActionKind::Remove => "remove",
            ActionKind::Create => "create",
            ActionKind::Start => "start",
            ActionKind::WaitReady => "wait-ready",
            ActionKind::Pause => "pause",
            ActionKind::Unpause => "unpause",
            ActionKind::Adopt => "adopt",
        }
    }

    /// Whether the action changes the host.
    pub fn is_mutating(self) -> bool {
        !matches!(self, ActionKind::WaitReady)
    }
}

/// One step of a reconcile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    pub phase: Phase,
    pub kind: ActionKind,
    pub container: String,
    pub role: Role,
    /// Why the action exists, for a person (printed by `plan`, logged and put in events).
    pub reason: String,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<10} {:<32} {}",
            self.kind.as_str(),
            self.container,
            self.reason
        )
    }
}

/// The ordered actions that move `observed` to `desired`. Empty when converged.
pub fn diff(desired: &Desired, observed: &[ObservedContainer]) -> Vec<Action> {
    let ours: HashMap<&str, &ObservedContainer> = observed
        .iter()
        .filter(|o| o.is_ours(&desired.plan))
        .map(|o| (o.name.as_str(), o))
        .collect();
    let mut actions = Vec::new();

    let standby = desired.strategy == SwitchStrategy::Pause;
    let kept_warm = |name: &str| standby && desired.inactive.iter().any(|d| d.name() == name);
    // Containers of this plan that must not run: other versions, or no
    // longer planned. Under Pause the other versions are kept warm instead.
    let mut stray: Vec<&&ObservedContainer> = ours
        .values()
        .filter(|o| desired.get(&o.name).is_none() && o.state.is_up() && !kept_warm(&o.name))
        .collect();
    stray.sort_by(|a, b| a.name.cmp(&b.name));
    for o in stray {
        let role = o.role().unwrap_or(Role::Infrastructure);
        let reason = match &role {
            Role::Version(v) if *v != desired.active_version => format!(
                "version {v} is not active (active: {})",
                desired.active_version
            ),
            _ => "no longer in the plan".to_string(),
        };
        actions.push(Action {
            phase: Phase::Stop,
            kind: ActionKind::Stop,
            container: o.name.clone(),
            role,
            reason,
        });
    }

    let hand_made = |d: &DesiredContainer| {
        d.adopt
            && !ours.contains_key(d.name())
            && observed
                .iter()
                .any(|o| o.name == d.name() && !o.is_turnouts())
    };
    // Other versions' containers made by hand: taken over, left stopped.
    for d in desired.inactive.iter().filter(|d| hand_made(d)) {
        actions.push(adoption(
            d,
            Phase::Stop,
            "it stays stopped: its version is not active",
        ));
    }
    for d in &desired.containers {
        if hand_made(d) {
            actions.push(adoption(
                d,
                Phase::of(&d.role),
                "then started, and waited for",
            ));
        } else {
            bring_up(d, ours.get(d.name()).copied(), standby, &mut actions);
        }
    }
    if standby {
        for d in desired.inactive.iter().filter(|d| !hand_made(d)) {
            keep_warm(
                d,
                ours.get(d.name()).copied(),
                &desired.active_version,
                &mut actions,
            );
        }
    }
    actions
}

/// `switchStrategy: Pause`: an inactive version's container exists, was
/// started once, and is paused. A running one is frozen first thing (that
/// is the switch's stop); making one warm waits until the active version is up.
fn keep_warm(
    d: &DesiredContainer,
    seen: Option<&ObservedContainer>,
    active: &str,
    actions: &mut Vec<Action>,
) {
    let mut push = |phase, kind, reason: String| {
        actions.push(Action {
            phase,
            kind,
            container: d.name().to_string(),
            role: d.role.clone(),
            reason,
        })
    };
    let warm = "kept warm: paused while its version is not active (switchStrategy Pause)";
    match seen {
        None => {
            push(
                Phase::Standby,
                ActionKind::Create,
                "not on the host".to_string(),
            );
            push(
                Phase::Standby,
                ActionKind::Start,
                "newly created".to_string(),
            );
        }
        Some(o) if o.spec_hash() != Some(d.spec_hash.as_str()) => {
            let why = format!(
                "recreating: its spec changed (hash {} -> {})",
                o.spec_hash().unwrap_or("none"),
                d.spec_hash
            );
            if o.state.is_up() {
                push(Phase::Stop, ActionKind::Stop, why.clone());
            }
            push(Phase::Standby, ActionKind::Remove, why.clone());
            push(Phase::Standby, ActionKind::Create, why);
            push(Phase::Standby, ActionKind::Start, "recreated".to_string());
        }
        Some(o) => match o.state {
            RunState::Paused => return,
            RunState::Running => {
                let reason = format!("{} is not active (active: {active}); {warm}", d.role);
                push(Phase::Stop, ActionKind::Pause, reason);
                return;
            }
            RunState::Stopped => push(
                Phase::Standby,
                ActionKind::Start,
                "it is stopped".to_string(),
            ),
            RunState::Restarting => {
                push(
                    Phase::Standby,
                    ActionKind::Stop,
                    "it is restarting".to_string(),
                );
                push(
                    Phase::Standby,
                    ActionKind::Start,
                    "it was restarting".to_string(),
                );
            }
        },
    }
    push(Phase::Standby, ActionKind::Pause, warm.to_string());
}

fn adoption(d: &DesiredContainer, phase: Phase, then: &str) -> Action {
    Action {
        phase,
        kind: ActionKind::Adopt,
        container: d.name().to_string(),
        role: d.role.clone(),
        reason: format!(
            "made by hand: kept stopped as {}, replaced by turnout's on the same data ({}); {then}",
            super::adopt::kept_name(d.name()),
            super::adopt::keeps(&d.spec)
        ),
    }
}

fn bring_up(
    d: &DesiredContainer,
    seen: Option<&ObservedContainer>,
    standby: bool,
    actions: &mut Vec<Action>,
) {
    let phase = Phase::of(&d.role);
    let mut push = |kind, reason: String| {
        actions.push(Action {
            phase,
            kind,
            container: d.name().to_string(),
            role: d.role.clone(),
            reason,
        })
    };
    match seen {
        None => {
            push(ActionKind::Create, "not on the host".to_string());
            push(ActionKind::Start, "newly created".to_string());
        }
        Some(o) if o.spec_hash() != Some(d.spec_hash.as_str()) => {
            let why = format!(
                "its spec changed (hash {} -> {})",
                o.spec_hash().unwrap_or("none"),
                d.spec_hash
            );
            if o.state.is_up() {
                push(ActionKind::Stop, format!("recreating: {why}"));
            }
            push(ActionKind::Remove, format!("recreating: {why}"));
            push(ActionKind::Create, format!("recreating: {why}"));
            push(ActionKind::Start, "recreated".to_string());
        }
        Some(o) => match o.state {
            RunState::Running => return,
            RunState::Stopped => push(ActionKind::Start, "it is stopped".to_string()),
            // Kept warm by switchStrategy Pause: thawed, the fast half of a switch.
            RunState::Paused if standby => push(
                ActionKind::Unpause,
                "its version is active again: thawed from warm standby".to_string(),
            ),
            RunState::Paused | RunState::Restarting => {
                // A paused or crash-looping container is stopped and started again.
                push(ActionKind::Stop, format!("it is {}", o.state.as_str()));
                push(ActionKind::Start, format!("it was {}", o.state.as_str()));
            }
        },
    }
    if d.spec.readiness.is_some() {
        push(
            ActionKind::WaitReady,
            "started; waiting for its readiness probe".to_string(),
        );
    }
}
