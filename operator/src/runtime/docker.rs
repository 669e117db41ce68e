//! The Docker engine through bollard.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerSummaryStateEnum, HostConfig, Mount, MountType, PortBinding,
    PortSummaryTypeEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, EventsOptionsBuilder,
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use turnout_crds::port::Protocol;

use super::{
    ContainerConfig, ContainerRuntime, EXEC_OUTPUT_LIMIT, ExecOutput, RuntimeError, RuntimeEvent,
};
use crate::core::model::{ObservedContainer, ObservedPort, RunState};

/// The local Docker engine.
#[derive(Clone)]
pub struct DockerRuntime {
    docker: Docker,
}

impl DockerRuntime {
    /// Connects to the engine named by `DOCKER_HOST`, or the local socket,
    /// and agrees on an API version both sides speak.
    pub async fn connect() -> Result<DockerRuntime, RuntimeError> {
        let docker = Docker::connect_with_local_defaults().map_err(unavailable)?;
        let docker = docker.negotiate_version().await.map_err(unavailable)?;
        docker.ping().await.map_err(unavailable)?;
        Ok(DockerRuntime { docker })
    }
}

fn unavailable(e: BollardError) -> RuntimeError {
    RuntimeError::Unavailable(e.to_string())
}

/// Errors about one container: a transport failure is the engine being away.
fn about(container: &str, e: BollardError) -> RuntimeError {
    match e {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => RuntimeError::container(container, format!("{message} (HTTP {status_code})")),
        other if is_transport(&other) => unavailable(other),
        other => RuntimeError::container(container, other),
    }
}

fn is_transport(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::IOError { .. }
            | BollardError::HyperResponseError { .. }
            | BollardError::RequestTimeoutError
    )
}

fn state_of(s: Option<ContainerSummaryStateEnum>) -> RunState {
    match s {
        Some(ContainerSummaryStateEnum::RUNNING) => RunState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => RunState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => RunState::Restarting,
        _ => RunState::Stopped,
    }
}

impl DockerRuntime {
    /// Removes a container (gone already is fine). `v(false)`: anonymous
    /// volumes stay too; turnout never deletes a volume.
    async fn remove_container(&self, name: &str, force: bool) -> Result<(), RuntimeError> {
        let opts = RemoveContainerOptionsBuilder::default()
            .v(false)
            .force(force)
            .build();
        match self.docker.remove_container(name, Some(opts)).await {
            Ok(())
            | Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(about(name, e)),
        }
    }

    /// Named volumes as engine mounts.
    fn volume_mounts(volumes: &[turnout_crds::plan::VolumeMount]) -> Vec<Mount> {
        volumes
            .iter()
            .map(|v| Mount {
                target: Some(v.path.clone()),
                source: Some(v.name.clone()),
                typ: Some(MountType::VOLUME),
                read_only: Some(v.read_only),
                ..Default::default()
            })
            .collect()
    }
}

