//! Dereference: a selection's PortPlan and the values of the Secrets it
//! and the selection name (containers' secrets, notification sinks' URLs), read for one reconcile with named `get`s only (the operator may
//! not list or watch Secrets).

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use turnout_crds::PortPlan;
use turnout_crds::notify::Notification;
use turnout_crds::plan::PortPlanSpec;

use super::ControllerError;
use crate::core::target::SecretMap;

/// The Secrets a plan references (its containers' and its notification
/// sinks'), and those of `sinks` (a selection's own): (name, key) pairs.
pub fn secret_refs(plan: &PortPlanSpec, sinks: &[Notification]) -> Vec<(String, String)> {
    let containers = plan
        .infrastructure
        .iter()
        .chain(plan.versions.iter().flat_map(|v| v.containers.iter()))
        .flat_map(|c| c.secrets.iter())
        .map(|s| &s.from);
    let sinks = plan.notifications.iter().chain(sinks).map(|n| &n.url);
    let mut refs: Vec<(String, String)> = containers
        .chain(sinks)
        .filter_map(|from| from.secret_key_ref.as_ref())
        .map(|r| (r.name.clone(), r.key.clone()))
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

/// The PortPlan `plan` of namespace `ns`, and the values of the Secrets it
/// references (a missing key is left out: the secret then reports itself
/// missing when a container or a sync needs it).
pub async fn load_plan(
    client: &Client,
    ns: &str,
    plan: &str,
) -> Result<(PortPlanSpec, SecretMap), ControllerError> {
    load_plan_for(client, ns, plan, &[]).await
}

/// [`load_plan`], also reading the Secrets `sinks` (a selection's
/// notification sinks) name.
pub async fn load_plan_for(
    client: &Client,
    ns: &str,
    plan: &str,
    sinks: &[Notification],
) -> Result<(PortPlanSpec, SecretMap), ControllerError> {
    let plans: Api<PortPlan> = Api::namespaced(client.clone(), ns);
    let Some(found) = plans.get_opt(plan).await? else {
        return Err(ControllerError::PlanMissing {
            plan: plan.to_string(),
            namespace: ns.to_string(),
        });
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut values = SecretMap::new();
    for (secret, key) in secret_refs(&found.spec, sinks) {
        let s = secrets
            .get_opt(&secret)
            .await
            .map_err(|source| ControllerError::Secret {
                name: secret.clone(),
                source,
            })?;
        if let Some(v) = s.and_then(|s| s.data).and_then(|d| d.get(&key).cloned()) {
            values.insert((secret, key), v.0);
        }
    }
    Ok((found.spec, values))
}
