//! Crash loops: a container of what should run that goes down is started
//! again, but after the limit of restarts within the window turnout holds
//! it and reports CrashLoop with its exit code and last log lines, until
//! the spec changes. Switches are not restarts.

use std::sync::Arc;
use std::time::Duration;

use turnout::core::RunState;
use turnout::reconcile::{ApplyError, CrashLimit, Run};
use turnout::runtime::memory::{Call, MemoryRuntime};
use turnout::status::status_of;

use super::*;

fn guarded(rt: &Arc<MemoryRuntime>, dir: &Path) -> TestReconciler {
    reconciler_with(rt, StaticHost::default(), dir).with_crash_limit(CrashLimit {
        restarts: 3,
        window: Duration::from_secs(300),
    })
}

use std::path::Path;

#[tokio::test]
async fn a_container_that_keeps_crashing_is_held_and_reported_with_its_exit_code_and_log() {
    let rt = runtime_with_images();
    let dir = temp_dir("crash");
    let r = guarded(&rt, &dir);
    assert!(applied(r.reconcile(&target("a"), &Run::default()).await).converged());
    rt.take_calls();

    for n in 1..=3 {
        rt.crash("a-api", 2, "starting\nfatal: /etc/api.conf missing\n");
        let a = applied(r.reconcile(&target("a"), &Run::default()).await);
        assert!(a.converged(), "restart {n} is fine: {a:#?}");
        assert_eq!(mutating(&rt.take_calls()), [Call::Start(c("a-api"))]);
    }
    rt.crash("a-api", 2, "starting\nfatal: /etc/api.conf missing\n");
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    match &a.error {
        Some(
            e @ ApplyError::CrashLoop {
                container,
                restarts,
                exit_code,
                log_tail,
                ..
            },
        ) => {
            assert_eq!(container, "a-api");
            assert_eq!(*restarts, 3);
            assert_eq!(exit_code, "2");
            assert!(
                log_tail.contains("fatal: /etc/api.conf missing"),
                "{log_tail}"
            );
            assert!(!log_tail.contains('\n'));
            assert_eq!(e.reason(), "CrashLoop");
        }
        other => panic!("expected CrashLoop, got {other:?}"),
    }
    assert!(mutating(&rt.take_calls()).is_empty(), "held: not started");
    assert!(!rt.running().contains("a-api"));
    let status = status_of(&target("a"), &Outcome::Applied(a), None);
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .expect("Degraded");
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "CrashLoop")
    );
    assert!(
        degraded.message.contains("exit code 2"),
        "{}",
        degraded.message
    );

    // Still held on the next reconcile of the same spec.
    let again = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(matches!(again.error, Some(ApplyError::CrashLoop { .. })));
    assert!(mutating(&rt.take_calls()).is_empty());

    // A changed spec tries again.
    let plan = shop().edit("a-api", |c| c.stop_timeout(8));
    let fixed = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
    assert!(fixed.converged(), "{fixed:#?}");
    assert!(rt.running().contains("a-api"));
}

#[tokio::test]
async fn switching_back_and_forth_is_not_a_crash_loop() {
    let rt = runtime_with_images();
    let dir = temp_dir("crash-switch");
    let r = guarded(&rt, &dir);
    for v in ["a", "b", "a", "b", "a", "b", "a", "b", "a"] {
        let a = applied(r.reconcile(&target(v), &Run::default()).await);
        assert!(a.converged(), "switch to {v}: {a:#?}");
    }
    assert!(rt.running().contains("a-web"));
}

#[tokio::test]
async fn a_container_started_by_hand_again_is_no_longer_held() {
    let rt = runtime_with_images();
    let dir = temp_dir("crash-hand");
    let r = guarded(&rt, &dir);
    assert!(applied(r.reconcile(&target("a"), &Run::default()).await).converged());
    for _ in 0..4 {
        rt.crash("a-api", 1, "boom");
        let _ = r.reconcile(&target("a"), &Run::default()).await;
    }
    assert!(!rt.running().contains("a-api"), "held");
    // Someone fixed it and started it by hand: it runs, and is watched again.
    rt.set_state("a-api", RunState::Running);
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged(), "{a:#?}");
}
