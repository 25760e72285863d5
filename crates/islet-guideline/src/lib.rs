//! The pNET guideline (Rossi et al., Ann Transl Med 2014;2(1):8) as pure rules.
//!
//! **Invariants.** No I/O and no clock: "now" is an argument, so the same
//! facts and instant always give the same [`Assessment`]. Facts are taken in
//! clinical-time order with ties broken by source reference, never by arrival
//! order. Facts dated after "now" are not yet known.
//!
//! **API.** [`evaluate`] (facts + now + config → alerts and wake time),
//! [`facts`] (the input model), [`rules::catalogue`] (every rule's public id
//! and citation).

pub mod alert;
pub mod calendar;
pub mod config;
pub mod derived;
pub mod facts;
pub mod rules;
pub mod words;

pub use alert::{Alert, Assessment, Evidence, Kind, RuleSpec, Severity, State};
pub use config::{Config, Profile, Thresholds};
pub use facts::{Fact, FactKind, Instant, SourceRef};

use derived::Picture;
use rules::Finding;

/// What the guideline says about one patient at `now`.
///
/// A deceased patient has no open alerts. Clinical rules need an active pNET
/// diagnosis (the guideline is about pNETs; without one Islet has nothing to
/// say); data-quality rules apply to every patient.
pub fn evaluate<'a>(facts: impl IntoIterator<Item = &'a Fact>, now: Instant, config: &'a Config) -> Assessment {
    let picture = Picture::new(facts, now, config);
    let mut findings = Vec::new();
    if picture.deceased.is_none() {
        rules::data::evaluate(&picture, &mut findings);
        if picture.pnet.is_some() {
            rules::evaluate_clinical(&picture, &mut findings);
        }
    }
    let mut wake_at = picture.next_future_fact;
    let mut consider = |t: Instant| {
        if t > now {
            wake_at = Some(wake_at.map_or(t, |w| w.min(t)));
        }
    };
    // Calendar dates change at midnight where the clock ("now") is.
    let offset = now.offset();
    for f in &findings {
        if let Some(item) = &f.schedule {
            for t in rules::followup::transitions(item, config, offset) {
                consider(t);
            }
        }
    }
    if picture.pnet.is_some() && picture.deceased.is_none() {
        if let Some((_, birth)) = picture.birth_date {
            // Milan criteria: age < 55; the answer changes on that birthday.
            consider(calendar::birthday(birth, rules::liver::MILAN_MAX_AGE_YEARS, offset));
        }
        // Milan criteria: stable ≥ 6 months, counted to now.
        if let Some(day) = picture.stable_for_from(rules::liver::MILAN_MIN_STABLE_MONTHS) {
            consider(calendar::start_of_in(day, offset));
        }
        // A done course whose period contains now stops running at its end.
        for end in picture.course_ends() {
            consider(end);
        }
    }
    let g3 = picture.grade() == Some(facts::Grade::G3);
    let mut alerts: Vec<Alert> = findings.into_iter().map(|f| to_alert(f, now, g3)).collect();
    alerts.sort_by(|a, b| a.rule.cmp(b.rule).then(a.schedule_item.cmp(&b.schedule_item)));
    Assessment { alerts, wake_at }
}

/// Spec "Scope note for clinicians": the paper grades by WHO 2010, where G3
/// means a poorly differentiated carcinoma; every alert about a G3 patient
/// says that Islet cannot tell a well-differentiated NET G3 from an NEC.
pub const G3_SCOPE_NOTE: &str = "_Scope: Islet grades by WHO 2010, the classification of the source paper, where G3 \
                                 means a poorly differentiated neuroendocrine carcinoma (NEC). It cannot tell a \
                                 well-differentiated NET G3 (WHO 2017 and later) from an NEC: if the pathology \
                                 reports a well-differentiated G3 tumour, weigh this advice accordingly._";

/// `g3`: the patient's WHO grade is G3, so the alert carries [`G3_SCOPE_NOTE`].
fn to_alert(f: Finding, now: Instant, g3: bool) -> Alert {
    let (summary, detail) = f.wording.map_or((f.rule.summary, f.rule.detail), |w| (w.summary, w.detail));
    let mut detail = detail.to_string();
    for note in &f.notes {
        detail.push_str("\n\n");
        detail.push_str(note);
    }
    if f.preliminary {
        detail.push_str("\n\n_Rests on a preliminary result._");
    }
    if g3 {
        detail.push_str("\n\n");
        detail.push_str(G3_SCOPE_NOTE);
    }
    Alert {
        rule: f.rule.id,
        kind: f.rule.kind,
        severity: f.severity.unwrap_or(f.rule.severity),
        state: f.schedule.map_or(State::Active, |s| s.state),
        schedule_item: f.schedule.map(|s| s.months),
        due: f.schedule.map(|s| s.due),
        summary: summary.to_string(),
        detail,
        evidence: f.evidence,
        citation: f.rule.citation,
        preliminary: f.preliminary,
        // An instant, not a calendar date: shown in UTC whatever offset the
        // evidence was written with, so the alert does not change with it.
        since: f.since.unwrap_or(now).to_offset(time::UtcOffset::UTC),
    }
}

