//! Synthetic pNET cohort generator (`islet generate`).
//!
//! Writes NDJSON, one message per line, in the shapes of
//! `spec/contract.md`: plain FHIR R4 resources (~80 % of lines), Bundles
//! (~10 %: `transaction`, `batch`, `collection`, with `urn:uuid` references
//! to a Patient entry and now and then a `DELETE` entry) and HAPI
//! `ResourceDeliveryMessage` envelopes (~10 %). Every resource carries
//! `meta.versionId` and `meta.lastUpdated`; the stream includes amended new
//! versions, `entered-in-error` retractions, deletions, preliminary results
//! later made final and duplicate redeliveries of the same version.
//!
//! References across messages (contract v2): about a quarter of the therapy
//! statements and requests name their drug by `medicationReference` to a
//! Medication of a pharmacy catalogue, shared by the patients of that
//! pharmacy, and about a quarter of the tumour sizes name their site by
//! `focus` to a BodyStructure of the patient. What they name is a line of its
//! own, sometimes before the first line naming it and sometimes after; a
//! catalogue Medication is written once, at its first use, then now and
//! then redelivered or revised (its text, never its drug).
//!
//! Nothing here describes a real person: ids are `Patient/syn-NNNNNN`, there
//! are no names, and every Patient is tagged as test data (`HTEST`) and with
//! the archetype it was drawn from (system [`ARCHETYPE_SYSTEM`]), so a demo or
//! a test can tell which alerts each patient should raise.
//!
//! The crate depends on none of Islet's own crates: it writes FHIR from the
//! contract, so the decoder reading it back is an independent check, not
//! the decoder agreeing with itself.
//!
//! Design:
//! * **Deterministic.** Every patient has its own ChaCha8 stream (the seed,
//!   stream = patient index), so a patient does not depend on the others,
//!   and a second one for which resources name another message's resource.
//!   Archetypes are dealt from a shuffled deck (its own stream), so every
//!   cohort of at least [`DECK_SIZE`] patients holds every archetype in fixed
//!   proportions. Interleaving and bad-line injection use two more streams, so
//!   a cohort with `bad_line_rate > 0` is the clean cohort with some lines
//!   replaced; the catalogues' redeliveries and revisions one more.
//! * **Streaming.** Patients are built a few at a time (a window of 1–4,
//!   whose lines are interleaved, each patient's order kept) and written out;
//!   memory does not grow with the cohort (the catalogues hold a few dozen
//!   Medications).
//! * **Clinical time.** Each patient's dates move forward from a diagnosis
//!   date between `start` and `start` + ~30 months; nothing is dated after
//!   `start` + [`SPAN_DAYS`], so a surveillance schedule is cut wherever that
//!   horizon falls (items scheduled, due or overdue when evaluated at the end).
//!   Lines are in `meta.lastUpdated` order per patient; a few results are
//!   entered late, so arrival order is not always clinical order, and a
//!   BodyStructure sent after the size naming it may come later still.
//! * **Fast.** Resources are built as a small ordered JSON tree (`J` in
//!   `json`: static keys, borrowed static strings) and written straight into
//!   the line buffer: about 3.5 s of one core for 100 000 patients (1.2 M
//!   lines) in release mode.
//!
//! Modules, in the order a line is made:
//! * `archetype` — [`Archetype`], the deck, and one story per archetype
//!   (`primary`, `systemic`, `functioning`, `liver`, `data_problems`, with the
//!   shared steps in `blocks`).
//! * `chart` — one patient being generated: random stream, clock, resource
//!   versions (`emit`, `revise`, `delete`).
//! * `resources` — the FHIR resource builders, one file per family
//!   (`patient`, `conditions`, `observations`, `body_structures`,
//!   `medications`, `procedures`),
//!   using `coding` (code systems, CodeableConcepts, UCUM quantities),
//!   `therapy` (drugs and procedures) and `dates`.
//! * `corrections` — amended, entered-in-error, refuted and deleted versions.
//! * `references` — which drugs and sites are named by reference, and where
//!   the BodyStructures and Medication uses go among the lines.
//! * `messages` — a patient's versions as lines: plain, Bundle, envelope.
//! * `catalogue` — the pharmacy catalogues' Medications, shared by patients:
//!   written at first use, now and then redelivered or revised.
//! * this file — windows of patients, interleaving, and `bad_line` injection.
//! * `json` — the JSON tree and its writer.
//!
//! The rules each archetype is meant to raise are listed on [`Archetype`].

mod archetype;
mod bad_line;
mod catalogue;
mod chart;
mod coding;
mod corrections;
mod dates;
mod json;
mod messages;
mod references;
mod resources;
#[cfg(test)]
mod test_support;
mod therapy;

pub use archetype::{Archetype, DECK_SIZE};
pub use coding::{ARCHETYPE_SYSTEM, ISLET};

use archetype::Deck;
use bad_line::bad_line;
use catalogue::Catalogue;
use chart::patient_lines;
use messages::Line;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::io::{self, Write};
use time::{Date, Month};

/// Last possible clinical date: `start` + this many days (three years).
pub const SPAN_DAYS: i64 = 3 * 365;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortOptions {
    pub patients: usize,
    pub seed: u64,
    /// Earliest clinical date (default 2022-01-01).
    pub start: Date,
    /// Share of lines (0–1) replaced by an unusable line: broken JSON, an
    /// Observation without subject, or a string where `valueQuantity.value`
    /// belongs. Default 0.
    pub bad_line_rate: f64,
}

