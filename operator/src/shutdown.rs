//! Shutdown: SIGTERM or SIGINT, the same for every driver. The action under
//! way finishes, no other starts; drivers hold a [`CancellationToken`] that
//! the signal cancels.

use tokio_util::sync::CancellationToken;
use tracing::info;

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// A token cancelled by the first SIGTERM or SIGINT.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("signal received: finishing the current action, then stopping");
        cancel.cancel();
    });
    token
}
