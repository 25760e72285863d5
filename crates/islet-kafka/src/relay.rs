//! The relay: moves one outbox (PostgreSQL) to its topic. A round fetches the
//! oldest unpublished rows, sends them all, waits for every delivery report,
//! and marks published exactly the rows the broker acknowledged. A row whose
//! delivery failed stays unmarked and goes out again at the next round
//! (after a backoff), so nothing is lost; a crash between the broker's
//! acknowledgement and the mark sends a row twice (consumers deduplicate on
//! the change's `seq`, or a dead letter's source coordinates and code).
//!
//! Only the outbox's leader publishes (`islet_store::outbox`): every instance
//! runs a relay, one leads, the others try to take over every few seconds.

use crate::producer::RelayProducer;
use crate::TopicRecord;
use islet_store::outbox::{Leader, Outbox, OutboxRow};
use islet_store::StoreError;
use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// The topic the outbox goes to.
    pub topic: String,
    /// Rows per round.
    pub batch_size: usize,
    /// Wait after a round that found nothing to publish.
    pub idle_wait: Duration,
    /// How often a relay that does not lead tries to.
    pub lead_retry: Duration,
    /// The longest wait after failures (it doubles from 100 ms).
    pub max_backoff: Duration,
    /// At shutdown: how long to keep publishing what is left.
    pub flush_timeout: Duration,
}

