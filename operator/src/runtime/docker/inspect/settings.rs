//! The settings of a container built by hand that a plan cannot express,
//! each as a sentence a person reads after "not carried over:". Values
//! that may be secret (labels, log options) are named by key only; all
//! text from the host goes through [`clean`].

use bollard::models::{
    ContainerConfig, ContainerInspectResponse, HostConfig, ImageConfig, RestartPolicyNameEnum,
};

use crate::import::clean;

/// Docker's default /dev/shm size.
const DEFAULT_SHM: i64 = 64 * 1024 * 1024;

/// At most this many items of a list are named in one sentence.
const NAMED: usize = 8;

/// `items`, cleaned, the first few named and the rest counted.
fn list<I: IntoIterator<Item = S>, S: AsRef<str>>(items: I) -> String {
    let items: Vec<String> = items.into_iter().map(|s| clean(s.as_ref())).collect();
    let mut text = items
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > NAMED {
        text.push_str(&format!(" and {} more", items.len() - NAMED));
    }
    text
}

fn some<T>(v: &Option<Vec<T>>) -> Option<&[T]> {
    v.as_deref().filter(|v| !v.is_empty())
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| !v.is_empty())
}

/// The host side of the container: restart, network, privileges,
/// resources and wiring.
pub(super) fn of_host(h: &HostConfig, out: &mut Vec<String>) {
    restart(h, out);
    if let Some(mode) = set(&h.network_mode).filter(|m| !matches!(*m, "default" | "bridge")) {
        out.push(format!(
            "network mode {} (turnout's containers join the engine's default bridge network)",
            clean(mode)
        ));
    }
    privileges(h, out);
    resources(h, out);
    wiring(h, out);
}

fn restart(h: &HostConfig, out: &mut Vec<String>) {
    let Some(policy) = &h.restart_policy else {
        return;
    };
    let retries = match (policy.name, policy.maximum_retry_count) {
        (Some(RestartPolicyNameEnum::ON_FAILURE), Some(n)) if n > 0 => format!(":{n}"),
        _ => String::new(),
    };
    match policy.name {
        None | Some(RestartPolicyNameEnum::EMPTY | RestartPolicyNameEnum::NO) => {}
        Some(name) => out.push(format!(
            "restart policy {name}{retries} (turnout's containers have none: turnout itself starts what should run, and starts it again when it stops)"
        )),
    }
}

fn privileges(h: &HostConfig, out: &mut Vec<String>) {
    let mut what = Vec::new();
    if h.privileged == Some(true) {
        what.push("privileged mode".to_string());
    }
    if let Some(caps) = some(&h.cap_add) {
        what.push(format!("added capabilities {}", list(caps)));
    }
    if let Some(caps) = some(&h.cap_drop) {
        what.push(format!("dropped capabilities {}", list(caps)));
    }
    if let Some(devices) = some(&h.devices) {
        let paths = devices
            .iter()
            .map(|d| d.path_on_host.clone().unwrap_or_default());
        what.push(format!("devices {}", list(paths)));
    }
    if some(&h.device_requests).is_some() {
        what.push("device requests (GPUs and the like)".to_string());
    }
    if let Some(opts) = some(&h.security_opt) {
        what.push(format!("security options {}", list(opts)));
    }
    for (label, value) in [
        ("PID namespace", set(&h.pid_mode)),
        ("UTS namespace", set(&h.uts_mode)),
        ("user namespace", set(&h.userns_mode)),
        ("cgroup parent", set(&h.cgroup_parent)),
        (
            "IPC mode",
            set(&h.ipc_mode).filter(|m| !matches!(*m, "private" | "shareable")),
        ),
    ] {
        if let Some(v) = value {
            what.push(format!("{label} {}", clean(v)));
        }
    }
    if let Some(groups) = some(&h.group_add) {
        what.push(format!("extra groups {}", list(groups)));
    }
    if let Some(sysctls) = h.sysctls.as_ref().filter(|s| !s.is_empty()) {
        let mut keys: Vec<&String> = sysctls.keys().collect();
        keys.sort();
        what.push(format!("sysctls {}", list(keys)));
    }
    if h.readonly_rootfs == Some(true) {
        what.push("a read-only root file system".to_string());
    }
    if let Some(runtime) = set(&h.runtime).filter(|r| *r != "runc") {
        what.push(format!("runtime {}", clean(runtime)));
    }
    if !what.is_empty() {
        out.push(format!(
            "{} (turnout's containers run with the engine's defaults)",
            what.join("; ")
        ));
    }
}

