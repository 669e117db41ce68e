//! `turnout apply`: one reconcile with a progress display; the exit code
//! says whether the host converged.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use turnout_crds::selection::VersionSelectionStatus;

use crate::cli::StateDir;
use crate::commands::data::DataArgs;
use crate::core::Action;
use crate::lock::HostLock;
use crate::reconcile::{Outcome, Progress, Run, Target};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::docker::address::{self, EngineFlags};
use crate::status::{StandaloneStatus, write_atomically};
use crate::status::{ready_condition, status_of};
use crate::target::load_target;

/// Reconcile the host once, with progress; exits 0 when the host converged.
///
/// Example: turnout apply desired.yaml
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Files holding a VersionSelection and its PortPlan.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Also write the status here as JSON.
    #[arg(long, value_name = "FILE")]
    pub status_file: Option<PathBuf>,
    /// Take over containers made by hand under planned names when their
    /// image and mounts match the plan (as `adopt: true` in the plan
    /// does). Each original is kept, stopped, as NAME.pre-turnout.
    #[arg(long)]
    pub adopt: bool,
    #[command(flatten)]
    pub state: StateDir,
    #[command(flatten)]
    pub data: DataArgs,
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn started(&self, a: &Action) {
        self.0.set_message(format!(
            "{} {} ({})",
            a.kind.as_str(),
            a.container,
            a.reason
        ));
    }

    fn finished(&self, a: &Action, error: Option<&str>) {
        self.0.inc(1);
        match error {
            Some(e) => self.0.println(format!(
                "  FAILED {:<10} {}: {e}",
                a.kind.as_str(),
                a.container
            )),
            None => self.0.println(format!(
                "  ok     {:<10} {}  ({})",
                a.kind.as_str(),
                a.container,
                a.reason
            )),
        }
    }
}

impl ApplyArgs {
    /// One reconcile on the engine `engine` (`--engine`, else `DOCKER_HOST`) names.
    pub async fn run(self, engine: EngineFlags) -> anyhow::Result<ExitCode> {
        let ApplyArgs {
            files,
            status_file,
            adopt,
            state,
            data,
        } = self;
        let mut target = load_target(&files)?;
        target.adopt |= adopt;
        let _lock = HostLock::acquire(&state.dir.join("turnout.lock")).await?;
        let address = address::resolve_local(&engine, "apply")?;
        let runtime = Arc::new(DockerRuntime::connect_to(address).await?);
        let engine = runtime.describe();
        eprintln!("engine: {engine}");
        let reconciler =
            crate::engine::engine_reconciler(runtime, &state.dir, data.switch_options());
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {pos} done: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        let progress = Bar(bar.clone());
        let run = Run::new(&progress, crate::shutdown::on_signal());
        let outcome = reconciler.reconcile(&target, &run).await;
        bar.finish_and_clear();
        let status = status_of(&target, &outcome, None);
        if let Some(path) = &status_file {
            let mut doc = status_document(&files, &target, &status, engine);
            doc.blockers = crate::status::blockers_of(&outcome);
            write_atomically(path, &doc)?;
        }
        if let Outcome::Invalid(v) = &outcome {
            for x in v {
                eprintln!("invalid: {x}");
            }
        }
        let ready = ready_condition(&status);
        // Back on the previous version after a failed switch: the host is
        // converged, but not on what the file asks for.
        let rolled_back = matches!(&outcome, Outcome::Applied(a) if a.rolled_back.is_some());
        let converged = !rolled_back && matches!(&outcome, Outcome::Applied(a) if a.converged());
        match ready {
            Some(c) => println!(
                "{}: {} ({})",
                if converged {
                    "converged"
                } else if rolled_back {
                    "rolled back"
                } else {
                    "not converged"
                },
                c.message,
                c.reason
            ),
            None => println!("not converged"),
        }
        Ok(if converged {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

/// What `--status-file` holds: the status as `turnout standalone` writes it.
fn status_document(
    files: &[PathBuf],
    target: &Target,
    status: &VersionSelectionStatus,
    engine: String,
) -> StandaloneStatus {
    StandaloneStatus {
        file: files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
        plan: target.plan_name.clone(),
        selection: target.selection_name.clone(),
        desired_version: target.selection.active_version.clone(),
        file_error: None,
        refused_edit: None,
        updated_at: jiff::Timestamp::now().to_string(),
        status: status.clone(),
        data_syncs: Vec::new(),
        data: Default::default(),
        applied_revision: None,
        blockers: Vec::new(),
        engine: Some(engine),
    }
}
