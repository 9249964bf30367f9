//! `relay_drive`: one [`Relay`] (RFC 4976) with small limits, driven by arbitrary operations:
//! connections accepted, set up or lost, and the connections to next hops that it asks for;
//! raw bytes; AUTH requests with and without digest credentials (answering the challenges it
//! wrote, or not); SEND, REPORT and other requests to the URIs it granted, toward next hops,
//! back to clients, to itself or nowhere, whole, in pieces or cut short; responses of next hops
//! to what it forwarded; output written within any budget; time; a shutdown and a finish.
//!
//! The input starts with one byte of configuration (bit 0: digest users; bit 1: TLS, `msrps:`
//! URIs); then come operations, one byte each with their arguments after it.
//!
//! Asserted: no panic. The connection and session limits hold, and the relay counts the
//! connections and granted URIs its actions and events announced. Every action names a
//! connection the I/O layer has (`Transmit` an established one, once per wait), and every
//! `Close` comes with its `ConnectionClosed` event, after the end of the URIs the connection
//! held. `poll_transmit` hands out exactly what was asked of what waits; output that waits on
//! an established connection has been announced; what the relay writes is a well-formed MSRP
//! stream, and a SEND of ours comes out with the body we sent (a prefix of it when aborted).
//! Output toward any connection stays within `max_output` plus one frame per connection
//! (backpressure: a frame toward a connection that has too much waiting, or is being written
//! another frame, waits on its source, and a peer that leaves the responses to its own
//! requests unread is not read). A connection that takes input has handled what it was given but an
//! unfinished head. `handle_timeout` leaves no timer due. Once every connection is set up and
//! every output written, no connection is held blocked and nothing waits; `finish` lets go of
//! every connection and URI, and the relay accepts no more.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::drive::{Input, random};

use msrp_relay::{AcceptError, Action, ConnectionId, Relay, RelayConfig, RelayEvent, Stats, Users};
use msrp_wire::digest::{Challenge, Credentials, authorization};
use msrp_wire::{Decoder, Flag, Frame, Limits, Method};

const HOST: &str = "127.0.0.1";
/// The relay's time for a frame in progress to send its next byte.
const FRAME_TIMEOUT: Duration = Duration::from_secs(30);
/// The relay's time for a forwarded request to be answered.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);
const PORT: u16 = 2855;
const REALM: &str = "fuzz-realm";
const USER: &str = "alice";
const PASSWORD: &str = "secret";

const MAX_CONNECTIONS: usize = 5;
const MAX_SESSIONS: usize = 3;
const MAX_SESSIONS_PER_CONNECTION: usize = 2;
const MAX_OUTPUT: usize = 600;
const MAX_HEAD: usize = 1024;
const MAX_HEADER_LINE: usize = 512;
const MAX_BODY: usize = 128;

/// The longest end-line with the CRLF in front of it: CRLF, seven hyphens, a 32-character
/// transaction id, the flag and CRLF.
const MAX_END_LINE: usize = 2 + 7 + 32 + 1 + 2;

/// The URIs after the relay's own in the To-Path of a request: next hops, one of them twice
/// (the relay reuses its connection), one without a port (unreachable), one over TLS.
const NEXT_HOPS: [&str; 6] = [
    "msrp://127.0.0.1:9000/bob1session;tcp",
    "msrp://far.example:9001/farsession;tcp",
    "msrps://127.0.0.1:9002/secure1sess;tcp",
    "msrp://127.0.0.1:9000/carol2sess;tcp",
    "msrp://noport.example/noport1sess;tcp",
    "msrp://[::1]:9003/v6session1;tcp",
];

/// Statuses a next hop answers with.
const STATUSES: [&str; 8] = [
    "200 OK",
    "400 Bad Request",
    "403 Forbidden",
    "408 Request Timeout",
    "413 Message Too Large",
    "481 No Such Session",
    "501 Not Implemented",
    "200",
];

/// The body of our SEND number `seq`: letters only, so that it never holds an end-line.
fn body_of(seq: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i as u32).wrapping_mul(7).wrapping_add(seq) % 26) as u8)
        .collect()
}

/// A request the relay wrote on a connection, which the far end may answer.
struct Request {
    tid: String,
    send: bool,
    to_path: String,
    from_path: String,
}

