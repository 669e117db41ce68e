//! Switch strategies: `Pause` keeps the other versions created and frozen
//! and switches by pausing and unpausing; `Overlap` stops and starts in
//! parallel; both are refused where they cannot apply.

use serde_json::json;
use turnout::core::RunState;
use turnout::host::StaticHost;
use turnout::reconcile::{Outcome, Run};
use turnout::runtime::memory::Call;

use super::*;

/// The test plan with `strategy`, b-web moved off a-web's port 8000.
fn with_strategy(strategy: &str) -> PlanBuilder {
    shop()
        .set("switchStrategy", json!(strategy))
        .edit("b-web", |c| {
            c.set(
                "ports",
                json!([{"host": 8010, "container": 80, "range": "services"}]),
            )
        })
}

fn state_of(rt: &MemoryRuntime, name: &str) -> Option<RunState> {
    rt.containers()
        .into_iter()
        .find(|o| o.name == name)
        .map(|o| o.state)
}

#[tokio::test]
async fn pause_keeps_the_other_version_warm_and_switches_by_pause_and_unpause() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("pause"));
    let plan = with_strategy("Pause");
    let a = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
    for warm in ["b-web", "b-worker"] {
        assert_eq!(
            state_of(&rt, warm),
            Some(RunState::Paused),
            "{warm} kept warm"
        );
    }
    rt.take_calls();

    let a = applied(r.reconcile(&target_for(&plan, "b"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    let m = mutating(&rt.take_calls());
    let expected = [
        Call::Pause(c("a-web")),
        Call::Pause(c("a-api")),
        Call::Unpause(c("b-web")),
        Call::Unpause(c("b-worker")),
    ];
    assert_eq!(sorted_calls(&m), sorted_calls(&expected), "{m:?}");
    // The old version is frozen before the new one thaws.
    for old in ["a-web", "a-api"] {
        for new in ["b-web", "b-worker"] {
            assert!(pos(&m, &Call::Pause(c(old))) < pos(&m, &Call::Unpause(c(new))));
        }
    }
    assert_eq!(a.switch.as_ref().map(|s| s.to.as_str()), Some("b"));
    assert_eq!(rt.running(), names(&["db", "b-web", "b-worker"]));

    // An inactive container thawed by hand is drift: frozen again, nothing else.
    rt.set_state("a-web", RunState::Running);
    let a = applied(r.reconcile(&target_for(&plan, "b"), &Run::default()).await);
    assert!(a.converged());
    assert_eq!(mutating(&rt.take_calls()), [Call::Pause(c("a-web"))]);

    // One stopped by hand is started again and frozen, after the active version.
    rt.set_state("a-api", RunState::Stopped);
    applied(r.reconcile(&target_for(&plan, "b"), &Run::default()).await);
    assert_eq!(
        mutating(&rt.take_calls()),
        [Call::Start(c("a-api")), Call::Pause(c("a-api"))]
    );

    // Back to StopFirst: the paused versions are stopped like any inactive one.
    let stop_first = with_strategy("StopFirst");
    applied(
        r.reconcile(&target_for(&stop_first, "b"), &Run::default())
            .await,
    );
    assert_eq!(state_of(&rt, "a-web"), Some(RunState::Stopped));
    assert_eq!(state_of(&rt, "a-api"), Some(RunState::Stopped));
}

#[tokio::test]
async fn overlap_stops_the_old_version_and_starts_the_new_one_in_one_reconcile() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("overlap"));
    let plan = with_strategy("Overlap");
    assert!(applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await).converged());
    rt.take_calls();
    let a = applied(r.reconcile(&target_for(&plan, "b"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    let m = mutating(&rt.take_calls());
    for n in ["a-web", "a-api"] {
        assert!(
            m.iter().any(|x| matches!(x, Call::Stop(s, _) if s == n)),
            "{m:?}"
        );
    }
    for n in ["b-web", "b-worker"] {
        assert!(m.contains(&Call::Start(c(n))), "{m:?}");
    }
    assert_eq!(rt.running(), names(&["db", "b-web", "b-worker"]));
    assert!(a.timings.stop_ms.is_some() && a.timings.start_ms.is_some());
}

#[tokio::test]
async fn overlap_and_pause_are_refused_when_versions_share_a_port() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("shared-port"));
    for strategy in ["Overlap", "Pause"] {
        // shop's a-web and b-web both publish 8000.
        let plan = shop().set("switchStrategy", json!(strategy));
        match r.reconcile(&target_for(&plan, "a"), &Run::default()).await {
            Outcome::Invalid(v) => {
                let m = v
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n");
                assert!(
                    m.contains("8000") && m.contains(&format!("switchStrategy {strategy}")),
                    "{m}"
                );
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
    assert!(mutating(&rt.take_calls()).is_empty());
}

#[tokio::test]
async fn a_paused_switch_that_does_not_come_up_goes_back_and_keeps_the_failed_version_warm() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("pause-rollback"));
    let plan = with_strategy("Pause")
        .set(
            "rollback",
            json!({"enabled": true, "progressDeadlineSeconds": 1}),
        )
        .edit("b-web", |c| {
            c.readiness(Probe::exec(&["check", "--ready"]).timeout(60))
        });
    assert!(applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await).converged());
    rt.set_exec_exit("b-web", 1);
    rt.take_calls();
    let a = applied(r.reconcile(&target_for(&plan, "b"), &Run::default()).await);
    assert!(a.error.is_none(), "{:?}", a.error);
    assert_eq!(
        a.rolled_back.as_ref().map(|rb| rb.back_to.as_str()),
        Some("a")
    );
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
    for warm in ["b-web", "b-worker"] {
        assert_eq!(
            state_of(&rt, warm),
            Some(RunState::Paused),
            "{warm} warm again"
        );
    }
    // Thawed, found wanting, frozen again; a thawed again: no stop, no start.
    let m = mutating(&rt.take_calls());
    assert!(
        m.iter()
            .all(|c| matches!(c, Call::Pause(_) | Call::Unpause(_))),
        "{m:?}"
    );
}

#[tokio::test]
async fn under_pause_a_port_of_a_version_kept_warm_is_checked_before_anything_changes() {
    let rt = runtime_with_images();
    // Something outside Docker listens on b-worker's 8050: b is never active
    // here, but Pause would start it, so the host is blocked up front.
    let listener = turnout::core::Listener {
        protocol: turnout_crds::port::Protocol::Tcp,
        address: "0.0.0.0".parse().expect("ip"),
        port: 8050,
        pid: Some(4242),
        process: Some(c("nc")),
    };
    let r = reconciler_with(&rt, StaticHost(vec![listener]), &temp_dir("pause-port"));
    match r
        .reconcile(&target_for(&with_strategy("Pause"), "a"), &Run::default())
        .await
    {
        Outcome::Blocked { blockers, .. } => {
            let text: Vec<String> = blockers.iter().map(ToString::to_string).collect();
            assert!(
                text.iter()
                    .any(|b| b.contains("8050") && b.contains("b-worker")),
                "{text:?}"
            );
        }
        other => panic!("expected Blocked, got {other:?}"),
    }
    assert!(mutating(&rt.take_calls()).is_empty(), "nothing changed");
    // Without Pause, b is not started and its port is not a concern.
    let a = applied(
        r.reconcile(
            &target_for(&with_strategy("StopFirst"), "a"),
            &Run::default(),
        )
        .await,
    );
    assert!(a.converged(), "{:?}", a.error);
}
