//! Chemotherapy, targeted therapy, PRRT (spec "Chemotherapy, targeted
//! therapy, PRRT").
//!
//! Paper, Table 1 (ENETS, ref 12): chemotherapy is "recommended in advanced
//! inoperable well-differentiated (G1, G2) pNETs in case of failure of other
//! treatments (i.e. biotherapy or targeted therapy), rapid tumor growth,
//! poorly controlled symptoms, or poor prognosis, and in NEC G3 of any site";
//! targeted therapies are "recommended in patients with advanced pNETs after
//! the failure of systemic chemotherapy, whereas its administration as
//! first-line therapy should be reserved for selected cases"; radiolabeled
//! somatostatin analogues are a "treatment option for unresectable or
//! metastatic pNETs" and "somatostatin receptor scintigraphy is required
//! prior to start the therapy".
//!
//! v2: a recommendation is silent while the therapy it recommends runs (also
//! a done course whose period contains now) and once that class has failed
//! (spec "failed classes"); the alert that takes over names the failed course
//! in its evidence ([`Finding::failed_course`]).

use super::{with_grade, Finding, Wording};
use crate::alert::{Kind, RuleSpec, Severity};
use crate::config::Profile;
use crate::derived::Picture;
use crate::facts::{Fact, Grade, HormonalSymptoms, TherapyClass};

/// PRRT needs tumour uptake at least as high as normal liver: Krenning ≥ 2. [5]
pub const PRRT_MIN_KRENNING: u8 = 2;

pub const WELL_DIFFERENTIATED: RuleSpec = RuleSpec {
    id: "chemo.well-differentiated",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Advanced inoperable well-differentiated pNET with failure, progression or uncontrolled symptoms: consider chemotherapy",
    detail: "Chemotherapy is recommended in advanced inoperable well-differentiated (G1, G2) pNETs in \
             case of failure of other treatments (biotherapy or targeted therapy), rapid tumour growth, \
             poorly controlled symptoms or poor prognosis. Streptozotocin-based regimens \
             (streptozotocin + 5-fluorouracil, with or without doxorubicin; objective response 20–45 %) \
             are still the gold standard; dacarbazine, temozolomide (± capecitabine) and oxaliplatin \
             regimens are effective alternatives.",
    citation: "Rossi et al. 2014, refs 12, 46, 49–51",
};

pub const NEC_PLATINUM: RuleSpec = RuleSpec {
    id: "chemo.nec-platinum",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Poorly differentiated carcinoma (G3): platinum-based chemotherapy (cisplatin/carboplatin + etoposide)",
    detail: "In NEC G3, which behave like small-cell lung cancer, chemotherapy is almost exclusively \
             platinum-based: cisplatin (or carboplatin) with etoposide, response rates 42–67 %. Adding \
             paclitaxel brought no clear advantage. Surgery and liver-directed therapies such as \
             embolization are almost never applicable in poorly differentiated tumours.",
    citation: "Rossi et al. 2014, refs 12, 52",
};

pub const TARGETED_AFTER_CHEMO: RuleSpec = RuleSpec {
    id: "targeted.after-chemo",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Progression after chemotherapy in advanced well-differentiated pNET: everolimus or sunitinib",
    detail: "After failure of systemic chemotherapy, everolimus (10 mg/day; RADIANT-3 median PFS \
             11.0 vs 4.6 months on placebo) or sunitinib (37.5 mg/day; median PFS 11.1 vs 5.5 months) \
             is a therapeutic option in advanced, unresectable well-differentiated pNETs.",
    citation: "Rossi et al. 2014, refs 12, 15, 16",
};

pub const TARGETED_FIRST_LINE: RuleSpec = RuleSpec {
    id: "targeted.first-line",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Progressing unresectable well-differentiated pNET, no prior chemotherapy: everolimus or sunitinib first line (NCCN)",
    detail: "According to the NCCN guidelines and a recent review of metastatic pNET treatment, \
             everolimus and sunitinib are a possible first-line treatment for unresectable \
             well-differentiated pNETs; both were approved for progressive disease. (ENETS reserves \
             first-line use for selected cases.)",
    citation: "Rossi et al. 2014, refs 27, 59",
};

pub const TARGETED_FIRST_LINE_SELECTED: RuleSpec = RuleSpec {
    id: "targeted.first-line-selected",
    kind: Kind::Safety,
    severity: Severity::Warning,
    summary: "Everolimus or sunitinib before any chemotherapy: ENETS reserves first-line use for selected cases",
    detail: "ENETS 2012 recommends everolimus and sunitinib in advanced unresectable pNETs after \
             failure of chemotherapy; as first-line therapy they should be considered only in selected \
             cases. Document why this patient is such a case.",
    citation: "Rossi et al. 2014, ref 12",
};

/// `targeted.after-chemo` when everolimus already failed: only sunitinib is named.
pub const AFTER_CHEMO_SUNITINIB_ONLY: Wording = Wording {
    summary: "Progression after chemotherapy and after everolimus: sunitinib is the remaining targeted option",
    detail: "After failure of systemic chemotherapy, sunitinib (37.5 mg/day; median PFS 11.1 vs 5.5 \
             months on placebo) is a therapeutic option in advanced, unresectable well-differentiated \
             pNETs. Everolimus has already failed (see the evidence).",
};

/// `targeted.after-chemo` when sunitinib already failed: only everolimus is named.
pub const AFTER_CHEMO_EVEROLIMUS_ONLY: Wording = Wording {
    summary: "Progression after chemotherapy and after sunitinib: everolimus is the remaining targeted option",
    detail: "After failure of systemic chemotherapy, everolimus (10 mg/day; RADIANT-3 median PFS 11.0 \
             vs 4.6 months on placebo) is a therapeutic option in advanced, unresectable \
             well-differentiated pNETs. Sunitinib has already failed (see the evidence).",
};

