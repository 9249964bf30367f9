//! The MSRP URI type, its components, its parser and its builder.

use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::iter::FusedIterator;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use crate::error::{Error, ErrorKind};
use crate::syntax;

/// The port registered for MSRP by IANA (RFC 4975 §15.4).
///
/// It is a recommendation, not a default: RFC 4975 §6 says "This value is not a default, as the
/// URI negotiation process described herein will always include explicit port numbers." A URI
/// without a port therefore reports `None` from [`MsrpUri::port`], never this value.
pub const RECOMMENDED_PORT: u16 = 2855;

/// The scheme of an MSRP URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `msrp`: MSRP without TLS.
    Msrp,
    /// `msrps`: MSRP over TLS.
    Msrps,
}

impl Scheme {
    /// The scheme name in lowercase, as this crate writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Msrp => "msrp",
            Self::Msrps => "msrps",
        }
    }

    /// Whether the connection must be protected with TLS.
    ///
    /// RFC 4975 §6: "A scheme of "msrps" indicates that the underlying connection MUST be
    /// protected with TLS."
    pub fn is_secure(self) -> bool {
        self == Self::Msrps
    }

    /// Recognises a scheme name, ignoring ASCII case.
    fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("msrp") {
            Some(Self::Msrp)
        } else if name.eq_ignore_ascii_case("msrps") {
            Some(Self::Msrps)
        } else {
            None
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host of an MSRP URI's authority.
///
/// The derived `PartialEq` is structural: `Name("A.example")` differs from `Name("a.example")`.
/// Use [`MsrpUri::matches`] to compare URIs the way RFC 4975 §6.1 asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    /// A registered name (RFC 3986 `reg-name`), as written, percent-encoding included.
    ///
    /// When given to [`MsrpUriBuilder`], a name that is a dotted-quad IPv4 address is stored as
    /// that address, so the built URI reports [`Host::V4`].
    Name(&'a str),
    /// An IPv4 address in dotted-quad notation.
    V4(Ipv4Addr),
    /// An IPv6 address, written between brackets in the URI.
    V6(Ipv6Addr),
}

impl Host<'_> {
    /// The IP address, if the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Self::Name(_) => None,
            Self::V4(a) => Some(IpAddr::V4(a)),
            Self::V6(a) => Some(IpAddr::V6(a)),
        }
    }

    /// Whether the host is a numeric IP address.
    pub fn is_ip(&self) -> bool {
        !matches!(self, Self::Name(_))
    }
}

impl From<IpAddr> for Host<'_> {
    fn from(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => Self::V4(a),
            IpAddr::V6(a) => Self::V6(a),
        }
    }
}

impl From<Ipv4Addr> for Host<'_> {
    fn from(addr: Ipv4Addr) -> Self {
        Self::V4(addr)
    }
}

impl From<Ipv6Addr> for Host<'_> {
    fn from(addr: Ipv6Addr) -> Self {
        Self::V6(addr)
    }
}

impl fmt::Display for Host<'_> {
    /// Writes the host as it appears in a URI: IPv6 addresses in brackets, in their canonical
    /// form (which may differ from how a parsed URI spelled them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::V4(a) => write!(f, "{a}"),
            Self::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// The transport parameter of an MSRP URI.
///
/// RFC 4975 defines `tcp`; RFC 7977 §5.2.1 adds `ws` (MSRP over WebSocket). Any other
/// `1*ALPHANUM` value is kept as written in [`Transport::Other`].
///
/// Equality and hashing ignore ASCII case, as RFC 4975 §6.1 asks ("The transport parameter is
/// case insensitive."), so `Transport::Other("TCP") == Transport::Tcp`.
#[derive(Clone, Copy, Debug)]
pub enum Transport<'a> {
    /// `tcp` (RFC 4975).
    Tcp,
    /// `ws`, MSRP over WebSocket (RFC 7977).
    Ws,
    /// Any other transport name, as written.
    Other(&'a str),
}

impl<'a> Transport<'a> {
    /// Classifies a transport name: `tcp` and `ws` in any case become [`Transport::Tcp`] and
    /// [`Transport::Ws`], anything else [`Transport::Other`]. The name is not validated here;
    /// [`MsrpUriBuilder::build`] does that.
    pub fn from_name(name: &'a str) -> Self {
        if name.eq_ignore_ascii_case("tcp") {
            Self::Tcp
        } else if name.eq_ignore_ascii_case("ws") {
            Self::Ws
        } else {
            Self::Other(name)
        }
    }

