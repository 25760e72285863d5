//! `islet replay --database-url URL FILE`: loads a file into PostgreSQL
//! through the same engine path as the service, one transaction per batch,
//! with the file position committed in the same transaction. Re-running
//! with `resume` continues after the last committed line; re-running without
//! it re-applies every line, which duplicates nothing either (versions
//! already stored are duplicates), it is only slower.

use crate::retry::{with_retry, Backoff};
use crate::{PgStore, StoreError};
use islet_engine::replay::{decode_line, latest_of, LineRejection};
use islet_engine::{BatchStats, Engine, Item, SourcePosition};
use islet_fhir::Decoder;
use islet_guideline::Instant;
use std::io::BufRead;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// Evaluate at this instant; default: the latest clinical time in the file.
    pub at: Option<Instant>,
    pub batch_size: usize,
    /// Continue after the last committed line of this file.
    pub resume: bool,
    pub backoff: Backoff,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default)]
pub struct BackfillOutcome {
    pub at: Option<Instant>,
    pub first_line: usize,
    pub lines: usize,
    pub rejections: Vec<LineRejection>,
    pub stats: BatchStats,
}

/// The source name under which a file's position is kept.
pub fn source_name(path: &Path) -> String {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    format!("file:{}", canonical.display())
}

fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, BackfillError> {
    let f =
        std::fs::File::open(path).map_err(|source| BackfillError::Io { path: path.display().to_string(), source })?;
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
}

pub async fn backfill(
    engine: &Engine,
    store: &PgStore,
    path: &Path,
    opts: &BackfillOptions,
) -> Result<BackfillOutcome, BackfillError> {
    let io_err = |source| BackfillError::Io { path: path.display().to_string(), source };
    let source = source_name(path);
    let at = match opts.at {
        Some(at) => Some(at),
        None => {
            // The whole file decides the default instant, also on resume.
            let mut latest = None;
            for line in open(path)?.lines() {
                let line = line.map_err(io_err)?;
                if !line.trim().is_empty() {
                    latest = latest_of(latest, &engine.decode(line.as_bytes()));
                }
            }
            latest
        }
    };
    let Some(at) = at else {
        return Ok(BackfillOutcome::default());
    };
    let first_line = if opts.resume {
        let source = source.clone();
        let next = with_retry("read position", &opts.backoff, || {
            let (store, source) = (store.clone(), source.clone());
            async move { store.position(&source, 0).await }
        })
        .await?;
        next.map_or(1, |n| n.max(1) as usize)
    } else {
        1
    };

    let mut outcome = BackfillOutcome { at: Some(at), first_line, ..Default::default() };
    // Decoding runs on its own thread, a batch or two ahead, while the
    // previous batch's transaction is in PostgreSQL: the two overlap on two cores.
    let (sender, mut batches) = tokio::sync::mpsc::channel::<Result<Chunk, std::io::Error>>(2);
    let reader = open(path)?;
    let decoder = engine.decoder().clone();
    let batch_size = opts.batch_size.max(1);
    let producer = std::thread::spawn(move || read_batches(reader, &decoder, first_line, batch_size, &sender));
    while let Some(chunk) = batches.recv().await {
        let chunk = chunk.map_err(io_err)?;
        outcome.lines = chunk.lines_read;
        for r in chunk.rejections {
            eprintln!("{}", serde_json::to_string(&r).unwrap_or_default());
            outcome.rejections.push(r);
        }
        outcome.stats += commit(engine, store, &chunk.items, &source, chunk.last_line, at, &opts.backoff).await?;
    }
    let _ = producer.join();
    Ok(outcome)
}

/// A batch of decoded lines, ending at `last_line`.
struct Chunk {
    items: Vec<Item>,
    rejections: Vec<LineRejection>,
    last_line: usize,
    lines_read: usize,
}

/// Reads and decodes the file from `first_line`, `batch_size` lines a chunk.
/// Stops quietly when the receiver is gone (the load failed).
fn read_batches(
    reader: Box<dyn BufRead + Send>,
    decoder: &Decoder,
    first_line: usize,
    batch_size: usize,
    sender: &tokio::sync::mpsc::Sender<Result<Chunk, std::io::Error>>,
) {
    let mut chunk =
        Chunk { items: Vec::with_capacity(batch_size), rejections: Vec::new(), last_line: 0, lines_read: 0 };
    let mut in_chunk = 0;
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                let _ = sender.blocking_send(Err(e));
                return;
            }
        };
        chunk.lines_read = number;
        if number < first_line {
            continue;
        }
        chunk.last_line = number;
        in_chunk += 1;
        if !line.trim().is_empty() {
            let (item, rejected) = decode_line(decoder, number, &line);
            chunk.items.push(item);
            chunk.rejections.extend(rejected);
        }
        if in_chunk >= batch_size {
            let next = Chunk {
                items: Vec::with_capacity(batch_size),
                rejections: Vec::new(),
                last_line: 0,
                lines_read: number,
            };
            if sender.blocking_send(Ok(std::mem::replace(&mut chunk, next))).is_err() {
                return;
            }
            in_chunk = 0;
        }
    }
    if in_chunk > 0 {
        let _ = sender.blocking_send(Ok(chunk));
    }
}

/// One batch, retried as a whole on transient errors; its position is the
/// line after `last_line`.
async fn commit(
    engine: &Engine,
    store: &PgStore,
    batch: &[Item],
    source: &str,
    last_line: usize,
    at: Instant,
    backoff: &Backoff,
) -> Result<BatchStats, StoreError> {
    let position = SourcePosition { source: source.to_string(), partition: 0, next_offset: last_line as i64 + 1 };
    let what = format!("batch ending at line {last_line}");
    let (_, stats) = with_retry(&what, backoff, || {
        let mut store = store.clone();
        let position = position.clone();
        async move { engine.process(&mut store, batch, Some(&position), at).await }
    })
    .await?;
    Ok(stats)
}
