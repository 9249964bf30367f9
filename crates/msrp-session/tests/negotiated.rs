//! `SessionConfig::from_negotiated`: sessions configured from an SDP offer/answer take the role,
//! paths, accept-types and sizes that were agreed, and talk to each other.

mod common;

use common::{Pair, Rng, Side};
use msrp_sdp::{Capabilities, FormatEntry, Media, Negotiated, Origin, Path, SetupPreference};
use msrp_session::{FromPathCheck, Limits, OutgoingMessage, Role, SendError, SessionConfig};

fn origin(host: &str) -> Origin {
    Origin {
        username: "-".into(),
        session_id: "2890844526".into(),
        session_version: 1,
        net_type: "IN".into(),
        addr_type: "IP4".into(),
        address: host.into(),
    }
}

fn caps(path: &str) -> Capabilities {
    Capabilities::new(Path::parse(path).unwrap()).unwrap()
}

/// Runs offer/answer between `offerer` and `answerer`: (offerer's result, answerer's result).
fn negotiate(offerer: &Capabilities, answerer: &Capabilities) -> (Negotiated, Negotiated) {
    let offer = offerer.create_offer(origin("offerer.example.com"));
    let (answer, answerers) = answerer
        .create_answer(&offer, origin("answerer.example.com"))
        .unwrap();
    (offerer.handle_answer(&answer).unwrap(), answerers)
}

fn config(negotiated: &Negotiated, seed: u64) -> SessionConfig {
    let mut rng = Rng::new(seed);
    SessionConfig::from_negotiated(negotiated, move |buf: &mut [u8]| rng.fill(buf))
}

#[test]
fn every_field_sdp_decides_comes_from_the_negotiation() {
    let mut alice = caps("msrp://alice.example.com:7654/iau39soe2843z;tcp");
    alice.accept_types = FormatEntry::parse_list("message/cpim text/*").unwrap();
    alice.max_size = Some(4096);
    // Bob reaches the world through a relay, and wants to connect himself.
    let mut bob = caps(
        "msrp://relay.example.net:2855/kwvin5f;tcp msrp://bob.example.com:8888/9di4eae923wzd;tcp",
    );
    bob.accept_types = FormatEntry::parse_list("text/plain image/png").unwrap();
    bob.setup = SetupPreference::Active;

    let (alices, bobs) = negotiate(&alice, &bob);
    let a = config(&alices, 1);
    let b = config(&bobs, 2);

    // RFC 6135: Alice offered actpass, Bob answered active.
    assert_eq!((a.role, b.role), (Role::Passive, Role::Active));
    // The local URI is the last of the local path; the To-Path is the peer's whole path.
    assert_eq!(
        a.local_uri.as_str(),
        "msrp://alice.example.com:7654/iau39soe2843z;tcp"
    );
    assert_eq!(
        b.local_uri.as_str(),
        "msrp://bob.example.com:8888/9di4eae923wzd;tcp"
    );
    assert_eq!(
        a.peer_path.to_string(),
        "msrp://relay.example.net:2855/kwvin5f;tcp msrp://bob.example.com:8888/9di4eae923wzd;tcp"
    );
    assert_eq!(
        b.peer_path.to_string(),
        "msrp://alice.example.com:7654/iau39soe2843z;tcp"
    );
    assert_eq!(a.accept_types, alice.accept_types);
    assert_eq!(a.peer_accept_types.as_ref(), Some(&bob.accept_types));
    assert_eq!(b.accept_types, bob.accept_types);
    assert_eq!(b.peer_accept_types.as_ref(), Some(&alice.accept_types));
    // Alice advertised a max-size: Bob keeps to it, and Alice's session holds to it.
    assert_eq!(b.peer_max_size, Some(4096));
    assert_eq!(a.limits.max_message_size, 4096);
    assert_eq!(a.peer_max_size, None);
    assert_eq!(
        b.limits.max_message_size,
        Limits::default().max_message_size
    );
    assert_eq!(a.from_path_check, FromPathCheck::Strict);
    assert_eq!(b.from_path_check, FromPathCheck::Strict);
}

