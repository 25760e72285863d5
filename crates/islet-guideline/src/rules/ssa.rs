//! Somatostatin analogues, interferon, syndromes (spec "Somatostatin
//! analogues, interferon, syndromes").
//!
//! Paper, "Somatostatin analogues": "According to the ENETS 2012 guidelines
//! SSAs may be a viable option in pNETs characterized by a slowly
//! proliferative index (G1), whereas data on the efficacy of SSAs in NET G2
//! are still lacking (12). In metastatic non-functioning pNETs G3, SSA
//! treatment is not recommended." Table 1: "Somatostatin receptor
//! scintigraphy and/or Octreotide test are needed prior to start the therapy".
//!
//! **"SSTR imaging not negative"** (used by `ssa.antiproliferative`,
//! `ssa.g2-limited-evidence`; its opposite by `ifn.consider`): the latest
//! somatostatin-receptor imaging result (SRS / 68Ga-SSA PET, or a Krenning
//! score, which implies such imaging) does not say negative. A Krenning score
//! of 0 (no uptake) counts as negative. *No imaging at all counts as not
//! negative*: the spec says "not negative", not "positive", and a missing scan
//! is already flagged by `workup.ssr-imaging-missing` and, once an SSA is
//! planned, by `ssa.needs-receptor-status`; the recommendation then carries a
//! note that receptor status is needed before starting. Equivocal imaging is
//! not negative.
//!
//! **"Positive SSTR imaging"** (insulinoma in `ssa.syndrome-control`): the
//! latest receptor imaging says positive, or a Krenning score ≥ 2 (uptake at
//! least that of normal liver, the paper's only uptake threshold). Krenning
//! 1 is neither negative nor positive, like an equivocal result: the
//! recommendation is a safety gate there, so weak uptake does not open it.
//!
//! **A therapy class that already failed** (spec "failed classes") is not
//! recommended again: after an SSA failure `ssa.escalate-on-progression` (on
//! the current course) or the next line (`chemo.well-differentiated`, which
//! names the failed course) takes over; after an interferon failure, the
//! next line.

use super::{with_grade, Finding};
use crate::alert::{Kind, RuleSpec, Severity};
use crate::derived::Picture;
use crate::facts::{Fact, FactKind, Grade, HormonalSymptoms, SstrImaging, Syndrome, Tense, TherapyClass};

pub const ANTIPROLIFERATIVE: RuleSpec = RuleSpec {
    id: "ssa.antiproliferative",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Advanced G1 pNET: long-acting somatostatin analogue (octreotide LAR, lanreotide autogel)",
    detail: "SSAs control tumour growth as well as hormonal symptoms. According to ENETS 2012 they are \
             a viable option in pNETs with a slowly proliferative index (G1) (Table 1: \"always\"). \
             Octreotide LAR reduced the risk of progression by 66.7 % versus placebo; lanreotide \
             autogel 120 mg/month is being tested in pNETs (CLARINET). Objective response is rare \
             (< 10 %), stabilisation frequent (40–80 %), mainly in slow-growing tumours.",
    citation: "Rossi et al. 2014, refs 12, 35–39",
};

pub const G2_LIMITED_EVIDENCE: RuleSpec = RuleSpec {
    id: "ssa.g2-limited-evidence",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Advanced G2 pNET: an SSA may be considered, but efficacy data in G2 are still lacking",
    detail: "According to ENETS 2012, SSAs are a viable option in G1 pNETs, whereas data on the \
             efficacy of SSAs in NET G2 are still lacking. An SSA may be considered; weigh it \
             against the other options for advanced disease.",
    citation: "Rossi et al. 2014, ref 12",
};

pub const NOT_IN_G3: RuleSpec = RuleSpec {
    id: "ssa.not-in-g3",
    kind: Kind::Safety,
    severity: Severity::Critical,
    summary: "SSA planned or running in a metastatic non-functioning G3 tumour: not recommended",
    detail: "In metastatic non-functioning pNETs G3, SSA treatment is not recommended (ENETS 2012). \
             Poorly differentiated NEC G3 are managed mainly with platinum-based chemotherapy.",
    citation: "Rossi et al. 2014, ref 12",
};

pub const NEEDS_RECEPTOR_STATUS: RuleSpec = RuleSpec {
    id: "ssa.needs-receptor-status",
    kind: Kind::Safety,
    severity: Severity::Warning,
    summary: "SSA planned or running without receptor status: SRS and/or octreotide test needed first",
    detail: "Somatostatin receptor scintigraphy (or 68Ga-SSA PET) and/or an octreotide test are \
             needed prior to starting SSA therapy. The octreotide test identifies the patients most \
             likely to respond to chronic SSA administration.",
    citation: "Rossi et al. 2014, ref 34, Table 1",
};

pub const RECEPTOR_NEGATIVE: RuleSpec = RuleSpec {
    id: "ssa.receptor-negative",
    kind: Kind::Safety,
    severity: Severity::Warning,
    summary: "SSA planned although somatostatin-receptor imaging is negative: consider α-interferon instead",
    detail: "SSAs act through somatostatin receptors (octreotide and lanreotide bind mainly SSTR2). \
             The latest receptor imaging is negative and no positive octreotide test is recorded, so \
             a response is unlikely. In somatostatin-receptor-negative tumours α-interferon should \
             be considered instead.",
    citation: "Rossi et al. 2014, refs 12, 34, 45",
};

pub const SYNDROME_CONTROL: RuleSpec = RuleSpec {
    id: "ssa.syndrome-control",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Functioning well-differentiated pNET: SSA to control hormone hypersecretion",
    detail: "In functioning well-differentiated neuroendocrine tumours it is important to control \
             the hormone hypersecretion that causes the symptoms, usually with SSAs; almost all \
             functioning tumours benefit from SSAs.",
    citation: "Rossi et al. 2014, refs 18, 19",
};

pub const GASTRINOMA_PPI: RuleSpec = RuleSpec {
    id: "syndrome.gastrinoma-ppi",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Gastrinoma / Zollinger-Ellison syndrome: high-dose proton pump inhibitor",
    detail: "In the Zollinger-Ellison syndrome the milestone of therapy is the administration of \
             high-dose proton pump inhibitors.",
    citation: "Rossi et al. 2014, refs 19, 25",
};

pub const INSULINOMA_GLUCOSE: RuleSpec = RuleSpec {
    id: "syndrome.insulinoma-glucose",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Insulinoma: frequent small feedings and diazoxide to control hypoglycaemia",
    detail: "The hypoglycaemia typical of insulinoma can be controlled by frequent small feedings \
             and the use of diazoxide.",
    citation: "Rossi et al. 2014, refs 19, 25",
};

pub const ESCALATE_ON_PROGRESSION: RuleSpec = RuleSpec {
    id: "ssa.escalate-on-progression",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Progression on standard-dose SSA: shorten the interval (every 21 days) or use high-dose SSA",
    detail: "In progressive NET or failure to achieve complete control despite standard-dose SSA, \
             options include a shortened interval (every 21 days) or high-dose SSA; 20–40 % of \
             patients need octreotide LAR above 30 mg every 28 days (the maximum FDA-approved dose). \
             Dosing every 21 days restored symptom control, lowered circulating markers and \
             lengthened time to progression; high-dose octreotide pamoate 160 mg stabilised \
             hormone production and tumour growth in 75 %.",
    citation: "Rossi et al. 2014, refs 42–44",
};

