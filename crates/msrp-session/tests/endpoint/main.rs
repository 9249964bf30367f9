//! The endpoint's decisions, without sockets: binding incoming connections to sessions (481,
//! 506, fingerprints), reuse, what waits for a connection, connection loss, timeouts and
//! shutdown, in a deterministic network with simulated time.

#[path = "../common/mod.rs"]
mod common;
mod net;
mod relay;

use std::time::Duration;

use msrp_session::{
    AcceptError, Action, ConnectionError, ConnectionId, EndpointConfig, EndpointEvent, Event,
    FailedBy, IncomingFailure, MessageRef, OpenError, OutgoingMessage, PeerCheck, Role,
    SessionFailure, SessionId, SessionSpec, fingerprint_of,
};
use msrp_wire::StatusCode;

use net::{Net, closed_error};

const BOB_ADDR: &str = "127.0.0.1:8888";
const ALICE_ADDR: &str = "127.0.0.1:7654";

fn uri(addr: &str, id: &str) -> String {
    format!("msrp://{addr}/{id};tcp")
}

fn active(local: &str, peer: &str, seed: u64) -> SessionSpec {
    SessionSpec::new(common::config(local, peer, seed), Role::Active)
}

fn passive(local: &str, peer: &str, seed: u64) -> SessionSpec {
    SessionSpec::new(common::config(local, peer, seed), Role::Passive)
}

/// A SEND as a peer writes it: a whole message of `body`, or a bodiless SEND when it is empty.
fn raw_send(tid: &str, to: &str, from: &str, body: &str) -> String {
    let head =
        format!("MSRP {tid} SEND\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\nMessage-ID: msg1\r\n");
    if body.is_empty() {
        format!("{head}Byte-Range: 1-0/0\r\n-------{tid}$\r\n")
    } else {
        let n = body.len();
        format!(
            "{head}Byte-Range: 1-{n}/{n}\r\nContent-Type: text/plain\r\n\r\n{body}\r\n-------{tid}$\r\n"
        )
    }
}

fn text(s: &'static str) -> OutgoingMessage {
    OutgoingMessage::new("text/plain", s)
}

/// Alice (node 0) and Bob (node 1), each listening on its address.
fn alice_and_bob() -> Net {
    let mut net = Net::new();
    net.node(ALICE_ADDR, EndpointConfig::default());
    net.node(BOB_ADDR, EndpointConfig::default());
    net
}

fn received(events: &[EndpointEvent]) -> Vec<(SessionId, Vec<u8>)> {
    events
        .iter()
        .filter_map(|e| match e {
            EndpointEvent::Session(s, Event::Message(m)) => Some((*s, m.body.to_vec())),
            _ => None,
        })
        .collect()
}

fn delivered(events: &[EndpointEvent], message: MessageRef) -> bool {
    events.iter().any(|e| {
        matches!(e, EndpointEvent::Outcome { message: m, outcome, .. }
            if *m == message && outcome.result.is_ok())
    })
}

fn failed_by(events: &[EndpointEvent], message: MessageRef) -> Option<FailedBy> {
    events.iter().find_map(|e| match e {
        EndpointEvent::Outcome {
            message: m,
            outcome,
            ..
        } if *m == message => outcome.result.as_ref().err().map(|f| f.by),
        _ => None,
    })
}

fn session_failure(events: &[EndpointEvent], session: SessionId) -> Option<SessionFailure> {
    events.iter().find_map(|e| match e {
        EndpointEvent::Session(s, Event::SessionFailed(why)) if *s == session => Some(why.clone()),
        _ => None,
    })
}

fn bound(events: &[EndpointEvent], session: SessionId) -> bool {
    events
        .iter()
        .any(|e| matches!(e, EndpointEvent::Bound { session: s, .. } if *s == session))
}

fn refused(events: &[EndpointEvent], message: MessageRef) -> bool {
    events
        .iter()
        .any(|e| matches!(e, EndpointEvent::Refused { message: m, .. } if *m == message))
}

#[test]
fn an_active_session_connects_binds_and_delivers() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let b = uri(BOB_ADDR, "bob1");
    let bob = net.ep(1).open_session(now, passive(&b, &a, 2)).unwrap();
    let alice = net.ep(0).open_session(now, active(&a, &b, 1)).unwrap();
    net.ep(0)
        .send(now, alice, MessageRef::new(7), text("Hi Bob"));
    net.run();
    let bob_events = net.events(1);
    let alice_events = net.events(0);
    assert!(bound(&bob_events, bob));
    assert!(bound(&alice_events, alice));
    assert_eq!(received(&bob_events), vec![(bob, b"Hi Bob".to_vec())]);
    assert!(delivered(&alice_events, MessageRef::new(7)));
    assert_eq!(net.nodes[0].connects, 1);
    assert_eq!(net.links.len(), 1);
    // Bob answers on the same connection.
    net.ep(1)
        .send(now, bob, MessageRef::new(8), text("Hi Alice"));
    net.run();
    assert_eq!(
        received(&net.events(0)),
        vec![(alice, b"Hi Alice".to_vec())]
    );
    assert!(delivered(&net.events(1), MessageRef::new(8)));
}

