//! The public face of an endpoint: configuration, handles, commands, events and errors.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::Duration;

use bytes::Bytes;
use mio::Waker;
use msrp_session::{
    ConnectionError, Event, MessageRef, OpenError, OutgoingMessage, SessionId, SessionSpec,
};
use msrp_wire::ws::WsError;
use msrp_wire::ws::WsLimits;
use msrp_wire::ws::handshake::HandshakeError;

use crate::tls::{Identity, TlsError};

/// Configuration of an [`Endpoint`](crate::Endpoint).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// What the sans-IO endpoint decides with: connection settings and wire limits, connection
    /// limits, and the timeouts of connection setup, unused connections and shutdown.
    pub endpoint: msrp_session::EndpointConfig,
    /// The certificate for `msrps`; a self-signed one is generated when TLS is used without one.
    pub identity: Option<Identity>,
    /// Bytes read from a socket at a time. Default 256 KiB.
    pub read_size: usize,
    /// Bytes of output queued per connection before the sessions stop producing more (bodies
    /// are pulled from memory or files only as the socket takes them). Default 256 KiB.
    pub write_buffer: usize,
    /// Bytes handed to one write to a socket. Larger writes take longer per byte over
    /// loopback when the data has left the caches before the receiver copies it out, as the
    /// plain `std::net` baseline shows too (64 KiB writes at well under half the rate of 16 KiB
    /// ones). Measured on a 2-vCPU VM, 512 MiB as one chunk: 3.0-3.2 GB/s uncapped, 4.0 GB/s
    /// at 32 KiB (16 KiB and 24 KiB were slower and unsteady); in 2 KiB chunks 1.2-1.9 GB/s
    /// uncapped, 2.1 GB/s at 32 KiB. Default 32 KiB; a relay's is 256 KiB
    /// ([`RelayServerConfig::new`](crate::RelayServerConfig::new)).
    pub max_write: usize,
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
    /// How a host name in a peer's URI becomes an address (RFC 4975 §6.2: "the connecting
    /// device MUST determine a host address by doing an A or AAAA DNS query and use the port as
    /// listed"). The system's resolver by default.
    pub host_lookup: HostLookup,
    /// Host-name lookups run at once, each on a thread of its own so that the event loop never
    /// waits for one; more wait their turn. Default 4.
    pub resolver_threads: usize,
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
    /// Limits on what a WebSocket peer may send (RFC 7977): its largest message, and its
    /// largest handshake head. Defaults 1 MiB and 8 KiB.
    pub ws_limits: WsLimits,
    /// Largest WebSocket frame written: an MSRP frame longer than this goes out as fragments
    /// of one message (RFC 6455 §5.4) as its bytes come, instead of being held whole. Frames
    /// this side chunks toward a WebSocket relay are far smaller (see
    /// `msrp_session::Relay::max_chunk`); a relay forwarding a long chunk from a TCP peer to a
    /// WebSocket client is what fragments. At most half of `write_buffer` is used. Default
    /// 128 KiB.
    pub ws_fragment: usize,
    /// A page served over HTTP to plain `GET /` requests on WebSocket listeners (the
    /// browser chat page of `msrp relay --web`); every other plain request gets 404. `None` by
    /// default: 404 to all.
    pub web_page: Option<WebPage>,
    /// The TCP congestion control (Linux only) of connections that stay on this host: those
    /// this endpoint opens to a loopback address, and those accepted by its listeners bound to
    /// one (a listener on a wildcard address keeps the system's for all). A loopback path
    /// has no queue to protect, and pacing costs there: with BBR, the usual system default,
    /// every paced connection arms a timer per burst. Measured on a 2-vCPU VM (BBR the system
    /// default), 64 KiB chunks through a relay: 1.1-1.2 GB/s with BBR, 1.6-2.0 GB/s with
    /// Reno; an endpoint straight to another: about 3 GB/s with either. Set before a
    /// connection is made, as the kernel decides about pacing then; a name the kernel does not
    /// allow leaves the system's. `None` leaves the system's everywhere. Default `"reno"`,
    /// which every kernel has and lets any process use.
    pub loopback_congestion: Option<String>,
}

