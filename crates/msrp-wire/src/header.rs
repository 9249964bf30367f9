//! Header names and the index of a head's headers.

use core::fmt;

/// The header names this crate knows, matched case-insensitively; everything else is
/// [`HeaderName::Extension`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderName {
    /// `To-Path` (RFC 4975).
    ToPath,
    /// `From-Path` (RFC 4975).
    FromPath,
    /// `Message-ID` (RFC 4975).
    MessageId,
    /// `Byte-Range` (RFC 4975).
    ByteRange,
    /// `Success-Report` (RFC 4975).
    SuccessReport,
    /// `Failure-Report` (RFC 4975).
    FailureReport,
    /// `Status` (RFC 4975).
    Status,
    /// `Content-Type` (RFC 4975).
    ContentType,
    /// `Content-ID` (RFC 2045).
    ContentId,
    /// `Content-Description` (RFC 2045).
    ContentDescription,
    /// `Content-Disposition` (RFC 2183).
    ContentDisposition,
    /// `Use-Path` (RFC 4976).
    UsePath,
    /// `Expires` (RFC 4976).
    Expires,
    /// `Min-Expires` (RFC 4976).
    MinExpires,
    /// `Max-Expires` (RFC 4976).
    MaxExpires,
    /// `WWW-Authenticate` (RFC 4976).
    WwwAuthenticate,
    /// `Authorization` (RFC 4976).
    Authorization,
    /// `Authentication-Info` (RFC 4976).
    AuthenticationInfo,
    /// `Use-Nickname` (RFC 7701).
    UseNickname,
    /// Any other header; its name is in the frame as received.
    Extension,
}

/// Number of known names, i.e. of variants before `Extension`.
pub(crate) const KNOWN: usize = 19;

const ALL: [HeaderName; KNOWN] = [
    HeaderName::ToPath,
    HeaderName::FromPath,
    HeaderName::MessageId,
    HeaderName::ByteRange,
    HeaderName::SuccessReport,
    HeaderName::FailureReport,
    HeaderName::Status,
    HeaderName::ContentType,
    HeaderName::ContentId,
    HeaderName::ContentDescription,
    HeaderName::ContentDisposition,
    HeaderName::UsePath,
    HeaderName::Expires,
    HeaderName::MinExpires,
    HeaderName::MaxExpires,
    HeaderName::WwwAuthenticate,
    HeaderName::Authorization,
    HeaderName::AuthenticationInfo,
    HeaderName::UseNickname,
];

/// The canonical spelling of each known name followed by `": "`, in the order of `ALL`.
const CANONICAL: [&str; KNOWN] = [
    "To-Path: ",
    "From-Path: ",
    "Message-ID: ",
    "Byte-Range: ",
    "Success-Report: ",
    "Failure-Report: ",
    "Status: ",
    "Content-Type: ",
    "Content-ID: ",
    "Content-Description: ",
    "Content-Disposition: ",
    "Use-Path: ",
    "Expires: ",
    "Min-Expires: ",
    "Max-Expires: ",
    "WWW-Authenticate: ",
    "Authorization: ",
    "Authentication-Info: ",
    "Use-Nickname: ",
];

impl HeaderName {
    /// Every known name, in declaration order ([`HeaderName::Extension`] is not among them).
    pub const ALL: &'static [HeaderName] = &ALL;

