//! Encoding frames: heads, end-lines, and transaction ids that cannot collide with a body.

use core::fmt;
use std::sync::LazyLock;

use bytes::BufMut;
use memchr::memmem::Finder;

use crate::syntax::{MAX_TID, find_non_text, is_hname, is_ident};
use crate::{Flag, Frame, HeaderName, StatusCode};

/// A way the caller asked for a frame the grammar does not allow. Nothing was written when this
/// is returned from a [`HeadWriter`] constructor; after a header was refused, the partial head in
/// the destination must be discarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// The transaction id is not an `ident` of 4 to 32 characters.
    TransactionId,
    /// The method is not `1*UPALPHA`.
    Method,
    /// The response comment contains a control character.
    Comment,
    /// The header name is not `ALPHA *token`.
    HeaderName,
    /// The header value contains a control character (such as CR or LF).
    HeaderValue,
    /// To-Path must be the first header and From-Path the second (RFC 4975 §9).
    HeaderOrder,
    /// A body must be announced by a Content-Type header, and it must be the last header
    /// (RFC 4975 §7.1).
    ContentTypeNotLast,
    /// A frame without a body must not carry Content-Type or other MIME headers (RFC 4975 §7.1).
    MimeHeaderWithoutBody,
    /// A response cannot carry a body (RFC 4975 §9).
    ResponseBody,
    /// The Message-ID is not an `ident` of 4 to 32 characters.
    MessageId,
    /// A path is not a list of URIs of visible ASCII separated by single spaces, as To-Path and
    /// From-Path must be (RFC 4975 §9).
    Path,
    /// The header is one that a [`HeadTemplate`](crate::HeadTemplate) writes itself (To-Path,
    /// From-Path, Message-ID, Byte-Range, Success-Report, Failure-Report, Content-Type), or
    /// Status, which SEND requests do not carry.
    ReservedHeader,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TransactionId => "invalid transaction id",
            Self::Method => "invalid method",
            Self::Comment => "invalid response comment",
            Self::HeaderName => "invalid header name",
            Self::HeaderValue => "invalid header value",
            Self::HeaderOrder => "To-Path and From-Path must be the first two headers",
            Self::ContentTypeNotLast => "a body needs Content-Type as the last header",
            Self::MimeHeaderWithoutBody => "MIME header in a frame without a body",
            Self::ResponseBody => "a response cannot carry a body",
            Self::MessageId => "invalid Message-ID",
            Self::Path => "invalid path",
            Self::ReservedHeader => "header written by the template",
        })
    }
}

impl std::error::Error for EncodeError {}

/// A validated transaction id: `ident = ALPHANUM 3*31ident-char`. It is `Copy` and holds its
/// characters inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId {
    bytes: [u8; MAX_TID],
    len: u8,
}

impl TransactionId {
    /// Characters of an id made by [`from_random`](Self::from_random).
    pub const RANDOM_LEN: usize = 16;

    /// The characters [`from_random`](Self::from_random) maps bytes to, in order: byte `r`
    /// becomes `ALPHABET[r % 62]`, so a byte below 62 is a digit of base 62.
    pub const ALPHABET: &'static [u8; 62] =
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// Validates an id.
    pub fn new(id: &str) -> Result<Self, EncodeError> {
        if !is_ident(id.as_bytes()) {
            return Err(EncodeError::TransactionId);
        }
        let mut bytes = [0; MAX_TID];
        bytes[..id.len()].copy_from_slice(id.as_bytes());
        Ok(Self {
            bytes,
            len: id.len() as u8,
        })
    }

    /// An id of [`RANDOM_LEN`](Self::RANDOM_LEN) alphanumeric characters from 16 random bytes.
    ///
    /// RFC 4975 §7.1: the transaction identifier "MUST contain at least 64 bits of randomness".
    /// Each character takes one random byte modulo 62, which keeps more than 5.9 bits of it, so
    /// the id carries more than 94 bits.
    pub fn from_random(random: [u8; 16]) -> Self {
        let mut bytes = [0; MAX_TID];
        for (b, r) in bytes.iter_mut().zip(random) {
            *b = Self::ALPHABET[r as usize % Self::ALPHABET.len()];
        }
        Self {
            bytes,
            len: Self::RANDOM_LEN as u8,
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransactionId({})", self.as_str())
    }
}

impl core::str::FromStr for TransactionId {
    type Err = EncodeError;

