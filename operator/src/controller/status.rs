//! Writing an object's status: server-side apply under turnout's field
//! manager, retried on a conflict or a busy server.

use std::time::Duration;

use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use tracing::warn;

/// The field manager of everything turnout writes.
pub const FIELD_MANAGER: &str = "turnout";

/// How many times a status write is tried.
const STATUS_ATTEMPTS: u32 = 5;

/// Writes `status` of the object `name` by server-side apply under turnout's
/// field manager. A conflict (409), throttling (429) or a server error is
/// retried a few times with a growing pause; the last error is returned.
pub async fn apply_status<K, S>(
    api: &Api<K>,
    name: &str,
    kind: &str,
    status: &S,
) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    S: serde::Serialize,
{
    let patch = serde_json::json!({
        "apiVersion": turnout_crds::API_VERSION,
        "kind": kind,
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut pause = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        match api.patch_status(name, &params, &Patch::Apply(&patch)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e))
                if attempt < STATUS_ATTEMPTS
                    && (e.code == 409 || e.code == 429 || e.code >= 500) =>
            {
                warn!(
                    object = name,
                    code = e.code,
                    attempt,
                    "status write refused; retrying"
                );
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
        attempt += 1;
    }
}
