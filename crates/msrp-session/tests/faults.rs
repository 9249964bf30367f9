//! What happens when things go wrong: lost connections, silent peers, refusals, bad input.

mod common;

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{ALICE, BOB, Pair, Side, config};
use msrp_session::{
    BodySource, Connection, ConnectionConfig, ConnectionEvent, FailedBy, IncomingFailure,
    OutgoingMessage, Role, SendError, Session, SessionFailure,
};
use msrp_wire::StatusCode;

/// A body of unknown length.
struct Endless {
    left: usize,
}

impl BodySource for Endless {
    fn total_len(&self) -> Option<u64> {
        None
    }

    fn read(&mut self, max: usize) -> io::Result<Bytes> {
        let n = max.min(self.left).min(8192);
        self.left -= n;
        Ok(Bytes::from(vec![b'z'; n]))
    }
}

fn failure(pair: &Pair, handle: msrp_session::MessageHandle) -> msrp_session::Failure {
    let outcome = pair.a.seen.outcome(handle).expect("an outcome");
    assert_eq!(
        pair.a
            .seen
            .outcomes
            .iter()
            .filter(|o| o.handle == handle)
            .count(),
        1,
        "exactly one outcome"
    );
    outcome.result.clone().expect_err("a failure")
}

#[test]
fn connection_lost_mid_message_fails_both_sides() {
    let mut pair = Pair::alice_bob(7);
    pair.max_write = 10_000;
    let key = pair.a.key();
    let big = pair
        .a
        .conn
        .send(
            key,
            OutgoingMessage::new("application/octet-stream", vec![1u8; 5 << 20]),
        )
        .unwrap();
    let queued = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("text/plain", "after the big one"))
        .unwrap();
    for _ in 0..20 {
        pair.step();
    }
    assert!(pair.b.seen.starts >= 1, "part of the message arrived");
    // The small message took its turn beside the big one (fair sharing) and got through.
    assert!(pair.a.seen.outcome(queued).unwrap().result.is_ok());
    pair.break_connection();
    let f = failure(&pair, big);
    assert_eq!(f.by, FailedBy::ConnectionLost);
    assert_eq!(f.status, None);
    assert_eq!(pair.a.seen.failures, [SessionFailure::ConnectionLost]);
    assert_eq!(pair.b.seen.failures, [SessionFailure::ConnectionLost]);
    assert_eq!(pair.b.seen.given_up.len(), 1);
    assert_eq!(pair.b.seen.given_up[0].1, IncomingFailure::SessionEnded);
    assert_eq!(pair.b.seen.received.len(), 1, "only the small message");
    // A failed session takes no more messages.
    assert_eq!(
        pair.a
            .conn
            .send(key, OutgoingMessage::new("text/plain", "late")),
        Err(SendError::SessionFailed)
    );
}

#[test]
fn silent_peer_gives_408_after_the_transaction_timeout() {
    let mut pair = Pair::alice_bob(8);
    pair.b_connected = false;
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("text/plain", "anyone?"))
        .unwrap();
    pair.drive();
    assert_eq!(
        pair.b.seen.received.len(),
        1,
        "the peer got it but its answer is lost"
    );
    assert!(pair.a.seen.outcomes.is_empty());
    // First the quiet connection gives back its buffers (after 1 s); the transaction's timer
    // is next.
    let deadline = pair.a.conn.poll_timeout().expect("a timer runs");
    assert_eq!(deadline - pair.now, Duration::from_secs(1));
    pair.advance(Duration::from_secs(1));
    let deadline = pair.a.conn.poll_timeout().expect("a timer runs");
    assert_eq!(deadline - pair.now, Duration::from_secs(29));
    pair.advance(Duration::from_secs(28));
    assert!(pair.a.seen.outcomes.is_empty());
    pair.advance(Duration::from_secs(1));
    let f = failure(&pair, handle);
    assert_eq!(
        (f.status, f.by),
        (Some(StatusCode::REQUEST_TIMEOUT), FailedBy::Timeout)
    );
}

