//! The command line: what each command does and the flags it takes.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::output::Format;

/// turnout keeps a Docker host on one selected version of a multi-version
/// application stack: shared databases on their standard ports, exactly one
/// version's services on that version's port ranges, data carried across.
///
/// Start with `turnout validate plan.yaml` and `turnout ports plan.yaml`.
#[derive(Debug, Parser)]
#[command(name = "turnout", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plans, selections and syncs against every rule, and print every violation.
    ///
    /// Files hold the same YAML documents `kubectl apply` takes (PortPlan,
    /// VersionSelection, DataSync), separated by `---`. A selection is checked
    /// against the plan it names, so pass the plan's file too. Exits 0 when
    /// everything is valid, 1 when anything is not.
    ///
    /// Example: turnout validate examples/three-versions.yaml examples/version-selection.yaml
    Validate {
        /// YAML files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Print the port table of a plan: infrastructure ports, and each version's ranges and assigned ports.
    ///
    /// Example: turnout ports examples/three-versions.yaml
    Ports {
        /// A YAML file holding one PortPlan.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Print the CustomResourceDefinitions (PortPlan, VersionSelection, DataSync) as YAML.
    ///
    /// Example: turnout crds | kubectl apply -f -
    Crds,
}