/// A connection as the I/O layer (and the far end) knows it.
struct Conn {
    established: bool,
    /// The far end's address, once set up.
    peer: SocketAddr,
    /// The far end's URI: a client's, or the next hop's.
    uri: String,
    /// Bytes to feed, in order, while the relay takes input.
    backlog: VecDeque<Vec<u8>>,
    /// Our SEND whose bytes were cut short here: what comes next on the connection continues
    /// it.
    open_seq: Option<u32>,
    /// The relay's output, as the far end reads it.
    out: Decoder,
    /// Requests the relay wrote here, not answered yet.
    requests: VecDeque<Request>,
    /// A `Transmit` came and `poll_transmit` was not called since.
    announced: bool,
    /// The last `poll_transmit` left output waiting.
    partial: bool,
    /// A `Resume` came and the input was not handled since.
    resume: bool,
}

impl Conn {
    fn new(peer: SocketAddr, uri: String) -> Self {
        let mut limits = Limits::default();
        limits.max_head = 65535;
        limits.max_header_line = 65535;
        limits.max_headers = 256;
        Self {
            established: false,
            peer,
            uri,
            backlog: VecDeque::new(),
            open_seq: None,
            out: Decoder::with_limits(limits),
            requests: VecDeque::new(),
            announced: false,
            partial: false,
            resume: false,
        }
    }
}

struct Harness {
    relay: Relay,
    now: Instant,
    users: bool,
    scheme: &'static str,
    conns: BTreeMap<ConnectionId, Conn>,
    /// Granted URIs that are valid, by their owners, as the events told.
    sessions: BTreeMap<String, ConnectionId>,
    /// Every URI ever granted, valid or not.
    granted: Vec<String>,
    /// The last digest challenge the relay wrote.
    challenge: Option<Challenge>,
    nc: u32,
    /// The bodies of our SENDs, by number.
    sent: HashMap<u32, Vec<u8>>,
    /// Our SENDs whose bytes other bytes continued: their bodies are not ours alone.
    tainted: HashSet<u32>,
    /// Raw bytes could pass for ours: bodies are not checked.
    forged: bool,
    next_seq: u32,
    next_tid: u32,
    next_port: u16,
    largest_piece: usize,
    stats: Stats,
    failure_reports: u64,
}

