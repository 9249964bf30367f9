//! `endpoint_drive`: one [`Endpoint`] with passive and active sessions, driven by arbitrary
//! operations: connections accepted (with or without a certificate), requests that name known
//! and unknown sessions, raw bytes, output written, connections set up or lost, commands of the
//! application, time passing, and a shutdown. Sessions through a relay (RFC 4976) authenticate
//! on a connection where the input answers their AUTH requests with any status and any of the
//! relay headers (challenges, Use-Path, Expires bounds, Authentication-Info), well formed or
//! not, and time runs their renewals and timeouts.
//!
//! Asserted: no panic; the connection limit and the bound on bytes beyond gaps hold; every
//! action names a connection the endpoint had; every message the application sent gets at most
//! one outcome (an `Outcome` or a `Refused`), and exactly one once the endpoint has finished; a
//! finished endpoint holds no session and no connection, and no byte beyond a gap.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::drive::{Input, random};

use msrp_session::{
    Action, ConnectionId, Credentials, Endpoint, EndpointConfig, EndpointEvent, MessageRef,
    OutgoingMessage, PeerCheck, Relay, Role, SessionConfig, SessionId, SessionSpec, fingerprint_of,
};
use msrp_wire::{Decoder, Method};

/// Session-ids of the passive sessions, and of requests naming no session.
const IDS: [&str; 4] = [
    "pass1session",
    "pass2session",
    "pass3session",
    "nobodyhere1",
];
const HOST: &str = "127.0.0.1:7000";
const PEER: &str = "msrp://127.0.0.1:8000/peers3ssion;tcp";
const MAX_CONNECTIONS: usize = 4;

fn config(local: &str, peer: &str, seed: u64) -> SessionConfig {
    SessionConfig::new(local.parse().unwrap(), peer.parse().unwrap(), random(seed))
}

/// A request naming `id` (a known session, or not), well formed or cut short.
fn request(input: &mut Input<'_>) -> Vec<u8> {
    let b = input.byte();
    let id = IDS[usize::from(b % 4)];
    let tid = format!("tid{}", input.byte());
    let len = usize::from(input.byte() % 64);
    let body = input.bytes(len).to_vec();
    let method = if b & 0x40 != 0 { "REPORT" } else { "SEND" };
    let mut out = format!(
        "MSRP {tid} {method}\r\nTo-Path: msrp://{HOST}/{id};tcp\r\nFrom-Path: {PEER}\r\n\
         Message-ID: msg{b}\r\nByte-Range: 1-{len}/{len}\r\nContent-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    if !body.windows(7).any(|w| w == b"-------") {
        out.extend_from_slice(&body);
    }
    out.extend_from_slice(format!("\r\n-------{tid}$\r\n").as_bytes());
    if b & 0x80 != 0 {
        // Cut short: the rest never comes.
        let cut = usize::from(input.byte()) % out.len().max(1);
        out.truncate(cut);
    }
    out
}

/// The headers a relay's response to an AUTH may carry, well formed or not.
const RELAY_HEADERS: [&str; 12] = [
    "WWW-Authenticate: Digest realm=\"r\", nonce=\"n1\", qop=\"auth\"\r\n",
    "WWW-Authenticate: Digest realm=\"r\", nonce=\"n2\", qop=\"auth\", stale=true\r\n",
    "WWW-Authenticate: Digest realm=\"r\", nonce=\"n3\", qop=\"auth-int\"\r\n",
    "WWW-Authenticate: Basic realm=\"r\"\r\n",
    "Use-Path: msrp://127.0.0.1:2855/granted1;tcp\r\n",
    "Use-Path: msrp://127.0.0.1:2855/g1;tcp msrp://relay2.example:2856/g2;tcp\r\n",
    "Use-Path: not a uri\r\n",
    "Expires: 1\r\n",
    "Expires: 4294967295\r\n",
    "Min-Expires: 60\r\n",
    "Max-Expires: 0\r\n",
    "Authentication-Info: nextnonce=\"n9\", rspauth=\"00\", qop=auth\r\n",
];
const RELAY_STATUS: [&str; 6] = [
    "200 OK",
    "401 Unauthorized",
    "423 Interval Out-of-Bounds",
    "403 Forbidden",
    "500 Server Error",
    "200",
];

