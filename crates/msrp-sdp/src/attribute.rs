//! The media-level attributes of an MSRP media description and their grammars.

use std::fmt;

use super::file::{FileDate, FileRange, FileSelector};
use super::path::Path;
use super::syntax::{
    is_quoted_string, is_token, parse_hex_pairs, parse_u64, split_outside_quotes, write_hex_pairs,
};

/// One entry of `a=accept-types` or `a=accept-wrapped-types` (RFC 4975 §8.6, `format-entry`).
///
/// RFC 4975 §8.6: "For the purposes of media-type negotiation, a format-entry with one or more
/// parameters is assumed to match the same format-entry with no parameters." Matching therefore
/// ignores `params`, and compares type and subtype without regard to ASCII case.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FormatEntry {
    /// `*`: any media type.
    Any,
    /// `type/subtype` or `type/*`, with optional `;name=value` parameters.
    Media {
        /// The top-level type, such as `text`.
        type_name: String,
        /// The subtype, such as `plain`, or `*` for any subtype of `type_name`.
        subtype: String,
        /// Parameters in order; a value keeps its quotes when it is a quoted string.
        params: Vec<(String, String)>,
    },
}

impl FormatEntry {
    /// A `type/subtype` entry without parameters; `subtype` may be `*`.
    pub fn media(type_name: &str, subtype: &str) -> Self {
        Self::Media {
            type_name: type_name.to_owned(),
            subtype: subtype.to_owned(),
            params: Vec::new(),
        }
    }

    /// Parses one `format-entry`. Returns `None` when `text` does not match the grammar of
    /// RFC 4975 §8.6.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(Self::Any);
        }
        let mut parts = split_params(text)?.into_iter();
        let media = parts.next()?;
        let (type_name, subtype) = media.split_once('/')?;
        if !is_token(type_name) || !is_token(subtype) {
            return None;
        }
        let mut params = Vec::new();
        for param in parts {
            let (name, value) = param.split_once('=')?;
            if !is_token(name) || !(is_token(value) || is_quoted_string(value)) {
                return None;
            }
            params.push((name.to_owned(), value.to_owned()));
        }
        Some(Self::Media {
            type_name: type_name.to_owned(),
            subtype: subtype.to_owned(),
            params,
        })
    }

    /// Parses a `format-list`: one or more entries separated by spaces. Returns `None` when the
    /// list is empty or an entry is invalid.
    pub fn parse_list(text: &str) -> Option<Vec<Self>> {
        let entries: Vec<Self> = split_outside_quotes(text, true)?
            .into_iter()
            .map(Self::parse)
            .collect::<Option<_>>()?;
        if entries.is_empty() {
            None
        } else {
            Some(entries)
        }
    }

    /// Whether this entry admits the media type `type_name/subtype`.
    ///
    /// RFC 4975 §8.6: "An entry of "*" in the accept-types attribute indicates that the sender may
    /// attempt to send content with media-types that have not been explicitly listed. Likewise,
    /// an entry with an explicit type and a "*" character as the subtype indicates that the
    /// sender may attempt to send content with any subtype of that type."
    pub fn matches(&self, type_name: &str, subtype: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Media {
                type_name: t,
                subtype: s,
                ..
            } => t.eq_ignore_ascii_case(type_name) && (s == "*" || s.eq_ignore_ascii_case(subtype)),
        }
    }

    /// Whether some media type is admitted by both entries.
    pub fn overlaps(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Any, _) | (_, Self::Any) => true,
            (
                Self::Media {
                    type_name: t1,
                    subtype: s1,
                    ..
                },
                Self::Media {
                    type_name: t2,
                    subtype: s2,
                    ..
                },
            ) => {
                t1.eq_ignore_ascii_case(t2)
                    && (s1 == "*" || s2 == "*" || s1.eq_ignore_ascii_case(s2))
            }
        }
    }
}

impl fmt::Display for FormatEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Media {
                type_name,
                subtype,
                params,
            } => {
                write!(f, "{type_name}/{subtype}")?;
                for (name, value) in params {
                    write!(f, ";{name}={value}")?;
                }
                Ok(())
            }
        }
    }
}

