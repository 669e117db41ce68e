//! `turnout import`: describe a host built by hand as a plan a person can
//! review. Pure: the containers found on the engine (as plain data) go in,
//! the plan's YAML and the warnings come out.
//!
//! Containers are sorted into infrastructure and versions by name prefix.
//! Everything the schema can say is carried over (image, command, plain
//! environment, published ports with their ranges, every mount, health
//! checks as readiness probes); what it cannot is listed as a warning,
//! never dropped silently. Values that look like secrets are never written
//! out: they become `secrets` entries pointing at files the person fills.

mod emit;

use std::collections::BTreeMap;

pub use emit::{Names, to_yaml};
use turnout_crds::names::{container_name_problem, looks_secret};

/// A container as found on the engine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    pub name: String,
    /// The image as the container was created from (`Config.Image`).
    pub image: String,
    /// The command, when it differs from the image's default.
    pub command: Vec<String>,
    /// Environment the container sets beyond its image's.
    pub env: Vec<(String, String)>,
    pub ports: Vec<FoundPort>,
    pub mounts: Vec<FoundMount>,
    /// An exec readiness probe made from the container's health check.
    pub health: Option<Vec<String>>,
    pub stop_timeout: Option<u32>,
    pub running: bool,
    /// Settings the plan cannot express, each a sentence for a person.
    pub unsupported: Vec<String>,
    /// The container carries turnout's labels already.
    pub managed: bool,
}

/// A published port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundPort {
    pub host: u16,
    pub container: u16,
    pub udp: bool,
    /// The host address, when it is not every address.
    pub ip: Option<String>,
}

/// A mount, by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FoundMount {
    /// A Docker volume: named, or anonymous (a 64-hex name Docker chose).
    Volume {
        name: String,
        path: String,
        read_only: bool,
        anonymous: bool,
    },
    /// A host path.
    Bind {
        host: String,
        path: String,
        read_only: bool,
    },
    /// A tmpfs or anything else the plan cannot express.
    Other { kind: String, path: String },
}

/// How containers are sorted: infrastructure by prefix, versions by prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub infrastructure: Vec<String>,
    /// (version name, prefix). Empty: each remaining container's first
    /// dash-separated word names its version.
    pub versions: Vec<(String, String)>,
}

/// The containers sorted into the plan's places.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sorted {
    pub infrastructure: Vec<Found>,
    pub versions: BTreeMap<String, Vec<Found>>,
    /// Containers left out, and why.
    pub left_out: Vec<(String, String)>,
}

impl Layout {
    /// Sorts `found` (in name order) into infrastructure and versions.
    pub fn sort(&self, mut found: Vec<Found>) -> Sorted {
        found.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = Sorted::default();
        for f in found {
            if let Some(problem) = container_name_problem(&f.name) {
                // Its name goes into the plan and onto the host: never raw.
                let why = format!("its name is not one a plan may use: {problem}");
                out.left_out.push((f.name, why));
            } else if f.managed {
                let why = "it is turnout's already (it carries turnout's labels)";
                out.left_out.push((f.name, why.into()));
            } else if self.infrastructure.iter().any(|p| f.name.starts_with(p)) {
                out.infrastructure.push(f);
            } else if let Some(v) = self.version_of(&f.name) {
                out.versions.entry(v).or_default().push(f);
            } else {
                let why = "its name matches no infrastructure or version prefix".to_string();
                out.left_out.push((f.name, why));
            }
        }
        out
    }

    fn version_of(&self, name: &str) -> Option<String> {
        if self.versions.is_empty() {
            let word = name.split_once('-')?.0;
            return (!word.is_empty()).then(|| word.to_string());
        }
        self.versions
            .iter()
            .find(|(_, prefix)| name.starts_with(prefix.as_str()))
            .map(|(v, _)| v.clone())
    }
}

