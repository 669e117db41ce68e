//! Converging a host from nothing, switching between versions, and what a
//! converged host costs.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_util::sync::CancellationToken;
use turnout::core::model::{LABEL_MANAGED_BY, LABEL_PLAN, LABEL_ROLE, LABEL_SPEC_HASH};
use turnout::core::{Action, RunState};
use turnout::host::StaticHost;
use turnout::reconcile::{ApplyError, Outcome, Progress, Run};
use turnout::runtime::memory::Call;

use super::*;

#[tokio::test]
async fn first_reconcile_converges_with_creates_and_starts_only() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("first"));
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged(), "error: {:?}", a.error);
    assert!(a.error.is_none());
    assert_eq!(a.ready, names(&["db", "a-web", "a-api"]));
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
    assert_eq!(rt.containers().len(), 3, "nothing of version b is created");

    let calls = rt.take_calls();
    let m = mutating(&calls);
    let expected = [
        Call::Create(c("db")),
        Call::Start(c("db")),
        Call::Create(c("a-web")),
        Call::Start(c("a-web")),
        Call::Create(c("a-api")),
        Call::Start(c("a-api")),
    ];
    assert_eq!(
        sorted_calls(&m),
        sorted_calls(&expected),
        "mutating calls: {m:?}"
    );
    // Each container is created before it is started; infrastructure is up before the version.
    for n in ["db", "a-web", "a-api"] {
        assert!(pos(&m, &Call::Create(c(n))) < pos(&m, &Call::Start(c(n))));
    }
    for n in ["a-web", "a-api"] {
        assert!(pos(&m, &Call::Start(c("db"))) < pos(&m, &Call::Create(c(n))));
    }
    assert!(a.done.iter().all(|(_, e)| e.is_none()), "{:?}", a.done);

    // The created containers carry turnout's labels.
    let cfg = rt.config("a-web").expect("a-web was created");
    assert_eq!(cfg.labels[LABEL_MANAGED_BY], "turnout");
    assert_eq!(cfg.labels[LABEL_PLAN], PLAN);
    assert_eq!(cfg.labels[LABEL_ROLE], "a");
    assert!(!cfg.labels[LABEL_SPEC_HASH].is_empty());
    assert_eq!(cfg.command, ["httpd", "-f"]);
    assert_eq!(cfg.stop_timeout_seconds, 3);
    assert_eq!(
        rt.config("db").expect("db").labels[LABEL_ROLE],
        "infrastructure"
    );

    let sw = a.switch.expect("a first start is a switch from nothing");
    assert_eq!((sw.from, sw.to.as_str()), (None, "a"));
}

#[tokio::test]
async fn a_converged_host_costs_one_list_call() {
    let (rt, r) = converged_on("a").await;
    for _ in 0..3 {
        let a = applied(r.reconcile(&target("a"), &Run::default()).await);
        assert!(a.converged());
        assert!(a.done.is_empty(), "{:?}", a.done);
        assert!(a.switch.is_none());
        assert_eq!(rt.take_calls(), [Call::List]);
    }
}

