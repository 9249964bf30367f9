//! The relay: connections, relay sessions, forwarding, and every decision about them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use msrp_uri::MsrpUri;
use msrp_wire::{
    FailureReport, Flag, Head, HeadWriter, HeaderName, Item, Method, Random, Slab, StatusCode,
    StreamDecoder, TransactionId, UriList, encode_response,
};

use crate::config::RelayConfig;
use crate::types::{AcceptError, Action, CloseReason, ConnectionId, RelayEvent, Stats, Target};

/// A URI this relay handed out in a Use-Path, and the client it belongs to.
pub(crate) struct RelaySession {
    /// The connection the AUTH came on: the URI routes only across it (RFC 4976 §6.3: "If the
    /// previous hop is a client, then the URI MUST only be valid to route across the same
    /// connection over which the AUTH request was received").
    pub(crate) owner: ConnectionId,
    /// The host of the relay that obtained it, when the previous hop was a relay
    /// authenticated by mutual TLS: then the URI routes across any connection from that relay
    /// (RFC 4976 §6.3: "If the previous hop was a relay authenticated by mutual TLS, then the
    /// URI MUST be valid to route across any connection the relay has to the previous hop
    /// relay"), and outlives the connection it was obtained on.
    pub(crate) peer_relay: Option<Box<str>>,
    pub(crate) uri: Box<str>,
    pub(crate) expires_at: Instant,
}

/// What a connection's deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// An outgoing connection is to be set up.
    Setup,
    /// An incoming one is to send its first request that succeeds (RFC 4976 §6.1).
    FirstRequest,
    /// The connection is to be used again (RFC 4976 §6.5).
    Idle,
}

/// Who the far end of an outgoing connection is, for reuse (RFC 4976 §6.4.2: "If it already
/// has a connection to the next hop, it SHOULD use this connection").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PeerKey {
    host: String,
    port: u16,
    secure: bool,
}

/// Where the failure REPORT of a forwarded SEND goes, and what it says (RFC 4976 §6.4.1).
#[derive(Clone, Debug)]
struct ReportTo {
    /// The SEND's From-Path: the way back to its sender.
    to_path: String,
    /// This relay's URI as the SEND named it.
    from: String,
    message_id: String,
    byte_range: String,
}

/// A request forwarded on a connection, awaiting its response there.
#[derive(Clone)]
struct Pending {
    /// The connection the request came from.
    from: ConnectionId,
    /// The request's transaction id there.
    tid: TransactionId,
    /// For a SEND: where a failure is reported, unless its Failure-Report is `no`. For other
    /// requests (AUTH …) `None`: the response is relayed back instead.
    report: Option<ReportTo>,
    send: bool,
    /// Whether the next hop's silence fails it (`Failure-Report: yes`).
    timed: bool,
    /// Whether its last byte has been written to the next hop.
    written: bool,
    /// Whether it is one of the chunks a request was cut into (for a next hop that takes
    /// chunks of bounded size): they share one failure REPORT.
    cut: bool,
}

/// A frame held back on its source connection while its next hop is writing another frame
/// or has too much waiting: what of it has come so far, in order. Frames never interleave on
/// a connection, and output toward a slow next hop stays bounded however many connections
/// send toward it.
struct Parked {
    /// The next hop.
    to: ConnectionId,
    /// Its transaction id there.
    tid: TransactionId,
    /// Its head and the body pieces and end-line that came since.
    pieces: Vec<Bytes>,
    /// The chunks it was split into so far, for a WebSocket next hop, but the last one
    /// (`tid`): their transactions end once the pieces go.
    chunks: Vec<TransactionId>,
    /// Its end-line has come: it goes out whole.
    complete: bool,
}

/// How a request goes on: the relay's URI it was addressed to, what goes to the front of its
/// From-Path (that URI, and any further URIs of this relay it went through), and the rest of
/// its To-Path.
struct Hop<'a> {
    us: &'a str,
    prefix: &'a str,
    rest: &'a str,
    /// The From-Path it came with.
    from_path: UriList<'a>,
}

/// The frame being received on a connection, and where its body goes.
struct Inbound {
    /// The next hop, or nowhere (a refused request, a response).
    to: Option<ConnectionId>,
    /// Its transaction id on the next hop.
    tid: TransactionId,
    /// The response owed to the previous hop once the frame is whole (a 200 for a SEND with
    /// `Failure-Report: yes`, RFC 4976 §6.4.1).
    respond: Option<Vec<u8>>,
    /// How its body is cut into chunks, toward a next hop that takes chunks of bounded size.
    split: Option<Split>,
}

/// A SEND cut into chunks of at most a next hop's size as its body streams through: RFC 7977
/// §5.1, "When large messages are sent by a non-WebSocket peer, MSRP chunking ... MUST be used
/// by the WebSocket MSRP Servers to split the message into several smaller MSRP chunks." Each
/// chunk repeats the request's headers with its own transaction id and Byte-Range, ends with
/// `+` but the last, which ends as the request did.
struct Split {
    /// Most body bytes per chunk.
    limit: usize,
    /// Body bytes in the chunk being written.
    sent: usize,
    /// Where the chunk being written starts in the message, from 1.
    start: u64,
    /// The Byte-Range total as received: a number, or `*`.
    total: Box<str>,
    /// The head lines before the Byte-Range line (To-Path, From-Path) and after it (the other
    /// headers and the blank line), as the first chunk's head has them.
    before: Bytes,
    after: Bytes,
    /// What each chunk's transaction awaits, when the request is answered.
    pending: Option<Pending>,
    /// Body bytes received and not yet cut: a new chunk starts only while the next hop has
    /// room, so that what goes toward it stays bounded however small its chunks are.
    rest: Option<Bytes>,
    /// The end-line's flag, when it came with bytes still to cut.
    end: Option<Flag>,
}

pub(crate) struct Conn {
    decoder: StreamDecoder,
    established: bool,
    outgoing: bool,
    peer: Option<SocketAddr>,
    key: Option<PeerKey>,
    /// What waits to be written, in order; bodies are slices of received buffers.
    out: VecDeque<Bytes>,
    out_len: usize,
    /// Bytes handed out for writing so far, and bytes queued so far.
    written: u64,
    queued: u64,
    /// Where in the output forwarded SENDs with `Failure-Report: yes` end: their timers start
    /// once that byte is written (RFC 4976 §6.4.1: "The timer starts when the last byte of the
    /// message has been sent to the next hop").
    ends: VecDeque<(u64, TransactionId)>,
    inbound: Option<Inbound>,
    /// Input stopped: the next hop of the frame being received has too much waiting.
    blocked: bool,
    /// Connections whose input waits for this one's output to drain.
    waiters: Vec<ConnectionId>,
    /// The connection whose frame is being written here, between its head and its end-line:
    /// nothing else is written in between.
    writer: Option<ConnectionId>,
    /// Connections whose next frame waits to be written here, in order.
    queue: VecDeque<ConnectionId>,
    /// Responses and REPORTs of the relay's own that wait for the frame being written here to
    /// end, and their size.
    held: Vec<Bytes>,
    held_len: usize,
    /// This connection's frame that waits for its next hop.
    parked: Option<Parked>,
    /// Requests from this connection forwarded and not yet answered or given up, and whether
    /// its input stopped because they reached [`RelayConfig::max_pending`].
    awaiting: usize,
    awaiting_blocked: bool,
    /// Requests forwarded on this connection, by their transaction ids here.
    pending: HashMap<TransactionId, Pending>,
    /// Timers of pending SENDs, by when they fire.
    pub(crate) owned: Vec<Box<str>>,
    deadline: Option<(Instant, Deadline)>,
    last_active: Instant,
    pub(crate) auth_failures: u32,
    transmit_pending: bool,
    /// A [`Timer::Release`] is armed for it.
    release_armed: bool,
    /// A [`Timer::Frame`] is armed for it.
    frame_armed: bool,
    /// When it last gave input.
    last_input: Instant,
    /// The certificate the peer showed, kept until its first request tells whether the peer
    /// is a relay, when peer relays are recognised at all.
    certificate: Option<Box<[u8]>>,
    /// The host of the relay at the other end, once its certificate has shown it.
    pub(crate) relay_host: Option<Box<str>>,
    /// Most body bytes of a chunk written to it: SENDs with longer bodies are cut.
    max_chunk: Option<usize>,
}

