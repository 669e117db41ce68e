//! The whole reconcile pipeline (observe -> validate -> build -> diff ->
//! preflight -> apply -> report) against the in-memory runtime, asserting
//! what a user of turnout cares about: what runs afterwards, and exactly
//! which calls changed the host.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use turnout::core::model::{LABEL_MANAGED_BY, LABEL_PLAN, LABEL_ROLE, LABEL_SPEC_HASH};
use turnout::core::{Action, ActionKind, Blocker, Holder, Listener, RunState};
use turnout::host::StaticHost;
use turnout::reconcile::{Applied, ApplyError, Outcome, Progress, Run};
use turnout::runtime::memory::{Call, MemoryRuntime};
use turnout::secrets::SecretError;
use turnout_crds::port::Protocol;
use turnout_crds::validate::ViolationKind;

fn applied(o: Outcome) -> Applied {
    match o {
        Outcome::Applied(a) => a,
        other => panic!("expected Outcome::Applied, got {other:#?}"),
    }
}

fn names(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn c(n: &str) -> String {
    n.to_string()
}

/// Index of the first call equal to `call`; panics when it was not made.
fn pos(calls: &[Call], call: &Call) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("{call:?} was not called; calls: {calls:?}"))
}

/// No call addressed the container `name` (create, start, stop, remove, exec).
fn assert_untouched(calls: &[Call], name: &str) {
    let touching: Vec<&Call> = calls
        .iter()
        .filter(|c| call_container(c) == Some(name))
        .collect();
    assert!(touching.is_empty(), "{name} was addressed by {touching:?}");
}

fn id_of(rt: &MemoryRuntime, name: &str) -> String {
    rt.containers()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} is not on the host"))
        .id
}

fn state_of(rt: &MemoryRuntime, name: &str) -> Option<RunState> {
    rt.containers()
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.state)
}

/// A host converged on version `active` from scratch; calls forgotten.
async fn converged_on(active: &str) -> (std::sync::Arc<MemoryRuntime>, TestReconciler) {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("conv"));
    let a = applied(r.reconcile(&target(active), &Run::default()).await);
    assert!(a.converged(), "setup did not converge: {:?}", a.error);
    rt.take_calls();
    (rt, r)
}

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

/// Converged on a, with b's containers present and stopped.
async fn converged_on_a_after_b() -> (std::sync::Arc<MemoryRuntime>, TestReconciler) {
    let (rt, r) = converged_on("b").await;
    assert!(applied(r.reconcile(&target("a"), &Run::default()).await).converged());
    rt.take_calls();
    (rt, r)
}

#[tokio::test]
async fn drift_an_inactive_container_started_by_hand_is_stopped() {
    let (rt, r) = converged_on_a_after_b().await;
    rt.set_state("b-web", RunState::Running);
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged());
    assert_eq!(mutating(&rt.take_calls()), [Call::Stop(c("b-web"), 5)]);
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
    assert!(a.switch.is_none(), "a drift correction is not a switch");
}

#[tokio::test]
async fn drift_a_stopped_database_is_started_again() {
    let (rt, r) = converged_on_a_after_b().await;
    let id = id_of(&rt, "db");
    rt.set_state("db", RunState::Stopped);
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged());
    assert_eq!(mutating(&rt.take_calls()), [Call::Start(c("db"))]);
    assert_eq!(
        id_of(&rt, "db"),
        id,
        "the database is started, not recreated"
    );
    assert!(a.switch.is_none());
}

#[tokio::test]
async fn drift_a_deleted_service_container_is_recreated() {
    let (rt, r) = converged_on_a_after_b().await;
    rt.delete("a-web");
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged());
    assert_eq!(
        mutating(&rt.take_calls()),
        [Call::Create(c("a-web")), Call::Start(c("a-web"))]
    );
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
}

#[tokio::test]
async fn drift_a_paused_container_is_stopped_and_started() {
    let (rt, r) = converged_on_a_after_b().await;
    rt.set_state("a-api", RunState::Paused);
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged());
    assert_eq!(
        mutating(&rt.take_calls()),
        [Call::Stop(c("a-api"), 7), Call::Start(c("a-api"))]
    );
}

