//! The Kubernetes driver's DataSyncs and status writes against an
//! HTTP-level API double (tower-test): a switch creates one DataSync owned
//! by its selection (creating it again is a no-op, and a Succeeded one never
//! runs again); the DataSync controller runs only what is its own; a
//! conflicting status write is retried.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use common::api_double::*;
use common::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use turnout::controller::datasync::{self, KubeSwitchSync};
use turnout::controller::{Context, error_policy, reconcile, reconcile_with_finalizer};
use turnout::host::StaticHost;
use turnout::reconcile::Reconciler;
use turnout::runtime::memory::MemoryRuntime;
use turnout::secrets::SecretFiles;
use turnout_crds::{DataSync, VersionSelection};

/// The plan of `common`, with a service binding in each version (exported
/// and imported by the plan's own commands).
fn plan_object() -> Value {
    let state = |v: Version, web: &str| {
        v.service_data(
            "state",
            web,
            &["cat", "/data/state"],
            &["sh", "-c", "cat > /data/state"],
        )
    };
    common::plan_object(
        &shop()
            .edit_version("a", |v| state(v, "a-web"))
            .edit_version("b", |v| state(v, "b-web")),
    )
}

fn selection(active: &str, generation: i64) -> VersionSelection {
    serde_json::from_value(json!({
        "apiVersion": "turnout.dev/v1alpha1", "kind": "VersionSelection",
        "metadata": {"name": "host", "namespace": "default", "uid": "s-1",
                     "generation": generation, "resourceVersion": "7",
                     "labels": {"turnout.dev/host": "one"}},
        "spec": {"planRef": PLAN, "activeVersion": active}
    }))
    .unwrap()
}

fn context(
    client: kube::Client,
    rt: &Arc<MemoryRuntime>,
    dir: &std::path::Path,
) -> Arc<Context<MemoryRuntime, StaticHost>> {
    let copier = KubeSwitchSync {
        client: client.clone(),
        runtime: rt.clone(),
        options: sync_options(dir),
    };
    let reconciler = Reconciler::new(
        rt.clone(),
        StaticHost::default(),
        SecretFiles::new(dir.join("secrets")),
    )
    .with_sync(Arc::new(copier), dir.join("state"));
    Arc::new(
        Context::new(client, reconciler, sync_options(dir))
            .with_selector(Some("turnout.dev/host=one".into())),
    )
}

/// One DataSync reconcile against an API double answering with `route`:
/// the requests it made, and the engine it ran against.
async fn reconcile_datasync(
    route: Route,
    dir: &std::path::Path,
    ds: DataSync,
) -> (Vec<Seen>, Arc<MemoryRuntime>) {
    let (client, server) = double(route);
    let rt = runtime_with_images();
    let ctx = context(client, &rt, dir);
    datasync::reconcile(Arc::new(ds), ctx.clone())
        .await
        .expect("reconcile");
    drop(ctx);
    (server.await.unwrap(), rt)
}

/// Converges on version a (generation 2), then switches to b (generation 3).
async fn start_on_a_then_switch_to_b(ctx: &Arc<Context<MemoryRuntime, StaticHost>>) {
    reconcile(Arc::new(selection("a", 2)), ctx.clone())
        .await
        .expect("first reconcile");
    reconcile(Arc::new(selection("b", 3)), ctx.clone())
        .await
        .expect("the switch");
}

/// What the API server keeps of a selection's status patch.
fn patched_selection(body: &Value, active: &str) -> Value {
    let mut obj = serde_json::to_value(selection(active, 3)).unwrap();
    obj["status"] = body["status"].clone();
    obj
}

