//! The HTTP endpoints of `turnout standalone` and `turnout run`: `/status`
//! (JSON), the status page (`/ui`, `/portmap.svg`; see [`ui`]), `/healthz`,
//! `/readyz`, `/metrics` (Prometheus text), and
//! `POST /hooks/git` (signed; see [`webhook`]). Bind it to loopback unless
//! you mean it.
//!
//! The server is a control surface that must keep answering `/healthz`
//! while someone misbehaves, so every wait is bounded:
//! - a request's head must arrive within [`Limits::header_timeout`] of the
//!   connection's start or of the previous response (hyper's header timer,
//!   which also closes idle keep-alive connections);
//! - the only body (the webhook's) is capped at [`Limits::max_body`] and
//!   must arrive within [`Limits::body_timeout`];
//! - a connection with no request in hand for [`Limits::stall_timeout`]
//!   (say, a response its peer never reads) is closed;
//! - at most [`Limits::max_connections`] are open; a newcomer takes the
//!   place of an idle one, chosen so that a flood evicts itself and not the
//!   requests of others ([`conns`] explains how);
//! - accept errors (out of file descriptors) free an idle connection and
//!   pause with a backoff instead of spinning.

mod conns;
mod state;
pub mod ui;
pub mod webhook;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use conns::{Admitted, Conns, Slot};
pub use state::Shared;

/// Bounds of the server (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// To receive a request's head, from the connection's start or the
    /// previous response.
    pub header_timeout: Duration,
    /// To receive a request's body, once its head is in.
    pub body_timeout: Duration,
    /// The largest body taken (bytes).
    pub max_body: usize,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_body: 1024 * 1024,
            max_connections: 256,
        }
    }
}

impl Limits {
    /// The defaults, with `timeout` for both the head and the body.
    pub fn with_timeout(timeout: Duration) -> Limits {
        Limits {
            header_timeout: timeout,
            body_timeout: timeout,
            ..Limits::default()
        }
    }

    /// How long a connection may go without a request in hand, whatever
    /// it is doing: longer than any legitimate wait for a head or a body.
    pub fn stall_timeout(&self) -> Duration {
        self.header_timeout * 2 + self.body_timeout
    }
}

/// The largest request head hyper buffers (hyper's own minimum is 8 KiB).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves with the default [`Limits`] until the process ends.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    serve_with(listener, shared, Limits::default()).await
}

/// Serves until the process ends.
pub async fn serve_with(listener: TcpListener, shared: Arc<Shared>, limits: Limits) {
    let conns = Arc::new(Conns::new(limits.max_connections));
    let mut pause = Duration::ZERO;
    let mut warned: Option<std::time::Instant> = None;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                pause = Duration::ZERO;
                match conns.admit(peer.ip()) {
                    Some(admitted) => {
                        tokio::spawn(connection(stream, peer, admitted, shared.clone(), limits));
                    }
                    // Every place holds a request being answered; those end soon.
                    None => debug!(%peer, "every connection is busy; refusing a new one"),
                }
            }
            Err(e) if is_per_connection(&e) => {
                debug!(error = %e, "a connection failed before accept")
            }
            Err(e) => {
                // Out of file descriptors (EMFILE/ENFILE) or memory: accepting
                // again at once fails again. Free an idle connection if there
                // is one (its socket closes in a moment), else back off.
                let freed = conns.evict_idle();
                if warned.is_none_or(|w| w.elapsed() > Duration::from_secs(10)) {
                    warned = Some(std::time::Instant::now());
                    warn!(error = %e, open = conns.open(), freed_idle = freed, "accept failed; pausing (said at most every 10 s)");
                }
                pause = if freed {
                    Duration::from_millis(2)
                } else {
                    (pause * 2).clamp(Duration::from_millis(10), Duration::from_secs(1))
                };
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// Errors of one incoming connection, not of the listener.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

/// Serves one connection until it ends, is evicted, or stalls.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    admitted: Admitted,
    shared: Arc<Shared>,
    limits: Limits,
) {
    let slot = admitted.slot();
    let svc_slot = slot.clone();
    let svc = service_fn(move |req| respond(req, peer, shared.clone(), svc_slot.clone(), limits));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(64);
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    let stalled = async {
        loop {
            let idle = slot.idle_for();
            if idle >= limits.stall_timeout() {
                break;
            }
            tokio::time::sleep(limits.stall_timeout() - idle).await;
        }
    };
    // Leaving this select drops the connection, which closes the socket.
    tokio::select! {
        r = conn => if let Err(e) = r {
            debug!(%peer, error = %e, "http connection ended");
        },
        () = slot.evicted() => debug!(%peer, "closed an idle connection to make room"),
        () = stalled => debug!(%peer, "closed a connection that stalled"),
    }
    drop(admitted);
}

