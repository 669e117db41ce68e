//! End-to-end: following a git repository safely. Credentials in the URL
//! never reach a command line, the log, the status or the checkout; a
//! branch that looks like an option is refused before git runs; a
//! repository that never answers costs one `--git-timeout`, after which git
//! and its helpers are killed and turnout goes on serving.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use turnout_e2e::*;

const TOKEN: &str = "tok3n-6c1d9f0e";

struct Turnout(Child);

impl Drop for Turnout {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `turnout standalone` following `url`, given the way a URL with
/// credentials should be: in the environment, not on a command line.
fn standalone(dir: &Path, url: &str, port: u16, extra: &[&str]) -> Turnout {
    let child = Command::new(turnout_bin())
        .args(["standalone", "--file", "desired.yaml"])
        .env("TURNOUT_GIT_URL", url)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--status-file")
        .arg(dir.join("status.json"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log file"))
        .spawn()
        .expect("turnout starts");
    Turnout(child)
}

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
}

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

/// Command lines of every process that holds `needle`.
fn command_lines_holding(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Ok(raw) = std::fs::read(entry.path().join("cmdline")) {
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            if line.contains(needle) {
                found.push(format!("{}: {line}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// Reads a request head (bounded) and returns its path.
fn read_request(s: &mut TcpStream) -> Option<String> {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return None,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    text.split_whitespace().nth(1).map(str::to_string)
}

/// A local git server over the dumb HTTP protocol (static files of a bare
/// repository). While `hang` is set it reads requests and never answers;
/// `hung_up` counts the held connections their peers closed.
struct DumbHttp {
    hang: Arc<AtomicBool>,
    hung_up: Arc<AtomicUsize>,
    held: Arc<AtomicUsize>,
}

fn serve_repository(port: u16, root: PathBuf) -> DumbHttp {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the git server's port");
    let (hang, hung_up, held) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (h, u, c) = (hang.clone(), hung_up.clone(), held.clone());
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let Some(path) = read_request(&mut s) else {
                continue;
            };
            if h.load(Ordering::SeqCst) {
                c.fetch_add(1, Ordering::SeqCst);
                let u = u.clone();
                std::thread::spawn(move || {
                    // Held until the client goes away (or 60 s pass).
                    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
                    let mut b = [0u8; 64];
                    while matches!(s.read(&mut b), Ok(n) if n > 0) {}
                    u.fetch_add(1, Ordering::SeqCst);
                });
                continue;
            }
            let rel = path
                .split('?')
                .next()
                .unwrap_or("")
                .trim_start_matches("/hosts.git/");
            let file = root.join(rel);
            let reply = match std::fs::read(&file) {
                Ok(body) if !rel.contains("..") && file.is_file() => {
                    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
                    r.extend_from_slice(&body);
                    r
                }
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = s.write_all(&reply);
        }
    });
    DumbHttp {
        hang,
        hung_up,
        held,
    }
}

/// A bare repository with one commit of `yaml`, ready for the dumb protocol.
fn repository(dir: &Path, yaml: &str) -> (PathBuf, PathBuf, String) {
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
    let head = push(&work, &bare, yaml);
    (bare, work, head)
}

fn push(work: &Path, bare: &Path, yaml: &str) -> String {
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
            "edit",
        ],
    );
    git(work, &["push", "-q", "origin", "HEAD:main"]);
    git(bare, &["update-server-info"]);
    git(work, &["rev-parse", "HEAD"])
}

#[test]
fn credentials_in_the_url_never_show_and_a_hung_fetch_is_killed() {
    require_docker(&[BUSYBOX]);
    let (plan, base, git_port, port) = ("e2e-h1-git-creds", 28400, 28480, 28481);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let (bare, work, first) = repository(&dir, &demo_plan(plan, base, "future"));
    let server = serve_repository(git_port, bare.clone());
    let url = format!("http://deploy:{TOKEN}@127.0.0.1:{git_port}/hosts.git");
    let _t = standalone(&dir, &url, port, &["--interval", "1", "--git-timeout", "3"]);
    let status = || http_get(port, "/status");
    let converged = wait_until(Duration::from_secs(60), || status().contains(&first));
    assert!(
        converged,
        "turnout followed the repository: {}\n{}",
        status(),
        log_of(&dir)
    );

    // The repository stops answering; a new commit waits there.
    server.hang.store(true, Ordering::SeqCst);
    push(&work, &bare, &demo_plan(plan, base, "dao"));
    assert!(
        wait_until(Duration::from_secs(10), || server
            .held
            .load(Ordering::SeqCst)
            > 0),
        "git asked the hung server"
    );
    let argv = command_lines_holding(TOKEN);
    let started = Instant::now();
    let killed = wait_until(Duration::from_secs(10), || {
        server.hung_up.load(Ordering::SeqCst) > 0
    });
    let killed_after = started.elapsed();
    let healthz = http_get(port, "/healthz");
    let status_now = status();
    let log = log_of(&dir);
    let grep = Command::new("grep")
        .args(["-rqs", TOKEN])
        .arg(dir.join("state"))
        .status()
        .expect("grep");

    assert!(argv.is_empty(), "the token is on a command line: {argv:?}");
    assert!(
        killed,
        "git (and the helper holding the connection) was killed within 10 s of the request"
    );
    eprintln!("the hung fetch was killed {killed_after:?} after its request was seen");
    assert!(
        log.contains("did not finish within 3s"),
        "the timeout is logged: {log}"
    );
    assert_eq!(healthz, "ok\n", "turnout serves on");
    assert!(
        status_now.contains(&first),
        "the last good commit stays applied: {status_now}"
    );
    assert!(
        !log.contains(TOKEN) && !status_now.contains(TOKEN),
        "the token leaked:\n{log}\n{status_now}"
    );
    assert!(
        log.contains(&format!("http://***@127.0.0.1:{git_port}/hosts.git")),
        "the log shows the URL redacted: {log}"
    );
    assert!(
        !grep.success(),
        "the token was written under the state directory"
    );
}

#[test]
fn a_repository_that_never_answers_the_first_clone_does_not_stop_turnout() {
    let dir = temp_dir("e2e-h1-git-hang");
    let (git_port, port) = (28482, 28483);
    let server = serve_repository(git_port, dir.clone());
    server.hang.store(true, Ordering::SeqCst);
    let url = format!("http://deploy:{TOKEN}@127.0.0.1:{git_port}/hosts.git");
    let mut t = standalone(
        &dir,
        &url,
        port,
        &["--interval", "300", "--git-timeout", "2"],
    );
    let asked = wait_until(Duration::from_secs(10), || {
        server.held.load(Ordering::SeqCst) > 0
    });
    let argv = command_lines_holding(TOKEN);
    let killed = wait_until(Duration::from_secs(8), || {
        server.hung_up.load(Ordering::SeqCst) > 0
    });
    let healthz = http_get(port, "/healthz");
    let alive = matches!(t.0.try_wait(), Ok(None));
    let log = log_of(&dir);
    assert!(asked, "git asked the server: {log}");
    assert!(argv.is_empty(), "the token is on a command line: {argv:?}");
    assert!(killed, "the clone was killed within 8 s: {log}");
    assert!(
        alive && healthz == "ok\n",
        "turnout serves on: {healthz:?} {log}"
    );
    assert!(
        log.contains("did not finish within 2s") && log.contains("retrying"),
        "{log}"
    );
    assert!(!log.contains(TOKEN), "{log}");
}

#[test]
fn credentials_git_would_echo_are_refused_unshown() {
    let dir = temp_dir("e2e-h1-git-echo");
    // git:// has no credentials: git reads user:token@host as a host name and prints it.
    let url = format!("git://deploy:{TOKEN}@127.0.0.1:28484/hosts.git");
    let mut t = standalone(&dir, &url, 28485, &[]);
    let exited = wait_until(Duration::from_secs(15), || {
        matches!(t.0.try_wait(), Ok(Some(_)))
    });
    let log = log_of(&dir);
    assert!(!log.contains(TOKEN), "the token leaked: {log}");
    assert!(
        exited && log.contains("refusing --git git://***@127.0.0.1:28484/hosts.git"),
        "{log}"
    );
}

#[test]
fn a_branch_that_looks_like_an_option_is_refused_and_nothing_runs() {
    let dir = temp_dir("e2e-h1-git-branch");
    let (bare, _work, _) = repository(&dir, "kind: Nothing\n");
    // A checkout from an earlier run, so that a careless turnout would fetch.
    git(
        &dir,
        &[
            "clone",
            "-q",
            bare.to_str().expect("utf-8 path"),
            dir.join("state/git").to_str().unwrap(),
        ],
    );
    let marker = dir.join("pwned");
    let branch = format!("--branch=--upload-pack=touch {}", marker.display());
    let url = format!("file://{}", bare.display());
    let mut t = standalone(&dir, &url, 28486, &[&branch]);
    let exited = wait_until(Duration::from_secs(15), || {
        matches!(t.0.try_wait(), Ok(Some(_)))
    });
    let code = t.0.try_wait().ok().flatten().and_then(|s| s.code());
    let log = log_of(&dir);
    assert!(
        !marker.exists(),
        "git ran the branch name as a program: {log}"
    );
    assert!(exited && code != Some(0), "turnout stops: {code:?} {log}");
    assert!(
        log.contains("refusing --branch") && log.contains("cannot start with '-'"),
        "{log}"
    );
}