    fn from_str(s: &str) -> Result<Self, EncodeError> {
        Self::new(s)
    }
}

/// A validated Message-ID: an `ident` of 4 to 32 characters, the grammar of a transaction id
/// (RFC 4975 §9: `Message-ID = "Message-ID:" SP ident`). It is `Copy` and holds its characters
/// inline.
///
/// Generated ids take 16 random bytes, so they are unique and unguessable (RFC 4975 §7.1.1: the
/// value "MUST be highly unlikely to be repeated by another endpoint instance, or by the same
/// instance in the future").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(TransactionId);

impl MessageId {
    /// Validates a Message-ID.
    pub fn new(id: &str) -> Result<Self, EncodeError> {
        TransactionId::new(id)
            .map(Self)
            .map_err(|_| EncodeError::MessageId)
    }

    /// An id of 16 alphanumeric characters from 16 random bytes.
    pub fn from_random(random: [u8; 16]) -> Self {
        Self(TransactionId::from_random(random))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.as_str())
    }
}

impl core::str::FromStr for MessageId {
    type Err = EncodeError;

    fn from_str(s: &str) -> Result<Self, EncodeError> {
        Self::new(s)
    }
}

static HYPHENS: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"-------"));

/// Position in `body` of the first occurrence of the end-line of `tid`: seven hyphens, the id and
/// a continuation flag, whatever precedes it.
///
/// RFC 4975 §7.1: "If the request contains a body, the sender MUST ensure that the end-line
/// (seven hyphens, the transaction identifier, and a continuation flag) is not present in the
/// body." The scan is linear: runs of hyphens are skipped at once.
pub fn find_end_line(body: &[u8], tid: &TransactionId) -> Option<usize> {
    let id = tid.as_bytes();
    let mut from = 0;
    while let Some(i) = HYPHENS.find(&body[from..]) {
        // Skip to the end of this run of hyphens: the id starts right after the last seven.
        let run_start = from + i;
        let run_end = run_start
            + body[run_start..]
                .iter()
                .position(|&b| b != b'-')
                .unwrap_or(body.len() - run_start);
        let rest = &body[run_end..];
        if rest.starts_with(id)
            && rest
                .get(id.len())
                .copied()
                .and_then(Flag::from_byte)
                .is_some()
        {
            return Some(run_end - 7);
        }
        from = run_end;
    }
    None
}

/// Picks the first id from `candidates` whose end-line does not occur in `body`, trying at most
/// `attempts` of them; `None` if all collide (which, with random ids, means the generator is
/// broken). A body without seven hyphens in a row holds no end-line at all: it is scanned once,
/// and then the first candidate is taken.
pub fn choose_transaction_id(
    body: &[u8],
    attempts: usize,
    mut candidates: impl FnMut() -> TransactionId,
) -> Option<TransactionId> {
    if attempts > 0 && HYPHENS.find(body).is_none() {
        return Some(candidates());
    }
    (0..attempts)
        .map(|_| candidates())
        .find(|tid| find_end_line(body, tid).is_none())
}

/// Writes the head of a frame, header by header, into a caller-owned buffer, enforcing the
/// grammar's order: To-Path first, From-Path second, Content-Type last before a body.
///
/// For a chunk whose body should not be copied, write the head with
/// [`body_follows`](Self::body_follows), send the body from where it lives, then write
/// [`end_line`].
///
/// ```
/// use msrp_wire::{end_line, Flag, HeadWriter, TransactionId};
///
/// let tid = TransactionId::new("dkei38sd")?;
/// let mut out = Vec::new();
/// let mut head = HeadWriter::request(&mut out, &tid, "SEND")?;
/// head.header("To-Path", "msrp://b.example.com:8888/9di4ea;tcp")?
///     .header("From-Path", "msrp://a.example.com:7654/iau39;tcp")?
///     .header("Message-ID", "4564dpWd")?
///     .header("Byte-Range", "1-*/8")?
///     .header("Content-Type", "text/plain")?;
/// head.body_follows()?;
/// out.extend_from_slice(b"abcd");
/// end_line(&mut out, &tid, Flag::Continued);
/// assert!(out.ends_with(b"abcd\r\n-------dkei38sd+\r\n"));
/// # Ok::<(), msrp_wire::EncodeError>(())
/// ```
#[derive(Debug)]
pub struct HeadWriter<'a, B: BufMut> {
    dst: &'a mut B,
    tid: TransactionId,
    is_response: bool,
    count: usize,
    last: HeaderName,
    mime: bool,
}

