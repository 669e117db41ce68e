//! Build the desired state: which containers should run, from a plan and
//! the selected version. Pure.

use sha2::{Digest, Sha256};
use turnout_crds::plan::{ContainerSpec, PortPlanSpec, VersionSpec};

use super::model::{Desired, DesiredContainer, Role};

/// The containers that should run when `active` is selected: every
/// infrastructure container, then the active version's. `None` when the plan
/// has no such version (validation reports that first).
pub fn build_desired(plan_name: &str, plan: &PortPlanSpec, active: &str) -> Option<Desired> {
    let version = plan.version(active)?;
    let infra = plan
        .infrastructure
        .iter()
        .map(|c| desired(plan_name, plan, Role::Infrastructure, c));
    let of_version = |v: &VersionSpec| {
        v.containers
            .iter()
            .map(|c| desired(plan_name, plan, Role::Version(v.name.clone()), c))
            .collect::<Vec<_>>()
    };
    Some(Desired {
        plan: plan_name.to_string(),
        active_version: active.to_string(),
        containers: infra.chain(of_version(version)).collect(),
        inactive: plan
            .versions
            .iter()
            .filter(|v| v.name != active)
            .flat_map(of_version)
            .collect(),
        strategy: plan.switch_strategy,
    })
}

fn desired(
    plan_name: &str,
    plan: &PortPlanSpec,
    role: Role,
    spec: &ContainerSpec,
) -> DesiredContainer {
    DesiredContainer {
        plan: plan_name.to_string(),
        spec_hash: spec_hash(plan_name, &role, spec),
        role,
        spec: spec.clone(),
        adopt: plan.adopt || spec.adopt,
    }
}

/// A short stable hash of everything that shapes the container. Readiness,
/// stop timeout and adoption are turnout's business, not the container's,
/// so changing them does not recreate it. Secret *sources* count; their values
/// never enter the hash (or anything else that is shown).
pub fn spec_hash(plan: &str, role: &Role, spec: &ContainerSpec) -> String {
    let shaping = ContainerSpec {
        readiness: None,
        stop_timeout_seconds: None,
        adopt: false,
        ..spec.clone()
    };
    let mut h = Sha256::new();
    h.update(plan.as_bytes());
    h.update([0]);
    h.update(role.label().as_bytes());
    h.update([0]);
    // serde_json of a plain struct cannot fail; fall back to Debug to stay total.
    let canonical =
        serde_json::to_vec(&shaping).unwrap_or_else(|_| format!("{shaping:?}").into_bytes());
    h.update(&canonical);
    let digest = h.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::LABEL_SPEC_HASH;
    use turnout_crds::plan::{Probe, VersionSpec};

    fn c(name: &str) -> ContainerSpec {
        serde_json::from_value(serde_json::json!({"name": name, "image": "busybox"})).unwrap()
    }

    fn plan() -> PortPlanSpec {
        PortPlanSpec {
            adopt: false,
            environment: None,
            exclusive_versions: true,
            switch_strategy: Default::default(),
            rollback: None,
            notifications: Vec::new(),
            infrastructure: vec![c("db")],
            versions: vec![
                VersionSpec {
                    name: "a".into(),
                    ranges: vec![],
                    containers: vec![c("a-1"), c("a-2")],
                    data: vec![],
                },
                VersionSpec {
                    name: "b".into(),
                    ranges: vec![],
                    containers: vec![c("b-1")],
                    data: vec![],
                },
            ],
        }
    }

    #[test]
    fn desired_is_infrastructure_then_the_active_version() {
        let d = build_desired("p", &plan(), "a").unwrap();
        let names: Vec<_> = d.containers.iter().map(|c| c.name().to_string()).collect();
        assert_eq!(names, ["db", "a-1", "a-2"]);
        assert_eq!(d.containers[0].role, Role::Infrastructure);
        assert_eq!(d.containers[1].role, Role::Version("a".into()));
        assert!(build_desired("p", &plan(), "zzz").is_none());
    }

    #[test]
    fn hash_changes_with_the_image_but_not_with_readiness() {
        let base = c("x");
        let h = spec_hash("p", &Role::Infrastructure, &base);
        let mut image = base.clone();
        image.image = "busybox:2".into();
        assert_ne!(h, spec_hash("p", &Role::Infrastructure, &image));
        // A probe added, then changed: the container stays as it is.
        let probe = |command: &str, timeout: u32| -> Option<Probe> {
            serde_json::from_value(serde_json::json!({
                "exec": {"command": [command]}, "timeoutSeconds": timeout
            }))
            .unwrap()
        };
        let mut ready = base.clone();
        ready.readiness = probe("true", 5);
        assert!(ready.readiness.is_some() && ready != base);
        assert_eq!(h, spec_hash("p", &Role::Infrastructure, &ready));
        ready.readiness = probe("check", 30);
        assert_eq!(h, spec_hash("p", &Role::Infrastructure, &ready));
        let mut timeout = base.clone();
        timeout.stop_timeout_seconds = Some(99);
        assert_eq!(h, spec_hash("p", &Role::Infrastructure, &timeout));
        assert_ne!(h, spec_hash("q", &Role::Infrastructure, &base));
        let d = build_desired("p", &plan(), "b").unwrap();
        assert_eq!(
            d.containers[1].labels()[LABEL_SPEC_HASH],
            d.containers[1].spec_hash
        );
    }
}
