//! GitOps without a cluster: standalone mode can follow a git repository,
//! keeping a checkout in turnout's state directory up to date (on an
//! interval, or now when a signed webhook asks) and reconciling each new
//! commit.
//!
//! The branch and URL are checked before git ever runs (a branch is never
//! taken for an option, `--` stands before refs and paths); credentials in
//! the URL are kept out of sight ([`url`]); each git command runs with an
//! environment made from nothing and a deadline ([`command`]). With that
//! clean environment git sees no ssh agent, no credential helper and no
//! config of the invoking user: those are configured explicitly in
//! `<state-dir>/git-home/.gitconfig` (for example `core.sshCommand`).

mod command;
pub mod follow;
pub mod url;

use std::path::{Path, PathBuf};
use std::time::Duration;

use command::Git;
pub use url::RepoUrl;

/// Where the desired state comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitSource {
    url: RepoUrl,
    branch: String,
    pub interval: Duration,
    /// How long one git command may take before it is killed.
    pub timeout: Duration,
}

/// Why the repository cannot be followed. Messages carry the URL only
/// redacted. The reason is the variant's `strum` name.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
pub enum GitError {
    #[error("refusing --branch {branch:?}: {why}; give a branch name such as main")]
    InvalidBranch { branch: String, why: &'static str },
    #[error("refusing --git {shown}: {why}")]
    InvalidUrl { shown: String, why: &'static str },
    #[error(
        "cannot run git {what}: {source}; install git (turnout looks for it in {})",
        command::GIT_PATH
    )]
    #[strum(serialize = "GitMissing")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("git {what} of {url} failed: {stderr}")]
    #[strum(serialize = "GitFailed")]
    Failed {
        what: String,
        url: String,
        stderr: String,
    },
    #[error(
        "git {what} did not finish within {after:?} and was killed with its helpers; check that the repository answers, or raise --git-timeout"
    )]
    #[strum(serialize = "GitTimedOut")]
    TimedOut { what: String, after: Duration },
    #[error("cannot prepare {path}: {source}")]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl GitError {
    /// A stable name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        self.into()
    }
}

impl GitSource {
    /// Checks the URL and the branch; nothing runs.
    pub fn new(
        url: &str,
        branch: &str,
        interval: Duration,
        timeout: Duration,
    ) -> Result<GitSource, GitError> {
        let url = RepoUrl::parse(url).map_err(|b| GitError::InvalidUrl {
            shown: b.shown,
            why: b.why,
        })?;
        check_branch(branch).map_err(|why| GitError::InvalidBranch {
            branch: branch.to_string(),
            why,
        })?;
        Ok(GitSource {
            url,
            branch: branch.to_string(),
            interval,
            timeout,
        })
    }

    /// The URL (its Display is redacted).
    pub fn url(&self) -> &RepoUrl {
        &self.url
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// Clones into the checkout directory under `state_dir` if needed, then
    /// moves it to the branch's newest commit. Returns that commit.
    pub async fn update(&self, state_dir: &Path) -> Result<String, GitError> {
        let dir = Self::checkout_dir(state_dir);
        let home = state_dir.join("git-home");
        crate::files::private_dir(&home).map_err(|source| GitError::StateDir {
            path: home.clone(),
            source,
        })?;
        let git = Git {
            home,
            url: &self.url,
            timeout: self.timeout,
        };
        let head = format!("refs/heads/{}", self.branch);
        if dir.join(".git").exists() {
            clear_stale_locks(&dir.join(".git"));
            // The URL itself, not `origin`: --git may have changed since the clone.
            git.run(
                Some(&dir),
                &["fetch", "--quiet", "--", self.url.for_git(), &head],
            )
            .await?;
            git.run(
                Some(&dir),
                &["reset", "--quiet", "--hard", "FETCH_HEAD", "--"],
            )
            .await?;
        } else {
            // Clone beside it and rename: a clone killed halfway leaves no
            // broken checkout behind.
            let partial = dir.with_extension("partial");
            let state_err = |path: &Path| {
                let path = path.to_path_buf();
                move |source| GitError::StateDir { path, source }
            };
            if partial.exists() {
                std::fs::remove_dir_all(&partial).map_err(state_err(&partial))?;
            }
            let target = partial.display().to_string();
            let args = [
                "clone",
                "--quiet",
                "--branch",
                &self.branch,
                "--",
                self.url.for_git(),
                &target,
            ];
            git.run(None, &args).await?;
            std::fs::rename(&partial, &dir).map_err(state_err(&dir))?;
        }
        git.run(Some(&dir), &["rev-parse", "--verify", "HEAD^{commit}"])
            .await
    }

    /// The checkout's place under the state directory.
    pub fn checkout_dir(state_dir: &Path) -> PathBuf {
        state_dir.join("git")
    }
}

/// Removes the `*.lock` files a git killed halfway (timeout, shutdown)
/// leaves in the checkout, which would fail every later command. They are
/// all stale: only turnout, holding the host lock, runs git there, one
/// command at a time.
fn clear_stale_locks(git_dir: &Path) {
    let mut dirs = vec![(git_dir.to_path_buf(), 0)];
    while let Some((d, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let (path, is_dir) = (e.path(), e.file_type().is_ok_and(|t| t.is_dir()));
            let in_refs = depth > 0 || e.file_name() == "refs";
            if is_dir && in_refs && depth < 8 {
                dirs.push((path, depth + 1));
            } else if !is_dir && path.extension().is_some_and(|x| x == "lock") {
                tracing::info!(file = %path.display(), "removing a lock a killed git left behind");
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// A branch name as `git check-ref-format --branch` accepts it, and never
/// one that could be read as an option.
pub fn check_branch(b: &str) -> Result<(), &'static str> {
    if b.is_empty() || b.len() > 255 {
        return Err("a branch name has 1 to 255 bytes");
    }
    if b.starts_with('-') {
        return Err("a branch name cannot start with '-' (git would read it as an option)");
    }
    if b == "@" || b == "HEAD" || b.contains("@{") {
        return Err("`@`, `HEAD` and `@{` are not branch names");
    }
    if b.chars()
        .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
    {
        return Err("a branch name cannot hold spaces, control characters or any of ~^:?*[\\");
    }
    if b.contains("..")
        || b.contains("//")
        || b.starts_with('/')
        || b.ends_with('/')
        || b.ends_with('.')
    {
        return Err(
            "a branch name cannot hold `..` or `//`, start or end with '/', or end with '.'",
        );
    }
    if b.split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        return Err("no part of a branch name may start with '.' or end with `.lock`");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
