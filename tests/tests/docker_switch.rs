//! End-to-end: the reconcile pipeline against the real Docker engine.
//! Needs a running engine and the images of scripts/build-images.sh.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use turnout::core::Blocker;
use turnout::host::ProcHost;
use turnout::reconcile::{Outcome, Reconciler, Run, Target};
use turnout::runtime::docker::DockerRuntime;
use turnout::secrets::SecretFiles;
use turnout::target::target_of;
use turnout_crds::load::Documents;
use turnout_e2e::*;

type DockerReconciler = Reconciler<DockerRuntime, ProcHost>;

async fn reconciler(tag: &str) -> DockerReconciler {
    require_docker(&[BUSYBOX]);
    let rt = DockerRuntime::connect()
        .await
        .expect("Docker engine reachable");
    Reconciler::new(
        Arc::new(rt),
        ProcHost,
        SecretFiles::new(temp_dir(tag).join("secrets")),
    )
}

fn target(yaml: &str) -> Target {
    let docs = Documents::parse(Path::new("test.yaml"), yaml).expect("test plan parses");
    target_of(&docs, "test.yaml").expect("one selection and its plan")
}

fn expect_converged(o: &Outcome) {
    match o {
        Outcome::Applied(a) if a.converged() => {}
        other => panic!("expected a converged host, got {other:#?}"),
    }
}

/// A clean host for `plan`, converged on `yaml`; the guard removes the plan's containers.
async fn converged_on(plan: &str, yaml: &str) -> (Cleanup, DockerReconciler) {
    let cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let r = reconciler(plan).await;
    expect_converged(&r.reconcile(&target(yaml), &Run::default()).await);
    (cleanup, r)
}

#[tokio::test(flavor = "multi_thread")]
async fn switches_between_versions_without_restarting_infrastructure() {
    let (plan, base) = ("e2e-switch", 21000);
    let (_cleanup, r) = converged_on(plan, &demo_plan(plan, base, "future")).await;
    assert_eq!(running(plan), expected_running(plan, "future"));
    let db_started = started_at(&format!("{plan}-db"));

    for (from, to) in [
        ("future", "dao"),
        ("dao", "blockchain"),
        ("blockchain", "future"),
    ] {
        let outcome = r
            .reconcile(&target(&demo_plan(plan, base, to)), &Run::default())
            .await;
        expect_converged(&outcome);
        if let Outcome::Applied(a) = &outcome {
            let sw = a.switch.as_ref().expect("a switch was recorded");
            assert_eq!((sw.from.as_deref(), sw.to.as_str()), (Some(from), to));
        }
        assert_eq!(
            running(plan),
            expected_running(plan, to),
            "after {from} -> {to}"
        );
        for port in version_ports(base, to) {
            assert!(port_answers(port), "port {port} of {to} answers");
        }
        for port in version_ports(base, from) {
            assert!(!port_answers(port), "port {port} of {from} is closed");
        }
        assert!(port_answers(base), "infrastructure answers");
        assert_eq!(
            started_at(&format!("{plan}-db")),
            db_started,
            "infrastructure was never restarted"
        );
    }

    // A converged host: the next reconcile changes nothing.
    match r
        .reconcile(&target(&demo_plan(plan, base, "future")), &Run::default())
        .await
    {
        Outcome::Applied(a) => assert!(a.done.is_empty() && a.converged(), "{a:#?}"),
        other => panic!("{other:#?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_process_on_a_planned_port_blocks_the_switch_until_it_leaves() {
    let (plan, base) = ("e2e-foreign", 21100);
    let (_cleanup, r) = converged_on(plan, &demo_plan(plan, base, "future")).await;

    let dao_port = version_ports(base, "dao")[2];
    let squatter = TcpListener::bind(("0.0.0.0", dao_port)).expect("bind the dao shared port");
    match r
        .reconcile(&target(&demo_plan(plan, base, "dao")), &Run::default())
        .await
    {
        Outcome::Blocked { blockers, .. } => {
            let b = blockers
                .iter()
                .find(|b| matches!(b, Blocker::PortConflict { port, .. } if *port == dao_port))
                .unwrap_or_else(|| panic!("no conflict on {dao_port}: {blockers:#?}"));
            let text = b.to_string();
            assert!(
                text.contains(&dao_port.to_string())
                    && text.contains(&std::process::id().to_string()),
                "{text}"
            );
        }
        other => panic!("expected Blocked, got {other:#?}"),
    }
    assert_eq!(
        running(plan),
        expected_running(plan, "future"),
        "nothing was stopped"
    );

    drop(squatter);
    expect_converged(
        &r.reconcile(&target(&demo_plan(plan, base, "dao")), &Run::default())
            .await,
    );
    assert_eq!(running(plan), expected_running(plan, "dao"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_that_ignores_sigterm_is_killed_after_its_stop_timeout() {
    let (plan, base) = ("e2e-stubborn", 21200);
    // future's first service (on 21210) ignores SIGTERM.
    let stubborn = demo(plan, base).edit(&format!("{plan}-future-service-1"), ignoring_sigterm);
    let (_cleanup, r) = converged_on(plan, &stubborn.clone().select("future").yaml()).await;

    let t0 = Instant::now();
    let to_dao = stubborn.select("dao").yaml();
    expect_converged(&r.reconcile(&target(&to_dao), &Run::default()).await);
    let took = t0.elapsed();
    assert!(
        !is_running(&format!("{plan}-future-service-1")),
        "the stubborn container was stopped"
    );
    // stopTimeoutSeconds is 3: the switch waited for it, then killed it.
    assert!(
        took >= Duration::from_secs(3),
        "the stop timeout was honoured ({took:?})"
    );
    assert_eq!(running(plan), expected_running(plan, "dao"));
}
