//! The incremental decoder.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem::Finder;

use crate::error::{ErrorKind, ParseError};
use crate::frame::{Flag, Frame, Head, StartLine, StatusCode};
use crate::header::{IndexBuilder, Slot};
use crate::syntax::{
    MAX_TID, eq_short, find_byte, find_non_text, is_hname, is_ident, is_ident_char, is_token,
};
use crate::{HeaderName, Limits};

/// The constant part of every end-line, with the CRLF that precedes it after a body.
pub(crate) const END_LINE_LEAD: &[u8] = b"\r\n-------";
/// Length of the end-line after a body, besides the transaction id: the lead, the flag and
/// CRLF.
pub(crate) const END_LINE_FRAMING: usize = END_LINE_LEAD.len() + 3;
const HYPHENS: usize = 7;
/// The largest head: header positions are kept in 16 bits.
const MAX_HEAD: usize = u16::MAX as usize;
/// The least the receive buffer grows by.
const RESERVE: usize = 64 * 1024;

/// What a [`StreamDecoder`] yields.
#[derive(Clone, Debug)]
pub enum Item {
    /// A whole frame: it had no body, or its body was complete in the buffer when the head was,
    /// and no larger than [`Limits::max_body`].
    Frame(Frame),
    /// The head of a frame whose body follows as [`Item::Body`] pieces and one [`Item::End`].
    Head(Head),
    /// The next piece of the body of the last [`Item::Head`], a slice of the received buffer.
    Body(Bytes),
    /// The end of the body of the last [`Item::Head`], with the end-line's flag.
    End(Flag),
}

/// Searches a body for its end-line `CRLF "-------" transact-id flag CRLF`, across any number of
/// pushes, without looking at a byte twice.
///
/// The constant lead `CRLF "-------"` is found with a prebuilt [`Finder`]; the transaction id and
/// flag are compared after it. A lead that straddles the end of the buffer is remembered as a
/// partial match, and later bytes are compared one by one until it completes or fails. Because a
/// CR occurs in the lead only at its start, a failed candidate can only restart at the byte that
/// failed it, so the scan position never moves back.
#[derive(Clone, Debug)]
struct Matcher {
    /// `CRLF "-------"` and the transaction id.
    pattern: [u8; END_LINE_LEAD.len() + MAX_TID],
    pattern_len: usize,
    /// Where the body starts in the buffer.
    body_start: usize,
    /// The next byte to examine.
    pos: usize,
    /// Start of the candidate end-line (its CR); may lie before `body_start` when the blank line
    /// that opens the body is taken as the candidate's CRLF.
    cand: isize,
    /// Bytes of the candidate matched so far: the pattern, then the flag, then CR and LF.
    matched: usize,
    flag: Flag,
}

/// A found end-line: where it starts (its CR) and ends (after its LF), and its flag.
#[derive(Clone, Copy, Debug)]
struct EndLine {
    start: usize,
    end: usize,
    flag: Flag,
}

impl Matcher {
    fn new() -> Self {
        Self {
            pattern: [0; END_LINE_LEAD.len() + MAX_TID],
            pattern_len: 0,
            body_start: 0,
            pos: 0,
            cand: 0,
            matched: 0,
            flag: Flag::End,
        }
    }

    /// Prepares a search for the end-line of `tid` in a body that starts at `body_start`.
    fn start(&mut self, tid: &[u8], body_start: usize) {
        self.pattern[..END_LINE_LEAD.len()].copy_from_slice(END_LINE_LEAD);
        self.pattern[END_LINE_LEAD.len()..END_LINE_LEAD.len() + tid.len()].copy_from_slice(tid);
        self.pattern_len = END_LINE_LEAD.len() + tid.len();
        self.body_start = body_start;
        self.pos = body_start;
        // The CRLF of the blank line counts as a matched CRLF, so that an end-line right after
        // the blank line is recognised, and refused, rather than swallowed into the body.
        self.cand = body_start as isize - 2;
        self.matched = 2;
    }

    /// Moves every position back by `n` after `n` bytes were split off the buffer's front.
    fn shift(&mut self, n: usize) {
        // While streaming, the buffer starts inside the body, which keeps starting at 0.
        self.body_start = self.body_start.saturating_sub(n);
        self.pos -= n;
        self.cand -= n as isize;
    }

    /// End of the body bytes that can no longer be part of the end-line.
    fn safe_end(&self) -> usize {
        if self.matched > 0 {
            self.cand.max(self.body_start as isize) as usize
        } else {
            self.pos
        }
    }

    fn full_len(&self) -> usize {
        self.pattern_len + 3
    }

    /// Gives up the current candidate at the byte `b` at `self.pos`.
    fn restart(&mut self, b: u8) {
        if b == b'\r' {
            self.cand = self.pos as isize;
            self.matched = 1;
        } else {
            self.matched = 0;
        }
        self.pos += 1;
    }

