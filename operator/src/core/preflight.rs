//! Pre-flight: before anything is stopped, everything the new state needs
//! must be known to be possible. Pure over what was observed: the engine's
//! containers, the host's listening sockets, and the images present.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use turnout_crds::port::{BindAddress, Protocol, bind_overlaps};

use super::adopt::{kept_name, refusal};
use super::model::{Desired, DesiredContainer, ObservedContainer};

/// A socket listening on the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Listener {
    pub protocol: Protocol,
    pub address: IpAddr,
    pub port: u16,
    /// The process holding it, when it could be found.
    pub pid: Option<u32>,
    pub process: Option<String>,
}

/// Who holds a port turnout needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Holder {
    /// A container turnout does not manage for this plan.
    Container { name: String },
    /// A process on the host.
    Process {
        pid: Option<u32>,
        name: Option<String>,
    },
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Container { name } => write!(f, "container {name} (not managed by turnout)"),
            Holder::Process {
                pid: Some(pid),
                name: Some(n),
            } => write!(f, "process {n} (pid {pid})"),
            Holder::Process {
                pid: Some(pid),
                name: None,
            } => write!(f, "process pid {pid}"),
            Holder::Process { .. } => f.write_str("a process on the host"),
        }
    }
}

/// Why a change cannot begin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "reason")]
pub enum Blocker {
    /// A planned host port is held by something turnout does not manage.
    PortConflict {
        port: u16,
        protocol: Protocol,
        wanted_by: String,
        holder: Holder,
    },
    /// A planned container name is taken by a container turnout does not manage.
    NameTaken { name: String, image: String },
    /// The data sync of this switch failed before; the switch waits.
    SyncFailed {
        from: String,
        to: String,
        message: String,
    },
    /// An image is not on the host and could not be pulled.
    ImageMissing { image: String, wanted_by: String },
    /// A planned bind reaches a directory turnout keeps its own state in.
    BindRefused {
        container: String,
        host: String,
        why: String,
    },
    /// A container made by hand may be adopted, but is not what the plan says.
    AdoptionRefused { name: String, why: String },
    /// Adopting a container failed and the original was put back; the
    /// host waits until the plan or selection changes.
    AdoptionFailed { name: String, message: String },
}

impl Blocker {
    /// The condition reason this blocker reports under.
    pub fn reason(&self) -> &'static str {
        match self {
            Blocker::PortConflict { .. } | Blocker::NameTaken { .. } => "PortConflict",
            Blocker::ImageMissing { .. } => "ImageMissing",
            Blocker::SyncFailed { .. } => "SyncFailed",
            Blocker::AdoptionRefused { .. } => "AdoptionRefused",
            Blocker::BindRefused { .. } => "InvalidMount",
            Blocker::AdoptionFailed { .. } => "AdoptionFailed",
        }
    }
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::PortConflict {
                port,
                protocol,
                wanted_by,
                holder,
            } => write!(
                f,
                "host port {port}/{protocol}, planned for {wanted_by}, is held by {holder}; stop it or move it off the port, and turnout retries"
            ),
            Blocker::NameTaken { name, image } => write!(
                f,
                "the name {name} is taken by a container turnout does not manage (image {image}); rename or remove it yourself, or, if it is the container the plan describes, let turnout adopt it (`turnout apply --adopt`, or `adopt: true` in the plan). Until then turnout never touches it"
            ),
            Blocker::BindRefused {
                container,
                host,
                why,
            } => write!(
                f,
                "container {container} may not bind host path {host}: {why}"
            ),
            Blocker::AdoptionRefused { name, why } => write!(
                f,
                "turnout will not adopt container {name}: {why}. It was left as it is; make the plan say what the container is (`turnout import` shows it), or rename the container yourself"
            ),
            Blocker::AdoptionFailed { name, message } => write!(
                f,
                "adopting container {name} failed ({message}); the original was put back as {name}. Fix the cause, then edit the plan or selection (or restart turnout) to try again"
            ),
            Blocker::SyncFailed { from, to, message } => write!(
                f,
                "the data sync {from} -> {to} failed ({message}); the host waits with the infrastructure running and nothing overwritten. Fix the cause, then edit the plan or selection (or restart turnout) to try again, or set syncOnSwitch: false"
            ),
            Blocker::ImageMissing { image, wanted_by } => write!(
                f,
                "image {image}, needed by {wanted_by}, is not on the host and could not be pulled; build or load it, or check the name and the registry"
            ),
        }
    }
}

/// The process name of Docker's userland proxy for published ports.
pub const ENGINE_PROXY: &str = "docker-proxy";