/// DESIGN: the switch history holds switches. Someone starting a container
/// of the inactive version by hand is drift, and correcting it must not be
/// reported as a switch from that version (nor skip the drift metric).
#[tokio::test]
async fn drift_of_an_inactive_version_sorting_first_is_not_a_switch() {
    let (rt, r) = converged_on("a").await;
    assert!(applied(r.reconcile(&target("b"), &Run::default()).await).converged());
    rt.take_calls();
    // a-web sorts before b-web in the engine's list.
    rt.set_state("a-web", RunState::Running);
    let a = applied(r.reconcile(&target("b"), &Run::default()).await);
    assert!(a.converged());
    assert_eq!(mutating(&rt.take_calls()), [Call::Stop(c("a-web"), 3)]);
    assert!(
        a.switch.is_none(),
        "b was running and stays running, but the outcome reports a switch {:?}",
        a.switch
    );
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

fn blocked(o: Outcome) -> (Vec<Action>, Vec<Blocker>) {
    match o {
        Outcome::Blocked {
            pending, blockers, ..
        } => (pending, blockers),
        other => panic!("expected Outcome::Blocked, got {other:#?}"),
    }
}

#[tokio::test]
async fn a_foreign_container_on_a_planned_port_blocks_before_anything_changes() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("pc"));
    let squatter = foreign("squatter", "postgres:16", RunState::Running, &[5432]);
    rt.add_container(squatter.clone());

    let (pending, blockers) = blocked(r.reconcile(&target("a"), &Run::default()).await);
    assert!(
        pending.iter().any(|a| a.kind == ActionKind::Create),
        "other actions were pending: {pending:?}"
    );
    assert_eq!(
        blockers,
        [Blocker::PortConflict {
            port: 5432,
            protocol: Protocol::Tcp,
            wanted_by: c("db"),
            holder: Holder::Container {
                name: c("squatter")
            },
        }]
    );
    assert!(
        blockers[0].to_string().contains("squatter"),
        "{}",
        blockers[0]
    );
    assert_eq!(blockers[0].reason(), "PortConflict");
    let calls = rt.take_calls();
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    assert_eq!(
        rt.running(),
        names(&["squatter"]),
        "nothing of the plan was started"
    );
    assert_eq!(
        rt.containers(),
        [squatter],
        "the squatter is left as it was"
    );

    // Once it is gone, the next reconcile applies.
    rt.delete("squatter");
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
}

