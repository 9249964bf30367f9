//! The relay's rules (RFC 4976 §6), checked in an in-memory network whose clients are
//! msrp-session endpoints and raw connections written by hand.

mod net;

use std::time::Duration;

use msrp_relay::{CloseReason, RelayConfig, RelayEvent, RelayIdentity, Users};
use msrp_session::{
    Credentials, EndpointEvent, Event, FailedBy, MessageRef, OutgoingMessage, Relay,
    RelayErrorKind, Role, SessionConfig, SessionFailure, SessionId, SessionSpec,
};

use msrp_wire::{FailureReport, Flag};
use net::{Conn, Net, random};

const RELAY_ADDR: &str = "127.0.0.1:2855";
const RELAY: &str = "msrp://127.0.0.1:2855;tcp";
const ALICE_ADDR: &str = "127.0.0.1:7001";
const BOB_ADDR: &str = "127.0.0.1:7002";
/// What a session knows of its peer before the peer's path is known.
const NOBODY: &str = "msrp://nobody.invalid:9/nobody;tcp";

fn uri(addr: &str, id: &str) -> String {
    format!("msrp://{addr}/{id};tcp")
}

/// A relay (node 0), Alice (node 1) and Bob (node 2).
fn network(config: RelayConfig) -> Net {
    let mut net = Net::new();
    net.relay(RELAY_ADDR, config, 7);
    net.endpoint(ALICE_ADDR);
    net.endpoint(BOB_ADDR);
    net
}

fn relay_config() -> RelayConfig {
    RelayConfig::new("127.0.0.1", 2855)
}

fn with_users() -> RelayConfig {
    let mut config = relay_config();
    let mut users = Users::new();
    users.insert("alice", "xyz123");
    users.insert("bob", "s3cret");
    config.users = Some(users);
    config.realm = "msrp-test".into();
    config
}

/// Opens a session on `node` through the relay; returns it.
fn open(
    net: &mut Net,
    node: usize,
    local: &str,
    peer: &str,
    role: Role,
    relay: Relay,
    seed: u64,
) -> SessionId {
    let mut config =
        SessionConfig::new(local.parse().unwrap(), peer.parse().unwrap(), random(seed));
    if peer == NOBODY {
        // A listener takes whoever names its session.
        config.from_path_check = msrp_session::FromPathCheck::Off;
    }
    let spec = SessionSpec::new(config, role)
        .through(vec![relay])
        .allow_plain_relay();
    let now = net.now;
    let session = net.ep(node).open_session(now, spec).unwrap();
    net.run();
    session
}

fn relay_with(user: &str, password: &str) -> Relay {
    Relay::new(RELAY.parse().unwrap()).credentials(Credentials::new(user, password))
}

/// The path a session was granted, from its node's events.
fn granted(events: &[EndpointEvent], session: SessionId) -> Option<String> {
    events.iter().find_map(|e| match e {
        EndpointEvent::Authenticated {
            session: s, path, ..
        } if *s == session => Some(path.to_string()),
        _ => None,
    })
}

fn relay_failure(events: &[EndpointEvent], session: SessionId) -> Option<RelayErrorKind> {
    events.iter().find_map(|e| match e {
        EndpointEvent::Session(s, Event::SessionFailed(SessionFailure::Relay(error)))
            if *s == session =>
        {
            Some(error.kind.clone())
        }
        _ => None,
    })
}

/// The messages received, whole or in pieces, in the order they completed.
fn received(events: &[EndpointEvent]) -> Vec<Vec<u8>> {
    let mut open: std::collections::HashMap<msrp_session::IncomingKey, Vec<u8>> =
        Default::default();
    let mut done = Vec::new();
    for event in events {
        match event {
            EndpointEvent::Session(_, Event::Message(m)) => done.push(m.body.to_vec()),
            EndpointEvent::Session(_, Event::MessageStart(s)) => {
                open.insert(s.key, Vec::new());
            }
            EndpointEvent::Session(_, Event::MessageData(d)) => {
                let body = open.entry(d.key).or_default();
                let at = d.offset as usize;
                if body.len() < at + d.data.len() {
                    body.resize(at + d.data.len(), 0);
                }
                body[at..at + d.data.len()].copy_from_slice(&d.data);
            }
            EndpointEvent::Session(_, Event::MessageEnd(end)) => {
                if let (Some(body), Ok(_)) = (open.remove(&end.key), &end.result) {
                    done.push(body);
                }
            }
            _ => {}
        }
    }
    done
}

fn outcome(
    events: &[EndpointEvent],
    message: MessageRef,
) -> Option<Result<msrp_session::Delivered, msrp_session::Failure>> {
    events.iter().find_map(|e| match e {
        EndpointEvent::Outcome {
            message: m,
            outcome,
            ..
        } if *m == message => Some(outcome.result.clone()),
        _ => None,
    })
}

/// Bob (node 2) listens directly on his address, for whoever names `bob_uri`.
fn listen_directly(net: &mut Net, bob_uri: &str) -> SessionId {
    let mut config =
        SessionConfig::new(bob_uri.parse().unwrap(), NOBODY.parse().unwrap(), random(2));
    config.from_path_check = msrp_session::FromPathCheck::Off;
    let now = net.now;
    net.ep(2)
        .open_session(now, SessionSpec::new(config, Role::Passive))
        .unwrap()
}

/// Node `from`'s session sends `text` as message `n`; node `to` receives exactly it, and the
/// sender learns it was delivered.
fn says(net: &mut Net, from: (usize, SessionId), n: u64, text: &str, to: usize) {
    let now = net.now;
    net.ep(from.0).send(
        now,
        from.1,
        MessageRef::new(n),
        OutgoingMessage::new("text/plain", text.to_owned()),
    );
    net.run();
    assert_eq!(
        received(&net.endpoint_events(to)),
        vec![text.as_bytes().to_vec()]
    );
    assert!(matches!(
        outcome(&net.endpoint_events(from.0), MessageRef::new(n)),
        Some(Ok(_))
    ));
}

/// Bob listens directly; Alice opens a session to him through the relay. Returns Alice's.
fn alice_to_bob_directly(net: &mut Net, role: Role) -> SessionId {
    let bob_uri = uri(BOB_ADDR, "bob1");
    listen_directly(net, &bob_uri);
    open(
        net,
        1,
        &uri(ALICE_ADDR, "alice1"),
        &bob_uri,
        role,
        Relay::new(RELAY.parse().unwrap()),
        1,
    )
}

/// Bob listens through the relay; Alice, through it too, sends to the path Bob was granted.
/// Returns their sessions and Bob's path.
fn alice_and_bob(net: &mut Net, relay: impl Fn() -> Relay) -> (SessionId, SessionId, String) {
    let bob = open(
        net,
        2,
        &uri(BOB_ADDR, "bob1"),
        NOBODY,
        Role::Passive,
        relay(),
        2,
    );
    let bob_path = granted(&net.endpoint_events(2), bob).expect("Bob's path");
    // Passive: its first message is what reaches Bob first, once he knows Alice's path.
    let alice = open(
        net,
        1,
        &uri(ALICE_ADDR, "alice1"),
        &bob_path,
        Role::Passive,
        relay(),
        1,
    );
    let alice_path = granted(&net.endpoint_events(1), alice).expect("Alice's path");
    net.ep(2)
        .set_peer_path(bob, alice_path.parse().unwrap())
        .unwrap();
    (alice, bob, bob_path)
}

