//! Builders for rule tests: a patient as a list of dated facts.

use crate::facts::*;
use crate::{evaluate, Alert, Assessment, Config, Profile};
use time::macros::format_description;
use time::Date;

pub fn date(s: &str) -> Date {
    Date::parse(s, format_description!("[year]-[month]-[day]")).expect("test date YYYY-MM-DD")
}

/// Midnight UTC of a `YYYY-MM-DD` date, or an RFC 3339 instant kept in its own offset.
pub fn instant(s: &str) -> Instant {
    if s.len() == 10 {
        crate::calendar::start_of(date(s))
    } else {
        Instant::parse(s, &time::format_description::well_known::Rfc3339).expect("test instant RFC 3339")
    }
}

/// A patient under construction. `Patient::pnet()` starts with an active pNET
/// diagnosis on 2024-01-01; add facts with [`Patient::on`].
#[derive(Clone, Default)]
pub struct Patient {
    pub facts: Vec<Fact>,
    pub config: Config,
}

impl Patient {
    pub fn empty() -> Self {
        Patient::default()
    }

    pub fn pnet() -> Self {
        Patient::empty().on("2024-01-01", FactKind::PnetDiagnosis)
    }

    /// Adds a fact dated `day` (`YYYY-MM-DD`, or an RFC 3339 instant with its
    /// own offset) from its own resource.
    pub fn on(mut self, day: &str, kind: FactKind) -> Self {
        let n = self.facts.len() + 1;
        let resource = match &kind {
            FactKind::PnetDiagnosis
            | FactKind::NecDiagnosis
            | FactKind::Syndrome(_)
            | FactKind::Hereditary(_)
            | FactKind::Metastasis(_)
            | FactKind::PortalVeinOcclusion
            | FactKind::LiverFailure => "Condition",
            FactKind::Therapy(_) => "Procedure",
            FactKind::BirthDate(_) | FactKind::Deceased => "Patient",
            _ => "Observation",
        };
        self.facts.push(Fact {
            source: SourceRef(format!("{resource}/f{n}")),
            at: instant(day),
            preliminary: false,
            kind,
        });
        self
    }

    pub fn profile(mut self, profile: Profile) -> Self {
        self.config.profile = profile;
        self
    }

    pub fn eval(&self, now: &str) -> Assessment {
        evaluate(&self.facts, instant(now), &self.config)
    }

    /// The alerts of one rule at `now`.
    pub fn alerts(&self, now: &str, rule: &str) -> Vec<Alert> {
        self.eval(now).alerts.into_iter().filter(|a| a.rule == rule).collect()
    }

    pub fn fires(&self, now: &str, rule: &str) -> bool {
        !self.alerts(now, rule).is_empty()
    }
}

pub fn ki67(v: f64) -> FactKind {
    FactKind::Ki67(Ki67Percent::new(v).unwrap())
}
pub fn mitoses(v: f64) -> FactKind {
    FactKind::Mitoses(MitoticCount::new(v).unwrap())
}
pub fn primary_mm(v: f64) -> FactKind {
    FactKind::TumourSize { site: TumourSite::Primary, largest: Millimetres::new(v).unwrap() }
}
pub fn liver_lesion_mm(v: f64) -> FactKind {
    FactKind::TumourSize { site: TumourSite::Liver, largest: Millimetres::new(v).unwrap() }
}
pub fn involvement(v: f64) -> FactKind {
    FactKind::LiverInvolvement(LiverInvolvementPercent::new(v).unwrap())
}
pub fn cga(v: f64) -> FactKind {
    FactKind::ChromograninA { value: CgaValue::NgPerMl(Concentration::new(v).unwrap()), upper_limit: None }
}
pub fn therapy(class: TherapyClass, tense: Tense) -> FactKind {
    FactKind::Therapy(Therapy { class, tense, escalated: false, outcome: None, until: None })
}
/// A done course whose recorded period ends at `until` (it starts on the day the fact is added).
pub fn course_until(class: TherapyClass, until: &str) -> FactKind {
    FactKind::Therapy(Therapy {
        class,
        tense: Tense::Done,
        escalated: false,
        outcome: None,
        until: Some(instant(until)),
    })
}
pub fn resection(outcome: ResectionOutcome) -> FactKind {
    FactKind::Therapy(Therapy {
        class: TherapyClass::PrimaryResection,
        tense: Tense::Done,
        escalated: false,
        outcome: Some(outcome),
        until: None,
    })
}
pub fn metastasis(site: MetastasisSite) -> FactKind {
    FactKind::Metastasis(site)
}
pub fn status(s: DiseaseStatus) -> FactKind {
    FactKind::DiseaseStatus(s)
}
