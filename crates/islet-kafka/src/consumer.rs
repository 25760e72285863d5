//! The input topics' consumer: one member of a consumer group, polled on a
//! thread of its own, handing [`Event`]s to the driver through a bounded
//! channel.
//!
//! **Assignment.** librdkafka's default rebalance would assign first with the
//! offsets Kafka stored and leave a seek for later (which races, and reads
//! back offsets Islet wrote for lag tools only). Here the rebalance callback
//! asks the [`PositionLookup`] (PostgreSQL) for every assigned partition and
//! assigns once with those offsets; a partition never consumed starts where
//! `auto.offset.reset` says (the beginning by default), never at a Kafka
//! committed offset. The callback runs on the poll thread, so the lookup may
//! block; while PostgreSQL cannot answer it retries, and nothing is consumed
//! from a wrong offset.
//!
//! **Revocation** is an [`Event::Revoked`] in the same channel, after every
//! record of those partitions handed over before it: the driver drops them
//! from its unfinished batch (the batch fence in PostgreSQL keeps a record
//! applied once even if it does not).
//!
//! **Staying in the group.** The thread keeps polling whatever the driver
//! does: when the channel is full it pauses the partitions and polls for
//! rebalances and heartbeats only, and [`KafkaSource::pause_all`] (PostgreSQL
//! down) does the same, so `max.poll.interval.ms` never expires. A paused
//! partition resumes at the record after the last one handed over
//! (librdkafka drops what it prefetched and fetches again from there).

use crate::log;
use crate::{merge_properties, SettingsError};
use islet_engine::ingest::FramingError;
use islet_engine::{Batch, Batcher, Message, Origin, Source, SourcePosition};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Why a lookup failed (it is retried).
pub type LookupError = Box<dyn std::error::Error + Send + Sync>;

/// Where a partition's consumption stands in the database.
pub trait PositionLookup: Send + 'static {
    /// The next offset to read of `(topic, partition)`, as committed with the
    /// state it produced; `None` when nothing of it was ever committed.
    /// Called on the poll thread during a rebalance: it may block.
    fn next_offset(&mut self, topic: &str, partition: i32) -> Result<Option<i64>, LookupError>;
}

impl<F> PositionLookup for F
where
    F: FnMut(&str, i32) -> Result<Option<i64>, LookupError> + Send + 'static,
{
    fn next_offset(&mut self, topic: &str, partition: i32) -> Result<Option<i64>, LookupError> {
        self(topic, partition)
    }
}

/// The consumer's settings.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// `bootstrap.servers`: `host:port[,host:port…]`.
    pub brokers: String,
    pub group_id: String,
    pub topics: Vec<String>,
    /// librdkafka properties passed through (SASL, TLS, session timeout…).
    /// `enable.auto.commit` and `enable.auto.offset.store` must stay `false`;
    /// the cooperative assignment protocols are not supported (the rebalance
    /// callback assigns whole assignments).
    pub properties: BTreeMap<String, String>,
    /// Events buffered between the poll thread and the driver.
    pub channel_capacity: usize,
}

impl ConsumerSettings {
    pub fn new(brokers: impl Into<String>, group_id: impl Into<String>, topics: Vec<String>) -> ConsumerSettings {
        ConsumerSettings {
            brokers: brokers.into(),
            group_id: group_id.into(),
            topics,
            properties: BTreeMap::new(),
            channel_capacity: 10_000,
        }
    }

    fn client_config(&self) -> Result<(rdkafka::ClientConfig, Offset), SettingsError> {
        if self.brokers.trim().is_empty() {
            return Err(SettingsError::Missing("no Kafka brokers given"));
        }
        if self.group_id.trim().is_empty() {
            return Err(SettingsError::Missing("no Kafka consumer group id given"));
        }
        if self.topics.is_empty() {
            return Err(SettingsError::Missing("no input topics given"));
        }
        for (name, bad) in [("partition.assignment.strategy", "cooperative"), ("group.protocol", "consumer")] {
            if let Some(value) = self.properties.get(name).filter(|v| v.contains(bad)) {
                return Err(SettingsError::Property {
                    name: name.into(),
                    problem: format!("{value} assigns incrementally; Islet assigns whole assignments (eager protocol)"),
                });
            }
        }
        let defaults = [("auto.offset.reset", "earliest"), ("enable.partition.eof", "false")];
        let fixed = [
            ("bootstrap.servers", self.brokers.as_str()),
            ("group.id", self.group_id.as_str()),
            // Positions live in PostgreSQL; Kafka's are written by commit_to_kafka only.
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
        ];
        let config = merge_properties(&defaults, &fixed, &self.properties)?;
        let start = match config.get("auto.offset.reset") {
            Some("earliest" | "smallest" | "beginning") => Offset::Beginning,
            Some("latest" | "largest" | "end") => Offset::End,
            other => {
                return Err(SettingsError::Property {
                    name: "auto.offset.reset".into(),
                    problem: format!(
                        "{} is not accepted: a partition without a stored position starts at earliest or latest",
                        other.unwrap_or("")
                    ),
                })
            }
        };
        Ok((config, start))
    }
}

