//! The public face of an endpoint: configuration, handles, commands and events.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::Duration;

use mio::Waker;
use msrp_session::{ConnectionConfig, Event, Outcome, OutgoingMessage, SendError, SessionConfig};

use crate::tls::{Identity, PeerVerification};

/// Configuration of an [`Endpoint`](crate::Endpoint).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// The sans-IO connection settings and wire limits.
    pub connection: ConnectionConfig,
    /// The certificate for `msrps`; a self-signed one is generated when TLS is used without one.
    pub identity: Option<Identity>,
    /// Connections at once, incoming and outgoing; more are refused. Default 4096.
    pub max_connections: usize,
    /// Time an incoming connection has to complete its TLS handshake and first request, which
    /// binds it to a session (RFC 4975 §5.4); an idle or slow peer is dropped. Default 10 s.
    pub first_frame_timeout: Duration,
    /// Time a connection is kept once no session uses it, for new sessions to the same peer
    /// to reuse; then it is closed (RFC 4975 §4: nodes can "close these connections when no
    /// sessions have used them for some period of time"). Default 60 s.
    pub unused_connection_timeout: Duration,
    /// Time an outgoing connection has to connect (and complete TLS). Default 10 s.
    pub connect_timeout: Duration,
    /// Bytes read from a socket at a time. Default 256 KiB.
    pub read_size: usize,
    /// Bytes of output queued per connection before the sessions stop producing more (bodies
    /// are pulled from memory or files only as the socket takes them). Default 256 KiB.
    pub write_buffer: usize,
    /// Events queued for the application before the endpoint stops reading from its
    /// connections. Default 4096.
    pub event_capacity: usize,
    /// Bytes of message data (bodies of [`Event::MessageData`] and [`Event::Message`]) queued
    /// for the application before the endpoint stops reading from its connections: the data
    /// points into the buffers it was read into, which stay allocated until the application
    /// drops it. Default 16 MiB.
    pub event_bytes: usize,
    /// Commands queued from [`Handle`]s before a sending thread blocks. Default 4096.
    pub command_capacity: usize,
    /// Time a graceful [`shutdown`](crate::Endpoint::shutdown) waits for connections to drain.
    /// Default 5 s.
    pub shutdown_grace: Duration,
    /// Time the event loop keeps polling, without sleeping, for the next event when the last
    /// one came that soon: the 200 to a SEND it just wrote, say. Waking a sleeping thread on
    /// another CPU can take longer than the whole exchange on loopback (measured on a 2-vCPU
    /// VM: 200-byte SENDs in lockstep, about 16,000 round trips per second without, 70,000
    /// with 50 µs). The price is CPU time: while events keep coming less than this apart, the
    /// loop polls between them instead of sleeping (yielding its CPU to other threads as it
    /// does); it sleeps again as soon as a wait runs out, so an idle endpoint costs nothing.
    /// Zero turns it off. Default 50 µs.
    pub busy_poll: Duration,
    /// Time the event loop polls, without sleeping, after it wrote to a connection that is
    /// still being set up (a connection is set up once MSRP bytes have come in on it): the
    /// answer to a TLS handshake flight, or to the first request on a new connection, comes as
    /// soon as the peer has done a public-key operation or two, and a sleeping thread can take
    /// longer to wake up than that (measured on a 2-vCPU VM, new `msrps` connections with a
    /// first SEND answered, one after the other: about 1,700 per second without, 1,750 with
    /// 200 µs, 2,100 with 500 µs). The polling stops at the first event, and only the
    /// endpoint's own writes start it, three times per connection at most (what a peer sends
    /// does not); the price is at most this much CPU time per flight written, when nothing else
    /// is happening. Zero turns it off. Default 500 µs.
    pub setup_poll: Duration,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            connection: ConnectionConfig::default(),
            identity: None,
            max_connections: 4096,
            first_frame_timeout: Duration::from_secs(10),
            unused_connection_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            read_size: 256 << 10,
            write_buffer: 256 << 10,
            event_capacity: 4096,
            event_bytes: 16 << 20,
            command_capacity: 4096,
            shutdown_grace: Duration::from_secs(5),
            busy_poll: Duration::from_micros(50),
            setup_poll: Duration::from_micros(500),
        }
    }
}

