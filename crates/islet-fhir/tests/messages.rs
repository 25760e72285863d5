//! Bundles and HAPI FHIR / Smile CDR delivery envelopes.

mod common;
use common::*;
use islet_fhir::{Change, ResourceType};
use islet_guideline::FactKind;
use serde_json::{json, Value};

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "id": "b1", "type": kind, "entry": entries})
}

fn upserts(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| match c {
            Change::Upsert(v) => v.reference(),
            Change::Delete { resource_type, id, .. } => format!("DELETE {resource_type}/{id}"),
            Change::Skipped { resource_type, .. } => format!("SKIP {resource_type}"),
            Change::Unused(v) => format!("SKIP {}", v.resource_type),
            Change::Shared(s) => format!("SHARED {}", s.reference),
        })
        .collect()
}

#[test]
fn a_bad_entry_does_not_spoil_the_good_ones() {
    let mut bad = ki67(4.5);
    bad["id"] = json!("bad");
    bad["valueQuantity"]["value"] = json!("4.5");
    let mut good2 = condition(json!([{"system": SNOMED, "code": "735735001"}]));
    good2["id"] = json!("c9");
    let b = bundle(
        "collection",
        vec![
            json!({"resource": ki67(3.0)}),
            json!({"resource": bad}),
            json!({"resource": {"resourceType": "Encounter", "id": "e1"}}),
            json!({"resource": good2}),
            json!({"resource": [1, 2]}),
            json!({"fullUrl": "urn:uuid:x"}),
        ],
    );
    let d = decode(&b);
    assert_eq!(upserts(&d.changes), ["Observation/o1", "SKIP Encounter", "Condition/c9"]);
    let r: Vec<_> = d.rejections.iter().map(|r| (r.entry, r.resource.clone(), r.reason.code())).collect();
    assert_eq!(
        r,
        [
            (Some(1), Some("Observation/bad".to_string()), "malformed-value"),
            (Some(4), None, "not-an-object"),
            (Some(5), None, "empty-entry"),
        ]
    );
}

