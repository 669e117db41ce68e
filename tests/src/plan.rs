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

use serde_json::{Map, Value, json};

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

/// One container of a plan (infrastructure or a version's).
#[derive(Clone, Debug)]
pub struct Container(Map<String, Value>);

/// A container called `name` running `image`.
pub fn container(name: &str, image: &str) -> Container {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("image".into(), json!(image));
    Container(m)
}

impl Container {
    pub fn name(&self) -> &str {
        self.0.get("name").and_then(Value::as_str).unwrap_or("")
    }

    /// Sets any field of the container.
    pub fn set(mut self, field: &str, value: Value) -> Container {
        self.0.insert(field.to_string(), value);
        self
    }

    fn push(mut self, field: &str, value: Value) -> Container {
        let list = self.0.entry(field).or_insert_with(|| json!([]));
        if let Value::Array(items) = list {
            items.push(value);
        }
        self
    }

    pub fn rename(self, name: &str) -> Container {
        self.set("name", json!(name))
    }

    pub fn image(self, image: &str) -> Container {
        self.set("image", json!(image))
    }

    /// argv replacing the image's command.
    pub fn command(self, argv: &[&str]) -> Container {
        self.set("command", json!(argv))
    }

    pub fn env(self, name: &str, value: &str) -> Container {
        self.push("env", json!({"name": name, "value": value}))
    }

    /// Publishes `host` (tcp, every address) as `container_port`.
    pub fn port(self, host: u16, container_port: u16) -> Container {
        self.push("ports", json!({"host": host, "container": container_port}))
    }

    /// Publishes `host` as `container_port`, in the version's range `range`.
    pub fn port_in(self, host: u16, container_port: u16, range: &str) -> Container {
        self.push(
            "ports",
            json!({"host": host, "container": container_port, "range": range}),
        )
    }

    /// A named volume mounted at `path`.
    pub fn volume(self, name: &str, path: &str) -> Container {
        self.push("volumes", json!({"name": name, "path": path}))
    }

    /// A secret written to `path` in the container, from the file `file`.
    pub fn secret_file(self, name: &str, path: &str, file: &str) -> Container {
        self.secret(name, path, json!({"file": file}))
    }

    /// A secret written to `path` in the container, from the variable `var`.
    pub fn secret_env(self, name: &str, path: &str, var: &str) -> Container {
        self.secret(name, path, json!({"env": var}))
    }

    /// A secret written to `path` in the container, from key `key` of the
    /// Kubernetes Secret `secret`.
    pub fn secret_key(self, name: &str, path: &str, secret: &str, key: &str) -> Container {
        self.secret(
            name,
            path,
            json!({"secretKeyRef": {"name": secret, "key": key}}),
        )
    }

    fn secret(self, name: &str, path: &str, from: Value) -> Container {
        self.push("secrets", json!({"name": name, "path": path, "from": from}))
    }

    pub fn readiness(self, probe: Probe) -> Container {
        self.set("readiness", probe.0)
    }

    pub fn stop_timeout(self, seconds: u32) -> Container {
        self.set("stopTimeoutSeconds", json!(seconds))
    }

    /// A built-in sync engine: `mariadb`, `mysql`, `postgres`, `redis`.
    pub fn engine(self, engine: &str) -> Container {
        self.set("engine", json!(engine))
    }

    /// The secret that holds the engine's administrator password.
    pub fn admin_secret(self, secret: &str) -> Container {
        self.set("adminSecret", json!(secret))
    }
}

/// A readiness probe.
#[derive(Clone, Debug)]
pub struct Probe(Value);

impl Probe {
    /// Accepts TCP connections on the container port.
    pub fn tcp(port: u16) -> Probe {
        Probe(json!({"tcp": {"port": port}}))
    }

    /// Answers HTTP on the container port.
    pub fn http(port: u16) -> Probe {
        Probe(json!({"http": {"port": port}}))
    }

    /// `argv` exits 0 inside the container.
    pub fn exec(argv: &[&str]) -> Probe {
        Probe(json!({"exec": {"command": argv}}))
    }

    /// How long the container may take to get ready.
    pub fn timeout(mut self, seconds: u32) -> Probe {
        self.0["timeoutSeconds"] = json!(seconds);
        self
    }
}

/// One version of a plan.
#[derive(Clone, Debug)]
pub struct Version {
    name: String,
    ranges: Vec<Value>,
    containers: Vec<Container>,
    data: Vec<Value>,
}

