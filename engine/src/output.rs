//! Reading a script's stdout/stderr: line by line to the log channel up to a cap, then
//! drained and discarded, while watching for the messages that explain a failure.

use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc::UnboundedSender;

use super::{LogLine, Stream};

/// Lines longer than this many bytes are split into several log lines.
pub const MAX_LINE: usize = 8 * 1024;
/// Bytes of a truncated stream's end that are still scanned for failure hints.
const TAIL: usize = 16 * 1024;

/// What the output said about why a script failed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Markers {
    /// MemoryError, "Cannot allocate memory", bash's xmalloc …
    pub oom: bool,
    /// EFBIG: "File too large".
    pub file_size: bool,
    /// fork/clone refused: "Resource temporarily unavailable".
    pub nproc: bool,
    /// ENOSPC: "No space left on device" (the run's tmpfs is full: its disk cap).
    pub no_space: bool,
    /// Python's `input()` met the end of standard input: the script asked for keyboard input.
    pub keyboard: bool,
}

impl Markers {
    /// Either stream's markers.
    pub fn merge(&self, other: &Markers) -> Markers {
        Markers {
            oom: self.oom || other.oom,
            file_size: self.file_size || other.file_size,
            nproc: self.nproc || other.nproc,
            no_space: self.no_space || other.no_space,
            keyboard: self.keyboard || other.keyboard,
        }
    }

    fn scan(&mut self, line: &str) {
        if line.contains("MemoryError")
            || line.contains("Cannot allocate memory")
            || line.contains("cannot allocate memory")
            || line.contains("xmalloc")
            || line.contains("bad_alloc")
            || line.contains("out of memory")
        {
            self.oom = true;
        }
        if line.contains("File too large") {
            self.file_size = true;
        }
        if line.contains("No space left on device") {
            self.no_space = true;
        }
        if line.starts_with("EOFError: EOF when reading a line") {
            self.keyboard = true;
        }
        if line.contains("Resource temporarily unavailable")
            && (line.contains("fork") || line.contains("BlockingIOError"))
        {
            self.nproc = true;
        }
    }
}

/// One stream's totals.
#[derive(Debug, Default)]
pub struct PumpStats {
    /// Bytes delivered to the log (line bytes plus one per line).
    pub delivered: usize,
    /// The cap was reached and the rest discarded.
    pub truncated: bool,
    /// Failure hints seen anywhere in the stream (also after the cap).
    pub markers: Markers,
    /// The first line, when it is bubblewrap's own error message.
    pub bwrap_error: Option<String>,
}

struct Pump {
    stream: Stream,
    cap: usize,
    tx: UnboundedSender<LogLine>,
    stats: PumpStats,
    first: bool,
}

