//! DataSyncs whose source is another environment (`spec.source`): the
//! source's PortPlan read from the namespace, the stage rule, and a
//! `tcp://` engine's certificates taken from a Secret into a root-only
//! directory, never into a status or an Event.

use std::os::unix::fs::PermissionsExt;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;

/// A self-signed certificate and its key, made for this test only.
const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBgzCCASmgAwIBAgIUQd8Wm6uJCHa6hfLR19Nvo1D4oXIwCgYIKoZIzj0EAwIw\nFzEVMBMGA1UEAwwMdHVybm91dC10ZXN0MB4XDTI2MTEzMDA4MzExNVoXDTM2MTEy\nNzA4MzExNVowFzEVMBMGA1UEAwwMdHVybm91dC10ZXN0MFkwEwYHKoZIzj0CAQYI\nKoZIzj0DAQcDQgAE42XaucVYtG5gqtRvvrcxU9w+vDVNWfnc9lFam4C/nSswUg5p\nUIj7LQleJOMd6/rdeIi61jdKZPfbXIMdMkW31qNTMFEwHQYDVR0OBBYEFEnqCeZ9\nQNTjFN51Ugqv/RQRbcgRMB8GA1UdIwQYMBaAFEnqCeZ9QNTjFN51Ugqv/RQRbcgR\nMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgJ6if2vkaqVS8WdPC\nJFxP8z3WQXGA4p8NYB3u0BMEsYUCIQDnSRJgl0qtB7hzfMSObthlt/LqB2ZHNSfu\nyIjiK9G2dQ==\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZgzeHh9Jt4JkTJdd\nDAzNiS6QlE4bRdfFbWGx4+pCR76hRANCAATjZdq5xVi0bmCq1G++tzFT3D68NU1Z\n+dz2UVqbgL+dKzBSDmlQiPstCV4k4x3r+t14iLrWN0pk99tcgx0yRbfW\n-----END PRIVATE KEY-----\n";
/// A line of the key, which must never show outside its file.
const KEY_LINE: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZgzeHh9Jt4JkTJdd";

fn from_elsewhere(source: Value) -> DataSync {
    let mut ds = serde_json::to_value(user_datasync(false, json!({}))).unwrap();
    ds["spec"]["source"] = source;
    serde_json::from_value(ds).unwrap()
}

fn with_environment(mut plan: Value, name: &str, stage: &str) -> Value {
    plan["spec"]["environment"] = json!({"name": name, "stage": stage});
    plan
}

