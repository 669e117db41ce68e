//! `VersionSelection`: the desired state, and what turnout observed of it.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

fn default_true() -> bool {
    true
}

/// Which version of a plan the host should run.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "turnout.dev",
    version = "v1alpha1",
    kind = "VersionSelection",
    namespaced,
    derive = "PartialEq",
    shortname = "vsel",
    status = "VersionSelectionStatus",
    doc = "The version of a PortPlan the Docker host should run.",
    // The host a selection belongs to under one turnout per host (the
    // DaemonSet of manifests/components/daemonset serves its node's).
    printcolumn(
        name = "Host",
        type_ = "string",
        json_path = ".metadata.labels.turnout\\.dev/host"
    ),
    printcolumn(name = "Plan", type_ = "string", json_path = ".spec.planRef"),
    printcolumn(name = "Active", type_ = "string", json_path = ".status.activeVersion"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionSelectionSpec {
    /// The name of the PortPlan (same namespace, or the same file) this selection applies.
    pub plan_ref: String,

    /// The version that should run, e.g. `blockchain`. Changing it switches the host.
    pub active_version: String,

    /// Copy the data of the previous version into the new one on a switch (default true).
    #[serde(default = "default_true")]
    pub sync_on_switch: bool,

    /// When true, turnout observes and reports but changes nothing on the host.
    #[serde(default)]
    pub paused: bool,

    /// What deleting this selection does to the managed containers (`Keep`
    /// by default). Volumes are never deleted.
    #[serde(default)]
    pub on_delete: OnDelete,

    /// Go back to the previous version when a switch does not come up;
    /// overrides the plan's `rollback`. Off when neither says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<crate::plan::Rollback>,
    /// Where turnout posts what happens to this selection, after the plan's
    /// own sinks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<crate::notify::Notification>,
}

/// What happens to managed containers when the selection is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum OnDelete {
    /// Leave the containers running.
    #[default]
    Keep,
    /// Stop the managed containers (they and their volumes are kept).
    Stop,
}

/// What turnout observed and did.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionSelectionStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The version observed running on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_version: Option<String>,

    /// `Ready`, `Progressing` and `Degraded`, following the kstatus conventions.
    #[serde(default)]
    pub conditions: Vec<Condition>,

    /// Every container turnout manages for this selection.
    #[serde(default)]
    pub containers: Vec<ContainerStatus>,

    /// The most recent switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_switch: Option<SwitchRecord>,

    /// Recent switches, newest first.
    #[serde(default)]
    pub history: Vec<SwitchRecord>,
}

/// A status condition (the Kubernetes `metav1.Condition` shape).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`, `Progressing` or `Degraded`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase reason, e.g. `PortConflict`, `ImageMissing`, `Unhealthy`, `SyncFailed`, `InvalidPlan`.
    pub reason: String,
    /// A sentence for a person.
    pub message: String,
    /// When the status last changed (RFC 3339).
    pub last_transition_time: String,
    /// The generation the condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A container turnout manages, as observed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    /// Container name.
    pub name: String,
    /// The version it belongs to, or `infrastructure`.
    pub role: String,
    /// `running`, `exited`, `created`, `missing`, ...
    pub state: String,
    /// Whether its readiness probe passed.
    pub ready: bool,
    /// The image it was created from, as the engine reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Published ports, e.g. `0.0.0.0:3306->3306/tcp`.
    #[serde(default)]
    pub ports: Vec<String>,
}

/// One switch between versions and the time of each phase.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SwitchRecord {
    /// The version that was running before (none on a first start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The version switched to.
    pub to: String,
    /// When the switch began (RFC 3339).
    pub started_at: String,
    /// When it ended (RFC 3339), absent while in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// `InProgress`, `Succeeded`, `Failed` or `RolledBack` (the new version
    /// failed and the previous one runs again).
    pub outcome: String,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Milliseconds spent in each phase.
    #[serde(default)]
    pub phases: PhaseTimings,
    /// The DataSync that copied the previous version's data, when the switch copied any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_sync: Option<String>,
}

/// Milliseconds spent in each phase of a switch.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTimings {
    /// Stopping the previous version's containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_ms: Option<u64>,
    /// Copying data from the previous version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_ms: Option<u64>,
    /// Creating and starting containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    /// Waiting for readiness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_ms: Option<u64>,
    /// Going back to the previous version after the new one failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_ms: Option<u64>,
}
