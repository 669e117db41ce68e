//! The conversion of inspects into `Found`, with bollard's models written
//! out as the engine returns them for containers made with `docker run`.

use std::collections::HashMap;

use bollard::models::{
    ContainerState, DeviceMapping, EndpointSettings, HealthConfig, HostConfigLogConfig,
    NetworkSettings, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};

use super::*;
use crate::import::WITHHELD;

const ID: &str = "6e346a38e4e9c7c3117007a24b101a8e246e92b02419049b64e85678e65e90bf";

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The image: busybox with tini as entrypoint, `sh` as command.
fn image() -> ImageInspect {
    ImageInspect {
        config: Some(ImageConfig {
            env: Some(strings(&["PATH=/bin:/sbin"])),
            entrypoint: Some(strings(&["/sbin/tini", "--"])),
            cmd: Some(strings(&["sh"])),
            working_dir: Some("/".into()),
            labels: Some(HashMap::from([("recipe".into(), "44dc".into())])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A container of that image as `docker run -d --name NAME IMAGE` makes
/// it: the image's settings merged in, the engine's defaults set.
fn container(name: &str) -> ContainerInspectResponse {
    ContainerInspectResponse {
        id: Some(ID.into()),
        name: Some(format!("/{name}")),
        image: Some("sha256:b567".into()),
        state: Some(ContainerState {
            running: Some(true),
            ..Default::default()
        }),
        config: Some(ContainerConfig {
            hostname: Some(ID[..12].into()),
            image: Some("turnout/busybox:demo".into()),
            env: Some(strings(&["PATH=/bin:/sbin"])),
            entrypoint: Some(strings(&["/sbin/tini", "--"])),
            cmd: Some(strings(&["sh"])),
            working_dir: Some("/".into()),
            labels: Some(HashMap::from([("recipe".into(), "44dc".into())])),
            ..Default::default()
        }),
        host_config: Some(HostConfig {
            network_mode: Some("default".into()),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::NO),
                maximum_retry_count: Some(0),
            }),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".into()),
                config: Some(HashMap::new()),
            }),
            ipc_mode: Some("private".into()),
            shm_size: Some(64 * 1024 * 1024),
            runtime: Some("runc".into()),
            ..Default::default()
        }),
        network_settings: Some(NetworkSettings {
            networks: Some(HashMap::from([(
                "bridge".into(),
                EndpointSettings::default(),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn config(c: &mut ContainerInspectResponse) -> &mut ContainerConfig {
    c.config.get_or_insert_with(Default::default)
}

fn host(c: &mut ContainerInspectResponse) -> &mut HostConfig {
    c.host_config.get_or_insert_with(Default::default)
}

fn binding(ip: &str, port: &str) -> PortBinding {
    PortBinding {
        host_ip: Some(ip.into()),
        host_port: Some(port.into()),
    }
}

fn mount(typ: &str, name: Option<&str>, source: &str, path: &str, rw: bool) -> MountPoint {
    MountPoint {
        typ: Some(typ.into()),
        name: name.map(Into::into),
        source: Some(source.into()),
        destination: Some(path.into()),
        rw: Some(rw),
        propagation: Some(if typ == "bind" { "rprivate" } else { "" }.into()),
        ..Default::default()
    }
}

#[test]
fn a_plain_docker_run_is_carried_over_whole_with_nothing_to_warn_about() {
    let found = found_of(&container("future-service-1"), Some(&image()));
    assert_eq!(found.name, "future-service-1");
    assert_eq!(found.image, "turnout/busybox:demo");
    assert!(
        found.command.is_empty(),
        "the image's own command: {found:?}"
    );
    assert!(
        found.env.is_empty(),
        "the image's own environment: {found:?}"
    );
    assert!(found.unsupported.is_empty(), "{:?}", found.unsupported);
    assert!(found.running && !found.managed);
    assert_eq!(found.health, None);
}

#[test]
fn command_env_and_health_are_the_containers_own() {
    let mut c = container("future-service-2");
    let cfg = config(&mut c);
    cfg.cmd = Some(strings(&["httpd", "-f", "-p", "8080"]));
    let env = strings(&["API_TOKEN=s3cret", "MODE=prod", "PATH=/bin:/sbin"]);
    cfg.env = Some(env);
    cfg.stop_timeout = Some(7);
    cfg.healthcheck = Some(HealthConfig {
        test: Some(strings(&["CMD-SHELL", "wget -q localhost:8080 || exit 1"])),
        ..Default::default()
    });
    let found = found_of(&c, Some(&image()));
    assert_eq!(found.command, strings(&["httpd", "-f", "-p", "8080"]));
    assert_eq!(
        found.env,
        vec![
            ("API_TOKEN".to_string(), WITHHELD.to_string()),
            ("MODE".to_string(), "prod".to_string())
        ],
        "the secret's value is withheld, the image's PATH left out"
    );
    let health = strings(&["/bin/sh", "-c", "wget -q localhost:8080 || exit 1"]);
    assert_eq!(found.health, Some(health));
    assert_eq!(found.stop_timeout, Some(7));
    assert!(found.unsupported.is_empty(), "{:?}", found.unsupported);
}

#[test]
fn secrets_in_the_command_are_withheld_and_said() {
    let mut c = container("test-redis");
    config(&mut c).cmd = Some(strings(&["redis-server", "--requirepass", "hunter2"]));
    let found = found_of(&c, Some(&image()));
    assert_eq!(
        found.command,
        strings(&["redis-server", "--requirepass", WITHHELD])
    );
    assert!(sentence(&found, "secret values in its command (--requirepass)").contains("secrets"));
    assert!(!format!("{found:?}").contains("hunter2"));
}

#[test]
fn ports_are_the_configured_bindings_once_each() {
    let mut c = container("future-service-2");
    c.state = None;
    host(&mut c).port_bindings = Some(HashMap::from([
        (
            "8080/tcp".to_string(),
            Some(vec![binding("", "26001"), binding("::", "26001")]),
        ),
        (
            "53/udp".to_string(),
            Some(vec![binding("127.0.0.1", "26053")]),
        ),
    ]));
    let found = found_of(&c, Some(&image()));
    assert!(!found.running, "a stopped container's ports count too");
    let ports: Vec<_> = found
        .ports
        .iter()
        .map(|p| (p.host, p.container, p.udp, p.ip.clone()))
        .collect();
    assert_eq!(
        ports,
        [
            (26001, 8080, false, None),
            (26053, 53, true, Some("127.0.0.1".to_string()))
        ]
    );
}

#[test]
fn every_mount_is_found_by_kind() {
    let mut c = container("test-mysql");
    host(&mut c).tmpfs = Some(HashMap::from([("/tmp".to_string(), String::new())]));
    let anonymous = "c7c3117007a24b101a8e246e92b02419049b64e85678e65e90bf583821e21f78";
    c.mounts = Some(vec![
        mount("volume", Some(anonymous), "/x", "/var/lib/mysql", true),
        mount("volume", Some("pgdata"), "/var/lib/docker/y", "/data", true),
        mount("bind", None, "/srv/www", "/www", false),
    ]);
    let found = found_of(&c, Some(&image()));
    assert_eq!(
        found.mounts,
        vec![
            FoundMount::Volume {
                name: "pgdata".into(),
                path: "/data".into(),
                read_only: false,
                anonymous: false
            },
            FoundMount::Other {
                kind: "tmpfs".into(),
                path: "/tmp".into()
            },
            FoundMount::Volume {
                name: anonymous.into(),
                path: "/var/lib/mysql".into(),
                read_only: false,
                anonymous: true
            },
            FoundMount::Bind {
                host: "/srv/www".into(),
                path: "/www".into(),
                read_only: true
            },
        ]
    );
}

#[test]
fn health_checks_become_argv_or_nothing() {
    let with = |test: &[&str]| {
        let mut c = container("svc");
        config(&mut c).healthcheck = Some(HealthConfig {
            test: Some(strings(test)),
            ..Default::default()
        });
        found_of(&c, Some(&image())).health
    };
    assert_eq!(
        with(&["CMD", "pg_isready", "-q"]),
        Some(strings(&["pg_isready", "-q"]))
    );
    assert_eq!(with(&["NONE"]), None);
    assert_eq!(with(&[]), None);
    assert_eq!(with(&["CMD"]), None);
    let mut c = container("svc");
    config(&mut c).shell = Some(strings(&["/bin/bash", "-ec"]));
    config(&mut c).healthcheck = Some(HealthConfig {
        test: Some(strings(&["CMD-SHELL", "true"])),
        interval: Some(30_000_000_000),
        retries: Some(3),
        ..Default::default()
    });
    let found = found_of(&c, Some(&image()));
    assert_eq!(found.health, Some(strings(&["/bin/bash", "-ec", "true"])));
    assert!(
        found
            .unsupported
            .iter()
            .any(|u| u.contains("interval 30s, 3 retries")),
        "{:?}",
        found.unsupported
    );
}

/// The sentence about `what`, or a failure listing them all.
fn sentence<'a>(found: &'a Found, what: &str) -> &'a str {
    found
        .unsupported
        .iter()
        .find(|u| u.contains(what))
        .unwrap_or_else(|| panic!("no sentence about {what:?} in {:#?}", found.unsupported))
}

#[test]
fn what_the_plan_cannot_say_is_said_in_a_sentence() {
    let mut c = container("test-elasticsearch");
    let cfg = config(&mut c);
    cfg.entrypoint = Some(strings(&["/docker-entrypoint.sh"]));
    cfg.user = Some("1000:1000".into());
    cfg.working_dir = Some("/usr/share/es".into());
    let mut labels = cfg.labels.clone().unwrap_or_default();
    labels.insert("traefik.auth".into(), "admin:$apr1$hash".into());
    cfg.labels = Some(labels);
    let h = host(&mut c);
    h.restart_policy = Some(RestartPolicy {
        name: Some(RestartPolicyNameEnum::ON_FAILURE),
        maximum_retry_count: Some(5),
    });
    h.network_mode = Some("host".into());
    h.privileged = Some(true);
    h.cap_add = Some(strings(&["NET_ADMIN"]));
    h.devices = Some(vec![DeviceMapping {
        path_on_host: Some("/dev/fuse".into()),
        ..Default::default()
    }]);
    h.links = Some(strings(&["/test-mysql:/es/db"]));
    h.extra_hosts = Some(strings(&["db.local:10.0.0.5"]));
    h.dns = Some(strings(&["9.9.9.9"]));
    h.memory = Some(512 * 1024 * 1024);
    h.nano_cpus = Some(1_500_000_000);
    h.log_config = Some(HostConfigLogConfig {
        typ: Some("syslog".into()),
        config: Some(HashMap::from([("syslog-address".into(), "udp://x".into())])),
    });
    let found = found_of(&c, Some(&image()));
    assert!(sentence(&found, "restart policy on-failure:5").contains("starts what should run"));
    sentence(&found, "network mode host");
    sentence(&found, "privileged mode");
    sentence(&found, "added capabilities NET_ADMIN");
    sentence(&found, "devices /dev/fuse");
    sentence(&found, "links to /test-mysql:/es/db");
    sentence(&found, "extra hosts db.local:10.0.0.5");
    sentence(&found, "DNS servers 9.9.9.9");
    sentence(&found, "user 1000:1000");
    sentence(&found, "working directory /usr/share/es");
    sentence(&found, "entrypoint [\"/docker-entrypoint.sh\"]");
    assert!(sentence(&found, "memory 512 MiB").contains("cpus 1.5"));
    sentence(&found, "log driver syslog with options syslog-address");
    assert!(sentence(&found, "labels traefik.auth").contains("values not shown"));
    let all = found.unsupported.join("\n");
    assert!(!all.contains("apr1") && !all.contains("udp://x"), "{all}");
    assert!(
        !all.contains("recipe"),
        "the image's label is the image's: {all}"
    );
}

#[test]
fn ports_the_engine_picks_and_networks_of_ones_own_are_said() {
    let mut c = container("dao-service-1");
    host(&mut c).port_bindings = Some(HashMap::from([
        ("8080/tcp".to_string(), Some(vec![binding("", "")])),
        ("9000/tcp".to_string(), Some(vec![binding("", "9000-9010")])),
        ("132/sctp".to_string(), Some(vec![binding("", "26132")])),
        ("8081/tcp".to_string(), None),
    ]));
    let networks = c.network_settings.get_or_insert_with(Default::default);
    networks.networks = Some(HashMap::from([
        ("bridge".into(), EndpointSettings::default()),
        ("dao-net\nx".into(), EndpointSettings::default()),
    ]));
    let found = found_of(&c, Some(&image()));
    assert!(found.ports.is_empty(), "{:?}", found.ports);
    sentence(
        &found,
        "container port 8080/tcp published on a host port the engine picks (any port)",
    );
    sentence(&found, "(one of 9000-9010)");
    sentence(&found, "132/sctp");
    assert!(sentence(&found, "networks dao-net\\nx").contains("bridge"));
}

#[test]
fn without_its_image_the_container_is_taken_whole_and_said_so() {
    let mut c = container("blockchain-service-1");
    config(&mut c).env = Some(strings(&[
        "PATH=/bin:/sbin",
        "DATABASE_URL=postgres://a:pw@db/a",
    ]));
    let found = found_of(&c, None);
    assert_eq!(found.command, strings(&["sh"]));
    assert_eq!(found.env[0], ("PATH".to_string(), "/bin:/sbin".to_string()));
    assert_eq!(found.env[1].1, WITHHELD);
    sentence(&found, "turnout/busybox:demo is not on the host any more");
    sentence(
        &found,
        "entrypoint [\"/sbin/tini\",\"--\"] (the image could not be compared",
    );
}

#[test]
fn turnouts_own_containers_are_known_by_their_label() {
    let mut c = container("future-service-1");
    let mut labels = HashMap::new();
    labels.insert(LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string());
    config(&mut c).labels = Some(labels);
    assert!(found_of(&c, Some(&image())).managed);
    assert!(!found_of(&container("x"), Some(&image())).managed);
}

#[test]
fn only_docker_made_names_are_anonymous() {
    assert!(is_anonymous_volume(&"0a".repeat(32)));
    assert!(!is_anonymous_volume(&"0a".repeat(31)));
    assert!(!is_anonymous_volume(&format!("{}zz", "0a".repeat(31))));
    assert!(!is_anonymous_volume("pgdata"));
}
