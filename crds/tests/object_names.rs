//! Object names (`metadata.name`): a DataSync's name becomes a file name
//! under turnout's data directory and a plan's or selection's name a label
//! value, so every name that is not a Kubernetes object name is refused:
//! by the loader (naming the file and document) and, at `metadata.name`, by
//! the check the operator calls for names from the API (which `turnout
//! validate` runs on every document too).

use std::path::Path;

use turnout_crds::load::{Documents, LoadError};
use turnout_crds::names::{NameError, ObjectKind, check_datasync_name, check_object_name};
use turnout_crds::validate::{ViolationKind, validate_metadata_name};

/// Names that must never become a file name or a label.
const HOSTILE: &[&str] = &[
    "../../x",
    "/etc/docker/daemon",
    "a/b",
    ".",
    "..",
    "a\0b",
    "a\nb",
    "a\rb",
    "a\tb",
    "a b",
    "Future-To-Dao",
    "FUTURE",
    "",
    "-a",
    "a-",
    ".a",
    "a.",
    "a..b",
    "a.-b",
    "a-.b",
    "dåo",
    "a\u{202e}b",
    "a;rm -rf /",
    "a$(id)",
    "a\\b",
    "a_b",
    "a:b",
];

/// Names Kubernetes and turnout accept, including what the operator
/// generates for a switch and what the examples and tests use.
const FINE: &[&str] = &[
    "a",
    "0",
    "p",
    "host",
    "three-versions",
    "demo-host",
    "future-to-dao",
    "host-future-to-dao-3",
    "default.copy-a-to-b.d-9",
    "a.b.c",
    "1-2",
];

#[test]
fn hostile_datasync_names_are_refused_by_the_operator_check() {
    for name in HOSTILE {
        let e = check_datasync_name(name)
            .expect_err(&format!("{name:?} must be refused as a DataSync name"));
        let shown = e.to_string();
        assert!(
            !shown.contains('\n') && !shown.contains('\0') && !shown.contains('\r'),
            "the message for {name:?} carries the raw name: {shown:?}"
        );
    }
}

#[test]
fn kubernetes_object_names_are_accepted() {
    for name in FINE {
        assert_eq!(check_datasync_name(name), Ok(()), "{name:?}");
        assert_eq!(check_object_name(name), Ok(()), "{name:?}");
        for kind in [ObjectKind::PortPlan, ObjectKind::VersionSelection] {
            assert_eq!(kind.check_name(name), Ok(()), "{kind} {name:?}");
        }
    }
}

#[test]
fn each_refusal_says_which_rule() {
    let reason = |n: &str| check_datasync_name(n).map_err(|e| e.reason());
    assert_eq!(reason(""), Err("NameEmpty"));
    assert_eq!(reason("../../x"), Err("NameCharacter"));
    assert_eq!(reason("Shop"), Err("NameCharacter"));
    assert_eq!(reason(".."), Err("NameEdge"));
    assert_eq!(reason("a..b"), Err("NameEdge"));
    assert_eq!(reason(&"a".repeat(254)), Err("NameTooLong"));
    assert!(matches!(
        check_datasync_name("a/b"),
        Err(NameError::Character { bad: '/', .. })
    ));
}

#[test]
fn datasync_names_may_be_253_characters_plans_and_selections_63() {
    let at = |n: usize| "a".repeat(n);
    assert_eq!(check_datasync_name(&at(253)), Ok(()));
    assert!(check_datasync_name(&at(254)).is_err());
    for kind in [ObjectKind::PortPlan, ObjectKind::VersionSelection] {
        assert_eq!(kind.check_name(&at(63)), Ok(()), "{kind}");
        let e = kind.check_name(&at(64)).expect_err("64 is too long");
        assert_eq!(e.reason(), "NameTooLong", "{kind}");
        assert!(e.to_string().contains("the limit is 63"), "{e}");
    }
}

#[test]
fn a_very_long_hostile_name_is_shown_short() {
    let name = format!("{}\n", "A".repeat(100_000));
    let e = check_datasync_name(&name).expect_err("refused");
    assert!(e.to_string().len() < 400, "{} bytes", e.to_string().len());
}

fn yaml_quoted(name: &str) -> String {
    // serde_json's string escapes (\n, \u0000, ...) are valid YAML double-quoted escapes.
    serde_json::to_string(name).expect("a string serializes")
}

const PLAN: &str = "apiVersion: turnout.dev/v1alpha1\nkind: PortPlan\nmetadata: {name: p}\nspec:\n  versions:\n    - {name: future}\n    - {name: dao}\n";