/// Everything that stands in the way of `desired`; empty when the change
/// may begin. `images` maps each image present on the host to its id.
pub fn preflight(
    desired: &Desired,
    observed: &[ObservedContainer],
    listeners: &[Listener],
    images: &BTreeMap<String, String>,
) -> Vec<Blocker> {
    let mut blockers = Vec::new();
    let adopting = adoptions(desired, observed);
    for d in desired.containers.iter().chain(&desired.inactive) {
        let hand_made = observed
            .iter()
            .find(|o| o.name == d.name() && !o.is_ours(&desired.plan));
        // Kept warm under switchStrategy Pause counts as running: it is
        // created, started and holds its ports.
        let active = desired.made(d.name()).is_some();
        match hand_made {
            Some(o) if d.adopt => blockers.extend(adoption_blocker(d, o, observed, images)),
            Some(o) if active => blockers.push(Blocker::NameTaken {
                name: d.name().to_string(),
                image: o.image.clone(),
            }),
            _ => {}
        }
        if (active || adopting.contains(d.name())) && !images.contains_key(&d.spec.image) {
            blockers.push(Blocker::ImageMissing {
                image: d.spec.image.clone(),
                wanted_by: d.name().to_string(),
            });
        }
        if !active {
            continue;
        }
        for p in &d.spec.ports {
            let (port, proto, bind) = (p.host.get(), p.protocol, p.bind_address);
            let seen = Seen {
                desired,
                observed,
                listeners,
                adopting: &adopting,
            };
            if let Some(holder) = seen.holder_of(port, proto, bind) {
                blockers.push(Blocker::PortConflict {
                    port,
                    protocol: proto,
                    wanted_by: d.name().to_string(),
                    holder,
                });
            }
        }
    }
    blockers
}

/// The names of the containers made by hand that this change adopts.
pub fn adoptions<'a>(desired: &'a Desired, observed: &[ObservedContainer]) -> BTreeSet<&'a str> {
    desired
        .containers
        .iter()
        .chain(&desired.inactive)
        .filter(|d| d.adopt)
        .filter(|d| {
            observed
                .iter()
                .any(|o| o.name == d.name() && !o.is_ours(&desired.plan))
        })
        .map(|d| d.name())
        .collect()
}

/// Why the container made by hand `o` cannot be adopted as `d`, if it cannot.
fn adoption_blocker(
    d: &DesiredContainer,
    o: &ObservedContainer,
    observed: &[ObservedContainer],
    images: &BTreeMap<String, String>,
) -> Option<Blocker> {
    let kept = kept_name(d.name());
    let why = if observed.iter().any(|x| x.name == kept) {
        Some(format!(
            "{kept} exists already (an earlier adoption keeps it there); rename or remove it yourself first"
        ))
    } else {
        refusal(&d.spec, o, images.get(&d.spec.image).map(String::as_str))
    };
    why.map(|why| Blocker::AdoptionRefused {
        name: d.name().to_string(),
        why,
    })
}

/// What was seen on the host, to find who holds a port.
struct Seen<'a> {
    desired: &'a Desired,
    observed: &'a [ObservedContainer],
    listeners: &'a [Listener],
    adopting: &'a BTreeSet<&'a str>,
}

impl Seen<'_> {
    fn holder_of(&self, port: u16, proto: Protocol, bind: Option<BindAddress>) -> Option<Holder> {
        let Seen {
            desired,
            observed,
            listeners,
            adopting,
        } = *self;
        let publishing = |o: &&ObservedContainer| {
            o.state.is_up()
                && o.ports.iter().any(|op| {
                    op.host_port == port && op.protocol == proto && bind_overlaps(op.bind(), bind)
                })
        };
        // A container publishing the port: fine when it is ours (it is either the
        // one we want, or one we stop first) or one we adopt (stopped first); any
        // other blocks.
        let containers: Vec<&ObservedContainer> = observed.iter().filter(publishing).collect();
        if let Some(foreign) = containers
            .iter()
            .find(|o| !o.is_ours(&desired.plan) && !adopting.contains(o.name.as_str()))
        {
            return Some(Holder::Container {
                name: foreign.name.clone(),
            });
        }
        if !containers.is_empty() {
            // The engine's own proxy listens for a published port; that listener is the container's.
            return None;
        }
        listeners
            .iter()
            .find(|l| {
                // The engine's proxy holds the port for a container; a foreign
                // container would have been found above, so this one is ours in
                // transition (e.g. starting when a previous turnout was killed).
                l.process.as_deref() != Some(ENGINE_PROXY)
                && l.port == port
                && l.protocol == proto
                // A socket on [::] usually takes IPv4 too (dual stack).
                && (l.address == IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                    || bind_overlaps(Some(BindAddress(l.address)), bind))
            })
            .map(|l| Holder::Process {
                pid: l.pid,
                name: l.process.clone(),
            })
    }
}
