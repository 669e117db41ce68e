//! DataSync SyncFailed derivation: told once per failure, again after a
//! success or for a changed spec, with the DataSync's own fields.

use super::*;

fn spec(from: &str, to: &str) -> DataSyncSpec {
    serde_json::from_value(serde_json::json!({"planRef": "app", "from": from, "to": to})).unwrap()
}

fn status(phase: SyncPhase, message: &str) -> DataSyncStatus {
    DataSyncStatus {
        phase: Some(phase),
        message: Some(message.to_string()),
        ..Default::default()
    }
}

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

const NOW: &str = "2026-11-30T10:00:06Z";
const EXPORT_FAILED: &str = "[Command] export of state on app-a-web exited 3: boom";

/// The events of a sequence of attempts of one DataSync `seed` (namespace
/// `shop`), each with its spec and status.
fn told(attempts: &[(&DataSyncSpec, DataSyncStatus)]) -> Vec<Option<Event>> {
    let mut memory = SyncMemory::default();
    attempts
        .iter()
        .map(|(spec, status)| {
            let ds = FinishedSync {
                key: "shop.seed.uid-1",
                selection: "shop/seed".into(),
                plan: "app",
                name: "seed",
                spec,
                status,
            };
            derive_sync("db-1", &ds, &mut memory, at(NOW))
        })
        .collect()
}

fn count(events: &[Option<Event>]) -> Vec<bool> {
    events.iter().map(Option::is_some).collect()
}

#[test]
fn a_failed_datasync_gives_one_sync_failed_with_its_own_fields() {
    let s = spec("a", "b");
    let events = told(&[(&s, status(SyncPhase::Failed, EXPORT_FAILED))]);
    let e = events[0].clone().expect("a SyncFailed");
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        serde_json::json!({
            "event": "SyncFailed",
            "selection": "shop/seed",
            "plan": "app",
            "host": "db-1",
            "from": "a",
            "to": "b",
            "reason": "Command",
            "message": EXPORT_FAILED,
            "dataSync": "seed",
            "time": NOW,
        })
    );
}

#[test]
fn a_datasync_that_stays_failed_is_told_once() {
    let s = spec("a", "b");
    let failed = || (&s, status(SyncPhase::Failed, EXPORT_FAILED));
    let waiting = (&s, status(SyncPhase::Pending, "waiting"));
    let running = (&s, status(SyncPhase::Running, "copying"));
    let events = told(&[failed(), failed(), waiting, running, failed()]);
    assert_eq!(count(&events), [true, false, false, false, false]);
}

#[test]
fn a_failure_after_a_success_or_of_a_changed_spec_is_a_new_one() {
    let (s, changed) = (spec("a", "b"), spec("a", "c"));
    let events = told(&[
        (&s, status(SyncPhase::Failed, EXPORT_FAILED)),
        (
            &s,
            status(SyncPhase::Succeeded, "copied 1 binding(s) from a to b"),
        ),
        (&s, status(SyncPhase::Failed, EXPORT_FAILED)),
        (&changed, status(SyncPhase::Failed, EXPORT_FAILED)),
        (&changed, status(SyncPhase::Failed, EXPORT_FAILED)),
        // Changed back: a spec other than the last one told.
        (&s, status(SyncPhase::Failed, EXPORT_FAILED)),
    ]);
    assert_eq!(count(&events), [true, false, true, true, false, true]);
    assert_eq!(events[3].as_ref().unwrap().to.as_deref(), Some("c"));
}

#[test]
fn successes_waits_and_runs_are_not_told() {
    let s = spec("a", "b");
    let events = told(&[
        (&s, status(SyncPhase::Pending, "waiting for b to stop")),
        (&s, status(SyncPhase::Running, "copying")),
        (&s, status(SyncPhase::Succeeded, "copied")),
        (&s, DataSyncStatus::default()),
    ]);
    assert_eq!(count(&events), [false; 4]);
}

#[test]
fn the_reason_is_the_messages_own_name_else_sync_failed() {
    for (message, reason) in [
        ("[InvalidDataSync] 1 rule(s) broken", "InvalidDataSync"),
        (
            "cannot record the DataSync in /state: disk full",
            "SyncFailed",
        ),
        ("[not a name] x", "SyncFailed"),
        ("[] x", "SyncFailed"),
        ("[Unclosed", "SyncFailed"),
        (&format!("[{}] x", "A".repeat(65)), "SyncFailed"),
    ] {
        let s = spec("a", "b");
        let e = told(&[(&s, status(SyncPhase::Failed, message))])[0]
            .clone()
            .unwrap();
        assert_eq!(e.reason.as_deref(), Some(reason), "{message}");
        assert_eq!(e.message.as_deref(), Some(message));
    }
}

#[test]
fn a_long_message_is_capped_and_missing_versions_are_left_out() {
    let s = spec("", "b");
    let long = format!("[Command] {}", "x".repeat(5000));
    let e = told(&[(&s, status(SyncPhase::Failed, &long))])[0]
        .clone()
        .unwrap();
    let message = e.message.unwrap();
    assert_eq!(
        message.chars().count(),
        crate::notify::derive::MAX_MESSAGE + 3
    );
    assert!(message.ends_with("..."));
    assert_eq!((e.from, e.to.as_deref()), (None, Some("b")));
}