    /// The transport name: `tcp`, `ws`, or the other name as written.
    pub fn as_str(&self) -> &'a str {
        match *self {
            Self::Tcp => "tcp",
            Self::Ws => "ws",
            Self::Other(name) => name,
        }
    }
}

impl PartialEq for Transport<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str().eq_ignore_ascii_case(other.as_str())
    }
}

impl Eq for Transport<'_> {}

impl Hash for Transport<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Hashing the lowercased bytes keeps `Hash` consistent with the case-insensitive `Eq`.
        for b in self.as_str().bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

impl fmt::Display for Transport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A byte range of the URI text.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
}

/// The host as stored: addresses parsed, names as a range of the text.
#[derive(Clone, Copy, Debug)]
enum HostRepr {
    Name(Span),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// The transport as stored.
#[derive(Clone, Copy, Debug)]
enum TransportRepr {
    Tcp,
    Ws,
    Other(Span),
}

/// Where each component of a parsed URI lies in its text.
#[derive(Clone, Copy, Debug)]
struct Parts {
    scheme: Scheme,
    userinfo: Option<Span>,
    host: HostRepr,
    /// The host as written, brackets included.
    host_span: Span,
    port: Option<u16>,
    authority_end: usize,
    session_id: Option<Span>,
    transport: TransportRepr,
    /// The position of the `;` that starts the first parameter after the transport, or the
    /// length of the text when there is none.
    params_start: usize,
}

/// An `msrp:` or `msrps:` URI (RFC 4975 §6 and §9).
///
/// The URI keeps the text it was parsed from, so `Display` writes back exactly that text,
/// original case and spelling included. The accessors give typed views of its components.
///
/// `MsrpUri` deliberately does not implement `PartialEq`: two URIs are "the same" in MSRP
/// when [`MsrpUri::matches`] says so (RFC 4975 §6.1), which is neither text equality nor
/// component equality. Compare [`MsrpUri::as_str`] for exact text equality.
///
/// ```
/// use msrp_uri::{Host, MsrpUri, Scheme, Transport};
///
/// let uri: MsrpUri = "msrps://bob@[2001:db8::1]:2855/s3cr3t;tcp;x=1".parse()?;
/// assert_eq!(uri.scheme(), Scheme::Msrps);
/// assert_eq!(uri.userinfo(), Some("bob"));
/// assert_eq!(uri.host(), Host::V6("2001:db8::1".parse().unwrap()));
/// assert_eq!(uri.port(), Some(2855));
/// assert_eq!(uri.session_id(), Some("s3cr3t"));
/// assert_eq!(uri.transport(), Transport::Tcp);
/// assert_eq!(uri.param("X"), Some(Some("1")));
/// # Ok::<(), msrp_uri::Error>(())
/// ```
#[derive(Clone)]
pub struct MsrpUri {
    text: String,
    parts: Parts,
}

/// Returns `s[start..end]`, or the empty string if that is not a valid range of `s`.
///
/// Every range used in this module ends at an ASCII delimiter or at the end of the text, so
/// the fallback is never taken; it only exists so that no input can make slicing panic.
fn sub(s: &str, start: usize, end: usize) -> &str {
    s.get(start..end).unwrap_or("")
}

/// The position of the first byte at or after `from` that satisfies `pred`, or `s.len()`.
fn find_from(s: &str, from: usize, pred: impl Fn(u8) -> bool) -> usize {
    s.as_bytes()
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| pred(b)))
        .map_or(s.len(), |i| from + i)
}

/// Classifies a host that is not bracketed: a dotted-quad IPv4 address or a registered name.
fn classify_plain_host(text: &str, start: usize) -> Result<HostRepr, Error> {
    if let Ok(addr) = text.parse::<Ipv4Addr>() {
        return Ok(HostRepr::V4(addr));
    }
    syntax::check_reg_name(text).map_err(|e| e.shifted(start))?;
    Ok(HostRepr::Name(Span {
        start,
        end: start + text.len(),
    }))
}