fn resources(h: &HostConfig, out: &mut Vec<String>) {
    let mut limits = Vec::new();
    let positive = |v: Option<i64>| v.filter(|v| *v > 0);
    let mib = |v: i64| format!("{} MiB", v / (1024 * 1024));
    if let Some(m) = positive(h.memory) {
        limits.push(format!("memory {}", mib(m)));
    }
    if let Some(m) = positive(h.memory_reservation) {
        limits.push(format!("memory reservation {}", mib(m)));
    }
    if let Some(m) = h.memory_swap.filter(|v| *v != 0) {
        limits.push(if m < 0 {
            "unlimited swap".to_string()
        } else {
            format!("memory+swap {}", mib(m))
        });
    }
    if let Some(n) = positive(h.nano_cpus) {
        limits.push(format!("cpus {}", n as f64 / 1e9));
    }
    for (label, value) in [
        ("cpu shares", positive(h.cpu_shares)),
        ("cpu quota", positive(h.cpu_quota)),
        ("cpu period", positive(h.cpu_period)),
        ("pids limit", positive(h.pids_limit)),
        ("block io weight", positive(h.blkio_weight.map(i64::from))),
        ("OOM score adjustment", h.oom_score_adj.filter(|v| *v != 0)),
    ] {
        if let Some(v) = value {
            limits.push(format!("{label} {v}"));
        }
    }
    for (label, value) in [("cpuset", &h.cpuset_cpus), ("memory nodes", &h.cpuset_mems)] {
        if let Some(v) = set(value) {
            limits.push(format!("{label} {}", clean(v)));
        }
    }
    if let Some(s) = h.shm_size.filter(|s| *s > 0 && *s != DEFAULT_SHM) {
        limits.push(format!("/dev/shm {}", mib(s)));
    }
    if let Some(ulimits) = some(&h.ulimits) {
        limits.push(format!(
            "ulimits {}",
            list(ulimits.iter().map(|u| u.name.clone().unwrap_or_default()))
        ));
    }
    if h.oom_kill_disable == Some(true) {
        limits.push("the OOM killer disabled".to_string());
    }
    if !limits.is_empty() {
        out.push(format!(
            "resource limits: {} (a plan sets none)",
            limits.join(", ")
        ));
    }
}

fn wiring(h: &HostConfig, out: &mut Vec<String>) {
    for (what, items) in [
        ("links to", some(&h.links)),
        ("extra hosts", some(&h.extra_hosts)),
        ("DNS servers", some(&h.dns)),
        ("DNS search domains", some(&h.dns_search)),
        ("DNS options", some(&h.dns_options)),
        ("volumes from", some(&h.volumes_from)),
    ] {
        if let Some(items) = items {
            out.push(format!("{what} {}", list(items)));
        }
    }
    if let Some(log) = &h.log_config {
        let options: Vec<&String> = log.config.iter().flat_map(|c| c.keys()).collect();
        let driver = set(&log.typ).unwrap_or("json-file");
        if driver != "json-file" || !options.is_empty() {
            out.push(format!(
                "log driver {}{} (turnout's containers log with the engine's default)",
                clean(driver),
                if options.is_empty() {
                    String::new()
                } else {
                    format!(" with options {}", list(options))
                }
            ));
        }
    }
    for (flag, on) in [
        ("--rm (removed when it stops)", h.auto_remove),
        (
            "-P (every exposed port on a random host port)",
            h.publish_all_ports,
        ),
        ("--init", h.init),
    ] {
        if on == Some(true) {
            out.push(flag.to_string());
        }
    }
}

