//! A sync runs commands only in containers turnout runs for the plan it
//! names: a binding to someone else's container, a container of another
//! plan, or one that does not exist is refused before anything streams.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::json;
use turnout::core::model::{LABEL_MANAGED_BY, LABEL_PLAN, ObservedContainer, RunState};
use turnout::secrets::LocalSecrets;
use turnout::sync::run::{LogSyncProgress, run_sync};
use turnout_crds::PortPlanSpec;

fn plan() -> PortPlanSpec {
    serde_json::from_value(json!({
        "infrastructure": [{"name": "db", "image": "db:1", "engine": "mariadb"}],
        "versions": [
            {"name": "a", "data": [{"name": "users", "container": "db", "database": "a_users"}]},
            {"name": "b", "data": [{"name": "users", "container": "db", "database": "b_users"}]}
        ]
    }))
    .unwrap()
}

fn container(labels: &[(&str, &str)]) -> ObservedContainer {
    ObservedContainer {
        image_id: None,
        mounts: Vec::new(),
        id: "id-db".into(),
        name: "db".into(),
        image: "db:1".into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        state: RunState::Running,
        ports: Vec::new(),
    }
}

#[tokio::test]
async fn a_sync_never_runs_in_a_container_that_is_not_the_plans() {
    let steps = turnout::sync::plan_steps(PLAN, &plan(), "a", "b").unwrap();
    let cases = [
        (None, "does not exist"),
        (Some(container(&[])), "is not managed by turnout"),
        (
            Some(container(&[
                (LABEL_MANAGED_BY, "turnout"),
                (LABEL_PLAN, "other"),
            ])),
            "belongs to plan other",
        ),
    ];
    for (existing, why) in cases {
        let rt = runtime_with_images();
        if let Some(c) = existing {
            rt.add_container(c);
        }
        let dir = temp_dir("sync-guard");
        let (done, r) = run_sync(
            rt.as_ref(),
            &LocalSecrets,
            &steps,
            &sync_options(&dir),
            &LogSyncProgress,
        )
        .await;
        let e = r.unwrap_err();
        assert_eq!(e.reason(), "ForeignContainer", "{e}");
        assert!(e.to_string().contains(why), "{e}");
        assert!(done.is_empty(), "no step began");
    }
    // The plan's own container passes the guard (and then reaches the
    // engine, which the in-memory runtime cannot run commands on).
    let rt = runtime_with_images();
    rt.add_container(container(&[
        (LABEL_MANAGED_BY, "turnout"),
        (LABEL_PLAN, PLAN),
    ]));
    let dir = temp_dir("sync-guard-ok");
    let (_, r) = run_sync(
        rt.as_ref(),
        &LocalSecrets,
        &steps,
        &sync_options(&dir),
        &LogSyncProgress,
    )
    .await;
    assert_ne!(r.unwrap_err().reason(), "ForeignContainer");
}
