//! A refused edit: the desired file changed into something that reads as a
//! selection and its plan but breaks the plan's rules, so turnout kept the
//! last good state. [`RefusedPlan`] is what the driver keeps of it (the plan
//! and the validator's violations, for the port map of the edit);
//! [`RefusedEdit`] is what the status document says of it.

use serde::{Deserialize, Serialize};
use turnout_crds::plan::PortPlanSpec;
use turnout_crds::validate::Violation;

/// The plan of an edit that was refused, with the rules it breaks (the
/// validator's own violations, never re-derived).
#[derive(Clone, Debug, PartialEq)]
pub struct RefusedPlan {
    pub plan_name: String,
    pub plan: PortPlanSpec,
    pub violations: Vec<Violation>,
}

/// What the status document says of a refused edit: the plan it describes
/// and each rule it breaks (`/portmap.svg?refused=1` draws it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RefusedEdit {
    /// The plan the edit describes (not the one running).
    pub plan: String,
    pub broken: Vec<BrokenRule>,
}

/// One rule a refused edit breaks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BrokenRule {
    /// The rule's stable name (`RangeCoversInfrastructurePort`, ...).
    pub rule: String,
    /// The offending field of the edit.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// What is wrong and what to do, for a person.
    pub message: String,
}

impl RefusedPlan {
    /// The status document's account of this refusal.
    pub fn edit(&self) -> RefusedEdit {
        RefusedEdit {
            plan: self.plan_name.clone(),
            broken: self
                .violations
                .iter()
                .map(|v| BrokenRule {
                    rule: v.kind.as_str().to_string(),
                    path: v.path.clone(),
                    port: v.port,
                    message: v.message.clone(),
                })
                .collect(),
        }
    }

    /// The port map of the refused plan: its clashes in red, labelled as an
    /// edit that was not applied.
    pub fn portmap_svg(&self) -> String {
        crate::portmap::render_refused(&self.plan_name, &self.plan, &self.violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use turnout_crds::validate::validate_plan;

    /// A plan whose version range `shared` covers the database's port 9200.
    fn covering() -> PortPlanSpec {
        serde_json::from_value(serde_json::json!({
            "infrastructure": [{"name": "es", "image": "es:8", "ports": [{"host": 9200, "container": 9200}]}],
            "versions": [{"name": "blockchain", "ranges": [{"name": "shared", "from": 9200, "to": 9299}], "containers": []}]
        }))
        .expect("a plan")
    }

    #[test]
    fn the_document_names_each_broken_rule_and_its_port() {
        let plan = covering();
        let violations = validate_plan(&plan);
        assert!(!violations.is_empty(), "the plan breaks a rule");
        let refused = RefusedPlan {
            plan_name: "edit".into(),
            plan,
            violations,
        };
        let edit = refused.edit();
        assert_eq!(edit.plan, "edit");
        assert!(
            edit.broken
                .iter()
                .any(|b| b.rule == "RangeCoversInfrastructurePort" && b.port == Some(9200)),
            "{edit:?}"
        );
        let json = serde_json::to_value(&edit).expect("serializes");
        assert_eq!(json["broken"][0]["rule"], "RangeCoversInfrastructurePort");
        let back: RefusedEdit = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, edit);
        let svg = refused.portmap_svg();
        assert!(
            svg.contains(
                r#"class="clash" data-rule="RangeCoversInfrastructurePort" data-port="9200""#
            ),
            "{svg}"
        );
        assert!(svg.contains("not applied"), "{svg}");
    }
}
