//! `turnout man`: the manual page, generated from the same definitions as
//! `--help`: `turnout.1` on stdout, or with `--out DIR` one page per command
//! (`turnout.1`, `turnout-sync.1`, ...) for `man turnout-sync`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;
use clap_mangen::Man;

use crate::cli::Cli;

/// Print turnout's manual page (roff), generated from the same definitions as --help.
///
/// `turnout man | man -l -` reads it at once. With --out DIR it writes
/// turnout.1 and a page per command (turnout-apply.1, turnout-sync.1, ...)
/// into DIR instead, each replaced atomically; with DIR on the manual path
/// (e.g. /usr/local/share/man/man1) `man turnout-sync` opens one.
///
/// Example: turnout man --out /usr/local/share/man/man1
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write one page per command into this directory instead of printing turnout.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl ManArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let pages = pages()?;
        match &self.out {
            None => {
                let (_, top) = pages.first().context("no manual page was generated")?;
                std::io::stdout().lock().write_all(top)?;
            }
            Some(dir) => write_pages(dir, &pages)?,
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Every page as (file name, roff): `turnout.1` first, then one per
/// command that `turnout --help` lists (not `help` itself).
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = vec![page(cmd.clone())?];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(page(sub.clone())?);
    }
    Ok(pages)
}

fn page(cmd: clap::Command) -> std::io::Result<(String, Vec<u8>)> {
    let man = Man::new(cmd);
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    Ok((man.get_filename(), roff))
}

fn write_pages(dir: &Path, pages: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for (name, roff) in pages {
        let path = dir.join(name);
        crate::files::replace_file(&path, roff, 0o644)
            .with_context(|| format!("cannot write the manual page {}", path.display()))?;
        writeln!(out, "{}", path.display())?;
    }
    Ok(())
}
