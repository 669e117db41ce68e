//! Validation of a plan, a selection and a sync: pure functions over the API
//! types, returning every violation found (not just the first), each with
//! the path of the offending field and a sentence a person understands.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;

use crate::datasync::DataSyncSpec;
use crate::names;
use crate::plan::{ContainerSpec, PortPlanSpec, PortRange, PublishedPort};
use crate::port::{Protocol, bind_overlaps};
use crate::selection::VersionSelectionSpec;

/// The rule a violation breaks; a stable name for metrics and reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ViolationKind {
    /// Two things that run at the same time publish the same host port.
    PortConflict,
    /// A published port lies outside the range it names.
    PortOutsideRange,
    /// A published port names a range its version does not have.
    UnknownRange,
    /// A version's published port names no range.
    MissingRange,
    /// Two ranges of one version overlap.
    RangeOverlap,
    /// A range ends before it starts.
    RangeInverted,
    /// A version's range contains a port the infrastructure publishes.
    RangeCoversInfrastructurePort,
    /// Ranges of versions that may run together overlap.
    RangeCollision,
    /// Two things that must have distinct names share one.
    DuplicateName,
    /// A name Docker (or a label) would refuse.
    InvalidName,
    /// A reference to a container the plan does not have.
    UnknownContainer,
    /// A reference to a version the plan does not have.
    UnknownVersion,
    /// A selection or sync names a plan other than the one given.
    UnknownPlan,
    /// A readiness probe that cannot work.
    InvalidProbe,
    /// A data binding that cannot be synced.
    InvalidDataBinding,
    /// A secret with no single source, or a bad path.
    InvalidSecret,
    /// A plain environment variable that looks like it carries a secret.
    SecretInEnvironment,
    /// An empty or malformed image reference, command or mount.
    InvalidContainer,
    /// A plan without versions, or a sync that goes nowhere.
    Empty,
}

impl ViolationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::PortConflict => "PortConflict",
            ViolationKind::PortOutsideRange => "PortOutsideRange",
            ViolationKind::UnknownRange => "UnknownRange",
            ViolationKind::MissingRange => "MissingRange",
            ViolationKind::RangeOverlap => "RangeOverlap",
            ViolationKind::RangeInverted => "RangeInverted",
            ViolationKind::RangeCoversInfrastructurePort => "RangeCoversInfrastructurePort",
            ViolationKind::RangeCollision => "RangeCollision",
            ViolationKind::DuplicateName => "DuplicateName",
            ViolationKind::InvalidName => "InvalidName",
            ViolationKind::UnknownContainer => "UnknownContainer",
            ViolationKind::UnknownVersion => "UnknownVersion",
            ViolationKind::UnknownPlan => "UnknownPlan",
            ViolationKind::InvalidProbe => "InvalidProbe",
            ViolationKind::InvalidDataBinding => "InvalidDataBinding",
            ViolationKind::InvalidSecret => "InvalidSecret",
            ViolationKind::SecretInEnvironment => "SecretInEnvironment",
            ViolationKind::InvalidContainer => "InvalidContainer",
            ViolationKind::Empty => "Empty",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which rule.
    pub kind: ViolationKind,
    /// The offending field, e.g. `spec.versions[2].containers[0].ports[0].host`.
    pub path: String,
    /// The names of the things involved (both sides of a collision).
    pub subjects: Vec<String>,
    /// The port involved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// What is wrong and what to do, for a person.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Collects violations while walking a document.
#[derive(Default)]
struct Report {
    found: Vec<Violation>,
}

impl Report {
    fn push(&mut self, kind: ViolationKind, path: impl Into<String>, message: impl Into<String>) {
        self.found.push(Violation {
            kind,
            path: path.into(),
            subjects: Vec::new(),
            port: None,
            message: message.into(),
        });
    }

    fn push_full(
        &mut self,
        kind: ViolationKind,
        path: String,
        subjects: Vec<String>,
        port: Option<u16>,
        message: String,
    ) {
        self.found.push(Violation {
            kind,
            path,
            subjects,
            port,
            message,
        });
    }
}

/// Who runs a container: the infrastructure (always) or a version.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner<'a> {
    Infrastructure,
    /// The version's index in the plan, and its name.
    Version(usize, &'a str),
}

