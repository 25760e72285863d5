//! contract.md v2, "Relevance before validation": a resource of a type Islet
//! does not use, or one whose code Islet does not use, is skipped and counted
//! whatever else is wrong with it; only a resource Islet would use is
//! validated. The defects below are the ones the external corpus
//! (`shared/fhir-corpus`) showed being rejected before v2.

mod common;
use common::*;
use islet_fhir::Change;
use serde_json::{json, Value};

/// Every way a body can be broken that is not about its code.
fn broken_bodies(base: &Value) -> Vec<(&'static str, Value)> {
    let with = |key: &str, value: Value| {
        let mut v = base.clone();
        v[key] = value;
        v
    };
    let without = |key: &str| {
        let mut v = base.clone();
        v.as_object_mut().unwrap().remove(key);
        v
    };
    vec![
        ("no subject", without("subject")),
        ("subject by identifier only", with("subject", json!({"identifier": {"value": "123"}}))),
        ("subject a contained resource", with("subject", json!({"reference": "#p"}))),
        ("subject a urn not in the message", with("subject", json!({"reference": "urn:uuid:1"}))),
        ("subject a Group", with("subject", json!({"reference": "Group/herd"}))),
        ("CodeableConcept status", with("status", json!({"coding": [{"code": "final"}]}))),
        ("unknown status", with("status", json!("finalised"))),
        ("no status", without("status")),
        ("no id", without("id")),
        ("integer id", with("id", json!(1))),
        ("id with a space", with("id", json!("a b"))),
        ("malformed meta", with("meta", json!({"lastUpdated": "yesterday"}))),
        ("meta not an object", with("meta", json!("x"))),
        ("time without a zone", with("effectiveDateTime", json!("2024-01-10T10:00:00"))),
        ("impossible date", with("effectiveDateTime", json!("2024-02-30"))),
        ("no time at all", without("effectiveDateTime")),
        ("quantity without value", with("valueQuantity", json!({"unit": "g/dL"}))),
        ("value of the wrong shape", with("valueQuantity", json!("13 g/dL"))),
        ("a modifier extension", with("modifierExtension", json!([{"url": "http://x.org/m"}]))),
    ]
}

#[test]
fn an_observation_islet_does_not_use_is_skipped_whatever_else_is_wrong() {
    let haemoglobin = obs(LOINC, "718-7", "valueQuantity", qty(13.0, "g/dL"));
    assert!(skipped(&haemoglobin));
    for (what, body) in broken_bodies(&haemoglobin) {
        let d = decode(&body);
        assert!(d.rejections.is_empty(), "{what}: {:?}", d.rejections);
        assert!(matches!(&d.changes[..], [c] if c.is_unused()), "{what}: {:?}", d.changes);
    }
    // The same defects in a Ki-67 are rejections (a quantity without value, a
    // problem fact): it is validated.
    for (what, body) in broken_bodies(&ki67(4.5)) {
        let d = decode(&body);
        if what == "quantity without value" {
            let v = upsert(&d);
            assert!(matches!(v.facts[0].kind, islet_guideline::FactKind::Problem { .. }), "{what}");
        } else {
            assert_eq!(d.rejections.len(), 1, "{what}: {:?}", d.changes);
            assert!(d.changes.is_empty(), "{what}: {:?}", d.changes);
        }
    }
}

#[test]
fn conditions_and_therapies_islet_does_not_use_are_skipped() {
    let hypertension = condition(json!([{"system": SNOMED, "code": "38341003"}]));
    let mut bad = hypertension.clone();
    bad["clinicalStatus"] = coding(CONDITION_CLINICAL, "gone");
    bad.as_object_mut().unwrap().remove("subject");
    assert!(skipped(&hypertension));
    assert!(skipped(&bad));
    // An ICD-9 code, a text-only code, no code.
    assert!(skipped(&condition(json!([{"system": "http://hl7.org/fhir/sid/icd-9-cm", "code": "157.4"}]))));
    let mut text_only = condition(json!([]));
    text_only["code"] = json!({"text": "pancreatic NET"});
    assert!(skipped(&text_only));

    let mut aspirin = med_statement("taking", ATC, "B01AC06");
    aspirin.as_object_mut().unwrap().remove("subject");
    assert!(skipped(&aspirin));
    let mut appendectomy = procedure("done", SNOMED, "80146002");
    appendectomy["subject"] = json!({"display": "no reference"});
    assert!(skipped(&appendectomy));
    let education = json!({"resourceType": "ServiceRequest", "id": "education", "status": "active",
        "intent": "order", "code": coding(SNOMED, "48023004"), "subject": {"display": "x"}});
    assert!(skipped(&education));
    // A medication given by display only names no drug Islet can look up.
    let mut by_name = med_statement("active", ATC, "x");
    by_name.as_object_mut().unwrap().remove("medicationCodeableConcept");
    by_name["medicationReference"] = json!({"display": "octreotide"});
    assert!(skipped(&by_name));
}

