//! An alert as a FHIR R4 resource (contract "FHIR output of an alert (R4)").
//!
//! | kind | resource |
//! | --- | --- |
//! | safety, data | `DetectedIssue` |
//! | follow-up | `Task` with a contained proposed `ServiceRequest` as `focus` |
//! | recommendation, monitoring, workup | `RequestGroup` (`intent: proposal`) with contained proposed requests |
//!
//! Every resource: `id` = the alert id, `identifier` (system
//! [`uri::ALERT_ID`]), `meta.tag` = the profile and `preliminary` when so,
//! `code` = the rule (Islet's CodeSystem), the citation as an extension
//! ([`uri::CITATION_EXTENSION`]), and each evidence reference exactly as the
//! alert holds it, with its fact in words as `display`. Where each evidence
//! reference goes:
//!
//! - DetectedIssue (safety): a therapy resource (MedicationRequest,
//!   MedicationStatement, ServiceRequest, Procedure) is `implicated` — the
//!   planned or running therapy the rule warns about; the rest is
//!   `evidence.detail`. Only the reference's type is looked at, so a done
//!   therapy cited as evidence (a non-curative resection in
//!   `olt.not-eligible`, a biliary reconstruction recorded as a Procedure) is
//!   listed as implicated too.
//! - DetectedIssue (data): all of it is `implicated` (the resources with the
//!   problem).
//! - Task: `supportingInfo` of the focus ServiceRequest (Task has no list of
//!   reasons).
//! - RequestGroup: `reasonReference` where R4 allows the type (Condition,
//!   Observation, DiagnosticReport, DocumentReference); any other type in
//!   the [`uri::EVIDENCE_EXTENSION`] extension.
//!
//! Times: the alert's `since` (the clinical time of its newest evidence) is
//! `DetectedIssue.identifiedDateTime` and `Task` / `RequestGroup.authoredOn`;
//! a follow-up's due date is `Task.restriction.period.end`.
//!
//! Status: DetectedIssue `preliminary` / `final`, resolved `cancelled`; Task
//! `requested`, resolved `completed` ([`Resolution::Done`]) or `cancelled`
//! ([`Resolution::Withdrawn`]); RequestGroup `active`, resolved `revoked`.
//! Contained requests follow their container: `active`, `completed`,
//! withdrawn `revoked` (ServiceRequest) or `cancelled` (MedicationRequest,
//! whose R4 status set has no `revoked`).

use crate::activity::{self, Activity, RequestType};
use crate::status::{AlertStatus, Resolution};
use crate::uri::{self, code};
use islet_engine::alert::EvidenceRecord;
use islet_engine::AlertRecord;
use islet_fhir::ResourceType;
use islet_guideline::{Instant, Kind, Profile, Severity, State};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::OnceLock;
use time::format_description::well_known::Rfc3339;
use time::{Date, UtcOffset};

/// The FHIR resource of one alert, borrowing from it. Serialize it with
/// [`AlertResource::to_vec`] (the alert topic) or [`AlertResource::to_value`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct AlertResource<'a>(Resource<'a>);

impl AlertResource<'_> {
    /// `DetectedIssue`, `Task` or `RequestGroup`.
    pub fn resource_type(&self) -> &'static str {
        match self.0 {
            Resource::DetectedIssue(_) => "DetectedIssue",
            Resource::Task(_) => "Task",
            Resource::RequestGroup(_) => "RequestGroup",
        }
    }

    /// Compact JSON.
    pub fn to_vec(&self) -> Vec<u8> {
        // Strings, booleans, sequences and structs only: serde_json cannot fail on them.
        serde_json::to_vec(&self.0).expect("an alert resource always serialises")
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).expect("an alert resource always serialises")
    }
}

/// The FHIR resource of `alert` in lifecycle `status`.
pub fn alert_resource(alert: &AlertRecord, status: AlertStatus) -> AlertResource<'_> {
    AlertResource(match alert.kind {
        Kind::Safety | Kind::Data => Resource::DetectedIssue(detected_issue(alert, status)),
        Kind::FollowUp => Resource::Task(task(alert, status)),
        Kind::Recommendation | Kind::Monitoring | Kind::Workup => Resource::RequestGroup(request_group(alert, status)),
    })
}

