//! The desired-state file: loaded and checked (a bad edit is refused whole,
//! keeping the plan of one that breaks the rules for the status page), and
//! the DataSyncs it holds, each run once, never while its target
//! version runs.

use std::path::Path;
use std::sync::Arc;

use tracing::{info, warn};
use turnout_crds::datasync::{DataSyncSpec, DataSyncStatus, SyncPhase, SyncSource};
use turnout_crds::validate::Violation;

use crate::core::target::Target;
use crate::notify::{FinishedSync, Notifier, SinkList};
use crate::runtime::ContainerRuntime;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::docker::address::parse_flag;
use crate::runtime::docker::two::TwoEngines;
use crate::secrets::LocalSecrets;
use crate::status::RefusedPlan;
use crate::sync::run::{
    SourceEnv, SourceProblem, SyncOptions, execute_once, execute_once_from, store_of,
};
use crate::sync::store::StoredSync;
use crate::target::TargetError;

/// DataSync documents of the file: (name, spec).
pub type FileSyncs = Vec<(String, DataSyncSpec)>;

/// Why an edit of the file is refused whole (the host keeps its last good
/// state). Each message names the file and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Not readable as YAML documents, or not one selection and its plan.
    #[error(transparent)]
    Unreadable(#[from] crate::target::TargetError),
    /// The plan (or the selection of it) breaks the plan's rules; the
    /// status page draws this plan with its clashes.
    #[error("{file}: {} rule(s) broken: {}", .edit.violations.len(), listed(&.edit.violations))]
    Rules {
        file: String,
        edit: Box<RefusedPlan>,
    },
    #[error("{file}: DataSync {name}: {violation}")]
    DataSync {
        file: String,
        name: String,
        violation: Box<Violation>,
    },
}

impl Refused {
    /// The plan of the refused edit when it read as one but broke its
    /// rules (a file that does not parse has no plan to draw).
    pub fn into_refused_plan(self) -> Option<RefusedPlan> {
        match self {
            Refused::Rules { edit, .. } => Some(*edit),
            Refused::Unreadable(_) | Refused::DataSync { .. } => None,
        }
    }
}

fn listed(violations: &[Violation]) -> String {
    let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
    list.join("; ")
}

/// Loads the file and checks it: first the plan and selection, then its
/// DataSyncs against that plan.
pub fn load_and_check(file: &Path) -> Result<(Target, FileSyncs), Refused> {
    let shown = file.display().to_string();
    let docs = turnout_crds::load::Documents::read(file).map_err(TargetError::from)?;
    let t = crate::target::target_of(&docs, &shown)?;
    if let Err(violations) = crate::core::plan(&t, &[]) {
        let edit = RefusedPlan {
            plan_name: t.plan_name,
            plan: t.plan,
            violations,
        };
        return Err(Refused::Rules {
            file: shown,
            edit: Box::new(edit),
        });
    }
    let mut syncs = Vec::new();
    for d in &docs.syncs {
        let name = d.value.metadata.name.clone().unwrap_or_default();
        let v = turnout_crds::validate::validate_sync(&t.plan, &d.value.spec);
        if let Some(first) = v.into_iter().next() {
            return Err(Refused::DataSync {
                file: shown,
                name,
                violation: Box::new(first),
            });
        }
        syncs.push((name, d.value.spec.clone()));
    }
    Ok((t, syncs))
}

