//! A `BufRead` wrapper that counts bytes and lines as the parser consumes them (for progress
//! and for the line/column of an error) and refuses single elements larger than a limit, so a
//! hostile file cannot make quick-xml buffer gigabytes.

use std::io::{self, BufRead, Read};

/// Newline offsets remembered, to place an error that lies a little before the read position.
const RING: usize = 256;

/// Counts what passes through.
pub(crate) struct Counting<R> {
    inner: R,
    /// Bytes consumed.
    pub(crate) bytes: u64,
    /// Newlines consumed.
    lines: u64,
    /// Offsets just after the last `RING` newlines.
    ring: [u64; RING],
    /// Bytes consumed since [`Counting::mark`].
    since_mark: u64,
    /// Most bytes between marks.
    max_between_marks: u64,
}

impl<R: BufRead> Counting<R> {
    pub(crate) fn new(inner: R, max_between_marks: u64) -> Self {
        Counting {
            inner,
            bytes: 0,
            lines: 0,
            ring: [0; RING],
            since_mark: 0,
            max_between_marks,
        }
    }

    /// Starts a new element: the size limit counts from here.
    pub(crate) fn mark(&mut self) {
        self.since_mark = 0;
    }

    /// 1-based line and column of byte `offset` (at or a little before the read position).
    pub(crate) fn line_column(&self, offset: u64) -> (u64, u64) {
        let mut line = self.lines;
        let kept = (self.lines as usize).min(RING);
        for back in 0..kept {
            let start = self.ring[(self.lines as usize - 1 - back) % RING];
            if start <= offset {
                return (line + 1, offset - start + 1);
            }
            line -= 1;
        }
        if kept < RING || self.lines == 0 {
            (1, offset + 1)
        } else {
            // Further back than remembered: the line is a lower bound's estimate.
            (line + 1, 1)
        }
    }
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.since_mark > self.max_between_marks {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("an element is larger than {} bytes", self.max_between_marks),
            ));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let taken = &buf[..amount.min(buf.len())];
            for i in memchr::memchr_iter(b'\n', taken) {
                self.ring[self.lines as usize % RING] = self.bytes + i as u64 + 1;
                self.lines += 1;
            }
        }
        self.bytes += amount as u64;
        self.since_mark += amount as u64;
        self.inner.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_follow_consumed_bytes() {
        let mut c = Counting::new(&b"ab\ncd\nefg"[..], 1 << 20);
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap();
        assert_eq!(c.bytes, 9);
        assert_eq!(c.line_column(0), (1, 1));
        assert_eq!(c.line_column(4), (2, 2));
        assert_eq!(c.line_column(8), (3, 3));
    }
}