#[tokio::test]
async fn switching_stops_a_and_starts_b_leaving_infrastructure_alone() {
    let (rt, r) = converged_on("a").await;
    let db_id = id_of(&rt, "db");
    let a = applied(r.reconcile(&target("b"), &Run::default()).await);
    assert!(a.converged(), "error: {:?}", a.error);
    assert_eq!(rt.running(), names(&["db", "b-web", "b-worker"]));
    // a's containers are stopped, not removed.
    assert_eq!(state_of(&rt, "a-web"), Some(RunState::Stopped));
    assert_eq!(state_of(&rt, "a-api"), Some(RunState::Stopped));
    assert_eq!(id_of(&rt, "db"), db_id);

    let calls = rt.take_calls();
    let m = mutating(&calls);
    let expected = [
        Call::Stop(c("a-web"), 3),
        Call::Stop(c("a-api"), 7),
        Call::Create(c("b-web")),
        Call::Start(c("b-web")),
        Call::Create(c("b-worker")),
        Call::Start(c("b-worker")),
    ];
    assert_eq!(
        sorted_calls(&m),
        sorted_calls(&expected),
        "mutating calls: {m:?}"
    );
    // Every stop comes before anything of b is created (b-web takes a-web's port 8000).
    let last_stop = m
        .iter()
        .rposition(|c| matches!(c, Call::Stop(..)))
        .expect("stops");
    let first_create = m
        .iter()
        .position(|c| matches!(c, Call::Create(_)))
        .expect("creates");
    assert!(last_stop < first_create, "{m:?}");
    assert_untouched(&calls, "db");

    let sw = a.switch.expect("a switch");
    assert_eq!(sw.from.as_deref(), Some("a"));
    assert_eq!(sw.to, "b");
    assert!(sw.started_at <= sw.finished_at);
    assert!(a.timings.stop_ms.is_some());

    // And back: b is stopped with its own timeouts (b-worker has the default, 10).
    let a2 = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a2.converged());
    let m = mutating(&rt.take_calls());
    let expected = [
        Call::Stop(c("b-web"), 5),
        Call::Stop(c("b-worker"), 10),
        Call::Start(c("a-web")),
        Call::Start(c("a-api")),
    ];
    assert_eq!(
        sorted_calls(&m),
        sorted_calls(&expected),
        "a's stopped containers are started, not recreated"
    );
    assert_eq!(a2.switch.expect("switch").from.as_deref(), Some("b"));
}

#[tokio::test]
async fn an_interrupted_switch_is_finished_by_the_next_reconcile() {
    /// Cancels (a shutdown) once `n` actions have started.
    struct CancelAfter(usize, AtomicUsize, CancellationToken);
    impl Progress for CancelAfter {
        fn started(&self, _: &Action) {
            if self.1.fetch_add(1, Ordering::SeqCst) + 1 >= self.0 {
                self.2.cancel();
            }
        }
        fn finished(&self, _: &Action, _: Option<&str>) {}
    }
    let (rt, r) = converged_on("a").await;
    let token = CancellationToken::new();
    let progress = CancelAfter(3, AtomicUsize::new(0), token.clone());
    let a = applied(r.reconcile(&target("b"), &Run::new(&progress, token)).await);
    assert!(
        matches!(a.error, Some(ApplyError::Cancelled)),
        "{:?}",
        a.error
    );
    assert!(!a.converged());
    rt.take_calls();
    let a = applied(r.reconcile(&target("b"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    assert_eq!(rt.running(), names(&["db", "b-web", "b-worker"]));
    assert_untouched(&rt.take_calls(), "db");
}

#[tokio::test]
async fn an_engine_that_cannot_be_listed_changes_nothing() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("down"));
    rt.set_down(true);
    let o = r.reconcile(&target("a"), &Run::default()).await;
    assert!(matches!(o, Outcome::Unobserved(_)), "{o:#?}");
    assert_eq!(rt.take_calls(), [Call::List]);
}

/// A version with no containers of its own (only the infrastructure runs)
/// is reported active once the host converged on it.
#[tokio::test]
async fn a_version_without_containers_is_active_once_converged() {
    let rt = runtime_with_images();
    let dir = temp_dir("empty-version");
    let r = reconciler_with(&rt, StaticHost::default(), &dir);
    let t = target_for(&shop().version("idle", |v| v), "idle");
    let o = r.reconcile(&t, &Run::default()).await;
    let status = turnout::status::status_of(&t, &o, None);
    assert_eq!(status.active_version.as_deref(), Some("idle"), "{o:?}");
    // Before converging (the engine cannot be listed), nothing is claimed.
    rt.set_down(true);
    let o = r.reconcile(&t, &Run::default()).await;
    let status = turnout::status::status_of(&t, &o, None);
    assert_eq!(status.active_version, None, "{o:?}");
}
