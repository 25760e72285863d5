//! The batch pipeline over the in-memory store: apply, evaluate, reconcile,
//! wake-ups, and the order/duplicate properties.

use islet_engine::{AlertChange, Batch, ChangeKind, Engine, Item, MemStore, Origin, Source, Stats};
use islet_fhir::{Change, Decoded, ResourceType, ResourceVersion, SiteMapping};
use islet_guideline::facts::*;
use islet_guideline::{Config, Instant};
use proptest::prelude::*;
use time::macros::datetime;

fn engine() -> Engine {
    Engine::new(SiteMapping::empty(), Config::default())
}

fn resource(
    patient: &str,
    reference: &str,
    version: u32,
    at: Instant,
    kinds: Vec<FactKind>,
    retracted: bool,
) -> Change {
    let (rt, id) = reference.split_once('/').unwrap();
    // What the content hash sees: everything that differs between versions.
    let raw = format!("{patient}|{reference}|{version}|{at}|{kinds:?}|{retracted}");
    Change::Upsert(ResourceVersion {
        resource_type: ResourceType::parse(rt).unwrap(),
        id: id.into(),
        patient: format!("Patient/{patient}"),
        version_id: Some(version.to_string()),
        last_updated: Some(at),
        clinical_time: Some(at),
        retracted,
        facts: kinds
            .into_iter()
            .map(|kind| Fact { source: SourceRef(reference.into()), at, preliminary: false, kind })
            .collect(),
        content_hash: islet_fhir::canonical::content_sha256(&raw),
        pending: Vec::new(),
        definition: None,
        raw,
    })
}

fn item(line: u64, change: Change) -> Item {
    Item::new(Origin::line(&Source::file("test"), line + 1), Decoded { changes: vec![change], rejections: vec![] })
}

/// One batch through the in-memory store.
fn process(engine: &Engine, store: &mut MemStore, items: &[Item], now: Instant) -> (Vec<AlertChange>, Stats) {
    store.process(engine.config(), &Batch::of_items(items.to_vec()), now)
}

fn mm(v: f64) -> FactKind {
    FactKind::TumourSize { site: TumourSite::Primary, largest: Millimetres::new(v).unwrap() }
}

/// A small incidental non-functioning tumour: surveillance with follow-ups.
fn small_tumour(patient: &str) -> Vec<Change> {
    vec![
        resource(patient, "Condition/dx", 1, datetime!(2024-01-02 00:00 UTC), vec![FactKind::PnetDiagnosis], false),
        resource(patient, "Observation/size1", 1, datetime!(2024-01-10 00:00 UTC), vec![mm(14.0)], false),
        resource(
            patient,
            "Observation/ki67",
            1,
            datetime!(2024-01-12 00:00 UTC),
            vec![FactKind::Ki67(Ki67Percent::new(1.5).unwrap())],
            false,
        ),
    ]
}

fn rules(store: &MemStore) -> Vec<String> {
    store.alerts().iter().map(|a| a.rule.clone()).collect()
}

#[test]
fn a_batch_raises_and_a_retraction_resolves() {
    let engine = engine();
    let mut store = MemStore::new(true);
    let now = datetime!(2024-02-01 00:00 UTC);
    let items: Vec<Item> = small_tumour("p1").into_iter().enumerate().map(|(i, c)| item(i as u64, c)).collect();
    let (changes, stats) = process(&engine, &mut store, &items, now);
    assert_eq!(stats.stored, 3);
    assert!(changes.iter().all(|c| c.change == ChangeKind::Raised));
    assert!(rules(&store).contains(&"surveillance.small-nonfunctioning".to_string()));
    assert!(!rules(&store).contains(&"workup.grading-missing".to_string()));

    // The Ki-67 is entered in error: grading is missing again.
    let retract = resource("p1", "Observation/ki67", 2, datetime!(2024-01-12 00:00 UTC), vec![], true);
    let (changes, _) = process(&engine, &mut store, &[item(10, retract)], now);
    assert!(changes.iter().any(|c| c.change == ChangeKind::Raised && c.alert.rule == "workup.grading-missing"));
    assert!(rules(&store).contains(&"workup.grading-missing".to_string()));
}

