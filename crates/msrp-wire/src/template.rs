//! Heads written from a template: the SENDs and REPORTs that one endpoint sends along one
//! path, and the responses it sends, with every line that does not change checked once.

use core::fmt;
use std::borrow::Cow;

use bytes::BufMut;

use crate::accessors::UriList;
use crate::encode::{
    EncodeError, MessageId, TransactionId, decimal, is_mime, put_code, put_ending,
};
use crate::syntax::{find_non_text, is_hname};
use crate::{ByteRange, FailureReport, Flag, Head, HeaderName, StatusCode, SuccessReport};

/// What follows `MSRP <tid>` in a SEND, up to its To-Path.
const SEND_TO: &str = " SEND\r\nTo-Path: ";
/// What follows `MSRP <tid>` in a REPORT, up to its To-Path.
const REPORT_TO: &[u8] = b" REPORT\r\nTo-Path: ";
/// What separates the To-Path and the From-Path.
const FROM: &str = "\r\nFrom-Path: ";
/// What follows the From-Path, up to the Message-ID.
const MESSAGE_ID: &str = "\r\nMessage-ID: ";

/// The lines that every SEND and REPORT of one endpoint along one path begins with, written and
/// checked once: the method, `To-Path`, `From-Path` and the name of `Message-ID`.
///
/// A template writes whole heads into a caller's buffer ([`encode_send`](Self::encode_send),
/// [`encode_report`](Self::encode_report)) line after line, without checking again what was
/// checked when it was made: its paths here, a message's headers in [`MessageHeaders`], ids in
/// [`TransactionId`] and [`MessageId`]; numbers, flags and status codes cannot be malformed.
/// So what it writes always decodes, as the head it describes. The order is that of RFC 4975 §9:
/// To-Path, From-Path, Message-ID, the report headers, Byte-Range, the extension headers, then
/// Content-Type last (§7.1: "The Content-Type header field MUST be the last field in the
/// message header section"). The default values of the report headers (`Success-Report: no`,
/// `Failure-Report: yes`) are left out.
///
/// ```
/// use msrp_wire::{
///     ByteRange, Decoder, FailureReport, Flag, HeadTemplate, MessageHeaders, MessageId,
///     SendHead, SuccessReport, TransactionId, end_line,
/// };
///
/// let template = HeadTemplate::new(
///     "msrp://bob.example.com:8888/9di4ea;tcp",
///     "msrp://alice.example.com:7654/iau39;tcp",
/// )?;
/// let headers = MessageHeaders::new(Vec::new(), Some("text/plain".into()))?;
/// let message_id = MessageId::new("4564dpWd")?;
/// let tid = TransactionId::new("dkei38sd")?;
/// let mut wire = Vec::new();
/// template.encode_send(
///     &mut wire,
///     &tid,
///     &SendHead {
///         message_id: &message_id,
///         success_report: SuccessReport::No,
///         failure_report: FailureReport::Yes,
///         byte_range: ByteRange { start: 1, end: None, total: Some(4) },
///         headers: &headers,
///     },
/// );
/// wire.extend_from_slice(b"abcd");
/// end_line(&mut wire, &tid, Flag::End);
///
/// let mut decoder = Decoder::new();
/// decoder.push(&wire);
/// let frame = decoder.decode()?.expect("a whole frame");
/// assert_eq!(frame.to_path()?, Some(template.to_path()));
/// assert_eq!(frame.message_id()?, Some("4564dpWd"));
/// assert_eq!(frame.content_type_str()?, Some("text/plain"));
/// assert_eq!(frame.body(), Some(&b"abcd"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HeadTemplate {
    /// ` SEND\r\nTo-Path: <to>\r\nFrom-Path: <from>\r\nMessage-ID: `.
    lines: Box<str>,
    /// Where the From-Path starts in `lines`.
    from_at: u32,
    /// Where the first URI of the To-Path ends in `lines`.
    next_hop_end: u32,
}

