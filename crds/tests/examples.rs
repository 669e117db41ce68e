//! The committed examples: the original plan is refused for the faults the
//! design names, and the fixed three-version plan with its selection is valid.
//! (What `turnout validate` reports for whole files is the operator's test.)

mod common;

use std::path::{Path, PathBuf};

use common::describe;
use turnout_crds::load::Documents;
use turnout_crds::names::ObjectKind;
use turnout_crds::validate::{
    Violation, ViolationKind, validate_metadata_name, validate_plan, validate_selection,
};

fn example(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples")).join(name)
}

fn plan_violations(file: &str) -> Vec<Violation> {
    let docs = Documents::read(&example(file)).expect("the example parses");
    assert_eq!(docs.plans.len(), 1, "{file} holds one plan");
    assert!(docs.selections.is_empty() && docs.syncs.is_empty());
    let plan = &docs.plans[0].value;
    let name = plan.metadata.name.as_deref().unwrap_or_default();
    validate_metadata_name(ObjectKind::PortPlan, name)
        .into_iter()
        .chain(validate_plan(&plan.spec))
        .collect()
}

#[test]
fn the_original_plan_is_refused_for_blockchain_shared_on_elasticsearch() {
    let found = plan_violations("original-plan.yaml");
    let at_9200: Vec<&Violation> = found.iter().filter(|v| v.port == Some(9200)).collect();
    assert!(
        !at_9200.is_empty(),
        "nothing about 9200:\n{}",
        describe(&found)
    );

    let covers = at_9200
        .iter()
        .find(|v| v.kind == ViolationKind::RangeCoversInfrastructurePort)
        .unwrap_or_else(|| panic!("no range violation at 9200:\n{}", describe(&found)));
    assert_eq!(
        covers.subjects,
        vec!["blockchain/shared", "test-elasticsearch"]
    );
    assert_eq!(covers.path, "spec.versions[2].ranges[2]");

    let conflict = at_9200
        .iter()
        .find(|v| v.kind == ViolationKind::PortConflict)
        .unwrap_or_else(|| panic!("no port conflict at 9200:\n{}", describe(&found)));
    assert_eq!(
        conflict.subjects,
        vec!["test-elasticsearch", "blockchain-shared-service"]
    );
}

#[test]
fn the_original_plan_is_refused_for_future_services_over_weaviate() {
    // 8000-8099 contains Weaviate's 8080; no container uses 8080, so only the range is at fault.
    let found = plan_violations("original-plan.yaml");
    let at_8080: Vec<&Violation> = found.iter().filter(|v| v.port == Some(8080)).collect();
    assert_eq!(at_8080.len(), 1, "{}", describe(&found));
    assert_eq!(
        at_8080[0].kind,
        ViolationKind::RangeCoversInfrastructurePort
    );
    assert_eq!(
        at_8080[0].subjects,
        vec!["future/services", "test-weaviate"]
    );
}

#[test]
fn the_original_plan_has_no_other_faults() {
    let found = plan_violations("original-plan.yaml");
    assert_eq!(found.len(), 3, "{}", describe(&found));
}

#[test]
fn the_three_version_plan_and_its_selection_are_valid() {
    let docs = Documents::read_all(&[
        example("three-versions.yaml"),
        example("version-selection.yaml"),
    ])
    .expect("the examples parse");
    assert_eq!(docs.plans.len(), 1);
    assert_eq!(docs.selections.len(), 1);
    let plan = &docs.plans[0].value;
    let selection = &docs.selections[0].value;
    let plan_name = plan.metadata.name.as_deref().unwrap_or_default();
    let selection_name = selection.metadata.name.as_deref().unwrap_or_default();
    let found: Vec<Violation> = validate_metadata_name(ObjectKind::PortPlan, plan_name)
        .into_iter()
        .chain(validate_metadata_name(
            ObjectKind::VersionSelection,
            selection_name,
        ))
        .chain(validate_plan(&plan.spec))
        .chain(validate_selection(plan_name, &plan.spec, &selection.spec))
        .collect();
    assert!(found.is_empty(), "{}", describe(&found));
    assert_eq!(
        plan.spec.version_names(),
        vec!["future", "dao", "blockchain"]
    );
    assert_eq!(selection.spec.plan_ref, "three-versions");
}
