//! GitOps without a cluster: standalone mode can follow a git repository,
//! keeping a checkout in turnout's state directory up to date (on an
//! interval, or now when a webhook asks) and reconciling each new commit.
//! git runs as a program with argv arrays, never through a shell.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where the desired state comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitSource {
    pub url: String,
    pub branch: String,
    pub interval: Duration,
}

/// Why the checkout could not be updated.
#[derive(Debug, thiserror::Error)]
#[error("git {what} failed: {stderr}")]
pub struct GitError {
    what: String,
    stderr: String,
}

fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, GitError> {
    let mut c = Command::new("git");
    if let Some(d) = dir {
        c.arg("-C").arg(d);
    }
    // Never prompt for credentials on a terminal that is not there.
    c.env("GIT_TERMINAL_PROMPT", "0").args(args);
    let out = c.output().map_err(|e| GitError {
        what: args.first().copied().unwrap_or("").to_string(),
        stderr: format!("cannot run git: {e}; install git"),
    })?;
    if !out.status.success() {
        return Err(GitError {
            what: args.first().copied().unwrap_or("").to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl GitSource {
    /// Clones into `dir` if needed, then moves it to the branch's newest
    /// commit. Returns that commit.
    pub fn update(&self, dir: &Path) -> Result<String, GitError> {
        if !dir.join(".git").exists() {
            if let Some(parent) = dir.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            git(
                None,
                &[
                    "clone",
                    "--quiet",
                    "--branch",
                    &self.branch,
                    "--",
                    &self.url,
                    &dir.display().to_string(),
                ],
            )?;
        } else {
            git(Some(dir), &["fetch", "--quiet", "origin", &self.branch])?;
            git(Some(dir), &["reset", "--quiet", "--hard", "FETCH_HEAD"])?;
        }
        git(Some(dir), &["rev-parse", "HEAD"])
    }

    /// The checkout's place under the state directory.
    pub fn checkout_dir(state_dir: &Path) -> PathBuf {
        state_dir.join("git")
    }
}
