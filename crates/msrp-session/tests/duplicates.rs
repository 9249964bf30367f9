//! Duplicate detection: a message that arrives again with the Message-ID of one already
//! delivered is acknowledged but not delivered twice, within a configurable memory.

mod common;

use std::time::Duration;

use common::{ALICE, BOB, Pair, Side, config};
use msrp_session::{MessageId, OutgoingMessage};

/// Alice and Bob, with Bob remembering `remembered` Message-IDs.
fn pair(remembered: Option<usize>) -> Pair {
    let mut bob = config(BOB, ALICE, 2);
    if let Some(n) = remembered {
        bob.limits.remembered_message_ids = n;
    }
    Pair::new(
        Side::new(vec![config(ALICE, BOB, 1)]),
        Side::new(vec![bob]),
        3,
    )
}

/// Sends a message with Message-ID `id` and returns whether Bob delivered it; Alice's outcome
/// is a delivery either way.
fn send(pair: &mut Pair, id: &str) -> bool {
    let key = pair.a.key();
    let before = pair.b.seen.received.len();
    let message = OutgoingMessage::new("text/plain", format!("body of {id}"))
        .message_id(MessageId::new(id).unwrap());
    let handle = pair.a.conn.send(key, message).unwrap();
    pair.drive();
    let outcome = pair.a.seen.outcome(handle).expect("an outcome");
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    pair.b.seen.received.len() > before
}

#[test]
fn a_message_sent_again_is_acknowledged_but_not_delivered_twice() {
    let mut pair = pair(None);
    assert!(send(&mut pair, "dup00001"));
    assert!(!send(&mut pair, "dup00001"));
    assert!(send(&mut pair, "dup00002"));
    assert!(!send(&mut pair, "dup00001"));
    assert_eq!(pair.b.seen.received.len(), 2);
}

#[test]
fn the_oldest_message_ids_are_forgotten_beyond_the_limit() {
    let mut pair = pair(Some(2));
    for id in ["lim00001", "lim00002", "lim00003"] {
        assert!(send(&mut pair, id));
    }
    // The last two are remembered; the first was forgotten to make room.
    assert!(!send(&mut pair, "lim00003"));
    assert!(!send(&mut pair, "lim00002"));
    assert!(send(&mut pair, "lim00001"));
    // Remembering it again made room by forgetting the oldest, lim00002.
    assert!(!send(&mut pair, "lim00003"));
    assert!(send(&mut pair, "lim00002"));
}

#[test]
fn no_memory_delivers_every_copy() {
    let mut pair = pair(Some(0));
    assert!(send(&mut pair, "nom00001"));
    assert!(send(&mut pair, "nom00001"));
}

#[test]
fn message_ids_are_forgotten_after_30_s_of_quiet() {
    let mut pair = pair(None);
    assert!(send(&mut pair, "old00001"));
    pair.advance(Duration::from_secs(10));
    assert!(!send(&mut pair, "old00001"));
    pair.advance(Duration::from_secs(31));
    assert!(send(&mut pair, "old00001"));
}
