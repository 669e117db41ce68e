//! Crash loops: turnout restarts a container of what should run when it
//! goes down, but a container that keeps dying is not restarted forever.
//! After `restarts` restarts of the same container within `window`,
//! turnout holds it (no further start), and the reconcile reports
//! `CrashLoop` with the container's last exit code and the tail of its log.
//!
//! A restart is a start of a container turnout saw running and did not
//! stop itself: a crash, or a stop by hand. Starts of a switch (turnout
//! stopped that version before) and of new containers are not restarts.
//! A hold ends when the plan or selection changes, or when the container
//! is seen running again (someone started it by hand).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::core::model::{Desired, ObservedContainer, RunState};
use crate::core::{Action, ActionKind};

/// When restarts become a crash loop: more than `restarts` within `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashLimit {
    pub restarts: u32,
    pub window: Duration,
}

impl Default for CrashLimit {
    /// 5 restarts within 5 minutes.
    fn default() -> Self {
        CrashLimit {
            restarts: 5,
            window: Duration::from_secs(300),
        }
    }
}

/// A container turnout stopped restarting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub container: String,
    pub id: String,
    /// Restarts within the window when it was held.
    pub restarts: u32,
}

#[derive(Default)]
struct State {
    /// Name -> id of the containers seen running that turnout has not stopped since.
    seen_running: HashMap<String, String>,
    /// Container id -> (the target's generation key, when turnout
    /// restarted it within the window); a new spec starts counting afresh.
    restarts: HashMap<String, (String, VecDeque<Instant>)>,
    /// Container id -> (the target's generation key, restarts) while held.
    held: HashMap<String, (String, u32)>,
}

/// The restarts of each container, and the holds.
pub(super) struct CrashGuard {
    limit: CrashLimit,
    state: Mutex<State>,
}

impl CrashGuard {
    pub(super) fn new(limit: CrashLimit) -> CrashGuard {
        CrashGuard {
            limit,
            state: Mutex::new(State::default()),
        }
    }

