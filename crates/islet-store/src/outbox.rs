//! The PostgreSQL side of the two outboxes: the change log (`alert_change`,
//! relayed to the alert topic) and the rejections (`rejection`, relayed to
//! the dead-letter topic). With each row the batch's transaction writes an
//! outbox row (`alert_change_outbox`, `rejection_outbox`: the `seq` and a
//! NULL `published_at`); the relay publishes the row and sets `published_at`
//! once the broker acknowledged it (the narrow outbox row, not the wide one,
//! is what a mark rewrites), so a crash loses nothing (a row published but
//! not yet marked is published again: at-least-once, with the row's `seq` as
//! the deduplication key).
//!
//! **One relay per outbox.** Whoever publishes holds a session-level advisory
//! lock ([`Outbox::try_lead`]) on a connection of its own, and reads and marks
//! rows only through that connection ([`Leader`]). The lock lives exactly as
//! long as the session: when the leader's connection drops, PostgreSQL
//! releases it and another instance takes over, and the old leader's next
//! statement fails, so it stops. Two leaders can overlap only by the batch the
//! old one had in flight when its connection was lost (it cannot mark it).
//!
//! **Order.** Rows come in `seq` order. For `alert_change` that is the commit
//! order per patient: a change's `seq` is drawn after the patient row is
//! locked, so two transactions of one patient draw theirs in commit order.
//! Rows committed late with a smaller `seq` (another patient's transaction)
//! are still found: the relay asks for what is unpublished, not for what
//! follows the last `seq` it saw.

use crate::StoreError;
use islet_engine::{AlertChange, AlertRecord, Cause, ChangeKind};
use islet_guideline::Instant;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Connection, PgConnection, PgPool, Row};
use std::marker::PhantomData;

/// The advisory-lock namespace of Islet's outboxes (`pg_try_advisory_lock(int, int)`'s
/// first key): "ISLT" in ASCII, so it cannot be mistaken for another application's.
pub const LOCK_NAMESPACE: i32 = 0x4953_4c54;

/// Which outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxKind {
    /// `alert_change` → the alert topic.
    AlertChanges,
    /// `rejection` → the dead-letter topic.
    Rejections,
}

impl OutboxKind {
    /// The table, also the outbox's name in logs and metrics.
    pub fn table(self) -> &'static str {
        match self {
            OutboxKind::AlertChanges => "alert_change",
            OutboxKind::Rejections => "rejection",
        }
    }

    /// The advisory lock's second key.
    pub fn lock_key(self) -> i32 {
        match self {
            OutboxKind::AlertChanges => 1,
            OutboxKind::Rejections => 2,
        }
    }

    /// (The outbox rows are picked first, then their rows by primary key:
    /// a join was planned as a scan of the whole change log.)
    fn unpublished_sql(self) -> &'static str {
        match self {
            OutboxKind::AlertChanges => {
                "SELECT seq, at, change, cause, alert FROM alert_change WHERE seq = ANY(ARRAY(SELECT seq \
                 FROM alert_change_outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1)) ORDER BY seq"
            }
            OutboxKind::Rejections => {
                "SELECT seq, source, partition, \"offset\", entry, resource, code, reason, message, message_key, \
                 source_time, received_at FROM rejection WHERE seq = ANY(ARRAY(SELECT seq FROM rejection_outbox \
                 WHERE published_at IS NULL ORDER BY seq LIMIT $1)) ORDER BY seq"
            }
        }
    }

    fn mark_sql(self) -> &'static str {
        match self {
            OutboxKind::AlertChanges => {
                "UPDATE alert_change_outbox SET published_at = $2 WHERE seq = ANY($1) AND published_at IS NULL"
            }
            OutboxKind::Rejections => {
                "UPDATE rejection_outbox SET published_at = $2 WHERE seq = ANY($1) AND published_at IS NULL"
            }
        }
    }

    /// The oldest is the row with the smallest `seq` (drawn in the
    /// transaction, so within one batch's apply time of the oldest commit).
    fn backlog_sql(self) -> &'static str {
        match self {
            OutboxKind::AlertChanges => {
                "SELECT (SELECT count(*) FROM alert_change_outbox WHERE published_at IS NULL) AS n, \
                 (SELECT committed_at FROM alert_change WHERE seq = (SELECT min(seq) FROM alert_change_outbox \
                 WHERE published_at IS NULL)) AS oldest"
            }
            OutboxKind::Rejections => {
                "SELECT (SELECT count(*) FROM rejection_outbox WHERE published_at IS NULL) AS n, \
                 (SELECT received_at FROM rejection WHERE seq = (SELECT min(seq) FROM rejection_outbox \
                 WHERE published_at IS NULL)) AS oldest"
            }
        }
    }
}

/// A row type of an outbox.
pub trait OutboxRow: Sized + Send + 'static {
    const KIND: OutboxKind;
    fn from_row(row: &PgRow) -> Result<Self, StoreError>;
}

impl OutboxRow for AlertChange {
    const KIND: OutboxKind = OutboxKind::AlertChanges;

    fn from_row(row: &PgRow) -> Result<Self, StoreError> {
        alert_change(row)
    }
}

/// One change-log row (`at`, `change`, `cause`, `alert`) as the engine's [`AlertChange`].
pub(crate) fn alert_change(row: &PgRow) -> Result<AlertChange, StoreError> {
    let change: String = row.try_get("change")?;
    let cause: Json<Cause> = row.try_get("cause")?;
    let alert: Json<AlertRecord> = row.try_get("alert")?;
    Ok(AlertChange {
        at: row.try_get("at")?,
        change: match change.as_str() {
            "raised" => ChangeKind::Raised,
            "updated" => ChangeKind::Updated,
            "resolved" => ChangeKind::Resolved,
            other => return Err(StoreError::Corrupt(format!("change kind {other:?}"))),
        },
        cause: cause.0,
        alert: alert.0,
    })
}

