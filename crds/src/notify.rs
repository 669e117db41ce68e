//! Notification sinks: where turnout posts what happened on a host (a
//! switch began, succeeded or failed, the host is blocked, ...). A plan and
//! a selection each name their own; the effective sinks are the plan's
//! followed by the selection's.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plan::SecretSource;

/// One place turnout posts events to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notification {
    /// The sink's name, unique in its list: lowercase letters, digits and
    /// `-`, at most 63 characters. Logs name a sink by it, never by its URL.
    pub name: String,
    /// `Webhook` (a JSON document per event) or `Slack` (a Slack-compatible
    /// incoming webhook).
    pub kind: SinkKind,
    /// Where the URL comes from. The URL is a secret (it often carries a
    /// token): `env` or `file` in standalone mode, `secretKeyRef` under the
    /// Kubernetes operator. It must be an http:// or https:// URL.
    pub url: SecretSource,
    /// The events posted (default: all): `SwitchStarted`, `SwitchSucceeded`,
    /// `SwitchFailed`, `SwitchRolledBack`, `SyncFailed`, `HostBlocked`,
    /// `DriftCorrected`, `CrashLoop`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// How a sink's payload is shaped.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum SinkKind {
    /// `POST` of a JSON document describing the event.
    Webhook,
    /// `POST` of `{"text": "..."}`, one readable line.
    Slack,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Webhook => "Webhook",
            SinkKind::Slack => "Slack",
        }
    }
}

/// What turnout tells a sink about; the names are stable.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotifyEvent {
    /// A switch to another version began.
    SwitchStarted,
    /// A switch finished and the new version runs.
    SwitchSucceeded,
    /// A switch failed.
    SwitchFailed,
    /// A switch failed and the previous version was put back.
    SwitchRolledBack,
    /// Copying a version's data failed.
    SyncFailed,
    /// Something turnout does not manage stands in the way (a port, a name).
    HostBlocked,
    /// turnout put back a host someone changed by hand.
    DriftCorrected,
    /// turnout stopped restarting a container that keeps going down.
    CrashLoop,
}

impl NotifyEvent {
    /// Every event, in a stable order.
    pub const ALL: [NotifyEvent; 8] = [
        NotifyEvent::SwitchStarted,
        NotifyEvent::SwitchSucceeded,
        NotifyEvent::SwitchFailed,
        NotifyEvent::SwitchRolledBack,
        NotifyEvent::SyncFailed,
        NotifyEvent::HostBlocked,
        NotifyEvent::DriftCorrected,
        NotifyEvent::CrashLoop,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::SwitchStarted => "SwitchStarted",
            NotifyEvent::SwitchSucceeded => "SwitchSucceeded",
            NotifyEvent::SwitchFailed => "SwitchFailed",
            NotifyEvent::SwitchRolledBack => "SwitchRolledBack",
            NotifyEvent::SyncFailed => "SyncFailed",
            NotifyEvent::HostBlocked => "HostBlocked",
            NotifyEvent::DriftCorrected => "DriftCorrected",
            NotifyEvent::CrashLoop => "CrashLoop",
        }
    }

    /// The event of that name.
    pub fn from_name(name: &str) -> Option<NotifyEvent> {
        NotifyEvent::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl Notification {
    /// Whether this sink wants `event` (no list: every event). An unknown
    /// name in the list matches nothing (validation refuses it).
    pub fn wants(&self, event: NotifyEvent) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event.as_str())
    }
}
