//! The entry points the fuzzer drives, the way turnout's callers drive
//! them: the bytes of a file through the loader, then every document's
//! checks as `turnout validate` runs them (its name, its rules, a selection
//! or sync against the plan it names), `validate_plan` +
//! `validate_selection` (a reconcile), `validate_sync` (a DataSync in
//! standalone mode) and the name checks the operator calls, with every
//! message formatted.

use std::path::Path;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use turnout_crds::load::Documents;
use turnout_crds::names::{self, ObjectKind};
use turnout_crds::validate::{
    Violation, validate_metadata_name, validate_plan, validate_selection, validate_sync,
};

/// What the input came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The loader refused it, for this reason (`LoadError::reason`).
    Refused(&'static str),
    /// It loaded and broke no rule.
    Valid,
    /// It loaded and broke rules.
    Invalid,
}

/// Runs one input through every entry point. Panics only if turnout does.
pub fn exercise(bytes: &[u8]) -> Outcome {
    let docs = match Documents::parse_bytes(Path::new("fuzz.yaml"), bytes) {
        Ok(docs) => docs,
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.is_empty(), "an error without a message: {e:?}");
            let _ = std::error::Error::source(&e).map(ToString::to_string);
            return Outcome::Refused(e.reason());
        }
    };
    let mut broken = 0;
    for p in &docs.plans {
        broken += named(
            ObjectKind::PortPlan,
            &p.value.metadata,
            validate_plan(&p.value.spec),
        );
    }
    // A plan missing from the files counts once (`turnout validate` reports it).
    for s in &docs.selections {
        let (missing, found) = match docs.plan(&s.value.spec.plan_ref) {
            Some(p) => {
                let plan_name = p.value.metadata.name.as_deref().unwrap_or_default();
                (
                    0,
                    validate_selection(plan_name, &p.value.spec, &s.value.spec),
                )
            }
            None => (1, Vec::new()),
        };
        broken += missing + named(ObjectKind::VersionSelection, &s.value.metadata, found);
    }
    for s in &docs.syncs {
        let (missing, found) = match docs.plan(&s.value.spec.plan_ref) {
            Some(p) => (0, validate_sync(&p.value.spec, &s.value.spec)),
            None => (1, Vec::new()),
        };
        broken += missing + named(ObjectKind::DataSync, &s.value.metadata, found);
    }
    // A selection or sync is also checked against the first plan whatever
    // its planRef says, so their rules run on every input that has a plan.
    if let Some(plan) = docs.plans.first() {
        let plan_name = plan.value.metadata.name.as_deref().unwrap_or_default();
        broken += validate_plan(&plan.value.spec).len();
        for s in &docs.selections {
            broken += validate_selection(plan_name, &plan.value.spec, &s.value.spec).len();
        }
        for s in &docs.syncs {
            broken += validate_sync(&plan.value.spec, &s.value.spec).len();
        }
    }
    for s in &docs.syncs {
        let name = s.value.metadata.name.as_deref().unwrap_or_default();
        let checked = names::check_datasync_name(name).map_err(|e| e.to_string());
        assert_eq!(
            checked.is_ok(),
            validate_metadata_name(ObjectKind::DataSync, name).is_none()
        );
    }
    let mut twice = docs.clone();
    if let Err(e) = twice.merge(docs) {
        let _ = e.to_string();
    }
    if broken == 0 {
        Outcome::Valid
    } else {
        Outcome::Invalid
    }
}

/// The document's name check and then `found`, each violation formatted;
/// how many there are.
fn named(kind: ObjectKind, meta: &ObjectMeta, found: Vec<Violation>) -> usize {
    let name = meta.name.as_deref().unwrap_or_default();
    let all: Vec<Violation> = validate_metadata_name(kind, name)
        .into_iter()
        .chain(found)
        .collect();
    for v in &all {
        assert!(!v.path.is_empty() && !v.message.is_empty(), "{v:?}");
        let _ = v.to_string();
    }
    all.len()
}
