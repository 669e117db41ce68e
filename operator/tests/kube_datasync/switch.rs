//! The DataSync of a switch: one per switch, owned by its selection, not
//! run again once Succeeded, not confused with an earlier selection's, and
//! its failure keeps the new version down.

use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;

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
