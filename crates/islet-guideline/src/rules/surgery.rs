//! Surgery (spec "Surgery").
//!
//! Paper, "Surgery": "Surgery remains the only curative treatment for patients
//! with pNETs and it is associated with an increased survival (26). Surgical
//! resection is usually performed either when all the tumor can be completely
//! removed or when it is possible to resect at least >90% of the neoplastic
//! tissue (20). Otherwise, according to available data, debulking surgery is
//! not usually performed because a significant improvement in survival has not
//! been reported (8,27). Moreover, in case of pNETs with unresectable liver
//! metastases, the surgical resection of the primary tumor is not routinely
//! recommended (28)."

use super::{with_grade, Finding};
use crate::alert::{Kind, RuleSpec, Severity};
use crate::derived::{Growth, Picture};
use crate::facts::{DiscoveryMode, Fact, Grade, Hereditary, MetastasisSite, Resectability, Tense, TherapyClass};

/// Small primary: ≤ 20 mm (v2: exactly 20 mm is small). A sporadic
/// non-functioning pNET this small may be watched [8,30]; the paper's "> 2 cm"
/// separates "resection preferable" from small tumours [30,31].
pub const SMALL_PRIMARY_MM: f64 = 20.0;

/// MEN1: resection when the pNET grew more than 0.5 cm in a year. [31]
pub const MEN1_GROWTH_MM_PER_YEAR: f64 = 5.0;

pub const RESECTION_INDICATED: RuleSpec = RuleSpec {
    id: "surgery.resection-indicated",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Surgical resection, the only curative option, is indicated",
    detail: "Surgery remains the only curative treatment for pNETs and is associated with increased \
             survival. Resection is usually performed when all the tumour can be removed or at least \
             > 90 % of the neoplastic tissue can be resected; it is preferable when the primary is > 2 cm.",
    citation: "Rossi et al. 2014, refs 20, 26, 30",
};

pub const VASCULAR_EXPLORATION: RuleSpec = RuleSpec {
    id: "surgery.vascular-exploration",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Unresectable only because of vascular involvement: surgical exploration is still advised",
    detail: "pNETs considered unresectable because of vascular involvement should undergo surgical \
             exploration: in 91 % of 46 patients first considered unsuitable for surgery the tumour \
             could be removed, and 30 % remained disease-free at 5 years.",
    citation: "Rossi et al. 2014, ref 29",
};

pub const DEBULKING_NOT_ADVISED: RuleSpec = RuleSpec {
    id: "surgery.debulking-not-advised",
    kind: Kind::Safety,
    severity: Severity::Warning,
    summary: "Resection planned although less than 90 % of the tumour is resectable: debulking is not advised",
    detail: "Resection is performed when all the tumour, or at least > 90 % of it, can be removed. \
             Otherwise debulking surgery is not usually performed, because a significant improvement \
             in survival has not been reported.",
    citation: "Rossi et al. 2014, refs 8, 27",
};

pub const PRIMARY_WITH_UNRESECTABLE_LIVER: RuleSpec = RuleSpec {
    id: "surgery.primary-with-unresectable-liver",
    kind: Kind::Safety,
    severity: Severity::Warning,
    summary: "Resection of the primary planned with unresectable liver metastases: not routinely recommended",
    detail: "In pNETs with unresectable liver metastases, surgical resection of the primary tumour is \
             not routinely recommended.",
    citation: "Rossi et al. 2014, ref 28",
};

pub const BONE_METASTASES: RuleSpec = RuleSpec {
    id: "surgery.bone-metastases",
    kind: Kind::Safety,
    severity: Severity::Critical,
    summary: "Surgery planned with bone metastases: a contraindication to surgery",
    detail: "Bone metastases are a poor prognostic factor and a contraindication to surgery.",
    citation: "Rossi et al. 2014, ref 13",
};

pub const SURVEILLANCE_SMALL_NONFUNCTIONING: RuleSpec = RuleSpec {
    id: "surveillance.small-nonfunctioning",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Small sporadic non-functioning pNET (≤ 2 cm): a non-operative approach may be advocated",
    detail: "For sporadic non-functioning pNETs of 2 cm or less, found incidentally, a non-operative \
             approach may be advocated (only 6 % of NF-pNETs < 2 cm were malignant). Start the \
             surveillance schedule (imaging and chromogranin A).",
    citation: "Rossi et al. 2014, refs 8, 30",
};

pub const MEN1_RESECTION_INDICATED: RuleSpec = RuleSpec {
    id: "men1.resection-indicated",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "MEN1 pNET that is metastatic, > 2 cm or growing > 0.5 cm a year: surgical resection",
    detail: "In patients with MEN1, surgical resection of pNETs is generally recommended in case of \
             metastatic tumour, if the tumour is > 2 cm, and in case of a yearly increase in size > 0.5 cm.",
    citation: "Rossi et al. 2014, ref 31",
};

pub const MEN1_SMALL_TUMOUR: RuleSpec = RuleSpec {
    id: "men1.small-tumour",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "MEN1 pNET ≤ 2 cm, not metastatic, not growing fast: management debated; keep measuring yearly growth",
    detail: "In MEN1, pNETs < 2 cm seem to have a more indolent behaviour and their appropriate \
             management is still a matter of debate. Keep measuring the tumour: resection is \
             recommended if it becomes metastatic, exceeds 2 cm or grows > 0.5 cm in a year.",
    citation: "Rossi et al. 2014, refs 8, 31",
};

pub const RULES: &[&RuleSpec] = &[
    &RESECTION_INDICATED,
    &VASCULAR_EXPLORATION,
    &DEBULKING_NOT_ADVISED,
    &PRIMARY_WITH_UNRESECTABLE_LIVER,
    &BONE_METASTASES,
    &SURVEILLANCE_SMALL_NONFUNCTIONING,
    &MEN1_RESECTION_INDICATED,
    &MEN1_SMALL_TUMOUR,
];

pub fn evaluate(p: &Picture, out: &mut Vec<Finding>) {
    out.extend(resection_indicated(p));
    out.extend(vascular_exploration(p));
    out.extend(debulking_not_advised(p));
    out.extend(primary_with_unresectable_liver(p));
    out.extend(bone_metastases(p));
    out.extend(surveillance_small_nonfunctioning(p));
    out.extend(men1_resection_indicated(p));
    out.extend(men1_small_tumour(p));
}

