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
//! Recommendations here keep holding while the recommended therapy runs: the
//! spec is silent on suppressing them, and that is a policy for every family
//! at once, not for this one alone.

use super::{with_grade, Finding};
use crate::alert::{Kind, RuleSpec, Severity};
use crate::config::Profile;
use crate::derived::Picture;
use crate::facts::{Fact, FactKind, Grade, HormonalSymptoms, Therapy, TherapyClass};

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
    summary: "Unresectable well-differentiated pNET, no prior chemotherapy: everolimus or sunitinib first line (NCCN)",
    detail: "According to the NCCN guidelines and a recent review of metastatic pNET treatment, \
             everolimus and sunitinib are a possible first-line treatment for unresectable \
             well-differentiated pNETs. (ENETS reserves first-line use for selected cases.)",
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
    &PRRT_CANDIDATE,
    &PRRT_NEEDS_UPTAKE,
];

pub fn evaluate(p: &Picture, out: &mut Vec<Finding>) {
    out.extend(chemo_well_differentiated(p));
    out.extend(chemo_nec_platinum(p));
    out.extend(targeted_after_chemo(p));
    out.extend(targeted_first_line(p));
    out.extend(targeted_first_line_selected(p));
    out.extend(prrt_candidate(p));
    out.extend(prrt_needs_uptake(p));
}

