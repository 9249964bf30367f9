//! The MSRP media description (`m=message <port> TCP/MSRP *` and its lines) and other media.

use std::fmt;

use super::attribute::{Attribute, Chatroom, Direction, Fingerprint, FormatEntry, Setup};
use super::file::{FileDate, FileDescription, FileRange, FileSelector};
use super::path::Path;
use super::session::{ConnectionData, SdpLine};

/// The transport protocol of an MSRP media line.
///
/// RFC 4975 §8.1: "An offered or accepted media-line for MSRP over TCP MUST include a protocol
/// field value of "TCP/MSRP", or "TCP/TLS/MSRP" for TLS." RFC 7977 §5.2.2 defines no protocol of
/// its own ("the MSRP WebSocket Client MUST specify "TCP/TLS/MSRP" protocols in the SDP m-line");
/// `TCP/WS/MSRP` and `TCP/WSS/MSRP` are the values some WebSocket clients send anyway, and are
/// accepted so that their offers can be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// `TCP/MSRP`.
    Tcp,
    /// `TCP/TLS/MSRP`.
    TcpTls,
    /// `TCP/WS/MSRP`.
    TcpWs,
    /// `TCP/WSS/MSRP`.
    TcpWss,
}

impl Protocol {
    /// Recognises a protocol field, ignoring ASCII case.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Tcp, Self::TcpTls, Self::TcpWs, Self::TcpWss]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text))
    }

    /// The protocol field as written in an `m=` line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "TCP/MSRP",
            Self::TcpTls => "TCP/TLS/MSRP",
            Self::TcpWs => "TCP/WS/MSRP",
            Self::TcpWss => "TCP/WSS/MSRP",
        }
    }

    /// Whether the protocol runs over TLS, and so goes with `msrps` URIs.
    pub fn is_tls(self) -> bool {
        matches!(self, Self::TcpTls | Self::TcpWss)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One MSRP media description: an `m=message` line with an MSRP protocol and the lines after it.
///
/// The lines are kept in three groups: the typed `i=` and `c=` lines, the other non-attribute
/// lines (`b=`, `k=`, a repeated `c=`, lines of unknown type) in order, and every `a=` line in
/// order. Encoding writes `m=`, `i=`, `c=`, the other lines, then the attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MsrpMedia {
    /// The port of the `m=` line. RFC 4975 §8.1: it "MUST match the port value used in the
    /// endpoint's MSRP URI in the path attribute", and is 0 in a rejected media line.
    pub port: u16,
    /// The protocol of the `m=` line.
    pub protocol: Protocol,
    /// The format list of the `m=` line; RFC 4975 §8.1: "The format list field MUST be set to
    /// "*"."
    pub formats: Vec<String>,
    /// The `i=` media title.
    pub title: Option<String>,
    /// The media-level `c=` line.
    pub connection: Option<ConnectionData>,
    /// Other non-attribute lines, in order. The parser never puts `a=` lines here, and puts an
    /// `i=` or `c=` line here only when `title` or `connection` is already taken; a description
    /// built by hand should follow the same rule to survive a round trip.
    pub other_lines: Vec<SdpLine>,
    /// The `a=` lines, in order.
    pub attributes: Vec<Attribute>,
}

impl MsrpMedia {
    /// A media description with the given port and protocol, the format list `*` and no other
    /// line.
    pub fn new(port: u16, protocol: Protocol) -> Self {
        Self {
            port,
            protocol,
            formats: vec!["*".to_owned()],
            title: None,
            connection: None,
            other_lines: Vec::new(),
            attributes: Vec::new(),
        }
    }

    /// Appends an attribute.
    pub fn push(&mut self, attribute: Attribute) {
        self.attributes.push(attribute);
    }

