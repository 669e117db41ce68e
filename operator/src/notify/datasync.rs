//! SyncFailed for DataSyncs run on their own (the desired file's
//! DataSyncs standalone, the DataSync controller's under Kubernetes),
//! derived from each finished attempt: pure, so every transition is tested
//! without a host. A failure is told once: the same spec failing again
//! (an attempt whose record could not be written runs again) is not told
//! again; a failure after a success, or of a changed spec, is a new one.

use turnout_crds::datasync::{DataSyncSpec, DataSyncStatus, SyncPhase};
use turnout_crds::notify::NotifyEvent;

use super::Event;
use super::derive::{Subject, cap};

/// DataSyncs remembered at most per turnout process: a cluster's deleted
/// DataSyncs must not grow the memory without bound.
pub const MAX_REMEMBERED: usize = 4096;

/// The longest reason taken from a DataSync's message (`[Reason] ...`).
const MAX_REASON: usize = 64;

/// A DataSync that finished an attempt, as its events name it.
#[derive(Clone, Debug)]
pub struct FinishedSync<'a> {
    /// Where its memory is kept: unique per DataSync object (Kubernetes:
    /// namespace, name and UID; standalone: its name).
    pub key: &'a str,
    /// `namespace/name` under Kubernetes, the DataSync's name standalone.
    pub selection: String,
    /// The plan it ran against.
    pub plan: &'a str,
    /// The DataSync's name.
    pub name: &'a str,
    pub spec: &'a DataSyncSpec,
    /// What the attempt ended with.
    pub status: &'a DataSyncStatus,
}

/// What the notifications remember of one DataSync between attempts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncMemory {
    /// The spec whose failure was told (and not followed by a success).
    told_failed: Option<DataSyncSpec>,
}

/// The event of one finished attempt, updating `memory`: a SyncFailed when
/// the attempt failed and this spec's failure was not told already.
pub fn derive_sync(
    host: &str,
    ds: &FinishedSync<'_>,
    memory: &mut SyncMemory,
    now: jiff::Timestamp,
) -> Option<Event> {
    match ds.status.phase {
        Some(SyncPhase::Succeeded) => {
            memory.told_failed = None;
            None
        }
        Some(SyncPhase::Failed) => {
            if memory.told_failed.as_ref() == Some(ds.spec) {
                return None;
            }
            memory.told_failed = Some(ds.spec.clone());
            Some(failed(host, ds, now))
        }
        // Waiting or under way: says nothing about the last failure told.
        Some(SyncPhase::Pending | SyncPhase::Running) | None => None,
    }
}

fn failed(host: &str, ds: &FinishedSync<'_>, now: jiff::Timestamp) -> Event {
    let who = Subject {
        selection: ds.selection.clone(),
        plan: ds.plan.to_string(),
        host: host.to_string(),
    };
    let message = ds
        .status
        .message
        .as_deref()
        .unwrap_or("the DataSync failed without a message");
    let named = |v: &str| (!v.is_empty()).then(|| v.to_string());
    let mut e = who.event(NotifyEvent::SyncFailed, now);
    e.from = named(&ds.spec.from);
    e.to = named(&ds.spec.to);
    e.reason = Some(reason_of(message).to_string());
    e.message = Some(cap(message));
    e.data_sync = Some(ds.name.to_string());
    e
}

/// The stable reason a DataSync's failure message starts with
/// (`[ExportFailed] ...`), else `SyncFailed`: only a plain name is taken,
/// never other text of the message.
fn reason_of(message: &str) -> &str {
    message
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .map(|(name, _)| name)
        .filter(|name| {
            !name.is_empty()
                && name.len() <= MAX_REASON
                && name.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .unwrap_or("SyncFailed")
}

#[cfg(test)]
#[path = "datasync_tests.rs"]
mod tests;
