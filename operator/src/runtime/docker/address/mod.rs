//! Which Docker engine turnout talks to: `--engine`, else `DOCKER_HOST`,
//! read the way the Docker CLI reads it. The local socket (`unix://`), an
//! engine on another host over SSH (`ssh://`, the system `ssh` running
//! `docker system dial-stdio` there) or over TLS (`tcp://` with
//! `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`, or `--engine-certs`).
//! An address turnout cannot use is refused with an error naming it, never
//! replaced by the local socket: a person aiming at another host must not
//! change this one. A Docker context (`DOCKER_CONTEXT`, or `currentContext`
//! in the CLI's config) that would point the CLI elsewhere is refused the
//! same way. `certs.rs` checks the TLS files; `remote.rs` reads the parts
//! of a remote address.

use std::fmt;
use std::path::{Path, PathBuf};

mod certs;
mod remote;

pub use certs::{CertProblem, MAX_CERT_BYTES};

/// The local socket, when nothing names another engine.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The port of a `tcp://` engine address that names none (Docker's TLS port).
pub const DEFAULT_TLS_PORT: u16 = 2376;

/// An engine turnout can reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineAddress {
    /// A Unix socket on this machine.
    Unix(PathBuf),
    /// Another host, through the system `ssh` (its config, keys and
    /// known_hosts) running `docker system dial-stdio` there.
    Ssh {
        user: Option<String>,
        host: String,
        port: Option<u16>,
    },
    /// Another host's engine on a TCP port, with mutual TLS: the engine's
    /// certificate checked against `ca`, turnout's own (`cert`, `key`) shown to it.
    Tls {
        host: String,
        port: u16,
        ca: PathBuf,
        cert: PathBuf,
        key: PathBuf,
    },
}

impl EngineAddress {
    /// The engine this names, however it was spelled: a socket by its
    /// resolved path (a symlink to the same socket is the same engine), a
    /// host by name and port (the SSH user and the certificates do not
    /// change which engine it is). Records of what turnout read are keyed
    /// by it.
    pub fn identity(&self) -> String {
        match self {
            EngineAddress::Unix(p) => {
                let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
                format!("unix://{}", real.display())
            }
            EngineAddress::Ssh { host, port, .. } => {
                format!("ssh://{}:{}", host.to_ascii_lowercase(), port.unwrap_or(22))
            }
            EngineAddress::Tls { host, port, .. } => {
                format!("tcp://{}:{port}", host.to_ascii_lowercase())
            }
        }
    }

    /// Whether the engine is (as far as turnout can tell) on another host:
    /// this machine's `/proc/net` says nothing about its ports.
    pub fn is_remote(&self) -> bool {
        !matches!(self, EngineAddress::Unix(_))
    }
}

impl fmt::Display for EngineAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineAddress::Unix(p) => write!(f, "unix://{}", p.display()),
            EngineAddress::Ssh { user, host, port } => {
                write!(f, "ssh://")?;
                if let Some(u) = user {
                    write!(f, "{u}@")?;
                }
                write!(f, "{host}")?;
                match port {
                    Some(p) => write!(f, ":{p}"),
                    None => Ok(()),
                }
            }
            EngineAddress::Tls { host, port, .. } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

/// Why an engine address cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error(
        "engine address {shown} (from {origin}): {why}. turnout refuses it rather than fall back to the local engine; give unix:///PATH, ssh://[USER@]HOST[:PORT] or tcp://HOST:PORT with TLS"
    )]
    Unsupported {
        shown: String,
        origin: &'static str,
        why: String,
    },
    #[error(
        "{origin} selects the Docker context {context:?}, which turnout does not read; set DOCKER_HOST to that context's endpoint (`docker context inspect {context}`), or unset it to use {DEFAULT_SOCKET}"
    )]
    Context {
        origin: &'static str,
        context: String,
    },
    #[error(
        "engine address {shown} (from {origin}) is TCP without TLS verification: anyone who reaches that port would be root on that host, so turnout refuses it. Set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to a directory holding ca.pem, cert.pem and key.pem (or pass --engine-certs DIR), or reach the engine over ssh://USER@HOST"
    )]
    TlsUnverified { shown: String, origin: &'static str },
    #[error("engine address {shown} (from {origin}): {problem}")]
    Cert {
        shown: String,
        origin: &'static str,
        #[source]
        problem: CertProblem,
    },
    #[error(
        "engine address {shown} (from {origin}) is another host's engine, and turnout {command} changes the host it acts on with what is kept on this machine (port checks of its /proc/net, the records of what turnout wrote, backups, the host lock), so it refuses. Run turnout on that host, or read that engine from here (turnout plan / import --engine ADDR, turnout sync --source-engine ADDR)"
    )]
    Remote {
        shown: String,
        origin: &'static str,
        command: &'static str,
    },
}