#[test]
fn peer_413_mid_transfer_stops_the_message() {
    let mut b = config(BOB, ALICE, 2);
    b.limits.max_message_size = 100_000;
    let mut pair = Pair::new(
        Side::new(vec![config(ALICE, BOB, 1)]),
        Side::new(vec![b]),
        9,
    );
    pair.max_write = 4096;
    pair.max_read = 4096;
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(
            key,
            OutgoingMessage::from_source("application/octet-stream", Endless { left: 10 << 20 }),
        )
        .unwrap();
    let after = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("text/plain", "still fine"))
        .unwrap();
    pair.drive();
    let f = failure(&pair, handle);
    assert_eq!(
        (f.status, f.by),
        (Some(StatusCode::MESSAGE_TOO_LARGE), FailedBy::PeerResponse)
    );
    assert!(
        pair.moved.0 < 1 << 20,
        "the sender stopped: {} bytes moved",
        pair.moved.0
    );
    assert_eq!(pair.b.seen.given_up.len(), 1);
    assert_eq!(pair.b.seen.given_up[0].1, IncomingFailure::TooLarge);
    // The other message on the session is unaffected.
    assert!(pair.a.seen.outcome(after).unwrap().result.is_ok());
    assert_eq!(pair.b.seen.received.len(), 1);

    // A message announced larger than the limit is refused at its first chunk.
    let handle = pair
        .a
        .conn
        .send(
            key,
            OutgoingMessage::new("application/octet-stream", vec![0u8; 200_000]),
        )
        .unwrap();
    let before = pair.moved.0;
    pair.drive();
    let f = failure(&pair, handle);
    assert_eq!(f.status, Some(StatusCode::MESSAGE_TOO_LARGE));
    assert!(pair.moved.0 - before < 150_000);
}