#[test]
fn two_clients_exchange_messages_and_reports_through_the_relay() {
    let mut net = network(relay_config());
    let (alice, bob, bob_path) = alice_and_bob(&mut net, || Relay::new(RELAY.parse().unwrap()));
    // RFC 4976 §6.3: the Use-Path names the relay, with a session of its own.
    assert!(bob_path.starts_with("msrp://127.0.0.1:2855/"), "{bob_path}");
    assert!(bob_path.ends_with(&format!(" {}", uri(BOB_ADDR, "bob1"))));

    let now = net.now;
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    net.ep(1).send(
        now,
        alice,
        MessageRef::new(1),
        OutgoingMessage::new("text/plain", "Hello Bob").success_report(true),
    );
    net.ep(1).send(
        now,
        alice,
        MessageRef::new(2),
        OutgoingMessage::new("application/octet-stream", big.clone()).success_report(true),
    );
    net.run();
    let bob_events = net.endpoint_events(2);
    let got = received(&bob_events);
    assert_eq!(got.len(), 2, "{bob_events:?}");
    assert_eq!(got[0], b"Hello Bob");
    assert_eq!(got[1], big);
    // The success REPORTs came back through the relay.
    let alice_events = net.endpoint_events(1);
    for message in [1, 2] {
        let delivered = outcome(&alice_events, MessageRef::new(message))
            .expect("an outcome")
            .expect("delivered");
        assert!(delivered.reported);
    }

    // And the other way.
    says(&mut net, (2, bob), 3, "Hello Alice", 1);
    let stats = net.rl(0).stats();
    assert!(stats.forwarded >= 4, "{stats:?}");
    assert!(stats.forwarded_bytes >= 100_000);
    // Alice and Bob each hold one connection, to the relay; the relay opened none.
    assert_eq!(net.nodes[0].connects, 0);
}

