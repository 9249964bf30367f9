//! Loopback plumbing for the transport benches: endpoints whose events are watched on the loop's
//! own thread, certificates shared by the endpoints and by the plain rustls baselines, and
//! connected socket pairs.
//!
//! An endpoint here is started with a handler ([`Side::start`]) that does on the loop's thread
//! what the bench needs at once (count received bytes, send the next message of a
//! [`Plan`]) and reports only what the bench waits for as a [`Note`] over a channel. Every
//! wait has a deadline and panics when it passes, so that a bench that stalls fails instead of
//! hanging.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_mio_transport::{
    Context, Endpoint, EndpointConfig, EndpointEvent, Identity, MessageRef, PeerVerification, Role,
    SessionId, SessionSpec, fingerprint_of, matches_fingerprint,
};
use msrp_session::{Event, OutgoingMessage, SessionConfig};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

use crate::seeded_random;

/// A self-signed certificate (ECDSA P-256, what rcgen and the transport's own
/// `Identity::self_signed` generate) and its key, as DER.
#[derive(Clone, Debug)]
pub struct Cert {
    /// The certificate.
    pub der: Vec<u8>,
    /// The PKCS #8 private key.
    pub key: Vec<u8>,
}

impl Cert {
    /// A new self-signed certificate for `localhost`.
    pub fn generate() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("generate a certificate");
        Self {
            der: certified.cert.der().to_vec(),
            key: certified.signing_key.serialize_der(),
        }
    }

    /// The certificate as an endpoint's identity.
    pub fn identity(&self) -> Identity {
        Identity::from_der(vec![self.der.clone()], self.key.clone())
    }

    /// The SHA-256 fingerprint for the peer's [`PeerVerification`].
    pub fn verification(&self) -> PeerVerification {
        PeerVerification::Fingerprints(vec![fingerprint_of(&self.der)])
    }
}

/// The certificates of both ends, used by the endpoints and by the rustls baselines alike.
#[derive(Clone, Debug)]
pub struct Certs {
    /// The listening (passive, TLS server) side's.
    pub server: Cert,
    /// The connecting (active, TLS client) side's.
    pub client: Cert,
}

impl Certs {
    /// Two new certificates.
    pub fn generate() -> Self {
        Self {
            server: Cert::generate(),
            client: Cert::generate(),
        }
    }
}

/// What an endpoint's handler reports to the bench.
#[derive(Debug)]
pub enum Note {
    /// A session's connection is up.
    Bound(SessionId),
    /// A session through a relay was granted its path.
    Authenticated(SessionId, String),
    /// A message delivered in pieces ended: the bytes its data events carried (checked to come
    /// in order), and its result.
    End {
        /// The receiving session.
        session: SessionId,
        /// Bytes counted from its `MessageData` events.
        counted: u64,
        /// Its size, or why it was given up (as text).
        result: Result<u64, String>,
    },
    /// A message sent outside a plan has its outcome.
    Outcome {
        /// The message.
        message: MessageRef,
        /// Whether it was delivered.
        delivered: bool,
    },
    /// The plan's last outcome arrived.
    PlanDone,
    /// A connection closed or failed.
    ConnectionError(String),
    /// A session failed (its connection closed, for instance).
    SessionFailed(String),
    /// Something went wrong that no bench asks for: a failed outcome in a plan, a refused
    /// message, data out of order.
    Trouble(String),
}

/// Messages a handler sends by itself, each when an outcome arrives: lockstep (one in flight)
/// or pipelined (a window in flight), or each on a session of its own that the handler opens,
/// without a thread hop per message.
#[derive(Debug)]
pub struct Plan {
    /// Sessions still to be opened by the handler, one per message, before `to_send` counts.
    connects: Mutex<VecDeque<SessionSpec>>,
    /// Messages still to be sent by the handler.
    to_send: AtomicU64,
    /// Outcomes still awaited; zero when no plan runs.
    outstanding: AtomicU64,
    /// The body of every message of the plan.
    body: Bytes,
}

impl Plan {
    fn new(body: Bytes) -> Self {
        Self {
            connects: Mutex::new(VecDeque::new()),
            to_send: AtomicU64::new(0),
            outstanding: AtomicU64::new(0),
            body,
        }
    }