impl Conn {
    fn new(config: &RelayConfig, outgoing: bool, now: Instant) -> Self {
        let deadline = if outgoing {
            (now + config.connect_timeout, Deadline::Setup)
        } else {
            (now + config.first_request_timeout, Deadline::FirstRequest)
        };
        Self {
            decoder: StreamDecoder::with_limits(config.wire),
            established: false,
            outgoing,
            peer: None,
            key: None,
            out: VecDeque::new(),
            out_len: 0,
            written: 0,
            queued: 0,
            ends: VecDeque::new(),
            inbound: None,
            blocked: false,
            waiters: Vec::new(),
            writer: None,
            queue: VecDeque::new(),
            held: Vec::new(),
            held_len: 0,
            parked: None,
            awaiting: 0,
            awaiting_blocked: false,
            pending: HashMap::new(),
            owned: Vec::new(),
            deadline: Some(deadline),
            last_active: now,
            auth_failures: 0,
            transmit_pending: false,
            release_armed: false,
            frame_armed: false,
            last_input: now,
            certificate: None,
            relay_host: None,
            max_chunk: None,
        }
    }

    /// A request succeeded: the probation of a new connection is over (RFC 4976 §6.1: "If no
    /// successful requests are sent during this probationary period, the server closes the
    /// connection"), and it counts as used.
    pub(crate) fn mark_used(&mut self, now: Instant, idle: Duration) {
        self.last_active = now;
        if self
            .deadline
            .is_some_and(|(_, d)| d == Deadline::FirstRequest)
        {
            self.deadline = Some((now + idle, Deadline::Idle));
        }
    }

    /// Notes that the frame with this transaction id ends at what is queued so far: when that
    /// is written, the wait for its response starts.
    fn end_at(&mut self, tid: TransactionId) {
        if self.pending.contains_key(&tid) {
            self.ends.push_back((self.queued, tid));
        }
    }

    /// Queues bytes to write.
    fn push(&mut self, bytes: Bytes) {
        self.out_len += bytes.len();
        self.queued += bytes.len() as u64;
        self.out.push_back(bytes);
    }
}

/// What a timer is for; checked against the current state when it fires.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Conn(ConnectionId),
    Session(Box<str>),
    Pending(ConnectionId, TransactionId),
    /// A connection gives back its buffers if it has been quiet since.
    Release(ConnectionId),
    /// A connection's frame in progress is given up if no byte of it came since.
    Frame(ConnectionId),
}

/// An RFC 4976 relay as a sans-IO state machine: it grants URIs to clients that authenticate
/// with AUTH, forwards SEND, REPORT and other requests hop by hop along their To-Path, relays
/// responses back, and sends failure REPORTs for SENDs it cannot deliver on. It never touches a
/// socket or a clock: an I/O layer feeds it bytes and time, and does what it asks.
///
/// Bodies are streamed, never reassembled: each piece that arrives goes out to the next hop as
/// a slice of the buffer it came in. When more than [`RelayConfig::max_output`] waits for a
/// next hop, the connections sending toward it stop being read until it drains, so a slow
/// next hop slows its previous hops instead of filling memory.
///
/// An I/O layer drives it as it drives an endpoint of msrp-session: announce accepted
/// connections ([`handle_accept`](Self::handle_accept), then
/// [`handle_established`](Self::handle_established)), feed input while
/// [`wants_read`](Self::wants_read) says so, write what [`poll_transmit`](Self::poll_transmit)
/// gives, do what [`poll_action`](Self::poll_action) asks, pass on
/// [`poll_event`](Self::poll_event), and call [`handle_timeout`](Self::handle_timeout) at
/// [`poll_timeout`](Self::poll_timeout).
pub struct Relay {
    pub(crate) config: RelayConfig,
    pub(crate) random: Box<dyn Random>,
    /// Keys the nonces of challenges.
    pub(crate) secret: [u8; 32],
    /// When the relay started: nonces carry their age from it.
    pub(crate) epoch: Instant,
    pub(crate) conns: Slab<Conn>,
    pub(crate) sessions: HashMap<Box<str>, RelaySession>,
    by_peer: HashMap<PeerKey, ConnectionId>,
    /// The connections from each peer relay authenticated by mutual TLS, by host.
    pub(crate) relays: HashMap<Box<str>, Vec<ConnectionId>>,
    pub(crate) events: VecDeque<RelayEvent>,
    actions: VecDeque<Action>,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    /// The highest nonce count seen per nonce (RFC 2617 §3.2.2: nc lets the server "detect
    /// request replays").
    pub(crate) nonce_counts: HashMap<String, u32>,
    pub(crate) stats: Stats,
    shutdown: bool,
    /// Scratch space for heads.
    scratch: BytesMut,
}