/// Parses the text of an MSRP URI into the positions of its components.
///
/// The text is scanned once from left to right; every component is checked as it is found.
fn parse_parts(s: &str) -> Result<Parts, Error> {
    if s.is_empty() {
        return Err(Error::new(ErrorKind::Empty, 0));
    }

    // `msrp-scheme "://"`. The scheme ends at the first character that RFC 3986 does not allow
    // in a scheme, so that "http://" is reported as a wrong scheme, not a missing separator.
    let scheme_end = find_from(s, 0, |b| {
        !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    });
    let scheme =
        Scheme::from_name(sub(s, 0, scheme_end)).ok_or(Error::new(ErrorKind::InvalidScheme, 0))?;
    if !sub(s, scheme_end, s.len()).starts_with("://") {
        return Err(Error::new(ErrorKind::MissingSchemeSeparator, scheme_end));
    }

    // `authority`: it ends at "/" (session-id) or ";" (transport).
    let authority_start = scheme_end + 3;
    let authority_end = find_from(s, authority_start, |b| b == b'/' || b == b';');
    let authority = sub(s, authority_start, authority_end);

    // `[ userinfo "@" ]`: neither userinfo nor host may hold a raw "@", so the first one splits.
    let (userinfo, host_start) = match authority.find('@') {
        Some(at) => {
            syntax::check_userinfo(sub(authority, 0, at))
                .map_err(|e| e.shifted(authority_start))?;
            let span = Span {
                start: authority_start,
                end: authority_start + at,
            };
            (Some(span), authority_start + at + 1)
        }
        None => (None, authority_start),
    };

    // `host [ ":" port ]`.
    let hostport = sub(s, host_start, authority_end);
    let (host, host_len, port_text) = if hostport.starts_with('[') {
        let close = hostport
            .find(']')
            .ok_or(Error::new(ErrorKind::InvalidIpLiteral, host_start))?;
        let literal = sub(hostport, 1, close);
        // RFC 3986 IPvFuture ("v" HEXDIG ...) has no defined meaning, so it is refused, and so
        // is anything else that std's IPv6 parser does not accept (zone identifiers included).
        let addr = literal
            .parse::<Ipv6Addr>()
            .map_err(|_| Error::new(ErrorKind::InvalidIpLiteral, host_start + 1))?;
        let rest = sub(hostport, close + 1, hostport.len());
        let port_text = if rest.is_empty() {
            None
        } else if let Some(port) = rest.strip_prefix(':') {
            Some(port)
        } else {
            return Err(Error::new(ErrorKind::InvalidHost, host_start + close + 1));
        };
        (HostRepr::V6(addr), close + 1, port_text)
    } else {
        let (name, port_text) = match hostport.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (hostport, None),
        };
        (
            classify_plain_host(name, host_start)?,
            name.len(),
            port_text,
        )
    };
    let port = match port_text {
        Some(text) => {
            let port_start = host_start + host_len + 1;
            Some(syntax::parse_port(text).map_err(|e| e.shifted(port_start))?)
        }
        None => None,
    };
    // RFC 4975 §6: "If the authority field contains a numeric IP address, it MUST also
    // contain a port."
    if port.is_none() && matches!(host, HostRepr::V4(_) | HostRepr::V6(_)) {
        return Err(Error::new(ErrorKind::MissingPort, authority_end));
    }

    // `["/" session-id]`: it runs up to the ";" of the transport.
    let mut pos = authority_end;
    let session_id = if s.as_bytes().get(pos) == Some(&b'/') {
        let start = pos + 1;
        let end = find_from(s, start, |b| b == b';');
        syntax::check_session_id(sub(s, start, end)).map_err(|e| e.shifted(start))?;
        pos = end;
        Some(Span { start, end })
    } else {
        None
    };

    // `";" transport`. Here `pos` is either at a ";" or at the end of the text.
    if pos >= s.len() {
        return Err(Error::new(ErrorKind::MissingTransport, pos));
    }
    let transport_start = pos + 1;
    let transport_end = find_from(s, transport_start, |b| b == b';');
    let transport_text = sub(s, transport_start, transport_end);
    syntax::check_transport(transport_text).map_err(|e| e.shifted(transport_start))?;
    let transport = match Transport::from_name(transport_text) {
        Transport::Tcp => TransportRepr::Tcp,
        Transport::Ws => TransportRepr::Ws,
        Transport::Other(_) => TransportRepr::Other(Span {
            start: transport_start,
            end: transport_end,
        }),
    };

    // `*( ";" URI-parameter )`.
    let mut pos = transport_end;
    while pos < s.len() {
        let start = pos + 1;
        let end = find_from(s, start, |b| b == b';');
        syntax::check_parameter(sub(s, start, end)).map_err(|e| e.shifted(start))?;
        pos = end;
    }

    Ok(Parts {
        scheme,
        userinfo,
        host,
        host_span: Span {
            start: host_start,
            end: host_start + host_len,
        },
        port,
        authority_end,
        session_id,
        transport,
        params_start: transport_end,
    })
}

