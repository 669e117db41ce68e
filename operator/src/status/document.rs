//! The status document of a host: what `/status`, `turnout status` and the
//! status file show (the selection's status, plus the file, the engine and
//! the host's DataSyncs).

use std::path::Path;

use serde::{Deserialize, Serialize};
use turnout_crds::selection::VersionSelectionStatus;

/// What `/status` and the status file hold.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StandaloneStatus {
    pub file: String,
    pub plan: String,
    pub selection: String,
    pub desired_version: String,
    /// The last edit of the file that was ignored, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_error: Option<String>,
    /// That edit, when it read as a plan but broke its rules: the plan it
    /// describes and each rule broken (its port map: `/portmap.svg?refused=1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_edit: Option<super::refused::RefusedEdit>,
    pub updated_at: String,
    pub status: VersionSelectionStatus,
    /// The host's DataSyncs (from the file, and those switches created), newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_syncs: Vec<crate::sync::store::StoredSync>,
    /// With --git: the commit whose file is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_revision: Option<String>,
    /// What turnout knows of each database on the host: where its contents
    /// came from (`turnout lineage`), keyed by `container/database`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub data: std::collections::BTreeMap<String, crate::sync::record::Written>,
    /// Why the last reconcile could not begin a change (a foreign listener
    /// on a planned port, a missing image, ...): the Ready condition's
    /// message, as data, so the status page can place each on the port map.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blockers: Vec<crate::core::preflight::Blocker>,
    /// The Docker engine this turnout drives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

/// Replaces the file atomically: write a sibling, then rename over it.
pub fn write_atomically(path: &Path, doc: &StandaloneStatus) -> std::io::Result<()> {
    crate::files::replace_json(path, doc)
}
