//! Which events a reconcile gives, derived from the previous status, the
//! new one and a few facts of the outcome: pure, so every transition is
//! tested without a host. Conditions that last (a blocked host, a crash
//! loop, a failed sync) are told once when they begin, and again only
//! after they cleared; drift corrections are folded to at most one event
//! per selection per [`DRIFT_WINDOW`].

use std::time::Duration;

use turnout_crds::notify::NotifyEvent;
use turnout_crds::selection::{SwitchRecord, VersionSelectionStatus};

use super::Event;
use crate::core::Blocker;
use crate::reconcile::{ApplyError, Outcome};

/// At most one DriftCorrected per selection in this window.
pub const DRIFT_WINDOW: Duration = Duration::from_secs(5 * 60);

/// The longest message an event carries (characters).
pub const MAX_MESSAGE: usize = 1024;

/// What a reconcile's outcome says beyond its status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Whether the host was seen at all: an invalid spec or an engine that
    /// did not answer says nothing about blockers or crash loops.
    pub observed: bool,
    /// Something turnout does not manage stands in the way: reason, message.
    pub blocked: Option<(String, String)>,
    /// A data copy failed (this reconcile, or the switch waits on an earlier failure).
    pub sync_failed: Option<String>,
    /// A container turnout stopped restarting.
    pub crash_loop: Option<String>,
    /// The reconcile put back a converged host someone changed.
    pub drift_corrected: bool,
}

impl Facts {
    /// The facts of `outcome`; `was_converged`: the same spec had converged before.
    pub fn of(outcome: &Outcome, was_converged: bool) -> Facts {
        let mut f = Facts {
            observed: true,
            ..Facts::default()
        };
        match outcome {
            Outcome::Invalid(_) | Outcome::Unobserved(_) => f.observed = false,
            Outcome::Paused { .. } => {}
            Outcome::Blocked { blockers, .. } => {
                let (sync, host): (Vec<&Blocker>, Vec<&Blocker>) = blockers
                    .iter()
                    .partition(|b| matches!(b, Blocker::SyncFailed { .. }));
                f.sync_failed = sync.first().map(|b| b.to_string());
                if let Some(first) = host.first() {
                    let all: Vec<String> = host.iter().map(ToString::to_string).collect();
                    f.blocked = Some((first.reason().to_string(), all.join("; ")));
                }
            }
            Outcome::Applied(a) => {
                match &a.error {
                    Some(e @ ApplyError::Sync { .. }) => f.sync_failed = Some(e.to_string()),
                    Some(e @ ApplyError::CrashLoop { .. }) => f.crash_loop = Some(e.to_string()),
                    _ => {}
                }
                f.drift_corrected = !a.done.is_empty() && was_converged && a.switch.is_none();
            }
        }
        f
    }
}

/// What one selection's notifications remember between reconciles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    blocked: bool,
    sync_failed: bool,
    crash_loop: bool,
    /// When the last DriftCorrected went out, and how many were folded since.
    drift_sent: Option<jiff::Timestamp>,
    drift_folded: u32,
}

/// Who the events are about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// `namespace/name` under Kubernetes, the file's selection name standalone.
    pub selection: String,
    pub plan: String,
    pub host: String,
}

impl Subject {
    /// An event of `kind` about this subject at `now`, with nothing else set.
    pub fn event(&self, kind: NotifyEvent, now: jiff::Timestamp) -> Event {
        Event {
            event: kind,
            selection: self.selection.clone(),
            plan: self.plan.clone(),
            host: self.host.clone(),
            from: None,
            to: None,
            phases: None,
            reason: None,
            message: None,
            folded: None,
            data_sync: None,
            time: now.to_string(),
        }
    }
}

/// The events after a reconcile, updating `memory`.
pub fn derive(
    who: &Subject,
    prev: Option<&VersionSelectionStatus>,
    new: &VersionSelectionStatus,
    facts: &Facts,
    memory: &mut Memory,
    now: jiff::Timestamp,
) -> Vec<Event> {
    let mut out = Vec::new();
    if let Some(e) = new_switch(who, prev, new, now) {
        out.push(e);
    }
    if !facts.observed {
        return out;
    }
    let with = |kind, reason: Option<&str>, message: &str| {
        let mut e = who.event(kind, now);
        e.reason = reason.map(str::to_string);
        e.message = Some(cap(message));
        e
    };
    if let Some((reason, message)) = &facts.blocked
        && !memory.blocked
    {
        out.push(with(NotifyEvent::HostBlocked, Some(reason), message));
    }
    memory.blocked = facts.blocked.is_some();
    if let Some(message) = &facts.sync_failed
        && !memory.sync_failed
    {
        out.push(with(NotifyEvent::SyncFailed, Some("SyncFailed"), message));
    }
    memory.sync_failed = facts.sync_failed.is_some();
    if let Some(message) = &facts.crash_loop
        && !memory.crash_loop
    {
        out.push(with(NotifyEvent::CrashLoop, Some("CrashLoop"), message));
    }
    memory.crash_loop = facts.crash_loop.is_some();
    if facts.drift_corrected {
        out.extend(drift(who, memory, now));
    }
    out
}

/// A DriftCorrected, unless one went out within [`DRIFT_WINDOW`]: then
/// this correction is folded into the next one.
fn drift(who: &Subject, memory: &mut Memory, now: jiff::Timestamp) -> Option<Event> {
    let window = jiff::SignedDuration::try_from(DRIFT_WINDOW).unwrap_or(jiff::SignedDuration::MAX);
    if memory
        .drift_sent
        .is_some_and(|sent| now.duration_since(sent) < window)
    {
        memory.drift_folded = memory.drift_folded.saturating_add(1);
        return None;
    }
    let mut e = who.event(NotifyEvent::DriftCorrected, now);
    e.reason = Some("DriftCorrected".to_string());
    e.message = Some(
        "turnout put back containers that were changed by hand on a converged host".to_string(),
    );
    e.folded = Some(memory.drift_folded);
    memory.drift_sent = Some(now);
    memory.drift_folded = 0;
    Some(e)
}

/// The event of a switch record that is new at the head of the history.
fn new_switch(
    who: &Subject,
    prev: Option<&VersionSelectionStatus>,
    new: &VersionSelectionStatus,
    now: jiff::Timestamp,
) -> Option<Event> {
    let head = new.history.first()?;
    if prev.and_then(|p| p.history.first()) == Some(head) {
        return None;
    }
    let kind = match head.outcome.as_str() {
        "Succeeded" => NotifyEvent::SwitchSucceeded,
        "Failed" => NotifyEvent::SwitchFailed,
        "RolledBack" => NotifyEvent::SwitchRolledBack,
        _ => return None,
    };
    Some(switch_event(who, kind, head, new, now))
}

fn switch_event(
    who: &Subject,
    kind: NotifyEvent,
    record: &SwitchRecord,
    new: &VersionSelectionStatus,
    now: jiff::Timestamp,
) -> Event {
    let ready = crate::status::ready_condition(new);
    let mut e = who.event(kind, now);
    if let Some(t) = record
        .finished_at
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    {
        e.time = t.to_string();
    }
    e.from = record.from.clone();
    e.to = Some(record.to.clone());
    e.phases = Some(record.phases.clone());
    e.reason = ready.map(|c| c.reason.clone());
    e.message = record
        .message
        .as_deref()
        .or(ready.map(|c| c.message.as_str()))
        .map(cap);
    e
}

/// `text` cut to [`MAX_MESSAGE`] characters.
pub fn cap(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}...", &text[..cut]),
    }
}

#[cfg(test)]
#[path = "derive_tests.rs"]
mod tests;
