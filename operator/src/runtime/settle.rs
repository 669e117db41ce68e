//! The engine's events, settled: the engine reports a container's `die`
//! before its list shows the container as exited (measured: a list made
//! right after the event still says `running`), so a reconcile woken by
//! the event would see nothing to do and leave a crashed container down.
//! Each `die` is passed on only once the engine agrees (or after
//! [`SETTLE_LIMIT`]), for both drivers. (`kill` comes before the process
//! is gone and `stop` after `die`: only `die` needs it.)

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;

use super::{ContainerRuntime, RuntimeError, RuntimeEvent};

/// The longest an event waits for the engine to agree.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(2);

/// How often the engine is asked meanwhile.
const POLL: Duration = Duration::from_millis(10);

/// Waits until the engine no longer reports `container` running, or the
/// limit passes (the container may also be gone, or started again).
async fn settle<R: ContainerRuntime>(runtime: &R, container: &str) {
    let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
    loop {
        let running = match runtime.inspect(container).await {
            Ok(v) => v
                .pointer("/State/Running")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            Err(_) => false,
        };
        if !running || tokio::time::Instant::now() + POLL > deadline {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `runtime`'s events, each `die`-like one held until the engine agrees.
pub fn settled_events<R: ContainerRuntime>(
    runtime: Arc<R>,
) -> BoxStream<'static, Result<RuntimeEvent, RuntimeError>> {
    runtime
        .events()
        .then(move |e| {
            let runtime = runtime.clone();
            async move {
                if let Ok(ev) = &e
                    && ev.action == "die"
                {
                    settle(runtime.as_ref(), &ev.container).await;
                }
                e
            }
        })
        .boxed()
}
