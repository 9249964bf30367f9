//! Several sessions on one connection, fair sharing, and the limits on incoming messages.

mod common;

use common::{ALICE, BOB, Pair, Side, config};
use msrp_session::{ConnectionEvent, Event, IncomingFailure, OutgoingMessage};
use msrp_wire::StatusCode;

fn uri(host: &str, port: u16, id: &str) -> String {
    format!("msrp://{host}:{port}/{id};tcp")
}

#[test]
fn sessions_share_a_connection_and_are_routed_by_session_id() {
    let n = 5;
    let a_configs = (0..n)
        .map(|i| {
            config(
                &uri("a.example.com", 7000, &format!("as{i}x")),
                &uri("b.example.com", 8000, &format!("bs{i}x")),
                i,
            )
        })
        .collect();
    let b_configs = (0..n)
        .map(|i| {
            config(
                &uri("b.example.com", 8000, &format!("bs{i}x")),
                &uri("a.example.com", 7000, &format!("as{i}x")),
                100 + i,
            )
        })
        .collect();
    let mut pair = Pair::new(Side::new(a_configs), Side::new(b_configs), 30);
    pair.max_write = 3000;
    for i in 0..n as usize {
        let key = pair.a.keys[i];
        let body = format!("to session {i}").repeat(100 * (i + 1));
        pair.a
            .conn
            .send(key, OutgoingMessage::new("text/plain", body))
            .unwrap();
        let key = pair.b.keys[i];
        pair.b
            .conn
            .send(
                key,
                OutgoingMessage::new("text/plain", format!("back from {i}")),
            )
            .unwrap();
    }
    // Route check: collect which session key each message arrived on.
    let mut arrivals = Vec::new();
    for _ in 0..10_000 {
        let moved = pair.step_raw();
        for (side, events) in moved {
            for e in events {
                if let ConnectionEvent::Session(key, Event::Message(m)) = e {
                    arrivals.push((side, key, String::from_utf8(m.body.to_vec()).unwrap()));
                }
            }
        }
        if pair.a.conn.is_idle()
            && pair.b.conn.is_idle()
            && pair.a_to_b.is_empty()
            && pair.b_to_a.is_empty()
        {
            break;
        }
    }
    assert_eq!(arrivals.len(), 2 * n as usize);
    for (side, key, text) in arrivals {
        let i = if side == 'b' {
            pair.b.keys.iter().position(|k| *k == key).unwrap()
        } else {
            pair.a.keys.iter().position(|k| *k == key).unwrap()
        };
        let expected = if side == 'b' {
            format!("to session {i}")
        } else {
            format!("back from {i}")
        };
        assert!(
            text.starts_with(&expected),
            "{side}: session {i} got {text}"
        );
    }
    assert_eq!(pair.b.conn.session_count(), n as usize);
}

#[test]
fn concurrent_large_messages_take_turns() {
    let mut pair = Pair::alice_bob(31);
    let key = pair.a.key();
    pair.max_write = 16 << 10;
    let one = pair
        .a
        .conn
        .send(
            key,
            OutgoingMessage::new("application/octet-stream", vec![1u8; 1 << 20]),
        )
        .unwrap();
    let two = pair
        .a
        .conn
        .send(
            key,
            OutgoingMessage::new("application/octet-stream", vec![2u8; 1 << 20]),
        )
        .unwrap();
    // Both messages start before either is complete: they share the connection.
    let mut order = Vec::new();
    for _ in 0..100_000 {
        for (side, events) in pair.step_raw() {
            for e in events {
                match e {
                    ConnectionEvent::Session(_, Event::MessageStart(s)) if side == 'b' => {
                        order.push(("start", s.key))
                    }
                    ConnectionEvent::Session(_, Event::MessageEnd(m)) if side == 'b' => {
                        order.push(("end", m.key))
                    }
                    ConnectionEvent::Session(_, Event::Outcome(o)) if side == 'a' => {
                        assert!(o.result.is_ok())
                    }
                    _ => {}
                }
            }
        }
        if order.len() == 4 {
            break;
        }
    }
    assert_eq!(
        order.iter().map(|e| e.0).collect::<Vec<_>>(),
        ["start", "start", "end", "end"]
    );
    let _ = (one, two);
}

