//! One module per command of the `turnout` binary: each holds the command's
//! flags and help text (a `clap::Args` struct) and its `run`.

pub mod apply;
pub mod backups;
pub mod completions;
pub mod crds;
pub mod data;
pub mod import;
pub mod lineage;
pub mod man;
pub mod plan;
pub mod ports;
pub mod restore;
pub mod run;
pub mod standalone;
pub mod status;
pub mod sync;
pub mod validate;
