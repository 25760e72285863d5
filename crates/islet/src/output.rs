//! Writing to stdout and stderr when the reader may go away.
//!
//! `islet check F 2>&1 | head -1` or `islet replay … | head -n 3` close the
//! pipe early. Rust ignores SIGPIPE, so a write then fails with `BrokenPipe`:
//! that is a normal end of output, never a crash — and never a reason to stop
//! a load half-way (a durable load keeps its rejections in the database, so
//! stderr is a convenience). Other write errors are real and reported.

use std::io::{self, Write};

/// A line-oriented writer that goes quiet once its reader is gone.
pub struct Printer<W: Write> {
    out: W,
    closed: bool,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W) -> Self {
        Printer { out, closed: false }
    }

    /// Has the reader gone away (further output is dropped)?
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Writes `value` as one JSON line.
    pub fn json_line(&mut self, value: &impl serde::Serialize) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
        line.push(b'\n');
        self.write(&line)
    }

    /// Writes `text` and a newline.
    pub fn text_line(&mut self, text: &str) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let mut line = Vec::with_capacity(text.len() + 1);
        line.extend_from_slice(text.as_bytes());
        line.push(b'\n');
        self.write(&line)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.out.flush();
        self.absorb(result)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let result = self.out.write_all(bytes);
        self.absorb(result)
    }

    fn absorb(&mut self, result: io::Result<()>) -> io::Result<()> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// Standard output, buffered.
pub fn stdout() -> Printer<io::BufWriter<io::Stdout>> {
    Printer::new(io::BufWriter::with_capacity(1 << 16, io::stdout()))
}

/// Standard error (line by line: rejections appear as they are found).
pub fn stderr() -> Printer<io::Stderr> {
    Printer::new(io::stderr())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Gone;
    impl Write for Gone {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_output_quietly() {
        let mut p = Printer::new(Gone);
        assert!(p.json_line(&1).is_ok());
        assert!(p.is_closed());
        assert!(p.text_line("more").is_ok());
        assert!(p.flush().is_ok());
    }

    #[test]
    fn other_write_errors_are_reported() {
        let mut p = Printer::new(Full);
        assert!(p.text_line("x").is_err());
        assert!(!p.is_closed());
    }
}
