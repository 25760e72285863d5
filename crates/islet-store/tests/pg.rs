//! The PostgreSQL store against the real server on 127.0.0.1:5432.

use islet_engine::{ChangeKind, Engine, Item, MemStore, SourcePosition, Store, Transaction};
use islet_fhir::{Change, Decoded, ResourceType, ResourceVersion, SiteMapping};
use islet_guideline::facts::*;
use islet_guideline::{Config, Instant, State};
use islet_store::scheduler::{ManualClock, Scheduler};
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
    })
}

/// A small incidental non-functioning tumour (surveillance with follow-ups), per patient.
fn cohort(patients: usize) -> Vec<Item> {
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
            items.push(Item { arrival: items.len() as u64, decoded: Decoded { changes: vec![c], rejections: vec![] } });
        }
    }
    items
}

#[tokio::test]
async fn postgres_and_memory_give_the_same_alerts_and_log() {
    let db = TestDb::new().await;
    let engine = engine();
    let now = datetime!(2024-02-01 00:00 UTC);
    let items = cohort(30);
    let mut pg = db.store();
    let mut mem = MemStore::new(true);
    for chunk in items.chunks(7) {
        engine.process(&mut pg, chunk, None, now).await.unwrap();
        engine.process(&mut mem, chunk, None, now).await.unwrap();
    }
    let pg_alerts = pg.alerts().await.unwrap();
    let mem_alerts: Vec<_> = mem.alerts().into_iter().cloned().collect();
    assert!(!mem_alerts.is_empty());
    assert_eq!(pg_alerts, mem_alerts);
    assert_eq!(pg.change_log().await.unwrap(), mem.change_log());
}

#[tokio::test]
async fn a_redelivered_batch_changes_nothing_and_positions_commit_with_state() {
    let db = TestDb::new().await;
    let engine = engine();
    let now = datetime!(2024-02-01 00:00 UTC);
    let items = cohort(5);
    let mut pg = db.store();
    let position = SourcePosition { source: "topic-a".into(), partition: 3, next_offset: 11 };
    engine.process(&mut pg, &items, Some(&position), now).await.unwrap();
    let log = pg.change_log().await.unwrap();
    let (changes, stats) = engine.process(&mut pg, &items, None, now).await.unwrap();
    assert!(changes.is_empty());
    assert_eq!(stats.duplicates, items.len());
    assert_eq!(pg.change_log().await.unwrap(), log);
    assert_eq!(pg.position("topic-a", 3).await.unwrap(), Some(11));
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM resource_version").fetch_one(&db.pool).await.unwrap();
    assert_eq!(versions as usize, items.len());
}

#[tokio::test]
async fn a_rolled_back_batch_leaves_no_trace() {
    let db = TestDb::new().await;
    let mut pg = db.store();
    {
        let mut tx = pg.begin().await.unwrap();
        tx.lock_patients(&["Patient/x".to_string()]).await.unwrap();
        tx.save_position(&SourcePosition { source: "s".into(), partition: 0, next_offset: 99 }).await.unwrap();
        // Dropped without commit: rolled back.
    }
    assert_eq!(pg.position("s", 0).await.unwrap(), None);
    let patients: i64 = sqlx::query_scalar("SELECT count(*) FROM patient").fetch_one(&db.pool).await.unwrap();
    assert_eq!(patients, 0);
}

#[tokio::test]
async fn two_claimers_never_hold_the_same_patient() {
    let db = TestDb::new().await;
    let engine = engine();
    let mut pg = db.store();
    engine.process(&mut pg, &cohort(10), None, datetime!(2024-02-01 00:00 UTC)).await.unwrap();
    let later = datetime!(2024-06-01 00:00 UTC);
    let mut a = pg.clone();
    let mut b = pg.clone();
    let mut tx_a = a.begin().await.unwrap();
    let mut tx_b = b.begin().await.unwrap();
    let first = tx_a.claim_due(later, 6).await.unwrap();
    let second = tx_b.claim_due(later, 6).await.unwrap();
    assert_eq!(first.len(), 6);
    assert_eq!(second.len(), 4, "SKIP LOCKED leaves the other 4");
    assert!(first.iter().all(|p| !second.contains(p)));
    tx_a.commit().await.unwrap();
    tx_b.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ups_turn_due_then_overdue_with_two_schedulers_and_no_new_event() {
    let db = TestDb::new().await;
    let engine = Arc::new(engine());
    let mut pg = db.store();
    let patients = 40;
    engine.process(&mut pg, &cohort(patients), None, datetime!(2024-02-01 00:00 UTC)).await.unwrap();
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

/// A transaction the server kills half-way (what a restart does) is retried
/// whole, and what it wrote is there exactly once.
#[tokio::test]
async fn a_transaction_cut_by_the_server_is_retried_whole() {
    use islet_store::retry::{with_retry, Backoff};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let db = TestDb::new().await;
    let attempts = AtomicUsize::new(0);
    let backoff = Backoff { first: std::time::Duration::from_millis(10), ..Backoff::default() };
    with_retry("test batch", &backoff, || async {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst);
        let mut tx = db.pool.begin().await?;
        sqlx::query("INSERT INTO source_position (source, partition, next_offset) VALUES ('s', 0, 7)")
            .execute(&mut *tx)
            .await?;
        if attempt == 0 {
            sqlx::query("SELECT pg_terminate_backend(pg_backend_pid())").execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    })
    .await
    .expect("the second attempt commits");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM source_position").fetch_one(&db.pool).await.unwrap();
    assert_eq!(rows, 1);
}
