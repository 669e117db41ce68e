//! Following the repository from standalone mode: the first clone, retried
//! while turnout serves its endpoints, then a pull on every interval or
//! signed webhook, announcing each new commit.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{Notify, mpsc};
use tracing::{info, warn};

use super::GitSource;

/// Says at startup whether `POST /hooks/git` can pull.
pub fn log_webhook(enabled: bool, git: &GitSource) {
    if enabled {
        info!("POST /hooks/git pulls at once when signed with the webhook secret");
    } else {
        warn!(
            interval = ?git.interval,
            "POST /hooks/git is disabled: no --webhook-secret-file; pulling on the interval only"
        );
    }
}

/// Clones the repository, retrying on the interval (or when `pull_now` is
/// notified) until it works. `None` when `stop` resolves first.
pub async fn first_checkout(
    git: &GitSource,
    state_dir: &Path,
    pull_now: &Notify,
    stop: impl Future<Output = ()>,
) -> Option<String> {
    let mut stop = std::pin::pin!(stop);
    loop {
        let attempt = tokio::select! {
            r = git.update(state_dir) => r,
            () = &mut stop => return None,
        };
        match attempt {
            Ok(commit) => return Some(commit),
            Err(e) => warn!(
                reason = e.reason(),
                error = %e,
                retry_in = ?git.interval,
                "cannot clone the git repository; retrying"
            ),
        }
        tokio::select! {
            () = tokio::time::sleep(git.interval) => {}
            () = pull_now.notified() => info!("webhook: retrying the clone now"),
            () = &mut stop => return None,
        }
    }
}

/// Pulls on the interval, or at once when `pull_now` is notified, and sends
/// `make(commit)` on `changed` whenever the commit differs from the last one
/// (`first`, the checkout's commit, to begin with). Ends when `changed` closes.
pub fn spawn<T: Send + 'static>(
    git: GitSource,
    state_dir: PathBuf,
    pull_now: Arc<Notify>,
    first: String,
    changed: mpsc::Sender<T>,
    make: fn(String) -> T,
) {
    tokio::spawn(async move {
        let mut last = first;
        loop {
            tokio::select! {
                () = tokio::time::sleep(git.interval) => {}
                () = pull_now.notified() => info!("webhook: pulling now"),
            }
            match git.update(&state_dir).await {
                Ok(commit) => {
                    if commit != last {
                        info!(commit = %commit, "new commit");
                        last = commit.clone();
                        if changed.send(make(commit)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => warn!(
                    reason = e.reason(),
                    error = %e,
                    "cannot update the git checkout; keeping the last one"
                ),
            }
        }
    });
}
