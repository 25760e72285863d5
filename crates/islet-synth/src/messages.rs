//! How a patient's resource versions become NDJSON lines: plain resources
//! (~80 %), Bundles (`transaction`, `batch`, `collection`, with `urn:uuid`
//! references and DELETE entries) and HAPI `ResourceDeliveryMessage`
//! envelopes (~10 % each), and now and then a redelivered line.

use crate::catalogue::CatalogueEntry;
use crate::chart::{Gen, Res};
use crate::json::{j, J};
use crate::references::Referenced;
use rand::Rng;
use time::OffsetDateTime;

/// Base URL of the source FHIR server, for `collection` Bundle entries.
const BASE_URL: &str = "https://ehr.example.org/fhir";

/// One output line.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// The message, without its newline.
    pub(crate) text: String,
    /// Resources in the message, as [`GenerateStats::resources`](crate::GenerateStats::resources) counts them.
    pub(crate) resources: usize,
    /// `Patient/…` of the patient the line belongs to (for a catalogue
    /// Medication: the patient whose use of it brought it).
    pub(crate) patient: String,
    /// The resources of other messages that the line's resources name.
    pub(crate) refers: Vec<Referenced>,
}

/// A patient's output before the cohort's catalogue is consulted.
pub(crate) enum Item {
    Line(Line),
    /// The patient's first line naming this catalogue Medication is near:
    /// the catalogue writes the Medication here at its first use in the
    /// cohort, and now and then again later (see `catalogue`).
    Medication {
        entry: CatalogueEntry,
        patient: String,
    },
}

