//! The container runtime: the small surface the reconcile needs from a
//! container engine. [`docker::DockerRuntime`] implements it with bollard;
//! [`memory::MemoryRuntime`] implements it in memory for pipeline tests.

pub mod docker;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod settle;
pub mod stream;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

use futures::stream::BoxStream;
use turnout_crds::plan::{BindMount, PublishedPort, VolumeMount};

use crate::core::DesiredContainer;
use crate::core::model::ObservedContainer;

/// The cause an error keeps: the engine's own error, or a sentence of
/// turnout's when there is none.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a runtime call failed. Each variant's reason (for metrics and
/// conditions) is its `strum` name.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
pub enum RuntimeError {
    /// The engine cannot be reached (not running, restarting, socket missing).
    #[error("the container engine is unreachable: {source}; is dockerd running?")]
    #[strum(serialize = "EngineUnavailable")]
    Unavailable {
        #[source]
        source: Cause,
    },
    /// The engine address cannot be used; nothing was contacted.
    #[error(transparent)]
    Address(#[from] docker::address::AddressError),
    /// A call about one container failed.
    #[error("container {container}: {source}")]
    #[strum(serialize = "RuntimeError")]
    Container {
        container: String,
        #[source]
        source: Cause,
    },
    /// A command in a container did not finish (or stream) in time.
    #[error(
        "container {container}: {what} within {seconds}s, so turnout gave up on it; check the container's load and logs, or raise the timeout"
    )]
    #[strum(serialize = "Timeout")]
    TimedOut {
        container: String,
        what: String,
        seconds: u64,
    },
}

impl RuntimeError {
    /// A stable name for metrics labels and condition reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            RuntimeError::Address(e) => e.reason(),
            other => other.into(),
        }
    }

    /// The engine is away, for `cause`.
    pub fn unavailable(cause: impl Into<Cause>) -> RuntimeError {
        RuntimeError::Unavailable {
            source: cause.into(),
        }
    }

    pub fn timed_out(container: &str, what: &str, limit: std::time::Duration) -> RuntimeError {
        RuntimeError::TimedOut {
            container: container.to_string(),
            what: what.to_string(),
            seconds: limit.as_secs(),
        }
    }

    /// A call about `container` failed, for `cause`.
    pub fn container(container: &str, cause: impl Into<Cause>) -> RuntimeError {
        RuntimeError::Container {
            container: container.to_string(),
            source: cause.into(),
        }
    }
}

/// Everything needed to create one container.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerConfig {
    pub name: String,
    pub image: String,
    /// argv replacing the image's default command; empty keeps the image's.
    pub command: Vec<String>,
    /// Plain environment only; secrets travel as files.
    pub env: Vec<(String, String)>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PublishedPort>,
    pub volumes: Vec<VolumeMount>,
    /// Host paths the plan mounts (checked against the dangerous ones by validation).
    pub binds: Vec<BindMount>,
    /// Host files bind-mounted read-only: (host path, path in the container).
    pub secret_files: Vec<(PathBuf, String)>,
    pub stop_timeout_seconds: u32,
}

impl ContainerConfig {
    /// The config of a desired container, with its secrets already written to `secret_files`.
    pub fn of(desired: &DesiredContainer, secret_files: Vec<(PathBuf, String)>) -> ContainerConfig {
        let spec = &desired.spec;
        ContainerConfig {
            name: spec.name.clone(),
            image: spec.image.clone(),
            command: spec.command.clone(),
            env: spec
                .env
                .iter()
                .map(|e| (e.name.clone(), e.value.clone()))
                .collect(),
            labels: desired.labels(),
            ports: spec.ports.clone(),
            volumes: spec.volumes.clone(),
            binds: spec.binds.clone(),
            secret_files,
            stop_timeout_seconds: spec.stop_timeout_seconds(),
        }
    }
}

/// What an exec printed and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i64,
    /// stdout and stderr, interleaved, cut at [`EXEC_OUTPUT_LIMIT`] bytes.
    pub output: Vec<u8>,
}

/// How much of a container's log tail is read.
pub const LOG_TAIL_LIMIT: usize = 4 * 1024;

/// How much of an exec's output is kept (probes only need a hint).
pub const EXEC_OUTPUT_LIMIT: usize = 16 * 1024;

/// Something happened to a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeEvent {
    pub container: String,
    pub action: String,
    /// The plan turnout runs the container for, from its labels (None for
    /// containers turnout did not make).
    pub plan: Option<String>,
}

/// The container events that change what runs: the engine also reports
/// execs, attaches and health checks, which turnout's own data path and
/// probes cause all the time and which change nothing.
pub const LIFECYCLE_ACTIONS: [&str; 11] = [
    "create", "start", "restart", "stop", "die", "kill", "oom", "pause", "unpause", "rename",
    "destroy",
];

/// The calls the reconcile makes. Every method addresses containers by name.
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Every container on the host, running or not, ours or not. One call.
    fn list(&self) -> impl Future<Output = Result<Vec<ObservedContainer>, RuntimeError>> + Send;
    /// The id of the image when it is present locally, None when it is not.
    fn image_id(
        &self,
        image: &str,
    ) -> impl Future<Output = Result<Option<String>, RuntimeError>> + Send;
    /// Pulls the image from its registry; an error says why it could not.
    fn pull(&self, image: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    fn create(
        &self,
        config: &ContainerConfig,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    fn start(&self, name: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// SIGTERM, then SIGKILL after `timeout_seconds`.
    fn stop(
        &self,
        name: &str,
        timeout_seconds: u32,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Freeze a running container (cgroup freezer): it keeps its memory
    /// and ports, and runs nothing until unpaused.
    fn pause(&self, name: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Thaw a paused container.
    fn unpause(&self, name: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// The memory a container uses now, in bytes, when the engine says
    /// (None for a container that is not up).
    fn memory_usage(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<u64>, RuntimeError>> + Send;
    /// Remove a stopped container; its volumes are kept.
    fn remove(&self, name: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Give a container another name (it keeps everything else).
    fn rename(&self, name: &str, to: &str)
    -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Everything the engine knows of a container's configuration and
    /// state, as the engine reports it (kept when a container is adopted).
    fn inspect(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<serde_json::Value, RuntimeError>> + Send;
    /// The last `lines` lines the container wrote (stdout and stderr), at
    /// most [`LOG_TAIL_LIMIT`] bytes of them.
    fn log_tail(
        &self,
        name: &str,
        lines: usize,
    ) -> impl Future<Output = Result<String, RuntimeError>> + Send;
    /// Run argv inside a running container and wait for it.
    fn exec(
        &self,
        name: &str,
        argv: &[String],
    ) -> impl Future<Output = Result<ExecOutput, RuntimeError>> + Send;
    /// Container events, until the engine goes away (the stream then ends or errors).
    fn events(&self) -> BoxStream<'static, Result<RuntimeEvent, RuntimeError>>;
}
