//! Alerts out of Islet: the FHIR R4 resource of an alert (contract "FHIR
//! output of an alert (R4)") and the record the alert-topic relay sends
//! (contract "The service" → "Kafka", alert topic).
//!
//! ```
//! use islet_engine::{AlertChange, AlertRecord, Cause, ChangeKind};
//! use islet_render::{fhir, topic, AlertFormat, AlertStatus};
//!
//! let alert: AlertRecord = serde_json::from_str(r#"{"id":"5f0c8e9a1b2c3d4e5f60718293a4b5c6",
//!   "patient":"Patient/p1","rule":"ssa.not-in-g3","kind":"safety","severity":"critical",
//!   "state":"active","summary":"SSA planned or running in a metastatic non-functioning G3 tumour: not recommended",
//!   "detail":"…","evidence":[{"reference":"MedicationRequest/m1","fact":"somatostatin analogue planned on 2024-03-01"},
//!   {"reference":"Observation/k1","fact":"Ki-67 25 % on 2024-02-01"}],
//!   "citation":"Rossi et al. 2014, ref 12","profile":"enets","preliminary":false,
//!   "since":"2024-03-01T00:00:00Z"}"#).unwrap();
//!
//! let issue = fhir::alert_resource(&alert, AlertStatus::Current).to_value();
//! assert_eq!(issue["resourceType"], "DetectedIssue");
//! assert_eq!(issue["severity"], "high");
//! assert_eq!(issue["implicated"][0]["reference"], "MedicationRequest/m1");
//! assert_eq!(issue["evidence"][0]["detail"][0]["reference"], "Observation/k1");
//!
//! let change = AlertChange { at: alert.since, change: ChangeKind::Resolved, cause: Cause::Clock, alert };
//! let record = topic::alert_record(7, &change, AlertFormat::Fhir).unwrap();
//! assert_eq!(record.key, b"Patient/p1");
//! assert_eq!(record.header("islet.change"), Some(&b"7"[..]));
//! let value: serde_json::Value = serde_json::from_slice(&record.value).unwrap();
//! assert_eq!(value["status"], "cancelled");
//! ```
//!
//! **Invariants.**
//! - Pure: no I/O, no clock, no store. What an alert's lifecycle says beyond
//!   the alert itself (resolved, later acknowledged) comes in as an
//!   [`AlertStatus`].
//! - Never panics, and writes valid R4 for every alert the engine makes (its
//!   ids are FHIR ids, its patient a reference): strings FHIR would refuse
//!   (empty) are left out, and so is a time FHIR cannot write. Tests validate
//!   every kind in every status with an independent implementation (PyPI
//!   `fhir.resources`, `scripts/fhir-validate.py`).
//! - Islet's own output is never a clinical fact for Islet: DetectedIssue,
//!   Task and RequestGroup are types the decoder skips, and the contained
//!   requests are `intent: proposal`, which the decoder never reads as a plan
//!   (round-trip tests).
//! - Evidence references are written exactly as the alert holds them; every
//!   code written is a concept of Islet's CodeSystem
//!   (`schemas/codesystem-pnet.json`) or a code of the contract's tables;
//!   activities without such a code are text.
//!
//! Modules: [`fhir`] (alert → resource), [`topic`] (change → topic
//! record), [`status`], `activity` (what each rule proposes), [`uri`]
//! (every URI Islet writes and does not read).

pub mod activity;
pub mod fhir;
pub mod status;
pub mod topic;
pub mod uri;

pub use status::{AlertStatus, Resolution};
pub use topic::{AlertFormat, TopicRecord};
