//! Holding the Lease once it is ours: renewing it on time, noticing when it
//! is lost (another holder, or no renewal within the duration), and
//! releasing it on a clean stop.

use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, sleep_until, timeout_at};
use tracing::{debug, info, warn};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};

use super::*;

/// The background task that keeps the Lease while leading.
pub(super) struct Renewer {
    pub api: Api<Lease>,
    pub cfg: LeaseConfig,
    /// The Lease as last written or read by us, naming us as holder; its
    /// resourceVersion guards the next write.
    pub lease: Lease,
    /// When our claim runs out unless renewed: the start of the last
    /// successful write plus the duration.
    pub deadline: Instant,
}

/// What one turn of the renew loop came to.
enum Step {
    /// [`Leader::release`] was called.
    Release,
    /// The [`Leader`] was dropped.
    Stop,
    /// The deadline passed without a successful renew.
    Expired,
    Renewed,
    /// Another instance (or none) holds the Lease.
    Refused(Option<String>),
    Failed(kube::Error),
}

impl Renewer {
    pub(super) async fn run(
        mut self,
        mut release: oneshot::Receiver<()>,
        lost: watch::Sender<Option<Lost>>,
    ) {
        let mut next = Instant::now() + self.cfg.renew_every;
        let mut last_error = String::from("no answer from the API server");
        loop {
            let deadline = self.deadline;
            let step = tokio::select! {
                biased;
                asked = &mut release => if asked.is_ok() { Step::Release } else { Step::Stop },
                () = sleep_until(deadline) => Step::Expired,
                step = async { sleep_until(next).await; self.renew().await } => step,
            };
            match step {
                Step::Release => {
                    self.release().await;
                    return;
                }
                Step::Stop => {
                    debug!(lease = %self.cfg.name, "leadership dropped; no longer renewing the Lease");
                    return;
                }
                Step::Expired => {
                    warn!(lease = %self.cfg.name, namespace = %self.cfg.namespace, error = %last_error, "could not renew the Lease in time; leadership lost");
                    let _ = lost.send(Some(Lost::Expired { last_error }));
                    return;
                }
                Step::Renewed => {
                    debug!(lease = %self.cfg.name, "renewed the Lease");
                    next = Instant::now() + self.cfg.renew_every;
                }
                Step::Refused(holder) => {
                    warn!(lease = %self.cfg.name, namespace = %self.cfg.namespace, holder = holder.as_deref().unwrap_or(""), "the Lease was taken over; leadership lost");
                    let _ = lost.send(Some(Lost::TakenOver { holder }));
                    return;
                }
                Step::Failed(e) => {
                    warn!(lease = %self.cfg.name, namespace = %self.cfg.namespace, error = %e, "renewing the Lease failed; retrying");
                    last_error = e.to_string();
                    next = Instant::now() + self.cfg.retry_every;
                }
            }
        }
    }

    /// One renew: replace on the last known version; on a conflict, read the
    /// Lease and write once more if it still names us.
    async fn renew(&mut self) -> Step {
        let mut reread = false;
        loop {
            let started = Instant::now();
            let mut lease = self.lease.clone();
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            spec.holder_identity = Some(self.cfg.identity.clone());
            spec.lease_duration_seconds = Some(self.cfg.duration_seconds());
            spec.renew_time = Some(MicroTime(Timestamp::now()));
            match self
                .api
                .replace(&self.cfg.name, &PostParams::default(), &lease)
                .await
            {
                Ok(renewed) => {
                    self.lease = renewed;
                    self.deadline = started + self.cfg.duration;
                    return Step::Renewed;
                }
                Err(e) if is_conflict(&e) && !reread => reread = true,
                Err(e) => return Step::Failed(e),
            }
            match self.api.get_opt(&self.cfg.name).await {
                Ok(Some(current)) => {
                    let spec = spec_of(&current);
                    match holder_of(&spec) {
                        Some(holder) if holder == self.cfg.identity => self.lease = current,
                        holder => return Step::Refused(holder.map(str::to_string)),
                    }
                }
                // Deleted under us: nobody else holds it.
                Ok(None) => {
                    return match self.recreate().await {
                        Ok(()) => Step::Renewed,
                        Err(e) if is_conflict(&e) => self.refused().await,
                        Err(e) => Step::Failed(e),
                    };
                }
                Err(e) => return Step::Failed(e),
            }
        }
    }

    /// Creates the Lease again, as ours, after it was deleted.
    async fn recreate(&mut self) -> Result<(), kube::Error> {
        let started = Instant::now();
        let mut lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.cfg.name.clone()),
                namespace: Some(self.cfg.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: self.lease.spec.clone(),
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.holder_identity = Some(self.cfg.identity.clone());
        spec.lease_duration_seconds = Some(self.cfg.duration_seconds());
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        self.lease = self.api.create(&PostParams::default(), &lease).await?;
        self.deadline = started + self.cfg.duration;
        Ok(())
    }

    /// After losing a race to recreate the Lease: who holds it now.
    async fn refused(&self) -> Step {
        match self.api.get_opt(&self.cfg.name).await {
            Ok(Some(current)) => Step::Refused(holder_of(&spec_of(&current)).map(str::to_string)),
            Ok(None) => Step::Refused(None),
            Err(e) => Step::Failed(e),
        }
    }

    /// Gives the Lease up; see [`Leader::release`].
    async fn release(&mut self) {
        let deadline = self.deadline;
        let released = timeout_at(deadline, async {
            loop {
                match self.try_release().await {
                    Ok(()) => return,
                    Err(e) => {
                        warn!(lease = %self.cfg.name, namespace = %self.cfg.namespace, error = %e, "releasing the Lease failed; retrying");
                        sleep(self.cfg.retry_every).await;
                    }
                }
            }
        })
        .await;
        if released.is_err() {
            warn!(lease = %self.cfg.name, namespace = %self.cfg.namespace, "could not release the Lease in time; it expires on its own");
        }
    }

    /// One release: replace on the last known version; on a conflict, read
    /// the Lease and leave it alone unless it still names us.
    async fn try_release(&mut self) -> Result<(), kube::Error> {
        let now = MicroTime(Timestamp::now());
        let mut lease = self.lease.clone();
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.acquire_time = Some(now.clone());
        spec.renew_time = Some(now);
        match self
            .api
            .replace(&self.cfg.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                info!(lease = %self.cfg.name, namespace = %self.cfg.namespace, "released the Lease");
                Ok(())
            }
            Err(e) if is_conflict(&e) => match self.api.get_opt(&self.cfg.name).await? {
                Some(current)
                    if holder_of(&spec_of(&current)) == Some(self.cfg.identity.as_str()) =>
                {
                    self.lease = current;
                    Err(e)
                }
                // Someone else's now, or gone: nothing of ours to release.
                _ => Ok(()),
            },
            Err(e) => Err(e),
        }
    }
}