#[test]
fn negotiated_sessions_talk_and_keep_to_what_was_agreed() {
    let alice = caps("msrp://alice.example.com:7654/iau39soe2843z;tcp");
    let mut bob = caps("msrp://bob.example.com:8888/9di4eae923wzd;tcp");
    bob.max_size = Some(16);
    let (alices, bobs) = negotiate(&alice, &bob);
    let mut pair = Pair::new(
        Side::new(vec![config(&alices, 1)]),
        Side::new(vec![config(&bobs, 2)]),
        3,
    );
    let (a, b) = (pair.a.key(), pair.b.key());

    // Bob's accept-types are the default `message/cpim text/plain`, and his max-size 16 bytes.
    let html = OutgoingMessage::new("text/html", "<p>Hi</p>");
    assert_eq!(
        pair.a.conn.send(a, html).err(),
        Some(SendError::NotAccepted)
    );
    let long = OutgoingMessage::new("text/plain", "more than sixteen bytes");
    assert_eq!(pair.a.conn.send(a, long).err(), Some(SendError::TooLarge));
    pair.a
        .conn
        .send(a, OutgoingMessage::new("text/plain", "Hi Bob"))
        .unwrap();
    pair.b
        .conn
        .send(b, OutgoingMessage::new("text/plain", "Hi Alice"))
        .unwrap();
    pair.drive();

    assert_eq!(pair.b.seen.received.len(), 1);
    assert_eq!(pair.b.seen.received[0].1, b"Hi Bob");
    assert_eq!(pair.a.seen.received.len(), 1);
    assert_eq!(pair.a.seen.received[0].1, b"Hi Alice");
    for seen in [&pair.a.seen, &pair.b.seen] {
        assert_eq!(seen.outcomes.len(), 1);
        assert!(seen.outcomes[0].result.is_ok());
    }
    assert!(pair.a.seen.failures.is_empty() && pair.b.seen.failures.is_empty());
}

/// Rewrites the c= address and the m= port of a description, as a middlebox anchoring the media
/// does (RFC 6714).
fn anchor(sd: &mut msrp_sdp::SessionDescription, address: &str, port: u16) {
    sd.connection.as_mut().unwrap().address = address.into();
    match &mut sd.media[0] {
        Media::Msrp(m) => m.port = port,
        Media::Other(_) => panic!("not an MSRP media line"),
    }
}

#[test]
fn cema_keeps_the_strict_from_path_check_and_the_sessions_talk() {
    let mut alice = caps("msrp://192.0.2.10:7394/s1dj3k2l;tcp");
    let mut bob = caps("msrp://198.51.100.20:8493/s2ke93m1;tcp");
    alice.cema = true;
    bob.cema = true;
    let mut offer = alice.create_offer(origin("192.0.2.10"));
    anchor(&mut offer, "203.0.113.1", 40000);
    let (mut answer, bobs) = bob.create_answer(&offer, origin("198.51.100.20")).unwrap();
    anchor(&mut answer, "203.0.113.2", 50000);
    let alices = alice.handle_answer(&answer).unwrap();
    assert!(alices.cema && bobs.cema);

    // The connection goes to the anchor, but the paths, and so the checks of received
    // requests, are those of RFC 4975 (RFC 6714 §1).
    let (a, b) = (config(&alices, 4), config(&bobs, 5));
    assert_eq!(a.from_path_check, FromPathCheck::Strict);
    assert_eq!(b.from_path_check, FromPathCheck::Strict);
    assert_eq!(
        a.peer_path.to_string(),
        "msrp://198.51.100.20:8493/s2ke93m1;tcp"
    );

    let mut pair = Pair::new(Side::new(vec![a]), Side::new(vec![b]), 6);
    let key = pair.a.key();
    pair.a
        .conn
        .send(
            key,
            OutgoingMessage::new("text/plain", "through the anchor"),
        )
        .unwrap();
    pair.drive();
    assert_eq!(pair.b.seen.received.len(), 1);
    assert_eq!(pair.a.seen.outcomes.len(), 1);
    assert!(pair.a.seen.outcomes[0].result.is_ok());
}
