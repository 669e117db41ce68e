//! The DataSync controller: it leaves alone what is done or not its own,
//! reads a DataSync afresh before running it, reports a failure, repairs a
//! lost status write from the host's record, and refuses a DataSync that
//! breaks a rule before touching the host.

use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;

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
