//! The PostgreSQL store against the real server on 127.0.0.1:5432.

use islet_engine::ingest::{Fingerprint, FramingError};
use islet_engine::{
    Batch, Engine, Item, MemStore, Origin, RejectedMessage, Source, SourcePosition, Store, Transaction,
};
use islet_fhir::{Change, Decoded, SiteMapping};
use islet_guideline::facts::*;
use islet_guideline::Config;
use islet_store::test_support::{self, version, TestDb};
use islet_store::{ConnectError, StoreError};
use time::macros::datetime;

fn engine() -> Engine {
    Engine::new(SiteMapping::empty(), Config::default())
}

fn cohort(patients: usize) -> Vec<Item> {
    test_support::small_tumour_cohort(patients)
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
        let batch = Batch::of_items(chunk.to_vec());
        engine.process(&mut pg, &batch, now).await.unwrap();
        mem.process(engine.config(), &batch, now);
    }
    let pg_alerts = pg.alerts().await.unwrap();
    let mem_alerts: Vec<_> = mem.alerts().into_iter().cloned().collect();
    assert!(!mem_alerts.is_empty());
    assert_eq!(pg_alerts, mem_alerts);
    assert_eq!(pg.change_log().await.unwrap(), mem.change_log());
}

/// The same records twice: redelivered on their partition they are fenced
/// (below the committed offset, not even compared); published again on
/// another source they are content duplicates. Either way nothing changes.
#[tokio::test]
async fn a_redelivered_batch_changes_nothing_and_positions_commit_with_state() {
    let db = TestDb::new().await;
    let engine = engine();
    let now = datetime!(2024-02-01 00:00 UTC);
    let batch = Batch::of_items(cohort(5));
    let mut pg = db.store();
    engine.process(&mut pg, &batch, now).await.unwrap();
    let log = pg.change_log().await.unwrap();
    assert_eq!(pg.position("topic-a", 3).await.unwrap().map(|p| p.next_offset), Some(10));

    let (changes, stats) = engine.process(&mut pg, &batch, now).await.unwrap();
    assert!(changes.is_empty());
    assert_eq!((stats.resources, stats.duplicates), (0, 0), "fenced before decoding counts");
    assert_eq!(pg.change_log().await.unwrap(), log);

    let elsewhere: Vec<Item> = batch
        .items
        .iter()
        .cloned()
        .map(|mut item| {
            item.origin.source = Source::topic("topic-b");
            item
        })
        .collect();
    let republished = Batch::of_items(elsewhere);
    let (changes, stats) = engine.process(&mut pg, &republished, now).await.unwrap();
    assert!(changes.is_empty());
    assert_eq!(stats.duplicates as usize, batch.items.len());
    assert_eq!(pg.change_log().await.unwrap(), log);
    assert_eq!(pg.position("topic-a", 3).await.unwrap().map(|p| p.next_offset), Some(10));
    assert_eq!(pg.position("topic-b", 3).await.unwrap().map(|p| p.next_offset), Some(10));
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM resource_version").fetch_one(&db.pool).await.unwrap();
    assert_eq!(versions as usize, batch.items.len());
}

#[tokio::test]
async fn a_rolled_back_batch_leaves_no_trace() {
    let db = TestDb::new().await;
    let mut pg = db.store();
    {
        let mut tx = pg.begin().await.unwrap();
        tx.lock_patients(&["Patient/x".to_string()]).await.unwrap();
        let p = SourcePosition { source: "s".into(), partition: 0, next_offset: 99, fingerprint: None };
        tx.save_positions(&[p]).await.unwrap();
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
    engine.process(&mut pg, &Batch::of_items(cohort(10)), datetime!(2024-02-01 00:00 UTC)).await.unwrap();
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

/// Rejected messages are kept once, with their coordinates and original
/// bytes, however often their batch is applied; file positions keep the
/// fingerprint of the consumed prefix.
#[tokio::test]
async fn rejections_are_kept_once_and_positions_keep_their_fingerprint() {
    let db = TestDb::new().await;
    let engine = engine();
    let mut pg = db.store();
    let file = Source::file("file:/data/feed.ndjson");
    let mut bad = Item::new(Origin::line(&file, 7), Decoded::default());
    bad.framing = Some(FramingError::invalid_utf8(3));
    bad.bytes = Some(std::sync::Arc::from(&b"{\"a\":\"\xff\"}"[..]));
    bad.fingerprint = Some(Fingerprint { bytes: 120, sha256: [7; 32] });
    let batch = Batch::of_items(vec![bad]);
    assert_eq!(RejectedMessage::of_batch(&batch).len(), 1);
    for _ in 0..2 {
        engine.process(&mut pg, &batch, datetime!(2024-02-01 00:00 UTC)).await.unwrap();
    }
    let stored = pg.rejections("file:/data/feed.ndjson").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].offset, stored[0].code.as_str()), (7, "invalid-utf8"));
    assert_eq!(stored[0].message.as_deref(), Some(&b"{\"a\":\"\xff\"}"[..]));
    let position = pg.position("file:/data/feed.ndjson", 0).await.unwrap().unwrap();
    assert_eq!(position.next_offset, 8);
    assert_eq!(position.fingerprint, Some(Fingerprint { bytes: 120, sha256: [7; 32] }));
}