#[tokio::test]
async fn a_switch_onto_a_taken_port_does_not_begin() {
    let (rt, r) = converged_on("a").await;
    // 8050 is wanted only by b-worker.
    rt.add_container(foreign("squatter", "nginx", RunState::Running, &[8050]));
    let (pending, blockers) = blocked(r.reconcile(&target("b"), &Run::default()).await);
    assert!(
        pending
            .iter()
            .any(|a| a.kind == ActionKind::Stop && a.container == "a-web"),
        "a's stop was pending: {pending:?}"
    );
    assert!(
        matches!(&blockers[..], [Blocker::PortConflict { port: 8050, wanted_by, holder: Holder::Container { name }, .. }]
            if wanted_by == "b-worker" && name == "squatter"),
        "{blockers:?}"
    );
    let calls = rt.take_calls();
    assert!(
        mutating(&calls).is_empty(),
        "nothing of a may be stopped: {calls:?}"
    );
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api", "squatter"]));

    // A stopped container holds no port: once the squatter is stopped, the switch runs.
    rt.set_state("squatter", RunState::Stopped);
    let a = applied(r.reconcile(&target("b"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    assert_eq!(rt.running(), names(&["db", "b-web", "b-worker"]));
    let calls = rt.take_calls();
    assert_untouched(&calls, "squatter");
    assert_eq!(state_of(&rt, "squatter"), Some(RunState::Stopped));
}

#[tokio::test]
async fn a_host_process_on_a_planned_port_blocks_until_it_is_gone() {
    let rt = runtime_with_images();
    let dir = temp_dir("proc");
    let listeners = vec![
        Listener {
            protocol: Protocol::Tcp,
            address: "127.0.0.1".parse::<IpAddr>().expect("ip"),
            port: 8001,
            pid: Some(4242),
            process: Some(c("python3")),
        },
        // A dual-stack socket on [::] takes IPv4 too.
        Listener {
            protocol: Protocol::Tcp,
            address: "::".parse::<IpAddr>().expect("ip"),
            port: 5432,
            pid: None,
            process: None,
        },
        // Not a planned port/protocol: no blocker.
        Listener {
            protocol: Protocol::Udp,
            address: "0.0.0.0".parse::<IpAddr>().expect("ip"),
            port: 8000,
            pid: Some(1),
            process: Some(c("dnsmasq")),
        },
    ];
    let r = reconciler_with(&rt, StaticHost(listeners), &dir);
    let (pending, blockers) = blocked(r.reconcile(&target("a"), &Run::default()).await);
    assert!(!pending.is_empty());
    let expected = [
        Blocker::PortConflict {
            port: 5432,
            protocol: Protocol::Tcp,
            wanted_by: c("db"),
            holder: Holder::Process {
                pid: None,
                name: None,
            },
        },
        Blocker::PortConflict {
            port: 8001,
            protocol: Protocol::Tcp,
            wanted_by: c("a-api"),
            holder: Holder::Process {
                pid: Some(4242),
                name: Some(c("python3")),
            },
        },
    ];
    assert_eq!(blockers, expected);
    assert!(
        blockers[1].to_string().contains("python3") && blockers[1].to_string().contains("4242")
    );
    assert!(mutating(&rt.take_calls()).is_empty());
    assert!(rt.containers().is_empty());

    // The process went away (a new reconciler sees the host's sockets afresh).
    let r = reconciler_with(&rt, StaticHost::default(), &dir);
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
}

#[tokio::test]
async fn a_name_taken_by_a_foreign_container_blocks_and_it_is_never_touched() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("name"));
    let mut other = foreign("a-api", "someone/api:2", RunState::Stopped, &[]);
    other.labels = other_plan_labels();
    let taken = [
        foreign("a-web", "someone/else:latest", RunState::Running, &[]),
        other,
        // A foreign container named like an inactive version's container is no obstacle.
        foreign("b-web", "someone/b:1", RunState::Running, &[]),
    ];
    for t in &taken {
        rt.add_container(t.clone());
    }
    for _ in 0..2 {
        let (_, blockers) = blocked(r.reconcile(&target("a"), &Run::default()).await);
        assert_eq!(
            blockers,
            [
                Blocker::NameTaken {
                    name: c("a-web"),
                    image: c("someone/else:latest")
                },
                Blocker::NameTaken {
                    name: c("a-api"),
                    image: c("someone/api:2")
                },
            ]
        );
        assert_eq!(blockers[0].reason(), "PortConflict");
        let calls = rt.take_calls();
        assert!(mutating(&calls).is_empty(), "{calls:?}");
    }
    assert_eq!(
        sorted(
            &rt.containers()
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        ),
        ["a-api", "a-web", "b-web"]
    );
    for t in &taken {
        assert!(rt.containers().contains(t), "{} changed", t.name);
    }

    // Freed names: the plan applies, and the foreign b-web is never stopped or removed.
    rt.delete("a-web");
    rt.delete("a-api");
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    let calls = rt.take_calls();
    assert_untouched(&calls, "b-web");
    assert!(rt.containers().contains(&taken[2]));
    // Nor when switching to b, which wants that name.
    let (_, blockers) = blocked(r.reconcile(&target("b"), &Run::default()).await);
    assert!(
        matches!(&blockers[..], [Blocker::NameTaken { name, .. }] if name == "b-web"),
        "{blockers:?}"
    );
    assert!(mutating(&rt.take_calls()).is_empty());
    assert!(rt.containers().contains(&taken[2]));
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api", "b-web"]));
}

#[tokio::test]
async fn a_missing_image_that_can_be_pulled_is_pulled_before_anything_changes() {
    let rt = std::sync::Arc::new(MemoryRuntime::new());
    for i in ["db:1", "web:1", "worker:1"] {
        rt.add_image(i);
    }
    rt.add_pullable("api:1");
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("pull"));
    assert!(applied(r.reconcile(&target("a"), &Run::default()).await).converged());
    let calls = rt.take_calls();
    let pull = calls
        .iter()
        .position(|c| *c == Call::Pull("api:1".to_string()))
        .expect("api:1 was pulled");
    let first_change = calls
        .iter()
        .position(Call::is_mutating)
        .expect("then containers were made");
    assert!(
        pull < first_change,
        "pulled before any container changed: {calls:?}"
    );
}

