//! Reaching an engine at an [`EngineAddress`]: the local socket, another
//! host over SSH (`ssh.rs`: the system `ssh` running `docker system
//! dial-stdio` there, as the Docker CLI does) or over mutual TLS. The
//! first exchange (version negotiation) is bounded by [`CONNECT_TIMEOUT`],
//! so an unreachable host, a refused key or an engine that never answers
//! is an error naming the address and what to check, never a hang.

use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;

use super::DockerRuntime;
use super::address::{EngineAddress, shown};
use super::ssh::SshDiagnostics;
use crate::runtime::RuntimeError;

/// How long the first exchange with an engine may take, connection and
/// handshake (TCP, TLS or SSH authentication) included.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Seconds one API request may take (bollard's per-request bound).
const REQUEST_TIMEOUT_SECS: u64 = 120;

impl DockerRuntime {
    /// Connects to the engine `DOCKER_HOST` names (the local socket when
    /// it names none) and agrees on an API version both sides speak. An
    /// address turnout cannot use is an error, never the local engine.
    pub async fn connect() -> Result<DockerRuntime, RuntimeError> {
        let flags = super::address::EngineFlags::default();
        Self::connect_to(super::address::resolve(&flags)?).await
    }

    /// Connects to the engine at `address`, within [`CONNECT_TIMEOUT`].
    pub async fn connect_to(address: EngineAddress) -> Result<DockerRuntime, RuntimeError> {
        let (docker, ssh) = client(&address).map_err(|e| failed(&address, e, String::new()))?;
        let handshake = async {
            let docker = docker.negotiate_version().await?;
            let version = docker.version().await?.version.unwrap_or_default();
            Ok::<_, BollardError>((docker, version))
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
            Ok(Ok((docker, version))) => Ok(DockerRuntime {
                docker,
                address,
                version,
            }),
            Ok(Err(e)) => {
                let said = match ssh {
                    Some(d) => d.said().await,
                    None => String::new(),
                };
                Err(failed(&address, e, said))
            }
            Err(_) => Err(RuntimeError::unavailable(Unreachable::TimedOut {
                address: shown(&address.to_string()),
                seconds: CONNECT_TIMEOUT.as_secs(),
                hint: hint(&address),
            })),
        }
    }
}

/// A bollard client for `address` (nothing is contacted yet), and for
/// SSH what ssh prints.
fn client(address: &EngineAddress) -> Result<(Docker, Option<SshDiagnostics>), BollardError> {
    let version = bollard::API_DEFAULT_VERSION;
    match address {
        EngineAddress::Unix(path) => Ok((
            Docker::connect_with_unix(&path.display().to_string(), REQUEST_TIMEOUT_SECS, version)?,
            None,
        )),
        EngineAddress::Ssh { user, host, port } => {
            // The parts were checked (no option-like host or user).
            let mut options = Vec::new();
            if let Some(u) = user {
                options.extend(["-l".to_string(), u.clone()]);
            }
            if let Some(p) = port {
                options.extend(["-p".to_string(), p.to_string()]);
            }
            let (docker, said) =
                super::ssh::client(options, host, CONNECT_TIMEOUT, REQUEST_TIMEOUT_SECS)?;
            Ok((docker, Some(said)))
        }
        EngineAddress::Tls {
            host,
            port,
            ca,
            cert,
            key,
        } => {
            // One process-wide crypto provider: kube's rustls is built in too.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let docker = Docker::connect_with_ssl(
                &format!("tcp://{host}:{port}"),
                key,
                cert,
                ca,
                REQUEST_TIMEOUT_SECS,
                version,
            )?;
            Ok((docker, None))
        }
    }
}

/// The engine at an address cannot be reached; the message names it and
/// says what to check.
#[derive(Debug, thiserror::Error)]
enum Unreachable {
    #[error("{address}: {source}{said}{hint}")]
    Failed {
        address: String,
        /// What ssh printed, if anything.
        said: String,
        hint: String,
        #[source]
        source: BollardError,
    },
    #[error("{address} did not answer within {seconds}s{hint}")]
    TimedOut {
        address: String,
        seconds: u64,
        hint: String,
    },
}

fn failed(address: &EngineAddress, source: BollardError, said: String) -> RuntimeError {
    let said = if said.is_empty() {
        said
    } else {
        format!(" (ssh said: {said})")
    };
    RuntimeError::unavailable(Unreachable::Failed {
        address: shown(&address.to_string()),
        said,
        hint: hint(address),
        source,
    })
}

/// What to check for an engine that does not answer, by transport.
fn hint(address: &EngineAddress) -> String {
    match address {
        EngineAddress::Unix(_) => String::new(),
        EngineAddress::Ssh { user, host, port } => {
            let port = port.map(|p| format!("-p {p} ")).unwrap_or_default();
            let user = user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
            format!(
                ". Check that `ssh {port}{user}{host} docker version` works from this machine without a prompt: the host reachable, its key in known_hosts, a key ssh offers (ssh-agent, or IdentityFile in ~/.ssh/config) accepted there, and that user allowed to use docker on that host"
            )
        }
        EngineAddress::Tls { ca, .. } => {
            let dir = ca.parent().unwrap_or(ca);
            format!(
                ". Check that the engine listens there with --tlsverify, that {:?} signed its certificate (issued for that host name or address), and that it trusts the authority that signed {:?}",
                dir.join("ca.pem"),
                dir.join("cert.pem")
            )
        }
    }
}