/// Connecting fails at once, saying what is wrong, and never shows the password.
#[tokio::test]
async fn connection_errors_are_specific_and_immediate() {
    let started = std::time::Instant::now();
    // Port 1 on loopback: nothing listens there.
    let refused = islet_store::connect("postgres://postgres:s3cret@127.0.0.1:1/islet", 2).await.unwrap_err();
    assert!(matches!(&refused, StoreError::Connect(ConnectError::Refused { server }) if server == "127.0.0.1:1"));
    assert_eq!(refused.to_string(), "connection refused at 127.0.0.1:1 (is PostgreSQL running there?)");
    let server = islet_store::test_support::server_url();
    let missing = islet_store::connect(&format!("{server}/islet_no_such_db_x"), 2).await.unwrap_err();
    assert!(
        matches!(missing, StoreError::Connect(ConnectError::NoDatabase { ref database, .. }) if database == "islet_no_such_db_x"),
        "{missing}"
    );
    let invalid = islet_store::connect("postgres://user:s3cret@[bad", 2).await.unwrap_err();
    assert!(!invalid.to_string().contains("s3cret"), "{invalid}");
    assert!(!islet_store::retry::is_transient(&refused), "a refused connection at start is not retried");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_missing_database_is_created_once() {
    let server = islet_store::test_support::server_url();
    let name = format!("islet_created_{}", std::process::id());
    let url = format!("{server}/{name}");
    assert!(islet_store::create_database_if_missing(&url).await.unwrap());
    assert!(!islet_store::create_database_if_missing(&url).await.unwrap());
    let pool = islet_store::connect(&url, 1).await.unwrap();
    islet_store::migrate(&pool).await.unwrap();
    pool.close().await;
    let admin = islet_store::connect(&format!("{server}/postgres"), 1).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&admin).await.unwrap();
}

/// What the server refuses because of the data is told apart from a lost
/// connection: the first is isolated and rejected, the second retried.
#[tokio::test]
async fn data_errors_are_told_apart_from_transient_ones() {
    let db = TestDb::new().await;
    let nul = sqlx::query("SELECT '{\"a\":\"\\u0000\"}'::jsonb::text").execute(&db.pool).await.unwrap_err();
    let nul = StoreError::Db(nul);
    assert!(islet_store::retry::is_data_error(&nul), "{nul}");
    assert!(!islet_store::retry::is_transient(&nul));
    assert_eq!(islet_store::retry::sqlstate(&nul).as_deref(), Some("22P05"));
}

