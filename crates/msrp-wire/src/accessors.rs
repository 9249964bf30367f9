//! Typed access to the headers of a [`Head`].
//!
//! Every accessor returns `Ok(None)` when the header is absent, `Ok(Some(value))` when it is
//! present once and well formed, and a [`HeaderError`] when it is malformed or, for headers the
//! grammar allows once, repeated.

use core::fmt;
use std::borrow::Cow;

use crate::HeaderName;
use crate::error::{HeaderError, HeaderErrorKind};
use crate::frame::{Head, Header, StatusCode};
use crate::syntax::{is_ident, is_token};

/// A `Byte-Range` value: `range-start "-" range-end "/" total` (RFC 4975 §7.1.1). Positions count
/// from one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ByteRange {
    /// Position of the chunk's first byte in the message, from 1.
    pub start: u64,
    /// Position of the chunk's last byte; `None` for `*` (interruptible, or unknown).
    pub end: Option<u64>,
    /// Total size of the message; `None` for `*` (not known yet).
    pub total: Option<u64>,
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-", self.start)?;
        match self.end {
            Some(end) => write!(f, "{end}/")?,
            None => f.write_str("*/")?,
        }
        match self.total {
            Some(total) => write!(f, "{total}"),
            None => f.write_str("*"),
        }
    }
}

/// A `Success-Report` value (RFC 4975 §7.1.1); absent means [`SuccessReport::No`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SuccessReport {
    /// `yes`: the sender wants a success REPORT.
    Yes,
    /// `no`: the default.
    #[default]
    No,
}

/// A `Failure-Report` value (RFC 4975 §7.1.1); absent means [`FailureReport::Yes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FailureReport {
    /// `yes`: the default; failures are reported by responses and REPORTs.
    #[default]
    Yes,
    /// `no`: no failure reports or responses are wanted.
    No,
    /// `partial`: only failure responses that are not 200 are wanted, no timer.
    Partial,
}

impl SuccessReport {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
        }
    }
}

impl FailureReport {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Partial => "partial",
        }
    }
}

/// A `Status` value: `namespace SP status-code [SP comment]` (RFC 4975 §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Status<'a> {
    /// The namespace; `000` for the codes of RFC 4975.
    pub namespace: u16,
    /// The code.
    pub code: StatusCode,
    /// The comment, if any.
    pub comment: Option<&'a str>,
}

/// A list of MSRP URIs as in To-Path, From-Path and Use-Path: `MSRP-URI *( SP MSRP-URI )`.
/// The crate `msrp-uri` parses the URIs themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UriList<'a> {
    raw: &'a str,
}

impl<'a> UriList<'a> {
    /// Reads a path header's value as a list: `MSRP-URI *( SP MSRP-URI )`, URIs of visible
    /// ASCII separated by single spaces. `None` when it is not one.
    pub fn parse(raw: &'a str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw
                .split(' ')
                .all(|u| !u.is_empty() && u.bytes().all(|b| b.is_ascii_graphic()));
        ok.then_some(Self { raw })
    }

    /// A list whose text was read as one already.
    #[inline]
    pub(crate) fn checked(raw: &'a str) -> Self {
        Self { raw }
    }

    /// The value as received.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The URIs, in order (the first is the next hop for To-Path).
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.raw.split(' ')
    }

    /// The list of the first URI alone: where a response to a SEND goes when this is the
    /// SEND's From-Path (RFC 4975 §7.2).
    pub fn first(&self) -> UriList<'a> {
        let end = self.raw.find(' ').unwrap_or(self.raw.len());
        Self {
            raw: &self.raw[..end],
        }
    }
}

/// A `Content-Disposition` value (RFC 2183): a type and parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentDisposition<'a> {
    /// The disposition type, e.g. `render`, `attachment` or `inline`.
    pub kind: &'a str,
    /// The parameters in order, names as received, values unquoted.
    pub params: Vec<(&'a str, Cow<'a, str>)>,
}

impl ContentDisposition<'_> {
    /// The value of the `filename` parameter, if any.
    pub fn filename(&self) -> Option<&str> {
        self.param("filename")
    }

    /// The value of a parameter, by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// The parameters of a digest header (RFC 4976 §7): WWW-Authenticate, Authorization or
