//! Body framing (RFC 4975 §7.1), syntax errors with their offsets, and limits.

mod common;

use common::{decode_pieces, stream_pieces};
use msrp_wire::{Decoder, ErrorKind, Flag, Limits, Method, StreamDecoder};

const HEAD: &str = "MSRP abcd SEND\r\nTo-Path: msrp://b.example.com:9/s;tcp\r\n\
From-Path: msrp://a.example.com:9/t;tcp\r\nMessage-ID: m123\r\nByte-Range: 1-*/*\r\n\
Content-Type: application/octet-stream\r\n\r\n";

fn send(body: &[u8], flag: u8) -> Vec<u8> {
    let mut v = HEAD.as_bytes().to_vec();
    v.extend_from_slice(body);
    v.extend_from_slice(b"\r\n-------abcd");
    v.push(flag);
    v.extend_from_slice(b"\r\n");
    v
}

/// Decodes one frame from `wire` in every two-piece split and bytewise, with both decoders,
/// checking that they agree, and returns its body and flag.
fn one(wire: &[u8]) -> (Option<Vec<u8>>, Flag) {
    let (frames, err) = decode_pieces([wire]);
    assert_eq!(err, None);
    assert_eq!(frames.len(), 1, "exactly one frame");
    for cut in 0..=wire.len() {
        let (a, b) = wire.split_at(cut);
        assert_eq!(
            decode_pieces([a, b]),
            (frames.clone(), None),
            "cut at {cut}"
        );
        assert_eq!(
            stream_pieces([a, b]),
            (frames.clone(), None),
            "cut at {cut}"
        );
    }
    assert_eq!(stream_pieces(wire.chunks(1)), (frames.clone(), None));
    let f = frames.into_iter().next().unwrap();
    (f.body, f.flag)
}

fn error_of(wire: &[u8]) -> (ErrorKind, u64) {
    let (_, err) = decode_pieces([wire]);
    let e = err.expect("an error");
    // The same error, at the same offset, however the bytes arrive.
    let (_, bytewise) = decode_pieces(wire.chunks(1));
    assert_eq!(bytewise, Some(e), "bytewise");
    let (_, streamed) = stream_pieces(wire.chunks(1));
    assert_eq!(streamed, Some(e), "streamed");
    (e.kind(), e.offset())
}