#[test]
fn unsupported_type_gets_415_and_peer_limits_refuse_before_sending() {
    let mut b = config(BOB, ALICE, 2);
    b.accept_types = msrp_session::FormatEntry::parse_list("text/plain message/*").unwrap();
    let mut a = config(ALICE, BOB, 1);
    a.peer_max_size = Some(1000);
    a.peer_accept_types = msrp_session::FormatEntry::parse_list("text/* image/png");
    let mut pair = Pair::new(Side::new(vec![a]), Side::new(vec![b]), 3);
    let key = pair.a.key();
    // Alice believes Bob takes image/png (a stale SDP); Bob refuses it.
    let png = pair
        .a
        .conn
        .send(
            key,
            OutgoingMessage::new("image/png", vec![0x89u8, b'P', b'N', b'G']),
        )
        .unwrap();
    let text = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("text/html", "<b>hi</b>"));
    let cpim = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("message/cpim", "x"));
    assert_eq!(cpim, Err(SendError::NotAccepted));
    let large = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("text/plain", vec![b'a'; 1001]));
    assert_eq!(large, Err(SendError::TooLarge));
    pair.drive();
    let f = failure(&pair, png);
    assert_eq!(
        (f.status, f.by),
        (
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            FailedBy::PeerResponse
        )
    );
    // Bob accepts text/plain only, so text/html is refused too.
    let f = failure(&pair, text.unwrap());
    assert_eq!(f.status, Some(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    assert!(pair.b.seen.received.is_empty());
}

#[test]
fn framing_error_fails_the_connection() {
    let mut pair = Pair::alice_bob(10);
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("text/plain", vec![b'q'; 100_000]))
        .unwrap();
    pair.max_write = 1000;
    for _ in 0..5 {
        pair.step();
    }
    // Garbage from the peer's side of the stream.
    pair.b_to_a.extend(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    pair.drive();
    assert!(matches!(
        pair.a.seen.connection_failed.as_slice(),
        [SessionFailure::Framing(e)] if e.offset() == 0
    ));
    // The framing error is kept as the failure's source.
    let why = &pair.a.seen.connection_failed[0];
    let source = std::error::Error::source(why).expect("the framing error");
    assert!(source.downcast_ref::<msrp_wire::ParseError>().is_some());
    let f = failure(&pair, handle);
    assert_eq!(f.by, FailedBy::ConnectionLost);
    assert!(pair.a.conn.is_failed());
    assert!(!pair.a.conn.wants_read());
}

#[test]
fn abort_mid_message_reaches_the_receiver() {
    let mut pair = Pair::alice_bob(11);
    pair.max_write = 8192;
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(
            key,
            OutgoingMessage::new("application/octet-stream", vec![3u8; 1 << 20]),
        )
        .unwrap();
    for _ in 0..10 {
        pair.step();
    }
    assert!(pair.a.conn.abort(key, handle));
    assert!(!pair.a.conn.abort(key, handle), "an outcome is final");
    pair.drive();
    let f = failure(&pair, handle);
    assert_eq!((f.status, f.by), (None, FailedBy::Aborted));
    assert_eq!(pair.b.seen.given_up.len(), 1);
    assert_eq!(pair.b.seen.given_up[0].1, IncomingFailure::Aborted);
    assert!(pair.moved.0 < 1 << 20);
}

#[test]
fn abort_between_chunks_sends_an_empty_aborting_chunk() {
    let mut a = config(ALICE, BOB, 1);
    a.chunking = msrp_session::Chunking::Fixed(1000);
    let mut pair = Pair::new(
        Side::new(vec![a]),
        Side::new(vec![config(BOB, ALICE, 2)]),
        12,
    );
    pair.max_write = 1500;
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(
            key,
            OutgoingMessage::new("application/octet-stream", vec![3u8; 200_000]),
        )
        .unwrap();
    // Run until a chunk boundary has passed and bytes reached Bob.
    for _ in 0..5 {
        pair.step();
    }
    assert!(pair.b.seen.starts == 1);
    pair.a.conn.abort(key, handle);
    pair.drive();
    assert_eq!(pair.b.seen.given_up.len(), 1);
    assert_eq!(pair.b.seen.given_up[0].1, IncomingFailure::Aborted);
}

#[test]
fn unknown_session_gets_481_or_is_attached() {
    // Bob carries no session at first.
    let mut pair = Pair::new(
        Side::new(vec![config(ALICE, BOB, 1)]),
        Side::new(vec![]),
        13,
    );
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("text/plain", "knock knock"))
        .unwrap();
    pair.drive();
    assert_eq!(pair.b.seen.unknown_sessions, ["9di4eae923wzd"]);
    assert!(!pair.b.conn.wants_read(), "input waits for a decision");
    // Refused: 481, and Alice's session fails.
    let now = pair.now;
    pair.b
        .conn
        .refuse_unknown_session(now, StatusCode::NO_SUCH_SESSION);
    pair.drive();
    let f = failure(&pair, handle);
    assert_eq!(
        (f.status, f.by),
        (Some(StatusCode::NO_SUCH_SESSION), FailedBy::PeerResponse)
    );
    assert_eq!(
        pair.a.seen.failures,
        [SessionFailure::Rejected(StatusCode::NO_SUCH_SESSION)]
    );

    // Attached: the held request is delivered.
    let mut pair = Pair::new(
        Side::new(vec![config(ALICE, BOB, 1)]),
        Side::new(vec![]),
        14,
    );
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("text/plain", "knock knock"))
        .unwrap();
    pair.drive();
    assert_eq!(pair.b.seen.unknown_sessions.len(), 1);
    let session = msrp_session::Session::new(config(BOB, ALICE, 2)).unwrap();
    pair.b.conn.insert_session(session).unwrap();
    let now = pair.now;
    pair.b.conn.resume(now);
    pair.drive();
    assert_eq!(pair.b.seen.received.len(), 1);
    assert!(pair.a.seen.outcome(handle).unwrap().result.is_ok());
}

#[test]
fn from_path_of_a_stranger_gets_403() {
    // Bob expects messages from another peer than Alice.
    let b = config(BOB, "msrp://mallory.example.com:1234/x9x9x9;tcp", 2);
    let mut pair = Pair::new(
        Side::new(vec![config(ALICE, BOB, 1)]),
        Side::new(vec![b]),
        15,
    );
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("text/plain", "it's me"))
        .unwrap();
    pair.drive();
    let f = failure(&pair, handle);
    assert_eq!(f.status, Some(StatusCode::FORBIDDEN));
    assert!(pair.b.seen.received.is_empty());
}

