//! `decode_received`: a time of something that has happened cannot lie after
//! the message reporting it was received (issue defect 6). The facts resting
//! on it become one `ImplausibleTime` problem dated at receipt, and the
//! version has no clinical time; plans may lie in the future.

mod common;
use common::*;
use islet_fhir::{Decoder, ResourceVersion, SiteMapping};
use islet_guideline::facts::{ProblemKind, Tense, TherapyClass};
use islet_guideline::{FactKind, Instant};
use serde_json::{json, Value};
use time::macros::{date, datetime};

const RECEIVED: Instant = datetime!(2026-12-07 10:00 UTC);

fn received(v: &Value) -> ResourceVersion {
    upsert(&Decoder::new(SiteMapping::empty()).decode_received(v.to_string().as_bytes(), RECEIVED)).clone()
}

/// The detail of the single ImplausibleTime problem, checked to be the only fact, dated at receipt.
fn implausible(v: &ResourceVersion) -> String {
    assert_eq!(v.facts.len(), 1, "{:#?}", v.facts);
    assert_eq!(v.facts[0].at, RECEIVED);
    assert!(!v.facts[0].preliminary);
    match &v.facts[0].kind {
        FactKind::Problem { kind: ProblemKind::ImplausibleTime, detail } => detail.clone(),
        other => panic!("expected an implausible time, got {other:?}"),
    }
}

#[test]
fn a_ki67_dated_9999_is_an_implausible_time() {
    let mut o = ki67(4.5);
    o["effectiveDateTime"] = json!("9999-01-01");
    let v = received(&o);
    assert_eq!(v.clinical_time, None, "it cannot move a replay's default instant");
    let detail = implausible(&v);
    assert!(detail.contains("effectiveDateTime 9999-01-01"), "{detail}");
    assert!(
        !detail.contains("2026-12-07"),
        "the day of receipt is not in the text (replay output would change daily): {detail}"
    );
    // `decode` does not know when the message arrived, and does not judge.
    let plain = upsert(&decode(&o)).clone();
    assert!(matches!(plain.facts[..], [ref f] if matches!(f.kind, FactKind::Ki67(_))));
    assert_eq!(plain.clinical_time, Some(datetime!(9999-01-01 0:00 UTC)));
}

#[test]
fn a_day_of_slack_for_time_zones() {
    let mut o = ki67(4.5);
    o["effectiveDateTime"] = json!("2026-12-08T09:00:00Z");
    let v = received(&o);
    assert!(matches!(v.facts[0].kind, FactKind::Ki67(_)));
    assert_eq!(v.clinical_time, Some(datetime!(2026-12-08 09:00 UTC)));
    o["effectiveDateTime"] = json!("2026-12-08T11:00:00Z");
    implausible(&received(&o));
}

#[test]
fn the_element_that_gave_the_time_is_named() {
    let mut o = ki67(4.5);
    o.as_object_mut().unwrap().remove("effectiveDateTime");
    o["effectivePeriod"] = json!({"start": "2030-05-01", "end": "2030-05-02"});
    assert!(implausible(&received(&o)).starts_with("effectivePeriod.start 2030-05-01"));
    o.as_object_mut().unwrap().remove("effectivePeriod");
    o["issued"] = json!("2031-01-01T00:00:00Z");
    assert!(implausible(&received(&o)).starts_with("issued 2031-01-01"));
    // A Condition whose only time is meta.lastUpdated.
    let mut c = condition(json!([{"system": SNOMED, "code": "735735001"}]));
    c.as_object_mut().unwrap().remove("onsetDateTime");
    c["meta"]["lastUpdated"] = json!("2030-01-01T00:00:00Z");
    assert!(implausible(&received(&c)).starts_with("meta.lastUpdated 2030-01-01"));
}

#[test]
fn a_condition_with_a_future_onset_is_an_implausible_time() {
    let mut c = condition(json!([{"system": SNOMED, "code": "735735001"}]));
    c["onsetDateTime"] = json!("2027-01-02");
    assert!(implausible(&received(&c)).starts_with("onsetDateTime 2027-01-02"));
    // A retraction says nothing, and keeps no implausible time either.
    c["verificationStatus"] = coding(CONDITION_VER_STATUS, "entered-in-error");
    let v = received(&c);
    assert!(v.retracted && v.facts.is_empty());
    assert_eq!(v.clinical_time, None);
}

