//! Leader election against the suite's HTTP-level API double, scripted:
//! each test answers the API server's side one request at a time and asserts
//! the exact requests turnout makes for its Lease — method, path, and the
//! fields of the election record it writes.
//!
//! The timers (retry, renew, the lease deadline) run on paused tokio time,
//! so the tests assert when each request comes, to the millisecond, without
//! waiting for it. The record's times are wall-clock (`jiff`) timestamps,
//! which paused time does not move.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::api_double::{PATIENCE, Script, scripted};
use http::Method;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::time::{Instant, timeout};
use turnout::controller::lease::{Leader, LeaseConfig, Lost, acquire};

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

#[tokio::test(start_paused = true)]
async fn an_absent_lease_is_created_with_us_as_holder() {
    let (client, mut api) = scripted();
    let before = now();
    let acquiring = tokio::spawn(acquire(
        client,
        config("me", Duration::from_millis(2500), Duration::from_secs(3600)),
    ));

    api.expect(Method::GET, LEASE).await.fail(404, "NotFound");
    let create = api.expect(Method::POST, LEASES).await;
    let body = create.body.clone();
    create.accept(201, "1");
    let leader = leads(acquiring).await;

    assert_eq!(body["apiVersion"], "coordination.k8s.io/v1");
    assert_eq!(body["kind"], "Lease");
    assert_eq!(body["metadata"]["name"], "turnout");
    assert_eq!(body["metadata"]["namespace"], "default");
    assert_eq!(body["spec"]["holderIdentity"], "me");
    assert_eq!(body["spec"]["leaseDurationSeconds"], 3, "2.5 s rounds up");
    assert_eq!(body["spec"]["leaseTransitions"], 0);
    let (acquired, renewed) = (time(&body, "acquireTime"), time(&body, "renewTime"));
    assert_eq!(acquired, renewed);
    assert!(
        before <= renewed && renewed <= Timestamp::now(),
        "{renewed}"
    );

    // Dropping the leader stops the renewing task: nothing more is written.
    drop(leader);
    api.finished().await;
}

#[tokio::test(start_paused = true)]
async fn a_live_holder_is_waited_out_and_an_expired_one_taken_over() {
    let (client, mut api) = scripted();
    let acquiring = tokio::spawn(acquire(
        client,
        config("me", Duration::from_secs(2), Duration::from_secs(3600)),
    ));

    let first = Instant::now();
    api.expect(Method::GET, LEASE)
        .await
        .reply(200, lease(Some("other"), Timestamp::now(), 15, 2, "5"));
    // Still renewed by the other instance: look again, later, without writing.
    api.expect(Method::GET, LEASE)
        .await
        .reply(200, lease(Some("other"), Timestamp::now(), 15, 2, "5"));
    let apart = first.elapsed();
    assert!(
        apart >= RETRY && apart < 2 * RETRY,
        "retry_every apart: {apart:?}"
    );
    let get = api.expect(Method::GET, LEASE).await;
    assert!(
        !acquiring.is_finished(),
        "no leadership while another holds it"
    );

    // The other instance stopped renewing an hour ago.
    let before = now();
    get.reply(200, lease(Some("other"), hour_ago(), 15, 2, "6"));
    let put = api.expect(Method::PUT, LEASE).await;
    let body = put.body.clone();
    put.accept(200, "7");
    let _leader = leads(acquiring).await;

    assert_eq!(
        body["metadata"]["resourceVersion"], "6",
        "the observed version"
    );
    assert_eq!(
        body["metadata"]["labels"]["app"], "turnout",
        "the rest kept"
    );
    assert_eq!(body["spec"]["holderIdentity"], "me");
    assert_eq!(body["spec"]["leaseTransitions"], 3);
    assert_eq!(body["spec"]["leaseDurationSeconds"], 2);
    let (acquired, renewed) = (time(&body, "acquireTime"), time(&body, "renewTime"));
    assert_eq!(acquired, renewed);
    assert!(before <= acquired, "acquired now, not when the other did");
}

