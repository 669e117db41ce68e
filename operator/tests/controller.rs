//! The Kubernetes driver against an HTTP-level API double (tower-test):
//! one reconcile of a VersionSelection makes exactly the expected requests —
//! the PortPlan, the named Secret (never a list), a server-side-apply status
//! patch under turnout's field manager, and Events — and converges the host.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use common::api_double::*;
use common::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use turnout::controller::{Context, reconcile};
use turnout::host::StaticHost;
use turnout::reconcile::Reconciler;
use turnout::secrets::SecretFiles;
use turnout_crds::VersionSelection;

/// The test plan, its database password from a Secret in the selection's
/// namespace.
fn plan_with_secret() -> PlanBuilder {
    shop().edit("db", |db| {
        db.secret_key(
            "db-root",
            "/run/secrets/db-root",
            "shop-db",
            "root-password",
        )
    })
}

fn selection() -> VersionSelection {
    serde_json::from_value(json!({
        "apiVersion": "turnout.dev/v1alpha1", "kind": "VersionSelection",
        "metadata": {"name": "host", "namespace": "default", "uid": "s-1", "generation": 3, "resourceVersion": "7"},
        "spec": {"planRef": PLAN, "activeVersion": "a"}
    }))
    .unwrap()
}

#[tokio::test]
async fn one_reconcile_makes_exactly_the_expected_requests() {
    let (client, server) = double(Box::new(|method, path, body| {
        let reply = match (method, path) {
            (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => {
                plan_object(&plan_with_secret())
            }
            (&Method::GET, "/api/v1/namespaces/default/secrets/shop-db") => json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-db"},
                "data": {"root-password": "czNjcjN0"}
            }),
            (&Method::PATCH, _) => {
                let mut obj = serde_json::to_value(selection()).unwrap();
                obj["status"] = body["status"].clone();
                obj
            }
            (&Method::POST, _) => body.clone(),
            _ => json!({}),
        };
        let code = if method == Method::POST {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        (code, reply)
    }));

    let rt = runtime_with_images();
    let dir = temp_dir("controller");
    let ctx = Arc::new(Context::new(
        client,
        Reconciler::new(
            rt.clone(),
            StaticHost::default(),
            SecretFiles::new(dir.join("secrets")),
        ),
        sync_options(&dir),
    ));
    let action = reconcile(Arc::new(selection()), ctx.clone())
        .await
        .expect("reconcile");
    drop(ctx);
    let seen = server.await.unwrap();

    // The host converged on version a, and the secret reached the container as a file.
    assert!(rt.running().contains("a-web") && rt.running().contains("db"));
    let db = rt.config("db").unwrap();
    assert_eq!(std::fs::read(&db.secret_files[0].0).unwrap(), b"s3cr3t");
    assert!(!format!("{:?}", db.env).contains("s3cr3t"));

    let paths: Vec<(&Method, &str)> = seen.iter().map(|s| (&s.method, s.path.as_str())).collect();
    // The plan, the Secret, the status, then at least one Event.
    assert!(
        paths.len() > 3,
        "the actions were published as Events: {paths:#?}"
    );
    assert_eq!(
        paths[0],
        (
            &Method::GET,
            "/apis/turnout.dev/v1alpha1/namespaces/default/portplans/shop"
        )
    );
    assert_eq!(
        paths[1],
        (&Method::GET, "/api/v1/namespaces/default/secrets/shop-db")
    );
    assert_eq!(
        paths[2],
        (
            &Method::PATCH,
            "/apis/turnout.dev/v1alpha1/namespaces/default/versionselections/host/status"
        )
    );
    // Events: created, or patched into a series when the same kind of action repeats.
    assert!(
        paths[3..].iter().all(|(m, p)| p
            .starts_with("/apis/events.k8s.io/v1/namespaces/default/events")
            && (**m == Method::POST || **m == Method::PATCH)),
        "{paths:#?}"
    );
    assert_eq!(paths[3].0, &Method::POST, "the first Event is created");
    assert!(
        !seen
            .iter()
            .any(|s| s.path.ends_with("/secrets") && s.method == Method::GET),
        "Secrets are never listed"
    );

    let patch = &seen[2];
    assert!(
        patch.query.contains("fieldManager=turnout") && patch.query.contains("force=true"),
        "{}",
        patch.query
    );
    assert_eq!(patch.body["kind"], "VersionSelection");
    let status = &patch.body["status"];
    assert_eq!(status["observedGeneration"], 3);
    assert_eq!(status["activeVersion"], "a");
    let ready = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("True"), Some("Converged"))
    );
    assert!(
        !patch.body.to_string().contains("s3cr3t"),
        "no secret in status"
    );
    assert!(
        seen[3..]
            .iter()
            .all(|s| !s.body.to_string().contains("s3cr3t")),
        "no secret in events"
    );
    assert_eq!(
        format!("{action:?}"),
        format!(
            "{:?}",
            kube::runtime::controller::Action::requeue(std::time::Duration::from_secs(60))
        )
    );
}

/// Serves `plan` (or a 404 when None) and records requests.
fn plan_double(plan: Option<Value>) -> (kube::Client, tokio::task::JoinHandle<Vec<Seen>>) {
    double(Box::new(move |method, path, body| match (method, &plan) {
        (&Method::GET, None) if path.contains("/portplans/") => status_error(404, "NotFound"),
        (&Method::GET, Some(p)) if path.contains("/portplans/") => (StatusCode::OK, p.clone()),
        (&Method::PATCH, _) if path.ends_with("/status") => {
            let mut obj = serde_json::to_value(selection()).unwrap();
            obj["status"] = body["status"].clone();
            (StatusCode::OK, obj)
        }
        _ => (StatusCode::CREATED, body.clone()),
    }))
}

