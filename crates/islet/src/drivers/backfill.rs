//! `islet replay --database-url URL FILE`: loads a file into PostgreSQL
//! through the same ingest path as the service, one transaction per batch,
//! with the file position (and a fingerprint of the consumed prefix)
//! committed in the same transaction.
//!
//! - `--resume` continues after the last committed line, after checking that
//!   the file still starts with the bytes that were committed; without it
//!   every line is applied again, which doubles nothing (stored versions are
//!   duplicates, rejections are kept once), it is only slower.
//! - A batch PostgreSQL refuses because of what it carries (not because of
//!   the connection) is split until the one message responsible is found;
//!   that message is rejected (`store-refused`, named by line and resource)
//!   and the load goes on. Transient errors are retried with backoff.
//! - A last line without a newline that is not complete JSON (a file still
//!   being written) is not consumed: `--resume` reads it once it is complete.

use super::commit::commit_isolating;
use super::lines::Lines;
use super::replay::panic_text;
use super::{frame_lines, FrameError, IncompleteLastLine, ResumeAt};
use islet_engine::ingest::{Batch, BatchLimits, Rejection, Source, Stats};
use islet_engine::Engine;
use islet_guideline::Instant;
use islet_store::retry::{with_retry, Backoff};
use islet_store::{PgStore, StoreError};
use std::io::BufReader;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// Evaluate at this instant; default: the latest clinical time in the file.
    pub at: Option<Instant>,
    pub batch_size: usize,
    /// Continue after the last committed line of this file.
    pub resume: bool,
    pub backoff: Backoff,
    /// Clinical times after this are implausible.
    pub horizon: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: FrameError },
    #[error("opening {path}: {source}")]
    Open { path: String, source: std::io::Error },
    #[error("{path} has resources but no clinical time to evaluate at: give --at")]
    NoClinicalTime { path: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the reader thread failed: {0}")]
    ReaderPanicked(String),
}

#[derive(Debug, Default)]
pub struct BackfillOutcome {
    pub at: Option<Instant>,
    /// The first line read (after `--resume`, the line after the last committed one).
    pub first_line: u64,
    pub stats: Stats,
    /// A last line left unconsumed because it is incomplete.
    pub held_back: Option<u64>,
}

/// The source name under which a file's position is kept.
pub fn source_of(path: &Path) -> Source {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Source::file(format!("file:{}", canonical.display()))
}

fn open(path: &Path) -> Result<BufReader<std::fs::File>, BackfillError> {
    std::fs::File::open(path)
        .map(|f| BufReader::with_capacity(1 << 20, f))
        .map_err(|source| BackfillError::Open { path: path.display().to_string(), source })
}

/// Loads `path` into `store`, calling `on_rejection` for every rejection as
/// it is committed (each is also stored in the `rejection` table).
pub async fn backfill(
    engine: &Engine,
    store: &PgStore,
    path: &Path,
    opts: &BackfillOptions,
    on_rejection: &mut (dyn FnMut(&Rejection) + Send),
) -> Result<BackfillOutcome, BackfillError> {
    let read_err = |source| BackfillError::Read { path: path.display().to_string(), source };
    let source = source_of(path);
    let limits = BatchLimits { max_messages: opts.batch_size };
    let at = match opts.at {
        Some(at) => at,
        None => {
            // The whole file decides the default instant, also on resume.
            let mut latest = None;
            let mut resources = 0;
            let mut batcher = engine.batcher(limits, opts.horizon);
            let reader = Lines::new(open(path)?);
            frame_lines(reader, &source, &mut batcher, None, IncompleteLastLine::HoldBack, |b| {
                latest = latest.max(b.latest_clinical_time);
                resources += b.ingest_stats().resources;
                true
            })
            .map_err(read_err)?;
            match latest {
                // In UTC: the latest time keeps its resource's offset, and the
                // instant's calendar date must not depend on which one it was.
                Some(t) => t.to_offset(time::UtcOffset::UTC),
                None if resources > 0 => {
                    return Err(BackfillError::NoClinicalTime { path: path.display().to_string() })
                }
                // Only blank or rejected lines: their rejections are still stored.
                None => opts.horizon,
            }
        }
    };
    let resume = if opts.resume {
        let name = source.name().to_owned();
        let position = with_retry("read position", &opts.backoff, || {
            let (store, name) = (store.clone(), name.clone());
            async move { store.position(&name, 0).await }
        })
        .await?;
        position.map(|p| ResumeAt { next_line: p.next_offset.max(1) as u64, fingerprint: p.fingerprint })
    } else {
        None
    };
    let mut outcome =
        BackfillOutcome { at: Some(at), first_line: resume.map_or(1, |r| r.next_line), ..Default::default() };

    // Decoding runs on its own thread, a batch or two ahead, while the
    // previous batch's transaction is in PostgreSQL: the two overlap on two cores.
    let (sender, mut batches) = tokio::sync::mpsc::channel::<Batch>(2);
    let lines = Lines::new(open(path)?).fingerprinted();
    let mut batcher = engine.batcher(limits, opts.horizon).keep_bytes(true);
    let reader = std::thread::spawn(move || {
        frame_lines(lines, &source, &mut batcher, resume, IncompleteLastLine::HoldBack, |batch| {
            sender.blocking_send(batch).is_ok()
        })
    });
    let mut failed = None;
    while let Some(batch) = batches.recv().await {
        match commit_isolating(engine, store, batch, at, &opts.backoff, on_rejection).await.map(|(_, stats)| stats) {
            Ok(stats) => outcome.stats += &stats,
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    // Unblock the reader (its next send fails) before joining it.
    drop(batches);
    let read = reader.join();
    if let Some(e) = failed {
        return Err(e.into());
    }
    match read {
        Ok(Ok(end)) => outcome.held_back = end.held_back,
        Ok(Err(e)) => return Err(read_err(e)),
        Err(panic) => return Err(BackfillError::ReaderPanicked(panic_text(panic))),
    }
    Ok(outcome)
}