#[test]
fn bodies_may_contain_anything_but_their_own_end_line() {
    let cases: &[&[u8]] = &[
        b"",
        b"plain text",
        b"\r\n",
        b"\r\n\r\n",
        b"-------abcd",
        b"x -------abcd$ not preceded by CRLF",
        b"line\r\n-------wxyz$\r\nother transaction's end-line",
        b"line\r\n-------abcde$\r\nlonger id with the same prefix",
        b"line\r\n-------abcdX\r\nid followed by a byte that is not a flag",
        b"line\r\n-------abc$\r\nshorter id",
        b"line\r\n------abcd$\r\nsix hyphens",
        b"line\r\n--------abcd\r\neight hyphens and no flag",
        b"\r\n-------",
        b"\r\r\n\r\n-------ab",
        b"\0\0\0\xff\xfe binary \x00\r\n\x80",
        b"ends with CR\r",
        b"ends with hyphens -------",
    ];
    for &body in cases {
        for flag in [b'$', b'+', b'#'] {
            let (got, f) = one(&send(body, flag));
            assert_eq!(
                got.as_deref(),
                Some(body),
                "{:?}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(f.as_byte(), flag);
        }
    }
}

#[test]
fn no_body_and_empty_body_are_distinct() {
    let no_body = b"MSRP abcd SEND\r\nTo-Path: msrp://b.example.com:9/s;tcp\r\n\
From-Path: msrp://a.example.com:9/t;tcp\r\nMessage-ID: m123\r\nByte-Range: 1-0/0\r\n-------abcd$\r\n";
    assert_eq!(one(no_body), (None, Flag::End));
    let empty = send(b"", b'$');
    assert_eq!(one(&empty), (Some(Vec::new()), Flag::End));
}

#[test]
fn frames_are_slices_of_one_receive_buffer() {
    let mut stream = send(b"first body", b'+');
    stream.extend_from_slice(&send(b"second body", b'$'));
    let mut decoder = Decoder::new();
    let mut written = 0;
    decoder
        .fill(stream.len(), |buf| {
            buf.copy_from_slice(&stream);
            written = buf.len();
            Ok::<_, ()>(buf.len())
        })
        .unwrap();
    assert_eq!(written, stream.len());
    let a = decoder.decode().unwrap().unwrap();
    let b = decoder.decode().unwrap().unwrap();
    // The second frame starts right where the first ends in memory: both are views of the buffer
    // the bytes were received into, and each body is a view of its frame.
    assert_eq!(
        a.as_bytes().as_ptr_range().end,
        b.as_bytes().as_ptr(),
        "frames are adjacent in the receive buffer"
    );
    let body = a.body_bytes().unwrap();
    assert_eq!(&body[..], b"first body");
    assert_eq!(body.as_ptr(), a.as_bytes()[HEAD.len()..].as_ptr());
    assert_eq!(
        b.body_bytes().unwrap().as_ptr(),
        b.as_bytes()[HEAD.len()..].as_ptr()
    );
}

#[test]
fn streamed_pieces_are_slices_of_the_receive_buffer() {
    let wire = send(&[7u8; 5000], b'$');
    let mut decoder = StreamDecoder::new();
    let (head, body) = wire.split_at(HEAD.len() + 1000);
    decoder.push(head);
    let first = match decoder.decode().unwrap() {
        Some(msrp_wire::Item::Head(h)) => h,
        other => panic!("{other:?}"),
    };
    let piece = match decoder.decode().unwrap() {
        Some(msrp_wire::Item::Body(b)) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(piece.len(), 1000);
    assert_eq!(first.as_bytes().as_ptr_range().end, piece.as_ptr());
    decoder.push(body);
    let rest = match decoder.decode().unwrap() {
        Some(msrp_wire::Item::Body(b)) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(rest.len(), 4000);
    assert!(matches!(
        decoder.decode().unwrap(),
        Some(msrp_wire::Item::End(Flag::End))
    ));
    assert!(!decoder.is_mid_frame());
}

#[test]
fn methods_and_responses() {
    let unknown = b"MSRP abcd FOO\r\nTo-Path: msrp://b.example.com:9/s;tcp\r\n\
From-Path: msrp://a.example.com:9/t;tcp\r\n-------abcd$\r\n";
    let mut d = Decoder::new();
    d.push(unknown);
    let f = d.decode().unwrap().unwrap();
    assert_eq!(f.method(), Some(Method::Other("FOO")));

    let no_comment = b"MSRP abcd 413\r\nTo-Path: msrp://b.example.com:9/s;tcp\r\n\
From-Path: msrp://a.example.com:9/t;tcp\r\n-------abcd$\r\n";
    d.push(no_comment);
    let f = d.decode().unwrap().unwrap();
    assert_eq!(f.status_code().map(|c| c.as_u16()), Some(413));
    assert_eq!(f.comment(), None);
    assert_eq!(f.method(), None);
}

#[test]
fn syntax_errors_carry_their_offsets() {
    let tail =
        "To-Path: msrp://b.example.com:9/s;tcp\r\nFrom-Path: msrp://a.example.com:9/t;tcp\r\n";
    let cases: Vec<(Vec<u8>, ErrorKind, u64)> = vec![
        (b"HTTP/1.1 200 OK\r\n".to_vec(), ErrorKind::StartLine, 0),
        (b"msrp abcd SEND\r\n".to_vec(), ErrorKind::StartLine, 0),
        (b"MSRP abc SEND\r\n".to_vec(), ErrorKind::TransactionId, 5),
        (b"MSRP .abc SEND\r\n".to_vec(), ErrorKind::TransactionId, 5),
        (b"MSRP abcd send\r\n".to_vec(), ErrorKind::Method, 10),
        (b"MSRP abcd SE-ND\r\n".to_vec(), ErrorKind::Method, 12),
        (b"MSRP abcd\r\n".to_vec(), ErrorKind::Method, 9),
        (b"MSRP abcd \r\n".to_vec(), ErrorKind::Method, 10),
        (b"MSRP abcd 20\r\n".to_vec(), ErrorKind::StatusCode, 10),
        (b"MSRP abcd 2000\r\n".to_vec(), ErrorKind::StatusCode, 10),
        (
            b"MSRP abcd 200 O\x01K\r\n".to_vec(),
            ErrorKind::InvalidByte,
            15,
        ),
        (b"MSRP abcd SEND\n".to_vec(), ErrorKind::BareLineFeed, 14),
        (
            format!("MSRP abcd SEND\r\n{tail}Bad Name: x\r\n").into_bytes(),
            ErrorKind::HeaderName,
            96,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}NoColon\r\n").into_bytes(),
            ErrorKind::HeaderSeparator,
            103,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}X:y\r\n").into_bytes(),
            ErrorKind::HeaderSeparator,
            98,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}X: a\x7fb\r\n").into_bytes(),
            ErrorKind::InvalidByte,
            100,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}X: a\rb\r\n").into_bytes(),
            ErrorKind::InvalidByte,
            100,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}X: ab\n").into_bytes(),
            ErrorKind::BareLineFeed,
            101,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}-------wxyz$\r\n").into_bytes(),
            ErrorKind::EndLineMismatch,
            103,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}-------abcde$\r\n").into_bytes(),
            ErrorKind::EndLineMismatch,
            103,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}-------abcd\r\n").into_bytes(),
            ErrorKind::EndLineSyntax,
            107,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}-------abcd$$\r\n").into_bytes(),
            ErrorKind::EndLineSyntax,
            107,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}------abcd$\r\n").into_bytes(),
            ErrorKind::HeaderName,
            96,
        ),
        (
            format!("MSRP abcd 200 OK\r\n{tail}\r\n").into_bytes(),
            ErrorKind::ResponseWithBody,
            98,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}Content-Type: a/b\r\n\r\n-------abcd$\r\n")
                .into_bytes(),
            ErrorKind::EndLineWithoutCrlf,
            117,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}Content-Type: a/b\r\n\r\nxy\r\n-------abcd$x")
                .into_bytes(),
            ErrorKind::EndLineSyntax,
            133,
        ),
        (
            format!("MSRP abcd SEND\r\n{tail}Content-Type: a/b\r\n\r\nxy\r\n-------abcd+\rx")
                .into_bytes(),
            ErrorKind::EndLineSyntax,
            134,
        ),
        // RFC 4975 §7.1: the body must not contain its end-line; right after the blank line it
        // is preceded by a CRLF, so it ends the body and must be followed by CRLF.
        (
            format!("MSRP abcd SEND\r\n{tail}Content-Type: a/b\r\n\r\n-------abcd$ text")
                .into_bytes(),
            ErrorKind::EndLineSyntax,
            129,
        ),
    ];
    for (wire, kind, offset) in cases {
        assert_eq!(
            error_of(&wire),
            (kind, offset),
            "{:?}",
            String::from_utf8_lossy(&wire)
        );
    }
}