#[test]
fn raw_is_the_entry_text_as_received() {
    let text = r#"{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","id":"p1","birthDate":"1970"},"request":{"method":"PUT","url":"Patient/p1"}}]}"#;
    let d = decode_str(text);
    assert_eq!(upsert(&d).raw, r#"{"resourceType":"Patient","id":"p1","birthDate":"1970"}"#);
}

#[test]
fn delete_entries() {
    let b = bundle(
        "transaction",
        vec![
            json!({"request": {"method": "DELETE", "url": "Observation/o1"}}),
            json!({"request": {"method": "DELETE", "url": "https://ehr.example/fhir/Condition/c1/_history/4"}}),
            json!({"request": {"method": "DELETE", "url": "Encounter/e1"}}),
            json!({"request": {"method": "DELETE", "url": "Observation?code=29593-1"}}),
            // A conditional delete of a type Islet does not keep changes nothing.
            json!({"request": {"method": "DELETE", "url": "Encounter?patient=p1"}}),
            json!({"request": {"method": "DELETE", "url": "Observatoin/o1"}}),
            json!({"request": {"method": "PATCH", "url": "Observation/o1"}, "resource": {"resourceType": "Parameters"}}),
        ],
    );
    let d = decode(&b);
    assert_eq!(
        d.changes,
        [
            Change::Delete {
                resource_type: ResourceType::Observation,
                id: "o1".into(),
                patient: None,
                version_id: None
            },
            Change::Delete {
                resource_type: ResourceType::Condition,
                id: "c1".into(),
                patient: None,
                version_id: Some("4".into())
            },
            Change::Skipped { resource_type: "Encounter".into(), id: Some("e1".into()) },
            Change::Skipped { resource_type: "Encounter".into(), id: None },
        ]
    );
    let r: Vec<_> = d.rejections.iter().map(|r| (r.entry, r.reason.code())).collect();
    assert_eq!(
        r,
        [(Some(3), "bad-request-url"), (Some(5), "unknown-resource-type"), (Some(6), "unsupported-request-method")]
    );
}

#[test]
fn history_bundle_delete_takes_the_version_from_the_etag() {
    let b = bundle(
        "history",
        vec![json!({
            "request": {"method": "DELETE", "url": "Observation/o1"},
            "response": {"status": "204", "etag": "W/\"3\""}
        })],
    );
    let d = decode(&b);
    assert!(matches!(&d.changes[..], [Change::Delete { version_id: Some(v), .. }] if v == "3"));
}

#[test]
fn urn_uuid_subjects_resolve_to_the_patient_entry() {
    let patient_url = "urn:uuid:8f6b3c1e-4a4c-4a9e-9b1e-7f0d2c0b9a11";
    let mut o = ki67(4.5);
    o["subject"] = json!({"reference": patient_url});
    let mut c = condition(json!([{"system": SNOMED, "code": "735735001"}]));
    c["subject"] = json!({"reference": "urn:uuid:00000000-0000-4000-8000-000000000099"});
    let mut enc = ki67(3.0);
    enc["id"] = json!("o2");
    enc["subject"] = json!({"reference": "urn:uuid:enc"});
    let b = bundle(
        "transaction",
        vec![
            json!({"fullUrl": patient_url, "resource": {"resourceType": "Patient", "id": "p42"}, "request": {"method": "PUT", "url": "Patient/p42"}}),
            json!({"fullUrl": "urn:uuid:enc", "resource": {"resourceType": "Encounter", "id": "e1"}}),
            json!({"resource": o}),
            json!({"resource": c}),
            json!({"resource": enc}),
        ],
    );
    let d = decode(&b);
    let patients: Vec<_> = d
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(v) => Some((v.reference(), v.patient.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        patients,
        [
            ("Patient/p42".to_string(), "Patient/p42".to_string()),
            ("Observation/o1".to_string(), "Patient/p42".to_string())
        ]
    );
    let r: Vec<_> = d.rejections.iter().map(|r| (r.entry, r.reason.code())).collect();
    assert_eq!(r, [(Some(3), "unresolved-reference"), (Some(4), "subject-not-patient")]);
}

#[test]
fn bundle_level_problems() {
    let mut b = bundle("collectoin", vec![]);
    assert_eq!(rejected(&b).0, "unsupported-bundle-type");
    b.as_object_mut().unwrap().remove("type");
    assert_eq!(rejected(&b).0, "missing-field");
    let b = json!({"resourceType": "Bundle", "type": "batch", "entry": {"resource": {}}});
    assert_eq!(rejected(&b).0, "malformed-field");
    // An empty Bundle is simply empty.
    let d = decode(&bundle("searchset", vec![]));
    assert!(d.changes.is_empty() && d.rejections.is_empty());
}

#[test]
fn bundle_medication_reference_resolves_to_an_entry() {
    let mut ms = med_statement("active", ATC, "x");
    ms.as_object_mut().unwrap().remove("medicationCodeableConcept");
    ms["medicationReference"] = json!({"reference": "urn:uuid:med-1"});
    let mut ms2 = ms.clone();
    ms2["id"] = json!("ms2");
    ms2["medicationReference"] = json!({"reference": "Medication/m2"});
    let b = bundle(
        "collection",
        vec![
            json!({"fullUrl": "urn:uuid:med-1", "resource": {"resourceType": "Medication", "id": "m1", "code": coding(ATC, "V10XX04")}}),
            json!({"fullUrl": "https://ehr.example/fhir/Medication/m2", "resource": {"resourceType": "Medication", "id": "m2", "code": coding(ATC, "L01EX01")}}),
            json!({"resource": ms}),
            json!({"resource": ms2}),
        ],
    );
    let d = decode(&b);
    assert!(d.rejections.is_empty(), "{:?}", d.rejections);
    let classes: Vec<_> = d
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(v) => v.facts.first().map(|f| f.kind.clone()),
            _ => None,
        })
        .collect();
    assert!(matches!(&classes[..], [FactKind::Therapy(a), FactKind::Therapy(b)]
        if a.class == islet_guideline::facts::TherapyClass::Prrt && b.class == islet_guideline::facts::TherapyClass::Sunitinib));
}

