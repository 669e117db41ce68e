//! What the HTTP endpoints serve: the metrics, the latest status document
//! and port map of each selection the driver reconciles (and of the edit it
//! last refused, in standalone mode), and the webhook's secret and the
//! signal it gives the git follower.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use turnout_crds::plan::PortPlanSpec;

use crate::metrics::Metrics;
use crate::status::{RefusedPlan, StandaloneStatus};

/// The most selections whose status is kept for the page: one turnout
/// drives one host, which runs a handful at most; the bound keeps a
/// runaway namespace from growing the process without limit.
pub const MAX_VIEWS: usize = 256;

/// State shared between a driver and its HTTP endpoints.
#[derive(Default)]
pub struct Shared {
    pub metrics: Arc<Metrics>,
    /// Asks the git follower to pull now (the webhook).
    pub pull_now: Arc<tokio::sync::Notify>,
    /// Verifies the webhook's signature; `None` turns the hook off.
    pub webhook: Option<super::webhook::WebhookSecret>,
    /// When set, the status page and `/status` are off and answer 404 with
    /// this sentence (`turnout run` without `--status-page`).
    pub page_off: Option<&'static str>,
    /// The latest status of each selection (standalone: its one; the
    /// operator: `namespace/name` of each it reconciles), published by the
    /// driver after each reconcile.
    views: RwLock<BTreeMap<String, Snapshot>>,
}

/// A status document and the plan it reports on (its port map is drawn
/// when someone asks, not after every reconcile), and the plan of the edit
/// the driver refused, if the file now holds one.
struct Snapshot {
    doc: StandaloneStatus,
    plan: PortPlanSpec,
    refused: Option<RefusedPlan>,
}

impl Shared {
    /// Endpoints whose git webhook checks signatures with `webhook` (None: off).
    pub fn with_webhook(webhook: Option<super::webhook::WebhookSecret>) -> Shared {
        Shared {
            webhook,
            ..Default::default()
        }
    }

    /// Endpoints serving `metrics` (the operator's, shared with its controllers).
    pub fn with_metrics(metrics: Arc<Metrics>) -> Shared {
        Shared {
            metrics,
            ..Default::default()
        }
    }

    /// Reads the snapshot of `selection` (None: the first, which is the
    /// only one in standalone mode).
    fn with_view<T>(&self, selection: Option<&str>, f: impl FnOnce(&Snapshot) -> T) -> Option<T> {
        let views = self.views.read().ok()?;
        let view = match selection {
            Some(key) => views.get(key),
            None => views.values().next(),
        };
        view.map(f)
    }

    /// The status document of `selection` (None: the first) as JSON.
    pub fn status_json(&self, selection: Option<&str>) -> Option<String> {
        self.with_view(selection, |s| serde_json::to_string_pretty(&s.doc).ok())
            .flatten()
    }

    /// The port map of `selection` (None: the first): its plan, and what
    /// its status observed on the host.
    pub fn portmap_svg(&self, selection: Option<&str>) -> Option<String> {
        self.with_view(selection, |s| {
            let observed = crate::portmap::Observed::from_status(&s.doc);
            crate::portmap::render(&s.doc.plan, &s.plan, Some(&observed))
        })
    }

    /// The port map of the edit of `selection` (None: the first) that was
    /// refused for breaking the plan's rules; None when there is no such
    /// edit (or no status yet).
    pub fn refused_portmap_svg(&self, selection: Option<&str>) -> Option<String> {
        self.with_view(selection, |s| {
            s.refused.as_ref().map(RefusedPlan::portmap_svg)
        })
        .flatten()
    }