impl HeadTemplate {
    /// Writes and checks the lines of the requests that go along `to_path` from `from_path`.
    /// Each must be a list of URIs of visible ASCII separated by single spaces (RFC 4975 §9:
    /// `To-Path = "To-Path:" SP MSRP-URI *( SP MSRP-URI )`, and likewise From-Path), as the
    /// decoder's [`Head::to_path`] and [`Head::from_path`] read it; otherwise
    /// [`EncodeError::Path`].
    pub fn new(to_path: &str, from_path: &str) -> Result<Self, EncodeError> {
        if UriList::parse(to_path).is_none() || UriList::parse(from_path).is_none() {
            return Err(EncodeError::Path);
        }
        let lines = format!("{SEND_TO}{to_path}{FROM}{from_path}{MESSAGE_ID}");
        let offset = |at: usize| u32::try_from(at).map_err(|_| EncodeError::Path);
        let from_at = offset(SEND_TO.len() + to_path.len() + FROM.len())?;
        let next_hop_end =
            offset(SEND_TO.len() + UriList::checked(to_path).first().as_str().len())?;
        offset(lines.len())?;
        Ok(Self {
            lines: lines.into_boxed_str(),
            from_at,
            next_hop_end,
        })
    }

    /// The To-Path.
    #[inline]
    pub fn to_path(&self) -> UriList<'_> {
        UriList::checked(&self.lines[SEND_TO.len()..self.from_at as usize - FROM.len()])
    }

    /// The From-Path.
    #[inline]
    pub fn from_path(&self) -> UriList<'_> {
        UriList::checked(&self.lines[self.from_at as usize..self.lines.len() - MESSAGE_ID.len()])
    }

    /// The first URI of the To-Path: the next hop of the requests, and where a response goes
    /// to a SEND whose From-Path is this To-Path (RFC 4975 §7.2: "the To-Path header field is
    /// formed by copying the first (leftmost) URI in the From-Path header field of the
    /// request").
    #[inline]
    pub fn next_hop(&self) -> UriList<'_> {
        UriList::checked(&self.lines[SEND_TO.len()..self.next_hop_end as usize])
    }

    /// Writes the head of a SEND into `dst`. With a Content-Type in `head.headers` it ends with
    /// the blank line, and the caller writes the body and then [`end_line`](crate::end_line);
    /// without one it is a bodiless SEND, and its end-line (with `$`) is written too.
    #[inline]
    pub fn encode_send<B: BufMut>(&self, dst: &mut B, tid: &TransactionId, head: &SendHead<'_>) {
        let tid = tid.as_bytes();
        // Each line is ended by what follows it.
        dst.put_slice(b"MSRP ");
        dst.put_slice(tid);
        dst.put_slice(self.lines.as_bytes());
        dst.put_slice(head.message_id.as_bytes());
        if head.success_report == SuccessReport::Yes {
            dst.put_slice(b"\r\nSuccess-Report: yes");
        }
        if head.failure_report != FailureReport::Yes {
            dst.put_slice(b"\r\nFailure-Report: ");
            dst.put_slice(head.failure_report.as_str().as_bytes());
        }
        put_byte_range(dst, &head.byte_range);
        for (name, value) in &head.headers.headers {
            dst.put_slice(b"\r\n");
            dst.put_slice(name.as_bytes());
            dst.put_slice(b": ");
            dst.put_slice(value.as_bytes());
        }
        match &head.headers.content_type {
            Some(content_type) => {
                // With the blank line that opens the body.
                dst.put_slice(b"\r\nContent-Type: ");
                dst.put_slice(content_type.as_bytes());
                dst.put_slice(b"\r\n\r\n");
            }
            // RFC 4975 §7.1: "A request with no body MUST NOT include a Content-Type or any
            // other MIME-specific header fields."
            None => put_ending(dst, tid, Flag::End),
        }
    }

    /// Writes a REPORT, which has no body, into `dst`, end-line included: along `to` (the
    /// template's [`to_path`](Self::to_path), or the From-Path of the request it reports on)
    /// from the template's From-Path.
    ///
    /// RFC 4975 §7.1.3: the endpoint "inserts a To-Path header field containing the From-Path
    /// value from the original request, and a From-Path header field containing the URI
    /// identifying itself in the session. The endpoint then inserts a Status header field with
    /// a namespace of "000" ... It also inserts a Message-ID header field containing the value
    /// from the original request." RFC 4975 §7.1.2: REPORTs "MUST NOT include Success-Report or
    /// Failure-Report header fields".
    pub fn encode_report<B: BufMut>(
        &self,
        dst: &mut B,
        tid: &TransactionId,
        to: UriList<'_>,
        head: &ReportHead<'_>,
    ) {
        let tid = tid.as_bytes();
        dst.put_slice(b"MSRP ");
        dst.put_slice(tid);
        dst.put_slice(REPORT_TO);
        dst.put_slice(to.as_str().as_bytes());
        // From the From-Path to the name of the Message-ID.
        dst.put_slice(self.lines[self.from_at as usize - FROM.len()..].as_bytes());
        dst.put_slice(head.message_id.as_bytes());
        put_byte_range(dst, &head.byte_range);
        dst.put_slice(b"\r\nStatus: 000 ");
        put_status(dst, head.status);
        put_ending(dst, tid, Flag::End);
    }
}