fn detected_issue(alert: &AlertRecord, status: AlertStatus) -> DetectedIssue<'_> {
    let (implicated, other): (Vec<&EvidenceRecord>, Vec<&EvidenceRecord>) = match alert.kind {
        Kind::Data => (evidence(alert).collect(), Vec::new()),
        _ => evidence(alert).partition(|e| is_therapy(&e.reference)),
    };
    let other: Vec<Reference<'_>> = other.into_iter().map(Reference::evidence).collect();
    DetectedIssue {
        id: &alert.id,
        meta: meta(alert),
        extension: citation(alert).into_iter().collect(),
        identifier: identifier(alert),
        status: match status {
            AlertStatus::Resolved(_) => "cancelled",
            AlertStatus::Current if alert.preliminary => "preliminary",
            AlertStatus::Current => "final",
        },
        code: rule_code(alert),
        severity: match alert.severity {
            Severity::Critical => "high",
            Severity::Warning => "moderate",
            Severity::Info => "low",
        },
        patient: Reference::to(&alert.patient),
        identified_date_time: date_time(alert.since),
        implicated: implicated.into_iter().map(Reference::evidence).collect(),
        evidence: if other.is_empty() { Vec::new() } else { vec![IssueEvidence { detail: other }] },
        // DetectedIssue has no note: the explanation (with the finding's own
        // reasons, e.g. which Milan criterion failed) follows the summary here.
        detail: match (text(&alert.summary), text(&alert.detail)) {
            (Some(s), Some(d)) => Some(format!("{s}\n\n{d}")),
            (s, d) => s.or(d).map(str::to_string),
        },
        reference: uri::rule_url(&alert.rule),
    }
}

fn task(alert: &AlertRecord, status: AlertStatus) -> Task<'_> {
    let activity = activity::of_rule(&alert.rule);
    // A follow-up proposes one activity; an unknown rule still gets a focus,
    // worded by the alert, so that the evidence has a place.
    let (resource, request_code, request_text) = match activity.and_then(|a| a.requests.first()) {
        Some(r) => (r.resource, r.code.map(|(c, _)| c), Some(r.text)),
        None => (RequestType::ServiceRequest, None, text(&alert.summary)),
    };
    let supporting: Vec<Reference<'_>> = evidence(alert).map(Reference::evidence).collect();
    let focus = Proposal {
        id: proposal_id(1),
        state: proposal_state(status),
        intent: "proposal",
        code: CodeableConcept { coding: request_code.map(Coding::from).into_iter().collect(), text: request_text },
        subject: Reference::to(&alert.patient),
        supporting,
    };
    let (task_status, status_reason) = match status {
        AlertStatus::Current => ("requested", None),
        AlertStatus::Resolved(Resolution::Done) => ("completed", None),
        AlertStatus::Resolved(Resolution::Withdrawn) => {
            ("cancelled", Some(CodeableConcept { coding: Vec::new(), text: Some("No longer proposed by Islet") }))
        }
    };
    let business_status = match alert.state {
        State::Scheduled => Some(code::SCHEDULED),
        State::Due => Some(code::DUE),
        State::Overdue => Some(code::OVERDUE),
        State::Active => None,
    }
    .map(|c| CodeableConcept { coding: vec![Coding::islet(c)], text: Some(c.0) });
    Task {
        id: &alert.id,
        meta: meta(alert),
        contained: vec![Contained::new(resource, focus)],
        extension: citation(alert).into_iter().collect(),
        identifier: identifier(alert),
        instantiates_uri: uri::rule_url(&alert.rule),
        status: task_status,
        status_reason,
        business_status,
        intent: "plan",
        code: rule_code(alert),
        description: text(&alert.summary),
        focus: Reference::contained(1),
        r#for: Reference::to(&alert.patient),
        authored_on: date_time(alert.since),
        restriction: alert.due.and_then(date).map(|end| Restriction { period: Period { end } }),
        note: text(&alert.detail).map(Annotation::from).into_iter().collect(),
    }
}

fn request_group(alert: &AlertRecord, status: AlertStatus) -> RequestGroup<'_> {
    let (reasons, others): (Vec<&EvidenceRecord>, Vec<&EvidenceRecord>) =
        evidence(alert).partition(|e| REASON_TYPES.contains(&type_of(&e.reference)));
    let mut extension: Vec<Extension<'_>> = citation(alert).into_iter().collect();
    extension.extend(others.into_iter().map(|e| Extension {
        url: uri::EVIDENCE_EXTENSION,
        value_string: None,
        value_reference: Some(Reference::evidence(e)),
    }));
    // A RequestGroup cannot be done, only withdrawn: its proposals with it.
    let state = match status {
        AlertStatus::Current => ProposalState::Open,
        AlertStatus::Resolved(_) => ProposalState::Withdrawn,
    };
    let mut contained = Vec::new();
    let action = match activity::of_rule(&alert.rule) {
        Some(activity) => action(alert, activity, state, &mut contained),
        None => Action {
            title: text(&alert.summary),
            description: None,
            selection_behavior: None,
            resource: None,
            action: Vec::new(),
        },
    };
    RequestGroup {
        id: &alert.id,
        meta: meta(alert),
        contained,
        extension,
        identifier: identifier(alert),
        instantiates_uri: [uri::rule_url(&alert.rule)],
        status: match status {
            AlertStatus::Current => "active",
            AlertStatus::Resolved(_) => "revoked",
        },
        intent: "proposal",
        code: rule_code(alert),
        subject: Reference::to(&alert.patient),
        authored_on: date_time(alert.since),
        reason_reference: reasons.into_iter().map(Reference::evidence).collect(),
        note: [&alert.summary, &alert.detail].into_iter().filter_map(|s| text(s)).map(Annotation::from).collect(),
        action: vec![action],
    }
}

