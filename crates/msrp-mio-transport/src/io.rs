//! One connection's socket, TLS state and output queue: what the event loop keeps of a
//! connection besides what the sans-IO endpoint keeps.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;

use bytes::Bytes;
use mio::Token;
use mio::net::TcpStream;

use msrp_wire::ws::handshake::ClientHandshake;
use msrp_wire::ws::{Decoder, MessageWriter, Role, WsLimits};

use crate::api::TransportError;
use crate::tls::secure_random;

/// The token of a connection's socket: its id's low half, which tells the live connections
/// apart, past the waker's token. Ids are the numbers of the sans-IO core's connection ids.
pub(crate) fn token_of(connection: u64) -> Token {
    Token(1 + (connection as u32) as usize)
}

/// Where a connection is in its life, as far as its socket goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the address of its peer's host.
    Resolving,
    /// Connecting to the peer.
    Connecting,
    /// Completing its TLS handshake.
    Handshaking,
    /// Completing its WebSocket opening handshake (RFC 6455 §4), or answering a plain HTTP
    /// request on a WebSocket listener.
    Upgrading,
    /// Carrying MSRP. `heard`: whether MSRP bytes have come in yet; until then each of its
    /// flights (a TLS handshake message, the first request) is answered after one of the
    /// peer's public-key operations, or at once.
    Open { heard: bool },
    /// It failed; the endpoint is to be told.
    Failed,
    /// The endpoint knows it is gone and will ask for it to be closed.
    Gone,
}

/// What the socket's readiness events said, edge-triggered: each stays set until an operation
/// finds it no longer holds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Readiness {
    /// Reading may find bytes (or the end of the stream).
    pub(crate) readable: bool,
    /// Writing may take bytes.
    pub(crate) writable: bool,
    /// The peer closed its side (or the socket failed): reads go on until they say so, even
    /// after a short one.
    pub(crate) read_closed: bool,
}

/// Why reading stopped with input left, for it to be taken up again without an event: the
/// socket's readiness, edge-triggered, will not be announced again.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct InputStop {
    /// The endpoint took no more input because responses wait to be written.
    pub(crate) for_output: bool,
    /// A handler is to take its events first.
    pub(crate) for_handler: bool,
}

/// A connection's TLS session and the bytes on their way into it.
pub(crate) struct Tls {
    pub(crate) session: rustls::Connection,
    /// Received ciphertext not yet given to rustls, kept while input is stopped.
    pub(crate) held: Vec<u8>,
    /// Whether rustls may hold plaintext not yet taken, because input stopped.
    pub(crate) plaintext: bool,
}

impl Tls {
    pub(crate) fn new(session: rustls::Connection) -> Self {
        Self {
            session,
            held: Vec::new(),
            plaintext: false,
        }
    }

    /// Whether received bytes wait in rustls or in `held`.
    pub(crate) fn has_input(&self) -> bool {
        self.plaintext || !self.held.is_empty()
    }
}

/// A WebSocket connection's state (RFC 7977): its handshake, then its framing both ways.
pub(crate) struct Ws {
    /// A client's handshake, until the server's 101 is read; `None` for a server.
    pub(crate) client: Option<ClientHandshake>,
    /// What the client sends as `Host`, for a client.
    pub(crate) host: String,
    /// Whether the handshake is done and MSRP flows.
    pub(crate) open: bool,
    /// The handshake head received so far.
    pub(crate) head: Vec<u8>,
    pub(crate) decoder: Decoder,
    pub(crate) writer: MessageWriter,
    /// The connection closes once its output is written: a page served, a Close answered.
    pub(crate) close_when_written: bool,
    /// A Close has been sent.
    pub(crate) closing: bool,
}

impl Ws {
    pub(crate) fn client(host: String, limits: WsLimits, fragment: usize) -> Box<Self> {
        let mut random = secure_random();
        Box::new(Self {
            client: Some(ClientHandshake::new(&mut random)),
            host,
            open: false,
            head: Vec::new(),
            decoder: Decoder::with_limits(Role::Client, limits),
            writer: MessageWriter::client(random, fragment),
            close_when_written: false,
            closing: false,
        })
    }

    pub(crate) fn server(limits: WsLimits, fragment: usize) -> Box<Self> {
        Box::new(Self {
            client: None,
            host: String::new(),
            open: false,
            head: Vec::new(),
            decoder: Decoder::with_limits(Role::Server, limits),
            writer: MessageWriter::server(fragment),
            close_when_written: false,
            closing: false,
        })
    }
}

/// Flights of a connection being set up after which the loop polls for the answer
/// ([`EndpointConfig::setup_poll`](crate::EndpointConfig::setup_poll)): a TLS client writes two
/// (its hello, then its Finished with its first request), a server one; a plain client one
/// (its first request).
pub(crate) const SETUP_FLIGHTS: u8 = 3;

/// One connection's socket side.
pub(crate) struct Io {
    /// The number of the core's id of the connection.
    pub(crate) id: u64,
    /// `None` while the peer's address is looked up.
    pub(crate) stream: Option<TcpStream>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) tls: Option<Tls>,
    /// `Some` for a WebSocket connection.
    pub(crate) ws: Option<Box<Ws>>,
    pub(crate) phase: Phase,
    /// Why it failed, until the event that tells the application takes it.
    pub(crate) error: Option<TransportError>,
    pub(crate) ready: Readiness,
    pub(crate) stopped: InputStop,
    /// Output taken from the endpoint, not yet written.
    pub(crate) out: VecDeque<Bytes>,
    pub(crate) out_len: usize,
    /// Whether bytes went to the socket in this service of the connection.
    pub(crate) wrote: bool,
    /// The flights after which the loop polled for the answer ([`SETUP_FLIGHTS`] at most).
    pub(crate) setup_flights: u8,
}

