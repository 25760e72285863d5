//! What the guideline says about one patient at one instant.

use crate::facts::{Instant, SourceRef};
use serde::{Deserialize, Serialize};
use time::Date;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Data needed before deciding.
    Workup,
    /// An option the guideline supports now.
    Recommendation,
    /// A planned or running therapy the guideline advises against.
    Safety,
    /// A dated task.
    FollowUp,
    /// What to watch while a therapy runs.
    Monitoring,
    /// A problem in the data itself.
    Data,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Workup => "workup",
            Kind::Recommendation => "recommendation",
            Kind::Safety => "safety",
            Kind::FollowUp => "follow-up",
            Kind::Monitoring => "monitoring",
            Kind::Data => "data",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Active,
    Scheduled,
    Due,
    Overdue,
}

/// One piece of evidence: the resource and the fact it supports, in words.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Evidence {
    pub reference: SourceRef,
    pub fact: String,
}

/// The static description of a rule: its public id and its citation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSpec {
    /// Public contract: exactly the id in `spec/guideline.md`.
    pub id: &'static str,
    pub kind: Kind,
    pub severity: Severity,
    /// One line, under 140 characters.
    pub summary: &'static str,
    /// Markdown: what to do and why, in the paper's words.
    pub detail: &'static str,
    /// "Rossi et al. 2014, refs …"
    pub citation: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleItem {
    pub months: u32,
    pub due: Date,
    pub state: State,
}

/// The guideline's output for one patient: the alerts that hold at `now`,
/// in rule-id order, and when to look again without new data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub alerts: Vec<Alert>,
    /// The next instant after `now` at which the result could change with no
    /// new data (a follow-up turning due or overdue, a birthday, a fact dated
    /// in the future becoming current). `None`: nothing pending.
    #[serde(with = "time::serde::rfc3339::option")]
    pub wake_at: Option<Instant>,
}

/// One alert as the guideline states it; the engine adds the patient, the
/// stable id and the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub rule: &'static str,
    pub kind: Kind,
    pub severity: Severity,
    pub state: State,
    /// Schedule item (months after baseline), part of a follow-up's identity.
    #[serde(skip)]
    pub schedule_item: Option<u32>,
    pub due: Option<Date>,
    pub summary: String,
    pub detail: String,
    pub evidence: Vec<Evidence>,
    pub citation: &'static str,
    /// Rests on a `preliminary` result.
    pub preliminary: bool,
    /// The clinical time of the newest evidence: since when this holds.
    #[serde(with = "time::serde::rfc3339")]
    pub since: Instant,
}
