//! End-to-end: a fleet of two Docker hosts driven by one Kubernetes API
//! server. The machine's usual engine is host a; a second dockerd
//! (scripts/second-engine.sh, its own socket and bridge) is host b. One
//! `turnout run` per host, each with its own state, data and listen address
//! and `--selector turnout.dev/host=<a|b>`; the two plans publish the same
//! port numbers, host a on 127.0.0.1 and host b on 127.0.0.2.
//!
//! Each operator converges only its own host's selection, on its own
//! engine; a switch on one host leaves the other's containers alone; a
//! SIGKILLed operator leaves the other serving; and the host-port preflight
//! of each tells bind addresses apart (a listener on the other host's
//! address is no conflict, one on its own address is a PortConflict).
//!
//! Host ports 28800-28999 (the API server's own among them); it runs with
//! the other engine tests, one at a time (.config/nextest.toml).

#[path = "kube_operator/cluster.rs"]
#[allow(dead_code)]
mod cluster;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cluster::{Cluster, Operator, in_default, object_json, ready_condition, ready_on, repo};
use turnout_e2e::second::SecondEngine;
use turnout_e2e::*;

/// The ports both plans publish (`demo_plan` from here: 28800-28835).
const BASE: u16 = 28800;
const PLAN_A: &str = "e2e-fleet-a";
const PLAN_B: &str = "e2e-fleet-b";
/// The second engine: its name (socket, roots, pid file), bridge and subnet.
const ENGINE_B_NAME: &str = "e2e-fleet-engine";
const ENGINE_B_BRIDGE: &str = "e2efleet0";
const ENGINE_B_SUBNET: &str = "172.31.252.1/24";
const WAIT: Duration = Duration::from_secs(60);

/// One Docker engine as the docker CLI reaches it (`None`: the usual one).
#[derive(Clone)]
struct Engine(Option<String>);

