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
//! The generator lives in [`generate`], the simulator (and a test that it
//! refuses what it should, so the properties mean something) in
//! [`simulate`].

mod adoption;
mod generate;
mod simulate;

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::Index;
use turnout::core::{Action, ActionKind, Blocker, Phase, RunState, diff, preflight};

const PLAN: &str = "shop";
const IMAGES: [&str; 3] = ["busybox:1", "mysql:8.0", "redis:7"];

use generate::scenario;
use simulate::{all_images, foreign_of, simulate};

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
