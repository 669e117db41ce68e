//! The data binding rules: each binding names a container the version can
//! reach and either a database of a built-in engine or export/import argv.

use std::collections::HashMap;

use super::{Report, ViolationKind};
use crate::names;
use crate::plan::PortPlanSpec;

pub(super) fn check_data_bindings(plan: &PortPlanSpec, r: &mut Report) {
    for (vi, v) in plan.versions.iter().enumerate() {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (bi, b) in v.data.iter().enumerate() {
            let path = format!("spec.versions[{vi}].data[{bi}]");
            if let Some(p) = names::label_name_problem(&b.name) {
                r.push(
                    ViolationKind::InvalidName,
                    format!("{path}.name"),
                    format!("data binding name {p}"),
                );
            }
            if seen.insert(&b.name, bi).is_some() {
                r.push(
                    ViolationKind::DuplicateName,
                    format!("{path}.name"),
                    format!("version {} has two data bindings named {}", v.name, b.name),
                );
            }
            check_binding(plan, v, b, &path, r);
        }
    }
}

/// One binding: on a container the plan has, and either a database of a
/// built-in engine or export and import commands.
fn check_binding(
    plan: &PortPlanSpec,
    v: &crate::plan::VersionSpec,
    b: &crate::plan::DataBinding,
    path: &str,
    r: &mut Report,
) {
    let infra = plan.infrastructure.iter().find(|c| c.name == b.container);
    let own = v.containers.iter().find(|c| c.name == b.container);
    if infra.is_none() && own.is_none() {
        r.push_full(
            ViolationKind::UnknownContainer,
            format!("{path}.container"),
            vec![b.container.clone()],
            None,
            format!(
                "data binding {} of version {} is on container {}, which is neither an infrastructure container nor one of {}'s containers",
                b.name, v.name, b.container, v.name
            ),
        );
        return;
    }
    let commands = b.export.is_some() || b.import.is_some();
    match (&b.database, commands) {
        (Some(_), true) => r.push(
            ViolationKind::InvalidDataBinding,
            path.to_string(),
            format!(
                "data binding {} of version {} sets both database and export/import; use database for a built-in engine recipe, or export and import for anything else",
                b.name, v.name
            ),
        ),
        (None, false) => r.push(
            ViolationKind::InvalidDataBinding,
            path.to_string(),
            format!(
                "data binding {} of version {} says neither which database it is nor how to export and import it",
                b.name, v.name
            ),
        ),
        (Some(db), false) => check_database(v, b, db, infra, path, r),
        (None, true) => {
            for (field, argv) in [("export", &b.export), ("import", &b.import)] {
                if argv.as_ref().is_none_or(|a| a.first().is_none_or(|p| p.is_empty())) {
                    r.push(
                        ViolationKind::InvalidDataBinding,
                        format!("{path}.{field}"),
                        format!(
                            "data binding {} of version {} needs a non-empty {field} argv (both export and import are required)",
                            b.name, v.name
                        ),
                    );
                }
            }
        }
    }
}

/// A database binding: on an engine turnout can copy, with a name it accepts.
fn check_database(
    v: &crate::plan::VersionSpec,
    b: &crate::plan::DataBinding,
    db: &str,
    infra: Option<&crate::plan::ContainerSpec>,
    path: &str,
    r: &mut Report,
) {
    let engine = infra.and_then(|c| c.engine);
    match engine {
        Some(e) if e.has_builtin_sync() => {}
        _ => r.push_full(
            ViolationKind::InvalidDataBinding,
            format!("{path}.database"),
            vec![b.container.clone()],
            None,
            format!(
                "data binding {} of version {} names database {db} on {}, which is not an infrastructure container with a built-in engine (mysql, mariadb, postgres, redis); set its engine, or give export and import commands",
                b.name, v.name, b.container
            ),
        ),
    }
    let redis = engine == Some(crate::plan::Engine::Redis);
    if redis && db.parse::<u8>().is_err() {
        r.push(
            ViolationKind::InvalidDataBinding,
            format!("{path}.database"),
            format!("on Redis the database is a logical db index (0, 1, ...), not {db:?}"),
        );
    } else if !redis && let Some(problem) = database_name_problem(db) {
        r.push(
            ViolationKind::InvalidDataBinding,
            format!("{path}.database"),
            problem,
        );
    }
}

/// Longest database name turnout syncs; it appends `__turnout_staging` (17) within MySQL's 64.
pub const MAX_DATABASE_NAME: usize = 40;

/// Database names become identifiers in SQL, so they are kept to a safe
/// alphabet, and off the names turnout makes for itself during a sync.
pub fn database_name_ok(name: &str) -> bool {
    database_name_problem(name).is_none()
}

/// Why a database name is refused, or `None` when turnout can sync it.
pub fn database_name_problem(name: &str) -> Option<String> {
    let alphabet_ok = !name.is_empty()
        && name.len() <= MAX_DATABASE_NAME
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !alphabet_ok {
        return Some(format!(
            "database name {} must be letters, digits and '_', not starting with a digit, at most {MAX_DATABASE_NAME} characters (turnout adds suffixes for staging)",
            names::shown(name)
        ));
    }
    // Compared without case: MySQL with lower_case_table_names folds names,
    // so `X__TURNOUT_OLD` can be the very database a sync of `x` drops.
    let lower = name.to_ascii_lowercase();
    if lower.starts_with(names::RESERVED_PREFIX) {
        return Some(format!(
            "database name {name:?} starts with {}, which turnout keeps for the databases it makes during a sync; rename the database",
            names::RESERVED_PREFIX
        ));
    }
    let suffix = [names::STAGING_SUFFIX, names::OLD_SUFFIX]
        .into_iter()
        .find(|s| lower.ends_with(s))?;
    Some(format!(
        "database name {name:?} ends in {suffix}: a sync of a database <db> loads it into <db>{} and moves the old contents to <db>{}, so a sync of another binding would overwrite or drop this one; rename the database",
        names::STAGING_SUFFIX,
        names::OLD_SUFFIX
    ))
}
