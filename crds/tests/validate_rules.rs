//! Each rule of `validate_plan`, `validate_selection` and `validate_sync`:
//! a plan that breaks it is refused with the right kind, path, subjects and
//! port, and the nearest valid plan is accepted without any violation.

mod common;

use common::*;
use turnout_crds::plan::{Engine, SecretKeyRef, SecretSource};
use turnout_crds::validate::{
    ViolationKind as K, validate_plan, validate_selection, validate_sync,
};

#[test]
fn the_base_plan_is_valid() {
    assert_valid(&valid_plan());
}

// ---------------------------------------------------------------- PortConflict

#[test]
fn two_infrastructure_containers_on_one_port_conflict() {
    let p = valid_plan().infra(container("other-mysql").port(3306, 3306));
    let v = single(&p, K::PortConflict);
    assert_eq!(v.path, "spec.infrastructure[3].ports[0].host");
    assert_eq!(v.subjects, vec!["test-mysql", "other-mysql"]);
    assert_eq!(v.port, Some(3306));
    assert!(v.message.contains("3306/tcp"), "{}", v.message);
    assert!(
        v.message.contains("spec.infrastructure[0].ports[0]"),
        "the message points at the first publisher: {}",
        v.message
    );
}

#[test]
fn a_version_container_on_an_infrastructure_port_conflicts() {
    // blockchain's shared range moved back onto Elasticsearch, as in the original plan.
    let mut p = valid_plan();
    p.versions[2].ranges[1] = range("shared", 9200, 9299);
    p.versions[2].containers[1].ports[0].host = port(9200);
    let found = validate_plan(&p);
    assert_kinds(&found, &[K::PortConflict, K::RangeCoversInfrastructurePort]);
    let v = the_one(&found, K::PortConflict);
    assert_eq!(v.path, "spec.versions[2].containers[1].ports[0].host");
    assert_eq!(
        v.subjects,
        vec!["test-elasticsearch", "blockchain-shared-service"]
    );
    assert_eq!(v.port, Some(9200));
    assert!(
        v.message
            .contains("infrastructure runs alongside every version"),
        "{}",
        v.message
    );
}

#[test]
fn two_containers_of_one_version_on_one_port_conflict() {
    let mut p = valid_plan();
    p.versions[1]
        .containers
        .push(container("dao-service-2").port_in(8201, 9000, "services"));
    let v = single(&p, K::PortConflict);
    assert_eq!(v.path, "spec.versions[1].containers[2].ports[0].host");
    assert_eq!(v.subjects, vec!["dao-service-1", "dao-service-2"]);
    assert_eq!(v.port, Some(8201));
}

#[test]
fn one_container_publishing_a_host_port_twice_conflicts_with_itself() {
    let mut p = valid_plan();
    p.versions[0].containers[0]
        .ports
        .push(publish(8001, 9090).in_range("services"));
    let v = single(&p, K::PortConflict);
    assert_eq!(v.path, "spec.versions[0].containers[0].ports[1].host");
    assert_eq!(v.subjects, vec!["future-service-1", "future-service-1"]);
    assert_eq!(v.port, Some(8001));
}

#[test]
fn containers_of_different_versions_share_ports_in_exclusive_mode() {
    // dao reuses future's ports: only one version runs at a time.
    let mut p = valid_plan();
    p.versions[1] = app_version("dao", 8000, 8100);
    assert!(p.exclusive_versions);
    assert_valid(&p);
}

#[test]
fn containers_of_different_versions_conflict_when_versions_run_together() {
    let mut p = valid_plan().non_exclusive();
    p.versions[1] = app_version("dao", 8000, 8100);
    let found = validate_plan(&p);
    assert_kinds(&found, &[K::PortConflict, K::RangeCollision]);
    let conflicts: Vec<_> = found.iter().filter(|v| v.kind == K::PortConflict).collect();
    assert_eq!(conflicts.len(), 2, "{}", describe(&found));
    assert_eq!(
        conflicts[0].path,
        "spec.versions[1].containers[0].ports[0].host"
    );
    assert_eq!(
        conflicts[0].subjects,
        vec!["future-service-1", "dao-service-1"]
    );
    assert_eq!(conflicts[0].port, Some(8001));
    assert_eq!(
        conflicts[1].subjects,
        vec!["future-shared-service", "dao-shared-service"]
    );
    assert_eq!(conflicts[1].port, Some(8100));
    assert!(
        conflicts[0].message.contains("exclusiveVersions: false"),
        "{}",
        conflicts[0].message
    );
}

#[test]
fn non_exclusive_plan_with_distinct_ports_is_valid() {
    assert_valid(&valid_plan().non_exclusive());
}

