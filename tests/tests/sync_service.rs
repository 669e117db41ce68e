//! End-to-end: a service's own data (the shared services of the original
//! plan) moved with the plan's export/import argv, run as one-off
//! containers on the services' volumes.

use std::path::Path;
use std::process::Command;

use turnout_e2e::*;

const PLAN: &str = "e2e-svcsync";

/// What `future` exports its shared data with.
const CAT: &[&str] = &["cat", "/data/shared.json"];

/// Versions future and dao of plan `plan`, each a shared service
/// `<plan>-<v>-shared` (on base+1, base+2) whose data lives in its volume
/// and moves with the plan's own argv: `export_future` for future's, `cat`
/// for dao's. No selection.
fn service_plan(plan: &str, base: u16, export_future: &[&str]) -> PlanBuilder {
    let import = [
        "sh",
        "-c",
        "cat > /data/shared.json.new && mv /data/shared.json.new /data/shared.json",
    ];
    let version = |v: Version, port: u16, export: &[&str]| {
        let name = format!("{plan}-{}-shared", v.name());
        let volume = format!("{plan}-{}-data", v.name());
        v.range("shared", port, port)
            .container(
                httpd(&name)
                    .port_in(port, 8080, "shared")
                    .volume(&volume, "/data"),
            )
            .service_data("shared", &name, export, &import)
    };
    PlanBuilder::new(plan)
        .version("future", |v| version(v, base + 1, export_future))
        .version("dao", |v| version(v, base + 2, CAT))
}

/// The plan of the tests on `PLAN`, future selected.
fn plan_yaml(export_future: &[&str]) -> String {
    service_plan(PLAN, 24600, export_future)
        .select("future")
        .yaml()
}

fn volume_file(version: &str) -> String {
    let out = docker_raw(&[
        "run",
        "--rm",
        "-v",
        &format!("{PLAN}-{version}-data:/data"),
        BUSYBOX,
        "cat",
        "/data/shared.json",
    ]);
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn put_volume_file(version: &str, content: &str) {
    docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{PLAN}-{version}-data:/data"),
        BUSYBOX,
        "sh",
        "-c",
        &format!("printf '%s' '{content}' > /data/shared.json"),
    ]);
}

fn jobs_left() -> String {
    docker(&[
        "ps",
        "-a",
        "--filter",
        "label=dev.turnout.role=job",
        "--format",
        "{{.Names}}",
    ])
}