/// Spec (v2): "well-differentiated, not curatively resected, no bone or
/// extra-abdominal metastases (liver and regional nodes do not exclude), and
/// either resectability assessed as complete or ≥ 90 %, or (no metastases,
/// primary > 20 mm, and resectability not assessed as `lt-90` /
/// `unresectable` / `unresectable-vascular`)" [20,26,30]. Paper: "Surgical
/// resection is usually performed either when all the tumor can be
/// completely removed or when it is possible to resect at least >90% of the
/// neoplastic tissue (20)"; Table 1: "Preferable when tumors >2 cm".
///
/// Extra-abdominal is bone, lung or distant lymph nodes: intra-abdominal
/// (regional) nodes, like liver metastases, are part of what a resection can
/// remove, and a metastasis at another or unrecorded site does not exclude
/// it either (the spec's definition). The size branch needs no metastases at
/// all, regional nodes included: without an assessment saying the disease
/// can be removed, nodal disease is for the multidisciplinary team to judge.
///
/// A curative resection makes the advice moot (v2). A debulking resection,
/// or one without a recorded outcome, does not: the rule still fires, and a
/// note names that resection (and a planned or running one).
///
/// The resectability branch is applied literally, whatever the size: a small
/// (≤ 20 mm) non-metastatic tumour assessed as completely resectable fires
/// here *and* may fire `surveillance.small-nonfunctioning` or
/// `men1.small-tumour`. The paper gives both options ("a non-operative
/// approach could be advocated", 8,30), so the rule is kept and a note names
/// the size and points to the small-tumour rules.
pub fn resection_indicated(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    if !p.well_differentiated() || p.curative_resection().is_some() || p.extra_abdominal_metastasis().is_some() {
        return None;
    }
    let mut f = with_grade(Finding::new(&RESECTION_INDICATED).fact(pnet), p);
    match p.resectability() {
        Some((r, Resectability::Complete | Resectability::AtLeast90)) => {
            f = f.fact(r);
            for (m, _) in p.metastases() {
                f = f.fact(m);
            }
            if let Some((size, mm)) = p.primary_size().filter(|(_, mm)| mm.get() <= SMALL_PRIMARY_MM) {
                if !p.metastatic() {
                    f = f.fact(size).note(format!(
                        "The primary measures {} mm (not > 2 cm) and no metastases are recorded: \
                         small pNETs may instead be watched (`surveillance.small-nonfunctioning`, \
                         `men1.small-tumour`).",
                        mm.get()
                    ));
                }
            }
        }
        Some((_, Resectability::Below90 | Resectability::UnresectableVascular | Resectability::Unresectable)) => {
            return None;
        }
        None => {
            if p.metastatic() {
                return None;
            }
            let (size, mm) = p.primary_size()?;
            if mm.get() <= SMALL_PRIMARY_MM {
                return None;
            }
            f = f.fact(size).note("No metastases recorded.");
        }
    }
    f = f.note("No bone, lung or distant lymph-node metastases recorded.");
    if let Some((t, therapy)) =
        p.therapy(|c| c == TherapyClass::PrimaryResection, &[Tense::Planned, Tense::Running, Tense::Done])
    {
        let tense = match therapy.tense {
            Tense::Planned => "already planned",
            Tense::Running => "in progress",
            Tense::Done => "recorded as done, but not as curative",
        };
        f = f.note(format!("A resection of the primary is {tense} ({}, {}).", t.source, t.at.date()));
    }
    Some(f)
}

/// Spec: "judged unresectable only because of vascular involvement" [29].
/// Paper: "patients with pNETs, although considered unresectable because of
/// vascular involvement, should undergo surgical exploration. In this study,
/// in 91% of the 46 patients ... pNETs could be surgically removed, with a 30%
/// remaining disease-free at 5-year follow up (29)."
///
/// "Only because": the latest resectability assessment is
/// `unresectable-vascular` and nothing else recorded stands against surgery:
/// no liver metastases assessed as unresectable (the other way to be
/// "unresectable"), no extra-abdominal (bone, lung, distant-node) metastases
/// (bone metastases are "a contraindication to surgery" (13); the spec's own
/// surgical criteria exclude all extra-abdominal sites), and not G3 ("in case
/// of poorly differentiated tumors, surgery ... almost never applicable"). An
/// unknown grade does not block the rule (`workup.grading-missing` covers it).
pub fn vascular_exploration(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let (r, Resectability::UnresectableVascular) = p.resectability()? else {
        return None;
    };
    if p.liver_unresectable().is_some() || p.extra_abdominal_metastasis().is_some() || p.grade() == Some(Grade::G3) {
        return None;
    }
    let mut f = with_grade(Finding::new(&VASCULAR_EXPLORATION).fact(pnet), p).fact(r);
    if p.grade().is_none() {
        f = f.note("Grade not known: surgery is almost never applicable in poorly differentiated (G3) tumours.");
    }
    Some(f.note("No unresectable liver metastases and no bone, lung or distant lymph-node metastases recorded."))
}

/// Spec: "resection planned while resectability < 90 %" [8,27]; planned also
/// means running (an operation in progress). Paper: "Otherwise [when not even
/// more than 90 % can be resected], ... debulking surgery is not usually
/// performed because a significant improvement in survival has not been
/// reported (8,27)."
///
/// "< 90 %" is the latest assessment `lt-90` or `unresectable` (nothing, so
/// less than 90 %, can be removed). Not `unresectable-vascular`: for that the
/// paper advises surgical exploration (29, `surgery.vascular-exploration`), so
/// a planned operation is what the guideline asks for.
pub fn debulking_not_advised(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let (plan, _) = p.planned_or_running(TherapyClass::PrimaryResection)?;
    let (r, Resectability::Below90 | Resectability::Unresectable) = p.resectability()? else {
        return None;
    };
    Some(Finding::new(&DEBULKING_NOT_ADVISED).fact(pnet).fact(plan).fact(r))
}

