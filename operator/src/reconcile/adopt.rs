//! Adopting a container made by hand, as one action that never leaves the
//! host half-changed: record the original's configuration, stop it, keep it
//! under another name, make turnout's container in its place on the same
//! data, and (when it should run) start it and wait for it. When any step
//! after the stop fails, the original is put back under its name and
//! started again if it ran. Nothing is ever deleted but turnout's own new
//! container; volumes are never touched.
//!
//! Whether a container may be adopted at all is decided before anything
//! changes ([`crate::core::adopt`], checked by the preflight).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::{Value, json};
use tracing::{info, warn};
use turnout_crds::plan::ContainerSpec;

use super::{ApplyError, Reconciler, Run, Target};
use crate::core::Blocker;
use crate::core::adopt::kept_name;
use crate::core::model::{Desired, DesiredContainer, ObservedContainer};
use crate::host::HostPorts;
use crate::probe;
use crate::runtime::{ContainerConfig, ContainerRuntime, RuntimeError};

/// Where adoptions are recorded, and the ones that failed (which wait for
/// a new spec rather than stopping a production container every retry).
pub(super) struct Adoptions {
    /// One `<container>.json` per adopted container: the original's configuration.
    dir: Option<PathBuf>,
    /// Container -> (generation key, why it failed).
    failed: Mutex<HashMap<String, (String, String)>>,
}

impl Adoptions {
    pub(super) fn new(dir: Option<PathBuf>) -> Adoptions {
        Adoptions {
            dir,
            failed: Mutex::new(HashMap::new()),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, String)>> {
        match self.failed.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Writes the original's configuration, with the values of variables
    /// that look secret left out (the kept original still holds them).
    fn record(&self, name: &str, original: &Value) -> std::io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        crate::files::private_dir(dir)?;
        let record = json!({
            "container": name,
            "keptAs": kept_name(name),
            "adoptedAt": jiff::Timestamp::now().to_string(),
            "original": redacted(original.clone(), &kept_name(name)),
        });
        let bytes = serde_json::to_vec_pretty(&record).map_err(std::io::Error::other)?;
        crate::files::replace_file(&dir.join(format!("{name}.json")), &bytes, 0o600)
    }
}

/// `inspect` output with the value of every `Config.Env` entry whose name
/// looks secret replaced by a note saying where the value still is.
fn redacted(mut inspect: Value, kept: &str) -> Value {
    if let Some(env) = inspect
        .pointer_mut("/Config/Env")
        .and_then(Value::as_array_mut)
    {
        for e in env.iter_mut() {
            let Some((k, _)) = e.as_str().and_then(|s| s.split_once('=')) else {
                continue;
            };
            if turnout_crds::names::looks_secret(k) {
                *e = Value::String(format!("{k}=<not recorded: still in container {kept}>"));
            }
        }
    }
    inspect
}

/// How far an adoption got, to know what putting the original back undoes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reached {
    Renamed,
    Created,
}