#[test]
fn digest_credentials_are_checked() {
    let mut net = network(with_users());
    let (alice, _, _) = alice_and_bob(&mut net, || relay_with("alice", "xyz123"));
    assert!(net.ep(1).local_path(alice).is_some());
    let events = net.relay_events(0);
    assert!(events.iter().any(|e| matches!(e,
        RelayEvent::Authenticated { user: Some(u), .. } if u == "alice")));

    // A wrong password is challenged again, which the client takes as a refusal.
    let carol = open(
        &mut net,
        1,
        &uri(ALICE_ADDR, "carol1"),
        NOBODY,
        Role::Passive,
        relay_with("alice", "wrong"),
        3,
    );
    assert_eq!(
        relay_failure(&net.endpoint_events(1), carol),
        Some(RelayErrorKind::Unauthorized)
    );
    // RFC 4976 §6.3: "If the client is not authorized, the relay returns a 403 response."
    let dave = open(
        &mut net,
        1,
        &uri(ALICE_ADDR, "dave1"),
        NOBODY,
        Role::Passive,
        relay_with("dave", "xyz123"),
        4,
    );
    assert!(matches!(
        relay_failure(&net.endpoint_events(1), dave),
        Some(RelayErrorKind::Refused(code)) if code.as_u16() == 403
    ));
    // No credentials at all.
    let erin = open(
        &mut net,
        1,
        &uri(ALICE_ADDR, "erin1"),
        NOBODY,
        Role::Passive,
        Relay::new(RELAY.parse().unwrap()),
        5,
    );
    assert_eq!(
        relay_failure(&net.endpoint_events(1), erin),
        Some(RelayErrorKind::NoCredentials)
    );
    let refused: Vec<u16> = net
        .relay_events(0)
        .iter()
        .filter_map(|e| match e {
            RelayEvent::AuthRefused { status, .. } => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(refused, vec![401, 403]);
}

#[test]
fn answers_to_a_challenge_are_not_replayed_and_stale_nonces_are_said_so() {
    let mut net = Net::new();
    let relay = net.relay(RELAY_ADDR, with_users(), 7);
    let c = net.raw(relay);
    net.write_raw(
        relay,
        c,
        b"MSRP tid0 AUTH\r\nTo-Path: msrp://127.0.0.1:2855;tcp\r\nFrom-Path: msrp://192.0.2.1:5000/cl1;tcp\r\n-------tid0$\r\n",
    );
    let challenge = net.read_raw(relay, c);
    assert!(
        challenge.starts_with("MSRP tid0 401 Unauthorized\r\n"),
        "{challenge}"
    );
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let answer = |nc: u32, tid: &str, nonce: &str| {
        let creds = Credentials::new("alice", "xyz123");
        let challenge = msrp_wire::digest::Challenge {
            realm: "msrp-test".into(),
            nonce: nonce.into(),
            opaque: None,
            algorithm: false,
            stale: false,
        };
        let value = msrp_wire::digest::authorization(&creds, &challenge, RELAY, nc, "0a4f113b");
        format!(
            "MSRP {tid} AUTH\r\nTo-Path: {RELAY}\r\nFrom-Path: msrp://192.0.2.1:5000/cl1;tcp\r\nAuthorization: {value}\r\n-------{tid}$\r\n"
        )
    };
    net.write_raw(relay, c, answer(1, "tid1", &nonce).as_bytes());
    let ok = net.read_raw(relay, c);
    assert!(ok.starts_with("MSRP tid1 200 OK\r\n"), "{ok}");
    // RFC 4976 §9.1: "Relays MUST include rspauth, cnonce, nc, and qop parameters in a
    // "Authentication-Info" header for all "200 OK" responses to an AUTH request."
    for part in [
        "Authentication-Info: nextnonce=\"",
        "rspauth=\"",
        "cnonce=\"0a4f113b\"",
        "nc=00000001",
        "qop=auth",
    ] {
        assert!(ok.contains(part), "{part} not in {ok}");
    }
    // The same count again is a replay.
    net.write_raw(relay, c, answer(1, "tid2", &nonce).as_bytes());
    assert!(net.read_raw(relay, c).starts_with("MSRP tid2 401"));
    // The next count passes.
    net.write_raw(relay, c, answer(2, "tid3", &nonce).as_bytes());
    assert!(net.read_raw(relay, c).starts_with("MSRP tid3 200"));
    // Past its lifetime the nonce is stale: challenged with stale=true.
    net.advance(Duration::from_secs(301));
    net.write_raw(relay, c, answer(3, "tid4", &nonce).as_bytes());
    let stale = net.read_raw(relay, c);
    assert!(stale.starts_with("MSRP tid4 401"), "{stale}");
    assert!(stale.contains("stale=true"), "{stale}");
    // A nonce this relay never made is no nonce.
    net.write_raw(
        relay,
        c,
        answer(1, "tid5", "00000000000000001234").as_bytes(),
    );
    let forged = net.read_raw(relay, c);
    assert!(
        forged.starts_with("MSRP tid5 401") && !forged.contains("stale"),
        "{forged}"
    );
}

#[test]
fn expires_out_of_bounds_gets_423_and_granted_uris_expire() {
    let mut net = network(relay_config());
    let relay = || Relay::new(RELAY.parse().unwrap()).expires(10);
    let bob = open(
        &mut net,
        2,
        &uri(BOB_ADDR, "bob1"),
        NOBODY,
        Role::Passive,
        relay(),
        2,
    );
    // The client followed the 423's Min-Expires: granted for 60 s.
    let events = net.endpoint_events(2);
    let expires = events.iter().find_map(|e| match e {
        EndpointEvent::Authenticated { expires, .. } => *expires,
        _ => None,
    });
    assert_eq!(expires, Some(Duration::from_secs(60)));
    assert!(
        net.relay_events(0)
            .iter()
            .any(|e| matches!(e, RelayEvent::AuthRefused { status: 423, .. }))
    );
    let first = granted(&events, bob).unwrap();
    // The client renews at 45 s and gets another URI; the first one ends at 60 s.
    net.advance(Duration::from_secs(45));
    let renewed = granted(&net.endpoint_events(2), bob).unwrap();
    assert_ne!(renewed, first);
    net.advance(Duration::from_secs(16));
    let ended: Vec<String> = net
        .relay_events(0)
        .iter()
        .filter_map(|e| match e {
            RelayEvent::SessionEnded { uri } => Some(uri.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ended.len(), 1);
    assert!(first.starts_with(&ended[0]));
    // A SEND to the expired URI gets 481; to the renewed one it arrives.
    let c = net.raw(0);
    let send = |tid: &str, path: &str| {
        format!(
            "MSRP {tid} SEND\r\nTo-Path: {path}\r\nFrom-Path: msrp://192.0.2.1:5000/x1;tcp\r\nMessage-ID: m{tid}\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------{tid}$\r\n"
        )
    };
    net.write_raw(0, c, send("old1", &first).as_bytes());
    assert!(net.read_raw(0, c).starts_with("MSRP old1 481"));
    net.write_raw(0, c, send("new1", &renewed).as_bytes());
    assert!(net.read_raw(0, c).starts_with("MSRP new1 200"));
    assert_eq!(received(&net.endpoint_events(2)), vec![b"hi".to_vec()]);
}

#[test]
fn requests_not_for_a_granted_uri_are_refused_and_the_relay_is_no_open_relay() {
    let mut net = network(relay_config());
    let (_, _, bob_path) = alice_and_bob(&mut net, || Relay::new(RELAY.parse().unwrap()));
    let bob_relay_uri = bob_path.split(' ').next().unwrap().to_owned();
    let c = net.raw(0);
    let send = |tid: &str, to: &str| {
        format!(
            "MSRP {tid} SEND\r\nTo-Path: {to}\r\nFrom-Path: msrp://192.0.2.1:5000/x1;tcp\r\nMessage-ID: m{tid}\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------{tid}$\r\n"
        )
    };
    // RFC 4976 §6.4: "the relay MUST check that the first URI in the To-Path header
    // corresponds to a URI that this relay has created and handed out".
    net.write_raw(
        0,
        c,
        send(
            "aaa1",
            "msrp://127.0.0.1:2855/neverhanded;tcp msrp://10.0.0.9:9/x;tcp",
        )
        .as_bytes(),
    );
    assert!(net.read_raw(0, c).starts_with("MSRP aaa1 481"));
    // Someone other than Bob names Bob's URI and a far host after it: the request goes to
    // Bob, whose URI it is, and nowhere else (RFC 4976 §6.4: "the next hop is the next hop
    // back toward the client that obtained this URI").
    net.write_raw(
        0,
        c,
        send(
            "aaa2",
            &format!("{bob_relay_uri} msrp://10.0.0.9:9/evil;tcp"),
        )
        .as_bytes(),
    );
    assert!(net.read_raw(0, c).starts_with("MSRP aaa2 200"));
    assert_eq!(net.nodes[0].connects, 0, "the relay connected nowhere");
    assert!(
        received(&net.endpoint_events(2)).is_empty(),
        "not Bob's session either"
    );
    // RFC 4976 §6.2: "If the request is not addressed to the relay, the relay immediately
    // drops the corresponding connection over which the request was received."
    net.write_raw(0, c, send("aaa3", "msrp://10.0.0.9:9/x;tcp").as_bytes());
    assert!(net.relay_events(0).iter().any(|e| matches!(
        e,
        RelayEvent::ConnectionClosed {
            reason: CloseReason::NotAddressed,
            ..
        }
    )));
}

#[test]
fn a_client_behind_the_relay_reaches_a_peer_without_one() {
    let mut net = network(relay_config());
    let alice = alice_to_bob_directly(&mut net, Role::Active);
    let now = net.now;
    net.ep(1).send(
        now,
        alice,
        MessageRef::new(1),
        OutgoingMessage::new("text/plain", "via the relay").success_report(true),
    );
    net.run();
    assert_eq!(
        received(&net.endpoint_events(2)),
        vec![b"via the relay".to_vec()]
    );
    // The relay opened the connection to Bob, whose success REPORT came back through it.
    assert_eq!(net.nodes[0].connects, 1);
    assert!(matches!(
        outcome(&net.endpoint_events(1), MessageRef::new(1)),
        Some(Ok(d)) if d.reported
    ));
}

#[test]
fn a_next_hop_that_cannot_be_reached_or_does_not_answer_is_reported_408() {
    let mut net = network(relay_config());
    net.unreachable.insert("127.0.0.1:7999".parse().unwrap());
    let alice = open(
        &mut net,
        1,
        &uri(ALICE_ADDR, "alice1"),
        &uri("127.0.0.1:7999", "nobody1"),
        Role::Passive,
        Relay::new(RELAY.parse().unwrap()),
        1,
    );
    let now = net.now;
    net.ep(1).send(
        now,
        alice,
        MessageRef::new(1),
        OutgoingMessage::new("text/plain", "lost").success_report(true),
    );
    net.run();
    let failed = outcome(&net.endpoint_events(1), MessageRef::new(1))
        .expect("an outcome")
        .expect_err("not delivered");
    assert_eq!(failed.by, FailedBy::PeerReport);
    assert_eq!(failed.status.map(|s| s.as_u16()), Some(408));

    // A next hop that takes the request and never answers: 408 after 30 s (RFC 4976 §6.4.1).
    let bob_uri = uri(BOB_ADDR, "bob1");
    let alice2 = open(
        &mut net,
        1,
        &uri(ALICE_ADDR, "alice2"),
        &bob_uri,
        Role::Passive,
        Relay::new(RELAY.parse().unwrap()),
        3,
    );
    net.frozen.insert(2);
    let now = net.now;
    net.ep(1).send(
        now,
        alice2,
        MessageRef::new(2),
        OutgoingMessage::new("text/plain", "unanswered").success_report(true),
    );
    net.run();
    net.advance(Duration::from_secs(29));
    assert!(outcome(&net.endpoint_events(1), MessageRef::new(2)).is_none());
    net.advance(Duration::from_secs(2));
    let failed = outcome(&net.endpoint_events(1), MessageRef::new(2))
        .expect("an outcome")
        .expect_err("not delivered");
    assert_eq!(failed.status.map(|s| s.as_u16()), Some(408));
    assert!(
        net.relay_events(0)
            .iter()
            .any(|e| matches!(e, RelayEvent::FailureReported { status: 408, .. }))
    );
}

#[test]
fn a_next_hop_that_reads_nothing_holds_the_relay_to_bounded_memory() {
    let mut config = relay_config();
    config.max_output = 64 << 10;
    let mut net = network(config);
    let alice = alice_to_bob_directly(&mut net, Role::Passive);
    // Bob's process is stopped: he accepts the relay's connection and reads nothing.
    net.frozen.insert(2);
    let now = net.now;
    let body = vec![b'z'; 8 << 20];
    net.ep(1).send(
        now,
        alice,
        MessageRef::new(1),
        OutgoingMessage::new("application/octet-stream", body),
    );
    net.run();
    // What the relay holds toward Bob stays near its bound (plus one received piece), and
    // Alice's input to it stopped: the rest waits in Alice's pipe and in Alice.
    let relay_conns: Vec<Conn> = net
        .links
        .iter()
        .filter_map(|l| {
            (l.b.0 == 2 || l.a.0 == 2).then_some(if l.a.0 == 0 { l.a.1 } else { l.b.1 })
        })
        .collect();
    assert_eq!(relay_conns.len(), 1);
    let Conn::Relay(toward_bob) = relay_conns[0] else {
        panic!()
    };
    let held = net.rl(0).buffered_output(toward_bob);
    assert!(held <= (64 << 10) + (net::PIPE), "{held}");
    assert!(net.piled_up_toward(2) <= net::PIPE);
    // Bob wakes up: everything arrives.
    net.frozen.clear();
    net.run();
    let got = received(&net.endpoint_events(2));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].len(), 8 << 20);
}

#[test]
fn a_client_connection_closing_ends_its_uris_and_silent_connections_are_closed() {
    let mut net = network(relay_config());
    let bob = open(
        &mut net,
        2,
        &uri(BOB_ADDR, "bob1"),
        NOBODY,
        Role::Passive,
        Relay::new(RELAY.parse().unwrap()),
        2,
    );
    assert!(granted(&net.endpoint_events(2), bob).is_some());
    assert_eq!(net.rl(0).session_count(), 1);
    let now = net.now;
    net.ep(2).close_session(now, bob);
    net.run();
    // Bob's connection stays a while for reuse; once it goes, his URI is invalid (RFC 4976
    // §6.3: "If the client's connection is closed and then reopened, the URI MUST be
    // invalidated").
    net.advance(Duration::from_secs(61));
    assert_eq!(net.rl(0).session_count(), 0);
    assert!(
        net.relay_events(0)
            .iter()
            .any(|e| matches!(e, RelayEvent::SessionEnded { .. }))
    );

    // RFC 4976 §6.1: "If no request is received in that time, the server closes the
    // connection."
    let _silent = net.raw(0);
    net.advance(Duration::from_secs(31));
    assert!(net.relay_events(0).iter().any(|e| matches!(
        e,
        RelayEvent::ConnectionClosed {
            reason: CloseReason::NoRequest,
            ..
        }
    )));
}

#[test]
fn repeated_failed_auth_closes_the_connection() {
    let mut net = Net::new();
    let relay = net.relay(RELAY_ADDR, with_users(), 7);
    let c = net.raw(relay);
    for n in 0..5 {
        let auth = format!(
            "MSRP tid{n} AUTH\r\nTo-Path: {RELAY}\r\nFrom-Path: msrp://192.0.2.1:5000/cl1;tcp\r\nAuthorization: Digest username=\"alice\", realm=\"msrp-test\", nonce=\"00\", uri=\"{RELAY}\", qop=auth, nc=00000001, cnonce=\"c\", response=\"00000000000000000000000000000000\"\r\n-------tid{n}$\r\n"
        );
        net.write_raw(relay, c, auth.as_bytes());
    }
    assert!(net.relay_events(0).iter().any(|e| matches!(
        e,
        RelayEvent::ConnectionClosed {
            reason: CloseReason::AuthFailures,
            ..
        }
    )));
}

#[test]
fn ten_thousand_sessions_go_through_one_relay_with_the_default_limits() {
    // Five receiving endpoints and five sending ones, each with 1,000 sessions through the
    // relay (its default limit per connection): 10,000 relay sessions. RFC 4976 §5.4: every
    // session of an endpoint shares its one connection to the relay.
    const PER: usize = 1000;
    const PAIRS: usize = 5;
    let mut net = Net::new();
    net.relay(RELAY_ADDR, relay_config(), 7);
    let addr = |node: usize| format!("127.0.0.1:{}", 7000 + node);
    for node in 1..=2 * PAIRS {
        net.endpoint(&addr(node));
    }
    let relay = || Relay::new(RELAY.parse().unwrap());
    let spec = |local: &str, peer: &str, role: Role, seed: u64| {
        let mut config =
            SessionConfig::new(local.parse().unwrap(), peer.parse().unwrap(), random(seed));
        config.from_path_check = msrp_session::FromPathCheck::Off;
        SessionSpec::new(config, role)
            .through(vec![relay()])
            .allow_plain_relay()
    };
    // The receivers first: their paths are what the senders send to.
    let now = net.now;
    let mut receivers = Vec::new();
    for node in 1..=PAIRS {
        for i in 0..PER {
            let local = uri(&addr(node), &format!("r{node}x{i}"));
            let s = net
                .ep(node)
                .open_session(now, spec(&local, NOBODY, Role::Passive, i as u64))
                .unwrap();
            receivers.push((node, s));
        }
    }
    net.run();
    let mut paths = Vec::new();
    for node in 1..=PAIRS {
        let events = net.endpoint_events(node);
        for &(_, s) in receivers.iter().filter(|(n, _)| *n == node) {
            paths.push(granted(&events, s).expect("a receiver's path"));
        }
    }
    assert_eq!(net.rl(0).session_count(), PAIRS * PER);
    // Each sender sends one message to its receiver.
    let now = net.now;
    let mut senders = Vec::new();
    for (k, path) in paths.iter().enumerate() {
        let node = PAIRS + 1 + k / PER;
        let local = uri(&addr(node), &format!("s{k}"));
        let s = net
            .ep(node)
            .open_session(now, spec(&local, path, Role::Active, k as u64))
            .unwrap();
        net.ep(node).send(
            now,
            s,
            MessageRef::new(k as u64),
            OutgoingMessage::new("text/plain", format!("message {k}")),
        );
        senders.push((node, s));
    }
    net.run();
    assert_eq!(net.rl(0).session_count(), 2 * PAIRS * PER);
    assert_eq!(net.rl(0).connection_count(), 2 * PAIRS);
    // Every message arrived, at its own receiver, and every sender learned it.
    for node in 1..=PAIRS {
        let events = net.endpoint_events(node);
        let mut got: Vec<(SessionId, Vec<u8>)> = events
            .iter()
            .filter_map(|e| match e {
                EndpointEvent::Session(s, Event::Message(m)) => Some((*s, m.body.to_vec())),
                _ => None,
            })
            .collect();
        assert_eq!(got.len(), PER, "receiver node {node}");
        got.sort();
        for (s, body) in got {
            let k = receivers.iter().position(|r| *r == (node, s)).unwrap();
            assert_eq!(body, format!("message {k}").into_bytes());
        }
    }
    for node in PAIRS + 1..=2 * PAIRS {
        let events = net.endpoint_events(node);
        let delivered = events
            .iter()
            .filter(
                |e| matches!(e, EndpointEvent::Outcome { outcome, .. } if outcome.result.is_ok()),
            )
            .count();
        assert_eq!(delivered, PER, "sender node {node}");
    }
    // Each SEND passed both its relay sessions (the sender's and the receiver's) in one
    // forwarding.
    assert_eq!(net.rl(0).stats().forwarded, (PAIRS * PER) as u64);
}

/// Peer relays known by a certificate that is the text "relay HOST": a stand-in for X.509,
/// which the I/O layer checks.
#[derive(Debug)]
struct NamedCertificates;

impl RelayIdentity for NamedCertificates {
    fn is_relay(&self, certificate: &[u8], host: &str) -> bool {
        certificate == format!("relay {host}").as_bytes()
    }
}

/// Relay A (node 0, 127.0.0.1:2855, granting every AUTH), Alice (node 1) and Bob (node 2)
/// as in [`network`], and relay B (node 3, 127.0.0.2:2855), which asks its clients for digest
/// credentials and knows peer relays by their certificates. A connects showing `certificate`.
/// Alice opens a session through A, then B, with no credentials for either.
fn alice_through_two_relays(certificate: &str) -> (Net, SessionId) {
    let mut net = network(relay_config());
    net.nodes[0].certificate = Some(certificate.as_bytes().to_vec());
    let mut b = with_users();
    b.host = "127.0.0.2".into();
    b.peer_relays = Some(std::sync::Arc::new(NamedCertificates));
    net.relay("127.0.0.2:2855", b, 9);
    let mut config = SessionConfig::new(
        uri(ALICE_ADDR, "alice1").parse().unwrap(),
        uri(BOB_ADDR, "bob1").parse().unwrap(),
        random(1),
    );
    config.from_path_check = msrp_session::FromPathCheck::Off;
    let spec = SessionSpec::new(config, Role::Passive)
        .through(vec![
            Relay::new(RELAY.parse().unwrap()),
            Relay::new("msrp://127.0.0.2:2855;tcp".parse().unwrap()),
        ])
        .allow_plain_relay();
    let now = net.now;
    let alice = net.ep(1).open_session(now, spec).unwrap();
    net.run();
    (net, alice)
}

#[test]
fn a_relay_known_by_its_certificate_is_granted_uris_that_outlive_its_connection() {
    let (mut net, alice) = alice_through_two_relays("relay 127.0.0.1");
    // RFC 4976 §6.3: B authenticates the previous hop, relay A, by its certificate, and
    // challenges no one: Alice had no credentials for B.
    let alice_path = granted(&net.endpoint_events(1), alice).expect("Alice's path");
    let hops: Vec<&str> = alice_path.split(' ').collect();
    assert_eq!(hops.len(), 3, "{alice_path}");
    assert!(
        hops[0].starts_with("msrp://127.0.0.2:2855/"),
        "{alice_path}"
    );
    assert!(
        hops[1].starts_with("msrp://127.0.0.1:2855/"),
        "{alice_path}"
    );
    let events = net.relay_events(3);
    assert!(
        events.iter().any(|e| matches!(e,
            RelayEvent::Authenticated { user: Some(u), .. } if u == "relay 127.0.0.1")),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RelayEvent::AuthRefused { .. })),
        "{events:?}"
    );

    // Bob, without a relay, sends to Alice's path: B, then A, then Alice.
    let now = net.now;
    let config = SessionConfig::new(
        uri(BOB_ADDR, "bob1").parse().unwrap(),
        alice_path.parse().unwrap(),
        random(2),
    );
    let bob = net
        .ep(2)
        .open_session(now, SessionSpec::new(config, Role::Active))
        .unwrap();
    net.ep(2).send(
        now,
        bob,
        MessageRef::new(1),
        OutgoingMessage::new("text/plain", "Hello Alice"),
    );
    net.run();
    assert_eq!(
        received(&net.endpoint_events(1)),
        vec![b"Hello Alice".to_vec()]
    );
    assert!(matches!(
        outcome(&net.endpoint_events(2), MessageRef::new(1)),
        Some(Ok(_))
    ));

    // The connections between the relays close; A's URI on B still routes, over a new one
    // (§6.3: "valid to route across any connection the relay has to the previous hop relay").
    let between: Vec<[(usize, Conn); 2]> = net
        .links
        .iter()
        .filter(|l| (l.a.0 == 0 && l.b.0 == 3) || (l.a.0 == 3 && l.b.0 == 0))
        .map(|l| [l.a, l.b])
        .collect();
    assert!(!between.is_empty());
    net.links.retain(|l| !between.contains(&[l.a, l.b]));
    let connects = net.nodes[3].connects;
    for end in between.into_iter().flatten() {
        let now = net.now;
        match end.1 {
            Conn::Relay(c) => net.rl(end.0).handle_lost(now, c),
            Conn::Endpoint(_) => unreachable!(),
        }
    }
    net.run();
    let now = net.now;
    net.ep(2).send(
        now,
        bob,
        MessageRef::new(2),
        OutgoingMessage::new("text/plain", "Still there?"),
    );
    net.run();
    assert_eq!(
        received(&net.endpoint_events(1)),
        vec![b"Still there?".to_vec()]
    );
    // B opened a connection to A's URI for it.
    assert_eq!(net.nodes[3].connects, connects + 1);
    assert!(matches!(
        outcome(&net.endpoint_events(2), MessageRef::new(2)),
        Some(Ok(_))
    ));
}