#[test]
fn messages_sent_before_the_peer_connects_wait_for_the_binding() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let b = uri(BOB_ADDR, "bob1");
    let bob = net.ep(1).open_session(now, passive(&b, &a, 2)).unwrap();
    for n in 1..=3 {
        net.ep(1).send(now, bob, MessageRef::new(n), text("queued"));
    }
    // Aborting one that waits refuses it at once; the others wait.
    net.ep(1).abort(now, bob, MessageRef::new(2));
    net.run();
    let events = net.events(1);
    assert!(refused(&events, MessageRef::new(2)));
    assert!(!refused(&events, MessageRef::new(1)));
    assert_eq!(net.ep(1).connection_of(bob), None);

    let alice = net.ep(0).open_session(now, active(&a, &b, 1)).unwrap();
    net.run();
    let events = net.events(1);
    assert!(bound(&events, bob));
    assert!(delivered(&events, MessageRef::new(1)));
    assert!(delivered(&events, MessageRef::new(3)));
    assert_eq!(received(&net.events(0)).len(), 2);
    assert!(net.ep(1).connection_of(bob).is_some());
    let _ = alice;
}

#[test]
fn a_request_for_an_unknown_session_gets_481() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    // Bob has no session "nobody".
    let alice = net
        .ep(0)
        .open_session(now, active(&a, &uri(BOB_ADDR, "nobody"), 1))
        .unwrap();
    net.ep(0)
        .send(now, alice, MessageRef::new(1), text("anyone?"));
    net.run();
    let events = net.events(0);
    assert_eq!(
        session_failure(&events, alice),
        Some(SessionFailure::Rejected(StatusCode::NO_SUCH_SESSION))
    );
    assert!(failed_by(&events, MessageRef::new(1)).is_some());
    assert!(received(&net.events(1)).is_empty());
}

#[test]
fn a_second_connection_for_a_bound_session_gets_506() {
    let mut net = alice_and_bob();
    let mallory = net.node("127.0.0.1:6666", EndpointConfig::default());
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let b = uri(BOB_ADDR, "bob1");
    let bob = net.ep(1).open_session(now, passive(&b, &a, 2)).unwrap();
    let alice = net.ep(0).open_session(now, active(&a, &b, 1)).unwrap();
    net.run();
    assert!(bound(&net.events(1), bob));
    // Another endpoint names the same session on a connection of its own.
    let other = net
        .ep(mallory)
        .open_session(now, active(&uri("127.0.0.1:6666", "m1"), &b, 3))
        .unwrap();
    net.run();
    assert_eq!(
        session_failure(&net.events(mallory), other),
        Some(SessionFailure::Rejected(StatusCode::WRONG_CONNECTION))
    );
    // The first binding holds.
    net.ep(0)
        .send(now, alice, MessageRef::new(1), text("still here"));
    net.run();
    assert!(delivered(&net.events(0), MessageRef::new(1)));
    assert_eq!(
        received(&net.events(1)),
        vec![(bob, b"still here".to_vec())]
    );
}

#[test]
fn a_raw_request_for_an_unknown_session_is_answered_481_and_the_connection_stays() {
    let mut net = alice_and_bob();
    let b = uri(BOB_ADDR, "bob1");
    let now = net.now;
    let bob = net
        .ep(1)
        .open_session(now, passive(&b, &uri(ALICE_ADDR, "alice1"), 2))
        .unwrap();
    let conn = net.accept_raw(1, None);
    let request = raw_send(
        "tid1",
        &uri(BOB_ADDR, "unknown"),
        &uri(ALICE_ADDR, "alice1"),
        "hi",
    );
    net.ep(1).handle_input(now, conn, request.as_bytes());
    let out = String::from_utf8(net.output(1, conn)).unwrap();
    assert!(out.starts_with("MSRP tid1 481"), "{out}");
    // The session is still free: a request naming it on the same connection binds it.
    let request = request.replace("unknown", "bob1").replace("tid1", "tid2");
    net.ep(1).handle_input(now, conn, request.as_bytes());
    let out = String::from_utf8(net.output(1, conn)).unwrap();
    assert!(out.starts_with("MSRP tid2 200"), "{out}");
    let events = net.events(1);
    assert!(bound(&events, bob));
    assert_eq!(received(&events), vec![(bob, b"hi".to_vec())]);
}