fn delivery(op: &str, payload: Option<&Value>, payload_id: Option<&str>) -> Value {
    let mut m = json!({
        "operationType": op,
        "mediaType": "application/fhir+json",
        "partitionId": {"allPartitions": false},
        "canonicalSubscription": {"id": "Subscription/islet"},
    });
    if let Some(p) = payload {
        m["payload"] = json!(p.to_string());
    }
    if let Some(id) = payload_id {
        m["payloadId"] = json!(id);
    }
    m
}

fn wrapped(inner: Value) -> Value {
    json!({"headers": {"retryCount": 0, "customHeaders": {}}, "payload": inner})
}

#[test]
fn envelopes_bare_and_wrapped() {
    let o = ki67(4.5);
    for op in ["CREATE", "UPDATE", "MANUALLY_TRIGGERED"] {
        let bare = delivery(op, Some(&o), Some("Observation/o1/_history/2"));
        for msg in [bare.clone(), wrapped(bare)] {
            let d = decode(&msg);
            let v = upsert(&d);
            assert_eq!(v.reference(), "Observation/o1", "{op}");
            assert_eq!(v.raw, o.to_string(), "raw is the payload string");
            assert_eq!(v.facts.len(), 1);
        }
    }
    // DELETE: identity from payloadId; the patient from the payload when present.
    for msg in [
        delivery("DELETE", Some(&o), Some("Observation/o1/_history/3")),
        wrapped(delivery("DELETE", Some(&o), Some("Observation/o1/_history/3"))),
    ] {
        let d = decode(&msg);
        assert!(d.rejections.is_empty());
        assert_eq!(
            d.changes,
            [Change::Delete {
                resource_type: ResourceType::Observation,
                id: "o1".into(),
                patient: Some("Patient/p1".into()),
                version_id: Some("3".into())
            }]
        );
    }
    let d = decode(&wrapped(delivery("DELETE", None, Some("Condition/c1"))));
    assert_eq!(
        d.changes,
        [Change::Delete { resource_type: ResourceType::Condition, id: "c1".into(), patient: None, version_id: None }]
    );
    // DELETE without payloadId: identity from the payload.
    let d = decode(&delivery("DELETE", Some(&o), None));
    assert!(matches!(&d.changes[..], [Change::Delete { id, version_id: Some(v), .. }] if id == "o1" && v == "2"));
}

#[test]
fn envelope_payload_may_be_a_bundle_or_inline() {
    let b = bundle("transaction", vec![json!({"resource": ki67(4.5)})]);
    let d = decode(&delivery("TRANSACTION", Some(&b), None));
    assert_eq!(upserts(&d.changes), ["Observation/o1"]);
    let inline = json!({"operationType": "CREATE", "payload": ki67(4.5)});
    assert_eq!(upsert(&decode(&inline)).reference(), "Observation/o1");
}

#[test]
fn envelope_problems() {
    let o = ki67(4.5);
    assert_eq!(rejected(&delivery("PATCH", Some(&o), None)).0, "unknown-operation");
    let mut no_op = delivery("CREATE", Some(&o), None);
    no_op.as_object_mut().unwrap().remove("operationType");
    assert_eq!(rejected(&no_op).0, "unknown-operation");
    assert_eq!(rejected(&delivery("CREATE", None, Some("Observation/o1"))).0, "no-payload");
    assert_eq!(rejected(&delivery("DELETE", None, None)).0, "no-payload");
    let xml = json!({"operationType": "CREATE", "payload": "<Observation xmlns=\"http://hl7.org/fhir\"/>"});
    assert_eq!(rejected(&xml).0, "unsupported-payload-encoding");
    let garbage = json!({"operationType": "CREATE", "payload": "{\"resourceType\": "});
    assert_eq!(rejected(&garbage).0, "invalid-json");
    assert_eq!(rejected(&delivery("UPDATE", Some(&o), Some("Observation/other"))).0, "id-mismatch");
    assert_eq!(rejected(&delivery("UPDATE", Some(&o), Some("Observation?x=1"))).0, "bad-request-url");
    let env_in_env = json!({"operationType": "CREATE", "payload": delivery("CREATE", Some(&o), None).to_string()});
    assert_eq!(rejected(&env_in_env).0, "no-resource-type");
    // The payload's own problems come through.
    let mut bad = ki67(4.5);
    bad["modifierExtension"] = json!([{"url": "http://x"}]);
    let d = decode(&wrapped(delivery("UPDATE", Some(&bad), Some("Observation/o1"))));
    assert_eq!(d.rejections[0].reason.code(), "unsupported-modifier-extension");
    assert_eq!(d.rejections[0].resource.as_deref(), Some("Observation/o1"));
}

