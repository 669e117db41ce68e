//! Port ranges: named, present, not overlapping or inverted within a version,
//! clear of infrastructure ports, and apart from the ranges of versions that
//! run together.

use super::*;

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