#[test]
fn a_birth_date_next_year_is_an_implausible_time() {
    let p = json!({"resourceType": "Patient", "id": "p1", "birthDate": "2027-03-01",
        "deceasedDateTime": "2024-01-01"});
    let v = received(&p);
    assert_eq!(v.facts.len(), 2, "{:#?}", v.facts);
    let born = v.facts.iter().find(|f| matches!(f.kind, FactKind::Problem { .. })).unwrap();
    assert_eq!(born.at, RECEIVED);
    assert!(matches!(&born.kind, FactKind::Problem { kind: ProblemKind::ImplausibleTime, detail }
        if detail.starts_with("birthDate 2027-03-01")));
    assert!(v.facts.iter().any(|f| f.kind == FactKind::Deceased && f.at == datetime!(2024-01-01 0:00 UTC)));
    // Born in the past, dead in the future: the death is implausible, the birth kept.
    let p = json!({"resourceType": "Patient", "id": "p1", "birthDate": "1960-03-01",
        "deceasedDateTime": "2028-01-01T00:00:00Z"});
    let v = received(&p);
    assert!(v.facts.iter().any(|f| f.kind == FactKind::BirthDate(date!(1960 - 03 - 01))));
    assert!(v.facts.iter().any(|f| matches!(&f.kind, FactKind::Problem { detail, .. }
        if detail.starts_with("deceasedDateTime 2028-01-01"))));
    assert!(!v.facts.iter().any(|f| f.kind == FactKind::Deceased));
}

#[test]
fn a_planned_therapy_may_lie_in_the_future() {
    let mut planned = med_statement("intended", ATC, "H01CB02");
    planned["effectivePeriod"] = json!({"start": "2027-06-01"});
    let v = received(&planned);
    assert_eq!(v.clinical_time, Some(datetime!(2027-06-01 0:00 UTC)));
    assert!(matches!(v.facts[..], [ref f] if matches!(f.kind,
        FactKind::Therapy(t) if t.class == TherapyClass::Ssa && t.tense == Tense::Planned)));
    // The same course reported as taken is implausible.
    let mut taken = planned.clone();
    taken["status"] = json!("active");
    assert!(implausible(&received(&taken)).starts_with("effectivePeriod.start 2027-06-01"));

    let mut preparation = procedure("preparation", ISLET, "primary-resection");
    preparation["performedDateTime"] = json!("2027-02-01T08:00:00Z");
    assert_eq!(received(&preparation).facts.len(), 1);
    preparation["status"] = json!("completed");
    implausible(&received(&preparation));

    let order = json!({"resourceType": "ServiceRequest", "id": "sr1", "status": "active", "intent": "order",
        "code": coding(ISLET, "prrt"), "subject": {"reference": "Patient/p1"},
        "occurrenceDateTime": "2027-03-01", "authoredOn": "2026-12-01"});
    let v = received(&order);
    assert_eq!(v.clinical_time, Some(datetime!(2027-03-01 0:00 UTC)));
    assert!(matches!(v.facts[0].kind, FactKind::Therapy(t) if t.tense == Tense::Planned));
}

#[test]
fn authored_on_is_never_in_the_future() {
    let draft = json!({"resourceType": "MedicationRequest", "id": "mr1", "status": "draft", "intent": "order",
        "medicationCodeableConcept": coding(ATC, "H01CB02"), "subject": {"reference": "Patient/p1"},
        "authoredOn": "2027-01-15"});
    assert!(implausible(&received(&draft)).starts_with("authoredOn 2027-01-15"));
    let order = json!({"resourceType": "ServiceRequest", "id": "sr1", "status": "active", "intent": "order",
        "code": coding(ISLET, "prrt"), "subject": {"reference": "Patient/p1"}, "authoredOn": "2027-01-15"});
    assert!(implausible(&received(&order)).starts_with("authoredOn 2027-01-15"));
}

#[test]
fn a_version_without_facts_only_loses_its_time() {
    let mut o = ki67(4.0);
    o["status"] = json!("registered"); // no result yet: no facts
    o["effectiveDateTime"] = json!("2030-01-01");
    let v = received(&o);
    assert!(v.facts.is_empty());
    assert_eq!(v.clinical_time, None);
}