pub const TARGETED_NOT_IN_G3: RuleSpec = RuleSpec {
    id: "targeted.not-in-g3",
    kind: Kind::Safety,
    severity: Severity::Warning,
    summary:
        "Everolimus or sunitinib planned or running in a G3 tumour: studied and approved in well-differentiated pNETs",
    detail: "Everolimus and sunitinib were studied (RADIANT-3, the sunitinib phase III trial) and \
             approved for advanced well-differentiated pNETs. Poorly differentiated carcinomas (NEC G3) \
             are treated with platinum-based chemotherapy (cisplatin or carboplatin with etoposide).",
    citation: "Rossi et al. 2014, refs 12, 15, 16, 52",
};

pub const PRRT_CANDIDATE: RuleSpec = RuleSpec {
    id: "prrt.candidate",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Unresectable or metastatic pNET with SSTR uptake ≥ normal liver: PRRT is an (investigational) option",
    detail: "Radiolabeled somatostatin analogues (177Lu- or 90Y-DOTA-octreotate) are a promising \
             option for unresectable or metastatic pNETs with strong uptake on somatostatin-receptor \
             scintigraphy, at least as high as normal liver tissue. With no randomized comparison \
             yet, PRRT is listed as an experimental or investigational treatment.",
    citation: "Rossi et al. 2014, refs 5, 64–66",
};

pub const PRRT_NEEDS_UPTAKE: RuleSpec = RuleSpec {
    id: "prrt.needs-uptake",
    kind: Kind::Safety,
    severity: Severity::Warning,
    summary: "PRRT planned without documented SSTR uptake at least as high as normal liver (Krenning ≥ 2)",
    detail: "Somatostatin-receptor scintigraphy is required before PRRT: radiolabeled somatostatin \
             analogues are suitable only for patients with strong radiotracer uptake, at least as high \
             as normal liver tissue (Krenning score ≥ 2).",
    citation: "Rossi et al. 2014, ref 5",
};

pub const RULES: &[&RuleSpec] = &[
    &WELL_DIFFERENTIATED,
    &NEC_PLATINUM,
    &TARGETED_AFTER_CHEMO,
    &TARGETED_FIRST_LINE,
    &TARGETED_FIRST_LINE_SELECTED,
    &TARGETED_NOT_IN_G3,
    &PRRT_CANDIDATE,
    &PRRT_NEEDS_UPTAKE,
];

pub fn evaluate(p: &Picture, out: &mut Vec<Finding>) {
    out.extend(chemo_well_differentiated(p));
    out.extend(chemo_nec_platinum(p));
    out.extend(targeted_after_chemo(p));
    out.extend(targeted_first_line(p));
    out.extend(targeted_first_line_selected(p));
    out.extend(targeted_not_in_g3(p));
    out.extend(prrt_candidate(p));
    out.extend(prrt_needs_uptake(p));
}

/// Spec (v2): "G1/G2, advanced and unresectable, no chemotherapy running,
/// chemotherapy not failed (then `targeted.after-chemo`), and one of: failure
/// of SSA/interferon/targeted therapy, progression, uncontrolled hormonal
/// symptoms" [12,46,49–51]. Paper: "recommended for advanced inoperable
/// well-differentiated (G1, G2) pNETs in case of failure of other treatments
/// (i.e., biotherapy or targeted therapy), rapid tumor growth, poorly
/// controlled symptoms, or poor prognosis".
///
/// Resolutions: "inoperable" needs an unresectability assessment (overall
/// resectability `lt-90` / unresectable, or liver metastases judged
/// unresectable; v2: not `unresectable-vascular`); metastases alone do not
/// make a tumour inoperable. "Rapid tumour growth" is read as the latest
/// determined assessment showing progression. "Uncontrolled" hormonal
/// symptoms include a carcinoid crisis. "Poor prognosis" has no computable
/// definition in the spec and is not used. This rule takes over from a
/// failed SSA, interferon or targeted agent: each failed class's course is
/// named (evidence and a note), as is every other indication that holds.
pub fn chemo_well_differentiated(p: &Picture) -> Option<Finding> {
    if !p.well_differentiated() {
        return None;
    }
    let unresectable = p.unresectable()?;
    if p.running(TherapyClass::Chemotherapy).is_some() || p.failed(|c| c == TherapyClass::Chemotherapy).is_some() {
        return None;
    }
    let failures: Vec<(&Fact, &Fact)> =
        [TherapyClass::Ssa, TherapyClass::Interferon, TherapyClass::Everolimus, TherapyClass::Sunitinib]
            .into_iter()
            .filter_map(|class| p.failed(|c| c == class))
            .collect();
    let progression = p.progression();
    let symptoms = uncontrolled_symptoms(p);
    if failures.is_empty() && progression.is_none() && symptoms.is_none() {
        return None;
    }
    let mut f = with_grade(Finding::new(&WELL_DIFFERENTIATED), p).maybe(p.advanced()).fact(unresectable);
    for (course, prog) in failures {
        f = f.failed_course(course, prog);
    }
    if let Some(prog) = progression {
        f = f.fact(prog).note(format!("Progression on the latest assessment ({}).", prog.at.date()));
    }
    if let Some(s) = symptoms {
        f = f.fact(s).note(format!("Poorly controlled hormonal symptoms ({}).", s.at.date()));
    }
    Some(f)
}

/// Spec: "G3" [12,52]. Paper: "In NEC G3 chemotherapy is almost exclusively
/// based on platinum regimen" (cisplatin and etoposide, response rates
/// 42–67 %). G3 comes from the WHO grade (Ki-67 > 20 % or > 20 mitoses, the
/// higher measure winning) or, with no measure, a reported G3 or a poorly
/// differentiated carcinoma diagnosis.
pub fn chemo_nec_platinum(p: &Picture) -> Option<Finding> {
    (p.grade() == Some(Grade::G3)).then(|| with_grade(Finding::new(&NEC_PLATINUM), p))
}

