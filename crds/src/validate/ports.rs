//! The port rules: ranges of a version, published ports inside their
//! ranges, host ports published twice, ranges over infrastructure ports and
//! ranges of versions that run together.

use std::collections::{BTreeMap, HashMap};

use super::limits::first_few;
use super::{Owner, Placed, Report, ViolationKind};
use crate::names;
use crate::plan::{PortPlanSpec, PortRange, PublishedPort, SwitchStrategy};
use crate::port::{Protocol, bind_overlaps};

pub(super) fn range_text(r: &PortRange) -> String {
    format!("{} ({}-{})", r.name, r.from, r.to)
}

pub(super) fn check_ranges(vi: usize, version: &str, ranges: &[PortRange], r: &mut Report) {
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
                if r.stop() {
                    return;
                }
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

pub(super) fn check_port_ranges(plan: &PortPlanSpec, containers: &[Placed], r: &mut Report) {
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

pub(super) fn range_list(ranges: &[PortRange]) -> String {
    if ranges.is_empty() {
        return "none: add one under ranges".to_string();
    }
    first_few(ranges.iter().map(range_text))
}

pub(super) fn check_port_conflicts(plan: &PortPlanSpec, containers: &[Placed], r: &mut Report) {
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
                    || !plan.exclusive_versions
                    || !plan.switch_strategy.is_default();
                if !together || !bind_overlaps(a.port.bind_address, b.port.bind_address) {
                    continue;
                }
                if r.stop() {
                    return;
                }
                let why = if a.container.owner == b.container.owner
                    && a.container.owner != Owner::Infrastructure
                {
                    "they run together"
                } else if a.container.owner == Owner::Infrastructure
                    || b.container.owner == Owner::Infrastructure
                {
                    "infrastructure runs alongside every version"
                } else if !plan.exclusive_versions {
                    "the plan lets versions run together (exclusiveVersions: false)"
                } else if plan.switch_strategy == SwitchStrategy::Overlap {
                    "switchStrategy Overlap starts the new version while the old one still holds its ports (use StopFirst to let versions share ports)"
                } else {
                    "switchStrategy Pause keeps every version created, holding its ports while paused (use StopFirst to let versions share ports)"
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

pub(super) fn check_ranges_against_infrastructure(plan: &PortPlanSpec, r: &mut Report) {
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
                if r.stop() {
                    return;
                }
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

pub(super) fn check_ranges_across_versions(plan: &PortPlanSpec, r: &mut Report) {
    for (vi, v) in plan.versions.iter().enumerate() {
        for (wi, w) in plan.versions.iter().enumerate().skip(vi + 1) {
            for a in &v.ranges {
                for (bi, b) in w.ranges.iter().enumerate() {
                    if a.from <= a.to && b.from <= b.to && a.overlaps(b) {
                        if r.stop() {
                            return;
                        }
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