    /// The canonical spelling of the name (`"extension"` for [`HeaderName::Extension`]).
    pub fn as_str(self) -> &'static str {
        match CANONICAL.get(self as usize) {
            Some(line) => &line[..line.len() - 2],
            None => "extension",
        }
    }

    /// The canonical spelling followed by `": "`, for a known name.
    pub(crate) fn canonical_line_start(self) -> Option<&'static [u8]> {
        CANONICAL.get(self as usize).map(|s| s.as_bytes())
    }

    /// Looks a name up, ignoring ASCII case (ABNF strings are case-insensitive, RFC 5234 §2.3).
    pub fn from_bytes(name: &[u8]) -> Self {
        // Dispatch on length and first letter so that at most one full comparison runs.
        let candidate = match (name.len(), name.first().map(u8::to_ascii_lowercase)) {
            (7, Some(b't')) => Self::ToPath,
            (9, Some(b'f')) => Self::FromPath,
            (10, Some(b'm')) => Self::MessageId,
            (10, Some(b'b')) => Self::ByteRange,
            (14, Some(b's')) => Self::SuccessReport,
            (14, Some(b'f')) => Self::FailureReport,
            (6, Some(b's')) => Self::Status,
            (12, Some(b'c')) => Self::ContentType,
            (10, Some(b'c')) => Self::ContentId,
            (19, Some(b'c')) => match name.get(9).map(u8::to_ascii_lowercase) {
                Some(b'e') => Self::ContentDescription,
                _ => Self::ContentDisposition,
            },
            (8, Some(b'u')) => Self::UsePath,
            (7, Some(b'e')) => Self::Expires,
            (11, Some(b'm')) => Self::MinExpires,
            (16, Some(b'w')) => Self::WwwAuthenticate,
            (13, Some(b'a')) => Self::Authorization,
            (19, Some(b'a')) => Self::AuthenticationInfo,
            (12, Some(b'u')) => Self::UseNickname,
            _ => return Self::Extension,
        };
        // "Max-Expires" starts with 'm' like "Min-Expires": check both when the first guess fails.
        if eq_folded(name, candidate.lower()) {
            candidate
        } else if candidate == Self::MinExpires && eq_folded(name, Self::MaxExpires.lower()) {
            Self::MaxExpires
        } else {
            Self::Extension
        }
    }

    /// The known header whose canonical spelling, followed by `": "`, starts `line`, with the
    /// length of the name: the quick way to read the headers senders write.
    #[inline(always)]
    pub(crate) fn canonical_prefix(line: &[u8]) -> Option<(Self, usize)> {
        let pick =
            |a: Self, b: Self, at: usize, c: u8| if line.get(at) == Some(&c) { a } else { b };
        let name = match *line.first()? {
            b'T' => Self::ToPath,
            b'F' => pick(Self::FromPath, Self::FailureReport, 1, b'r'),
            b'M' => match line.get(1)? {
                b'e' => Self::MessageId,
                b'i' => Self::MinExpires,
                _ => Self::MaxExpires,
            },
            b'B' => Self::ByteRange,
            b'S' => pick(Self::SuccessReport, Self::Status, 1, b'u'),
            b'C' => match line.get(8)? {
                b'T' => Self::ContentType,
                b'I' => Self::ContentId,
                _ => pick(Self::ContentDescription, Self::ContentDisposition, 9, b'e'),
            },
            b'U' => pick(Self::UsePath, Self::UseNickname, 4, b'P'),
            b'E' => Self::Expires,
            b'W' => Self::WwwAuthenticate,
            b'A' => pick(Self::Authorization, Self::AuthenticationInfo, 4, b'o'),
            _ => return None,
        };
        let prefix = CANONICAL[name as usize].as_bytes();
        (line.len() >= prefix.len() && crate::syntax::eq_short(&line[..prefix.len()], prefix))
            .then_some((name, prefix.len() - 2))
    }

    /// The name in lower case.
    fn lower(self) -> &'static [u8] {
        match self {
            Self::ToPath => b"to-path",
            Self::FromPath => b"from-path",
            Self::MessageId => b"message-id",
            Self::ByteRange => b"byte-range",
            Self::SuccessReport => b"success-report",
            Self::FailureReport => b"failure-report",
            Self::Status => b"status",
            Self::ContentType => b"content-type",
            Self::ContentId => b"content-id",
            Self::ContentDescription => b"content-description",
            Self::ContentDisposition => b"content-disposition",
            Self::UsePath => b"use-path",
            Self::Expires => b"expires",
            Self::MinExpires => b"min-expires",
            Self::MaxExpires => b"max-expires",
            Self::WwwAuthenticate => b"www-authenticate",
            Self::Authorization => b"authorization",
            Self::AuthenticationInfo => b"authentication-info",
            Self::UseNickname => b"use-nickname",
            Self::Extension => b"",
        }
    }

    /// Whether the grammar allows this header at most once per frame.
    pub fn is_singleton(self) -> bool {
        !matches!(self, Self::Extension)
    }

    /// What a header slot keeps of the name: its position in `ALL`, or `KNOWN` for an
    /// extension.
    #[inline(always)]
    pub(crate) fn slot_id(self) -> u8 {
        self as u8
    }

    /// Position of a known name in the index; the variants are declared in the order of `ALL`.
    pub(crate) fn index(self) -> Option<usize> {
        let k = self as usize;
        (k < KNOWN).then_some(k)
    }

    /// The known name at an index position, [`HeaderName::Extension`] past the known ones.
    pub(crate) fn from_index(k: u8) -> Self {
        ALL.get(k as usize).copied().unwrap_or(Self::Extension)
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `name` equals `lower` (a known name in lower case: letters and `-`) ignoring ASCII
/// case, eight bytes at a time. Where `lower` has a letter (bit 0x40 set), setting bit 0x20 in
/// `name` maps `A`-`Z` onto `a`-`z` and nothing else onto a lower-case letter; a `-` must match
/// exactly.
fn eq_folded(name: &[u8], lower: &[u8]) -> bool {
    const LETTER: u64 = 0x4040_4040_4040_4040;
    let n = lower.len();
    if name.len() != n {
        return false;
    }
    let eq = |x: u64, y: u64| x | ((y & LETTER) >> 1) == y;
    let load = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    if n < 8 {
        return name
            .iter()
            .zip(lower)
            .all(|(&a, &b)| a | ((b & 0x40) >> 1) == b);
    }
    let mut i = 0;
    let mut ok = true;
    while i + 8 < n {
        ok &= eq(load(name, i), load(lower, i));
        i += 8;
    }
    ok && eq(load(name, n - 8), load(lower, n - 8))
}

/// One header line of a head, as the decoder records it: where its name and its value end,
/// within the head's bytes (a head is at most 64 KiB). Where the line starts is not kept:
/// header lines follow one another, so each starts right after the CRLF that ends the line
/// before it (the start line, for the first).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Slot {
    /// End of the name (the colon).
    pub(crate) colon: u16,
    /// End of the value (the CR of the CRLF).
    pub(crate) end: u16,
    /// Which known name this is ([`HeaderName::slot_id`]).
    pub(crate) known: u8,
}

