//! An in-memory container runtime for pipeline tests: it records every call
//! so tests can assert what the reconcile did (and did not) do.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use super::{ContainerConfig, ContainerRuntime, ExecOutput, RuntimeError, RuntimeEvent};
use crate::core::model::{Mount, ObservedContainer, ObservedPort, RunState};

/// One call made to the runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    List,
    ImageId(String),
    Pull(String),
    Create(String),
    Start(String),
    Stop(String, u32),
    Pause(String),
    Unpause(String),
    Remove(String),
    Rename(String, String),
    Inspect(String),
    Logs(String),
    Exec(String, Vec<String>),
}

impl Call {
    pub fn is_mutating(&self) -> bool {
        matches!(
            self,
            Call::Create(_)
                | Call::Start(_)
                | Call::Stop(..)
                | Call::Pause(_)
                | Call::Unpause(_)
                | Call::Remove(_)
                | Call::Rename(..)
        )
    }
}

/// What [`MemoryRuntime::memory_usage`] reports for a container that is up.
pub const MEMORY_OF_A_CONTAINER: u64 = 8 << 20;

#[derive(Default)]
struct State {
    containers: BTreeMap<String, ObservedContainer>,
    configs: BTreeMap<String, ContainerConfig>,
    images: BTreeSet<String>,
    /// Images a pull would fetch (the registry).
    pullable: BTreeSet<String>,
    calls: Vec<Call>,
    next_id: u64,
    /// Exit code of exec probes per container (default 0).
    exec_exit: BTreeMap<String, i64>,
    /// What each container "wrote", and how it last exited.
    logs: BTreeMap<String, String>,
    exit_codes: BTreeMap<String, i64>,
    down: bool,
}

/// Containers, images and calls, all in memory.
pub struct MemoryRuntime {
    state: Mutex<State>,
    events: broadcast::Sender<RuntimeEvent>,
}

impl Default for MemoryRuntime {
    fn default() -> Self {
        MemoryRuntime {
            state: Mutex::new(State::default()),
            events: broadcast::channel(256).0,
        }
    }
}

