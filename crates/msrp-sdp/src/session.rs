//! The SDP session description: the session-level lines and the list of media descriptions, with
//! the parser and the encoder.

use std::fmt;

use super::attribute::{Attribute, Direction, Fingerprint};
use super::error::{ParseError, ParseErrorKind};
use super::media::{Media, MsrpMedia, OtherMedia, Protocol};
use super::syntax::{parse_u16, parse_u64};

/// A line of a type that the description keeps as text: `<kind>=<value>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SdpLine {
    /// The type letter before `=`.
    pub kind: char,
    /// Everything after `=`, as written.
    pub value: String,
}

impl SdpLine {
    /// A line of type `kind` with the given value.
    pub fn new(kind: char, value: &str) -> Self {
        Self {
            kind,
            value: value.to_owned(),
        }
    }
}

impl fmt::Display for SdpLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.kind, self.value)
    }
}

/// The `o=` line: `<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The user name, `-` when there is none.
    pub username: String,
    /// The session id, a numeric string kept as written.
    pub session_id: String,
    /// The session version. RFC 4975 §8.4: "If either party wishes to send an SDP document that
    /// changes nothing at all, then it MUST use the same o-line as in the previous exchange";
    /// otherwise the version grows.
    pub session_version: u64,
    /// The network type, `IN`.
    pub net_type: String,
    /// The address type, `IP4` or `IP6`.
    pub addr_type: String,
    /// The address of the originating host.
    pub address: String,
}

impl Origin {
    fn parse(value: &str) -> Option<Self> {
        let fields: Vec<&str> = value.split(' ').filter(|s| !s.is_empty()).collect();
        let [username, session_id, version, net_type, addr_type, address] = fields.as_slice()
        else {
            return None;
        };
        if !super::syntax::is_digits(session_id) {
            return None;
        }
        Some(Self {
            username: (*username).to_owned(),
            session_id: (*session_id).to_owned(),
            session_version: parse_u64(version)?,
            net_type: (*net_type).to_owned(),
            addr_type: (*addr_type).to_owned(),
            address: (*address).to_owned(),
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.net_type,
            self.addr_type,
            self.address
        )
    }
}

/// The `c=` line: `<nettype> <addrtype> <connection-address>`.
///
/// RFC 4975 §8.1: "The connection address field MUST be set to the IP address or fully qualified
/// domain name from the MSRP URI identifying the endpoint in its path attribute."
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionData {
    /// The network type, `IN`.
    pub net_type: String,
    /// The address type, `IP4` or `IP6`.
    pub addr_type: String,
    /// The address: an IP address or a fully qualified domain name.
    pub address: String,
}

impl ConnectionData {
    /// `IN IP4 <address>`, or `IN IP6 <address>` when the address holds a `:`.
    pub fn for_host(host: &str) -> Self {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addr_type = if host.contains(':') { "IP6" } else { "IP4" };
        Self {
            net_type: "IN".to_owned(),
            addr_type: addr_type.to_owned(),
            address: host.to_owned(),
        }
    }

    fn parse(value: &str) -> Option<Self> {
        let fields: Vec<&str> = value.split(' ').filter(|s| !s.is_empty()).collect();
        let [net_type, addr_type, address] = fields.as_slice() else {
            return None;
        };
        Some(Self {
            net_type: (*net_type).to_owned(),
            addr_type: (*addr_type).to_owned(),
            address: (*address).to_owned(),
        })
    }
}

impl fmt::Display for ConnectionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

/// The first `t=` line: `<start-time> <stop-time>`, both 0 for an unbounded session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Timing {
    /// The start time (NTP seconds), 0 for none.
    pub start: u64,
    /// The stop time (NTP seconds), 0 for none.
    pub stop: u64,
}

impl Timing {
    fn parse(value: &str) -> Option<Self> {
        let fields: Vec<&str> = value.split(' ').filter(|s| !s.is_empty()).collect();
        let [start, stop] = fields.as_slice() else {
            return None;
        };
        Some(Self {
            start: parse_u64(start)?,
            stop: parse_u64(stop)?,
        })
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.start, self.stop)
    }
}

