//! Properties of validation over generated plans: it never panics, a plan
//! built without collisions is valid, and any collision added to it is
//! reported as a PortConflict naming both sides and the port.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use common::*;
use proptest::prelude::*;
use proptest::sample::Index;
use turnout_crds::PortPlanSpec;
use turnout_crds::load::{Documents, LoadError};
use turnout_crds::plan::{
    ContainerSpec, DataBinding, Engine, ExecProbe, HttpProbe, PortRange, Probe, PublishedPort,
    SecretFile, SecretSource, TcpProbe, VersionSpec,
};
use turnout_crds::port::{BindAddress, Protocol};
use turnout_crds::validate::{
    Violation, ViolationKind, validate_plan, validate_selection, validate_sync,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------ arbitrary plans

/// Names from a small pool (so duplicates and references hit) or anything at all.
fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["services", "shared", "test-mysql", "dao", "web-1", "a", "-x"])
            .prop_map(str::to_string),
        2 => any::<String>(),
        1 => "[a-z][a-z0-9_.-]{0,70}",
    ]
}

fn any_port_number() -> impl Strategy<Value = u16> {
    prop_oneof![
        1u16..=65535,
        3300u16..3310,
        prop::sample::select(vec![1u16, 9200, 65535])
    ]
}

fn any_bind() -> impl Strategy<Value = Option<BindAddress>> {
    prop_oneof![
        Just(None),
        any::<[u8; 4]>().prop_map(|o| Some(BindAddress(IpAddr::V4(Ipv4Addr::from(o))))),
        any::<[u16; 8]>().prop_map(|s| Some(BindAddress(IpAddr::V6(Ipv6Addr::from(s))))),
        prop::sample::select(vec!["0.0.0.0", "::", "127.0.0.1", "::1"]).prop_map(|a| Some(addr(a))),
    ]
}

fn any_published() -> impl Strategy<Value = PublishedPort> {
    (
        any_port_number(),
        any_port_number(),
        any::<bool>(),
        any_bind(),
        proptest::option::of(any_name()),
    )
        .prop_map(|(host, inner, udp, bind_address, range)| PublishedPort {
            host: port(host),
            container: port(inner),
            protocol: if udp { Protocol::Udp } else { Protocol::Tcp },
            bind_address,
            range,
        })
}

fn any_probe() -> impl Strategy<Value = Option<Probe>> {
    proptest::option::of(
        (
            proptest::option::of(any_port_number()),
            proptest::option::of((any_port_number(), any::<String>())),
            proptest::option::of(prop::collection::vec(any::<String>(), 0..3)),
        )
            .prop_map(|(tcp, http, exec)| Probe {
                tcp: tcp.map(|p| TcpProbe { port: port(p) }),
                http: http.map(|(p, path)| HttpProbe {
                    port: port(p),
                    path,
                }),
                exec: exec.map(|command| ExecProbe { command }),
                period_seconds: None,
                timeout_seconds: None,
            }),
    )
}

fn any_secret() -> impl Strategy<Value = SecretFile> {
    (
        any_name(),
        any::<String>(),
        proptest::option::of(any::<String>()),
        proptest::option::of(any::<String>()),
    )
        .prop_map(|(name, path, env, file)| SecretFile {
            name,
            path,
            from: SecretSource {
                env,
                file,
                secret_key_ref: None,
            },
        })
}

fn any_engine() -> impl Strategy<Value = Option<Engine>> {
    proptest::option::of(prop::sample::select(vec![
        Engine::Mysql,
        Engine::Mariadb,
        Engine::Postgres,
        Engine::Redis,
        Engine::Neo4j,
        Engine::Elasticsearch,
        Engine::Weaviate,
    ]))
}

fn any_container() -> impl Strategy<Value = ContainerSpec> {
    (
        any_name(),
        any::<String>(),
        prop::collection::vec(any::<String>(), 0..2),
        prop::collection::vec((any_name(), any::<String>()), 0..3),
        prop::collection::vec(any_secret(), 0..2),
        prop::collection::vec(any_published(), 0..4),
        any_probe(),
        any_engine(),
    )
        .prop_map(
            |(name, image, command, env, secrets, ports, readiness, engine)| {
                let mut c = container(&name);
                c.image = image;
                c.command = command;
                c.env = env
                    .into_iter()
                    .map(|(name, value)| turnout_crds::plan::EnvVar { name, value })
                    .collect();
                c.secrets = secrets;
                c.ports = ports;
                c.readiness = readiness;
                c.engine = engine;
                c
            },
        )
}

