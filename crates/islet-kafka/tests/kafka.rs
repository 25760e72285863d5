//! The consumer and the relays against a real broker (tansu, memory build,
//! one per test on a free port) and the real PostgreSQL (a fresh database
//! per test).

use islet_engine::{
    AlertChange, Batch, BatchLimits, Engine, Message, Origin, Source, SourcePosition, Store, Transaction,
};
use islet_fhir::SiteMapping;
use islet_guideline::Config;
use islet_kafka::consumer::{Assigned, ConsumerSettings, Event, KafkaSource, RebalanceCounts, Record};
use islet_kafka::producer::{ProducerSettings, RelayProducer};
use islet_kafka::relay::{Relay, RelaySettings, Step};
use islet_kafka::test_support::{fast_group_properties, unique, TestBroker};
use islet_kafka::{dead_letter, PgPositions, TopicRecord};
use islet_store::outbox::{AlertOutbox, DeadLetterOutbox, OutboxKind, PendingRejection, LOCK_NAMESPACE};
use islet_store::test_support::{small_tumour_cohort, TestDb};
use islet_store::PgStore;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message as _, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::macros::datetime;

const WAIT: Duration = Duration::from_secs(30);

fn settings(broker: &TestBroker, group: &str, topics: &[&str]) -> ConsumerSettings {
    let mut s = ConsumerSettings::new(broker.brokers(), group, topics.iter().map(|t| t.to_string()).collect());
    s.properties = fast_group_properties();
    s
}

fn positions(db: &TestDb) -> PgPositions {
    PgPositions::new(db.store(), tokio::runtime::Handle::current())
}

/// Produces `values` to one partition, with key `k<i>`, waiting for each.
async fn produce(broker: &TestBroker, topic: &str, partition: i32, values: impl IntoIterator<Item = String>) {
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", broker.brokers()).create().expect("a producer");
    for (i, value) in values.into_iter().enumerate() {
        let key = format!("k{i}");
        let record = FutureRecord::to(topic).partition(partition).key(&key).payload(&value);
        producer.send(record, Duration::from_secs(10)).await.expect("delivered");
    }
}

/// Events until `done` says so; panics after [`WAIT`].
async fn events_until(source: &mut KafkaSource, mut done: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + WAIT;
    while !done(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, source.recv()).await {
            Ok(Some(event)) => seen.push(event),
            Ok(None) => panic!("the source stopped; events so far: {seen:?}"),
            Err(_) => panic!("timed out; events so far: {seen:?}"),
        }
    }
    seen
}

fn records(events: &[Event]) -> Vec<&Record> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Record(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn offsets_of(events: &[Event], partition: i32) -> Vec<i64> {
    records(events).iter().filter(|r| r.origin.partition == partition).map(|r| r.origin.offset).collect()
}

/// Commits positions to PostgreSQL as a batch transaction does (fence, then save).
async fn store_positions(store: &mut PgStore, positions: &[SourcePosition]) {
    let mut tx = store.begin().await.unwrap();
    let partitions: Vec<(String, i32)> = positions.iter().map(|p| (p.source.clone(), p.partition)).collect();
    tx.fence_positions(&partitions).await.unwrap();
    tx.save_positions(positions).await.unwrap();
    tx.commit().await.unwrap();
}

fn position(topic: &str, partition: i32, next_offset: i64) -> SourcePosition {
    SourcePosition { source: topic.into(), partition, next_offset, fingerprint: None }
}

/// The group's offsets as Kafka keeps them (what lag tools read).
fn kafka_committed(broker: &TestBroker, group: &str, topic: &str, partitions: i32) -> BTreeMap<i32, Offset> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set("group.id", group)
        .create()
        .expect("a consumer");
    let mut list = TopicPartitionList::new();
    list.add_partition_range(topic, 0, partitions - 1);
    let committed = consumer.committed_offsets(list, Duration::from_secs(10)).expect("committed offsets");
    committed.elements().iter().map(|e| (e.partition(), e.offset())).collect()
}

