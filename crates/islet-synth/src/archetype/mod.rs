//! The archetypes a cohort is dealt from: [`Archetype`] (with the rules each
//! is built to raise), their weights and the [`Deck`] that deals them, and
//! [`Gen::build`], which writes one patient's story for its archetype. The
//! stories live in the submodules, by family; `blocks` holds the steps they
//! share.

mod blocks;
mod data_problems;
mod functioning;
mod liver;
mod primary;
mod systemic;

use crate::chart::Gen;
use crate::{stream_rng, DECK_STREAM};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// The kinds of patient in the cohort, each built to exercise rule families
/// (the rules named are those the archetype is meant to raise at the end of
/// the span; variants are chosen per patient and named in the Patient's
/// archetype tag `display`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Archetype {
    /// Sporadic non-functioning primary 6–19 mm, incidental (or mode not
    /// recorded), G1/G2; imaging + CgA at 3, 6, 9, 12, 18, 24, 30, 36 months
    /// with good, patchy or stopping attendance; 8 % grow past 20 mm.
    /// `surveillance.small-nonfunctioning`, `followup.surveillance-imaging`,
    /// `followup.cga-surveillance` (scheduled / due / overdue), sometimes
    /// `workup.ssr-imaging-missing`; growers `surgery.resection-indicated`.
    Surveillance,
    /// Diagnosis with grading, SSTR imaging and/or CgA missing:
    /// `workup.grading-missing`, `workup.ssr-imaging-missing`, `workup.cga-missing`.
    WorkupGaps,
    /// Localized G1/G2 > 20 mm (or board: complete / ≥ 90 %), some resected,
    /// some planned: `surgery.resection-indicated`.
    Resectable,
    /// Board: unresectable only because of vessels: `surgery.vascular-exploration`
    /// (+ `ssa.antiproliferative` / `ssa.g2-limited-evidence`, `prrt.candidate`).
    VascularUnresectable,
    /// Primary resection planned with resectability < 90 %, with unresectable
    /// liver metastases, or with bone metastases: `surgery.debulking-not-advised`,
    /// `surgery.primary-with-unresectable-liver`, `surgery.bone-metastases`.
    SurgeryAgainstAdvice,
    /// G1 with unresectable liver metastases on octreotide / lanreotide:
    /// `ssa.antiproliferative`, `monitoring.ssa`, `prrt.candidate`, liver rules;
    /// progressing at standard dose: `ssa.escalate-on-progression`,
    /// `ifn.consider`, `chemo.well-differentiated`; SSA without receptor
    /// imaging: `ssa.needs-receptor-status`; SSTR-negative on interferon:
    /// `ifn.consider`, `monitoring.interferon`.
    MetastaticG1Ssa,
    /// G2, SSA then streptozocin- or CAPTEM-based chemotherapy, progressing:
    /// `ssa.g2-limited-evidence`, `chemo.well-differentiated`,
    /// `targeted.after-chemo`; then `monitoring.everolimus` /
    /// `monitoring.sunitinib` / `monitoring.prrt`.
    G2ProgressingAfterChemo,
    /// Everolimus / sunitinib planned or running without prior chemotherapy:
    /// `targeted.first-line-selected` (enets), `targeted.first-line` (nccn).
    TargetedFirstLine,
    /// Ki-67 > 20 % NEC on platinum-etoposide: `chemo.nec-platinum`; with an
    /// SSA in non-functioning disease `ssa.not-in-g3`; with TACE planned
    /// `liver.embolization-contraindicated`.
    G3Nec,
    /// MEN1, yearly sizes: slow growth ≤ 20 mm `men1.small-tumour`; > 5 mm a
    /// year or > 20 mm `men1.resection-indicated` (some gastrinoma: PPI rules).
    Men1,
    /// Insulinoma (diazoxide, board resectable, some resected):
    /// `syndrome.insulinoma-glucose`, `ssa.syndrome-control`, `surgery.resection-indicated`.
    Insulinoma,
    /// Zollinger-Ellison on PPI, some metastatic on SSA, some uncontrolled:
    /// `syndrome.gastrinoma-ppi`, `ssa.syndrome-control`, `ssa.rescue-octreotide`.
    Gastrinoma,
    /// Glucagonoma / VIPoma / somatostatinoma with liver metastases on SSA,
    /// some uncontrolled or in crisis: `ssa.syndrome-control`, `ssa.rescue-octreotide`.
    OtherFunctioning,
    /// All Milan-NET criteria (age < 55, Ki-67 < 10 %, curative resection,
    /// liver-only < 50 %, stable ~9 months after failing SSA): `olt.candidate`.
    TransplantCandidate,
    /// Referred for transplantation while one or two criteria fail:
    /// `olt.not-eligible` (each failure named in the tag).
    TransplantIneligible,
    /// Unresectable liver metastases: few small lesions `liver.ablation`;
    /// ablation planned for a lesion > 50 mm `liver.ablation-too-large`;
    /// `liver.embolization`; involvement ≥ 50 % `liver.sirt`.
    LiverDirected,
    /// TAE/TACE planned with involvement ≥ 50 %, portal vein occlusion,
    /// liver failure, biliary reconstruction or ECOG ≥ 3:
    /// `liver.embolization-contraindicated`.
    EmbolizationContraindicated,
    /// PRRT planned with Krenning < 2, no Krenning score, or no SSTR imaging:
    /// `prrt.needs-uptake`.
    PrrtWithoutUptake,
    /// Ki-67 vs mitoses discordant, NEC diagnosis with G2 Ki-67, Ki-67 > 100 %
    /// or negative size / CgA, CgA in IU/mL, Ki-67 amended 2 → 2.5 %:
    /// `data.grade-discordant`, `data.implausible-value`, `data.unknown-unit`.
    DataProblems,
}