/// Which side opens the connection: the role of `msrp-sdp`, through `msrp-session`.
pub use msrp_session::Role;

/// What an endpoint needs to open a session.
#[derive(Debug)]
#[non_exhaustive]
pub struct SessionSpec {
    /// The session: local URI, peer path, who connects ([`SessionConfig::role`]), limits,
    /// report and chunking choices.
    pub config: SessionConfig,
    /// Where an active session connects; by default the address of the first URI of the peer
    /// path (its host name resolved).
    pub connect_to: Option<SocketAddr>,
    /// How the peer's certificate is checked; required when the peer path uses `msrps`.
    pub verification: Option<PeerVerification>,
    /// Whether an active session may share an existing connection to the same peer (RFC 4975
    /// §5.4: it "SHOULD reuse that connection"). Default `true`.
    pub reuse_connection: bool,
}

impl SessionSpec {
    /// A session with the given role (set in `config.role`), connecting where the peer path
    /// says, without TLS checks.
    pub fn new(mut config: SessionConfig, role: Role) -> Self {
        config.role = role;
        Self {
            config,
            connect_to: None,
            verification: None,
            reuse_connection: true,
        }
    }

    /// Opens a connection of its own rather than sharing one.
    pub fn new_connection(mut self) -> Self {
        self.reuse_connection = false;
        self
    }

    /// Connects to this address instead of resolving the peer path.
    pub fn connect_to(mut self, addr: SocketAddr) -> Self {
        self.connect_to = Some(addr);
        self
    }

    /// Checks the peer's certificate this way.
    pub fn verification(mut self, verification: PeerVerification) -> Self {
        self.verification = Some(verification);
        self
    }
}

/// Names a session of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub(crate) u64);

/// Names a message sent through an endpoint, from [`Handle::send`] to its
/// [`EndpointEvent::Outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageRef(pub(crate) u64);

/// What went wrong with a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportError {
    /// Connecting failed (refused, unreachable, or timed out).
    Connect(String),
    /// Reading or writing failed, or the peer reset the connection.
    Io(String),
    /// The peer closed the connection.
    Closed,
    /// The TLS handshake or record layer failed (including a certificate that does not match
    /// the fingerprint from the SDP, RFC 4975 §14.4).
    Tls(String),
    /// The peer's certificate does not match the fingerprint its SDP announced (RFC 4975 §14.4:
    /// "the endpoint MUST tear down the media session immediately").
    Fingerprint,
    /// The peer broke MSRP framing.
    Framing(String),
    /// The peer did not complete its first request, or a frame, in time.
    Timeout,
    /// The connection limit was reached.
    TooManyConnections,
    /// The endpoint shut down.
    Shutdown,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
            Self::Io(e) => write!(f, "connection error: {e}"),
            Self::Closed => f.write_str("connection closed by the peer"),
            Self::Tls(e) => write!(f, "TLS failure: {e}"),
            Self::Fingerprint => f.write_str("TLS certificate does not match the SDP fingerprint"),
            Self::Framing(e) => write!(f, "MSRP framing error: {e}"),
            Self::Timeout => f.write_str("connection timed out"),
            Self::TooManyConnections => f.write_str("too many connections"),
            Self::Shutdown => f.write_str("endpoint shut down"),
        }
    }
}

impl std::error::Error for TransportError {}

