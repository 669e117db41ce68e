//! `turnout ports`: the port table of a plan, read like the original plan's tables.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use serde::Serialize;
use turnout_crds::load::Documents;
use turnout_crds::plan::{ContainerSpec, PortPlanSpec, PublishedPort};

use crate::output::{Format, Table, write_data};

/// Print the port table of a plan: infrastructure ports, and each version's ranges and assigned ports.
///
/// Example: turnout ports examples/three-versions.yaml
///
/// With --svg, draw it instead: the port map, an SVG picture of the ports
/// with the plan's clashes in red (turnout ports examples/original-plan.yaml --svg > plan.svg).
#[derive(Debug, clap::Args)]
pub struct PortsArgs {
    /// A YAML file holding one PortPlan.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table, conflicts_with = "svg")]
    pub output: Format,
    /// Print the port map as SVG: ranges as bands on a broken port axis,
    /// clashes in red with the rule they break.
    #[arg(long)]
    pub svg: bool,
}

impl PortsArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        run(&self.file, self.output, self.svg)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PortTable {
    plan: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<String>,
    infrastructure: Vec<PortRow>,
    versions: Vec<VersionPorts>,
}

#[derive(Serialize)]
struct VersionPorts {
    name: String,
    ranges: Vec<RangeRow>,
    ports: Vec<PortRow>,
}

#[derive(Serialize)]
struct RangeRow {
    name: String,
    from: u16,
    to: u16,
    used: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PortRow {
    container: String,
    host: u16,
    container_port: u16,
    protocol: String,
    bind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<String>,
}

fn rows(containers: &[ContainerSpec]) -> Vec<PortRow> {
    let mut rows: Vec<PortRow> = containers
        .iter()
        .flat_map(|c| c.ports.iter().map(move |p| row(c, p)))
        .collect();
    rows.sort_by_key(|r| (r.host, r.protocol.clone()));
    rows
}

fn row(c: &ContainerSpec, p: &PublishedPort) -> PortRow {
    PortRow {
        container: c.name.clone(),
        host: p.host.get(),
        container_port: p.container.get(),
        protocol: p.protocol.to_string(),
        bind: p
            .bind_address
            .map_or_else(|| "*".to_string(), |b| b.to_string()),
        range: p.range.clone(),
    }
}

fn table(name: &str, spec: &PortPlanSpec) -> PortTable {
    PortTable {
        plan: name.to_string(),
        environment: spec
            .environment
            .as_ref()
            .map(|e| format!("{} ({:?})", e.name, e.stage).to_lowercase()),
        infrastructure: rows(&spec.infrastructure),
        versions: spec
            .versions
            .iter()
            .map(|v| {
                let ports = rows(&v.containers);
                VersionPorts {
                    name: v.name.clone(),
                    ranges: v
                        .ranges
                        .iter()
                        .map(|r| RangeRow {
                            name: r.name.clone(),
                            from: r.from.get(),
                            to: r.to.get(),
                            used: ports
                                .iter()
                                .filter(|p| p.range.as_deref() == Some(r.name.as_str()))
                                .count(),
                        })
                        .collect(),
                    ports,
                }
            })
            .collect(),
    }
}

fn run(file: &Path, format: Format, svg: bool) -> anyhow::Result<ExitCode> {
    let docs = Documents::read(file)?;
    let plan = match docs.plans.as_slice() {
        [one] => one,
        [] => bail!(
            "{}: holds no PortPlan; pass the file with the plan",
            file.display()
        ),
        _ => bail!(
            "{}: holds {} PortPlans; put the one to show in a file of its own",
            file.display(),
            docs.plans.len()
        ),
    };
    let name = plan.value.metadata.name.clone().unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if svg {
        // The picture of an invalid plan is the point (its clashes in red),
        // so it is drawn whatever the validator says.
        out.write_all(crate::portmap::render(&name, &plan.value.spec, None).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let t = table(&name, &plan.value.spec);
    match format {
        Format::Table => print_human(&mut out, &t)?,
        f => write_data(&mut out, f, &t)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_human(out: &mut dyn Write, t: &PortTable) -> std::io::Result<()> {
    write!(out, "Plan {}", t.plan)?;
    if let Some(env) = &t.environment {
        write!(out, ", environment {env}")?;
    }
    writeln!(out)?;
    writeln!(out, "\nInfrastructure (runs alongside every version)")?;
    let mut ports = Table::new([
        "CONTAINER",
        "HOST PORT",
        "CONTAINER PORT",
        "PROTOCOL",
        "BIND",
    ]);
    for r in &t.infrastructure {
        ports.row([
            r.container.clone(),
            r.host.to_string(),
            r.container_port.to_string(),
            r.protocol.clone(),
            r.bind.clone(),
        ]);
    }
    ports.write(out, "  ")?;
    for v in &t.versions {
        writeln!(out, "\nVersion {}", v.name)?;
        let mut ranges = Table::new(["RANGE", "PORTS", "ASSIGNED"]);
        for r in &v.ranges {
            ranges.row([
                r.name.clone(),
                format!("{}-{}", r.from, r.to),
                r.used.to_string(),
            ]);
        }
        ranges.write(out, "  ")?;
        writeln!(out)?;
        let mut ports = Table::new([
            "CONTAINER",
            "RANGE",
            "HOST PORT",
            "CONTAINER PORT",
            "PROTOCOL",
            "BIND",
        ]);
        for r in &v.ports {
            ports.row([
                r.container.clone(),
                r.range.clone().unwrap_or_else(|| "-".to_string()),
                r.host.to_string(),
                r.container_port.to_string(),
                r.protocol.clone(),
                r.bind.clone(),
            ]);
        }
        ports.write(out, "  ")?;
    }
    Ok(())
}