impl MsrpUri {
    /// Parses an MSRP URI.
    ///
    /// The whole string must be one URI: no surrounding whitespace, no second URI. To parse a
    /// To-Path, From-Path or Use-Path value, use [`Path::parse`](crate::Path::parse).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let parts = parse_parts(text)?;
        Ok(Self {
            text: text.to_owned(),
            parts,
        })
    }

    /// Makes a URI from its usual components, checking each one.
    ///
    /// This is a shorthand for [`MsrpUri::builder`]; use the builder to add a userinfo or
    /// further URI parameters.
    ///
    /// ```
    /// use msrp_uri::{Host, MsrpUri, Scheme, Transport};
    /// use std::net::Ipv4Addr;
    ///
    /// let host = Host::V4(Ipv4Addr::new(192, 0, 2, 7));
    /// let uri = MsrpUri::new(Scheme::Msrp, host, Some(2855), Some("abc"), Transport::Tcp)?;
    /// assert_eq!(uri.to_string(), "msrp://192.0.2.7:2855/abc;tcp");
    /// # Ok::<(), msrp_uri::Error>(())
    /// ```
    pub fn new(
        scheme: Scheme,
        host: Host<'_>,
        port: Option<u16>,
        session_id: Option<&str>,
        transport: Transport<'_>,
    ) -> Result<Self, Error> {
        let mut builder = Self::builder(scheme, host).transport(transport);
        if let Some(port) = port {
            builder = builder.port(port);
        }
        if let Some(session_id) = session_id {
            builder = builder.session_id(session_id);
        }
        builder.build()
    }

    /// Starts building a URI with the `tcp` transport, no port, no session-id, no userinfo and
    /// no parameters.
    pub fn builder(scheme: Scheme, host: Host<'_>) -> MsrpUriBuilder<'_> {
        MsrpUriBuilder {
            scheme,
            userinfo: None,
            host,
            port: None,
            session_id: None,
            transport: Transport::Tcp,
            params: Vec::new(),
        }
    }

    fn span(&self, span: Span) -> &str {
        sub(&self.text, span.start, span.end)
    }

    /// The whole URI, exactly as parsed or built.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.parts.scheme
    }

    /// The userinfo (the part before `@`), as written, if there is one.
    pub fn userinfo(&self) -> Option<&str> {
        self.parts.userinfo.map(|span| self.span(span))
    }

    /// The host.
    pub fn host(&self) -> Host<'_> {
        match self.parts.host {
            HostRepr::Name(span) => Host::Name(self.span(span)),
            HostRepr::V4(a) => Host::V4(a),
            HostRepr::V6(a) => Host::V6(a),
        }
    }

    /// The host as written, with the brackets of an IPv6 address.
    pub fn host_str(&self) -> &str {
        self.span(self.parts.host_span)
    }

    /// The port, if the URI gives one.
    pub fn port(&self) -> Option<u16> {
        self.parts.port
    }

    /// The whole authority as written: `[userinfo "@"] host [":" port]`.
    pub fn authority(&self) -> &str {
        let start = self.parts.scheme.as_str().len() + 3;
        sub(&self.text, start, self.parts.authority_end)
    }

    /// The socket address to connect to, when the host is an IP address.
    ///
    /// A parsed or built URI with an IP address always has a port (RFC 4975 §6), so this is
    /// `None` exactly when the host is a name, which needs a DNS lookup first (RFC 4975 §6.2).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip = self.host().ip()?;
        Some(SocketAddr::new(ip, self.parts.port?))
    }

    /// The session-id, if the URI has one.
    ///
    /// RFC 4975 §6: "The absence of the session-id part indicates a reference to an MSRP host
    /// device, but does not refer to a particular session at that device."
    pub fn session_id(&self) -> Option<&str> {
        self.parts.session_id.map(|span| self.span(span))
    }

    /// The transport.
    pub fn transport(&self) -> Transport<'_> {
        match self.parts.transport {
            TransportRepr::Tcp => Transport::Tcp,
            TransportRepr::Ws => Transport::Ws,
            TransportRepr::Other(span) => Transport::Other(self.span(span)),
        }
    }

    /// The URI parameters after the transport, in order, as `(name, value)` pairs as written.
    pub fn params(&self) -> Params<'_> {
        Params {
            rest: sub(&self.text, self.parts.params_start, self.text.len()),
        }
    }

    /// Looks up a URI parameter by name, ignoring ASCII case (RFC 4975 §9: "token is compared
    /// case-insensitive").
    ///
    /// Returns `None` if the parameter is absent, `Some(None)` if it is present without a value,
    /// and `Some(Some(value))` otherwise. The first of several parameters with that name wins.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// Compares two URIs by the rules of RFC 4975 §6.1.
    ///
    /// In short: the scheme is compared ignoring case; the userinfo is ignored; IP addresses
    /// are compared as addresses (so `[::1]` matches `[0:0:0:0:0:0:0:1]`) and names as
    /// case-insensitive text after decoding percent-encoded unreserved characters; the ports
    /// and the session-ids must be equal, or absent from both; the transports must be equal,
    /// ignoring case. Further URI parameters are not compared, as §6.1 does not list them.
    ///
    /// An IP address never matches a name, and an IPv4 address never matches an IPv6 address
    /// (not even its IPv4-mapped form): nothing is resolved.
    ///
    /// ```
    /// use msrp_uri::MsrpUri;
    ///
    /// let a: MsrpUri = "MSRP://Alice@Host.Example.COM:7777/iau39;TCP".parse()?;
    /// let b: MsrpUri = "msrp://host.%65xample.com:7777/iau39;tcp".parse()?;
    /// let c: MsrpUri = "msrp://host.example.com:7777/IAU39;tcp".parse()?;
    /// assert!(a.matches(&b));
    /// assert!(!a.matches(&c));
    /// # Ok::<(), msrp_uri::Error>(())
    /// ```
    pub fn matches(&self, other: &MsrpUri) -> bool {
        // RFC 4975 §6.1: "The scheme MUST match.  Scheme comparison is case insensitive."
        // The scheme was recognised ignoring case, so the enums compare that way already.
        if self.scheme() != other.scheme() {
            return false;
        }

        // RFC 4975 §6.1: "Userinfo parts are not considered for URI comparison."
        // Neither userinfo is looked at below.

        let hosts_match = match (self.host(), other.host()) {
            // RFC 4975 §6.1: "If the authority component contains an explicit IP address
            // and/or port, these are compared for address and port equivalence."
            (Host::V4(a), Host::V4(b)) => a == b,
            (Host::V6(a), Host::V6(b)) => a == b,
            // RFC 4975 §6.1: "Percent-encoding normalization [10] applies; that is, if any
            // percent-encoded nonreserved characters exist in the authority component, they
            // must be decoded prior to comparison."
            // RFC 4975 §6.1: "Otherwise, the authority component is compared as a
            // case-insensitive character string."
            (Host::Name(a), Host::Name(b)) => {
                syntax::normalized_name(a).eq(syntax::normalized_name(b))
            }
            // An address and a name, or addresses of different families, are never equivalent
            // without resolution, and comparison resolves nothing.
            _ => false,
        };
        if !hosts_match {
            return false;
        }

        // RFC 4975 §6.1: "If the port exists explicitly in either URI, then it MUST match
        // exactly.  A URI with an explicit port is never equivalent to another with no port
        // specified."
        // Ports are compared as numbers ("port equivalence"), so "080" matches "80".
        if self.port() != other.port() {
            return false;
        }

        // RFC 4975 §6.1: "The session-id part is compared as case sensitive.  A URI without a
        // session-id part is never equivalent to one that includes one."
        // RFC 4975 §6.1: "Path normalization [10] is not relevant for MSRP URIs."
        // So session-ids are compared byte for byte, with no decoding and no dot-segment removal.
        if self.session_id() != other.session_id() {
            return false;
        }

        // RFC 4975 §6.1: "URIs with different "transport" parameters never match.  Two URIs
        // that are identical except for transport are not equivalent.  The transport
        // parameter is case insensitive."
        // `Transport`'s equality ignores case.
        self.transport() == other.transport()
    }
}

