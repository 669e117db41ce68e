//! turnout's API: the resources of group `turnout.dev/v1alpha1`, how they are
//! loaded from YAML, and the pure validation of a plan and a selection.
//!
//! Nothing in this crate talks to Docker or to a Kubernetes API server: the
//! types serve the operator, the standalone file and the CLI alike.

// kube's `printcolumn(...)` repeats `type_ = ...` once per column by design.
#![allow(clippy::duplicated_attributes)]

pub mod datasync;
pub mod load;
pub mod names;
pub mod notify;
pub mod plan;
pub mod port;
pub mod selection;
pub mod validate;

pub use datasync::{DataSync, DataSyncSpec, DataSyncStatus};
pub use load::{Documents, LoadError};
pub use plan::{PortPlan, PortPlanSpec};
pub use port::{BindAddress, Port, Protocol};
pub use selection::{VersionSelection, VersionSelectionSpec, VersionSelectionStatus};
pub use validate::{Violation, ViolationKind};

/// The API group of every turnout resource.
pub const GROUP: &str = "turnout.dev";
/// The API version of every turnout resource.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in a document.
pub const API_VERSION: &str = "turnout.dev/v1alpha1";