fn any_binding() -> impl Strategy<Value = DataBinding> {
    (
        any_name(),
        any_name(),
        proptest::option::of(any::<String>()),
        proptest::option::of(prop::collection::vec(any::<String>(), 0..2)),
        proptest::option::of(prop::collection::vec(any::<String>(), 0..2)),
    )
        .prop_map(|(name, container, database, export, import)| DataBinding {
            name,
            container,
            database,
            export,
            import,
        })
}

fn any_version() -> impl Strategy<Value = VersionSpec> {
    (
        any_name(),
        prop::collection::vec((any_name(), any_port_number(), any_port_number()), 0..4),
        prop::collection::vec(any_container(), 0..4),
        prop::collection::vec(any_binding(), 0..3),
    )
        .prop_map(|(name, ranges, containers, data)| VersionSpec {
            name,
            ranges: ranges
                .into_iter()
                .map(|(name, from, to)| PortRange {
                    name,
                    from: port(from),
                    to: port(to),
                })
                .collect(),
            containers,
            data,
        })
}

fn any_plan() -> impl Strategy<Value = PortPlanSpec> {
    (
        any::<bool>(),
        prop::collection::vec(any_container(), 0..4),
        prop::collection::vec(any_version(), 0..4),
    )
        .prop_map(
            |(exclusive_versions, infrastructure, versions)| PortPlanSpec {
                environment: None,
                exclusive_versions,
                adopt: false,
                switch_strategy: Default::default(),
                rollback: None,
                infrastructure,
                versions,
                notifications: Vec::new(),
            },
        )
}

