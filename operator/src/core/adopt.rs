//! Adoption, the pure part: whether a container built by hand (a planned
//! name, no turnout labels) may be taken over. It may when the plan allows
//! it and the container runs the plan's image on exactly the plan's data
//! mounts, so turnout's container, made in its place, sees the same data.
//! Anything else refuses, saying what differs; nothing is touched then.

use std::collections::BTreeMap;

use serde::Serialize;
use turnout_crds::plan::ContainerSpec;

/// A container with a planned name that turnout did not make, as inspected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub name: String,
    /// The image it was created from, as given (`Config.Image`).
    pub image: String,
    /// The id of that image, and of the plan's image, when the engine knows them.
    pub image_id: Option<String>,
    pub plan_image_id: Option<String>,
    pub mounts: Vec<Mount>,
    pub running: bool,
}

/// A data mount of a candidate, by its path in the container.
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
    fn path(&self) -> &str {
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
pub fn refusal(spec: &ContainerSpec, c: &Candidate) -> Option<String> {
    let same_image = c.image == spec.image
        || matches!((&c.image_id, &c.plan_image_id), (Some(a), Some(b)) if a == b);
    if !same_image {
        return Some(format!(
            "it runs image {}, the plan says {}; adopting it would change what runs on its data",
            c.image, spec.image
        ));
    }
    let want = planned(spec);
    let mut have = BTreeMap::new();
    for m in c
        .mounts
        .iter()
        .filter(|m| !matches!(m, Mount::Other { .. }))
    {
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

/// The name an adopted original is kept under.
pub fn kept_name(name: &str) -> String {
    format!("{name}.pre-turnout")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ContainerSpec {
        serde_json::from_value(serde_json::json!({
            "name": "test-mysql", "image": "mariadb:10",
            "volumes": [{"name": "0123abcd", "path": "/var/lib/mysql"}],
            "binds": [{"host": "/srv/conf/", "path": "/etc/mysql/conf.d", "readOnly": true}]
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn candidate() -> Candidate {
        Candidate {
            name: "test-mysql".into(),
            image: "mariadb:10".into(),
            image_id: Some("sha256:1".into()),
            plan_image_id: Some("sha256:1".into()),
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
            running: true,
        }
    }

    #[test]
    fn the_same_image_on_the_same_data_may_be_adopted() {
        assert_eq!(refusal(&spec(), &candidate()), None);
        let mut by_id = candidate();
        by_id.image = "docker.io/library/mariadb:10".into();
        assert_eq!(refusal(&spec(), &by_id), None, "same image id, other name");
    }

    #[test]
    fn anything_else_is_refused_saying_what_differs() {
        let mut other_image = candidate();
        other_image.image = "mysql:8".into();
        other_image.image_id = Some("sha256:2".into());
        assert!(refusal(&spec(), &other_image).is_some_and(|w| w.contains("mysql:8")));

        let mut missing = candidate();
        missing.mounts.remove(0);
        assert!(refusal(&spec(), &missing).is_some_and(|w| w.contains("/var/lib/mysql")));

        let mut other_volume = candidate();
        other_volume.mounts[0] = Mount::Volume {
            name: "fresh".into(),
            path: "/var/lib/mysql".into(),
        };
        assert!(refusal(&spec(), &other_volume).is_some_and(|w| w.contains("volume fresh")));

        let mut extra = candidate();
        extra.mounts.push(Mount::Volume {
            name: "logs".into(),
            path: "/var/log/mysql".into(),
        });
        assert!(refusal(&spec(), &extra).is_some_and(|w| w.contains("not in the plan")));
    }
}
