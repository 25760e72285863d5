//! `islet check`: a file through the decoder only, reporting every
//! rejection — the same framing and batcher as replay and the load, so the
//! three agree on what is rejected.

use super::lines::Lines;
use super::{frame_lines, FrameError, IncompleteLastLine};
use islet_engine::ingest::{BatchLimits, Rejection, Source, Stats};
use islet_engine::Engine;
use islet_guideline::Instant;
use std::io::BufRead;

/// Checks `input`, calling `on_rejection` for each rejection; returns the counts.
pub fn check(
    engine: &Engine,
    input: impl BufRead,
    source: &Source,
    horizon: Instant,
    on_rejection: &mut dyn FnMut(&Rejection),
) -> Result<Stats, FrameError> {
    let mut stats = Stats::default();
    let mut batcher = engine.batcher(BatchLimits { max_messages: 1000 }, horizon);
    frame_lines(Lines::new(input), source, &mut batcher, None, IncompleteLastLine::Reject, |batch| {
        batch.rejections().for_each(|r| on_rejection(&r));
        stats += &batch.ingest_stats();
        true
    })?;
    Ok(stats)
}
