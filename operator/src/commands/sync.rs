//! `turnout sync`, `turnout backups`, `turnout restore`: copy a version's
//! data into another, list the backups, put one back.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use turnout_crds::load::Documents;

use crate::core::model::{Role, RunState};
use crate::lock::HostLock;
use crate::output::Table;
use crate::runtime::ContainerRuntime;
use crate::runtime::docker::DockerRuntime;
use crate::secrets::LocalSecrets;
use crate::sync::backup::{backup_dir_of, list_backups};
use crate::sync::db::Timeouts;
use crate::sync::restore::restore;
use crate::sync::run::{SyncOptions, SyncProgress, run_sync};
use crate::sync::{Endpoint, StepPlan, check_promotion, plan_steps, plan_steps_between};

/// Options shared by the data commands.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Where backups and the records of what turnout wrote are kept (persistent, root-only).
    #[arg(
        long,
        value_name = "DIR",
        env = "TURNOUT_DATA_DIR",
        default_value = "/var/lib/turnout"
    )]
    pub data_dir: PathBuf,
    /// Backups kept per target; older ones are pruned.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub keep_backups: usize,
    /// Seconds a database command (a query, a fingerprint, a swap) may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub query_timeout: u64,
    /// Seconds a dump, load or backup may go without moving a byte.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub stream_idle_timeout: u64,
    /// Seconds turnout's own statements wait for a lock someone else holds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait_timeout: u64,
}

impl DataArgs {
    /// Options for `syncOnSwitch`: always back up, never overwrite newer data.
    pub fn switch_options(&self) -> SyncOptions {
        self.options(true, false)
    }

    fn options(&self, backup: bool, allow_overwrite_newer: bool) -> SyncOptions {
        SyncOptions {
            backup,
            allow_overwrite_newer,
            backup_dir: self.data_dir.join("backups"),
            keep_backups: self.keep_backups,
            state_dir: self.data_dir.clone(),
            timeouts: Timeouts {
                query: Duration::from_secs(self.query_timeout.max(1)),
                stream_idle: Duration::from_secs(self.stream_idle_timeout.max(1)),
                lock_wait: Duration::from_secs(self.lock_wait_timeout.max(1)),
            },
        }
    }
}

/// Where the source comes from when it is another environment's plan.
#[derive(Debug, Clone, Default)]
pub struct Promotion {
    pub source_plan: Option<PathBuf>,
    pub force: bool,
}

struct Bar(ProgressBar);

impl SyncProgress for Bar {
    fn phase(&self, binding: &str, phase: &str) {
        self.0.set_prefix(format!("{binding}: {phase}"));
    }

    fn bytes(&self, _: &str, total: u64) {
        self.0.set_position(total);
    }

    fn expected(&self, _: &str, bytes: u64) {
        self.0.set_length(bytes);
        self.0.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix} {bytes} of ~{total_bytes} at {bytes_per_sec}, ETA ~{eta} [{elapsed}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
    }
}

fn bar() -> ProgressBar {
    let b = ProgressBar::new_spinner();
    b.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {bytes} at {bytes_per_sec} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    b.enable_steady_tick(Duration::from_millis(120));
    b
}

