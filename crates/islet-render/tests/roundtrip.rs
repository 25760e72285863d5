//! Islet never treats its own output as clinical facts: every rendered
//! resource, alone, in a Bundle of any kind or in a HAPI envelope, goes
//! through Islet's own decoder and is skipped; its contained proposals, taken
//! out and sent on their own, give no fact either.

mod common;

use common::STATUSES;
use islet_fhir::{Change, Decoder, SiteMapping};
use islet_render::fhir;
use serde_json::{json, Value};

fn rendered() -> Vec<Value> {
    let mut alerts: Vec<_> = common::cohort_changes().iter().map(|c| c.alert.clone()).collect();
    alerts.extend(common::scenario_alerts());
    alerts.extend(common::catalogue_alerts());
    alerts.iter().flat_map(|a| STATUSES.map(|s| fhir::alert_resource(a, s).to_value())).collect()
}

/// Decodes `message`; every change must be a skip of one of `types`.
fn assert_skipped(decoder: &Decoder, message: &Value, types: &[&str]) -> usize {
    let decoded = decoder.decode(&serde_json::to_vec(message).unwrap());
    assert!(decoded.rejections.is_empty(), "{:?}\n{message}", decoded.rejections);
    for change in &decoded.changes {
        match change {
            Change::Skipped { resource_type, .. } => {
                assert!(types.contains(&resource_type.as_str()), "{resource_type}")
            }
            other => panic!("Islet used its own output: {other:?}\n{message}"),
        }
    }
    decoded.changes.len()
}

#[test]
fn every_resource_alone_is_skipped() {
    let decoder = Decoder::new(SiteMapping::empty());
    let resources = rendered();
    let mut skipped = 0;
    for r in &resources {
        skipped += assert_skipped(&decoder, r, &["DetectedIssue", "Task", "RequestGroup"]);
    }
    assert_eq!(skipped, resources.len(), "each is one skipped resource");
}

#[test]
fn bundles_and_envelopes_of_them_are_skipped() {
    let decoder = Decoder::new(SiteMapping::empty());
    let resources = rendered();
    let types = ["DetectedIssue", "Task", "RequestGroup", "Bundle"];
    for chunk in resources.chunks(50) {
        let url = |r: &Value| format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap());
        let entries = |request: bool| -> Vec<Value> {
            chunk
                .iter()
                .map(|r| {
                    let mut e = json!({"fullUrl": format!("https://islet.example/fhir/{}", url(r)), "resource": r});
                    if request {
                        e["request"] = json!({"method": "PUT", "url": url(r)});
                    }
                    e
                })
                .collect()
        };
        for kind in ["collection", "searchset"] {
            assert_skipped(&decoder, &json!({"resourceType": "Bundle", "type": kind, "entry": entries(false)}), &types);
        }
        for kind in ["transaction", "batch", "history"] {
            assert_skipped(&decoder, &json!({"resourceType": "Bundle", "type": kind, "entry": entries(true)}), &types);
        }
        // What a FHIR server answers when Islet writes them.
        let response: Vec<Value> = chunk
            .iter()
            .map(|r| json!({"resource": r, "response": {"status": "201 Created", "location": format!("{}/_history/1", url(r))}}))
            .collect();
        assert_skipped(
            &decoder,
            &json!({"resourceType": "Bundle", "type": "transaction-response", "entry": response}),
            &types,
        );
        // As a HAPI / Smile CDR subscription would deliver them back.
        for r in chunk.iter().take(5) {
            let envelope = json!({"headers": {"retryCount": 0}, "payload": {
                "operationType": "UPDATE", "payloadId": url(r), "payloadVersion": "1",
                "payload": r.to_string(), "mediaType": "application/fhir+json"}});
            assert_skipped(&decoder, &envelope, &types);
        }
    }
}

#[test]
fn contained_proposals_sent_alone_give_no_fact() {
    let decoder = Decoder::new(SiteMapping::empty());
    let mut proposals = 0;
    for r in rendered() {
        for contained in r["contained"].as_array().into_iter().flatten() {
            proposals += 1;
            let decoded = decoder.decode(&serde_json::to_vec(contained).unwrap());
            assert!(decoded.rejections.is_empty(), "{:?}\n{contained}", decoded.rejections);
            for change in &decoded.changes {
                match change {
                    Change::Upsert(v) | Change::Unused(v) => assert!(v.facts.is_empty(), "{:?}\n{contained}", v.facts),
                    Change::Skipped { .. } => {}
                    other => panic!("{other:?}"),
                }
            }
        }
    }
    assert!(proposals > 500, "{proposals} proposals");
}
