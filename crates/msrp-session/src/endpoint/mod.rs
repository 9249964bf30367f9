//! The endpoint: the sessions and connections of one MSRP endpoint, and every decision about
//! them that does not need a socket.

mod relay;
mod types;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use msrp_wire::{Slab, TransactionId};

use bytes::Bytes;
use msrp_wire::StatusCode;

use crate::certificate::matches_fingerprint;
use crate::config::Chunking;
use crate::connection::{Connection, InsertError};
use crate::event::{ConnectionEvent, Event, SessionFailure};
use crate::gaps::GapBudget;
use crate::hash::FastMap;
use crate::message::OutgoingMessage;
use crate::session::{SendError, Session};
use crate::{MessageHandle, Role, SessionKey};

use relay::RelayState;
use types::UNBOUND_FAILURE;
pub use types::{
    AcceptError, Action, ConnectTarget, ConnectionError, ConnectionId, EndpointConfig,
    EndpointEvent, MessageRef, OpenError, PeerCheck, SessionId, SessionSpec, TrustAnchors,
};

/// Where a session is.
enum Place {
    /// A passive session waiting for its peer to connect and name it.
    Waiting(Box<Session>),
    /// Authenticating to its relays over the connection to the first one: it is attached
    /// when they have granted it a path.
    Authenticating(Box<Session>),
    /// Attached to a connection (which may still be being set up).
    Bound {
        connection: ConnectionId,
        key: SessionKey,
    },
}

struct SessionEntry {
    session_id: Box<str>,
    place: Place,
    check: PeerCheck,
    /// The caller's names for the messages sent, by the session's handles, until their outcomes.
    refs: FastMap<MessageHandle, MessageRef>,
    /// Messages sent before the session was bound (a passive one, or one authenticating to
    /// its relays).
    queued: Vec<(MessageRef, OutgoingMessage)>,
    /// Its relays, and the state of its AUTH exchanges with them.
    relay: Option<Box<RelayState>>,
}

/// Who the far end of an outgoing connection is, for reuse (RFC 4975 §5.4: "one associated
/// with the same host, port, and URI scheme"); for `msrps`, also how its certificate is checked,
/// since a connection proves only what its handshake checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PeerKey {
    secure: bool,
    place: PeerPlace,
    check: Option<PeerCheck>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum PeerPlace {
    /// A host (ASCII-lowercased, as host names compare without case) and port.
    HostPort(String, u16),
    /// An address given instead of the URI's authority.
    Addr(SocketAddr),
}

/// What a connection is waiting for before its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deadline {
    /// To be set up; for an incoming one, also its first request to name a session.
    Setup,
    /// A session to use it.
    Unused,
}

struct Conn {
    msrp: Connection,
    /// Whether the I/O layer has set it up, so that MSRP may flow.
    established: bool,
    /// Whether this endpoint opened it.
    outgoing: bool,
    /// Whether a session was ever bound to it: until then an incoming connection may be closed
    /// to make room for a newer one.
    bound_once: bool,
    /// The address an incoming connection is counted under in `per_address`.
    counted_as: Option<IpAddr>,
    peer: Option<SocketAddr>,
    /// The peer's TLS certificate (DER), for the fingerprint check when a session binds.
    certificate: Option<Box<[u8]>>,
    reuse: Option<PeerKey>,
    sessions: FastMap<SessionKey, SessionId>,
    /// Sessions authenticating to their relays over this connection, not attached yet.
    authenticating: Vec<SessionId>,
    deadline: Option<(Instant, Deadline)>,
    /// The connection's own next timeout, as of the last time its timers were looked at.
    timer: Option<Instant>,
    /// The time of its live entry in the endpoint's timer queue.
    armed: Option<Instant>,
    /// Whether its timers must be looked at again before the endpoint's next timeout is told.
    stale: bool,
    /// Whether an [`Action::Transmit`] for it is pending.
    transmit_pending: bool,
    /// Since when output has waited, and when output was last taken: together, when the
    /// connection counts as stalled.
    output_waiting: Option<Instant>,
    last_output: Option<Instant>,
    /// Set when the connection must go, with why.
    closing: Option<ConnectionError>,
}

impl Conn {
    fn new(config: &EndpointConfig, gaps: &GapBudget, outgoing: bool, deadline: Instant) -> Self {
        Self {
            msrp: Connection::with_gap_budget(config.connection, gaps.clone()),
            established: false,
            outgoing,
            bound_once: false,
            counted_as: None,
            peer: None,
            certificate: None,
            reuse: None,
            sessions: FastMap::default(),
            authenticating: Vec::new(),
            deadline: Some((deadline, Deadline::Setup)),
            timer: None,
            armed: None,
            stale: false,
            transmit_pending: false,
            output_waiting: None,
            last_output: None,
            closing: None,
        }
    }
}

