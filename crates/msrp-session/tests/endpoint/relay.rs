//! Sessions through relays (RFC 4976 §5), with the test playing the relay: AUTH and digest, 401
//! and 423, Use-Path in To-Path and in the advertised path, renewal before expiry, failures,
//! and sessions sharing the connection to their relay.

use std::time::Duration;

use msrp_session::{
    ConnectionId, Credentials, EndpointEvent, Event, FailedBy, MessageRef, OpenError,
    OutgoingMessage, PeerCheck, Relay, RelayErrorKind, Role, SessionFailure, SessionId,
    SessionSpec,
};
use msrp_wire::{Frame, Head};

use super::{ALICE_ADDR, BOB_ADDR, bound, common, delivered, failed_by, received, refused, uri};
use crate::net::Net;

const RELAY_ADDR: &str = "127.0.0.1:2855";
const RELAY: &str = "msrp://127.0.0.1:2855;tcp";

const CHALLENGE: &str =
    "WWW-Authenticate: Digest realm=\"msrp-test\", nonce=\"n0nce\", qop=\"auth\"\r\n";

/// Alice (node 0) alone, whose relay is played by the test.
fn alice() -> Net {
    let mut net = Net::new();
    net.node(ALICE_ADDR, Default::default());
    // Connections to the relay wait for the test to answer them.
    net.silent.insert(RELAY_ADDR.parse().unwrap());
    net
}

fn relay() -> Relay {
    Relay::new(RELAY.parse().unwrap()).credentials(Credentials::new("alice", "xyz123"))
}

/// Alice's session to Bob through her relay.
fn through_relay(local: &str, seed: u64, relays: Vec<Relay>) -> SessionSpec {
    in_role(Role::Active, local, seed, relays)
}

fn in_role(role: Role, local: &str, seed: u64, relays: Vec<Relay>) -> SessionSpec {
    SessionSpec::new(common::config(local, &uri(BOB_ADDR, "bob1"), seed), role)
        .through(relays)
        .allow_plain_relay()
}

/// Completes the connection a node asked for towards the relay, as the test's relay.
fn answer_connection(net: &mut Net, node: usize) -> ConnectionId {
    net.run();
    let pending = net.pending.pop().expect("a connection to the relay");
    assert_eq!(pending.node, node);
    let now = net.now;
    net.ep(node)
        .handle_established(now, pending.connection, RELAY_ADDR.parse().unwrap(), None);
    pending.connection
}

/// Opens Alice's session through her relay, sends "hi" on it unless `quiet`, and answers the
/// connection it asks for; returns the session and that connection.
fn alice_through_relay(net: &mut Net, quiet: bool) -> (SessionId, ConnectionId) {
    let now = net.now;
    let alice = net
        .ep(0)
        .open_session(
            now,
            through_relay(&uri(ALICE_ADDR, "alice1"), 1, vec![relay()]),
        )
        .unwrap();
    if !quiet {
        net.ep(0).send(
            now,
            alice,
            MessageRef::new(1),
            OutgoingMessage::new("text/plain", "hi"),
        );
    }
    (alice, answer_connection(net, 0))
}

/// Alice (node 0) sends `text` on `session` as message `n`; returns the head of the SEND she
/// wrote on `connection`.
fn alice_sends(
    net: &mut Net,
    session: SessionId,
    n: u64,
    text: &str,
    connection: ConnectionId,
) -> Head {
    let now = net.now;
    net.ep(0).send(
        now,
        session,
        MessageRef::new(n),
        OutgoingMessage::new("text/plain", text.to_owned()),
    );
    net.run();
    one(net, 0, connection)
}

/// What a node wrote on a connection, as frames.
fn written(net: &mut Net, node: usize, connection: ConnectionId) -> Vec<Frame> {
    common::frames(&net.output(node, connection))
}

/// The one frame a node wrote on a connection.
fn one(net: &mut Net, node: usize, connection: ConnectionId) -> Head {
    let frames = written(net, node, connection);
    assert_eq!(frames.len(), 1, "{frames:?}");
    frames[0].head().clone()
}

