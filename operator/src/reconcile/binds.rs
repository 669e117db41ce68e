//! Host paths a plan binds, checked against the host this reconcile runs
//! on: validation already refuses the system's and turnout's default
//! directories, but only here are the directories turnout was actually
//! given (`--state-dir`, backups, sync state) known, and symbolic links
//! resolved.

use std::path::{Path, PathBuf};

use crate::core::Blocker;
use crate::core::model::Desired;

/// Whether one of `a` and `b` holds the other (or they are the same).
fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// `path` with symbolic links resolved when it exists; as written otherwise.
fn resolved(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A blocker for each bind of `desired` (the containers it runs or adopts)
/// that reaches one of turnout's own directories, `protected`.
pub(super) fn refused(
    desired: &Desired,
    adopting: &std::collections::BTreeSet<&str>,
    protected: &[PathBuf],
) -> Vec<Blocker> {
    let protected: Vec<(PathBuf, &PathBuf)> = protected.iter().map(|p| (resolved(p), p)).collect();
    let mut blockers = Vec::new();
    let containers = desired.containers.iter().chain(
        desired
            .inactive
            .iter()
            .filter(|d| adopting.contains(d.name())),
    );
    for d in containers {
        for b in &d.spec.binds {
            let host = Path::new(&b.host);
            let real = resolved(host);
            if let Some((_, p)) = protected
                .iter()
                .find(|(r, p)| overlaps(host, p) || overlaps(&real, r))
            {
                blockers.push(Blocker::BindRefused {
                    container: d.name().to_string(),
                    host: b.host.clone(),
                    why: format!(
                        "it reaches {}, where this turnout keeps its state and backups; bind a directory of the application's own",
                        p.display()
                    ),
                });
            }
        }
    }
    blockers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_overlaps_its_parents_and_children_only() {
        let state = Path::new("/srv/turnout");
        assert!(overlaps(Path::new("/srv/turnout/secrets"), state));
        assert!(overlaps(Path::new("/srv"), state));
        assert!(overlaps(state, state));
        assert!(!overlaps(Path::new("/srv/turnout-data"), state));
        assert!(!overlaps(Path::new("/srv/app"), state));
    }
}
