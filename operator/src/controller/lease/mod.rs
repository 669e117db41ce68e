//! Leader election with a `coordination.k8s.io/v1` Lease: of all turnout
//! replicas in a cluster, only the one holding the Lease serves
//! VersionSelections.
//!
//! # Why a Lease as well as the host lock
//!
//! The host lock ([`crate::lock::HostLock`]) is a file lock in turnout's state
//! directory: it keeps two turnout processes on *one host* (standalone mode,
//! `turnout apply`, the operator) from interleaving a switch. It cannot see a
//! replica on another node. The Lease lives in the API server, so it keeps two
//! replicas *anywhere in the cluster* from serving the same selections, but it
//! knows nothing about a turnout started by hand on the host. Each covers what
//! the other cannot, so the operator takes both.
//!
//! # The record
//!
//! The Lease's spec is the election record:
//!
//! - `holderIdentity`: who leads; absent (or empty) when nobody does.
//! - `leaseDurationSeconds`: how long after `renewTime` the holder's claim
//!   stands. Written as the configured duration rounded up to whole seconds.
//! - `acquireTime`: when the current holder took it.
//! - `renewTime`: when the holder last confirmed it.
//! - `leaseTransitions`: how many times it changed hands.
//!
//! Every write is a `create` or a full `replace` (verb `update`) carrying the
//! `metadata.resourceVersion` that was read, so two candidates that read the
//! same version cannot both win: the API server answers the later write with
//! 409 Conflict. Nothing here uses `patch`, `list` or `watch`; RBAC needs only
//! `get`, `create` and `update` on leases.
//!
//! # The protocol
//!
//! - **Acquire** ([`acquire`]): read the Lease. Absent: create it with us as
//!   holder. Held by us (a restart under the same identity): renew it and
//!   lead, keeping `acquireTime` and `leaseTransitions`. Nobody holding it, or
//!   the holder's `renewTime + leaseDurationSeconds` has passed: replace it
//!   with us as holder, `acquireTime` now, `leaseTransitions` + 1. Otherwise
//!   wait `retry_every` and read again. A 409 on create or replace means
//!   another candidate won the race; transient API errors are retried. Neither
//!   is ever fatal: a candidate waits as long as it takes.
//! - **Renew**: while leading, a background task replaces the Lease every
//!   `renew_every` with a fresh `renewTime`, using the resourceVersion of its
//!   last write. On a 409 it reads the Lease: if we still hold it (somebody
//!   else touched, say, a label) it writes again on the new version; if
//!   another holds it, leadership is lost. After a failed renew the next try
//!   comes `retry_every` later.
//! - **Lose** ([`Leader::lost`]): another instance holds the Lease now, or no
//!   renew succeeded within `duration` of the start of the last successful
//!   one. That instant is no later than the earliest moment another candidate
//!   may take the Lease over, because the `renewTime` we wrote was taken at
//!   that start and the written duration is rounded up. A renew request still
//!   in flight at that instant is abandoned rather than awaited.
//! - **Release** ([`Leader::release`]): as on a clean shutdown in Kubernetes'
//!   own components, the holder clears `holderIdentity`, sets
//!   `leaseDurationSeconds` to 1 and `acquireTime`/`renewTime` to now, and
//!   keeps `leaseTransitions`. A Lease without a holder may be taken at once,
//!   so a successor need not wait out the duration. Dropping a [`Leader`]
//!   without releasing stops renewing; the Lease then expires on its own.
//!
//! # Clocks
//!
//! A candidate judges expiry by comparing the holder's `renewTime` with its
//! own clock, so the replicas' clocks must agree to well within the lease
//! duration (NTP-synchronised nodes do). The holder measures its own deadline
//! on the monotonic clock and never needs to compare clocks.
//!
//! The identity must be unique per instance (the pod's name, say): two
//! processes with the same identity would both consider themselves holder.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};
use tracing::{debug, info, warn};

mod renew;

use renew::Renewer;

/// Where the Lease is, who we are, and the timing of the election.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This instance's identity, written as `holderIdentity`; unique per
    /// instance and not empty.
    pub identity: String,
    /// How long a claim stands without renewal (`leaseDurationSeconds`,
    /// rounded up to whole seconds, at least 1).
    pub duration: Duration,
    /// How often the leader renews; well below `duration`, so that several
    /// renews can fail before leadership is lost.
    pub renew_every: Duration,
    /// How often a candidate looks at the Lease again, and how soon a failed
    /// request is retried.
    pub retry_every: Duration,
}

