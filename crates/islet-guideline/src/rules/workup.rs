//! Work-up before treatment (spec "Work-up before treatment").
//!
//! Paper, "Management prior to treatment": "a complete histological
//! assessment of the tumor by means of biopsy, including the detection of
//! mitotic ki-67 index, is needed prior to treatment (6,24)"; "assessment of
//! the tumor extent and location as well as evaluation of prognostic factors
//! and patient's performance status and comorbidities are required to define
//! the proper treatment (18-20)".

use super::Finding;
use crate::alert::{Kind, RuleSpec, Severity};
use crate::derived::Picture;
use crate::facts::FactKind;

pub const GRADING_MISSING: RuleSpec = RuleSpec {
    id: "workup.grading-missing",
    kind: Kind::Workup,
    severity: Severity::Warning,
    summary: "Histological grading (Ki-67, mitotic count) is missing: needed before a treatment decision",
    detail: "Obtain a biopsy with Ki-67 index and mitotic count. Well- and poorly differentiated pNETs \
             behave differently and are treated differently; the WHO 2010 grade decides the pathway.",
    citation: "Rossi et al. 2014, refs 6, 24",
};

pub const SSR_IMAGING_MISSING: RuleSpec = RuleSpec {
    id: "workup.ssr-imaging-missing",
    kind: Kind::Workup,
    severity: Severity::Info,
    summary: "No somatostatin-receptor imaging (SRS or 68Ga-SSA PET) on record",
    detail: "Somatostatin-receptor imaging stages the disease, including extrahepatic and bone \
             metastases (68Ga PET is more sensitive than SRS), and is needed before SSA or PRRT.",
    citation: "Rossi et al. 2014, refs 13, 18, 19, 21–23",
};

pub const CGA_MISSING: RuleSpec = RuleSpec {
    id: "workup.cga-missing",
    kind: Kind::Workup,
    severity: Severity::Info,
    summary: "No chromogranin A result on record",
    detail: "Measure chromogranin A (with pancreatic polypeptide and the hormones of any suspected \
             syndrome) at diagnosis and during follow-up.",
    citation: "Rossi et al. 2014, refs 8–10",
};

pub const PERFORMANCE_STATUS_MISSING: RuleSpec = RuleSpec {
    id: "workup.performance-status-missing",
    kind: Kind::Workup,
    severity: Severity::Info,
    summary: "Advanced pNET without a recorded performance status (ECOG): needed to define the treatment",
    detail: "Record the ECOG performance status (and comorbidities): with the tumour extent and the \
             prognostic factors they are required to define the proper treatment. Without it, \
             liver-directed options such as embolization cannot be judged (poor performance status \
             makes TAE/TACE not applicable).",
    citation: "Rossi et al. 2014, refs 18–20",
};

pub const RULES: &[&RuleSpec] = &[&GRADING_MISSING, &SSR_IMAGING_MISSING, &CGA_MISSING, &PERFORMANCE_STATUS_MISSING];

pub fn evaluate(p: &Picture, out: &mut Vec<Finding>) {
    out.extend(grading_missing(p));
    out.extend(ssr_imaging_missing(p));
    out.extend(cga_missing(p));
    out.extend(performance_status_missing(p));
}

/// "Active pNET diagnosis, no Ki-67 and no mitotic count" [6,24]. A reported
/// WHO grade without its measures does not satisfy it: the measures are what
/// the paper asks for.
pub fn grading_missing(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let graded = p.latest(|k| matches!(k, FactKind::Ki67(_) | FactKind::Mitoses(_))).is_some();
    (!graded).then(|| Finding::new(&GRADING_MISSING).fact(pnet).note("No Ki-67 index and no mitotic count recorded."))
}

/// "Active pNET, no somatostatin-receptor imaging (SRS or 68Ga-SSA PET)"
/// [13,18,19,21–23]. A Krenning score implies such imaging was done.
pub fn ssr_imaging_missing(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let imaged = p.latest(|k| matches!(k, FactKind::SstrImaging(_) | FactKind::KrenningScore(_))).is_some();
    (!imaged).then(|| Finding::new(&SSR_IMAGING_MISSING).fact(pnet).note("No SRS or 68Ga-SSA PET result recorded."))
}

