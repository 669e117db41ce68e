//! Notification sinks, in a plan and in a selection: names, events, URL source.

use super::*;
use turnout_crds::notify::{Notification, SinkKind};

fn sink(name: &str) -> Notification {
    Notification {
        name: name.into(),
        kind: SinkKind::Webhook,
        url: SecretSource {
            env: Some("OPS_HOOK_URL".into()),
            file: None,
            secret_key_ref: None,
        },
        events: Vec::new(),
    }
}

fn with_sinks(sinks: Vec<Notification>) -> turnout_crds::PortPlanSpec {
    turnout_crds::PortPlanSpec {
        notifications: sinks,
        ..valid_plan()
    }
}

#[test]
fn sinks_with_distinct_names_known_events_and_one_source_are_valid() {
    let mut ops = sink("ops");
    ops.events = vec!["SwitchSucceeded".into(), "SwitchFailed".into()];
    let mut chat = sink("chat-2");
    chat.kind = SinkKind::Slack;
    chat.url = SecretSource {
        env: None,
        file: None,
        secret_key_ref: Some(SecretKeyRef {
            name: "hooks".into(),
            key: "chat".into(),
        }),
    };
    assert_valid(&with_sinks(vec![ops, chat]));
}

#[test]
fn a_sink_name_used_twice_is_refused() {
    let v = single(
        &with_sinks(vec![sink("ops"), sink("ops")]),
        K::DuplicateName,
    );
    assert_eq!(v.path, "spec.notifications[1].name");
    assert!(v.message.contains("spec.notifications[0]"), "{}", v.message);
}

#[test]
fn sink_names_that_are_not_dns_labels_are_refused() {
    for bad in [
        "",
        "Ops",
        "ops_",
        "-ops",
        "ops-",
        "a b",
        "o\"ps\n",
        &"a".repeat(64),
    ] {
        let v = single(&with_sinks(vec![sink(bad)]), K::InvalidNotification);
        assert_eq!(v.path, "spec.notifications[0].name", "{bad:?}");
    }
}

#[test]
fn an_unknown_event_is_refused_naming_the_known_ones() {
    let mut s = sink("ops");
    s.events = vec!["SwitchSucceeded".into(), "switchsucceeded".into()];
    let v = single(&with_sinks(vec![s]), K::InvalidNotification);
    assert_eq!(v.path, "spec.notifications[0].events[1]");
    assert!(v.message.contains("HostBlocked"), "{}", v.message);
}

#[test]
fn a_url_with_no_source_or_two_sources_is_refused() {
    let mut none = sink("none");
    none.url.env = None;
    let mut two = sink("two");
    two.url.file = Some("/etc/turnout/hook".into());
    let found = validate_plan(&with_sinks(vec![none, two]));
    assert_kinds(&found, &[K::InvalidNotification, K::InvalidNotification]);
    assert_eq!(found[0].path, "spec.notifications[0].url");
    assert_eq!(found[1].path, "spec.notifications[1].url");
    assert!(
        found[1].message.contains("it names 2"),
        "{}",
        found[1].message
    );
}

#[test]
fn a_selection_sinks_follow_the_same_rules() {
    let plan = valid_plan();
    let mut sel = selection("p", "future");
    sel.notifications = vec![sink("ops"), sink("ops")];
    let found = validate_selection("p", &plan, &sel);
    assert_kinds(&found, &[K::DuplicateName]);
    assert_eq!(found[0].path, "spec.notifications[1].name");
}
