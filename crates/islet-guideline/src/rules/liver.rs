//! Liver-directed therapy and transplantation (spec "Liver-directed therapy
//! and transplantation").
//!
//! Paper, Table 1 (ENETS, ref 12): "Ablation methods are generally reserved
//! for unresectable metastases measuring less than 5-7 cm in diameter";
//! "Hepatic arterial embolization (TAE) or chemoembolization (TACE) can be
//! applied in the treatment of liver metastases from all types of NET G1/G2";
//! liver transplantation: "Selected cases" (Table 2, Milan criteria, ref 76).
//!
//! **Missing data.** A recommendation here fires only when every measured
//! criterion it names (lesion size and count, liver involvement, ECOG, age,
//! Ki-67, stability) is documented and within bounds; an absence criterion
//! ("no portal vein occlusion", "no extrahepatic metastases") holds when no
//! such finding is recorded. A safety rule fires on a documented violation;
//! for the Milan criteria, which the paper makes mandatory, an undocumented
//! criterion also counts as failed ("not documented").

use super::{with_grade, Finding};
use crate::alert::{Kind, RuleSpec, Severity};
use crate::calendar::whole_months_between;
use crate::derived::Picture;
use crate::facts::{Fact, Grade, HormonalSymptoms, ResectionOutcome, Tense, TherapyClass};

/// Milan-NET criterion I: patients < 55 years old. [76] (lib.rs wakes on that birthday.)
pub const MILAN_MAX_AGE_YEARS: u32 = 55;
/// Milan-NET criterion II: low-grade tumour, Ki-67 "usually < 10 %". [76]
pub const MILAN_MAX_KI67_PERCENT: f64 = 10.0;
/// Milan-NET criterion IV: < 50 % liver involvement. [76]
pub const MILAN_MAX_INVOLVEMENT_PERCENT: f64 = 50.0;
/// Milan-NET criterion V: stable disease for at least 6 months before transplantation. [76]
pub const MILAN_MIN_STABLE_MONTHS: u32 = 6;
/// "Tumors > 5 cm in diameter are not suitable for RFA." [12]
pub const ABLATION_MAX_DIAMETER_MM: f64 = 50.0;
/// TAE/TACE are not applicable with "hepatic involvement of 50-75 % by the tumor". [18]
pub const EMBOLIZATION_MAX_INVOLVEMENT_PERCENT: f64 = 50.0;

pub const ABLATION: RuleSpec = RuleSpec {
    id: "liver.ablation",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Unresectable liver metastases, few and ≤ 5 cm: radiofrequency ablation is an option",
    detail: "Ablation is generally reserved for unresectable liver metastases smaller than 5–7 cm; \
             tumours > 5 cm are not suitable for radiofrequency ablation (RFA) and the number of \
             lesions should be limited. RFA controls symptoms from the metastases and from hormone \
             secretion, with low morbidity (15 %). Near vital structures or vessels, or at the liver \
             surface, consider cryotherapy or percutaneous ethanol injection instead.",
    citation: "Rossi et al. 2014, refs 12, 17, 67, 68",
};

pub const ABLATION_TOO_LARGE: RuleSpec = RuleSpec {
    id: "liver.ablation-too-large",
    kind: Kind::Safety,
    severity: Severity::Warning,
    summary: "Liver ablation planned but the largest liver lesion is > 5 cm: not suitable for RFA",
    detail: "Tumours larger than 5 cm in diameter are not suitable for radiofrequency ablation \
             (ablation may be repeated within the same metastasis, but is generally reserved for \
             lesions smaller than 5–7 cm). Reconsider the liver-directed option.",
    citation: "Rossi et al. 2014, ref 12",
};

pub const EMBOLIZATION: RuleSpec = RuleSpec {
    id: "liver.embolization",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Unresectable liver metastases of a G1/G2 NET: TAE or TACE (TACE favoured) in an experienced centre",
    detail: "Hepatic arterial embolization (TAE) or chemoembolization (TACE) can be applied to liver \
             metastases of any NET G1/G2, as palliation for hepatic-predominant disease that is not \
             surgically resectable, particularly functioning tumours poorly controlled by medical \
             therapy. Symptomatic response 50–100 %, objective response 25–86 %; non-randomized \
             trials favour TACE over TAE. Mortality < 6 %: perform only in experienced centres.",
    citation: "Rossi et al. 2014, refs 12, 18, 68–71",
};

pub const EMBOLIZATION_CONTRAINDICATED: RuleSpec = RuleSpec {
    id: "liver.embolization-contraindicated",
    kind: Kind::Safety,
    severity: Severity::Critical,
    summary: "TAE/TACE planned despite a contraindication: embolization is not applicable",
    detail: "In the presence of hepatic involvement of 50–75 % by the tumour, portal venous \
             occlusion, liver failure, post-surgical biliary reconstruction or poor performance \
             status, TAE and TACE are not applicable; in poorly differentiated (G3) tumours \
             embolization is almost never applicable.",
    citation: "Rossi et al. 2014, ref 18",
};

pub const SIRT: RuleSpec = RuleSpec {
    id: "liver.sirt",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Unresectable liver metastases: 90Y radioembolization (SIRT) is an option; exclude shunting first",
    detail: "Selective internal radiation therapy with 90Y microspheres can be used even with \
             extensive tumour replacement of the liver and/or heavy pre-treatment (mean objective \
             response 55 %, stable disease 32 %), with milder side effects than embolization. \
             Perform a celiac angiogram first: aberrant vessels, excess shunting to the \
             gastrointestinal tract or lung, inadequate liver reserve or a compromised portal vein \
             contraindicate it.",
    citation: "Rossi et al. 2014, refs 5, 74, 75",
};

pub const SIRT_CONTRAINDICATED: RuleSpec = RuleSpec {
    id: "liver.sirt-contraindicated",
    kind: Kind::Safety,
    severity: Severity::Critical,
    summary: "SIRT planned despite portal vein occlusion or inadequate liver reserve: contraindicated",
    detail: "Contraindications to selective internal radiation therapy include inadequate liver \
             reserve and a compromised portal vein. Aberrant vessels with excess shunting to the \
             gastrointestinal tract or the lung, or an arterial tree that cannot be isolated from the \
             gastric and small-bowel branches, contraindicate it too: exclude them on the celiac \
             angiogram.",
    citation: "Rossi et al. 2014, ref 75",
};

pub const OLT_CANDIDATE: RuleSpec = RuleSpec {
    id: "olt.candidate",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Milan-NET criteria met and disease refractory to other therapy: evaluate for liver transplantation",
    detail: "Liver transplantation (OLT) may be an alternative for selected patients after failure of \
             surgical and medical therapies: young patients with life-threatening hormonal \
             disturbances, or with non-functioning pNETs and diffuse liver metastases refractory to \
             all other treatments. Selection by the Milan-NET criteria is mandatory: age < 55, \
             low-grade tumour (Ki-67 < 10 %), pancreatic primary already removed by a curative \
             resection, < 50 % liver involvement, stable disease for at least 6 months, and no \
             extrahepatic disease.",
    citation: "Rossi et al. 2014, refs 12, 76",
};

pub const OLT_NOT_ELIGIBLE: RuleSpec = RuleSpec {
    id: "olt.not-eligible",
    kind: Kind::Safety,
    severity: Severity::Critical,
    summary: "Liver transplantation planned or referred but a Milan-NET criterion is not met",
    detail: "Selection for liver transplantation by the Milan-NET criteria is mandatory (age < 55, \
             low-grade tumour with Ki-67 < 10 %, pancreatic primary removed by a curative resection, \
             < 50 % liver involvement, stable disease for at least 6 months, no extrahepatic \
             metastases). In high-grade carcinomas (G3) OLT cannot be considered a viable option. \
             Each criterion that fails is listed below.",
    citation: "Rossi et al. 2014, ref 76",
};

pub const RULES: &[&RuleSpec] = &[
    &ABLATION,
    &ABLATION_TOO_LARGE,
    &EMBOLIZATION,
    &EMBOLIZATION_CONTRAINDICATED,
    &SIRT,
    &SIRT_CONTRAINDICATED,
    &OLT_CANDIDATE,
    &OLT_NOT_ELIGIBLE,
];

