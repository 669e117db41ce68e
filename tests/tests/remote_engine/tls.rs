//! An engine on a TLS port, read with the Docker CLI's variables and with
//! `--engine-certs`; what must be refused is refused before anything is
//! read or changed, and no output shows the key.

use super::certs;
use super::support::*;
use turnout_e2e::*;

const PLAN: &str = "e2e-remote-tls";
const WEB: &str = "e2e-remote-tls-web-1";

#[test]
fn turnout_reads_an_engine_over_tls_and_refuses_tls_it_cannot_trust() {
    let _lock = exclusive();
    let dir = TempDir::new(PLAN);
    let tls = certs::make(&dir.0.join("certs"));
    let _engine = SecondEngine::start(&tls.dockerd_args());
    let mut made = Containers(Vec::new());
    made.sleeper(WEB);
    let plan = write_plan(&dir.0, PLAN, 27600);
    let addr = format!("tcp://127.0.0.1:{TLS_PORT}");
    let client = tls.client.display().to_string();
    let import = [
        "import",
        "--engine",
        &addr,
        "--version",
        "web=e2e-remote-tls-web-",
    ];

    // The Docker CLI's way: DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
    let cli_env = [
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", client.as_str()),
    ];
    let (out, _) = turnout(&import, &cli_env);
    let text = output_text(&out);
    assert!(out.status.success(), "import over TLS: {text}");
    assert!(
        text.contains(&format!("engine: {addr} (Docker ")),
        "names the engine: {text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(WEB),
        "the plan describes the second engine's container: {text}"
    );
    assert!(
        docker(&["ps", "-aq", "--filter", &format!("name=^{WEB}$")]).is_empty(),
        "{WEB} is not on the local engine: the plan came from the other one"
    );

    // The flag alone turns verification on.
    let mut flagged = import.to_vec();
    flagged.extend(["--engine-certs", &client]);
    let (out, _) = turnout(&flagged, &[]);
    assert!(
        out.status.success(),
        "import with --engine-certs: {}",
        output_text(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(WEB));

    // plan reads it, and says which checks it could not make from here.
    let plan_file = plan.display().to_string();
    let (out, _) = turnout(
        &[
            "plan",
            &plan_file,
            "--engine",
            &addr,
            "--engine-certs",
            &client,
        ],
        &[],
    );
    let text = output_text(&out);
    assert!(out.status.success(), "plan over TLS: {text}");
    assert!(text.contains(&format!("Engine: {addr} (Docker ")), "{text}");
    assert!(
        text.contains("processes outside Docker are not checked"),
        "{text}"
    );
    assert!(text.contains(&format!("{PLAN}-future-service-1")), "{text}");

    refusals(&tls, &addr, &plan_file);
}

/// A wrong CA, an exposed key, plain TCP and a host-changing command.
fn refusals(tls: &certs::TlsFiles, addr: &str, plan_file: &str) {
    let key_body = tls.key_body();
    let mut seen = Vec::new();
    let wrong = tls.wrong_ca.display().to_string();
    let (out, took) = turnout(&["import", "--engine", addr, "--engine-certs", &wrong], &[]);
    let text = output_text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a CA that did not sign the engine: {text}"
    );
    assert!(
        text.contains(&format!("\"{addr}\""))
            && text.contains("signed its certificate")
            && text.contains("UnknownIssuer"),
        "names the engine, the CA file and the cause: {text}"
    );
    eprintln!("wrong CA refused in {took:?}");
    seen.push(text);

    let exposed = tls.exposed.display().to_string();
    let (out, _) = turnout(
        &["import", "--engine", addr, "--engine-certs", &exposed],
        &[],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "a key others can read: {text}");
    let key = tls.exposed.join("key.pem").display().to_string();
    assert!(
        text.contains(&key) && text.contains("chmod 600"),
        "names the key and the fix: {text}"
    );
    seen.push(text);

    // Plain TCP: DOCKER_TLS_VERIFY unset, no --engine-certs.
    let client = tls.client.display().to_string();
    let (out, _) = turnout(
        &["import", "--engine", addr],
        &[("DOCKER_CERT_PATH", &client)],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "plain TCP: {text}");
    assert!(
        text.contains("without TLS verification") && text.contains("DOCKER_TLS_VERIFY=1"),
        "says what to set: {text}"
    );
    seen.push(text);

    // apply changes the host it runs on: never another host's engine.
    let (out, _) = turnout(
        &[
            "apply",
            plan_file,
            "--engine",
            addr,
            "--engine-certs",
            &client,
        ],
        &[],
    );
    let text = output_text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "apply on a remote engine: {text}"
    );
    assert!(text.contains("Run turnout on that host"), "{text}");
    assert!(
        engine2(&[
            "ps",
            "-aq",
            "--filter",
            "label=dev.turnout.managed-by=turnout"
        ])
        .stdout
        .is_empty(),
        "apply created nothing on the remote engine"
    );
    seen.push(text);
    for o in &seen {
        assert!(!o.contains(&key_body), "an output shows the key: {o}");
    }
}
