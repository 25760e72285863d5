//! contract.md v2, "References across messages": a Medication or a focus
//! BodyStructure sent in another message is a pending fact, never a
//! rejection; the Medication and the BodyStructure themselves are decoded
//! into the definitions that resolve them (`linked.rs`).

mod common;
use common::*;
use islet_fhir::canonical::content_sha256;
use islet_fhir::{Change, Definition, PendingKind, ResourceType};
use islet_guideline::facts::{Millimetres, Tense, Therapy, TherapyClass, TumourSite};
use islet_guideline::FactKind;
use serde_json::{json, Value};
use time::macros::datetime;

fn statement_of(reference: &str) -> Value {
    let mut ms = med_statement("active", ATC, "x");
    ms.as_object_mut().unwrap().remove("medicationCodeableConcept");
    ms["medicationReference"] = json!({"reference": reference});
    ms
}

fn medication(id: &str, system: &str, code: &str) -> Value {
    json!({"resourceType": "Medication", "id": id, "meta": {"versionId": "3", "lastUpdated": "2024-01-02T00:00:00Z"},
        "code": coding(system, code)})
}

fn shared(v: &Value) -> islet_fhir::SharedVersion {
    let d = decode(v);
    assert!(d.rejections.is_empty(), "{:?}", d.rejections);
    match &d.changes[..] {
        [Change::Shared(s)] => s.clone(),
        other => panic!("expected a shared version, got {other:?}"),
    }
}

#[test]
fn a_medication_in_another_message_makes_a_pending_therapy() {
    // Before v2 this was an `unresolved-reference` rejection.
    let mut ms = statement_of("Medication/m1");
    ms["effectivePeriod"] = json!({"start": "2024-03-01T09:00:00-05:00", "end": "2024-06-30"});
    ms["dosage"] = json!([{"timing": {"repeat": {"frequency": 1, "period": 14, "periodUnit": "d"}}}]);
    let d = decode(&ms);
    let v = upsert(&d);
    assert!(v.facts.is_empty(), "no fact until the Medication is known: {:?}", v.facts);
    assert_eq!(v.pending.len(), 1);
    let p = &v.pending[0];
    assert_eq!(p.needs, "Medication/m1");
    assert_eq!(p.source.as_str(), "MedicationStatement/ms1");
    assert_eq!(p.at, datetime!(2024-03-01 9:00 -5), "the therapy's clinical time");
    assert_eq!(
        p.kind,
        PendingKind::Therapy { tense: Tense::Running, escalated: true, until: Some(datetime!(2024-07-01 0:00 -5)) }
    );
    // An absolute reference names the same Medication; a MedicationRequest too.
    let ms = statement_of("https://ehr.example/fhir/Medication/m1/_history/2");
    assert_eq!(upsert(&decode(&ms)).pending[0].needs, "Medication/m1");
    let mut mr = statement_of("Medication/m1");
    mr["resourceType"] = json!("MedicationRequest");
    mr["status"] = json!("draft");
    mr["intent"] = json!("order");
    mr["authoredOn"] = json!("2024-02-01");
    let d = decode(&mr);
    let p = &upsert(&d).pending[0];
    assert_eq!(
        (p.at, &p.kind),
        (
            datetime!(2024-02-01 0:00 UTC),
            &PendingKind::Therapy { tense: Tense::Planned, escalated: false, until: None }
        )
    );
    // A status that means "absent" pends nothing.
    let mut stopped_before = statement_of("Medication/m1");
    stopped_before["status"] = json!("not-taken");
    assert!(upsert(&decode(&stopped_before)).pending.is_empty());
}

#[test]
fn the_medication_resource_is_a_shared_version() {
    let m = medication("m1", ATC, "H01CB02");
    let s = shared(&m);
    assert_eq!(s.reference, "Medication/m1");
    assert_eq!(s.version_id.as_deref(), Some("3"));
    assert_eq!(s.last_updated, Some(datetime!(2024-01-02 0:00 UTC)));
    assert_eq!(s.content_hash, content_sha256(&m.to_string()));
    assert_eq!(s.raw, m.to_string());
    assert_eq!(s.definition, Definition::Medication { class: Some(TherapyClass::Ssa), escalated: false });
    // A drug Islet does not use: no class (a pending therapy then stays unused).
    let aspirin = shared(&medication("m2", ATC, "B01AC06"));
    assert_eq!(aspirin.definition, Definition::Medication { class: None, escalated: false });
    let high_dose = shared(&medication("m3", ISLET, "ssa-escalated"));
    assert_eq!(high_dose.definition, Definition::Medication { class: Some(TherapyClass::Ssa), escalated: true });
    // Resolving: the pending therapy becomes the coded therapy it names.
    let d = decode(&statement_of("Medication/m1"));
    let fact = upsert(&d).pending[0].resolve(&s.definition).unwrap();
    let expected =
        Therapy { class: TherapyClass::Ssa, tense: Tense::Running, escalated: false, outcome: None, until: None };
    assert_eq!(fact.kind, FactKind::Therapy(expected));
    assert_eq!(upsert(&d).pending[0].resolve(&aspirin.definition), None);
    // A Medication must be storable like any resource.
    let mut bad = medication("m 1", ATC, "H01CB02");
    assert_eq!(rejected(&bad).0, "malformed-field");
    bad["id"] = json!("m1");
    bad["modifierExtension"] = json!([{"url": "http://x.org/m"}]);
    assert_eq!(rejected(&bad).0, "unsupported-modifier-extension");
}

