//! Status handling, clinical time and patient identity (contract.md).

mod common;
use common::*;
use islet_guideline::facts::{Ki67Percent, Tense, Therapy, TherapyClass};
use islet_guideline::FactKind;
use serde_json::json;
use time::macros::{date, datetime};

#[test]
fn observation_statuses() {
    for (status, facts, preliminary, retracted) in [
        ("final", 1, false, false),
        ("amended", 1, false, false),
        ("corrected", 1, false, false),
        ("preliminary", 1, true, false),
        ("registered", 0, false, false),
        ("cancelled", 0, false, false),
        ("unknown", 0, false, false),
        ("entered-in-error", 0, false, true),
    ] {
        let mut o = ki67(4.5);
        o["status"] = json!(status);
        let d = decode(&o);
        let v = upsert(&d);
        assert_eq!(v.facts.len(), facts, "{status}");
        assert_eq!(v.retracted, retracted, "{status}");
        assert!(v.facts.iter().all(|f| f.preliminary == preliminary), "{status}");
    }
}

#[test]
fn a_retraction_needs_no_clinical_time() {
    let mut o = ki67(4.5);
    o["status"] = json!("entered-in-error");
    o.as_object_mut().unwrap().remove("effectiveDateTime");
    let d = decode(&o);
    let v = upsert(&d);
    assert!(v.retracted);
    assert_eq!(v.clinical_time, None);
}

#[test]
fn condition_statuses() {
    let pnet = json!([{"system": SNOMED, "code": "735735001"}]);
    for (clinical, facts) in
        [("active", 1), ("recurrence", 1), ("relapse", 1), ("inactive", 0), ("remission", 0), ("resolved", 0)]
    {
        let mut c = condition(pnet.clone());
        c["clinicalStatus"] = coding(CONDITION_CLINICAL, clinical);
        let d = decode(&c);
        let v = upsert(&d);
        assert_eq!(v.facts.len(), facts, "{clinical}");
        assert!(!v.retracted);
    }
    for (verification, retracted, preliminary) in [
        ("confirmed", false, false),
        ("unconfirmed", false, true),
        ("provisional", false, true),
        ("differential", false, true),
        ("refuted", true, false),
        ("entered-in-error", true, false),
    ] {
        let mut c = condition(pnet.clone());
        c["verificationStatus"] = coding(CONDITION_VER_STATUS, verification);
        let d = decode(&c);
        let v = upsert(&d);
        assert_eq!(v.retracted, retracted, "{verification}");
        assert_eq!(v.facts.is_empty(), retracted, "{verification}");
        assert!(v.facts.iter().all(|f| f.preliminary == preliminary), "{verification}");
    }
    // contract.md v2: the codes are read under the STU3 system URLs too (a
    // legacy `refuted` pNET is a retraction), and as STU3's bare codes.
    for verification in [
        coding("http://hl7.org/fhir/condition-ver-status", "refuted"),
        coding("http://hl7.org/fhir/condition-ver-status", "entered-in-error"),
        json!("refuted"),
    ] {
        let mut c = condition(pnet.clone());
        c["verificationStatus"] = verification.clone();
        assert!(upsert(&decode(&c)).retracted, "{verification}");
    }
    for (clinical, facts) in [
        (coding("http://hl7.org/fhir/condition-clinical", "resolved"), 0),
        (coding("http://hl7.org/fhir/condition-clinical", "active"), 1),
        (json!("remission"), 0),
        (json!("active"), 1),
    ] {
        let mut c = condition(pnet.clone());
        c["clinicalStatus"] = clinical.clone();
        assert_eq!(upsert(&decode(&c)).facts.len(), facts, "{clinical}");
    }
    let mut c = condition(pnet.clone());
    c["clinicalStatus"] = coding("http://hl7.org/fhir/condition-clinical", "gone");
    assert_eq!(rejected(&c).0, "unknown-status");
    // A code under another system is not a status code.
    c["clinicalStatus"] = coding("http://example.org/status", "resolved");
    assert_eq!(upsert(&decode(&c)).facts.len(), 1);

    // Without clinicalStatus: present unless abated.
    let mut c = condition(pnet.clone());
    c.as_object_mut().unwrap().remove("clinicalStatus");
    assert_eq!(kinds(&c), [FactKind::PnetDiagnosis]);
    c["abatementDateTime"] = json!("2024-01-01");
    assert!(kinds(&c).is_empty());
}

