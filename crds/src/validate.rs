//! Validation of a plan, a selection and a sync: pure functions over the API
//! types, returning every violation found (not just the first), each with
//! the path of the offending field and a sentence a person understands.

mod binds;
mod container;
mod data;
mod limits;
mod metadata;
mod notify;
mod ports;
mod switching;
mod sync;

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::names;
use crate::plan::{ContainerSpec, PortPlanSpec};
use crate::selection::VersionSelectionSpec;

use container::check_container;
use data::check_data_bindings;
pub use data::{MAX_DATABASE_NAME, database_name_ok, database_name_problem};
pub use limits::{
    MAX_CONTAINERS, MAX_DATA_BINDINGS, MAX_PUBLISHED_PORTS, MAX_RANGES, MAX_VERSIONS,
    MAX_VIOLATIONS, first_few,
};
pub use metadata::validate_metadata_name;
pub use notify::{MAX_NOTIFICATIONS, sink_name_problem};
use ports::{
    check_port_conflicts, check_port_ranges, check_ranges, check_ranges_across_versions,
    check_ranges_against_infrastructure,
};
pub use switching::MAX_PROGRESS_DEADLINE_SECONDS;
pub use sync::validate_sync;

/// The rule a violation breaks; a stable name for metrics and reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ViolationKind {
    /// Two things that run at the same time publish the same host port.
    PortConflict,
    /// A published port lies outside the range it names.
    PortOutsideRange,
    /// A published port names a range its version does not have.
    UnknownRange,
    /// A version's published port names no range.
    MissingRange,
    /// Two ranges of one version overlap.
    RangeOverlap,
    /// A range ends before it starts.
    RangeInverted,
    /// A version's range contains a port the infrastructure publishes.
    RangeCoversInfrastructurePort,
    /// Ranges of versions that may run together overlap.
    RangeCollision,
    /// Two things that must have distinct names share one.
    DuplicateName,
    /// A name Docker (or a label) would refuse.
    InvalidName,
    /// A reference to a container the plan does not have.
    UnknownContainer,
    /// A reference to a version the plan does not have.
    UnknownVersion,
    /// A selection or sync names a plan other than the one given.
    UnknownPlan,
    /// A readiness probe that cannot work.
    InvalidProbe,
    /// A data binding that cannot be synced.
    InvalidDataBinding,
    /// A secret with no single source, or a bad path.
    InvalidSecret,
    /// A plain environment variable that looks like it carries a secret.
    SecretInEnvironment,
    /// An empty or malformed image reference, command or mount.
    InvalidContainer,
    /// A bind mount of a host path a container must not have, or a path
    /// mounted twice.
    InvalidMount,
    /// A notification sink with a bad name, an unknown event or no single URL source.
    InvalidNotification,
    /// A DataSync's source (another environment) cannot be used.
    InvalidSource,
    /// A switch strategy the plan cannot use, or a rollback out of bounds.
    InvalidSwitch,
    /// A plan without versions, or a sync that goes nowhere.
    Empty,
    /// A plan bigger than turnout checks (see [`MAX_VERSIONS`] and the other limits).
    TooLarge,
    /// More violations than turnout reports at once ([`MAX_VIOLATIONS`]).
    TooManyViolations,
}

impl ViolationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::PortConflict => "PortConflict",
            ViolationKind::PortOutsideRange => "PortOutsideRange",
            ViolationKind::UnknownRange => "UnknownRange",
            ViolationKind::MissingRange => "MissingRange",
            ViolationKind::RangeOverlap => "RangeOverlap",
            ViolationKind::RangeInverted => "RangeInverted",
            ViolationKind::RangeCoversInfrastructurePort => "RangeCoversInfrastructurePort",
            ViolationKind::RangeCollision => "RangeCollision",
            ViolationKind::DuplicateName => "DuplicateName",
            ViolationKind::InvalidName => "InvalidName",
            ViolationKind::UnknownContainer => "UnknownContainer",
            ViolationKind::UnknownVersion => "UnknownVersion",
            ViolationKind::UnknownPlan => "UnknownPlan",
            ViolationKind::InvalidSource => "InvalidSource",
            ViolationKind::InvalidProbe => "InvalidProbe",
            ViolationKind::InvalidDataBinding => "InvalidDataBinding",
            ViolationKind::InvalidSecret => "InvalidSecret",
            ViolationKind::SecretInEnvironment => "SecretInEnvironment",
            ViolationKind::InvalidContainer => "InvalidContainer",
            ViolationKind::InvalidMount => "InvalidMount",
            ViolationKind::InvalidSwitch => "InvalidSwitch",
            ViolationKind::InvalidNotification => "InvalidNotification",
            ViolationKind::Empty => "Empty",
            ViolationKind::TooLarge => "TooLarge",
            ViolationKind::TooManyViolations => "TooManyViolations",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which rule.
    pub kind: ViolationKind,
    /// The offending field, e.g. `spec.versions[2].containers[0].ports[0].host`.
    pub path: String,
    /// The names of the things involved (both sides of a collision).
    pub subjects: Vec<String>,
    /// The port involved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// What is wrong and what to do, for a person.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Collects violations while walking a document.
#[derive(Default)]
struct Report {
    found: Vec<Violation>,
    /// Whether a violation was dropped because the report was full.
    dropped: bool,
}

impl Report {
    fn push(&mut self, kind: ViolationKind, path: impl Into<String>, message: impl Into<String>) {
        if self.full() {
            self.dropped = true;
            return;
        }
        self.found.push(Violation {
            kind,
            path: path.into(),
            subjects: Vec::new(),
            port: None,
            message: message.into(),
        });
    }

