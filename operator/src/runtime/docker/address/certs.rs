//! The TLS files of a `tcp://` engine, checked before any connection: the
//! Docker CLI's names in one directory (`ca.pem` the authority that signed
//! the engine's certificate, `cert.pem` and `key.pem` turnout's own),
//! each a small regular file read with a bound, holding what its name
//! says, and the key readable by its owner only. Messages name the file,
//! never its contents.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::secrets::{FileProblem, read_bounded};

/// Largest certificate or key file turnout reads (they are a few KiB).
pub const MAX_CERT_BYTES: u64 = crate::secrets::MAX_SECRET_BYTES;

/// The three files, checked.
#[derive(Debug)]
pub(super) struct CertFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why the TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CertProblem {
    #[error(
        "no directory for the TLS certificates: set DOCKER_CERT_PATH, or pass --engine-certs DIR (holding ca.pem, cert.pem and key.pem)"
    )]
    NoDir,
    #[error(
        "cannot read {file:?} (certificates from {origin}): {source}; that directory must hold ca.pem, cert.pem and key.pem"
    )]
    Unreadable {
        file: PathBuf,
        origin: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{file:?} is {kind}, not a regular file; give the certificate files themselves")]
    NotAFile { file: PathBuf, kind: &'static str },
    #[error("{file:?} is larger than {limit} bytes, which no certificate or key is")]
    TooLarge { file: PathBuf, limit: u64 },
    #[error(
        "the client key {file:?} can be read by group or others (mode {mode:04o}); a key anyone can read proves nothing. Run: chmod 600 {file:?}"
    )]
    KeyExposed { file: PathBuf, mode: u32 },
    #[error("{file:?} holds no PEM {what}")]
    NotPem { file: PathBuf, what: &'static str },
}

/// Checks `ca.pem`, `cert.pem` and `key.pem` in `dir`.
pub(super) fn check_dir(
    dir: Option<&Path>,
    origin: &'static str,
) -> Result<CertFiles, CertProblem> {
    let dir = dir.ok_or(CertProblem::NoDir)?;
    let files = CertFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    // The key's mode first: a key others can read is refused whatever it holds.
    let meta = std::fs::metadata(&files.key).map_err(|source| CertProblem::Unreadable {
        file: files.key.clone(),
        origin,
        source,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(CertProblem::KeyExposed {
            file: files.key.clone(),
            mode,
        });
    }
    for (file, what) in [(&files.ca, "certificate"), (&files.cert, "certificate")] {
        let bytes = read(file, origin)?;
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .filter(Result::is_ok)
            .count();
        if certs == 0 {
            return Err(CertProblem::NotPem {
                file: file.clone(),
                what,
            });
        }
    }
    let key = read(&files.key, origin)?;
    if PrivateKeyDer::from_pem_slice(&key).is_err() {
        return Err(CertProblem::NotPem {
            file: files.key.clone(),
            what: "private key",
        });
    }
    Ok(files)
}

fn read(file: &Path, origin: &'static str) -> Result<Vec<u8>, CertProblem> {
    read_bounded(file).map_err(|p| match p {
        FileProblem::Io(source) => CertProblem::Unreadable {
            file: file.to_path_buf(),
            origin,
            source,
        },
        FileProblem::NotAFile(kind) => CertProblem::NotAFile {
            file: file.to_path_buf(),
            kind,
        },
        FileProblem::TooLarge => CertProblem::TooLarge {
            file: file.to_path_buf(),
            limit: MAX_CERT_BYTES,
        },
    })
}
