//! Automatic rollback (`rollback: {enabled: true}`): when the new version
//! of a switch does not come up, stop it and start the previous one again,
//! then hold the host there for as long as the selection asks for the
//! version that failed, so the same spec is never retried (no flapping).
//! Editing the selection or the plan is a new attempt.
//!
//! The hold is kept per plan in memory and, when turnout has a state
//! directory, in `rollbacks.json` there, so a restart does not try again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::phases::Steps;
use super::{ApplyError, Reconciler, Run, Target};
use crate::core::model::Desired;
use crate::core::{ActionKind, Phase};
use crate::host::HostPorts;
use crate::runtime::ContainerRuntime;

/// What a rolled-back switch tells people: what failed, how, and where the
/// host is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolledBack {
    /// The version that did not come up (the selection still asks for it).
    pub failed: String,
    /// The version running again.
    pub back_to: String,
    /// The container that failed first.
    pub container: String,
    /// Its exit code, when it exited.
    pub exit_code: Option<i64>,
    /// Why the switch failed.
    pub cause: String,
    /// The container's last log lines, on one line.
    pub log_tail: String,
    /// What became of the data.
    pub data: String,
}

impl RolledBack {
    /// The sentence of the `Ready` condition and the switch record.
    pub fn message(&self) -> String {
        let exit = match self.exit_code {
            Some(c) => format!("exited with code {c}"),
            None => "was still running, not ready".to_string(),
        };
        format!(
            "version {} did not come up and turnout went back to {}: {}; container {} {exit}, its last log lines: {}. {} The selection still asks for {}: it is not tried again until the selection or the plan changes",
            self.failed,
            self.back_to,
            self.cause,
            self.container,
            if self.log_tail.is_empty() {
                "(none)"
            } else {
                &self.log_tail
            },
            self.data,
            self.failed,
        )
    }
}

/// A rollback in force for one plan: the spec it answered ([`Target::spec_key`])
/// and what happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    pub key: String,
    pub rolled_back: RolledBack,
}

/// The holds of a host, by plan.
pub(super) struct Holds {
    file: Option<PathBuf>,
    by_plan: Mutex<BTreeMap<String, Hold>>,
}

impl Holds {
    /// Holds kept in `dir/rollbacks.json` when a directory is given; an
    /// unreadable file is logged and starts empty (the worst case is one
    /// more attempt of a switch that failed before).
    pub(super) fn new(dir: Option<PathBuf>) -> Holds {
        let file = dir.map(|d| d.join("rollbacks.json"));
        let by_plan = file
            .as_deref()
            .and_then(|f| match crate::files::read_json::<BTreeMap<String, Hold>>(f) {
                Ok(m) => m,
                Err(e) => {
                    warn!(file = %f.display(), error = %e, "cannot read the rollback holds; starting without");
                    None
                }
            })
            .unwrap_or_default();
        Holds {
            file,
            by_plan: Mutex::new(by_plan),
        }
    }

    /// The hold for this very spec; a hold for another spec of the same
    /// plan is dropped (the selection or plan changed: a new attempt).
    pub(super) fn for_target(&self, target: &Target) -> Option<RolledBack> {
        let key = target.spec_key();
        let mut map = self.by_plan.lock().ok()?;
        match map.get(&target.plan_name) {
            Some(h) if h.key == key && h.rolled_back.failed == target.selection.active_version => {
                Some(h.rolled_back.clone())
            }
            Some(_) => {
                map.remove(&target.plan_name);
                info!(plan = %target.plan_name, "the selection or plan changed since the rollback: trying again");
                self.save(&map);
                None
            }
            None => None,
        }
    }

    pub(super) fn insert(&self, target: &Target, rolled_back: &RolledBack) {
        let Ok(mut map) = self.by_plan.lock() else {
            return;
        };
        map.insert(
            target.plan_name.clone(),
            Hold {
                key: target.spec_key(),
                rolled_back: rolled_back.clone(),
            },
        );
        self.save(&map);
    }

    fn save(&self, map: &BTreeMap<String, Hold>) {
        if let Some(f) = &self.file
            && let Err(e) = crate::files::replace_json(f, map)
        {
            warn!(file = %f.display(), error = %e, "cannot record the rollback; a restart would try the switch again");
        }
    }
}

