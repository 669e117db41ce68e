//! Secrets reach containers as read-only files, never as environment,
//! argv, labels or logs: the value is resolved here, written to a private
//! directory on the host (mode 0400 in a 0700 directory), and bind-mounted
//! read-only at the path the plan names. `docker inspect` shows the mount's
//! host path, never the value.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use crate::files::private_dir;
use std::path::{Path, PathBuf};

use turnout_crds::plan::{ContainerSpec, SecretSource};

/// Why a secret could not be delivered. Messages name the secret and where
/// its value should come from, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "secret {secret} of container {container}: environment variable {var} is not set in turnout's environment; export it before starting turnout"
    )]
    EnvMissing {
        container: String,
        secret: String,
        var: String,
    },
    #[error("secret {secret} of container {container}: cannot read {file}: {source}")]
    FileUnreadable {
        container: String,
        secret: String,
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "secret {secret} of container {container}: secretKeyRef needs the Kubernetes operator (`turnout run`); in standalone mode use env or file"
    )]
    NeedsCluster { container: String, secret: String },
    #[error(
        "secret {secret} of container {container}: the source names no env, file or secretKeyRef"
    )]
    NoSource { container: String, secret: String },
    #[error(
        "secret {secret} of container {container}: Secret {name} has no key {key} (or cannot be read); create it in the selection's namespace"
    )]
    ClusterSecretMissing {
        container: String,
        secret: String,
        name: String,
        key: String,
    },
    #[error("cannot write secret files under {dir}: {source}")]
    Write {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

impl SecretError {
    pub fn reason(&self) -> &'static str {
        "SecretUnavailable"
    }
}

/// Resolves a secret source to its value.
pub trait SecretResolver: Send + Sync + 'static {
    fn resolve(
        &self,
        container: &str,
        secret: &str,
        from: &SecretSource,
    ) -> Result<Vec<u8>, SecretError>;
}

/// Standalone mode: values from turnout's environment or from files on the host.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalSecrets;

impl SecretResolver for LocalSecrets {
    fn resolve(
        &self,
        container: &str,
        secret: &str,
        from: &SecretSource,
    ) -> Result<Vec<u8>, SecretError> {
        if let Some(var) = &from.env {
            return std::env::var_os(var)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| SecretError::EnvMissing {
                    container: container.to_string(),
                    secret: secret.to_string(),
                    var: var.clone(),
                });
        }
        if let Some(file) = &from.file {
            return std::fs::read(file).map_err(|source| SecretError::FileUnreadable {
                container: container.to_string(),
                secret: secret.to_string(),
                file: file.clone(),
                source,
            });
        }
        if from.secret_key_ref.is_some() {
            return Err(SecretError::NeedsCluster {
                container: container.to_string(),
                secret: secret.to_string(),
            });
        }
        Err(SecretError::NoSource {
            container: container.to_string(),
            secret: secret.to_string(),
        })
    }
}

/// Writes secret files for containers under one private directory.
pub struct SecretFiles<S> {
    dir: PathBuf,
    resolver: S,
}

impl<S: SecretResolver> SecretFiles<S> {
    pub fn new(dir: impl Into<PathBuf>, resolver: S) -> SecretFiles<S> {
        SecretFiles {
            dir: dir.into(),
            resolver,
        }
    }

    /// Resolves and writes every secret of `spec`; returns (host file, container path) pairs.
    pub fn write_for(&self, spec: &ContainerSpec) -> Result<Vec<(PathBuf, String)>, SecretError> {
        if spec.secrets.is_empty() {
            return Ok(Vec::new());
        }
        let dir = self.dir.join(&spec.name);
        let werr = |source| SecretError::Write {
            dir: dir.display().to_string(),
            source,
        };
        private_dir(&self.dir).map_err(werr)?;
        private_dir(&dir).map_err(werr)?;
        let mut files = Vec::new();
        for s in &spec.secrets {
            let value = self.resolver.resolve(&spec.name, &s.name, &s.from)?;
            let file = dir.join(&s.name);
            write_private(&file, &value).map_err(werr)?;
            files.push((file, s.path.clone()));
        }
        Ok(files)
    }
}

/// Rewrites the file in place (same inode), so a running container's
/// bind mount sees the new value.
fn write_private(file: &Path, value: &[u8]) -> std::io::Result<()> {
    // The file is 0400 between writes; open it for writing again without root.
    match std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o400)
        .open(file)?;
    f.write_all(value)?;
    f.sync_all()?;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_and_hold_the_value() {
        let tmp = std::env::temp_dir().join(format!("turnout-secrets-{}", std::process::id()));
        let secret = tmp.join("pw-source");
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(&secret, b"s3cret").unwrap();
        let spec: ContainerSpec = serde_json::from_value(serde_json::json!({
            "name": "db", "image": "x",
            "secrets": [{"name": "root", "path": "/run/secrets/root", "from": {"file": secret}}]
        }))
        .unwrap();
        let files = SecretFiles::new(tmp.join("store"), LocalSecrets)
            .write_for(&spec)
            .unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].1, "/run/secrets/root");
        assert_eq!(std::fs::read(&files[0].0).unwrap(), b"s3cret");
        let mode = std::fs::metadata(&files[0].0).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o400);
        let dmode = std::fs::metadata(tmp.join("store/db"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn a_missing_variable_is_named_and_no_value_leaks() {
        let from = SecretSource {
            env: Some("TURNOUT_TEST_SURELY_UNSET_VAR".into()),
            file: None,
            secret_key_ref: None,
        };
        let e = LocalSecrets.resolve("db", "root", &from).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("TURNOUT_TEST_SURELY_UNSET_VAR")
                && text.contains("db")
                && text.contains("root")
        );
    }
}
