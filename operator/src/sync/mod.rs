//! Data sync between versions: each data binding of the source version is
//! copied into the binding of the same name in the target version.
//!
//! Nothing is lost: the target is backed up before it is overwritten, the
//! data is loaded into a staging database and swapped in only after its row
//! counts and checksums match the source, and turnout refuses to overwrite
//! a target that was written to since it last synced it.
//!
//! [`plan_steps`] is pure; [`run::run_sync`] executes through
//! [`crate::runtime::stream::DataExec`].

pub mod backup;
pub mod copy;
pub mod db;
pub mod engines;
pub mod mysql;
mod plan;
pub mod postgres;
pub mod record;
pub mod redis;
pub mod restore;
pub mod run;
pub mod service;
pub mod store;

use serde::Serialize;
use turnout_crds::plan::{Engine, SecretSource, Stage};

use crate::runtime::RuntimeError;

pub use plan::{check_ours, check_promotion, plan_steps, plan_steps_between};

/// Why a sync (or one of its steps) failed. Messages never hold a secret.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("version {0:?} is not in the plan")]
    UnknownVersion(String),
    #[error("data binding {binding}: {message}")]
    Unsupported { binding: String, message: String },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{what} failed (exit {code}): {stderr}")]
    Command {
        what: String,
        code: i64,
        stderr: String,
    },
    #[error(
        "the copy of {target} does not match its source {source_db}: {detail}; the target was left as it was"
    )]
    Mismatch {
        source_db: String,
        target: String,
        detail: String,
    },
    #[error(
        "{target} was written to since turnout last synced it (checksum {now}, turnout wrote {recorded} from {from} at {at}); refusing to overwrite it. Set allowOverwriteNewer: true (or --allow-overwrite-newer) if that is intended"
    )]
    TargetChanged {
        target: String,
        now: String,
        recorded: String,
        from: String,
        at: String,
    },
    #[error("source {0} does not exist")]
    SourceMissing(String),
    #[error(
        "database {database} holds a {kind} named \"{name}\", which turnout refuses to copy: control characters and the __turnout prefix are not allowed in names it moves; rename it and run the sync again. Nothing was changed"
    )]
    HostileName {
        database: String,
        kind: String,
        name: String,
    },
    #[error(
        "database {database} exists and was not made by turnout; turnout only drops databases it marked as its own. Rename or drop it yourself, then run the sync again"
    )]
    NotOurs { database: String },
    #[error(
        "container {container} {found}; a sync only runs commands in containers turnout runs for plan {plan}. Converge the plan first (turnout apply), or fix the data binding"
    )]
    ForeignContainer {
        container: String,
        plan: String,
        found: String,
    },
    #[error("backup of {target}: {message}")]
    Backup { target: String, message: String },
    #[error("secret for {container}: {message}")]
    Secret { container: String, message: String },
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Records(#[from] record::RecordError),
    #[error(
        "copying {from_env} ({from_stage:?}) data into {to_env} ({to_stage:?}) would move data back to an earlier stage; promotion runs dev -> test -> prod. Pass --force (DataSync force: true) if you mean it"
    )]
    Demotion {
        from_env: String,
        from_stage: Stage,
        to_env: String,
        to_stage: Stage,
    },
}

impl SyncError {
    /// A stable name for metrics and condition reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            SyncError::UnknownVersion(_) => "UnknownVersion",
            SyncError::Unsupported { .. } => "Unsupported",
            SyncError::Runtime(e) => e.reason(),
            SyncError::Command { .. } => "CommandFailed",
            SyncError::Mismatch { .. } => "ChecksumMismatch",
            SyncError::TargetChanged { .. } => "TargetChanged",
            SyncError::SourceMissing(_) => "SourceMissing",
            SyncError::HostileName { .. } => "HostileName",
            SyncError::NotOurs { .. } => "NotOurs",
            SyncError::ForeignContainer { .. } => "ForeignContainer",
            SyncError::Backup { .. } => "BackupFailed",
            SyncError::Secret { .. } => "SecretUnavailable",
            SyncError::Io(_) => "IoError",
            SyncError::Records(_) => "IoError",
            SyncError::Demotion { .. } => "PromotionRefused",
        }
    }
}

/// One end of a copy: a database on a container, or a service's own data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// The plan whose container this is: a sync touches only containers
    /// turnout runs for that plan.
    pub plan: String,
    pub container: String,
    /// The engine, for a database binding.
    pub engine: Option<Engine>,
    /// The database, or for a service binding the binding's name.
    pub database: String,
    /// For a service binding: how to run its export and import.
    pub service: Option<ServiceData>,
    /// Where the container's admin password comes from, if it has one.
    #[serde(skip)]
    pub admin: Option<SecretSource>,
}

impl Endpoint {
    pub fn label(&self) -> String {
        format!("{}/{}", self.container, self.database)
    }
}

/// A service's data, moved with the plan's own export and import argv, run
/// as one-off containers of the service's image on its volumes (so the
/// service itself can stay stopped: a quiescent source).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceData {
    pub image: String,
    pub volumes: Vec<turnout_crds::plan::VolumeMount>,
    pub export: Vec<String>,
    pub import: Vec<String>,
}

/// One binding to copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepPlan {
    pub binding: String,
    pub source: Endpoint,
    pub target: Endpoint,
}
