//! The outboxes' PostgreSQL side against the real server: leadership by
//! advisory lock, rows in `seq` order, marking.

use islet_engine::ingest::FramingError;
use islet_engine::{AlertChange, Batch, Engine, Item, Origin, Source};
use islet_fhir::{Decoded, SiteMapping};
use islet_guideline::Config;
use islet_store::outbox::{AlertOutbox, DeadLetterOutbox, PendingRejection};
use islet_store::test_support::{self, TestDb};
use std::sync::Arc;
use std::time::Duration;
use time::macros::datetime;

fn engine() -> Engine {
    Engine::new(SiteMapping::empty(), Config::default())
}

/// Waits until `outbox` can be led (the server ends a terminated session
/// asynchronously).
async fn lead_within<R: islet_store::outbox::OutboxRow>(
    outbox: &islet_store::outbox::Outbox<R>,
    limit: Duration,
) -> Option<islet_store::outbox::Leader<R>> {
    let started = std::time::Instant::now();
    loop {
        if let Some(leader) = outbox.try_lead().await.unwrap() {
            return Some(leader);
        }
        if started.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn one_leader_per_outbox_until_its_connection_is_lost() {
    let db = TestDb::new().await;
    let first = AlertOutbox::new(db.pool.clone());
    let second = AlertOutbox::new(db.pool.clone());
    let mut leader = first.try_lead().await.unwrap().expect("nobody leads yet");
    assert!(second.try_lead().await.unwrap().is_none(), "the first instance leads");
    assert!(first.try_lead().await.unwrap().is_none(), "not even the same instance leads twice");
    // The other outbox has a lock of its own.
    let dead_letters = DeadLetterOutbox::new(db.pool.clone()).try_lead().await.unwrap();
    assert!(dead_letters.is_some());

    // The leader's session ends as when its connection is cut.
    let pid = leader.backend_pid().await.unwrap();
    let ended: bool =
        sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(&db.pool).await.unwrap();
    assert!(ended);
    let mut successor = lead_within(&second, Duration::from_secs(5)).await.expect("the second instance takes over");
    assert!(leader.next_unpublished(10).await.is_err(), "the old leader finds out at its next statement");
    assert!(successor.next_unpublished(10).await.unwrap().is_empty());

    // Releasing hands over at once.
    successor.release().await.unwrap();
    assert!(first.try_lead().await.unwrap().is_some());
}

#[tokio::test]
async fn dropping_the_leader_releases_the_lock() {
    let db = TestDb::new().await;
    let outbox = AlertOutbox::new(db.pool.clone());
    let leader = outbox.try_lead().await.unwrap().expect("nobody leads yet");
    drop(leader);
    assert!(lead_within(&outbox, Duration::from_secs(5)).await.is_some());
}

#[tokio::test]
async fn alert_changes_come_in_seq_order_and_are_marked_once() {
    let db = TestDb::new().await;
    let engine = engine();
    let now = datetime!(2024-02-01 00:00 UTC);
    let mut store = db.store();
    for chunk in test_support::small_tumour_cohort(12).chunks(5) {
        engine.process(&mut store, &Batch::of_items(chunk.to_vec()), now).await.unwrap();
    }
    let log = store.change_log().await.unwrap();
    assert!(log.len() > 12, "the cohort raises alerts ({} changes)", log.len());

    let outbox = AlertOutbox::new(db.pool.clone());
    let backlog = outbox.backlog().await.unwrap();
    assert_eq!(backlog.unpublished as usize, log.len());
    let oldest = backlog.oldest.expect("rows wait");
    assert!(backlog.oldest_age(oldest + time::Duration::seconds(3)) == Duration::from_secs(3));

    let mut leader = outbox.try_lead().await.unwrap().unwrap();
    let first: Vec<(i64, AlertChange)> = leader.next_unpublished(5).await.unwrap();
    assert_eq!(first.len(), 5);
    assert!(first.windows(2).all(|w| w[0].0 < w[1].0), "seq order");
    assert_eq!(first.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(), log[..5]);

    let marked_at = datetime!(2026-12-07 10:00 UTC);
    let seqs: Vec<i64> = first[..3].iter().map(|(s, _)| *s).collect();
    assert_eq!(leader.mark_published(&seqs, marked_at).await.unwrap(), 3);
    assert_eq!(leader.mark_published(&seqs, marked_at).await.unwrap(), 0, "marked once");
    let rest = leader.next_unpublished(1000).await.unwrap();
    assert_eq!(rest.len(), log.len() - 3);
    assert_eq!(rest[0].0, first[3].0, "the next unpublished row follows");
    assert_eq!(outbox.backlog().await.unwrap().unpublished as usize, log.len() - 3);
    let stamped: Vec<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT published_at FROM alert_change_outbox WHERE published_at IS NOT NULL ORDER BY seq")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(stamped, vec![marked_at; 3]);

    let all: Vec<i64> = rest.iter().map(|(s, _)| *s).collect();
    leader.mark_published(&all, marked_at).await.unwrap();
    let empty = outbox.backlog().await.unwrap();
    assert_eq!((empty.unpublished, empty.oldest), (0, None));
    assert_eq!(empty.oldest_age(marked_at), Duration::ZERO);
}

#[tokio::test]
async fn rejections_come_with_key_bytes_and_timestamp() {
    let db = TestDb::new().await;
    let engine = engine();
    let mut store = db.store();
    let topic = Source::topic("fhir.events");
    let mut keyed = Item::new(Origin { source: topic.clone(), partition: 2, offset: 41 }, Decoded::default());
    keyed.framing = Some(FramingError { code: "empty-record", reason: "no value".into() });
    keyed.bytes = Some(Arc::from(&b""[..]));
    keyed.key = Some(Arc::from(&b"Observation/o1"[..]));
    keyed.timestamp_ms = Some(1_765_000_000_123);
    let file = Source::file("file:/data/feed.ndjson");
    let mut line = Item::new(Origin::line(&file, 3), Decoded::default());
    line.framing = Some(FramingError::invalid_utf8(0));
    line.bytes = Some(Arc::from(&b"\xff"[..]));
    engine.process(&mut store, &Batch::of_items(vec![keyed, line]), datetime!(2024-02-01 00:00 UTC)).await.unwrap();

    let outbox = DeadLetterOutbox::new(db.pool.clone());
    let mut leader = outbox.try_lead().await.unwrap().unwrap();
    let rows: Vec<(i64, PendingRejection)> = leader.next_unpublished(10).await.unwrap();
    assert_eq!(rows.len(), 2);
    let (kafka, file) = (&rows[0].1, &rows[1].1);
    assert_eq!((kafka.source.as_str(), kafka.partition, kafka.offset), ("fhir.events", 2, 41));
    assert_eq!((kafka.code.as_str(), kafka.reason.as_str(), kafka.entry), ("empty-record", "no value", None));
    assert_eq!(kafka.message.as_deref(), Some(&b""[..]));
    assert_eq!(kafka.key.as_deref(), Some(&b"Observation/o1"[..]));
    assert_eq!(kafka.source_time, Some(datetime!(2025-12-06 05:46:40.123 UTC)));
    assert_eq!((file.source.as_str(), file.offset, file.code.as_str()), ("file:/data/feed.ndjson", 3, "invalid-utf8"));
    assert_eq!((file.key.as_deref(), file.source_time), (None, None));
    assert_eq!(file.message.as_deref(), Some(&b"\xff"[..]));
    assert!(rows[0].0 < rows[1].0);
}
