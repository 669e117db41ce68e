//! Building the hand-made host: its files, its databases (waited for and
//! filled), its services; and clearing what a failed run left first.

use super::data;
use super::run::{docker_ok, docker_try, wait_ready};
use super::{HEALTH_CMD, HandMade, MYSQL_DATABASE, POSTGRES_DATABASE, READY, SERVICES, VERSIONS};

/// A busybox web server, as the services run it.
const HTTPD: [&str; 7] = [
    "turnout/busybox:demo",
    "httpd",
    "-f",
    "-p",
    "8080",
    "-h",
    "/www",
];

/// The names of the 64-hex (anonymous) volumes `container` mounts; none
/// when it does not exist.
fn anonymous_volumes_of(container: &str) -> Vec<String> {
    let format = "{{range .Mounts}}{{.Name}} {{end}}";
    let out = docker_try(&["inspect", "-f", format, container]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
        .collect()
}

impl HandMade {
    /// What a failed run with this prefix left: its containers, MariaDB's
    /// anonymous volume (read from the leftover container before it goes),
    /// the named volume, the Redis data.
    pub(super) fn clear_leftovers(&mut self) {
        let mysql = self.name("test-mysql");
        let mut volumes = anonymous_volumes_of(&mysql);
        volumes.extend(anonymous_volumes_of(&format!("{mysql}.pre-turnout")));
        self.anonymous_volume.clear();
        self.cleanup();
        for v in volumes {
            let _ = docker_try(&["volume", "rm", &v]);
        }
        let _ = std::fs::remove_dir_all(self.redis_dir());
    }

    /// The password files, the services' env file (all 0600), the Redis
    /// data directory.
    pub(super) fn write_files(&self) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(self.redis_dir()).expect("the Redis data directory");
        for (file, text) in [
            ("mysql-root", format!("mysql-root-{}", std::process::id())),
            ("pg-password", format!("pg-password-{}", std::process::id())),
            (
                "service.env",
                format!("API_TOKEN={}\nMODE=handmade\n", self.api_token),
            ),
        ] {
            let path = self.dir.join(file);
            std::fs::write(&path, text).expect("a file of the hand-made host");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .expect("a private file");
        }
    }

    /// `docker run -d` (or `docker create`, stopped) of `short` publishing
    /// `container_port` on its host port, with `args` (options, image, command).
    fn container(&self, verb: &str, short: &str, container_port: u16, args: &[&str]) {
        let name = self.name(short);
        let port = format!("{}:{container_port}", self.port(short));
        let mut all = vec![verb];
        if verb == "run" {
            all.push("-d");
        }
        all.extend(["--name", &name, "-p", &port]);
        all.extend_from_slice(args);
        docker_ok(&all);
    }

    pub(super) fn run_databases(&mut self) {
        let secret =
            |file: &str| format!("{}:/run/secrets/{file}:ro", self.dir.join(file).display());
        let (mysql_secret, pg_secret) = (secret("mysql-root"), secret("pg-password"));
        let mysql_db = format!("MARIADB_DATABASE={MYSQL_DATABASE}");
        self.container(
            "run",
            "test-mysql",
            3306,
            &[
                "-v",
                "/var/lib/mysql",
                "-v",
                &mysql_secret,
                "-e",
                "MARIADB_ROOT_PASSWORD_FILE=/run/secrets/mysql-root",
                "-e",
                &mysql_db,
                "turnout/mariadb:demo",
            ],
        );
        let mysql = self.name("test-mysql");
        let only =
            "{{range .Mounts}}{{if eq .Destination \"/var/lib/mysql\"}}{{.Name}}{{end}}{{end}}";
        self.anonymous_volume = docker_ok(&["inspect", "-f", only, &mysql]);
        let pg_volume = format!("{}:/var/lib/postgresql/data", self.named_volume());
        let pg_db = format!("POSTGRES_DB={POSTGRES_DATABASE}");
        self.container(
            "run",
            "test-postgres",
            5432,
            &[
                "-v",
                &pg_volume,
                "-v",
                &pg_secret,
                "-e",
                "POSTGRES_PASSWORD_FILE=/run/secrets/pg-password",
                "-e",
                &pg_db,
                "turnout/postgres:demo",
            ],
        );
        let redis_bind = format!("{}:/data", self.redis_dir().display());
        self.container(
            "run",
            "test-redis",
            6379,
            &["-v", &redis_bind, "turnout/redis:demo"],
        );
        let (postgres, redis) = (self.name("test-postgres"), self.name("test-redis"));
        for db in [&mysql, &postgres, &redis] {
            wait_ready(db, READY);
        }
        data::fill_mysql(&mysql);
        data::fill_postgres(&postgres);
        data::fill_redis(&redis);
    }

    /// Elasticsearch's stand-in and every version's services: future's
    /// run, the others' are created stopped.
    pub(super) fn run_services(&self) {
        self.container("run", "test-elasticsearch", 8080, &HTTPD);
        let env_file = self.dir.join("service.env").display().to_string();
        for v in VERSIONS {
            let verb = if v == "future" { "run" } else { "create" };
            for (s, _) in SERVICES {
                let mut args: Vec<&str> = match (v, s) {
                    ("future", "service-1") => vec!["--health-cmd", HEALTH_CMD],
                    ("future", "service-2") => vec!["--env-file", &env_file],
                    ("future", "shared-service") => vec!["--restart", "unless-stopped"],
                    _ => Vec::new(),
                };
                args.extend(HTTPD);
                self.container(verb, &format!("{v}-{s}"), 8080, &args);
            }
        }
    }
}
