//! MSRP over WebSocket (RFC 7977) framing: RFC 6455's own examples, the framing rules and
//! limits, and every RFC MSRP example put into WebSocket messages and read back, in any split.

mod common;

use bytes::Bytes;
use common::msrp_vectors;
use msrp_wire::ws::handshake::{self, ClientHandshake, HandshakeError, Request};
use msrp_wire::ws::{
    Control, Decoder, FrameEnds, Item, MessageWriter, Opcode, Role, WsError, WsLimits, apply_mask,
    close_payload, write_header,
};

/// Everything a decoder makes of `wire`, fed in pieces of `step` bytes: the data messages
/// (payloads joined) and the control frames, in order.
#[derive(Debug, Default, PartialEq)]
struct Read {
    messages: Vec<Vec<u8>>,
    controls: Vec<Control>,
    partial: Vec<u8>,
}

fn read_all(decoder: &mut Decoder, wire: &[u8], step: usize) -> Result<Read, WsError> {
    let mut read = Read::default();
    let mut copy = wire.to_vec();
    for piece in copy.chunks_mut(step.max(1)) {
        let mut pos = 0;
        loop {
            let decoded = decoder.decode(&mut piece[pos..])?;
            let base = pos;
            pos += decoded.consumed;
            match decoded.item {
                None => break,
                Some(Item::Data(range)) => read
                    .partial
                    .extend_from_slice(&piece[base + range.start..base + range.end]),
                Some(Item::MessageEnd) => read.messages.push(std::mem::take(&mut read.partial)),
                Some(Item::Control(c)) => read.controls.push(c),
            }
        }
    }
    Ok(read)
}

#[test]
fn rfc6455_examples_decode() {
    // RFC 6455 §5.7: "A single-frame unmasked text message", "A single-frame masked text
    // message", "A fragmented unmasked text message", "Unmasked Ping request and masked Ping
    // response".
    let unmasked = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let masked = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let fragmented = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    for step in 1..12 {
        let got = read_all(&mut Decoder::new(Role::Client), &unmasked, step).unwrap();
        assert_eq!(got.messages, vec![b"Hello".to_vec()]);
        let got = read_all(&mut Decoder::new(Role::Server), &masked, step).unwrap();
        assert_eq!(got.messages, vec![b"Hello".to_vec()]);
        let got = read_all(&mut Decoder::new(Role::Client), &fragmented, step).unwrap();
        assert_eq!(got.messages, vec![b"Hello".to_vec()]);
        let got = read_all(&mut Decoder::new(Role::Client), &ping, step).unwrap();
        assert_eq!(got.controls, vec![Control::Ping(b"Hello".to_vec())]);
        let got = read_all(&mut Decoder::new(Role::Server), &pong, step).unwrap();
        assert_eq!(got.controls, vec![Control::Pong(b"Hello".to_vec())]);
    }
}

