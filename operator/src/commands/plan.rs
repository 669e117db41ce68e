//! `turnout plan`: the ordered actions a reconcile would run, with reasons,
//! and what would block them. Reads the host, changes nothing.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;

use crate::core::{Action, Blocker};
use crate::host::{HostPorts, ProcHost, StaticHost};
use crate::output::{Format, Table, write_data};
use crate::reconcile::Reconciler;
use crate::runtime::ContainerRuntime;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::docker::address::{self, EngineFlags};
use crate::secrets::{LocalSecrets, SecretFiles};
use crate::target::load_target;

/// Show what `apply` would do: the ordered actions with their reasons, and what blocks them. Changes nothing.
///
/// Example: turnout plan desired.yaml
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Files holding a VersionSelection and its PortPlan.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Show what `apply --adopt` would do: containers made by hand under
    /// planned names are adopted when their image and mounts match.
    #[arg(long)]
    pub adopt: bool,
}

impl PlanArgs {
    /// Plans against the engine `engine` (`--engine`, else `DOCKER_HOST`) names.
    pub async fn run(self, engine: EngineFlags) -> anyhow::Result<ExitCode> {
        plan(self.files, self.output, self.adopt, engine).await
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanView {
    /// The engine the plan was made against.
    engine: String,
    plan: String,
    active_version: String,
    actions: Vec<Action>,
    blockers: Vec<Blocker>,
    /// Whether listeners outside Docker were looked for on the host's
    /// ports (only when the engine is on this machine).
    host_ports_checked: bool,
    /// What the switch's data sync would overwrite.
    overwrites: Vec<crate::sync::copy::Overwrite>,
    /// How a switch moves between versions.
    switch_strategy: &'static str,
    /// Under `switchStrategy: Pause`: the versions kept warm and the memory they hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    standby: Option<Standby>,
}

/// The cost of `switchStrategy: Pause`: inactive versions stay created and
/// paused, holding their memory.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Standby {
    versions: Vec<String>,
    containers: Vec<StandbyContainer>,
    /// The memory the kept-warm containers use now, in bytes (those that are up).
    memory_bytes: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StandbyContainer {
    name: String,
    version: String,
    /// `paused`, `running`, `stopped`, or `missing` (created by the next apply).
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_bytes: Option<u64>,
}

/// What the inactive versions kept warm cost now (one stats reading each).
async fn standby<R: ContainerRuntime>(
    runtime: &R,
    desired: &crate::core::Desired,
    observed: &[crate::core::model::ObservedContainer],
) -> Option<Standby> {
    if desired.strategy != turnout_crds::plan::SwitchStrategy::Pause {
        return None;
    }
    let mut versions: Vec<String> = Vec::new();
    let mut containers = Vec::new();
    for d in &desired.inactive {
        let version = d.role.label().to_string();
        if !versions.contains(&version) {
            versions.push(version.clone());
        }
        let seen = observed
            .iter()
            .find(|o| o.name == d.name() && o.is_ours(&desired.plan));
        let memory_bytes = match seen {
            Some(o) if o.state.is_up() => runtime.memory_usage(d.name()).await.ok().flatten(),
            _ => None,
        };
        containers.push(StandbyContainer {
            name: d.name().to_string(),
            version,
            state: seen.map_or("missing", |o| o.state.as_str()).to_string(),
            memory_bytes,
        });
    }
    let memory_bytes = containers.iter().filter_map(|c| c.memory_bytes).sum();
    Some(Standby {
        versions,
        containers,
        memory_bytes,
    })
}

async fn plan(
    files: Vec<PathBuf>,
    format: Format,
    adopt: bool,
    engine: EngineFlags,
) -> anyhow::Result<ExitCode> {
    let mut target = load_target(&files)?;
    target.adopt |= adopt;
    let address = address::resolve(&engine)?;
    let runtime = Arc::new(DockerRuntime::connect_to(address).await?);
    let observed = runtime.list().await?;
    let (desired, actions) = match crate::core::plan(&target, &observed) {
        Ok(x) => x,
        Err(violations) => {
            for v in &violations {
                eprintln!("invalid: {v}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let remote = runtime.address().is_remote();
    let blockers = if actions.is_empty() {
        Vec::new()
    } else if remote {
        // This machine's /proc/net says nothing about another host's ports.
        preflight(runtime.clone(), StaticHost::default(), &desired, &observed).await
    } else {
        preflight(runtime.clone(), ProcHost, &desired, &observed).await
    };
    let mut overwrites = Vec::new();
    let from = crate::reconcile::switch_from(
        &observed,
        &target.plan_name,
        &target.selection.active_version,
    );
    if let Some(from) =
        from.filter(|f| *f != target.selection.active_version && target.selection.sync_on_switch)
    {
        for step in crate::sync::plan_steps(
            &target.plan_name,
            &target.plan,
            &from,
            &target.selection.active_version,
        )? {
            overwrites.push(
                crate::sync::copy::preview(
                    runtime.as_ref(),
                    &LocalSecrets,
                    &step,
                    Default::default(),
                )
                .await?,
            );
        }
    }
    let standby = standby(runtime.as_ref(), &desired, &observed).await;
    let view = PlanView {
        switch_strategy: desired.strategy.as_str(),
        standby,
        engine: runtime.describe(),
        plan: target.plan_name.clone(),
        active_version: target.selection.active_version.clone(),
        actions,
        blockers,
        host_ports_checked: !remote,
        overwrites,
    };
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => print_human(&mut out, &view)?,
        f => write_data(&mut out, f, &view)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// What would block the actions, `host` giving the listeners outside Docker.
async fn preflight<H: HostPorts>(
    runtime: Arc<DockerRuntime>,
    host: H,
    desired: &crate::core::Desired,
    observed: &[crate::core::model::ObservedContainer],
) -> Vec<Blocker> {
    // The secrets directory is not written by a preflight.
    let r = Reconciler::new(runtime, host, SecretFiles::new("/nonexistent"));
    r.preflight(desired, observed, false).await
}

fn print_standby(out: &mut dyn Write, sb: &Standby) -> std::io::Result<()> {
    let unknown = sb
        .containers
        .iter()
        .filter(|c| c.memory_bytes.is_none())
        .count();
    writeln!(
        out,
        "Warm standby (switchStrategy Pause): version(s) {} stay created and paused, holding {:.1} MiB of memory now{}. Their published ports accept connections that hang until they are unpaused.",
        sb.versions.join(", "),
        sb.memory_bytes as f64 / f64::from(1u32 << 20),
        if unknown > 0 {
            format!(" ({unknown} container(s) not up yet: their memory is known once started)")
        } else {
            String::new()
        }
    )?;
    let mut t = Table::new(["CONTAINER", "VERSION", "STATE", "MEMORY"]);
    for c in &sb.containers {
        t.row([
            c.name.clone(),
            c.version.clone(),
            c.state.clone(),
            c.memory_bytes.map_or_else(
                || "-".to_string(),
                |b| format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
            ),
        ]);
    }
    t.write(out, "  ")?;
    writeln!(out)
}

fn print_human(out: &mut dyn Write, v: &PlanView) -> std::io::Result<()> {
    writeln!(out, "Engine: {}", v.engine)?;
    if !v.host_ports_checked && !v.actions.is_empty() {
        writeln!(
            out,
            "Note: the engine is on another host; ports held there by processes outside Docker are not checked (turnout apply on that host checks them)."
        )?;
    }
    if let Some(sb) = &v.standby {
        print_standby(out, sb)?;
    }
    if v.actions.is_empty() {
        writeln!(
            out,
            "Nothing to do: the host runs version {} of plan {}.",
            v.active_version, v.plan
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "To run version {} of plan {}, turnout would:",
        v.active_version, v.plan
    )?;
    let mut t = Table::new(["#", "PHASE", "ACTION", "CONTAINER", "WHY"]);
    for (i, a) in v.actions.iter().enumerate() {
        t.row([
            (i + 1).to_string(),
            a.phase.as_str().to_string(),
            a.kind.as_str().to_string(),
            a.container.clone(),
            a.reason.clone(),
        ]);
    }
    t.write(out, "  ")?;
    if !v.overwrites.is_empty() {
        writeln!(
            out,
            "\nAfter stopping and before starting, the switch copies data (each target is backed up, then replaced):"
        )?;
        let mut t = Table::new(["BINDING", "FROM", "OVERWRITES", "TABLES", "ROWS", "SIZE"]);
        for o in &v.overwrites {
            let what = |n: String| if o.exists { n } else { "-".to_string() };
            t.row([
                o.binding.clone(),
                o.source.clone(),
                if o.exists {
                    o.target.clone()
                } else {
                    format!("{} (new)", o.target)
                },
                what(o.tables.to_string()),
                what(o.rows.to_string()),
                what(format!("{:.1} MB", o.bytes as f64 / 1e6)),
            ]);
        }
        t.write(out, "  ")?;
    }
    if !v.blockers.is_empty() {
        writeln!(
            out,
            "\nIt would not begin (nothing would be stopped) because:"
        )?;
        for b in &v.blockers {
            writeln!(out, "  - [{}] {b}", b.reason())?;
        }
    }
    Ok(())
}
