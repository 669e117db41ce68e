//! The example the demo test applies, checked without a cluster:
//! examples/kubernetes/demo.yaml is examples/standalone-demo.yaml with its
//! passwords from a Secret (the operator refuses `from.file` and
//! `from.env`), and it validates.

use std::path::Path;

use serde_json::{Value, json};

use crate::cluster::repo;

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `from` of a secret in `v`.
fn secret_sources<'a>(v: &'a Value, into: &mut Vec<&'a Value>) {
    match v {
        Value::Object(map) => {
            if let Some(secrets) = map.get("secrets").and_then(Value::as_array) {
                into.extend(secrets.iter().map(|s| &s["from"]));
            }
            map.values().for_each(|x| secret_sources(x, into));
        }
        Value::Array(items) => items.iter().for_each(|x| secret_sources(x, into)),
        _ => {}
    }
}

/// The Kubernetes demo's secret sources, replaced by the standalone demo's.
fn as_standalone(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            if map.get("secretKeyRef")
                == Some(&json!({"name": "turnout-demo-db", "key": "password"}))
            {
                return json!({"file": "/run/turnout-demo/db-password"});
            }
            for (_, x) in map.iter_mut() {
                *x = as_standalone(x.take());
            }
        }
        Value::Array(items) => {
            for x in items.iter_mut() {
                *x = as_standalone(x.take());
            }
        }
        _ => {}
    }
    v
}

#[test]
fn the_kubernetes_demo_is_the_standalone_demo_with_its_passwords_in_a_secret() {
    let examples = repo().join("examples");
    let kube = examples.join("kubernetes/demo.yaml");
    let kube_docs = yaml_docs(&kube);
    let mut sources = Vec::new();
    for d in &kube_docs {
        secret_sources(d, &mut sources);
    }
    assert_eq!(sources.len(), 2, "both databases' passwords: {sources:?}");
    for from in sources {
        assert_eq!(
            from,
            &json!({"secretKeyRef": {"name": "turnout-demo-db", "key": "password"}}),
            "the operator refuses from.file and from.env"
        );
    }
    let standalone = yaml_docs(&examples.join("standalone-demo.yaml"));
    let converted: Vec<Value> = kube_docs.into_iter().map(as_standalone).collect();
    assert_eq!(converted, standalone);

    let docs = turnout_crds::load::Documents::read(&kube).unwrap_or_else(|e| panic!("{e}"));
    for report in turnout::commands::validate::validate_documents(&docs) {
        assert!(report.violations.is_empty(), "{:#?}", report.violations);
    }
}
