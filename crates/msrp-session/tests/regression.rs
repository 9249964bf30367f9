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

/// The Byte-Range lines of the SENDs in a byte stream, in order.
fn byte_ranges(wire: &[u8]) -> Vec<String> {
    let mut decoder = msrp_wire::Decoder::new();
    decoder.push(wire);
    let mut ranges = Vec::new();
    while let Ok(Some(frame)) = decoder.decode() {
        if let Some(value) = frame.header("Byte-Range") {
            ranges.push(String::from_utf8_lossy(value).into_owned());
        }
    }
    ranges
}

/// Found by a black-box check of the sender: a 13-byte text went out with `Byte-Range:
/// 1-*/13`. RFC 4975 §7.1.1: "The range-end field SHOULD indicate the position of the last byte
/// in the body, if known. It MUST take the value of "*" if the position is unknown, or if the
/// request needs to be interruptible." A chunk that is not interrupted states its end.
#[test]
fn a_chunk_sent_whole_states_its_range_end() {
    use msrp_session::{Chunking, OutgoingMessage};
    let cases: [(usize, Chunking, &[&str]); 4] = [
        (13, Chunking::Interruptible, &["1-13/13"]),
        (2048, Chunking::Interruptible, &["1-2048/2048"]),
        // Longer bodies may be interrupted: their end is "*".
        (3000, Chunking::Interruptible, &["1-*/3000"]),
        (
            2500,
            Chunking::Fixed(1000),
            &["1-1000/2500", "1001-2000/2500", "2001-2500/2500"],
        ),
    ];
    for (seed, (len, chunking, expected)) in cases.into_iter().enumerate() {
        let mut config = common::config(ALICE, BOB, seed as u64);
        config.chunking = chunking;
        let mut conn = msrp_session::Connection::new(Default::default());
        let key = conn
            .insert_session(msrp_session::Session::new(config).unwrap())
            .unwrap();
        conn.send(key, OutgoingMessage::new("text/plain", vec![b'x'; len]))
            .unwrap();
        let mut wire = Vec::new();
        conn.poll_transmit(std::time::Instant::now(), &mut wire);
        assert_eq!(byte_ranges(&wire), expected, "{len} bytes, {chunking:?}");
    }
}

/// A chunk that states its range-end was cut with `+` when responses became due while it was
/// being written (its bytes split over two writes): the peer then saw a chunk shorter than its
/// own Byte-Range said.
#[test]
fn responses_wait_for_a_chunk_that_states_its_end() {
    use msrp_session::{Chunking, OutgoingMessage};
    let now = std::time::Instant::now();
    // Alice sends 2000 bytes in fixed chunks of 2000: one chunk, "1-2000/2000".
    let mut config = common::config(ALICE, BOB, 7);
    config.chunking = Chunking::Fixed(2000);
    let mut conn = msrp_session::Connection::new(Default::default());
    let key = conn
        .insert_session(msrp_session::Session::new(config).unwrap())
        .unwrap();
    conn.send(key, OutgoingMessage::new("text/plain", vec![b'y'; 2000]))
        .unwrap();
    // The first write takes only part of the chunk.
    let mut first = Vec::new();
    let mut pieces = Vec::new();
    conn.poll_transmit_vectored(now, 500, &mut pieces);
    pieces.iter().for_each(|p| first.extend_from_slice(p));
    assert!(first.len() < 2000);
    // Bob's SEND arrives meanwhile: a 200 is due.
    conn.handle_input(now, &chunk_from_bob("b0b1", b"hello"));
    let mut rest = Vec::new();
    conn.poll_transmit(now, &mut rest);
    let mut wire = first;
    wire.extend_from_slice(&rest);
    // The chunk is whole, then comes the response.
    let mut decoder = msrp_wire::Decoder::new();
    decoder.push(&wire);
    let send = decoder.decode().unwrap().unwrap();
    assert_eq!(send.header("Byte-Range"), Some(&b"1-2000/2000"[..]));
    assert_eq!(send.body().map(<[u8]>::len), Some(2000));
    let response = decoder.decode().unwrap().unwrap();
    assert_eq!(response.status_code().map(|c| c.as_u16()), Some(200));
}

/// A SEND from Bob to Alice.
fn chunk_from_bob(tid: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "MSRP {tid} SEND\r\nTo-Path: {ALICE}\r\nFrom-Path: {BOB}\r\nMessage-ID: bobm1\r\n\
Byte-Range: 1-{}/{}\r\nContent-Type: text/plain\r\n\r\n",
        body.len(),
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v.extend_from_slice(format!("\r\n-------{tid}$\r\n").as_bytes());
    v
}