/// An SDP session description, or a fragment of one.
///
/// The RFC examples that carry MSRP are not all complete descriptions: several start at `c=` or
/// `m=`, some have an empty `s=`, some have no `t=`. Every session-level line is therefore
/// optional, and a description without `v=` is a fragment. Lines the module has no type for are
/// kept, not dropped: session-level ones in `other_lines`, media-level ones inside each media.
///
/// Encoding (`Display`, [`SessionDescription::encode`]) writes CRLF-terminated lines in the order
/// of RFC 4566: `v= o= s=`, then `i= u= e= p=` lines, `c=`, `b=` lines, `t=` with any later `t=`
/// and `r=` lines, `z=` and `k=` lines, the session attributes, lines of unknown type, and the
/// media descriptions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SessionDescription {
    /// The `v=` value; `None` for a fragment. Only `0` is defined.
    pub version: Option<u32>,
    /// The `o=` line.
    pub origin: Option<Origin>,
    /// The `s=` value as written, possibly empty or starting with a space.
    pub session_name: Option<String>,
    /// The session-level `c=` line, which applies to every media description without its own.
    pub connection: Option<ConnectionData>,
    /// The first `t=` line.
    pub timing: Option<Timing>,
    /// The session-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// The other session-level lines, in order. The parser never puts `v=`, `o=`, `s=`, `c=` or
    /// `a=` lines here, and puts a `t=` line here only after the first one; the encoder writes
    /// these lines in RFC 4566 order, keeping the order among lines of the same type.
    pub other_lines: Vec<SdpLine>,
    /// The media descriptions, in order.
    pub media: Vec<Media>,
}

impl SessionDescription {
    /// A complete description with `v=0`, the given origin, `s=-`, `t=0 0` and no media.
    pub fn new(origin: Origin) -> Self {
        Self {
            version: Some(0),
            origin: Some(origin),
            session_name: Some("-".to_owned()),
            connection: None,
            timing: Some(Timing::default()),
            attributes: Vec::new(),
            other_lines: Vec::new(),
            media: Vec::new(),
        }
    }

