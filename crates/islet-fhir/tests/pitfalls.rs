//! The fhir-sdk pitfalls measured in shared/notes/fhir-crates.md: each one is
//! a rejection with a specific reason here, never a silently missing value.

mod common;
use common::*;
use serde_json::json;

#[test]
fn value_quantity_value_as_string_is_rejected() {
    let o = obs(LOINC, "29593-1", "valueQuantity", json!({"value": "4.5", "unit": "%"}));
    let (code, text) = rejected(&o);
    assert_eq!(code, "malformed-value");
    assert!(text.contains("valueQuantity"), "{text}");
    assert!(text.contains("`value`"), "{text}");
    assert!(!text.contains("4.5"), "a reason must not echo values: {text}");
}

#[test]
fn unknown_comparator_is_rejected() {
    let o = obs(LOINC, "29593-1", "valueQuantity", json!({"value": 4.5, "comparator": "~", "unit": "%"}));
    let (code, text) = rejected(&o);
    assert_eq!(code, "malformed-value");
    assert!(text.contains("valueQuantity") && text.contains('~'), "{text}");
}

#[test]
fn value_of_the_wrong_shape_is_rejected() {
    for (key, value) in [
        ("valueQuantity", json!([{"value": 4.5}])),
        ("valueQuantity", json!("4.5 %")),
        ("valueCodeableConcept", json!("positive")),
        ("valueCodeableConcept", json!({"coding": {"code": "x"}})),
        ("valueInteger", json!(2.5)),
        ("valueInteger", json!("2")),
        ("valueBoolean", json!("true")),
        ("valueRange", json!(3)),
        ("valueDateTime", json!("2024-01-10T10:00:00")),
        ("valueQuantitiy", json!({"value": 4.5, "unit": "%"})),
        ("valueDecimal", json!(4.5)),
        ("valueQuantity", json!(null)),
    ] {
        let o = obs(LOINC, "29593-1", key, value.clone());
        let (code, text) = rejected(&o);
        assert_eq!(code, "malformed-value", "{key}: {value} → {text}");
        assert!(text.contains(key), "{key}: {text}");
    }
}

#[test]
fn two_values_are_rejected() {
    let mut o = ki67(4.5);
    o["valueInteger"] = json!(4);
    let (code, text) = rejected(&o);
    assert_eq!(code, "malformed-value");
    assert!(text.contains("more than one"), "{text}");
}

#[test]
fn malformed_component_value_is_rejected_with_its_path() {
    let o = json!({
        "resourceType": "Observation", "id": "s1", "status": "final",
        "code": coding(LOINC, "21889-1"),
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-01-10",
        "component": [
            {"code": coding(LOINC, "33728-7"), "valueQuantity": {"value": "14", "unit": "mm"}}
        ]
    });
    let (code, text) = rejected(&o);
    assert_eq!(code, "malformed-value");
    assert!(text.contains("component[0].valueQuantity"), "{text}");
}

#[test]
fn malformed_value_is_rejected_whatever_the_status() {
    let mut o = obs(LOINC, "29593-1", "valueQuantity", json!({"value": "4.5"}));
    o["status"] = json!("cancelled");
    assert_eq!(rejected(&o).0, "malformed-value");
}

#[test]
fn resource_type_is_checked() {
    let mut o = ki67(4.5);
    o["resourceType"] = json!("Observatoin");
    assert_eq!(rejected(&o).0, "unknown-resource-type");
    o["resourceType"] = json!(42);
    assert_eq!(rejected(&o).0, "malformed-field");
    o.as_object_mut().unwrap().remove("resourceType");
    assert_eq!(rejected(&o).0, "no-resource-type");
    // A Condition body labelled as an Observation is read as an Observation:
    // with a code Islet reads as an Observation's it is validated (no status) …
    let mut c = condition(json!([{"system": LOINC, "code": "29593-1"}]));
    c["resourceType"] = json!("Observation");
    assert_eq!(rejected(&c).0, "missing-status");
    // … with a diagnosis code it is an Observation Islet does not use.
    let mut c = condition(json!([{"system": SNOMED, "code": "735735001"}]));
    c["resourceType"] = json!("Observation");
    assert!(skipped(&c));
}

