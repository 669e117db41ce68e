//! An engine reached over SSH, as the Docker CLI reaches one: `import`
//! and `plan` see its containers; a key the host refuses, a host key that
//! is not known and a port nobody listens on fail fast with a message
//! naming the engine; `apply` refuses it; and no ssh is left running.

use std::time::Duration;

use super::sshd::{self, USER};
use super::support::*;
use turnout_e2e::*;

const PLAN: &str = "e2e-remote-ssh";
const WEB: &str = "e2e-remote-ssh-web-1";

#[test]
fn turnout_reads_an_engine_over_ssh_and_fails_fast_when_it_cannot() {
    let _lock = exclusive();
    let dir = TempDir::new(PLAN);
    let _engine = SecondEngine::start("");
    let mut made = Containers(Vec::new());
    made.sleeper(WEB);
    let ssh_dir = dir.0.join("ssh");
    let _sshd = sshd::start(&ssh_dir);
    let path = sshd::client(&ssh_dir, "good", "client_key", true);
    let home = dir.0.display().to_string();
    let env = [("PATH", path.as_str()), ("HOME", home.as_str())];
    let addr = format!("ssh://{USER}@127.0.0.1:{SSH_PORT}");

    let (out, took) = turnout(
        &[
            "import",
            "--engine",
            &addr,
            "--version",
            "web=e2e-remote-ssh-web-",
        ],
        &env,
    );
    let text = output_text(&out);
    assert!(out.status.success(), "import over ssh: {text}");
    assert!(text.contains(&format!("engine: {addr} (Docker ")), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(WEB),
        "the plan describes the second engine's container: {text}"
    );
    assert!(
        docker(&["ps", "-aq", "--filter", &format!("name=^{WEB}$")]).is_empty(),
        "{WEB} is not on the local engine: the plan came from the other one"
    );
    eprintln!("import over ssh took {took:?}");

    let plan = write_plan(&dir.0, PLAN, 27650).display().to_string();
    let (out, _) = turnout(&["plan", &plan, "--engine", &addr], &env);
    let text = output_text(&out);
    assert!(out.status.success(), "plan over ssh: {text}");
    assert!(text.contains(&format!("Engine: {addr} (Docker ")), "{text}");

    let (out, _) = turnout(&["apply", &plan, "--engine", &addr], &env);
    let text = output_text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "apply on a remote engine: {text}"
    );
    assert!(text.contains("Run turnout on that host"), "{text}");

    failures(&ssh_dir, &home, &addr);
    assert!(
        wait_until(Duration::from_secs(5), || sshd::ssh_clients().is_empty()),
        "turnout left ssh running: pids {:?}",
        sshd::ssh_clients()
    );
}

/// Each way an SSH engine can fail: quickly, naming the engine and ssh's reason.
fn failures(ssh_dir: &std::path::Path, home: &str, addr: &str) {
    let refused = sshd::client(ssh_dir, "refused", "other_key", true);
    let unknown = sshd::client(ssh_dir, "unknown", "client_key", false);
    let good = sshd::client(ssh_dir, "good", "client_key", true);
    let closed = format!("ssh://{USER}@127.0.0.1:{CLOSED_PORT}");
    for (path, engine, why) in [
        (&refused, addr, "Permission denied"),
        (&unknown, addr, "Host key verification failed"),
        (&good, closed.as_str(), "Connection refused"),
    ] {
        let (out, took) = turnout(
            &["import", "--engine", engine],
            &[("PATH", path), ("HOME", home)],
        );
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{why}: {text}");
        assert!(
            text.contains(&format!("\"{engine}\"")) && text.contains(why),
            "names the engine and ssh's reason ({why}): {text}"
        );
        assert!(
            text.contains("works from this machine"),
            "says what to check: {text}"
        );
        assert!(
            took < Duration::from_secs(10),
            "{why}: took {took:?}, should fail fast"
        );
        eprintln!("{why}: failed in {took:?}");
    }
}
