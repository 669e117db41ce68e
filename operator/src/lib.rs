//! turnout: keeps a Docker host on one selected version of a multi-version
//! application stack.
//!
//! The binary's commands live in [`commands`]; each is a thin driver over the
//! API crate (`turnout-crds`) and the pipeline modules.

pub mod cli;
pub mod commands;
pub mod output;