impl AddressError {
    pub fn reason(&self) -> &'static str {
        "EngineAddress"
    }
}

/// What the command line says about the engine: `--engine ADDR` and
/// `--engine-certs DIR` (the environment fills in the rest).
#[derive(Clone, Debug, Default)]
pub struct EngineFlags {
    pub engine: Option<String>,
    pub certs: Option<PathBuf>,
}

/// How a `tcp://` address is secured, the Docker CLI's way: verification
/// on when `DOCKER_TLS_VERIFY` is set to anything or a certificate
/// directory is named on the command line; the files in that directory,
/// else `DOCKER_CERT_PATH`, else the CLI's config directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    pub verify: bool,
    pub dir: Option<PathBuf>,
    /// Where `dir` came from, for messages.
    pub dir_origin: &'static str,
}

impl TlsSettings {
    /// From `certs` (a flag) and the environment.
    pub fn from_env(certs: Option<&Path>) -> TlsSettings {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let verify = certs.is_some() || env("DOCKER_TLS_VERIFY").is_some();
        let (dir, dir_origin) = match (certs, env("DOCKER_CERT_PATH")) {
            (Some(d), _) => (Some(d.to_path_buf()), "--engine-certs"),
            (None, Some(d)) => (Some(PathBuf::from(d)), "DOCKER_CERT_PATH"),
            (None, None) => (docker_config_dir(), "the Docker CLI's directory"),
        };
        TlsSettings {
            verify,
            dir,
            dir_origin,
        }
    }
}