/// The relay's response to a request: back along its From-Path, from its last To-Path URI.
fn reply(request: &Head, status: &str, headers: &str) -> String {
    let tid = request.transaction_id();
    let from = request.from_path().unwrap().unwrap();
    let to = request.to_path().unwrap().unwrap();
    let relay = to.iter().last().unwrap();
    format!(
        "MSRP {tid} {status}\r\nTo-Path: {}\r\nFrom-Path: {relay}\r\n{headers}-------{tid}$\r\n",
        from.as_str()
    )
}

fn feed(net: &mut Net, node: usize, connection: ConnectionId, bytes: &str) {
    let now = net.now;
    net.ep(node).handle_input(now, connection, bytes.as_bytes());
    net.run();
}

fn failure(events: &[EndpointEvent], session: SessionId) -> Option<RelayErrorKind> {
    events.iter().find_map(|e| match e {
        EndpointEvent::Session(s, Event::SessionFailed(SessionFailure::Relay(error)))
            if *s == session =>
        {
            Some(error.kind.clone())
        }
        _ => None,
    })
}

fn authenticated(events: &[EndpointEvent]) -> Vec<(String, Option<Duration>)> {
    events
        .iter()
        .filter_map(|e| match e {
            EndpointEvent::Authenticated { path, expires, .. } => {
                Some((path.to_string(), *expires))
            }
            _ => None,
        })
        .collect()
}

/// Runs the AUTH exchange of RFC 4976 §5.1 on `connection` for the session's AUTH in flight:
/// a challenge, the credentials, and a 200 granting `use_path`.
fn grant(net: &mut Net, connection: ConnectionId, use_path: &str, extra: &str) -> Head {
    let first = one(net, 0, connection);
    assert!(first.authorization().unwrap().is_none());
    feed(
        net,
        0,
        connection,
        &reply(&first, "401 Unauthorized", CHALLENGE),
    );
    let second = one(net, 0, connection);
    assert!(second.authorization().unwrap().is_some());
    let headers = format!("Use-Path: {use_path}\r\n{extra}");
    feed(net, 0, connection, &reply(&second, "200 OK", &headers));
    second
}

