//! `islet replay`: NDJSON messages through the same engine as the service,
//! with the in-memory store and an explicit instant.

use super::lines::Lines;
use super::{frame_lines, FrameError, IncompleteLastLine};
use islet_engine::ingest::{Batch, BatchLimits, Rejection, Source, Stats};
use islet_engine::{AlertChange, AlertRecord, Engine, MemStore};
use islet_guideline::Instant;
use std::io::BufRead;

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Evaluate at this instant; default: the latest clinical time seen.
    pub at: Option<Instant>,
    /// Messages per transaction, as the service batches them.
    pub batch_size: usize,
    /// Keep the change log.
    pub changes: bool,
    /// Clinical times after this are implausible (the wall clock, or `at` when later).
    pub horizon: Instant,
}

pub struct ReplayOutcome {
    pub at: Instant,
    pub store: MemStore,
    pub stats: Stats,
}

impl ReplayOutcome {
    /// Current alerts, sorted by patient then rule.
    pub fn alerts(&self) -> Vec<&AlertRecord> {
        self.store.alerts()
    }

    pub fn changes(&self) -> &[AlertChange] {
        self.store.change_log()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("reading the input: {0}")]
    Read(#[from] FrameError),
    #[error("the input has resources but no clinical time to evaluate at: give --at")]
    NoClinicalTime,
    #[error("the reader thread failed: {0}")]
    ReaderPanicked(String),
}

/// Replays `input` (named `source`), calling `on_rejection` for every
/// rejection as it is found. Decoding runs on its own thread, a few batches
/// ahead of the engine. With `at` given, batches go through the engine as
/// they arrive; without it, every batch is decoded first to find the latest
/// clinical time.
pub fn replay(
    engine: &Engine,
    input: impl BufRead + Send,
    source: &Source,
    opts: &ReplayOptions,
    on_rejection: &mut dyn FnMut(&Rejection),
) -> Result<ReplayOutcome, ReplayError> {
    let mut store = MemStore::new(opts.changes);
    let mut stats = Stats::default();
    let mut pending: Vec<Batch> = Vec::new();
    let mut latest: Option<Instant> = None;
    let config = engine.config();

    std::thread::scope(|scope| -> Result<(), ReplayError> {
        let (sender, batches) = std::sync::mpsc::sync_channel::<Batch>(4);
        let mut batcher = engine.batcher(BatchLimits { max_messages: opts.batch_size }, opts.horizon);
        let reader = scope.spawn(move || {
            frame_lines(Lines::new(input), source, &mut batcher, None, IncompleteLastLine::Reject, |batch| {
                sender.send(batch).is_ok()
            })
        });
        for batch in batches {
            batch.rejections().for_each(|r| on_rejection(&r));
            latest = latest.max(batch.latest_clinical_time);
            match opts.at {
                Some(at) => stats += &store.process(config, &batch, at).1,
                None => pending.push(batch),
            }
        }
        match reader.join() {
            Ok(result) => result.map(|_| ()).map_err(ReplayError::from),
            Err(panic) => Err(ReplayError::ReaderPanicked(panic_text(panic))),
        }
    })?;

    let at = match (opts.at, latest) {
        (Some(at), _) => at,
        // In UTC: the latest time keeps its resource's offset, and the
        // instant's calendar date must not depend on which one it was.
        (None, Some(latest)) => latest.to_offset(time::UtcOffset::UTC),
        (None, None) => {
            let resources: u64 = pending.iter().map(|b| b.ingest_stats().resources).sum();
            if resources > 0 {
                return Err(ReplayError::NoClinicalTime);
            }
            // Nothing to evaluate: every line was blank or rejected.
            opts.horizon
        }
    };
    for batch in pending {
        stats += &store.process(config, &batch, at).1;
    }
    Ok(ReplayOutcome { at, store, stats })
}

pub(crate) fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".into())
}