impl Default for CohortOptions {
    fn default() -> Self {
        CohortOptions {
            patients: 100,
            seed: 42,
            start: Date::from_calendar_date(2022, Month::January, 1).expect("valid date"),
            bad_line_rate: 0.0,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateStats {
    pub patients: usize,
    /// NDJSON lines (messages).
    pub lines: usize,
    /// Resources in those lines: a plain resource or an envelope counts 1, a
    /// Bundle counts its entries (DELETE entries included), a broken line 0.
    pub resources: usize,
}

/// Write a synthetic cohort as NDJSON to `out`. Patients are built in windows
/// of 1–4 whose lines are interleaved, each patient's own order kept.
pub fn generate(opts: &CohortOptions, out: &mut impl Write) -> io::Result<GenerateStats> {
    let mut deck = Deck::new(opts.seed);
    let mut catalogue = Catalogue::new(opts);
    let mut mix = stream_rng(opts.seed, MIX_STREAM);
    let mut bad = stream_rng(opts.seed, BAD_LINE_STREAM);
    let bad_rate = if opts.bad_line_rate.is_finite() { opts.bad_line_rate.clamp(0.0, 1.0) } else { 0.0 };
    let mut stats = GenerateStats::default();
    let mut buf = String::with_capacity(1 << 16);
    let mut next = 0usize;
    while next < opts.patients {
        let window = mix.gen_range(1..=4usize).min(opts.patients - next);
        let mut queues: Vec<VecDeque<Line>> = (next..next + window)
            .map(|i| VecDeque::from(catalogue.resolve(patient_lines(opts, i, deck.deal()))))
            .collect();
        next += window;
        stats.patients += window;
        loop {
            let open: Vec<usize> = (0..queues.len()).filter(|&q| !queues[q].is_empty()).collect();
            let Some(&q) = open.choose(&mut mix) else {
                break;
            };
            let line = queues[q].pop_front().expect("non-empty queue");
            let line = if bad_rate > 0.0 && bad.gen_bool(bad_rate) { bad_line(&mut bad, opts, line) } else { line };
            stats.lines += 1;
            stats.resources += line.resources;
            buf.push_str(&line.text);
            buf.push('\n');
            if buf.len() >= 1 << 16 {
                out.write_all(buf.as_bytes())?;
                buf.clear();
            }
        }
    }
    out.write_all(buf.as_bytes())?;
    out.flush()?;
    Ok(stats)
}

// The seed's ChaCha8 streams: patient `i` (0-based) draws from stream `i` and
// `REFERENCE_STREAMS + i`, and the cohort-wide choices from the last four,
// far above any patient index.
/// Patient `i`'s second stream is `REFERENCE_STREAMS + i`: which of its
/// resources name a resource of another message (`references`). A stream of
/// its own, so that adding references left every draw of the story as it was.
const REFERENCE_STREAMS: u64 = 1 << 62;
/// Chooses when a pharmacy catalogue's Medication is redelivered or revised.
const CATALOGUE_STREAM: u64 = u64::MAX - 3;
/// Deals archetypes.
const DECK_STREAM: u64 = u64::MAX - 2;
/// Chooses window sizes and interleaves the window's lines.
const MIX_STREAM: u64 = u64::MAX - 1;
/// Chooses which lines are replaced, and by what.
const BAD_LINE_STREAM: u64 = u64::MAX;

/// Stream `stream` of `seed`.
fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{cohort, resources};
    use serde_json::Value;
    use time::{Duration, Month};

    #[test]
    fn a_patient_does_not_depend_on_cohort_size() {
        let (small, _) = cohort(40, 7, 0.0);
        let (large, _) = cohort(120, 7, 0.0);
        for p in ["syn-000001", "syn-000017", "syn-000033"] {
            // The reference, plain or inside an envelope's payload string.
            let mine = |l: &&str| l.contains(&format!("{p}\"")) || l.contains(&format!("{p}\\\""));
            let a: Vec<&str> = small.lines().filter(mine).collect();
            let b: Vec<&str> = large.lines().filter(mine).collect();
            assert!(!a.is_empty());
            assert_eq!(a, b, "{p}");
        }
    }

    #[test]
    fn about_ten_lines_per_patient() {
        let (_, stats) = cohort(1000, 3, 0.0);
        let per = stats.lines as f64 / stats.patients as f64;
        assert!((8.0..=13.0).contains(&per), "{per} lines per patient");
        assert!(stats.resources > stats.lines);
    }

    #[test]
    fn clinical_dates_stay_in_the_span() {
        let start = Date::from_calendar_date(2030, Month::June, 1).unwrap();
        let opts = CohortOptions { patients: 150, seed: 9, start, bad_line_rate: 0.0 };
        let mut out = Vec::new();
        generate(&opts, &mut out).unwrap();
        let end = (start + Duration::days(SPAN_DAYS)).to_string();
        let start = start.to_string();
        for line in String::from_utf8(out).unwrap().lines() {
            let msg: Value = serde_json::from_str(line).unwrap();
            for r in resources(&msg).into_iter().flatten() {
                let mut dates = Vec::new();
                for k in ["effectiveDateTime", "onsetDateTime", "performedDateTime", "authoredOn"] {
                    if let Some(s) = r[k].as_str() {
                        dates.push(s[..10].to_string());
                    }
                }
                for k in ["effectivePeriod", "performedPeriod"] {
                    if let Some(s) = r[k]["start"].as_str() {
                        dates.push(s[..10].to_string());
                    }
                }
                if let Some(b) = r["birthDate"].as_str() {
                    assert!(b < start.as_str());
                }
                for d in dates {
                    assert!(d >= start && d <= end, "{d} outside {start}..{end}: {r}");
                }
            }
        }
    }
}
