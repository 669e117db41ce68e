//! Event derivation: each event once per transition, switch records by
//! outcome, drift folded within its window.

use super::*;
use turnout_crds::selection::{Condition, PhaseTimings};

fn who() -> Subject {
    Subject {
        selection: "shop/host".into(),
        plan: "app".into(),
        host: "db-1".into(),
    }
}

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

fn record(to: &str, outcome: &str, started: &str) -> SwitchRecord {
    SwitchRecord {
        from: Some("dao".into()),
        to: to.into(),
        started_at: started.into(),
        finished_at: Some("2026-11-30T10:00:05Z".into()),
        outcome: outcome.into(),
        message: (outcome != "Succeeded").then(|| "the data sync dao -> x failed".into()),
        phases: PhaseTimings {
            stop_ms: Some(10),
            sync_ms: Some(20),
            start_ms: Some(30),
            ready_ms: Some(40),
            rollback_ms: None,
        },
        data_sync: None,
    }
}

fn status(history: Vec<SwitchRecord>, reason: &str) -> VersionSelectionStatus {
    VersionSelectionStatus {
        history,
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: if reason == "Converged" {
                "True"
            } else {
                "False"
            }
            .into(),
            reason: reason.into(),
            message: format!("message of {reason}"),
            last_transition_time: "2026-11-30T10:00:00Z".into(),
            observed_generation: None,
        }],
        ..Default::default()
    }
}

fn kinds(events: &[Event]) -> Vec<NotifyEvent> {
    events.iter().map(|e| e.event).collect()
}

fn observed() -> Facts {
    Facts {
        observed: true,
        ..Facts::default()
    }
}

fn blocked() -> Facts {
    Facts {
        blocked: Some(("PortConflict".into(), "host port 8000/tcp is held".into())),
        ..observed()
    }
}

const NOW: &str = "2026-11-30T10:00:06Z";

#[test]
fn a_new_switch_record_gives_one_event_by_its_outcome() {
    for (outcome, kind) in [
        ("Succeeded", NotifyEvent::SwitchSucceeded),
        ("Failed", NotifyEvent::SwitchFailed),
        ("RolledBack", NotifyEvent::SwitchRolledBack),
    ] {
        let prev = status(
            vec![record("dao", "Succeeded", "2026-11-30T09:00:00Z")],
            "Converged",
        );
        let mut history = prev.history.clone();
        history.insert(0, record("blockchain", outcome, "2026-11-30T10:00:00Z"));
        let new = status(history, "Converged");
        let mut m = Memory::default();
        let events = derive(&who(), Some(&prev), &new, &observed(), &mut m, at(NOW));
        assert_eq!(kinds(&events), [kind], "{outcome}");
        let e = &events[0];
        assert_eq!(e.from.as_deref(), Some("dao"));
        assert_eq!(e.to.as_deref(), Some("blockchain"));
        assert_eq!(e.phases.as_ref().and_then(|p| p.ready_ms), Some(40));
        assert_eq!(e.time, "2026-11-30T10:00:05Z");
        assert_eq!(e.reason.as_deref(), Some("Converged"));
        // The same status again (the next reconcile) says nothing more.
        let again = derive(&who(), Some(&new), &new, &observed(), &mut m, at(NOW));
        assert!(again.is_empty(), "{again:?}");
    }
}

#[test]
fn a_failed_switch_carries_the_record_message_and_the_ready_reason() {
    let new = status(vec![record("blockchain", "Failed", "t")], "SyncFailed");
    let events = derive(
        &who(),
        None,
        &new,
        &observed(),
        &mut Memory::default(),
        at(NOW),
    );
    assert_eq!(kinds(&events), [NotifyEvent::SwitchFailed]);
    assert_eq!(events[0].reason.as_deref(), Some("SyncFailed"));
    assert_eq!(
        events[0].message.as_deref(),
        Some("the data sync dao -> x failed")
    );
}

