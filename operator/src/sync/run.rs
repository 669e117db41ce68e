//! Executes a sync: its copies one binding after another (databases in
//! [`super::copy`], services' own data in [`super::service`]), a DataSync
//! at most once ([`execute_once`]), and the copy a switch makes
//! ([`EngineSwitchSync`]). A sync killed at any point leaves each target as
//! it was (before the atomic swap) or complete (after it); running it again
//! finishes the job.

use std::path::PathBuf;
use std::time::Instant;

use tracing::info;
use turnout_crds::datasync::{DataSyncStatus, SyncPhase, SyncStep};

use super::db::Timeouts;
use super::store::{StoredSync, SyncStore};
use super::{StepPlan, SyncError};
use crate::runtime::stream::DataExec;
use crate::secrets::SecretResolver;

/// How a sync behaves.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Back up each existing target before it is overwritten.
    pub backup: bool,
    /// Overwrite a target written to since turnout last synced it.
    pub allow_overwrite_newer: bool,
    /// Where backups go: `<dir>/<container>/<database>/<time>.sql`.
    pub backup_dir: PathBuf,
    /// Backups kept per target; older ones are pruned.
    pub keep_backups: usize,
    /// Where the records of what turnout wrote are kept.
    pub state_dir: PathBuf,
    /// How long database commands and streams may take.
    pub timeouts: Timeouts,
    /// Gzip the dump inside the source's container and unzip it inside
    /// the target's: fewer bytes between hosts, some CPU on both.
    pub compress: bool,
}

/// Reports progress of a sync.
pub trait SyncProgress: Send + Sync {
    fn phase(&self, binding: &str, phase: &str);
    fn bytes(&self, binding: &str, total: u64);
    /// Roughly how many bytes the copy will stream (the source's size on
    /// disk), when the engine says: enough for an ETA, not a promise.
    fn expected(&self, _binding: &str, _bytes: u64) {}
}

/// Progress that only logs phases.
pub struct LogSyncProgress;

impl SyncProgress for LogSyncProgress {
    fn phase(&self, binding: &str, phase: &str) {
        info!(binding, phase, "sync");
    }

    fn bytes(&self, _: &str, _: u64) {}
}

/// Runs every step; returns the status of each step done (or attempted)
/// and the first error, which stops the sync.
pub async fn run_sync<R: DataExec, S: SecretResolver>(
    rt: &R,
    secrets: &S,
    steps: &[StepPlan],
    opts: &SyncOptions,
    progress: &dyn SyncProgress,
) -> (Vec<SyncStep>, Result<(), SyncError>) {
    let mut done = Vec::new();
    for step in steps {
        for e in [&step.source, &step.target] {
            if let Err(e) = super::check_ours(rt, e).await {
                return (done, Err(e));
            }
        }
    }
    for step in steps {
        let t0 = Instant::now();
        let mut status = SyncStep {
            binding: step.binding.clone(),
            source: step.source.label(),
            source_environment: step.origin.environment.clone(),
            source_engine: step.origin.engine.clone(),
            target: step.target.label(),
            ..Default::default()
        };
        let r = if step.source.service.is_some() {
            super::service::copy_service(rt, step, opts, progress, &mut status).await
        } else {
            super::copy::copy(rt, secrets, step, opts, progress, &mut status).await
        };
        status.duration_ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
        done.push(status);
        if let Err(e) = r {
            return (done, Err(e));
        }
    }
    (done, Ok(()))
}

/// The DataSync a switch of `target` from `from` makes: always backed up,
/// never over newer data unless the host was told so.
pub fn switch_spec(
    target: &crate::core::target::Target,
    from: &str,
    options: &SyncOptions,
) -> turnout_crds::datasync::DataSyncSpec {
    turnout_crds::datasync::DataSyncSpec {
        plan_ref: target.plan_name.clone(),
        from: from.to_string(),
        to: target.selection.active_version.clone(),
        backup: true,
        allow_overwrite_newer: options.allow_overwrite_newer,
        force: false,
        compress: options.compress,
        source: None,
    }
}

/// `syncOnSwitch` through the engine: the copier the reconciler calls
/// between stopping the old version and starting the new one.
pub struct EngineSwitchSync<R> {
    pub runtime: std::sync::Arc<R>,
    pub options: SyncOptions,
}

impl<R: DataExec + 'static> crate::reconcile::SwitchSync for EngineSwitchSync<R> {
    fn has_data(&self, plan: &turnout_crds::PortPlanSpec, from: &str, to: &str) -> bool {
        super::plan_steps("", plan, from, to).is_ok_and(|s| !s.is_empty())
    }

    fn sync<'a>(
        &'a self,
        name: &'a str,
        target: &'a crate::reconcile::Target,
        from: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Vec<SyncStep>, crate::reconcile::SyncFailure>> {
        Box::pin(async move {
            let spec = switch_spec(target, from, &self.options);
            let stored = execute_once(
                self.runtime.as_ref(),
                &crate::secrets::resolver_of(target),
                &self.options,
                name,
                &target.plan,
                spec,
            )
            .await;
            match stored.status.phase {
                Some(SyncPhase::Succeeded) => Ok(stored.status.steps),
                _ => Err(stored
                    .status
                    .message
                    .unwrap_or_else(|| "the data sync failed".into())
                    .into()),
            }
        })
    }
}

