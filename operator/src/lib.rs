//! turnout: keeps a Docker host on one selected version of a multi-version
//! application stack.
//!
//! The binary's commands live in [`commands`]; each is a thin driver over the
//! API crate (`turnout-crds`) and the pipeline modules.

pub mod cli;
pub mod commands;
pub mod controller;
pub mod core;
pub mod engine;
pub mod files;
pub mod gitsource;
pub mod host;
pub mod http;
pub mod import;
pub mod lock;
pub mod metrics;
pub mod notify;
pub mod output;
pub mod portmap;
pub mod probe;
pub mod reconcile;
pub mod runtime;
pub mod secrets;
pub mod shutdown;
pub mod standalone;
pub mod status;
pub mod sync;
pub mod target;
