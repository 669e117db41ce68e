//! The loader reads at most `MAX_FILE_BYTES` whatever the file claims to
//! be, and refuses bytes that are not UTF-8 with the line they are on.

use std::path::Path;
use std::time::{Duration, Instant};

use turnout_crds::load::{Documents, LoadError, MAX_FILE_BYTES};

#[test]
fn a_file_that_never_ends_is_refused_as_too_large() {
    // /dev/zero has size 0 on disk and never ends: only a bounded read stops.
    let path = Path::new("/dev/zero");
    assert!(path.exists(), "this test needs /dev/zero");
    let t = Instant::now();
    let e = Documents::read(path).expect_err("refused");
    assert!(
        matches!(&e, LoadError::TooLarge { size, .. } if *size == MAX_FILE_BYTES + 1),
        "{e:?}"
    );
    assert_eq!(e.reason(), "FileTooLarge");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}

#[test]
fn text_past_the_limit_is_refused_without_parsing() {
    let text = "#".repeat(MAX_FILE_BYTES as usize + 1);
    let e = Documents::parse(Path::new("big.yaml"), &text).expect_err("refused");
    assert!(matches!(e, LoadError::TooLarge { .. }), "{e:?}");
    let e = Documents::parse_bytes(Path::new("big.yaml"), text.as_bytes()).expect_err("refused");
    assert!(matches!(e, LoadError::TooLarge { .. }), "{e:?}");
}

#[test]
fn bytes_that_are_not_utf8_are_refused_at_their_line() {
    let bytes = b"apiVersion: turnout.dev/v1alpha1\nkind: PortPlan\nmetadata: {name: \xff\xfe}\n";
    let e = Documents::parse_bytes(Path::new("latin1.yaml"), bytes).expect_err("refused");
    assert!(
        matches!(
            &e,
            LoadError::NotUtf8 {
                line: 3,
                offset: 65,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.reason(), "NotUtf8");
    assert!(
        e.to_string()
            .starts_with("latin1.yaml:3: the file is not UTF-8"),
        "{e}"
    );
}

#[test]
fn a_file_read_from_disk_goes_through_the_same_checks() {
    let dir = std::env::temp_dir().join(format!("turnout-crds-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("latin1.yaml");
    std::fs::write(&file, b"kind: \xe9\n").expect("write");
    let e = Documents::read(&file).expect_err("refused");
    assert!(matches!(e, LoadError::NotUtf8 { line: 1, .. }), "{e:?}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