#[test]
fn errors_are_sticky_and_offsets_count_from_the_stream_start() {
    let mut stream = send(b"ok", b'$');
    let first_len = stream.len() as u64;
    stream.extend_from_slice(b"MSRP abcd SEND\r\nBad Name: x\r\n");
    let mut d = Decoder::new();
    d.push(&stream);
    assert!(d.decode().unwrap().is_some());
    let e = d.decode().unwrap_err();
    assert_eq!(
        (e.kind(), e.offset()),
        (ErrorKind::HeaderName, first_len + 16)
    );
    d.push(&send(b"more", b'$'));
    assert_eq!(d.decode().unwrap_err(), e, "the stream stays failed");
    assert_eq!(d.error(), Some(e));
    assert_eq!(
        e.to_string(),
        format!("invalid header name at byte {}", first_len + 16)
    );
}

#[test]
fn every_limit_is_enforced() {
    let limits = |f: fn(&mut Limits)| {
        let mut l = Limits::default();
        f(&mut l);
        l
    };
    let check = |l: Limits, wire: &[u8], kind: ErrorKind| {
        for pieces in [vec![wire], wire.chunks(1).collect::<Vec<_>>()] {
            let mut d = Decoder::with_limits(l);
            let mut got = None;
            for p in pieces {
                d.push(p);
                if let Err(e) = d.decode() {
                    got = Some(e.kind());
                    break;
                }
            }
            assert_eq!(got, Some(kind));
            assert!(kind.is_limit());
        }
    };
    let wire = send(&[b'x'; 100], b'$');
    check(
        limits(|l| l.max_start_line = 10),
        &wire,
        ErrorKind::StartLineTooLong,
    );
    check(
        limits(|l| l.max_header_line = 30),
        &wire,
        ErrorKind::HeaderLineTooLong,
    );
    check(
        limits(|l| l.max_headers = 4),
        &wire,
        ErrorKind::TooManyHeaders,
    );
    check(limits(|l| l.max_head = 100), &wire, ErrorKind::HeadTooLarge);
    check(limits(|l| l.max_body = 99), &wire, ErrorKind::BodyTooLarge);
    // Exactly at each limit passes.
    let exact = limits(|l| {
        l.max_start_line = "MSRP abcd SEND".len();
        l.max_header_line = HEAD.lines().map(str::len).max().unwrap();
        l.max_headers = 5;
        l.max_head = HEAD.len();
        l.max_body = 100;
    });
    let mut d = Decoder::with_limits(exact);
    d.push(&wire);
    assert!(d.decode().unwrap().is_some());

    // A line that never ends is refused once it passes the limit, not buffered forever.
    let mut d = Decoder::new();
    d.push(b"MSRP abcd SEND\r\nX: ");
    for _ in 0..100 {
        d.push(&[b'a'; 100]);
    }
    assert_eq!(d.decode().unwrap_err().kind(), ErrorKind::HeaderLineTooLong);
    // So is a body that never ends, when buffered.
    let mut d = Decoder::new();
    d.push(HEAD.as_bytes());
    let mut failed = None;
    for _ in 0..2000 {
        d.push(&[b'a'; 1024]);
        if let Err(e) = d.decode() {
            failed = Some(e);
            break;
        }
    }
    let e = failed.expect("body limit hit");
    assert_eq!(e.kind(), ErrorKind::BodyTooLarge);
    assert!(d.buffered() < Limits::default().max_body + HEAD.len() + 2048);
}

