//! Adoption over random plans and hosts: when the plan allows it, every
//! container made by hand under a planned name, on the plan's image, is
//! taken over; the originals are all kept (stopped, renamed); containers of
//! another turnout are never adopted; the host converges.

use std::collections::BTreeSet;

use proptest::prelude::*;
use turnout::core::adopt::kept_name;
use turnout::core::{ActionKind, Blocker, Desired, ObservedContainer, RunState, diff, preflight};

use super::PLAN;
use super::generate::scenario;
use super::simulate::{all_images, foreign_of, simulate};

/// `desired` with adoption allowed everywhere.
fn adopting(mut desired: Desired) -> Desired {
    for c in desired.containers.iter_mut().chain(&mut desired.inactive) {
        c.adopt = true;
    }
    desired
}

/// The planned image of `name`, if the plan has it.
fn image_of(desired: &Desired, name: &str) -> Option<String> {
    desired
        .containers
        .iter()
        .chain(&desired.inactive)
        .find(|d| d.name() == name)
        .map(|d| d.spec.image.clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn adoption_takes_over_what_matches_and_keeps_every_original(s in scenario()) {
        let desired = adopting(s.desired());
        // Containers made by hand under planned names run the plan's image.
        let host: Vec<ObservedContainer> = s
            .host()
            .into_iter()
            .map(|mut o| {
                if !o.is_turnouts()
                    && let Some(image) = image_of(&desired, &o.name)
                {
                    o.image = image;
                }
                o
            })
            .collect();
        let hand_made: BTreeSet<String> = host
            .iter()
            .filter(|o| !o.is_turnouts() && image_of(&desired, &o.name).is_some())
            .map(|o| o.name.clone())
            .collect();
        let actions = diff(&desired, &host);
        let adopted: BTreeSet<String> = actions
            .iter()
            .filter(|a| a.kind == ActionKind::Adopt)
            .map(|a| a.container.clone())
            .collect();
        prop_assert_eq!(&adopted, &hand_made, "{:#?}", actions);

        let blockers = preflight(&desired, &host, &[], &all_images());
        for b in &blockers {
            // Only another turnout's containers under planned names stand in the way.
            let Blocker::AdoptionRefused { name, why } = b else {
                return Err(TestCaseError::fail(format!("unexpected blocker {b:?}")));
            };
            let o = host.iter().find(|o| o.name == *name).expect("blocked container exists");
            prop_assert!(o.is_turnouts() && !o.is_ours(PLAN), "{name}: {why}");
        }
        if !blockers.is_empty() {
            return Ok(());
        }
        let after = simulate(&desired, &host, &actions)
            .map_err(|e| TestCaseError::fail(format!("{e}\nactions: {actions:#?}")))?;
        prop_assert!(diff(&desired, &after).is_empty(), "not converged");
        for name in &hand_made {
            let original = host.iter().find(|o| o.name == *name).expect("original");
            let kept = after
                .iter()
                .find(|o| o.name == kept_name(name))
                .expect("the original is kept");
            prop_assert_eq!(&kept.id, &original.id);
            prop_assert_eq!(kept.state, RunState::Stopped);
            let now = after.iter().find(|o| o.name == *name).expect("adopted");
            prop_assert!(now.is_ours(PLAN));
            prop_assert_eq!(now.state == RunState::Running, desired.get(name).is_some());
        }
        // Everything else not ours is as it was.
        let untouched = |h: &[ObservedContainer]| -> Vec<ObservedContainer> {
            foreign_of(h)
                .into_iter()
                .filter(|o| !hand_made.contains(&o.name) && !o.name.ends_with(".pre-turnout"))
                .collect()
        };
        prop_assert_eq!(untouched(&after), untouched(&host));
    }
}
