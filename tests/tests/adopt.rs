//! End-to-end: bringing a host built by hand ([`HandMade`]: real MariaDB
//! with its data in an anonymous volume, PostgreSQL in a named volume,
//! Redis on a bind mount, three versions of services) under turnout:
//! `turnout import` -> edit -> `turnout validate` -> `turnout plan` ->
//! `turnout apply --adopt`. Every byte of data stays; the originals are
//! kept, stopped; switches, drift and a second apply work as on any
//! turnout host. And on a small host: adoption refused (another image, a
//! missing mount) leaves the host as it was; a replacement that never gets
//! ready puts the original back, running.

use std::path::Path;
use std::process::{Command, Output};

use turnout_e2e::handmade::HandMade;
use turnout_e2e::{
    BUSYBOX, MARIADB, POSTGRES, REDIS, docker, docker_raw, is_running, output_text, require_docker,
    started_at, temp_dir, turnout_bin,
};

const PLAN: &str = "e2eadopt";

fn turnout(args: &[&str], dir: &Path) -> Output {
    Command::new(turnout_bin())
        .args(args)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .expect("turnout runs")
}

fn apply(file: &Path, dir: &Path, extra: &[&str]) -> Output {
    let file = file.display().to_string();
    let data = dir.join("data").display().to_string();
    let mut args = vec!["apply", file.as_str(), "--data-dir", data.as_str()];
    args.extend(extra);
    turnout(&args, dir)
}

/// Moves the Elasticsearch stand-in off the port blockchain's shared
/// service uses: the edit `turnout import` asks for.
fn move_elasticsearch(yaml: &str, host: &HandMade, to: u16) -> String {
    let at = yaml
        .find(&format!("- name: \"{}\"", host.name("test-elasticsearch")))
        .expect("the stand-in in the plan");
    let from = format!("host: {}", host.port("test-elasticsearch"));
    let port = at + yaml[at..].find(&from).expect("its published port");
    format!("{}host: {to}{}", &yaml[..port], &yaml[port + from.len()..])
}

fn select(yaml: &str, version: &str) -> String {
    let at = yaml.find("activeVersion: ").expect("a selection");
    let end = at + yaml[at..].find('\n').expect("end of line");
    format!(
        "{}activeVersion: \"{version}\"{}",
        &yaml[..at],
        &yaml[end..]
    )
}

fn mounts_of(name: &str) -> String {
    docker(&["inspect", "-f", "{{range .Mounts}}{{.Name}} {{end}}", name])
}

fn labelled(name: &str) -> bool {
    docker(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"dev.turnout.managed-by\"}}",
        name,
    ])
    .trim()
        == "turnout"
}

/// Import, fill the secret file, edit the clash away, validate: the plan.
fn import_and_review(host: &HandMade, dir: &Path) -> std::path::PathBuf {
    let (file, secrets) = (dir.join("host.yaml"), dir.join("secrets"));
    let out = Command::new(turnout_bin())
        .arg("import")
        .args(host.import_args())
        .args(["--plan", PLAN, "--secrets-dir"])
        .arg(&secrets)
        .arg("--out")
        .arg(&file)
        .output()
        .expect("turnout import runs");
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    eprintln!("--- turnout import\n{}", output_text(&out));
    // The person fills the secret file the plan points at.
    let token = secrets
        .join(host.name("future-service-2"))
        .join("api-token");
    std::fs::create_dir_all(token.parent().expect("parent")).expect("secrets dir");
    std::fs::write(&token, host.api_token()).expect("fill the secret");
    let yaml = std::fs::read_to_string(&file).expect("the plan");
    let edited = move_elasticsearch(&yaml, host, host.port("test-redis") + 10);
    std::fs::write(&file, edited).expect("edit");
    let valid = Command::new(turnout_bin())
        .arg("validate")
        .arg(&file)
        .output()
        .expect("validate runs");
    assert!(valid.status.success(), "{}", output_text(&valid));
    file
}