/// Spec: "primary resection planned while liver metastases are unresectable"
/// [28]; planned also means running. Paper: "in case of pNETs with
/// unresectable liver metastases, the surgical resection of the primary tumor
/// is not routinely recommended (28)." Liver metastases count as unresectable
/// when the latest liver assessment says so.
pub fn primary_with_unresectable_liver(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let (plan, _) = p.planned_or_running(TherapyClass::PrimaryResection)?;
    let liver = p.liver_unresectable()?;
    Some(Finding::new(&PRIMARY_WITH_UNRESECTABLE_LIVER).fact(pnet).fact(plan).maybe(p.liver_metastases()).fact(liver))
}

/// Spec: "surgery planned with bone metastases" [13]. Paper: "bone metastases
/// which are a poor prognostic factor and a contraindication to surgery (13)".
/// Surgery is a resection of the primary or a liver transplantation, planned
/// or running; a contraindication, so `Critical`. Every planned surgery is
/// named. Liver-directed procedures (ablation, embolization) are not surgery.
pub fn bone_metastases(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let plans: Vec<&Fact> = [TherapyClass::PrimaryResection, TherapyClass::LiverTransplant]
        .into_iter()
        .filter_map(|c| p.planned_or_running(c).map(|(f, _)| f))
        .collect();
    if plans.is_empty() {
        return None;
    }
    let bone = p.metastasis_at(MetastasisSite::Bone)?;
    let mut f = Finding::new(&BONE_METASTASES).fact(pnet);
    for plan in plans {
        f = f.fact(plan);
    }
    Some(f.fact(bone))
}

/// Spec (v2): "sporadic (no MEN1, VHL or tuberous sclerosis),
/// non-functioning, not G3 (grade unknown allowed: the grading work-up alert
/// asks for it), primary ≤ 20 mm, not metastatic, not resected, discovered
/// incidentally or discovery mode not recorded (not when recorded as
/// symptomatic)" [8,30]. Paper: "only 6% of non-functioning pancreatic NETs
/// <2 cm are malignant when incidentally discovered (30). In selected cases,
/// when tumors are <2 cm and incidentally discovered, a non-operative approach
/// could be advocated."
///
/// Exactly 20 mm is small (v2): the paper's resection threshold is "> 2 cm",
/// so a 20 mm tumour must land on one side, and it is not on the resection
/// side. Any secondary malignancy, with or without a site, makes the patient
/// metastatic and ends watchful waiting. Any completed resection of the
/// primary ends it too (there is nothing left to watch), whatever its
/// outcome. A G3 (poorly differentiated) tumour is never watched: "in case of
/// poorly differentiated tumors ... these patients are mainly managed with
/// chemotherapy".
pub fn surveillance_small_nonfunctioning(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    if [Hereditary::Men1, Hereditary::VonHippelLindau, Hereditary::TuberousSclerosis]
        .iter()
        .any(|h| p.hereditary(*h).is_some())
    {
        return None;
    }
    if !p.non_functioning() || p.metastatic() || p.grade() == Some(Grade::G3) {
        return None;
    }
    if p.therapy(|c| c == TherapyClass::PrimaryResection, &[Tense::Done]).is_some() {
        return None;
    }
    let (size, mm) = p.primary_size()?;
    if mm.get() > SMALL_PRIMARY_MM {
        return None;
    }
    let discovery = p.discovery_mode();
    if matches!(discovery, Some((_, DiscoveryMode::Symptomatic))) {
        return None;
    }
    let mut f = Finding::new(&SURVEILLANCE_SMALL_NONFUNCTIONING).fact(pnet).fact(size);
    f = match p.syndrome(crate::facts::Syndrome::NonFunctioning) {
        Some(nf) => f.fact(nf),
        None => f.note("No functioning syndrome recorded: counted as non-functioning."),
    };
    Some(match discovery {
        Some((d, _)) => f.fact(d),
        None => f.note("Discovery mode not recorded."),
    })
}

/// The growth rate in words, as evidence on the latest measurement.
fn with_growth(f: Finding, g: &Growth) -> Finding {
    f.fact(g.earlier).derived(g.latest, format!("primary growth {:.1} mm/year", g.mm_per_year))
}

/// Spec (v2): "MEN1, well-differentiated, not curatively resected, no bone
/// metastases, liver metastases not assessed unresectable, and a pNET that
/// is metastatic, or > 20 mm, or grew > 5 mm in a year" [31]. Paper: "In
/// patients with MEN-1, surgical resection of pNETs is generally recommended
/// in case of metastatic tumor, if the tumor is >2 cm, and in case of a
/// yearly increased size >0.5 cm (31)"; bone metastases are "a
/// contraindication to surgery (13)"; "in case of pNETs with unresectable
/// liver metastases, the surgical resection of the primary tumor is not
/// routinely recommended (28)"; poorly differentiated tumours: "surgery ...
/// almost never applicable".
///
/// Size is the latest primary size; growth is [`Picture::growth_per_year`]
/// (v2: the fastest growth to the latest result from any result ≥ 6 months
/// *(project default)* before it, scaled to 12 months). Every criterion that
/// holds is named in the evidence, not just the first. An unknown grade
/// does not qualify (well-differentiated is required; `workup.grading-missing`
/// asks for it).
pub fn men1_resection_indicated(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let men1 = p.hereditary(Hereditary::Men1)?;
    if !p.well_differentiated()
        || p.curative_resection().is_some()
        || p.metastasis_at(MetastasisSite::Bone).is_some()
        || p.liver_unresectable().is_some()
    {
        return None;
    }
    let metastasis = p.metastases().first().map(|(f, _)| *f);
    let large = p.primary_size().filter(|(_, mm)| mm.get() > SMALL_PRIMARY_MM);
    let growing = p.growth_per_year().filter(|g| g.mm_per_year > MEN1_GROWTH_MM_PER_YEAR);
    if metastasis.is_none() && large.is_none() && growing.is_none() {
        return None;
    }
    let mut f = with_grade(Finding::new(&MEN1_RESECTION_INDICATED).fact(pnet).fact(men1), p)
        .maybe(metastasis)
        .maybe(large.map(|(s, _)| s));
    if let Some(g) = growing {
        f = with_growth(f, &g);
    }
    Some(f)
}