/// Why a session could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The session configuration is unusable.
    Config(msrp_session::ConfigError),
    /// A session with the same session-id exists on this endpoint.
    Duplicate,
    /// The peer path is `msrps` but no verification was given, or TLS could not be set up.
    Tls(String),
    /// The peer's address could not be found.
    Resolve(String),
    /// Connecting could not start.
    Connect(String),
    /// The endpoint has shut down.
    Shutdown,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "invalid session: {e}"),
            Self::Duplicate => f.write_str("a session with this session-id exists already"),
            Self::Tls(e) => write!(f, "TLS: {e}"),
            Self::Resolve(e) => write!(f, "cannot resolve the peer: {e}"),
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
            Self::Shutdown => f.write_str("the endpoint has shut down"),
        }
    }
}

impl std::error::Error for OpenError {}

/// Something an endpoint has to tell the application.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum EndpointEvent {
    /// An event of a session: messages received, its failure. Outcomes of messages sent through
    /// the endpoint come as [`EndpointEvent::Outcome`] instead.
    Session(SessionId, Event),
    /// The outcome of a message sent with [`Handle::send`] or [`Context::send`](crate::Context::send): exactly one per
    /// message.
    Outcome {
        /// The session.
        session: SessionId,
        /// The message.
        message: MessageRef,
        /// Delivered, or failed and why.
        outcome: Outcome,
    },
    /// A message was refused before anything was sent (RFC 4975 §8.6), or its session is gone.
    /// This is its outcome.
    Refused {
        /// The session.
        session: SessionId,
        /// The message.
        message: MessageRef,
        /// Why.
        error: SendError,
    },
    /// The session's connection is up: an active session connected (and completed TLS), or a
    /// passive session's peer connected and named it.
    Bound {
        /// The session.
        session: SessionId,
        /// The peer's address.
        peer: SocketAddr,
    },
    /// A connection failed or closed; its sessions fail too (each reports
    /// [`Event::SessionFailed`]). This says why.
    ConnectionError {
        /// The peer's address.
        peer: SocketAddr,
        /// The sessions the connection carried.
        sessions: Vec<SessionId>,
        /// What happened.
        error: TransportError,
    },
}

/// A command from a [`Handle`] to the event loop.
pub(crate) enum Command {
    Listen {
        addr: SocketAddr,
        tls: bool,
        reply: SyncSender<io::Result<SocketAddr>>,
    },
    Open {
        id: SessionId,
        spec: Box<SessionSpec>,
        reply: SyncSender<Result<(), OpenError>>,
    },
    Send {
        session: SessionId,
        message: MessageRef,
        outgoing: OutgoingMessage,
    },
    Abort {
        session: SessionId,
        message: MessageRef,
    },
    Close {
        session: SessionId,
    },
    Shutdown,
}

/// What the handles, the event receiver and the loop share.
pub(crate) struct Shared {
    pub(crate) waker: Waker,
    /// Set when the loop was woken and has not drained its commands yet: later commands need no
    /// further wake-up.
    pub(crate) woken: AtomicBool,
    pub(crate) next_session: AtomicU64,
    pub(crate) next_message: AtomicU64,
    /// Events in the channel not yet received by the application.
    pub(crate) queued_events: AtomicUsize,
    /// Bytes of message data in those events ([`data_len`]).
    pub(crate) queued_bytes: AtomicUsize,
    /// Set while the loop has stopped reading because the application lags.
    pub(crate) reading_paused: AtomicBool,
    pub(crate) event_capacity: usize,
    pub(crate) event_bytes: usize,
    pub(crate) fingerprint: Option<msrp_sdp::Fingerprint>,
}

impl Shared {
    pub(crate) fn wake(&self) {
        if !self.woken.swap(true, Ordering::AcqRel) {
            // A failed wake-up means the loop is gone; commands then fail on their own.
            let _ = self.waker.wake();
        }
    }
}