/// A partition with a position starts there, one without at the beginning —
/// never at the offset Kafka has for the group, which only lag tools read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_start_at_the_database_positions_not_kafkas() {
    let broker = TestBroker::start();
    let topic = broker.topic("start", 2);
    produce(&broker, &topic, 0, (0..20).map(|i| format!("p0-{i}"))).await;
    produce(&broker, &topic, 1, (0..5).map(|i| format!("p1-{i}"))).await;
    let db = TestDb::new().await;
    let group = unique("group");

    // Nothing stored yet: both partitions from the beginning.
    let mut first = KafkaSource::start(&settings(&broker, &group, &[&topic]), positions(&db)).unwrap();
    let events = events_until(&mut first, |e| records(e).len() == 25).await;
    let Event::Assigned(assigned) = &events[0] else { panic!("first an assignment: {events:?}") };
    let mut assigned = assigned.clone();
    assigned.sort_by_key(|a| a.partition);
    assert_eq!(
        assigned,
        [
            Assigned { topic: topic.clone(), partition: 0, next_offset: None },
            Assigned { topic: topic.clone(), partition: 1, next_offset: None }
        ]
    );
    assert_eq!(offsets_of(&events, 0), (0..20).collect::<Vec<_>>());
    assert_eq!(offsets_of(&events, 1), (0..5).collect::<Vec<_>>());
    let r = records(&events)
        .into_iter()
        .find(|r| r.origin == Origin { source: Source::topic(&*topic), partition: 0, offset: 3 });
    let r = r.expect("offset 3 of partition 0");
    assert_eq!((r.value.as_deref(), r.key.as_deref()), (Some(&b"p0-3"[..]), Some(&b"k3"[..])));
    assert!(r.timestamp_ms.is_some_and(|t| t > 1_700_000_000_000), "the record's timestamp comes along");

    // Kafka's offsets for lag tools: ahead of what the database will say.
    first.commit_to_kafka(&[position(&topic, 0, 18), position(&topic, 1, 4), position("other", 0, 9)]).unwrap();
    let deadline = Instant::now() + WAIT;
    let expected = BTreeMap::from([(0, Offset::Offset(18)), (1, Offset::Offset(4))]);
    while kafka_committed(&broker, &group, &topic, 2) != expected {
        assert!(
            Instant::now() < deadline,
            "the commit reached Kafka: {:?}",
            kafka_committed(&broker, &group, &topic, 2)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    first.close().await;

    // The database says 12 for partition 0 and nothing for partition 1.
    store_positions(&mut db.store(), &[position(&topic, 0, 12)]).await;
    let mut second = KafkaSource::start(&settings(&broker, &group, &[&topic]), positions(&db)).unwrap();
    let events = events_until(&mut second, |e| records(e).len() == 8 + 5).await;
    assert_eq!(offsets_of(&events, 0), (12..20).collect::<Vec<_>>(), "from the database's position");
    assert_eq!(offsets_of(&events, 1), (0..5).collect::<Vec<_>>(), "from the beginning, not Kafka's 4");
    let Event::Assigned(assigned) = &events[0] else { panic!("first an assignment: {events:?}") };
    assert!(assigned.contains(&Assigned { topic: topic.clone(), partition: 0, next_offset: Some(12) }));
    second.close().await;
}

/// A driver that does not read (a full channel) or pauses (PostgreSQL down)
/// for longer than `max.poll.interval.ms` keeps the member in its group, and
/// the records continue exactly where they stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_paused_driver_keeps_the_membership() {
    let broker = TestBroker::start();
    let topic = broker.topic("pause", 1);
    produce(&broker, &topic, 0, (0..30).map(|i| format!("v{i}"))).await;
    let mut s = settings(&broker, &unique("group"), &[&topic]);
    // A member that stops polling for 6 s leaves the group.
    s.properties.insert("max.poll.interval.ms".into(), "6000".into());
    s.channel_capacity = 4;
    let db = TestDb::new().await;
    let mut source = KafkaSource::start(&s, positions(&db)).unwrap();
    let assigned = events_until(&mut source, |e| !e.is_empty()).await;
    assert!(matches!(&assigned[0], Event::Assigned(a) if a.len() == 1), "{assigned:?}");

    // Not reading: the channel fills up.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let events = events_until(&mut source, |e| records(e).len() == 30).await;
    assert_eq!(offsets_of(&events, 0), (0..30).collect::<Vec<_>>(), "no record lost or repeated");
    assert_eq!(events.len(), 30, "no rebalance: {events:?}");

    // Paused: nothing comes, the member stays.
    source.pause_all().unwrap();
    assert!(source.is_paused());
    produce(&broker, &topic, 0, (30..40).map(|i| format!("v{i}"))).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(source.try_recv(), None, "nothing is fetched while paused");
    assert_eq!(source.rebalances(), RebalanceCounts { assigned: 1, revoked: 0, errors: 0 });
    assert_eq!(source.assignment(), [(topic.clone(), 0)]);
    source.resume_all().unwrap();
    let events = events_until(&mut source, |e| records(e).len() == 10).await;
    assert_eq!(offsets_of(&events, 0), (30..40).collect::<Vec<_>>());
    assert_eq!(events.len(), 10, "{events:?}");
    assert_eq!(source.rebalances(), RebalanceCounts { assigned: 1, revoked: 0, errors: 0 });

    let marks = tokio::task::block_in_place(|| source.watermarks(Duration::from_secs(5))).unwrap();
    assert_eq!(marks.len(), 1);
    assert!(marks[0].low <= marks[0].high, "{marks:?}");
    source.close().await;
}

