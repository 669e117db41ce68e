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

pub mod db;
pub mod engines;
pub mod mysql;
pub mod postgres;
pub mod record;
pub mod run;
pub mod store;

use serde::Serialize;
use turnout_crds::plan::{DataBinding, Engine, PortPlanSpec, SecretSource};

use crate::runtime::RuntimeError;

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
    #[error("backup of {target}: {message}")]
    Backup { target: String, message: String },
    #[error("secret for {container}: {message}")]
    Secret { container: String, message: String },
    #[error("{0}")]
    Io(String),
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
            SyncError::Backup { .. } => "BackupFailed",
            SyncError::Secret { .. } => "SecretUnavailable",
            SyncError::Io(_) => "IoError",
        }
    }
}

/// One end of a copy: a database on a container, or a service's own data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Endpoint {
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

fn endpoint(plan: &PortPlanSpec, b: &DataBinding) -> Result<Endpoint, SyncError> {
    let unsupported = |message: String| SyncError::Unsupported {
        binding: b.name.clone(),
        message,
    };
    if let (Some(export), Some(import)) = (&b.export, &b.import) {
        let c = plan
            .infrastructure
            .iter()
            .chain(plan.versions.iter().flat_map(|v| v.containers.iter()))
            .find(|c| c.name == b.container)
            .ok_or_else(|| unsupported(format!("{} is not in the plan", b.container)))?;
        return Ok(Endpoint {
            container: c.name.clone(),
            engine: None,
            database: b.name.clone(),
            service: Some(ServiceData {
                image: c.image.clone(),
                volumes: c.volumes.clone(),
                export: export.clone(),
                import: import.clone(),
            }),
            admin: None,
        });
    }
    let Some(database) = &b.database else {
        return Err(unsupported(
            "names neither a database nor export/import commands".into(),
        ));
    };
    let c = plan
        .infrastructure
        .iter()
        .find(|c| c.name == b.container)
        .ok_or_else(|| {
            unsupported(format!(
                "{} is not an infrastructure container",
                b.container
            ))
        })?;
    let engine = c
        .engine
        .ok_or_else(|| unsupported(format!("{} has no engine", c.name)))?;
    if !matches!(engine, Engine::Mysql | Engine::Mariadb | Engine::Postgres) {
        return Err(unsupported(format!(
            "the {engine:?} recipe is not built yet; MySQL, MariaDB and PostgreSQL are"
        )));
    }
    Ok(Endpoint {
        container: c.name.clone(),
        engine: Some(engine),
        database: database.clone(),
        service: None,
        admin: c
            .admin_secret
            .as_ref()
            .and_then(|name| c.secrets.iter().find(|s| &s.name == name))
            .map(|s| s.from.clone()),
    })
}

/// The copies a sync from `from` to `to` makes: bindings present in both
/// versions under the same name. Pure.
pub fn plan_steps(plan: &PortPlanSpec, from: &str, to: &str) -> Result<Vec<StepPlan>, SyncError> {
    let source = plan
        .version(from)
        .ok_or_else(|| SyncError::UnknownVersion(from.to_string()))?;
    let target = plan
        .version(to)
        .ok_or_else(|| SyncError::UnknownVersion(to.to_string()))?;
    let mut steps = Vec::new();
    for sb in &source.data {
        let Some(tb) = target.data.iter().find(|t| t.name == sb.name) else {
            continue;
        };
        let (source, target) = (endpoint(plan, sb)?, endpoint(plan, tb)?);
        if source.service.is_some() != target.service.is_some() {
            return Err(SyncError::Unsupported {
                binding: sb.name.clone(),
                message: format!(
                    "{from} binds it as {} and {to} as {}; both must be databases or both services",
                    if source.service.is_some() {
                        "a service"
                    } else {
                        "a database"
                    },
                    if target.service.is_some() {
                        "a service"
                    } else {
                        "a database"
                    },
                ),
            });
        }
        steps.push(StepPlan {
            binding: sb.name.clone(),
            source,
            target,
        });
    }
    Ok(steps)
}