    /// The message the plan sends.
    pub fn message(&self) -> OutgoingMessage {
        OutgoingMessage::new("text/plain", self.body.clone())
    }
}

/// The handler of a [`Side`]: counts received data, drives the plan, reports notes.
fn handler(
    notes: Sender<Note>,
    plan: Arc<Plan>,
) -> impl FnMut(&mut Context<'_>, EndpointEvent) + Send + 'static {
    let mut counted = 0u64;
    move |ctx, event| {
        let note = match event {
            EndpointEvent::Outcome {
                session,
                message,
                outcome,
            } => {
                let delivered = outcome.result.is_ok();
                if plan.outstanding.load(Ordering::Acquire) == 0 {
                    Some(Note::Outcome { message, delivered })
                } else if !delivered {
                    Some(Note::Trouble(format!(
                        "a planned message failed: {outcome:?}"
                    )))
                } else {
                    let next = plan.connects.lock().expect("plan").pop_front();
                    if let Some(spec) = next {
                        match ctx.open_session(spec) {
                            Ok(id) => {
                                ctx.send(id, plan.message());
                            }
                            Err(e) => {
                                let _ = notes.send(Note::Trouble(format!("open: {e}")));
                            }
                        }
                    } else if plan.to_send.load(Ordering::Acquire) > 0 {
                        // Only this thread takes from `to_send` while a plan runs.
                        plan.to_send.fetch_sub(1, Ordering::AcqRel);
                        ctx.send(session, plan.message());
                    }
                    (plan.outstanding.fetch_sub(1, Ordering::AcqRel) == 1).then_some(Note::PlanDone)
                }
            }
            EndpointEvent::Session(_, Event::MessageStart(_)) => {
                counted = 0;
                None
            }
            EndpointEvent::Session(session, Event::MessageData(d)) => {
                if d.offset != counted {
                    Some(Note::Trouble(format!(
                        "session {session:?}: data at {} after {counted} bytes",
                        d.offset
                    )))
                } else {
                    counted += d.data.len() as u64;
                    None
                }
            }
            EndpointEvent::Session(session, Event::MessageEnd(end)) => Some(Note::End {
                session,
                counted,
                result: end.result.map_err(|e| format!("{e:?}")),
            }),
            EndpointEvent::Session(session, Event::SessionFailed(why)) => {
                Some(Note::SessionFailed(format!("session {session:?}: {why}")))
            }
            EndpointEvent::Session(_, _) => None,
            EndpointEvent::Bound { session, .. } => Some(Note::Bound(session)),
            EndpointEvent::Authenticated { session, path, .. } => {
                Some(Note::Authenticated(session, path.to_string()))
            }
            EndpointEvent::Refused { error, .. } => {
                Some(Note::Trouble(format!("message refused: {error}")))
            }
            EndpointEvent::ConnectionClosed { error, .. } => {
                Some(Note::ConnectionError(error.to_string()))
            }
            _ => None,
        };
        if let Some(note) = note {
            // The bench may have stopped listening while the endpoint shuts down.
            let _ = notes.send(note);
        }
    }
}

/// An endpoint started with the bench handler, and what the handler reports.
pub struct Side {
    /// The endpoint; dropping it shuts it down and joins its thread.
    pub endpoint: Endpoint,
    notes: Receiver<Note>,
    plan: Arc<Plan>,
}

impl Side {
    /// Starts an endpoint with `config` (its identity, if any, saves generating one), whose
    /// handler's plan sends `plan_body`.
    pub fn start(config: EndpointConfig, plan_body: Bytes) -> Self {
        let (tx, notes) = mpsc::channel();
        let plan = Arc::new(Plan::new(plan_body));
        let endpoint = Endpoint::start_with_handler(config, handler(tx, plan.clone()))
            .expect("start an endpoint");
        Self {
            endpoint,
            notes,
            plan,
        }
    }

    /// Waits for notes until `want` returns something; panics after `limit`, or at a
    /// [`Note::Trouble`] that `want` does not take. Failures of sessions and connections are
    /// for `want` to judge; [`failure`] panics at them.
    pub fn wait<T>(
        &self,
        limit: Duration,
        what: &str,
        mut want: impl FnMut(Note) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let note = match self.notes.recv_timeout(left) {
                Ok(note) => note,
                Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
            };
            let trouble = match &note {
                Note::Trouble(t) => Some(t.clone()),
                _ => None,
            };
            if let Some(found) = want(note) {
                return found;
            }
            if let Some(t) = trouble {
                panic!("while waiting for {what}: {t}");
            }
        }
    }

    /// Runs a plan: `total` messages on `session`, `window` of them in flight; returns when the
    /// last outcome arrived. The first `window` are sent from this thread through the handle,
    /// the rest by the handler on the loop's thread as outcomes arrive.
    pub fn run_plan(&self, session: SessionId, total: u64, window: u64, limit: Duration) {
        let window = window.clamp(1, total.max(1));
        self.plan
            .to_send
            .store(total.saturating_sub(window), Ordering::Release);
        self.plan.outstanding.store(total, Ordering::Release);
        for _ in 0..window.min(total) {
            self.endpoint
                .handle()
                .send(session, self.plan.message())
                .expect("the endpoint runs");
        }
        self.wait(limit, "the plan's last outcome", |n| {
            failure(&n, "the plan's last outcome");
            matches!(n, Note::PlanDone).then_some(())
        });
    }

    /// Runs a plan of new sessions: for each spec, in turn, opens the session and sends one
    /// message on it at once, the next when the previous one's outcome arrives. The first is
    /// opened from this thread through the handle, the rest by the handler on the loop's
    /// thread. Returns when the last outcome arrived.
    pub fn run_connect_plan(&self, specs: Vec<SessionSpec>, limit: Duration) {
        let mut specs: VecDeque<SessionSpec> = specs.into();
        let Some(first) = specs.pop_front() else {
            return;
        };
        self.plan
            .outstanding
            .store(specs.len() as u64 + 1, Ordering::Release);
        self.plan.to_send.store(0, Ordering::Release);
        *self.plan.connects.lock().expect("plan") = specs;
        let handle = self.endpoint.handle();
        let id = handle.open_session(first).expect("open a session");
        handle
            .send(id, self.plan.message())
            .expect("the endpoint runs");
        self.wait(limit, "the last first outcome", |n| {
            failure(&n, "the last first outcome");
            matches!(n, Note::PlanDone).then_some(())
        });
    }

    /// The notes that arrive within `limit`, for a failure's message.
    pub fn drain_notes(&self, limit: Duration) -> Vec<Note> {
        let deadline = Instant::now() + limit;
        let mut notes = Vec::new();
        while let Ok(n) = self
            .notes
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            notes.push(n);
        }
        notes
    }

    /// Drops the notes received so far.
    pub fn clear_notes(&self) {
        while self.notes.try_recv().is_ok() {}
    }
}

