//! The event loop: sockets, TLS, timers, and the sans-IO connections they drive.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use bytes::{Buf, Bytes};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Poll, Token};
use msrp_session::{
    Connection, ConnectionEvent, Event, MessageHandle, OutgoingMessage, SendError, Session,
    SessionFailure, SessionKey,
};
use msrp_uri::Host;
use msrp_wire::StatusCode;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

use crate::api::{
    Command, EndpointConfig, EndpointEvent, MessageRef, OpenError, Role, SessionId, SessionSpec,
    Shared, TransportError,
};
use crate::tls::{self, Identity, PeerVerification};

pub(crate) const WAKER: Token = Token(0);
/// Pieces handed to one vectored write.
const MAX_IOVECS: usize = 64;
/// Most TLS client configurations kept for reuse (one per way of checking peers).
const CLIENT_CONFIGS: usize = 64;

/// Where events go: a channel, or a handler running on the loop's thread.
pub(crate) enum Sink {
    Channel(Sender<EndpointEvent>),
    Handler(Box<dyn Handler>),
}

/// Receives an endpoint's events on its event-loop thread, with a [`Context`] to act at once:
/// no thread hop between an event and the command it prompts.
pub trait Handler: Send + 'static {
    /// Handles one event.
    fn on_event(&mut self, ctx: &mut Context<'_>, event: EndpointEvent);
}

impl<F: FnMut(&mut Context<'_>, EndpointEvent) + Send + 'static> Handler for F {
    fn on_event(&mut self, ctx: &mut Context<'_>, event: EndpointEvent) {
        self(ctx, event)
    }
}

/// What a [`Handler`] can do from the event loop's thread.
pub struct Context<'a> {
    driver: &'a mut Driver,
}

impl Context<'_> {
    /// Queues a message; see [`Handle::send`](crate::Handle::send).
    pub fn send(&mut self, session: SessionId, outgoing: OutgoingMessage) -> MessageRef {
        let message = MessageRef(
            self.driver
                .shared
                .next_message
                .fetch_add(1, Ordering::Relaxed),
        );
        self.driver.send(session, message, outgoing);
        message
    }

    /// Aborts a message.
    pub fn abort(&mut self, session: SessionId, message: MessageRef) {
        self.driver.abort(session, message);
    }

    /// Closes a session.
    pub fn close_session(&mut self, session: SessionId) {
        self.driver.close_session(session, Instant::now());
    }

    /// Opens a session; see [`Handle::open_session`](crate::Handle::open_session).
    pub fn open_session(&mut self, spec: SessionSpec) -> Result<SessionId, OpenError> {
        let id = SessionId(
            self.driver
                .shared
                .next_session
                .fetch_add(1, Ordering::Relaxed),
        );
        self.driver.open(id, spec, Instant::now())?;
        Ok(id)
    }

    /// Starts a graceful shutdown.
    pub fn shutdown(&mut self) {
        self.driver.begin_shutdown(Instant::now());
    }
}

struct Listener {
    socket: TcpListener,
    tls: bool,
}

/// Who the far end of a connection is, for reusing connections (RFC 4975 §5.4: "If the sender
/// already has such a connection, that is, one associated with the same host, port, and URI
/// scheme, then it SHOULD reuse that connection"); for `msrps`, the same certificate checks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PeerKey {
    addr: SocketAddr,
    identity: Option<String>,
}

/// Flights of a connection being set up after which the loop polls for the answer
/// ([`EndpointConfig::setup_poll`]): a TLS client writes two (its hello, then its Finished with
/// its first request), a server one; a plain client one (its first request).
const SETUP_FLIGHTS: u8 = 3;

/// One socket, its TLS state, and the sessions it carries.
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<rustls::Connection>,
    msrp: Connection,
    out: VecDeque<Bytes>,
    out_len: usize,
    /// Whether this endpoint opened the connection.
    outgoing: bool,
    /// Whether the socket (and TLS) is up, so that MSRP may flow.
    ready: bool,
    /// Connect or first-request deadline.
    deadline: Option<Instant>,
    keys: HashMap<SessionKey, SessionId>,
    reuse: Option<PeerKey>,
    readable: bool,
    writable: bool,
    closing: Option<TransportError>,
    /// Received ciphertext not yet given to rustls, kept while input is paused.
    tls_in: Vec<u8>,
    /// Whether the peer closed its side (or the socket failed): reads go on until they say so,
    /// even after a short one.
    read_closed: bool,
    /// Whether rustls may hold plaintext not yet taken, because input stopped.
    tls_pending: bool,
    /// Whether input stopped because responses wait to be written (the MSRP connection's
    /// `wants_read` was false): it must be taken up again once they are, since the socket's
    /// readiness (edge-triggered) will not be announced again.
    input_waits: bool,
    /// The MSRP connection's next timeout as of the last time the connection was served, so
    /// that finding the loop's timeout does not ask every session of every connection.
    timer: Option<Instant>,
    /// The time of this connection's live entry in the driver's timer queue.
    armed: Option<Instant>,
    /// Whether reading stopped with input left so that a handler could take its events first.
    yielded: bool,
    /// Whether MSRP bytes have come in: until then the connection is being set up, and each
    /// of its flights (a TLS handshake message, the first request) is answered after one of
    /// the peer's public-key operations, or at once.
    heard: bool,
    /// Whether bytes went to the socket in this service of the connection.
    wrote: bool,
    /// The flights after which the loop polled for the answer ([`SETUP_FLIGHTS`] at most).
    setup_flights: u8,
}

impl Conn {
    fn new(stream: TcpStream, peer: SocketAddr, outgoing: bool, config: &EndpointConfig) -> Self {
        Self {
            stream,
            peer,
            tls: None,
            msrp: Connection::new(config.connection),
            out: VecDeque::new(),
            out_len: 0,
            outgoing,
            ready: false,
            deadline: None,
            keys: HashMap::new(),
            reuse: None,
            readable: false,
            writable: false,
            closing: None,
            tls_in: Vec::new(),
            tls_pending: false,
            read_closed: false,
            input_waits: false,
            timer: None,
            armed: None,
            yielded: false,
            heard: false,
            wrote: false,
            setup_flights: 0,
        }
    }