#[test]
fn a_duplicate_batch_changes_nothing() {
    let engine = engine();
    let mut store = MemStore::new(true);
    let now = datetime!(2024-02-01 00:00 UTC);
    let items: Vec<Item> = small_tumour("p1").into_iter().enumerate().map(|(i, c)| item(i as u64, c)).collect();
    process(&engine, &mut store, &items, now);
    let before = store.alerts().into_iter().cloned().collect::<Vec<_>>();
    let (changes, stats) = process(&engine, &mut store, &items, now);
    assert!(changes.is_empty());
    assert_eq!(stats.duplicates, 3);
    assert_eq!(store.alerts().into_iter().cloned().collect::<Vec<_>>(), before);
}

#[test]
fn follow_up_turns_due_then_overdue_on_the_clock_alone() {
    let engine = engine();
    let mut store = MemStore::new(true);
    let items: Vec<Item> = small_tumour("p1").into_iter().enumerate().map(|(i, c)| item(i as u64, c)).collect();
    process(&engine, &mut store, &items, datetime!(2024-02-01 00:00 UTC));
    let state = |s: &MemStore| s.alerts().iter().find(|a| a.rule == "followup.surveillance-imaging").map(|a| a.state);
    assert_eq!(state(&store), Some(islet_guideline::State::Scheduled));
    let wake = store.patient("Patient/p1").unwrap().wake_at.unwrap();
    assert_eq!(wake, datetime!(2024-03-27 00:00 UTC));

    // Before the wake time nobody is due.
    let (changes, claimed) = store.wake_due(engine.config(), datetime!(2024-03-26 23:59 UTC), 100);
    assert_eq!((changes.len(), claimed), (0, 0));
    let (changes, claimed) = store.wake_due(engine.config(), wake, 100);
    assert_eq!(claimed, 1);
    // Both schedules (imaging and CgA) turn due.
    let mut updated: Vec<&str> = changes.iter().map(|c| c.alert.rule.as_str()).collect();
    updated.sort();
    assert_eq!(updated, ["followup.cga-surveillance", "followup.surveillance-imaging"]);
    assert!(changes.iter().all(|c| c.change == ChangeKind::Updated && c.cause == islet_engine::Cause::Clock));
    assert_eq!(state(&store), Some(islet_guideline::State::Due));

    let wake = store.patient("Patient/p1").unwrap().wake_at.unwrap();
    assert_eq!(wake, datetime!(2024-04-11 00:00 UTC));
    store.wake_due(engine.config(), wake, 100);
    assert_eq!(state(&store), Some(islet_guideline::State::Overdue));
}

#[test]
fn delete_by_reference_finds_the_patient() {
    let engine = engine();
    let mut store = MemStore::new(false);
    let now = datetime!(2024-02-01 00:00 UTC);
    let items: Vec<Item> = small_tumour("p1").into_iter().enumerate().map(|(i, c)| item(i as u64, c)).collect();
    process(&engine, &mut store, &items, now);
    let delete =
        Change::Delete { resource_type: ResourceType::Condition, id: "dx".into(), patient: None, version_id: None };
    let (_, stats) = process(&engine, &mut store, &[item(20, delete)], now);
    assert_eq!(stats.stored, 1);
    // Without the diagnosis, no pNET alerts remain.
    assert!(store.alerts().is_empty());
    let orphan =
        Change::Delete { resource_type: ResourceType::Condition, id: "nobody".into(), patient: None, version_id: None };
    let (_, stats) = process(&engine, &mut store, &[item(21, orphan)], now);
    assert_eq!(stats.orphan_deletes, 1);
}