    /// Parses a description with the default [`ParserConfig`]; see [`crate::parse`].
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        ParserConfig::default().parse(input)
    }

    /// Whether this is a fragment, that is has no `v=` line.
    pub fn is_fragment(&self) -> bool {
        self.version.is_none()
    }

    /// The MSRP media descriptions with their index in [`SessionDescription::media`].
    pub fn msrp_media(&self) -> impl Iterator<Item = (usize, &MsrpMedia)> {
        self.media
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.as_msrp().map(|m| (i, m)))
    }

    /// The `c=` line that applies to media `index`: its own, or else the session-level one.
    pub fn media_connection(&self, index: usize) -> Option<&ConnectionData> {
        match self.media.get(index)? {
            Media::Msrp(m) => m.connection.as_ref().or(self.connection.as_ref()),
            Media::Other(_) => self.connection.as_ref(),
        }
    }

    /// The direction that applies to media `index`: its own direction attribute, else the
    /// session-level one, else `sendrecv`.
    pub fn media_direction(&self, index: usize) -> Direction {
        let media = self
            .media
            .get(index)
            .and_then(Media::as_msrp)
            .and_then(MsrpMedia::direction);
        media
            .or_else(|| self.session_direction())
            .unwrap_or_default()
    }

    /// The fingerprints that apply to media `index`: its own, or else the session-level ones
    /// (RFC 4572 allows both levels).
    pub fn media_fingerprints(&self, index: usize) -> Vec<&Fingerprint> {
        let own: Vec<&Fingerprint> = self
            .media
            .get(index)
            .and_then(Media::as_msrp)
            .map(|m| m.fingerprints().collect())
            .unwrap_or_default();
        if !own.is_empty() {
            return own;
        }
        self.attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::Fingerprint(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    fn session_direction(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
    }

    /// Appends the description as CRLF-terminated lines to `out`.
    pub fn encode(&self, out: &mut String) {
        use fmt::Write;
        // Writing into a `String` cannot fail.
        let _ = write!(out, "{self}");
    }
}

/// The position of a session-level line type in RFC 4566 order. Lines of unknown type go last.
fn session_rank(kind: char) -> u8 {
    match kind {
        'v' => 0,
        'o' => 1,
        's' => 2,
        'i' => 3,
        'u' => 4,
        'e' => 5,
        'p' => 6,
        'c' => 7,
        'b' => 8,
        // Later `t=` lines share the rank of `r=` lines so that each keeps its repeat lines.
        't' | 'r' => 9,
        'z' => 10,
        'k' => 11,
        _ => 13,
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let others =
            |f: &mut fmt::Formatter<'_>, ranks: std::ops::RangeInclusive<u8>| -> fmt::Result {
                for line in self
                    .other_lines
                    .iter()
                    .filter(|l| ranks.contains(&session_rank(l.kind)))
                {
                    write!(f, "{line}\r\n")?;
                }
                Ok(())
            };
        if let Some(v) = self.version {
            write!(f, "v={v}\r\n")?;
        }
        if let Some(o) = &self.origin {
            write!(f, "o={o}\r\n")?;
        }
        if let Some(s) = &self.session_name {
            write!(f, "s={s}\r\n")?;
        }
        others(f, 0..=6)?;
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        others(f, 7..=8)?;
        if let Some(t) = &self.timing {
            write!(f, "t={t}\r\n")?;
        }
        others(f, 9..=11)?;
        for attribute in &self.attributes {
            write!(f, "a={attribute}\r\n")?;
        }
        others(f, 12..=u8::MAX)?;
        for media in &self.media {
            write!(f, "{media}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for SessionDescription {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())
    }
}

/// Limits applied while parsing a session description; every one has a safe default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParserConfig {
    /// The longest input accepted, in bytes. Default 64 KiB.
    pub max_len: usize,
    /// The most lines accepted. Default 1024.
    pub max_lines: usize,
}

impl Default for ParserConfig {
    fn default() -> Self {
        Self {
            max_len: 64 * 1024,
            max_lines: 1024,
        }
    }
}

/// Where the parser is: before the first `m=` line, or inside a media description.
enum Section {
    Session,
    Media,
}

impl ParserConfig {
    /// Parses a session description or a fragment of one. Never panics.
    ///
    /// Lines may end in CRLF or in a bare LF; empty lines are skipped. A description that starts
    /// with `v=` is complete; one that starts with any other line (such as `c=` or `m=`) is a
    /// fragment, whose lines before the first `m=` are session-level.
    pub fn parse(&self, input: &[u8]) -> Result<SessionDescription, ParseError> {
        if input.len() > self.max_len {
            return Err(ParseError::new(0, ParseErrorKind::TooLong));
        }
        let text =
            std::str::from_utf8(input).map_err(|_| ParseError::new(0, ParseErrorKind::NotUtf8))?;
        let mut sd = SessionDescription::default();
        let mut section = Section::Session;
        let mut seen_lines = 0usize;
        for (index, raw) in text.split('\n').enumerate() {
            let number = index + 1;
            let err = |kind| ParseError::new(number, kind);
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.is_empty() {
                continue;
            }
            seen_lines += 1;
            if seen_lines > self.max_lines {
                return Err(ParseError::new(0, ParseErrorKind::TooManyLines));
            }
            let bytes = line.as_bytes();
            if bytes.len() < 2
                || bytes[1] != b'='
                || !bytes[0].is_ascii_alphabetic()
                || line.contains('\r')
            {
                return Err(err(ParseErrorKind::InvalidLine));
            }
            let kind = char::from(bytes[0]);
            let value = &line[2..];
            if kind == 'm' {
                sd.media
                    .push(parse_media_line(value).ok_or(err(ParseErrorKind::InvalidMediaLine))?);
                section = Section::Media;
                continue;
            }
            match section {
                Section::Session => {
                    parse_session_line(&mut sd, kind, value, seen_lines).map_err(err)?
                }
                Section::Media => {
                    // A media section exists: `section` only becomes `Media` after a push.
                    if let Some(media) = sd.media.last_mut() {
                        parse_media_level_line(media, kind, value).map_err(err)?;
                    }
                }
            }
        }
        Ok(sd)
    }
}

fn parse_session_line(
    sd: &mut SessionDescription,
    kind: char,
    value: &str,
    position: usize,
) -> Result<(), ParseErrorKind> {
    match kind {
        'v' => {
            // RFC 4566: the description starts with `v=`, and version 0 is the only one.
            if position != 1 || value != "0" {
                return Err(ParseErrorKind::InvalidVersion);
            }
            sd.version = Some(0);
        }
        'o' => {
            let origin = Origin::parse(value).ok_or(ParseErrorKind::InvalidOrigin)?;
            if sd.origin.replace(origin).is_some() {
                return Err(ParseErrorKind::DuplicateLine);
            }
        }
        's' => {
            if sd.session_name.replace(value.to_owned()).is_some() {
                return Err(ParseErrorKind::DuplicateLine);
            }
        }
        'c' => {
            let c = ConnectionData::parse(value).ok_or(ParseErrorKind::InvalidConnection)?;
            if sd.connection.replace(c).is_some() {
                return Err(ParseErrorKind::DuplicateLine);
            }
        }
        't' if sd.timing.is_none() => {
            sd.timing = Some(Timing::parse(value).ok_or(ParseErrorKind::InvalidTiming)?);
        }
        'a' => sd
            .attributes
            .push(Attribute::parse(value).map_err(ParseErrorKind::InvalidAttribute)?),
        _ => sd.other_lines.push(SdpLine::new(kind, value)),
    }
    Ok(())
}

fn parse_media_line(value: &str) -> Option<Media> {
    let mut fields = value.split(' ').filter(|s| !s.is_empty());
    let media = fields.next()?;
    let port_field = fields.next()?;
    let protocol = fields.next()?;
    let formats: Vec<String> = fields.map(str::to_owned).collect();
    let (port, port_count) = match port_field.split_once('/') {
        Some((p, n)) => (parse_u16(p)?, Some(parse_u16(n)?)),
        None => (parse_u16(port_field)?, None),
    };
    if media == "message" {
        if let Some(protocol) = Protocol::parse(protocol) {
            // An MSRP media line names one port: the one of the endpoint's MSRP URI.
            if port_count.is_some() {
                return None;
            }
            return Some(Media::Msrp(MsrpMedia {
                port,
                protocol,
                formats,
                title: None,
                connection: None,
                other_lines: Vec::new(),
                attributes: Vec::new(),
            }));
        }
    }
    Some(Media::Other(OtherMedia {
        media: media.to_owned(),
        port,
        port_count,
        protocol: protocol.to_owned(),
        formats,
        lines: Vec::new(),
    }))
}

fn parse_media_level_line(
    media: &mut Media,
    kind: char,
    value: &str,
) -> Result<(), ParseErrorKind> {
    let media = match media {
        Media::Msrp(m) => m,
        Media::Other(m) => {
            m.lines.push(SdpLine::new(kind, value));
            return Ok(());
        }
    };
    match kind {
        'a' => media
            .attributes
            .push(Attribute::parse(value).map_err(ParseErrorKind::InvalidAttribute)?),
        'i' => {
            if media.title.replace(value.to_owned()).is_some() {
                return Err(ParseErrorKind::DuplicateLine);
            }
        }
        'c' if media.connection.is_none() => {
            media.connection =
                Some(ConnectionData::parse(value).ok_or(ParseErrorKind::InvalidConnection)?);
        }
        _ => media.other_lines.push(SdpLine::new(kind, value)),
    }
    Ok(())
}
