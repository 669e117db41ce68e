//! What the data commands (`sync`, `backups`, `restore`) share: the data
//! directory and timeouts they take, the one plan they act on, the targets
//! its data bindings write into, and the progress they show.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use turnout_crds::load::Documents;

use crate::sync::db::Timeouts;
use crate::sync::run::{SyncOptions, SyncProgress};
use crate::sync::{StepPlan, plan_steps};

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

    pub(super) fn options(&self, backup: bool, allow_overwrite_newer: bool) -> SyncOptions {
        SyncOptions {
            backup,
            allow_overwrite_newer,
            backup_dir: self.data_dir.join("backups"),
            keep_backups: self.keep_backups,
            state_dir: self.data_dir.clone(),
            compress: false,
            timeouts: Timeouts {
                query: Duration::from_secs(self.query_timeout.max(1)),
                stream_idle: Duration::from_secs(self.stream_idle_timeout.max(1)),
                lock_wait: Duration::from_secs(self.lock_wait_timeout.max(1)),
            },
        }
    }
}

/// A copy's progress on the terminal.
pub(super) struct Bar(pub(super) ProgressBar);

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

pub(super) fn bar() -> ProgressBar {
    let b = ProgressBar::new_spinner();
    b.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {bytes} at {bytes_per_sec} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    b.enable_steady_tick(Duration::from_millis(120));
    b
}

/// The one PortPlan among `files`: its name and spec.
pub(super) fn one_plan(files: &[PathBuf]) -> anyhow::Result<(String, turnout_crds::PortPlanSpec)> {
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

/// Every target a data binding of the plan writes into, once each.
pub(super) fn targets(plan_name: &str, plan: &turnout_crds::PortPlanSpec) -> Vec<StepPlan> {
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
