//! `wire_roundtrip`: decoding and encoding are inverse, both ways.
//!
//! The input is used twice. First it is decoded as a stream, and every frame is encoded again with
//! [`Frame::encode`]. Then it is read as a [`FrameSpec`] (with `arbitrary`), which is written
//! with [`HeadWriter`] and [`end_line`] and decoded.
//!
//! Asserted for decoded frames: `encode` succeeds exactly when the frame keeps the header rules
//! that the decoder leaves to the session layer (To-Path first, From-Path second, Content-Type
//! last and present before a body, no MIME header without a body, a UTF-8 comment), and fails
//! only with an error naming a rule the frame breaks; an encoded frame is byte for byte the frame
//! as received, decodes to one frame with the same transaction id, method or status, comment,
//! headers, body and flag, and encodes again to the same bytes.
//!
//! Asserted for written frames: whatever the writer accepts (with a body that does not contain
//! its end-line, as `find_end_line` tells) decodes to exactly one frame with the parts written,
//! and encodes back to the bytes written.

use arbitrary::{Arbitrary, Unstructured};
use msrp_wire::{
    Decoder, EncodeError, Flag, Frame, HeadWriter, HeaderName, Limits, StatusCode, TransactionId,
    end_line, find_end_line,
};

/// Runs the target on one input.
pub fn check(data: &[u8]) {
    reencode(data);
    if let Ok(spec) = FrameSpec::arbitrary(&mut Unstructured::new(data)) {
        write_and_decode(&spec);
    }
}

/// Decodes `data` and encodes every frame again.
fn reencode(data: &[u8]) {
    let mut decoder = Decoder::new();
    decoder.push(data);
    while let Ok(Some(frame)) = decoder.decode() {
        let broken = broken_rules(&frame);
        let mut out = Vec::new();
        match frame.encode(&mut out) {
            Ok(()) => {
                assert!(broken.is_empty(), "encoded although it breaks {broken:?}");
                assert_eq!(out, frame.as_bytes(), "re-encoding changed the bytes");
                let again = decode_one(&out);
                assert_same(&again, &frame);
                let mut twice = Vec::new();
                again.encode(&mut twice).expect("encodes again");
                assert_eq!(twice, out);
            }
            Err(e) => assert!(
                broken.contains(&e),
                "{e:?}, but the frame breaks {broken:?}"
            ),
        }
    }
}

/// The rules of RFC 4975 §7.1 and §9 that a decoded frame breaks, as the error `encode` reports
/// for each. The decoder accepts such frames; the session layer answers them.
fn broken_rules(frame: &Frame) -> Vec<EncodeError> {
    let names: Vec<HeaderName> = frame.headers().map(|h| h.name).collect();
    let is_path = |n: &HeaderName| matches!(n, HeaderName::ToPath | HeaderName::FromPath);
    let mut broken = Vec::new();
    // RFC 4975 §9: "headers = To-Path CRLF From-Path CRLF 1*( header CRLF )".
    if !(names.len() >= 2
        && names[0] == HeaderName::ToPath
        && names[1] == HeaderName::FromPath
        && !names[2..].iter().any(is_path))
    {
        broken.push(EncodeError::HeaderOrder);
    }
    // RFC 4975 §7.1: Content-Type is the last header, and a request with a body has one.
    let misplaced = names
        .split_last()
        .is_some_and(|(_, before)| before.contains(&HeaderName::ContentType));
    if misplaced || (frame.has_body() && names.last() != Some(&HeaderName::ContentType)) {
        broken.push(EncodeError::ContentTypeNotLast);
    }
    // RFC 4975 §7.1: a request with no body has no MIME header.
    let mime = frame.headers().any(|h| {
        matches!(
            h.name,
            HeaderName::ContentType
                | HeaderName::ContentId
                | HeaderName::ContentDescription
                | HeaderName::ContentDisposition
        ) || h
            .raw_name
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"content-"))
    });
    if mime && !frame.has_body() {
        broken.push(EncodeError::MimeHeaderWithoutBody);
    }
    // The writer takes the comment as text.
    if frame
        .comment()
        .is_some_and(|c| std::str::from_utf8(c).is_err())
    {
        broken.push(EncodeError::Comment);
    }
    broken
}

/// Decodes bytes that must hold exactly one frame. Limits are the receiver's policy, not the
/// grammar's, so they are raised out of the way: the writer may write more headers or longer
/// lines than a default decoder takes.
fn decode_one(bytes: &[u8]) -> Frame {
    let mut limits = Limits::default();
    limits.max_start_line = 1 << 30;
    limits.max_header_line = 1 << 30;
    limits.max_headers = 1 << 30;
    limits.max_head = 1 << 30;
    limits.max_body = 1 << 30;
    let mut decoder = Decoder::with_limits(limits);
    decoder.push(bytes);
    let frame = match decoder.decode() {
        Ok(Some(frame)) => frame,
        other => panic!("{other:?} from {:?}", String::from_utf8_lossy(bytes)),
    };
    assert_eq!(decoder.buffered(), 0, "bytes left after the frame");
    assert!(matches!(decoder.decode(), Ok(None)));
    assert_eq!(frame.as_bytes(), bytes);
    frame
}

/// Asserts that two frames have the same parts.
fn assert_same(a: &Frame, b: &Frame) {
    assert_eq!(a.transaction_id(), b.transaction_id());
    assert_eq!(a.method(), b.method());
    assert_eq!(a.status_code(), b.status_code());
    assert_eq!(a.comment(), b.comment());
    assert!(
        a.headers()
            .map(|h| (h.raw_name, h.value))
            .eq(b.headers().map(|h| (h.raw_name, h.value)))
    );
    assert_eq!(a.body(), b.body());
    assert_eq!(a.flag(), b.flag());
}