#[test]
fn sessions_to_the_same_peer_share_one_connection() {
    let mut net = alice_and_bob();
    let now = net.now;
    let mut sessions = Vec::new();
    for n in 0..5 {
        let a = uri(ALICE_ADDR, &format!("alice{n}"));
        let b = uri(BOB_ADDR, &format!("bob{n}"));
        net.ep(1)
            .open_session(now, passive(&b, &a, 100 + n))
            .unwrap();
        sessions.push(net.ep(0).open_session(now, active(&a, &b, n)).unwrap());
    }
    net.run();
    assert_eq!(net.nodes[0].connects, 1);
    assert_eq!(net.links.len(), 1);
    let connection = net.ep(0).connection_of(sessions[0]).unwrap();
    assert!(
        sessions
            .iter()
            .all(|s| net.ep(0).connection_of(*s) == Some(connection))
    );
    for (n, s) in sessions.iter().enumerate() {
        net.ep(0)
            .send(now, *s, MessageRef::new(n as u64), text("shared"));
    }
    net.run();
    assert_eq!(received(&net.events(1)).len(), 5);
}

#[test]
fn a_session_that_asks_for_its_own_connection_gets_one() {
    let mut net = alice_and_bob();
    let now = net.now;
    for n in 0..2 {
        let a = uri(ALICE_ADDR, &format!("alice{n}"));
        let b = uri(BOB_ADDR, &format!("bob{n}"));
        net.ep(1)
            .open_session(now, passive(&b, &a, 100 + n))
            .unwrap();
        net.ep(0)
            .open_session(now, active(&a, &b, n).new_connection())
            .unwrap();
    }
    net.run();
    assert_eq!(net.nodes[0].connects, 2);
    assert_eq!(net.links.len(), 2);
}

#[test]
fn reuse_keys_on_host_port_scheme_and_the_certificate_check() {
    let mut net = Net::new();
    net.node(ALICE_ADDR, EndpointConfig::default());
    let now = net.now;
    let open = |net: &mut Net, peer: &str, n: u64, check: PeerCheck| {
        let local = uri(ALICE_ADDR, &format!("a{n}"));
        net.ep(0)
            .open_session(now, active(&local, peer, n).peer_check(check))
            .unwrap()
    };
    let fp1 = PeerCheck::Fingerprints(vec![fingerprint_of(b"one")]);
    let fp2 = PeerCheck::Fingerprints(vec![fingerprint_of(b"two")]);
    let s = [
        open(
            &mut net,
            "msrp://bob.example.com:8888/b1;tcp",
            1,
            PeerCheck::None,
        ),
        // The same host in other case: the same peer.
        open(
            &mut net,
            "msrp://BOB.example.com:8888/b2;tcp",
            2,
            PeerCheck::None,
        ),
        // Another port.
        open(
            &mut net,
            "msrp://bob.example.com:8889/b3;tcp",
            3,
            PeerCheck::None,
        ),
        // Another scheme.
        open(
            &mut net,
            "msrps://bob.example.com:8888/b4;tcp",
            4,
            fp1.clone(),
        ),
        // The same scheme checked the same way.
        open(&mut net, "msrps://bob.example.com:8888/b5;tcp", 5, fp1),
        // Checked another way: a connection of its own.
        open(&mut net, "msrps://bob.example.com:8888/b6;tcp", 6, fp2),
    ];
    let c: Vec<_> = s
        .iter()
        .map(|s| net.ep(0).connection_of(*s).unwrap())
        .collect();
    assert_eq!(c[0], c[1]);
    assert_ne!(c[0], c[2]);
    assert_ne!(c[0], c[3]);
    assert_eq!(c[3], c[4]);
    assert_ne!(c[3], c[5]);
    let connects: Vec<_> = std::iter::from_fn(|| net.ep(0).poll_action())
        .filter_map(|a| match a {
            Action::Connect { target, .. } => Some(target),
            _ => None,
        })
        .collect();
    assert_eq!(connects.len(), 4);
    assert_eq!(connects[0].host_port(), Some(("bob.example.com", 8888)));
    assert!(connects[0].addr.is_none() && connects[0].tls.is_none());
    assert!(matches!(connects[2].tls, Some(PeerCheck::Fingerprints(_))));
}

#[test]
fn an_active_msrps_session_needs_a_certificate_check() {
    let mut net = alice_and_bob();
    let now = net.now;
    let spec = active(
        "msrps://127.0.0.1:7654/a1;tcp",
        "msrps://127.0.0.1:8888/b1;tcp",
        1,
    );
    assert!(matches!(
        net.ep(0).open_session(now, spec),
        Err(OpenError::NoPeerCheck)
    ));
    // A passive one may take any client.
    let spec = passive(
        "msrps://127.0.0.1:8888/b1;tcp",
        "msrps://127.0.0.1:7654/a1;tcp",
        2,
    );
    net.ep(1).open_session(now, spec).unwrap();
    // Two sessions with one session-id cannot be.
    let spec = passive(
        "msrps://127.0.0.1:8888/b1;tcp",
        "msrps://127.0.0.1:7654/a2;tcp",
        3,
    );
    assert!(matches!(
        net.ep(1).open_session(now, spec),
        Err(OpenError::Duplicate)
    ));
}

