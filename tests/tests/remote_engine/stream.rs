//! The data path over each remote transport: `DockerRuntime::connect_to`
//! an address, stream 10 MB into an exec's stdin and back out of another's
//! stdout (what a sync between hosts does), and check the bytes by their
//! sha256 on both sides. Over SSH, a killed ssh ends a call in flight with
//! an error, promptly.
//!
//! The SSH half runs in a child of this test binary: turnout runs the
//! `ssh` on its PATH, and only a child can be given the PATH whose `ssh`
//! uses the test's config (this process's environment stays as it is).

use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use turnout::runtime::docker::DockerRuntime;
use turnout::runtime::docker::address::{self, EngineAddress};
use turnout::runtime::stream::{DataExec, ExecSpec, Sink, Source};

use super::certs;
use super::sshd::{self, USER};
use super::support::*;
use turnout_e2e::*;

const BOX: &str = "e2e-remote-stream-box";
const SIZE: usize = 10 * 1024 * 1024;
/// Set in the child that runs the SSH half: the address to use.
const INNER: &str = "E2E_REMOTE_STREAM_SSH";
const THIS_TEST: &str = "stream::an_exec_streams_10_mb_each_way_over_tls_and_ssh";

#[test]
fn an_exec_streams_10_mb_each_way_over_tls_and_ssh() {
    if let Ok(addr) = std::env::var(INNER) {
        return ssh_half(&addr);
    }
    let _lock = exclusive();
    let dir = TempDir::new("e2e-remote-stream");
    let tls = certs::make(&dir.0.join("certs"));
    let _engine = SecondEngine::start(&tls.dockerd_args());
    let mut made = Containers(Vec::new());
    made.sleeper(BOX);
    let ssh_dir = dir.0.join("ssh");
    let _sshd = sshd::start(&ssh_dir);
    let path = sshd::client(&ssh_dir, "good", "client_key", true);

    let tcp = format!("tcp://127.0.0.1:{TLS_PORT}");
    let address = address::parse_flag(&tcp, "the test", Some(&tls.client)).expect("TLS address");
    let started = Instant::now();
    block_on(round_trip(address));
    eprintln!("TLS: 10 MB in and out in {:?}", started.elapsed());

    let ssh = format!("ssh://{USER}@127.0.0.1:{SSH_PORT}");
    let out = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", THIS_TEST, "--nocapture", "--test-threads=1"])
        .env(INNER, &ssh)
        .env("PATH", &path)
        .env("HOME", &dir.0)
        .output()
        .expect("the SSH half runs");
    let text = output_text(&out);
    assert!(out.status.success(), "the SSH half: {text}");
    assert!(
        text.contains("SSH: 10 MB in and out") && text.contains("killed ssh ended the call"),
        "the SSH half ran (not filtered out): {text}"
    );
    eprintln!("{text}");
}

/// In the child: the round trip over SSH, then a call whose ssh is killed.
fn ssh_half(addr: &str) {
    let address = address::parse(addr, "the test").expect("SSH address");
    let started = Instant::now();
    block_on(round_trip(address.clone()));
    eprintln!("SSH: 10 MB in and out in {:?}", started.elapsed());
    block_on(killed_ssh(address));
}

fn block_on<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 10 MB into `cat > /tmp/blob`, its sha256 from inside, and back out of `cat`.
async fn round_trip(address: EngineAddress) {
    let rt = DockerRuntime::connect_to(address).await.expect("connects");
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 7 % 251) as u8).collect();
    let want = sha256(&data);
    let limit = Duration::from_secs(60);
    let put = ExecSpec::new(BOX, ["sh", "-c", "cat > /tmp/blob"]).with_timeout(limit);
    let s = rt
        .stream(
            Source::Reader(Box::pin(&data[..])),
            Sink::Exec(&put),
            &|_| {},
        )
        .await
        .expect("streams into the exec");
    assert!(s.succeeded() && s.bytes == SIZE as u64, "{s:?}");
    let sum = ExecSpec::new(BOX, ["sha256sum", "/tmp/blob"]).with_timeout(limit);
    let got = rt.capture(&sum, None, 4096).await.expect("sha256sum runs");
    assert!(
        String::from_utf8_lossy(&got.stdout).starts_with(&want),
        "the container holds the bytes sent: {got:?}"
    );
    let mut back = Vec::new();
    let get = ExecSpec::new(BOX, ["cat", "/tmp/blob"]).with_timeout(limit);
    let s = rt
        .stream(
            Source::Exec(&get),
            Sink::Writer(Box::pin(&mut back)),
            &|_| {},
        )
        .await
        .expect("streams out of the exec");
    assert!(s.succeeded(), "{s:?}");
    assert_eq!(back.len(), SIZE);
    assert_eq!(
        sha256(&back),
        want,
        "the bytes read back are the bytes sent"
    );
}

/// A command that would run 30 s; its ssh is killed after a second: the
/// call ends with an error, well before the command would have.
async fn killed_ssh(address: EngineAddress) {
    let rt = DockerRuntime::connect_to(address).await.expect("connects");
    let spec = ExecSpec::new(BOX, ["sleep", "30"]).with_timeout(Duration::from_secs(60));
    let call = tokio::spawn(async move { rt.capture(&spec, None, 1024).await });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mine = sshd::ssh_children_of(std::process::id());
    assert!(!mine.is_empty(), "no ssh of this process to kill");
    for pid in &mine {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let killed = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("the call ended after its ssh was killed, not hung")
        .expect("the call's task");
    assert!(
        r.is_err(),
        "a call whose connection died cannot succeed: {r:?}"
    );
    eprintln!(
        "killed ssh ended the call in {:?}: {}",
        killed.elapsed(),
        r.err().map(|e| e.to_string()).unwrap_or_default()
    );
}