impl MemoryRuntime {
    pub fn new() -> MemoryRuntime {
        MemoryRuntime::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    fn emit(&self, container: &str, action: &str) {
        let plan = self.with(|s| {
            s.containers
                .get(container)
                .and_then(|c| c.labels.get(crate::core::model::LABEL_PLAN).cloned())
        });
        let _ = self.events.send(RuntimeEvent {
            container: container.to_string(),
            action: action.to_string(),
            plan,
        });
    }

    /// Makes `image` available from the "registry": a pull fetches it.
    pub fn add_pullable(&self, image: &str) {
        self.with(|s| s.pullable.insert(image.to_string()));
    }

    pub fn add_image(&self, image: &str) {
        self.with(|s| s.images.insert(image.to_string()));
    }

    /// Puts a container on the "host" as if someone else had made it.
    pub fn add_container(&self, c: ObservedContainer) {
        self.with(|s| s.containers.insert(c.name.clone(), c));
    }

    /// Changes a container's state as if done by hand (drift).
    pub fn set_state(&self, name: &str, state: RunState) {
        self.with(|s| {
            if let Some(c) = s.containers.get_mut(name) {
                c.state = state;
            }
        });
        self.emit(
            name,
            if state == RunState::Running {
                "start"
            } else {
                "die"
            },
        );
    }

    /// Removes a container as if done by hand.
    pub fn delete(&self, name: &str) {
        self.with(|s| s.containers.remove(name));
        self.emit(name, "destroy");
    }

    /// The container `name` stops as if its process exited with `code`,
    /// having written `log`.
    pub fn crash(&self, name: &str, code: i64, log: &str) {
        self.with(|s| {
            s.exit_codes.insert(name.to_string(), code);
            s.logs.insert(name.to_string(), log.to_string());
        });
        self.set_state(name, RunState::Stopped);
    }

    pub fn set_exec_exit(&self, name: &str, code: i64) {
        self.with(|s| s.exec_exit.insert(name.to_string(), code));
    }

    /// Makes every call fail as if the engine were away.
    pub fn set_down(&self, down: bool) {
        self.with(|s| s.down = down);
    }

    pub fn containers(&self) -> Vec<ObservedContainer> {
        self.with(|s| s.containers.values().cloned().collect())
    }

    pub fn config(&self, name: &str) -> Option<ContainerConfig> {
        self.with(|s| s.configs.get(name).cloned())
    }

    pub fn running(&self) -> BTreeSet<String> {
        self.with(|s| {
            s.containers
                .values()
                .filter(|c| c.state == RunState::Running)
                .map(|c| c.name.clone())
                .collect()
        })
    }

    /// Every call so far, and forget them.
    pub fn take_calls(&self) -> Vec<Call> {
        self.with(|s| std::mem::take(&mut s.calls))
    }

    fn call(&self, call: Call) -> Result<(), RuntimeError> {
        self.with(|s| {
            s.calls.push(call);
            if s.down {
                Err(RuntimeError::unavailable("memory runtime is down"))
            } else {
                Ok(())
            }
        })
    }

    /// Pause or unpause: the container must be in `from`, as the engine
    /// refuses to pause a stopped container or unpause a running one.
    fn thaw_or_freeze(&self, name: &str, from: RunState, to: RunState) -> Result<(), RuntimeError> {
        let mut state = None;
        self.change(name, |c| {
            state = Some(c.state);
            if c.state == from {
                c.state = to;
            }
        })?;
        match state {
            Some(s) if s == from => Ok(()),
            _ => Err(RuntimeError::container(
                name,
                format!("container is not {} (HTTP 409)", from.as_str()),
            )),
        }
    }

    fn change(
        &self,
        name: &str,
        f: impl FnOnce(&mut ObservedContainer),
    ) -> Result<(), RuntimeError> {
        self.with(|s| match s.containers.get_mut(name) {
            Some(c) => {
                f(c);
                Ok(())
            }
            None => Err(RuntimeError::container(
                name,
                "No such container (HTTP 404)",
            )),
        })
    }
}

/// The id the memory engine gives an image.
fn image_id(image: &str) -> String {
    format!("mem:{image}")
}

/// The data mounts of a container created from `c`.
fn mounts_of(c: &ContainerConfig) -> Vec<Mount> {
    let volumes = c.volumes.iter().map(|v| Mount::Volume {
        name: v.name.clone(),
        path: v.path.clone(),
    });
    let binds = c.binds.iter().map(|b| Mount::Bind {
        host: b.host.clone(),
        path: b.path.clone(),
    });
    volumes.chain(binds).collect()
}

impl ContainerRuntime for MemoryRuntime {
    async fn list(&self) -> Result<Vec<ObservedContainer>, RuntimeError> {
        self.call(Call::List)?;
        Ok(self.containers())
    }

    async fn image_id(&self, image: &str) -> Result<Option<String>, RuntimeError> {
        self.call(Call::ImageId(image.to_string()))?;
        Ok(self.with(|s| s.images.contains(image).then(|| image_id(image))))
    }

    async fn pull(&self, image: &str) -> Result<(), RuntimeError> {
        self.call(Call::Pull(image.to_string()))?;
        self.with(|s| {
            if s.pullable.contains(image) {
                s.images.insert(image.to_string());
                Ok(())
            } else {
                Err(RuntimeError::container(
                    image,
                    "pull access denied: repository does not exist (HTTP 404)",
                ))
            }
        })
    }