fn tense_of(v: &serde_json::Value) -> Option<Tense> {
    let k = kinds(v);
    assert!(k.len() <= 1, "{k:?}");
    k.first().map(|k| match k {
        FactKind::Therapy(t) => t.tense,
        other => panic!("{other:?}"),
    })
}

/// A status and the tense it gives (`None`: the therapy is absent).
type StatusTense = (&'static str, Option<Tense>);

#[test]
fn therapy_tense_by_status() {
    use Tense::*;
    let table: &[(&str, &[StatusTense])] = &[
        (
            "MedicationStatement",
            &[
                ("active", Some(Running)),
                ("intended", Some(Planned)),
                ("completed", Some(Done)),
                ("stopped", Some(Done)),
                ("on-hold", None),
                ("unknown", None),
                ("not-taken", None),
            ],
        ),
        (
            "MedicationRequest",
            &[
                ("active", Some(Running)),
                ("draft", Some(Planned)),
                ("on-hold", Some(Planned)),
                ("completed", Some(Done)), // contract.md v2
                ("stopped", Some(Done)),
                ("cancelled", None),
                ("unknown", None),
            ],
        ),
        (
            "Procedure",
            &[
                ("in-progress", Some(Running)),
                ("preparation", Some(Planned)),
                ("completed", Some(Done)),
                ("not-done", None),
                ("on-hold", None),
                ("stopped", None),
                ("unknown", None),
            ],
        ),
        (
            "ServiceRequest",
            &[
                ("active", Some(Planned)),
                ("draft", Some(Planned)),
                ("on-hold", Some(Planned)),
                ("revoked", None),
                ("completed", None),
                ("unknown", None),
            ],
        ),
    ];
    for (rt, statuses) in table {
        for (status, tense) in *statuses {
            let v = therapy_resource(rt, status);
            assert_eq!(tense_of(&v), *tense, "{rt} {status}");
        }
        // entered-in-error retracts.
        let d = decode(&therapy_resource(rt, "entered-in-error"));
        let v = upsert(&d);
        assert!(v.retracted && v.facts.is_empty(), "{rt}");
    }
}

/// A somatostatin analogue in each therapy resource type.
fn therapy_resource(rt: &str, status: &str) -> serde_json::Value {
    let mut r = json!({
        "resourceType": rt, "id": "t1", "status": status,
        "subject": {"reference": "Patient/p1"},
        "meta": {"lastUpdated": "2024-05-01T00:00:00Z"},
    });
    match rt {
        "MedicationStatement" | "MedicationRequest" => {
            r["medicationCodeableConcept"] = coding(ATC, "H01CB03");
        }
        _ => r["code"] = coding(ISLET, "ssa"),
    }
    if rt == "MedicationRequest" || rt == "ServiceRequest" {
        r["intent"] = json!("order");
    }
    r
}

#[test]
fn do_not_perform_means_no_therapy() {
    let mut r = therapy_resource("ServiceRequest", "active");
    r["doNotPerform"] = json!(true);
    assert!(kinds(&r).is_empty());
}

#[test]
fn a_proposal_is_not_a_planned_therapy() {
    for rt in ["MedicationRequest", "ServiceRequest"] {
        for (intent, planned) in [("proposal", false), ("option", false), ("plan", true), ("order", true)] {
            let mut r = therapy_resource(rt, "draft");
            r["intent"] = json!(intent);
            assert_eq!(kinds(&r).len(), usize::from(planned), "{rt} {intent}");
        }
    }
}

#[test]
fn clinical_time_sources() {
    // Observation: effectiveDateTime (in its own offset), then
    // effectivePeriod.start, then effectivePeriod.end (v2), then issued.
    let mut o = ki67(4.5);
    o["effectiveDateTime"] = json!("2024-01-10T09:00:00+01:00");
    let d = decode(&o);
    assert_eq!(upsert(&d).clinical_time, Some(datetime!(2024-01-10 9:00 +1)));
    assert_eq!(upsert(&d).facts[0].at, datetime!(2024-01-10 8:00 UTC), "the same instant");
    assert_eq!(upsert(&d).facts[0].at.offset(), time::macros::offset!(+1));
    o.as_object_mut().unwrap().remove("effectiveDateTime");
    o["effectivePeriod"] = json!({"start": "2024-02", "end": "2024-03"});
    assert_eq!(upsert(&decode(&o)).clinical_time, Some(datetime!(2024-02-01 0:00 UTC)));
    o["effectivePeriod"] = json!({"end": "2024-03-04T10:00:00-05:00"});
    o["issued"] = json!("2024-03-06T10:00:00Z");
    assert_eq!(upsert(&decode(&o)).clinical_time, Some(datetime!(2024-03-04 10:00 -5)));
    o["effectivePeriod"] = json!({"end": "2024-03-04"});
    assert_eq!(upsert(&decode(&o)).clinical_time, Some(datetime!(2024-03-04 0:00 UTC)), "the day written");
    o["effectivePeriod"] = json!({"end": "2024-03-04T10:00:00"});
    assert_eq!(rejected(&o).0, "malformed-field", "an end without a zone is no time");
    o.as_object_mut().unwrap().remove("issued");
    o.as_object_mut().unwrap().remove("effectivePeriod");
    o["issued"] = json!("2024-01-11T10:00:00Z");
    assert_eq!(upsert(&decode(&o)).clinical_time, Some(datetime!(2024-01-11 10:00 UTC)));
    o.as_object_mut().unwrap().remove("issued");
    // No fallback to meta.lastUpdated for Observations.
    assert_eq!(rejected(&o).0, "no-clinical-time");
    // An Observation Islet does not use is skipped, time or not.
    let mut hb = obs(LOINC, "718-7", "valueQuantity", qty(13.0, "g/dL"));
    hb.as_object_mut().unwrap().remove("effectiveDateTime");
    assert!(skipped(&hb));

    // Condition: onset, then recordedDate, then meta.lastUpdated.
    let mut c = condition(json!([{"system": SNOMED, "code": "735735001"}]));
    assert_eq!(upsert(&decode(&c)).clinical_time, Some(datetime!(2023-11-05 0:00 UTC)));
    c.as_object_mut().unwrap().remove("onsetDateTime");
    c["recordedDate"] = json!("2023-11-07");
    assert_eq!(upsert(&decode(&c)).clinical_time, Some(datetime!(2023-11-07 0:00 UTC)));
    c.as_object_mut().unwrap().remove("recordedDate");
    assert_eq!(upsert(&decode(&c)).clinical_time, Some(datetime!(2024-02-01 0:00 UTC)));
    c.as_object_mut().unwrap().remove("meta");
    assert_eq!(rejected(&c).0, "no-clinical-time");

    // Therapies fall back to meta.lastUpdated.
    let ms = med_statement("active", ATC, "H01CB02");
    assert_eq!(upsert(&decode(&ms)).clinical_time, Some(datetime!(2024-03-01 0:00 UTC)));
    let mut ms2 = ms.clone();
    ms2.as_object_mut().unwrap().remove("effectivePeriod");
    ms2["dateAsserted"] = json!("2024-03-05");
    assert_eq!(upsert(&decode(&ms2)).clinical_time, Some(datetime!(2024-03-05 0:00 UTC)));
    let r = therapy_resource("MedicationRequest", "active");
    assert_eq!(upsert(&decode(&r)).clinical_time, Some(datetime!(2024-05-01 0:00 UTC)));
    let mut r = therapy_resource("MedicationRequest", "active");
    r["authoredOn"] = json!("2024-04-20");
    assert_eq!(upsert(&decode(&r)).clinical_time, Some(datetime!(2024-04-20 0:00 UTC)));
    let mut sr = therapy_resource("ServiceRequest", "active");
    sr["occurrencePeriod"] = json!({"start": "2024-06-01T08:00:00Z"});
    sr["authoredOn"] = json!("2024-04-20");
    assert_eq!(upsert(&decode(&sr)).clinical_time, Some(datetime!(2024-06-01 8:00 UTC)));
    let mut p = procedure("completed", ISLET, "tace");
    p.as_object_mut().unwrap().remove("performedDateTime");
    p["performedPeriod"] = json!({"start": "2024-04-01"});
    assert_eq!(upsert(&decode(&p)).clinical_time, Some(datetime!(2024-04-01 0:00 UTC)));
    p.as_object_mut().unwrap().remove("performedPeriod");
    assert_eq!(rejected(&p).0, "no-clinical-time");
}

#[test]
fn patient_facts() {
    let mut p = json!({
        "resourceType": "Patient", "id": "p1",
        "meta": {"versionId": "7", "lastUpdated": "2024-06-01T12:00:00Z"},
        "name": [{"family": "Doe", "given": ["Jane"]}],
        "birthDate": "1961-07",
    });
    let d = decode(&p);
    let v = upsert(&d);
    assert_eq!(v.patient, "Patient/p1");
    assert_eq!(v.reference(), "Patient/p1");
    assert_eq!(v.version_id.as_deref(), Some("7"));
    assert_eq!(v.clinical_time, None);
    assert_eq!(v.facts.len(), 1);
    assert_eq!(v.facts[0].kind, FactKind::BirthDate(date!(1961 - 07 - 01)));
    assert_eq!(v.facts[0].at, datetime!(1961-07-01 0:00 UTC));

    p["deceasedBoolean"] = json!(true);
    let d = decode(&p);
    let dead = upsert(&d).facts.iter().find(|f| f.kind == FactKind::Deceased).unwrap();
    assert_eq!(dead.at, datetime!(2024-06-01 12:00 UTC));
    p.as_object_mut().unwrap().remove("meta");
    let d = decode(&p);
    let dead = upsert(&d).facts.iter().find(|f| f.kind == FactKind::Deceased).unwrap();
    assert_eq!(dead.at, datetime!(1900-01-01 0:00 UTC));
    p["deceasedBoolean"] = json!(false);
    assert_eq!(kinds(&p), [FactKind::BirthDate(date!(1961 - 07 - 01))]);
    p.as_object_mut().unwrap().remove("deceasedBoolean");
    p["deceasedDateTime"] = json!("2024-05-30T23:00:00-02:00");
    let d = decode(&p);
    let dead = upsert(&d).facts.iter().find(|f| f.kind == FactKind::Deceased).unwrap();
    assert_eq!(dead.at, datetime!(2024-05-31 1:00 UTC));
    p["birthDate"] = json!("1961-13");
    assert_eq!(rejected(&p).0, "malformed-field");
}

#[test]
fn patient_identity() {
    let mut o = ki67(4.5);
    assert_eq!(upsert(&decode(&o)).patient, "Patient/p1");
    o["subject"] = json!({"reference": "https://ehr.example/fhir/Patient/p1/_history/3"});
    assert_eq!(upsert(&decode(&o)).patient, "Patient/p1");
    o["subject"] = json!({"reference": "Group/g1"});
    assert_eq!(rejected(&o).0, "subject-not-patient");
    o["subject"] = json!({"identifier": {"system": "urn:mrn", "value": "123"}});
    assert_eq!(rejected(&o).0, "no-patient");
    o.as_object_mut().unwrap().remove("subject");
    assert_eq!(rejected(&o).0, "no-patient");
    o["subject"] = json!({"reference": "urn:uuid:0b5e2a1c-0000-4000-8000-000000000001"});
    assert_eq!(rejected(&o).0, "unresolved-reference");
    o["subject"] = json!({"reference": "Patient/p 1"});
    assert_eq!(rejected(&o).0, "malformed-field");
    o["subject"] = json!("Patient/p1");
    assert_eq!(rejected(&o).0, "malformed-field");
}

#[test]
fn version_metadata_and_raw_text() {
    let text = r#"{"resourceType":"Observation","id":"o9","meta":{"versionId":"5","lastUpdated":"2024-01-12T08:00:00.250+02:00"},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29593-1"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-10","valueQuantity":{"value":12.50,"unit":"%"}}"#;
    let d = decode_str(text);
    let v = upsert(&d);
    assert_eq!(v.raw, text);
    assert_eq!(v.reference(), "Observation/o9");
    assert_eq!(v.version_id.as_deref(), Some("5"));
    assert_eq!(v.last_updated, Some(datetime!(2024-01-12 6:00:00.25 UTC)));
    assert_eq!(v.facts[0].source.as_str(), "Observation/o9");
    assert_eq!(v.facts[0].kind, FactKind::Ki67(Ki67Percent::new(12.5).unwrap()));
}

#[test]
fn missing_or_bad_id() {
    let mut o = ki67(4.5);
    o.as_object_mut().unwrap().remove("id");
    assert_eq!(rejected(&o).0, "no-id");
    o["id"] = json!("a/b");
    assert_eq!(rejected(&o).0, "malformed-field");
}

#[test]
fn unsupported_types_are_skipped() {
    let e = json!({"resourceType": "Encounter", "id": "e1", "status": "finished"});
    let d = decode(&e);
    assert!(d.rejections.is_empty());
    assert_eq!(d.changes, [islet_fhir::Change::Skipped { resource_type: "Encounter".into(), id: Some("e1".into()) }]);
}

#[test]
fn ssa_escalation() {
    let mut ms = med_statement("active", ATC, "H01CB02");
    let ssa = |escalated| {
        FactKind::Therapy(Therapy {
            class: TherapyClass::Ssa,
            tense: Tense::Running,
            escalated,
            outcome: None,
            until: None,
        })
    };
    assert_eq!(kinds(&ms), [ssa(false)]);
    for (period, unit, frequency, escalated) in [
        (28.0, "d", 1, false),
        (21.0, "d", 1, true),
        (14.0, "d", 1, true),
        (3.0, "wk", 1, true),
        (4.0, "wk", 1, false),
        (1.0, "mo", 1, false),
        (1.0, "mo", 2, true),
        (1.0, "d", 3, false), // immediate-release t.i.d.: not a depot interval
        (8.0, "h", 1, false),
    ] {
        ms["dosage"] = json!([{"timing": {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}}}]);
        assert_eq!(kinds(&ms), [ssa(escalated)], "{period} {unit} ×{frequency}");
    }
    // The islet code says it directly.
    let code = med_statement("active", ISLET, "ssa-escalated");
    assert_eq!(kinds(&code), [ssa(true)]);
    // MedicationRequest.dosageInstruction counts too.
    let mut mr = therapy_resource("MedicationRequest", "active");
    mr["dosageInstruction"] = json!([{"timing": {"repeat": {"period": 14, "periodUnit": "d"}}}]);
    assert_eq!(kinds(&mr), [ssa(true)]);
}

