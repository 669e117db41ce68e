//! The Docker engine through bollard.

use std::collections::HashMap;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, EventsOptionsBuilder,
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RenameContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::{
    ContainerConfig, ContainerRuntime, EXEC_OUTPUT_LIMIT, ExecOutput, RuntimeError, RuntimeEvent,
};
use crate::core::model::ObservedContainer;

pub mod address;
mod connect;
pub mod inspect;
mod observe;
mod ssh;
mod stats;
pub mod two;

pub use connect::CONNECT_TIMEOUT;

use address::EngineAddress;

/// A Docker engine, reached through bollard.
#[derive(Clone)]
pub struct DockerRuntime {
    docker: Docker,
    address: EngineAddress,
    version: String,
}

impl DockerRuntime {
    /// The engine this runtime acts on, for messages and status:
    /// `unix:///var/run/docker.sock (Docker 28.2.2)`.
    pub fn describe(&self) -> String {
        format!("{} (Docker {})", self.address, self.version)
    }

    pub fn address(&self) -> &EngineAddress {
        &self.address
    }
}

fn unavailable(e: BollardError) -> RuntimeError {
    RuntimeError::unavailable(e)
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

    /// Volumes and host paths as engine mounts.
    fn data_mounts(c: &ContainerConfig) -> Vec<Mount> {
        let volumes = Self::volume_mounts(&c.volumes);
        let binds = c.binds.iter().map(|b| Mount {
            target: Some(b.path.clone()),
            source: Some(b.host.clone()),
            typ: Some(MountType::BIND),
            read_only: Some(b.read_only),
            ..Default::default()
        });
        volumes.into_iter().chain(binds).collect()
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
        Ok(summaries.into_iter().map(observe::observed).collect())
    }

    async fn image_id(&self, image: &str) -> Result<Option<String>, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(i.id.unwrap_or_default())),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
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
        let mut mounts = DockerRuntime::data_mounts(c);
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

    async fn pause(&self, name: &str) -> Result<(), RuntimeError> {
        self.docker
            .pause_container(name)
            .await
            .map_err(|e| about(name, e))
    }

    async fn unpause(&self, name: &str) -> Result<(), RuntimeError> {
        self.docker
            .unpause_container(name)
            .await
            .map_err(|e| about(name, e))
    }

    async fn memory_usage(&self, name: &str) -> Result<Option<u64>, RuntimeError> {
        stats::memory_usage(&self.docker, name).await
    }

    async fn remove(&self, name: &str) -> Result<(), RuntimeError> {
        self.remove_container(name, false).await
    }

    async fn rename(&self, name: &str, to: &str) -> Result<(), RuntimeError> {
        let opts = RenameContainerOptionsBuilder::default().name(to).build();
        self.docker
            .rename_container(name, opts)
            .await
            .map_err(|e| about(name, e))
    }

    async fn inspect(&self, name: &str) -> Result<serde_json::Value, RuntimeError> {
        let found = self
            .docker
            .inspect_container(name, None)
            .await
            .map_err(|e| about(name, e))?;
        serde_json::to_value(found).map_err(|e| RuntimeError::container(name, e))
    }

    async fn log_tail(&self, name: &str, lines: usize) -> Result<String, RuntimeError> {
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker.logs(name, Some(opts));
        let mut out: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.try_next().await.map_err(|e| about(name, e))? {
            out.extend_from_slice(&chunk.into_bytes());
            if out.len() > super::LOG_TAIL_LIMIT {
                // The newest lines count: keep the end.
                out.drain(..out.len() - super::LOG_TAIL_LIMIT);
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
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
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            (
                "event".to_string(),
                super::LIFECYCLE_ACTIONS
                    .iter()
                    .map(|a| a.to_string())
                    .collect(),
            ),
        ]);
        let opts = EventsOptionsBuilder::default().filters(&filters).build();
        self.docker
            .events(Some(opts))
            .map(|e| {
                let e = e.map_err(unavailable)?;
                let actor = e.actor.unwrap_or_default();
                let mut attributes = actor.attributes.unwrap_or_default();
                Ok(RuntimeEvent {
                    container: attributes
                        .remove("name")
                        .unwrap_or_else(|| actor.id.unwrap_or_default()),
                    action: e.action.unwrap_or_default(),
                    plan: attributes.remove(crate::core::model::LABEL_PLAN),
                })
            })
            .boxed()
    }
}

mod data;
