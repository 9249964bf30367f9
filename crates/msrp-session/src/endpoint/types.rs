//! What goes in and out of an [`Endpoint`](super::Endpoint): names, configuration, events,
//! instructions to the I/O layer, errors.

use core::any::Any;
use core::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use msrp_uri::{MsrpUri, Path};

use crate::Fingerprint;
use crate::Role;
use crate::config::{ConnectionConfig, SessionConfig};
use crate::event::{Event, Outcome, SessionFailure};
use crate::relay::Relay;
use crate::session::{ConfigError, SendError};

/// Names a session of an endpoint. A name is never reused for a later session while the
/// endpoint runs (until its 2^32nd session in one slot).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub(crate) u64);

/// Names a connection of an endpoint, as [`SessionId`] names sessions. Its low 32 bits alone
/// tell the live connections apart, so an I/O layer may use them as a smaller token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub(crate) u64);

/// Names a message sent through an endpoint, from [`Endpoint::send`](super::Endpoint::send) to
/// its [`EndpointEvent::Outcome`] or [`EndpointEvent::Refused`]. The caller chooses it, so that
/// a message can be named before the endpoint sees it (a command on its way from another
/// thread); the endpoint only hands it back.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageRef(u64);

macro_rules! raw_id {
    ($name:ident, $what:literal) => {
        impl $name {
            #[doc = concat!("The ", $what, "'s number.")]
            pub fn as_u64(self) -> u64 {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

raw_id!(SessionId, "session");
raw_id!(ConnectionId, "connection");
raw_id!(MessageRef, "message");

impl ConnectionId {
    /// The connection that [`as_u64`](Self::as_u64) gave this number for, for an I/O layer
    /// that keeps numbers. A number that names no live connection finds nothing.
    pub const fn from_u64(n: u64) -> Self {
        Self(n)
    }
}

impl MessageRef {
    /// A message named by this number.
    pub const fn new(n: u64) -> Self {
        Self(n)
    }
}

/// Configuration of an [`Endpoint`](super::Endpoint): its connections, their limits and their
/// timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// The settings and wire limits of each connection.
    pub connection: ConnectionConfig,
    /// Connections at once, incoming and outgoing. When an incoming one would go past it, the
    /// oldest incoming connection that has not bound a session yet is closed to make room (so
    /// that a flood of idle connections cannot keep everyone else out); when there is none, the
    /// newcomer is refused, as is an outgoing connection. Default 4096.
    pub max_connections: usize,
    /// Incoming connections at once from one IP address; more from it are refused. Default 1024,
    /// a quarter of the default [`max_connections`](Self::max_connections): one address cannot
    /// take them all, and a gateway that opens a connection per session has room.
    pub max_connections_per_address: usize,
    /// Time an incoming connection has to be set up (its TLS handshake, in the I/O layer) and
    /// to bring the first request that binds it to a session (RFC 4975 §5.4); an idle or slow
    /// peer is dropped. Default 10 s.
    pub first_frame_timeout: Duration,
    /// Time an outgoing connection has to be set up: the peer's address found, connected, and
    /// TLS completed. Default 10 s.
    pub connect_timeout: Duration,
    /// Time a connection is kept once no session uses it, for new sessions to the same peer
    /// to reuse; then it is closed (RFC 4975 §4: nodes can "close these connections when no
    /// sessions have used them for some period of time"). Default 60 s.
    pub unused_connection_timeout: Duration,
    /// Time a connection may have output waiting without any of it being taken for the peer
    /// (the peer reads nothing, or its host is gone): then it is closed, and what it carried
    /// fails. A transfer that keeps moving never runs into it, however long it takes; RFC 4975
    /// §7.1.1's transaction timeout only starts when a chunk's last byte is written, which a
    /// stalled peer never lets happen. Default 30 s.
    pub write_timeout: Duration,
    /// Time a graceful [`shutdown`](super::Endpoint::shutdown) waits for the connections to
    /// finish what they carry before closing them. Default 5 s.
    pub shutdown_grace: Duration,
    /// Bytes all the endpoint's sessions together may have received beyond the first gap of
    /// their incoming messages (data that arrived ahead of bytes still missing); each session
    /// also has its own bound, [`Limits::max_gap_bytes`](crate::Limits::max_gap_bytes), and
    /// counts what it does there. A chunk that would go past either gets 413 (RFC 4975 §10.5)
    /// and its message is dropped; a message gives its bytes back when its gap fills or it
    /// ends. Many peers that each stay within their sessions' bound thus cannot, together,
    /// make the application hold more than this. Default 64 MiB.
    pub max_gap_bytes: u64,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            connection: ConnectionConfig::default(),
            max_connections: 4096,
            max_connections_per_address: 1024,
            first_frame_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            unused_connection_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
            max_gap_bytes: 64 << 20,
        }
    }
}

/// Trust anchors that the I/O layer verifies a peer's certificate chain against (RFC 4975
/// §5.4: "The SubjectAltName in the received certificate MUST match the hostname part of the
/// URI and the certificate MUST be valid"). The endpoint does not look inside: it compares
/// them by identity (two sessions share a connection only when they trust the same anchors)
/// and hands them back in [`Action::Connect`], where the I/O layer downcasts them.
#[derive(Clone)]
pub struct TrustAnchors(Arc<dyn Any + Send + Sync>);

impl TrustAnchors {
    /// Anchors of the I/O layer's own type.
    pub fn new<T: Any + Send + Sync>(anchors: Arc<T>) -> Self {
        Self(anchors)
    }

    /// The anchors, if they are of type `T`.
    pub fn downcast<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.0.clone().downcast().ok()
    }

    fn address(&self) -> *const () {
        Arc::as_ptr(&self.0).cast()
    }
}