/// A header line with all its positions, as [`HeaderIndex::lines`] yields it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line {
    /// Start of the header line (and of the name).
    pub(crate) start: usize,
    /// End of the name (the colon).
    pub(crate) colon: usize,
    /// End of the value (the CR of the CRLF).
    pub(crate) end: usize,
    /// Which known name this is ([`HeaderName::slot_id`]).
    pub(crate) known: u8,
}

impl Line {
    pub(crate) fn value_start(&self) -> usize {
        self.colon + 2
    }
}

/// Headers kept inline before spilling to the heap; typical SEND requests have 5 to 8.
const INLINE: usize = 8;

/// The headers of a decoded head in wire order: small, so that frames move cheaply. Only heads
/// with more than [`INLINE`] headers take memory of their own, for the rest.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeaderIndex {
    inline: [Slot; INLINE],
    len: u16,
    spill: Box<[Slot]>,
}

impl HeaderIndex {
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    fn slot(&self, i: usize) -> Option<&Slot> {
        if i < INLINE {
            self.inline[..self.len().min(INLINE)].get(i)
        } else {
            self.spill.get(i - INLINE)
        }
    }

    /// The header lines, the first starting at `start` (after the start line).
    pub(crate) fn lines(&self, start: usize) -> Lines<'_> {
        Lines {
            index: self,
            next: 0,
            start,
        }
    }

    /// The first line with a known name, and whether the name occurs more than once; the first
    /// header starts at `start`.
    pub(crate) fn find(&self, name: HeaderName, start: usize) -> Option<(Line, bool)> {
        let k = name.index()? as u8;
        let mut lines = self.lines(start);
        let first = lines.find(|l| l.known == k)?;
        let again = (lines.next..self.len()).any(|i| self.slot(i).is_some_and(|s| s.known == k));
        Some((first, again))
    }
}

/// Iterator over the lines of a [`HeaderIndex`], working out where each starts.
#[derive(Clone, Debug)]
pub(crate) struct Lines<'a> {
    index: &'a HeaderIndex,
    next: usize,
    start: usize,
}

impl Iterator for Lines<'_> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        let slot = self.index.slot(self.next)?;
        let line = Line {
            start: self.start,
            colon: slot.colon as usize,
            end: slot.end as usize,
            known: slot.known,
        };
        self.next += 1;
        self.start = line.end + 2;
        Some(line)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.index.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Lines<'_> {}

/// The header index of the head being read, which [`take`](Self::take) turns into a
/// [`HeaderIndex`]. Its spill keeps its memory from head to head.
#[derive(Debug, Default)]
pub(crate) struct IndexBuilder {
    inline: [Slot; INLINE],
    len: u16,
    spill: Vec<Slot>,
}