/// Spec (v2): "MEN1, not curatively resected, pNET ≤ 20 mm, not metastatic,
/// growth ≤ 5 mm/year or unknown" [8,31]. Paper: "pNETs <2 cm seem to have a
/// more indolent behavior and their appropriate management is still matter
/// of debating (8)".
///
/// A tumour of exactly 20 mm is "small" (the resection threshold is "> 2
/// cm"); growth of exactly 5 mm/year is not "> 0.5 cm". Needs a primary size;
/// without one neither MEN1 rule fires. No longer the exact complement of
/// `men1.resection-indicated` (v2 adds surgical contraindications there):
/// a small MEN1 tumour is small whatever its grade. When growth cannot be
/// computed yet, a note says so.
pub fn men1_small_tumour(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let men1 = p.hereditary(Hereditary::Men1)?;
    if p.metastatic() || p.curative_resection().is_some() {
        return None;
    }
    let (size, mm) = p.primary_size()?;
    if mm.get() > SMALL_PRIMARY_MM {
        return None;
    }
    let growth = p.growth_per_year();
    if growth.is_some_and(|g| g.mm_per_year > MEN1_GROWTH_MM_PER_YEAR) {
        return None;
    }
    let mut f = Finding::new(&MEN1_SMALL_TUMOUR).fact(pnet).fact(men1).fact(size);
    f = match growth {
        Some(g) => with_growth(f, &g),
        None => f.note(format!(
            "Yearly growth not yet known: needs two primary measurements at least {} months apart.",
            p.config.thresholds.growth_min_interval_months
        )),
    };
    Some(f.note("No metastases recorded."))
}

#[cfg(test)]
mod tests {
    use crate::alert::Severity;
    use crate::facts::{
        DiscoveryMode, FactKind, Hereditary, MetastasisSite, Resectability, ResectionOutcome, Syndrome, Tense,
        TherapyClass,
    };
    use crate::rules::testkit::*;
    use crate::Profile;

    const NOW: &str = "2024-06-01";
    const RESECT: &str = "surgery.resection-indicated";
    const VASCULAR: &str = "surgery.vascular-exploration";
    const DEBULK: &str = "surgery.debulking-not-advised";
    const LIVER: &str = "surgery.primary-with-unresectable-liver";
    const BONE: &str = "surgery.bone-metastases";
    const MEN1_RESECT: &str = "men1.resection-indicated";
    const MEN1_SMALL: &str = "men1.small-tumour";

    fn graded(k: f64) -> Patient {
        Patient::pnet().on("2024-01-05", ki67(k))
    }
    fn resectable(r: Resectability) -> FactKind {
        FactKind::Resectability(r)
    }
    fn refs(p: &Patient, now: &str, rule: &str) -> Vec<String> {
        p.alerts(now, rule)[0].evidence.iter().map(|e| e.reference.as_str().to_string()).collect()
    }

    #[test]
    fn resection_by_size_at_the_2_cm_boundary() {
        let p = graded(12.0);
        assert!(!p.clone().on("2024-01-10", primary_mm(19.9)).fires(NOW, RESECT));
        assert!(!p.clone().on("2024-01-10", primary_mm(20.0)).fires(NOW, RESECT));
        // 2.0 cm, converted to mm, is 20 mm: not "> 2 cm".
        assert!(!p.clone().on("2024-01-10", primary_mm(2.0 * 10.0)).fires(NOW, RESECT));
        assert!(p.clone().on("2024-01-10", primary_mm(20.1)).fires(NOW, RESECT));
        // No size, no assessment: nothing to go on.
        assert!(!p.fires(NOW, RESECT));
    }

    #[test]
    fn resection_needs_well_differentiated() {
        let big = |k: f64| graded(k).on("2024-01-10", primary_mm(30.0));
        for k in [2.0, 2.5, 3.0, 20.0] {
            assert!(big(k).fires(NOW, RESECT), "Ki-67 {k}");
        }
        assert!(!big(20.1).fires(NOW, RESECT));
        // Grade unknown.
        assert!(!Patient::pnet().on("2024-01-10", primary_mm(30.0)).fires(NOW, RESECT));
    }

    #[test]
    fn resection_size_branch_needs_no_metastases() {
        let p = graded(12.0).on("2024-01-10", primary_mm(30.0));
        assert!(p.fires(NOW, RESECT));
        assert!(!p.clone().on("2024-02-01", metastasis(MetastasisSite::Liver)).fires(NOW, RESECT));
        assert!(!p.clone().on("2024-02-01", liver_lesion_mm(12.0)).fires(NOW, RESECT));
        assert!(!p.clone().on("2024-02-01", involvement(5.0)).fires(NOW, RESECT));
    }

    #[test]
    fn resection_by_resectability_assessment() {
        let p = graded(12.0).on("2024-02-01", metastasis(MetastasisSite::Liver));
        assert!(!p.fires(NOW, RESECT));
        assert!(p.clone().on("2024-03-01", resectable(Resectability::Complete)).fires(NOW, RESECT));
        assert!(p.clone().on("2024-03-01", resectable(Resectability::AtLeast90)).fires(NOW, RESECT));
        for r in [Resectability::Below90, Resectability::UnresectableVascular, Resectability::Unresectable] {
            assert!(!p.clone().on("2024-03-01", resectable(r)).fires(NOW, RESECT), "{r:?}");
            // The assessment also outranks the size branch.
            let big = graded(12.0).on("2024-01-10", primary_mm(30.0)).on("2024-03-01", resectable(r));
            assert!(!big.fires(NOW, RESECT), "{r:?} with 30 mm");
        }
        // The latest assessment counts.
        let p = p
            .on("2024-03-01", resectable(Resectability::Below90))
            .on("2024-04-01", resectable(Resectability::Complete));
        assert!(p.fires(NOW, RESECT));
    }

    #[test]
    fn resection_excludes_extra_abdominal_metastases() {
        let p = graded(12.0).on("2024-03-01", resectable(Resectability::Complete));
        assert!(p.fires(NOW, RESECT));
        for site in [MetastasisSite::Bone, MetastasisSite::Lung, MetastasisSite::DistantNodes] {
            assert!(!p.clone().on("2024-02-01", metastasis(site)).fires(NOW, RESECT), "{site:?}");
        }
        // Liver, regional nodes and other (or unrecorded) sites are not extra-abdominal.
        for site in [MetastasisSite::Liver, MetastasisSite::RegionalNodes, MetastasisSite::Other] {
            let with = p.clone().on("2024-02-01", metastasis(site));
            assert!(with.fires(NOW, RESECT), "{site:?}");
            assert!(refs(&with, NOW, RESECT).contains(&"Condition/f4".to_string()), "{site:?} named");
        }
    }

