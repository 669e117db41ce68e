//! Delivery: one background task per turnout process takes posts off a
//! bounded queue and sends them, a few at a time, each with a timeout and
//! retries with exponential backoff. A reconcile only ever `try_send`s, so
//! a slow or dead receiver never slows the host; a full queue drops the
//! post and counts it. On shutdown what is queued gets a few seconds.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use http_body_util::Full;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use turnout_crds::notify::{NotifyEvent, SinkKind};

use super::sinks::SinkUrl;
use crate::metrics::{Metrics, NotifyLabel};

/// How long queued posts get at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// How a post is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Posts waiting at most; more are dropped.
    pub queue: usize,
    /// For one request, connection to answer.
    pub timeout: Duration,
    /// Tries per post.
    pub attempts: u32,
    /// Wait before the second try; doubles after each.
    pub backoff: Duration,
    /// Posts in flight at once.
    pub concurrency: usize,
}

impl Default for Delivery {
    fn default() -> Delivery {
        Delivery {
            queue: 256,
            timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_millis(500),
            concurrency: 8,
        }
    }
}

/// One body for one sink.
pub struct Post {
    pub sink: String,
    pub kind: SinkKind,
    pub event: NotifyEvent,
    pub url: SinkUrl,
    pub body: Bytes,
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The task that sends the queued posts; [`Worker::finish`] stops it.
pub struct Worker {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Starts the task; returns it and the queue's sending side.
    pub fn start(settings: Delivery, metrics: Arc<Metrics>) -> (Worker, mpsc::Sender<Post>) {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let stop = CancellationToken::new();
        let client = client().map(Arc::new);
        let task = tokio::spawn(work(rx, stop.clone(), client, settings, metrics));
        (Worker { stop, task }, tx)
    }

    /// Sends what is queued for at most `grace`, then stops (what is left
    /// is dropped).
    pub async fn finish(self, grace: Duration) {
        self.stop.cancel();
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            abort.abort();
            warn!(
                grace_ms = grace.as_millis() as u64,
                "notifications still undelivered at shutdown were dropped"
            );
        }
    }
}

/// The HTTP(S) client: rustls with the host's native roots (as kube's
/// client), plain http too. Without any CA certificate on the host, https
/// sinks fail verification and http ones still work. None only if rustls
/// refuses its own default protocol versions.
fn client() -> Option<HttpClient> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider.clone())
    {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "no CA certificates found on this host: https notification sinks will fail verification");
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    let https = builder.https_or_http().enable_http1().build();
    Some(Client::builder(TokioExecutor::new()).build(https))
}

async fn work(
    mut rx: mpsc::Receiver<Post>,
    stop: CancellationToken,
    client: Option<Arc<HttpClient>>,
    settings: Delivery,
    metrics: Arc<Metrics>,
) {
    let mut in_flight = FuturesUnordered::new();
    let send = |p: Post| deliver(client.clone(), settings, metrics.clone(), p);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            p = rx.recv(), if in_flight.len() < settings.concurrency => match p {
                Some(p) => in_flight.push(send(p)),
                None if in_flight.is_empty() => return,
                None => {}
            },
        }
    }
    // Shutdown: take no more, send what is queued (the caller bounds the wait).
    rx.close();
    while let Some(p) = rx.recv().await {
        in_flight.push(send(p));
    }
    while in_flight.next().await.is_some() {}
}

/// Posts once per attempt until one is answered 2xx (a 4xx other than 429
/// is final), counting the outcome.
async fn deliver(
    client: Option<Arc<HttpClient>>,
    settings: Delivery,
    metrics: Arc<Metrics>,
    p: Post,
) {
    let label = NotifyLabel {
        kind: p.kind.as_str(),
        event: p.event.as_str(),
    };
    let Some(client) = client else {
        warn!(sink = %p.sink, event = p.event.as_str(), "notification not delivered: no HTTP client could be built");
        metrics.notifications_failed.get_or_create(&label).inc();
        return;
    };
    let mut wait = settings.backoff;
    for attempt in 1..=settings.attempts.max(1) {
        match post_once(&client, &p, settings.timeout).await {
            Ok(()) => {
                debug!(sink = %p.sink, event = p.event.as_str(), attempt, "notification sent");
                metrics.notifications_sent.get_or_create(&label).inc();
                return;
            }
            Err(Failure { text, retry }) => {
                let error = p.url.redact(&text);
                if !retry || attempt >= settings.attempts {
                    warn!(sink = %p.sink, event = p.event.as_str(), attempt, %error, "notification not delivered");
                    break;
                }
                debug!(sink = %p.sink, event = p.event.as_str(), attempt, %error, "notification failed; retrying");
            }
        }
        tokio::time::sleep(wait).await;
        wait = wait.saturating_mul(2);
    }
    metrics.notifications_failed.get_or_create(&label).inc();
}

struct Failure {
    text: String,
    retry: bool,
}

async fn post_once(client: &HttpClient, p: &Post, timeout: Duration) -> Result<(), Failure> {
    let req = Request::builder()
        .method(Method::POST)
        .uri(p.url.uri().clone())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "turnout")
        .body(Full::new(p.body.clone()))
        .map_err(|e| Failure {
            text: format!("cannot build the request: {e}"),
            retry: false,
        })?;
    let answer = tokio::time::timeout(timeout, client.request(req)).await;
    let response = match answer {
        Err(_) => {
            return Err(Failure {
                text: format!("no answer within {} ms", timeout.as_millis()),
                retry: true,
            });
        }
        Ok(Err(e)) => {
            return Err(Failure {
                text: chain(&e),
                retry: true,
            });
        }
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    Err(Failure {
        text: format!("the receiver answered {status}"),
        retry: status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
    })
}

/// An error and its causes, on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