impl fmt::Display for MsrpUri {
    /// Writes the URI exactly as it was parsed or built.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for MsrpUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MsrpUri").field(&self.text).finish()
    }
}

impl FromStr for MsrpUri {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for MsrpUri {
    type Error = Error;

    fn try_from(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for MsrpUri {
    type Error = Error;

    /// Parses a URI, keeping the given string as its text without copying it.
    fn try_from(text: String) -> Result<Self, Error> {
        let parts = parse_parts(&text)?;
        Ok(Self { text, parts })
    }
}

impl AsRef<str> for MsrpUri {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// An iterator over the URI parameters that follow the transport, from [`MsrpUri::params`].
///
/// Each item is `(name, value)`, as written; `value` is `None` for a parameter without `=`.
#[derive(Clone, Debug)]
pub struct Params<'a> {
    /// The parameters not yet returned: empty, or starting with `;`.
    rest: &'a str,
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        let body = self.rest.strip_prefix(';')?;
        let (param, rest) = match body.find(';') {
            Some(i) => (sub(body, 0, i), sub(body, i, body.len())),
            None => (body, ""),
        };
        self.rest = rest;
        Some(match param.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (param, None),
        })
    }
}

impl FusedIterator for Params<'_> {}

/// Builds an [`MsrpUri`] from components, checking each one; from [`MsrpUri::builder`].
///
/// ```
/// use msrp_uri::{Host, MsrpUri, Scheme, Transport};
///
/// let uri = MsrpUri::builder(Scheme::Msrps, Host::Name("relay.example.net"))
///     .userinfo("alice")
///     .port(2855)
///     .session_id("kwvin5f")
///     .transport(Transport::Ws)
///     .param("rtc", None)
///     .build()?;
/// assert_eq!(uri.as_str(), "msrps://alice@relay.example.net:2855/kwvin5f;ws;rtc");
/// # Ok::<(), msrp_uri::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct MsrpUriBuilder<'a> {
    scheme: Scheme,
    userinfo: Option<&'a str>,
    host: Host<'a>,
    port: Option<u16>,
    session_id: Option<&'a str>,
    transport: Transport<'a>,
    params: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> MsrpUriBuilder<'a> {
    /// Sets the userinfo, written before `@`. It must not contain `:` (no password).
    pub fn userinfo(mut self, userinfo: &'a str) -> Self {
        self.userinfo = Some(userinfo);
        self
    }

