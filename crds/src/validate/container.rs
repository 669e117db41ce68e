//! The rules for one container: image, command, environment, secrets,
//! volumes and readiness probe.

use std::collections::HashMap;

use super::{Placed, Report, ViolationKind};
use crate::names;
use crate::port::Protocol;

pub(super) fn check_container(c: &Placed, r: &mut Report) {
    check_image_and_command(c, r);
    check_env(c, r);
    check_secrets(c, r);
    check_volumes(c, r);
    if let Some(probe) = &c.spec.readiness {
        check_probe(c, probe, r);
    }
}

/// `c.path.field`.
fn at(c: &Placed, field: &str) -> String {
    format!("{}.{field}", c.path)
}

fn check_image_and_command(c: &Placed, r: &mut Report) {
    let spec = c.spec;
    let at = |field: &str| at(c, field);
    if spec.image.trim().is_empty() || spec.image.chars().any(char::is_whitespace) {
        r.push(
            ViolationKind::InvalidContainer,
            at("image"),
            format!(
                "{}: image {:?} is not an image reference (e.g. mysql:8.0)",
                c.describe(),
                spec.image
            ),
        );
    }
    if spec.command.first().is_some_and(|a| a.is_empty()) {
        r.push(
            ViolationKind::InvalidContainer,
            at("command[0]"),
            format!(
                "{}: the command's first element (the program) is empty",
                c.describe()
            ),
        );
    }
}

/// Names valid and unique, and nothing that looks like a secret in plain sight.
fn check_env(c: &Placed, r: &mut Report) {
    let (spec, at) = (c.spec, |field: &str| at(c, field));
    let mut env_seen: HashMap<&str, usize> = HashMap::new();
    for (i, e) in spec.env.iter().enumerate() {
        let path = at(&format!("env[{i}]"));
        if let Some(p) = names::env_name_problem(&e.name) {
            r.push(ViolationKind::InvalidName, format!("{path}.name"), p);
        }
        if env_seen.insert(&e.name, i).is_some() {
            r.push(
                ViolationKind::DuplicateName,
                format!("{path}.name"),
                format!(
                    "{}: environment variable {} is set twice",
                    c.describe(),
                    e.name
                ),
            );
        }
        if names::looks_secret(&e.name) && !e.value.is_empty() {
            r.push_full(
                ViolationKind::SecretInEnvironment,
                format!("{path}.value"),
                vec![c.spec.name.clone()],
                None,
                format!(
                    "{}: {} looks like a secret, and a plain env value is visible to anyone who can `docker inspect` the container; move it to `secrets` (a read-only file) and point the image at it, e.g. {}_FILE",
                    c.describe(), e.name, e.name
                ),
            );
        }
    }
}

