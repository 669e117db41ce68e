//! What `turnout import` learns of a host built by hand: each container's
//! inspect, with its image's, turned into a [`Found`]. The conversion is
//! pure (bollard's models in, plain data out) and tested with literals;
//! [`DockerRuntime::inspect_for_import`] fetches the models and reads
//! nothing else and changes nothing.
//!
//! What the container sets is told from what its image sets (the engine
//! merges the two): only the container's own command and environment are
//! carried over. Whatever the plan cannot say becomes a sentence in
//! `unsupported` (see `settings`), never dropped in silence.

mod settings;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerConfig, ContainerInspectResponse, HostConfig, ImageConfig, ImageInspect, MountPoint,
    PortMap,
};
use bollard::query_parameters::ListContainersOptionsBuilder;

use super::{DockerRuntime, about, unavailable};
use crate::core::model::{LABEL_MANAGED_BY, MANAGED_BY};
use crate::import::{Found, FoundMount, FoundPort, clean, withhold_secret_args, withhold_secrets};
use crate::runtime::RuntimeError;

/// The container as `Found`; `image` is its image's inspect, None when the
/// image is gone (then the image's defaults cannot be told apart).
pub fn found_of(c: &ContainerInspectResponse, image: Option<&ImageInspect>) -> Found {
    let no_config = ContainerConfig::default();
    let config = c.config.as_ref().unwrap_or(&no_config);
    let no_host = HostConfig::default();
    let host = c.host_config.as_ref().unwrap_or(&no_host);
    let image_config = image.map(|i| i.config.clone().unwrap_or_default());
    let image_name = config.image.clone().or(c.image.clone()).unwrap_or_default();
    let mut unsupported = Vec::new();
    if image_config.is_none() {
        unsupported.push(format!(
            "the image's defaults: {} is not on the host any more, so the command and environment written here are the container's whole configuration, the image's own included; drop what the image sets itself",
            clean(&image_name)
        ));
    }
    let command = command_of(config, image_config.as_ref(), &mut unsupported);
    let command = without_secrets(&command, "command", &mut unsupported);
    let env = env_of(config, image_config.as_ref());
    let ports = ports_of(host.port_bindings.as_ref(), &mut unsupported);
    let mounts = mounts_of(
        c.mounts.as_deref().unwrap_or_default(),
        host,
        &mut unsupported,
    );
    let health = health_of(config, image_config.as_ref())
        .map(|h| without_secrets(&h, "health check", &mut unsupported));
    settings::of_host(host, &mut unsupported);
    settings::of_config(c, config, image_config.as_ref(), &mut unsupported);
    let managed = config
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_MANAGED_BY))
        .is_some_and(|v| v == MANAGED_BY);
    Found {
        name: c
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: image_name,
        command,
        env,
        ports,
        mounts,
        health,
        stop_timeout: config.stop_timeout.and_then(|t| u32::try_from(t).ok()),
        running: c.state.as_ref().and_then(|s| s.running).unwrap_or(false),
        unsupported,
        managed,
    }
}

/// `argv` with its secrets withheld, and a sentence saying so.
fn without_secrets(argv: &[String], what: &str, out: &mut Vec<String>) -> Vec<String> {
    let (argv, withheld) = withhold_secret_args(argv);
    if !withheld.is_empty() {
        out.push(format!(
            "the secret values in its {what} ({}), withheld here: hand them to the program through a file (a `secrets` entry) and edit the {what}",
            withheld.join(", ")
        ));
    }
    argv
}

/// An argv for a sentence: JSON-quoted words, as Docker shows them.
fn shown_argv(argv: &[String]) -> String {
    clean(&serde_json::to_string(argv).unwrap_or_default())
}

/// The container's command when it is not its image's. A changed
/// entrypoint cannot be carried over: the plan has no such field.
fn command_of(
    config: &ContainerConfig,
    image: Option<&ImageConfig>,
    out: &mut Vec<String>,
) -> Vec<String> {
    let cmd = config.cmd.clone().unwrap_or_default();
    let entrypoint = config.entrypoint.clone().unwrap_or_default();
    let Some(image) = image else {
        if !entrypoint.is_empty() {
            out.push(format!(
                "its entrypoint {} (the image could not be compared, and the plan has no entrypoint field: turnout runs the image's)",
                shown_argv(&entrypoint)
            ));
        }
        return cmd;
    };
    let image_entrypoint = image.entrypoint.clone().unwrap_or_default();
    let image_cmd = image.cmd.clone().unwrap_or_default();
    if entrypoint != image_entrypoint {
        out.push(format!(
            "its entrypoint {} in place of the image's {} (the plan has no entrypoint field: turnout runs the image's; a command can often do the same)",
            shown_argv(&entrypoint),
            shown_argv(&image_entrypoint)
        ));
    } else if cmd.is_empty() && !image_cmd.is_empty() {
        out.push(format!(
            "it runs without the image's default command {} (a plan keeps or replaces the command, it cannot remove it)",
            shown_argv(&image_cmd)
        ));
    }
    if cmd == image_cmd { Vec::new() } else { cmd }
}

/// The container's environment less what its image sets to the same
/// value; a secret's value is withheld at once.
fn env_of(config: &ContainerConfig, image: Option<&ImageConfig>) -> Vec<(String, String)> {
    let inherited: HashSet<&str> = image
        .and_then(|i| i.env.as_deref())
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .collect();
    let own = config
        .env
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|e| !inherited.contains(e.as_str()))
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect();
    withhold_secrets(own)
}

