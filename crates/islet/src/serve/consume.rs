//! The Kafka side of `islet serve`: the input topics through the one ingest
//! path, and the relays of the two outboxes to their topics.
//!
//! **Batches.** Records go through a batcher as they arrive (decoded on
//! arrival, while the previous batch commits); a batch is committed when it
//! is full (`ingest.batch_size`) or when its first record has waited
//! `ingest.max_batch_latency_ms`, whichever comes first. The partitions are
//! split between `kafka.concurrent_batches` lanes, each with its batcher and
//! its committer, so that many batch transactions run at once. Each
//! batch is one transaction (`commit_isolating`): state, alert changes,
//! rejections (the dead-letter outbox) and the partitions' next offsets
//! commit together, and the transaction fences its partitions, so a record
//! another member applied during a rebalance is skipped. Only then are the
//! offsets written to Kafka, for lag tools.
//!
//! **PostgreSQL down.** The commit is retried with backoff for as long as
//! it takes; meanwhile the poll thread keeps the member in its group (it
//! pauses fetching when its channel is full) and `/readyz` fails.
//!
//! **Revocation.** Records of revoked partitions still in the unfinished
//! batch are committed at once: whoever commits a record first applies it,
//! the other's transaction fences it out.

use super::metrics::{unix_now, EventLabels, OutboxLabels, Received, RecordLabels};
use super::State;
use crate::drivers::clock::horizon;
use crate::drivers::commit::commit_isolating;
use crate::settings::Settings;
use islet_engine::ingest::{Batch, BatchLimits, Batcher, SourcePosition};
use islet_kafka::relay::{Relay, RelaySettings};
use islet_kafka::{ConsumerSettings, Event, KafkaSource, PgPositions, ProducerSettings, RelayProducer, TopicRecord};
use islet_store::outbox::{AlertOutbox, DeadLetterOutbox, Outbox};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// How long a batch in flight may keep committing after SIGTERM before it
/// is abandoned (rolled back; its records are read again after restart).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// How often the lag gauge is refreshed from the broker's watermarks.
const LAG_INTERVAL: Duration = Duration::from_secs(10);

/// The Kafka parts, started after the HTTP listener is bound.
pub struct Kafka {
    pub source: KafkaSource,
    pub producer: ProducerSettings,
}

impl Kafka {
    /// Joins the group (partitions start at PostgreSQL's positions) and creates the relays' producer.
    pub fn start(settings: &Settings, state: &State) -> Result<Kafka, String> {
        let k = &settings.kafka;
        let mut consumer = ConsumerSettings::new(k.brokers.clone(), k.group_id.clone(), k.input_topics.clone());
        consumer.properties = k.properties.clone();
        consumer.channel_capacity = (settings.ingest.batch_size * 4).max(1000);
        let lookup = PgPositions::new(state.store.clone(), tokio::runtime::Handle::current());
        let source = KafkaSource::start(&consumer, lookup).map_err(|e| format!("Kafka consumer: {e}"))?;
        let mut producer = ProducerSettings::new(k.brokers.clone());
        producer.properties = k.properties.clone();
        // Refused settings show at start, not in the relays.
        RelayProducer::new(&producer).map_err(|e| format!("Kafka producer: {e}"))?;
        Ok(Kafka { source, producer })
    }
}