pub fn evaluate(p: &Picture, out: &mut Vec<Finding>) {
    out.extend(liver_ablation(p));
    out.extend(liver_ablation_too_large(p));
    out.extend(liver_embolization(p));
    out.extend(liver_embolization_contraindicated(p));
    out.extend(liver_sirt(p));
    out.extend(liver_sirt_contraindicated(p));
    out.extend(olt_candidate(p));
    out.extend(olt_not_eligible(p));
}

/// Spec (v2): "not G3, liver metastases judged unresectable, largest ≤ 50
/// mm, at most 5 lesions (project default)" [12,17,67,68]. Paper: "Ablation methods are
/// generally reserved for unresectable metastases measuring less than 5-7 cm
/// in diameter (17)"; "tumors >5 cm in diameter are not suitable for RFA ...
/// and the number of tumor lesions should be limited (12)".
///
/// "Judged unresectable" is the latest liver-resectability assessment. The
/// largest lesion is the largest on the latest imaging that measured liver
/// lesions; 50 mm itself is allowed (the spec's ≤). Size and lesion count
/// must both be documented (count ≤ `ablation_max_lesions`, default 5). Not
/// in G3: "in case of poorly differentiated tumors, surgery as well as other
/// liver-directed therapies such as embolization are almost never
/// applicable"; an unknown grade is allowed (`workup.grading-missing`).
pub fn liver_ablation(p: &Picture) -> Option<Finding> {
    if p.grade() == Some(Grade::G3) {
        return None;
    }
    let unresectable = p.liver_unresectable()?;
    let (size, mm) = p.largest_liver_lesion()?;
    if liver_replaced(p, &[Some(unresectable), Some(size)]) {
        return None;
    }
    if mm.get() > ABLATION_MAX_DIAMETER_MM {
        return None;
    }
    let (count, n) = p.liver_lesion_count()?;
    let max = p.config.thresholds.ablation_max_lesions;
    if n > max {
        return None;
    }
    Some(
        Finding::new(&ABLATION)
            .fact(unresectable)
            .derived(size, format!("largest liver lesion {} mm (≤ {ABLATION_MAX_DIAMETER_MM} mm)", mm.get()))
            .derived(count, format!("{n} liver lesion(s) (at most {max})")),
    )
}

/// Spec: "ablation planned, largest liver lesion > 50 mm" [12]; also on
/// running ablation. Paper: "tumors >5 cm in diameter are not suitable for
/// RFA". A warning rather than critical: the paper allows ablation "used
/// repeatedly within the same metastasis" and reserves it for lesions
/// "less than 5-7 cm", so > 5 cm is unsuitable for RFA, not an absolute
/// contraindication to every ablative method.
pub fn liver_ablation_too_large(p: &Picture) -> Option<Finding> {
    let (ablation, _) = p.planned_or_running(TherapyClass::LiverAblation)?;
    let (size, mm) = p.largest_liver_lesion()?;
    (mm.get() > ABLATION_MAX_DIAMETER_MM).then(|| {
        Finding::new(&ABLATION_TOO_LARGE)
            .fact(ablation)
            .derived(size, format!("largest liver lesion {} mm (> {ABLATION_MAX_DIAMETER_MM} mm)", mm.get()))
    })
}

/// Spec (v2): "liver metastases, G1/G2, unresectable, hepatic-predominant (no
/// bone, lung or distant-node metastases), liver involvement < 50 %, no
/// portal vein occlusion, no liver failure, no biliary reconstruction, ECOG ≤
/// 2 (project default for 'poor performance status')" [12,18,68–71]. Paper:
/// TAE or TACE "can be applied in the treatment of liver metastases from all
/// types of NET G1/G2 (12)"; "In the presence of hepatic involvement of 50-75%
/// by the tumor, portal venous occlusion, liver failure, post-surgical biliary
/// reconstruction, or poor performance status TAE and TACE are not applicable
/// (18)"; "should be considered for palliative treatment in patients with
/// hepatic-predominant pNETs that are not surgically resectable".
///
/// "Unresectable" is the derived fact (overall resectability `lt-90` /
/// unresectable, or liver metastases judged unresectable; v2: not
/// `unresectable-vascular`). Hepatic-predominant: no extra-abdominal
/// disease (bone, lung, distant nodes); regional nodes and other sites do
/// not take the predominance from the liver. Involvement and ECOG must be
/// documented (`workup.performance-status-missing` asks for ECOG); 49 %
/// passes, 50 % does not; ECOG up to `embolization_max_ecog` (default 2)
/// passes.
pub fn liver_embolization(p: &Picture) -> Option<Finding> {
    let liver = p.liver_metastases()?;
    if !p.well_differentiated() || p.extra_abdominal_metastasis().is_some() {
        return None;
    }
    let unresectable = p.unresectable()?;
    if liver_replaced(p, &[Some(liver), Some(unresectable)]) {
        return None;
    }
    let (inv, pct) = p.liver_involvement()?;
    if pct.get() >= EMBOLIZATION_MAX_INVOLVEMENT_PERCENT {
        return None;
    }
    if p.portal_vein_occlusion().is_some() || p.liver_failure().is_some() || p.biliary_reconstruction().is_some() {
        return None;
    }
    let (ecog, score) = p.ecog()?;
    let max = p.config.thresholds.embolization_max_ecog;
    if score > max {
        return None;
    }
    Some(
        with_grade(Finding::new(&EMBOLIZATION), p)
            .fact(liver)
            .fact(unresectable)
            .derived(inv, format!("liver involvement {} % (< {EMBOLIZATION_MAX_INVOLVEMENT_PERCENT} %)", pct.get()))
            .derived(ecog, format!("ECOG {score} (≤ {max})"))
            .note("Hepatic-predominant: no bone, lung or distant lymph-node metastases recorded.")
            .note("No portal vein occlusion, liver failure or biliary reconstruction recorded."),
    )
}

/// Spec: "TAE/TACE planned and any of: involvement ≥ 50 %, portal vein
/// occlusion, liver failure, biliary reconstruction, ECOG ≥ 3, G3" [18]; also
/// on running TAE/TACE. Paper: "In the presence of hepatic involvement of
/// 50-75% by the tumor, portal venous occlusion, liver failure, post-surgical
/// biliary reconstruction, or poor performance status TAE and TACE are not
/// applicable (18)"; in poorly differentiated tumours "liver-directed
/// therapies such as embolization are almost never applicable".
///
/// Critical: the paper says "not applicable". Involvement above 75 % is a
/// fortiori excluded. "Poor performance status" is ECOG above
/// `embolization_max_ecog` (default 2, so ECOG ≥ 3). Each reason found is
/// named in its own note with its evidence; undocumented values are not
/// reasons (nothing known contradicts the procedure).
pub fn liver_embolization_contraindicated(p: &Picture) -> Option<Finding> {
    let (procedure, _) =
        p.therapy(|c| matches!(c, TherapyClass::Tae | TherapyClass::Tace), &[Tense::Planned, Tense::Running])?;
    let mut f = Finding::new(&EMBOLIZATION_CONTRAINDICATED).fact(procedure);
    let mut reasons = 0;
    if let Some((inv, pct)) = p.liver_involvement() {
        if pct.get() >= EMBOLIZATION_MAX_INVOLVEMENT_PERCENT {
            reasons += 1;
            f = f
                .derived(inv, format!("liver involvement {} % (≥ {EMBOLIZATION_MAX_INVOLVEMENT_PERCENT} %)", pct.get()))
                .note(format!(
                    "Reason: liver involvement {} % (≥ {EMBOLIZATION_MAX_INVOLVEMENT_PERCENT} %).",
                    pct.get()
                ));
        }
    }
    if let Some(pvo) = p.portal_vein_occlusion() {
        reasons += 1;
        f = f.fact(pvo).note("Reason: portal vein occlusion.");
    }
    if let Some(failure) = p.liver_failure() {
        reasons += 1;
        f = f.fact(failure).note("Reason: liver failure.");
    }
    if let Some(biliary) = p.biliary_reconstruction() {
        reasons += 1;
        f = f.fact(biliary).note("Reason: post-surgical biliary reconstruction.");
    }
    if let Some((ecog, score)) = p.ecog() {
        let max = p.config.thresholds.embolization_max_ecog;
        if score > max {
            reasons += 1;
            f = f
                .derived(ecog, format!("ECOG {score}: poor performance status (> {max})"))
                .note(format!("Reason: poor performance status (ECOG {score} > {max})."));
        }
    }
    if p.grade() == Some(Grade::G3) {
        reasons += 1;
        f = with_grade(f, p).note("Reason: poorly differentiated tumour (WHO grade G3).");
    }
    (reasons > 0).then_some(f)
}