impl LeaseConfig {
    /// A configuration with a 15 s lease renewed every 5 s, retrying every 2 s.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> LeaseConfig {
        LeaseConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
            retry_every: Duration::from_secs(2),
        }
    }

    /// `duration` as `leaseDurationSeconds`: rounded up, at least 1.
    fn duration_seconds(&self) -> i32 {
        let secs = self
            .duration
            .as_secs()
            .saturating_add(u64::from(self.duration.subsec_nanos() > 0));
        i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
    }
}

/// Why leadership ended.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Lost {
    /// A renew was refused and the Lease names another holder (or none).
    #[error("the Lease is held by {} now", holder.as_deref().unwrap_or("nobody"))]
    TakenOver { holder: Option<String> },
    /// No renew succeeded within the lease duration, so another instance may
    /// legitimately have taken the Lease.
    #[error("could not renew the Lease within its duration: {last_error}")]
    Expired { last_error: String },
    /// The renewing task ended without saying why.
    #[error("the task renewing the Lease stopped")]
    Stopped,
}

/// Leadership held: the Lease names this instance, and a background task
/// renews it until it is lost, released, or this value is dropped.
#[derive(Debug)]
pub struct Leader {
    lost: watch::Receiver<Option<Lost>>,
    release: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Waits until this instance holds the Lease, then returns the [`Leader`]
/// that keeps renewing it.
///
/// Creates the Lease if it is absent, takes it over when nobody holds it or
/// the holder's `renewTime + leaseDurationSeconds` has passed (incrementing
/// `leaseTransitions`), and re-acquires it at once if it already names us.
/// While another instance holds it, says who (once per holder) and looks
/// again every `retry_every`. API errors and lost races are retried, never
/// fatal.
pub async fn acquire(client: Client, cfg: LeaseConfig) -> Leader {
    let api: Api<Lease> = Api::namespaced(client, &cfg.namespace);
    let mut announced: Option<String> = None;
    loop {
        match try_acquire(&api, &cfg).await {
            Attempt::Acquired { lease, started } => {
                let transitions = spec_of(&lease).lease_transitions.unwrap_or(0);
                info!(lease = %cfg.name, namespace = %cfg.namespace, identity = %cfg.identity, transitions, "acquired the Lease; leading");
                return Leader::start(api, cfg, *lease, started);
            }
            Attempt::Held { holder, until } => {
                if announced.as_deref() != Some(holder.as_str()) {
                    info!(lease = %cfg.name, namespace = %cfg.namespace, %holder, until = %until.map(|t| t.to_string()).unwrap_or_default(), "another instance leads; waiting for the Lease");
                    announced = Some(holder);
                } else {
                    debug!(lease = %cfg.name, %holder, "still held by another instance");
                }
            }
            Attempt::Raced => {
                info!(lease = %cfg.name, namespace = %cfg.namespace, "another instance took the Lease first; waiting");
            }
            Attempt::Failed(e) => {
                warn!(lease = %cfg.name, namespace = %cfg.namespace, error = %e, "reading or writing the Lease failed; retrying");
            }
        }
        sleep(cfg.retry_every).await;
    }
}

impl Leader {
    fn start(api: Api<Lease>, cfg: LeaseConfig, lease: Lease, started: Instant) -> Leader {
        let (lost_tx, lost_rx) = watch::channel(None);
        let (release_tx, release_rx) = oneshot::channel();
        let deadline = started + cfg.duration;
        let renewer = Renewer {
            api,
            cfg,
            lease,
            deadline,
        };
        Leader {
            lost: lost_rx,
            release: release_tx,
            task: tokio::spawn(renewer.run(release_rx, lost_tx)),
        }
    }

    /// Resolves when leadership is lost, and says why. Cancel-safe, so it
    /// may be a branch of a `select!` in a loop; once lost, it resolves
    /// immediately every time.
    pub async fn lost(&mut self) -> Lost {
        match self.lost.wait_for(Option::is_some).await {
            Ok(lost) => lost.clone().unwrap_or(Lost::Stopped),
            Err(_) => Lost::Stopped,
        }
    }

    /// Whether leadership still holds (false once [`Leader::lost`] would
    /// resolve).
    pub fn is_leading(&self) -> bool {
        self.lost.borrow().is_none() && !self.task.is_finished()
    }

