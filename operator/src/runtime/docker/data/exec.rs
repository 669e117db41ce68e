//! Starting and ending the commands of the data path: an exec in a running
//! container, or a one-off job container turnout makes (and removes) for a
//! service whose data it moves while the service is stopped.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{AttachContainerOptionsBuilder, CreateContainerOptionsBuilder};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::io::AsyncWrite;

use super::super::{DockerRuntime, about};
use crate::core::model::{LABEL_MANAGED_BY, LABEL_ROLE, MANAGED_BY};
use crate::runtime::RuntimeError;
use crate::runtime::stream::{ExecSpec, Job, STDERR_LIMIT};

pub(super) type Output = BoxStream<'static, Result<LogOutput, bollard::errors::Error>>;
pub(super) type Input = Pin<Box<dyn AsyncWrite + Send>>;
/// The sink's command (container, handle), where to write, the sink's
/// output, and how long it may sit idle.
pub(super) type SinkParts<'a> = (
    Option<(String, Handle)>,
    Pin<Box<dyn AsyncWrite + Send + 'a>>,
    Option<Output>,
    Option<Duration>,
);

pub(super) fn keep(into: &mut String, bytes: &[u8]) {
    let room = STDERR_LIMIT.saturating_sub(into.len());
    into.push_str(&String::from_utf8_lossy(&bytes[..bytes.len().min(room)]));
}

/// A started data command: an exec in a running container, or a job container.
pub(super) enum Handle {
    Exec(String),
    Job(String),
}

impl DockerRuntime {
    pub(super) async fn start(
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

    pub(super) async fn remove_job(&self, name: &str) -> Result<(), RuntimeError> {
        // force: a job that outlived its stream is ours to stop.
        self.remove_container(name, true).await
    }

    pub(super) async fn exit_code(
        &self,
        container: &str,
        handle: &Handle,
    ) -> Result<i64, RuntimeError> {
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

    /// Gives up on a started command: a job container is removed (it is
    /// turnout's); an exec ends when the engine closes its streams.
    pub(super) async fn abandon(&self, handle: &Handle) {
        if let Handle::Job(name) = handle {
            let _ = self.remove_job(name).await;
        }
    }
}
