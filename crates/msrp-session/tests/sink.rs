//! Sinks for incoming bodies: every message goes to the application's sink at its offsets,
//! refused before its 200 when the sink says so, and a sink that fails fails its message alone,
//! with the sender told.

mod common;

use std::io;
use std::sync::{Arc, Mutex};

use common::{ALICE, BOB, Pair, RawChunk, Side, config, frames};
use msrp_session::{
    BodySink, Chunking, Event, FailedBy, IncomingFailure, IncomingSink, MessageHandle,
    MessageStart, OutgoingMessage, SessionConfig,
};
use msrp_wire::{Flag, Method, StatusCode};

/// What a recording sink was told.
#[derive(Debug, Default)]
struct Log {
    /// The Message-IDs of the messages offered to it.
    starts: Vec<String>,
    /// Writes: (offset, length), in the order they came.
    writes: Vec<(u64, usize)>,
    /// The bytes written, at their offsets.
    body: Vec<u8>,
    ends: Vec<Result<u64, IncomingFailure>>,
}

/// A sink that keeps what it is given in memory, and fails as it is told to.
#[derive(Clone, Default)]
struct Recorder {
    log: Arc<Mutex<Log>>,
    /// Refuse every message with this status.
    refuse: Option<StatusCode>,
    /// Fail writes that reach this offset.
    fail_writes_from: Option<u64>,
    /// Fail to finish a complete message.
    fail_finish: bool,
}

impl IncomingSink for Recorder {
    fn start(&mut self, message: &MessageStart) -> Result<Option<Box<dyn BodySink>>, StatusCode> {
        let mut log = self.log.lock().unwrap();
        log.starts.push(message.message_id.to_string());
        log.body.clear();
        match self.refuse {
            Some(code) => Err(code),
            None => Ok(Some(Box::new(self.clone()))),
        }
    }
}

impl BodySink for Recorder {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset as usize + data.len();
        if self.fail_writes_from.is_some_and(|at| end as u64 > at) {
            return Err(io::Error::other("no space left"));
        }
        let mut log = self.log.lock().unwrap();
        log.writes.push((offset, data.len()));
        if log.body.len() < end {
            log.body.resize(end, 0);
        }
        log.body[offset as usize..end].copy_from_slice(data);
        Ok(())
    }

    fn finish(self: Box<Self>, result: Result<u64, IncomingFailure>) -> io::Result<()> {
        self.log.lock().unwrap().ends.push(result);
        if self.fail_finish && result.is_ok() {
            return Err(io::Error::other("cannot close"));
        }
        Ok(())
    }
}

/// Alice, with `alice` set on her configuration, and a Bob whose session has `sink`. Bob lets
/// only 100 bytes through beyond gaps: a sink's messages are not counted, as they cost the
/// session nothing.
fn pair_with_sink(sink: Recorder, alice: impl FnOnce(&mut SessionConfig), seed: u64) -> Pair {
    let mut a = config(ALICE, BOB, seed);
    alice(&mut a);
    let mut b = config(BOB, ALICE, seed + 1);
    b.limits.max_gap_bytes = 100;
    b.sink = Some(Box::new(sink));
    Pair::new(Side::new(vec![a]), Side::new(vec![b]), seed)
}

/// What Bob writes after taking `chunks`, as frames.
fn answers(pair: &mut Pair, chunks: &[Vec<u8>]) -> Vec<msrp_wire::Frame> {
    let now = pair.now;
    for chunk in chunks {
        pair.b.conn.handle_input(now, chunk);
    }
    let mut wire = Vec::new();
    pair.b.conn.poll_transmit(now, &mut wire);
    pair.b.drain_events_for_test();
    frames(&wire)
}

/// Queues a message on Alice's session.
fn send(pair: &mut Pair, message: OutgoingMessage) -> MessageHandle {
    let key = pair.a.key();
    pair.a.conn.send(key, message).unwrap()
}

/// How a message Alice sent failed: its status and who said so.
fn failure(pair: &Pair, handle: MessageHandle) -> (Option<StatusCode>, FailedBy) {
    let outcome = pair.a.seen.outcome(handle).unwrap();
    let failure = outcome.result.clone().unwrap_err();
    (failure.status, failure.by)
}

fn codes(frames: &[msrp_wire::Frame]) -> Vec<StatusCode> {
    frames.iter().filter_map(|f| f.status_code()).collect()
}