/// The API double: this host's selection and plan (test-cloud), the
/// source's plan `elsewhere` (at `source_stage`), the Secret `remote-certs`,
/// and the DataSync `ds`, whose status writes are echoed.
fn route(ds: DataSync, source_stage: &'static str) -> Route {
    let ds_value = serde_json::to_value(&ds).unwrap();
    Box::new(move |m, p, body| match (m, p) {
        (&Method::GET, "/apis/turnout.dev/v1alpha1/namespaces/default/versionselections") => (
            StatusCode::OK,
            json!({"apiVersion": "turnout.dev/v1alpha1", "kind": "VersionSelectionList",
                   "metadata": {}, "items": [serde_json::to_value(selection("a", 1)).unwrap()]}),
        ),
        (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => (
            StatusCode::OK,
            with_environment(plan_object(), "test-cloud", "test"),
        ),
        (&Method::GET, p) if p.ends_with("/portplans/elsewhere") => {
            let mut plan = with_environment(plan_object(), "production", source_stage);
            plan["metadata"]["name"] = json!("elsewhere");
            (StatusCode::OK, plan)
        }
        (&Method::GET, p) if p.ends_with("/secrets/remote-certs") => {
            (StatusCode::OK, certs_secret())
        }
        (&Method::GET, p) if p.ends_with("/datasyncs/copy-a-to-b") => {
            (StatusCode::OK, ds_value.clone())
        }
        (&Method::PATCH, p) if p.ends_with("/datasyncs/copy-a-to-b/status") => {
            let mut obj = ds_value.clone();
            obj["status"] = body["status"].clone();
            (StatusCode::OK, obj)
        }
        (&Method::POST, p) if p.contains("/events") => (StatusCode::CREATED, body.clone()),
        _ => status_error(500, "unexpected"),
    })
}

/// The Secret `remote-certs`, its values base64-encoded as the API sends them.
fn certs_secret() -> Value {
    use k8s_openapi::ByteString;
    let data = [("ca.pem", PEM), ("cert.pem", PEM), ("key.pem", KEY)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
        .collect();
    let mut secret = serde_json::to_value(k8s_openapi::api::core::v1::Secret {
        data: Some(data),
        ..Default::default()
    })
    .unwrap();
    secret["apiVersion"] = json!("v1");
    secret["kind"] = json!("Secret");
    secret["metadata"] = json!({"name": "remote-certs", "namespace": "default"});
    secret
}

fn last_status(seen: &[Seen]) -> Value {
    seen.iter()
        .filter(|s| s.path.ends_with("/status"))
        .map(|s| s.body["status"].clone())
        .next_back()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_source_at_a_later_stage_is_refused_naming_both_environments() {
    let ds = from_elsewhere(json!({"planRef": "elsewhere"}));
    let dir = temp_dir("kube-ds-source-stage");
    let (seen, rt) = reconcile_datasync(route(ds.clone(), "prod"), &dir, ds).await;
    assert!(mutating(&rt.take_calls()).is_empty());
    let status = last_status(&seen);
    assert_eq!(status["phase"], "Failed", "{seen:#?}");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("PromotionRefused")
            && message.contains("production")
            && message.contains("test-cloud"),
        "{message}"
    );
}

#[tokio::test]
async fn a_plan_file_is_not_read_under_kubernetes() {
    let ds = from_elsewhere(json!({"planFile": "/etc/passwd.yaml"}));
    let dir = temp_dir("kube-ds-source-file");
    let (seen, _) = reconcile_datasync(route(ds.clone(), "dev"), &dir, ds).await;
    let status = last_status(&seen);
    assert_eq!(status["phase"], "Failed", "{seen:#?}");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("SourceUnavailable") && message.contains("spec.source.planRef"),
        "{message}"
    );
    assert!(
        !seen.iter().any(|s| s.path.contains("passwd")),
        "nothing named by planFile is asked for"
    );
}

#[tokio::test]
async fn engine_certificates_come_from_a_secret_into_a_root_only_directory_and_nowhere_else() {
    let ds = from_elsewhere(json!({
        "planRef": "elsewhere",
        "engine": "tcp://10.0.0.9:2376",
        "engineSecretRef": "remote-certs"
    }));
    let dir = temp_dir("kube-ds-source-certs");
    let (seen, _) = reconcile_datasync(route(ds.clone(), "dev"), &dir, ds).await;
    let certs = sync_options(&dir)
        .state_dir
        .join("engine-certs/default/remote-certs");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&certs), 0o700);
    assert_eq!(std::fs::read_to_string(certs.join("key.pem")).unwrap(), KEY);
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        assert_eq!(mode(&certs.join(f)), 0o600, "{f}");
    }
    // The memory runtime reaches no other engine: as with an engine that
    // does not answer, the DataSync waits (Pending) and is tried again.
    let status = last_status(&seen);
    assert_eq!(status["phase"], "Pending", "{seen:#?}");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("cannot reach the source's engine") && message.contains("tries again"),
        "{message}"
    );
    assert!(
        !seen.iter().any(|s| s.path.contains("/events")),
        "no Event while it waits"
    );
    for s in &seen {
        let text = s.body.to_string();
        assert!(!text.contains(KEY_LINE), "{text}");
    }
}

/// Under Kubernetes a `tcp://` engine's certificates come from a Secret,
/// never from the operator's own (`DOCKER_CERT_PATH`, `~/.docker`), and a
/// directory of the host is not read.
#[tokio::test]
async fn a_tcp_engine_without_its_secret_or_with_a_host_directory_is_refused() {
    for (source, expected) in [
        (
            json!({"planRef": "elsewhere", "engine": "tcp://10.0.0.9:2376"}),
            "spec.source.engineSecretRef",
        ),
        (
            json!({"planRef": "elsewhere", "engine": "tcp://10.0.0.9:2376",
                   "engineSecretRef": "remote-certs", "engineCerts": "/root/.docker"}),
            "spec.source.engineCerts",
        ),
    ] {
        let ds = from_elsewhere(source);
        let dir = temp_dir("kube-ds-source-refused");
        let (seen, _) = reconcile_datasync(route(ds.clone(), "dev"), &dir, ds).await;
        let status = last_status(&seen);
        assert_eq!(status["phase"], "Failed", "{seen:#?}");
        let message = status["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{message}");
        assert!(
            !seen
                .iter()
                .any(|s| s.path.contains("/secrets/remote-certs")),
            "no Secret is read for a refused source"
        );
    }
}