impl Sorted {
    /// The version whose containers run (the one with the most running),
    /// else the first.
    pub fn active_version(&self) -> Option<String> {
        self.versions
            .iter()
            .max_by_key(|(_, cs)| cs.iter().filter(|c| c.running).count())
            .filter(|(_, cs)| cs.iter().any(|c| c.running))
            .or_else(|| self.versions.iter().next())
            .map(|(v, _)| v.clone())
    }
}

/// Stands in for a secret's value: import keeps none in memory longer
/// than it takes to see that it is one.
pub const WITHHELD: &str = "<withheld: a secret>";

/// Whether an environment variable carries a secret: its name says so
/// (`*PASSWORD*`, `*TOKEN*`, ...) and it has a value, or its value is a URL
/// with a password in it (`postgres://app:pw@db/app`).
pub fn is_secret(name: &str, value: &str) -> bool {
    value == WITHHELD || (looks_secret(name) && !value.is_empty()) || has_credentials(value)
}

/// A URL whose user information holds a password.
fn has_credentials(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.rsplit_once('@').is_some_and(|(userinfo, _)| {
        userinfo
            .split_once(':')
            .is_some_and(|(_, password)| !password.is_empty())
    })
}

/// `env` with every secret's value replaced by [`WITHHELD`].
pub fn withhold_secrets(env: Vec<(String, String)>) -> Vec<(String, String)> {
    env.into_iter()
        .map(|(k, v)| {
            let v = if is_secret(&k, &v) {
                WITHHELD.to_string()
            } else {
                v
            };
            (k, v)
        })
        .collect()
}

/// Whether a command-line option names a secret: `--password`,
/// `--requirepass`, `--masterauth`, `--api-token`, ...
fn secret_option(option: &str) -> bool {
    let name = option.trim_start_matches('-').replace('-', "_");
    let upper = name.to_ascii_uppercase();
    option.starts_with('-')
        && (looks_secret(&name) || upper.ends_with("PASS") || upper.ends_with("AUTH"))
}

/// `argv` with every secret in it withheld: the value of a secret-looking
/// option (`--password=x`, `--requirepass x`) and any URL with a password.
/// Also the options (or positions) whose values were withheld.
pub fn withhold_secret_args(argv: &[String]) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::with_capacity(argv.len());
    let mut withheld = Vec::new();
    let mut value_next = false;
    for (i, arg) in argv.iter().enumerate() {
        if value_next && !arg.starts_with('-') {
            out.push(WITHHELD.to_string());
            value_next = false;
            continue;
        }
        value_next = false;
        if let Some((option, _)) = arg.split_once('=')
            && secret_option(option)
        {
            withheld.push(clean(option));
            out.push(format!("{option}={WITHHELD}"));
        } else if secret_option(arg) {
            withheld.push(clean(arg));
            value_next = true;
            out.push(arg.clone());
        } else if has_credentials(arg) {
            withheld.push(format!("argument {i} (a URL with a password)"));
            out.push(WITHHELD.to_string());
        } else {
            out.push(arg.clone());
        }
    }
    (out, withheld)
}