/// A page a WebSocket listener serves to browsers, so that they load it from the same origin
/// as the WebSocket they open.
#[derive(Clone, Debug)]
pub struct WebPage {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: Bytes,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            endpoint: msrp_session::EndpointConfig::default(),
            identity: None,
            read_size: 256 << 10,
            write_buffer: 256 << 10,
            max_write: 32 << 10,
            event_capacity: 4096,
            event_bytes: 16 << 20,
            command_capacity: 4096,
            host_lookup: HostLookup::default(),
            resolver_threads: 4,
            busy_poll: Duration::from_micros(50),
            setup_poll: Duration::from_micros(500),
            ws_limits: WsLimits::default(),
            ws_fragment: 128 << 10,
            web_page: None,
            loopback_congestion: Some("reno".to_owned()),
        }
    }
}

/// A lookup of a host's address: it may block (it runs off the event loop's thread), and
/// returns the address to connect to for a host and port.
type LookupFn = dyn Fn(&str, u16) -> io::Result<SocketAddr> + Send + Sync;

/// How host names become addresses: the system's resolver, or a function of the
/// application's (a static table, a resolver of its own).
#[derive(Clone)]
pub struct HostLookup(Arc<LookupFn>);

impl HostLookup {
    /// Looks names up with `lookup`, which may block: it runs on a thread of its own.
    pub fn new(
        lookup: impl Fn(&str, u16) -> io::Result<SocketAddr> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(lookup))
    }

    /// The system's resolver (`getaddrinfo`), taking the first address it gives.
    pub fn system() -> Self {
        Self::new(|host, port| {
            (host, port)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the name has no address"))
        })
    }

    /// Looks `host` up.
    pub fn lookup(&self, host: &str, port: u16) -> io::Result<SocketAddr> {
        (self.0)(host, port)
    }
}

impl Default for HostLookup {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for HostLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostLookup").finish_non_exhaustive()
    }
}

/// What went wrong with a connection. It keeps the error it came from, which
/// [`source`](std::error::Error::source) returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// The peer's host name could not be resolved.
    Resolve(io::Error),
    /// Connecting failed (refused, unreachable).
    Connect(io::Error),
    /// Reading or writing failed, or the peer reset the connection.
    Io(io::Error),
    /// The peer closed the connection.
    Closed,
    /// The TLS handshake or record layer failed; a server certificate that does not match the
    /// session's fingerprints (RFC 4975 §14.4) or trust anchors is refused here, as
    /// [`rustls::Error::InvalidCertificate`].
    Tls(rustls::Error),
    /// TLS could not be set up on this side (a certificate or key rustls refused, a host name
    /// that is not a valid TLS server name).
    TlsSetup(TlsError),
    /// The endpoint closed the connection: the peer broke MSRP framing, a timeout, a client
    /// certificate that does not match the session's fingerprints, no session used it, or the
    /// endpoint shut down.
    Endpoint(ConnectionError),
    /// The WebSocket opening handshake failed (RFC 6455 §4, RFC 7977 §4.1).
    Handshake(HandshakeError),
    /// The WebSocket peer broke RFC 6455 framing, or sent a message larger than
    /// [`EndpointConfig::ws_limits`] allow.
    WebSocket(WsError),
}

