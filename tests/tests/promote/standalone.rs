//! `turnout standalone` running DataSync documents whose source is
//! another environment.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use turnout_e2e::*;

use super::env::Env;
use super::{LOCAL, LOCAL_ENGINE, TEST, env_plan, local_identity, test_engine};

/// `turnout standalone` on test-cloud with two DataSync documents whose
/// source is another environment: local's future into test-cloud's dao
/// (streamed from the usual engine, lineage in its status), and one from
/// a production plan, refused by the stage rule naming both environments.
pub fn runs_datasyncs_from_other_environments(dir: &Path, local: &Env, test: &Env, secret: &Path) {
    // Production's plan: local's containers, named as a later stage.
    let prod_file = dir.join("production.yaml");
    let prod = env_plan(LOCAL, 25000, "production", "prod", secret);
    std::fs::write(&prod_file, prod).expect("write the plan");
    let source = |file: &Path| {
        format!(
            "{{planFile: {}, engine: \"{LOCAL_ENGINE}\"}}",
            file.display()
        )
    };
    let desired = dir.join("test-cloud-desired.yaml");
    let yaml = std::fs::read_to_string(&test.file).expect("the plan");
    std::fs::write(
        &desired,
        format!(
            "{yaml}---\napiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {{name: from-local}}\nspec: {{planRef: {TEST}, from: future, to: dao, source: {}}}\n---\napiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {{name: from-production}}\nspec: {{planRef: {TEST}, from: future, to: future, source: {}}}\n",
            source(&local.file),
            source(&prod_file)
        ),
    )
    .expect("write the desired file");
    let status_file = dir.join("test-cloud-status.json");
    let mut child = Command::new(turnout_bin())
        .args(["--engine", &test_engine(), "standalone", "--file"])
        .arg(&desired)
        .arg("--status-file")
        .arg(&status_file)
        .args(["--listen", "127.0.0.1:25190", "--data-dir"])
        .arg(&test.data)
        .arg("--state-dir")
        .arg(&test.state)
        .env_remove("DOCKER_HOST")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("turnout standalone starts");
    let phase = |status: &Value, name: &str| {
        status["dataSyncs"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["name"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    let mut status = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        status = std::fs::read(&status_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let done = |n: &str| {
            let p = &phase(&status, n)["status"]["phase"];
            p == "Succeeded" || p == "Failed"
        };
        if done("from-local") && done("from-production") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let from_local = phase(&status, "from-local");
    assert_eq!(from_local["status"]["phase"], "Succeeded", "{status:#}");
    let step = &from_local["status"]["steps"][0];
    assert_eq!(step["sourceEnvironment"], "local", "{from_local:#}");
    assert_eq!(step["sourceEngine"], local_identity(), "{from_local:#}");
    assert_eq!(
        test.maria_contents("shop_dao"),
        local.maria_contents("shop_future"),
        "the DataSync copied local's future into test-cloud's dao"
    );
    assert_eq!(
        test.pg_contents("ledger_dao"),
        local.pg_contents("ledger_future")
    );
    let from_prod = phase(&status, "from-production");
    let message = from_prod["status"]["message"].as_str().unwrap_or_default();
    assert_eq!(from_prod["status"]["phase"], "Failed", "{status:#}");
    assert!(
        message.contains("PromotionRefused")
            && message.contains("production")
            && message.contains("test-cloud"),
        "{message}"
    );
}