/// Spec (v2): "not G3, unresectable liver metastases, no portal vein
/// occlusion, no liver failure" [5,74,75]. Paper: SIRT "can be used even with extensive tumor
/// replacement of normal liver and/or heavy pre-treatment"; "Contraindications
/// to the use of SIRT include inadequate liver reserve, the presence of
/// aberrant vessels and consequent excess shunting ..., and the presence of a
/// compromised portal vein (75)".
///
/// "Unresectable liver metastases" is the latest liver-resectability
/// assessment. Liver failure stands for "inadequate liver reserve"; shunting
/// is not in the data and stays in the detail as the angiogram to do first.
/// Not in G3, as for ablation; an unknown grade is allowed.
pub fn liver_sirt(p: &Picture) -> Option<Finding> {
    if p.grade() == Some(Grade::G3) {
        return None;
    }
    let unresectable = p.liver_unresectable()?;
    if liver_replaced(p, &[p.liver_metastases(), Some(unresectable)]) {
        return None;
    }
    if p.portal_vein_occlusion().is_some() || p.liver_failure().is_some() {
        return None;
    }
    Some(
        Finding::new(&SIRT)
            .maybe(p.liver_metastases())
            .fact(unresectable)
            .note("No portal vein occlusion or liver failure recorded."),
    )
}

/// Spec (new in v2): "SIRT planned or running with portal vein occlusion or
/// liver failure (inadequate liver reserve)" — "contraindicated; name the
/// reason (also exclude aberrant vessels / shunting on the celiac
/// angiogram)" [75]. Paper: "Contraindications to the use of SIRT include
/// inadequate liver reserve, the presence of aberrant vessels and consequent
/// excess shunting to the gastrointestinal tract or to the lung, the
/// inability to isolate the liver arterial tree from the gastric and small
/// bowel branches, and the presence of a compromised portal vein (75)".
///
/// Critical: the paper says "contraindications". Liver failure stands for
/// inadequate liver reserve, portal vein occlusion for a compromised portal
/// vein. Each reason found is named in its own note; shunting is not in the
/// data and stays in the detail.
pub fn liver_sirt_contraindicated(p: &Picture) -> Option<Finding> {
    let (sirt, _) = p.planned_or_running(TherapyClass::Sirt)?;
    let pvo = p.portal_vein_occlusion();
    let failure = p.liver_failure();
    if pvo.is_none() && failure.is_none() {
        return None;
    }
    let mut f = Finding::new(&SIRT_CONTRAINDICATED).fact(sirt);
    if let Some(pvo) = pvo {
        f = f.fact(pvo).note("Reason: portal vein occlusion (compromised portal vein).");
    }
    if let Some(failure) = failure {
        f = f.fact(failure).note("Reason: liver failure (inadequate liver reserve).");
    }
    Some(f)
}

/// Spec (v2): "not transplanted, and all Milan-NET criteria: age < 55, Ki-67
/// < 10 % and not G3, pancreatic primary removed by curative resection,
/// liver involvement < 50 %, stable ≥ 6 months, no extrahepatic metastases;
/// and refractory hormonal symptoms or non-functioning disease refractory to
/// other therapy" [12,76].
/// Paper (Table 2, ref 76): "(I) Patients <55 years old (II) Histological
/// diagnosis of low-grade neuroendocrine tumor (with low expression of Ki-67,
/// usually <10%) (III) Primary tumor tributary of the portal vein, already
/// removed with a curative resection (IV) <50% of liver involvement (V) Stable
/// disease for at least 6 months during the pre-transplantation period";
/// indications: "Hormonal symptoms refractory to surgical or any other
/// therapy" and "Non-functioning tumors and widespread liver disease"; "OLT
/// should be taken into account in young patients suffering life-threatening
/// hormonal disturbances or with non-functioning pNETs and diffuse liver
/// metastases refractory to all other treatments".
///
/// Resolutions: a completed transplantation makes the advice moot (v2).
/// Liver metastases must be present (transplantation treats them). Every
/// criterion must be documented (see [`milan`]). "Refractory
/// hormonal symptoms": the latest hormonal-symptom observation is uncontrolled
/// (or crisis) and some therapy had been started by then. "Non-functioning
/// refractory to other therapy": no functioning syndrome recorded and a prior
/// failure of an SSA, interferon, chemotherapy, targeted therapy, PRRT or a
/// liver-directed therapy.
pub fn olt_candidate(p: &Picture) -> Option<Finding> {
    if p.transplanted().is_some() {
        return None;
    }
    let liver = p.liver_metastases()?;
    let mut f = Finding::new(&OLT_CANDIDATE).fact(liver);
    // The indication first: it is cheap, and without it the criteria do not matter.
    f = if let Some((symptoms, therapy)) = refractory_symptoms(p) {
        f.fact(symptoms)
            .fact(therapy)
            .note(format!("Indication: hormonal symptoms uncontrolled ({}) despite therapy.", symptoms.at.date()))
    } else if let Some((therapy, progression)) = refractory_non_functioning(p) {
        f.fact(therapy).fact(progression).note(format!(
            "Indication: non-functioning disease refractory to therapy (progression on {}).",
            progression.at.date()
        ))
    } else {
        return None;
    };
    let criteria = milan(p);
    if criteria.iter().any(|c| c.verdict != Verdict::Met) {
        return None;
    }
    let mut met = Vec::new();
    for c in criteria {
        met.push(format!("{} ({})", c.label, c.found));
        for (fact, words) in c.evidence {
            f = f.derived(fact, words);
        }
    }
    Some(f.note(format!("Milan-NET criteria met: {}.", met.join("; "))))
}

/// Spec: "transplantation planned or referred while any Milan-NET criterion
/// fails" — "name each failed criterion" [76]; also while it runs. Paper: "The
/// selection of patients according to 'Milan criteria' in case of NETs is
/// mandatory (12)"; "In case of small-cell carcinoma and high-grade
/// neuroendocrine carcinomas (G3) ... OLT cannot be considered as a viable
/// option (76)".
///
/// One note per failed criterion, with its evidence. A criterion whose data
/// is missing (no birth date, no Ki-67, no curative resection recorded, no
/// involvement, no disease-status assessment) fails as "not documented".
/// Critical when at least one criterion fails on documented data; Warning
/// when every failure is only "not documented" (the data may exist elsewhere).
pub fn olt_not_eligible(p: &Picture) -> Option<Finding> {
    let (olt, _) = p.planned_or_running(TherapyClass::LiverTransplant)?;
    let failed: Vec<Criterion> = milan(p).into_iter().filter(|c| c.verdict != Verdict::Met).collect();
    if failed.is_empty() {
        return None;
    }
    let mut f = Finding::new(&OLT_NOT_ELIGIBLE).fact(olt);
    if failed.iter().all(|c| c.verdict == Verdict::NotDocumented) {
        f.severity = Some(Severity::Warning);
    }
    for c in failed {
        f = f.note(match c.verdict {
            Verdict::NotDocumented => {
                format!(
                    "Milan criterion not documented — {}: {}. Counts as not met until documented.",
                    c.label, c.found
                )
            }
            _ => format!("Milan criterion not met — {}: {}.", c.label, c.found),
        });
        for (fact, words) in c.evidence {
            f = f.derived(fact, words);
        }
    }
    Some(f)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Met,
    Failed,
    NotDocumented,
}

/// One Milan-NET criterion judged on the documented facts.
struct Criterion<'a> {
    label: &'static str,
    verdict: Verdict,
    /// What was found, in words.
    found: String,
    /// The facts it rests on, with words for the evidence list.
    evidence: Vec<(&'a Fact, String)>,
}

impl<'a> Criterion<'a> {
    fn new(label: &'static str, verdict: Verdict, found: impl Into<String>) -> Self {
        Criterion { label, verdict, found: found.into(), evidence: Vec::new() }
    }
    fn with(mut self, fact: &'a Fact, words: impl Into<String>) -> Self {
        self.evidence.push((fact, words.into()));
        self
    }
}

