//! Each rule of `validate_plan`, `validate_selection` and `validate_sync`:
//! a plan that breaks it is refused with the right kind, path, subjects and
//! port, and the nearest valid plan is accepted without any violation. One
//! module per family of rules.

#[path = "../common/mod.rs"]
mod common;

mod containers;
mod data;
mod documents;
mod names;
mod notify;
mod ports;
mod ranges;

use common::*;
use turnout_crds::plan::{Engine, SecretKeyRef, SecretSource};
use turnout_crds::validate::{
    ViolationKind as K, validate_plan, validate_selection, validate_sync,
};

#[test]
fn the_base_plan_is_valid() {
    assert_valid(&valid_plan());
}

fn env(name: &str, value: &str) -> turnout_crds::plan::EnvVar {
    turnout_crds::plan::EnvVar {
        name: name.into(),
        value: value.into(),
    }
}

fn range(name: &str, from: u16, to: u16) -> turnout_crds::plan::PortRange {
    turnout_crds::plan::PortRange {
        name: name.into(),
        from: port(from),
        to: port(to),
    }
}