#[test]
fn stream_decoder_streams_bodies_above_the_limit_even_when_complete() {
    let mut l = Limits::default();
    l.max_body = 10;
    let wire = send(&[b'z'; 50], b'#');
    let mut d = StreamDecoder::with_limits(l);
    d.push(&wire);
    let mut kinds = Vec::new();
    let mut body = Vec::new();
    while let Some(item) = d.decode().unwrap() {
        match item {
            msrp_wire::Item::Head(_) => kinds.push("head"),
            msrp_wire::Item::Body(b) => {
                kinds.push("body");
                body.extend_from_slice(&b);
            }
            msrp_wire::Item::End(f) => {
                kinds.push("end");
                assert_eq!(f, Flag::Aborted);
            }
            msrp_wire::Item::Frame(_) => kinds.push("frame"),
        }
    }
    assert_eq!(kinds, ["head", "body", "end"]);
    assert_eq!(body, [b'z'; 50]);
}

#[test]
fn end_of_stream_mid_frame_is_visible() {
    let wire = send(b"abc", b'$');
    let mut d = Decoder::new();
    d.push(&wire[..wire.len() - 1]);
    assert!(d.decode().unwrap().is_none());
    assert!(d.is_mid_frame());
    d.push(&wire[wire.len() - 1..]);
    assert!(d.decode().unwrap().is_some());
    assert!(!d.is_mid_frame());
    assert_eq!(d.position(), wire.len() as u64);
}

#[test]
fn an_idle_decoder_gives_its_memory_back() {
    let wire = send(b"abc", b'$');
    let mut d = Decoder::new();
    d.push(&wire[..wire.len() - 3]);
    assert!(d.capacity() > 0);
    // Part of a frame is kept.
    d.release_memory();
    assert_eq!(d.buffered(), wire.len() - 3);
    assert!(d.capacity() >= d.buffered());
    d.push(&wire[wire.len() - 3..]);
    let frame = d.decode().unwrap().unwrap();
    assert_eq!(frame.body(), Some(&b"abc"[..]));
    // Nothing buffered: the memory goes, and the frame handed out is unaffected.
    d.release_memory();
    assert_eq!(d.capacity(), 0);
    assert_eq!(frame.body(), Some(&b"abc"[..]));
    d.push(&wire);
    assert_eq!(d.decode().unwrap().unwrap().body(), Some(&b"abc"[..]));
}