/// A container of the plan and where it sits.
struct Placed<'a> {
    owner: Owner<'a>,
    path: String,
    spec: &'a ContainerSpec,
}

impl Placed<'_> {
    fn describe(&self) -> String {
        match self.owner {
            Owner::Infrastructure => format!("infrastructure container {}", self.spec.name),
            Owner::Version(_, v) => format!("container {} of version {v}", self.spec.name),
        }
    }
}

fn placed(plan: &PortPlanSpec) -> Vec<Placed<'_>> {
    let mut all: Vec<Placed> = plan
        .infrastructure
        .iter()
        .enumerate()
        .map(|(i, spec)| Placed {
            owner: Owner::Infrastructure,
            path: format!("spec.infrastructure[{i}]"),
            spec,
        })
        .collect();
    for (vi, v) in plan.versions.iter().enumerate() {
        for (ci, spec) in v.containers.iter().enumerate() {
            all.push(Placed {
                owner: Owner::Version(vi, &v.name),
                path: format!("spec.versions[{vi}].containers[{ci}]"),
                spec,
            });
        }
    }
    all
}

/// Every violation of the plan's rules; empty when the plan is valid.
pub fn validate_plan(plan: &PortPlanSpec) -> Vec<Violation> {
    let mut r = Report::default();
    let containers = placed(plan);
    if plan.versions.is_empty() {
        r.push(
            ViolationKind::Empty,
            "spec.versions",
            "the plan has no versions; add at least one under spec.versions",
        );
    }
    check_version_names(plan, &mut r);
    check_container_names(&containers, &mut r);
    for c in &containers {
        check_container(c, &mut r);
    }
    for (vi, v) in plan.versions.iter().enumerate() {
        check_ranges(vi, &v.name, &v.ranges, &mut r);
    }
    check_port_ranges(plan, &containers, &mut r);
    check_port_conflicts(plan, &containers, &mut r);
    check_ranges_against_infrastructure(plan, &mut r);
    if !plan.exclusive_versions {
        check_ranges_across_versions(plan, &mut r);
    }
    check_data_bindings(plan, &mut r);
    r.found
}

fn check_version_names(plan: &PortPlanSpec, r: &mut Report) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, v) in plan.versions.iter().enumerate() {
        let path = format!("spec.versions[{i}].name");
        if let Some(p) = names::label_name_problem(&v.name) {
            r.push(
                ViolationKind::InvalidName,
                &path,
                format!("version name {p}"),
            );
        }
        if let Some(first) = seen.insert(&v.name, i) {
            r.push_full(
                ViolationKind::DuplicateName,
                path,
                vec![v.name.clone()],
                None,
                format!(
                    "version {:?} is defined twice (first at spec.versions[{first}]); version names must be unique",
                    v.name
                ),
            );
        }
    }
}

fn check_container_names(containers: &[Placed], r: &mut Report) {
    let mut seen: HashMap<&str, &Placed> = HashMap::new();
    for c in containers {
        let path = format!("{}.name", c.path);
        if let Some(p) = names::container_name_problem(&c.spec.name) {
            r.push(
                ViolationKind::InvalidName,
                path.clone(),
                format!("container name {p}"),
            );
        }
        if let Some(first) = seen.insert(&c.spec.name, c) {
            r.push_full(
                ViolationKind::DuplicateName,
                path,
                vec![first.describe(), c.describe()],
                None,
                format!(
                    "container name {:?} is used twice ({} at {}); Docker container names are unique on a host, so give each a distinct name",
                    c.spec.name, first.describe(), first.path
                ),
            );
        }
    }
}

