//! `turnout lineage`: what turnout knows of each database on this host:
//! the contents it last wrote there (and where they came from: environment,
//! engine, version, database, the source's checksum, when) or last read
//! there as a copy's source. "What is in production's dao_users, and where
//! did it come from" has its answer here.

use std::collections::BTreeMap;
use std::process::ExitCode;

use super::data::DataArgs;
use crate::output::{Format, Table, write_data};
use crate::sync::record::{Records, Written};

/// Show where each database's contents came from.
///
/// Reads the records `turnout sync`, switches and restores keep in the
/// data directory; changes nothing.
///
/// Example: turnout lineage --data-dir /var/lib/turnout
#[derive(Debug, clap::Args)]
pub struct LineageArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

impl LineageArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let records = Records::load(&self.data.data_dir)?;
        let mut out = std::io::stdout().lock();
        match self.output {
            Format::Table => table(&records.entries).write(&mut out, "")?,
            f => write_data(&mut out, f, &records.entries)?,
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// One row per database: LAST says whether turnout last wrote it or read it
/// (as a copy's source); FROM, ENVIRONMENT and VERSION where its contents
/// came from, when turnout copied them there.
pub fn table(records: &BTreeMap<String, Written>) -> Table {
    let mut t = Table::new([
        "DATABASE",
        "LAST",
        "FROM",
        "ENVIRONMENT",
        "VERSION",
        "CHECKSUM",
        "AT",
    ]);
    for (key, w) in records {
        t.row(row(key, w));
    }
    t
}

fn row(key: &str, w: &Written) -> [String; 7] {
    let last = if w.pending.is_some() {
        "swapping"
    } else if w.read {
        "read"
    } else {
        "written"
    };
    // Where the contents came from stays true after turnout read them.
    let (from, environment, version) = match (&w.lineage, w.read) {
        (Some(l), _) => (
            match &l.engine {
                Some(engine) => format!("{} on {engine}", l.database),
                None => l.database.clone(),
            },
            l.environment.clone().unwrap_or_else(|| "-".into()),
            l.version.clone(),
        ),
        // Only ever read here (never a copy's target).
        (None, true) => ("-".to_string(), "-".to_string(), "-".to_string()),
        // Written by a restore, or before lineage was recorded.
        (None, false) => (w.source.clone(), "-".into(), "-".into()),
    };
    let short = w.checksum.get(..12).unwrap_or(&w.checksum).to_string();
    [
        crate::output::one_line(key, 120),
        last.to_string(),
        crate::output::one_line(&from, 160),
        environment,
        version,
        short,
        w.at.clone(),
    ]
}
