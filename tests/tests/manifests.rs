//! The committed CRDs are exactly what the Rust types generate.

use std::path::Path;

#[test]
fn committed_crds_match_the_types() {
    let generated = turnout::commands::crds::crds_yaml().expect("CRDs serialize");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/crds.yaml");
    let committed = std::fs::read_to_string(&path).expect("manifests/crds.yaml exists");
    assert!(
        committed == generated,
        "manifests/crds.yaml differs from the types: run `cargo run -q -- crds > manifests/crds.yaml` (or `make generate`) and commit it"
    );
}

#[test]
fn crds_carry_short_names_status_and_printer_columns() {
    let text = turnout::commands::crds::crds_yaml().unwrap();
    for needle in [
        "- vsel",
        "- pplan",
        "- dsync",
        "status: {}",
        ".status.activeVersion",
        ".spec.planRef",
    ] {
        assert!(text.contains(needle), "CRDs lack {needle:?}");
    }
}