impl<'a, B: BufMut> HeadWriter<'a, B> {
    fn start(dst: &'a mut B, tid: &TransactionId, is_response: bool) -> Self {
        dst.put_slice(b"MSRP ");
        dst.put_slice(tid.as_bytes());
        dst.put_u8(b' ');
        Self {
            dst,
            tid: *tid,
            is_response,
            count: 0,
            last: HeaderName::Extension,
            mime: false,
        }
    }

    /// Starts a request: `MSRP <tid> <method>`.
    pub fn request(dst: &'a mut B, tid: &TransactionId, method: &str) -> Result<Self, EncodeError> {
        // RFC 4975 §9: "other-method = 1*UPALPHA".
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(EncodeError::Method);
        }
        let w = Self::start(dst, tid, false);
        w.dst.put_slice(method.as_bytes());
        w.dst.put_slice(b"\r\n");
        Ok(w)
    }

    /// Starts a response: `MSRP <tid> <code> [<comment>]`.
    pub fn response(
        dst: &'a mut B,
        tid: &TransactionId,
        code: StatusCode,
        comment: Option<&str>,
    ) -> Result<Self, EncodeError> {
        if comment.is_some_and(|c| find_non_text(c.as_bytes()).is_some()) {
            return Err(EncodeError::Comment);
        }
        let w = Self::start(dst, tid, true);
        put_code(w.dst, code);
        if let Some(comment) = comment {
            w.dst.put_u8(b' ');
            w.dst.put_slice(comment.as_bytes());
        }
        w.dst.put_slice(b"\r\n");
        Ok(w)
    }

    /// Appends `name: value`. The value is written as given; it must not contain CR, LF or other
    /// control characters except HTAB.
    pub fn header(&mut self, name: &str, value: &str) -> Result<&mut Self, EncodeError> {
        self.header_bytes(name, value.as_bytes())
    }

    /// Appends `name: value` with a value given as bytes (for UTF-8 that was received as is).
    pub fn header_bytes(&mut self, name: &str, value: &[u8]) -> Result<&mut Self, EncodeError> {
        let known = HeaderName::from_bytes(name.as_bytes());
        // A known name matched, ignoring case, is a valid `hname`; only others need checking.
        if known == HeaderName::Extension && !is_hname(name.as_bytes()) {
            return Err(EncodeError::HeaderName);
        }
        if find_non_text(value).is_some() {
            return Err(EncodeError::HeaderValue);
        }
        // RFC 4975 §9: "headers = To-Path CRLF From-Path CRLF 1*( header CRLF )".
        let expected = match self.count {
            0 => Some(HeaderName::ToPath),
            1 => Some(HeaderName::FromPath),
            _ => None,
        };
        let misplaced = match expected {
            Some(want) => known != want,
            None => matches!(known, HeaderName::ToPath | HeaderName::FromPath),
        };
        // RFC 4975 §7.1: "The Content-Type header field MUST be the last field in the message
        // header section."
        if misplaced || self.last == HeaderName::ContentType {
            return Err(if self.last == HeaderName::ContentType {
                EncodeError::ContentTypeNotLast
            } else {
                EncodeError::HeaderOrder
            });
        }
        self.mime |= is_mime(known, name);
        match known.canonical_line_start() {
            // The usual spelling: name and separator in one piece.
            Some(start) if &start[..start.len() - 2] == name.as_bytes() => {
                self.dst.put_slice(start);
            }
            _ => {
                self.dst.put_slice(name.as_bytes());
                self.dst.put_slice(b": ");
            }
        }
        self.dst.put_slice(value);
        self.dst.put_slice(b"\r\n");
        self.count += 1;
        self.last = known;
        Ok(self)
    }

    fn check_paths(&self) -> Result<(), EncodeError> {
        if self.count < 2 {
            return Err(EncodeError::HeaderOrder);
        }
        Ok(())
    }

    /// Ends the head of a request with a body: writes the blank line. The caller then writes the
    /// body and [`end_line`].
    pub fn body_follows(self) -> Result<(), EncodeError> {
        self.check_paths()?;
        if self.is_response {
            return Err(EncodeError::ResponseBody);
        }
        // RFC 4975 §7.1: "If the request has a body, it MUST contain a Content-Type header
        // field."
        if self.last != HeaderName::ContentType {
            return Err(EncodeError::ContentTypeNotLast);
        }
        self.dst.put_slice(b"\r\n");
        Ok(())
    }

    /// Ends a frame without a body: writes its end-line.
    pub fn end(self, flag: Flag) -> Result<(), EncodeError> {
        self.check_paths()?;
        // RFC 4975 §7.1: "A request with no body MUST NOT include a Content-Type or any other
        // MIME-specific header fields."
        if self.mime {
            return Err(EncodeError::MimeHeaderWithoutBody);
        }
        put_end_line(self.dst, self.tid.as_bytes(), flag);
        Ok(())
    }
}