#[test]
fn a_session_authenticates_to_its_relay_and_sends_along_the_use_path() {
    let mut net = alice();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let alice = net
        .ep(0)
        .open_session(now, through_relay(&a, 1, vec![relay().expires(600)]))
        .unwrap();
    // Sent before the relay has granted anything: it waits.
    let big = vec![b'x'; 20_000];
    net.ep(0).send(
        now,
        alice,
        MessageRef::new(1),
        OutgoingMessage::new("text/plain", big.clone()),
    );
    let conn = answer_connection(&mut net, 0);

    // The first AUTH: to the relay, from the session's URI, asking for 600 s.
    let first = one(&mut net, 0, conn);
    assert_eq!(first.method().map(|m| m.as_str()), Some("AUTH"));
    assert_eq!(first.to_path().unwrap().unwrap().as_str(), RELAY);
    assert_eq!(first.from_path().unwrap().unwrap().as_str(), a);
    assert_eq!(first.expires().unwrap(), Some(600));
    assert!(first.authorization().unwrap().is_none());
    assert!(!bound(&net.events(0), alice));

    // The challenge is answered with digest credentials over the relay's URI (RFC 4976 §9.1).
    feed(
        &mut net,
        0,
        conn,
        &reply(&first, "401 Unauthorized", CHALLENGE),
    );
    let second = one(&mut net, 0, conn);
    let credentials = second.authorization().unwrap().unwrap();
    assert_eq!(credentials.get("username"), Some("alice"));
    assert_eq!(credentials.get("realm"), Some("msrp-test"));
    assert_eq!(credentials.get("nonce"), Some("n0nce"));
    assert_eq!(credentials.get("uri"), Some(RELAY));
    assert_eq!(credentials.get("qop"), Some("auth"));
    assert_eq!(credentials.get("nc"), Some("00000001"));
    assert_eq!(credentials.get("response").map(str::len), Some(32));

    let granted = "msrp://127.0.0.1:2855/kr1;tcp";
    feed(
        &mut net,
        0,
        conn,
        &reply(
            &second,
            "200 OK",
            &format!("Use-Path: {granted}\r\nExpires: 600\r\n"),
        ),
    );
    let events = net.events(0);
    // The path to advertise: the relay's URI, then Alice's own.
    assert_eq!(
        authenticated(&events),
        vec![(format!("{granted} {a}"), Some(Duration::from_secs(600)))]
    );
    assert_eq!(
        net.ep(0).local_path(alice).map(ToString::to_string),
        Some(format!("{granted} {a}"))
    );
    assert!(bound(&events, alice));

    // The message goes out now: To-Path is the Use-Path then Bob's path, From-Path Alice
    // alone, in chunks no larger than the relay takes (8 KiB by default).
    let frames = written(&mut net, 0, conn);
    let sends: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.head().method().map(|m| m.as_str()) == Some("SEND"))
        .collect();
    // Three chunks (the first message binds the session: no bodiless SEND before it).
    assert_eq!(sends.len(), 3, "{frames:?}");
    let mut body = Vec::new();
    for send in &sends {
        let head = send.head();
        assert_eq!(
            head.to_path().unwrap().unwrap().as_str(),
            format!("{granted} {}", uri(BOB_ADDR, "bob1"))
        );
        assert_eq!(head.from_path().unwrap().unwrap().as_str(), a);
        let chunk = send.body().unwrap_or_default();
        assert!(chunk.len() <= 8192);
        body.extend_from_slice(chunk);
    }
    assert_eq!(body, big);

    // The relay acknowledges each chunk hop by hop; the message is delivered.
    let mut responses = String::new();
    for send in &sends {
        responses.push_str(&reply(send.head(), "200 OK", ""));
    }
    feed(&mut net, 0, conn, &responses);
    assert!(delivered(&net.events(0), MessageRef::new(1)));

    // A request from Bob comes through the relay, which put itself first in From-Path
    // (RFC 4976 §3); the response goes back to the relay.
    let bob = uri(BOB_ADDR, "bob1");
    let incoming = format!(
        "MSRP inc1 SEND\r\nTo-Path: {a}\r\nFrom-Path: {granted} {bob}\r\nMessage-ID: msg1\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------inc1$\r\n"
    );
    feed(&mut net, 0, conn, &incoming);
    assert_eq!(received(&net.events(0)), vec![(alice, b"hi".to_vec())]);
    let response = one(&mut net, 0, conn);
    assert_eq!(response.status_code().map(|c| c.as_u16()), Some(200));
    assert_eq!(response.to_path().unwrap().unwrap().as_str(), granted);
}

#[test]
fn refusals_fail_the_session_and_what_was_queued_for_it() {
    for (status, expected) in [
        ("403 Forbidden", "refused 403"),
        ("401 Unauthorized", "unauthorized"),
        ("500 Oops", "refused 500"),
    ] {
        let mut net = alice();
        let (alice, conn) = alice_through_relay(&mut net, false);
        let first = one(&mut net, 0, conn);
        let last = if status.starts_with("401") {
            // Credentials sent, then challenged again: they are refused.
            feed(
                &mut net,
                0,
                conn,
                &reply(&first, "401 Unauthorized", CHALLENGE),
            );
            one(&mut net, 0, conn)
        } else {
            first
        };
        let headers = if status.starts_with("401") {
            CHALLENGE
        } else {
            ""
        };
        feed(&mut net, 0, conn, &reply(&last, status, headers));
        let events = net.events(0);
        let kind = failure(&events, alice).expect("the session failed");
        let said = match kind {
            RelayErrorKind::Refused(code) => format!("refused {}", code.as_u16()),
            RelayErrorKind::Unauthorized => "unauthorized".into(),
            other => format!("{other:?}"),
        };
        assert_eq!(said, expected);
        assert!(refused(&events, MessageRef::new(1)));
        assert!(!bound(&events, alice));
        // Nothing else was written, and the session's name is free again.
        assert!(written(&mut net, 0, conn).is_empty());
        assert!(net.ep(0).session_id(alice).is_none());
    }
}

