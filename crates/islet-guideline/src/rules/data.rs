//! Data problems (spec "Data problems"): the data itself needs attention.
//! These apply to every patient, with or without a pNET diagnosis.

use super::Finding;
use crate::alert::{Kind, RuleSpec, Severity};
use crate::derived::Picture;
use crate::facts::ProblemKind;

pub const GRADE_DISCORDANT: RuleSpec = RuleSpec {
    id: "data.grade-discordant",
    kind: Kind::Data,
    severity: Severity::Warning,
    summary: "Grading measures disagree: the higher WHO grade is used",
    detail: "The Ki-67 index and the mitotic count (or the reported grade / diagnosis) give different \
             WHO 2010 grades. Islet uses the higher grade; review the pathology.",
    citation: "Rossi et al. 2014, ref 11",
};

pub const IMPLAUSIBLE_VALUE: RuleSpec = RuleSpec {
    id: "data.implausible-value",
    kind: Kind::Data,
    severity: Severity::Warning,
    summary: "A value outside its physical range was recorded and is not used",
    detail: "A result lies outside its physical range (Ki-67 outside 0–100 %, a negative size or \
             concentration), or a date of something that has happened lies in the future (after the \
             record reached Islet). Islet ignores it; correct the source record.",
    citation: "Islet data-quality check (no paper reference)",
};

pub const UNKNOWN_UNIT: RuleSpec = RuleSpec {
    id: "data.unknown-unit",
    kind: Kind::Data,
    severity: Severity::Warning,
    summary: "A quantity in a unit Islet cannot convert was recorded and is not used",
    detail: "A result carries a unit that cannot be converted to the unit the guideline uses \
             (e.g. chromogranin A in an unknown unit). Islet ignores it; correct the unit or add a \
             site mapping.",
    citation: "Islet data-quality check (no paper reference)",
};

pub const UNUSABLE_VALUE: RuleSpec = RuleSpec {
    id: "data.unusable-value",
    kind: Kind::Data,
    severity: Severity::Warning,
    summary: "A value Islet cannot interpret was recorded and is not used",
    detail: "A resource Islet uses carries a value it cannot interpret: an unknown coded answer, text \
             or a range where a number belongs, or a quantity without a value. Islet ignores the value; \
             correct the source record (numbers outside their physical range are reported as \
             `data.implausible-value`).",
    citation: "Islet data-quality check (no paper reference)",
};

pub const VERSION_CONFLICT: RuleSpec = RuleSpec {
    id: "data.version-conflict",
    kind: Kind::Data,
    severity: Severity::Warning,
    summary: "Two different contents arrived under the same version of a resource",
    detail: "The source sent two different contents with the same version key (the same \
             `meta.versionId`, or without one the same or no `meta.lastUpdated`). Islet uses the \
             content with the larger SHA-256 of its canonical JSON, whatever the arrival order, so \
             the result may not be the intended version. Fix the source so that every change gets a \
             new version.",
    citation: "Islet data-quality check (no paper reference)",
};

pub const RULES: &[&RuleSpec] =
    &[&GRADE_DISCORDANT, &IMPLAUSIBLE_VALUE, &UNKNOWN_UNIT, &UNUSABLE_VALUE, &VERSION_CONFLICT];

pub fn evaluate(p: &Picture, out: &mut Vec<Finding>) {
    out.extend(grade_discordant(p));
    out.extend(problems(p, &[ProblemKind::ImplausibleValue, ProblemKind::ImplausibleTime], &IMPLAUSIBLE_VALUE));
    out.extend(problems(p, &[ProblemKind::UnknownUnit], &UNKNOWN_UNIT));
    out.extend(problems(p, &[ProblemKind::UnusableValue], &UNUSABLE_VALUE));
    out.extend(problems(p, &[ProblemKind::VersionConflict], &VERSION_CONFLICT));
}

/// "When the two measures disagree, the higher grade wins and a
/// `data.grade-discordant` note is raised" [11]. Also raised when a reported
/// grade or a poorly-differentiated-carcinoma diagnosis contradicts the measures.
pub fn grade_discordant(p: &Picture) -> Option<Finding> {
    let g = p.grade.as_ref()?;
    let why = g.discordance.as_ref()?;
    let mut f = Finding::new(&GRADE_DISCORDANT).note(format!("{why}; grade used: {}.", g.grade));
    for e in &g.evidence {
        f = f.fact(e);
    }
    Some(f)
}

