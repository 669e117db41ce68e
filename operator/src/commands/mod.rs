//! One module per command of the `turnout` binary.

pub mod crds;
pub mod ports;
pub mod validate;