fn reply(code: StatusCode, ctype: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    if let Ok(v) = ctype.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// A reply after which the connection closes (its request body, if any,
/// was not read to the end).
fn closing(code: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = reply(code, "text/plain", body);
    r.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    r
}

async fn respond(
    req: Request<Incoming>,
    peer: SocketAddr,
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    limits: Limits,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() == Method::POST && req.uri().path() == "/hooks/git" {
        return Ok(hook(req, peer, &shared, &slot, limits).await);
    }
    let _busy = slot.busy();
    if req.method() != Method::GET {
        return Ok(closing(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into()));
    }
    let selection = ui::selection(req.uri().query());
    if let Some(off) = shared.page_off
        && (req.uri().path() == "/status" || ui::is_page(req.uri().path()))
    {
        return Ok(reply(StatusCode::NOT_FOUND, "text/plain", off.into()));
    }
    if let Some(r) = ui::serve(req.uri().path(), req.uri().query(), &shared) {
        return Ok(r);
    }
    Ok(match req.uri().path() {
        "/healthz" | "/readyz" => reply(StatusCode::OK, "text/plain", "ok\n".into()),
        "/metrics" => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            shared.metrics.encode(),
        ),
        "/status" => match shared.status_json(selection.as_deref()) {
            Some(json) => reply(StatusCode::OK, "application/json", json),
            None if selection.is_some() && !shared.selections().is_empty() => reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                "no status for that selection; /ui/selections lists those with one\n".into(),
            ),
            None => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "no reconcile has finished yet\n".into(),
            ),
        },
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /ui (the status page), /status, /portmap.svg, /healthz or /metrics\n".into(),
        ),
    })
}

const HOOK_DISABLED: &str = "the git webhook is disabled: start `turnout standalone --git URL` with --webhook-secret-file FILE (the shared secret), and sign each request with X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>\n";

/// `POST /hooks/git`: a signed request makes the git follower pull now.
/// The connection counts as idle (evictable) until the body has arrived.
async fn hook(
    req: Request<Incoming>,
    peer: SocketAddr,
    shared: &Shared,
    slot: &Arc<Slot>,
    limits: Limits,
) -> Response<Full<Bytes>> {
    let Some(secret) = shared.webhook.as_ref() else {
        return closing(StatusCode::FORBIDDEN, HOOK_DISABLED.into());
    };
    if req.body().size_hint().lower() > limits.max_body as u64 {
        return closing(StatusCode::PAYLOAD_TOO_LARGE, too_large(limits));
    }
    let signature = req
        .headers()
        .get(webhook::SIGNATURE_HEADER)
        .map(|v| v.as_bytes().to_vec());
    if signature.is_none() {
        warn!(%peer, reason = webhook::Rejected::Unsigned.reason(), "webhook: refused a request");
        return closing(
            StatusCode::UNAUTHORIZED,
            format!("{}\n", webhook::Rejected::Unsigned),
        );
    }
    let body = Limited::new(req.into_body(), limits.max_body).collect();
    let body = match tokio::time::timeout(limits.body_timeout, body).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return closing(StatusCode::PAYLOAD_TOO_LARGE, too_large(limits));
        }
        Ok(Err(e)) => {
            debug!(%peer, error = %e, "webhook: cannot read the body");
            return closing(StatusCode::BAD_REQUEST, "cannot read the body\n".into());
        }
        Err(_) => {
            let msg = format!("the body did not arrive within {:?}\n", limits.body_timeout);
            return closing(StatusCode::REQUEST_TIMEOUT, msg);
        }
    };
    let _busy = slot.busy();
    match secret.verify(signature.as_deref(), &body) {
        Ok(()) => {
            info!(%peer, "webhook: signed request; pulling now");
            shared.pull_now.notify_one();
            reply(StatusCode::ACCEPTED, "text/plain", "pulling\n".into())
        }
        Err(r) => {
            warn!(%peer, reason = r.reason(), "webhook: refused a request");
            reply(StatusCode::UNAUTHORIZED, "text/plain", format!("{r}\n"))
        }
    }
}

fn too_large(limits: Limits) -> String {
    format!("the body is larger than {} bytes\n", limits.max_body)
}

/// Binds the address, failing clearly if it is taken.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
