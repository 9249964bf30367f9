//! The event loop: sockets, TLS and the clock around a sans-IO core (an
//! [`msrp_session::Endpoint`] or an [`msrp_relay::Relay`]), which decides everything else.

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use mio::net::TcpListener;
use mio::{Interest, Poll, Token};
use msrp_session::{MessageRef, OpenError, OutgoingMessage, PeerCheck, SessionId, SessionSpec};
use msrp_wire::ws::handshake::{self, Request};
use msrp_wire::ws::{Control, Item, Opcode, close_payload};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

use crate::api::{Command, EndpointCommand, EndpointConfig, EndpointEvent, Shared, TransportError};
use crate::engine::{Core, Dial, Step};
use crate::io::{Io, IoTable, Phase, SETUP_FLIGHTS, Tls, Ws, token_of};
use crate::resolve::Resolver;
use crate::tls::{Identity, TlsError};

pub(crate) const WAKER: Token = Token(0);
/// Pieces handed to one vectored write.
const MAX_IOVECS: usize = 64;
/// Most TLS client configurations kept for reuse (one per way of checking peers).
const CLIENT_CONFIGS: usize = 64;

/// Where events go: a channel, or (for an endpoint) a handler running on the loop's thread.
pub(crate) enum Sink<E> {
    Channel(Sender<E>),
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
    driver: &'a mut Driver<msrp_session::Endpoint>,
}

impl Context<'_> {
    /// Queues a message; see [`Handle::send`](crate::Handle::send).
    pub fn send(&mut self, session: SessionId, outgoing: OutgoingMessage) -> MessageRef {
        let message = self.driver.shared.next_message();
        self.driver.send(Instant::now(), session, message, outgoing);
        message
    }

    /// Aborts a message.
    pub fn abort(&mut self, session: SessionId, message: MessageRef) {
        let now = Instant::now();
        self.driver.core.abort(now, session, message);
        self.driver.pump(now);
    }

    /// Closes a session.
    pub fn close_session(&mut self, session: SessionId) {
        let now = Instant::now();
        self.driver.core.close_session(now, session);
        self.driver.pump(now);
    }

    /// Opens a session; see [`Handle::open_session`](crate::Handle::open_session).
    pub fn open_session(&mut self, spec: SessionSpec) -> Result<SessionId, OpenError> {
        self.driver.open(Instant::now(), spec)
    }

    /// Starts a graceful shutdown.
    pub fn shutdown(&mut self) {
        self.driver.begin_shutdown(Instant::now());
    }
}

struct Listener {
    socket: TcpListener,
    tls: bool,
    /// WebSocket (RFC 7977) over the TCP or TLS connection.
    ws: bool,
}

pub(crate) struct Driver<C: Core> {
    poll: Poll,
    pub(crate) shared: Arc<Shared>,
    commands: Receiver<Command<C::Command>>,
    config: EndpointConfig,
    /// Every decision about sessions and connections.
    pub(crate) core: C,
    sink: Option<Sink<C::Event>>,
    /// Events for a handler, delivered between connection work.
    outbox: VecDeque<C::Event>,
    listeners: HashMap<Token, Listener>,
    /// Tokens of listeners count down from the top, far from the connections' ones.
    next_listener: usize,
    /// Boxed: a connection is taken out of the table while it is served, and an `Io` (with its
    /// TLS state) is large enough that moving it out and back costs a visible copy per turn.
    ios: IoTable,
    resolver: Resolver,
    identity: Identity,
    server_tls: Option<Arc<ServerConfig>>,
    read_buf: Vec<u8>,
    /// TLS client configurations by the peer check they make.
    client_configs: HashMap<PeerCheck, Arc<ClientConfig>>,
    /// The pieces the endpoint hands out to write, on their way to a connection's queue.
    pieces: Vec<Bytes>,
    /// WebSocket frames made of them, for a WebSocket connection.
    ws_frames: Vec<Bytes>,
    /// Plaintext taken out of rustls for a WebSocket decoder, which unmasks it in place.
    ws_buf: Vec<u8>,
    /// Connections to look at in this turn of the loop.
    dirty: Vec<Token>,
    paused: bool,
    /// Until when the loop polls without sleeping because a connection being set up has just
    /// written (see [`EndpointConfig::setup_poll`]).
    setup_until: Option<Instant>,
}