pub const RESCUE_OCTREOTIDE: RuleSpec = RuleSpec {
    id: "ssa.rescue-octreotide",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Uncontrolled hormonal symptoms or carcinoid crisis on SSA: immediate-release octreotide rescue",
    detail: "Immediate-release octreotide as rescue medication: 100–500 µg s.c. two to four times \
             daily (a reasonable start is 150 µg s.c. three times daily), or continuous s.c. \
             infusion by pump at 1,000–2,000 µg/day. Escalate the dose until maximum control of \
             symptoms is achieved.",
    citation: "Rossi et al. 2014, ref 21",
};

pub const IFN_CONSIDER: RuleSpec = RuleSpec {
    id: "ifn.consider",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Advanced well-differentiated pNET, G1 progressing or SSTR-negative: consider α-interferon",
    detail: "In G1 tumours, slowly progressive pNETs and/or somatostatin-receptor-negative tumours, \
             α-interferon should be considered, usually in combination with an SSA. Side effects \
             are frequent (flu-like syndrome 80–97 %, weight loss 60 %, fatigue 51 %; bone-marrow \
             and liver toxicity, hyperlipidaemia, autoimmune and psychiatric disorders): tailor the \
             administration to the patient.",
    citation: "Rossi et al. 2014, refs 12, 45",
};

pub const RULES: &[&RuleSpec] = &[
    &ANTIPROLIFERATIVE,
    &G2_LIMITED_EVIDENCE,
    &NOT_IN_G3,
    &NEEDS_RECEPTOR_STATUS,
    &RECEPTOR_NEGATIVE,
    &SYNDROME_CONTROL,
    &GASTRINOMA_PPI,
    &INSULINOMA_GLUCOSE,
    &ESCALATE_ON_PROGRESSION,
    &RESCUE_OCTREOTIDE,
    &IFN_CONSIDER,
];

pub fn evaluate(p: &Picture, out: &mut Vec<Finding>) {
    out.extend(antiproliferative(p));
    out.extend(g2_limited_evidence(p));
    out.extend(not_in_g3(p));
    out.extend(needs_receptor_status(p));
    out.extend(receptor_negative(p));
    out.extend(syndrome_control(p));
    out.extend(gastrinoma_ppi(p));
    out.extend(insulinoma_glucose(p));
    out.extend(escalate_on_progression(p));
    out.extend(rescue_octreotide(p));
    out.extend(ifn_consider(p));
}

/// The latest somatostatin-receptor imaging result: SRS / 68Ga-SSA PET, or a
/// Krenning score (which implies such imaging; `workup.ssr-imaging-missing`
/// counts it the same way).
fn receptor_imaging<'a>(p: &Picture<'a>) -> Option<&'a Fact> {
    p.latest(|k| matches!(k, FactKind::SstrImaging(_) | FactKind::KrenningScore(_)))
}

/// A negative receptor-imaging result: "negative", or Krenning 0 (no uptake).
fn is_negative(f: &Fact) -> bool {
    matches!(f.kind, FactKind::SstrImaging(SstrImaging::Negative) | FactKind::KrenningScore(0))
}

/// The latest receptor imaging, if it is negative.
fn sstr_negative<'a>(p: &Picture<'a>) -> Option<&'a Fact> {
    receptor_imaging(p).filter(|f| is_negative(f))
}

/// The latest receptor imaging, if it is positive: "positive", or Krenning ≥ 2
/// (see the module doc).
fn sstr_positive<'a>(p: &Picture<'a>) -> Option<&'a Fact> {
    receptor_imaging(p).filter(|f| {
        matches!(f.kind, FactKind::SstrImaging(SstrImaging::Positive))
            || matches!(f.kind, FactKind::KrenningScore(s) if s >= super::chemo::PRRT_MIN_KRENNING)
    })
}

/// Evidence for "SSTR imaging not negative": the imaging, or a note that there is none.
fn with_receptor_status(f: Finding, p: &Picture) -> Finding {
    match receptor_imaging(p) {
        Some(img) => f.fact(img),
        None => f.note(
            "No somatostatin-receptor imaging on record (counted as not negative): SRS or \
             68Ga-SSA PET and/or an octreotide test are needed before starting an SSA.",
        ),
    }
}

/// Evidence for "advanced": the first metastasis and the unresectability assessment, whichever hold.
fn with_advanced(mut f: Finding, p: &Picture) -> Finding {
    if let Some((m, _)) = p.metastases().first() {
        f = f.fact(m);
    }
    f.maybe(p.unresectable())
}

/// A note (not a suppression) when the recommended therapy already runs.
fn note_if_running(f: Finding, p: &Picture, class: TherapyClass, what: &str) -> Finding {
    match p.planned_or_running(class) {
        Some((t, therapy)) => {
            let tense = if therapy.tense == Tense::Running { "running" } else { "planned" };
            f.note(format!("{} is already {tense} ({}, {}){what}", capitalise(class.label()), t.source, t.at.date()))
        }
        None => f,
    }
}

/// Upper-cases a leading ASCII letter only: "α-interferon" stays as it is
/// (a capital alpha would read as a Latin A).
fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |first| {
        if first.is_ascii_lowercase() {
            first.to_ascii_uppercase().to_string() + c.as_str()
        } else {
            s.to_string()
        }
    })
}

/// Whether a curative resection made a syndrome's advice moot (spec v2 rows
/// `ssa.syndrome-control`, `syndrome.gastrinoma-ppi`,
/// `syndrome.insulinoma-glucose`): the advice holds when the primary was not
/// curatively resected, or when hormonal symptoms are recorded after the
/// resection as uncontrolled or crisis (the latest symptom observation, so
/// symptoms controlled since do not keep it). `None`: moot.
fn syndrome_persists<'a>(p: &Picture<'a>) -> Option<Persists<'a>> {
    let Some(resection) = p.curative_resection() else {
        return Some(Persists::NotResected);
    };
    let (symptoms, HormonalSymptoms::Uncontrolled | HormonalSymptoms::Crisis) = p.hormonal_symptoms()? else {
        return None;
    };
    (symptoms.at > resection.at).then_some(Persists::SymptomsAfterResection { resection, symptoms })
}

/// Why a syndrome's advice still holds.
enum Persists<'a> {
    NotResected,
    SymptomsAfterResection { resection: &'a Fact, symptoms: &'a Fact },
}

/// Names the resection and the later symptoms when they are why the advice holds.
fn with_persistence(f: Finding, persists: Persists) -> Finding {
    match persists {
        Persists::NotResected => f,
        Persists::SymptomsAfterResection { resection, symptoms } => f.fact(resection).fact(symptoms).note(format!(
            "Hormonal symptoms are uncontrolled ({}) after the curative resection ({}).",
            symptoms.at.date(),
            resection.at.date()
        )),
    }
}

/// Spec (v2): "G1, advanced, SSTR imaging not negative, no SSA running, SSA
/// not failed" [12,35–39]. Paper: "SSAs may be a viable option in pNETs
/// characterized by a slowly proliferative index (G1)"; Table 1: "Always in
/// pNETs characterized by a slowly proliferative index (G1)".
///
/// "Advanced" means metastatic or unresectable (v2: not
/// `unresectable-vascular`). Missing imaging is "not negative" (see the
/// module doc) and adds a note. A running SSA (v2: also a done course whose
/// period contains now) means the advice is followed; a planned one is
/// noted. After an SSA failure the rule stays silent (see the module doc).
pub fn antiproliferative(p: &Picture) -> Option<Finding> {
    ssa_option(p, Grade::G1, &ANTIPROLIFERATIVE)
}

