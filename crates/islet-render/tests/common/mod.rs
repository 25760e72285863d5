//! Alerts to render, from three sources: a generated cohort run through the
//! real engine (with its change log), the scenarios' golden outputs, and one
//! made-up alert per rule of the catalogue (so every rule's activity is
//! rendered even when no cohort patient raises it).

#![allow(dead_code)] // each test binary uses a part

use islet_engine::alert::EvidenceRecord;
use islet_engine::{AlertChange, AlertRecord, BatchLimits, Engine, MemStore, Message, Origin, Source};
use islet_fhir::SiteMapping;
use islet_guideline::{Config, Kind, Profile, State};
use islet_render::{AlertStatus, Resolution};
use islet_synth::{generate, CohortOptions};
use std::path::PathBuf;
use std::sync::OnceLock;
use time::macros::{date, datetime};

/// Every status an alert can be rendered in.
pub const STATUSES: [AlertStatus; 3] =
    [AlertStatus::Current, AlertStatus::Resolved(Resolution::Withdrawn), AlertStatus::Resolved(Resolution::Done)];

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The change log of a 60-patient cohort: loaded in batches of 100 lines at
/// 2025-01-01, then woken up later three times (follow-ups turn due and
/// overdue, schedules end).
pub fn cohort_changes() -> &'static [AlertChange] {
    static CHANGES: OnceLock<Vec<AlertChange>> = OnceLock::new();
    CHANGES.get_or_init(|| {
        let mut out = Vec::new();
        generate(&CohortOptions { patients: 60, seed: 7, ..CohortOptions::default() }, &mut out).unwrap();
        let engine = Engine::new(SiteMapping::empty(), Config::default());
        let config = engine.config().clone();
        let at = datetime!(2025-01-01 00:00 UTC);
        let mut store = MemStore::new(true);
        let mut batcher = engine.batcher(BatchLimits { max_messages: 100 }, at);
        let source = Source::file("cohort");
        for (i, line) in out.split(|b| *b == b'\n').enumerate() {
            if let Some(batch) = batcher.push(Message::new(Origin::line(&source, i as u64 + 1), line)) {
                store.process(&config, &batch, at);
            }
        }
        store.process(&config, &batcher.take(), at);
        for later in [datetime!(2025-04-01 00:00 UTC), datetime!(2025-09-01 00:00 UTC), datetime!(2027-01-01 00:00 UTC)]
        {
            store.wake_due(&config, later, usize::MAX);
        }
        store.change_log().to_vec()
    })
}

/// Every alert of the scenarios' golden outputs (alert lines, or the alert
/// of change lines).
pub fn scenario_alerts() -> Vec<AlertRecord> {
    let mut alerts = Vec::new();
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(repo().join("tests/scenarios")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    for dir in dirs {
        let expected = std::fs::read_to_string(dir.join("expected.ndjson")).unwrap();
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            let alert = match serde_json::from_str::<AlertChange>(line) {
                Ok(change) => change.alert,
                Err(_) => serde_json::from_str::<AlertRecord>(line)
                    .unwrap_or_else(|e| panic!("{}: {e}: {line}", dir.display())),
            };
            alerts.push(alert);
        }
    }
    alerts
}

/// One alert per rule of the catalogue, with evidence of every type a rule
/// cites (a diagnosis, a result, a planned therapy, a done procedure, the
/// patient), preliminary every other rule, NCCN every third.
pub fn catalogue_alerts() -> Vec<AlertRecord> {
    islet_guideline::rules::catalogue()
        .into_iter()
        .enumerate()
        .map(|(i, rule)| {
            let follow_up = rule.kind == Kind::FollowUp;
            let patient = format!("Patient/cat-{i}");
            AlertRecord {
                id: islet_engine::alert::alert_id(&patient, rule.id, follow_up.then_some(3)),
                patient,
                rule: rule.id.into(),
                kind: rule.kind,
                severity: rule.severity,
                state: if follow_up { State::Due } else { State::Active },
                due: follow_up.then_some(date!(2024 - 04 - 10)),
                summary: rule.summary.into(),
                detail: rule.detail.into(),
                evidence: vec![
                    evidence("Condition/dx-1", "pNET diagnosis on 2024-01-02"),
                    evidence("Observation/ki67-1", "Ki-67 4 % on 2024-01-05"),
                    evidence("MedicationRequest/plan-1", "somatostatin analogue planned on 2024-01-20"),
                    evidence("Procedure/resection-1", "resection of the primary done, debulking on 2023-06-01"),
                    evidence("Patient/p1", "born 1960-05-01"),
                ],
                citation: rule.citation.into(),
                profile: if i % 3 == 0 { Profile::Nccn } else { Profile::Enets },
                preliminary: i % 2 == 1,
                since: datetime!(2024-01-20 09:30 +01:00),
            }
        })
        .collect()
}

pub fn evidence(reference: &str, fact: &str) -> EvidenceRecord {
    EvidenceRecord { reference: reference.into(), fact: fact.into() }
}

/// The python of the validator's venv (installed when missing), once per test binary.
pub fn validator_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let script = repo().join("scripts/ensure-fhir-validator");
            let out = std::process::Command::new(&script)
                .stderr(std::process::Stdio::inherit())
                .output()
                .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
            assert!(out.status.success(), "{} failed: {}", script.display(), out.status);
            PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
        })
        .clone()
}