impl IndexBuilder {
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// Forgets every header, keeping the spill's memory.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
    }

    /// Adds the next header.
    #[inline]
    pub(crate) fn push(&mut self, slot: Slot) {
        let i = self.len();
        self.put(i, slot);
        self.len += 1;
    }

    /// Writes the `i`th header, the one after the `i` written since the index was last cleared,
    /// without counting it: [`set_len`](Self::set_len) counts them all once they are written,
    /// so that a loop that writes many keeps its count in a register.
    #[inline(always)]
    pub(crate) fn put(&mut self, i: usize, slot: Slot) {
        if i < INLINE {
            self.inline[i] = slot;
        } else {
            self.spill.push(slot);
        }
    }

    /// Counts the headers [`put`](Self::put) wrote.
    #[inline(always)]
    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = len as u16;
    }

    /// Hands the headers over and leaves none. The inline slots are copied as they are, not
    /// zeroed: `len` says which are in use.
    #[inline(always)]
    pub(crate) fn take(&mut self) -> HeaderIndex {
        let len = core::mem::replace(&mut self.len, 0);
        let spill = if self.spill.is_empty() {
            Box::default()
        } else {
            let spill = self.spill[..].into();
            self.spill.clear();
            spill
        };
        HeaderIndex {
            inline: self.inline,
            len,
            spill,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_is_found_in_any_case() {
        for (k, name) in ALL.into_iter().enumerate() {
            assert_eq!(name.index(), Some(k));
            assert_eq!(HeaderName::from_index(k as u8), name);
            let s = name.as_str();
            assert_eq!(HeaderName::from_bytes(s.as_bytes()), name);
            assert_eq!(
                HeaderName::from_bytes(s.to_ascii_lowercase().as_bytes()),
                name
            );
            assert_eq!(
                HeaderName::from_bytes(s.to_ascii_uppercase().as_bytes()),
                name
            );
        }
        assert_eq!(HeaderName::from_bytes(b"Use-Paths"), HeaderName::Extension);
        assert_eq!(HeaderName::from_bytes(b"To-Pathx"), HeaderName::Extension);
        assert_eq!(HeaderName::from_bytes(b"X-Expires"), HeaderName::Extension);
        assert_eq!(HeaderName::from_bytes(b"Max-Expire"), HeaderName::Extension);
        assert_eq!(HeaderName::from_bytes(b""), HeaderName::Extension);
    }

    #[test]
    fn canonical_prefixes_are_recognised_exactly() {
        for name in ALL {
            let line = format!("{}: value", name.as_str());
            assert_eq!(
                HeaderName::canonical_prefix(line.as_bytes()),
                Some((name, name.as_str().len())),
                "{line}"
            );
            let lower = line.to_ascii_lowercase();
            assert_eq!(
                HeaderName::canonical_prefix(lower.as_bytes()),
                None,
                "{lower}"
            );
            let no_space = format!("{}:value", name.as_str());
            assert_eq!(HeaderName::canonical_prefix(no_space.as_bytes()), None);
            let longer = format!("{}x: value", name.as_str());
            assert_eq!(HeaderName::canonical_prefix(longer.as_bytes()), None);
        }
        assert_eq!(HeaderName::canonical_prefix(b"To-Path:"), None);
        assert_eq!(HeaderName::canonical_prefix(b""), None);
        assert_eq!(HeaderName::canonical_prefix(b"X-Foo: bar"), None);
    }

    #[test]
    fn index_spills_and_tracks_duplicates() {
        let mut builder = IndexBuilder::default();
        // Lines of 10 bytes: a 3-byte name, ": ", a 3-byte value and CRLF.
        for i in 0..(INLINE as u16 + 5) {
            builder.push(Slot {
                colon: 100 + 10 * i + 3,
                end: 100 + 10 * i + 8,
                known: if i % 2 == 0 { 2 } else { KNOWN as u8 },
            });
        }
        let index = builder.take();
        assert_eq!(builder.len(), 0);
        assert_eq!(index.len(), INLINE + 5);
        let lines: Vec<_> = index.lines(100).collect();
        assert_eq!(lines.len(), INLINE + 5);
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(
                (line.start, line.colon, line.value_start(), line.end),
                (100 + 10 * i, 103 + 10 * i, 105 + 10 * i, 108 + 10 * i)
            );
        }
        let (line, dup) = index.find(HeaderName::MessageId, 100).expect("present");
        assert_eq!(line.start, 100);
        assert!(dup);
        assert!(index.find(HeaderName::ToPath, 100).is_none());
    }
}