impl TransportError {
    /// Whether the peer's certificate did not match what the session expected: a client's
    /// against the SDP fingerprints (found by the endpoint), or a server's against the
    /// fingerprints or anchors (found by rustls during the handshake).
    pub fn is_certificate_mismatch(&self) -> bool {
        matches!(
            self,
            Self::Endpoint(ConnectionError::Fingerprint)
                | Self::Tls(rustls::Error::InvalidCertificate(_))
        )
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resolve(e) => write!(f, "cannot resolve the peer's host: {e}"),
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
            Self::Io(e) => write!(f, "connection error: {e}"),
            Self::Closed => f.write_str("connection closed by the peer"),
            Self::Tls(rustls::Error::InvalidCertificate(_)) => {
                f.write_str("TLS certificate does not match the SDP fingerprint")
            }
            Self::Tls(e) => write!(f, "TLS failure: {e}"),
            Self::TlsSetup(e) => write!(f, "TLS setup: {e}"),
            Self::Endpoint(ConnectionError::Framing(e)) => write!(f, "MSRP framing error: {e}"),
            Self::Endpoint(e) => fmt::Display::fmt(e, f),
            Self::Handshake(e) => fmt::Display::fmt(e, f),
            Self::WebSocket(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Resolve(e) | Self::Connect(e) | Self::Io(e) => Some(e),
            Self::Tls(e) => Some(e),
            Self::TlsSetup(e) => Some(e),
            Self::Endpoint(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::WebSocket(e) => Some(e),
            Self::Closed => None,
        }
    }
}

/// Something an endpoint has to tell the application: the sans-IO endpoint's events, with
/// a [`TransportError`] saying why a connection closed.
pub type EndpointEvent = msrp_session::EndpointEvent<TransportError>;

/// The event loop has stopped: the endpoint was shut down or dropped. What was asked of it
/// will not be done, and no event will tell of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped;

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the endpoint has stopped")
    }
}

impl std::error::Error for Stopped {}

/// A command from a handle to the event loop: to listen, to shut down, or one of its core's.
pub(crate) enum Command<X> {
    Listen {
        addr: SocketAddr,
        tls: bool,
        reply: SyncSender<io::Result<SocketAddr>>,
    },
    Shutdown,
    Core(X),
}

/// A command of an endpoint's [`Handle`].
pub(crate) enum EndpointCommand {
    Open {
        spec: Box<SessionSpec>,
        reply: SyncSender<Result<SessionId, OpenError>>,
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
}

/// A command of a relay's handle.
pub(crate) enum RelayCommand {
    Stats {
        reply: SyncSender<msrp_relay::Stats>,
    },
}

/// What the handles, the event receiver and the loop share.
pub(crate) struct Shared {
    pub(crate) waker: Waker,
    /// Set when the loop was woken and has not drained its commands yet: later commands need no
    /// further wake-up.
    pub(crate) woken: AtomicBool,
    /// Set when the loop has stopped taking commands: a command sent after it finds this set
    /// and tells its caller.
    pub(crate) stopped: AtomicBool,
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

    /// A name for a message, unique within the endpoint.
    pub(crate) fn next_message(&self) -> MessageRef {
        MessageRef::new(self.next_message.fetch_add(1, Ordering::Relaxed))
    }
}

/// The way into an event loop's command queue, which the endpoint's and the relay's handles
/// share.
pub(crate) struct Commands<X> {
    pub(crate) sender: SyncSender<Command<X>>,
    pub(crate) shared: Arc<Shared>,
}

impl<X> Clone for Commands<X> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<X> Commands<X> {
    /// Sends a command to the loop. `Ok` means the loop will take it: it had not stopped
    /// taking commands when this one was queued (it sets `stopped` before it takes the last
    /// ones, so a command queued before that is seen).
    pub(crate) fn command(&self, command: Command<X>) -> Result<(), Stopped> {
        self.sender.send(command).map_err(|_| Stopped)?;
        self.shared.wake();
        if self.shared.stopped.load(Ordering::SeqCst) {
            return Err(Stopped);
        }
        Ok(())
    }

    /// Listens on another address; see [`Handle::listen`].
    pub(crate) fn listen(&self, addr: SocketAddr, tls: bool) -> io::Result<SocketAddr> {
        let stopped = || io::Error::other(Stopped);
        let (reply, answer) = mpsc::sync_channel(1);
        self.command(Command::Listen { addr, tls, reply })
            .map_err(|_| stopped())?;
        answer.recv().unwrap_or_else(|_| Err(stopped()))
    }