/// A patient's messages: several versions of resources, including a retraction.
fn history() -> Vec<Change> {
    let d = |s: &str| {
        time::OffsetDateTime::parse(&format!("{s}T00:00:00Z"), &time::format_description::well_known::Rfc3339).unwrap()
    };
    vec![
        resource("p", "Condition/dx", 1, d("2023-01-02"), vec![FactKind::PnetDiagnosis], false),
        resource("p", "Observation/k", 1, d("2023-01-05"), vec![FactKind::Ki67(Ki67Percent::new(1.0).unwrap())], false),
        resource(
            "p",
            "Observation/k",
            2,
            d("2023-01-05"),
            vec![FactKind::Ki67(Ki67Percent::new(14.0).unwrap())],
            false,
        ),
        resource(
            "p",
            "Observation/m",
            1,
            d("2023-01-05"),
            vec![FactKind::Mitoses(MitoticCount::new(1.0).unwrap())],
            false,
        ),
        resource("p", "Observation/s1", 1, d("2023-01-10"), vec![mm(14.0)], false),
        resource("p", "Observation/s2", 1, d("2023-04-08"), vec![mm(15.0)], false),
        resource("p", "Observation/s2", 2, d("2023-04-08"), vec![mm(15.0)], true),
        resource("p", "Condition/liver", 1, d("2023-05-01"), vec![FactKind::Metastasis(MetastasisSite::Liver)], false),
        resource("p", "Condition/liver", 2, d("2023-05-01"), vec![], true),
        resource(
            "p",
            "MedicationStatement/ssa",
            1,
            d("2023-06-01"),
            vec![FactKind::Therapy(Therapy {
                class: TherapyClass::Ssa,
                tense: Tense::Running,
                escalated: false,
                outcome: None,
                until: None,
            })],
            false,
        ),
        resource(
            "p",
            "Observation/st",
            1,
            d("2023-09-01"),
            vec![FactKind::DiseaseStatus(DiseaseStatus::Worsened)],
            false,
        ),
    ]
}

fn final_alerts(order: &[usize], duplicate: Option<usize>, batch: usize) -> Vec<islet_engine::AlertRecord> {
    let engine = engine();
    let mut store = MemStore::new(false);
    let changes = history();
    let mut sequence: Vec<usize> = order.to_vec();
    if let Some(d) = duplicate {
        sequence.push(order[d % order.len()]);
    }
    let items: Vec<Item> = sequence.iter().enumerate().map(|(i, &c)| item(i as u64, changes[c].clone())).collect();
    for chunk in items.chunks(batch) {
        process(&engine, &mut store, chunk, datetime!(2024-01-01 00:00 UTC));
    }
    store.alerts().into_iter().cloned().collect()
}

proptest! {
    #[test]
    fn any_order_gives_the_same_alerts(order in Just((0..history().len()).collect::<Vec<_>>()).prop_shuffle(), batch in 1usize..5) {
        let in_order: Vec<usize> = (0..history().len()).collect();
        prop_assert_eq!(final_alerts(&order, None, batch), final_alerts(&in_order, None, 100));
    }

    #[test]
    fn delivering_a_message_twice_changes_nothing(order in Just((0..history().len()).collect::<Vec<_>>()).prop_shuffle(), dup in 0usize..100) {
        prop_assert_eq!(final_alerts(&order, Some(dup), 3), final_alerts(&order, None, 3));
    }
}

/// A wrong-patient correction: version 2 of a result names another patient.
/// The first patient no longer has it, the second does, whatever the order
/// of arrival, and a late copy of version 1 changes nothing.
#[test]
fn a_newer_version_naming_another_patient_moves_the_resource() {
    let at = datetime!(2024-01-05 00:00 UTC);
    let ki67 = |patient: &str, version: u32| {
        resource(patient, "Observation/k", version, at, vec![FactKind::Ki67(Ki67Percent::new(4.0).unwrap())], false)
    };
    let diagnoses = vec![
        resource("a", "Condition/dx-a", 1, at, vec![FactKind::PnetDiagnosis], false),
        resource("b", "Condition/dx-b", 1, at, vec![FactKind::PnetDiagnosis], false),
    ];
    let grading_missing = |store: &MemStore| {
        let mut who: Vec<String> =
            store.alerts().iter().filter(|a| a.rule == "workup.grading-missing").map(|a| a.patient.clone()).collect();
        who.sort();
        who
    };
    let run = |changes: Vec<Change>, batch: usize| {
        let engine = engine();
        let mut store = MemStore::new(true);
        let items: Vec<Item> = changes.into_iter().enumerate().map(|(i, c)| item(i as u64, c)).collect();
        for chunk in items.chunks(batch) {
            process(&engine, &mut store, chunk, datetime!(2024-02-01 00:00 UTC));
        }
        store
    };

    let first_a = run([diagnoses.clone(), vec![ki67("a", 1)]].concat(), 1);
    assert_eq!(grading_missing(&first_a), ["Patient/b"]);

    for (order_is_a_first, order, batch) in [
        (true, vec![ki67("a", 1), ki67("b", 2)], 1),
        (false, vec![ki67("b", 2), ki67("a", 1)], 1),
        (true, vec![ki67("a", 1), ki67("b", 2)], 10),
    ] {
        let store = run([diagnoses.clone(), order].concat(), batch);
        assert_eq!(grading_missing(&store), ["Patient/a"], "batch {batch}");
        // In order, A's alert comes back because the result moved away.
        if order_is_a_first && batch == 1 {
            assert!(store.change_log().iter().any(|c| c.alert.patient == "Patient/a"
                && c.alert.rule == "workup.grading-missing"
                && c.cause == islet_engine::Cause::Data { resources: vec!["Observation/k".into()] }));
        }
    }
    // A late copy of version 1 after the move is stale.
    let store = run([diagnoses, vec![ki67("a", 1), ki67("b", 2), ki67("a", 1)]].concat(), 1);
    assert_eq!(grading_missing(&store), ["Patient/a"]);
}