impl Io {
    pub(crate) fn new(id: u64, phase: Phase) -> Self {
        Self {
            id,
            stream: None,
            peer: None,
            tls: None,
            ws: None,
            phase,
            error: None,
            ready: Readiness::default(),
            stopped: InputStop::default(),
            out: VecDeque::new(),
            out_len: 0,
            wrote: false,
            setup_flights: 0,
        }
    }

    /// Whether the connection is still going: it has neither failed nor gone.
    pub(crate) fn is_live(&self) -> bool {
        !matches!(self.phase, Phase::Failed | Phase::Gone)
    }

    /// Whether MSRP may flow.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open { .. })
    }

    /// Notes that MSRP bytes came in.
    pub(crate) fn heard(&mut self) {
        if let Phase::Open { heard } = &mut self.phase {
            *heard = true;
        }
    }

    /// Whether the connection is still being set up (no MSRP bytes have come in).
    pub(crate) fn in_setup(&self) -> bool {
        matches!(
            self.phase,
            Phase::Open { heard: false } | Phase::Handshaking | Phase::Upgrading
        )
    }

    /// Marks the connection failed, keeping the first reason.
    pub(crate) fn fail(&mut self, error: TransportError) {
        if self.is_live() {
            self.phase = Phase::Failed;
            self.error = Some(error);
        }
    }

    /// Whether received bytes may wait in the TLS layer.
    pub(crate) fn has_tls_input(&self) -> bool {
        self.tls.as_ref().is_some_and(Tls::has_input)
    }

    /// Whether the TLS layer has records to write.
    pub(crate) fn tls_wants_write(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.session.wants_write())
    }

    /// Whether the TLS handshake is still going on.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|t| t.session.is_handshaking())
    }

    /// Queues bytes to write before any of the core's: a handshake, a page, a control frame.
    pub(crate) fn queue(&mut self, bytes: Bytes) {
        self.out_len += bytes.len();
        self.out.push_back(bytes);
    }

    /// Writes `bytes` at once, as far as the socket takes them, before the connection is
    /// given up: a WebSocket Close that says why.
    pub(crate) fn write_now(&mut self, bytes: &[u8]) {
        match (self.tls.as_mut(), self.stream.as_mut()) {
            (Some(tls), Some(stream)) => {
                let _ = tls.session.writer().write_all(bytes);
                let _ = tls.session.write_tls(stream);
            }
            (None, Some(stream)) => {
                let _ = stream.write(bytes);
            }
            _ => {}
        }
    }

    /// Writes the records rustls holds. Returns whether writing may go on: false when the
    /// socket is full or the connection failed.
    pub(crate) fn flush_tls(&mut self) -> bool {
        loop {
            let (Some(tls), Some(stream)) = (self.tls.as_mut(), self.stream.as_mut()) else {
                return true;
            };
            if !tls.session.wants_write() {
                return true;
            }
            match tls.session.write_tls(stream) {
                Ok(n) => self.wrote |= n > 0,
                Err(e) => {
                    if self.write_failed(e) {
                        return false;
                    }
                }
            }
        }
    }

    /// Takes in a failed write: `true` when writing must stop for now, because the socket is
    /// full or the connection failed; `false` to retry an interrupted call.
    pub(crate) fn write_failed(&mut self, e: io::Error) -> bool {
        match e.kind() {
            io::ErrorKind::WouldBlock => {
                self.ready.writable = false;
                true
            }
            io::ErrorKind::Interrupted => false,
            _ => {
                self.fail(TransportError::Io(e));
                true
            }
        }
    }
}

/// The connections' socket sides, by token: a connection's id names its slot, so finding one
/// costs no hashing.
#[derive(Default)]
pub(crate) struct IoTable {
    slots: Vec<Option<Box<Io>>>,
}

impl IoTable {
    fn slot(token: Token) -> usize {
        token.0.wrapping_sub(1)
    }

    /// Takes a connection out while it is served; [`insert`](Self::insert) puts it back.
    pub(crate) fn take(&mut self, token: Token) -> Option<Box<Io>> {
        self.slots.get_mut(Self::slot(token))?.take()
    }

    /// Takes the connection `id` out, if it is the one in its slot.
    pub(crate) fn take_id(&mut self, id: u64) -> Option<Box<Io>> {
        let token = token_of(id);
        if self.get(token)?.id != id {
            return None;
        }
        self.take(token)
    }

    /// Puts a connection in its slot. The endpoint reuses a slot only after it has asked for
    /// the connection that held it to be closed, which empties the slot.
    pub(crate) fn insert(&mut self, token: Token, io: Box<Io>) {
        let slot = Self::slot(token);
        if self.slots.len() <= slot {
            self.slots.resize_with(slot + 1, || None);
        }
        debug_assert!(
            self.slots[slot].as_ref().is_none_or(|old| old.id == io.id),
            "a slot taken by another connection"
        );
        self.slots[slot] = Some(io);
    }

    pub(crate) fn get(&self, token: Token) -> Option<&Io> {
        self.slots.get(Self::slot(token))?.as_deref()
    }

    pub(crate) fn get_mut(&mut self, token: Token) -> Option<&mut Io> {
        self.slots.get_mut(Self::slot(token))?.as_deref_mut()
    }

    /// The connection `id`, if it is the one in its slot.
    pub(crate) fn get_id_mut(&mut self, id: u64) -> Option<&mut Io> {
        self.get_mut(token_of(id)).filter(|io| io.id == id)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Io> {
        self.slots.iter().filter_map(|s| s.as_deref())
    }

    pub(crate) fn tokens(&self) -> impl Iterator<Item = Token> + '_ {
        self.iter().map(|io| token_of(io.id))
    }
}
