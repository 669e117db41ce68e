//! Events: the one place turnout's Kubernetes Events are made and
//! published, and the progress sink that collects a reconcile's actions to
//! publish them after it.

use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tracing::warn;

use crate::core::{Action, ActionKind};
use crate::reconcile::Progress;

/// The recorder of turnout's Events.
pub fn recorder(client: kube::Client) -> Recorder {
    Recorder::new(
        client,
        Reporter {
            controller: "turnout".into(),
            instance: std::env::var("HOSTNAME").ok(),
        },
    )
}

/// Publishes one Event about `regarding`; a failure is logged (an Event is
/// a courtesy, the status says the same). The note is cut to what the API
/// server accepts.
pub async fn publish(
    recorder: &Recorder,
    regarding: &ObjectReference,
    warning: bool,
    reason: &str,
    action: &str,
    note: &str,
) {
    let ev = Event {
        type_: if warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: reason.to_string(),
        note: Some(note.chars().take(1000).collect()),
        action: action.to_string(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&ev, regarding).await {
        warn!(error = %e, reason, "cannot publish an event");
    }
}

/// The Event reason of an action.
pub fn reason_of(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::Stop => "Stopping",
        ActionKind::Remove => "Removing",
        ActionKind::Create => "Creating",
        ActionKind::Start => "Starting",
        ActionKind::WaitReady => "WaitingReady",
        ActionKind::Adopt => "Adopting",
        ActionKind::Pause => "Pausing",
        ActionKind::Unpause => "Unpausing",
    }
}

/// Collects the actions of a reconcile, to publish them as Events after it.
#[derive(Default)]
pub struct Collect {
    done: Mutex<Vec<(Action, Option<String>)>>,
}

impl Collect {
    pub fn take(&self) -> Vec<(Action, Option<String>)> {
        self.done
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

impl Progress for Collect {
    fn started(&self, _: &Action) {}

    fn finished(&self, a: &Action, error: Option<&str>) {
        if let Ok(mut v) = self.done.lock() {
            v.push((a.clone(), error.map(str::to_string)));
        }
    }
}

/// Publishes each action of a reconcile as an Event.
pub async fn publish_actions(
    recorder: &Recorder,
    regarding: &ObjectReference,
    actions: Vec<(Action, Option<String>)>,
) {
    for (a, error) in actions {
        let note = match &error {
            Some(e) => format!("{} {}: {e}", a.kind.as_str(), a.container),
            None => format!("{} {}: {}", a.kind.as_str(), a.container, a.reason),
        };
        publish(
            recorder,
            regarding,
            error.is_some(),
            reason_of(a.kind),
            a.kind.as_str(),
            &note,
        )
        .await;
    }
}