    /// Sets the port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets the session-id, for example one from
    /// [`generate_session_id`](crate::generate_session_id).
    pub fn session_id(mut self, session_id: &'a str) -> Self {
        self.session_id = Some(session_id);
        self
    }

    /// Sets the transport (the default is [`Transport::Tcp`]).
    pub fn transport(mut self, transport: Transport<'a>) -> Self {
        self.transport = transport;
        self
    }

    /// Appends a URI parameter after the transport: `;name` or `;name=value`.
    pub fn param(mut self, name: &'a str, value: Option<&'a str>) -> Self {
        self.params.push((name, value));
        self
    }

    /// Checks every component and builds the URI.
    ///
    /// Error offsets point into the URI text as it would have been written.
    pub fn build(self) -> Result<MsrpUri, Error> {
        let mut text = String::with_capacity(64);
        text.push_str(self.scheme.as_str());
        text.push_str("://");
        if let Some(userinfo) = self.userinfo {
            syntax::check_userinfo(userinfo).map_err(|e| e.shifted(text.len()))?;
            text.push_str(userinfo);
            text.push('@');
        }
        // Writing to a `String` cannot fail, so the `fmt::Result`s below are always `Ok`.
        match self.host {
            Host::Name(name) => {
                // A name that is an IPv4 address becomes that address when the text is parsed
                // below; anything else must be a registered name.
                if name.parse::<Ipv4Addr>().is_err() {
                    syntax::check_reg_name(name).map_err(|e| e.shifted(text.len()))?;
                }
                text.push_str(name);
            }
            Host::V4(addr) => {
                let _ = write!(text, "{addr}");
            }
            Host::V6(addr) => {
                let _ = write!(text, "[{addr}]");
            }
        }
        if let Some(port) = self.port {
            let _ = write!(text, ":{port}");
        }
        if let Some(session_id) = self.session_id {
            text.push('/');
            syntax::check_session_id(session_id).map_err(|e| e.shifted(text.len()))?;
            text.push_str(session_id);
        }
        text.push(';');
        syntax::check_transport(self.transport.as_str()).map_err(|e| e.shifted(text.len()))?;
        text.push_str(self.transport.as_str());
        for (name, value) in self.params {
            text.push(';');
            syntax::check_token(name).map_err(|e| e.shifted(text.len()))?;
            text.push_str(name);
            if let Some(value) = value {
                text.push('=');
                syntax::check_token(value).map_err(|e| e.shifted(text.len()))?;
                text.push_str(value);
            }
        }
        // Every component was checked on its own, so the only error left to find here is a
        // numeric address without a port.
        MsrpUri::try_from(text)
    }
}