/// Two members split the partitions; with every record's position stored as
/// it is applied, together they see each record exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_split_the_partitions_and_see_each_record_once() {
    let broker = TestBroker::start();
    let topic = broker.topic("split", 4);
    for p in 0..4 {
        produce(&broker, &topic, p, (0..10).map(|i| format!("{p}-{i}"))).await;
    }
    let db = TestDb::new().await;
    let group = unique("group");
    let mut store = db.store();
    let mut seen: Vec<(char, i32, i64)> = Vec::new();
    let mut a = KafkaSource::start(&settings(&broker, &group, &[&topic]), positions(&db)).unwrap();
    let mut b: Option<KafkaSource> = None;
    let mut b_assigned: Option<BTreeSet<i32>> = None;
    let mut a_assigned: Option<BTreeSet<i32>> = None;
    let mut produced_more = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 80 {
        assert!(Instant::now() < deadline, "timed out with {} records: {seen:?}", seen.len());
        let (member, event) = tokio::select! {
            Some(e) = a.recv() => ('a', e),
            Some(e) = async { b.as_mut()?.recv().await } => ('b', e),
            _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
        };
        match event {
            Event::Record(r) => {
                store_positions(&mut store, &[position(&topic, r.origin.partition, r.origin.offset + 1)]).await;
                seen.push((member, r.origin.partition, r.origin.offset));
            }
            Event::Assigned(list) => {
                let partitions = list.iter().map(|x| x.partition).collect();
                if member == 'a' {
                    a_assigned = Some(partitions);
                } else {
                    b_assigned = Some(partitions);
                }
            }
            Event::Revoked(_) => {}
            Event::Fatal(e) => panic!("{e}"),
        }
        if b.is_none() && seen.len() == 40 {
            b = Some(KafkaSource::start(&settings(&broker, &group, &[&topic]), positions(&db)).unwrap());
        }
        let split = matches!((&a_assigned, &b_assigned), (Some(x), Some(y)) if x.len() == 2 && y.len() == 2);
        if split && !produced_more {
            for p in 0..4 {
                produce(&broker, &topic, p, (10..20).map(|i| format!("{p}-{i}"))).await;
            }
            produced_more = true;
        }
    }
    // Anything repeated would come now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while let Some(Event::Record(r)) = a.try_recv() {
        seen.push(('a', r.origin.partition, r.origin.offset));
    }
    while let Some(Event::Record(r)) = b.as_mut().unwrap().try_recv() {
        seen.push(('b', r.origin.partition, r.origin.offset));
    }
    let (a_parts, b_parts) = (a_assigned.unwrap(), b_assigned.unwrap());
    assert!(a_parts.is_disjoint(&b_parts), "{a_parts:?} {b_parts:?}");
    let once: BTreeSet<(i32, i64)> = seen.iter().map(|(_, p, o)| (*p, *o)).collect();
    assert_eq!(once.len(), seen.len(), "a record was seen twice: {seen:?}");
    let all: BTreeSet<(i32, i64)> = (0..4).flat_map(|p| (0..20).map(move |o| (p, o))).collect();
    assert_eq!(once, all);
    for (member, p, o) in &seen {
        if *o >= 10 {
            let owner = if b_parts.contains(p) { 'b' } else { 'a' };
            assert_eq!(*member, owner, "record {p}/{o} after the split went to its partition's owner");
        }
    }
    a.close().await;
    b.unwrap().close().await;
}