/// Spec (v2): "G2, advanced, SSTR imaging not negative, no SSA running, SSA
/// not failed" [12]. Paper: "data on the efficacy of SSAs in NET G2 are still
/// lacking (12)". Ki-67 strictly between 2 and 3 % is G2 (the spec's
/// grading). Same reading of every criterion as `ssa.antiproliferative`.
pub fn g2_limited_evidence(p: &Picture) -> Option<Finding> {
    ssa_option(p, Grade::G2, &G2_LIMITED_EVIDENCE)
}

fn ssa_option(p: &Picture, grade: Grade, spec: &'static RuleSpec) -> Option<Finding> {
    let pnet = p.pnet?;
    if p.grade() != Some(grade) || p.advanced().is_none() || sstr_negative(p).is_some() {
        return None;
    }
    if p.running(TherapyClass::Ssa).is_some() || p.failed(|c| c == TherapyClass::Ssa).is_some() {
        return None;
    }
    let f = with_grade(Finding::new(spec).fact(pnet), p);
    let f = with_receptor_status(with_advanced(f, p), p);
    Some(note_if_running(f, p, TherapyClass::Ssa, "."))
}

/// Spec: "G3, non-functioning, metastatic, and an SSA planned or running"
/// [12]. Paper: "In metastatic non-functioning pNETs G3, SSA treatment is not
/// recommended." `Critical`: the paper advises against it outright.
///
/// Non-functioning is [`Picture::non_functioning`]: recorded as such, or no
/// functioning syndrome recorded (then a note says so). A functioning G3
/// tumour is outside the paper's statement (SSAs may still control its
/// symptoms), so the rule does not fire for it.
pub fn not_in_g3(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    if p.grade() != Some(Grade::G3) || !p.non_functioning() {
        return None;
    }
    let (metastasis, _) = *p.metastases().first()?;
    let (ssa, _) = p.planned_or_running(TherapyClass::Ssa)?;
    let f = with_grade(Finding::new(&NOT_IN_G3).fact(pnet), p).fact(metastasis);
    let f = match p.syndrome(Syndrome::NonFunctioning) {
        Some(nf) => f.fact(nf),
        None => f.note("No functioning syndrome recorded: counted as non-functioning."),
    };
    Some(f.fact(ssa))
}

/// Spec: "SSA planned or running, no SSTR imaging and no octreotide test"
/// [34, Table 1]. Table 1: "Somatostatin receptor scintigraphy and/or
/// Octreotide test are needed prior to start the therapy"; paper: "an
/// octreotide test may be performed prior to start medical therapy with SSAs
/// to identify the subgroup of patients most likely to be responsive (34)".
///
/// SSTR imaging is SRS or 68Ga-SSA PET, or a Krenning score (which implies
/// it); any result up to now counts, even one obtained after the SSA was
/// started, because the point of the alert is that receptor status is known.
/// A negative result is not this rule's concern (the SSA recommendations
/// then stop and `ifn.consider` may apply).
pub fn needs_receptor_status(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let (ssa, _) = p.planned_or_running(TherapyClass::Ssa)?;
    if receptor_imaging(p).is_some() || p.octreotide_test().is_some() {
        return None;
    }
    Some(
        Finding::new(&NEEDS_RECEPTOR_STATUS)
            .fact(pnet)
            .fact(ssa)
            .note("No somatostatin-receptor imaging (SRS or 68Ga-SSA PET) and no octreotide test recorded."),
    )
}

/// Spec (new in v2): "SSA planned (not yet running), latest SSTR imaging
/// negative (or Krenning 0), and no positive octreotide test" [12,34,45].
/// Paper: "functioning and non-functioning pNETs express at least one of the
/// five subtypes of somatostatin receptors ... octreotide and lanreotide bind
/// mainly to SSTR2"; "an octreotide test may be performed prior to start
/// medical therapy with SSAs to identify the subgroup of patients most likely
/// to be responsive (34)"; "in case of ... somatostatin receptors-negative
/// tumors, IFN treatment should be considered (12,45)".
///
/// "No positive octreotide test": the latest octreotide test is not positive
/// (or there is none), read like the imaging, by its latest result. A
/// warning: the plan is unlikely to help, not dangerous; once the SSA runs
/// the decision has been taken and the rule is silent.
pub fn receptor_negative(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let (plan, _) = p.planned(TherapyClass::Ssa)?;
    if p.running(TherapyClass::Ssa).is_some() {
        return None;
    }
    let negative = sstr_negative(p)?;
    let octreotide = p.octreotide_test();
    if octreotide.is_some_and(|(_, positive)| positive) {
        return None;
    }
    let f = Finding::new(&RECEPTOR_NEGATIVE).fact(pnet).fact(plan).fact(negative);
    Some(match octreotide {
        Some((test, _)) => f.fact(test),
        None => f.note("No octreotide test recorded."),
    })
}

/// Spec (v2): "functioning, well-differentiated, no SSA running, and either
/// not curatively resected or hormonal symptoms `uncontrolled` / `crisis`
/// recorded after the resection; for insulinoma only with positive SSTR
/// imaging, and the detail warns that SSAs can deepen hypoglycaemia"
/// [18,19]. Paper: "In case of functioning well-differentiated
/// neuroendocrine tumors, it is important to control the hormone
/// hypersecretion, which determines symptoms, usually by the administration
/// of SSAs (18,19)."
///
/// Functioning: a functioning syndrome is recorded (insulinoma, gastrinoma,
/// glucagonoma, VIPoma, somatostatinoma). A running SSA means the advice is
/// followed (silent); a planned one is noted. Insulinoma: the warning is
/// not in the source paper but standard pharmacology (SSAs also suppress
/// the counter-regulatory hormones and can deepen hypoglycaemia); positive
/// imaging is read as in the module doc.
pub fn syndrome_control(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let (s, syndrome) = p.functioning_syndrome()?;
    if !p.well_differentiated() || p.running(TherapyClass::Ssa).is_some() {
        return None;
    }
    let persists = syndrome_persists(p)?;
    let mut f = with_grade(Finding::new(&SYNDROME_CONTROL).fact(pnet).fact(s), p);
    if syndrome == Syndrome::Insulinoma {
        let positive = sstr_positive(p)?;
        f = f.fact(positive).note(
            "Insulinoma: SSAs can deepen hypoglycaemia (they also suppress the counter-regulatory \
             hormones; caution not stated in the source paper). Advised only because receptor imaging \
             is positive; monitor glucose closely when starting, see `syndrome.insulinoma-glucose`.",
        );
    }
    let f = with_persistence(f, persists);
    Some(note_if_running(f, p, TherapyClass::Ssa, "."))
}