#[tokio::test]
async fn a_switch_creates_one_owned_datasync_and_an_existing_succeeded_one_is_not_run_again() {
    let existing = json!({
        "apiVersion": "turnout.dev/v1alpha1", "kind": "DataSync",
        "metadata": {"name": "host-a-to-b-3", "namespace": "default", "uid": "d-1", "generation": 1,
                     "ownerReferences": [{"apiVersion": "turnout.dev/v1alpha1", "kind": "VersionSelection",
                                          "name": "host", "uid": "s-1", "controller": true}]},
        "spec": {"planRef": PLAN, "from": "a", "to": "b"},
        "status": {"phase": "Succeeded", "observedGeneration": 1,
                   "steps": [{"binding": "state", "source": "a-web", "target": "b-web", "bytes": 42}],
                   "message": "copied 1 binding(s) from a to b"}
    });
    let (client, server) = double(Box::new(move |m, p, body| match (m, p) {
        (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => {
            (StatusCode::OK, plan_object())
        }
        (&Method::PATCH, p) if p.ends_with("/versionselections/host/status") => {
            (StatusCode::OK, patched_selection(body, "b"))
        }
        // The DataSync exists already: creating it again changes nothing.
        (&Method::POST, p) if p.ends_with("/datasyncs") => status_error(409, "AlreadyExists"),
        (&Method::GET, p) if p.ends_with("/datasyncs/host-a-to-b-3") => {
            (StatusCode::OK, existing.clone())
        }
        (&Method::POST, _) => (StatusCode::CREATED, body.clone()),
        _ => status_error(404, "NotFound"),
    }));
    let rt = runtime_with_images();
    let dir = temp_dir("kube-switch-datasync");
    let ctx = context(client, &rt, &dir);
    start_on_a_then_switch_to_b(&ctx).await;
    drop(ctx);
    let seen = server.await.unwrap();

    assert!(
        rt.running().contains("b-web") && !rt.running().contains("a-web"),
        "the switch went ahead on the Succeeded DataSync: {:?}",
        rt.running()
    );
    let creates: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.method == Method::POST && s.path.ends_with("/datasyncs"))
        .collect();
    assert_eq!(creates.len(), 1, "one DataSync per switch: {seen:#?}");
    let created = &creates[0].body;
    assert_eq!(
        creates[0].path,
        "/apis/turnout.dev/v1alpha1/namespaces/default/datasyncs"
    );
    assert_eq!(created["metadata"]["name"], "host-a-to-b-3");
    let owner = &created["metadata"]["ownerReferences"][0];
    assert_eq!(
        (
            &owner["kind"],
            &owner["name"],
            &owner["uid"],
            &owner["controller"]
        ),
        (
            &json!("VersionSelection"),
            &json!("host"),
            &json!("s-1"),
            &json!(true)
        )
    );
    assert_eq!(
        created["spec"],
        json!({"planRef": PLAN, "from": "a", "to": "b", "backup": true,
               "allowOverwriteNewer": false, "force": false})
    );
    assert!(
        seen.iter()
            .any(|s| s.method == Method::GET && s.path.ends_with("/datasyncs/host-a-to-b-3")),
        "the existing DataSync was read"
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.path.contains("/datasyncs/") && s.method == Method::PATCH),
        "a Succeeded DataSync is not run again (no status write): {seen:#?}"
    );
    // The selection's status names the DataSync of its last switch.
    let last = seen
        .iter()
        .rev()
        .find(|s| s.path.ends_with("/versionselections/host/status"))
        .unwrap();
    assert_eq!(last.body["status"]["activeVersion"], "b");
    assert_eq!(
        last.body["status"]["lastSwitch"]["dataSync"], "host-a-to-b-3",
        "{}",
        last.body
    );
}