#[test]
fn a_peer_whose_certificate_does_not_name_it_is_a_client_and_is_challenged() {
    // A certificate of another host: A's AUTH for Alice is challenged, and Alice has no
    // credentials for B.
    let (mut net, alice) = alice_through_two_relays("relay 192.0.2.9");
    let events = net.endpoint_events(1);
    assert!(granted(&events, alice).is_none());
    assert_eq!(
        relay_failure(&events, alice),
        Some(RelayErrorKind::NoCredentials),
        "{events:?}"
    );
}

#[test]
fn frames_from_several_senders_toward_one_client_never_interleave() {
    // Bob and Carol, each through the relay, send Alice a large message at once, in chunks
    // that arrive in pieces; Alice sends Bob one too, so the relay also answers her on the
    // connection being written to. Each frame goes out whole before the next (RFC 4975 §5.2
    // framing), whatever order the pieces come in.
    let mut net = network(relay_config());
    net.endpoint("127.0.0.1:7003");
    let relay = || Relay::new(RELAY.parse().unwrap());
    let alice = open(
        &mut net,
        1,
        &uri(ALICE_ADDR, "alice1"),
        NOBODY,
        Role::Passive,
        relay(),
        1,
    );
    let alice_path = granted(&net.endpoint_events(1), alice).expect("Alice's path");
    let big = |seed: u32| -> Vec<u8> {
        (0..300_000u32)
            .map(|i| (i.wrapping_mul(seed) >> 7) as u8)
            .collect()
    };
    let mut senders = Vec::new();
    for (node, name, seed) in [(2, "bob1", 7u32), (3, "carol1", 13)] {
        let addr = if node == 2 {
            BOB_ADDR
        } else {
            "127.0.0.1:7003"
        };
        let s = open(
            &mut net,
            node,
            &uri(addr, name),
            &alice_path,
            Role::Active,
            relay(),
            u64::from(seed),
        );
        senders.push((node, s, big(seed)));
    }
    let bob_path = granted(&net.endpoint_events(2), senders[0].1).expect("Bob's path");
    net.ep(1)
        .set_peer_path(alice, bob_path.parse().unwrap())
        .unwrap();
    let now = net.now;
    for (node, session, body) in &senders {
        net.ep(*node).send(
            now,
            *session,
            MessageRef::new(1),
            OutgoingMessage::new("application/octet-stream", body.clone()),
        );
    }
    net.ep(1).send(
        now,
        alice,
        MessageRef::new(9),
        OutgoingMessage::new("text/plain", "Hi Bob"),
    );
    net.run();
    let mut got = received(&net.endpoint_events(1));
    got.sort();
    let mut expected = vec![senders[0].2.clone(), senders[1].2.clone()];
    expected.sort();
    assert_eq!(got.len(), 2);
    assert!(got == expected, "a message came corrupted");
    let bob_events = net.endpoint_events(2);
    assert!(received(&bob_events).contains(&b"Hi Bob".to_vec()));
    assert!(matches!(
        outcome(&bob_events, MessageRef::new(1)),
        Some(Ok(_))
    ));
    assert!(matches!(
        outcome(&net.endpoint_events(3), MessageRef::new(1)),
        Some(Ok(_))
    ));
}