impl Gen {
    fn uuid(&mut self) -> String {
        let a: u128 = self.rng.borrow_mut().gen();
        let a = (a & !(0xF << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
        let h = format!("{a:032x}");
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }

    pub(crate) fn line(&self, v: &J, resources: usize) -> Line {
        Line { text: v.to_json(), resources, patient: self.pref.clone(), refers: Vec::new() }
    }

    fn envelope(&self, r: &Res) -> Line {
        let op = if r.delete {
            "DELETE"
        } else if r.version == 1 {
            "CREATE"
        } else {
            "UPDATE"
        };
        let payload = r.body.to_json();
        self.line(
            &j!({
                "operationType": op,
                "payloadId": format!("{}/{}/_history/{}", r.rtype, r.id, r.version),
                "payload": payload,
            }),
            1,
        )
    }

    fn bundle(&mut self, items: &mut [Res], kind: &'static str, patient_urn: bool) -> Line {
        let lu_ms = items.iter().map(|r| r.lu_ms).max().unwrap_or(0);
        let lu =
            OffsetDateTime::from_unix_timestamp_nanos(lu_ms as i128 * 1_000_000 + 1_000_000).expect("valid instant");
        let urn = patient_urn.then(|| format!("urn:uuid:{}", self.uuid()));
        let mut entries = Vec::with_capacity(items.len());
        for r in items.iter_mut() {
            let url = format!("{}/{}", r.rtype, r.id);
            if r.delete {
                entries.push(j!({ "request": { "method": "DELETE", "url": url } }));
                continue;
            }
            let mut body = std::mem::take(&mut r.body);
            let full_url = match (&urn, r.rtype) {
                (Some(u), "Patient") => u.clone(),
                (Some(u), _) => {
                    if body.get("subject").is_some() {
                        body["subject"]["reference"] = j!(u);
                    }
                    format!("urn:uuid:{}", self.uuid())
                }
                (None, _) if kind == "collection" => format!("{BASE_URL}/{url}"),
                (None, _) => format!("urn:uuid:{}", self.uuid()),
            };
            if kind == "collection" {
                entries.push(j!({ "fullUrl": full_url, "resource": body }));
            } else {
                entries.push(j!({ "fullUrl": full_url, "resource": body, "request": { "method": "PUT", "url": url } }));
            }
        }
        let id = self.uuid();
        let lu_s = self.fmt_lu(lu);
        let b = j!({
            "resourceType": "Bundle",
            "id": id,
            "meta": { "versionId": "1", "lastUpdated": (lu_s.clone()) },
            "type": kind,
            "timestamp": lu_s,
            "entry": entries,
        });
        self.line(&b, items.len())
    }

    /// Turn the patient's resources (in lastUpdated order) into lines.
    pub(crate) fn package(&mut self) -> Vec<Line> {
        let mut res = std::mem::take(&mut self.res);
        let mut lines = Vec::with_capacity(res.len());
        let mut i = 0;
        // Registration and diagnosis in one transaction, references by urn:uuid.
        if res.len() >= 2 && res[0].rtype == "Patient" && self.p(0.15) {
            let k = self.r(2..=3).min(res.len());
            let l = self.bundle(&mut res[0..k], "transaction", true);
            lines.push(naming(l, &res[0..k]));
            i = k;
        }
        while i < res.len() {
            if res[i].delete {
                if self.p(0.5) {
                    lines.push(naming(self.envelope(&res[i]), &res[i..=i]));
                    i += 1;
                } else {
                    let k = self.r(1..=2).min(res.len() - i);
                    let l = self.bundle(&mut res[i..i + k], "transaction", false);
                    lines.push(naming(l, &res[i..i + k]));
                    i += k;
                }
                continue;
            }
            let x: f64 = self.rng.borrow_mut().gen();
            if x < 0.085 && i + 1 < res.len() {
                let k = self.r(2..=7).min(res.len() - i);
                let kind = if res[i..i + k].iter().any(|r| r.delete) {
                    "transaction"
                } else {
                    ["transaction", "transaction", "collection", "collection", "batch"][self.r(0..5)]
                };
                let l = self.bundle(&mut res[i..i + k], kind, false);
                lines.push(naming(l, &res[i..i + k]));
                i += k;
            } else if x < 0.185 {
                lines.push(naming(self.envelope(&res[i]), &res[i..=i]));
                i += 1;
            } else {
                lines.push(naming(self.line(&res[i].body, 1), &res[i..=i]));
                i += 1;
            }
        }
        // A redelivery of a line already sent (the same version).
        if lines.len() > 2 && self.p(0.06) {
            let j = self.r(1..lines.len());
            let at = (j + self.r(1..=3)).min(lines.len());
            let dup = lines[j].clone();
            lines.insert(at, dup);
        }
        lines
    }
}

/// `line`, knowing which resources of other messages `items` (its resources) name.
fn naming(mut line: Line, items: &[Res]) -> Line {
    line.refers.extend(items.iter().filter(|r| !r.delete).filter_map(|r| r.refers));
    line
}

#[cfg(test)]
mod tests {
    use crate::test_support::{cohort, has_zone, patient_ref, resources};
    use serde_json::{json, Value};
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn every_line_is_valid_json_and_well_formed() {
        let (text, stats) = cohort(200, 1, 0.0);
        assert_eq!(stats.lines, text.lines().count());
        assert_eq!(stats.patients, 200);
        let mut counted = 0;
        for (n, line) in text.lines().enumerate() {
            let msg: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
            if let Some(op) = msg.get("operationType") {
                assert!(["CREATE", "UPDATE", "DELETE"].contains(&op.as_str().unwrap()), "line {}", n + 1);
                let r: Value = serde_json::from_str(msg["payload"].as_str().unwrap()).unwrap();
                let expected = format!(
                    "{}/{}/_history/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap(),
                    r["meta"]["versionId"].as_str().unwrap()
                );
                assert_eq!(msg["payloadId"], json!(expected), "line {}", n + 1);
            }
            // urn:uuid references resolve to a Patient entry of the same Bundle.
            let mut urns = BTreeMap::new();
            if msg["resourceType"] == "Bundle" {
                assert!(["transaction", "batch", "collection"].contains(&msg["type"].as_str().unwrap()));
                for e in msg["entry"].as_array().unwrap() {
                    if e["resource"]["resourceType"] == "Patient" {
                        urns.insert(
                            e["fullUrl"].as_str().unwrap().to_string(),
                            e["resource"]["id"].as_str().unwrap().to_string(),
                        );
                    }
                    if e.get("resource").is_none() {
                        assert_eq!(e["request"]["method"], "DELETE");
                        assert_ne!(msg["type"], "collection");
                    }
                }
            }
            for r in resources(&msg).into_iter().flatten() {
                counted += 1;
                let rt = r["resourceType"].as_str().expect("resourceType");
                assert!(r["id"].as_str().is_some_and(|id| !id.is_empty() && id.len() <= 64), "line {}", n + 1);
                assert!(r["meta"]["versionId"].as_str().is_some_and(|v| v.parse::<u32>().is_ok()), "line {}", n + 1);
                assert!(r["meta"]["lastUpdated"].as_str().is_some_and(has_zone), "line {}", n + 1);
                if rt == "Patient" {
                    assert!(r["id"].as_str().unwrap().starts_with("syn-"));
                    assert!(r.get("name").is_none());
                    continue;
                }
                // A pharmacy catalogue's Medication belongs to no patient.
                if rt == "Medication" {
                    assert!(patient_ref(&r).is_none(), "line {}", n + 1);
                    continue;
                }
                let p = patient_ref(&r).unwrap_or_else(|| panic!("line {}: {rt} without subject", n + 1));
                assert!(p.starts_with("Patient/syn-") || urns.contains_key(p), "line {}: {p}", n + 1);
            }
        }
        // DELETE entries are counted as resources by the stats too.
        assert!(stats.resources >= counted);
    }

    #[test]
    fn message_variety_and_corrections() {
        let (text, stats) = cohort(1000, 2, 0.0);
        let (mut plain, mut bundles, mut envelopes) = (0usize, 0usize, 0usize);
        let mut seen = BTreeSet::new();
        let mut lines = BTreeSet::new();
        for line in text.lines() {
            if !lines.insert(line) {
                seen.insert("duplicate-line");
            }
            let msg: Value = serde_json::from_str(line).unwrap();
            if msg.get("operationType").is_some() {
                envelopes += 1;
                if msg["operationType"] == "DELETE" {
                    seen.insert("delete-envelope");
                }
            } else if msg["resourceType"] == "Bundle" {
                bundles += 1;
                seen.insert(if msg["type"] == "collection" { "collection" } else { "transaction-or-batch" });
                for e in msg["entry"].as_array().unwrap() {
                    if e["request"]["method"] == "DELETE" {
                        seen.insert("delete-entry");
                    }
                    if e["resource"]["resourceType"] == "Patient"
                        && e["fullUrl"].as_str().unwrap().starts_with("urn:uuid:")
                    {
                        seen.insert("urn-patient");
                    }
                }
            } else {
                plain += 1;
            }
            for r in resources(&msg).into_iter().flatten() {
                match r["status"].as_str() {
                    Some("amended") => seen.insert("amended"),
                    Some("corrected") => seen.insert("corrected"),
                    Some("entered-in-error") => seen.insert("entered-in-error"),
                    Some("preliminary") => seen.insert("preliminary"),
                    Some("intended") => seen.insert("intended"),
                    Some("in-progress") => seen.insert("in-progress"),
                    _ => false,
                };
                if r["verificationStatus"]["coding"][0]["code"] == "refuted" {
                    seen.insert("refuted");
                }
                if r.get("deceasedBoolean").is_some() || r.get("deceasedDateTime").is_some() {
                    seen.insert("deceased");
                }
                if r["valueQuantity"]["unit"] == "cm" {
                    seen.insert("size-in-cm");
                }
            }
        }
        let n = stats.lines as f64;
        assert!((0.72..=0.88).contains(&(plain as f64 / n)), "plain {plain} of {n}");
        assert!((0.06..=0.14).contains(&(bundles as f64 / n)), "bundles {bundles} of {n}");
        assert!((0.06..=0.14).contains(&(envelopes as f64 / n)), "envelopes {envelopes} of {n}");
        for want in [
            "duplicate-line",
            "delete-envelope",
            "delete-entry",
            "urn-patient",
            "collection",
            "transaction-or-batch",
            "amended",
            "corrected",
            "entered-in-error",
            "preliminary",
            "refuted",
            "deceased",
            "size-in-cm",
            "intended",
            "in-progress",
        ] {
            assert!(seen.contains(want), "no {want} in the cohort");
        }
    }
}
