//! Builders for test messages.
#![allow(dead_code, unused_imports)]

use islet_fhir::{Change, Decoded, Decoder, ResourceVersion, SiteMapping};
use islet_guideline::FactKind;
use serde_json::{json, Value};

pub use islet_fhir::systems::{
    ATC, CONDITION_CLINICAL, CONDITION_VER_STATUS, ICD10CM, ICDO3, ISLET, LOINC, MCODE_HISTOLOGY_MORPHOLOGY_BEHAVIOR,
    SNOMED, UCUM,
};

pub fn decode(v: &Value) -> Decoded {
    Decoder::new(SiteMapping::empty()).decode(v.to_string().as_bytes())
}

pub fn decode_str(s: &str) -> Decoded {
    Decoder::new(SiteMapping::empty()).decode(s.as_bytes())
}

/// The single Upsert of a message that has no rejection.
pub fn upsert(d: &Decoded) -> &ResourceVersion {
    assert!(d.rejections.is_empty(), "unexpected rejections: {:#?}", d.rejections);
    assert_eq!(d.changes.len(), 1, "{:#?}", d.changes);
    match &d.changes[0] {
        Change::Upsert(v) => v,
        other => panic!("expected an upsert, got {other:?}"),
    }
}

/// The fact kinds of the single change of a message without rejections: an
/// Upsert's facts, or none for a resource skipped as one Islet does not use.
pub fn kinds(v: &Value) -> Vec<FactKind> {
    let d = decode(v);
    if let [c] = d.changes.as_slice() {
        if !c.is_unused() {
            return upsert(&d).facts.iter().map(|f| f.kind.clone()).collect();
        }
        assert!(d.rejections.is_empty(), "unexpected rejections: {:#?}", d.rejections);
        return Vec::new();
    }
    upsert(&d).facts.iter().map(|f| f.kind.clone()).collect()
}

/// Was the message's single resource skipped as one Islet does not use?
pub fn skipped(v: &Value) -> bool {
    let d = decode(v);
    assert!(d.rejections.is_empty(), "unexpected rejections: {:#?}", d.rejections);
    matches!(d.changes.as_slice(), [c] if c.is_unused())
}

/// The code of the single rejection of a message without changes.
pub fn rejected(v: &Value) -> (&'static str, String) {
    let d = decode(v);
    assert!(d.changes.is_empty(), "unexpected changes: {:#?}", d.changes);
    assert_eq!(d.rejections.len(), 1, "{:#?}", d.rejections);
    let r = &d.rejections[0];
    (r.reason.code(), r.reason.to_string())
}

pub fn coding(system: &str, code: &str) -> Value {
    json!({"coding": [{"system": system, "code": code}]})
}

pub fn qty(value: f64, unit: &str) -> Value {
    json!({"value": value, "unit": unit, "system": UCUM, "code": unit})
}

/// A final Observation of `Patient/p1` on 2024-01-10 with one value element.
pub fn obs(system: &str, code: &str, value_key: &str, value: Value) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "id": "o1",
        "meta": {"versionId": "2", "lastUpdated": "2024-01-12T08:00:00Z"},
        "status": "final",
        "code": coding(system, code),
        "subject": {"reference": "Patient/p1", "display": "Jane Doe"},
        "effectiveDateTime": "2024-01-10",
    });
    if !value_key.is_empty() {
        o[value_key] = value;
    }
    o
}

pub fn ki67(value: f64) -> Value {
    obs(LOINC, "29593-1", "valueQuantity", qty(value, "%"))
}

/// An active Condition of `Patient/p1` with the given codings.
pub fn condition(codings: Value) -> Value {
    json!({
        "resourceType": "Condition",
        "id": "c1",
        "meta": {"lastUpdated": "2024-02-01T00:00:00Z"},
        "clinicalStatus": coding(CONDITION_CLINICAL, "active"),
        "verificationStatus": coding(CONDITION_VER_STATUS, "confirmed"),
        "code": {"coding": codings},
        "subject": {"reference": "Patient/p1"},
        "onsetDateTime": "2023-11-05",
    })
}

pub fn med_statement(status: &str, system: &str, code: &str) -> Value {
    json!({
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": status,
        "medicationCodeableConcept": coding(system, code),
        "subject": {"reference": "Patient/p1"},
        "effectivePeriod": {"start": "2024-03-01"},
    })
}

pub fn procedure(status: &str, system: &str, code: &str) -> Value {
    json!({
        "resourceType": "Procedure",
        "id": "pr1",
        "status": status,
        "code": coding(system, code),
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": "2024-04-02T10:00:00Z",
    })
}
