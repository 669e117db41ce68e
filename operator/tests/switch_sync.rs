//! `syncOnSwitch` in the pipeline: the copy runs after the old version
//! stopped and the infrastructure is up, before the new version starts; a
//! failed copy keeps the new version down and is not retried for the same spec.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use common::*;
use futures::future::BoxFuture;
use turnout::core::Blocker;
use turnout::reconcile::{Outcome, Run, SwitchSync};
use turnout::runtime::memory::MemoryRuntime;
use turnout_crds::PortPlanSpec;
use turnout_crds::datasync::SyncStep;

/// Records what was running when each copy ran; fails while `fail` is set.
struct FakeSync {
    rt: Arc<MemoryRuntime>,
    calls: Mutex<Vec<(String, String, BTreeSet<String>)>>,
    fail: Mutex<bool>,
}

impl SwitchSync for FakeSync {
    fn has_data(&self, _: &PortPlanSpec, _: &str, _: &str) -> bool {
        true
    }

    fn sync<'a>(
        &'a self,
        _: &'a str,
        target: &'a turnout::reconcile::Target,
        from: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SyncStep>, turnout::reconcile::SyncFailure>> {
        let to = target.selection.active_version.as_str();
        Box::pin(async move {
            self.calls
                .lock()
                .expect("lock")
                .push((from.into(), to.into(), self.rt.running()));
            if *self.fail.lock().expect("lock") {
                Err(String::from("the source database is missing").into())
            } else {
                Ok(vec![SyncStep {
                    binding: "users".into(),
                    ..Default::default()
                }])
            }
        })
    }
}

fn setup(tag: &str) -> (Arc<MemoryRuntime>, Arc<FakeSync>, TestReconciler, TempDir) {
    let rt = runtime_with_images();
    let dir = temp_dir(tag);
    let fake = Arc::new(FakeSync {
        rt: rt.clone(),
        calls: Mutex::new(Vec::new()),
        fail: Mutex::new(false),
    });
    let r = reconciler_with(&rt, Default::default(), &dir.join("secrets"))
        .with_sync(fake.clone(), dir.join("state"));
    (rt, fake, r, dir)
}

fn running(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn the_copy_runs_between_stopping_the_old_version_and_starting_the_new() {
    let (rt, fake, r, _dir) = setup("sync-order");
    assert!(
        matches!(r.reconcile(&target("a"), &Run::default()).await, Outcome::Applied(a) if a.converged())
    );
    assert!(
        fake.calls.lock().unwrap().is_empty(),
        "a first start copies nothing"
    );

    match r.reconcile(&target("b"), &Run::default()).await {
        Outcome::Applied(a) => {
            assert!(a.converged(), "{a:#?}");
            assert_eq!(a.synced.len(), 1);
            assert!(a.timings.sync_ms.is_some());
        }
        other => panic!("{other:#?}"),
    }
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (from, to, up) = &calls[0];
    assert_eq!((from.as_str(), to.as_str()), ("a", "b"));
    assert_eq!(
        up,
        &running(&["db"]),
        "only the infrastructure ran during the copy"
    );
    assert_eq!(rt.running(), running(&["db", "b-web", "b-worker"]));

    // Converged: no copy again.
    r.reconcile(&target("b"), &Run::default()).await;
    assert_eq!(fake.calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_failed_copy_keeps_the_new_version_down_and_waits_for_a_change() {
    let (rt, fake, r, _dir) = setup("sync-fail");
    assert!(
        matches!(r.reconcile(&target("a"), &Run::default()).await, Outcome::Applied(a) if a.converged())
    );
    *fake.fail.lock().unwrap() = true;

    match r.reconcile(&target("b"), &Run::default()).await {
        Outcome::Applied(a) => {
            let e = a.error.expect("the copy failed");
            assert_eq!(e.reason(), "SyncFailed");
            assert!(e.to_string().contains("source database is missing"));
        }
        other => panic!("{other:#?}"),
    }
    assert_eq!(
        rt.running(),
        running(&["db"]),
        "b did not start; infrastructure stays up"
    );

    // The same spec does not try again, and changes nothing.
    rt.take_calls();
    match r.reconcile(&target("b"), &Run::default()).await {
        Outcome::Blocked { blockers, .. } => {
            assert!(
                blockers
                    .iter()
                    .any(|b| matches!(b, Blocker::SyncFailed { .. }) && b.reason() == "SyncFailed"),
                "{blockers:?}"
            );
        }
        other => panic!("{other:#?}"),
    }
    assert!(mutating(&rt.take_calls()).is_empty());
    assert_eq!(fake.calls.lock().unwrap().len(), 1);

    // Once fixed, a changed selection (here: another generation of the spec) tries again and
    // the copy comes from the version that was running before, remembered on disk.
    *fake.fail.lock().unwrap() = false;
    let mut retry = target("b");
    retry.plan.versions[1].containers[0].stop_timeout_seconds = Some(7);
    assert!(
        matches!(r.reconcile(&retry, &Run::default()).await, Outcome::Applied(a) if a.converged())
    );
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!((calls[1].0.as_str(), calls[1].1.as_str()), ("a", "b"));
    assert_eq!(rt.running(), running(&["db", "b-web", "b-worker"]));
}

#[tokio::test]
async fn sync_on_switch_false_copies_nothing() {
    let (_rt, fake, r, _dir) = setup("sync-off");
    r.reconcile(&target("a"), &Run::default()).await;
    let mut t = target("b");
    t.selection.sync_on_switch = false;
    assert!(matches!(r.reconcile(&t, &Run::default()).await, Outcome::Applied(a) if a.converged()));
    assert!(fake.calls.lock().unwrap().is_empty());
}

/// Cancels (shutdown) as soon as the first action has finished.
struct CancelAfterFirst(tokio_util::sync::CancellationToken);

impl turnout::reconcile::Progress for CancelAfterFirst {
    fn started(&self, _: &turnout::core::Action) {}

    fn finished(&self, _: &turnout::core::Action, _: Option<&str>) {
        self.0.cancel();
    }
}

#[tokio::test]
async fn a_shutdown_during_the_stop_phase_starts_no_copy_and_a_later_reconcile_finishes() {
    let (rt, fake, r, _dir) = setup("sync-cancel");
    assert!(
        matches!(r.reconcile(&target("a"), &Run::default()).await, Outcome::Applied(a) if a.converged())
    );
    let token = tokio_util::sync::CancellationToken::new();
    let progress = CancelAfterFirst(token.clone());
    match r.reconcile(&target("b"), &Run::new(&progress, token)).await {
        Outcome::Applied(a) => {
            let e = a.error.expect("interrupted");
            assert_eq!(e.reason(), "Interrupted");
        }
        other => panic!("{other:#?}"),
    }
    assert!(
        fake.calls.lock().unwrap().is_empty(),
        "no copy began after the shutdown"
    );
    assert!(
        !rt.running().contains("b-web") && !rt.running().contains("b-worker"),
        "the new version did not start: {:?}",
        rt.running()
    );
    // The next turnout (here: the next reconcile) copies, then starts b.
    assert!(
        matches!(r.reconcile(&target("b"), &Run::default()).await, Outcome::Applied(a) if a.converged())
    );
    assert_eq!(fake.calls.lock().unwrap().len(), 1);
    assert_eq!(rt.running(), running(&["db", "b-web", "b-worker"]));
}
