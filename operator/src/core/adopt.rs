//! Adoption, the pure part: whether a container built by hand (a planned
//! name, no turnout labels) may be taken over. It may when the plan allows
//! it and the container runs the plan's image on exactly the plan's data
//! mounts, so turnout's container, made in its place, sees the same data.
//! Anything else refuses, saying what differs; nothing is touched then.

use std::collections::BTreeMap;

use serde::Serialize;
use turnout_crds::plan::ContainerSpec;

use super::model::{LABEL_PLAN, ObservedContainer};

/// A mount of a container, by its path in the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Mount {
    Volume {
        name: String,
        path: String,
    },
    Bind {
        host: String,
        path: String,
    },
    /// tmpfs and the like: nothing to keep, nothing to match.
    Other {
        path: String,
    },
}

impl Mount {
    pub fn path(&self) -> &str {
        match self {
            Mount::Volume { path, .. } | Mount::Bind { path, .. } | Mount::Other { path } => path,
        }
    }

    /// What the data is, for a person: `volume x`, `bind /srv/y`.
    pub fn source(&self) -> String {
        match self {
            Mount::Volume { name, .. } => format!("volume {name}"),
            Mount::Bind { host, .. } => format!("host path {host}"),
            Mount::Other { .. } => "a temporary mount".to_string(),
        }
    }
}

/// The data mounts the plan gives `spec`, by path (secrets are turnout's
/// files and are not data).
fn planned(spec: &ContainerSpec) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = spec
        .volumes
        .iter()
        .map(|v| {
            (
                v.path.trim_end_matches('/').to_string(),
                format!("volume {}", v.name),
            )
        })
        .collect();
    m.extend(spec.binds.iter().map(|b| {
        (
            b.path.trim_end_matches('/').to_string(),
            format!("host path {}", b.host.trim_end_matches('/')),
        )
    }));
    m
}

/// Why `c` may not be adopted as `spec`, or None when it may.
/// `plan_image` is the id of the plan's image on the host, when present.
pub fn refusal(
    spec: &ContainerSpec,
    c: &ObservedContainer,
    plan_image: Option<&str>,
) -> Option<String> {
    if c.is_turnouts() {
        return Some(format!(
            "it is turnout's, for plan {}; turnout adopts only containers made by hand",
            c.labels.get(LABEL_PLAN).map_or("?", String::as_str)
        ));
    }
    let same_image =
        c.image == spec.image || matches!((&c.image_id, plan_image), (Some(a), Some(b)) if a == b);
    if !same_image {
        return Some(format!(
            "it runs image {}, the plan says {}; adopting it would change what runs on its data",
            c.image, spec.image
        ));
    }
    let want = planned(spec);
    let mut have = BTreeMap::new();
    // A file the original had at a path where the plan puts a secret is
    // configuration: turnout's container gets the secret file there instead.
    let secret_paths: Vec<&str> = spec
        .secrets
        .iter()
        .map(|s| s.path.trim_end_matches('/'))
        .collect();
    for m in c.mounts.iter().filter(|m| {
        !matches!(m, Mount::Other { .. }) && !secret_paths.contains(&m.path().trim_end_matches('/'))
    }) {
        let source = match m {
            Mount::Bind { host, .. } => format!("host path {}", host.trim_end_matches('/')),
            other => other.source(),
        };
        have.insert(m.path().trim_end_matches('/').to_string(), source);
    }
    for (path, source) in &have {
        match want.get(path) {
            None => {
                return Some(format!(
                    "its {source} at {path} is not in the plan; turnout's container would not see that data"
                ));
            }
            Some(w) if w != source => {
                return Some(format!(
                    "it keeps {path} on {source}, the plan on {w}; turnout's container would see other data"
                ));
            }
            Some(_) => {}
        }
    }
    want.iter()
        .find(|(path, _)| !have.contains_key(*path))
        .map(|(path, w)| {
            format!("the plan mounts {w} at {path}, which it does not have; its data there would be left behind")
        })
}

/// What the container adopted as `spec` keeps, for a person:
/// `volume a at /var/lib/mysql, host path /srv/x at /data`.
pub fn keeps(spec: &ContainerSpec) -> String {
    let kept: Vec<String> = planned(spec)
        .into_iter()
        .map(|(path, source)| format!("{source} at {path}"))
        .collect();
    if kept.is_empty() {
        "no data mounts".to_string()
    } else {
        kept.join(", ")
    }
}