#[test]
fn a_plain_object_is_neither_resource_nor_envelope() {
    assert_eq!(rejected(&json!({"hello": "world"})).0, "no-resource-type");
}

// ---- contract.md v2: Bundles -------------------------------------------

/// An R4 backport topic-based notification: the status entry (Parameters
/// with the backport-subscription-status profile), then the events.
fn notification(kind: &str, events: Vec<Value>) -> Value {
    let status = json!({"resourceType": "Parameters", "id": "st",
    "meta": {"profile": ["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4"]},
    "parameter": [
        {"name": "subscription", "valueReference": {"reference": "Subscription/islet"}},
        {"name": "status", "valueCode": "active"},
        {"name": "type", "valueCode": kind},
    ]});
    let mut entries = vec![json!({"fullUrl": "urn:uuid:status", "resource": status})];
    entries.extend(events);
    bundle("subscription-notification", entries)
}

#[test]
fn document_bundles_are_read() {
    let composition = json!({"resourceType": "Composition", "id": "doc", "status": "final"});
    let b = bundle("document", vec![json!({"resource": composition}), json!({"resource": ki67(4.5)})]);
    let d = decode(&b);
    assert!(d.rejections.is_empty(), "{:?}", d.rejections);
    assert_eq!(upserts(&d.changes), ["SKIP Composition", "Observation/o1"]);
}

#[test]
fn subscription_notifications() {
    // Full resources: the status entry is skipped quietly, the events are read.
    let event = json!({"fullUrl": "http://ehr.example/fhir/Observation/o1", "resource": ki67(4.5),
        "request": {"method": "PUT", "url": "Observation/o1"}});
    let d = decode(&notification("event-notification", vec![event]));
    assert!(d.rejections.is_empty(), "{:?}", d.rejections);
    assert_eq!(upserts(&d.changes), ["SKIP Parameters", "Observation/o1"]);
    // R4B / R5: SubscriptionStatus.
    let status = json!({"resourceType": "SubscriptionStatus", "status": "active", "type": "event-notification"});
    let b = bundle("subscription-notification", vec![json!({"resource": status}), json!({"resource": ki67(4.5)})]);
    assert_eq!(upserts(&decode(&b).changes), ["SKIP SubscriptionStatus", "Observation/o1"]);
    // Content `id-only` or `empty`: no resources to read, a specific rejection.
    let id_only = json!({"fullUrl": "http://ehr.example/fhir/Observation/o1"});
    let (code, text) = rejected(&notification("event-notification", vec![id_only]));
    assert_eq!(code, "notification-without-content");
    assert!(text.contains("id-only"), "{text}");
    let (code, text) = rejected(&notification("event-notification", vec![]));
    assert_eq!(code, "notification-without-content");
    assert!(text.contains("empty"), "{text}");
    // A deletion needs no resource.
    let deleted = json!({"fullUrl": "http://ehr.example/fhir/Observation/o1",
        "request": {"method": "DELETE", "url": "Observation/o1"}});
    let d = decode(&notification("event-notification", vec![deleted]));
    assert!(d.rejections.is_empty(), "{:?}", d.rejections);
    assert_eq!(upserts(&d.changes), ["SKIP Parameters", "DELETE Observation/o1"]);
    // A handshake or a heartbeat carries no events: nothing to do.
    for kind in ["handshake", "heartbeat"] {
        let d = decode(&notification(kind, vec![]));
        assert!(d.rejections.is_empty(), "{kind}");
        assert_eq!(upserts(&d.changes), ["SKIP Bundle"], "{kind}");
    }
}

