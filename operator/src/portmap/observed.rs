//! What the port map shows of the host as observed: the ports turnout's
//! containers publish and the foreign listeners on planned ports, read from
//! a status document.

use crate::core::preflight::Blocker;
use crate::status::StandaloneStatus;

/// The observed side of the map.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// The version running (status.activeVersion).
    pub active: Option<String>,
    /// The version the selection asks for.
    pub desired: Option<String>,
    pub published: Vec<Published>,
    pub foreign: Vec<Foreign>,
}

/// A host port a managed container publishes.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub container: String,
    /// Its version, or `infrastructure`.
    pub role: String,
    pub port: u16,
    pub running: bool,
}

/// A planned host port held by something turnout does not manage.
#[derive(Clone, Debug, PartialEq)]
pub struct Foreign {
    pub port: u16,
    /// Who holds it, for a person (`process nginx (pid 12)`).
    pub holder: String,
    /// The container the plan wants there.
    pub wanted_by: String,
}

impl Observed {
    pub fn from_status(doc: &StandaloneStatus) -> Observed {
        let published = doc
            .status
            .containers
            .iter()
            .flat_map(|c| {
                c.ports.iter().filter_map(|p| {
                    Some(Published {
                        container: c.name.clone(),
                        role: c.role.clone(),
                        port: host_port(p)?,
                        running: c.state == "running",
                    })
                })
            })
            .collect();
        let foreign = doc
            .blockers
            .iter()
            .filter_map(|b| match b {
                Blocker::PortConflict {
                    port,
                    wanted_by,
                    holder,
                    ..
                } => Some(Foreign {
                    port: *port,
                    holder: holder.to_string(),
                    wanted_by: wanted_by.clone(),
                }),
                _ => None,
            })
            .collect();
        Observed {
            active: doc.status.active_version.clone(),
            desired: Some(doc.desired_version.clone()),
            published,
            foreign,
        }
    }
}

/// The host port of a published port as the status shows it
/// (`0.0.0.0:3306->3306/tcp`, `[::]:80->8080/tcp`, `8080->80/udp`).
pub fn host_port(shown: &str) -> Option<u16> {
    let (host, _) = shown.split_once("->")?;
    host.rsplit(':').next()?.parse().ok()
}