impl fmt::Debug for HeadTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadTemplate")
            .field("to_path", &self.to_path().as_str())
            .field("from_path", &self.from_path().as_str())
            .finish()
    }
}

/// What a SEND says besides its template's lines and its transaction id.
#[derive(Clone, Copy, Debug)]
pub struct SendHead<'a> {
    /// The Message-ID.
    pub message_id: &'a MessageId,
    /// Written when `yes`; absent means `no`.
    pub success_report: SuccessReport,
    /// Written when not `yes`; absent means `yes`.
    pub failure_report: FailureReport,
    /// The chunk's Byte-Range.
    pub byte_range: ByteRange,
    /// The message's extension headers and Content-Type.
    pub headers: &'a MessageHeaders,
}

/// What a REPORT says besides its template's lines, its To-Path and its transaction id.
#[derive(Clone, Copy, Debug)]
pub struct ReportHead<'a> {
    /// The Message-ID of the message reported on.
    pub message_id: &'a MessageId,
    /// The bytes reported on.
    pub byte_range: ByteRange,
    /// The status, written in the namespace `000` with the code's reason phrase, if it has one.
    pub status: StatusCode,
}

/// What a message adds to the head of each of its chunks, checked once: extension headers
/// (such as Content-Disposition), in order, and the Content-Type of a message with a body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MessageHeaders {
    headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    content_type: Option<Cow<'static, str>>,
}

impl MessageHeaders {
    /// Checks the headers of a message: each name an `hname` and none that a
    /// [`HeadTemplate`] writes itself ([`EncodeError::ReservedHeader`]), each value and the
    /// content type free of control characters but HTAB, and no MIME header without a
    /// content type (RFC 4975 §7.1: "A request with no body MUST NOT include a Content-Type or
    /// any other MIME-specific header fields").
    pub fn new(
        headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
        content_type: Option<Cow<'static, str>>,
    ) -> Result<Self, EncodeError> {
        let mut mime = false;
        for (name, value) in &headers {
            let known = HeaderName::from_bytes(name.as_bytes());
            match known {
                HeaderName::ToPath
                | HeaderName::FromPath
                | HeaderName::MessageId
                | HeaderName::ByteRange
                | HeaderName::SuccessReport
                | HeaderName::FailureReport
                | HeaderName::ContentType
                | HeaderName::Status => return Err(EncodeError::ReservedHeader),
                // A known name matched, ignoring case, is a valid `hname`.
                HeaderName::Extension if !is_hname(name.as_bytes()) => {
                    return Err(EncodeError::HeaderName);
                }
                _ => {}
            }
            if find_non_text(value.as_bytes()).is_some() {
                return Err(EncodeError::HeaderValue);
            }
            mime |= is_mime(known, name);
        }
        match &content_type {
            Some(ct) if find_non_text(ct.as_bytes()).is_some() => Err(EncodeError::HeaderValue),
            None if mime => Err(EncodeError::MimeHeaderWithoutBody),
            _ => Ok(Self {
                headers,
                content_type,
            }),
        }
    }