/// What every violation promises a reader, whatever the plan.
fn check_shape(v: &Violation) -> Result<(), TestCaseError> {
    prop_assert!(v.path.starts_with("spec."), "path {:?}", v.path);
    prop_assert!(!v.message.trim().is_empty(), "empty message at {}", v.path);
    match v.kind {
        ViolationKind::PortConflict
        | ViolationKind::RangeOverlap
        | ViolationKind::RangeCollision
        | ViolationKind::RangeCoversInfrastructurePort => {
            prop_assert_eq!(v.subjects.len(), 2, "{:?}", v);
            prop_assert!(v.port.is_some(), "{:?}", v);
        }
        ViolationKind::PortOutsideRange | ViolationKind::MissingRange => {
            prop_assert!(v.port.is_some(), "{:?}", v);
        }
        _ => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn validation_never_panics_and_every_violation_says_where(plan in any_plan()) {
        let found = validate_plan(&plan);
        for v in &found {
            check_shape(v)?;
        }
        // Same input, same answer.
        prop_assert_eq!(validate_plan(&plan), found);
    }

    #[test]
    fn selections_and_syncs_of_any_names_never_panic(
        plan in any_plan(),
        active in any_name(),
        from in any_name(),
        to in any_name(),
    ) {
        let known = plan.versions.iter().any(|v| v.name == active);
        let found = validate_selection("p", &plan, &selection("p", &active));
        prop_assert_eq!(found.is_empty(), known, "{:?}", found);
        for v in validate_sync(&plan, &sync("p", &from, &to)) {
            check_shape(&v)?;
        }
    }
}

// ------------------------------------------------------ plans without collisions

/// The shape of a generated valid version: per range (offset, extra length),
/// per container (range index, container port, udp, bind, probe).
type RangeGen = (u16, u16);
type ContainerGen = (Index, u16, bool, Option<BindAddress>, bool);

fn valid_bind() -> impl Strategy<Value = Option<BindAddress>> {
    prop::sample::select(vec![
        None,
        Some("0.0.0.0"),
        Some("127.0.0.1"),
        Some("::1"),
        Some("::"),
    ])
    .prop_map(|a| a.map(addr))
}

fn range_gen() -> impl Strategy<Value = RangeGen> {
    (0u16..500, 4u16..500)
}

fn container_gen() -> impl Strategy<Value = ContainerGen> {
    (
        any::<Index>(),
        1u16..=65535,
        any::<bool>(),
        valid_bind(),
        any::<bool>(),
    )
}

const RANGE_NAMES: [&str; 3] = ["services", "shared", "contracts"];

/// Version `vi` owns 20000 + vi*11000 .. +11000: range j sits in its own
/// thousand, and each container takes the next free port of its range.
fn build_version(
    vi: usize,
    label: &str,
    ranges: &[RangeGen],
    containers: &[ContainerGen],
    with_data: bool,
    mysql: Option<&str>,
) -> VersionSpec {
    let base = 20000 + 11000 * vi as u16;
    let mut v = version(&format!("{label}{vi}"));
    for (j, (offset, extra)) in ranges.iter().enumerate() {
        let from = base + 1000 * j as u16 + offset;
        v = v.range(RANGE_NAMES[j], from, from + extra);
    }
    let mut used = vec![0u16; ranges.len()];
    for (ci, (pick, inner, udp, bind_address, probe)) in containers.iter().enumerate() {
        let j = pick.index(ranges.len());
        let host = v.ranges[j].from.get() + used[j];
        used[j] += 1;
        let mut c = container(&format!("{label}-{vi}-{ci}")).publish(PublishedPort {
            host: port(host),
            container: port(*inner),
            protocol: if *udp { Protocol::Udp } else { Protocol::Tcp },
            bind_address: *bind_address,
            range: Some(RANGE_NAMES[j].to_string()),
        });
        if *probe {
            c = c.readiness(if *udp {
                exec_probe(&["/bin/ready"])
            } else {
                http_probe(*inner, "/healthz")
            });
        }
        if with_data {
            v = v.data(commands(&format!("data-{ci}"), &c.name));
        }
        v = v.container(c);
    }
    if let Some(db) = mysql {
        v = v.data(database("users", db, &format!("{label}{vi}_users")));
    }
    v
}

/// Infrastructure on distinct ports below 20000 (each container one or two
/// of them), versions on disjoint ranges above 20000.
fn valid_plan_strategy(
    min_infra: usize,
    min_versions: usize,
) -> impl Strategy<Value = PortPlanSpec> {
    let infra = (min_infra..=4usize).prop_flat_map(|k| {
        (
            prop::collection::btree_set(1u16..20000, 2 * k),
            prop::collection::vec(
                ("[a-z]{1,12}", any::<bool>(), valid_bind(), any::<bool>()),
                k,
            ),
        )
    });
    let versions = prop::collection::vec(
        (
            prop::collection::vec(range_gen(), 1..=3),
            prop::collection::vec(container_gen(), 0..=4),
            any::<bool>(),
        ),
        min_versions..=4,
    );
    (any::<bool>(), "[a-z]{1,8}", any::<bool>(), infra, versions).prop_map(
        |(exclusive, label, mysql_first, (ports, infra), versions)| {
            let ports: Vec<u16> = ports.into_iter().collect();
            let mut p = plan();
            p.exclusive_versions = exclusive;
            for (i, (prefix, two, bind, probe)) in infra.iter().enumerate() {
                let mut c = container(&format!("{prefix}-{i}")).publish(PublishedPort {
                    bind_address: *bind,
                    ..publish(ports[2 * i], 1000 + i as u16)
                });
                if *two {
                    c = c.publish(publish(ports[2 * i + 1], 2000 + i as u16).udp());
                }
                if *probe {
                    c = c.readiness(tcp_probe(1000 + i as u16));
                }
                if i == 0 && mysql_first {
                    c = c
                        .engine(Engine::Mysql)
                        .env("MYSQL_ROOT_PASSWORD_FILE", "/run/secrets/root")
                        .secret(secret_from_env("root", "/run/secrets/root", "TURNOUT_ROOT"));
                }
                p = p.infra(c);
            }
            let mysql = (mysql_first && !p.infrastructure.is_empty())
                .then(|| p.infrastructure[0].name.clone());
            for (vi, (ranges, containers, with_data)) in versions.iter().enumerate() {
                p = p.version(build_version(
                    vi,
                    &label,
                    ranges,
                    containers,
                    *with_data,
                    mysql.as_deref(),
                ));
            }
            p
        },
    )
}

fn conflict_between<'a>(
    found: &'a [Violation],
    a: &str,
    b: &str,
    host: u16,
) -> Option<&'a Violation> {
    found.iter().find(|v| {
        v.kind == ViolationKind::PortConflict
            && v.port == Some(host)
            && v.subjects.iter().any(|s| s == a)
            && v.subjects.iter().any(|s| s == b)
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_plan_built_without_collisions_is_valid(p in valid_plan_strategy(0, 1)) {
        let found = validate_plan(&p);
        prop_assert!(found.is_empty(), "{}", describe(&found));
    }

    #[test]
    fn an_infrastructure_port_copied_onto_a_version_container_conflicts(
        p in valid_plan_strategy(1, 1),
        infra_pick in any::<Index>(),
        port_pick in any::<Index>(),
        version_pick in any::<Index>(),
        container_pick in any::<Index>(),
    ) {
        let mut p = p;
        let vi = version_pick.index(p.versions.len());
        prop_assume!(!p.versions[vi].containers.is_empty());
        let ii = infra_pick.index(p.infrastructure.len());
        let infra = p.infrastructure[ii].clone();
        let taken = infra.ports[port_pick.index(infra.ports.len())].clone();
        let ci = container_pick.index(p.versions[vi].containers.len());
        let target = &mut p.versions[vi].containers[ci];
        let range = target.ports[0].range.clone();
        target.ports[0] = PublishedPort { range, ..taken.clone() };
        let name = target.name.clone();

        let found = validate_plan(&p);
        let v = conflict_between(&found, &infra.name, &name, taken.host.get());
        prop_assert!(v.is_some(), "no conflict between {} and {} on {}:\n{}", infra.name, name, taken.host, describe(&found));
        let v = v.map(|v| v.path.clone()).unwrap_or_default();
        prop_assert_eq!(v, format!("spec.versions[{vi}].containers[{ci}].ports[0].host"));
    }

    #[test]
    fn a_port_used_twice_in_one_version_conflicts(
        p in valid_plan_strategy(0, 1),
        version_pick in any::<Index>(),
        from_pick in any::<Index>(),
        to_pick in any::<Index>(),
    ) {
        let mut p = p;
        let vi = version_pick.index(p.versions.len());
        let n = p.versions[vi].containers.len();
        prop_assume!(n > 0);
        let (a, b) = (from_pick.index(n), to_pick.index(n));
        let copied = p.versions[vi].containers[a].ports[0].clone();
        p.versions[vi].containers[b].ports.push(copied.clone());
        let (name_a, name_b) = (
            p.versions[vi].containers[a].name.clone(),
            p.versions[vi].containers[b].name.clone(),
        );

        let found = validate_plan(&p);
        prop_assert!(
            conflict_between(&found, &name_a, &name_b, copied.host.get()).is_some(),
            "no conflict between {} and {} on {}:\n{}", name_a, name_b, copied.host, describe(&found)
        );
        let kinds = kinds(&found);
        prop_assert_eq!(kinds, vec![ViolationKind::PortConflict], "{}", describe(&found));
    }

    #[test]
    fn a_port_shared_by_two_versions_conflicts_only_when_they_run_together(
        p in valid_plan_strategy(0, 2),
        pick in any::<Index>(),
    ) {
        let mut p = p;
        let (from, to) = (0, 1 + pick.index(p.versions.len() - 1));
        prop_assume!(!p.versions[from].containers.is_empty() && !p.versions[to].containers.is_empty());
        // `to` takes `from`'s port and range, so both ranges hold it.
        let taken = p.versions[from].containers[0].ports[0].clone();
        let range_name = taken.range.clone().unwrap_or_default();
        let range = p.versions[from].ranges.iter().find(|r| r.name == range_name).cloned();
        prop_assert!(range.is_some());
        let range = range.map(|r| PortRange { name: "borrowed".into(), ..r });
        p.versions[to].ranges.extend(range);
        let target = &mut p.versions[to].containers[0];
        // Its probe followed its old protocol; this property is about ports only.
        target.readiness = None;
        target.ports[0] = PublishedPort { range: Some("borrowed".into()), ..taken.clone() };
        let (a, b) = (p.versions[from].containers[0].name.clone(), p.versions[to].containers[0].name.clone());

        let found = validate_plan(&p);
        if p.exclusive_versions {
            prop_assert!(found.is_empty(), "{}", describe(&found));
        } else {
            prop_assert!(
                conflict_between(&found, &a, &b, taken.host.get()).is_some(),
                "{}", describe(&found)
            );
            prop_assert!(found.iter().any(|v| v.kind == ViolationKind::RangeCollision));
        }
    }
}

// ------------------------------------------------------------ the loader

const PLAN: &str = include_str!("../../examples/three-versions.yaml");

fn mutated_plan() -> impl Strategy<Value = String> {
    let len = PLAN.len();
    (prop::collection::vec((0..len, 0usize..8, ".{0,4}"), 1..4),).prop_map(|(edits,)| {
        let mut text = PLAN.to_string();
        for (at, cut, insert) in edits {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + cut).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(at..end, &insert);
        }
        text
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_loader_never_panics_and_always_names_the_file(text in prop_oneof![mutated_plan(), any::<String>()]) {
        match Documents::parse(Path::new("plan.yaml"), &text) {
            Ok(docs) => {
                for p in &docs.plans {
                    let _ = validate_plan(&p.value.spec);
                }
            }
            Err(e) => {
                prop_assert!(e.to_string().starts_with("plan.yaml:"), "{}", e);
                if let LoadError::Parse { document, .. } = e {
                    prop_assert!(document >= 1);
                }
            }
        }
    }
}
