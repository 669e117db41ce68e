//! The parts of a plan: containers and their probes, versions, and the
//! selections that point at the plan.

use serde_json::{Map, Value, json};

use super::{API_VERSION, metadata};

/// One container of a plan (infrastructure or a version's).
#[derive(Clone, Debug)]
pub struct Container(pub(super) Map<String, Value>);

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
    pub(super) name: String,
    ranges: Vec<Value>,
    pub(super) containers: Vec<Container>,
    data: Vec<Value>,
}

impl Version {
    pub(super) fn new(name: &str) -> Version {
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

    pub(super) fn to_json(&self) -> Value {
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
    pub(super) namespace: Option<String>,
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

    pub(super) fn to_json(&self) -> Value {
        json!({
            "apiVersion": API_VERSION, "kind": "VersionSelection",
            "metadata": metadata(&self.name, self.namespace.as_deref(), &self.labels),
            "spec": Value::Object(self.spec.clone()),
        })
    }
}
