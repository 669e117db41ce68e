//! End-to-end: standalone mode following a git repository (a local bare
//! repository): each new commit is reconciled and recorded in the status; a
//! webhook signed with the shared secret pulls at once, and nothing else
//! does (unsigned, wrongly signed, oversized or slow requests change
//! nothing); with no secret the hook is off and says how to turn it on.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use turnout::http::webhook::WebhookSecret;
use turnout_e2e::*;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn commit(work: &Path, yaml: &str, message: &str) -> String {
    std::fs::write(work.join("desired.yaml"), yaml).expect("write desired.yaml");
    git(work, &["add", "desired.yaml"]);
    git(
        work,
        &[
            "-c",
            "user.name=ops",
            "-c",
            "user.email=ops@example.org",
            "commit",
            "-qm",
            message,
        ],
    );
    git(work, &["push", "-q", "origin", "HEAD:main"]);
    git(work, &["rev-parse", "HEAD"])
}

/// A bare repository `hosts.git` and a clone of it to commit in.
fn repository(dir: &Path) -> (PathBuf, PathBuf) {
    let (bare, work) = (dir.join("hosts.git"), dir.join("work"));
    git(
        dir,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            bare.to_str().expect("utf-8 path"),
        ],
    );
    git(
        dir,
        &[
            "clone",
            "-q",
            bare.to_str().expect("utf-8 path"),
            work.to_str().expect("utf-8 path"),
        ],
    );
    (bare, work)
}

struct Turnout(Child);