/// The RequestGroup's one action: the activity, with its requests contained
/// (one sub-action each when they are alternatives).
fn action<'a>(
    alert: &'a AlertRecord,
    activity: &Activity,
    state: ProposalState,
    contained: &mut Vec<Contained<'a>>,
) -> Action<'a> {
    let mut references = Vec::new();
    for (i, request) in activity.requests.iter().enumerate() {
        let proposal = Proposal {
            id: proposal_id(i + 1),
            state,
            intent: "proposal",
            code: CodeableConcept {
                coding: request.code.map(|(c, _)| Coding::from(c)).into_iter().collect(),
                text: Some(request.text),
            },
            subject: Reference::to(&alert.patient),
            supporting: Vec::new(),
        };
        contained.push(Contained::new(request.resource, proposal));
        references.push((request.text, Reference::contained(i + 1)));
    }
    let mut action = Action {
        title: Some(activity.title),
        description: text(&alert.summary),
        selection_behavior: None,
        resource: None,
        action: Vec::new(),
    };
    match references.len() {
        0 => {}
        1 if !activity.alternatives => action.resource = references.pop().map(|(_, r)| r),
        _ => {
            action.selection_behavior = Some(if activity.alternatives { "at-most-one" } else { "all" });
            action.action = references
                .into_iter()
                .map(|(title, r)| Action {
                    title: Some(title),
                    description: None,
                    selection_behavior: None,
                    resource: Some(r),
                    action: Vec::new(),
                })
                .collect();
        }
    }
    action
}

/// Where a contained proposal stands: it follows its container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProposalState {
    Open,
    Done,
    Withdrawn,
}

/// A Task's focus: done with the Task, withdrawn when it is cancelled.
fn proposal_state(status: AlertStatus) -> ProposalState {
    match status {
        AlertStatus::Current => ProposalState::Open,
        AlertStatus::Resolved(Resolution::Done) => ProposalState::Done,
        AlertStatus::Resolved(Resolution::Withdrawn) => ProposalState::Withdrawn,
    }
}

/// The alert's evidence that can be written as a Reference (FHIR refuses
/// an empty `reference`).
fn evidence(alert: &AlertRecord) -> impl Iterator<Item = &EvidenceRecord> {
    alert.evidence.iter().filter(|e| !e.reference.is_empty())
}

/// The resource types R4 allows in `RequestGroup.reasonReference`.
const REASON_TYPES: [&str; 4] = ["Condition", "Observation", "DiagnosticReport", "DocumentReference"];

/// A therapy Islet reads (contract "Therapies"): planned, running or done.
fn is_therapy(reference: &str) -> bool {
    matches!(
        ResourceType::parse(type_of(reference)),
        Some(
            ResourceType::MedicationRequest
                | ResourceType::MedicationStatement
                | ResourceType::ServiceRequest
                | ResourceType::Procedure
        )
    )
}

/// The resource type a reference names: `Type/id`, also inside an absolute
/// URL or with `/_history/n`; `""` when it names none (`urn:uuid:…`).
fn type_of(reference: &str) -> &str {
    let r = reference.split_once("/_history/").map_or(reference, |(r, _)| r);
    let mut segments = r.rsplit('/');
    match (segments.next(), segments.next()) {
        (Some(_id), Some(t)) => t,
        _ => "",
    }
}

/// `Some` for a string FHIR accepts (not empty).
fn text(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn meta(alert: &AlertRecord) -> Meta<'static> {
    let profile = match alert.profile {
        Profile::Enets => code::ENETS,
        Profile::Nccn => code::NCCN,
    };
    let mut tag = vec![Coding::islet(profile)];
    if alert.preliminary {
        tag.push(Coding::islet(code::PRELIMINARY));
    }
    Meta { tag }
}

fn identifier(alert: &AlertRecord) -> [Identifier<'_>; 1] {
    [Identifier { system: uri::ALERT_ID, value: &alert.id }]
}

fn citation(alert: &AlertRecord) -> Option<Extension<'_>> {
    text(&alert.citation).map(|c| Extension {
        url: uri::CITATION_EXTENSION,
        value_string: Some(c),
        value_reference: None,
    })
}

/// The rule as a code of Islet's CodeSystem; the alert's own summary as text
/// (a finding may narrow the rule's wording).
fn rule_code(alert: &AlertRecord) -> CodeableConcept<'_> {
    let coding = text(&alert.rule)
        .map(|rule| Coding { system: uri::CODES, code: rule, display: rule_display(rule) })
        .into_iter()
        .collect();
    CodeableConcept { coding, text: text(&alert.summary) }
}

