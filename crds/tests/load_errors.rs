//! Loading YAML: every broken file is refused with the file, the document,
//! the line and column, and a message naming what is wrong; hostile input
//! fails instead of eating the machine.

mod common;

use std::path::Path;

use common::yaml::{HEAD, SPEC};
use turnout_crds::load::{Documents, LoadError};

fn parse(text: &str) -> Result<Documents, LoadError> {
    Documents::parse(Path::new("plan.yaml"), text)
}

fn parse_err(text: &str) -> LoadError {
    match parse(text) {
        Ok(d) => panic!("expected an error, parsed {} plan(s)", d.plans.len()),
        Err(e) => e,
    }
}

/// The parse error's (document, line, column, message), checking that its
/// Display starts with `plan.yaml:<line>:<column>:`.
fn located(e: &LoadError) -> (usize, u64, u64, String) {
    match e {
        LoadError::Parse {
            file,
            document,
            line,
            column,
            message,
        } => {
            assert_eq!(file, Path::new("plan.yaml"));
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("plan.yaml:{line}:{column}: document {document}: ")),
                "{shown}"
            );
            assert_eq!(e.reason(), "ParseError");
            (*document, *line, *column, message.clone())
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> u64 {
    let i = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not in the text"));
    i as u64 + 1
}

#[test]
fn a_valid_plan_parses() {
    let docs = parse(&format!("{HEAD}{SPEC}")).expect("valid plan");
    assert_eq!(docs.plans.len(), 1);
    assert_eq!(docs.plans[0].document, 1);
    assert_eq!(docs.plans[0].file, Path::new("plan.yaml"));
    assert_eq!(
        docs.plans[0].value.spec.versions[0].containers[0].env[0].value,
        "8080"
    );
}

#[test]
fn a_word_where_a_port_belongs_is_refused_at_its_line() {
    let text = format!("{HEAD}{}", SPEC.replace("from: 8000", "from: abc"));
    let (doc, line, column, _message) = located(&parse_err(&text));
    assert_eq!(doc, 1);
    assert_eq!(line, line_of(&text, "from: abc"));
    assert!(column > 1, "column {column}");
    assert!(
        parse_err(&text)
            .to_string()
            .starts_with(&format!("plan.yaml:{line}:"))
    );
}

#[test]
fn a_misspelt_field_is_named() {
    let text = format!("{HEAD}{}", SPEC.replace("{host: 8001", "{hostt: 8001"));
    let (_, line, _, message) = located(&parse_err(&text));
    assert_eq!(line, line_of(&text, "hostt"));
    assert!(message.contains("unknown field `hostt`"), "{message}");
    assert!(
        message.contains("host"),
        "lists the fields it expected: {message}"
    );
}

#[test]
fn a_misspelt_top_level_field_is_named() {
    let text = format!("{HEAD}{}", SPEC.replace("spec:", "specs:"));
    let (_, line, _, message) = located(&parse_err(&text));
    assert_eq!(line, line_of(&text, "specs:"));
    assert!(message.contains("specs"), "{message}");
}

#[test]
fn a_missing_image_is_named() {
    let text = format!("{HEAD}{}", SPEC.replace("      image: mysql:8.0\n", ""));
    let (_, line, _, message) = located(&parse_err(&text));
    assert!(message.contains("missing field `image`"), "{message}");
    assert!(line >= line_of(&text, "name: test-mysql"), "line {line}");
    assert!(line < line_of(&text, "versions:"), "line {line}");
}

#[test]
fn tabs_for_indentation_are_refused_at_their_line() {
    let text = format!("{HEAD}{}", SPEC.replace("  versions:", "\tversions:"));
    let (_, line, _, message) = located(&parse_err(&text));
    assert_eq!(line, line_of(&text, "\tversions:"));
    assert!(message.contains("tab"), "{message}");
}

#[test]
fn a_key_given_twice_is_refused_at_the_second() {
    let text = format!("{HEAD}{SPEC}  versions: []\n");
    let (_, line, _, message) = located(&parse_err(&text));
    assert_eq!(line, text.lines().count() as u64);
    assert!(message.contains("versions"), "{message}");
}

#[test]
fn a_top_level_key_given_twice_is_refused() {
    let text = format!("{HEAD}kind: DataSync\n{SPEC}");
    let (_, line, _, message) = located(&parse_err(&text));
    assert_eq!(line, 5);
    assert!(message.contains("kind"), "{message}");
}

#[test]
fn an_empty_file_holds_no_documents() {
    for text in ["", "\n", "# nothing yet\n", "---\n", "---\n---\n"] {
        let e = parse_err(text);
        assert!(matches!(e, LoadError::Empty { .. }), "{text:?}: {e:?}");
        assert_eq!(e.reason(), "EmptyFile");
        assert!(e.to_string().starts_with("plan.yaml: "), "{e}");
    }
}

#[test]
fn ports_0_and_70000_are_refused_at_their_line() {
    for (bad, shown) in [
        ("from: 0", "port 0"),
        ("to: 70000", "port 70000"),
        ("from: -1", "port -1"),
    ] {
        let field = bad.split(':').next().unwrap_or_default();
        let good = if field == "from" {
            "from: 8000"
        } else {
            "to: 8099"
        };
        let text = format!("{HEAD}{}", SPEC.replace(good, bad));
        let (_, line, _, message) = located(&parse_err(&text));
        assert_eq!(line, line_of(&text, bad), "{bad}");
        assert!(
            message.contains(shown) && message.contains("1-65535"),
            "{message}"
        );
    }
}

#[test]
fn port_1_and_65535_are_accepted() {
    let text = format!(
        "{HEAD}{}",
        SPEC.replace("from: 8000, to: 8099", "from: 1, to: 65535")
    );
    let docs = parse(&text).expect("ports 1 and 65535 are valid");
    let range = &docs.plans[0].value.spec.versions[0].ranges[0];
    assert_eq!((range.from.get(), range.to.get()), (1, 65535));
}

#[test]
fn an_unknown_kind_is_refused_with_the_known_kinds() {
    let text = format!(
        "{}{SPEC}",
        HEAD.replace("kind: PortPlan", "kind: PortPlann")
    );
    let (_, line, _, message) = located(&parse_err(&text));
    assert_eq!(line, 2);
    assert!(message.contains("PortPlann"), "{message}");
    assert!(
        message.contains("PortPlan")
            && message.contains("VersionSelection")
            && message.contains("DataSync"),
        "{message}"
    );
}

#[test]
fn a_wrong_api_version_is_refused() {
    let text = format!(
        "{}{SPEC}",
        HEAD.replace("turnout.dev/v1alpha1", "turnout.dev/v1")
    );
    let e = parse_err(&text);
    let LoadError::Parse { message, .. } = &e else {
        panic!("expected a parse error, got {e:?}");
    };
    assert!(message.contains("\"turnout.dev/v1\""), "{message}");
    assert!(message.contains("\"turnout.dev/v1alpha1\""), "{message}");
    assert!(e.to_string().starts_with("plan.yaml:"), "{e}");
}

#[test]

fn a_wrong_api_version_is_refused_at_its_line() {
    let text = format!(
        "{}{SPEC}",
        HEAD.replace("turnout.dev/v1alpha1", "turnout.dev/v1")
    );
    let (_, line, _, _) = located(&parse_err(&text));
    assert_eq!(line, 1, "{}", parse_err(&text));
}

#[test]
fn a_missing_api_version_is_named() {
    let text = format!(
        "{}{SPEC}",
        HEAD.replace("apiVersion: turnout.dev/v1alpha1\n", "")
    );
    let (_, _, _, message) = located(&parse_err(&text));
    assert!(message.contains("apiVersion"), "{message}");
}

#[test]
fn a_document_without_a_name_is_refused() {
    let text = format!(
        "{}{SPEC}",
        HEAD.replace("  name: p\n", "  labels: {a: b}\n")
    );
    let (_, _, _, message) = located(&parse_err(&text));
    assert!(message.contains("metadata.name"), "{message}");
}

#[test]
fn an_error_in_the_second_document_reports_document_2() {
    let first = format!("{HEAD}{SPEC}");
    let second = format!("{HEAD}{SPEC}")
        .replace("name: p", "name: q")
        .replace("from: 8000", "from: abc");
    for text in [
        format!("{first}---\n{second}"),
        format!("---\n{first}---\n{second}"),
        format!("# header comment\n---\n{first}---\n# between\n{second}"),
    ] {
        let (doc, line, _, _) = located(&parse_err(&text));
        assert_eq!(doc, 2, "{}", parse_err(&text));
        assert_eq!(
            line,
            text.lines()
                .position(|l| l.contains("from: abc"))
                .map_or(0, |i| i as u64 + 1)
        );
        assert!(parse_err(&text).to_string().contains("document 2:"));
    }
}

#[test]
fn documents_are_numbered_in_file_order() {
    let text = format!(
        "{HEAD}{SPEC}---\n{}",
        "apiVersion: turnout.dev/v1alpha1\nkind: VersionSelection\nmetadata: {name: host}\nspec: {planRef: p, activeVersion: future}\n"
    );
    let docs = parse(&text).expect("plan and selection");
    assert_eq!(docs.plans[0].document, 1);
    assert_eq!(docs.selections[0].document, 2);
    assert_eq!(docs.selections[0].value.spec.active_version, "future");
    assert!(
        docs.selections[0].value.spec.sync_on_switch,
        "syncOnSwitch defaults to true"
    );
}

#[test]

fn a_wrong_api_version_in_the_second_document_reports_document_2() {
    let first = format!("{HEAD}{SPEC}");
    let second = format!("{HEAD}{SPEC}")
        .replace("name: p", "name: q")
        .replace("turnout.dev/v1alpha1", "turnout.dev/v2");
    let e = parse_err(&format!("{first}---\n{second}"));
    let (doc, _, _, _) = located(&e);
    assert_eq!(doc, 2, "{e}");
}

#[test]
fn spec_before_kind_is_refused_at_its_line_with_advice() {
    // The spec is typed by the kind; reading it untyped first would turn
    // `name: 2024` into a number, so the loader asks for kind first instead.
    let text = format!("{SPEC}{HEAD}");
    let e = parse_err(&text);
    let (doc, line, _, message) = located(&e);
    assert_eq!(doc, 1);
    // Reported where the spec's value starts: the `spec:` line or the next.
    let spec_line = line_of(&text, "spec:");
    assert!(line == spec_line || line == spec_line + 1, "{e}");
    assert!(message.contains("kind first"), "{message}");
}

#[test]
fn numeric_looking_strings_stay_strings_with_kind_first() {
    let spec = SPEC
        .replace("name: future", "name: 2024")
        .replace("value: '8080'", "value: 8080");
    let docs = parse(&format!("{HEAD}{spec}")).expect("kind first");
    assert_eq!(docs.plans[0].value.spec.versions[0].name, "2024");
    assert_eq!(
        docs.plans[0].value.spec.versions[0].containers[0].env[0].value,
        "8080"
    );
}

#[test]
fn a_status_from_kubectl_get_is_ignored() {
    let text = format!("{HEAD}status:\n  anything: [goes, here]\n{SPEC}");
    let docs = parse(&text).expect("status is ignored");
    assert_eq!(docs.plans.len(), 1);
}

#[test]
fn an_alias_bomb_is_refused() {
    // "Billion laughs": 9 levels of 9 aliases, under `status`, which the
    // loader reads (and skips) in full, so every alias would be expanded.
    let mut text =
        format!("{HEAD}status:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let levels = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in levels.windows(2) {
        let (prev, next) = (w[0], w[1]);
        let refs = vec![format!("*{prev}"); 9].join(", ");
        text.push_str(&format!("  {next}: &{next} [{refs}]\n"));
    }
    text.push_str(SPEC);
    let e = parse_err(&text);
    let (doc, line, _, message) = located(&e);
    assert_eq!(doc, 1);
    assert!(line > 0);
    assert!(message.contains("budget"), "{message}");
}

#[test]
fn an_alias_bomb_in_free_form_metadata_is_refused() {
    // managedFields[].fieldsV1 takes any JSON value, so nothing stops the
    // expansion but the loader's budget.
    let mut text = format!(
        "{}  managedFields:\n    - fieldsV1:\n        a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        HEAD
    );
    let levels = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in levels.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(", ");
        text.push_str(&format!("        {}: &{} [{refs}]\n", w[1], w[1]));
    }
    text.push_str(SPEC);
    let e = parse_err(&text);
    let (_, _, _, message) = located(&e);
    assert!(message.contains("budget"), "{message}");
}