    /// Notes that handling received bytes stopped, with bytes left in the decoder, for
    /// responses to be written first.
    fn note_input_stop(&mut self) {
        self.input_waits |= !self.msrp.wants_read();
    }

    /// Whether received bytes may be taken in now; notes when the MSRP connection is what
    /// stops them.
    fn may_read(&mut self, paused: bool) -> bool {
        if paused {
            return false;
        }
        if !self.msrp.wants_read() {
            self.input_waits = true;
            return false;
        }
        true
    }

    fn close(&mut self, error: TransportError) {
        if self.closing.is_none() {
            self.closing = Some(error);
        }
    }

    /// Writes the records rustls holds. Returns whether writing may go on: false when the
    /// socket is full or the connection failed.
    fn flush_tls(&mut self) -> bool {
        while let Some(tls) = self.tls.as_mut().filter(|t| t.wants_write()) {
            match tls.write_tls(&mut self.stream) {
                Ok(n) => self.wrote |= n > 0,
                Err(e) => {
                    if self.write_failed(&e) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Takes in a failed write: `true` when writing must stop for now, because the socket is
    /// full or the connection is closing; `false` to retry an interrupted call.
    fn write_failed(&mut self, e: &io::Error) -> bool {
        match e.kind() {
            io::ErrorKind::WouldBlock => {
                self.writable = false;
                true
            }
            io::ErrorKind::Interrupted => false,
            _ => {
                self.close(TransportError::Io(io_text(e)));
                true
            }
        }
    }
}

/// Where a session is.
enum Place {
    /// A passive session waiting for its peer to connect and name it.
    Waiting(Box<Session>),
    /// Attached to a connection.
    Bound { token: Token, key: SessionKey },
    /// In the middle of a move from one place to the other.
    Moving,
}

struct Entry {
    session_id: String,
    place: Place,
    verification: Option<PeerVerification>,
    /// Outcomes to report: the session's handles and the endpoint's references.
    refs: HashMap<MessageHandle, MessageRef>,
    /// Messages sent before a passive session was bound.
    queued: Vec<(MessageRef, OutgoingMessage)>,
}

pub(crate) struct Driver {
    poll: Poll,
    pub(crate) shared: Arc<Shared>,
    commands: Receiver<Command>,
    config: EndpointConfig,
    sink: Option<Sink>,
    /// Events for a handler, delivered between connection work.
    outbox: VecDeque<EndpointEvent>,
    listeners: HashMap<Token, Listener>,
    /// Boxed: a connection is taken out of the map while it is served, and a `Conn` (with its
    /// TLS state) is large enough that moving it out and back costs a visible copy per turn.
    conns: HashMap<Token, Box<Conn>>,
    next_token: usize,
    sessions: HashMap<SessionId, Entry>,
    by_session_id: HashMap<String, SessionId>,
    reuse: HashMap<PeerKey, Token>,
    identity: Identity,
    server_tls: Option<Arc<ServerConfig>>,
    read_buf: Vec<u8>,
    /// TLS client configurations by [`verification_key`].
    client_configs: HashMap<String, Arc<ClientConfig>>,
    /// The pieces a connection hands out to write, on their way to its queue.
    pieces: Vec<Bytes>,
    /// Connections to look at in this turn of the loop.
    dirty: Vec<Token>,
    /// When connections want their timers looked at, earliest first: at most one live entry
    /// per connection (its `armed` time), so that neither the loop's timeout nor the due timers
    /// cost a walk over every connection. Entries whose connection has since been armed
    /// earlier, or has gone, are dropped as they come up.
    timers: BinaryHeap<Reverse<(Instant, Token)>>,
    /// Connections marked for closing since the last reaping.
    closing: Vec<Token>,
    shutdown: Option<Instant>,
    paused: bool,
    /// Until when the loop polls without sleeping because a connection being set up has just
    /// written (see [`EndpointConfig::setup_poll`]).
    setup_until: Option<Instant>,
}

fn io_text(e: &io::Error) -> String {
    e.to_string()
}

impl Driver {
    pub(crate) fn new(
        poll: Poll,
        shared: Arc<Shared>,
        commands: Receiver<Command>,
        config: EndpointConfig,
        sink: Sink,
        identity: Identity,
    ) -> Self {
        Self {
            poll,
            shared,
            commands,
            read_buf: vec![0; config.read_size.max(4096)],
            pieces: Vec::new(),
            client_configs: HashMap::new(),
            config,
            sink: Some(sink),
            outbox: VecDeque::new(),
            listeners: HashMap::new(),
            conns: HashMap::new(),
            next_token: 1,
            sessions: HashMap::new(),
            by_session_id: HashMap::new(),
            reuse: HashMap::new(),
            identity,
            server_tls: None,
            dirty: Vec::new(),
            timers: BinaryHeap::new(),
            closing: Vec::new(),
            shutdown: None,
            paused: false,
            setup_until: None,
        }
    }

    fn token(&mut self) -> Token {
        self.next_token += 1;
        Token(self.next_token)
    }

    // -----------------------------------------------------------------------------------------
    // Events to the application.
    // -----------------------------------------------------------------------------------------

    fn emit(&mut self, event: EndpointEvent) {
        match &self.sink {
            Some(Sink::Channel(tx)) => {
                let len = crate::api::data_len(&event);
                let queued = self.shared.queued_events.fetch_add(1, Ordering::AcqRel) + 1;
                let bytes = self.shared.queued_bytes.fetch_add(len, Ordering::AcqRel) + len;
                if tx.send(event).is_err() {
                    // Nobody listens any more; the counts no longer matter.
                    self.shared.queued_events.fetch_sub(1, Ordering::AcqRel);
                    self.shared.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                } else if queued >= self.config.event_capacity || bytes >= self.config.event_bytes {
                    self.pause_reading(true);
                }
            }
            _ => self.outbox.push_back(event),
        }
    }

    fn pause_reading(&mut self, paused: bool) {
        self.paused = paused;
        self.shared.reading_paused.store(paused, Ordering::Release);
    }

    /// Hands queued events to a handler, which may issue commands as it goes.
    fn deliver(&mut self) {
        while let Some(event) = self.outbox.pop_front() {
            let Some(Sink::Handler(mut handler)) = self.sink.take() else {
                self.outbox.clear();
                return;
            };
            handler.on_event(&mut Context { driver: self }, event);
            self.sink = Some(Sink::Handler(handler));
        }
    }

    // -----------------------------------------------------------------------------------------
    // The loop.
    // -----------------------------------------------------------------------------------------

    pub(crate) fn run(mut self) {
        let mut events = mio::Events::with_capacity(1024);
        // Whether the last wait ended within `busy_poll`, so that the next one polls first.
        let mut spinning = false;
        loop {
            self.deliver();
            if !self.dirty.is_empty() {
                // What the handler did (a message sent, a session opened) goes out now rather
                // than after one more poll: in a request-response exchange that poll is a system
                // call per round trip. Events it produces wait for the next turn.
                self.service_dirty(Instant::now());
                self.deliver();
            }
            let now = Instant::now();
            if self.finished(now) {
                break;
            }
            // Connections with work left from the last turn must not wait for an event.
            let timeout = if self.dirty.is_empty() && self.outbox.is_empty() {
                self.next_deadline()
                    .map(|d| d.saturating_duration_since(now))
            } else {
                Some(std::time::Duration::ZERO)
            };
            if let Err(e) = self.wait(&mut events, timeout, now, &mut spinning) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            let now = Instant::now();
            for event in events.iter() {
                let token = event.token();
                if token == WAKER {
                    continue;
                }
                if self.listeners.contains_key(&token) {
                    self.accept(token, now);
                    continue;
                }
                if let Some(conn) = self.conns.get_mut(&token) {
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        conn.readable = true;
                    }
                    if event.is_read_closed() || event.is_error() {
                        conn.read_closed = true;
                    }
                    if event.is_writable() || event.is_error() {
                        conn.writable = true;
                    }
                    self.dirty.push(token);
                }
            }
            self.commands(now);
            if self.paused
                && self.shared.queued_events.load(Ordering::Acquire)
                    <= self.config.event_capacity / 2
                && self.shared.queued_bytes.load(Ordering::Acquire) <= self.config.event_bytes / 2
            {
                self.pause_reading(false);
                // Connections left unread while paused are read now.
                self.dirty.extend(self.conns.keys().copied());
            }
            self.service_dirty(now);
            self.timeouts(now);
            self.reap(now);
        }
        let now = Instant::now();
        for (token, conn) in &mut self.conns {
            conn.close(TransportError::Shutdown);
            self.closing.push(*token);
        }
        let waiting: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, e)| matches!(e.place, Place::Waiting(_)))
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            self.fail_waiting(id, SessionFailure::ConnectionLost);
        }
        self.reap(now);
        self.deliver();
    }