#[test]
fn resource_type_mismatches_are_wrong_resource_type() {
    // Bundle entry whose request.url names another type.
    let b = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": ki67(3.0), "request": {"method": "PUT", "url": "Condition/o1"}}
    ]});
    let d = decode(&b);
    assert_eq!(d.rejections.len(), 1);
    assert_eq!(d.rejections[0].reason.code(), "wrong-resource-type");
    assert_eq!(d.rejections[0].entry, Some(0));
    // Envelope whose payloadId names another type.
    let env = json!({"operationType": "UPDATE", "payloadId": "Condition/o1", "payload": ki67(3.0).to_string()});
    assert_eq!(rejected(&env).0, "wrong-resource-type");
    // A medicationReference to a contained resource that is not a Medication.
    let mut ms = med_statement("active", ATC, "H01CB02");
    ms.as_object_mut().unwrap().remove("medicationCodeableConcept");
    ms["medicationReference"] = json!({"reference": "#m1"});
    ms["contained"] = json!([{"resourceType": "Substance", "id": "m1", "code": coding(ATC, "H01CB02")}]);
    assert_eq!(rejected(&ms).0, "wrong-resource-type");
}

fn rejected_str(text: &str) -> &'static str {
    let d = decode_str(text);
    assert!(d.changes.is_empty(), "unexpected changes: {:#?}", d.changes);
    assert_eq!(d.rejections.len(), 1, "{:#?}", d.rejections);
    d.rejections[0].reason.code()
}

#[test]
fn modifier_extensions_are_rejected_wherever_they_are() {
    let url = "http://example.org/fhir/StructureDefinition/not-given";
    let mut top = ki67(4.5);
    top["modifierExtension"] = json!([{"url": url, "valueBoolean": true}]);
    let (code, text) = rejected(&top);
    assert_eq!(code, "unsupported-modifier-extension");
    assert!(text.contains(url), "{text}");

    let mut nested = med_statement("active", ATC, "H01CB02");
    nested["dosage"] = json!([{"modifierExtension": [{"url": url, "valueBoolean": true}], "text": "x"}]);
    let (code, text) = rejected(&nested);
    assert_eq!(code, "unsupported-modifier-extension");
    assert!(text.contains("dosage[0].modifierExtension"), "{text}");

    let mut contained = ki67(4.5);
    contained["contained"] = json!([{"resourceType": "BodyStructure", "id": "b", "modifierExtension": [{"url": url}]}]);
    assert_eq!(rejected(&contained).0, "unsupported-modifier-extension");

    // At any depth (contract.md v2): inside a component's extension's value,
    // an extension of an extension, a contained resource's nested element.
    let deep = [
        ("component[0].extension[0].valueCodeableConcept.modifierExtension", {
            let mut o = obs(LOINC, "21889-1", "", json!(null));
            o["component"] = json!([{"code": coding(LOINC, "33728-7"), "valueQuantity": qty(12.0, "mm"),
                "extension": [{"url": "http://x.org/e", "valueCodeableConcept": {"modifierExtension": [{"url": url}]}}]}]);
            o
        }),
        ("extension[0].extension[0].extension[0].modifierExtension", {
            let mut o = ki67(4.5);
            o["extension"] = json!([{"url": "a", "extension": [{"url": "b", "extension": [{"url": "c", "modifierExtension": [{"url": url}]}]}]}]);
            o
        }),
        ("contained[0].location.coding[0].modifierExtension", {
            let mut o = ki67(4.5);
            o["contained"] = json!([{"resourceType": "BodyStructure", "id": "b", "location": {"coding": [{"modifierExtension": [{"url": url}]}]}}]);
            o
        }),
    ];
    for (path, o) in deep {
        let (code, text) = rejected(&o);
        assert_eq!(code, "unsupported-modifier-extension", "{path}");
        assert!(text.contains(path), "{path}: {text}");
    }
    // Its name written with a JSON escape is the same element (FHIR reads it so).
    let escaped =
        ki67(4.5).to_string().replacen('{', &format!("{{\"modifier\\u0045xtension\":[{{\"url\":\"{url}\"}}],"), 1);
    assert_eq!(rejected_str(&escaped), "unsupported-modifier-extension");

    // An empty list, or the word inside a text, is not a modifier extension.
    let mut harmless = ki67(4.5);
    harmless["modifierExtension"] = json!([]);
    harmless["note"] = json!([{"text": "no \"modifierExtension\" here"}]);
    assert_eq!(upsert(&decode(&harmless)).facts.len(), 1);
}