/// A thread-safe handle to an endpoint's event loop: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Handle {
    pub(crate) commands: SyncSender<Command>,
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl Handle {
    fn command(&self, command: Command) -> bool {
        let sent = self.commands.send(command).is_ok();
        self.shared.wake();
        sent
    }

    /// Listens on `addr` (port 0 picks a free one) and returns the bound address. With `tls`,
    /// connections to it are `msrps`.
    pub fn listen(&self, addr: SocketAddr, tls: bool) -> io::Result<SocketAddr> {
        let (reply, answer) = mpsc::sync_channel(1);
        if !self.command(Command::Listen { addr, tls, reply }) {
            return Err(io::Error::other("the endpoint has shut down"));
        }
        answer
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the endpoint has shut down")))
    }

    /// Opens a session: an active one connects (or reuses a connection to the same peer, RFC
    /// 4975 §5.4), a passive one waits for its peer.
    pub fn open_session(&self, spec: SessionSpec) -> Result<SessionId, OpenError> {
        let id = SessionId(self.shared.next_session.fetch_add(1, Ordering::Relaxed));
        let (reply, answer) = mpsc::sync_channel(1);
        let command = Command::Open {
            id,
            spec: Box::new(spec),
            reply,
        };
        if !self.command(command) {
            return Err(OpenError::Shutdown);
        }
        answer.recv().unwrap_or(Err(OpenError::Shutdown))?;
        Ok(id)
    }

    /// Queues a message; its outcome arrives as an event. Blocks only while the command queue
    /// is full.
    pub fn send(&self, session: SessionId, outgoing: OutgoingMessage) -> MessageRef {
        let message = MessageRef(self.shared.next_message.fetch_add(1, Ordering::Relaxed));
        self.command(Command::Send {
            session,
            message,
            outgoing,
        });
        message
    }

    /// Aborts a message.
    pub fn abort(&self, session: SessionId, message: MessageRef) {
        self.command(Command::Abort { session, message });
    }

    /// Closes a session: messages without an outcome fail.
    pub fn close_session(&self, session: SessionId) {
        self.command(Command::Close { session });
    }

    /// Asks the endpoint to shut down gracefully.
    pub fn shutdown(&self) {
        self.command(Command::Shutdown);
    }

    /// The SHA-256 fingerprint of this endpoint's certificate, for its SDP `a=fingerprint`.
    pub fn fingerprint(&self) -> Option<&msrp_sdp::Fingerprint> {
        self.shared.fingerprint.as_ref()
    }
}

/// Bytes of message data an event carries, for [`EndpointConfig::event_bytes`].
pub(crate) fn data_len(event: &EndpointEvent) -> usize {
    match event {
        EndpointEvent::Session(_, Event::MessageData(d)) => d.data.len(),
        EndpointEvent::Session(_, Event::Message(m)) => m.body.len(),
        _ => 0,
    }
}

/// The events of an endpoint, for an application that takes them from a channel.
///
/// The endpoint stops reading from its connections while more than
/// [`EndpointConfig::event_capacity`] events, or more than [`EndpointConfig::event_bytes`]
/// bytes of message data, wait here: a slow application slows its peers down rather than
/// growing memory.
pub struct Events {
    pub(crate) receiver: Receiver<EndpointEvent>,
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    fn taken(&self, event: EndpointEvent) -> EndpointEvent {
        let before = self.shared.queued_events.fetch_sub(1, Ordering::AcqRel);
        let len = data_len(&event);
        let bytes = self.shared.queued_bytes.fetch_sub(len, Ordering::AcqRel) - len;
        if self.shared.reading_paused.load(Ordering::Acquire)
            && before <= self.shared.event_capacity / 2
            && bytes <= self.shared.event_bytes / 2
        {
            self.shared.wake();
        }
        event
    }

    /// The next event, waiting for one; `None` once the endpoint has stopped.
    pub fn recv(&self) -> Option<EndpointEvent> {
        self.receiver.recv().ok().map(|e| self.taken(e))
    }

    /// The next event if one is ready.
    pub fn try_recv(&self) -> Option<EndpointEvent> {
        match self.receiver.try_recv() {
            Ok(e) => Some(self.taken(e)),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => None,
        }
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<EndpointEvent> {
        match self.receiver.recv_timeout(timeout) {
            Ok(e) => Some(self.taken(e)),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }
}