/// Splits `text` at `;` outside double quotes (with backslash escapes inside quotes).
fn split_params(text: &str) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_quotes => i += 1,
            b'"' => in_quotes = !in_quotes,
            b';' if !in_quotes => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if in_quotes {
        return None;
    }
    out.push(&text[start..]);
    Some(out)
}

/// Writes a list of format entries separated by single spaces.
pub(crate) fn write_format_list(f: &mut fmt::Formatter<'_>, list: &[FormatEntry]) -> fmt::Result {
    for (i, entry) in list.iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        write!(f, "{entry}")?;
    }
    Ok(())
}

/// The value of `a=setup` (RFC 4145, applied to MSRP by RFC 6135 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setup {
    /// The endpoint opens the connection.
    Active,
    /// The endpoint accepts the connection.
    Passive,
    /// The endpoint can do either; only valid in an offer.
    Actpass,
    /// The endpoint does not want a connection now. RFC 6135 §4.2.1 forbids MSRP endpoints to
    /// send it and makes them ignore it.
    Holdconn,
}

impl Setup {
    fn parse(value: &str) -> Option<Self> {
        [Self::Active, Self::Passive, Self::Actpass, Self::Holdconn]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(value))
    }

    /// The attribute value, lowercase.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Passive => "passive",
            Self::Actpass => "actpass",
            Self::Holdconn => "holdconn",
        }
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of `a=connection` (RFC 4145). RFC 6135 §4.4: "If an MSRP UA receives an
/// a=connection attribute, the UA MUST ignore it." It is parsed so that it survives a round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpConnection {
    /// `new`: a new connection is to be opened.
    New,
    /// `existing`: an existing connection is to be reused.
    Existing,
}

impl TcpConnection {
    fn parse(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("new") {
            Some(Self::New)
        } else if value.eq_ignore_ascii_case("existing") {
            Some(Self::Existing)
        } else {
            None
        }
    }
}

impl fmt::Display for TcpConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::New => "new",
            Self::Existing => "existing",
        })
    }
}

/// The value of `a=fingerprint` (RFC 4572 §5, required for self-signed TLS by RFC 4975 §14.4): a
/// hash function name and the digest of the certificate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The hash function as written, such as `SHA-1` or `sha-256`. Compare it without regard to
    /// ASCII case.
    pub hash_function: String,
    /// The digest bytes.
    pub value: Vec<u8>,
}

impl Fingerprint {
    /// A fingerprint from a hash function name and the digest of the DER certificate.
    pub fn new(hash_function: &str, value: Vec<u8>) -> Self {
        Self {
            hash_function: hash_function.to_owned(),
            value,
        }
    }

    /// Parses `hash-func SP fingerprint`, where the fingerprint is hexadecimal pairs separated by
    /// colons. RFC 4572 asks for uppercase digits; lowercase ones are accepted too.
    pub fn parse(value: &str) -> Option<Self> {
        let mut fields = value.split([' ', '\t']).filter(|s| !s.is_empty());
        let hash_function = fields.next()?;
        let digest = parse_hex_pairs(fields.next()?)?;
        if fields.next().is_some() || !is_token(hash_function) {
            return None;
        }
        Some(Self::new(hash_function, digest))
    }

    /// Whether `hash_function` names this fingerprint's function (ignoring ASCII case) and
    /// `digest` equals its value.
    pub fn matches(&self, hash_function: &str, digest: &[u8]) -> bool {
        self.hash_function.eq_ignore_ascii_case(hash_function) && self.value == digest
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.hash_function)?;
        write_hex_pairs(f, &self.value)
    }
}

/// The SDP direction attributes (`sendrecv`, `sendonly`, `recvonly`, `inactive`).
///
/// RFC 4975 §8.9: "If a "sendonly" or "recvonly" attribute modifies an MSRP media description
/// line, the attribute indicates the direction of MSRP SEND requests that contain regular message
/// payloads."
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Both directions; the default when no direction attribute is present.
    #[default]
    SendRecv,
    /// The describing endpoint only sends.
    SendOnly,
    /// The describing endpoint only receives.
    RecvOnly,
    /// Neither direction.
    Inactive,
}