#[tokio::test(start_paused = true)]
async fn a_lost_race_on_replace_goes_back_to_reading() {
    let (client, mut api) = scripted();
    let acquiring = tokio::spawn(acquire(
        client,
        config("me", Duration::from_secs(2), Duration::from_secs(3600)),
    ));

    // Released by its last holder: free to take at once, fresh renewTime or not.
    api.expect(Method::GET, LEASE)
        .await
        .reply(200, lease(None, Timestamp::now(), 1, 4, "3"));
    let put = api.expect(Method::PUT, LEASE).await;
    assert_eq!(put.body["metadata"]["resourceVersion"], "3");
    assert_eq!(put.body["spec"]["leaseTransitions"], 5);
    put.fail(409, "Conflict");

    let get = api.expect(Method::GET, LEASE).await;
    assert!(!acquiring.is_finished(), "a refused write is no leadership");
    get.reply(200, lease(Some("other"), hour_ago(), 15, 5, "4"));
    let put = api.expect(Method::PUT, LEASE).await;
    let body = put.body.clone();
    put.accept(200, "5");
    let _leader = leads(acquiring).await;

    assert_eq!(
        body["metadata"]["resourceVersion"], "4",
        "re-read after the 409"
    );
    assert_eq!(body["spec"]["holderIdentity"], "me");
    assert_eq!(body["spec"]["leaseTransitions"], 6);
}

#[tokio::test(start_paused = true)]
async fn a_lost_race_on_create_goes_back_to_waiting() {
    let (client, mut api) = scripted();
    let acquiring = tokio::spawn(acquire(
        client,
        config("me", Duration::from_secs(2), Duration::from_secs(3600)),
    ));

    api.expect(Method::GET, LEASE).await.fail(404, "NotFound");
    api.expect(Method::POST, LEASES)
        .await
        .fail(409, "AlreadyExists");
    api.expect(Method::GET, LEASE)
        .await
        .reply(200, lease(Some("winner"), Timestamp::now(), 15, 0, "1"));
    // Waiting for the winner: reading, not writing.
    api.expect(Method::GET, LEASE)
        .await
        .reply(200, lease(Some("winner"), Timestamp::now(), 15, 0, "2"));
    api.expect(Method::GET, LEASE).await;
    assert!(!acquiring.is_finished());
    acquiring.abort();
}

#[tokio::test(start_paused = true)]
async fn a_lease_naming_us_is_reacquired_at_once_keeping_its_record() {
    let (client, mut api) = scripted();
    let acquiring = tokio::spawn(acquire(
        client,
        config("me", Duration::from_secs(2), Duration::from_secs(3600)),
    ));

    // Ours and still valid (say, the previous process under the same identity).
    let held = lease(Some("me"), Timestamp::now(), 15, 7, "8");
    let get = api.expect(Method::GET, LEASE).await;
    pass(time(&held, "renewTime"));
    get.reply(200, held.clone());
    let put = api.expect(Method::PUT, LEASE).await;
    let body = put.body.clone();
    put.accept(200, "9");
    let _leader = leads(acquiring).await;

    assert_eq!(body["metadata"]["resourceVersion"], "8");
    assert_eq!(body["spec"]["holderIdentity"], "me");
    assert_eq!(body["spec"]["leaseTransitions"], 7, "not a transition");
    assert_eq!(body["spec"]["acquireTime"], held["spec"]["acquireTime"]);
    assert!(time(&body, "renewTime") > time(&held, "renewTime"));
}

#[tokio::test(start_paused = true)]
async fn a_refused_renew_with_another_holder_loses_leadership() {
    let (client, mut api) = scripted();
    let renew_every = Duration::from_millis(30);
    let (mut leader, created) = lead_fresh(
        client,
        &mut api,
        config("me", Duration::from_secs(5), renew_every),
    )
    .await;

    // A renew, renew_every after leading: the version last written, a later
    // renewTime, the record kept.
    let leading = Instant::now();
    let renew = api.expect(Method::PUT, LEASE).await;
    let after = leading.elapsed();
    assert!(
        after >= renew_every && after < 2 * renew_every,
        "renewed renew_every after leading: {after:?}"
    );
    let body = renew.body.clone();
    renew.accept(200, "2");
    assert_eq!(body["metadata"]["resourceVersion"], "1");
    assert_eq!(body["spec"]["holderIdentity"], "me");
    assert_eq!(body["spec"]["leaseTransitions"], 0);
    assert_eq!(body["spec"]["acquireTime"], created["spec"]["acquireTime"]);
    assert!(time(&body, "renewTime") > time(&created, "renewTime"));
    assert!(leader.is_leading());

    // The next renew is refused, and the Lease names another holder now.
    let renew = api.expect(Method::PUT, LEASE).await;
    assert_eq!(renew.body["metadata"]["resourceVersion"], "2");
    renew.fail(409, "Conflict");
    api.expect(Method::GET, LEASE)
        .await
        .reply(200, lease(Some("other"), Timestamp::now(), 15, 1, "9"));

    let lost = timeout(PATIENCE, leader.lost())
        .await
        .expect("lost in time");
    assert_eq!(
        lost,
        Lost::TakenOver {
            holder: Some("other".into())
        }
    );
    assert!(!leader.is_leading());
    assert_eq!(leader.lost().await, lost, "resolves again once lost");
    // No more writes after losing, not even when dropped.
    drop(leader);
    api.finished().await;
}