impl PartialEq for TrustAnchors {
    fn eq(&self, other: &Self) -> bool {
        self.address() == other.address()
    }
}

impl Eq for TrustAnchors {}

impl core::hash::Hash for TrustAnchors {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.address().hash(state);
    }
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustAnchors({:p})", self.address())
    }
}

/// How the peer of an `msrps` session proves who it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerCheck {
    /// Nothing is checked: plain `msrp`, or a passive session that takes any client.
    #[default]
    None,
    /// The peer's certificate must match one of the fingerprints of its SDP (RFC 4975 §14.4:
    /// "if the fingerprint does not match the hashed certificate then the endpoint MUST tear
    /// down the media session immediately"). A passive session checks it when the peer's
    /// connection names the session; an active one has the I/O layer check it during the
    /// handshake.
    Fingerprints(Vec<Fingerprint>),
    /// The I/O layer verifies the peer's certificate against these anchors and the host name
    /// of the first URI of the peer's path.
    Anchors(TrustAnchors),
}

/// What an endpoint needs to open a session.
#[derive(Debug)]
#[non_exhaustive]
pub struct SessionSpec {
    /// The session: local URI, peer path, role, limits, report and chunking choices.
    pub config: SessionConfig,
    /// Where an active session connects; by default the host and port of the first URI of
    /// the peer's path.
    pub connect_to: Option<SocketAddr>,
    /// How the peer's certificate is checked; an active `msrps` session needs one.
    pub peer_check: PeerCheck,
    /// Whether an active session may share an existing connection to the same peer (RFC 4975
    /// §5.4: "If the sender already has such a connection, that is, one associated with the
    /// same host, port, and URI scheme, then it SHOULD reuse that connection"). Default `true`.
    pub reuse_connection: bool,
    /// The relays that act on this session's behalf, the one it connects to first (RFC 4976
    /// §5.1). Empty (the default) for a direct session. With relays, the session connects to
    /// the first one whatever its role (RFC 6135 §4.5: the UA "MUST always initiate a transport
    /// connection towards the relay"), and [`connect_to`](Self::connect_to) and
    /// [`peer_check`](Self::peer_check) are about that relay.
    pub relays: Vec<Relay>,
    /// Whether the first relay may be reached over plain TCP (an `msrp:` URI), for tests and
    /// trusted networks; RFC 4976 §9.2 wants TLS. Default `false`.
    pub plain_relay: bool,
}