fn context(
    client: kube::Client,
    rt: &Arc<turnout::runtime::memory::MemoryRuntime>,
    dir: &std::path::Path,
) -> Arc<Context<turnout::runtime::memory::MemoryRuntime, StaticHost>> {
    Arc::new(Context::new(
        client,
        Reconciler::new(
            rt.clone(),
            StaticHost::default(),
            SecretFiles::new(dir.join("secrets")),
        ),
        sync_options(dir),
    ))
}

#[tokio::test]
async fn an_invalid_plan_reports_invalid_plan_and_changes_nothing() {
    // Two containers with one name: the plan breaks a rule.
    let plan = shop().edit("a-api", |c| c.rename("a-web"));
    let (client, server) = plan_double(Some(plan_object(&plan)));
    let rt = runtime_with_images();
    let dir = temp_dir("controller-invalid");
    let ctx = context(client, &rt, &dir);
    let action = reconcile(Arc::new(selection()), ctx.clone())
        .await
        .expect("reconcile");
    drop(ctx);
    let seen = server.await.unwrap();
    assert!(
        mutating(&rt.take_calls()).is_empty(),
        "nothing on the host changed"
    );
    let patch = seen
        .iter()
        .find(|s| s.method == Method::PATCH && s.path.ends_with("/status"))
        .expect("a status patch");
    let ready = patch.body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("InvalidPlan"))
    );
    assert!(ready["message"].as_str().unwrap().contains("a-web"));
    assert_eq!(
        format!("{action:?}"),
        format!("{:?}", kube::runtime::controller::Action::await_change())
    );
}

#[tokio::test]
async fn a_missing_plan_is_an_error_that_names_it() {
    let (client, server) = plan_double(None);
    let rt = runtime_with_images();
    let dir = temp_dir("controller-missing");
    let ctx = context(client, &rt, &dir);
    let err = reconcile(Arc::new(selection()), ctx.clone())
        .await
        .unwrap_err();
    drop(ctx);
    server.await.unwrap();
    assert_eq!(err.reason(), "PlanMissing");
    assert!(err.to_string().contains(PLAN) && err.to_string().contains("default"));
    assert!(rt.take_calls().is_empty(), "the host was not even listed");
}

#[tokio::test]
async fn deleting_a_selection_honours_on_delete() {
    use turnout::controller::cleanup;
    use turnout::reconcile::Run;
    for (policy, stops) in [("Keep", false), ("Stop", true)] {
        let (client, server) = plan_double(None);
        let rt = runtime_with_images();
        let dir = temp_dir("controller-delete");
        let ctx = context(client, &rt, &dir);
        // A host converged on version a.
        let mut t = target("a");
        t.plan.infrastructure[0].secrets.clear();
        assert!(
            matches!(ctx.reconciler.reconcile(&t, &Run::default()).await, turnout::reconcile::Outcome::Applied(a) if a.converged())
        );
        let volumes_before = rt.config("db").unwrap().volumes;
        rt.take_calls();
        let mut sel = selection();
        sel.spec.on_delete = serde_json::from_value(json!(policy)).unwrap();
        cleanup(Arc::new(sel), ctx.clone()).await.expect("cleanup");
        drop(ctx);
        server.await.unwrap();
        let calls = mutating(&rt.take_calls());
        if stops {
            assert!(
                rt.running().is_empty(),
                "onDelete: Stop stops the plan's containers"
            );
            assert!(
                calls
                    .iter()
                    .all(|c| matches!(c, turnout::runtime::memory::Call::Stop(..))),
                "only stops: {calls:?}"
            );
            assert_eq!(rt.containers().len(), 3, "nothing was removed");
            assert_eq!(rt.config("db").unwrap().volumes, volumes_before);
        } else {
            assert!(
                calls.is_empty(),
                "onDelete: Keep leaves the host alone: {calls:?}"
            );
            assert_eq!(rt.running().len(), 3);
        }
    }
}

#[tokio::test]
async fn the_status_page_shows_each_selection_and_forgets_a_deleted_one() {
    let sel = serde_json::to_value(selection()).expect("selection as JSON");
    let (client, server) = double(Box::new(move |method, path, body| {
        let reply = match (method, path) {
            (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => {
                plan_object(&plan_with_secret())
            }
            (&Method::GET, p) if p.ends_with("/secrets/shop-db") => json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-db"},
                "data": {"root-password": "czNjcjN0"}
            }),
            _ => return selection_write(&sel, method, body),
        };
        (StatusCode::OK, reply)
    }));
    let rt = runtime_with_images();
    let dir = temp_dir("controller-views");
    let shared = Arc::new(turnout::http::Shared::default());
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
        .with_views(shared.clone()),
    );
    reconcile(Arc::new(selection()), ctx.clone())
        .await
        .expect("reconcile");
    assert_eq!(shared.selections(), ["default/host"]);
    let doc: Value =
        serde_json::from_str(&shared.status_json(Some("default/host")).unwrap()).unwrap();
    assert_eq!(doc["status"]["activeVersion"], "a");
    assert_eq!(doc["desiredVersion"], "a");
    assert_eq!(doc["plan"], PLAN);
    assert!(
        !doc.to_string().contains("s3cr3t"),
        "no secret value on the page"
    );
    let map = shared.portmap_svg(Some("default/host")).unwrap();
    assert!(map.contains(">a (active)<"), "{map}");

    turnout::controller::cleanup(Arc::new(selection()), ctx.clone())
        .await
        .expect("cleanup");
    assert!(
        shared.selections().is_empty(),
        "a deleted selection leaves the page"
    );
    drop(ctx);
    server.await.unwrap();
}