    /// Waits for events, at most `timeout` (`None`: without end). It first polls without
    /// sleeping: for up to [`EndpointConfig::busy_poll`] when the last wait was that short
    /// (`spinning`, which tells on return whether this wait was short too), and until
    /// `setup_until` when a connection being set up has just written.
    fn wait(
        &mut self,
        events: &mut mio::Events,
        timeout: Option<std::time::Duration>,
        now: Instant,
        spinning: &mut bool,
    ) -> io::Result<()> {
        if timeout.is_some_and(|t| t.is_zero()) {
            return self.poll.poll(events, timeout);
        }
        let budget = self.config.busy_poll;
        let spin_end = [
            (*spinning && !budget.is_zero()).then(|| now + budget),
            self.setup_until.filter(|t| *t > now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(end) = spin_end {
            let until = timeout.map_or(end, |t| end.min(now + t));
            loop {
                self.poll.poll(events, Some(std::time::Duration::ZERO))?;
                if !events.is_empty() {
                    return Ok(());
                }
                if Instant::now() >= until {
                    break;
                }
                // Lets a thread that shares this CPU (the peer's loop, on a small machine)
                // run: it may be the one that is to answer.
                std::thread::yield_now();
            }
        }
        let start = Instant::now();
        let rest = timeout.map(|t| t.saturating_sub(start - now));
        self.poll.poll(events, rest)?;
        *spinning = !budget.is_zero() && !events.is_empty() && start.elapsed() <= budget;
        Ok(())
    }

    fn finished(&self, now: Instant) -> bool {
        let Some(deadline) = self.shutdown else {
            return false;
        };
        now >= deadline
            || self.conns.values().all(|c| {
                c.out.is_empty()
                    && c.msrp.is_idle()
                    && c.tls.as_ref().is_none_or(|t| !t.wants_write())
            })
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.timers
            .peek()
            .map(|Reverse((at, _))| *at)
            .into_iter()
            .chain(self.shutdown)
            .min()
    }

    /// Puts a connection back in the map after work on it: arms its timer when it now wants
    /// one sooner than the one armed, and notes it for reaping when it is closing.
    fn put_back(&mut self, token: Token, mut conn: Box<Conn>) {
        if let Some(at) = [conn.deadline, conn.timer].into_iter().flatten().min() {
            if conn.armed.is_none_or(|armed| at < armed) {
                conn.armed = Some(at);
                self.timers.push(Reverse((at, token)));
            }
        }
        if conn.closing.is_some() {
            self.closing.push(token);
        }
        self.conns.insert(token, conn);
        // Stale entries (of connections since armed sooner, or gone) are dropped as they come
        // up, which may be a minute away: under heavy connection churn they are swept out here,
        // so that the queue stays in proportion to the connections.
        if self.timers.len() > 2 * self.conns.len() + 64 {
            let conns = &self.conns;
            self.timers
                .retain(|Reverse((at, t))| conns.get(t).is_some_and(|c| c.armed == Some(*at)));
        }
    }

    fn service_dirty(&mut self, now: Instant) {
        let mut dirty = core::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for token in dirty.drain(..) {
            self.service(token, now);
        }
        // Connections put back on the list while being served (output the socket can take,
        // input left for the next turn) stay on it: no event would bring them back.
        if self.dirty.is_empty() {
            self.dirty = dirty;
        }
    }

    fn timeouts(&mut self, now: Instant) {
        // The entries due now are taken first: a timer that work on its connection arms for
        // now again waits for the next turn rather than spinning here.
        let mut due = Vec::new();
        while let Some(&Reverse((at, token))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            due.push((at, token));
        }
        for (at, token) in due {
            let Some(mut conn) = self.conns.remove(&token) else {
                continue;
            };
            if conn.armed != Some(at) {
                // Armed again for sooner since: this entry is stale.
                self.conns.insert(token, conn);
                continue;
            }
            conn.armed = None;
            let expired = conn.deadline.is_some_and(|d| d <= now);
            if expired || conn.timer.is_some_and(|d| d <= now) {
                if expired {
                    conn.close(TransportError::Timeout);
                }
                conn.msrp.handle_timeout(now);
                self.events_of(&mut conn, token, now);
                conn.timer = conn.msrp.poll_timeout();
                self.put_back(token, conn);
                self.service(token, now);
            } else {
                // Its timers moved later since it was armed: armed again for when they are.
                self.put_back(token, conn);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Commands.
    // -----------------------------------------------------------------------------------------

    fn commands(&mut self, now: Instant) {
        self.shared.woken.store(false, Ordering::Release);
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Listen { addr, tls, reply } => {
                    let _ = reply.send(self.listen(addr, tls));
                }
                Command::Open { id, spec, reply } => {
                    let _ = reply.send(self.open(id, *spec, now));
                }
                Command::Send {
                    session,
                    message,
                    outgoing,
                } => self.send(session, message, outgoing),
                Command::Abort { session, message } => self.abort(session, message),
                Command::Close { session } => self.close_session(session, now),
                Command::Shutdown => self.begin_shutdown(now),
            }
        }
    }

    fn listen(&mut self, addr: SocketAddr, tls: bool) -> io::Result<SocketAddr> {
        if self.shutdown.is_some() {
            return Err(io::Error::other("the endpoint is shutting down"));
        }
        if tls && self.server_tls.is_none() {
            self.server_tls = Some(self.identity.server_config().map_err(io::Error::other)?);
        }
        let mut socket = TcpListener::bind(addr)?;
        let local = socket.local_addr()?;
        let token = self.token();
        self.poll
            .registry()
            .register(&mut socket, token, Interest::READABLE)?;
        self.listeners.insert(token, Listener { socket, tls });
        Ok(local)
    }

    fn accept(&mut self, token: Token, now: Instant) {
        loop {
            let Some(listener) = self.listeners.get(&token) else {
                return;
            };
            let tls = listener.tls;
            let (mut stream, peer) = match listener.socket.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A connection that failed before it was accepted: try the next one.
                Err(_) => continue,
            };
            if self.conns.len() >= self.config.max_connections || self.shutdown.is_some() {
                drop(stream);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let conn_token = self.token();
            if self
                .poll
                .registry()
                .register(
                    &mut stream,
                    conn_token,
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_err()
            {
                continue;
            }
            let mut conn = Box::new(Conn::new(stream, peer, false, &self.config));
            conn.ready = true;
            conn.deadline = Some(now + self.config.first_frame_timeout);
            if tls {
                let Some(config) = self.server_tls.clone() else {
                    continue;
                };
                match ServerConnection::new(config) {
                    Ok(mut server) => {
                        server.set_buffer_limit(Some(self.config.write_buffer));
                        conn.tls = Some(rustls::Connection::Server(server));
                        conn.ready = false;
                    }
                    Err(_) => continue,
                }
            }
            self.put_back(conn_token, conn);
            self.dirty.push(conn_token);
        }
    }

    /// Opens a session: see [`Handle::open_session`](crate::Handle::open_session).
    fn open(&mut self, id: SessionId, spec: SessionSpec, now: Instant) -> Result<(), OpenError> {
        if self.shutdown.is_some() {
            return Err(OpenError::Shutdown);
        }
        let SessionSpec {
            config,
            connect_to,
            verification,
            reuse_connection,
        } = spec;
        let role = config.role;
        let secure =
            config.peer_path.first().scheme().is_secure() || config.local_uri.scheme().is_secure();
        // The active side is the TLS client, and must know whom it talks to (RFC 4975 §14.4).
        // A passive session without verification takes any client certificate.
        if secure && role == Role::Active && verification.is_none() {
            return Err(OpenError::Tls(
                "an active msrps session needs the peer's fingerprint or trusted roots".into(),
            ));
        }
        let first_hop = config.peer_path.first().clone();
        let session = Session::new(config).map_err(OpenError::Config)?;
        let session_id = session.session_id().to_owned();
        if self.by_session_id.contains_key(&session_id) {
            return Err(OpenError::Duplicate);
        }
        let mut entry = Entry {
            session_id: session_id.clone(),
            place: Place::Waiting(Box::new(session)),
            verification,
            refs: HashMap::new(),
            queued: Vec::new(),
        };
        if role == Role::Active {
            let addr = match connect_to {
                Some(addr) => addr,
                None => resolve(&first_hop)?,
            };
            let Place::Waiting(session) = core::mem::replace(&mut entry.place, Place::Moving)
            else {
                return Err(OpenError::Connect("session state".into()));
            };
            let peer_key = PeerKey {
                addr,
                identity: secure.then(|| verification_key(entry.verification.as_ref())),
            };
            let reusable = self.reuse.get(&peer_key).copied().filter(|t| {
                reuse_connection && self.conns.get(t).is_some_and(|c| c.closing.is_none())
            });
            let token = match reusable {
                Some(token) => token,
                None => self.connect(addr, &first_hop, secure, &entry, peer_key, now)?,
            };
            let conn = self
                .conns
                .get_mut(&token)
                .ok_or_else(|| OpenError::Connect("connection vanished".into()))?;
            let key = conn
                .msrp
                .insert_session(session)
                .map_err(|e| OpenError::Connect(e.to_string()))?;
            conn.keys.insert(key, id);
            if conn.ready {
                // A connection kept after its last session went is in use again.
                conn.deadline = None;
            }
            let ready = conn.ready;
            let peer = conn.peer;
            entry.place = Place::Bound { token, key };
            self.dirty.push(token);
            if ready {
                self.emit(EndpointEvent::Bound { session: id, peer });
            }
        }
        self.by_session_id.insert(session_id, id);
        self.sessions.insert(id, entry);
        Ok(())
    }

    /// The TLS client configuration for peers checked as `verification` says, built once:
    /// building one parses the private key.
    fn client_config(
        &mut self,
        verification: &PeerVerification,
    ) -> Result<Arc<ClientConfig>, OpenError> {
        let key = verification_key(Some(verification));
        if let Some(config) = self.client_configs.get(&key) {
            return Ok(config.clone());
        }
        let config = self
            .identity
            .client_config(verification)
            .map_err(|e| OpenError::Tls(e.to_string()))?;
        if self.client_configs.len() >= CLIENT_CONFIGS {
            self.client_configs.clear();
        }
        self.client_configs.insert(key, config.clone());
        Ok(config)
    }

    fn connect(
        &mut self,
        addr: SocketAddr,
        first_hop: &msrp_uri::MsrpUri,
        secure: bool,
        entry: &Entry,
        peer_key: PeerKey,
        now: Instant,
    ) -> Result<Token, OpenError> {
        if self.conns.len() >= self.config.max_connections {
            return Err(OpenError::Connect("too many connections".into()));
        }
        let mut stream = TcpStream::connect(addr).map_err(|e| OpenError::Connect(io_text(&e)))?;
        let _ = stream.set_nodelay(true);
        let token = self.token();
        self.poll
            .registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| OpenError::Connect(io_text(&e)))?;
        let mut conn = Box::new(Conn::new(stream, addr, true, &self.config));
        conn.deadline = Some(now + self.config.connect_timeout);
        if secure {
            let verification = entry
                .verification
                .as_ref()
                .ok_or_else(|| OpenError::Tls("no verification".into()))?;
            let config = self.client_config(verification)?;
            let name = match first_hop.host() {
                Host::Name(name) => ServerName::try_from(name.to_owned())
                    .map_err(|e| OpenError::Tls(e.to_string()))?,
                Host::V4(ip) => ServerName::IpAddress(std::net::IpAddr::V4(ip).into()),
                Host::V6(ip) => ServerName::IpAddress(std::net::IpAddr::V6(ip).into()),
            };
            let mut client =
                ClientConnection::new(config, name).map_err(|e| OpenError::Tls(e.to_string()))?;
            client.set_buffer_limit(Some(self.config.write_buffer));
            conn.tls = Some(rustls::Connection::Client(client));
        }
        conn.reuse = Some(peer_key.clone());
        self.reuse.insert(peer_key, token);
        self.put_back(token, conn);
        Ok(token)
    }

    fn send(&mut self, session: SessionId, message: MessageRef, outgoing: OutgoingMessage) {
        let Some(entry) = self.sessions.get_mut(&session) else {
            self.emit(EndpointEvent::Refused {
                session,
                message,
                error: SendError::SessionFailed,
            });
            return;
        };
        match entry.place {
            Place::Waiting(_) | Place::Moving => entry.queued.push((message, outgoing)),
            Place::Bound { token, key } => {
                let Some(conn) = self.conns.get_mut(&token) else {
                    return;
                };
                match conn.msrp.send(key, outgoing) {
                    Ok(handle) => {
                        entry.refs.insert(handle, message);
                        self.dirty.push(token);
                    }
                    Err(error) => self.emit(EndpointEvent::Refused {
                        session,
                        message,
                        error,
                    }),
                }
            }
        }
    }

    fn abort(&mut self, session: SessionId, message: MessageRef) {
        let Some(entry) = self.sessions.get_mut(&session) else {
            return;
        };
        match &entry.place {
            Place::Waiting(_) | Place::Moving => {
                if let Some(at) = entry.queued.iter().position(|(m, _)| *m == message) {
                    entry.queued.remove(at);
                    self.emit(EndpointEvent::Refused {
                        session,
                        message,
                        error: SendError::SessionFailed,
                    });
                }
            }
            Place::Bound { token, key } => {
                let handle = entry
                    .refs
                    .iter()
                    .find(|(_, m)| **m == message)
                    .map(|(h, _)| *h);
                let (token, key) = (*token, *key);
                if let (Some(handle), Some(conn)) = (handle, self.conns.get_mut(&token)) {
                    conn.msrp.abort(key, handle);
                    self.dirty.push(token);
                }
            }
        }
    }

    fn close_session(&mut self, session: SessionId, now: Instant) {
        let Some(entry) = self.sessions.get(&session) else {
            return;
        };
        match entry.place {
            Place::Waiting(_) | Place::Moving => {
                self.fail_waiting(session, SessionFailure::ConnectionLost)
            }
            Place::Bound { token, key } => {
                if let Some(mut conn) = self.conns.remove(&token) {
                    conn.msrp.close_session(key);
                    self.events_of(&mut conn, token, now);
                    conn.msrp.take_session(key);
                    conn.keys.remove(&key);
                    self.note_unused(&mut conn, now);
                    conn.timer = conn.msrp.poll_timeout();
                    self.put_back(token, conn);
                }
                self.forget(session);
            }
        }
    }

    /// Fails a session that never got a connection, reporting its queued messages.
    fn fail_waiting(&mut self, session: SessionId, why: SessionFailure) {
        let Some(entry) = self.sessions.remove(&session) else {
            return;
        };
        self.by_session_id.remove(&entry.session_id);
        for (message, _) in entry.queued {
            self.emit(EndpointEvent::Refused {
                session,
                message,
                error: SendError::SessionFailed,
            });
        }
        self.emit(EndpointEvent::Session(session, Event::SessionFailed(why)));
    }

    fn forget(&mut self, session: SessionId) {
        if let Some(entry) = self.sessions.remove(&session) {
            self.by_session_id.remove(&entry.session_id);
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        if self.shutdown.is_some() {
            return;
        }
        self.shutdown = Some(now + self.config.shutdown_grace);
        for (_, mut listener) in self.listeners.drain() {
            let _ = self.poll.registry().deregister(&mut listener.socket);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Connections.
    // -----------------------------------------------------------------------------------------

    fn service(&mut self, token: Token, now: Instant) {
        let Some(mut conn) = self.conns.remove(&token) else {
            return;
        };
        if conn.closing.is_none() {
            if conn.outgoing && !conn.ready && conn.tls.is_none() && conn.writable {
                self.check_connected(&mut conn, token, now);
            }
            loop {
                self.read(&mut conn, token, now);
                if conn.tls.is_some() {
                    self.after_handshake(&mut conn, token, now);
                }
                self.events_of(&mut conn, token, now);
                // Binding a session may have resumed input and produced output.
                conn.note_input_stop();
                // One write for all the turn made: a client's Finished leaves with the first
                // requests its sessions queued, a server's tickets with its first response.
                self.write(&mut conn, now);
                // Input stops while responses wait to be written. Once the writes have made
                // room, what the decoder holds is handled and the socket read again: its
                // readiness, edge-triggered, will not be announced again.
                if conn.closing.is_some() || self.paused || conn.yielded {
                    break;
                }
                if !conn.msrp.wants_read() {
                    conn.input_waits = true;
                    break;
                }
                if !conn.input_waits {
                    break;
                }
                conn.input_waits = false;
                conn.msrp.resume(now);
                conn.note_input_stop();
            }
        }
        if core::mem::take(&mut conn.wrote)
            && !conn.heard
            && conn.closing.is_none()
            && conn.setup_flights < SETUP_FLIGHTS
            && !self.config.setup_poll.is_zero()
        {
            // What this service wrote (a ClientHello, a server's flight, a client's Finished
            // with its first SEND) is answered after a public-key operation of the peer's:
            // sooner than this thread, asleep, would wake up. Only what the endpoint writes
            // starts the polling, a few times per connection at most, so that a peer cannot
            // keep the loop from sleeping by trickling its bytes in.
            conn.setup_flights += 1;
            self.setup_until = Some(now + self.config.setup_poll);
        }
        self.requeue_output(&conn, token);
        if core::mem::take(&mut conn.yielded) {
            self.dirty.push(token);
        }
        self.note_unused(&mut conn, now);
        conn.timer = conn.msrp.poll_timeout();
        self.put_back(token, conn);
    }

    /// Starts the clock on a connection no session uses any more, for it to be closed unless a
    /// new session comes to use it.
    fn note_unused(&self, conn: &mut Conn, now: Instant) {
        if conn.keys.is_empty() && conn.ready && conn.deadline.is_none() {
            conn.deadline = Some(now + self.config.unused_connection_timeout);
        }
    }

    /// A plain outgoing connection is up once the socket is writable without error.
    fn check_connected(&mut self, conn: &mut Conn, token: Token, _now: Instant) {
        match conn.stream.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => {
                conn.close(TransportError::Connect(io_text(&e)));
                return;
            }
        }
        match conn.stream.peer_addr() {
            Ok(_) => self.on_ready(conn, token),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => conn.writable = false,
            Err(e) => conn.close(TransportError::Connect(io_text(&e))),
        }
    }

    fn on_ready(&mut self, conn: &mut Conn, _token: Token) {
        if conn.ready {
            return;
        }
        conn.ready = true;
        if conn.outgoing {
            conn.deadline = None;
            let sessions: Vec<SessionId> = conn.keys.values().copied().collect();
            for session in sessions {
                self.emit(EndpointEvent::Bound {
                    session,
                    peer: conn.peer,
                });
            }
        }
    }

    fn after_handshake(&mut self, conn: &mut Conn, token: Token, _now: Instant) {
        if !conn.ready && conn.tls.as_ref().is_some_and(|t| !t.is_handshaking()) {
            self.on_ready(conn, token);
        }
    }

    fn read(&mut self, conn: &mut Conn, token: Token, now: Instant) {
        // Input kept in rustls or in `tls_in` when it stopped is taken up without an event.
        while (conn.readable || conn.tls_pending || !conn.tls_in.is_empty())
            && conn.closing.is_none()
        {
            if !conn.may_read(self.paused) {
                return;
            }
            if conn.tls.is_some() {
                if !self.read_tls(conn, now) {
                    return;
                }
            } else {
                // Read into the shared buffer, then copy what came: a read straight into the
                // decoder would first zero as many bytes as it might read.
                match conn.stream.read(&mut self.read_buf) {
                    Ok(0) => conn.close(TransportError::Closed),
                    Ok(n) => {
                        // A read that did not fill the buffer emptied the socket: the next
                        // bytes to arrive raise a new event, and the read that would only
                        // find nothing is saved. The end of the stream raises none of its own
                        // once announced, so it is read until it shows.
                        conn.readable = n == self.read_buf.len() || conn.read_closed;
                        conn.heard = true;
                        conn.msrp.handle_input(now, &self.read_buf[..n]);
                        conn.note_input_stop();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.readable = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => conn.close(TransportError::Io(io_text(&e))),
                }
            }
            self.events_of(conn, token, now);
            // A handler takes its events between turns of the loop. Reading on while they wait
            // would keep every buffer their data points into, and a fast peer never lets the
            // socket run dry: the rest is read in the next turn, once they are taken.
            if !self.outbox.is_empty()
                && (conn.readable || conn.tls_pending || !conn.tls_in.is_empty())
            {
                conn.yielded = true;
                return;
            }
        }
    }

    /// Hands the plaintext rustls holds to the MSRP connection, as much as it takes. Returns
    /// whether input may go on.
    fn take_plaintext(conn: &mut Conn, paused: bool, now: Instant) -> bool {
        loop {
            if !conn.may_read(paused) {
                conn.tls_pending = true;
                return false;
            }
            let Some(tls) = conn.tls.as_mut() else {
                return false;
            };
            let pending = match tls.process_new_packets() {
                Ok(state) => state.plaintext_bytes_to_read(),
                Err(e) => {
                    // Tell the peer why, then give up.
                    let _ = tls.write_tls(&mut conn.stream);
                    conn.close(match e {
                        rustls::Error::InvalidCertificate(_) => TransportError::Fingerprint,
                        _ => TransportError::Tls(e.to_string()),
                    });
                    return false;
                }
            };
            if pending == 0 {
                conn.tls_pending = false;
                return true;
            }
            // Exactly what rustls holds, so that the decoder zeroes no more than it gets.
            conn.heard = true;
            let result = conn.msrp.fill(now, pending, |buf| tls.reader().read(buf));
            conn.note_input_stop();
            match result {
                Ok(0) => {
                    conn.close(TransportError::Closed);
                    return false;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) => {
                    conn.close(TransportError::Tls(io_text(&e)));
                    return false;
                }
            }
        }
    }

    /// Reads ciphertext into the shared buffer and feeds it to rustls (whose own reads take at
    /// most 4 KiB at a time), then hands the plaintext to the MSRP connection. Returns whether
    /// to keep reading.
    fn read_tls(&mut self, conn: &mut Conn, now: Instant) -> bool {
        // Plaintext left from a turn that stopped input comes before new bytes.
        if !Self::take_plaintext(conn, self.paused, now) {
            return false;
        }
        let mut leftover = core::mem::take(&mut conn.tls_in);
        let (data, n): (&[u8], usize) = if leftover.is_empty() {
            match conn.stream.read(&mut self.read_buf) {
                Ok(0) => {
                    conn.close(TransportError::Closed);
                    return false;
                }
                Ok(n) => {
                    // As for plain reads: a short read emptied the socket.
                    conn.readable = n == self.read_buf.len() || conn.read_closed;
                    (&self.read_buf[..], n)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    conn.readable = false;
                    return false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return true,
                Err(e) => {
                    conn.close(TransportError::Io(io_text(&e)));
                    return false;
                }
            }
        } else {
            let n = leftover.len();
            (&leftover[..], n)
        };
        let mut rest = &data[..n];
        while !rest.is_empty() {
            let Some(tls) = conn.tls.as_mut() else {
                return false;
            };
            if let Err(e) = tls.read_tls(&mut rest) {
                conn.close(TransportError::Tls(io_text(&e)));
                return false;
            }
            if !Self::take_plaintext(conn, self.paused, now) {
                if conn.closing.is_none() {
                    // Keep what rustls has not taken until input resumes.
                    conn.tls_in.extend_from_slice(rest);
                }
                return false;
            }
        }
        leftover.clear();
        if conn.tls_in.is_empty() {
            conn.tls_in = leftover;
            conn.tls_in.shrink_to(0);
        }
        true
    }

    fn write(&mut self, conn: &mut Conn, now: Instant) {
        loop {
            if conn.closing.is_some() {
                return;
            }
            // The records rustls holds wait while plaintext is about to join them, so that what
            // one turn makes leaves in one write: a client's Finished with its first requests,
            // which the server then reads at once.
            let adding = conn.ready
                && conn.tls.as_ref().is_some_and(|t| !t.is_handshaking())
                && (!conn.out.is_empty() || conn.msrp.wants_write());
            if !adding && !conn.flush_tls() {
                return;
            }
            if conn.tls.as_ref().is_some_and(|t| t.is_handshaking()) {
                return;
            }
            if !conn.ready {
                return;
            }
            if conn.out_len < self.config.write_buffer / 2 {
                let budget = self.config.write_buffer - conn.out_len;
                let n = conn
                    .msrp
                    .poll_transmit_vectored(now, budget, &mut self.pieces);
                conn.out_len += n;
                conn.out.extend(self.pieces.drain(..));
            }
            if conn.out.is_empty() {
                conn.flush_tls();
                return;
            }
            if conn.tls.is_none() && !conn.writable {
                return;
            }
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let mut count = 0;
            for (slice, piece) in slices.iter_mut().zip(&conn.out) {
                *slice = IoSlice::new(piece);
                count += 1;
            }
            let slices = &slices[..count];
            let result = match conn.tls.as_mut() {
                Some(tls) => tls.writer().write_vectored(slices),
                None => conn.stream.write_vectored(slices),
            };
            match result {
                Ok(0) if conn.tls.is_some() => {
                    // rustls's buffer is full: flush it first.
                    if !conn.tls.as_ref().is_some_and(|t| t.wants_write()) || !conn.flush_tls() {
                        return;
                    }
                }
                Ok(0) => {
                    conn.close(TransportError::Io("write returned zero".into()));
                    return;
                }
                Ok(mut n) => {
                    // Into rustls, for TLS: `flush_tls` notes what reaches the socket.
                    conn.wrote |= conn.tls.is_none();
                    conn.out_len -= n;
                    while n > 0 {
                        let Some(front) = conn.out.front_mut() else {
                            break;
                        };
                        if front.len() <= n {
                            n -= front.len();
                            conn.out.pop_front();
                        } else {
                            front.advance(n);
                            n = 0;
                        }
                    }
                }
                Err(e) => {
                    if conn.write_failed(&e) {
                        return;
                    }
                }
            }
        }
    }

    /// Puts a connection with output to write back on the list for the next turn when its
    /// socket is known to be writable: no event would come for it. Sockets stay registered for
    /// both readiness kinds, edge-triggered, since a writable event only follows a write that
    /// found the socket full; changing the registration as output comes and goes would cost two
    /// system calls per message.
    fn requeue_output(&mut self, conn: &Conn, token: Token) {
        if conn.closing.is_some() {
            return;
        }
        // Until a connection is up, what its sessions queued waits: an outgoing plain one is
        // looked at once writable, to see whether it connected, but a TLS one is up when its
        // handshake ends, which only the peer's flights move on. Looking at it on every turn
        // meanwhile would keep the loop from ever sleeping.
        let wants_write = conn.tls.as_ref().is_some_and(|t| t.wants_write())
            || if conn.ready {
                !conn.out.is_empty() || conn.msrp.wants_write()
            } else {
                conn.outgoing && conn.tls.is_none()
            };
        if wants_write && conn.writable {
            self.dirty.push(token);
        }
    }

    /// Takes a connection's events: session events go to the application, unknown sessions are
    /// bound or refused, a failure closes the connection.
    fn events_of(&mut self, conn: &mut Conn, token: Token, now: Instant) {
        while let Some(event) = conn.msrp.poll_event() {
            match event {
                ConnectionEvent::Session(key, event) => {
                    let Some(&session) = conn.keys.get(&key) else {
                        continue;
                    };
                    let failed = matches!(event, Event::SessionFailed(_));
                    self.session_event(session, event);
                    if failed {
                        // The session is over: it no longer holds the connection (later
                        // requests for it get 481).
                        conn.keys.remove(&key);
                        conn.msrp.take_session(key);
                    }
                }
                ConnectionEvent::UnknownSession { session_id } => {
                    self.bind(conn, token, &session_id, now);
                }
                ConnectionEvent::Failed(why) => {
                    let error = match why {
                        SessionFailure::Framing(e) => TransportError::Framing(e.to_string()),
                        SessionFailure::FrameTimeout => TransportError::Timeout,
                        other => TransportError::Io(other.to_string()),
                    };
                    conn.close(error);
                }
                _ => {}
            }
        }
    }

    fn session_event(&mut self, session: SessionId, event: Event) {
        match event {
            Event::Outcome(outcome) => {
                let message = self
                    .sessions
                    .get_mut(&session)
                    .and_then(|e| e.refs.remove(&outcome.handle));
                if let Some(message) = message {
                    self.emit(EndpointEvent::Outcome {
                        session,
                        message,
                        outcome,
                    });
                }
            }
            Event::SessionFailed(why) => {
                self.forget(session);
                self.emit(EndpointEvent::Session(session, Event::SessionFailed(why)));
            }
            other => self.emit(EndpointEvent::Session(session, other)),
        }
    }

    /// Binds an incoming connection to the passive session its first request names (RFC 4975
    /// §5.4: "The element that accepted the connection looks up the URI in the received request,
    /// and determines which session it matches"), or refuses the request.
    fn bind(&mut self, conn: &mut Conn, token: Token, session_id: &str, now: Instant) {
        let Some(&id) = self.by_session_id.get(session_id) else {
            // RFC 4975 §5.4: "If no match exists, the node MUST reject the request with a 481
            // response."
            conn.msrp
                .refuse_unknown_session(now, StatusCode::NO_SUCH_SESSION);
            return;
        };
        let waiting = self
            .sessions
            .get(&id)
            .is_some_and(|e| matches!(e.place, Place::Waiting(_)));
        if !waiting {
            // RFC 4975 §5.4: "If the session is already in use, it MUST reject the request with
            // a 506 response."
            conn.msrp
                .refuse_unknown_session(now, StatusCode::WRONG_CONNECTION);
            return;
        }
        let Some(mut entry) = self.sessions.remove(&id) else {
            return;
        };
        if let (Some(tls), Some(PeerVerification::Fingerprints(expected))) =
            (conn.tls.as_ref(), entry.verification.as_ref())
        {
            // RFC 4975 §14.4: "The certificate presented during the TLS handshake needs to match
            // the fingerprint exchanged via the SDP".
            let presented = tls.peer_certificates().and_then(|c| c.first());
            if !presented.is_some_and(|c| tls::matches_fingerprint(c.as_ref(), expected)) {
                self.sessions.insert(id, entry);
                self.emit(EndpointEvent::ConnectionError {
                    peer: conn.peer,
                    sessions: vec![id],
                    error: TransportError::Fingerprint,
                });
                self.fail_waiting(id, SessionFailure::ConnectionLost);
                conn.close(TransportError::Fingerprint);
                return;
            }
        }
        let Place::Waiting(session) = core::mem::replace(&mut entry.place, Place::Moving) else {
            return;
        };
        match conn.msrp.insert_session(session) {
            Ok(key) => {
                entry.place = Place::Bound { token, key };
                conn.keys.insert(key, id);
                conn.deadline = None;
                for (message, outgoing) in core::mem::take(&mut entry.queued) {
                    match conn.msrp.send(key, outgoing) {
                        Ok(handle) => {
                            entry.refs.insert(handle, message);
                        }
                        Err(error) => self.emit(EndpointEvent::Refused {
                            session: id,
                            message,
                            error,
                        }),
                    }
                }
                self.sessions.insert(id, entry);
                self.emit(EndpointEvent::Bound {
                    session: id,
                    peer: conn.peer,
                });
                conn.msrp.resume(now);
            }
            Err(e) => {
                let session = match e {
                    msrp_session::InsertError::Duplicate(s)
                    | msrp_session::InsertError::TooMany(s) => s,
                    _ => return,
                };
                entry.place = Place::Waiting(session);
                self.sessions.insert(id, entry);
                conn.msrp.refuse_unknown_session(now, StatusCode::FORBIDDEN);
            }
        }
    }

    /// Removes the connections marked for closing: their sessions fail, and the application is
    /// told why.
    fn reap(&mut self, now: Instant) {
        let mut closing = core::mem::take(&mut self.closing);
        for token in closing.drain(..) {
            let Some(mut conn) = self.conns.remove(&token) else {
                continue;
            };
            let error = conn.closing.clone().unwrap_or(TransportError::Closed);
            let sessions: Vec<SessionId> = conn.keys.values().copied().collect();
            if !sessions.is_empty() {
                self.emit(EndpointEvent::ConnectionError {
                    peer: conn.peer,
                    sessions,
                    error,
                });
            }
            if let Some(tls) = conn.tls.as_mut() {
                tls.send_close_notify();
                let _ = tls.write_tls(&mut conn.stream);
            }
            conn.msrp.handle_close(now);
            self.events_of(&mut conn, token, now);
            let _ = self.poll.registry().deregister(&mut conn.stream);
            if let Some(key) = &conn.reuse {
                if self.reuse.get(key) == Some(&token) {
                    self.reuse.remove(key);
                }
            }
            let ids: Vec<SessionId> = conn.keys.values().copied().collect();
            for id in ids {
                self.forget(id);
            }
        }
        if self.closing.is_empty() {
            // Keeps the allocation for the next turn.
            self.closing = closing;
        }
    }
}

/// An identity string for connection reuse: the fingerprints or the trust anchors in use.
fn verification_key(verification: Option<&PeerVerification>) -> String {
    match verification {
        Some(PeerVerification::Fingerprints(list)) => list
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join(","),
        Some(PeerVerification::WebPki(roots)) => format!("webpki:{:p}", Arc::as_ptr(roots)),
        None => String::new(),
    }
}

/// The socket address of a URI's authority: an IP literal as is, a host name looked up (RFC
/// 4975 §6.2: "the connecting device MUST determine a host address by doing an A or AAAA DNS
/// query and use the port as listed").
fn resolve(uri: &msrp_uri::MsrpUri) -> Result<SocketAddr, OpenError> {
    if let Some(addr) = uri.socket_addr() {
        return Ok(addr);
    }
    let port = uri
        .port()
        .ok_or_else(|| OpenError::Resolve(format!("{uri} has no port")))?;
    (uri.host_str(), port)
        .to_socket_addrs()
        .map_err(|e| OpenError::Resolve(io_text(&e)))?
        .next()
        .ok_or_else(|| OpenError::Resolve(format!("{} has no address", uri.host_str())))
}