#[test]
fn the_same_number_on_tcp_and_udp_does_not_conflict() {
    let p = valid_plan().infra(container("dns-cache").publish(publish(3306, 53).udp()));
    assert_valid(&p);
    let p = valid_plan().infra(container("dns-cache").publish(publish(3306, 53)));
    assert_eq!(single(&p, K::PortConflict).port, Some(3306));
}

#[test]
fn ipv4_and_ipv6_loopback_on_one_port_do_not_conflict() {
    let p = plan()
        .infra(container("db-v4").publish(publish(5432, 5432).bind("127.0.0.1")))
        .infra(container("db-v6").publish(publish(5432, 5432).bind("::1")))
        .version(version("v1"));
    assert_valid(&p);
}

#[test]
fn every_ipv4_address_conflicts_with_ipv4_loopback() {
    let p = plan()
        .infra(container("db-any").publish(publish(5432, 5432).bind("0.0.0.0")))
        .infra(container("db-local").publish(publish(5432, 5432).bind("127.0.0.1")))
        .version(version("v1"));
    let v = single(&p, K::PortConflict);
    assert_eq!(v.subjects, vec!["db-any", "db-local"]);
    assert_eq!(v.port, Some(5432));
}

#[test]
fn an_unset_bind_address_conflicts_with_ipv6_loopback() {
    let p = plan()
        .infra(container("db-all").port(5432, 5432))
        .infra(container("db-v6").publish(publish(5432, 5432).bind("::1")))
        .version(version("v1"));
    let v = single(&p, K::PortConflict);
    assert_eq!(v.subjects, vec!["db-all", "db-v6"]);
}

#[test]
fn two_distinct_ipv4_addresses_do_not_conflict() {
    let p = plan()
        .infra(container("db-a").publish(publish(5432, 5432).bind("127.0.0.1")))
        .infra(container("db-b").publish(publish(5432, 5432).bind("127.0.0.2")))
        .version(version("v1"));
    assert_valid(&p);
}

// ------------------------------------------------------------ PortOutsideRange

#[test]
fn a_port_past_the_end_of_its_range_is_outside_it() {
    let mut p = valid_plan();
    p.versions[0].containers[0].ports[0].host = port(8100 + 99 + 1); // shared ends at 8199
    p.versions[0].containers[0].ports[0].range = Some("shared".into());
    let v = single(&p, K::PortOutsideRange);
    assert_eq!(v.path, "spec.versions[0].containers[0].ports[0].host");
    assert_eq!(v.subjects, vec!["future-service-1", "shared"]);
    assert_eq!(v.port, Some(8200));
    assert!(v.message.contains("8100 to 8199"), "{}", v.message);
}

#[test]
fn a_port_in_another_range_of_its_version_is_outside_the_one_it_names() {
    let mut p = valid_plan();
    p.versions[0].containers[0].ports[0].host = port(8150); // in shared, names services
    let v = single(&p, K::PortOutsideRange);
    assert_eq!(v.subjects, vec!["future-service-1", "services"]);
    assert_eq!(v.port, Some(8150));
}

#[test]
fn ports_on_both_bounds_of_a_range_are_inside_it() {
    let p = plan().version(
        version("v1")
            .range("services", 8000, 8099)
            .container(container("first").port_in(8000, 80, "services"))
            .container(container("last").port_in(8099, 80, "services")),
    );
    assert_valid(&p);
}

#[test]
fn one_port_range_holds_its_port() {
    let p = plan().version(
        version("v1")
            .range("single", 9000, 9000)
            .container(container("only").port_in(9000, 80, "single")),
    );
    assert_valid(&p);
    let p = plan().version(
        version("v1")
            .range("single", 9000, 9000)
            .container(container("only").port_in(9001, 80, "single")),
    );
    assert_eq!(single(&p, K::PortOutsideRange).port, Some(9001));
}

// ---------------------------------------------------- UnknownRange, MissingRange

#[test]
fn a_port_naming_a_range_its_version_lacks_is_refused() {
    let mut p = valid_plan();
    p.versions[1].containers[0].ports[0].range = Some("sevrices".into());
    let v = single(&p, K::UnknownRange);
    assert_eq!(v.path, "spec.versions[1].containers[0].ports[0].range");
    assert_eq!(v.subjects, vec!["dao-service-1", "sevrices"]);
    assert_eq!(v.port, Some(8201));
    assert!(
        v.message.contains("services (8200-8299)") && v.message.contains("shared (8400-8499)"),
        "the message lists the version's ranges: {}",
        v.message
    );
}