#[tokio::test]
async fn a_missing_image_blocks_before_anything_changes() {
    let rt = std::sync::Arc::new(MemoryRuntime::new());
    for i in ["db:1", "web:1", "worker:1"] {
        rt.add_image(i);
    }
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("img"));
    let (pending, blockers) = blocked(r.reconcile(&target("a"), &Run::default()).await);
    assert!(!pending.is_empty());
    assert_eq!(
        blockers,
        [Blocker::ImageMissing {
            image: c("api:1"),
            wanted_by: c("a-api")
        }]
    );
    assert_eq!(blockers[0].reason(), "ImageMissing");
    assert!(blockers[0].to_string().contains("api:1"));
    assert!(mutating(&rt.take_calls()).is_empty());
    assert!(
        rt.containers().is_empty(),
        "not even db or a-web were created"
    );

    rt.add_image("api:1");
    assert!(applied(r.reconcile(&target("a"), &Run::default()).await).converged());
}

#[tokio::test]
async fn an_invalid_plan_or_selection_touches_nothing() {
    let (rt, r) = converged_on("a").await;
    let mut plan = plan_json();
    plan["versions"][1]["containers"][0]["name"] = json!("a-web");
    let o = r.reconcile(&target_of(plan, "b"), &Run::default()).await;
    let Outcome::Invalid(v) = o else {
        panic!("expected Invalid, got {o:#?}")
    };
    assert!(
        v.iter().any(|v| v.kind == ViolationKind::DuplicateName),
        "{v:?}"
    );
    assert_eq!(rt.take_calls(), [Call::List]);

    let o = r.reconcile(&target("zzz"), &Run::default()).await;
    let Outcome::Invalid(v) = o else {
        panic!("expected Invalid, got {o:#?}")
    };
    assert!(
        v.iter().any(|v| v.kind == ViolationKind::UnknownVersion),
        "{v:?}"
    );
    assert_eq!(rt.take_calls(), [Call::List]);
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
}

#[tokio::test]
async fn a_paused_selection_reports_pending_actions_and_changes_nothing() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("paused"));
    let mut t = target("a");
    t.selection.paused = true;
    let o = r.reconcile(&t, &Run::default()).await;
    let Outcome::Paused { pending, .. } = o else {
        panic!("expected Paused, got {o:#?}")
    };
    let creates: BTreeSet<String> = pending
        .iter()
        .filter(|a| a.kind == ActionKind::Create)
        .map(|a| a.container.clone())
        .collect();
    assert_eq!(creates, names(&["db", "a-web", "a-api"]));
    assert_eq!(rt.take_calls(), [Call::List]);
    assert!(rt.containers().is_empty());

    // Paused while converged on a, asked for b: the stops are pending, not run.
    let (rt, r) = converged_on("a").await;
    let mut t = target("b");
    t.selection.paused = true;
    let o = r.reconcile(&t, &Run::default()).await;
    let Outcome::Paused { pending, .. } = o else {
        panic!("expected Paused, got {o:#?}")
    };
    assert!(
        pending
            .iter()
            .any(|a| a.kind == ActionKind::Stop && a.container == "a-api")
    );
    assert_eq!(rt.take_calls(), [Call::List]);
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
}

