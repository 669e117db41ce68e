//! What wakes the standalone loop: edits of the file, engine events of the
//! host's plan, new git commits, the periodic resync and shutdown; and the
//! wait for the next one that concerns this host.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::core::target::Target;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::docker::address::EngineFlags;
use crate::runtime::{ContainerRuntime, RuntimeEvent};

/// Something that may call for a reconcile.
#[derive(Debug)]
pub enum Trigger {
    /// The file changed.
    File,
    /// The git follower checked out a new commit.
    Commit(String),
    Event(RuntimeEvent),
    /// The engine's event stream ended (it restarted, or went away).
    EngineLost,
    Tick,
    Shutdown,
}

/// Whether a trigger concerns the host's plan: engine events count only for
/// containers turnout runs for the plan or containers with a planned name
/// (a foreign one in the way, or gone); everything else always counts.
pub fn concerns(t: &Trigger, target: Option<&Target>) -> bool {
    match (t, target) {
        (Trigger::Event(e), Some(t)) => {
            e.plan.as_deref() == Some(t.plan_name.as_str()) || t.plans_container(&e.container)
        }
        _ => true,
    }
}

/// Waits up to `wait` for a trigger that concerns the host, then collects
/// what follows within a short settle time (a burst of events, an editor's
/// several writes). None when every sender is gone.
pub async fn next(
    rx: &mut mpsc::Receiver<Trigger>,
    wait: Duration,
    target: Option<&Target>,
) -> Option<Vec<Trigger>> {
    let deadline = tokio::time::Instant::now() + wait;
    let first = loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(t)) if concerns(&t, target) => break t,
            Ok(Some(_)) => continue,
            Ok(None) => return None,
            Err(_) => break Trigger::Tick,
        }
    };
    let settle = if matches!(first, Trigger::File | Trigger::Commit(_)) {
        200
    } else {
        20
    };
    let mut triggers = vec![first];
    let until = tokio::time::Instant::now() + Duration::from_millis(settle);
    while let Ok(Some(t)) = tokio::time::timeout_at(until, rx.recv()).await {
        triggers.push(t);
    }
    Some(triggers)
}

/// Sends a Tick every `every`.
pub fn spawn_ticker(every: Duration, tx: mpsc::Sender<Trigger>) {
    tokio::spawn(async move {
        let mut t = tokio::time::interval(every);
        t.tick().await;
        loop {
            t.tick().await;
            if tx.send(Trigger::Tick).await.is_err() {
                break;
            }
        }
    });
}

/// Sends Shutdown when `cancel` is cancelled (the loop wakes at once).
pub fn spawn_shutdown(cancel: CancellationToken, tx: mpsc::Sender<Trigger>) {
    tokio::spawn(async move {
        cancel.cancelled().await;
        let _ = tx.send(Trigger::Shutdown).await;
    });
}

/// Connects to the engine `engine` (`--engine`) names, else `DOCKER_HOST`,
/// waiting while it is away; an address that cannot be used is an error at
/// once (waiting would not change it).
pub async fn connect_until_up(
    engine: &EngineFlags,
    cancel: &CancellationToken,
) -> anyhow::Result<DockerRuntime> {
    let address = crate::runtime::docker::address::resolve_local(engine, "standalone")?;
    let mut delay = Duration::from_millis(250);
    loop {
        match DockerRuntime::connect_to(address.clone()).await {
            Ok(r) => return Ok(r),
            Err(e) if !cancel.is_cancelled() => {
                warn!(error = %e, "waiting for the Docker engine");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

pub fn spawn_events<R: ContainerRuntime>(runtime: Arc<R>, tx: mpsc::Sender<Trigger>) {
    tokio::spawn(async move {
        loop {
            let mut events = crate::runtime::settle::settled_events(runtime.clone());
            while let Some(e) = events.next().await {
                let Ok(e) = e else { break };
                if tx.send(Trigger::Event(e)).await.is_err() {
                    return;
                }
            }
            if tx.send(Trigger::EngineLost).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}
pub fn is_change(kind: &notify::EventKind) -> bool {
    matches!(
        kind,
        notify::EventKind::Create(_) | notify::EventKind::Modify(_) | notify::EventKind::Remove(_)
    ) && !matches!(
        kind,
        notify::EventKind::Modify(notify::event::ModifyKind::Metadata(_))
    )
}
pub fn watch_file(
    file: &Path,
    tx: mpsc::Sender<Trigger>,
) -> anyhow::Result<notify::RecommendedWatcher> {
    let abs = std::path::absolute(file)?;
    let dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = abs.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // Only changes count: turnout's own reads of the file raise access
        // events, which must not trigger another reload (a busy loop).
        if let Ok(ev) = res
            && is_change(&ev.kind)
            && ev
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_os_string()) == name)
        {
            let _ = tx.blocking_send(Trigger::File);
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use notify::EventKind;
    use notify::event::{
        AccessKind, CreateKind, DataChange, MetadataKind, ModifyKind, RemoveKind, RenameMode,
    };

    use super::is_change;

    #[test]
    fn reads_do_not_count_as_changes() {
        assert!(!is_change(&EventKind::Access(AccessKind::Any)));
        assert!(!is_change(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::AccessTime
        ))));
        assert!(is_change(&EventKind::Modify(ModifyKind::Data(
            DataChange::Any
        ))));
        assert!(is_change(&EventKind::Modify(ModifyKind::Name(
            RenameMode::To
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Remove(RemoveKind::File)));
    }
}
