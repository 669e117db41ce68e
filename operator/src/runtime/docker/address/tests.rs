//! Engine addresses: what is taken, what is refused and how it is shown.

use std::os::unix::fs::PermissionsExt;

use super::*;

fn no_tls() -> TlsSettings {
    TlsSettings {
        verify: false,
        dir: None,
        dir_origin: "test",
    }
}

fn tls_in(dir: &Path) -> TlsSettings {
    TlsSettings {
        verify: true,
        dir: Some(dir.to_path_buf()),
        dir_origin: "--engine-certs",
    }
}

/// A directory with PEM-framed ca.pem, cert.pem and key.pem (mode 0600).
fn cert_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("turnout-addr-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pem = |label: &str| format!("-----BEGIN {label}-----\nMIIB\n-----END {label}-----\n");
    std::fs::write(dir.join("ca.pem"), pem("CERTIFICATE")).unwrap();
    std::fs::write(dir.join("cert.pem"), pem("CERTIFICATE")).unwrap();
    std::fs::write(dir.join("key.pem"), pem("PRIVATE KEY")).unwrap();
    std::fs::set_permissions(dir.join("key.pem"), std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

#[test]
fn local_and_remote_addresses_are_taken() {
    assert_eq!(
        parse_with("unix:///run/docker.sock", "DOCKER_HOST", &no_tls()).unwrap(),
        EngineAddress::Unix("/run/docker.sock".into())
    );
    let ssh = parse_with("ssh://ops@db-1.example:2222", "--engine", &no_tls()).unwrap();
    assert_eq!(
        ssh,
        EngineAddress::Ssh {
            user: Some("ops".into()),
            host: "db-1.example".into(),
            port: Some(2222)
        }
    );
    assert_eq!(ssh.to_string(), "ssh://ops@db-1.example:2222");
    assert!(ssh.is_remote());
    let bare = parse_with("ssh://db-1", "--engine", &no_tls()).unwrap();
    assert_eq!(bare.to_string(), "ssh://db-1");

    let dir = cert_dir("taken");
    let tls = parse_with("tcp://10.0.0.5", "DOCKER_HOST", &tls_in(&dir)).unwrap();
    assert_eq!(tls.to_string(), "tcp://10.0.0.5:2376");
    let EngineAddress::Tls { ca, cert, key, .. } = tls else {
        panic!("not TLS: {tls:?}")
    };
    assert_eq!(
        (ca, cert, key),
        (
            dir.join("ca.pem"),
            dir.join("cert.pem"),
            dir.join("key.pem")
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unusable_addresses_are_refused() {
    for raw in [
        "https://h:2376",
        "http://h:2375",
        "npipe:////./pipe/docker_engine",
        "fd://",
        "unix://relative.sock",
        "/var/run/docker.sock",
        "gopher://x",
        // Would reach ssh as an option, or as more than one argument.
        "ssh://-oProxyCommand=touch_x",
        "ssh://-l@host",
        "ssh://ops@host name",
        "ssh://ops@host\n",
        "ssh://o'ps@host",
        "ssh://ops@host/path",
        "ssh://ops@host:0",
        "ssh://ops@host:99999",
        "ssh://ops@host:",
        "ssh://ops:secret@host",
        "tcp://u@host:2376",
        "tcp://host:2376/x",
    ] {
        let e = parse_with(raw, "DOCKER_HOST", &no_tls()).unwrap_err();
        assert!(e.to_string().contains("refuses"), "{raw}: {e}");
        assert!(!e.to_string().contains("secret"), "{raw}: {e}");
    }
}

#[test]
fn tcp_needs_tls_verification_and_sound_files() {
    let e = parse_with("tcp://10.0.0.5:2375", "DOCKER_HOST", &no_tls()).unwrap_err();
    assert!(matches!(e, AddressError::TlsUnverified { .. }), "{e}");
    assert!(e.to_string().contains("DOCKER_TLS_VERIFY=1"), "{e}");

    let dir = cert_dir("files");
    let key = dir.join("key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = parse_with("tcp://h:2376", "--engine", &tls_in(&dir)).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("chmod 600") && text.contains("key.pem"),
        "{text}"
    );
    assert!(
        !text.contains("MIIB"),
        "no key material in messages: {text}"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    let e = parse_with("tcp://h:2376", "--engine", &tls_in(&dir)).unwrap_err();
    assert!(e.to_string().contains("cert.pem"), "{e}");

    // A FIFO where a file should be: refused at once, never waited on.
    std::fs::remove_file(dir.join("ca.pem")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join("ca.pem"))
        .status()
        .unwrap();
    assert!(made.success());
    let e = parse_with("tcp://h:2376", "--engine", &tls_in(&dir)).unwrap_err();
    assert!(e.to_string().contains("FIFO"), "{e}");

    let e = parse_with("tcp://h:2376", "--engine", &tls_in(&dir.join("nope"))).unwrap_err();
    assert!(
        e.to_string().contains("ca.pem, cert.pem and key.pem"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn passwords_in_addresses_are_hidden() {
    assert_eq!(
        shown("ssh://ops:s3cret@db-1:22"),
        r#""ssh://ops:***@db-1:22""#
    );
    assert_eq!(shown("ssh://ops@db-1"), r#""ssh://ops@db-1""#);
    let e = parse_with("tcp://u:hunter2@h:2375", "DOCKER_HOST", &no_tls()).unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = parse_with("ssh://u:hunter2@h", "DOCKER_HOST", &no_tls()).unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}
