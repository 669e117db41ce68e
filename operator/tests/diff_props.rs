//! Property tests of the pure core: `build_desired`, `diff` and `preflight`
//! over random plans and random hosts.
//!
//! A host holds, for every container of the plan, nothing or a container in
//! a random state (possibly with a stale spec hash), all carrying turnout's
//! labels; plus containers of this plan that are no longer in it (orphans),
//! and foreign containers (no labels, another plan's labels, half of our
//! labels) in random states, some under names the plan uses.
//!
//! The diff is checked against a small simulator of the engine that refuses
//! anything Docker would refuse or that would be a wasted call.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;
use turnout::core::model::{LABEL_MANAGED_BY, LABEL_PLAN, LABEL_ROLE, LABEL_SPEC_HASH, MANAGED_BY};
use turnout::core::{
    Action, ActionKind, Blocker, Desired, ObservedContainer, Phase, RunState, build_desired, diff,
    preflight,
};
use turnout_crds::plan::PortPlanSpec;

const PLAN: &str = "shop";
const IMAGES: [&str; 3] = ["busybox:1", "mysql:8.0", "redis:7"];

// ---- generation --------------------------------------------------------------

/// How a plan container is found on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Absent,
    Stopped,
    Running,
    RunningStale,
    StoppedStale,
    Paused,
    Restarting,
}

fn seen() -> impl Strategy<Value = Seen> {
    prop_oneof![
        Just(Seen::Absent),
        Just(Seen::Stopped),
        Just(Seen::Running),
        Just(Seen::RunningStale),
        Just(Seen::StoppedStale),
        Just(Seen::Paused),
        Just(Seen::Restarting),
    ]
}

#[derive(Clone, Copy, Debug)]
enum ForeignLabels {
    None,
    /// turnout's labels, for another plan.
    OtherPlan,
    /// managed-by turnout, no plan label.
    ManagedNoPlan,
    /// Our plan label without managed-by (someone copied a label).
    PlanNotManaged,
}

#[derive(Clone, Debug)]
struct ForeignGen {
    labels: ForeignLabels,
    state: RunState,
    /// Take a plan container's name (when the plan container is absent), or a fresh one.
    plan_name: Option<Index>,
}

fn run_state() -> impl Strategy<Value = RunState> {
    prop_oneof![
        Just(RunState::Running),
        Just(RunState::Stopped),
        Just(RunState::Paused),
        Just(RunState::Restarting),
    ]
}

fn foreign_gen() -> impl Strategy<Value = ForeignGen> {
    (
        prop_oneof![
            Just(ForeignLabels::None),
            Just(ForeignLabels::OtherPlan),
            Just(ForeignLabels::ManagedNoPlan),
            Just(ForeignLabels::PlanNotManaged),
        ],
        run_state(),
        prop::option::of(any::<Index>()),
    )
        .prop_map(|(labels, state, plan_name)| ForeignGen {
            labels,
            state,
            plan_name,
        })
}