/// Spec (v2): "well-differentiated, advanced, progression after
/// chemotherapy, no targeted agent running, and not both agents failed; when
/// one agent failed, the alert names the other one only" [12,15,16]. Paper:
/// everolimus and sunitinib are "a novel therapeutic option in patients with
/// advanced unresectable pNETs after failure of chemotherapy".
///
/// "Progression after chemotherapy" is prior therapy failure of the class
/// chemotherapy: a course (running or done) that started before a later
/// progression. It stays true once established, since it describes the line
/// of treatment reached, not the latest scan. When one agent failed, the
/// summary and detail name the other agent only, and the failed agent's
/// course is evidence.
pub fn targeted_after_chemo(p: &Picture) -> Option<Finding> {
    if !p.well_differentiated() {
        return None;
    }
    let advanced = p.advanced()?;
    let (chemo, prog) = p.failed(|c| c == TherapyClass::Chemotherapy)?;
    if p.running(TherapyClass::Everolimus).is_some() || p.running(TherapyClass::Sunitinib).is_some() {
        return None;
    }
    let everolimus_failed = p.failed(|c| c == TherapyClass::Everolimus);
    let sunitinib_failed = p.failed(|c| c == TherapyClass::Sunitinib);
    let mut f = with_grade(Finding::new(&TARGETED_AFTER_CHEMO), p).fact(advanced).fact(chemo).fact(prog).note(format!(
        "Progression on {} after chemotherapy started {}.",
        prog.at.date(),
        chemo.at.date()
    ));
    match (everolimus_failed, sunitinib_failed) {
        (Some(_), Some(_)) => return None,
        (Some((course, later)), None) => {
            f = f.failed_course(course, later);
            f.wording = Some(AFTER_CHEMO_SUNITINIB_ONLY);
        }
        (None, Some((course, later))) => {
            f = f.failed_course(course, later);
            f.wording = Some(AFTER_CHEMO_EVEROLIMUS_ONLY);
        }
        (None, None) => {}
    }
    Some(f)
}

/// Spec (v2): "profile `nccn` only: well-differentiated, unresectable,
/// progression, no prior chemotherapy, no targeted agent running or failed"
/// [27,59]. Paper: "according to the National Comprehensive Cancer Network
/// (NCCN) guidelines (59) and a recent review (27), everolimus and sunitinib
/// are suggested as a possible first-line treatment for unresectable
/// well-differentiated pNETs"; they were approved "for the treatment of
/// advanced and progressive well-differentiated pNETs".
///
/// "Unresectable" is the derived fact (resectability `lt-90` / unresectable
/// or unresectable liver metastases; not `unresectable-vascular`);
/// metastases without an assessment do not count. Progression is the latest
/// determined assessment. "No prior chemotherapy": no chemotherapy running or
/// done; a planned course is not prior chemotherapy. A failed targeted agent
/// hands over to `chemo.well-differentiated`, which names it.
pub fn targeted_first_line(p: &Picture) -> Option<Finding> {
    if p.config.profile != Profile::Nccn || !p.well_differentiated() {
        return None;
    }
    let unresectable = p.unresectable()?;
    let progression = p.progression()?;
    if p.received(|c| c == TherapyClass::Chemotherapy).is_some()
        || p.running(TherapyClass::Everolimus).is_some()
        || p.running(TherapyClass::Sunitinib).is_some()
        || p.failed(TherapyClass::is_targeted).is_some()
    {
        return None;
    }
    Some(
        with_grade(Finding::new(&TARGETED_FIRST_LINE), p)
            .fact(unresectable)
            .fact(progression)
            .note("No chemotherapy recorded (running or done). Profile: NCCN."),
    )
}

/// Spec (v2): "profile `enets` (default): well-differentiated, everolimus or
/// sunitinib planned or running with no prior chemotherapy" [12]. Paper:
/// ENETS 2012 — both "should be considered as first-line therapy only in
/// selected cases".
///
/// "No prior chemotherapy": no chemotherapy running or done. A warning, not a
/// contraindication: ENETS allows selected cases. Each targeted drug planned
/// or running is cited. In G3, `targeted.not-in-g3` speaks instead.
pub fn targeted_first_line_selected(p: &Picture) -> Option<Finding> {
    if p.config.profile != Profile::Enets || !p.well_differentiated() {
        return None;
    }
    let everolimus = p.planned_or_running(TherapyClass::Everolimus);
    let sunitinib = p.planned_or_running(TherapyClass::Sunitinib);
    if everolimus.is_none() && sunitinib.is_none() {
        return None;
    }
    if p.received(|c| c == TherapyClass::Chemotherapy).is_some() {
        return None;
    }
    Some(
        Finding::new(&TARGETED_FIRST_LINE_SELECTED)
            .maybe(everolimus.map(|(f, _)| f))
            .maybe(sunitinib.map(|(f, _)| f))
            .note("No chemotherapy recorded (running or done). Profile: ENETS."),
    )
}

/// Spec (new in v2): "G3, everolimus or sunitinib planned or running"
/// [12,15,16,52]. Paper: the FDA approved them "in patients with progressive
/// well- or moderately differentiated, unresectable localized pNETs (15,16)";
/// sunitinib "for the treatment of advanced and progressive
/// well-differentiated pNETs (12)"; "As regards high grade, poorly
/// differentiated tumors (NEC G3) ... chemotherapy is almost exclusively
/// based on platinum regimen (52)".
///
/// A warning, not critical: the paper does not advise against them in G3,
/// it only gives them no evidence there, and a well-differentiated NET G3
/// cannot be told from an NEC (the scope note every G3 alert carries). Both
/// profiles; each agent planned or running is named.
pub fn targeted_not_in_g3(p: &Picture) -> Option<Finding> {
    if p.grade() != Some(Grade::G3) {
        return None;
    }
    let everolimus = p.planned_or_running(TherapyClass::Everolimus);
    let sunitinib = p.planned_or_running(TherapyClass::Sunitinib);
    if everolimus.is_none() && sunitinib.is_none() {
        return None;
    }
    Some(
        with_grade(Finding::new(&TARGETED_NOT_IN_G3), p)
            .maybe(everolimus.map(|(f, _)| f))
            .maybe(sunitinib.map(|(f, _)| f)),
    )
}