impl<C: Core> Driver<C> {
    pub(crate) fn new(
        poll: Poll,
        shared: Arc<Shared>,
        commands: Receiver<Command<C::Command>>,
        config: EndpointConfig,
        core: C,
        sink: Sink<C::Event>,
        identity: Identity,
    ) -> Self {
        Self {
            poll,
            resolver: Resolver::new(
                shared.clone(),
                config.host_lookup.clone(),
                config.resolver_threads,
            ),
            shared,
            commands,
            core,
            read_buf: vec![0; config.read_size.max(4096)],
            pieces: Vec::new(),
            ws_frames: Vec::new(),
            ws_buf: Vec::new(),
            client_configs: HashMap::new(),
            config,
            sink: Some(sink),
            outbox: VecDeque::new(),
            listeners: HashMap::new(),
            next_listener: usize::MAX,
            ios: IoTable::default(),
            identity,
            server_tls: None,
            dirty: Vec::new(),
            paused: false,
            setup_until: None,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Events to the application, and what the endpoint asks for.
    // -----------------------------------------------------------------------------------------

    fn emit(&mut self, event: C::Event) {
        match &self.sink {
            Some(Sink::Channel(tx)) => {
                let len = C::event_len(&event);
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
        C::deliver(self);
    }

    /// Passes the core's events on. A connection the core calls lost was lost by this loop,
    /// which knows why.
    fn take_events(&mut self) {
        loop {
            let ios = &mut self.ios;
            let mut lost = |id: u64| {
                ios.get_id_mut(id)
                    .and_then(|io| io.error.take())
                    .unwrap_or(TransportError::Closed)
            };
            let Some(event) = self.core.poll_event(&mut lost) else {
                return;
            };
            self.emit(event);
        }
    }

    /// Passes the core's events on and does what it asks.
    pub(crate) fn pump(&mut self, now: Instant) {
        loop {
            self.take_events();
            let Some(step) = self.core.poll_step() else {
                return;
            };
            match step {
                Step::Connect(connection, dial) => self.connect(now, connection, dial),
                Step::Transmit(connection) => {
                    let token = token_of(connection);
                    if let Some(io) = self.ios.get(token).filter(|io| io.id == connection) {
                        // A socket known to be writable raises no event: the output goes now.
                        if io.is_open() && io.ready.writable {
                            self.dirty.push(token);
                        }
                    }
                }
                Step::Resume(connection) => {
                    // Input that stopped for another connection's output goes on: no readiness
                    // event would bring it back.
                    let token = token_of(connection);
                    if self.ios.get(token).is_some_and(|io| io.id == connection) {
                        self.dirty.push(token);
                    }
                }
                Step::Close(connection) => self.close(connection),
            }
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
            if self.drained() {
                self.core.finish(now);
                self.pump(now);
            }
            if self.core.is_finished() && self.outbox.is_empty() {
                break;
            }
            let deadline = self.core.poll_timeout();
            // Connections with work left from the last turn must not wait for an event.
            let timeout = if self.dirty.is_empty() && self.outbox.is_empty() {
                deadline.map(|d| d.saturating_duration_since(now))
            } else {
                Some(Duration::ZERO)
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
                if let Some(io) = self.ios.get_mut(token) {
                    let ready = &mut io.ready;
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        ready.readable = true;
                    }
                    if event.is_read_closed() || event.is_error() {
                        ready.read_closed = true;
                    }
                    if event.is_writable() || event.is_error() {
                        ready.writable = true;
                    }
                    self.dirty.push(token);
                }
            }
            self.commands(now);
            while let Some((connection, answer)) = self.resolver.poll() {
                self.resolved(now, connection, answer);
            }
            if self.paused
                && self.shared.queued_events.load(Ordering::Acquire)
                    <= self.config.event_capacity / 2
                && self.shared.queued_bytes.load(Ordering::Acquire) <= self.config.event_bytes / 2
            {
                self.pause_reading(false);
                // Connections left unread while paused are read now.
                self.dirty.extend(self.ios.tokens());
            }
            self.service_dirty(now);
            if deadline.is_some_and(|d| d <= now) {
                self.core.handle_timeout(now);
                self.pump(now);
            }
        }
        let now = Instant::now();
        self.core.finish(now);
        self.pump(now);
        // Commands queued from now on are refused by their handles; those queued until now are
        // answered here (a message to a session that is gone is refused).
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.commands(now);
        self.deliver();
    }

    /// Whether a shutdown may end now: every session idle and every byte written.
    fn drained(&self) -> bool {
        self.core.is_shutting_down()
            && !self.core.is_finished()
            && self.core.is_idle()
            && self
                .ios
                .iter()
                .all(|io| io.out.is_empty() && !io.tls_wants_write())
    }

    /// Waits for events, at most `timeout` (`None`: without end). It first polls without
    /// sleeping: for up to [`EndpointConfig::busy_poll`] when the last wait was that short
    /// (`spinning`, which tells on return whether this wait was short too), and until
    /// `setup_until` when a connection being set up has just written.
    fn wait(
        &mut self,
        events: &mut mio::Events,
        timeout: Option<Duration>,
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
                self.poll.poll(events, Some(Duration::ZERO))?;
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

    // -----------------------------------------------------------------------------------------
    // Commands.
    // -----------------------------------------------------------------------------------------

    fn commands(&mut self, now: Instant) {
        self.shared.woken.store(false, Ordering::Release);
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Listen { addr, tls, reply } => {
                    let _ = reply.send(self.listen(addr, tls, false));
                }
                Command::Core(command) => C::command(self, now, command),
                Command::Shutdown => self.begin_shutdown(now),
            }
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        self.core.shutdown(now);
        for (_, mut listener) in self.listeners.drain() {
            let _ = self.poll.registry().deregister(&mut listener.socket);
        }
    }

    fn listen(&mut self, addr: SocketAddr, tls: bool, ws: bool) -> io::Result<SocketAddr> {
        if self.core.is_shutting_down() {
            return Err(io::Error::other(crate::Stopped));
        }
        if tls && self.server_tls.is_none() {
            self.server_tls = Some(self.identity.server_config().map_err(io::Error::other)?);
        }
        self.adopt_listener(TcpListener::bind(addr)?, tls, ws)
    }

    /// Listens on a socket bound already.
    pub(crate) fn adopt_listener(
        &mut self,
        mut socket: TcpListener,
        tls: bool,
        ws: bool,
    ) -> io::Result<SocketAddr> {
        if tls && self.server_tls.is_none() {
            self.server_tls = Some(self.identity.server_config().map_err(io::Error::other)?);
        }
        let local = socket.local_addr()?;
        crate::socket::tune_listener(&socket, local, self.config.loopback_congestion.as_deref());
        let token = Token(self.next_listener);
        self.next_listener -= 1;
        self.poll
            .registry()
            .register(&mut socket, token, Interest::READABLE)?;
        self.listeners.insert(token, Listener { socket, tls, ws });
        Ok(local)
    }

    // -----------------------------------------------------------------------------------------
    // Connections: accepting, connecting, closing.
    // -----------------------------------------------------------------------------------------

    fn accept(&mut self, token: Token, now: Instant) {
        loop {
            let Some(listener) = self.listeners.get(&token) else {
                return;
            };
            let (tls, ws) = (listener.tls, listener.ws);
            let (mut stream, peer) = match listener.socket.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A connection that failed before it was accepted: try the next one.
                Err(_) => continue,
            };
            // Refused (the limits, or a shutdown): the socket is dropped.
            let Some(id) = self.core.handle_accept(now, peer) else {
                continue;
            };
            // A connection closed to make room goes first: the newcomer may take its slot.
            self.pump(now);
            let _ = stream.set_nodelay(true);
            let io_token = token_of(id);
            let mut io = Box::new(Io::new(id, Phase::Open { heard: false }));
            io.peer = Some(peer);
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                io_token,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                io.fail(TransportError::Io(e));
            }
            io.stream = Some(stream);
            if ws {
                io.ws = Some(Ws::server(self.config.ws_limits, self.ws_fragment()));
            }
            if tls {
                match self.server_tls.clone().map(ServerConnection::new) {
                    Some(Ok(mut server)) => {
                        server.set_buffer_limit(Some(self.config.write_buffer));
                        io.tls = Some(Tls::new(rustls::Connection::Server(server)));
                        io.phase = Phase::Handshaking;
                    }
                    Some(Err(e)) => io.fail(TransportError::TlsSetup(TlsError::Config(e))),
                    None => io.fail(TransportError::TlsSetup(TlsError::UnknownAnchors)),
                }
            } else if io.ws.is_some() {
                // The core hears of it once the WebSocket handshake is done.
                io.phase = Phase::Upgrading;
            } else if io.is_live() {
                self.core.handle_established(now, id, peer, None);
            }
            self.put_back(io_token, io, now);
            self.dirty.push(io_token);
        }
    }

    /// Opens the connection the core asked for: at once to a known address, or once the
    /// host's address is found.
    fn connect(&mut self, now: Instant, id: u64, target: Dial) {
        let mut io = Box::new(Io::new(id, Phase::Resolving));
        if target.ws {
            let host = match (
                target.host.contains(':') && !target.host.starts_with('['),
                target.port,
            ) {
                (true, Some(port)) => format!("[{}]:{port}", target.host),
                (false, Some(port)) => format!("{}:{port}", target.host),
                (_, None) => target.host.clone(),
            };
            io.ws = Some(Ws::client(host, self.config.ws_limits, self.ws_fragment()));
        }
        if let Some(check) = &target.tls {
            match self.client_tls(check, &target.host) {
                Ok(client) => io.tls = Some(Tls::new(rustls::Connection::Client(client))),
                Err(e) => io.fail(TransportError::TlsSetup(e)),
            }
        }
        if io.is_live() {
            match (target.addr, target.port) {
                (Some(addr), _) => self.start_connect(&mut io, addr),
                (None, Some(port)) => self.resolver.lookup(id, &target.host, port),
                (None, None) => io.fail(TransportError::Resolve(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the peer's URI has no port",
                ))),
            }
        }
        self.put_back(token_of(id), io, now);
    }

