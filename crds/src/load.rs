//! Loading turnout documents from YAML.
//!
//! A file holds the same documents `kubectl apply` takes: any number of
//! `PortPlan`, `VersionSelection` and `DataSync` documents separated by `---`.
//! Unknown fields are errors, so a typo is never silently ignored; every parse
//! error names the file, the document and the line and column. Alias expansion
//! runs under a budget, so a hostile "billion laughs" file fails fast.

mod document;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::datasync::DataSync;
use crate::names::{NameError, ObjectKind};
use crate::plan::PortPlan;
use crate::selection::VersionSelection;

pub use document::Document;

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
        "{file}: the file is at least {size} bytes; turnout reads plans of at most {MAX_FILE_BYTES} bytes"
    )]
    TooLarge { file: PathBuf, size: u64 },
    #[error(
        "{file}:{line}: the file is not UTF-8 (an invalid byte after {offset} bytes); save it as UTF-8"
    )]
    NotUtf8 {
        file: PathBuf,
        line: u64,
        offset: usize,
    },
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
    #[error("{file}: document {document}: metadata.name: {}", .kind.name_refused(.source))]
    InvalidName {
        file: PathBuf,
        document: usize,
        kind: ObjectKind,
        #[source]
        source: NameError,
    },
}

impl LoadError {
    /// A stable name for metrics labels and condition reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            LoadError::Io { .. } => "ReadFailed",
            LoadError::TooLarge { .. } => "FileTooLarge",
            LoadError::NotUtf8 { .. } => "NotUtf8",
            LoadError::Parse { .. } | LoadError::Document { .. } => "ParseError",
            LoadError::Empty { .. } => "EmptyFile",
            LoadError::Duplicate { .. } => "DuplicateName",
            LoadError::InvalidName { .. } => "InvalidName",
        }
    }
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
    /// Reads and parses one file. The read stops after [`MAX_FILE_BYTES`]:
    /// the size on disk says nothing about a pipe, `/dev/zero` or a file
    /// that grows while it is read.
    pub fn read(path: &Path) -> Result<Documents, LoadError> {
        let io = |source| LoadError::Io {
            file: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        if size > MAX_FILE_BYTES {
            return Err(LoadError::TooLarge {
                file: path.to_path_buf(),
                size,
            });
        }
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        Documents::parse_bytes(path, &bytes)
    }

    /// Parses the bytes of a file: at most [`MAX_FILE_BYTES`] of UTF-8.
    pub fn parse_bytes(file: &Path, bytes: &[u8]) -> Result<Documents, LoadError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let offset = e.valid_up_to();
            let newlines = bytes[..offset].iter().filter(|b| **b == b'\n').count();
            LoadError::NotUtf8 {
                file: file.to_path_buf(),
                line: newlines as u64 + 1,
                offset,
            }
        });
        // The size comes first: a huge file is refused for its size, not its encoding.
        too_large(file, bytes.len())?;
        Documents::parse(file, text?)
    }

    /// Reads several files into one set of documents.
    pub fn read_all<P: AsRef<Path>>(paths: &[P]) -> Result<Documents, LoadError> {
        let mut all = Documents::default();
        for p in paths {
            all.merge(Documents::read(p.as_ref())?)?;
        }
        Ok(all)
    }

    /// Parses the text of a file (at most [`MAX_FILE_BYTES`]); `file` is only used in messages.
    pub fn parse(file: &Path, text: &str) -> Result<Documents, LoadError> {
        too_large(file, text.len())?;
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
            // Refused here, before anything uses the name as a file name or label.
            let kind = doc.kind();
            if let Err(source) = kind.check_name(doc.name()) {
                return Err(LoadError::InvalidName {
                    file,
                    document,
                    kind,
                    source,
                });
            }
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

fn too_large(file: &Path, len: usize) -> Result<(), LoadError> {
    let size = len as u64;
    if size > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            file: file.to_path_buf(),
            size,
        });
    }
    Ok(())
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