    /// Review defect (2): regional lymph nodes (C77.2) are not extra-abdominal
    /// disease; v1 counted every nodal metastasis as distant.
    #[test]
    fn resectable_pnet_with_regional_nodes_gets_resection() {
        let p = graded(12.0)
            .on("2024-01-10", primary_mm(30.0))
            .on("2024-02-01", metastasis(MetastasisSite::RegionalNodes))
            .on("2024-03-01", resectable(Resectability::Complete));
        let a = &p.alerts(NOW, RESECT)[0];
        assert!(a.evidence.iter().any(|e| e.fact.starts_with("regional (intra-abdominal) lymph-node metastases")));
        // Nodes are metastases: without an assessment the size branch does not apply.
        let unassessed =
            graded(12.0).on("2024-01-10", primary_mm(30.0)).on("2024-02-01", metastasis(MetastasisSite::RegionalNodes));
        assert!(!unassessed.fires(NOW, RESECT));
        // Distant nodes still exclude it.
        assert!(!p.on("2024-02-02", metastasis(MetastasisSite::DistantNodes)).fires(NOW, RESECT));
    }

    #[test]
    fn a_curative_resection_ends_the_advice() {
        let p = graded(12.0).on("2024-01-10", primary_mm(30.0));
        assert!(p.fires(NOW, RESECT));
        assert!(!p.clone().on("2024-03-01", resection(ResectionOutcome::Curative)).fires(NOW, RESECT));
        // A curative resection dated after now has not happened yet.
        assert!(p.clone().on("2024-07-01", resection(ResectionOutcome::Curative)).fires(NOW, RESECT));
        // Debulking or an unknown outcome: still advised, and the resection is named.
        let debulked = p.clone().on("2024-03-01", resection(ResectionOutcome::Debulking));
        assert!(debulked.alerts(NOW, RESECT)[0].detail.contains("recorded as done, but not as curative"));
        let unknown = p.clone().on("2024-03-01", therapy(TherapyClass::PrimaryResection, Tense::Done));
        assert!(unknown.fires(NOW, RESECT));
        // A planned curative resection is not a resection.
        let planned = p.on(
            "2024-03-01",
            FactKind::Therapy(crate::facts::Therapy {
                class: TherapyClass::PrimaryResection,
                tense: Tense::Planned,
                escalated: false,
                outcome: Some(ResectionOutcome::Curative),
                until: None,
            }),
        );
        assert!(planned.fires(NOW, RESECT));
    }

    #[test]
    fn resection_evidence_and_notes() {
        let p = graded(12.0).on("2024-01-10", primary_mm(25.0));
        let a = &p.alerts(NOW, RESECT)[0];
        assert_eq!(refs(&p, NOW, RESECT), ["Condition/f1", "Observation/f2", "Observation/f3"]);
        assert!(a.evidence[1].fact.contains("WHO grade G2"), "{:?}", a.evidence);
        assert!(a.detail.contains("No metastases recorded"));
        assert_eq!((a.severity, a.citation), (Severity::Info, "Rossi et al. 2014, refs 20, 26, 30"));
        // A small tumour assessed as completely resectable: fires, pointing to surveillance.
        let small =
            graded(12.0).on("2024-01-10", primary_mm(15.0)).on("2024-03-01", resectable(Resectability::Complete));
        let a = &small.alerts(NOW, RESECT)[0];
        assert!(a.detail.contains("primary measures 15 mm"), "{}", a.detail);
        assert!(small.fires(NOW, "surveillance.small-nonfunctioning"));
        let big = graded(12.0).on("2024-01-10", primary_mm(25.0)).on("2024-03-01", resectable(Resectability::Complete));
        assert!(!big.alerts(NOW, RESECT)[0].detail.contains("primary measures"));
        // Not silenced by a planned resection, but it says so.
        let planned = p.on("2024-02-01", therapy(TherapyClass::PrimaryResection, Tense::Planned));
        assert!(planned.alerts(NOW, RESECT)[0].detail.contains("already planned"));
    }

    #[test]
    fn vascular_exploration() {
        let p = graded(12.0).on("2024-03-01", resectable(Resectability::UnresectableVascular));
        assert!(p.fires(NOW, VASCULAR));
        assert_eq!(refs(&p, NOW, VASCULAR), ["Condition/f1", "Observation/f2", "Observation/f3"]);
        for r in [Resectability::Unresectable, Resectability::Below90, Resectability::Complete] {
            assert!(!graded(12.0).on("2024-03-01", resectable(r)).fires(NOW, VASCULAR), "{r:?}");
        }
        // Not "only because of vascular involvement".
        assert!(!p.clone().on("2024-03-02", FactKind::LiverResectable(false)).fires(NOW, VASCULAR));
        assert!(!p.clone().on("2024-03-02", metastasis(MetastasisSite::Bone)).fires(NOW, VASCULAR));
        // Liver metastases that are resectable, or regional nodes, do not stand in the way.
        assert!(p.clone().on("2024-03-02", metastasis(MetastasisSite::Liver)).fires(NOW, VASCULAR));
        assert!(p.clone().on("2024-03-02", metastasis(MetastasisSite::RegionalNodes)).fires(NOW, VASCULAR));
        assert!(!p.clone().on("2024-03-02", metastasis(MetastasisSite::Lung)).fires(NOW, VASCULAR));
        // G3: surgery almost never applicable.
        assert!(!Patient::pnet()
            .on("2024-01-05", ki67(20.1))
            .on("2024-03-01", resectable(Resectability::UnresectableVascular))
            .fires(NOW, VASCULAR));
        assert!(Patient::pnet()
            .on("2024-01-05", ki67(20.0))
            .on("2024-03-01", resectable(Resectability::UnresectableVascular))
            .fires(NOW, VASCULAR));
        // A later assessment replaces it.
        assert!(!p.on("2024-04-01", resectable(Resectability::Complete)).fires(NOW, VASCULAR));
    }

