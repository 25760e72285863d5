//! The PostgreSQL store (sqlx).
//!
//! **Invariants.** One transaction per batch: resources, the patient record,
//! alerts, the change log, wake times and source positions commit together
//! or not at all. A patient row is locked (`SELECT … FOR UPDATE`, patients
//! in id order) before it is read for writing; the scheduler claims due
//! patients with `FOR UPDATE SKIP LOCKED`, so two instances never evaluate
//! one patient at once. Nothing is acknowledged (a position saved, a line
//! skipped on resume) unless the transaction that produced its state
//! committed. Migrations live in the top-level `migrations/`.
//!
//! **API.** [`connect`], [`migrate`], [`PgStore`] (implements the engine's
//! `Store`), [`scheduler`], [`backfill`] (`islet replay --database-url`),
//! [`retry`] (which errors are transient, and the backoff).

pub mod backfill;
pub mod retry;
pub mod scheduler;
pub mod test_support;
mod tx;

pub use sqlx::PgPool;
pub use tx::PgTx;

use islet_engine::{AlertChange, AlertRecord, ChangeKind};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Row;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data cannot be read back: {0}")]
    Corrupt(String),
}

/// The migrations of `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// A pool to `url` (e.g. `postgres://postgres@127.0.0.1:5432/islet`).
pub async fn connect(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)?.application_name("islet");
    Ok(PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(10)).connect_with(options).await?)
}

/// Applies pending migrations (idempotent; safe with several instances).
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// The engine's `Store` over PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub fn new(pool: PgPool) -> Self {
        PgStore { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Every current alert, sorted by patient, rule, then id (as replay prints them).
    pub async fn alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
        let rows = sqlx::query("SELECT body FROM alert ORDER BY patient_id, rule, id").fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|r| {
                let body: sqlx::types::Json<AlertRecord> = r.try_get("body")?;
                Ok(body.0)
            })
            .collect()
    }

    /// The change log in commit order.
    pub async fn change_log(&self) -> Result<Vec<AlertChange>, StoreError> {
        let rows =
            sqlx::query("SELECT at, change, cause, alert FROM alert_change ORDER BY seq").fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|r| {
                let change: String = r.try_get("change")?;
                let cause: sqlx::types::Json<islet_engine::Cause> = r.try_get("cause")?;
                let alert: sqlx::types::Json<AlertRecord> = r.try_get("alert")?;
                Ok(AlertChange {
                    at: r.try_get("at")?,
                    change: match change.as_str() {
                        "raised" => ChangeKind::Raised,
                        "updated" => ChangeKind::Updated,
                        "resolved" => ChangeKind::Resolved,
                        other => return Err(StoreError::Corrupt(format!("change kind {other:?}"))),
                    },
                    cause: cause.0,
                    alert: alert.0,
                })
            })
            .collect()
    }

    /// The next offset to read from a source, if any batch of it committed.
    pub async fn position(&self, source: &str, partition: i32) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT next_offset FROM source_position WHERE source = $1 AND partition = $2")
            .bind(source)
            .bind(partition)
            .fetch_optional(&self.pool)
            .await?)
    }
}

impl islet_engine::Store for PgStore {
    type Error = StoreError;
    type Tx<'a> = PgTx;

    async fn begin(&mut self) -> Result<PgTx, StoreError> {
        Ok(PgTx::new(self.pool.begin().await?))
    }
}