/// v2: "after a curative resection or a transplant the advice it made moot
/// stops". A transplant replaces the liver the metastases were in, so the
/// liver-directed recommendations (ablation, embolization, SIRT) stop —
/// unless the liver disease they rest on (`evidence`) was recorded after the
/// transplant: a recurrence in the new liver makes them a question again.
/// The spec rows are silent on this; it is the reading of the v2 summary.
fn liver_replaced(p: &Picture, evidence: &[Option<&Fact>]) -> bool {
    let Some(transplant) = p.transplanted() else { return false };
    evidence.iter().flatten().all(|f| f.at <= transplant.at)
}

/// The six Milan-NET criteria of the spec, in order (paper Table 2, I–V, plus
/// "free of extra-hepatic tumors"). Undocumented data fails as
/// [`Verdict::NotDocumented`].
///
/// - Age: whole years at "now" (< 55; 54 passes, 55 fails).
/// - Ki-67 < 10 % and not G3: G3 by any measure (or a carcinoma diagnosis)
///   fails; otherwise the latest Ki-67 must be documented and < 10 %.
/// - Curative resection: a completed primary resection with outcome
///   curative. A debulking resection fails; a resection without a recorded
///   outcome, or none, is not documented.
/// - Liver involvement: the latest value, < 50 %.
/// - Stable ≥ 6 months (v2): the current run of non-progressing assessments,
///   from its first assessment to now (`Picture::stable_for`; an
///   `undetermined` result neither breaks nor extends it). Progression on
///   the latest determined assessment or a shorter run fails; no assessment
///   is not documented.
/// - No extrahepatic metastases: none recorded at any site but the liver
///   (regional nodes and unknown sites included).
fn milan<'a>(p: &Picture<'a>) -> Vec<Criterion<'a>> {
    use Verdict::*;
    let mut out = Vec::new();

    const AGE: &str = "I. age < 55 years";
    out.push(match p.age() {
        Some((f, age)) => {
            let words = format!("age {age} years");
            let verdict = if age < MILAN_MAX_AGE_YEARS as i32 { Met } else { Failed };
            Criterion::new(AGE, verdict, words.clone()).with(f, format!("Milan: {words}"))
        }
        None => Criterion::new(AGE, NotDocumented, "no birth date recorded"),
    });

    const GRADE: &str = "II. low-grade tumour (Ki-67 < 10 %, not G3)";
    out.push(match &p.grade {
        Some(g) if g.grade == Grade::G3 => {
            let mut c = Criterion::new(GRADE, Failed, "high-grade carcinoma, WHO grade G3");
            for f in &g.evidence {
                c = c.with(f, format!("Milan: WHO grade G3 from {}", crate::words::fact_in_words(&f.kind)));
            }
            c
        }
        Some(g) => match g.ki67 {
            Some((f, k)) => {
                let words = format!("Ki-67 {} %", k.get());
                let verdict = if k.get() < MILAN_MAX_KI67_PERCENT { Met } else { Failed };
                Criterion::new(GRADE, verdict, words.clone()).with(f, format!("Milan: {words}"))
            }
            None => Criterion::new(GRADE, NotDocumented, format!("WHO grade {} but no Ki-67 recorded", g.grade)),
        },
        None => Criterion::new(GRADE, NotDocumented, "no Ki-67 recorded"),
    });

    const RESECTION: &str = "III. pancreatic primary removed by a curative resection";
    let last_resection = p.therapy(|c| c == TherapyClass::PrimaryResection, &[Tense::Done]);
    out.push(match (p.curative_resection(), last_resection) {
        (Some(f), _) => {
            Criterion::new(RESECTION, Met, "curative resection").with(f, "Milan: curative resection of the primary")
        }
        (None, Some((f, t))) if t.outcome == Some(ResectionOutcome::Debulking) => {
            Criterion::new(RESECTION, Failed, "the primary was debulked, not curatively resected")
                .with(f, "Milan: debulking resection of the primary, not curative")
        }
        (None, Some((f, _))) => {
            Criterion::new(RESECTION, NotDocumented, "resection recorded without its outcome (curative or not)")
                .with(f, "Milan: resection of the primary, outcome not recorded")
        }
        (None, None) => Criterion::new(RESECTION, NotDocumented, "no resection of the primary recorded"),
    });

    const INVOLVEMENT: &str = "IV. liver involvement < 50 %";
    out.push(match p.liver_involvement() {
        Some((f, pct)) => {
            let words = format!("liver involvement {} %", pct.get());
            let verdict = if pct.get() < MILAN_MAX_INVOLVEMENT_PERCENT { Met } else { Failed };
            Criterion::new(INVOLVEMENT, verdict, words.clone()).with(f, format!("Milan: {words}"))
        }
        None => Criterion::new(INVOLVEMENT, NotDocumented, "no liver involvement recorded"),
    });

    const STABLE: &str = "V. stable disease for at least 6 months";
    out.push(if let Some((first, last)) = p.stable_for(MILAN_MIN_STABLE_MONTHS) {
        let words = format!("stable since {} (latest assessment {})", first.at.date(), last.at.date());
        Criterion::new(STABLE, Met, words.clone())
            .with(first, format!("Milan: {words}"))
            .with(last, format!("Milan: {words}"))
    } else if let Some(prog) = p.progression() {
        Criterion::new(STABLE, Failed, format!("progression on {}", prog.at.date())).with(prog, "Milan: progression")
    } else if let Some((first, last)) = p.stable_run() {
        let words = format!(
            "stable only since {} ({} full months by {})",
            first.at.date(),
            whole_months_between(first.at.date(), p.now.date()),
            p.now.date()
        );
        Criterion::new(STABLE, Failed, words.clone())
            .with(first, format!("Milan: {words}"))
            .with(last, format!("Milan: {words}"))
    } else {
        Criterion::new(STABLE, NotDocumented, "no disease-status assessment recorded")
    });

    const EXTRAHEPATIC: &str = "no extrahepatic metastases";
    out.push(match p.extrahepatic_metastasis() {
        Some(f) => Criterion::new(EXTRAHEPATIC, Failed, crate::words::fact_in_words(&f.kind))
            .with(f, format!("Milan: extrahepatic disease: {}", crate::words::fact_in_words(&f.kind))),
        None => Criterion::new(EXTRAHEPATIC, Met, "none recorded"),
    });
    out
}

/// Hormonal symptoms refractory to therapy: the latest hormonal-symptom
/// observation is uncontrolled (or crisis), and a therapy (any class but
/// transplantation, running or done) had started by then. Returns
/// (symptoms, that therapy).
fn refractory_symptoms<'a>(p: &Picture<'a>) -> Option<(&'a Fact, &'a Fact)> {
    let (symptoms, s) = p.hormonal_symptoms()?;
    if !matches!(s, HormonalSymptoms::Uncontrolled | HormonalSymptoms::Crisis) {
        return None;
    }
    let therapy = p
        .therapies()
        .filter(|(f, t)| {
            t.class != TherapyClass::LiverTransplant
                && matches!(t.tense, Tense::Running | Tense::Done)
                && f.at <= symptoms.at
        })
        .last()?;
    Some((symptoms, therapy.0))
}

/// Non-functioning disease refractory to other therapy: no functioning
/// syndrome recorded, and a prior failure of a systemic or liver-directed
/// therapy. Returns (therapy, progression).
fn refractory_non_functioning<'a>(p: &Picture<'a>) -> Option<(&'a Fact, &'a Fact)> {
    if !p.non_functioning() {
        return None;
    }
    p.failed(|c| {
        matches!(c, TherapyClass::Ssa | TherapyClass::Interferon | TherapyClass::Chemotherapy | TherapyClass::Prrt)
            || c.is_targeted()
            || c.is_liver_directed()
    })
}

#[cfg(test)]
mod tests {
    use crate::facts::{
        DiseaseStatus, FactKind, HormonalSymptoms, MetastasisSite, Resectability, ResectionOutcome, Syndrome, Tense,
        TherapyClass,
    };
    use crate::rules::testkit::*;
    use crate::Severity;

    const NOW: &str = "2024-06-01";

