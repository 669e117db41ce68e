//! The committed examples: the original plan is refused for the faults the
//! design names, and the fixed three-version plan with its selection is valid.

mod common;

use std::path::{Path, PathBuf};

use common::describe;
use turnout_crds::load::Documents;
use turnout_crds::validate::{Violation, ViolationKind, validate_documents};

fn example(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples")).join(name)
}

fn plan_violations(file: &str) -> Vec<Violation> {
    let docs = Documents::read(&example(file)).expect("the example parses");
    assert_eq!(docs.plans.len(), 1, "{file} holds one plan");
    let reports = validate_documents(&docs);
    reports.into_iter().flat_map(|r| r.violations).collect()
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
    let reports = validate_documents(&docs);
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(
            r.violations.is_empty(),
            "{} {} in {}:\n{}",
            r.kind,
            r.name,
            r.file,
            describe(&r.violations)
        );
    }
    let plan = &docs.plans[0].value.spec;
    assert_eq!(plan.version_names(), vec!["future", "dao", "blockchain"]);
    assert_eq!(docs.selections[0].value.spec.plan_ref, "three-versions");
}

#[test]
fn the_selection_alone_names_a_plan_it_was_not_given() {
    let docs = Documents::read(&example("version-selection.yaml")).expect("parses");
    let reports = validate_documents(&docs);
    assert_eq!(reports.len(), 1);
    let v = &reports[0].violations;
    assert_eq!(v.len(), 1, "{}", describe(v));
    assert_eq!(v[0].kind, ViolationKind::UnknownPlan);
    assert!(
        v[0].message.contains("pass the file that holds it"),
        "{}",
        v[0].message
    );
}
