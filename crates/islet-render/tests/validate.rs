//! Islet's FHIR output is valid R4 according to an independent
//! implementation: every alert of a generated cohort (its whole change log),
//! of the scenarios and of the catalogue, in every status, goes through
//! `scripts/fhir-validate.py` (PyPI `fhir.resources`, R4B models, plus the R4
//! required bindings and reference targets the models leave out). Islet's
//! CodeSystem goes through it too.

mod common;

use common::{cohort_changes, repo, validator_python, STATUSES};
use islet_engine::ChangeKind;
use islet_guideline::Kind;
use islet_render::{fhir, topic, AlertFormat, AlertStatus};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs the validator over `lines`; returns the lines it found invalid, with its errors.
fn validate(lines: &[Vec<u8>]) -> Vec<String> {
    let mut child = Command::new(validator_python())
        .arg(repo().join("scripts/fhir-validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the validator starts");
    let mut stdin = child.stdin.take().unwrap();
    let input: Vec<u8> = lines.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect();
    // Written from another thread: the validator answers while it reads.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let results: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(results.len(), lines.len(), "one result per line");
    let invalid: Vec<String> = results.iter().filter(|r| r.get("errors").is_some()).map(|r| r.to_string()).collect();
    assert_eq!(out.status.success(), invalid.is_empty(), "exit status {}", out.status);
    invalid
}

#[test]
fn every_rendered_alert_is_valid_r4() {
    let changes = cohort_changes();
    let mut alerts: Vec<_> = changes.iter().map(|c| c.alert.clone()).collect();
    alerts.extend(common::scenario_alerts());
    alerts.extend(common::catalogue_alerts());

    let mut lines = Vec::new();
    let mut seen = BTreeSet::new();
    for alert in &alerts {
        for status in STATUSES {
            let resource = fhir::alert_resource(alert, status);
            seen.insert((alert.kind, resource.resource_type(), status != AlertStatus::Current));
            lines.push(resource.to_vec());
        }
    }
    // And what the relay sends: the FHIR value of every change as the change log gives it.
    for (seq, change) in changes.iter().enumerate() {
        lines.push(topic::alert_record(seq as i64 + 1, change, AlertFormat::Fhir).unwrap().value);
    }

    // The test is only as strong as what it renders.
    let kinds: BTreeSet<Kind> = changes.iter().map(|c| c.alert.kind).collect();
    assert_eq!(kinds.len(), 6, "the cohort raises every kind: {kinds:?}");
    let resolved = changes.iter().filter(|c| c.change == ChangeKind::Resolved).count();
    let updated = changes.iter().filter(|c| c.change == ChangeKind::Updated).count();
    assert!(resolved > 10 && updated > 10, "{resolved} resolved, {updated} updated");
    assert!(alerts.iter().any(|a| a.preliminary), "a preliminary alert");
    assert_eq!(seen.len(), 12, "every kind in every status: {seen:?}");

    let invalid = validate(&lines);
    assert!(
        invalid.is_empty(),
        "{} of {} invalid, e.g.:\n{}",
        invalid.len(),
        lines.len(),
        invalid[..3.min(invalid.len())].join("\n")
    );
    eprintln!(
        "{} resources valid ({} alerts × {} statuses + {} topic values)",
        lines.len(),
        alerts.len(),
        STATUSES.len(),
        changes.len()
    );
}

/// The validator is not a rubber stamp: what R4 forbids, it refuses.
#[test]
fn the_validator_refuses_invalid_resources() {
    let alerts = common::catalogue_alerts();
    let alert = alerts.iter().find(|a| a.rule == "ssa.antiproliferative").unwrap();
    let good = fhir::alert_resource(alert, AlertStatus::Current).to_value();
    let edited = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        edit(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let invalid = validate(&[
        edited(&|v| v["intent"] = "suggestion".into()),
        edited(&|v| v["status"] = "cancelled".into()),
        edited(&|v| v["reasonReference"][0]["reference"] = "Procedure/x".into()),
        edited(&|v| v["action"][0]["resource"]["reference"] = "#nowhere".into()),
        edited(&|v| v["contained"][0]["status"] = "revoked".into()),
        edited(&|v| v["note"][0]["text"] = "".into()),
        edited(&|v| v["authoredOn"] = "2024-13-01".into()),
        edited(&|v| v["subjekt"] = v["subject"].clone()),
    ]);
    assert_eq!(invalid.len(), 8, "{invalid:#?}");
    // The same edits with values R4 allows pass.
    let valid = validate(&[
        good.to_string().into_bytes(),
        edited(&|v| v["status"] = "revoked".into()),
        edited(&|v| v["contained"][0]["status"] = "cancelled".into()),
        edited(&|v| v["reasonReference"][0]["reference"] = "DiagnosticReport/x".into()),
    ]);
    assert!(valid.is_empty(), "{valid:#?}");
}

#[test]
fn islets_codesystem_is_valid_r4() {
    let text = std::fs::read_to_string(repo().join("schemas/codesystem-pnet.json")).unwrap();
    let compact = serde_json::to_vec(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
    let invalid = validate(&[compact]);
    assert!(invalid.is_empty(), "{invalid:?}");
}