#[test]
fn entries_that_change_nothing_are_skipped_quietly() {
    let b = bundle(
        "batch",
        vec![
            json!({"request": {"method": "GET", "url": "Patient/example"}}),
            json!({"request": {"method": "HEAD", "url": "Observation?code=29593-1"}}),
            json!({"request": {"method": "POST", "url": "ValueSet/$lookup"},
                   "resource": {"resourceType": "Parameters", "parameter": []}}),
            json!({"request": {"method": "POST", "url": "Patient/p1/$everything"}}),
            json!({"resource": {"resourceType": "MessageHeader", "id": "h"}}),
            json!({"resource": ki67(4.5), "request": {"method": "PUT", "url": "Observation/o1"}}),
        ],
    );
    let d = decode(&b);
    assert!(d.rejections.is_empty(), "{:?}", d.rejections);
    assert_eq!(upserts(&d.changes), ["SKIP MessageHeader", "Observation/o1"]);
    // A server's response Bundles repeat what was sent: skipped whole.
    for kind in ["transaction-response", "batch-response"] {
        let b = bundle(kind, vec![json!({"response": {"status": "201 Created"}})]);
        let d = decode(&b);
        assert!(d.rejections.is_empty(), "{kind}");
        assert_eq!(upserts(&d.changes), ["SKIP Bundle"], "{kind}");
    }
}

#[test]
fn a_bundle_inside_an_entry_is_read_like_a_message() {
    let inner =
        bundle("collection", vec![json!({"resource": ki67(4.5)}), json!({"resource": {"resourceType": "Patient"}})]);
    let b = bundle(
        "collection",
        vec![json!({"resource": {"resourceType": "Patient", "id": "p1"}}), json!({"resource": inner})],
    );
    let d = decode(&b);
    assert_eq!(upserts(&d.changes), ["Patient/p1", "Observation/o1"]);
    // A rejection inside names the entry of the top-level Bundle (what a dead letter carries).
    let r: Vec<_> = d.rejections.iter().map(|r| (r.entry, r.reason.code())).collect();
    assert_eq!(r, [(Some(1), "no-id")]);
    // Four levels are read; a fifth is a specific rejection.
    let nest = |levels: usize| {
        (0..levels).fold(ki67(4.5), |inside, _| bundle("collection", vec![json!({"resource": inside})]))
    };
    assert_eq!(upserts(&decode(&nest(4)).changes), ["Observation/o1"]);
    let d = decode(&nest(5));
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    let r: Vec<_> = d.rejections.iter().map(|r| (r.entry, r.reason.code())).collect();
    assert_eq!(r, [(Some(0), "bundle-too-deep")]);
}

// ---- contract.md v2: envelopes -----------------------------------------

