//! The two error types of the `sdp` module: a session description that cannot be read
//! ([`ParseError`]) and an offer or answer that cannot be accepted ([`NegotiationError`]).

use std::fmt;

/// What was wrong with a session description, without its position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input is longer than [`ParserConfig::max_len`](crate::ParserConfig::max_len).
    TooLong,
    /// The input has more lines than [`ParserConfig::max_lines`](crate::ParserConfig::max_lines).
    TooManyLines,
    /// The input is not UTF-8.
    NotUtf8,
    /// A line is not `<letter>=<value>`, or holds a stray carriage return.
    InvalidLine,
    /// A `v=` line is not the first line, or its value is not `0`.
    InvalidVersion,
    /// An `o=` line does not have the six fields of RFC 4566.
    InvalidOrigin,
    /// A `c=` line does not have the three fields of RFC 4566.
    InvalidConnection,
    /// A `t=` line is not two decimal times.
    InvalidTiming,
    /// An `m=` line has too few fields or a bad port.
    InvalidMediaLine,
    /// A line that may appear once (`v=`, `o=`, `s=`, session `c=`, media `i=`) appears twice.
    DuplicateLine,
    /// An attribute defined by an MSRP specification has a value that its grammar does not allow.
    InvalidAttribute(&'static str),
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => f.write_str("session description too long"),
            Self::TooManyLines => f.write_str("too many lines"),
            Self::NotUtf8 => f.write_str("not utf-8"),
            Self::InvalidLine => f.write_str("invalid line"),
            Self::InvalidVersion => f.write_str("invalid v= line"),
            Self::InvalidOrigin => f.write_str("invalid o= line"),
            Self::InvalidConnection => f.write_str("invalid c= line"),
            Self::InvalidTiming => f.write_str("invalid t= line"),
            Self::InvalidMediaLine => f.write_str("invalid m= line"),
            Self::DuplicateLine => f.write_str("duplicate line"),
            Self::InvalidAttribute(name) => write!(f, "invalid a={name} attribute"),
        }
    }
}

/// A session description that could not be parsed: what was wrong and on which line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    line: usize,
    kind: ParseErrorKind,
}

impl ParseError {
    pub(crate) fn new(line: usize, kind: ParseErrorKind) -> Self {
        Self { line, kind }
    }

    /// The 1-based line number of the offending line, or 0 when the error concerns the whole
    /// input.
    pub fn line(&self) -> usize {
        self.line
    }

    /// What was wrong.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "line {}: {}", self.line, self.kind)
        }
    }
}

impl std::error::Error for ParseError {}

/// Why an offer or an answer cannot be accepted.
///
/// Every variant is a fault of the remote description (the peer broke a rule of RFC 4975, RFC 6135,
/// RFC 6714 or RFC 5547), or a mismatch between it and the local
/// [`Capabilities`](crate::Capabilities). In SIP, an offer that fails this way is usually
/// answered with 488 (Not Acceptable Here), or the MSRP media line is rejected with port 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The description has no `m=message` line with an MSRP protocol.
    NoMsrpMedia,
    /// The `m=message` line carries a protocol other than `TCP/MSRP`, `TCP/TLS/MSRP`,
    /// `TCP/WS/MSRP` or `TCP/WSS/MSRP`.
    UnsupportedProtocol,
    /// The requested media line index does not hold an MSRP media description.
    NotMsrpMedia,
    /// The MSRP media line has port 0: the stream is disabled or was rejected.
    PortZero,
    /// The MSRP media description has no `a=path`.
    MissingPath,
    /// An `a=path` URI has no explicit port.
    PathWithoutPort,
    /// An `a=path` URI uses `msrps` with a non-TLS protocol, or `msrp` with a TLS protocol.
    PathSchemeMismatch,
    /// The MSRP media description has no `a=accept-types`.
    MissingAcceptTypes,
    /// No media type that the peer accepts is one that this endpoint accepts.
    NoCommonAcceptTypes,
    /// The session uses TLS directly between the endpoints but the peer sent no `a=fingerprint`.
    MissingFingerprint,
    /// The answer carries `a=setup:actpass`, which an answer may not use.
    InvalidSetup,
    /// The `a=setup` values of the offer and the answer leave no endpoint, or both, to connect.
    SetupConflict,
    /// The offer lacks `a=msrp-cema` but its c/m-line address does not match its `a=path`, so a
    /// middlebox that does not support CEMA has rewritten it (RFC 6714 §4.3).
    MiddleboxWithoutCema,
    /// The answer lacks `a=msrp-cema` in a case where RFC 6714 §4.2 requires a new offer without
    /// `a=msrp-cema`.
    CemaFallbackRequired,
    /// A file transfer description has no `a=file-transfer-id`.
    MissingFileTransferId,
    /// The answer's `a=file-transfer-id` differs from the offer's.
    FileTransferIdMismatch,
    /// A file transfer offer is neither `sendonly` nor `recvonly`.
    InvalidFileDirection,
    /// The peer asks for a file but the local capabilities name none to send.
    NoLocalFile,
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoMsrpMedia => "no msrp media description",
            Self::UnsupportedProtocol => "unsupported protocol on the m=message line",
            Self::NotMsrpMedia => "media line is not an msrp media description",
            Self::PortZero => "msrp media line has port 0",
            Self::MissingPath => "missing a=path",
            Self::PathWithoutPort => "msrp uri in a=path has no port",
            Self::PathSchemeMismatch => "a=path scheme does not match the media protocol",
            Self::MissingAcceptTypes => "missing a=accept-types",
            Self::NoCommonAcceptTypes => "no common accept-types",
            Self::MissingFingerprint => "missing a=fingerprint for tls",
            Self::InvalidSetup => "invalid a=setup in answer",
            Self::SetupConflict => "a=setup roles conflict",
            Self::MiddleboxWithoutCema => {
                "c/m-line does not match a=path and a=msrp-cema is absent"
            }
            Self::CemaFallbackRequired => {
                "answer lacks a=msrp-cema: a new offer without it is required"
            }
            Self::MissingFileTransferId => "missing a=file-transfer-id",
            Self::FileTransferIdMismatch => "a=file-transfer-id differs from the offer",
            Self::InvalidFileDirection => "file transfer offer is neither sendonly nor recvonly",
            Self::NoLocalFile => "no local file for the requested file selector",
        })
    }
}

impl std::error::Error for NegotiationError {}
