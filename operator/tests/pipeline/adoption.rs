//! Adoption: containers made by hand under planned names are taken over
//! when the plan (or `apply --adopt`) allows it and they run the plan's
//! image on the plan's data; the originals are kept, stopped, renamed;
//! a replacement that does not become ready is undone and the original put
//! back; anything else is refused before the host changes.

use std::path::Path;
use std::sync::Arc;

use turnout::core::adopt::kept_name;
use turnout::core::model::Mount;
use turnout::core::{ActionKind, Blocker, ObservedContainer, RunState};
use turnout::host::StaticHost;
use turnout::reconcile::{ApplyError, Outcome, Run, Target};
use turnout::runtime::memory::{Call, MemoryRuntime};
use turnout_e2e::plan::Probe;

use super::*;

/// The database made by hand: `db:1` on 5432, its data in volume `db-data`.
fn hand_made_db(image: &str) -> ObservedContainer {
    let mut db = foreign("db", image, RunState::Running, &[5432]);
    db.mounts = vec![Mount::Volume {
        name: "db-data".into(),
        path: "/var/lib/db".into(),
    }];
    db
}

fn adopting(mut t: Target) -> Target {
    t.adopt = true;
    t
}

fn reconciler(rt: &Arc<MemoryRuntime>, dir: &Path) -> TestReconciler {
    reconciler_with(rt, StaticHost::default(), &dir.join("secrets"))
        .with_adoption_records(dir.join("adopted"))
}

#[tokio::test]
async fn a_database_made_by_hand_is_taken_over_on_its_data_and_the_original_kept() {
    let rt = runtime_with_images();
    let dir = temp_dir("adopt");
    let r = reconciler(&rt, &dir);
    rt.add_container(hand_made_db("db:1"));

    let a = applied(r.reconcile(&adopting(target("a")), &Run::default()).await);
    assert!(a.converged(), "{a:#?}");
    let adopt: Vec<_> = a
        .done
        .iter()
        .filter(|(x, _)| x.kind == ActionKind::Adopt)
        .collect();
    assert_eq!(adopt.len(), 1, "{:?}", a.done);
    assert!(
        adopt[0].0.reason.contains("volume db-data at /var/lib/db"),
        "the action says what data it keeps: {}",
        adopt[0].0.reason
    );

    let calls = rt.take_calls();
    let order = [
        Call::Inspect(c("db")),
        Call::Stop(c("db"), 30),
        Call::Rename(c("db"), kept_name("db")),
        Call::Create(c("db")),
        Call::Start(c("db")),
    ];
    let at: Vec<usize> = order.iter().map(|x| pos(&calls, x)).collect();
    assert!(at.is_sorted(), "{calls:?}");
    assert!(
        !calls.iter().any(|x| matches!(x, Call::Remove(_))),
        "nothing is removed: {calls:?}"
    );

    let host = rt.containers();
    let kept = host
        .iter()
        .find(|o| o.name == kept_name("db"))
        .expect("kept");
    assert_eq!(kept.id, "foreign-db", "the original itself is kept");
    assert_eq!(kept.state, RunState::Stopped);
    let config = rt.config("db").expect("turnout's db");
    assert_eq!(config.volumes[0].name, "db-data", "the same data");
    let record = std::fs::read_to_string(dir.join("adopted/db.json")).expect("recorded");
    assert!(
        record.contains("\"keptAs\": \"db.pre-turnout\""),
        "{record}"
    );

    // Converged: the next reconcile changes nothing.
    let again = applied(r.reconcile(&adopting(target("a")), &Run::default()).await);
    assert!(again.done.is_empty(), "{:?}", again.done);
    assert!(mutating(&rt.take_calls()).is_empty());
}

#[tokio::test]
async fn another_versions_container_made_by_hand_is_adopted_and_left_stopped() {
    let rt = runtime_with_images();
    let dir = temp_dir("adopt-inactive");
    let r = reconciler(&rt, &dir);
    rt.add_container(foreign("b-web", "web:1", RunState::Stopped, &[]));

    let a = applied(r.reconcile(&adopting(target("a")), &Run::default()).await);
    assert!(a.converged(), "{a:#?}");
    let b_web = rt
        .containers()
        .into_iter()
        .find(|o| o.name == "b-web")
        .expect("b-web");
    assert!(b_web.is_ours(PLAN), "turnout's now");
    assert_eq!(b_web.state, RunState::Stopped, "its version is not active");
    assert!(rt.running().contains("a-web"));
    let calls = rt.take_calls();
    assert!(!calls.contains(&Call::Start(c("b-web"))), "{calls:?}");
    assert!(calls.contains(&Call::Rename(c("b-web"), kept_name("b-web"))));

    // Switching to b starts turnout's b-web, no adoption needed any more.
    let b = applied(r.reconcile(&target("b"), &Run::default()).await);
    assert!(b.converged(), "{b:#?}");
    assert!(rt.running().contains("b-web"));
}

