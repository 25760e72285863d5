//! Alerts as the world sees them (contract "Alerts (output)") and the change log.

use islet_guideline::{Evidence, Instant, Kind, Profile, Severity, State};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::Date;

/// One alert: the same JSON in replay output, the API and the alert topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Stable: a hash of patient, rule and schedule item.
    pub id: String,
    pub patient: String,
    pub rule: String,
    pub kind: Kind,
    pub severity: Severity,
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "date_opt")]
    pub due: Option<Date>,
    pub summary: String,
    pub detail: String,
    pub evidence: Vec<EvidenceRecord>,
    pub citation: String,
    pub profile: Profile,
    pub preliminary: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub since: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    pub reference: String,
    pub fact: String,
}

impl From<&Evidence> for EvidenceRecord {
    fn from(e: &Evidence) -> Self {
        EvidenceRecord { reference: e.reference.0.clone(), fact: e.fact.clone() }
    }
}

/// The stable alert id: the same patient, rule and schedule item always give
/// the same id, whatever instance or run computes it.
pub fn alert_id(patient: &str, rule: &str, schedule_item: Option<u32>) -> String {
    let mut h = Sha256::new();
    h.update(patient.as_bytes());
    h.update([0]);
    h.update(rule.as_bytes());
    h.update([0]);
    if let Some(item) = schedule_item {
        h.update(item.to_be_bytes());
    }
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

impl AlertRecord {
    pub fn from_guideline(patient: &str, profile: Profile, a: &islet_guideline::Alert) -> Self {
        AlertRecord {
            id: alert_id(patient, a.rule, a.schedule_item),
            patient: patient.to_string(),
            rule: a.rule.to_string(),
            kind: a.kind,
            severity: a.severity,
            state: a.state,
            due: a.due,
            summary: a.summary.clone(),
            detail: a.detail.clone(),
            evidence: a.evidence.iter().map(EvidenceRecord::from).collect(),
            citation: a.citation.to_string(),
            profile,
            preliminary: a.preliminary,
            since: a.since,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Raised,
    Updated,
    Resolved,
}

/// Why a patient was re-evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Cause {
    /// New data: the resources applied (or deleted) in that batch.
    Data { resources: Vec<String> },
    /// Time passed: a follow-up turned due or overdue, a birthday, a dated fact became current.
    Clock,
}

/// One line of the change log (also the outbox of the alert topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertChange {
    #[serde(with = "time::serde::rfc3339")]
    pub at: Instant,
    pub change: ChangeKind,
    pub cause: Cause,
    /// The alert after the change; for `resolved`, as it last was.
    pub alert: AlertRecord,
}

mod date_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::macros::format_description;
    use time::Date;

    const FORMAT: &[time::format_description::FormatItem<'static>] = format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&d.format(FORMAT).map_err(serde::ser::Error::custom)?),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| Date::parse(&s, FORMAT).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn sample(due: Option<Date>) -> AlertRecord {
        AlertRecord {
            id: alert_id("Patient/1", "followup.surveillance-imaging", Some(3)),
            patient: "Patient/1".into(),
            rule: "followup.surveillance-imaging".into(),
            kind: Kind::FollowUp,
            severity: Severity::Info,
            state: State::Scheduled,
            due,
            summary: "s".into(),
            detail: "d".into(),
            evidence: vec![EvidenceRecord {
                reference: "Observation/1".into(),
                fact: "primary 14 mm on 2024-01-10".into(),
            }],
            citation: "Rossi et al. 2014, ref 8".into(),
            profile: Profile::Enets,
            preliminary: false,
            since: time::macros::datetime!(2024-01-10 00:00 UTC),
        }
    }

    /// The serialised alert has exactly the properties of `schemas/alert.schema.json`.
    #[test]
    fn json_matches_the_published_schema() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../schemas/alert.schema.json")).unwrap();
        let properties: BTreeSet<String> = schema["properties"].as_object().unwrap().keys().cloned().collect();
        let required: BTreeSet<String> =
            schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        let with_due = serde_json::to_value(sample(Some(time::macros::date!(2024 - 04 - 10)))).unwrap();
        let keys: BTreeSet<String> = with_due.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, properties);
        assert_eq!(with_due["due"], "2024-04-10");
        assert_eq!(with_due["kind"], "follow-up");
        assert_eq!(with_due["since"], "2024-01-10T00:00:00Z");
        let without_due = serde_json::to_value(sample(None)).unwrap();
        let keys: BTreeSet<String> = without_due.as_object().unwrap().keys().cloned().collect();
        assert!(required.is_subset(&keys));
        assert!(!keys.contains("due"));
        // And it reads back.
        let back: AlertRecord = serde_json::from_value(with_due).unwrap();
        assert_eq!(back, sample(Some(time::macros::date!(2024 - 04 - 10))));
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(alert_id("Patient/1", "a.b", None), alert_id("Patient/1", "a.b", None));
        assert_ne!(alert_id("Patient/1", "a.b", None), alert_id("Patient/2", "a.b", None));
        assert_ne!(alert_id("Patient/1", "a.b", Some(3)), alert_id("Patient/1", "a.b", Some(6)));
        assert_eq!(alert_id("Patient/1", "a.b", None).len(), 32);
    }
}