/// Secret files: valid unique names, absolute paths, exactly one source,
/// and an `adminSecret` that is one of them.
fn check_secrets(c: &Placed, r: &mut Report) {
    let (spec, at) = (c.spec, |field: &str| at(c, field));
    let mut secret_seen: HashMap<&str, usize> = HashMap::new();
    for (i, s) in spec.secrets.iter().enumerate() {
        let path = at(&format!("secrets[{i}]"));
        if let Some(p) = names::container_name_problem(&s.name) {
            r.push(
                ViolationKind::InvalidName,
                format!("{path}.name"),
                format!("secret name {p}"),
            );
        }
        if secret_seen.insert(&s.name, i).is_some() {
            r.push(
                ViolationKind::DuplicateName,
                format!("{path}.name"),
                format!("{}: secret {} is listed twice", c.describe(), s.name),
            );
        }
        if !s.path.starts_with('/') {
            r.push(
                ViolationKind::InvalidSecret,
                format!("{path}.path"),
                format!(
                    "{}: secret path {:?} must be absolute, e.g. /run/secrets/{}",
                    c.describe(),
                    s.path,
                    s.name
                ),
            );
        }
        let sources = [
            s.from.env.is_some(),
            s.from.file.is_some(),
            s.from.secret_key_ref.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if sources != 1 {
            r.push(
                ViolationKind::InvalidSecret,
                format!("{path}.from"),
                format!(
                    "{}: secret {} must name exactly one source (env, file or secretKeyRef); it names {sources}",
                    c.describe(), s.name
                ),
            );
        }
    }
    if let Some(admin) = &spec.admin_secret
        && !spec.secrets.iter().any(|s| &s.name == admin)
    {
        r.push(
            ViolationKind::InvalidSecret,
            at("adminSecret"),
            format!(
                "{}: adminSecret names {admin:?}, which is not one of its secrets; add it under secrets",
                c.describe()
            ),
        );
    }
}

fn check_volumes(c: &Placed, r: &mut Report) {
    let (spec, at) = (c.spec, |field: &str| at(c, field));
    let mut targets: HashMap<&str, String> = HashMap::new();
    for (i, v) in spec.volumes.iter().enumerate() {
        let path = at(&format!("volumes[{i}]"));
        if let Some(p) = names::volume_name_problem(&v.name) {
            r.push(
                ViolationKind::InvalidName,
                format!("{path}.name"),
                format!("volume name {p}"),
            );
        }
        check_target(c, &v.path, format!("{path}.path"), &mut targets, r);
    }
    for (i, b) in spec.binds.iter().enumerate() {
        let path = at(&format!("binds[{i}]"));
        if let Some(why) = super::binds::bind_problem(&b.host, b.read_only) {
            r.push_full(
                ViolationKind::InvalidMount,
                format!("{path}.host"),
                vec![spec.name.clone()],
                None,
                format!(
                    "{}: bind mount of {} is refused: {why}",
                    c.describe(),
                    names::shown(&b.host)
                ),
            );
        }
        check_target(c, &b.path, format!("{path}.path"), &mut targets, r);
    }
}

/// A mount's path in the container: absolute, and used by one mount only.
fn check_target<'a>(
    c: &Placed,
    target: &'a str,
    path: String,
    seen: &mut HashMap<&'a str, String>,
    r: &mut Report,
) {
    if !target.starts_with('/') {
        r.push(
            ViolationKind::InvalidContainer,
            path,
            format!("{}: mount path {:?} must be absolute", c.describe(), target),
        );
    } else if let Some(first) = seen.insert(target.trim_end_matches('/'), path.clone()) {
        r.push(
            ViolationKind::InvalidMount,
            path,
            format!(
                "{}: {target} is mounted twice (also at {first}); one mount per path",
                c.describe()
            ),
        );
    }
}

/// One kind of probe, on a port the container publishes, with a usable
/// command or path.
fn check_probe(c: &Placed, probe: &crate::plan::Probe, r: &mut Report) {
    let spec = c.spec;
    {
        let path = at(c, "readiness");
        let kinds = [
            probe.tcp.is_some(),
            probe.http.is_some(),
            probe.exec.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if kinds != 1 {
            r.push(
                ViolationKind::InvalidProbe,
                path.clone(),
                format!("{}: a readiness probe sets exactly one of tcp, http or exec; this one sets {kinds}", c.describe()),
            );
        }
        let probe_port = probe
            .tcp
            .as_ref()
            .map(|t| (t.port, "tcp"))
            .or(probe.http.as_ref().map(|h| (h.port, "http")));
        if let Some((port, field)) = probe_port {
            let published = spec
                .ports
                .iter()
                .any(|p| p.container == port && p.protocol == Protocol::Tcp);
            if !published {
                r.push_full(
                    ViolationKind::InvalidProbe,
                    format!("{path}.{field}.port"),
                    vec![spec.name.clone()],
                    Some(port.get()),
                    format!(
                        "{}: the readiness probe checks container port {port}, which the container does not publish over tcp; publish it under ports or use an exec probe",
                        c.describe()
                    ),
                );
            }
        }
        if let Some(exec) = &probe.exec
            && exec.command.first().is_none_or(|a| a.is_empty())
        {
            r.push(
                ViolationKind::InvalidProbe,
                format!("{path}.exec.command"),
                format!("{}: the exec probe's command is empty", c.describe()),
            );
        }
        if let Some(h) = &probe.http
            && !h.path.starts_with('/')
        {
            r.push(
                ViolationKind::InvalidProbe,
                format!("{path}.http.path"),
                format!(
                    "{}: the http probe path {:?} must start with /",
                    c.describe(),
                    h.path
                ),
            );
        }
    }
}
