//! What one reconcile is asked to converge to, and the names derived from
//! it. Everything a reconcile needs travels here, not in shared slots: the
//! plan and selection, the selection's place in Kubernetes (for the
//! DataSyncs its switches create), and the secret values read for it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use turnout_crds::plan::{DEFAULT_STOP_TIMEOUT_SECONDS, PortPlanSpec, Rollback};
use turnout_crds::selection::VersionSelectionSpec;

/// What one reconcile is asked to converge to.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub plan_name: String,
    pub plan: PortPlanSpec,
    pub selection_name: String,
    pub selection: VersionSelectionSpec,
    /// The selection's generation, when it has one (Kubernetes).
    pub generation: Option<i64>,
    /// The selection's object in Kubernetes, when it is one.
    pub owner: Option<Owner>,
    /// Where the plan's secret values come from for this reconcile.
    pub secrets: SecretValues,
    /// Containers made by hand under planned names may be adopted, whatever
    /// the plan says (`turnout apply --adopt`).
    pub adopt: bool,
}

/// A VersionSelection object: the owner of the DataSyncs its switches create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub namespace: String,
    pub uid: String,
}

/// (Secret name, key) -> value.
pub type SecretMap = BTreeMap<(String, String), Vec<u8>>;

/// The secret values a reconcile may use. Debug never shows a value.
#[derive(Clone, Default, PartialEq)]
pub enum SecretValues {
    /// Standalone: `from.env` and `from.file`, read when needed.
    #[default]
    Local,
    /// Kubernetes: the named Secrets' keys, read for this reconcile; only
    /// `from.secretKeyRef` may be used.
    Cluster(Arc<SecretMap>),
}

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretValues::Local => f.write_str("Local"),
            SecretValues::Cluster(m) => write!(f, "Cluster({} value(s))", m.len()),
        }
    }
}

impl Target {
    /// The automatic rollback this target asks for: the selection's, else
    /// the plan's; None when neither enables one.
    pub fn rollback(&self) -> Option<&Rollback> {
        self.selection
            .rollback
            .as_ref()
            .or(self.plan.rollback.as_ref())
            .filter(|r| r.enabled)
    }

    /// The same target, asking for `version` instead and copying no data:
    /// what a rolled-back switch keeps the host on.
    pub fn back_to(&self, version: &str) -> Target {
        let mut t = self.clone();
        t.selection.active_version = version.to_string();
        t.selection.sync_on_switch = false;
        t
    }

    /// The selection's generation, or outside Kubernetes a short hash of
    /// plan and selection: a changed spec is a new attempt.
    pub fn generation_key(&self) -> String {
        match self.generation {
            Some(g) => g.to_string(),
            None => short_digest(&(&self.plan, &self.selection)),
        }
    }

    /// The generation key and a digest of the plan: what a spec answers to
    /// under Kubernetes too, where an edit of the PortPlan alone does not
    /// move the selection's generation.
    pub fn spec_key(&self) -> String {
        format!("{}/{}", self.generation_key(), short_digest(&self.plan))
    }

    /// Identifies one switch of one spec from `from`.
    pub fn switch_key(&self, from: &str) -> String {
        format!(
            "{}/{from}->{}/{}",
            self.plan_name,
            self.selection.active_version,
            self.generation_key()
        )
    }

    /// The deterministic name of the DataSync a switch from `from` creates:
    /// selection, from, to and generation, as a DNS label (at most 63
    /// characters).
    pub fn datasync_name(&self, from: &str) -> String {
        let generation = self.generation_key();
        let raw = format!(
            "{}-{from}-to-{}",
            self.selection_name, self.selection.active_version
        );
        let mut name: String = raw
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        name.truncate(62 - generation.len());
        format!("{}-{generation}", name.trim_matches('-'))
    }

    /// The stop timeout the plan gives a container, wherever it is in the plan.
    pub fn stop_timeout(&self, container: &str) -> u32 {
        self.plan
            .infrastructure
            .iter()
            .chain(self.plan.versions.iter().flat_map(|v| v.containers.iter()))
            .find(|c| c.name == container)
            .map_or(DEFAULT_STOP_TIMEOUT_SECONDS, |c| c.stop_timeout_seconds())
    }

    /// Whether `container` is a name the plan uses.
    pub fn plans_container(&self, container: &str) -> bool {
        self.plan
            .infrastructure
            .iter()
            .chain(self.plan.versions.iter().flat_map(|v| v.containers.iter()))
            .any(|c| c.name == container)
    }
}

/// Ten hex digits of the SHA-256 of `value` as JSON.
fn short_digest(value: &impl serde::Serialize) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .take(5)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(selection: &str, generation: Option<i64>) -> Target {
        Target {
            plan_name: "p".into(),
            plan: serde_json::from_value(serde_json::json!({
                "infrastructure": [{"name": "db", "image": "db:1", "stopTimeoutSeconds": 30}],
                "versions": [{"name": "a"}, {"name": "b"}]
            }))
            .unwrap_or_else(|e| panic!("{e}")),
            selection_name: selection.into(),
            selection: serde_json::from_value(
                serde_json::json!({"planRef": "p", "activeVersion": "b"}),
            )
            .unwrap_or_else(|e| panic!("{e}")),
            generation,
            owner: None,
            secrets: SecretValues::Local,
            adopt: false,
        }
    }

    #[test]
    fn datasync_names_are_dns_labels_and_change_with_the_spec() {
        let t = target("Host.One", Some(7));
        assert_eq!(t.datasync_name("a"), "host-one-a-to-b-7");
        assert!(turnout_crds::names::check_datasync_name(&t.datasync_name("a")).is_ok());
        let long = target(&"x".repeat(100), None);
        let name = long.datasync_name("a");
        assert!(name.len() <= 63, "{name}");
        assert_ne!(name, target(&"x".repeat(100), Some(1)).datasync_name("a"));
    }

    #[test]
    fn stop_timeouts_come_from_the_plan() {
        let t = target("h", None);
        assert_eq!(t.stop_timeout("db"), 30);
        assert_eq!(t.stop_timeout("unknown"), DEFAULT_STOP_TIMEOUT_SECONDS);
    }

    #[test]
    fn secret_values_never_print() {
        let mut m = SecretMap::new();
        m.insert(("s".into(), "k".into()), b"hunter2".to_vec());
        let shown = format!("{:?}", SecretValues::Cluster(Arc::new(m)));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