#[test]
fn last_updated_without_time_zone_is_a_clear_rejection() {
    let mut o = ki67(4.5);
    o["meta"]["lastUpdated"] = json!("2024-01-12T08:00:00");
    let (code, text) = rejected(&o);
    assert_eq!(code, "malformed-field");
    assert!(text.contains("meta.lastUpdated") && text.contains("time zone"), "{text}");
}

#[test]
fn effective_date_time_without_time_zone_is_rejected_not_dropped() {
    let mut o = ki67(4.5);
    o["effectiveDateTime"] = json!("2024-01-10T09:00:00");
    let (code, text) = rejected(&o);
    assert_eq!(code, "malformed-field");
    assert!(text.contains("effectiveDateTime"), "{text}");
}

#[test]
fn unknown_status_and_missing_code_have_specific_reasons() {
    let mut o = ki67(4.5);
    o["status"] = json!("finalised");
    let (code, text) = rejected(&o);
    assert_eq!(code, "unknown-status");
    assert!(text.contains("finalised"), "{text}");
    o.as_object_mut().unwrap().remove("status");
    assert_eq!(rejected(&o).0, "missing-status");
    // Without a code an Observation says nothing Islet uses (relevance before validation).
    let mut o = ki67(4.5);
    o.as_object_mut().unwrap().remove("code");
    assert!(skipped(&o));
    // A component without a code, in an Observation Islet uses, is a rejection.
    let mut o = obs(LOINC, "21889-1", "", json!(null));
    o["component"] = json!([{"valueQuantity": qty(12.0, "mm")}]);
    assert_eq!(rejected(&o).0, "missing-code");
    let mut c = condition(json!([{"system": SNOMED, "code": "735735001"}]));
    c["clinicalStatus"] = coding(CONDITION_CLINICAL, "actve");
    assert_eq!(rejected(&c).0, "unknown-status");
    let ms = med_statement("taking", ATC, "H01CB02");
    assert_eq!(rejected(&ms).0, "unknown-status");
}

#[test]
fn reasons_do_not_carry_patient_names() {
    let mut o = ki67(4.5);
    o["subject"] = json!({"display": "Jane Doe"});
    let d = decode(&o);
    let text = d.rejections[0].to_string();
    assert_eq!(d.rejections[0].reason.code(), "no-patient");
    assert!(!text.contains("Jane"), "{text}");
}

#[test]
fn invalid_json_and_non_objects() {
    assert_eq!(decode_str("{\"resourceType\": ").rejections[0].reason.code(), "invalid-json");
    assert_eq!(decode_str("[1,2]").rejections[0].reason.code(), "not-an-object");
    assert_eq!(decode_str("").rejections[0].reason.code(), "not-an-object");
    assert_eq!(decode_str("<Observation/>").rejections[0].reason.code(), "not-an-object");
    let d = islet_fhir::Decoder::default().decode(b"{\"id\":\"\xff\"}");
    assert_eq!(d.rejections[0].reason.code(), "invalid-json");
    let dup = r#"{"resourceType":"Observation","id":"a","id":"b"}"#;
    assert_eq!(decode_str(dup).rejections[0].reason.code(), "invalid-json");
}
