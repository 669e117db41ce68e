//! What `kubectl apply -f manifests/` installs, checked without a cluster:
//! the committed CRDs are exactly what the Rust types generate, the RBAC
//! grants Secrets and Leases only where they are needed (never through a
//! ClusterRoleBinding), the serve-namespace component renders, `-k` and `-f`
//! install the same objects, and the Deployment runs with no capability and
//! the runtime's seccomp profile.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

#[test]
fn committed_crds_match_the_types() {
    let generated = turnout::commands::crds::crds_yaml().expect("CRDs serialize");
    let path = manifests_dir().join("01-crds.yaml");
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

fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests")
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest_docs(name: &str) -> Vec<Value> {
    yaml_docs(&manifests_dir().join(name))
}

/// The `.yaml` files directly in manifests/: what `kubectl apply -f
/// manifests/` applies (it does not descend into components/).
fn applied_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(manifests_dir())
        .expect("manifests/ is readable")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

/// Every object `kubectl apply -f manifests/` creates.
fn applied_objects() -> Vec<Value> {
    applied_files()
        .iter()
        .flat_map(|f| manifest_docs(f))
        .collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn named<'a>(objects: &'a [Value], kind: &str, namespace: Option<&str>, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"].as_str() == namespace
        })
        .unwrap_or_else(|| panic!("no {kind} {name} (namespace {namespace:?}) in manifests/"))
}

/// The role a binding refers to (a ClusterRole, or a Role in the binding's namespace).
fn bound_role<'a>(objects: &'a [Value], binding: &Value) -> &'a Value {
    let kind = binding["roleRef"]["kind"].as_str().expect("roleRef.kind");
    let name = binding["roleRef"]["name"].as_str().expect("roleRef.name");
    let ns = (kind == "Role").then(|| {
        binding["metadata"]["namespace"]
            .as_str()
            .expect("namespace")
    });
    named(objects, kind, ns, name)
}

/// Whether a rule of `role` reaches `resource` (a wildcard does too).
fn grants(role: &Value, resource: &str) -> bool {
    assert!(
        role["aggregationRule"].is_null(),
        "an aggregated role's rules are not in the manifest: {role}"
    );
    role["rules"].as_array().is_some_and(|rules| {
        rules.iter().any(|r| {
            let res = strings(&r["resources"]);
            res.contains(&resource) || res.contains(&"*")
        })
    })
}

fn is_operator(subject: &Value) -> bool {
    subject["kind"] == "ServiceAccount"
        && subject["name"] == "turnout"
        && subject["namespace"] == "turnout-system"
}

#[test]
fn the_kustomization_lists_every_manifest_and_each_parses() {
    let k = &manifest_docs("Kustomization")[0];
    let listed = strings(&k["resources"]);
    for name in applied_files() {
        assert!(
            listed.contains(&name.as_str()),
            "{name} is not in manifests/Kustomization"
        );
        assert!(!manifest_docs(&name).is_empty(), "{name} holds documents");
    }
}

#[test]
fn no_cluster_role_binding_reaches_secrets_or_leases() {
    let objects = applied_objects();
    let bindings: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "ClusterRoleBinding")
        .collect();
    assert!(
        !bindings.is_empty(),
        "the CRDs are read through a ClusterRoleBinding"
    );
    for b in bindings {
        let role = bound_role(&objects, b);
        for resource in ["secrets", "leases"] {
            assert!(
                !grants(role, resource),
                "ClusterRoleBinding {} grants {resource} in every namespace through {}",
                b["metadata"]["name"],
                role["metadata"]["name"]
            );
        }
    }
}

#[test]
fn secrets_are_get_only_and_bound_in_default_alone() {
    let objects = applied_objects();
    for role in objects
        .iter()
        .filter(|o| o["kind"] == "ClusterRole" || o["kind"] == "Role")
    {
        for rule in role["rules"].as_array().into_iter().flatten() {
            if strings(&rule["resources"]).contains(&"secrets") {
                assert_eq!(
                    strings(&rule["verbs"]),
                    ["get"],
                    "secrets: get only, in {role}"
                );
            }
        }
    }
    let serving: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "RoleBinding" && grants(bound_role(&objects, o), "secrets"))
        .map(|b| {
            assert!(
                b["subjects"].as_array().unwrap().iter().all(is_operator),
                "{b}"
            );
            b["metadata"]["namespace"]
                .as_str()
                .expect("a RoleBinding's namespace")
        })
        .collect();
    assert_eq!(
        serving,
        ["default"],
        "`kubectl apply -f manifests/` serves default only"
    );
}

