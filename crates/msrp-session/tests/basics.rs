//! Basic exchanges between two sessions.

mod common;

use common::Pair;
use msrp_session::OutgoingMessage;

#[test]
fn a_text_message_is_delivered_and_acknowledged() {
    let mut pair = Pair::alice_bob(1);
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(
            key,
            OutgoingMessage::new("text/plain", "Hey Bob, are you there?"),
        )
        .unwrap();
    pair.drive();
    assert_eq!(pair.b.seen.received.len(), 1);
    assert_eq!(pair.b.seen.received[0].1, b"Hey Bob, are you there?");
    let outcome = pair.a.seen.outcome(handle).expect("outcome");
    let delivered = outcome.result.as_ref().expect("delivered");
    assert_eq!(delivered.bytes, 23);
    assert!(delivered.acknowledged);
    assert_eq!(pair.a.seen.outcomes.len(), 1);
    assert!(pair.a.conn.is_idle());
}
