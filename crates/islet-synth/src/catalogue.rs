//! The pharmacy catalogues: Medications no patient owns, named by the
//! `medicationReference` of many patients' therapies (`references`).
//!
//! A catalogue entry is written once, at its first use in the cohort (the
//! first patient whose lines name it carries it, before or after its own
//! statement); later uses now and then bring a redelivery of its current
//! version or a new version that only rewords its text. A version never
//! changes the drug code: a real catalogue does not turn octreotide into
//! everolimus, and the cohort's expected alerts rest on that.
//!
//! The catalogue is the one piece of state that lives across patients: what
//! has been written, per entry (a few dozen at most, so memory does not grow
//! with the cohort). Its choices are drawn from a stream of their own
//! ([`CATALOGUE_STREAM`](crate::CATALOGUE_STREAM)), in patient order, so a
//! patient's own lines never depend on another patient.

use crate::dates::format_dt;
use crate::messages::{Item, Line};
use crate::resources::medications::catalogue_medication;
use crate::therapy::Drug;
use crate::{stream_rng, CohortOptions, CATALOGUE_STREAM};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Pharmacy catalogues (hospitals); each patient's drugs come from one.
pub(crate) const PHARMACIES: u8 = 3;
/// At a later use, the chance of a redelivery of the entry's current version.
const REDELIVERY: f64 = 0.03;
/// At a later use, the chance of a new version (while below [`MAX_VERSION`]).
const REVISION: f64 = 0.03;
/// Catalogue entries are revised a few times at most.
const MAX_VERSION: u32 = 4;

/// One drug in one pharmacy's catalogue: one Medication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CatalogueEntry {
    pub(crate) pharmacy: u8,
    pub(crate) drug: Drug,
}

impl CatalogueEntry {
    /// The Medication's id (ATC codes are FHIR id characters).
    pub(crate) fn id(&self) -> String {
        format!("pharmacy-{}-{}", self.pharmacy, self.drug.atc)
    }

    /// The ATC code the entry is listed under, for good: the last pharmacy
    /// still lists the retired code of a drug that has one.
    pub(crate) fn atc(&self) -> &'static str {
        match self.drug.atc_old {
            Some(old) if self.pharmacy == PHARMACIES => old,
            _ => self.drug.atc,
        }
    }
}

/// An entry's current version, as written.
struct Written {
    version: u32,
    last_updated_ms: i64,
    line: String,
}

/// What the cohort's catalogues have written so far.
pub(crate) struct Catalogue {
    rng: ChaCha8Rng,
    start: OffsetDateTime,
    written: HashMap<(u8, &'static str), Written>,
}

impl Catalogue {
    pub(crate) fn new(opts: &CohortOptions) -> Self {
        Catalogue {
            rng: stream_rng(opts.seed, CATALOGUE_STREAM),
            start: PrimitiveDateTime::new(opts.start, Time::MIDNIGHT).assume_utc(),
            written: HashMap::new(),
        }
    }

    /// A patient's lines, each use of a catalogue Medication replaced by
    /// the Medication's line (first use in the cohort, a redelivery, a new
    /// version) or by nothing.
    pub(crate) fn resolve(&mut self, items: Vec<Item>) -> Vec<Line> {
        let mut lines = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Item::Line(line) => lines.push(line),
                Item::Medication { entry, patient } => {
                    if let Some(text) = self.use_entry(entry) {
                        lines.push(Line { text, resources: 1, patient, refers: Vec::new() });
                    }
                }
            }
        }
        lines
    }

    /// The line a use of `entry` brings, if any.
    fn use_entry(&mut self, entry: CatalogueEntry) -> Option<String> {
        let key = (entry.pharmacy, entry.drug.atc);
        let Some(written) = self.written.get_mut(&key) else {
            // Listed long before the cohort's first clinical date.
            let listed = self.start - Duration::days(self.rng.gen_range(400..=800))
                + Duration::milliseconds(self.rng.gen_range(0..86_400_000));
            let last_updated_ms = (listed.unix_timestamp_nanos() / 1_000_000) as i64;
            let line = medication_line(entry, 1, last_updated_ms);
            self.written.insert(key, Written { version: 1, last_updated_ms, line: line.clone() });
            return Some(line);
        };
        let x: f64 = self.rng.gen();
        if x < REDELIVERY {
            Some(written.line.clone())
        } else if x < REDELIVERY + REVISION && written.version < MAX_VERSION {
            written.version += 1;
            written.last_updated_ms += self.rng.gen_range(1..=40) * 86_400_000 + self.rng.gen_range(0..86_400_000);
            written.line = medication_line(entry, written.version, written.last_updated_ms);
            Some(written.line.clone())
        } else {
            None
        }
    }
}

fn medication_line(entry: CatalogueEntry, version: u32, last_updated_ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(last_updated_ms) * 1_000_000).expect("valid instant");
    let last_updated = format_dt(PrimitiveDateTime::new(t.date(), t.time()), UtcOffset::UTC, true);
    catalogue_medication(entry, version, last_updated).to_json()
}

#[cfg(test)]
mod tests {
    use crate::test_support::{codes, cohort, resources};
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn a_shared_medication_keeps_its_drug_code_through_versions_and_redeliveries() {
        let (text, _) = cohort(2000, 3, 0.0);
        // What a Medication version says: its codes (system, code) and its text.
        type Said = (Vec<(String, String)>, Value);
        // Medication id → versionId → what it says, and its lines as sent.
        let mut versions: BTreeMap<String, BTreeMap<u32, Said>> = BTreeMap::new();
        let mut lines = BTreeSet::new();
        let mut redelivered = 0;
        for line in text.lines() {
            let msg: Value = serde_json::from_str(line).unwrap();
            for r in resources(&msg).into_iter().flatten() {
                if r["resourceType"] != "Medication" {
                    continue;
                }
                if !lines.insert(line) {
                    redelivered += 1;
                }
                let id = r["id"].as_str().unwrap().to_string();
                let version = r["meta"]["versionId"].as_str().unwrap().parse().unwrap();
                let said = (codes(&r["code"]), r["code"]["text"].clone());
                let before = versions.entry(id.clone()).or_default().insert(version, said.clone());
                assert!(before.is_none_or(|b| b == said), "{id} version {version} sent with two contents");
            }
        }
        assert!(redelivered > 0, "no Medication redelivered");
        let mut revised = 0;
        for (id, by_version) in &versions {
            let numbers: Vec<u32> = by_version.keys().copied().collect();
            assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>(), "{id}");
            let (first_code, first_text) = &by_version[&1];
            assert_eq!(first_code.len(), 1, "{id}: one ATC code");
            for (v, (code, text)) in by_version {
                assert_eq!(code, first_code, "{id} version {v} changes the drug");
                if *v > 1 {
                    assert_ne!(text, first_text, "{id} version {v} changes nothing");
                    revised += 1;
                }
            }
        }
        assert!(revised > 0, "no Medication revised");
    }
}
