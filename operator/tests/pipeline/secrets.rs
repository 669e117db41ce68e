//! Secrets reach a container only as files: never in its env, argv,
//! labels, the outcome, the status or the log; a missing source is named
//! without any value; a recreated container gets its files again.
//!
//! Two tests need a process of their own (an environment variable set, a
//! user other than root): each re-runs this test binary for one ignored
//! child test, which fails when run any other way.

use std::process::{Command, Output};

use turnout::host::StaticHost;
use turnout::reconcile::{ApplyError, Run};
use turnout::runtime::memory::Call;
use turnout::secrets::SecretError;

use super::*;

const CHILD_VAR: &str = "TURNOUT_IT_SECRET_VAR_NAME";
const CHILD_VALUE: &str = "TURNOUT_IT_SECRET_EXPECTED";
const RECREATE_DIR: &str = "TURNOUT_IT_RECREATE_CHILD";

/// A command that runs only the ignored test `name` of this binary (by its
/// full path); the caller adds what the child needs and runs it.
fn child(name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd
}

/// A child's output, once it ran its one test and passed.
fn passed(out: Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "child failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}"
    );
    (stdout, stderr)
}

/// The variable the parent set for its child; a child run any other way
/// fails here, saying how to run it.
fn from_parent(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is unset: this test runs only as the child of another (see its doc comment)")
    })
}

/// The test plan, whose database takes its root password from a file at
/// /run/secrets/root made of the secrets `secrets` adds.
fn with_db_secrets(secrets: impl FnOnce(Container) -> Container) -> PlanBuilder {
    shop().edit("db", |db| {
        secrets(db.env("MYSQL_ROOT_PASSWORD_FILE", "/run/secrets/root"))
    })
}

/// Setting an environment variable is `unsafe` in edition 2024 and the
/// workspace forbids unsafe code, so the test re-runs this test binary with
/// the variable set, and the child runs [`secret_env_child`].
#[test]
fn a_secret_from_the_environment_reaches_the_container_only_as_a_file() {
    let var = format!("TURNOUT_IT_DB_ROOT_{}", std::process::id());
    let value = format!("pw-{}-Zq7xK9", std::process::id());
    let out = child("secrets::secret_env_child")
        .env(CHILD_VAR, &var)
        .env(CHILD_VALUE, &value)
        .env(&var, &value)
        .output()
        .expect("run the child test");
    let (stdout, stderr) = passed(out);
    // The child logs every action at TRACE; the value is in none of it.
    assert!(
        stdout.contains("action"),
        "the child logged nothing:\n{stdout}"
    );
    assert!(
        !stdout.contains(&value) && !stderr.contains(&value),
        "the secret value leaked into the log"
    );
}

/// Runs only as the child of
/// `a_secret_from_the_environment_reaches_the_container_only_as_a_file`.
#[tokio::test]
#[ignore = "the child of a_secret_from_the_environment_reaches_the_container_only_as_a_file, which runs it"]
async fn secret_env_child() {
    let var = from_parent(CHILD_VAR);
    let value = from_parent(CHILD_VALUE);
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::io::stdout)
        .try_init();
    assert_eq!(std::env::var(&var).as_deref(), Ok(value.as_str()));

    let rt = runtime_with_images();
    let dir = temp_dir("secret-env");
    let r = reconciler_with(&rt, StaticHost::default(), &dir);
    let t = target_for(
        &with_db_secrets(|db| db.secret_env("root", "/run/secrets/root", &var)),
        "a",
    );
    let o = r.reconcile(&t, &Run::default()).await;
    assert!(
        !format!("{o:?}").contains(&value),
        "the outcome carries the value"
    );
    let status = turnout::status::status_of(&t, &o, None);
    let status_json = serde_json::to_string(&status).expect("status serializes");
    assert!(
        !status_json.contains(&value),
        "the status carries the value"
    );
    let a = applied(o);
    assert!(a.converged(), "{:?}", a.error);

    let cfg = rt.config("db").expect("db was created");
    let shown = format!("{:?} {:?} {:?}", cfg.env, cfg.command, cfg.labels);
    assert!(
        !shown.contains(&value),
        "the value is in env, argv or labels: {shown}"
    );
    assert_eq!(
        cfg.env,
        [(c("MYSQL_ROOT_PASSWORD_FILE"), c("/run/secrets/root"))]
    );
    assert_eq!(cfg.secret_files.len(), 1);
    let (host_file, in_container) = &cfg.secret_files[0];
    assert_eq!(in_container, "/run/secrets/root");
    assert!(
        host_file.starts_with(&dir),
        "{host_file:?} is outside the secrets dir"
    );
    assert_eq!(
        std::fs::read(host_file).expect("secret file"),
        value.as_bytes()
    );
}