fn check_container(c: &Placed, r: &mut Report) {
    let spec = c.spec;
    let at = |field: &str| format!("{}.{field}", c.path);
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
    for (i, v) in spec.volumes.iter().enumerate() {
        let path = at(&format!("volumes[{i}]"));
        if let Some(p) = names::container_name_problem(&v.name) {
            r.push(
                ViolationKind::InvalidName,
                format!("{path}.name"),
                format!("volume name {p}"),
            );
        }
        if !v.path.starts_with('/') {
            r.push(
                ViolationKind::InvalidContainer,
                format!("{path}.path"),
                format!("{}: mount path {:?} must be absolute", c.describe(), v.path),
            );
        }
    }
    if let Some(probe) = &spec.readiness {
        let path = at("readiness");
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

fn range_text(r: &PortRange) -> String {
    format!("{} ({}-{})", r.name, r.from, r.to)
}

fn check_ranges(vi: usize, version: &str, ranges: &[PortRange], r: &mut Report) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, range) in ranges.iter().enumerate() {
        let path = format!("spec.versions[{vi}].ranges[{i}]");
        if let Some(p) = names::label_name_problem(&range.name) {
            r.push(
                ViolationKind::InvalidName,
                format!("{path}.name"),
                format!("range name {p}"),
            );
        }
        if let Some(first) = seen.insert(&range.name, i) {
            r.push(
                ViolationKind::DuplicateName,
                format!("{path}.name"),
                format!(
                    "version {version} has two ranges named {} (first at spec.versions[{vi}].ranges[{first}])",
                    range.name
                ),
            );
        }
        if range.from > range.to {
            r.push_full(
                ViolationKind::RangeInverted,
                format!("{path}.to"),
                vec![range.name.clone()],
                Some(range.to.get()),
                format!(
                    "range {} of version {version} ends ({}) before it starts ({}); write from <= to",
                    range.name, range.to, range.from
                ),
            );
        }
    }
    for (i, a) in ranges.iter().enumerate() {
        for (j, b) in ranges.iter().enumerate().skip(i + 1) {
            if a.from <= a.to && b.from <= b.to && a.overlaps(b) {
                let shared = a.from.max(b.from);
                r.push_full(
                    ViolationKind::RangeOverlap,
                    format!("spec.versions[{vi}].ranges[{j}]"),
                    vec![a.name.clone(), b.name.clone()],
                    Some(shared.get()),
                    format!(
                        "ranges {} and {} of version {version} overlap (both contain port {shared}); ranges of one version must be disjoint",
                        range_text(a),
                        range_text(b)
                    ),
                );
            }
        }
    }
}

fn check_port_ranges(plan: &PortPlanSpec, containers: &[Placed], r: &mut Report) {
    for c in containers {
        let Owner::Version(vi, version) = c.owner else {
            for (pi, p) in c.spec.ports.iter().enumerate() {
                if let Some(range) = &p.range {
                    r.push(
                        ViolationKind::UnknownRange,
                        format!("{}.ports[{pi}].range", c.path),
                        format!(
                            "{} names range {range}, but infrastructure has no ranges; remove the field",
                            c.describe()
                        ),
                    );
                }
            }
            continue;
        };
        let Some(v) = plan.versions.get(vi) else {
            continue;
        };
        for (pi, p) in c.spec.ports.iter().enumerate() {
            let path = format!("{}.ports[{pi}]", c.path);
            let Some(range_name) = &p.range else {
                r.push_full(
                    ViolationKind::MissingRange,
                    format!("{path}.range"),
                    vec![c.spec.name.clone()],
                    Some(p.host.get()),
                    format!(
                        "{} publishes host port {} without naming a range; set range to one of version {version}'s ranges ({})",
                        c.describe(),
                        p.host,
                        range_list(&v.ranges)
                    ),
                );
                continue;
            };
            match v.ranges.iter().find(|x| &x.name == range_name) {
                None => r.push_full(
                    ViolationKind::UnknownRange,
                    format!("{path}.range"),
                    vec![c.spec.name.clone(), range_name.clone()],
                    Some(p.host.get()),
                    format!(
                        "{} names range {range_name}, which version {version} does not have; its ranges are {}",
                        c.describe(),
                        range_list(&v.ranges)
                    ),
                ),
                Some(range) if !range.contains(p.host) => r.push_full(
                    ViolationKind::PortOutsideRange,
                    format!("{path}.host"),
                    vec![c.spec.name.clone(), range.name.clone()],
                    Some(p.host.get()),
                    format!(
                        "{} publishes host port {}, outside its range {}; pick a port from {} to {}",
                        c.describe(),
                        p.host,
                        range_text(range),
                        range.from,
                        range.to
                    ),
                ),
                Some(_) => {}
            }
        }
    }
}

