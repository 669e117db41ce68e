//! `turnout validate`: every rule, every violation, for people and scripts.

mod report;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use turnout_crds::load::Documents;

use crate::output::{Format, write_data};

pub use report::{DocumentReport, validate_documents};

/// Check plans, selections and syncs against every rule, and print every violation.
///
/// Files hold the same YAML documents `kubectl apply` takes (PortPlan,
/// VersionSelection, DataSync), separated by `---`. A selection is checked
/// against the plan it names, so pass the plan's file too. Exits 0 when
/// everything is valid, 1 when anything is not.
///
/// Example: turnout validate examples/three-versions.yaml examples/version-selection.yaml
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// YAML files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Serialize)]
struct Outcome {
    valid: bool,
    /// Files that could not be read or parsed.
    errors: Vec<FileError>,
    documents: Vec<DocumentReport>,
}

#[derive(Serialize)]
struct FileError {
    file: String,
    reason: &'static str,
    message: String,
}

impl ValidateArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        run(&self.files, self.output)
    }
}

fn run(files: &[PathBuf], format: Format) -> anyhow::Result<ExitCode> {
    let mut docs = Documents::default();
    let mut errors = Vec::new();
    for f in files {
        let loaded = Documents::read(f).and_then(|d| docs.merge(d));
        if let Err(e) = loaded {
            errors.push(FileError {
                file: f.display().to_string(),
                reason: e.reason(),
                message: e.to_string(),
            });
        }
    }
    let documents = validate_documents(&docs);
    let valid = errors.is_empty() && documents.iter().all(|d| d.violations.is_empty());
    let outcome = Outcome {
        valid,
        errors,
        documents,
    };
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => print_human(&mut out, &outcome)?,
        f => write_data(&mut out, f, &outcome)?,
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_human(out: &mut dyn Write, o: &Outcome) -> std::io::Result<()> {
    for e in &o.errors {
        writeln!(out, "error: {}", e.message)?;
    }
    print_documents(out, &o.documents)?;
    if o.valid {
        writeln!(out, "all {} documents are valid", o.documents.len())?;
    }
    Ok(())
}

/// Each document's verdict and every rule it breaks: the YAML path, the
/// rule's reason, and its message, which says what to do.
pub fn print_documents(out: &mut dyn Write, documents: &[DocumentReport]) -> std::io::Result<()> {
    for d in documents {
        if d.violations.is_empty() {
            writeln!(out, "ok: {}: {} {} is valid", d.file, d.kind, d.name)?;
            continue;
        }
        let n = d.violations.len();
        writeln!(
            out,
            "invalid: {}: {} {} breaks {n} rule{}:",
            d.file,
            d.kind,
            d.name,
            if n == 1 { "" } else { "s" }
        )?;
        for v in &d.violations {
            writeln!(out, "  - {} [{}]\n    {}", v.path, v.kind, v.message)?;
        }
    }
    Ok(())
}