#[tokio::test]
async fn a_failed_switch_copy_keeps_the_new_version_down_and_reports_the_datasync() {
    let (client, server) = double(Box::new(move |m, p, body| match (m, p) {
        (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => {
            (StatusCode::OK, plan_object())
        }
        (&Method::PATCH, p) if p.ends_with("/versionselections/host/status") => {
            (StatusCode::OK, patched_selection(body, "b"))
        }
        (&Method::PATCH, p) if p.ends_with("/datasyncs/host-a-to-b-3/status") => {
            let mut obj = json!({
                "apiVersion": "turnout.dev/v1alpha1", "kind": "DataSync",
                "metadata": {"name": "host-a-to-b-3", "namespace": "default"},
                "spec": {"planRef": PLAN, "from": "a", "to": "b"}});
            obj["status"] = body["status"].clone();
            (StatusCode::OK, obj)
        }
        (&Method::POST, p) if p.ends_with("/datasyncs") => {
            let mut obj = body.clone();
            obj["metadata"]["uid"] = json!("d-1");
            obj["metadata"]["generation"] = json!(1);
            (StatusCode::CREATED, obj)
        }
        (&Method::POST, _) => (StatusCode::CREATED, body.clone()),
        _ => status_error(404, "NotFound"),
    }));
    let rt = runtime_with_images();
    let dir = temp_dir("kube-switch-datasync-fails");
    let ctx = context(client, &rt, &dir);
    start_on_a_then_switch_to_b(&ctx).await;
    drop(ctx);
    let seen = server.await.unwrap();

    // The in-memory engine runs no export command: the copy fails.
    assert!(
        !rt.running().contains("b-web") && !rt.running().contains("a-web"),
        "{:?}",
        rt.running()
    );
    let phases: Vec<&Value> = seen
        .iter()
        .filter(|s| s.path.ends_with("/datasyncs/host-a-to-b-3/status"))
        .map(|s| &s.body["status"]["phase"])
        .collect();
    assert_eq!(phases, [&json!("Running"), &json!("Failed")]);
    let last = seen
        .iter()
        .rev()
        .find(|s| s.path.ends_with("/versionselections/host/status"))
        .unwrap();
    let ready = last.body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("SyncFailed"))
    );
}

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

