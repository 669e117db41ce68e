//! What stops a reconcile before anything on the host changes: a port or
//! name held by something that is not turnout's, a missing image, an
//! invalid plan or selection, a paused selection.

use std::net::IpAddr;

use turnout::core::{ActionKind, Blocker, Holder, Listener, RunState};
use turnout::host::StaticHost;
use turnout::reconcile::{Outcome, Run};
use turnout::runtime::memory::{Call, MemoryRuntime};
use turnout_crds::port::Protocol;
use turnout_crds::validate::ViolationKind;

use super::*;

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
    let plan = shop().edit("b-web", |c| c.rename("a-web"));
    let o = r.reconcile(&target_for(&plan, "b"), &Run::default()).await;
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