#[test]
fn a_host_built_by_hand_is_adopted_without_losing_a_byte() {
    require_docker(&[BUSYBOX, MARIADB.image, POSTGRES.image, REDIS.image]);
    let dir = temp_dir(PLAN);
    let host = HandMade::build("e2eadopt-", 26600, &dir);
    host.switch("dao");
    host.switch("future");
    let before = host.checksums();
    let anonymous = host.anonymous_volume().to_string();
    let file = import_and_review(&host, &dir);

    // `turnout plan` shows each adoption and the data it keeps; changes nothing.
    let shown = Command::new(turnout_bin())
        .arg("plan")
        .arg(&file)
        .output()
        .expect("turnout plan runs");
    let said = output_text(&shown);
    eprintln!("--- turnout plan\n{said}");
    assert_eq!(
        said.matches("adopt ").count(),
        host.containers().len(),
        "{said}"
    );
    assert!(
        said.contains(&format!("volume {anonymous} at /var/lib/mysql")),
        "{said}"
    );
    assert!(!labelled(&host.name("test-mysql")), "plan changed nothing");

    let adopted = apply(&file, &dir, &["--adopt"]);
    let said = output_text(&adopted);
    eprintln!("--- turnout apply --adopt\n{said}");
    assert!(adopted.status.success(), "{said}");
    assert_eq!(host.checksums(), before, "every table and key as it was");
    let mysql = host.name("test-mysql");
    assert!(
        mounts_of(&mysql).contains(&anonymous),
        "{}",
        mounts_of(&mysql)
    );
    for c in host.containers() {
        let kept = format!("{c}.pre-turnout");
        assert!(labelled(&c), "{c} is turnout's now");
        assert!(
            !labelled(&kept) && !is_running(&kept),
            "{kept} kept, stopped"
        );
    }
    let record = dir.join("state/adopted").join(format!("{mysql}.json"));
    assert!(record.exists(), "the original's configuration is recorded");
    let recorded = std::fs::read_to_string(
        dir.join("state/adopted")
            .join(format!("{}.json", host.name("future-service-2"))),
    )
    .expect("record");
    assert!(
        !recorded.contains(host.api_token()),
        "no secret in the record"
    );

    // Three switches, drift, and a second apply that does nothing.
    let yaml = std::fs::read_to_string(&file).expect("plan");
    for v in ["dao", "blockchain", "future"] {
        std::fs::write(&file, select(&yaml, v)).expect("select");
        let out = apply(&file, &dir, &[]);
        assert!(out.status.success(), "switch to {v}: {}", output_text(&out));
        for c in host.version_containers(v) {
            assert!(is_running(&c), "{c} runs on {v}");
        }
        assert!(!is_running(&host.name("future-service-1")) || v == "future");
    }
    docker(&["start", &host.name("dao-service-1")]);
    let out = apply(&file, &dir, &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(!is_running(&host.name("dao-service-1")), "drift put back");
    let starts: Vec<String> = host.containers().iter().map(|c| started_at(c)).collect();
    let again = apply(&file, &dir, &[]);
    assert!(again.status.success(), "{}", output_text(&again));
    let after: Vec<String> = host.containers().iter().map(|c| started_at(c)).collect();
    assert_eq!(starts, after, "a second apply changes nothing");
    assert_eq!(
        host.checksums(),
        before,
        "the data survived the switches too"
    );
}

// ----------------------------------------------------------- a small host

const SMALL: &str = "e2eadopt-r";
const PORT: u16 = 26950;

/// A busybox web server made by hand: `{SMALL}-web` on PORT, its data in
/// the named volume `{SMALL}-data`. Removed (with its volume) on drop.
struct Small;

impl Small {
    fn build() -> Small {
        Small::remove();
        docker(&["volume", "create", &format!("{SMALL}-data")]);
        docker(&[
            "run",
            "-d",
            "--name",
            &format!("{SMALL}-web"),
            "-p",
            &format!("127.0.0.1:{PORT}:8080"),
            "-v",
            &format!("{SMALL}-data:/data"),
            BUSYBOX,
            "httpd",
            "-f",
            "-p",
            "8080",
            "-h",
            "/www",
        ]);
        Small
    }

    fn remove() {
        for name in [format!("{SMALL}-web"), format!("{SMALL}-web.pre-turnout")] {
            let _ = docker_raw(&["rm", "-f", &name]);
        }
        let _ = docker_raw(&["volume", "rm", &format!("{SMALL}-data")]);
    }

    /// Name, id, state and start time of the container named NAME.
    fn snapshot() -> String {
        let format = "{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}}";
        let all = docker(&["ps", "-a", "--filter", &format!("name={SMALL}"), "-q"]);
        let mut ids: Vec<&str> = all.split_whitespace().collect();
        ids.sort();
        ids.iter()
            .map(|id| docker(&["inspect", "-f", format, id]))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Small {
    fn drop(&mut self) {
        Small::remove();
    }
}

/// A change to the small host's container in its plan.
type Edit = Box<dyn FnOnce(turnout_e2e::Container) -> turnout_e2e::Container>;

/// The small host's plan, as `edit` changes it.
fn small_plan(
    dir: &Path,
    edit: impl FnOnce(turnout_e2e::Container) -> turnout_e2e::Container,
) -> std::path::PathBuf {
    let web = turnout_e2e::container(&format!("{SMALL}-web"), BUSYBOX)
        .command(&["httpd", "-f", "-p", "8080", "-h", "/www"])
        .port(PORT, 8080)
        .volume(&format!("{SMALL}-data"), "/data");
    let yaml = turnout_e2e::PlanBuilder::new(SMALL)
        .infrastructure(edit(web))
        .version("v", |v| v)
        .select("v")
        .yaml();
    let file = dir.join("small.yaml");
    std::fs::write(&file, yaml).expect("write the plan");
    file
}

#[test]
fn adoption_is_refused_or_undone_and_the_host_left_as_it_was() {
    require_docker(&[BUSYBOX, REDIS.image]);
    let dir = temp_dir(SMALL);
    let _small = Small::build();
    let before = Small::snapshot();

    // Another image, then a mount the container does not have: refused.
    let cases: [(&str, Edit); 2] = [
        (
            "runs image turnout/busybox:demo, the plan says turnout/redis:demo",
            Box::new(|c| c.image(REDIS.image)),
        ),
        (
            "/cache",
            Box::new(|c| c.volume(&format!("{SMALL}-cache"), "/cache")),
        ),
    ];
    for (why, edit) in cases {
        let file = small_plan(&dir, edit);
        let out = apply(&file, &dir, &["--adopt"]);
        let said = output_text(&out);
        assert!(!out.status.success(), "{said}");
        assert!(
            said.contains("will not adopt") && said.contains(why),
            "{why}: {said}"
        );
        assert_eq!(Small::snapshot(), before, "the host is as it was");
    }

    // A replacement that never gets ready: the original is put back, running.
    let file = small_plan(&dir, |c| {
        c.readiness(turnout_e2e::Probe::exec(&["false"]).timeout(2))
    });
    let out = apply(&file, &dir, &["--adopt"]);
    let said = output_text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("put back"), "{said}");
    let web = format!("{SMALL}-web");
    assert!(
        is_running(&web) && !labelled(&web),
        "the original runs again"
    );
    assert_eq!(
        Small::snapshot().lines().count(),
        1,
        "{}",
        Small::snapshot()
    );
    assert_eq!(
        Small::snapshot().split_whitespace().nth(1),
        before.split_whitespace().nth(1),
        "the same container"
    );
}