    /// Examines the bytes from `self.pos` to the end of `buf`. `base` is the stream offset of
    /// `buf[0]`, for errors.
    #[inline(always)]
    fn run(
        &mut self,
        buf: &[u8],
        finder: &Finder<'_>,
        base: u64,
    ) -> Result<Option<EndLine>, ParseError> {
        let n = buf.len();
        // The CRLF of the blank line was taken as a matched CRLF (see `start`); unless the body
        // starts with a hyphen, that candidate fails at once, and the search can go straight to
        // the finder without consuming a byte.
        if self.matched == 2 && self.cand + 2 == self.pos as isize && self.pos == self.body_start {
            match buf.get(self.pos) {
                None => return Ok(None),
                Some(b'-') => {}
                Some(_) => self.matched = 0,
            }
        }
        if self.matched == 0 && self.pos == self.body_start {
            self.resume(scan_window(buf, self.pos));
        }
        while self.pos < n {
            if self.matched == 0 {
                match finder.find(&buf[self.pos..]) {
                    Some(i) => {
                        self.cand = (self.pos + i) as isize;
                        self.matched = END_LINE_LEAD.len();
                        self.pos += i + END_LINE_LEAD.len();
                    }
                    None => {
                        // A lead may begin in the last few bytes; CR occurs in it only first.
                        let from = n.saturating_sub(END_LINE_LEAD.len() - 1).max(self.pos);
                        if let Some(r) = memchr::memrchr(b'\r', &buf[from..]) {
                            let r = from + r;
                            if self.pattern[..n - r] == buf[r..] {
                                self.cand = r as isize;
                                self.matched = n - r;
                            }
                        }
                        self.pos = n;
                        return Ok(None);
                    }
                }
                continue;
            }
            // Fast path: the rest of the candidate is in the buffer and matches.
            let rest = self.full_len() - self.matched;
            if self.matched <= self.pattern_len && n - self.pos >= rest {
                let tail = &buf[self.pos..self.pos + rest];
                let id_len = self.pattern_len - self.matched;
                if eq_short(
                    &tail[..id_len],
                    &self.pattern[self.matched..self.pattern_len],
                ) && tail[rest - 2..] == *b"\r\n"
                {
                    if let Some(flag) = Flag::from_byte(tail[id_len]) {
                        self.flag = flag;
                        self.matched = self.full_len();
                        self.pos += rest;
                        return self.found(base);
                    }
                }
            }
            // Slow path: one byte at a time.
            let b = buf[self.pos];
            let k = self.matched;
            if k < self.pattern_len {
                if b == self.pattern[k] {
                    self.matched += 1;
                    self.pos += 1;
                } else {
                    self.restart(b);
                }
            } else if k == self.pattern_len {
                // RFC 4975 §7.1: the end-line is "seven hyphens, the transaction identifier, and
                // a continuation flag"; the id followed by any other byte is body data.
                match Flag::from_byte(b) {
                    Some(flag) => {
                        self.flag = flag;
                        self.matched += 1;
                        self.pos += 1;
                    }
                    None => self.restart(b),
                }
            } else {
                // RFC 4975 §7.1: "the sender MUST ensure that the end-line ... is not present in
                // the body", so the id and flag after CRLF and hyphens end the body, and must be
                // followed by CRLF.
                let want = if k == self.pattern_len + 1 {
                    b'\r'
                } else {
                    b'\n'
                };
                if b != want {
                    return Err(ParseError::new(
                        ErrorKind::EndLineSyntax,
                        base + self.pos as u64,
                    ));
                }
                self.matched += 1;
                self.pos += 1;
                if self.matched == self.full_len() {
                    return self.found(base);
                }
            }
        }
        Ok(None)
    }

    /// Takes over what [`scan_window`] found in the first bytes of a body that does not start
    /// with a hyphen (so the blank line's CRLF is no candidate): leaves `pos` at a found lead's
    /// end, at a CR whose lead the buffer does not hold yet, or after the window.
    #[inline(always)]
    fn resume(&mut self, window: Window) {
        let (pos, matched) = match window {
            Window::Lead(cr) => {
                self.cand = cr as isize;
                (cr + END_LINE_LEAD.len(), END_LINE_LEAD.len())
            }
            Window::Cut(cr) => (cr, 0),
            Window::Clear(end) => (end, 0),
        };
        self.pos = pos;
        self.matched = matched;
    }

    #[inline(always)]
    fn found(&mut self, base: u64) -> Result<Option<EndLine>, ParseError> {
        // RFC 4975 §7.1: "If a body is present, the end-line MUST be preceded by a CRLF that is
        // not part of the body."
        if self.cand < self.body_start as isize {
            return Err(ParseError::new(
                ErrorKind::EndLineWithoutCrlf,
                base + self.body_start as u64,
            ));
        }
        Ok(Some(EndLine {
            start: self.cand as usize,
            end: self.pos,
            flag: self.flag,
        }))
    }
}

/// What the first bytes of a body say about its end-line, by [`scan_window`].
#[derive(Clone, Copy, Debug)]
enum Window {
    /// The lead `CRLF "-------"` of a candidate end-line starts at this CR.
    Lead(usize),
    /// A CR at this position may start the lead, but the buffer ends before the lead would.
    Cut(usize),
    /// No lead starts before this position, the end of the window.
    Clear(usize),
}