    async fn create(&self, c: &ContainerConfig) -> Result<(), RuntimeError> {
        self.call(Call::Create(c.name.clone()))?;
        self.with(|s| {
            if s.containers.contains_key(&c.name) {
                return Err(RuntimeError::container(
                    &c.name,
                    "name already in use (HTTP 409)",
                ));
            }
            if !s.images.contains(&c.image) {
                return Err(RuntimeError::container(
                    &c.name,
                    format!("No such image: {} (HTTP 404)", c.image),
                ));
            }
            s.next_id += 1;
            s.containers.insert(
                c.name.clone(),
                ObservedContainer {
                    id: format!("mem{:06}", s.next_id),
                    name: c.name.clone(),
                    image: c.image.clone(),
                    labels: c.labels.clone(),
                    state: RunState::Stopped,
                    ports: Vec::new(),
                    image_id: Some(image_id(&c.image)),
                    mounts: mounts_of(c),
                },
            );
            s.configs.insert(c.name.clone(), c.clone());
            Ok(())
        })?;
        self.emit(&c.name, "create");
        Ok(())
    }

    async fn start(&self, name: &str) -> Result<(), RuntimeError> {
        self.call(Call::Start(name.to_string()))?;
        let ports: Vec<ObservedPort> = self.with(|s| {
            s.configs
                .get(name)
                .map(|c| {
                    c.ports
                        .iter()
                        .map(|p| ObservedPort {
                            host_ip: p.bind_address.map(|b| b.0),
                            host_port: p.host.get(),
                            container_port: p.container.get(),
                            protocol: p.protocol,
                        })
                        .collect()
                })
                .unwrap_or_default()
        });
        self.change(name, |c| {
            c.state = RunState::Running;
            if c.ports.is_empty() {
                c.ports = ports;
            }
        })?;
        self.emit(name, "start");
        Ok(())
    }

    async fn stop(&self, name: &str, timeout_seconds: u32) -> Result<(), RuntimeError> {
        self.call(Call::Stop(name.to_string(), timeout_seconds))?;
        self.change(name, |c| c.state = RunState::Stopped)?;
        self.emit(name, "die");
        Ok(())
    }

    async fn pause(&self, name: &str) -> Result<(), RuntimeError> {
        self.call(Call::Pause(name.to_string()))?;
        self.thaw_or_freeze(name, RunState::Running, RunState::Paused)?;
        self.emit(name, "pause");
        Ok(())
    }

    async fn unpause(&self, name: &str) -> Result<(), RuntimeError> {
        self.call(Call::Unpause(name.to_string()))?;
        self.thaw_or_freeze(name, RunState::Paused, RunState::Running)?;
        self.emit(name, "unpause");
        Ok(())
    }

    async fn memory_usage(&self, name: &str) -> Result<Option<u64>, RuntimeError> {
        let up = self.with(|s| s.containers.get(name).map(|c| c.state.is_up()));
        match up {
            None => Err(RuntimeError::container(
                name,
                "no such container (HTTP 404)",
            )),
            Some(up) => Ok(up.then_some(MEMORY_OF_A_CONTAINER)),
        }
    }

    async fn remove(&self, name: &str) -> Result<(), RuntimeError> {
        self.call(Call::Remove(name.to_string()))?;
        let running = self.with(|s| {
            s.containers
                .get(name)
                .is_some_and(|c| c.state != RunState::Stopped)
        });
        if running {
            return Err(RuntimeError::container(
                name,
                "cannot remove a running container (HTTP 409)",
            ));
        }
        self.with(|s| {
            s.containers.remove(name);
            s.configs.remove(name);
        });
        self.emit(name, "destroy");
        Ok(())
    }

    async fn rename(&self, name: &str, to: &str) -> Result<(), RuntimeError> {
        self.call(Call::Rename(name.to_string(), to.to_string()))?;
        self.with(|s| {
            if s.containers.contains_key(to) {
                return Err(RuntimeError::container(
                    name,
                    format!("the name {to} is already in use (HTTP 409)"),
                ));
            }
            let mut c = s
                .containers
                .remove(name)
                .ok_or_else(|| RuntimeError::container(name, "No such container (HTTP 404)"))?;
            c.name = to.to_string();
            s.containers.insert(to.to_string(), c);
            if let Some(mut config) = s.configs.remove(name) {
                config.name = to.to_string();
                s.configs.insert(to.to_string(), config);
            }
            Ok(())
        })?;
        self.emit(to, "rename");
        Ok(())
    }

