//! Containers: readiness probes that can work, secrets with one source and an
//! absolute path, no secret in the environment, and the container's own
//! fields.

use super::*;

// ---------------------------------------------------------------- InvalidProbe

#[test]
fn a_probe_of_two_kinds_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[1].readiness = Some(turnout_crds::plan::Probe {
        exec: exec_probe(&["redis-cli", "ping"]).exec,
        ..tcp_probe(6379)
    });
    let v = single(&p, K::InvalidProbe);
    assert_eq!(v.path, "spec.infrastructure[1].readiness");
    assert!(v.message.contains("sets 2"), "{}", v.message);
}

#[test]
fn a_probe_of_no_kind_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[1].readiness = Some(probe());
    let v = single(&p, K::InvalidProbe);
    assert_eq!(v.path, "spec.infrastructure[1].readiness");
}

#[test]
fn a_tcp_probe_on_an_unpublished_port_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[1].readiness = Some(tcp_probe(6380));
    let v = single(&p, K::InvalidProbe);
    assert_eq!(v.path, "spec.infrastructure[1].readiness.tcp.port");
    assert_eq!(v.subjects, vec!["test-redis"]);
    assert_eq!(v.port, Some(6380));
}

#[test]
fn a_probe_checks_the_container_port_not_the_host_port() {
    // future-service-1 publishes host 8001 -> container 8080.
    let mut p = valid_plan();
    p.versions[0].containers[0].readiness = Some(http_probe(8001, "/healthz"));
    let v = single(&p, K::InvalidProbe);
    assert_eq!(v.path, "spec.versions[0].containers[0].readiness.http.port");
    assert_eq!(v.port, Some(8001));
    let mut p = valid_plan();
    p.versions[0].containers[0].readiness = Some(tcp_probe(8080));
    assert_valid(&p);
}

#[test]
fn a_tcp_probe_on_a_port_published_only_over_udp_is_refused() {
    let p = plan()
        .infra(
            container("dns")
                .publish(publish(53, 53).udp())
                .readiness(tcp_probe(53)),
        )
        .version(version("v1"));
    assert_eq!(single(&p, K::InvalidProbe).port, Some(53));
}

#[test]
fn an_empty_exec_probe_is_refused() {
    for argv in [&[][..], &[""][..]] {
        let mut p = valid_plan();
        p.infrastructure[0].readiness = Some(exec_probe(argv));
        let v = single(&p, K::InvalidProbe);
        assert_eq!(v.path, "spec.infrastructure[0].readiness.exec.command");
    }
}

#[test]
fn an_http_probe_path_must_start_with_a_slash() {
    let mut p = valid_plan();
    p.versions[0].containers[0].readiness = Some(http_probe(8080, "healthz"));
    assert_eq!(
        single(&p, K::InvalidProbe).path,
        "spec.versions[0].containers[0].readiness.http.path"
    );
}

// --------------------------------------------------------------- InvalidSecret

#[test]
fn a_secret_with_two_sources_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[0].secrets[0].from.file = Some("/etc/turnout/mysql-root".into());
    let v = single(&p, K::InvalidSecret);
    assert_eq!(v.path, "spec.infrastructure[0].secrets[0].from");
    assert!(v.message.contains("names 2"), "{}", v.message);
}

#[test]
fn a_secret_with_no_source_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[0].secrets[0].from = SecretSource {
        env: None,
        file: None,
        secret_key_ref: None,
    };
    assert_eq!(
        single(&p, K::InvalidSecret).path,
        "spec.infrastructure[0].secrets[0].from"
    );
}

#[test]
fn each_single_secret_source_is_valid() {
    let mut p = valid_plan();
    p.infrastructure[0].secrets[0].from = SecretSource {
        env: None,
        file: Some("/etc/turnout/mysql-root".into()),
        secret_key_ref: None,
    };
    assert_valid(&p);
    p.infrastructure[0].secrets[0].from = SecretSource {
        env: None,
        file: None,
        secret_key_ref: Some(SecretKeyRef {
            name: "mysql".into(),
            key: "root-password".into(),
        }),
    };
    assert_valid(&p);
}

#[test]
fn a_secret_with_a_relative_path_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[0].secrets[0].path = "run/secrets/mysql-root".into();
    let v = single(&p, K::InvalidSecret);
    assert_eq!(v.path, "spec.infrastructure[0].secrets[0].path");
    assert!(
        v.message.contains("/run/secrets/mysql-root"),
        "{}",
        v.message
    );
}

// --------------------------------------------------------- SecretInEnvironment

#[test]
fn a_literal_root_password_in_the_environment_is_refused() {
    let mut p = valid_plan();
    p.infrastructure[0].env[0] = env("MYSQL_ROOT_PASSWORD", "hunter2");
    let v = single(&p, K::SecretInEnvironment);
    assert_eq!(v.path, "spec.infrastructure[0].env[0].value");
    assert_eq!(v.subjects, vec!["test-mysql"]);
    assert!(
        v.message.contains("MYSQL_ROOT_PASSWORD_FILE"),
        "{}",
        v.message
    );
    assert!(
        !v.message.contains("hunter2"),
        "the message must not repeat the secret: {}",
        v.message
    );
}

#[test]
fn a_password_file_variable_is_not_a_secret() {
    // The base plan already sets MYSQL_ROOT_PASSWORD_FILE.
    assert_eq!(
        valid_plan().infrastructure[0].env[0].name,
        "MYSQL_ROOT_PASSWORD_FILE"
    );
    assert_valid(&valid_plan());
}

#[test]
fn tokens_and_api_keys_in_any_case_are_refused() {
    for name in ["api_token", "STRIPE_API_KEY", "Db_Password", "JWT_SECRET"] {
        let mut p = valid_plan();
        p.versions[0].containers[0].env.push(env(name, "x"));
        let v = single(&p, K::SecretInEnvironment);
        assert_eq!(v.subjects, vec!["future-service-1"], "{name}");
    }
}

#[test]

fn mysql_password_policy_flags_are_not_secrets() {
    // The official mysql image takes these as yes/no switches; there is no
    // *_FILE form of them, so the advice in the message cannot be followed.
    for name in ["MYSQL_ALLOW_EMPTY_PASSWORD", "MYSQL_RANDOM_ROOT_PASSWORD"] {
        let mut p = valid_plan();
        p.infrastructure[0].env.push(env(name, "yes"));
        assert_valid(&p);
    }
}

// ----------------------------------------------------------- InvalidContainer

#[test]
fn an_empty_or_spaced_image_is_refused() {
    for image in ["", "  ", "mysql 8.0"] {
        let mut p = valid_plan();
        p.infrastructure[0].image = image.into();
        assert_eq!(
            single(&p, K::InvalidContainer).path,
            "spec.infrastructure[0].image",
            "image {image:?}"
        );
    }
}
