//! The PostgreSQL adapter (sqlx): the engine's [`Store`](islet_engine::Store)
//! over PostgreSQL, and nothing else — the drivers that use it (backfill,
//! scheduler, the service) live in the `islet` crate.
//!
//! **Invariants.** One transaction per batch: resources, the patient record,
//! alerts, the change log, rejections, wake times and source positions commit
//! together or not at all. A patient row is locked (`SELECT … FOR UPDATE`,
//! patients in id order) before it is read for writing; [`claim_due`]
//! (`FOR UPDATE SKIP LOCKED`) lets several schedulers run. Migrations live in
//! the top-level `migrations/` and are embedded.
//!
//! **API.** [`connect`] (fails fast with a clear reason on errors retrying
//! cannot fix), [`create_database_if_missing`], [`migrate`], [`PgStore`],
//! [`retry`] (which errors are transient, and the backoff).
//!
//! [`claim_due`]: islet_engine::Transaction::claim_due

pub mod action;
pub mod audit;
pub mod outbox;
pub mod read;
pub mod retry;
pub mod session;
pub mod test_support;
mod tx;

pub use sqlx::PgPool;
pub use tx::PgTx;

use islet_engine::ingest::Fingerprint;
use islet_engine::{AlertChange, AlertRecord, SourcePosition};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Row};
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
    /// Connecting failed for a reason retrying cannot fix (or not soon).
    #[error("{0}")]
    Connect(ConnectError),
}

/// Why a connection could not be made, naming the server but never the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid database URL (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)")]
    InvalidUrl,
    #[error("connection refused at {server} (is PostgreSQL running there?)")]
    Refused { server: String },
    #[error("cannot reach {server}: {problem}")]
    Unreachable { server: String, problem: String },
    #[error("database \"{database}\" does not exist at {server} (create it, e.g. with `islet migrate`)")]
    NoDatabase { server: String, database: String },
    #[error("authentication failed for user \"{user}\" at {server}")]
    Authentication { server: String, user: String },
    #[error("PostgreSQL at {server} refused the connection: {problem}")]
    Refusal { server: String, problem: String },
}

/// The migrations of `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

fn options(url: &str) -> Result<PgConnectOptions, StoreError> {
    // The parser's own message may quote the URL, password included: not shown.
    // Every statement is planned for its own arguments. A prepared
    // statement's generic plan is made once, when the tables may still be
    // nearly empty, and kept: with autovacuum off (as on this project's
    // machines) nothing ever replaces it, and a lookup of a batch's patients
    // became a scan of the whole change log per batch (seconds each at 1M
    // events). Planning costs well under a millisecond per statement.
    PgConnectOptions::from_str(url)
        .map(|o| o.application_name("islet").options([("plan_cache_mode", "force_custom_plan")]))
        .map_err(|_| StoreError::Connect(ConnectError::InvalidUrl))
}

fn server_of(o: &PgConnectOptions) -> String {
    format!("{}:{}", o.get_host(), o.get_port())
}

/// One connection attempt, classified: the errors a user must fix come back
/// at once as [`StoreError::Connect`], instead of a pool timing out minutes later.
async fn probe(o: &PgConnectOptions) -> Result<(), StoreError> {
    let server = server_of(o);
    match o.connect().await {
        Ok(conn) => {
            let _ = conn.close().await;
            Ok(())
        }
        Err(e) => Err(StoreError::Connect(match &e {
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                ConnectError::Refused { server }
            }
            sqlx::Error::Io(io) => ConnectError::Unreachable { server, problem: io.kind().to_string() },
            sqlx::Error::Tls(_) => ConnectError::Unreachable { server, problem: "TLS handshake failed".into() },
            sqlx::Error::Database(db) => match db.code().as_deref() {
                Some("3D000") => {
                    ConnectError::NoDatabase { server, database: o.get_database().unwrap_or("postgres").to_owned() }
                }
                Some("28P01" | "28000") => ConnectError::Authentication { server, user: o.get_username().to_owned() },
                _ => ConnectError::Refusal { server, problem: db.message().to_owned() },
            },
            _ => ConnectError::Unreachable { server, problem: e.to_string() },
        })),
    }
}