#[derive(Clone, Debug)]
struct Scenario {
    plan: PortPlanSpec,
    active: String,
    /// Every plan container: (name, Some(version) or None for infrastructure).
    placed: Vec<(String, Option<String>)>,
    seen: Vec<Seen>,
    foreign: Vec<ForeignGen>,
    /// Orphans: (version index, state) of containers of this plan no longer in it.
    orphans: Vec<(Index, RunState)>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        1..=3usize,
        prop::collection::vec(1..=4usize, 2..=4),
        any::<Index>(),
    )
        .prop_flat_map(|(n_infra, sizes, active)| {
            let total = n_infra + sizes.iter().sum::<usize>();
            (
                Just(n_infra),
                Just(sizes),
                Just(active),
                prop::collection::vec((0..IMAGES.len(), any::<bool>()), total),
                prop::collection::vec(seen(), total),
                prop::collection::vec(foreign_gen(), 0..5),
                prop::collection::vec((any::<Index>(), run_state()), 0..3),
            )
        })
        .prop_map(|(n_infra, sizes, active, images, seen, foreign, orphans)| {
            // Each container: an image, and maybe a readiness probe (which diff waits for).
            let mut specs = images.into_iter().map(|(i, probe)| {
                let readiness = probe.then(|| json!({"exec": {"command": ["true"]}}));
                (IMAGES[i], readiness)
            });
            let mut placed = Vec::new();
            let infra: Vec<_> = (0..n_infra)
                .map(|i| {
                    let name = format!("db-{i}");
                    placed.push((name.clone(), None));
                    let (image, readiness) = specs.next().expect("one spec per container");
                    json!({"name": name, "image": image, "readiness": readiness})
                })
                .collect();
            let versions: Vec<_> = sizes
                .iter()
                .enumerate()
                .map(|(v, n)| {
                    let vname = format!("v{v}");
                    let containers: Vec<_> = (0..*n)
                        .map(|c| {
                            let name = format!("{vname}-svc-{c}");
                            placed.push((name.clone(), Some(vname.clone())));
                            let (image, readiness) = specs.next().expect("one spec per container");
                            json!({"name": name, "image": image, "readiness": readiness,
                                   "stopTimeoutSeconds": c + 1})
                        })
                        .collect();
                    json!({"name": vname, "containers": containers})
                })
                .collect();
            let plan: PortPlanSpec =
                serde_json::from_value(json!({"infrastructure": infra, "versions": versions}))
                    .expect("generated plan parses");
            let active = format!("v{}", active.index(sizes.len()));
            Scenario {
                plan,
                active,
                placed,
                seen,
                foreign,
                orphans,
            }
        })
}

impl Scenario {
    fn desired(&self) -> Desired {
        build_desired(PLAN, &self.plan, &self.active).expect("active version exists")
    }

    /// turnout's labels for a plan container, from the desired state of its own version.
    fn labels_of(&self, name: &str, version: Option<&str>) -> BTreeMap<String, String> {
        let d = build_desired(PLAN, &self.plan, version.unwrap_or(&self.active))
            .expect("version exists");
        d.get(name).expect("container is in its version").labels()
    }

    /// The host, with every plan container in the state `seen` says.
    fn host_with(&self, seen: &[Seen]) -> Vec<ObservedContainer> {
        self.place(seen).0
    }