/// Consumes until `stopped`, then commits what is pending and leaves the group.
///
/// The assigned partitions are split between `lanes` (a partition stays in
/// its lane for the life of the process, so its batches commit in offset
/// order: a later batch committed first would fence out an earlier one's
/// records). Each lane has a batcher here and a committer task: a lane's
/// committer commits one batch while the next is decoded (a channel of one
/// between them), and the lanes' transactions run side by side (patients
/// two of them touch are serialized by their row locks). Committed positions
/// come back to be written to Kafka here, where the consumer lives.
pub async fn run_consumer(
    state: Arc<State>,
    mut source: KafkaSource,
    limits: BatchLimits,
    max_latency: Duration,
    lanes: usize,
    stopped: watch::Receiver<bool>,
) -> Result<(), String> {
    let (report, mut committed) = mpsc::unbounded_channel::<Vec<SourcePosition>>();
    let mut committers = Vec::with_capacity(lanes);
    let mut lanes: Vec<Lane> = (0..lanes.max(1))
        .map(|_| {
            let (to_commit, mut batches) = mpsc::channel::<Batch>(1);
            committers.push(tokio::spawn({
                let (state, stopped, report) = (state.clone(), stopped.clone(), report.clone());
                async move {
                    while let Some(batch) = batches.recv().await {
                        let positions = commit(&state, batch, &stopped).await?;
                        let _ = report.send(positions);
                    }
                    Ok::<(), String>(())
                }
            }));
            Lane {
                batcher: state.engine.batcher(limits, horizon(Some(state.clock.now()))).keep_bytes(true),
                deadline: None,
                to_commit,
            }
        })
        .collect();
    drop(report);
    let mut lane_of: HashMap<(String, i32), usize> = HashMap::new();
    let mut stop_signal = stopped.clone();
    let mut events = Vec::with_capacity(1024);
    let mut next_lag = Instant::now() + LAG_INTERVAL;
    let outcome: Result<(), Option<String>> = 'consume: loop {
        let first_deadline = lanes.iter().filter_map(|l| l.deadline).min();
        let wake = first_deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600)).min(next_lag);
        tokio::select! {
            biased;
            _ = async { let _ = stop_signal.wait_for(|s| *s).await; } => break Ok(()),
            Some(positions) = committed.recv() => {
                if let Err(e) = source.commit_to_kafka(&positions) {
                    // For lag tools only: the positions that count are in PostgreSQL.
                    tracing::warn!(error = %e, "writing offsets to Kafka failed (lag tools only)");
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                for lane in lanes.iter_mut().filter(|l| l.deadline.is_some_and(|d| d <= now)) {
                    if lane.hand_over().await.is_err() {
                        break 'consume Err(None);
                    }
                }
                if next_lag <= Instant::now() {
                    refresh_lag(&state, &source).await;
                    next_lag = Instant::now() + LAG_INTERVAL;
                }
            }
            n = source.recv_many(&mut events, 1024) => {
                if n == 0 {
                    break Err(Some("the Kafka consumer stopped".to_owned()));
                }
                // Clinical times after "now" are implausible; "now" moves.
                let horizon = horizon(Some(state.clock.now()));
                for lane in &mut lanes {
                    lane.batcher.set_horizon(horizon);
                }
                let mut failure = None;
                for event in events.drain(..) {
                    match event {
                        Event::Record(record) => {
                            let key = (record.origin.source.name().to_owned(), record.origin.partition);
                            let count = lanes.len();
                            let next = lane_of.len();
                            let lane = &mut lanes[*lane_of.entry(key).or_insert(next % count)];
                            lane.deadline.get_or_insert_with(|| Instant::now() + max_latency);
                            if let Some(full) = record.push_to(&mut lane.batcher) {
                                lane.deadline = None;
                                if lane.send(full).await.is_err() {
                                    failure = Some(None);
                                    break;
                                }
                            }
                        }
                        Event::Assigned(assigned) => {
                            state.metrics.rebalances.get_or_create(&EventLabels { event: "assign" }).inc();
                            state.metrics.assigned_partitions.set(assigned.len() as i64);
                            state.kafka_joined.store(true, Ordering::SeqCst);
                            tracing::warn!(partitions = assigned.len(), "partitions assigned");
                        }
                        Event::Revoked(revoked) => {
                            state.metrics.rebalances.get_or_create(&EventLabels { event: "revoke" }).inc();
                            tracing::warn!(partitions = revoked.len(), "partitions revoked");
                            for lane in &mut lanes {
                                if lane.hand_over().await.is_err() {
                                    failure = Some(None);
                                    break;
                                }
                            }
                        }
                        Event::Fatal(why) => {
                            state.metrics.rebalances.get_or_create(&EventLabels { event: "error" }).inc();
                            failure = Some(Some(format!("the Kafka consumer failed: {why}")));
                        }
                    }
                    if failure.is_some() {
                        break;
                    }
                }
                if let Some(why) = failure {
                    break Err(why);
                }
            }
        }
    };
    // Draining (or failing): what is pending commits, then the member leaves
    // the group so its partitions move to the others at once.
    if outcome.is_ok() {
        for lane in &mut lanes {
            let _ = lane.hand_over().await;
        }
    }
    drop(lanes);
    let mut committed_all = Ok(());
    for committer in committers {
        let result = committer.await.map_err(|e| format!("a committer failed: {e}")).and_then(|r| r);
        if committed_all.is_ok() {
            committed_all = result;
        }
    }
    while let Ok(positions) = committed.try_recv() {
        let _ = source.commit_to_kafka(&positions);
    }
    state.kafka_joined.store(false, Ordering::SeqCst);
    source.close().await;
    match outcome {
        Ok(()) => committed_all,
        Err(Some(why)) => Err(why),
        Err(None) => Err(committed_all.err().unwrap_or_else(|| "a committer stopped".into())),
    }
}