impl Version {
    fn new(name: &str) -> Version {
        Version {
            name: name.to_string(),
            ranges: Vec::new(),
            containers: Vec::new(),
            data: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A named host-port range, `from` to `to` inclusive.
    pub fn range(mut self, name: &str, from: u16, to: u16) -> Version {
        self.ranges
            .push(json!({"name": name, "from": from, "to": to}));
        self
    }

    pub fn container(mut self, c: Container) -> Version {
        self.containers.push(c);
        self
    }

    /// Data binding `name`: database `database` on the engine container `on`.
    pub fn database(mut self, name: &str, on: &str, database: &str) -> Version {
        self.data
            .push(json!({"name": name, "container": on, "database": database}));
        self
    }

    /// Data binding `name` of a service's own: `export` prints it in the
    /// container `on`, `import` reads it back.
    pub fn service_data(
        mut self,
        name: &str,
        on: &str,
        export: &[&str],
        import: &[&str],
    ) -> Version {
        self.data
            .push(json!({"name": name, "container": on, "export": export, "import": import}));
        self
    }

    fn to_json(&self) -> Value {
        let mut v = Map::new();
        v.insert("name".into(), json!(self.name));
        if !self.ranges.is_empty() {
            v.insert("ranges".into(), Value::Array(self.ranges.clone()));
        }
        if !self.containers.is_empty() {
            v.insert(
                "containers".into(),
                self.containers.iter().map(|c| c.0.clone()).collect(),
            );
        }
        if !self.data.is_empty() {
            v.insert("data".into(), Value::Array(self.data.clone()));
        }
        Value::Object(v)
    }
}

/// A VersionSelection.
#[derive(Clone, Debug)]
pub struct Selection {
    name: String,
    namespace: Option<String>,
    labels: Map<String, Value>,
    spec: Map<String, Value>,
}

impl Selection {
    /// Selection `name` of plan `plan`, selecting `active`.
    pub fn new(name: &str, plan: &str, active: &str) -> Selection {
        let mut spec = Map::new();
        spec.insert("planRef".into(), json!(plan));
        spec.insert("activeVersion".into(), json!(active));
        Selection {
            name: name.to_string(),
            namespace: None,
            labels: Map::new(),
            spec,
        }
    }

    pub fn namespace(mut self, namespace: &str) -> Selection {
        self.namespace = Some(namespace.to_string());
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Selection {
        self.labels.insert(key.to_string(), json!(value));
        self
    }

    /// `syncOnSwitch`: whether a switch copies the data bindings.
    pub fn sync_on_switch(self, sync: bool) -> Selection {
        self.set("syncOnSwitch", json!(sync))
    }

    /// Sets any field of the spec (`paused`, `onDelete`, ...).
    pub fn set(mut self, field: &str, value: Value) -> Selection {
        self.spec.insert(field.to_string(), value);
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "apiVersion": API_VERSION, "kind": "VersionSelection",
            "metadata": metadata(&self.name, self.namespace.as_deref(), &self.labels),
            "spec": Value::Object(self.spec.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The YAML says exactly what the documents say, whatever the strings
    /// look like to a YAML reader (numbers, booleans, nulls, flow markers).
    #[test]
    fn the_yaml_reads_back_as_the_documents() {
        let tricky = [
            "8080",
            "-f",
            "true",
            "yes",
            "no",
            "null",
            "~",
            "",
            "a: b",
            "- x",
            "[x]",
            "{x}",
            "#x",
            "x #y",
            "&a",
            "*a",
            "!t",
            "|",
            ">",
            "@x",
            "`x`",
            "'q'",
            "\"q\"",
            "0x1F",
            "1e3",
            ".inf",
            "2024-01-01",
            "a\nb",
            "\ttab",
            " lead",
            "trail ",
        ];
        let plan = PlanBuilder::new("p")
            .environment("dev", "dev")
            .infrastructure(container("db", "img:1").command(&tricky).env("K", "007"))
            .version("v", |v| {
                v.range("services", 1, 2)
                    .container(container("c", "img").port_in(1, 80, "services"))
                    .service_data("d", "c", &["sh", "-c", "cat > /x && mv /x /y"], &tricky)
            })
            .selection(Selection::new("s", "p", "v").sync_on_switch(false));
        let yaml = plan.yaml();
        let back: Vec<Value> = serde_saphyr::from_multiple(&yaml).expect("the YAML parses");
        assert_eq!(back, plan.documents(), "{yaml}");
    }

    #[test]
    fn edit_changes_the_named_container_and_only_it() {
        let plan = PlanBuilder::new("p")
            .infrastructure(container("db", "db:1"))
            .version("a", |v| v.container(container("web", "web:1")))
            .edit("web", |c| c.image("web:2"));
        let spec = plan.spec();
        assert_eq!(spec["versions"][0]["containers"][0]["image"], "web:2");
        assert_eq!(spec["infrastructure"][0]["image"], "db:1");
    }

    #[test]
    #[should_panic(expected = "has no container nope")]
    fn editing_a_container_the_plan_lacks_fails_the_test() {
        let _ = PlanBuilder::new("p").edit("nope", |c| c);
    }
}