fn range_list(ranges: &[PortRange]) -> String {
    if ranges.is_empty() {
        return "none: add one under ranges".to_string();
    }
    ranges.iter().map(range_text).collect::<Vec<_>>().join(", ")
}

fn check_port_conflicts(plan: &PortPlanSpec, containers: &[Placed], r: &mut Report) {
    struct Publisher<'a, 'b> {
        container: &'b Placed<'a>,
        path: String,
        port: &'a PublishedPort,
    }
    let mut by_port: BTreeMap<(u16, Protocol), Vec<Publisher>> = BTreeMap::new();
    for c in containers {
        for (pi, port) in c.spec.ports.iter().enumerate() {
            by_port
                .entry((port.host.get(), port.protocol))
                .or_default()
                .push(Publisher {
                    container: c,
                    path: format!("{}.ports[{pi}]", c.path),
                    port,
                });
        }
    }
    for ((host, proto), pubs) in &by_port {
        for (j, b) in pubs.iter().enumerate() {
            for a in &pubs[..j] {
                let together = a.container.owner == Owner::Infrastructure
                    || b.container.owner == Owner::Infrastructure
                    || a.container.owner == b.container.owner
                    || !plan.exclusive_versions;
                if !together || !bind_overlaps(a.port.bind_address, b.port.bind_address) {
                    continue;
                }
                let why = if a.container.owner == b.container.owner
                    && a.container.owner != Owner::Infrastructure
                {
                    "they run together"
                } else if a.container.owner == Owner::Infrastructure
                    || b.container.owner == Owner::Infrastructure
                {
                    "infrastructure runs alongside every version"
                } else {
                    "the plan lets versions run together (exclusiveVersions: false)"
                };
                r.push_full(
                    ViolationKind::PortConflict,
                    format!("{}.host", b.path),
                    vec![a.container.spec.name.clone(), b.container.spec.name.clone()],
                    Some(*host),
                    format!(
                        "host port {host}/{proto} is published by both {} ({}) and {}; {why}, so the second would fail to start. Give one of them another host port",
                        a.container.describe(),
                        a.path,
                        b.container.describe()
                    ),
                );
            }
        }
    }
}

fn check_ranges_against_infrastructure(plan: &PortPlanSpec, r: &mut Report) {
    let mut infra_ports: Vec<(u16, &str, String)> = Vec::new();
    for (ci, c) in plan.infrastructure.iter().enumerate() {
        for (pi, p) in c.ports.iter().enumerate() {
            infra_ports.push((
                p.host.get(),
                &c.name,
                format!("spec.infrastructure[{ci}].ports[{pi}]"),
            ));
        }
    }
    infra_ports.sort();
    infra_ports.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    for (vi, v) in plan.versions.iter().enumerate() {
        for (ri, range) in v.ranges.iter().enumerate() {
            let start = infra_ports.partition_point(|(p, _, _)| *p < range.from.get());
            for (port, owner, owner_path) in infra_ports[start..]
                .iter()
                .take_while(|(p, _, _)| *p <= range.to.get())
            {
                r.push_full(
                    ViolationKind::RangeCoversInfrastructurePort,
                    format!("spec.versions[{vi}].ranges[{ri}]"),
                    vec![format!("{}/{}", v.name, range.name), owner.to_string()],
                    Some(*port),
                    format!(
                        "range {} of version {} contains port {port}, which infrastructure container {owner} publishes ({owner_path}); infrastructure runs alongside every version, so move the range off port {port}",
                        range_text(range),
                        v.name
                    ),
                );
            }
        }
    }
}

fn check_ranges_across_versions(plan: &PortPlanSpec, r: &mut Report) {
    for (vi, v) in plan.versions.iter().enumerate() {
        for (wi, w) in plan.versions.iter().enumerate().skip(vi + 1) {
            for a in &v.ranges {
                for (bi, b) in w.ranges.iter().enumerate() {
                    if a.from <= a.to && b.from <= b.to && a.overlaps(b) {
                        let shared = a.from.max(b.from);
                        r.push_full(
                            ViolationKind::RangeCollision,
                            format!("spec.versions[{wi}].ranges[{bi}]"),
                            vec![format!("{}/{}", v.name, a.name), format!("{}/{}", w.name, b.name)],
                            Some(shared.get()),
                            format!(
                                "range {} of version {} overlaps range {} of version {} (port {shared}); with exclusiveVersions: false versions run together, so their ranges must be disjoint",
                                range_text(a),
                                v.name,
                                range_text(b),
                                w.name
                            ),
                        );
                    }
                }
            }
        }
    }
}

