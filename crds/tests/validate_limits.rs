//! Validation stays cheap on hostile plans: the pairwise rules (a host port
//! published twice, overlapping ranges) cannot turn a plan of a few
//! thousand entries into millions of violations, and a plan past the size
//! limits is refused as too large instead of being checked.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use turnout_crds::load::Documents;
use turnout_crds::validate::{
    MAX_CONTAINERS, MAX_DATA_BINDINGS, MAX_PUBLISHED_PORTS, MAX_RANGES, MAX_VERSIONS,
    MAX_VIOLATIONS, Violation, ViolationKind, validate_plan, validate_selection,
};

/// Far above what the checks take (milliseconds), far below what they took
/// before the limits (minutes, or the machine's memory).
const BOUND: Duration = Duration::from_secs(20);

fn timed(plan: &turnout_crds::PortPlanSpec) -> Vec<Violation> {
    let t = Instant::now();
    let found = validate_plan(plan);
    assert!(t.elapsed() < BOUND, "validation took {:?}", t.elapsed());
    found
}

fn assert_cut(found: &[Violation], kind: ViolationKind) {
    assert_eq!(found.len(), MAX_VIOLATIONS + 1);
    assert!(found[..MAX_VIOLATIONS].iter().all(|v| v.kind == kind));
    let last = &found[MAX_VIOLATIONS];
    assert_eq!(last.kind, ViolationKind::TooManyViolations);
    assert!(
        last.message.contains("fix these and validate again"),
        "{}",
        last.message
    );
}

#[test]
fn overlapping_ranges_report_at_most_the_limit() {
    // 2048 ranges over one span: 2 million overlapping pairs.
    let mut v = version("future");
    for i in 0..MAX_RANGES {
        v = v.range(&format!("r{i}"), 8000, 8099);
    }
    assert_cut(&timed(&plan().version(v)), ViolationKind::RangeOverlap);
}

#[test]
fn one_host_port_published_by_every_port_reports_at_most_the_limit() {
    let mut c = container("test-mysql");
    for _ in 0..MAX_PUBLISHED_PORTS {
        c = c.port(3306, 3306);
    }
    let p = plan().infra(c).version(version("future"));
    assert_cut(&timed(&p), ViolationKind::PortConflict);
}

#[test]
fn ranges_of_versions_that_run_together_report_at_most_the_limit() {
    let mut p = plan().non_exclusive();
    for i in 0..64 {
        let mut v = version(&format!("v{i}"));
        for j in 0..32 {
            v = v.range(&format!("r{j}"), 9000 + j, 9000 + j);
        }
        p = p.version(v);
    }
    assert_cut(&timed(&p), ViolationKind::RangeCollision);
}

#[test]
fn a_plan_at_the_limits_is_checked() {
    let mut p = plan();
    for i in 0..MAX_VERSIONS {
        let name = format!("v{i}");
        p = p.version(version(&name).range("services", 10000 + i as u16, 10000 + i as u16));
    }
    let found = timed(&p);
    assert!(found.is_empty(), "{}", describe(&found));
}

fn too_large(found: &[Violation], what: &str, n: usize, max: usize) {
    let big: Vec<&Violation> = found
        .iter()
        .filter(|v| v.kind == ViolationKind::TooLarge)
        .collect();
    assert_eq!(big.len(), 1, "{}", describe(found));
    assert_eq!(
        found.len(),
        1,
        "only the size is reported:\n{}",
        describe(found)
    );
    assert!(
        big[0].message.contains(&format!("has {n} {what}"))
            && big[0].message.contains(&format!("at most {max}")),
        "{}",
        big[0].message
    );
}

#[test]
fn a_plan_past_each_limit_is_refused_as_too_large() {
    let mut p = plan();
    for i in 0..=MAX_VERSIONS {
        p = p.version(version(&format!("v{i}")));
    }
    too_large(&timed(&p), "versions", MAX_VERSIONS + 1, MAX_VERSIONS);

    let mut p = plan().version(version("future"));
    for i in 0..=MAX_CONTAINERS {
        p = p.infra(container(&format!("c{i}")));
    }
    too_large(&timed(&p), "containers", MAX_CONTAINERS + 1, MAX_CONTAINERS);

    let mut v = version("future");
    for i in 0..=MAX_RANGES {
        v = v.range(&format!("r{i}"), 8000, 8099);
    }
    too_large(
        &timed(&plan().version(v)),
        "port ranges",
        MAX_RANGES + 1,
        MAX_RANGES,
    );

    let mut c = container("test-mysql");
    for _ in 0..=MAX_PUBLISHED_PORTS {
        c = c.port(3306, 3306);
    }
    let p = plan().infra(c).version(version("future"));
    too_large(
        &timed(&p),
        "published ports",
        MAX_PUBLISHED_PORTS + 1,
        MAX_PUBLISHED_PORTS,
    );

    let mut v = version("future");
    for i in 0..=MAX_DATA_BINDINGS {
        v = v.data(commands(&format!("b{i}"), "nowhere"));
    }
    too_large(
        &timed(&plan().version(v)),
        "data bindings",
        MAX_DATA_BINDINGS + 1,
        MAX_DATA_BINDINGS,
    );
}

#[test]
fn a_small_file_of_overlapping_ranges_is_refused_quickly() {
    // About 200 KB of YAML, well inside the loader's budget.
    let mut text = String::from(
        "apiVersion: turnout.dev/v1alpha1\nkind: PortPlan\nmetadata: {name: p}\nspec:\n  versions:\n    - name: future\n      ranges:\n",
    );
    for i in 0..5000 {
        text.push_str(&format!("        - {{name: r{i}, from: 8000, to: 8099}}\n"));
    }
    let t = Instant::now();
    let docs = Documents::parse(Path::new("ranges.yaml"), &text).expect("parses");
    assert_eq!(docs.plans.len(), 1);
    let found = validate_plan(&docs.plans[0].value.spec);
    assert!(t.elapsed() < BOUND, "took {:?}", t.elapsed());
    too_large(&found, "port ranges", 5000, MAX_RANGES);
}

#[test]
fn an_unknown_version_is_named_against_a_few_of_thousands() {
    let mut p = plan();
    for i in 0..5000 {
        p = p.version(version(&format!("v{i}")));
    }
    let found = validate_selection("p", &p, &selection("p", "nope"));
    assert_eq!(found.len(), 1, "{}", describe(&found));
    let message = &found[0].message;
    assert!(
        message.contains("v0, v1, v2, v3, v4, v5, v6, v7 and 4992 more"),
        "{message}"
    );
    assert!(message.len() < 200, "{} bytes", message.len());
}