/// Whether a header is a MIME header: Content-Type, Content-ID, Content-Description,
/// Content-Disposition, or another `Content-` extension field (RFC 2045 §9).
pub(crate) fn is_mime(known: HeaderName, name: &str) -> bool {
    match known {
        HeaderName::ContentType
        | HeaderName::ContentId
        | HeaderName::ContentDescription
        | HeaderName::ContentDisposition => true,
        HeaderName::Extension => name
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("content-")),
        _ => false,
    }
}

/// Writes the end-line `-------<tid><flag>` and its CRLF.
fn put_end_line<B: BufMut>(dst: &mut B, tid: &[u8], flag: Flag) {
    dst.put_slice(b"-------");
    dst.put_slice(tid);
    dst.put_u8(flag.as_byte());
    dst.put_slice(b"\r\n");
}

/// Writes the CRLF that ends the last line of a head or body, then the end-line of `tid` with
/// `flag`.
#[inline]
pub(crate) fn put_ending<B: BufMut>(dst: &mut B, tid: &[u8], flag: Flag) {
    dst.put_slice(b"\r\n");
    put_end_line(dst, tid, flag);
}

/// Writes the end of a body: the CRLF that precedes the end-line and is not part of the body,
/// then the end-line `-------<tid><flag>` and its CRLF.
pub fn end_line<B: BufMut>(dst: &mut B, tid: &TransactionId, flag: Flag) {
    put_ending(dst, tid.as_bytes(), flag);
}

/// Writes the three digits of a status code.
#[inline]
pub(crate) fn put_code<B: BufMut>(dst: &mut B, code: StatusCode) {
    let n = code.as_u16();
    dst.put_slice(&[
        b'0' + (n / 100) as u8,
        b'0' + (n / 10 % 10) as u8,
        b'0' + (n % 10) as u8,
    ]);
}

/// The two-digit numbers 00 to 99, for writing decimals two digits at a time.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `n` in decimal at the end of `digits` and returns where it starts: a u64 has at
/// most 20 digits. Two digits at a time, which halves the divisions.
#[inline]
pub(crate) fn decimal(mut n: u64, digits: &mut [u8; 20]) -> usize {
    let mut at = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
    }
    at
}

