//! `wire_stream`: a [`StreamDecoder`] with small limits, fed a stream in the pieces of a
//! [`Schedule`], hands out the same frames as a [`Decoder`] that may buffer any body, in
//! constant memory.
//!
//! The input starts with three bytes of limits: two (little-endian, modulo 4097) for
//! `max_body`, one for `max_head` (64 plus 16 times its value); the rest is a [`Schedule`].
//!
//! Asserted: items come in the documented order (`Frame`, or `Head`, non-empty `Body` pieces and
//! `End`), a whole `Frame` has a body of at most `max_body`, and `is_streaming` says whether a
//! streamed frame is open; the frames put back together, and the error, equal those of a
//! [`Decoder`] with the same limits but no body limit fed the whole stream at once, and so does
//! the `scanned` count when neither failed; after each push is drained, the decoder holds no more
//! than an unfinished head of at most `max_head` bytes, or the few bytes that may begin an
//! end-line.

use msrp_wire::{Decoder, Limits, StreamDecoder};

use crate::record::{Outcome, Reassembler};
use crate::schedule::Schedule;

/// The longest end-line with the CRLF in front of it: CRLF, seven hyphens, a 32-character
/// transaction id, the flag and CRLF.
const MAX_END_LINE: usize = 2 + 7 + 32 + 1 + 2;

/// Runs the target on one input.
pub fn check(data: &[u8]) {
    let (config, rest) = data.split_at(data.len().min(3));
    let [body_lo, body_hi, head] = <[u8; 3]>::try_from(config).unwrap_or_default();
    let mut limits = Limits::default();
    limits.max_body = usize::from(u16::from_le_bytes([body_lo, body_hi])) % 4097;
    limits.max_head = 64 + 16 * usize::from(head);
    let schedule = Schedule::parse(rest);

    let mut unbounded = limits;
    unbounded.max_body = usize::MAX;
    let mut whole = Decoder::with_limits(unbounded);
    whole.push(schedule.stream);
    let mut expected = Outcome::default();
    expected.drain(&mut whole);

    let mut stream = StreamDecoder::with_limits(limits);
    let mut reassembler = Reassembler::default();
    let mut largest_push = 0;
    for piece in schedule.pieces() {
        stream.push(piece);
        largest_push = largest_push.max(piece.len());
        reassembler.drain(&mut stream, limits.max_body);
        if reassembler.outcome.error.is_none() {
            let held = stream.buffered();
            assert!(
                held <= limits.max_head.max(MAX_END_LINE),
                "{held} bytes held with max_head {} after pushes of up to {largest_push}",
                limits.max_head
            );
        }
    }
    reassembler.outcome.assert_agrees(&expected, &limits);
    if expected.error.is_none() {
        assert_eq!(stream.scanned(), whole.scanned(), "scanned bytes differ");
    }
}
