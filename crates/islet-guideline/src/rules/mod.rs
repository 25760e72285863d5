//! Every rule of `spec/guideline.md`, one family per file.
//!
//! A rule is a small pure function `fn(&Picture) -> Option<Finding>` (or a
//! `Vec` when it can hold several times). Its [`RuleSpec`] carries the public
//! id, kind, severity, wording and citation; its doc comment quotes the
//! paper's condition so a clinician can review it.

use crate::alert::{Evidence, RuleSpec, ScheduleItem, Severity};
use crate::derived::{describe, Picture};
use crate::facts::{Fact, Instant};

pub mod chemo;
pub mod data;
pub mod followup;
pub mod liver;
pub mod monitoring;
pub mod ssa;
pub mod surgery;
pub mod workup;

/// Every rule, in spec order. Rule ids are a public contract.
pub fn catalogue() -> Vec<&'static RuleSpec> {
    let mut all = Vec::new();
    all.extend_from_slice(workup::RULES);
    all.extend_from_slice(surgery::RULES);
    all.extend_from_slice(ssa::RULES);
    all.extend_from_slice(chemo::RULES);
    all.extend_from_slice(liver::RULES);
    all.extend_from_slice(monitoring::RULES);
    all.extend_from_slice(followup::RULES);
    all.extend_from_slice(data::RULES);
    all
}

/// Runs every clinical rule family over the picture.
pub(crate) fn evaluate_clinical(p: &Picture, out: &mut Vec<Finding>) {
    workup::evaluate(p, out);
    surgery::evaluate(p, out);
    ssa::evaluate(p, out);
    chemo::evaluate(p, out);
    liver::evaluate(p, out);
    monitoring::evaluate(p, out);
    followup::evaluate(p, out);
}

/// A rule that holds now, with what made it hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: &'static RuleSpec,
    pub evidence: Vec<Evidence>,
    /// Clinical time of the newest evidence.
    pub since: Option<Instant>,
    /// Any evidence comes from a `preliminary` result.
    pub preliminary: bool,
    /// Extra markdown after the rule's detail (e.g. which criterion failed).
    pub notes: Vec<String>,
    /// For follow-ups: the schedule item, its due date and state.
    pub schedule: Option<ScheduleItem>,
    /// Overrides the rule's severity (an overdue follow-up escalates).
    pub severity: Option<Severity>,
    /// Overrides the rule's summary and detail when the situation narrows
    /// the advice (e.g. one of two agents already failed).
    pub wording: Option<Wording>,
}

/// A summary and detail that replace the rule's own for one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wording {
    /// One line, under 140 characters.
    pub summary: &'static str,
    pub detail: &'static str,
}

impl Finding {
    pub fn new(rule: &'static RuleSpec) -> Self {
        Finding {
            rule,
            evidence: Vec::new(),
            since: None,
            preliminary: false,
            notes: Vec::new(),
            schedule: None,
            severity: None,
            wording: None,
        }
    }

    /// Adds a fact as evidence, described in words.
    pub fn fact(mut self, f: &Fact) -> Self {
        self.push(f, describe(f));
        self
    }

    /// Adds an optional fact as evidence.
    pub fn maybe(self, f: Option<&Fact>) -> Self {
        match f {
            Some(f) => self.fact(f),
            None => self,
        }
    }

    /// Adds a fact as evidence for a derived fact, in the rule's own words
    /// (e.g. "WHO grade G2 from Ki-67 12 %").
    pub fn derived(mut self, f: &Fact, words: impl Into<String>) -> Self {
        let evidence = Evidence { reference: f.source.clone(), fact: format!("{} ({})", words.into(), f.at.date()) };
        self.push(f, evidence);
        self
    }

    /// Adds a note to the detail.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Adds a failed course (spec "failed classes") as evidence, with a note
    /// naming it: the alert that takes over from a failed class says so.
    pub fn failed_course(self, course: &Fact, progression: &Fact) -> Self {
        let label = match &course.kind {
            crate::facts::FactKind::Therapy(t) => t.class.label(),
            _ => "therapy",
        };
        let note = format!(
            "Failure of prior therapy: {label} started {}, progression on {}.",
            course.at.date(),
            progression.at.date()
        );
        self.fact(course).fact(progression).note(note)
    }

    fn push(&mut self, f: &Fact, evidence: Evidence) {
        self.preliminary |= f.preliminary;
        self.since = Some(self.since.map_or(f.at, |s| s.max(f.at)));
        if !self.evidence.contains(&evidence) {
            self.evidence.push(evidence);
        }
    }
}

/// Evidence for the WHO grade, as the rules cite it: each measure with the
/// grade it gives on its own, and the grade used when they disagree.
pub(crate) fn with_grade(mut finding: Finding, p: &Picture) -> Finding {
    use crate::derived::{grade_from_ki67, grade_from_mitoses};
    use crate::facts::{FactKind, Grade};
    if let Some(g) = &p.grade {
        for f in &g.evidence {
            let own = match &f.kind {
                FactKind::Ki67(k) => Some(grade_from_ki67(*k)),
                FactKind::Mitoses(m) => Some(grade_from_mitoses(*m)),
                FactKind::ReportedGrade(r) => Some(*r),
                FactKind::NecDiagnosis => Some(Grade::G3),
                _ => None,
            };
            let fact = crate::words::fact_in_words(&f.kind);
            let words = match own {
                Some(own) if own != g.grade => format!("{fact} gives {own}; WHO grade used: {} (the higher)", g.grade),
                _ => format!("WHO grade {} from {fact}", g.grade),
            };
            finding = finding.derived(f, words);
        }
    }
    finding
}

#[cfg(test)]
pub(crate) mod testkit;