#[test]
fn a_lone_message_goes_in_one_chunk() {
    let mut pair = Pair::alice_bob(32);
    let key = pair.a.key();
    pair.max_write = 8 << 10;
    pair.a
        .conn
        .send(
            key,
            OutgoingMessage::new("application/octet-stream", vec![7u8; 3 << 20]),
        )
        .unwrap();
    pair.drive();
    assert_eq!(pair.b.seen.received.len(), 1);
    // One SEND, one response: count the 200s Bob sent.
    assert!(
        pair.moved.1 < 200,
        "a single response went back: {} bytes",
        pair.moved.1
    );
}

#[test]
fn too_many_messages_at_once_get_413() {
    let mut b = config(BOB, ALICE, 2);
    b.limits.max_incoming_messages = 2;
    let mut pair = Pair::new(
        Side::new(vec![config(ALICE, BOB, 1)]),
        Side::new(vec![b]),
        33,
    );
    let now = pair.now;
    let from = format!("From-Path: {ALICE}\r\n");
    let to = format!("To-Path: {BOB}\r\n");
    for (i, mid) in ["m1m1", "m2m2", "m3m3"].iter().enumerate() {
        pair.b.conn.handle_input(
            now,
            format!("MSRP t{i}t{i} SEND\r\n{to}{from}Message-ID: {mid}\r\nByte-Range: 1-*/100000\r\nContent-Type: text/plain\r\n\r\nabc\r\n-------t{i}t{i}+\r\n").as_bytes(),
        );
    }
    let mut wire = Vec::new();
    pair.b.conn.poll_transmit(now, &mut wire);
    let mut d = msrp_wire::Decoder::new();
    d.push(&wire);
    let codes: Vec<u16> = std::iter::from_fn(|| d.decode().unwrap())
        .map(|f| f.status_code().unwrap().as_u16())
        .collect();
    assert_eq!(codes, [200, 200, 413]);
    pair.b.drain_events_for_test();
    assert_eq!(pair.b.seen.starts, 2);
    assert_eq!(
        pair.b
            .conn
            .session(pair.b.key())
            .unwrap()
            .messages_receiving(),
        2
    );
}

#[test]
fn too_many_gaps_get_413_and_whole_delivery_falls_back_to_pieces() {
    let mut b = config(BOB, ALICE, 2);
    b.limits.max_ranges = 3;
    b.limits.max_buffered_bytes = 10;
    let mut pair = Pair::new(
        Side::new(vec![config(ALICE, BOB, 1)]),
        Side::new(vec![b]),
        34,
    );
    let now = pair.now;
    let from = format!("From-Path: {ALICE}\r\n");
    let to = format!("To-Path: {BOB}\r\n");
    // A 100-byte message: larger than the buffer budget, so it comes in pieces.
    for (i, start) in [1, 11, 21, 31].iter().enumerate() {
        pair.b.conn.handle_input(
            now,
            format!("MSRP g{i}g{i} SEND\r\n{to}{from}Message-ID: gaps\r\nByte-Range: {start}-{}/100\r\nContent-Type: text/plain\r\n\r\nxxxxx\r\n-------g{i}g{i}+\r\n", start + 4).as_bytes(),
        );
    }
    let mut wire = Vec::new();
    pair.b.conn.poll_transmit(now, &mut wire);
    let mut d = msrp_wire::Decoder::new();
    d.push(&wire);
    let codes: Vec<StatusCode> = std::iter::from_fn(|| d.decode().unwrap())
        .map(|f| f.status_code().unwrap())
        .collect();
    assert_eq!(codes.last(), Some(&StatusCode::MESSAGE_TOO_LARGE));
    pair.b.drain_events_for_test();
    assert_eq!(pair.b.seen.starts, 1);
    assert_eq!(pair.b.seen.given_up.len(), 1);
    assert_eq!(pair.b.seen.given_up[0].1, IncomingFailure::TooLarge);
}
