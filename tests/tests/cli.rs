//! The command line on files alone (no engine needed).

use std::process::Command;

use turnout_e2e::{PlanBuilder, container, temp_dir, turnout_bin};

/// A plan in environment `env` at `stage`: a MariaDB and versions future
/// and dao, each with its own database on it.
fn plan(name: &str, env: &str, stage: &str) -> String {
    PlanBuilder::new(name)
        .environment(env, stage)
        .infrastructure(container("db", "m").engine("mariadb"))
        .version("future", |v| v.database("users", "db", "future_users"))
        .version("dao", |v| v.database("users", "db", "dao_users"))
        .yaml()
}

#[test]
fn sync_refuses_to_move_data_back_to_an_earlier_stage_before_touching_anything() {
    let dir = temp_dir("cli-promotion");
    let (prod, local) = (dir.join("prod.yaml"), dir.join("local.yaml"));
    std::fs::write(&prod, plan("prod", "production", "prod")).unwrap();
    std::fs::write(&local, plan("local", "local", "dev")).unwrap();
    let out = Command::new(turnout_bin())
        .args(["sync", "--from", "future", "--to", "dao", "--source-plan"])
        .arg(&prod)
        .arg(&local)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        text.contains("earlier stage") && text.contains("--force"),
        "{text}"
    );
    assert!(
        !dir.join("state").join("turnout.lock").exists(),
        "refused before taking the host lock"
    );
}

#[test]
fn validate_exit_codes_and_json() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let ok = Command::new(turnout_bin())
        .arg("validate")
        .arg(examples.join("three-versions.yaml"))
        .output()
        .unwrap();
    assert!(ok.status.success());
    let bad = Command::new(turnout_bin())
        .args(["validate", "-o", "json"])
        .arg(examples.join("original-plan.yaml"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert!(
        v["documents"][0]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["port"] == 9200)
    );
}