#[test]
fn service_data_round_trips_through_export_and_import() {
    require_docker(&[BUSYBOX]);
    let _cleanup = Cleanup(PLAN.to_string());
    remove_plan_containers(PLAN);
    let dir = temp_dir(PLAN);
    let file = dir.join("plan.yaml");
    std::fs::write(&file, plan_yaml(CAT)).unwrap();
    put_volume_file("future", r#"{"members":[1,2,3],"name":"ünïcødé"}"#);
    put_volume_file("dao", r#"{"old":true}"#);

    let (data, state) = (dir.join("data"), dir.join("state"));
    apply_file(&file, &data, &state);
    let turnout = |args: &[&str], f: &Path| turnout_on(args, f, &data, &state);

    // The source service is running, the target's is not: both work through one-off containers.
    let out = turnout(&["sync", "--from", "future", "--to", "dao"], &file);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(volume_file("dao"), volume_file("future"));
    assert!(
        jobs_left().is_empty(),
        "job containers were removed: {}",
        jobs_left()
    );
    let backups = backup_files(
        &data
            .join("backups")
            .join(format!("{PLAN}-dao-shared"))
            .join("shared"),
    )
    .len();
    assert_eq!(backups, 1, "the previous dao data was backed up");

    // A failing export fails the sync with its stderr, and leaves the target as it was.
    put_volume_file("dao", r#"{"kept":true}"#);
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        plan_yaml(&["sh", "-c", "echo export exploded >&2; exit 3"]),
    )
    .unwrap();
    let failed = turnout(
        &[
            "sync",
            "--from",
            "future",
            "--to",
            "dao",
            "--allow-overwrite-newer",
        ],
        &broken,
    );
    assert!(!failed.status.success());
    assert!(
        output_text(&failed).contains("export exploded") && output_text(&failed).contains("exit 3"),
        "{}",
        output_text(&failed)
    );
    assert_eq!(volume_file("dao"), r#"{"kept":true}"#);
    assert!(
        jobs_left().is_empty(),
        "job containers were removed: {}",
        jobs_left()
    );

    // The backup taken before the first copy puts dao's original data back.
    let dao_backups = data
        .join("backups")
        .join(format!("{PLAN}-dao-shared"))
        .join("shared");
    let first = backup_files(&dao_backups).into_iter().min().unwrap();
    let restored = turnout(
        &["restore", "--backup", first.to_str().expect("utf-8 path")],
        &file,
    );
    assert!(restored.status.success(), "{}", output_text(&restored));
    assert_eq!(volume_file("dao"), r#"{"old":true}"#);
}

#[test]
fn standalone_runs_each_datasync_once_and_records_the_ones_switches_create() {
    require_docker(&[BUSYBOX]);
    let plan = "e2e-dsync";
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let yaml = |active: &str| service_plan(plan, 24700, CAT).select(active).yaml();
    let datasync = format!(
        "---\napiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {{name: seed-dao}}\nspec: {{planRef: {plan}, from: future, to: dao}}\n"
    );
    let volume = |v: &str| {
        let out = docker_raw(&[
            "run",
            "--rm",
            "-v",
            &format!("{plan}-{v}-data:/data"),
            BUSYBOX,
            "cat",
            "/data/shared.json",
        ]);
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let put = |v: &str, content: &str| {
        docker(&[
            "run",
            "--rm",
            "-v",
            &format!("{plan}-{v}-data:/data"),
            BUSYBOX,
            "sh",
            "-c",
            &format!("printf '%s' '{content}' > /data/shared.json"),
        ]);
    };
    put("future", "first");
    put("dao", "old");
    let (file, status) = (dir.join("desired.yaml"), dir.join("status.json"));
    std::fs::write(&file, format!("{}{datasync}", yaml("future"))).unwrap();
    let mut child = Command::new(turnout_bin())
        .args(["standalone", "--file"])
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--status-file")
        .arg(&status)
        .args(["--listen", "127.0.0.1:24799", "--resync", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let read = || -> serde_json::Value {
        std::fs::read_to_string(&status)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    };
    let phase_of = |name: &str| -> Option<String> {
        read()["dataSyncs"]
            .as_array()?
            .iter()
            .find(|d| d["name"] == name)?["status"]["phase"]
            .as_str()
            .map(str::to_string)
    };
    let ran = wait_until(std::time::Duration::from_secs(60), || {
        phase_of("seed-dao").as_deref() == Some("Succeeded")
    });
    assert!(ran, "the DataSync ran: {}", read());
    assert_eq!(volume("dao"), "first");

    // Succeeded: never again, even with new source data and more reconciles
    // (two: the second begins after the first ran the file's DataSyncs).
    put("future", "second");
    let since = reconciles(24799);
    assert!(
        reconciled_since(24799, since, 2.0, std::time::Duration::from_secs(30)),
        "turnout reconciled on: {} after {since}",
        reconciles(24799)
    );
    assert_eq!(
        volume("dao"),
        "first",
        "a Succeeded DataSync does not run twice"
    );

    // A switch with syncOnSwitch creates its own DataSync, named from selection, from, to and generation.
    std::fs::write(&file, format!("{}{datasync}", yaml("dao"))).unwrap();
    let switched = wait_until(std::time::Duration::from_secs(60), || {
        read()["dataSyncs"].as_array().is_some_and(|a| {
            a.iter().any(|d| {
                d["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("host-future-to-dao-"))
                    && d["status"]["phase"] == "Succeeded"
            })
        }) && read()["status"]["activeVersion"] == "dao"
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(switched, "the switch's DataSync succeeded: {}", read());
    assert_eq!(
        volume("dao"),
        "second",
        "the switch copied future's latest data"
    );
}
