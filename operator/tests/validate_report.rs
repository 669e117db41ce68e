//! `turnout validate`'s report: one report per document, naming its file,
//! position, kind and name; selections and syncs checked against the plan
//! they name among the documents given (or told to pass that file too);
//! every document's name checked first; messages bounded however many
//! documents there are.

use std::path::Path;

use turnout::commands::validate::{DocumentReport, validate_documents};
use turnout_crds::load::Documents;
use turnout_crds::validate::ViolationKind;

const PLAN: &str = "\
apiVersion: turnout.dev/v1alpha1
kind: PortPlan
metadata:
  name: p
spec:
  infrastructure:
    - name: test-mysql
      image: mysql:8.0
      ports:
        - {host: 3306, container: 3306}
  versions:
    - name: future
      ranges:
        - {name: services, from: 8000, to: 8099}
      containers:
        - name: future-service-1
          image: example/future-app:1.0
          ports:
            - {host: 8001, container: 8080, range: services}
    - name: dao
";

fn selection(plan_ref: &str, active: &str) -> String {
    format!(
        "---\napiVersion: turnout.dev/v1alpha1\nkind: VersionSelection\nmetadata:\n  name: host\nspec:\n  planRef: {plan_ref}\n  activeVersion: {active}\n"
    )
}

fn sync(plan_ref: &str, from: &str, to: &str) -> String {
    format!(
        "---\napiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata: {{name: s}}\nspec: {{planRef: {plan_ref}, from: {from}, to: {to}}}\n"
    )
}

fn parse(text: &str) -> Documents {
    Documents::parse(Path::new("plan.yaml"), text).unwrap_or_else(|e| panic!("{e}"))
}

fn example(name: &str) -> std::path::PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples")).join(name)
}

#[test]
fn a_valid_plan_selection_and_sync_get_one_clean_report_each() {
    let reports = validate_documents(&parse(&format!(
        "{PLAN}{}{}",
        selection("p", "future"),
        sync("p", "future", "dao")
    )));
    let seen: Vec<(&str, &str, usize, usize)> = reports
        .iter()
        .map(|r| (r.kind, r.name.as_str(), r.document, r.violations.len()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("PortPlan", "p", 1, 0),
            ("VersionSelection", "host", 2, 0),
            ("DataSync", "s", 3, 0)
        ]
    );
}

#[test]
fn a_selection_of_a_version_the_plan_lacks_is_refused_after_loading() {
    let reports = validate_documents(&parse(&format!("{PLAN}{}", selection("p", "nft"))));
    assert_eq!(reports.len(), 2);
    assert!(
        reports[0].violations.is_empty(),
        "{:?}",
        reports[0].violations
    );
    let sel = &reports[1];
    assert_eq!(
        (sel.kind, sel.name.as_str(), sel.document),
        ("VersionSelection", "host", 2)
    );
    assert_eq!(sel.file, "plan.yaml");
    assert_eq!(sel.violations.len(), 1, "{:?}", sel.violations);
    let v = &sel.violations[0];
    assert_eq!(v.kind, ViolationKind::UnknownVersion);
    assert_eq!(v.path, "spec.activeVersion");
    assert_eq!(v.subjects, vec!["nft"]);
    assert!(
        v.message.contains("future"),
        "lists the plan's versions: {}",
        v.message
    );
}

#[test]
fn a_selection_of_a_plan_not_given_is_refused_after_loading() {
    let reports = validate_documents(&parse(&format!("{PLAN}{}", selection("q", "future"))));
    let v = &reports[1].violations[0];
    assert_eq!(v.kind, ViolationKind::UnknownPlan);
    assert_eq!(v.path, "spec.planRef");
    assert_eq!(v.subjects, vec!["q"]);
    assert!(
        v.message.contains("(p)"),
        "names the plans given: {}",
        v.message
    );
}

#[test]
fn a_sync_into_itself_is_refused_after_loading() {
    let reports = validate_documents(&parse(&format!("{PLAN}{}", sync("p", "future", "future"))));
    let r = &reports[1];
    assert_eq!(r.kind, "DataSync");
    assert_eq!(r.violations.len(), 1, "{:?}", r.violations);
    assert_eq!(r.violations[0].kind, ViolationKind::Empty);
}

