//! Loading the desired state from a file: one VersionSelection and the
//! PortPlan it names (the standalone file, or a plan plus a selection).

use std::path::Path;

use turnout_crds::load::{Documents, LoadError};

use crate::reconcile::Target;

/// Why a file does not give one target.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(
        "{file}: holds no VersionSelection; add one (kind: VersionSelection, spec.planRef, spec.activeVersion)"
    )]
    NoSelection { file: String },
    #[error(
        "{file}: holds {count} VersionSelections; one host follows one selection, keep one per file"
    )]
    ManySelections { file: String, count: usize },
    #[error("{file}: the VersionSelection names plan {plan:?}, which is not in the file(s) given")]
    NoPlan { file: String, plan: String },
}

impl TargetError {
    pub fn reason(&self) -> &'static str {
        match self {
            TargetError::Load(e) => e.reason(),
            _ => "InvalidFile",
        }
    }
}

/// The target described by the documents of `files`.
pub fn load_target<P: AsRef<Path>>(files: &[P]) -> Result<Target, TargetError> {
    let docs = Documents::read_all(files)?;
    let file = files
        .iter()
        .map(|f| f.as_ref().display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    target_of(&docs, &file)
}

pub fn target_of(docs: &Documents, file: &str) -> Result<Target, TargetError> {
    let selection = match docs.selections.as_slice() {
        [one] => &one.value,
        [] => {
            return Err(TargetError::NoSelection {
                file: file.to_string(),
            });
        }
        many => {
            return Err(TargetError::ManySelections {
                file: file.to_string(),
                count: many.len(),
            });
        }
    };
    let plan = docs
        .plan(&selection.spec.plan_ref)
        .ok_or_else(|| TargetError::NoPlan {
            file: file.to_string(),
            plan: selection.spec.plan_ref.clone(),
        })?;
    Ok(Target {
        plan_name: selection.spec.plan_ref.clone(),
        plan: plan.value.spec.clone(),
        selection_name: selection.metadata.name.clone().unwrap_or_default(),
        selection: selection.spec.clone(),
        generation: selection.metadata.generation,
        owner: None,
        secrets: Default::default(),
        adopt: false,
    })
}
