//! The git webhook's authentication: `POST /hooks/git` must carry
//! `X-Hub-Signature-256: sha256=<hex of HMAC-SHA256(secret, raw body)>`,
//! the signature GitHub and Gitea send. The secret comes from a file (in
//! Kubernetes, a mounted Secret), read with a bound; it never reaches a
//! log, an error or a reply, and neither does a request's signature.

use std::io::Read;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header GitHub and Gitea put the body's signature in.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Secret files larger than this are refused (a secret is a few dozen bytes;
/// a huge file is a mistake, and a device that never ends is an attack).
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// The shared secret. Its Debug output never shows the bytes.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// Why the secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("cannot open the webhook secret file {path}: {source}; check --webhook-secret-file")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the webhook secret file {path} is not a regular file (a FIFO, device or directory); point --webhook-secret-file at a file holding the secret"
    )]
    NotAFile { path: PathBuf },
    #[error(
        "the webhook secret file {path} is larger than {MAX_SECRET_BYTES} bytes; it should hold only the secret"
    )]
    TooLarge { path: PathBuf },
    #[error("the webhook secret file {path} is empty; write the shared secret into it")]
    Empty { path: PathBuf },
}

impl SecretFileError {
    /// A stable name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            SecretFileError::Open { .. } => "SecretFileUnreadable",
            SecretFileError::NotAFile { .. } => "SecretFileNotRegular",
            SecretFileError::TooLarge { .. } => "SecretFileTooLarge",
            SecretFileError::Empty { .. } => "SecretFileEmpty",
        }
    }
}

impl WebhookSecret {
    /// Reads the secret from `path`: a regular file (symlinks followed, as a
    /// mounted Kubernetes Secret is one) of at most [`MAX_SECRET_BYTES`],
    /// trailing newlines trimmed. Opening does not block on a FIFO.
    pub fn from_file(path: &Path) -> Result<WebhookSecret, SecretFileError> {
        use rustix::fs::{Mode, OFlags};
        let open_err = |source: std::io::Error| SecretFileError::Open {
            path: path.to_path_buf(),
            source,
        };
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| open_err(e.into()))?;
        let file = std::fs::File::from(fd);
        let meta = file.metadata().map_err(open_err)?;
        if !meta.is_file() {
            return Err(SecretFileError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        let mut bytes = Vec::new();
        file.take(MAX_SECRET_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(open_err)?;
        if bytes.len() as u64 > MAX_SECRET_BYTES {
            return Err(SecretFileError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        if bytes.is_empty() {
            return Err(SecretFileError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(WebhookSecret(bytes))
    }

    /// A secret from bytes already in memory.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> WebhookSecret {
        WebhookSecret(bytes.into())
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    /// The header value a sender puts on `body`: `sha256=<hex>`.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256={hex}")
    }

    /// Checks a request's signature header against its raw body, in
    /// constant time.
    pub fn verify(&self, header: Option<&[u8]>, body: &[u8]) -> Result<(), Rejected> {
        let header = header.ok_or(Rejected::Unsigned)?;
        let tag = parse_signature(header).ok_or(Rejected::Malformed)?;
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(&tag).map_err(|_| Rejected::Mismatch)
    }
}

/// Why a webhook request was refused (said to the sender; never echoes the
/// signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error(
        "the request is not signed: send X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>"
    )]
    Unsigned,
    #[error("X-Hub-Signature-256 is not of the form sha256=<64 hex digits>")]
    Malformed,
    #[error("the signature does not match the body and the webhook secret")]
    Mismatch,
}

impl Rejected {
    /// A stable name for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejected::Unsigned => "Unsigned",
            Rejected::Malformed => "MalformedSignature",
            Rejected::Mismatch => "BadSignature",
        }
    }
}

/// `sha256=` followed by 64 hex digits (either case), as 32 bytes.
fn parse_signature(header: &[u8]) -> Option<[u8; 32]> {
    let hex = header.trim_ascii().strip_prefix(b"sha256=")?;
    if hex.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_github_documents() {
        // The example in GitHub's "Validating webhook deliveries".
        let s = WebhookSecret::from_bytes("It's a Secret to Everybody");
        let sig = s.sign(b"Hello, World!");
        assert_eq!(
            sig,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert_eq!(s.verify(Some(sig.as_bytes()), b"Hello, World!"), Ok(()));
        assert_eq!(
            s.verify(
                Some(sig.to_uppercase().replace("SHA256", "sha256").as_bytes()),
                b"Hello, World!"
            ),
            Ok(())
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let s = WebhookSecret::from_bytes("Jefe");
        assert_eq!(
            s.sign(b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn refuses_missing_malformed_and_wrong_signatures() {
        let s = WebhookSecret::from_bytes("k");
        let body = b"{\"ref\":\"refs/heads/main\"}";
        assert_eq!(s.verify(None, body), Err(Rejected::Unsigned));
        assert_eq!(s.verify(Some(b"sha1=abc"), body), Err(Rejected::Malformed));
        assert_eq!(s.verify(Some(b"sha256=zz"), body), Err(Rejected::Malformed));
        let other = WebhookSecret::from_bytes("k2").sign(body);
        assert_eq!(
            s.verify(Some(other.as_bytes()), body),
            Err(Rejected::Mismatch)
        );
        let right = s.sign(body);
        assert_eq!(
            s.verify(Some(right.as_bytes()), b"{}"),
            Err(Rejected::Mismatch)
        );
        assert_eq!(format!("{s:?}"), "WebhookSecret(***)");
    }

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("turnout-webhook-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn reads_a_regular_file_and_trims_the_newline() {
        let d = temp("ok");
        std::fs::write(d.join("s"), "t0ps3cret\r\n\n").unwrap();
        let s = WebhookSecret::from_file(&d.join("s")).unwrap();
        assert_eq!(
            s.sign(b"x"),
            WebhookSecret::from_bytes("t0ps3cret").sign(b"x")
        );
        std::os::unix::fs::symlink(d.join("s"), d.join("link")).unwrap();
        assert!(WebhookSecret::from_file(&d.join("link")).is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_fifos_devices_directories_big_and_empty_files() {
        let d = temp("bad");
        let fifo = d.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Would block forever without O_NONBLOCK: nothing writes to it.
        let e = WebhookSecret::from_file(&fifo).unwrap_err();
        assert_eq!(e.reason(), "SecretFileNotRegular", "{e}");
        let e = WebhookSecret::from_file(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(e.reason(), "SecretFileNotRegular", "{e}");
        let e = WebhookSecret::from_file(&d).unwrap_err();
        assert_eq!(e.reason(), "SecretFileNotRegular", "{e}");
        std::fs::write(d.join("big"), vec![b'a'; MAX_SECRET_BYTES as usize + 1]).unwrap();
        let e = WebhookSecret::from_file(&d.join("big")).unwrap_err();
        assert_eq!(e.reason(), "SecretFileTooLarge", "{e}");
        std::fs::write(d.join("max"), vec![b'a'; MAX_SECRET_BYTES as usize]).unwrap();
        assert!(WebhookSecret::from_file(&d.join("max")).is_ok());
        std::fs::write(d.join("empty"), "\n").unwrap();
        let e = WebhookSecret::from_file(&d.join("empty")).unwrap_err();
        assert_eq!(e.reason(), "SecretFileEmpty", "{e}");
        let e = WebhookSecret::from_file(&d.join("missing")).unwrap_err();
        assert_eq!(e.reason(), "SecretFileUnreadable", "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