/// Runs the file's DataSyncs that have not run: each once (a Succeeded one
/// never again, a Failed one again only when its spec changes), and only
/// while its target version is not running (data is never overwritten under
/// a running version; it waits, Pending, saying so). A failure is told to
/// the sinks of the file's plan and selection.
pub async fn run_file_syncs(
    rt: &DockerRuntime,
    opts: &SyncOptions,
    (t, notifier): (&Target, Option<&Notifier>),
    syncs: &FileSyncs,
) {
    let store = store_of(opts);
    let pending: Vec<&(String, DataSyncSpec)> = syncs
        .iter()
        .filter(|(name, spec)| match store.get(name) {
            Some(s) if s.status.phase == Some(SyncPhase::Succeeded) => false,
            Some(s) if s.status.phase == Some(SyncPhase::Failed) => &s.spec != spec,
            _ => true,
        })
        .collect();
    if pending.is_empty() {
        return;
    }
    let observed = match rt.list().await {
        Ok(o) => o,
        Err(e) => {
            warn!(error = %e, "cannot list containers for the DataSyncs");
            return;
        }
    };
    for (name, spec) in pending {
        if !crate::core::version_up(&observed, &t.plan_name, &spec.to).is_empty() {
            let waiting = StoredSync {
                name: name.clone(),
                spec: spec.clone(),
                status: DataSyncStatus {
                    phase: Some(SyncPhase::Pending),
                    message: Some(crate::core::switch::waiting_for(&spec.to)),
                    ..Default::default()
                },
            };
            if store.get(name).as_ref() != Some(&waiting) {
                let _ = store.put(&waiting);
            }
            continue;
        }
        info!(datasync = %name, from = %spec.from, to = %spec.to, "running DataSync");
        let done = match &spec.source {
            None => execute_once(rt, &LocalSecrets, opts, name, &t.plan, spec.clone()).await,
            Some(source) => {
                let (env, source_rt) = match read_source(source, rt).await {
                    Ok((env, source_rt)) => (Ok(Some(env)), source_rt),
                    Err(e) => (Err(e), None),
                };
                let plan = (&t.plan, env);
                match source_rt {
                    None => {
                        execute_once_from(rt, &LocalSecrets, opts, name, plan, spec.clone()).await
                    }
                    Some(source) => {
                        let two = TwoEngines {
                            target: Arc::new(rt.clone()),
                            source,
                        };
                        execute_once_from(&two, &LocalSecrets, opts, name, plan, spec.clone()).await
                    }
                }
            }
        };
        info!(datasync = %name, phase = ?done.status.phase, message = done.status.message.as_deref().unwrap_or(""), "DataSync finished");
        if let Some(n) = notifier {
            tell(n, t, name, spec, &done.status);
        }
    }
}

/// Hands a finished attempt of the file's DataSync `name` to the notifier:
/// the DataSync is named by its name, its plan is the file's.
fn tell(n: &Notifier, t: &Target, name: &str, spec: &DataSyncSpec, status: &DataSyncStatus) {
    let ds = FinishedSync {
        key: name,
        selection: name.to_string(),
        plan: &t.plan_name,
        name,
        spec,
        status,
    };
    n.data_sync_finished(&ds, &SinkList::of_target(t));
}