#[test]
fn success_report_is_awaited_and_times_out_without_one() {
    let mut pair = Pair::alice_bob(16);
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(
            key,
            OutgoingMessage::new("text/plain", "tell me").success_report(true),
        )
        .unwrap();
    pair.drive();
    let delivered = pair.a.seen.outcome(handle).unwrap().result.clone().unwrap();
    assert!(delivered.reported && delivered.acknowledged);

    // A peer that acknowledges but never reports: its REPORTs are lost on the way.
    let mut pair = Pair::alice_bob(17);
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(
            key,
            OutgoingMessage::new("text/plain", "tell me").success_report(true),
        )
        .unwrap();
    // Move Alice's bytes to Bob, and only Bob's responses (not REPORTs) back.
    let now = pair.now;
    let mut wire = Vec::new();
    pair.a.conn.poll_transmit(now, &mut wire);
    pair.b.conn.handle_input(now, &wire);
    wire.clear();
    pair.b.conn.poll_transmit(now, &mut wire);
    let mut decoder = msrp_wire::Decoder::new();
    decoder.push(&wire);
    let mut kinds = Vec::new();
    while let Some(frame) = decoder.decode().unwrap() {
        kinds.push(frame.method().map_or("response", |m| m.as_str()).to_owned());
        if !frame.is_request() {
            pair.a.conn.handle_input(now, frame.as_bytes());
        }
    }
    assert_eq!(kinds, ["response", "REPORT"]);
    pair.advance(Duration::from_secs(119));
    assert!(pair.a.seen.outcome(handle).is_none());
    pair.advance(Duration::from_secs(1));
    let f = failure(&pair, handle);
    assert_eq!(f.by, FailedBy::ReportTimeout);
}

#[test]
fn bind_send_of_the_active_endpoint() {
    let mut a = config(ALICE, BOB, 1);
    a.role = Role::Active;
    let mut pair = Pair::new(
        Side::new(vec![a]),
        Side::new(vec![config(BOB, ALICE, 2)]),
        18,
    );
    pair.drive();
    // Bob saw a bodiless SEND: no message, but the connection is bound and answered.
    assert!(pair.b.seen.received.is_empty() && pair.b.seen.starts == 0);
    assert!(pair.moved.0 > 0 && pair.moved.1 > 0);
    assert!(pair.a.seen.failures.is_empty());
    assert!(pair.a.conn.is_idle());
}

#[test]
fn bind_send_to_a_peer_that_does_not_know_the_session_fails_it() {
    let mut a = config(ALICE, BOB, 1);
    a.role = Role::Active;
    let mut pair = Pair::new(Side::new(vec![a]), Side::new(vec![]), 19);
    pair.drive();
    let now = pair.now;
    pair.b
        .conn
        .refuse_unknown_session(now, StatusCode::NO_SUCH_SESSION);
    pair.drive();
    assert_eq!(
        pair.a.seen.failures,
        [SessionFailure::Rejected(StatusCode::NO_SUCH_SESSION)]
    );
}

/// Feeds raw bytes to Bob and returns the frames he answers with.
fn bob_answers(input: &[u8]) -> Vec<msrp_wire::Frame> {
    let mut pair = Pair::alice_bob(20);
    let now = pair.now;
    pair.b.conn.handle_input(now, input);
    let mut wire = Vec::new();
    pair.b.conn.poll_transmit(now, &mut wire);
    let mut decoder = msrp_wire::Decoder::new();
    decoder.push(&wire);
    std::iter::from_fn(|| decoder.decode().unwrap()).collect()
}

