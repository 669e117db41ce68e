//! A host built by hand, the way turnout's users ran theirs before turnout:
//! plain `docker run` without turnout's labels, shared databases with their
//! data in an anonymous volume (MariaDB), a named volume (PostgreSQL) and a
//! bind mount (Redis), and three versions of busybox services switched by
//! the original shell script (tests/fixtures/handmade-switch.sh), which
//! stops the other versions and starts the chosen one.
//!
//! ```text
//! {prefix}test-mysql          base+206   anonymous volume at /var/lib/mysql, password file bound read-only
//! {prefix}test-postgres       base+232   named volume {prefix}pgdata
//! {prefix}test-redis          base+279   bind mount DIR/redis-data at /data
//! {prefix}test-elasticsearch  base+100   a busybox stand-in
//! {prefix}future-service-1..3 base+1..3  (service-1 has a health check)
//! {prefix}future-shared-service base+10  (restart policy unless-stopped)
//! {prefix}dao-service-1..3    base+21..23, dao-shared-service base+40
//! {prefix}blockchain-service-1..3 base+51..53,
//! {prefix}blockchain-shared-service base+100: the original plan's clash
//!                             with Elasticsearch, reproduced
//! ```
//!
//! Every port lies in base..base+299. After [`HandMade::build`], `future`
//! runs and dao and blockchain exist stopped (blockchain could not start:
//! its shared service's port is Elasticsearch's). `future-service-2` has
//! `API_TOKEN` in its environment (given through an env file, never an
//! argv). A test owns what it builds: [`HandMade::cleanup`] (also on drop)
//! removes exactly the builder's containers, any `NAME.pre-turnout` kept by
//! an adoption, and the builder's two volumes.

mod build;
mod data;
mod run;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use data::{MYSQL_DATABASE, POSTGRES_DATABASE};
use run::docker_try;

/// The versions of the hand-made host, in the original plan's order.
pub const VERSIONS: [&str; 3] = ["future", "dao", "blockchain"];

/// The services of each version: (name after the version, port offset from
/// the version's first port).
const SERVICES: [(&str, u16); 4] = [
    ("service-1", 1),
    ("service-2", 2),
    ("service-3", 3),
    ("shared-service", 0),
];

/// (version, offset of its services, offset of its shared service).
const VERSION_PORTS: [(&str, u16, u16); 3] =
    [("future", 0, 10), ("dao", 20, 40), ("blockchain", 50, 100)];

/// Infrastructure: (name after the prefix, port offset).
const INFRASTRUCTURE: [(&str, u16); 4] = [
    ("test-mysql", 206),
    ("test-postgres", 232),
    ("test-redis", 279),
    ("test-elasticsearch", 100),
];

/// How long a database server may take to be ready (first start included).
const READY: Duration = Duration::from_secs(180);

/// The health check `future-service-1` was given (`--health-cmd`).
pub const HEALTH_CMD: &str = "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1";

/// Fingerprints of the host's data, to compare before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checksums {
    /// `CHECKSUM TABLE future_users.users`.
    pub mysql: String,
    /// Row count and md5 of `future_accounts.accounts` in id order.
    pub postgres: String,
    /// Every Redis key, its type and value.
    pub redis: String,
}

/// A host built by hand, owned by one test.
#[derive(Debug)]
pub struct HandMade {
    prefix: String,
    base: u16,
    dir: PathBuf,
    anonymous_volume: String,
    api_token: String,
}

impl HandMade {
    /// Builds the host with plain `docker run` (after removing what a
    /// failed run with the same prefix left), fills the databases and
    /// waits until they are ready. `dir` holds the password files and the
    /// Redis data; `base_port..base_port+299` must be free.
    pub fn build(prefix: &str, base_port: u16, dir: &Path) -> HandMade {
        let mut host = HandMade {
            prefix: prefix.to_string(),
            base: base_port,
            dir: dir.to_path_buf(),
            anonymous_volume: String::new(),
            api_token: format!("handmade-token-{}-{base_port}", std::process::id()),
        };
        host.clear_leftovers();
        host.write_files();
        host.run_databases();
        host.run_services();
        host
    }

