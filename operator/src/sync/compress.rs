//! Compression on the wire: the dump is gzipped inside the source's
//! container and unzipped inside the target's, so a copy between hosts
//! moves fewer bytes through turnout (and over SSH or TLS). Both commands
//! run under `bash -o pipefail`, so a dump or load that fails still fails
//! the copy; the script is fixed text and the database command is passed
//! as its positional arguments, never spliced into it.

use crate::runtime::stream::ExecSpec;

/// The script that compresses what `"$@"` prints.
const GZIP_OUTPUT: &str = r#""$@" | gzip -1 -c"#;
/// The script that feeds `"$@"` what it reads, unzipped.
const GUNZIP_INPUT: &str = r#"gzip -d -c | "$@""#;
/// What a container needs for either.
pub const NEEDS: &str = "command -v bash >/dev/null && command -v gzip >/dev/null";

fn wrap(mut spec: ExecSpec, script: &str, name: &str) -> ExecSpec {
    let mut argv = vec![
        "bash".to_string(),
        "-o".into(),
        "pipefail".into(),
        "-c".into(),
        script.into(),
        name.into(),
    ];
    argv.append(&mut spec.argv);
    spec.argv = argv;
    spec
}

/// `spec`, its output gzipped.
pub fn gzip_output(spec: ExecSpec) -> ExecSpec {
    wrap(spec, GZIP_OUTPUT, "turnout-dump")
}

/// `spec`, its input unzipped first.
pub fn gunzip_input(spec: ExecSpec) -> ExecSpec {
    wrap(spec, GUNZIP_INPUT, "turnout-load")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_command_stays_positional_arguments() {
        let spec = ExecSpec::new("db", ["mariadb-dump", "--databases", "x`; rm -rf /"]);
        let z = gzip_output(spec);
        assert_eq!(
            z.argv,
            [
                "bash",
                "-o",
                "pipefail",
                "-c",
                GZIP_OUTPUT,
                "turnout-dump",
                "mariadb-dump",
                "--databases",
                "x`; rm -rf /"
            ]
        );
        let u = gunzip_input(ExecSpec::new("db", ["psql", "-d", "t"]));
        assert_eq!(
            &u.argv[4..],
            [GUNZIP_INPUT, "turnout-load", "psql", "-d", "t"]
        );
    }

    /// The scripts as bash runs them: a failing command fails the pipeline.
    #[test]
    fn a_failing_command_fails_the_pipeline() {
        let Ok(out) = std::process::Command::new("bash")
            .args(["-o", "pipefail", "-c", GZIP_OUTPUT, "t", "false"])
            .output()
        else {
            panic!("bash is needed for this test");
        };
        assert!(!out.status.success());
        let ok = std::process::Command::new("bash")
            .args(["-o", "pipefail", "-c", GZIP_OUTPUT, "t", "echo", "a b"])
            .output()
            .unwrap();
        assert!(ok.status.success());
        let mut gz = std::process::Command::new("bash")
            .args(["-o", "pipefail", "-c", GUNZIP_INPUT, "t", "cat"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        gz.stdin.take().unwrap().write_all(&ok.stdout).unwrap();
        let back = gz.wait_with_output().unwrap();
        assert_eq!(back.stdout, b"a b\n");
    }
}