/// References across messages through PostgreSQL: a Medication arriving
/// after the statement that names it re-evaluates that patient (found through
/// `shared_reference`), exactly as in memory.
#[tokio::test]
async fn a_shared_medication_reaches_the_patients_pointing_to_it() {
    use islet_fhir::{Definition, PendingFact, PendingKind, SharedVersion};
    let db = TestDb::new().await;
    let engine = engine();
    let now = datetime!(2024-02-01 00:00 UTC);
    let at = datetime!(2024-01-15 00:00 UTC);
    let Change::Upsert(mut statement) = version("p0000", "MedicationStatement/ms", 1, at, vec![]) else {
        unreachable!()
    };
    statement.pending.push(PendingFact {
        source: SourceRef("MedicationStatement/ms".into()),
        at,
        preliminary: false,
        needs: "Medication/m1".into(),
        kind: PendingKind::Therapy { tense: Tense::Running, escalated: false, until: None },
    });
    let medication = |v: u32, class| {
        Change::Shared(SharedVersion {
            reference: "Medication/m1".into(),
            version_id: Some(v.to_string()),
            last_updated: None,
            content_hash: islet_fhir::canonical::content_sha256(&format!("m1{v}")),
            definition: Definition::Medication { class: Some(class), escalated: false },
            raw: r#"{"resourceType":"Medication","id":"m1"}"#.into(),
        })
    };
    let feed = Source::topic("t");
    let batch = |changes: Vec<Change>, first: i64| {
        Batch::of_items(
            changes
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    let origin = Origin { source: feed.clone(), partition: 0, offset: first + i as i64 };
                    Item::new(origin, Decoded { changes: vec![c], rejections: vec![] })
                })
                .collect(),
        )
    };
    let batches = [
        Batch::of_items(cohort(1)),
        batch(vec![Change::Upsert(statement)], 10),
        batch(vec![medication(1, TherapyClass::Ssa)], 11),
        batch(vec![medication(2, TherapyClass::Interferon)], 12),
    ];
    let mut pg = db.store();
    let mut mem = MemStore::new(true);
    for b in &batches {
        engine.process(&mut pg, b, now).await.unwrap();
        mem.process(engine.config(), b, now);
    }
    let mem_alerts: Vec<_> = mem.alerts().into_iter().cloned().collect();
    assert!(mem_alerts.iter().any(|a| a.rule == "monitoring.interferon"), "{mem_alerts:?}");
    assert_eq!(pg.alerts().await.unwrap(), mem_alerts);
    assert_eq!(pg.change_log().await.unwrap(), mem.change_log());
    let referring: Vec<(String, String)> =
        sqlx::query_as("SELECT reference, patient_id FROM shared_reference").fetch_all(&db.pool).await.unwrap();
    assert_eq!(referring, vec![("Medication/m1".to_string(), "Patient/p0000".to_string())]);
}

/// A Medication and a statement pointing to it, applied by two
/// transactions at the same time (two instances, or HTTP requests): the
/// writer of the Medication waits for the other and re-evaluates its
/// patient, so the therapy is known as if they had come one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_medication_and_its_statement_in_concurrent_transactions_meet() {
    use islet_fhir::{Definition, PendingFact, PendingKind, SharedVersion};
    let db = TestDb::new().await;
    let engine = std::sync::Arc::new(engine());
    let now = datetime!(2024-02-01 00:00 UTC);
    let at = datetime!(2024-01-15 00:00 UTC);
    let Change::Upsert(mut statement) = version("p0000", "MedicationStatement/ms", 1, at, vec![]) else {
        unreachable!()
    };
    statement.pending.push(PendingFact {
        source: SourceRef("MedicationStatement/ms".into()),
        at,
        preliminary: false,
        needs: "Medication/m1".into(),
        kind: PendingKind::Therapy { tense: Tense::Running, escalated: false, until: None },
    });
    let medication = Change::Shared(SharedVersion {
        reference: "Medication/m1".into(),
        version_id: Some("1".into()),
        last_updated: None,
        content_hash: islet_fhir::canonical::content_sha256("m1"),
        definition: Definition::Medication { class: Some(TherapyClass::Ssa), escalated: false },
        raw: r#"{"resourceType":"Medication","id":"m1"}"#.into(),
    });
    let one = |source: Source, change: Change| {
        let origin = Origin { source, partition: 0, offset: 1 };
        Batch::of_items(vec![Item::new(origin, Decoded { changes: vec![change], rejections: vec![] })])
    };
    let mut pg = db.store();
    let mut mem = MemStore::new(true);
    let setup = Batch::of_items(cohort(1));
    engine.process(&mut pg, &setup, now).await.unwrap();
    mem.process(engine.config(), &setup, now);
    let statement = one(Source::file("file:statements"), Change::Upsert(statement));
    let medication = one(Source::Http, medication);
    mem.process(engine.config(), &statement, now);
    mem.process(engine.config(), &medication, now);

    // The statement's transaction stops at its position write, after it
    // locked what it needs and before it commits. (Its own pool: the test
    // database's sessions are not counted as blocked clients.)
    let other = islet_store::PgStore::new(islet_store::connect(&db.url, 4).await.unwrap());
    let hold = db.block_writes("source_position").await;
    let writer = {
        let (engine, mut store, batch) = (engine.clone(), other.clone(), statement.clone());
        tokio::spawn(async move { engine.process(&mut store, &batch, now).await.map(|_| ()) })
    };
    db.wait_for_a_blocked_client().await;
    let reader = {
        let (engine, mut store, batch) = (engine.clone(), other.clone(), medication.clone());
        tokio::spawn(async move { engine.process(&mut store, &batch, now).await.map(|_| ()) })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    drop(hold);
    writer.await.unwrap().unwrap();
    reader.await.unwrap().unwrap();
    let mem_alerts: Vec<_> = mem.alerts().into_iter().cloned().collect();
    assert!(mem_alerts.iter().any(|a| a.rule == "monitoring.ssa"), "{mem_alerts:?}");
    assert_eq!(pg.alerts().await.unwrap(), mem_alerts);
}

