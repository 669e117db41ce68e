//! Planning a sync, purely: the copies a sync makes (bindings of the same
//! name in both versions), the promotion rule between environments; and the
//! guard that a sync touches only containers of the plan it names.

use turnout_crds::plan::{DataBinding, Environment, PortPlanSpec};

use super::{Endpoint, Origin, ServiceData, StepPlan, SyncError};
use crate::runtime::stream::Side;

fn endpoint(plan_name: &str, plan: &PortPlanSpec, b: &DataBinding) -> Result<Endpoint, SyncError> {
    let unsupported = |message: String| SyncError::Unsupported {
        binding: b.name.clone(),
        message,
    };
    if let (Some(export), Some(import)) = (&b.export, &b.import) {
        let c = plan
            .infrastructure
            .iter()
            .chain(plan.versions.iter().flat_map(|v| v.containers.iter()))
            .find(|c| c.name == b.container)
            .ok_or_else(|| unsupported(format!("{} is not in the plan", b.container)))?;
        return Ok(Endpoint {
            plan: plan_name.to_string(),
            container: c.name.clone(),
            engine: None,
            database: b.name.clone(),
            service: Some(ServiceData {
                image: c.image.clone(),
                volumes: c.volumes.clone(),
                export: export.clone(),
                import: import.clone(),
            }),
            admin: None,
            side: Side::Target,
        });
    }
    let Some(database) = &b.database else {
        return Err(unsupported(
            "names neither a database nor export/import commands".into(),
        ));
    };
    let c = plan
        .infrastructure
        .iter()
        .find(|c| c.name == b.container)
        .ok_or_else(|| {
            unsupported(format!(
                "{} is not an infrastructure container",
                b.container
            ))
        })?;
    let engine = c
        .engine
        .ok_or_else(|| unsupported(format!("{} has no engine", c.name)))?;
    if !engine.has_builtin_sync() {
        return Err(unsupported(format!(
            "{engine:?} has no built-in recipe; give the binding export and import commands"
        )));
    }
    Ok(Endpoint {
        plan: plan_name.to_string(),
        container: c.name.clone(),
        engine: Some(engine),
        database: database.clone(),
        service: None,
        admin: c
            .admin_secret
            .as_ref()
            .and_then(|name| c.secrets.iter().find(|s| &s.name == name))
            .map(|s| s.from.clone()),
        side: Side::Target,
    })
}

/// Refuses an endpoint whose container is not one turnout runs for the
/// endpoint's plan: a sync (or a preview) execs only into those. A
/// service's data is reached through one-off containers turnout makes from
/// the plan's image, so it needs no such container.
pub async fn check_ours<R: crate::runtime::stream::DataExec>(
    rt: &R,
    e: &Endpoint,
) -> Result<(), SyncError> {
    use crate::core::model::{LABEL_MANAGED_BY, LABEL_PLAN, MANAGED_BY};
    if e.service.is_some() {
        return Ok(());
    }
    let found = match rt.labels(e.side, &e.container).await? {
        None => "does not exist".to_string(),
        Some(l) if l.get(LABEL_MANAGED_BY).map(String::as_str) != Some(MANAGED_BY) => {
            "is not managed by turnout".to_string()
        }
        Some(l) if l.get(LABEL_PLAN) != Some(&e.plan) => format!(
            "belongs to plan {}",
            l.get(LABEL_PLAN).map_or("(none)", String::as_str)
        ),
        Some(_) => return Ok(()),
    };
    Err(SyncError::ForeignContainer {
        container: e.container.clone(),
        plan: e.plan.clone(),
        found,
    })
}

/// The copies a sync from `from` to `to` of plan `plan_name` makes:
/// bindings present in both versions under the same name. Pure.
pub fn plan_steps(
    plan_name: &str,
    plan: &PortPlanSpec,
    from: &str,
    to: &str,
) -> Result<Vec<StepPlan>, SyncError> {
    plan_steps_between((plan_name, plan, from), (plan_name, plan, to))
}

/// Like [`plan_steps`], with the source version in another plan (another
/// environment whose containers run on this engine). Each side is (plan
/// name, plan, version).
pub fn plan_steps_between(
    (source_name, source_plan, from): (&str, &PortPlanSpec, &str),
    (plan_name, plan, to): (&str, &PortPlanSpec, &str),
) -> Result<Vec<StepPlan>, SyncError> {
    let source = source_plan
        .version(from)
        .ok_or_else(|| SyncError::UnknownVersion {
            version: from.to_string(),
            plan: source_name.to_string(),
        })?;
    let target = plan.version(to).ok_or_else(|| SyncError::UnknownVersion {
        version: to.to_string(),
        plan: plan_name.to_string(),
    })?;
    let mut steps = Vec::new();
    for sb in &source.data {
        let Some(tb) = target.data.iter().find(|t| t.name == sb.name) else {
            continue;
        };
        let (source, target) = (
            endpoint(source_name, source_plan, sb)?,
            endpoint(plan_name, plan, tb)?,
        );
        if source.service.is_some() != target.service.is_some() {
            return Err(SyncError::Unsupported {
                binding: sb.name.clone(),
                message: format!(
                    "{from} binds it as {} and {to} as {}; both must be databases or both services",
                    if source.service.is_some() {
                        "a service"
                    } else {
                        "a database"
                    },
                    if target.service.is_some() {
                        "a service"
                    } else {
                        "a database"
                    },
                ),
            });
        }
        steps.push(StepPlan {
            binding: sb.name.clone(),
            source,
            target,
            origin: Origin {
                environment: source_plan.environment.as_ref().map(|e| e.name.clone()),
                engine: None,
                version: from.to_string(),
            },
        });
    }
    Ok(steps)
}

