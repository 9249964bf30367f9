//! Regression tests, one per bug found, named after what went wrong.

mod common;

use common::{decode_pieces, stream_pieces};
use msrp_wire::{ErrorKind, Limits, StreamDecoder};

/// Found by the `wire_split` and `wire_stream` fuzz targets: the framing error of a line whose
/// LF arrived late depended on where the stream was split (a limit error in pieces, a bare-LF
/// error at once). Errors must follow from the bytes alone.
#[test]
fn limit_and_bare_lf_errors_do_not_depend_on_the_split() {
    // A start line of 1026 bytes ending in a bare LF: too long at 1024, whatever the split.
    let mut wire = b"MSRP ".to_vec();
    wire.extend(std::iter::repeat_n(b'a', 1021));
    wire.push(b'\n');
    let (_, whole) = decode_pieces([&wire[..]]);
    let (_, bytewise) = decode_pieces(wire.chunks(1));
    let (_, streamed) = stream_pieces(wire.chunks(7));
    let whole = whole.unwrap();
    assert_eq!(
        (whole.kind(), whole.offset()),
        (ErrorKind::StartLineTooLong, 1024)
    );
    assert_eq!(bytewise, Some(whole));
    assert_eq!(streamed, Some(whole));

    // A header line crossing a 64-byte head limit before its bare LF.
    let mut limits = Limits::default();
    limits.max_head = 64;
    let mut wire = b"MSRP abcd SEND\r\n".to_vec();
    wire.extend(std::iter::repeat_n(b'X', 60));
    wire.push(b'\n');
    let run = |limits: Limits, pieces: Vec<&[u8]>| {
        let mut d = StreamDecoder::with_limits(limits);
        let mut error = None;
        for p in pieces {
            d.push(p);
            loop {
                match d.decode() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            if error.is_some() {
                break;
            }
        }
        error.map(|e| (e.kind(), e.offset()))
    };
    let expected = Some((ErrorKind::HeadTooLarge, 64));
    assert_eq!(run(limits, vec![&wire[..]]), expected);
    assert_eq!(run(limits, vec![&wire[..65], &wire[65..]]), expected);
    assert_eq!(run(limits, wire.chunks(1).collect()), expected);

    // A start line longer than both limits: the lower offset wins, split or not.
    limits.max_head = 832;
    let mut wire = b"MSRP ".to_vec();
    wire.extend(std::iter::repeat_n(b'a', 1100));
    wire.extend_from_slice(b"\r\n");
    let expected = Some((ErrorKind::HeadTooLarge, 832));
    assert_eq!(run(limits, vec![&wire[..]]), expected);
    assert_eq!(run(limits, wire.chunks(100).collect()), expected);
}