/// One lane of the consumer: the batch being filled and the channel to its committer.
struct Lane {
    batcher: Batcher,
    /// When the batch being filled must be committed (its first record's arrival plus the batch latency).
    deadline: Option<Instant>,
    to_commit: mpsc::Sender<Batch>,
}

impl Lane {
    /// Hands what the batcher holds to the committer. `Err` only when the committer stopped.
    async fn hand_over(&mut self) -> Result<(), ()> {
        self.deadline = None;
        let batch = self.batcher.take();
        self.send(batch).await
    }

    async fn send(&self, batch: Batch) -> Result<(), ()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.to_commit.send(batch).await.map_err(|_| ())
    }
}

/// Commits one batch (retrying while PostgreSQL is unavailable) and returns
/// the positions it committed. `Err` only for what retrying cannot fix.
async fn commit(state: &State, batch: Batch, stopped: &watch::Receiver<bool>) -> Result<Vec<SourcePosition>, String> {
    let mut stopped = stopped.clone();
    let positions = batch.positions();
    let received = Received::of(&batch);
    let now = state.clock.now();
    let started = std::time::Instant::now();
    let mut rejections = Vec::new();
    let result = {
        let mut note = |r: &islet_engine::Rejection| rejections.push(r.clone());
        let work = commit_isolating(&state.engine, &state.store, batch, now, &state.kafka_backoff, &mut note);
        let abandon = async {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            r = work => r,
            _ = abandon => {
                return Err("shutting down: a batch still waiting for PostgreSQL was abandoned \
                            (rolled back; its records are read again after a restart)".into())
            }
        }
    };
    let (changes, stats) = result.map_err(|e| format!("committing a batch: {e}"))?;
    for r in &rejections {
        tracing::warn!(
            topic = r.origin.source.name(),
            partition = r.origin.partition,
            offset = r.origin.offset,
            entry = r.entry,
            code = r.code,
            "record rejected (kept for the dead-letter topic)"
        );
    }
    state.metrics.batch_committed(&received, &stats, &changes, &rejections, started.elapsed(), unix_now());
    Ok(positions)
}

/// `islet_consumer_lag_records`: the broker's high watermark minus the next
/// offset committed in PostgreSQL, per assigned partition.
async fn refresh_lag(state: &State, source: &KafkaSource) {
    let marks = match tokio::task::block_in_place(|| source.watermarks(Duration::from_millis(500))) {
        Ok(marks) => marks,
        Err(e) => {
            tracing::debug!(error = %e, "reading watermarks failed");
            return;
        }
    };
    state.metrics.lag.clear();
    for w in marks {
        let next = match state.store.position(&w.topic, w.partition).await {
            Ok(p) => p.map_or(w.low, |p| p.next_offset),
            Err(_) => continue,
        };
        let labels = RecordLabels { source: w.topic, partition: w.partition.to_string() };
        state.metrics.lag.get_or_create(&labels).set((w.high - next).max(0));
    }
}

