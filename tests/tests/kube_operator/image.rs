//! The operator image (built locally by scripts/build-operator-image.sh)
//! run by the engine the way manifests/03-deployment.yaml runs it: the
//! isolation flags are read from the manifest, and the kernel is asked what
//! the process got (no capability, a seccomp filter, no new privileges).

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use turnout_e2e::*;

use crate::cluster::{
    API_PORT, Cluster, kube_demo_plan, lease_holder, object_json, ready_on, repo,
    service_account_kubeconfig,
};

/// A container this test started (never one turnout manages).
struct TestContainer(String);

impl Drop for TestContainer {
    fn drop(&mut self) {
        let _ = docker_raw(&["rm", "-f", &self.0]);
    }
}

/// An image this test built.
struct TestImage(&'static str);

impl Drop for TestImage {
    fn drop(&mut self) {
        let _ = docker_raw(&["image", "rm", self.0]);
    }
}

/// What manifests/03-deployment.yaml runs, run by the engine instead of a
/// kubelet: the operator image with the Deployment's host namespaces and
/// security context ([`deployment_isolation_flags`]), the Docker socket,
/// the state and data directories (the test's own, mounted at their host
/// paths), and the ServiceAccount's token where in-cluster configuration
/// looks for it.
#[test]
fn the_operator_image_runs_as_the_deployment_does_with_in_cluster_config() {
    require_docker(&[BUSYBOX]);
    let (plan, base) = ("e2e-kube-pod", 28650);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let image = "turnout/operator:e2e-h3";
    let script = repo().join("scripts/build-operator-image.sh");
    let built = Command::new("bash")
        .arg(&script)
        .arg(turnout_bin())
        .arg(image)
        .output()
        .expect("bash runs scripts/build-operator-image.sh");
    assert!(built.status.success(), "{}", output_text(&built));
    let _image = TestImage(image);

    let cluster = Cluster::up(dir.join("kube"));
    cluster.install_manifests();
    // The files a kubelet projects into the pod for its ServiceAccount.
    let sa_kubeconfig = service_account_kubeconfig(&cluster);
    let token = std::fs::read_to_string(&sa_kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: ").map(str::to_string))
        .expect("a token");
    let sa = dir.join("serviceaccount");
    std::fs::create_dir_all(&sa).unwrap();
    std::fs::write(sa.join("token"), token).unwrap();
    std::fs::copy(cluster.run.join("pki/ca.crt"), sa.join("ca.crt")).unwrap();
    std::fs::write(sa.join("namespace"), "turnout-system").unwrap();

    let yaml = kube_demo_plan(plan, base, "host", "pod");
    cluster.apply(&yaml);

    let (state, data) = (dir.join("state"), dir.join("data"));
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let (state, data) = (state.to_str().unwrap(), data.to_str().unwrap());
    let name = "e2e-h3-operator-pod";
    let _ = docker_raw(&["rm", "-f", name]);
    let _pod = TestContainer(name.to_string());
    let isolation = deployment_isolation_flags();
    let (state_mount, data_mount) = (format!("{state}:{state}"), format!("{data}:{data}"));
    let token_mount = format!(
        "{}:/var/run/secrets/kubernetes.io/serviceaccount:ro",
        sa.display()
    );
    let api_port = format!("KUBERNETES_SERVICE_PORT={API_PORT}");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend(isolation.iter().map(String::as_str));
    args.extend([
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-v",
        &state_mount,
        "-v",
        &data_mount,
        "-v",
        &token_mount,
        "-e",
        "KUBERNETES_SERVICE_HOST=127.0.0.1",
        "-e",
        &api_port,
        "-e",
        "POD_NAME=turnout-pod-1",
        "-e",
        "POD_NAMESPACE=turnout-system",
        "-e",
        "NO_COLOR=1",
        image,
        "run",
        "--listen",
        "127.0.0.1:28701",
        "--selector",
        "turnout.dev/host=pod",
        "--state-dir",
        state,
        "--data-dir",
        data,
    ]);
    let started = docker_raw(&args);
    assert!(started.status.success(), "{}", output_text(&started));
    the_kernel_gave_it_no_capability_and_a_seccomp_filter(name);
    let logs = || output_text(&docker_raw(&["logs", name]));
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(
            &cluster, "host", "future"
        )),
        "Ready on future: {}\noperator log:\n{}",
        object_json(&cluster, "vsel", "host"),
        logs()
    );
    assert_eq!(running(plan), expected_running(plan, "future"));
    assert_eq!(http_get(28701, "/healthz").trim(), "ok");
    assert_eq!(
        metric_sum(&http_get(28701, "/metrics"), "turnout_leader"),
        1.0
    );
    assert_eq!(lease_holder(&cluster), "turnout-pod-1");

    // A switch from inside the container.
    cluster.patch_spec("host", r#"{"activeVersion":"dao"}"#);
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(
            &cluster, "host", "dao"
        )),
        "Ready on dao: {}\n{}",
        object_json(&cluster, "vsel", "host"),
        logs()
    );
    assert_eq!(running(plan), expected_running(plan, "dao"));

    // `docker stop` (what a kubelet does) in the middle of a switch back to
    // future: the action under way finishes, the process exits 0 and
    // releases the Lease; started again, it finishes the switch.
    cluster.patch_spec("host", r#"{"activeVersion":"future"}"#);
    let dao_first = &version_containers(plan, "dao")[0];
    assert!(
        wait_until(Duration::from_secs(60), || !is_running(dao_first)),
        "the switch began: {}",
        logs()
    );
    docker(&["stop", "-t", "60", name]);
    let code = docker(&["inspect", "-f", "{{.State.ExitCode}}", name]);
    assert_eq!(code.trim(), "0", "{}", logs());
    assert!(logs().contains("signal received"), "{}", logs());
    assert_eq!(lease_holder(&cluster), "", "the Lease was released");
    docker(&["start", name]);
    assert!(
        wait_until(Duration::from_secs(90), || ready_on(
            &cluster, "host", "future"
        )),
        "Ready on future after the restart: {}\n{}",
        object_json(&cluster, "vsel", "host"),
        logs()
    );
    assert_eq!(running(plan), expected_running(plan, "future"));

    // A plain stop of a converged operator: a clean exit, the Lease released.
    docker(&["stop", "-t", "30", name]);
    let code = docker(&["inspect", "-f", "{{.State.ExitCode}}", name]);
    assert_eq!(code.trim(), "0", "{}", logs());
    assert_eq!(lease_holder(&cluster), "", "the Lease was released");
}

