//! `turnout import` on a host built by hand ([`HandMade`]): the plan it
//! writes holds every container with its data where it lives (an anonymous
//! volume, a named volume, a bind mount), no secret, the health check as a
//! readiness probe, the running version selected; it reports the original
//! plan's port clash with a fix and exits 1; once the clash is edited away
//! the plan validates. And reading the host changes nothing on it.

use std::path::Path;
use std::process::{Command, Output};

use turnout_crds::load::Documents;
use turnout_crds::plan::{ContainerSpec, PortPlanSpec};
use turnout_e2e::handmade::{HEALTH_CMD, HandMade};
use turnout_e2e::{
    BUSYBOX, MARIADB, POSTGRES, REDIS, docker, is_running, output_text, require_docker, temp_dir,
    turnout_bin,
};

fn require_images() {
    require_docker(&[BUSYBOX, MARIADB.image, POSTGRES.image, REDIS.image]);
}

/// `turnout import` of `host`'s containers, each version by its prefix.
fn import(host: &HandMade, extra: &[&str]) -> Output {
    Command::new(turnout_bin())
        .arg("import")
        .args(host.import_args())
        .args(extra)
        .output()
        .expect("turnout runs")
}

fn container<'a>(plan: &'a PortPlanSpec, name: &str) -> &'a ContainerSpec {
    plan.infrastructure
        .iter()
        .chain(plan.versions.iter().flat_map(|v| &v.containers))
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} is not in the imported plan"))
}

/// Checks what the imported plan says of the host's data, secrets,
/// health check and versions.
fn check_plan(host: &HandMade, plan: &PortPlanSpec, secrets: &Path) {
    let mysql = container(plan, &host.name("test-mysql"));
    let data = mysql.volumes.iter().find(|v| v.path == "/var/lib/mysql");
    assert_eq!(
        data.map(|v| v.name.as_str()),
        Some(host.anonymous_volume()),
        "MariaDB's anonymous volume, by its name: {:?}",
        mysql.volumes
    );
    let postgres = container(plan, &host.name("test-postgres"));
    assert_eq!(postgres.volumes[0].name, host.named_volume());
    assert_eq!(postgres.volumes[0].path, "/var/lib/postgresql/data");
    let redis = container(plan, &host.name("test-redis"));
    assert_eq!(redis.binds[0].host, host.redis_dir().display().to_string());
    assert_eq!(redis.binds[0].path, "/data");
    let svc = container(plan, &host.name("future-service-2"));
    let secret = &svc.secrets[0];
    let file = secret.from.file.as_deref().unwrap_or_default();
    assert!(
        Path::new(file).starts_with(secrets),
        "API_TOKEN's secret is a file under --secrets-dir: {secret:?}"
    );
    assert!(
        svc.env.iter().any(|e| e.name == "API_TOKEN_FILE"),
        "{:?}",
        svc.env
    );
    let probe = container(plan, &host.name("future-service-1"))
        .readiness
        .clone();
    let exec = probe.and_then(|p| p.exec).map(|e| e.command);
    assert_eq!(
        exec,
        Some(vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            HEALTH_CMD.to_string()
        ]),
        "the health check became an exec readiness probe"
    );
    let versions: Vec<(&str, usize)> = plan
        .versions
        .iter()
        .map(|v| (v.name.as_str(), v.containers.len()))
        .collect();
    assert_eq!(versions, [("blockchain", 4), ("dao", 4), ("future", 4)]);
    assert!(plan.adopt, "the plan allows adoption");
}

/// Moves the Elasticsearch stand-in's host port, the way a person edits
/// the clash away: the first `host: PORT` after its name.
fn move_elasticsearch(yaml: &str, host: &HandMade, to: u16) -> String {
    let at = yaml
        .find(&format!("- name: \"{}\"", host.name("test-elasticsearch")))
        .expect("the stand-in in the plan");
    let from = format!("host: {}", host.port("test-elasticsearch"));
    let port = at + yaml[at..].find(&from).expect("its published port");
    format!("{}host: {to}{}", &yaml[..port], &yaml[port + from.len()..])
}