#[tokio::test]
async fn a_changed_spec_recreates_only_that_container() {
    let (rt, r) = converged_on("a").await;
    let ids = |rt: &MemoryRuntime| (id_of(rt, "db"), id_of(rt, "a-api"));
    let before = ids(&rt);
    rt.add_image("web:2");
    let mut plan = plan_json();
    plan["versions"][0]["containers"][0]["image"] = json!("web:2");
    let a = applied(
        r.reconcile(&target_of(plan.clone(), "a"), &Run::default())
            .await,
    );
    assert!(a.converged(), "{:?}", a.error);
    assert!(a.switch.is_none());
    let calls = rt.take_calls();
    assert_eq!(
        mutating(&calls),
        [
            Call::Stop(c("a-web"), 3),
            Call::Remove(c("a-web")),
            Call::Create(c("a-web")),
            Call::Start(c("a-web")),
        ]
    );
    assert_untouched(&calls, "db");
    assert_untouched(&calls, "a-api");
    assert_eq!(ids(&rt), before);
    assert_eq!(rt.config("a-web").expect("a-web").image, "web:2");
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));

    // Readiness and stop timeout are turnout's business: changing them recreates nothing.
    plan["versions"][0]["containers"][0]["stopTimeoutSeconds"] = json!(20);
    plan["versions"][0]["containers"][1]["readiness"] = json!({"exec": {"command": ["true"]}});
    let a = applied(r.reconcile(&target_of(plan, "a"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    assert!(mutating(&rt.take_calls()).is_empty());
}

#[tokio::test]
async fn a_changed_database_spec_recreates_it_with_its_named_volume() {
    let (rt, r) = converged_on("a").await;
    rt.add_image("db:2");
    let mut plan = plan_json();
    plan["infrastructure"][0]["image"] = json!("db:2");
    let a = applied(r.reconcile(&target_of(plan, "a"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    let calls = rt.take_calls();
    assert_eq!(
        mutating(&calls),
        [
            Call::Stop(c("db"), 30),
            Call::Remove(c("db")),
            Call::Create(c("db")),
            Call::Start(c("db")),
        ]
    );
    let vols = rt.config("db").expect("db").volumes;
    assert_eq!(vols.len(), 1);
    assert_eq!(vols[0].name, "db-data");
}

/// Gives the container at `pointer` an exec readiness probe.
fn with_exec_probe(plan: &mut serde_json::Value, pointer: &str, timeout: u32) {
    plan.pointer_mut(pointer).expect("pointer into the plan")["readiness"] = json!({
        "exec": {"command": ["check", "--ready"]},
        "timeoutSeconds": timeout
    });
}

#[tokio::test]
async fn a_readiness_probe_that_keeps_failing_reports_not_ready() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("notready"));
    let mut plan = plan_json();
    with_exec_probe(&mut plan, "/versions/0/containers/1", 1);
    rt.set_exec_exit("a-api", 1);
    let t0 = Instant::now();
    let a = applied(r.reconcile(&target_of(plan, "a"), &Run::default()).await);
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t0.elapsed()
    );
    match &a.error {
        Some(ApplyError::NotReady { container, seconds }) => {
            assert_eq!(container, "a-api");
            assert_eq!(*seconds, 1);
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
    assert!(
        a.error
            .as_ref()
            .is_some_and(|e| e.to_string().contains("a-api"))
    );
    assert_eq!(a.error.as_ref().map(ApplyError::reason), Some("Unhealthy"));
    assert!(!a.converged());
    assert!(!a.ready.contains("a-api"));
    assert!(a.ready.contains("db") && a.ready.contains("a-web"));
    assert!(
        a.done
            .iter()
            .any(|(x, e)| x.kind == ActionKind::WaitReady && x.container == "a-api" && e.is_some()),
        "{:?}",
        a.done
    );
    let calls = rt.take_calls();
    assert!(calls.contains(&Call::Exec(c("a-api"), vec![c("check"), c("--ready")])));
    // The container was started; it is just not ready.
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
}

#[tokio::test]
async fn an_infrastructure_that_never_gets_ready_holds_back_the_version() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("dbnotready"));
    let mut plan = plan_json();
    with_exec_probe(&mut plan, "/infrastructure/0", 1);
    rt.set_exec_exit("db", 1);
    let a = applied(r.reconcile(&target_of(plan, "a"), &Run::default()).await);
    assert!(
        matches!(&a.error, Some(ApplyError::NotReady { container, .. }) if container == "db"),
        "{:?}",
        a.error
    );
    let m = mutating(&rt.take_calls());
    assert_eq!(m, [Call::Create(c("db")), Call::Start(c("db"))]);
}

#[tokio::test]
async fn a_passing_probe_is_waited_for_once_and_then_cached() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("ready"));
    let mut plan = plan_json();
    with_exec_probe(&mut plan, "/versions/0/containers/1", 5);
    let t = target_of(plan, "a");
    let a = applied(r.reconcile(&t, &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    assert!(a.ready.contains("a-api"));
    assert!(
        a.done
            .iter()
            .any(|(x, e)| x.kind == ActionKind::WaitReady && x.container == "a-api" && e.is_none())
    );
    rt.take_calls();
    for _ in 0..2 {
        let a = applied(r.reconcile(&t, &Run::default()).await);
        assert!(a.converged());
        assert_eq!(rt.take_calls(), [Call::List]);
    }
}

// ---- secrets ---------------------------------------------------------------

const CHILD_MARKER: &str = "TURNOUT_IT_SECRET_CHILD";
const CHILD_VAR: &str = "TURNOUT_IT_SECRET_VAR_NAME";
const CHILD_VALUE: &str = "TURNOUT_IT_SECRET_EXPECTED";

fn plan_with_db_secrets(secrets: serde_json::Value) -> serde_json::Value {
    let mut plan = plan_json();
    plan["infrastructure"][0]["secrets"] = secrets;
    plan["infrastructure"][0]["env"] =
        json!([{"name": "MYSQL_ROOT_PASSWORD_FILE", "value": "/run/secrets/root"}]);
    plan
}

/// Setting an environment variable is `unsafe` in edition 2024 and the
/// workspace forbids unsafe code, so the test re-runs this test binary with
/// the variable set, and the child runs [`secret_env_child`].
#[test]
fn a_secret_from_the_environment_reaches_the_container_only_as_a_file() {
    let var = format!("TURNOUT_IT_DB_ROOT_{}", std::process::id());
    let value = format!("pw-{}-Zq7xK9", std::process::id());
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "secret_env_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MARKER, "1")
        .env(CHILD_VAR, &var)
        .env(CHILD_VALUE, &value)
        .env(&var, &value)
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}"
    );
    // The child logs every action at TRACE; the value is in none of it.
    assert!(
        stdout.contains("action"),
        "the child logged nothing:\n{stdout}"
    );
    assert!(
        !stdout.contains(&value) && !stderr.contains(&value),
        "the secret value leaked into the log"
    );
}

