//! A changed spec recreates only the container it shapes; readiness and
//! stop timeout are turnout's business and recreate nothing.

use turnout::reconcile::Run;
use turnout::runtime::memory::{Call, MemoryRuntime};

use super::*;

#[tokio::test]
async fn a_changed_spec_recreates_only_that_container() {
    let (rt, r) = converged_on("a").await;
    let ids = |rt: &MemoryRuntime| (id_of(rt, "db"), id_of(rt, "a-api"));
    let before = ids(&rt);
    rt.add_image("web:2");
    let plan = shop().edit("a-web", |c| c.image("web:2"));
    let a = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    assert!(a.switch.is_none());
    let calls = rt.take_calls();
    assert_eq!(
        mutating(&calls),
        [
            Call::Stop(c("a-web"), 3),
            Call::Remove(c("a-web")),
            Call::Create(c("a-web")),
            Call::Start(c("a-web")),
        ]
    );
    assert_untouched(&calls, "db");
    assert_untouched(&calls, "a-api");
    assert_eq!(ids(&rt), before);
    assert_eq!(rt.config("a-web").expect("a-web").image, "web:2");
    assert_eq!(rt.running(), names(&["db", "a-web", "a-api"]));

    // Readiness and stop timeout are turnout's business: changing them recreates nothing.
    let plan = plan
        .edit("a-web", |c| c.stop_timeout(20))
        .edit("a-api", |c| c.readiness(Probe::exec(&["true"])));
    let a = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    assert!(mutating(&rt.take_calls()).is_empty());
}

#[tokio::test]
async fn a_changed_database_spec_recreates_it_with_its_named_volume() {
    let (rt, r) = converged_on("a").await;
    rt.add_image("db:2");
    let plan = shop().edit("db", |c| c.image("db:2"));
    let a = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    let calls = rt.take_calls();
    assert_eq!(
        mutating(&calls),
        [
            Call::Stop(c("db"), 30),
            Call::Remove(c("db")),
            Call::Create(c("db")),
            Call::Start(c("db")),
        ]
    );
    let vols = rt.config("db").expect("db").volumes;
    assert_eq!(vols.len(), 1);
    assert_eq!(vols[0].name, "db-data");
}
