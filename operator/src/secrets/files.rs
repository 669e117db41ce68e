//! Secret files on the host, bind-mounted read-only into containers: one
//! private directory per container, each value replaced atomically, files
//! of secrets a container no longer has removed.

use std::path::{Path, PathBuf};

use turnout_crds::plan::ContainerSpec;

use super::{SecretError, SecretResolver};
use crate::files::private_dir;

/// Writes secret files for containers under one private directory.
pub struct SecretFiles {
    dir: PathBuf,
}

impl SecretFiles {
    pub fn new(dir: impl Into<PathBuf>) -> SecretFiles {
        SecretFiles { dir: dir.into() }
    }

    /// Resolves and writes every secret of `spec`; returns (host file,
    /// container path) pairs. Every value is resolved before any file is
    /// written, each file is replaced atomically (a reader sees the old
    /// value or the new, never a half-written one), and files of secrets
    /// the container no longer has are removed.
    pub fn write_for(
        &self,
        spec: &ContainerSpec,
        resolver: &dyn SecretResolver,
    ) -> Result<Vec<(PathBuf, String)>, SecretError> {
        let dir = self.dir.join(&spec.name);
        let werr = |source| SecretError::Write {
            dir: dir.display().to_string(),
            source,
        };
        let mut values = Vec::new();
        for s in &spec.secrets {
            values.push((s, resolver.resolve(&spec.name, &s.name, &s.from)?));
        }
        if values.is_empty() && !dir.exists() {
            return Ok(Vec::new());
        }
        private_dir(&self.dir).map_err(werr)?;
        private_dir(&dir).map_err(werr)?;
        let mut files = Vec::new();
        for (s, value) in values {
            let file = dir.join(&s.name);
            crate::files::replace_file(&file, &value, 0o400).map_err(werr)?;
            files.push((file, s.path.clone()));
        }
        remove_stale(&dir, &files).map_err(werr)?;
        Ok(files)
    }
}

/// Removes files of `dir` that are not among `keep` (secrets a container
/// no longer has, leftovers of an interrupted write).
fn remove_stale(dir: &Path, keep: &[(PathBuf, String)]) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !keep.iter().any(|(f, _)| *f == path) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