#[test]
fn a_passive_msrps_session_binds_only_the_certificate_its_sdp_names() {
    let mut net = alice_and_bob();
    let now = net.now;
    let alice_fp = fingerprint_of(&net.nodes[0].certificate);
    let bob_fp = fingerprint_of(&net.nodes[1].certificate);
    let a = "msrps://127.0.0.1:7654/a1;tcp";
    let b = "msrps://127.0.0.1:8888/b1;tcp";
    let bob = net
        .ep(1)
        .open_session(
            now,
            passive(b, a, 2).peer_check(PeerCheck::Fingerprints(vec![alice_fp])),
        )
        .unwrap();
    let alice = net
        .ep(0)
        .open_session(
            now,
            active(a, b, 1).peer_check(PeerCheck::Fingerprints(vec![bob_fp])),
        )
        .unwrap();
    net.ep(0)
        .send(now, alice, MessageRef::new(1), text("secure"));
    net.run();
    assert_eq!(received(&net.events(1)), vec![(bob, b"secure".to_vec())]);
    assert!(delivered(&net.events(0), MessageRef::new(1)));
}

#[test]
fn a_wrong_client_certificate_tears_the_session_down() {
    let mut net = alice_and_bob();
    let now = net.now;
    let b = "msrps://127.0.0.1:8888/b1;tcp";
    let a = "msrps://127.0.0.1:7654/a1;tcp";
    let expected = PeerCheck::Fingerprints(vec![fingerprint_of(b"someone else")]);
    let bob = net
        .ep(1)
        .open_session(now, passive(b, a, 2).peer_check(expected))
        .unwrap();
    net.ep(1)
        .send(now, bob, MessageRef::new(5), text("for alice only"));
    let conn = net.accept_raw(1, Some(b"mallory's certificate"));
    let request = raw_send("tid1", b, a, "");
    net.ep(1).handle_input(now, conn, request.as_bytes());
    net.run();
    let events = net.events(1);
    assert_eq!(closed_error(&events), Some(&ConnectionError::Fingerprint));
    assert!(refused(&events, MessageRef::new(5)));
    assert!(session_failure(&events, bob).is_some());
    assert!(net.nodes[1].closed.contains(&conn));
    // RFC 4975 §14.4: the session is torn down, not left for another try.
    assert_eq!(net.ep(1).session_count(), 0);

    // A connection without any certificate matches no fingerprint either.
    let bob = net
        .ep(1)
        .open_session(
            now,
            passive(b, a, 3).peer_check(PeerCheck::Fingerprints(vec![fingerprint_of(b"x")])),
        )
        .unwrap();
    let conn = net.accept_raw(1, None);
    net.ep(1).handle_input(now, conn, request.as_bytes());
    net.run();
    let events = net.events(1);
    assert_eq!(closed_error(&events), Some(&ConnectionError::Fingerprint));
    assert!(session_failure(&events, bob).is_some());
}

#[test]
fn a_lost_connection_fails_every_message_in_flight_and_every_session_on_it() {
    let mut net = alice_and_bob();
    let now = net.now;
    let mut alice_sessions = Vec::new();
    for n in 0..2 {
        let a = uri(ALICE_ADDR, &format!("alice{n}"));
        let b = uri(BOB_ADDR, &format!("bob{n}"));
        net.ep(1)
            .open_session(now, passive(&b, &a, 100 + n))
            .unwrap();
        let s = net.ep(0).open_session(now, active(&a, &b, n)).unwrap();
        alice_sessions.push(s);
    }
    net.run();
    net.events(0);
    // Messages leave, but the link breaks before any answer comes back.
    let connection = net.ep(0).connection_of(alice_sessions[0]).unwrap();
    for (n, s) in alice_sessions.iter().enumerate() {
        net.ep(0)
            .send(now, *s, MessageRef::new(n as u64), text("in flight"));
    }
    let mut pieces = Vec::new();
    assert!(
        net.ep(0)
            .poll_transmit(now, connection, usize::MAX, &mut pieces)
            > 0
    );
    let link = net.links[0];
    net.cut(link);
    let events = net.events(0);
    // The connection's end comes first, naming its sessions.
    match &events[0] {
        EndpointEvent::ConnectionClosed {
            sessions, error, ..
        } => {
            assert_eq!(sessions, &alice_sessions);
            assert_eq!(error, &ConnectionError::Lost);
        }
        other => panic!("{other:?}"),
    }
    for (n, s) in alice_sessions.iter().enumerate() {
        assert_eq!(
            failed_by(&events, MessageRef::new(n as u64)),
            Some(FailedBy::ConnectionLost)
        );
        assert_eq!(
            session_failure(&events, *s),
            Some(SessionFailure::ConnectionLost)
        );
    }
    assert_eq!(net.ep(0).session_count(), 0);
    assert_eq!(net.ep(0).connection_count(), 0);
    assert!(net.nodes[0].closed.contains(&connection));
    // Bob's sessions fail too.
    assert_eq!(net.ep(1).session_count(), 0);
    // Later sends to a failed session are refused.
    net.ep(0)
        .send(now, alice_sessions[0], MessageRef::new(9), text("late"));
    assert!(refused(&net.events(0), MessageRef::new(9)));
}

