//! Cutting a fuzz input into the pieces in which a stream is pushed.

/// A stream and the lengths of the pieces to push it in, read from the front of a fuzz input.
///
/// The first byte, modulo 16, is the number of length bytes that follow; the rest of the input
/// is the stream. The lengths are used in turn, starting over after the last: 0 pushes an empty
/// piece, 255 pushes all that is left, and any other value pushes that many bytes. With no
/// lengths, or only zeros, the stream is pushed in one piece.
#[derive(Clone, Copy, Debug)]
pub struct Schedule<'a> {
    lengths: &'a [u8],
    /// The bytes to push.
    pub stream: &'a [u8],
}

impl<'a> Schedule<'a> {
    /// Reads the schedule at the front of `input`.
    pub fn parse(input: &'a [u8]) -> Self {
        let count = input.first().map_or(0, |&b| usize::from(b % 16));
        let (lengths, stream) = input
            .get(1..)
            .unwrap_or_default()
            .split_at(count.min(input.len().saturating_sub(1)));
        Self { lengths, stream }
    }

    /// The pieces, in order; together they are the stream.
    pub fn pieces(&self) -> Vec<&'a [u8]> {
        if self.lengths.iter().all(|&n| n == 0) {
            return vec![self.stream];
        }
        let mut pieces = Vec::new();
        let mut rest = self.stream;
        for &n in self.lengths.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = if n == 255 {
                rest.len()
            } else {
                usize::from(n).min(rest.len())
            };
            let (piece, tail) = rest.split_at(n);
            pieces.push(piece);
            rest = tail;
        }
        pieces
    }
}
