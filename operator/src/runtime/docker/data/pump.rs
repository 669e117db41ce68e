//! Moving bytes: a captured command's output (with its input fed at the
//! same time), a source's output into a sink, and a sink's own output
//! drained so it never blocks on a full pipe. Every wait is bounded by the
//! idle timeout of the command involved.

use std::pin::Pin;
use std::time::Duration;

use bollard::container::LogOutput;
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::super::{DockerRuntime, about};
use super::exec::{Handle, Output, keep};
use super::within;
use crate::runtime::RuntimeError;
use crate::runtime::stream::{Captured, ExecSpec, Source};

/// What the pump moved: bytes, the source command (if any) and its stderr.
pub(super) type Pumped = (u64, Option<(String, Handle)>, String);

impl DockerRuntime {
    /// Runs `spec` with `input` on its stdin (then EOF), keeping `limit` bytes of stdout.
    pub(super) async fn capture_unbounded(
        &self,
        spec: &ExecSpec,
        input: Option<&[u8]>,
        limit: usize,
    ) -> Result<Captured, RuntimeError> {
        let (id, mut out, stdin) = self.start(spec, input.is_some()).await?;
        // Input and output flow at once: a command that answers while it
        // reads must not block on a full pipe.
        let feed = async {
            if let (Some(mut w), Some(bytes)) = (stdin, input) {
                w.write_all(bytes).await?;
                w.shutdown().await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let read = async {
            let mut stdout = Vec::new();
            let mut stderr = String::new();
            let mut truncated = false;
            while let Some(chunk) = out
                .try_next()
                .await
                .map_err(|e| about(&spec.container, e))?
            {
                match chunk {
                    LogOutput::StdErr { message } => keep(&mut stderr, &message),
                    other => {
                        let bytes = other.into_bytes();
                        let room = limit.saturating_sub(stdout.len());
                        truncated |= bytes.len() > room;
                        stdout.extend_from_slice(&bytes[..bytes.len().min(room)]);
                    }
                }
            }
            Ok::<_, RuntimeError>((stdout, stderr, truncated))
        };
        let (fed, read) = futures::join!(feed, read);
        let (stdout, stderr, truncated) = read?;
        fed.map_err(|e| RuntimeError::container(&spec.container, format!("writing stdin: {e}")))?;
        Ok(Captured {
            exit_code: self.exit_code(&spec.container, &id).await?,
            stdout,
            stderr,
            truncated,
        })
    }

    /// Moves the source's bytes into `writer`, each read and write bounded
    /// by the idle timeout of the command involved.
    pub(super) async fn pump(
        &self,
        from: Source<'_>,
        writer: &mut Pin<Box<dyn AsyncWrite + Send + '_>>,
        sink_idle: Option<Duration>,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<Pumped, RuntimeError> {
        let mut total = 0u64;
        match from {
            Source::Exec(spec) => {
                let (id, mut out, _) = self.start(spec, false).await?;
                let source = (spec.container.clone(), id);
                let mut err = String::new();
                loop {
                    let next = within(
                        spec.timeout,
                        &spec.container,
                        "the source sent nothing",
                        async { out.try_next().await.map_err(|e| about(&spec.container, e)) },
                    )
                    .await;
                    let chunk = match next {
                        Ok(Some(chunk)) => chunk,
                        Ok(None) => break,
                        Err(e) => {
                            self.abandon(&source.1).await;
                            return Err(e);
                        }
                    };
                    match chunk {
                        LogOutput::StdErr { message } => keep(&mut err, &message),
                        other => {
                            let bytes = other.into_bytes();
                            let wrote = within(sink_idle, "-", "the target took nothing", async {
                                writer.write_all(&bytes).await.map_err(|e| {
                                    RuntimeError::container(
                                        &spec.container,
                                        format!("writing the stream: {e}"),
                                    )
                                })
                            })
                            .await;
                            if let Err(e) = wrote {
                                self.abandon(&source.1).await;
                                return Err(e);
                            }
                            total += bytes.len() as u64;
                            on_bytes(total);
                        }
                    }
                }
                Ok((total, Some(source), err))
            }
            Source::Reader(mut r) => {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = r.read(&mut buf).await.map_err(|e| {
                        RuntimeError::container("-", format!("reading the stream: {e}"))
                    })?;
                    if n == 0 {
                        break;
                    }
                    within(sink_idle, "-", "the target took nothing", async {
                        writer.write_all(&buf[..n]).await.map_err(|e| {
                            RuntimeError::container("-", format!("writing the stream: {e}"))
                        })
                    })
                    .await?;
                    total += n as u64;
                    on_bytes(total);
                }
                Ok((total, None, String::new()))
            }
        }
    }
}

/// Drains a sink's output, keeping the start of its stderr.
pub(super) async fn drain(
    container: String,
    output: Option<Output>,
) -> Result<String, RuntimeError> {
    let mut err = String::new();
    if let Some(mut out) = output {
        while let Some(chunk) = out.next().await {
            match chunk {
                Ok(LogOutput::StdErr { message }) => keep(&mut err, &message),
                Ok(_) => {}
                Err(e) => return Err(about(&container, e)),
            }
        }
    }
    Ok(err)
}
