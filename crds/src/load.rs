//! Loading turnout documents from YAML.
//!
//! A file holds the same documents `kubectl apply` takes: any number of
//! `PortPlan`, `VersionSelection` and `DataSync` documents separated by `---`.
//! Unknown fields are errors, so a typo is never silently ignored; every parse
//! error names the file, the document and the line and column. Alias expansion
//! runs under a budget, so a hostile "billion laughs" file fails fast.

use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::API_VERSION;
use crate::datasync::{DataSync, DataSyncSpec};
use crate::plan::{PortPlan, PortPlanSpec};
use crate::selection::{VersionSelection, VersionSelectionSpec};

/// Largest file turnout reads as a plan: far above any real plan.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Why a file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{file}: the file is {size} bytes; turnout reads plans of at most {MAX_FILE_BYTES} bytes"
    )]
    TooLarge { file: PathBuf, size: u64 },
    #[error("{file}:{line}:{column}: document {document}: {message}")]
    Parse {
        file: PathBuf,
        document: usize,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("{file}: document {document}: {message}")]
    Document {
        file: PathBuf,
        document: usize,
        message: String,
    },
    #[error(
        "{file}: the file holds no documents; expected a PortPlan and a VersionSelection (kind: PortPlan / kind: VersionSelection)"
    )]
    Empty { file: PathBuf },
    #[error(
        "{file}: {kind} {name:?} is defined twice (also in {other}); names are unique per kind"
    )]
    Duplicate {
        file: PathBuf,
        kind: &'static str,
        name: String,
        other: PathBuf,
    },
}

impl LoadError {
    /// A stable name for metrics labels and condition reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            LoadError::Io { .. } => "ReadFailed",
            LoadError::TooLarge { .. } => "FileTooLarge",
            LoadError::Parse { .. } | LoadError::Document { .. } => "ParseError",
            LoadError::Empty { .. } => "EmptyFile",
            LoadError::Duplicate { .. } => "DuplicateName",
        }
    }
}

/// One parsed document of any turnout kind (short-lived: sorted by kind right after parsing).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Document {
    PortPlan(PortPlan),
    VersionSelection(VersionSelection),
    DataSync(DataSync),
}

/// The documents of one or more files, by kind, each with the file it came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Documents {
    pub plans: Vec<Sourced<PortPlan>>,
    pub selections: Vec<Sourced<VersionSelection>>,
    pub syncs: Vec<Sourced<DataSync>>,
}

/// A document and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Sourced<T> {
    pub file: PathBuf,
    pub document: usize,
    pub value: T,
}

impl Documents {
    /// Reads and parses one file.
    pub fn read(path: &Path) -> Result<Documents, LoadError> {
        let io = |source| LoadError::Io {
            file: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_FILE_BYTES {
            return Err(LoadError::TooLarge {
                file: path.to_path_buf(),
                size,
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Documents::parse(path, &text)
    }

    /// Reads several files into one set of documents.
    pub fn read_all<P: AsRef<Path>>(paths: &[P]) -> Result<Documents, LoadError> {
        let mut all = Documents::default();
        for p in paths {
            all.merge(Documents::read(p.as_ref())?)?;
        }
        Ok(all)
    }

    /// Parses the text of a file; `file` is only used in messages.
    pub fn parse(file: &Path, text: &str) -> Result<Documents, LoadError> {
        let docs: Vec<Document> = serde_saphyr::from_multiple_with_options(text, parse_options())
            .map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            LoadError::Parse {
                file: file.to_path_buf(),
                document: document_at_line(text, line),
                line,
                column,
                message: message_of(&e),
            }
        })?;
        if docs.is_empty() {
            return Err(LoadError::Empty {
                file: file.to_path_buf(),
            });
        }
        let mut out = Documents::default();
        for (i, doc) in docs.into_iter().enumerate() {
            let file = file.to_path_buf();
            let document = i + 1;
            match doc {
                Document::PortPlan(value) => out.plans.push(Sourced {
                    file,
                    document,
                    value,
                }),
                Document::VersionSelection(value) => out.selections.push(Sourced {
                    file,
                    document,
                    value,
                }),
                Document::DataSync(value) => out.syncs.push(Sourced {
                    file,
                    document,
                    value,
                }),
            }
        }
        let mut checked = Documents::default();
        checked.merge(out)?;
        Ok(checked)
    }

    /// Adds the documents of `other`, refusing a second document of the same kind and name.
    pub fn merge(&mut self, other: Documents) -> Result<(), LoadError> {
        fn add<T: kube::Resource>(
            into: &mut Vec<Sourced<T>>,
            from: Vec<Sourced<T>>,
            kind: &'static str,
        ) -> Result<(), LoadError> {
            for d in from {
                let name = d.value.meta().name.clone().unwrap_or_default();
                if let Some(prev) = into
                    .iter()
                    .find(|p| p.value.meta().name.as_deref() == Some(name.as_str()))
                {
                    return Err(LoadError::Duplicate {
                        file: d.file.clone(),
                        kind,
                        name,
                        other: prev.file.clone(),
                    });
                }
                into.push(d);
            }
            Ok(())
        }
        add(&mut self.plans, other.plans, "PortPlan")?;
        add(&mut self.selections, other.selections, "VersionSelection")?;
        add(&mut self.syncs, other.syncs, "DataSync")?;
        Ok(())
    }

    /// The plan of that name.
    pub fn plan(&self, name: &str) -> Option<&Sourced<PortPlan>> {
        self.plans
            .iter()
            .find(|p| p.value.metadata.name.as_deref() == Some(name))
    }
}

fn parse_options() -> serde_saphyr::Options {
    let budget = serde_saphyr::budget! {
        max_aliases: 1_000,
        max_anchors: 1_000,
        max_events: 500_000,
        max_recorded_anchor_events: 100_000,
        max_depth: 64,
        max_documents: 1_000,
        max_total_scalar_bytes: 16 * 1024 * 1024,
    };
    serde_saphyr::options! {
        budget: budget,
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 32,
            max_alias_expansions_per_anchor: 1_000,
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        with_snippet: false,
    }
}

/// The message of a parse error without the location, which we print ourselves.
fn message_of(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::MessageFormatter;
    let text = serde_saphyr::UserMessageFormatter
        .format_message(e)
        .into_owned();
    if text.contains("limits breached") || text.contains("budget") {
        return format!(
            "the YAML exceeds turnout's parsing budget (too many aliases, anchors, events or nesting levels); a plan never needs that many, so the file is refused ({text})"
        );
    }
    text
}

/// 1-based index of the document that contains `line` (1-based).
fn document_at_line(text: &str, line: u64) -> usize {
    let mut doc = 1;
    let mut seen_content = false;
    for (i, l) in text.lines().enumerate() {
        if (i as u64) + 1 >= line {
            break;
        }
        if l.starts_with("---") {
            if seen_content {
                doc += 1;
            }
            seen_content = false;
            continue;
        }
        let t = l.trim();
        if !t.is_empty() && !t.starts_with('#') {
            seen_content = true;
        }
    }
    doc
}

const TOP_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];
const KINDS: &[&str] = &["PortPlan", "VersionSelection", "DataSync"];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    PortPlan,
    VersionSelection,
    DataSync,
}