/// A pool of up to `max_connections` to `url` (e.g.
/// `postgres://postgres@127.0.0.1:5432/islet`). One connection is tried first,
/// so a wrong host, port, database or password fails at once with a
/// [`ConnectError`]; later connection losses are the pool's (and
/// [`retry`]'s) business.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let o = options(url)?;
    probe(&o).await?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(o))
}

/// Creates the database `url` names when it does not exist (connecting to the
/// server's `postgres` database to do so). Returns whether it was created.
pub async fn create_database_if_missing(url: &str) -> Result<bool, StoreError> {
    let o = options(url)?;
    match probe(&o).await {
        Err(StoreError::Connect(ConnectError::NoDatabase { database, .. })) => {
            let admin = o.clone().database("postgres");
            probe(&admin).await?;
            let mut conn = admin.connect().await?;
            let quoted = format!("\"{}\"", database.replace('"', "\"\""));
            let created = sqlx::query(&format!("CREATE DATABASE {quoted}")).execute(&mut conn).await;
            let _ = conn.close().await;
            match created {
                Ok(_) => Ok(true),
                // Another instance created it meanwhile.
                Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e),
        Ok(()) => Ok(false),
    }
}

/// Applies pending migrations (idempotent; safe with several instances).
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Does the server answer a query now? (Readiness; never retried.)
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}

/// The engine's `Store` over PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

/// One stored rejection (the `rejection` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRejection {
    pub source: String,
    pub partition: i32,
    pub offset: i64,
    pub entry: Option<i32>,
    pub resource: Option<String>,
    pub code: String,
    pub reason: String,
    pub message: Option<Vec<u8>>,
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
        let rows = sqlx::query(
            "SELECT c.alert AS body FROM alert a JOIN alert_change c ON c.seq = a.change_seq \
             ORDER BY a.patient_id, a.rule, a.id",
        )
        .fetch_all(&self.pool)
        .await?;
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
        rows.iter().map(outbox::alert_change).collect()
    }

    /// Where a source partition stands, if any batch of it committed.
    pub async fn position(&self, source: &str, partition: i32) -> Result<Option<SourcePosition>, StoreError> {
        let row = sqlx::query(
            "SELECT next_offset, consumed_bytes, consumed_sha256 FROM source_position \
             WHERE source = $1 AND partition = $2",
        )
        .bind(source)
        .bind(partition)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let bytes: Option<i64> = row.try_get("consumed_bytes")?;
        let sha: Option<Vec<u8>> = row.try_get("consumed_sha256")?;
        let fingerprint = match (bytes, sha) {
            (Some(bytes), Some(sha)) => Some(Fingerprint {
                bytes: bytes as u64,
                sha256: sha.try_into().map_err(|_| StoreError::Corrupt("consumed_sha256 is not 32 bytes".into()))?,
            }),
            _ => None,
        };
        Ok(Some(SourcePosition {
            source: source.to_owned(),
            partition,
            next_offset: row.try_get("next_offset")?,
            fingerprint,
        }))
    }

    /// The stored rejections of a source, in offset order.
    pub async fn rejections(&self, source: &str) -> Result<Vec<StoredRejection>, StoreError> {
        let rows = sqlx::query(
            "SELECT source, partition, \"offset\", entry, resource, code, reason, message FROM rejection \
             WHERE source = $1 ORDER BY partition, \"offset\", entry NULLS FIRST, code",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredRejection {
                    source: r.try_get("source")?,
                    partition: r.try_get("partition")?,
                    offset: r.try_get("offset")?,
                    entry: r.try_get("entry")?,
                    resource: r.try_get("resource")?,
                    code: r.try_get("code")?,
                    reason: r.try_get("reason")?,
                    message: r.try_get("message")?,
                })
            })
            .collect()
    }
}

impl islet_engine::Store for PgStore {
    type Error = StoreError;
    type Tx<'a> = PgTx;

    async fn begin(&mut self) -> Result<PgTx, StoreError> {
        Ok(PgTx::new(self.pool.begin().await?))
    }
}