/// Spec (v2): "gastrinoma / Zollinger-Ellison, and not curatively resected
/// or symptoms recorded after the resection" [19,25]. Paper: "In the
/// Zollinger-Ellison syndrome, the milestone of therapy is the administration
/// of high-dose proton pump inhibitors (19,25)." "Symptoms after the
/// resection" is read as for `ssa.syndrome-control`: the latest symptom
/// observation, after the resection, says uncontrolled or crisis. A planned
/// or running PPI is noted, not treated as satisfying the rule (the record
/// does not say whether the dose is high).
pub fn gastrinoma_ppi(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let s = p.syndrome(Syndrome::Gastrinoma)?;
    let persists = syndrome_persists(p)?;
    let f = with_persistence(Finding::new(&GASTRINOMA_PPI).fact(pnet).fact(s), persists);
    Some(note_if_running(f, p, TherapyClass::ProtonPumpInhibitor, ": check that the dose is high."))
}

/// Spec (v2): "insulinoma, and not curatively resected or symptoms recorded
/// after the resection" [19,25]. Paper: "the hypoglycemia typical of
/// insulinoma can be controlled by frequent small feedings and the use of
/// diazoxide (19,25)." Symptoms after the resection as for
/// `syndrome.gastrinoma-ppi`; a planned or running diazoxide is noted, not
/// treated as satisfying the rule (feedings are not recorded).
pub fn insulinoma_glucose(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let s = p.syndrome(Syndrome::Insulinoma)?;
    let persists = syndrome_persists(p)?;
    let f = with_persistence(Finding::new(&INSULINOMA_GLUCOSE).fact(pnet).fact(s), persists);
    Some(note_if_running(f, p, TherapyClass::Diazoxide, "."))
}

/// Spec (v2): "progression after the start of the current SSA course, while
/// it runs at standard dose" [42–44]: an SSA running whose newest record is
/// not escalated (high dose or interval ≤ 21 days), and the latest determined
/// disease-course observation says progression. Paper:
/// "In case of progressive NET or failure to achieve complete control of
/// disease despite standard dose of SSAs, possible alternative options include
/// a shortened interval (i.e., every 21 days) of SSA administration or high
/// dose SSAs."
///
/// v2: the progression must be observed after the start of the **current**
/// SSA course ([`Picture::course_start`]: the earliest running record after
/// the class's last done record), strictly later, as for prior therapy
/// failure. A progression that led to starting the SSA, or one between two
/// courses, is not a progression *despite* the SSA now given. This rule is
/// what takes over from `ssa.antiproliferative` after an SSA failure; its
/// evidence names the course start and the progression.
pub fn escalate_on_progression(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let (ssa, therapy) = p.running(TherapyClass::Ssa)?;
    if therapy.escalated {
        return None;
    }
    let progression = p.progression()?;
    let start = p.course_start(TherapyClass::Ssa)?;
    if start.at >= progression.at {
        return None;
    }
    Some(Finding::new(&ESCALATE_ON_PROGRESSION).fact(pnet).fact(start).fact(ssa).fact(progression))
}

/// Spec: "uncontrolled hormonal symptoms (or carcinoid crisis) while on SSA"
/// [21]: the latest hormonal-symptom observation says uncontrolled or crisis,
/// and an SSA is running. Paper: "in case of uncontrolled symptoms despite
/// standard SSA therapy or in case of carcinoid crisis, the use of immediate
/// release octreotide as 'rescue' medication is suggested (21)".
///
/// Escalated SSA does not silence it (rescue applies on top). When the latest
/// symptom observation predates the current SSA course, the rule still fires (the
/// symptoms are uncontrolled as far as the record knows, and short-acting
/// octreotide bridges the start of a depot SSA) with a note to reassess.
pub fn rescue_octreotide(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let (ssa, _) = p.running(TherapyClass::Ssa)?;
    let (symptoms, HormonalSymptoms::Uncontrolled | HormonalSymptoms::Crisis) = p.hormonal_symptoms()? else {
        return None;
    };
    let mut f = Finding::new(&RESCUE_OCTREOTIDE).fact(pnet).fact(ssa).fact(symptoms);
    if p.course_start(TherapyClass::Ssa).is_some_and(|start| symptoms.at < start.at) {
        f = f.note("The latest symptom assessment predates the start of the SSA: reassess symptom control on SSA.");
    }
    Some(f)
}

/// Spec (v2): "advanced well-differentiated, no interferon running,
/// interferon not failed, and either G1 with progression or SSTR-negative
/// imaging" [12,45]. Paper: "in case of G1 tumors, slowly
/// progressive pNETs and/or somatostatin receptors-negative tumors, IFN
/// treatment should be considered; due to the frequent occurrence of side
/// effects, the administration of IFN must be tailored to the single patient
/// (12,45)"; "usually administered in combination with SSA therapy".
///
/// Progression is the latest determined disease-course observation;
/// SSTR-negative is the latest receptor imaging negative (or Krenning 0).
/// Missing imaging is not negative. Running interferon (also a done course
/// whose period contains now) means the advice is followed; a planned one is
/// noted. After an interferon failure the next line takes over.
pub fn ifn_consider(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    if !p.well_differentiated() || p.advanced().is_none() {
        return None;
    }
    if p.running(TherapyClass::Interferon).is_some() || p.failed(|c| c == TherapyClass::Interferon).is_some() {
        return None;
    }
    let g1_progression = if p.grade() == Some(Grade::G1) { p.progression() } else { None };
    let negative = sstr_negative(p);
    if g1_progression.is_none() && negative.is_none() {
        return None;
    }
    let f = with_advanced(with_grade(Finding::new(&IFN_CONSIDER).fact(pnet), p), p);
    let f = f.maybe(g1_progression).maybe(negative);
    Some(note_if_running(f, p, TherapyClass::Interferon, "."))
}

#[cfg(test)]
mod tests {
    use crate::alert::Severity;
    use crate::facts::{
        DiseaseStatus, FactKind, HormonalSymptoms, MetastasisSite, Recist, Resectability, ResectionOutcome,
        SstrImaging, Syndrome, Tense, Therapy, TherapyClass,
    };
    use crate::rules::testkit::*;

    const NOW: &str = "2024-06-01";
    const ANTI: &str = "ssa.antiproliferative";
    const G2: &str = "ssa.g2-limited-evidence";
    const G3: &str = "ssa.not-in-g3";
    const RECEPTOR: &str = "ssa.needs-receptor-status";
    const NEGATIVE: &str = "ssa.receptor-negative";
    const SYNDROME: &str = "ssa.syndrome-control";
    const PPI: &str = "syndrome.gastrinoma-ppi";
    const INSULINOMA: &str = "syndrome.insulinoma-glucose";
    const ESCALATE: &str = "ssa.escalate-on-progression";
    const RESCUE: &str = "ssa.rescue-octreotide";
    const IFN: &str = "ifn.consider";

    fn sstr(r: SstrImaging) -> FactKind {
        FactKind::SstrImaging(r)
    }
    fn ssa(tense: Tense) -> FactKind {
        therapy(TherapyClass::Ssa, tense)
    }
    fn escalated_ssa() -> FactKind {
        FactKind::Therapy(Therapy {
            class: TherapyClass::Ssa,
            tense: Tense::Running,
            escalated: true,
            outcome: None,
            until: None,
        })
    }
    fn refs(p: &Patient, now: &str, rule: &str) -> Vec<String> {
        p.alerts(now, rule)[0].evidence.iter().map(|e| e.reference.as_str().to_string()).collect()
    }
    /// Graded pNET with liver metastases and positive SSTR imaging.
    fn advanced(k: f64) -> Patient {
        Patient::pnet()
            .on("2024-01-05", ki67(k))
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-01-20", sstr(SstrImaging::Positive))
    }