    /// The first `a=path`.
    pub fn path(&self) -> Option<&Path> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Path(p) => Some(p),
            _ => None,
        })
    }

    /// The first `a=accept-types`.
    pub fn accept_types(&self) -> Option<&[FormatEntry]> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::AcceptTypes(list) => Some(list.as_slice()),
            _ => None,
        })
    }

    /// The first `a=accept-wrapped-types`.
    pub fn accept_wrapped_types(&self) -> Option<&[FormatEntry]> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::AcceptWrappedTypes(list) => Some(list.as_slice()),
            _ => None,
        })
    }

    /// The first `a=max-size`.
    pub fn max_size(&self) -> Option<u64> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::MaxSize(n) => Some(*n),
            _ => None,
        })
    }

    /// The first `a=setup`.
    pub fn setup(&self) -> Option<Setup> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Setup(s) => Some(*s),
            _ => None,
        })
    }

    /// Every `a=fingerprint`, in order.
    pub fn fingerprints(&self) -> impl Iterator<Item = &Fingerprint> {
        self.attributes.iter().filter_map(|a| match a {
            Attribute::Fingerprint(f) => Some(f),
            _ => None,
        })
    }

    /// Whether `a=msrp-cema` is present.
    pub fn has_msrp_cema(&self) -> bool {
        self.attributes
            .iter()
            .any(|a| matches!(a, Attribute::MsrpCema))
    }

    /// The first media-level direction attribute.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
    }

    /// The first `a=chatroom`.
    pub fn chatroom(&self) -> Option<&Chatroom> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Chatroom(c) => Some(c),
            _ => None,
        })
    }

    /// The first `a=file-selector`.
    pub fn file_selector(&self) -> Option<&FileSelector> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::FileSelector(s) => Some(s),
            _ => None,
        })
    }

    /// The first `a=file-transfer-id`.
    pub fn file_transfer_id(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::FileTransferId(id) => Some(id.as_str()),
            _ => None,
        })
    }

    /// The first `a=file-disposition`.
    pub fn file_disposition(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::FileDisposition(d) => Some(d.as_str()),
            _ => None,
        })
    }

    /// The first `a=file-date`.
    pub fn file_date(&self) -> Option<&FileDate> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::FileDate(d) => Some(d),
            _ => None,
        })
    }

    /// The first `a=file-icon`.
    pub fn file_icon(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::FileIcon(i) => Some(i.as_str()),
            _ => None,
        })
    }

    /// The first `a=file-range`.
    pub fn file_range(&self) -> Option<FileRange> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::FileRange(r) => Some(*r),
            _ => None,
        })
    }

    /// The file transfer this media line describes: present when it has a non-empty
    /// `a=file-selector` and an `a=file-transfer-id`.
    pub fn file_description(&self) -> Option<FileDescription> {
        let selector = self.file_selector().filter(|s| !s.is_empty())?;
        Some(FileDescription {
            selector: selector.clone(),
            transfer_id: self.file_transfer_id()?.to_owned(),
            disposition: self.file_disposition().map(str::to_owned),
            date: self.file_date().cloned(),
            icon: self.file_icon().map(str::to_owned),
            range: self.file_range(),
        })
    }

    /// Appends the attributes of a file description in the order of the RFC 5547 examples.
    pub fn push_file_description(&mut self, file: &FileDescription) {
        self.push(Attribute::FileSelector(file.selector.clone()));
        self.push(Attribute::FileTransferId(file.transfer_id.clone()));
        if let Some(d) = &file.disposition {
            self.push(Attribute::FileDisposition(d.clone()));
        }
        if let Some(d) = &file.date {
            self.push(Attribute::FileDate(d.clone()));
        }
        if let Some(i) = &file.icon {
            self.push(Attribute::FileIcon(i.clone()));
        }
        if let Some(r) = file.range {
            self.push(Attribute::FileRange(r));
        }
    }
}

impl fmt::Display for MsrpMedia {
    /// Writes the media description as CRLF-terminated lines, starting with `m=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m=message {} {}", self.port, self.protocol)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        f.write_str("\r\n")?;
        if let Some(title) = &self.title {
            write!(f, "i={title}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for line in &self.other_lines {
            write!(f, "{line}\r\n")?;
        }
        for attribute in &self.attributes {
            write!(f, "a={attribute}\r\n")?;
        }
        Ok(())
    }
}

/// A media description that is not MSRP (audio, video, or `m=message` with another protocol),
/// kept line by line so that it survives a round trip and can be rejected in an answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OtherMedia {
    /// The media field, such as `audio`.
    pub media: String,
    /// The port.
    pub port: u16,
    /// The number of ports after a `/`, if any.
    pub port_count: Option<u16>,
    /// The protocol field, such as `RTP/AVP`.
    pub protocol: String,
    /// The format list.
    pub formats: Vec<String>,
    /// Every line after the `m=` line, in order.
    pub lines: Vec<SdpLine>,
}

impl fmt::Display for OtherMedia {
    /// Writes the media description as CRLF-terminated lines, starting with `m=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.protocol)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        f.write_str("\r\n")?;
        for line in &self.lines {
            write!(f, "{line}\r\n")?;
        }
        Ok(())
    }
}

/// One media description of a session.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Media {
    /// `m=message` with an MSRP protocol.
    Msrp(MsrpMedia),
    /// Any other media description.
    Other(OtherMedia),
}

impl Media {
    /// The MSRP media description, if this is one.
    pub fn as_msrp(&self) -> Option<&MsrpMedia> {
        match self {
            Self::Msrp(m) => Some(m),
            Self::Other(_) => None,
        }
    }

    /// The port of the `m=` line.
    pub fn port(&self) -> u16 {
        match self {
            Self::Msrp(m) => m.port,
            Self::Other(m) => m.port,
        }
    }
}

impl fmt::Display for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Msrp(m) => m.fmt(f),
            Self::Other(m) => m.fmt(f),
        }
    }
}