impl SessionSpec {
    /// A session in this role that connects where its peer path says (when it is the active
    /// one), checks no certificate and shares connections.
    pub fn new(mut config: SessionConfig, role: Role) -> Self {
        config.role = role;
        Self {
            config,
            connect_to: None,
            peer_check: PeerCheck::None,
            reuse_connection: true,
            relays: Vec::new(),
            plain_relay: false,
        }
    }

    /// Goes through these relays, innermost (the one connected to) first: the session
    /// authenticates to each (RFC 4976 §5.1), is told its path with
    /// [`EndpointEvent::Authenticated`], and sends along their Use-Path.
    pub fn through(mut self, relays: Vec<Relay>) -> Self {
        self.relays = relays;
        self
    }

    /// Lets the first relay be reached over plain TCP (an `msrp:` URI): for tests and trusted
    /// networks only.
    pub fn allow_plain_relay(mut self) -> Self {
        self.plain_relay = true;
        self
    }

    /// Opens a connection of its own rather than sharing one.
    pub fn new_connection(mut self) -> Self {
        self.reuse_connection = false;
        self
    }

    /// Connects to this address instead of the first URI of the peer's path.
    pub fn connect_to(mut self, addr: SocketAddr) -> Self {
        self.connect_to = Some(addr);
        self
    }

    /// Checks the peer's certificate this way.
    pub fn peer_check(mut self, check: impl Into<PeerCheck>) -> Self {
        self.peer_check = check.into();
        self
    }
}

/// Where the I/O layer is to connect, for [`Action::Connect`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectTarget {
    /// The first URI of the peer's path: its host (to resolve, when `addr` is `None`; and the
    /// name a TLS server certificate is checked against), its port, and its scheme.
    pub uri: MsrpUri,
    /// The address to connect to, when it is known without a lookup: the session's
    /// [`connect_to`](SessionSpec::connect_to), or an IP literal in the URI.
    pub addr: Option<SocketAddr>,
    /// `Some` when the connection is TLS (`msrps`): how the server's certificate is checked.
    pub tls: Option<PeerCheck>,
}

impl ConnectTarget {
    /// The host name to look up when no address is known, and the port to connect to.
    pub fn host_port(&self) -> Option<(&str, u16)> {
        Some((self.uri.host_str(), self.uri.port()?))
    }
}

/// What the endpoint tells the I/O layer to do.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Action {
    /// Open this connection: find the address, connect (and complete TLS when
    /// [`ConnectTarget::tls`] says so), then call
    /// [`handle_established`](super::Endpoint::handle_established), or
    /// [`handle_lost`](super::Endpoint::handle_lost) if it fails.
    Connect {
        /// The connection.
        connection: ConnectionId,
        /// Where to (boxed: the other actions are small).
        target: Box<ConnectTarget>,
    },
    /// The connection has output: call [`poll_transmit`](super::Endpoint::poll_transmit)
    /// when it can take bytes.
    Transmit(ConnectionId),
    /// Close the connection and forget it: the endpoint has let go of it already (its
    /// sessions have failed, and [`EndpointEvent::ConnectionClosed`] said why).
    Close(ConnectionId),
}