#[test]
fn rfc6455_length_examples_encode() {
    // RFC 6455 §5.7: "256 bytes binary message in a single unmasked frame" is 0x82 0x7E 0x0100,
    // "64KiB binary message" 0x82 0x7F 0x0000000000010000.
    let mut header = [0u8; 14];
    let n = write_header(&mut header, true, Opcode::Binary, 256, None);
    assert_eq!(&header[..n], &[0x82, 0x7e, 0x01, 0x00]);
    let n = write_header(&mut header, true, Opcode::Binary, 65536, None);
    assert_eq!(&header[..n], &[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
    let n = write_header(
        &mut header,
        true,
        Opcode::Text,
        5,
        Some([0x37, 0xfa, 0x21, 0x3d]),
    );
    let mut hello = *b"Hello";
    apply_mask(&mut hello, [0x37, 0xfa, 0x21, 0x3d], 0);
    assert_eq!(&header[..n], &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
    assert_eq!(hello, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
}

#[test]
fn masking_from_any_offset_matches_bytewise_masking() {
    let key = [1, 2, 3, 250];
    let data: Vec<u8> = (0..100u8).collect();
    for offset in 0..8 {
        let mut fast = data.clone();
        apply_mask(&mut fast, key, offset);
        let slow: Vec<u8> = data
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[(i + offset) % 4])
            .collect();
        assert_eq!(fast, slow, "offset {offset}");
    }
}

/// One frame with the given first byte and payload, masked or not.
fn frame(first: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let key = [9, 8, 7, 6];
    let mut header = [0u8; 14];
    let opcode = match first & 0x0f {
        0 => Opcode::Continuation,
        1 => Opcode::Text,
        2 => Opcode::Binary,
        8 => Opcode::Close,
        9 => Opcode::Ping,
        _ => Opcode::Pong,
    };
    let n = write_header(
        &mut header,
        first & 0x80 != 0,
        opcode,
        payload.len() as u64,
        mask.then_some(key),
    );
    header[0] = first;
    let mut out = header[..n].to_vec();
    let mut body = payload.to_vec();
    if mask {
        apply_mask(&mut body, key, 0);
    }
    out.extend_from_slice(&body);
    out
}

#[test]
fn framing_rules_of_rfc6455_fail_the_connection() {
    let cases: Vec<(Vec<u8>, WsError)> = vec![
        // §5.1: a client's frames are masked, a server's are not.
        (
            frame(0x82, b"x", false),
            WsError::Protocol("a client frame not masked"),
        ),
        // §5.2: reserved bits.
        (
            frame(0xc2, b"x", true),
            WsError::Protocol("a reserved bit is set"),
        ),
        (frame(0x83, b"x", true), WsError::Protocol("unknown opcode")),
        // §5.5: control frames are short and whole.
        (
            frame(0x09, b"x", true),
            WsError::Protocol("a control frame fragmented or too long"),
        ),
        (
            frame(0x89, &[0; 126], true),
            WsError::Protocol("a control frame fragmented or too long"),
        ),
        // §5.4: continuations only inside a message, messages not inside each other.
        (
            frame(0x80, b"x", true),
            WsError::Protocol("a continuation with no message begun"),
        ),
        (
            [frame(0x02, b"x", true), frame(0x82, b"y", true)].concat(),
            WsError::Protocol("a message begun inside another"),
        ),
        // §8.1: text is UTF-8, even across fragments.
        (frame(0x81, &[0xff], true), WsError::InvalidUtf8),
        (
            [frame(0x01, &[0xe2, 0x82], true), frame(0x80, b"x", true)].concat(),
            WsError::InvalidUtf8,
        ),
        (
            [frame(0x81, &[0xe2, 0x82], true)].concat(),
            WsError::InvalidUtf8,
        ),
        // §5.5.1: nothing after a Close.
        (
            [
                frame(0x88, &close_payload(1000, "bye"), true),
                frame(0x82, b"x", true),
            ]
            .concat(),
            WsError::AfterClose,
        ),
    ];
    for (wire, expected) in cases {
        let got = read_all(&mut Decoder::new(Role::Server), &wire, wire.len());
        assert_eq!(got.err(), Some(expected.clone()), "{wire:02x?}");
        // The same in single bytes.
        let got = read_all(&mut Decoder::new(Role::Server), &wire, 1);
        assert_eq!(got.err(), Some(expected), "{wire:02x?} byte by byte");
    }
    // A server's masked frame, to a client.
    let got = read_all(&mut Decoder::new(Role::Client), &frame(0x82, b"x", true), 1);
    assert_eq!(got.err(), Some(WsError::Protocol("a server frame masked")));
    // A length that takes more bytes than it needs: 5 in the 16-bit form.
    let wire = [0x82, 0x7e, 0x00, 0x05, b'a', b'b', b'c', b'd', b'e'];
    let got = read_all(&mut Decoder::new(Role::Client), &wire, 9);
    assert_eq!(
        got.err(),
        Some(WsError::Protocol("a payload length not minimally encoded"))
    );
}

#[test]
fn text_split_inside_a_character_across_fragments_is_accepted() {
    let euro = "€ and ✓".as_bytes();
    let wire = [
        frame(0x01, &euro[..1], true),
        frame(0x00, &euro[1..5], true),
        frame(0x80, &euro[5..], true),
    ]
    .concat();
    for step in 1..wire.len() {
        let got = read_all(&mut Decoder::new(Role::Server), &wire, step).unwrap();
        assert_eq!(got.messages, vec![euro.to_vec()], "step {step}");
    }
}

#[test]
fn control_frames_between_fragments_and_close_codes() {
    let wire = [
        frame(0x02, b"ab", true),
        frame(0x89, b"p", true),
        frame(0x80, b"cd", true),
        frame(0x88, &close_payload(1001, "going away"), true),
    ]
    .concat();
    let mut decoder = Decoder::new(Role::Server);
    let got = read_all(&mut decoder, &wire, 3).unwrap();
    assert_eq!(got.messages, vec![b"abcd".to_vec()]);
    assert_eq!(
        got.controls,
        vec![
            Control::Ping(b"p".to_vec()),
            Control::Close {
                code: Some(1001),
                reason: "going away".into()
            }
        ]
    );
    assert!(decoder.is_closed());
}

#[test]
fn a_message_over_the_limit_fails_with_1009_before_its_payload_is_read() {
    let mut limits = WsLimits::default();
    limits.max_message = 1000;
    // One frame announcing more than the limit: refused at its header.
    let mut header = [0u8; 14];
    let n = write_header(
        &mut header,
        true,
        Opcode::Binary,
        1 << 40,
        Some([1, 2, 3, 4]),
    );
    let mut decoder = Decoder::with_limits(Role::Server, limits);
    let err = decoder.decode(&mut header[..n]).unwrap_err();
    assert_eq!(err, WsError::MessageTooBig { limit: 1000 });
    assert_eq!(err.close_code(), 1009);
    // Fragments that add up past it.
    let wire = [frame(0x02, &[0; 600], true), frame(0x80, &[0; 600], true)].concat();
    let got = read_all(&mut Decoder::with_limits(Role::Server, limits), &wire, 64);
    assert_eq!(got.err(), Some(WsError::MessageTooBig { limit: 1000 }));
    // Exactly the limit passes.
    let wire = frame(0x82, &[7; 1000], true);
    let got = read_all(&mut Decoder::with_limits(Role::Server, limits), &wire, 64).unwrap();
    assert_eq!(got.messages[0].len(), 1000);
}

/// Every RFC example frame, as one output stream.
fn all_frames() -> (Vec<u8>, Vec<usize>) {
    let mut stream = Vec::new();
    let mut ends = Vec::new();
    for (_, bytes) in msrp_vectors() {
        stream.extend_from_slice(&bytes);
        ends.push(stream.len());
    }
    (stream, ends)
}

#[test]
fn frame_ends_are_found_in_every_split() {
    let (stream, ends) = all_frames();
    assert!(ends.len() > 40);
    for step in [1, 2, 3, 7, 13, 64, 1000, stream.len()] {
        let mut scanner = FrameEnds::new();
        let mut found = Vec::new();
        for (i, piece) in stream.chunks(step).enumerate() {
            let mut rest = piece;
            let mut base = i * step;
            while let Some(end) = scanner.scan(rest).unwrap() {
                found.push(base + end);
                base += end;
                rest = &rest[end..];
            }
        }
        assert_eq!(found, ends, "pieces of {step}");
        assert!(scanner.at_boundary());
    }
}

#[test]
fn a_body_holding_near_misses_of_its_end_line_is_one_frame() {
    let body =
        b"\r\n-------abc\r\n-------abcd\r\n-------abc%\r\n-------abc$\r-------abc\r\r\n-----";
    let mut frame = b"MSRP abc SEND\r\nTo-Path: msrp://h/s;tcp\r\nFrom-Path: msrp://g/t;tcp\r\n\
Content-Type: text/plain\r\n\r\n"
        .to_vec();
    frame.extend_from_slice(body);
    frame.extend_from_slice(b"\r\n-------abc+\r\n");
    for step in 1..frame.len() {
        let mut scanner = FrameEnds::new();
        let mut found = None;
        for (i, piece) in frame.chunks(step).enumerate() {
            if let Some(end) = scanner.scan(piece).unwrap() {
                found = Some(i * step + end);
            }
        }
        assert_eq!(found, Some(frame.len()), "pieces of {step}");
    }
}

#[test]
fn output_that_is_not_msrp_is_an_error() {
    assert!(FrameEnds::new().scan(b"HTTP/1.1 200 OK\r\n").is_err());
    assert!(FrameEnds::new().scan(&[b'M'; 2000]).is_err());
}

/// Writes `stream` (split at `step`) through a writer of `role`, and reads it back with the
/// other side's decoder: each MSRP frame must be one message.
fn through(role: Role, stream: &[u8], step: usize, fragment_at: usize) -> (Vec<Vec<u8>>, usize) {
    let mut writer = match role {
        Role::Client => {
            let mut n = 0u8;
            MessageWriter::client(
                move |buf: &mut [u8]| {
                    for b in buf {
                        n = n.wrapping_add(77);
                        *b = n;
                    }
                },
                fragment_at,
            )
        }
        Role::Server => MessageWriter::server(fragment_at),
    };
    let mut out = Vec::new();
    for piece in stream.chunks(step) {
        writer
            .push(Bytes::copy_from_slice(piece), &mut out)
            .unwrap();
    }
    assert!(writer.at_boundary());
    let wire: Vec<u8> = out.concat();
    let peer = match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let read = read_all(&mut Decoder::new(peer), &wire, 4096).unwrap();
    (read.messages, wire.len())
}

#[test]
fn every_msrp_frame_becomes_one_websocket_message_both_ways() {
    let (stream, ends) = all_frames();
    let mut expected = Vec::new();
    let mut start = 0;
    for &end in &ends {
        expected.push(stream[start..end].to_vec());
        start = end;
    }
    for role in [Role::Client, Role::Server] {
        for step in [1, 5, 100, stream.len()] {
            let (messages, _) = through(role, &stream, step, 1 << 20);
            assert_eq!(messages, expected, "{role:?}, pieces of {step}");
        }
    }
}

#[test]
fn a_long_frame_is_fragmented_and_stays_one_message() {
    let mut frame = b"MSRP big SEND\r\nTo-Path: msrp://h/s;tcp\r\nFrom-Path: msrp://g/t;tcp\r\n\
Content-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    frame.extend((0..100_000u32).map(|i| (i % 251) as u8));
    frame.extend_from_slice(b"\r\n-------big$\r\n");
    for role in [Role::Client, Role::Server] {
        let (messages, wire) = through(role, &frame, 4096, 16 * 1024);
        assert_eq!(messages, vec![frame.clone()]);
        // Several frames, each with its own header.
        assert!(wire > frame.len() + 6 * 2, "{wire}");
    }
}

#[test]
fn rfc7977_handshake_example() {
    // RFC 7977 §4.1's request and its Sec-WebSocket-Accept.
    let request = b"GET / HTTP/1.1\r\nHost: a.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://www.example.com\r\nSec-WebSocket-Protocol: msrp\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";
    let limits = WsLimits::default();
    let (parsed, len) = handshake::read_request(request, &limits).unwrap().unwrap();
    assert_eq!(len, request.len());
    assert_eq!(
        parsed,
        Request::Upgrade {
            path: "/".into(),
            key: "dGhlIHNhbXBsZSBub25jZQ==".into(),
            origin: Some("http://www.example.com".into()),
        }
    );
    let response =
        handshake::accept_response("dGhlIHNhbXBsZSBub25jZQ==", Some("http://www.example.com"));
    let text = String::from_utf8(response.clone()).unwrap();
    assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(text.contains("Sec-WebSocket-Protocol: msrp\r\n"));
    assert!(text.contains("Access-Control-Allow-Origin: http://www.example.com\r\n"));
    let client = ClientHandshake::with_key("dGhlIHNhbXBsZSBub25jZQ==");
    // Incomplete, then complete with a frame behind it.
    assert_eq!(client.read_response(&response[..20], &limits), Ok(None));
    let mut with_frame = response.clone();
    with_frame.extend_from_slice(&[0x82, 0x00]);
    assert_eq!(
        client.read_response(&with_frame, &limits),
        Ok(Some(response.len()))
    );
}

#[test]
fn handshakes_that_must_fail() {
    let limits = WsLimits::default();
    let base = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip, msrp\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";
    assert!(matches!(
        handshake::read_request(base.as_bytes(), &limits),
        Ok(Some((Request::Upgrade { .. }, _)))
    ));
    let cases = [
        (
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Version: 8",
            HandshakeError::Version,
        ),
        ("sip, msrp", "sip", HandshakeError::Subprotocol),
        (
            "Connection: keep-alive, Upgrade",
            "Connection: close",
            HandshakeError::Field("Connection"),
        ),
        (
            "dGhlIHNhbXBsZSBub25jZQ==",
            "c2hvcnQ=",
            HandshakeError::Field("Sec-WebSocket-Key"),
        ),
        ("Host: h\r\n", "", HandshakeError::Field("Host")),
        ("GET", "POST", HandshakeError::Field("method or version")),
    ];
    for (from, to, expected) in cases {
        let request = base.replace(from, to);
        assert_eq!(
            handshake::read_request(request.as_bytes(), &limits),
            Err(expected.clone()),
            "{request}"
        );
    }
    assert_eq!(HandshakeError::Version.status(), 426);
    // A plain GET is a page request.
    assert_eq!(
        handshake::read_request(b"GET /index.html HTTP/1.1\r\nHost: h\r\n\r\n", &limits),
        Ok(Some((
            Request::Get {
                path: "/index.html".into(),
                head_only: false
            },
            37
        )))
    );
    // A head that never ends is refused at the limit.
    let endless = format!("GET / HTTP/1.1\r\nX-Pad: {}", "0".repeat(9000));
    assert_eq!(
        handshake::read_request(endless.as_bytes(), &limits),
        Err(HandshakeError::TooLarge)
    );

    // The client's checks of the response.
    let client = ClientHandshake::with_key("dGhlIHNhbXBsZSBub25jZQ==");
    let good =
        String::from_utf8(handshake::accept_response("dGhlIHNhbXBsZSBub25jZQ==", None)).unwrap();
    assert!(
        client
            .read_response(good.as_bytes(), &limits)
            .unwrap()
            .is_some()
    );
    let bad = [
        (
            good.replace("101 Switching Protocols", "403 Forbidden"),
            HandshakeError::Status(403),
        ),
        (
            good.replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "AAAA"),
            HandshakeError::Field("Sec-WebSocket-Accept"),
        ),
        (
            good.replace("Sec-WebSocket-Protocol: msrp\r\n", ""),
            HandshakeError::Subprotocol,
        ),
        (
            good.replace("Upgrade: websocket", "Upgrade: h2c"),
            HandshakeError::Field("Upgrade"),
        ),
    ];
    for (response, expected) in bad {
        assert_eq!(
            client.read_response(response.as_bytes(), &limits),
            Err(expected)
        );
    }
}