/// Fencing: a batch of a Kafka partition skips the records below the
/// committed position (another consumer applied them while it owned the
/// partition during a rebalance), and never moves the position back.
#[tokio::test]
async fn a_batch_skips_what_another_consumer_committed() {
    let db = TestDb::new().await;
    let engine = engine();
    let now = datetime!(2024-02-01 00:00 UTC);
    let items = cohort(8); // 16 records, offsets 0..16 of topic-a/3
    let mut pg = db.store();
    let first = Batch::of_items(items[..10].to_vec());
    engine.process(&mut pg, &first, now).await.unwrap();
    let log = pg.change_log().await.unwrap();
    // A second owner of the partition still had offsets 6..16 in flight.
    let overlapping = Batch::of_items(items[6..].to_vec());
    let (_, stats) = engine.process(&mut pg, &overlapping, now).await.unwrap();
    assert_eq!(stats.resources, 6, "only offsets 10..16 are applied");
    assert_eq!(stats.duplicates, 0, "the fenced records are not even compared");
    assert_eq!(pg.position("topic-a", 3).await.unwrap().unwrap().next_offset, 16);
    // An old batch arriving late moves nothing back.
    engine.process(&mut pg, &first, now).await.unwrap();
    assert_eq!(pg.position("topic-a", 3).await.unwrap().unwrap().next_offset, 16);
    assert!(pg.change_log().await.unwrap().starts_with(&log));
}

