//! Writing the imported plan as YAML a person reads: every scalar quoted
//! (JSON strings are YAML), comments where the person must act (secrets to
//! fill, settings that were not carried over), a selection of the version
//! that runs.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use turnout_crds::names::shown;

use super::{Found, FoundMount, Sorted, clean, engine_of, is_secret};

/// A scalar, quoted.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

fn argv(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|a| q(a)).collect();
    format!("[{}]", items.join(", "))
}

/// The range a version's host port falls in: its hundred (8000-8099).
fn range_of(port: u16) -> (u16, u16) {
    let from = port - port % 100;
    (from, from.saturating_add(99))
}

/// What the plan writer needs besides the containers.
pub struct Names<'a> {
    pub plan: &'a str,
    pub selection: &'a str,
    /// Where the person puts secret values: `<dir>/<container>/<secret>`.
    pub secrets_dir: &'a Path,
}

/// The plan (and a selection of the running version) as YAML, and the
/// warnings: what was left out or could not be carried over.
pub fn to_yaml(sorted: &Sorted, names: &Names<'_>) -> (String, Vec<String>) {
    let mut y = String::new();
    let mut warnings: Vec<String> = sorted
        .left_out
        .iter()
        .map(|(n, why)| format!("container {} was left out: {}", shown(n), clean(why)))
        .collect();
    // No newline: `[]` or the entries follow.
    let _ = write!(
        y,
        "# Imported by `turnout import`. Review every line before applying:\n# `turnout validate` this file, then `turnout apply --adopt` it.\napiVersion: turnout.dev/v1alpha1\nkind: PortPlan\nmetadata:\n  name: {}\nspec:\n  # Containers of this plan that exist without turnout's labels are taken\n  # over (adopted) when their image and mounts match; the originals are kept.\n  adopt: true\n  infrastructure:",
        q(names.plan)
    );
    if sorted.infrastructure.is_empty() {
        y.push_str(" []\n");
    } else {
        y.push('\n');
    }
    for c in &sorted.infrastructure {
        container(&mut y, c, None, names, &mut warnings);
    }
    y.push_str(if sorted.versions.is_empty() {
        "  versions: []\n"
    } else {
        "  versions:\n"
    });
    for (v, cs) in &sorted.versions {
        let _ = writeln!(y, "    - name: {}", q(v));
        let ranges: BTreeSet<(u16, u16)> = cs
            .iter()
            .flat_map(|c| c.ports.iter().map(|p| range_of(p.host)))
            .collect();
        if !ranges.is_empty() {
            y.push_str("      ranges:\n");
            for (from, to) in &ranges {
                let _ = writeln!(
                    y,
                    "        - {{name: \"ports-{from}\", from: {from}, to: {to}}}"
                );
            }
        }
        y.push_str("      containers:\n");
        for c in cs {
            container(&mut y, c, Some(v), names, &mut warnings);
        }
    }
    let active = sorted.active_version().unwrap_or_default();
    let _ = writeln!(
        y,
        "---\napiVersion: turnout.dev/v1alpha1\nkind: VersionSelection\nmetadata:\n  name: {}\nspec:\n  planRef: {}\n  # The version whose containers were running when the host was read.\n  activeVersion: {}",
        q(names.selection),
        q(names.plan),
        q(&active)
    );
    (y, warnings)
}

/// One container's entry; `version` is None for infrastructure.
fn container(
    y: &mut String,
    c: &Found,
    version: Option<&str>,
    names: &Names<'_>,
    warnings: &mut Vec<String>,
) {
    let pad = if version.is_some() {
        "        "
    } else {
        "    "
    };
    let _ = writeln!(y, "{pad}- name: {}", q(&c.name));
    let _ = writeln!(y, "{pad}  image: {}", q(&c.image));
    if version.is_none()
        && let Some(engine) = engine_of(&c.image)
    {
        let _ = writeln!(
            y,
            "{pad}  engine: {engine}  # guessed from the image's name"
        );
    }
    if !c.command.is_empty() {
        let _ = writeln!(y, "{pad}  command: {}", argv(&c.command));
    }
    env_and_secrets(y, c, pad, names, warnings);
    if !c.ports.is_empty() {
        let _ = writeln!(y, "{pad}  ports:");
        for p in &c.ports {
            let mut entry = format!("host: {}, container: {}", p.host, p.container);
            if p.udp {
                entry.push_str(", protocol: udp");
            }
            if let Some(ip) = &p.ip {
                let _ = write!(entry, ", bindAddress: {}", q(ip));
            }
            if version.is_some() {
                let _ = write!(entry, ", range: \"ports-{}\"", range_of(p.host).0);
            }
            let _ = writeln!(y, "{pad}    - {{{entry}}}");
        }
    }
    mounts(y, c, pad, warnings);
    probe(y, c, pad);
    if let Some(t) = c.stop_timeout {
        let _ = writeln!(y, "{pad}  stopTimeoutSeconds: {t}");
    }
    for u in &c.unsupported {
        let u = clean(u);
        warnings.push(format!("{}: {u}", c.name));
        let _ = writeln!(y, "{pad}  # not carried over: {u}");
    }
}