enum Spec {
    PortPlan(PortPlanSpec),
    VersionSelection(VersionSelectionSpec),
    DataSync(DataSyncSpec),
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a turnout document (apiVersion, kind, metadata, spec)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut api_version: Option<ApiVersion> = None;
        let mut kind: Option<Kind> = None;
        let mut metadata: Option<ObjectMeta> = None;
        let mut spec: Option<Spec> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                // Checked inside nested deserializers so the errors carry a location.
                "apiVersion" => api_version = Some(map.next_value::<ApiVersion>()?),
                "kind" => kind = Some(map.next_value::<Kind>()?),
                "metadata" => metadata = Some(map.next_value()?),
                "spec" => {
                    spec = Some(match kind {
                        Some(Kind::PortPlan) => Spec::PortPlan(map.next_value()?),
                        Some(Kind::VersionSelection) => Spec::VersionSelection(map.next_value()?),
                        Some(Kind::DataSync) => Spec::DataSync(map.next_value()?),
                        None => match map.next_value::<SpecBeforeKind>()? {},
                    })
                }
                // A status (e.g. from `kubectl get -o yaml`) is accepted and ignored:
                // status is observed, never desired.
                "status" => {
                    map.next_value::<IgnoredAny>()?;
                }
                other => return Err(de::Error::unknown_field(other, TOP_FIELDS)),
            }
        }
        if api_version.is_none() {
            return Err(de::Error::missing_field("apiVersion"));
        }
        let kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
        let metadata = metadata.ok_or_else(|| de::Error::missing_field("metadata"))?;
        match metadata.name.as_deref() {
            Some(n) if !n.is_empty() => {}
            _ => return Err(de::Error::missing_field("metadata.name")),
        }
        let _ = kind;
        let spec = spec.ok_or_else(|| de::Error::missing_field("spec"))?;
        Ok(match spec {
            Spec::PortPlan(spec) => Document::PortPlan(PortPlan { metadata, spec }),
            Spec::VersionSelection(spec) => Document::VersionSelection(VersionSelection {
                metadata,
                spec,
                status: None,
            }),
            Spec::DataSync(spec) => Document::DataSync(DataSync {
                metadata,
                spec,
                status: None,
            }),
        })
    }
}

struct ApiVersion;

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = String::deserialize(d)?;
        if v == API_VERSION {
            Ok(ApiVersion)
        } else {
            Err(de::Error::custom(format!(
                "apiVersion is {v:?}; turnout documents use {API_VERSION:?}"
            )))
        }
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let k = String::deserialize(d)?;
        match k.as_str() {
            "PortPlan" => Ok(Kind::PortPlan),
            "VersionSelection" => Ok(Kind::VersionSelection),
            "DataSync" => Ok(Kind::DataSync),
            _ => Err(de::Error::unknown_variant(&k, KINDS)),
        }
    }
}

/// A `spec` met before `kind`: refused at its line, because the spec's
/// fields are typed by the kind (reading it untyped would turn `name: 2024`
/// into a number).
enum SpecBeforeKind {}

impl<'de> Deserialize<'de> for SpecBeforeKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_ignored_any(IgnoredAny)?;
        Err(de::Error::custom(
            "`spec` comes before `kind`; put apiVersion and kind first in the document (as kubectl writes them)",
        ))
    }
}
