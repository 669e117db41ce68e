//! The standalone driver: watch a local YAML file and the Docker engine, and
//! reconcile the host whenever either changes (and periodically, because the
//! engine drops events for slow readers).
//!
//! An edit that fails to parse or validate is reported and ignored: the host
//! keeps the last good state. SIGINT/SIGTERM stop the loop between actions.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use notify::{RecursiveMode, Watcher};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::{Instrument, error, info, info_span, warn};
use turnout_crds::selection::VersionSelectionStatus;

use crate::core::Action;
use crate::host::ProcHost;
use crate::lock::HostLock;
use crate::metrics::{Metrics, ReasonLabel};
use crate::reconcile::{Outcome, Progress, RETRY_AFTER, Reconciler, Target};
use crate::runtime::ContainerRuntime;
use crate::runtime::docker::DockerRuntime;
use crate::secrets::{LocalSecrets, SecretFiles};
use crate::status::status_of;

/// Settings of `turnout standalone`.
#[derive(Clone, Debug)]
pub struct Options {
    pub file: PathBuf,
    pub status_file: Option<PathBuf>,
    pub listen: Option<std::net::SocketAddr>,
    pub state_dir: PathBuf,
    pub resync: Duration,
    /// How `syncOnSwitch` copies data.
    pub sync: crate::sync::run::SyncOptions,
    /// Follow a git repository: `file` is then a path inside it.
    pub git: Option<crate::gitsource::GitSource>,
    /// The shared secret that signs `POST /hooks/git`; without it the hook is off.
    pub webhook_secret_file: Option<PathBuf>,
    /// Bounds of the HTTP server.
    pub http: crate::http::Limits,
}

/// What `/status` and the status file hold.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StandaloneStatus {
    pub file: String,
    pub plan: String,
    pub selection: String,
    pub desired_version: String,
    /// The last edit of the file that was ignored, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_error: Option<String>,
    pub updated_at: String,
    pub status: VersionSelectionStatus,
    /// The host's DataSyncs (from the file, and those switches created), newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_syncs: Vec<crate::sync::store::StoredSync>,
    /// With --git: the commit whose file is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_revision: Option<String>,
    /// The Docker engine this turnout drives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

/// State shared with the HTTP endpoints.
#[derive(Default)]
pub struct Shared {
    pub metrics: Arc<Metrics>,
    /// Asks the git follower to pull now (the webhook).
    pub pull_now: Arc<tokio::sync::Notify>,
    /// Verifies the webhook's signature; `None` turns the hook off.
    pub webhook: Option<crate::http::webhook::WebhookSecret>,
    status: RwLock<Option<StandaloneStatus>>,
}

impl Shared {
    /// Endpoints serving `metrics` (the operator's, shared with its controllers).
    pub fn with_metrics(metrics: Arc<Metrics>) -> Shared {
        Shared {
            metrics,
            ..Default::default()
        }
    }

    pub fn status_json(&self) -> Option<String> {
        let guard = self.status.read().ok()?;
        guard
            .as_ref()
            .and_then(|s| serde_json::to_string_pretty(s).ok())
    }

    fn set(&self, s: StandaloneStatus) {
        if let Ok(mut g) = self.status.write() {
            *g = Some(s);
        }
    }
}

#[derive(Debug)]
enum Trigger {
    File,
    Event(crate::runtime::RuntimeEvent),
    EngineLost,
    Tick,
    Shutdown,
}

/// Logs actions and stops between them once shutdown was asked for.
struct Driver {
    stop: Arc<AtomicBool>,
}

impl Progress for Driver {
    fn started(&self, a: &Action) {
        info!(container = %a.container, action = a.kind.as_str(), reason = %a.reason, "applying");
    }

    fn finished(&self, a: &Action, error: Option<&str>) {
        match error {
            Some(e) => {
                warn!(container = %a.container, action = a.kind.as_str(), error = %e, "action failed")
            }
            None => info!(container = %a.container, action = a.kind.as_str(), "done"),
        }
    }