/// Authentication-Info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestParams<'a> {
    /// The parameters in order, names as received, values unquoted.
    pub params: Vec<(&'a str, Cow<'a, str>)>,
}

impl DigestParams<'_> {
    /// The value of a parameter, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// A small cursor over a header value, for the grammars of these accessors.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Self { s, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos == self.s.len()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.rest().as_bytes().first() == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.eat(b' ') || self.eat(b'\t') {}
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let n = self.rest().bytes().take_while(|&b| f(b)).count();
        let out = &self.s[self.pos..self.pos + n];
        self.pos += n;
        out
    }

    fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(is_token_no_separators);
        (!t.is_empty()).then_some(t)
    }

    /// `quoted-string = DQUOTE *(qdtext / qd-esc) DQUOTE`, with `qd-esc` as `\\` or `\"`.
    fn quoted(&mut self) -> Option<Cow<'a, str>> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        let mut escaped = false;
        let bytes = self.s.as_bytes();
        let mut i = start;
        loop {
            match *bytes.get(i)? {
                b'"' => break,
                b'\\' => {
                    if !matches!(bytes.get(i + 1), Some(b'\\' | b'"')) {
                        return None;
                    }
                    escaped = true;
                    i += 2;
                }
                b => {
                    if b < 0x20 && b != b'\t' {
                        return None;
                    }
                    i += 1;
                }
            }
        }
        self.pos = i + 1;
        let inner = &self.s[start..i];
        Some(if escaped {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or('\\')
                } else {
                    c
                });
            }
            Cow::Owned(out)
        } else {
            Cow::Borrowed(inner)
        })
    }

    /// `name "=" ( token / quoted-string )`.
    fn param(&mut self) -> Option<(&'a str, Cow<'a, str>)> {
        let name = self.token()?;
        if !self.eat(b'=') {
            return None;
        }
        let value = match self.quoted() {
            Some(q) => q,
            None => Cow::Borrowed(self.token()?),
        };
        Some((name, value))
    }
}

/// Token bytes other than `=` and `,`, which separate parameters in the grammars here (the
/// RFC 4975 token admits `=`, but a parameter name followed by `=` must stop before it).
fn is_token_no_separators(b: u8) -> bool {
    is_token(b) && b != b'=' && b != b','
}

fn digits<N: TryFrom<u64>>(s: &str) -> Result<N, HeaderErrorKind> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderErrorKind::Syntax);
    }
    let n: u64 = s.parse().map_err(|_| HeaderErrorKind::Overflow)?;
    N::try_from(n).map_err(|_| HeaderErrorKind::Overflow)
}

impl Head {
    /// The value of a header allowed once, as UTF-8, with errors located in the stream.
    fn single(&self, name: HeaderName) -> Result<Option<(&str, u64)>, HeaderError> {
        let Some((Header { value, offset, .. }, dup)) = self.find(name) else {
            return Ok(None);
        };
        if dup {
            return Err(HeaderError::new(name, HeaderErrorKind::Duplicate, offset));
        }
        match core::str::from_utf8(value) {
            Ok(s) => Ok(Some((s, offset))),
            Err(_) => Err(HeaderError::new(name, HeaderErrorKind::Utf8, offset)),
        }
    }

    /// Reads a header allowed once with `parse`, which reports the kind of failure.
    fn typed<'a, T>(
        &'a self,
        name: HeaderName,
        parse: impl FnOnce(&'a str) -> Result<T, HeaderErrorKind>,
    ) -> Result<Option<T>, HeaderError> {
        match self.single(name)? {
            None => Ok(None),
            Some((s, offset)) => parse(s)
                .map(Some)
                .map_err(|kind| HeaderError::new(name, kind, offset)),
        }
    }

