//! Decoded frames: the head (start line and headers) and the body.

use core::fmt;
use core::ops::{Deref, Range};

use bytes::Bytes;

use crate::HeaderName;
use crate::decoder::END_LINE_FRAMING;
use crate::header::{HeaderIndex, Line, Lines};

/// The continuation flag of an end-line (RFC 4975 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `$`: this chunk ends the message.
    End,
    /// `+`: more chunks of the message follow.
    Continued,
    /// `#`: the sender aborts the message and sends no further chunk of it.
    Aborted,
}

impl Flag {
    /// The flag character on the wire.
    pub fn as_byte(self) -> u8 {
        match self {
            Self::End => b'$',
            Self::Continued => b'+',
            Self::Aborted => b'#',
        }
    }

    /// The flag for a character, if it is one.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'$' => Some(Self::End),
            b'+' => Some(Self::Continued),
            b'#' => Some(Self::Aborted),
            _ => None,
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.as_byte() as char;
        write!(f, "{c}")
    }
}

/// A request method. Methods this crate does not know are kept so that the session layer can
/// answer them with 501.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method<'a> {
    /// `SEND` (RFC 4975).
    Send,
    /// `REPORT` (RFC 4975).
    Report,
    /// `AUTH` (RFC 4976).
    Auth,
    /// `NICKNAME` (RFC 7701).
    Nickname,
    /// Any other method name (`1*UPALPHA`).
    Other(&'a str),
}

impl<'a> Method<'a> {
    /// Classifies a method name; the name is matched exactly, as the grammar spells methods in
    /// capitals.
    pub fn from_name(name: &'a str) -> Self {
        match name {
            "SEND" => Self::Send,
            "REPORT" => Self::Report,
            "AUTH" => Self::Auth,
            "NICKNAME" => Self::Nickname,
            other => Self::Other(other),
        }
    }

    /// The method name on the wire.
    pub fn as_str(&self) -> &'a str {
        match self {
            Self::Send => "SEND",
            Self::Report => "REPORT",
            Self::Auth => "AUTH",
            Self::Nickname => "NICKNAME",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A three-digit response or Status code. A code is data, not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

impl StatusCode {
    /// 200: the transaction succeeded (RFC 4975 §10.1).
    pub const OK: Self = Self(200);
    /// 400: the request was unintelligible (RFC 4975 §10.2).
    pub const BAD_REQUEST: Self = Self(400);
    /// 401: authentication is required (RFC 4976 §5.1).
    pub const UNAUTHORIZED: Self = Self(401);
    /// 403: the action is not allowed (RFC 4975 §10.3).
    pub const FORBIDDEN: Self = Self(403);
    /// 408: no response arrived in time (RFC 4975 §10.4); generated locally, never sent.
    pub const REQUEST_TIMEOUT: Self = Self(408);
    /// 413: stop sending this message (RFC 4975 §10.5).
    pub const MESSAGE_TOO_LARGE: Self = Self(413);
    /// 415: the media type is not understood (RFC 4975 §10.6).
    pub const UNSUPPORTED_MEDIA_TYPE: Self = Self(415);
    /// 423: a parameter is out of bounds (RFC 4975 §10.7).
    pub const INTERVAL_OUT_OF_BOUNDS: Self = Self(423);
    /// 425: the nickname is reserved or in use (RFC 7701 §7.2).
    pub const NICKNAME_IN_USE: Self = Self(425);
    /// 481: the session does not exist (RFC 4975 §10.8).
    pub const NO_SUCH_SESSION: Self = Self(481);
    /// 501: the method is not understood (RFC 4975 §10.9).
    pub const NOT_IMPLEMENTED: Self = Self(501);
    /// 506: the session is already bound to another connection (RFC 4975 §10.10).
    pub const WRONG_CONNECTION: Self = Self(506);

    /// A code from its number; `None` unless it has exactly three digits.
    pub const fn new(code: u16) -> Option<Self> {
        if code >= 100 && code <= 999 {
            Some(Self(code))
        } else {
            None
        }
    }

    pub(crate) const fn from_digits(d: [u8; 3]) -> Self {
        Self((d[0] - b'0') as u16 * 100 + (d[1] - b'0') as u16 * 10 + (d[2] - b'0') as u16)
    }

    /// The numeric value.
    pub fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether this is a 2xx code.
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }

    /// The comment the RFCs print beside the code, if the code is one of theirs.
    pub fn canonical_reason(self) -> Option<&'static str> {
        Some(match self.0 {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            408 => "Request Timeout",
            413 => "Message Too Large",
            415 => "Unsupported Media Type",
            423 => "Interval Out-of-Bounds",
            425 => "Nickname reserved or already in use",
            481 => "Session Does Not Exist",
            501 => "Not Implemented",
            506 => "Wrong Connection",
            _ => return None,
        })
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// One header line as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name classified; [`HeaderName::Extension`] for names this crate does not know.
    pub name: HeaderName,
    /// The name exactly as received.
    pub raw_name: &'a [u8],
    /// The value: everything after the colon and the single space, up to the CRLF.
    pub value: &'a [u8],
    /// Offset in the stream of the first byte of the value.
    pub offset: u64,
}

impl Header<'_> {
    /// The name as a string. Header names are ASCII tokens, so this never fails.
    pub fn name_str(&self) -> &str {
        core::str::from_utf8(self.raw_name).unwrap_or_default()
    }
}