    fn cancelled(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Runs until SIGINT/SIGTERM.
pub async fn run(opts: Options) -> anyhow::Result<()> {
    let webhook = opts
        .webhook_secret_file
        .as_deref()
        .map(crate::http::webhook::WebhookSecret::from_file)
        .transpose()?;
    let lock = HostLock::acquire(&opts.state_dir.join("turnout.lock")).await?;
    info!(lock = %lock.path().display(), "holding the host lock");
    let shared = Arc::new(Shared {
        webhook,
        ..Shared::default()
    });
    if let Some(addr) = opts.listen {
        let listener = crate::http::bind(addr).await.map_err(|e| {
            anyhow::anyhow!("cannot listen on {addr}: {e}; pick another address with --listen")
        })?;
        info!(%addr, "serving /status, /healthz and /metrics");
        tokio::spawn(crate::http::serve_with(listener, shared.clone(), opts.http));
    }
    let (tx, mut rx) = mpsc::channel::<Trigger>(4096);
    let stop = Arc::new(AtomicBool::new(false));
    spawn_signals(tx.clone(), stop.clone());
    let revision: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let mut opts = opts;
    if let Some(git) = opts.git.clone() {
        use crate::gitsource::{GitSource, follow};
        follow::log_webhook(shared.webhook.is_some(), &git);
        // Only a shutdown can arrive on `rx` before the watchers start.
        let stop = async {
            let _ = rx.recv().await;
        };
        let Some(first) =
            follow::first_checkout(&git, &opts.state_dir, &shared.pull_now, stop).await
        else {
            info!("shutting down");
            return Ok(());
        };
        info!(url = %git.url(), branch = git.branch(), commit = %first, "following git");
        if let Ok(mut r) = revision.lock() {
            *r = Some(first);
        }
        opts.file = GitSource::checkout_dir(&opts.state_dir).join(&opts.file);
        let (dir, pull_now) = (opts.state_dir.clone(), shared.pull_now.clone());
        follow::spawn(git, dir, pull_now, revision.clone(), tx.clone(), || {
            Trigger::File
        });
    }
    let _watcher = watch_file(&opts.file, tx.clone())?;
    let runtime = Arc::new(connect_until_up(&stop).await?);
    let engine = runtime.describe();
    info!(engine = %engine, "driving the Docker engine");
    spawn_events(runtime.clone(), tx.clone());
    let ticker_tx = tx.clone();
    let resync = opts.resync;
    tokio::spawn(async move {
        let mut t = tokio::time::interval(resync);
        t.tick().await;
        loop {
            t.tick().await;
            if ticker_tx.send(Trigger::Tick).await.is_err() {
                break;
            }
        }
    });

    let reconciler = engine_reconciler(runtime, &opts.state_dir, opts.sync.clone());
    let driver = Driver { stop: stop.clone() };
    let mut target: Option<Target> = None;
    let mut file_syncs: FileSyncs = Vec::new();
    let mut applied_revision: Option<String> = None;
    let mut file_error: Option<String> = None;
    let mut reload = true;
    let mut prev_status: Option<VersionSelectionStatus> = None;
    let mut converged_on: Option<Target> = None;
    loop {
        if reload {
            reload = false;
            match load_and_check(&opts.file) {
                Ok((t, syncs)) => {
                    file_syncs = syncs;
                    applied_revision = revision.lock().ok().and_then(|r| r.clone());
                    if target.as_ref() != Some(&t) {
                        info!(version = %t.selection.active_version, plan = %t.plan_name, "desired state loaded");
                    }
                    target = Some(t);
                    file_error = None;
                }
                Err(e) => {
                    error!(file = %opts.file.display(), error = %e, "ignoring the edit: the host keeps its last good state");
                    shared
                        .metrics
                        .errors
                        .get_or_create(&ReasonLabel {
                            reason: "InvalidFile",
                        })
                        .inc();
                    file_error = Some(e);
                }
            }
        }
        let mut wait = opts.resync;
        if let Some(t) = &target {
            let started = Instant::now();
            let outcome = reconciler
                .reconcile(t, &driver)
                .instrument(info_span!("reconcile", version = %t.selection.active_version))
                .await;
            shared.metrics.observe(
                &outcome,
                started.elapsed(),
                converged_on.as_ref() == Some(t),
            );
            let status = status_of(t, &outcome, prev_status.as_ref());
            log_outcome(&outcome);
            if !matches!(&outcome, Outcome::Applied(a) if a.converged()) {
                wait = RETRY_AFTER;
            } else {
                converged_on = Some(t.clone());
            }
            if !file_syncs.is_empty() {
                run_file_syncs(reconciler.runtime.as_ref(), &opts.sync, t, &file_syncs).await;
            }
            let mut data_syncs = crate::sync::run::store_of(&opts.sync).all();
            data_syncs.truncate(10);
            let doc = StandaloneStatus {
                applied_revision: applied_revision.clone(),
                data_syncs,
                file: opts.file.display().to_string(),
                plan: t.plan_name.clone(),
                selection: t.selection_name.clone(),
                desired_version: t.selection.active_version.clone(),
                file_error: file_error.clone(),
                updated_at: jiff::Timestamp::now().to_string(),
                status: status.clone(),
                engine: Some(engine.clone()),
            };
            if let Some(path) = &opts.status_file
                && let Err(e) = write_atomically(path, &doc)
            {
                warn!(file = %path.display(), error = %e, "cannot write the status file");
            }
            shared.set(doc);
            prev_status = Some(status);
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        // Wait for something that concerns this host's plan to happen
        // (other containers' events do not count), then let a burst settle.
        let deadline = tokio::time::Instant::now() + wait;
        let first = loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(t)) if concerns(&t, target.as_ref()) => break Some(t),
                Ok(Some(_)) => continue,
                Ok(None) => break None,
                Err(_) => break Some(Trigger::Tick),
            }
        };
        let Some(first) = first else { break };
        let mut triggers = vec![first];
        let settle = if matches!(triggers[0], Trigger::File) {
            200
        } else {
            20
        };
        let until = tokio::time::Instant::now() + Duration::from_millis(settle);
        while let Ok(Some(t)) = tokio::time::timeout_at(until, rx.recv()).await {
            triggers.push(t);
        }
        for t in &triggers {
            match t {
                Trigger::File => reload = true,
                Trigger::Shutdown => stop.store(true, Ordering::SeqCst),
                Trigger::Event(e) => {
                    tracing::debug!(container = %e.container, action = %e.action, "engine event")
                }
                Trigger::EngineLost => warn!("lost the engine's event stream; re-listing"),
                // The periodic resync rereads the file too: an edit the watcher
                // cannot see (a symlink swapped elsewhere) is picked up there.
                Trigger::Tick => reload = true,
            }
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    info!("shutting down");
    Ok(())
}

/// The reconciler of the real host: the engine, `/proc`, local secrets, and
/// `syncOnSwitch` through the engine.
pub fn engine_reconciler(
    runtime: Arc<DockerRuntime>,
    state_dir: &Path,
    sync: crate::sync::run::SyncOptions,
) -> Reconciler<DockerRuntime, ProcHost, LocalSecrets> {
    let intents = sync.state_dir.clone();
    let copier = crate::sync::run::EngineSwitchSync {
        runtime: runtime.clone(),
        secrets: LocalSecrets,
        options: sync,
    };
    Reconciler::new(
        runtime,
        ProcHost,
        SecretFiles::new(state_dir.join("secrets"), LocalSecrets),
    )
    .with_sync(Arc::new(copier), intents)
}

/// Loads the file and checks it; the error is a sentence for the log and status.
/// DataSync documents of the file: (name, spec).
type FileSyncs = Vec<(String, turnout_crds::datasync::DataSyncSpec)>;

fn load_and_check(file: &Path) -> Result<(Target, FileSyncs), String> {
    let docs = turnout_crds::load::Documents::read(file).map_err(|e| e.to_string())?;
    let t =
        crate::target::target_of(&docs, &file.display().to_string()).map_err(|e| e.to_string())?;
    let mut syncs = Vec::new();
    for d in &docs.syncs {
        let name = d.value.metadata.name.clone().unwrap_or_default();
        let v = turnout_crds::validate::validate_sync(&t.plan, &d.value.spec);
        if let Some(first) = v.first() {
            return Err(format!("{}: DataSync {name}: {first}", file.display()));
        }
        syncs.push((name, d.value.spec.clone()));
    }
    if let Err(v) = Reconciler::<DockerRuntime, ProcHost, LocalSecrets>::plan(&t, &[]) {
        let list: Vec<String> = v.iter().map(ToString::to_string).collect();
        return Err(format!(
            "{}: {} rule(s) broken: {}",
            file.display(),
            v.len(),
            list.join("; ")
        ));
    }
    Ok((t, syncs))
}

/// Runs the file's DataSyncs that have not run: each once (a Succeeded one
/// never again, a Failed one again only when its spec changes), and only
/// while its target version is not running (data is never overwritten under
/// a running version; it waits, Pending, saying so).
async fn run_file_syncs(
    rt: &DockerRuntime,
    opts: &crate::sync::run::SyncOptions,
    t: &Target,
    syncs: &FileSyncs,
) {
    use crate::sync::store::StoredSync;
    use turnout_crds::datasync::{DataSyncStatus, SyncPhase};
    let store = crate::sync::run::store_of(opts);
    let pending: Vec<&(String, turnout_crds::datasync::DataSyncSpec)> = syncs
        .iter()
        .filter(|(name, spec)| match store.get(name) {
            Some(s) if s.status.phase == Some(SyncPhase::Succeeded) => false,
            Some(s) if s.status.phase == Some(SyncPhase::Failed) => &s.spec != spec,
            _ => true,
        })
        .collect();
    if pending.is_empty() {
        return;
    }
    let observed = match rt.list().await {
        Ok(o) => o,
        Err(e) => {
            warn!(error = %e, "cannot list containers for the DataSyncs");
            return;
        }
    };
    for (name, spec) in pending {
        let busy = observed.iter().any(|o| {
            o.is_ours(&t.plan_name)
                && o.state.is_up()
                && o.role() == Some(crate::core::Role::Version(spec.to.clone()))
        });
        if busy {
            let waiting = StoredSync {
                name: name.clone(),
                spec: spec.clone(),
                status: DataSyncStatus {
                    phase: Some(SyncPhase::Pending),
                    message: Some(format!(
                        "waiting: version {} is running, and its data is not overwritten under it",
                        spec.to
                    )),
                    ..Default::default()
                },
            };
            if store.get(name).as_ref() != Some(&waiting) {
                let _ = store.put(&waiting);
            }
            continue;
        }
        info!(datasync = %name, from = %spec.from, to = %spec.to, "running DataSync");
        let done =
            crate::sync::run::execute_once(rt, &LocalSecrets, opts, name, &t.plan, spec.clone())
                .await;
        info!(datasync = %name, phase = ?done.status.phase, message = done.status.message.as_deref().unwrap_or(""), "DataSync finished");
    }
}

fn log_outcome(o: &Outcome) {
    match o {
        Outcome::Invalid(v) => error!(violations = v.len(), "the plan is invalid; nothing changed"),
        Outcome::Unobserved(e) => warn!(error = %e, "cannot observe the host; retrying"),
        Outcome::Blocked { blockers, .. } => {
            for b in blockers {
                warn!(reason = b.reason(), "{b}");
            }
        }
        Outcome::Paused { pending, .. } => info!(pending = pending.len(), "paused"),
        Outcome::Applied(a) => match &a.error {
            Some(e) => warn!(reason = e.reason(), error = %e, "reconcile failed; retrying"),
            None if !a.done.is_empty() => {
                info!(actions = a.done.len(), converged = a.converged(), "applied")
            }
            None => {}
        },
    }
}

/// Replaces the file atomically: write a sibling, then rename over it.
pub fn write_atomically(path: &Path, doc: &StandaloneStatus) -> std::io::Result<()> {
    crate::files::replace_json(path, doc)
}

/// Connects to the engine, waiting while it is away; an address that
/// cannot be used is an error at once (waiting would not change it).
async fn connect_until_up(stop: &AtomicBool) -> anyhow::Result<DockerRuntime> {
    let address = crate::runtime::docker::address::resolve(None)?;
    let mut delay = Duration::from_millis(250);
    loop {
        match DockerRuntime::connect_to(address.clone()).await {
            Ok(r) => return Ok(r),
            Err(e) if !stop.load(Ordering::SeqCst) => {
                warn!(error = %e, "waiting for the Docker engine");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn spawn_events<R: ContainerRuntime>(runtime: Arc<R>, tx: mpsc::Sender<Trigger>) {
    tokio::spawn(async move {
        loop {
            let mut events = runtime.events();
            while let Some(e) = events.next().await {
                let Ok(e) = e else { break };
                if tx.send(Trigger::Event(e)).await.is_err() {
                    return;
                }
            }
            if tx.send(Trigger::EngineLost).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

fn spawn_signals(tx: mpsc::Sender<Trigger>, stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("signal received: finishing the current action, then stopping");
        stop.store(true, Ordering::SeqCst);
        let _ = tx.send(Trigger::Shutdown).await;
    });
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Whether a trigger concerns the host's plan: engine events count only for
/// containers turnout runs for the plan or containers with a planned name
/// (a foreign one in the way, or gone); everything else always counts.
fn concerns(t: &Trigger, target: Option<&Target>) -> bool {
    let (Trigger::Event(e), Some(t)) = (t, target) else {
        return true;
    };
    e.plan.as_deref() == Some(t.plan_name.as_str())
        || t.plan
            .infrastructure
            .iter()
            .chain(t.plan.versions.iter().flat_map(|v| v.containers.iter()))
            .any(|c| c.name == e.container)
}

/// Whether a file-system event changes the file (not a read or a metadata read).
pub fn is_change(kind: &notify::EventKind) -> bool {
    matches!(
        kind,
        notify::EventKind::Create(_) | notify::EventKind::Modify(_) | notify::EventKind::Remove(_)
    ) && !matches!(
        kind,
        notify::EventKind::Modify(notify::event::ModifyKind::Metadata(_))
    )
}

/// Watches the file's directory (editors replace files by renaming) and
/// reports changes to the file.
fn watch_file(
    file: &Path,
    tx: mpsc::Sender<Trigger>,
) -> anyhow::Result<notify::RecommendedWatcher> {
    let abs = std::path::absolute(file)?;
    let dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = abs.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // Only changes count: turnout's own reads of the file raise access
        // events, which must not trigger another reload (a busy loop).
        if let Ok(ev) = res
            && is_change(&ev.kind)
            && ev
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_os_string()) == name)
        {
            let _ = tx.blocking_send(Trigger::File);
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use notify::EventKind;
    use notify::event::{
        AccessKind, CreateKind, DataChange, MetadataKind, ModifyKind, RemoveKind, RenameMode,
    };

    use super::is_change;

    #[test]
    fn reads_do_not_count_as_changes() {
        assert!(!is_change(&EventKind::Access(AccessKind::Any)));
        assert!(!is_change(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::AccessTime
        ))));
        assert!(is_change(&EventKind::Modify(ModifyKind::Data(
            DataChange::Any
        ))));
        assert!(is_change(&EventKind::Modify(ModifyKind::Name(
            RenameMode::To
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Remove(RemoveKind::File)));
    }
}
