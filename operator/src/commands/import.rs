//! `turnout import`: describe a host built by hand as a plan a person
//! reviews. Reads the engine (its containers and their images; nothing
//! else, and changes nothing), writes the PortPlan and VersionSelection,
//! says what could not be carried over, and checks what it wrote the way
//! `turnout validate` does, so the person starts from the list of what
//! to fix.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use turnout_crds::load::Documents;

use crate::commands::validate::{print_documents, validate_documents};
use crate::files::{create_file, replace_file};
use crate::import::{Layout, Names, Sorted, to_yaml};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::docker::address::{self, EngineFlags};

/// Describe a host built by hand (`docker run`) as a PortPlan and VersionSelection to review.
///
/// Containers are sorted by name: infrastructure by --infra-prefix, each
/// version by its --version NAME=PREFIX (without any, a container's first
/// dash-separated word names its version); the rest, and turnout's own
/// containers, are left out with a warning. Each version's ports get a
/// range per hundred (8000-8099, ...). The version whose containers run is
/// selected. Secret-looking environment values are never written: each
/// becomes a secrets entry pointing at a file under --secrets-dir for you
/// to fill. Settings a plan cannot hold (restart policies, networks,
/// limits, ...) are listed on stderr and as comments in the plan.
///
/// The plan is then checked like `turnout validate` does: exit 0 when it
/// is valid, 1 when it breaks rules (each is printed with what to do; the
/// plan is written all the same, for you to edit). Nothing on the host is
/// changed.
///
/// Example: turnout import --version future=future- --version dao=dao- --out host.yaml
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The PortPlan's name.
    #[arg(long, value_name = "NAME", default_value = "host")]
    pub plan: String,
    /// The VersionSelection's name (default: the plan's).
    #[arg(long, value_name = "NAME")]
    pub selection: Option<String>,
    /// The name prefix of infrastructure containers; repeat for several.
    #[arg(long = "infra-prefix", value_name = "PREFIX", default_value = "test-")]
    pub infra_prefixes: Vec<String>,
    /// A version and the name prefix of its containers, e.g. future=future-; repeat for each version.
    #[arg(long = "version", value_name = "NAME=PREFIX", value_parser = version_prefix)]
    pub versions: Vec<(String, String)>,
    /// Write the plan to FILE instead of stdout (never over an existing file without --force).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace the --out file if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Where the plan's secrets are to be put: DIR/CONTAINER/SECRET, one file each.
    #[arg(long, value_name = "DIR", default_value = "/etc/turnout/secrets")]
    pub secrets_dir: PathBuf,
}

/// `future=future-` as (version, prefix).
fn version_prefix(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, prefix)) if !name.is_empty() && !prefix.is_empty() => {
            Ok((name.to_string(), prefix.to_string()))
        }
        _ => Err(format!(
            "{s:?} is not NAME=PREFIX (e.g. future=future-): a version's name, '=', and the name prefix of its containers"
        )),
    }
}

impl ImportArgs {
    /// Reads the engine `engine` (`--engine`, else `DOCKER_HOST`) names.
    pub async fn run(self, engine: EngineFlags) -> anyhow::Result<ExitCode> {
        if let Some(out) = &self.out
            && !self.force
            && out.symlink_metadata().is_ok()
        {
            bail!(
                "{} exists; turnout import does not write over it: pass --force to replace it, or another --out",
                out.display()
            );
        }
        let address = address::resolve(&engine)?;
        let runtime = DockerRuntime::connect_to(address).await?;
        eprintln!("engine: {}", runtime.describe());
        let found = runtime.inspect_for_import().await?;
        let layout = Layout {
            infrastructure: self.infra_prefixes.clone(),
            versions: self.versions.clone(),
        };
        let sorted = layout.sort(found);
        eprintln!("{}", summary(&sorted));
        let selection = self.selection.clone().unwrap_or_else(|| self.plan.clone());
        let names = Names {
            plan: &self.plan,
            selection: &selection,
            secrets_dir: &self.secrets_dir,
        };
        let (yaml, warnings) = to_yaml(&sorted, &names);
        self.write(&yaml)?;
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        self.check(&yaml)
    }

    /// The plan to stdout, or to --out whole (a new file, or with --force
    /// one replacing the old).
    fn write(&self, yaml: &str) -> anyhow::Result<()> {
        let Some(path) = &self.out else {
            let mut out = std::io::stdout().lock();
            out.write_all(yaml.as_bytes())?;
            return Ok(out.flush()?);
        };
        let written = if self.force {
            replace_file(path, yaml.as_bytes(), 0o644)
        } else {
            create_file(path, yaml.as_bytes(), 0o644)
        };
        written.with_context(|| format!("cannot write the plan to {}", path.display()))
    }

    /// Checks the plan as `turnout validate` would and says what to do.
    /// The report goes where the plan does not: stdout when the plan went
    /// to a file, else stderr.
    fn check(&self, yaml: &str) -> anyhow::Result<ExitCode> {
        let file = match &self.out {
            Some(path) => path.display().to_string(),
            None => "<stdout>".to_string(),
        };
        let mut out: Box<dyn Write> = match self.out {
            Some(_) => Box::new(std::io::stdout().lock()),
            None => Box::new(std::io::stderr().lock()),
        };
        let broken = match Documents::parse(Path::new(&file), yaml) {
            Ok(docs) => {
                let reports = validate_documents(&docs);
                print_documents(&mut out, &reports)?;
                reports.iter().map(|r| r.violations.len()).sum()
            }
            Err(e) => {
                writeln!(out, "error: the imported plan does not load: {e}")?;
                1
            }
        };
        let (edit, check) = match &self.out {
            Some(_) => (format!("edit {file}"), format!("`turnout validate {file}`")),
            None => (
                "save it to a file, edit it".to_string(),
                "`turnout validate FILE`".to_string(),
            ),
        };
        if broken == 0 {
            let target = if self.out.is_some() { &file } else { "FILE" };
            writeln!(
                out,
                "the imported plan is valid; review it, then `turnout apply --adopt {target}`"
            )?;
            return Ok(ExitCode::SUCCESS);
        }
        writeln!(
            out,
            "the imported plan breaks {broken} rule(s); {edit} and run {check}"
        )?;
        Ok(ExitCode::FAILURE)
    }
}

/// One line: what went where.
fn summary(sorted: &Sorted) -> String {
    let versions: Vec<String> = sorted
        .versions
        .iter()
        .map(|(v, cs)| format!("{v} ({})", cs.len()))
        .collect();
    format!(
        "found {} infrastructure container(s); versions: {}; {} container(s) left out",
        sorted.infrastructure.len(),
        if versions.is_empty() {
            "none".to_string()
        } else {
            versions.join(", ")
        },
        sorted.left_out.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_name_equals_prefix() {
        assert_eq!(
            version_prefix("future=future-"),
            Ok(("future".to_string(), "future-".to_string()))
        );
        assert_eq!(
            version_prefix("a=b=c"),
            Ok(("a".to_string(), "b=c".to_string()))
        );
        for bad in ["future", "=future-", "future="] {
            assert!(version_prefix(bad).is_err(), "{bad}");
        }
    }
}