/// One record of an input topic, owned (it crosses threads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub origin: Origin,
    /// `None`: a record without value (a tombstone).
    pub value: Option<Vec<u8>>,
    pub key: Option<Vec<u8>>,
    /// The record's timestamp, ms since the epoch.
    pub timestamp_ms: Option<i64>,
}

/// The rejection code of a record with no value, or only whitespace.
pub const EMPTY_RECORD: &str = "empty-record";

impl Record {
    /// The record as the batcher reads it.
    pub fn message(&self) -> Message<'_> {
        let mut message = Message::new(self.origin.clone(), self.value.as_deref().unwrap_or_default());
        message.key = self.key.as_deref();
        message.timestamp_ms = self.timestamp_ms;
        message
    }

    /// Why the record is not a message at all: it has no value, or only
    /// whitespace. (A blank line of a file is skipped; a Kafka record was sent
    /// on purpose, so an empty one is rejected and reaches the dead letters.)
    pub fn framing_error(&self) -> Option<FramingError> {
        match &self.value {
            None => Some(FramingError {
                code: EMPTY_RECORD,
                reason: "the record has no value (a tombstone): there is no message to read".into(),
            }),
            Some(v) if v.iter().all(u8::is_ascii_whitespace) => Some(FramingError {
                code: EMPTY_RECORD,
                reason: format!("the record's value is empty ({} bytes of whitespace)", v.len()),
            }),
            Some(_) => None,
        }
    }

    /// Adds the record to `batcher`, rejected when it has no usable value;
    /// returns a full batch when it filled one.
    pub fn push_to(&self, batcher: &mut Batcher) -> Option<Batch> {
        match self.framing_error() {
            Some(error) => batcher.push_unframed(self.message(), error),
            None => batcher.push(self.message()),
        }
    }
}

/// A partition assigned to this member, and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    pub topic: String,
    pub partition: i32,
    /// The next offset stored in the database; `None`: `auto.offset.reset`.
    pub next_offset: Option<i64>,
}

/// What the consumer hands over, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Record(Record),
    /// This member's whole assignment now (the eager protocol revokes
    /// everything first).
    Assigned(Vec<Assigned>),
    /// These partitions are no longer this member's: drop their records from
    /// the unfinished batch.
    Revoked(Vec<(String, i32)>),
    /// librdkafka gave up (a fatal client error): the source stopped.
    Fatal(String),
}

/// Rebalances seen (`islet_rebalances_total{event}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebalanceCounts {
    pub assigned: u64,
    pub revoked: u64,
    pub errors: u64,
}

/// One assigned partition's offsets in the broker (lag = `high` − the
/// database's next offset; tansu's memory build misreports `high`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermarks {
    pub topic: String,
    pub partition: i32,
    pub low: i64,
    pub high: i64,
}

/// The group member. Dropping it stops the thread, which leaves the group.
pub struct KafkaSource {
    /// Taken out on close, so the poll thread holds the last reference and
    /// closes the consumer there.
    consumer: Option<Arc<BaseConsumer<Context>>>,
    events: mpsc::Receiver<Event>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Failures of [`KafkaSource::start`].
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("subscribing to {topics:?}: {source}")]
    Subscribe { topics: Vec<String>, source: KafkaError },
    #[error("starting the poll thread: {0}")]
    Thread(std::io::Error),
}