#[test]
fn medication_by_reference() {
    let mut ms = med_statement("completed", ATC, "none");
    ms.as_object_mut().unwrap().remove("medicationCodeableConcept");
    ms["medicationReference"] = json!({"reference": "#med"});
    ms["contained"] = json!([{"resourceType": "Medication", "id": "med", "code": coding(ATC, "L01XE10")}]);
    assert_eq!(
        kinds(&ms),
        [FactKind::Therapy(Therapy {
            class: TherapyClass::Everolimus,
            tense: Tense::Done,
            escalated: false,
            outcome: None,
            until: None
        })]
    );
    // A contained reference that is not there is a broken message.
    ms["medicationReference"] = json!({"reference": "#other"});
    assert_eq!(rejected(&ms).0, "unresolved-reference");
    // A Medication sent in another message: a pending therapy (tests/linked.rs).
    ms["medicationReference"] = json!({"reference": "Medication/elsewhere"});
    let d = decode(&ms);
    assert_eq!(upsert(&d).pending[0].needs, "Medication/elsewhere");
    // No drug Islet can look up (display only, or none): nothing Islet uses.
    ms["medicationReference"] = json!({"display": "everolimus"});
    assert!(skipped(&ms));
    ms.as_object_mut().unwrap().remove("medicationReference");
    assert!(skipped(&ms));
}