    /// Asks the loop to shut down; a loop that has stopped is shut down already.
    pub(crate) fn shutdown(&self) {
        let _ = self.command(Command::Shutdown);
    }
}

/// A thread-safe handle to an endpoint's event loop: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Handle {
    pub(crate) inner: Commands<EndpointCommand>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl Handle {
    fn command(&self, command: Command<EndpointCommand>) -> Result<(), Stopped> {
        self.inner.command(command)
    }

    /// Listens on `addr` (port 0 picks a free one) and returns the bound address. With `tls`,
    /// connections to it are `msrps`.
    pub fn listen(&self, addr: SocketAddr, tls: bool) -> io::Result<SocketAddr> {
        self.inner.listen(addr, tls)
    }

    /// Opens a session: an active one connects (or reuses a connection to the same peer, RFC
    /// 4975 §5.4), a passive one waits for its peer.
    pub fn open_session(&self, spec: SessionSpec) -> Result<SessionId, OpenError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let command = Command::Core(EndpointCommand::Open {
            spec: Box::new(spec),
            reply,
        });
        self.command(command).map_err(|_| OpenError::Shutdown)?;
        answer.recv().unwrap_or(Err(OpenError::Shutdown))
    }

    /// Queues a message; its outcome arrives as an event ([`EndpointEvent::Outcome`] or
    /// [`EndpointEvent::Refused`]). Blocks only while the command queue is full. `Err` when the
    /// loop has stopped: no outcome will come.
    pub fn send(
        &self,
        session: SessionId,
        outgoing: OutgoingMessage,
    ) -> Result<MessageRef, Stopped> {
        let message = self.inner.shared.next_message();
        self.command(Command::Core(EndpointCommand::Send {
            session,
            message,
            outgoing,
        }))?;
        Ok(message)
    }

    /// Aborts a message. `Err` when the loop has stopped.
    pub fn abort(&self, session: SessionId, message: MessageRef) -> Result<(), Stopped> {
        self.command(Command::Core(EndpointCommand::Abort { session, message }))
    }

    /// Closes a session: messages without an outcome fail. `Err` when the loop has stopped.
    pub fn close_session(&self, session: SessionId) -> Result<(), Stopped> {
        self.command(Command::Core(EndpointCommand::Close { session }))
    }

    /// Asks the endpoint to shut down gracefully.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }

    /// The SHA-256 fingerprint of this endpoint's certificate, for its SDP `a=fingerprint`.
    pub fn fingerprint(&self) -> Option<&msrp_sdp::Fingerprint> {
        self.inner.shared.fingerprint.as_ref()
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

/// The events of an endpoint (or of a relay, `E` = [`RelayEvent`](msrp_relay::RelayEvent)), for
/// an application that takes them from a channel.
///
/// The endpoint stops reading from its connections while more than
/// [`EndpointConfig::event_capacity`] events, or more than [`EndpointConfig::event_bytes`]
/// bytes of message data, wait here: a slow application slows its peers down rather than
/// growing memory.
pub struct Events<E = EndpointEvent> {
    pub(crate) receiver: Receiver<E>,
    pub(crate) shared: Arc<Shared>,
    /// Bytes of message data an event holds.
    pub(crate) len: fn(&E) -> usize,
}

impl<E> fmt::Debug for Events<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl<E> Events<E> {
    fn taken(&self, event: E) -> E {
        let before = self.shared.queued_events.fetch_sub(1, Ordering::AcqRel);
        let len = (self.len)(&event);
        let bytes = self.shared.queued_bytes.fetch_sub(len, Ordering::AcqRel) - len;
        if self.shared.reading_paused.load(Ordering::Acquire)
            && before <= self.shared.event_capacity / 2
            && bytes <= self.shared.event_bytes / 2
        {
            self.shared.wake();
        }
        event
    }

    /// The next event, waiting for one; `None` once the loop has stopped.
    pub fn recv(&self) -> Option<E> {
        self.receiver.recv().ok().map(|e| self.taken(e))
    }

    /// The next event if one is ready.
    pub fn try_recv(&self) -> Option<E> {
        match self.receiver.try_recv() {
            Ok(e) => Some(self.taken(e)),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => None,
        }
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<E> {
        match self.receiver.recv_timeout(timeout) {
            Ok(e) => Some(self.taken(e)),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }
}