#[test]
fn a_sink_takes_every_message_and_no_data_events_come() {
    let sink = Recorder::default();
    let log = sink.log.clone();
    let mut pair = pair_with_sink(sink, |a| a.chunking = Chunking::Fixed(10_000), 1);
    let small = send(&mut pair, OutgoingMessage::new("text/plain", "hello"));
    pair.drive();
    assert!(pair.a.seen.outcome(small).unwrap().result.is_ok());
    assert_eq!(log.lock().unwrap().body, b"hello");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let large = send(
        &mut pair,
        OutgoingMessage::new("application/octet-stream", data.clone()),
    );
    pair.drive();
    assert!(pair.a.seen.outcome(large).unwrap().result.is_ok());
    let log = log.lock().unwrap();
    assert_eq!(log.body, data);
    assert_eq!(log.ends, [Ok(5), Ok(300_000)]);
    // The application hears of both messages, but their data went only to the sink.
    let seen = &pair.b.seen;
    assert_eq!((seen.starts, seen.received.len()), (2, 2));
    assert_eq!((seen.whole, seen.data_events), (0, 0));
}

#[test]
fn chunks_out_of_order_far_beyond_a_gap_are_written_in_place_and_held_nowhere() {
    let sink = Recorder::default();
    let log = sink.log.clone();
    let mut pair = pair_with_sink(sink, |_| {}, 2);
    let data: Vec<u8> = (0..30_000u32).map(|i| (i % 253) as u8).collect();
    let chunk = |i: usize, tid: &str| {
        let flag = if i == 2 { Flag::End } else { Flag::Continued };
        RawChunk {
            offset: i * 10_000,
            total: Some(30_000),
            flag,
            ..RawChunk::new(tid, "scattered")
        }
        .encode(&data[i * 10_000..(i + 1) * 10_000])
    };
    // The last chunk first, then the middle one: 20,000 bytes beyond the gap.
    let got = answers(&mut pair, &[chunk(2, "tx-two"), chunk(1, "tx-one")]);
    assert_eq!(codes(&got), [StatusCode::OK, StatusCode::OK]);
    assert_eq!(pair.b.conn.session(pair.b.key()).unwrap().gap_bytes(), 0);
    let got = answers(&mut pair, &[chunk(0, "tx-zero")]);
    assert_eq!(codes(&got), [StatusCode::OK]);
    let log = log.lock().unwrap();
    assert_eq!(
        log.writes,
        [(20_000, 10_000), (10_000, 10_000), (0, 10_000)]
    );
    assert_eq!(log.body, data);
    assert_eq!(log.ends, [Ok(30_000)]);
    let seen = &pair.b.seen;
    assert_eq!((seen.starts, seen.data_events, seen.whole), (1, 0, 0));
    assert!(seen.given_up.is_empty());
}

#[test]
fn a_sink_refuses_a_message_before_its_200() {
    let sink = Recorder {
        refuse: Some(StatusCode::MESSAGE_TOO_LARGE),
        ..Recorder::default()
    };
    let log = sink.log.clone();
    let mut pair = pair_with_sink(sink, |_| {}, 3);
    let handle = send(&mut pair, OutgoingMessage::new("text/plain", "unwanted"));
    pair.drive();
    // The one chunk was answered 413, not 200: the sender learns the message failed.
    assert_eq!(
        failure(&pair, handle),
        (Some(StatusCode::MESSAGE_TOO_LARGE), FailedBy::PeerResponse)
    );
    assert_eq!(pair.b.seen.starts, 0, "a refused message never starts");
    // A chunked message: its first chunk is refused before any 200, and its later chunks
    // without asking the sink again.
    let first = RawChunk {
        flag: Flag::Continued,
        total: Some(20),
        ..RawChunk::new("tx-first", "refused-chunked")
    };
    let second = RawChunk {
        tid: "tx-second",
        offset: 10,
        ..first
    };
    let got = answers(
        &mut pair,
        &[first.encode(&[1; 10]), second.encode(&[2; 10])],
    );
    assert_eq!(
        codes(&got),
        [StatusCode::MESSAGE_TOO_LARGE, StatusCode::MESSAGE_TOO_LARGE]
    );
    let log = log.lock().unwrap();
    assert_eq!(log.starts.len(), 2, "the sink was asked once per message");
    assert_eq!(log.starts[1], "refused-chunked");
    assert!(log.writes.is_empty() && log.ends.is_empty());
}

