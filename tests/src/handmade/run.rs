//! Running the docker CLI for the hand-made host with every wait bounded:
//! a command that outlives its limit is killed and the test fails saying
//! which one.

use std::io::{Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one docker call may take (a `docker run` of a database image
/// included; waiting for a server to be ready is bounded separately).
pub const CALL: Duration = Duration::from_secs(60);

fn reader<R: Read + Send + 'static>(r: Option<R>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        buf
    })
}

/// Runs `program ARGS` with `input` on stdin, waiting at most `limit`;
/// its output whatever the exit status.
pub fn run_raw(program: &str, args: &[&str], input: &[u8], limit: Duration) -> Output {
    let mut child: Child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (is it installed?): {e}"));
    let stdin = child.stdin.take();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input);
        }
    });
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{program} {} did not finish within {limit:?}",
                    args.join(" ")
                );
            }
        }
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `docker ARGS` with `input` on stdin; fails the test unless it succeeds.
/// Its stdout, trimmed.
pub fn docker_in(args: &[&str], input: &str) -> String {
    let out = run_raw("docker", args, input.as_bytes(), CALL);
    assert!(
        out.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `docker ARGS`; fails the test unless it succeeds. Its stdout, trimmed.
pub fn docker_ok(args: &[&str]) -> String {
    docker_in(args, "")
}

/// `docker ARGS`, whatever its outcome (for removing what may be gone).
pub fn docker_try(args: &[&str]) -> Output {
    run_raw("docker", args, b"", CALL)
}

/// Waits up to `limit` for `docker exec NAME turnout-ready` to succeed.
pub fn wait_ready(name: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let out = run_raw("docker", &["exec", name, "turnout-ready", "-v"], b"", CALL);
        if out.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} was not ready within {limit:?}: {}{}\nits log: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&docker_try(&["logs", "--tail", "20", name]).stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