fn sync_doc(name: &str) -> String {
    format!(
        "---\napiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {{name: {}}}\nspec: {{planRef: p, from: future, to: dao}}\n",
        yaml_quoted(name)
    )
}

#[test]
fn the_loader_refuses_a_hostile_datasync_name_naming_the_document() {
    for name in HOSTILE.iter().filter(|n| !n.is_empty()) {
        let text = format!("{PLAN}{}", sync_doc(name));
        let e = Documents::parse(Path::new("desired.yaml"), &text)
            .expect_err(&format!("DataSync {name:?} must be refused"));
        let LoadError::InvalidName { document, kind, .. } = &e else {
            panic!("{name:?}: expected InvalidName, got {e:?}");
        };
        assert_eq!((*document, *kind), (2, ObjectKind::DataSync), "{name:?}");
        assert_eq!(e.reason(), "InvalidName");
        let shown = e.to_string();
        assert!(
            shown.starts_with(
                "desired.yaml: document 2: metadata.name: this DataSync's name is refused: "
            ),
            "{shown}"
        );
        assert!(shown.contains("rename the DataSync"), "{shown}");
        assert!(!shown.contains('\n') && !shown.contains('\0'), "{shown:?}");
    }
}

#[test]
fn the_loader_refuses_plan_and_selection_names_turnout_cannot_use_as_labels() {
    let long = "a".repeat(64);
    let plan = PLAN.replace("name: p}", &format!("name: {long}}}"));
    let e = Documents::parse(Path::new("f.yaml"), &plan).expect_err("64 characters");
    assert!(
        matches!(
            &e,
            LoadError::InvalidName {
                document: 1,
                kind: ObjectKind::PortPlan,
                ..
            }
        ),
        "{e:?}"
    );
    let selection = format!(
        "{PLAN}---\napiVersion: turnout.dev/v1alpha1\nkind: VersionSelection\nmetadata: {{name: Host}}\nspec: {{planRef: p, activeVersion: future}}\n"
    );
    let e = Documents::parse(Path::new("f.yaml"), &selection).expect_err("upper case");
    assert!(
        matches!(
            &e,
            LoadError::InvalidName {
                document: 2,
                kind: ObjectKind::VersionSelection,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn the_loader_accepts_kubernetes_names() {
    for name in FINE {
        let text = format!("{PLAN}{}", sync_doc(name));
        let docs = Documents::parse(Path::new("f.yaml"), &text)
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert_eq!(docs.syncs[0].value.metadata.name.as_deref(), Some(*name));
    }
}

#[test]
fn the_operator_gets_the_same_violation_for_a_name_from_the_api() {
    let v = validate_metadata_name(ObjectKind::DataSync, "../../x").expect("refused");
    assert_eq!(v.kind, ViolationKind::InvalidName);
    assert_eq!(v.path, "metadata.name");
    assert_eq!(v.subjects, vec!["\"../../x\"".to_string()]);
    assert_eq!(
        validate_metadata_name(ObjectKind::DataSync, "future-to-dao"),
        None
    );
}

#[test]
fn every_hostile_datasync_name_is_a_violation_at_metadata_name() {
    for name in HOSTILE {
        let v = validate_metadata_name(ObjectKind::DataSync, name)
            .unwrap_or_else(|| panic!("{name:?} must be refused"));
        assert_eq!(v.kind, ViolationKind::InvalidName, "{name:?}");
        assert_eq!(v.path, "metadata.name");
        assert!(
            v.message.starts_with("this DataSync's name is refused: ")
                && v.message.contains("a file of that name"),
            "{}",
            v.message
        );
    }
    for name in FINE {
        assert_eq!(validate_metadata_name(ObjectKind::DataSync, name), None);
    }
}

#[test]
fn plan_and_selection_names_over_63_are_violations_at_metadata_name() {
    for kind in [ObjectKind::PortPlan, ObjectKind::VersionSelection] {
        let v = validate_metadata_name(kind, &"a".repeat(64)).expect("64 is too long");
        assert_eq!(
            (v.kind, v.path.as_str()),
            (ViolationKind::InvalidName, "metadata.name")
        );
        assert_eq!(
            validate_metadata_name(kind, &"a".repeat(63)),
            None,
            "{kind}"
        );
    }
    assert_eq!(
        validate_metadata_name(ObjectKind::DataSync, &"c".repeat(253)),
        None
    );
}