    #[test]
    fn ssa_option_by_grade_boundary() {
        for (k, g1, g2) in
            [(2.0, true, false), (2.5, false, true), (3.0, false, true), (20.0, false, true), (20.1, false, false)]
        {
            let p = advanced(k);
            assert_eq!(p.fires(NOW, ANTI), g1, "Ki-67 {k}: antiproliferative");
            assert_eq!(p.fires(NOW, G2), g2, "Ki-67 {k}: G2");
        }
        // Mitoses raise the grade: Ki-67 2 % with 5 mitoses is G2.
        let p = advanced(2.0).on("2024-01-06", mitoses(5.0));
        assert!(!p.fires(NOW, ANTI));
        assert!(p.fires(NOW, G2));
        // No grade: neither.
        let ungraded = Patient::pnet().on("2024-01-10", metastasis(MetastasisSite::Liver));
        assert!(!ungraded.fires(NOW, ANTI) && !ungraded.fires(NOW, G2));
    }

    #[test]
    fn ssa_option_needs_advanced_disease() {
        let local = Patient::pnet().on("2024-01-05", ki67(1.0)).on("2024-01-20", sstr(SstrImaging::Positive));
        assert!(!local.fires(NOW, ANTI));
        assert!(local.clone().on("2024-02-01", FactKind::Resectability(Resectability::Unresectable)).fires(NOW, ANTI));
        assert!(local.clone().on("2024-02-01", FactKind::Resectability(Resectability::Below90)).fires(NOW, ANTI));
        assert!(!local.clone().on("2024-02-01", FactKind::Resectability(Resectability::AtLeast90)).fires(NOW, ANTI));
        assert!(local.clone().on("2024-02-01", involvement(10.0)).fires(NOW, ANTI));
        assert!(local.clone().on("2024-02-01", metastasis(MetastasisSite::Bone)).fires(NOW, ANTI));
        let g2 = Patient::pnet().on("2024-01-05", ki67(10.0)).on("2024-01-20", sstr(SstrImaging::Positive));
        assert!(!g2.fires(NOW, G2));
        assert!(g2.on("2024-02-01", FactKind::LiverResectable(false)).fires(NOW, G2));
    }

    #[test]
    fn ssa_option_and_receptor_imaging() {
        let no_imaging =
            |k: f64| Patient::pnet().on("2024-01-05", ki67(k)).on("2024-01-10", metastasis(MetastasisSite::Liver));
        for (k, rule) in [(1.0, ANTI), (10.0, G2)] {
            // Missing imaging is "not negative", with a note.
            let a = no_imaging(k).alerts(NOW, rule);
            assert_eq!(a.len(), 1, "{rule}");
            assert!(a[0].detail.contains("No somatostatin-receptor imaging on record"), "{}", a[0].detail);
            assert!(no_imaging(k).on("2024-01-20", sstr(SstrImaging::Equivocal)).fires(NOW, rule));
            assert!(no_imaging(k).on("2024-01-20", FactKind::KrenningScore(2)).fires(NOW, rule));
            assert!(!no_imaging(k).on("2024-01-20", sstr(SstrImaging::Negative)).fires(NOW, rule), "{rule}");
            assert!(!no_imaging(k).on("2024-01-20", FactKind::KrenningScore(0)).fires(NOW, rule), "{rule}");
            // The latest imaging counts.
            let turned = no_imaging(k)
                .on("2024-01-20", sstr(SstrImaging::Negative))
                .on("2024-03-01", sstr(SstrImaging::Positive));
            assert!(turned.fires(NOW, rule));
            let lost = no_imaging(k)
                .on("2024-01-20", sstr(SstrImaging::Positive))
                .on("2024-03-01", sstr(SstrImaging::Negative));
            assert!(!lost.fires(NOW, rule));
        }
    }

    #[test]
    fn ssa_option_evidence() {
        let p = advanced(1.0);
        let a = &p.alerts(NOW, ANTI)[0];
        assert_eq!(refs(&p, NOW, ANTI), ["Condition/f1", "Observation/f2", "Condition/f3", "Observation/f4"]);
        assert!(a.evidence[1].fact.contains("WHO grade G1"), "{:?}", a.evidence);
        assert_eq!((a.kind, a.severity), (crate::Kind::Recommendation, Severity::Info));
        assert_eq!(a.citation, "Rossi et al. 2014, refs 12, 35–39");
        // A planned SSA is noted.
        let planned = p.on("2024-02-01", ssa(Tense::Planned));
        assert!(planned.alerts(NOW, ANTI)[0].detail.contains("Somatostatin analogue is already planned"));
    }

    #[test]
    fn ssa_option_silent_while_an_ssa_runs_or_after_it_failed() {
        for (k, rule) in [(1.0, ANTI), (10.0, G2)] {
            let p = advanced(k);
            assert!(p.fires(NOW, rule));
            // v2: a running SSA means the advice is followed.
            assert!(!p.clone().on("2024-02-01", ssa(Tense::Running)).fires(NOW, rule), "{rule}");
            // A done course whose period contains now is running; after its end it is not.
            let course = p.clone().on("2024-02-01", course_until(TherapyClass::Ssa, "2024-07-01"));
            assert!(!course.fires(NOW, rule), "{rule}");
            assert!(course.fires("2024-07-01", rule), "{rule}");
            // A done course without an end is done, not running.
            assert!(p.clone().on("2024-02-01", ssa(Tense::Done)).fires(NOW, rule), "{rule}");
            // SSA failed (started before a later progression): not offered again.
            let failed = p
                .clone()
                .on("2024-02-01", ssa(Tense::Done))
                .on("2024-04-01", status(DiseaseStatus::Worsened))
                .on("2024-05-01", status(DiseaseStatus::Stable));
            assert!(!failed.fires(NOW, rule), "{rule}");
            // A progression before the SSA is not its failure.
            let before = p
                .clone()
                .on("2024-01-25", status(DiseaseStatus::Worsened))
                .on("2024-02-01", ssa(Tense::Done))
                .on("2024-05-01", status(DiseaseStatus::Stable));
            assert!(before.fires(NOW, rule), "{rule}");
        }
    }

