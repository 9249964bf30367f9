//! A thousand sessions over one connection, and a thousand connections with a session each,
//! all exchanging messages.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{random, uri};
use msrp_mio_transport::{Endpoint, EndpointConfig, EndpointEvent, Role, SessionId, SessionSpec};
use msrp_session::{Event, OutgoingMessage, SessionConfig};

const N: usize = 1000;

fn run(shared_connection: bool) {
    let server = Endpoint::start(EndpointConfig::default()).unwrap();
    let client = Endpoint::start(EndpointConfig::default()).unwrap();
    let addr = server
        .handle()
        .listen("127.0.0.1:0".parse().unwrap(), false)
        .unwrap();
    let client_addr = "127.0.0.1:9".parse().unwrap();
    let mut client_sessions = Vec::new();
    let mut server_sessions = HashSet::new();
    for i in 0..N {
        let s_uri = uri("msrp", addr, &format!("srv{i:05}x"));
        let c_uri = uri("msrp", client_addr, &format!("cli{i:05}x"));
        let sc = SessionConfig::new(
            s_uri.parse().unwrap(),
            c_uri.parse().unwrap(),
            random(i as u64),
        );
        server_sessions.insert(
            server
                .handle()
                .open_session(SessionSpec::new(sc, Role::Passive))
                .unwrap(),
        );
        let cc = SessionConfig::new(
            c_uri.parse().unwrap(),
            s_uri.parse().unwrap(),
            random(N as u64 + i as u64),
        );
        let mut spec = SessionSpec::new(cc, Role::Active);
        if !shared_connection {
            spec = spec.new_connection();
        }
        client_sessions.push(client.handle().open_session(spec).unwrap());
    }
    for (i, s) in client_sessions.iter().enumerate() {
        client
            .handle()
            .send(
                *s,
                OutgoingMessage::new("text/plain", format!("message {i}")),
            )
            .expect("the endpoint runs");
    }
    // Every server session gets its message, answers on the same session, and every message
    // has a delivered outcome.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut peers = HashSet::new();
    let mut received: HashSet<SessionId> = HashSet::new();
    let mut server_outcomes = 0;
    while received.len() < N {
        assert!(
            Instant::now() < deadline,
            "only {} messages arrived",
            received.len()
        );
        match server.events().recv_timeout(Duration::from_secs(5)) {
            Some(EndpointEvent::Session(s, Event::Message(m))) => {
                assert!(server_sessions.contains(&s));
                assert!(m.body.starts_with(b"message "));
                assert!(received.insert(s), "one message per session");
                server
                    .handle()
                    .send(s, OutgoingMessage::new("text/plain", "reply"))
                    .expect("the endpoint runs");
            }
            Some(EndpointEvent::Bound { peer, .. }) => {
                peers.insert(peer);
            }
            Some(EndpointEvent::Outcome { outcome, .. }) => {
                assert!(outcome.result.is_ok());
                server_outcomes += 1;
            }
            _ => {}
        }
    }
    let mut outcomes = 0;
    let mut replies = 0;
    while outcomes < N || replies < N {
        assert!(
            Instant::now() < deadline,
            "{outcomes} outcomes, {replies} replies"
        );
        match client.events().recv_timeout(Duration::from_secs(5)) {
            Some(EndpointEvent::Outcome { outcome, .. }) => {
                assert!(outcome.result.is_ok(), "{outcome:?}");
                outcomes += 1;
            }
            Some(EndpointEvent::Session(_, Event::Message(m))) => {
                assert_eq!(&m.body[..], b"reply");
                replies += 1;
            }
            _ => {}
        }
    }
    while server_outcomes < N {
        assert!(
            Instant::now() < deadline,
            "{server_outcomes} outcomes of replies"
        );
        match server.events().recv_timeout(Duration::from_secs(5)) {
            Some(EndpointEvent::Outcome { outcome, .. }) => {
                assert!(outcome.result.is_ok());
                server_outcomes += 1;
            }
            Some(EndpointEvent::Bound { peer, .. }) => {
                peers.insert(peer);
            }
            _ => {}
        }
    }
    let expected = if shared_connection { 1 } else { N };
    assert_eq!(peers.len(), expected, "distinct connections");
}

#[test]
fn thousand_sessions_over_one_connection() {
    run(true);
}

#[test]
fn thousand_connections_with_a_session_each() {
    run(false);
}