fn user_datasync(owned: bool, status: Value) -> DataSync {
    let mut v = json!({
        "apiVersion": "turnout.dev/v1alpha1", "kind": "DataSync",
        "metadata": {"name": "copy-a-to-b", "namespace": "default", "uid": "d-9", "generation": 2},
        "spec": {"planRef": PLAN, "from": "a", "to": "b"},
        "status": status
    });
    if owned {
        v["metadata"]["ownerReferences"] = json!([{"apiVersion": "turnout.dev/v1alpha1",
            "kind": "VersionSelection", "name": "host", "uid": "s-1", "controller": true}]);
    }
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn the_datasync_controller_leaves_alone_what_is_done_or_not_its_own() {
    for (ds, why) in [
        (
            user_datasync(false, json!({"phase": "Succeeded"})),
            "a Succeeded DataSync",
        ),
        (
            user_datasync(false, json!({"phase": "Failed", "observedGeneration": 2})),
            "a Failed DataSync whose spec did not change",
        ),
    ] {
        let dir = temp_dir("kube-ds-skip");
        let (seen, rt) = reconcile_datasync(
            Box::new(|_, _, _| status_error(500, "unexpected")),
            &dir,
            ds,
        )
        .await;
        assert!(seen.is_empty(), "{why}: no request at all: {seen:#?}");
        assert!(
            mutating(&rt.take_calls()).is_empty(),
            "{why}: host untouched"
        );
    }

    // A switch's DataSync (its selection runs it): read afresh once the host
    // is free, and with no finished copy on record, left alone.
    let route: Route = Box::new(|m, p, _| match (m, p) {
        (&Method::GET, p) if p.ends_with("/datasyncs/copy-a-to-b") => (
            StatusCode::OK,
            serde_json::to_value(user_datasync(true, json!({"phase": "Running"}))).unwrap(),
        ),
        _ => status_error(500, "unexpected"),
    });
    let dir = temp_dir("kube-ds-owned");
    let (seen, rt) = reconcile_datasync(
        route,
        &dir,
        user_datasync(true, json!({"phase": "Running"})),
    )
    .await;
    assert_eq!(seen.len(), 1, "only the fresh read: {seen:#?}");
    assert!(mutating(&rt.take_calls()).is_empty());

    // A DataSync of a plan no selection served here references: only the
    // list of this turnout's selections is read.
    let route: Route = Box::new(|m, p, _| match (m, p) {
        (&Method::GET, "/apis/turnout.dev/v1alpha1/namespaces/default/versionselections") => (
            StatusCode::OK,
            json!({"apiVersion": "turnout.dev/v1alpha1", "kind": "VersionSelectionList",
                   "metadata": {}, "items": [{"apiVersion": "turnout.dev/v1alpha1",
                   "kind": "VersionSelection", "metadata": {"name": "other", "namespace": "default"},
                   "spec": {"planRef": "another-plan", "activeVersion": "x"}}]}),
        ),
        _ => status_error(500, "unexpected"),
    });
    let dir = temp_dir("kube-ds-foreign");
    let (seen, rt) = reconcile_datasync(route, &dir, user_datasync(false, json!({}))).await;
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert!(mutating(&rt.take_calls()).is_empty());
}

#[tokio::test]
async fn the_datasync_controller_runs_a_served_datasync_and_reports_its_failure() {
    let route: Route = Box::new(|m, p, body| match (m, p) {
        (&Method::GET, "/apis/turnout.dev/v1alpha1/namespaces/default/versionselections") => (
            StatusCode::OK,
            json!({"apiVersion": "turnout.dev/v1alpha1", "kind": "VersionSelectionList",
                   "metadata": {}, "items": [serde_json::to_value(selection("a", 1)).unwrap()]}),
        ),
        (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => {
            (StatusCode::OK, plan_object())
        }
        // Read afresh once the host is ours.
        (&Method::GET, p) if p.ends_with("/datasyncs/copy-a-to-b") => (
            StatusCode::OK,
            serde_json::to_value(user_datasync(false, json!({}))).unwrap(),
        ),
        (&Method::PATCH, p) if p.ends_with("/datasyncs/copy-a-to-b/status") => {
            let mut obj = serde_json::to_value(user_datasync(false, json!({}))).unwrap();
            obj["status"] = body["status"].clone();
            (StatusCode::OK, obj)
        }
        (&Method::POST, p) if p.contains("/events") => (StatusCode::CREATED, body.clone()),
        _ => status_error(500, "unexpected"),
    });
    let dir = temp_dir("kube-ds-run");
    let (seen, rt) = reconcile_datasync(route, &dir, user_datasync(false, json!({}))).await;
    assert!(
        mutating(&rt.take_calls()).is_empty(),
        "a failed copy leaves the containers as they were"
    );
    let list_query_ok = seen[0].path.ends_with("/versionselections");
    assert!(list_query_ok, "{seen:#?}");
    let statuses: Vec<&Value> = seen
        .iter()
        .filter(|s| s.path.ends_with("/status"))
        .map(|s| &s.body["status"])
        .collect();
    assert_eq!(statuses.len(), 2, "{seen:#?}");
    assert_eq!(statuses[0]["phase"], "Running");
    assert_eq!(statuses[1]["phase"], "Failed");
    assert_eq!(statuses[1]["observedGeneration"], 2);
    assert!(
        statuses[1]["message"]
            .as_str()
            .is_some_and(|m| m.contains("a-web")),
        "the failure names the container: {}",
        statuses[1]["message"]
    );
    let event = seen.iter().find(|s| s.path.contains("/events")).unwrap();
    assert_eq!(event.body["reason"], "SyncFailed");
    assert_eq!(event.body["regarding"]["kind"], "DataSync");
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
async fn a_datasync_of_an_earlier_selection_of_the_same_name_is_not_taken_for_this_switch() {
    // A selection deleted and created again starts its generations anew; the
    // old one's DataSync (not yet garbage-collected) has the same name.
    let stale = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let still_stale = stale.clone();
    let (client, server) = double(Box::new(move |m, p, body| match (m, p) {
        (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => {
            (StatusCode::OK, plan_object())
        }
        (&Method::PATCH, p) if p.ends_with("/versionselections/host/status") => {
            (StatusCode::OK, patched_selection(body, "b"))
        }
        (&Method::POST, p) if p.ends_with("/datasyncs") => status_error(409, "AlreadyExists"),
        (&Method::GET, p) if p.ends_with("/datasyncs/host-a-to-b-3") => {
            let owner = if still_stale.load(std::sync::atomic::Ordering::SeqCst) {
                "s-0"
            } else {
                "s-1"
            };
            (
                StatusCode::OK,
                json!({
                    "apiVersion": "turnout.dev/v1alpha1", "kind": "DataSync",
                    "metadata": {"name": "host-a-to-b-3", "namespace": "default", "uid": "d-0",
                                 "ownerReferences": [{"apiVersion": "turnout.dev/v1alpha1",
                                   "kind": "VersionSelection", "name": "host", "uid": owner, "controller": true}]},
                    "spec": {"planRef": PLAN, "from": "a", "to": "b"},
                    "status": {"phase": "Succeeded", "steps": []}
                }),
            )
        }
        (&Method::POST, _) => (StatusCode::CREATED, body.clone()),
        _ => status_error(404, "NotFound"),
    }));
    let rt = runtime_with_images();
    let dir = temp_dir("kube-stale-datasync");
    let ctx = context(client, &rt, &dir);
    start_on_a_then_switch_to_b(&ctx).await;
    assert!(
        !rt.running().contains("b-web"),
        "the stale DataSync did not stand in for this switch's copy"
    );
    // Once it is gone (here: it belongs to this selection), the next
    // reconcile goes on: a refusal to begin is not a failed copy.
    stale.store(false, std::sync::atomic::Ordering::SeqCst);
    reconcile(Arc::new(selection("b", 3)), ctx.clone())
        .await
        .expect("the retry");
    drop(ctx);
    let seen = server.await.unwrap();
    assert!(rt.running().contains("b-web"), "{:?}", rt.running());
    let messages: Vec<String> = seen
        .iter()
        .filter(|s| s.path.ends_with("/versionselections/host/status"))
        .filter_map(|s| {
            s.body["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "Ready")
                .map(|c| c["message"].to_string())
        })
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("belongs to another VersionSelection")),
        "{messages:#?}"
    );
}

#[tokio::test]
async fn a_datasync_is_read_afresh_before_it_runs_and_a_finished_one_is_left_alone() {
    // The cache still says Running; the API server knows it Succeeded.
    let route: Route = Box::new(|m, p, _| match (m, p) {
        (&Method::GET, "/apis/turnout.dev/v1alpha1/namespaces/default/versionselections") => (
            StatusCode::OK,
            json!({"apiVersion": "turnout.dev/v1alpha1", "kind": "VersionSelectionList",
                   "metadata": {}, "items": [serde_json::to_value(selection("a", 1)).unwrap()]}),
        ),
        (&Method::GET, p) if p.ends_with("/datasyncs/copy-a-to-b") => (
            StatusCode::OK,
            serde_json::to_value(user_datasync(
                false,
                json!({"phase": "Succeeded", "observedGeneration": 2}),
            ))
            .unwrap(),
        ),
        _ => status_error(500, "unexpected"),
    });
    let dir = temp_dir("kube-ds-fresh");
    let (seen, rt) = reconcile_datasync(
        route,
        &dir,
        user_datasync(false, json!({"phase": "Running"})),
    )
    .await;
    assert_eq!(
        seen.len(),
        2,
        "list, then the fresh read; nothing else: {seen:#?}"
    );
    assert!(mutating(&rt.take_calls()).is_empty());
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

#[tokio::test]
async fn a_switch_datasync_whose_last_status_write_was_lost_is_repaired_from_the_hosts_record() {
    let dir = temp_dir("kube-ds-repair");
    let ds = user_datasync(true, json!({"phase": "Running"}));
    // What the host recorded when the copy finished (namespace.name.uid).
    turnout::sync::run::store_of(&sync_options(&dir))
        .put(&turnout::sync::store::StoredSync {
            name: "default.copy-a-to-b.d-9".into(),
            spec: ds.spec.clone(),
            status: turnout_crds::datasync::DataSyncStatus {
                phase: Some(turnout_crds::datasync::SyncPhase::Succeeded),
                message: Some("copied 1 binding(s) from a to b".into()),
                ..Default::default()
            },
        })
        .unwrap();
    let (client, server) = double(Box::new(|m, p, body| match (m, p) {
        (&Method::GET, p) if p.ends_with("/datasyncs/copy-a-to-b") => (
            StatusCode::OK,
            serde_json::to_value(user_datasync(true, json!({"phase": "Running"}))).unwrap(),
        ),
        (&Method::PATCH, p) if p.ends_with("/datasyncs/copy-a-to-b/status") => {
            let mut obj = serde_json::to_value(user_datasync(true, json!({}))).unwrap();
            obj["status"] = body["status"].clone();
            (StatusCode::OK, obj)
        }
        _ => status_error(500, "unexpected"),
    }));
    let rt = runtime_with_images();
    let ctx = context(client, &rt, &dir);
    datasync::reconcile(Arc::new(ds), ctx.clone())
        .await
        .expect("reconcile");
    drop(ctx);
    let seen = server.await.unwrap();
    let writes: Vec<&Seen> = seen.iter().filter(|s| s.method == Method::PATCH).collect();
    assert_eq!(writes.len(), 1, "{seen:#?}");
    assert_eq!(writes[0].body["status"]["phase"], "Succeeded");
    assert_eq!(writes[0].body["status"]["observedGeneration"], 2);
    assert!(mutating(&rt.take_calls()).is_empty(), "nothing ran again");
}

#[tokio::test]
async fn a_datasync_that_breaks_a_rule_fails_before_the_host_is_touched() {
    let ds = |to: &str| -> DataSync {
        serde_json::from_value(json!({
            "apiVersion": "turnout.dev/v1alpha1", "kind": "DataSync",
            "metadata": {"name": "copy-a-to-b", "namespace": "default", "uid": "d-9", "generation": 2},
            "spec": {"planRef": PLAN, "from": "a", "to": to},
        }))
        .unwrap()
    };
    let route: Route = Box::new(move |m, p, body| match (m, p) {
        (&Method::GET, "/apis/turnout.dev/v1alpha1/namespaces/default/versionselections") => (
            StatusCode::OK,
            json!({"apiVersion": "turnout.dev/v1alpha1", "kind": "VersionSelectionList",
                   "metadata": {}, "items": [serde_json::to_value(selection("a", 1)).unwrap()]}),
        ),
        (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => {
            (StatusCode::OK, plan_object())
        }
        (&Method::GET, p) if p.ends_with("/datasyncs/copy-a-to-b") => {
            (StatusCode::OK, serde_json::to_value(ds("zzz")).unwrap())
        }
        (&Method::PATCH, p) if p.ends_with("/datasyncs/copy-a-to-b/status") => {
            let mut obj = serde_json::to_value(ds("zzz")).unwrap();
            obj["status"] = body["status"].clone();
            (StatusCode::OK, obj)
        }
        (&Method::POST, p) if p.contains("/events") => (StatusCode::CREATED, body.clone()),
        _ => status_error(500, "unexpected"),
    });
    let dir = temp_dir("kube-ds-invalid");
    let (seen, rt) = reconcile_datasync(route, &dir, ds("zzz")).await;
    assert!(
        rt.take_calls().is_empty(),
        "the engine was not even asked: nothing was read or run"
    );
    let statuses: Vec<&Value> = seen
        .iter()
        .filter(|s| s.path.ends_with("/status"))
        .map(|s| &s.body["status"])
        .collect();
    assert_eq!(statuses.len(), 1, "no Running: it never ran: {seen:#?}");
    assert_eq!(statuses[0]["phase"], "Failed");
    let message = statuses[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("InvalidDataSync") && message.contains("zzz"),
        "{message}"
    );
    assert!(
        !store_of_has_runs(&dir),
        "no record of a run was made on the host"
    );
}

/// Whether the host's DataSync records hold anything.
fn store_of_has_runs(dir: &std::path::Path) -> bool {
    !turnout::sync::run::store_of(&sync_options(dir))
        .all()
        .is_empty()
}
