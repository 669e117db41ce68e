//! Drift: containers started, stopped, paused or deleted by hand are put
//! back by the next reconcile, which is not reported as a switch; and any
//! sequence of drift and switches converges.

use turnout::core::RunState;
use turnout::reconcile::Run;
use turnout::runtime::memory::Call;

use super::*;

#[tokio::test]
async fn drift_an_inactive_container_started_by_hand_is_stopped() {
    let (rt, r) = converged_on_a_after_b().await;
    rt.set_state("b-web", RunState::Running);
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged());
    assert_eq!(mutating(&rt.take_calls()), [Call::Stop(c("b-web"), 5)]);
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
    assert!(a.switch.is_none(), "a drift correction is not a switch");
}

#[tokio::test]
async fn drift_a_stopped_database_is_started_again() {
    let (rt, r) = converged_on_a_after_b().await;
    let id = id_of(&rt, "db");
    rt.set_state("db", RunState::Stopped);
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged());
    assert_eq!(mutating(&rt.take_calls()), [Call::Start(c("db"))]);
    assert_eq!(
        id_of(&rt, "db"),
        id,
        "the database is started, not recreated"
    );
    assert!(a.switch.is_none());
}

#[tokio::test]
async fn drift_a_deleted_service_container_is_recreated() {
    let (rt, r) = converged_on_a_after_b().await;
    rt.delete("a-web");
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged());
    assert_eq!(
        mutating(&rt.take_calls()),
        [Call::Create(c("a-web")), Call::Start(c("a-web"))]
    );
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));
}

#[tokio::test]
async fn drift_a_paused_container_is_stopped_and_started() {
    let (rt, r) = converged_on_a_after_b().await;
    rt.set_state("a-api", RunState::Paused);
    let a = applied(r.reconcile(&target("a"), &Run::default()).await);
    assert!(a.converged());
    assert_eq!(
        mutating(&rt.take_calls()),
        [Call::Stop(c("a-api"), 7), Call::Start(c("a-api"))]
    );
}

/// DESIGN: the switch history holds switches. Someone starting a container
/// of the inactive version by hand is drift, and correcting it must not be
/// reported as a switch from that version (nor skip the drift metric).
#[tokio::test]
async fn drift_of_an_inactive_version_sorting_first_is_not_a_switch() {
    let (rt, r) = converged_on("a").await;
    assert!(applied(r.reconcile(&target("b"), &Run::default()).await).converged());
    rt.take_calls();
    // a-web sorts before b-web in the engine's list.
    rt.set_state("a-web", RunState::Running);
    let a = applied(r.reconcile(&target("b"), &Run::default()).await);
    assert!(a.converged());
    assert_eq!(mutating(&rt.take_calls()), [Call::Stop(c("a-web"), 3)]);
    assert!(
        a.switch.is_none(),
        "b was running and stays running, but the outcome reports a switch {:?}",
        a.switch
    );
}

// ---- level-triggered: any sequence of drift and switches converges ----------

mod drift_sequences {
    use super::*;
    use proptest::prelude::*;

    const PLANNED: [&str; 5] = ["db", "a-web", "a-api", "b-web", "b-worker"];

    #[derive(Clone, Debug)]
    enum Step {
        Select(&'static str),
        SetState(usize, RunState),
        Delete(usize),
        /// Toggle a-web's image between web:1 and web:2 (a spec change).
        ToggleImage,
    }

    fn step() -> impl Strategy<Value = Step> {
        let state = prop_oneof![
            Just(RunState::Running),
            Just(RunState::Stopped),
            Just(RunState::Paused),
            Just(RunState::Restarting),
        ];
        prop_oneof![
            prop_oneof![Just("a"), Just("b")].prop_map(Step::Select),
            (0..PLANNED.len(), state).prop_map(|(i, s)| Step::SetState(i, s)),
            (0..PLANNED.len()).prop_map(Step::Delete),
            Just(Step::ToggleImage),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn every_reconcile_converges_and_the_next_one_only_lists(steps in prop::collection::vec(step(), 1..8)) {
            let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
            tokio.block_on(async {
                let rt = runtime_with_images();
                rt.add_image("web:2");
                let dir = temp_dir("seq");
                let r = reconciler_with(&rt, StaticHost::default(), &dir);
                let mut active = "a";
                let mut image = "web:1";
                for s in &steps {
                    match s {
                        Step::Select(v) => active = v,
                        Step::SetState(i, st) => rt.set_state(PLANNED[*i], *st),
                        Step::Delete(i) => rt.delete(PLANNED[*i]),
                        Step::ToggleImage => image = if image == "web:1" { "web:2" } else { "web:1" },
                    }
                    let t = target_for(&shop().edit("a-web", |c| c.image(image)), active);
                    let a = applied(r.reconcile(&t, &Run::default()).await);
                    prop_assert!(a.converged(), "after {s:?}: {:?}\n{:#?}", a.error, a.done);
                    let want = if active == "a" { names(&["db", "a-web", "a-api"]) } else { names(&["db", "b-web", "b-worker"]) };
                    prop_assert_eq!(rt.running(), want, "after {:?}", s);
                    let calls = rt.take_calls();
                    for call in &calls {
                        if let Some(n) = call_container(call) {
                            prop_assert!(PLANNED.contains(&n), "{call:?}");
                        }
                    }
                    prop_assert!(applied(r.reconcile(&t, &Run::default()).await).converged());
                    prop_assert_eq!(rt.take_calls(), [Call::List], "after {:?}", s);
                    if active == "a" {
                        prop_assert_eq!(rt.config("a-web").map(|c| c.image), Some(image.to_string()));
                    }
                }
                Ok(())
            })?;
        }
    }
}
