//! `DataSync`: one copy of a version's data into another, run once.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

fn default_true() -> bool {
    true
}

/// Copy the data bindings of one version into another. Idempotent: a
/// DataSync that Succeeded is never run again.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "turnout.dev",
    version = "v1alpha1",
    kind = "DataSync",
    namespaced,
    derive = "PartialEq",
    shortname = "dsync",
    status = "DataSyncStatus",
    doc = "One copy of a version's data into another version, with backup and verification.",
    printcolumn(name = "From", type_ = "string", json_path = ".spec.from"),
    printcolumn(name = "To", type_ = "string", json_path = ".spec.to"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataSyncSpec {
    /// The PortPlan whose versions' data bindings are copied.
    pub plan_ref: String,
    /// The source version.
    pub from: String,
    /// The target version.
    pub to: String,
    /// Back up each target before it is overwritten (default true).
    #[serde(default = "default_true")]
    pub backup: bool,
    /// Overwrite a target that was written to since turnout last synced it (default false).
    #[serde(default)]
    pub allow_overwrite_newer: bool,
    /// Allow promotion towards an earlier stage (prod -> test) (default false).
    #[serde(default)]
    pub force: bool,
    /// Gzip the dump inside the source's container and unzip it inside the
    /// target's (both need bash and gzip): fewer bytes on the wire between
    /// hosts, for some CPU on each.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compress: bool,
    /// Copy from another environment instead of another version of this
    /// plan: `from` is then a version of the source's plan, whose
    /// containers run on the source's engine. Data moves only towards a
    /// later stage unless `force`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SyncSource>,
}

/// Another environment a DataSync copies from: its PortPlan and the Docker
/// engine of its host.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncSource {
    /// Kubernetes: the source environment's PortPlan, in the DataSync's
    /// namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_ref: Option<String>,
    /// Standalone mode: the absolute path of a file holding the source
    /// environment's PortPlan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_file: Option<String>,
    /// The Docker engine the source's containers run on, as `--engine`
    /// takes it: `ssh://user@host[:port]`, `tcp://host:2376` (TLS) or
    /// `unix:///path`. Default: this host's engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Standalone mode: the directory with `ca.pem`, `cert.pem` and
    /// `key.pem` for a `tcp://` engine (default: `DOCKER_CERT_PATH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_certs: Option<String>,
    /// Kubernetes: a Secret in the DataSync's namespace holding `ca.pem`,
    /// `cert.pem` and `key.pem` for a `tcp://` engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_secret_ref: Option<String>,
}

/// The phase of a DataSync.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SyncPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

/// What a DataSync did.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSyncStatus {
    /// Pending, Running, Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SyncPhase>,
    /// One step per data binding copied.
    #[serde(default)]
    pub steps: Vec<SyncStep>,
    /// A sentence for a person: what happened, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The copy of one data binding.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStep {
    /// The binding's name.
    pub binding: String,
    /// Source, e.g. `test-mysql/future_users`.
    pub source: String,
    /// The source's environment, when its plan names one (lineage: where
    /// the data came from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_environment: Option<String>,
    /// The source's Docker engine, when it is not the one this turnout acts
    /// on (another environment's host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_engine: Option<String>,
    /// Target, e.g. `test-mysql/dao_users`.
    pub target: String,
    /// Bytes streamed.
    #[serde(default)]
    pub bytes: u64,
    /// Rows (or keys) copied, when the engine can count them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Checksum of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_checksum: Option<String>,
    /// Checksum of the target after the copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_checksum: Option<String>,
    /// Where the target's previous contents were backed up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// Milliseconds the step took.
    #[serde(default)]
    pub duration_ms: u64,
    /// Milliseconds of it spent streaming the data (the rest: inspecting,
    /// verifying, backing up, swapping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_ms: Option<u64>,
}