/// Checks what `turnout import --out FILE` said: the clash with its fix,
/// the last line, the restart policy as a warning.
fn check_report(host: &HandMade, out: &Output, file: &str) {
    let text = output_text(out);
    assert_eq!(out.status.code(), Some(1), "the clash breaks rules: {text}");
    let es = host.name("test-elasticsearch");
    let clash = host.port("test-elasticsearch");
    assert!(
        text.contains(&format!(
            "range ports-{clash} ({clash}-{}) of version blockchain contains port {clash}, which infrastructure container {es} publishes",
            clash + 99
        )) && text.contains(&format!("move the range off port {clash}")),
        "the clash with blockchain's range, and its fix: {text}"
    );
    assert!(
        text.contains(&format!("both infrastructure container {es}"))
            && text.contains("Give one of them another host port"),
        "{text}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("the imported plan breaks ")
            && last.ends_with(&format!(
                "rule(s); edit {file} and run `turnout validate {file}`"
            )),
        "{last}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "warning: {}: restart policy unless-stopped",
            host.name("future-shared-service")
        )),
        "the restart policy is a warning: {stderr}"
    );
}

/// The original switch script works on the host: to dao and back.
fn switch_by_hand(host: &HandMade) {
    let runs = |c: &str| is_running(&host.name(c));
    host.switch("dao");
    assert!(runs("dao-service-1") && runs("dao-shared-service") && !runs("future-service-1"));
    host.switch("future");
    assert!(runs("future-service-1") && !runs("dao-service-1") && !runs("blockchain-service-1"));
}

#[test]
fn a_host_built_by_hand_becomes_a_plan_to_review() {
    require_images();
    let dir = temp_dir("import");
    let host = HandMade::build("e2eimp-", 26000, &dir);
    switch_by_hand(&host);
    let (out_file, secrets) = (dir.join("host.yaml"), dir.join("secrets"));
    let file = out_file.display().to_string();
    let secrets_arg = secrets.display().to_string();
    let out = import(
        &host,
        &[
            "--plan",
            "e2eimp",
            "--secrets-dir",
            &secrets_arg,
            "--out",
            &file,
        ],
    );
    check_report(&host, &out, &file);

    let yaml = std::fs::read_to_string(&out_file).expect("the plan was written");
    for text in [&yaml, &output_text(&out)] {
        assert!(!text.contains(host.api_token()), "the token leaked: {text}");
    }
    let docs = Documents::parse(&out_file, &yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    check_plan(&host, &docs.plans[0].value.spec, &secrets);
    assert_eq!(docs.selections[0].value.spec.active_version, "future");

    let again = import(&host, &["--plan", "e2eimp", "--out", &file]);
    let said = output_text(&again);
    assert_eq!(again.status.code(), Some(2), "{said}");
    assert!(said.contains("--force"), "{said}");
    let now = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(now, yaml, "the plan was not written over");

    let edited = move_elasticsearch(&yaml, &host, host.port("test-redis") + 10);
    std::fs::write(&out_file, edited).unwrap();
    let valid = Command::new(turnout_bin())
        .arg("validate")
        .arg(&out_file)
        .output()
        .unwrap();
    let said = output_text(&valid);
    assert!(valid.status.success(), "after the edit: {said}");
}

/// Each container's id, state and start and finish times.
fn snapshot(host: &HandMade) -> Vec<String> {
    let format = "{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}} {{.State.FinishedAt}}";
    host.containers()
        .iter()
        .map(|c| docker(&["inspect", "-f", format, c]))
        .collect()
}

#[test]
fn import_changes_nothing_on_the_host() {
    require_images();
    let dir = temp_dir("import-ro");
    let host = HandMade::build("e2eimp-ro-", 26004, &dir);
    let (before, data) = (snapshot(&host), host.checksums());
    assert!(
        before.iter().any(|s| s.contains(" running "))
            && before.iter().any(|s| s.contains(" created "))
    );

    let out = import(&host, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let yaml = String::from_utf8_lossy(&out.stdout);
    let docs =
        Documents::parse(Path::new("stdout"), &yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(docs.plans[0].value.spec.infrastructure.len(), 4, "{yaml}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rule(s); save it to a file"),
        "the report goes to stderr when the plan goes to stdout"
    );

    assert_eq!(
        snapshot(&host),
        before,
        "no container was created, started, stopped or removed"
    );
    assert_eq!(host.checksums(), data);
    docker(&["volume", "inspect", host.anonymous_volume()]);
}
