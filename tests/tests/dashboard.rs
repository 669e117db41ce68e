//! End-to-end: the status page in a real browser (headless Chromium), served
//! by `turnout standalone` on the real engine, and the port map of the
//! original plan drawn by `turnout ports --svg`. Screenshots go to
//! $CARGO_TARGET_DIR/dashboard-artifacts/ (target/ without it). The edit
//! tests move the host's ports: base 25300 and 25340 for the page and the
//! blocked switch, 25700 for the refused edit.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use turnout_e2e::browser::{Browser, chromium, run_once, screenshot};
use turnout_e2e::page::{DemoHost, artifacts, strings, write};
use turnout_e2e::*;

const PLAN: &str = "dash-page";
const BASE: u16 = 25300;
const LISTEN: u16 = 25390;
const DEVTOOLS: u16 = 25391;
const WAIT: Duration = Duration::from_secs(90);

/// The whole response (head and body) of `GET path`.
fn get_raw(path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", LISTEN)).expect("turnout answers");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .expect("request");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text
}

#[test]
fn the_status_page_shows_the_host_and_follows_a_switch_without_reload() {
    require_docker(&[BUSYBOX]);
    chromium();
    let host = DemoHost::on_future(PLAN, BASE, LISTEN, WAIT);
    let (dir, file) = (&host.dir, &host.file);

    // The page carries its policy; the root sends the browser to it.
    let page = get_raw("/ui");
    assert!(
        page.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{page}"
    );
    assert!(get_raw("/").contains("location: /ui"));

    let mut b = Browser::open(
        &dir.join("chromium"),
        DEVTOOLS,
        &format!("http://127.0.0.1:{LISTEN}/"),
    );
    let active = |v: &str| format!("document.getElementById('active').textContent === '{v}'");
    assert!(
        b.wait_for(&active("future"), WAIT),
        "the page shows future active: {}",
        b.eval("document.body.innerText")
    );
    assert_eq!(b.eval("location.pathname"), "/ui");
    // The script ran under the policy and read /status (else: "loading…").
    assert!(
        b.eval("document.getElementById('conn').textContent")
            .as_str()
            .is_some_and(|s| s.starts_with("live"))
    );

    // The port map: each version's ranges as bands, the published ports.
    assert!(b.wait_for("document.querySelector('#portmap svg') !== null", WAIT));
    let bands = strings(
        &b.eval("[...document.querySelectorAll('#portmap .band title')].map(t => t.textContent)"),
    );
    for want in [
        format!(
            "future (active): range services {}-{}",
            BASE + 10,
            BASE + 14
        ),
        format!("future (active): range shared {}-{}", BASE + 15, BASE + 19),
        format!("dao: range services {}-{}", BASE + 20, BASE + 24),
        format!("blockchain: range shared {}-{}", BASE + 35, BASE + 39),
    ] {
        assert!(bands.contains(&want), "{want} in {bands:?}");
    }
    let published = strings(
        &b.eval("[...document.querySelectorAll('#portmap .published')].map(c => c.dataset.port)"),
    );
    for port in version_ports(BASE, "future").iter().chain([&BASE]) {
        assert!(
            published.contains(&port.to_string()),
            "{port} published: {published:?}"
        );
    }
    // The containers: state, readiness and image of each.
    let rows = strings(&b.eval(
        "[...document.querySelectorAll('#containers tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' '))",
    ));
    let svc = format!("{PLAN}-future-service-1 future running ready {BUSYBOX}");
    assert!(
        rows.iter().any(|r| r.starts_with(&svc)),
        "{svc} in {rows:?}"
    );

    // A switch: the same page, never reloaded, shows it.
    b.eval("window.samePage = 'kept'");
    write(file, &demo_plan(PLAN, BASE, "dao"));
    assert!(
        b.wait_for(&active("dao"), WAIT),
        "the page follows the switch: {}",
        b.eval("document.body.innerText")
    );
    assert_eq!(
        b.eval("window.samePage"),
        "kept",
        "the page was not reloaded"
    );
    assert!(b.wait_for(
        "[...document.querySelectorAll('#history li')].some(li => li.dataset.outcome === 'Succeeded' && li.textContent.includes('future → dao') && li.querySelectorAll('.bar .phase').length >= 2)",
        WAIT,
    ), "the switch is on the timeline with its phases: {}", b.eval("document.getElementById('history').innerText"));
    assert!(b.wait_for(
        "[...document.querySelectorAll('#portmap .lane')].some(l => l.dataset.row === 'dao (active)')",
        WAIT,
    ), "the map redraws with dao active");
    screenshot(
        &dir.join("chromium-shot"),
        &format!("http://127.0.0.1:{LISTEN}/ui"),
        &artifacts().join("status-page.png"),
        (1280, 1500),
        5000,
    );

    // User data reaches the page as text: a container name with markup
    // (refused by the validator, so the edit is ignored and its error,
    // which quotes the name, is shown).
    let hostile = "x<script>document.title='pwned'</script><img src=x>";
    let good = demo_plan(PLAN, BASE, "dao");
    let bad = good.replace(
        &format!("name: {PLAN}-dao-service-2"),
        &format!("name: \"{hostile}\""),
    );
    assert_ne!(bad, good, "the plan names the container to rename");
    write(file, &bad);
    assert!(b.wait_for(
        "document.getElementById('file-error').textContent.includes(\"<script>document.title='pwned'</script><img src=x>\")",
        WAIT,
    ), "the refused edit is shown: {}", b.eval("document.body.innerText"));
    assert_eq!(
        b.eval("document.getElementById('file-error').children.length"),
        0
    );
    assert_eq!(
        b.eval("document.querySelectorAll('script').length"),
        1,
        "only app.js"
    );
    assert_eq!(b.eval("document.querySelectorAll('img').length"), 0);
    assert_eq!(b.eval("document.title"), "turnout");
    // The host kept its last good state.
    assert_eq!(
        b.eval("document.getElementById('active').textContent"),
        "dao"
    );
}

