//! The application drivers: thin shells that move messages from a source
//! into the engine's one ingest path ([`islet_engine::ingest::Batcher`]) and
//! batches into a store. Each owns its I/O; none holds clinical logic.
//!
//! - [`replay`]: a file through the in-memory store (`islet replay`).
//! - [`check`]: a file through the decoder only (`islet check`).
//! - [`backfill`]: a file into PostgreSQL, resumable (`islet replay --database-url`).
//! - [`commit`]: one batch into PostgreSQL, isolating a message it refuses.
//! - [`scheduler`]: patients whose wake time has passed (`islet scheduler`).

pub mod backfill;
pub mod check;
pub mod clock;
pub mod commit;
pub mod lines;
pub mod replay;
pub mod scheduler;

use islet_engine::ingest::{Batch, Batcher, Fingerprint, Message, Origin, Source};
use lines::{Line, Lines};
use std::io::BufRead;

/// What to do with a last line that has no newline and is not complete JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncompleteLastLine {
    /// Reject it (nothing is kept: replay, check).
    Reject,
    /// Leave it unconsumed, so a later `--resume` reads it once it is
    /// complete (a durable load must not commit a position past it).
    HoldBack,
}

/// Where a resumed load starts, and what the file looked like up to there.
#[derive(Debug, Clone, Copy)]
pub struct ResumeAt {
    /// The first line to read (1-based).
    pub next_line: u64,
    pub fingerprint: Option<Fingerprint>,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(
        "the file is not the one loaded before: its first {bytes} bytes (up to line {line}) differ from what was \
         committed, or it is shorter; refusing to resume (load it without --resume to apply it again from the start)"
    )]
    FileChanged { bytes: u64, line: u64 },
}

/// How reading ended.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadEnd {
    /// An incomplete last line left unconsumed ([`IncompleteLastLine::HoldBack`]).
    pub held_back: Option<u64>,
}

/// Frames `lines` into `batcher`, handing each full batch (and the last,
/// partial one) to `sink`; stops early when `sink` returns false. Lines
/// before `resume.next_line` are skipped after checking the file is the
/// one whose prefix was committed.
pub fn frame_lines<R: BufRead>(
    mut lines: Lines<R>,
    source: &Source,
    batcher: &mut Batcher,
    resume: Option<ResumeAt>,
    incomplete: IncompleteLastLine,
    mut sink: impl FnMut(Batch) -> bool,
) -> Result<ReadEnd, FrameError> {
    let mut end = ReadEnd::default();
    let (next_line, expected) = resume.map_or((1, None), |r| (r.next_line.max(1), r.fingerprint));
    let mut verified = next_line == 1 || expected.is_none();
    while let Some(line) = lines.next_line()? {
        if line.number < next_line {
            if line.number + 1 == next_line {
                verified = line.fingerprint.is_some() && line.fingerprint == expected;
                if !verified {
                    return Err(FrameError::FileChanged { bytes: expected.map_or(0, |f| f.bytes), line: line.number });
                }
            }
            continue;
        }
        let Line { number, bytes, terminated: _, fingerprint } = &line;
        let message = Message { fingerprint: *fingerprint, ..Message::new(Origin::line(source, *number), bytes) };
        let full = if line.is_incomplete() {
            match incomplete {
                IncompleteLastLine::HoldBack => {
                    end.held_back = Some(*number);
                    break;
                }
                IncompleteLastLine::Reject => batcher.push_unframed(message, Line::incomplete_error()),
            }
        } else {
            batcher.push(message)
        };
        if let Some(batch) = full {
            if !sink(batch) {
                return Ok(end);
            }
        }
    }
    if !verified {
        return Err(FrameError::FileChanged { bytes: expected.map_or(0, |f| f.bytes), line: next_line - 1 });
    }
    let last = batcher.take();
    if !last.is_empty() {
        sink(last);
    }
    Ok(end)
}