/// A MedicationStatement whose drug is a Medication sent in another message.
fn statement_naming(patient: &str, medication: &str) -> Change {
    let Change::Upsert(mut v) =
        resource(patient, "MedicationStatement/ms", 1, datetime!(2024-01-15 00:00 UTC), vec![], false)
    else {
        unreachable!()
    };
    v.pending.push(islet_fhir::PendingFact {
        source: SourceRef("MedicationStatement/ms".into()),
        at: datetime!(2024-01-15 00:00 UTC),
        preliminary: false,
        needs: medication.into(),
        kind: islet_fhir::PendingKind::Therapy { tense: Tense::Running, escalated: false, until: None },
    });
    Change::Upsert(v)
}

fn medication(reference: &str, version: u32, class: Option<TherapyClass>) -> Change {
    let raw = format!("{reference}|{version}|{class:?}");
    Change::Shared(islet_fhir::SharedVersion {
        reference: reference.into(),
        version_id: Some(version.to_string()),
        last_updated: None,
        content_hash: islet_fhir::canonical::content_sha256(&raw),
        definition: islet_fhir::Definition::Medication { class, escalated: false },
        raw,
    })
}

fn run_all(changes: &[Change], batch: usize) -> MemStore {
    let engine = engine();
    let mut store = MemStore::new(true);
    let items: Vec<Item> = changes.iter().cloned().enumerate().map(|(i, c)| item(i as u64, c)).collect();
    for chunk in items.chunks(batch) {
        process(&engine, &mut store, chunk, datetime!(2024-02-01 00:00 UTC));
    }
    store
}

/// Contract v2: a medicationReference to a Medication in another message
/// resolves whether the Medication comes before or after, and the therapy
/// counts only once it has.
#[test]
fn a_medication_from_another_message_resolves_in_either_order() {
    let tumour = small_tumour("p1");
    let statement = statement_naming("p1", "Medication/m1");
    let ssa = medication("Medication/m1", 1, Some(TherapyClass::Ssa));
    let after = [tumour.clone(), vec![statement.clone(), ssa.clone()]].concat();
    let before = [vec![ssa.clone()], tumour.clone(), vec![statement.clone()]].concat();
    let without = [tumour.clone(), vec![statement.clone()]].concat();
    let reference: Vec<_> = run_all(&after, 100).alerts().into_iter().cloned().collect();
    assert!(reference.iter().any(|a| a.rule == "monitoring.ssa"), "the SSA runs once the Medication is known");
    for (changes, batch) in [(&after, 1), (&before, 1), (&before, 100)] {
        let got: Vec<_> = run_all(changes, batch).alerts().into_iter().cloned().collect();
        assert_eq!(got, reference, "batch {batch}");
    }
    let unknown = run_all(&without, 1);
    assert!(!rules(&unknown).contains(&"monitoring.ssa".to_string()), "an unknown medication is not used");
    // …and the advice says what it could not take into account.
    let note = "MedicationStatement/ms names Medication/m1, which Islet has not received";
    assert!(unknown.alerts().iter().filter(|a| a.kind != islet_guideline::Kind::Data).all(|a| a.detail.contains(note)));
    assert!(reference.iter().all(|a| !a.detail.contains(note)));
}

