//! The pure core of the reconcile pipeline: no Docker, no Kubernetes, no I/O.
//!
//! ```text
//! observe -> validate -> build (build.rs) -> diff (diff.rs) -> preflight (preflight.rs) -> apply -> report
//! ```
//!
//! `model` holds the plain data the steps exchange: what should run
//! ([`model::Desired`]) and what was seen running ([`model::ObservedContainer`]).

pub mod build;
pub mod diff;
pub mod model;
pub mod preflight;

pub use build::build_desired;
pub use diff::{Action, ActionKind, Phase, diff};
pub use model::{Desired, DesiredContainer, ObservedContainer, ObservedPort, Role, RunState};
pub use preflight::{Blocker, Holder, Listener, preflight};
