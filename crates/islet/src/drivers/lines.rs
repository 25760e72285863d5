//! NDJSON framing: a file as numbered byte lines.
//!
//! Lines are bytes, not `String`s: one invalid UTF-8 byte makes one rejected
//! line (the batcher says so), never an aborted file. A last line without a
//! newline may be a file still being written: [`Line::terminated`] says so,
//! and the drivers decide (a durable load does not consume it unless it is
//! complete JSON). With fingerprinting on, every line carries the SHA-256 of
//! the file up to its end, so a resume can tell that a file was replaced.

use islet_engine::ingest::{Fingerprint, FramingError};
use sha2::{Digest, Sha256};
use std::io::{self, BufRead};

/// One line, without its `\n` (or `\r\n`).
pub struct Line<'a> {
    /// 1-based.
    pub number: u64,
    pub bytes: &'a [u8],
    /// Ends with a newline (false only for the file's last line).
    pub terminated: bool,
    /// The file's identity up to the end of this line (with fingerprinting on).
    pub fingerprint: Option<Fingerprint>,
}

impl Line<'_> {
    /// A last line with no newline that is not a complete JSON value: the
    /// writer has not finished it.
    pub fn is_incomplete(&self) -> bool {
        !self.terminated
            && !self.bytes.iter().all(u8::is_ascii_whitespace)
            && serde_json::from_slice::<serde::de::IgnoredAny>(self.bytes).is_err()
    }

    pub fn incomplete_error() -> FramingError {
        FramingError {
            code: "incomplete-line",
            reason: "the last line has no newline and is not complete JSON (is the file still being written?)".into(),
        }
    }
}

/// Reads numbered lines from `reader`.
pub struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    number: u64,
    consumed: u64,
    hasher: Option<Sha256>,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R) -> Self {
        Lines { reader, buf: Vec::with_capacity(4096), number: 0, consumed: 0, hasher: None }
    }

    /// Also fingerprint the consumed prefix (durable loads of files).
    pub fn fingerprinted(mut self) -> Self {
        self.hasher = Some(Sha256::new());
        self
    }

    /// The next line, `None` at the end of the input.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let n = self.reader.read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        self.consumed += n as u64;
        let fingerprint = self.hasher.as_mut().map(|h| {
            h.update(&self.buf);
            Fingerprint { bytes: self.consumed, sha256: h.clone().finalize().into() }
        });
        let terminated = self.buf.last() == Some(&b'\n');
        let mut end = self.buf.len() - usize::from(terminated);
        if terminated && end > 0 && self.buf[end - 1] == b'\r' {
            end -= 1;
        }
        Ok(Some(Line { number: self.number, bytes: &self.buf[..end], terminated, fingerprint }))
    }

    /// The fingerprint of everything read so far (`None` without fingerprinting).
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.hasher.as_ref().map(|h| Fingerprint { bytes: self.consumed, sha256: h.clone().finalize().into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<(u64, Vec<u8>, bool)> {
        let mut lines = Lines::new(input);
        let mut out = Vec::new();
        while let Some(l) = lines.next_line().unwrap() {
            out.push((l.number, l.bytes.to_vec(), l.terminated));
        }
        out
    }

    #[test]
    fn numbers_lines_strips_newlines_and_keeps_invalid_bytes() {
        let got = all(b"{}\r\n\xff\xfe\n\n{\"a\":");
        assert_eq!(
            got,
            vec![
                (1, b"{}".to_vec(), true),
                (2, b"\xff\xfe".to_vec(), true),
                (3, b"".to_vec(), true),
                (4, b"{\"a\":".to_vec(), false)
            ]
        );
    }

    #[test]
    fn an_unterminated_line_is_incomplete_only_when_it_is_not_json() {
        let mut lines = Lines::new(&b"{\"a\":1}"[..]);
        assert!(!lines.next_line().unwrap().unwrap().is_incomplete());
        let mut lines = Lines::new(&b"{\"a\":"[..]);
        assert!(lines.next_line().unwrap().unwrap().is_incomplete());
        let mut lines = Lines::new(&b"{\"a\":\n"[..]);
        assert!(!lines.next_line().unwrap().unwrap().is_incomplete(), "a terminated line is a line");
    }

    #[test]
    fn fingerprints_cover_the_consumed_prefix() {
        let text = b"one\ntwo\nthree";
        let mut lines = Lines::new(&text[..]).fingerprinted();
        let first = lines.next_line().unwrap().unwrap().fingerprint.unwrap();
        assert_eq!(first.bytes, 4);
        assert_eq!(first.sha256, <[u8; 32]>::from(Sha256::digest(b"one\n")));
        lines.next_line().unwrap();
        let last = lines.next_line().unwrap().unwrap().fingerprint.unwrap();
        assert_eq!(last.bytes, text.len() as u64);
        assert_eq!(last.sha256, <[u8; 32]>::from(Sha256::digest(text)));
    }
}
