//! Beyond one plan: an empty plan, selections and syncs naming versions and
//! plans that exist, and every fault reported at once.

use super::*;

// ------------------------------------------------------------------------ Empty

#[test]
fn a_plan_without_versions_is_refused() {
    let p = valid_plan();
    let p = turnout_crds::PortPlanSpec {
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