#[test]
fn a_retraction_is_honoured_even_with_a_broken_body() {
    let mut o = obs(LOINC, "29593-1", "valueQuantity", json!({"value": "4.5"}));
    o["status"] = json!("entered-in-error");
    let d = decode(&o);
    assert!(upsert(&d).retracted);
    let mut c = condition(json!([{"system": SNOMED, "code": "735735001"}]));
    c["verificationStatus"] = coding(CONDITION_VER_STATUS, "refuted");
    c["onsetDateTime"] = json!("2023-13");
    c["clinicalStatus"] = coding(CONDITION_CLINICAL, "gone");
    let d = decode(&c);
    assert!(upsert(&d).retracted);
    let mut ms = med_statement("entered-in-error", ATC, "H01CB02");
    ms.as_object_mut().unwrap().remove("medicationCodeableConcept");
    let d = decode(&ms);
    let v = upsert(&d);
    assert!(v.retracted && v.facts.is_empty());
    assert_eq!(v.clinical_time, Some(datetime!(2024-03-01 0:00 UTC)));
}

/// contract.md v2: a done course keeps the end of its recorded period as an
/// exclusive `until` (guideline.md "running therapy"); a date-only end
/// includes that day, in the offset of the start.
#[test]
fn a_done_course_keeps_the_end_of_its_period() {
    let until = |resource: &serde_json::Value| match &kinds(resource)[..] {
        [FactKind::Therapy(t)] => t.until,
        other => panic!("{other:?}"),
    };
    let mut ms = med_statement("completed", ATC, "H01CB03");
    ms["effectivePeriod"] = json!({"start": "2024-01-31T20:00:00-05:00", "end": "2024-06-30"});
    assert_eq!(until(&ms), Some(datetime!(2024-07-01 0:00 -5)));
    ms["effectivePeriod"] = json!({"start": "2024-01-31", "end": "2024-06"});
    assert_eq!(until(&ms), Some(datetime!(2024-07-01 0:00 UTC)));
    ms["effectivePeriod"] = json!({"start": "2024-01-31", "end": "2024-06-30T17:30:00+02:00"});
    assert_eq!(until(&ms), Some(datetime!(2024-06-30 15:30 UTC)));
    // Without a start there is no course to bound (guideline.md: both are needed).
    ms["effectivePeriod"] = json!({"end": "2024-06-30"});
    ms["dateAsserted"] = json!("2024-07-02");
    assert_eq!(until(&ms), None);
    ms["effectivePeriod"] = json!({"start": "2024-01-31"});
    assert_eq!(until(&ms), None);
    let mut p = procedure("completed", ISLET, "prrt");
    p.as_object_mut().unwrap().remove("performedDateTime");
    p["performedPeriod"] = json!({"start": "2024-02-01", "end": "2024-02-01"});
    assert_eq!(until(&p), Some(datetime!(2024-02-02 0:00 UTC)));
    ms["effectivePeriod"] = json!({"start": "2024-01-31", "end": "2024-06-31"});
    assert_eq!(rejected(&ms).0, "malformed-field");
}

/// guideline.md v2 "calendar date": a clinical time keeps its own offset, so
/// its date is the one written.
#[test]
fn clinical_times_keep_the_offset_they_were_written_with() {
    let mut o = ki67(4.5);
    o["effectiveDateTime"] = json!("2024-01-31T20:00:00-05:00");
    let d = decode(&o);
    let at = upsert(&d).facts[0].at;
    assert_eq!(at.date(), time::macros::date!(2024 - 01 - 31), "not 1 February (UTC)");
    assert_eq!(at, datetime!(2024-02-01 1:00 UTC), "the same instant");
    // meta.lastUpdated keeps its offset too; versions compare by instant.
    let mut c = condition(json!([{"system": SNOMED, "code": "735735001"}]));
    c["meta"] = json!({"lastUpdated": "2024-02-01T23:30:00+09:00"});
    let d = decode(&c);
    let lu = upsert(&d).last_updated.unwrap();
    assert_eq!((lu, lu.offset()), (datetime!(2024-02-01 14:30 UTC), time::macros::offset!(+9)));
}
