//! The whole reconcile pipeline (observe -> validate -> build -> diff ->
//! preflight -> apply -> report) against the in-memory runtime, asserting
//! what a user of turnout cares about: what runs afterwards, and exactly
//! which calls changed the host. One story per module:
//!
//! - [`switch`]: converging from nothing, switching versions, a converged
//!   host costing one list call, an interrupted switch finished later;
//! - [`drift`]: the host changed by hand is put back, and any sequence of
//!   drift and switches converges;
//! - [`preflight`]: what blocks a reconcile before anything changes (taken
//!   ports and names, missing images, invalid plans, a paused selection);
//! - [`changes`]: a changed spec recreates only its container;
//! - [`readiness`]: probes that pass, fail, and hold back a version;
//! - [`secrets`]: secret values reach containers only as files;
//! - [`crash`]: a container that keeps going down is held, not restarted forever;
//! - [`adoption`]: containers made by hand taken over, refused, or put back;
//! - [`rollback`]: a switch that does not come up goes back, and stays back;
//! - [`strategy`]: switching by pause/unpause (Pause) or stop-while-start (Overlap);
//! - [`status_page`]: what the status page reads of a reconcile (images, blockers).

#[path = "../common/mod.rs"]
mod common;

mod adoption;
mod changes;
mod crash;
mod drift;
mod preflight;
mod readiness;
mod rollback;
mod secrets;
mod status_page;
mod strategy;
mod switch;

use std::collections::BTreeSet;

use common::*;
use turnout::core::{Action, Blocker, RunState};
use turnout::host::StaticHost;
use turnout::reconcile::{Applied, Outcome, Run};
use turnout::runtime::memory::{Call, MemoryRuntime};

fn applied(o: Outcome) -> Applied {
    match o {
        Outcome::Applied(a) => a,
        other => panic!("expected Outcome::Applied, got {other:#?}"),
    }
}

fn names(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn c(n: &str) -> String {
    n.to_string()
}

/// Index of the first call equal to `call`; panics when it was not made.
fn pos(calls: &[Call], call: &Call) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("{call:?} was not called; calls: {calls:?}"))
}

/// No call addressed the container `name` (create, start, stop, remove, exec).
fn assert_untouched(calls: &[Call], name: &str) {
    let touching: Vec<&Call> = calls
        .iter()
        .filter(|c| call_container(c) == Some(name))
        .collect();
    assert!(touching.is_empty(), "{name} was addressed by {touching:?}");
}

fn id_of(rt: &MemoryRuntime, name: &str) -> String {
    rt.containers()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} is not on the host"))
        .id
}

fn state_of(rt: &MemoryRuntime, name: &str) -> Option<RunState> {
    rt.containers()
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.state)
}

/// A host converged on version `active` from scratch; calls forgotten.
async fn converged_on(active: &str) -> (std::sync::Arc<MemoryRuntime>, TestReconciler) {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("conv"));
    let a = applied(r.reconcile(&target(active), &Run::default()).await);
    assert!(a.converged(), "setup did not converge: {:?}", a.error);
    rt.take_calls();
    (rt, r)
}

/// Converged on a, with b's containers present and stopped.
async fn converged_on_a_after_b() -> (std::sync::Arc<MemoryRuntime>, TestReconciler) {
    let (rt, r) = converged_on("b").await;
    assert!(applied(r.reconcile(&target("a"), &Run::default()).await).converged());
    rt.take_calls();
    (rt, r)
}

fn blocked(o: Outcome) -> (Vec<Action>, Vec<Blocker>) {
    match o {
        Outcome::Blocked {
            pending, blockers, ..
        } => (pending, blockers),
        other => panic!("expected Outcome::Blocked, got {other:#?}"),
    }
}