/// A relay that found its outbox empty looks again after this: an alert
/// change waits at most this long (plus the send) before it is published.
/// The look is one scan of the outbox table's partial index (empty: no row read).
const RELAY_IDLE_WAIT: Duration = Duration::from_millis(25);

fn relay_settings(topic: String) -> RelaySettings {
    RelaySettings { idle_wait: RELAY_IDLE_WAIT, ..RelaySettings::new(topic) }
}

/// The two relays (alert changes → the alert topic, rejections → the
/// dead-letter topic) and the task that exports their backlog. Each runs
/// until `stopped`, then publishes what is left (bounded by its flush timeout).
pub fn spawn_relays(
    state: &Arc<State>,
    settings: &Settings,
    producer: ProducerSettings,
    stopped: &watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
    let make = move || RelayProducer::new(&producer);
    let factory = || -> islet_kafka::relay::ProducerFactory { Box::new(make.clone()) };
    let fresh = || make().map(Arc::new).map_err(|e| format!("Kafka producer: {e}"));
    let pool = state.store.pool().clone();
    let format = settings.kafka.alert_format;
    let alerts: AlertOutbox = Outbox::new(pool.clone());
    let alert_relay = Relay::new(
        alerts,
        fresh()?,
        relay_settings(settings.kafka.alert_topic.clone()),
        move |seq, change: &islet_engine::AlertChange| {
            islet_render::topic::alert_record(seq, change, format).map(|r| TopicRecord {
                key: Some(r.key),
                value: r.value,
                headers: r.headers,
            })
        },
    )
    .rebuild_producer_with(factory());
    let dead_letters: DeadLetterOutbox = Outbox::new(pool.clone());
    let dead_letter_relay = Relay::new(
        dead_letters,
        fresh()?,
        relay_settings(settings.kafka.dead_letter_topic.clone()),
        |_seq, rejection: &islet_store::outbox::PendingRejection| {
            Ok::<_, std::convert::Infallible>(islet_kafka::dead_letter::record(rejection))
        },
    )
    .rebuild_producer_with(factory());
    let published = [("alerts", alert_relay.metrics()), ("dead-letters", dead_letter_relay.metrics())];
    let until = |stopped: &watch::Receiver<bool>| {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let mut tasks =
        vec![tokio::spawn(alert_relay.run(until(stopped))), tokio::spawn(dead_letter_relay.run(until(stopped)))];
    let (state, pool) = (state.clone(), pool);
    let mut stop = stopped.clone();
    tasks.push(tokio::spawn(async move {
        let outboxes: (AlertOutbox, DeadLetterOutbox) = (Outbox::new(pool.clone()), Outbox::new(pool));
        let mut seen = [0u64; 2];
        loop {
            // Wall time: the age is operational, not clinical (ISLET_CLOCK may be fixed).
            let now = time::OffsetDateTime::now_utc();
            for (i, (label, backlog)) in
                [("alerts", outboxes.0.backlog().await), ("dead-letters", outboxes.1.backlog().await)]
                    .into_iter()
                    .enumerate()
            {
                let labels = OutboxLabels { outbox: label };
                if let Ok(b) = backlog {
                    state.metrics.outbox_pending.get_or_create(&labels).set(b.unpublished);
                    state.metrics.outbox_oldest_age.get_or_create(&labels).set(b.oldest_age(now).as_secs_f64());
                }
                let total = published[i].1.published.load(Ordering::Relaxed);
                state.metrics.published.get_or_create(&labels).inc_by(total - seen[i]);
                seen[i] = total;
            }
            tokio::select! {
                _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }));
    Ok(tasks)
}
