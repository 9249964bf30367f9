//! Errors of the decoder and of the typed header accessors.

use core::fmt;

/// What went wrong while framing an MSRP byte stream.
///
/// Every variant is a fault of the peer that produced the bytes (or of the limits the receiver
/// set); none of them is recoverable on the same stream, because MSRP has no way to find the next
/// frame once framing is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The start line does not begin with `MSRP` followed by a space.
    StartLine,
    /// The transaction id is not an `ident` of 4 to 32 characters.
    TransactionId,
    /// The method is not a sequence of upper-case letters.
    Method,
    /// The status code is not three digits, or is not followed by a space or the end of the line.
    StatusCode,
    /// The start line or a header line contains a byte that is not allowed there.
    InvalidByte,
    /// A line ends in a bare line feed instead of CRLF.
    BareLineFeed,
    /// A header name is empty, does not start with a letter or contains a non-token byte.
    HeaderName,
    /// A header name is not followed by a colon and a single space.
    HeaderSeparator,
    /// An end-line carries a transaction id other than the one of the start line.
    EndLineMismatch,
    /// An end-line does not end in `+`, `$` or `#` followed by CRLF.
    EndLineSyntax,
    /// An end-line directly follows the blank line that opens a body, without its own CRLF.
    EndLineWithoutCrlf,
    /// A response carries a body, which the grammar does not allow.
    ResponseWithBody,
    /// The start line is longer than [`Limits::max_start_line`](crate::Limits::max_start_line).
    StartLineTooLong,
    /// A header line is longer than [`Limits::max_header_line`](crate::Limits::max_header_line).
    HeaderLineTooLong,
    /// The head has more headers than [`Limits::max_headers`](crate::Limits::max_headers).
    TooManyHeaders,
    /// The head is larger than [`Limits::max_head`](crate::Limits::max_head).
    HeadTooLarge,
    /// A body to be buffered whole is larger than [`Limits::max_body`](crate::Limits::max_body).
    BodyTooLarge,
}

impl ErrorKind {
    /// Whether the error comes from a configured limit rather than from a syntax violation.
    pub fn is_limit(self) -> bool {
        matches!(
            self,
            Self::StartLineTooLong
                | Self::HeaderLineTooLong
                | Self::TooManyHeaders
                | Self::HeadTooLarge
                | Self::BodyTooLarge
        )
    }

    fn describe(self) -> &'static str {
        match self {
            Self::StartLine => "start line does not begin with \"MSRP \"",
            Self::TransactionId => "invalid transaction id",
            Self::Method => "invalid method",
            Self::StatusCode => "invalid status code",
            Self::InvalidByte => "invalid byte",
            Self::BareLineFeed => "line not terminated by CRLF",
            Self::HeaderName => "invalid header name",
            Self::HeaderSeparator => "header name not followed by \": \"",
            Self::EndLineMismatch => "end-line transaction id does not match the start line",
            Self::EndLineSyntax => "end-line not terminated by a flag and CRLF",
            Self::EndLineWithoutCrlf => "end-line not preceded by its own CRLF after a body",
            Self::ResponseWithBody => "response with a body",
            Self::StartLineTooLong => "start line too long",
            Self::HeaderLineTooLong => "header line too long",
            Self::TooManyHeaders => "too many headers",
            Self::HeadTooLarge => "head too large",
            Self::BodyTooLarge => "body too large to buffer",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A framing error and the byte offset in the stream where it was found.
///
/// Framing errors are fatal: after one, the [`Decoder`](crate::Decoder) returns the same error
/// from every call, because no later byte of the stream can be framed with confidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    kind: ErrorKind,
    offset: u64,
}

impl ParseError {
    pub(crate) fn new(kind: ErrorKind, offset: u64) -> Self {
        Self { kind, offset }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Offset in the stream (counted from the first byte ever pushed) of the offending byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// The reason a header value could not be read by a typed accessor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderErrorKind {
    /// The header occurs more than once where the grammar allows it once.
    Duplicate,
    /// The value does not match the header's grammar.
    Syntax,
    /// A number in the value does not fit the type that holds it.
    Overflow,
    /// The value is not valid UTF-8.
    Utf8,
}

/// A header whose value a typed accessor could not read.
///
/// Unlike a [`ParseError`], this does not break framing: the frame is intact and the session layer
/// decides how to answer (usually with a 400 response).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeaderError {
    name: crate::HeaderName,
    kind: HeaderErrorKind,
    offset: u64,
}

impl HeaderError {
    pub(crate) fn new(name: crate::HeaderName, kind: HeaderErrorKind, offset: u64) -> Self {
        Self { name, kind, offset }
    }

    /// The header that could not be read.
    pub fn name(&self) -> crate::HeaderName {
        self.name
    }

    /// Why it could not be read.
    pub fn kind(&self) -> HeaderErrorKind {
        self.kind
    }

    /// Offset in the stream of the first byte of the offending value.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            HeaderErrorKind::Duplicate => "duplicate",
            HeaderErrorKind::Syntax => "invalid",
            HeaderErrorKind::Overflow => "number too large in",
            HeaderErrorKind::Utf8 => "non-UTF-8",
        };
        write!(
            f,
            "{what} {} header at byte {}",
            self.name.as_str(),
            self.offset
        )
    }
}

impl std::error::Error for HeaderError {}
