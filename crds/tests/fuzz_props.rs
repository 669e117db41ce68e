//! The fuzzer's entry points under proptest, a few thousand cases in the
//! normal test suite: arbitrary bytes and mutated real documents never make
//! the loader or the validation panic, and a DataSync loads exactly when
//! its name passes the check the operator calls.

mod common;
mod fuzzing;

use std::path::Path;
use std::sync::OnceLock;

use fuzzing::entry::exercise;
use fuzzing::mutate::{generate, mutate};
use fuzzing::rng::Rng;
use fuzzing::seeds::{Seed, seeds};
use proptest::prelude::*;
use turnout_crds::load::{Documents, LoadError};
use turnout_crds::names::check_datasync_name;

fn all_seeds() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(|| seeds().expect("the seeds are readable"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn generated_inputs_never_panic(seed in any::<u64>()) {
        let input = generate(&mut Rng::new(seed), all_seeds());
        exercise(&input);
    }

    #[test]
    fn stacked_mutations_of_each_seed_never_panic(
        which in 0usize..64,
        seed in any::<u64>(),
        rounds in 1usize..12,
    ) {
        let seeds = all_seeds();
        let mut input = seeds[which % seeds.len()].bytes.clone();
        let mut rng = Rng::new(seed);
        for _ in 0..rounds {
            mutate(&mut rng, &mut input, seeds);
        }
        exercise(&input);
    }

    #[test]
    fn a_datasync_loads_exactly_when_its_name_passes_the_check(
        name in prop_oneof![
            any::<String>(),
            "[a-z0-9.-]{1,12}",
            "[a-z0-9]([a-z0-9.-]{0,260}[a-z0-9])?",
            "[a-zA-Z0-9./_ -]{0,12}",
        ]
    ) {
        let quoted = serde_json::to_string(&name).expect("a string serializes");
        let text = format!(
            "apiVersion: turnout.dev/v1alpha1\nkind: PortPlan\nmetadata: {{name: p}}\nspec: {{versions: [{{name: a}}, {{name: b}}]}}\n---\napiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {{name: {quoted}}}\nspec: {{planRef: p, from: a, to: b}}\n"
        );
        let loaded = Documents::parse(Path::new("f.yaml"), &text);
        match check_datasync_name(&name) {
            Ok(()) => prop_assert!(loaded.is_ok(), "{name:?}: {:?}", loaded.err()),
            // An empty name is refused as missing (metadata.name is required).
            Err(_) if name.is_empty() => prop_assert!(loaded.is_err()),
            Err(_) => prop_assert!(
                matches!(loaded, Err(LoadError::InvalidName { document: 2, .. })),
                "{name:?}: {loaded:?}"
            ),
        }
    }
}
