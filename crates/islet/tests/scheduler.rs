//! The scheduler driver against the real PostgreSQL: follow-ups turn due and
//! overdue with no new event, with two schedulers claiming disjoint patients.

use islet::drivers::clock::ManualClock;
use islet::drivers::scheduler::Scheduler;
use islet_engine::{Batch, ChangeKind, Engine, Item, Origin, Source};
use islet_fhir::{Change, Decoded, ResourceType, ResourceVersion, SiteMapping};
use islet_guideline::facts::*;
use islet_guideline::{Config, Instant, State};
use islet_store::test_support::TestDb;
use std::sync::Arc;
use time::macros::datetime;

fn engine() -> Engine {
    Engine::new(SiteMapping::empty(), Config::default())
}

fn version(patient: &str, reference: &str, v: u32, at: Instant, kinds: Vec<FactKind>) -> Change {
    let (rt, id) = reference.split_once('/').unwrap();
    Change::Upsert(ResourceVersion {
        resource_type: ResourceType::parse(rt).unwrap(),
        id: id.into(),
        patient: format!("Patient/{patient}"),
        version_id: Some(v.to_string()),
        last_updated: Some(at),
        clinical_time: Some(at),
        retracted: false,
        facts: kinds
            .into_iter()
            .map(|kind| Fact { source: SourceRef(reference.into()), at, preliminary: false, kind })
            .collect(),
        raw: format!(r#"{{"resourceType":"{rt}","id":"{id}"}}"#),
        content_hash: islet_fhir::canonical::content_sha256(&format!("{patient}{reference}{v}")),
        pending: Vec::new(),
        definition: None,
    })
}

/// A small incidental non-functioning tumour (surveillance with follow-ups), per patient.
fn cohort(patients: usize) -> Batch {
    let feed = Source::file("test");
    let mut items = Vec::new();
    for p in 0..patients {
        let pid = format!("p{p:04}");
        let base = datetime!(2024-01-10 00:00 UTC) + time::Duration::days((p % 5) as i64);
        let changes = vec![
            version(&pid, &format!("Condition/dx-{p}"), 1, base, vec![FactKind::PnetDiagnosis]),
            version(
                &pid,
                &format!("Observation/size-{p}"),
                1,
                base,
                vec![FactKind::TumourSize { site: TumourSite::Primary, largest: Millimetres::new(14.0).unwrap() }],
            ),
        ];
        for c in changes {
            let origin = Origin::line(&feed, items.len() as u64 + 1);
            items.push(Item::new(origin, Decoded { changes: vec![c], rejections: vec![] }));
        }
    }
    Batch::of_items(items)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ups_turn_due_then_overdue_with_two_schedulers_and_no_new_event() {
    let db = TestDb::new().await;
    let engine = Arc::new(engine());
    let mut pg = db.store();
    let patients = 40;
    engine.process(&mut pg, &cohort(patients), datetime!(2024-02-01 00:00 UTC)).await.unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2024-02-01 00:00 UTC)));
    let scheduler = |clock: Arc<ManualClock>| Scheduler {
        engine: engine.clone(),
        store: db.store(),
        clock,
        batch: 3,
        backoff: Default::default(),
    };
    let imaging_states = |alerts: Vec<islet_engine::AlertRecord>| {
        alerts.into_iter().filter(|a| a.rule == "followup.surveillance-imaging").map(|a| a.state).collect::<Vec<_>>()
    };
    assert!(imaging_states(pg.alerts().await.unwrap()).iter().all(|s| *s == State::Scheduled));

    // Due: 14 days before 3 months after each baseline (baselines 2024-01-10 to 14).
    for (at, expected) in
        [(datetime!(2024-04-05 00:00 UTC), State::Due), (datetime!(2024-04-20 00:00 UTC), State::Overdue)]
    {
        clock.set(at);
        let (mut one, mut two) = (scheduler(clock.clone()), scheduler(clock.clone()));
        let (r1, r2) = tokio::join!(one.tick(), two.tick());
        let changed = r1.unwrap() + r2.unwrap();
        assert_eq!(changed, patients * 2, "each patient's two follow-ups change exactly once");
        let states = imaging_states(pg.alerts().await.unwrap());
        assert_eq!(states.len(), patients);
        assert!(states.iter().all(|s| *s == expected), "{states:?}");
    }
    // The change log has no duplicate: one raised and two updates per follow-up alert.
    let log = pg.change_log().await.unwrap();
    let updates = log.iter().filter(|c| c.change == ChangeKind::Updated).count();
    assert_eq!(updates, patients * 4);
    assert!(log.iter().filter(|c| c.change == ChangeKind::Updated).all(|c| c.cause == islet_engine::Cause::Clock));
}
