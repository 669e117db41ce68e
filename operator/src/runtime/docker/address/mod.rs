//! Which Docker engine turnout talks to: `--engine`, else `DOCKER_HOST`,
//! read the way the Docker CLI reads it. An address turnout cannot use is
//! refused with an error naming it, never replaced by the local socket: a
//! person aiming at another host must not change this one. A Docker context
//! (`DOCKER_CONTEXT`, or `currentContext` in the CLI's config) that would
//! point the CLI elsewhere is refused the same way.

use std::fmt;
use std::path::{Path, PathBuf};

/// The local socket, when nothing names another engine.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// An engine turnout can reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineAddress {
    /// A Unix socket on this machine.
    Unix(PathBuf),
}

impl fmt::Display for EngineAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineAddress::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

/// Why an engine address cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error(
        "engine address {shown} (from {origin}): {why}. turnout refuses it rather than fall back to the local engine; give a unix:// socket path"
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
}

impl AddressError {
    pub fn reason(&self) -> &'static str {
        "EngineAddress"
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

/// Parses an engine address (`origin` names where it came from).
pub fn parse(raw: &str, origin: &'static str) -> Result<EngineAddress, AddressError> {
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
        "ssh" | "tcp" | "http" | "https" => Err(refuse(
            "remote engines are not supported by this turnout; run turnout on that host",
        )),
        "npipe" => Err(refuse("named pipes exist on Windows only")),
        "fd" => Err(refuse(
            "socket activation (fd://) is for the daemon, not clients",
        )),
        _ => Err(refuse("unknown scheme")),
    }
}

/// The engine to use: `flag`, else `DOCKER_HOST`, else the local socket
/// unless a Docker context points elsewhere.
pub fn resolve(flag: Option<&str>) -> Result<EngineAddress, AddressError> {
    if let Some(raw) = flag.filter(|s| !s.is_empty()) {
        return parse(raw, "--engine");
    }
    if let Ok(raw) = std::env::var("DOCKER_HOST")
        && !raw.is_empty()
    {
        return parse(&raw, "DOCKER_HOST");
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
    Ok(EngineAddress::Unix(PathBuf::from(DEFAULT_SOCKET)))
}

/// `currentContext` of the Docker CLI's config, when it names one other
/// than the default. The file is read with a bound.
fn config_context() -> Option<String> {
    let dir = match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".docker"),
    };
    let bytes = crate::secrets::read_bounded(&dir.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let context = config.get("currentContext")?.as_str()?;
    (!context.is_empty() && context != "default").then(|| context.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_usable_addresses_are_taken() {
        assert_eq!(
            parse("unix:///run/docker.sock", "DOCKER_HOST"),
            Ok(EngineAddress::Unix("/run/docker.sock".into()))
        );
        for raw in [
            "ssh://ops@db-1",
            "tcp://10.0.0.5:2376",
            "https://h:2376",
            "npipe:////./pipe/docker_engine",
            "fd://",
            "unix://relative.sock",
            "/var/run/docker.sock",
            "gopher://x",
        ] {
            let e = parse(raw, "DOCKER_HOST").unwrap_err();
            assert!(e.to_string().contains("refuses"), "{raw}: {e}");
        }
    }

    #[test]
    fn passwords_in_addresses_are_hidden() {
        assert_eq!(
            shown("ssh://ops:s3cret@db-1:22"),
            r#""ssh://ops:***@db-1:22""#
        );
        assert_eq!(shown("ssh://ops@db-1"), r#""ssh://ops@db-1""#);
        let e = parse("tcp://u:hunter2@h:2375/x", "DOCKER_HOST").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