/// A stored rejection waiting for the dead-letter topic: everything the
/// dead-letter record is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRejection {
    /// The source's name: a Kafka topic, `file:<path>` or `stdin`.
    pub source: String,
    pub partition: i32,
    /// The Kafka offset, or the line number of a file.
    pub offset: i64,
    /// The Bundle entry index, when one entry was rejected.
    pub entry: Option<i32>,
    pub resource: Option<String>,
    pub code: String,
    pub reason: String,
    /// The message exactly as received (`None` when the driver did not keep it).
    pub message: Option<Vec<u8>>,
    /// The Kafka record's key.
    pub key: Option<Vec<u8>>,
    /// The Kafka record's timestamp.
    pub source_time: Option<Instant>,
    pub received_at: Instant,
}

impl OutboxRow for PendingRejection {
    const KIND: OutboxKind = OutboxKind::Rejections;

    fn from_row(row: &PgRow) -> Result<Self, StoreError> {
        Ok(PendingRejection {
            source: row.try_get("source")?,
            partition: row.try_get("partition")?,
            offset: row.try_get("offset")?,
            entry: row.try_get("entry")?,
            resource: row.try_get("resource")?,
            code: row.try_get("code")?,
            reason: row.try_get("reason")?,
            message: row.try_get("message")?,
            key: row.try_get("message_key")?,
            source_time: row.try_get("source_time")?,
            received_at: row.try_get("received_at")?,
        })
    }
}

/// What waits to be published (for metrics: `islet_outbox_pending_changes`,
/// `islet_outbox_oldest_age_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub unpublished: i64,
    /// When the oldest unpublished row was committed.
    pub oldest: Option<Instant>,
}

impl Backlog {
    /// How long the oldest unpublished row has waited at `now` (zero when none).
    pub fn oldest_age(&self, now: Instant) -> std::time::Duration {
        self.oldest.map_or(std::time::Duration::ZERO, |t| (now - t).try_into().unwrap_or_default())
    }
}

/// One outbox of the database `pool` points to.
pub struct Outbox<R> {
    pool: PgPool,
    row: PhantomData<fn() -> R>,
}

impl<R> Clone for Outbox<R> {
    fn clone(&self) -> Self {
        Outbox { pool: self.pool.clone(), row: PhantomData }
    }
}

/// The change log's outbox.
pub type AlertOutbox = Outbox<AlertChange>;
/// The rejections' outbox.
pub type DeadLetterOutbox = Outbox<PendingRejection>;

impl<R: OutboxRow> Outbox<R> {
    pub fn new(pool: PgPool) -> Self {
        Outbox { pool, row: PhantomData }
    }

    pub fn kind(&self) -> OutboxKind {
        R::KIND
    }

    /// Becomes this outbox's only relay, when no other session is: the lock is
    /// taken on a pooled connection which, when it got the lock, leaves the
    /// pool for good (the lock must never go back into the pool with it). When
    /// another instance leads (`None`), the connection goes back unchanged.
    pub async fn try_lead(&self) -> Result<Option<Leader<R>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(LOCK_NAMESPACE)
            .bind(R::KIND.lock_key())
            .fetch_one(&mut *conn)
            .await?;
        Ok(locked.then(|| Leader { conn: conn.detach(), row: PhantomData }))
    }

    /// How many rows wait, and since when (any instance may ask).
    pub async fn backlog(&self) -> Result<Backlog, StoreError> {
        let row = sqlx::query(R::KIND.backlog_sql()).fetch_one(&self.pool).await?;
        Ok(Backlog { unpublished: row.try_get("n")?, oldest: row.try_get("oldest")? })
    }
}

/// The one relay of an outbox: holds the lock for as long as it lives (or
/// until its connection is lost). Dropping it closes the connection, which
/// releases the lock.
pub struct Leader<R> {
    conn: PgConnection,
    row: PhantomData<fn() -> R>,
}

impl<R: OutboxRow> Leader<R> {
    /// Up to `limit` unpublished rows in `seq` order, with their `seq`. An
    /// error means the connection (and with it the lock) may be gone: stop
    /// leading.
    pub async fn next_unpublished(&mut self, limit: usize) -> Result<Vec<(i64, R)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query(R::KIND.unpublished_sql()).bind(limit).fetch_all(&mut self.conn).await?;
        rows.iter().map(|r| Ok((r.try_get("seq")?, R::from_row(r)?))).collect()
    }

    /// Marks these rows published at `at` (rows already marked stay as they
    /// were); returns how many were marked.
    pub async fn mark_published(&mut self, seqs: &[i64], at: Instant) -> Result<u64, StoreError> {
        if seqs.is_empty() {
            return Ok(0);
        }
        let done = sqlx::query(R::KIND.mark_sql()).bind(seqs).bind(at).execute(&mut self.conn).await?;
        Ok(done.rows_affected())
    }

    /// The server's id of the leading session (to tell it apart in `pg_stat_activity`).
    pub async fn backend_pid(&mut self) -> Result<i32, StoreError> {
        Ok(sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut self.conn).await?)
    }

    /// Stops leading: unlocks and closes the connection.
    pub async fn release(mut self) -> Result<(), StoreError> {
        let _: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1, $2)")
            .bind(LOCK_NAMESPACE)
            .bind(R::KIND.lock_key())
            .fetch_one(&mut self.conn)
            .await?;
        self.conn.close().await?;
        Ok(())
    }
}