/// Why the endpoint let go of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The I/O layer lost it ([`handle_lost`](super::Endpoint::handle_lost)): it knows why.
    Lost,
    /// The peer broke the framing of the byte stream.
    Framing(msrp_wire::ParseError),
    /// A frame stayed incomplete, without new bytes, for longer than
    /// [`ConnectionConfig::frame_timeout`].
    FrameTimeout,
    /// A frame's head took longer than [`ConnectionConfig::head_timeout`] to arrive.
    HeadTimeout,
    /// It was not set up in time: an outgoing one within
    /// [`EndpointConfig::connect_timeout`], an incoming one (with the request that names its
    /// session) within [`EndpointConfig::first_frame_timeout`].
    SetupTimeout,
    /// The peer's certificate does not match the fingerprint from the SDP of the session its
    /// first request named (RFC 4975 §14.4).
    Fingerprint,
    /// No session used it for [`EndpointConfig::unused_connection_timeout`].
    Unused,
    /// It had not bound a session yet, and was closed to make room for a newer connection when
    /// the endpoint had [`EndpointConfig::max_connections`].
    Displaced,
    /// Its output waited for [`EndpointConfig::write_timeout`] without any of it being taken:
    /// the peer reads nothing.
    Stalled,
    /// The endpoint shut down.
    Shutdown,
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lost => f.write_str("connection lost"),
            Self::Framing(_) => f.write_str("the peer broke MSRP framing"),
            Self::FrameTimeout => f.write_str("incomplete frame timed out"),
            Self::HeadTimeout => f.write_str("a frame's head took too long to arrive"),
            Self::SetupTimeout => f.write_str("connection setup timed out"),
            Self::Fingerprint => {
                f.write_str("the peer's certificate does not match the SDP fingerprint")
            }
            Self::Unused => f.write_str("no session used the connection"),
            Self::Displaced => f.write_str("closed to make room for a newer connection"),
            Self::Stalled => f.write_str("the peer took no data in time"),
            Self::Shutdown => f.write_str("endpoint shut down"),
        }
    }
}

impl std::error::Error for ConnectionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Framing(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a session could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The session configuration is unusable.
    Config(ConfigError),
    /// A session with the same session-id exists on this endpoint.
    Duplicate,
    /// An active `msrps` session was given no way to check its peer's certificate (RFC 4975
    /// §14.4: the active side is the TLS client and must know whom it talks to).
    NoPeerCheck,
    /// The first URI of the peer's path has no port, and no address was given.
    NoAddress,
    /// The endpoint has as many connections as it may.
    TooManyConnections,
    /// The connection to the peer carries as many sessions as it may.
    TooManySessions,
    /// The endpoint is shutting down.
    Shutdown,
    /// The first relay has an `msrp:` URI (plain TCP), which was not allowed
    /// ([`SessionSpec::allow_plain_relay`]).
    PlainRelay,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(_) => f.write_str("invalid session configuration"),
            Self::Duplicate => f.write_str("a session with this session-id exists already"),
            Self::NoPeerCheck => {
                f.write_str("an active msrps session needs the peer's fingerprint or trust anchors")
            }
            Self::NoAddress => f.write_str("the peer's URI has no port"),
            Self::TooManyConnections => f.write_str("too many connections"),
            Self::TooManySessions => f.write_str("too many sessions on the connection"),
            Self::Shutdown => f.write_str("the endpoint is shutting down"),
            Self::PlainRelay => {
                f.write_str("the relay is reached over plain TCP, which was not allowed")
            }
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ConfigError> for OpenError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

/// Why an incoming connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcceptError {
    /// The endpoint has as many connections as it may, and none it may close to make room.
    TooManyConnections,
    /// The peer's address has as many connections as one address may.
    TooManyFromAddress,
    /// The endpoint is shutting down.
    Shutdown,
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooManyConnections => "too many connections",
            Self::TooManyFromAddress => "too many connections from this address",
            Self::Shutdown => "the endpoint is shutting down",
        })
    }
}

impl std::error::Error for AcceptError {}