    /// Liver metastases (30 % involvement, 3 lesions, largest 40 mm) judged
    /// unresectable, ECOG 1, grade from `k` (Ki-67 %).
    fn liver(k: f64) -> Patient {
        Patient::pnet()
            .on("2024-01-05", ki67(k))
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-01-10", involvement(30.0))
            .on("2024-01-10", FactKind::LiverLesionCount(3))
            .on("2024-01-10", liver_lesion_mm(40.0))
            .on("2024-01-12", FactKind::LiverResectable(false))
            .on("2024-01-15", FactKind::Ecog(1))
    }

    fn refs(p: &Patient, rule: &str) -> Vec<String> {
        p.alerts(NOW, rule)[0].evidence.iter().map(|e| e.reference.as_str().to_string()).collect()
    }

    #[test]
    fn rule_ids_in_spec_order() {
        let ids: Vec<&str> = super::RULES.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [
                "liver.ablation",
                "liver.ablation-too-large",
                "liver.embolization",
                "liver.embolization-contraindicated",
                "liver.sirt",
                "liver.sirt-contraindicated",
                "olt.candidate",
                "olt.not-eligible",
            ]
        );
        for r in super::RULES {
            assert!(r.summary.chars().count() < 140, "{}: summary too long", r.id);
            assert!(r.citation.starts_with("Rossi et al. 2014, ref"), "{}", r.id);
        }
    }

    // --- after a transplant ------------------------------------------------

    /// A transplant replaces the diseased liver: ablation, embolization and
    /// SIRT stop; liver disease recorded after it brings them back.
    #[test]
    fn liver_directed_advice_stops_after_a_transplant_until_a_recurrence() {
        let rules = ["liver.ablation", "liver.embolization", "liver.sirt"];
        for rule in rules {
            assert!(liver(8.0).fires(NOW, rule), "{rule} before");
        }
        let transplanted = liver(8.0).on("2024-03-01", therapy(TherapyClass::LiverTransplant, Tense::Done));
        for rule in rules {
            assert!(!transplanted.fires(NOW, rule), "{rule} after the transplant");
        }
        let recurrence = transplanted
            .on("2024-05-01", metastasis(MetastasisSite::Liver))
            .on("2024-05-01", liver_lesion_mm(30.0))
            .on("2024-05-02", FactKind::LiverResectable(false));
        for rule in rules {
            assert!(recurrence.fires(NOW, rule), "{rule} after a recurrence");
        }
        // A planned transplant changes nothing yet.
        let planned = liver(8.0).on("2024-03-01", therapy(TherapyClass::LiverTransplant, Tense::Planned));
        assert!(rules.iter().all(|r| planned.fires(NOW, r)));
    }

    // --- liver.ablation ----------------------------------------------------

    #[test]
    fn ablation_size_boundary() {
        const RULE: &str = "liver.ablation";
        assert!(liver(8.0).fires(NOW, RULE));
        assert!(liver(8.0).on("2024-02-01", liver_lesion_mm(50.0)).fires(NOW, RULE));
        assert!(!liver(8.0).on("2024-02-01", liver_lesion_mm(51.0)).fires(NOW, RULE));
        // The largest lesion on the latest imaging counts.
        let two = liver(8.0).on("2024-02-01", liver_lesion_mm(20.0)).on("2024-02-01", liver_lesion_mm(51.0));
        assert!(!two.fires(NOW, RULE));
        let shrunk = liver(8.0).on("2024-02-01", liver_lesion_mm(70.0)).on("2024-04-01", liver_lesion_mm(45.0));
        assert!(shrunk.fires(NOW, RULE));
    }

    #[test]
    fn ablation_lesion_count_boundary() {
        const RULE: &str = "liver.ablation";
        assert!(liver(8.0).on("2024-02-01", FactKind::LiverLesionCount(5)).fires(NOW, RULE));
        assert!(!liver(8.0).on("2024-02-01", FactKind::LiverLesionCount(6)).fires(NOW, RULE));
        // The threshold is configurable.
        let mut strict = liver(8.0).on("2024-02-01", FactKind::LiverLesionCount(5));
        strict.config.thresholds.ablation_max_lesions = 4;
        assert!(!strict.fires(NOW, RULE));
    }

    #[test]
    fn ablation_needs_unresectable_liver_and_documented_lesions() {
        const RULE: &str = "liver.ablation";
        assert!(!liver(8.0).on("2024-02-01", FactKind::LiverResectable(true)).fires(NOW, RULE));
        let no_count =
            Patient::pnet().on("2024-01-10", liver_lesion_mm(30.0)).on("2024-01-12", FactKind::LiverResectable(false));
        assert!(!no_count.fires(NOW, RULE));
        assert!(no_count.clone().on("2024-01-10", FactKind::LiverLesionCount(2)).fires(NOW, RULE));
        let no_size = Patient::pnet()
            .on("2024-01-10", FactKind::LiverLesionCount(2))
            .on("2024-01-12", FactKind::LiverResectable(false));
        assert!(!no_size.fires(NOW, RULE));
        // Evidence: assessment, lesion size, lesion count.
        assert_eq!(refs(&liver(8.0), RULE), ["Observation/f7", "Observation/f6", "Observation/f5"]);
    }

    #[test]
    fn ablation_and_sirt_not_in_g3() {
        for rule in ["liver.ablation", "liver.sirt"] {
            for (k, fires) in [(2.0, true), (20.0, true), (20.1, false)] {
                assert_eq!(liver(k).fires(NOW, rule), fires, "{rule} Ki-67 {k}");
            }
            // Grade unknown: allowed.
            let ungraded = without(liver(8.0), |f| matches!(f.kind, FactKind::Ki67(_)));
            assert!(ungraded.fires(NOW, rule), "{rule}");
            // G3 from a carcinoma diagnosis.
            assert!(!ungraded.on("2024-01-02", FactKind::NecDiagnosis).fires(NOW, rule), "{rule}");
        }
    }

    #[test]
    fn ablation_too_large_planned_and_running() {
        const RULE: &str = "liver.ablation-too-large";
        for tense in [Tense::Planned, Tense::Running] {
            let p = liver(8.0).on("2024-03-01", therapy(TherapyClass::LiverAblation, tense));
            assert!(!p.fires(NOW, RULE), "40 mm, {tense:?}");
            assert!(!p.clone().on("2024-02-01", liver_lesion_mm(50.0)).fires(NOW, RULE), "{tense:?}");
            let large = p.on("2024-02-01", liver_lesion_mm(51.0));
            let a = large.alerts(NOW, RULE);
            assert_eq!(a.len(), 1, "{tense:?}");
            assert_eq!(a[0].severity, Severity::Warning);
            assert_eq!(a[0].evidence[0].reference.as_str(), "Procedure/f9");
            assert!(a[0].evidence[1].fact.starts_with("largest liver lesion 51 mm (> 50 mm)"));
        }
        // Done ablation, or no ablation: nothing to warn about.
        assert!(!liver(8.0)
            .on("2024-02-01", liver_lesion_mm(60.0))
            .on("2024-03-01", therapy(TherapyClass::LiverAblation, Tense::Done))
            .fires(NOW, RULE));
        assert!(!liver(8.0).on("2024-02-01", liver_lesion_mm(60.0)).fires(NOW, RULE));
    }

    // --- liver.embolization ------------------------------------------------

    #[test]
    fn embolization_grade_boundaries() {
        for (k, fires) in [(2.0, true), (2.5, true), (3.0, true), (20.0, true), (20.1, false)] {
            assert_eq!(liver(k).fires(NOW, "liver.embolization"), fires, "Ki-67 {k}");
        }
    }

    #[test]
    fn embolization_involvement_and_ecog_boundaries() {
        const RULE: &str = "liver.embolization";
        assert!(liver(8.0).on("2024-02-01", involvement(49.0)).fires(NOW, RULE));
        assert!(!liver(8.0).on("2024-02-01", involvement(50.0)).fires(NOW, RULE));
        assert!(liver(8.0).on("2024-02-01", FactKind::Ecog(2)).fires(NOW, RULE));
        assert!(!liver(8.0).on("2024-02-01", FactKind::Ecog(3)).fires(NOW, RULE));
        let mut strict = liver(8.0).on("2024-02-01", FactKind::Ecog(2));
        strict.config.thresholds.embolization_max_ecog = 1;
        assert!(!strict.fires(NOW, RULE));
    }

    #[test]
    fn embolization_exclusions() {
        const RULE: &str = "liver.embolization";
        assert!(!liver(8.0).on("2024-02-01", FactKind::PortalVeinOcclusion).fires(NOW, RULE));
        assert!(!liver(8.0).on("2024-02-01", FactKind::LiverFailure).fires(NOW, RULE));
        assert!(!liver(8.0).on("2024-02-01", FactKind::BiliaryReconstruction).fires(NOW, RULE));
        // Resectable disease, or no liver metastases.
        assert!(!liver(8.0).on("2024-02-01", FactKind::LiverResectable(true)).fires(NOW, RULE));
        let no_liver = Patient::pnet()
            .on("2024-01-05", ki67(8.0))
            .on("2024-01-10", FactKind::Resectability(Resectability::Unresectable))
            .on("2024-01-15", FactKind::Ecog(1));
        assert!(!no_liver.fires(NOW, RULE));
        // Involvement and ECOG must be documented.
        let undocumented = Patient::pnet()
            .on("2024-01-05", ki67(8.0))
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-01-12", FactKind::LiverResectable(false));
        assert!(!undocumented.fires(NOW, RULE));
        assert!(!undocumented.clone().on("2024-01-15", FactKind::Ecog(1)).fires(NOW, RULE));
        assert!(undocumented.on("2024-01-15", FactKind::Ecog(1)).on("2024-01-15", involvement(20.0)).fires(NOW, RULE));
    }

    #[test]
    fn embolization_needs_hepatic_predominant_disease() {
        const RULE: &str = "liver.embolization";
        for site in [MetastasisSite::Bone, MetastasisSite::Lung, MetastasisSite::DistantNodes] {
            assert!(!liver(8.0).on("2024-02-01", metastasis(site)).fires(NOW, RULE), "{site:?}");
        }
        for site in [MetastasisSite::RegionalNodes, MetastasisSite::Other] {
            assert!(liver(8.0).on("2024-02-01", metastasis(site)).fires(NOW, RULE), "{site:?}");
        }
        assert!(liver(8.0).alerts(NOW, RULE)[0].detail.contains("Hepatic-predominant"));
        // Involvement boundary with nodal disease beside the liver.
        let nodes = liver(8.0).on("2024-02-01", metastasis(MetastasisSite::RegionalNodes));
        assert!(nodes.clone().on("2024-02-02", involvement(49.0)).fires(NOW, RULE));
        assert!(!nodes.on("2024-02-02", involvement(50.0)).fires(NOW, RULE));
        // v2: unresectable only because of vessels is not unresectable.
        let vascular = Patient::pnet()
            .on("2024-01-05", ki67(8.0))
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-01-10", involvement(30.0))
            .on("2024-01-11", FactKind::Resectability(Resectability::UnresectableVascular))
            .on("2024-01-15", FactKind::Ecog(1));
        assert!(!vascular.fires(NOW, RULE));
        assert!(vascular.on("2024-01-12", FactKind::LiverResectable(false)).fires(NOW, RULE));
    }

    #[test]
    fn embolization_evidence() {
        let r = refs(&liver(8.0), "liver.embolization");
        // Ki-67, liver metastasis, unresectable assessment, involvement, ECOG.
        assert_eq!(r, ["Observation/f2", "Condition/f3", "Observation/f7", "Observation/f4", "Observation/f8"]);
    }

    // --- liver.embolization-contraindicated --------------------------------

    #[test]
    fn embolization_contraindicated_boundaries() {
        const RULE: &str = "liver.embolization-contraindicated";
        for class in [TherapyClass::Tae, TherapyClass::Tace] {
            for tense in [Tense::Planned, Tense::Running] {
                let p = liver(8.0).on("2024-03-01", therapy(class, tense));
                assert!(!p.fires(NOW, RULE), "no contraindication, {class:?} {tense:?}");
                assert!(!p.clone().on("2024-02-01", involvement(49.0)).fires(NOW, RULE));
                assert!(p.clone().on("2024-02-01", involvement(50.0)).fires(NOW, RULE), "{class:?} {tense:?}");
                assert!(!p.clone().on("2024-02-01", FactKind::Ecog(2)).fires(NOW, RULE));
                assert!(p.clone().on("2024-02-01", FactKind::Ecog(3)).fires(NOW, RULE), "{class:?} {tense:?}");
                assert!(p.clone().on("2024-02-01", FactKind::PortalVeinOcclusion).fires(NOW, RULE));
                assert!(p.clone().on("2024-02-01", FactKind::LiverFailure).fires(NOW, RULE));
                assert!(p.clone().on("2024-02-01", FactKind::BiliaryReconstruction).fires(NOW, RULE));
            }
        }
        // Done embolization, or none: nothing to warn about.
        assert!(!liver(8.0).on("2024-02-01", involvement(80.0)).fires(NOW, RULE));
        assert!(!liver(8.0)
            .on("2024-02-01", involvement(80.0))
            .on("2024-03-01", therapy(TherapyClass::Tace, Tense::Done))
            .fires(NOW, RULE));
    }

    #[test]
    fn embolization_contraindicated_grade_boundaries() {
        for (k, fires) in [(2.0, false), (2.5, false), (3.0, false), (20.0, false), (20.1, true)] {
            let p = liver(k).on("2024-03-01", therapy(TherapyClass::Tace, Tense::Planned));
            assert_eq!(p.fires(NOW, "liver.embolization-contraindicated"), fires, "Ki-67 {k}");
        }
    }

    #[test]
    fn embolization_contraindicated_names_each_reason() {
        let p = liver(30.0)
            .on("2024-02-01", involvement(60.0))
            .on("2024-02-01", FactKind::PortalVeinOcclusion)
            .on("2024-02-01", FactKind::LiverFailure)
            .on("2024-02-01", FactKind::BiliaryReconstruction)
            .on("2024-02-01", FactKind::Ecog(3))
            .on("2024-03-01", therapy(TherapyClass::Tace, Tense::Planned));
        let a = &p.alerts(NOW, "liver.embolization-contraindicated")[0];
        assert_eq!(a.severity, Severity::Critical);
        for reason in [
            "Reason: liver involvement 60 %",
            "Reason: portal vein occlusion",
            "Reason: liver failure",
            "Reason: post-surgical biliary reconstruction",
            "Reason: poor performance status (ECOG 3 > 2)",
            "Reason: poorly differentiated tumour (WHO grade G3)",
        ] {
            assert!(a.detail.contains(reason), "{reason} missing in {}", a.detail);
        }
        let r: Vec<&str> = a.evidence.iter().map(|e| e.reference.as_str()).collect();
        // TACE, involvement, PVO, liver failure, biliary, ECOG, Ki-67.
        assert_eq!(
            r,
            [
                "Procedure/f14",
                "Observation/f9",
                "Condition/f10",
                "Condition/f11",
                "Observation/f12",
                "Observation/f13",
                "Observation/f2"
            ]
        );
        // Only one reason: only that one is named.
        let one =
            liver(8.0).on("2024-02-01", FactKind::Ecog(4)).on("2024-03-01", therapy(TherapyClass::Tae, Tense::Planned));
        let a = &one.alerts(NOW, "liver.embolization-contraindicated")[0];
        assert_eq!(a.detail.matches("Reason:").count(), 1, "{}", a.detail);
    }

    // --- liver.sirt ----------------------------------------------------------

    #[test]
    fn sirt() {
        const RULE: &str = "liver.sirt";
        assert!(liver(8.0).fires(NOW, RULE));
        // Usable even with extensive liver replacement.
        assert!(liver(8.0).on("2024-02-01", involvement(80.0)).fires(NOW, RULE));
        assert!(!liver(8.0).on("2024-02-01", FactKind::PortalVeinOcclusion).fires(NOW, RULE));
        assert!(!liver(8.0).on("2024-02-01", FactKind::LiverFailure).fires(NOW, RULE));
        assert!(!liver(8.0).on("2024-02-01", FactKind::LiverResectable(true)).fires(NOW, RULE));
        // Overall unresectability without a liver assessment is not "unresectable liver metastases".
        let overall = Patient::pnet()
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-01-12", FactKind::Resectability(Resectability::Unresectable));
        assert!(!overall.fires(NOW, RULE));
        assert_eq!(refs(&liver(8.0), RULE), ["Condition/f3", "Observation/f7"]);
    }

    #[test]
    fn sirt_contraindicated_names_each_reason() {
        const RULE: &str = "liver.sirt-contraindicated";
        for tense in [Tense::Planned, Tense::Running] {
            let p = liver(8.0).on("2024-03-01", therapy(TherapyClass::Sirt, tense));
            assert!(!p.fires(NOW, RULE), "no contraindication, {tense:?}");
            // Extensive replacement and poor performance do not contraindicate SIRT.
            assert!(!p
                .clone()
                .on("2024-02-01", involvement(80.0))
                .on("2024-02-01", FactKind::Ecog(3))
                .fires(NOW, RULE));
            let pvo = p.clone().on("2024-02-01", FactKind::PortalVeinOcclusion);
            let a = &pvo.alerts(NOW, RULE)[0];
            assert_eq!((a.kind, a.severity), (crate::Kind::Safety, Severity::Critical));
            assert_eq!(a.detail.matches("Reason:").count(), 1, "{}", a.detail);
            assert!(a.detail.contains("Reason: portal vein occlusion"), "{}", a.detail);
            assert!(a.detail.contains("celiac angiogram"), "{}", a.detail);
            let both = pvo.on("2024-02-02", FactKind::LiverFailure);
            let a = &both.alerts(NOW, RULE)[0];
            assert!(a.detail.contains("Reason: liver failure (inadequate liver reserve)"), "{}", a.detail);
            assert_eq!(refs(&both, RULE), ["Procedure/f9", "Condition/f10", "Condition/f11"]);
            // The recommendation is silent then.
            assert!(!both.fires(NOW, "liver.sirt"));
        }
        // Done SIRT, or none: nothing to warn about; TACE is another rule.
        let failing = liver(8.0).on("2024-02-01", FactKind::LiverFailure);
        assert!(!failing.clone().fires(NOW, RULE));
        assert!(!failing.clone().on("2024-03-01", therapy(TherapyClass::Sirt, Tense::Done)).fires(NOW, RULE));
        assert!(!failing.on("2024-03-01", therapy(TherapyClass::Tace, Tense::Planned)).fires(NOW, RULE));
    }

    // --- Milan-NET: olt.candidate / olt.not-eligible ---------------------------

    /// Meets every Milan-NET criterion at NOW: pNET since 2023-01-01, born 1975-03-01 (49), Ki-67 5 %,
    /// curative resection, 30 % liver involvement, no extrahepatic disease,
    /// stable 2023-07-01 → 2024-01-01 (6 months) after progressing on an SSA;
    /// no functioning syndrome.
    fn milan() -> Patient {
        Patient::empty()
            .on("2023-01-01", FactKind::PnetDiagnosis)
            .on("1975-03-01", FactKind::BirthDate(date("1975-03-01")))
            .on("2023-01-05", ki67(5.0))
            .on("2023-02-01", resection(ResectionOutcome::Curative))
            .on("2023-03-01", metastasis(MetastasisSite::Liver))
            .on("2023-03-01", involvement(30.0))
            .on("2023-04-01", therapy(TherapyClass::Ssa, Tense::Done))
            .on("2023-06-01", status(DiseaseStatus::Worsened))
            .on("2023-07-01", status(DiseaseStatus::Stable))
            .on("2024-01-01", status(DiseaseStatus::Stable))
    }

    /// `p` without the facts `drop` matches (config kept).
    fn without(p: Patient, drop: impl Fn(&crate::facts::Fact) -> bool) -> Patient {
        Patient { facts: p.facts.into_iter().filter(|f| !drop(f)).collect(), config: p.config }
    }

    fn born(d: &str) -> Patient {
        without(milan(), |f| matches!(f.kind, FactKind::BirthDate(_))).on(d, FactKind::BirthDate(date(d)))
    }

    fn planned_olt(p: Patient) -> Patient {
        p.on("2024-05-01", therapy(TherapyClass::LiverTransplant, Tense::Planned))
    }

    const CANDIDATE: &str = "olt.candidate";
    const NOT_ELIGIBLE: &str = "olt.not-eligible";

    #[test]
    fn milan_candidate_all_criteria() {
        let p = milan();
        let a = p.alerts(NOW, CANDIDATE);
        assert_eq!(a.len(), 1);
        assert!(a[0].detail.contains("Milan-NET criteria met"), "{}", a[0].detail);
        assert!(a[0].detail.contains("non-functioning disease refractory"), "{}", a[0].detail);
        let r: Vec<&str> = a[0].evidence.iter().map(|e| e.reference.as_str()).collect();
        for expected in
            ["Patient/f2", "Observation/f3", "Procedure/f4", "Observation/f6", "Observation/f8", "Observation/f10"]
        {
            assert!(r.contains(&expected), "{expected} missing in {r:?}");
        }
        // Eligible: a planned transplantation raises no safety alert.
        assert!(!planned_olt(p).fires(NOW, NOT_ELIGIBLE));
    }

    #[test]
    fn milan_age_boundary() {
        // Born 1969-06-02: 54 on 2024-06-01. Born 1969-06-01: 55.
        let young = born("1969-06-02");
        let old = born("1969-06-01");
        assert!(young.fires(NOW, CANDIDATE));
        assert!(!old.fires(NOW, CANDIDATE));
        assert!(!planned_olt(young).fires(NOW, NOT_ELIGIBLE));
        let a = &planned_olt(old).alerts(NOW, NOT_ELIGIBLE)[0];
        assert!(a.detail.contains("Milan criterion not met — I. age < 55 years: age 55 years"), "{}", a.detail);
        assert_eq!(a.severity, Severity::Critical);
    }

    #[test]
    fn milan_grade_and_ki67_boundaries() {
        for (k, eligible) in
            [(2.0, true), (2.5, true), (3.0, true), (9.9, true), (10.0, false), (20.0, false), (20.1, false)]
        {
            let p = milan().on("2023-01-06", ki67(k));
            assert_eq!(p.fires(NOW, CANDIDATE), eligible, "Ki-67 {k}");
            assert_eq!(planned_olt(p).fires(NOW, NOT_ELIGIBLE), !eligible, "Ki-67 {k}");
        }
        let g3 = &planned_olt(milan().on("2023-01-06", ki67(20.1))).alerts(NOW, NOT_ELIGIBLE)[0];
        assert!(g3.detail.contains("WHO grade G3"), "{}", g3.detail);
        // G3 by mitoses fails even with a low Ki-67.
        assert!(!milan().on("2023-01-06", mitoses(25.0)).fires(NOW, CANDIDATE));
    }

    #[test]
    fn milan_involvement_boundary() {
        assert!(milan().on("2023-03-02", involvement(49.0)).fires(NOW, CANDIDATE));
        assert!(!milan().on("2023-03-02", involvement(50.0)).fires(NOW, CANDIDATE));
        assert!(!planned_olt(milan().on("2023-03-02", involvement(49.0))).fires(NOW, NOT_ELIGIBLE));
        let a = &planned_olt(milan().on("2023-03-02", involvement(50.0))).alerts(NOW, NOT_ELIGIBLE)[0];
        assert!(a.detail.contains("IV. liver involvement < 50 %: liver involvement 50 %"), "{}", a.detail);
    }

    #[test]
    fn milan_stability_boundary() {
        // v2: stable since 2023-07-01, counted to now: 6 months on 2024-01-01,
        // even without an assessment on that day (v1 needed one 6 months after
        // the first).
        let july = without(milan(), |f| matches!(f.kind, FactKind::DiseaseStatus(_)) && f.at == instant("2024-01-01"));
        assert!(!july.fires("2023-12-31", CANDIDATE));
        assert!(july.fires("2024-01-01", CANDIDATE));
        // The answer changes that day with no new data: wake then.
        assert_eq!(july.eval("2023-12-31").wake_at, Some(instant("2024-01-01")));
        let planned = july.clone().on("2023-12-15", therapy(TherapyClass::LiverTransplant, Tense::Planned));
        let a = &planned.alerts("2023-12-31", NOT_ELIGIBLE)[0];
        let expected =
            "V. stable disease for at least 6 months: stable only since 2023-07-01 (5 full months by 2023-12-31)";
        assert!(a.detail.contains(expected), "{}", a.detail);
        assert!(!planned.fires("2024-01-01", NOT_ELIGIBLE));
        let a = &july.alerts("2024-01-01", CANDIDATE)[0];
        assert!(a.detail.contains("stable since 2023-07-01 (latest assessment 2023-07-01)"), "{}", a.detail);
        // An undetermined result neither breaks nor extends the run.
        let undetermined = july.clone().on("2023-10-01", status(DiseaseStatus::Undetermined));
        assert!(undetermined.fires("2024-01-01", CANDIDATE));
        assert!(!undetermined.fires("2023-12-31", CANDIDATE));
        // A new progression breaks the run; an undetermined result after it does not end it.
        let progressed = milan().on("2024-03-01", status(DiseaseStatus::Worsened));
        assert!(!progressed.fires(NOW, CANDIDATE));
        let a = &planned_olt(progressed.clone()).alerts(NOW, NOT_ELIGIBLE)[0];
        assert!(a.detail.contains("progression on 2024-03-01"), "{}", a.detail);
        let still = planned_olt(progressed.on("2024-04-01", status(DiseaseStatus::Undetermined)));
        assert!(still.alerts(NOW, NOT_ELIGIBLE)[0].detail.contains("progression on 2024-03-01"));
    }

    #[test]
    fn a_transplant_ends_the_candidate_advice() {
        assert!(milan().fires(NOW, CANDIDATE));
        let done = milan().on("2024-05-01", therapy(TherapyClass::LiverTransplant, Tense::Done));
        assert!(!done.fires(NOW, CANDIDATE));
        // Planned or running is not transplanted (and a planned one is judged).
        assert!(milan().on("2024-05-01", therapy(TherapyClass::LiverTransplant, Tense::Planned)).fires(NOW, CANDIDATE));
        // A transplant dated after now has not happened yet.
        assert!(milan().on("2024-07-01", therapy(TherapyClass::LiverTransplant, Tense::Done)).fires(NOW, CANDIDATE));
    }

    #[test]
    fn milan_resection_and_extrahepatic() {
        let none = without(milan(), |f| matches!(f.kind, FactKind::Therapy(_)) && f.at == instant("2023-02-01"));
        assert!(!none.fires(NOW, CANDIDATE));
        let debulked = none.clone().on("2023-02-01", resection(ResectionOutcome::Debulking));
        assert!(!debulked.fires(NOW, CANDIDATE));
        let a = &planned_olt(debulked).alerts(NOW, NOT_ELIGIBLE)[0];
        assert!(a.detail.contains("debulked"), "{}", a.detail);
        assert_eq!(a.severity, Severity::Critical);
        let bone = milan().on("2023-03-01", metastasis(MetastasisSite::Bone));
        assert!(!bone.fires(NOW, CANDIDATE));
        let a = &planned_olt(bone).alerts(NOW, NOT_ELIGIBLE)[0];
        assert!(a.detail.contains("no extrahepatic metastases: bone metastases"), "{}", a.detail);
    }

    #[test]
    fn milan_needs_an_indication_and_liver_metastases() {
        // Never treated before: not refractory.
        let untreated = without(milan(), |f| matches!(f.kind, FactKind::Therapy(_)) && f.at == instant("2023-04-01"));
        assert!(!untreated.fires(NOW, CANDIDATE));
        // Functioning with uncontrolled symptoms despite therapy: refractory.
        let functioning = untreated
            .clone()
            .on("2023-01-02", FactKind::Syndrome(Syndrome::Insulinoma))
            .on("2023-08-01", therapy(TherapyClass::Diazoxide, Tense::Running))
            .on("2023-09-01", FactKind::HormonalSymptoms(HormonalSymptoms::Uncontrolled));
        assert!(functioning.fires(NOW, CANDIDATE));
        assert!(functioning.alerts(NOW, CANDIDATE)[0].detail.contains("hormonal symptoms uncontrolled"));
        assert!(!functioning
            .on("2023-10-01", FactKind::HormonalSymptoms(HormonalSymptoms::Controlled))
            .fires(NOW, CANDIDATE));
        // A functioning tumour whose symptoms are controlled is not "non-functioning refractory".
        assert!(!milan().on("2023-01-02", FactKind::Syndrome(Syndrome::Gastrinoma)).fires(NOW, CANDIDATE));
        // Without liver metastases there is nothing to transplant for (0 %
        // involvement still meets criterion IV).
        let no_liver = without(milan(), |f| matches!(f.kind, FactKind::Metastasis(_) | FactKind::LiverInvolvement(_)))
            .on("2023-03-01", involvement(0.0));
        assert!(!no_liver.fires(NOW, CANDIDATE));
        assert!(no_liver.on("2023-03-02", metastasis(MetastasisSite::Liver)).fires(NOW, CANDIDATE));
    }

    #[test]
    fn not_eligible_names_each_failed_criterion() {
        // Born 1960 (64), Ki-67 25 % (G3), debulking only, 60 % involvement,
        // bone metastases, progressing.
        let p = Patient::pnet()
            .on("1960-01-01", FactKind::BirthDate(date("1960-01-01")))
            .on("2024-01-05", ki67(25.0))
            .on("2024-01-06", resection(ResectionOutcome::Debulking))
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-01-10", metastasis(MetastasisSite::Bone))
            .on("2024-01-10", involvement(60.0))
            .on("2024-03-01", status(DiseaseStatus::Worsened));
        for tense in [Tense::Planned, Tense::Running] {
            let p = p.clone().on("2024-05-01", therapy(TherapyClass::LiverTransplant, tense));
            let a = &p.alerts(NOW, NOT_ELIGIBLE)[0];
            assert_eq!(a.detail.matches("Milan criterion not met").count(), 6, "{tense:?}: {}", a.detail);
            for label in [
                "I. age < 55 years: age 64 years",
                "II. low-grade tumour (Ki-67 < 10 %, not G3): high-grade carcinoma, WHO grade G3",
                "III. pancreatic primary removed by a curative resection: the primary was debulked",
                "IV. liver involvement < 50 %: liver involvement 60 %",
                "V. stable disease for at least 6 months: progression on 2024-03-01",
                "no extrahepatic metastases: bone metastases",
            ] {
                assert!(a.detail.contains(label), "{label} missing in {}", a.detail);
            }
            let r: Vec<&str> = a.evidence.iter().map(|e| e.reference.as_str()).collect();
            assert_eq!(
                r,
                [
                    "Procedure/f9",
                    "Patient/f2",
                    "Observation/f3",
                    "Procedure/f4",
                    "Observation/f7",
                    "Observation/f8",
                    "Condition/f6"
                ]
            );
            assert!(!p.fires(NOW, CANDIDATE));
        }
        // Done transplantation, or none: nothing to warn about.
        assert!(!p.fires(NOW, NOT_ELIGIBLE));
        assert!(!p
            .clone()
            .on("2024-05-01", therapy(TherapyClass::LiverTransplant, Tense::Done))
            .fires(NOW, NOT_ELIGIBLE));
    }

    #[test]
    fn not_eligible_when_criteria_are_not_documented() {
        // Liver metastases only: no birth date, no Ki-67, no resection, no
        // involvement, no disease-status assessment.
        let p = planned_olt(Patient::pnet().on("2024-01-10", metastasis(MetastasisSite::Liver)));
        let a = &p.alerts(NOW, NOT_ELIGIBLE)[0];
        assert_eq!(a.detail.matches("Milan criterion not documented").count(), 5, "{}", a.detail);
        for what in [
            "I. age < 55 years: no birth date recorded",
            "II. low-grade tumour (Ki-67 < 10 %, not G3): no Ki-67 recorded",
            "III. pancreatic primary removed by a curative resection: no resection of the primary recorded",
            "IV. liver involvement < 50 %: no liver involvement recorded",
            "V. stable disease for at least 6 months: no disease-status assessment recorded",
        ] {
            assert!(a.detail.contains(what), "{what} missing in {}", a.detail);
        }
        assert!(!a.detail.contains("— no extrahepatic"), "{}", a.detail);
        // Only undocumented data: a warning, not critical.
        assert_eq!(a.severity, Severity::Warning);
        // One undocumented criterion on an otherwise eligible patient.
        let no_birth = without(milan(), |f| matches!(f.kind, FactKind::BirthDate(_)));
        assert!(!no_birth.fires(NOW, CANDIDATE));
        let a = &planned_olt(no_birth).alerts(NOW, NOT_ELIGIBLE)[0];
        assert_eq!(a.detail.matches("Milan criterion").count(), 1, "{}", a.detail);
        assert!(a.detail.contains("not documented — I. age < 55 years: no birth date recorded"));
    }
}