    pub(super) fn limit(&self) -> CrashLimit {
        self.limit
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// `actions` without the restarts of held containers (and of those
    /// this restart would put over the limit), and the containers held.
    pub(super) fn filter(
        &self,
        key: &str,
        desired: &Desired,
        observed: &[ObservedContainer],
        actions: Vec<Action>,
        now: Instant,
    ) -> (Vec<Action>, Vec<Held>) {
        let mut st = self.state();
        let mut held = Vec::new();
        for o in observed.iter().filter(|o| o.is_ours(&desired.plan)) {
            if o.state == RunState::Running {
                // Running again (started by hand): the hold is over.
                st.held.remove(&o.id);
                continue;
            }
            let restarting = actions
                .iter()
                .any(|a| a.container == o.name && a.kind == ActionKind::Start);
            if !restarting || st.seen_running.get(&o.name) != Some(&o.id) {
                continue;
            }
            if let Some((k, n)) = st.held.get(&o.id)
                && k == key
            {
                held.push(Held {
                    container: o.name.clone(),
                    id: o.id.clone(),
                    restarts: *n,
                });
                continue;
            }
            let window = self.limit.window;
            let entry = st
                .restarts
                .entry(o.id.clone())
                .or_insert_with(|| (key.to_string(), VecDeque::new()));
            if entry.0 != key {
                *entry = (key.to_string(), VecDeque::new());
            }
            let times = &mut entry.1;
            times.retain(|t| now.duration_since(*t) < window);
            let n = u32::try_from(times.len()).unwrap_or(u32::MAX);
            if n >= self.limit.restarts {
                st.held.insert(o.id.clone(), (key.to_string(), n));
                held.push(Held {
                    container: o.name.clone(),
                    id: o.id.clone(),
                    restarts: n,
                });
            } else {
                times.push_back(now);
            }
        }
        let actions = actions
            .into_iter()
            .filter(|a| !held.iter().any(|h| h.container == a.container))
            .collect();
        (actions, held)
    }

    /// After a reconcile: what runs now, and what turnout stopped on
    /// purpose (a later start of those is not a restart).
    pub(super) fn seen(
        &self,
        desired: &Desired,
        observed: &[ObservedContainer],
        done: &[(Action, Option<String>)],
    ) {
        let mut st = self.state();
        for (a, _) in done {
            let stopped_on_purpose = matches!(a.kind, ActionKind::Stop | ActionKind::Remove)
                && (desired.get(&a.container).is_none() || a.kind == ActionKind::Remove);
            if stopped_on_purpose {
                st.seen_running.remove(&a.container);
            }
        }
        for o in observed.iter().filter(|o| o.is_ours(&desired.plan)) {
            if o.state == RunState::Running {
                st.seen_running.insert(o.name.clone(), o.id.clone());
            }
        }
        // Forget containers that are gone.
        let ids: std::collections::HashSet<&str> = observed.iter().map(|o| o.id.as_str()).collect();
        st.restarts.retain(|id, _| ids.contains(id.as_str()));
        st.held.retain(|id, _| ids.contains(id.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::build_desired;
    use crate::core::diff;
    use crate::core::model::ObservedContainer;

    fn desired() -> Desired {
        let plan = serde_json::from_value(serde_json::json!({
            "versions": [{"name": "a", "containers": [{"name": "web", "image": "w:1"}]},
                         {"name": "b", "containers": [{"name": "b-web", "image": "w:1"}]}]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        build_desired("p", &plan, "a").unwrap_or_else(|| panic!("version a"))
    }

    fn web(state: RunState) -> ObservedContainer {
        let d = desired();
        ObservedContainer {
            id: "id1".into(),
            name: "web".into(),
            image: "w:1".into(),
            labels: d.containers[0].labels(),
            state,
            ports: Vec::new(),
            image_id: None,
            mounts: Vec::new(),
        }
    }

    fn cycle(g: &CrashGuard, key: &str, now: Instant) -> Vec<Held> {
        let d = desired();
        let down = [web(RunState::Stopped)];
        let (actions, held) = g.filter(key, &d, &down, diff(&d, &down), now);
        if held.is_empty() {
            assert_eq!(actions.len(), 1, "restarted: {actions:?}");
            g.seen(&d, &[web(RunState::Running)], &[]);
        } else {
            assert!(actions.is_empty(), "held: no start {actions:?}");
        }
        held
    }

    #[test]
    fn a_container_that_keeps_dying_is_held_after_the_limit() {
        let g = CrashGuard::new(CrashLimit {
            restarts: 3,
            window: Duration::from_secs(60),
        });
        let d = desired();
        g.seen(&d, &[web(RunState::Running)], &[]);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(
                cycle(&g, "k", t0 + Duration::from_secs(i)).is_empty(),
                "restart {i}"
            );
        }
        let held = cycle(&g, "k", t0 + Duration::from_secs(4));
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].restarts, 3);
        // Still held on the next reconcile of the same spec...
        assert_eq!(cycle(&g, "k", t0 + Duration::from_secs(5)).len(), 1);
        // ...but a new spec tries again, counting afresh.
        let soon = t0 + Duration::from_secs(6);
        for i in 0..3 {
            assert!(
                cycle(&g, "k2", soon).is_empty(),
                "restart {i} of the new spec"
            );
        }
        assert_eq!(cycle(&g, "k2", soon).len(), 1);
    }

    #[test]
    fn restarts_outside_the_window_do_not_count() {
        let g = CrashGuard::new(CrashLimit {
            restarts: 2,
            window: Duration::from_secs(10),
        });
        g.seen(&desired(), &[web(RunState::Running)], &[]);
        let t0 = Instant::now();
        for i in 0..10 {
            let at = t0 + Duration::from_secs(i * 6);
            assert!(cycle(&g, "k", at).is_empty(), "restart {i} is not a loop");
        }
    }

    #[test]
    fn a_container_turnout_stopped_is_not_restarted_when_started_again() {
        let g = CrashGuard::new(CrashLimit {
            restarts: 0,
            window: Duration::from_secs(60),
        });
        let d = desired();
        g.seen(&d, &[web(RunState::Running)], &[]);
        // A switch away stopped it (it is not desired under version b).
        let plan = serde_json::from_value(serde_json::json!({
            "versions": [{"name": "a", "containers": [{"name": "web", "image": "w:1"}]},
                         {"name": "b", "containers": [{"name": "b-web", "image": "w:1"}]}]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let on_b = build_desired("p", &plan, "b").unwrap_or_else(|| panic!("b"));
        let stop = diff(&on_b, &[web(RunState::Running)]);
        let done: Vec<_> = stop.into_iter().map(|a| (a, None)).collect();
        g.seen(&on_b, &[web(RunState::Stopped)], &done);
        // Switching back starts it: not a restart, even with a limit of 0.
        let down = [web(RunState::Stopped)];
        let (actions, held) = g.filter("k", &d, &down, diff(&d, &down), Instant::now());
        assert!(held.is_empty());
        assert_eq!(actions.len(), 1);
    }
}