impl KafkaSource {
    /// Joins the group and starts polling. Partitions start where `lookup` says.
    pub fn start(settings: &ConsumerSettings, lookup: impl PositionLookup) -> Result<KafkaSource, StartError> {
        let (config, start) = settings.client_config()?;
        let context = Context {
            lookup: Mutex::new(Box::new(lookup)),
            start,
            state: Mutex::new(State::default()),
            handed: Mutex::new(VecDeque::new()),
            counts: Counts::default(),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let consumer: BaseConsumer<Context> =
            config.create_with_context(context).map_err(|e| SettingsError::Client(e.to_string()))?;
        let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|source| StartError::Subscribe { topics: settings.topics.clone(), source })?;
        let consumer = Arc::new(consumer);
        let (tx, events) = mpsc::channel(settings.channel_capacity.max(1));
        let polled = consumer.clone();
        let thread = std::thread::Builder::new()
            .name("kafka-poll".into())
            .spawn(move || poll_loop(polled, tx))
            .map_err(StartError::Thread)?;
        Ok(KafkaSource { consumer: Some(consumer), events, thread: Some(thread) })
    }

    /// The next event; `None` once the source stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Up to `limit` events at once (waits for the first); 0 once the source stopped.
    pub async fn recv_many(&mut self, buffer: &mut Vec<Event>, limit: usize) -> usize {
        self.events.recv_many(buffer, limit).await
    }

    /// An event if one waits.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    fn consumer(&self) -> &BaseConsumer<Context> {
        self.consumer.as_ref().expect("the consumer lives until close")
    }

    /// Stops fetching from every assigned partition (and from partitions
    /// assigned later) until [`KafkaSource::resume_all`]; the member keeps
    /// polling, so it stays in the group. Events already fetched still come.
    pub fn pause_all(&self) -> Result<(), KafkaError> {
        let consumer = self.consumer();
        let mut state = consumer.context().state();
        let was = state.paused();
        state.user_paused = true;
        if !was {
            pause(consumer, &state.assigned)?;
        }
        Ok(())
    }

    /// Fetches again, from the record after the last one handed over.
    pub fn resume_all(&self) -> Result<(), KafkaError> {
        let consumer = self.consumer();
        let mut state = consumer.context().state();
        state.user_paused = false;
        if !state.paused() {
            resume(consumer, &state.assigned)?;
        }
        Ok(())
    }

    /// Writes these positions (committed in PostgreSQL just before) as the
    /// group's Kafka offsets, for lag tools; Islet never reads them back.
    /// Partitions no longer assigned are left out (their new owner commits
    /// them); failures are logged by the commit callback.
    pub fn commit_to_kafka(&self, positions: &[SourcePosition]) -> Result<(), KafkaError> {
        let consumer = self.consumer();
        let mut list = TopicPartitionList::new();
        {
            let state = consumer.context().state();
            for p in positions {
                if state.assigned.contains(&(p.source.clone(), p.partition)) {
                    list.add_partition_offset(&p.source, p.partition, Offset::Offset(p.next_offset))?;
                }
            }
        }
        if list.count() == 0 {
            return Ok(());
        }
        consumer.commit(&list, CommitMode::Async)
    }

    /// The partitions assigned to this member now.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        self.consumer().context().state().assigned.iter().cloned().collect()
    }

    /// Whether [`KafkaSource::pause_all`] is in effect.
    pub fn is_paused(&self) -> bool {
        self.consumer().context().state().user_paused
    }

    /// The broker's offsets of every assigned partition. Blocks (one request
    /// per partition, each up to `timeout`): call it from a blocking task.
    pub fn watermarks(&self, timeout: Duration) -> Result<Vec<Watermarks>, KafkaError> {
        let consumer = self.consumer();
        self.assignment()
            .into_iter()
            .map(|(topic, partition)| {
                let (low, high) = consumer.fetch_watermarks(&topic, partition, timeout)?;
                Ok(Watermarks { topic, partition, low, high })
            })
            .collect()
    }

    pub fn rebalances(&self) -> RebalanceCounts {
        let c = &self.consumer().context().counts;
        RebalanceCounts {
            assigned: c.assigned.load(Ordering::Relaxed),
            revoked: c.revoked.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        }
    }

    /// Leaves the group (the partitions are revoked and reassigned to the
    /// other members at once) and stops the poll thread.
    pub async fn close(mut self) {
        if let Some(thread) = self.shut_down() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    fn shut_down(&mut self) -> Option<std::thread::JoinHandle<()>> {
        if let Some(consumer) = self.consumer.take() {
            consumer.context().stop.store(true, Ordering::SeqCst);
        }
        self.thread.take()
    }
}

