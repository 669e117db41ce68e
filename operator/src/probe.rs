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
            return TcpStream::connect(addr).await.is_ok();
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

/// Probe until ready or until the probe's timeout (`Err(Some(seconds))`),
/// or until `stop` says so (`Err(None)`).
pub async fn wait_ready<R: ContainerRuntime>(
    runtime: &R,
    spec: &ContainerSpec,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(), Option<u32>> {
    let (period, timeout) = timings(spec.readiness.as_ref());
    let deadline = Instant::now() + Duration::from_secs(u64::from(timeout));
    loop {
        if probe_once(runtime, spec).await {
            return Ok(());
        }
        if stop() {
            return Err(None);
        }
        if Instant::now() + period > deadline {
            return Err(Some(timeout));
        }
        tokio::time::sleep(period).await;
    }
}

fn timings(probe: Option<&Probe>) -> (Duration, u32) {
    let period = probe
        .and_then(|p| p.period_seconds)
        .map_or(Duration::from_millis(250), |s| {
            Duration::from_secs(u64::from(s.max(1)))
        });
    let timeout = probe
        .and_then(|p| p.timeout_seconds)
        .unwrap_or(DEFAULT_READY_TIMEOUT_SECONDS);
    (period, timeout)
}
