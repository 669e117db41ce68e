//! A sink's URL, read from its secret source when there is something to
//! send: from turnout's environment or a file in standalone mode, from a
//! Secret the controller read under Kubernetes. The URL is a secret (it
//! usually carries a token): errors name the sink and where the URL should
//! come from, never the URL.

use std::fmt;
use std::path::Path;

use turnout_crds::notify::{Notification, NotifyEvent, SinkKind};
use turnout_crds::plan::PortPlanSpec;

use crate::core::target::{SecretValues, Target};
use crate::secrets::{FileProblem, read_bounded};

/// Why a sink cannot be posted to.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
pub enum SinkError {
    #[error(
        "notification sink {sink}: environment variable {var} is not set in turnout's environment; export it before starting turnout"
    )]
    EnvMissing { sink: String, var: String },
    #[error("notification sink {sink}: cannot read the URL from {file}: {problem}")]
    FileUnreadable {
        sink: String,
        file: String,
        problem: String,
    },
    #[error(
        "notification sink {sink}: url.secretKeyRef needs the Kubernetes operator (`turnout run`); in standalone mode use url.env or url.file"
    )]
    NeedsCluster { sink: String },
    #[error(
        "notification sink {sink}: url.{source_kind} is refused under the Kubernetes operator (it would read the operator's own {source_kind}); use url.secretKeyRef to a Secret in the selection's namespace"
    )]
    NotInCluster {
        sink: String,
        source_kind: &'static str,
    },
    #[error(
        "notification sink {sink}: Secret {name} has no key {key} (or cannot be read); create it in the selection's namespace"
    )]
    ClusterSecretMissing {
        sink: String,
        name: String,
        key: String,
    },
    #[error("notification sink {sink}: url names no env, file or secretKeyRef")]
    NoSource { sink: String },
    #[error(
        "notification sink {sink}: the URL is not an http:// or https:// URL with a host; turnout posts only over HTTP(S)"
    )]
    NotHttp { sink: String },
}

impl SinkError {
    /// A stable name for logs.
    pub fn reason(&self) -> &'static str {
        self.into()
    }
}

/// A sink's URL. Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SinkUrl(hyper::Uri);

impl SinkUrl {
    /// The URL, for the request only.
    pub fn uri(&self) -> &hyper::Uri {
        &self.0
    }

    /// `text` with the URL, and its path and query, replaced: client
    /// errors may quote what they tried to reach.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.replace(&self.0.to_string(), "<sink url>");
        if let Some(pq) = self.0.path_and_query().map(|p| p.as_str())
            && pq.len() > 1
        {
            out = out.replace(pq, "/<redacted>");
        }
        out
    }
}

impl fmt::Debug for SinkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SinkUrl(<redacted>)")
    }
}

/// A sink with its URL read.
#[derive(Clone, Debug)]
pub struct Sink {
    pub name: String,
    pub kind: SinkKind,
    pub url: SinkUrl,
    wants: Vec<NotifyEvent>,
}

impl Sink {
    pub fn wants(&self, e: NotifyEvent) -> bool {
        self.wants.contains(&e)
    }
}

/// Sinks some resources name, and where their URLs come from.
pub struct SinkList<'a> {
    pub named: Vec<&'a Notification>,
    pub secrets: &'a SecretValues,
}

