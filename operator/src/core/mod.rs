//! The pure core of the reconcile pipeline: no Docker, no Kubernetes, no I/O.
//!
//! ```text
//! observe -> validate, build, diff (plan.rs, build.rs, diff.rs) -> preflight (preflight.rs) -> apply -> report
//! ```
//!
//! `model` holds the plain data the steps exchange: what should run
//! ([`model::Desired`]) and what was seen running ([`model::ObservedContainer`]);
//! `target` what a reconcile is asked for; `switch` which version runs.

pub mod adopt;
pub mod build;
pub mod diff;
pub mod model;
pub mod plan;
pub mod preflight;
pub mod switch;
pub mod target;

pub use build::build_desired;
pub use diff::{Action, ActionKind, Phase, diff};
pub use model::{Desired, DesiredContainer, ObservedContainer, ObservedPort, Role, RunState};
pub use plan::plan;
pub use preflight::{Blocker, Holder, Listener, preflight};
pub use switch::{running_version, switch_from, version_up};
pub use target::{Owner, SecretValues, Target};
