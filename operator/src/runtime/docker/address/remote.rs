//! The parts of a remote engine address (`ssh://USER@HOST:PORT`,
//! `tcp://HOST:PORT`). They reach the system `ssh` as arguments and a TLS
//! handshake as the server's name, so each part is held to the characters
//! a user or host name has: nothing that could read as an option (a host
//! `-oProxyCommand=...`), no spaces, quotes or control characters.

/// Longest host name (DNS allows 253 characters).
const MAX_HOST: usize = 253;
/// Longest user name turnout passes to ssh.
const MAX_USER: usize = 64;

/// `[USER@]HOST[:PORT]` of an `ssh://` address (the part after the scheme).
pub(super) fn ssh_parts(rest: &str) -> Result<(Option<String>, String, Option<u16>), String> {
    if rest.contains(['/', '?', '#']) {
        return Err("an ssh address names a host, not a path (ssh://USER@HOST[:PORT])".into());
    }
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((user, hostport)) => (Some(user), hostport),
        None => (None, rest),
    };
    let user = match user {
        None => None,
        Some(u) if u.contains(':') => {
            return Err(
                "a password in an ssh address is not supported; use a key (ssh-agent, or IdentityFile in ~/.ssh/config)"
                    .into(),
            );
        }
        Some(u) => Some(user_name(u)?),
    };
    let (host, port) = host_port(hostport)?;
    Ok((user, host, port))
}

/// `HOST[:PORT]` of a `tcp://` address (the part after the scheme).
pub(super) fn tcp_parts(rest: &str) -> Result<(String, Option<u16>), String> {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err("a tcp address names a host and port, not a path (tcp://HOST:PORT)".into());
    }
    if rest.contains('@') {
        return Err("a tcp address carries no user; TLS certificates say who turnout is".into());
    }
    host_port(rest)
}

fn user_name(u: &str) -> Result<String, String> {
    let ok = !u.is_empty()
        && u.len() <= MAX_USER
        && !u.starts_with('-')
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(u.to_string())
    } else {
        Err(format!(
            "the user name must be 1 to {MAX_USER} letters, digits, '.', '_' or '-', not starting with '-'"
        ))
    }
}

/// `HOST[:PORT]` or `[IPV6][:PORT]`.
fn host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (inside, after) = v6
            .split_once(']')
            .ok_or("an IPv6 address needs its closing ']'")?;
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err("the IPv6 address has characters an address cannot".into());
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("a port follows ']' after ':'")?),
        };
        (format!("[{inside}]"), port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (s.to_string(), None),
        }
    };
    let name_ok = host.starts_with('[')
        || (!host.is_empty()
            && host.len() <= MAX_HOST
            && !host.starts_with(['-', '.'])
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')));
    if !name_ok {
        return Err(format!(
            "the host must be a name or address: 1 to {MAX_HOST} letters, digits, '.', '-' or '_', not starting with '-' or '.'"
        ));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.chars().all(|c| c.is_ascii_digit()) => Some(n),
            _ => return Err("the port must be a number from 1 to 65535".into()),
        },
    };
    Ok((host, port))
}
