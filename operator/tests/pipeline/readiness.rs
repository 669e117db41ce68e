//! Readiness probes: a failing one reports NotReady in time, infrastructure
//! that never gets ready holds back the version, and a passing one is
//! waited for once; a TCP probe that only reaches a proxy is not ready.

use std::time::{Duration, Instant};

use turnout::core::ActionKind;
use turnout::host::StaticHost;
use turnout::reconcile::{ApplyError, Run};
use turnout::runtime::memory::Call;

use super::*;

/// An exec readiness probe (`check --ready`) with `timeout` seconds to pass.
fn check_ready(timeout: u32) -> Probe {
    Probe::exec(&["check", "--ready"]).timeout(timeout)
}

#[tokio::test]
async fn a_readiness_probe_that_keeps_failing_reports_not_ready() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("notready"));
    let plan = shop().edit("a-api", |c| c.readiness(check_ready(1)));
    rt.set_exec_exit("a-api", 1);
    let t0 = Instant::now();
    let a = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
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
    let plan = shop().edit("db", |c| c.readiness(check_ready(1)));
    rt.set_exec_exit("db", 1);
    let a = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
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
    let plan = shop().edit("a-api", |c| c.readiness(check_ready(5)));
    let t = target_for(&plan, "a");
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

/// A listener on 127.0.0.1 that accepts every connection and, when
/// `hang_up`, closes each at once, as Docker's userland proxy does on a
/// published port when nothing listens in the container; otherwise it
/// keeps them open, as a server waiting for its client to speak does.
async fn listener(hang_up: bool) -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let port = l.local_addr().expect("its address").port();
    let task = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            if !hang_up {
                open.push(s);
            }
        }
    });
    (port, task)
}

#[tokio::test]
async fn a_tcp_probe_answered_only_by_a_proxy_that_hangs_up_is_not_ready() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("tcp-hangup"));
    let db_on = |port: u16| {
        shop().edit("db", |c| {
            c.set(
                "ports",
                serde_json::json!([{"host": port, "container": 5432}]),
            )
            .readiness(Probe::tcp(5432).timeout(1))
        })
    };
    let (port, proxy) = listener(true).await;
    let a = applied(
        r.reconcile(&target_for(&db_on(port), "a"), &Run::default())
            .await,
    );
    proxy.abort();
    assert!(
        matches!(&a.error, Some(ApplyError::NotReady { container, .. }) if container == "db"),
        "a connection closed at once is not a listener: {:?}",
        a.error
    );

    let (port, server) = listener(false).await;
    let a = applied(
        r.reconcile(&target_for(&db_on(port), "a"), &Run::default())
            .await,
    );
    server.abort();
    assert!(
        a.converged(),
        "a listener that keeps the connection: {:?}",
        a.error
    );
    assert!(a.ready.contains("db"));
}