/// A frame to write, chosen by the fuzzer.
#[derive(Arbitrary, Debug)]
pub struct FrameSpec {
    tid: TidSpec,
    start: StartSpec,
    to_path: String,
    from_path: String,
    headers: Vec<(NameSpec, String)>,
    /// The Content-Type and the body, for a frame with a body.
    body: Option<(String, Vec<u8>)>,
    flag: FlagSpec,
}

/// A transaction id: random as a sender would pick it, or any text.
#[derive(Arbitrary, Debug)]
enum TidSpec {
    Random([u8; 16]),
    Text(String),
}

/// A request method or a response status.
#[derive(Arbitrary, Debug)]
enum StartSpec {
    Send,
    Report,
    Method(String),
    Response(u16, Option<String>),
}

/// A header name: one `msrp-wire` knows, in the given case, or any text.
#[derive(Arbitrary, Debug)]
enum NameSpec {
    Known(u8, bool),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum FlagSpec {
    End,
    Continued,
    Aborted,
}

/// Names of known headers that may follow From-Path.
const KNOWN: [&str; 17] = [
    "Message-ID",
    "Byte-Range",
    "Success-Report",
    "Failure-Report",
    "Status",
    "Content-Type",
    "Content-ID",
    "Content-Description",
    "Content-Disposition",
    "Use-Path",
    "Expires",
    "Min-Expires",
    "Max-Expires",
    "WWW-Authenticate",
    "Authorization",
    "Authentication-Info",
    "Use-Nickname",
];

impl FrameSpec {
    fn flag(&self) -> Flag {
        match self.flag {
            FlagSpec::End => Flag::End,
            FlagSpec::Continued => Flag::Continued,
            FlagSpec::Aborted => Flag::Aborted,
        }
    }

    /// The headers in the order they are written, Content-Type last before a body.
    fn header_list(&self) -> Vec<(String, &str)> {
        let mut list = vec![
            ("To-Path".to_string(), self.to_path.as_str()),
            ("From-Path".to_string(), self.from_path.as_str()),
        ];
        for (name, value) in &self.headers {
            let name = match name {
                NameSpec::Known(i, upper) => {
                    let name = KNOWN[usize::from(*i) % KNOWN.len()];
                    if *upper {
                        name.to_ascii_uppercase()
                    } else {
                        name.to_string()
                    }
                }
                NameSpec::Other(name) => name.clone(),
            };
            list.push((name, value.as_str()));
        }
        if let Some((content_type, _)) = &self.body {
            list.push(("Content-Type".to_string(), content_type.as_str()));
        }
        list
    }

    /// Writes the frame, or returns the writer's refusal.
    fn write(&self, tid: &TransactionId, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let mut head = match &self.start {
            StartSpec::Send => HeadWriter::request(out, tid, "SEND")?,
            StartSpec::Report => HeadWriter::request(out, tid, "REPORT")?,
            StartSpec::Method(method) => HeadWriter::request(out, tid, method)?,
            StartSpec::Response(code, comment) => {
                let code = StatusCode::new(*code).ok_or(EncodeError::Method)?;
                HeadWriter::response(out, tid, code, comment.as_deref())?
            }
        };
        for (name, value) in self.header_list() {
            head.header(&name, value)?;
        }
        match &self.body {
            Some((_, body)) => {
                head.body_follows()?;
                out.extend_from_slice(body);
                end_line(out, tid, self.flag());
                Ok(())
            }
            None => head.end(self.flag()),
        }
    }
}

/// Writes a frame from its parts and checks that it decodes to them.
fn write_and_decode(spec: &FrameSpec) {
    let tid = match &spec.tid {
        TidSpec::Random(random) => TransactionId::from_random(*random),
        TidSpec::Text(text) => match TransactionId::new(text) {
            Ok(tid) => tid,
            Err(_) => return,
        },
    };
    // RFC 4975 §7.1: the sender ensures that the end-line is not present in the body.
    if spec
        .body
        .as_ref()
        .is_some_and(|(_, body)| find_end_line(body, &tid).is_some())
    {
        return;
    }
    let mut out = Vec::new();
    if spec.write(&tid, &mut out).is_err() {
        return;
    }
    let frame = decode_one(&out);
    assert_eq!(frame.transaction_id(), tid.as_str());
    match &spec.start {
        StartSpec::Send => assert_eq!(frame.method().map(|m| m.as_str()), Some("SEND")),
        StartSpec::Report => assert_eq!(frame.method().map(|m| m.as_str()), Some("REPORT")),
        StartSpec::Method(method) => {
            assert_eq!(frame.method().map(|m| m.as_str()), Some(method.as_str()))
        }
        StartSpec::Response(code, comment) => {
            assert_eq!(frame.status_code().map(StatusCode::as_u16), Some(*code));
            assert_eq!(frame.comment(), comment.as_ref().map(String::as_bytes));
        }
    }
    let written = spec.header_list();
    assert!(
        frame
            .headers()
            .map(|h| (h.raw_name, h.value))
            .eq(written.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    );
    assert_eq!(
        frame.body(),
        spec.body.as_ref().map(|(_, body)| body.as_slice())
    );
    assert_eq!(frame.flag(), spec.flag());
    let mut again = Vec::new();
    frame.encode(&mut again).expect("a written frame encodes");
    assert_eq!(again, out);
}