/// Looks for the lead of the end-line in the first bytes of a body, from `from`, by its CRs,
/// before the finder is used: most bodies (chat messages) are short, and a short search costs
/// less this way than the finder's set-up.
#[inline(always)]
fn scan_window(buf: &[u8], from: usize) -> Window {
    const WINDOW: usize = 64;
    let end = buf.len().min(from + WINDOW);
    let mut pos = from;
    while let Some(r) = find_byte(&buf[pos..end], b'\r') {
        let cr = pos + r;
        match buf.get(cr..cr + END_LINE_LEAD.len()) {
            Some(lead) if eq_short(lead, END_LINE_LEAD) => return Window::Lead(cr),
            Some(_) => pos = cr + 1,
            None => return Window::Cut(cr),
        }
    }
    Window::Clear(end)
}

/// How a completed head ends.
enum HeadEnd {
    /// A blank line: a body follows from `body_start`.
    Body { body_start: usize },
    /// An end-line right after the headers: no body.
    NoBody {
        end_line_start: usize,
        frame_len: usize,
        flag: Flag,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the start line and headers.
    Head,
    /// Searching a body for its end-line while the head is still in the buffer.
    Body,
    /// Handing out the body of a head already handed out; the buffer starts in the body.
    Streaming,
    /// A streamed body's end-line was found and the body before it handed out.
    StreamEnd,
}

/// The decoding machinery shared by [`Decoder`] and [`StreamDecoder`].
#[derive(Debug)]
struct Core {
    buf: BytesMut,
    limits: Limits,
    finder: Finder<'static>,
    /// Stream offset of `buf[0]`.
    base: u64,
    state: State,
    /// Start of the line being read.
    line_start: usize,
    /// Where the search for the line's LF resumes.
    scan: usize,
    start: StartLine,
    headers: IndexBuilder,
    matcher: Matcher,
    end_line: Option<EndLine>,
    scanned: u64,
    error: Option<ParseError>,
}

impl Core {
    fn new(limits: Limits) -> Self {
        Self {
            buf: BytesMut::new(),
            limits,
            finder: Finder::new(END_LINE_LEAD).into_owned(),
            base: 0,
            state: State::Head,
            line_start: 0,
            scan: 0,
            start: StartLine::default(),
            headers: IndexBuilder::default(),
            matcher: Matcher::new(),
            end_line: None,
            scanned: 0,
            error: None,
        }
    }

    fn err(&mut self, kind: ErrorKind, at: usize) -> ParseError {
        let e = ParseError::new(kind, self.base + at as u64);
        self.error = Some(e);
        e
    }

    /// Makes room for `additional` bytes. The buffer grows in steps of at least
    /// [`RESERVE`], and is reused in place once every frame cut from it has been dropped, so
    /// that steady traffic does not allocate.
    fn reserve(&mut self, additional: usize) {
        if self.buf.capacity() - self.buf.len() < additional {
            self.buf.reserve(additional.max(RESERVE));
        }
    }

    /// Removes `n` bytes from the front of the buffer.
    #[inline(always)]
    fn split(&mut self, n: usize) -> Bytes {
        self.base += n as u64;
        self.buf.split_to(n).freeze()
    }

    fn discard(&mut self, n: usize) {
        self.base += n as u64;
        self.buf.advance(n);
    }

    /// Reads a whole head that is complete in the buffer and well formed, in one pass over its
    /// bytes, without the bookkeeping that lets [`parse_head`](Self::parse_head) resume across
    /// pushes. `None`, with nothing changed, for anything else: a partial head, a limit reached
    /// or a syntax error, which `parse_head` then handles with its exact errors.
    #[inline(always)]
    fn fast_head(&mut self) -> Option<HeadEnd> {
        // Only a head not begun by `parse_head`, whose headers must then be kept.
        if self.line_start != 0 || self.scan != 0 {
            return None;
        }
        let end = self.fast_head_in_place();
        if end.is_none() {
            self.headers.clear();
        }
        end
    }

