//! What the HTTP endpoints serve: the metrics, the latest status document,
//! and the webhook's secret and the signal it gives the git follower.

use std::sync::{Arc, RwLock};

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
    /// The latest status document, published by the driver after each reconcile.
    status: RwLock<Option<StandaloneStatus>>,
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
            .and_then(|s| serde_json::to_string_pretty(s).ok())
    }

    /// Publishes the latest status document.
    pub fn publish(&self, s: StandaloneStatus) {
        if let Ok(mut g) = self.status.write() {
            *g = Some(s);
        }
    }
}