/// The configured port bindings (a stopped container has them too), each
/// host port once; a port the engine picks cannot be planned.
fn ports_of(bindings: Option<&PortMap>, out: &mut Vec<String>) -> Vec<FoundPort> {
    let sorted: BTreeMap<&String, _> = bindings.into_iter().flatten().collect();
    let mut ports: Vec<FoundPort> = Vec::new();
    for (key, list) in sorted {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let udp = match proto {
            "tcp" => false,
            "udp" => true,
            other => {
                out.push(format!(
                    "the published port {}/{} (a plan publishes tcp and udp)",
                    clean(port),
                    clean(other)
                ));
                continue;
            }
        };
        let Ok(container) = port.parse::<u16>() else {
            out.push(format!("the published port {}", clean(key)));
            continue;
        };
        for b in list.iter().flatten() {
            let host_port = b.host_port.as_deref().unwrap_or_default();
            let host = match host_port.parse::<u16>() {
                Ok(host) if host > 0 => host,
                _ => {
                    let which = match host_port {
                        "" | "0" => "any port".to_string(),
                        range => format!("one of {}", clean(range)),
                    };
                    out.push(format!(
                        "container port {container}/{proto} published on a host port the engine picks ({which}); a plan names a fixed host port"
                    ));
                    continue;
                }
            };
            let ip = match b.host_ip.as_deref() {
                None | Some("" | "0.0.0.0" | "::") => None,
                Some(ip) => Some(ip.to_string()),
            };
            let p = FoundPort {
                host,
                container,
                udp,
                ip,
            };
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
    }
    ports.sort_by_key(|p| (p.host, p.udp, p.container));
    ports
}

/// Whether a volume's name is one Docker made up: 64 hex digits.
pub fn is_anonymous_volume(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every mount, by path: volumes (named or anonymous), host paths, and
/// the rest (tmpfs, also when given as `--tmpfs`).
fn mounts_of(mounts: &[MountPoint], host: &HostConfig, out: &mut Vec<String>) -> Vec<FoundMount> {
    let mut found: Vec<FoundMount> = Vec::new();
    for m in mounts {
        let path = m.destination.clone().unwrap_or_default();
        let read_only = m.rw == Some(false);
        found.push(match (m.typ.as_deref(), m.name.as_deref()) {
            (Some("volume"), Some(name)) if !name.is_empty() => FoundMount::Volume {
                name: name.to_string(),
                anonymous: is_anonymous_volume(name),
                path,
                read_only,
            },
            (Some("bind"), _) => {
                if let Some(p) = m.propagation.as_deref().filter(|p| !p.is_empty())
                    && p != "rprivate"
                {
                    out.push(format!("bind propagation {} at {}", clean(p), clean(&path)));
                }
                FoundMount::Bind {
                    host: m.source.clone().unwrap_or_default(),
                    path,
                    read_only,
                }
            }
            (kind, _) => FoundMount::Other {
                kind: kind.unwrap_or("unknown").to_string(),
                path,
            },
        });
    }
    let seen: HashSet<String> = found.iter().map(|m| mount_path(m).to_string()).collect();
    let tmpfs = host.tmpfs.as_ref().into_iter().flatten();
    for (path, _) in tmpfs.filter(|(p, _)| !seen.contains(p.as_str())) {
        found.push(FoundMount::Other {
            kind: "tmpfs".into(),
            path: path.clone(),
        });
    }
    found.sort_by(|a, b| mount_path(a).cmp(mount_path(b)));
    found
}

fn mount_path(m: &FoundMount) -> &str {
    match m {
        FoundMount::Volume { path, .. }
        | FoundMount::Bind { path, .. }
        | FoundMount::Other { path, .. } => path,
    }
}

/// The health check as an argv: `CMD` as is, `CMD-SHELL` through the
/// shell Docker would use; `NONE` (or none) is no check.
fn health_of(config: &ContainerConfig, image: Option<&ImageConfig>) -> Option<Vec<String>> {
    let check = config
        .healthcheck
        .as_ref()
        .or(image.and_then(|i| i.healthcheck.as_ref()))?;
    let test = check.test.as_deref()?;
    match test.split_first()? {
        (kind, argv) if kind == "CMD" && !argv.is_empty() => Some(argv.to_vec()),
        (kind, [script]) if kind == "CMD-SHELL" => {
            let shell = config
                .shell
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
            Some(shell.into_iter().chain([script.clone()]).collect())
        }
        _ => None,
    }
}

impl DockerRuntime {
    /// Every container on the engine as `Found`, each image inspected once.
    /// Reads only: lists, inspects, changes nothing. A container removed
    /// between the list and its inspect is skipped.
    pub async fn inspect_for_import(&self) -> Result<Vec<Found>, RuntimeError> {
        let opts = ListContainersOptionsBuilder::default().all(true).build();
        let summaries = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(unavailable)?;
        let mut inspected = Vec::new();
        for id in summaries.into_iter().filter_map(|s| s.id) {
            match self.docker.inspect_container(&id, None).await {
                Ok(c) => inspected.push(c),
                Err(BollardError::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => return Err(about(&id, e)),
            }
        }
        let ids: BTreeSet<&String> = inspected.iter().filter_map(|c| c.image.as_ref()).collect();
        let mut images: BTreeMap<&String, Option<ImageInspect>> = BTreeMap::new();
        for id in ids {
            images.insert(id, self.image_for_import(id).await?);
        }
        Ok(inspected
            .iter()
            .map(|c| {
                let image = c.image.as_ref().and_then(|i| images.get(i)?.as_ref());
                found_of(c, image)
            })
            .collect())
    }

    /// An image's inspect, None when the engine no longer has it.
    async fn image_for_import(&self, image: &str) -> Result<Option<ImageInspect>, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(i)),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(about(image, e)),
        }
    }
}