#[cfg(test)]
mod tests {
    use crate::facts::{DiseaseStatus, FactKind, MetastasisSite, SstrImaging, Tense, TherapyClass};
    use crate::rules::testkit::*;
    use crate::G3_SCOPE_NOTE;

    #[test]
    fn every_alert_about_a_g3_patient_carries_the_scope_note() {
        let g3 = Patient::pnet()
            .on("2024-01-05", ki67(20.1))
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-02-01", therapy(TherapyClass::Ssa, Tense::Planned))
            .on("2024-02-01", therapy(TherapyClass::Everolimus, Tense::Planned));
        let alerts = g3.eval("2024-06-01").alerts;
        let rules: Vec<&str> = alerts.iter().map(|a| a.rule).collect();
        for expected in ["chemo.nec-platinum", "ssa.not-in-g3", "targeted.not-in-g3", "workup.cga-missing"] {
            assert!(rules.contains(&expected), "{expected} in {rules:?}");
        }
        for a in &alerts {
            assert!(a.detail.ends_with(G3_SCOPE_NOTE), "{}: {}", a.rule, a.detail);
        }
        // Not for G2 at the boundary, nor for an ungraded patient.
        for k in [Some(20.0), None] {
            let mut p = Patient::pnet().on("2024-01-10", metastasis(MetastasisSite::Liver));
            if let Some(k) = k {
                p = p.on("2024-01-05", ki67(k));
            }
            for a in p.eval("2024-06-01").alerts {
                assert!(!a.detail.contains("WHO 2017"), "{}: {}", a.rule, a.detail);
            }
        }
    }

    #[test]
    fn the_answer_changes_when_a_recorded_course_ends() {
        // SSA recorded as completed with a period to 2024-07-01: running
        // (monitoring) until then, and a wake time at its end.
        let p = Patient::pnet()
            .on("2024-01-05", ki67(1.0))
            .on("2024-01-10", metastasis(MetastasisSite::Liver))
            .on("2024-01-20", FactKind::SstrImaging(SstrImaging::Positive))
            .on("2024-02-01", course_until(TherapyClass::Ssa, "2024-07-01"));
        let before = p.eval("2024-06-01");
        assert!(before.alerts.iter().any(|a| a.rule == "monitoring.ssa"));
        assert_eq!(before.wake_at, Some(instant("2024-07-01")));
        let at_end = p.eval("2024-07-01");
        assert!(!at_end.alerts.iter().any(|a| a.rule == "monitoring.ssa"));
        assert!(at_end.alerts.iter().any(|a| a.rule == "ssa.antiproliferative"));
        // The evidence says what was recorded.
        let a = before.alerts.iter().find(|a| a.rule == "monitoring.ssa").unwrap();
        assert_eq!(
            a.evidence[0].fact, "somatostatin analogue done (until 2024-06-30), started on 2024-02-01",
            "{:?}",
            a.evidence
        );
        // A done course without an end is done, whatever now is.
        let done = Patient::pnet().on("2024-02-01", therapy(TherapyClass::Ssa, Tense::Done));
        assert!(!done.fires("2024-03-01", "monitoring.ssa"));
    }

    #[test]
    fn facts_are_ordered_by_instant_whatever_their_offsets() {
        // Written later on the calendar but earlier in time: 1 March 01:00 in
        // Tokyo is 29 February 16:00 UTC; 29 February 20:00 in New York is
        // 1 March 01:00 UTC. The latest Ki-67 is the New York one.
        let p = Patient::pnet().on("2024-03-01T01:00:00+09:00", ki67(1.0)).on("2024-02-29T20:00:00-05:00", ki67(25.0));
        let a = &p.alerts("2024-04-01", "chemo.nec-platinum")[0];
        assert_eq!(a.evidence[0].fact, "WHO grade G3 from Ki-67 25 % (2024-02-29)");
        assert_eq!(a.since, instant("2024-03-01T01:00:00Z"));
    }

    #[test]
    fn stable_for_counts_to_now_and_ignores_undetermined_results() {
        let p = Patient::pnet()
            .on("2024-01-05", status(DiseaseStatus::Worsened))
            .on("2024-02-01", status(DiseaseStatus::Stable))
            .on("2024-05-01", status(DiseaseStatus::Undetermined));
        let config = crate::Config::default();
        let picture = |now: &str| crate::derived::Picture::new(&p.facts, instant(now), &config).stable_for(6).is_some();
        assert!(!picture("2024-07-31"));
        assert!(picture("2024-08-01"));
        // An undetermined result after a progression keeps the progression.
        let q = p
            .clone()
            .on("2024-09-01", status(DiseaseStatus::Worsened))
            .on("2024-10-01", status(DiseaseStatus::Undetermined));
        let pic = crate::derived::Picture::new(&q.facts, instant("2024-11-01"), &config);
        assert_eq!(pic.progression().map(|f| f.at), Some(instant("2024-09-01")));
        assert!(pic.stable_run().is_none());
    }
}