#[test]
fn leases_only_in_the_operators_own_namespace() {
    let objects = applied_objects();
    let mut lease_bindings = 0;
    for b in objects.iter().filter(|o| o["kind"] == "RoleBinding") {
        let role = bound_role(&objects, b);
        if !grants(role, "leases") {
            continue;
        }
        lease_bindings += 1;
        assert_eq!(role["kind"], "Role", "{role}");
        assert_eq!(b["metadata"]["namespace"], "turnout-system", "{b}");
        assert!(
            b["subjects"].as_array().unwrap().iter().all(is_operator),
            "{b}"
        );
        for rule in role["rules"].as_array().unwrap() {
            assert_eq!(strings(&rule["resources"]), ["leases"], "{role}");
            assert_eq!(
                strings(&rule["verbs"]),
                ["get", "create", "update"],
                "{role}"
            );
        }
    }
    assert_eq!(lease_bindings, 1, "one RoleBinding for the Lease");
    // The operator takes its Lease in $POD_NAMESPACE: its own namespace.
    let deployment = named(&objects, "Deployment", Some("turnout-system"), "turnout");
    let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
    let pod_ns = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "POD_NAMESPACE")
        .expect("POD_NAMESPACE is set");
    assert_eq!(
        pod_ns["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
}

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

/// A kustomization that serves `namespace` with the component, the way
/// the component's comment tells a person to write it. Kustomize refuses
/// an absolute path to a component, hence the relative one.
fn serve_namespace_overlay(namespace: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("serve-{namespace}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the overlay directory");
    let dir = dir.canonicalize().expect("overlay path");
    let component = manifests_dir()
        .join("components/serve-namespace")
        .canonicalize()
        .expect("manifests/components/serve-namespace exists");
    let mut relative = PathBuf::new();
    for _ in dir.components().skip(1) {
        relative.push("..");
    }
    relative.push(component.strip_prefix("/").expect("an absolute path"));
    let kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {namespace}\ncomponents:\n  - {}\n",
        relative.display()
    );
    std::fs::write(dir.join("kustomization.yaml"), kustomization).expect("write kustomization");
    dir
}

#[test]
fn the_serve_namespace_component_binds_secrets_get_in_that_namespace_only() {
    let objects = applied_objects();
    let dir = serve_namespace_overlay("e2e-h3-shop");
    let rendered = kustomize(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(rendered.len(), 1, "one RoleBinding: {rendered:?}");
    let b = &rendered[0];
    assert_eq!(b["kind"], "RoleBinding");
    assert_eq!(b["metadata"]["namespace"], "e2e-h3-shop");
    assert!(
        b["subjects"].as_array().unwrap().iter().all(is_operator),
        "{b}"
    );
    let role = bound_role(&objects, b);
    assert_eq!(role["kind"], "ClusterRole");
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]),
        "the role it binds holds Secrets: get and nothing else"
    );

    // What `kubectl apply -f manifests/` binds in default is the same binding.
    let dir = serve_namespace_overlay("default");
    let for_default = kustomize(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let committed = named(&objects, "RoleBinding", Some("default"), "turnout-secrets");
    assert_eq!(&for_default[0], committed);
}

/// `v` with every number as a float: kustomize writes `65535.0` as `65535`.
fn floats(v: Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(items) => Value::Array(items.into_iter().map(floats).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, x)| (k, floats(x))).collect()),
        other => other,
    }
}

/// Objects by kind, namespace and name.
fn by_identity(objects: Vec<Value>) -> std::collections::BTreeMap<String, Value> {
    objects
        .into_iter()
        .map(|o| {
            let id = format!(
                "{} {}/{}",
                o["kind"],
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o["metadata"]["name"]
            );
            (id, floats(o))
        })
        .collect()
}

#[test]
fn apply_k_installs_what_apply_f_installs() {
    let rendered = by_identity(kustomize(&manifests_dir()));
    let applied = by_identity(applied_objects());
    assert_eq!(
        rendered.keys().collect::<Vec<_>>(),
        applied.keys().collect::<Vec<_>>()
    );
    for (id, object) in &applied {
        assert!(
            &rendered[id] == object,
            "{id} differs under kubectl kustomize"
        );
    }
}

#[test]
fn the_deployment_adds_no_capability_and_uses_the_runtime_default_seccomp_profile() {
    let objects = applied_objects();
    let deployment = named(&objects, "Deployment", Some("turnout-system"), "turnout");
    let pod = &deployment["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    assert!(
        strings(&sc["capabilities"]["add"]).is_empty(),
        "turnout needs no capability: {sc}"
    );
    let seccomp = if sc["seccompProfile"].is_null() {
        &pod["securityContext"]["seccompProfile"]
    } else {
        &sc["seccompProfile"]
    };
    assert_eq!(seccomp, &json!({"type": "RuntimeDefault"}));
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
}