fn engine() -> Engine {
    Engine::new(SiteMapping::empty(), Config::default())
}

/// The alert record as the test renders it (the service uses islet-render).
fn alert_record(seq: i64, change: &AlertChange) -> Result<TopicRecord, Infallible> {
    Ok(TopicRecord {
        key: Some(change.alert.patient.clone().into_bytes()),
        value: serde_json::to_vec(&change.alert).unwrap(),
        headers: vec![
            ("islet.change", seq.to_string().into_bytes()),
            ("islet.change.kind", serde_json::to_string(&change.change).unwrap().trim_matches('"').as_bytes().to_vec()),
            ("islet.alert.id", change.alert.id.clone().into_bytes()),
        ],
    })
}

fn dead_letter_record(_seq: i64, r: &PendingRejection) -> Result<TopicRecord, Infallible> {
    Ok(dead_letter::record(r))
}

/// Every record of `topic` (all partitions from the start), until `n` came and
/// one more second passed without another (so duplicates show).
fn read_topic(broker: &TestBroker, topic: &str, partitions: i32, n: usize) -> Vec<OwnedMessage> {
    // librdkafka wants a group id even to assign (no group is joined).
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set("group.id", unique("reader"))
        .create()
        .expect("a consumer");
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&list).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + WAIT;
    let mut quiet_since = Instant::now();
    while got.len() < n || quiet_since.elapsed() < Duration::from_secs(1) {
        assert!(Instant::now() < deadline, "{} of {n} records of {topic}", got.len());
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                got.push(m.detach());
                quiet_since = Instant::now();
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    got
}

fn header<'a>(m: &'a OwnedMessage, name: &str) -> Option<&'a [u8]> {
    m.headers()?.iter().find(|h| h.key == name).and_then(|h| h.value)
}

async fn unpublished(db: &TestDb, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}_outbox WHERE published_at IS NULL"))
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

fn producer(brokers: String) -> Arc<RelayProducer> {
    let mut s = ProducerSettings::new(brokers);
    s.properties.insert("message.timeout.ms".into(), "3000".into());
    Arc::new(RelayProducer::new(&s).unwrap())
}