/// Spec: "G1/G2, advanced and unresectable, and one of: failure of
/// SSA/interferon/targeted therapy, progression, uncontrolled hormonal
/// symptoms" [12,46,49–51]. Paper: "recommended for advanced inoperable
/// well-differentiated (G1, G2) pNETs in case of failure of other treatments
/// (i.e., biotherapy or targeted therapy), rapid tumor growth, poorly
/// controlled symptoms, or poor prognosis".
///
/// Resolutions: "inoperable" needs an unresectability assessment (overall
/// resectability `lt-90` / unresectable, or liver metastases judged
/// unresectable); metastases alone do not make a tumour inoperable. "Rapid
/// tumour growth" is read as the latest assessment showing progression.
/// "Uncontrolled" hormonal symptoms include a carcinoid crisis. "Poor
/// prognosis" has no computable definition in the spec and is not used.
/// Every indication that holds is named in its own note.
pub fn chemo_well_differentiated(p: &Picture) -> Option<Finding> {
    if !p.well_differentiated() {
        return None;
    }
    let unresectable = p.unresectable()?;
    let failure = p.failed(|c| matches!(c, TherapyClass::Ssa | TherapyClass::Interferon) || c.is_targeted());
    let progression = p.progression();
    let symptoms = uncontrolled_symptoms(p);
    if failure.is_none() && progression.is_none() && symptoms.is_none() {
        return None;
    }
    let mut f = with_grade(Finding::new(&WELL_DIFFERENTIATED), p).maybe(p.advanced()).fact(unresectable);
    if let Some((therapy, prog)) = failure {
        f = f.fact(therapy).fact(prog).note(format!(
            "Failure of prior therapy: {} started {}, progression on {}.",
            therapy_label(therapy),
            therapy.at.date(),
            prog.at.date()
        ));
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

/// Spec: "well-differentiated, advanced or unresectable, progression after
/// chemotherapy" [12,15,16]. Paper: everolimus and sunitinib are "a novel
/// therapeutic option in patients with advanced unresectable pNETs after
/// failure of chemotherapy".
///
/// "Progression after chemotherapy" is prior therapy failure of the class
/// chemotherapy: a course (running or done) that started before a later
/// progression. It stays true once established, since it describes the line
/// of treatment reached, not the latest scan.
pub fn targeted_after_chemo(p: &Picture) -> Option<Finding> {
    if !p.well_differentiated() {
        return None;
    }
    let advanced = p.advanced()?;
    let (chemo, prog) = p.failed(|c| c == TherapyClass::Chemotherapy)?;
    Some(with_grade(Finding::new(&TARGETED_AFTER_CHEMO), p).fact(advanced).fact(chemo).fact(prog).note(format!(
        "Progression on {} after chemotherapy started {}.",
        prog.at.date(),
        chemo.at.date()
    )))
}

/// Spec: "profile `nccn` only: well-differentiated, unresectable, no prior
/// chemotherapy" [27,59]. Paper: "according to the National Comprehensive
/// Cancer Network (NCCN) guidelines (59) and a recent review (27), everolimus
/// and sunitinib are suggested as a possible first-line treatment for
/// unresectable well-differentiated pNETs".
///
/// "Unresectable" is the derived fact (resectability `lt-90` / unresectable
/// or unresectable liver metastases); metastases without an assessment do not
/// count. "No prior chemotherapy": no chemotherapy running or done; a planned
/// course is not prior chemotherapy.
pub fn targeted_first_line(p: &Picture) -> Option<Finding> {
    if p.config.profile != Profile::Nccn || !p.well_differentiated() {
        return None;
    }
    let unresectable = p.unresectable()?;
    if p.received(|c| c == TherapyClass::Chemotherapy).is_some() {
        return None;
    }
    Some(
        with_grade(Finding::new(&TARGETED_FIRST_LINE), p)
            .fact(unresectable)
            .note("No chemotherapy recorded (running or done). Profile: NCCN."),
    )
}

/// Spec: "profile `enets` (default): everolimus or sunitinib planned or
/// running with no prior chemotherapy" [12]. Paper: ENETS 2012 — both "should
/// be considered as first-line therapy only in selected cases".
///
/// "No prior chemotherapy": no chemotherapy running or done. A warning, not a
/// contraindication: ENETS allows selected cases. Each targeted drug planned
/// or running is cited.
pub fn targeted_first_line_selected(p: &Picture) -> Option<Finding> {
    if p.config.profile != Profile::Enets {
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

/// Spec: "unresectable or metastatic, SSTR uptake ≥ normal liver (Krenning ≥
/// 2)" [5,64–66]. Paper: radiolabeled SSAs are "a promising treatment option
/// for unresectable or metastatic pNETs", "suitable only for patients with
/// evidence of strong radiotracer uptake on SRS (at least as high as normal
/// liver tissue)". The latest Krenning score decides.
pub fn prrt_candidate(p: &Picture) -> Option<Finding> {
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

fn therapy_label(f: &Fact) -> &'static str {
    match &f.kind {
        FactKind::Therapy(Therapy { class, .. }) => class.label(),
        _ => "therapy",
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
    fn targeted_after_chemo_grade_boundaries() {
        for (k, fires) in [(2.0, true), (2.5, true), (3.0, true), (20.0, true), (20.1, false)] {
            let p = advanced(k)
                .on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Done))
                .on("2024-04-01", status(DiseaseStatus::Worsened));
            assert_eq!(p.fires(NOW, "targeted.after-chemo"), fires, "Ki-67 {k}");
        }
    }

    // --- targeted.first-line (NCCN) / first-line-selected (ENETS) ----------

    #[test]
    fn targeted_first_line_only_under_nccn() {
        const RULE: &str = "targeted.first-line";
        let p = advanced(8.0);
        assert!(p.clone().profile(Profile::Nccn).fires(NOW, RULE));
        assert!(!p.clone().profile(Profile::Enets).fires(NOW, RULE));
        assert!(!p.fires(NOW, RULE), "ENETS is the default profile");
    }

    #[test]
    fn targeted_first_line_conditions() {
        const RULE: &str = "targeted.first-line";
        for (k, fires) in [(2.0, true), (2.5, true), (3.0, true), (20.0, true), (20.1, false)] {
            assert_eq!(advanced(k).profile(Profile::Nccn).fires(NOW, RULE), fires, "Ki-67 {k}");
        }
        let p = advanced(8.0).profile(Profile::Nccn);
        // Prior chemotherapy, running or done, excludes first line; planned does not.
        assert!(!p.clone().on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Done)).fires(NOW, RULE));
        assert!(!p.clone().on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Running)).fires(NOW, RULE));
        assert!(p.clone().on("2024-02-01", therapy(TherapyClass::Chemotherapy, Tense::Planned)).fires(NOW, RULE));
        // Metastatic without an unresectability assessment is not "unresectable".
        let no_assessment = Patient::pnet()
            .on("2024-01-05", ki67(8.0))
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
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
        assert!(local.on("2024-02-02", FactKind::Resectability(Resectability::UnresectableVascular)).fires(NOW, RULE));
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
