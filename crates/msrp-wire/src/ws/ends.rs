//! Where MSRP frames end in a stream of output.

use memchr::memmem;

/// Finds where each MSRP frame ends in a stream of MSRP output, seen in pieces of any size.
///
/// A frame ends with its end-line, `CRLF "-------" transaction-id flag CRLF` (RFC 4975 §7.1),
/// where the transaction id is the one of its start line, and the sender "MUST ensure that the
/// end-line ... does not appear in the body". The scanner therefore reads each start line for
/// its id, then looks for that end-line: exactly where any MSRP receiver finds the frame's end,
/// with one `memmem` search over the body bytes.
///
/// ```
/// use msrp_wire::ws::FrameEnds;
///
/// let output = b"MSRP a1 SEND\r\nTo-Path: msrp://b.example.com/s;tcp\r\n\
/// From-Path: msrp://a.example.com/t;tcp\r\n-------a1$\r\nMSRP b2 200 OK\r\n";
/// let mut ends = FrameEnds::new();
/// let end = ends.scan(output)?.expect("the first frame ends in this piece");
/// assert!(output[..end].ends_with(b"-------a1$\r\n"));
/// assert_eq!(ends.scan(&output[end..])?, None);
/// # Ok::<(), msrp_wire::ws::FrameEndsError>(())
/// ```
#[derive(Debug, Default)]
pub struct FrameEnds {
    /// The start line read so far, while it is being read.
    line: Vec<u8>,
    /// `CRLF "-------" transaction-id`, once the start line is read.
    needle: Vec<u8>,
    /// The search for the needle, built once per frame.
    finder: Option<memmem::Finder<'static>>,
    /// How many bytes of the end-line (the needle, the flag, CRLF) the output seen so far ends
    /// with.
    matched: usize,
    in_body: bool,
}

/// The output is not a stream of MSRP frames: a start line is missing or too long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameEndsError;

impl core::fmt::Display for FrameEndsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("output that does not start with an MSRP start line")
    }
}

impl std::error::Error for FrameEndsError {}

/// Longest start line read.
const MAX_START_LINE: usize = 1024;

impl FrameEnds {
    /// A scanner at the start of a frame.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the output seen so far ends between frames.
    pub fn at_boundary(&self) -> bool {
        !self.in_body && self.line.is_empty()
    }

    /// Reads `piece`, the next output bytes; returns the offset just past the end of the first
    /// frame that ends in it, if one does. Scan the rest of the piece (from that offset) next.
    pub fn scan(&mut self, piece: &[u8]) -> Result<Option<usize>, FrameEndsError> {
        let mut pos = 0;
        if !self.in_body {
            let Some(newline) = memchr::memchr(b'\n', piece) else {
                self.line.extend_from_slice(piece);
                if self.line.len() > MAX_START_LINE {
                    return Err(FrameEndsError);
                }
                return Ok(None);
            };
            self.line.extend_from_slice(&piece[..=newline]);
            pos = newline + 1;
            self.start_body()?;
        }
        let found = self.find_end(&piece[pos..]);
        Ok(found.map(|end| {
            self.in_body = false;
            self.matched = 0;
            pos + end
        }))
    }

    /// The start line is whole: its id makes the end-line to look for. Its own CRLF may be
    /// the one that starts the end-line, in a frame without headers.
    fn start_body(&mut self) -> Result<(), FrameEndsError> {
        let line = core::mem::take(&mut self.line);
        let mut words = line.split(|&b| b == b' ');
        let (Some(b"MSRP"), Some(id)) = (words.next(), words.next()) else {
            return Err(FrameEndsError);
        };
        if id.is_empty() || line.len() < 2 || !line.ends_with(b"\r\n") {
            return Err(FrameEndsError);
        }
        self.needle.clear();
        self.needle.extend_from_slice(b"\r\n-------");
        self.needle.extend_from_slice(id);
        self.finder = Some(memmem::Finder::new(&self.needle).into_owned());
        self.in_body = true;
        self.matched = 2;
        self.line = line;
        self.line.clear();
        Ok(())
    }

    /// The byte the end-line has at `at`, or `None` for the flag's position, which takes any of
    /// `$`, `+` and `#`.
    fn expected(&self, at: usize) -> Option<u8> {
        let n = self.needle.len();
        if at < n {
            Some(self.needle[at])
        } else if at == n {
            None
        } else {
            Some(b"\r\n"[at - n - 1])
        }
    }

    fn end_line_len(&self) -> usize {
        self.needle.len() + 3
    }

    /// Takes one byte into the partial match; returns whether the end-line is now whole.
    fn step(&mut self, byte: u8) -> bool {
        let fits = match self.expected(self.matched) {
            Some(expected) => byte == expected,
            None => matches!(byte, b'$' | b'+' | b'#'),
        };
        if fits {
            self.matched += 1;
            return self.matched == self.end_line_len();
        }
        // The end-line holds CR only at its start and before its last byte, so a match that
        // fails can restart only at this very byte.
        self.matched = usize::from(byte == b'\r');
        false
    }

    /// Looks for the end-line in `data`, following on from what earlier pieces left matched.
    fn find_end(&mut self, data: &[u8]) -> Option<usize> {
        let mut pos = 0;
        while self.matched > 0 {
            let &byte = data.get(pos)?;
            pos += 1;
            if self.step(byte) {
                return Some(pos);
            }
        }
        let full = self.end_line_len();
        let finder = self.finder.take()?;
        let found = self.search(&finder, data, pos, full);
        self.finder = Some(finder);
        found
    }

    fn search(
        &mut self,
        finder: &memmem::Finder<'_>,
        data: &[u8],
        mut pos: usize,
        full: usize,
    ) -> Option<usize> {
        while let Some(at) = finder.find(&data[pos..]) {
            let start = pos + at;
            let tail = &data[start + self.needle.len()..];
            if tail.len() >= 3 {
                if matches!(tail[0], b'$' | b'+' | b'#') && &tail[1..3] == b"\r\n" {
                    return Some(start + full);
                }
                pos = start + 1;
                continue;
            }
            // The end-line may finish in the next piece.
            self.matched = self.needle.len();
            for (i, &byte) in tail.iter().enumerate() {
                if self.step(byte) {
                    return Some(start + self.needle.len() + i + 1);
                }
                if self.matched == 0 {
                    // It did not: the rest of `tail` holds no CR to restart at but the one
                    // the step kept.
                    break;
                }
            }
            if self.matched > 0 {
                return None;
            }
            pos = start + 1;
        }
        // A start of the end-line at the very end of the piece.
        self.matched = self.partial_suffix(&data[pos..]);
        None
    }

    /// How long a start of the end-line `data` ends with (shorter than the needle: a whole
    /// needle was found by the search).
    fn partial_suffix(&self, data: &[u8]) -> usize {
        let window = &data[data.len().saturating_sub(self.needle.len() - 1)..];
        let Some(cr) = memchr::memrchr(b'\r', window) else {
            return 0;
        };
        let candidate = &window[cr..];
        if self.needle.starts_with(candidate) {
            candidate.len()
        } else {
            0
        }
    }
}
