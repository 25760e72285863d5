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

/// Replays `input`. With `at` given, lines stream through in batches; without
/// it, every line is decoded first to find the latest clinical time.
pub fn replay(engine: &Engine, input: impl BufRead, opts: &ReplayOptions) -> std::io::Result<ReplayOutcome> {
    let mut store = MemStore::new(opts.changes);
    let mut rejections = Vec::new();
    let mut stats = ReplayStats::default();
    let mut batch_stats = BatchStats::default();
    let mut pending: Vec<Item> = Vec::new();
    let mut latest: Option<Instant> = None;

    for (index, line) in input.lines().enumerate() {
        let line = line?;
        let number = index + 1;
        stats.lines += 1;
        if line.trim().is_empty() {
            continue;
        }
        let (mut item, rejected) = decode_line(engine.decoder(), number, &line);
        if !rejected.is_empty() {
            stats.rejected_lines += 1;
            rejections.extend(rejected);
        }
        latest = latest_of(latest, &item.decoded);
        for change in &mut item.decoded.changes {
            if let Change::Upsert(v) = change {
                stats.resources += 1;
                // Replay keeps no audit copy; the raw JSON is for durable stores.
                v.raw = String::new();
            }
        }
        pending.push(item);
        if let Some(at) = opts.at {
            if pending.len() >= opts.batch_size.max(1) {
                batch_stats += run(engine, &mut store, &mut pending, at);
            }
        }
    }
    let at = opts.at.or(latest).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    for chunk in std::mem::take(&mut pending).chunks_mut(opts.batch_size.max(1)) {
        let mut items: Vec<Item> =
            chunk.iter_mut().map(|i| Item { arrival: i.arrival, decoded: take(&mut i.decoded) }).collect();
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

fn take(d: &mut Decoded) -> Decoded {
    Decoded { changes: std::mem::take(&mut d.changes), rejections: std::mem::take(&mut d.rejections) }
}

fn run(engine: &Engine, store: &mut MemStore, items: &mut Vec<Item>, at: Instant) -> BatchStats {
    let result = block_on(engine.process(store, items, None, at));
    items.clear();
    match result {
        Ok((_, stats)) => stats,
        Err(never) => match never {},
    }
}
