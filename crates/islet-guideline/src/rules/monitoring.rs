//! Monitoring while on therapy (spec "Monitoring while on therapy").

use super::Finding;
use crate::alert::{Kind, RuleSpec, Severity};
use crate::derived::Picture;
use crate::facts::{Tense, TherapyClass};

pub const SSA: RuleSpec = RuleSpec {
    id: "monitoring.ssa",
    kind: Kind::Monitoring,
    severity: Severity::Info,
    summary: "On a somatostatin analogue: watch glucose tolerance, steatorrhoea and gallstones",
    detail: "SSAs are generally well tolerated; side effects include impaired glucose tolerance, \
             steatorrhoea and gallstone formation.",
    citation: "Rossi et al. 2014, ref 45",
};

pub const EVEROLIMUS: RuleSpec = RuleSpec {
    id: "monitoring.everolimus",
    kind: Kind::Monitoring,
    severity: Severity::Info,
    summary: "On everolimus: watch for stomatitis, rash, hyperglycaemia, pneumonitis; check blood counts",
    detail: "Frequent everolimus adverse events in RADIANT-3: stomatitis, rash, diarrhoea, fatigue, \
             infections; grade 3–4 anaemia and hyperglycaemia; non-infectious pneumonitis.",
    citation: "Rossi et al. 2014, ref 15",
};

pub const SUNITINIB: RuleSpec = RuleSpec {
    id: "monitoring.sunitinib",
    kind: Kind::Monitoring,
    severity: Severity::Info,
    summary: "On sunitinib: monitor blood pressure and neutrophils, watch for diarrhoea",
    detail: "Frequent sunitinib adverse events: diarrhoea, nausea, fatigue; grade 3–4 neutropenia and \
             hypertension.",
    citation: "Rossi et al. 2014, ref 16",
};

pub const PRRT: RuleSpec = RuleSpec {
    id: "monitoring.prrt",
    kind: Kind::Monitoring,
    severity: Severity::Info,
    summary: "After PRRT: monitor blood counts (myelodysplasia) and renal function",
    detail: "PRRT can cause haematological toxicity, including myelodysplastic syndrome, and renal \
             toxicity; follow blood counts and renal function.",
    citation: "Rossi et al. 2014, refs 65, 66",
};

pub const INTERFERON: RuleSpec = RuleSpec {
    id: "monitoring.interferon",
    kind: Kind::Monitoring,
    severity: Severity::Info,
    summary: "On α-interferon: check blood counts, liver tests, lipids and mood",
    detail: "Interferon side effects include myelosuppression, liver toxicity, hyperlipidaemia, \
             fatigue and depression; tailor the dose to tolerance.",
    citation: "Rossi et al. 2014, ref 18",
};

pub const RULES: &[&RuleSpec] = &[&SSA, &EVEROLIMUS, &SUNITINIB, &PRRT, &INTERFERON];

pub fn evaluate(p: &Picture, out: &mut Vec<Finding>) {
    out.extend(while_running(p, TherapyClass::Ssa, &SSA));
    out.extend(while_running(p, TherapyClass::Everolimus, &EVEROLIMUS));
    out.extend(while_running(p, TherapyClass::Sunitinib, &SUNITINIB));
    out.extend(after_prrt(p));
    out.extend(while_running(p, TherapyClass::Interferon, &INTERFERON));
}

/// "SSA / everolimus / sunitinib / interferon running" [45, 15, 16, 18].
fn while_running(p: &Picture, class: TherapyClass, spec: &'static RuleSpec) -> Option<Finding> {
    let (f, _) = p.running(class)?;
    Some(Finding::new(spec).fact(f))
}

/// "After PRRT" [65,66]: once PRRT has been given (running or completed),
/// myelotoxicity and nephrotoxicity can appear late, so it stays on.
fn after_prrt(p: &Picture) -> Option<Finding> {
    let (f, _) = p.therapy(|c| c == TherapyClass::Prrt, &[Tense::Running, Tense::Done])?;
    Some(Finding::new(&PRRT).fact(f))
}

#[cfg(test)]
mod tests {
    use crate::facts::{Tense, TherapyClass};
    use crate::rules::testkit::*;

    #[test]
    fn monitoring_follows_running_therapy() {
        let p = Patient::pnet().on("2024-02-01", therapy(TherapyClass::Ssa, Tense::Running));
        assert!(p.fires("2024-03-01", "monitoring.ssa"));
        let planned = Patient::pnet().on("2024-02-01", therapy(TherapyClass::Ssa, Tense::Planned));
        assert!(!planned.fires("2024-03-01", "monitoring.ssa"));
        let p = Patient::pnet().on("2024-02-01", therapy(TherapyClass::Everolimus, Tense::Running));
        assert!(p.fires("2024-03-01", "monitoring.everolimus"));
        assert!(!p.fires("2024-03-01", "monitoring.sunitinib"));
    }

    #[test]
    fn a_later_completed_record_ends_a_running_course() {
        let p = Patient::pnet()
            .on("2024-02-01", therapy(TherapyClass::Ssa, Tense::Running))
            .on("2024-06-01", therapy(TherapyClass::Ssa, Tense::Done));
        assert!(p.fires("2024-05-01", "monitoring.ssa"));
        assert!(!p.fires("2024-07-01", "monitoring.ssa"));
        // A later plan (the next course) does not end a running one.
        let p = Patient::pnet()
            .on("2024-02-01", therapy(TherapyClass::Ssa, Tense::Running))
            .on("2024-06-01", therapy(TherapyClass::Ssa, Tense::Planned));
        assert!(p.fires("2024-07-01", "monitoring.ssa"));
    }

    #[test]
    fn prrt_monitoring_continues_after_the_course() {
        let p = Patient::pnet().on("2024-02-01", therapy(TherapyClass::Prrt, Tense::Done));
        assert!(p.fires("2024-09-01", "monitoring.prrt"));
        let planned = Patient::pnet().on("2024-02-01", therapy(TherapyClass::Prrt, Tense::Planned));
        assert!(!planned.fires("2024-09-01", "monitoring.prrt"));
    }
}
