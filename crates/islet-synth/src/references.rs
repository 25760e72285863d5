//! References across messages (contract v2): a share of therapy statements
//! and requests name their drug by `medicationReference` to a Medication of
//! the patient's pharmacy catalogue (`catalogue`), and a share of tumour
//! sizes name their site by `focus` to one of the patient's BodyStructures.
//! What they name is a line of its own, before the first line naming it or
//! somewhere after, so the decoder and the engine meet both orders.
//!
//! Every choice here is drawn from the patient's second stream
//! ([`REFERENCE_STREAMS`](crate::REFERENCE_STREAMS)), after the story and
//! apart from the packaging: the patient's first stream makes the draws it
//! made before references existed, so a cohort keeps its patients, values
//! and expected alerts, and only the shape of some resources changes.

use crate::catalogue::{CatalogueEntry, PHARMACIES};
use crate::chart::Gen;
use crate::json::{j, J};
use crate::messages::{Item, Line};
use crate::therapy::Drug;
use rand::Rng;

/// Share of the resources that could name another message's resource and do.
const SHARE: f64 = 0.25;

/// Where a tumour size was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeSite {
    Primary,
    Liver,
}

/// What a resource's coded element could name in another message instead.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Referable {
    /// A MedicationStatement's or MedicationRequest's drug: a catalogue Medication.
    Drug(Drug),
    /// A tumour size's site: one of the patient's BodyStructures.
    Site(SizeSite),
}

/// A resource another message names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Referenced {
    Medication(CatalogueEntry),
    BodyStructure(SizeSite),
}

impl Referenced {
    /// The reference naming it (`Medication/…`, `BodyStructure/…`).
    fn reference(self, pid: &str) -> String {
        match self {
            Referenced::Medication(entry) => format!("Medication/{}", entry.id()),
            Referenced::BodyStructure(site) => format!("BodyStructure/{}", body_structure_id(pid, site)),
        }
    }
}

/// The id of the patient's BodyStructure for `site`: one per site.
pub(crate) fn body_structure_id(pid: &str, site: SizeSite) -> String {
    match site {
        SizeSite::Primary => format!("{pid}-bs-primary"),
        SizeSite::Liver => format!("{pid}-bs-liver"),
    }
}

/// A resource the patient's lines name, waiting for its place among them.
pub(crate) enum Named {
    /// Written by the cohort's catalogue (shared by patients).
    Medication { entry: CatalogueEntry, before: bool },
    /// The patient's own, written here.
    BodyStructure { site: SizeSite, before: bool, body: J },
}

impl Gen {
    /// Name the drug or the site of a share of the resources that could
    /// (every version of a resource alike) by reference, and prepare what
    /// they name: one BodyStructure per site, dated shortly before or after
    /// the first version naming it, and the uses of catalogue Medications.
    pub(crate) fn refer_across_messages(&mut self) {
        let rng = &mut self.references;
        // The patient's hospital: one pharmacy catalogue, one way to say where the primary is.
        let pharmacy = rng.gen_range(1..=PHARMACIES);
        let primary_in_head = rng.gen_bool(0.4);
        let mut decided: Vec<(String, bool)> = Vec::new();
        // What is named, in the order first named, with the earliest lastUpdated naming it.
        let mut first_named: Vec<(Referenced, i64)> = Vec::new();
        for r in self.res.iter_mut() {
            let Some(referable) = r.referable else {
                continue;
            };
            let refer = match decided.iter().find(|(id, _)| *id == r.id) {
                Some(&(_, refer)) => refer,
                None => {
                    let refer = rng.gen_bool(SHARE);
                    decided.push((r.id.clone(), refer));
                    refer
                }
            };
            if !refer {
                continue;
            }
            let what = match referable {
                Referable::Drug(drug) => Referenced::Medication(CatalogueEntry { pharmacy, drug }),
                Referable::Site(site) => Referenced::BodyStructure(site),
            };
            let reference = j!({ "reference": (what.reference(&self.pid)) });
            match what {
                Referenced::Medication(_) => {
                    r.body.replace_key("medicationCodeableConcept", "medicationReference", reference)
                }
                Referenced::BodyStructure(_) => r.body.replace_key("bodySite", "focus", j!([reference])),
            }
            r.refers = Some(what);
            if r.delete {
                continue;
            }
            match first_named.iter_mut().find(|(w, _)| *w == what) {
                Some((_, first)) => *first = (*first).min(r.lu_ms),
                None => first_named.push((what, r.lu_ms)),
            }
        }
        let mut placed = Vec::with_capacity(first_named.len());
        for (what, first) in first_named {
            let before = rng.gen_bool(0.5);
            // A BodyStructure recorded minutes to days before or after the size naming it.
            let minutes: i64 = rng.gen_range(10..=3 * 24 * 60);
            placed.push((what, before, first + if before { -minutes } else { minutes } * 60_000));
        }
        for (what, before, lu_ms) in placed {
            let named = match what {
                Referenced::Medication(entry) => Named::Medication { entry, before },
                Referenced::BodyStructure(site) => {
                    let body = self.body_structure(site, primary_in_head, lu_ms);
                    Named::BodyStructure { site, before, body }
                }
            };
            self.named.push(named);
        }
    }