impl Drop for Turnout {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `turnout standalone` following `bare`, pulling every 300 s on its own.
fn follow(dir: &Path, bare: &Path, port: u16, extra: &[&str]) -> Turnout {
    let child = Command::new(turnout_bin())
        .args(["standalone", "--file", "desired.yaml", "--git"])
        .arg(format!("file://{}", bare.display()))
        .args([
            "--interval",
            "300",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(extra)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--status-file")
        .arg(dir.join("status.json"))
        .env("TURNOUT_HTTP_TIMEOUT", "2")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log file"))
        .spawn()
        .expect("turnout starts");
    Turnout(child)
}

/// Sends a raw request and reads the reply (every wait bounded).
fn send(port: u16, request: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request).expect("send");
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

fn hook(port: u16, signature: Option<&str>, body: &str) -> String {
    let sig = signature
        .map(|s| format!("X-Hub-Signature-256: {s}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST /hooks/git HTTP/1.0\r\nContent-Type: application/json\r\n{sig}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    send(port, req.as_bytes())
}

fn status_code(reply: &str) -> &str {
    reply.split_whitespace().nth(1).unwrap_or("")
}

#[test]
fn standalone_follows_commits_and_pulls_only_on_signed_webhooks() {
    require_docker(&[BUSYBOX]);
    let (plan, base, port) = ("e2e-h1-git", 28000, 28090);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let (bare, work) = repository(&dir);
    let first = commit(&work, &demo_plan(plan, base, "future"), "future");
    let secret = "a shared secret, not a signature";
    std::fs::write(dir.join("webhook-secret"), format!("{secret}\n")).expect("secret file");
    let secret_file = dir.join("webhook-secret");
    let _t = follow(
        &dir,
        &bare,
        port,
        &["--webhook-secret-file", secret_file.to_str().unwrap()],
    );

    let status = dir.join("status.json");
    let read = || -> serde_json::Value {
        std::fs::read_to_string(&status)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    };
    let on = |version: &str, commit: &str| {
        let s = read();
        s["status"]["activeVersion"] == version
            && s["appliedRevision"] == commit
            && s["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
    };
    let checkout = dir.join("state/git");
    assert!(
        wait_until(Duration::from_secs(60), || on("future", &first)),
        "converged on the first commit: {}",
        read()
    );

    // A new commit; the interval (300 s) is far away, so only a hook can pull it.
    let second = commit(&work, &demo_plan(plan, base, "dao"), "switch to dao");
    let body = r#"{"ref":"refs/heads/main"}"#;
    let unsigned = hook(port, None, body);
    let wrong = hook(
        port,
        Some(&WebhookSecret::from_bytes("not the secret").sign(body.as_bytes())),
        body,
    );
    let malformed = hook(port, Some("sha256=zz"), body);
    // Signed for another body: a replayed signature does not fit.
    let other_body = hook(
        port,
        Some(&WebhookSecret::from_bytes(secret).sign(b"{}")),
        body,
    );
    let sig = WebhookSecret::from_bytes(secret).sign(b"x");
    let too_big = send(
        port,
        format!("POST /hooks/git HTTP/1.0\r\nX-Hub-Signature-256: {sig}\r\nContent-Length: 2000000\r\n\r\n").as_bytes(),
    );
    let started = Instant::now();
    let slow = send(
        port,
        format!("POST /hooks/git HTTP/1.0\r\nX-Hub-Signature-256: {sig}\r\nContent-Length: 100\r\n\r\n0123456789").as_bytes(),
    );
    let slow_took = started.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    let head_after_refusals = git(&checkout, &["rev-parse", "HEAD"]);
    let applied_after_refusals = read()["appliedRevision"].clone();

    let signed = hook(
        port,
        Some(&WebhookSecret::from_bytes(secret).sign(body.as_bytes())),
        body,
    );
    let started = Instant::now();
    let pulled = wait_until(Duration::from_secs(10), || {
        git(&checkout, &["rev-parse", "HEAD"]) == second
    });
    eprintln!(
        "a signed webhook pulled the new commit in {:?}",
        started.elapsed()
    );
    let second_ok = wait_until(Duration::from_secs(60), || on("dao", &second));
    let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();

    for (what, reply) in [
        ("unsigned", &unsigned),
        ("wrongly signed", &wrong),
        ("malformed", &malformed),
        ("signed for another body", &other_body),
    ] {
        assert_eq!(status_code(reply), "401", "{what}: {reply}");
    }
    assert_eq!(status_code(&too_big), "413", "{too_big}");
    assert_eq!(status_code(&slow), "408", "{slow}");
    assert!(
        slow_took < Duration::from_secs(5),
        "a slow body was cut off after {slow_took:?}"
    );
    assert_eq!(head_after_refusals, first, "refused requests must not pull");
    assert_eq!(
        applied_after_refusals,
        first.as_str(),
        "refused requests must not apply"
    );
    assert_eq!(status_code(&signed), "202", "{signed}");
    assert!(
        pulled,
        "the signed webhook pulled the new commit within 10 s"
    );
    assert!(second_ok, "the second commit was applied: {}", read());
    assert_eq!(running(plan), expected_running(plan, "dao"));
    assert!(!log.contains(secret), "the secret reached the log");
    assert!(!log.contains("sha256="), "a signature reached the log");
}

#[test]
fn without_a_secret_the_webhook_is_off_and_says_how_to_turn_it_on() {
    require_docker(&[BUSYBOX]);
    let (plan, base, port) = ("e2e-h1-git-nohook", 28040, 28091);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let (bare, work) = repository(&dir);
    let first = commit(&work, &demo_plan(plan, base, "future"), "future");
    let _t = follow(&dir, &bare, port, &[]);
    let checkout = dir.join("state/git");
    assert!(
        wait_until(Duration::from_secs(30), || checkout.join(".git").exists()
            && http_get(port, "/healthz") == "ok\n"),
        "turnout cloned the repository and serves"
    );
    commit(&work, &demo_plan(plan, base, "dao"), "dao");
    let body = "{}";
    let reply = hook(
        port,
        Some(&WebhookSecret::from_bytes("guess").sign(body.as_bytes())),
        body,
    );
    std::thread::sleep(Duration::from_secs(2));
    let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    assert_eq!(status_code(&reply), "403", "{reply}");
    assert!(reply.contains("--webhook-secret-file"), "{reply}");
    assert_eq!(
        git(&checkout, &["rev-parse", "HEAD"]),
        first,
        "the hook must not pull"
    );
    assert!(
        log.contains("POST /hooks/git is disabled"),
        "turnout says so at startup: {log}"
    );
}

#[test]
fn a_secret_file_that_is_a_fifo_is_refused_at_once() {
    let dir = temp_dir("e2e-h1-git-fifo");
    let (bare, work) = repository(&dir);
    commit(&work, "not read: turnout stops first\n", "x");
    let fifo = dir.join("secret");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let mut t = follow(
        &dir,
        &bare,
        28092,
        &["--webhook-secret-file", fifo.to_str().unwrap()],
    );
    let exited = wait_until(Duration::from_secs(10), || {
        matches!(t.0.try_wait(), Ok(Some(_)))
    });
    let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    assert!(exited, "turnout did not hang on the FIFO");
    assert!(log.contains("not a regular file"), "{log}");
}