#[test]
fn a_refused_connection_fails_its_sessions() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let s = net
        .ep(0)
        .open_session(now, active(&a, &uri("127.0.0.1:9", "nobody"), 1))
        .unwrap();
    net.ep(0).send(now, s, MessageRef::new(1), text("x"));
    net.run();
    let events = net.events(0);
    assert_eq!(closed_error(&events), Some(&ConnectionError::Lost));
    assert_eq!(
        failed_by(&events, MessageRef::new(1)),
        Some(FailedBy::ConnectionLost)
    );
    assert!(session_failure(&events, s).is_some());
}

#[test]
fn a_connection_not_set_up_in_time_is_closed() {
    let mut net = alice_and_bob();
    net.silent.insert("127.0.0.1:7000".parse().unwrap());
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let s = net
        .ep(0)
        .open_session(now, active(&a, &uri("127.0.0.1:7000", "b"), 1))
        .unwrap();
    net.run();
    assert_eq!(net.pending.len(), 1);
    net.advance(Duration::from_secs(9));
    assert!(net.events(0).is_empty());
    net.advance(Duration::from_secs(1));
    let events = net.events(0);
    assert_eq!(closed_error(&events), Some(&ConnectionError::SetupTimeout));
    assert!(session_failure(&events, s).is_some());
    assert!(net.pending.is_empty());

    // An incoming connection that names no session in time is closed too.
    let conn = net.accept_raw(1, None);
    net.advance(Duration::from_secs(9));
    assert!(!net.nodes[1].closed.contains(&conn));
    net.advance(Duration::from_secs(1));
    assert!(net.nodes[1].closed.contains(&conn));
}

#[test]
fn an_unused_connection_is_kept_for_reuse_then_closed() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let b = uri(BOB_ADDR, "bob1");
    net.ep(1).open_session(now, passive(&b, &a, 2)).unwrap();
    let s = net.ep(0).open_session(now, active(&a, &b, 1)).unwrap();
    net.run();
    let connection = net.ep(0).connection_of(s).unwrap();
    net.ep(0).close_session(now, s);
    net.run();
    assert_eq!(net.ep(0).connection_count(), 1);
    // 59 s later a new session to Bob reuses it, which starts the clock again.
    net.advance(Duration::from_secs(59));
    let a2 = uri(ALICE_ADDR, "alice2");
    let b2 = uri(BOB_ADDR, "bob2");
    let now = net.now;
    net.ep(1).open_session(now, passive(&b2, &a2, 4)).unwrap();
    let s2 = net.ep(0).open_session(now, active(&a2, &b2, 3)).unwrap();
    assert_eq!(net.ep(0).connection_of(s2), Some(connection));
    net.run();
    assert!(bound(&net.events(0), s2));
    let now = net.now;
    net.ep(0).close_session(now, s2);
    net.advance(Duration::from_secs(59));
    assert!(!net.nodes[0].closed.contains(&connection));
    net.advance(Duration::from_secs(1));
    assert!(net.nodes[0].closed.contains(&connection));
    assert_eq!(net.ep(0).connection_count(), 0);
}

#[test]
fn closing_a_session_fails_its_messages_and_frees_its_id() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let b = uri(BOB_ADDR, "bob1");
    net.ep(1).open_session(now, passive(&b, &a, 2)).unwrap();
    let s = net.ep(0).open_session(now, active(&a, &b, 1)).unwrap();
    net.ep(0)
        .send(now, s, MessageRef::new(1), text("unanswered"));
    net.ep(0).close_session(now, s);
    let events = net.events(0);
    assert_eq!(
        failed_by(&events, MessageRef::new(1)),
        Some(FailedBy::SessionClosed)
    );
    assert_eq!(net.ep(0).session_count(), 0);
    assert_eq!(net.ep(0).session_id(s), None);
    // The same session-id may be opened again.
    net.ep(0).open_session(now, active(&a, &b, 3)).unwrap();
}

#[test]
fn a_framing_error_closes_the_connection_and_fails_its_sessions() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let b = uri(BOB_ADDR, "bob1");
    let bob = net.ep(1).open_session(now, passive(&b, &a, 2)).unwrap();
    let conn = net.accept_raw(1, None);
    let request = raw_send("tid1", &b, &a, "");
    net.ep(1).handle_input(now, conn, request.as_bytes());
    net.ep(1).handle_input(now, conn, b"this is not MSRP\r\n");
    net.run();
    let events = net.events(1);
    assert!(bound(&events, bob));
    assert!(matches!(
        session_failure(&events, bob),
        Some(SessionFailure::Framing(_))
    ));
    assert!(net.nodes[1].closed.contains(&conn));
}

