//! Rendering one alert: its FHIR resource as bytes (what the alert topic
//! sends), the same through a `serde_json::Value` tree, and the alert JSON.
//!
//! `cargo bench -p islet-render --bench render`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use islet_engine::alert::EvidenceRecord;
use islet_engine::{AlertChange, AlertRecord, Cause, ChangeKind};
use islet_guideline::{Kind, Profile, State};
use islet_render::{fhir, topic, AlertFormat, AlertStatus};
use time::macros::{date, datetime};

/// An alert of `rule` as the engine makes it: the rule's own wording, four
/// pieces of evidence (a typical count in the scenarios).
fn alert(rule: &str) -> AlertRecord {
    let spec = islet_guideline::rules::catalogue().into_iter().find(|r| r.id == rule).unwrap();
    let follow_up = spec.kind == Kind::FollowUp;
    let evidence = [
        ("Condition/dx-1", "pNET diagnosis on 2024-01-02"),
        ("Observation/ki67-1", "WHO grade G3 from Ki-67 25 % (2024-01-05)"),
        ("Condition/liver-1", "liver metastases on 2024-01-08"),
        ("MedicationRequest/ssa-1", "somatostatin analogue planned on 2024-01-20"),
    ];
    AlertRecord {
        id: islet_engine::alert::alert_id("Patient/syn-000042", rule, follow_up.then_some(6)),
        patient: "Patient/syn-000042".into(),
        rule: rule.into(),
        kind: spec.kind,
        severity: spec.severity,
        state: if follow_up { State::Due } else { State::Active },
        due: follow_up.then_some(date!(2024 - 07 - 10)),
        summary: spec.summary.into(),
        detail: spec.detail.into(),
        evidence: evidence.iter().map(|(r, f)| EvidenceRecord { reference: (*r).into(), fact: (*f).into() }).collect(),
        citation: spec.citation.into(),
        profile: Profile::Enets,
        preliminary: false,
        since: datetime!(2024-01-20 00:00 UTC),
    }
}

fn bench(c: &mut Criterion) {
    for rule in ["ssa.not-in-g3", "followup.surveillance-imaging", "targeted.after-chemo"] {
        let a = alert(rule);
        c.bench_function(&format!("fhir bytes {rule}"), |b| {
            b.iter(|| fhir::alert_resource(black_box(&a), AlertStatus::Current).to_vec())
        });
        c.bench_function(&format!("fhir via Value {rule}"), |b| {
            b.iter(|| {
                serde_json::to_vec(&fhir::alert_resource(black_box(&a), AlertStatus::Current).to_value()).unwrap()
            })
        });
    }
    let change = AlertChange {
        at: datetime!(2024-02-01 00:00 UTC),
        change: ChangeKind::Raised,
        cause: Cause::Clock,
        alert: alert("targeted.after-chemo"),
    };
    for format in [AlertFormat::Fhir, AlertFormat::Json] {
        c.bench_function(&format!("topic record {format}"), |b| {
            b.iter(|| topic::alert_record(black_box(41), black_box(&change), format).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