/// The secret's name for variable `var`, which is also a file name (under
/// the secrets directory, and under /run/secrets in the container): a
/// variable named `A/../../etc/x_TOKEN` must not name a file elsewhere.
fn secret_name(var: &str) -> String {
    let mut name = String::new();
    for c in var.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-');
    let name: String = name.chars().take(63).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        "secret".to_string()
    } else {
        name.to_string()
    }
}

/// Plain environment as is; a value that looks secret becomes a secret
/// file the person fills, and the variable points at it (`NAME_FILE`).
fn env_and_secrets(
    y: &mut String,
    c: &Found,
    pad: &str,
    names: &Names<'_>,
    warnings: &mut Vec<String>,
) {
    type Vars<'a> = Vec<&'a (String, String)>;
    let (secret, plain): (Vars<'_>, Vars<'_>) = c.env.iter().partition(|(k, v)| is_secret(k, v));
    if !plain.is_empty() || !secret.is_empty() {
        let _ = writeln!(y, "{pad}  env:");
    }
    for (k, v) in &plain {
        let _ = writeln!(y, "{pad}    - {{name: {}, value: {}}}", q(k), q(v));
    }
    for (k, _) in &secret {
        let _ = writeln!(
            y,
            "{pad}    - {{name: {}, value: {}}}",
            q(&format!("{k}_FILE")),
            q(&format!("/run/secrets/{}", secret_name(k)))
        );
    }
    if secret.is_empty() {
        return;
    }
    let _ = writeln!(y, "{pad}  secrets:");
    for (k, _) in &secret {
        let secret = secret_name(k);
        let file = names.secrets_dir.join(&c.name).join(&secret);
        let (k, shown_file) = (clean(k), clean(&file.display().to_string()));
        warnings.push(format!(
            "{}: {k} looked like a secret and its value was not written out; put it in {shown_file} (root-only), and check that the image reads {k}_FILE",
            c.name,
        ));
        let _ = writeln!(
            y,
            "{pad}    # {k} was set in the environment; its value is not copied here.\n{pad}    # Put it in {shown_file} (mode 0400) and check that the image reads {k}_FILE.",
        );
        let _ = writeln!(
            y,
            "{pad}    - {{name: {}, path: {}, from: {{file: {}}}}}",
            q(&secret),
            q(&format!("/run/secrets/{secret}")),
            q(&file.display().to_string())
        );
    }
}

fn mounts(y: &mut String, c: &Found, pad: &str, warnings: &mut Vec<String>) {
    let volumes: Vec<&FoundMount> = c
        .mounts
        .iter()
        .filter(|m| matches!(m, FoundMount::Volume { .. }))
        .collect();
    if !volumes.is_empty() {
        let _ = writeln!(y, "{pad}  volumes:");
    }
    for m in volumes {
        if let FoundMount::Volume {
            name,
            path,
            read_only,
            anonymous,
        } = m
        {
            let ro = if *read_only { ", readOnly: true" } else { "" };
            let note = if *anonymous {
                "  # an anonymous volume, kept by its name"
            } else {
                ""
            };
            let _ = writeln!(
                y,
                "{pad}    - {{name: {}, path: {}{ro}}}{note}",
                q(name),
                q(path)
            );
        }
    }
    let binds: Vec<&FoundMount> = c
        .mounts
        .iter()
        .filter(|m| matches!(m, FoundMount::Bind { .. }))
        .collect();
    if !binds.is_empty() {
        let _ = writeln!(y, "{pad}  binds:");
    }
    for m in binds {
        if let FoundMount::Bind {
            host,
            path,
            read_only,
        } = m
        {
            let ro = if *read_only { ", readOnly: true" } else { "" };
            let _ = writeln!(y, "{pad}    - {{host: {}, path: {}{ro}}}", q(host), q(path));
        }
    }
    for m in &c.mounts {
        if let FoundMount::Other { kind, path } = m {
            let u = clean(&format!("a {kind} mount at {path}"));
            warnings.push(format!("{}: {u} is not carried over", c.name));
            let _ = writeln!(y, "{pad}  # not carried over: {u}");
        }
    }
}

/// The health check as an exec probe; else a TCP probe on the first
/// published TCP port; else none (ready once running).
fn probe(y: &mut String, c: &Found, pad: &str) {
    if let Some(cmd) = &c.health {
        let _ = writeln!(
            y,
            "{pad}  readiness: {{exec: {{command: {}}}}}  # from its health check",
            argv(cmd)
        );
    } else if let Some(p) = c.ports.iter().find(|p| !p.udp) {
        let _ = writeln!(y, "{pad}  readiness: {{tcp: {{port: {}}}}}", p.container);
    }
}

#[cfg(test)]
mod tests;
