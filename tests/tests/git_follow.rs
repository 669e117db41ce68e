//! End-to-end: standalone mode following a git repository (a local bare
//! repository): each new commit is reconciled and recorded in the status; a
//! webhook pulls at once.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

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

#[test]
fn standalone_follows_commits_and_records_the_applied_one() {
    require_docker(&[BUSYBOX]);
    let (plan, base) = ("e2e-git", 21700);
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let (bare, work) = (dir.join("hosts.git"), dir.join("work"));
    git(
        &dir,
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    git(
        &dir,
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    let first = commit(&work, &demo_plan(plan, base, "future"), "future");

    let status = dir.join("status.json");
    let mut child = Command::new(turnout_bin())
        .args(["standalone", "--file", "desired.yaml", "--git"])
        .arg(format!("file://{}", bare.display()))
        .args(["--interval", "300", "--listen", "127.0.0.1:21799"])
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--status-file")
        .arg(&status)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
    let first_ok = wait_until(Duration::from_secs(60), || on("future", &first));

    // A new commit, and the webhook instead of waiting for the 300 s interval.
    let second = commit(&work, &demo_plan(plan, base, "dao"), "switch to dao");
    let mut s = std::net::TcpStream::connect("127.0.0.1:21799").unwrap();
    s.write_all(b"POST /hooks/git HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let second_ok = wait_until(Duration::from_secs(60), || on("dao", &second));
    let _ = child.kill();
    let _ = child.wait();
    assert!(first_ok, "converged on the first commit: {}", read());
    assert!(
        reply.starts_with("HTTP/1.0 202") || reply.starts_with("HTTP/1.1 202"),
        "{reply}"
    );
    assert!(
        second_ok,
        "the webhook's pull applied the second commit: {}",
        read()
    );
    assert_eq!(running(plan), expected_running(plan, "dao"));
}