#[test]
fn a_sync_of_a_plan_not_given_is_refused_too() {
    let reports = validate_documents(&parse(&sync("q", "future", "dao")));
    assert_eq!(reports.len(), 1);
    let v = &reports[0].violations;
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].kind, ViolationKind::UnknownPlan);
    assert!(v[0].message.contains("(none)"), "{}", v[0].message);
}

#[test]
fn the_selection_example_alone_names_a_plan_it_was_not_given() {
    let docs = Documents::read(&example("version-selection.yaml")).expect("parses");
    let reports = validate_documents(&docs);
    assert_eq!(reports.len(), 1);
    let v = &reports[0].violations;
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].kind, ViolationKind::UnknownPlan);
    assert!(
        v[0].message.contains("pass the file that holds it"),
        "{}",
        v[0].message
    );
}

#[test]
fn a_missing_plan_is_named_against_a_few_of_many() {
    let mut text = String::new();
    for i in 0..100 {
        text.push_str(&format!(
            "---\napiVersion: turnout.dev/v1alpha1\nkind: PortPlan\nmetadata: {{name: p{i}}}\nspec: {{versions: [{{name: a}}]}}\n"
        ));
    }
    text.push_str(&selection("nope", "a"));
    let reports = validate_documents(&parse(&text));
    let selection = reports.last().expect("a report per document");
    assert_eq!(selection.violations.len(), 1);
    let message = &selection.violations[0].message;
    assert!(message.contains("p7 and 92 more"), "{message}");
    assert!(message.len() < 250, "{} bytes", message.len());
}

/// The documents as they would be assembled from the API, bypassing the
/// loader (which refuses such names itself), with the names given.
fn named(plan: &str, selection_name: &str, sync_name: &str) -> Documents {
    let mut docs = parse(&format!(
        "{PLAN}{}{}",
        selection("p", "future"),
        sync("p", "future", "dao")
    ));
    docs.plans[0].value.metadata.name = Some(plan.to_string());
    docs.selections[0].value.metadata.name = Some(selection_name.to_string());
    docs.selections[0].value.spec.plan_ref = plan.to_string();
    docs.syncs[0].value.metadata.name = Some(sync_name.to_string());
    docs.syncs[0].value.spec.plan_ref = plan.to_string();
    docs
}

#[test]
fn a_hostile_datasync_name_is_reported_at_metadata_name() {
    for name in [
        "../../x",
        "/etc/docker/daemon",
        "..",
        "a\0b",
        "a\nb",
        "a\tb",
        "Future-To-Dao",
        "",
        "a;rm -rf /",
        "a$(id)",
    ] {
        let reports = validate_documents(&named("shop", "host", name));
        assert_eq!(reports.len(), 3);
        for r in &reports[..2] {
            assert!(r.violations.is_empty(), "{}: {:?}", r.kind, r.violations);
        }
        let sync = &reports[2];
        assert_eq!(sync.kind, "DataSync");
        assert_eq!(sync.violations.len(), 1, "{name:?}: {:?}", sync.violations);
        let v = &sync.violations[0];
        assert_eq!(v.kind, ViolationKind::InvalidName, "{name:?}");
        assert_eq!(v.path, "metadata.name");
        assert!(
            v.message.starts_with("this DataSync's name is refused: ")
                && v.message.contains("a file of that name"),
            "{}",
            v.message
        );
    }
}

#[test]
fn plan_and_selection_names_over_63_are_reported() {
    let long = "a".repeat(64);
    let reports = validate_documents(&named(&long, &long, "ok"));
    let name_faults: Vec<(&str, &str)> = reports
        .iter()
        .flat_map(|r| r.violations.iter().map(move |v| (r.kind, v.path.as_str())))
        .filter(|(_, path)| *path == "metadata.name")
        .collect();
    assert_eq!(
        name_faults,
        vec![
            ("PortPlan", "metadata.name"),
            ("VersionSelection", "metadata.name")
        ]
    );
    let fine = validate_documents(&named(&"a".repeat(63), &"b".repeat(63), &"c".repeat(253)));
    assert!(
        fine.iter()
            .all(|r: &DocumentReport| r.violations.is_empty()),
        "{fine:?}"
    );
}
