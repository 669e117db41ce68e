//! Every file of the fuzz corpus (`tests/fuzz-corpus/`) runs through the
//! loader and every validation entry point without a panic and in bounded
//! time: the inputs the campaign found (`panic-*`, `slow-*`, `hang-*`) and
//! the hostile ones made by hand (alias bombs, deep nesting, a file near
//! the size cap, invalid UTF-8, NUL bytes, ...). The hand-made ones also
//! end the way they should.

mod common;
mod fuzzing;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use fuzzing::entry::{Outcome, exercise};
use fuzzing::seeds::corpus;

/// Generous for a debug build: the slowest input takes milliseconds in release.
const BOUND: Duration = Duration::from_secs(30);

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn every_corpus_input_runs_without_a_panic() {
    let files = corpus().expect("the corpus is readable");
    assert!(files.len() >= 50, "the corpus has {} files", files.len());
    let mut failures = Vec::new();
    for (name, bytes) in &files {
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(bytes)));
        let took = started.elapsed();
        if let Err(p) = outcome {
            failures.push(format!("{name}: panicked: {}", panic_message(&*p)));
        }
        if took > BOUND {
            failures.push(format!("{name}: took {took:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What each hand-made input comes to.
const EXPECTED: &[(&str, Outcome)] = &[
    (
        "alias-bomb-under-status.yaml",
        Outcome::Refused("ParseError"),
    ),
    (
        "alias-bomb-in-spec-unknown-field.yaml",
        Outcome::Refused("ParseError"),
    ),
    ("alias-to-itself.yaml", Outcome::Refused("ParseError")),
    (
        "deep-nesting-flow-100k.yaml",
        Outcome::Refused("ParseError"),
    ),
    (
        "deep-nesting-flow-map-10k.yaml",
        Outcome::Refused("ParseError"),
    ),
    ("deep-nesting-block-1k.yaml", Outcome::Refused("ParseError")),
    (
        "deep-nesting-in-managed-fields.yaml",
        Outcome::Refused("ParseError"),
    ),
    (
        "many-documents-separators.yaml",
        Outcome::Refused("ParseError"),
    ),
    ("many-documents-plans.yaml", Outcome::Refused("ParseError")),
    (
        "node-budget-ranges-40k.yaml",
        Outcome::Refused("ParseError"),
    ),
    ("huge-near-cap-env-value.yaml", Outcome::Valid),
    ("invalid-utf8.yaml", Outcome::Refused("NotUtf8")),
    ("invalid-utf8-overlong.yaml", Outcome::Refused("NotUtf8")),
    ("invalid-utf8-surrogate.yaml", Outcome::Refused("NotUtf8")),
    ("truncated-utf8.yaml", Outcome::Refused("NotUtf8")),
    ("bom-utf16le.yaml", Outcome::Refused("NotUtf8")),
    ("bom-utf8.yaml", Outcome::Valid),
    ("crlf-line-ends.yaml", Outcome::Valid),
    ("nul-bytes.yaml", Outcome::Refused("ParseError")),
    (
        "nul-in-double-quoted-escape.yaml",
        Outcome::Refused("InvalidName"),
    ),
    (
        "datasync-name-path-traversal.yaml",
        Outcome::Refused("InvalidName"),
    ),
    (
        "datasync-name-absolute.yaml",
        Outcome::Refused("InvalidName"),
    ),
    (
        "datasync-name-newline.yaml",
        Outcome::Refused("InvalidName"),
    ),
    (
        "datasync-name-dot-dot.yaml",
        Outcome::Refused("InvalidName"),
    ),
    ("datasync-name-upper.yaml", Outcome::Refused("InvalidName")),
    ("datasync-name-254-a.yaml", Outcome::Refused("InvalidName")),
    // Loads; the sync copies future into itself, which validation refuses.
    ("datasync-name-253-a.yaml", Outcome::Invalid),
    ("database-reserved-names.yaml", Outcome::Invalid),
    ("overlapping-ranges-5000.yaml", Outcome::Invalid),
    ("same-host-port-4000.yaml", Outcome::Invalid),
    ("many-selections-unknown-version.yaml", Outcome::Invalid),
    ("empty.yaml", Outcome::Refused("EmptyFile")),
    ("only-comments.yaml", Outcome::Refused("EmptyFile")),
];

#[test]
fn hand_made_inputs_end_as_they_should() {
    let files = corpus().expect("the corpus is readable");
    for (name, expected) in EXPECTED {
        let (_, bytes) = files
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} is not in the corpus"));
        assert_eq!(exercise(bytes), *expected, "{name}");
    }
}