/// The DataSyncs of this host, under the data directory.
pub fn store_of(opts: &SyncOptions) -> SyncStore {
    SyncStore::new(opts.state_dir.join("datasyncs"))
}

/// Runs the DataSync `name` unless it already Succeeded (then it is
/// returned as it was: a DataSync never runs twice). Its status is kept in
/// the store: Running while it runs, then Succeeded or Failed with each step.
pub async fn execute_once<R: DataExec, S: SecretResolver>(
    rt: &R,
    secrets: &S,
    opts: &SyncOptions,
    name: &str,
    plan: &turnout_crds::PortPlanSpec,
    spec: turnout_crds::datasync::DataSyncSpec,
) -> StoredSync {
    // Only `turnout standalone` reads another environment (its plan file and
    // engine); elsewhere such a DataSync fails, saying so, rather than copy
    // a version of this plan instead.
    let source = match &spec.source {
        None => Ok(None),
        Some(_) => Err(SourceProblem::Invalid("a DataSync from another environment (spec.source) is not run by this path; it runs under `turnout standalone` or `turnout run`, or as `turnout sync --source-plan --source-engine`".to_string())),
    };
    execute_once_from(rt, secrets, opts, name, (plan, source), spec).await
}

/// Why another environment could not be used as a DataSync's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceProblem {
    /// Its engine did not answer: the DataSync waits (Pending) and is tried
    /// again, as a connection that dropped for a while comes back.
    Unreachable(String),
    /// Its plan or the DataSync's source fields are wrong: fixed by an edit.
    Invalid(String),
}

impl From<String> for SourceProblem {
    fn from(message: String) -> SourceProblem {
        SourceProblem::Invalid(message)
    }
}

impl From<&str> for SourceProblem {
    fn from(message: &str) -> SourceProblem {
        SourceProblem::Invalid(message.to_string())
    }
}

/// Another environment a DataSync copies from, once read: its plan's name
/// and spec, and its engine's address when that is not the target's.
pub struct SourceEnv {
    pub plan_name: String,
    pub plan: turnout_crds::PortPlanSpec,
    pub engine: Option<String>,
}

/// [`execute_once`] for a DataSync whose source may be another environment
/// (`source`: what reading it gave; an error fails the DataSync, saying
/// why). `rt` must then reach the source's engine too.
pub async fn execute_once_from<R: DataExec, S: SecretResolver>(
    rt: &R,
    secrets: &S,
    opts: &SyncOptions,
    name: &str,
    (plan, source): (
        &turnout_crds::PortPlanSpec,
        Result<Option<SourceEnv>, SourceProblem>,
    ),
    spec: turnout_crds::datasync::DataSyncSpec,
) -> StoredSync {
    let store = store_of(opts);
    if let Some(done) = store
        .get(name)
        .filter(|s| s.status.phase == Some(SyncPhase::Succeeded) && s.spec == spec)
    {
        return done;
    }
    // A source engine that did not answer: wait and try again, nothing run.
    if let Err(SourceProblem::Unreachable(why)) = &source {
        let waiting = StoredSync {
            name: name.to_string(),
            spec: spec.clone(),
            status: DataSyncStatus {
                phase: Some(SyncPhase::Pending),
                message: Some(format!(
                    "[SourceUnavailable] {why}; nothing was copied, turnout tries again"
                )),
                ..Default::default()
            },
        };
        if let Err(e) = store.put(&waiting) {
            tracing::warn!(datasync = name, error = %e, "cannot record the DataSync");
        }
        return waiting;
    }
    let mut stored = StoredSync {
        name: name.to_string(),
        spec: spec.clone(),
        status: DataSyncStatus {
            phase: Some(SyncPhase::Running),
            ..Default::default()
        },
    };
    let persist = |s: &StoredSync| {
        if let Err(e) = store.put(s) {
            tracing::warn!(datasync = name, error = %e, "cannot record the DataSync");
        }
    };
    // Without its record a DataSync could run twice: refuse to begin.
    if let Err(e) = store.put(&stored) {
        stored.status.phase = Some(SyncPhase::Failed);
        stored.status.message = Some(format!(
            "cannot record the DataSync in {}: {e}; nothing was copied",
            store.dir().display()
        ));
        return stored;
    }
    let options = SyncOptions {
        backup: spec.backup,
        allow_overwrite_newer: spec.allow_overwrite_newer,
        compress: spec.compress,
        ..opts.clone()
    };
    let result = match steps_of(&spec, plan, source) {
        Err(e) => Err(e),
        Ok(steps) => {
            let (done, r) = run_sync(rt, secrets, &steps, &options, &LogSyncProgress).await;
            stored.status.steps = done;
            r
        }
    };
    match result {
        Ok(()) => {
            stored.status.phase = Some(SyncPhase::Succeeded);
            stored.status.message = Some(format!(
                "copied {} binding(s) from {} to {}",
                stored.status.steps.len(),
                spec.from,
                spec.to
            ));
        }
        Err(e) => {
            stored.status.phase = Some(SyncPhase::Failed);
            stored.status.message = Some(format!("[{}] {e}", e.reason()));
        }
    }
    persist(&stored);
    stored
}

