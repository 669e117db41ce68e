//! What the status page reads from a reconcile: each container's image, and
//! a blocked switch's foreign listener as data that the port map places.

use turnout::portmap::{Foreign, Observed, render};
use turnout::status::{StandaloneStatus, blockers_of, status_of};

use super::*;

fn document(t: &turnout::reconcile::Target, o: &Outcome) -> StandaloneStatus {
    StandaloneStatus {
        file: "desired.yaml".into(),
        plan: t.plan_name.clone(),
        selection: t.selection_name.clone(),
        desired_version: t.selection.active_version.clone(),
        file_error: None,
        refused_edit: None,
        updated_at: "2026-01-01T00:00:00Z".into(),
        status: status_of(t, o, None),
        data_syncs: Vec::new(),
        applied_revision: None,
        data: Default::default(),
        blockers: blockers_of(o),
        engine: None,
    }
}

#[tokio::test]
async fn the_status_names_each_containers_image() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("page-image"));
    let t = target("a");
    let o = r.reconcile(&t, &Run::default()).await;
    let doc = document(&t, &o);
    assert!(!doc.status.containers.is_empty());
    for c in &doc.status.containers {
        let want = rt
            .containers()
            .into_iter()
            .find(|o| o.name == c.name)
            .map(|o| o.image);
        assert_eq!(c.image, want, "{}", c.name);
        assert!(
            c.image.as_deref().is_some_and(|i| !i.is_empty()),
            "{}",
            c.name
        );
    }
    assert!(doc.blockers.is_empty(), "a converged host has no blocker");
}

#[tokio::test]
async fn a_foreign_listener_on_a_planned_port_reaches_the_port_map() {
    let rt = runtime_with_images();
    let r = reconciler_with(&rt, StaticHost::default(), &temp_dir("page-foreign"));
    rt.add_container(foreign(
        "squatter",
        "postgres:16",
        RunState::Running,
        &[5432],
    ));
    let t = target("a");
    let o = r.reconcile(&t, &Run::default()).await;
    let doc = document(&t, &o);
    assert_eq!(doc.blockers.len(), 1, "{:?}", doc.blockers);

    // The document keeps the blocker as data through its JSON form.
    let json = serde_json::to_string(&doc).expect("serializes");
    let back: StandaloneStatus = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, doc);

    let observed = Observed::from_status(&back);
    assert_eq!(
        observed.foreign,
        [Foreign {
            port: 5432,
            holder: format!("container {} (not managed by turnout)", c("squatter")),
            wanted_by: c("db"),
        }]
    );
    let svg = render(&t.plan_name, &t.plan, Some(&observed));
    assert!(svg.contains(r#"class="foreign" data-port="5432""#), "{svg}");
    assert!(svg.contains(&format!("port 5432 is held by container {}", c("squatter"))));
}