impl ContainerRuntime for DockerRuntime {
    async fn list(&self) -> Result<Vec<ObservedContainer>, RuntimeError> {
        let opts = ListContainersOptionsBuilder::default().all(true).build();
        let summaries = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(unavailable)?;
        Ok(summaries
            .into_iter()
            .map(|s| ObservedContainer {
                id: s.id.unwrap_or_default(),
                name: s
                    .names
                    .unwrap_or_default()
                    .first()
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                image: s.image.unwrap_or_default(),
                labels: s.labels.unwrap_or_default().into_iter().collect(),
                state: state_of(s.state),
                ports: s
                    .ports
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| {
                        Some(ObservedPort {
                            host_ip: p.ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()),
                            host_port: p.public_port?,
                            container_port: p.private_port,
                            protocol: match p.typ {
                                Some(PortSummaryTypeEnum::UDP) => Protocol::Udp,
                                _ => Protocol::Tcp,
                            },
                        })
                    })
                    .collect(),
            })
            .collect())
    }

    async fn image_present(&self, image: &str) -> Result<bool, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(about(image, e)),
        }
    }

    async fn pull(&self, image: &str) -> Result<(), RuntimeError> {
        // An image without a tag means :latest to Docker; pull exactly that.
        let opts = CreateImageOptionsBuilder::default()
            .from_image(image)
            .build();
        let mut progress = self.docker.create_image(Some(opts), None, None);
        while let Some(step) = progress.next().await {
            step.map_err(|e| about(image, e))?;
        }
        Ok(())
    }

    async fn create(&self, c: &ContainerConfig) -> Result<(), RuntimeError> {
        let mut exposed = Vec::new();
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for p in &c.ports {
            let key = format!("{}/{}", p.container, p.protocol);
            if !exposed.contains(&key) {
                exposed.push(key.clone());
            }
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: p.bind_address.map(|b| b.to_string()),
                    host_port: Some(p.host.to_string()),
                });
        }
        let mut mounts = DockerRuntime::volume_mounts(&c.volumes);
        mounts.extend(c.secret_files.iter().map(|(host, path)| Mount {
            target: Some(path.clone()),
            source: Some(host.display().to_string()),
            typ: Some(MountType::BIND),
            read_only: Some(true),
            ..Default::default()
        }));
        let body = ContainerCreateBody {
            image: Some(c.image.clone()),
            cmd: (!c.command.is_empty()).then(|| c.command.clone()),
            env: Some(c.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(c.labels.clone().into_iter().collect()),
            exposed_ports: Some(exposed),
            stop_timeout: Some(i64::from(c.stop_timeout_seconds)),
            host_config: Some(HostConfig {
                port_bindings: Some(bindings),
                mounts: Some(mounts),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default()
            .name(&c.name)
            .build();
        self.docker
            .create_container(Some(opts), body)
            .await
            .map(|_| ())
            .map_err(|e| about(&c.name, e))
    }

    async fn start(&self, name: &str) -> Result<(), RuntimeError> {
        self.docker
            .start_container(name, None)
            .await
            .map_err(|e| about(name, e))
    }

    async fn stop(&self, name: &str, timeout_seconds: u32) -> Result<(), RuntimeError> {
        let t = i32::try_from(timeout_seconds).unwrap_or(i32::MAX);
        let opts = StopContainerOptionsBuilder::default().t(t).build();
        match self.docker.stop_container(name, Some(opts)).await {
            // 304: already stopped.
            Ok(())
            | Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(about(name, e)),
        }
    }

    async fn remove(&self, name: &str) -> Result<(), RuntimeError> {
        self.remove_container(name, false).await
    }

    async fn exec(&self, name: &str, argv: &[String]) -> Result<ExecOutput, RuntimeError> {
        let exec = self
            .docker
            .create_exec(
                name,
                CreateExecOptions {
                    cmd: Some(argv.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| about(name, e))?;
        let mut output = Vec::new();
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| about(name, e))?
        {
            while let Some(chunk) = stream.try_next().await.map_err(|e| about(name, e))? {
                let bytes = chunk.into_bytes();
                let room = EXEC_OUTPUT_LIMIT.saturating_sub(output.len());
                output.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
        }
        let inspect = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| about(name, e))?;
        Ok(ExecOutput {
            exit_code: inspect.exit_code.unwrap_or(-1),
            output,
        })
    }

    fn events(&self) -> BoxStream<'static, Result<RuntimeEvent, RuntimeError>> {
        let filters = HashMap::from([("type".to_string(), vec!["container".to_string()])]);
        let opts = EventsOptionsBuilder::default().filters(&filters).build();
        self.docker
            .events(Some(opts))
            .map(|e| {
                let e = e.map_err(unavailable)?;
                let actor = e.actor.unwrap_or_default();
                Ok(RuntimeEvent {
                    container: actor
                        .attributes
                        .unwrap_or_default()
                        .remove("name")
                        .unwrap_or_else(|| actor.id.unwrap_or_default()),
                    action: e.action.unwrap_or_default(),
                })
            })
            .boxed()
    }
}

mod data {
    //! [`DataExec`] for the Docker engine.

    use bollard::container::LogOutput;
    use bollard::exec::{CreateExecOptions, StartExecResults};
    use futures::stream::BoxStream;
    use futures::{StreamExt, TryStreamExt};
    use std::pin::Pin;
    use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

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
    /// The sink's command (container, handle), where to write, and the sink's output.
    type SinkParts<'a> = (
        Option<(String, Handle)>,
        Pin<Box<dyn AsyncWrite + Send + 'a>>,
        Option<Output>,
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

    impl DataExec for DockerRuntime {
        async fn capture(&self, spec: &ExecSpec, limit: usize) -> Result<Captured, RuntimeError> {
            let (id, mut out, _) = self.start(spec, false).await?;
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
            Ok(Captured {
                exit_code: self.exit_code(&spec.container, &id).await?,
                stdout,
                stderr,
                truncated,
            })
        }

        async fn stream(
            &self,
            from: Source<'_>,
            to: Sink<'_>,
            on_bytes: &(dyn Fn(u64) + Sync),
        ) -> Result<Streamed, RuntimeError> {
            let mut report = Streamed::default();
            // The sink first, so the source never writes into nothing.
            let (sink_exec, mut writer, sink_output): SinkParts<'_> = match to {
                Sink::Exec(spec) => {
                    let (id, out, input) = self.start(spec, true).await?;
                    let input = input.ok_or_else(|| {
                        RuntimeError::container(&spec.container, "no stdin attached")
                    })?;
                    (Some((spec.container.clone(), id)), input, Some(out))
                }
                Sink::Writer(w) => (None, w, None),
            };
            // Drain the sink's output concurrently so it never blocks on a full pipe.
            let sink_container = sink_exec
                .as_ref()
                .map(|(c, _)| c.clone())
                .unwrap_or_default();
            let drain = async move {
                let mut err = String::new();
                if let Some(mut out) = sink_output {
                    while let Some(chunk) = out.next().await {
                        match chunk {
                            Ok(LogOutput::StdErr { message }) => keep(&mut err, &message),
                            Ok(_) => {}
                            Err(e) => return Err(about(&sink_container, e)),
                        }
                    }
                }
                Ok(err)
            };
            let pump = async {
                let mut total = 0u64;
                let mut source_exec = None;
                let mut source_err = String::new();
                match from {
                    Source::Exec(spec) => {
                        let (id, mut out, _) = self.start(spec, false).await?;
                        source_exec = Some((spec.container.clone(), id));
                        while let Some(chunk) = out
                            .try_next()
                            .await
                            .map_err(|e| about(&spec.container, e))?
                        {
                            match chunk {
                                LogOutput::StdErr { message } => keep(&mut source_err, &message),
                                other => {
                                    let bytes = other.into_bytes();
                                    writer.write_all(&bytes).await.map_err(|e| {
                                        RuntimeError::container(
                                            &spec.container,
                                            format!("writing the stream: {e}"),
                                        )
                                    })?;
                                    total += bytes.len() as u64;
                                    on_bytes(total);
                                }
                            }
                        }
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
                            writer.write_all(&buf[..n]).await.map_err(|e| {
                                RuntimeError::container("-", format!("writing the stream: {e}"))
                            })?;
                            total += n as u64;
                            on_bytes(total);
                        }
                    }
                }
                // EOF for the sink's stdin.
                writer.shutdown().await.map_err(|e| {
                    RuntimeError::container("-", format!("closing the stream: {e}"))
                })?;
                Ok::<_, RuntimeError>((total, source_exec, source_err))
            };
            let (pumped, drained) = futures::join!(pump, drain);
            let (total, source_exec, source_err) = pumped?;
            report.bytes = total;
            report.source_stderr = source_err;
            report.sink_stderr = drained?;
            if let Some((c, id)) = source_exec {
                report.source_exit = Some(self.exit_code(&c, &id).await?);
            }
            if let Some((c, id)) = sink_exec {
                report.sink_exit = Some(self.exit_code(&c, &id).await?);
            }
            Ok(report)
        }
    }
}
