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
    for f in &findings {
        if let Some(item) = &f.schedule {
            for t in rules::followup::transitions(item, config) {
                consider(t);
            }
        }
    }
    if picture.pnet.is_some() && picture.deceased.is_none() {
        if let Some((_, birth)) = picture.birth_date {
            // Milan criteria: age < 55; the answer changes on that birthday.
            consider(calendar::birthday(birth, rules::liver::MILAN_MAX_AGE_YEARS));
        }
    }
    let mut alerts: Vec<Alert> = findings.into_iter().map(|f| to_alert(f, now)).collect();
    alerts.sort_by(|a, b| a.rule.cmp(b.rule).then(a.schedule_item.cmp(&b.schedule_item)));
    Assessment { alerts, wake_at }
}

fn to_alert(f: Finding, now: Instant) -> Alert {
    let mut detail = f.rule.detail.to_string();
    for note in &f.notes {
        detail.push_str("\n\n");
        detail.push_str(note);
    }
    if f.preliminary {
        detail.push_str("\n\n_Rests on a preliminary result._");
    }
    Alert {
        rule: f.rule.id,
        kind: f.rule.kind,
        severity: f.severity.unwrap_or(f.rule.severity),
        state: f.schedule.map_or(State::Active, |s| s.state),
        schedule_item: f.schedule.map(|s| s.months),
        due: f.schedule.map(|s| s.due),
        summary: f.rule.summary.to_string(),
        detail,
        evidence: f.evidence,
        citation: f.rule.citation,
        preliminary: f.preliminary,
        since: f.since.unwrap_or(now),
    }
}
