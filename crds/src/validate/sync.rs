//! The rules for a DataSync: the versions it names, and a source in
//! another environment (its plan and the engine of its host).

use super::{Report, Violation, ViolationKind, check_version_ref};
use crate::datasync::DataSyncSpec;
use crate::plan::PortPlanSpec;

/// Violations of a sync against the plan it names.
pub fn validate_sync(plan: &PortPlanSpec, sync: &DataSyncSpec) -> Vec<Violation> {
    let mut r = Report::default();
    // With another environment as the source, `from` names a version of
    // the source's plan: checked when that plan is read.
    if sync.source.is_none() {
        check_version_ref(plan, "spec.from", &sync.from, &mut r);
    }
    check_version_ref(plan, "spec.to", &sync.to, &mut r);
    if let Some(source) = &sync.source {
        check_source(source, &mut r);
    }
    if sync.from == sync.to && sync.source.is_none() {
        r.push(
            ViolationKind::Empty,
            "spec.to",
            format!(
                "the sync copies version {} into itself; pick another target",
                sync.to
            ),
        );
    }
    r.finish()
}

/// The source of a cross-environment DataSync: a plan file given as an
/// absolute path, an engine address of a scheme turnout can reach.
fn check_source(source: &crate::datasync::SyncSource, r: &mut Report) {
    match (&source.plan_file, &source.plan_ref) {
        (Some(_), Some(_)) => r.push(
            ViolationKind::InvalidSource,
            "spec.source",
            "name the source's plan once: planRef (a PortPlan, under Kubernetes) or planFile (a file, under turnout standalone)".to_string(),
        ),
        (None, None) => r.push(
            ViolationKind::InvalidSource,
            "spec.source.planFile",
            "a DataSync from another environment names that environment's PortPlan: planFile (an absolute path) under turnout standalone, planRef under Kubernetes".to_string(),
        ),
        (None, Some(name)) => {
            if let Err(e) = crate::names::check_object_name(name) {
                r.push(
                    ViolationKind::InvalidSource,
                    "spec.source.planRef",
                    format!("{}: {e}", crate::names::shown(name)),
                );
            }
        }
        (Some(f), None) if !f.starts_with('/') || f.chars().any(char::is_control) => r.push(
            ViolationKind::InvalidSource,
            "spec.source.planFile",
            format!("{} is not an absolute path; give the plan file's full path", crate::names::shown(f)),
        ),
        (Some(_), None) => {}
    }
    if let Some(e) = &source.engine {
        let known = ["unix://", "ssh://", "tcp://"]
            .iter()
            .any(|s| e.starts_with(s));
        if !known || e.chars().any(char::is_control) {
            r.push(
                ViolationKind::InvalidSource,
                "spec.source.engine",
                format!(
                    "{} is not an engine address turnout reaches; use ssh://user@host, tcp://host:2376 (TLS) or unix:///path",
                    crate::names::shown(e)
                ),
            );
        }
    }
}
