//! Automatic rollback: a switch whose new version does not become ready,
//! or whose container exits, goes back to the previous version and stays
//! there (no flapping) until the spec changes; a restart keeps the hold.

use std::time::Duration;

use serde_json::json;
use turnout::host::StaticHost;
use turnout::reconcile::Run;
use turnout::runtime::memory::Call;
use turnout::status::status_of;

use super::*;

/// The test plan with a rollback of `deadline` seconds and an exec probe
/// on `b-web` (`check --ready`).
fn watched(deadline: u32) -> PlanBuilder {
    shop()
        .set(
            "rollback",
            json!({"enabled": true, "progressDeadlineSeconds": deadline}),
        )
        .edit("b-web", |c| {
            c.readiness(Probe::exec(&["check", "--ready"]).timeout(60))
        })
}

#[tokio::test]
async fn a_version_that_never_gets_ready_is_rolled_back_by_its_deadline_and_held() {
    let rt = runtime_with_images();
    let dir = temp_dir("rb-deadline");
    let r = reconciler_with(&rt, StaticHost::default(), &dir).with_rollback_records(&*dir);
    let plan = watched(1);
    let a = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    rt.set_exec_exit("b-web", 1);
    rt.take_calls();

    let to_b = target_for(&plan, "b");
    let t0 = std::time::Instant::now();
    let o = r.reconcile(&to_b, &Run::default()).await;
    let status = status_of(&to_b, &o, None);
    let a = applied(o);
    // The deadline (1 s), not the probe's own 60 s timeout, ended the wait.
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    assert!(
        a.error.is_none(),
        "the rollback itself worked: {:?}",
        a.error
    );
    let rb = a.rolled_back.clone().expect("rolled back");
    assert_eq!((rb.failed.as_str(), rb.back_to.as_str()), ("b", "a"));
    assert_eq!(rb.container, "b-web");
    assert_eq!(rb.exit_code, None, "b-web was still running, not ready");
    assert!(rb.cause.contains("within 1s"), "{}", rb.cause);
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
    let m = mutating(&rt.take_calls());
    for stopped in ["b-web", "b-worker"] {
        assert!(
            m.iter()
                .any(|x| matches!(x, Call::Stop(n, _) if n == stopped)),
            "{stopped} stopped by the rollback: {m:?}"
        );
    }
    assert!(m.contains(&Call::Start(c("a-web"))) && m.contains(&Call::Start(c("a-api"))));

    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "RolledBack")
    );
    assert!(ready.message.contains("b-web") && ready.message.contains("went back to a"));
    let record = status.last_switch.clone().expect("the switch is recorded");
    assert_eq!(record.outcome, "RolledBack");
    assert_eq!(
        (record.from.as_deref(), record.to.as_str()),
        (Some("a"), "b")
    );
    assert!(record.phases.rollback_ms.is_some() && record.phases.ready_ms.is_some());
    assert_eq!(status.active_version.as_deref(), Some("a"));

    // The same spec again: nothing is tried, the host stays on a.
    let o = r.reconcile(&to_b, &Run::default()).await;
    let again = status_of(&to_b, &o, Some(&status));
    let a = applied(o);
    assert!(mutating(&rt.take_calls()).is_empty(), "no flapping");
    assert!(a.rolled_back.is_some() && a.switch.is_none());
    let ready = again
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(ready.reason, "RolledBack");
    assert_eq!(again.history.len(), 1, "one switch, recorded once");

    // A restart reads the hold back: still nothing tried.
    let r2 = reconciler_with(&rt, StaticHost::default(), &dir).with_rollback_records(&*dir);
    let a = applied(r2.reconcile(&to_b, &Run::default()).await);
    assert!(a.rolled_back.is_some());
    assert!(
        mutating(&rt.take_calls()).is_empty(),
        "a restart does not retry"
    );

    // Editing the selection (here: a longer deadline) is a new attempt,
    // which succeeds once b-web is healthy.
    rt.set_exec_exit("b-web", 0);
    let edited = target_for(&watched(5), "b");
    let a = applied(r2.reconcile(&edited, &Run::default()).await);
    assert!(a.converged() && a.rolled_back.is_none(), "{:?}", a.error);
    assert_eq!(rt.running(), names(&["db", "b-web", "b-worker"]));
}

