//! `ws_frames`: the WebSocket framing of MSRP over WebSocket (`msrp_wire::ws`, RFC 7977).
//!
//! The first byte picks one of three checks:
//! - **decode**: arbitrary bytes, cut into pieces, into a `Decoder` of either side with a small
//!   or default message limit: no panic; `consumed` and every data range lie within the slice
//!   given; no message grows past the limit; an error ends the stream; the pieces give the same
//!   messages, control frames and error as the whole stream at once.
//! - **roundtrip**: MSRP frames written with msrp-wire's encoder, bodies from the input, go
//!   through a `MessageWriter` of either side, in input-chosen pieces and with an input-chosen
//!   fragment size, and come out of the other side's `Decoder` as exactly one message each,
//!   byte for byte, in order.
//! - **handshake**: arbitrary bytes as an upgrade request and as a response, and as MSRP output
//!   for `FrameEnds`: no panic, and lengths and offsets within the input.

use bytes::Bytes;
use msrp_wire::ws::handshake::{self, ClientHandshake};
use msrp_wire::ws::{Control, Decoder, FrameEnds, Item, MessageWriter, Role, WsError, WsLimits};
use msrp_wire::{Flag, HeadWriter, TransactionId, choose_transaction_id, end_line};

use crate::drive::{Input, random};

pub fn check(data: &[u8]) {
    let mut input = Input(data);
    match input.byte() % 3 {
        0 => decode(&mut input),
        1 => roundtrip(&mut input),
        _ => handshake(input.0),
    }
}

/// What a decoder made of a stream.
#[derive(Debug, Default, PartialEq)]
struct Decoded {
    messages: Vec<Vec<u8>>,
    controls: Vec<Control>,
    error: Option<WsError>,
}

/// Feeds `pieces` to `decoder`, checking every step.
fn run(decoder: &mut Decoder, pieces: &[Vec<u8>], limit: u64) -> Decoded {
    let mut out = Decoded::default();
    let mut partial = Vec::new();
    for piece in pieces {
        let mut piece = piece.clone();
        let mut pos = 0;
        loop {
            let len = piece.len() - pos;
            let step = match decoder.decode(&mut piece[pos..]) {
                Ok(step) => step,
                Err(e) => {
                    out.error = Some(e);
                    return out;
                }
            };
            assert!(step.consumed <= len, "consumed {} of {len}", step.consumed);
            let base = pos;
            pos += step.consumed;
            match step.item {
                None => {
                    assert_eq!(pos, piece.len(), "stopped with input left");
                    break;
                }
                Some(Item::Data(range)) => {
                    assert!(range.start <= range.end && range.end <= step.consumed);
                    partial.extend_from_slice(&piece[base + range.start..base + range.end]);
                    assert!(
                        partial.len() as u64 <= limit,
                        "a message of {} bytes over the limit {limit}",
                        partial.len()
                    );
                }
                Some(Item::MessageEnd) => out.messages.push(core::mem::take(&mut partial)),
                Some(Item::Control(c)) => out.controls.push(c),
            }
        }
    }
    out
}

fn decode(input: &mut Input<'_>) {
    let flags = input.byte();
    let role = if flags & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let mut limits = WsLimits::default();
    if flags & 2 != 0 {
        limits.max_message = u64::from(input.byte()) * 4;
    }
    let lengths: Vec<usize> = input
        .bytes(usize::from(flags >> 4))
        .iter()
        .map(|&b| usize::from(b))
        .collect();
    let stream = input.0.to_vec();
    let mut pieces = Vec::new();
    let mut rest = &stream[..];
    let mut i = 0;
    while !rest.is_empty() {
        let n = match lengths.get(i % lengths.len().max(1)) {
            Some(&n) if n > 0 => n.min(rest.len()),
            _ => rest.len(),
        };
        pieces.push(rest[..n].to_vec());
        rest = &rest[n..];
        i += 1;
    }
    let split = run(
        &mut Decoder::with_limits(role, limits),
        &pieces,
        limits.max_message,
    );
    let whole = run(
        &mut Decoder::with_limits(role, limits),
        &[stream],
        limits.max_message,
    );
    assert_eq!(split, whole, "the pieces decode otherwise than the whole");
}

fn roundtrip(input: &mut Input<'_>) {
    let flags = input.byte();
    let role = if flags & 1 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let fragment = 1 + usize::from(input.byte()) * 16;
    let step = 1 + usize::from(input.byte());
    let mut tids = random(u64::from(flags));
    let mut frames = Vec::new();
    for n in 0..1 + input.byte() % 8 {
        let len = usize::from(input.byte()) * 4;
        let body = input.bytes(len).to_vec();
        let tid = choose_transaction_id(&body, 16, || {
            let mut r = [0u8; 16];
            tids(&mut r);
            TransactionId::from_random(r)
        })
        .expect("a transaction id");
        let mut frame = Vec::new();
        let mut w = HeadWriter::request(&mut frame, &tid, "SEND").expect("a request");
        w.header("To-Path", "msrp://b.example.com:2855/s1;tcp")
            .and_then(|w| w.header("From-Path", "msrp://a.invalid:2855/s2;ws"))
            .and_then(|w| w.header("Message-ID", &format!("msg{n:04}")))
            .expect("headers");
        let flag = [Flag::End, Flag::Continued, Flag::Aborted][usize::from(n) % 3];
        if body.is_empty() {
            w.end(flag).expect("an end-line");
        } else {
            w.header("Content-Type", "application/octet-stream")
                .expect("a content type");
            w.body_follows().expect("a body");
            frame.extend_from_slice(&body);
            end_line(&mut frame, &tid, flag);
        }
        frames.push(frame);
    }
    let stream = frames.concat();
    let mut writer = match role {
        Role::Client => MessageWriter::client(random(7), fragment),
        Role::Server => MessageWriter::server(fragment),
    };
    let mut out = Vec::new();
    for piece in stream.chunks(step) {
        writer
            .push(Bytes::copy_from_slice(piece), &mut out)
            .expect("MSRP output");
    }
    assert!(writer.at_boundary(), "output held after the last frame");
    let wire = out.concat();
    let peer = match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let mut limits = WsLimits::default();
    limits.max_message = u64::MAX >> 1;
    let got = run(&mut Decoder::with_limits(peer, limits), &[wire], u64::MAX);
    assert_eq!(got.error, None);
    assert!(got.controls.is_empty());
    assert_eq!(got.messages, frames, "each MSRP frame is one message");
}

fn handshake(data: &[u8]) {
    let limits = WsLimits::default();
    if let Ok(Some((_, len))) = handshake::read_request(data, &limits) {
        assert!(len <= data.len());
    }
    let client = ClientHandshake::with_key("dGhlIHNhbXBsZSBub25jZQ==");
    if let Ok(Some(len)) = client.read_response(data, &limits) {
        assert!(len <= data.len());
    }
    let mut ends = FrameEnds::new();
    for piece in data.chunks(7) {
        let mut rest = piece;
        loop {
            match ends.scan(rest) {
                Ok(Some(end)) => {
                    assert!(end <= rest.len());
                    rest = &rest[end..];
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}