#[test]
fn a_port_naming_another_versions_range_is_refused() {
    let mut p = valid_plan();
    p.versions[1].ranges.push(range("governance", 8300, 8399));
    p.versions[0].containers[0].ports[0].range = Some("governance".into());
    let v = single(&p, K::UnknownRange);
    assert_eq!(v.path, "spec.versions[0].containers[0].ports[0].range");
}

#[test]
fn infrastructure_ports_name_no_range() {
    let mut p = valid_plan();
    p.infrastructure[0].ports[0].range = Some("services".into());
    let v = single(&p, K::UnknownRange);
    assert_eq!(v.path, "spec.infrastructure[0].ports[0].range");
    assert!(
        v.message.contains("infrastructure has no ranges"),
        "{}",
        v.message
    );
}

#[test]
fn a_version_port_without_a_range_is_refused() {
    let mut p = valid_plan();
    p.versions[2].containers[0].ports[0].range = None;
    let v = single(&p, K::MissingRange);
    assert_eq!(v.path, "spec.versions[2].containers[0].ports[0].range");
    assert_eq!(v.subjects, vec!["blockchain-service-1"]);
    assert_eq!(v.port, Some(9001));
    assert!(v.message.contains("services (9000-9099)"), "{}", v.message);
}

#[test]
fn a_version_without_ranges_tells_the_user_to_add_one() {
    let p = plan().version(version("v1").container(container("web").port(8080, 80)));
    let v = single(&p, K::MissingRange);
    assert!(v.message.contains("add one under ranges"), "{}", v.message);
}

// ------------------------------------------------- RangeOverlap, RangeInverted

#[test]
fn overlapping_ranges_of_one_version_are_refused() {
    let mut p = valid_plan();
    p.versions[0].ranges[1] = range("shared", 8050, 8199);
    let v = single(&p, K::RangeOverlap);
    assert_eq!(v.path, "spec.versions[0].ranges[1]");
    assert_eq!(v.subjects, vec!["services", "shared"]);
    assert_eq!(v.port, Some(8050));
}

#[test]
fn overlap_is_found_whatever_the_order_of_the_ranges() {
    let p = plan().version(
        version("v1")
            .range("late", 8100, 8199)
            .range("early", 8000, 8100),
    );
    let v = single(&p, K::RangeOverlap);
    assert_eq!(v.subjects, vec!["late", "early"]);
    assert_eq!(v.port, Some(8100));
}

#[test]
fn adjacent_ranges_that_touch_do_not_overlap() {
    let p = plan().version(
        version("v1")
            .range("services", 8000, 8099)
            .range("shared", 8100, 8199)
            .container(container("a-last").port_in(8099, 80, "services"))
            .container(container("b-first").port_in(8100, 80, "shared")),
    );
    assert_valid(&p);
}

#[test]
fn a_range_that_ends_before_it_starts_is_refused() {
    let p = plan().version(version("v1").range("services", 8099, 8000));
    let v = single(&p, K::RangeInverted);
    assert_eq!(v.path, "spec.versions[0].ranges[0].to");
    assert_eq!(v.subjects, vec!["services"]);
    assert_eq!(v.port, Some(8000));
    assert!(v.message.contains("from <= to"), "{}", v.message);
}

#[test]
fn a_one_port_range_is_not_inverted() {
    let p = plan().version(version("v1").range("single", 9000, 9000));
    assert_valid(&p);
}

// ------------------------------------------------ RangeCoversInfrastructurePort

#[test]
fn a_version_range_over_an_infrastructure_port_names_both_and_the_port() {
    let mut p = valid_plan();
    p.versions[2].ranges[1] = range("shared", 9200, 9299);
    p.versions[2].containers[1].ports[0].host = port(9201);
    let v = single(&p, K::RangeCoversInfrastructurePort);
    assert_eq!(v.path, "spec.versions[2].ranges[1]");
    assert_eq!(v.subjects, vec!["blockchain/shared", "test-elasticsearch"]);
    assert_eq!(v.port, Some(9200));
    assert!(
        v.message.contains("spec.infrastructure[2].ports[0]"),
        "{}",
        v.message
    );
}

#[test]
fn a_range_ending_on_an_infrastructure_port_covers_it() {
    let mut p = valid_plan();
    p.versions[0].ranges[0] = range("services", 3207, 3306);
    p.versions[0].containers[0].ports[0].host = port(3207);
    let v = single(&p, K::RangeCoversInfrastructurePort);
    assert_eq!(v.subjects, vec!["future/services", "test-mysql"]);
    assert_eq!(v.port, Some(3306));
}

#[test]
fn a_range_next_to_an_infrastructure_port_is_valid() {
    let mut p = valid_plan();
    p.versions[2].ranges[1] = range("shared", 9201, 9299);
    p.versions[2].containers[1].ports[0].host = port(9201);
    assert_valid(&p);
}