    /// The host for `seen`, and the names of plan containers that the
    /// generator gave to foreign containers.
    fn place(&self, seen: &[Seen]) -> (Vec<ObservedContainer>, BTreeSet<String>) {
        let mut host = Vec::new();
        let mut squatted = BTreeSet::new();
        for ((name, version), s) in self.placed.iter().zip(seen) {
            let mut labels = self.labels_of(name, version.as_deref());
            let state = match s {
                Seen::Absent => continue,
                Seen::Stopped | Seen::StoppedStale => RunState::Stopped,
                Seen::Running | Seen::RunningStale => RunState::Running,
                Seen::Paused => RunState::Paused,
                Seen::Restarting => RunState::Restarting,
            };
            if matches!(s, Seen::RunningStale | Seen::StoppedStale) {
                labels.insert(LABEL_SPEC_HASH.to_string(), "0000stale0000".to_string());
            }
            host.push(ObservedContainer {
                id: format!("id-{name}"),
                name: name.clone(),
                image: "whatever".to_string(),
                labels,
                state,
                ports: Vec::new(),
            });
        }
        for (i, (v, state)) in self.orphans.iter().enumerate() {
            let version = &self.plan.versions[v.index(self.plan.versions.len())].name;
            host.push(ObservedContainer {
                id: format!("id-orphan-{i}"),
                name: format!("{version}-retired-{i}"),
                image: "old:1".to_string(),
                labels: BTreeMap::from([
                    (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
                    (LABEL_PLAN.to_string(), PLAN.to_string()),
                    (LABEL_ROLE.to_string(), version.clone()),
                    (LABEL_SPEC_HASH.to_string(), "0123456789abcdef".to_string()),
                ]),
                state: *state,
                ports: Vec::new(),
            });
        }
        for (i, f) in self.foreign.iter().enumerate() {
            // A plan name is taken only where the plan's own container is absent.
            let absent: Vec<&String> = self
                .placed
                .iter()
                .zip(seen)
                .filter(|(_, s)| **s == Seen::Absent)
                .map(|((n, _), _)| n)
                .collect();
            let (name, squats) = match f.plan_name {
                Some(ix) if !absent.is_empty() => (absent[ix.index(absent.len())].clone(), true),
                _ => (format!("foreign-{i}"), false),
            };
            if host.iter().any(|o: &ObservedContainer| o.name == name) {
                continue; // Docker names are unique
            }
            if squats {
                squatted.insert(name.clone());
            }
            let labels = match f.labels {
                ForeignLabels::None => BTreeMap::new(),
                ForeignLabels::OtherPlan => BTreeMap::from([
                    (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
                    (LABEL_PLAN.to_string(), "other-plan".to_string()),
                    (LABEL_ROLE.to_string(), "infrastructure".to_string()),
                    (LABEL_SPEC_HASH.to_string(), "ffff".to_string()),
                ]),
                ForeignLabels::ManagedNoPlan => BTreeMap::from([
                    (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
                    (LABEL_ROLE.to_string(), "v0".to_string()),
                ]),
                ForeignLabels::PlanNotManaged => BTreeMap::from([
                    (LABEL_MANAGED_BY.to_string(), "someone-else".to_string()),
                    (LABEL_PLAN.to_string(), PLAN.to_string()),
                    (LABEL_ROLE.to_string(), "v0".to_string()),
                ]),
            };
            host.push(ObservedContainer {
                id: format!("id-foreign-{i}"),
                name,
                image: format!("someone/else:{i}"),
                labels,
                state: f.state,
                ports: Vec::new(),
            });
        }
        (host, squatted)
    }

    fn host(&self) -> Vec<ObservedContainer> {
        self.host_with(&self.seen)
    }

    /// What preflight must refuse, known from how the host was generated:
    /// the names of containers wanted now (the infrastructure's and the
    /// active version's) that were given to foreign containers, none of
    /// which carries this plan's labels.
    fn names_taken(&self) -> BTreeSet<String> {
        let (_, squatted) = self.place(&self.seen);
        self.placed
            .iter()
            .filter(|(_, version)| version.as_ref().is_none_or(|v| *v == self.active))
            .map(|(name, _)| name.clone())
            .filter(|name| squatted.contains(name))
            .collect()
    }

    /// A converged host: every desired container running and current, other
    /// versions' containers stopped (current or stale) or absent; orphans stopped.
    fn converged_host(&self) -> Vec<ObservedContainer> {
        let d = self.desired();
        let seen: Vec<Seen> = self
            .placed
            .iter()
            .zip(&self.seen)
            .map(|((name, _), s)| {
                if d.get(name).is_some() {
                    Seen::Running
                } else {
                    match s {
                        Seen::Absent | Seen::Running => Seen::Absent,
                        Seen::RunningStale | Seen::StoppedStale => Seen::StoppedStale,
                        _ => Seen::Stopped,
                    }
                }
            })
            .collect();
        let mut host = self.host_with(&seen);
        for o in &mut host {
            if o.is_ours(PLAN) && d.get(&o.name).is_none() {
                o.state = RunState::Stopped;
            }
        }
        host
    }
}

// ---- the engine simulator ----------------------------------------------------

/// Applies `actions` in order like the engine would; refuses calls Docker
/// would refuse and calls that would change nothing.
fn simulate(
    desired: &Desired,
    observed: &[ObservedContainer],
    actions: &[Action],
) -> Result<Vec<ObservedContainer>, String> {
    let mut host: Vec<ObservedContainer> = observed.to_vec();
    for a in actions {
        let at = host.iter().position(|o| o.name == a.container);
        if let Some(i) = at
            && !host[i].is_ours(PLAN)
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
                let d = desired
                    .get(&a.container)
                    .ok_or_else(|| format!("{a:?}: creates a container that is not desired"))?;
                host.push(ObservedContainer {
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
            (_, None) => return Err(format!("{a:?}: no such container")),
        }
    }
    Ok(host)
}

fn foreign_of(host: &[ObservedContainer]) -> Vec<ObservedContainer> {
    let mut f: Vec<_> = host.iter().filter(|o| !o.is_ours(PLAN)).cloned().collect();
    f.sort_by(|a, b| a.name.cmp(&b.name));
    f
}

fn all_images() -> BTreeSet<String> {
    IMAGES.iter().map(|s| s.to_string()).collect()
}

// ---- properties --------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (a) A converged host needs no action, whatever else is on it.
    #[test]
    fn a_converged_host_has_an_empty_diff(s in scenario()) {
        let desired = s.desired();
        let host = s.converged_host();
        let actions = diff(&desired, &host);
        prop_assert!(actions.is_empty(), "actions on a converged host: {actions:#?}\nhost: {host:#?}");
    }

    /// (b)+(c) Applying the diff converges: the diff afterwards is empty and
    /// exactly the desired containers of this plan run, with their labels.
    #[test]
    fn applying_the_diff_converges(s in scenario()) {
        let desired = s.desired();
        let host = s.host();
        let actions = diff(&desired, &host);
        let blockers = preflight(&desired, &host, &[], &all_images());
        let taken = s.names_taken();
        // The only blockers in a port-less plan with every image present: names taken.
        let blocked: BTreeSet<String> = blockers
            .iter()
            .map(|b| match b {
                Blocker::NameTaken { name, .. } => Ok(name.clone()),
                other => Err(format!("{other:?}")),
            })
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("unexpected blocker {e}")))?;
        prop_assert_eq!(&blocked, &taken);
        if !taken.is_empty() {
            return Ok(()); // the reconcile stops at preflight; checked in no_action_touches_a_foreign_container
        }

        let after = simulate(&desired, &host, &actions)
            .map_err(|e| TestCaseError::fail(format!("{e}\nactions: {actions:#?}\nhost: {host:#?}")))?;
        let again = diff(&desired, &after);
        prop_assert!(again.is_empty(), "not converged after applying; still: {again:#?}");

        let running: BTreeSet<String> = after
            .iter()
            .filter(|o| o.is_ours(PLAN) && o.state == RunState::Running)
            .map(|o| o.name.clone())
            .collect();
        let wanted: BTreeSet<String> = desired.containers.iter().map(|c| c.name().to_string()).collect();
        prop_assert_eq!(running, wanted);
        for d in &desired.containers {
            let o = after.iter().find(|o| o.name == d.name()).expect("desired container exists");
            prop_assert_eq!(&o.labels, &d.labels());
        }
        // Nothing of this plan that is not desired is up.
        for o in after.iter().filter(|o| o.is_ours(PLAN) && desired.get(&o.name).is_none()) {
            prop_assert_eq!(o.state, RunState::Stopped, "{} is still up", o.name);
        }
        prop_assert_eq!(foreign_of(&after), foreign_of(&host), "a foreign container changed");
    }

    /// (c) The diff is a function of the host, not of the order it is listed in.
    #[test]
    fn the_diff_is_deterministic(
        (s, shuffled) in scenario().prop_flat_map(|s| {
            let host = s.host();
            (Just(s), Just(host).prop_shuffle())
        })
    ) {
        let desired = s.desired();
        let host = s.host();
        let first = diff(&desired, &host);
        prop_assert_eq!(&first, &diff(&desired, &host));
        prop_assert_eq!(&first, &diff(&desired, &shuffled));
    }

    /// (d) Stop and Remove only ever address this plan's own containers; any
    /// other action naming a foreign container is stopped by preflight
    /// (NameTaken) before anything runs. Containers already running and
    /// current, and this plan's containers that are down and not desired, are
    /// left alone.
    #[test]
    fn no_action_touches_a_foreign_container(s in scenario()) {
        let desired = s.desired();
        let host = s.host();
        let actions = diff(&desired, &host);
        let blockers = preflight(&desired, &host, &[], &all_images());
        for a in &actions {
            let Some(o) = host.iter().find(|o| o.name == a.container) else {
                prop_assert!(
                    matches!(a.kind, ActionKind::Create | ActionKind::Start | ActionKind::WaitReady),
                    "{a:?} addresses a container not on the host"
                );
                continue;
            };
            if o.is_ours(PLAN) {
                continue;
            }
            prop_assert!(
                !matches!(a.kind, ActionKind::Stop | ActionKind::Remove),
                "{a:?} stops or removes the foreign {o:?}"
            );
            prop_assert!(
                blockers.iter().any(|b| matches!(b, Blocker::NameTaken { name, .. } if *name == o.name)),
                "{a:?} addresses the foreign {o:?} and preflight does not block it: {blockers:?}"
            );
        }
        for o in &host {
            let named = actions.iter().any(|a| a.container == o.name);
            let current = desired
                .get(&o.name)
                .is_some_and(|d| o.labels == d.labels() && o.state == RunState::Running);
            if o.is_ours(PLAN) && current {
                prop_assert!(!named, "{} runs as desired but is acted on: {actions:#?}", o.name);
            }
            if o.is_ours(PLAN) && desired.get(&o.name).is_none() && o.state == RunState::Stopped {
                prop_assert!(!named, "{} is down and not desired but is acted on", o.name);
            }
        }
    }

    /// (e) Stop-phase actions come first, then Infrastructure, then Version;
    /// and every action's phase matches its container's role.
    #[test]
    fn phases_are_ordered(s in scenario()) {
        let desired = s.desired();
        let host = s.host();
        let actions = diff(&desired, &host);
        let phases: Vec<Phase> = actions.iter().map(|a| a.phase).collect();
        let mut sorted = phases.clone();
        sorted.sort();
        prop_assert_eq!(&phases, &sorted, "phases out of order: {:#?}", actions);
        for a in &actions {
            match desired.get(&a.container) {
                None => prop_assert_eq!(a.phase, Phase::Stop, "{:?}", a),
                Some(d) if d.role == turnout::core::Role::Infrastructure => {
                    prop_assert_eq!(a.phase, Phase::Infrastructure, "{:?}", a)
                }
                Some(_) => prop_assert_eq!(a.phase, Phase::Version, "{:?}", a),
            }
            prop_assert!(!a.reason.is_empty());
        }
        // Stops of containers that must not run are all in the Stop phase.
        for a in actions.iter().filter(|a| desired.get(&a.container).is_none()) {
            prop_assert_eq!(a.kind, ActionKind::Stop, "{:?}", a);
        }
    }

    /// Every container that is (re)started and has a readiness probe is
    /// waited for, after its start; nothing else is waited for.
    #[test]
    fn started_containers_with_a_probe_are_waited_for(s in scenario()) {
        let desired = s.desired();
        let actions = diff(&desired, &s.host());
        for (i, a) in actions.iter().enumerate() {
            let probe = desired.get(&a.container).is_some_and(|d| d.spec.readiness.is_some());
            match a.kind {
                ActionKind::Start if probe => prop_assert!(
                    actions[i + 1..].iter().any(|w| w.kind == ActionKind::WaitReady && w.container == a.container),
                    "{} is started but not waited for: {actions:#?}", a.container
                ),
                ActionKind::WaitReady => {
                    prop_assert!(probe, "{a:?} waits on a container without a probe");
                    prop_assert!(
                        actions[..i].iter().any(|x| x.kind == ActionKind::Start && x.container == a.container),
                        "{a:?} waits on a container that was not started"
                    );
                }
                _ => {}
            }
        }
    }

    /// The diff is minimal in one sense: dropping any mutating action leaves
    /// the host unconverged (or makes the simulator refuse a later step).
    #[test]
    fn every_mutating_action_is_needed(s in scenario(), pick in any::<Index>()) {
        let desired = s.desired();
        let host = s.host();
        prop_assume!(s.names_taken().is_empty());
        let actions = diff(&desired, &host);
        let mutating: Vec<usize> = (0..actions.len()).filter(|i| actions[*i].kind.is_mutating()).collect();
        prop_assume!(!mutating.is_empty());
        let drop = mutating[pick.index(mutating.len())];
        let fewer: Vec<Action> = actions.iter().enumerate().filter(|(i, _)| *i != drop).map(|(_, a)| a.clone()).collect();
        if let Ok(after) = simulate(&desired, &host, &fewer) {
            prop_assert!(
                !diff(&desired, &after).is_empty(),
                "{:?} was not needed: {actions:#?}", actions[drop]
            );
        }
    }
}

// ---- the simulator refuses what it should (so the properties mean something) ----

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