#[test]
fn shutdown_refuses_new_work_and_finish_closes_everything() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let b = uri(BOB_ADDR, "bob1");
    let waiting = net
        .ep(1)
        .open_session(now, passive(&uri(BOB_ADDR, "later"), &a, 5))
        .unwrap();
    net.ep(1).open_session(now, passive(&b, &a, 2)).unwrap();
    let s = net.ep(0).open_session(now, active(&a, &b, 1)).unwrap();
    net.run();
    net.events(1);
    net.ep(1).shutdown(now);
    assert!(net.ep(1).is_shutting_down());
    assert!(matches!(
        net.ep(1)
            .open_session(now, passive(&uri(BOB_ADDR, "x"), &a, 6)),
        Err(OpenError::Shutdown)
    ));
    assert!(
        net.ep(1)
            .handle_accept(now, "127.0.0.1:1".parse().unwrap())
            .is_err()
    );
    assert!(net.ep(1).is_idle());
    // The grace runs out: what is left closes.
    net.advance(Duration::from_secs(5));
    let events = net.events(1);
    assert_eq!(closed_error(&events), Some(&ConnectionError::Shutdown));
    assert_eq!(
        session_failure(&events, waiting),
        Some(SessionFailure::ConnectionLost)
    );
    assert!(net.ep(1).is_finished());
    // Alice's side of the connection is lost.
    assert!(session_failure(&net.events(0), s).is_some());
}

#[test]
fn the_connection_limit_holds_for_incoming_and_outgoing_connections() {
    let mut net = Net::new();
    let mut config = EndpointConfig::default();
    config.max_connections = 2;
    net.node(ALICE_ADDR, config);
    let now = net.now;
    // An incoming connection that binds a session, and an outgoing one: the endpoint is full,
    // and neither may give way.
    let local = uri(ALICE_ADDR, "here1");
    let peer = uri(BOB_ADDR, "there1");
    net.ep(0)
        .open_session(now, passive(&local, &peer, 3))
        .unwrap();
    let conn = net.accept_raw(0, None);
    let request = raw_send("tid1", &local, &peer, "");
    net.ep(0).handle_input(now, conn, request.as_bytes());
    net.ep(0)
        .open_session(now, active(&uri(ALICE_ADDR, "a1"), &uri(BOB_ADDR, "b1"), 1))
        .unwrap();
    assert_eq!(
        net.ep(0).handle_accept(now, "127.0.0.1:1".parse().unwrap()),
        Err(AcceptError::TooManyConnections)
    );
    assert!(matches!(
        net.ep(0).open_session(
            now,
            active(&uri(ALICE_ADDR, "a2"), &uri("127.0.0.1:1", "b2"), 2)
        ),
        Err(OpenError::TooManyConnections)
    ));
}

#[test]
fn a_thousand_sessions_over_one_connection_each_deliver() {
    let mut net = alice_and_bob();
    let now = net.now;
    let mut sessions = Vec::new();
    for n in 0..1000u64 {
        let a = uri(ALICE_ADDR, &format!("alice{n}"));
        let b = uri(BOB_ADDR, &format!("bob{n}"));
        net.ep(1)
            .open_session(now, passive(&b, &a, 5000 + n))
            .unwrap();
        let s = net.ep(0).open_session(now, active(&a, &b, n)).unwrap();
        net.ep(0)
            .send(now, s, MessageRef::new(n), text("one of many"));
        sessions.push(s);
    }
    net.run();
    assert_eq!(net.links.len(), 1);
    assert_eq!(received(&net.events(1)).len(), 1000);
    let events = net.events(0);
    assert!((0..1000).all(|n| delivered(&events, MessageRef::new(n))));
}

#[test]
fn names_of_gone_sessions_and_connections_find_nothing() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let b = uri(BOB_ADDR, "bob1");
    let s = net.ep(1).open_session(now, passive(&b, &a, 1)).unwrap();
    net.ep(1).close_session(now, s);
    let events = net.events(1);
    assert_eq!(
        session_failure(&events, s),
        Some(SessionFailure::ConnectionLost)
    );
    let again = net.ep(1).open_session(now, passive(&b, &a, 2)).unwrap();
    assert_ne!(s, again);
    net.ep(1)
        .send(now, s, MessageRef::new(1), text("to the old one"));
    assert!(refused(&net.events(1), MessageRef::new(1)));
    assert_eq!(net.ep(1).session_id(again), Some("bob1"));
}

#[test]
fn nothing_is_read_before_a_connection_is_established() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let b = uri(BOB_ADDR, "bob1");
    let bob = net.ep(1).open_session(now, passive(&b, &a, 2)).unwrap();
    let conn = net
        .ep(1)
        .handle_accept(now, "192.0.2.9:5000".parse().unwrap())
        .unwrap();
    assert!(!net.ep(1).wants_read(conn));
    let request = raw_send("tid1", &b, &a, "");
    // Dropped: the endpoint does not know yet who the peer is (nor its certificate).
    net.ep(1).handle_input(now, conn, request.as_bytes());
    let read = net.ep(1).fill(now, conn, 64, |_| -> Result<usize, ()> {
        panic!("nothing is read")
    });
    assert_eq!(read, Ok(0));
    assert!(!bound(&net.events(1), bob));
    net.ep(1)
        .handle_established(now, conn, "192.0.2.9:5000".parse().unwrap(), None);
    assert!(net.ep(1).wants_read(conn));
    net.ep(1).handle_input(now, conn, request.as_bytes());
    assert!(bound(&net.events(1), bob));
}

