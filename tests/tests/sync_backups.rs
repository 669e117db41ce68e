//! End-to-end: backups and `turnout restore` under trouble. A full disk
//! fails the sync before the target is touched and leaves no partial file;
//! a backup that does not hold what was recorded is refused; a restore
//! never replaces a running version's data; a swap left half-done is put
//! back before a restore.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use turnout_e2e::*;

/// The database server `db` (`engine` on `port`) and versions future and
/// dao, each a web service (on `base` and base+1) and its database
/// (`bk_future`, `bk_dao`); future selected, switches copy nothing.
fn plan(plan: &str, db: &str, engine: &str, port: u16, secret: &Path, base: u16) -> PlanBuilder {
    let image = if engine == "mariadb" {
        MARIADB
    } else {
        POSTGRES
    };
    let server = image.container(db, port, &format!("{plan}-data"), "db-root", secret);
    database_plan(
        plan,
        server.admin_secret("db-root"),
        "users",
        &[("future", base, "bk_future"), ("dao", base + 1, "bk_dao")],
    )
}

/// The plan's documents, selecting `active`; switches copy nothing.
fn selecting(plan: &PlanBuilder, active: &str) -> String {
    let selection = Selection::new("host", plan.name(), active).sync_on_switch(false);
    plan.clone().selection(selection).yaml()
}

struct Host {
    file: PathBuf,
    plan: PlanBuilder,
    data: PathBuf,
    state: PathBuf,
    dir: PathBuf,
    _cleanup: Cleanup,
}

impl Host {
    fn up(plan: &str, db: &str, engine: &str, port: u16, base: u16) -> Host {
        let image = if engine == "mariadb" {
            "turnout/mariadb:demo"
        } else {
            "turnout/postgres:demo"
        };
        require_docker(&[BUSYBOX, image]);
        let cleanup = Cleanup(plan.to_string());
        remove_plan_containers(plan);
        let dir = temp_dir(plan);
        let secret = dir.join("pw");
        std::fs::write(&secret, "backups-Pw-0d15c").expect("write the password");
        let file = dir.join("plan.yaml");
        let plan = self::plan(plan, db, engine, port, &secret, base);
        std::fs::write(&file, selecting(&plan, "future")).expect("write the plan");
        let host = Host {
            file,
            plan,
            data: dir.join("data"),
            state: dir.join("state"),
            dir,
            _cleanup: cleanup,
        };
        apply_file(&host.file, &host.data, &host.state);
        host
    }

    fn turnout(&self, args: &[&str]) -> Output {
        turnout_on(args, &self.file, &self.data, &self.state)
    }