    /// Stops renewing and gives the Lease up, so that a successor may take
    /// it at once: clears `holderIdentity`, sets `leaseDurationSeconds` to 1
    /// and `acquireTime`/`renewTime` to now. Does nothing more if leadership
    /// was already lost. Gives up (the Lease then simply expires) if the API
    /// does not accept the write before our claim would have run out anyway.
    pub async fn release(self) {
        // Fails only when the task has already ended: nothing to release.
        let _ = self.release.send(());
        // The task only ends by returning; a join error would be a panic,
        // which has nothing left to clean up.
        let _ = self.task.await;
    }
}

/// One look at the Lease, and a write if it is ours to take.
enum Attempt {
    /// We hold it; `started` is when the successful write began.
    Acquired {
        lease: Box<Lease>,
        started: Instant,
    },
    /// Another instance holds it, until about `until`.
    Held {
        holder: String,
        until: Option<Timestamp>,
    },
    /// Our create or replace lost to a concurrent write (409).
    Raced,
    Failed(kube::Error),
}

async fn try_acquire(api: &Api<Lease>, cfg: &LeaseConfig) -> Attempt {
    let current = match api.get_opt(&cfg.name).await {
        Ok(current) => current,
        Err(e) => return Attempt::Failed(e),
    };
    let started = Instant::now();
    let now = MicroTime(Timestamp::now());
    let write = match current {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(cfg.name.clone()),
                    namespace: Some(cfg.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(cfg.identity.clone()),
                    lease_duration_seconds: Some(cfg.duration_seconds()),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            api.create(&PostParams::default(), &lease).await
        }
        Some(mut lease) => {
            let old = spec_of(&lease);
            let mut spec = old.clone();
            match holder_of(&old) {
                Some(holder) if holder == cfg.identity => {
                    // Ours already (we restarted, or a write of ours was
                    // applied though its answer was lost): keep the record.
                    spec.acquire_time = old.acquire_time.clone().or(Some(now.clone()));
                }
                Some(holder) if !expired(&old, cfg, now.0) => {
                    return Attempt::Held {
                        holder: holder.to_string(),
                        until: valid_until(&old, cfg),
                    };
                }
                _ => {
                    spec.acquire_time = Some(now.clone());
                    spec.lease_transitions =
                        Some(old.lease_transitions.unwrap_or(0).saturating_add(1));
                }
            }
            spec.holder_identity = Some(cfg.identity.clone());
            spec.lease_duration_seconds = Some(cfg.duration_seconds());
            spec.renew_time = Some(now);
            lease.spec = Some(spec);
            // metadata.resourceVersion is the one just read: a concurrent
            // write in between makes this a 409.
            api.replace(&cfg.name, &PostParams::default(), &lease).await
        }
    };
    match write {
        Ok(lease) => Attempt::Acquired {
            lease: Box::new(lease),
            started,
        },
        Err(e) if is_conflict(&e) => Attempt::Raced,
        Err(e) => Attempt::Failed(e),
    }
}

pub(super) fn spec_of(lease: &Lease) -> LeaseSpec {
    lease.spec.clone().unwrap_or_default()
}

/// The holder named by the record; an empty identity means none.
pub(super) fn holder_of(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

/// When the holder's claim runs out: `renewTime + leaseDurationSeconds` (our
/// own duration if the record lacks one). None without a `renewTime`, or
/// beyond the representable range.
pub(super) fn valid_until(spec: &LeaseSpec, cfg: &LeaseConfig) -> Option<Timestamp> {
    let renewed = spec.renew_time.as_ref()?.0;
    let secs = spec
        .lease_duration_seconds
        .unwrap_or_else(|| cfg.duration_seconds())
        .max(0);
    renewed
        .checked_add(SignedDuration::from_secs(i64::from(secs)))
        .ok()
}

/// Whether the holder's claim has run out. A record without `renewTime` was
/// never renewed and counts as expired; one whose expiry is out of range
/// counts as valid.
pub(super) fn expired(spec: &LeaseSpec, cfg: &LeaseConfig, now: Timestamp) -> bool {
    match (&spec.renew_time, valid_until(spec, cfg)) {
        (None, _) => true,
        (Some(_), Some(until)) => until <= now,
        (Some(_), None) => false,
    }
}

/// A 409: a replace on a stale resourceVersion (Conflict), or a create of a
/// Lease that exists by now (AlreadyExists).
pub(super) fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 || s.is_conflict() || s.is_already_exists())
}
