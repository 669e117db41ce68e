//! A switch's copy under the operator: a DataSync object named for the
//! switch and owned by its VersionSelection (garbage-collected with it),
//! created once and executed here on the host's engine.

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use tracing::info;
use turnout_crds::datasync::{DataSyncSpec, SyncPhase, SyncStep};
use turnout_crds::{DataSync, PortPlanSpec};

use super::execute;
use crate::core::target::Target;
use crate::reconcile::{SwitchSync, SyncFailure};
use crate::runtime::stream::DataExec;
use crate::sync::run::SyncOptions;

/// Label naming the selection whose switch created a DataSync.
pub const LABEL_SELECTION: &str = "turnout.dev/selection";

/// The selection a switch copies for: where its DataSync lives and who owns it.
#[derive(Clone, Debug)]
pub struct SwitchOwner {
    pub namespace: String,
    pub selection: String,
    pub plan: String,
    pub reference: OwnerReference,
}

impl SwitchOwner {
    /// The owner of the DataSyncs the switches of `target` create, when
    /// the target is a selection in the cluster.
    pub fn of(target: &Target) -> Option<SwitchOwner> {
        let owner = target.owner.as_ref()?;
        Some(SwitchOwner {
            namespace: owner.namespace.clone(),
            selection: target.selection_name.clone(),
            plan: target.plan_name.clone(),
            reference: OwnerReference {
                api_version: turnout_crds::API_VERSION.to_string(),
                kind: "VersionSelection".to_string(),
                name: target.selection_name.clone(),
                uid: owner.uid.clone(),
                controller: Some(true),
                ..Default::default()
            },
        })
    }
}

/// The operator's switch copier: each copy is a DataSync object owned by
/// the selection, executed here on the host's engine.
pub struct KubeSwitchSync<R> {
    pub client: Client,
    pub runtime: Arc<R>,
    pub options: SyncOptions,
}

impl<R: DataExec + 'static> SwitchSync for KubeSwitchSync<R> {
    fn has_data(&self, plan: &PortPlanSpec, from: &str, to: &str) -> bool {
        crate::sync::plan_steps("", plan, from, to).is_ok_and(|s| !s.is_empty())
    }

    fn sync<'a>(
        &'a self,
        name: &'a str,
        target: &'a Target,
        from: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SyncStep>, SyncFailure>> {
        Box::pin(async move {
            let owner = SwitchOwner::of(target)
                .ok_or_else(|| SyncFailure::retry("no VersionSelection owns this switch"))?;
            let spec = crate::sync::run::switch_spec(target, from, &self.options);
            let api: Api<DataSync> = Api::namespaced(self.client.clone(), &owner.namespace);
            let ds = ensure(&api, name, spec, &owner).await?;
            let secrets = crate::secrets::resolver_of(target);
            let (status, _) = execute(
                &api,
                self.runtime.as_ref(),
                &secrets,
                &self.options,
                &ds,
                (&target.plan, Ok(None)),
            )
            .await;
            match status.phase {
                Some(SyncPhase::Succeeded) => Ok(status.steps),
                _ => Err(SyncFailure::failed(
                    status
                        .message
                        .unwrap_or_else(|| format!("DataSync {name} failed")),
                )),
            }
        })
    }
}

/// Creates the DataSync `name` owned by `owner`, or returns the one that
/// exists (creating it again is a no-op). API trouble is retryable (the copy
/// has not begun). One that exists but belongs to another selection (say, a
/// deleted one of the same name whose DataSyncs are not yet
/// garbage-collected) waits for the collector; one that copies something
/// else is refused until someone deletes it.
pub async fn ensure(
    api: &Api<DataSync>,
    name: &str,
    spec: DataSyncSpec,
    owner: &SwitchOwner,
) -> Result<DataSync, SyncFailure> {
    let mut labels = std::collections::BTreeMap::new();
    // A label value holds at most 63 characters; the owner reference says it anyway.
    if owner.selection.len() <= 63 {
        labels.insert(LABEL_SELECTION.to_string(), owner.selection.clone());
    }
    let ds = DataSync {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(owner.namespace.clone()),
            owner_references: Some(vec![owner.reference.clone()]),
            labels: Some(labels),
            ..Default::default()
        },
        spec,
        status: None,
    };
    let existing = match api.create(&PostParams::default(), &ds).await {
        Ok(created) => {
            info!(datasync = name, "created DataSync");
            return Ok(created);
        }
        Err(kube::Error::Api(e)) if e.code == 409 => api
            .get(name)
            .await
            .map_err(|e| SyncFailure::retry(format!("cannot read DataSync {name}: {e}")))?,
        Err(e) => {
            return Err(SyncFailure::retry(format!(
                "cannot create DataSync {name}: {e}"
            )));
        }
    };
    let ours = existing
        .owner_references()
        .iter()
        .any(|o| o.uid == owner.reference.uid);
    if !ours {
        return Err(SyncFailure::retry(format!(
            "DataSync {name} exists but belongs to another VersionSelection (an earlier one of the same name?); it goes when that one is garbage-collected, or delete it"
        )));
    }
    if existing.spec.plan_ref != ds.spec.plan_ref
        || existing.spec.from != ds.spec.from
        || existing.spec.to != ds.spec.to
    {
        return Err(SyncFailure::failed(format!(
            "DataSync {name} exists and copies {} {} -> {}, not {} {} -> {}; delete it",
            existing.spec.plan_ref,
            existing.spec.from,
            existing.spec.to,
            ds.spec.plan_ref,
            ds.spec.from,
            ds.spec.to
        )));
    }
    Ok(existing)
}