/// The container's own settings that differ from its image's, and the
/// networks it joined.
pub(super) fn of_config(
    c: &ContainerInspectResponse,
    config: &ContainerConfig,
    image: Option<&ImageConfig>,
    out: &mut Vec<String>,
) {
    let differs = |mine: &Option<String>, theirs: Option<&Option<String>>| {
        let mine = set(mine);
        match theirs {
            Some(theirs) => mine != set(theirs),
            None => mine.is_some(),
        }
    };
    if differs(&config.user, image.map(|i| &i.user)) {
        out.push(format!(
            "user {}",
            clean(set(&config.user).unwrap_or("root"))
        ));
    }
    if differs(&config.working_dir, image.map(|i| &i.working_dir)) {
        out.push(format!(
            "working directory {}",
            clean(set(&config.working_dir).unwrap_or("/"))
        ));
    }
    if let Some(signal) = set(&config.stop_signal)
        && differs(&config.stop_signal, image.map(|i| &i.stop_signal))
    {
        out.push(format!("stop signal {}", clean(signal)));
    }
    labels(config, image, out);
    terminal_and_names(c, config, out);
    health_timing(config, out);
    networks(c, out);
}

/// Labels the container has beyond its image's, by key: a value may be a
/// secret (a basic-auth hash, a token).
fn labels(config: &ContainerConfig, image: Option<&ImageConfig>, out: &mut Vec<String>) {
    let inherited = image.and_then(|i| i.labels.as_ref());
    let mut own: Vec<&String> = config
        .labels
        .iter()
        .flatten()
        .filter(|(k, v)| inherited.and_then(|l| l.get(*k)) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    own.sort();
    if !own.is_empty() {
        out.push(format!(
            "labels {} (turnout's containers carry turnout's own labels; values not shown)",
            list(own)
        ));
    }
}

fn terminal_and_names(
    c: &ContainerInspectResponse,
    config: &ContainerConfig,
    out: &mut Vec<String>,
) {
    if config.tty == Some(true) || config.open_stdin == Some(true) {
        out.push("a terminal or open stdin (-t, -i)".to_string());
    }
    let short_id: String =
        c.id.as_deref()
            .unwrap_or_default()
            .chars()
            .take(12)
            .collect();
    if let Some(hostname) = set(&config.hostname).filter(|h| *h != short_id) {
        out.push(format!("hostname {}", clean(hostname)));
    }
    if let Some(domain) = set(&config.domainname) {
        out.push(format!("domain name {}", clean(domain)));
    }
}

/// A readiness probe keeps only the check's command: its timing is turnout's.
fn health_timing(config: &ContainerConfig, out: &mut Vec<String>) {
    let Some(check) = &config.healthcheck else {
        return;
    };
    let seconds = |ns: Option<i64>| ns.filter(|n| *n > 0).map(|n| n / 1_000_000_000);
    let mut timing = Vec::new();
    for (label, value) in [
        ("interval", seconds(check.interval)),
        ("timeout", seconds(check.timeout)),
        ("start period", seconds(check.start_period)),
    ] {
        if let Some(s) = value {
            timing.push(format!("{label} {s}s"));
        }
    }
    if let Some(r) = check.retries.filter(|r| *r > 0) {
        timing.push(format!("{r} retries"));
    }
    if !timing.is_empty() {
        out.push(format!(
            "the health check's timing ({}; the readiness probe keeps its command)",
            timing.join(", ")
        ));
    }
}

/// Networks beyond the default bridge (user-defined networks, aliases).
fn networks(c: &ContainerInspectResponse, out: &mut Vec<String>) {
    let mode = c.host_config.as_ref().and_then(|h| set(&h.network_mode));
    let mut names: Vec<&String> = c
        .network_settings
        .iter()
        .flat_map(|n| n.networks.iter().flatten())
        .map(|(name, _)| name)
        .filter(|n| n.as_str() != "bridge" && Some(n.as_str()) != mode)
        .collect();
    names.sort();
    if !names.is_empty() {
        out.push(format!(
            "networks {} (turnout's containers join the default bridge network)",
            list(names)
        ));
    }
}