#[tokio::test]
async fn a_container_that_exits_during_the_switch_is_rolled_back_with_its_exit_code_and_log() {
    let rt = runtime_with_images();
    let dir = temp_dir("rb-exit");
    let r = reconciler_with(&rt, StaticHost::default(), &dir);
    let plan = watched(30);
    assert!(applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await).converged());
    rt.set_exec_exit("b-web", 1);
    let crasher = {
        let rt = rt.clone();
        tokio::spawn(async move {
            // b-web comes up, then its process dies before it is ready.
            for _ in 0..400 {
                if rt.running().contains("b-web") {
                    rt.crash("b-web", 3, "boom: cannot open /data\n");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let t0 = std::time::Instant::now();
    let a = applied(r.reconcile(&target_for(&plan, "b"), &Run::default()).await);
    crasher.await.expect("crasher");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "the exit is noticed at once"
    );
    let rb = a.rolled_back.expect("rolled back");
    assert_eq!(rb.container, "b-web");
    assert_eq!(rb.exit_code, Some(3));
    assert!(
        rb.log_tail.contains("boom: cannot open /data"),
        "{}",
        rb.log_tail
    );
    assert!(
        rb.message().contains("exited with code 3"),
        "{}",
        rb.message()
    );
    assert!(rb.data.contains("No data was copied"), "{}", rb.data);
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
}

#[tokio::test]
async fn without_rollback_a_failed_switch_stays_failed_as_before() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("rb-off"));
    let plan = shop().edit("b-web", |c| {
        c.readiness(Probe::exec(&["check", "--ready"]).timeout(1))
    });
    assert!(applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await).converged());
    rt.set_exec_exit("b-web", 1);
    let a = applied(r.reconcile(&target_for(&plan, "b"), &Run::default()).await);
    assert!(a.rolled_back.is_none());
    assert_eq!(a.error.as_ref().map(|e| e.reason()), Some("Unhealthy"));
    assert!(rt.running().contains("b-web"), "left as it is");
}

#[tokio::test]
async fn a_first_start_has_nothing_to_go_back_to() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("rb-first"));
    rt.set_exec_exit("b-web", 1);
    let plan = watched(1).edit("b-web", |c| {
        c.readiness(Probe::exec(&["check", "--ready"]).timeout(1))
    });
    let a = applied(r.reconcile(&target_for(&plan, "b"), &Run::default()).await);
    assert!(a.rolled_back.is_none());
    assert_eq!(a.error.as_ref().map(|e| e.reason()), Some("Unhealthy"));
}

#[tokio::test]
async fn under_kubernetes_a_fixed_plan_is_a_new_attempt_though_the_selection_is_unchanged() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("rb-plan-fixed"));
    // A selection object at generation 4: editing its PortPlan does not
    // move that generation.
    let in_cluster = |plan: &PlanBuilder, v: &str| {
        let mut t = target_for(plan, v);
        t.generation = Some(4);
        t
    };
    let broken = watched(1);
    assert!(
        applied(
            r.reconcile(&in_cluster(&broken, "a"), &Run::default())
                .await
        )
        .converged()
    );
    rt.set_exec_exit("b-web", 1);
    let a = applied(
        r.reconcile(&in_cluster(&broken, "b"), &Run::default())
            .await,
    );
    assert!(a.rolled_back.is_some(), "{:?}", a.error);
    rt.take_calls();
    let a = applied(
        r.reconcile(&in_cluster(&broken, "b"), &Run::default())
            .await,
    );
    assert!(a.rolled_back.is_some());
    assert!(
        mutating(&rt.take_calls()).is_empty(),
        "the same spec is held"
    );

    // The plan's probe of b-web was wrong; the fixed one passes.
    let fixed = broken.edit("b-web", |c| {
        c.readiness(Probe::exec(&["check", "--live"]).timeout(5))
    });
    rt.set_exec_exit("b-web", 0);
    let a = applied(r.reconcile(&in_cluster(&fixed, "b"), &Run::default()).await);
    assert!(
        a.converged() && a.rolled_back.is_none(),
        "tried again: {:?} {:?}",
        a.error,
        a.rolled_back
    );
    assert_eq!(rt.running(), names(&["db", "b-web", "b-worker"]));
}
