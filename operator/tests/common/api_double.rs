//! An HTTP-level Kubernetes API double (tower-test) for the driver's tests:
//! each request is answered by a route and recorded.

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

/// A recorded request: method, path and query, and the body as JSON (if any).
#[derive(Debug)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub body: Value,
}

/// How the double answers: (method, path, body) -> (status, reply).
pub type Route = Box<dyn FnMut(&Method, &str, &Value) -> (StatusCode, Value) + Send>;

/// A client whose requests `route` answers, and the task that returns every
/// request once all clients are dropped.
pub fn double(mut route: Route) -> (kube::Client, tokio::task::JoinHandle<Vec<Seen>>) {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(mock, "default");
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some((req, send)) = handle.next_request().await {
            let (parts, body) = req.into_parts();
            let bytes = body.collect_bytes().await.expect("request body");
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let path = parts.uri.path().to_string();
            let (code, reply) = route(&parts.method, &path, &body);
            send.send_response(
                Response::builder()
                    .status(code)
                    .body(Body::from(
                        serde_json::to_vec(&reply).expect("reply serializes"),
                    ))
                    .expect("response"),
            );
            seen.push(Seen {
                method: parts.method,
                path,
                query: parts.uri.query().unwrap_or("").to_string(),
                body,
            });
        }
        seen
    });
    (client, server)
}

/// A Kubernetes `Status` error reply.
pub fn status_error(code: u16, reason: &str) -> (StatusCode, Value) {
    (
        StatusCode::from_u16(code).expect("a status code"),
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "reason": reason, "code": code, "message": reason}),
    )
}
