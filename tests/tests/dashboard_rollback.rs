//! End-to-end: a rolled-back switch on the status page, in headless
//! Chromium, served by `turnout standalone` on the real engine: the page
//! follows the switch without reload, marks it `RolledBack` in the
//! timeline with its rollback bar, and says why in words.
//!
//! Host ports 25800-25899.

use std::time::Duration;

use serde_json::json;
use turnout_e2e::browser::{Browser, chromium, screenshot};
use turnout_e2e::page::{artifacts, standalone_on, write};
use turnout_e2e::*;

const PLAN: &str = "dash-rollback";
const LISTEN: u16 = 25890;
const DEVTOOLS: u16 = 25891;
const WAIT: Duration = Duration::from_secs(90);

/// Versions `ok` (a web service) and `broken` (prints a line and exits 2),
/// rolled back after 10 s.
fn plan(active: &str) -> String {
    PlanBuilder::new(PLAN)
        .set("rollback", json!({"progressDeadlineSeconds": 10}))
        .version("ok", |v| {
            v.range("services", 25801, 25801).container(
                httpd(&format!("{PLAN}-ok"))
                    .port_in(25801, 8080, "services")
                    .readiness(Probe::http(8080).timeout(20)),
            )
        })
        .version("broken", |v| {
            v.range("services", 25802, 25802).container(
                container(&format!("{PLAN}-broken"), BUSYBOX)
                    .command(&["sh", "-c", "echo 'broken: no <config> found'; exit 2"])
                    .port_in(25802, 8080, "services")
                    .readiness(Probe::http(8080).timeout(20)),
            )
        })
        .select(active)
        .yaml()
}

#[test]
fn a_rolled_back_switch_is_marked_on_the_timeline_with_its_reason() {
    require_docker(&[BUSYBOX]);
    chromium();
    remove_plan_containers(PLAN);
    let _cleanup = Cleanup(PLAN.to_string());
    let dir = temp_dir(PLAN);
    let file = dir.join("desired.yaml");
    write(&file, &plan("ok"));
    let _turnout = standalone_on(&file, &dir, LISTEN);
    assert!(
        wait_until(WAIT, || http_get(LISTEN, "/status")
            .contains("\"activeVersion\": \"ok\"")),
        "turnout converged on ok: {}",
        http_get(LISTEN, "/status")
    );
    let mut b = Browser::open(
        &dir.join("chromium"),
        DEVTOOLS,
        &format!("http://127.0.0.1:{LISTEN}/"),
    );
    assert!(
        b.wait_for(
            "document.getElementById('active').textContent === 'ok'",
            WAIT
        ),
        "{}",
        b.eval("document.body.innerText")
    );

    write(&file, &plan("broken"));
    let rolled_back = "document.querySelector('#history li[data-outcome=\"RolledBack\"]') !== null";
    assert!(
        b.wait_for(rolled_back, WAIT),
        "the timeline marks the rollback: {}",
        b.eval("document.body.innerText")
    );
    let item =
        b.eval("document.querySelector('#history li[data-outcome=\"RolledBack\"]').textContent");
    let item = item.as_str().unwrap_or_default().to_string();
    for needle in [
        "ok → broken",
        "RolledBack",
        "dash-rollback-broken",
        "exited with code 2",
        "broken: no <config> found",
    ] {
        assert!(item.contains(needle), "{needle:?} not in {item}");
    }
    // The bar has its rollback segment; the log line is text, not markup.
    assert_eq!(
        b.eval("document.querySelectorAll('#history li[data-outcome=\"RolledBack\"] .phase.rollback').length"),
        json!(1)
    );
    assert_eq!(
        b.eval("document.querySelectorAll('config').length"),
        json!(0)
    );
    // Still on ok, and the page says the wanted version is not what runs.
    assert_eq!(
        b.eval("document.getElementById('active').textContent"),
        json!("ok")
    );
    let body = b.eval("document.body.innerText");
    assert!(
        body.as_str()
            .is_some_and(|t| t.contains("broken") && t.contains("RolledBack")),
        "{body}"
    );
    screenshot(
        &dir.join("chromium-shot"),
        &format!("http://127.0.0.1:{LISTEN}/"),
        &artifacts().join("status-page-rollback.png"),
        (1280, 1400),
        3000,
    );
}
