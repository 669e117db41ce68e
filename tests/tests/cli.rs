//! The command line on files alone (no engine needed).

use std::process::Command;

use turnout_e2e::{temp_dir, turnout_bin};

fn plan(name: &str, env: &str, stage: &str) -> String {
    format!(
        "apiVersion: turnout.dev/v1alpha1\nkind: PortPlan\nmetadata: {{name: {name}}}\nspec:\n  environment: {{name: {env}, stage: {stage}}}\n  infrastructure:\n    - {{name: db, image: m, engine: mariadb}}\n  versions:\n    - name: future\n      data: [{{name: users, container: db, database: future_users}}]\n    - name: dao\n      data: [{{name: users, container: db, database: dao_users}}]\n"
    )
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
