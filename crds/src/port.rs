//! Typed ports, protocols and bind addresses.
//!
//! A port is 1-65535 by construction: `0` or `70000` in a plan is a parse
//! error at that line, not a value that later confuses Docker.

use std::fmt;
use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// A TCP or UDP port number, 1-65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Port(u16);

impl Port {
    /// A port, or `None` for 0.
    pub const fn new(n: u16) -> Option<Port> {
        if n == 0 { None } else { Some(Port(n)) }
    }

    pub const fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        u16::try_from(n).ok().and_then(Port::new).ok_or_else(|| {
            serde::de::Error::custom(format!("port {n} is out of range: a port is 1-65535"))
        })
    }
}

impl JsonSchema for Port {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Port".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "format": "int32",
            "minimum": 1,
            "maximum": 65535,
        })
    }

    fn inline_schema() -> bool {
        true
    }
}

/// Transport protocol of a published port.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host address a port is published on: an IPv4 or IPv6 address.
///
/// `0.0.0.0` means every IPv4 address, `::` every IPv6 address. A port
/// without a bind address is published on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BindAddress(pub IpAddr);

impl BindAddress {
    /// Whether a listener on `self` and one on `other` (same port and
    /// protocol) would fight for the same socket.
    pub fn overlaps(self, other: BindAddress) -> bool {
        let (a, b) = (self.0, other.0);
        if a.is_ipv4() != b.is_ipv4() {
            return false;
        }
        a == b || a.is_unspecified() || b.is_unspecified()
    }
}

impl fmt::Display for BindAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl JsonSchema for BindAddress {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BindAddress".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "An IPv4 or IPv6 address, e.g. 127.0.0.1 or ::1",
        })
    }

    fn inline_schema() -> bool {
        true
    }
}

/// Whether two optional bind addresses overlap; `None` is every address of
/// both families.
pub fn bind_overlaps(a: Option<BindAddress>, b: Option<BindAddress>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.overlaps(b),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Option<BindAddress> {
        Some(BindAddress(s.parse().unwrap()))
    }

    #[test]
    fn port_zero_and_too_large_are_refused() {
        assert!(serde_json::from_str::<Port>("0").is_err());
        assert!(serde_json::from_str::<Port>("65536").is_err());
        assert!(serde_json::from_str::<Port>("-1").is_err());
        assert_eq!(serde_json::from_str::<Port>("65535").unwrap().get(), 65535);
        assert_eq!(serde_json::from_str::<Port>("1").unwrap().get(), 1);
    }

    #[test]
    fn bind_addresses_of_different_families_never_overlap() {
        assert!(!bind_overlaps(addr("127.0.0.1"), addr("::1")));
        assert!(!bind_overlaps(addr("0.0.0.0"), addr("::")));
        assert!(!bind_overlaps(addr("0.0.0.0"), addr("::1")));
    }

    #[test]
    fn unspecified_overlaps_its_own_family() {
        assert!(bind_overlaps(addr("0.0.0.0"), addr("127.0.0.1")));
        assert!(bind_overlaps(addr("::"), addr("::1")));
        assert!(bind_overlaps(None, addr("::1")));
        assert!(bind_overlaps(None, addr("10.0.0.1")));
        assert!(!bind_overlaps(addr("127.0.0.1"), addr("127.0.0.2")));
    }
}
