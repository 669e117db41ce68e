//! [`DataExec`] for the Docker engine.

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use std::pin::Pin;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

use std::time::Duration;

use super::{DockerRuntime, about};
use crate::core::model::{LABEL_MANAGED_BY, LABEL_ROLE, MANAGED_BY};
use crate::runtime::RuntimeError;
use crate::runtime::stream::{
    Captured, DataExec, ExecSpec, Job, STDERR_LIMIT, Sink, Source, Streamed,
};
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{AttachContainerOptionsBuilder, CreateContainerOptionsBuilder};
use std::collections::HashMap;

type Output = BoxStream<'static, Result<LogOutput, bollard::errors::Error>>;
type Input = Pin<Box<dyn AsyncWrite + Send>>;
/// The sink's command (container, handle), where to write, the sink's
/// output, and how long it may sit idle.
type SinkParts<'a> = (
    Option<(String, Handle)>,
    Pin<Box<dyn AsyncWrite + Send + 'a>>,
    Option<Output>,
    Option<Duration>,
);

fn keep(into: &mut String, bytes: &[u8]) {
    let room = STDERR_LIMIT.saturating_sub(into.len());
    into.push_str(&String::from_utf8_lossy(&bytes[..bytes.len().min(room)]));
}

/// A started data command: an exec in a running container, or a job container.
enum Handle {
    Exec(String),
    Job(String),
}

impl DockerRuntime {
    async fn start(
        &self,
        spec: &ExecSpec,
        stdin: bool,
    ) -> Result<(Handle, Output, Option<Input>), RuntimeError> {
        let env: Vec<String> = spec
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", v.expose()))
            .collect();
        if let Some(job) = &spec.job {
            return self.start_job(spec, job, env, stdin).await;
        }
        let exec = self
            .docker
            .create_exec(
                &spec.container,
                CreateExecOptions {
                    cmd: Some(spec.argv.clone()),
                    env: Some(env),
                    attach_stdin: Some(stdin),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| about(&spec.container, e))?;
        match self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| about(&spec.container, e))?
        {
            StartExecResults::Attached { output, input } => {
                Ok((Handle::Exec(exec.id), output, stdin.then_some(input)))
            }
            StartExecResults::Detached => Err(RuntimeError::container(
                &spec.container,
                "exec started detached",
            )),
        }
    }