#[test]
fn an_error_through_an_alias_reads_as_a_sentence() {
    let text = format!(
        "{HEAD}status:\n  bad: &bad abc\n{}",
        SPEC.replace("from: 8000", "from: *bad")
    );
    let (_, _, _, message) = located(&parse_err(&text));
    assert!(!message.trim_end().ends_with("(used"), "{message}");
    assert!(!message.contains("(used"), "{message}");
}

#[test]
fn two_plans_of_one_name_are_refused() {
    let text = format!("{HEAD}{SPEC}---\n{HEAD}{SPEC}");
    let e = parse_err(&text);
    assert!(
        matches!(&e, LoadError::Duplicate { kind: "PortPlan", name, .. } if name == "p"),
        "{e:?}"
    );
    assert_eq!(e.reason(), "DuplicateName");
}

#[test]
fn a_missing_file_is_named() {
    let path = Path::new("/nonexistent/turnout/plan.yaml");
    let e = Documents::read(path).expect_err("no such file");
    assert!(matches!(e, LoadError::Io { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("/nonexistent/turnout/plan.yaml: cannot read"),
        "{e}"
    );
}

#[test]
fn a_plan_in_two_files_is_refused_naming_both() {
    let dir = std::env::temp_dir().join(format!("turnout-crds-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let a = dir.join("a.yaml");
    let b = dir.join("b.yaml");
    std::fs::write(&a, format!("{HEAD}{SPEC}")).expect("write a");
    std::fs::write(&b, format!("{HEAD}{SPEC}")).expect("write b");
    let e = Documents::read_all(&[&a, &b]).expect_err("duplicate plan");
    let shown = e.to_string();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        shown.contains("b.yaml") && shown.contains("a.yaml"),
        "{shown}"
    );
}
