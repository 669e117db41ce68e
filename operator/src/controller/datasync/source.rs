//! A DataSync whose source is another environment, under Kubernetes: the
//! source's PortPlan (and the Secrets it names) read from the DataSync's
//! namespace, and, when it names one, the engine of the source's host, its
//! TLS client certificates taken from a Secret and written into a
//! root-only directory of turnout's (never logged, never in a status).

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use turnout_crds::datasync::SyncSource;

use crate::controller::load_plan;
use crate::core::target::SecretMap;
use crate::runtime::docker::address::{EngineAddress, parse_flag};
use crate::sync::run::SourceEnv;

/// The files a `tcp://` engine's Secret holds.
const CERT_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];
/// No certificate or key is near this big.
const CERT_LIMIT: usize = 64 * 1024;

/// The source, read: its plan, the secret values its plan names, and its
/// engine when that is not this host's.
pub struct Source {
    pub env: SourceEnv,
    pub secrets: SecretMap,
    pub engine: Option<EngineAddress>,
}

/// Reads `source` for a DataSync in namespace `ns`; `data_dir` holds the
/// engine certificates. The error is a sentence for the DataSync's status.
pub async fn read(
    client: &Client,
    ns: &str,
    source: &SyncSource,
    data_dir: &Path,
) -> Result<Source, String> {
    let Some(plan_ref) = &source.plan_ref else {
        return Err("spec.source.planFile is read by `turnout standalone`; under Kubernetes name the source's PortPlan (in this namespace) with spec.source.planRef".into());
    };
    if source.engine_certs.is_some() {
        return Err("spec.source.engineCerts names a directory of the host, which the operator does not read; under Kubernetes the certificates come from a Secret: spec.source.engineSecretRef".into());
    }
    let tcp = source
        .engine
        .as_deref()
        .is_some_and(|e| e.starts_with("tcp://"));
    if tcp && source.engine_secret_ref.is_none() {
        // Never the operator's own certificates (DOCKER_CERT_PATH, ~/.docker).
        return Err("a tcp:// engine needs its TLS client certificates: set spec.source.engineSecretRef to a Secret holding ca.pem, cert.pem and key.pem".into());
    }
    let (plan, secrets) = load_plan(client, ns, plan_ref)
        .await
        .map_err(|e| format!("PortPlan {plan_ref}: {e}"))?;
    if let Some(first) = turnout_crds::validate::validate_plan(&plan).first() {
        return Err(format!("PortPlan {plan_ref}: {first}"));
    }
    let engine = match &source.engine {
        None => None,
        Some(raw) => {
            let certs = match &source.engine_secret_ref {
                None => None,
                Some(name) => Some(write_certs(client, ns, name, data_dir).await?),
            };
            let address = parse_flag(raw, "spec.source.engine", certs.as_deref())
                .map_err(|e| e.to_string())?;
            Some(address)
        }
    };
    Ok(Source {
        env: SourceEnv {
            plan_name: plan_ref.clone(),
            plan,
            engine: engine.as_ref().map(EngineAddress::identity),
        },
        secrets,
        engine,
    })
}

/// Writes the Secret `name`'s `ca.pem`, `cert.pem` and `key.pem` into
/// `DATA_DIR/engine-certs/NS/NAME` (0700; files 0600, replaced
/// atomically) and returns that directory.
async fn write_certs(
    client: &Client,
    ns: &str,
    name: &str,
    data_dir: &Path,
) -> Result<PathBuf, String> {
    for part in [ns, name] {
        turnout_crds::names::check_object_name(part).map_err(|e| {
            format!(
                "spec.source.engineSecretRef {}: {e}",
                turnout_crds::names::shown(part)
            )
        })?;
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = secrets
        .get_opt(name)
        .await
        .map_err(|e| format!("cannot read Secret {ns}/{name}: {e}"))?
        .ok_or_else(|| {
            format!("Secret {ns}/{name} (spec.source.engineSecretRef) does not exist")
        })?;
    let data = secret.data.unwrap_or_default();
    let dir = data_dir.join("engine-certs").join(ns).join(name);
    crate::files::private_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for file in CERT_FILES {
        let bytes = &data
            .get(file)
            .ok_or_else(|| format!("Secret {ns}/{name} has no key {file}; it holds ca.pem, cert.pem and key.pem for a tcp:// engine"))?
            .0;
        if bytes.len() > CERT_LIMIT {
            return Err(format!(
                "Secret {ns}/{name}: {file} is over {CERT_LIMIT} bytes"
            ));
        }
        let path = dir.join(file);
        crate::files::replace_file(&path, bytes, 0o600)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(dir)
}
