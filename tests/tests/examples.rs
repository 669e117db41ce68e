//! Every file in examples/ parses and validates; the original plan fails on
//! the 9200 clash, naming both sides.

use std::path::{Path, PathBuf};

use turnout::commands::validate::validate_documents;
use turnout_crds::load::Documents;
use turnout_crds::validate::ViolationKind;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/ is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected the example files, found {files:?}"
    );
    files
}

#[test]
fn every_example_parses_and_all_but_the_original_plan_validate() {
    let mut all = Documents::default();
    for f in example_files() {
        let docs = Documents::read(&f).unwrap_or_else(|e| panic!("{e}"));
        all.merge(docs).unwrap_or_else(|e| panic!("{e}"));
    }
    for report in validate_documents(&all) {
        let original = report.file.ends_with("original-plan.yaml");
        if original {
            assert!(!report.violations.is_empty(), "original plan must fail");
        } else {
            assert!(
                report.violations.is_empty(),
                "{} {} in {} should be valid: {:#?}",
                report.kind,
                report.name,
                report.file,
                report.violations
            );
        }
    }
}

#[test]
fn original_plan_fails_on_elasticsearch_9200_and_the_blockchain_shared_range() {
    let docs = Documents::read(&examples_dir().join("original-plan.yaml")).unwrap();
    let reports = validate_documents(&docs);
    let violations = &reports[0].violations;
    let clash = violations
        .iter()
        .find(|v| v.kind == ViolationKind::RangeCoversInfrastructurePort && v.port == Some(9200))
        .unwrap_or_else(|| panic!("no 9200 range violation in {violations:#?}"));
    assert!(clash.subjects.iter().any(|s| s == "test-elasticsearch"));
    assert!(clash.subjects.iter().any(|s| s == "blockchain/shared"));
    assert!(clash.message.contains("9200") && clash.message.contains("shared"));
    assert_eq!(clash.path, "spec.versions[2].ranges[2]");
}

#[test]
fn the_selection_example_names_a_version_of_the_three_version_plan() {
    let docs = Documents::read_all(&[
        examples_dir().join("three-versions.yaml"),
        examples_dir().join("version-selection.yaml"),
    ])
    .unwrap();
    let sel = &docs.selections[0].value.spec;
    assert_eq!(sel.active_version, "blockchain");
    assert!(
        validate_documents(&docs)
            .iter()
            .all(|r| r.violations.is_empty())
    );
}
