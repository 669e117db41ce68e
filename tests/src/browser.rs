//! Headless Chromium for the status page tests: one browser kept open with
//! its DevTools endpoint, a page read through `Runtime.evaluate` (so a test
//! sees the page change without reloading it), and one-shot screenshots
//! and DOM dumps. The DevTools protocol is JSON over a WebSocket; the few
//! frames these tests need are written here rather than pulling in a
//! WebSocket crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The largest DevTools message read (a DOM read is far smaller).
const MAX_MESSAGE: usize = 32 * 1024 * 1024;

/// The Chromium binary; fails the test with what to run when it is missing.
pub fn chromium() -> PathBuf {
    if let Some(bin) = std::env::var_os("CHROMIUM") {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "CHROMIUM={} is not a file; unset it and run `make setup`",
            bin.display()
        );
        return bin;
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        for name in ["chromium", "chromium-browser"] {
            let bin = Path::new(dir).join(name);
            if bin.is_file() {
                return bin;
            }
        }
    }
    panic!(
        "chromium is missing: the status page tests drive a real browser; run `make setup` (it installs Debian's chromium), or set CHROMIUM to a Chromium binary"
    );
}

fn base_args(profile: &Path) -> Vec<String> {
    vec![
        "--headless=new".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--no-first-run".into(),
        "--disable-extensions".into(),
        "--disable-background-networking".into(),
        format!("--user-data-dir={}", profile.display()),
    ]
}

/// A one-shot run: `extra` then `url`; returns stdout. Bounded by `timeout`.
pub fn run_once(profile: &Path, extra: &[String], url: &str, timeout: Duration) -> String {
    let mut child = Command::new(chromium())
        .args(base_args(profile))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromium starts");
    let mut out = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let finished = crate::wait_until(timeout, || matches!(child.try_wait(), Ok(Some(_))));
    if !finished {
        kill_group(&mut child);
        panic!("chromium did not finish {url} within {timeout:?}");
    }
    reader.join().unwrap_or_default()
}

/// Saves a screenshot of `url` (after `budget_ms` of the page's time) to `png`.
pub fn screenshot(profile: &Path, url: &str, png: &Path, size: (u32, u32), budget_ms: u32) {
    let args = [
        format!("--screenshot={}", png.display()),
        format!("--window-size={},{}", size.0, size.1),
        format!("--virtual-time-budget={budget_ms}"),
        "--hide-scrollbars".to_string(),
    ];
    run_once(profile, &args, url, Duration::from_secs(90));
    assert!(png.is_file(), "chromium wrote no screenshot of {url}");
}

