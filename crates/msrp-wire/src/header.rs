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

impl HeaderName {
    /// The canonical spelling of the name (`"extension"` for [`HeaderName::Extension`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ToPath => "To-Path",
            Self::FromPath => "From-Path",
            Self::MessageId => "Message-ID",
            Self::ByteRange => "Byte-Range",
            Self::SuccessReport => "Success-Report",
            Self::FailureReport => "Failure-Report",
            Self::Status => "Status",
            Self::ContentType => "Content-Type",
            Self::ContentId => "Content-ID",
            Self::ContentDescription => "Content-Description",
            Self::ContentDisposition => "Content-Disposition",
            Self::UsePath => "Use-Path",
            Self::Expires => "Expires",
            Self::MinExpires => "Min-Expires",
            Self::MaxExpires => "Max-Expires",
            Self::WwwAuthenticate => "WWW-Authenticate",
            Self::Authorization => "Authorization",
            Self::AuthenticationInfo => "Authentication-Info",
            Self::UseNickname => "Use-Nickname",
            Self::Extension => "extension",
        }
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
        if candidate.as_str().as_bytes().eq_ignore_ascii_case(name) {
            candidate
        } else if candidate == Self::MinExpires
            && Self::MaxExpires
                .as_str()
                .as_bytes()
                .eq_ignore_ascii_case(name)
        {
            Self::MaxExpires
        } else {
            Self::Extension
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

/// One header line of a head: positions within the head's bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Slot {
    /// Start of the header line (and of the name).
    pub(crate) start: u32,
    /// End of the name (the colon).
    pub(crate) colon: u32,
    /// End of the value (the CR of the CRLF).
    pub(crate) end: u32,
    /// Which known name this is (`KNOWN` for an extension).
    pub(crate) known: u8,
}

impl Slot {
    pub(crate) fn value_start(&self) -> usize {
        self.colon as usize + 2
    }
}

/// Headers kept inline before spilling to the heap; typical SEND requests have 5 to 8.
const INLINE: usize = 10;

/// The headers of a head in wire order, plus the position of the first occurrence of each known
/// name. Building it allocates only for heads with more than [`INLINE`] headers.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeaderIndex {
    inline: [Slot; INLINE],
    len: u16,
    spill: Vec<Slot>,
    /// One plus the wire index of the first occurrence of each known name; zero when absent.
    first: [u16; KNOWN],
    /// Bit `i` is set when known name `i` occurs more than once.
    duplicates: u32,
}

impl HeaderIndex {
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    pub(crate) fn push(&mut self, slot: Slot) {
        let i = self.len as usize;
        if i < INLINE {
            self.inline[i] = slot;
        } else {
            self.spill.push(slot);
        }
        if (slot.known as usize) < KNOWN {
            let k = slot.known as usize;
            if self.first[k] == 0 {
                self.first[k] = self.len + 1;
            } else {
                self.duplicates |= 1 << k;
            }
        }
        self.len += 1;
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Slot> {
        if i < INLINE {
            self.inline[..self.len().min(INLINE)].get(i)
        } else {
            self.spill.get(i - INLINE)
        }
    }

    /// The first slot with a known name, and whether the name occurs more than once.
    pub(crate) fn find(&self, name: HeaderName) -> Option<(&Slot, bool)> {
        let k = name.index()?;
        let at = self.first[k];
        if at == 0 {
            return None;
        }
        let dup = self.duplicates & (1 << k) != 0;
        self.get(at as usize - 1).map(|s| (s, dup))
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
    fn index_spills_and_tracks_duplicates() {
        let mut index = HeaderIndex::default();
        for i in 0..(INLINE as u32 + 5) {
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
            Some(INLINE as u32 + 4)
        );
        assert!(index.get(INLINE + 5).is_none());
        let (slot, dup) = index.find(HeaderName::MessageId).expect("present");
        assert_eq!(slot.start, 0);
        assert!(dup);
        assert!(index.find(HeaderName::ToPath).is_none());
    }
}