/// Upgrading a database written before the outbox tables (migration
/// 20261207000002): every current alert keeps its JSON (now read from the
/// change log row it points to), what was published stays published, and
/// what was not is still waiting, for both outboxes.
#[tokio::test]
async fn an_upgraded_database_keeps_its_alerts_and_what_waits_to_be_published() {
    // The alerts and change log to carry over, made by today's code.
    let source = TestDb::new().await;
    let engine = engine();
    let now = datetime!(2024-02-01 00:00 UTC);
    let mut pg = source.store();
    for chunk in cohort(6).chunks(5) {
        engine.process(&mut pg, &Batch::of_items(chunk.to_vec()), now).await.unwrap();
    }
    // A year on, follow-ups fall due: alerts change after they were raised.
    let (woken, _) = engine.wake_due(&mut pg, datetime!(2025-02-01 00:00 UTC), 1000).await.unwrap();
    assert!(!woken.is_empty());
    let alerts = pg.alerts().await.unwrap();
    let log = pg.change_log().await.unwrap();
    assert!(alerts.len() > 2 && log.len() > alerts.len(), "{} alerts, {} changes", alerts.len(), log.len());

    // A database at the schema before, holding them the way it did.
    let old = TestDb::unmigrated(&test_support::server_url()).await;
    let before = test_support::TempDir::new("islet-migrations");
    let mut earlier: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap() < "20261207000002")
        .collect();
    earlier.sort();
    assert_eq!(earlier.len(), 2);
    for path in &earlier {
        std::fs::copy(path, before.path().join(path.file_name().unwrap())).unwrap();
    }
    sqlx::migrate::Migrator::new(before.path()).await.unwrap().run(&old.pool).await.unwrap();
    let published = log.len() / 2;
    type ChangeRow = (i64, time::OffsetDateTime, String, String, String, String, String, String);
    let rows: Vec<ChangeRow> = sqlx::query_as(
        "SELECT seq, at, patient_id, alert_id, rule, change, cause::text, alert::text FROM alert_change ORDER BY seq",
    )
    .fetch_all(&source.pool)
    .await
    .unwrap();
    for (i, (seq, at, patient, alert_id, rule, change, cause, alert)) in rows.iter().enumerate() {
        sqlx::query("INSERT INTO patient (id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(patient)
            .execute(&old.pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO alert_change (seq, at, patient_id, alert_id, rule, change, cause, alert, published_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, CASE WHEN $9 THEN now() END)",
        )
        .bind(seq)
        .bind(at)
        .bind(patient)
        .bind(alert_id)
        .bind(rule)
        .bind(change)
        .bind(cause)
        .bind(alert)
        .bind(i < published)
        .execute(&old.pool)
        .await
        .unwrap();
    }
    // The old `alert` rows carried the JSON in `body`; the migration drops
    // it, so the filter columns can hold anything here (they are not read).
    for a in &alerts {
        let body = serde_json::to_string(a).unwrap();
        sqlx::query(
            "INSERT INTO alert (id, patient_id, rule, kind, severity, state, body) \
             VALUES ($1, $3, $4, 'kind', 'severity', 'state', $2::jsonb)",
        )
        .bind(&a.id)
        .bind(&body)
        .bind(&a.patient)
        .bind(&a.rule)
        .execute(&old.pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO rejection (source, partition, \"offset\", code, reason, published_at) \
         VALUES ('t', 0, 1, 'c', 'r', now()), ('t', 0, 2, 'c', 'r', NULL)",
    )
    .execute(&old.pool)
    .await
    .unwrap();

    islet_store::migrate(&old.pool).await.unwrap();
    let upgraded = old.store();
    assert_eq!(upgraded.alerts().await.unwrap(), alerts, "each alert's JSON is its last change's");
    assert_eq!(upgraded.change_log().await.unwrap(), log);
    let alert_outbox = islet_store::outbox::AlertOutbox::new(old.pool.clone());
    assert_eq!(alert_outbox.backlog().await.unwrap().unpublished as usize, log.len() - published);
    let mut leader = alert_outbox.try_lead().await.unwrap().unwrap();
    let waiting = leader.next_unpublished(10_000).await.unwrap();
    assert_eq!(waiting.first().map(|(seq, _)| *seq), Some(rows[published].0), "the first unpublished change is next");
    let dead_letters = islet_store::outbox::DeadLetterOutbox::new(old.pool.clone());
    assert_eq!(dead_letters.backlog().await.unwrap().unpublished, 1);
}

/// The feed after `after` once something shows (the cluster-wide horizon
/// may lag behind other tests' transactions for a moment), or empty after 30 s.
async fn settled(
    reader: &mut sqlx::PgConnection,
    after: islet_store::read::FeedCursor,
) -> Vec<islet_store::read::FeedItem> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let page = islet_store::read::changes(reader, after, None, 1000).await.unwrap();
        if !page.is_empty() || std::time::Instant::now() > deadline {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The change feed never passes a change that commits later: `seq` is drawn
/// before commit, so seq 1 can commit after seq 2. While the transaction
/// holding seq 1 runs, neither shows; once it commits, both do, in order.
#[tokio::test]
async fn the_change_feed_waits_for_an_earlier_transaction_instead_of_skipping_it() {
    use islet_store::read::{changes, FeedCursor};
    let db = TestDb::new().await;
    let engine = engine();
    let mut pg = db.store();
    let batch = Batch::of_items(cohort(1));
    engine.process(&mut pg, &batch, datetime!(2024-02-01 00:00 UTC)).await.unwrap();
    let template: serde_json::Value =
        sqlx::query_scalar("SELECT alert FROM alert_change ORDER BY seq LIMIT 1").fetch_one(&db.pool).await.unwrap();
    // The horizon is the whole cluster's oldest running transaction: other
    // tests' transactions (other databases) may hold it back for a moment.
    let mut reader = db.pool.acquire().await.unwrap();
    let before = settled(&mut reader, FeedCursor::default()).await;
    assert!(!before.is_empty());
    let after = before.last().unwrap().cursor;

    let insert = "INSERT INTO alert_change (at, patient_id, alert_id, rule, change, cause, alert) \
                  VALUES (now(), 'Patient/x', $1, 'r', 'raised', '{\"kind\":\"clock\"}', $2) RETURNING seq";
    let mut first = db.pool.begin().await.unwrap();
    let early: i64 = sqlx::query_scalar(insert).bind("early").bind(&template).fetch_one(&mut *first).await.unwrap();
    let mut second = db.pool.begin().await.unwrap();
    let late: i64 = sqlx::query_scalar(insert).bind("late").bind(&template).fetch_one(&mut *second).await.unwrap();
    assert!(early < late);
    second.commit().await.unwrap();

    let page = changes(&mut reader, after, None, 1000).await.unwrap();
    assert!(page.is_empty(), "seq {late} is committed but an older transaction still runs: not yet");
    first.commit().await.unwrap();
    let page = settled(&mut reader, after).await;
    let seqs: Vec<i64> = page.iter().map(|i| i.cursor.seq).collect();
    assert_eq!(seqs, [early, late]);
    let again = changes(&mut reader, page.last().unwrap().cursor, None, 1000).await.unwrap();
    assert!(again.is_empty(), "the cursor moved past both");
}
