//! `wire_split`: a stream pushed in the pieces of a [`Schedule`] decodes exactly as the same
//! stream pushed at once.
//!
//! Asserted: a [`Decoder`] fed the pieces returns the same frames (offset, head, body, flag) and
//! the same final error as a [`Decoder`] fed the whole stream, keeps `position` and `buffered` in
//! step with what it handed out, and reports the same `scanned` count when neither failed; a
//! [`StreamDecoder`] fed the pieces, with its `Head`, `Body` and `End` items put back together,
//! gives the same frames, the same `scanned` count and, as no body here exceeds the default
//! `max_body`, the same error.

use msrp_wire::{Decoder, ErrorKind, StreamDecoder};

use crate::record::{Outcome, Reassembler, Record};
use crate::schedule::Schedule;

/// Runs the target on one input.
pub fn check(data: &[u8]) {
    let schedule = Schedule::parse(data);
    let pieces = schedule.pieces();

    let mut whole = Decoder::new();
    whole.push(schedule.stream);
    let mut expected = Outcome::default();
    expected.drain(&mut whole);

    let mut split = Decoder::new();
    let mut outcome = Outcome::default();
    let mut pushed = 0;
    for piece in &pieces {
        split.push(piece);
        pushed += piece.len();
        outcome.drain(&mut split);
        if outcome.error.is_none() {
            // Everything handed out is consumed; everything else is still buffered.
            let consumed: usize = outcome.records.iter().map(Record::wire_len).sum();
            assert_eq!(split.position(), consumed as u64);
            assert_eq!(split.buffered(), pushed - consumed);
        }
    }
    outcome.assert_agrees(&expected, &lengths(&pieces));
    if expected.error.is_none() {
        assert_eq!(split.scanned(), whole.scanned(), "scanned bytes differ");
    }

    let mut stream = StreamDecoder::new();
    let max_body = stream.limits().max_body;
    let mut reassembler = Reassembler::default();
    for piece in &pieces {
        stream.push(piece);
        reassembler.drain(&mut stream, max_body);
    }
    // The stream decoder streams a body the whole-frame decoder refuses as too large.
    if expected
        .error
        .is_some_and(|e| e.kind() == ErrorKind::BodyTooLarge)
    {
        return;
    }
    reassembler
        .outcome
        .assert_agrees(&expected, &lengths(&pieces));
    if expected.error.is_none() {
        assert_eq!(stream.scanned(), whole.scanned(), "scanned bytes differ");
    }
}

/// The piece lengths, for failure messages.
fn lengths(pieces: &[&[u8]]) -> Vec<usize> {
    pieces.iter().map(|p| p.len()).collect()
}