/// Answers the AUTH requests a connection has written, as a relay might.
fn answer_auth(endpoint: &mut Endpoint, now: Instant, c: ConnectionId, input: &mut Input<'_>) {
    let mut pieces = Vec::new();
    endpoint.poll_transmit(now, c, usize::MAX, &mut pieces);
    let mut decoder = Decoder::new();
    decoder.push(&pieces.concat());
    let mut replies = Vec::new();
    while let Ok(Some(frame)) = decoder.decode() {
        let head = frame.head();
        if head.method() != Some(Method::Auth) {
            continue;
        }
        let status = RELAY_STATUS[usize::from(input.byte()) % RELAY_STATUS.len()];
        let mask = u16::from_le_bytes([input.byte(), input.byte()]);
        let from = head
            .from_path()
            .ok()
            .flatten()
            .map(|p| p.as_str().to_owned());
        let tid = head.transaction_id();
        let mut reply = format!(
            "MSRP {tid} {status}\r\nTo-Path: {}\r\nFrom-Path: msrp://127.0.0.1:2855;tcp\r\n",
            from.unwrap_or_default()
        );
        for (i, header) in RELAY_HEADERS.iter().enumerate() {
            if mask & (1 << i) != 0 {
                reply.push_str(header);
            }
        }
        reply.push_str(&format!("-------{tid}$\r\n"));
        replies.push(reply);
    }
    for reply in replies {
        if endpoint.wants_read(c) {
            endpoint.handle_input(now, c, reply.as_bytes());
        }
    }
}

