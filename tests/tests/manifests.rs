//! The committed CRDs are exactly what the Rust types generate.

use std::path::Path;

#[test]
fn committed_crds_match_the_types() {
    let generated = turnout::commands::crds::crds_yaml().expect("CRDs serialize");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/01-crds.yaml");
    let committed = std::fs::read_to_string(&path).expect("manifests/01-crds.yaml exists");
    assert!(
        committed == generated,
        "manifests/01-crds.yaml differs from the types: run `cargo run -q -- crds > manifests/01-crds.yaml` (or `make generate`) and commit it"
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

fn manifest_docs(name: &str) -> Vec<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../manifests")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_kustomization_lists_every_manifest_and_each_parses() {
    let k = &manifest_docs("Kustomization")[0];
    let listed: Vec<&str> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests");
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".yaml") {
            assert!(
                listed.contains(&name.as_str()),
                "{name} is not in manifests/Kustomization"
            );
            assert!(!manifest_docs(&name).is_empty(), "{name} holds documents");
        }
    }
}

#[test]
fn the_operator_may_get_but_never_list_or_watch_secrets() {
    let docs = manifest_docs("02-rbac.yaml");
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    for rule in role["rules"].as_array().unwrap() {
        let resources: Vec<&str> = rule["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        if resources.contains(&"secrets") {
            let verbs: Vec<&str> = rule["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            assert_eq!(verbs, ["get"], "secrets: get only");
        }
    }
    let deployment = &manifest_docs("03-deployment.yaml")[0];
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
}