/// The alert relay publishes every change once, in seq order per patient,
/// marks rows only once the broker has them, and hands over when its leader's
/// connection is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_relay_publishes_each_change_once_in_order() {
    let db = TestDb::new().await;
    let engine = engine();
    let now = datetime!(2024-02-01 00:00 UTC);
    let mut store = db.store();
    let cohort = small_tumour_cohort(30);
    for chunk in cohort[..40].chunks(7) {
        engine.process(&mut store, &Batch::of_items(chunk.to_vec()), now).await.unwrap();
    }
    let first_changes = unpublished(&db, "alert_change").await;
    assert!(first_changes > 20, "{first_changes}");

    // No broker: the deliveries fail, nothing is marked.
    let mut nowhere = Relay::new(
        AlertOutbox::new(db.pool.clone()),
        producer(format!("127.0.0.1:{}", closed_port())),
        RelaySettings::new("islet.alerts"),
        alert_record,
    );
    let step = nowhere.step().await.unwrap();
    assert_eq!(step, Step::Published { published: 0, failed: first_changes as usize });
    assert_eq!(unpublished(&db, "alert_change").await, first_changes, "nothing marked without delivery");
    assert_eq!(nowhere.metrics().delivery_failures.load(std::sync::atomic::Ordering::Relaxed), first_changes as u64);
    drop(nowhere);

    let broker = TestBroker::start();
    let topic = broker.topic("alerts", 3);
    let relay_settings = RelaySettings { batch_size: 25, ..RelaySettings::new(topic.clone()) };
    let mut first =
        Relay::new(AlertOutbox::new(db.pool.clone()), producer(broker.brokers()), relay_settings.clone(), alert_record);
    let mut second =
        Relay::new(AlertOutbox::new(db.pool.clone()), producer(broker.brokers()), relay_settings, alert_record);
    // The dropped relay's session may take a moment to end.
    let deadline = Instant::now() + WAIT;
    while first.step().await.unwrap() == Step::NotLeader {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(second.step().await.unwrap(), Step::NotLeader, "one leader per outbox");
    first.flush(Duration::from_secs(20)).await;
    assert_eq!(unpublished(&db, "alert_change").await, 0);
    assert_eq!(second.step().await.unwrap(), Step::NotLeader);

    // More changes; then the leader's connection is cut.
    for chunk in cohort[40..].chunks(7) {
        engine.process(&mut store, &Batch::of_items(chunk.to_vec()), now).await.unwrap();
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_change").fetch_one(&db.pool).await.unwrap();
    assert!(total > first_changes);
    let holders: Vec<i32> = sqlx::query_scalar(
        // pg_locks spans the server; advisory locks are per database.
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid AND objid = $2::oid AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind(LOCK_NAMESPACE as i64)
    .bind(OutboxKind::AlertChanges.lock_key() as i64)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(holders.len(), 1, "one session holds the lock");
    sqlx::query("SELECT pg_terminate_backend($1)").bind(holders[0]).execute(&db.pool).await.unwrap();
    let deadline = Instant::now() + WAIT;
    while second.step().await.unwrap() == Step::NotLeader {
        assert!(Instant::now() < deadline, "the second relay takes over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(first.step().await.is_err(), "the old leader finds out and publishes nothing");
    assert_eq!(first.step().await.unwrap(), Step::NotLeader);
    second.flush(Duration::from_secs(20)).await;
    assert_eq!(unpublished(&db, "alert_change").await, 0);

    let log = store.change_log().await.unwrap();
    let messages = tokio::task::block_in_place(|| read_topic(&broker, &topic, 3, total as usize));
    assert_eq!(messages.len(), total as usize, "each change once");
    let mut per_patient: BTreeMap<Vec<u8>, Vec<i64>> = BTreeMap::new();
    let mut seqs = BTreeSet::new();
    for m in &messages {
        let seq: i64 = std::str::from_utf8(header(m, "islet.change").unwrap()).unwrap().parse().unwrap();
        assert!(seqs.insert(seq), "seq {seq} twice");
        let change = &log[(seq - 1) as usize];
        assert_eq!(m.key(), Some(change.alert.patient.as_bytes()));
        assert_eq!(m.payload().unwrap(), serde_json::to_vec(&change.alert).unwrap());
        assert_eq!(header(m, "islet.alert.id"), Some(change.alert.id.as_bytes()));
        per_patient.entry(m.key().unwrap().to_vec()).or_default().push(seq);
    }
    assert_eq!(seqs, (1..=total).collect::<BTreeSet<_>>());
    for (patient, order) in per_patient {
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{}: {order:?}", String::from_utf8_lossy(&patient));
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Rejected records reach the dead-letter topic with their key and bytes
/// unchanged and the contract's headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_become_dead_letters_with_original_bytes_and_headers() {
    let db = TestDb::new().await;
    let engine = engine();
    let topic = Source::topic("fhir.events");
    let bundle = br#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"p1"}},{"resource":{"resourceType":"Observation","id":"k1","code":{"coding":[{"system":"http://loinc.org","code":"29593-1"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-10","valueQuantity":{"value":4.5,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}}]}"#;
    let inputs: Vec<Record> = vec![
        Record {
            origin: Origin { source: topic.clone(), partition: 1, offset: 7 },
            value: Some(b"{not json\xff".to_vec()),
            key: Some(b"Observation/a".to_vec()),
            timestamp_ms: Some(1_765_000_000_123),
        },
        Record {
            origin: Origin { source: topic.clone(), partition: 1, offset: 8 },
            value: None,
            key: None,
            timestamp_ms: Some(1_765_000_000_456),
        },
        Record {
            origin: Origin { source: topic.clone(), partition: 2, offset: 3 },
            value: Some(bundle.to_vec()),
            key: Some(b"Bundle/b".to_vec()),
            timestamp_ms: Some(1_765_000_000_789),
        },
    ];
    let mut batcher =
        engine.batcher(BatchLimits { max_messages: 100 }, datetime!(2026-01-01 00:00 UTC)).keep_bytes(true);
    for r in &inputs {
        assert!(r.push_to(&mut batcher).is_none());
    }
    let file = Source::file("file:/data/feed.ndjson");
    batcher.push(Message::new(Origin::line(&file, 4), b"[1]"));
    engine.process(&mut db.store(), &batcher.take(), datetime!(2024-02-01 00:00 UTC)).await.unwrap();
    let rows = unpublished(&db, "rejection").await;
    assert_eq!(rows, 4, "one per rejected message or entry");

    let broker = TestBroker::start();
    let dlq = broker.topic("dead-letter", 2);
    let outbox = DeadLetterOutbox::new(db.pool.clone());
    let mut leader = outbox.try_lead().await.unwrap().unwrap();
    let stored: Vec<(i64, PendingRejection)> = leader.next_unpublished(100).await.unwrap();
    leader.release().await.unwrap();
    let mut relay = Relay::new(outbox, producer(broker.brokers()), RelaySettings::new(dlq.clone()), dead_letter_record);
    assert_eq!(relay.flush(Duration::from_secs(20)).await, 4);
    assert_eq!(unpublished(&db, "rejection").await, 0);

    let messages = tokio::task::block_in_place(|| read_topic(&broker, &dlq, 2, 4));
    assert_eq!(messages.len(), 4);
    for (_, row) in &stored {
        let expected = dead_letter::record(row);
        let offset = row.offset.to_string();
        let m = messages
            .iter()
            .find(|m| {
                header(m, dead_letter::SOURCE_OFFSET) == Some(offset.as_bytes())
                    && header(m, dead_letter::ENTRY).map(<[u8]>::to_vec)
                        == row.entry.map(|e| e.to_string().into_bytes())
            })
            .unwrap_or_else(|| panic!("the dead letter of {row:?}"));
        assert_eq!(m.key().map(<[u8]>::to_vec), expected.key);
        assert_eq!(m.payload().unwrap_or_default(), expected.value);
        let got: Vec<(String, Vec<u8>)> =
            m.headers().unwrap().iter().map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec())).collect();
        let want: Vec<(String, Vec<u8>)> = expected.headers.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
        assert_eq!(got, want);
    }

    // Against the inputs themselves: the bytes and keys as they came.
    let by_offset = |partition: i32, offset: i64| {
        messages
            .iter()
            .filter(|m| {
                header(m, dead_letter::SOURCE_PARTITION) == Some(partition.to_string().as_bytes())
                    && header(m, dead_letter::SOURCE_OFFSET) == Some(offset.to_string().as_bytes())
                    && header(m, dead_letter::SOURCE_TOPIC) == Some(b"fhir.events")
            })
            .collect::<Vec<_>>()
    };
    let bad_json = by_offset(1, 7);
    assert_eq!(bad_json.len(), 1);
    assert_eq!(bad_json[0].payload(), Some(&b"{not json\xff"[..]));
    assert_eq!(bad_json[0].key(), Some(&b"Observation/a"[..]));
    assert_eq!(header(bad_json[0], dead_letter::SOURCE_TIMESTAMP), Some(&b"1765000000123"[..]));
    assert_eq!(header(bad_json[0], dead_letter::REASON_CODE), Some(&b"invalid-utf8"[..]));
    let tombstone = by_offset(1, 8);
    assert_eq!(header(tombstone[0], dead_letter::REASON_CODE), Some(&b"empty-record"[..]));
    assert_eq!((tombstone[0].key(), tombstone[0].payload().unwrap_or_default()), (None, &b""[..]));
    let entry = by_offset(2, 3);
    assert_eq!(entry.len(), 1, "one entry of the Bundle was rejected");
    assert_eq!(header(entry[0], dead_letter::ENTRY), Some(&b"1"[..]));
    assert_eq!(entry[0].payload(), Some(&bundle[..]), "the whole message, unchanged");
    assert_eq!(header(entry[0], dead_letter::REASON_CODE), Some(&b"missing-status"[..]));
    let line = messages.iter().find(|m| header(m, dead_letter::SOURCE_TOPIC) == Some(b"file:/data/feed.ndjson"));
    let line = line.expect("the file's rejected line");
    assert_eq!((line.key(), line.payload()), (None, Some(&b"[1]"[..])));
    assert_eq!(header(line, dead_letter::SOURCE_OFFSET), Some(&b"4"[..]));
    assert_eq!(header(line, dead_letter::SOURCE_TIMESTAMP), None);
}

/// While PostgreSQL cannot say where a partition stands, nothing is
/// consumed; once it answers, the partition starts there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_waits_for_the_positions() {
    let broker = TestBroker::start();
    let topic = broker.topic("lookup", 1);
    produce(&broker, &topic, 0, (0..5).map(|i| format!("v{i}"))).await;
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = calls.clone();
    let lookup = move |_: &str, _: i32| -> Result<Option<i64>, islet_kafka::consumer::LookupError> {
        match counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0..=2 => Err("connection refused at 127.0.0.1:5432".into()),
            _ => Ok(Some(2)),
        }
    };
    let mut source = KafkaSource::start(&settings(&broker, &unique("group"), &[&topic]), lookup).unwrap();
    let events = events_until(&mut source, |e| records(e).len() == 3).await;
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4, "three failures, then the answer");
    assert_eq!(events[0], Event::Assigned(vec![Assigned { topic: topic.clone(), partition: 0, next_offset: Some(2) }]));
    assert_eq!(offsets_of(&events, 0), [2, 3, 4]);
    source.close().await;
}

