//! Names: unique where they must be, and acceptable to Docker and as label
//! values.

use super::*;

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
