//! Tests of following a repository against the real git and local sockets.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use super::*;

fn state_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("turnout-gitsource-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Reads one request head from a socket (bounded).
fn read_head(s: &mut std::net::TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn base64(input: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn branch_rules_agree_with_git_and_refuse_options() {
    let names = [
        "main",
        "release/1.2",
        "feature/x-y_z",
        "v1.0",
        "a.b",
        "-x",
        "--upload-pack=touch /tmp/x",
        "",
        "a..b",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[b",
        "a\\b",
        "/a",
        "a/",
        "a//b",
        "a.",
        ".a",
        "a/.b",
        "a.lock",
        "a/b.lock/c",
        "@",
        "a@{1}",
        "HEAD",
        "a\tb",
        "a\nb",
        "ü",
    ];
    for name in names {
        let ours = check_branch(name).is_ok();
        // Stricter than git: `@` (which git expands to the current branch)
        // and names git would read as options.
        if name.starts_with('-') || name == "@" {
            assert!(!ours, "{name:?} is refused");
            continue;
        }
        let git = std::process::Command::new("git")
            .args(["check-ref-format", "--branch", name])
            .output()
            .unwrap();
        assert_eq!(
            ours,
            git.status.success(),
            "{name:?}: ours {ours}, git's {:?}",
            git.status
        );
    }
    let e = GitSource::new(
        "file:///srv/x.git",
        "--upload-pack=touch /tmp/x",
        Duration::from_secs(60),
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert_eq!(e.reason(), "InvalidBranch");
    assert!(e.to_string().contains("cannot start with '-'"), "{e}");
}

#[tokio::test]
async fn credentials_reach_the_server_but_not_errors_or_the_checkout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut first, _) = listener.accept().unwrap();
        read_head(&mut first);
        first
            .write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        drop(first);
        let (mut second, _) = listener.accept().unwrap();
        let head = read_head(&mut second);
        second
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        head
    });
    let url = format!("http://deploy:s3cr%40t-t0ken@127.0.0.1:{port}/ops/hosts.git");
    let src = GitSource::new(
        &url,
        "main",
        Duration::from_secs(60),
        Duration::from_secs(20),
    )
    .unwrap();
    let state = state_dir("creds");
    let e = src.update(&state).await.unwrap_err();
    let head = server.join().unwrap();
    let auth = format!("authorization: basic {}", base64(b"deploy:s3cr@t-t0ken")).to_lowercase();
    assert!(
        head.to_lowercase().contains(&auth),
        "git sent the credentials: {head}"
    );
    let text = format!("{e} {e:?}");
    assert!(!text.contains("s3cr") && !text.contains("t0ken"), "{text}");
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/ops/hosts.git")) || text.contains("***@"),
        "{text}"
    );
    // Nothing of the secret is kept in the state directory.
    let grep = std::process::Command::new("grep")
        .args(["-rqs", "t0ken"])
        .arg(&state)
        .status()
        .unwrap();
    assert!(
        !grep.success(),
        "the token was written under {}",
        state.display()
    );
    std::fs::remove_dir_all(&state).unwrap();
}

#[tokio::test]
async fn a_repository_that_never_answers_is_killed_with_its_helpers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts, reads the request, never answers; reports when the peer hangs up.
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        read_head(&mut s);
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut b = [0u8; 64];
        let started = Instant::now();
        loop {
            match s.read(&mut b) {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    });
    let url = format!("http://127.0.0.1:{port}/x.git");
    let src = GitSource::new(
        &url,
        "main",
        Duration::from_secs(60),
        Duration::from_secs(2),
    )
    .unwrap();
    let state = state_dir("hang");
    let started = Instant::now();
    let e = src.update(&state).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.reason(), "GitTimedOut", "{e}");
    assert!(took < Duration::from_secs(6), "killed after {took:?}");
    // The socket is held by git-remote-http, a child of git: it was killed too.
    let closed_after = server.join().unwrap();
    assert!(
        closed_after < Duration::from_secs(6),
        "the helper held the connection for {closed_after:?}"
    );
    // A killed clone leaves no checkout that a later fetch would trip on.
    assert!(!GitSource::checkout_dir(&state).exists());
    std::fs::remove_dir_all(&state).unwrap();
}

#[tokio::test]
async fn follows_a_local_repository_past_what_killed_git_commands_leave() {
    let state = state_dir("local");
    let bare = state.join("hosts.git");
    let run = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let b = bare.display().to_string();
    run(&["init", "-q", "--bare", "-b", "main", &b]);
    let work = state.join("work").display().to_string();
    run(&["clone", "-q", &b, &work]);
    std::fs::write(state.join("work/f"), "1").unwrap();
    run(&["-C", &work, "add", "f"]);
    run(&[
        "-C",
        &work,
        "-c",
        "user.name=o",
        "-c",
        "user.email=o@e",
        "commit",
        "-qm",
        "1",
    ]);
    run(&["-C", &work, "push", "-q", "origin", "HEAD:main"]);
    let first = run(&["-C", &work, "rev-parse", "HEAD"]);
    let turnout_state = state.join("state");
    // What a clone killed halfway leaves.
    std::fs::create_dir_all(turnout_state.join("git.partial/.git")).unwrap();
    let src = GitSource::new(
        &format!("file://{b}"),
        "main",
        Duration::from_secs(60),
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(src.update(&turnout_state).await.unwrap(), first);
    std::fs::write(state.join("work/f"), "2").unwrap();
    run(&[
        "-C",
        &work,
        "-c",
        "user.name=o",
        "-c",
        "user.email=o@e",
        "commit",
        "-qam",
        "2",
    ]);
    run(&["-C", &work, "push", "-q", "origin", "HEAD:main"]);
    let second = run(&["-C", &work, "rev-parse", "HEAD"]);
    // What a reset killed halfway leaves.
    std::fs::write(turnout_state.join("git/.git/index.lock"), "").unwrap();
    std::fs::write(turnout_state.join("git/.git/refs/heads/main.lock"), "").unwrap();
    assert_eq!(src.update(&turnout_state).await.unwrap(), second);
    assert_eq!(
        std::fs::read_to_string(turnout_state.join("git/f")).unwrap(),
        "2"
    );
    std::fs::remove_dir_all(&state).unwrap();
}