/// Runs only as the child of the test above.
#[tokio::test]
async fn secret_env_child() {
    if std::env::var_os(CHILD_MARKER).is_none() {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::io::stdout)
        .try_init();
    let var = std::env::var(CHILD_VAR).expect("var name");
    let value = std::env::var(CHILD_VALUE).expect("value");
    assert_eq!(std::env::var(&var).as_deref(), Ok(value.as_str()));

    let rt = runtime_with_images();
    let dir = temp_dir("secret-env");
    let r = reconciler_with(&rt, StaticHost::default(), &dir);
    let t = target_of(
        plan_with_db_secrets(
            json!([{"name": "root", "path": "/run/secrets/root", "from": {"env": var}}]),
        ),
        "a",
    );
    let o = r.reconcile(&t, &Run::default()).await;
    assert!(
        !format!("{o:?}").contains(&value),
        "the outcome carries the value"
    );
    let status = turnout::status::status_of(&t, &o, None);
    let status_json = serde_json::to_string(&status).expect("status serializes");
    assert!(
        !status_json.contains(&value),
        "the status carries the value"
    );
    let a = applied(o);
    assert!(a.converged(), "{:?}", a.error);

    let cfg = rt.config("db").expect("db was created");
    let shown = format!("{:?} {:?} {:?}", cfg.env, cfg.command, cfg.labels);
    assert!(
        !shown.contains(&value),
        "the value is in env, argv or labels: {shown}"
    );
    assert_eq!(
        cfg.env,
        [(c("MYSQL_ROOT_PASSWORD_FILE"), c("/run/secrets/root"))]
    );
    assert_eq!(cfg.secret_files.len(), 1);
    let (host_file, in_container) = &cfg.secret_files[0];
    assert_eq!(in_container, "/run/secrets/root");
    assert!(
        host_file.starts_with(&dir),
        "{host_file:?} is outside the secrets dir"
    );
    assert_eq!(
        std::fs::read(host_file).expect("secret file"),
        value.as_bytes()
    );
}