    /// The extension headers, in order.
    pub fn headers(&self) -> &[(Cow<'static, str>, Cow<'static, str>)] {
        &self.headers
    }

    /// The Content-Type; `None` for a bodiless message.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }
}

/// Writes a response to `request` into `dst`, end-line included: the status `code` with its
/// reason phrase, if it has one, along `to` from `from`. RFC 4975 §7.2: "Since a response is
/// never chunked, the continuation flag in the end-line will always contain a dollar sign".
///
/// Where it goes is the caller's choice (RFC 4975 §7.2: to a SEND, the first URI of its
/// From-Path, [`UriList::first`]; to other requests, the whole From-Path); both paths are lists
/// read by the decoder or held by a [`HeadTemplate`], so they are known to be well formed, as
/// is the transaction id of a decoded request.
pub fn encode_response<B: BufMut>(
    dst: &mut B,
    request: &Head,
    code: StatusCode,
    to: UriList<'_>,
    from: UriList<'_>,
) {
    let tid = request.transaction_id_bytes();
    dst.put_slice(b"MSRP ");
    dst.put_slice(tid);
    dst.put_slice(b" ");
    put_status(dst, code);
    dst.put_slice(b"\r\nTo-Path: ");
    dst.put_slice(to.as_str().as_bytes());
    dst.put_slice(FROM.as_bytes());
    dst.put_slice(from.as_str().as_bytes());
    put_ending(dst, tid, Flag::End);
}

/// Writes a status code and its reason phrase, if it has one.
#[inline]
fn put_status<B: BufMut>(dst: &mut B, code: StatusCode) {
    put_code(dst, code);
    if let Some(reason) = code.canonical_reason() {
        dst.put_slice(b" ");
        dst.put_slice(reason.as_bytes());
    }
}