/// Where the start line keeps the method or the status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StartLine {
    /// Length of the transaction id, which starts at offset 5.
    pub(crate) tid_len: u8,
    /// End of the start line (its CR); a head is at most 64 KiB.
    pub(crate) end: u16,
    /// The status code of a response; `None` for a request.
    pub(crate) status: Option<StatusCode>,
}

impl StartLine {
    /// Where the method or the status code begins.
    pub(crate) fn rest(&self) -> usize {
        6 + self.tid_len as usize
    }

    /// Where the first header line begins, after the start line's CRLF.
    pub(crate) fn headers_start(&self) -> usize {
        self.end as usize + 2
    }
}

/// The start line and headers of a frame, sharing the received bytes.
///
/// A [`Frame`] dereferences to its `Head`; a [`StreamDecoder`](crate::StreamDecoder) yields a
/// `Head` alone when the body is streamed.
#[derive(Clone)]
pub struct Head {
    /// The frame as received: the whole frame for a [`Frame`], the head alone when streamed.
    pub(crate) raw: Bytes,
    pub(crate) offset: u64,
    pub(crate) headers: HeaderIndex,
    /// Length of the head within `raw`: up to the blank line that opens the body, or up to the
    /// end-line of a frame without a body. A head is at most 64 KiB.
    pub(crate) head_len: u16,
    pub(crate) start: StartLine,
    pub(crate) has_body: bool,
    /// The flag of the end-line, for the head of a [`Frame`]; [`Flag::End`] for a head handed
    /// out alone, whose end-line comes later.
    pub(crate) flag: Flag,
}

impl Head {
    fn text(&self, range: Range<usize>) -> &str {
        // Only ranges checked to be ASCII during parsing are read through here.
        core::str::from_utf8(&self.raw[range]).unwrap_or_default()
    }

    /// The transaction id of the start line (and of the end-line).
    pub fn transaction_id(&self) -> &str {
        self.text(5..5 + self.start.tid_len as usize)
    }

    /// The bytes of the transaction id, which the decoder checked to be an `ident`.
    #[inline]
    pub(crate) fn transaction_id_bytes(&self) -> &[u8] {
        &self.raw[5..5 + self.start.tid_len as usize]
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        self.start.status.is_none()
    }