impl Drop for KafkaSource {
    fn drop(&mut self) {
        // The thread closes the consumer itself; not waited for here (drop may
        // run on an async worker).
        self.shut_down();
    }
}

fn pause(consumer: &BaseConsumer<Context>, partitions: &BTreeSet<(String, i32)>) -> Result<(), KafkaError> {
    if partitions.is_empty() {
        return Ok(());
    }
    consumer.pause(&list_of(partitions))
}

fn resume(consumer: &BaseConsumer<Context>, partitions: &BTreeSet<(String, i32)>) -> Result<(), KafkaError> {
    if partitions.is_empty() {
        return Ok(());
    }
    consumer.resume(&list_of(partitions))
}

fn list_of(partitions: &BTreeSet<(String, i32)>) -> TopicPartitionList {
    let mut list = TopicPartitionList::with_capacity(partitions.len());
    for (topic, partition) in partitions {
        list.add_partition(topic, *partition);
    }
    list
}

#[derive(Default)]
struct State {
    assigned: BTreeSet<(String, i32)>,
    /// Paused by the driver.
    user_paused: bool,
    /// Paused by the poll thread: the channel is full.
    flow_paused: bool,
}

impl State {
    fn paused(&self) -> bool {
        self.user_paused || self.flow_paused
    }
}

#[derive(Default)]
struct Counts {
    assigned: AtomicU64,
    revoked: AtomicU64,
    errors: AtomicU64,
}

struct Context {
    lookup: Mutex<Box<dyn PositionLookup>>,
    /// Where a partition without a stored position starts.
    start: Offset,
    /// Assignment and pause flags, changed together (one lock).
    state: Mutex<State>,
    /// Events of the rebalance callback, for the poll thread to hand over.
    handed: Mutex<VecDeque<Event>>,
    counts: Counts,
    stop: Arc<AtomicBool>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these plain values half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Context {
    fn state(&self) -> MutexGuard<'_, State> {
        locked(&self.state)
    }

    /// The stored next offsets, retried until the lookup answers (nothing may
    /// be consumed from a wrong offset) or the source stops (`None`).
    fn positions(&self, partitions: &[(String, i32)]) -> Option<Vec<Option<i64>>> {
        let mut wait = Duration::from_millis(100);
        loop {
            let mut lookup = locked(&self.lookup);
            let found: Result<Vec<Option<i64>>, LookupError> =
                partitions.iter().map(|(t, p)| lookup.next_offset(t, *p)).collect();
            drop(lookup);
            match found {
                Ok(offsets) => return Some(offsets),
                Err(e) if !self.stop.load(Ordering::SeqCst) => {
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64,
                        "cannot read the assigned partitions' positions; retrying before assigning");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(_) => return None,
            }
        }
    }

    fn assign(&self, consumer: &BaseConsumer<Self>, offered: &TopicPartitionList) {
        let partitions: Vec<(String, i32)> =
            offered.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect();
        let Some(offsets) = self.positions(&partitions) else {
            // Stopping: take nothing (the close revokes this assignment anyway).
            let _ = consumer.assign(&TopicPartitionList::new());
            return;
        };
        let mut list = TopicPartitionList::with_capacity(partitions.len());
        let mut assigned = Vec::with_capacity(partitions.len());
        for ((topic, partition), next) in partitions.iter().zip(offsets) {
            let next = match next {
                Some(n) if n < 0 => {
                    tracing::error!(
                        topic,
                        partition,
                        next_offset = n,
                        "stored position is negative; starting as auto.offset.reset says"
                    );
                    None
                }
                other => other,
            };
            let offset = next.map_or(self.start, Offset::Offset);
            if let Err(e) = list.add_partition_offset(topic, *partition, offset) {
                tracing::error!(topic, partition, error = %e, "cannot set a start offset");
            }
            assigned.push(Assigned { topic: topic.clone(), partition: *partition, next_offset: next });
        }
        let mut state = self.state();
        if let Err(e) = consumer.assign(&list) {
            self.counts.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "assigning the partitions failed");
            return;
        }
        state.assigned = partitions.into_iter().collect();
        if state.paused() {
            if let Err(e) = pause(consumer, &state.assigned) {
                tracing::error!(error = %e, "pausing the new assignment failed");
            }
        }
        drop(state);
        self.counts.assigned.fetch_add(1, Ordering::Relaxed);
        tracing::info!(partitions = assigned.len(), "partitions assigned at their stored positions");
        locked(&self.handed).push_back(Event::Assigned(assigned));
    }

    fn revoke(&self, consumer: &BaseConsumer<Self>) {
        let mut state = self.state();
        let revoked: Vec<(String, i32)> = std::mem::take(&mut state.assigned).into_iter().collect();
        if let Err(e) = consumer.unassign() {
            tracing::error!(error = %e, "unassigning the revoked partitions failed");
        }
        drop(state);
        self.counts.revoked.fetch_add(1, Ordering::Relaxed);
        tracing::info!(partitions = revoked.len(), lost = consumer.assignment_lost(), "partitions revoked");
        locked(&self.handed).push_back(Event::Revoked(revoked));
    }
}