/// Reads the source environment of a DataSync: its plan file (one
/// PortPlan, valid) and, when it names one, its engine (connected). The
/// error is a sentence for the DataSync's status.
async fn read_source(
    source: &SyncSource,
    target: &DockerRuntime,
) -> Result<(SourceEnv, Option<Arc<DockerRuntime>>), SourceProblem> {
    if source.plan_ref.is_some() || source.engine_secret_ref.is_some() {
        return Err("spec.source.planRef and engineSecretRef are read under Kubernetes; under turnout standalone name the plan's file (spec.source.planFile) and the certificates' directory (spec.source.engineCerts)".into());
    }
    let file = source
        .plan_file
        .as_deref()
        .ok_or("spec.source.planFile is not set: name the file holding the source's PortPlan")?;
    // A plan file, not any file of the host: its errors are shown in the status.
    let yaml = [".yaml", ".yml", ".json"].iter().any(|x| file.ends_with(x));
    if !yaml {
        return Err(format!(
            "spec.source.planFile {} is not a .yaml, .yml or .json file",
            turnout_crds::names::shown(file)
        )
        .into());
    }
    // A regular file (a FIFO would block the loop; a device is no plan).
    match std::fs::metadata(file) {
        Ok(m) if m.is_file() => {}
        Ok(_) => {
            return Err(format!(
                "spec.source.planFile {} is not a regular file",
                turnout_crds::names::shown(file)
            )
            .into());
        }
        Err(e) => {
            return Err(format!(
                "spec.source.planFile {}: {e}",
                turnout_crds::names::shown(file)
            )
            .into());
        }
    }
    let docs = turnout_crds::load::Documents::read(Path::new(file)).map_err(|e| e.to_string())?;
    let [plan] = docs.plans.as_slice() else {
        return Err(format!(
            "{file} holds {} PortPlans; the source's plan file holds exactly one",
            docs.plans.len()
        )
        .into());
    };
    let violations = turnout_crds::validate::validate_plan(&plan.value.spec);
    if let Some(first) = violations.first() {
        return Err(format!("{file}: {first}").into());
    }
    let env = SourceEnv {
        plan_name: plan.value.metadata.name.clone().unwrap_or_default(),
        plan: plan.value.spec.clone(),
        engine: None,
    };
    let Some(raw) = &source.engine else {
        return Ok((env, None));
    };
    let certs = source.engine_certs.as_deref().map(Path::new);
    let address = parse_flag(raw, "spec.source.engine", certs).map_err(|e| e.to_string())?;
    let rt = DockerRuntime::connect_to(address).await.map_err(|e| {
        SourceProblem::Unreachable(format!("cannot reach the source's engine: {e}"))
    })?;
    // The engine this turnout drives, named again, is no other engine.
    let identity = rt.address().identity();
    if identity == target.address().identity() {
        return Ok((env, None));
    }
    let env = SourceEnv {
        engine: Some(identity),
        ..env
    };
    Ok((env, Some(Arc::new(rt))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../../../examples/standalone-demo.yaml");
    const SHARED: &str = "{name: shared, from: 9400, to: 9499}";

    fn file(tag: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("turnout-refused-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let path = dir.join(format!("{tag}.yaml"));
        std::fs::write(&path, text).expect("write the file");
        path
    }

    #[test]
    fn an_edit_breaking_the_rules_is_refused_with_its_plan() {
        assert!(
            load_and_check(&file("good", DEMO)).is_ok(),
            "the demo is valid"
        );
        // blockchain's shared range moved over Redis's 6379.
        let edit = DEMO.replace(SHARED, "{name: shared, from: 6300, to: 6399}");
        assert_ne!(edit, DEMO, "the demo has the range to move");
        let err = load_and_check(&file("covering", &edit)).expect_err("refused");
        let msg = err.to_string();
        assert!(
            msg.contains("rule(s) broken") && msg.contains("6379"),
            "{msg}"
        );
        let refused = err.into_refused_plan().expect("the edit's plan is kept");
        assert_eq!(refused.plan_name, "demo");
        assert!(
            refused.violations.iter().any(|v| {
                v.kind.as_str() == "RangeCoversInfrastructurePort" && v.port == Some(6379)
            }),
            "{:?}",
            refused.violations
        );
        let shared = &refused.plan.versions[2].ranges[2];
        assert_eq!(
            (shared.from.get(), shared.to.get()),
            (6300, 6399),
            "the edit's own plan"
        );
    }

    #[test]
    fn an_edit_that_does_not_parse_has_no_plan_to_draw() {
        for (tag, text) in [
            ("not-yaml", "kind: PortPlan\n  : [unclosed"),
            (
                "no-selection",
                "apiVersion: turnout.dev/v1alpha1\nkind: PortPlan\nmetadata: {name: p}\nspec: {infrastructure: [], versions: []}\n",
            ),
        ] {
            let err = load_and_check(&file(tag, text)).expect_err(tag);
            assert!(matches!(err, Refused::Unreadable(_)), "{tag}: {err:?}");
            assert!(err.into_refused_plan().is_none(), "{tag}");
        }
    }
}