impl Frame {
    /// Encodes the frame from its parsed parts (start line, headers in wire order, body, flag).
    /// A frame decoded from a valid stream encodes to the same bytes.
    pub fn encode<B: BufMut>(&self, dst: &mut B) -> Result<(), EncodeError> {
        let tid = TransactionId::new(self.transaction_id())?;
        let mut w = match (self.method(), self.status_code()) {
            (Some(method), _) => HeadWriter::request(dst, &tid, method.as_str())?,
            (None, Some(code)) => {
                let comment = match self.comment() {
                    Some(c) => Some(core::str::from_utf8(c).map_err(|_| EncodeError::Comment)?),
                    None => None,
                };
                HeadWriter::response(dst, &tid, code, comment)?
            }
            (None, None) => return Err(EncodeError::Method),
        };
        for h in self.headers() {
            w.header_bytes(h.name_str(), h.value)?;
        }
        match self.body() {
            Some(body) => {
                w.body_follows()?;
                dst.put_slice(body);
                end_line(dst, &tid, self.flag);
                Ok(())
            }
            None => w.end(self.flag),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tid(s: &str) -> TransactionId {
        TransactionId::new(s).expect("valid id")
    }

    #[test]
    fn decimals_are_written_as_to_string_writes_them() {
        let mut numbers = vec![
            0,
            1,
            9,
            10,
            11,
            99,
            100,
            101,
            999,
            1000,
            u64::MAX,
            u64::MAX - 1,
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for shift in 0..64 {
            numbers.push(1 << shift);
            numbers.push((1u64 << shift) - 1);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            numbers.push(x >> (shift % 60));
        }
        for n in numbers {
            let mut digits = [0u8; 20];
            let at = decimal(n, &mut digits);
            assert_eq!(&digits[at..], n.to_string().as_bytes(), "{n}");
        }
    }

    #[test]
    fn end_line_search_finds_only_id_plus_flag() {
        let t = tid("abcd");
        assert_eq!(find_end_line(b"-------abcd$", &t), Some(0));
        assert_eq!(find_end_line(b"xx--------abcd+", &t), Some(3));
        assert_eq!(find_end_line(b"-------abcd#tail", &t), Some(0));
        assert_eq!(find_end_line(b"-------abcde$", &t), None);
        assert_eq!(find_end_line(b"-------abce$ ------abcd$", &t), None);
        assert_eq!(find_end_line(b"-------abcd", &t), None);
        assert_eq!(find_end_line(b"", &t), None);
        assert_eq!(find_end_line(b"------- abcd$ -------abcd$", &t), Some(14));
    }

    #[test]
    fn choosing_an_id_skips_colliding_ones() {
        let body = b"text\r\n-------aaaa$\r\nmore";
        let mut ids = ["aaaa", "bbbb"].into_iter().map(tid);
        let chosen = choose_transaction_id(body, 4, || ids.next().unwrap_or(tid("cccc")));
        assert_eq!(chosen, Some(tid("bbbb")));
        assert_eq!(choose_transaction_id(body, 3, || tid("aaaa")), None);
        // Without seven hyphens in a row no id collides: the first is taken, and no other is
        // drawn.
        let mut drawn = 0;
        let body = b"a - b -- c ------ d ------aaaa$";
        let chosen = choose_transaction_id(body, 4, || {
            drawn += 1;
            tid("aaaa")
        });
        assert_eq!((chosen, drawn), (Some(tid("aaaa")), 1));
        assert_eq!(choose_transaction_id(body, 0, || tid("aaaa")), None);
    }

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let a = TransactionId::from_random([0; 16]);
        let b = TransactionId::from_random([255; 16]);
        assert!(is_ident(a.as_bytes()));
        assert!(is_ident(b.as_bytes()));
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), TransactionId::RANDOM_LEN);
    }

    #[test]
    fn writer_enforces_the_grammar() {
        let t = tid("a786hjs2");
        let mut out = Vec::new();
        assert_eq!(
            HeadWriter::request(&mut out, &t, "send").err(),
            Some(EncodeError::Method)
        );
        assert!(out.is_empty());
        let mut w = HeadWriter::request(&mut out, &t, "SEND").expect("valid");
        assert_eq!(
            w.header("From-Path", "x").err(),
            Some(EncodeError::HeaderOrder)
        );
        let mut out = Vec::new();
        let mut w = HeadWriter::request(&mut out, &t, "SEND").expect("valid");
        w.header("To-Path", "a")
            .expect("first")
            .header("From-Path", "b")
            .expect("second");
        assert_eq!(
            w.header("X", "a\r\nb").err(),
            Some(EncodeError::HeaderValue)
        );
        assert_eq!(w.header("1X", "a").err(), Some(EncodeError::HeaderName));
        assert_eq!(
            w.header("To-Path", "a").err(),
            Some(EncodeError::HeaderOrder)
        );
        w.header("Content-Type", "text/plain").expect("mime");
        assert_eq!(
            w.header("Message-ID", "1234").err(),
            Some(EncodeError::ContentTypeNotLast)
        );
        assert_eq!(w.end(Flag::End), Err(EncodeError::MimeHeaderWithoutBody));

        let mut out = Vec::new();
        let mut w = HeadWriter::request(&mut out, &t, "SEND").expect("valid");
        w.header("To-Path", "a")
            .expect("first")
            .header("From-Path", "b")
            .expect("second");
        assert_eq!(w.body_follows(), Err(EncodeError::ContentTypeNotLast));

        let mut out = Vec::new();
        let mut w = HeadWriter::response(&mut out, &t, StatusCode::OK, Some("OK")).expect("ok");
        w.header("To-Path", "a")
            .expect("first")
            .header("From-Path", "b")
            .expect("second");
        w.end(Flag::End).expect("no body");
        assert_eq!(
            out,
            b"MSRP a786hjs2 200 OK\r\nTo-Path: a\r\nFrom-Path: b\r\n-------a786hjs2$\r\n"
        );
    }
}