#[test]
fn a_relay_that_asks_for_credentials_none_were_given_for_fails_the_session() {
    let mut net = alice();
    let now = net.now;
    let plain = Relay::new(RELAY.parse().unwrap());
    let alice = net
        .ep(0)
        .open_session(
            now,
            through_relay(&uri(ALICE_ADDR, "alice1"), 1, vec![plain]),
        )
        .unwrap();
    let conn = answer_connection(&mut net, 0);
    let first = one(&mut net, 0, conn);
    feed(
        &mut net,
        0,
        conn,
        &reply(&first, "401 Unauthorized", CHALLENGE),
    );
    assert_eq!(
        failure(&net.events(0), alice),
        Some(RelayErrorKind::NoCredentials)
    );
}

#[test]
fn interval_out_of_bounds_is_followed_and_the_path_is_renewed_before_it_expires() {
    let mut net = alice();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let alice = net
        .ep(0)
        .open_session(
            now,
            in_role(Role::Passive, &a, 1, vec![relay().expires(10)]),
        )
        .unwrap();
    let conn = answer_connection(&mut net, 0);
    let first = one(&mut net, 0, conn);
    assert_eq!(first.expires().unwrap(), Some(10));
    // RFC 4976 §4.6: 423 with Min-Expires; the AUTH is sent again with it.
    feed(
        &mut net,
        0,
        conn,
        &reply(&first, "423 Interval Out-of-Bounds", "Min-Expires: 60\r\n"),
    );
    let second = one(&mut net, 0, conn);
    assert_eq!(second.expires().unwrap(), Some(60));
    feed(
        &mut net,
        0,
        conn,
        &reply(&second, "401 Unauthorized", CHALLENGE),
    );
    let third = one(&mut net, 0, conn);
    assert_eq!(third.expires().unwrap(), Some(60));
    feed(
        &mut net,
        0,
        conn,
        &reply(
            &third,
            "200 OK",
            "Use-Path: msrp://127.0.0.1:2855/kr1;tcp\r\nExpires: 60\r\nAuthentication-Info: nextnonce=\"n2\"\r\n",
        ),
    );
    assert_eq!(authenticated(&net.events(0)).len(), 1);

    // Nothing before three quarters of the time granted; then the AUTH again, answering the
    // next nonce at once.
    net.advance(Duration::from_secs(44));
    assert!(written(&mut net, 0, conn).is_empty());
    net.advance(Duration::from_secs(1));
    let renewal = one(&mut net, 0, conn);
    assert_eq!(renewal.method().map(|m| m.as_str()), Some("AUTH"));
    let credentials = renewal.authorization().unwrap().unwrap();
    assert_eq!(credentials.get("nonce"), Some("n2"));
    assert_eq!(credentials.get("nc"), Some("00000001"));
    let renewed = "msrp://127.0.0.1:2855/kr2;tcp";
    feed(
        &mut net,
        0,
        conn,
        &reply(
            &renewal,
            "200 OK",
            &format!("Use-Path: {renewed}\r\nExpires: 60\r\n"),
        ),
    );
    let events = net.events(0);
    assert_eq!(
        authenticated(&events),
        vec![(format!("{renewed} {a}"), Some(Duration::from_secs(60)))]
    );
    // The session stayed bound and now sends along the new path.
    assert!(!bound(&events, alice));
    let send = alice_sends(&mut net, alice, 2, "again", conn);
    assert_eq!(
        send.to_path().unwrap().unwrap().as_str(),
        format!("{renewed} {}", uri(BOB_ADDR, "bob1"))
    );
    feed(&mut net, 0, conn, &reply(&send, "200 OK", ""));
    assert!(delivered(&net.events(0), MessageRef::new(2)));

    // A renewal the relay refuses fails the session, and its messages in flight.
    net.advance(Duration::from_secs(44));
    let now = net.now;
    net.ep(0).send(
        now,
        alice,
        MessageRef::new(3),
        OutgoingMessage::new("text/plain", "in flight"),
    );
    net.run();
    assert_eq!(
        one(&mut net, 0, conn).method().map(|m| m.as_str()),
        Some("SEND")
    );
    net.advance(Duration::from_secs(1));
    let renewal = one(&mut net, 0, conn);
    assert_eq!(renewal.method().map(|m| m.as_str()), Some("AUTH"));
    feed(&mut net, 0, conn, &reply(&renewal, "403 Forbidden", ""));
    let events = net.events(0);
    assert!(matches!(
        failure(&events, alice),
        Some(RelayErrorKind::Refused(code)) if code.as_u16() == 403
    ));
    assert_eq!(
        failed_by(&events, MessageRef::new(3)),
        Some(FailedBy::SessionClosed)
    );
}