    #[test]
    fn not_in_g3_planned_or_running() {
        let g3 = advanced(20.1);
        for tense in [Tense::Planned, Tense::Running] {
            let p = g3.clone().on("2024-02-01", ssa(tense));
            let a = p.alerts(NOW, G3);
            assert_eq!(a.len(), 1, "{tense:?}");
            assert_eq!((a[0].kind, a[0].severity), (crate::Kind::Safety, Severity::Critical));
            assert_eq!(refs(&p, NOW, G3), ["Condition/f1", "Observation/f2", "Condition/f3", "Procedure/f5"]);
            assert!(a[0].detail.contains("counted as non-functioning"));
        }
        assert!(!g3.fires(NOW, G3));
        assert!(!g3.clone().on("2024-02-01", ssa(Tense::Done)).fires(NOW, G3));
        // G2 at the boundary.
        assert!(!advanced(20.0).on("2024-02-01", ssa(Tense::Planned)).fires(NOW, G3));
        // Functioning G3: outside the statement.
        let functioning = g3.clone().on("2024-01-02", FactKind::Syndrome(Syndrome::Vipoma));
        assert!(!functioning.on("2024-02-01", ssa(Tense::Planned)).fires(NOW, G3));
        // Recorded as non-functioning: named as evidence.
        let nf = g3
            .clone()
            .on("2024-01-02", FactKind::Syndrome(Syndrome::NonFunctioning))
            .on("2024-02-01", ssa(Tense::Planned));
        assert!(refs(&nf, NOW, G3).contains(&"Condition/f5".to_string()));
        // Not metastatic (only locally unresectable).
        let local = Patient::pnet()
            .on("2024-01-05", ki67(40.0))
            .on("2024-01-10", FactKind::Resectability(Resectability::Unresectable))
            .on("2024-02-01", ssa(Tense::Planned));
        assert!(!local.fires(NOW, G3));
        // G3 from a carcinoma diagnosis without measures.
        let nec = Patient::pnet()
            .on("2024-01-02", FactKind::NecDiagnosis)
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-02-01", ssa(Tense::Running));
        assert!(nec.fires(NOW, G3));
    }

    #[test]
    fn needs_receptor_status_planned_or_running() {
        for tense in [Tense::Planned, Tense::Running] {
            let p = Patient::pnet().on("2024-02-01", ssa(tense));
            let a = p.alerts(NOW, RECEPTOR);
            assert_eq!(a.len(), 1, "{tense:?}");
            assert_eq!(a[0].severity, Severity::Warning);
            assert_eq!(refs(&p, NOW, RECEPTOR), ["Condition/f1", "Procedure/f2"]);
            assert!(a[0].detail.contains("no octreotide test recorded"));
            assert_eq!(a[0].citation, "Rossi et al. 2014, ref 34, Table 1");
        }
        let planned = Patient::pnet().on("2024-02-01", ssa(Tense::Planned));
        assert!(!Patient::pnet().fires(NOW, RECEPTOR));
        assert!(!Patient::pnet().on("2024-02-01", ssa(Tense::Done)).fires(NOW, RECEPTOR));
        for status in [
            sstr(SstrImaging::Positive),
            sstr(SstrImaging::Negative),
            FactKind::KrenningScore(3),
            FactKind::OctreotideTest { positive: true },
            FactKind::OctreotideTest { positive: false },
        ] {
            assert!(!planned.clone().on("2024-01-20", status.clone()).fires(NOW, RECEPTOR), "{status:?}");
        }
        // A result dated after "now" is not known yet.
        assert!(planned.on("2024-07-01", sstr(SstrImaging::Positive)).fires(NOW, RECEPTOR));
    }

    #[test]
    fn syndrome_control_for_functioning_well_differentiated() {
        let gastrinoma = |k: f64| {
            Patient::pnet().on("2024-01-02", FactKind::Syndrome(Syndrome::Gastrinoma)).on("2024-01-05", ki67(k))
        };
        for k in [2.0, 2.5, 3.0, 20.0] {
            assert!(gastrinoma(k).fires(NOW, SYNDROME), "Ki-67 {k}");
        }
        assert!(!gastrinoma(20.1).fires(NOW, SYNDROME));
        assert_eq!(refs(&gastrinoma(12.0), NOW, SYNDROME), ["Condition/f1", "Condition/f2", "Observation/f3"]);
        // Non-functioning, recorded or by default.
        assert!(!Patient::pnet().on("2024-01-05", ki67(12.0)).fires(NOW, SYNDROME));
        let nf =
            Patient::pnet().on("2024-01-02", FactKind::Syndrome(Syndrome::NonFunctioning)).on("2024-01-05", ki67(12.0));
        assert!(!nf.fires(NOW, SYNDROME));
        // Grade unknown.
        assert!(!Patient::pnet().on("2024-01-02", FactKind::Syndrome(Syndrome::Gastrinoma)).fires(NOW, SYNDROME));
        assert!(!gastrinoma(12.0).alerts(NOW, SYNDROME)[0].detail.contains("hypoglycaemia"));
        // v2: a running SSA means the advice is followed; a planned one is noted.
        assert!(!gastrinoma(12.0).on("2024-02-01", ssa(Tense::Running)).fires(NOW, SYNDROME));
        let planned = gastrinoma(12.0).on("2024-02-01", ssa(Tense::Planned));
        assert!(planned.alerts(NOW, SYNDROME)[0].detail.contains("already planned"));
    }

    #[test]
    fn syndrome_control_in_insulinoma_needs_positive_receptor_imaging() {
        let ins =
            Patient::pnet().on("2024-01-02", FactKind::Syndrome(Syndrome::Insulinoma)).on("2024-01-05", ki67(1.0));
        assert!(!ins.fires(NOW, SYNDROME), "no receptor imaging");
        for (imaging, advised) in [
            (sstr(SstrImaging::Positive), true),
            (sstr(SstrImaging::Negative), false),
            (sstr(SstrImaging::Equivocal), false),
            (FactKind::KrenningScore(0), false),
            (FactKind::KrenningScore(1), false),
            (FactKind::KrenningScore(2), true),
        ] {
            let p = ins.clone().on("2024-01-20", imaging.clone());
            assert_eq!(p.fires(NOW, SYNDROME), advised, "{imaging:?}");
            if advised {
                let a = &p.alerts(NOW, SYNDROME)[0];
                assert!(a.detail.contains("SSAs can deepen hypoglycaemia"), "{}", a.detail);
                assert!(refs(&p, NOW, SYNDROME).contains(&"Observation/f4".to_string()), "imaging named");
            }
        }
        // The latest imaging counts.
        let lost = ins.on("2024-01-20", sstr(SstrImaging::Positive)).on("2024-03-01", sstr(SstrImaging::Negative));
        assert!(!lost.fires(NOW, SYNDROME));
    }

    #[test]
    fn a_curative_resection_ends_the_syndrome_advice_unless_symptoms_persist() {
        let syndrome = |s: Syndrome| {
            Patient::pnet()
                .on("2024-01-02", FactKind::Syndrome(s))
                .on("2024-01-05", ki67(1.0))
                .on("2024-01-06", sstr(SstrImaging::Positive))
        };
        for (s, rule) in [
            (Syndrome::Gastrinoma, SYNDROME),
            (Syndrome::Vipoma, SYNDROME),
            (Syndrome::Insulinoma, SYNDROME),
            (Syndrome::Gastrinoma, PPI),
            (Syndrome::Insulinoma, INSULINOMA),
        ] {
            let p = syndrome(s);
            assert!(p.fires(NOW, rule), "{s:?} {rule}");
            let resected = p.clone().on("2024-03-01", resection(ResectionOutcome::Curative));
            assert!(!resected.fires(NOW, rule), "{s:?} {rule}");
            // Debulking does not end it.
            assert!(p.clone().on("2024-03-01", resection(ResectionOutcome::Debulking)).fires(NOW, rule));
            // Uncontrolled symptoms (or crisis) after the resection bring it back, naming both.
            for symptoms in [HormonalSymptoms::Uncontrolled, HormonalSymptoms::Crisis] {
                let back = resected.clone().on("2024-04-01", FactKind::HormonalSymptoms(symptoms));
                let a = back.alerts(NOW, rule);
                assert_eq!(a.len(), 1, "{s:?} {rule} {symptoms:?}");
                assert!(a[0].detail.contains("after the curative resection (2024-03-01)"), "{}", a[0].detail);
            }
            // Symptoms recorded before the resection, or controlled after it, do not.
            let before = syndrome(s)
                .on("2024-02-01", FactKind::HormonalSymptoms(HormonalSymptoms::Uncontrolled))
                .on("2024-03-01", resection(ResectionOutcome::Curative));
            assert!(!before.fires(NOW, rule), "{s:?} {rule}");
            let controlled = resected.on("2024-04-01", FactKind::HormonalSymptoms(HormonalSymptoms::Controlled));
            assert!(!controlled.fires(NOW, rule), "{s:?} {rule}");
        }
    }