impl Pump {
    fn emit(&mut self, raw: &[u8]) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = String::from_utf8_lossy(raw);
        self.stats.markers.scan(&line);
        if std::mem::take(&mut self.first) && self.stream == Stream::Stderr {
            if let Some(msg) = line.strip_prefix("bwrap: ") {
                self.stats.bwrap_error = Some(msg.to_string());
            }
        }
        if self.stats.truncated {
            return;
        }
        let cost = line.len() + 1;
        if self.stats.delivered + cost <= self.cap {
            self.stats.delivered += cost;
            let _ = self.tx.send(LogLine {
                stream: self.stream,
                line: line.into_owned(),
            });
            return;
        }
        // The line that crosses the cap is cut to what is left.
        let room = self.cap.saturating_sub(self.stats.delivered + 1);
        if room > 0 {
            let cut = floor_char_boundary(&line, room);
            self.stats.delivered += cut + 1;
            let _ = self.tx.send(LogLine {
                stream: self.stream,
                line: line[..cut].to_string(),
            });
        }
        self.stats.truncated = true;
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Where to split a too-long raw line: at `MAX_LINE`, moved back to the start of a UTF-8
/// sequence so a multi-byte character is not cut in two.
fn split_point(buf: &[u8]) -> usize {
    let mut i = MAX_LINE;
    for _ in 0..3 {
        if i > 0 && (buf[i] & 0b1100_0000) == 0b1000_0000 {
            i -= 1;
        } else {
            break;
        }
    }
    if (buf[i] & 0b1100_0000) == 0b1000_0000 {
        MAX_LINE
    } else {
        i
    }
}

/// One `read` (tokio's `io-util` extension traits are not among our features).
async fn read_some<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut rb = ReadBuf::new(buf);
        match Pin::new(&mut *r).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Reads `r` to the end, sending lines to `tx` until `cap` bytes, then discarding.
pub async fn pump<R: AsyncRead + Unpin>(
    mut r: R,
    stream: Stream,
    cap: usize,
    tx: UnboundedSender<LogLine>,
) -> PumpStats {
    let mut p = Pump {
        stream,
        cap,
        tx,
        stats: PumpStats::default(),
        first: true,
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    // Once over the cap, only the stream's tail is kept: the failure hints (a traceback,
    // "File too large") come at the end, and scanning 100 MB line by line is wasted work.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = match read_some(&mut r, &mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if p.stats.truncated {
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 2 * TAIL {
                tail.drain(..tail.len() - TAIL);
            }
            continue;
        }
        let mut chunk = &buf[..n];
        while let Some(nl) = chunk.iter().position(|&b| b == b'\n') {
            if pending.is_empty() {
                p.emit(&chunk[..nl]);
            } else {
                pending.extend_from_slice(&chunk[..nl]);
                p.emit(&pending);
                pending.clear();
            }
            chunk = &chunk[nl + 1..];
        }
        pending.extend_from_slice(chunk);
        while pending.len() > MAX_LINE {
            let at = split_point(&pending);
            p.emit(&pending[..at]);
            pending.drain(..at);
        }
    }
    if p.stats.truncated {
        let start = tail.len().saturating_sub(TAIL);
        for line in tail[start..].split(|&b| b == b'\n') {
            p.stats.markers.scan(&String::from_utf8_lossy(line));
        }
    } else if !pending.is_empty() {
        p.emit(&pending);
    }
    p.stats
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns the given chunks one read at a time.
    struct Chunks(Vec<Vec<u8>>);
    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if !self.0.is_empty() {
                let c = self.0.remove(0);
                let n = c.len().min(buf.remaining());
                buf.put_slice(&c[..n]);
                if n < c.len() {
                    self.0.insert(0, c[n..].to_vec());
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    async fn run(input: Vec<u8>, cap: usize) -> (Vec<String>, PumpStats) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stats = pump(&input[..], Stream::Stdout, cap, tx).await;
        let mut lines = vec![];
        while let Ok(l) = rx.try_recv() {
            lines.push(l.line);
        }
        (lines, stats)
    }

    #[tokio::test]
    async fn lines_cap_and_split() {
        let (lines, st) = run(b"a\r\nb\nc".to_vec(), 100).await;
        assert_eq!(lines, ["a", "b", "c"]);
        assert!(!st.truncated);

        let (lines, st) = run(b"0123456789\n0123456789\n0123456789\n".to_vec(), 15).await;
        assert_eq!(lines, ["0123456789", "012"]);
        assert!(st.truncated && st.delivered <= 15);

        let long = format!("a{}", "é".repeat(MAX_LINE)); // odd offset: a split must back off
        let (lines, _) = run(long.clone().into_bytes(), usize::MAX).await;
        assert!(lines
            .iter()
            .all(|l| l.len() <= MAX_LINE && !l.contains('\u{FFFD}')));
        assert_eq!(lines.concat(), long);
    }

    #[tokio::test]
    async fn markers_seen_after_cap() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\nMemoryError\n");
        let (_, st) = run(input, 100).await;
        assert!(st.truncated && st.markers.oom);

        // Also when the hint arrives in a later read, after the cap was hit.
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut reader = Chunks(vec![vec![b'y'; 70_000], b"\nFile too large\n".to_vec()]);
        let st = pump(&mut reader, Stream::Stderr, 100, tx).await;
        assert!(st.truncated && st.markers.file_size && !st.markers.oom);
    }
}