/// Runs the target on one input.
pub fn check(data: &[u8]) {
    let mut input = Input(data);
    let setup = input.byte();
    let now = Instant::now();
    let mut config = RelayConfig::new(HOST, PORT);
    config.realm = REALM.into();
    if setup & 1 != 0 {
        let mut users = Users::new();
        users.insert(USER, PASSWORD);
        users.insert("bob", "");
        config.users = Some(users);
    }
    config.secure = setup & 2 != 0;
    config.min_expires = 60;
    config.max_expires = 600;
    config.nonce_lifetime = Duration::from_secs(120);
    config.wire.max_start_line = 128;
    config.wire.max_header_line = MAX_HEADER_LINE;
    config.wire.max_headers = 12;
    config.wire.max_head = MAX_HEAD;
    config.wire.max_body = MAX_BODY;
    config.max_connections = MAX_CONNECTIONS;
    config.max_sessions = MAX_SESSIONS;
    config.max_sessions_per_connection = MAX_SESSIONS_PER_CONNECTION;
    config.max_output = MAX_OUTPUT;
    // Few, so that what goes back at once when a next hop is lost (a failure REPORT for each
    // request waiting there) stays within the output bound.
    config.max_pending = 4;
    config.frame_timeout = FRAME_TIMEOUT;
    config.transaction_timeout = TRANSACTION_TIMEOUT;
    config.transaction_timeout = Duration::from_secs(30);
    config.first_request_timeout = Duration::from_secs(30);
    config.connect_timeout = Duration::from_secs(10);
    config.idle_timeout = Duration::from_secs(300);
    config.max_auth_failures = 3;
    let mut h = Harness {
        relay: Relay::new(config, random(u64::from(setup)), now),
        now,
        users: setup & 1 != 0,
        scheme: if setup & 2 != 0 { "msrps" } else { "msrp" },
        conns: BTreeMap::new(),
        sessions: BTreeMap::new(),
        granted: Vec::new(),
        challenge: None,
        nc: 0,
        sent: HashMap::new(),
        tainted: HashSet::new(),
        forged: false,
        next_seq: 0,
        next_tid: 0,
        next_port: 40000,
        largest_piece: 0,
        stats: Stats::default(),
        failure_reports: 0,
    };

    while !input.0.is_empty() {
        let op = input.byte();
        let pick = usize::from(input.byte());
        let known: Vec<ConnectionId> = h.conns.keys().copied().collect();
        let connection = known.get(pick % known.len().max(1)).copied();
        match op % 16 {
            0 => h.accept(op & 0x80 == 0),
            // A connection is set up: one being set up if there is one.
            1 => {
                let waiting: Vec<ConnectionId> = h
                    .conns
                    .iter()
                    .filter(|(_, c)| !c.established)
                    .map(|(&id, _)| id)
                    .collect();
                if let Some(&c) = waiting.get(pick % waiting.len().max(1)) {
                    h.establish(c, op & 0x80 != 0);
                } else if let Some(c) = connection {
                    h.establish(c, false);
                }
            }
            2 => {
                if let Some(c) = connection {
                    h.relay.handle_lost(h.now, c);
                }
            }
            // Raw bytes.
            3 => {
                let n = usize::from(input.byte());
                let raw = input.bytes(n).to_vec();
                if let Some(c) = connection {
                    if raw.windows(2).any(|w| w == b"fz") {
                        h.forged = true;
                    }
                    h.feed(c, vec![raw], None);
                }
            }
            4 => {
                if let Some(c) = connection {
                    h.auth(c, &mut input);
                }
            }
            5 | 6 => {
                if let Some(c) = connection {
                    h.send(c, &mut input);
                }
            }
            7 => {
                if let Some(c) = connection {
                    h.other_request(c, &mut input);
                }
            }
            8 => {
                if let Some(c) = connection {
                    h.respond(c, &mut input);
                }
            }
            // Output is written, within a budget.
            9 => {
                let budget = match input.byte() {
                    0 => usize::MAX,
                    b => usize::from(b) * 8,
                };
                if let Some(c) = connection {
                    h.transmit(c, budget);
                }
            }
            // Time passes: to the next timer, or by any amount.
            10 => {
                let b = u64::from(input.byte());
                if op & 0x80 != 0 {
                    if let Some(at) = h.relay.poll_timeout() {
                        h.now = h.now.max(at);
                    }
                } else if op & 0x40 != 0 {
                    h.now += Duration::from_secs(b * 4);
                } else {
                    h.now += Duration::from_millis(b * 500);
                }
                h.relay.handle_timeout(h.now);
                assert!(
                    h.relay.poll_timeout().is_none_or(|at| at > h.now),
                    "a timer is still due after handle_timeout"
                );
            }
            // Input is handled again.
            11 => {
                if let Some(c) = connection {
                    h.resume(c);
                }
            }
            // Every connection writes all it has, then reads what waits.
            12 => {
                for c in known {
                    h.transmit(c, usize::MAX);
                }
                h.drain();
                h.pump_all();
            }
            // A shutdown, ended at once or not.
            13 => {
                if op & 0x80 != 0 {
                    h.finish();
                } else {
                    h.relay.shutdown();
                    assert!(h.relay.is_shutting_down());
                }
            }
            // Every connection reads what waits.
            14 => h.pump_all(),
            // Every connection being set up is set up, or fails.
            _ => {
                for c in known {
                    if h.conns.get(&c).is_some_and(|k| !k.established) {
                        if op & 0x80 != 0 {
                            h.relay.handle_lost(h.now, c);
                        } else {
                            h.establish(c, false);
                        }
                    }
                }
            }
        }
        h.drain();
        h.check();
    }
    if !h.relay.is_shutting_down() {
        h.settle();
    }
    h.finish();
}

impl Harness {
    fn relay_uri(&self) -> String {
        format!("{}://{HOST}:{PORT};tcp", self.scheme)
    }

    fn tid(&mut self) -> String {
        self.next_tid += 1;
        format!("fzt{:05}", self.next_tid)
    }

    fn granted_uri(&self, pick: u8) -> Option<String> {
        self.granted
            .get(usize::from(pick) % self.granted.len().max(1))
            .cloned()
    }

