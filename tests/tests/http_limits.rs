//! End-to-end: the HTTP server of a real `turnout standalone` under abuse.
//! A thousand half-open connections do not keep `/healthz` from answering
//! (idle ones are evicted to make room); a header dribbled byte by byte and
//! an idle keep-alive connection are cut off after the header timeout; and
//! running out of file descriptors neither spins the accept loop nor locks
//! real requests out.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use turnout_e2e::*;

/// turnout's default connection limit (`--http-max-connections`).
const DEFAULT_MAX_CONNECTIONS: usize = 256;

struct Turnout(Child);

impl Drop for Turnout {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `turnout standalone` on a demo plan, through `sh -c` so a test can set
/// limits (`ulimit`) first; `env` adds environment variables.
fn start(
    plan: &str,
    base: u16,
    listen: u16,
    env: &[(&str, &str)],
    prelude: &str,
) -> (Turnout, std::path::PathBuf) {
    let dir = temp_dir(plan);
    let file = dir.join("desired.yaml");
    std::fs::write(&file, demo_plan(plan, base, "future")).expect("write the plan");
    let status = dir.join("status.json");
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("{prelude} exec \"$0\" \"$@\""))
        .arg(turnout_bin())
        .args(["standalone", "--file"])
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--status-file")
        .arg(&status)
        .args(["--listen", &format!("127.0.0.1:{listen}")])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log file"))
        .spawn()
        .expect("turnout starts");
    (Turnout(child), status)
}

fn ready(status: &Path) -> bool {
    let s: serde_json::Value = std::fs::read_to_string(status)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    s["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn addr(port: u16) -> SocketAddr {
    ([127, 0, 0, 1], port).into()
}

/// `GET /healthz` with every wait bounded by `within`; the time it took.
fn healthz_within(port: u16, within: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let mut s =
        TcpStream::connect_timeout(&addr(port), within).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(within))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)
        .map_err(|e| format!("read after {:?}: {e}", started.elapsed()))?;
    let took = started.elapsed();
    if !reply.starts_with("HTTP/1.0 200") || !reply.ends_with("ok\n") {
        return Err(format!("unexpected reply {reply:?}"));
    }
    if took > within {
        return Err(format!("answered only after {took:?}"));
    }
    Ok(took)
}

/// Whether the server has closed `s` (end of stream or reset), without waiting.
fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let mut b = [0u8; 256];
    let closed = match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    s.set_nonblocking(false).expect("blocking");
    closed
}

#[test]
fn healthz_answers_through_a_thousand_half_open_connections() {
    require_docker(&[BUSYBOX]);
    let (plan, base, port) = ("e2e-h1-http-flood", 28100, 28190);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let (_t, status) = start(plan, base, port, &[], "");
    assert!(
        wait_until(Duration::from_secs(60), || ready(&status)),
        "turnout converged on the plan"
    );

    // Half send nothing, half half a request line; none ever finishes.
    let mut flood = Vec::new();
    for i in 0..1000 {
        let mut s =
            TcpStream::connect_timeout(&addr(port), Duration::from_secs(2)).unwrap_or_else(|e| {
                panic!("connection {i} (is the open-files limit of the test below 1100?): {e}")
            });
        if i % 2 == 1 {
            s.write_all(b"GET /heal").expect("half a request line");
        }
        flood.push(s);
    }
    let answered = healthz_within(port, Duration::from_secs(2));
    eprintln!("GET /healthz behind 1000 half-open connections: {answered:?}");
    // The server holds at most its limit: the oldest idle ones were closed
    // to make room (long before the 10 s header timeout would close them).
    let mut closed = 0;
    wait_until(Duration::from_secs(2), || {
        flood.retain_mut(|s| {
            let gone = closed_by_server(s);
            closed += usize::from(gone);
            !gone
        });
        closed >= 1000 - DEFAULT_MAX_CONNECTIONS
    });
    eprintln!("half-open connections closed by turnout: {closed} of 1000");
    let took = answered.unwrap_or_else(|e| panic!("/healthz did not answer within 2 s: {e}"));
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(
        closed >= 1000 - DEFAULT_MAX_CONNECTIONS,
        "turnout kept {} connections open; it should hold at most {DEFAULT_MAX_CONNECTIONS}",
        1000 - closed
    );
}