/// The relay's loop publishes rows as they are committed and, at shutdown,
/// finishes, flushes and hands the lead over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_loop_follows_the_outbox_until_shutdown() {
    let db = TestDb::new().await;
    let engine = engine();
    let now = datetime!(2024-02-01 00:00 UTC);
    let mut store = db.store();
    let cohort = small_tumour_cohort(10);
    engine.process(&mut store, &Batch::of_items(cohort[..10].to_vec()), now).await.unwrap();
    let broker = TestBroker::start();
    let topic = broker.topic("alerts", 2);
    let settings = RelaySettings { idle_wait: Duration::from_millis(50), ..RelaySettings::new(topic.clone()) };
    let relay = Relay::new(AlertOutbox::new(db.pool.clone()), producer(broker.brokers()), settings, alert_record);
    let metrics = relay.metrics();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(relay.run(async {
        let _ = stopped.await;
    }));
    let drained = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            let deadline = Instant::now() + WAIT;
            loop {
                let left: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM alert_change_outbox WHERE published_at IS NULL")
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                if left == 0 {
                    break;
                }
                assert!(Instant::now() < deadline, "{left} changes still unpublished");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    drained(&db).await;
    assert!(metrics.leading.load(std::sync::atomic::Ordering::Relaxed));
    engine.process(&mut store, &Batch::of_items(cohort[10..].to_vec()), now).await.unwrap();
    drained(&db).await;

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), running).await.expect("the loop ends").unwrap();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_change").fetch_one(&db.pool).await.unwrap();
    assert_eq!(metrics.published.load(std::sync::atomic::Ordering::Relaxed), total as u64);
    assert!(!metrics.leading.load(std::sync::atomic::Ordering::Relaxed));
    assert!(AlertOutbox::new(db.pool.clone()).try_lead().await.unwrap().is_some(), "the lead was released");
    let messages = tokio::task::block_in_place(|| read_topic(&broker, &topic, 2, total as usize));
    assert_eq!(messages.len(), total as usize);
}