    fn accept(&mut self, establish: bool) {
        let port = self.next_port;
        self.next_port = self.next_port.checked_add(1).unwrap_or(40000);
        let peer = SocketAddr::from(([127, 0, 0, 1], port));
        let count = self.relay.connection_count();
        match self.relay.handle_accept(self.now, peer) {
            Ok(c) => {
                assert!(
                    !self.relay.is_shutting_down(),
                    "accepted while shutting down"
                );
                assert!(count < MAX_CONNECTIONS, "accepted over the limit");
                let uri = format!("msrp://127.0.0.1:{port}/cl{port};tcp");
                assert!(
                    self.conns.insert(c, Conn::new(peer, uri)).is_none(),
                    "{c:?} named twice"
                );
                if establish {
                    self.establish(c, false);
                }
            }
            Err(AcceptError::Shutdown) => assert!(self.relay.is_shutting_down()),
            Err(AcceptError::TooManyConnections) => {
                assert!(!self.relay.is_shutting_down());
                assert!(count >= MAX_CONNECTIONS, "refused under the limit");
            }
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }

    fn establish(&mut self, c: ConnectionId, certificate: bool) {
        let Some(conn) = self.conns.get_mut(&c) else {
            return;
        };
        conn.established = true;
        let peer = conn.peer;
        let cert = certificate.then_some(&b"a certificate"[..]);
        // Some peers take chunks of bounded size, as WebSocket clients do (RFC 7977 §5.1):
        // what is sent toward them is cut.
        if peer.port() % 3 == 0 {
            let limit = 1 + usize::from(peer.port() % 97);
            self.relay.set_max_chunk(c, Some(limit));
        }
        self.relay.handle_established(self.now, c, peer, cert);
    }

    /// Queues bytes for a connection and feeds what it takes. `cut`: our SEND of this number
    /// was cut short.
    fn feed(&mut self, c: ConnectionId, pieces: Vec<Vec<u8>>, cut: Option<u32>) {
        let Some(conn) = self.conns.get_mut(&c) else {
            return;
        };
        if let Some(open) = conn.open_seq.take() {
            self.tainted.insert(open);
        }
        conn.backlog
            .extend(pieces.into_iter().filter(|p| !p.is_empty()));
        conn.open_seq = cut;
        self.pump(c);
    }

    /// Feeds a connection what waits for it, while it takes input.
    fn pump(&mut self, c: ConnectionId) {
        while self.relay.wants_read(c) {
            let Some(conn) = self.conns.get_mut(&c) else {
                return;
            };
            assert!(conn.established, "{c:?} takes input before it is set up");
            let Some(piece) = conn.backlog.pop_front() else {
                return;
            };
            conn.resume = false;
            self.largest_piece = self.largest_piece.max(piece.len());
            self.relay.handle_input(self.now, c, &piece);
        }
    }

    fn pump_all(&mut self) {
        let known: Vec<ConnectionId> = self.conns.keys().copied().collect();
        for c in known {
            self.pump(c);
        }
    }

    fn resume(&mut self, c: ConnectionId) {
        if let Some(conn) = self.conns.get_mut(&c) {
            conn.resume = false;
        }
        self.relay.resume(self.now, c);
        self.pump(c);
    }

    /// A To-Path: the relay's URI as granted, alone, or with a session it never granted; then
    /// a next hop, another granted URI, or nothing.
    fn to_path(&self, t: u8, g: u8) -> String {
        let first = match t & 3 {
            0 | 1 => self.granted_uri(g).unwrap_or_else(|| self.relay_uri()),
            2 => self.relay_uri(),
            _ => format!("{}://{HOST}:{PORT}/nosuchsession;tcp", self.scheme),
        };
        match (t >> 2) % 8 {
            n @ 0..=5 => format!("{first} {}", NEXT_HOPS[usize::from(n)]),
            6 => match self.granted_uri(g.wrapping_add(1)) {
                Some(other) => format!("{first} {other}"),
                None => first,
            },
            _ => first,
        }
    }

    fn auth(&mut self, c: ConnectionId, input: &mut Input<'_>) {
        let b = input.byte();
        let g = input.byte();
        let Some(from) = self.conns.get(&c).map(|k| k.uri.clone()) else {
            return;
        };
        let scheme = self.scheme;
        let to = match b & 7 {
            0 | 1 => self.relay_uri(),
            2 => format!("{scheme}://{HOST};tcp"),
            3 => format!("{scheme}://alice@{HOST}:{PORT};tcp"),
            4 => format!("{scheme}://{HOST}:{PORT}/authsession;tcp"),
            5 => self.to_path(g & !3, g),
            6 => format!("{scheme}://10.9.9.9:{PORT};tcp"),
            _ => format!(
                "msrp{}://{HOST}:{PORT};tcp",
                if scheme == "msrp" { "s" } else { "" }
            ),
        };
        let tid = self.tid();
        let mut frame = format!("MSRP {tid} AUTH\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\n");
        // RFC 4976 §9.1: the digest-uri is the rightmost URI of the To-Path.
        let uri = to.rsplit(' ').next().unwrap_or_default().to_owned();
        let challenge = self.challenge.clone().unwrap_or(Challenge {
            realm: REALM.into(),
            nonce: "0123456789abcdef".into(),
            opaque: None,
            algorithm: false,
            stale: false,
        });
        let credentials = match (b >> 5) & 3 {
            0 => None,
            1 => Some(Credentials::new(USER, PASSWORD)),
            2 => Some(Credentials::new(USER, "wrong")),
            _ => Some(Credentials::new("mallory", PASSWORD)),
        };
        if let Some(credentials) = credentials {
            // Now and then the nonce count of the last answer again: a replay.
            if g & 0x80 == 0 || self.nc == 0 {
                self.nc += 1;
            }
            let value = authorization(&credentials, &challenge, &uri, self.nc, "fzcnonce");
            frame.push_str(&format!("Authorization: {value}\r\n"));
        }
        match (b >> 3) & 3 {
            0 => {}
            1 => frame.push_str("Expires: 30\r\n"),
            2 => frame.push_str("Expires: 120\r\n"),
            _ => frame.push_str("Expires: 100000\r\n"),
        }
        frame.push_str(&format!("-------{tid}$\r\n"));
        self.feed(c, vec![frame.into_bytes()], None);
        if b & 0x80 != 0 {
            // The client reads the answer at once.
            self.drain();
            self.transmit(c, usize::MAX);
        }
    }

    fn send(&mut self, c: ConnectionId, input: &mut Input<'_>) {
        let t = input.byte();
        let g = input.byte();
        let f = input.byte();
        let len = usize::from(input.byte()) * 2;
        let Some(from) = self.conns.get(&c).map(|k| k.uri.clone()) else {
            return;
        };
        let to = self.to_path(t, g);
        let seq = self.next_seq;
        self.next_seq += 1;
        let tid = self.tid();
        let report = match f & 3 {
            0 => "",
            1 => "Failure-Report: yes\r\n",
            2 => "Failure-Report: no\r\n",
            _ => "Failure-Report: partial\r\n",
        };
        let flag = if f & 4 != 0 { '+' } else { '$' };
        let body = body_of(seq, len);
        let mut frame = format!(
            "MSRP {tid} SEND\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\nMessage-ID: fzm{seq:05}\r\n\
             Byte-Range: 1-{len}/{len}\r\n{report}"
        )
        .into_bytes();
        if len > 0 {
            frame.extend_from_slice(b"Content-Type: text/plain\r\n\r\n");
            frame.extend_from_slice(&body);
            frame.extend_from_slice(b"\r\n");
        }
        frame.extend_from_slice(format!("-------{tid}{flag}\r\n").as_bytes());
        self.sent.insert(seq, body);
        let cut = f & 8 != 0;
        if cut {
            let at = usize::from(input.byte()) * frame.len() / 256;
            frame.truncate(at);
        }
        // In pieces: up to three cuts.
        let mut pieces = Vec::new();
        let mut rest = frame;
        for _ in 0..(f >> 4) & 3 {
            let at = usize::from(input.byte()) * rest.len() / 256;
            let tail = rest.split_off(at);
            pieces.push(rest);
            rest = tail;
        }
        pieces.push(rest);
        self.feed(c, pieces, cut.then_some(seq));
    }

    /// A REPORT, or a request of another method, through the relay.
    fn other_request(&mut self, c: ConnectionId, input: &mut Input<'_>) {
        let t = input.byte();
        let g = input.byte();
        let m = input.byte();
        let Some(from) = self.conns.get(&c).map(|k| k.uri.clone()) else {
            return;
        };
        let to = self.to_path(t, g);
        let tid = self.tid();
        let frame = match m & 3 {
            0 | 1 => format!(
                "MSRP {tid} REPORT\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\nMessage-ID: rep{m:03}\r\n\
                 Byte-Range: 1-{m}/{m}\r\nStatus: 000 {}\r\n-------{tid}$\r\n",
                STATUSES[usize::from(m >> 2) % STATUSES.len()]
            ),
            2 => format!(
                "MSRP {tid} NICKNAME\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\n\
                 Use-Nickname: \"nick{m}\"\r\n-------{tid}$\r\n"
            ),
            _ => format!(
                "MSRP {tid} FROB\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\n-------{tid}$\r\n"
            ),
        };
        self.feed(c, vec![frame.into_bytes()], None);
    }

    /// The far end of a connection answers a request the relay wrote to it.
    fn respond(&mut self, c: ConnectionId, input: &mut Input<'_>) {
        let s = input.byte();
        let r = usize::from(input.byte());
        let Some(conn) = self.conns.get_mut(&c) else {
            return;
        };
        let n = conn.requests.len();
        if n == 0 {
            return;
        }
        let request = if s & 0x80 != 0 {
            // Answered twice.
            let q = &conn.requests[r % n];
            Request {
                tid: q.tid.clone(),
                send: q.send,
                to_path: q.to_path.clone(),
                from_path: q.from_path.clone(),
            }
        } else {
            conn.requests.remove(r % n).expect("an index in range")
        };
        let status = STATUSES[usize::from(s) % STATUSES.len()];
        // RFC 4975 §7.2: a response to a SEND goes to the first URI of its From-Path, one to
        // any other request to the whole of it.
        let (to, from) = if request.send {
            (
                request.from_path.split(' ').next().unwrap_or_default(),
                request.to_path.split(' ').next().unwrap_or_default(),
            )
        } else {
            (request.from_path.as_str(), request.to_path.as_str())
        };
        let tid = &request.tid;
        let mut frame = format!(
            "MSRP {tid} {status}\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\n-------{tid}$\r\n"
        )
        .into_bytes();
        if s & 0x40 != 0 {
            frame.truncate(usize::from(input.byte()) * frame.len() / 256);
        }
        self.feed(c, vec![frame], None);
    }

    /// Writes up to `max` bytes of a connection's output, and reads them at the far end.
    fn transmit(&mut self, c: ConnectionId, max: usize) {
        let before = self.relay.buffered_output(c);
        let mut pieces = Vec::new();
        let n = self.relay.poll_transmit(self.now, c, max, &mut pieces);
        let after = self.relay.buffered_output(c);
        let Some(conn) = self.conns.get_mut(&c) else {
            assert_eq!(n, 0, "output of an unknown connection");
            return;
        };
        let expected = if conn.established { before.min(max) } else { 0 };
        assert_eq!(
            n, expected,
            "{c:?} wrote {n} of {before} with a budget of {max}"
        );
        assert_eq!(pieces.iter().map(|p| p.len()).sum::<usize>(), n);
        // What waited for the bytes written may have joined: frames of other connections
        // held back, responses held while a frame was written.
        assert!(after >= before - n);
        conn.announced = false;
        conn.partial = after > 0;
        let mut frames = Vec::new();
        for piece in &pieces {
            conn.out.push(piece);
            loop {
                match conn.out.decode() {
                    Ok(Some(frame)) => frames.push(frame),
                    Ok(None) => break,
                    Err(e) => panic!("the relay wrote a broken stream on {c:?}: {e:?}"),
                }
            }
        }
        for frame in frames {
            self.read(c, &frame);
        }
    }

    /// What the far end learns from a frame the relay wrote.
    fn read(&mut self, c: ConnectionId, frame: &Frame) {
        let head = frame.head();
        if !head.is_request() {
            if let Ok(Some(params)) = head.www_authenticate()
                && let Ok(challenge) = Challenge::parse(&params)
            {
                self.challenge = Some(challenge);
            }
            return;
        }
        let method = head.method();
        let to_path = head.to_path().ok().flatten().map(|p| p.as_str().to_owned());
        let from_path = head
            .from_path()
            .ok()
            .flatten()
            .map(|p| p.as_str().to_owned());
        if method == Some(Method::Send) {
            self.check_body(c, frame);
        }
        if method == Some(Method::Report) {
            return;
        }
        let (Some(to_path), Some(from_path)) = (to_path, from_path) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&c) else {
            return;
        };
        if conn.requests.len() >= 16 {
            conn.requests.pop_front();
        }
        conn.requests.push_back(Request {
            tid: head.transaction_id().to_owned(),
            send: method == Some(Method::Send),
            to_path,
            from_path,
        });
    }

