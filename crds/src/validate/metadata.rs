//! The check of a document's `metadata.name`, the same for names read from a
//! file and names that reach the operator from the Kubernetes API.

use super::{Violation, ViolationKind};
use crate::names::{self, ObjectKind};

/// The violation of a document's `metadata.name`, if turnout refuses it
/// for that kind (see [`ObjectKind::check_name`]); for names that reach
/// the operator from the Kubernetes API, as for names read from a file.
pub fn validate_metadata_name(kind: ObjectKind, name: &str) -> Option<Violation> {
    let e = kind.check_name(name).err()?;
    Some(Violation {
        kind: ViolationKind::InvalidName,
        path: "metadata.name".to_string(),
        subjects: vec![names::shown(name)],
        port: None,
        message: kind.name_refused(&e),
    })
}