#[test]
fn sends_that_ask_no_response_after_success_get_no_false_failure_report() {
    // RFC 4975 §7.1.1: with `Failure-Report: no` the receiver sends no response, with
    // `partial` only one for an error. The relay waits for none after delivering them: when
    // the next hop's connection closes later, no 408 goes back for them.
    let mut net = network(relay_config());
    let alice = alice_to_bob_directly(&mut net, Role::Passive);
    let now = net.now;
    for (n, mode) in [(1, FailureReport::No), (2, FailureReport::Partial)] {
        net.ep(1).send(
            now,
            alice,
            MessageRef::new(n),
            OutgoingMessage::new("text/plain", format!("message {n}")).failure_report(mode),
        );
    }
    net.run();
    assert_eq!(received(&net.endpoint_events(2)).len(), 2);
    let _ = net.relay_events(0);
    // Bob goes away, then time passes beyond every transaction timeout.
    let toward_bob: Vec<(usize, Conn)> = net
        .links
        .iter()
        .filter(|l| l.b.0 == 2 || l.a.0 == 2)
        .map(|l| if l.a.0 == 0 { l.a } else { l.b })
        .collect();
    for (node, c) in toward_bob {
        let now = net.now;
        if let Conn::Relay(c) = c {
            net.rl(node).handle_lost(now, c);
        }
    }
    net.advance(Duration::from_secs(61));
    let events = net.relay_events(0);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RelayEvent::FailureReported { .. })),
        "{events:?}"
    );
}