/// The rule's display in the CodeSystem: its summary in the catalogue.
fn rule_display(rule: &str) -> Option<&'static str> {
    static SUMMARIES: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    SUMMARIES
        .get_or_init(|| islet_guideline::rules::catalogue().into_iter().map(|r| (r.id, r.summary)).collect())
        .get(rule)
        .copied()
}

fn proposal_id(n: usize) -> String {
    format!("proposal-{n}")
}

/// A FHIR `dateTime` in the instant's own offset (its calendar date is the
/// record's, as everywhere in Islet), or in UTC when FHIR cannot write that
/// offset (beyond ±14:00, or with seconds); `None` outside years 1–9999.
fn date_time(t: Instant) -> Option<String> {
    let offset = t.offset();
    let writable = offset.seconds_past_minute() == 0
        && (offset.whole_hours().abs() < 14 || (offset.whole_hours().abs() == 14 && offset.minutes_past_hour() == 0));
    let t = if writable { t } else { t.checked_to_offset(UtcOffset::UTC)? };
    (1..=9999).contains(&t.year()).then(|| t.format(&Rfc3339).ok()).flatten()
}

/// A FHIR `date`; `None` outside years 1–9999.
fn date(d: Date) -> Option<String> {
    (1..=9999).contains(&d.year()).then(|| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
}

// ---- The R4 shapes written, only the elements Islet fills. ----

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "resourceType")]
enum Resource<'a> {
    DetectedIssue(DetectedIssue<'a>),
    Task(Task<'a>),
    RequestGroup(RequestGroup<'a>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct DetectedIssue<'a> {
    id: &'a str,
    meta: Meta<'static>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extension: Vec<Extension<'a>>,
    identifier: [Identifier<'a>; 1],
    status: &'static str,
    code: CodeableConcept<'a>,
    severity: &'static str,
    patient: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identified_date_time: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    implicated: Vec<Reference<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    evidence: Vec<IssueEvidence<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    reference: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct IssueEvidence<'a> {
    detail: Vec<Reference<'a>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Task<'a> {
    id: &'a str,
    meta: Meta<'static>,
    contained: Vec<Contained<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extension: Vec<Extension<'a>>,
    identifier: [Identifier<'a>; 1],
    instantiates_uri: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_reason: Option<CodeableConcept<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_status: Option<CodeableConcept<'a>>,
    intent: &'static str,
    code: CodeableConcept<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    focus: Reference<'a>,
    r#for: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authored_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restriction: Option<Restriction>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Annotation<'a>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Restriction {
    period: Period,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Period {
    end: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestGroup<'a> {
    id: &'a str,
    meta: Meta<'static>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    contained: Vec<Contained<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extension: Vec<Extension<'a>>,
    identifier: [Identifier<'a>; 1],
    instantiates_uri: [String; 1],
    status: &'static str,
    intent: &'static str,
    code: CodeableConcept<'a>,
    subject: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authored_on: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reason_reference: Vec<Reference<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Annotation<'a>>,
    action: Vec<Action<'a>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Action<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    selection_behavior: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    action: Vec<Action<'a>>,
}

/// A contained proposal. ServiceRequest and MedicationRequest differ only in
/// the names of two elements.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "resourceType")]
enum Contained<'a> {
    ServiceRequest(ServiceRequest<'a>),
    MedicationRequest(MedicationRequest<'a>),
}

impl<'a> Contained<'a> {
    fn new(resource: RequestType, p: Proposal<'a>) -> Contained<'a> {
        match resource {
            // The two resources have different status value sets (R4
            // request-status; medicationrequest-status has no `revoked`).
            RequestType::ServiceRequest => Contained::ServiceRequest(ServiceRequest {
                id: p.id,
                status: match p.state {
                    ProposalState::Open => "active",
                    ProposalState::Done => "completed",
                    ProposalState::Withdrawn => "revoked",
                },
                intent: p.intent,
                code: p.code,
                subject: p.subject,
                supporting_info: p.supporting,
            }),
            RequestType::MedicationRequest => Contained::MedicationRequest(MedicationRequest {
                id: p.id,
                status: match p.state {
                    ProposalState::Open => "active",
                    ProposalState::Done => "completed",
                    ProposalState::Withdrawn => "cancelled",
                },
                intent: p.intent,
                medication_codeable_concept: p.code,
                subject: p.subject,
                supporting_information: p.supporting,
            }),
        }
    }
}

struct Proposal<'a> {
    id: String,
    state: ProposalState,
    intent: &'static str,
    code: CodeableConcept<'a>,
    subject: Reference<'a>,
    supporting: Vec<Reference<'a>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceRequest<'a> {
    id: String,
    status: &'static str,
    intent: &'static str,
    code: CodeableConcept<'a>,
    subject: Reference<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    supporting_info: Vec<Reference<'a>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct MedicationRequest<'a> {
    id: String,
    status: &'static str,
    intent: &'static str,
    medication_codeable_concept: CodeableConcept<'a>,
    subject: Reference<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    supporting_information: Vec<Reference<'a>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Meta<'a> {
    tag: Vec<Coding<'a>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Identifier<'a> {
    system: &'static str,
    value: &'a str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Extension<'a> {
    url: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_string: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_reference: Option<Reference<'a>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct CodeableConcept<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    coding: Vec<Coding<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Coding<'a> {
    system: &'static str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'static str>,
}

impl Coding<'static> {
    fn islet((code, display): (&'static str, &'static str)) -> Self {
        Coding { system: uri::CODES, code, display: Some(display) }
    }
}

impl From<activity::Coding> for Coding<'static> {
    fn from(c: activity::Coding) -> Self {
        Coding { system: c.system, code: c.code, display: Some(c.display) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Reference<'a> {
    reference: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
}

impl<'a> Reference<'a> {
    fn to(reference: &'a str) -> Self {
        Reference { reference: reference.into(), display: None }
    }

    fn evidence(e: &'a EvidenceRecord) -> Self {
        Reference { reference: e.reference.as_str().into(), display: text(&e.fact) }
    }

    fn contained(n: usize) -> Self {
        Reference { reference: format!("#{}", proposal_id(n)).into(), display: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Annotation<'a> {
    text: &'a str,
}

impl<'a> From<&'a str> for Annotation<'a> {
    fn from(text: &'a str) -> Self {
        Annotation { text }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use time::macros::{date, datetime};

    fn alert(kind: Kind, rule: &str, evidence: &[(&str, &str)]) -> AlertRecord {
        AlertRecord {
            id: "0123456789abcdef0123456789abcdef".into(),
            patient: "Patient/p1".into(),
            rule: rule.into(),
            kind,
            severity: Severity::Warning,
            state: if kind == Kind::FollowUp { State::Due } else { State::Active },
            due: (kind == Kind::FollowUp).then_some(date!(2024 - 04 - 10)),
            summary: "One line".into(),
            detail: "What to do and why.".into(),
            evidence: evidence
                .iter()
                .map(|(r, f)| EvidenceRecord { reference: (*r).into(), fact: (*f).into() })
                .collect(),
            citation: "Rossi et al. 2014, ref 12".into(),
            profile: Profile::Enets,
            preliminary: false,
            since: datetime!(2024-01-10 08:00 +02:00),
        }
    }

    fn render(a: &AlertRecord, status: AlertStatus) -> Value {
        let r = alert_resource(a, status);
        let v = r.to_value();
        assert_eq!(v["resourceType"], r.resource_type());
        // The bytes and the value are the same resource.
        assert_eq!(serde_json::from_slice::<Value>(&r.to_vec()).unwrap(), v);
        v
    }

    const WITHDRAWN: AlertStatus = AlertStatus::Resolved(Resolution::Withdrawn);
    const DONE: AlertStatus = AlertStatus::Resolved(Resolution::Done);

    #[test]
    fn every_resource_carries_id_identifier_tags_code_and_citation() {
        for (kind, rule, rt) in [
            (Kind::Safety, "ssa.not-in-g3", "DetectedIssue"),
            (Kind::Data, "data.unknown-unit", "DetectedIssue"),
            (Kind::FollowUp, "followup.cga-surveillance", "Task"),
            (Kind::Recommendation, "prrt.candidate", "RequestGroup"),
            (Kind::Monitoring, "monitoring.prrt", "RequestGroup"),
            (Kind::Workup, "workup.cga-missing", "RequestGroup"),
        ] {
            let mut a = alert(kind, rule, &[("Observation/o1", "Ki-67 4 % on 2024-01-05")]);
            let v = render(&a, AlertStatus::Current);
            assert_eq!(v["resourceType"], rt, "{rule}");
            assert_eq!(v["id"], a.id);
            assert_eq!(v["identifier"], json!([{"system": "https://islet.dev/fhir/alert-id", "value": a.id}]));
            assert_eq!(
                v["meta"]["tag"],
                json!([{"system": uri::CODES, "code": "enets", "display": "ENETS 2012 profile"}])
            );
            assert_eq!(v["code"]["coding"][0]["system"], "https://islet.dev/fhir/CodeSystem/pnet");
            assert_eq!(v["code"]["coding"][0]["code"], rule);
            assert_eq!(v["code"]["text"], "One line");
            assert_eq!(
                v["extension"][0],
                json!({"url": "https://islet.dev/fhir/StructureDefinition/citation", "valueString": "Rossi et al. 2014, ref 12"})
            );
            // The rule's display is its catalogue summary, whatever the finding's wording.
            let summary = islet_guideline::rules::catalogue().into_iter().find(|r| r.id == rule).unwrap().summary;
            assert_eq!(v["code"]["coding"][0]["display"], summary);
            // The evidence reference exactly as received, with its fact.
            let text = v.to_string();
            assert!(text.contains(r#"{"display":"Ki-67 4 % on 2024-01-05","reference":"Observation/o1"}"#), "{text}");

            a.profile = Profile::Nccn;
            a.preliminary = true;
            let tags = render(&a, AlertStatus::Current)["meta"]["tag"].clone();
            assert_eq!(tags[0]["code"], "nccn");
            assert_eq!(tags[1]["code"], "preliminary");
        }
    }

    #[test]
    fn safety_implicates_the_therapy_and_cites_the_rest() {
        let a = alert(
            Kind::Safety,
            "ssa.not-in-g3",
            &[
                ("Condition/dx", "pNET diagnosis on 2024-01-02"),
                ("Observation/ki67", "Ki-67 25 % on 2024-01-05"),
                ("MedicationRequest/ssa", "somatostatin analogue planned on 2024-01-10"),
                ("https://ehr.example/fhir/Procedure/op/_history/2", "resection of the primary planned on 2024-02-01"),
            ],
        );
        let v = render(&a, AlertStatus::Current);
        assert_eq!(v["status"], "final");
        assert_eq!(v["severity"], "moderate");
        assert_eq!(v["patient"], json!({"reference": "Patient/p1"}));
        assert_eq!(v["identifiedDateTime"], "2024-01-10T08:00:00+02:00");
        let refs = |v: &Value| -> Vec<String> {
            v.as_array().unwrap().iter().map(|r| r["reference"].as_str().unwrap().to_string()).collect()
        };
        assert_eq!(
            refs(&v["implicated"]),
            ["MedicationRequest/ssa", "https://ehr.example/fhir/Procedure/op/_history/2"]
        );
        assert_eq!(refs(&v["evidence"][0]["detail"]), ["Condition/dx", "Observation/ki67"]);
        assert_eq!(v["detail"], "One line\n\nWhat to do and why.");
        assert_eq!(v["reference"], "https://islet.dev/fhir/rule/ssa.not-in-g3");

        // Without a therapy among the evidence nothing is implicated; without other evidence, no `evidence`.
        let only_observation = alert(Kind::Safety, "prrt.needs-uptake", &[("Observation/k", "Krenning 1")]);
        let v = render(&only_observation, AlertStatus::Current);
        assert!(v.get("implicated").is_none());
        assert_eq!(refs(&v["evidence"][0]["detail"]), ["Observation/k"]);
        let only_therapy = alert(Kind::Safety, "prrt.needs-uptake", &[("ServiceRequest/prrt", "PRRT planned")]);
        let v = render(&only_therapy, AlertStatus::Current);
        assert_eq!(refs(&v["implicated"]), ["ServiceRequest/prrt"]);
        assert!(v.get("evidence").is_none());
    }

    #[test]
    fn severity_and_status_of_a_detected_issue() {
        let mut a = alert(Kind::Safety, "ssa.not-in-g3", &[]);
        for (severity, expected) in
            [(Severity::Critical, "high"), (Severity::Warning, "moderate"), (Severity::Info, "low")]
        {
            a.severity = severity;
            assert_eq!(render(&a, AlertStatus::Current)["severity"], expected);
        }
        assert_eq!(render(&a, AlertStatus::Current)["status"], "final");
        a.preliminary = true;
        assert_eq!(render(&a, AlertStatus::Current)["status"], "preliminary");
        // Resolved is cancelled, preliminary or not, however it ended.
        assert_eq!(render(&a, WITHDRAWN)["status"], "cancelled");
        assert_eq!(render(&a, DONE)["status"], "cancelled");
    }

    #[test]
    fn data_problems_implicate_every_resource() {
        let a = alert(
            Kind::Data,
            "data.grade-discordant",
            &[("Observation/ki67", "Ki-67 25 %"), ("Observation/mitoses", "2 mitoses / 10 HPF")],
        );
        let v = render(&a, AlertStatus::Current);
        assert_eq!(v["resourceType"], "DetectedIssue");
        assert_eq!(v["implicated"].as_array().unwrap().len(), 2);
        assert!(v.get("evidence").is_none());
    }

    #[test]
    fn a_follow_up_is_a_task_with_a_dated_proposal() {
        let a = alert(Kind::FollowUp, "followup.surveillance-imaging", &[("Observation/size1", "baseline 14 mm")]);
        let v = render(&a, AlertStatus::Current);
        assert_eq!(v["status"], "requested");
        assert_eq!(v["intent"], "plan");
        assert_eq!(v["for"], json!({"reference": "Patient/p1"}));
        assert_eq!(v["restriction"], json!({"period": {"end": "2024-04-10"}}));
        assert_eq!(
            v["businessStatus"],
            json!({"coding": [{"system": uri::CODES, "code": "due", "display": "Due"}], "text": "due"})
        );
        assert_eq!(v["instantiatesUri"], "https://islet.dev/fhir/rule/followup.surveillance-imaging");
        assert_eq!(v["description"], "One line");
        assert_eq!(v["note"], json!([{"text": "What to do and why."}]));
        assert_eq!(v["focus"], json!({"reference": "#proposal-1"}));
        let sr = &v["contained"][0];
        assert_eq!(sr["resourceType"], "ServiceRequest");
        assert_eq!(sr["id"], "proposal-1");
        assert_eq!((&sr["status"], &sr["intent"]), (&json!("active"), &json!("proposal")));
        // No order code exists in the contract for surveillance imaging: text only.
        assert_eq!(sr["code"], json!({"text": "Imaging to measure the pancreatic tumour"}));
        assert_eq!(sr["supportingInfo"], json!([{"reference": "Observation/size1", "display": "baseline 14 mm"}]));
        assert!(v.get("statusReason").is_none());

        for (state, code) in [(State::Scheduled, "scheduled"), (State::Overdue, "overdue")] {
            let a = AlertRecord { state, ..a.clone() };
            assert_eq!(render(&a, AlertStatus::Current)["businessStatus"]["coding"][0]["code"], code);
        }
        // No due date: no restriction.
        let undated = AlertRecord { due: None, ..a.clone() };
        assert!(render(&undated, AlertStatus::Current).get("restriction").is_none());
    }

    #[test]
    fn a_resolved_task_is_completed_only_when_known_done() {
        let a = alert(Kind::FollowUp, "followup.cga-surveillance", &[]);
        let v = render(&a, WITHDRAWN);
        assert_eq!(v["status"], "cancelled");
        assert_eq!(v["statusReason"]["text"], "No longer proposed by Islet");
        assert_eq!(v["contained"][0]["status"], "revoked");
        let v = render(&a, DONE);
        assert_eq!(v["status"], "completed");
        assert!(v.get("statusReason").is_none());
        assert_eq!(v["contained"][0]["status"], "completed");
        // The state it was in when it ended is kept.
        assert_eq!(v["businessStatus"]["text"], "due");
    }

    #[test]
    fn a_recommendation_is_a_request_group_of_proposals() {
        let a = alert(
            Kind::Recommendation,
            "targeted.after-chemo",
            &[
                ("Condition/dx", "pNET diagnosis"),
                ("MedicationStatement/chemo", "chemotherapy done"),
                ("Observation/pd", "progressive disease"),
                ("Patient/p1", "born 1960-05-01"),
            ],
        );
        let v = render(&a, AlertStatus::Current);
        assert_eq!((&v["status"], &v["intent"]), (&json!("active"), &json!("proposal")));
        assert_eq!(v["instantiatesUri"], json!(["https://islet.dev/fhir/rule/targeted.after-chemo"]));
        assert_eq!(v["subject"], json!({"reference": "Patient/p1"}));
        assert_eq!(v["authoredOn"], "2024-01-10T08:00:00+02:00");
        assert_eq!(v["note"], json!([{"text": "One line"}, {"text": "What to do and why."}]));
        // R4 takes only Condition/Observation/DiagnosticReport/DocumentReference as reasons.
        let reasons: Vec<&str> =
            v["reasonReference"].as_array().unwrap().iter().map(|r| r["reference"].as_str().unwrap()).collect();
        assert_eq!(reasons, ["Condition/dx", "Observation/pd"]);
        let others: Vec<&Value> = v["extension"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["url"] == uri::EVIDENCE_EXTENSION)
            .map(|e| &e["valueReference"])
            .collect();
        assert_eq!(
            others,
            [
                &json!({"reference": "MedicationStatement/chemo", "display": "chemotherapy done"}),
                &json!({"reference": "Patient/p1", "display": "born 1960-05-01"})
            ]
        );
        // Everolimus or sunitinib: alternatives, at most one, each a contained proposal.
        let action = &v["action"][0];
        assert_eq!(action["title"], "Everolimus or sunitinib");
        assert_eq!(action["description"], "One line");
        assert_eq!(action["selectionBehavior"], "at-most-one");
        assert_eq!(action["action"][1]["resource"], json!({"reference": "#proposal-2"}));
        let mr = &v["contained"][1];
        assert_eq!(mr["resourceType"], "MedicationRequest");
        assert_eq!(mr["id"], "proposal-2");
        assert_eq!((&mr["status"], &mr["intent"]), (&json!("active"), &json!("proposal")));
        assert_eq!(mr["medicationCodeableConcept"]["coding"][0]["code"], "L01EX01");
        assert_eq!(mr["subject"], json!({"reference": "Patient/p1"}));

        let revoked = render(&a, WITHDRAWN);
        assert_eq!(revoked["status"], "revoked");
        // MedicationRequest has no `revoked` in R4.
        assert_eq!(revoked["contained"][0]["status"], "cancelled");
        assert_eq!(render(&a, DONE)["status"], "revoked");
    }

    #[test]
    fn one_request_is_the_action_itself_and_none_is_just_words() {
        let a = alert(Kind::Recommendation, "prrt.candidate", &[]);
        let v = render(&a, AlertStatus::Current);
        assert_eq!(v["action"][0]["resource"], json!({"reference": "#proposal-1"}));
        assert!(v["action"][0].get("selectionBehavior").is_none());
        assert_eq!(v["contained"][0]["code"]["coding"][0]["code"], "prrt");
        assert_eq!(render(&a, WITHDRAWN)["contained"][0]["status"], "revoked");

        let sirt = render(&alert(Kind::Recommendation, "liver.sirt", &[]), AlertStatus::Current);
        assert_eq!(sirt["action"][0]["selectionBehavior"], "all");
        assert_eq!(sirt["contained"].as_array().unwrap().len(), 2);

        let watch = render(&alert(Kind::Monitoring, "monitoring.ssa", &[]), AlertStatus::Current);
        assert!(watch.get("contained").is_none());
        assert_eq!(
            watch["action"],
            json!([{"title": "Side effects of the somatostatin analogue", "description": "One line"}])
        );
    }

    #[test]
    fn an_unknown_rule_still_renders() {
        // An alert stored by another version of Islet, whose rule this build does not know.
        let rg = render(&alert(Kind::Recommendation, "retired.rule", &[("Observation/o", "x")]), AlertStatus::Current);
        assert_eq!(rg["code"]["coding"][0], json!({"system": uri::CODES, "code": "retired.rule"}));
        assert_eq!(rg["action"], json!([{"title": "One line"}]));
        let task = render(&alert(Kind::FollowUp, "retired.followup", &[("Observation/o", "x")]), AlertStatus::Current);
        assert_eq!(task["contained"][0]["code"], json!({"text": "One line"}));
        assert_eq!(task["contained"][0]["supportingInfo"][0]["reference"], "Observation/o");
    }

    #[test]
    fn empty_strings_are_left_out() {
        let mut a = alert(Kind::Recommendation, "prrt.candidate", &[("", "lost"), ("Observation/o", "")]);
        a.summary.clear();
        a.detail.clear();
        a.citation.clear();
        let v = render(&a, AlertStatus::Current);
        assert!(v.get("note").is_none());
        assert!(v.get("extension").is_none());
        assert!(v["code"].get("text").is_none());
        assert!(v["action"][0].get("description").is_none());
        assert_eq!(v["reasonReference"], json!([{"reference": "Observation/o"}]));
        let issue = render(&AlertRecord { kind: Kind::Safety, ..a.clone() }, AlertStatus::Current);
        assert!(issue.get("detail").is_none());
        let mut only_detail = a.clone();
        only_detail.detail = "d".into();
        let issue = render(&AlertRecord { kind: Kind::Safety, ..only_detail }, AlertStatus::Current);
        assert_eq!(issue["detail"], "d");
    }

    #[test]
    fn times_are_written_as_fhir_can_read_them() {
        assert_eq!(date_time(datetime!(2024-01-10 08:00 +02:00)).unwrap(), "2024-01-10T08:00:00+02:00");
        assert_eq!(date_time(datetime!(2024-01-10 08:00:00.5 UTC)).unwrap(), "2024-01-10T08:00:00.5Z");
        assert_eq!(date_time(datetime!(2024-01-10 08:00 +14:00)).unwrap(), "2024-01-10T08:00:00+14:00");
        // FHIR offsets stop at ±14:00 and have no seconds: written in UTC instead.
        assert_eq!(date_time(datetime!(2024-01-10 08:00 +14:30)).unwrap(), "2024-01-09T17:30:00Z");
        assert_eq!(date_time(datetime!(2024-01-10 08:00 -01:00:30)).unwrap(), "2024-01-10T09:00:30Z");
        // Years FHIR cannot write.
        assert_eq!(date_time(datetime!(0000-06-01 00:00 UTC)), None);
        assert_eq!(date_time(datetime!(-0001-06-01 00:00 UTC)), None);
        assert_eq!(date(date!(2024 - 04 - 10)).unwrap(), "2024-04-10");
        assert_eq!(date(date!(0099 - 01 - 02)).unwrap(), "0099-01-02");
        assert_eq!(date(date!(-0001 - 01 - 02)), None);
        // And then they are left out.
        let mut a = alert(Kind::FollowUp, "followup.cga-surveillance", &[]);
        a.since = datetime!(-0001-06-01 00:00 UTC);
        a.due = Some(date!(-0001 - 01 - 01));
        let v = render(&a, AlertStatus::Current);
        assert!(v.get("authoredOn").is_none() && v.get("restriction").is_none());
    }

    #[test]
    fn reference_types() {
        assert_eq!(type_of("Observation/o1"), "Observation");
        assert_eq!(type_of("https://ehr.example/fhir/Procedure/op"), "Procedure");
        assert_eq!(type_of("Procedure/op/_history/3"), "Procedure");
        assert_eq!(type_of("urn:uuid:2f1c"), "");
        assert_eq!(type_of(""), "");
        assert!(is_therapy("MedicationStatement/m") && is_therapy("ServiceRequest/s"));
        assert!(!is_therapy("Observation/o") && !is_therapy("Medication/m"));
    }
}