/// Spec (v2): "not G3, unresectable or metastatic, SSTR uptake ≥ normal
/// liver (Krenning ≥ 2), no PRRT running or done" [5,64–66]. Paper:
/// radiolabeled SSAs are "a promising treatment option for unresectable or
/// metastatic pNETs", "suitable only for patients with evidence of strong
/// radiotracer uptake on SRS (at least as high as normal liver tissue)".
///
/// The latest Krenning score decides. An unknown grade is allowed
/// (`workup.grading-missing` asks for it); "unresectable" is the v2 derived
/// fact (not `unresectable-vascular`). Once PRRT runs or was given, the
/// advice is followed (`monitoring.prrt` takes over).
pub fn prrt_candidate(p: &Picture) -> Option<Finding> {
    if p.grade() == Some(Grade::G3) || p.received(|c| c == TherapyClass::Prrt).is_some() {
        return None;
    }
    let advanced = p.advanced()?;
    let (krenning, score) = p.krenning()?;
    (score >= PRRT_MIN_KRENNING).then(|| {
        Finding::new(&PRRT_CANDIDATE)
            .fact(advanced)
            .derived(krenning, format!("Krenning score {score}: uptake at least as high as normal liver"))
    })
}

/// Spec: "PRRT planned, and SSTR uptake below liver or unknown" [5]; also on
/// running PRRT. Paper: "A SRS is required prior to treatment, since
/// radiolabeled SSAs are suitable only for patients with evidence of strong
/// radiotracer uptake on SRS (at least as high as normal liver tissue)".
///
/// Uptake is the latest Krenning score; a positive SSTR imaging result
/// without a score does not say how strong the uptake is, so it counts as
/// unknown. A warning (the paper says "suitable only", not "contraindicated").
pub fn prrt_needs_uptake(p: &Picture) -> Option<Finding> {
    let (prrt, _) = p.planned_or_running(TherapyClass::Prrt)?;
    let f = Finding::new(&PRRT_NEEDS_UPTAKE).fact(prrt);
    match p.krenning() {
        Some((_, score)) if score >= PRRT_MIN_KRENNING => None,
        Some((k, score)) => {
            let words = format!("Krenning score {score}: uptake below normal liver");
            let note = format!(
                "Uptake below normal liver (Krenning {score} < {PRRT_MIN_KRENNING}): \
                 PRRT is not suitable."
            );
            Some(f.derived(k, words).note(note))
        }
        None => {
            let imaging = p.sstr_imaging().map(|(s, _)| s);
            Some(f.maybe(imaging).note(
                "Uptake not documented: no Krenning score recorded. Obtain \
                 somatostatin-receptor scintigraphy (or 68Ga-SSA PET) with uptake graded \
                 against normal liver.",
            ))
        }
    }
}