#[test]
fn requests_that_need_a_special_answer() {
    let from = format!("From-Path: {ALICE}\r\n");
    let to = format!("To-Path: {BOB}\r\n");
    // An unknown method: 501, to the full From-Path.
    let answers = bob_answers(format!("MSRP x1x1 FROB\r\n{to}{from}-------x1x1$\r\n").as_bytes());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].status_code(), Some(StatusCode::NOT_IMPLEMENTED));
    assert_eq!(answers[0].transaction_id(), "x1x1");
    assert_eq!(answers[0].to_path().unwrap().unwrap().as_str(), ALICE);
    // A REPORT is never answered.
    let answers = bob_answers(
        format!("MSRP x2x2 REPORT\r\n{to}{from}Message-ID: m1m1\r\nStatus: 000 200 OK\r\n-------x2x2$\r\n")
            .as_bytes(),
    );
    assert!(answers.is_empty());
    // Unintelligible SENDs: 400.
    for bad in [
        "Byte-Range: 5-3/10\r\nMessage-ID: m1m1\r\n",
        "Byte-Range: x\r\nMessage-ID: m1m1\r\n",
        "Byte-Range: 1-3/3\r\n",
        "Message-ID: m1m1\r\nFailure-Report: maybe\r\n",
    ] {
        let answers = bob_answers(
            format!("MSRP x3x3 SEND\r\n{to}{from}{bad}Content-Type: text/plain\r\n\r\nabc\r\n-------x3x3$\r\n")
                .as_bytes(),
        );
        assert_eq!(answers.len(), 1, "{bad}");
        assert_eq!(
            answers[0].status_code(),
            Some(StatusCode::BAD_REQUEST),
            "{bad}"
        );
    }
    // A body without Content-Type: 400.
    let answers = bob_answers(
        format!("MSRP x4x4 SEND\r\n{to}{from}Message-ID: m1m1\r\n\r\nabc\r\n-------x4x4$\r\n")
            .as_bytes(),
    );
    assert_eq!(answers[0].status_code(), Some(StatusCode::BAD_REQUEST));
    // Failure-Report: no gets no response at all, even for an error.
    let answers = bob_answers(
        format!("MSRP x5x5 FROB\r\n{to}{from}Failure-Report: no\r\n-------x5x5$\r\n").as_bytes(),
    );
    assert!(answers.is_empty());
    // Partial: no 200, but errors are answered.
    let ok = bob_answers(
        format!("MSRP x6x6 SEND\r\n{to}{from}Message-ID: m2m2\r\nFailure-Report: partial\r\nContent-Type: text/plain\r\n\r\nabc\r\n-------x6x6$\r\n")
            .as_bytes(),
    );
    assert!(ok.is_empty());
    // To-Path with a second URI, or naming another session on this connection's host: 481.
    let answers = bob_answers(
        format!("MSRP x7x7 SEND\r\nTo-Path: {BOB} {ALICE}\r\n{from}Message-ID: m3m3\r\nContent-Type: text/plain\r\n\r\nabc\r\n-------x7x7$\r\n")
            .as_bytes(),
    );
    assert_eq!(answers[0].status_code(), Some(StatusCode::NO_SUCH_SESSION));
    // The response to a SEND goes to the previous hop only (RFC 4975 §7.2).
    let relay = "msrp://relay.example.net:2855/r3l4y;tcp";
    let answers = bob_answers(
        format!("MSRP x8x8 SEND\r\n{to}From-Path: {relay} {ALICE}\r\nMessage-ID: m4m4\r\nContent-Type: text/plain\r\n\r\nabc\r\n-------x8x8$\r\n")
            .as_bytes(),
    );
    assert_eq!(answers[0].status_code(), Some(StatusCode::OK));
    assert_eq!(answers[0].to_path().unwrap().unwrap().as_str(), relay);
    assert_eq!(answers[0].from_path().unwrap().unwrap().as_str(), BOB);
}