/// `docker run` flags for what the Deployment says about isolation: its
/// host namespaces and security context (the container's fields over the
/// pod's). A field this does not know fails the test, so the image is never
/// run differently from the manifest without anyone noticing.
fn deployment_isolation_flags() -> Vec<String> {
    let path = repo().join("manifests/03-deployment.yaml");
    let text = std::fs::read_to_string(&path).expect("manifests/03-deployment.yaml");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("the Deployment parses");
    let pod = &docs[0]["spec"]["template"]["spec"];
    let mut flags: Vec<String> = Vec::new();
    let mut push = |f: &[&str]| flags.extend(f.iter().map(|s| s.to_string()));
    if pod["hostNetwork"] == true {
        push(&["--network", "host"]);
    }
    if pod["hostPID"] == true {
        push(&["--pid", "host"]);
    }
    let mut seccomp = Value::Null;
    for (key, v) in pod["securityContext"].as_object().into_iter().flatten() {
        match key.as_str() {
            "seccompProfile" => seccomp = v.clone(),
            other => panic!("the image test does not run pod securityContext.{other}; teach it"),
        }
    }
    let sc = &pod["containers"][0]["securityContext"];
    for (key, v) in sc.as_object().into_iter().flatten() {
        match (key.as_str(), v) {
            ("runAsUser", Value::Number(uid)) => push(&["--user", &uid.to_string()]),
            ("readOnlyRootFilesystem", Value::Bool(true)) => push(&["--read-only"]),
            ("allowPrivilegeEscalation", Value::Bool(false)) => {
                push(&["--security-opt", "no-new-privileges"])
            }
            ("capabilities", caps) => {
                for (k, names) in caps.as_object().into_iter().flatten() {
                    let flag = match k.as_str() {
                        "drop" => "--cap-drop",
                        "add" => "--cap-add",
                        other => panic!("capabilities.{other}: teach the image test"),
                    };
                    for n in names.as_array().into_iter().flatten() {
                        push(&[flag, n.as_str().expect("a capability name")]);
                    }
                }
            }
            ("seccompProfile", v) => seccomp = v.clone(),
            (other, v) => {
                panic!("the image test does not run securityContext.{other}: {v}; teach it")
            }
        }
    }
    match seccomp["type"].as_str() {
        // Docker applies its default profile unless told otherwise.
        Some("RuntimeDefault") => {}
        // Without a profile a kubelet runs the pod Unconfined (unless its
        // SeccompDefault feature is on).
        Some("Unconfined") | None => push(&["--security-opt", "seccomp=unconfined"]),
        other => panic!("seccompProfile {other:?}: teach the image test"),
    }
    flags
}

/// What the kernel says about the operator's process (its pid on the host):
/// no capability in any set that matters, a seccomp filter, no new privileges.
fn the_kernel_gave_it_no_capability_and_a_seccomp_filter(container: &str) {
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", container]);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status of {container}: {e}"));
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
            .to_string()
    };
    for set in ["CapEff", "CapPrm", "CapBnd", "CapAmb"] {
        assert_eq!(field(set), "0000000000000000", "{set}: no capability");
    }
    assert_eq!(
        field("Seccomp"),
        "2",
        "a seccomp filter (Docker's default profile)"
    );
    assert_eq!(field("NoNewPrivs"), "1");
}