impl Archetype {
    /// Every archetype with its weight (patients per [`DECK_SIZE`]).
    pub const ALL: [(Archetype, usize); 19] = [
        (Archetype::Surveillance, 20),
        (Archetype::WorkupGaps, 8),
        (Archetype::Resectable, 12),
        (Archetype::VascularUnresectable, 3),
        (Archetype::SurgeryAgainstAdvice, 4),
        (Archetype::MetastaticG1Ssa, 10),
        (Archetype::G2ProgressingAfterChemo, 7),
        (Archetype::TargetedFirstLine, 3),
        (Archetype::G3Nec, 6),
        (Archetype::Men1, 5),
        (Archetype::Insulinoma, 4),
        (Archetype::Gastrinoma, 4),
        (Archetype::OtherFunctioning, 2),
        (Archetype::TransplantCandidate, 3),
        (Archetype::TransplantIneligible, 2),
        (Archetype::LiverDirected, 5),
        (Archetype::EmbolizationContraindicated, 3),
        (Archetype::PrrtWithoutUptake, 3),
        (Archetype::DataProblems, 3),
    ];

    /// The code used in the Patient's `meta.tag` ([`ARCHETYPE_SYSTEM`](crate::ARCHETYPE_SYSTEM)).
    pub fn code(self) -> &'static str {
        match self {
            Archetype::Surveillance => "surveillance",
            Archetype::WorkupGaps => "workup-gaps",
            Archetype::Resectable => "resectable",
            Archetype::VascularUnresectable => "vascular-unresectable",
            Archetype::SurgeryAgainstAdvice => "surgery-against-advice",
            Archetype::MetastaticG1Ssa => "metastatic-g1-ssa",
            Archetype::G2ProgressingAfterChemo => "g2-progressing-after-chemo",
            Archetype::TargetedFirstLine => "targeted-first-line",
            Archetype::G3Nec => "g3-nec",
            Archetype::Men1 => "men1",
            Archetype::Insulinoma => "insulinoma",
            Archetype::Gastrinoma => "gastrinoma",
            Archetype::OtherFunctioning => "other-functioning",
            Archetype::TransplantCandidate => "transplant-candidate",
            Archetype::TransplantIneligible => "transplant-ineligible",
            Archetype::LiverDirected => "liver-directed",
            Archetype::EmbolizationContraindicated => "embolization-contraindicated",
            Archetype::PrrtWithoutUptake => "prrt-without-uptake",
            Archetype::DataProblems => "data-problems",
        }
    }
}