/// Panics at a note of a failed session or connection: for waits that expect none.
pub fn failure(note: &Note, what: &str) {
    if let Note::SessionFailed(why) | Note::ConnectionError(why) = note {
        panic!("while waiting for {what}: {why}");
    }
}

/// A unique session-id for this process.
pub fn unique_session_id(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}{:08}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The `msrp` or `msrps` URI of a session at `addr`.
pub fn uri(tls: bool, addr: SocketAddr, session_id: &str) -> String {
    let scheme = if tls { "msrps" } else { "msrp" };
    format!("{scheme}://{addr}/{session_id};tcp")
}

/// Opens a passive session on `server` (listening at `addr`) and an active one on `client`
/// towards it, on a new connection, and waits until both are bound. `tweak` adjusts the
/// client's session configuration (chunking, for instance). Returns (server's, client's).
pub fn open_pair(
    server: &Side,
    client: &Side,
    addr: SocketAddr,
    tls: bool,
    certs: &Certs,
    tweak: impl FnOnce(&mut SessionConfig),
) -> (SessionId, SessionId) {
    let s_id = unique_session_id("srv");
    let c_id = unique_session_id("cli");
    let s_uri = uri(tls, addr, &s_id);
    let c_uri = uri(tls, "127.0.0.1:9".parse().expect("address"), &c_id);
    let sc = SessionConfig::new(
        s_uri.parse().expect("uri"),
        c_uri.parse().expect("uri"),
        seeded_random(1),
    );
    let mut cc = SessionConfig::new(
        c_uri.parse().expect("uri"),
        s_uri.parse().expect("uri"),
        seeded_random(2),
    );
    tweak(&mut cc);
    let mut s_spec = SessionSpec::new(sc, Role::Passive);
    let mut c_spec = SessionSpec::new(cc, Role::Active).new_connection();
    if tls {
        s_spec = s_spec.peer_check(certs.client.verification());
        c_spec = c_spec.peer_check(certs.server.verification());
    }
    let s = server
        .endpoint
        .handle()
        .open_session(s_spec)
        .expect("open the passive session");
    let c = client
        .endpoint
        .handle()
        .open_session(c_spec)
        .expect("open the active session");
    // The server binds the session when the client's first SEND names it.
    client.wait(Duration::from_secs(10), "the client's Bound", |n| {
        failure(&n, "the client's Bound");
        matches!(n, Note::Bound(id) if id == c).then_some(())
    });
    server.wait(Duration::from_secs(10), "the server's Bound", |n| {
        failure(&n, "the server's Bound");
        matches!(n, Note::Bound(id) if id == s).then_some(())
    });
    (s, c)
}

