//! `islet replay`: NDJSON messages through the same engine as the service,
//! with the in-memory store and an explicit instant.

use crate::block_on::block_on;
use crate::{AlertChange, AlertRecord, BatchStats, Engine, Item, MemStore};
use islet_fhir::{Change, Decoded, Decoder};
use islet_guideline::Instant;
use serde::Serialize;
use std::io::BufRead;

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Evaluate at this instant; default: the latest clinical time seen.
    pub at: Option<Instant>,
    /// Messages per transaction, as the service batches them.
    pub batch_size: usize,
    /// Keep the change log.
    pub changes: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions { at: None, batch_size: 1000, changes: false }
    }
}

/// A line that could not be used (or part of it: a Bundle entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineRejection {
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub code: &'static str,
    pub reason: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayStats {
    pub lines: usize,
    pub resources: usize,
    pub stored: usize,
    pub duplicates: usize,
    pub stale: usize,
    pub skipped: usize,
    pub orphan_deletes: usize,
    pub rejected_lines: usize,
    pub patients: usize,
    pub alerts: usize,
}

pub struct ReplayOutcome {
    pub at: Instant,
    pub store: MemStore,
    pub rejections: Vec<LineRejection>,
    pub stats: ReplayStats,
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

/// Replays `input`. Decoding runs on its own thread, a few batches ahead of
/// the engine. With `at` given, batches go through the engine as they
/// arrive; without it, every line is decoded first to find the latest
/// clinical time. Batches are `batch_size` lines, as in the database load.
pub fn replay(engine: &Engine, input: impl BufRead + Send, opts: &ReplayOptions) -> std::io::Result<ReplayOutcome> {
    let mut store = MemStore::new(opts.changes);
    let mut rejections = Vec::new();
    let mut stats = ReplayStats::default();
    let mut batch_stats = BatchStats::default();
    let mut pending: Vec<Vec<Item>> = Vec::new();
    let mut latest: Option<Instant> = None;
    let batch_size = opts.batch_size.max(1);

    std::thread::scope(|scope| -> std::io::Result<()> {
        let (sender, chunks) = std::sync::mpsc::sync_channel::<std::io::Result<Chunk>>(4);
        let decoder = engine.decoder();
        scope.spawn(move || decode_chunks(input, decoder, batch_size, &sender));
        for chunk in chunks {
            let mut chunk = chunk?;
            stats.lines += chunk.lines;
            stats.resources += chunk.resources;
            stats.rejected_lines += chunk.rejected_lines;
            rejections.append(&mut chunk.rejections);
            latest = latest.max(chunk.latest);
            match opts.at {
                Some(at) => batch_stats += run(engine, &mut store, &mut chunk.items, at),
                None => pending.push(chunk.items),
            }
        }
        Ok(())
    })?;
    let at = opts.at.or(latest).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    for mut items in pending {
        batch_stats += run(engine, &mut store, &mut items, at);
    }
    stats.stored = batch_stats.stored;
    stats.duplicates = batch_stats.duplicates;
    stats.stale = batch_stats.stale;
    stats.skipped = batch_stats.skipped;
    stats.orphan_deletes = batch_stats.orphan_deletes;
    stats.patients = store.patients().count();
    stats.alerts = store.alerts().len();
    Ok(ReplayOutcome { at, store, rejections, stats })
}

/// `batch_size` lines, decoded.
#[derive(Default)]
struct Chunk {
    items: Vec<Item>,
    rejections: Vec<LineRejection>,
    lines: usize,
    resources: usize,
    rejected_lines: usize,
    latest: Option<Instant>,
}

/// Reads and decodes `input`, sending a chunk every `batch_size` lines.
/// Stops when the receiver is gone.
fn decode_chunks(
    input: impl BufRead,
    decoder: &Decoder,
    batch_size: usize,
    sender: &std::sync::mpsc::SyncSender<std::io::Result<Chunk>>,
) {
    let mut chunk = Chunk::default();
    for (index, line) in input.lines().enumerate() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                let _ = sender.send(Err(e));
                return;
            }
        };
        chunk.lines += 1;
        if !line.trim().is_empty() {
            let (mut item, rejected) = decode_line(decoder, index + 1, &line);
            if !rejected.is_empty() {
                chunk.rejected_lines += 1;
                chunk.rejections.extend(rejected);
            }
            chunk.latest = latest_of(chunk.latest, &item.decoded);
            for change in &mut item.decoded.changes {
                if let Change::Upsert(v) = change {
                    chunk.resources += 1;
                    // Replay keeps no audit copy; the raw JSON is for durable stores.
                    v.raw = String::new();
                }
            }
            chunk.items.push(item);
        }
        if chunk.lines >= batch_size && sender.send(Ok(std::mem::take(&mut chunk))).is_err() {
            return;
        }
    }
    if chunk.lines > 0 {
        let _ = sender.send(Ok(chunk));
    }
}

/// Decodes one line (1-based `number`): the item for the engine (arrival =
/// line number) and the line's rejections.
pub fn decode_line(decoder: &Decoder, number: usize, line: &str) -> (Item, Vec<LineRejection>) {
    let mut decoded = decoder.decode(line.as_bytes());
    let rejections = decoded
        .rejections
        .drain(..)
        .map(|r| LineRejection {
            line: number,
            entry: r.entry,
            resource: r.resource,
            code: r.reason.code(),
            reason: r.reason.to_string(),
        })
        .collect();
    (Item { arrival: number as u64, decoded }, rejections)
}

/// The later of `latest` and the clinical times in `decoded`.
pub fn latest_of(latest: Option<Instant>, decoded: &Decoded) -> Option<Instant> {
    decoded
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(v) => v.clinical_time,
            _ => None,
        })
        .fold(latest, |l, t| Some(l.map_or(t, |l| l.max(t))))
}

fn run(engine: &Engine, store: &mut MemStore, items: &mut Vec<Item>, at: Instant) -> BatchStats {
    let result = block_on(engine.process(store, items, None, at));
    items.clear();
    match result {
        Ok((_, stats)) => stats,
        Err(never) => match never {},
    }
}
