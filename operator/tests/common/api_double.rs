//! The one HTTP-level Kubernetes API double (tower-test) of the operator's
//! tests. It serves a real `kube::Client` in two styles:
//!
//! - **routed** ([`double`]): a route answers every request and each one is
//!   recorded; the recording comes back once every client is dropped. For
//!   driver tests that assert the requests of a whole reconcile.
//! - **scripted** ([`scripted`]): the test receives each request as a
//!   [`Call`], asserts on it and answers it, one at a time. For protocols
//!   where the order and timing of requests is the point (leader election).

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};
use tokio::time::timeout;
use tower_test::mock::{Handle, SendResponse};

/// A recorded request: method, path and query, and the body as JSON
/// (`Null` when it has none).
#[derive(Debug)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub body: Value,
}

/// How the routed double answers: (method, path, body) -> (status, reply).
pub type Route = Box<dyn FnMut(&Method, &str, &Value) -> (StatusCode, Value) + Send>;

type MockHandle = Handle<Request<Body>, Response<Body>>;

/// A client served by the double, and the double's end.
fn pair() -> (kube::Client, MockHandle) {
    let (mock, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(mock, "default"), handle)
}

/// The request as the double records it.
async fn read(req: Request<Body>) -> Seen {
    let (parts, body) = req.into_parts();
    let bytes = body.collect_bytes().await.expect("request body");
    Seen {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn respond(send: SendResponse<Response<Body>>, code: StatusCode, reply: &Value) {
    send.send_response(
        Response::builder()
            .status(code)
            .body(Body::from(
                serde_json::to_vec(reply).expect("reply serializes"),
            ))
            .expect("response"),
    );
}

/// A client whose requests `route` answers, and the task that returns every
/// request once all clients are dropped.
pub fn double(mut route: Route) -> (kube::Client, tokio::task::JoinHandle<Vec<Seen>>) {
    let (client, mut handle) = pair();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some((req, send)) = handle.next_request().await {
            let request = read(req).await;
            let (code, reply) = route(&request.method, &request.path, &request.body);
            respond(send, code, &reply);
            seen.push(request);
        }
        seen
    });
    (client, server)
}

/// A Kubernetes `Status` failure as the API server sends it.
pub fn status_body(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "reason": reason, "code": code, "message": reason})
}

/// A Kubernetes `Status` error reply, for a route.
pub fn status_error(code: u16, reason: &str) -> (StatusCode, Value) {
    (
        StatusCode::from_u16(code).expect("a status code"),
        status_body(code, reason),
    )
}

/// How long the scripted double waits for a request before the test fails
/// (on paused time this costs nothing when the request comes).
pub const PATIENCE: Duration = Duration::from_secs(5);

/// The API server's side of a scripted conversation.
pub struct Script {
    handle: MockHandle,
}

/// One request the scripted double received, waiting for its answer; reads
/// as the [`Seen`] request.
pub struct Call {
    pub request: Seen,
    send: SendResponse<Response<Body>>,
}

impl std::ops::Deref for Call {
    type Target = Seen;
    fn deref(&self) -> &Seen {
        &self.request
    }
}

/// A client, and the script that answers its requests one by one.
pub fn scripted() -> (kube::Client, Script) {
    let (client, handle) = pair();
    (client, Script { handle })
}

impl Script {
    /// The next request, or None once every client is dropped; no deadline.
    pub async fn next_or_end(&mut self) -> Option<Call> {
        let (req, send) = self.handle.next_request().await?;
        Some(Call {
            request: read(req).await,
            send,
        })
    }

    /// The next request, within [`PATIENCE`].
    pub async fn next(&mut self) -> Call {
        timeout(PATIENCE, self.next_or_end())
            .await
            .expect("a request in time")
            .expect("the client is still alive")
    }

    /// The next request, which must be `method` on `path`.
    pub async fn expect(&mut self, method: Method, path: &str) -> Call {
        let call = self.next().await;
        assert_eq!(
            (&call.method, call.path.as_str()),
            (&method, path),
            "unexpected request, body {}",
            call.body
        );
        call
    }

    /// Asserts that no further request comes: the client was dropped with
    /// everything that used it.
    pub async fn finished(mut self) {
        let next = timeout(PATIENCE, self.handle.next_request())
            .await
            .expect("the client is dropped in time");
        if let Some((req, _)) = next {
            panic!("unexpected request {} {}", req.method(), req.uri());
        }
    }
}

impl Call {
    pub fn reply(self, code: u16, body: Value) {
        respond(
            self.send,
            StatusCode::from_u16(code).expect("a status code"),
            &body,
        );
    }

    /// Answers a write as the API server does: the object as written, at a
    /// new resourceVersion.
    pub fn accept(self, code: u16, resource_version: &str) {
        let mut written = self.request.body.clone();
        written["metadata"]["resourceVersion"] = json!(resource_version);
        self.reply(code, written);
    }

    /// Answers with a `Status` failure.
    pub fn fail(self, code: u16, reason: &str) {
        self.reply(code, status_body(code, reason));
    }
}

/// What the API server answers to a selection's own writes, for routes that
/// serve its reads themselves: a status PATCH returns `selection` with that
/// status, a POST (an Event) is created, anything else echoes its body.
pub fn selection_write(selection: &Value, method: &Method, body: &Value) -> (StatusCode, Value) {
    if method == Method::PATCH {
        let mut obj = selection.clone();
        obj["status"] = body["status"].clone();
        return (StatusCode::OK, obj);
    }
    let code = if method == Method::POST {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (code, body.clone())
}
