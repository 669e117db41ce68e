//! The port map: a picture of a host's port space as a plan lays it out —
//! infrastructure ports, each version's named ranges, the ports actually
//! published, foreign listeners on planned ports, and the plan's clashes in
//! red with the rule each breaks (the validator's own violations; no rule is
//! re-implemented here).
//!
//! Pure: [`render`] takes the plan (and what was observed) and returns SVG
//! text. `turnout ports FILE --svg` prints it; the status page serves it as
//! `/portmap.svg`, and the map of an edit standalone mode refused (drawn by
//! [`render_refused`], titled as not applied) as `/portmap.svg?refused=1`.
//! `axis.rs` lays out the broken port axis, `draw.rs` draws, `svg.rs`
//! writes (escaping every text).

mod axis;
mod draw;
mod observed;
mod svg;
#[cfg(test)]
mod tests;

use turnout_crds::plan::{ContainerSpec, PortPlanSpec};
use turnout_crds::validate::{Violation, validate_plan};

pub use observed::{Foreign, Observed, Published, host_port};
pub use svg::escape;

/// One lane of the map.
struct Row {
    label: String,
    kind: RowKind,
    bands: Vec<Band>,
    marks: Vec<Mark>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Infrastructure,
    /// A version; its index picks its colour.
    Version(usize),
    Foreign,
}

/// A named range of a version.
struct Band {
    name: String,
    from: u16,
    to: u16,
}

/// A single port on a lane.
struct Mark {
    port: u16,
    /// What is there, for a person.
    label: String,
    kind: MarkKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MarkKind {
    /// In the plan; not seen published.
    Planned,
    /// Seen published by a running container.
    Published,
    /// Held by something turnout does not manage.
    Foreign,
}

/// What the map shows.
struct Map<'a> {
    plan_name: &'a str,
    rows: Vec<Row>,
    violations: Vec<Violation>,
    observed: Option<&'a Observed>,
    /// The plan of a refused edit: nothing of it runs, and the picture says so.
    refused: bool,
}

/// The port map of `plan` (named `plan_name`) as SVG, with what was observed
/// on the host when there is something.
pub fn render(plan_name: &str, plan: &PortPlanSpec, observed: Option<&Observed>) -> String {
    let map = Map {
        plan_name,
        rows: rows(plan, observed),
        violations: validate_plan(plan),
        observed,
        refused: false,
    };
    draw::draw(&map)
}

/// The port map of a refused edit's `plan` with the `violations` that got
/// it refused (the validator's, which may include the selection's own),
/// titled as an edit that was not applied. Nothing observed: none of it runs.
pub fn render_refused(plan_name: &str, plan: &PortPlanSpec, violations: &[Violation]) -> String {
    let map = Map {
        plan_name,
        rows: rows(plan, None),
        violations: violations.to_vec(),
        observed: None,
        refused: true,
    };
    draw::draw(&map)
}

fn rows(plan: &PortPlanSpec, observed: Option<&Observed>) -> Vec<Row> {
    let published: &[Published] = observed.map_or(&[], |o| &o.published);
    let mut rows = vec![Row {
        label: "infrastructure".to_string(),
        kind: RowKind::Infrastructure,
        bands: Vec::new(),
        marks: marks(&plan.infrastructure, "infrastructure", published),
    }];
    for (i, v) in plan.versions.iter().enumerate() {
        let mut label = v.name.clone();
        if let Some(o) = observed {
            if o.active.as_deref() == Some(v.name.as_str()) {
                label.push_str(" (active)");
            } else if o.desired.as_deref() == Some(v.name.as_str()) {
                label.push_str(" (wanted)");
            }
        }
        rows.push(Row {
            label,
            kind: RowKind::Version(i),
            bands: v
                .ranges
                .iter()
                .map(|r| Band {
                    name: r.name.clone(),
                    from: r.from.get(),
                    to: r.to.get(),
                })
                .collect(),
            marks: marks(&v.containers, &v.name, published),
        });
    }
    if let Some(o) = observed.filter(|o| !o.foreign.is_empty()) {
        rows.push(Row {
            label: "foreign listeners".to_string(),
            kind: RowKind::Foreign,
            bands: Vec::new(),
            marks: o
                .foreign
                .iter()
                .map(|f| Mark {
                    port: f.port,
                    label: format!(
                        "port {} is held by {}, planned for {}",
                        f.port, f.holder, f.wanted_by
                    ),
                    kind: MarkKind::Foreign,
                })
                .collect(),
        });
    }
    rows
}

/// The planned ports of `containers` (role `role`), and the ports seen
/// published under that role.
fn marks(containers: &[ContainerSpec], role: &str, published: &[Published]) -> Vec<Mark> {
    let live = |name: &str, port: u16| {
        published
            .iter()
            .any(|p| p.running && p.role == role && p.container == name && p.port == port)
    };
    let mut out: Vec<Mark> = containers
        .iter()
        .flat_map(|c| c.ports.iter().map(move |p| (c, p.host.get())))
        .map(|(c, port)| {
            let up = live(&c.name, port);
            Mark {
                port,
                label: format!(
                    "{} :{port} ({})",
                    c.name,
                    if up { "published" } else { "planned" }
                ),
                kind: if up {
                    MarkKind::Published
                } else {
                    MarkKind::Planned
                },
            }
        })
        .collect();
    // Published although the plan does not say so (an older spec still running).
    for p in published.iter().filter(|p| p.running && p.role == role) {
        let planned = containers
            .iter()
            .any(|c| c.name == p.container && c.ports.iter().any(|x| x.host.get() == p.port));
        if !planned {
            out.push(Mark {
                port: p.port,
                label: format!("{} :{} (published, not in the plan)", p.container, p.port),
                kind: MarkKind::Published,
            });
        }
    }
    out
}

impl Map<'_> {
    /// Every port interval the axis must hold.
    fn intervals(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        for r in &self.rows {
            out.extend(r.bands.iter().map(|b| (b.from, b.to)));
            out.extend(r.marks.iter().map(|m| (m.port, m.port)));
        }
        out.extend(
            self.violations
                .iter()
                .filter_map(|v| v.port.map(|p| (p, p))),
        );
        out
    }
}