#[test]
fn a_range_over_two_infrastructure_ports_reports_each() {
    let mut p = valid_plan();
    p.versions[0].ranges[0] = range("services", 3000, 6999);
    p.versions[0].containers[0].ports[0].host = port(3000);
    let found = validate_plan(&p);
    assert_kinds(&found, &[K::RangeCoversInfrastructurePort]);
    let ports: Vec<_> = found.iter().map(|v| v.port).collect();
    assert_eq!(ports, vec![Some(3306), Some(6379)]);
}

// ------------------------------------------------------------- RangeCollision

#[test]
fn overlapping_ranges_of_versions_that_run_together_collide() {
    let p = plan()
        .non_exclusive()
        .version(version("future").range("services", 8000, 8099))
        .version(version("dao").range("services", 8050, 8149));
    let v = single(&p, K::RangeCollision);
    assert_eq!(v.path, "spec.versions[1].ranges[0]");
    assert_eq!(v.subjects, vec!["future/services", "dao/services"]);
    assert_eq!(v.port, Some(8050));
}

#[test]
fn overlapping_ranges_of_exclusive_versions_do_not_collide() {
    let p = plan()
        .version(version("future").range("services", 8000, 8099))
        .version(version("dao").range("services", 8050, 8149));
    assert_valid(&p);
}

#[test]
fn touching_ranges_of_versions_that_run_together_do_not_collide() {
    let p = plan()
        .non_exclusive()
        .version(version("future").range("services", 8000, 8099))
        .version(version("dao").range("services", 8100, 8199));
    assert_valid(&p);
}

// -------------------------------------------------------------- DuplicateName

#[test]
fn a_version_container_named_like_an_infrastructure_container_is_refused() {
    let mut p = valid_plan();
    p.versions[0].containers[0].name = "test-mysql".into();
    let v = single(&p, K::DuplicateName);
    assert_eq!(v.path, "spec.versions[0].containers[0].name");
    assert_eq!(v.subjects.len(), 2, "{:?}", v.subjects);
    assert!(
        v.subjects[0].contains("infrastructure container test-mysql"),
        "{:?}",
        v.subjects
    );
    assert!(v.subjects[1].contains("version future"), "{:?}", v.subjects);
    assert!(
        v.message.contains("spec.infrastructure[0]"),
        "{}",
        v.message
    );
}

#[test]
fn containers_of_two_versions_need_distinct_names() {
    // Stopped containers keep their names, so exclusive versions still clash.
    let mut p = valid_plan();
    p.versions[1].containers[0].name = "future-service-1".into();
    let v = single(&p, K::DuplicateName);
    assert_eq!(v.path, "spec.versions[1].containers[0].name");
    assert!(names(&v, "future-service-1"), "{:?}", v.subjects);
    assert!(v.subjects.iter().any(|s| s.contains("version future")));
    assert!(v.subjects.iter().any(|s| s.contains("version dao")));
}

#[test]
fn two_versions_with_one_name_are_refused() {
    let p = plan()
        .version(version("future").range("services", 8000, 8099))
        .version(version("future").range("services", 8200, 8299));
    let v = single(&p, K::DuplicateName);
    assert_eq!(v.path, "spec.versions[1].name");
    assert_eq!(v.subjects, vec!["future"]);
    assert!(v.message.contains("spec.versions[0]"), "{}", v.message);
}

#[test]
fn two_ranges_of_one_version_with_one_name_are_refused() {
    let p = plan().version(
        version("v1")
            .range("services", 8000, 8099)
            .range("services", 8200, 8299),
    );
    let v = single(&p, K::DuplicateName);
    assert_eq!(v.path, "spec.versions[0].ranges[1].name");
    assert!(v.message.contains("services"), "{}", v.message);
}

#[test]
fn ranges_of_different_versions_may_share_a_name() {
    let p = plan()
        .version(version("future").range("services", 8000, 8099))
        .version(version("dao").range("services", 8200, 8299));
    assert_valid(&p);
}

#[test]
fn two_bindings_of_one_version_with_one_name_are_refused() {
    let mut p = valid_plan();
    p.versions[0]
        .data
        .push(database("users", "test-mysql", "future_users_2"));
    let v = single(&p, K::DuplicateName);
    assert_eq!(v.path, "spec.versions[0].data[2].name");
    assert!(v.message.contains("users"), "{}", v.message);
}

#[test]
fn an_environment_variable_set_twice_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[2]
        .env
        .push(env("discovery.type", "multi-node"));
    let v = single(&p, K::DuplicateName);
    assert_eq!(v.path, "spec.infrastructure[2].env[1].name");
}

