//! The rules for notification sinks (`spec.notifications`, in a plan and in
//! a selection): unique, DNS-label-like names, known events, and a URL
//! source that names exactly one of env, file or secretKeyRef. Whether the
//! source suits the mode (env/file standalone, secretKeyRef under
//! Kubernetes) and the URL's scheme are checked when the URL is read: only
//! then is it known.

use std::collections::HashMap;

use super::{Report, ViolationKind};
use crate::notify::{Notification, NotifyEvent};

/// Most sinks in one list.
pub const MAX_NOTIFICATIONS: usize = 32;

/// Why a sink name is refused: a DNS label (lowercase letters, digits and
/// `-`, alphanumeric at both ends, at most 63 characters), so it is safe in
/// a log line and a metric label.
pub fn sink_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".to_string());
    }
    if name.len() > 63 {
        return Some(format!(
            "{} is {} characters long; use at most 63",
            crate::names::shown(name),
            name.len()
        ));
    }
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !name.chars().all(ok) || !ends_ok(name.chars().next()) || !ends_ok(name.chars().last()) {
        return Some(format!(
            "{} must be lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. ops-alerts)",
            crate::names::shown(name)
        ));
    }
    None
}

/// Every rule for the sinks listed at `at` (e.g. `spec.notifications`).
pub(super) fn check_notifications(at: &str, sinks: &[Notification], r: &mut Report) {
    if sinks.len() > MAX_NOTIFICATIONS {
        r.push(
            ViolationKind::TooLarge,
            at,
            format!(
                "{} notification sinks; turnout takes at most {MAX_NOTIFICATIONS} in one list",
                sinks.len()
            ),
        );
        return;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, s) in sinks.iter().enumerate() {
        let path = format!("{at}[{i}]");
        if let Some(p) = sink_name_problem(&s.name) {
            r.push(
                ViolationKind::InvalidNotification,
                format!("{path}.name"),
                format!("notification sink name {p}"),
            );
        }
        if let Some(first) = seen.insert(&s.name, i) {
            r.push_full(
                ViolationKind::DuplicateName,
                format!("{path}.name"),
                vec![s.name.clone()],
                None,
                format!(
                    "notification sink {} is listed twice (first at {at}[{first}]); give each sink its own name",
                    crate::names::shown(&s.name)
                ),
            );
        }
        check_events(&path, s, r);
        check_url_source(&path, s, r);
    }
}

fn check_events(path: &str, s: &Notification, r: &mut Report) {
    for (j, e) in s.events.iter().enumerate() {
        if NotifyEvent::from_name(e).is_none() {
            let known: Vec<&str> = NotifyEvent::ALL.iter().map(|e| e.as_str()).collect();
            r.push_full(
                ViolationKind::InvalidNotification,
                format!("{path}.events[{j}]"),
                vec![s.name.clone()],
                None,
                format!(
                    "notification sink {}: {} is not an event turnout sends; use one of {}, or leave events out for all of them",
                    crate::names::shown(&s.name),
                    crate::names::shown(e),
                    known.join(", ")
                ),
            );
        }
    }
}

fn check_url_source(path: &str, s: &Notification, r: &mut Report) {
    let u = &s.url;
    let set = [
        u.env.is_some(),
        u.file.is_some(),
        u.secret_key_ref.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set != 1 {
        r.push_full(
            ViolationKind::InvalidNotification,
            format!("{path}.url"),
            vec![s.name.clone()],
            None,
            format!(
                "notification sink {}: url must name exactly one source (env or file in standalone mode, secretKeyRef under Kubernetes); it names {set}",
                crate::names::shown(&s.name)
            ),
        );
    }
}
