//! The answers of HTTP ingest (contract "HTTP ingest"): a FHIR
//! OperationOutcome summarising what one message did, and the status code.
//! Pure: built from the message's rejections and the batch's counts.

use islet_engine::ingest::{Rejection, Stats};
use serde_json::{json, Value};

/// Islet's rejection reason codes (`islet_fhir::reject`, the dead-letter
/// header `islet.reason.code`) as a FHIR code system.
pub const REJECTION_CODE_SYSTEM: &str = "https://islet.dev/fhir/CodeSystem/rejection";

/// The media type of every FHIR answer.
pub const FHIR_JSON: &str = "application/fhir+json";

/// How one message went, before it is written as an OperationOutcome.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestOutcome {
    /// Applied in one transaction (some Bundle entries may have been rejected).
    Applied { stats: Stats, rejections: Vec<Rejection>, alert_changes: usize },
    /// Nothing in the message could be used: `400`.
    Unusable { rejections: Vec<Rejection> },
}

impl IngestOutcome {
    pub fn status(&self) -> u16 {
        match self {
            IngestOutcome::Applied { .. } => 200,
            IngestOutcome::Unusable { .. } => 400,
        }
    }

    pub fn to_operation_outcome(&self) -> Value {
        let mut issues = Vec::new();
        let rejections = match self {
            IngestOutcome::Applied { stats, rejections, alert_changes } => {
                issues.push(json!({
                    "severity": "information",
                    "code": "informational",
                    "diagnostics": summary(stats, *alert_changes),
                }));
                rejections
            }
            IngestOutcome::Unusable { rejections } => rejections,
        };
        issues.extend(rejections.iter().map(rejection_issue));
        json!({ "resourceType": "OperationOutcome", "issue": issues })
    }
}

/// One line a person reads: what was used, skipped, refused.
fn summary(s: &Stats, alert_changes: usize) -> String {
    let mut parts = vec![format!(
        "{} resource version(s): {} applied, {} already stored, {} older than stored",
        s.resources, s.stored, s.duplicates, s.stale
    )];
    if s.skipped > 0 {
        parts.push(format!("{} skipped (types or codes Islet does not use)", s.skipped));
    }
    if s.orphan_deletes > 0 {
        parts.push(format!("{} deletion(s) of resources no patient holds, kept", s.orphan_deletes));
    }
    if s.version_conflicts > 0 {
        parts.push(format!("{} version conflict(s) (data.version-conflict raised)", s.version_conflicts));
    }
    if s.rejections > 0 {
        parts.push(format!("{} Bundle entr(ies) rejected", s.rejections));
    }
    parts.push(format!("{alert_changes} alert change(s)"));
    parts.join("; ")
}

/// A rejection as an OperationOutcome issue: the reason code in `details`,
/// the Bundle entry in `expression`. Reasons name elements and codes, never
/// patient data, so they can be sent back.
pub fn rejection_issue(r: &Rejection) -> Value {
    let code = if r.code == "store-refused" { "processing" } else { "invalid" };
    let mut issue = json!({
        "severity": "error",
        "code": code,
        "details": {
            "coding": [{ "system": REJECTION_CODE_SYSTEM, "code": r.code }],
            "text": r.reason,
        },
    });
    if let Some(entry) = r.entry {
        issue["expression"] = json!([format!("Bundle.entry[{entry}]")]);
    }
    if let Some(resource) = &r.resource {
        issue["diagnostics"] = json!(resource);
    }
    issue
}

/// An answer about the request rather than the message (auth, media type,
/// size, an unavailable database).
pub fn request_problem(code: &str, text: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": "error", "code": code, "diagnostics": text }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use islet_engine::ingest::{Origin, Source};

    fn rejection(entry: Option<usize>) -> Rejection {
        Rejection {
            origin: Origin { source: Source::Http, partition: 0, offset: 1 },
            entry,
            resource: Some("Observation/o1".into()),
            code: "code-unknown",
            reason: "Observation.code has no coding Islet knows".into(),
        }
    }

    #[test]
    fn a_rejected_entry_is_an_error_issue_pointing_at_the_entry() {
        let stats = Stats { resources: 2, stored: 2, rejections: 1, ..Stats::default() };
        let o = IngestOutcome::Applied { stats, rejections: vec![rejection(Some(3))], alert_changes: 1 };
        assert_eq!(o.status(), 200);
        let v = o.to_operation_outcome();
        assert_eq!(v["resourceType"], "OperationOutcome");
        assert_eq!(v["issue"][0]["severity"], "information");
        assert!(v["issue"][0]["diagnostics"].as_str().unwrap().contains("2 applied"));
        assert_eq!(v["issue"][1]["details"]["coding"][0]["code"], "code-unknown");
        assert_eq!(v["issue"][1]["expression"][0], "Bundle.entry[3]");
    }

    #[test]
    fn an_unusable_message_is_400_with_only_its_reasons() {
        let o = IngestOutcome::Unusable { rejections: vec![rejection(None)] };
        assert_eq!(o.status(), 400);
        let v = o.to_operation_outcome();
        assert_eq!(v["issue"].as_array().unwrap().len(), 1);
        assert_eq!(v["issue"][0]["code"], "invalid");
        assert!(v["issue"][0].get("expression").is_none());
    }
}
