//! Writing status and failing well: a conflicting write is retried, a write
//! refused every time fails the reconcile, failing reconciles back off, and
//! once turnout is stopping no reconcile starts anything.

use std::sync::Arc;

use http::{Method, StatusCode};

use super::*;

#[tokio::test]
async fn a_conflicting_status_write_is_retried() {
    let mut patches = 0;
    let (client, server) = double(Box::new(move |m, p, body| match (m, p) {
        (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => {
            (StatusCode::OK, plan_object())
        }
        (&Method::PATCH, p) if p.ends_with("/versionselections/host/status") => {
            patches += 1;
            if patches == 1 {
                status_error(409, "Conflict")
            } else {
                (StatusCode::OK, patched_selection(body, "a"))
            }
        }
        (&Method::POST, _) => (StatusCode::CREATED, body.clone()),
        _ => status_error(404, "NotFound"),
    }));
    let rt = runtime_with_images();
    let dir = temp_dir("kube-conflict");
    let ctx = context(client, &rt, &dir);
    let r = reconcile(Arc::new(selection("a", 2)), ctx.clone()).await;
    drop(ctx);
    let seen = server.await.unwrap();
    assert!(r.is_ok(), "the reconcile succeeded after the retry: {r:?}");
    let writes: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path.ends_with("/versionselections/host/status"))
        .collect();
    assert_eq!(writes.len(), 2, "the refused write was sent again");
    assert_eq!(writes[0].body, writes[1].body, "the same status both times");
}

#[tokio::test]
async fn a_status_write_refused_every_time_fails_the_reconcile() {
    let (client, server) = double(Box::new(move |m, p, body| match (m, p) {
        (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => {
            (StatusCode::OK, plan_object())
        }
        (&Method::PATCH, p) if p.ends_with("/status") => status_error(409, "Conflict"),
        (&Method::POST, _) => (StatusCode::CREATED, body.clone()),
        _ => status_error(404, "NotFound"),
    }));
    let rt = runtime_with_images();
    let dir = temp_dir("kube-conflict-always");
    let ctx = context(client, &rt, &dir);
    let r = reconcile(Arc::new(selection("a", 2)), ctx.clone()).await;
    drop(ctx);
    let seen = server.await.unwrap();
    assert!(r.is_err(), "the error reaches error_policy");
    let writes = seen.iter().filter(|s| s.method == Method::PATCH).count();
    assert_eq!(writes, 5, "tried a bounded number of times");
}

#[tokio::test]
async fn failing_reconciles_back_off_exponentially_and_a_success_starts_again() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let failing = fail.clone();
    let (client, server) = double(Box::new(move |m, p, body| match (m, p) {
        (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => {
            if failing.load(std::sync::atomic::Ordering::SeqCst) {
                status_error(503, "ServiceUnavailable")
            } else {
                (StatusCode::OK, plan_object())
            }
        }
        (&Method::PATCH, p) if p.ends_with("/versionselections/host/status") => {
            (StatusCode::OK, patched_selection(body, "a"))
        }
        (&Method::POST, _) => (StatusCode::CREATED, body.clone()),
        _ => status_error(404, "NotFound"),
    }));
    let rt = runtime_with_images();
    let dir = temp_dir("kube-backoff");
    let ctx = context(client, &rt, &dir);
    // The finalizer is already there, so the reconcile goes straight to work.
    let mut sel = selection("a", 2);
    sel.metadata.finalizers = Some(vec![turnout::controller::FINALIZER.into()]);
    let sel = Arc::new(sel);
    let requeue = |secs| {
        format!(
            "{:?}",
            kube::runtime::controller::Action::requeue(std::time::Duration::from_secs(secs))
        )
    };
    let mut waits = Vec::new();
    for _ in 0..4 {
        let e = reconcile_with_finalizer(sel.clone(), ctx.clone())
            .await
            .expect_err("the API is down");
        waits.push(format!("{:?}", error_policy(sel.clone(), &e, ctx.clone())));
    }
    assert_eq!(waits, [requeue(5), requeue(10), requeue(20), requeue(40)]);
    fail.store(false, std::sync::atomic::Ordering::SeqCst);
    reconcile_with_finalizer(sel.clone(), ctx.clone())
        .await
        .expect("the API is back");
    fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let e = reconcile_with_finalizer(sel.clone(), ctx.clone())
        .await
        .expect_err("down again");
    assert_eq!(
        format!("{:?}", error_policy(sel.clone(), &e, ctx.clone())),
        requeue(5),
        "a success starts the backoff again"
    );
    drop(ctx);
    drop(sel);
    server.await.unwrap();
}

#[tokio::test]
async fn once_stopping_no_reconcile_starts_anything() {
    let (client, server) = double(Box::new(|_, _, _| status_error(500, "unexpected")));
    let rt = runtime_with_images();
    let dir = temp_dir("kube-stopping");
    let ctx = context(client, &rt, &dir);
    ctx.stop();
    reconcile(Arc::new(selection("a", 2)), ctx.clone())
        .await
        .expect("reconcile");
    let mut sel = selection("a", 2);
    sel.spec.on_delete = turnout_crds::selection::OnDelete::Stop;
    let cleanup = turnout::controller::cleanup(Arc::new(sel), ctx.clone()).await;
    assert!(
        cleanup.is_err(),
        "onDelete: Stop is left to the next turnout (the finalizer stays)"
    );
    drop(ctx);
    let seen = server.await.unwrap();
    assert!(seen.is_empty(), "{seen:#?}");
    assert!(rt.take_calls().is_empty(), "the host was not even read");
}
