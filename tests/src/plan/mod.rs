//! A builder for the documents turnout reads — a PortPlan and the
//! VersionSelections that point at it — so that a test says what its plan
//! holds instead of spelling YAML:
//!
//! ```
//! use turnout_e2e::plan::{PlanBuilder, Probe, container};
//!
//! let yaml = PlanBuilder::new("shop")
//!     .infrastructure(container("shop-db", "turnout/busybox:demo").port(25000, 8080))
//!     .version("future", |v| {
//!         v.range("services", 25010, 25019).container(
//!             container("shop-web", "turnout/busybox:demo")
//!                 .port_in(25010, 8080, "services")
//!                 .readiness(Probe::http(8080)),
//!         )
//!     })
//!     .select("future")
//!     .yaml();
//! assert!(yaml.contains("activeVersion: future"));
//! ```
//!
//! Everything is plain JSON underneath ([`PlanBuilder::spec`]), so a test
//! that needs a field the builder has no method for sets it with `set`.
//! The operator's pipeline tests use the same builder for their specs.

mod parts;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value, json};

pub use parts::{Container, Probe, Selection, Version, container};

const API_VERSION: &str = "turnout.dev/v1alpha1";

/// A PortPlan under construction, and the selections that go with it.
#[derive(Clone, Debug)]
pub struct PlanBuilder {
    name: String,
    namespace: Option<String>,
    spec: Map<String, Value>,
    infrastructure: Vec<Container>,
    versions: Vec<Version>,
    selections: Vec<Selection>,
}

impl PlanBuilder {
    /// An empty plan called `name`.
    pub fn new(name: &str) -> PlanBuilder {
        PlanBuilder {
            name: name.to_string(),
            namespace: None,
            spec: Map::new(),
            infrastructure: Vec::new(),
            versions: Vec::new(),
            selections: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plan's namespace (and that of selections added after this).
    pub fn namespace(mut self, namespace: &str) -> PlanBuilder {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// `spec.environment`: the promotion guard's name and stage.
    pub fn environment(self, name: &str, stage: &str) -> PlanBuilder {
        self.set("environment", json!({"name": name, "stage": stage}))
    }

    /// Sets any field of the spec.
    pub fn set(mut self, field: &str, value: Value) -> PlanBuilder {
        self.spec.insert(field.to_string(), value);
        self
    }

    /// Adds a container that runs under every version.
    pub fn infrastructure(mut self, c: Container) -> PlanBuilder {
        self.infrastructure.push(c);
        self
    }

    /// Adds version `name`, shaped by `f`.
    pub fn version(mut self, name: &str, f: impl FnOnce(Version) -> Version) -> PlanBuilder {
        self.versions.push(f(Version::new(name)));
        self
    }

    /// Changes the container called `name`, wherever it is in the plan.
    /// Panics when the plan has none: the test would be testing nothing.
    pub fn edit(mut self, name: &str, f: impl FnOnce(Container) -> Container) -> PlanBuilder {
        let slot = self
            .infrastructure
            .iter_mut()
            .chain(
                self.versions
                    .iter_mut()
                    .flat_map(|v| v.containers.iter_mut()),
            )
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("the plan {} has no container {name}", self.name));
        *slot = f(slot.clone());
        self
    }

    /// Changes version `name`. Panics when the plan has none.
    pub fn edit_version(mut self, name: &str, f: impl FnOnce(Version) -> Version) -> PlanBuilder {
        let slot = self
            .versions
            .iter_mut()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("the plan {} has no version {name}", self.name));
        *slot = f(slot.clone());
        self
    }

    /// Adds the VersionSelection `host` of this plan, selecting `active`.
    pub fn select(self, active: &str) -> PlanBuilder {
        let s = Selection::new("host", &self.name, active);
        self.selection(s)
    }

    /// Adds a VersionSelection (in the plan's namespace unless it has one).
    pub fn selection(mut self, mut s: Selection) -> PlanBuilder {
        if let (None, Some(ns)) = (&s.namespace, &self.namespace) {
            s.namespace = Some(ns.clone());
        }
        self.selections.push(s);
        self
    }

    /// The PortPlan's spec.
    pub fn spec(&self) -> Value {
        let mut spec = self.spec.clone();
        if !self.infrastructure.is_empty() {
            spec.insert(
                "infrastructure".into(),
                self.infrastructure.iter().map(|c| c.0.clone()).collect(),
            );
        }
        spec.insert(
            "versions".into(),
            self.versions.iter().map(Version::to_json).collect(),
        );
        Value::Object(spec)
    }

    /// The PortPlan object: apiVersion, kind, metadata and spec.
    pub fn port_plan(&self) -> Value {
        json!({
            "apiVersion": API_VERSION, "kind": "PortPlan",
            "metadata": metadata(&self.name, self.namespace.as_deref(), &Map::new()),
            "spec": self.spec(),
        })
    }

    /// The PortPlan, then each selection.
    pub fn documents(&self) -> Vec<Value> {
        std::iter::once(self.port_plan())
            .chain(self.selections.iter().map(Selection::to_json))
            .collect()
    }

    /// The documents as one multi-document YAML file.
    pub fn yaml(&self) -> String {
        to_yaml(&self.documents())
    }
}

/// Documents as one multi-document YAML file.
pub fn to_yaml(documents: &[Value]) -> String {
    let ordered: Vec<Ordered> = documents.iter().map(Ordered).collect();
    serde_saphyr::to_string_multiple(&ordered).expect("JSON values serialize as YAML")
}

/// A value written with the keys a reader looks for first (`apiVersion`,
/// `kind`, `metadata`, `name`) first; the rest in their usual order.
struct Ordered<'a>(&'a Value);

const FIRST_KEYS: [&str; 4] = ["apiVersion", "kind", "metadata", "name"];

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                let first = FIRST_KEYS.iter().filter_map(|k| m.get_key_value(*k));
                let rest = m.iter().filter(|(k, _)| !FIRST_KEYS.contains(&k.as_str()));
                for (k, v) in first.chain(rest) {
                    map.serialize_entry(k, &Ordered(v))?;
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&Ordered(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

fn metadata(name: &str, namespace: Option<&str>, labels: &Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        m.insert("namespace".into(), json!(ns));
    }
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels.clone()));
    }
    Value::Object(m)
}