fn env(name: &str, value: &str) -> turnout_crds::plan::EnvVar {
    turnout_crds::plan::EnvVar {
        name: name.into(),
        value: value.into(),
    }
}

// ---------------------------------------------------------------- InvalidName

#[test]
fn container_names_docker_would_refuse_are_refused() {
    let too_long = "a".repeat(64);
    for bad in [
        "-x",
        "a",
        "my sql",
        "_mysql",
        "my/sql",
        "",
        too_long.as_str(),
    ] {
        let mut p = valid_plan();
        p.versions[0].containers[0].name = bad.to_string();
        let v = single(&p, K::InvalidName);
        assert_eq!(
            v.path, "spec.versions[0].containers[0].name",
            "name {bad:?}"
        );
        assert!(v.message.starts_with("container name"), "{}", v.message);
    }
}

#[test]
fn container_names_docker_accepts_are_valid() {
    for good in ["ab", "a.b_c-1", "9lives", "a".repeat(63).as_str()] {
        let mut p = valid_plan();
        p.infrastructure[1].name = good.to_string();
        p.infrastructure[1].readiness = None;
        assert_valid(&p);
    }
}

#[test]
fn version_names_that_cannot_be_label_values_are_refused() {
    for bad in ["dao-", "-dao", "da o", ""] {
        let p = plan().version(version(bad));
        let v = single(&p, K::InvalidName);
        assert_eq!(v.path, "spec.versions[0].name", "name {bad:?}");
    }
}

#[test]
fn range_names_that_cannot_be_label_values_are_refused() {
    let p = plan().version(version("v1").range("shared-", 8000, 8099));
    assert_eq!(
        single(&p, K::InvalidName).path,
        "spec.versions[0].ranges[0].name"
    );
}

// ------------------------------------------------------------ UnknownContainer

#[test]
fn a_binding_on_a_container_the_plan_lacks_is_refused() {
    let mut p = valid_plan();
    p.versions[1].data[0].container = "test-mongo".into();
    let v = single(&p, K::UnknownContainer);
    assert_eq!(v.path, "spec.versions[1].data[0].container");
    assert_eq!(v.subjects, vec!["test-mongo"]);
}

#[test]
fn a_binding_on_another_versions_container_is_refused() {
    let mut p = valid_plan();
    p.versions[1].data[1].container = "future-shared-service".into();
    let v = single(&p, K::UnknownContainer);
    assert_eq!(v.path, "spec.versions[1].data[1].container");
    assert_eq!(v.subjects, vec!["future-shared-service"]);
}

// ---------------------------------------------------------- InvalidDataBinding

#[test]
fn a_binding_with_both_database_and_commands_is_refused() {
    let mut p = valid_plan();
    p.versions[0].data[0].export = Some(vec!["mysqldump".into()]);
    p.versions[0].data[0].import = Some(vec!["mysql".into()]);
    let v = single(&p, K::InvalidDataBinding);
    assert_eq!(v.path, "spec.versions[0].data[0]");
    assert!(
        v.message.contains("both database and export/import"),
        "{}",
        v.message
    );
}

#[test]
fn a_binding_with_neither_database_nor_commands_is_refused() {
    let mut p = valid_plan();
    p.versions[0].data[1].export = None;
    p.versions[0].data[1].import = None;
    let v = single(&p, K::InvalidDataBinding);
    assert_eq!(v.path, "spec.versions[0].data[1]");
}

#[test]
fn a_database_on_a_container_without_a_builtin_engine_is_refused() {
    // Elasticsearch has an engine, but no built-in recipe.
    let mut p = valid_plan();
    p.versions[0].data[0].container = "test-elasticsearch".into();
    let v = single(&p, K::InvalidDataBinding);
    assert_eq!(v.path, "spec.versions[0].data[0].database");
    assert_eq!(v.subjects, vec!["test-elasticsearch"]);

    // No engine at all.
    let mut p = valid_plan();
    p.infrastructure[0].engine = None;
    let found = validate_plan(&p);
    assert_kinds(&found, &[K::InvalidDataBinding]);
    assert_eq!(
        found.len(),
        3,
        "one per version's users binding:\n{}",
        describe(&found)
    );
    assert!(found.iter().all(|v| v.path.ends_with("data[0].database")));
}

#[test]
fn a_database_on_a_versions_own_container_is_refused() {
    let mut p = valid_plan();
    p.versions[0].containers[1].engine = Some(Engine::Postgres);
    p.versions[0].data[1] = database("shared", "future-shared-service", "shared");
    let v = single(&p, K::InvalidDataBinding);
    assert_eq!(v.path, "spec.versions[0].data[1].database");
}

