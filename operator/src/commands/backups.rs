//! `turnout backups`: the backups of every data binding of a plan.

use std::path::PathBuf;
use std::process::ExitCode;

use super::data::{DataArgs, one_plan, targets};
use crate::output::Table;
use crate::sync::backup::{backup_dir_of, list_backups};

/// List the backups of every data binding of a plan.
#[derive(Debug, clap::Args)]
pub struct BackupsArgs {
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
}

impl BackupsArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let (plan_name, plan) = one_plan(&self.files)?;
        let opts = self.data.options(true, false);
        let mut t = Table::new(["TARGET", "BACKUP", "BYTES"]);
        for s in targets(&plan_name, &plan) {
            for f in list_backups(&backup_dir_of(&opts, &s.target)) {
                let size = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
                t.row([s.target.label(), f.display().to_string(), size.to_string()]);
            }
        }
        t.write(&mut std::io::stdout().lock(), "")?;
        Ok(ExitCode::SUCCESS)
    }
}