#[test]
fn incomplete_message_times_out_with_a_failure_report() {
    let from = format!("From-Path: {ALICE}\r\n");
    let to = format!("To-Path: {BOB}\r\n");
    let mut pair = Pair::alice_bob(21);
    let now = pair.now;
    pair.b.conn.handle_input(
        now,
        format!("MSRP c1c1 SEND\r\n{to}{from}Message-ID: big9\r\nByte-Range: 1-*/200000\r\nContent-Type: text/plain\r\n\r\n{}\r\n-------c1c1+\r\n", "a".repeat(1000))
            .as_bytes(),
    );
    pair.b.drain_events_for_test();
    assert_eq!(pair.b.seen.starts, 1);
    pair.advance(Duration::from_secs(120));
    assert_eq!(pair.b.seen.given_up.len(), 1);
    assert_eq!(pair.b.seen.given_up[0].1, IncomingFailure::TimedOut);
    let mut wire = Vec::new();
    pair.b.conn.poll_transmit(pair.now, &mut wire);
    let mut decoder = msrp_wire::Decoder::new();
    decoder.push(&wire);
    let frames: Vec<_> = std::iter::from_fn(|| decoder.decode().unwrap()).collect();
    assert_eq!(frames.len(), 2, "the 200 for the chunk, then the REPORT");
    let report = &frames[1];
    assert_eq!(report.method(), Some(msrp_wire::Method::Report));
    let status = report.status().unwrap().unwrap();
    assert_eq!(status.code, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(report.byte_range().unwrap().unwrap().end, Some(1000));
    assert_eq!(report.message_id().unwrap(), Some("big9"));
}

#[test]
fn unknown_connection_level_events_are_reported_once() {
    let mut pair = Pair::new(
        Side::new(vec![config(ALICE, BOB, 1)]),
        Side::new(vec![]),
        22,
    );
    let key = pair.a.key();
    pair.a
        .conn
        .send(key, OutgoingMessage::new("text/plain", "1"))
        .unwrap();
    pair.drive();
    let mut events = 0;
    while let Some(e) = pair.b.conn.poll_event() {
        assert!(matches!(e, ConnectionEvent::UnknownSession { .. }));
        events += 1;
    }
    assert_eq!(events, 0, "already drained into `seen`");
    assert_eq!(pair.b.seen.unknown_sessions.len(), 1);
}

#[test]
fn session_bound_elsewhere_gets_506() {
    let mut pair = Pair::new(
        Side::new(vec![config(ALICE, BOB, 1)]),
        Side::new(vec![]),
        23,
    );
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("text/plain", "hi"))
        .unwrap();
    pair.drive();
    let now = pair.now;
    pair.b
        .conn
        .refuse_unknown_session(now, StatusCode::WRONG_CONNECTION);
    pair.drive();
    let f = failure(&pair, handle);
    assert_eq!(f.status, Some(StatusCode::WRONG_CONNECTION));
    assert_eq!(
        pair.a.seen.failures,
        [SessionFailure::Rejected(StatusCode::WRONG_CONNECTION)]
    );
}