#[test]
fn every_builtin_engine_accepts_a_database_binding() {
    for engine in [
        Engine::Mysql,
        Engine::Mariadb,
        Engine::Postgres,
        Engine::Redis,
    ] {
        let mut p = valid_plan();
        p.infrastructure[0].engine = Some(engine);
        if engine == Engine::Redis {
            // On Redis a binding names a logical db index.
            let host = p.infrastructure[0].name.clone();
            for (i, v) in p.versions.iter_mut().enumerate() {
                for b in v.data.iter_mut().filter(|b| b.container == host) {
                    b.database = Some(i.to_string());
                }
            }
        }
        assert_valid(&p);
    }
}

#[test]
fn a_redis_binding_names_a_db_index_and_sql_databases_a_safe_name() {
    let mut p = valid_plan();
    p.infrastructure[0].engine = Some(Engine::Redis);
    let v = validate_plan(&p);
    assert!(
        !v.is_empty()
            && v.iter()
                .all(|x| x.kind == K::InvalidDataBinding && x.message.contains("db index")),
        "{v:#?}"
    );

    let mut p = valid_plan();
    p.versions[0].data[0].database = Some("users; DROP DATABASE x".into());
    let v = single(&p, K::InvalidDataBinding);
    assert!(v.path.ends_with(".database"), "{}", v.path);
}

#[test]
fn an_export_without_an_import_is_refused() {
    let mut p = valid_plan();
    p.versions[2].data[1].import = None;
    let v = single(&p, K::InvalidDataBinding);
    assert_eq!(v.path, "spec.versions[2].data[1].import");
}

#[test]
fn an_empty_export_argv_is_refused() {
    let mut p = valid_plan();
    p.versions[2].data[1].export = Some(Vec::new());
    let v = single(&p, K::InvalidDataBinding);
    assert_eq!(v.path, "spec.versions[2].data[1].export");
}

// ---------------------------------------------------------------- InvalidProbe

#[test]
fn a_probe_of_two_kinds_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[1].readiness = Some(turnout_crds::plan::Probe {
        exec: exec_probe(&["redis-cli", "ping"]).exec,
        ..tcp_probe(6379)
    });
    let v = single(&p, K::InvalidProbe);
    assert_eq!(v.path, "spec.infrastructure[1].readiness");
    assert!(v.message.contains("sets 2"), "{}", v.message);
}

#[test]
fn a_probe_of_no_kind_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[1].readiness = Some(probe());
    let v = single(&p, K::InvalidProbe);
    assert_eq!(v.path, "spec.infrastructure[1].readiness");
}

#[test]
fn a_tcp_probe_on_an_unpublished_port_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[1].readiness = Some(tcp_probe(6380));
    let v = single(&p, K::InvalidProbe);
    assert_eq!(v.path, "spec.infrastructure[1].readiness.tcp.port");
    assert_eq!(v.subjects, vec!["test-redis"]);
    assert_eq!(v.port, Some(6380));
}

#[test]
fn a_probe_checks_the_container_port_not_the_host_port() {
    // future-service-1 publishes host 8001 -> container 8080.
    let mut p = valid_plan();
    p.versions[0].containers[0].readiness = Some(http_probe(8001, "/healthz"));
    let v = single(&p, K::InvalidProbe);
    assert_eq!(v.path, "spec.versions[0].containers[0].readiness.http.port");
    assert_eq!(v.port, Some(8001));
    let mut p = valid_plan();
    p.versions[0].containers[0].readiness = Some(tcp_probe(8080));
    assert_valid(&p);
}

#[test]
fn a_tcp_probe_on_a_port_published_only_over_udp_is_refused() {
    let p = plan()
        .infra(
            container("dns")
                .publish(publish(53, 53).udp())
                .readiness(tcp_probe(53)),
        )
        .version(version("v1"));
    assert_eq!(single(&p, K::InvalidProbe).port, Some(53));
}

#[test]
fn an_empty_exec_probe_is_refused() {
    for argv in [&[][..], &[""][..]] {
        let mut p = valid_plan();
        p.infrastructure[0].readiness = Some(exec_probe(argv));
        let v = single(&p, K::InvalidProbe);
        assert_eq!(v.path, "spec.infrastructure[0].readiness.exec.command");
    }
}

#[test]
fn an_http_probe_path_must_start_with_a_slash() {
    let mut p = valid_plan();
    p.versions[0].containers[0].readiness = Some(http_probe(8080, "healthz"));
    assert_eq!(
        single(&p, K::InvalidProbe).path,
        "spec.versions[0].containers[0].readiness.http.path"
    );
}

