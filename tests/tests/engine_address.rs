//! End-to-end: turnout acts only on the engine it was pointed at. An
//! address it cannot use (a Docker context; another host's engine, for the
//! commands that change the host they run on) is refused before anything
//! happens, never replaced by the local engine; an engine that cannot be
//! reached is an error naming it; the commands and the status name the
//! engine they act on. (Remote engines that answer: remote_engine/.)

use std::process::{Command, Output};
use std::time::Duration;

use turnout_e2e::*;

const PLAN: &str = "e2e-engine";
const BASE: u16 = 29100;

fn apply_with(env: &[(&str, &str)], file: &std::path::Path, dir: &std::path::Path) -> Output {
    let mut c = Command::new(turnout_bin());
    c.arg("apply")
        .arg(file)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("turnout runs")
}

#[test]
fn an_engine_address_turnout_cannot_use_is_refused_and_the_local_engine_untouched() {
    require_docker(&[BUSYBOX]);
    let _cleanup = Cleanup(PLAN.to_string());
    remove_plan_containers(PLAN);
    let dir = temp_dir(PLAN);
    let file = dir.join("desired.yaml");
    std::fs::write(&file, demo_plan(PLAN, BASE, "future")).expect("write the plan");
    let config = dir.join("docker-config");
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::write(
        config.join("config.json"),
        r#"{"currentContext": "prod-cloud"}"#,
    )
    .expect("write the CLI config");
    let config = config.display().to_string();
    for (env, expect) in [
        (
            vec![("DOCKER_HOST", "ssh://ops@prod-cloud")],
            "ssh://ops@prod-cloud",
        ),
        (
            vec![("DOCKER_HOST", "tcp://127.0.0.1:1")],
            "tcp://127.0.0.1:1",
        ),
        (
            vec![("DOCKER_HOST", "ssh://ops:hunter2@prod-cloud")],
            "ssh://ops:***@prod-cloud",
        ),
        (vec![("DOCKER_CONTEXT", "prod-cloud")], "prod-cloud"),
        (vec![("DOCKER_CONFIG", config.as_str())], "prod-cloud"),
    ] {
        let out = apply_with(&env, &file, &dir);
        assert!(!out.status.success(), "{env:?}: {}", output_text(&out));
        let text = output_text(&out);
        assert!(
            text.contains(expect),
            "{env:?}: the refusal names the address: {text}"
        );
        assert!(!text.contains("hunter2"), "no password is shown: {text}");
        assert!(
            running(PLAN).is_empty(),
            "{env:?}: nothing was started on the local engine"
        );
    }
    // Pointed at the local socket explicitly, it converges and says where.
    let out = apply_with(
        &[("DOCKER_HOST", "unix:///var/run/docker.sock")],
        &file,
        &dir,
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("engine: unix:///var/run/docker.sock (Docker "),
        "{}",
        output_text(&out)
    );
    assert_eq!(running(PLAN), expected_running(PLAN, "future"));
}