impl RelaySettings {
    pub fn new(topic: impl Into<String>) -> RelaySettings {
        RelaySettings {
            topic: topic.into(),
            batch_size: 500,
            idle_wait: Duration::from_millis(200),
            lead_retry: Duration::from_secs(2),
            max_backoff: Duration::from_secs(10),
            flush_timeout: Duration::from_secs(10),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Another instance leads this outbox.
    NotLeader,
    /// Nothing waits.
    Idle,
    /// `published` rows acknowledged and marked; `failed` left for a later round.
    Published { published: usize, failed: usize },
}

/// Counters for metrics (`islet_outbox_*`), shared with whoever exports them.
#[derive(Debug, Default)]
pub struct RelayMetrics {
    pub published: AtomicU64,
    /// Deliveries that failed (the row stays unpublished and is retried).
    pub delivery_failures: AtomicU64,
    /// Rows the render function could not turn into a record.
    pub render_failures: AtomicU64,
    pub leading: AtomicBool,
}

/// Failures that end a round; the relay backs off and tries again.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading or marking rows failed: leadership is given up (the
    /// connection may be gone, and with it the lock).
    #[error("outbox {outbox}: {source}")]
    Store { outbox: &'static str, source: StoreError },
}

/// One outbox's relay. `render` turns a row and its `seq` into the record.
/// Builds a fresh producer (see [`Relay::rebuild_producer_with`]).
pub type ProducerFactory = Box<dyn Fn() -> Result<RelayProducer, crate::SettingsError> + Send + Sync>;

/// Rounds in a row in which nothing was delivered before the producer is
/// replaced by a fresh one.
const FAILED_ROUNDS_BEFORE_REBUILD: u32 = 3;

pub struct Relay<R, F> {
    outbox: Outbox<R>,
    producer: Arc<RelayProducer>,
    factory: Option<ProducerFactory>,
    failed_rounds: u32,
    settings: RelaySettings,
    render: F,
    leader: Option<Leader<R>>,
    metrics: Arc<RelayMetrics>,
}

impl<R, F, E> Relay<R, F>
where
    R: OutboxRow,
    F: Fn(i64, &R) -> Result<TopicRecord, E>,
    E: Display,
{
    pub fn new(outbox: Outbox<R>, producer: Arc<RelayProducer>, settings: RelaySettings, render: F) -> Self {
        Relay {
            outbox,
            producer,
            factory: None,
            failed_rounds: 0,
            settings,
            render,
            leader: None,
            metrics: Arc::default(),
        }
    }

    /// After a few rounds in which no record was delivered, the relay
    /// replaces its producer with one `factory` builds. Why: a broker that
    /// restarted may have lost the idempotent producer's state (tansu's
    /// SQLite build answers every later record of the old producer id with an
    /// error, for ever), and librdkafka does not start a new producer id by
    /// itself; a fresh producer does.
    pub fn rebuild_producer_with(mut self, factory: ProducerFactory) -> Self {
        self.factory = Some(factory);
        self
    }

    pub fn metrics(&self) -> Arc<RelayMetrics> {
        self.metrics.clone()
    }

    pub fn is_leader(&self) -> bool {
        self.leader.is_some()
    }

    fn table(&self) -> &'static str {
        self.outbox.kind().table()
    }

    fn lose_leadership(&mut self, source: StoreError) -> RelayError {
        // Dropping the connection releases the lock if the server still holds it.
        self.leader = None;
        self.metrics.leading.store(false, Ordering::Relaxed);
        RelayError::Store { outbox: self.table(), source }
    }

    /// One round: lead if nobody does, then fetch, send, await, mark.
    pub async fn step(&mut self) -> Result<Step, RelayError> {
        if self.leader.is_none() {
            match self.outbox.try_lead().await {
                Ok(Some(leader)) => {
                    tracing::info!(outbox = self.table(), "leading the outbox relay");
                    self.leader = Some(leader);
                    self.metrics.leading.store(true, Ordering::Relaxed);
                }
                Ok(None) => return Ok(Step::NotLeader),
                Err(source) => return Err(RelayError::Store { outbox: self.table(), source }),
            }
        }
        let leader = self.leader.as_mut().expect("leading");
        let rows = match leader.next_unpublished(self.settings.batch_size).await {
            Ok(rows) => rows,
            Err(e) => return Err(self.lose_leadership(e)),
        };
        if rows.is_empty() {
            return Ok(Step::Idle);
        }
        let mut seqs = Vec::with_capacity(rows.len());
        let mut records = Vec::with_capacity(rows.len());
        let mut failed = 0;
        for (seq, row) in &rows {
            match (self.render)(*seq, row) {
                Ok(record) => {
                    seqs.push(*seq);
                    records.push(record);
                }
                Err(e) => {
                    failed += 1;
                    self.metrics.render_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(outbox = self.table(), seq, error = %e, "cannot render the row; it stays unpublished");
                }
            }
        }
        let results = self.producer.send_all(&self.settings.topic, &records).await;
        let mut delivered = Vec::with_capacity(seqs.len());
        let (mut undelivered, mut first_error) = (0, None);
        for (seq, result) in seqs.into_iter().zip(results) {
            match result {
                Ok(_) => delivered.push(seq),
                Err(e) => {
                    undelivered += 1;
                    first_error.get_or_insert((seq, e));
                }
            }
        }
        if delivered.is_empty() && undelivered > 0 {
            self.failed_rounds += 1;
        } else {
            self.failed_rounds = 0;
        }
        if self.failed_rounds >= FAILED_ROUNDS_BEFORE_REBUILD {
            if let Some(factory) = &self.factory {
                match factory() {
                    Ok(fresh) => {
                        tracing::warn!(
                            outbox = self.table(),
                            rounds = self.failed_rounds,
                            "nothing delivered for several rounds: replacing the producer"
                        );
                        self.producer = Arc::new(fresh);
                        self.failed_rounds = 0;
                    }
                    Err(e) => tracing::error!(outbox = self.table(), error = %e, "creating a new producer failed"),
                }
            }
        }
        if let Some((seq, error)) = first_error {
            failed += undelivered;
            self.metrics.delivery_failures.fetch_add(undelivered as u64, Ordering::Relaxed);
            tracing::warn!(outbox = self.table(), topic = self.settings.topic, undelivered, first_seq = seq, error = %error,
                "deliveries failed; those rows stay unpublished and are sent again");
        }
        let leader = self.leader.as_mut().expect("leading");
        if let Err(e) = leader.mark_published(&delivered, time::OffsetDateTime::now_utc()).await {
            return Err(self.lose_leadership(e));
        }
        self.metrics.published.fetch_add(delivered.len() as u64, Ordering::Relaxed);
        Ok(Step::Published { published: delivered.len(), failed })
    }

    /// Publishes what waits, round after round, until nothing does, another
    /// instance leads, a round fails, or `timeout` passes (shutdown). Returns
    /// how many rows were published.
    pub async fn flush(&mut self, timeout: Duration) -> usize {
        let started = Instant::now();
        let mut published = 0;
        while started.elapsed() < timeout {
            match self.step().await {
                Ok(Step::Published { published: n, failed: 0 }) => published += n,
                Ok(Step::Published { published: n, .. }) => {
                    published += n;
                    break;
                }
                Ok(Step::Idle | Step::NotLeader) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "flushing the outbox stopped");
                    break;
                }
            }
        }
        published
    }

    /// Relays until `shutdown` completes, then flushes (at most
    /// `flush_timeout`) and gives up leadership. A round in progress is
    /// finished, never abandoned half-way.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let first = Duration::from_millis(100);
        let mut backoff = first;
        loop {
            let wait = match self.step().await {
                // Some rows went out: go on at once, even if others failed (a
                // row that can never be sent must not slow down the rest).
                Ok(Step::Published { published, failed }) if failed == 0 || published > 0 => {
                    backoff = first;
                    Duration::ZERO
                }
                // Nothing went out: the broker is away, or only failing rows wait.
                Ok(Step::Published { .. }) => {
                    let wait = backoff;
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                    wait
                }
                Ok(Step::Idle) => {
                    backoff = first;
                    self.settings.idle_wait
                }
                Ok(Step::NotLeader) => self.settings.lead_retry,
                Err(e) => {
                    let wait = backoff;
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "outbox relay round failed");
                    wait
                }
            };
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        let flushed = self.flush(self.settings.flush_timeout).await;
        if let Some(leader) = self.leader.take() {
            self.metrics.leading.store(false, Ordering::Relaxed);
            if let Err(e) = leader.release().await {
                tracing::warn!(outbox = self.table(), error = %e, "releasing the outbox lead failed (the connection closes anyway)");
            }
        }
        tracing::info!(outbox = self.table(), flushed, "outbox relay stopped");
    }
}
