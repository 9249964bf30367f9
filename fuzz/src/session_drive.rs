//! `session_drive`: one [`Connection`] with one session, driven by arbitrary input bytes,
//! timeouts and commands, answered by a peer whose frames are partly well formed (so that the
//! fuzzer reaches reassembly, reports and transactions) and partly raw bytes.
//!
//! Asserted: no panic; memory stays within the configured limits (messages being received,
//! bytes buffered for whole delivery, bytes let through beyond gaps, bytes held by the
//! decoder, queued responses); input is
//! only given while the connection wants it; and every sent message gets at most one outcome,
//! exactly one once the connection is closed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_session::{
    Chunking, Connection, ConnectionConfig, ConnectionEvent, Event, Limits, MessageHandle,
    OutgoingMessage, Session, SessionConfig,
};
use msrp_wire::{Decoder, FailureReport, Flag, HeadWriter, StatusCode, TransactionId, end_line};

const LOCAL: &str = "msrp://local.example.com:7000/locals3ssion;tcp";
const PEER: &str = "msrp://peer.example.com:8000/peers3ssion;tcp";

/// A cursor over the fuzz input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

/// Runs the target on one input.
pub fn check(data: &[u8]) {
    let mut input = Input(data);
    let mut seed = u64::from(input.byte().unwrap_or(0));
    let limits = {
        let mut l = Limits::default();
        l.max_message_size = 1 << 20;
        l.max_incoming_messages = 4;
        l.max_buffered_bytes = 4096;
        l.deliver_whole_up_to = 2048;
        l.max_ranges = 8;
        l.max_gap_bytes = 3000;
        l
    };
    let mut config = SessionConfig::new(
        LOCAL.parse().unwrap(),
        PEER.parse().unwrap(),
        move |buf: &mut [u8]| {
            for b in buf {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                *b = (seed >> 33) as u8;
            }
        },
    );
    config.limits = limits;
    config.chunking = match input.byte().unwrap_or(0) % 3 {
        0 => Chunking::Interruptible,
        1 => Chunking::Fixed(100),
        _ => Chunking::Fixed(3000),
    };
    let mut conn_config = ConnectionConfig::default();
    conn_config.wire.max_head = 2048;
    conn_config.max_queued_control = 8192;
    let mut conn = Connection::new(conn_config);
    let key = conn.insert_session(Session::new(config).unwrap()).unwrap();

    let mut now = Instant::now();
    let mut outcomes: HashMap<MessageHandle, usize> = HashMap::new();
    let mut sent: Vec<MessageHandle> = Vec::new();
    // Transaction ids of the chunks the session sent, which the peer may answer.
    let mut our_tids: Vec<String> = Vec::new();
    let mut out_decoder = Decoder::new();
    let mut largest_push = 0usize;

    while let Some(op) = input.byte() {
        match op % 9 {
            // Raw bytes from the peer.
            0 => {
                let n = usize::from(input.byte().unwrap_or(0));
                let data = input.bytes(n).to_vec();
                if conn.wants_read() {
                    largest_push = largest_push.max(data.len());
                    conn.handle_input(now, &data);
                }
            }
            // A well-formed SEND chunk from the peer.
            1 => {
                let frame = peer_send(&mut input);
                if conn.wants_read() {
                    largest_push = largest_push.max(frame.len());
                    conn.handle_input(now, &frame);
                }
            }
            // A response from the peer to one of our transactions.
            2 => {
                let pick = usize::from(input.byte().unwrap_or(0));
                let code = [200u16, 400, 403, 408, 413, 415, 481, 501, 506][pick % 9];
                if let Some(tid) = our_tids.get(pick % our_tids.len().max(1)) {
                    let frame = response(tid, code);
                    if conn.wants_read() {
                        conn.handle_input(now, &frame);
                    }
                }
            }
            // Time passes.
            3 => {
                let ms = u64::from(input.byte().unwrap_or(0)) * 500;
                now += Duration::from_millis(ms);
                conn.handle_timeout(now);
            }
            // The application sends a message.
            4 => {
                let len = usize::from(input.byte().unwrap_or(0)) * 37;
                let body: Vec<u8> = input.bytes(len).iter().copied().cycle().take(len).collect();
                let fr = [
                    FailureReport::Yes,
                    FailureReport::No,
                    FailureReport::Partial,
                ][usize::from(input.byte().unwrap_or(0) % 3)];
                let message = OutgoingMessage::new("text/plain", Bytes::from(body))
                    .failure_report(fr)
                    .success_report(op & 0x80 != 0);
                if let Ok(handle) = conn.send(key, message) {
                    sent.push(handle);
                }
            }
            // The application aborts one.
            5 => {
                if let Some(&h) =
                    sent.get(usize::from(input.byte().unwrap_or(0)) % sent.len().max(1))
                {
                    conn.abort(key, h);
                }
            }
            // Output is written, within a budget.
            6 => {
                let budget = 1 + usize::from(input.byte().unwrap_or(0)) * 64;
                let mut pieces = Vec::new();
                conn.poll_transmit_vectored(now, budget, &mut pieces);
                for p in pieces {
                    out_decoder.push(&p);
                }
                while let Ok(Some(frame)) = out_decoder.decode() {
                    if frame.is_request() {
                        our_tids.push(frame.transaction_id().to_owned());
                    }
                }
            }
            // The session is closed.
            7 => conn.close_session(key),
            // The connection is lost.
            _ => conn.handle_close(now),
        }
        while let Some(event) = conn.poll_event() {
            if let ConnectionEvent::Session(_, Event::Outcome(o)) = event {
                let count = outcomes.entry(o.handle).or_default();
                *count += 1;
                assert_eq!(*count, 1, "one outcome per message");
            }
        }
        if let Some(session) = conn.session(key) {
            assert!(session.messages_receiving() <= limits.max_incoming_messages);
            assert!(session.buffered_bytes() <= limits.max_buffered_bytes);
            assert!(session.gap_bytes() <= limits.max_gap_bytes);
        }
        assert!(
            conn.buffered_input() <= 2048 + largest_push + 64,
            "decoder holds {}",
            conn.buffered_input()
        );
        assert!(
            conn.queued_control() <= 8192 + 4096,
            "queued control {}",
            conn.queued_control()
        );
    }
    conn.handle_close(now);
    while let Some(event) = conn.poll_event() {
        if let ConnectionEvent::Session(_, Event::Outcome(o)) = event {
            *outcomes.entry(o.handle).or_default() += 1;
        }
    }
    for h in sent {
        assert_eq!(
            outcomes.get(&h),
            Some(&1),
            "message {h:?} got exactly one outcome"
        );
    }
}