#[tokio::test]
async fn a_missing_secret_variable_is_named_without_any_value() {
    let rt = runtime_with_images();
    let dir = temp_dir("secret-missing");
    let file_value = format!("file-secret-{}-Vb3", std::process::id());
    let src = dir.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let value_file = src.join("admin");
    std::fs::write(&value_file, &file_value).expect("write");
    let var = format!("TURNOUT_IT_SURELY_UNSET_{}_ROOT", std::process::id());
    assert!(std::env::var_os(&var).is_none());

    let r = reconciler_with(&rt, StaticHost::default(), &dir.join("store"));
    let t = target_of(
        plan_with_db_secrets(json!([
            {"name": "admin", "path": "/run/secrets/admin", "from": {"file": value_file}},
            {"name": "root", "path": "/run/secrets/root", "from": {"env": var}}
        ])),
        "a",
    );
    let o = r.reconcile(&t, &Run::default()).await;
    let everything = format!("{o:?}");
    let status = serde_json::to_string(&turnout::status::status_of(&t, &o, None)).expect("json");
    let a = applied(o);
    let e = a.error.as_ref().expect("an error");
    assert!(
        matches!(e, ApplyError::Secret(SecretError::EnvMissing { container, secret, var: v })
            if container == "db" && secret == "root" && *v == var),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains(&var) && msg.contains("db"), "{msg}");
    assert_eq!(e.reason(), "SecretUnavailable");
    assert!(!a.converged());
    assert!(
        status.contains(&var),
        "the status says which variable is missing: {status}"
    );
    for text in [&msg, &everything, &status] {
        assert!(!text.contains(&file_value), "a value leaked: {text}");
    }
    // db was never created, and the version waits for the infrastructure.
    let m = mutating(&rt.take_calls());
    assert!(m.is_empty(), "{m:?}");
    assert!(rt.containers().is_empty());
}

/// Recreating a container re-writes its secret files: a spec change, or the
/// container deleted by hand. In-process (as whichever user runs the tests).
#[tokio::test]
async fn a_recreated_container_gets_its_secret_files_again() {
    let dir = temp_dir("secret-recreate");
    recreate_with_a_file_secret(dir.to_path_buf()).await;
}

const RECREATE_MARKER: &str = "TURNOUT_IT_RECREATE_CHILD";