/// A client connection played by the test, on a relay driven by hand.
struct Raw {
    c: msrp_relay::ConnectionId,
    /// Its own URI.
    uri: String,
    /// The URI the relay granted it.
    granted: String,
}

fn raw_client(relay: &mut msrp_relay::Relay, now: std::time::Instant, n: u16) -> Raw {
    let peer: std::net::SocketAddr = format!("192.0.2.{n}:5000").parse().unwrap();
    let c = relay.handle_accept(now, peer).unwrap();
    relay.handle_established(now, c, peer, None);
    let uri = format!("msrp://192.0.2.{n}:5000/client{n};tcp");
    let answer = auth_answer(relay, now, c, &uri, &format!("auth{n}"));
    let granted = answer
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Use-Path: "))
        .expect("a Use-Path")
        .to_owned();
    Raw { c, uri, granted }
}

/// What the relay answers an AUTH from `uri` on connection `c`.
fn auth_answer(
    relay: &mut msrp_relay::Relay,
    now: std::time::Instant,
    c: msrp_relay::ConnectionId,
    uri: &str,
    tid: &str,
) -> String {
    relay.handle_input(
        now,
        c,
        format!("MSRP {tid} AUTH\r\nTo-Path: {RELAY}\r\nFrom-Path: {uri}\r\n-------{tid}$\r\n")
            .as_bytes(),
    );
    take_output(relay, now, c)
}

fn take_output(
    relay: &mut msrp_relay::Relay,
    now: std::time::Instant,
    c: msrp_relay::ConnectionId,
) -> String {
    let mut pieces = Vec::new();
    relay.poll_transmit(now, c, usize::MAX, &mut pieces);
    String::from_utf8_lossy(&pieces.concat()).into_owned()
}

/// Reads what the relay wrote to each of `conns` into `got`, and lets input it stopped go on,
/// until nothing moves.
fn pump(
    relay: &mut msrp_relay::Relay,
    now: std::time::Instant,
    conns: &[msrp_relay::ConnectionId],
    got: &mut [String],
) {
    for _ in 0..1000 {
        let mut moved = false;
        for (i, &c) in conns.iter().enumerate() {
            let out = take_output(relay, now, c);
            moved |= !out.is_empty();
            got[i].push_str(&out);
        }
        while let Some(action) = relay.poll_action() {
            if let msrp_relay::Action::Resume(c) = action {
                relay.resume(now, c);
                moved = true;
            }
        }
        if !moved {
            return;
        }
    }
    panic!("the relay keeps asking for input to go on, and takes none");
}

