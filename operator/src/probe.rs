//! Readiness probes: TCP connect, HTTP GET, or an exec inside the container.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use turnout_crds::plan::{ContainerSpec, Probe};
use turnout_crds::port::Port;

use crate::runtime::ContainerRuntime;

/// Seconds a container has to become ready when the plan says nothing.
pub const DEFAULT_READY_TIMEOUT_SECONDS: u32 = 60;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a TCP probe watches a connection for an immediate hang-up.
/// Docker's userland proxy accepts on a published port whether or not
/// anything listens in the container, and closes the connection as soon
/// as its own connection to the container is refused: a connect alone
/// would call every running container ready.
const HANGUP_WINDOW: Duration = Duration::from_millis(200);

/// The host address to reach a published container port on.
fn host_addr(spec: &ContainerSpec, container_port: Port) -> Option<SocketAddr> {
    let p = spec.ports.iter().find(|p| p.container == container_port)?;
    let ip = match p.bind_address {
        Some(b) if !b.0.is_unspecified() => b.0,
        Some(b) if b.0.is_ipv6() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    Some(SocketAddr::new(ip, p.host.get()))
}

/// One attempt of the container's probe; `true` when ready. A container
/// without a probe is ready once running.
pub async fn probe_once<R: ContainerRuntime>(runtime: &R, spec: &ContainerSpec) -> bool {
    let Some(probe) = &spec.readiness else {
        return true;
    };
    let attempt = async {
        if let Some(t) = &probe.tcp {
            let Some(addr) = host_addr(spec, t.port) else {
                return false;
            };
            return tcp_ok(addr).await;
        }
        if let Some(h) = &probe.http {
            let Some(addr) = host_addr(spec, h.port) else {
                return false;
            };
            return http_ok(addr, &h.path).await;
        }
        if let Some(e) = &probe.exec {
            return runtime
                .exec(&spec.name, &e.command)
                .await
                .is_ok_and(|o| o.exit_code == 0);
        }
        false
    };
    tokio::time::timeout(ATTEMPT_TIMEOUT, attempt)
        .await
        .unwrap_or(false)
}

/// A listener accepted the connection: it spoke first, or it kept the
/// connection open for [`HANGUP_WINDOW`]. Closed or reset at once is what
/// a proxy with nothing behind it does.
async fn tcp_ok(addr: SocketAddr) -> bool {
    let Ok(s) = TcpStream::connect(addr).await else {
        return false;
    };
    let mut byte = [0u8; 1];
    match tokio::time::timeout(HANGUP_WINDOW, s.peek(&mut byte)).await {
        Err(_) => true,
        Ok(Ok(n)) => n > 0,
        Ok(Err(_)) => false,
    }
}

async fn http_ok(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: turnout\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut head[n..]).await {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    // "HTTP/1.x NNN"
    std::str::from_utf8(&head[..n])
        .ok()
        .and_then(|t| t.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .is_some_and(|code| (200..400).contains(&code))
}

/// Why a container did not become ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotReady {
    /// `stop` said so (shutting down).
    Cancelled,
    /// The probe's timeout, in seconds, passed.
    TimedOut(u32),
    /// The container stopped while being probed (its exit code when the engine says).
    Exited(Option<i64>),
}

/// The first pause between attempts when the plan sets no period: most
/// services answer within tens of milliseconds of their start, so the
/// cadence starts fast and doubles up to the default period.
const FIRST_PAUSE: Duration = Duration::from_millis(25);
const DEFAULT_PERIOD: Duration = Duration::from_millis(250);

/// Probe until ready, until the probe's timeout, until the container
/// exits (it is never restarted behind turnout's back, so waiting longer
/// cannot help), or until `stop` says so.
pub async fn wait_ready<R: ContainerRuntime>(
    runtime: &R,
    spec: &ContainerSpec,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(), NotReady> {
    let (period, timeout) = timings(spec.readiness.as_ref());
    let deadline = Instant::now() + Duration::from_secs(u64::from(timeout));
    let mut pause = if period == DEFAULT_PERIOD {
        FIRST_PAUSE
    } else {
        period
    };
    loop {
        if probe_once(runtime, spec).await {
            return Ok(());
        }
        if stop() {
            return Err(NotReady::Cancelled);
        }
        if let Some(code) = exited(runtime, &spec.name).await {
            return Err(NotReady::Exited(code));
        }
        if Instant::now() + pause > deadline {
            return Err(NotReady::TimedOut(timeout));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(period);
    }
}

/// `Some(exit code)` when the container is no longer up; an engine that
/// cannot say is taken as "still up" (the probe's timeout still bounds the wait).
pub async fn exited<R: ContainerRuntime>(runtime: &R, name: &str) -> Option<Option<i64>> {
    let v = runtime.inspect(name).await.ok()?;
    let status = v
        .pointer("/State/Status")
        .and_then(serde_json::Value::as_str)?;
    matches!(status, "exited" | "dead" | "created").then(|| {
        v.pointer("/State/ExitCode")
            .and_then(serde_json::Value::as_i64)
    })
}

fn timings(probe: Option<&Probe>) -> (Duration, u32) {
    let period = probe
        .and_then(|p| p.period_seconds)
        .map_or(DEFAULT_PERIOD, |s| Duration::from_secs(u64::from(s.max(1))));
    let timeout = probe
        .and_then(|p| p.timeout_seconds)
        .unwrap_or(DEFAULT_READY_TIMEOUT_SECONDS);
    (period, timeout)
}
