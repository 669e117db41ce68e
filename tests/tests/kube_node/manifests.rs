//! What manifests/components/daemonset renders, checked without a cluster:
//! everything `kubectl apply -k manifests/` installs, but the Deployment
//! gives way to a DaemonSet whose pod is the Deployment's pod except for
//! the node's own selector; and the HOST column of VersionSelection.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::node::repo;

/// `kubectl kustomize DIR`, parsed.
fn kustomize(dir: &Path) -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl is installed (it embeds kustomize)");
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_saphyr::from_multiple(&String::from_utf8_lossy(&out.stdout))
        .expect("kustomize output parses")
}

/// A kustomization beside nothing in particular that adds the component to
/// manifests/, the way the component's comment tells a person to write it
/// (relative paths: kustomize refuses absolute ones).
fn fleet_overlay() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("e2e-node-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the overlay directory");
    let dir = dir.canonicalize().expect("overlay path");
    let up: PathBuf = dir.components().skip(1).map(|_| "..").collect();
    let manifests = repo().join("manifests").canonicalize().expect("manifests/");
    let rel = up.join(manifests.strip_prefix("/").expect("an absolute path"));
    let kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {m}\ncomponents:\n  - {m}/components/daemonset\n",
        m = rel.display()
    );
    std::fs::write(dir.join("kustomization.yaml"), kustomization).expect("write kustomization");
    dir
}

fn identity(o: &Value) -> String {
    format!(
        "{} {}/{}",
        o["kind"],
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"]
    )
}

fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| {
            panic!(
                "a {kind} among {:?}",
                objects.iter().map(identity).collect::<Vec<_>>()
            )
        })
}

#[test]
fn the_daemonset_component_swaps_the_deployment_for_one_pod_per_node() {
    let base = kustomize(&repo().join("manifests"));
    let dir = fleet_overlay();
    let fleet = kustomize(&dir);
    let _ = std::fs::remove_dir_all(&dir);

    // Everything else is the base's, unchanged.
    let others = |objects: &[Value]| -> Vec<String> {
        let mut v: Vec<String> = objects
            .iter()
            .filter(|o| o["kind"] != "Deployment" && o["kind"] != "DaemonSet")
            .map(|o| format!("{} {}", identity(o), o))
            .collect();
        v.sort();
        v
    };
    assert_eq!(others(&fleet), others(&base));
    assert!(
        fleet.iter().all(|o| o["kind"] != "Deployment"),
        "no Deployment next to the DaemonSet"
    );

    let deployment = find(&base, "Deployment");
    let ds = find(&fleet, "DaemonSet");
    assert_eq!(ds["metadata"], deployment["metadata"]);
    assert_eq!(ds["spec"]["selector"], deployment["spec"]["selector"]);
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})
    );

    // The pod is the Deployment's (host network and PIDs, security context,
    // probes, volumes, node selector, grace period) but for its selector.
    let mut pod = deployment["spec"]["template"].clone();
    let ds_pod = &ds["spec"]["template"];
    let c = &ds_pod["spec"]["containers"][0];
    assert_eq!(
        c["args"],
        json!([
            "run",
            "--listen",
            "0.0.0.0:9477",
            "--selector",
            "turnout.dev/host=$(NODE_NAME)"
        ]),
        "each pod serves the selections labelled for its node"
    );
    assert_eq!(
        c["env"][0],
        json!({"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}),
        "NODE_NAME comes from the downward API"
    );
    let container = &mut pod["spec"]["containers"][0];
    container["args"] = c["args"].clone();
    let mut env = vec![c["env"][0].clone()];
    env.extend(container["env"].as_array().cloned().unwrap_or_default());
    container["env"] = Value::Array(env);
    assert_eq!(
        ds_pod, &pod,
        "the DaemonSet's pod is the Deployment's but for the selector"
    );
    for key in ["hostNetwork", "hostPID"] {
        assert_eq!(ds_pod["spec"][key], true, "{key}");
    }
    assert_eq!(
        c["securityContext"]["capabilities"],
        json!({"drop": ["ALL"]})
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        ds_pod["spec"]["securityContext"]["seccompProfile"],
        json!({"type": "RuntimeDefault"})
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    // A pod waiting for the host lock (another turnout finishing a copy)
    // is not killed by its liveness probe before that copy may end.
    let startup = &c["startupProbe"];
    assert_eq!(startup["httpGet"]["path"], "/healthz");
    let budget = startup["periodSeconds"].as_u64().unwrap_or(10)
        * startup["failureThreshold"].as_u64().unwrap_or(3);
    let grace = ds_pod["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("a grace period");
    assert!(
        budget >= grace,
        "the startup probe waits {budget} s, less than the {grace} s a stopping turnout may take"
    );
}

#[test]
fn version_selections_show_their_host() {
    let crds = std::fs::read_to_string(repo().join("manifests/01-crds.yaml"))
        .expect("manifests/01-crds.yaml");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&crds).expect("CRDs parse");
    let vsel = docs
        .iter()
        .find(|d| d["spec"]["names"]["kind"] == "VersionSelection")
        .expect("the VersionSelection CRD");
    let columns = &vsel["spec"]["versions"][0]["additionalPrinterColumns"];
    assert_eq!(
        columns[0],
        json!({"jsonPath": ".metadata.labels.turnout\\.dev/host", "name": "Host", "type": "string"}),
        "the first column is the label turnout.dev/host"
    );
}