/// "Active pNET, no chromogranin A result" [8–10].
pub fn cga_missing(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let measured = p.latest(|k| matches!(k, FactKind::ChromograninA { .. })).is_some();
    (!measured).then(|| Finding::new(&CGA_MISSING).fact(pnet).note("No chromogranin A result recorded."))
}

/// Spec: "advanced pNET, no ECOG performance status recorded" [18–20].
/// Paper: "patient's performance status and comorbidities are required to
/// define the proper treatment (18-20)". Advanced is metastatic or
/// unresectable; the evidence names what makes it so. Any ECOG result up to
/// now satisfies it (the liver rules read the latest).
pub fn performance_status_missing(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    let advanced = p.advanced()?;
    if p.ecog().is_some() {
        return None;
    }
    Some(
        Finding::new(&PERFORMANCE_STATUS_MISSING)
            .fact(pnet)
            .fact(advanced)
            .note("No ECOG performance status recorded."),
    )
}

#[cfg(test)]
mod tests {
    use crate::facts::{FactKind, MetastasisSite, Resectability, SstrImaging};
    use crate::rules::testkit::*;

    #[test]
    fn grading_missing_until_ki67_or_mitoses() {
        let p = Patient::pnet();
        assert!(p.fires("2024-02-01", "workup.grading-missing"));
        assert!(!p.clone().on("2024-01-05", ki67(4.0)).fires("2024-02-01", "workup.grading-missing"));
        assert!(!p.clone().on("2024-01-05", mitoses(1.0)).fires("2024-02-01", "workup.grading-missing"));
        // A result dated after "now" is not known yet.
        assert!(p.clone().on("2024-03-05", ki67(4.0)).fires("2024-02-01", "workup.grading-missing"));
    }

    #[test]
    fn workup_needs_a_pnet_diagnosis() {
        let p = Patient::empty().on("2024-01-01", ki67(4.0));
        assert!(p.eval("2024-02-01").alerts.is_empty());
    }

    #[test]
    fn ssr_imaging_and_cga() {
        let p = Patient::pnet();
        assert!(p.fires("2024-02-01", "workup.ssr-imaging-missing"));
        assert!(p.fires("2024-02-01", "workup.cga-missing"));
        let p = p.on("2024-01-10", FactKind::SstrImaging(SstrImaging::Negative)).on("2024-01-10", cga(80.0));
        assert!(!p.fires("2024-02-01", "workup.ssr-imaging-missing"));
        assert!(!p.fires("2024-02-01", "workup.cga-missing"));
    }

    #[test]
    fn performance_status_missing_in_advanced_disease() {
        const RULE: &str = "workup.performance-status-missing";
        // Not advanced: nothing to decide on yet.
        assert!(!Patient::pnet().fires("2024-02-01", RULE));
        let metastatic = Patient::pnet().on("2024-01-10", metastasis(MetastasisSite::Liver));
        let a = metastatic.alerts("2024-02-01", RULE);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].evidence[1].reference.as_str(), "Condition/f2");
        assert_eq!(a[0].citation, "Rossi et al. 2014, refs 18–20");
        // Any ECOG value satisfies it, also a poor one (0 is a value, not "missing").
        for score in [0, 2, 4] {
            assert!(!metastatic.clone().on("2024-01-15", FactKind::Ecog(score)).fires("2024-02-01", RULE), "{score}");
        }
        // A result dated after now is not known yet.
        assert!(metastatic.clone().on("2024-03-01", FactKind::Ecog(1)).fires("2024-02-01", RULE));
        // Unresectable counts as advanced; unresectable only because of vessels does not (v2).
        let unresectable = |r| Patient::pnet().on("2024-01-10", FactKind::Resectability(r));
        assert!(unresectable(Resectability::Unresectable).fires("2024-02-01", RULE));
        assert!(unresectable(Resectability::Below90).fires("2024-02-01", RULE));
        assert!(!unresectable(Resectability::UnresectableVascular).fires("2024-02-01", RULE));
    }

    #[test]
    fn evidence_names_the_diagnosis() {
        let a = &Patient::pnet().alerts("2024-02-01", "workup.cga-missing")[0];
        assert_eq!(a.evidence[0].reference.as_str(), "Condition/f1");
        assert_eq!(a.citation, "Rossi et al. 2014, refs 8–10");
    }
}
