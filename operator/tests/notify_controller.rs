//! The VersionSelection controller sends notifications: against the API
//! double, one reconcile reads the sinks' URLs from the Secret their
//! `secretKeyRef`s name (a named `get`, never a list) and posts the
//! switch's start and success to a receiver in the test, with the
//! selection named `namespace/name`; the URL's token stays out of status
//! and Events. The DataSync controller tells a failed DataSync to its
//! PortPlan's sinks, once per failed spec.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::api_double::*;
use common::receiver::{b64, receiver};
use common::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use turnout::controller::{Context, datasync, reconcile};
use turnout::host::StaticHost;
use turnout::metrics::Metrics;
use turnout::notify::{Delivery, Notifier};
use turnout::reconcile::Reconciler;
use turnout::secrets::SecretFiles;
use turnout_crds::{DataSync, VersionSelection};

const TOKEN: &str = "KUBE-TOKEN-789";

fn selection() -> VersionSelection {
    serde_json::from_value(json!({
        "apiVersion": "turnout.dev/v1alpha1", "kind": "VersionSelection",
        "metadata": {"name": "host", "namespace": "default", "uid": "s-1", "generation": 1, "resourceVersion": "7"},
        "spec": {"planRef": PLAN, "activeVersion": "a", "notifications": [
            {"name": "chat", "kind": "Slack", "events": ["SwitchSucceeded"],
             "url": {"secretKeyRef": {"name": "hooks", "key": "chat"}}}
        ]}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_reconcile_posts_the_switch_to_the_sinks_its_secrets_name() {
    let (port, mut posts) = receiver().await;
    let plan = shop().set(
        "notifications",
        json!([{"name": "ops", "kind": "Webhook",
                "url": {"secretKeyRef": {"name": "hooks", "key": "ops"}}}]),
    );
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hooks"},
        "data": {
            "ops": b64(&format!("http://127.0.0.1:{port}/ops/{TOKEN}")),
            "chat": b64(&format!("http://127.0.0.1:{port}/chat/{TOKEN}")),
        }
    });
    let sel = serde_json::to_value(selection()).expect("selection as JSON");
    let (client, server) = double(Box::new(move |method, path, body| {
        let reply = match (method, path) {
            (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => plan_object(&plan),
            (&Method::GET, "/api/v1/namespaces/default/secrets/hooks") => secret.clone(),
            _ => return selection_write(&sel, method, body),
        };
        (StatusCode::OK, reply)
    }));
    let rt = runtime_with_images();
    let dir = temp_dir("notify-controller");
    let metrics = Arc::new(Metrics::new());
    let (notifier, delivery) =
        Notifier::start(Delivery::default(), metrics.clone(), "node-7".into());
    let ctx = Arc::new(
        Context::new(
            client,
            Reconciler::new(
                rt.clone(),
                StaticHost::default(),
                SecretFiles::new(dir.join("secrets")),
            ),
            sync_options(&dir),
        )
        .with_notifier(notifier),
    );
    reconcile(Arc::new(selection()), ctx.clone())
        .await
        .expect("reconcile");
    drop(ctx);
    let seen = server.await.unwrap();
    assert!(rt.running().contains("a-web"));

    let mut got = Vec::new();
    while got.len() < 3 {
        let post = tokio::time::timeout(Duration::from_secs(10), posts.recv()).await;
        got.push(post.expect("three posts within 10 s").unwrap());
    }
    delivery.finish(Duration::from_secs(1)).await;
    got.sort_by_key(|(path, body)| (path.clone(), body["event"].as_str().map(str::to_string)));
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    let ops = format!("/ops/{TOKEN}");
    let chat = format!("/chat/{TOKEN}");
    assert_eq!(paths, [chat.as_str(), ops.as_str(), ops.as_str()]);
    let text = got[0].1["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("turnout: default/host on node-7: switched to a ("),
        "{text}"
    );
    let started = &got[1].1;
    assert_eq!(started["event"], "SwitchStarted");
    let succeeded = &got[2].1;
    assert_eq!(succeeded["event"], "SwitchSucceeded");
    for e in [started, succeeded] {
        assert_eq!(
            (&e["selection"], &e["plan"], &e["host"], &e["to"]),
            (
                &json!("default/host"),
                &json!(PLAN),
                &json!("node-7"),
                &json!("a")
            ),
            "{e}"
        );
        assert!(
            e.get("from").is_none(),
            "a first start comes from nowhere: {e}"
        );
    }
    assert_eq!(succeeded["reason"], "Converged");
    assert!(succeeded["phases"]["startMs"].is_u64(), "{succeeded}");

    // The Secret was read by name (once per key), never listed; the token
    // reached neither status nor Events.
    let secret_reads: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path.contains("/secrets"))
        .collect();
    assert!(!secret_reads.is_empty());
    assert!(
        secret_reads
            .iter()
            .all(|s| s.method == Method::GET && s.path.ends_with("/secrets/hooks"))
    );
    assert!(
        seen.iter().all(|s| !s.body.to_string().contains(TOKEN)),
        "the token reached the API"
    );
    let m = metrics.encode();
    assert!(
        m.contains(
            "turnout_notifications_sent_total{kind=\"Webhook\",event=\"SwitchSucceeded\"} 1"
        ),
        "{m}"
    );
}

/// A DataSync a person created: version a's `state` into b's, with
/// `generation` and `status`.
fn user_datasync(generation: i64, backup: bool, status: Value) -> Value {
    json!({
        "apiVersion": "turnout.dev/v1alpha1", "kind": "DataSync",
        "metadata": {"name": "seed-b", "namespace": "default", "uid": "d-4",
                     "generation": generation, "resourceVersion": "9"},
        "spec": {"planRef": PLAN, "from": "a", "to": "b", "backup": backup},
        "status": status
    })
}

#[tokio::test]
async fn a_failed_datasync_is_told_once_to_its_plans_sinks_and_again_for_a_changed_spec() {
    let (port, mut posts) = receiver().await;
    // Version a's service data is exported by a command in a-web, which the
    // in-memory engine does not run: the copy fails.
    let state = |v: turnout_e2e::plan::Version, web: &str| {
        v.service_data(
            "state",
            web,
            &["cat", "/state"],
            &["sh", "-c", "cat > /state"],
        )
    };
    let plan = shop()
        .edit_version("a", |v| state(v, "a-web"))
        .edit_version("b", |v| state(v, "b-web"))
        .set(
            "notifications",
            json!([{"name": "ops", "kind": "Webhook", "events": ["SyncFailed"],
                    "url": {"secretKeyRef": {"name": "hooks", "key": "ops"}}}]),
        );
    let plan = plan_object(&plan);
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hooks"},
        "data": {"ops": b64(&format!("http://127.0.0.1:{port}/ops/{TOKEN}"))}
    });
    // What the API server holds of the DataSync: the test edits its spec,
    // turnout its status.
    let object = Arc::new(std::sync::Mutex::new(user_datasync(2, true, json!({}))));
    let held = object.clone();
    let (client, server) = double(Box::new(move |method, path, body| {
        let reply = match (method, path) {
            (&Method::GET, p) if p.ends_with("/versionselections") => json!({
                "apiVersion": "turnout.dev/v1alpha1", "kind": "VersionSelectionList",
                "metadata": {}, "items": [serde_json::to_value(selection()).unwrap()]}),
            (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => plan.clone(),
            (&Method::GET, "/api/v1/namespaces/default/secrets/hooks") => secret.clone(),
            (&Method::GET, p) if p.ends_with("/datasyncs/seed-b") => held.lock().unwrap().clone(),
            (&Method::PATCH, p) if p.ends_with("/datasyncs/seed-b/status") => {
                let mut obj = held.lock().unwrap();
                obj["status"] = body["status"].clone();
                obj.clone()
            }
            (&Method::POST, p) if p.contains("/events") => body.clone(),
            _ => return status_error(500, "unexpected"),
        };
        let code = if method == Method::POST {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        (code, reply)
    }));
    let rt = runtime_with_images();
    let dir = temp_dir("notify-datasync");
    let (notifier, delivery) = Notifier::start(
        Delivery::default(),
        Arc::new(Metrics::new()),
        "node-7".into(),
    );
    let ctx = Arc::new(
        Context::new(
            client,
            Reconciler::new(
                rt.clone(),
                StaticHost::default(),
                SecretFiles::new(dir.join("secrets")),
            ),
            sync_options(&dir),
        )
        .with_notifier(notifier),
    );
    let run = |ds: Value| {
        let ctx = ctx.clone();
        async move {
            let ds: DataSync = serde_json::from_value(ds).unwrap();
            let done = datasync::reconcile(Arc::new(ds), ctx);
            tokio::time::timeout(Duration::from_secs(30), done)
                .await
                .expect("a DataSync reconcile within 30 s")
                .expect("reconcile");
        }
    };
    // The copy runs and fails.
    run(user_datasync(2, true, json!({}))).await;
    let failed_status = object.lock().unwrap()["status"].clone();
    assert_eq!(failed_status["phase"], "Failed", "{failed_status}");
    // A stale cache (no status yet) reconciles it again: read afresh, it
    // stays failed for this spec and is not told again.
    run(user_datasync(2, true, json!({}))).await;
    // The spec changes (generation 3): a new attempt, failing again.
    *object.lock().unwrap() = user_datasync(3, false, failed_status.clone());
    let changed = object.lock().unwrap().clone();
    run(changed).await;
    drop(ctx);
    let seen = server.await.unwrap();
    delivery.finish(Duration::from_secs(5)).await;

    let mut got = Vec::new();
    while let Ok(post) = posts.try_recv() {
        got.push(post);
    }
    assert_eq!(got.len(), 2, "one SyncFailed per failed spec: {got:#?}");
    // Each post carries its attempt's own message (and the reason it names).
    let mut failures: Vec<&str> = seen
        .iter()
        .filter(|s| s.method == Method::PATCH && s.body["status"]["phase"] == "Failed")
        .filter_map(|s| s.body["status"]["message"].as_str())
        .collect();
    failures.sort();
    let mut told: Vec<&str> = got
        .iter()
        .filter_map(|(_, e)| e["message"].as_str())
        .collect();
    told.sort();
    assert_eq!(told, failures);
    for (path, e) in &got {
        assert_eq!(path, &format!("/ops/{TOKEN}"));
        let mut keys: Vec<&String> = e.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "dataSync",
                "event",
                "from",
                "host",
                "message",
                "plan",
                "reason",
                "selection",
                "time",
                "to"
            ],
            "{e}"
        );
        assert_eq!(
            (&e["event"], &e["selection"], &e["plan"], &e["host"]),
            (
                &json!("SyncFailed"),
                &json!("default/seed-b"),
                &json!(PLAN),
                &json!("node-7")
            ),
            "{e}"
        );
        assert_eq!(
            (&e["from"], &e["to"], &e["dataSync"], &e["reason"]),
            (
                &json!("a"),
                &json!("b"),
                &json!("seed-b"),
                &json!("RuntimeError")
            ),
            "{e}"
        );
        let message = e["message"].as_str().unwrap();
        assert!(
            message.starts_with("[RuntimeError] container a-web"),
            "{message}"
        );
    }
    // The Secret read by name; its token in no request to the API server.
    assert!(
        seen.iter()
            .any(|s| s.method == Method::GET && s.path.ends_with("/secrets/hooks"))
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.path.contains("/secrets") && s.method != Method::GET)
    );
    assert!(
        seen.iter().all(|s| !s.body.to_string().contains(TOKEN)),
        "the token reached the API"
    );
}
