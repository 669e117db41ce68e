//! What every engine recipe shares: a database endpoint with its
//! credentials, and the fingerprint that proves two copies hold the same data.

use std::fmt::Write as _;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::Endpoint;
use crate::runtime::stream::{ExecSpec, SecretValue};

/// Suffix of the database the previous tables are moved to by the swap.
pub use turnout_crds::names::OLD_SUFFIX as OLD;
/// Prefix of names turnout keeps for itself inside databases.
pub use turnout_crds::names::RESERVED_PREFIX;
/// Suffix of the database a copy is loaded into before the swap (plans may
/// not name such databases: validation refuses them).
pub use turnout_crds::names::STAGING_SUFFIX as STAGING;

/// Name of the table that marks a staging (or set-aside) database as
/// turnout's own: only databases carrying it are ever dropped by turnout.
pub const MARKER_TABLE: &str = "__turnout_marker";

/// How long the data path waits on a database command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// One query, or a whole statement script (fingerprints, swaps).
    pub query: Duration,
    /// A stream (dump into load, backup) that moves no byte for this long.
    pub stream_idle: Duration,
    /// How long a statement waits for a table lock held by someone else
    /// (MySQL's `lock_wait_timeout`, PostgreSQL's `lock_timeout`).
    pub lock_wait: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            query: Duration::from_secs(3600),
            stream_idle: Duration::from_secs(600),
            lock_wait: Duration::from_secs(60),
        }
    }
}

/// A database endpoint with its client credentials and timeouts.
pub struct Db<'a> {
    pub at: &'a Endpoint,
    pub password: Option<SecretValue>,
    pub timeouts: Timeouts,
}

impl Db<'_> {
    /// `argv` in the database's container, on its engine.
    pub fn exec(&self, argv: impl IntoIterator<Item = impl Into<String>>) -> ExecSpec {
        ExecSpec::new(&self.at.container, argv).on(self.at.side)
    }
}

/// How much of a query's answer is kept: far above a fingerprint of
/// thousands of tables.
const ANSWER_LIMIT: usize = 64 * 1024 * 1024;

/// Runs `spec` (a database client) with `script` on its stdin and returns
/// what it printed. A non-zero exit, or an answer over 64 MiB, fails,
/// naming `what` (never SQL: it may hold names from the server) and the
/// container.
pub async fn answer<R: crate::runtime::stream::DataExec>(
    rt: &R,
    db: &Db<'_>,
    spec: &ExecSpec,
    script: &str,
    what: &str,
) -> Result<String, super::SyncError> {
    let out = rt
        .capture(spec, Some(script.as_bytes()), ANSWER_LIMIT)
        .await?;
    if out.exit_code != 0 {
        return Err(super::SyncError::Command {
            what: format!("{what} on {}", db.at.container),
            code: out.exit_code,
            stderr: out.stderr.trim().to_string(),
        });
    }
    if out.truncated {
        return Err(super::SyncError::Io(format!(
            "the answer to {what} on {} was larger than {ANSWER_LIMIT} bytes",
            db.at.container
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A name read from a database server, refused when it holds a control
/// character (a tab or newline would split a row of client output) or uses
/// turnout's reserved prefix. Checked before the target is touched.
pub fn check_name(database: &str, kind: &str, name: &str) -> Result<(), super::SyncError> {
    let bad = name.chars().any(char::is_control) || name.starts_with(RESERVED_PREFIX);
    if bad {
        return Err(super::SyncError::HostileName {
            database: database.to_string(),
            kind: kind.to_string(),
            name: name.escape_debug().to_string(),
        });
    }
    Ok(())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// What a database holds: tables with row counts and checksums, and views.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Fingerprint {
    pub tables: Vec<(String, u64, String)>,
    pub views: Vec<String>,
}

impl Fingerprint {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.1).sum()
    }

    /// One digest over every table's name, rows and checksum: the data.
    /// Views are definitions, compared by [`Fingerprint::same_as`]; keeping
    /// them out of the digest means a swap cut between moving the tables and
    /// recreating the views still reads as turnout's own write.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for (t, rows, sum) in &self.tables {
            h.update(format!("table {t} {rows} {sum}\n"));
        }
        h.finalize()
            .iter()
            .take(16)
            .fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }

    /// Same data and same views.
    pub fn same_as(&self, other: &Fingerprint) -> bool {
        self.digest() == other.digest() && self.views == other.views
    }

    /// What differs, for a person.
    pub fn difference(&self, other: &Fingerprint) -> String {
        let mut out = Vec::new();
        for (t, rows, sum) in &self.tables {
            match other.tables.iter().find(|o| &o.0 == t) {
                None => out.push(format!("table {t} is missing")),
                Some((_, r, s)) if r != rows => {
                    out.push(format!("table {t} has {r} rows, expected {rows}"))
                }
                Some((_, _, s)) if s != sum => {
                    out.push(format!("table {t} checksum {s}, expected {sum}"))
                }
                Some(_) => {}
            }
        }
        for (t, ..) in &other.tables {
            if !self.tables.iter().any(|o| &o.0 == t) {
                out.push(format!("unexpected table {t}"));
            }
        }
        if self.views != other.views {
            out.push(format!(
                "views {:?}, expected {:?}",
                other.views, self.views
            ));
        }
        out.join("; ")
    }
}