/// One alert for all problems of these kinds; each problem is its own
/// evidence, naming the resource (a version conflict: the resource whose
/// source must be fixed).
fn problems(p: &Picture, kinds: &[ProblemKind], spec: &'static RuleSpec) -> Option<Finding> {
    let mut found = None;
    for (fact, k, _) in p.problems() {
        if kinds.contains(&k) {
            found = Some(found.unwrap_or_else(|| Finding::new(spec)).fact(fact));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use crate::facts::{FactKind, ProblemKind};
    use crate::rules::testkit::*;

    #[test]
    fn ki67_and_mitoses_disagree() {
        let p = Patient::pnet().on("2024-01-05", ki67(12.0)).on("2024-01-05", mitoses(1.0));
        let a = p.alerts("2024-02-01", "data.grade-discordant");
        assert_eq!(a.len(), 1);
        assert!(a[0].detail.contains("grade used: G2"), "{}", a[0].detail);
        let agree = Patient::pnet().on("2024-01-05", ki67(12.0)).on("2024-01-05", mitoses(4.0));
        assert!(!agree.fires("2024-02-01", "data.grade-discordant"));
    }

    #[test]
    fn nec_diagnosis_with_low_ki67_is_discordant() {
        let p = Patient::pnet().on("2024-01-02", FactKind::NecDiagnosis).on("2024-01-05", ki67(8.0));
        assert!(p.fires("2024-02-01", "data.grade-discordant"));
        let p = Patient::pnet().on("2024-01-02", FactKind::NecDiagnosis).on("2024-01-05", ki67(40.0));
        assert!(!p.fires("2024-02-01", "data.grade-discordant"));
    }

    #[test]
    fn problems_are_reported_even_without_pnet() {
        let p = Patient::empty().on(
            "2024-01-05",
            FactKind::Problem { kind: ProblemKind::UnknownUnit, detail: "chromogranin A in 'mg/dL'".into() },
        );
        assert!(p.fires("2024-02-01", "data.unknown-unit"));
        assert!(!p.fires("2024-02-01", "data.implausible-value"));
    }

    #[test]
    fn a_date_in_the_future_is_an_implausible_value() {
        let future = |detail: &str| FactKind::Problem { kind: ProblemKind::ImplausibleTime, detail: detail.into() };
        let p = Patient::pnet()
            .on(
                "2024-01-05",
                future("effectiveDateTime 9999-01-01 lies in the future, so the data it dates is not used; noted"),
            )
            .on("2024-01-06", FactKind::Problem { kind: ProblemKind::ImplausibleValue, detail: "Ki-67 150".into() });
        let a = p.alerts("2024-02-01", "data.implausible-value");
        assert_eq!(a.len(), 1, "one alert for both kinds");
        assert_eq!(a[0].evidence.len(), 2);
        assert!(a[0].evidence[0].fact.contains("9999-01-01"), "{:?}", a[0].evidence);
        assert!(a[0].detail.contains("in the future"), "{}", a[0].detail);
        assert!(!p.fires("2024-02-01", "data.unknown-unit"));
    }

    #[test]
    fn each_problem_kind_has_its_own_rule() {
        let rules = [
            (ProblemKind::ImplausibleValue, "data.implausible-value"),
            (ProblemKind::ImplausibleTime, "data.implausible-value"),
            (ProblemKind::UnknownUnit, "data.unknown-unit"),
            (ProblemKind::UnusableValue, "data.unusable-value"),
            (ProblemKind::VersionConflict, "data.version-conflict"),
        ];
        for (kind, rule) in rules {
            let p = Patient::empty().on("2024-01-05", FactKind::Problem { kind, detail: "what and where".into() });
            let fired: Vec<&str> =
                p.eval("2024-02-01").alerts.iter().map(|a| a.rule).filter(|r| r.starts_with("data.")).collect();
            assert_eq!(fired, [rule], "{kind:?}");
        }
    }

    #[test]
    fn unusable_values_and_version_conflicts_name_each_resource() {
        let unusable = |detail: &str| FactKind::Problem { kind: ProblemKind::UnusableValue, detail: detail.into() };
        let p = Patient::pnet()
            .on("2024-01-05", unusable("disease status: unknown coded answer SCT 12345"))
            .on("2024-01-06", unusable("Ki-67: a range where a number belongs"))
            .on(
                "2024-01-07",
                FactKind::Problem {
                    kind: ProblemKind::VersionConflict,
                    detail: "two contents for version 3: the content with the larger SHA-256 is used".into(),
                },
            );
        let a = &p.alerts("2024-02-01", "data.unusable-value")[0];
        let refs: Vec<&str> = a.evidence.iter().map(|e| e.reference.as_str()).collect();
        assert_eq!(refs, ["Observation/f2", "Observation/f3"]);
        assert!(a.evidence[0].fact.starts_with("disease status: unknown coded answer"), "{:?}", a.evidence);
        let a = &p.alerts("2024-02-01", "data.version-conflict")[0];
        assert_eq!(a.evidence[0].reference.as_str(), "Observation/f4");
        assert!(a.detail.contains("SHA-256"), "{}", a.detail);
        assert_eq!(a.kind, crate::Kind::Data);
    }
}