fn check_data_bindings(plan: &PortPlanSpec, r: &mut Report) {
    for (vi, v) in plan.versions.iter().enumerate() {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (bi, b) in v.data.iter().enumerate() {
            let path = format!("spec.versions[{vi}].data[{bi}]");
            if let Some(p) = names::label_name_problem(&b.name) {
                r.push(
                    ViolationKind::InvalidName,
                    format!("{path}.name"),
                    format!("data binding name {p}"),
                );
            }
            if seen.insert(&b.name, bi).is_some() {
                r.push(
                    ViolationKind::DuplicateName,
                    format!("{path}.name"),
                    format!("version {} has two data bindings named {}", v.name, b.name),
                );
            }
            let infra = plan.infrastructure.iter().find(|c| c.name == b.container);
            let own = v.containers.iter().find(|c| c.name == b.container);
            if infra.is_none() && own.is_none() {
                r.push_full(
                    ViolationKind::UnknownContainer,
                    format!("{path}.container"),
                    vec![b.container.clone()],
                    None,
                    format!(
                        "data binding {} of version {} is on container {}, which is neither an infrastructure container nor one of {}'s containers",
                        b.name, v.name, b.container, v.name
                    ),
                );
                continue;
            }
            let commands = b.export.is_some() || b.import.is_some();
            match (&b.database, commands) {
                (Some(_), true) => r.push(
                    ViolationKind::InvalidDataBinding,
                    path.clone(),
                    format!(
                        "data binding {} of version {} sets both database and export/import; use database for a built-in engine recipe, or export and import for anything else",
                        b.name, v.name
                    ),
                ),
                (None, false) => r.push(
                    ViolationKind::InvalidDataBinding,
                    path.clone(),
                    format!(
                        "data binding {} of version {} says neither which database it is nor how to export and import it",
                        b.name, v.name
                    ),
                ),
                (Some(db), false) => {
                    let engine = infra.and_then(|c| c.engine);
                    match engine {
                        Some(e) if e.has_builtin_sync() => {}
                        _ => r.push_full(
                            ViolationKind::InvalidDataBinding,
                            format!("{path}.database"),
                            vec![b.container.clone()],
                            None,
                            format!(
                                "data binding {} of version {} names database {db} on {}, which is not an infrastructure container with a built-in engine (mysql, mariadb, postgres, redis); set its engine, or give export and import commands",
                                b.name, v.name, b.container
                            ),
                        ),
                    }
                    let redis = engine == Some(crate::plan::Engine::Redis);
                    if redis && db.parse::<u8>().is_err() {
                        r.push(
                            ViolationKind::InvalidDataBinding,
                            format!("{path}.database"),
                            format!("on Redis the database is a logical db index (0, 1, ...), not {db:?}"),
                        );
                    } else if !redis && !database_name_ok(db) {
                        r.push(
                            ViolationKind::InvalidDataBinding,
                            format!("{path}.database"),
                            format!(
                                "database name {db:?} must be letters, digits and '_', not starting with a digit, at most {MAX_DATABASE_NAME} characters (turnout adds suffixes for staging)"
                            ),
                        );
                    }
                }
                (None, true) => {
                    for (field, argv) in [("export", &b.export), ("import", &b.import)] {
                        if argv.as_ref().is_none_or(|a| a.first().is_none_or(|p| p.is_empty())) {
                            r.push(
                                ViolationKind::InvalidDataBinding,
                                format!("{path}.{field}"),
                                format!(
                                    "data binding {} of version {} needs a non-empty {field} argv (both export and import are required)",
                                    b.name, v.name
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Longest database name turnout syncs; it appends `__turnout_staging` (17) within MySQL's 64.
pub const MAX_DATABASE_NAME: usize = 40;

/// Database names become identifiers in SQL, so they are kept to a safe alphabet.
pub fn database_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_DATABASE_NAME
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Violations of a selection against the plan it names.
pub fn validate_selection(
    plan_name: &str,
    plan: &PortPlanSpec,
    selection: &VersionSelectionSpec,
) -> Vec<Violation> {
    let mut r = Report::default();
    if selection.plan_ref != plan_name {
        r.push(
            ViolationKind::UnknownPlan,
            "spec.planRef",
            format!(
                "the selection names plan {:?}, but the plan given is {plan_name:?}",
                selection.plan_ref
            ),
        );
    }
    check_version_ref(
        plan,
        "spec.activeVersion",
        &selection.active_version,
        &mut r,
    );
    r.found
}

/// Violations of a sync against the plan it names.
pub fn validate_sync(plan: &PortPlanSpec, sync: &DataSyncSpec) -> Vec<Violation> {
    let mut r = Report::default();
    check_version_ref(plan, "spec.from", &sync.from, &mut r);
    check_version_ref(plan, "spec.to", &sync.to, &mut r);
    if sync.from == sync.to {
        r.push(
            ViolationKind::Empty,
            "spec.to",
            format!(
                "the sync copies version {} into itself; pick another target",
                sync.to
            ),
        );
    }
    r.found
}

fn check_version_ref(plan: &PortPlanSpec, path: &str, name: &str, r: &mut Report) {
    if plan.version(name).is_none() {
        r.push_full(
            ViolationKind::UnknownVersion,
            path.to_string(),
            vec![name.to_string()],
            None,
            format!(
                "version {name:?} is not in the plan; its versions are {}",
                plan.version_names().join(", ")
            ),
        );
    }
}

/// The outcome of checking one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DocumentReport {
    /// The file the document came from.
    pub file: String,
    /// 1-based index of the document in its file.
    pub document: usize,
    /// `PortPlan`, `VersionSelection` or `DataSync`.
    pub kind: &'static str,
    /// `metadata.name`.
    pub name: String,
    /// Every rule it breaks; empty when valid.
    pub violations: Vec<Violation>,
}

/// Checks every document: plans on their own, selections and syncs against
/// the plan they name (which must be among the documents).
pub fn validate_documents(docs: &crate::load::Documents) -> Vec<DocumentReport> {
    let name_of = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.name.clone().unwrap_or_default()
    };
    let mut out = Vec::new();
    for p in &docs.plans {
        out.push(DocumentReport {
            file: p.file.display().to_string(),
            document: p.document,
            kind: "PortPlan",
            name: name_of(&p.value.metadata),
            violations: validate_plan(&p.value.spec),
        });
    }
    let missing_plan = |plan_ref: &str| {
        let known: Vec<String> = docs
            .plans
            .iter()
            .map(|p| name_of(&p.value.metadata))
            .collect();
        Violation {
            kind: ViolationKind::UnknownPlan,
            path: "spec.planRef".to_string(),
            subjects: vec![plan_ref.to_string()],
            port: None,
            message: format!(
                "plan {plan_ref:?} is not among the documents given ({}); pass the file that holds it too",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        }
    };
    for s in &docs.selections {
        let violations = match docs.plan(&s.value.spec.plan_ref) {
            Some(p) => {
                validate_selection(&name_of(&p.value.metadata), &p.value.spec, &s.value.spec)
            }
            None => vec![missing_plan(&s.value.spec.plan_ref)],
        };
        out.push(DocumentReport {
            file: s.file.display().to_string(),
            document: s.document,
            kind: "VersionSelection",
            name: name_of(&s.value.metadata),
            violations,
        });
    }
    for s in &docs.syncs {
        let violations = match docs.plan(&s.value.spec.plan_ref) {
            Some(p) => validate_sync(&p.value.spec, &s.value.spec),
            None => vec![missing_plan(&s.value.spec.plan_ref)],
        };
        out.push(DocumentReport {
            file: s.file.display().to_string(),
            document: s.document,
            kind: "DataSync",
            name: name_of(&s.value.metadata),
            violations,
        });
    }
    out
}
