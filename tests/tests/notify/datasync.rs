//! A DataSync of the desired file that fails: `turnout standalone` tells
//! the sinks of the file's plan and selection once, with the DataSync's
//! own fields, however many reconciles follow; a changed spec that fails
//! again is told again.

use std::time::Duration;

use serde_json::{Value, json};
use turnout_e2e::*;

use super::TOKEN;
use super::receiver::Recorder;
use super::support::*;

const PLAN: &str = "syncn-note";
const DATASYNC: &str = "syncn-seed";

/// Versions future (selected) and dao, each one web service whose data
/// binding `state` is exported by a command that fails; the webhook on the
/// plan, a Slack sink on the selection, and the DataSync future -> dao.
fn desired(base: u16, backup: bool) -> String {
    let version = |v: Version, port: u16| {
        let name = format!("{PLAN}-{}-web", v.name());
        v.range("services", port, port)
            .container(httpd(&name).port_in(port, 8080, "services"))
            .service_data(
                "state",
                &name,
                &["sh", "-c", "echo export exploded >&2; exit 3"],
                &["sh", "-c", "cat > /tmp/state"],
            )
    };
    let plan = PlanBuilder::new(PLAN)
        .version("future", |v| version(v, base + 1))
        .version("dao", |v| version(v, base + 2))
        .set(
            "notifications",
            json!([{"name": "ops", "kind": "Webhook", "url": {"env": "SYNCN_OPS_URL"}}]),
        )
        .selection(Selection::new("host", PLAN, "future").set(
            "notifications",
            json!([{"name": "chat", "kind": "Slack", "events": ["SyncFailed"],
                    "url": {"env": "SYNCN_CHAT_URL"}}]),
        ));
    let datasync = json!({
        "apiVersion": "turnout.dev/v1alpha1", "kind": "DataSync",
        "metadata": {"name": DATASYNC},
        "spec": {"planRef": PLAN, "from": "future", "to": "dao", "backup": backup}
    });
    let mut docs = plan.documents();
    docs.push(datasync);
    to_yaml(&docs)
}

/// The DataSync's entry in the status file.
fn datasync_status(dir: &std::path::Path) -> Value {
    let s = status_json(dir);
    s["dataSyncs"]
        .as_array()
        .and_then(|all| all.iter().find(|d| d["name"] == DATASYNC).cloned())
        .unwrap_or(Value::Null)
}

fn sync_failed(hook: &Recorder) -> Vec<Value> {
    events_of(&hook.bodies(), "SyncFailed")
        .into_iter()
        .cloned()
        .collect()
}

#[test]
fn a_failed_datasync_of_the_file_is_told_once_with_its_own_fields() {
    require_docker(&[BUSYBOX]);
    let (base, listen) = (25610, 25698);
    let _cleanup = Cleanup(PLAN.to_string());
    remove_plan_containers(PLAN);
    let dir = temp_dir(PLAN);
    let hook = Recorder::start(25601);
    let chat = Recorder::start(25602);
    let file = dir.join("desired.yaml");
    write(&file, &desired(base, true));
    let env = [
        (
            "SYNCN_OPS_URL",
            format!("http://127.0.0.1:25601/hook/{TOKEN}"),
        ),
        (
            "SYNCN_CHAT_URL",
            format!("http://127.0.0.1:25602/chat/{TOKEN}"),
        ),
    ];
    let _t = standalone(&dir, listen, &env);
    assert!(
        wait_until(Duration::from_secs(60), || datasync_status(&dir)["status"]
            ["phase"]
            == "Failed"),
        "the DataSync failed: {}",
        status_json(&dir)
    );
    assert!(
        wait_until(Duration::from_secs(10), || !sync_failed(&hook).is_empty()),
        "SyncFailed was told: {:#?}",
        hook.bodies()
    );
    // More reconciles see it still failed: nothing more is told.
    let since = reconciles(listen);
    assert!(
        reconciled_since(listen, since, 3.0, Duration::from_secs(60)),
        "turnout reconciled again"
    );
    let told = sync_failed(&hook);
    assert_eq!(told.len(), 1, "{:#?}", hook.bodies());
    let e = &told[0];
    let message = datasync_status(&dir)["status"]["message"]
        .as_str()
        .expect("the DataSync's message")
        .to_string();
    assert!(
        message.contains("export exploded") && message.contains('3'),
        "the failure is the export's: {message}"
    );
    let reason = message
        .strip_prefix('[')
        .and_then(|m| m.split_once(']'))
        .map(|(r, _)| r.to_string())
        .expect("the message names its reason");
    assert_eq!(
        keys(e),
        [
            "dataSync",
            "event",
            "from",
            "host",
            "message",
            "plan",
            "reason",
            "selection",
            "time",
            "to"
        ],
        "{e}"
    );
    assert_eq!(
        (&e["selection"], &e["plan"], &e["host"], &e["dataSync"]),
        (
            &json!(DATASYNC),
            &json!(PLAN),
            &json!(NODE),
            &json!(DATASYNC)
        ),
        "{e}"
    );
    assert_eq!((&e["from"], &e["to"]), (&json!("future"), &json!("dao")));
    assert_eq!(
        (&e["reason"], &e["message"]),
        (&json!(reason), &json!(message))
    );
    assert!(is_rfc3339(&e["time"]), "{e}");
    // The selection's Slack sink: that one event, as one line.
    let texts: Vec<String> = chat
        .bodies()
        .iter()
        .map(|b| b["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(texts.len(), 1, "{texts:#?}");
    let line = format!(
        "turnout: DataSync {DATASYNC} on {NODE}: the copy from future to dao failed: {reason}: "
    );
    assert!(texts[0].starts_with(&line), "{}", texts[0]);

    // The spec changes and the new attempt fails too: told again, once.
    write(&file, &desired(base, false));
    assert!(
        wait_until(Duration::from_secs(60), || sync_failed(&hook).len() >= 2),
        "the changed DataSync's failure was told: {:#?}",
        hook.bodies()
    );
    let since = reconciles(listen);
    assert!(reconciled_since(
        listen,
        since,
        2.0,
        Duration::from_secs(60)
    ));
    assert_eq!(sync_failed(&hook).len(), 2, "{:#?}", hook.bodies());
    assert_eq!(chat.bodies().len(), 2, "{:#?}", chat.bodies());

    // The token reached the request lines only.
    let log = std::fs::read_to_string(dir.join("turnout.log")).unwrap_or_default();
    assert!(
        log.contains("DataSync finished"),
        "the log was captured: {log}"
    );
    for r in hook.requests().iter().chain(chat.requests().iter()) {
        assert!(r.path.ends_with(TOKEN), "{}", r.path);
        assert!(
            !r.body.contains(TOKEN),
            "a body shows the token: {}",
            r.body
        );
    }
    for (what, text) in [
        ("turnout's log", log),
        ("the status file", status_json(&dir).to_string()),
    ] {
        assert!(!text.contains(TOKEN), "{what} shows the token:\n{text}");
    }
}