    /// The selections with a status, in order.
    pub fn selections(&self) -> Vec<String> {
        self.views
            .read()
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Publishes the latest status document of `selection` and the plan it
    /// reports on. Beyond [`MAX_VIEWS`] selections a new one is not kept.
    pub fn publish(&self, selection: &str, doc: StandaloneStatus, plan: PortPlanSpec) {
        if let Ok(mut views) = self.views.write()
            && (views.len() < MAX_VIEWS || views.contains_key(selection))
        {
            let refused = None;
            views.insert(selection.to_string(), Snapshot { doc, plan, refused });
        }
    }

    /// Publishes the status of the one selection a driver serves
    /// (standalone), dropping any other (the file renamed its selection),
    /// with the plan of the edit it refuses (None: the file's last edit
    /// was applied, or did not read as a plan).
    pub fn publish_alone(
        &self,
        selection: &str,
        doc: StandaloneStatus,
        plan: PortPlanSpec,
        refused: Option<RefusedPlan>,
    ) {
        if let Ok(mut views) = self.views.write() {
            views.clear();
            let snapshot = Snapshot { doc, plan, refused };
            views.insert(selection.to_string(), snapshot);
        }
    }

    /// Drops the status of a selection that is gone.
    pub fn forget(&self, selection: &str) {
        if let Ok(mut views) = self.views.write() {
            views.remove(selection);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(selection: &str, version: &str) -> StandaloneStatus {
        StandaloneStatus {
            file: String::new(),
            plan: "p".into(),
            selection: selection.into(),
            desired_version: version.into(),
            file_error: None,
            refused_edit: None,
            updated_at: String::new(),
            status: Default::default(),
            data_syncs: Vec::new(),
            applied_revision: None,
            data: Default::default(),
            blockers: Vec::new(),
            engine: None,
        }
    }

    fn plan() -> PortPlanSpec {
        serde_json::from_str(r#"{"infrastructure": [], "versions": []}"#).expect("an empty plan")
    }

    #[test]
    fn each_selection_has_its_own_status_and_map() {
        let s = Shared::default();
        assert_eq!(s.status_json(None), None);
        s.publish("ns/b", doc("b", "dao"), plan());
        s.publish("ns/a", doc("a", "future"), plan());
        assert_eq!(s.selections(), ["ns/a", "ns/b"]);
        let b = s.status_json(Some("ns/b")).expect("b's status");
        assert!(b.contains("\"desiredVersion\": \"dao\""), "{b}");
        let first = s.status_json(None).expect("the first");
        assert!(first.contains("\"desiredVersion\": \"future\""), "{first}");
        assert_eq!(s.status_json(Some("ns/zzz")), None);
        assert!(
            s.portmap_svg(Some("ns/b"))
                .is_some_and(|m| m.starts_with("<svg"))
        );
        s.forget("ns/a");
        assert_eq!(s.selections(), ["ns/b"]);
        s.publish_alone("host", doc("host", "blockchain"), plan(), None);
        assert_eq!(s.selections(), ["host"]);
    }

    #[test]
    fn the_refused_edit_has_its_own_map_until_a_good_edit() {
        let s = Shared::default();
        assert_eq!(s.refused_portmap_svg(None), None, "no status yet");
        s.publish_alone("host", doc("host", "future"), plan(), None);
        assert_eq!(s.refused_portmap_svg(None), None, "nothing refused");
        let edit: PortPlanSpec = serde_json::from_value(serde_json::json!({
            "infrastructure": [{"name": "es", "image": "es:8", "ports": [{"host": 9200, "container": 9200}]}],
            "versions": [{"name": "blockchain", "ranges": [{"name": "shared", "from": 9200, "to": 9299}], "containers": []}]
        }))
        .expect("a plan");
        let refused = RefusedPlan {
            plan_name: "edited".into(),
            violations: turnout_crds::validate::validate_plan(&edit),
            plan: edit,
        };
        s.publish_alone("host", doc("host", "future"), plan(), Some(refused));
        let map = s.refused_portmap_svg(None).expect("the refused map");
        assert!(
            map.contains("Refused edit of plan edited, not applied"),
            "{map}"
        );
        assert!(
            map.contains(r#"data-rule="RangeCoversInfrastructurePort" data-port="9200""#),
            "{map}"
        );
        assert_eq!(s.refused_portmap_svg(Some("other")), None);
        // The running plan's map is still the running plan's.
        let running = s.portmap_svg(None).expect("the running map");
        assert!(running.contains("Port map of plan p") && !running.contains("9200"));
        // A good edit: the next publish carries no refused plan.
        s.publish_alone("host", doc("host", "future"), plan(), None);
        assert_eq!(s.refused_portmap_svg(None), None);
    }

    #[test]
    fn the_number_of_selections_kept_is_bounded() {
        let s = Shared::default();
        for i in 0..MAX_VIEWS + 10 {
            s.publish(&format!("ns/s{i}"), doc("x", "v"), plan());
        }
        assert_eq!(s.selections().len(), MAX_VIEWS);
        // One already kept is still updated.
        s.publish("ns/s0", doc("x", "changed"), plan());
        assert!(
            s.status_json(Some("ns/s0"))
                .is_some_and(|j| j.contains("changed"))
        );
    }
}