    #[test]
    fn debulking_planned_or_running() {
        let below = graded(12.0).on("2024-03-01", resectable(Resectability::Below90));
        for tense in [Tense::Planned, Tense::Running] {
            let p = below.clone().on("2024-04-01", therapy(TherapyClass::PrimaryResection, tense));
            let a = p.alerts(NOW, DEBULK);
            assert_eq!(a.len(), 1, "{tense:?}");
            assert_eq!(a[0].severity, Severity::Warning);
            assert_eq!(refs(&p, NOW, DEBULK), ["Condition/f1", "Procedure/f4", "Observation/f3"]);
        }
        // Not planned, or already done.
        assert!(!below.fires(NOW, DEBULK));
        assert!(!below
            .clone()
            .on("2024-04-01", therapy(TherapyClass::PrimaryResection, Tense::Done))
            .fires(NOW, DEBULK));
        // Another procedure is not a resection.
        assert!(!below.clone().on("2024-04-01", therapy(TherapyClass::Tace, Tense::Planned)).fires(NOW, DEBULK));
        // Unresectable also counts; vascular involvement does not (exploration is advised).
        let plan = therapy(TherapyClass::PrimaryResection, Tense::Planned);
        assert!(graded(12.0)
            .on("2024-03-01", resectable(Resectability::Unresectable))
            .on("2024-04-01", plan.clone())
            .fires(NOW, DEBULK));
        for r in [Resectability::UnresectableVascular, Resectability::AtLeast90, Resectability::Complete] {
            assert!(
                !graded(12.0).on("2024-03-01", resectable(r)).on("2024-04-01", plan.clone()).fires(NOW, DEBULK),
                "{r:?}"
            );
        }
        // No assessment: nothing to say.
        assert!(!graded(12.0).on("2024-04-01", plan).fires(NOW, DEBULK));
    }

    #[test]
    fn primary_resection_with_unresectable_liver() {
        let liver = graded(12.0)
            .on("2024-02-01", metastasis(MetastasisSite::Liver))
            .on("2024-03-01", FactKind::LiverResectable(false));
        for tense in [Tense::Planned, Tense::Running] {
            let p = liver.clone().on("2024-04-01", therapy(TherapyClass::PrimaryResection, tense));
            let a = p.alerts(NOW, LIVER);
            assert_eq!(a.len(), 1, "{tense:?}");
            assert_eq!(a[0].severity, Severity::Warning);
            assert_eq!(refs(&p, NOW, LIVER), ["Condition/f1", "Procedure/f5", "Condition/f3", "Observation/f4"]);
        }
        assert!(!liver.fires(NOW, LIVER));
        assert!(!liver
            .clone()
            .on("2024-04-01", therapy(TherapyClass::PrimaryResection, Tense::Done))
            .fires(NOW, LIVER));
        assert!(!liver
            .clone()
            .on("2024-04-01", therapy(TherapyClass::LiverTransplant, Tense::Planned))
            .fires(NOW, LIVER));
        let resectable_now = liver.on("2024-03-15", FactKind::LiverResectable(true));
        assert!(!resectable_now
            .on("2024-04-01", therapy(TherapyClass::PrimaryResection, Tense::Planned))
            .fires(NOW, LIVER));
    }

    #[test]
    fn bone_metastases_contraindicate_surgery() {
        let bone = graded(12.0).on("2024-02-01", metastasis(MetastasisSite::Bone));
        for class in [TherapyClass::PrimaryResection, TherapyClass::LiverTransplant] {
            for tense in [Tense::Planned, Tense::Running] {
                let p = bone.clone().on("2024-04-01", therapy(class, tense));
                let a = p.alerts(NOW, BONE);
                assert_eq!(a.len(), 1, "{class:?} {tense:?}");
                assert_eq!(a[0].severity, Severity::Critical);
                assert_eq!(refs(&p, NOW, BONE), ["Condition/f1", "Procedure/f4", "Condition/f3"]);
            }
            assert!(!bone.clone().on("2024-04-01", therapy(class, Tense::Done)).fires(NOW, BONE));
        }
        assert!(!bone.fires(NOW, BONE));
        assert!(!bone.clone().on("2024-04-01", therapy(TherapyClass::LiverAblation, Tense::Planned)).fires(NOW, BONE));
        let liver_only = graded(12.0).on("2024-02-01", metastasis(MetastasisSite::Liver));
        assert!(!liver_only.on("2024-04-01", therapy(TherapyClass::PrimaryResection, Tense::Planned)).fires(NOW, BONE));
        // Both surgeries planned: both named.
        let both = bone
            .on("2024-04-01", therapy(TherapyClass::PrimaryResection, Tense::Planned))
            .on("2024-04-02", therapy(TherapyClass::LiverTransplant, Tense::Planned));
        assert_eq!(refs(&both, NOW, BONE), ["Condition/f1", "Procedure/f4", "Procedure/f5", "Condition/f3"]);
    }

    const WATCH: &str = "surveillance.small-nonfunctioning";

    #[test]
    fn surveillance_at_the_2_cm_boundary() {
        // v2: exactly 20 mm is small (v1 watched only < 20 mm).
        for (mm, watched) in [(19.9, true), (20.0, true), (2.0 * 10.0, true), (20.1, false)] {
            let p = graded(12.0).on("2024-01-10", primary_mm(mm));
            assert_eq!(p.fires(NOW, WATCH), watched, "{mm} mm");
            assert_eq!(p.fires(NOW, RESECT), !watched, "{mm} mm");
        }
        // The latest size counts.
        let grown = graded(12.0).on("2024-01-10", primary_mm(15.0)).on("2024-04-10", primary_mm(21.0));
        assert!(!grown.fires(NOW, WATCH));
        let a = &graded(12.0).on("2024-01-10", primary_mm(20.0)).alerts(NOW, WATCH)[0];
        assert_eq!(
            a.summary,
            "Small sporadic non-functioning pNET (≤ 2 cm): a non-operative approach may be advocated"
        );
        assert!(a.detail.contains("Discovery mode not recorded"), "{}", a.detail);
        assert!(a.detail.contains("counted as non-functioning"), "{}", a.detail);
    }

