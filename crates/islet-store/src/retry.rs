//! Connection loss and restarts: which errors are worth retrying, and the backoff.

use crate::StoreError;
use std::future::Future;
use std::time::Duration;

/// A failure of the connection or the server (not of the data or the SQL):
/// retrying the whole transaction later can succeed.
pub fn is_transient(e: &StoreError) -> bool {
    match e {
        StoreError::Db(e) => match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                // 08: connection exception; 57P01-03: admin / crash shutdown,
                // cannot connect now; 40001 / 40P01: serialization, deadlock;
                // 53300: too many connections.
                c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300")
            }),
            _ => false,
        },
        StoreError::Migrate(_) | StoreError::Corrupt(_) | StoreError::Connect(_) => false,
    }
}

/// The server refused what a batch carries (not the connection): a data
/// exception (SQLSTATE class 22, e.g. a character it cannot store), a
/// program limit (54, e.g. nesting too deep) or a constraint (23). Retrying
/// the same batch cannot help; the driver splits the batch to find the
/// message responsible and rejects it.
pub fn is_data_error(e: &StoreError) -> bool {
    match e {
        StoreError::Db(sqlx::Error::Database(db)) => {
            db.code().is_some_and(|c| c.starts_with("22") || c.starts_with("54") || c.starts_with("23"))
        }
        StoreError::Db(sqlx::Error::Encode(_)) => true,
        _ => false,
    }
}

/// The SQLSTATE of a database error, for a rejection reason (the server's
/// message may quote the data, so it is not repeated).
pub fn sqlstate(e: &StoreError) -> Option<String> {
    match e {
        StoreError::Db(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Exponential backoff: 100 ms doubling to `max`, for at most `deadline` in total.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub deadline: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { first: Duration::from_millis(100), max: Duration::from_secs(5), deadline: Duration::from_secs(300) }
    }
}

/// Runs `attempt` until it succeeds, fails permanently, or the backoff's
/// deadline passes. Each retry logs one line saying what failed and when the
/// next try is. `attempt` must be a whole transaction: a failed one committed
/// nothing, so nothing was acknowledged.
pub async fn with_retry<T, F, Fut>(what: &str, backoff: &Backoff, mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let started = std::time::Instant::now();
    let mut wait = backoff.first;
    let mut tries = 1u32;
    loop {
        match attempt().await {
            Ok(v) => {
                if tries > 1 {
                    tracing::info!(what, tries, "succeeded after retrying");
                }
                return Ok(v);
            }
            Err(e) if is_transient(&e) && started.elapsed() + wait < backoff.deadline => {
                tracing::warn!(what, tries, retry_in_ms = wait.as_millis() as u64, error = %e, "transient database error; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(backoff.max);
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