    /// A host-name lookup has ended: connect, or give up.
    fn resolved(&mut self, now: Instant, id: u64, answer: io::Result<SocketAddr>) {
        let Some(mut io) = self.ios.take_id(id) else {
            // The connection went while its address was looked up.
            return;
        };
        if io.phase == Phase::Resolving {
            match answer {
                Ok(addr) => self.start_connect(&mut io, addr),
                Err(e) => io.fail(TransportError::Resolve(e)),
            }
        }
        self.put_back(token_of(id), io, now);
    }

    fn start_connect(&mut self, io: &mut Io, addr: SocketAddr) {
        io.peer = Some(addr);
        let congestion = self.config.loopback_congestion.as_deref();
        let mut stream = match crate::socket::connect(addr, congestion) {
            Ok(stream) => stream,
            Err(e) => return io.fail(TransportError::Connect(e)),
        };
        let _ = stream.set_nodelay(true);
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            token_of(io.id),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            return io.fail(TransportError::Connect(e));
        }
        io.stream = Some(stream);
        io.phase = Phase::Connecting;
    }

    /// A TLS client session for a peer checked as `check`, named as `host` (a name, or an IP
    /// literal, IPv6 in brackets or not).
    fn client_tls(&mut self, check: &PeerCheck, host: &str) -> Result<ClientConnection, TlsError> {
        let config = match self.client_configs.get(check) {
            Some(config) => config.clone(),
            None => {
                // Built once per check: building one parses the private key.
                let config = self.identity.client_config(check)?;
                if self.client_configs.len() >= CLIENT_CONFIGS {
                    self.client_configs.clear();
                }
                self.client_configs.insert(check.clone(), config.clone());
                config
            }
        };
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let name = match literal.parse::<std::net::IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(host.to_owned()).map_err(TlsError::ServerName)?,
        };
        let mut client = ClientConnection::new(config, name).map_err(TlsError::Config)?;
        client.set_buffer_limit(Some(self.config.write_buffer));
        Ok(client)
    }

    /// Closes a connection the core has let go of.
    fn close(&mut self, id: u64) {
        let Some(mut io) = self.ios.take_id(id) else {
            return;
        };
        // RFC 6455 §7.1.2: "To _Start the WebSocket Closing Handshake_ ... an endpoint MUST
        // send a Close control frame"; 1000 is a normal closure.
        let close = io
            .ws
            .as_mut()
            .filter(|ws| ws.open && !ws.closing)
            .map(|ws| ws.writer.control(Opcode::Close, &close_payload(1000, "")));
        if let Some(close) = close {
            io.write_now(&close);
        }
        if let Some(stream) = io.stream.as_mut() {
            if let Some(tls) = io.tls.as_mut() {
                tls.session.send_close_notify();
                let _ = tls.session.write_tls(stream);
            }
            let _ = self.poll.registry().deregister(stream);
        }
    }

    /// Puts a connection back after work on it. One that failed is reported to the endpoint,
    /// which then asks for it to be closed.
    fn put_back(&mut self, token: Token, mut io: Box<Io>, now: Instant) {
        let failed = io.phase == Phase::Failed;
        if failed {
            io.phase = Phase::Gone;
        }
        let id = io.id;
        self.ios.insert(token, io);
        if failed {
            self.core.handle_lost(now, id);
        }
        self.pump(now);
    }

    // -----------------------------------------------------------------------------------------
    // Serving a connection.
    // -----------------------------------------------------------------------------------------

    fn service(&mut self, token: Token, now: Instant) {
        let Some(mut io) = self.ios.take(token) else {
            return;
        };
        if io.phase == Phase::Connecting && io.ready.writable {
            self.check_connected(&mut io, now);
        }
        if io.is_live() && io.phase != Phase::Resolving {
            loop {
                self.read(&mut io, now);
                if io.phase == Phase::Handshaking && !io.is_handshaking() {
                    self.established(&mut io, now);
                }
                self.note_input_stop(&mut io);
                // One write for all the turn made: a client's Finished leaves with the first
                // requests its sessions queued, a server's tickets with its first response.
                self.write(&mut io, now);
                // Input stops while responses wait to be written. Once the writes have made
                // room, what the endpoint holds is handled and the socket read again: its
                // readiness, edge-triggered, will not be announced again.
                if !io.is_live() || self.paused || io.stopped.for_handler {
                    break;
                }
                if !self.core.wants_read(io.id) {
                    io.stopped.for_output = true;
                    break;
                }
                if !core::mem::take(&mut io.stopped.for_output) {
                    break;
                }
                self.core.resume(now, io.id);
                self.take_events();
                self.note_input_stop(&mut io);
            }
        }
        if core::mem::take(&mut io.wrote)
            && io.in_setup()
            && io.is_live()
            && io.setup_flights < SETUP_FLIGHTS
            && !self.config.setup_poll.is_zero()
        {
            // What this service wrote (a ClientHello, a server's flight, a client's Finished
            // with its first SEND) is answered after a public-key operation of the peer's:
            // sooner than this thread, asleep, would wake up. Only what the endpoint writes
            // starts the polling, a few times per connection at most, so that a peer cannot
            // keep the loop from sleeping by trickling its bytes in.
            io.setup_flights += 1;
            self.setup_until = Some(now + self.config.setup_poll);
        }
        self.requeue_output(&io, token);
        if core::mem::take(&mut io.stopped.for_handler) {
            self.dirty.push(token);
        }
        self.put_back(token, io, now);
    }

    /// Notes that handling received bytes stopped, with bytes left, for responses to be
    /// written first.
    fn note_input_stop(&self, io: &mut Io) {
        io.stopped.for_output |= !self.core.wants_read(io.id);
    }

    /// Whether received bytes may be taken in now; notes when the endpoint is what stops them.
    /// A TLS handshake reads on whatever the endpoint wants: it takes no MSRP input yet.
    fn may_read(&self, io: &mut Io) -> bool {
        if self.paused {
            return false;
        }
        if matches!(io.phase, Phase::Handshaking | Phase::Upgrading) {
            return true;
        }
        if !self.core.wants_read(io.id) {
            io.stopped.for_output = true;
            return false;
        }
        true
    }

    /// A plain outgoing connection is up once the socket is writable without error.
    fn check_connected(&mut self, io: &mut Io, now: Instant) {
        let Some(stream) = io.stream.as_ref() else {
            return;
        };
        match stream.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return io.fail(TransportError::Connect(e)),
        }
        match stream.peer_addr() {
            Ok(_) if io.tls.is_some() => io.phase = Phase::Handshaking,
            Ok(_) => self.established(io, now),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => io.ready.writable = false,
            Err(e) => io.fail(TransportError::Connect(e)),
        }
    }

    /// The connection is set up (TLS included): MSRP may flow.
    fn established(&mut self, io: &mut Io, now: Instant) {
        if let Some(ws) = io.ws.as_mut().filter(|ws| !ws.open) {
            // RFC 6455 §4.1: the client sends its upgrade request first; a server waits for it.
            io.phase = Phase::Upgrading;
            if let Some(client) = &ws.client {
                let request = client.request(&ws.host, "/");
                io.queue(Bytes::from(request));
            }
            return;
        }
        if io.ws.is_some() {
            self.core.handle_websocket(io.id);
        }
        io.phase = Phase::Open { heard: false };
        let Some(peer) = io.peer else {
            return;
        };
        let certificate = io.tls.as_ref().and_then(|t| {
            t.session
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref())
        });
        self.core.handle_established(now, io.id, peer, certificate);
        self.take_events();
    }

    fn read(&mut self, io: &mut Io, now: Instant) {
        // Input kept in rustls or in `held` when it stopped is taken up without an event.
        while (io.ready.readable || io.has_tls_input()) && io.is_live() {
            if !self.may_read(io) {
                return;
            }
            if io.tls.is_some() {
                if !self.read_tls(io, now) {
                    return;
                }
            } else {
                let Some(stream) = io.stream.as_mut() else {
                    return;
                };
                // Read into the shared buffer, then copy what came: a read straight into the
                // decoder would first zero as many bytes as it might read.
                match stream.read(&mut self.read_buf) {
                    Ok(0) => io.fail(TransportError::Closed),
                    Ok(n) => {
                        // A read that did not fill the buffer emptied the socket: the next
                        // bytes to arrive raise a new event, and the read that would only
                        // find nothing is saved. The end of the stream raises none of its own
                        // once announced, so it is read until it shows.
                        io.ready.readable = n == self.read_buf.len() || io.ready.read_closed;
                        if io.ws.is_some() {
                            let mut buf = core::mem::take(&mut self.read_buf);
                            self.ws_input(io, now, &mut buf[..n]);
                            self.read_buf = buf;
                        } else {
                            io.heard();
                            self.core.handle_input(now, io.id, &self.read_buf[..n]);
                        }
                        self.note_input_stop(io);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => io.ready.readable = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => io.fail(TransportError::Io(e)),
                }
            }
            self.take_events();
            // A handler takes its events between turns of the loop. Reading on while they wait
            // would keep every buffer their data points into, and a fast peer never lets the
            // socket run dry: the rest is read in the next turn, once they are taken.
            if !self.outbox.is_empty() && (io.ready.readable || io.has_tls_input()) {
                io.stopped.for_handler = true;
                return;
            }
        }
    }

    /// Hands the plaintext rustls holds to the endpoint, as much as it takes. Returns whether
    /// input may go on.
    fn take_plaintext(&mut self, io: &mut Io, now: Instant) -> bool {
        loop {
            let Some(tls) = io.tls.as_mut() else {
                return false;
            };
            let pending = match tls.session.process_new_packets() {
                Ok(state) => state.plaintext_bytes_to_read(),
                Err(e) => {
                    // Tell the peer why, then give up.
                    if let Some(stream) = io.stream.as_mut() {
                        let _ = tls.session.write_tls(stream);
                    }
                    io.fail(TransportError::Tls(e));
                    return false;
                }
            };
            if io.phase == Phase::Handshaking && !tls.session.is_handshaking() {
                // The first request may come in the flight that ends the handshake: the
                // endpoint learns of the certificate before it reads that request.
                self.established(io, now);
            }
            if pending == 0 {
                if let Some(tls) = io.tls.as_mut() {
                    tls.plaintext = false;
                }
                return true;
            }
            if !self.may_read(io) {
                if let Some(tls) = io.tls.as_mut() {
                    tls.plaintext = true;
                }
                return false;
            }
            let Some(tls) = io.tls.as_mut() else {
                return false;
            };
            if io.ws.is_some() {
                // WebSocket frames are unmasked in place before the endpoint sees their
                // payload: the plaintext goes through a buffer of the loop's.
                let mut buf = core::mem::take(&mut self.ws_buf);
                let want = pending.min(self.config.read_size.max(1));
                if buf.len() < want {
                    buf.resize(want, 0);
                }
                let result = tls.session.reader().read(&mut buf[..want]);
                match result {
                    Ok(n) => self.ws_input(io, now, &mut buf[..n]),
                    Err(e) => io.fail(TransportError::Io(e)),
                }
                self.ws_buf = buf;
                self.note_input_stop(io);
                if !io.is_live() {
                    return false;
                }
                continue;
            }
            // Exactly what rustls holds, so that the decoder zeroes no more than it gets.
            let session = &mut tls.session;
            let result = self
                .core
                .fill(now, io.id, pending, &mut |buf| session.reader().read(buf));
            io.heard();
            self.note_input_stop(io);
            match result {
                Ok(0) => {
                    io.fail(TransportError::Closed);
                    return false;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) => {
                    io.fail(TransportError::Io(e));
                    return false;
                }
            }
        }
    }

    /// Reads ciphertext into the shared buffer and feeds it to rustls (whose own reads take at
    /// most 4 KiB at a time), then hands the plaintext to the endpoint. Returns whether to keep
    /// reading.
    fn read_tls(&mut self, io: &mut Io, now: Instant) -> bool {
        // Plaintext left from a turn that stopped input comes before new bytes.
        if !self.take_plaintext(io, now) {
            return false;
        }
        // The shared buffer is taken out while rustls reads from it, since handing the
        // plaintext on needs the rest of the driver.
        let mut buf = core::mem::take(&mut self.read_buf);
        let more = self.feed_tls(io, now, &mut buf);
        self.read_buf = buf;
        more
    }

    fn feed_tls(&mut self, io: &mut Io, now: Instant, buf: &mut [u8]) -> bool {
        let Some(tls) = io.tls.as_mut() else {
            return false;
        };
        let mut held = core::mem::take(&mut tls.held);
        let data: &[u8] = if held.is_empty() {
            let Some(stream) = io.stream.as_mut() else {
                return false;
            };
            match stream.read(buf) {
                Ok(0) => {
                    io.fail(TransportError::Closed);
                    return false;
                }
                Ok(n) => {
                    // As for plain reads: a short read emptied the socket.
                    io.ready.readable = n == buf.len() || io.ready.read_closed;
                    &buf[..n]
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    io.ready.readable = false;
                    return false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return true,
                Err(e) => {
                    io.fail(TransportError::Io(e));
                    return false;
                }
            }
        } else {
            &held[..]
        };
        let mut rest = data;
        while !rest.is_empty() {
            let Some(tls) = io.tls.as_mut() else {
                return false;
            };
            if let Err(e) = tls.session.read_tls(&mut rest) {
                io.fail(TransportError::Io(e));
                return false;
            }
            if !self.take_plaintext(io, now) {
                let live = io.is_live();
                if let Some(tls) = io.tls.as_mut().filter(|_| live) {
                    // Keep what rustls has not taken until input resumes.
                    tls.held.extend_from_slice(rest);
                }
                return false;
            }
        }
        held.clear();
        if let Some(tls) = io.tls.as_mut().filter(|t| t.held.is_empty()) {
            held.shrink_to(0);
            tls.held = held;
        }
        true
    }

    fn write(&mut self, io: &mut Io, now: Instant) {
        loop {
            if !io.is_live() {
                return;
            }
            // The records rustls holds wait while plaintext is about to join them, so that what
            // one turn makes leaves in one write: a client's Finished with its first requests,
            // which the server then reads at once.
            let adding = io.is_open()
                && io.tls.is_some()
                && !io.is_handshaking()
                && (!io.out.is_empty() || self.core.wants_write(io.id));
            if !adding && !io.flush_tls() {
                return;
            }
            if io.is_handshaking() || !(io.is_open() || io.phase == Phase::Upgrading) {
                return;
            }
            let held = io.ws.as_ref().map_or(0, |ws| ws.writer.pending());
            if io.is_open() && io.out_len + held < self.config.write_buffer / 2 {
                let budget = self.config.write_buffer - io.out_len - held;
                let n = self
                    .core
                    .poll_transmit(now, io.id, budget, &mut self.pieces);
                if io.ws.is_some() {
                    self.ws_frame(io);
                } else {
                    io.out_len += n;
                    io.out.extend(self.pieces.drain(..));
                }
                self.take_events();
            }
            if io.out.is_empty() {
                io.flush_tls();
                if io.ws.as_ref().is_some_and(|ws| ws.close_when_written) && !io.tls_wants_write() {
                    io.fail(TransportError::Closed);
                }
                return;
            }
            if io.tls.is_none() && !io.ready.writable {
                return;
            }
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let mut count = 0;
            let mut room = self.config.max_write.max(1);
            for (slice, piece) in slices.iter_mut().zip(&io.out) {
                let take = piece.len().min(room);
                *slice = IoSlice::new(&piece[..take]);
                count += 1;
                room -= take;
                if room == 0 {
                    break;
                }
            }
            let slices = &slices[..count];
            let result = match (io.tls.as_mut(), io.stream.as_mut()) {
                (Some(tls), _) => tls.session.writer().write_vectored(slices),
                (None, Some(stream)) => stream.write_vectored(slices),
                (None, None) => return,
            };
            match result {
                Ok(0) if io.tls.is_some() => {
                    // rustls's buffer is full: flush it first.
                    if !io.tls_wants_write() || !io.flush_tls() {
                        return;
                    }
                }
                Ok(0) => {
                    io.fail(TransportError::Io(io::ErrorKind::WriteZero.into()));
                    return;
                }
                Ok(mut n) => {
                    // Into rustls, for TLS: `flush_tls` notes what reaches the socket.
                    io.wrote |= io.tls.is_none();
                    io.out_len -= n;
                    while n > 0 {
                        let Some(front) = io.out.front_mut() else {
                            break;
                        };
                        if front.len() <= n {
                            n -= front.len();
                            io.out.pop_front();
                        } else {
                            front.advance(n);
                            n = 0;
                        }
                    }
                }
                Err(e) => {
                    if io.write_failed(e) {
                        return;
                    }
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // WebSocket (RFC 7977): the handshake, then frames both ways.
    // -----------------------------------------------------------------------------------------

    /// Largest WebSocket frame written: held output never stops the core's output (it is
    /// asked for more while what is queued and held stays under half the write buffer).
    fn ws_fragment(&self) -> usize {
        self.config
            .ws_fragment
            .min(self.config.write_buffer / 2)
            .max(1)
    }

    /// Bytes received on a WebSocket connection: its handshake, then frames.
    fn ws_input(&mut self, io: &mut Io, now: Instant, data: &mut [u8]) {
        let Some(ws) = io.ws.as_mut() else {
            return;
        };
        if ws.close_when_written {
            // What comes after a Close, or after a request that is answered and closed.
            return;
        }
        if ws.open {
            return self.ws_frames_in(io, now, data);
        }
        ws.head.extend_from_slice(data);
        self.ws_handshake(io, now);
    }

    fn ws_handshake(&mut self, io: &mut Io, now: Instant) {
        let Some(ws) = io.ws.as_mut() else {
            return;
        };
        let limits = self.config.ws_limits;
        if let Some(client) = &ws.client {
            match client.read_response(&ws.head, &limits) {
                Ok(None) => {}
                Ok(Some(len)) => {
                    let mut rest = ws.head.split_off(len);
                    ws.head = Vec::new();
                    ws.client = None;
                    ws.open = true;
                    self.established(io, now);
                    if !rest.is_empty() {
                        self.ws_frames_in(io, now, &mut rest);
                    }
                }
                Err(e) => io.fail(TransportError::Handshake(e)),
            }
            return;
        }
        match handshake::read_request(&ws.head, &limits) {
            Ok(None) => {}
            Ok(Some((Request::Upgrade { key, origin, .. }, len))) => {
                let mut rest = ws.head.split_off(len);
                ws.head = Vec::new();
                ws.open = true;
                let response = handshake::accept_response(&key, origin.as_deref());
                io.queue(Bytes::from(response));
                self.established(io, now);
                if !rest.is_empty() {
                    self.ws_frames_in(io, now, &mut rest);
                }
            }
            Ok(Some((Request::Get { path, head_only }, _))) => {
                // A browser loading the page that then opens the WebSocket: same origin.
                let target = path.split('?').next().unwrap_or("");
                let page = self
                    .config
                    .web_page
                    .as_ref()
                    .filter(|_| target == "/" || target == "/index.html");
                let (head, body) = match page {
                    Some(page) => (
                        handshake::response_head(200, page.content_type, page.body.len()),
                        page.body.clone(),
                    ),
                    None => {
                        let body = Bytes::from_static(b"not found\n");
                        (
                            handshake::response_head(404, "text/plain", body.len()),
                            body,
                        )
                    }
                };
                ws.head = Vec::new();
                ws.close_when_written = true;
                io.queue(Bytes::from(head));
                if !head_only {
                    io.queue(body);
                }
            }
            Err(e) => {
                let body = format!("{e}\n");
                ws.head = Vec::new();
                ws.close_when_written = true;
                io.queue(Bytes::from(handshake::response_head(
                    e.status(),
                    "text/plain",
                    body.len(),
                )));
                io.queue(Bytes::from(body));
            }
        }
    }

    /// WebSocket frames received: data goes to the core as one stream, pings are answered, a
    /// Close is answered and ends the connection.
    fn ws_frames_in(&mut self, io: &mut Io, now: Instant, data: &mut [u8]) {
        let mut pos = 0;
        loop {
            let Some(ws) = io.ws.as_mut() else {
                return;
            };
            let step = match ws.decoder.decode(&mut data[pos..]) {
                Ok(step) => step,
                Err(e) => {
                    // RFC 6455 §7.1.7: "_Fail the WebSocket Connection_": a Close with the
                    // reason, then the connection goes (and no second Close when it is closed).
                    ws.closing = true;
                    let close = ws.writer.control(
                        Opcode::Close,
                        &close_payload(e.close_code(), &e.to_string()),
                    );
                    io.write_now(&close);
                    io.fail(TransportError::WebSocket(e));
                    return;
                }
            };
            let base = pos;
            pos += step.consumed;
            match step.item {
                None => return,
                Some(Item::Data(range)) => {
                    io.heard();
                    let payload = &data[base + range.start..base + range.end];
                    self.core.handle_input(now, io.id, payload);
                }
                Some(Item::MessageEnd | Item::Control(Control::Pong(_))) => {}
                Some(Item::Control(Control::Ping(payload))) => {
                    // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame
                    // in response".
                    let pong = ws.writer.control(Opcode::Pong, &payload);
                    io.queue(pong);
                }
                Some(Item::Control(Control::Close { code, .. })) => {
                    // §5.5.1: "If an endpoint receives a Close frame and did not previously
                    // send a Close frame, the endpoint MUST send a Close frame in response."
                    let reply = (!ws.closing).then(|| {
                        let payload = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
                        ws.writer.control(Opcode::Close, &payload)
                    });
                    ws.closing = true;
                    ws.close_when_written = true;
                    if let Some(close) = reply {
                        io.queue(close);
                    }
                    return;
                }
            }
        }
    }

    /// Puts the core's output pieces into WebSocket messages, one MSRP frame each.
    fn ws_frame(&mut self, io: &mut Io) {
        let Some(ws) = io.ws.as_mut() else {
            return;
        };
        let mut pieces = core::mem::take(&mut self.pieces);
        let mut result = Ok(0);
        for piece in pieces.drain(..) {
            if result.is_ok() {
                result = ws.writer.push(piece, &mut self.ws_frames);
            }
        }
        self.pieces = pieces;
        if let Err(e) = result {
            self.ws_frames.clear();
            return io.fail(TransportError::Io(io::Error::other(e)));
        }
        for frame in self.ws_frames.drain(..) {
            io.queue(frame);
        }
    }

    /// Puts a connection with output to write back on the list for the next turn when its
    /// socket is known to be writable: no event would come for it. Sockets stay registered for
    /// both readiness kinds, edge-triggered, since a writable event only follows a write that
    /// found the socket full; changing the registration as output comes and goes would cost two
    /// system calls per message.
    fn requeue_output(&mut self, io: &Io, token: Token) {
        if !io.is_live() {
            return;
        }
        // Until a connection is up, what its sessions queued waits: an outgoing plain one is
        // looked at once writable, to see whether it connected, but a TLS one is up when its
        // handshake ends, which only the peer's flights move on. Looking at it on every turn
        // meanwhile would keep the loop from ever sleeping.
        let wants_write = io.tls_wants_write()
            || match io.phase {
                Phase::Open { .. } => !io.out.is_empty() || self.core.wants_write(io.id),
                Phase::Upgrading => !io.out.is_empty(),
                Phase::Connecting => io.tls.is_none(),
                _ => false,
            };
        if wants_write && io.ready.writable {
            self.dirty.push(token);
        }
    }
}

impl Driver<msrp_session::Endpoint> {
    /// Hands queued events to the handler, which may issue commands as it goes.
    pub(crate) fn deliver_to_handler(&mut self) {
        while let Some(event) = self.outbox.pop_front() {
            let Some(Sink::Handler(mut handler)) = self.sink.take() else {
                self.outbox.clear();
                return;
            };
            handler.on_event(&mut Context { driver: self }, event);
            self.sink = Some(Sink::Handler(handler));
        }
    }

    /// Carries out a command of an endpoint's handle.
    pub(crate) fn endpoint_command(&mut self, now: Instant, command: EndpointCommand) {
        match command {
            EndpointCommand::Open { spec, reply } => {
                let _ = reply.send(self.open(now, *spec));
            }
            EndpointCommand::Send {
                session,
                message,
                outgoing,
            } => self.send(now, session, message, outgoing),
            EndpointCommand::Abort { session, message } => {
                self.core.abort(now, session, message);
                self.pump(now);
            }
            EndpointCommand::Close { session } => {
                self.core.close_session(now, session);
                self.pump(now);
            }
        }
    }

    fn open(&mut self, now: Instant, spec: SessionSpec) -> Result<SessionId, OpenError> {
        let result = self.core.open_session(now, spec);
        self.pump(now);
        result
    }

    fn send(
        &mut self,
        now: Instant,
        session: SessionId,
        message: MessageRef,
        outgoing: OutgoingMessage,
    ) {
        self.core.send(now, session, message, outgoing);
        self.pump(now);
    }
}