#[tokio::test]
async fn a_missing_secret_variable_is_named_without_any_value() {
    let rt = runtime_with_images();
    let dir = temp_dir("secret-missing");
    let file_value = format!("file-secret-{}-Vb3", std::process::id());
    let src = dir.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let value_file = src.join("admin");
    std::fs::write(&value_file, &file_value).expect("write");
    let var = format!("TURNOUT_IT_SURELY_UNSET_{}_ROOT", std::process::id());
    assert!(std::env::var_os(&var).is_none());

    let r = reconciler_with(&rt, StaticHost::default(), &dir.join("store"));
    let value_file = value_file.to_str().expect("a UTF-8 temp path");
    let t = target_for(
        &with_db_secrets(|db| {
            db.secret_file("admin", "/run/secrets/admin", value_file)
                .secret_env("root", "/run/secrets/root", &var)
        }),
        "a",
    );
    let o = r.reconcile(&t, &Run::default()).await;
    let everything = format!("{o:?}");
    let status = serde_json::to_string(&turnout::status::status_of(&t, &o, None)).expect("json");
    let a = applied(o);
    let e = a.error.as_ref().expect("an error");
    assert!(
        matches!(e, ApplyError::Secret(SecretError::EnvMissing { container, secret, var: v })
            if container == "db" && secret == "root" && *v == var),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains(&var) && msg.contains("db"), "{msg}");
    assert_eq!(e.reason(), "SecretUnavailable");
    assert!(!a.converged());
    assert!(
        status.contains(&var),
        "the status says which variable is missing: {status}"
    );
    for text in [&msg, &everything, &status] {
        assert!(!text.contains(&file_value), "a value leaked: {text}");
    }
    // db was never created, and the version waits for the infrastructure.
    let m = mutating(&rt.take_calls());
    assert!(m.is_empty(), "{m:?}");
    assert!(rt.containers().is_empty());
}

/// Recreating a container re-writes its secret files: a spec change, or the
/// container deleted by hand. In-process (as whichever user runs the tests).
#[tokio::test]
async fn a_recreated_container_gets_its_secret_files_again() {
    let dir = temp_dir("secret-recreate");
    recreate_with_a_file_secret(dir.to_path_buf()).await;
}

/// The same as an unprivileged user (turnout in standalone mode run by a
/// member of the docker group): the test re-runs this binary as `nobody`
/// when it runs as root.
#[test]
fn a_recreated_container_gets_its_secret_files_again_without_root() {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    let dir = temp_dir("secret-recreate-child");
    let mut cmd = child("secrets::secret_recreate_child");
    cmd.env(RECREATE_DIR, dir.as_os_str());
    if std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0 {
        std::os::unix::fs::chown(&*dir, Some(65534), Some(65534)).expect("chown");
        cmd.uid(65534).gid(65534);
    }
    passed(cmd.output().expect("run the child test"));
}

/// Runs only as the child of
/// `a_recreated_container_gets_its_secret_files_again_without_root`.
#[tokio::test]
#[ignore = "the child of a_recreated_container_gets_its_secret_files_again_without_root, which runs it"]
async fn secret_recreate_child() {
    recreate_with_a_file_secret(from_parent(RECREATE_DIR).into()).await;
}

async fn recreate_with_a_file_secret(dir: std::path::PathBuf) {
    let rt = runtime_with_images();
    let value_file = dir.join("root-password");
    std::fs::write(&value_file, "first-value").expect("write");
    let r = reconciler_with(&rt, StaticHost::default(), &dir.join("store"));
    let source = value_file.to_str().expect("a UTF-8 temp path");
    let plan = with_db_secrets(|db| db.secret_file("root", "/run/secrets/root", source));
    let a = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
    assert!(a.converged(), "{:?}", a.error);
    let file = rt.config("db").expect("db").secret_files[0].0.clone();
    assert_eq!(std::fs::read(&file).expect("secret file"), b"first-value");

    // Deleted by hand: recreated, with the current value.
    std::fs::write(&value_file, "second-value").expect("write");
    rt.delete("db");
    rt.take_calls();
    let a = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
    assert!(a.converged(), "recreating db failed: {:?}", a.error);
    assert_eq!(
        mutating(&rt.take_calls()),
        [Call::Create(c("db")), Call::Start(c("db"))]
    );
    assert_eq!(std::fs::read(&file).expect("secret file"), b"second-value");

    // A spec change: recreated again.
    rt.add_image("db:2");
    let plan = plan.edit("db", |db| db.image("db:2"));
    let a = applied(r.reconcile(&target_for(&plan, "a"), &Run::default()).await);
    assert!(a.converged(), "recreating db failed: {:?}", a.error);
}
