//! Random plans, and random hosts for them: every plan container absent or
//! in a random state (possibly stale), orphans of the plan, and foreign
//! containers, some under the plan's names.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;
use turnout::core::model::{LABEL_MANAGED_BY, LABEL_PLAN, LABEL_ROLE, LABEL_SPEC_HASH, MANAGED_BY};
use turnout::core::{Desired, ObservedContainer, RunState, build_desired};
use turnout_crds::plan::PortPlanSpec;

use super::{IMAGES, PLAN};

/// How a plan container is found on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    Absent,
    Stopped,
    Running,
    RunningStale,
    StoppedStale,
    Paused,
    Restarting,
}

pub fn seen() -> impl Strategy<Value = Seen> {
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
pub enum ForeignLabels {
    None,
    /// turnout's labels, for another plan.
    OtherPlan,
    /// managed-by turnout, no plan label.
    ManagedNoPlan,
    /// Our plan label without managed-by (someone copied a label).
    PlanNotManaged,
}

#[derive(Clone, Debug)]
pub struct ForeignGen {
    labels: ForeignLabels,
    state: RunState,
    /// Take a plan container's name (when the plan container is absent), or a fresh one.
    plan_name: Option<Index>,
}

pub fn run_state() -> impl Strategy<Value = RunState> {
    prop_oneof![
        Just(RunState::Running),
        Just(RunState::Stopped),
        Just(RunState::Paused),
        Just(RunState::Restarting),
    ]
}

pub fn foreign_gen() -> impl Strategy<Value = ForeignGen> {
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
pub struct Scenario {
    plan: PortPlanSpec,
    active: String,
    /// Every plan container: (name, Some(version) or None for infrastructure).
    placed: Vec<(String, Option<String>)>,
    seen: Vec<Seen>,
    foreign: Vec<ForeignGen>,
    /// Orphans: (version index, state) of containers of this plan no longer in it.
    orphans: Vec<(Index, RunState)>,
}

pub fn scenario() -> impl Strategy<Value = Scenario> {
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
    pub fn desired(&self) -> Desired {
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
                image_id: None,
                mounts: Vec::new(),
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
                image_id: None,
                mounts: Vec::new(),
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
                image_id: None,
                mounts: Vec::new(),
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

    pub fn host(&self) -> Vec<ObservedContainer> {
        self.host_with(&self.seen)
    }

    /// What preflight must refuse, known from how the host was generated:
    /// the names of containers wanted now (the infrastructure's and the
    /// active version's) that were given to foreign containers, none of
    /// which carries this plan's labels.
    pub fn names_taken(&self) -> BTreeSet<String> {
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
    pub fn converged_host(&self) -> Vec<ObservedContainer> {
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
