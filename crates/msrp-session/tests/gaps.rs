//! Bounded gaps: what a session lets through beyond the first gap of its incoming messages.
//! Chunks 2..N of a message whose chunk 1 never comes were once let through without bound, for
//! an application to hold until the gap filled (issue 11).

mod common;

use std::time::Duration;

use common::{ALICE, BOB, Pair, RawChunk, Side, config, frames};
use msrp_session::IncomingFailure;
use msrp_wire::{Flag, StatusCode};

/// Alice and a Bob whose session lets `limit` bytes through beyond gaps.
fn pair_with_gap_limit(limit: u64, seed: u64) -> Pair {
    let mut b = config(BOB, ALICE, seed + 1);
    b.limits.max_gap_bytes = limit;
    Pair::new(
        Side::new(vec![config(ALICE, BOB, seed)]),
        Side::new(vec![b]),
        seed,
    )
}

/// Feeds Bob one chunk of `message_id`: `len` bytes at `offset` of a 1 MB message, and returns
/// the status codes Bob wrote in answer.
fn feed(
    pair: &mut Pair,
    tid: &str,
    message_id: &str,
    offset: usize,
    len: usize,
    flag: Flag,
) -> Vec<StatusCode> {
    let tid = format!("tx-{tid}");
    let chunk = RawChunk {
        offset,
        total: Some(1 << 20),
        flag,
        ..RawChunk::new(&tid, message_id)
    };
    let now = pair.now;
    pair.b
        .conn
        .handle_input(now, &chunk.encode(&vec![b'x'; len]));
    let mut wire = Vec::new();
    pair.b.conn.poll_transmit(now, &mut wire);
    pair.b.drain_events_for_test();
    frames(&wire)
        .iter()
        .filter_map(|f| f.status_code())
        .collect()
}

fn gap_bytes(pair: &Pair) -> u64 {
    pair.b.conn.session(pair.b.key()).unwrap().gap_bytes()
}

#[test]
fn chunks_beyond_a_gap_past_the_session_limit_get_413_and_give_their_bytes_back() {
    let mut pair = pair_with_gap_limit(10_000, 1);
    // Chunks 2.. of 1000 bytes each; byte 1 never comes. Ten of them reach the limit.
    for i in 1..=10 {
        let codes = feed(
            &mut pair,
            &format!("gap{i:03}"),
            "gapped",
            i * 1000,
            1000,
            Flag::Continued,
        );
        assert_eq!(codes, [StatusCode::OK], "chunk {i}");
        assert_eq!(gap_bytes(&pair), i as u64 * 1000);
    }
    // RFC 4975 §10.5: "A 413 response indicates that the receiver wishes the sender to stop
    // sending the particular message."
    let codes = feed(&mut pair, "gap011", "gapped", 11_000, 1000, Flag::Continued);
    assert_eq!(codes, [StatusCode::MESSAGE_TOO_LARGE]);
    assert_eq!(
        pair.b.seen.given_up,
        [("gapped".to_owned(), IncomingFailure::TooLarge)]
    );
    assert_eq!(
        gap_bytes(&pair),
        0,
        "the dropped message gave its bytes back"
    );
    // Its later chunks, even the missing first one, are refused too.
    let codes = feed(&mut pair, "gap000", "gapped", 0, 1000, Flag::Continued);
    assert_eq!(codes, [StatusCode::MESSAGE_TOO_LARGE]);
    assert_eq!(gap_bytes(&pair), 0);
}

#[test]
fn the_limit_counts_every_message_and_a_filled_gap_gives_its_bytes_back() {
    let mut pair = pair_with_gap_limit(10_000, 2);
    let ok = [StatusCode::OK];
    assert_eq!(
        feed(&mut pair, "a1", "first", 1000, 6000, Flag::Continued),
        ok
    );
    // Another message of the session would take the session past its limit.
    let codes = feed(&mut pair, "b1", "second", 1000, 5000, Flag::Continued);
    assert_eq!(codes, [StatusCode::MESSAGE_TOO_LARGE]);
    assert_eq!(gap_bytes(&pair), 6000, "the first message holds its own");
    // The first message's gap fills: it holds nothing beyond a gap any more.
    assert_eq!(feed(&mut pair, "a0", "first", 0, 1000, Flag::Continued), ok);
    assert_eq!(gap_bytes(&pair), 0);
    // So a third message fits now, and the first completes intact.
    assert_eq!(
        feed(&mut pair, "c1", "third", 1000, 9000, Flag::Continued),
        ok
    );
    assert_eq!(gap_bytes(&pair), 9000);
    assert_eq!(feed(&mut pair, "a2", "first", 7000, 3000, Flag::End), ok);
    assert_eq!(
        pair.b.seen.received,
        [("first".to_owned(), vec![b'x'; 10_000])]
    );
    assert_eq!(gap_bytes(&pair), 9000);
}

#[test]
fn a_message_that_ends_any_way_gives_its_bytes_back() {
    let mut pair = pair_with_gap_limit(10_000, 3);
    let ok = [StatusCode::OK];
    // Aborted by its sender.
    assert_eq!(
        feed(&mut pair, "a1", "aborted", 5000, 5000, Flag::Continued),
        ok
    );
    assert_eq!(gap_bytes(&pair), 5000);
    assert_eq!(
        feed(&mut pair, "a2", "aborted", 10_000, 0, Flag::Aborted),
        ok
    );
    assert_eq!(gap_bytes(&pair), 0);
    // Timed out.
    assert_eq!(
        feed(&mut pair, "t1", "stalled", 5000, 5000, Flag::Continued),
        ok
    );
    assert_eq!(gap_bytes(&pair), 5000);
    pair.advance(Duration::from_secs(121));
    assert_eq!(gap_bytes(&pair), 0);
    // Ended with its `$` chunk shorter than the data beyond the gap: what lies past the end is
    // not counted.
    assert_eq!(
        feed(&mut pair, "e1", "ended", 5000, 5000, Flag::Continued),
        ok
    );
    assert_eq!(feed(&mut pair, "e2", "ended", 2000, 1000, Flag::End), ok);
    assert_eq!(gap_bytes(&pair), 1000);
    // Ended with the session: the connection is lost.
    pair.break_connection();
    assert_eq!(gap_bytes(&pair), 0);
    let reasons: Vec<IncomingFailure> = pair.b.seen.given_up.iter().map(|(_, why)| *why).collect();
    assert_eq!(
        reasons,
        [
            IncomingFailure::Aborted,
            IncomingFailure::TimedOut,
            IncomingFailure::SessionEnded
        ]
    );
}
