//! Documents as text: the small plan the loader tests edit line by line,
//! and the builders' plan written out as a file would hold it. The fuzzer
//! starts from these too.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use turnout_crds::{DataSync, PortPlan, VersionSelection};

/// The head of a plan document (lines 1-4).
pub const HEAD: &str = "\
apiVersion: turnout.dev/v1alpha1
kind: PortPlan
metadata:
  name: p
";

/// A small valid plan spec (lines 5- after HEAD).
pub const SPEC: &str = "\
spec:
  infrastructure:
    - name: test-mysql
      image: mysql:8.0
      ports:
        - {host: 3306, container: 3306}
  versions:
    - name: future
      ranges:
        - {name: services, from: 8000, to: 8099}
      containers:
        - name: future-service-1
          image: example/future-app:1.0
          env:
            - {name: PORT, value: '8080'}
          ports:
            - {host: 8001, container: 8080, range: services}
";

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        ..ObjectMeta::default()
    }
}

/// [`super::valid_plan`] as plan `shop`, a selection of it and a DataSync
/// from future to dao, as a multi-document YAML file.
pub fn valid_documents_yaml() -> String {
    let plan = PortPlan {
        metadata: meta("shop"),
        spec: super::valid_plan(),
    };
    let selection = VersionSelection {
        metadata: meta("host"),
        spec: super::selection("shop", "future"),
        status: None,
    };
    let sync = DataSync {
        metadata: meta("future-to-dao"),
        spec: super::sync("shop", "future", "dao"),
        status: None,
    };
    [
        serde_saphyr::to_string(&plan),
        serde_saphyr::to_string(&selection),
        serde_saphyr::to_string(&sync),
    ]
    .into_iter()
    .map(|doc| doc.expect("the API types serialize"))
    .collect::<Vec<_>>()
    .join("---\n")
}

/// The same documents as JSON (which is YAML too): flow style throughout.
pub fn valid_documents_json() -> Vec<String> {
    let plan = PortPlan {
        metadata: meta("shop"),
        spec: super::valid_plan(),
    };
    let selection = VersionSelection {
        metadata: meta("host"),
        spec: super::selection("shop", "future"),
        status: None,
    };
    vec![
        serde_json::to_string_pretty(&plan).expect("serializes"),
        serde_json::to_string(&selection).expect("serializes"),
    ]
}
