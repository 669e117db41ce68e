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
pub mod compress;
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
use crate::runtime::stream::Side;

pub use plan::{
    check_ours, check_promotion, check_promotion_between, plan_steps, plan_steps_between,
};

/// Why a sync (or one of its steps) failed. Messages never hold a secret.
/// Each variant's reason (metrics, conditions) is its `strum` name.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
pub enum SyncError {
    #[error("version {version:?} is not in the plan {plan}")]
    UnknownVersion { version: String, plan: String },
    #[error("data binding {binding}: {message}")]
    Unsupported { binding: String, message: String },
    /// A copy between environments whose plans do not both say which
    /// environment they are: the stage rule cannot be applied.
    #[error("{0}")]
    #[strum(serialize = "PromotionRefused")]
    EnvironmentUnnamed(String),
    /// Another environment named as the source could not be read or reached.
    #[error("the source environment: {0}")]
    #[strum(serialize = "SourceUnavailable")]
    Source(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{what} failed (exit {code}): {stderr}")]
    #[strum(serialize = "CommandFailed")]
    Command {
        what: String,
        code: i64,
        stderr: String,
    },
    #[error(
        "the copy of {target} does not match its source {source_db}: {detail}; the target was left as it was"
    )]
    #[strum(serialize = "ChecksumMismatch")]
    Mismatch {
        source_db: String,
        target: String,
        detail: String,
    },
    #[error(
        "{target} was written to since turnout last {how} at {at} (from {from}): {changed}. Refusing to overwrite it: those writes would survive only in a backup. Copy them where they belong first, or set allowOverwriteNewer: true (--allow-overwrite-newer) to overwrite them (the target is backed up first)"
    )]
    TargetChanged {
        target: String,
        changed: String,
        how: String,
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
    #[strum(serialize = "BackupFailed")]
    Backup { target: String, message: String },
    #[error("secret for {container}: {source}")]
    #[strum(serialize = "SecretUnavailable")]
    Secret {
        container: String,
        #[source]
        source: crate::secrets::SecretError,
    },
    #[error("{0}")]
    #[strum(serialize = "IoError")]
    Io(String),
    #[error(transparent)]
    #[strum(serialize = "IoError")]
    Records(#[from] record::RecordError),
    #[error(
        "copying {from_env} ({from_stage:?}) data into {to_env} ({to_stage:?}) would move data back to an earlier stage; promotion runs dev -> test -> prod. Pass --force (DataSync force: true) if you mean it"
    )]
    #[strum(serialize = "PromotionRefused")]
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
            SyncError::Runtime(e) => e.reason(),
            other => other.into(),
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
    /// The engine the container is on: the one turnout acts on, or (a copy
    /// from another environment's host) the source's.
    #[serde(skip)]
    pub side: Side,
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
    /// Where the source's data lives: its environment, engine and version.
    pub origin: Origin,
}

impl StepPlan {
    /// The key of the target's record: the target is always on the engine
    /// this turnout acts on, whose records these are.
    pub fn target_key(&self) -> String {
        self.target.label()
    }

    /// The key of the source's record: with the identity of its engine
    /// when that is another one (see [`record::key`]).
    pub fn source_key(&self) -> String {
        record::key(self.origin.engine.as_deref(), &self.source.label())
    }

    /// The source is on another engine (another environment's host),
    /// known by `identity` (`EngineAddress::identity`): its commands run
    /// there.
    pub fn from_engine(&mut self, identity: String) {
        self.source.side = Side::Source;
        self.origin.engine = Some(identity);
    }
}

/// The source side of a copy, for lineage and for the records' keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The source plan's environment, when it names one.
    pub environment: Option<String>,
    /// The source's engine, when it is not the one turnout acts on.
    pub engine: Option<String>,
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_stable_names() {
        let cases: Vec<(SyncError, &str)> = vec![
            (
                SyncError::UnknownVersion {
                    version: "x".into(),
                    plan: "p".into(),
                },
                "UnknownVersion",
            ),
            (
                SyncError::Command {
                    what: "w".into(),
                    code: 1,
                    stderr: String::new(),
                },
                "CommandFailed",
            ),
            (
                SyncError::NotOurs {
                    database: "d".into(),
                },
                "NotOurs",
            ),
            (SyncError::Io("x".into()), "IoError"),
            (
                SyncError::Runtime(RuntimeError::unavailable("away")),
                "EngineUnavailable",
            ),
            (
                SyncError::Runtime(RuntimeError::container("c", "no")),
                "RuntimeError",
            ),
        ];
        for (e, reason) in cases {
            assert_eq!(e.reason(), reason, "{e}");
        }
    }

    #[test]
    fn a_cause_is_kept_for_the_reader() {
        use std::error::Error as _;
        let io = std::io::Error::other("disk on fire");
        let e = SyncError::Runtime(RuntimeError::container("db", io));
        let mut chain = Vec::new();
        let mut next = e.source();
        while let Some(s) = next {
            chain.push(s.to_string());
            next = s.source();
        }
        assert!(chain.iter().any(|s| s == "disk on fire"), "{chain:?}");
    }
}