impl Direction {
    /// Builds a direction from whether sending and receiving are allowed.
    pub fn from_flags(send: bool, receive: bool) -> Self {
        match (send, receive) {
            (true, true) => Self::SendRecv,
            (true, false) => Self::SendOnly,
            (false, true) => Self::RecvOnly,
            (false, false) => Self::Inactive,
        }
    }

    /// Whether the describing endpoint may send message payloads.
    pub fn may_send(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// Whether the describing endpoint may receive message payloads.
    pub fn may_receive(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }

    /// The same direction seen from the other endpoint: `sendonly` becomes `recvonly`.
    pub fn reversed(self) -> Self {
        Self::from_flags(self.may_receive(), self.may_send())
    }

    /// The directions allowed by both `self` and `other`.
    pub fn intersect(self, other: Self) -> Self {
        Self::from_flags(
            self.may_send() && other.may_send(),
            self.may_receive() && other.may_receive(),
        )
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [
            Self::SendRecv,
            Self::SendOnly,
            Self::RecvOnly,
            Self::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str() == name)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of `a=chatroom` (RFC 7701 §8): the chat room functions that the endpoint supports
/// and its policy allows.
///
/// The attribute "is not a negotiation subject to the SDP offer/answer model \[RFC3264\], but
/// instead a declaration" (RFC 7701 §8), so it is reported, never intersected.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Chatroom {
    /// The chat tokens in order, such as `nickname` and `private-messages`.
    pub tokens: Vec<String>,
}

impl Chatroom {
    /// The token that announces nickname support (RFC 7701 §8 `nicknames-token`).
    pub const NICKNAME: &'static str = "nickname";
    /// The token that announces private messages (RFC 7701 §8 `private-msg-token`).
    pub const PRIVATE_MESSAGES: &'static str = "private-messages";

    /// A chatroom declaration with the given tokens.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> Self {
        Self {
            tokens: tokens.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether the `nickname` token is present.
    pub fn allows_nicknames(&self) -> bool {
        self.has(Self::NICKNAME)
    }

    /// Whether the `private-messages` token is present.
    pub fn allows_private_messages(&self) -> bool {
        self.has(Self::PRIVATE_MESSAGES)
    }

    /// Whether `token` is present, ignoring ASCII case.
    pub fn has(&self, token: &str) -> bool {
        self.tokens.iter().any(|t| t.eq_ignore_ascii_case(token))
    }
}

/// One `a=` line of a media description, typed when an MSRP-related specification defines it.
///
/// Attribute names are matched exactly (case-sensitively); any other attribute, or one with a
/// different spelling, is kept as [`Attribute::Other`] in its original position.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Attribute {
    /// `a=path` (RFC 4975 §8.2).
    Path(Path),
    /// `a=accept-types` (RFC 4975 §8.6).
    AcceptTypes(Vec<FormatEntry>),
    /// `a=accept-wrapped-types` (RFC 4975 §8.6).
    AcceptWrappedTypes(Vec<FormatEntry>),
    /// `a=max-size`, in octets (RFC 4975 §8.6).
    MaxSize(u64),
    /// `a=setup` (RFC 4145, RFC 6135).
    Setup(Setup),
    /// `a=connection` (RFC 4145); ignored by negotiation (RFC 6135 §4.4).
    Connection(TcpConnection),
    /// `a=fingerprint` (RFC 4572, RFC 4975 §14.4).
    Fingerprint(Fingerprint),
    /// `a=msrp-cema` (RFC 6714 §5).
    MsrpCema,
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly` or `a=inactive`.
    Direction(Direction),
    /// `a=chatroom` (RFC 7701 §8).
    Chatroom(Chatroom),
    /// `a=file-selector` (RFC 5547 §6); empty in a capability description.
    FileSelector(FileSelector),
    /// `a=file-transfer-id` (RFC 5547 §8.1).
    FileTransferId(String),
    /// `a=file-disposition` (RFC 5547 §7), such as `render` or `attachment`.
    FileDisposition(String),
    /// `a=file-date` (RFC 5547 §6).
    FileDate(FileDate),
    /// `a=file-icon`, a `cid:` URL (RFC 5547 §8.8).
    FileIcon(String),
    /// `a=file-range` (RFC 5547 §6).
    FileRange(FileRange),
    /// Any other attribute, kept as written: the text before the first `:` and, when there is a
    /// `:`, the text after it.
    Other {
        /// The attribute name.
        name: String,
        /// The value, without the `:`.
        value: Option<String>,
    },
}

impl Attribute {
    /// Parses the text after `a=`. Returns the name of the attribute on failure; only attributes
    /// with a typed variant can fail.
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let (name, value) = match text.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (text, None),
        };
        let trimmed = value.map(|v| v.trim_matches([' ', '\t']));
        // A flag attribute carries no value; an empty one is tolerated.
        let no_value = trimmed.is_none_or(str::is_empty);
        let attr = match name {
            "path" => Path::parse(trimmed.unwrap_or(""))
                .map(Self::Path)
                .map_err(|_| "path")?,
            "accept-types" => FormatEntry::parse_list(trimmed.unwrap_or(""))
                .map(Self::AcceptTypes)
                .ok_or("accept-types")?,
            "accept-wrapped-types" => FormatEntry::parse_list(trimmed.unwrap_or(""))
                .map(Self::AcceptWrappedTypes)
                .ok_or("accept-wrapped-types")?,
            "max-size" => trimmed
                .and_then(parse_u64)
                .map(Self::MaxSize)
                .ok_or("max-size")?,
            "setup" => trimmed
                .and_then(Setup::parse)
                .map(Self::Setup)
                .ok_or("setup")?,
            "connection" => trimmed
                .and_then(TcpConnection::parse)
                .map(Self::Connection)
                .ok_or("connection")?,
            "fingerprint" => trimmed
                .and_then(Fingerprint::parse)
                .map(Self::Fingerprint)
                .ok_or("fingerprint")?,
            "msrp-cema" if no_value => Self::MsrpCema,
            "msrp-cema" => return Err("msrp-cema"),
            "sendrecv" | "sendonly" | "recvonly" | "inactive" => {
                let direction = Direction::parse(name).unwrap_or_default();
                if !no_value {
                    return Err(direction.as_str());
                }
                Self::Direction(direction)
            }
            "chatroom" => {
                let tokens: Vec<String> = trimmed
                    .unwrap_or("")
                    .split([' ', '\t'])
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect();
                if !tokens.iter().all(|t| is_token(t)) {
                    return Err("chatroom");
                }
                Self::Chatroom(Chatroom { tokens })
            }
            "file-selector" => FileSelector::parse(trimmed.unwrap_or(""))
                .map(Self::FileSelector)
                .ok_or("file-selector")?,
            "file-transfer-id" => match trimmed {
                Some(v) if is_token(v) => Self::FileTransferId(v.to_owned()),
                _ => return Err("file-transfer-id"),
            },
            "file-disposition" => match trimmed {
                Some(v) if is_token(v) => Self::FileDisposition(v.to_owned()),
                _ => return Err("file-disposition"),
            },
            "file-date" => trimmed
                .and_then(FileDate::parse)
                .map(Self::FileDate)
                .ok_or("file-date")?,
            "file-icon" => match trimmed {
                Some(v) if is_cid_url(v) => Self::FileIcon(v.to_owned()),
                _ => return Err("file-icon"),
            },
            "file-range" => trimmed
                .and_then(FileRange::parse)
                .map(Self::FileRange)
                .ok_or("file-range")?,
            _ => Self::Other {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            },
        };
        Ok(attr)
    }
}

/// Whether `v` looks like an RFC 2392 `cid-url`: `cid:` and a non-empty content-id without
/// whitespace.
fn is_cid_url(v: &str) -> bool {
    super::syntax::strip_prefix_ignore_case(v, "cid:").is_some_and(|id| {
        !id.is_empty()
            && !id
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    })
}

impl fmt::Display for Attribute {
    /// Writes the attribute as it follows `a=` on its line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(path) => write!(f, "path:{path}"),
            Self::AcceptTypes(list) => {
                f.write_str("accept-types:")?;
                write_format_list(f, list)
            }
            Self::AcceptWrappedTypes(list) => {
                f.write_str("accept-wrapped-types:")?;
                write_format_list(f, list)
            }
            Self::MaxSize(size) => write!(f, "max-size:{size}"),
            Self::Setup(setup) => write!(f, "setup:{setup}"),
            Self::Connection(c) => write!(f, "connection:{c}"),
            Self::Fingerprint(fp) => write!(f, "fingerprint:{fp}"),
            Self::MsrpCema => f.write_str("msrp-cema"),
            Self::Direction(d) => f.write_str(d.as_str()),
            Self::Chatroom(room) => {
                f.write_str("chatroom")?;
                for (i, token) in room.tokens.iter().enumerate() {
                    f.write_str(if i == 0 { ":" } else { " " })?;
                    f.write_str(token)?;
                }
                Ok(())
            }
            Self::FileSelector(selector) => {
                f.write_str("file-selector")?;
                if !selector.is_empty() {
                    write!(f, ":{selector}")?;
                }
                Ok(())
            }
            Self::FileTransferId(id) => write!(f, "file-transfer-id:{id}"),
            Self::FileDisposition(d) => write!(f, "file-disposition:{d}"),
            Self::FileDate(date) => write!(f, "file-date:{date}"),
            Self::FileIcon(icon) => write!(f, "file-icon:{icon}"),
            Self::FileRange(range) => write!(f, "file-range:{range}"),
            Self::Other {
                name,
                value: Some(value),
            } => write!(f, "{name}:{value}"),
            Self::Other { name, value: None } => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_entries() {
        assert_eq!(FormatEntry::parse("*"), Some(FormatEntry::Any));
        let e = FormatEntry::parse("text/plain;charset=\"utf-8\";q=1").unwrap();
        assert_eq!(e.to_string(), "text/plain;charset=\"utf-8\";q=1");
        assert!(e.matches("TEXT", "Plain"));
        assert!(!e.matches("text", "html"));
        assert!(
            FormatEntry::parse("text/*")
                .unwrap()
                .matches("text", "html")
        );
        assert!(FormatEntry::parse("text").is_none());
        assert!(FormatEntry::parse("text/").is_none());
        assert!(FormatEntry::parse("text/plain;x").is_none());
        assert!(FormatEntry::parse("text/plain;x=\"a").is_none());
        assert_eq!(
            FormatEntry::parse_list(" message/cpim  text/plain ").unwrap(),
            vec![
                FormatEntry::media("message", "cpim"),
                FormatEntry::media("text", "plain")
            ]
        );
        assert!(FormatEntry::parse_list("").is_none());
    }

    #[test]
    fn flags_reject_values() {
        assert_eq!(Attribute::parse("msrp-cema"), Ok(Attribute::MsrpCema));
        assert_eq!(Attribute::parse("msrp-cema:"), Ok(Attribute::MsrpCema));
        assert_eq!(Attribute::parse("msrp-cema:x"), Err("msrp-cema"));
        assert_eq!(Attribute::parse("sendonly:x"), Err("sendonly"));
        assert_eq!(
            Attribute::parse("recvonly"),
            Ok(Attribute::Direction(Direction::RecvOnly))
        );
    }

    #[test]
    fn other_attributes_keep_their_text() {
        assert_eq!(
            Attribute::parse("x-foo: a:b "),
            Ok(Attribute::Other {
                name: "x-foo".into(),
                value: Some(" a:b ".into())
            })
        );
        assert_eq!(
            Attribute::parse("Path:x"),
            Ok(Attribute::Other {
                name: "Path".into(),
                value: Some("x".into())
            })
        );
    }

    #[test]
    fn directions() {
        assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
        assert_eq!(
            Direction::SendRecv.intersect(Direction::RecvOnly),
            Direction::RecvOnly
        );
        assert_eq!(
            Direction::SendOnly.intersect(Direction::RecvOnly),
            Direction::Inactive
        );
    }
}