    /// The work of [`fast_head`](Self::fast_head). Header positions go straight into
    /// `self.headers`: building them elsewhere and copying them over right after their narrow
    /// writes would stall the copy's wide reads (the writes are still on their way to memory).
    #[inline(always)]
    fn fast_head_in_place(&mut self) -> Option<HeadEnd> {
        let b = &self.buf[..self.buf.len().min(self.limits.max_head.min(MAX_HEAD))];
        if b.get(..5)? != b"MSRP " || !b.get(5)?.is_ascii_alphanumeric() {
            return None;
        }
        // The transaction id.
        let mut i = 6;
        while i < b.len() && is_ident_char(b[i]) {
            i += 1;
        }
        let tid_len = i - 5;
        if !(4..=MAX_TID).contains(&tid_len) || b.get(i) != Some(&b' ') {
            return None;
        }
        i += 1;
        let rest = i;
        // The method, or the status code and comment.
        let status = if b.get(i)?.is_ascii_digit() {
            let d = b.get(i..i + 3)?;
            if !d.iter().all(u8::is_ascii_digit) {
                return None;
            }
            i += 3;
            if b.get(i) == Some(&b' ') {
                i += 1;
                i += find_non_text(&b[i..])?;
            }
            Some(StatusCode::from_digits([d[0], d[1], d[2]]))
        } else {
            while i < b.len() && b[i].is_ascii_uppercase() {
                i += 1;
            }
            if i == rest {
                return None;
            }
            None
        };
        if b.get(i..i + 2)? != b"\r\n" || i > self.limits.max_start_line {
            return None;
        }
        let start = StartLine {
            tid_len: tid_len as u8,
            end: i as u16,
            status,
        };
        i += 2;
        let headers = &mut self.headers;
        headers.clear();
        let max_headers = self.limits.max_headers.min(u16::MAX as usize - 1);
        let max_line = self.limits.max_header_line;
        let mut count = 0;
        let end = loop {
            let ls = i;
            let first = *b.get(i)?;
            if !first.is_ascii_alphabetic() {
                if first == b'\r' {
                    // RFC 4975 §9: a response has no body.
                    if b.get(i + 1) != Some(&b'\n') || status.is_some() {
                        return None;
                    }
                    break HeadEnd::Body { body_start: i + 2 };
                }
                if first != b'-' {
                    return None;
                }
                // The end-line of a frame without a body: hyphens, the id, a flag, CRLF.
                let line = b.get(i..i + 7 + tid_len + 3)?;
                if line[..7] != END_LINE_LEAD[2..]
                    || !eq_short(&line[7..7 + tid_len], &b[5..5 + tid_len])
                    || line[7 + tid_len + 1..] != *b"\r\n"
                {
                    return None;
                }
                let flag = Flag::from_byte(line[7 + tid_len])?;
                break HeadEnd::NoBody {
                    end_line_start: i,
                    frame_len: i + line.len(),
                    flag,
                };
            }
            // `hname ":" SP hval CRLF`. A name that spells a known header needs no check of its
            // characters; any other is checked against `token`.
            let (known, colon) = match HeaderName::canonical_prefix(&b[ls..]) {
                Some((name, len)) => (name, ls + len),
                None => {
                    let colon = ls + find_byte(&b[ls..], b':')?;
                    let name = &b[ls..colon];
                    let known = HeaderName::from_bytes(name);
                    if known == HeaderName::Extension && !name[1..].iter().all(|&c| is_token(c)) {
                        return None;
                    }
                    if b.get(colon + 1) != Some(&b' ') {
                        return None;
                    }
                    (known, colon)
                }
            };
            let value = colon + 2;
            // The value ends at the first byte that is not text, which must start the CRLF.
            let cr = value + find_non_text(&b[value..])?;
            if !matches!(b.get(cr..), Some([b'\r', b'\n', ..]))
                || cr - ls > max_line
                || count >= max_headers
            {
                return None;
            }
            let slot = Slot {
                colon: colon as u16,
                end: cr as u16,
                known: known.slot_id(),
            };
            headers.put(count, slot);
            count += 1;
            i = cr + 2;
        };
        headers.set_len(count);
        self.start = start;
        Some(end)
    }

    /// Reads complete lines of the head; `None` when more bytes are needed.
    #[inline(never)]
    fn parse_head(&mut self) -> Result<Option<HeadEnd>, ParseError> {
        loop {
            let first = self.line_start == 0;
            if first && !self.buf.is_empty() {
                // Refuse a stream that is not MSRP as soon as its first bytes say so.
                let n = self.buf.len().min(5);
                if self.buf[..n] != b"MSRP "[..n] {
                    return Err(self.err(ErrorKind::StartLine, 0));
                }
            }
            let line_limit = if first {
                self.limits.max_start_line
            } else {
                self.limits.max_header_line
            };
            // Errors are decided by the bytes alone, never by where the stream was split: of the
            // errors a line can have (too long, head too large, bare LF), the one at the lowest
            // offset is reported, and only once no lower one can still appear.
            let too_long = if first {
                ErrorKind::StartLineTooLong
            } else {
                ErrorKind::HeaderLineTooLong
            };
            let long_at = self.line_start + line_limit;
            let max_head = self.limits.max_head.min(MAX_HEAD);
            let Some(i) = memchr::memchr(b'\n', &self.buf[self.scan..]) else {
                let n = self.buf.len();
                self.scan = n;
                // Without its LF, the line is certainly too long once more than the limit and a
                // CR have arrived, and the head certainly too large once its limit is reached.
                let long = n - self.line_start >= line_limit + 2;
                if max_head <= long_at {
                    if n >= max_head {
                        return Err(self.err(ErrorKind::HeadTooLarge, max_head));
                    }
                } else if long {
                    return Err(self.err(too_long, long_at));
                }
                return Ok(None);
            };
            let lf = self.scan + i;
            let line_end = lf + 1;
            let has_cr = lf > self.line_start && self.buf[lf - 1] == b'\r';
            let content_end = if has_cr { lf - 1 } else { lf };
            let errors = [
                (line_end > max_head).then_some((max_head, ErrorKind::HeadTooLarge)),
                (content_end - self.line_start > line_limit).then_some((long_at, too_long)),
                (!has_cr).then_some((lf, ErrorKind::BareLineFeed)),
            ];
            // The lowest offset wins; on a tie, the order above.
            if let Some((at, kind)) = errors.into_iter().flatten().min_by_key(|(at, _)| *at) {
                return Err(self.err(kind, at));
            }
            let cr = content_end;
            let ls = self.line_start;
            self.line_start = line_end;
            self.scan = line_end;
            if first {
                self.parse_start_line(cr)?;
            } else if cr == ls {
                // RFC 4975 §9: "msrp-response = resp-start headers end-line": no body.
                if self.start.status.is_some() {
                    return Err(self.err(ErrorKind::ResponseWithBody, ls));
                }
                return Ok(Some(HeadEnd::Body {
                    body_start: line_end,
                }));
            } else if self.buf[ls] == b'-' {
                let flag = self.parse_end_line(ls, cr)?;
                return Ok(Some(HeadEnd::NoBody {
                    end_line_start: ls,
                    frame_len: line_end,
                    flag,
                }));
            } else {
                self.parse_header(ls, cr)?;
            }
        }
    }