impl Engine {
    fn docker(&self, args: &[&str]) -> Output {
        let mut c = Command::new("docker");
        if let Some(host) = &self.0 {
            c.args(["-H", host]);
        }
        c.args(args).output().expect("the docker CLI is installed")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            output_text(&out)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Running containers of `plan`, sorted.
    fn running(&self, plan: &str) -> Vec<String> {
        let filter = format!("label=dev.turnout.plan={plan}");
        let out = self.ok(&["ps", "--format", "{{.Names}}", "--filter", &filter]);
        let mut names: Vec<String> = out.lines().map(str::to_string).collect();
        names.sort();
        names
    }

    /// Each running container of `plan` with its `State.StartedAt`.
    fn started(&self, plan: &str) -> Vec<(String, String)> {
        self.running(plan)
            .into_iter()
            .map(|n| {
                let at = self.ok(&["inspect", "-f", "{{.State.StartedAt}}", &n]);
                (n, at)
            })
            .collect()
    }

    /// Removes what turnout created for `plan` on this engine, nothing else.
    fn remove_plan(&self, plan: &str) {
        let filter = format!("label=dev.turnout.plan={plan}");
        let managed = "label=dev.turnout.managed-by=turnout";
        let ids = self.docker(&["ps", "-aq", "--filter", managed, "--filter", &filter]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
    }
}

/// Removes both plans' containers from both engines when dropped, before
/// the second engine stops (so none is left in its data root).
struct Containers(Vec<Engine>);

impl Drop for Containers {
    fn drop(&mut self) {
        for e in &self.0 {
            e.remove_plan(PLAN_A);
            e.remove_plan(PLAN_B);
        }
    }
}

/// The test's directory (etcd's data, the operators' state and logs):
/// removed when the test passes, kept for a look when it fails.
struct KeptOnFailure(PathBuf);

impl Drop for KeptOnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The test's API server, on ports of this test's range (not the fixed
/// ones of kube_operator, which may run elsewhere on the machine).
fn cluster_up(run: PathBuf) -> Cluster {
    let out = Command::new("bash")
        .arg(repo().join("scripts/kube-up.sh"))
        .arg(&run)
        .env("TURNOUT_KUBE_API_PORT", "28990")
        .env("TURNOUT_KUBE_ETCD_PORT", "28991")
        .env("TURNOUT_KUBE_ETCD_PEER_PORT", "28992")
        .env("TURNOUT_KUBE_CM_PORT", "28993")
        .output()
        .expect("bash runs scripts/kube-up.sh");
    let cluster = Cluster { run };
    assert!(
        out.status.success(),
        "scripts/kube-up.sh failed (it builds kube-apiserver on first use): {}",
        output_text(&out)
    );
    cluster
}

/// `demo_plan` for host `host`: every port published on `bind`, the
/// selection `fleet-<host>` labelled `turnout.dev/host: <host>`, in default.
fn fleet_plan(plan: &str, host: &str, bind: &str) -> String {
    let mut docs =
        in_default(demo(plan, BASE), &format!("fleet-{host}"), "future", host).documents();
    let mut bound = 0;
    let spec = &mut docs[0]["spec"];
    let containers = spec["infrastructure"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    for c in containers {
        bound += bind_ports(c, bind);
    }
    for v in spec["versions"].as_array_mut().into_iter().flatten() {
        for c in v["containers"].as_array_mut().into_iter().flatten() {
            bound += bind_ports(c, bind);
        }
    }
    assert_eq!(bound, 10, "{docs:?}");
    turnout_e2e::plan::to_yaml(&docs)
}

/// Publishes every port of container `c` on `bind`; how many it has.
fn bind_ports(c: &mut serde_json::Value, bind: &str) -> usize {
    let ports = c["ports"].as_array_mut().into_iter().flatten();
    ports
        .map(|p| p["bindAddress"] = serde_json::json!(bind))
        .count()
}

/// `turnout run` for host `host`, on `engine` (None: the usual one).
fn operator(dir: &Path, sa: &Path, host: &str, listen: u16, engine: Option<&str>) -> Operator {
    let mut c = Command::new(turnout_bin());
    if let Some(e) = engine {
        c.args(["--engine", e]);
    }
    c.args(["run", "--namespace", "default"])
        .args(["--selector", &format!("turnout.dev/host={host}")])
        .args(["--listen", &format!("127.0.0.1:{listen}")])
        .args(["--identity", &format!("fleet-host-{host}")])
        .arg("--state-dir")
        .arg(dir.join(host).join("state"))
        .arg("--data-dir")
        .arg(dir.join(host).join("data"))
        .env("KUBECONFIG", sa)
        .env("POD_NAMESPACE", "turnout-system")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("operator-{host}.log"))).expect("log"));
    Operator(c.spawn().expect("turnout runs"))
}

/// Waits until selection `fleet-<host>` is Ready on `version`.
fn await_ready(c: &Cluster, dir: &Path, host: &str, version: &str) {
    let sel = format!("fleet-{host}");
    let ok = wait_until(WAIT, || ready_on(c, &sel, version));
    let log = std::fs::read_to_string(dir.join(format!("operator-{host}.log")));
    assert!(
        ok,
        "{sel} Ready on {version}: {}\noperator log:\n{}",
        object_json(c, "vsel", &sel),
        log.unwrap_or_default()
    );
}

/// The body an HTTP GET of `/` on `addr` returns ("" when nothing answers).
fn http_body(addr: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text
}

#[test]
fn two_hosts_under_one_cluster_each_converge_their_own_selection() {
    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("fleet: {what} at {:.1} s", t0.elapsed().as_secs_f64());
    require_docker(&[BUSYBOX]);
    lap("engine a answers");
    let dir = temp_dir("fleet");
    let _dir = KeptOnFailure(dir.clone());
    // Dropped in reverse: operators, then containers, cluster, second engine.
    let engine_b = SecondEngine::start(ENGINE_B_NAME, ENGINE_B_BRIDGE, ENGINE_B_SUBNET, &[BUSYBOX]);
    let b = Engine(Some(engine_b.address()));
    let a = Engine(None);
    lap("second engine up");
    let cluster = cluster_up(dir.join("kube"));
    lap("API server up");
    let _containers = Containers(vec![a.clone(), b.clone()]);
    for e in [&a, &b] {
        e.remove_plan(PLAN_A);
        e.remove_plan(PLAN_B);
    }
    cluster.install_manifests();
    let sa = cluster::service_account_kubeconfig(&cluster);
    cluster.apply(&fleet_plan(PLAN_A, "a", "127.0.0.1"));
    cluster.apply(&fleet_plan(PLAN_B, "b", "127.0.0.2"));
    let mut op_a = operator(&dir, &sa, "a", 28980, None);
    let engine_b = b.0.clone().expect("the second engine's address");
    let mut op_b = operator(&dir, &sa, "b", 28981, Some(&engine_b));

    lap("operators started");
    each_host_converges_its_own_selection(&cluster, &dir, &a, &b);
    lap("both hosts converged");
    a_switch_leaves_the_other_host_alone(&cluster, &dir, &a, &b);
    lap("host a switched");

    // SIGKILL host a's operator: host b's keeps serving.
    assert!(
        op_a.0.try_wait().expect("wait").is_none(),
        "host a's operator runs"
    );
    op_a.0.kill().expect("SIGKILL the operator of host a");
    let _ = op_a.0.wait();
    let a_before = a.started(PLAN_A);
    cluster.patch_spec("fleet-b", r#"{"activeVersion":"dao"}"#);
    await_ready(&cluster, &dir, "b", "dao");
    assert_eq!(b.running(PLAN_B), expected_running(PLAN_B, "dao"));
    assert_eq!(a.started(PLAN_A), a_before, "host a's containers untouched");
    assert!(b.running(PLAN_A).is_empty() && a.running(PLAN_B).is_empty());
    lap("host b switched without host a's operator");

    a_port_taken_on_the_hosts_own_address_blocks_the_switch(&cluster, &dir, &b);
    assert!(
        op_b.0.try_wait().expect("wait").is_none(),
        "host b's operator still runs"
    );
    lap("port conflict reported and cleared");
}

/// Both selections become Ready on their own engine only, publishing the
/// same port numbers on their own address.
fn each_host_converges_its_own_selection(c: &Cluster, dir: &Path, a: &Engine, b: &Engine) {
    await_ready(c, dir, "a", "future");
    await_ready(c, dir, "b", "future");
    assert_eq!(a.running(PLAN_A), expected_running(PLAN_A, "future"));
    assert_eq!(b.running(PLAN_B), expected_running(PLAN_B, "future"));
    assert!(
        a.running(PLAN_B).is_empty(),
        "host b's plan is not on engine a"
    );
    assert!(
        b.running(PLAN_A).is_empty(),
        "host a's plan is not on engine b"
    );
    let port = BASE + 10;
    let published_a = a.ok(&["port", &format!("{PLAN_A}-future-service-1"), "8080/tcp"]);
    let published_b = b.ok(&["port", &format!("{PLAN_B}-future-service-1"), "8080/tcp"]);
    assert_eq!(published_a, format!("127.0.0.1:{port}"));
    assert_eq!(published_b, format!("127.0.0.2:{port}"));
    for addr in [format!("127.0.0.1:{port}"), format!("127.0.0.2:{port}")] {
        let body = http_body(&addr);
        assert!(body.contains("turnout demo"), "{addr} serves: {body:?}");
    }
}

/// Host a switches while a process listens on host b's address of a port
/// host a needs on its own: no conflict, and host b's containers keep running.
fn a_switch_leaves_the_other_host_alone(c: &Cluster, dir: &Path, a: &Engine, b: &Engine) {
    let port = BASE + 20; // dao's service-1
    let other = TcpListener::bind(("127.0.0.2", port)).expect("listen on 127.0.0.2");
    let b_before = b.started(PLAN_B);
    let b_generation = object_json(c, "vsel", "fleet-b")["status"]["observedGeneration"].clone();
    c.patch_spec("fleet-a", r#"{"activeVersion":"dao"}"#);
    await_ready(c, dir, "a", "dao");
    assert_eq!(a.running(PLAN_A), expected_running(PLAN_A, "dao"));
    assert_eq!(
        a.ok(&["port", &format!("{PLAN_A}-dao-service-1"), "8080/tcp"]),
        format!("127.0.0.1:{port}"),
        "host a publishes next to the listener on 127.0.0.2:{port}"
    );
    drop(other);
    assert_eq!(b.started(PLAN_B), b_before, "host b's containers untouched");
    assert!(ready_on(c, "fleet-b", "future"), "host b still on future");
    assert_eq!(
        object_json(c, "vsel", "fleet-b")["status"]["observedGeneration"],
        b_generation
    );
    assert!(a.running(PLAN_B).is_empty() && b.running(PLAN_A).is_empty());
}

/// Host b's switch to blockchain, with one of its ports held on 127.0.0.2
/// (its own address) and another on 127.0.0.1 (host a's): PortConflict for
/// the first only, nothing stopped; once the first is freed the switch runs
/// while the second is still held.
fn a_port_taken_on_the_hosts_own_address_blocks_the_switch(c: &Cluster, dir: &Path, b: &Engine) {
    let (clash, beside) = (BASE + 30, BASE + 31);
    let held = TcpListener::bind(("127.0.0.2", clash)).expect("listen on 127.0.0.2");
    let _other = TcpListener::bind(("127.0.0.1", beside)).expect("listen on 127.0.0.1");
    let before = b.started(PLAN_B);
    c.patch_spec("fleet-b", r#"{"activeVersion":"blockchain"}"#);
    let reported = wait_until(WAIT, || {
        ready_condition(c, "fleet-b")["reason"] == "PortConflict"
    });
    assert!(
        reported,
        "PortConflict on host b: {}",
        object_json(c, "vsel", "fleet-b")
    );
    let ready = ready_condition(c, "fleet-b");
    let message = ready["message"].as_str().unwrap_or_default();
    let me = format!("pid {}", std::process::id());
    assert!(
        message.contains(&format!("host port {clash}/tcp")) && message.contains(&me),
        "the conflict names the port and this process: {message}"
    );
    assert!(
        !message.contains(&format!("{beside}/tcp")),
        "a listener on 127.0.0.1:{beside} is no conflict for 127.0.0.2:{beside}: {message}"
    );
    assert_eq!(ready["status"], "False", "{ready}");
    assert_eq!(b.started(PLAN_B), before, "nothing was stopped");

    drop(held);
    await_ready(c, dir, "b", "blockchain");
    assert_eq!(b.running(PLAN_B), expected_running(PLAN_B, "blockchain"));
    assert_eq!(
        b.ok(&[
            "port",
            &format!("{PLAN_B}-blockchain-service-2"),
            "8080/tcp"
        ]),
        format!("127.0.0.2:{beside}")
    );
}