/// When the Medication changes, the patients pointing to it are re-evaluated
/// with it as the cause.
#[test]
fn a_changed_medication_re_evaluates_the_patients_pointing_to_it() {
    let changes = [small_tumour("p1"), vec![statement_naming("p1", "Medication/m1")]].concat();
    let mut store = run_all(&[changes, vec![medication("Medication/m1", 1, Some(TherapyClass::Ssa))]].concat(), 1);
    let engine = engine();
    let corrected = [item(50, medication("Medication/m1", 2, Some(TherapyClass::Interferon)))];
    let (changes, _) = process(&engine, &mut store, &corrected, datetime!(2024-02-01 00:00 UTC));
    let cause = islet_engine::Cause::Data { resources: vec!["Medication/m1".into()] };
    assert!(changes
        .iter()
        .any(|c| c.alert.rule == "monitoring.ssa" && c.change == ChangeKind::Resolved && c.cause == cause));
    assert!(changes.iter().any(|c| c.alert.rule == "monitoring.interferon" && c.change == ChangeKind::Raised));
    // A stale copy of version 1 changes nothing.
    let (changes, stats) = process(
        &engine,
        &mut store,
        &[item(51, medication("Medication/m1", 1, Some(TherapyClass::Ssa)))],
        datetime!(2024-02-01 00:00 UTC),
    );
    assert!(changes.is_empty());
    assert_eq!(stats.stale, 1);
}

/// Contract v2: two contents with one version key — the same resource kept,
/// and the same `data.version-conflict` alert, in either arrival order.
#[test]
fn a_version_conflict_is_shown_whatever_the_order() {
    let at = datetime!(2024-01-12 00:00 UTC);
    let ki67 =
        |v: f64| resource("p1", "Observation/ki67", 3, at, vec![FactKind::Ki67(Ki67Percent::new(v).unwrap())], false);
    let base = small_tumour("p1")[..2].to_vec();
    let one = run_all(&[base.clone(), vec![ki67(1.5), ki67(12.0)]].concat(), 1);
    let other = run_all(&[base.clone(), vec![ki67(12.0), ki67(1.5)]].concat(), 1);
    let together = run_all(&[base, vec![ki67(12.0), ki67(1.5)]].concat(), 100);
    let alerts = |s: &MemStore| s.alerts().into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(alerts(&one), alerts(&other));
    assert_eq!(alerts(&one), alerts(&together));
    let conflict: Vec<_> = alerts(&one).into_iter().filter(|a| a.rule == "data.version-conflict").collect();
    assert_eq!(conflict.len(), 1, "{:?}", rules(&one));
    assert_eq!(conflict[0].evidence[0].reference, "Observation/ki67");
    assert!(
        conflict[0].evidence[0].fact.starts_with("versionId 3 was sent with two different contents"),
        "{}",
        conflict[0].evidence[0].fact
    );
}

/// A Bundle DELETE names no patient: arriving before any version of its
/// resource (another partition, say), it is kept, and the version that
/// arrives later stays deleted — the same as in the other order.
#[test]
fn a_delete_before_the_resource_still_deletes_it() {
    let delete =
        Change::Delete { resource_type: ResourceType::Condition, id: "dx".into(), patient: None, version_id: None };
    let tumour = small_tumour("p1");
    let first = run_all(&[vec![delete.clone()], tumour.clone()].concat(), 1);
    let last = run_all(&[tumour, vec![delete]].concat(), 1);
    let alerts = |s: &MemStore| s.alerts().into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(alerts(&first), alerts(&last));
    assert!(alerts(&first).is_empty(), "without the diagnosis, no pNET alerts");
}

/// A diagnosis re-coded to something Islet does not use (a newer version of
/// the same Condition) stops counting; the resource is not kept for a
/// patient who never held it.
#[test]
fn a_resource_re_coded_to_an_unused_code_stops_counting() {
    let Change::Upsert(mut recoded) = resource("p1", "Condition/dx", 2, datetime!(2024-01-20 00:00 UTC), vec![], false)
    else {
        unreachable!()
    };
    recoded.clinical_time = None;
    let recoded = Change::Unused(recoded);
    let tumour = small_tumour("p1");
    for (changes, batch) in
        [([tumour.clone(), vec![recoded.clone()]].concat(), 1), ([vec![recoded.clone()], tumour.clone()].concat(), 1)]
    {
        let store = run_all(&changes, batch);
        assert!(store.alerts().is_empty(), "without the pNET diagnosis, no pNET alerts: {:?}", rules(&store));
    }
    // Alone, it creates nothing.
    let Change::Unused(mut other) = recoded else { unreachable!() };
    other.patient = "Patient/p9".into();
    other.id = "other".into();
    let store = run_all(&[Change::Unused(other)], 1);
    assert_eq!(store.patients().count(), 0, "a resource Islet does not use creates no patient");
}
