//! One environment of the promotion test: its plan file, its engine and
//! turnout's directories on its host; turnout run as on that host, and its
//! MariaDB and PostgreSQL read from outside turnout.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use turnout_e2e::*;

use super::LOCAL_ENGINE;

/// `docker` against `engine` (None: the usual one).
pub fn docker_on(engine: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new("docker");
    if let Some(e) = engine {
        c.args(["-H", e]);
    }
    c.args(args).output().expect("the docker CLI is installed")
}

/// One environment: its plan file, engine, and turnout's directories on
/// its host.
pub struct Env {
    pub plan: &'static str,
    pub engine: Option<String>,
    pub file: PathBuf,
    pub data: PathBuf,
    pub state: PathBuf,
}

impl Env {
    pub fn new(dir: &Path, plan: &'static str, engine: Option<String>, yaml: String) -> Env {
        let home = dir.join(plan);
        std::fs::create_dir_all(&home).expect("the environment's directory");
        let file = home.join("plan.yaml");
        std::fs::write(&file, yaml).expect("write the plan");
        Env {
            plan,
            engine,
            file,
            data: home.join("data"),
            state: home.join("state"),
        }
    }

    pub fn mariadb(&self) -> String {
        format!("{}-mariadb", self.plan)
    }

    pub fn postgres(&self) -> String {
        format!("{}-postgres", self.plan)
    }

    /// `turnout [--engine E] ARGS FILE --data-dir --state-dir`, as run on
    /// this environment's host.
    pub fn turnout(&self, args: &[&str]) -> Command {
        let mut c = Command::new(turnout_bin());
        if let Some(e) = &self.engine {
            c.args(["--engine", e]);
        }
        c.args(args)
            .arg(&self.file)
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--state-dir")
            .arg(&self.state)
            .env_remove("DOCKER_HOST");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.turnout(args).output().expect("turnout runs")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "turnout {args:?} on {}: {}",
            self.plan,
            output_text(&out)
        );
        output_text(&out)
    }

    /// `turnout sync` into this environment from `source`'s version `from`
    /// on `source`'s engine.
    pub fn promote(&self, source: &Env, from: &str, to: &str, extra: &[&str]) -> Command {
        let source_engine = source.engine.clone().unwrap_or(LOCAL_ENGINE.into());
        let mut args = vec![
            "sync",
            "--source-engine",
            &source_engine,
            "--source-plan",
            source.file.to_str().expect("a UTF-8 path"),
            "--from",
            from,
            "--to",
            to,
        ];
        args.extend_from_slice(extra);
        self.turnout(&args)
    }

    pub fn sql(&self, statement: &str) -> String {
        mariadb_on(self.engine.as_deref(), &self.mariadb(), statement)
    }

    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = docker_on(
            self.engine.as_deref(),
            &[
                "exec",
                &self.postgres(),
                "psql",
                "-U",
                "postgres",
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                db,
                "-c",
                sql,
            ],
        );
        assert!(out.status.success(), "{sql}: {}", output_text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Per-table row counts and checksums of MariaDB database `db`, as the
    /// server reports them ("" when it does not exist).
    pub fn maria_contents(&self, db: &str) -> String {
        let tables = self.sql(&format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='{db}' AND TABLE_TYPE='BASE TABLE' ORDER BY TABLE_NAME"
        ));
        tables
            .lines()
            .map(|t| {
                let sum = self.sql(&format!("CHECKSUM TABLE `{db}`.`{t}` EXTENDED"));
                let rows = self.sql(&format!("SELECT COUNT(*) FROM `{db}`.`{t}`"));
                format!("{t} {rows} {}", sum.split('\t').nth(1).unwrap_or("?"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Row counts and a hash of every row of PostgreSQL database `db`.
    pub fn pg_contents(&self, db: &str) -> String {
        let tables = self.psql(
            db,
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        );
        tables
            .lines()
            .map(|t| self.psql(db, &format!("SELECT '{t}', count(*), md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM {t} x")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
