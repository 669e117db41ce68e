//! What a sink receives: the generic webhook's JSON document (the event
//! itself, absent fields left out) or a Slack-compatible `{"text": ...}`
//! line. Messages come from conditions, which never carry a secret; the
//! sink's URL is never part of a payload.

use turnout_crds::notify::{NotifyEvent, SinkKind};

use super::Event;

/// The body posted to a sink of `kind`.
pub fn body(kind: SinkKind, e: &Event) -> Vec<u8> {
    let value = match kind {
        SinkKind::Webhook => serde_json::to_value(e).unwrap_or_default(),
        SinkKind::Slack => serde_json::json!({ "text": slack_text(e) }),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

/// One readable line for a chat channel, with Slack's control characters
/// escaped (a message holding `<!channel>` must not ping anyone).
pub fn slack_text(e: &Event) -> String {
    let who = format!("{} on {}", e.selection, e.host);
    let from_to = match (&e.from, &e.to) {
        (Some(f), Some(t)) => format!("from {f} to {t}"),
        (None, Some(t)) => format!("to {t}"),
        _ => String::new(),
    };
    let why = match (&e.reason, &e.message) {
        (Some(r), Some(m)) => format!("{r}: {m}"),
        (None, Some(m)) => m.clone(),
        (Some(r), None) => r.clone(),
        (None, None) => String::new(),
    };
    let line = match e.event {
        NotifyEvent::SwitchStarted => format!("turnout: {who}: switching {from_to}"),
        NotifyEvent::SwitchSucceeded => {
            format!("turnout: {who}: switched {from_to}{}", timings(e))
        }
        NotifyEvent::SwitchFailed => {
            format!("turnout: {who}: the switch {from_to} failed: {why}")
        }
        NotifyEvent::SwitchRolledBack => {
            format!("turnout: {who}: the switch {from_to} failed and was rolled back: {why}")
        }
        // A DataSync's own failure: `selection` names the DataSync.
        NotifyEvent::SyncFailed if e.data_sync.is_some() => {
            format!("turnout: DataSync {who}: the copy {from_to} failed: {why}")
        }
        NotifyEvent::SyncFailed => format!("turnout: {who}: a data sync failed: {why}"),
        NotifyEvent::HostBlocked => format!("turnout: {who} is blocked: {why}"),
        NotifyEvent::DriftCorrected => format!(
            "turnout: {who}: put back a change made by hand ({} more folded into this one)",
            e.folded.unwrap_or(0)
        ),
        NotifyEvent::CrashLoop => format!("turnout: {who}: crash loop: {why}"),
    };
    escape(&line)
}

fn timings(e: &Event) -> String {
    let Some(p) = &e.phases else {
        return String::new();
    };
    let parts: Vec<String> = [
        ("stop", p.stop_ms),
        ("sync", p.sync_ms),
        ("start", p.start_ms),
        ("ready", p.ready_ms),
    ]
    .into_iter()
    .filter_map(|(name, ms)| ms.map(|ms| format!("{name} {ms} ms")))
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use turnout_crds::selection::PhaseTimings;

    fn succeeded() -> Event {
        Event {
            event: NotifyEvent::SwitchSucceeded,
            selection: "shop/host".into(),
            plan: "app".into(),
            host: "db-1".into(),
            from: Some("dao".into()),
            to: Some("blockchain".into()),
            phases: Some(PhaseTimings {
                stop_ms: Some(120),
                sync_ms: None,
                start_ms: Some(300),
                ready_ms: Some(45),
                rollback_ms: None,
            }),
            reason: Some("Converged".into()),
            message: Some("version blockchain is running; 2 container(s) ready".into()),
            folded: None,
            data_sync: None,
            time: "2026-11-30T10:00:00Z".into(),
        }
    }

    fn json(kind: SinkKind, e: &Event) -> serde_json::Value {
        serde_json::from_slice(&body(kind, e)).unwrap()
    }

    #[test]
    fn the_webhook_document_is_the_event_with_absent_fields_left_out() {
        assert_eq!(
            json(SinkKind::Webhook, &succeeded()),
            serde_json::json!({
                "event": "SwitchSucceeded",
                "selection": "shop/host",
                "plan": "app",
                "host": "db-1",
                "from": "dao",
                "to": "blockchain",
                "phases": {"stopMs": 120, "startMs": 300, "readyMs": 45},
                "reason": "Converged",
                "message": "version blockchain is running; 2 container(s) ready",
                "time": "2026-11-30T10:00:00Z"
            })
        );
    }

    #[test]
    fn a_first_start_has_no_from_and_a_started_switch_no_phases() {
        let mut e = succeeded();
        e.event = NotifyEvent::SwitchStarted;
        e.from = None;
        e.phases = None;
        e.reason = None;
        e.message = None;
        assert_eq!(
            json(SinkKind::Webhook, &e),
            serde_json::json!({
                "event": "SwitchStarted", "selection": "shop/host", "plan": "app",
                "host": "db-1", "to": "blockchain", "time": "2026-11-30T10:00:00Z"
            })
        );
    }

    #[test]
    fn slack_gets_one_line_of_text() {
        assert_eq!(
            json(SinkKind::Slack, &succeeded()),
            serde_json::json!({
                "text": "turnout: shop/host on db-1: switched from dao to blockchain (stop 120 ms, start 300 ms, ready 45 ms)"
            })
        );
    }

    #[test]
    fn slack_text_escapes_mentions_and_markup() {
        let mut e = succeeded();
        e.event = NotifyEvent::HostBlocked;
        e.reason = Some("PortConflict".into());
        e.message = Some("held by <!channel> & co".into());
        assert_eq!(
            slack_text(&e),
            "turnout: shop/host on db-1 is blocked: PortConflict: held by &lt;!channel&gt; &amp; co"
        );
    }

    #[test]
    fn a_datasync_failure_names_the_datasync() {
        let mut e = succeeded();
        e.event = NotifyEvent::SyncFailed;
        e.selection = "shop/seed".into();
        e.phases = None;
        e.reason = Some("Command".into());
        e.message = Some("[Command] export exited 3".into());
        e.data_sync = Some("seed".into());
        assert_eq!(json(SinkKind::Webhook, &e)["dataSync"], "seed");
        assert_eq!(
            slack_text(&e),
            "turnout: DataSync shop/seed on db-1: the copy from dao to blockchain failed: Command: [Command] export exited 3"
        );
    }

    #[test]
    fn a_drift_event_says_how_many_were_folded() {
        let mut e = succeeded();
        e.event = NotifyEvent::DriftCorrected;
        e.folded = Some(3);
        let v = json(SinkKind::Webhook, &e);
        assert_eq!(v["folded"], 3);
        assert!(
            slack_text(&e).contains("3 more folded"),
            "{}",
            slack_text(&e)
        );
    }
}