#[test]
fn resource_modified_messages_are_versioned_by_payload_version() {
    // Current HAPI / Smile CDR: payloadId without a version, payloadVersion beside it.
    let mut o = ki67(4.5);
    o.as_object_mut().unwrap().remove("meta");
    let mut m = delivery("UPDATE", Some(&o), Some("Observation/o1"));
    m["payloadVersion"] = json!("7");
    for msg in [m.clone(), wrapped(m.clone())] {
        let d = decode(&msg);
        assert_eq!(upsert(&d).version_id.as_deref(), Some("7"), "the envelope versions the payload");
    }
    // A payload that names its own, different version contradicts the envelope.
    let mut versioned = m.clone();
    versioned["payload"] = json!(ki67(4.5).to_string()); // meta.versionId 2
    assert_eq!(rejected(&versioned).0, "id-mismatch");
    versioned["payloadVersion"] = json!("2");
    assert_eq!(upsert(&decode(&versioned)).version_id.as_deref(), Some("2"));
    // A payload-less DELETE: older HAPI names the resource `resourceId`; payloadVersion the version.
    let delete = wrapped(json!({"operationType": "DELETE", "resourceId": "Observation/o1", "payloadVersion": "8"}));
    assert_eq!(
        decode(&delete).changes,
        [Change::Delete {
            resource_type: ResourceType::Observation,
            id: "o1".into(),
            patient: None,
            version_id: Some("8".into())
        }]
    );
    let delete = json!({"operationType": "DELETE", "resourceId": "Observation/o1/_history/3"});
    assert!(matches!(&decode(&delete).changes[..], [Change::Delete { version_id: Some(v), .. }] if v == "3"));
    let clash = json!({"operationType": "DELETE", "payloadId": "Observation/o1/_history/3", "payloadVersion": "4"});
    assert_eq!(rejected(&clash).0, "id-mismatch");
    let bad = json!({"operationType": "DELETE", "payloadId": "Observation/o1", "payloadVersion": "4 4"});
    assert_eq!(rejected(&bad).0, "malformed-field");
}

#[test]
fn a_transaction_envelope_carries_a_bundle() {
    let b = bundle(
        "transaction",
        vec![json!({"resource": ki67(4.5), "request": {"method": "PUT", "url": "Observation/o1"}})],
    );
    let d = decode(&wrapped(delivery("TRANSACTION", Some(&b), None)));
    assert!(d.rejections.is_empty(), "{:?}", d.rejections);
    assert_eq!(upserts(&d.changes), ["Observation/o1"]);
}

/// contract.md v2: content identical to the stored copy is a duplicate with
/// or without `meta`; nothing in the decoder needs `meta` for identity.
#[test]
fn identity_does_not_need_meta() {
    let with_meta = ki67(4.5);
    let mut without = with_meta.clone();
    without.as_object_mut().unwrap().remove("meta");
    let (a, b) = (decode(&with_meta), decode(&without));
    let (a, b) = (upsert(&a), upsert(&b));
    assert_eq!((a.resource_type, &a.id, &a.patient), (b.resource_type, &b.id, &b.patient));
    assert_eq!(a.content_hash, b.content_hash);
    assert_eq!((b.version_id.as_deref(), b.last_updated), (None, None));
    assert_eq!(a.facts, b.facts);
}

/// The Subscriptions Backport IG carries R4 notifications as `history`
/// Bundles whose first entry is the status `Parameters` (its
/// `r4-notification-id-only` and `r4-notification-empty` examples): they are
/// notifications too, so missing content is visible, not an empty entry or
/// nothing at all.
#[test]
fn r4_backport_notifications_are_history_bundles() {
    let as_history = |mut b: Value| {
        b["type"] = json!("history");
        b
    };
    let id_only = json!({"fullUrl": "http://ehr.example/fhir/Observation/o1",
        "request": {"method": "PUT", "url": "Observation/o1"}, "response": {"status": "200"}});
    let (code, text) = rejected(&as_history(notification("event-notification", vec![id_only])));
    assert_eq!(code, "notification-without-content");
    assert!(text.contains("id-only"), "{text}");
    let (code, _) = rejected(&as_history(notification("event-notification", vec![])));
    assert_eq!(code, "notification-without-content");
    // With full resources it is read like any history Bundle.
    let event = json!({"fullUrl": "http://ehr.example/fhir/Observation/o1", "resource": ki67(4.5),
        "request": {"method": "PUT", "url": "Observation/o1"}, "response": {"status": "200"}});
    let d = decode(&as_history(notification("event-notification", vec![event])));
    assert!(d.rejections.is_empty(), "{:?}", d.rejections);
    assert_eq!(upserts(&d.changes), ["SKIP Parameters", "Observation/o1"]);
    // A plain history Bundle (no status entry) is not a notification.
    let plain = bundle("history", vec![json!({"resource": ki67(4.5)})]);
    assert_eq!(upserts(&decode(&plain).changes), ["Observation/o1"]);
}
