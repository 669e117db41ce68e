//! Acquiring: an absent Lease is created, a live holder waited out, an
//! expired one taken over, lost races go back to reading or waiting, and a
//! Lease naming us is ours again at once.

use std::time::Duration;

use http::Method;
use jiff::Timestamp;
use tokio::time::Instant;
use turnout::controller::lease::acquire;

use super::*;

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