/// An endpoint configuration with an identity given, so that no certificate is generated.
pub fn endpoint_config(identity: Identity) -> EndpointConfig {
    let mut config = EndpointConfig::default();
    config.identity = Some(identity);
    config
}

// ---------------------------------------------------------------------------------------------
// Baselines: plain sockets and plain rustls.
// ---------------------------------------------------------------------------------------------

/// Two connected TCP sockets over 127.0.0.1, with `TCP_NODELAY` as the transport sets it.
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (b, _) = listener.accept().expect("accept");
    a.set_nodelay(true).expect("nodelay");
    b.set_nodelay(true).expect("nodelay");
    (a, b)
}

/// The plain rustls configurations of the baselines: the very ones the transport uses
/// ([`Identity::server_config`], [`Identity::client_config`]), so that both sides of a
/// comparison negotiate the same protocol and cipher suite, with certificates both ways and no
/// session resumption.
pub fn tls_configs(certs: &Certs) -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let server = certs
        .server
        .identity()
        .server_config()
        .expect("server configuration");
    let client = certs
        .client
        .identity()
        .client_config(&certs.server.verification().into())
        .expect("client configuration");
    (server, client)
}

/// Whether the client's certificate on a finished server handshake has the client's
/// fingerprint.
pub fn client_certificate_matches(server: &ServerConnection, certs: &Certs) -> bool {
    server
        .peer_certificates()
        .and_then(|c| c.first())
        .is_some_and(|c| matches_fingerprint(c.as_ref(), &[fingerprint_of(&certs.client.der)]))
}

/// Runs a blocking handshake to completion, for either side.
macro_rules! handshake_fn {
    ($name:ident, $t:ty) => {
        /// Runs a blocking handshake to completion and flushes what its last flight left (the
        /// client's Finished, the server's tickets).
        pub fn $name(conn: &mut $t, socket: &mut TcpStream) -> io::Result<()> {
            while conn.is_handshaking() {
                conn.complete_io(socket)?;
            }
            while conn.wants_write() {
                conn.write_tls(socket)?;
            }
            Ok(())
        }
    };
}

handshake_fn!(client_handshake, ClientConnection);
handshake_fn!(server_handshake, ServerConnection);

/// A TLS connection over loopback with both handshakes done: (client side, server side).
pub struct TlsPair {
    /// The client's connection and socket.
    pub client: (ClientConnection, TcpStream),
    /// The server's connection and socket.
    pub server: (ServerConnection, TcpStream),
}

impl TlsPair {
    /// Connects over loopback and completes the handshake, the server on its own thread.
    pub fn connect(certs: &Certs) -> Self {
        let (server_config, client_config) = tls_configs(certs);
        let (mut c_sock, mut s_sock) = tcp_pair();
        let certs_for_server = certs.clone();
        let server = std::thread::spawn(move || {
            let mut conn = ServerConnection::new(server_config).expect("server connection");
            server_handshake(&mut conn, &mut s_sock).expect("server handshake");
            assert!(client_certificate_matches(&conn, &certs_for_server));
            (conn, s_sock)
        });
        let name = ServerName::try_from("localhost").expect("name");
        let mut conn = ClientConnection::new(client_config, name).expect("client connection");
        client_handshake(&mut conn, &mut c_sock).expect("client handshake");
        let server = server.join().expect("server thread");
        Self {
            client: (conn, c_sock),
            server,
        }
    }