    /// `req-start = pMSRP SP transact-id SP method CRLF`,
    /// `resp-start = pMSRP SP transact-id SP status-code [SP comment] CRLF`.
    fn parse_start_line(&mut self, cr: usize) -> Result<(), ParseError> {
        let line = &self.buf[..cr];
        if line.len() < 5 {
            return Err(self.err(ErrorKind::StartLine, line.len()));
        }
        let rest = &line[5..];
        let sp = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        if !is_ident(&rest[..sp]) {
            return Err(self.err(ErrorKind::TransactionId, 5));
        }
        let at = 5 + sp + 1;
        let Some(what) = line.get(at..) else {
            return Err(self.err(ErrorKind::Method, cr));
        };
        let status = if what.first().is_some_and(u8::is_ascii_digit) {
            let code = match what {
                [a, b, c, rest @ ..]
                    if a.is_ascii_digit()
                        && b.is_ascii_digit()
                        && c.is_ascii_digit()
                        && rest.first().is_none_or(|&s| s == b' ') =>
                {
                    StatusCode::from_digits([*a, *b, *c])
                }
                _ => return Err(self.err(ErrorKind::StatusCode, at)),
            };
            if let Some(comment) = what.get(4..) {
                if let Some(p) = find_non_text(comment) {
                    return Err(self.err(ErrorKind::InvalidByte, at + 4 + p));
                }
            }
            Some(code)
        } else {
            // RFC 4975 §9: "other-method = 1*UPALPHA".
            match what.iter().position(|b| !b.is_ascii_uppercase()) {
                None if !what.is_empty() => None,
                p => return Err(self.err(ErrorKind::Method, at + p.unwrap_or(0))),
            }
        };
        self.start = StartLine {
            tid_len: sp as u8,
            end: cr as u16,
            status,
        };
        Ok(())
    }

    /// `ext-header = hname ":" SP hval` (with verified erratum 1954), which every header obeys.
    fn parse_header(&mut self, ls: usize, cr: usize) -> Result<(), ParseError> {
        let line = &self.buf[ls..cr];
        let Some(colon) = memchr::memchr(b':', line) else {
            let kind = if is_hname(line) {
                ErrorKind::HeaderSeparator
            } else {
                ErrorKind::HeaderName
            };
            return Err(self.err(
                kind,
                if kind == ErrorKind::HeaderName {
                    ls
                } else {
                    cr
                },
            ));
        };
        let name = &line[..colon];
        if !is_hname(name) {
            return Err(self.err(ErrorKind::HeaderName, ls));
        }
        if line.get(colon + 1) != Some(&b' ') {
            return Err(self.err(ErrorKind::HeaderSeparator, ls + colon + 1));
        }
        if let Some(p) = find_non_text(&line[colon + 2..]) {
            return Err(self.err(ErrorKind::InvalidByte, ls + colon + 2 + p));
        }
        if self.headers.len() >= self.limits.max_headers.min(u16::MAX as usize - 1) {
            return Err(self.err(ErrorKind::TooManyHeaders, ls));
        }
        self.headers.push(Slot {
            colon: (ls + colon) as u16,
            end: cr as u16,
            known: HeaderName::from_bytes(name).slot_id(),
        });
        Ok(())
    }

    /// `end-line = "-------" transact-id continuation-flag CRLF` right after the headers.
    fn parse_end_line(&mut self, ls: usize, cr: usize) -> Result<Flag, ParseError> {
        let tid_len = self.start.tid_len as usize;
        let line = &self.buf[ls..cr];
        if !line.starts_with(&END_LINE_LEAD[2..]) {
            return Err(self.err(ErrorKind::HeaderName, ls));
        }
        let id = &line[HYPHENS..];
        if !id.starts_with(&self.buf[5..5 + tid_len]) {
            return Err(self.err(ErrorKind::EndLineMismatch, ls + HYPHENS));
        }
        match &id[tid_len..] {
            [f] => match Flag::from_byte(*f) {
                Some(flag) => Ok(flag),
                None => Err(self.err(ErrorKind::EndLineSyntax, ls + HYPHENS + tid_len)),
            },
            // The id in the end-line is longer than the start line's: another transaction.
            [next, ..] if Flag::from_byte(*next).is_none() => {
                Err(self.err(ErrorKind::EndLineMismatch, ls + HYPHENS))
            }
            _ => Err(self.err(ErrorKind::EndLineSyntax, ls + HYPHENS + tid_len)),
        }
    }

