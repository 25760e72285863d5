//! The scheduler: re-evaluates patients whose wake time has passed, through
//! the same engine path, so a follow-up turns `due` and `overdue` without any
//! new event. Safe with several instances: patients are claimed with
//! `FOR UPDATE SKIP LOCKED`.

use super::clock::Clock;
use islet_engine::{AlertChange, Engine};
use islet_store::retry::{with_retry, Backoff};
use islet_store::{PgStore, StoreError};
use std::sync::Arc;
use std::time::Duration;

pub struct Scheduler {
    pub engine: Arc<Engine>,
    pub store: PgStore,
    pub clock: Arc<dyn Clock>,
    /// Patients per transaction.
    pub batch: usize,
    pub backoff: Backoff,
}

/// What one tick did.
#[derive(Debug, Default)]
pub struct Tick {
    /// Patients re-evaluated.
    pub claimed: usize,
    pub changes: Vec<AlertChange>,
}

impl Scheduler {
    /// Evaluates every patient due at the clock's "now", one batch per
    /// transaction, until none is left.
    pub async fn tick(&mut self) -> Result<Tick, StoreError> {
        let now = self.clock.now();
        let mut tick = Tick::default();
        loop {
            let (engine, store, batch) = (self.engine.clone(), self.store.clone(), self.batch);
            let (changes, claimed) = with_retry("scheduler batch", &self.backoff, || {
                let (engine, mut store) = (engine.clone(), store.clone());
                async move { engine.wake_due(&mut store, now, batch).await }
            })
            .await?;
            tick.claimed += claimed;
            tick.changes.extend(changes);
            // Re-evaluation always moves a patient's wake time past `now`, so
            // a short batch means nobody else is due (or another instance holds them).
            if claimed < batch {
                return Ok(tick);
            }
        }
    }

    /// Ticks every `interval` until `shutdown` resolves.
    pub async fn run(mut self, interval: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.tick().await {
                Ok(t) if !t.changes.is_empty() => tracing::info!(changes = t.changes.len(), "scheduler tick"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "scheduler tick failed; trying again next interval"),
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}
