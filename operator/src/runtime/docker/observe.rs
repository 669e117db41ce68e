//! What the engine's container list says, as turnout's plain data.

use std::net::IpAddr;

use bollard::models::{
    ContainerSummary, ContainerSummaryStateEnum, MountPoint, PortSummaryTypeEnum,
};
use turnout_crds::port::Protocol;

use crate::core::model::{Mount as AdoptMount, ObservedContainer, ObservedPort, RunState};

/// One listed container.
pub(super) fn observed(s: ContainerSummary) -> ObservedContainer {
    ObservedContainer {
        id: s.id.unwrap_or_default(),
        name: s
            .names
            .unwrap_or_default()
            .first()
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        image: s.image.unwrap_or_default(),
        image_id: s.image_id.filter(|i| !i.is_empty()),
        mounts: s
            .mounts
            .unwrap_or_default()
            .into_iter()
            .map(mount_of)
            .collect(),
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
    }
}

/// A mount as the engine lists it: volumes by name (anonymous ones by the
/// name Docker gave them), host paths, and anything else by its path.
fn mount_of(m: MountPoint) -> AdoptMount {
    let path = m.destination.unwrap_or_default();
    match m.typ.as_deref() {
        Some("volume") => AdoptMount::Volume {
            name: m.name.unwrap_or_default(),
            path,
        },
        Some("bind") => AdoptMount::Bind {
            host: m.source.unwrap_or_default(),
            path,
        },
        _ => AdoptMount::Other { path },
    }
}

fn state_of(s: Option<ContainerSummaryStateEnum>) -> RunState {
    match s {
        Some(ContainerSummaryStateEnum::RUNNING) => RunState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => RunState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => RunState::Restarting,
        _ => RunState::Stopped,
    }
}