    /// Hands the completed head's parts over and resets the head reader. `head_len` lies within
    /// the head, which is at most [`MAX_HEAD`] bytes long, so it fits the 16 bits it is kept in.
    #[inline(always)]
    fn take_head(
        &mut self,
        raw: Bytes,
        head_len: usize,
        offset: u64,
        has_body: bool,
        flag: Flag,
    ) -> Head {
        self.line_start = 0;
        self.scan = 0;
        Head {
            raw,
            offset,
            headers: self.headers.take(),
            head_len: head_len as u16,
            start: core::mem::take(&mut self.start),
            has_body,
            flag,
        }
    }

    /// Cuts the first `frame_len` bytes off the buffer as the frame whose head was just read:
    /// the head is the first `head_len` bytes, then the body (if any), then the end-line.
    #[inline(always)]
    fn cut_frame(
        &mut self,
        frame_len: usize,
        head_len: usize,
        has_body: bool,
        flag: Flag,
    ) -> Frame {
        let offset = self.base;
        let raw = self.split(frame_len);
        Frame {
            head: self.take_head(raw, head_len, offset, has_body, flag),
        }
    }

    /// Decodes a whole frame at the front of a buffer that holds all of it, in one go, when
    /// nothing of it has been read before: the head by [`fast_head`](Self::fast_head) and the
    /// end-line of a short body by [`fast_end_line`](Self::fast_end_line), without the
    /// bookkeeping that lets the general path, [`step`](Self::step), resume across pushes.
    /// For anything else, `None`: either with nothing changed, or with the head read and
    /// handed to `step`.
    #[inline(always)]
    fn fast_frame(&mut self) -> Option<Frame> {
        if self.state != State::Head || self.error.is_some() {
            return None;
        }
        let (frame_len, head_len, has_body, flag) = match self.fast_head()? {
            HeadEnd::NoBody {
                end_line_start,
                frame_len,
                flag,
            } => (frame_len, end_line_start, false, flag),
            HeadEnd::Body { body_start } => {
                let end = self.fast_end_line(body_start)?;
                (end.end, body_start, true, end.flag)
            }
        };
        // One call site, so that the split is inlined and its result read from registers.
        Some(self.cut_frame(frame_len, head_len, has_body, flag))
    }

    /// The end-line of the body starting at `body_start`, if it lies in the body's first bytes
    /// and the body is within the limit. If not, the search is handed to
    /// [`step`](Self::step), which goes on from where this one stopped, so that no byte is
    /// examined twice.
    #[inline(always)]
    fn fast_end_line(&mut self, body_start: usize) -> Option<EndLine> {
        let tid_len = self.start.tid_len as usize;
        let buf = &self.buf[..];
        // The general search takes the blank line's CRLF as a candidate's first (see
        // `Matcher::start`); it fails at once unless the body starts with a hyphen, which is
        // left to the general search.
        let window = match buf.get(body_start) {
            Some(b'-') | None => None,
            Some(_) => Some(scan_window(buf, body_start)),
        };
        if let Some(Window::Lead(cr)) = window {
            // The whole end-line: the lead, the id, a flag and CRLF.
            let end = cr + END_LINE_FRAMING + tid_len;
            if let Some(line) = buf.get(cr + END_LINE_LEAD.len()..end) {
                let flag = Flag::from_byte(line[tid_len]);
                if eq_short(&line[..tid_len], &buf[5..5 + tid_len])
                    && line[tid_len + 1..] == *b"\r\n"
                    && cr - body_start <= self.limits.max_body
                {
                    if let Some(flag) = flag {
                        self.scanned += (end - body_start) as u64;
                        return Some(EndLine {
                            start: cr,
                            end,
                            flag,
                        });
                    }
                }
            }
        }
        self.start_body(body_start);
        if let Some(window) = window {
            self.matcher.resume(window);
            self.scanned += (self.matcher.pos - body_start) as u64;
        }
        None
    }

    /// Prepares the search for the end-line of the body of the head just read.
    fn start_body(&mut self, body_start: usize) {
        let tid_len = self.start.tid_len as usize;
        let mut tid = [0u8; MAX_TID];
        tid[..tid_len].copy_from_slice(&self.buf[5..5 + tid_len]);
        self.matcher.start(&tid[..tid_len], body_start);
        self.state = State::Body;
    }