/// Something an endpoint has to tell the application. `E` is what a closed connection's
/// [`ConnectionClosed`](Self::ConnectionClosed) says: the endpoint's own
/// [`ConnectionError`], or an I/O layer's error type that tells more
/// ([`map_connection_error`](Self::map_connection_error)).
// Session events carry the frame head inline: boxing it would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[non_exhaustive]
pub enum EndpointEvent<E = ConnectionError> {
    /// An event of a session: messages received, requests refused, its failure. Outcomes of
    /// the messages sent through the endpoint come as [`Outcome`](Self::Outcome) instead.
    Session(SessionId, Event),
    /// The outcome of a message sent with [`Endpoint::send`](super::Endpoint::send): exactly
    /// one per message that was not [`Refused`](Self::Refused).
    Outcome {
        /// The session.
        session: SessionId,
        /// The message.
        message: MessageRef,
        /// Delivered, or failed and why.
        outcome: Outcome,
    },
    /// A message was refused before anything was sent (RFC 4975 §8.6), or its session was
    /// gone or failed before it could be: this is its outcome.
    Refused {
        /// The session.
        session: SessionId,
        /// The message.
        message: MessageRef,
        /// Why.
        error: SendError,
    },
    /// The session's connection is up: an active session connected (or shares a connection
    /// that is), or a passive session's peer connected and named it.
    Bound {
        /// The session.
        session: SessionId,
        /// The connection.
        connection: ConnectionId,
        /// The peer's address.
        peer: SocketAddr,
    },
    /// A session that goes through relays has its path (RFC 4976 §5.1): every relay granted
    /// it, or renewed it before it expired. `path` is what the peer sends to (the SDP
    /// `a=path`): the relays' URIs, outermost first, then the session's own URI. A renewal
    /// may grant other URIs than before: a peer told the old path still reaches the session
    /// while the relays keep it. The session is [`Bound`](Self::Bound) after its first one.
    Authenticated {
        /// The session.
        session: SessionId,
        /// The path to advertise.
        path: Path,
        /// How long the relays keep it (the shortest `Expires` they granted), when they say.
        /// The endpoint renews it before then.
        expires: Option<Duration>,
    },
    /// A connection that carried sessions is gone; each of them fails too (its messages in
    /// flight get their failed outcomes, then it reports [`Event::SessionFailed`]). This
    /// comes first, and says why.
    ConnectionClosed {
        /// The connection.
        connection: ConnectionId,
        /// The peer's address, if the connection got as far as knowing it.
        peer: Option<SocketAddr>,
        /// The sessions it carried.
        sessions: Vec<SessionId>,
        /// Why.
        error: E,
    },
}

impl<E> EndpointEvent<E> {
    /// The same event, with the error of [`ConnectionClosed`](Self::ConnectionClosed) mapped.
    pub fn map_connection_error<F>(
        self,
        map: impl FnOnce(ConnectionId, E) -> F,
    ) -> EndpointEvent<F> {
        match self {
            Self::Session(session, event) => EndpointEvent::Session(session, event),
            Self::Outcome {
                session,
                message,
                outcome,
            } => EndpointEvent::Outcome {
                session,
                message,
                outcome,
            },
            Self::Refused {
                session,
                message,
                error,
            } => EndpointEvent::Refused {
                session,
                message,
                error,
            },
            Self::Authenticated {
                session,
                path,
                expires,
            } => EndpointEvent::Authenticated {
                session,
                path,
                expires,
            },
            Self::Bound {
                session,
                connection,
                peer,
            } => EndpointEvent::Bound {
                session,
                connection,
                peer,
            },
            Self::ConnectionClosed {
                connection,
                peer,
                sessions,
                error,
            } => EndpointEvent::ConnectionClosed {
                connection,
                peer,
                sessions,
                error: map(connection, error),
            },
        }
    }
}

/// Why a session that never got a connection failed, as its [`Event::SessionFailed`] says.
pub(crate) const UNBOUND_FAILURE: SessionFailure = SessionFailure::ConnectionLost;
