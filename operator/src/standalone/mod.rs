//! The standalone driver: watch a local YAML file and the Docker engine, and
//! reconcile the host whenever either changes (and periodically, because the
//! engine drops events for slow readers).
//!
//! An edit that fails to parse or validate is reported and ignored: the host
//! keeps the last good state. One that reads as a plan but breaks its rules
//! is kept aside too, so the status page can draw it with its clashes. SIGINT/SIGTERM stop the loop between actions.
//! `triggers.rs`: what wakes the loop; `file_syncs.rs`: the file and its DataSyncs.

mod file_syncs;
mod triggers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};
use turnout_crds::selection::VersionSelectionStatus;

use crate::core::Action;
use crate::host::ProcHost;
use crate::http::Shared;
use crate::lock::HostLock;
use crate::metrics::ReasonLabel;
use crate::reconcile::{Outcome, Progress, RETRY_AFTER, Reconciler, Run, Target};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::docker::address::EngineFlags;
use crate::status::{StandaloneStatus, status_of, write_atomically};
use file_syncs::FileSyncs;
use triggers::Trigger;

pub use triggers::is_change;

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
    /// When to stop restarting a container that keeps going down.
    pub crash: crate::reconcile::CrashLimit,
    /// The engine to drive, as `--engine` gave it (else `DOCKER_HOST`,
    /// else the local socket; see `runtime::docker::address::resolve_local`):
    /// this machine's, since the port checks read its `/proc/net`.
    pub engine: EngineFlags,
}

/// Logs each action as it runs.
struct Logged;

impl Progress for Logged {
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
    let shared = Arc::new(Shared::with_webhook(webhook));
    serve_http(&opts, &shared).await?;
    let cancel = crate::shutdown::on_signal();
    let (tx, mut rx) = mpsc::channel::<Trigger>(4096);
    triggers::spawn_shutdown(cancel.clone(), tx.clone());
    let Some((file, revision)) = follow_git(&opts, &shared, &cancel, &tx).await else {
        info!("shutting down");
        return Ok(());
    };
    let _watcher = triggers::watch_file(&file, tx.clone())?;
    let runtime = Arc::new(triggers::connect_until_up(&opts.engine, &cancel).await?);
    info!(engine = %runtime.describe(), "driving the Docker engine");
    triggers::spawn_events(runtime.clone(), tx.clone());
    triggers::spawn_ticker(opts.resync, tx.clone());
    let (notifier, delivery) = crate::notify::Notifier::start(
        crate::notify::Delivery::default(),
        shared.metrics.clone(),
        crate::notify::host_name(),
    );
    let mut host = Host::new(opts, file, revision, runtime, shared, cancel.clone());
    host.notifier = Some(notifier);
    loop {
        let wait = host.step().await;
        if cancel.is_cancelled() {
            break;
        }
        let Some(triggers) = triggers::next(&mut rx, wait, host.target.as_ref()).await else {
            break;
        };
        host.absorb(triggers);
        if cancel.is_cancelled() {
            break;
        }
    }
    info!("shutting down");
    delivery
        .finish(crate::notify::deliver::SHUTDOWN_GRACE)
        .await;
    Ok(())
}

async fn serve_http(opts: &Options, shared: &Arc<Shared>) -> anyhow::Result<()> {
    if let Some(addr) = opts.listen {
        let listener = crate::http::bind(addr).await.map_err(|e| {
            anyhow::anyhow!("cannot listen on {addr}: {e}; pick another address with --listen")
        })?;
        info!(%addr, "serving /status, /healthz and /metrics");
        tokio::spawn(crate::http::serve_with(listener, shared.clone(), opts.http));
    }
    Ok(())
}

/// With --git: the first checkout (retried while turnout serves) and the
/// follower that announces new commits. Returns the file to watch and the
/// checkout's commit; None when shut down before the first checkout.
async fn follow_git(
    opts: &Options,
    shared: &Shared,
    cancel: &CancellationToken,
    tx: &mpsc::Sender<Trigger>,
) -> Option<(PathBuf, Option<String>)> {
    use crate::gitsource::{GitSource, follow};
    let Some(git) = opts.git.clone() else {
        return Some((opts.file.clone(), None));
    };
    follow::log_webhook(shared.webhook.is_some(), &git);
    let first =
        follow::first_checkout(&git, &opts.state_dir, &shared.pull_now, cancel.cancelled()).await?;
    info!(url = %git.url(), branch = git.branch(), commit = %first, "following git");
    let file = GitSource::checkout_dir(&opts.state_dir).join(&opts.file);
    let (dir, pull_now) = (opts.state_dir.clone(), shared.pull_now.clone());
    follow::spawn(
        git,
        dir,
        pull_now,
        first.clone(),
        tx.clone(),
        Trigger::Commit,
    );
    Some((file, Some(first)))
}

/// The loop's state: the target it converges to, what the file said last,
/// and what it reported.
struct Host {
    opts: Options,
    file: PathBuf,
    engine: String,
    reconciler: Reconciler<DockerRuntime, ProcHost>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    target: Option<Target>,
    file_syncs: FileSyncs,
    file_error: Option<String>,
    /// The plan of the refused edit, when it read as one.
    refused: Option<crate::status::RefusedPlan>,
    /// The checkout's commit (with --git), and the one whose file is applied.
    revision: Option<String>,
    applied_revision: Option<String>,
    reload: bool,
    prev_status: Option<VersionSelectionStatus>,
    converged_on: Option<Target>,
    notifier: Option<crate::notify::Notifier>,
}

