//! One module per command of the `turnout` binary.

pub mod apply;
pub mod crds;
pub mod plan;
pub mod ports;
pub mod run;
pub mod status;
pub mod sync;
pub mod validate;
