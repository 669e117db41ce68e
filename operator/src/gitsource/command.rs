//! Running one git command: argv arrays, never a shell; an environment made
//! from nothing (so nothing of turnout's own environment, credentials
//! included, reaches git or its helpers); output read with a bound; and a
//! deadline after which git and every helper it started (its process group)
//! are killed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::GitError;
use super::url::RepoUrl;

/// Where git looks for programs: fixed, not inherited.
pub const GIT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Output kept per stream; the rest is read and dropped.
const MAX_OUTPUT: usize = 64 * 1024;

/// The helper git asks for credentials on a 401: it answers from two
/// variables of git's environment, so the secret is on no command line.
const CREDENTIAL_HELPER: &str = "!f() { if [ \"$1\" = get ]; then printf 'username=%s\\npassword=%s\\n' \"$TURNOUT_GIT_USERNAME\" \"$TURNOUT_GIT_PASSWORD\"; fi; }; f";

/// How every git command of one repository runs.
pub struct Git<'a> {
    /// HOME of git (its global config, if a person puts one there).
    pub home: PathBuf,
    pub url: &'a RepoUrl,
    pub timeout: Duration,
}

impl Git<'_> {
    fn command(&self, dir: Option<&Path>, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("git");
        c.env_clear()
            .env("PATH", GIT_PATH)
            .env("HOME", &self.home)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_ALLOW_PROTOCOL", "https:http:ssh:git:file")
            .env("LC_ALL", "C");
        if let Some(creds) = self.url.credentials() {
            c.env("GIT_CONFIG_COUNT", "1")
                .env(
                    "GIT_CONFIG_KEY_0",
                    format!("credential.{}.helper", creds.scope),
                )
                .env("GIT_CONFIG_VALUE_0", CREDENTIAL_HELPER)
                .env("TURNOUT_GIT_USERNAME", &creds.username)
                .env("TURNOUT_GIT_PASSWORD", &creds.password);
        }
        if let Some(d) = dir {
            c.arg("-C").arg(d);
        }
        c.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout kills its helpers
            // (git-remote-https, ssh) too; and killed if turnout drops it.
            .process_group(0)
            .kill_on_drop(true);
        c
    }

    /// Runs `git [-C dir] args` and returns its stdout, trimmed.
    pub async fn run(&self, dir: Option<&Path>, args: &[&str]) -> Result<String, GitError> {
        let what = args.first().copied().unwrap_or("").to_string();
        let mut child = self
            .command(dir, args)
            .spawn()
            .map_err(|source| GitError::Spawn {
                what: what.clone(),
                source,
            })?;
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let finished = async {
            let (out, err, status) =
                tokio::join!(read_capped(stdout), read_capped(stderr), child.wait());
            (out, err, status)
        };
        let (out, err, status) = match tokio::time::timeout(self.timeout, finished).await {
            Ok(done) => done,
            Err(_) => {
                kill_group(&mut child).await;
                return Err(GitError::TimedOut {
                    what,
                    after: self.timeout,
                });
            }
        };
        let status = status.map_err(|source| GitError::Spawn {
            what: what.clone(),
            source,
        })?;
        if !status.success() {
            let stderr = self.url.redact(String::from_utf8_lossy(&err).trim());
            return Err(GitError::Failed {
                what,
                url: self.url.to_string(),
                stderr,
            });
        }
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }
}

/// SIGKILL to git's process group (git and its helpers), then reap git.
async fn kill_group(child: &mut tokio::process::Child) {
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill().await;
}

/// Reads a pipe to its end, keeping at most [`MAX_OUTPUT`] bytes.
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else {
        return kept;
    };
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}
