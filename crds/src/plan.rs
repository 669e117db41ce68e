//! `PortPlan`: what can run on the host, and on which ports.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::port::{BindAddress, Port, Protocol};

fn default_true() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What can run on one Docker host: the infrastructure containers shared by
/// every version, and each version's containers with the port ranges they
/// must stay inside.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "turnout.dev",
    version = "v1alpha1",
    kind = "PortPlan",
    namespaced,
    derive = "PartialEq",
    shortname = "pplan",
    doc = "What can run on a Docker host, and on which ports: shared infrastructure and mutually exclusive versions.",
    printcolumn(
        name = "Environment",
        type_ = "string",
        json_path = ".spec.environment.name"
    ),
    printcolumn(
        name = "Stage",
        type_ = "string",
        json_path = ".spec.environment.stage"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortPlanSpec {
    /// The environment this plan describes (e.g. `local`/dev, `test-cloud`/test,
    /// `production`/prod). Data is promoted only towards a later stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,

    /// When true (the default), versions never run together, so the port
    /// ranges of different versions may overlap. When false, every version's
    /// ports must be distinct from every other version's.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub exclusive_versions: bool,

    /// Take over containers of this plan that exist without turnout's
    /// labels (a host built by hand), when their image and mounts match the
    /// plan: the original is stopped and kept under `NAME.pre-turnout`, and
    /// turnout's container takes its place on the same data. Off by default:
    /// such a container blocks the host until it is adopted or removed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub adopt: bool,

    /// How a switch moves between versions: `StopFirst` (the default),
    /// `Overlap` or `Pause`. The last two need versions that share no host
    /// port and no data copied on a switch.
    #[serde(default, skip_serializing_if = "SwitchStrategy::is_default")]
    pub switch_strategy: SwitchStrategy,

    /// Go back to the previous version when a switch does not come up. A
    /// selection's own `rollback` takes precedence. Off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,

    /// Containers shared by every version and always running: the databases
    /// on their standard ports.
    #[serde(default)]
    pub infrastructure: Vec<ContainerSpec>,

    /// The versions of the application; exactly one is active at a time.
    pub versions: Vec<VersionSpec>,

    /// Where turnout posts what happens on the host (switches, blockers,
    /// drift, crash loops); a selection's own sinks follow these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<crate::notify::Notification>,
}

/// How a switch moves from the running version to the selected one.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum SwitchStrategy {
    /// Stop the old version, then start the new one (the default; the only
    /// strategy when versions share ports or a switch copies data).
    #[default]
    StopFirst,
    /// Start the new version while the old one stops: the switch takes the
    /// longer of the two instead of their sum. Versions must share no host
    /// port, and no data may be copied on a switch.
    Overlap,
    /// Warm standby: inactive versions stay created and frozen with the
    /// engine's pause (cgroup freezer); a switch pauses the old version and
    /// unpauses the new one. They keep their memory, and their published
    /// ports accept connections that hang until unpaused. Versions must
    /// share no host port, and no data may be copied on a switch.
    Pause,
}

impl SwitchStrategy {
    pub fn is_default(&self) -> bool {
        *self == SwitchStrategy::StopFirst
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SwitchStrategy::StopFirst => "StopFirst",
            SwitchStrategy::Overlap => "Overlap",
            SwitchStrategy::Pause => "Pause",
        }
    }
}

fn default_deadline() -> u32 {
    120
}

/// Automatic rollback: when the new version does not become ready within
/// the deadline, or one of its containers exits meanwhile, stop it and
/// start the previous version again.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rollback {
    /// Whether a failed switch goes back to the previous version (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Seconds the new version has, from the start of its containers, to
    /// become ready (default 120).
    #[serde(default = "default_deadline")]
    pub progress_deadline_seconds: u32,
    /// Seconds each new container must stay running once ready before the
    /// switch counts as done; one that exits meanwhile rolls the switch
    /// back (default 0: ready is enough).
    #[serde(default)]
    pub min_ready_seconds: u32,
}

/// A named environment and its promotion stage.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Environment {
    /// A short name for the environment, e.g. `local`, `test-cloud`, `production`.
    pub name: String,
    /// The promotion stage: data flows dev -> test -> prod, never back unless forced.
    pub stage: Stage,
}

/// A promotion stage; later stages are more precious.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Dev,
    Test,
    Prod,
}

/// One version of the application: its port ranges, containers and data.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionSpec {
    /// The version's name as `activeVersion` selects it, e.g. `future`, `dao`, `blockchain`.
    pub name: String,

    /// Named host port ranges of this version (`services`, `shared`,
    /// `governance`, `contracts`, ...). Every published port of the version's
    /// containers names the range it lies in.
    #[serde(default)]
    pub ranges: Vec<PortRange>,

    /// The version's containers, started when the version is active and
    /// stopped when another version is selected.
    #[serde(default)]
    pub containers: Vec<ContainerSpec>,

    /// The data that belongs to this version, copied between versions on a
    /// switch. Bindings of two versions with the same `name` are copied into
    /// each other.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataBinding>,
}

/// An inclusive range of host ports, e.g. `services` 8000-8099.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortRange {
    /// The range's name, unique within its version.
    pub name: String,
    /// First host port of the range.
    pub from: Port,
    /// Last host port of the range (inclusive).
    pub to: Port,
}

impl PortRange {
    pub fn contains(&self, port: Port) -> bool {
        self.from <= port && port <= self.to
    }

    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.from <= other.to && other.from <= self.to
    }
}