/// The name an adopted original is kept under.
pub fn kept_name(name: &str) -> String {
    format!("{name}.pre-turnout")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{LABEL_MANAGED_BY, MANAGED_BY, RunState};

    fn spec() -> ContainerSpec {
        serde_json::from_value(serde_json::json!({
            "name": "test-mysql", "image": "mariadb:10",
            "volumes": [{"name": "0123abcd", "path": "/var/lib/mysql"}],
            "binds": [{"host": "/srv/conf/", "path": "/etc/mysql/conf.d", "readOnly": true}]
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn candidate() -> ObservedContainer {
        ObservedContainer {
            id: "c1".into(),
            name: "test-mysql".into(),
            image: "mariadb:10".into(),
            image_id: Some("sha256:1".into()),
            labels: Default::default(),
            ports: Vec::new(),
            mounts: vec![
                Mount::Volume {
                    name: "0123abcd".into(),
                    path: "/var/lib/mysql".into(),
                },
                Mount::Bind {
                    host: "/srv/conf".into(),
                    path: "/etc/mysql/conf.d/".into(),
                },
                Mount::Other {
                    path: "/tmp".into(),
                },
            ],
            state: RunState::Running,
        }
    }

    const PLAN_IMAGE: Option<&str> = Some("sha256:1");

    #[test]
    fn the_same_image_on_the_same_data_may_be_adopted() {
        assert_eq!(refusal(&spec(), &candidate(), PLAN_IMAGE), None);
        let mut by_id = candidate();
        by_id.image = "docker.io/library/mariadb:10".into();
        assert_eq!(
            refusal(&spec(), &by_id, PLAN_IMAGE),
            None,
            "same image id, other name"
        );
    }

    #[test]
    fn anything_else_is_refused_saying_what_differs() {
        let mut other_image = candidate();
        other_image.image = "mysql:8".into();
        other_image.image_id = Some("sha256:2".into());
        assert!(refusal(&spec(), &other_image, PLAN_IMAGE).is_some_and(|w| w.contains("mysql:8")));

        let mut missing = candidate();
        missing.mounts.remove(0);
        assert!(
            refusal(&spec(), &missing, PLAN_IMAGE).is_some_and(|w| w.contains("/var/lib/mysql"))
        );

        let mut other_volume = candidate();
        other_volume.mounts[0] = Mount::Volume {
            name: "fresh".into(),
            path: "/var/lib/mysql".into(),
        };
        assert!(
            refusal(&spec(), &other_volume, PLAN_IMAGE).is_some_and(|w| w.contains("volume fresh"))
        );

        let mut extra = candidate();
        extra.mounts.push(Mount::Volume {
            name: "logs".into(),
            path: "/var/log/mysql".into(),
        });
        assert!(
            refusal(&spec(), &extra, PLAN_IMAGE).is_some_and(|w| w.contains("not in the plan"))
        );
    }

    #[test]
    fn a_file_where_the_plan_puts_a_secret_is_not_data() {
        let mut spec = spec();
        spec.secrets = serde_json::from_value(serde_json::json!([
            {"name": "root", "path": "/run/secrets/root", "from": {"file": "/etc/turnout/root"}}
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut c = candidate();
        c.mounts.push(Mount::Bind {
            host: "/home/ops/root.txt".into(),
            path: "/run/secrets/root".into(),
        });
        assert_eq!(refusal(&spec, &c, PLAN_IMAGE), None);
    }

    #[test]
    fn a_container_of_another_turnout_plan_is_never_adopted() {
        let mut c = candidate();
        c.labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY.into());
        c.labels.insert(LABEL_PLAN.into(), "other".into());
        assert!(refusal(&spec(), &c, PLAN_IMAGE).is_some_and(|w| w.contains("plan other")));
    }

    #[test]
    fn what_an_adopted_container_keeps_is_said_plainly() {
        assert_eq!(
            keeps(&spec()),
            "host path /srv/conf at /etc/mysql/conf.d, volume 0123abcd at /var/lib/mysql"
        );
    }
}
