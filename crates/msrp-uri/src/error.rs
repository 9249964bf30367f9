//! The error type of every parser and constructor in this crate.

use std::fmt;

/// What was wrong with an MSRP URI or a path list.
///
/// Every variant is a fault of the text that was parsed (or of a component handed to
/// [`MsrpUriBuilder`](crate::MsrpUriBuilder)); there is no I/O and no internal error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was empty.
    Empty,
    /// The scheme is neither `msrp` nor `msrps`.
    InvalidScheme,
    /// The scheme is not followed by `://`.
    MissingSchemeSeparator,
    /// The userinfo holds a character that RFC 3986 does not allow there.
    InvalidUserinfo,
    /// The userinfo holds a `:`, that is password information, which RFC 4975 §6 forbids.
    PasswordInUserinfo,
    /// A `%` is not followed by two hexadecimal digits.
    InvalidPercentEncoding,
    /// The host is empty.
    EmptyHost,
    /// The host holds a character that a registered name cannot hold, or is a numeric address in
    /// a notation other than dotted-quad IPv4 or bracketed IPv6.
    InvalidHost,
    /// A bracketed IP literal is not a valid IPv6 address or lacks its closing `]`.
    InvalidIpLiteral,
    /// The port is empty, holds a non-digit, or is larger than 65535.
    InvalidPort,
    /// The host is a numeric IP address but no port is given (RFC 4975 §6).
    MissingPort,
    /// A `/` after the authority is not followed by a session-id.
    EmptySessionId,
    /// The session-id holds a character outside `unreserved`, `+`, `=` and `/`.
    InvalidSessionId,
    /// The URI has no `;` transport parameter.
    MissingTransport,
    /// The transport is empty or holds a character that is not a letter or a digit.
    InvalidTransport,
    /// A URI parameter after the transport is not `token ["=" token]`.
    InvalidParameter,
    /// Two URIs of a path list are not separated by exactly one space, or the list starts or
    /// ends with a space.
    InvalidSeparator,
}

impl ErrorKind {
    /// A short lowercase description, as used by `Display`.
    fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty input",
            Self::InvalidScheme => "scheme is not msrp or msrps",
            Self::MissingSchemeSeparator => "missing \"://\" after the scheme",
            Self::InvalidUserinfo => "invalid character in userinfo",
            Self::PasswordInUserinfo => "userinfo contains a password",
            Self::InvalidPercentEncoding => "invalid percent-encoding",
            Self::EmptyHost => "empty host",
            Self::InvalidHost => "invalid host",
            Self::InvalidIpLiteral => "invalid ip literal",
            Self::InvalidPort => "invalid port",
            Self::MissingPort => "ip address without a port",
            Self::EmptySessionId => "empty session-id",
            Self::InvalidSessionId => "invalid character in session-id",
            Self::MissingTransport => "missing transport",
            Self::InvalidTransport => "invalid transport",
            Self::InvalidParameter => "invalid uri parameter",
            Self::InvalidSeparator => "uris must be separated by exactly one space",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from parsing or building an MSRP URI or a path list: what went wrong and where.
///
/// The offset is the byte position of the offending character in the text that was parsed: the
/// URI for [`MsrpUri::parse`](crate::MsrpUri::parse), the whole header value for
/// [`Path::parse`](crate::Path::parse), and the URI text being assembled for
/// [`MsrpUriBuilder::build`](crate::MsrpUriBuilder::build).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    kind: ErrorKind,
    offset: usize,
}

impl Error {
    /// Makes an error of `kind` at byte `offset`.
    pub(crate) fn new(kind: ErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte position in the parsed text where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Moves the offset by `base` bytes, for errors found in a part of a larger text.
    pub(crate) fn shifted(self, base: usize) -> Self {
        Self {
            kind: self.kind,
            offset: self.offset.saturating_add(base),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

impl std::error::Error for Error {}