/// The same as an unprivileged user (turnout in standalone mode run by a
/// member of the docker group): the test re-runs this binary as `nobody`
/// when it runs as root.
#[test]
fn a_recreated_container_gets_its_secret_files_again_without_root() {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    let dir = temp_dir("secret-recreate-child");
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "secret_recreate_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(RECREATE_MARKER, dir.as_os_str());
    if std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0 {
        std::os::unix::fs::chown(&*dir, Some(65534), Some(65534)).expect("chown");
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

/// Runs only as the child of the test above.
#[tokio::test]
async fn secret_recreate_child() {
    let Some(dir) = std::env::var_os(RECREATE_MARKER) else {
        return;
    };
    recreate_with_a_file_secret(dir.into()).await;
}

async fn recreate_with_a_file_secret(dir: std::path::PathBuf) {
    let rt = runtime_with_images();
    let value_file = dir.join("root-password");
    std::fs::write(&value_file, "first-value").expect("write");
    let r = reconciler_with(&rt, StaticHost::default(), &dir.join("store"));
    let plan = plan_with_db_secrets(json!([
        {"name": "root", "path": "/run/secrets/root", "from": {"file": value_file}}
    ]));
    let a = applied(
        r.reconcile(&target_of(plan.clone(), "a"), &Run::default())
            .await,
    );
    assert!(a.converged(), "{:?}", a.error);
    let file = rt.config("db").expect("db").secret_files[0].0.clone();
    assert_eq!(std::fs::read(&file).expect("secret file"), b"first-value");

    // Deleted by hand: recreated, with the current value.
    std::fs::write(&value_file, "second-value").expect("write");
    rt.delete("db");
    rt.take_calls();
    let a = applied(
        r.reconcile(&target_of(plan.clone(), "a"), &Run::default())
            .await,
    );
    assert!(a.converged(), "recreating db failed: {:?}", a.error);
    assert_eq!(
        mutating(&rt.take_calls()),
        [Call::Create(c("db")), Call::Start(c("db"))]
    );
    assert_eq!(std::fs::read(&file).expect("secret file"), b"second-value");

    // A spec change: recreated again.
    rt.add_image("db:2");
    let mut plan = plan;
    plan["infrastructure"][0]["image"] = json!("db:2");
    let a = applied(r.reconcile(&target_of(plan, "a"), &Run::default()).await);
    assert!(a.converged(), "recreating db failed: {:?}", a.error);
}

// ---- level-triggered: any sequence of drift and switches converges ----------

mod drift_sequences {
    use super::*;
    use proptest::prelude::*;

    const PLANNED: [&str; 5] = ["db", "a-web", "a-api", "b-web", "b-worker"];

    #[derive(Clone, Debug)]
    enum Step {
        Select(&'static str),
        SetState(usize, RunState),
        Delete(usize),
        /// Toggle a-web's image between web:1 and web:2 (a spec change).
        ToggleImage,
    }

    fn step() -> impl Strategy<Value = Step> {
        let state = prop_oneof![
            Just(RunState::Running),
            Just(RunState::Stopped),
            Just(RunState::Paused),
            Just(RunState::Restarting),
        ];
        prop_oneof![
            prop_oneof![Just("a"), Just("b")].prop_map(Step::Select),
            (0..PLANNED.len(), state).prop_map(|(i, s)| Step::SetState(i, s)),
            (0..PLANNED.len()).prop_map(Step::Delete),
            Just(Step::ToggleImage),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn every_reconcile_converges_and_the_next_one_only_lists(steps in prop::collection::vec(step(), 1..8)) {
            let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
            tokio.block_on(async {
                let rt = runtime_with_images();
                rt.add_image("web:2");
                let dir = temp_dir("seq");
                let r = reconciler_with(&rt, StaticHost::default(), &dir);
                let mut active = "a";
                let mut image = "web:1";
                for s in &steps {
                    match s {
                        Step::Select(v) => active = v,
                        Step::SetState(i, st) => rt.set_state(PLANNED[*i], *st),
                        Step::Delete(i) => rt.delete(PLANNED[*i]),
                        Step::ToggleImage => image = if image == "web:1" { "web:2" } else { "web:1" },
                    }
                    let mut plan = plan_json();
                    plan["versions"][0]["containers"][0]["image"] = json!(image);
                    let t = target_of(plan, active);
                    let a = applied(r.reconcile(&t, &Run::default()).await);
                    prop_assert!(a.converged(), "after {s:?}: {:?}\n{:#?}", a.error, a.done);
                    let want = if active == "a" { names(&["db", "a-web", "a-api"]) } else { names(&["db", "b-web", "b-worker"]) };
                    prop_assert_eq!(rt.running(), want, "after {:?}", s);
                    let calls = rt.take_calls();
                    for call in &calls {
                        if let Some(n) = call_container(call) {
                            prop_assert!(PLANNED.contains(&n), "{call:?}");
                        }
                    }
                    prop_assert!(applied(r.reconcile(&t, &Run::default()).await).converged());
                    prop_assert_eq!(rt.take_calls(), [Call::List], "after {:?}", s);
                    if active == "a" {
                        prop_assert_eq!(rt.config("a-web").map(|c| c.image), Some(image.to_string()));
                    }
                }
                Ok(())
            })?;
        }
    }
}