impl<'a> SinkList<'a> {
    /// The target's sinks: the plan's, then the selection's.
    pub fn of_target(target: &'a Target) -> SinkList<'a> {
        SinkList {
            named: target
                .plan
                .notifications
                .iter()
                .chain(&target.selection.notifications)
                .collect(),
            secrets: &target.secrets,
        }
    }

    /// A plan's own sinks (a DataSync under Kubernetes names only its plan).
    pub fn of_plan(plan: &'a PortPlanSpec, secrets: &'a SecretValues) -> SinkList<'a> {
        SinkList {
            named: plan.notifications.iter().collect(),
            secrets,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.named.is_empty()
    }

    /// Each sink read; a sink that cannot be read is returned as an error,
    /// the others still serve.
    pub fn resolve(&self) -> Vec<Result<Sink, SinkError>> {
        self.named
            .iter()
            .map(|n| resolve(n, self.secrets))
            .collect()
    }
}

/// Whether the target names any sink.
pub fn has_sinks(target: &Target) -> bool {
    !target.plan.notifications.is_empty() || !target.selection.notifications.is_empty()
}

fn resolve(n: &Notification, secrets: &SecretValues) -> Result<Sink, SinkError> {
    let raw = read_url(n, secrets)?;
    let url = parse(&n.name, &raw)?;
    Ok(Sink {
        name: n.name.clone(),
        kind: n.kind,
        url,
        wants: NotifyEvent::ALL
            .into_iter()
            .filter(|e| n.wants(*e))
            .collect(),
    })
}

fn read_url(n: &Notification, secrets: &SecretValues) -> Result<Vec<u8>, SinkError> {
    let sink = n.name.clone();
    let u = &n.url;
    match secrets {
        SecretValues::Local => {
            if let Some(var) = &u.env {
                return std::env::var_os(var).map(|v| v.into_encoded_bytes()).ok_or(
                    SinkError::EnvMissing {
                        sink,
                        var: var.clone(),
                    },
                );
            }
            if let Some(file) = &u.file {
                return read_bounded(Path::new(file)).map_err(|e| SinkError::FileUnreadable {
                    sink,
                    file: file.clone(),
                    problem: match e {
                        FileProblem::Io(e) => e.to_string(),
                        FileProblem::NotAFile(kind) => format!("it is {kind}, not a regular file"),
                        FileProblem::TooLarge => "it is too large for a URL".to_string(),
                    },
                });
            }
            Err(match u.secret_key_ref {
                Some(_) => SinkError::NeedsCluster { sink },
                None => SinkError::NoSource { sink },
            })
        }
        SecretValues::Cluster(values) => {
            let Some(r) = &u.secret_key_ref else {
                let source_kind = if u.file.is_some() { "file" } else { "env" };
                return Err(SinkError::NotInCluster { sink, source_kind });
            };
            values.get(&(r.name.clone(), r.key.clone())).cloned().ok_or(
                SinkError::ClusterSecretMissing {
                    sink,
                    name: r.name.clone(),
                    key: r.key.clone(),
                },
            )
        }
    }
}

/// An http(s) URL with a host, from the secret's bytes (a trailing newline
/// of a file is dropped).
fn parse(sink: &str, raw: &[u8]) -> Result<SinkUrl, SinkError> {
    let refused = || SinkError::NotHttp {
        sink: sink.to_string(),
    };
    let text = std::str::from_utf8(raw).map_err(|_| refused())?.trim();
    let uri: hyper::Uri = text.parse().map_err(|_| refused())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err(refused());
    }
    Ok(SinkUrl(uri))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_with_a_host_are_taken() {
        for ok in [
            "http://127.0.0.1:25401/hook/SECRET",
            "https://hooks.example.com/services/T/B/X\n",
        ] {
            assert!(parse("ops", ok.as_bytes()).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "example.com/hook",
            "http://",
            "",
            "unix:///var/run/docker.sock",
        ] {
            let e = parse("ops", bad.as_bytes()).unwrap_err();
            assert!(matches!(e, SinkError::NotHttp { .. }), "{bad}");
            assert!(e.to_string().contains("sink ops"), "{e}");
        }
    }

    #[test]
    fn neither_debug_nor_redact_shows_the_url() {
        let url = parse("ops", b"http://127.0.0.1:1/hook/SECRET-TOKEN").unwrap();
        assert!(!format!("{url:?}").contains("SECRET"));
        let text = "error trying to connect to http://127.0.0.1:1/hook/SECRET-TOKEN (GET /hook/SECRET-TOKEN)";
        let clean = url.redact(text);
        assert!(!clean.contains("SECRET"), "{clean}");
    }

    #[test]
    fn each_mode_refuses_the_other_modes_source() {
        let n: Notification = serde_json::from_value(serde_json::json!({
            "name": "ops", "kind": "Webhook", "url": {"secretKeyRef": {"name": "s", "key": "k"}}
        }))
        .unwrap();
        let e = read_url(&n, &SecretValues::Local).unwrap_err();
        assert!(matches!(e, SinkError::NeedsCluster { .. }), "{e}");
        let n: Notification = serde_json::from_value(serde_json::json!({
            "name": "ops", "kind": "Webhook", "url": {"env": "HOME"}
        }))
        .unwrap();
        let values = std::sync::Arc::new(crate::core::target::SecretMap::new());
        let e = read_url(&n, &SecretValues::Cluster(values)).unwrap_err();
        assert!(matches!(e, SinkError::NotInCluster { .. }), "{e}");
    }
}
