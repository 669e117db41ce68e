//! Notifications: turnout tells the sinks a plan or selection names
//! (`spec.notifications`) what happened on the host. After each reconcile
//! the events are derived from the previous and new status ([`derive`]);
//! a switch's start is told when it begins (through
//! [`crate::reconcile::Progress::switch_started`]). Posting never waits:
//! events are queued for a background task ([`deliver`]) and a full queue
//! drops them.
//!
//! - `derive.rs`: which events a reconcile gives (pure);
//! - `datasync.rs`: the SyncFailed of a DataSync run on its own (pure);
//! - `payload.rs`: the webhook's JSON and Slack's line;
//! - `sinks.rs`: reading a sink's URL (a secret) from its source;
//! - `deliver.rs`: the queue, the HTTP client, retries, shutdown.

pub mod datasync;
pub mod deliver;
pub mod derive;
pub mod payload;
pub mod sinks;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::mpsc;
use tracing::warn;
use turnout_crds::notify::NotifyEvent;
use turnout_crds::selection::{PhaseTimings, VersionSelectionStatus};

use crate::core::Action;
use crate::metrics::{Metrics, NotifyLabel};
use crate::reconcile::{Outcome, Progress, Target};
pub use datasync::{FinishedSync, SyncMemory};
pub use deliver::{Delivery, Post, Worker};
pub use derive::{Facts, Memory, Subject};
pub use sinks::SinkList;

/// What a webhook sink receives (absent fields are left out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub event: NotifyEvent,
    pub selection: String,
    pub plan: String,
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phases: Option<PhaseTimings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// DriftCorrected: corrections since the last one told, folded into this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folded: Option<u32>,
    /// SyncFailed of a DataSync run on its own: the DataSync's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_sync: Option<String>,
    /// RFC 3339.
    pub time: String,
}

/// The notifications of one turnout process: cheap to clone, never blocks.
#[derive(Clone)]
pub struct Notifier {
    queue: mpsc::Sender<Post>,
    metrics: Arc<Metrics>,
    host: String,
    memory: Arc<Mutex<HashMap<String, Memory>>>,
    /// Per DataSync (its [`FinishedSync::key`]); bounded by [`datasync::MAX_REMEMBERED`].
    syncs: Arc<Mutex<BTreeMap<String, SyncMemory>>>,
}

impl Notifier {
    /// Starts delivery (see [`Delivery`]); events name `host`.
    pub fn start(settings: Delivery, metrics: Arc<Metrics>, host: String) -> (Notifier, Worker) {
        let (worker, queue) = Worker::start(settings, metrics.clone());
        let n = Notifier {
            queue,
            metrics,
            host,
            memory: Arc::default(),
            syncs: Arc::default(),
        };
        (n, worker)
    }

    /// Who `target`'s events are about.
    pub fn subject(&self, target: &Target) -> Subject {
        let selection = match &target.owner {
            Some(o) => format!("{}/{}", o.namespace, target.selection_name),
            None => target.selection_name.clone(),
        };
        Subject {
            selection,
            plan: target.plan_name.clone(),
            host: self.host.clone(),
        }
    }

    /// A switch of `target` begins.
    pub fn switch_started(&self, target: &Target, from: Option<&str>, to: &str) {
        if !sinks::has_sinks(target) {
            return;
        }
        let mut e = self
            .subject(target)
            .event(NotifyEvent::SwitchStarted, jiff::Timestamp::now());
        e.from = from.map(str::to_string);
        e.to = Some(to.to_string());
        self.send(&SinkList::of_target(target), &[e]);
    }

    /// The events of one reconcile of `target`, queued for its sinks.
    pub fn after_reconcile(
        &self,
        target: &Target,
        prev: Option<&VersionSelectionStatus>,
        new: &VersionSelectionStatus,
        outcome: &Outcome,
        was_converged: bool,
    ) {
        let who = self.subject(target);
        let facts = Facts::of(outcome, was_converged);
        let events = {
            let mut all = self.memory.lock().unwrap_or_else(|p| p.into_inner());
            let memory = all.entry(who.selection.clone()).or_default();
            derive::derive(&who, prev, new, &facts, memory, jiff::Timestamp::now())
        };
        if !events.is_empty() && sinks::has_sinks(target) {
            self.send(&SinkList::of_target(target), &events);
        }
    }

    /// A DataSync run on its own finished an attempt: its failure, told
    /// once (see [`datasync`]), is queued for `sinks`.
    pub fn data_sync_finished(&self, ds: &FinishedSync<'_>, sinks: &SinkList<'_>) {
        let event = {
            let mut all = self.syncs.lock().unwrap_or_else(|p| p.into_inner());
            if all.len() >= datasync::MAX_REMEMBERED && !all.contains_key(ds.key) {
                all.pop_first();
            }
            let memory = all.entry(ds.key.to_string()).or_default();
            datasync::derive_sync(&self.host, ds, memory, jiff::Timestamp::now())
        };
        if let Some(e) = event
            && !sinks.is_empty()
        {
            self.send(sinks, &[e]);
        }
    }

    /// Queues each event for each sink that wants it; drops (and counts)
    /// what does not fit.
    fn send(&self, sinks: &SinkList<'_>, events: &[Event]) {
        for sink in sinks.resolve() {
            let sink = match sink {
                Ok(s) => s,
                Err(e) => {
                    warn!(reason = e.reason(), error = %e, "cannot notify");
                    continue;
                }
            };
            for e in events.iter().filter(|e| sink.wants(e.event)) {
                let post = Post {
                    sink: sink.name.clone(),
                    kind: sink.kind,
                    event: e.event,
                    url: sink.url.clone(),
                    body: payload::body(sink.kind, e).into(),
                };
                if self.queue.try_send(post).is_err() {
                    let label = NotifyLabel {
                        kind: sink.kind.as_str(),
                        event: e.event.as_str(),
                    };
                    self.metrics
                        .notifications_dropped
                        .get_or_create(&label)
                        .inc();
                    warn!(sink = %sink.name, event = e.event.as_str(), "notification queue full; dropped");
                }
            }
        }
    }
}

/// A progress sink that tells `notifier` when a switch of `target` begins
/// and hands everything to `inner`.
pub struct Notifying<'a> {
    pub inner: &'a dyn Progress,
    pub notifier: Option<&'a Notifier>,
    pub target: &'a Target,
}

impl Progress for Notifying<'_> {
    fn started(&self, a: &Action) {
        self.inner.started(a);
    }

    fn finished(&self, a: &Action, error: Option<&str>) {
        self.inner.finished(a, error);
    }

    fn switch_started(&self, from: Option<&str>, to: &str) {
        self.inner.switch_started(from, to);
        if let Some(n) = self.notifier {
            n.switch_started(self.target, from, to);
        }
    }
}

/// This host's name for events: `$NODE_NAME` (a DaemonSet's node), else the
/// kernel's host name.
pub fn host_name() -> String {
    if let Some(n) = std::env::var("NODE_NAME").ok().filter(|s| !s.is_empty()) {
        return n;
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
