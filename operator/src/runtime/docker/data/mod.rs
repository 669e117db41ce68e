//! [`DataExec`] for the Docker engine: commands of the data path, captured
//! or streamed one into another, each bounded by its timeout. `exec.rs`
//! starts and ends them; `pump.rs` moves their bytes.

mod exec;
mod pump;

use std::pin::Pin;
use std::time::Duration;

use bollard::errors::Error as BollardError;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{DockerRuntime, about};
use crate::runtime::RuntimeError;
use crate::runtime::stream::{Captured, DataExec, ExecSpec, Side, Sink, Source, Streamed};
use exec::{Handle, SinkParts};
use pump::{Pumped, drain};

/// How long a sink may take to finish once its input ended, when its spec sets no timeout.
const FINISH_WITHOUT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// `work`, bounded by `limit` when there is one.
async fn within<T>(
    limit: Option<Duration>,
    container: &str,
    what: &str,
    work: impl std::future::Future<Output = Result<T, RuntimeError>>,
) -> Result<T, RuntimeError> {
    match limit {
        None => work.await,
        Some(t) => tokio::time::timeout(t, work)
            .await
            .unwrap_or_else(|_| Err(RuntimeError::timed_out(container, what, t))),
    }
}

impl DockerRuntime {
    /// Starts the sink (before the source, so the source never writes into
    /// nothing): a command with its stdin, or a writer.
    async fn open_sink<'a>(&self, to: Sink<'a>) -> Result<SinkParts<'a>, RuntimeError> {
        match to {
            Sink::Exec(spec) => {
                let (id, out, input) = self.start(spec, true).await?;
                let Some(input) = input else {
                    self.abandon(&id).await;
                    return Err(RuntimeError::container(
                        &spec.container,
                        "no stdin attached",
                    ));
                };
                Ok((
                    Some((spec.container.clone(), id)),
                    input,
                    Some(out),
                    spec.timeout,
                ))
            }
            Sink::Writer(w) => Ok((None, w, None, None)),
        }
    }

    /// Pumps the source (a command on this engine, or a reader) into
    /// `writer`, then ends the sink's input whatever happened to the
    /// source: a sink left waiting for more would never end.
    async fn pump_and_close(
        &self,
        from: Source<'_>,
        writer: &mut Pin<Box<dyn AsyncWrite + Send + '_>>,
        sink: (&str, Option<Duration>),
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<Pumped, RuntimeError> {
        let (container, idle) = sink;
        let r = self.pump(from, writer, idle, on_bytes).await;
        let what = "the target did not take the end of its input";
        let closed = within(idle, container, what, async {
            writer
                .shutdown()
                .await
                .map_err(|e| RuntimeError::container("-", format!("closing the stream: {e}")))
        })
        .await;
        r.and_then(|p| closed.map(|()| p))
    }
}

/// Reads how both commands ended (the source's on `source`, the sink's on
/// `target`); on an error, gives up on them.
async fn finish(
    (source, target): (&DockerRuntime, &DockerRuntime),
    pumped: Result<Pumped, RuntimeError>,
    drained: Result<String, RuntimeError>,
    sink_exec: Option<(String, Handle)>,
) -> Result<Streamed, RuntimeError> {
    let (bytes, source_exec, source_stderr, sink_stderr) = match (pumped, drained) {
        (Ok((total, exec, err)), Ok(sink_err)) => (total, exec, err, sink_err),
        (pumped, drained) => {
            if let Ok((_, Some((_, h)), _)) = &pumped {
                source.abandon(h).await;
            }
            if let Some((_, h)) = &sink_exec {
                target.abandon(h).await;
            }
            return Err(pumped
                .err()
                .or(drained.err())
                .unwrap_or_else(|| RuntimeError::container("-", "the stream failed")));
        }
    };
    let mut report = Streamed {
        bytes,
        source_stderr,
        sink_stderr,
        ..Default::default()
    };
    if let Some((c, id)) = source_exec {
        report.source_exit = Some(source.exit_code(&c, &id).await?);
    }
    if let Some((c, id)) = sink_exec {
        report.sink_exit = Some(target.exit_code(&c, &id).await?);
    }
    Ok(report)
}

impl DataExec for DockerRuntime {
    async fn labels(
        &self,
        _side: Side,
        name: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, RuntimeError> {
        match self.docker.inspect_container(name, None).await {
            Ok(c) => Ok(Some(
                c.config
                    .and_then(|c| c.labels)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            )),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(about(name, e)),
        }
    }

    async fn capture(
        &self,
        spec: &ExecSpec,
        input: Option<&[u8]>,
        limit: usize,
    ) -> Result<Captured, RuntimeError> {
        let r = within(
            spec.timeout,
            &spec.container,
            "the command did not finish",
            self.capture_unbounded(spec, input, limit),
        )
        .await;
        if r.is_err() && spec.job.is_some() {
            let _ = self.remove_job(&spec.container).await;
        }
        r
    }

    async fn stream(
        &self,
        from: Source<'_>,
        to: Sink<'_>,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<Streamed, RuntimeError> {
        stream_between((self, from), (self, to), on_bytes).await
    }
}

/// Streams `from`, a command on engine `source` (or a reader), into `to`,
/// a command on engine `target` (or a writer): the bytes pass through
/// turnout, so the two may be different hosts' engines.
pub(crate) async fn stream_between(
    (source, from): (&DockerRuntime, Source<'_>),
    (target, to): (&DockerRuntime, Sink<'_>),
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<Streamed, RuntimeError> {
    let (sink_exec, mut writer, sink_output, sink_idle) = target.open_sink(to).await?;
    let sink_container = sink_exec
        .as_ref()
        .map(|(c, _)| c.clone())
        .unwrap_or_default();
    // The sink's output is drained all along so it never blocks on a
    // full pipe; once its input has ended it has a bounded time to finish.
    let draining = drain(sink_container.clone(), sink_output);
    tokio::pin!(draining);
    let mut drained = None;
    let pumped = {
        let sink = (sink_container.as_str(), sink_idle);
        let pumping = source.pump_and_close(from, &mut writer, sink, on_bytes);
        tokio::pin!(pumping);
        loop {
            tokio::select! {
                r = &mut pumping => break r,
                d = &mut draining, if drained.is_none() => drained = Some(d),
            }
        }
    };
    let drained = match drained {
        Some(d) => d,
        None => {
            let finish_in = sink_idle.unwrap_or(FINISH_WITHOUT_TIMEOUT);
            let what = "the target did not finish";
            within(Some(finish_in), &sink_container, what, &mut draining).await
        }
    };
    finish((source, target), pumped, drained, sink_exec).await
}
