//! An audit event as FHIR R4 AuditEvent, shaped as IHE Basic Audit Log
//! Patterns (BALP) describe: the REST interaction (read, search, update) or
//! the DICOM user-authentication event (login, logout), the user as the
//! requesting agent with their network address, Islet as the source, the
//! patient as an entity when there is one. Pure.

use islet_store::audit::StoredEvent;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

const BALP: &str = "https://profiles.ihe.net/ITI/BALP/StructureDefinition";
const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL_INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const PARTICIPATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
/// Islet's own subtypes (the actions on alerts, refusals).
pub const ISLET_AUDIT_SUBTYPE: &str = "https://islet.dev/fhir/CodeSystem/audit-subtype";

/// The event as an AuditEvent resource (id = `{lane}-{seq}`).
pub fn audit_event(e: &StoredEvent) -> Value {
    let (event_type, subtype, profile) = match e.subtype.as_str() {
        "login" | "login-failed" => (
            json!({"system": DICOM, "code": "110114", "display": "User Authentication"}),
            json!({"system": DICOM, "code": "110122", "display": "Login"}),
            None,
        ),
        "logout" => (
            json!({"system": DICOM, "code": "110114", "display": "User Authentication"}),
            json!({"system": DICOM, "code": "110123", "display": "Logout"}),
            None,
        ),
        "read" => (rest(), json!({"system": RESTFUL_INTERACTION, "code": "read"}), Some("IHE.BasicAudit.PatientRead")),
        "search" => {
            (rest(), json!({"system": RESTFUL_INTERACTION, "code": "search-type"}), Some("IHE.BasicAudit.PatientQuery"))
        }
        "acknowledge" | "snooze" | "assign" | "note" => {
            (rest(), json!({"system": RESTFUL_INTERACTION, "code": "update"}), Some("IHE.BasicAudit.PatientUpdate"))
        }
        other => (rest(), json!({"system": ISLET_AUDIT_SUBTYPE, "code": other}), None),
    };
    let mut subtypes = vec![subtype];
    if matches!(e.subtype.as_str(), "acknowledge" | "snooze" | "assign" | "note" | "login-failed" | "forbidden") {
        subtypes.push(json!({"system": ISLET_AUDIT_SUBTYPE, "code": e.subtype}));
    }
    let mut who = json!({"identifier": {"value": e.actor}});
    if let Some(name) = &e.actor_name {
        who["display"] = json!(name);
    }
    let mut agent = json!({
        "type": {"coding": [{"system": PARTICIPATION, "code": "IRCP", "display": "information recipient"}]},
        "who": who,
        "requestor": true,
    });
    if !e.roles.is_empty() {
        agent["role"] = json!(e.roles.iter().map(|r| json!({"text": r})).collect::<Vec<_>>());
    }
    if let Some(ip) = &e.source_ip {
        agent["network"] = json!({"address": ip, "type": "2"}); // 2: an IP address
    }
    if let Some(credential) = &e.credential {
        agent["altId"] = json!(credential);
    }
    let mut entities = Vec::new();
    if let Some(patient) = &e.patient_id {
        entities.push(json!({
            "what": {"reference": patient},
            "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
        }));
    }
    if let Some(entity) = &e.entity {
        let mut object = json!({
            "what": {"display": entity},
            "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
        });
        if let Some(detail) = &e.detail {
            object["description"] = json!(detail);
        }
        entities.push(object);
    }
    if let Some(request_id) = &e.request_id {
        entities.push(json!({
            "what": {"identifier": {"value": request_id}},
            "type": {"system": ENTITY_TYPE, "code": "4", "display": "Other"},
            "description": "request id",
        }));
    }
    let mut event = json!({
        "resourceType": "AuditEvent",
        "id": format!("{}-{}", e.lane, e.seq),
        "type": event_type,
        "subtype": subtypes,
        "action": e.action,
        "recorded": e.recorded.format(&Rfc3339).unwrap_or_default(),
        "outcome": e.outcome.to_string(),
        "agent": [agent],
        "source": {
            "observer": {"display": "Islet"},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
    });
    if let Some(profile) = profile.filter(|_| e.patient_id.is_some()) {
        event["meta"] = json!({"profile": [format!("{BALP}/{profile}")]});
    }
    if !entities.is_empty() {
        event["entity"] = json!(entities);
    }
    event
}

fn rest() -> Value {
    json!({"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "Restful Operation"})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(subtype: &str, patient: Option<&str>) -> StoredEvent {
        StoredEvent {
            lane: 3,
            seq: 7,
            recorded: time::macros::datetime!(2027-01-02 03:04:05.123456 UTC),
            actor: "https://idp|u-1".into(),
            actor_name: Some("Dr A".into()),
            roles: vec!["viewer".into(), "clinician".into()],
            action: "R".into(),
            subtype: subtype.into(),
            outcome: 0,
            patient_id: patient.map(Into::into),
            entity: Some("/api/patients/1".into()),
            source_ip: Some("10.0.0.5".into()),
            user_agent: None,
            request_id: Some("abcd".into()),
            credential: Some("session:0011".into()),
            detail: None,
        }
    }

    #[test]
    fn a_patient_read_is_a_balp_patient_read() {
        let v = audit_event(&event("read", Some("Patient/1")));
        assert_eq!(v["meta"]["profile"][0], format!("{BALP}/IHE.BasicAudit.PatientRead"));
        assert_eq!(v["subtype"][0]["code"], "read");
        assert_eq!(v["entity"][0]["what"]["reference"], "Patient/1");
        assert_eq!(v["agent"][0]["network"]["address"], "10.0.0.5");
        assert_eq!(v["recorded"], "2027-01-02T03:04:05.123456Z");
        assert_eq!(v["outcome"], "0");
        assert_eq!(v["id"], "3-7");
    }

    #[test]
    fn sign_ins_are_user_authentication_events() {
        let v = audit_event(&event("login", None));
        assert_eq!(v["type"]["code"], "110114");
        assert_eq!(v["subtype"][0]["code"], "110122");
        assert!(v.get("meta").is_none());
        let v = audit_event(&event("acknowledge", Some("Patient/1")));
        assert_eq!(v["subtype"][1]["code"], "acknowledge");
    }
}
