//! A small simulator of the engine: it applies actions in order and
//! refuses anything Docker would refuse or that would be a wasted call.

use std::collections::BTreeMap;

use serde_json::json;
use turnout::core::{
    Action, ActionKind, Desired, ObservedContainer, Phase, RunState, build_desired, diff,
};
use turnout_crds::plan::PortPlanSpec;

use super::{IMAGES, PLAN};

/// Applies `actions` in order like the engine would; refuses calls Docker
/// would refuse and calls that would change nothing.
pub fn simulate(
    desired: &Desired,
    observed: &[ObservedContainer],
    actions: &[Action],
) -> Result<Vec<ObservedContainer>, String> {
    let mut host: Vec<ObservedContainer> = observed.to_vec();
    for a in actions {
        let at = host.iter().position(|o| o.name == a.container);
        if let Some(i) = at
            && !host[i].is_ours(PLAN)
            && a.kind != ActionKind::Adopt
        {
            return Err(format!("{a:?} addresses a foreign container {:?}", host[i]));
        }
        match (a.kind, at) {
            (ActionKind::Stop, Some(i)) => {
                if host[i].state == RunState::Stopped {
                    return Err(format!("{a:?}: already stopped (a wasted call)"));
                }
                host[i].state = RunState::Stopped;
            }
            (ActionKind::Remove, Some(i)) => {
                if host[i].state != RunState::Stopped {
                    return Err(format!(
                        "{a:?}: cannot remove a {:?} container",
                        host[i].state
                    ));
                }
                host.remove(i);
            }
            (ActionKind::Create, None) => {
                // Under switchStrategy Pause the other versions are created too (kept warm).
                let warm = (desired.strategy == turnout_crds::plan::SwitchStrategy::Pause)
                    .then(|| desired.inactive.iter().find(|d| d.name() == a.container))
                    .flatten();
                let d = desired
                    .get(&a.container)
                    .or(warm)
                    .ok_or_else(|| format!("{a:?}: creates a container that is not desired"))?;
                host.push(ObservedContainer {
                    image_id: None,
                    mounts: Vec::new(),
                    id: format!("new-{}", a.container),
                    name: a.container.clone(),
                    image: d.spec.image.clone(),
                    labels: d.labels(),
                    state: RunState::Stopped,
                    ports: Vec::new(),
                });
            }
            (ActionKind::Create, Some(_)) => return Err(format!("{a:?}: the name is in use")),
            (ActionKind::Start, Some(i)) => {
                if host[i].state != RunState::Stopped {
                    return Err(format!("{a:?}: start of a {:?} container", host[i].state));
                }
                host[i].state = RunState::Running;
            }
            (ActionKind::WaitReady, Some(i)) => {
                if host[i].state != RunState::Running {
                    return Err(format!("{a:?}: waits on a {:?} container", host[i].state));
                }
            }
            (ActionKind::Pause, Some(i)) => {
                if host[i].state != RunState::Running {
                    return Err(format!("{a:?}: pause of a {:?} container", host[i].state));
                }
                host[i].state = RunState::Paused;
            }
            (ActionKind::Unpause, Some(i)) => {
                if host[i].state != RunState::Paused {
                    return Err(format!("{a:?}: unpause of a {:?} container", host[i].state));
                }
                host[i].state = RunState::Running;
            }
            (ActionKind::Adopt, Some(i)) => adopt(desired, &mut host, i, a)?,
            (_, None) => return Err(format!("{a:?}: no such container")),
        }
    }
    Ok(host)
}

/// An adoption: the original, made by hand, is kept stopped under another
/// name; turnout's container takes its place, running when it is desired.
fn adopt(
    desired: &Desired,
    host: &mut Vec<ObservedContainer>,
    i: usize,
    a: &Action,
) -> Result<(), String> {
    if host[i].is_turnouts() {
        return Err(format!("{a:?}: adopts a container turnout made"));
    }
    let kept = turnout::core::adopt::kept_name(&a.container);
    if host.iter().any(|o| o.name == kept) {
        return Err(format!("{a:?}: {kept} is in use"));
    }
    let (d, run) = match desired.get(&a.container) {
        Some(d) => (d, true),
        None => desired
            .inactive
            .iter()
            .find(|d| d.name() == a.container)
            .map(|d| (d, false))
            .ok_or_else(|| format!("{a:?}: adopts a container the plan does not have"))?,
    };
    if !d.adopt {
        return Err(format!("{a:?}: the plan does not allow adopting it"));
    }
    host[i].name = kept;
    host[i].state = RunState::Stopped;
    host.push(ObservedContainer {
        image_id: None,
        mounts: Vec::new(),
        id: format!("adopted-{}", a.container),
        name: a.container.clone(),
        image: d.spec.image.clone(),
        labels: d.labels(),
        state: if run {
            RunState::Running
        } else {
            RunState::Stopped
        },
        ports: Vec::new(),
    });
    Ok(())
}

pub fn foreign_of(host: &[ObservedContainer]) -> Vec<ObservedContainer> {
    let mut f: Vec<_> = host.iter().filter(|o| !o.is_ours(PLAN)).cloned().collect();
    f.sort_by(|a, b| a.name.cmp(&b.name));
    f
}

/// Every image of the plans, present (image -> id).
pub fn all_images() -> BTreeMap<String, String> {
    IMAGES
        .iter()
        .map(|s| (s.to_string(), format!("sha256:{s}")))
        .collect()
}

fn action(kind: ActionKind, container: &str) -> Action {
    Action {
        phase: Phase::Version,
        kind,
        container: container.to_string(),
        role: turnout::core::Role::Version("v0".to_string()),
        reason: "test".to_string(),
    }
}

#[test]
fn the_simulator_refuses_bad_steps() {
    let plan: PortPlanSpec = serde_json::from_value(json!({
        "versions": [{"name": "v0", "containers": [{"name": "web", "image": "busybox:1"}]}]
    }))
    .expect("plan");
    let desired = build_desired(PLAN, &plan, "v0").expect("desired");
    let ours = ObservedContainer {
        image_id: None,
        mounts: Vec::new(),
        id: "1".into(),
        name: "web".into(),
        image: "busybox:1".into(),
        labels: desired.containers[0].labels(),
        state: RunState::Running,
        ports: Vec::new(),
    };
    let mut theirs = ours.clone();
    theirs.labels.clear();
    let host = vec![ours.clone()];
    assert!(
        simulate(&desired, &host, &[action(ActionKind::Remove, "web")]).is_err(),
        "remove while running"
    );
    assert!(
        simulate(&desired, &host, &[action(ActionKind::Start, "web")]).is_err(),
        "start while running"
    );
    assert!(
        simulate(&desired, &host, &[action(ActionKind::Create, "web")]).is_err(),
        "name in use"
    );
    assert!(
        simulate(&desired, &[], &[action(ActionKind::Start, "web")]).is_err(),
        "no such container"
    );
    assert!(
        simulate(&desired, &[], &[action(ActionKind::Create, "db")]).is_err(),
        "not desired"
    );
    assert!(
        simulate(
            &desired,
            &[theirs.clone()],
            &[action(ActionKind::Stop, "web")]
        )
        .is_err(),
        "foreign"
    );
    let ok = simulate(
        &desired,
        &host,
        &[
            action(ActionKind::Stop, "web"),
            action(ActionKind::Remove, "web"),
            action(ActionKind::Create, "web"),
            action(ActionKind::Start, "web"),
        ],
    )
    .expect("a recreate is fine");
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].state, RunState::Running);
    assert_eq!(ok[0].labels, desired.containers[0].labels());
    assert!(diff(&desired, &ok).is_empty());
}