#[test]
fn an_unanswered_auth_fails_the_session_in_time() {
    let mut net = alice();
    let (alice, conn) = alice_through_relay(&mut net, true);
    let first = one(&mut net, 0, conn);
    feed(
        &mut net,
        0,
        conn,
        &reply(&first, "401 Unauthorized", CHALLENGE),
    );
    assert_eq!(
        one(&mut net, 0, conn).method().map(|m| m.as_str()),
        Some("AUTH")
    );
    // The session's transaction timeout (30 s) for the retry.
    net.advance(Duration::from_secs(29));
    assert_eq!(failure(&net.events(0), alice), None);
    net.advance(Duration::from_secs(2));
    assert_eq!(
        failure(&net.events(0), alice),
        Some(RelayErrorKind::Timeout)
    );
    // A late response is ignored.
    feed(
        &mut net,
        0,
        conn,
        &reply(
            &first,
            "200 OK",
            "Use-Path: msrp://127.0.0.1:2855/k;tcp\r\n",
        ),
    );
    assert!(authenticated(&net.events(0)).is_empty());
}

#[test]
fn sessions_through_one_relay_share_its_connection_and_each_get_their_own_path() {
    let mut net = alice();
    let now = net.now;
    let one_id = net
        .ep(0)
        .open_session(
            now,
            through_relay(&uri(ALICE_ADDR, "alice1"), 1, vec![relay()]),
        )
        .unwrap();
    let conn = answer_connection(&mut net, 0);
    grant(&mut net, conn, "msrp://127.0.0.1:2855/kr1;tcp", "");
    // The active session's bodiless SEND, through the relay.
    let bind = one(&mut net, 0, conn);
    assert_eq!(bind.method().map(|m| m.as_str()), Some("SEND"));
    let now = net.now;
    let two_id = net
        .ep(0)
        .open_session(
            now,
            through_relay(&uri(ALICE_ADDR, "alice2"), 2, vec![relay()]),
        )
        .unwrap();
    net.run();
    // No second connection: the second session's AUTH goes on the first one.
    assert!(net.pending.is_empty());
    assert_eq!(net.nodes[0].connects, 1);
    grant(&mut net, conn, "msrp://127.0.0.1:2855/kr2;tcp", "");
    assert_eq!(net.ep(0).connection_of(one_id), Some(conn));
    assert_eq!(net.ep(0).connection_of(two_id), Some(conn));
    let paths = authenticated(&net.events(0));
    assert_eq!(paths.len(), 2);
    assert_ne!(paths[0].0, paths[1].0);
}

#[test]
fn a_lost_relay_connection_fails_the_sessions_authenticating_over_it() {
    let mut net = alice();
    let (alice, conn) = alice_through_relay(&mut net, false);
    let _ = one(&mut net, 0, conn);
    let now = net.now;
    net.ep(0).handle_lost(now, conn);
    net.run();
    let events = net.events(0);
    assert!(events.iter().any(|e| matches!(e,
        EndpointEvent::ConnectionClosed { sessions, .. } if sessions == &vec![alice])));
    assert!(events.iter().any(|e| matches!(e,
        EndpointEvent::Session(s, Event::SessionFailed(SessionFailure::ConnectionLost)) if *s == alice)));
    assert!(refused(&events, MessageRef::new(1)));
}