    /// The patient's lines with each named resource placed just before the
    /// first line naming it, or anywhere after that line.
    pub(crate) fn place_named(&mut self, lines: Vec<Line>) -> Vec<Item> {
        let mut items: Vec<Item> = lines.into_iter().map(Item::Line).collect();
        for named in std::mem::take(&mut self.named) {
            let (what, before) = match named {
                Named::Medication { entry, before } => (Referenced::Medication(entry), before),
                Named::BodyStructure { site, before, .. } => (Referenced::BodyStructure(site), before),
            };
            let first = items
                .iter()
                .position(|item| matches!(item, Item::Line(l) if l.refers.contains(&what)))
                .expect("a version naming it is on a line");
            let at = if before { first } else { self.references.gen_range(first + 1..=items.len()) };
            let item = match named {
                Named::Medication { entry, .. } => Item::Medication { entry, patient: self.pref.clone() },
                Named::BodyStructure { body, .. } => Item::Line(self.line(&body, 1)),
            };
            items.insert(at, item);
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{cohort, patient_ref, resources};
    use serde_json::Value;
    use std::collections::{BTreeSet, HashMap};

    /// Every resource of the cohort with its line number and its patient
    /// (a Bundle's `urn:uuid` subject read as the Patient entry it names).
    fn located(text: &str) -> Vec<(usize, Value, Option<String>)> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let msg: Value = serde_json::from_str(line).unwrap();
            let mut urns = HashMap::new();
            for e in msg["entry"].as_array().into_iter().flatten() {
                if e["resource"]["resourceType"] == "Patient" {
                    urns.insert(e["fullUrl"].as_str().unwrap().to_string(), e["resource"]["id"].as_str().unwrap());
                }
            }
            for r in resources(&msg).into_iter().flatten() {
                let patient = patient_ref(&r).map(|p| match urns.get(p) {
                    Some(id) => format!("Patient/{id}"),
                    None => p.to_string(),
                });
                out.push((n, r, patient));
            }
        }
        out
    }

    #[test]
    fn every_reference_names_a_resource_the_cohort_sends_before_or_after() {
        let (text, _) = cohort(1000, 8, 0.0);
        // The first line sending each Medication / BodyStructure, and the
        // first line naming each, with the patients naming it.
        let mut sent: HashMap<String, (usize, Value)> = HashMap::new();
        let mut named: HashMap<String, (usize, BTreeSet<String>)> = HashMap::new();
        let (mut therapies, mut sizes) = (BTreeSet::new(), BTreeSet::new());
        let (mut therapies_naming, mut sizes_naming) = (BTreeSet::new(), BTreeSet::new());
        for (n, r, patient) in located(&text) {
            let rt = r["resourceType"].as_str().unwrap();
            let id = format!("{rt}/{}", r["id"].as_str().unwrap());
            if rt == "Medication" || rt == "BodyStructure" {
                sent.entry(id.clone()).or_insert((n, r.clone()));
            }
            let is_size = r["code"]["coding"][0]["code"] == "33728-7" || r["code"]["coding"][0]["code"] == "21889-1";
            if rt.starts_with("Medication") && rt != "Medication" {
                therapies.insert(id.clone());
            } else if is_size {
                sizes.insert(id.clone());
            }
            let reference = if let Some(m) = r["medicationReference"]["reference"].as_str() {
                assert!(r.get("medicationCodeableConcept").is_none(), "{r}");
                therapies_naming.insert(id);
                m
            } else if let Some(b) = r["focus"][0]["reference"].as_str() {
                assert!(is_size && r.get("bodySite").is_none(), "{r}");
                sizes_naming.insert(id);
                b
            } else {
                continue;
            };
            let first = named.entry(reference.to_string()).or_insert((n, BTreeSet::new()));
            first.1.insert(patient.expect("a therapy or size names its patient"));
        }
        let mut orders = BTreeSet::new();
        for (reference, (first, patients)) in &named {
            let (at, resource) = sent.get(reference).unwrap_or_else(|| panic!("{reference} is named, never sent"));
            let rt = resource["resourceType"].as_str().unwrap();
            orders.insert((rt, if at < first { "before" } else { "after" }));
            if rt == "BodyStructure" {
                // The patient's own: named by that patient only, at a pancreatic or liver site.
                assert_eq!(patients.len(), 1, "{reference}: {patients:?}");
                assert_eq!(patient_ref(resource), patients.first().map(String::as_str), "{reference}");
                let location = resource["location"]["coding"][0]["code"].as_str().unwrap();
                let expected: &[&str] =
                    if reference.ends_with("-liver") { &["10200004"] } else { &["15776009", "64163001"] };
                assert!(expected.contains(&location), "{reference}: {location}");
            }
        }
        for want in
            [("Medication", "before"), ("Medication", "after"), ("BodyStructure", "before"), ("BodyStructure", "after")]
        {
            assert!(orders.contains(&want), "no {} sent {} the first line naming it", want.0, want.1);
        }
        assert!(named.iter().any(|(r, (_, patients))| r.starts_with("Medication/") && patients.len() > 1));
        // About a quarter of what could name another message's resource does.
        for (what, all, naming) in [("therapies", &therapies, &therapies_naming), ("sizes", &sizes, &sizes_naming)] {
            let share = naming.len() as f64 / all.len() as f64;
            assert!((0.15..=0.35).contains(&share), "{what}: {} of {}", naming.len(), all.len());
        }
    }
}