    /// The negotiated cipher suite and protocol version, as text.
    pub fn negotiated(&self) -> String {
        let conn = &self.client.0;
        format!(
            "{:?} {:?}",
            conn.protocol_version(),
            conn.negotiated_cipher_suite().map(|s| s.suite())
        )
    }
}

/// Writes all of `data` as TLS records to the socket, `chunk` plaintext bytes at a time.
pub fn tls_write_all(
    conn: &mut ClientConnection,
    socket: &mut TcpStream,
    data: &[u8],
    chunk: usize,
) -> io::Result<()> {
    for piece in data.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() {
            let n = conn.writer().write(rest)?;
            rest = &rest[n..];
            while conn.wants_write() {
                conn.write_tls(socket)?;
            }
        }
    }
    Ok(())
}

/// Reads `total` plaintext bytes: 256 KiB at a time from the socket into `net`, each read fed
/// to `read_tls` from that slice (rustls reads at most 4 KiB per call), the plaintext read out
/// into `plain` after each record batch.
pub fn tls_read_exact(
    conn: &mut ServerConnection,
    socket: &mut TcpStream,
    total: u64,
    net: &mut [u8],
    plain: &mut [u8],
) -> io::Result<()> {
    let mut got = 0u64;
    while got < total {
        let n = socket.read(net)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut rest = &net[..n];
        while !rest.is_empty() {
            conn.read_tls(&mut rest)?;
            conn.process_new_packets().map_err(io::Error::other)?;
            loop {
                match conn.reader().read(plain) {
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(k) => {
                        got += k as u64;
                        std::hint::black_box(&plain[..k]);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// A guard that runs a closure when dropped: joins helper threads even when a bench panics.
pub struct OnDrop<F: FnMut()>(pub F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// A shared slot for figures that a measurement closure records as it goes (the two write
/// sizes of a baseline, for instance).
pub type Record = Arc<Mutex<Vec<f64>>>;

/// A generous deadline for moving `bytes` over loopback.
pub fn bulk_limit(bytes: usize) -> Duration {
    Duration::from_secs(30) + Duration::from_secs_f64(bytes as f64 / 20e6)
}

/// Sends `body` as one message from `client`'s session to `server`'s, and waits for its end
/// at the receiver (every byte counted, in order) and its delivered outcome at the sender.
pub fn bulk(client: (&Side, SessionId), server: (&Side, SessionId), body: &Bytes) {
    let (client, client_session) = client;
    let (server, server_session) = server;
    let message = client
        .endpoint
        .handle()
        .send(
            client_session,
            OutgoingMessage::new("application/octet-stream", body.clone()),
        )
        .expect("the endpoint runs");
    let limit = bulk_limit(body.len());
    let (counted, result) = server.wait(limit, "the message's end", |n| match n {
        n @ (Note::SessionFailed(_) | Note::ConnectionError(_)) => {
            failure(&n, "the message's end");
            None
        }
        Note::End {
            session,
            counted,
            result,
        } if session == server_session => Some((counted, result)),
        _ => None,
    });
    if result != Ok(body.len() as u64) {
        panic!(
            "the message did not arrive whole: {result:?} after {counted} bytes; then \
             the receiver said {:?} and the sender {:?}",
            server.drain_notes(Duration::from_secs(1)),
            client.drain_notes(Duration::from_secs(1)),
        );
    }
    assert_eq!(counted, body.len() as u64, "every byte was delivered");
    let delivered = client.wait(limit, "the message's outcome", |n| match n {
        n @ (Note::SessionFailed(_) | Note::ConnectionError(_)) => {
            failure(&n, "the message's outcome");
            None
        }
        Note::Outcome {
            message: m,
            delivered,
        } if m == message => Some(delivered),
        _ => None,
    });
    assert!(delivered, "the message was delivered");
}