    #[test]
    fn surveillance_not_for_g3_but_for_an_unknown_grade() {
        for (k, watched) in [(2.0, true), (20.0, true), (20.1, false)] {
            assert_eq!(graded(k).on("2024-01-10", primary_mm(14.0)).fires(NOW, WATCH), watched, "Ki-67 {k}");
        }
        // G3 by mitoses, or from a carcinoma diagnosis.
        let g3_by_mitoses = graded(1.0).on("2024-01-06", mitoses(25.0)).on("2024-01-10", primary_mm(14.0));
        assert!(!g3_by_mitoses.fires(NOW, WATCH));
        let nec = Patient::pnet().on("2024-01-02", FactKind::NecDiagnosis).on("2024-01-10", primary_mm(14.0));
        assert!(!nec.fires(NOW, WATCH));
        // Not graded yet: watched, and the grading work-up asks for the grade.
        let ungraded = Patient::pnet().on("2024-01-10", primary_mm(14.0));
        assert!(ungraded.fires(NOW, WATCH));
        assert!(ungraded.fires(NOW, "workup.grading-missing"));
    }

    /// Review defect (1): a secondary malignancy without a site (site `other`)
    /// still makes the patient metastatic: no watchful waiting.
    #[test]
    fn surveillance_ends_with_any_metastasis() {
        let small = graded(12.0).on("2024-01-10", primary_mm(14.0));
        assert!(small.fires(NOW, WATCH));
        for site in [
            MetastasisSite::Other,
            MetastasisSite::RegionalNodes,
            MetastasisSite::Liver,
            MetastasisSite::Bone,
            MetastasisSite::Lung,
            MetastasisSite::DistantNodes,
        ] {
            let p = small.clone().on("2024-02-01", metastasis(site));
            assert!(!p.fires(NOW, WATCH), "{site:?}");
            assert!(!p.fires(NOW, "followup.surveillance-imaging"), "{site:?}");
        }
    }

    #[test]
    fn surveillance_only_for_sporadic_non_functioning_incidental_tumours() {
        let small = graded(12.0).on("2024-01-10", primary_mm(14.0));
        for h in [Hereditary::Men1, Hereditary::VonHippelLindau, Hereditary::TuberousSclerosis] {
            assert!(!small.clone().on("2024-01-02", FactKind::Hereditary(h)).fires(NOW, WATCH), "{h:?}");
        }
        assert!(!small.clone().on("2024-01-02", FactKind::Syndrome(Syndrome::Insulinoma)).fires(NOW, WATCH));
        let nf = small.clone().on("2024-01-02", FactKind::Syndrome(Syndrome::NonFunctioning));
        assert!(refs(&nf, NOW, WATCH).contains(&"Condition/f4".to_string()));
        let symptomatic = FactKind::DiscoveryMode(DiscoveryMode::Symptomatic);
        assert!(!small.clone().on("2024-01-10", symptomatic).fires(NOW, WATCH));
        let incidental = small.clone().on("2024-01-10", FactKind::DiscoveryMode(DiscoveryMode::Incidental));
        assert!(!incidental.alerts(NOW, WATCH)[0].detail.contains("Discovery mode not recorded"));
        // Any completed resection ends watching; a planned one does not.
        assert!(!small.clone().on("2024-03-01", resection(ResectionOutcome::Debulking)).fires(NOW, WATCH));
        assert!(small.on("2024-03-01", therapy(TherapyClass::PrimaryResection, Tense::Planned)).fires(NOW, WATCH));
    }

    /// MEN1, G1 (Ki-67 2 %).
    fn men1() -> Patient {
        Patient::pnet().on("2024-01-02", FactKind::Hereditary(Hereditary::Men1)).on("2024-01-03", ki67(2.0))
    }

    #[test]
    fn men1_size_boundary() {
        for (mm, resect) in [(19.9, false), (20.0, false), (2.0 * 10.0, false), (20.1, true)] {
            let p = men1().on("2024-01-10", primary_mm(mm));
            assert_eq!(p.fires(NOW, MEN1_RESECT), resect, "{mm} mm");
            assert_eq!(p.fires(NOW, MEN1_SMALL), !resect, "{mm} mm");
        }
        // Sporadic tumours: neither MEN1 rule.
        let sporadic = Patient::pnet().on("2024-01-10", primary_mm(25.0));
        assert!(!sporadic.fires(NOW, MEN1_RESECT));
        assert!(!Patient::pnet().on("2024-01-10", primary_mm(15.0)).fires(NOW, MEN1_SMALL));
        // No size: neither.
        assert!(!men1().fires(NOW, MEN1_RESECT));
        assert!(!men1().fires(NOW, MEN1_SMALL));
    }

    #[test]
    fn men1_growth_boundary() {
        // 10 → 15 mm in a calendar year is 5.0 mm/year (not > 5); 15.1 is 5.1.
        let base = men1().on("2024-01-10", primary_mm(10.0));
        let five = base.clone().on("2025-01-10", primary_mm(15.0));
        assert!(!five.fires("2025-02-01", MEN1_RESECT));
        let a = &five.alerts("2025-02-01", MEN1_SMALL)[0];
        assert!(a.evidence.iter().any(|e| e.fact.contains("growth 5.0 mm/year")), "{:?}", a.evidence);

        let faster = base.clone().on("2025-01-10", primary_mm(15.1));
        assert!(faster.fires("2025-02-01", MEN1_RESECT));
        assert!(!faster.fires("2025-02-01", MEN1_SMALL));
        let a = &faster.alerts("2025-02-01", MEN1_RESECT)[0];
        assert_eq!(
            refs(&faster, "2025-02-01", MEN1_RESECT),
            ["Condition/f1", "Condition/f2", "Observation/f3", "Observation/f4", "Observation/f5"]
        );
        assert!(a.evidence[4].fact.contains("growth 5.1 mm/year"), "{:?}", a.evidence);

        // Results less than 6 months apart: growth unknown, so "small", with a note.
        let recent = base.on("2024-07-09", primary_mm(18.0));
        assert!(!recent.fires("2024-08-01", MEN1_RESECT));
        let a = &recent.alerts("2024-08-01", MEN1_SMALL)[0];
        assert!(a.detail.contains("Yearly growth not yet known"), "{}", a.detail);
    }

