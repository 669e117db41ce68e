//! The switch rules: what a switch strategy needs from the plan and the
//! selection, and the bounds of an automatic rollback.

use super::{Report, ViolationKind};
use crate::plan::{PortPlanSpec, Rollback, SwitchStrategy};
use crate::selection::VersionSelectionSpec;

/// The longest progress deadline turnout accepts: an hour.
pub const MAX_PROGRESS_DEADLINE_SECONDS: u32 = 3600;

pub(super) fn check_rollback(path: &str, rollback: Option<&Rollback>, r: &mut Report) {
    let Some(rb) = rollback else {
        return;
    };
    let d = rb.progress_deadline_seconds;
    if d == 0 || d > MAX_PROGRESS_DEADLINE_SECONDS {
        r.push(
            ViolationKind::InvalidSwitch,
            format!("{path}.progressDeadlineSeconds"),
            format!(
                "progressDeadlineSeconds is {d}; give the new version between 1 and {MAX_PROGRESS_DEADLINE_SECONDS} seconds to become ready"
            ),
        );
    }
    if rb.min_ready_seconds > d {
        r.push(
            ViolationKind::InvalidSwitch,
            format!("{path}.minReadySeconds"),
            format!(
                "minReadySeconds ({}) is longer than progressDeadlineSeconds ({d}); a switch could never finish in time",
                rb.min_ready_seconds
            ),
        );
    }
}

/// `Overlap` and `Pause` run two versions' containers at once: a switch
/// that copies data (it needs the old version stopped, a quiescent source)
/// cannot use them. Ports shared between versions are checked with the
/// other port conflicts.
pub(super) fn check_strategy_for(
    plan: &PortPlanSpec,
    selection: &VersionSelectionSpec,
    r: &mut Report,
) {
    let strategy = plan.switch_strategy;
    if strategy == SwitchStrategy::StopFirst || !selection.sync_on_switch {
        return;
    }
    for (i, a) in plan.versions.iter().enumerate() {
        for b in &plan.versions[i + 1..] {
            let Some(shared) = a
                .data
                .iter()
                .find(|x| b.data.iter().any(|y| y.name == x.name))
            else {
                continue;
            };
            if r.stop() {
                return;
            }
            r.push(
                ViolationKind::InvalidSwitch,
                "spec.syncOnSwitch",
                format!(
                    "the plan's switchStrategy {} cannot apply: versions {} and {} both hold data {:?}, which a switch between them copies (syncOnSwitch is true) and a copy needs the old version stopped first. Set syncOnSwitch: false, or use switchStrategy StopFirst",
                    strategy.as_str(),
                    a.name,
                    b.name,
                    shared.name
                ),
            );
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::plan::PortPlanSpec;
    use crate::selection::VersionSelectionSpec;
    use crate::validate::{ViolationKind, validate_plan, validate_selection};

    fn plan(extra: serde_json::Value) -> PortPlanSpec {
        let mut p = json!({
            "infrastructure": [{"name": "db", "image": "mariadb:11", "engine": "mariadb", "ports": [{"host": 3306, "container": 3306}]}],
            "versions": [
                {"name": "a", "ranges": [{"name": "s", "from": 8000, "to": 8099}],
                 "containers": [{"name": "a-web", "image": "web:1", "ports": [{"host": 8000, "container": 80, "range": "s"}]}],
                 "data": [{"name": "main", "container": "db", "database": "a"}]},
                {"name": "b", "ranges": [{"name": "s", "from": 8000, "to": 8099}],
                 "containers": [{"name": "b-web", "image": "web:1", "ports": [{"host": 8010, "container": 80, "range": "s"}]}],
                 "data": [{"name": "main", "container": "db", "database": "b"}]}
            ]
        });
        if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        serde_json::from_value(p).expect("test plan parses")
    }

    fn selection(extra: serde_json::Value) -> VersionSelectionSpec {
        let mut s = json!({"planRef": "p", "activeVersion": "a"});
        if let (Some(s), Some(e)) = (s.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        serde_json::from_value(s).expect("test selection parses")
    }

    #[test]
    fn a_fast_strategy_with_data_copied_on_the_switch_is_refused_with_the_way_out() {
        let p = plan(json!({"switchStrategy": "Pause"}));
        assert!(validate_plan(&p).is_empty(), "{:?}", validate_plan(&p));
        let v = validate_selection("p", &p, &selection(json!({})));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind, ViolationKind::InvalidSwitch);
        assert_eq!(v[0].path, "spec.syncOnSwitch");
        assert!(v[0].message.contains("Pause") && v[0].message.contains("\"main\""));
        assert!(v[0].message.contains("syncOnSwitch: false"));
        // Without the copy, the same plan may switch by pausing.
        assert!(validate_selection("p", &p, &selection(json!({"syncOnSwitch": false}))).is_empty());
        // StopFirst copies as always.
        let stop_first = plan(json!({}));
        assert!(validate_selection("p", &stop_first, &selection(json!({}))).is_empty());
    }

    #[test]
    fn a_rollback_deadline_out_of_bounds_is_refused_on_plan_and_selection() {
        let p = plan(json!({"rollback": {"progressDeadlineSeconds": 0}}));
        let v = validate_plan(&p);
        assert!(
            v.iter().any(|v| v.kind == ViolationKind::InvalidSwitch
                && v.path == "spec.rollback.progressDeadlineSeconds"),
            "{v:?}"
        );
        let p = plan(json!({}));
        let s = selection(
            json!({"syncOnSwitch": false, "rollback": {"progressDeadlineSeconds": 10, "minReadySeconds": 20}}),
        );
        let v = validate_selection("p", &p, &s);
        assert!(
            v.iter().any(|v| v.path == "spec.rollback.minReadySeconds"),
            "{v:?}"
        );
        let fine = selection(json!({"rollback": {"enabled": true}}));
        assert!(validate_selection("p", &p, &fine).is_empty());
        assert_eq!(
            fine.rollback.map(|r| r.progress_deadline_seconds),
            Some(120)
        );
    }
}