    #[test]
    fn syndromes_ppi_and_glucose() {
        let gastrinoma = Patient::pnet().on("2024-01-02", FactKind::Syndrome(Syndrome::Gastrinoma));
        let insulinoma = Patient::pnet().on("2024-01-02", FactKind::Syndrome(Syndrome::Insulinoma));
        assert!(gastrinoma.fires(NOW, PPI) && !gastrinoma.fires(NOW, INSULINOMA));
        assert!(insulinoma.fires(NOW, INSULINOMA) && !insulinoma.fires(NOW, PPI));
        assert!(!Patient::pnet().fires(NOW, PPI) && !Patient::pnet().fires(NOW, INSULINOMA));
        assert_eq!(refs(&gastrinoma, NOW, PPI), ["Condition/f1", "Condition/f2"]);
        // Grade does not matter.
        assert!(gastrinoma.clone().on("2024-01-05", ki67(40.0)).fires(NOW, PPI));
        // Already treated: still fires, with a note.
        let on_ppi = gastrinoma.on("2024-02-01", therapy(TherapyClass::ProtonPumpInhibitor, Tense::Running));
        let a = &on_ppi.alerts(NOW, PPI)[0];
        assert!(a.detail.contains("Proton pump inhibitor is already running"), "{}", a.detail);
        let on_diazoxide = insulinoma.clone().on("2024-02-01", therapy(TherapyClass::Diazoxide, Tense::Planned));
        assert!(on_diazoxide.alerts(NOW, INSULINOMA)[0].detail.contains("Diazoxide is already planned"));
        assert!(!insulinoma.alerts(NOW, INSULINOMA)[0].detail.contains("already"));
    }

    #[test]
    fn escalate_on_progression_at_standard_dose() {
        let on_ssa = advanced(12.0).on("2024-02-01", ssa(Tense::Running));
        let p = on_ssa.clone().on("2024-05-01", status(DiseaseStatus::Worsened));
        assert!(p.fires(NOW, ESCALATE));
        assert_eq!(refs(&p, NOW, ESCALATE), ["Condition/f1", "Procedure/f5", "Observation/f6"]);
        assert!(on_ssa.clone().on("2024-05-01", FactKind::Recist(Recist::ProgressiveDisease)).fires(NOW, ESCALATE));
        // No progression, or a later stable assessment.
        assert!(!on_ssa.fires(NOW, ESCALATE));
        assert!(!p.clone().on("2024-05-20", status(DiseaseStatus::Stable)).fires(NOW, ESCALATE));
        // Already escalated.
        assert!(!p.clone().on("2024-05-10", escalated_ssa()).fires(NOW, ESCALATE));
        // Planned or stopped SSA is not "running".
        let planned =
            advanced(12.0).on("2024-02-01", ssa(Tense::Planned)).on("2024-05-01", status(DiseaseStatus::Worsened));
        assert!(!planned.fires(NOW, ESCALATE));
        let done = advanced(12.0).on("2024-02-01", ssa(Tense::Done)).on("2024-05-01", status(DiseaseStatus::Worsened));
        assert!(!done.fires(NOW, ESCALATE));
        // Progression that led to starting the SSA (same day or before).
        for day in ["2024-01-25", "2024-02-01"] {
            let before = advanced(12.0).on(day, status(DiseaseStatus::Worsened)).on("2024-02-01", ssa(Tense::Running));
            assert!(!before.fires(NOW, ESCALATE), "progression {day}");
        }
    }

    #[test]
    fn rescue_octreotide_on_ssa() {
        let on_ssa = Patient::pnet()
            .on("2024-01-02", FactKind::Syndrome(Syndrome::Vipoma))
            .on("2024-02-01", ssa(Tense::Running));
        for s in [HormonalSymptoms::Uncontrolled, HormonalSymptoms::Crisis] {
            let p = on_ssa.clone().on("2024-03-01", FactKind::HormonalSymptoms(s));
            assert!(p.fires(NOW, RESCUE), "{s:?}");
            assert_eq!(refs(&p, NOW, RESCUE), ["Condition/f1", "Procedure/f3", "Observation/f4"]);
            assert!(!p.alerts(NOW, RESCUE)[0].detail.contains("predates"));
        }
        // Escalated SSA: rescue still applies.
        assert!(on_ssa
            .clone()
            .on("2024-02-15", escalated_ssa())
            .on("2024-03-01", FactKind::HormonalSymptoms(HormonalSymptoms::Crisis))
            .fires(NOW, RESCUE));
        // Controlled now.
        let controlled = on_ssa
            .clone()
            .on("2024-03-01", FactKind::HormonalSymptoms(HormonalSymptoms::Uncontrolled))
            .on("2024-04-01", FactKind::HormonalSymptoms(HormonalSymptoms::Controlled));
        assert!(!controlled.fires(NOW, RESCUE));
        // Not on SSA, or only planned.
        let symptoms = FactKind::HormonalSymptoms(HormonalSymptoms::Uncontrolled);
        assert!(!Patient::pnet().on("2024-03-01", symptoms.clone()).fires(NOW, RESCUE));
        assert!(!Patient::pnet()
            .on("2024-02-01", ssa(Tense::Planned))
            .on("2024-03-01", symptoms.clone())
            .fires(NOW, RESCUE));
        // Assessment older than the SSA course: fires, asks to reassess.
        let old = Patient::pnet().on("2024-01-15", symptoms).on("2024-02-01", ssa(Tense::Running));
        assert!(old.alerts(NOW, RESCUE)[0].detail.contains("predates the start of the SSA"));
    }

    #[test]
    fn ifn_for_progressing_g1_or_receptor_negative() {
        let worse = status(DiseaseStatus::Worsened);
        // G1 with progression.
        let g1 = advanced(2.0).on("2024-04-01", worse.clone());
        assert!(g1.fires(NOW, IFN));
        assert_eq!(refs(&g1, NOW, IFN), ["Condition/f1", "Observation/f2", "Condition/f3", "Observation/f5"]);
        assert!(!advanced(2.0).fires(NOW, IFN));
        // G2 with progression but positive imaging: no.
        assert!(!advanced(2.5).on("2024-04-01", worse.clone()).fires(NOW, IFN));
        assert!(!advanced(20.0).on("2024-04-01", worse.clone()).fires(NOW, IFN));
        // Receptor-negative, G1 or G2.
        for k in [2.0, 2.5, 3.0, 20.0] {
            let neg = advanced(k).on("2024-03-01", sstr(SstrImaging::Negative));
            assert!(neg.fires(NOW, IFN), "Ki-67 {k}");
            assert!(refs(&neg, NOW, IFN).contains(&"Observation/f5".to_string()));
        }
        // G3 never.
        assert!(!advanced(20.1)
            .on("2024-03-01", sstr(SstrImaging::Negative))
            .on("2024-04-01", worse.clone())
            .fires(NOW, IFN));
        // Not advanced.
        let local = Patient::pnet().on("2024-01-05", ki67(1.0)).on("2024-03-01", sstr(SstrImaging::Negative));
        assert!(!local.fires(NOW, IFN));
        // Missing imaging is not negative.
        let unimaged = Patient::pnet().on("2024-01-05", ki67(10.0)).on("2024-01-10", metastasis(MetastasisSite::Liver));
        assert!(!unimaged.fires(NOW, IFN));
        // Progression followed by stability: no longer progression.
        assert!(!g1.on("2024-05-01", status(DiseaseStatus::Stable)).fires(NOW, IFN));
    }