impl<R: ContainerRuntime, H: HostPorts> Reconciler<R, H> {
    /// A blocker for each adoption of this change that failed before for
    /// the same spec.
    pub(super) fn failed_adoptions(
        &self,
        target: &Target,
        desired: &Desired,
        observed: &[ObservedContainer],
    ) -> Vec<Blocker> {
        let key = target.generation_key();
        let failed = self.adoptions.failures();
        crate::core::preflight::adoptions(desired, observed)
            .into_iter()
            .filter_map(|name| match failed.get(name) {
                Some((k, message)) if *k == key => Some(Blocker::AdoptionFailed {
                    name: name.to_string(),
                    message: message.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// Adopts the container made by hand named `name` as `d`; `run_it` when
    /// it belongs to what should run.
    pub(super) async fn adopt(
        &self,
        target: &Target,
        d: &DesiredContainer,
        run_it: bool,
        run: &Run<'_>,
    ) -> Result<(), ApplyError> {
        let rt = self.runtime.as_ref();
        let name = d.name();
        let original = rt.inspect(name).await?;
        let was_running = original
            .pointer("/State/Running")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.adoptions
            .record(name, &original)
            .map_err(|e| ApplyError::Adoption {
                container: name.to_string(),
                message: format!(
                    "its configuration could not be recorded ({e}); nothing was changed"
                ),
            })?;
        if was_running {
            rt.stop(name, d.spec.stop_timeout_seconds()).await?;
        }
        let kept = kept_name(name);
        if let Err(e) = rt.rename(name, &kept).await {
            let back = self.restart_original(name, was_running).await;
            return Err(self.failed(target, name, e.to_string(), back));
        }
        let result = self.replace(target, d, run_it, run).await;
        match result {
            Ok(()) => {
                info!(container = name, kept = %kept, "adopted");
                Ok(())
            }
            Err((reached, why)) => {
                let stop_timeout = d.spec.stop_timeout_seconds();
                let back = self
                    .put_back(name, reached, was_running, stop_timeout)
                    .await;
                Err(self.failed(target, name, why, back))
            }
        }
    }

    /// Makes turnout's container in the original's place and, when it
    /// should run, starts it and waits for it.
    async fn replace(
        &self,
        target: &Target,
        d: &DesiredContainer,
        run_it: bool,
        run: &Run<'_>,
    ) -> Result<(), (Reached, String)> {
        let rt = self.runtime.as_ref();
        let resolver = crate::secrets::resolver_of(target);
        let files = self
            .secrets
            .write_for(&d.spec, &resolver)
            .map_err(|e| (Reached::Renamed, e.to_string()))?;
        rt.create(&ContainerConfig::of(d, files))
            .await
            .map_err(|e| (Reached::Renamed, e.to_string()))?;
        if !run_it {
            return Ok(());
        }
        rt.start(d.name())
            .await
            .map_err(|e| (Reached::Created, e.to_string()))?;
        probe::wait_ready(rt, &d.spec, &|| run.cancelled())
            .await
            .map_err(|why| {
                let why = match why {
                    probe::NotReady::TimedOut(s) => not_ready(&d.spec, s),
                    probe::NotReady::Exited(code) => format!(
                        "it exited (code {}) before it became ready",
                        code.map_or_else(|| "unknown".to_string(), |c| c.to_string())
                    ),
                    probe::NotReady::Cancelled => {
                        "turnout was shutting down before it became ready".to_string()
                    }
                };
                (Reached::Created, why)
            })
    }

    /// Undoes an adoption that reached `reached`: turnout's new container
    /// goes (it is turnout's own), the original gets its name back and runs
    /// again if it ran.
    async fn put_back(
        &self,
        name: &str,
        reached: Reached,
        was_running: bool,
        stop_timeout: u32,
    ) -> Result<(), RuntimeError> {
        let rt = self.runtime.as_ref();
        if reached == Reached::Created {
            rt.stop(name, stop_timeout).await?;
            rt.remove(name).await?;
        }
        rt.rename(&kept_name(name), name).await?;
        self.restart_original(name, was_running).await
    }

    async fn restart_original(&self, name: &str, was_running: bool) -> Result<(), RuntimeError> {
        if was_running {
            self.runtime.start(name).await?;
        }
        Ok(())
    }

    /// The error of a failed adoption, remembered for this spec.
    fn failed(
        &self,
        target: &Target,
        name: &str,
        why: String,
        back: Result<(), RuntimeError>,
    ) -> ApplyError {
        let message = match back {
            Ok(()) => format!("{why}; the original was put back as {name}, as it was"),
            Err(e) => {
                warn!(container = name, error = %e, "cannot put the original back");
                format!(
                    "{why}; putting the original back failed too ({e}). It is kept as {kept}: remove turnout's {name} if it exists (`docker rm {name}`), then `docker rename {kept} {name}` and start it",
                    kept = kept_name(name)
                )
            }
        };
        self.adoptions
            .failures()
            .insert(name.to_string(), (target.generation_key(), message.clone()));
        ApplyError::Adoption {
            container: name.to_string(),
            message,
        }
    }
}

fn not_ready(spec: &ContainerSpec, seconds: u32) -> String {
    format!(
        "turnout's container did not become ready within {seconds}s (see `docker logs {}` while it runs, and its readiness probe)",
        spec.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_keeps_no_secret_value() {
        let inspect = json!({"Config": {"Env": ["API_TOKEN=hunter2", "MODE=prod", "odd"]}});
        let r = redacted(inspect, "x.pre-turnout");
        let shown = r.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("MODE=prod"), "{shown}");
        assert!(shown.contains("API_TOKEN=<not recorded: still in container x.pre-turnout>"));
    }
}
