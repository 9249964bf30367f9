//! Regression tests, one per bug found, named after what went wrong.

mod common;

use common::{ALICE, BOB, Pair};

fn chunk(tid: &str, start: u64, body: &[u8], total: &str, flag: char) -> Vec<u8> {
    let mut v = format!(
        "MSRP {tid} SEND\r\nTo-Path: {BOB}\r\nFrom-Path: {ALICE}\r\nMessage-ID: mid1\r\n\
Byte-Range: {start}-*/{total}\r\nContent-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    v.extend_from_slice(body);
    v.extend_from_slice(format!("\r\n-------{tid}{flag}\r\n").as_bytes());
    v
}

/// Found by the `session_drive` fuzz target: a `$` chunk that ended the message before data
/// already received left that data in the reassembly ranges beyond the (truncated) buffer, and
/// switching the message to delivery in pieces then read past the buffer.
#[test]
fn data_beyond_the_end_a_dollar_chunk_sets_is_dropped() {
    let mut pair = Pair::alice_bob(50);
    let now = pair.now;
    // Data at 1745.., in a message announced as 4096 bytes (buffered for whole delivery).
    pair.b
        .conn
        .handle_input(now, &chunk("t1t1", 1745, &[b'x'; 56], "4096", '+'));
    // The chunk with `$` says the message ends at 80.
    pair.b
        .conn
        .handle_input(now, &chunk("t2t2", 1, &[b'a'; 80], "4096", '$'));
    pair.b.drain_events_for_test();
    assert_eq!(pair.b.seen.received.len(), 1);
    assert_eq!(pair.b.seen.received[0].1, vec![b'a'; 80]);
    // More data past that end is a contradiction: 400, and nothing breaks.
    pair.b
        .conn
        .handle_input(now, &chunk("t3t3", 81, &[b'z'; 10], "*", '+'));
    pair.b.drain_events_for_test();
    assert_eq!(pair.b.seen.received.len(), 1);
}
