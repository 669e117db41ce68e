//! Certificates for the TLS engine, made with `openssl` in the test's
//! temporary directory: a CA, the engine's certificate (for 127.0.0.1)
//! and turnout's client certificate, laid out as the Docker CLI expects
//! (ca.pem, cert.pem, key.pem), plus two directories that must be refused:
//! one whose CA did not sign the engine's certificate, one whose key
//! others can read.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::support::{TLS_PORT, require_tool};

pub struct TlsFiles {
    /// ca.pem, server.pem, server-key.pem for dockerd.
    pub server: PathBuf,
    /// turnout's directory: ca.pem, cert.pem, key.pem (0600).
    pub client: PathBuf,
    /// As `client`, with a CA that did not sign the engine's certificate.
    pub wrong_ca: PathBuf,
    /// As `client`, with key.pem readable by everyone.
    pub exposed: PathBuf,
}

impl TlsFiles {
    /// dockerd's arguments for a TLS listener on 127.0.0.1:[`TLS_PORT`].
    pub fn dockerd_args(&self) -> String {
        let s = &self.server;
        format!(
            "--host tcp://127.0.0.1:{TLS_PORT} --tlsverify --tlscacert {} --tlscert {} --tlskey {}",
            s.join("ca.pem").display(),
            s.join("server.pem").display(),
            s.join("server-key.pem").display()
        )
    }

    /// The client key's contents, to check no output shows it.
    pub fn key_body(&self) -> String {
        let key = std::fs::read_to_string(self.client.join("key.pem")).expect("read key.pem");
        key.lines()
            .find(|l| !l.starts_with("-----"))
            .expect("a PEM body")
            .to_string()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA `name` in `dir`: name.pem and name-key.pem.
fn ca(dir: &Path, name: &str) {
    let (cert, key) = (format!("{name}.pem"), format!("{name}-key.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            "2",
            "-subj",
            &format!("/CN=e2e-remote {name}"),
        ],
    );
}

/// A certificate `name` signed by `ca`, with extensions `ext`.
fn signed(dir: &Path, name: &str, ca: &str, ext: &str, serial: &str) {
    let ext_file = format!("{name}.ext");
    std::fs::write(dir.join(&ext_file), ext).expect("write the extensions");
    let (key, csr) = (format!("{name}-key.pem"), format!("{name}.csr"));
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN=e2e-remote {name}"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}-key.pem"),
            "-set_serial",
            serial,
            "-days",
            "2",
            "-out",
            &format!("{name}.pem"),
            "-extfile",
            &ext_file,
        ],
    );
}

/// A Docker CLI certificate directory `name` under `dir`.
fn client_dir(dir: &Path, name: &str, ca: &str, key_mode: u32) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).expect("certificate directory");
    let copy = |from: &str, to: &str| std::fs::copy(dir.join(from), d.join(to)).expect("copy");
    copy(&format!("{ca}.pem"), "ca.pem");
    copy("client.pem", "cert.pem");
    copy("client-key.pem", "key.pem");
    std::fs::set_permissions(d.join("key.pem"), std::fs::Permissions::from_mode(key_mode))
        .expect("chmod key.pem");
    d
}

/// Makes every file under `dir`.
pub fn make(dir: &Path) -> TlsFiles {
    require_tool("openssl", "apt-get install -y openssl");
    std::fs::create_dir_all(dir).expect("certificate directory");
    ca(dir, "ca");
    ca(dir, "other-ca");
    let usage = "keyUsage=critical,digitalSignature\n";
    signed(
        dir,
        "server",
        "ca",
        &format!("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n{usage}"),
        "1001",
    );
    signed(
        dir,
        "client",
        "ca",
        &format!("extendedKeyUsage=clientAuth\n{usage}"),
        "1002",
    );
    TlsFiles {
        server: dir.to_path_buf(),
        client: client_dir(dir, "client-dir", "ca", 0o600),
        wrong_ca: client_dir(dir, "wrong-ca-dir", "other-ca", 0o600),
        exposed: client_dir(dir, "exposed-dir", "ca", 0o644),
    }
}