/// A SEND chunk from the peer with fields chosen by the input.
fn peer_send(input: &mut Input<'_>) -> Vec<u8> {
    let b = input.byte().unwrap_or(0);
    let tid = TransactionId::from_random([b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    let message_id = ["mid1", "mid2", "mid3", "mid4", "mid5", "mid6"][usize::from(b % 6)];
    let start = u64::from(input.byte().unwrap_or(0)) * 16 + 1;
    let len = usize::from(input.byte().unwrap_or(0));
    let total = match input.byte().unwrap_or(0) % 4 {
        0 => "*".to_owned(),
        1 => (start + len as u64 - 1).to_string(),
        2 => "4096".to_owned(),
        _ => (1u64 << 40).to_string(),
    };
    let end = if b & 0x40 != 0 {
        "*".to_owned()
    } else {
        (start + len as u64).saturating_sub(1).to_string()
    };
    let flag = [Flag::End, Flag::Continued, Flag::Aborted][usize::from(b % 3)];
    let body: Vec<u8> = input.bytes(len).to_vec();
    let mut out = Vec::new();
    let Ok(mut w) = HeadWriter::request(&mut out, &tid, "SEND") else {
        return out;
    };
    let _ = w
        .header("To-Path", LOCAL)
        .and_then(|w| w.header("From-Path", PEER));
    let _ = w.header("Message-ID", message_id);
    let _ = w.header("Byte-Range", &format!("{start}-{end}/{total}"));
    if b & 0x80 != 0 {
        let _ = w.header("Success-Report", "yes");
    }
    let _ = w.header("Content-Type", "text/plain");
    if w.body_follows().is_ok() && msrp_wire::find_end_line(&body, &tid).is_none() {
        out.extend_from_slice(&body);
    }
    end_line(&mut out, &tid, flag);
    out
}

/// A response from the peer.
fn response(tid: &str, code: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let (Ok(tid), Some(code)) = (TransactionId::new(tid), StatusCode::new(code)) else {
        return out;
    };
    if let Ok(mut w) = HeadWriter::response(&mut out, &tid, code, None) {
        let _ = w
            .header("To-Path", LOCAL)
            .and_then(|w| w.header("From-Path", PEER));
        let _ = w.end(Flag::End);
    }
    out
}
