//! The alert-topic record of every change of a cohort's change log: key,
//! headers (contract "Kafka", alert topic), and a value in either format.

mod common;

use islet_engine::{AlertRecord, ChangeKind};
use islet_render::topic::{self, alert_record, RenderError};
use islet_render::{fhir, AlertFormat, AlertStatus};

#[test]
fn every_change_becomes_a_record_in_both_formats() {
    let changes = common::cohort_changes();
    assert!(changes.len() > 100);
    for (i, change) in changes.iter().enumerate() {
        let seq = 1000 + i as i64;
        let fhir = alert_record(seq, change, AlertFormat::Fhir).unwrap();
        let json = alert_record(seq, change, AlertFormat::Json).unwrap();
        for record in [&fhir, &json] {
            assert_eq!(record.key, change.alert.patient.as_bytes());
            let names: Vec<&str> = record.headers.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, ["islet.change", "islet.change.kind", "islet.alert.id", "islet.version"]);
            assert_eq!(record.header("islet.change").unwrap(), seq.to_string().as_bytes());
            let kind = serde_json::to_value(change.change).unwrap();
            assert_eq!(record.header("islet.change.kind").unwrap(), kind.as_str().unwrap().as_bytes());
            assert_eq!(record.header("islet.alert.id").unwrap(), change.alert.id.as_bytes());
            assert_eq!(record.header("islet.version").unwrap(), env!("CARGO_PKG_VERSION").as_bytes());
        }
        // JSON: the alert exactly as replay prints it (serde of AlertRecord), as it last was when resolved.
        assert_eq!(json.value, serde_json::to_vec(&change.alert).unwrap());
        let back: AlertRecord = serde_json::from_slice(&json.value).unwrap();
        assert_eq!(&back, &change.alert);
        // FHIR: the resource of the alert, the value's `id` being the alert id.
        let value: serde_json::Value = serde_json::from_slice(&fhir.value).unwrap();
        assert_eq!(value["id"], change.alert.id.as_str());
        assert_eq!(fhir.value, fhir::alert_resource(&change.alert, AlertStatus::of(change)).to_vec());
        let terminal = ["cancelled", "revoked", "completed"].contains(&value["status"].as_str().unwrap());
        assert_eq!(terminal, change.change == ChangeKind::Resolved, "{value}");
    }
}

#[test]
fn a_resolved_follow_up_is_cancelled_and_its_focus_revoked() {
    let change = common::cohort_changes()
        .iter()
        .find(|c| c.change == ChangeKind::Resolved && c.alert.rule.starts_with("followup."))
        .expect("the cohort resolves a follow-up");
    let value: serde_json::Value =
        serde_json::from_slice(&alert_record(1, change, AlertFormat::Fhir).unwrap().value).unwrap();
    assert_eq!(value["resourceType"], "Task");
    assert_eq!(value["status"], "cancelled");
    assert_eq!(value["contained"][0]["status"], "revoked");
}

#[test]
fn formats_parse_and_a_wrong_one_is_named() {
    assert_eq!("fhir".parse::<AlertFormat>().unwrap(), AlertFormat::Fhir);
    assert_eq!("json".parse::<AlertFormat>().unwrap(), AlertFormat::Json);
    assert_eq!(AlertFormat::default(), AlertFormat::Fhir);
    for f in [AlertFormat::Fhir, AlertFormat::Json] {
        assert_eq!(f.to_string().parse::<AlertFormat>().unwrap(), f);
    }
    let err = "FHIR".parse::<AlertFormat>().unwrap_err();
    assert_eq!(err.to_string(), r#"unknown alert format "FHIR": expected "fhir" or "json""#);
    assert!("".parse::<AlertFormat>().is_err());
}

#[test]
fn an_alert_without_a_writable_json_time_is_an_error_naming_it() {
    let mut change = common::cohort_changes()[0].clone();
    // RFC 3339 has no offsets with seconds; the store could not have held this alert.
    change.alert.since = time::macros::datetime!(2024-01-10 08:00 +01:00:30);
    let err = alert_record(5, &change, AlertFormat::Json).unwrap_err();
    assert!(matches!(&err, RenderError::Json { alert, .. } if *alert == change.alert.id));
    assert!(err.to_string().starts_with(&format!("alert {}: cannot write its JSON", change.alert.id)), "{err}");
    // The FHIR value writes the time in UTC instead.
    assert!(alert_record(5, &change, AlertFormat::Fhir).is_ok());
    assert_eq!(topic::CHANGE, "islet.change");
}