#[test]
fn a_medication_in_the_same_bundle_resolves_directly_and_is_kept() {
    let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:m", "resource": medication("m1", ATC, "L01XE10")},
        {"resource": statement_of("urn:uuid:m")},
    ]});
    let d = decode(&b);
    assert!(d.rejections.is_empty(), "{:?}", d.rejections);
    let [Change::Shared(s), Change::Upsert(v)] = &d.changes[..] else { panic!("{:?}", d.changes) };
    assert_eq!(s.reference, "Medication/m1");
    assert!(v.pending.is_empty());
    assert!(matches!(v.facts[0].kind, FactKind::Therapy(Therapy { class: TherapyClass::Everolimus, .. })));
}

fn size(extra: Value) -> Value {
    let mut o = obs(LOINC, "33728-7", "valueQuantity", qty(1.2, "cm"));
    for (k, v) in extra.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

fn body_structure(id: &str, location: Value) -> Value {
    json!({"resourceType": "BodyStructure", "id": id, "patient": {"reference": "Patient/p1"}, "location": location})
}

#[test]
fn a_focus_in_another_message_makes_a_pending_size() {
    let o = size(json!({"focus": [{"reference": "BodyStructure/b1"}]}));
    let d = decode(&o);
    let v = upsert(&d);
    assert!(v.facts.is_empty(), "{:?}", v.facts);
    assert_eq!(v.pending[0].needs, "BodyStructure/b1");
    let largest = Millimetres::new(12.0).unwrap();
    assert_eq!(v.pending[0].kind, PendingKind::TumourSize { largest });
    // The value is checked now: an unknown unit is a problem at once, nothing pends.
    let mut inches = o.clone();
    inches["valueQuantity"] = qty(1.0, "[in_i]");
    let d = decode(&inches);
    assert!(upsert(&d).pending.is_empty());
    assert!(matches!(upsert(&d).facts[0].kind, FactKind::Problem { .. }));
}

#[test]
fn an_unplaced_focus_never_defaults_to_the_pancreas() {
    // Before v2 a breast tumour's size became "primary 12 mm".
    let breast = body_structure("b1", coding(SNOMED, "76752008"));
    let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": breast},
        {"resource": size(json!({"focus": [{"reference": "BodyStructure/b1"}]}))},
    ]});
    let d = decode(&b);
    let sizes: Vec<_> = d
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(v) if v.resource_type == ResourceType::Observation => Some(v.facts.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, [vec![]], "a size of another site is not used");
    for focus in [
        json!([{"reference": "Condition/c1"}]),
        json!([{"display": "left breast"}]),
        json!([{"reference": "urn:uuid:x"}]),
    ] {
        let d = decode(&size(json!({"focus": focus})));
        let v = upsert(&d);
        assert!(v.facts.is_empty() && v.pending.is_empty(), "{focus}: {:?}", v.facts);
    }
    // A body site Islet cannot read (text only, an unknown code) is site information too.
    for site in [json!({"text": "left breast"}), coding(SNOMED, "76752008")] {
        assert!(kinds(&size(json!({"bodySite": site}))).is_empty(), "{site}");
    }
    // Only a size with no site information at all is the primary.
    let mm = Millimetres::new(12.0).unwrap();
    assert_eq!(kinds(&size(json!({}))), [FactKind::TumourSize { site: TumourSite::Primary, largest: mm }]);
    let by_display = size(json!({"focus": [{"display": "lesion in the pancreatic tail"}]}));
    assert_eq!(kinds(&by_display), [FactKind::TumourSize { site: TumourSite::Primary, largest: mm }]);
}

#[test]
fn a_body_structure_defines_its_site() {
    let cases = [
        (body_structure("b1", coding(SNOMED, "15776009")), Some(TumourSite::Primary)),
        (body_structure("b1", coding(SNOMED, "64163001")), Some(TumourSite::Primary)), // head of pancreas
        (body_structure("b1", coding(SNOMED, "10200004")), Some(TumourSite::Liver)),
        (body_structure("b1", coding(SNOMED, "76752008")), None),
        (body_structure("b1", json!({"text": "pancreas"})), None),
        // R5: includedStructure.
        (
            json!({"resourceType": "BodyStructure", "id": "b1", "patient": {"reference": "Patient/p1"},
                   "includedStructure": [{"structure": coding(SNOMED, "73239005")}]}),
            Some(TumourSite::Primary),
        ),
    ];
    for (b, site) in cases {
        let d = decode(&b);
        let v = upsert(&d);
        assert_eq!(v.resource_type, ResourceType::BodyStructure);
        assert_eq!(v.patient, "Patient/p1");
        assert!(v.facts.is_empty() && v.pending.is_empty());
        assert_eq!(v.definition, Some(Definition::BodyStructure { site }), "{b}");
        // In the same message, the focus resolves directly to that site.
        let msg = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": b}, {"resource": size(json!({"focus": [{"reference": "BodyStructure/b1"}]}))}]});
        let d = decode(&msg);
        let Change::Upsert(o) = &d.changes[1] else { panic!("{:?}", d.changes) };
        let mm = Millimetres::new(12.0).unwrap();
        let expected: Vec<FactKind> = site.map(|site| FactKind::TumourSize { site, largest: mm }).into_iter().collect();
        assert_eq!(o.facts.iter().map(|f| f.kind.clone()).collect::<Vec<_>>(), expected);
        assert!(o.pending.is_empty());
    }
    // A BodyStructure is a patient's resource: it needs its patient.
    let mut orphan = body_structure("b2", coding(SNOMED, "15776009"));
    orphan.as_object_mut().unwrap().remove("patient");
    assert_eq!(rejected(&orphan).0, "no-patient");
}