/// Runs the target on one input.
pub fn check(data: &[u8]) {
    let mut input = Input(data);
    let mut now = Instant::now();
    let mut config = EndpointConfig::default();
    config.max_connections = MAX_CONNECTIONS;
    config.connection.max_sessions = 2;
    config.max_gap_bytes = 4096;
    let mut endpoint = Endpoint::new(config);
    let certificate = b"the peer's certificate".to_vec();

    let mut sessions: Vec<SessionId> = Vec::new();
    for (n, id) in IDS.iter().take(3).enumerate() {
        let mut spec = SessionSpec::new(
            config_for(&format!("msrp://{HOST}/{id};tcp"), n as u64),
            Role::Passive,
        );
        if n == 2 {
            spec = spec.peer_check(PeerCheck::Fingerprints(vec![fingerprint_of(&certificate)]));
        }
        if let Ok(session) = endpoint.open_session(now, spec) {
            sessions.push(session);
        }
    }

    // Connections the endpoint has, as the I/O layer knows them: established or not.
    let mut connections: HashMap<ConnectionId, bool> = HashMap::new();
    let mut outcomes: HashMap<MessageRef, usize> = HashMap::new();
    let mut sent: HashSet<MessageRef> = HashSet::new();
    let mut next_message = 0u64;
    let mut next_port = 40000u16;

    while !input.0.is_empty() {
        let op = input.byte();
        let pick = usize::from(input.byte());
        let known: Vec<ConnectionId> = connections.keys().copied().collect();
        let connection = known.get(pick % known.len().max(1)).copied();
        match op % 13 {
            // A connection comes in; with a certificate or not.
            0 => {
                let peer = SocketAddr::from(([127, 0, 0, 1], next_port));
                next_port = next_port.wrapping_add(1);
                if let Ok(c) = endpoint.handle_accept(now, peer) {
                    connections.insert(c, false);
                    if op & 0x80 == 0 {
                        let cert = (op & 0x40 != 0).then_some(&certificate[..]);
                        endpoint.handle_established(now, c, peer, cert);
                        connections.insert(c, true);
                    }
                }
            }
            // A request on a connection.
            1 | 2 => {
                if let Some(c) = connection {
                    let frame = request(&mut input);
                    if endpoint.wants_read(c) {
                        endpoint.handle_input(now, c, &frame);
                    }
                }
            }
            // Raw bytes.
            3 => {
                if let Some(c) = connection {
                    let n = usize::from(input.byte());
                    let raw = input.bytes(n).to_vec();
                    if endpoint.wants_read(c) {
                        endpoint.handle_input(now, c, &raw);
                    }
                }
            }
            // Output is written, within a budget.
            4 => {
                if let Some(c) = connection {
                    let budget = 1 + usize::from(input.byte()) * 64;
                    let mut pieces = Vec::new();
                    endpoint.poll_transmit(now, c, budget, &mut pieces);
                    endpoint.resume(now, c);
                }
            }
            // A connection is set up, or lost.
            5 => {
                if let Some(c) = connection {
                    if op & 0x80 != 0 {
                        endpoint.handle_lost(now, c);
                    } else {
                        let peer = SocketAddr::from(([127, 0, 0, 1], 8000));
                        endpoint.handle_established(now, c, peer, None);
                        connections.insert(c, true);
                    }
                }
            }
            // The application sends a message on a session, or on one that never was.
            6 => {
                // Closed sessions stay in the list: their ids name sessions that are gone.
                let Some(&session) = sessions.get(pick % sessions.len().max(1)) else {
                    continue;
                };
                let message = MessageRef::new(next_message);
                next_message += 1;
                let len = usize::from(input.byte());
                let body = input.bytes(len).to_vec();
                sent.insert(message);
                endpoint.send(
                    now,
                    session,
                    message,
                    OutgoingMessage::new("text/plain", body),
                );
            }
            // It aborts one, or closes a session.
            7 => {
                if let Some(&session) = sessions.get(pick % sessions.len().max(1)) {
                    if op & 0x80 != 0 {
                        endpoint.close_session(now, session);
                    } else {
                        let message = MessageRef::new(u64::from(input.byte()));
                        endpoint.abort(now, session, message);
                    }
                }
            }
            // It opens a session: active, to a peer that reuses or not.
            8 => {
                let n = u64::from(input.byte() % 4);
                let local = format!("msrp://{HOST}/act{n}session;tcp");
                let peer = format!("msrp://127.0.0.1:{}/far{n}session;tcp", 9000 + n % 2);
                let mut spec = SessionSpec::new(config_active(&local, &peer, n), Role::Active);
                if op & 0x80 != 0 {
                    spec = spec.new_connection();
                }
                if op & 0x40 != 0 {
                    // Through a relay, with credentials or without.
                    let mut relay = Relay::new("msrp://127.0.0.1:2855;tcp".parse().unwrap())
                        .max_chunk(1 + usize::from(input.byte()) * 64);
                    if op & 0x20 != 0 {
                        relay = relay.credentials(Credentials::new("user", "secret"));
                    }
                    if op & 0x10 != 0 {
                        relay = relay.expires(u32::from(input.byte()));
                    }
                    spec = spec.through(vec![relay]).allow_plain_relay();
                }
                if let Ok(session) = endpoint.open_session(now, spec) {
                    sessions.push(session);
                }
            }
            // Time passes.
            9 | 10 => {
                now += Duration::from_millis(u64::from(input.byte()) * 400);
                endpoint.handle_timeout(now);
            }
            // A relay answers the AUTH requests written on a connection.
            11 => {
                if let Some(c) = connection {
                    answer_auth(&mut endpoint, now, c, &mut input);
                }
            }
            // A shutdown, ended at once or not.
            _ => {
                if op & 0x80 != 0 {
                    endpoint.finish(now);
                } else {
                    endpoint.shutdown(now);
                }
            }
        }
        drain(&mut endpoint, &mut connections, &mut outcomes);
        assert!(endpoint.connection_count() <= MAX_CONNECTIONS);
        assert_eq!(endpoint.connection_count(), connections.len());
        assert!(endpoint.gap_bytes() <= 4096);
    }
    endpoint.finish(now);
    drain(&mut endpoint, &mut connections, &mut outcomes);
    assert!(endpoint.is_finished());
    assert_eq!(endpoint.gap_bytes(), 0, "every message gave its bytes back");
    assert_eq!(endpoint.session_count(), 0);
    assert!(connections.is_empty(), "every connection was closed");
    for message in sent {
        assert_eq!(
            outcomes.get(&message),
            Some(&1),
            "message {message:?} got exactly one outcome"
        );
    }
}

fn config_for(local: &str, seed: u64) -> SessionConfig {
    config(local, PEER, seed)
}

fn config_active(local: &str, peer: &str, seed: u64) -> SessionConfig {
    config(local, peer, 100 + seed)
}

/// Takes the endpoint's actions and events, checking what they name.
fn drain(
    endpoint: &mut Endpoint,
    connections: &mut HashMap<ConnectionId, bool>,
    outcomes: &mut HashMap<MessageRef, usize>,
) {
    while let Some(action) = endpoint.poll_action() {
        match action {
            Action::Connect { connection, .. } => {
                assert!(connections.insert(connection, false).is_none());
            }
            Action::Transmit(connection) => {
                assert_eq!(connections.get(&connection), Some(&true));
            }
            Action::Close(connection) => {
                assert!(connections.remove(&connection).is_some());
            }
            _ => {}
        }
    }
    while let Some(event) = endpoint.poll_event() {
        let message = match event {
            EndpointEvent::Outcome { message, .. } | EndpointEvent::Refused { message, .. } => {
                message
            }
            _ => continue,
        };
        let count = outcomes.entry(message).or_default();
        *count += 1;
        assert_eq!(*count, 1, "one outcome per message");
    }
}