#[tokio::test]
async fn a_replacement_that_never_gets_ready_is_undone_and_the_original_put_back() {
    let rt = runtime_with_images();
    let dir = temp_dir("adopt-unready");
    let r = reconciler(&rt, &dir);
    rt.add_container(hand_made_db("db:1"));
    rt.set_exec_exit("db", 1);
    let plan = shop().edit("db", |c| c.readiness(Probe::exec(&["ready"]).timeout(1)));
    let t = adopting(target_for(&plan, "a"));

    let a = applied(r.reconcile(&t, &Run::default()).await);
    assert!(
        matches!(&a.error, Some(ApplyError::Adoption { container, message })
            if container == "db" && message.contains("put back")),
        "{:?}",
        a.error
    );
    let changed = mutating(&rt.take_calls());
    assert_eq!(
        changed,
        [
            Call::Stop(c("db"), 30),
            Call::Rename(c("db"), kept_name("db")),
            Call::Create(c("db")),
            Call::Start(c("db")),
            // Undone: turnout's own container goes, the original comes back.
            Call::Stop(c("db"), 30),
            Call::Remove(c("db")),
            Call::Rename(kept_name("db"), c("db")),
            Call::Start(c("db")),
        ]
    );
    let host = rt.containers();
    let db = host.iter().find(|o| o.name == "db").expect("db");
    assert_eq!(db.id, "foreign-db", "the original is back under its name");
    assert_eq!(db.state, RunState::Running, "and runs again");
    assert!(!host.iter().any(|o| o.name == kept_name("db")));

    // The same spec is not tried again: that would stop the database every retry.
    match r.reconcile(&t, &Run::default()).await {
        Outcome::Blocked { blockers, .. } => assert!(
            blockers
                .iter()
                .any(|b| matches!(b, Blocker::AdoptionFailed { name, .. } if name == "db")),
            "{blockers:?}"
        ),
        other => panic!("expected the failed adoption to block, got {other:#?}"),
    }
    assert!(mutating(&rt.take_calls()).is_empty());
}

#[tokio::test]
async fn a_container_that_is_not_what_the_plan_says_is_refused_and_left_alone() {
    let rt = runtime_with_images();
    let dir = temp_dir("adopt-refused");
    let r = reconciler(&rt, &dir);
    let other_image = hand_made_db("mysql:8");
    rt.add_container(other_image.clone());
    match r.reconcile(&adopting(target("a")), &Run::default()).await {
        Outcome::Blocked { blockers, .. } => {
            let refused: Vec<String> = blockers
                .iter()
                .filter(|b| matches!(b, Blocker::AdoptionRefused { .. }))
                .map(ToString::to_string)
                .collect();
            assert_eq!(refused.len(), 1, "{blockers:?}");
            assert!(refused[0].contains("mysql:8"), "{}", refused[0]);
        }
        other => panic!("expected a refusal, got {other:#?}"),
    }
    assert!(mutating(&rt.take_calls()).is_empty());
    assert_eq!(rt.containers(), [other_image]);

    // A missing data mount is refused the same way.
    rt.delete("db");
    let mut no_data = hand_made_db("db:1");
    no_data.mounts.clear();
    rt.add_container(no_data);
    let blocked = r.reconcile(&adopting(target("a")), &Run::default()).await;
    assert!(
        matches!(&blocked, Outcome::Blocked { blockers, .. }
            if blockers.iter().any(|b| b.to_string().contains("/var/lib/db"))),
        "{blocked:#?}"
    );
    assert!(mutating(&rt.take_calls()).is_empty());
}

#[tokio::test]
async fn without_adoption_a_name_taken_says_how_to_adopt() {
    let rt = runtime_with_images();
    let dir = temp_dir("adopt-off");
    let r = reconciler(&rt, &dir);
    rt.add_container(hand_made_db("db:1"));
    match r.reconcile(&target("a"), &Run::default()).await {
        Outcome::Blocked { blockers, .. } => {
            let taken = blockers
                .iter()
                .find(|b| matches!(b, Blocker::NameTaken { .. }))
                .expect("name taken");
            assert!(taken.to_string().contains("--adopt"), "{taken}");
        }
        other => panic!("expected NameTaken, got {other:#?}"),
    }
    assert!(mutating(&rt.take_calls()).is_empty());
}

#[tokio::test]
async fn a_bind_reaching_turnouts_own_directories_is_refused_even_through_a_link() {
    let rt = runtime_with_images();
    let dir = temp_dir("bind-protected");
    let state = dir.join("state");
    std::fs::create_dir_all(state.join("secrets")).expect("state dir");
    let link = dir.join("innocent");
    std::os::unix::fs::symlink(state.join("secrets"), &link).expect("symlink");
    let r = reconciler(&rt, &dir).with_protected_dirs([state.clone()]);
    for host in [state.join("secrets"), dir.to_path_buf(), link] {
        let host = host.display().to_string();
        let plan = shop().edit("a-web", |c| {
            c.set("binds", serde_json::json!([{"host": host, "path": "/www"}]))
        });
        match r.reconcile(&target_for(&plan, "a"), &Run::default()).await {
            Outcome::Blocked { blockers, .. } => assert!(
                blockers
                    .iter()
                    .any(|b| matches!(b, Blocker::BindRefused { container, .. }
                    if container == "a-web")
                        && b.to_string().contains(&host)),
                "{host}: {blockers:?}"
            ),
            other => panic!("{host}: expected the bind to be refused, got {other:#?}"),
        }
    }
    assert!(mutating(&rt.take_calls()).is_empty());

    // A directory of the application's own is fine.
    let www = dir.join("www");
    std::fs::create_dir_all(&www).expect("www");
    let host = www.display().to_string();
    let plan = shop().edit("a-web", |c| {
        c.set("binds", serde_json::json!([{"host": host, "path": "/www"}]))
    });
    let a = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
    assert!(a.converged(), "{a:#?}");
    assert_eq!(rt.config("a-web").expect("a-web").binds[0].host, host);
}
