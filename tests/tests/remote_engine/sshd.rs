//! An sshd of the test's own, standing in for the other host's: Debian's
//! openssh-server started from a config, host key and authorized key in
//! the test's temporary directory, on a loopback port, letting in one
//! dedicated user whose `docker` talks to the second engine (`SetEnv
//! DOCKER_HOST`). The system's sshd and /etc/ssh are never touched.
//!
//! The client side is a directory of its own too: an ssh config (the key,
//! a known_hosts holding the test sshd's host key), and a `bin/ssh` that
//! runs /usr/bin/ssh with that config, first on the PATH turnout gets.
//! root's ~/.ssh is not read or written.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::support::{SOCKET, SSH_PORT, require_tool};
use turnout_e2e::*;

/// The user turnout logs in as (created if missing, in the docker group).
pub const USER: &str = "turnout-e2e-ssh";

/// The test's sshd, killed when dropped.
pub struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keygen(file: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "e2e-remote", "-f"])
        .arg(file));
}

/// Creates [`USER`] unless it exists: no password (`*` cannot be typed,
/// and is not a locked account, which sshd would refuse without PAM).
fn ensure_user() {
    if Command::new("id")
        .arg(USER)
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return;
    }
    run(Command::new("useradd").args([
        "--create-home",
        "--shell",
        "/bin/sh",
        "--groups",
        "docker",
        "--password",
        "*",
        USER,
    ]));
}

/// Starts sshd on 127.0.0.1:[`SSH_PORT`], keys and config under `dir`.
pub fn start(dir: &Path) -> Sshd {
    require_tool("/usr/sbin/sshd", "apt-get install -y openssh-server");
    require_tool("ssh", "apt-get install -y openssh-client");
    require_tool("ssh-keygen", "apt-get install -y openssh-client");
    ensure_user();
    std::fs::create_dir_all(dir).expect("sshd directory");
    keygen(&dir.join("host_key"));
    keygen(&dir.join("client_key"));
    keygen(&dir.join("other_key"));
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).expect("authorize");
    let d = dir.display();
    let config = format!(
        "Port {SSH_PORT}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
         AllowUsers {USER}\nPermitRootLogin no\nAllowTcpForwarding no\nX11Forwarding no\n\
         SetEnv DOCKER_HOST=unix://{SOCKET}\nLogLevel VERBOSE\n"
    );
    std::fs::write(dir.join("sshd_config"), config).expect("write sshd_config");
    // sshd's privilege separation directory (shared with any system sshd; kept).
    std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
    run(Command::new("/usr/sbin/sshd")
        .arg("-t")
        .arg("-f")
        .arg(dir.join("sshd_config")));
    let log = std::fs::File::create(dir.join("sshd.log")).expect("sshd log");
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("sshd starts");
    let sshd = Sshd(child);
    assert!(
        wait_until(Duration::from_secs(20), || port_answers(SSH_PORT)),
        "sshd did not listen on {SSH_PORT}: {}",
        std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
    );
    sshd
}

/// A client directory `name` under `dir` for key `key` (with the test
/// sshd's host key known unless `known` is false); returns the PATH to
/// give turnout (its `bin/ssh` first).
pub fn client(dir: &Path, name: &str, key: &str, known: bool) -> String {
    let c = dir.join(name);
    std::fs::create_dir_all(c.join("bin")).expect("client directory");
    let known_hosts = c.join("known_hosts");
    let host_key = std::fs::read_to_string(dir.join("host_key.pub")).expect("host key");
    let entry = if known {
        format!("[127.0.0.1]:{SSH_PORT} {host_key}")
    } else {
        String::new()
    };
    std::fs::write(&known_hosts, entry).expect("known_hosts");
    let config = format!(
        "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
        dir.join(key).display(),
        known_hosts.display()
    );
    std::fs::write(c.join("ssh_config"), config).expect("ssh_config");
    let wrapper = c.join("bin/ssh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
            c.join("ssh_config").display()
        ),
    )
    .expect("bin/ssh");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path_with(&c.join("bin"))
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    )
}

/// Client `ssh` processes going to the test sshd whose parent is `parent`.
pub fn ssh_children_of(parent: u32) -> Vec<u32> {
    ssh_clients()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // The parent pid is the second field after the command name.
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .is_some_and(|p| p == parent.to_string())
            })
        })
        .collect()
}

/// Client `ssh` processes going to the test sshd (turnout's, and any a
/// test started), by pid.
pub fn ssh_clients() -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_ssh = args.first().is_some_and(|a| a.ends_with(b"ssh"));
        let ours = args.iter().any(|a| *a == SSH_PORT.to_string().as_bytes())
            && args.iter().any(|a| *a == b"dial-stdio");
        if is_ssh && ours {
            found.push(pid);
        }
    }
    found
}
