//! Commands run inside containers for data work: capture a command's
//! output, or stream one command's stdout into another's stdin (or to and
//! from a file) through the engine's exec API, with bounded memory.
//!
//! Values a command needs that are secret (a database password) travel as
//! the exec's environment, never as argv, and are never logged.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::RuntimeError;

/// A value that must not be shown: Debug and Display print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> SecretValue {
        SecretValue(value.into())
    }

    /// The value itself, for handing to the engine only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A command to run inside a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecSpec {
    /// The running container to exec in, or the name of the job container.
    pub container: String,
    /// The argv; never holds a secret.
    pub argv: Vec<String>,
    /// Environment for this command only.
    pub env: Vec<(String, SecretValue)>,
    /// Run in a one-off container instead of exec'ing in a running one.
    pub job: Option<Job>,
    /// How long the command may take when captured, or sit without
    /// moving a byte when streamed. None: no bound (callers in the data
    /// path always set one).
    pub timeout: Option<Duration>,
    /// Which engine the container is on, when a copy spans two.
    pub side: Side,
}

/// The engine of a command when a copy spans two engines (another
/// environment's host as the source): the one turnout acts on (the
/// target), or the source's. With one engine both are the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    #[default]
    Target,
    Source,
}

/// A one-off container for a data command whose service is stopped: the
/// service's image with the service's named volumes, no network. turnout
/// labels it, waits for it and removes it (never its volumes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub image: String,
    pub volumes: Vec<turnout_crds::plan::VolumeMount>,
}

impl ExecSpec {
    pub fn new(container: &str, argv: impl IntoIterator<Item = impl Into<String>>) -> ExecSpec {
        ExecSpec {
            container: container.to_string(),
            argv: argv.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            job: None,
            timeout: None,
            side: Side::Target,
        }
    }

    /// The command on the engine of `side`.
    pub fn on(mut self, side: Side) -> ExecSpec {
        self.side = side;
        self
    }

    /// Bounds the command (see [`ExecSpec::timeout`]).
    pub fn with_timeout(mut self, timeout: Duration) -> ExecSpec {
        self.timeout = Some(timeout);
        self
    }

    /// The command as a job named `name`, in `image` with `volumes`.
    pub fn as_job(mut self, name: &str, job: Job) -> ExecSpec {
        self.container = name.to_string();
        self.job = Some(job);
        self
    }

    pub fn with_env(mut self, env: Vec<(String, SecretValue)>) -> ExecSpec {
        self.env = env;
        self
    }

    /// The command for messages: argv only (which holds no secret).
    pub fn display(&self) -> String {
        format!("{} in {}", self.argv.join(" "), self.container)
    }
}

/// What a captured command printed and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    /// The start of stderr, for messages.
    pub stderr: String,
    /// stdout was longer than the limit and was cut.
    pub truncated: bool,
}

/// Where streamed bytes come from.
pub enum Source<'a> {
    Exec(&'a ExecSpec),
    Reader(Pin<Box<dyn AsyncRead + Send + 'a>>),
}

/// Where streamed bytes go.
pub enum Sink<'a> {
    Exec(&'a ExecSpec),
    Writer(Pin<Box<dyn AsyncWrite + Send + 'a>>),
}

/// How a stream ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Streamed {
    pub bytes: u64,
    /// Exit code of the source command, when the source was a command.
    pub source_exit: Option<i64>,
    pub sink_exit: Option<i64>,
    pub source_stderr: String,
    pub sink_stderr: String,
}

impl Streamed {
    /// Whether both commands (where there were commands) exited 0.
    pub fn succeeded(&self) -> bool {
        self.source_exit.is_none_or(|c| c == 0) && self.sink_exit.is_none_or(|c| c == 0)
    }
}

/// How much stderr is kept for messages.
pub const STDERR_LIMIT: usize = 8 * 1024;

/// Data commands inside containers. The Docker runtime implements it.
pub trait DataExec: Send + Sync {
    /// Runs a command, with `input` on its stdin when given (then EOF),
    /// and keeps up to `limit` bytes of its stdout. SQL goes this way, not
    /// as an argument: argv is capped by the kernel and shown by `ps`.
    fn capture(
        &self,
        spec: &ExecSpec,
        input: Option<&[u8]>,
        limit: usize,
    ) -> impl Future<Output = Result<Captured, RuntimeError>> + Send;

    /// The labels of container `name` on the engine of `side`, or None
    /// when it does not exist.
    fn labels(
        &self,
        side: Side,
        name: &str,
    ) -> impl Future<
        Output = Result<Option<std::collections::BTreeMap<String, String>>, RuntimeError>,
    > + Send;

    /// Streams `from` into `to`, calling `on_bytes` with the running total.
    /// Memory stays bounded whatever the size of the data.
    fn stream(
        &self,
        from: Source<'_>,
        to: Sink<'_>,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> impl Future<Output = Result<Streamed, RuntimeError>> + Send;
}

/// A data path that can also reach another environment's engine, for a
/// copy whose source runs there: [`ReachOut::with_source`] gives one data
/// path over both (commands of [`Side::Source`] run on the other engine).
pub trait ReachOut: DataExec {
    type Both: DataExec;

    /// The identity of this engine (`EngineAddress::identity`), to tell
    /// when a source names this very engine; None when it has no address.
    fn identity(&self) -> Option<String>;

    fn with_source(
        &self,
        source: crate::runtime::docker::address::EngineAddress,
    ) -> impl Future<Output = Result<Self::Both, RuntimeError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_never_print() {
        let spec = ExecSpec::new("db", ["mariadb"])
            .with_env(vec![("MYSQL_PWD".into(), SecretValue::new("hunter2"))]);
        let shown = format!("{spec:?} {}", spec.display());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
    }
}