    /// A SEND of ours comes out with the body we sent, or a prefix of it when aborted.
    fn check_body(&self, c: ConnectionId, frame: &Frame) {
        if self.forged {
            return;
        }
        let Some(seq) = frame
            .head()
            .message_id()
            .ok()
            .flatten()
            .and_then(|id| id.strip_prefix("fzm"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            return;
        };
        let Some(sent) = self.sent.get(&seq).filter(|_| !self.tainted.contains(&seq)) else {
            return;
        };
        let got = frame.body().unwrap_or_default();
        // A SEND cut into chunks for a peer that takes them small: each chunk is the part of
        // ours its Byte-Range says.
        let start = frame.byte_range().ok().flatten().map_or(1, |r| r.start);
        let offset = usize::try_from(start.saturating_sub(1)).unwrap_or(usize::MAX);
        assert!(
            offset <= sent.len(),
            "SEND {seq} as written on {c:?} starts at {start}, past our {} bytes",
            sent.len()
        );
        let ours = &sent[offset..];
        if frame.flag() == Flag::End {
            assert!(
                ours == got,
                "the body of SEND {seq} as written on {c:?} is not ours from {start}: {:?}",
                String::from_utf8_lossy(got)
            );
        } else {
            assert!(
                ours.starts_with(got),
                "the body of SEND {seq} as written on {c:?} is not a prefix of ours from {start}: {:?}",
                String::from_utf8_lossy(got)
            );
        }
    }

    /// Takes the relay's actions and events, checking what they name.
    fn drain(&mut self) {
        let mut closed = Vec::new();
        while let Some(action) = self.relay.poll_action() {
            match action {
                Action::Connect { connection, target } => {
                    let peer = target
                        .addr
                        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], target.port)));
                    let scheme = if target.secure { "msrps" } else { "msrp" };
                    let uri = format!("{scheme}://127.0.0.1:{}/hopsession;tcp", target.port);
                    assert!(
                        self.conns
                            .insert(connection, Conn::new(peer, uri))
                            .is_none(),
                        "Connect names {connection:?}, which is open"
                    );
                }
                Action::Transmit(c) => {
                    let conn = self.conns.get_mut(&c).expect("Transmit names a connection");
                    assert!(conn.established, "Transmit on {c:?}, not set up");
                    assert!(!conn.announced, "Transmit on {c:?} twice in one wait");
                    conn.announced = true;
                }
                Action::Resume(c) => {
                    self.conns
                        .get_mut(&c)
                        .expect("Resume names a connection")
                        .resume = true;
                }
                Action::Close(c) => {
                    assert!(
                        self.conns.remove(&c).is_some(),
                        "Close names {c:?}, unknown"
                    );
                    closed.push(c);
                }
                _ => {}
            }
        }
        let mut announced_closed = Vec::new();
        while let Some(event) = self.relay.poll_event() {
            match event {
                RelayEvent::Authenticated {
                    connection,
                    user,
                    uri,
                    ..
                } => {
                    assert!(
                        self.conns.contains_key(&connection) || closed.contains(&connection),
                        "a URI granted to {connection:?}, unknown"
                    );
                    assert_eq!(user.is_some(), self.users, "the user of a grant");
                    assert!(
                        self.sessions.insert(uri.clone(), connection).is_none(),
                        "{uri} granted twice"
                    );
                    self.granted.push(uri);
                }
                RelayEvent::SessionEnded { uri } => {
                    assert!(
                        self.sessions.remove(&uri).is_some(),
                        "{uri} ended, not granted"
                    );
                }
                RelayEvent::ConnectionClosed { connection, .. } => {
                    assert!(
                        !self.sessions.values().any(|&owner| owner == connection),
                        "{connection:?} closed with URIs still valid"
                    );
                    announced_closed.push(connection);
                }
                RelayEvent::FailureReported { .. } => self.failure_reports += 1,
                RelayEvent::AuthRefused { status, .. } => {
                    assert!(
                        matches!(status, 401 | 403 | 423),
                        "AUTH refused with {status}"
                    );
                }
                _ => {}
            }
        }
        closed.sort();
        announced_closed.sort();
        assert_eq!(
            closed, announced_closed,
            "Close actions and ConnectionClosed events"
        );
    }

    fn slack(&self) -> usize {
        // One frame: a head rewritten (its To-Path moves to its From-Path, a new transaction
        // id), a whole body or the piece received, an end-line, the end-line of the frame
        // before and one of an aborted frame.
        3 * MAX_HEAD + MAX_BODY + self.largest_piece + 4 * MAX_END_LINE
    }

    fn check(&mut self) {
        let relay = &self.relay;
        assert_eq!(relay.connection_count(), self.conns.len());
        assert!(relay.connection_count() <= MAX_CONNECTIONS);
        assert_eq!(relay.session_count(), self.sessions.len());
        assert!(relay.session_count() <= MAX_SESSIONS);
        for &c in self.conns.keys() {
            let held = self.sessions.values().filter(|&&o| o == c).count();
            assert!(
                held <= MAX_SESSIONS_PER_CONNECTION,
                "{c:?} holds {held} URIs"
            );
        }
        let stats = relay.stats();
        let old = self.stats;
        assert!(stats.forwarded >= old.forwarded);
        assert!(stats.forwarded_bytes >= old.forwarded_bytes);
        assert!(stats.relayed_responses >= old.relayed_responses);
        assert!(stats.refused >= old.refused);
        assert_eq!(stats.failure_reports, self.failure_reports);
        self.stats = stats;
        let bound = MAX_OUTPUT + (MAX_CONNECTIONS - 1) * self.slack();
        for (&c, conn) in &self.conns {
            let out = relay.buffered_output(c);
            assert!(
                out <= bound,
                "{out} bytes wait on {c:?} (max_output {MAX_OUTPUT}, bound {bound})"
            );
            if conn.established && out > 0 {
                assert!(
                    conn.announced || conn.partial,
                    "{out} bytes wait on {c:?} unannounced"
                );
            }
            assert!(conn.established || !relay.wants_read(c));
            assert!(conn.established || !relay.wants_write(c));
            if relay.wants_read(c) && !conn.resume && conn.backlog.is_empty() {
                let held = relay.buffered_input(c);
                assert!(
                    held <= MAX_HEAD.max(MAX_END_LINE),
                    "{c:?} takes input and holds {held} bytes"
                );
            }
        }
    }

    /// Sets up every connection, writes every output, and feeds every input, until nothing
    /// moves; then no connection may be held blocked, and nothing may wait. A connection may
    /// still be held behind a frame whose sender stalled half-way (frames toward one next hop
    /// go one at a time), or with `max_pending` requests waiting for answers that do not
    /// come: each time the frame and transaction timeouts pass, such senders are closed and
    /// such requests given up, and in the end nothing may be held.
    fn settle(&mut self) {
        self.settle_moves();
        // Each stalled sender closed may let another's stalled frame through, and each
        // request given up lets one more of the same sender go.
        for _ in 0..256 {
            if self.conns.keys().all(|&c| self.relay.wants_read(c)) {
                break;
            }
            self.now += FRAME_TIMEOUT.max(TRANSACTION_TIMEOUT) + Duration::from_secs(1);
            self.relay.handle_timeout(self.now);
            self.drain();
            self.settle_moves();
        }
        for (&c, conn) in &self.conns {
            assert!(
                self.relay.wants_read(c),
                "{c:?} is held blocked with all output written"
            );
            assert!(conn.backlog.is_empty());
        }
        assert!(self.relay.is_idle(), "output waits after all was written");
    }

    /// Sets up every connection, writes every output, and feeds every input, until nothing
    /// moves.
    fn settle_moves(&mut self) {
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 10_000, "the relay does not settle");
            let mut moved = false;
            let known: Vec<ConnectionId> = self.conns.keys().copied().collect();
            for &c in &known {
                if self.conns.get(&c).is_some_and(|k| !k.established) {
                    self.establish(c, false);
                    moved = true;
                }
            }
            self.drain();
            for &c in &known {
                if self.relay.buffered_output(c) > 0 {
                    self.transmit(c, usize::MAX);
                    moved = true;
                }
            }
            self.drain();
            for &c in &known {
                let Some(conn) = self.conns.get(&c) else {
                    continue;
                };
                if conn.resume || (!conn.backlog.is_empty() && self.relay.wants_read(c)) {
                    self.resume(c);
                    moved = true;
                }
            }
            self.drain();
            self.check();
            if !moved {
                break;
            }
        }
    }

    fn finish(&mut self) {
        self.relay.finish(self.now);
        self.drain();
        assert!(self.relay.is_finished());
        assert!(self.conns.is_empty(), "every connection was closed");
        assert_eq!(self.relay.session_count(), 0);
        assert!(self.sessions.is_empty());
        let peer = SocketAddr::from(([127, 0, 0, 1], 39999));
        assert_eq!(
            self.relay.handle_accept(self.now, peer),
            Err(AcceptError::Shutdown)
        );
    }
}
