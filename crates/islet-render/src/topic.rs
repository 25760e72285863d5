//! One alert change as a record of the alert topic (contract "The service"
//! → "Kafka", `islet.alerts`): what the relay sends, built without I/O.
//!
//! Key: the patient reference (one patient's changes stay in order on one
//! partition). Value: the alert's FHIR resource (resolved: with its terminal
//! status), or the alert JSON of "Alerts (output)" exactly as `islet replay`
//! prints it. Headers: [`CHANGE`] (the change's sequence number: with the
//! value's `id`, the consumer's deduplication key), [`CHANGE_KIND`],
//! [`ALERT_ID`], [`VERSION`].

use crate::fhir;
use crate::status::AlertStatus;
use islet_engine::{AlertChange, ChangeKind};
use std::fmt;
use std::str::FromStr;

/// Header: the change's sequence number in the change log, decimal.
pub const CHANGE: &str = "islet.change";
/// Header: `raised`, `updated` or `resolved`.
pub const CHANGE_KIND: &str = "islet.change.kind";
/// Header: the alert id.
pub const ALERT_ID: &str = "islet.alert.id";
/// Header: the version of Islet that wrote the record.
pub const VERSION: &str = "islet.version";

/// What the relay sends for one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRecord {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub headers: Vec<(&'static str, Vec<u8>)>,
}

impl TopicRecord {
    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_slice())
    }
}

/// The value's format, a setting of the relay (`fhir` by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlertFormat {
    /// The alert's FHIR R4 resource ([`fhir::alert_resource`]).
    #[default]
    Fhir,
    /// The alert JSON of contract "Alerts (output)".
    Json,
}

impl AlertFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertFormat::Fhir => "fhir",
            AlertFormat::Json => "json",
        }
    }
}

impl fmt::Display for AlertFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert format other than `fhir` or `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown alert format {0:?}: expected \"fhir\" or \"json\"")]
pub struct UnknownFormat(pub String);

impl FromStr for AlertFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fhir" => Ok(AlertFormat::Fhir),
            "json" => Ok(AlertFormat::Json),
            other => Err(UnknownFormat(other.to_string())),
        }
    }
}

/// A change that cannot be written as a record.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The alert JSON could not be written: its `since` or `due` lies outside
    /// what RFC 3339 can write (a year beyond 0–9999, an offset with
    /// seconds). The store holds the same JSON, so this cannot happen for a
    /// stored alert.
    #[error("alert {alert}: cannot write its JSON: {source}")]
    Json { alert: String, source: serde_json::Error },
}

/// The record for change number `seq` of the change log.
pub fn alert_record(seq: i64, change: &AlertChange, format: AlertFormat) -> Result<TopicRecord, RenderError> {
    let alert = &change.alert;
    let value = match format {
        AlertFormat::Fhir => fhir::alert_resource(alert, AlertStatus::of(change)).to_vec(),
        AlertFormat::Json => {
            serde_json::to_vec(alert).map_err(|source| RenderError::Json { alert: alert.id.clone(), source })?
        }
    };
    let kind = match change.change {
        ChangeKind::Raised => "raised",
        ChangeKind::Updated => "updated",
        ChangeKind::Resolved => "resolved",
    };
    Ok(TopicRecord {
        key: alert.patient.as_bytes().to_vec(),
        value,
        headers: vec![
            (CHANGE, seq.to_string().into_bytes()),
            (CHANGE_KIND, kind.as_bytes().to_vec()),
            (ALERT_ID, alert.id.as_bytes().to_vec()),
            (VERSION, env!("CARGO_PKG_VERSION").as_bytes().to_vec()),
        ],
    })
}