#[test]
fn two_clients_streaming_to_each_other_with_responses_held_on_both_are_not_stuck() {
    // Alice and Bob each stream a frame to the other, and meanwhile the responses to requests
    // each sent Carol earlier come back: they wait on each one's connection for the other's
    // frame to end, and are more than max_output. Neither client may be stopped in the middle
    // of its frame for them, or neither frame could ever end.
    let now = std::time::Instant::now();
    let mut config = relay_config();
    config.max_output = 200;
    let mut relay = msrp_relay::Relay::new(config, random(3), now);
    let alice = raw_client(&mut relay, now, 1);
    let bob = raw_client(&mut relay, now, 2);
    let carol = raw_client(&mut relay, now, 3);
    let conns = [alice.c, bob.c, carol.c];
    let mut got = [String::new(), String::new(), String::new()];
    for (who, tag) in [(&alice, "a"), (&bob, "b")] {
        for k in 0..4 {
            relay.handle_input(
                now,
                who.c,
                format!(
                    "MSRP {tag}nick{k} NICKNAME\r\nTo-Path: {} {} {}\r\nFrom-Path: {}\r\n\
                     Use-Nickname: \"{tag}{k}\"\r\n-------{tag}nick{k}$\r\n",
                    who.granted, carol.granted, carol.uri, who.uri
                )
                .as_bytes(),
            );
            pump(&mut relay, now, &conns, &mut got);
        }
    }
    let to_carol = core::mem::take(&mut got[2]);
    assert_eq!(to_carol.matches(" NICKNAME\r\n").count(), 8, "{to_carol}");
    let send_head = |tid: &str, from: &Raw, to: &Raw| {
        format!(
            "MSRP {tid} SEND\r\nTo-Path: {} {} {}\r\nFrom-Path: {}\r\nMessage-ID: m{tid}\r\n\
             Byte-Range: 1-*/300\r\nContent-Type: text/plain\r\n\r\n",
            from.granted, to.granted, to.uri, from.uri
        )
    };
    // Both frames begin, each a third of its body in.
    let body = |c: u8| vec![c; 100];
    for (tid, from, to, c) in [
        ("asend1", &alice, &bob, b'a'),
        ("bsend1", &bob, &alice, b'b'),
    ] {
        let mut start = send_head(tid, from, to).into_bytes();
        start.extend(body(c));
        relay.handle_input(now, from.c, &start);
        pump(&mut relay, now, &conns, &mut got);
    }
    // Carol answers the NICKNAMEs: the answers go back to Alice and Bob, behind the frames
    // being written to them.
    for request in to_carol
        .split("MSRP ")
        .filter(|r| r.contains(" NICKNAME\r\n"))
    {
        let tid = request.split(' ').next().unwrap();
        let from_path = request
            .split("\r\n")
            .find_map(|l| l.strip_prefix("From-Path: "))
            .unwrap();
        relay.handle_input(
            now,
            carol.c,
            format!(
                "MSRP {tid} 200 OK\r\nTo-Path: {from_path}\r\nFrom-Path: {}\r\n-------{tid}$\r\n",
                carol.uri
            )
            .as_bytes(),
        );
        pump(&mut relay, now, &conns, &mut got);
    }
    // The rest of both frames comes.
    for (tid, from, c) in [("asend1", &alice, b'a'), ("bsend1", &bob, b'b')] {
        let mut rest = body(c);
        rest.extend(body(c));
        rest.extend(format!("\r\n-------{tid}$\r\n").into_bytes());
        relay.handle_input(now, from.c, &rest);
        pump(&mut relay, now, &conns, &mut got);
    }
    for (i, who) in [&alice, &bob].into_iter().enumerate() {
        assert!(
            relay.wants_read(who.c),
            "client {i} is held stopped: {}",
            got[i]
        );
        let other = if i == 0 { "b" } else { "a" };
        assert!(
            got[i].contains(&format!("{}\r\n-------", other.repeat(300))),
            "the other's frame arrived whole: {}",
            got[i]
        );
        // The NICKNAMEs' answers, and the relay's 200 for its SEND.
        assert_eq!(got[i].matches(" 200 OK\r\n").count(), 4 + 1, "{}", got[i]);
    }
}

#[test]
fn connections_and_granted_uris_stop_at_their_limits() {
    // What peers can make the relay hold is bounded: connections (accepting one more is
    // refused), URIs per connection and URIs in all (RFC 4976 §6.3: "If the client is not
    // authorized, the relay returns a 403 response").
    let now = std::time::Instant::now();
    let mut config = relay_config();
    config.max_connections = 3;
    config.max_sessions = 5;
    config.max_sessions_per_connection = 2;
    let mut relay = msrp_relay::Relay::new(config, random(4), now);
    let alice = raw_client(&mut relay, now, 1);
    let answer = auth_answer(&mut relay, now, alice.c, &alice.uri, "more1");
    assert!(answer.starts_with("MSRP more1 200 OK\r\n"), "{answer}");
    let answer = auth_answer(&mut relay, now, alice.c, &alice.uri, "more2");
    assert!(answer.starts_with("MSRP more2 403 "), "{answer}");
    let bob = raw_client(&mut relay, now, 2);
    auth_answer(&mut relay, now, bob.c, &bob.uri, "more3");
    let carol = raw_client(&mut relay, now, 3);
    assert_eq!(relay.session_count(), 5);
    let answer = auth_answer(&mut relay, now, carol.c, &carol.uri, "more4");
    assert!(answer.starts_with("MSRP more4 403 "), "{answer}");
    assert_eq!(relay.session_count(), 5);
    let fourth: std::net::SocketAddr = "192.0.2.4:5000".parse().unwrap();
    assert_eq!(
        relay.handle_accept(now, fourth),
        Err(msrp_relay::AcceptError::TooManyConnections)
    );
    assert_eq!(relay.connection_count(), 3);
}

#[test]
fn a_frame_stalled_half_way_is_given_up_and_the_frames_behind_it_go_on() {
    // Frames toward one connection go one at a time; one whose sender stops half-way would
    // hold the others back. After the frame timeout without a byte of it, its connection is
    // closed, the frame ends aborted (`#`) where it was going, and the next frame goes out.
    let now = std::time::Instant::now();
    let mut relay = msrp_relay::Relay::new(relay_config(), random(5), now);
    let alice = raw_client(&mut relay, now, 1);
    let bob = raw_client(&mut relay, now, 2);
    let carol = raw_client(&mut relay, now, 3);
    let send = |tid: &str, from: &Raw, body: &str, end: &str| {
        format!(
            "MSRP {tid} SEND\r\nTo-Path: {} {} {}\r\nFrom-Path: {}\r\nMessage-ID: m{tid}\r\n\
             Byte-Range: 1-*/10\r\nContent-Type: text/plain\r\n\r\n{body}{end}",
            from.granted, carol.granted, carol.uri, from.uri
        )
    };
    relay.handle_input(now, bob.c, send("bob1", &bob, "half", "").as_bytes());
    relay.handle_input(
        now,
        alice.c,
        send("alice1", &alice, "whole", "\r\n-------alice1$\r\n").as_bytes(),
    );
    let mut to_carol = take_output(&mut relay, now, carol.c);
    assert!(!to_carol.contains("whole"), "{to_carol}");
    assert!(!relay.wants_read(alice.c), "Alice waits her turn");
    // Not yet: Bob's frame is still within its time.
    let config = relay_config();
    relay.handle_timeout(now + config.frame_timeout / 2);
    assert!(!relay.wants_read(alice.c));
    let later = now + config.frame_timeout + std::time::Duration::from_secs(1);
    relay.handle_timeout(later);
    let events: Vec<RelayEvent> = std::iter::from_fn(|| relay.poll_event()).collect();
    assert!(
        events.iter().any(|e| matches!(e,
            RelayEvent::ConnectionClosed { connection, reason: CloseReason::FrameTimeout, .. }
                if *connection == bob.c)),
        "{events:?}"
    );
    to_carol.push_str(&take_output(&mut relay, later, carol.c));
    let aborted = to_carol.find("half\r\n-------").expect("Bob's frame ends");
    let alice_at = to_carol
        .find("whole\r\n-------")
        .expect("Alice's frame goes out");
    assert!(aborted < alice_at, "{to_carol}");
    assert!(to_carol[aborted..alice_at].contains("#\r\n"), "{to_carol}");
    assert!(relay.wants_read(alice.c));
}

