//! Ports: two publishers of one host port conflict (unless their versions
//! never run together, or protocol or address keep them apart), and a
//! version's port lies in the range it names.

use super::*;

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