impl core::fmt::Debug for Relay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Relay")
            .field("uri", &self.config.uri())
            .field("connections", &self.conns.len())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay without connections; `random` must be cryptographically secure outside tests
    /// (RFC 4976 §6.3: a granted URI "MUST contain at least 64 bits of cryptographically random
    /// material").
    pub fn new(config: RelayConfig, random: impl Random + 'static, now: Instant) -> Self {
        let mut random: Box<dyn Random> = Box::new(random);
        let mut secret = [0u8; 32];
        random.fill(&mut secret);
        Self {
            config,
            random,
            secret,
            epoch: now,
            conns: Slab::default(),
            sessions: HashMap::new(),
            by_peer: HashMap::new(),
            relays: HashMap::new(),
            events: VecDeque::new(),
            actions: VecDeque::new(),
            timers: BinaryHeap::new(),
            nonce_counts: HashMap::new(),
            stats: Stats::default(),
            shutdown: false,
            scratch: BytesMut::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// What the relay has done so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Granted URIs that are valid now.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Connections, being set up or established.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Bytes waiting to be written to a connection.
    pub fn buffered_output(&self, connection: ConnectionId) -> usize {
        self.conns.get(connection.0).map_or(0, |c| c.out_len)
    }

    /// Bytes received on a connection and not yet handled.
    pub fn buffered_input(&self, connection: ConnectionId) -> usize {
        self.conns
            .get(connection.0)
            .map_or(0, |c| c.decoder.buffered())
    }

    // -----------------------------------------------------------------------------------------
    // Connections.
    // -----------------------------------------------------------------------------------------

    /// Takes an incoming connection; call [`handle_established`](Self::handle_established)
    /// once it is set up (TLS included). It must send a request within
    /// [`RelayConfig::first_request_timeout`].
    pub fn handle_accept(
        &mut self,
        now: Instant,
        peer: SocketAddr,
    ) -> Result<ConnectionId, AcceptError> {
        if self.shutdown {
            return Err(AcceptError::Shutdown);
        }
        if self.conns.len() >= self.config.max_connections {
            return Err(AcceptError::TooManyConnections);
        }
        let mut conn = Conn::new(&self.config, false, now);
        conn.peer = Some(peer);
        let id = ConnectionId(self.conns.insert(conn));
        self.arm(now, id);
        Ok(id)
    }

    /// A connection is set up: MSRP may flow. `certificate` is the peer's TLS certificate, if
    /// it showed one.
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
        // Kept only where it may tell a peer relay (RFC 4976 §6.1: "If the TLS client
        // provides a certificate, the server verifies it").
        if !conn.outgoing && self.config.peer_relays.is_some() {
            conn.certificate = certificate.map(Box::from);
        }
        // A next hop reached over TLS showed a certificate for its host, checked by the I/O
        // layer against the same authorities (RFC 4976 §9.2: "After validating that such is
        // the case, the device that initiated the TLS connection can assume that it has
        // connected to the correct relay").
        let verified_host = conn
            .key
            .as_ref()
            .filter(|k| conn.outgoing && k.secure && self.config.peer_relays.is_some())
            .map(|k| Box::<str>::from(k.host.as_str()));
        if let Some(host) = verified_host {
            conn.relay_host = Some(host.clone());
            self.relays.entry(host).or_default().push(connection);
        }
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        conn.established = true;
        conn.peer = Some(peer);
        conn.last_active = now;
        if conn.outgoing {
            conn.deadline = Some((now + self.config.idle_timeout, Deadline::Idle));
            self.arm(now, connection);
        }
        self.announce(connection);
    }

    /// Bounds the body of each chunk written to a connection: SENDs toward it with longer
    /// bodies are cut into chunks of at most `max_chunk` bytes as they stream through, each a
    /// transaction of its own. The I/O layer sets it for WebSocket peers (RFC 7977 §5.1: "When
    /// large messages are sent by a non-WebSocket peer, MSRP chunking ... MUST be used by the
    /// WebSocket MSRP Servers to split the message into several smaller MSRP chunks").
    pub fn set_max_chunk(&mut self, connection: ConnectionId, max_chunk: Option<usize>) {
        if let Some(conn) = self.conns.get_mut(connection.0) {
            conn.max_chunk = max_chunk.map(|n| n.max(1));
        }
    }

    /// A connection failed or closed, as the I/O layer found.
    pub fn handle_lost(&mut self, now: Instant, connection: ConnectionId) {
        self.close(now, connection, CloseReason::Lost);
    }

    /// The connection to a next hop: one already open or being opened, or a new one that
    /// [`Action::Connect`] asks for. `None` when the relay has as many connections as it may.
    fn next_hop(&mut self, now: Instant, uri: &MsrpUri) -> Option<ConnectionId> {
        let key = PeerKey {
            host: uri.host_str().to_ascii_lowercase(),
            port: uri.port()?,
            secure: uri.scheme().is_secure(),
        };
        if let Some(&id) = self.by_peer.get(&key) {
            if self.conns.get(id.0).is_some() {
                return Some(id);
            }
        }
        if self.conns.len() >= self.config.max_connections {
            return None;
        }
        let mut conn = Conn::new(&self.config, true, now);
        conn.key = Some(key.clone());
        let id = ConnectionId(self.conns.insert(conn));
        self.by_peer.insert(key.clone(), id);
        self.arm(now, id);
        let addr = uri.socket_addr().or_else(|| {
            uri.host_str()
                .parse()
                .ok()
                .map(|ip| SocketAddr::new(ip, key.port))
        });
        self.actions.push_back(Action::Connect {
            connection: id,
            target: Box::new(Target {
                host: uri.host_str().to_owned(),
                port: key.port,
                secure: key.secure,
                addr,
            }),
        });
        Some(id)
    }

    /// Lets go of a connection: its granted URIs end, what was forwarded on it and still
    /// awaits a response fails (reported to its senders), a frame it was streaming on ends
    /// aborted, and the I/O layer is told to close it.
    pub(crate) fn close(&mut self, now: Instant, connection: ConnectionId, reason: CloseReason) {
        let Some(conn) = self.conns.remove(connection.0) else {
            return;
        };
        if let Some(key) = &conn.key {
            if self.by_peer.get(key) == Some(&connection) {
                self.by_peer.remove(key);
            }
        }
        if let Some(host) = &conn.relay_host {
            if let Some(list) = self.relays.get_mut(host) {
                list.retain(|c| *c != connection);
                if list.is_empty() {
                    self.relays.remove(host);
                }
            }
        }
        // RFC 4976 §6.3: "If the client's connection is closed and then reopened, the URI MUST
        // be invalidated."
        for id in conn.owned {
            if let Some(session) = self.sessions.remove(&id) {
                self.events.push_back(RelayEvent::SessionEnded {
                    uri: session.uri.into(),
                });
            }
        }
        if let Some(parked) = conn.parked {
            // Its frame never started on the next hop: it is dropped there.
            if let Some(next) = self.conns.get_mut(parked.to.0) {
                next.queue.retain(|c| *c != connection);
                next.pending.remove(&parked.tid);
                for tid in &parked.chunks {
                    next.pending.remove(tid);
                }
            }
            self.write_queued(parked.to);
        } else if let Some(Inbound {
            to: Some(to), tid, ..
        }) = conn.inbound
        {
            // What this connection was streaming on to a next hop ends there, aborted.
            if let Some(next) = self.conns.get_mut(to.0) {
                if next.writer == Some(connection) {
                    let mut end = BytesMut::new();
                    msrp_wire::end_line(&mut end, &tid, Flag::Aborted);
                    next.push(end.freeze());
                    next.writer = None;
                    self.announce(to);
                }
            }
            self.write_queued(to);
        }
        // What other connections were streaming, or waited to stream, on to this one goes
        // nowhere now: a frame toward a connection is either being written to it or parked in
        // its queue.
        for source in conn.writer.into_iter().chain(conn.queue) {
            if let Some(other) = self.conns.get_mut(source.0) {
                if let Some(inbound) = other.inbound.as_mut() {
                    if inbound.to == Some(connection) {
                        inbound.to = None;
                    }
                }
                if other.parked.as_ref().is_some_and(|p| p.to == connection) {
                    other.parked = None;
                }
            }
            self.unblock(source);
        }
        for waiter in conn.waiters {
            self.unblock(waiter);
        }
        // RFC 4976 §6.4.1: "if there is a problem processing the SEND request ... the relay
        // MUST respond with an appropriate error response in a REPORT back to the original
        // source of the message."
        let mut reported = std::collections::HashSet::new();
        for (_, pending) in conn.pending {
            self.settled(pending.from);
            // `Failure-Report: partial` asks for a REPORT only of a failure: one whose frame
            // was not all written. The chunks a request was cut into fail together, once.
            let failed = pending.timed || !pending.written;
            let first = !pending.cut || reported.insert((pending.from, pending.tid));
            if let Some(report) = pending.report.filter(|_| failed && first) {
                self.failure_report(now, pending.from, &report, StatusCode::REQUEST_TIMEOUT);
            }
        }
        self.events.push_back(RelayEvent::ConnectionClosed {
            connection,
            peer: conn.peer,
            reason,
        });
        self.actions.push_back(Action::Close(connection));
    }

    // -----------------------------------------------------------------------------------------
    // Input.
    // -----------------------------------------------------------------------------------------

    /// Whether a connection takes input now: it is established and its frame's next hop has
    /// room.
    pub fn wants_read(&self, connection: ConnectionId) -> bool {
        self.conns
            .get(connection.0)
            .is_some_and(|c| c.established && !c.blocked)
    }

    /// Handles bytes received on a connection.
    pub fn handle_input(&mut self, now: Instant, connection: ConnectionId, data: &[u8]) {
        let Some(conn) = self.conns.get_mut(connection.0).filter(|c| c.established) else {
            return;
        };
        conn.decoder.push(data);
        conn.last_active = now;
        conn.last_input = now;
        self.process(now, connection);
        self.arm_release(now, connection);
    }

    /// Lets `read` write up to `max` received bytes straight into the connection's decoder,
    /// then handles them.
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
        let n = conn.decoder.fill(max, read)?;
        conn.last_active = now;
        conn.last_input = now;
        self.process(now, connection);
        self.arm_release(now, connection);
        Ok(n)
    }

    /// Handles what a connection holds after its input stopped.
    pub fn resume(&mut self, now: Instant, connection: ConnectionId) {
        self.process(now, connection);
    }

    /// Takes the frames a connection holds, as far as their next hops have room.
    fn process(&mut self, now: Instant, connection: ConnectionId) {
        loop {
            let Some(conn) = self.conns.get_mut(connection.0) else {
                return;
            };
            if conn.blocked {
                return;
            }
            // A body being cut for its next hop goes on first, once that hop has room.
            let split = conn.inbound.as_mut().and_then(|i| i.split.as_mut());
            if let Some(rest) = split.and_then(|s| s.rest.take()) {
                self.body(connection, rest);
                if !self.cut_waits(connection) {
                    let end = self
                        .conns
                        .get_mut(connection.0)
                        .and_then(|c| c.inbound.as_mut())
                        .and_then(|i| i.split.as_mut())
                        .and_then(|s| s.end.take());
                    if let Some(flag) = end {
                        self.end(now, connection, flag);
                    }
                }
                continue;
            }
            // A peer that does not read the responses it asks for is not read either: checked
            // between its frames only, since responses held on it wait for the frame being
            // written to it to end, and its own frame may be what that frame's sender waits
            // for.
            if conn.inbound.is_none() && conn.out_len > self.config.max_output {
                // Read again once its output has drained.
                conn.blocked = true;
                if !conn.waiters.contains(&connection) {
                    conn.waiters.push(connection);
                }
                return;
            }
            if conn.inbound.is_none() && conn.awaiting >= self.config.max_pending {
                // Read again once an answer comes, or a request is given up (`settled`).
                conn.blocked = true;
                conn.awaiting_blocked = true;
                return;
            }
            if conn.inbound.is_none() && conn.held_len > self.config.max_output {
                // Read again once the frame being written to it ends and what it held goes out
                // (`write_queued`); its output draining changes nothing before that.
                conn.blocked = true;
                return;
            }
            let item = match conn.decoder.decode() {
                Ok(Some(item)) => item,
                Ok(None) => return,
                Err(e) => {
                    self.close(now, connection, CloseReason::Framing(e));
                    return;
                }
            };
            match item {
                Item::Frame(frame) => {
                    self.start(now, connection, frame.head(), Some(frame.flag()));
                    if let Some(body) = frame.body_bytes() {
                        self.body(connection, body);
                    }
                    if frame.head().has_body() {
                        if self.cut_waits(connection) {
                            // It ends once the rest of its body is cut and gone on.
                            if let Some(split) = self
                                .conns
                                .get_mut(connection.0)
                                .and_then(|c| c.inbound.as_mut())
                                .and_then(|i| i.split.as_mut())
                            {
                                split.end = Some(frame.flag());
                            }
                        } else {
                            self.end(now, connection, frame.flag());
                        }
                    } else if let Some(conn) = self.conns.get_mut(connection.0) {
                        // A frame without a body ended with its head.
                        conn.inbound = None;
                    }
                }
                Item::Head(head) => self.start(now, connection, &head, None),
                Item::Body(data) => self.body(connection, data),
                Item::End(flag) => self.end(now, connection, flag),
            }
        }
    }

    /// A frame's head: a response goes back to where its request came from; a request is
    /// checked, and forwarded to its next hop, handled (AUTH to this relay) or refused.
    fn start(&mut self, now: Instant, connection: ConnectionId, head: &Head, flag: Option<Flag>) {
        let discard = Inbound {
            to: None,
            tid: placeholder_tid(),
            respond: None,
            split: None,
        };
        if let Some(conn) = self.conns.get_mut(connection.0) {
            conn.inbound = Some(discard);
        }
        if !head.is_request() {
            self.response(now, connection, head);
            return;
        }
        let (Ok(Some(to_path)), Ok(Some(from_path))) = (head.to_path(), head.from_path()) else {
            self.refuse(connection, head, StatusCode::BAD_REQUEST, None);
            return;
        };
        self.learn_identity(connection, &from_path);
        let first = to_path.iter().next().unwrap_or_default();
        let Ok(first_uri) = MsrpUri::parse(first) else {
            self.refuse(connection, head, StatusCode::BAD_REQUEST, None);
            return;
        };
        // RFC 4976 §6.2: "Relays then examine the first URI in the To-Path header and remove
        // this URI if it matches a URI corresponding to the relay. If the request is not
        // addressed to the relay, the relay immediately drops the corresponding connection over
        // which the request was received."
        if !self.is_us(&first_uri) {
            self.close(now, connection, CloseReason::NotAddressed);
            return;
        }
        let rest = to_path.as_str()[first.len()..].trim_start_matches(' ');
        if rest.is_empty() {
            if head.method() == Some(Method::Auth) {
                self.auth(now, connection, head, first);
            } else {
                // Addressed to the relay alone: there is nowhere to forward it.
                self.refuse(connection, head, StatusCode::NO_SUCH_SESSION, Some(first));
            }
            return;
        }
        // RFC 4976 §6.4: "Before any request is forwarded, the relay MUST check that the first
        // URI in the To-Path header corresponds to a URI that this relay has created and handed
        // out in the Use-Path header of an AUTH request."
        let Some(owner) = self.owner_of(now, &first_uri, connection, rest) else {
            self.refuse(connection, head, StatusCode::NO_SUCH_SESSION, Some(first));
            return;
        };
        // "Next it verifies that either 1) the next hop is the next hop back toward the client
        // that obtained this URI, or 2) the previous hop was the correct previous hop coming
        // from the client that obtained this URI." From its client, the request goes on to
        // the next URI of the To-Path; from anyone else, only to that client, on its
        // connection.
        //
        // A next URI that is this relay again (both clients behind it) is taken here, as a
        // relay after it would: it moves to the front of From-Path too, and the request goes
        // on as that URI's rules say.
        let mut prefix = first.to_owned();
        let mut rest = rest;
        let mut owner = owner;
        let next = loop {
            if owner != connection {
                break self.conns.get(owner.0).map(|_| owner);
            }
            let Some(next_uri) = rest.split(' ').next().and_then(|u| MsrpUri::parse(u).ok()) else {
                self.refuse(connection, head, StatusCode::BAD_REQUEST, Some(first));
                return;
            };
            let further = rest[next_uri.as_str().len()..].trim_start_matches(' ');
            if !self.is_us(&next_uri) || further.is_empty() {
                break self.next_hop(now, &next_uri);
            }
            let Some(next_owner) = self.owner_of(now, &next_uri, connection, further) else {
                self.refuse(connection, head, StatusCode::NO_SUCH_SESSION, Some(first));
                return;
            };
            prefix = format!("{} {prefix}", next_uri.as_str());
            rest = further;
            owner = next_owner;
            if owner == connection {
                // Its own URI twice in a row leads nowhere new.
                self.refuse(connection, head, StatusCode::BAD_REQUEST, Some(first));
                return;
            }
        };
        let Some(next) = next else {
            // No connection to the next hop can be had: it is unreachable.
            self.refuse(connection, head, StatusCode::REQUEST_TIMEOUT, Some(first));
            return;
        };
        let hop = Hop {
            us: first,
            prefix: &prefix,
            rest,
            from_path,
        };
        self.forward(now, connection, next, head, flag, hop);
    }

    /// The connection of whoever obtained a URI this relay granted, if it is valid now: its
    /// client's connection; for a peer relay, `from` itself when `from` comes from that
    /// relay, else one of that relay's connections, else a connection to the next URI of the
    /// To-Path (`toward`, what follows this URI) when that URI is on the same host.
    fn owner_of(
        &mut self,
        now: Instant,
        uri: &MsrpUri,
        from: ConnectionId,
        toward: &str,
    ) -> Option<ConnectionId> {
        let session = self.sessions.get(uri.session_id()?)?;
        if session.expires_at <= now {
            return None;
        }
        let Some(host) = session.peer_relay.as_deref() else {
            return Some(session.owner);
        };
        if self.is_relay_connection(from, host) {
            return Some(from);
        }
        if let Some(&live) = self.relays.get(host).and_then(|list| list.first()) {
            return Some(live);
        }
        // RFC 4976 §6.3: the URI is "valid to route across any connection the relay has to
        // the previous hop relay"; with none left, one is opened to that relay's URI.
        let next = toward
            .split(' ')
            .next()
            .and_then(|u| MsrpUri::parse(u).ok())
            .filter(|u| u.host_str().eq_ignore_ascii_case(host))?;
        self.next_hop(now, &next)
    }

    /// At a connection's first request, tells once whether it comes from a peer relay: RFC
    /// 4976 §6.3, "If the TLS client presented a host certificate, the relay checks that the
    /// subjectAltName in the certificate of the TLS client matches the hostname in the first
    /// From-Path URI." A relay puts itself first on the From-Path of everything it forwards,
    /// so its first request names it. The certificate is let go either way.
    fn learn_identity(&mut self, connection: ConnectionId, from_path: &UriList<'_>) {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        let (Some(certificate), Some(check)) = (conn.certificate.take(), &self.config.peer_relays)
        else {
            return;
        };
        let Some(host) = from_path
            .iter()
            .next()
            .and_then(|first| MsrpUri::parse(first).ok())
            .map(|uri| uri.host_str().to_ascii_lowercase())
        else {
            return;
        };
        if check.is_relay(&certificate, &host) {
            let host: Box<str> = host.into();
            conn.relay_host = Some(host.clone());
            self.relays.entry(host).or_default().push(connection);
        }
    }

    /// Whether a connection is known to come from the relay `host`.
    pub(crate) fn is_relay_connection(&self, connection: ConnectionId, host: &str) -> bool {
        self.conns
            .get(connection.0)
            .and_then(|c| c.relay_host.as_deref())
            .is_some_and(|known| known.eq_ignore_ascii_case(host))
    }

    /// Forwards a request: a new transaction id on the next hop, this relay moved from the
    /// front of To-Path to the front of From-Path, every other header as received.
    fn forward(
        &mut self,
        now: Instant,
        from: ConnectionId,
        to: ConnectionId,
        head: &Head,
        flag: Option<Flag>,
        hop: Hop<'_>,
    ) {
        let Hop {
            us,
            prefix,
            rest,
            from_path,
        } = hop;
        // RFC 4976 §6.4: "Since transact-id values are not allowed to conflict on a given
        // connection, a relay will generally need to construct a new transact-id value for any
        // request that it forwards."
        let tid = self.new_tid();
        let method = head.method().map_or("", |m| m.as_str());
        let send = head.method() == Some(Method::Send);
        // RFC 4976 §6.4.1: "Before forwarding the SEND request to the next hop, the MSRP relay
        // MUST inspect the first URI in the To-Path header. If it indicates this relay, the
        // relay removes this URI from the To-Path header and inserts this URI in the From-Path
        // header before any other URIs."
        let mut new_from = String::with_capacity(prefix.len() + 1 + from_path.as_str().len());
        new_from.push_str(prefix);
        new_from.push(' ');
        new_from.push_str(from_path.as_str());
        // A SEND whose body may be longer than the next hop takes in a chunk is cut as it
        // streams: its chunks state their start and `*` as their end.
        let range = head.byte_range().ok().flatten();
        let cut = self
            .conns
            .get(to.0)
            .and_then(|c| c.max_chunk)
            .filter(|_| send && head.has_body())
            .filter(|&limit| {
                range.is_none_or(|r| {
                    r.end
                        .is_none_or(|end| end >= r.start.saturating_add(limit as u64))
                })
            })
            .map(|limit| {
                let start = range.map_or(1, |r| r.start);
                let total: Box<str> = range
                    .and_then(|r| r.total)
                    .map_or("*".into(), |t| t.to_string().into());
                (limit, start, total)
            });
        let range_value = cut
            .as_ref()
            .map(|(_, start, total)| format!("{start}-*/{total}"));
        let mut out = core::mem::take(&mut self.scratch);
        out.clear();
        let written = (|| {
            let mut w = HeadWriter::request(&mut out, &tid, method)?;
            w.header("To-Path", rest)?.header("From-Path", &new_from)?;
            if let Some(value) = &range_value {
                w.header("Byte-Range", value)?;
            }
            for header in head.headers() {
                let replaced = range_value.is_some() && header.name == HeaderName::ByteRange;
                if !matches!(header.name, HeaderName::ToPath | HeaderName::FromPath) && !replaced {
                    w.header_bytes(header.name_str(), header.value)?;
                }
            }
            match flag.filter(|_| !head.has_body()) {
                Some(flag) => w.end(flag),
                None => w.body_follows(),
            }
        })();
        if written.is_err() {
            self.scratch = out;
            self.refuse(from, head, StatusCode::BAD_REQUEST, Some(us));
            return;
        }
        let bytes = out.split().freeze();
        self.scratch = out;
        let mut split = cut.zip(range_value).map(|((limit, start, total), value)| {
            // The head as written: the start line, the two paths, the Byte-Range line, then
            // the rest; later chunks repeat all but the start line and the Byte-Range.
            let start_line = "MSRP  \r\n".len() + tid.as_str().len() + method.len();
            let paths = start_line
                + "To-Path: \r\n".len()
                + rest.len()
                + "From-Path: \r\n".len()
                + new_from.len();
            let after = paths + "Byte-Range: \r\n".len() + value.len();
            Split {
                limit,
                sent: 0,
                start,
                total,
                before: bytes.slice(start_line..paths),
                after: bytes.slice(after..),
                pending: None,
                rest: None,
                end: None,
            }
        });
        let failure_report = head
            .failure_report()
            .ok()
            .flatten()
            .unwrap_or(FailureReport::Yes);
        let report = (send && failure_report != FailureReport::No).then(|| ReportTo {
            to_path: from_path.as_str().to_owned(),
            from: us.to_owned(),
            message_id: head.message_id().ok().flatten().unwrap_or("").to_owned(),
            byte_range: head
                .header("Byte-Range")
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default(),
        });
        // RFC 4976 §6.4.1: "If an incoming SEND request contains a Failure-Report header with
        // a value of "yes", an MSRP relay that receives that SEND request MUST respond with a
        // final response immediately." It goes once the chunk is whole.
        let respond = (send && failure_report == FailureReport::Yes).then(|| {
            let mut r = BytesMut::new();
            if let Some(from_first) = from_path.iter().next() {
                if let (Some(to), Some(from)) = (UriList::parse(from_first), UriList::parse(us)) {
                    encode_response(&mut r, head, StatusCode::OK, to, from);
                }
            }
            r.to_vec()
        });
        // REPORTs get no response, nor SENDs with `Failure-Report: no` (RFC 4975 §7.1.1: "the
        // receiver MUST NOT send a response"); SENDs and other requests (AUTH, unknown methods)
        // do.
        let answered =
            head.method() != Some(Method::Report) && !(send && failure_report == FailureReport::No);
        let complete = !head.has_body();
        let max_output = self.config.max_output;
        let Some(next) = self.conns.get_mut(to.0) else {
            return;
        };
        if answered {
            let request_tid = TransactionId::new(head.transaction_id()).unwrap_or(tid);
            let pending = Pending {
                from,
                tid: request_tid,
                report: report.filter(|_| send),
                send,
                timed: send && failure_report == FailureReport::Yes,
                written: false,
                cut: split.is_some(),
            };
            if let Some(split) = split.as_mut() {
                split.pending = Some(pending.clone());
            }
            next.pending.insert(tid, pending);
        }
        // Another frame is being written to the next hop, or waits for it, or too much does:
        // this one waits on its source, which is read no further until it goes.
        let park = next.writer.is_some() || !next.queue.is_empty() || next.out_len > max_output;
        let parked_head = if park {
            next.queue.push_back(from);
            Some(bytes)
        } else {
            next.push(bytes);
            if complete {
                next.end_at(tid);
            } else {
                next.writer = Some(from);
            }
            None
        };
        self.stats.forwarded += 1;
        self.announce(to);
        if let Some(conn) = self.conns.get_mut(from.0) {
            conn.inbound = Some(Inbound {
                to: Some(to),
                tid,
                respond,
                split,
            });
            conn.mark_used(now, self.config.idle_timeout);
            if answered {
                conn.awaiting += 1;
            }
            if !complete && !conn.frame_armed {
                conn.frame_armed = true;
                let at = now + self.config.frame_timeout;
                self.timers.push(Reverse((at, Timer::Frame(from))));
            }
            if let Some(head) = parked_head {
                conn.parked = Some(Parked {
                    to,
                    tid,
                    pieces: vec![head],
                    chunks: Vec::new(),
                    complete,
                });
                conn.blocked = true;
            }
        }
        if !park {
            self.check_room(from, to);
        }
    }

    /// Writes the frames that wait for a connection, as far as it has room: first the
    /// relay's own responses held while a frame was being written, then the parked frames of
    /// other connections in turn, each whole or up to where its source has got (that source
    /// then writes the rest as it comes, and is read again).
    fn write_queued(&mut self, to: ConnectionId) {
        let max_output = self.config.max_output;
        loop {
            let Some(next) = self.conns.get_mut(to.0) else {
                return;
            };
            if next.writer.is_some() {
                return;
            }
            if !next.held.is_empty() {
                next.held_len = 0;
                for bytes in core::mem::take(&mut next.held) {
                    next.push(bytes);
                }
                self.announce(to);
                // Stopped for what it held, it may go on (if it is stopped for its output, it
                // stops again at once).
                self.unblock(to);
                continue;
            }
            if next.out_len > max_output {
                // Taken up again when it has drained.
                return;
            }
            let Some(source) = next.queue.pop_front() else {
                return;
            };
            let Some(parked) = self.conns.get_mut(source.0).and_then(|c| c.parked.take()) else {
                continue;
            };
            let Some(next) = self.conns.get_mut(to.0) else {
                return;
            };
            for piece in parked.pieces {
                next.push(piece);
            }
            for tid in parked.chunks {
                next.end_at(tid);
            }
            if parked.complete {
                next.end_at(parked.tid);
            } else {
                next.writer = Some(source);
            }
            self.announce(to);
            self.unblock(source);
        }
    }

    /// A piece of the body of the frame being received.
    fn body(&mut self, connection: ConnectionId, mut data: Bytes) {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        let blocked = conn.blocked;
        if let Some(split) = conn.inbound.as_mut().and_then(|i| i.split.as_mut()) {
            // Cut into chunks of the next hop's size.
            let room = split.limit - split.sent;
            if room == 0 {
                if data.is_empty() {
                    return;
                }
                if blocked {
                    // The next hop has too much waiting, or the frame is parked: the next
                    // chunk starts when the connection is read again.
                    split.rest = Some(data);
                    return;
                }
                self.next_chunk(connection);
                return self.body(connection, data);
            }
            if data.len() > room {
                let rest = data.split_off(room);
                split.sent = split.limit;
                self.body_piece(connection, data);
                return self.body(connection, rest);
            }
            split.sent += data.len();
        }
        self.body_piece(connection, data);
    }

    /// Whether a body being cut into chunks has bytes left that wait for room.
    fn cut_waits(&self, connection: ConnectionId) -> bool {
        self.conns
            .get(connection.0)
            .and_then(|c| c.inbound.as_ref())
            .and_then(|i| i.split.as_ref())
            .is_some_and(|s| s.rest.is_some())
    }

    /// Ends the chunk being written toward a next hop that takes chunks of bounded size, and
    /// starts the next one: the end-line with `+`, then the head again with a new transaction
    /// id and the Byte-Range that follows on.
    fn next_chunk(&mut self, connection: ConnectionId) {
        let tid = self.new_tid();
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        let Some(inbound) = conn.inbound.as_mut() else {
            return;
        };
        let Some(split) = inbound.split.as_mut() else {
            return;
        };
        let ended = core::mem::replace(&mut inbound.tid, tid);
        split.start = split.start.saturating_add(split.sent as u64);
        split.sent = 0;
        let range = format!("Byte-Range: {}-*/{}\r\n", split.start, split.total);
        let mut bytes =
            BytesMut::with_capacity(64 + split.before.len() + range.len() + split.after.len());
        msrp_wire::end_line(&mut bytes, &ended, Flag::Continued);
        bytes.extend_from_slice(b"MSRP ");
        bytes.extend_from_slice(tid.as_bytes());
        bytes.extend_from_slice(b" SEND\r\n");
        bytes.extend_from_slice(&split.before);
        bytes.extend_from_slice(range.as_bytes());
        bytes.extend_from_slice(&split.after);
        let bytes = bytes.freeze();
        let pending = split.pending.clone();
        let to = inbound.to;
        let parked = conn.parked.as_mut().map(|parked| {
            parked.chunks.push(ended);
            parked.tid = tid;
            parked.pieces.push(bytes.clone());
        });
        let Some(next) = to.and_then(|to| self.conns.get_mut(to.0)) else {
            return;
        };
        let awaited = pending.is_some();
        if let Some(pending) = pending {
            next.pending.insert(tid, pending);
        }
        self.stats.forwarded += 1;
        if awaited {
            // Each chunk is a transaction its sender's connection waits on.
            if let Some(conn) = self.conns.get_mut(connection.0) {
                conn.awaiting += 1;
            }
        }
        let Some(next) = to.and_then(|to| self.conns.get_mut(to.0)) else {
            return;
        };
        if parked.is_none() {
            next.push(bytes);
            next.end_at(ended);
            if let Some(to) = to {
                self.announce(to);
            }
        }
    }

    /// A piece of the body of the frame being received, as it goes on.
    fn body_piece(&mut self, connection: ConnectionId, data: Bytes) {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        if let Some(parked) = conn.parked.as_mut() {
            self.stats.forwarded_bytes += data.len() as u64;
            parked.pieces.push(data);
            return;
        }
        let Some(to) = conn.inbound.as_ref().and_then(|i| i.to) else {
            return;
        };
        let Some(next) = self.conns.get_mut(to.0) else {
            return;
        };
        self.stats.forwarded_bytes += data.len() as u64;
        next.push(data);
        self.announce(to);
        self.check_room(connection, to);
    }

    /// The end of the frame being received: its end-line goes on with the next hop's
    /// transaction id, and the previous hop gets the response it is owed.
    fn end(&mut self, now: Instant, connection: ConnectionId, flag: Flag) {
        let Some(inbound) = self
            .conns
            .get_mut(connection.0)
            .and_then(|c| c.inbound.take())
        else {
            return;
        };
        if let Some(to) = inbound.to {
            let mut end = BytesMut::with_capacity(48);
            msrp_wire::end_line(&mut end, &inbound.tid, flag);
            let parked = self
                .conns
                .get_mut(connection.0)
                .and_then(|c| c.parked.as_mut());
            if let Some(parked) = parked {
                parked.pieces.push(end.freeze());
                parked.complete = true;
            } else if let Some(next) = self.conns.get_mut(to.0) {
                next.push(end.freeze());
                next.end_at(inbound.tid);
                if next.writer == Some(connection) {
                    next.writer = None;
                }
                self.announce(to);
                self.write_queued(to);
            }
        }
        if let Some(response) = inbound.respond {
            self.send_control(connection, response);
        }
        let _ = now;
    }

    /// Stops a connection's input while the next hop of its frame has too much waiting, also
    /// when that next hop is the connection itself: a peer whose frames come back to it and
    /// that does not read them is read no further, rather than held in memory without bound.
    fn check_room(&mut self, from: ConnectionId, to: ConnectionId) {
        let full = self
            .conns
            .get(to.0)
            .is_some_and(|c| c.out_len > self.config.max_output);
        if !full {
            return;
        }
        if let Some(conn) = self.conns.get_mut(from.0) {
            conn.blocked = true;
        }
        if let Some(next) = self.conns.get_mut(to.0) {
            if !next.waiters.contains(&from) {
                next.waiters.push(from);
            }
        }
    }

    /// A request forwarded from `from` was answered or given up: `from`, if it stopped for
    /// having too many of them waiting, goes on.
    fn settled(&mut self, from: ConnectionId) {
        let Some(conn) = self.conns.get_mut(from.0) else {
            return;
        };
        conn.awaiting = conn.awaiting.saturating_sub(1);
        if conn.awaiting_blocked && conn.awaiting < self.config.max_pending {
            conn.awaiting_blocked = false;
            self.unblock(from);
        }
    }

    fn unblock(&mut self, connection: ConnectionId) {
        if let Some(conn) = self.conns.get_mut(connection.0) {
            // A parked frame's source is read again when its frame goes.
            if conn.blocked && conn.parked.is_none() {
                conn.blocked = false;
                self.actions.push_back(Action::Resume(connection));
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Responses.
    // -----------------------------------------------------------------------------------------

    /// A response from a next hop to a request forwarded on `connection`.
    fn response(&mut self, now: Instant, connection: ConnectionId, head: &Head) {
        let Ok(tid) = TransactionId::new(head.transaction_id()) else {
            return;
        };
        let Some(pending) = self
            .conns
            .get_mut(connection.0)
            .and_then(|c| c.pending.remove(&tid))
        else {
            return;
        };
        self.settled(pending.from);
        let code = head.status_code().unwrap_or(StatusCode::BAD_REQUEST);
        if pending.send {
            // RFC 4976 §6.4.3: "If the response is a non 200 response, and the original
            // request was a SEND request that had a Failure-Report header with a value other
            // than "no", then the relay MUST send a REPORT indicating the nature of the
            // failure."
            if !code.is_success() {
                if let Some(report) = &pending.report {
                    self.failure_report(now, pending.from, report, code);
                }
                if pending.cut {
                    // The other chunks of the request it was cut from fail with it: their
                    // answers are no longer awaited, and no second REPORT goes.
                    self.forget_cut(connection, pending.from, pending.tid);
                }
            }
            return;
        }
        // RFC 4976 §6.4.3: "Relays receiving a response first verify that the first URI in the
        // To-Path corresponds to itself; if not, the response SHOULD be dropped. ... If there
        // are additional URIs in the To-Path header, the relay MUST then move its URI from the
        // To-Path header, insert its URI in front of any other URIs in the From-Path header,
        // and forward the response to the next URI in the To-Path header."
        let (Ok(Some(to_path)), Ok(Some(from_path))) = (head.to_path(), head.from_path()) else {
            return;
        };
        let first = to_path.iter().next().unwrap_or_default();
        if !MsrpUri::parse(first).is_ok_and(|u| self.is_us(&u)) {
            return;
        }
        let rest = to_path.as_str()[first.len()..].trim_start_matches(' ');
        if rest.is_empty() {
            return;
        }
        let mut out = BytesMut::new();
        let comment = head.comment().and_then(|c| core::str::from_utf8(c).ok());
        let written = (|| {
            let mut w = HeadWriter::response(&mut out, &pending.tid, code, comment)?;
            w.header("To-Path", rest)?
                .header("From-Path", &format!("{first} {}", from_path.as_str()))?;
            for header in head.headers() {
                if !matches!(header.name, HeaderName::ToPath | HeaderName::FromPath) {
                    w.header_bytes(header.name_str(), header.value)?;
                }
            }
            w.end(Flag::End)
        })();
        if written.is_ok() {
            self.stats.relayed_responses += 1;
            self.send_control(pending.from, out.to_vec());
        }
    }

    /// Forgets the chunks forwarded on `connection` that were cut from request `tid` of
    /// `from`.
    fn forget_cut(&mut self, connection: ConnectionId, from: ConnectionId, tid: TransactionId) {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        let before = conn.pending.len();
        conn.pending
            .retain(|_, p| !(p.cut && p.from == from && p.tid == tid));
        for _ in conn.pending.len()..before {
            self.settled(from);
        }
    }

    /// Sends a failure REPORT for a forwarded SEND back to its sender, over the connection it
    /// came from (RFC 4976 §6.4.1).
    fn failure_report(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        report: &ReportTo,
        code: StatusCode,
    ) {
        if self.conns.get(connection.0).is_none() {
            return;
        }
        let tid = self.new_tid();
        let status = match code.canonical_reason() {
            Some(reason) => format!("000 {:03} {reason}", code.as_u16()),
            None => format!("000 {:03}", code.as_u16()),
        };
        let mut out = BytesMut::new();
        let written = (|| {
            let mut w = HeadWriter::request(&mut out, &tid, "REPORT")?;
            w.header("To-Path", &report.to_path)?
                .header("From-Path", &report.from)?
                .header("Message-ID", &report.message_id)?;
            if !report.byte_range.is_empty() {
                w.header("Byte-Range", &report.byte_range)?;
            }
            w.header("Status", &status)?;
            w.end(Flag::End)
        })();
        if written.is_ok() {
            self.stats.failure_reports += 1;
            self.events.push_back(RelayEvent::FailureReported {
                status: code.as_u16(),
                message_id: report.message_id.clone(),
            });
            self.send_control(connection, out.to_vec());
        }
        let _ = now;
    }

    /// Answers a request that is not forwarded, when it asks for a response: the code of RFC
    /// 4975 §7.2, from `us` (the relay's URI as the request named it) or the first To-Path URI.
    pub(crate) fn refuse(
        &mut self,
        connection: ConnectionId,
        head: &Head,
        code: StatusCode,
        us: Option<&str>,
    ) {
        self.stats.refused += 1;
        let wants_response = head.method().is_some_and(|m| m != Method::Report)
            && head.failure_report().ok().flatten() != Some(FailureReport::No);
        if !wants_response {
            return;
        }
        let (Ok(Some(from_path)), Ok(Some(to_path))) = (head.from_path(), head.to_path()) else {
            return;
        };
        // RFC 4975 §7.2: a response to a SEND goes to the first URI of its From-Path; one to
        // any other request to the whole of it.
        let to = if head.method() == Some(Method::Send) {
            from_path.first()
        } else {
            from_path
        };
        let from = us
            .and_then(UriList::parse)
            .unwrap_or_else(|| to_path.first());
        let mut out = BytesMut::new();
        encode_response(&mut out, head, code, to, from);
        self.send_control(connection, out.to_vec());
    }

    /// Queues a response or REPORT of the relay's own on a connection.
    pub(crate) fn send_control(&mut self, connection: ConnectionId, bytes: Vec<u8>) {
        if let Some(conn) = self.conns.get_mut(connection.0) {
            if conn.writer.is_some() {
                // Not in the middle of the frame being written: after it.
                conn.held_len += bytes.len();
                conn.held.push(Bytes::from(bytes));
                return;
            }
            conn.push(Bytes::from(bytes));
            self.announce(connection);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Output.
    // -----------------------------------------------------------------------------------------

    /// Whether a connection has output to write.
    pub fn wants_write(&self, connection: ConnectionId) -> bool {
        self.conns
            .get(connection.0)
            .is_some_and(|c| c.established && !c.out.is_empty())
    }

    /// Appends up to about `max` bytes of a connection's output to `out`, as pieces to write
    /// in order (bodies are slices of what was received, not copies). Returns the number of
    /// bytes appended.
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
        if !conn.established {
            return 0;
        }
        let mut n = 0;
        while n < max {
            let Some(mut piece) = conn.out.pop_front() else {
                break;
            };
            if piece.len() > max - n {
                let rest = piece.split_off(max - n);
                conn.out.push_front(rest);
            }
            n += piece.len();
            out.push(piece);
        }
        conn.out_len -= n;
        conn.written += n as u64;
        if n > 0 {
            conn.last_active = now;
        }
        // Forwarded requests whose last byte is now out start their timers.
        let mut started = Vec::new();
        while let Some(&(at, tid)) = conn.ends.front() {
            if at > conn.written {
                break;
            }
            conn.ends.pop_front();
            started.push(tid);
        }
        let drained = conn.out_len <= self.config.max_output / 2;
        let waiters = if drained {
            core::mem::take(&mut conn.waiters)
        } else {
            Vec::new()
        };
        for tid in &started {
            if let Some(pending) = conn.pending.get_mut(tid) {
                pending.written = true;
            }
        }
        let at = now + self.config.transaction_timeout;
        for tid in started {
            self.timers
                .push(Reverse((at, Timer::Pending(connection, tid))));
        }
        for waiter in waiters {
            self.unblock(waiter);
        }
        if drained {
            self.write_queued(connection);
        }
        if n > 0 {
            self.arm_release(now, connection);
        }
        n
    }

    /// Tells the I/O layer that a connection has output, once per wait.
    fn announce(&mut self, connection: ConnectionId) {
        if let Some(conn) = self.conns.get_mut(connection.0) {
            if conn.established && !conn.transmit_pending && !conn.out.is_empty() {
                conn.transmit_pending = true;
                self.actions.push_back(Action::Transmit(connection));
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // What the relay decided, and time.
    // -----------------------------------------------------------------------------------------

    /// The next thing for the I/O layer to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event for the operator.
    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    /// Arms a connection's deadline.
    fn arm(&mut self, _now: Instant, connection: ConnectionId) {
        if let Some((at, _)) = self.conns.get(connection.0).and_then(|c| c.deadline) {
            self.timers.push(Reverse((at, Timer::Conn(connection))));
        }
    }

    /// Arms the release of a connection's buffers for when it has been quiet long enough,
    /// unless it is armed already.
    fn arm_release(&mut self, now: Instant, connection: ConnectionId) {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        if !conn.release_armed {
            conn.release_armed = true;
            let at = now + self.config.buffer_release;
            self.timers.push(Reverse((at, Timer::Release(connection))));
        }
    }

    /// A connection quiet for [`RelayConfig::buffer_release`] gives back its receive buffer
    /// and the spare room of its queues; one still busy is looked at again later.
    fn release(&mut self, now: Instant, connection: ConnectionId) {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        conn.release_armed = false;
        let due = conn.last_active + self.config.buffer_release;
        let quiet = conn.out.is_empty() && conn.decoder.buffered() == 0;
        if quiet && due <= now {
            conn.decoder.release_memory();
            conn.out.shrink_to_fit();
            conn.ends.shrink_to_fit();
            conn.waiters.shrink_to_fit();
            conn.pending.shrink_to_fit();
            conn.owned.shrink_to_fit();
        } else {
            conn.release_armed = true;
            let at = due.max(now + self.config.buffer_release);
            self.timers.push(Reverse((at, Timer::Release(connection))));
        }
    }

    /// A connection whose frame in progress got no byte for [`RelayConfig::frame_timeout`],
    /// while it was read, is closed: the frame ends aborted on its next hop, which other
    /// connections' frames wait for.
    fn frame_deadline(&mut self, now: Instant, connection: ConnectionId) {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        conn.frame_armed = false;
        if conn.inbound.as_ref().and_then(|i| i.to).is_none() {
            return;
        }
        let due = conn.last_input + self.config.frame_timeout;
        if due <= now && !conn.blocked {
            self.close(now, connection, CloseReason::FrameTimeout);
            return;
        }
        // Still coming, or held by backpressure: looked at again later.
        conn.frame_armed = true;
        let at = due.max(now + self.config.frame_timeout);
        self.timers.push(Reverse((at, Timer::Frame(connection))));
    }

    /// Arms the expiry of a granted URI.
    pub(crate) fn arm_session(&mut self, at: Instant, id: Box<str>) {
        self.timers.push(Reverse((at, Timer::Session(id))));
    }

    /// The earliest time at which [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Fires what is due: connections not set up, silent or unused for too long are closed,
    /// granted URIs expire, and forwarded SENDs whose next hop did not answer in time are
    /// reported failed (RFC 4976 §6.4.1: "If after 30 seconds the next hop has not sent any
    /// response, then the relay MUST construct a REPORT with a status code of 408").
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, timer))) = self.timers.pop() else {
                break;
            };
            match timer {
                Timer::Conn(id) => self.conn_deadline(now, id),
                Timer::Session(id) => {
                    let expired = self.sessions.get(&id).is_some_and(|s| s.expires_at <= now);
                    if expired {
                        self.end_session(&id);
                    }
                }
                Timer::Release(id) => self.release(now, id),
                Timer::Frame(id) => self.frame_deadline(now, id),
                Timer::Pending(id, tid) => {
                    let Some(pending) = self
                        .conns
                        .get_mut(id.0)
                        .and_then(|c| c.pending.remove(&tid))
                    else {
                        continue;
                    };
                    self.settled(pending.from);
                    // Only `Failure-Report: yes` asks for a response after success; other
                    // requests unanswered by now are forgotten.
                    if let Some(report) = pending.report.as_ref().filter(|_| pending.timed) {
                        self.failure_report(now, pending.from, report, StatusCode::REQUEST_TIMEOUT);
                        if pending.cut {
                            self.forget_cut(id, pending.from, pending.tid);
                        }
                    }
                }
            }
        }
    }

    fn conn_deadline(&mut self, now: Instant, id: ConnectionId) {
        let Some(conn) = self.conns.get_mut(id.0) else {
            return;
        };
        let Some((at, what)) = conn.deadline else {
            return;
        };
        if what == Deadline::Idle {
            let due = conn.last_active + self.config.idle_timeout;
            let busy = !conn.out.is_empty() || !conn.pending.is_empty() || !conn.owned.is_empty();
            if due > now || busy {
                // Used since: armed again for when it would be unused long enough.
                let next = due.max(now + Duration::from_secs(1));
                conn.deadline = Some((next, Deadline::Idle));
                self.arm(now, id);
                return;
            }
        } else if at > now {
            self.arm(now, id);
            return;
        }
        let reason = match what {
            Deadline::Setup => CloseReason::SetupTimeout,
            Deadline::FirstRequest => CloseReason::NoRequest,
            Deadline::Idle => CloseReason::Idle,
        };
        self.close(now, id, reason);
    }

    /// A granted URI ends: it expired.
    fn end_session(&mut self, id: &str) {
        let Some(session) = self.sessions.remove(id) else {
            return;
        };
        if let Some(conn) = self.conns.get_mut(session.owner.0) {
            conn.owned.retain(|s| &**s != id);
        }
        self.events.push_back(RelayEvent::SessionEnded {
            uri: session.uri.into(),
        });
    }

    // -----------------------------------------------------------------------------------------
    // Shutdown.
    // -----------------------------------------------------------------------------------------

    /// Refuses new connections from now on.
    pub fn shutdown(&mut self) {
        self.shutdown = true;
    }

    /// Whether a shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown
    }

    /// Closes every connection now; starts the shutdown if it had not started.
    pub fn finish(&mut self, now: Instant) {
        self.shutdown = true;
        for key in self.conns.keys() {
            self.close(now, ConnectionId(key), CloseReason::Shutdown);
        }
    }

    /// Whether the relay has shut down and let go of everything.
    pub fn is_finished(&self) -> bool {
        self.shutdown && self.conns.is_empty()
    }

    /// Whether nothing waits to be written anywhere.
    pub fn is_idle(&self) -> bool {
        self.conns.iter().all(|(_, c)| c.out.is_empty())
    }

    // -----------------------------------------------------------------------------------------
    // Helpers.
    // -----------------------------------------------------------------------------------------

    /// Whether a URI names this relay: its host (without case) and port, and its scheme.
    pub(crate) fn is_us(&self, uri: &MsrpUri) -> bool {
        // A URI without a port names the relay by its host alone, as RFC 4976 §5.1's AUTH
        // examples do ("msrps://alice@intra.example.com;tcp").
        let ws = uri.transport() == msrp_uri::Transport::Ws;
        uri.host_str().eq_ignore_ascii_case(&self.config.host)
            && uri
                .port()
                .is_none_or(|p| p == self.config.port || (ws && Some(p) == self.config.ws_port))
            && uri.scheme().is_secure() == self.config.secure
    }

    pub(crate) fn new_tid(&mut self) -> TransactionId {
        let mut r = [0u8; 16];
        self.random.fill(&mut r);
        TransactionId::from_random(r)
    }
}