    /// `{prefix}{name}`: the full name of a container of this host.
    pub fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The full names of the infrastructure containers.
    pub fn infrastructure(&self) -> Vec<String> {
        INFRASTRUCTURE.iter().map(|(n, _)| self.name(n)).collect()
    }

    /// The full names of `version`'s containers.
    pub fn version_containers(&self, version: &str) -> Vec<String> {
        SERVICES
            .iter()
            .map(|(s, _)| self.name(&format!("{version}-{s}")))
            .collect()
    }

    /// Every container the builder made, infrastructure first.
    pub fn containers(&self) -> Vec<String> {
        let versions = VERSIONS.iter().flat_map(|v| self.version_containers(v));
        self.infrastructure().into_iter().chain(versions).collect()
    }

    /// The host port `name` (after the prefix, e.g. `test-mysql`,
    /// `dao-shared-service`) publishes.
    pub fn port(&self, name: &str) -> u16 {
        if let Some((_, off)) = INFRASTRUCTURE.iter().find(|(n, _)| *n == name) {
            return self.base + off;
        }
        for (v, services, shared) in VERSION_PORTS {
            for (s, off) in SERVICES {
                if name == format!("{v}-{s}") {
                    return self.base + if off == 0 { shared } else { services + off };
                }
            }
        }
        panic!("the hand-made host has no container {name:?}")
    }

    /// The flags that sort this host's containers for `turnout import`:
    /// `--infra-prefix {prefix}test-` and `--version V={prefix}V-` for each
    /// version.
    pub fn import_args(&self) -> Vec<String> {
        let mut args = vec!["--infra-prefix".to_string(), self.name("test-")];
        for v in VERSIONS {
            args.push("--version".to_string());
            args.push(format!("{v}={}", self.name(&format!("{v}-"))));
        }
        args
    }

    /// The Docker-made name of MariaDB's anonymous data volume.
    pub fn anonymous_volume(&self) -> &str {
        &self.anonymous_volume
    }

    /// PostgreSQL's named data volume.
    pub fn named_volume(&self) -> String {
        self.name("pgdata")
    }

    /// The host directory bound at /data in the Redis container.
    pub fn redis_dir(&self) -> PathBuf {
        self.dir.join("redis-data")
    }

    /// The host file bound read-only at /run/secrets/mysql-root.
    pub fn mysql_password_file(&self) -> PathBuf {
        self.dir.join("mysql-root")
    }

    /// The secret-looking value of `future-service-2`'s `API_TOKEN`.
    pub fn api_token(&self) -> &str {
        &self.api_token
    }

    /// The original switch script.
    pub fn switch_script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/handmade-switch.sh")
    }

    /// Runs the original switch script to `version`; fails the test when
    /// the script fails.
    pub fn switch(&self, version: &str) {
        let script = Self::switch_script().display().to_string();
        let out = run::run_raw(
            "sh",
            &[&script, version, &self.prefix],
            b"",
            Duration::from_secs(120),
        );
        assert!(
            out.status.success(),
            "handmade-switch.sh {version} {}: {}",
            self.prefix,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn mysql_checksum(&self) -> String {
        data::mysql_checksum(&self.name("test-mysql"))
    }

    pub fn postgres_checksum(&self) -> String {
        data::postgres_checksum(&self.name("test-postgres"))
    }

    pub fn redis_contents(&self) -> String {
        data::redis_contents(&self.name("test-redis"))
    }

    /// All three fingerprints (the databases must be running).
    pub fn checksums(&self) -> Checksums {
        Checksums {
            mysql: self.mysql_checksum(),
            postgres: self.postgres_checksum(),
            redis: self.redis_contents(),
        }
    }

    /// Removes the builder's containers (and any `NAME.pre-turnout`) and
    /// its two volumes; nothing else. Safe to call twice.
    pub fn cleanup(&self) {
        for name in self.containers() {
            for n in [name.clone(), format!("{name}.pre-turnout")] {
                let _ = docker_try(&["rm", "-f", &n]);
            }
        }
        for v in [self.named_volume(), self.anonymous_volume.clone()] {
            if !v.is_empty() {
                let _ = docker_try(&["volume", "rm", &v]);
            }
        }
    }
}

impl Drop for HandMade {
    fn drop(&mut self) {
        self.cleanup();
    }
}