    /// Advances the decoder, after [`fast_frame`](Self::fast_frame) declined. With
    /// `streaming`, bodies that are not complete in the buffer are handed out in pieces;
    /// without, they are buffered up to `max_body`. Kept out of line, so that the fast path
    /// stays small.
    #[inline(never)]
    fn step(&mut self, streaming: bool) -> Result<Option<Item>, ParseError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        loop {
            match self.state {
                State::Head => match self.parse_head()? {
                    None => return Ok(None),
                    Some(HeadEnd::NoBody {
                        end_line_start,
                        frame_len,
                        flag,
                    }) => {
                        let frame = self.cut_frame(frame_len, end_line_start, false, flag);
                        return Ok(Some(Item::Frame(frame)));
                    }
                    Some(HeadEnd::Body { body_start }) => self.start_body(body_start),
                },
                State::Body => {
                    let found = self.search()?;
                    let body_start = self.matcher.body_start;
                    let body_len = match found {
                        Some(end) => end.start - body_start,
                        None => self.matcher.safe_end() - body_start,
                    };
                    let too_large = body_len > self.limits.max_body;
                    match found {
                        Some(end) if !too_large => {
                            self.state = State::Head;
                            self.end_line = None;
                            let frame = self.cut_frame(end.end, body_start, true, end.flag);
                            return Ok(Some(Item::Frame(frame)));
                        }
                        _ if streaming => {
                            let offset = self.base;
                            let raw = self.split(body_start);
                            self.matcher.shift(body_start);
                            if let Some(end) = &mut self.end_line {
                                end.start -= body_start;
                                end.end -= body_start;
                            }
                            self.state = State::Streaming;
                            let head = self.take_head(raw, body_start, offset, true, Flag::End);
                            return Ok(Some(Item::Head(head)));
                        }
                        None if !too_large => return Ok(None),
                        _ => {
                            let at = body_start + self.limits.max_body;
                            return Err(self.err(ErrorKind::BodyTooLarge, at));
                        }
                    }
                }
                State::Streaming => {
                    let found = self.search()?;
                    let safe = found.map_or(self.matcher.safe_end(), |end| end.start);
                    if found.is_some() {
                        self.state = State::StreamEnd;
                    }
                    if safe > 0 {
                        let piece = self.split(safe);
                        self.matcher.shift(safe);
                        if let Some(end) = &mut self.end_line {
                            end.start -= safe;
                            end.end -= safe;
                        }
                        return Ok(Some(Item::Body(piece)));
                    }
                    if found.is_none() {
                        return Ok(None);
                    }
                }
                State::StreamEnd => {
                    let end = self.end_line.take().unwrap_or(EndLine {
                        start: 0,
                        end: 0,
                        flag: Flag::End,
                    });
                    self.discard(end.end);
                    self.state = State::Head;
                    return Ok(Some(Item::End(end.flag)));
                }
            }
        }
    }

    /// Runs the end-line search over the new bytes, remembering a found end-line.
    #[inline(always)]
    fn search(&mut self) -> Result<Option<EndLine>, ParseError> {
        if self.end_line.is_none() {
            let before = self.matcher.pos;
            let result = self.matcher.run(&self.buf, &self.finder, self.base);
            self.scanned += (self.matcher.pos - before) as u64;
            match result {
                Ok(found) => self.end_line = found,
                Err(e) => {
                    self.error = Some(e);
                    return Err(e);
                }
            }
        }
        Ok(self.end_line)
    }
}

/// Methods shared by both decoders.
macro_rules! feed_methods {
    () => {
        /// Appends received bytes. They are copied once into the decoder's buffer, from which
        /// frames and body pieces are handed out without further copies.
        pub fn push(&mut self, data: &[u8]) {
            self.core.reserve(data.len());
            self.core.buf.extend_from_slice(data);
        }

        /// Lets `read` write up to `max` received bytes straight into the decoder's buffer and
        /// keeps the number it returns; for reading from a socket without an extra copy.
        ///
        /// `read` must return how many bytes it wrote (at most the slice's length); the rest of
        /// the slice is discarded. Its error is passed through.
        ///
        /// The `max` bytes are zeroed before `read` sees them, since safe Rust hands out no
        /// uninitialised memory: pass about what the read will return (what a TLS library says
        /// it holds, say), not a large fixed size, or read into a buffer of your own and
        /// [`push`](Self::push).
        pub fn fill<E>(
            &mut self,
            max: usize,
            read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
        ) -> Result<usize, E> {
            self.core.reserve(max);
            let len = self.core.buf.len();
            self.core.buf.resize(len + max, 0);
            let result = read(&mut self.core.buf[len..]);
            let n = match &result {
                Ok(n) => (*n).min(max),
                Err(_) => 0,
            };
            self.core.buf.truncate(len + n);
            result.map(|_| n)
        }

        /// Gives back the buffer's memory when it holds nothing, for a connection that goes
        /// idle; the next push allocates again. Memory that frames or body pieces handed out
        /// still use stays theirs.
        ///
        /// A busy decoder keeps its buffer: bytes are read into spare room left by earlier
        /// reads, without an allocation each time.
        pub fn release_memory(&mut self) {
            if self.core.buf.is_empty() {
                self.core.buf = BytesMut::new();
            }
        }

        /// Bytes of memory the buffer holds, used or not.
        pub fn capacity(&self) -> usize {
            self.core.buf.capacity()
        }

        /// Bytes received but not yet handed out.
        pub fn buffered(&self) -> usize {
            self.core.buf.len()
        }

        /// Whether the decoder holds part of a frame, i.e. the stream would end mid-frame if it
        /// ended now.
        pub fn is_mid_frame(&self) -> bool {
            !self.core.buf.is_empty() || self.core.state != State::Head
        }

        /// Whether the decoder holds the beginning of a head whose start line and headers have
        /// not all arrived yet.
        pub fn is_mid_head(&self) -> bool {
            !self.core.buf.is_empty() && self.core.state == State::Head
        }

        /// Stream offset of the next byte to be handed out: the number of bytes consumed.
        pub fn position(&self) -> u64 {
            self.core.base
        }

        /// The framing error the stream failed with, if it did.
        pub fn error(&self) -> Option<ParseError> {
            self.core.error
        }

        /// How many body bytes the end-line search has examined so far. Each byte of each body,
        /// and of its end-line, is examined once, however the stream was split into pushes.
        pub fn scanned(&self) -> u64 {
            self.core.scanned
        }

        /// The limits in force.
        pub fn limits(&self) -> &Limits {
            &self.core.limits
        }
    };
}

