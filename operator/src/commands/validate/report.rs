//! What `turnout validate` reports: the documents of the files given, one
//! report each, checked by the API crate's rules. Plans are checked on
//! their own, selections and syncs against the plan they name, which must
//! be among the documents given; every document's name is checked first.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use turnout_crds::load::Documents;
use turnout_crds::names::ObjectKind;
use turnout_crds::validate::{
    Violation, ViolationKind, first_few, validate_metadata_name, validate_plan, validate_selection,
    validate_sync,
};

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
pub fn validate_documents(docs: &Documents) -> Vec<DocumentReport> {
    let mut out = Vec::new();
    for p in &docs.plans {
        let name = name_of(&p.value.metadata);
        out.push(DocumentReport {
            file: p.file.display().to_string(),
            document: p.document,
            kind: "PortPlan",
            violations: with_name(ObjectKind::PortPlan, &name, validate_plan(&p.value.spec)),
            name,
        });
    }
    for s in &docs.selections {
        let violations = match docs.plan(&s.value.spec.plan_ref) {
            Some(p) => {
                validate_selection(&name_of(&p.value.metadata), &p.value.spec, &s.value.spec)
            }
            None => vec![missing_plan(docs, &s.value.spec.plan_ref)],
        };
        let name = name_of(&s.value.metadata);
        out.push(DocumentReport {
            file: s.file.display().to_string(),
            document: s.document,
            kind: "VersionSelection",
            violations: with_name(ObjectKind::VersionSelection, &name, violations),
            name,
        });
    }
    for s in &docs.syncs {
        let violations = match docs.plan(&s.value.spec.plan_ref) {
            Some(p) => validate_sync(&p.value.spec, &s.value.spec),
            None => vec![missing_plan(docs, &s.value.spec.plan_ref)],
        };
        let name = name_of(&s.value.metadata);
        out.push(DocumentReport {
            file: s.file.display().to_string(),
            document: s.document,
            kind: "DataSync",
            violations: with_name(ObjectKind::DataSync, &name, violations),
            name,
        });
    }
    out
}

fn name_of(m: &ObjectMeta) -> String {
    m.name.clone().unwrap_or_default()
}

/// The name check first, then the document's own rules.
fn with_name(kind: ObjectKind, name: &str, rest: Vec<Violation>) -> Vec<Violation> {
    validate_metadata_name(kind, name)
        .into_iter()
        .chain(rest)
        .collect()
}

/// A selection or sync names a plan that is not among the files given.
fn missing_plan(docs: &Documents, plan_ref: &str) -> Violation {
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
}