/// Latest hormonal-symptom observation says uncontrolled (or crisis).
fn uncontrolled_symptoms<'a>(p: &Picture<'a>) -> Option<&'a Fact> {
    match p.hormonal_symptoms() {
        Some((f, HormonalSymptoms::Uncontrolled | HormonalSymptoms::Crisis)) => Some(f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Profile;
    use crate::facts::{
        DiseaseStatus, FactKind, Grade, HormonalSymptoms, MetastasisSite, Resectability, SstrImaging, Tense,
        TherapyClass,
    };
    use crate::rules::testkit::*;
    use crate::Severity;

    const NOW: &str = "2024-06-01";

    fn unresectable() -> FactKind {
        FactKind::Resectability(Resectability::Unresectable)
    }

    fn refs(p: &Patient, rule: &str) -> Vec<String> {
        p.alerts(NOW, rule)[0].evidence.iter().map(|e| e.reference.as_str().to_string()).collect()
    }

    /// Liver metastases judged unresectable, grade from `k` (Ki-67 %).
    fn advanced(k: f64) -> Patient {
        Patient::pnet()
            .on("2024-01-05", ki67(k))
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-01-10", unresectable())
    }

    #[test]
    fn rule_ids_in_spec_order() {
        let ids: Vec<&str> = super::RULES.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [
                "chemo.well-differentiated",
                "chemo.nec-platinum",
                "targeted.after-chemo",
                "targeted.first-line",
                "targeted.first-line-selected",
                "targeted.not-in-g3",
                "prrt.candidate",
                "prrt.needs-uptake",
            ]
        );
        for r in super::RULES {
            assert!(r.summary.chars().count() < 140, "{}: summary too long", r.id);
            assert!(r.citation.starts_with("Rossi et al. 2014, ref"), "{}", r.id);
        }
    }

    // --- chemo.well-differentiated ---------------------------------------

    #[test]
    fn chemo_well_differentiated_grade_boundaries() {
        const RULE: &str = "chemo.well-differentiated";
        for (k, fires) in [(2.0, true), (2.5, true), (3.0, true), (20.0, true), (20.1, false)] {
            let p = advanced(k).on("2024-03-01", status(DiseaseStatus::Worsened));
            assert_eq!(p.fires(NOW, RULE), fires, "Ki-67 {k}");
        }
    }

    #[test]
    fn chemo_well_differentiated_needs_an_indication() {
        const RULE: &str = "chemo.well-differentiated";
        // No failure, no progression, no uncontrolled symptoms.
        let p = advanced(5.0).on("2024-03-01", status(DiseaseStatus::Stable));
        assert!(!p.fires(NOW, RULE));
        // Progression on the latest assessment.
        assert!(p.clone().on("2024-04-01", status(DiseaseStatus::Worsened)).fires(NOW, RULE));
        // Uncontrolled symptoms (and crisis); controlled symptoms do not count.
        assert!(p
            .clone()
            .on("2024-04-01", FactKind::HormonalSymptoms(HormonalSymptoms::Uncontrolled))
            .fires(NOW, RULE));
        assert!(p.clone().on("2024-04-01", FactKind::HormonalSymptoms(HormonalSymptoms::Crisis)).fires(NOW, RULE));
        assert!(!p.clone().on("2024-04-01", FactKind::HormonalSymptoms(HormonalSymptoms::Controlled)).fires(NOW, RULE));
        // SSA failure: SSA started before a progression, even if stable since.
        let failed = p
            .clone()
            .on("2024-02-01", therapy(TherapyClass::Ssa, Tense::Running))
            .on("2024-02-20", status(DiseaseStatus::Worsened))
            .on("2024-04-01", status(DiseaseStatus::Stable));
        let a = failed.alerts(NOW, RULE);
        assert_eq!(a.len(), 1);
        assert!(a[0].detail.contains("Failure of prior therapy: somatostatin analogue"), "{}", a[0].detail);
        // An SSA started after the progression has not failed.
        let not_failed = p
            .on("2024-02-20", status(DiseaseStatus::Worsened))
            .on("2024-03-15", therapy(TherapyClass::Ssa, Tense::Running))
            .on("2024-04-01", status(DiseaseStatus::Stable));
        assert!(!not_failed.fires(NOW, RULE));
    }

    #[test]
    fn chemo_well_differentiated_needs_inoperable_disease() {
        const RULE: &str = "chemo.well-differentiated";
        // Metastatic but no unresectability assessment.
        let p = Patient::pnet()
            .on("2024-01-05", ki67(5.0))
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-03-01", status(DiseaseStatus::Worsened));
        assert!(!p.fires(NOW, RULE));
        assert!(p.clone().on("2024-01-12", FactKind::LiverResectable(false)).fires(NOW, RULE));
        assert!(!p.on("2024-01-12", FactKind::Resectability(Resectability::AtLeast90)).fires(NOW, RULE));
    }

    #[test]
    fn chemo_well_differentiated_evidence() {
        let p = advanced(12.0).on("2024-03-01", status(DiseaseStatus::Worsened));
        let a = &p.alerts(NOW, "chemo.well-differentiated")[0];
        let refs: Vec<&str> = a.evidence.iter().map(|e| e.reference.as_str()).collect();
        // Ki-67 (f2), metastasis (f3), resectability (f4), progression (f5).
        assert_eq!(refs, ["Observation/f2", "Condition/f3", "Observation/f4", "Observation/f5"]);
        assert!(a.evidence[0].fact.starts_with("WHO grade G2 from Ki-67 12 %"), "{:?}", a.evidence);
        assert_eq!(a.citation, "Rossi et al. 2014, refs 12, 46, 49–51");
        assert_eq!(a.severity, Severity::Info);
    }

    // --- chemo.nec-platinum ----------------------------------------------

    #[test]
    fn nec_platinum_only_in_g3() {
        const RULE: &str = "chemo.nec-platinum";
        for (k, fires) in [(2.0, false), (2.5, false), (3.0, false), (20.0, false), (20.1, true)] {
            assert_eq!(Patient::pnet().on("2024-01-05", ki67(k)).fires(NOW, RULE), fires, "Ki-67 {k}");
        }
        // > 20 mitoses wins over a low Ki-67 (higher grade).
        assert!(Patient::pnet().on("2024-01-05", ki67(5.0)).on("2024-01-05", mitoses(25.0)).fires(NOW, RULE));
        // A carcinoma diagnosis without measures is G3; no grade at all is not.
        assert!(Patient::pnet().on("2024-01-05", FactKind::NecDiagnosis).fires(NOW, RULE));
        assert!(Patient::pnet().on("2024-01-05", FactKind::ReportedGrade(Grade::G3)).fires(NOW, RULE));
        assert!(!Patient::pnet().fires(NOW, RULE));
        let a = &Patient::pnet().on("2024-01-05", ki67(40.0)).alerts(NOW, RULE)[0];
        assert_eq!(a.evidence[0].reference.as_str(), "Observation/f2");
        assert!(a.evidence[0].fact.contains("WHO grade G3 from Ki-67 40 %"));
    }

    // --- targeted.after-chemo --------------------------------------------

    #[test]
    fn targeted_after_chemo_needs_progression_after_chemo() {
        const RULE: &str = "targeted.after-chemo";
        let base = advanced(8.0);
        let chemo_then_progression = base
            .clone()
            .on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Done))
            .on("2024-04-01", status(DiseaseStatus::Worsened));
        assert!(chemo_then_progression.fires(NOW, RULE));
        let a = &chemo_then_progression.alerts(NOW, RULE)[0];
        let refs: Vec<&str> = a.evidence.iter().map(|e| e.reference.as_str()).collect();
        assert!(refs.contains(&"Procedure/f5") && refs.contains(&"Observation/f6"), "{refs:?}");
        // Running chemotherapy that fails counts too.
        assert!(base
            .clone()
            .on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Running))
            .on("2024-04-01", status(DiseaseStatus::Worsened))
            .fires(NOW, RULE));
        // Progression before chemotherapy started: chemotherapy has not failed.
        assert!(!base
            .clone()
            .on("2024-02-01", status(DiseaseStatus::Worsened))
            .on("2024-03-01", therapy(TherapyClass::Chemotherapy, Tense::Running))
            .fires(NOW, RULE));
        // Planned chemotherapy is not a course.
        assert!(!base
            .clone()
            .on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Planned))
            .on("2024-04-01", status(DiseaseStatus::Worsened))
            .fires(NOW, RULE));
        // Not in G3.
        assert!(!advanced(20.1)
            .on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Done))
            .on("2024-04-01", status(DiseaseStatus::Worsened))
            .fires(NOW, RULE));
        // Not without advanced disease.
        assert!(!Patient::pnet()
            .on("2024-01-05", ki67(8.0))
            .on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Done))
            .on("2024-04-01", status(DiseaseStatus::Worsened))
            .fires(NOW, RULE));
    }

    #[test]
    fn chemo_silent_while_chemotherapy_runs_or_after_it_failed() {
        const RULE: &str = "chemo.well-differentiated";
        let p = progressing(8.0);
        assert!(p.fires(NOW, RULE));
        let chemo = |tense| therapy(TherapyClass::Chemotherapy, tense);
        assert!(!p.clone().on("2024-02-01", chemo(Tense::Running)).fires(NOW, RULE));
        assert!(p.clone().on("2024-02-01", chemo(Tense::Planned)).fires(NOW, RULE));
        // Chemotherapy failed: `targeted.after-chemo` takes over and names the course.
        let failed = p.on("2024-02-01", chemo(Tense::Done)).on("2024-04-01", status(DiseaseStatus::Worsened));
        assert!(!failed.fires(NOW, RULE));
        assert!(refs(&failed, "targeted.after-chemo").contains(&"Procedure/f6".to_string()));
    }

    #[test]
    fn chemo_names_every_failed_class() {
        const RULE: &str = "chemo.well-differentiated";
        let p = advanced(8.0)
            .on("2024-01-20", therapy(TherapyClass::Ssa, Tense::Done))
            .on("2024-02-01", therapy(TherapyClass::Interferon, Tense::Running))
            .on("2024-02-05", therapy(TherapyClass::Everolimus, Tense::Done))
            .on("2024-03-01", status(DiseaseStatus::Worsened))
            .on("2024-04-01", status(DiseaseStatus::Stable));
        let a = &p.alerts(NOW, RULE)[0];
        for class in ["somatostatin analogue", "α-interferon", "everolimus"] {
            assert!(a.detail.contains(&format!("Failure of prior therapy: {class} started")), "{class}: {}", a.detail);
        }
        assert!(!a.detail.contains("sunitinib started"), "{}", a.detail);
        let r = refs(&p, RULE);
        for course in ["Procedure/f5", "Procedure/f6", "Procedure/f7", "Observation/f8"] {
            assert!(r.contains(&course.to_string()), "{course} in {r:?}");
        }
    }

    #[test]
    fn targeted_after_chemo_names_the_remaining_agent() {
        const RULE: &str = "targeted.after-chemo";
        let after_chemo = advanced(8.0)
            .on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Done))
            .on("2024-03-01", status(DiseaseStatus::Worsened));
        let both = &after_chemo.alerts(NOW, RULE)[0];
        assert!(both.summary.ends_with("everolimus or sunitinib"), "{}", both.summary);
        // An agent running: the advice is followed.
        for class in [TherapyClass::Everolimus, TherapyClass::Sunitinib] {
            assert!(!after_chemo.clone().on("2024-04-01", therapy(class, Tense::Running)).fires(NOW, RULE));
        }
        // Everolimus failed too: only sunitinib, and the everolimus course is named.
        let everolimus_failed = after_chemo
            .clone()
            .on("2024-03-15", therapy(TherapyClass::Everolimus, Tense::Done))
            .on("2024-05-01", status(DiseaseStatus::Worsened));
        let a = &everolimus_failed.alerts(NOW, RULE)[0];
        assert_eq!(a.summary, super::AFTER_CHEMO_SUNITINIB_ONLY.summary);
        assert!(a.detail.starts_with(super::AFTER_CHEMO_SUNITINIB_ONLY.detail));
        assert!(!a.detail.contains("10 mg/day"), "everolimus is not offered: {}", a.detail);
        assert!(a.detail.contains("Failure of prior therapy: everolimus started 2024-03-15"), "{}", a.detail);
        assert!(refs(&everolimus_failed, RULE).contains(&"Procedure/f7".to_string()));
        // Sunitinib failed: only everolimus.
        let sunitinib_failed = after_chemo
            .clone()
            .on("2024-03-15", therapy(TherapyClass::Sunitinib, Tense::Done))
            .on("2024-05-01", status(DiseaseStatus::Worsened));
        let a = &sunitinib_failed.alerts(NOW, RULE)[0];
        assert_eq!(a.summary, super::AFTER_CHEMO_EVEROLIMUS_ONLY.summary);
        assert!(!a.detail.contains("37.5 mg/day"), "{}", a.detail);
        // Both failed: not raised again.
        let both_failed = everolimus_failed.on("2024-04-01", therapy(TherapyClass::Sunitinib, Tense::Done));
        assert!(!both_failed.fires(NOW, RULE));
        // The narrowed wordings stay one line under 140 characters.
        for w in [super::AFTER_CHEMO_SUNITINIB_ONLY, super::AFTER_CHEMO_EVEROLIMUS_ONLY] {
            assert!(w.summary.chars().count() < 140, "{}", w.summary);
        }
    }

    #[test]
    fn targeted_after_chemo_grade_boundaries() {
        for (k, fires) in [(2.0, true), (2.5, true), (3.0, true), (20.0, true), (20.1, false)] {
            let p = advanced(k)
                .on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Done))
                .on("2024-04-01", status(DiseaseStatus::Worsened));
            assert_eq!(p.fires(NOW, "targeted.after-chemo"), fires, "Ki-67 {k}");
        }
    }

    // --- targeted.first-line (NCCN) / first-line-selected (ENETS) ----------

    /// `advanced(k)` with progression on 2024-01-20.
    fn progressing(k: f64) -> Patient {
        advanced(k).on("2024-01-20", status(DiseaseStatus::Worsened))
    }

    #[test]
    fn targeted_first_line_only_under_nccn() {
        const RULE: &str = "targeted.first-line";
        let p = progressing(8.0);
        assert!(p.clone().profile(Profile::Nccn).fires(NOW, RULE));
        assert!(!p.clone().profile(Profile::Enets).fires(NOW, RULE));
        assert!(!p.fires(NOW, RULE), "ENETS is the default profile");
    }

    #[test]
    fn targeted_first_line_conditions() {
        const RULE: &str = "targeted.first-line";
        for (k, fires) in [(2.0, true), (2.5, true), (3.0, true), (20.0, true), (20.1, false)] {
            assert_eq!(progressing(k).profile(Profile::Nccn).fires(NOW, RULE), fires, "Ki-67 {k}");
        }
        // v2: progression is required, on the latest determined assessment.
        assert!(!advanced(8.0).profile(Profile::Nccn).fires(NOW, RULE));
        let p = progressing(8.0).profile(Profile::Nccn);
        assert!(!p.clone().on("2024-03-01", status(DiseaseStatus::Stable)).fires(NOW, RULE));
        assert!(p.clone().on("2024-03-01", status(DiseaseStatus::Undetermined)).fires(NOW, RULE));
        assert!(refs(&p, RULE).contains(&"Observation/f5".to_string()), "progression named");
        // Prior chemotherapy, running or done, excludes first line; planned does not.
        assert!(!p.clone().on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Done)).fires(NOW, RULE));
        assert!(!p.clone().on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Running)).fires(NOW, RULE));
        assert!(p.clone().on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Planned)).fires(NOW, RULE));
        // v2: a targeted agent running, or one that failed, ends it.
        for class in [TherapyClass::Everolimus, TherapyClass::Sunitinib] {
            assert!(!p.clone().on("2024-02-01", therapy(class, Tense::Running)).fires(NOW, RULE), "{class:?}");
            let failed = p
                .clone()
                .on("2024-02-01", therapy(class, Tense::Done))
                .on("2024-04-01", status(DiseaseStatus::Worsened));
            assert!(!failed.fires(NOW, RULE), "{class:?} failed");
            // It hands over to chemotherapy, which names the failed course.
            let a = &failed.alerts(NOW, "chemo.well-differentiated")[0];
            assert!(a.detail.contains(&format!("Failure of prior therapy: {}", class.label())), "{}", a.detail);
            assert!(p.clone().on("2024-02-01", therapy(class, Tense::Planned)).fires(NOW, RULE), "{class:?} planned");
        }
        // Metastatic without an unresectability assessment is not "unresectable".
        let no_assessment = Patient::pnet()
            .on("2024-01-05", ki67(8.0))
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-01-20", status(DiseaseStatus::Worsened))
            .profile(Profile::Nccn);
        assert!(!no_assessment.fires(NOW, RULE));
    }

    #[test]
    fn targeted_first_line_selected_only_under_enets() {
        const RULE: &str = "targeted.first-line-selected";
        for class in [TherapyClass::Everolimus, TherapyClass::Sunitinib] {
            for tense in [Tense::Planned, Tense::Running] {
                let p = advanced(8.0).on("2024-02-01", therapy(class, tense));
                assert!(p.fires(NOW, RULE), "{class:?} {tense:?}");
                assert!(p.clone().profile(Profile::Enets).fires(NOW, RULE));
                assert!(!p.clone().profile(Profile::Nccn).fires(NOW, RULE), "{class:?} {tense:?}");
                let a = &p.alerts(NOW, RULE)[0];
                assert_eq!(a.severity, Severity::Warning);
                assert_eq!(a.evidence[0].reference.as_str(), "Procedure/f5");
            }
        }
        // Done targeted therapy is not planned or running.
        assert!(!advanced(8.0).on("2024-02-01", therapy(TherapyClass::Everolimus, Tense::Done)).fires(NOW, RULE));
        // After chemotherapy it is the ENETS standard, not first line.
        let after_chemo = advanced(8.0)
            .on("2024-01-20", therapy(TherapyClass::Chemotherapy, Tense::Done))
            .on("2024-02-01", therapy(TherapyClass::Everolimus, Tense::Planned));
        assert!(!after_chemo.fires(NOW, RULE));
        // Other drugs do not trigger it.
        assert!(!advanced(8.0).on("2024-02-01", therapy(TherapyClass::Ssa, Tense::Planned)).fires(NOW, RULE));
    }

    #[test]
    fn targeted_first_line_selected_needs_well_differentiated() {
        const RULE: &str = "targeted.first-line-selected";
        let plan = therapy(TherapyClass::Everolimus, Tense::Planned);
        assert!(advanced(20.0).on("2024-02-01", plan.clone()).fires(NOW, RULE));
        // G3: `targeted.not-in-g3` speaks instead.
        assert!(!advanced(20.1).on("2024-02-01", plan.clone()).fires(NOW, RULE));
        // Grade unknown: not well-differentiated.
        let ungraded = Patient::pnet().on("2024-01-10", metastasis(MetastasisSite::Liver)).on("2024-02-01", plan);
        assert!(!ungraded.fires(NOW, RULE));
    }

    #[test]
    fn targeted_not_in_g3() {
        const RULE: &str = "targeted.not-in-g3";
        for class in [TherapyClass::Everolimus, TherapyClass::Sunitinib] {
            for tense in [Tense::Planned, Tense::Running] {
                for (k, fires) in [(20.0, false), (20.1, true)] {
                    let p = advanced(k).on("2024-02-01", therapy(class, tense));
                    assert_eq!(p.fires(NOW, RULE), fires, "{class:?} {tense:?} Ki-67 {k}");
                    // Both profiles.
                    assert_eq!(p.clone().profile(Profile::Nccn).fires(NOW, RULE), fires);
                }
            }
            assert!(!advanced(40.0).on("2024-02-01", therapy(class, Tense::Done)).fires(NOW, RULE));
        }
        let p = advanced(40.0)
            .on("2024-02-01", therapy(TherapyClass::Everolimus, Tense::Running))
            .on("2024-02-02", therapy(TherapyClass::Sunitinib, Tense::Planned));
        let a = &p.alerts(NOW, RULE)[0];
        assert_eq!((a.kind, a.severity), (crate::Kind::Safety, Severity::Warning));
        assert_eq!(refs(&p, RULE), ["Observation/f2", "Procedure/f5", "Procedure/f6"]);
        assert!(a.detail.contains("platinum-based"), "{}", a.detail);
        // No agent planned: nothing to warn about; other drugs do not trigger it.
        assert!(!advanced(40.0).fires(NOW, RULE));
        assert!(!advanced(40.0).on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Planned)).fires(NOW, RULE));
        // A carcinoma diagnosis without measures is G3.
        let nec = Patient::pnet()
            .on("2024-01-02", FactKind::NecDiagnosis)
            .on("2024-02-01", therapy(TherapyClass::Sunitinib, Tense::Planned));
        assert!(nec.fires(NOW, RULE));
    }

    // --- PRRT --------------------------------------------------------------

    #[test]
    fn prrt_candidate_krenning_boundary() {
        const RULE: &str = "prrt.candidate";
        let p = advanced(8.0).on("2024-02-01", FactKind::SstrImaging(SstrImaging::Positive));
        assert!(!p.fires(NOW, RULE), "no Krenning score");
        assert!(!p.clone().on("2024-02-01", FactKind::KrenningScore(1)).fires(NOW, RULE));
        assert!(p.clone().on("2024-02-01", FactKind::KrenningScore(2)).fires(NOW, RULE));
        assert!(p.clone().on("2024-02-01", FactKind::KrenningScore(4)).fires(NOW, RULE));
        // The latest score decides.
        assert!(!p
            .clone()
            .on("2024-02-01", FactKind::KrenningScore(3))
            .on("2024-03-01", FactKind::KrenningScore(1))
            .fires(NOW, RULE));
        let a = &p.on("2024-02-01", FactKind::KrenningScore(2)).alerts(NOW, RULE)[0];
        assert_eq!(a.evidence[1].reference.as_str(), "Observation/f6");
        assert!(a.evidence[1].fact.starts_with("Krenning score 2: uptake at least as high as normal liver"));
    }

    #[test]
    fn prrt_candidate_needs_advanced_disease() {
        const RULE: &str = "prrt.candidate";
        let local = Patient::pnet().on("2024-01-05", ki67(8.0)).on("2024-02-01", FactKind::KrenningScore(3));
        assert!(!local.fires(NOW, RULE));
        assert!(local.clone().on("2024-02-02", metastasis(MetastasisSite::Bone)).fires(NOW, RULE));
        assert!(local.clone().on("2024-02-02", FactKind::Resectability(Resectability::Unresectable)).fires(NOW, RULE));
        // v2: unresectable only because of vessels is not unresectable.
        assert!(!local.on("2024-02-02", FactKind::Resectability(Resectability::UnresectableVascular)).fires(NOW, RULE));
    }

    #[test]
    fn prrt_candidate_not_in_g3_nor_once_given() {
        const RULE: &str = "prrt.candidate";
        let p = |k: f64| advanced(k).on("2024-02-01", FactKind::KrenningScore(3));
        for (k, fires) in [(2.0, true), (20.0, true), (20.1, false)] {
            assert_eq!(p(k).fires(NOW, RULE), fires, "Ki-67 {k}");
        }
        // Grade unknown: allowed.
        let ungraded = Patient::pnet()
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-02-01", FactKind::KrenningScore(3));
        assert!(ungraded.fires(NOW, RULE));
        // Running or done PRRT: the advice is followed; planned PRRT is not.
        assert!(!p(8.0).on("2024-03-01", therapy(TherapyClass::Prrt, Tense::Running)).fires(NOW, RULE));
        assert!(!p(8.0).on("2024-03-01", therapy(TherapyClass::Prrt, Tense::Done)).fires(NOW, RULE));
        assert!(p(8.0).on("2024-03-01", therapy(TherapyClass::Prrt, Tense::Planned)).fires(NOW, RULE));
    }

    #[test]
    fn prrt_needs_uptake_planned_and_running() {
        const RULE: &str = "prrt.needs-uptake";
        for tense in [Tense::Planned, Tense::Running] {
            let p = advanced(8.0).on("2024-03-01", therapy(TherapyClass::Prrt, tense));
            // Unknown uptake.
            let a = p.alerts(NOW, RULE);
            assert_eq!(a.len(), 1, "{tense:?}");
            assert!(a[0].detail.contains("Uptake not documented"));
            // Krenning 1: below liver; Krenning 2: enough.
            let low = p.clone().on("2024-02-01", FactKind::KrenningScore(1));
            let a = low.alerts(NOW, RULE);
            assert_eq!(a.len(), 1, "{tense:?}");
            assert!(a[0].detail.contains("Krenning 1 < 2"), "{}", a[0].detail);
            assert_eq!(a[0].evidence[0].reference.as_str(), "Procedure/f5");
            assert_eq!(a[0].evidence[1].reference.as_str(), "Observation/f6");
            assert!(!p.clone().on("2024-02-01", FactKind::KrenningScore(2)).fires(NOW, RULE), "{tense:?}");
        }
        // No PRRT planned or running: nothing to warn about.
        assert!(!advanced(8.0).on("2024-02-01", FactKind::KrenningScore(1)).fires(NOW, RULE));
        assert!(!advanced(8.0).on("2024-03-01", therapy(TherapyClass::Prrt, Tense::Done)).fires(NOW, RULE));
        // Positive imaging without a score is still unknown uptake.
        assert!(advanced(8.0)
            .on("2024-02-01", FactKind::SstrImaging(SstrImaging::Positive))
            .on("2024-03-01", therapy(TherapyClass::Prrt, Tense::Planned))
            .fires(NOW, RULE));
    }
}