impl Host {
    fn new(
        opts: Options,
        file: PathBuf,
        revision: Option<String>,
        runtime: Arc<DockerRuntime>,
        shared: Arc<Shared>,
        cancel: CancellationToken,
    ) -> Host {
        let engine = runtime.describe();
        let reconciler =
            crate::engine::engine_reconciler(runtime, &opts.state_dir, opts.sync.clone())
                .with_crash_limit(opts.crash);
        Host {
            opts,
            file,
            engine,
            reconciler,
            shared,
            cancel,
            target: None,
            file_syncs: Vec::new(),
            file_error: None,
            refused: None,
            revision,
            applied_revision: None,
            reload: true,
            prev_status: None,
            converged_on: None,
            notifier: None,
        }
    }

    /// Rereads the file when asked to; an edit that does not load or
    /// validate is refused whole and the last good target kept.
    fn load(&mut self) {
        self.reload = false;
        match file_syncs::load_and_check(&self.file) {
            Ok((t, syncs)) => {
                self.file_syncs = syncs;
                self.applied_revision = self.revision.clone();
                if self.target.as_ref() != Some(&t) {
                    info!(version = %t.selection.active_version, plan = %t.plan_name, "desired state loaded");
                }
                self.target = Some(t);
                self.file_error = None;
                self.refused = None;
            }
            Err(e) => {
                error!(file = %self.file.display(), error = %e, "ignoring the edit: the host keeps its last good state");
                let reason = ReasonLabel {
                    reason: "InvalidFile",
                };
                self.shared.metrics.errors.get_or_create(&reason).inc();
                self.file_error = Some(e.to_string());
                self.refused = e.into_refused_plan();
            }
        }
    }

    /// One turn: load if asked, reconcile, run the file's DataSyncs, report.
    /// Returns how long to wait for the next trigger.
    async fn step(&mut self) -> Duration {
        if self.reload {
            self.load();
        }
        let Some(t) = self.target.clone() else {
            return self.opts.resync;
        };
        let started = Instant::now();
        let progress = crate::notify::Notifying {
            inner: &Logged,
            notifier: self.notifier.as_ref(),
            target: &t,
        };
        let run = Run::new(&progress, self.cancel.clone());
        let outcome = self
            .reconciler
            .reconcile(&t, &run)
            .instrument(info_span!("reconcile", version = %t.selection.active_version))
            .await;
        let was = self.converged_on.as_ref() == Some(&t);
        self.shared
            .metrics
            .observe(&outcome, started.elapsed(), was);
        let status = status_of(&t, &outcome, self.prev_status.as_ref());
        if let Some(n) = &self.notifier {
            n.after_reconcile(&t, self.prev_status.as_ref(), &status, &outcome, was);
        }
        log_outcome(&outcome);
        let converged = matches!(&outcome, Outcome::Applied(a) if a.converged());
        if converged {
            self.converged_on = Some(t.clone());
        }
        if !self.file_syncs.is_empty() {
            let rt = self.reconciler.runtime.as_ref();
            let told = (&t, self.notifier.as_ref());
            file_syncs::run_file_syncs(rt, &self.opts.sync, told, &self.file_syncs).await;
        }
        self.publish(&t, status, crate::status::blockers_of(&outcome));
        if converged {
            self.opts.resync
        } else {
            RETRY_AFTER
        }
    }

    /// The status document: to the HTTP endpoints (with the plan, for the
    /// port map) and the status file.
    fn publish(
        &mut self,
        t: &Target,
        status: VersionSelectionStatus,
        blockers: Vec<crate::core::Blocker>,
    ) {
        let mut data_syncs = crate::sync::run::store_of(&self.opts.sync).all();
        data_syncs.truncate(10);
        let data = match crate::sync::record::Records::load(&self.opts.sync.state_dir) {
            Ok(r) => r.entries,
            Err(e) => {
                warn!(error = %e, "cannot read the data records for the status");
                Default::default()
            }
        };
        let doc = StandaloneStatus {
            data,
            applied_revision: self.applied_revision.clone(),
            data_syncs,
            file: self.file.display().to_string(),
            plan: t.plan_name.clone(),
            selection: t.selection_name.clone(),
            desired_version: t.selection.active_version.clone(),
            file_error: self.file_error.clone(),
            refused_edit: self.refused.as_ref().map(crate::status::RefusedPlan::edit),
            updated_at: jiff::Timestamp::now().to_string(),
            status: status.clone(),
            blockers,
            engine: Some(self.engine.clone()),
        };
        if let Some(path) = &self.opts.status_file
            && let Err(e) = write_atomically(path, &doc)
        {
            warn!(file = %path.display(), error = %e, "cannot write the status file");
        }
        self.shared
            .publish_alone(&t.selection_name, doc, t.plan.clone(), self.refused.clone());
        self.prev_status = Some(status);
    }

    /// Takes in what woke the loop.
    fn absorb(&mut self, triggers: Vec<Trigger>) {
        for t in triggers {
            match t {
                Trigger::File => self.reload = true,
                Trigger::Commit(commit) => {
                    self.revision = Some(commit);
                    self.reload = true;
                }
                Trigger::Shutdown => self.cancel.cancel(),
                Trigger::Event(e) => {
                    tracing::debug!(container = %e.container, action = %e.action, "engine event")
                }
                Trigger::EngineLost => warn!("lost the engine's event stream; re-listing"),
                // The periodic resync rereads the file too: an edit the watcher
                // cannot see (a symlink swapped elsewhere) is picked up there.
                Trigger::Tick => self.reload = true,
            }
        }
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