impl rdkafka::ClientContext for Context {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, facility: &str, message: &str) {
        log::log("consumer", level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        log::error("consumer", &error, reason);
    }
}

impl ConsumerContext for Context {
    /// Replaces librdkafka's assign-then-seek: one assign at the stored positions.
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, offered: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, offered),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer),
            other => {
                self.counts.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = ?other, "rebalance failed; dropping the assignment");
                self.revoke(consumer);
            }
        }
    }

    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            // Lag tools only: a failed commit costs nothing but a stale lag figure.
            tracing::debug!(error = %e, "committing offsets to Kafka (for lag tools) failed");
        }
    }
}

/// How long one poll waits: the stop flag's latency when idle.
const POLL: Duration = Duration::from_millis(100);
/// How long one poll waits while events wait for room in the channel.
const POLL_BLOCKED: Duration = Duration::from_millis(10);

/// The poll thread: polls, hands events over in order, pauses the partitions
/// while the channel is full, and closes the consumer at the end (leaving the
/// group) — it holds the last reference then.
fn poll_loop(consumer: Arc<BaseConsumer<Context>>, tx: mpsc::Sender<Event>) {
    let context = consumer.context().clone();
    let mut waiting: VecDeque<Event> = VecDeque::new();
    let mut sources: HashMap<String, Source> = HashMap::new();
    let mut last_error: Option<(String, Instant)> = None;
    while !context.stop.load(Ordering::SeqCst) {
        while let Some(event) = waiting.pop_front() {
            match tx.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    waiting.push_front(event);
                    break;
                }
                // The driver is gone.
                Err(mpsc::error::TrySendError::Closed(_)) => context.stop.store(true, Ordering::SeqCst),
            }
        }
        // Pause when events wait; resume once they are handed over and the
        // channel is half empty (not at every free slot: each resume fetches again).
        let blocked = !waiting.is_empty();
        let room = tx.capacity() * 2 >= tx.max_capacity();
        {
            let mut state = context.state();
            if blocked && !state.flow_paused {
                let was = state.paused();
                state.flow_paused = true;
                if !was {
                    if let Err(e) = pause(&consumer, &state.assigned) {
                        tracing::error!(error = %e, "pausing while the driver catches up failed");
                    }
                }
            } else if !blocked && room && state.flow_paused {
                state.flow_paused = false;
                if !state.paused() {
                    if let Err(e) = resume(&consumer, &state.assigned) {
                        tracing::error!(error = %e, "resuming after the driver caught up failed");
                    }
                }
            }
        }
        match consumer.poll(if blocked { POLL_BLOCKED } else { POLL }) {
            Some(Ok(m)) => {
                let topic = m.topic();
                let source = match sources.get(topic) {
                    Some(s) => s.clone(),
                    None => sources.entry(topic.to_owned()).or_insert_with(|| Source::topic(topic)).clone(),
                };
                waiting.push_back(Event::Record(Record {
                    origin: Origin { source, partition: m.partition(), offset: m.offset() },
                    value: m.payload().map(<[u8]>::to_vec),
                    key: m.key().map(<[u8]>::to_vec),
                    timestamp_ms: m.timestamp().to_millis(),
                }));
            }
            Some(Err(KafkaError::MessageConsumptionFatal(code))) => {
                tracing::error!(error = %code, "the Kafka consumer failed fatally; stopping");
                waiting.push_back(Event::Fatal(format!("the Kafka consumer failed fatally: {code}")));
                break;
            }
            Some(Err(e)) => {
                // Transient (a broker away): logged once per kind and minute.
                let text = e.to_string();
                let repeat = last_error.as_ref().is_some_and(|(t, at)| *t == text && at.elapsed().as_secs() < 60);
                if !repeat {
                    tracing::warn!(error = %text, "Kafka consumer error (librdkafka retries)");
                    last_error = Some((text, Instant::now()));
                }
            }
            None => {}
        }
        waiting.extend(locked(&context.handed).drain(..));
    }
    // A fatal error's event still reaches the driver if it listens.
    for event in waiting.drain(..).filter(|e| matches!(e, Event::Fatal(_))) {
        let _ = tx.try_send(event);
    }
    // Dropping the last reference closes the consumer: the revocation runs
    // (the callback above) and the member leaves the group.
    drop(context);
    drop(consumer);
}

