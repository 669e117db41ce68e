//! The VersionSelection controller sends notifications: against the API
//! double, one reconcile reads the sinks' URLs from the Secret their
//! `secretKeyRef`s name (a named `get`, never a list) and posts the
//! switch's start and success to a receiver in the test, with the
//! selection named `namespace/name`; the URL's token stays out of status
//! and Events.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::api_double::*;
use common::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use turnout::controller::{Context, reconcile};
use turnout::host::StaticHost;
use turnout::metrics::Metrics;
use turnout::notify::{Delivery, Notifier};
use turnout::reconcile::Reconciler;
use turnout::secrets::SecretFiles;
use turnout_crds::VersionSelection;

const TOKEN: &str = "KUBE-TOKEN-789";

/// Records (path, JSON body) of each request to 127.0.0.1:(ephemeral) and answers 200.
async fn receiver() -> (u16, mpsc::UnboundedReceiver<(String, Value)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                loop {
                    let mut line = String::new();
                    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let mut length = 0;
                    loop {
                        let mut h = String::new();
                        read.read_line(&mut h).await.unwrap();
                        let h = h.trim_end().to_ascii_lowercase();
                        if h.is_empty() {
                            break;
                        }
                        if let Some(v) = h.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    read.read_exact(&mut body).await.unwrap();
                    let _ = tx.send((path, serde_json::from_slice(&body).unwrap()));
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if write.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

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
    let (client, server) = double(Box::new(move |method, path, body| {
        let reply = match (method, path) {
            (&Method::GET, p) if p.ends_with(&format!("/portplans/{PLAN}")) => plan_object(&plan),
            (&Method::GET, "/api/v1/namespaces/default/secrets/hooks") => secret.clone(),
            (&Method::PATCH, _) => {
                let mut obj = serde_json::to_value(selection()).unwrap();
                obj["status"] = body["status"].clone();
                obj
            }
            _ => body.clone(),
        };
        let code = if method == Method::POST {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        (code, reply)
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
