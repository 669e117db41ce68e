//! Secrets reach containers as read-only files, never as environment,
//! argv, labels or logs: the value is resolved here, written to a private
//! directory on the host (mode 0400 in a 0700 directory, replaced
//! atomically), and bind-mounted read-only at the path the plan names.
//! `docker inspect` shows the mount's host path, never the value. A running
//! container keeps the value it started with; a changed value reaches it
//! when it is recreated or restarted.

mod bounded;
mod files;

use std::path::Path;

use turnout_crds::plan::SecretSource;

use crate::core::target::{SecretMap, SecretValues, Target};

pub use bounded::{FileProblem, MAX_SECRET_BYTES, read_bounded};
pub use files::SecretFiles;

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
    #[error(
        "secret {secret} of container {container}: {file} is {kind}, not a regular file; point from.file at a file holding only the value"
    )]
    NotAFile {
        container: String,
        secret: String,
        file: String,
        kind: &'static str,
    },
    #[error(
        "secret {secret} of container {container}: {file} is larger than {limit} bytes, too large for a secret; point from.file at a file holding only the value"
    )]
    TooLarge {
        container: String,
        secret: String,
        file: String,
        limit: u64,
    },
    #[error(
        "secret {secret} of container {container}: from.{source_kind} is refused under the Kubernetes operator (it would read the operator's own {what}); use from.secretKeyRef to a Secret in the selection's namespace"
    )]
    NotInCluster {
        container: String,
        secret: String,
        source_kind: &'static str,
        what: &'static str,
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
pub trait SecretResolver: Send + Sync {
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
            return read_bounded(Path::new(file)).map_err(|e| {
                let (container, secret, file) =
                    (container.to_string(), secret.to_string(), file.clone());
                match e {
                    FileProblem::Io(source) => SecretError::FileUnreadable {
                        container,
                        secret,
                        file,
                        source,
                    },
                    FileProblem::NotAFile(kind) => SecretError::NotAFile {
                        container,
                        secret,
                        file,
                        kind,
                    },
                    FileProblem::TooLarge => SecretError::TooLarge {
                        container,
                        secret,
                        file,
                        limit: MAX_SECRET_BYTES,
                    },
                }
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

/// Kubernetes: the values of the Secrets a plan names, read for one
/// reconcile (`get` on each, never a list or watch). The standalone sources
/// are refused: under the operator `from.file` and `from.env` would read the
/// operator's own files and environment.
pub struct ClusterSecrets<'a>(pub &'a SecretMap);

impl SecretResolver for ClusterSecrets<'_> {
    fn resolve(
        &self,
        container: &str,
        secret: &str,
        from: &SecretSource,
    ) -> Result<Vec<u8>, SecretError> {
        let Some(r) = &from.secret_key_ref else {
            let (source_kind, what) = if from.file.is_some() {
                ("file", "files")
            } else {
                ("env", "environment")
            };
            return Err(SecretError::NotInCluster {
                container: container.to_string(),
                secret: secret.to_string(),
                source_kind,
                what,
            });
        };
        self.0
            .get(&(r.name.clone(), r.key.clone()))
            .cloned()
            .ok_or_else(|| SecretError::ClusterSecretMissing {
                container: container.to_string(),
                secret: secret.to_string(),
                name: r.name.clone(),
                key: r.key.clone(),
            })
    }
}

/// Where a target's secrets come from.
pub enum TargetSecrets<'a> {
    Local(LocalSecrets),
    Cluster(ClusterSecrets<'a>),
}

impl SecretResolver for TargetSecrets<'_> {
    fn resolve(
        &self,
        container: &str,
        secret: &str,
        from: &SecretSource,
    ) -> Result<Vec<u8>, SecretError> {
        match self {
            TargetSecrets::Local(l) => l.resolve(container, secret, from),
            TargetSecrets::Cluster(c) => c.resolve(container, secret, from),
        }
    }
}

/// The resolver of the secrets `target` carries.
pub fn resolver_of(target: &Target) -> TargetSecrets<'_> {
    match &target.secrets {
        SecretValues::Local => TargetSecrets::Local(LocalSecrets),
        SecretValues::Cluster(values) => TargetSecrets::Cluster(ClusterSecrets(values)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use turnout_crds::plan::ContainerSpec;

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
        let files = SecretFiles::new(tmp.join("store"))
            .write_for(&spec, &LocalSecrets)
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

    fn problem(path: &Path) -> String {
        match read_bounded(path) {
            Ok(v) => format!("read {} bytes", v.len()),
            Err(FileProblem::Io(e)) => format!("io: {e}"),
            Err(FileProblem::NotAFile(kind)) => kind.to_string(),
            Err(FileProblem::TooLarge) => "too large".into(),
        }
    }

    #[test]
    fn only_small_regular_files_are_read() {
        let tmp = std::env::temp_dir().join(format!("turnout-secret-files-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let fifo = tmp.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // A FIFO with no writer: opening it must not wait for one.
        let (tx, rx) = std::sync::mpsc::channel();
        let f = fifo.clone();
        std::thread::spawn(move || tx.send(problem(&f)).unwrap());
        assert_eq!(
            rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap(),
            "a FIFO"
        );
        assert_eq!(problem(Path::new("/dev/zero")), "a device");
        let link = tmp.join("link-to-zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert_eq!(problem(&link), "a device");
        assert_eq!(problem(&tmp), "a directory");
        let big = tmp.join("big");
        std::fs::write(&big, vec![b'x'; 64 * 1024 + 1]).unwrap();
        assert_eq!(problem(&big), "too large");
        let ok = tmp.join("ok");
        std::fs::write(&ok, vec![b'x'; 64 * 1024]).unwrap();
        assert_eq!(problem(&ok), format!("read {} bytes", 64 * 1024));
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn secret_files_are_replaced_whole_and_stale_ones_removed() {
        let tmp = std::env::temp_dir().join(format!("turnout-secret-stale-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let (a, b) = (tmp.join("a"), tmp.join("b"));
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"two").unwrap();
        let spec = |names: &[&str]| -> ContainerSpec {
            let secrets: Vec<serde_json::Value> = names
                .iter()
                .map(|n| serde_json::json!({"name": n, "path": format!("/run/secrets/{n}"), "from": {"file": tmp.join(n)}}))
                .collect();
            serde_json::from_value(
                serde_json::json!({"name": "db", "image": "x", "secrets": secrets}),
            )
            .unwrap()
        };
        let store = SecretFiles::new(tmp.join("store"));
        let first = store.write_for(&spec(&["a", "b"]), &LocalSecrets).unwrap();
        let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        let before = inode(&first[0].0);
        std::fs::write(&a, b"uno").unwrap();
        let second = store.write_for(&spec(&["a"]), &LocalSecrets).unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(std::fs::read(&second[0].0).unwrap(), b"uno");
        assert_ne!(
            inode(&second[0].0),
            before,
            "replaced by a new file, not rewritten in place"
        );
        assert!(
            !tmp.join("store/db/b").exists(),
            "the stale secret file is gone"
        );
        let names: Vec<String> = std::fs::read_dir(tmp.join("store/db"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["a"], "no temporary file is left");
        // A secret that cannot be resolved changes no file.
        std::fs::remove_file(&a).unwrap();
        assert!(store.write_for(&spec(&["a"]), &LocalSecrets).is_err());
        assert_eq!(std::fs::read(&second[0].0).unwrap(), b"uno");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
