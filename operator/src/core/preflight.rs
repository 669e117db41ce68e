//! Pre-flight: before anything is stopped, everything the new state needs
//! must be known to be possible. Pure over what was observed: the engine's
//! containers, the host's listening sockets, and the images present.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use serde::Serialize;
use turnout_crds::port::{BindAddress, Protocol, bind_overlaps};

use super::model::{Desired, ObservedContainer};

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
}

impl Blocker {
    /// The condition reason this blocker reports under.
    pub fn reason(&self) -> &'static str {
        match self {
            Blocker::PortConflict { .. } | Blocker::NameTaken { .. } => "PortConflict",
            Blocker::ImageMissing { .. } => "ImageMissing",
            Blocker::SyncFailed { .. } => "SyncFailed",
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
                "the name {name} is taken by a container turnout does not manage (image {image}); rename or remove it yourself, turnout never touches it"
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

/// Everything that stands in the way of `desired`; empty when the change may begin.
pub fn preflight(
    desired: &Desired,
    observed: &[ObservedContainer],
    listeners: &[Listener],
    images_present: &BTreeSet<String>,
) -> Vec<Blocker> {
    let mut blockers = Vec::new();
    for d in &desired.containers {
        if let Some(o) = observed.iter().find(|o| o.name == d.name())
            && !o.is_ours(&desired.plan)
        {
            blockers.push(Blocker::NameTaken {
                name: d.name().to_string(),
                image: o.image.clone(),
            });
        }
        if !images_present.contains(&d.spec.image) {
            blockers.push(Blocker::ImageMissing {
                image: d.spec.image.clone(),
                wanted_by: d.name().to_string(),
            });
        }
        for p in &d.spec.ports {
            let (port, proto, bind) = (p.host.get(), p.protocol, p.bind_address);
            if let Some(holder) = holder_of(desired, observed, listeners, port, proto, bind) {
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

fn holder_of(
    desired: &Desired,
    observed: &[ObservedContainer],
    listeners: &[Listener],
    port: u16,
    proto: Protocol,
    bind: Option<BindAddress>,
) -> Option<Holder> {
    let publishing = |o: &&ObservedContainer| {
        o.state.is_up()
            && o.ports.iter().any(|op| {
                op.host_port == port && op.protocol == proto && bind_overlaps(op.bind(), bind)
            })
    };
    // A container publishing the port: fine when it is ours (it is either the
    // one we want, or one we stop first); a foreign one blocks.
    let containers: Vec<&ObservedContainer> = observed.iter().filter(publishing).collect();
    if let Some(foreign) = containers.iter().find(|o| !o.is_ours(&desired.plan)) {
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