/// The copies of a DataSync: within its plan, or from another environment
/// when promotion allows it.
fn steps_of(
    spec: &turnout_crds::datasync::DataSyncSpec,
    plan: &turnout_crds::PortPlanSpec,
    source: Result<Option<SourceEnv>, SourceProblem>,
) -> Result<Vec<StepPlan>, SyncError> {
    let source = source.map_err(|p| match p {
        SourceProblem::Unreachable(m) | SourceProblem::Invalid(m) => SyncError::Source(m),
    })?;
    let Some(s) = source else {
        return super::plan_steps(&spec.plan_ref, plan, &spec.from, &spec.to);
    };
    super::check_promotion_between(
        s.plan.environment.as_ref(),
        plan.environment.as_ref(),
        spec.force,
    )?;
    let mut steps = super::plan_steps_between(
        (&s.plan_name, &s.plan, &spec.from),
        (&spec.plan_ref, plan, &spec.to),
    )?;
    if let Some(engine) = s.engine {
        for step in &mut steps {
            step.from_engine(engine.clone());
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::memory::MemoryRuntime;
    use turnout_crds::datasync::{DataSyncSpec, SyncSource};

    fn options(tag: &str) -> SyncOptions {
        let dir = std::env::temp_dir().join(format!("turnout-run-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        SyncOptions {
            backup: true,
            allow_overwrite_newer: false,
            backup_dir: dir.join("backups"),
            keep_backups: 3,
            state_dir: dir,
            timeouts: Timeouts::default(),
            compress: false,
        }
    }

    fn plan() -> turnout_crds::PortPlanSpec {
        serde_json::from_value(serde_json::json!({
            "versions": [
                {"name": "future", "ranges": [], "containers": []},
                {"name": "dao", "ranges": [], "containers": []}
            ]
        }))
        .unwrap()
    }

    /// Where other environments are not read (the operator), a DataSync
    /// naming one fails, saying so, and copies nothing within the plan.
    #[tokio::test]
    async fn a_datasync_from_another_environment_is_not_run_as_a_copy_within_the_plan() {
        let rt = MemoryRuntime::new();
        let spec = DataSyncSpec {
            plan_ref: "shop".into(),
            from: "future".into(),
            to: "dao".into(),
            backup: true,
            allow_overwrite_newer: false,
            force: false,
            compress: false,
            source: Some(SyncSource {
                plan_file: Some("/etc/turnout/local.yaml".into()),
                ..Default::default()
            }),
        };
        let secrets = crate::secrets::LocalSecrets;
        let done = execute_once(&rt, &secrets, &options("src"), "x", &plan(), spec).await;
        assert_eq!(done.status.phase, Some(SyncPhase::Failed));
        let message = done.status.message.unwrap_or_default();
        assert!(
            message.contains("SourceUnavailable") && message.contains("turnout standalone"),
            "{message}"
        );
        assert!(done.status.steps.is_empty());
    }

    /// The stage rule holds for a DataSync from another environment.
    #[test]
    fn a_source_at_a_later_stage_is_refused_unless_forced() {
        let mut target = plan();
        let mut source = plan();
        target.environment =
            serde_json::from_value(serde_json::json!({"name": "test-cloud", "stage": "test"}))
                .unwrap();
        source.environment =
            serde_json::from_value(serde_json::json!({"name": "production", "stage": "prod"}))
                .unwrap();
        let mut spec = DataSyncSpec {
            plan_ref: "shop".into(),
            from: "future".into(),
            to: "dao".into(),
            backup: true,
            allow_overwrite_newer: false,
            force: false,
            compress: false,
            source: None,
        };
        let env = |plan: &turnout_crds::PortPlanSpec| {
            Ok(Some(SourceEnv {
                plan_name: "shop-prod".into(),
                plan: plan.clone(),
                engine: Some("ssh://ops@prod".into()),
            }))
        };
        let e = steps_of(&spec, &target, env(&source))
            .unwrap_err()
            .to_string();
        assert!(e.contains("production") && e.contains("test-cloud"), "{e}");
        spec.force = true;
        assert!(steps_of(&spec, &target, env(&source)).is_ok());
    }
}