// --------------------------------------------------------------- InvalidSecret

#[test]
fn a_secret_with_two_sources_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[0].secrets[0].from.file = Some("/etc/turnout/mysql-root".into());
    let v = single(&p, K::InvalidSecret);
    assert_eq!(v.path, "spec.infrastructure[0].secrets[0].from");
    assert!(v.message.contains("names 2"), "{}", v.message);
}

#[test]
fn a_secret_with_no_source_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[0].secrets[0].from = SecretSource {
        env: None,
        file: None,
        secret_key_ref: None,
    };
    assert_eq!(
        single(&p, K::InvalidSecret).path,
        "spec.infrastructure[0].secrets[0].from"
    );
}

#[test]
fn each_single_secret_source_is_valid() {
    let mut p = valid_plan();
    p.infrastructure[0].secrets[0].from = SecretSource {
        env: None,
        file: Some("/etc/turnout/mysql-root".into()),
        secret_key_ref: None,
    };
    assert_valid(&p);
    p.infrastructure[0].secrets[0].from = SecretSource {
        env: None,
        file: None,
        secret_key_ref: Some(SecretKeyRef {
            name: "mysql".into(),
            key: "root-password".into(),
        }),
    };
    assert_valid(&p);
}

#[test]
fn a_secret_with_a_relative_path_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[0].secrets[0].path = "run/secrets/mysql-root".into();
    let v = single(&p, K::InvalidSecret);
    assert_eq!(v.path, "spec.infrastructure[0].secrets[0].path");
    assert!(
        v.message.contains("/run/secrets/mysql-root"),
        "{}",
        v.message
    );
}

// --------------------------------------------------------- SecretInEnvironment

#[test]
fn a_literal_root_password_in_the_environment_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[0].env[0] = env("MYSQL_ROOT_PASSWORD", "hunter2");
    let v = single(&p, K::SecretInEnvironment);
    assert_eq!(v.path, "spec.infrastructure[0].env[0].value");
    assert_eq!(v.subjects, vec!["test-mysql"]);
    assert!(
        v.message.contains("MYSQL_ROOT_PASSWORD_FILE"),
        "{}",
        v.message
    );
    assert!(
        !v.message.contains("hunter2"),
        "the message must not repeat the secret: {}",
        v.message
    );
}

#[test]
fn a_password_file_variable_is_not_a_secret() {
    // The base plan already sets MYSQL_ROOT_PASSWORD_FILE.
    assert_eq!(
        valid_plan().infrastructure[0].env[0].name,
        "MYSQL_ROOT_PASSWORD_FILE"
    );
    assert_valid(&valid_plan());
}

#[test]
fn tokens_and_api_keys_in_any_case_are_refused() {
    for name in ["api_token", "STRIPE_API_KEY", "Db_Password", "JWT_SECRET"] {
        let mut p = valid_plan();
        p.versions[0].containers[0].env.push(env(name, "x"));
        let v = single(&p, K::SecretInEnvironment);
        assert_eq!(v.subjects, vec!["future-service-1"], "{name}");
    }
}

#[test]

fn mysql_password_policy_flags_are_not_secrets() {
    // The official mysql image takes these as yes/no switches; there is no
    // *_FILE form of them, so the advice in the message cannot be followed.
    for name in ["MYSQL_ALLOW_EMPTY_PASSWORD", "MYSQL_RANDOM_ROOT_PASSWORD"] {
        let mut p = valid_plan();
        p.infrastructure[0].env.push(env(name, "yes"));
        assert_valid(&p);
    }
}

// ----------------------------------------------------------- InvalidContainer

#[test]
fn an_empty_or_spaced_image_is_refused() {
    for image in ["", "  ", "mysql 8.0"] {
        let mut p = valid_plan();
        p.infrastructure[0].image = image.into();
        assert_eq!(
            single(&p, K::InvalidContainer).path,
            "spec.infrastructure[0].image",
            "image {image:?}"
        );
    }
}

// ------------------------------------------------------------------------ Empty

#[test]
fn a_plan_without_versions_is_refused() {
    let p = valid_plan();
    let p = turnout_crds::PortPlanSpec {
        adopt: false,
        versions: Vec::new(),
        ..p
    };
    let v = single(&p, K::Empty);
    assert_eq!(v.path, "spec.versions");
}

#[test]
fn a_sync_of_a_version_into_itself_is_refused() {
    let found = validate_sync(&valid_plan(), &sync("p", "dao", "dao"));
    assert_kinds(&found, &[K::Empty]);
    assert_eq!(found[0].path, "spec.to");
    assert!(validate_sync(&valid_plan(), &sync("p", "future", "dao")).is_empty());
}