    /// The method of a request; `None` for a response.
    pub fn method(&self) -> Option<Method<'_>> {
        match self.start.status {
            None => Some(Method::from_name(
                self.text(self.start.rest()..self.start.end as usize),
            )),
            Some(_) => None,
        }
    }

    /// The status code of a response; `None` for a request.
    pub fn status_code(&self) -> Option<StatusCode> {
        self.start.status
    }

    /// The comment after the status code of a response, if any, as received.
    pub fn comment(&self) -> Option<&[u8]> {
        self.start.status?;
        let from = self.start.rest() + 4;
        let end = self.start.end as usize;
        (from <= end).then(|| &self.raw[from..end])
    }

    /// Offset in the stream of the frame's first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The bytes of the head as received: the start line and the header lines with their CRLFs,
    /// and the blank line when a body follows.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw[..self.head_len as usize]
    }

    /// Whether a body follows the head. A frame without a body is distinct from one with an
    /// empty body (RFC 4975 §7.1).
    pub fn has_body(&self) -> bool {
        self.has_body
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    fn header_at(&self, line: Line) -> Header<'_> {
        let name = &self.raw[line.start..line.colon];
        let value = &self.raw[line.value_start()..line.end];
        Header {
            name: HeaderName::from_index(line.known),
            raw_name: name,
            value,
            offset: self.offset + line.value_start() as u64,
        }
    }

    /// The headers in wire order.
    pub fn headers(&self) -> Headers<'_> {
        Headers {
            head: self,
            lines: self.headers.lines(self.start.headers_start()),
        }
    }

    /// The first header with a known name, and whether the name occurs more than once.
    pub(crate) fn find(&self, name: HeaderName) -> Option<(Header<'_>, bool)> {
        self.headers
            .find(name, self.start.headers_start())
            .map(|(line, dup)| (self.header_at(line), dup))
    }

    /// The value of the first header with the given name, compared case-insensitively; works
    /// for known and extension names alike.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        match HeaderName::from_bytes(name.as_bytes()) {
            HeaderName::Extension => self
                .headers()
                .find(|h| h.raw_name.eq_ignore_ascii_case(name.as_bytes()))
                .map(|h| h.value),
            known => self.find(known).map(|(h, _)| h.value),
        }
    }
}

impl fmt::Debug for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Head");
        d.field("offset", &self.offset)
            .field("transaction_id", &self.transaction_id());
        match self.start.status {
            None => d.field("method", &self.method()),
            Some(code) => d.field("status", &code),
        };
        let headers: Vec<_> = self
            .headers()
            .map(|h| {
                (
                    String::from_utf8_lossy(h.raw_name),
                    String::from_utf8_lossy(h.value),
                )
            })
            .collect();
        d.field("headers", &headers)
            .field("has_body", &self.has_body)
            .finish()
    }
}

/// Iterator over the headers of a [`Head`] in wire order.
#[derive(Clone, Debug)]
pub struct Headers<'a> {
    head: &'a Head,
    lines: Lines<'a>,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        let line = self.lines.next()?;
        Some(self.head.header_at(line))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.lines.size_hint()
    }
}

impl ExactSizeIterator for Headers<'_> {}

/// A complete frame: head, body (if any) and the flag of its end-line.
#[derive(Clone)]
pub struct Frame {
    /// The head, whose `raw` is the whole frame; the body lies between the head and the
    /// end-line, which is all that follows it.
    pub(crate) head: Head,
}

impl Frame {
    /// The head of the frame.
    #[inline]
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Turns the frame into its head, dropping the body.
    pub fn into_head(self) -> Head {
        self.head
    }

    /// Where the body lies in the frame's bytes: from the end of the head to the end-line,
    /// whose length the transaction id gives.
    #[inline]
    fn body_range(&self) -> Option<Range<usize>> {
        let head = &self.head;
        let end_line = END_LINE_FRAMING + head.start.tid_len as usize;
        head.has_body
            .then(|| head.head_len as usize..head.raw.len() - end_line)
    }

    /// The body, or `None` for a frame without one. An empty body is `Some(&[])`.
    #[inline]
    pub fn body(&self) -> Option<&[u8]> {
        self.body_range().map(|r| &self.head.raw[r])
    }

    /// The body as a [`Bytes`] slice of the received buffer: no copy.
    #[inline]
    pub fn body_bytes(&self) -> Option<Bytes> {
        self.body_range().map(|r| self.head.raw.slice(r))
    }

    /// The continuation flag of the end-line.
    #[inline]
    pub fn flag(&self) -> Flag {
        self.head.flag
    }

    /// The whole frame as received, from the start line to the end-line's CRLF.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.head.raw
    }

    /// The whole frame as a [`Bytes`] slice of the received buffer.
    pub fn to_bytes(&self) -> Bytes {
        self.head.raw.clone()
    }
}

impl Deref for Frame {
    type Target = Head;

    #[inline]
    fn deref(&self) -> &Head {
        &self.head
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("head", &self.head)
            .field("body_len", &self.body_range().map(|r| r.len()))
            .field("flag", &self.flag())
            .finish()
    }
}