    /// Review defect (3): growth is the largest growth to the latest result
    /// from any result ≥ 6 months before it, scaled to a year (v2). v1 took
    /// the latest such pair only: 16 → 17 mm, 2 mm/year.
    #[test]
    fn men1_growth_uses_the_fastest_growth_to_the_latest_result() {
        let p = men1()
            .on("2024-01-10", primary_mm(10.0))
            .on("2024-07-10", primary_mm(16.0))
            .on("2025-01-10", primary_mm(17.0));
        let a = &p.alerts("2025-02-01", MEN1_RESECT)[0];
        let growth = a.evidence.iter().find(|e| e.fact.contains("growth")).unwrap();
        assert!(growth.fact.starts_with("primary growth 7.0 mm/year"), "{:?}", a.evidence);
        // Measured from the first result: it is named too.
        assert!(refs(&p, "2025-02-01", MEN1_RESECT).contains(&"Observation/f4".to_string()));
        assert!(!p.fires("2025-02-01", MEN1_SMALL));
        // A result less than 6 months before the latest is not a starting point:
        // 16 mm 5 months before 17 mm would be 2.4 mm/year, 10 mm 11 months before is 7.6.
        let p = men1()
            .on("2024-02-10", primary_mm(10.0))
            .on("2024-08-10", primary_mm(16.0))
            .on("2025-01-10", primary_mm(17.0));
        let a = &p.alerts("2025-02-01", MEN1_RESECT)[0];
        assert!(a.evidence.iter().any(|e| e.fact.starts_with("primary growth 7.6 mm/year")), "{:?}", a.evidence);
        // A fast recent rise counts even after a long quiet stretch:
        // 10 → 10 over a year, then 10 → 13.1 in 6 months is 6.2 mm/year.
        let p = men1()
            .on("2023-01-10", primary_mm(10.0))
            .on("2024-01-10", primary_mm(10.0))
            .on("2024-07-10", primary_mm(13.1));
        assert!(p.fires("2024-08-01", MEN1_RESECT));
        // Shrinking: the least shrinkage is the growth, and it is not > 5.
        let p = men1().on("2024-01-10", primary_mm(18.0)).on("2025-01-10", primary_mm(15.0));
        let a = &p.alerts("2025-02-01", MEN1_SMALL)[0];
        assert!(a.evidence.iter().any(|e| e.fact.contains("growth -3.0 mm/year")), "{:?}", a.evidence);
    }

    #[test]
    fn men1_metastatic() {
        let p = men1().on("2024-01-10", primary_mm(12.0)).on("2024-02-01", liver_lesion_mm(8.0));
        assert!(p.fires(NOW, MEN1_RESECT));
        assert!(!p.fires(NOW, MEN1_SMALL));
        assert_eq!(refs(&p, NOW, MEN1_RESECT), ["Condition/f1", "Condition/f2", "Observation/f3", "Observation/f5"]);
        // Any metastasis, with or without a site, ends "small tumour" (review defect 1).
        for site in [MetastasisSite::Other, MetastasisSite::RegionalNodes] {
            let p = men1().on("2024-01-10", primary_mm(12.0)).on("2024-02-01", metastasis(site));
            assert!(p.fires(NOW, MEN1_RESECT), "{site:?}");
            assert!(!p.fires(NOW, MEN1_SMALL), "{site:?}");
        }
    }

    #[test]
    fn men1_resection_respects_the_surgical_contraindications() {
        let big = men1().on("2024-01-10", primary_mm(30.0));
        assert!(big.fires(NOW, MEN1_RESECT));
        // Bone metastases are a contraindication to surgery.
        assert!(!big.clone().on("2024-02-01", metastasis(MetastasisSite::Bone)).fires(NOW, MEN1_RESECT));
        // Unresectable liver metastases: resecting the primary is not routinely recommended.
        let liver = big.clone().on("2024-02-01", metastasis(MetastasisSite::Liver));
        assert!(liver.fires(NOW, MEN1_RESECT));
        assert!(!liver.clone().on("2024-02-02", FactKind::LiverResectable(false)).fires(NOW, MEN1_RESECT));
        assert!(liver.on("2024-02-02", FactKind::LiverResectable(true)).fires(NOW, MEN1_RESECT));
        // G3, or grade unknown: not well-differentiated.
        for (k, fires) in [(20.0, true), (20.1, false)] {
            assert_eq!(big.clone().on("2024-01-04", ki67(k)).fires(NOW, MEN1_RESECT), fires, "Ki-67 {k}");
        }
        let ungraded =
            Patient::pnet().on("2024-01-02", FactKind::Hereditary(Hereditary::Men1)).on("2024-01-10", primary_mm(30.0));
        assert!(!ungraded.fires(NOW, MEN1_RESECT));
        // A curative resection ends both MEN1 rules.
        let resected = big.on("2024-03-01", resection(ResectionOutcome::Curative));
        assert!(!resected.fires(NOW, MEN1_RESECT));
        let small = men1().on("2024-01-10", primary_mm(15.0));
        assert!(small.fires(NOW, MEN1_SMALL));
        assert!(!small.clone().on("2024-03-01", resection(ResectionOutcome::Curative)).fires(NOW, MEN1_SMALL));
        assert!(small.on("2024-03-01", resection(ResectionOutcome::Debulking)).fires(NOW, MEN1_SMALL));
    }

    #[test]
    fn profile_does_not_change_surgery() {
        let p = graded(12.0).on("2024-01-10", primary_mm(25.0));
        assert!(p.clone().profile(Profile::Nccn).fires(NOW, RESECT));
        assert!(p.profile(Profile::Enets).fires(NOW, RESECT));
    }

    #[test]
    fn catalogue_entries() {
        let ids: Vec<&str> = super::RULES.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [RESECT, VASCULAR, DEBULK, LIVER, BONE, "surveillance.small-nonfunctioning", MEN1_RESECT, MEN1_SMALL]
        );
        for r in super::RULES {
            assert!(r.summary.chars().count() < 140, "{}", r.id);
            assert!(r.citation.starts_with("Rossi et al. 2014, ref"), "{}", r.id);
        }
    }
}