    fn backups(&self, db: &str, database: &str) -> Vec<PathBuf> {
        let dir = self.data.join("backups").join(db).join(database);
        if !dir.exists() {
            return Vec::new();
        }
        backup_files(&dir)
    }
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(all_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A small tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).expect("mount point");
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .expect("mount runs");
        assert!(ok.success(), "mounting a tmpfs needs root");
        SmallDisk(at.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

const MDB: &str = "e2e-bk-mariadb";

fn mariadb(sql: &str) -> String {
    docker(&[
        "exec",
        MDB,
        "mariadb",
        "-uroot",
        "--batch",
        "--skip-column-names",
        "-e",
        sql,
    ])
}

/// The checksum and row count of table `t` of `db` (without the database's name).
fn checksum(db: &str) -> String {
    mariadb(&format!(
        "CHECKSUM TABLE {db}.t EXTENDED; SELECT COUNT(*) FROM {db}.t"
    ))
    .replace(&format!("{db}.t"), "t")
}

#[test]
fn backups_fail_cleanly_and_restores_check_what_they_put_back() {
    let host = Host::up("e2e-bk", MDB, "mariadb", 29308, 29031);
    mariadb(
        "SET SESSION max_recursive_iterations = 1000000; DROP DATABASE IF EXISTS bk_future; DROP DATABASE IF EXISTS bk_dao; DROP DATABASE IF EXISTS bk_dao__turnout_staging; CREATE DATABASE bk_future; CREATE DATABASE bk_dao;",
    );
    mariadb(
        "SET SESSION max_recursive_iterations = 1000000; CREATE TABLE bk_future.t (id INT PRIMARY KEY, v VARCHAR(100)); INSERT INTO bk_future.t WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) SELECT i, CONCAT('future ', i) FROM n;",
    );
    mariadb(
        "SET SESSION max_recursive_iterations = 1000000; CREATE TABLE bk_dao.t (id INT PRIMARY KEY, v VARCHAR(100)); INSERT INTO bk_dao.t WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000) SELECT i, REPEAT('d', 90) FROM n;",
    );
    let dao_before = checksum("bk_dao");

    // 1. A backup that does not fit: the sync fails before the target is touched.
    {
        let _disk = SmallDisk::mount(&host.data.join("backups"), "512k");
        let out = host.turnout(&["sync", "--from", "future", "--to", "dao"]);
        assert!(!out.status.success(), "{}", output_text(&out));
        assert!(
            output_text(&out).contains("BackupFailed"),
            "{}",
            output_text(&out)
        );
        assert_eq!(checksum("bk_dao"), dao_before, "the target was not touched");
        assert!(
            !mariadb("SHOW DATABASES").contains("__turnout"),
            "nothing was staged"
        );
        let left = all_files(&host.data.join("backups"));
        assert!(
            left.is_empty(),
            "no partial backup is left behind: {left:?}"
        );
    }

    // 2. With room, the sync backs dao up and copies.
    let out = host.turnout(&["sync", "--from", "future", "--to", "dao"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(checksum("bk_dao"), checksum("bk_future"));
    let backup = host.backups(MDB, "bk_dao").pop().expect("a backup of dao");
    let copied = checksum("bk_dao");

    // 3. A backup changed since it was taken is refused, the target kept.
    let tampered = backup.with_file_name("tampered.sql");
    let text = std::fs::read_to_string(&backup).expect("read the backup");
    assert!(text.contains("ddddd"), "the dump holds dao's rows");
    std::fs::write(&tampered, text.replacen("ddddd", "eeeee", 1)).expect("write");
    std::fs::copy(
        PathBuf::from(format!("{}.json", backup.display())),
        PathBuf::from(format!("{}.json", tampered.display())),
    )
    .expect("copy the record");
    let out = host.turnout(&["restore", "--backup", tampered.to_str().expect("utf-8")]);
    assert!(!out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("ChecksumMismatch"),
        "{}",
        output_text(&out)
    );
    assert_eq!(checksum("bk_dao"), copied, "the target was left as it was");
    // Without its record a backup is refused unless asked for.
    std::fs::remove_file(format!("{}.json", tampered.display())).expect("remove");
    let out = host.turnout(&["restore", "--backup", tampered.to_str().expect("utf-8")]);
    assert!(!out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("--no-verify"),
        "{}",
        output_text(&out)
    );
    std::fs::remove_file(&tampered).expect("remove");

    // 4. A restore never replaces the data of the version that runs.
    let dao_running = selecting(&host.plan, "dao");
    let running_file = host.dir.join("dao.yaml");
    std::fs::write(&running_file, dao_running).expect("write");
    apply_file(&running_file, &host.data, &host.state);
    let out = turnout_on(
        &["restore", "--backup", backup.to_str().expect("utf-8")],
        &running_file,
        &host.data,
        &host.state,
    );
    assert!(!out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("running"),
        "{}",
        output_text(&out)
    );
    assert_eq!(checksum("bk_dao"), copied);
    apply_file(&host.file, &host.data, &host.state);

    // 5. The real backup restores dao's previous rows exactly.
    let out = host.turnout(&["restore", "--backup", backup.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(checksum("bk_dao"), dao_before);
}

const PDB: &str = "e2e-bk-postgres";

fn psql(db: &str, sql: &str) -> String {
    docker(&[
        "exec",
        PDB,
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
    ])
}

#[test]
fn a_restore_first_puts_back_a_swap_left_half_done() {
    let host = Host::up("e2e-bkpg", PDB, "postgres", 29433, 29041);
    for db in [
        "bk_future",
        "bk_dao",
        "bk_dao__turnout_old",
        "bk_dao__turnout_staging",
    ] {
        psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        );
    }
    psql("postgres", "CREATE DATABASE bk_future");
    psql("postgres", "CREATE DATABASE bk_dao");
    psql(
        "bk_future",
        "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10)",
    );
    psql(
        "bk_dao",
        "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 3)",
    );
    let out = host.turnout(&["sync", "--from", "future", "--to", "dao"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let backup = host.backups(PDB, "bk_dao").pop().expect("a backup of dao");
    psql("bk_dao", "INSERT INTO t VALUES (11)");
    // A swap cut between its renames: the target set aside, none in its place.
    psql(
        "postgres",
        "ALTER DATABASE bk_dao RENAME TO bk_dao__turnout_old",
    );
    let out = host.turnout(&["restore", "--backup", backup.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        psql("bk_dao", "SELECT count(*) FROM t"),
        "3",
        "the backup is back"
    );
    assert_eq!(
        psql(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'bk_dao__turnout%'"
        ),
        "0",
        "nothing is left aside"
    );
    // What the half-done swap had set aside was put back, then backed up.
    let newest = host.backups(PDB, "bk_dao").pop().expect("a new backup");
    assert_ne!(newest, backup);
    let text = std::fs::read_to_string(&newest).expect("read");
    assert!(
        text.contains("\n11\n"),
        "the set-aside rows were backed up before the restore"
    );
}