/// The address with any password in it hidden (for messages and status).
pub fn shown(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return turnout_crds::names::shown(raw);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((u, _)) => format!("{u}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    turnout_crds::names::shown(&format!("{scheme}://{authority}{path}"))
}

/// Parses an engine address (`origin` names where it came from), with the
/// TLS settings of the environment.
pub fn parse(raw: &str, origin: &'static str) -> Result<EngineAddress, AddressError> {
    parse_flag(raw, origin, None)
}

/// Parses the value of an engine flag (`origin` names the flag, say
/// `--source-engine`) by the rules `--engine` follows: `certs` is the
/// certificate directory named beside it, if any; the environment gives
/// the rest.
pub fn parse_flag(
    raw: &str,
    origin: &'static str,
    certs: Option<&Path>,
) -> Result<EngineAddress, AddressError> {
    parse_with(raw, origin, &TlsSettings::from_env(certs))
}

/// Parses an engine address with explicit TLS settings.
pub fn parse_with(
    raw: &str,
    origin: &'static str,
    tls: &TlsSettings,
) -> Result<EngineAddress, AddressError> {
    let refuse = |why: &str| AddressError::Unsupported {
        shown: shown(raw),
        origin,
        why: why.to_string(),
    };
    let Some((scheme, rest)) = raw.split_once("://") else {
        return Err(refuse("it is not an address (scheme://...)"));
    };
    match scheme {
        "unix" => {
            let path = Path::new(rest);
            if !path.is_absolute() || rest.chars().any(char::is_control) {
                return Err(refuse("a unix socket needs an absolute path"));
            }
            Ok(EngineAddress::Unix(path.to_path_buf()))
        }
        "ssh" => {
            let (user, host, port) = remote::ssh_parts(rest).map_err(|why| refuse(&why))?;
            Ok(EngineAddress::Ssh { user, host, port })
        }
        "tcp" => {
            let (host, port) = remote::tcp_parts(rest).map_err(|why| refuse(&why))?;
            if !tls.verify {
                return Err(AddressError::TlsUnverified {
                    shown: shown(raw),
                    origin,
                });
            }
            let files =
                certs::check_dir(tls.dir.as_deref(), tls.dir_origin).map_err(|problem| {
                    AddressError::Cert {
                        shown: shown(raw),
                        origin,
                        problem,
                    }
                })?;
            Ok(EngineAddress::Tls {
                host,
                port: port.unwrap_or(DEFAULT_TLS_PORT),
                ca: files.ca,
                cert: files.cert,
                key: files.key,
            })
        }
        "http" | "https" => Err(refuse(
            "turnout reaches another host's engine as tcp://HOST:PORT with TLS (the Docker CLI's form) or ssh://USER@HOST",
        )),
        "npipe" => Err(refuse("named pipes exist on Windows only")),
        "fd" => Err(refuse(
            "socket activation (fd://) is for the daemon, not clients",
        )),
        _ => Err(refuse("unknown scheme")),
    }
}

/// The engine to use: `--engine`, else `DOCKER_HOST`, else the local
/// socket unless a Docker context points elsewhere.
pub fn resolve(flags: &EngineFlags) -> Result<EngineAddress, AddressError> {
    match chosen(flags)? {
        Some((raw, origin)) => parse_flag(&raw, origin, flags.certs.as_deref()),
        None => Ok(EngineAddress::Unix(PathBuf::from(DEFAULT_SOCKET))),
    }
}

/// The engine for `command`, which changes the host it runs on (so must
/// be on the same machine as its engine): a remote address is refused
/// before anything else about it is read.
pub fn resolve_local(
    flags: &EngineFlags,
    command: &'static str,
) -> Result<EngineAddress, AddressError> {
    if let Some((raw, origin)) = chosen(flags)? {
        if raw.starts_with("ssh://") || raw.starts_with("tcp://") {
            return Err(AddressError::Remote {
                shown: shown(&raw),
                origin,
                command,
            });
        }
        return parse_flag(&raw, origin, flags.certs.as_deref());
    }
    Ok(EngineAddress::Unix(PathBuf::from(DEFAULT_SOCKET)))
}

/// The address the person gave and where, or None for the default socket.
fn chosen(flags: &EngineFlags) -> Result<Option<(String, &'static str)>, AddressError> {
    if let Some(raw) = flags.engine.as_ref().filter(|s| !s.is_empty()) {
        return Ok(Some((raw.clone(), "--engine")));
    }
    if let Ok(raw) = std::env::var("DOCKER_HOST")
        && !raw.is_empty()
    {
        return Ok(Some((raw, "DOCKER_HOST")));
    }
    if let Ok(context) = std::env::var("DOCKER_CONTEXT")
        && !context.is_empty()
        && context != "default"
    {
        return Err(AddressError::Context {
            origin: "DOCKER_CONTEXT",
            context,
        });
    }
    if let Some(context) = config_context() {
        return Err(AddressError::Context {
            origin: "the Docker CLI's config (currentContext)",
            context,
        });
    }
    Ok(None)
}

/// The Docker CLI's configuration directory: `DOCKER_CONFIG`, else ~/.docker.
fn docker_config_dir() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(d) => Some(PathBuf::from(d)),
        None => Some(PathBuf::from(std::env::var_os("HOME")?).join(".docker")),
    }
}

/// `currentContext` of the Docker CLI's config, when it names one other
/// than the default. The file is read with a bound.
fn config_context() -> Option<String> {
    let dir = docker_config_dir()?;
    let bytes = crate::secrets::read_bounded(&dir.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let context = config.get("currentContext")?.as_str()?;
    (!context.is_empty() && context != "default").then(|| context.to_string())
}

#[cfg(test)]
mod tests;