    fn uri_list(&self, name: HeaderName) -> Result<Option<UriList<'_>>, HeaderError> {
        self.typed(name, |s| UriList::parse(s).ok_or(HeaderErrorKind::Syntax))
    }

    /// `To-Path`: the URIs the request visits, leftmost first.
    pub fn to_path(&self) -> Result<Option<UriList<'_>>, HeaderError> {
        self.uri_list(HeaderName::ToPath)
    }

    /// `From-Path`: the URIs back to the sender.
    pub fn from_path(&self) -> Result<Option<UriList<'_>>, HeaderError> {
        self.uri_list(HeaderName::FromPath)
    }

    /// `Use-Path` (RFC 4976): the relay path an AUTH response grants.
    pub fn use_path(&self) -> Result<Option<UriList<'_>>, HeaderError> {
        self.uri_list(HeaderName::UsePath)
    }

    /// `Message-ID`: `ident`.
    pub fn message_id(&self) -> Result<Option<&str>, HeaderError> {
        self.typed(HeaderName::MessageId, |s| {
            if is_ident(s.as_bytes()) {
                Ok(s)
            } else {
                Err(HeaderErrorKind::Syntax)
            }
        })
    }

    /// `Byte-Range`: `range-start "-" range-end "/" total`.
    pub fn byte_range(&self) -> Result<Option<ByteRange>, HeaderError> {
        self.typed(HeaderName::ByteRange, |s| {
            let (start, rest) = s.split_once('-').ok_or(HeaderErrorKind::Syntax)?;
            let (end, total) = rest.split_once('/').ok_or(HeaderErrorKind::Syntax)?;
            let star = |v: &str| {
                if v == "*" {
                    Ok(None)
                } else {
                    digits(v).map(Some)
                }
            };
            Ok(ByteRange {
                start: digits(start)?,
                end: star(end)?,
                total: star(total)?,
            })
        })
    }

    /// `Success-Report`: `yes` or `no`, compared case-insensitively.
    pub fn success_report(&self) -> Result<Option<SuccessReport>, HeaderError> {
        self.typed(HeaderName::SuccessReport, |s| {
            if s.eq_ignore_ascii_case("yes") {
                Ok(SuccessReport::Yes)
            } else if s.eq_ignore_ascii_case("no") {
                Ok(SuccessReport::No)
            } else {
                Err(HeaderErrorKind::Syntax)
            }
        })
    }

    /// `Failure-Report`: `yes`, `no` or `partial`, compared case-insensitively.
    pub fn failure_report(&self) -> Result<Option<FailureReport>, HeaderError> {
        self.typed(HeaderName::FailureReport, |s| {
            [
                FailureReport::Yes,
                FailureReport::No,
                FailureReport::Partial,
            ]
            .into_iter()
            .find(|v| s.eq_ignore_ascii_case(v.as_str()))
            .ok_or(HeaderErrorKind::Syntax)
        })
    }

    /// `Status`: `namespace SP status-code [SP comment]`.
    pub fn status(&self) -> Result<Option<Status<'_>>, HeaderError> {
        self.typed(HeaderName::Status, |s| {
            let three = |v: &str| -> Result<u16, HeaderErrorKind> {
                if v.len() == 3 {
                    digits(v)
                } else {
                    Err(HeaderErrorKind::Syntax)
                }
            };
            let (ns, rest) = s.split_once(' ').ok_or(HeaderErrorKind::Syntax)?;
            let (code, comment) = match rest.split_once(' ') {
                Some((code, comment)) => (code, Some(comment)),
                None => (rest, None),
            };
            Ok(Status {
                namespace: three(ns)?,
                code: StatusCode::new(three(code)?).ok_or(HeaderErrorKind::Syntax)?,
                comment,
            })
        })
    }

    /// `Content-Type` as received.
    pub fn content_type_str(&self) -> Result<Option<&str>, HeaderError> {
        self.typed(HeaderName::ContentType, Ok)
    }

    /// `Content-Type` parsed as a media type: `type "/" subtype *( ";" gen-param )`.
    pub fn content_type(&self) -> Result<Option<mime::Mime>, HeaderError> {
        self.typed(HeaderName::ContentType, |s| {
            s.parse::<mime::Mime>().map_err(|_| HeaderErrorKind::Syntax)
        })
    }

    /// `Content-ID` (RFC 2045) as received.
    pub fn content_id(&self) -> Result<Option<&str>, HeaderError> {
        self.typed(HeaderName::ContentId, Ok)
    }

    /// `Content-Description` (RFC 2045) as received.
    pub fn content_description(&self) -> Result<Option<&str>, HeaderError> {
        self.typed(HeaderName::ContentDescription, Ok)
    }

    /// `Content-Disposition` (RFC 2183): `disposition-type *( ";" disposition-parm )`.
    pub fn content_disposition(&self) -> Result<Option<ContentDisposition<'_>>, HeaderError> {
        self.typed(HeaderName::ContentDisposition, |s| {
            let mut c = Cursor::new(s);
            let kind = c.token().ok_or(HeaderErrorKind::Syntax)?;
            let mut params = Vec::new();
            loop {
                c.skip_ws();
                if c.at_end() {
                    break;
                }
                if !c.eat(b';') {
                    return Err(HeaderErrorKind::Syntax);
                }
                c.skip_ws();
                params.push(c.param().ok_or(HeaderErrorKind::Syntax)?);
            }
            Ok(ContentDisposition { kind, params })
        })
    }

    fn seconds(&self, name: HeaderName) -> Result<Option<u32>, HeaderError> {
        self.typed(name, digits)
    }

    /// `Expires` (RFC 4976): seconds.
    pub fn expires(&self) -> Result<Option<u32>, HeaderError> {
        self.seconds(HeaderName::Expires)
    }

    /// `Min-Expires` (RFC 4976): seconds.
    pub fn min_expires(&self) -> Result<Option<u32>, HeaderError> {
        self.seconds(HeaderName::MinExpires)
    }

    /// `Max-Expires` (RFC 4976): seconds.
    pub fn max_expires(&self) -> Result<Option<u32>, HeaderError> {
        self.seconds(HeaderName::MaxExpires)
    }

    /// Parses `"Digest" SP param *("," SP param)` when `scheme`, or `param *("," param)`
    /// otherwise. Optional whitespace is accepted after each comma, as every RFC 4976 example
    /// puts a space there although the Authentication-Info rule does not.
    fn digest(
        &self,
        name: HeaderName,
        scheme: bool,
    ) -> Result<Option<DigestParams<'_>>, HeaderError> {
        self.typed(name, |s| {
            let mut c = Cursor::new(s);
            if scheme {
                let word = c.token().ok_or(HeaderErrorKind::Syntax)?;
                if !word.eq_ignore_ascii_case("Digest") || !c.eat(b' ') {
                    return Err(HeaderErrorKind::Syntax);
                }
            }
            let mut params = Vec::new();
            loop {
                c.skip_ws();
                params.push(c.param().ok_or(HeaderErrorKind::Syntax)?);
                c.skip_ws();
                if c.at_end() {
                    return Ok(DigestParams { params });
                }
                if !c.eat(b',') {
                    return Err(HeaderErrorKind::Syntax);
                }
            }
        })
    }

    /// `WWW-Authenticate` (RFC 4976): a digest challenge.
    pub fn www_authenticate(&self) -> Result<Option<DigestParams<'_>>, HeaderError> {
        self.digest(HeaderName::WwwAuthenticate, true)
    }

    /// `Authorization` (RFC 4976): digest credentials.
    pub fn authorization(&self) -> Result<Option<DigestParams<'_>>, HeaderError> {
        self.digest(HeaderName::Authorization, true)
    }

    /// `Authentication-Info` (RFC 4976): `ainfo *("," ainfo)`.
    pub fn authentication_info(&self) -> Result<Option<DigestParams<'_>>, HeaderError> {
        self.digest(HeaderName::AuthenticationInfo, false)
    }

    /// `Use-Nickname` (RFC 7701): a quoted nickname of 1 to 1023 characters, unquoted.
    pub fn use_nickname(&self) -> Result<Option<Cow<'_, str>>, HeaderError> {
        self.typed(HeaderName::UseNickname, |s| {
            let mut c = Cursor::new(s);
            match c.quoted() {
                Some(nick) if c.at_end() && !nick.is_empty() && nick.chars().count() <= 1023 => {
                    Ok(nick)
                }
                _ => Err(HeaderErrorKind::Syntax),
            }
        })
    }
}