/// Ends the browser and every process it started (its own process group).
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// The body of `GET path` from the DevTools HTTP endpoint ("" when it does
/// not answer). It keeps connections open whatever the request says, so the
/// body is read by its Content-Length.
fn devtools_get(port: u16, path: &str) -> String {
    let Ok(s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut r = BufReader::new(s);
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if r.get_mut().write_all(req.as_bytes()).is_err() {
        return String::new();
    }
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return String::new(),
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
    }
    let mut body = vec![0u8; length.min(MAX_MESSAGE)];
    if r.read_exact(&mut body).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// A browser kept open on one page, driven over DevTools.
pub struct Browser {
    child: Child,
    ws: Ws,
    next_id: u64,
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

impl Browser {
    /// Opens `url` in a new headless browser whose DevTools listen on
    /// 127.0.0.1:`debug_port`.
    pub fn open(profile: &Path, debug_port: u16, url: &str) -> Browser {
        let child = Command::new(chromium())
            .args(base_args(profile))
            .arg(format!("--remote-debugging-port={debug_port}"))
            .arg("--remote-debugging-address=127.0.0.1")
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromium starts");
        // The page that shows `url` (DevTools also lists the browser's own
        // pages, e.g. the omnibox popup).
        let origin: String = match url.find("://") {
            Some(i) => {
                url[..i + 3 + url[i + 3..].find('/').unwrap_or(url.len() - i - 3)].to_string()
            }
            None => url.to_string(),
        };
        let mut page: Option<String> = None;
        crate::wait_until(Duration::from_secs(30), || {
            let list: Value =
                serde_json::from_str(&devtools_get(debug_port, "/json/list")).unwrap_or_default();
            page = list.as_array().and_then(|targets| {
                targets
                    .iter()
                    .find(|t| {
                        t["type"] == "page"
                            && t["url"].as_str().is_some_and(|u| u.starts_with(&origin))
                    })
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                    .map(str::to_string)
            });
            page.is_some()
        });
        let mut browser = Browser {
            child,
            ws: Ws::closed(),
            next_id: 0,
        };
        let url =
            page.unwrap_or_else(|| panic!("chromium's DevTools on port {debug_port} list no page"));
        browser.ws = Ws::connect(&url);
        browser
    }

    /// Calls a DevTools method and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.ws
            .send(&json!({"id": id, "method": method, "params": params}).to_string());
        loop {
            let msg: Value = serde_json::from_str(&self.ws.recv()).expect("DevTools sends JSON");
            if msg["id"] == id {
                assert!(msg["error"].is_null(), "{method}: {}", msg["error"]);
                return msg["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(
            r["exceptionDetails"].is_null(),
            "{expression}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Polls `expression` until it is true or `timeout` passes; an
    /// exception (the page still loading) counts as not yet.
    pub fn wait_for(&mut self, expression: &str, timeout: Duration) -> bool {
        let guarded = format!(
            "(() => {{ try {{ return ({expression}) === true; }} catch (e) {{ return false; }} }})()"
        );
        crate::wait_until(timeout, || self.eval(&guarded) == Value::Bool(true))
    }
}

/// A client end of a WebSocket (RFC 6455): text frames out (masked, as a
/// client must), text frames in; pings answered.
struct Ws {
    stream: Option<BufReader<TcpStream>>,
}

impl Ws {
    fn closed() -> Ws {
        Ws { stream: None }
    }

    fn connect(url: &str) -> Ws {
        let rest = url.strip_prefix("ws://").expect("a ws:// URL");
        let (host, path) = rest.split_once('/').expect("a path in the URL");
        let stream = TcpStream::connect(host).expect("DevTools accepts");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        let mut stream = BufReader::new(stream);
        // The key only proves the server speaks WebSocket; a fixed one is
        // fine for a test's own browser.
        let hello = format!(
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream
            .get_mut()
            .write_all(hello.as_bytes())
            .expect("handshake sent");
        let mut status = String::new();
        stream.read_line(&mut status).expect("handshake answered");
        assert!(
            status.contains(" 101 "),
            "DevTools refused the WebSocket: {status}"
        );
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).expect("handshake headers");
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        Ws {
            stream: Some(stream),
        }
    }

    fn io(&mut self) -> &mut BufReader<TcpStream> {
        self.stream.as_mut().expect("the WebSocket is open")
    }

    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        let mask = [0x5a, 0x17, 0xc3, 0x8e];
        let mut f = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n <= 0xffff => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.io().get_mut().write_all(&f).expect("frame sent");
    }

    fn send(&mut self, text: &str) {
        self.frame(0x1, text.as_bytes());
    }

    /// The next text message (frames joined).
    fn recv(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.io()
                .read_exact(&mut head)
                .expect("a frame from DevTools");
            let (fin, opcode) = (head[0] & 0x80 != 0, head[0] & 0x0f);
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.io().read_exact(&mut b).expect("frame length");
                    u64::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.io().read_exact(&mut b).expect("frame length");
                    u64::from_be_bytes(b)
                }
                n => u64::from(n),
            };
            let len = usize::try_from(len).expect("a frame length that fits");
            assert!(
                message.len() + len <= MAX_MESSAGE,
                "a DevTools message over {MAX_MESSAGE} bytes"
            );
            let mut mask = [0u8; 4];
            if head[1] & 0x80 != 0 {
                self.io().read_exact(&mut mask).expect("frame mask");
            }
            let mut payload = vec![0u8; len];
            self.io().read_exact(&mut payload).expect("frame payload");
            if head[1] & 0x80 != 0 {
                payload
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b ^= mask[i % 4]);
            }
            match opcode {
                0x9 => self.frame(0xA, &payload),
                0x8 => panic!("DevTools closed the WebSocket"),
                0xA => {}
                _ => {
                    message.extend_from_slice(&payload);
                    if fin {
                        return String::from_utf8(message).expect("DevTools sends UTF-8");
                    }
                }
            }
        }
    }
}