#[tokio::test(start_paused = true)]
async fn a_conflicting_write_that_leaves_us_holder_keeps_leadership() {
    let (client, mut api) = scripted();
    let (leader, _) = lead_fresh(
        client,
        &mut api,
        config("me", Duration::from_secs(5), Duration::from_millis(30)),
    )
    .await;

    api.expect(Method::PUT, LEASE).await.fail(409, "Conflict");
    // Somebody changed the Lease but it still names us: write again on the
    // new version straight away.
    api.expect(Method::GET, LEASE)
        .await
        .reply(200, lease(Some("me"), Timestamp::now(), 5, 0, "2"));
    let put = api.expect(Method::PUT, LEASE).await;
    assert_eq!(put.body["metadata"]["resourceVersion"], "2");
    put.accept(200, "3");
    let put = api.expect(Method::PUT, LEASE).await;
    assert_eq!(put.body["metadata"]["resourceVersion"], "3");
    assert!(leader.is_leading());
    put.accept(200, "4");
    drop(leader);
    api.finished().await;
}

#[tokio::test(start_paused = true)]
async fn renewing_failing_for_the_lease_duration_loses_leadership() {
    let (client, mut api) = scripted();
    let (duration, renew_every) = (Duration::from_millis(400), Duration::from_millis(50));
    let start = Instant::now();
    let (mut leader, _) = lead_fresh(client, &mut api, config("me", duration, renew_every)).await;

    // Every renew fails; count them.
    let server = tokio::spawn(async move {
        let mut renews = 0;
        while let Some(call) = api.next_or_end().await {
            assert_eq!((&call.method, call.path.as_str()), (&Method::PUT, LEASE));
            renews += 1;
            call.fail(500, "InternalError");
        }
        renews
    });

    let lost = timeout(PATIENCE, leader.lost())
        .await
        .expect("lost in time");
    let took = start.elapsed();
    assert!(took >= duration, "not before the claim runs out: {took:?}");
    assert!(
        took < duration + RETRY,
        "lost at the deadline, not at the next retry or later: {took:?}"
    );
    match &lost {
        Lost::Expired { last_error } => assert!(last_error.contains("InternalError"), "{lost}"),
        other => panic!("expected Expired, got {other:?}"),
    }
    assert!(!leader.is_leading());
    drop(leader);
    let renews = timeout(PATIENCE, server).await.unwrap().unwrap();
    // One renew at renew_every, then one every retry_every until the deadline.
    let expected = (renew_every.as_millis()..duration.as_millis())
        .step_by(RETRY.as_millis() as usize)
        .count();
    assert!(renews >= 3, "retried every retry_every: {renews}");
    assert_eq!(renews, expected, "retried every retry_every");
}

#[tokio::test(start_paused = true)]
async fn release_clears_the_holder_and_a_successor_takes_over_at_once() {
    let (client, mut api) = scripted();
    let (leader, created) = lead_fresh(
        client,
        &mut api,
        config("me", Duration::from_secs(15), Duration::from_secs(3600)),
    )
    .await;

    let before = now();
    let releasing = tokio::spawn(leader.release());
    let put = api.expect(Method::PUT, LEASE).await;
    let released = put.body.clone();
    put.accept(200, "2");
    timeout(PATIENCE, releasing)
        .await
        .expect("release returns in time")
        .unwrap();
    api.finished().await;

    assert_eq!(released["metadata"]["resourceVersion"], "1");
    assert!(
        released["spec"].get("holderIdentity").is_none(),
        "{released}"
    );
    assert_eq!(released["spec"]["leaseDurationSeconds"], 1);
    assert_eq!(released["spec"]["leaseTransitions"], 0);
    assert!(time(&released, "renewTime") >= before);
    assert!(time(&released, "acquireTime") >= before);
    assert!(time(&created, "acquireTime") < before);

    // A successor that reads the released Lease takes it without waiting,
    // though its renewTime is fresh.
    let (client, mut api) = scripted();
    let acquiring = tokio::spawn(acquire(
        client,
        config("you", Duration::from_secs(15), Duration::from_secs(3600)),
    ));
    let mut stored = released.clone();
    stored["metadata"]["resourceVersion"] = json!("2");
    api.expect(Method::GET, LEASE).await.reply(200, stored);
    let put = api.expect(Method::PUT, LEASE).await;
    assert_eq!(put.body["metadata"]["resourceVersion"], "2");
    assert_eq!(put.body["spec"]["holderIdentity"], "you");
    assert_eq!(put.body["spec"]["leaseTransitions"], 1);
    put.accept(200, "3");
    let _successor = leads(acquiring).await;
}
