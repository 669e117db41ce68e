//! What the HTTP endpoints serve: the metrics, the latest status document
//! and port map, and the webhook's secret and the signal it gives the git
//! follower.

use std::sync::{Arc, RwLock};

use turnout_crds::plan::PortPlanSpec;

use crate::metrics::Metrics;
use crate::status::StandaloneStatus;

/// State shared between a driver and its HTTP endpoints.
#[derive(Default)]
pub struct Shared {
    pub metrics: Arc<Metrics>,
    /// Asks the git follower to pull now (the webhook).
    pub pull_now: Arc<tokio::sync::Notify>,
    /// Verifies the webhook's signature; `None` turns the hook off.
    pub webhook: Option<super::webhook::WebhookSecret>,
    /// The latest status document and its port map (SVG), published
    /// together by the driver after each reconcile.
    status: RwLock<Option<Snapshot>>,
}

/// A status document and the plan it reports on (its port map is drawn
/// when someone asks, not after every reconcile).
struct Snapshot {
    doc: StandaloneStatus,
    plan: PortPlanSpec,
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

    pub fn status_json(&self) -> Option<String> {
        let guard = self.status.read().ok()?;
        guard
            .as_ref()
            .and_then(|s| serde_json::to_string_pretty(&s.doc).ok())
    }

    /// The port map of the latest status (`/portmap.svg`): the plan, and
    /// what the status observed on the host.
    pub fn portmap_svg(&self) -> Option<String> {
        let guard = self.status.read().ok()?;
        let s = guard.as_ref()?;
        let observed = crate::portmap::Observed::from_status(&s.doc);
        Some(crate::portmap::render(
            &s.doc.plan,
            &s.plan,
            Some(&observed),
        ))
    }

    /// Publishes the latest status document and the plan it reports on.
    pub fn publish(&self, doc: StandaloneStatus, plan: PortPlanSpec) {
        if let Ok(mut g) = self.status.write() {
            *g = Some(Snapshot { doc, plan });
        }
    }
}
