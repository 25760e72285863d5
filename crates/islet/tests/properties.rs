//! Order and redelivery properties on real FHIR messages (a generated
//! cohort: plain resources, Bundles with DELETE entries, envelopes,
//! corrections, duplicates). A DELETE without a version beats every version
//! of its resource (record.rs), so it too gives the same result in any order.

use islet::drivers::replay::{replay, ReplayOptions};
use islet_engine::{AlertRecord, Engine, Source};
use islet_fhir::SiteMapping;
use islet_guideline::Config;
use islet_synth::{generate, CohortOptions};
use proptest::prelude::*;
use std::sync::OnceLock;

fn cohort() -> &'static Vec<String> {
    static LINES: OnceLock<Vec<String>> = OnceLock::new();
    LINES.get_or_init(|| {
        let mut out = Vec::new();
        let opts = CohortOptions { patients: 25, seed: 99, ..CohortOptions::default() };
        generate(&opts, &mut out).unwrap();
        String::from_utf8(out).unwrap().lines().map(String::from).collect()
    })
}

fn alerts(lines: &[String], batch_size: usize) -> Vec<AlertRecord> {
    let engine = Engine::new(SiteMapping::empty(), Config::default());
    let at = time::macros::datetime!(2025-01-01 00:00 UTC);
    let input = lines.join("\n");
    let opts =
        ReplayOptions { at: Some(at), batch_size, changes: false, horizon: islet::drivers::clock::horizon(Some(at)) };
    let mut rejections = Vec::new();
    let outcome =
        replay(&engine, input.as_bytes(), &Source::file("cohort"), &opts, &mut |r| rejections.push(r.clone())).unwrap();
    assert!(rejections.is_empty(), "{:?}", rejections.first());
    outcome.alerts().into_iter().cloned().collect()
}

fn in_order() -> &'static Vec<AlertRecord> {
    static ALERTS: OnceLock<Vec<AlertRecord>> = OnceLock::new();
    ALERTS.get_or_init(|| alerts(cohort(), 1000))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_arrival_order_gives_the_same_alerts(
        order in Just((0..cohort().len()).collect::<Vec<usize>>()).prop_shuffle(),
        batch in 1usize..200,
    ) {
        prop_assume!(in_order().len() > 30);
        let shuffled: Vec<String> = order.iter().map(|&i| cohort()[i].clone()).collect();
        prop_assert_eq!(&alerts(&shuffled, batch), in_order());
    }

    #[test]
    fn delivering_any_message_twice_changes_nothing(
        picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..6),
        batch in 1usize..200,
    ) {
        let mut lines = cohort().clone();
        for (which, at) in picks {
            // Redeliver a message at any later point of the stream.
            let i = which.index(lines.len());
            let position = i + 1 + at.index(lines.len() - i);
            let copy = lines[i].clone();
            lines.insert(position, copy);
        }
        prop_assert_eq!(&alerts(&lines, batch), in_order());
    }
}

/// The properties above are only as strong as the cohort is rich.
#[test]
fn the_cohort_exercises_versions_corrections_and_many_rules() {
    let lines = cohort();
    assert!(lines.len() > 200, "{} lines", lines.len());
    assert!(lines.iter().any(|l| l.contains("ResourceDeliveryMessage") || l.contains("operationType")));
    assert!(lines.iter().any(|l| l.contains("entered-in-error")));
    assert!(lines.iter().any(|l| l.contains("\"versionId\":\"2\"")));
    assert!(lines.iter().any(|l| l.contains("\"resourceType\":\"Bundle\"") && l.contains("\"method\":\"DELETE\"")));
    // References across messages, so both properties cover them in any order:
    // a therapy naming a catalogue Medication, a size naming a BodyStructure
    // (plain, or inside an envelope's payload), and both sent as lines of their own.
    assert!(lines.iter().any(|l| l.contains("medicationReference")));
    assert!(lines.iter().any(|l| l.contains("\"focus\"") || l.contains("\\\"focus\\\"")));
    assert!(lines.iter().any(|l| l.starts_with("{\"resourceType\":\"Medication\",")));
    assert!(lines.iter().any(|l| l.starts_with("{\"resourceType\":\"BodyStructure\",")));
    let alerts = in_order();
    let rules: std::collections::BTreeSet<&str> = alerts.iter().map(|a| a.rule.as_str()).collect();
    assert!(alerts.len() > 60 && rules.len() > 15, "{} alerts, {} rules", alerts.len(), rules.len());
}