#[test]
fn a_client_with_too_many_requests_unanswered_is_read_no_further() {
    // What the relay remembers for a peer is bounded: with `max_pending` of its requests
    // forwarded and unanswered, the next one waits until an answer comes.
    let now = std::time::Instant::now();
    let mut config = relay_config();
    config.max_pending = 3;
    let mut relay = msrp_relay::Relay::new(config, random(6), now);
    let alice = raw_client(&mut relay, now, 1);
    let carol = raw_client(&mut relay, now, 3);
    let mut requests = String::new();
    for k in 0..5 {
        requests.push_str(&format!(
            "MSRP nick{k} NICKNAME\r\nTo-Path: {} {} {}\r\nFrom-Path: {}\r\n\
             Use-Nickname: \"a{k}\"\r\n-------nick{k}$\r\n",
            alice.granted, carol.granted, carol.uri, alice.uri
        ));
    }
    relay.handle_input(now, alice.c, requests.as_bytes());
    let to_carol = take_output(&mut relay, now, carol.c);
    assert_eq!(to_carol.matches(" NICKNAME\r\n").count(), 3, "{to_carol}");
    assert!(!relay.wants_read(alice.c));
    // Carol answers the first: Alice is read again, and one more goes.
    let first = to_carol.split("MSRP ").nth(1).unwrap();
    let tid = first.split(' ').next().unwrap();
    let from_path = first
        .split("\r\n")
        .find_map(|l| l.strip_prefix("From-Path: "))
        .unwrap();
    relay.handle_input(
        now,
        carol.c,
        format!(
            "MSRP {tid} 200 OK\r\nTo-Path: {from_path}\r\nFrom-Path: {}\r\n-------{tid}$\r\n",
            carol.uri
        )
        .as_bytes(),
    );
    assert!(take_output(&mut relay, now, alice.c).contains(" 200 OK\r\n"));
    assert!(relay.wants_read(alice.c));
    relay.resume(now, alice.c);
    let more = take_output(&mut relay, now, carol.c);
    assert_eq!(more.matches(" NICKNAME\r\n").count(), 1, "{more}");
    assert!(!relay.wants_read(alice.c));
}

#[test]
fn sends_toward_a_websocket_client_are_cut_into_chunks_of_its_size() {
    // RFC 7977 §5.1: "When large messages are sent by a non-WebSocket peer, MSRP chunking (as
    // defined in Section 5.1 of [RFC4975]) MUST be used by the WebSocket MSRP Servers to split
    // the message into several smaller MSRP chunks."
    let now = std::time::Instant::now();
    let mut relay = msrp_relay::Relay::new(relay_config(), net::random(7), now);
    let alice = raw_client(&mut relay, now, 1);
    let bob = raw_client(&mut relay, now, 2);
    relay.set_max_chunk(bob.c, Some(1000));
    let body: Vec<u8> = (0..4500u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut send = format!(
        "MSRP big1 SEND\r\nTo-Path: {} {} {}\r\nFrom-Path: {}\r\nMessage-ID: m7777\r\n\
         Byte-Range: 1-4500/4500\r\nContent-Type: text/plain\r\n\r\n",
        alice.granted, bob.granted, bob.uri, alice.uri
    )
    .into_bytes();
    send.extend_from_slice(&body);
    send.extend_from_slice(b"\r\n-------big1$\r\n");
    // In small pieces, so that cuts fall inside and between them.
    for piece in send.chunks(7) {
        relay.handle_input(now, alice.c, piece);
    }
    let mut got = vec![String::new(), String::new()];
    pump(&mut relay, now, &[alice.c, bob.c], &mut got);
    assert!(got[0].starts_with("MSRP big1 200 OK\r\n"), "{}", got[0]);
    let mut decoder = msrp_wire::Decoder::new();
    decoder.push(got[1].as_bytes());
    let mut frames = Vec::new();
    while let Some(frame) = decoder.decode().unwrap() {
        frames.push(frame);
    }
    assert_eq!(frames.len(), 5);
    let mut joined = Vec::new();
    let mut tids = std::collections::HashSet::new();
    for (i, frame) in frames.iter().enumerate() {
        let range = frame.byte_range().unwrap().unwrap();
        assert_eq!(range.start, 1 + 1000 * i as u64);
        assert_eq!(range.total, Some(4500));
        assert_eq!(frame.message_id().unwrap(), Some("m7777"));
        assert_eq!(frame.to_path().unwrap().unwrap().as_str(), bob.uri);
        let last = i == 4;
        let flag = if last { Flag::End } else { Flag::Continued };
        assert_eq!(frame.flag(), flag);
        assert_eq!(frame.body().unwrap().len(), if last { 500 } else { 1000 });
        joined.extend_from_slice(frame.body().unwrap());
        tids.insert(frame.transaction_id().to_owned());
    }
    assert_eq!(joined, body);
    assert_eq!(tids.len(), 5, "each chunk is a transaction of its own");
    // Bob takes the first chunks and refuses the last: Alice hears of the failure.
    for (i, tid) in frames
        .iter()
        .map(|f| f.transaction_id().to_owned())
        .enumerate()
    {
        let code = if i == 4 { "413 Too Large" } else { "200 OK" };
        relay.handle_input(
            now,
            bob.c,
            format!(
                "MSRP {tid} {code}\r\nTo-Path: {}\r\nFrom-Path: {}\r\n-------{tid}$\r\n",
                bob.granted, bob.uri
            )
            .as_bytes(),
        );
    }
    let mut got = vec![String::new(), String::new()];
    pump(&mut relay, now, &[alice.c, bob.c], &mut got);
    assert!(got[0].contains(" REPORT\r\n"), "{}", got[0]);
    assert!(got[0].contains("Status: 000 413"), "{}", got[0]);
    assert!(got[0].contains("Message-ID: m7777"), "{}", got[0]);
    assert_eq!(got[0].matches(" REPORT\r\n").count(), 1);
}