/// Text from the host made safe for one line of a YAML comment, a warning
/// or a log: control characters and line separators escaped (a newline
/// would end the comment and start YAML of the host's choosing), and cut
/// at 300 characters.
pub fn clean(text: &str) -> String {
    const KEEP: usize = 300;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == KEEP {
            out.push_str("...");
            break;
        }
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The database engine an image is for, guessed from its name.
pub fn engine_of(image: &str) -> Option<&'static str> {
    let name = image
        .rsplit('/')
        .next()
        .unwrap_or(image)
        .to_ascii_lowercase();
    let base = name.split([':', '@']).next().unwrap_or("");
    [
        ("mariadb", "mariadb"),
        ("mysql", "mysql"),
        ("postgres", "postgres"),
        ("redis", "redis"),
        ("neo4j", "neo4j"),
        ("elasticsearch", "elasticsearch"),
        ("weaviate", "weaviate"),
    ]
    .into_iter()
    .find(|(word, _)| base.contains(word))
    .map(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(name: &str, running: bool) -> Found {
        Found {
            name: name.into(),
            image: "img".into(),
            running,
            ..Default::default()
        }
    }

    #[test]
    fn containers_sort_by_prefix_and_the_running_version_is_active() {
        let layout = Layout {
            infrastructure: vec!["test-".into()],
            versions: Vec::new(),
        };
        let mut managed = found("dao-old", true);
        managed.managed = true;
        let sorted = layout.sort(vec![
            found("future-service-1", false),
            found("test-mysql", true),
            found("dao-service-1", true),
            found("dao-shared-service", true),
            found("lonely", true),
            found("future-bad\nname: x", true),
            managed,
        ]);
        assert_eq!(sorted.infrastructure.len(), 1);
        assert_eq!(
            sorted.versions.keys().collect::<Vec<_>>(),
            ["dao", "future"]
        );
        assert_eq!(sorted.active_version().as_deref(), Some("dao"));
        let left: Vec<&str> = sorted.left_out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(left, ["dao-old", "future-bad\nname: x", "lonely"]);
        assert!(
            sorted.left_out[1].1.contains(r"\n"),
            "{:?}",
            sorted.left_out
        );
    }

    #[test]
    fn secrets_are_told_by_name_or_by_a_password_in_a_url() {
        assert!(is_secret("API_TOKEN", "abc"));
        assert!(!is_secret("API_TOKEN", ""));
        assert!(is_secret("DATABASE_URL", "postgres://app:pw@db:5432/app"));
        assert!(is_secret("CACHE", "redis://:pw@cache/0"));
        assert!(!is_secret("UPSTREAM", "http://user@example.com/a:b@c"));
        assert!(!is_secret("UPSTREAM", "https://example.com/"));
        assert!(!is_secret("MYSQL_ROOT_PASSWORD_FILE", "/run/secrets/x"));
        let env = withhold_secrets(vec![
            ("API_TOKEN".into(), "abc".into()),
            ("MODE".into(), "prod".into()),
        ]);
        assert_eq!(env[0].1, WITHHELD);
        assert_eq!(env[1].1, "prod");
    }

    #[test]
    fn secrets_on_a_command_line_are_withheld() {
        let argv: Vec<String> = [
            "redis-server",
            "--requirepass",
            "hunter2",
            "--appendonly",
            "yes",
            "--db-password=pw",
            "postgres://app:pw2@db/app",
            "--token",
        ]
        .map(String::from)
        .to_vec();
        let (out, withheld) = withhold_secret_args(&argv);
        let text = out.join(" ");
        for secret in ["hunter2", "pw2", "=pw"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("--appendonly yes"), "{text}");
        assert_eq!(withheld.len(), 4, "{withheld:?}");
        assert_eq!(out.len(), argv.len());
    }

    #[test]
    fn host_text_cannot_break_out_of_a_line() {
        assert_eq!(clean("a\nb: c\u{2028}\t"), r"a\nb: c\u{2028}\t");
        assert_eq!(clean(&"x".repeat(400)).len(), 303);
    }

    #[test]
    fn explicit_version_prefixes_win() {
        let layout = Layout {
            infrastructure: vec!["db-".into()],
            versions: vec![("v1".into(), "old-".into()), ("v2".into(), "new-".into())],
        };
        let sorted = layout.sort(vec![found("old-web", true), found("new-web", false)]);
        assert_eq!(sorted.versions["v1"][0].name, "old-web");
        assert_eq!(sorted.versions["v2"][0].name, "new-web");
    }

    #[test]
    fn engines_are_guessed_from_image_names() {
        assert_eq!(engine_of("mariadb:10.11"), Some("mariadb"));
        assert_eq!(engine_of("docker.io/library/postgres:15"), Some("postgres"));
        assert_eq!(engine_of("turnout/redis:demo"), Some("redis"));
        assert_eq!(
            engine_of("registry:5000/team/mysql-server@sha256:ab"),
            Some("mysql")
        );
        assert_eq!(engine_of("busybox"), None);
    }
}