#[test]
fn a_write_that_fails_fails_that_message_alone_and_the_sender_learns_it() {
    let sink = Recorder {
        fail_writes_from: Some(20_000),
        ..Recorder::default()
    };
    let log = sink.log.clone();
    let mut pair = pair_with_sink(sink, |a| a.chunking = Chunking::Fixed(4096), 4);
    pair.max_write = 4096;
    let body = vec![7u8; 100_000];
    let large = send(
        &mut pair,
        OutgoingMessage::new("application/octet-stream", body),
    );
    let small = send(&mut pair, OutgoingMessage::new("text/plain", "fine"));
    pair.drive();
    // RFC 4975 §7.1.4: "it SHOULD simply include the appropriate error code in the transaction
    // response": the chunk whose write failed was answered 413.
    assert_eq!(
        failure(&pair, large),
        (Some(StatusCode::MESSAGE_TOO_LARGE), FailedBy::PeerResponse)
    );
    assert!(pair.a.seen.outcome(small).unwrap().result.is_ok());
    assert!(pair.a.seen.failures.is_empty(), "the session goes on");
    assert_eq!(
        pair.b.seen.given_up,
        [(pair.b.seen.given_up[0].0.clone(), IncomingFailure::Sink)]
    );
    let log = log.lock().unwrap();
    // The two messages took turns; each ended its own way.
    assert_eq!(log.ends.len(), 2);
    assert!(log.ends.contains(&Err(IncomingFailure::Sink)) && log.ends.contains(&Ok(4)));
    // The sender stopped: what Bob read is about what was written before the failure.
    assert!(pair.moved.0 < 60_000, "{} bytes sent", pair.moved.0);
    // A later chunk of the failed message is refused without reaching the sink.
    let mid = pair.b.seen.given_up[0].0.clone();
    let late = RawChunk {
        offset: 90_000,
        ..RawChunk::new("tx-late", &mid)
    };
    drop(log);
    let got = answers(&mut pair, &[late.encode(&[7; 10])]);
    assert_eq!(codes(&got), [StatusCode::MESSAGE_TOO_LARGE]);
}

#[test]
fn a_sink_that_cannot_finish_a_complete_message_sends_the_failure_report_asked_for() {
    let sink = Recorder {
        fail_finish: true,
        ..Recorder::default()
    };
    let mut pair = pair_with_sink(sink, |_| {}, 5);
    let got = answers(
        &mut pair,
        &[RawChunk::new("tx-fin", "unfinished").encode(b"hello")],
    );
    // The chunk was acknowledged before the sink failed; the failure REPORT follows it.
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].status_code(), Some(StatusCode::OK));
    assert_eq!(got[1].method(), Some(Method::Report));
    let report = got[1].head();
    let status = report.status().unwrap().unwrap();
    assert_eq!(
        (status.namespace, status.code),
        (0, StatusCode::MESSAGE_TOO_LARGE)
    );
    assert_eq!(report.message_id().unwrap(), Some("unfinished"));
    let range = report.byte_range().unwrap().unwrap();
    assert_eq!((range.start, range.end, range.total), (1, Some(5), Some(5)));
    assert_eq!(
        pair.b.seen.given_up,
        [("unfinished".to_owned(), IncomingFailure::Sink)]
    );
    // With Failure-Report "no", nothing at all is sent (RFC 4975 §7.1.4: "it MUST NOT send a
    // failure REPORT request, and MUST NOT send a transaction response").
    let quiet = RawChunk {
        failure_report: Some("no"),
        ..RawChunk::new("tx-quiet", "unfinished-quietly")
    };
    assert!(answers(&mut pair, &[quiet.encode(b"hello")]).is_empty());
    // A resent chunk of the failed message is refused rather than stored again.
    let again = answers(
        &mut pair,
        &[RawChunk::new("tx-again", "unfinished").encode(b"hello")],
    );
    assert_eq!(codes(&again), [StatusCode::MESSAGE_TOO_LARGE]);
}

#[test]
fn events_tell_of_sink_messages() {
    let sink = Recorder::default();
    let mut pair = pair_with_sink(sink, |_| {}, 6);
    let now = pair.now;
    pair.b
        .conn
        .handle_input(now, &RawChunk::new("tx-evt", "told").encode(b"abc"));
    let events: Vec<Event> = std::iter::from_fn(|| pair.b.conn.poll_event())
        .filter_map(|e| match e {
            msrp_session::ConnectionEvent::Session(_, e) => Some(e),
            _ => None,
        })
        .collect();
    assert!(
        matches!(&events[..], [Event::MessageStart(s), Event::MessageEnd(e)]
            if s.message_id.as_str() == "told" && s.key == e.key && e.result == Ok(3)),
        "{events:?}"
    );
}
