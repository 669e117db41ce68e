//! One turnout document: `apiVersion`, `kind`, `metadata` and a `spec`
//! typed by the kind, read in one pass so every error carries its line.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::API_VERSION;
use crate::datasync::{DataSync, DataSyncSpec};
use crate::names::ObjectKind;
use crate::plan::{PortPlan, PortPlanSpec};
use crate::selection::{VersionSelection, VersionSelectionSpec};

/// One parsed document of any turnout kind (short-lived: sorted by kind right after parsing).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Document {
    PortPlan(PortPlan),
    VersionSelection(VersionSelection),
    DataSync(DataSync),
}

impl Document {
    pub fn kind(&self) -> ObjectKind {
        match self {
            Document::PortPlan(_) => ObjectKind::PortPlan,
            Document::VersionSelection(_) => ObjectKind::VersionSelection,
            Document::DataSync(_) => ObjectKind::DataSync,
        }
    }

    /// `metadata.name` (the loader refuses a document without one).
    pub fn name(&self) -> &str {
        let meta = match self {
            Document::PortPlan(d) => &d.metadata,
            Document::VersionSelection(d) => &d.metadata,
            Document::DataSync(d) => &d.metadata,
        };
        meta.name.as_deref().unwrap_or_default()
    }
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