// ------------------------------------------------ UnknownVersion, UnknownPlan

#[test]
fn a_selection_of_a_version_the_plan_lacks_lists_the_versions() {
    let found = validate_selection(
        "three-versions",
        &valid_plan(),
        &selection("three-versions", "nft"),
    );
    assert_kinds(&found, &[K::UnknownVersion]);
    let v = &found[0];
    assert_eq!(v.path, "spec.activeVersion");
    assert_eq!(v.subjects, vec!["nft"]);
    assert!(
        v.message.contains("future, dao, blockchain"),
        "{}",
        v.message
    );
}

#[test]
fn a_selection_of_a_version_the_plan_has_is_valid() {
    for name in ["future", "dao", "blockchain"] {
        let found = validate_selection("p", &valid_plan(), &selection("p", name));
        assert!(found.is_empty(), "{}", describe(&found));
    }
}

#[test]
fn a_sync_between_unknown_versions_names_each_side() {
    let found = validate_sync(&valid_plan(), &sync("p", "past", "nft"));
    assert_kinds(&found, &[K::UnknownVersion]);
    let paths: Vec<&str> = found.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(paths, vec!["spec.from", "spec.to"]);
    assert_eq!(found[0].subjects, vec!["past"]);
    assert_eq!(found[1].subjects, vec!["nft"]);
}

#[test]
fn a_selection_naming_another_plan_is_refused() {
    let found = validate_selection(
        "three-versions",
        &valid_plan(),
        &selection("two-versions", "dao"),
    );
    assert_kinds(&found, &[K::UnknownPlan]);
    assert_eq!(found[0].path, "spec.planRef");
    assert!(
        found[0].message.contains("two-versions"),
        "{}",
        found[0].message
    );
}

// ------------------------------------------------------------ all, not first

#[test]
fn every_fault_is_reported_not_just_the_first() {
    let mut p = valid_plan();
    p.versions[0].containers[0].ports[0].host = port(8150); // outside services
    p.versions[1].containers[0].name = "bad name".into(); // invalid
    p.versions[2].data[0].container = "test-mongo".into(); // unknown
    p.infrastructure[0].env[0] = env("MYSQL_ROOT_PASSWORD", "x"); // secret
    let found = validate_plan(&p);
    assert_kinds(
        &found,
        &[
            K::PortOutsideRange,
            K::InvalidName,
            K::UnknownContainer,
            K::SecretInEnvironment,
        ],
    );
    assert_eq!(found.len(), 4, "{}", describe(&found));
}

#[test]
fn every_conflict_on_one_port_is_reported() {
    // Three publishers of 3306: every pair is a conflict.
    let p = valid_plan()
        .infra(container("mysql-2").port(3306, 3306))
        .infra(container("mysql-3").port(3306, 3306));
    let found = validate_plan(&p);
    assert_kinds(&found, &[K::PortConflict]);
    let pairs: Vec<_> = found.iter().map(|v| v.subjects.clone()).collect();
    assert_eq!(
        pairs,
        vec![
            vec!["test-mysql".to_string(), "mysql-2".to_string()],
            vec!["test-mysql".to_string(), "mysql-3".to_string()],
            vec!["mysql-2".to_string(), "mysql-3".to_string()],
        ]
    );
}

#[test]
fn violations_print_as_path_and_message() {
    let p = valid_plan().infra(container("other-mysql").port(3306, 3306));
    let v = single(&p, K::PortConflict);
    assert_eq!(v.to_string(), format!("{}: {}", v.path, v.message));
    assert_eq!(v.kind.to_string(), "PortConflict");
}

fn range(name: &str, from: u16, to: u16) -> turnout_crds::plan::PortRange {
    turnout_crds::plan::PortRange {
        name: name.into(),
        from: port(from),
        to: port(to),
    }
}

#[test]

fn a_duplicated_version_name_is_reported_once_and_nothing_else() {
    // The second "dao" is a copy of blockchain under dao's name: only the name is wrong.
    let mut p = valid_plan();
    p.versions[2].name = "dao".into();
    for c in &mut p.versions[2].containers {
        c.name = c.name.replace("blockchain", "dao2");
    }
    p.versions[2].data[1].container = "dao2-shared-service".into();
    p.versions[2].ranges[0].name = "contracts".into();
    p.versions[2].containers[0].ports[0].range = Some("contracts".into());
    p.versions[2].containers[1].ports[0].host = port(8400); // dao's own shared port
    p.versions[2].ranges[1] = range("shared", 8400, 8499);
    let v = single(&p, K::DuplicateName);
    assert_eq!(v.path, "spec.versions[2].name");
}