    #[test]
    fn receptor_negative_when_an_ssa_is_planned() {
        let planned = |imaging: FactKind| {
            Patient::pnet().on("2024-01-05", ki67(1.0)).on("2024-01-20", imaging).on("2024-02-01", ssa(Tense::Planned))
        };
        // Krenning 0 (no uptake) is negative; Krenning 1 is not.
        for (imaging, fires) in [
            (sstr(SstrImaging::Negative), true),
            (FactKind::KrenningScore(0), true),
            (FactKind::KrenningScore(1), false),
            (sstr(SstrImaging::Equivocal), false),
            (sstr(SstrImaging::Positive), false),
        ] {
            assert_eq!(planned(imaging.clone()).fires(NOW, NEGATIVE), fires, "{imaging:?}");
        }
        let p = planned(sstr(SstrImaging::Negative));
        let a = &p.alerts(NOW, NEGATIVE)[0];
        assert_eq!((a.kind, a.severity), (crate::Kind::Safety, Severity::Warning));
        assert_eq!(refs(&p, NOW, NEGATIVE), ["Condition/f1", "Procedure/f4", "Observation/f3"]);
        assert!(a.detail.contains("No octreotide test recorded"), "{}", a.detail);
        assert_eq!(a.citation, "Rossi et al. 2014, refs 12, 34, 45");
        // A positive octreotide test (the latest one) lifts it; a negative one is named.
        let positive = p.clone().on("2024-01-25", FactKind::OctreotideTest { positive: true });
        assert!(!positive.fires(NOW, NEGATIVE));
        let turned = positive.clone().on("2024-01-28", FactKind::OctreotideTest { positive: false });
        assert!(refs(&turned, NOW, NEGATIVE).contains(&"Observation/f6".to_string()));
        // Once the SSA runs, the decision is taken: silent (and so is a plan after it).
        assert!(!p.clone().on("2024-03-01", ssa(Tense::Running)).fires(NOW, NEGATIVE));
        let running_then_plan = Patient::pnet()
            .on("2024-01-20", sstr(SstrImaging::Negative))
            .on("2024-02-01", ssa(Tense::Running))
            .on("2024-03-01", ssa(Tense::Planned));
        assert!(!running_then_plan.fires(NOW, NEGATIVE));
        // No plan, or imaging not negative any more.
        assert!(!Patient::pnet().on("2024-01-20", sstr(SstrImaging::Negative)).fires(NOW, NEGATIVE));
        assert!(!p.on("2024-03-01", sstr(SstrImaging::Positive)).fires(NOW, NEGATIVE));
    }

    /// Review defect (4): the progression must follow the start of the
    /// current SSA course. v1 took the oldest running SSA record ever, so a
    /// progression between two courses counted.
    #[test]
    fn escalate_only_on_progression_during_the_current_course() {
        let between_courses = advanced(12.0)
            .on("2023-01-10", ssa(Tense::Running))
            .on("2023-06-01", ssa(Tense::Done))
            .on("2023-09-01", status(DiseaseStatus::Worsened))
            .on("2023-11-01", ssa(Tense::Running));
        assert!(!between_courses.fires(NOW, ESCALATE));
        // A progression on the second course counts, and its start is named.
        let on_second = between_courses.on("2024-03-01", status(DiseaseStatus::Worsened));
        assert!(on_second.fires(NOW, ESCALATE));
        let r = refs(&on_second, NOW, ESCALATE);
        assert!(r.contains(&"Procedure/f8".to_string()) && !r.contains(&"Procedure/f5".to_string()), "{r:?}");
        // The course restarted after a completed course recorded with its period.
        let restarted = advanced(12.0)
            .on("2023-01-10", course_until(TherapyClass::Ssa, "2023-06-01"))
            .on("2023-09-01", status(DiseaseStatus::Worsened))
            .on("2023-11-01", ssa(Tense::Running));
        assert!(!restarted.fires(NOW, ESCALATE));
        // A done course whose period contains now is running: progression during it counts.
        let current = advanced(12.0)
            .on("2024-01-25", course_until(TherapyClass::Ssa, "2024-12-31"))
            .on("2024-04-01", status(DiseaseStatus::Worsened));
        assert!(current.fires(NOW, ESCALATE));
        assert!(!current.fires("2025-01-01", ESCALATE), "course ended");
        // An undetermined result after the progression does not end it.
        let undetermined = advanced(12.0)
            .on("2024-02-01", ssa(Tense::Running))
            .on("2024-04-01", status(DiseaseStatus::Worsened))
            .on("2024-05-01", status(DiseaseStatus::Undetermined));
        assert!(undetermined.fires(NOW, ESCALATE));
    }

    #[test]
    fn ifn_silent_while_interferon_runs_or_after_it_failed() {
        let neg = advanced(12.0).on("2024-03-01", sstr(SstrImaging::Negative));
        assert!(neg.fires(NOW, IFN));
        let ifn = |tense| therapy(TherapyClass::Interferon, tense);
        assert!(!neg.clone().on("2024-04-01", ifn(Tense::Running)).fires(NOW, IFN));
        assert!(neg.clone().on("2024-04-01", ifn(Tense::Planned)).alerts(NOW, IFN)[0]
            .detail
            .contains("already planned"));
        let failed = neg
            .clone()
            .on("2024-03-10", ifn(Tense::Done))
            .on("2024-04-01", status(DiseaseStatus::Worsened))
            .on("2024-05-01", status(DiseaseStatus::Stable));
        assert!(!failed.fires(NOW, IFN));
        // A failed SSA is not a failed interferon.
        let ssa_failed = neg
            .on("2024-03-10", ssa(Tense::Done))
            .on("2024-04-01", status(DiseaseStatus::Worsened))
            .on("2024-05-01", status(DiseaseStatus::Stable));
        assert!(ssa_failed.fires(NOW, IFN));
    }

    #[test]
    fn catalogue_entries() {
        let ids: Vec<&str> = super::RULES.iter().map(|r| r.id).collect();
        assert_eq!(ids, [ANTI, G2, G3, RECEPTOR, NEGATIVE, SYNDROME, PPI, INSULINOMA, ESCALATE, RESCUE, IFN]);
        for r in super::RULES {
            assert!(r.summary.chars().count() < 140, "{}", r.id);
            assert!(r.citation.starts_with("Rossi et al. 2014, ref"), "{}", r.id);
        }
    }
}
