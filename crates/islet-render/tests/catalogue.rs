//! Every code Islet writes is a concept of its CodeSystem
//! (`schemas/codesystem-pnet.json`) with the same display, every rule of the
//! catalogue is one, and every rule that proposes something says what.

mod common;

use islet_fhir::{Change, Decoder, SiteMapping};
use islet_guideline::{FactKind, Kind};
use islet_render::activity::{self, RequestType, ACTIVITIES};
use islet_render::uri;
use std::collections::{BTreeMap, BTreeSet};

/// code → (display, grouping concept it sits under).
fn concepts() -> BTreeMap<String, (String, Option<String>)> {
    let text = std::fs::read_to_string(common::repo().join("schemas/codesystem-pnet.json")).unwrap();
    let cs: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(cs["url"], uri::CODES);
    let mut out = BTreeMap::new();
    fn walk(
        list: &serde_json::Value,
        parent: Option<&str>,
        out: &mut BTreeMap<String, (String, Option<String>)>,
    ) -> usize {
        let mut n = 0;
        for c in list.as_array().into_iter().flatten() {
            let code = c["code"].as_str().unwrap().to_string();
            let display = c["display"].as_str().unwrap().to_string();
            let previous = out.insert(code.clone(), (display, parent.map(str::to_string)));
            assert!(previous.is_none(), "{code} defined twice");
            n += 1 + walk(&c["concept"], Some(&code), out);
        }
        n
    }
    let n = walk(&cs["concept"], None, &mut out);
    assert_eq!(cs["count"], n, "count is the number of concepts");
    out
}

#[test]
fn every_rule_is_a_concept_and_every_rule_concept_a_rule() {
    let concepts = concepts();
    let catalogue = islet_guideline::rules::catalogue();
    for rule in &catalogue {
        let (display, parent) = concepts.get(rule.id).unwrap_or_else(|| panic!("{} is not in the CodeSystem", rule.id));
        assert_eq!(display, rule.summary, "{}: display is the rule's summary", rule.id);
        assert_eq!(parent.as_deref(), Some("alert-rule"), "{}", rule.id);
    }
    let ids: BTreeSet<&str> = catalogue.iter().map(|r| r.id).collect();
    let stale: Vec<&String> = concepts
        .iter()
        .filter(|(_, (_, p))| p.as_deref() == Some("alert-rule"))
        .map(|(c, _)| c)
        .filter(|c| !ids.contains(c.as_str()))
        .collect();
    assert!(stale.is_empty(), "rule concepts without a rule: {stale:?}");
}

#[test]
fn every_other_code_written_is_a_concept_with_its_display() {
    let concepts = concepts();
    for (code, display) in uri::code::ALL {
        assert_eq!(concepts.get(code).map(|(d, _)| d.as_str()), Some(display), "{code}");
    }
    for (rule, activity) in ACTIVITIES {
        for request in activity.requests {
            if let Some((coding, _)) = request.code {
                if coding.system == uri::CODES {
                    let (display, _) = concepts.get(coding.code).unwrap_or_else(|| panic!("{rule}: {}", coding.code));
                    assert_eq!(display, coding.display, "{rule}: {}", coding.code);
                }
            }
        }
    }
}

#[test]
fn every_rule_that_proposes_something_says_what() {
    let catalogue = islet_guideline::rules::catalogue();
    let proposing: BTreeSet<&str> = catalogue
        .iter()
        .filter(|r| matches!(r.kind, Kind::Recommendation | Kind::Monitoring | Kind::Workup | Kind::FollowUp))
        .map(|r| r.id)
        .collect();
    let listed: Vec<&str> = ACTIVITIES.iter().map(|(id, _)| *id).collect();
    assert_eq!(listed.iter().copied().collect::<BTreeSet<_>>(), proposing, "one entry per proposing rule");
    assert_eq!(listed.len(), proposing.len(), "no rule listed twice");
    for rule in catalogue.iter().filter(|r| r.kind == Kind::FollowUp) {
        let a = activity::of_rule(rule.id).unwrap();
        assert_eq!(a.requests.len(), 1, "{}: a Task has one focus", rule.id);
    }
    for (rule, a) in ACTIVITIES {
        assert!(!a.title.is_empty() && a.requests.iter().all(|r| !r.text.is_empty()), "{rule}");
        assert!(!a.alternatives || a.requests.len() > 1, "{rule}: alternatives need two");
    }
    assert!(activity::of_rule("ssa.not-in-g3").is_none(), "safety rules propose nothing");
}

/// A coded request means what the contract's therapy table says: ordered
/// (`intent: order`), Islet's own decoder reads it as that therapy; proposed
/// (`intent: proposal`, as Islet writes it), as nothing.
#[test]
fn coded_requests_are_the_contracts_therapies_and_proposals_are_not_plans() {
    let decoder = Decoder::new(SiteMapping::empty());
    let mut coded = 0;
    for (rule, activity) in ACTIVITIES {
        for request in activity.requests {
            let Some((coding, therapy)) = request.code else { continue };
            coded += 1;
            let concept =
                serde_json::json!({"coding": [{"system": coding.system, "code": coding.code}], "text": request.text});
            let element = match request.resource {
                RequestType::ServiceRequest => "code",
                RequestType::MedicationRequest => "medicationCodeableConcept",
            };
            let resource = |intent: &str| {
                let mut r = serde_json::json!({
                    "resourceType": request.resource.as_str(), "id": "r1", "status": "active", "intent": intent,
                    "subject": {"reference": "Patient/p1"}, "authoredOn": "2024-01-10"
                });
                r[element] = concept.clone();
                serde_json::to_vec(&r).unwrap()
            };
            let ordered = decoder.decode(&resource("order"));
            assert!(ordered.rejections.is_empty(), "{rule}: {:?}", ordered.rejections);
            let facts = match &ordered.changes[..] {
                [Change::Upsert(v)] => &v.facts,
                other => panic!("{rule}: {other:?}"),
            };
            assert!(
                facts.iter().any(|f| matches!(&f.kind, FactKind::Therapy(t) if t.class == therapy)),
                "{rule}: {} read as {facts:?}",
                coding.code
            );
            let proposed = decoder.decode(&resource("proposal"));
            assert!(proposed.rejections.is_empty(), "{rule}: {:?}", proposed.rejections);
            for change in &proposed.changes {
                if let Change::Upsert(v) | Change::Unused(v) = change {
                    assert!(v.facts.is_empty(), "{rule}: a proposal read as {:?}", v.facts);
                }
            }
        }
    }
    assert!(coded >= 15, "{coded} coded requests");
}
