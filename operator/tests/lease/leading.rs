//! Leading: renewing on time, keeping leadership through a conflict that
//! leaves us holder, losing it to another holder or to a renew failing for
//! the whole duration, and releasing it so a successor takes over at once.

use std::time::Duration;

use http::Method;
use jiff::Timestamp;
use serde_json::json;
use tokio::time::{Instant, timeout};
use turnout::controller::lease::{Lost, acquire};

use super::*;

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
