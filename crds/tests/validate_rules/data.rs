//! Data bindings: on a container the version has, with a database on a built-
//! in engine or the plan's own export and import commands.

use super::*;

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

// --------------------------------------------------------------- InvalidSource

fn from_elsewhere(
    source: turnout_crds::datasync::SyncSource,
) -> turnout_crds::datasync::DataSyncSpec {
    let mut s = common::sync("test", "future", "future");
    s.source = Some(source);
    s
}

#[test]
fn a_sync_from_another_environment_names_an_absolute_plan_file_and_a_usable_engine() {
    use turnout_crds::datasync::SyncSource;
    let p = valid_plan();
    let ok = from_elsewhere(SyncSource {
        plan_file: Some("/etc/turnout/local.yaml".into()),
        engine: Some("ssh://dev@dev-box".into()),
        ..Default::default()
    });
    // `from` may equal `to`, and names a version of the source's plan.
    assert!(turnout_crds::validate::validate_sync(&p, &ok).is_empty());
    for (source, path) in [
        (SyncSource::default(), "spec.source.planFile"),
        (
            SyncSource {
                plan_file: Some("local.yaml".into()),
                ..Default::default()
            },
            "spec.source.planFile",
        ),
        (
            SyncSource {
                plan_file: Some("/etc/turnout/local.yaml".into()),
                plan_ref: Some("local".into()),
                ..Default::default()
            },
            "spec.source",
        ),
        (
            SyncSource {
                plan_ref: Some("../local".into()),
                ..Default::default()
            },
            "spec.source.planRef",
        ),
        (
            SyncSource {
                plan_file: Some("/etc/turnout/local.yaml".into()),
                engine: Some("http://dev-box:2375".into()),
                ..Default::default()
            },
            "spec.source.engine",
        ),
    ] {
        let v = turnout_crds::validate::validate_sync(&p, &from_elsewhere(source));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind, K::InvalidSource);
        assert_eq!(v[0].path, path);
    }
}
