//! Small tools the host benchmarks share: statistics, a counting runtime,
//! an HTTP check, `docker events`, `/proc` readings and the turnout binary.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use turnout::core::ObservedContainer;
use turnout::runtime::{ContainerConfig, ContainerRuntime, ExecOutput, RuntimeError, RuntimeEvent};

// ---------------------------------------------------------------- statistics

/// Nearest-rank percentile (`q` in 0..=1) of unsorted samples.
pub fn percentile(samples: &[f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((s.len() as f64 * q).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

pub fn median(samples: &[f64]) -> f64 {
    percentile(samples, 0.5)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `[a, b, c]`, for the raw samples in the report (one decimal below 100).
pub fn list(samples: &[f64]) -> String {
    let small = samples.iter().all(|x| *x < 100.0);
    let v: Vec<String> = samples
        .iter()
        .map(|x| {
            if small {
                format!("{x:.1}")
            } else {
                format!("{x:.0}")
            }
        })
        .collect();
    format!("[{}]", v.join(", "))
}

pub fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "MISSED" }
}

// ----------------------------------------------------------- counting runtime

/// Calls that change a container (or the image store).
const MUTATING: &[&str] = &["create", "start", "stop", "remove", "pull"];

/// A [`ContainerRuntime`] that counts the calls the reconcile makes to the
/// engine, by method, and forwards them to `inner`.
pub struct Counting<R> {
    inner: R,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl<R> Counting<R> {
    pub fn new(inner: R) -> Counting<R> {
        Counting {
            inner,
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    fn count(&self, method: &'static str) {
        let mut g = match self.calls.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g.entry(method).or_default() += 1;
    }

    /// The counts so far, by method.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        match self.calls.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// Calls made between two snapshots: (total, mutating, by method).
pub fn calls_between(
    before: &BTreeMap<&'static str, u64>,
    after: &BTreeMap<&'static str, u64>,
) -> (u64, u64, BTreeMap<&'static str, u64>) {
    let mut by = BTreeMap::new();
    for (k, v) in after {
        let d = v - before.get(k).copied().unwrap_or(0);
        if d > 0 {
            by.insert(*k, d);
        }
    }
    let total = by.values().sum();
    let mutating = by
        .iter()
        .filter(|(k, _)| MUTATING.contains(k))
        .map(|(_, v)| v)
        .sum();
    (total, mutating, by)
}

pub fn show_calls(by: &BTreeMap<&'static str, u64>) -> String {
    let v: Vec<String> = by.iter().map(|(k, n)| format!("{k}={n}")).collect();
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(" ")
    }
}

impl<R: ContainerRuntime> ContainerRuntime for Counting<R> {
    async fn list(&self) -> Result<Vec<ObservedContainer>, RuntimeError> {
        self.count("list");
        self.inner.list().await
    }

    async fn image_id(&self, image: &str) -> Result<Option<String>, RuntimeError> {
        self.count("image_id");
        self.inner.image_id(image).await
    }

    async fn pull(&self, image: &str) -> Result<(), RuntimeError> {
        self.count("pull");
        self.inner.pull(image).await
    }

    async fn create(&self, config: &ContainerConfig) -> Result<(), RuntimeError> {
        self.count("create");
        self.inner.create(config).await
    }

    async fn start(&self, name: &str) -> Result<(), RuntimeError> {
        self.count("start");
        self.inner.start(name).await
    }

    async fn stop(&self, name: &str, timeout_seconds: u32) -> Result<(), RuntimeError> {
        self.count("stop");
        self.inner.stop(name, timeout_seconds).await
    }

    async fn pause(&self, name: &str) -> Result<(), RuntimeError> {
        self.count("pause");
        self.inner.pause(name).await
    }

    async fn unpause(&self, name: &str) -> Result<(), RuntimeError> {
        self.count("unpause");
        self.inner.unpause(name).await
    }

    async fn memory_usage(&self, name: &str) -> Result<Option<u64>, RuntimeError> {
        self.count("memory_usage");
        self.inner.memory_usage(name).await
    }

    async fn remove(&self, name: &str) -> Result<(), RuntimeError> {
        self.count("remove");
        self.inner.remove(name).await
    }

    async fn rename(&self, name: &str, to: &str) -> Result<(), RuntimeError> {
        self.count("rename");
        self.inner.rename(name, to).await
    }

    async fn inspect(&self, name: &str) -> Result<serde_json::Value, RuntimeError> {
        self.count("inspect");
        self.inner.inspect(name).await
    }

    async fn log_tail(&self, name: &str, lines: usize) -> Result<String, RuntimeError> {
        self.count("log_tail");
        self.inner.log_tail(name, lines).await
    }

    async fn exec(&self, name: &str, argv: &[String]) -> Result<ExecOutput, RuntimeError> {
        self.count("exec");
        self.inner.exec(name, argv).await
    }

    fn events(&self) -> BoxStream<'static, Result<RuntimeEvent, RuntimeError>> {
        self.count("events");
        self.inner.events()
    }
}

// ------------------------------------------------------------------- network

/// Whether `GET /` on 127.0.0.1:port answers 2xx/3xx (what turnout's http probe checks).
pub fn http_ok(port: u16) -> bool {
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    let mut n = 0;
    while n < head.len() {
        match s.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    std::str::from_utf8(&head[..n])
        .ok()
        .and_then(|t| t.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .is_some_and(|c| (200..400).contains(&c))
}

/// The body of `GET path` on 127.0.0.1:port, if it answers.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text.split_once("\r\n\r\n")?.1.to_string())
}

/// Sum of the samples of a Prometheus metric (all label sets) in `text`.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

// -------------------------------------------------------------- docker events

/// `docker events` for one container: (action, engine time in ns), read by a thread.
pub struct Events {
    child: Child,
    rx: Receiver<(String, i128)>,
}

impl Events {
    pub fn follow(container: &str) -> Events {
        let mut child = Command::new("docker")
            .args([
                "events",
                "--filter",
                "type=container",
                "--filter",
                &format!("container={container}"),
                "--format",
                "{{.Action}} {{.TimeNano}}",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker events starts");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let mut f = line.split_whitespace();
                let (Some(action), Some(t)) = (f.next(), f.next()) else {
                    continue;
                };
                // "kill" events carry no colon; exec events do ("exec_start: ...").
                if let Ok(t) = t.parse::<i128>()
                    && tx.send((action.to_string(), t)).is_err()
                {
                    break;
                }
            }
        });
        // Let the subscription reach the engine before anything happens.
        std::thread::sleep(Duration::from_millis(500));
        Events { child, rx }
    }

    /// Forgets what arrived so far.
    pub fn drain(&self) {
        while self.rx.try_recv().is_ok() {}
    }

    /// Engine time of the next `action` event, within `timeout`.
    pub fn wait_for(&self, action: &str, timeout: Duration) -> Option<i128> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.rx.recv_timeout(left) {
                Ok((a, t)) if a == action => return Some(t),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ns_to_ms(ns: i128) -> f64 {
    ns as f64 / 1e6
}

// --------------------------------------------------------------------- /proc

/// utime + stime of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// A `/proc/PID/status` field in kB (VmRSS, VmHWM).
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

// ------------------------------------------------------------------- binary

/// The release turnout binary beside this bench (target/release/turnout),
/// built with `cargo build --release -p turnout` when it is missing.
pub fn turnout_release_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("bench executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile> directory");
    let bin = dir.join("turnout");
    if !bin.exists() {
        eprintln!("{} is missing: building it", bin.display());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "turnout"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --release -p turnout failed");
    }
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

/// A fresh directory for one benchmark.
pub fn bench_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("turnout-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("bench dir");
    d
}

pub fn write_file(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write desired file");
    std::fs::rename(&tmp, path).expect("replace desired file");
}