/// A path header given twice is unusable even when both copies are the expected path: a SEND
/// with two To-Paths cannot be answered (there is no URI to answer from) and is dropped, one
/// with two From-Paths is refused with 400 (with nowhere to send it), and a response with two
/// To-Paths is dropped.
#[test]
fn repeated_path_headers_are_refused() {
    let from = format!("From-Path: {ALICE}\r\n");
    let to = format!("To-Path: {BOB}\r\n");
    let body = "Message-ID: d1d1\r\nContent-Type: text/plain\r\n\r\nabc\r\n";
    for (request, refused) in [
        (
            format!("MSRP r1r1 SEND\r\n{to}{to}{from}{body}-------r1r1$\r\n"),
            None,
        ),
        (
            format!("MSRP r2r2 SEND\r\n{to}{from}{from}{body}-------r2r2$\r\n"),
            Some(StatusCode::BAD_REQUEST),
        ),
        (
            format!("MSRP r3r3 SEND\r\n{to}{from}{body}-------r3r3$\r\n"),
            None,
        ),
    ] {
        let mut pair = Pair::alice_bob(21);
        let now = pair.now;
        pair.b.conn.handle_input(now, request.as_bytes());
        let events: Vec<_> = std::iter::from_fn(|| pair.b.conn.poll_event()).collect();
        let mut wire = Vec::new();
        pair.b.conn.poll_transmit(now, &mut wire);
        let delivered = events.iter().any(|e| {
            matches!(
                e,
                ConnectionEvent::Session(_, msrp_session::Event::Message(_))
            )
        });
        let refusal = events.iter().find_map(|e| match e {
            ConnectionEvent::Session(_, msrp_session::Event::Refused(r)) => Some(r.status),
            _ => None,
        });
        let well_formed = request.starts_with("MSRP r3r3");
        assert_eq!(delivered, well_formed, "{request}");
        assert_eq!(refusal, refused, "{request}");
        // Only the well-formed request is answered.
        assert_eq!(!wire.is_empty(), well_formed, "{request}");
    }

    // Alice's message, answered by a 200 with its To-Path twice: the response is dropped, and
    // the message waits for its own until it times out.
    let mut pair = Pair::alice_bob(22);
    let key = pair.a.key();
    let handle = pair
        .a
        .conn
        .send(key, OutgoingMessage::new("text/plain", "hi"))
        .unwrap();
    let now = pair.now;
    let mut wire = Vec::new();
    pair.a.conn.poll_transmit(now, &mut wire);
    let mut decoder = msrp_wire::Decoder::new();
    decoder.push(&wire);
    let send = decoder.decode().unwrap().unwrap();
    let tid = send.transaction_id();
    let answer = format!(
        "MSRP {tid} 200 OK\r\nTo-Path: {ALICE}\r\nTo-Path: {ALICE}\r\nFrom-Path: {BOB}\r\n-------{tid}$\r\n"
    );
    pair.a.conn.handle_input(now, answer.as_bytes());
    pair.a.drain_events_for_test();
    assert!(pair.a.seen.outcome(handle).is_none());
    pair.advance(Duration::from_secs(31));
    assert_eq!(failure(&pair, handle).by, FailedBy::Timeout);
}

#[test]
fn a_buffer_release_too_far_off_to_name_means_never() {
    let mut cc = ConnectionConfig::default();
    cc.buffer_release = Duration::MAX;
    let mut conn = Connection::new(cc);
    let key = conn
        .insert_session(Session::new(config(ALICE, BOB, 1)).unwrap())
        .unwrap();
    conn.send(key, OutgoingMessage::new("text/plain", "hi"))
        .unwrap();
    let now = Instant::now();
    let mut out = Vec::new();
    conn.poll_transmit(now, &mut out);
    assert!(!out.is_empty());
    // Quiet now: the only timer is the transaction's; the buffers stay.
    let deadline = conn.poll_timeout().expect("a timer runs");
    assert_eq!(deadline - now, Duration::from_secs(30));
    conn.handle_timeout(deadline);
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn a_head_trickled_a_byte_at_a_time_fails_the_connection_after_the_head_timeout() {
    let mut pair = Pair::alice_bob(70);
    // One valid message first: the connection is in use.
    let key = pair.a.key();
    pair.a
        .conn
        .send(key, OutgoingMessage::new("text/plain", "first"))
        .unwrap();
    pair.drive();
    assert_eq!(pair.b.seen.received.len(), 1);
    // Then a head, one byte every 2 s: the frame keeps making progress, so only the time
    // allowed for a head can end it.
    let head = format!(
        "MSRP trickle1 SEND\r\nTo-Path: {BOB}\r\nFrom-Path: {ALICE}\r\nMessage-ID: slow1\r\n"
    );
    let started = pair.now;
    for byte in head.bytes() {
        let now = pair.now;
        pair.b.conn.handle_input(now, &[byte]);
        pair.advance(Duration::from_secs(2));
        if !pair.b.seen.connection_failed.is_empty() {
            break;
        }
    }
    assert_eq!(
        pair.b.seen.connection_failed,
        vec![SessionFailure::HeadTimeout]
    );
    let took = pair.now - started;
    assert!(
        took >= Duration::from_secs(10) && took <= Duration::from_secs(12),
        "{took:?}"
    );
}