/// Decodes a byte stream into whole [`Frame`]s.
///
/// Push bytes in any split; [`decode`](Self::decode) returns each frame once it is complete,
/// exactly as a one-shot parse of the stream would. Bodies are buffered up to
/// [`Limits::max_body`]; use a [`StreamDecoder`] to receive bodies of any size.
///
/// ```
/// let mut decoder = msrp_wire::Decoder::new();
/// decoder.push(b"MSRP a786hjs2 200 OK\r\nTo-Path: msrp://a.example.com:7654/jshA7weztas;tcp\r\n");
/// assert!(decoder.decode()?.is_none());
/// decoder.push(b"From-Path: msrp://b.example.com:12763/kjhd37s2s20w2a;tcp\r\n-------a786hjs2$\r\n");
/// let frame = decoder.decode()?.expect("complete");
/// assert_eq!(frame.status_code(), Some(msrp_wire::StatusCode::OK));
/// assert_eq!(frame.comment(), Some(&b"OK"[..]));
/// # Ok::<(), msrp_wire::ParseError>(())
/// ```
#[derive(Debug)]
pub struct Decoder {
    core: Core,
}

impl Decoder {
    /// A decoder with the default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            core: Core::new(limits),
        }
    }

    feed_methods!();

    /// The next complete frame, `None` when more bytes are needed, or the framing error that
    /// ended the stream (returned again on every later call).
    pub fn decode(&mut self) -> Result<Option<Frame>, ParseError> {
        if let Some(frame) = self.core.fast_frame() {
            return Ok(Some(frame));
        }
        match self.core.step(false)? {
            Some(Item::Frame(frame)) => Ok(Some(frame)),
            // Without streaming, the core only ever yields whole frames.
            Some(_) | None => Ok(None),
        }
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Decodes a byte stream into heads and body pieces, in constant memory whatever the chunk
/// size (RFC 4975 §7.1: "All MSRP nodes MUST be able to receive chunks of any size").
///
/// A frame whose body is complete in the buffer when its head is (and no larger than
/// [`Limits::max_body`]) comes whole as [`Item::Frame`]; otherwise the decoder yields
/// [`Item::Head`], then [`Item::Body`] pieces as bytes arrive (slices of the received buffer),
/// then [`Item::End`]. Only the few bytes that could begin the end-line are held back.
///
/// ```
/// use msrp_wire::{Item, StreamDecoder};
///
/// let mut decoder = StreamDecoder::new();
/// decoder.push(b"MSRP dkei38sd SEND\r\nTo-Path: msrp://b.example.com:1/s;tcp\r\n\
///     From-Path: msrp://a.example.com:2/t;tcp\r\nContent-Type: text/plain\r\n\r\nabcd");
/// let mut body = Vec::new();
/// while let Some(item) = decoder.decode()? {
///     match item {
///         Item::Head(head) => assert_eq!(head.transaction_id(), "dkei38sd"),
///         Item::Body(piece) => body.extend_from_slice(&piece),
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// decoder.push(b"EFGH\r\n-------dkei38sd$\r\n");
/// while let Some(item) = decoder.decode()? {
///     match item {
///         Item::Body(piece) => body.extend_from_slice(&piece),
///         Item::End(flag) => assert_eq!(flag, msrp_wire::Flag::End),
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// assert_eq!(body, b"abcdEFGH");
/// # Ok::<(), msrp_wire::ParseError>(())
/// ```
#[derive(Debug)]
pub struct StreamDecoder {
    core: Core,
}

impl StreamDecoder {
    /// A streaming decoder with the default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A streaming decoder with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            core: Core::new(limits),
        }
    }

    feed_methods!();

    /// The next item, `None` when more bytes are needed, or the framing error that ended the
    /// stream (returned again on every later call).
    pub fn decode(&mut self) -> Result<Option<Item>, ParseError> {
        if let Some(frame) = self.core.fast_frame() {
            return Ok(Some(Item::Frame(frame)));
        }
        self.core.step(true)
    }

    /// Whether a streamed body is in progress (an [`Item::Head`] was handed out and its
    /// [`Item::End`] was not).
    pub fn is_streaming(&self) -> bool {
        matches!(self.core.state, State::Streaming | State::StreamEnd)
    }
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}