/// RFC 4976 §5.1's two relays: the AUTH to the outer relay goes through the inner one, and
/// the session's To-Path and advertised path hold both.
#[test]
fn two_relays_are_authenticated_through_each_other() {
    let mut net = alice();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let outer = Relay::new("msrp://extra.example.com:2856;tcp".parse().unwrap())
        .credentials(Credentials::new("alice", "other"));
    let alice = net
        .ep(0)
        .open_session(now, through_relay(&a, 1, vec![relay(), outer]))
        .unwrap();
    let conn = answer_connection(&mut net, 0);
    let inner = "msrp://127.0.0.1:2855/kr1;tcp";
    grant(&mut net, conn, inner, "");
    let to_outer = one(&mut net, 0, conn);
    assert_eq!(
        to_outer.to_path().unwrap().unwrap().as_str(),
        format!("{inner} msrp://extra.example.com:2856;tcp")
    );
    feed(
        &mut net,
        0,
        conn,
        &reply(&to_outer, "401 Unauthorized", CHALLENGE),
    );
    let answered = one(&mut net, 0, conn);
    assert_eq!(
        answered.authorization().unwrap().unwrap().get("uri"),
        Some("msrp://extra.example.com:2856;tcp")
    );
    let outer_granted = "msrp://extra.example.com:2856/ke1;tcp";
    feed(
        &mut net,
        0,
        conn,
        &reply(
            &answered,
            "200 OK",
            &format!("Use-Path: {inner} {outer_granted}\r\n"),
        ),
    );
    let events = net.events(0);
    // Advertised outermost first (RFC 4976 §5.1: "the client reverses the list").
    assert_eq!(
        authenticated(&events),
        vec![(format!("{outer_granted} {inner} {a}"), None)]
    );
    assert!(bound(&events, alice));
}

#[test]
fn a_relay_is_reached_over_tls_unless_plain_tcp_is_allowed() {
    let mut net = alice();
    let now = net.now;
    let config = common::config(&uri(ALICE_ADDR, "alice1"), &uri(BOB_ADDR, "bob1"), 1);
    let spec = SessionSpec::new(config, Role::Passive).through(vec![relay()]);
    assert!(matches!(
        net.ep(0).open_session(now, spec),
        Err(OpenError::PlainRelay)
    ));
    // An msrps relay needs a way to check its certificate.
    let config = common::config(&uri(ALICE_ADDR, "alice1"), &uri(BOB_ADDR, "bob1"), 1);
    let tls = Relay::new("msrps://relay.example.com:2855;tcp".parse().unwrap());
    let spec = SessionSpec::new(config, Role::Passive).through(vec![tls.clone()]);
    assert!(matches!(
        net.ep(0).open_session(now, spec),
        Err(OpenError::NoPeerCheck)
    ));
    let config = common::config(&uri(ALICE_ADDR, "alice1"), &uri(BOB_ADDR, "bob1"), 1);
    let spec = SessionSpec::new(config, Role::Passive)
        .through(vec![tls])
        .peer_check(PeerCheck::Fingerprints(Vec::new()));
    // A passive session through a relay connects to it all the same (RFC 6135 §4.5).
    net.ep(0).open_session(now, spec).unwrap();
    let Some(msrp_session::Action::Connect { target, .. }) = net.ep(0).poll_action() else {
        panic!("no connection to the relay");
    };
    assert_eq!(target.uri.as_str(), "msrps://relay.example.com:2855;tcp");
    assert!(target.tls.is_some());
}

/// The offerer's flow: its relay grants a path, which goes in its SDP offer; the peer's path
/// comes with the answer, and requests go along the Use-Path, then that path.
#[test]
fn the_peer_path_can_come_after_the_relay_granted_ours() {
    let mut net = alice();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let alice = net
        .ep(0)
        .open_session(now, in_role(Role::Passive, &a, 1, vec![relay()]))
        .unwrap();
    let conn = answer_connection(&mut net, 0);
    let granted = "msrp://127.0.0.1:2855/kr1;tcp";
    grant(&mut net, conn, granted, "");
    assert_eq!(
        authenticated(&net.events(0)),
        vec![(format!("{granted} {a}"), None)]
    );
    // The answer: Bob behind his own relay.
    let bob_path = "msrp://relay.example.org:2855/kb7;tcp msrp://bob.example.org:9/bob1;tcp";
    net.ep(0)
        .set_peer_path(alice, bob_path.parse().unwrap())
        .unwrap();
    let send = alice_sends(&mut net, alice, 1, "hi", conn);
    assert_eq!(
        send.to_path().unwrap().unwrap().as_str(),
        format!("{granted} {bob_path}")
    );
}
