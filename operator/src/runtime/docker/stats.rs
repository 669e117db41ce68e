//! One reading of a container's resource use (`docker stats --no-stream`):
//! what `turnout plan` says a paused standby version costs.

use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::StatsOptionsBuilder;
use futures::StreamExt;

use crate::runtime::RuntimeError;

/// The engine samples for about a second before its first answer; more
/// than this is an engine in trouble.
const STATS_LIMIT: Duration = Duration::from_secs(10);

/// The memory `name` uses now, in bytes; None when it is not up.
pub(super) async fn memory_usage(docker: &Docker, name: &str) -> Result<Option<u64>, RuntimeError> {
    let opts = StatsOptionsBuilder::default()
        .stream(false)
        .one_shot(true)
        .build();
    let mut stream = docker.stats(name, Some(opts));
    let first = tokio::time::timeout(STATS_LIMIT, stream.next())
        .await
        .map_err(|_| RuntimeError::timed_out(name, "reading its memory use", STATS_LIMIT))?;
    match first {
        None => Ok(None),
        Some(Ok(s)) => Ok(s.memory_stats.and_then(|m| m.usage).filter(|u| *u > 0)),
        Some(Err(e)) => Err(super::about(name, e)),
    }
}