/// Writes a Byte-Range line, `*` for an unknown range-end or total. The line is put together
/// on the stack and written in one piece: a chunk's head has one, and writing it number by
/// number cost more than the numbers.
#[inline]
fn put_byte_range<B: BufMut>(dst: &mut B, range: &ByteRange) {
    const NAME: &[u8] = b"\r\nByte-Range: ";
    // The name, three numbers of at most 20 digits, and their separators.
    let mut line = [0u8; NAME.len() + 3 * 20 + 2];
    let mut len = NAME.len();
    line[..len].copy_from_slice(NAME);
    fn put_number(line: &mut [u8], len: &mut usize, n: Option<u64>) {
        match n {
            Some(n) => {
                let mut digits = [0u8; 20];
                let at = decimal(n, &mut digits);
                let digits = &digits[at..];
                line[*len..*len + digits.len()].copy_from_slice(digits);
                *len += digits.len();
            }
            None => {
                line[*len] = b'*';
                *len += 1;
            }
        }
    }
    put_number(&mut line, &mut len, Some(range.start));
    line[len] = b'-';
    len += 1;
    put_number(&mut line, &mut len, range.end);
    line[len] = b'/';
    len += 1;
    put_number(&mut line, &mut len, range.total);
    dst.put_slice(&line[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decoder, Frame, HeadWriter, end_line};

    const BOB: &str = "msrp://bob.example.com:8888/9di4ea;tcp";
    const RELAY_BOB: &str =
        "msrp://relay.example.com:2855/r3l4y;tcp msrp://bob.example.com:8888/9di4ea;tcp";
    const ALICE: &str = "msrp://alice.example.com:7654/iau39;tcp";

    fn tid(s: &str) -> TransactionId {
        TransactionId::new(s).expect("valid id")
    }

    fn mid() -> MessageId {
        MessageId::new("4564dpWd").expect("valid id")
    }

    fn decode(wire: &[u8]) -> Frame {
        let mut decoder = Decoder::new();
        decoder.push(wire);
        let frame = decoder.decode().expect("valid").expect("whole");
        assert_eq!(decoder.buffered(), 0, "one frame exactly");
        frame
    }

    fn plain_text() -> MessageHeaders {
        MessageHeaders::new(Vec::new(), Some("text/plain".into())).expect("valid")
    }

    #[test]
    fn a_bad_path_is_refused_at_construction() {
        for bad in [
            "",
            " ",
            "msrp://a:1/b;tcp\r\nX-Injected: 1",
            "msrp://a:1/b;tcp\n",
            "msrp://a:1/b;tcp ",
            " msrp://a:1/b;tcp",
            "msrp://a:1/b;tcp  msrp://c:2/d;tcp",
            "msrp://a:1/b;tcp\tmsrp://c:2/d;tcp",
            "msrp://a:1/é;tcp",
            "msrp://a:1/b\0;tcp",
        ] {
            assert_eq!(
                HeadTemplate::new(bad, ALICE).err(),
                Some(EncodeError::Path),
                "To-Path {bad:?}"
            );
            assert_eq!(
                HeadTemplate::new(BOB, bad).err(),
                Some(EncodeError::Path),
                "From-Path {bad:?}"
            );
        }
        let template = HeadTemplate::new(RELAY_BOB, ALICE).expect("valid paths");
        assert_eq!(template.to_path().as_str(), RELAY_BOB);
        assert_eq!(template.from_path().as_str(), ALICE);
        assert_eq!(
            template.next_hop().as_str(),
            "msrp://relay.example.com:2855/r3l4y;tcp"
        );
        assert_eq!(
            HeadTemplate::new(BOB, ALICE)
                .expect("valid")
                .next_hop()
                .as_str(),
            BOB
        );
    }

    /// The template writes exactly what the checking encoder writes for the same head.
    #[test]
    fn sends_match_the_checking_encoder() {
        let t = tid("dkei38sd");
        let disposition = MessageHeaders::new(
            vec![("Content-Disposition".into(), "inline".into())],
            Some("a/b".into()),
        )
        .expect("valid");
        let extension =
            MessageHeaders::new(vec![("X-Note".into(), "bodiless".into())], None).expect("valid");
        let cases = [
            (
                SuccessReport::No,
                FailureReport::Yes,
                ByteRange {
                    start: 1,
                    end: None,
                    total: Some(8),
                },
                plain_text(),
            ),
            (
                SuccessReport::Yes,
                FailureReport::Partial,
                ByteRange {
                    start: 9,
                    end: Some(2056),
                    total: None,
                },
                disposition,
            ),
            (
                SuccessReport::No,
                FailureReport::No,
                ByteRange {
                    start: 1,
                    end: Some(0),
                    total: Some(0),
                },
                MessageHeaders::default(),
            ),
            (
                SuccessReport::Yes,
                FailureReport::Yes,
                ByteRange {
                    start: u64::MAX,
                    end: None,
                    total: None,
                },
                extension,
            ),
        ];
        let template = HeadTemplate::new(RELAY_BOB, ALICE).expect("valid");
        for (sr, fr, range, headers) in cases {
            let mut ours = Vec::new();
            let head = SendHead {
                message_id: &mid(),
                success_report: sr,
                failure_report: fr,
                byte_range: range,
                headers: &headers,
            };
            template.encode_send(&mut ours, &t, &head);

            let mut theirs = Vec::new();
            let mut w = HeadWriter::request(&mut theirs, &t, "SEND").expect("valid");
            w.header("To-Path", RELAY_BOB)
                .and_then(|w| w.header("From-Path", ALICE))
                .and_then(|w| w.header("Message-ID", "4564dpWd"))
                .expect("valid");
            if sr == SuccessReport::Yes {
                w.header("Success-Report", "yes").expect("valid");
            }
            if fr != FailureReport::Yes {
                w.header("Failure-Report", fr.as_str()).expect("valid");
            }
            w.header("Byte-Range", &range.to_string()).expect("valid");
            for (name, value) in headers.headers() {
                w.header(name, value).expect("valid");
            }
            match headers.content_type() {
                Some(ct) => {
                    w.header("Content-Type", ct).expect("valid");
                    w.body_follows().expect("valid");
                }
                None => w.end(Flag::End).expect("valid"),
            }
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
    }

    /// What the template writes decodes back to the head it was given.
    #[test]
    fn what_it_writes_decodes_back() {
        let t = tid("a786hjs2");
        let template = HeadTemplate::new(RELAY_BOB, ALICE).expect("valid");
        let headers = MessageHeaders::new(
            vec![
                ("Content-Description".into(), "a note\twith a tab".into()),
                ("x-Custom".into(), "".into()),
            ],
            Some("text/plain; charset=utf-8".into()),
        )
        .expect("valid");
        let range = ByteRange {
            start: 3,
            end: Some(6),
            total: Some(6),
        };
        let head = SendHead {
            message_id: &mid(),
            success_report: SuccessReport::Yes,
            failure_report: FailureReport::Partial,
            byte_range: range,
            headers: &headers,
        };
        let mut wire = Vec::new();
        template.encode_send(&mut wire, &t, &head);
        wire.extend_from_slice(b"body");
        end_line(&mut wire, &t, Flag::Continued);
        let frame = decode(&wire);
        assert_eq!(frame.transaction_id(), "a786hjs2");
        assert_eq!(frame.method().map(|m| m.as_str()), Some("SEND"));
        assert_eq!(
            frame.to_path().unwrap().map(|p| p.as_str()),
            Some(RELAY_BOB)
        );
        assert_eq!(frame.from_path().unwrap().map(|p| p.as_str()), Some(ALICE));
        assert_eq!(frame.message_id().unwrap(), Some("4564dpWd"));
        assert_eq!(frame.success_report().unwrap(), Some(SuccessReport::Yes));
        assert_eq!(
            frame.failure_report().unwrap(),
            Some(FailureReport::Partial)
        );
        assert_eq!(frame.byte_range().unwrap(), Some(range));
        assert_eq!(
            frame.content_type_str().unwrap(),
            Some("text/plain; charset=utf-8")
        );
        let extensions: Vec<(&[u8], &[u8])> = frame
            .headers()
            .filter(|h| {
                matches!(
                    h.name,
                    HeaderName::ContentDescription | HeaderName::Extension
                )
            })
            .map(|h| (h.raw_name, h.value))
            .collect();
        assert_eq!(
            extensions,
            [
                (&b"Content-Description"[..], &b"a note\twith a tab"[..]),
                (&b"x-Custom"[..], &b""[..])
            ]
        );
        assert_eq!(frame.body(), Some(&b"body"[..]));
        assert_eq!(frame.flag(), Flag::Continued);

        // A bodiless SEND ends with its end-line.
        let none = MessageHeaders::default();
        let bodiless = SendHead {
            headers: &none,
            byte_range: ByteRange {
                start: 1,
                end: Some(0),
                total: Some(0),
            },
            ..head
        };
        let mut wire = Vec::new();
        template.encode_send(&mut wire, &t, &bodiless);
        let frame = decode(&wire);
        assert!(!frame.has_body());
        assert_eq!(frame.flag(), Flag::End);
        assert_eq!(frame.content_type_str().unwrap(), None);
    }

    /// Responses and REPORTs match the checking encoder, and decode back.
    #[test]
    fn reports_and_responses_match_the_checking_encoder() {
        let request = decode(
            b"MSRP a786hjs2 SEND\r\nTo-Path: msrp://alice.example.com:7654/iau39;tcp\r\n\
From-Path: msrp://relay.example.com:2855/r3l4y;tcp msrp://bob.example.com:8888/9di4ea;tcp\r\n\
Message-ID: 4564dpWd\r\n-------a786hjs2$\r\n",
        );
        let template = HeadTemplate::new(RELAY_BOB, ALICE).expect("valid");
        let to = request.from_path().unwrap().expect("present").first();
        for code in [StatusCode::OK, StatusCode::new(599).unwrap()] {
            let mut ours = Vec::new();
            encode_response(&mut ours, request.head(), code, to, template.from_path());
            let mut theirs = Vec::new();
            let t = tid("a786hjs2");
            let mut w =
                HeadWriter::response(&mut theirs, &t, code, code.canonical_reason()).unwrap();
            w.header("To-Path", "msrp://relay.example.com:2855/r3l4y;tcp")
                .and_then(|w| w.header("From-Path", ALICE))
                .expect("valid");
            w.end(Flag::End).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
            let response = decode(&ours);
            assert_eq!(response.status_code(), Some(code));
            assert_eq!(response.transaction_id(), "a786hjs2");
        }

        let t = tid("r3p0rt99");
        for (range, status) in [
            (
                ByteRange {
                    start: 1,
                    end: Some(80),
                    total: Some(80),
                },
                StatusCode::OK,
            ),
            (
                ByteRange {
                    start: 1,
                    end: Some(4096),
                    total: None,
                },
                StatusCode::REQUEST_TIMEOUT,
            ),
        ] {
            let report = ReportHead {
                message_id: &mid(),
                byte_range: range,
                status,
            };
            let mut ours = Vec::new();
            template.encode_report(&mut ours, &t, template.to_path(), &report);
            let mut theirs = Vec::new();
            let mut w = HeadWriter::request(&mut theirs, &t, "REPORT").unwrap();
            let status_text = format!("000 {} {}", status, status.canonical_reason().unwrap());
            w.header("To-Path", RELAY_BOB)
                .and_then(|w| w.header("From-Path", ALICE))
                .and_then(|w| w.header("Message-ID", "4564dpWd"))
                .and_then(|w| w.header("Byte-Range", &range.to_string()))
                .and_then(|w| w.header("Status", &status_text))
                .expect("valid");
            w.end(Flag::End).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
            let frame = decode(&ours);
            assert_eq!(frame.byte_range().unwrap(), Some(range));
            let got = frame.status().unwrap().expect("present");
            assert_eq!((got.namespace, got.code), (0, status));
        }
    }

    #[test]
    fn message_headers_are_checked() {
        let h = |name: &'static str, value: &'static str| vec![(name.into(), value.into())];
        let ct = || Some(Cow::Borrowed("text/plain"));
        assert!(MessageHeaders::new(h("Content-Description", "a"), ct()).is_ok());
        assert!(MessageHeaders::new(h("X-A", "a\tb"), None).is_ok());
        assert_eq!(
            MessageHeaders::new(h("X-A", "a\r\nb"), ct()),
            Err(EncodeError::HeaderValue)
        );
        assert_eq!(
            MessageHeaders::new(h("X A", "a"), ct()),
            Err(EncodeError::HeaderName)
        );
        assert_eq!(
            MessageHeaders::new(Vec::new(), Some("text/pl\nain".into())),
            Err(EncodeError::HeaderValue)
        );
        for reserved in [
            "To-Path",
            "from-path",
            "MESSAGE-ID",
            "Byte-Range",
            "Success-Report",
            "Failure-Report",
            "Content-Type",
            "Status",
        ] {
            assert_eq!(
                MessageHeaders::new(h(reserved, "x"), ct()),
                Err(EncodeError::ReservedHeader),
                "{reserved}"
            );
        }
        // A MIME header on a bodiless SEND.
        assert_eq!(
            MessageHeaders::new(h("Content-Description", "a"), None),
            Err(EncodeError::MimeHeaderWithoutBody)
        );
        assert_eq!(
            MessageHeaders::new(h("content-x", "a"), None),
            Err(EncodeError::MimeHeaderWithoutBody)
        );
        assert!(MessageHeaders::new(Vec::new(), None).is_ok());
    }

    #[test]
    fn message_ids_are_idents() {
        assert_eq!(mid().as_str(), "4564dpWd");
        assert_eq!(format!("{:?}", mid()), "MessageId(4564dpWd)");
        assert_eq!(MessageId::new("abc"), Err(EncodeError::MessageId));
        assert_eq!(MessageId::new("a b c d"), Err(EncodeError::MessageId));
        assert_eq!(MessageId::from_random([7; 16]).as_str().len(), 16);
    }
}