#[test]
fn a_type_islet_does_not_use_is_skipped_whatever_its_header_holds() {
    // HL7's MedicinalProductAuthorization example has a CodeableConcept `status`;
    // a test case's Practitioner has an integer id.
    for body in [
        json!({"resourceType": "MedicinalProductAuthorization", "id": "example", "status": {"coding": [{"code": "active"}]}}),
        json!({"resourceType": "Practitioner", "id": 1, "meta": "x"}),
        json!({"resourceType": "Encounter", "id": "e 1", "status": ["finished"], "subject": 5}),
    ] {
        let d = decode(&body);
        assert!(d.rejections.is_empty(), "{body}: {:?}", d.rejections);
        assert!(matches!(&d.changes[..], [c] if c.is_unused()), "{body}");
    }
    // The skipped id is kept only when it is a FHIR id (it is counted, never a key).
    let d = decode(&json!({"resourceType": "Practitioner", "id": 1}));
    assert_eq!(d.changes, [Change::Skipped { resource_type: "Practitioner".into(), id: None }]);
}

#[test]
fn in_a_bundle_only_the_entries_islet_uses_are_validated() {
    let mut heart_rate = obs(LOINC, "8867-4", "valueQuantity", qty(72.0, "/min"));
    heart_rate.as_object_mut().unwrap().remove("id");
    heart_rate.as_object_mut().unwrap().remove("subject");
    let mut broken_ki67 = ki67(4.5);
    broken_ki67.as_object_mut().unwrap().remove("subject");
    let b = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": heart_rate, "request": {"method": "POST", "url": "Observation"}},
        {"resource": {"resourceType": "DocumentReference", "id": 1}, "request": {"method": "POST", "url": "Practitioner"}},
        {"resource": broken_ki67, "request": {"method": "POST", "url": "Observation"}},
    ]});
    let d = decode(&b);
    assert!(d.changes.len() == 2 && d.changes.iter().all(Change::is_unused), "{:?}", d.changes);
    let r: Vec<_> = d.rejections.iter().map(|r| (r.entry, r.reason.code())).collect();
    assert_eq!(r, [(Some(2), "no-patient")]);
}

#[test]
fn what_cannot_be_told_is_validated() {
    // An unreadable code might be one Islet uses: a rejection names it.
    let mut o = ki67(4.5);
    o["code"] = json!({"coding": {"system": LOINC, "code": "29593-1"}});
    assert_eq!(rejected(&o).0, "malformed-field");
    // A drug in another message might be one Islet uses: read (tests/linked.rs).
    let mut ms = med_statement("active", ATC, "x");
    ms.as_object_mut().unwrap().remove("medicationCodeableConcept");
    ms["medicationReference"] = json!({"reference": "Medication/m1"});
    ms.as_object_mut().unwrap().remove("subject");
    assert_eq!(rejected(&ms).0, "no-patient");
    // A Patient is always used.
    assert_eq!(rejected(&json!({"resourceType": "Patient", "birthDate": "1970"})).0, "no-id");
}

#[test]
fn a_retraction_that_lost_its_code_is_still_honoured() {
    let mut o = ki67(4.5);
    o["status"] = json!("entered-in-error");
    o.as_object_mut().unwrap().remove("code");
    assert!(upsert(&decode(&o)).retracted);
    let mut c = condition(json!([]));
    c.as_object_mut().unwrap().remove("code");
    c["verificationStatus"] = coding(CONDITION_VER_STATUS, "entered-in-error");
    assert!(upsert(&decode(&c)).retracted);
    // One whose code Islet does not use is skipped like any other version of it.
    let mut hr = obs(LOINC, "8867-4", "valueQuantity", qty(72.0, "/min"));
    hr["status"] = json!("entered-in-error");
    assert!(skipped(&hr));
}

/// A resource of a supported type whose code Islet does not use still
/// carries its identity, so it can replace an earlier version that Islet
/// used (a pNET diagnosis re-coded to another diagnosis must stop counting).
#[test]
fn an_unused_resource_with_a_readable_identity_is_an_unused_version() {
    let asthma = json!({"resourceType": "Condition", "id": "dx", "meta": {"versionId": "2"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "195967001"}]},
        "subject": {"reference": "Patient/p1"}});
    let d = decode(&asthma);
    let [Change::Unused(v)] = &d.changes[..] else { panic!("{:?}", d.changes) };
    assert_eq!(
        (v.reference().as_str(), v.patient.as_str(), v.version_id.as_deref()),
        ("Condition/dx", "Patient/p1", Some("2"))
    );
    assert!(v.facts.is_empty());
    // Without a readable patient it is only skipped (nothing to replace).
    let mut orphan = asthma.clone();
    orphan.as_object_mut().unwrap().remove("subject");
    assert!(matches!(decode(&orphan).changes[..], [Change::Skipped { .. }]));
}