#[cfg(test)]
mod tests {
    use super::*;
    use islet_engine::BatchLimits;
    use islet_fhir::{Decoder, SiteMapping};
    use time::macros::datetime;

    fn record(value: Option<&[u8]>) -> Record {
        Record {
            origin: Origin { source: Source::topic("fhir"), partition: 3, offset: 41 },
            value: value.map(<[u8]>::to_vec),
            key: Some(b"Observation/o1".to_vec()),
            timestamp_ms: Some(1_765_000_000_123),
        }
    }

    fn batch_of(r: &Record) -> Batch {
        let mut b = Batcher::new(
            Decoder::new(SiteMapping::empty()),
            BatchLimits { max_messages: 10 },
            datetime!(2026-01-01 0:00 UTC),
        )
        .keep_bytes(true);
        assert!(r.push_to(&mut b).is_none());
        b.take()
    }

    #[test]
    fn a_record_without_value_is_rejected_not_skipped() {
        for value in [None, Some(&b""[..]), Some(&b" \n"[..])] {
            let batch = batch_of(&record(value));
            let rejections: Vec<_> = batch.rejections().collect();
            assert_eq!(rejections.len(), 1, "{value:?}");
            assert_eq!(rejections[0].code, EMPTY_RECORD);
            assert_eq!(batch.positions()[0].next_offset, 42, "its offset is consumed");
            assert_eq!(batch.items[0].key.as_deref(), Some(&b"Observation/o1"[..]));
            assert_eq!(batch.items[0].timestamp_ms, Some(1_765_000_000_123));
        }
    }

    #[test]
    fn a_record_is_decoded_with_its_coordinates() {
        let batch = batch_of(&record(Some(b"[1]")));
        let rejections: Vec<_> = batch.rejections().collect();
        assert_eq!(rejections[0].code, "not-an-object");
        assert_eq!(rejections[0].origin, Origin { source: Source::topic("fhir"), partition: 3, offset: 41 });
        assert_eq!(batch.items[0].bytes.as_deref(), Some(&b"[1]"[..]));
        assert_eq!(batch.topic_partitions(), [("fhir".to_string(), 3)]);
    }

    fn with(properties: &[(&str, &str)]) -> ConsumerSettings {
        let mut s = ConsumerSettings::new("127.0.0.1:1", "islet", vec!["fhir".into()]);
        s.properties = properties.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        s
    }

    #[test]
    fn settings_islet_relies_on_cannot_be_changed() {
        let (config, start) = with(&[("security.protocol", "ssl")]).client_config().unwrap();
        assert_eq!(config.get("enable.auto.commit"), Some("false"));
        assert_eq!(config.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(config.get("security.protocol"), Some("ssl"));
        assert_eq!(start, Offset::Beginning);
        assert!(with(&[("enable.auto.commit", "false")]).client_config().is_ok(), "repeating is fine");
        let err = with(&[("enable.auto.commit", "true")]).client_config().unwrap_err();
        assert!(err.to_string().contains("enable.auto.commit"), "{err}");
        let err = with(&[("group.id", "other")]).client_config().unwrap_err();
        assert!(err.to_string().contains("group.id"), "{err}");
        let err = with(&[("partition.assignment.strategy", "cooperative-sticky")]).client_config().unwrap_err();
        assert!(err.to_string().contains("eager"), "{err}");
        let (_, start) = with(&[("auto.offset.reset", "latest")]).client_config().unwrap();
        assert_eq!(start, Offset::End);
        assert!(with(&[("auto.offset.reset", "error")]).client_config().is_err());
        let mut no_topics = with(&[]);
        no_topics.topics.clear();
        assert!(matches!(no_topics.client_config(), Err(SettingsError::Missing(_))));
    }
}