/// The sessions and connections of one MSRP endpoint: a sans-IO state machine that makes every
/// decision about them, and tells an I/O layer what to do.
///
/// It owns its sessions and connections and names them by [`SessionId`] and [`ConnectionId`].
/// It opens sessions, active ones on a new or reused connection (RFC 4975 §5.4), passive ones
/// waiting for their peer; binds an incoming connection to the session its first request names,
/// answering 481 when there is none and 506 when the session is bound elsewhere; checks TLS
/// certificates against SDP fingerprints; keeps what is sent before a session is bound; fails
/// every message in flight when a connection is lost; closes connections that are not set up
/// in time or that no session uses; and shuts down gracefully. It never touches a socket or a
/// clock: `now` is passed in.
///
/// An I/O layer drives it like this:
///
/// 1. Commands from the application: [`open_session`](Self::open_session),
///    [`send`](Self::send), [`abort`](Self::abort), [`close_session`](Self::close_session),
///    [`shutdown`](Self::shutdown).
/// 2. Connections: an accepted one is announced with [`handle_accept`](Self::handle_accept);
///    [`Action::Connect`] asks for an outgoing one. Once either is set up (TLS included), call
///    [`handle_established`](Self::handle_established); if it fails or closes, call
///    [`handle_lost`](Self::handle_lost).
/// 3. Bytes: feed what a connection receives with [`handle_input`](Self::handle_input) or
///    [`fill`](Self::fill) while [`wants_read`](Self::wants_read) says so (after input stopped
///    for responses to be written, [`resume`](Self::resume) takes it up again), and write what
///    [`poll_transmit`](Self::poll_transmit) gives whenever the connection can take bytes and
///    [`wants_write`](Self::wants_write) says there are some; [`Action::Transmit`] says when
///    new output appears.
/// 4. After each of these, take [`poll_action`](Self::poll_action) (connect, transmit, close)
///    and [`poll_event`](Self::poll_event) (for the application) until they are empty.
/// 5. Sleep until [`poll_timeout`](Self::poll_timeout), or until something happens; then call
///    [`handle_timeout`](Self::handle_timeout).
///
/// ```
/// use std::time::Instant;
/// use msrp_session::{
///     Action, Endpoint, EndpointConfig, EndpointEvent, Event, MessageRef, OutgoingMessage, Role,
///     SessionConfig, SessionSpec,
/// };
///
/// let random = |seed: u8| move |buf: &mut [u8]| buf.iter_mut().enumerate().for_each(|(i, b)| *b = seed ^ i as u8);
/// let alice_uri = "msrp://127.0.0.1:7654/iau39soe2843z;tcp";
/// let bob_uri = "msrp://127.0.0.1:8888/9di4eae923wzd;tcp";
/// let now = Instant::now();
/// let mut alice = Endpoint::new(EndpointConfig::default());
/// let mut bob = Endpoint::new(EndpointConfig::default());
///
/// // Bob waits for Alice, who connects to him and sends.
/// let config = SessionConfig::new(bob_uri.parse()?, alice_uri.parse()?, random(2));
/// bob.open_session(now, SessionSpec::new(config, Role::Passive))?;
/// let config = SessionConfig::new(alice_uri.parse()?, bob_uri.parse()?, random(1));
/// let session = alice.open_session(now, SessionSpec::new(config, Role::Active))?;
/// alice.send(now, session, MessageRef::new(1), OutgoingMessage::new("text/plain", "Hi Bob"));
///
/// // The I/O layer connects, as Alice's endpoint asks.
/// let Some(Action::Connect { connection: a, target }) = alice.poll_action() else { panic!() };
/// assert_eq!(target.addr, Some("127.0.0.1:8888".parse()?));
/// let b = bob.handle_accept(now, "127.0.0.1:40000".parse()?)?;
/// bob.handle_established(now, b, "127.0.0.1:40000".parse()?, None);
/// alice.handle_established(now, a, "127.0.0.1:8888".parse()?, None);
///
/// // Bytes go back and forth until both are quiet.
/// let carry = |from: &mut Endpoint, f, to: &mut Endpoint, t| {
///     let mut pieces = Vec::new();
///     let moved = from.poll_transmit(now, f, usize::MAX, &mut pieces);
///     pieces.iter().for_each(|piece| to.handle_input(now, t, piece));
///     moved
/// };
/// while carry(&mut alice, a, &mut bob, b) + carry(&mut bob, b, &mut alice, a) > 0 {}
/// let received = std::iter::from_fn(|| bob.poll_event()).find_map(|e| match e {
///     EndpointEvent::Session(_, Event::Message(m)) => Some(m.body),
///     _ => None,
/// });
/// assert_eq!(received.as_deref(), Some(&b"Hi Bob"[..]));
/// let delivered = std::iter::from_fn(|| alice.poll_event()).any(|e| matches!(e,
///     EndpointEvent::Outcome { message, outcome, .. } if message == MessageRef::new(1) && outcome.result.is_ok()));
/// assert!(delivered);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Endpoint {
    config: EndpointConfig,
    sessions: Slab<SessionEntry>,
    /// Sessions by their session-ids. Peers name the ids looked up here, so the table keeps
    /// the standard keyed hash.
    by_session_id: HashMap<Box<str>, SessionId>,
    conns: Slab<Conn>,
    /// Incoming connections by the IP address of their peer.
    per_address: HashMap<IpAddr, usize>,
    /// Incoming connections in the order they came, for making room: connections since bound
    /// or gone are skipped as they come up.
    arrivals: VecDeque<ConnectionId>,
    reuse: HashMap<PeerKey, ConnectionId>,
    events: VecDeque<EndpointEvent>,
    actions: VecDeque<Action>,
    /// When connections want their timers looked at, earliest first: at most one live entry
    /// per connection (its `armed` time). Entries of connections armed sooner since, or gone,
    /// are dropped as they come up.
    timers: BinaryHeap<Reverse<(Instant, ConnectionId)>>,
    /// Connections whose timers changed since they were last looked at.
    stale: Vec<ConnectionId>,
    /// When a shutdown closes what is left.
    shutdown: Option<Instant>,
    /// The bytes beyond gaps that all its sessions share ([`EndpointConfig::max_gap_bytes`]).
    gaps: GapBudget,
    /// Sessions by the transaction ids of their AUTH requests awaiting responses.
    auth_tids: HashMap<TransactionId, SessionId>,
    /// When sessions' AUTH exchanges time out or are due for renewal, with the epoch of their
    /// relay state that set each; entries of older epochs are dropped as they come up.
    relay_timers: BinaryHeap<Reverse<(Instant, SessionId, u64)>>,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("sessions", &self.sessions.len())
            .field("connections", &self.conns.len())
            .field("shutdown", &self.shutdown.is_some())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint without sessions or connections.
    pub fn new(config: EndpointConfig) -> Self {
        Self {
            config,
            sessions: Slab::default(),
            by_session_id: HashMap::new(),
            conns: Slab::default(),
            per_address: HashMap::new(),
            arrivals: VecDeque::new(),
            reuse: HashMap::new(),
            events: VecDeque::new(),
            actions: VecDeque::new(),
            timers: BinaryHeap::new(),
            stale: Vec::new(),
            shutdown: None,
            gaps: GapBudget::new(config.max_gap_bytes),
            auth_tids: HashMap::new(),
            relay_timers: BinaryHeap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Bytes that all its sessions have received beyond the first gap of their incoming
    /// messages (bounded by [`EndpointConfig::max_gap_bytes`]).
    pub fn gap_bytes(&self) -> u64 {
        self.gaps.held()
    }

    // -----------------------------------------------------------------------------------------
    // Sessions.
    // -----------------------------------------------------------------------------------------

    /// Opens a session. An active one goes on a connection to its peer: one
    /// already open to the same host, port and scheme when the spec allows it (RFC 4975 §5.4:
    /// "If the sender already has such a connection, that is, one associated with the same
    /// host, port, and URI scheme, then it SHOULD reuse that connection"), or a new one that
    /// [`Action::Connect`] asks for. A passive one waits for its peer to connect and name it.
    pub fn open_session(
        &mut self,
        now: Instant,
        spec: SessionSpec,
    ) -> Result<SessionId, OpenError> {
        if self.shutdown.is_some() {
            return Err(OpenError::Shutdown);
        }
        let SessionSpec {
            mut config,
            connect_to,
            peer_check,
            reuse_connection,
            relays,
            plain_relay,
        } = spec;
        let relayed = !relays.is_empty();
        let (first_hop, secure) = match relays.first() {
            Some(relay) => (relay.uri.clone(), relay.uri.scheme().is_secure()),
            None => {
                let first = config.peer_path.first().clone();
                let secure = first.scheme().is_secure() || config.local_uri.scheme().is_secure();
                (first, secure)
            }
        };
        // A session through relays connects to the first one, whatever its role.
        let connects = relayed || config.role == Role::Active;
        // RFC 4975 §14.4: the active endpoint is the TLS client, and "the certificate presented
        // during the TLS handshake needs to match the fingerprint exchanged via the SDP". RFC
        // 4976 §5.1: "The client can authenticate its first relay by looking at the relay's
        // TLS certificate."
        if secure && connects && peer_check == PeerCheck::None {
            return Err(OpenError::NoPeerCheck);
        }
        if relayed {
            // RFC 4976 §3: "Clients that use a relay operate by first opening a TLS connection
            // with a relay"; plain TCP only when asked for.
            if !secure && !plain_relay {
                return Err(OpenError::PlainRelay);
            }
            // Relays cap the frames they pass: chunks toward them are no larger than the
            // smallest cap of the path.
            let cap = relays
                .iter()
                .map(|r| r.max_chunk)
                .min()
                .unwrap_or(usize::MAX);
            config.chunking = match config.chunking {
                Chunking::Fixed(n) => Chunking::Fixed(n.min(cap)),
                _ => Chunking::Fixed(cap),
            };
        }
        let session = Box::new(Session::new(config)?);
        if self.by_session_id.contains_key(session.session_id()) {
            return Err(OpenError::Duplicate);
        }
        let session_id: Box<str> = session.session_id().into();
        let mut entry = SessionEntry {
            session_id: session_id.clone(),
            place: Place::Waiting(session),
            check: peer_check,
            refs: FastMap::default(),
            queued: Vec::new(),
            relay: None,
        };
        if !connects {
            let id = SessionId(self.sessions.insert(entry));
            self.by_session_id.insert(session_id, id);
            return Ok(id);
        }
        let place = match connect_to {
            Some(addr) => PeerPlace::Addr(addr),
            None => {
                let port = first_hop.port().ok_or(OpenError::NoAddress)?;
                PeerPlace::HostPort(first_hop.host_str().to_ascii_lowercase(), port)
            }
        };
        let key = PeerKey {
            secure,
            place,
            check: secure.then(|| entry.check.clone()),
        };
        let reusable = self
            .reuse
            .get(&key)
            .copied()
            .filter(|&c| reuse_connection && self.conn(c).is_some_and(|c| c.closing.is_none()));
        let connection = match reusable {
            Some(connection) => connection,
            None => {
                let target = Box::new(ConnectTarget {
                    addr: connect_to.or_else(|| first_hop.socket_addr()),
                    tls: key.check.clone(),
                    uri: first_hop,
                });
                self.connect(now, key, target)?
            }
        };
        if relayed {
            return Ok(self.start_relayed(now, entry, connection, relays));
        }
        let Place::Waiting(session) = entry.place else {
            unreachable!("a new session waits");
        };
        let conn = self
            .conn_mut(connection)
            .ok_or(OpenError::TooManySessions)?;
        let key = match conn.msrp.insert_session(session) {
            Ok(key) => key,
            Err(_) => {
                self.note_unused(now, connection);
                return Err(OpenError::TooManySessions);
            }
        };
        entry.place = Place::Bound { connection, key };
        let id = SessionId(self.sessions.insert(entry));
        self.by_session_id.insert(session_id, id);
        let conn = self.conn_mut(connection).expect("the connection is there");
        conn.sessions.insert(key, id);
        if conn.established {
            // A connection kept after its last session went is in use again.
            conn.deadline = None;
            let peer = conn.peer.expect("an established connection knows its peer");
            self.events.push_back(EndpointEvent::Bound {
                session: id,
                connection,
                peer,
            });
        }
        self.after(now, connection);
        Ok(id)
    }

    /// Queues a message. Its outcome comes as exactly one event: [`EndpointEvent::Outcome`],
    /// or [`EndpointEvent::Refused`] when it is refused before anything is sent (RFC 4975 §8.6:
    /// the peer's SDP says it cannot take it) or the session is gone. What is sent to a passive
    /// session before its peer has connected waits for the connection.
    pub fn send(
        &mut self,
        now: Instant,
        session: SessionId,
        message: MessageRef,
        outgoing: OutgoingMessage,
    ) {
        let Some(entry) = self.sessions.get_mut(session.0) else {
            self.events.push_back(EndpointEvent::Refused {
                session,
                message,
                error: SendError::SessionFailed,
            });
            return;
        };
        let (connection, key) = match entry.place {
            Place::Waiting(_) | Place::Authenticating(_) => {
                entry.queued.push((message, outgoing));
                return;
            }
            Place::Bound { connection, key } => (connection, key),
        };
        let sent = match self.conns.get_mut(connection.0) {
            Some(conn) => conn.msrp.send(key, outgoing),
            None => Err(SendError::SessionFailed),
        };
        match sent {
            Ok(handle) => {
                entry.refs.insert(handle, message);
                self.after(now, connection);
            }
            Err(error) => self.events.push_back(EndpointEvent::Refused {
                session,
                message,
                error,
            }),
        }
    }

    /// Aborts a message: see [`Connection::abort`]. One that is still waiting for its session's
    /// connection is dropped, and its outcome is [`EndpointEvent::Refused`].
    pub fn abort(&mut self, now: Instant, session: SessionId, message: MessageRef) {
        let Some(entry) = self.sessions.get_mut(session.0) else {
            return;
        };
        match entry.place {
            Place::Waiting(_) | Place::Authenticating(_) => {
                if let Some(at) = entry.queued.iter().position(|(m, _)| *m == message) {
                    entry.queued.remove(at);
                    self.events.push_back(EndpointEvent::Refused {
                        session,
                        message,
                        error: SendError::SessionFailed,
                    });
                }
            }
            Place::Bound { connection, key } => {
                let handle = entry
                    .refs
                    .iter()
                    .find(|(_, m)| **m == message)
                    .map(|(h, _)| *h);
                if let (Some(handle), Some(conn)) = (handle, self.conns.get_mut(connection.0)) {
                    conn.msrp.abort(key, handle);
                    self.after(now, connection);
                }
            }
        }
    }

    /// Closes a session: its messages without an outcome fail with
    /// [`FailedBy::SessionClosed`](crate::FailedBy::SessionClosed); one that never got a connection fails with
    /// [`Event::SessionFailed`]. Its connection stays, for reuse, until no session has used it
    /// for [`EndpointConfig::unused_connection_timeout`].
    pub fn close_session(&mut self, now: Instant, session: SessionId) {
        let Some(entry) = self.sessions.get(session.0) else {
            return;
        };
        match entry.place {
            Place::Waiting(_) | Place::Authenticating(_) => self.fail_waiting(session),
            Place::Bound { connection, key } => {
                if let Some(conn) = self.conns.get_mut(connection.0) {
                    conn.msrp.close_session(key);
                }
                // The outcomes come out while the session is still known.
                self.drain(now, connection);
                if let Some(conn) = self.conns.get_mut(connection.0) {
                    conn.msrp.take_session(key);
                    conn.sessions.remove(&key);
                }
                self.forget(session);
                self.after(now, connection);
            }
        }
    }

    /// The session-id of a session.
    pub fn session_id(&self, session: SessionId) -> Option<&str> {
        Some(&self.sessions.get(session.0)?.session_id)
    }

    /// The connection a session is bound to, if it is.
    pub fn connection_of(&self, session: SessionId) -> Option<ConnectionId> {
        match self.sessions.get(session.0)?.place {
            Place::Bound { connection, .. } => Some(connection),
            Place::Waiting(_) | Place::Authenticating(_) => None,
        }
    }

    /// Number of sessions, bound or waiting.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Fails a session that never got a connection, with the messages queued for it.
    fn fail_waiting(&mut self, session: SessionId) {
        self.fail_unbound(session, UNBOUND_FAILURE);
    }

    /// Fails a session that is not attached to a connection, with the messages queued for it.
    fn fail_unbound(&mut self, session: SessionId, why: SessionFailure) {
        let Some(entry) = self.sessions.remove(session.0) else {
            return;
        };
        self.by_session_id.remove(&entry.session_id);
        self.release_relay(session, entry.relay.as_deref());
        for (message, _) in entry.queued {
            self.events.push_back(EndpointEvent::Refused {
                session,
                message,
                error: SendError::SessionFailed,
            });
        }
        self.events
            .push_back(EndpointEvent::Session(session, Event::SessionFailed(why)));
    }

    fn forget(&mut self, session: SessionId) {
        if let Some(entry) = self.sessions.remove(session.0) {
            self.by_session_id.remove(&entry.session_id);
            self.release_relay(session, entry.relay.as_deref());
        }
    }

    // -----------------------------------------------------------------------------------------
    // Connections.
    // -----------------------------------------------------------------------------------------

    fn conn(&self, connection: ConnectionId) -> Option<&Conn> {
        self.conns.get(connection.0)
    }

    fn conn_mut(&mut self, connection: ConnectionId) -> Option<&mut Conn> {
        self.conns.get_mut(connection.0)
    }

    /// A new outgoing connection, which [`Action::Connect`] asks the I/O layer for.
    fn connect(
        &mut self,
        now: Instant,
        key: PeerKey,
        target: Box<ConnectTarget>,
    ) -> Result<ConnectionId, OpenError> {
        if self.conns.len() >= self.config.max_connections {
            return Err(OpenError::TooManyConnections);
        }
        let deadline = now + self.config.connect_timeout;
        let mut conn = Conn::new(&self.config, &self.gaps, true, deadline);
        conn.reuse = Some(key.clone());
        let connection = ConnectionId(self.conns.insert(conn));
        self.reuse.insert(key, connection);
        self.touch(connection);
        self.actions
            .push_back(Action::Connect { connection, target });
        Ok(connection)
    }

    /// Takes an incoming connection. Call [`handle_established`](Self::handle_established) once
    /// it is set up (at once for plain TCP, after the handshake for TLS). It must be set up and
    /// name a session within [`EndpointConfig::first_frame_timeout`].
    pub fn handle_accept(
        &mut self,
        now: Instant,
        peer: SocketAddr,
    ) -> Result<ConnectionId, AcceptError> {
        if self.shutdown.is_some() {
            return Err(AcceptError::Shutdown);
        }
        let from_address = self.per_address.get(&peer.ip()).copied().unwrap_or(0);
        if from_address >= self.config.max_connections_per_address {
            return Err(AcceptError::TooManyFromAddress);
        }
        if self.conns.len() >= self.config.max_connections && !self.make_room(now) {
            return Err(AcceptError::TooManyConnections);
        }
        let deadline = now + self.config.first_frame_timeout;
        let mut conn = Conn::new(&self.config, &self.gaps, false, deadline);
        conn.peer = Some(peer);
        conn.counted_as = Some(peer.ip());
        let connection = ConnectionId(self.conns.insert(conn));
        *self.per_address.entry(peer.ip()).or_default() += 1;
        self.arrivals.push_back(connection);
        if self.arrivals.len() > 2 * self.conns.len() + 64 {
            let conns = &self.conns;
            self.arrivals
                .retain(|c| conns.get(c.0).is_some_and(|c| !c.bound_once));
        }
        self.touch(connection);
        Ok(connection)
    }

    /// Closes the oldest incoming connection that has not bound a session, to make room for a
    /// new one: an attacker's idle connections, not the established sessions, give way. `false`
    /// when there is none.
    fn make_room(&mut self, now: Instant) -> bool {
        while let Some(connection) = self.arrivals.pop_front() {
            if self.conn(connection).is_some_and(|c| !c.bound_once) {
                self.close(now, connection, ConnectionError::Displaced);
                return true;
            }
        }
        false
    }

    /// A connection is set up: MSRP may flow. `certificate` is the peer's TLS certificate
    /// (DER), if it showed one; a passive session bound to this connection checks it against
    /// the fingerprints of its peer's SDP. The sessions of an outgoing connection are
    /// [`Bound`](EndpointEvent::Bound) now, and the active ones send their first SEND.
    pub fn handle_established(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        peer: SocketAddr,
        certificate: Option<&[u8]>,
    ) {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        if conn.established {
            return;
        }
        conn.established = true;
        conn.peer = Some(peer);
        conn.certificate = certificate.map(Box::from);
        if conn.outgoing {
            conn.deadline = None;
            let mut sessions: Vec<SessionId> = conn.sessions.values().copied().collect();
            sessions.sort_unstable();
            for session in sessions {
                self.events.push_back(EndpointEvent::Bound {
                    session,
                    connection,
                    peer,
                });
            }
        }
        self.after(now, connection);
    }

    /// A connection failed or was closed, as the I/O layer found: every session on it fails,
    /// after every message in flight on them (RFC 4975 §5.4: "If a connection fails for any
    /// reason, then an MSRP endpoint MUST consider any sessions associated with the connection
    /// as also having failed"). [`EndpointEvent::ConnectionClosed`] says
    /// [`ConnectionError::Lost`].
    pub fn handle_lost(&mut self, now: Instant, connection: ConnectionId) {
        self.close(now, connection, ConnectionError::Lost);
    }

    /// Number of connections, being set up or established.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The sessions a connection carries.
    pub fn sessions_on(&self, connection: ConnectionId) -> Vec<SessionId> {
        let mut sessions: Vec<SessionId> = self
            .conn(connection)
            .map(|c| c.sessions.values().copied().collect())
            .unwrap_or_default();
        sessions.sort_unstable();
        sessions
    }

    // -----------------------------------------------------------------------------------------
    // Bytes.
    // -----------------------------------------------------------------------------------------

    /// Whether a connection takes input now: it is established, and see
    /// [`Connection::wants_read`].
    pub fn wants_read(&self, connection: ConnectionId) -> bool {
        self.conn(connection)
            .is_some_and(|c| c.established && c.closing.is_none() && c.msrp.wants_read())
    }

    /// Handles bytes received on a connection. Bytes for a connection that is not established
    /// (or is gone) are dropped: MSRP flows only once [`handle_established`] has said who the
    /// peer is.
    ///
    /// [`handle_established`]: Self::handle_established
    pub fn handle_input(&mut self, now: Instant, connection: ConnectionId, data: &[u8]) {
        let Some(conn) = self.conns.get_mut(connection.0).filter(|c| c.established) else {
            return;
        };
        conn.msrp.handle_input(now, data);
        self.after(now, connection);
    }

    /// Lets `read` write up to `max` received bytes straight into the connection's decoder,
    /// then handles them: see [`Connection::fill`]. A connection that is not established, or
    /// is gone, reads nothing: `read` is not called, and the result is `Ok(0)`.
    pub fn fill<E>(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        max: usize,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let Some(conn) = self.conns.get_mut(connection.0).filter(|c| c.established) else {
            return Ok(0);
        };
        let result = conn.msrp.fill(now, max, read);
        self.after(now, connection);
        result
    }

    /// Handles what a connection holds after its input stopped (for responses to be written).
    pub fn resume(&mut self, now: Instant, connection: ConnectionId) {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        conn.msrp.resume(now);
        self.after(now, connection);
    }

    /// Whether a connection has output to write: it is established and something waits.
    pub fn wants_write(&self, connection: ConnectionId) -> bool {
        self.conn(connection)
            .is_some_and(|c| c.established && c.closing.is_none() && c.msrp.wants_write())
    }

    /// Appends up to about `max` bytes of a connection's output to `out`, as pieces to write in
    /// order: see [`Connection::poll_transmit_vectored`]. Nothing comes before the connection
    /// is established. Returns the number of bytes appended.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        max: usize,
        out: &mut Vec<Bytes>,
    ) -> usize {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return 0;
        };
        conn.transmit_pending = false;
        if !conn.established || conn.closing.is_some() {
            return 0;
        }
        let n = conn.msrp.poll_transmit_vectored(now, max, out);
        if n > 0 {
            conn.last_output = Some(now);
            // Sent chunks start their transactions' timers.
            self.touch(connection);
        }
        self.drain(now, connection);
        self.settle(now, connection, false);
        n
    }

    /// Bytes received on a connection and held, not yet handed out.
    pub fn buffered_input(&self, connection: ConnectionId) -> usize {
        self.conn(connection).map_or(0, |c| c.msrp.buffered_input())
    }

    /// Whether every session of every connection is idle: nothing queued, nothing
    /// unacknowledged, nothing to write.
    pub fn is_idle(&self) -> bool {
        self.conns.iter().all(|(_, c)| c.msrp.is_idle())
    }

    // -----------------------------------------------------------------------------------------
    // What the endpoint decided.
    // -----------------------------------------------------------------------------------------

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    /// The next thing for the I/O layer to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Runs the connection's work through the endpoint: its events, then what follows from
    /// them (closing it, its timers, a transmit).
    fn after(&mut self, now: Instant, connection: ConnectionId) {
        self.drain(now, connection);
        self.settle(now, connection, true);
    }

    /// Takes a connection's events: session events go to the application, a request naming a
    /// session the connection does not carry binds it or is refused, a failure closes it.
    fn drain(&mut self, now: Instant, connection: ConnectionId) {
        loop {
            let Some(conn) = self.conns.get_mut(connection.0) else {
                return;
            };
            let Some(event) = conn.msrp.poll_event() else {
                return;
            };
            match event {
                ConnectionEvent::Session(key, event) => {
                    let Some(&session) = conn.sessions.get(&key) else {
                        continue;
                    };
                    if self.session_event(session, event) {
                        // The session is over: it no longer holds the connection, and later
                        // requests for it get 481.
                        let conn = self.conns.get_mut(connection.0).expect("still there");
                        conn.sessions.remove(&key);
                        conn.msrp.take_session(key);
                    }
                }
                ConnectionEvent::UnknownSession {
                    session_id,
                    to_path,
                } => {
                    self.bind(now, connection, &session_id, &to_path);
                }
                ConnectionEvent::Response(head) => self.auth_response(now, connection, &head),
                ConnectionEvent::Failed(why) => {
                    conn.closing.get_or_insert(match why {
                        SessionFailure::Framing(e) => ConnectionError::Framing(e),
                        SessionFailure::FrameTimeout => ConnectionError::FrameTimeout,
                        SessionFailure::HeadTimeout => ConnectionError::HeadTimeout,
                        // A connection fails only for its framing or a stalled frame.
                        _ => ConnectionError::Lost,
                    });
                }
            }
        }
    }

    /// Passes on a session's event; `true` when the session is over.
    fn session_event(&mut self, session: SessionId, event: Event) -> bool {
        match event {
            Event::Outcome(outcome) => {
                let message = self
                    .sessions
                    .get_mut(session.0)
                    .and_then(|e| e.refs.remove(&outcome.handle));
                if let Some(message) = message {
                    self.events.push_back(EndpointEvent::Outcome {
                        session,
                        message,
                        outcome,
                    });
                }
                false
            }
            Event::SessionFailed(why) => {
                self.forget(session);
                self.events
                    .push_back(EndpointEvent::Session(session, Event::SessionFailed(why)));
                true
            }
            other => {
                self.events
                    .push_back(EndpointEvent::Session(session, other));
                false
            }
        }
    }

    /// What follows a connection's work: it closes if it must; otherwise a connection no
    /// session uses starts its clock, its timers are looked at again, and new output is
    /// announced (`announce`) with [`Action::Transmit`].
    fn settle(&mut self, now: Instant, connection: ConnectionId, announce: bool) {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        if let Some(why) = conn.closing.take() {
            self.close(now, connection, why);
            return;
        }
        let waiting = conn.established && conn.msrp.wants_write();
        if announce && !conn.transmit_pending && waiting {
            conn.transmit_pending = true;
            self.actions.push_back(Action::Transmit(connection));
        }
        match (waiting, conn.output_waiting) {
            (true, None) => conn.output_waiting = Some(now),
            (false, Some(_)) => conn.output_waiting = None,
            _ => {}
        }
        self.note_unused(now, connection);
        self.touch(connection);
    }

    /// Starts the clock on an established connection that no session uses, for it to be
    /// closed unless a new session comes to use it.
    fn note_unused(&mut self, now: Instant, connection: ConnectionId) {
        let unused = self.config.unused_connection_timeout;
        if let Some(conn) = self.conns.get_mut(connection.0) {
            let idle = conn.sessions.is_empty() && conn.authenticating.is_empty();
            if idle && conn.established && conn.deadline.is_none() {
                conn.deadline = Some((now + unused, Deadline::Unused));
            }
        }
    }

    /// Binds an incoming connection to the passive session its first request names (RFC 4975
    /// §5.4: "The element that accepted the connection looks up the URI in the received request,
    /// and determines which session it matches"), or refuses the request.
    fn bind(&mut self, now: Instant, connection: ConnectionId, session_id: &str, to_path: &str) {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        let Some(&session) = self.by_session_id.get(session_id) else {
            // RFC 4975 §5.4: "If no match exists, the node MUST reject the request with a 481
            // response."
            conn.msrp
                .refuse_unknown_session(now, StatusCode::NO_SUCH_SESSION);
            return;
        };
        let entry = self
            .sessions
            .get_mut(session.0)
            .expect("sessions by id exist");
        if let Place::Waiting(waiting) = &entry.place {
            if waiting.is_named_by(to_path) != Some(true) {
                // The session-id is right but the URI is another's (another host, port or
                // scheme): it is not this session, which stays free for its peer. RFC 4975
                // §7.3: "the To-Path will have exactly one URI, which MUST map to an existing
                // session"; RFC 4975 §5.4: "If no match exists, the node MUST reject the
                // request with a 481 response."
                conn.msrp
                    .refuse_unknown_session(now, StatusCode::NO_SUCH_SESSION);
                return;
            }
        }
        if !matches!(entry.place, Place::Waiting(_)) {
            // RFC 4975 §5.4: "If the session is already in use, it MUST reject the request with
            // a 506 response."
            conn.msrp
                .refuse_unknown_session(now, StatusCode::WRONG_CONNECTION);
            return;
        }
        if let PeerCheck::Fingerprints(expected) = &entry.check {
            // RFC 4975 §14.4: "The certificate presented during the TLS handshake needs to
            // match the fingerprint exchanged via the SDP and if the fingerprint does not match
            // the hashed certificate then the endpoint MUST tear down the media session
            // immediately." A connection without a certificate matches nothing.
            let presented = conn.certificate.as_deref();
            if !presented.is_some_and(|c| matches_fingerprint(c, expected)) {
                let peer = conn.peer;
                conn.closing = Some(ConnectionError::Fingerprint);
                self.events.push_back(EndpointEvent::ConnectionClosed {
                    connection,
                    peer,
                    sessions: vec![session],
                    error: ConnectionError::Fingerprint,
                });
                self.fail_waiting(session);
                return;
            }
        }
        let Place::Waiting(waiting) = core::mem::replace(
            &mut entry.place,
            Place::Bound {
                connection,
                key: SessionKey {
                    index: u32::MAX,
                    generation: 0,
                },
            },
        ) else {
            return;
        };
        let key = match conn.msrp.insert_session(waiting) {
            Ok(key) => key,
            Err(InsertError::Duplicate(s) | InsertError::TooMany(s)) => {
                entry.place = Place::Waiting(s);
                conn.msrp.refuse_unknown_session(now, StatusCode::FORBIDDEN);
                return;
            }
        };
        self.attached(session, connection, key);
        if let Some(conn) = self.conns.get_mut(connection.0) {
            conn.msrp.resume(now);
        }
    }

    /// A session that was waiting is attached to an established connection as `key`: it is
    /// [`Bound`](EndpointEvent::Bound) there, and what was sent to it meanwhile goes out.
    fn attached(&mut self, session: SessionId, connection: ConnectionId, key: SessionKey) {
        let (Some(entry), Some(conn)) = (
            self.sessions.get_mut(session.0),
            self.conns.get_mut(connection.0),
        ) else {
            return;
        };
        entry.place = Place::Bound { connection, key };
        conn.sessions.insert(key, session);
        conn.bound_once = true;
        // The connection is in use: its setup deadline is met, or it is no longer unused.
        conn.deadline = None;
        let peer = conn.peer.expect("an established connection knows its peer");
        for (message, outgoing) in core::mem::take(&mut entry.queued) {
            match conn.msrp.send(key, outgoing) {
                Ok(handle) => {
                    entry.refs.insert(handle, message);
                }
                Err(error) => self.events.push_back(EndpointEvent::Refused {
                    session,
                    message,
                    error,
                }),
            }
        }
        self.events.push_back(EndpointEvent::Bound {
            session,
            connection,
            peer,
        });
    }

    /// Lets go of a connection: it says why, its sessions fail, and the I/O layer is told to
    /// close it.
    fn close(&mut self, now: Instant, connection: ConnectionId, why: ConnectionError) {
        let Some(mut conn) = self.conns.remove(connection.0) else {
            return;
        };
        if let Some(ip) = conn.counted_as {
            if let Some(count) = self.per_address.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    self.per_address.remove(&ip);
                }
            }
        }
        if let Some(key) = &conn.reuse {
            if self.reuse.get(key) == Some(&connection) {
                self.reuse.remove(key);
            }
        }
        let mut sessions: Vec<SessionId> = conn.sessions.values().copied().collect();
        sessions.extend_from_slice(&conn.authenticating);
        sessions.sort_unstable();
        if !sessions.is_empty() {
            self.events.push_back(EndpointEvent::ConnectionClosed {
                connection,
                peer: conn.peer,
                sessions: sessions.clone(),
                error: why,
            });
        }
        conn.msrp.handle_close(now);
        while let Some(event) = conn.msrp.poll_event() {
            if let ConnectionEvent::Session(key, event) = event {
                if let Some(&session) = conn.sessions.get(&key) {
                    self.session_event(session, event);
                }
            }
        }
        // Sessions still authenticating to their relays fail with what was queued for them.
        for session in conn.authenticating {
            self.fail_unbound(session, SessionFailure::ConnectionLost);
        }
        for session in sessions {
            self.forget(session);
        }
        self.actions.push_back(Action::Close(connection));
    }

    // -----------------------------------------------------------------------------------------
    // Timers.
    // -----------------------------------------------------------------------------------------

    /// Notes that a connection's timers may have changed.
    fn touch(&mut self, connection: ConnectionId) {
        if let Some(conn) = self.conns.get_mut(connection.0) {
            if !conn.stale {
                conn.stale = true;
                self.stale.push(connection);
            }
        }
    }

    /// Looks at the timers of the connections that changed, and arms each one sooner when it
    /// now wants that.
    fn refresh_timers(&mut self) {
        for connection in core::mem::take(&mut self.stale) {
            let Some(conn) = self.conns.get_mut(connection.0) else {
                continue;
            };
            conn.stale = false;
            conn.timer = conn.msrp.poll_timeout();
            let stall = stall_at(conn, self.config.write_timeout);
            let at = [conn.deadline.map(|(at, _)| at), conn.timer, stall]
                .into_iter()
                .flatten()
                .min();
            if let Some(at) = at {
                if conn.armed.is_none_or(|armed| at < armed) {
                    conn.armed = Some(at);
                    self.timers.push(Reverse((at, connection)));
                }
            }
        }
        // Stale entries (of connections since armed sooner, or gone) are dropped as they come
        // up, which may be a minute away: under heavy connection churn they are swept out here,
        // so that the queue stays in proportion to the connections.
        if self.timers.len() > 2 * self.conns.len() + 64 {
            let conns = &self.conns;
            self.timers
                .retain(|Reverse((at, c))| conns.get(c.0).is_some_and(|c| c.armed == Some(*at)));
        }
    }

    /// The earliest time at which [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.refresh_timers();
        self.timers
            .peek()
            .map(|Reverse((at, _))| *at)
            .into_iter()
            .chain(self.relay_timers.peek().map(|Reverse((at, _, _))| *at))
            .chain(self.shutdown)
            .min()
    }

    /// Fires what is due at `now`: connections not set up in time or unused for too long are
    /// closed, each connection's own timers fire (transaction and report timeouts, stalled
    /// frames, released buffers), and a shutdown whose grace has run out closes everything.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.refresh_timers();
        // The entries due now are taken first: a timer that work on its connection arms for
        // now again waits for the next call rather than firing in a loop here.
        let mut due = Vec::new();
        while let Some(&Reverse((at, connection))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            due.push((at, connection));
        }
        for (at, connection) in due {
            let Some(conn) = self.conns.get_mut(connection.0) else {
                continue;
            };
            if conn.armed != Some(at) {
                // Armed again for sooner since: this entry is stale.
                continue;
            }
            conn.armed = None;
            if let Some((_, why)) = conn.deadline.filter(|(d, _)| *d <= now) {
                let error = match why {
                    Deadline::Setup => ConnectionError::SetupTimeout,
                    Deadline::Unused => ConnectionError::Unused,
                };
                self.close(now, connection, error);
                continue;
            }
            if stall_at(conn, self.config.write_timeout).is_some_and(|t| t <= now) {
                self.close(now, connection, ConnectionError::Stalled);
                continue;
            }
            if conn.timer.is_some_and(|t| t <= now) {
                conn.msrp.handle_timeout(now);
                self.after(now, connection);
            } else {
                // Its timers moved later since it was armed: armed again for when they are.
                self.touch(connection);
            }
        }
        self.relay_timeouts(now);
        self.refresh_timers();
        if self.shutdown.is_some_and(|t| t <= now) {
            self.finish(now);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Shutdown.
    // -----------------------------------------------------------------------------------------

    /// Starts a graceful shutdown: no session is opened and no connection accepted any more;
    /// the connections have [`EndpointConfig::shutdown_grace`] to finish what they carry,
    /// then [`finish`](Self::finish) closes what is left. An I/O layer that sees every
    /// connection idle ([`is_idle`](Self::is_idle)) with its own buffers written may finish
    /// sooner.
    pub fn shutdown(&mut self, now: Instant) {
        if self.shutdown.is_none() {
            self.shutdown = Some(now + self.config.shutdown_grace);
        }
    }

    /// Whether a shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_some()
    }

    /// Whether the endpoint has shut down and let go of everything.
    pub fn is_finished(&self) -> bool {
        self.shutdown.is_some() && self.conns.is_empty() && self.sessions.is_empty()
    }

    /// Ends a shutdown now: every connection is closed ([`ConnectionError::Shutdown`]) and every
    /// session still waiting for its peer fails. Starts the shutdown if it had not started.
    pub fn finish(&mut self, now: Instant) {
        self.shutdown(now);
        for key in self.conns.keys() {
            self.close(now, ConnectionId(key), ConnectionError::Shutdown);
        }
        let waiting: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, e)| matches!(e.place, Place::Waiting(_)))
            .map(|(key, _)| SessionId(key))
            .collect();
        for session in waiting {
            self.fail_waiting(session);
        }
    }
}

/// When a connection whose output waits counts as stalled: [`EndpointConfig::write_timeout`]
/// after output last left, or after it began to wait, whichever is later.
fn stall_at(conn: &Conn, write_timeout: std::time::Duration) -> Option<Instant> {
    let since = conn.output_waiting?;
    since
        .max(conn.last_output.unwrap_or(since))
        .checked_add(write_timeout)
}
