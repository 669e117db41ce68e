//! One reconciler per host: an exclusive lock on a file in turnout's state
//! directory keeps two turnout processes (standalone, `apply`, the operator)
//! from interleaving a switch. The lock dies with the process, so a killed
//! turnout never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tracing::info;

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[error("cannot lock {path}: {source}")]
pub struct LockError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Held while this process may change the host.
#[derive(Debug)]
pub struct HostLock {
    _file: File,
    path: PathBuf,
}

impl HostLock {
    /// Takes the lock, waiting (and saying so) while another turnout holds it.
    pub async fn acquire(path: &Path) -> Result<HostLock, LockError> {
        let err = |source| LockError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                info!(lock = %path.display(), holder, "another turnout process holds the host lock; waiting for it to finish");
                eprintln!(
                    "waiting: another turnout process (pid {}) holds the host lock {}",
                    if holder.is_empty() { "unknown" } else { holder },
                    path.display()
                );
                file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
                    .await
                    .map_err(|e| err(std::io::Error::other(e)))?
                    .map_err(err)?;
            }
            Err(TryLockError::Error(e)) => return Err(err(e)),
        }
        file.set_len(0).map_err(err)?;
        file.seek(SeekFrom::Start(0)).map_err(err)?;
        writeln!(file, "{}", std::process::id()).map_err(err)?;
        Ok(HostLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