#[test]
fn standalone_refuses_a_remote_address_at_once_and_reports_its_engine() {
    require_docker(&[BUSYBOX]);
    let plan = "e2e-engine-sa";
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let file = dir.join("desired.yaml");
    std::fs::write(&file, demo_plan(plan, BASE + 50, "future")).expect("write the plan");
    let mut child = Command::new(turnout_bin())
        .args(["standalone", "--listen", "127.0.0.1:29199", "--file"])
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("DOCKER_HOST", "ssh://ops@prod-cloud")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("turnout runs");
    let ended = wait_until(Duration::from_secs(20), || {
        child.try_wait().ok().flatten().is_some()
    });
    if !ended {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("turnout ends");
    assert!(ended, "standalone kept waiting for an engine it cannot use");
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("ssh://ops@prod-cloud"),
        "{}",
        output_text(&out)
    );
    assert!(running(plan).is_empty());

    // On the local engine its status names the engine.
    let status = dir.join("status.json");
    let mut child = Command::new(turnout_bin())
        .args(["standalone", "--listen", "127.0.0.1:29199", "--file"])
        .arg(&file)
        .arg("--status-file")
        .arg(&status)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("DOCKER_HOST")
        .spawn()
        .expect("turnout runs");
    let named = wait_until(Duration::from_secs(60), || {
        std::fs::read_to_string(&status)
            .is_ok_and(|s| s.contains("\"engine\": \"unix:///var/run/docker.sock (Docker "))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(named, "the status names the engine");
}

/// A plan whose versions share a database binding, so `sync` and
/// `restore` get as far as the engine.
fn data_plan(plan: &str) -> String {
    format!(
        "apiVersion: turnout.dev/v1alpha1\nkind: PortPlan\nmetadata: {{name: {plan}}}\nspec:\n  infrastructure:\n    - {{name: {plan}-db, image: {BUSYBOX}, engine: mariadb}}\n  versions:\n    - name: future\n      data: [{{name: users, container: {plan}-db, database: future_users}}]\n    - name: dao\n      data: [{{name: users, container: {plan}-db, database: dao_users}}]\n"
    )
}

/// Runs turnout with `args` and DOCKER_HOST set to `docker_host`; a
/// command that keeps running (standalone, if it failed to refuse) is
/// killed after 20 s and reported as such.
fn turnout_with(docker_host: &str, args: &[String]) -> (Output, bool) {
    let mut child = Command::new(turnout_bin())
        .args(args)
        .env("DOCKER_HOST", docker_host)
        .env_remove("DOCKER_CONTEXT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("turnout runs");
    let ended = wait_until(Duration::from_secs(20), || {
        child.try_wait().ok().flatten().is_some()
    });
    if !ended {
        let _ = child.kill();
    }
    (child.wait_with_output().expect("turnout ends"), ended)
}

/// Commands that may read an engine on another host (the others change
/// the host they act on with what this machine keeps: its ports in
/// /proc/net, sync's records, backups and host lock).
fn reads_remote(command: &str) -> bool {
    matches!(command, "plan")
}

/// The error lines of an output (log lines carry timestamps).
fn errors(text: &str) -> Vec<&str> {
    let found: Vec<&str> = text.lines().filter(|l| l.starts_with("error: ")).collect();
    assert!(!found.is_empty(), "no error in: {text}");
    found
}

#[test]
fn the_engine_flag_wins_over_docker_host_and_is_treated_the_same_way_by_every_engine_command() {
    require_docker(&[BUSYBOX]);
    let plan = "e2e-cli-engine";
    let _cleanup = Cleanup(plan.to_string());
    remove_plan_containers(plan);
    let dir = temp_dir(plan);
    let desired = dir.join("desired.yaml");
    std::fs::write(&desired, demo_plan(plan, 28000, "future")).expect("write the plan");
    let data = dir.join("data.yaml");
    std::fs::write(&data, data_plan(plan)).expect("write the data plan");
    let backup = dir.join(format!(
        "data/backups/{plan}-db/dao_users/20261125T120000.000Z.sql"
    ));
    std::fs::create_dir_all(backup.parent().expect("a parent")).expect("backup dir");
    std::fs::write(&backup, "-- a backup\n").expect("write the backup");
    let s = |p: &std::path::Path| p.display().to_string();
    let dirs = [
        "--data-dir".to_string(),
        s(&dir.join("data")),
        "--state-dir".to_string(),
        s(&dir.join("state")),
    ];
    let commands: Vec<Vec<String>> = vec![
        vec!["apply".into(), s(&desired)],
        vec!["plan".into(), s(&desired)],
        vec![
            "sync".into(),
            "--from".into(),
            "future".into(),
            "--to".into(),
            "dao".into(),
            s(&data),
        ],
        vec!["restore".into(), s(&data), "--backup".into(), s(&backup)],
        vec![
            "standalone".into(),
            "--listen".into(),
            "127.0.0.1:28290".into(),
            "--file".into(),
            s(&desired),
        ],
    ];
    let remote = "ssh://ops@prod-cloud";
    let local = "unix:///var/run/docker.sock";
    for command in &commands {
        let mut args = command.clone();
        if command[0] != "plan" {
            args.extend(dirs.iter().cloned());
        }
        // The Docker CLI's way: the flag before the command, or after it.
        let before: Vec<String> = ["--engine".to_string(), remote.to_string()]
            .into_iter()
            .chain(args.iter().cloned())
            .collect();
        let after: Vec<String> = args
            .iter()
            .cloned()
            .chain(["--engine".to_string(), remote.to_string()])
            .collect();
        let (by_env, ended) = turnout_with(remote, &args);
        assert!(
            ended,
            "{}: kept running with DOCKER_HOST={remote}",
            command[0]
        );
        for flagged in [before, after] {
            // DOCKER_HOST names the local engine: the flag must win.
            let (out, ended) = turnout_with(local, &flagged);
            assert!(
                ended,
                "{flagged:?}: kept running instead of refusing --engine"
            );
            let text = output_text(&out);
            assert_eq!(
                out.status.code(),
                by_env.status.code(),
                "{flagged:?}: {text}"
            );
            assert_eq!(out.status.code(), Some(2), "{flagged:?}: {text}");
            if reads_remote(&command[0]) {
                // These read another host's engine: they try it, and say
                // which one could not be reached.
                assert!(
                    text.contains(&format!("\"{remote}\"")) && text.contains("unreachable"),
                    "{flagged:?}: the failure names the engine: {text}"
                );
            } else {
                assert!(
                    text.contains(&format!("engine address \"{remote}\" (from --engine)"))
                        && text.contains("Run turnout on that host"),
                    "{flagged:?}: the refusal names the flag and the address: {text}"
                );
            }
            assert_eq!(
                errors(&text.replace("(from --engine)", "(from DOCKER_HOST)")),
                errors(&output_text(&by_env)),
                "{flagged:?}: refused as DOCKER_HOST={remote} is"
            );
            assert!(running(plan).is_empty(), "{flagged:?}: nothing started");
        }
    }
    // And a usable flag wins over an unusable DOCKER_HOST.
    let (out, _) = turnout_with(
        remote,
        &["plan".into(), s(&desired), "--engine".into(), local.into()],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains(&format!("Engine: {local} (Docker ")),
        "{}",
        output_text(&out)
    );
}