#[test]
fn the_original_plan_is_drawn_with_its_9200_clash() {
    chromium();
    let dir = temp_dir("dash-svg");
    let out = Command::new(turnout_bin())
        .args(["ports", "--svg"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/original-plan.yaml"))
        .output()
        .expect("turnout runs");
    assert!(out.status.success(), "{}", output_text(&out));
    // The picture in the README is this one (`make generate` redraws it).
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/original-plan-ports.svg");
    assert!(
        std::fs::read(&docs).is_ok_and(|d| d == out.stdout),
        "{} differs from `turnout ports examples/original-plan.yaml --svg`; run `make generate`",
        docs.display()
    );
    let svg = artifacts().join("original-plan.svg");
    std::fs::write(&svg, &out.stdout).expect("write the svg");
    // The browser parses it as SVG (a malformed file shows a parser error).
    let url = format!("file://{}", svg.display());
    let dom = run_once(
        &dir.join("p1"),
        &["--dump-dom".to_string()],
        &url,
        Duration::from_secs(60),
    );
    assert!(
        !dom.contains("parsererror") && !dom.contains("error on line"),
        "{dom}"
    );
    assert!(
        dom.contains(r#"class="clash" data-rule="RangeCoversInfrastructurePort" data-port="9200""#),
        "{dom}"
    );
    assert!(dom.contains("range shared (9200-9299) of version blockchain contains port 9200"));
    screenshot(
        &dir.join("p2"),
        &url,
        &artifacts().join("original-plan.png"),
        (1220, 540),
        1000,
    );
}

/// Removes the container this test started by hand (never one turnout made).
struct Squatter(&'static str);

impl Drop for Squatter {
    fn drop(&mut self) {
        let _ = docker_raw(&["rm", "-f", self.0]);
    }
}

#[test]
fn a_blocked_switch_shows_the_foreign_listener_on_the_map() {
    require_docker(&[BUSYBOX]);
    chromium();
    let (plan, base, listen, devtools) = ("dash-block", 25340, 25392, 25393);
    let host = DemoHost::on_future(plan, base, listen, WAIT);
    let (dir, file) = (&host.dir, &host.file);
    // Something turnout does not manage takes a port blockchain needs.
    let taken = base + 30;
    let squatter = Squatter("dash-block-squatter");
    let _ = docker_raw(&["rm", "-f", squatter.0]);
    docker(&[
        "run",
        "-d",
        "--name",
        squatter.0,
        "-p",
        &format!("127.0.0.1:{taken}:8080"),
        BUSYBOX,
        "httpd",
        "-f",
        "-p",
        "8080",
    ]);
    write(file, &demo_plan(plan, base, "blockchain"));

    let mut b = Browser::open(
        &dir.join("chromium"),
        devtools,
        &format!("http://127.0.0.1:{listen}/ui"),
    );
    assert!(
        b.wait_for(
            &format!("document.querySelector('#portmap .foreign[data-port=\"{taken}\"]') !== null"),
            WAIT
        ),
        "the foreign listener is on the map: {}",
        b.eval("document.body.innerText")
    );
    assert_eq!(
        b.eval("document.getElementById('active').textContent"),
        "future"
    );
    assert_eq!(
        b.eval("document.getElementById('desired').textContent"),
        "blockchain"
    );
    let blockers = strings(
        &b.eval("[...document.querySelectorAll('#blocker-list li')].map(li => li.textContent)"),
    );
    let want = format!(
        "port {taken}/tcp, planned for {plan}-blockchain-service-1, is held by container {}",
        squatter.0
    );
    assert!(blockers.contains(&want), "{want} in {blockers:?}");
    let ready = b.eval("document.getElementById('ready-message').textContent");
    assert!(
        ready
            .as_str()
            .is_some_and(|m| m.contains("nothing was stopped")),
        "{ready}"
    );
    assert!(
        strings(
            &b.eval("[...document.querySelectorAll('#portmap .lane')].map(l => l.dataset.row)")
        )
        .contains(&"blockchain (wanted)".to_string())
    );
    screenshot(
        &dir.join("chromium-shot"),
        &format!("http://127.0.0.1:{listen}/ui"),
        &artifacts().join("status-page-blocked.png"),
        (1280, 1500),
        5000,
    );
}

#[test]
fn a_refused_edit_is_drawn_with_its_clash_beside_the_running_map() {
    require_docker(&[BUSYBOX]);
    chromium();
    let (plan, base, listen, devtools) = ("refd-page", 25700, 25790, 25791);
    let host = DemoHost::on_future(plan, base, listen, WAIT);
    let (dir, file) = (&host.dir, &host.file);
    let good = demo_plan(plan, base, "future");
    let mut b = Browser::open(
        &dir.join("chromium"),
        devtools,
        &format!("http://127.0.0.1:{listen}/ui"),
    );
    assert!(
        b.wait_for(
            "document.querySelector('#portmap .lane[data-row=\"future (active)\"]') !== null",
            WAIT
        ),
        "the running map: {}",
        b.eval("document.body.innerText")
    );
    assert_eq!(b.eval("document.getElementById('refused').hidden"), true);
    let running_map = "document.querySelector('#portmap svg').outerHTML";
    let before = b.eval(running_map);
    let service = format!("{plan}-future-service-1");
    let started = started_at(&service);
    b.eval("window.samePage = 'kept'");

    // blockchain's services range moved over the infrastructure's port
    // (`base`, the db): refused, the host stays on future.
    let mut docs = demo(plan, base).select("future").documents();
    docs[0]["spec"]["versions"][2]["ranges"][0]["from"] = base.into();
    write(file, &to_yaml(&docs));
    let clash = format!(
        "#refused-portmap .clash[data-rule=\"RangeCoversInfrastructurePort\"][data-port=\"{base}\"]"
    );
    assert!(
        b.wait_for(
            &format!("!document.getElementById('refused').hidden && document.querySelector('{clash}') !== null"),
            WAIT
        ),
        "the refused edit's map shows the clash: {}",
        b.eval("document.body.innerText")
    );
    // In red, with the rule and the port on the map itself.
    assert_eq!(
        b.eval(&format!(
            "document.querySelector('{clash} rect').getAttribute('fill')"
        )),
        "#d1242f"
    );
    let labels = strings(
        &b.eval("[...document.querySelectorAll('#refused-portmap text')].map(t => t.textContent)"),
    );
    let label = format!("{base} RangeCoversInfrastructurePort");
    assert!(labels.contains(&label), "{label} in {labels:?}");
    assert!(
        labels.contains(&format!("Refused edit of plan {plan}, not applied")),
        "{labels:?}"
    );
    assert_eq!(
        b.eval("document.getElementById('refused-title').textContent"),
        format!("Refused edit of plan {plan}, not applied")
    );
    let rules = strings(&b.eval(
        "[...document.querySelectorAll('#refused-rules li')].map(li => li.dataset.rule + ' ' + li.dataset.port + ' ' + li.textContent)",
    ));
    assert!(
        rules.iter().any(
            |r| r.starts_with(&format!("RangeCoversInfrastructurePort {base} "))
                && r.contains(&format!("{plan}-db"))
        ),
        "{rules:?}"
    );
    let edited = strings(&b.eval(
        "[...document.querySelectorAll('#refused-portmap .band title')].map(t => t.textContent)",
    ));
    let range = format!("blockchain: range services {base}-{}", base + 34);
    assert!(edited.contains(&range), "{range} in {edited:?}");

    // The running plan's map and the host are as they were.
    assert_eq!(b.eval(running_map), before, "the running map is unchanged");
    assert_eq!(
        b.eval("document.querySelectorAll('#portmap .clash').length"),
        0
    );
    assert_eq!(
        b.eval("document.getElementById('active').textContent"),
        "future"
    );
    assert_eq!(
        b.eval("document.getElementById('desired').textContent"),
        "future"
    );
    assert_eq!(
        b.eval("document.getElementById('file-error').hidden"),
        false
    );
    let status = http_get(listen, "/status");
    assert!(status.contains("\"activeVersion\": \"future\""), "{status}");
    assert_eq!(running(plan), expected_running(plan, "future"));
    assert_eq!(started_at(&service), started, "{service} was not restarted");
    assert_eq!(
        b.eval("window.samePage"),
        "kept",
        "the page was not reloaded"
    );
    screenshot(
        &dir.join("chromium-shot"),
        &format!("http://127.0.0.1:{listen}/ui"),
        &artifacts().join("status-page-refused-edit.png"),
        (1280, 2000),
        5000,
    );

    // The edit fixed: the refused map goes away, on the same page.
    write(file, &good);
    assert!(
        b.wait_for(
            "document.getElementById('refused').hidden && document.querySelector('#refused-portmap svg') === null && document.getElementById('file-error').hidden",
            WAIT
        ),
        "the refused map is gone: {}",
        b.eval("document.body.innerText")
    );
    assert!(!http_get(listen, "/status").contains("refusedEdit"));
    assert_eq!(
        b.eval("window.samePage"),
        "kept",
        "the page was not reloaded"
    );
}
