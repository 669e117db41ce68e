//! What every engine recipe shares: a database endpoint with its
//! credentials, and the fingerprint that proves two copies hold the same data.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::Endpoint;
use crate::runtime::stream::SecretValue;

/// Suffix of the database a copy is loaded into before the swap.
pub const STAGING: &str = "__turnout_staging";
/// Suffix of the database the previous tables are moved to by the swap.
pub const OLD: &str = "__turnout_old";

/// A database endpoint with its client credentials.
pub struct Db<'a> {
    pub at: &'a Endpoint,
    pub password: Option<SecretValue>,
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