    async fn start_job(
        &self,
        spec: &ExecSpec,
        job: &Job,
        env: Vec<String>,
        stdin: bool,
    ) -> Result<(Handle, Output, Option<Input>), RuntimeError> {
        let name = spec.container.as_str();
        let labels = HashMap::from([
            (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
            (LABEL_ROLE.to_string(), "job".to_string()),
        ]);
        let mounts = DockerRuntime::volume_mounts(&job.volumes);
        let body = ContainerCreateBody {
            image: Some(job.image.clone()),
            cmd: Some(spec.argv.clone()),
            env: Some(env),
            labels: Some(labels),
            attach_stdin: Some(stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            open_stdin: Some(stdin),
            stdin_once: Some(stdin),
            host_config: Some(HostConfig {
                mounts: Some(mounts),
                network_mode: Some("none".to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default().name(name).build();
        self.docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| about(name, e))?;
        let attach = AttachContainerOptionsBuilder::default()
            .stream(true)
            .stdin(stdin)
            .stdout(true)
            .stderr(true)
            .build();
        let attached = match self.docker.attach_container(name, Some(attach)).await {
            Ok(a) => a,
            Err(e) => {
                let _ = self.remove_job(name).await;
                return Err(about(name, e));
            }
        };
        if let Err(e) = self.docker.start_container(name, None).await {
            let _ = self.remove_job(name).await;
            return Err(about(name, e));
        }
        Ok((
            Handle::Job(name.to_string()),
            attached.output,
            stdin.then_some(attached.input),
        ))
    }

    async fn remove_job(&self, name: &str) -> Result<(), RuntimeError> {
        // force: a job that outlived its stream is ours to stop.
        self.remove_container(name, true).await
    }

    async fn exit_code(&self, container: &str, handle: &Handle) -> Result<i64, RuntimeError> {
        let id = match handle {
            Handle::Exec(id) => id,
            Handle::Job(name) => {
                let mut wait = self.docker.wait_container(name, None);
                let code = match wait.next().await {
                    Some(Ok(r)) => r.status_code,
                    // bollard reports a non-zero exit as an error carrying the code.
                    Some(Err(BollardError::DockerContainerWaitError { code, .. })) => code,
                    Some(Err(e)) => {
                        let _ = self.remove_job(name).await;
                        return Err(about(name, e));
                    }
                    None => -1,
                };
                self.remove_job(name).await?;
                return Ok(code);
            }
        };
        // The output stream ending does not always mean the process is reaped.
        for _ in 0..100 {
            let i = self
                .docker
                .inspect_exec(id)
                .await
                .map_err(|e| about(container, e))?;
            if i.running != Some(true) {
                return Ok(i.exit_code.unwrap_or(-1));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Err(RuntimeError::container(
            container,
            "exec still running after its output ended",
        ))
    }
}

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

/// What the pump moved: bytes, the source command (if any) and its stderr.
type Pumped = (u64, Option<(String, Handle)>, String);

impl DockerRuntime {
    /// Runs `spec` with `input` on its stdin (then EOF), keeping `limit` bytes of stdout.
    async fn capture_unbounded(
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
    async fn pump(
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

    /// Gives up on a started command: a job container is removed (it is
    /// turnout's); an exec ends when the engine closes its streams.
    async fn abandon(&self, handle: &Handle) {
        if let Handle::Job(name) = handle {
            let _ = self.remove_job(name).await;
        }
    }
}

/// Drains a sink's output, keeping the start of its stderr.
async fn drain(container: String, output: Option<Output>) -> Result<String, RuntimeError> {
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

impl DataExec for DockerRuntime {
    async fn labels(
        &self,
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
        // The sink first, so the source never writes into nothing.
        let (sink_exec, mut writer, sink_output, sink_idle): SinkParts<'_> = match to {
            Sink::Exec(spec) => {
                let (id, out, input) = self.start(spec, true).await?;
                let Some(input) = input else {
                    self.abandon(&id).await;
                    return Err(RuntimeError::container(
                        &spec.container,
                        "no stdin attached",
                    ));
                };
                (
                    Some((spec.container.clone(), id)),
                    input,
                    Some(out),
                    spec.timeout,
                )
            }
            Sink::Writer(w) => (None, w, None, None),
        };
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
            let pumping = async {
                let r = self.pump(from, &mut writer, sink_idle, on_bytes).await;
                // EOF for the sink's stdin, whatever happened to the source:
                // a sink left waiting for more input would never end.
                let closed = within(
                    sink_idle,
                    &sink_container,
                    "the target did not take the end of its input",
                    async {
                        writer.shutdown().await.map_err(|e| {
                            RuntimeError::container("-", format!("closing the stream: {e}"))
                        })
                    },
                )
                .await;
                r.and_then(|p| closed.map(|()| p))
            };
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
                let finish = sink_idle.unwrap_or(FINISH_WITHOUT_TIMEOUT);
                within(
                    Some(finish),
                    &sink_container,
                    "the target did not finish",
                    &mut draining,
                )
                .await
            }
        };
        let fail = |e: RuntimeError| async {
            if let Some((_, h)) = &sink_exec {
                self.abandon(h).await;
            }
            e
        };
        let (total, source_exec, source_err) = match pumped {
            Ok(p) => p,
            Err(e) => return Err(fail(e).await),
        };
        let sink_err = match drained {
            Ok(s) => s,
            Err(e) => {
                if let Some((_, h)) = &source_exec {
                    self.abandon(h).await;
                }
                return Err(fail(e).await);
            }
        };
        let mut report = Streamed {
            bytes: total,
            source_stderr: source_err,
            sink_stderr: sink_err,
            ..Default::default()
        };
        if let Some((c, id)) = source_exec {
            report.source_exit = Some(self.exit_code(&c, &id).await?);
        }
        if let Some((c, id)) = sink_exec {
            report.sink_exit = Some(self.exit_code(&c, &id).await?);
        }
        Ok(report)
    }
}