fn one_plan(files: &[PathBuf]) -> anyhow::Result<(String, turnout_crds::PortPlanSpec)> {
    let docs = Documents::read_all(files)?;
    match docs.plans.as_slice() {
        [p] => Ok((
            p.value.metadata.name.clone().unwrap_or_default(),
            p.value.spec.clone(),
        )),
        [] => bail!("no PortPlan in the files given"),
        _ => bail!("several PortPlans in the files given; pass the one to sync"),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    files: Vec<PathBuf>,
    from: String,
    to: String,
    no_backup: bool,
    allow_overwrite_newer: bool,
    promotion: Promotion,
    data: DataArgs,
    state_dir: PathBuf,
) -> anyhow::Result<ExitCode> {
    let (plan_name, plan) = one_plan(&files)?;
    let violations = turnout_crds::validate::validate_plan(&plan);
    if !violations.is_empty() {
        for v in &violations {
            eprintln!("invalid: {v}");
        }
        return Ok(ExitCode::FAILURE);
    }
    let steps = match &promotion.source_plan {
        None => plan_steps(&plan_name, &plan, &from, &to)?,
        Some(file) => {
            let (source_name, source) = one_plan(std::slice::from_ref(file))?;
            check_promotion(
                source.environment.as_ref(),
                plan.environment.as_ref(),
                promotion.force,
            )?;
            plan_steps_between((&source_name, &source, &from), (&plan_name, &plan, &to))?
        }
    };
    if steps.is_empty() {
        println!("versions {from} and {to} share no data bindings (by name); nothing to copy");
        return Ok(ExitCode::SUCCESS);
    }
    let _lock = HostLock::acquire(&state_dir.join("turnout.lock")).await?;
    let rt = Arc::new(DockerRuntime::connect().await?);
    eprintln!("engine: {}", rt.describe());
    // Never overwrite data under a running version.
    let running_target: Vec<String> = rt
        .list()
        .await?
        .into_iter()
        .filter(|o| {
            o.is_ours(&plan_name)
                && o.state == RunState::Running
                && o.role() == Some(Role::Version(to.clone()))
        })
        .map(|o| o.name)
        .collect();
    if !running_target.is_empty() {
        bail!(
            "version {to} is running ({}); its data cannot be overwritten under it. Switch the host to another version first",
            running_target.join(", ")
        );
    }
    let b = bar();
    let (done, result) = run_sync(
        rt.as_ref(),
        &LocalSecrets,
        &steps,
        &data.options(!no_backup, allow_overwrite_newer),
        &Bar(b.clone()),
    )
    .await;
    b.finish_and_clear();
    let mut t = Table::new([
        "BINDING", "SOURCE", "TARGET", "BYTES", "ROWS", "CHECKSUM", "BACKUP", "TIME",
    ]);
    for s in &done {
        t.row([
            s.binding.clone(),
            s.source.clone(),
            s.target.clone(),
            s.bytes.to_string(),
            s.rows.map_or("-".into(), |r| r.to_string()),
            s.target_checksum.clone().unwrap_or_else(|| "-".into()),
            s.backup.clone().unwrap_or_else(|| "-".into()),
            format!("{}ms", s.duration_ms),
            s.stream_ms.map_or("-".into(), |ms| format!("{ms}ms")),
        ]);
    }
    t.write(&mut std::io::stdout().lock(), "")?;
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("sync failed [{}]: {e}", e.reason());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn targets(plan_name: &str, plan: &turnout_crds::PortPlanSpec) -> Vec<StepPlan> {
    let names = plan.version_names();
    let mut out = Vec::new();
    for a in &names {
        for b in &names {
            if a != b
                && let Ok(steps) = plan_steps(plan_name, plan, a, b)
            {
                for s in steps {
                    if !out.iter().any(|o: &StepPlan| o.target == s.target) {
                        out.push(s);
                    }
                }
            }
        }
    }
    out
}

pub fn backups(files: Vec<PathBuf>, data: DataArgs) -> anyhow::Result<ExitCode> {
    let (plan_name, plan) = one_plan(&files)?;
    let opts = data.options(true, false);
    let mut t = Table::new(["TARGET", "BACKUP", "BYTES"]);
    for s in targets(&plan_name, &plan) {
        for f in list_backups(&backup_dir_of(&opts, &s.target)) {
            let size = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
            t.row([s.target.label(), f.display().to_string(), size.to_string()]);
        }
    }
    t.write(&mut std::io::stdout().lock(), "")?;
    Ok(ExitCode::SUCCESS)
}

/// The versions whose data binding writes into `target`.
fn versions_binding(
    plan_name: &str,
    plan: &turnout_crds::PortPlanSpec,
    target: &Endpoint,
) -> Vec<String> {
    let names = plan.version_names();
    let mut out: Vec<String> = Vec::new();
    for a in &names {
        for b in &names {
            let binds = a != b
                && plan_steps(plan_name, plan, a, b)
                    .is_ok_and(|steps| steps.iter().any(|s| &s.target == target));
            if binds && !out.iter().any(|v| v == b) {
                out.push((*b).to_string());
            }
        }
    }
    out
}

pub async fn restore_cmd(
    files: Vec<PathBuf>,
    backup: PathBuf,
    no_verify: bool,
    data: DataArgs,
    state_dir: PathBuf,
) -> anyhow::Result<ExitCode> {
    let (plan_name, plan) = one_plan(&files)?;
    let opts = data.options(true, true);
    let target: Endpoint = targets(&plan_name, &plan)
        .into_iter()
        .map(|s| s.target)
        .find(|t| backup.parent() == Some(backup_dir_of(&opts, t).as_path()))
        .with_context(|| {
            format!(
                "{} is not a backup of any data binding of the plan (backups live in {}/<container>/<database>/)",
                backup.display(),
                opts.backup_dir.display()
            )
        })?;
    if !Path::new(&backup).is_file() {
        bail!("{} does not exist", backup.display());
    }
    let _lock = HostLock::acquire(&state_dir.join("turnout.lock")).await?;
    let rt = DockerRuntime::connect().await?;
    eprintln!("engine: {}", rt.describe());
    // Never overwrite data under a running version.
    let versions = versions_binding(&plan_name, &plan, &target);
    let up: Vec<String> = rt
        .list()
        .await?
        .into_iter()
        .filter(|o| {
            o.is_ours(&plan_name)
                && o.state.is_up()
                && o.role()
                    .is_some_and(|r| versions.iter().any(|v| Role::Version(v.clone()) == r))
        })
        .map(|o| o.name)
        .collect();
    if !up.is_empty() {
        bail!(
            "{} belongs to version {}, which is running ({}); its data cannot be replaced under it. Switch the host to another version first",
            target.label(),
            versions.join(", "),
            up.join(", ")
        );
    }
    let b = bar();
    let r = restore(
        &rt,
        &LocalSecrets,
        &target,
        &backup,
        &opts,
        &Bar(b.clone()),
        !no_verify,
    )
    .await;
    b.finish_and_clear();
    match r {
        Ok(s) => {
            println!(
                "restored {} from {} ({} rows; the contents it replaced were backed up to {})",
                s.target,
                backup.display(),
                s.rows.unwrap_or(0),
                s.backup
                    .as_deref()
                    .unwrap_or("nowhere: the target did not exist")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("restore failed [{}]: {e}", e.reason());
            Ok(ExitCode::FAILURE)
        }
    }
}
