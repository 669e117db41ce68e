//! Checking whole documents: plans on their own, selections and syncs
//! against the plan they name, as `turnout validate` reports them.

use serde::Serialize;

use super::limits::first_few;
use super::{Violation, ViolationKind, validate_plan, validate_selection, validate_sync};
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

/// The name check first, then the document's own rules.
fn with_name(kind: ObjectKind, name: &str, rest: Vec<Violation>) -> Vec<Violation> {
    validate_metadata_name(kind, name)
        .into_iter()
        .chain(rest)
        .collect()
}

/// The outcome of checking one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DocumentReport {
    /// The file the document came from.
    pub file: String,
    /// 1-based index of the document in its file.
    pub document: usize,
    /// `PortPlan`, `VersionSelection` or `DataSync`.
    pub kind: &'static str,
    /// `metadata.name`.
    pub name: String,
    /// Every rule it breaks; empty when valid.
    pub violations: Vec<Violation>,
}

/// Checks every document: plans on their own, selections and syncs against
/// the plan they name (which must be among the documents).
pub fn validate_documents(docs: &crate::load::Documents) -> Vec<DocumentReport> {
    let name_of = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.name.clone().unwrap_or_default()
    };
    let mut out = Vec::new();
    for p in &docs.plans {
        out.push(DocumentReport {
            file: p.file.display().to_string(),
            document: p.document,
            kind: "PortPlan",
            name: name_of(&p.value.metadata),
            violations: with_name(
                ObjectKind::PortPlan,
                &name_of(&p.value.metadata),
                validate_plan(&p.value.spec),
            ),
        });
    }
    let missing_plan = |plan_ref: &str| {
        let known = first_few(docs.plans.iter().map(|p| name_of(&p.value.metadata)));
        Violation {
            kind: ViolationKind::UnknownPlan,
            path: "spec.planRef".to_string(),
            subjects: vec![plan_ref.to_string()],
            port: None,
            message: format!(
                "plan {plan_ref:?} is not among the documents given ({}); pass the file that holds it too",
                if known.is_empty() { "none" } else { &known }
            ),
        }
    };
    for s in &docs.selections {
        let violations = match docs.plan(&s.value.spec.plan_ref) {
            Some(p) => {
                validate_selection(&name_of(&p.value.metadata), &p.value.spec, &s.value.spec)
            }
            None => vec![missing_plan(&s.value.spec.plan_ref)],
        };
        out.push(DocumentReport {
            file: s.file.display().to_string(),
            document: s.document,
            kind: "VersionSelection",
            name: name_of(&s.value.metadata),
            violations: with_name(
                ObjectKind::VersionSelection,
                &name_of(&s.value.metadata),
                violations,
            ),
        });
    }
    for s in &docs.syncs {
        let violations = match docs.plan(&s.value.spec.plan_ref) {
            Some(p) => validate_sync(&p.value.spec, &s.value.spec),
            None => vec![missing_plan(&s.value.spec.plan_ref)],
        };
        out.push(DocumentReport {
            file: s.file.display().to_string(),
            document: s.document,
            kind: "DataSync",
            name: name_of(&s.value.metadata),
            violations: with_name(
                ObjectKind::DataSync,
                &name_of(&s.value.metadata),
                violations,
            ),
        });
    }
    out
}