/// A transaction id for frames that go nowhere.
fn placeholder_tid() -> TransactionId {
    TransactionId::from_random([0; 16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(now: Instant) -> Relay {
        let mut n = 0u8;
        Relay::new(
            RelayConfig::new("relay.example.com", 2855),
            move |buf: &mut [u8]| {
                for b in buf {
                    n = n.wrapping_add(37);
                    *b = n;
                }
            },
            now,
        )
    }

    #[test]
    fn a_quiet_connection_gives_back_its_receive_buffer() {
        let now = Instant::now();
        let mut relay = relay(now);
        let peer: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let c = relay.handle_accept(now, peer).unwrap();
        relay.handle_established(now, c, peer, None);
        relay.handle_input(
            now,
            c,
            b"MSRP a1x9 AUTH\r\nTo-Path: msrp://relay.example.com:2855;tcp\r\n\
              From-Path: msrp://client.example.com:7000/s1;tcp\r\n-------a1x9$\r\n",
        );
        let mut out = Vec::new();
        relay.poll_transmit(now, c, 1 << 20, &mut out);
        assert_eq!(relay.session_count(), 1, "{out:?}");
        assert!(!out.is_empty(), "the AUTH was answered");
        let capacity = |relay: &Relay| relay.conns.get(c.0).unwrap().decoder.capacity();
        assert!(capacity(&relay) > 0);
        // Not yet: it was busy less than a second ago.
        relay.handle_timeout(now + Duration::from_millis(500));
        assert!(capacity(&relay) > 0);
        // Quiet for a second: the buffer goes, the connection and its URI stay.
        let later = relay.poll_timeout().unwrap();
        relay.handle_timeout(later);
        assert_eq!(capacity(&relay), 0);
        assert_eq!(relay.connection_count(), 1);
        assert_eq!(relay.session_count(), 1);
        // And the next request is read as before.
        relay.handle_input(
            later,
            c,
            b"MSRP a2x9 AUTH\r\nTo-Path: msrp://relay.example.com:2855;tcp\r\n\
              From-Path: msrp://client.example.com:7000/s2;tcp\r\n-------a2x9$\r\n",
        );
        assert_eq!(relay.session_count(), 2);
    }
}
