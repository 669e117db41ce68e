//! `turnout restore`: put a backup back into the database it was taken
//! from, after backing up what it replaces.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::data::{Bar, DataArgs, bar, one_plan, targets};
use crate::cli::StateDir;
use crate::core::model::Role;
use crate::lock::HostLock;
use crate::runtime::ContainerRuntime;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::docker::address::{self, EngineFlags};
use crate::secrets::LocalSecrets;
use crate::sync::backup::backup_dir_of;
use crate::sync::restore::restore;
use crate::sync::{Endpoint, plan_steps};

/// Put a backup back into the database it was taken from (the current contents are backed up first).
///
/// Example: turnout restore plan.yaml --backup /var/lib/turnout/backups/test-mysql/dao_users/20261125T120000.000Z.sql
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The backup file, as `turnout backups` lists it.
    #[arg(long, value_name = "PATH")]
    pub backup: PathBuf,
    /// Restore a backup even without the record of what it holds (older
    /// backups), or when it loads differently from that record.
    #[arg(long)]
    pub no_verify: bool,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub state: StateDir,
}

impl RestoreArgs {
    /// Restores into the engine `engine` (`--engine`, else `DOCKER_HOST`) names.
    pub async fn run(self, engine: EngineFlags) -> anyhow::Result<ExitCode> {
        let RestoreArgs {
            files,
            backup,
            no_verify,
            data,
            state,
        } = self;
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
        let _lock = HostLock::acquire(&state.dir.join("turnout.lock")).await?;
        let rt = DockerRuntime::connect_to(address::resolve_local(&engine, "restore")?).await?;
        eprintln!("engine: {}", rt.describe());
        refuse_while_its_version_runs(&rt, &plan_name, &plan, &target).await?;
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
}

/// Refuses while a version whose data `target` holds runs: its data is
/// never replaced under it.
async fn refuse_while_its_version_runs(
    rt: &DockerRuntime,
    plan_name: &str,
    plan: &turnout_crds::PortPlanSpec,
    target: &Endpoint,
) -> anyhow::Result<()> {
    // Never overwrite data under a running version.
    let versions = versions_binding(plan_name, plan, target);
    let up: Vec<String> = rt
        .list()
        .await?
        .into_iter()
        .filter(|o| {
            o.is_ours(plan_name)
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
    Ok(())
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
