//! The host's listening sockets, read from `/proc/net`, with the process
//! holding each one where it can be found. Catches a non-Docker process on
//! a planned port before a switch begins.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use turnout_crds::port::Protocol;

use crate::core::Listener;

/// Where the host's listening sockets come from.
pub trait HostPorts: Send + Sync + 'static {
    fn listeners(&self) -> Vec<Listener>;
}

/// The real host, through `/proc`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcHost;

impl HostPorts for ProcHost {
    fn listeners(&self) -> Vec<Listener> {
        let mut all = Vec::new();
        for (file, proto) in [
            ("/proc/net/tcp", Protocol::Tcp),
            ("/proc/net/tcp6", Protocol::Tcp),
            ("/proc/net/udp", Protocol::Udp),
            ("/proc/net/udp6", Protocol::Udp),
        ] {
            if let Ok(text) = std::fs::read_to_string(file) {
                all.extend(parse_proc_net(&text, proto));
            }
        }
        if !all.is_empty() {
            let owners = socket_owners(Path::new("/proc"));
            for (l, inode) in &mut all {
                if let Some((pid, name)) = owners.get(inode) {
                    l.pid = Some(*pid);
                    l.process = Some(name.clone());
                }
            }
        }
        all.into_iter().map(|(l, _)| l).collect()
    }
}

/// A fixed set of listeners, for tests.
#[derive(Clone, Debug, Default)]
pub struct StaticHost(pub Vec<Listener>);

impl HostPorts for StaticHost {
    fn listeners(&self) -> Vec<Listener> {
        self.0.clone()
    }
}

/// Listening sockets (and their inode) in the text of a `/proc/net/{tcp,udp}[6]` file.
pub fn parse_proc_net(text: &str, protocol: Protocol) -> Vec<(Listener, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (f.get(1)?, f.get(3)?, f.get(9)?);
            // TCP: 0A is LISTEN. UDP: 07 is an unconnected (bound) socket.
            let listening = match protocol {
                Protocol::Tcp => *state == "0A",
                Protocol::Udp => *state == "07",
            };
            if !listening {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            let port = u16::from_str_radix(port, 16).ok()?;
            Some((
                Listener {
                    protocol,
                    address: parse_hex_addr(addr)?,
                    port,
                    pid: None,
                    process: None,
                },
                inode.parse().ok()?,
            ))
        })
        .collect()
}

/// `/proc/net` addresses are the in-kernel bytes printed as 32-bit
/// little-endian words.
fn parse_hex_addr(hex: &str) -> Option<IpAddr> {
    match hex.len() {
        8 => {
            let n = u32::from_str_radix(hex, 16).ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(n.swap_bytes())))
        }
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                let word = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// socket inode -> (pid, command name), from `/proc/*/fd`.
fn socket_owners(proc_root: &Path) -> HashMap<u64, (u32, String)> {
    let mut owners = HashMap::new();
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return owners;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let mut name = None;
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
            else {
                continue;
            };
            let name = name.get_or_insert_with(|| {
                std::fs::read_to_string(entry.path().join("comm"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default()
            });
            owners.entry(inode).or_insert((pid, name.clone()));
        }
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 00000000:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 100 0 0 10 0
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 444 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn parses_listening_ipv4_sockets_only() {
        let got = parse_proc_net(TCP, Protocol::Tcp);
        assert_eq!(got.len(), 2, "the established socket is not a listener");
        assert_eq!(got[0].0.address, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(got[0].0.port, 8080);
        assert_eq!(got[0].1, 12345);
        assert_eq!(got[1].0.address, "0.0.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(got[1].0.port, 3306);
    }

    #[test]
    fn parses_ipv6_loopback() {
        let got = parse_proc_net(TCP6, Protocol::Tcp);
        assert_eq!(got[0].0.address, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(got[0].0.port, 5432);
    }

    #[test]
    fn finds_this_process_listening() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let found = ProcHost.listeners();
        let me = found
            .iter()
            .find(|x| x.port == port && x.protocol == Protocol::Tcp)
            .expect("our own listener is visible in /proc/net/tcp");
        assert_eq!(me.pid, Some(std::process::id()));
    }
}