impl ApplyError {
    /// Whether a switch that failed this way goes back to the previous
    /// version: the new version could not be created, started or made
    /// ready. A shutdown, a failed copy (the new version never started) or
    /// a crash loop do not.
    pub(super) fn rolls_back(&self) -> bool {
        matches!(
            self,
            ApplyError::Runtime(_)
                | ApplyError::Secret(_)
                | ApplyError::NotReady { .. }
                | ApplyError::Exited { .. }
        )
    }
}

impl<R: ContainerRuntime, H: HostPorts> Reconciler<R, H> {
    /// Goes back to `back_to` after the new version failed: the first
    /// failure is read (exit code, log tail) before anything is stopped,
    /// then the previous version's desired state is applied (no copy). The
    /// host is then held there. Returns the previous version's desired
    /// state, and what to report.
    pub(super) async fn roll_back(
        &self,
        target: &Target,
        back_to: &str,
        steps: &mut Steps,
        run: &Run<'_>,
    ) -> Option<(Desired, RolledBack)> {
        let t0 = Instant::now();
        let cause = steps.error.take()?;
        let container = failed_container(steps, &cause);
        let exit_code = match &cause {
            ApplyError::Exited { exit_code, .. } => *exit_code,
            _ => crate::probe::exited(self.runtime.as_ref(), &container)
                .await
                .flatten(),
        };
        let log_tail = match self.runtime.log_tail(&container, 10).await {
            Ok(t) => crate::output::one_line(&t, 1024),
            Err(e) => format!("(cannot read them: {e})"),
        };
        warn!(failed = %target.selection.active_version, back_to, container = %container, error = %cause, "the new version did not come up: rolling back");
        let back = target.back_to(back_to);
        let observed = match self.runtime.list().await {
            Ok(o) => o,
            Err(e) => {
                steps.error = Some(ApplyError::Runtime(e));
                return None;
            }
        };
        let (desired, actions) = match crate::core::plan(&back, &observed) {
            Ok(x) => x,
            Err(_) => {
                steps.error = Some(cause);
                return None;
            }
        };
        let more = self
            .run_phases(&back, &desired, &actions, None, None, run)
            .await;
        steps.done.extend(more.done);
        steps.ready = more.ready;
        steps.timings.rollback_ms = Some(super::apply::ms(t0));
        // Under Pause the failed version is then kept warm (started and
        // frozen); that it cannot be does not undo going back, and the next
        // reconcile tries again like any standby.
        if more.failed_in == Some(Phase::Standby) {
            if let Some(e) = &more.error {
                warn!(error = %e, "went back, but the failed version cannot be kept warm");
            }
        } else if let Some(e) = more.error {
            steps.error = Some(ApplyError::RollbackFailed {
                back_to: back_to.to_string(),
                cause: cause.to_string(),
                message: e.to_string(),
            });
        }
        let rolled_back = RolledBack {
            failed: target.selection.active_version.clone(),
            back_to: back_to.to_string(),
            container,
            exit_code,
            cause: cause.to_string(),
            log_tail,
            data: data_note(target, back_to, steps),
        };
        self.holds.insert(target, &rolled_back);
        Some((desired, rolled_back))
    }
}

/// The container the switch failed on: the one the error names, else the
/// last action of the version phase that failed.
fn failed_container(steps: &Steps, cause: &ApplyError) -> String {
    match cause {
        ApplyError::NotReady { container, .. } | ApplyError::Exited { container, .. } => {
            container.clone()
        }
        _ => steps
            .done
            .iter()
            .rev()
            .find(|(a, e)| e.is_some() && a.phase == Phase::Version && a.kind != ActionKind::Stop)
            .map(|(a, _)| a.container.clone())
            .unwrap_or_else(|| "(unknown)".to_string()),
    }
}

/// What the switch did with data: nothing, or a copy into the new
/// version whose overwritten data is in the backups the copy names.
fn data_note(target: &Target, back_to: &str, steps: &Steps) -> String {
    let failed = &target.selection.active_version;
    let Some(name) = &steps.copy.name else {
        return format!("No data was copied on this switch; the data of {back_to} is as it was.");
    };
    let backups: Vec<&str> = steps
        .copy
        .steps
        .iter()
        .filter_map(|s| s.backup.as_deref())
        .collect();
    let kept = if backups.is_empty() {
        format!("{failed} had no data before the copy")
    } else {
        format!(
            "the data {failed} held before the copy is backed up in {}",
            backups.join(", ")
        )
    };
    format!(
        "The switch only read the data of {back_to}, which is intact; it copied it into {failed} (DataSync {name}), and {kept}."
    )
}
