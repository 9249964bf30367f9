//! What goes in and out of a [`Relay`](crate::Relay): names, instructions to the I/O layer,
//! events, errors.

use core::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// Names a connection of a relay. Its low 32 bits alone tell the live connections apart, so an
/// I/O layer may use them as a smaller token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub(crate) u64);

impl ConnectionId {
    /// The connection's number.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The connection that [`as_u64`](Self::as_u64) gave this number for, for an I/O layer
    /// that keeps numbers. A number that names no live connection finds nothing.
    pub const fn from_u64(n: u64) -> Self {
        Self(n)
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionId({})", self.0)
    }
}

/// Where the I/O layer is to connect, for [`Action::Connect`]: the next hop of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    /// The host of the next hop's URI: to look up unless it is an IP literal, and the name a
    /// TLS server certificate is checked against.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Whether the connection is TLS (an `msrps:` URI).
    pub secure: bool,
    /// The address, when the host is an IP literal.
    pub addr: Option<SocketAddr>,
}

/// What the relay tells the I/O layer to do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Open this connection to a next hop, then call
    /// [`handle_established`](crate::Relay::handle_established), or
    /// [`handle_lost`](crate::Relay::handle_lost) if it fails.
    Connect {
        /// The connection.
        connection: ConnectionId,
        /// Where to.
        target: Box<Target>,
    },
    /// The connection has output: call [`poll_transmit`](crate::Relay::poll_transmit) when it
    /// can take bytes.
    Transmit(ConnectionId),
    /// The connection takes input again: the connection it forwards to has written enough of
    /// what waited. Read it (and call [`resume`](crate::Relay::resume) for what it holds).
    Resume(ConnectionId),
    /// Close the connection and forget it: the relay has let go of it.
    Close(ConnectionId),
}

/// Why the relay let go of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The I/O layer lost it.
    Lost,
    /// The peer broke the framing of the byte stream.
    Framing(msrp_wire::ParseError),
    /// A request not addressed to this relay (RFC 4976 §6.2: "the relay immediately drops the
    /// corresponding connection").
    NotAddressed,
    /// No request came in time (RFC 4976 §6.1).
    NoRequest,
    /// Too many AUTH requests with refused credentials (RFC 4976 §6.3).
    AuthFailures,
    /// Not set up in time.
    SetupTimeout,
    /// Unused for the idle timeout (RFC 4976 §6.5).
    Idle,
    /// A frame it was sending stalled: no byte of it for the frame timeout.
    FrameTimeout,
    /// The relay shut down.
    Shutdown,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lost => f.write_str("connection lost"),
            Self::Framing(e) => write!(f, "framing error: {e}"),
            Self::NotAddressed => f.write_str("a request not addressed to this relay"),
            Self::NoRequest => f.write_str("no request in time"),
            Self::AuthFailures => f.write_str("too many failed AUTH requests"),
            Self::SetupTimeout => f.write_str("connection setup timed out"),
            Self::Idle => f.write_str("unused for too long"),
            Self::FrameTimeout => f.write_str("a frame stalled"),
            Self::Shutdown => f.write_str("relay shut down"),
        }
    }
}

impl std::error::Error for CloseReason {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Framing(e) => Some(e),
            _ => None,
        }
    }
}

/// Why an incoming connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcceptError {
    /// The relay has as many connections as it may.
    TooManyConnections,
    /// The relay is shutting down.
    Shutdown,
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooManyConnections => "too many connections",
            Self::Shutdown => "the relay is shutting down",
        })
    }
}

impl std::error::Error for AcceptError {}

/// Something a relay has to tell its operator.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayEvent {
    /// A client was granted a URI (RFC 4976 §6.3).
    Authenticated {
        /// The client's connection.
        connection: ConnectionId,
        /// The digest user, when credentials were asked for.
        user: Option<String>,
        /// The URI granted (the Use-Path).
        uri: String,
        /// How long it is valid.
        expires: Duration,
    },
    /// An AUTH was refused: credentials wrong or missing after a challenge, an unknown user,
    /// or an Expires out of bounds.
    AuthRefused {
        /// The client's connection.
        connection: ConnectionId,
        /// The user named, if any.
        user: Option<String>,
        /// The status answered (401, 403, 423).
        status: u16,
    },
    /// A granted URI is no longer valid: it expired, or its client's connection closed.
    SessionEnded {
        /// The URI.
        uri: String,
    },
    /// A failure REPORT was sent to the sender of a SEND that could not be delivered on (RFC
    /// 4976 §6.4.1).
    FailureReported {
        /// The status reported (408 when the next hop did not answer or could not be reached).
        status: u16,
        /// The Message-ID of the message.
        message_id: String,
    },
    /// A connection is gone.
    ConnectionClosed {
        /// The connection.
        connection: ConnectionId,
        /// Its peer's address, if known.
        peer: Option<SocketAddr>,
        /// Why.
        reason: CloseReason,
    },
}

/// Counters of what a relay has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests forwarded to a next hop.
    pub forwarded: u64,
    /// Body bytes forwarded.
    pub forwarded_bytes: u64,
    /// Responses relayed back to a previous hop.
    pub relayed_responses: u64,
    /// Requests refused (481, 403, 400 …) or dropped.
    pub refused: u64,
    /// Failure REPORTs sent.
    pub failure_reports: u64,
}
