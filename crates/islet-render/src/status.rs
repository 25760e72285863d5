//! Where an alert is in its lifecycle, as far as its FHIR resource shows it.
//!
//! The alert itself says what holds (kind, state, due date); whether it still
//! holds is the change log's business, and acknowledgements (issue 9) will be
//! the dashboard's. Both come in here as plain values, so rendering stays a
//! pure function of its inputs.

use islet_engine::{AlertChange, ChangeKind};

/// The lifecycle input of [`crate::fhir::alert_resource`]. Non-exhaustive:
/// an acknowledged or snoozed alert (issue 9: Task `on-hold` +
/// `statusReason`) will be one more variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertStatus {
    /// In the current alert set.
    Current,
    /// No longer in the current set.
    Resolved(Resolution),
}

/// How a resolved alert ended. Only a follow-up's Task tells the two apart
/// (`completed` / `cancelled`); a DetectedIssue is `cancelled` and a
/// RequestGroup `revoked` either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The activity the alert asked for is known to have taken place (a
    /// follow-up item satisfied by its result).
    Done,
    /// The alert no longer holds, and whether its activity took place is not
    /// known: a result arrived, or the patient left the pathway (resection,
    /// growth, metastasis, death), or the evidence was retracted.
    Withdrawn,
}

impl AlertStatus {
    /// The status a change-log entry shows. A resolved change is always
    /// [`Resolution::Withdrawn`]: the log records *that* an alert was
    /// resolved and by which resources, not *why*, and a follow-up item ends
    /// the same way whether its result came in or the patient had surgery
    /// instead — claiming `completed` for a scan that never happened would be
    /// a false clinical statement; `cancelled` only says the task is over.
    /// Once the engine records that an item was satisfied, that becomes
    /// [`Resolution::Done`] here.
    pub fn of(change: &AlertChange) -> AlertStatus {
        match change.change {
            ChangeKind::Raised | ChangeKind::Updated => AlertStatus::Current,
            ChangeKind::Resolved => AlertStatus::Resolved(Resolution::Withdrawn),
        }
    }
}