#[test]
fn a_request_naming_the_session_id_at_another_uri_gets_481_and_binds_nothing() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let b = uri(BOB_ADDR, "bob1");
    let bob = net.ep(1).open_session(now, passive(&b, &a, 2)).unwrap();
    // Mallory knows the session-id, not the URI: another host, another port, another scheme.
    for (n, to) in [
        "msrp://192.0.2.99:8888/bob1;tcp",
        "msrp://127.0.0.1:8889/bob1;tcp",
        "msrps://127.0.0.1:8888/bob1;tcp",
    ]
    .into_iter()
    .enumerate()
    {
        let conn = net.accept_raw(1, None);
        let request = raw_send(&format!("evil{n}"), to, &a, "hi");
        net.ep(1).handle_input(now, conn, request.as_bytes());
        let out = String::from_utf8(net.output(1, conn)).unwrap();
        assert!(out.starts_with(&format!("MSRP evil{n} 481")), "{to}: {out}");
        assert_eq!(net.ep(1).connection_of(bob), None, "{to}");
    }
    // The legitimate peer binds it.
    let alice = net.ep(0).open_session(now, active(&a, &b, 1)).unwrap();
    net.ep(0)
        .send(now, alice, MessageRef::new(1), text("it is me"));
    net.run();
    assert!(delivered(&net.events(0), MessageRef::new(1)));
    assert_eq!(received(&net.events(1)), vec![(bob, b"it is me".to_vec())]);
    // Mallory's connections, bound to nothing, are closed when their time to name a session
    // runs out.
    assert_eq!(net.ep(1).connection_count(), 4);
    net.advance(Duration::from_secs(10));
    assert_eq!(net.ep(1).connection_count(), 1);
}