#[test]
fn an_in_progress_record_or_an_unchanged_history_gives_nothing() {
    let new = status(vec![record("blockchain", "InProgress", "t")], "Unhealthy");
    let none = derive(
        &who(),
        None,
        &new,
        &observed(),
        &mut Memory::default(),
        at(NOW),
    );
    assert!(none.is_empty());
    let prev = status(vec![record("dao", "Succeeded", "t")], "Converged");
    let none = derive(
        &who(),
        Some(&prev),
        &prev,
        &observed(),
        &mut Memory::default(),
        at(NOW),
    );
    assert!(none.is_empty());
}

#[test]
fn a_host_blocked_for_many_reconciles_is_told_once_and_again_after_it_clears() {
    let s = status(vec![], "PortConflict");
    let mut m = Memory::default();
    let mut told = Vec::new();
    for facts in [
        blocked(),
        blocked(),
        blocked(),
        observed(),
        blocked(),
        blocked(),
    ] {
        told.push(derive(&who(), Some(&s), &s, &facts, &mut m, at(NOW)).len());
    }
    assert_eq!(told, [1, 0, 0, 0, 1, 0]);
    let mut m = Memory::default();
    let e = derive(&who(), None, &s, &blocked(), &mut m, at(NOW));
    assert_eq!(kinds(&e), [NotifyEvent::HostBlocked]);
    assert_eq!(e[0].reason.as_deref(), Some("PortConflict"));
    assert_eq!(e[0].message.as_deref(), Some("host port 8000/tcp is held"));
}

#[test]
fn an_engine_that_does_not_answer_neither_clears_nor_repeats_a_blocker() {
    let s = status(vec![], "PortConflict");
    let mut m = Memory::default();
    let unobserved = Facts::default();
    let mut told = Vec::new();
    for facts in [
        blocked(),
        unobserved.clone(),
        blocked(),
        unobserved,
        blocked(),
    ] {
        told.push(derive(&who(), Some(&s), &s, &facts, &mut m, at(NOW)).len());
    }
    assert_eq!(told, [1, 0, 0, 0, 0]);
}

#[test]
fn sync_failures_and_crash_loops_are_told_on_their_transition() {
    let s = status(vec![], "SyncFailed");
    let mut m = Memory::default();
    let sync = Facts {
        sync_failed: Some("the data sync dao -> blockchain failed".into()),
        ..observed()
    };
    let crash = Facts {
        crash_loop: Some("container app-1 went down 5 time(s)".into()),
        ..observed()
    };
    let seq = [sync.clone(), sync, observed(), crash.clone(), crash];
    let told: Vec<Vec<NotifyEvent>> = seq
        .iter()
        .map(|f| kinds(&derive(&who(), Some(&s), &s, f, &mut m, at(NOW))))
        .collect();
    assert_eq!(
        told,
        [
            vec![NotifyEvent::SyncFailed],
            vec![],
            vec![],
            vec![NotifyEvent::CrashLoop],
            vec![]
        ]
    );
}

#[test]
fn drift_is_told_at_most_once_per_window_and_says_how_many_were_folded() {
    let s = status(vec![], "Converged");
    let drift = Facts {
        drift_corrected: true,
        ..observed()
    };
    let mut m = Memory::default();
    let mut at_min = |min: u32| {
        let t = at("2026-11-30T10:00:00Z") + jiff::SignedDuration::from_mins(i64::from(min));
        derive(&who(), Some(&s), &s, &drift, &mut m, t)
    };
    let first = at_min(0);
    assert_eq!(kinds(&first), [NotifyEvent::DriftCorrected]);
    assert_eq!(first[0].folded, Some(0));
    assert!(at_min(1).is_empty());
    assert!(at_min(2).is_empty());
    assert!(at_min(4).is_empty());
    let next = at_min(5);
    assert_eq!(kinds(&next), [NotifyEvent::DriftCorrected]);
    assert_eq!(next[0].folded, Some(3));
    assert!(at_min(9).is_empty());
}

#[test]
fn messages_are_capped() {
    let long = "x".repeat(5000);
    let s = status(vec![], "PortConflict");
    let f = Facts {
        blocked: Some(("PortConflict".into(), long)),
        ..observed()
    };
    let e = derive(&who(), None, &s, &f, &mut Memory::default(), at(NOW));
    let m = e[0].message.as_deref().unwrap();
    assert_eq!(m.chars().count(), MAX_MESSAGE + 3);
}
