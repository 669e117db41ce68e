//! Plain data exchanged by the pipeline steps.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::Serialize;
use turnout_crds::plan::ContainerSpec;
use turnout_crds::port::{BindAddress, Protocol};

pub use super::adopt::Mount;

/// Label marking a container as turnout's; containers without it are never touched.
pub const LABEL_MANAGED_BY: &str = "dev.turnout.managed-by";
/// Value of [`LABEL_MANAGED_BY`].
pub const MANAGED_BY: &str = "turnout";
/// Label naming the plan a container belongs to.
pub const LABEL_PLAN: &str = "dev.turnout.plan";
/// Label naming the container's version, or `infrastructure`.
pub const LABEL_ROLE: &str = "dev.turnout.role";
/// Label holding the hash of the container's spec; a change recreates it.
pub const LABEL_SPEC_HASH: &str = "dev.turnout.spec-hash";
/// Role label value of infrastructure containers.
pub const INFRASTRUCTURE: &str = "infrastructure";

/// Whether a container is shared infrastructure or belongs to a version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    Infrastructure,
    Version(String),
}

impl Role {
    pub fn label(&self) -> &str {
        match self {
            Role::Infrastructure => INFRASTRUCTURE,
            Role::Version(v) => v,
        }
    }

    pub fn from_label(label: &str) -> Role {
        if label == INFRASTRUCTURE {
            Role::Infrastructure
        } else {
            Role::Version(label.to_string())
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Infrastructure => f.write_str("infrastructure"),
            Role::Version(v) => write!(f, "version {v}"),
        }
    }
}

/// A container that should exist and run.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredContainer {
    pub plan: String,
    pub role: Role,
    pub spec: ContainerSpec,
    /// Hash of everything that, when changed, requires recreating the container.
    pub spec_hash: String,
    /// A container made by hand under this name may be taken over (adopted).
    pub adopt: bool,
}

impl DesiredContainer {
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The labels turnout puts on the container.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
            (LABEL_PLAN.to_string(), self.plan.clone()),
            (LABEL_ROLE.to_string(), self.role.label().to_string()),
            (LABEL_SPEC_HASH.to_string(), self.spec_hash.clone()),
        ])
    }
}

/// Everything that should run on the host for one selection.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub plan: String,
    pub active_version: String,
    /// Infrastructure first, then the active version's containers, in plan order.
    pub containers: Vec<DesiredContainer>,
    /// The other versions' containers: they must not run, but one made by
    /// hand under their name may be adopted (and left stopped).
    pub inactive: Vec<DesiredContainer>,
    /// How a switch moves between versions; under `Pause` the inactive
    /// versions are kept created and paused.
    pub strategy: turnout_crds::plan::SwitchStrategy,
}

impl Desired {
    pub fn get(&self, name: &str) -> Option<&DesiredContainer> {
        self.containers.iter().find(|c| c.name() == name)
    }

    /// A container that should exist, running or kept warm (an inactive
    /// version's under `switchStrategy: Pause`).
    pub fn made(&self, name: &str) -> Option<&DesiredContainer> {
        self.get(name).or_else(|| {
            (self.strategy == turnout_crds::plan::SwitchStrategy::Pause)
                .then(|| self.inactive.iter().find(|c| c.name() == name))
                .flatten()
        })
    }
}

/// Whether an observed container is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    /// Created, exited or dead: not running, can be started.
    Stopped,
    Paused,
    Restarting,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Stopped => "stopped",
            RunState::Paused => "paused",
            RunState::Restarting => "restarting",
        }
    }

    /// Whether the container holds its ports and would need stopping.
    pub fn is_up(self) -> bool {
        !matches!(self, RunState::Stopped)
    }
}

/// A port a container publishes, as the engine reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedPort {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl ObservedPort {
    pub fn bind(&self) -> Option<BindAddress> {
        self.host_ip.map(BindAddress)
    }
}

impl fmt::Display for ObservedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        write!(
            f,
            "{}->{}/{}",
            self.host_port, self.container_port, self.protocol
        )
    }
}

/// A container seen on the host (ours or not).
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub state: RunState,
    pub ports: Vec<ObservedPort>,
    /// The id of the image it was created from, when the engine says.
    pub image_id: Option<String>,
    /// Its mounts: what data it sees (adoption compares them with the plan's).
    pub mounts: Vec<Mount>,
}

impl ObservedContainer {
    /// Whether turnout created this container for `plan`; only such containers are ever changed.
    pub fn is_ours(&self, plan: &str) -> bool {
        self.labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
            && self.labels.get(LABEL_PLAN).map(String::as_str) == Some(plan)
    }

    pub fn role(&self) -> Option<Role> {
        self.labels.get(LABEL_ROLE).map(|l| Role::from_label(l))
    }

    pub fn spec_hash(&self) -> Option<&str> {
        self.labels.get(LABEL_SPEC_HASH).map(String::as_str)
    }

    /// Whether any turnout, for any plan, made this container.
    pub fn is_turnouts(&self) -> bool {
        self.labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
    }
}