/// A container turnout runs: the same fields for infrastructure and versions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerSpec {
    /// The Docker container name, unique on the host: letters, digits, `_`,
    /// `.` and `-`, starting with a letter or digit, at most 63 characters.
    pub name: String,

    /// The image to run, e.g. `mysql:8.0`. It must be present on the host (or pullable).
    pub image: String,

    /// The argv to run instead of the image's default command. An array, never a shell string.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,

    /// Plain environment variables. Never put a secret here: a container's
    /// environment is visible to anyone who can `docker inspect` it. Use `secrets`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,

    /// Secrets delivered to the container as read-only files (e.g. for
    /// `MYSQL_ROOT_PASSWORD_FILE`), never as environment or argv.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretFile>,

    /// Host ports published by the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PublishedPort>,

    /// Named Docker volumes mounted into the container (an anonymous
    /// volume is named by its id). turnout never deletes a volume.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeMount>,

    /// Host paths mounted into the container. System paths, the Docker
    /// socket and turnout's own directories are refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binds: Vec<BindMount>,

    /// Take over a container of this name that exists without turnout's
    /// labels (see the plan's `adopt`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub adopt: bool,

    /// How turnout knows the container is ready to serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,

    /// Seconds to wait after SIGTERM before the container is killed (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout_seconds: Option<u32>,

    /// The database engine in the container, which enables turnout's
    /// built-in sync recipes for data bindings on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Engine>,

    /// The name of one of `secrets` holding the engine's admin password.
    /// Sync recipes hand it to the database client as its environment
    /// (e.g. MYSQL_PWD), never as an argument.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_secret: Option<String>,
}

/// Seconds a container gets to stop before it is killed, when the plan says nothing.
pub const DEFAULT_STOP_TIMEOUT_SECONDS: u32 = 10;

impl ContainerSpec {
    pub fn stop_timeout_seconds(&self) -> u32 {
        self.stop_timeout_seconds
            .unwrap_or(DEFAULT_STOP_TIMEOUT_SECONDS)
    }
}

/// A plain (non-secret) environment variable.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Variable value, visible in `docker inspect`.
    pub value: String,
}

/// A secret written to a read-only file inside the container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretFile {
    /// The secret's name, unique within the container.
    pub name: String,
    /// Absolute path of the file inside the container, e.g. `/run/secrets/mysql-root`.
    pub path: String,
    /// Where the value comes from.
    pub from: SecretSource,
}

/// Where a secret's value comes from. Exactly one field is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretSource {
    /// Standalone mode: the name of an environment variable of the turnout process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Standalone mode: a file on the host holding the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Kubernetes: a key of a Secret in the selection's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeyRef>,
}

/// A key of a Kubernetes Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key within the Secret.
    pub key: String,
}

/// A host port published by a container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishedPort {
    /// The port on the host.
    pub host: Port,
    /// The port inside the container.
    pub container: Port,
    /// `tcp` (default) or `udp`.
    #[serde(default, skip_serializing_if = "is_default_protocol")]
    pub protocol: Protocol,
    /// The host address to publish on (IPv4 or IPv6). Empty: every address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_address: Option<BindAddress>,
    /// For a version's container: the name of the version's range this port must lie in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
}

fn is_default_protocol(p: &Protocol) -> bool {
    *p == Protocol::Tcp
}

/// A named volume mounted into a container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeMount {
    /// The Docker volume's name; created if missing, never deleted.
    pub name: String,
    /// Absolute path inside the container.
    pub path: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
}

/// A host path mounted into a container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BindMount {
    /// Absolute path on the host.
    pub host: String,
    /// Absolute path inside the container.
    pub path: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
}

/// A readiness probe. Exactly one of `tcp`, `http`, `exec` is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    /// Ready when a TCP connection to this published container port succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
    /// Ready when an HTTP GET on this published container port answers 2xx or 3xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    /// Ready when this argv, run inside the container, exits 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecProbe>,
    /// Seconds between attempts (default: four attempts a second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<u32>,
    /// Seconds the container has to become ready after it starts before the
    /// switch is marked Degraded (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

/// A TCP readiness check.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpProbe {
    /// A container port the container publishes.
    pub port: Port,
}

/// An HTTP readiness check.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpProbe {
    /// A container port the container publishes.
    pub port: Port,
    /// The path to GET, e.g. `/healthz` (default `/`).
    #[serde(default = "default_http_path")]
    pub path: String,
}

fn default_http_path() -> String {
    "/".to_string()
}

/// A readiness command run inside the container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecProbe {
    /// The argv to run; an array, never a shell string.
    pub command: Vec<String>,
}

/// A database engine turnout knows how to copy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Mysql,
    Mariadb,
    Postgres,
    Redis,
    Neo4j,
    Elasticsearch,
    Weaviate,
}

impl Engine {
    /// Whether turnout has a built-in sync recipe for this engine.
    pub fn has_builtin_sync(self) -> bool {
        matches!(
            self,
            Engine::Mysql | Engine::Mariadb | Engine::Postgres | Engine::Redis
        )
    }
}

/// Data that belongs to a version: a database on an infrastructure
/// container, or a container's own data moved with export/import commands.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataBinding {
    /// The binding's name; bindings of the same name in two versions are copied into each other.
    pub name: String,
    /// The container holding the data (an infrastructure container for a
    /// database, or one of this version's containers for export/import).
    pub container: String,
    /// The database on that container, e.g. `future_users` (or a Redis db index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// argv that writes the data to stdout (for services with data of their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<Vec<String>>,
    /// argv that reads the data from stdin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<Vec<String>>,
}

impl PortPlanSpec {
    /// The version of that name.
    pub fn version(&self, name: &str) -> Option<&VersionSpec> {
        self.versions.iter().find(|v| v.name == name)
    }

    /// The version names, in plan order.
    pub fn version_names(&self) -> Vec<&str> {
        self.versions.iter().map(|v| v.name.as_str()).collect()
    }
}