    async fn inspect(&self, name: &str) -> Result<serde_json::Value, RuntimeError> {
        self.call(Call::Inspect(name.to_string()))?;
        self.with(|s| match s.containers.get(name) {
            Some(c) => Ok(serde_json::json!({
                "Id": c.id,
                "Name": format!("/{}", c.name),
                "Config": {"Image": c.image, "Labels": c.labels,
                    "Env": s.configs.get(name).map(|k| {
                        k.env.iter().map(|(a, b)| format!("{a}={b}")).collect::<Vec<_>>()
                    })},
                "State": {"Running": c.state == RunState::Running,
                    "Status": match c.state {
                        RunState::Stopped => "exited",
                        other => other.as_str(),
                    },
                    "ExitCode": s.exit_codes.get(name).copied().unwrap_or(0)},
            })),
            None => Err(RuntimeError::container(
                name,
                "No such container (HTTP 404)",
            )),
        })
    }

    async fn log_tail(&self, name: &str, _lines: usize) -> Result<String, RuntimeError> {
        self.call(Call::Logs(name.to_string()))?;
        Ok(self.with(|s| s.logs.get(name).cloned().unwrap_or_default()))
    }

    async fn exec(&self, name: &str, argv: &[String]) -> Result<ExecOutput, RuntimeError> {
        self.call(Call::Exec(name.to_string(), argv.to_vec()))?;
        let code = self.with(|s| s.exec_exit.get(name).copied().unwrap_or(0));
        Ok(ExecOutput {
            exit_code: code,
            output: Vec::new(),
        })
    }

    fn events(&self) -> BoxStream<'static, Result<RuntimeEvent, RuntimeError>> {
        BroadcastStream::new(self.events.subscribe())
            .filter_map(|e| async move { e.ok().map(Ok) })
            .boxed()
    }
}

/// The in-memory engine runs no commands inside containers: a data sync
/// against it fails, naming the container, like one against a container
/// without the tools would.
impl crate::runtime::stream::DataExec for MemoryRuntime {
    async fn capture(
        &self,
        spec: &crate::runtime::stream::ExecSpec,
        _input: Option<&[u8]>,
        _limit: usize,
    ) -> Result<crate::runtime::stream::Captured, RuntimeError> {
        Err(RuntimeError::container(
            &spec.container,
            "the in-memory runtime runs no commands",
        ))
    }

    async fn labels(
        &self,
        _side: crate::runtime::stream::Side,
        name: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, RuntimeError> {
        Ok(self.with(|s| s.containers.get(name).map(|c| c.labels.clone())))
    }

    async fn stream(
        &self,
        from: crate::runtime::stream::Source<'_>,
        to: crate::runtime::stream::Sink<'_>,
        _on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<crate::runtime::stream::Streamed, RuntimeError> {
        use crate::runtime::stream::{Sink, Source};
        let container = match (&from, &to) {
            (Source::Exec(spec), _) | (_, Sink::Exec(spec)) => spec.container.clone(),
            _ => "(none)".to_string(),
        };
        Err(RuntimeError::container(
            &container,
            "the in-memory runtime runs no commands",
        ))
    }
}

/// The memory runtime is one engine: a source on another one is refused
/// (a copy whose source is on the same engine needs no second one).
impl crate::runtime::stream::ReachOut for MemoryRuntime {
    type Both = MemoryRuntime;

    fn identity(&self) -> Option<String> {
        None
    }

    async fn with_source(
        &self,
        source: crate::runtime::docker::address::EngineAddress,
    ) -> Result<MemoryRuntime, RuntimeError> {
        Err(RuntimeError::unavailable(format!(
            "the in-memory runtime reaches no other engine ({source})"
        )))
    }
}
