//! `turnout sync`: copy a version's data into another's, with backup,
//! verification and progress. (`turnout backups` and `turnout restore` sit
//! beside it; what the three share is in `data.rs`.)

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use turnout_crds::datasync::SyncStep;

use super::data::{Bar, DataArgs, bar, one_plan};
use crate::cli::StateDir;
use crate::core::model::{Role, RunState};
use crate::lock::HostLock;
use crate::output::Table;
use crate::runtime::ContainerRuntime;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::docker::address::{self, EngineFlags};
use crate::runtime::docker::two::TwoEngines;
use crate::secrets::LocalSecrets;
use crate::sync::run::run_sync;
use crate::sync::{StepPlan, check_promotion_between, plan_steps, plan_steps_between};

/// Copy the data of one version into another (databases the versions bind under the same name).
///
/// Each target is backed up, loaded into a staging database, verified
/// against the source (row counts and checksums) and swapped in
/// atomically. A target written to since turnout last synced it is
/// refused unless --allow-overwrite-newer. The target version must not be running.
///
/// Example: turnout sync --from future --to dao plan.yaml
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Files holding the PortPlan.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The source version.
    #[arg(long)]
    pub from: String,
    /// The target version.
    #[arg(long)]
    pub to: String,
    /// Do not back the targets up first.
    #[arg(long)]
    pub no_backup: bool,
    /// Overwrite a target written to since turnout last synced it.
    #[arg(long)]
    pub allow_overwrite_newer: bool,
    /// Take the source version from this plan: another environment (e.g.
    /// local -> test cloud), whose containers run on this engine unless
    /// --source-engine names theirs.
    #[arg(long, value_name = "FILE")]
    pub source_plan: Option<PathBuf>,
    /// The Docker engine the source plan's containers run on (another
    /// host), e.g. unix:///run/dev.sock: the dump streams from there,
    /// through turnout, into this engine.
    #[arg(long, value_name = "ADDRESS", requires = "source_plan")]
    pub source_engine: Option<String>,
    /// The TLS client certificates (ca.pem, cert.pem, key.pem) for a
    /// tcp:// --source-engine (default: DOCKER_CERT_PATH, else ~/.docker).
    #[arg(long, value_name = "DIR", requires = "source_engine")]
    pub source_engine_certs: Option<PathBuf>,
    /// Allow copying into an earlier stage (prod -> test).
    #[arg(long)]
    pub force: bool,
    /// Gzip the dump inside the source's container and unzip it inside the
    /// target's (both need bash and gzip): fewer bytes between hosts.
    #[arg(long)]
    pub compress: bool,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub state: StateDir,
}

impl SyncArgs {
    /// Copies on the engine `engine` (`--engine`, else `DOCKER_HOST`) names.
    pub async fn run(self, engine: EngineFlags) -> anyhow::Result<ExitCode> {
        let (plan_name, plan) = one_plan(&self.files)?;
        let violations = turnout_crds::validate::validate_plan(&plan);
        if !violations.is_empty() {
            for v in &violations {
                eprintln!("invalid: {v}");
            }
            return Ok(ExitCode::FAILURE);
        }
        let mut steps = self.steps(&plan_name, &plan)?;
        let (from, to) = (&self.from, &self.to);
        if steps.is_empty() {
            println!("versions {from} and {to} share no data bindings (by name); nothing to copy");
            return Ok(ExitCode::SUCCESS);
        }
        // The source engine first: a typo in its address changes nothing here.
        let source_rt = match &self.source_engine {
            None => None,
            Some(raw) => {
                let certs = self.source_engine_certs.as_deref();
                let address = address::parse_flag(raw, "--source-engine", certs)?;
                let source = DockerRuntime::connect_to(address).await?;
                eprintln!("source engine: {}", source.describe());
                Some(Arc::new(source))
            }
        };
        let _lock = HostLock::acquire(&self.state.dir.join("turnout.lock")).await?;
        // The target is this host's engine: the records of what turnout
        // wrote, the backups and the host lock are this machine's. Another
        // host's engine may only be the source.
        let address = address::resolve_local(&engine, "sync")?;
        let rt = Arc::new(DockerRuntime::connect_to(address).await?);
        eprintln!("engine: {}", rt.describe());
        refuse_while_target_runs(rt.as_ref(), &plan_name, to).await?;
        let mut opts = self
            .data
            .options(!self.no_backup, self.allow_overwrite_newer);
        opts.compress = self.compress;
        let b = bar();
        let (done, result) = match source_rt {
            None => run_sync(rt.as_ref(), &LocalSecrets, &steps, &opts, &Bar(b.clone())).await,
            Some(source) => {
                // The same engine named twice is one engine: no second key.
                if source.address().identity() != rt.address().identity() {
                    for step in &mut steps {
                        step.from_engine(source.address().identity());
                    }
                }
                let two = TwoEngines { target: rt, source };
                run_sync(&two, &LocalSecrets, &steps, &opts, &Bar(b.clone())).await
            }
        };
        b.finish_and_clear();
        print_steps(&done)?;
        match result {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => {
                eprintln!("sync failed [{}]: {e}", e.reason());
                Ok(ExitCode::FAILURE)
            }
        }
    }

    /// The copies to run: within the plan, or from `--source-plan`'s
    /// environment into this one when promotion allows it.
    fn steps(
        &self,
        plan_name: &str,
        plan: &turnout_crds::PortPlanSpec,
    ) -> anyhow::Result<Vec<StepPlan>> {
        let (from, to) = (&self.from, &self.to);
        Ok(match &self.source_plan {
            None => plan_steps(plan_name, plan, from, to)?,
            Some(file) => {
                let (source_name, source) = one_plan(std::slice::from_ref(file))?;
                check_promotion_between(
                    source.environment.as_ref(),
                    plan.environment.as_ref(),
                    self.force,
                )?;
                plan_steps_between((&source_name, &source, from), (plan_name, plan, to))?
            }
        })
    }
}

/// Never overwrite data under a running version.
async fn refuse_while_target_runs(
    rt: &DockerRuntime,
    plan_name: &str,
    to: &str,
) -> anyhow::Result<()> {
    let running_target: Vec<String> = rt
        .list()
        .await?
        .into_iter()
        .filter(|o| {
            o.is_ours(plan_name)
                && o.state == RunState::Running
                && o.role() == Some(Role::Version(to.to_string()))
        })
        .map(|o| o.name)
        .collect();
    if !running_target.is_empty() {
        bail!(
            "version {to} is running ({}); its data cannot be overwritten under it. Switch the host to another version first",
            running_target.join(", ")
        );
    }
    Ok(())
}

fn print_steps(done: &[SyncStep]) -> std::io::Result<()> {
    let mut t = Table::new([
        "BINDING", "SOURCE", "TARGET", "BYTES", "ROWS", "CHECKSUM", "BACKUP", "TIME", "STREAM",
    ]);
    for s in done {
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
    t.write(&mut std::io::stdout().lock(), "")
}
