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

/// One header line of a head: positions within the head's bytes (a head is at most 64 KiB).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Slot {
    /// Start of the header line (and of the name).
    pub(crate) start: u16,
    /// End of the name (the colon).
    pub(crate) colon: u16,
    /// End of the value (the CR of the CRLF).
    pub(crate) end: u16,
    /// Which known name this is (`KNOWN` or more for an extension).
    pub(crate) known: u8,
}

impl Slot {
    pub(crate) fn value_start(&self) -> usize {
        self.colon as usize + 2
    }
}

/// Headers kept inline before spilling to the heap; typical SEND requests have 5 to 8.
const INLINE: usize = 8;

/// The inline slots, aligned so that they are copied in the same 16-byte pieces wherever they
/// are: a frame built from the decoder's index copies them twice, and a copy that read pieces
/// straddling the first copy's writes would wait for those writes to reach the cache.
#[derive(Clone, Copy, Debug, Default)]
#[repr(align(16))]
struct Inline([Slot; INLINE]);

/// The headers of a head in wire order. Building it allocates only for heads with more than
/// [`INLINE`] headers; it is small, so that frames move cheaply.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeaderIndex {
    inline: Inline,
    len: u16,
    spill: Vec<Slot>,
}

impl HeaderIndex {
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// Forgets every header, keeping the spill's memory.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
    }

    /// Moves the headers out and leaves none. Unlike `mem::take`, the inline slots are left as
    /// they are rather than zeroed: `len` says which are in use.
    #[inline(always)]
    pub(crate) fn take(&mut self) -> Self {
        let len = core::mem::replace(&mut self.len, 0);
        Self {
            inline: self.inline,
            len,
            spill: core::mem::take(&mut self.spill),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, slot: Slot) {
        let i = self.len as usize;
        if i < INLINE {
            self.inline.0[i] = slot;
        } else {
            self.spill.push(slot);
        }
        self.len += 1;
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Slot> {
        if i < INLINE {
            self.inline.0[..self.len().min(INLINE)].get(i)
        } else {
            self.spill.get(i - INLINE)
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.inline.0[..self.len().min(INLINE)]
            .iter()
            .chain(self.spill.iter())
    }

    /// The first slot with a known name, and whether the name occurs more than once.
    pub(crate) fn find(&self, name: HeaderName) -> Option<(&Slot, bool)> {
        let k = name.index()? as u8;
        let mut matches = self.iter().filter(|s| s.known == k);
        let first = matches.next()?;
        Some((first, matches.next().is_some()))
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
        let mut index = HeaderIndex::default();
        for i in 0..(INLINE as u16 + 5) {
            index.push(Slot {
                start: i,
                colon: i,
                end: i,
                known: if i % 2 == 0 { 2 } else { KNOWN as u8 },
            });
        }
        assert_eq!(index.len(), INLINE + 5);
        assert_eq!(
            index.get(INLINE + 4).map(|s| s.start),
            Some(INLINE as u16 + 4)
        );
        assert!(index.get(INLINE + 5).is_none());
        let (slot, dup) = index.find(HeaderName::MessageId).expect("present");
        assert_eq!(slot.start, 0);
        assert!(dup);
        assert!(index.find(HeaderName::ToPath).is_none());
    }
}
