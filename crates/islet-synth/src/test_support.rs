//! Helpers for the tests that read a whole generated cohort back with
//! serde_json (an independent reader of what the crate writes).

use crate::{generate, CohortOptions, GenerateStats, ARCHETYPE_SYSTEM};
use serde_json::Value;
use std::collections::HashMap;

pub(crate) fn cohort(patients: usize, seed: u64, bad_line_rate: f64) -> (String, GenerateStats) {
    let opts = CohortOptions { patients, seed, bad_line_rate, ..CohortOptions::default() };
    let mut out = Vec::new();
    let stats = generate(&opts, &mut out).expect("in-memory write");
    (String::from_utf8(out).expect("UTF-8"), stats)
}

/// The resources a message carries; `None` for a Bundle DELETE entry.
pub(crate) fn resources(msg: &Value) -> Vec<Option<Value>> {
    if let Some(p) = msg.get("payload") {
        return vec![Some(serde_json::from_str(p.as_str().expect("payload is a string")).expect("payload is JSON"))];
    }
    if msg["resourceType"] == "Bundle" {
        return msg["entry"].as_array().expect("entries").iter().map(|e| e.get("resource").cloned()).collect();
    }
    vec![Some(msg.clone())]
}

/// The code of every Medication in the cohort, by reference (`Medication/…`),
/// for reading the therapies that name one from any line.
pub(crate) fn medication_codes(text: &str) -> HashMap<String, Value> {
    let mut found = HashMap::new();
    for line in text.lines() {
        let msg: Value = serde_json::from_str(line).expect("JSON line");
        for r in resources(&msg).into_iter().flatten() {
            if r["resourceType"] == "Medication" {
                found.insert(format!("Medication/{}", r["id"].as_str().expect("id")), r["code"].clone());
            }
        }
    }
    found
}

pub(crate) fn patient_ref(r: &Value) -> Option<&str> {
    r.get("subject").or_else(|| r.get("patient")).and_then(|s| s["reference"].as_str())
}

pub(crate) fn archetype_of(r: &Value) -> Option<String> {
    r["meta"]["tag"]
        .as_array()?
        .iter()
        .find(|t| t["system"] == ARCHETYPE_SYSTEM)
        .map(|t| t["code"].as_str().unwrap_or("").to_string())
}

pub(crate) fn has_zone(s: &str) -> bool {
    s.ends_with('Z') || {
        let b = s.as_bytes();
        b.len() > 6 && (b[b.len() - 6] == b'+' || b[b.len() - 6] == b'-') && b[b.len() - 3] == b':'
    }
}

pub(crate) fn codes(cc: &Value) -> Vec<(String, String)> {
    cc["coding"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| (c["system"].as_str().unwrap_or("").to_string(), c["code"].as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}