    fn push_full(
        &mut self,
        kind: ViolationKind,
        path: String,
        subjects: Vec<String>,
        port: Option<u16>,
        message: String,
    ) {
        if self.full() {
            self.dropped = true;
            return;
        }
        self.found.push(Violation {
            kind,
            path,
            subjects,
            port,
            message,
        });
    }
}

/// Who runs a container: the infrastructure (always) or a version.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner<'a> {
    Infrastructure,
    /// The version's index in the plan, and its name.
    Version(usize, &'a str),
}

/// A container of the plan and where it sits.
struct Placed<'a> {
    owner: Owner<'a>,
    path: String,
    spec: &'a ContainerSpec,
}

impl Placed<'_> {
    fn describe(&self) -> String {
        match self.owner {
            Owner::Infrastructure => format!("infrastructure container {}", self.spec.name),
            Owner::Version(_, v) => format!("container {} of version {v}", self.spec.name),
        }
    }
}

fn placed(plan: &PortPlanSpec) -> Vec<Placed<'_>> {
    let mut all: Vec<Placed> = plan
        .infrastructure
        .iter()
        .enumerate()
        .map(|(i, spec)| Placed {
            owner: Owner::Infrastructure,
            path: format!("spec.infrastructure[{i}]"),
            spec,
        })
        .collect();
    for (vi, v) in plan.versions.iter().enumerate() {
        for (ci, spec) in v.containers.iter().enumerate() {
            all.push(Placed {
                owner: Owner::Version(vi, &v.name),
                path: format!("spec.versions[{vi}].containers[{ci}]"),
                spec,
            });
        }
    }
    all
}

/// Every violation of the plan's rules; empty when the plan is valid.
pub fn validate_plan(plan: &PortPlanSpec) -> Vec<Violation> {
    let too_large = limits::plan_size_violations(plan);
    if !too_large.is_empty() {
        return too_large;
    }
    let mut r = Report::default();
    let containers = placed(plan);
    if plan.versions.is_empty() {
        r.push(
            ViolationKind::Empty,
            "spec.versions",
            "the plan has no versions; add at least one under spec.versions",
        );
    }
    check_version_names(plan, &mut r);
    check_container_names(&containers, &mut r);
    for c in &containers {
        check_container(c, &mut r);
    }
    for (vi, v) in plan.versions.iter().enumerate() {
        check_ranges(vi, &v.name, &v.ranges, &mut r);
    }
    check_port_ranges(plan, &containers, &mut r);
    check_port_conflicts(plan, &containers, &mut r);
    check_ranges_against_infrastructure(plan, &mut r);
    if !plan.exclusive_versions {
        check_ranges_across_versions(plan, &mut r);
    }
    check_data_bindings(plan, &mut r);
    switching::check_rollback("spec.rollback", plan.rollback.as_ref(), &mut r);
    notify::check_notifications("spec.notifications", &plan.notifications, &mut r);
    r.finish()
}

fn check_version_names(plan: &PortPlanSpec, r: &mut Report) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, v) in plan.versions.iter().enumerate() {
        let path = format!("spec.versions[{i}].name");
        if let Some(p) = names::label_name_problem(&v.name) {
            r.push(
                ViolationKind::InvalidName,
                &path,
                format!("version name {p}"),
            );
        }
        if let Some(first) = seen.insert(&v.name, i) {
            r.push_full(
                ViolationKind::DuplicateName,
                path,
                vec![v.name.clone()],
                None,
                format!(
                    "version {:?} is defined twice (first at spec.versions[{first}]); version names must be unique",
                    v.name
                ),
            );
        }
    }
}

fn check_container_names(containers: &[Placed], r: &mut Report) {
    let mut seen: HashMap<&str, &Placed> = HashMap::new();
    for c in containers {
        let path = format!("{}.name", c.path);
        if let Some(p) = names::container_name_problem(&c.spec.name) {
            r.push(
                ViolationKind::InvalidName,
                path.clone(),
                format!("container name {p}"),
            );
        }
        if let Some(first) = seen.insert(&c.spec.name, c) {
            r.push_full(
                ViolationKind::DuplicateName,
                path,
                vec![first.describe(), c.describe()],
                None,
                format!(
                    "container name {:?} is used twice ({} at {}); Docker container names are unique on a host, so give each a distinct name",
                    c.spec.name, first.describe(), first.path
                ),
            );
        }
    }
}

/// Violations of a selection against the plan it names.
pub fn validate_selection(
    plan_name: &str,
    plan: &PortPlanSpec,
    selection: &VersionSelectionSpec,
) -> Vec<Violation> {
    let mut r = Report::default();
    if selection.plan_ref != plan_name {
        r.push(
            ViolationKind::UnknownPlan,
            "spec.planRef",
            format!(
                "the selection names plan {:?}, but the plan given is {plan_name:?}",
                selection.plan_ref
            ),
        );
    }
    check_version_ref(
        plan,
        "spec.activeVersion",
        &selection.active_version,
        &mut r,
    );
    switching::check_rollback("spec.rollback", selection.rollback.as_ref(), &mut r);
    switching::check_strategy_for(plan, selection, &mut r);
    notify::check_notifications("spec.notifications", &selection.notifications, &mut r);
    r.finish()
}

fn check_version_ref(plan: &PortPlanSpec, path: &str, name: &str, r: &mut Report) {
    if plan.version(name).is_none() {
        r.push_full(
            ViolationKind::UnknownVersion,
            path.to_string(),
            vec![name.to_string()],
            None,
            format!(
                "version {name:?} is not in the plan; its versions are {}",
                limits::first_few(plan.versions.iter().map(|v| &v.name))
            ),
        );
    }
}
