//! Leader election against the suite's HTTP-level API double, scripted:
//! each test answers the API server's side one request at a time and asserts
//! the exact requests turnout makes for its Lease — method, path, and the
//! fields of the election record it writes.
//!
//! The timers (retry, renew, the lease deadline) run on paused tokio time,
//! so the tests assert when each request comes, to the millisecond, without
//! waiting for it. The record's times are wall-clock (`jiff`) timestamps,
//! which paused time does not move.
//!
//! [`acquire`] covers becoming leader, [`leading`] renewing, losing and
//! releasing the Lease.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

#[path = "../common/mod.rs"]
mod common;

mod acquire;
mod leading;

use std::time::Duration;

use common::api_double::{PATIENCE, Script, scripted};
use http::Method;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::time::timeout;
use turnout::controller::lease::{Leader, LeaseConfig, acquire};

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases/turnout";
/// How soon a candidate looks again, and a failed request is retried.
const RETRY: Duration = Duration::from_millis(30);

/// A MicroTime as the API server writes it: RFC 3339 with microseconds.
fn micro_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The Lease as the API server returns it.
fn lease(
    holder: Option<&str>,
    renewed: Timestamp,
    duration_secs: i32,
    transitions: i32,
    resource_version: &str,
) -> Value {
    let mut spec = json!({
        "leaseDurationSeconds": duration_secs,
        "acquireTime": micro_time(renewed - SignedDuration::from_secs(600)),
        "renewTime": micro_time(renewed),
        "leaseTransitions": transitions,
    });
    if let Some(holder) = holder {
        spec["holderIdentity"] = json!(holder);
    }
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "turnout", "namespace": "default", "resourceVersion": resource_version,
                     "labels": {"app": "turnout"}},
        "spec": spec,
    })
}

fn config(identity: &str, duration: Duration, renew_every: Duration) -> LeaseConfig {
    LeaseConfig {
        namespace: "default".into(),
        name: "turnout".into(),
        identity: identity.into(),
        duration,
        renew_every,
        retry_every: RETRY,
    }
}

/// Now, less the microsecond that the API's MicroTime may truncate.
fn now() -> Timestamp {
    Timestamp::now() - SignedDuration::from_micros(1)
}

/// A time field of a written record.
fn time(body: &Value, field: &str) -> Timestamp {
    body["spec"][field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing from {body}"))
        .parse()
        .unwrap()
}

/// Waits (on the wall clock, which paused time does not hold) until a
/// record written from now on has a later MicroTime than `t`.
fn pass(t: Timestamp) {
    let later = t + SignedDuration::from_micros(2);
    while Timestamp::now() < later {
        std::hint::spin_loop();
    }
}

fn hour_ago() -> Timestamp {
    Timestamp::now() - SignedDuration::from_hours(1)
}

async fn leads(acquiring: tokio::task::JoinHandle<Leader>) -> Leader {
    let leader = timeout(PATIENCE, acquiring)
        .await
        .expect("acquire returns in time")
        .unwrap();
    assert!(leader.is_leading());
    leader
}

/// Acquires an absent Lease for `me`, which the double creates at
/// resourceVersion 1; returns the leader and the create's body.
async fn lead_fresh(client: kube::Client, api: &mut Script, cfg: LeaseConfig) -> (Leader, Value) {
    let acquiring = tokio::spawn(acquire(client, cfg));
    api.expect(Method::GET, LEASE).await.fail(404, "NotFound");
    let create = api.expect(Method::POST, LEASES).await;
    let body = create.body.clone();
    // Later writes of the record are later on the wall clock too.
    pass(time(&body, "renewTime"));
    create.accept(201, "1");
    (leads(acquiring).await, body)
}