/// Data is promoted only towards a later stage (dev -> test -> prod), never
/// back, unless forced. Plans without an environment are not checked.
pub fn check_promotion(
    source: Option<&Environment>,
    target: Option<&Environment>,
    force: bool,
) -> Result<(), SyncError> {
    match (source, target) {
        (Some(s), Some(t)) if s.stage > t.stage && !force => Err(SyncError::Demotion {
            from_env: s.name.clone(),
            from_stage: s.stage,
            to_env: t.name.clone(),
            to_stage: t.stage,
        }),
        _ => Ok(()),
    }
}

/// The stage rule between two environments: both plans must say which
/// environment they are (a plan without `environment` would otherwise
/// carry data anywhere), then [`check_promotion`]. `force` lets both through.
pub fn check_promotion_between(
    source: Option<&Environment>,
    target: Option<&Environment>,
    force: bool,
) -> Result<(), SyncError> {
    if !force && (source.is_none() || target.is_none()) {
        let which = if source.is_none() {
            "the source's plan"
        } else {
            "this plan"
        };
        return Err(SyncError::EnvironmentUnnamed(format!(
            "{which} names no environment (spec.environment: {{name, stage}}), so the stage rule cannot say whether data may move this way; name both environments, or pass --force (force: true) to copy anyway"
        )));
    }
    check_promotion(source, target, force)
}

#[cfg(test)]
mod tests {
    use super::*;
    use turnout_crds::plan::Stage;

    fn env(name: &str, stage: Stage) -> Environment {
        Environment {
            name: name.into(),
            stage,
        }
    }

    #[test]
    fn between_environments_both_plans_name_theirs_unless_forced() {
        let test = env("test-cloud", Stage::Test);
        let e = check_promotion_between(None, Some(&test), false).unwrap_err();
        assert_eq!(e.reason(), "PromotionRefused");
        assert!(
            e.to_string()
                .contains("the source's plan names no environment"),
            "{e}"
        );
        assert!(check_promotion_between(Some(&test), None, false).is_err());
        assert!(check_promotion_between(None, None, true).is_ok());
        assert!(check_promotion_between(Some(&test), Some(&test), false).is_ok());
    }

    #[test]
    fn promotion_goes_forward_only_unless_forced() {
        let (dev, test, prod) = (
            env("local", Stage::Dev),
            env("test-cloud", Stage::Test),
            env("production", Stage::Prod),
        );
        assert!(check_promotion(Some(&dev), Some(&test), false).is_ok());
        assert!(check_promotion(Some(&test), Some(&prod), false).is_ok());
        assert!(check_promotion(Some(&prod), Some(&prod), false).is_ok());
        let e = check_promotion(Some(&prod), Some(&dev), false).unwrap_err();
        assert_eq!(e.reason(), "PromotionRefused");
        assert!(e.to_string().contains("production") && e.to_string().contains("local"));
        assert!(check_promotion(Some(&prod), Some(&dev), true).is_ok());
        assert!(check_promotion(None, Some(&dev), false).is_ok());
    }

    #[test]
    fn steps_pair_bindings_by_name_and_refuse_mixed_kinds() {
        let plan: PortPlanSpec = serde_json::from_value(serde_json::json!({
            "infrastructure": [{"name": "db", "image": "m", "engine": "mariadb"}],
            "versions": [
                {"name": "a", "containers": [{"name": "a-svc", "image": "x"}],
                 "data": [{"name": "users", "container": "db", "database": "a_users"},
                          {"name": "only-a", "container": "db", "database": "a_only"},
                          {"name": "shared", "container": "a-svc", "export": ["e"], "import": ["i"]}]},
                {"name": "b", "containers": [{"name": "b-svc", "image": "y"}],
                 "data": [{"name": "users", "container": "db", "database": "b_users"},
                          {"name": "shared", "container": "b-svc", "export": ["e"], "import": ["i"]}]},
                {"name": "c", "data": [{"name": "shared", "container": "db", "database": "c_shared"}]}
            ]
        }))
        .unwrap();
        let steps = plan_steps("p", &plan, "a", "b").unwrap();
        let pairs: Vec<(String, String)> = steps
            .iter()
            .map(|s| (s.source.label(), s.target.label()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("db/a_users".into(), "db/b_users".into()),
                ("a-svc/shared".into(), "b-svc/shared".into())
            ]
        );
        assert_eq!(steps[1].target.service.as_ref().unwrap().image, "y");
        assert_eq!(
            plan_steps("p", &plan, "a", "c").unwrap_err().reason(),
            "Unsupported"
        );
        assert_eq!(
            plan_steps("p", &plan, "a", "zzz").unwrap_err().reason(),
            "UnknownVersion"
        );
    }
}