/// Patients per deck: every run of this many consecutive patients holds
/// every archetype in the proportions of [`Archetype::ALL`].
pub const DECK_SIZE: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < Archetype::ALL.len() {
        n += Archetype::ALL[i].1;
        i += 1;
    }
    n
};

/// Deals archetypes from a shuffled deck of [`DECK_SIZE`] cards, so every
/// cohort of at least that many patients holds every archetype.
pub(crate) struct Deck {
    rng: ChaCha8Rng,
    cards: Vec<Archetype>,
}

impl Deck {
    pub(crate) fn new(seed: u64) -> Self {
        Deck { rng: stream_rng(seed, DECK_STREAM), cards: Vec::with_capacity(DECK_SIZE) }
    }
    pub(crate) fn deal(&mut self) -> Archetype {
        if self.cards.is_empty() {
            for (a, w) in Archetype::ALL {
                self.cards.extend(std::iter::repeat_n(a, w));
            }
            self.cards.shuffle(&mut self.rng);
        }
        self.cards.pop().expect("deck refilled")
    }
}

impl Gen {
    /// Write the patient's story for its archetype, tag the Patient, and
    /// now and then let the patient die (more often in G3).
    pub(crate) fn build(&mut self) {
        match self.archetype {
            Archetype::Surveillance => self.surveillance(),
            Archetype::WorkupGaps => self.workup_gaps(),
            Archetype::Resectable => self.resectable(),
            Archetype::VascularUnresectable => self.vascular_unresectable(),
            Archetype::SurgeryAgainstAdvice => self.surgery_against_advice(),
            Archetype::MetastaticG1Ssa => self.metastatic_g1_ssa(),
            Archetype::G2ProgressingAfterChemo => self.g2_after_chemo(),
            Archetype::TargetedFirstLine => self.targeted_first_line(),
            Archetype::G3Nec => self.g3_nec(),
            Archetype::Men1 => self.men1_patient(),
            Archetype::Insulinoma => self.insulinoma(),
            Archetype::Gastrinoma => self.gastrinoma(),
            Archetype::OtherFunctioning => self.other_functioning(),
            Archetype::TransplantCandidate => self.transplant(true),
            Archetype::TransplantIneligible => self.transplant(false),
            Archetype::LiverDirected => self.liver_directed(),
            Archetype::EmbolizationContraindicated => self.embolization_contraindicated(),
            Archetype::PrrtWithoutUptake => self.prrt_without_uptake(),
            Archetype::DataProblems => self.data_problems(),
        }
        self.tag_patient();
        let g3 = matches!(self.archetype, Archetype::G3Nec);
        if self.p(if g3 { 0.2 } else { 0.02 }) {
            self.decease();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{archetype_of, codes, cohort, medication_codes, patient_ref, resources};
    use serde_json::Value;
    use std::collections::{BTreeSet, HashMap};

    #[test]
    fn every_archetype_appears_in_200_patients() {
        let (text, _) = cohort(200, 11, 0.0);
        let mut seen = BTreeSet::new();
        for line in text.lines() {
            let msg: Value = serde_json::from_str(line).unwrap();
            for r in resources(&msg).into_iter().flatten() {
                if let Some(a) = archetype_of(&r) {
                    seen.insert(a);
                }
            }
        }
        for (a, _) in Archetype::ALL {
            assert!(seen.contains(a.code()), "{} missing", a.code());
        }
    }

    /// Each archetype carries what its rules need (the report lists the rules).
    #[test]
    fn archetypes_carry_their_signature() {
        let (text, _) = cohort(2 * DECK_SIZE, 5, 0.0);
        let medications = medication_codes(&text);
        let mut arch: HashMap<String, String> = HashMap::new();
        let mut facts: HashMap<String, BTreeSet<String>> = HashMap::new();
        for line in text.lines() {
            let msg: Value = serde_json::from_str(line).unwrap();
            let mut urns = HashMap::new();
            if msg["resourceType"] == "Bundle" {
                for e in msg["entry"].as_array().unwrap() {
                    if e["resource"]["resourceType"] == "Patient" {
                        urns.insert(
                            e["fullUrl"].as_str().unwrap().to_string(),
                            format!("Patient/{}", e["resource"]["id"].as_str().unwrap()),
                        );
                    }
                }
            }
            for r in resources(&msg).into_iter().flatten() {
                let rt = r["resourceType"].as_str().unwrap();
                if rt == "Patient" {
                    arch.insert(format!("Patient/{}", r["id"].as_str().unwrap()), archetype_of(&r).unwrap());
                    continue;
                }
                // What these say is read where they are named.
                if rt == "Medication" || rt == "BodyStructure" {
                    continue;
                }
                let p = patient_ref(&r).unwrap();
                let p = urns.get(p).cloned().unwrap_or_else(|| p.to_string());
                let named = r["medicationReference"]["reference"].as_str().map(|m| &medications[m]);
                let code = r.get("code").or_else(|| r.get("medicationCodeableConcept")).or(named).unwrap();
                let status = r["status"].as_str().unwrap_or("");
                let set = facts.entry(p).or_default();
                for (_, c) in codes(code) {
                    set.insert(format!("{rt}:{c}:{status}"));
                    set.insert(c.clone());
                    if let Some(v) = r.get("valueCodeableConcept") {
                        for (_, vc) in codes(v) {
                            set.insert(format!("{c}={vc}"));
                        }
                    }
                }
            }
        }
        let has = |p: &str, f: &str| facts.get(p).is_some_and(|s| s.iter().any(|x| x.contains(f)));
        let planned = |p: &str, c: &str| {
            ["ServiceRequest", "MedicationRequest", "Procedure"].iter().any(|rt| {
                ["active", "draft", "on-hold", "preparation"].iter().any(|s| has(p, &format!("{rt}:{c}:{s}")))
            })
        };
        let mut checked = BTreeSet::new();
        for (p, a) in &arch {
            let ok = match a.as_str() {
                "surveillance" => has(p, "33728-7") || has(p, "21889-1"),
                "workup-gaps" => {
                    !(has(p, "29593-1") || has(p, "ki67-index"))
                        || !has(p, "sstr-imaging")
                        || !has(p, "9811-1") && !has(p, "25587-7") && !has(p, "30169-7")
                }
                "resectable" => has(p, "resectability=complete") || has(p, "resectability=ge-90"),
                "vascular-unresectable" => has(p, "resectability=unresectable-vascular"),
                "surgery-against-advice" => planned(p, "primary-resection"),
                "metastatic-g1-ssa" => has(p, "H01CB") || has(p, ":ssa:") || has(p, "L03AB"),
                "g2-progressing-after-chemo" => has(p, "L01AD04") || has(p, "L01BC06") || has(p, ":chemotherapy:"),
                "targeted-first-line" => {
                    (has(p, "L01EG02")
                        || has(p, "L01EX01")
                        || has(p, "L01XE")
                        || has(p, "everolimus")
                        || has(p, "sunitinib"))
                        && !has(p, "L01AD04")
                        && !has(p, ":chemotherapy:")
                }
                "g3-nec" => has(p, "L01CB01") || has(p, ":chemotherapy:"),
                "men1" => has(p, "E31.21") || has(p, "30664006"),
                "insulinoma" => has(p, "E16.1") || has(p, "713189001") || has(p, "8151/3"),
                "gastrinoma" => has(p, "E16.4") || has(p, "8153/3"),
                "other-functioning" => has(p, "hormonal-symptoms="),
                "transplant-candidate" => has(p, "primary-resection:completed"),
                "transplant-ineligible" => planned(p, "18027006") || planned(p, "liver-transplant"),
                "liver-directed" => has(p, "liver-resectability=unresectable"),
                "embolization-contraindicated" => planned(p, "tace") || planned(p, "tae"),
                "prrt-without-uptake" => planned(p, "prrt") || planned(p, "V10XX04"),
                "data-problems" => true,
                other => panic!("unknown archetype {other}"),
            };
            assert!(ok, "{p} ({a}) lacks its signature: {:?}", facts.get(p));
            checked.insert(a.clone());
        }
        assert_eq!(checked.len(), Archetype::ALL.len());
    }
}