/// Sends `bytes` one at a time, `every` apart, until the server closes the
/// connection; how long that took (None if it never did within `limit`).
fn dribble_until_closed(
    s: &mut TcpStream,
    bytes: &[u8],
    every: Duration,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    for b in bytes.iter().cycle() {
        if started.elapsed() > limit {
            return None;
        }
        if s.write_all(&[*b]).is_err() || closed_by_server(s) {
            return Some(started.elapsed());
        }
        std::thread::sleep(every);
    }
    None
}

#[test]
fn dribbled_headers_and_idle_keep_alives_are_cut_off() {
    require_docker(&[BUSYBOX]);
    let (plan, base, port) = ("e2e-h1-http-slow", 28200, 28290);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    // A one-second header timeout keeps the test short (the default is 10 s).
    let (_t, _status) = start(plan, base, port, &[("TURNOUT_HTTP_TIMEOUT", "1")], "");
    assert!(
        wait_until(Duration::from_secs(30), || healthz_within(
            port,
            Duration::from_secs(2)
        )
        .is_ok()),
        "turnout serves /healthz"
    );

    // A header that never ends, one byte every 100 ms: every byte is "activity".
    let mut slow = TcpStream::connect(addr(port)).expect("connect");
    let header =
        b"GET /healthz HTTP/1.1\r\nHost: turnout\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let cut = dribble_until_closed(
        &mut slow,
        header,
        Duration::from_millis(100),
        Duration::from_secs(10),
    );
    eprintln!("a dribbled header was cut off after {cut:?}");
    let cut = cut.expect("turnout closed a header dribbled byte by byte within 10 s");
    assert!(
        cut >= Duration::from_millis(800) && cut < Duration::from_secs(3),
        "closed after {cut:?}, expected about the 1 s header timeout"
    );

    // A keep-alive connection that answered a request and then says nothing.
    let mut idle = TcpStream::connect(addr(port)).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: turnout\r\n\r\n")
        .expect("send");
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    let ended = loop {
        match idle.read(&mut buf) {
            Ok(0) => break Some(started.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                break None;
            }
            Err(_) => break Some(started.elapsed()),
        }
    };
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 200") && text.ends_with("ok\n"),
        "{text:?}"
    );
    let ended = ended.expect("turnout closed an idle keep-alive connection within 10 s");
    eprintln!("an idle keep-alive connection was closed after {ended:?}");
    assert!(ended < Duration::from_secs(3), "closed after {ended:?}");
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process runs");
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counted from the state (field 3).
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[test]
fn running_out_of_file_descriptors_neither_spins_nor_locks_requests_out() {
    require_docker(&[BUSYBOX]);
    let (plan, base, port) = ("e2e-h1-http-fds", 28300, 28390);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    // Fewer descriptors than the connection limit: accept fails with EMFILE.
    let (t, status) = start(plan, base, port, &[], "ulimit -n 96 &&");
    assert!(
        wait_until(Duration::from_secs(60), || ready(&status)),
        "turnout converged on the plan"
    );

    // A server that stops accepting lets the kernel's accept queue fill up,
    // and connecting then times out: the flood is as big as it gets.
    let mut flood = Vec::new();
    while flood.len() < 300 {
        match TcpStream::connect_timeout(&addr(port), Duration::from_millis(500)) {
            Ok(s) => flood.push(s),
            Err(_) => break,
        }
    }
    eprintln!(
        "{} connections opened against a limit of 96 descriptors",
        flood.len()
    );
    assert!(
        flood.len() > 96,
        "the flood outnumbers turnout's descriptors"
    );
    let answered = healthz_within(port, Duration::from_secs(5));
    eprintln!("GET /healthz with turnout out of descriptors: {answered:?}");
    let ticks_per_second: u64 = String::from_utf8_lossy(
        &Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .expect("getconf")
            .stdout,
    )
    .trim()
    .parse()
    .expect("CLK_TCK");
    let before = cpu_ticks(t.0.id());
    std::thread::sleep(Duration::from_secs(2));
    let used = (cpu_ticks(t.0.id()) - before) as f64 / ticks_per_second as f64 / 2.0;
    eprintln!(
        "turnout's CPU while the flood sat there: {:.0}% of a core",
        used * 100.0
    );
    answered.unwrap_or_else(|e| panic!("/healthz did not answer within 5 s: {e}"));
    assert!(
        used < 0.3,
        "turnout used {:.0}% of a core: is accept spinning?",
        used * 100.0
    );
    drop(flood);
}