#[test]
fn a_flood_of_idle_connections_gives_way_to_newcomers_and_each_address_has_a_limit() {
    let mut net = Net::new();
    let mut config = EndpointConfig::default();
    config.max_connections = 4;
    config.max_connections_per_address = 3;
    net.node(BOB_ADDR, config);
    let now = net.now;
    let b = uri(BOB_ADDR, "bob1");
    let a = uri(ALICE_ADDR, "alice1");
    let bob = net.ep(0).open_session(now, passive(&b, &a, 2)).unwrap();
    let from = |host: u8, port: u16| std::net::SocketAddr::from(([192, 0, 2, host], port));
    // A legitimate peer binds the session on the first connection.
    let legit = net.ep(0).handle_accept(now, from(1, 1000)).unwrap();
    net.ep(0)
        .handle_established(now, legit, from(1, 1000), None);
    let request = raw_send("tid1", &b, &a, "");
    net.ep(0).handle_input(now, legit, request.as_bytes());
    assert_eq!(net.ep(0).connection_of(bob), Some(legit));
    // An attacker opens idle connections from one address: the third is its last.
    let mut idle = Vec::new();
    for port in 0..3 {
        idle.push(net.ep(0).handle_accept(now, from(66, port)).unwrap());
    }
    assert_eq!(
        net.ep(0).handle_accept(now, from(66, 9)),
        Err(AcceptError::TooManyFromAddress)
    );
    // The endpoint is full. A newcomer from elsewhere is taken, and the oldest connection that
    // bound nothing makes room; the bound one stays.
    let newcomer = net.ep(0).handle_accept(now, from(7, 7000)).unwrap();
    assert_eq!(net.ep(0).connection_count(), 4);
    let closed: Vec<_> = std::iter::from_fn(|| net.ep(0).poll_action())
        .filter_map(|a| match a {
            Action::Close(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(closed, vec![idle[0]]);
    assert_eq!(net.ep(0).connection_of(bob), Some(legit));
    // Its address may open one more now.
    net.ep(0).handle_accept(now, from(66, 10)).unwrap();
    let _ = newcomer;
}

#[test]
fn a_transfer_that_keeps_moving_never_times_out_and_a_stopped_peer_fails_it_in_time() {
    let mut net = alice_and_bob();
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let b = uri(BOB_ADDR, "bob1");
    net.ep(1).open_session(now, passive(&b, &a, 2)).unwrap();
    let alice = net.ep(0).open_session(now, active(&a, &b, 1)).unwrap();
    net.run();
    // A long transfer that moves a little every 20 s: slower than any timeout, never stalled.
    let body = vec![b'x'; 1 << 20];
    net.ep(0).send(
        now,
        alice,
        MessageRef::new(1),
        OutgoingMessage::new("text/plain", body),
    );
    let connection = net.ep(0).connection_of(alice).unwrap();
    let bob_side = net.links[0].server;
    for _ in 0..9 {
        let now = net.now;
        let mut pieces = Vec::new();
        let n = net
            .ep(0)
            .poll_transmit(now, connection, 64 << 10, &mut pieces);
        assert!(n > 0);
        for piece in pieces {
            net.ep(1).handle_input(now, bob_side.1, &piece);
        }
        net.now += Duration::from_secs(20);
        let now = net.now;
        net.ep(0).handle_timeout(now);
        net.ep(1).handle_timeout(now);
    }
    assert!(
        net.nodes[0].closed.is_empty(),
        "a moving transfer was closed"
    );
    // Bob's process stops: nothing Alice has is taken any more. About 30 s after output last
    // left (20 s ago), the send fails, saying why.
    net.frozen.insert(1);
    net.advance(Duration::from_secs(9));
    assert!(net.nodes[0].closed.is_empty());
    net.advance(Duration::from_secs(2));
    let events = net.events(0);
    assert_eq!(closed_error(&events), Some(&ConnectionError::Stalled));
    assert_eq!(
        failed_by(&events, MessageRef::new(1)),
        Some(FailedBy::ConnectionLost)
    );
}

/// Feeds Bob (node 1) on `conn` a chunk from `alice1` of `len` bytes at offset 1000 of a message
/// whose first 1000 bytes never come; returns the status codes of Bob's answers.
fn gapped(
    net: &mut Net,
    to: &str,
    conn: ConnectionId,
    tid: &str,
    mid: &str,
    len: usize,
) -> Vec<StatusCode> {
    let now = net.now;
    let from = uri(ALICE_ADDR, "alice1");
    let chunk = common::RawChunk {
        to,
        from: &from,
        offset: 1000,
        total: Some(1 << 20),
        flag: msrp_wire::Flag::Continued,
        ..common::RawChunk::new(tid, mid)
    };
    net.ep(1)
        .handle_input(now, conn, &chunk.encode(&vec![b'x'; len]));
    let out = net.output(1, conn);
    common::frames(&out)
        .iter()
        .filter_map(|f| f.status_code())
        .collect()
}

#[test]
fn the_sessions_of_an_endpoint_share_one_bound_on_bytes_beyond_gaps() {
    let mut net = Net::new();
    net.node(ALICE_ADDR, EndpointConfig::default());
    let mut config = EndpointConfig::default();
    config.max_gap_bytes = 15_000;
    net.node(BOB_ADDR, config);
    let now = net.now;
    let a = uri(ALICE_ADDR, "alice1");
    let (b1, b2) = (uri(BOB_ADDR, "bob1"), uri(BOB_ADDR, "bob2"));
    // Each session alone would let 16 MiB through beyond gaps (its default limit).
    let first = net.ep(1).open_session(now, passive(&b1, &a, 2)).unwrap();
    let second = net.ep(1).open_session(now, passive(&b2, &a, 3)).unwrap();
    let (c1, c2) = (net.accept_raw(1, None), net.accept_raw(1, None));
    let ok = [StatusCode::OK];
    assert_eq!(gapped(&mut net, &b1, c1, "tx-one", "msg-1", 10_000), ok);
    assert_eq!(gapped(&mut net, &b2, c2, "tx-two", "msg-2", 5_000), ok);
    assert_eq!(net.ep(1).gap_bytes(), 15_000);
    // One byte more, on either session, takes the endpoint past its bound: RFC 4975 §10.5, "A
    // 413 response indicates that the receiver wishes the sender to stop sending the
    // particular message."
    let too_large = [StatusCode::MESSAGE_TOO_LARGE];
    assert_eq!(gapped(&mut net, &b2, c2, "tx-three", "msg-3", 1), too_large);
    assert_eq!(gapped(&mut net, &b1, c1, "tx-four", "msg-4", 1), too_large);
    assert_eq!(net.ep(1).gap_bytes(), 15_000);
    let given_up: Vec<SessionId> = net
        .events(1)
        .iter()
        .filter_map(|e| match e {
            EndpointEvent::Session(s, Event::MessageEnd(end))
                if end.result == Err(IncomingFailure::TooLarge) =>
            {
                Some(*s)
            }
            _ => None,
        })
        .collect();
    assert_eq!(given_up, [second, first]);
    // The first session's connection goes: its message ends and gives its bytes back, so the
    // same size fits now.
    net.ep(1).handle_lost(now, c1);
    assert_eq!(net.ep(1).gap_bytes(), 5_000);
    assert_eq!(gapped(&mut net, &b2, c2, "tx-five", "msg-5", 10_000), ok);
    assert_eq!(net.ep(1).gap_bytes(), 15_000);
    net.ep(1).finish(now);
    assert_eq!(
        net.ep(1).gap_bytes(),
        0,
        "an endpoint that shut down holds nothing"
    );
}
