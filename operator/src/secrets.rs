//! Secrets reach containers as read-only files, never as environment,
//! argv, labels or logs: the value is resolved here, written to a private
//! directory on the host (mode 0400 in a 0700 directory, replaced
//! atomically), and bind-mounted read-only at the path the plan names.
//! `docker inspect` shows the mount's host path, never the value. A running
//! container keeps the value it started with; a changed value reaches it
//! when it is recreated or restarted.

use std::os::unix::fs::OpenOptionsExt;

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

/// Largest secret value turnout reads from a file.
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Why a secret file cannot be read.
#[derive(Debug)]
pub enum FileProblem {
    Io(std::io::Error),
    NotAFile(&'static str),
    TooLarge,
}

/// Reads a small regular file and nothing else: the file is opened without
/// blocking (a FIFO would wait for a writer forever), checked through the
/// opened handle (no race with a swapped path), and read with a bound (a
/// device such as /dev/zero never ends).
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, FileProblem> {
    use std::io::Read;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(FileProblem::Io)?;
    let meta = f.metadata().map_err(FileProblem::Io)?;
    if !meta.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        return Err(FileProblem::NotAFile(if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        }));
    }
    if meta.len() > MAX_SECRET_BYTES {
        return Err(FileProblem::TooLarge);
    }
    let mut value = Vec::new();
    f.take(MAX_SECRET_BYTES + 1)
        .read_to_end(&mut value)
        .map_err(FileProblem::Io)?;
    if value.len() as u64 > MAX_SECRET_BYTES {
        return Err(FileProblem::TooLarge);
    }
    Ok(value)
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

    /// Resolves and writes every secret of `spec`; returns (host file,
    /// container path) pairs. Every value is resolved before any file is
    /// written, each file is replaced atomically (a reader sees the old
    /// value or the new, never a half-written one), and files of secrets
    /// the container no longer has are removed.
    pub fn write_for(&self, spec: &ContainerSpec) -> Result<Vec<(PathBuf, String)>, SecretError> {
        let dir = self.dir.join(&spec.name);
        let werr = |source| SecretError::Write {
            dir: dir.display().to_string(),
            source,
        };
        let mut values = Vec::new();
        for s in &spec.secrets {
            values.push((s, self.resolver.resolve(&spec.name, &s.name, &s.from)?));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
        let store = SecretFiles::new(tmp.join("store"), LocalSecrets);
        let first = store.write_for(&spec(&["a", "b"])).unwrap();
        let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        let before = inode(&first[0].0);
        std::fs::write(&a, b"uno").unwrap();
        let second = store.write_for(&spec(&["a"])).unwrap();
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
        assert!(store.write_for(&spec(&["a"])).is_err());
        assert_eq!(std::fs::read(&second[0].0).unwrap(), b"uno");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
