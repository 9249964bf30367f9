//! A deterministic network of sans-IO MSRP nodes, endpoints (msrp-session) and relays: each
//! listens on an address, a connection is a pair of bounded in-memory pipes, and time only
//! moves when a test moves it. A node can be frozen (it reads nothing, like a stopped
//! process), so that what is sent to it piles up in its pipe.

#![allow(dead_code)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_relay::{Relay, RelayConfig, RelayEvent};
use msrp_session::{Endpoint, EndpointConfig, EndpointEvent};

/// Bytes a pipe holds, like a socket's buffers.
pub const PIPE: usize = 64 << 10;

pub enum Engine {
    Endpoint(Box<Endpoint>),
    Relay(Box<Relay>),
}

/// A connection id of either kind, as the network knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Conn {
    Endpoint(msrp_session::ConnectionId),
    Relay(msrp_relay::ConnectionId),
}

pub struct Node {
    pub engine: Engine,
    pub addr: SocketAddr,
    pub endpoint_events: Vec<EndpointEvent>,
    pub relay_events: Vec<RelayEvent>,
    /// Connections it asked to open.
    pub connects: usize,
    /// The TLS certificate it shows when it connects, if any.
    pub certificate: Option<Vec<u8>>,
}

/// One direction of a connection: bytes written and not yet read.
#[derive(Default)]
struct Pipe {
    bytes: Vec<u8>,
}

pub struct Link {
    pub a: (usize, Conn),
    pub b: (usize, Conn),
    a_to_b: Pipe,
    b_to_a: Pipe,
}

pub struct Net {
    pub now: Instant,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    /// Nodes that read nothing.
    pub frozen: HashSet<usize>,
    /// Addresses whose connections are refused.
    pub unreachable: HashSet<SocketAddr>,
    next_port: u16,
    pieces: Vec<Bytes>,
}

/// A random source for tests: a counter mixed up.
pub fn random(seed: u64) -> impl FnMut(&mut [u8]) + Send + 'static {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    move |buf: &mut [u8]| {
        for b in buf {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
    }
}

impl Engine {
    fn accept(&mut self, now: Instant, peer: SocketAddr) -> Option<Conn> {
        match self {
            Engine::Endpoint(e) => e.handle_accept(now, peer).ok().map(Conn::Endpoint),
            Engine::Relay(r) => r.handle_accept(now, peer).ok().map(Conn::Relay),
        }
    }

    fn established(&mut self, now: Instant, c: Conn, peer: SocketAddr, cert: Option<&[u8]>) {
        match (self, c) {
            (Engine::Endpoint(e), Conn::Endpoint(c)) => e.handle_established(now, c, peer, cert),
            (Engine::Relay(r), Conn::Relay(c)) => r.handle_established(now, c, peer, cert),
            _ => {}
        }
    }

    fn lost(&mut self, now: Instant, c: Conn) {
        match (self, c) {
            (Engine::Endpoint(e), Conn::Endpoint(c)) => e.handle_lost(now, c),
            (Engine::Relay(r), Conn::Relay(c)) => r.handle_lost(now, c),
            _ => {}
        }
    }

    fn wants_read(&self, c: Conn) -> bool {
        match (self, c) {
            (Engine::Endpoint(e), Conn::Endpoint(c)) => e.wants_read(c),
            (Engine::Relay(r), Conn::Relay(c)) => r.wants_read(c),
            _ => false,
        }
    }

    fn input(&mut self, now: Instant, c: Conn, data: &[u8]) {
        match (self, c) {
            (Engine::Endpoint(e), Conn::Endpoint(c)) => e.handle_input(now, c, data),
            (Engine::Relay(r), Conn::Relay(c)) => r.handle_input(now, c, data),
            _ => {}
        }
    }

    fn resume(&mut self, now: Instant, c: Conn) {
        match (self, c) {
            (Engine::Endpoint(e), Conn::Endpoint(c)) => e.resume(now, c),
            (Engine::Relay(r), Conn::Relay(c)) => r.resume(now, c),
            _ => {}
        }
    }

    fn transmit(&mut self, now: Instant, c: Conn, max: usize, out: &mut Vec<Bytes>) -> usize {
        match (self, c) {
            (Engine::Endpoint(e), Conn::Endpoint(c)) => e.poll_transmit(now, c, max, out),
            (Engine::Relay(r), Conn::Relay(c)) => r.poll_transmit(now, c, max, out),
            _ => 0,
        }
    }

    fn timeout(&mut self, now: Instant) {
        match self {
            Engine::Endpoint(e) => e.handle_timeout(now),
            Engine::Relay(r) => r.handle_timeout(now),
        }
    }
}

/// What a node asks the network for.
enum Ask {
    Connect(Conn, Option<SocketAddr>),
    Close(Conn),
}

impl Net {
    pub fn new() -> Self {
        Self {
            now: Instant::now(),
            nodes: Vec::new(),
            links: Vec::new(),
            frozen: HashSet::new(),
            unreachable: HashSet::new(),
            next_port: 40000,
            pieces: Vec::new(),
        }
    }

    fn add(&mut self, addr: &str, engine: Engine) -> usize {
        self.nodes.push(Node {
            engine,
            addr: addr.parse().unwrap(),
            endpoint_events: Vec::new(),
            relay_events: Vec::new(),
            connects: 0,
            certificate: None,
        });
        self.nodes.len() - 1
    }

    /// Adds an endpoint listening on `addr`.
    pub fn endpoint(&mut self, addr: &str) -> usize {
        let engine = Engine::Endpoint(Box::new(Endpoint::new(EndpointConfig::default())));
        self.add(addr, engine)
    }

    /// Adds a relay listening on `addr`, with this configuration.
    pub fn relay(&mut self, addr: &str, config: RelayConfig, seed: u64) -> usize {
        let now = self.now;
        let engine = Engine::Relay(Box::new(Relay::new(config, random(seed), now)));
        self.add(addr, engine)
    }

    pub fn ep(&mut self, node: usize) -> &mut Endpoint {
        match &mut self.nodes[node].engine {
            Engine::Endpoint(e) => e,
            Engine::Relay(_) => panic!("node {node} is a relay"),
        }
    }

    pub fn rl(&mut self, node: usize) -> &mut Relay {
        match &mut self.nodes[node].engine {
            Engine::Relay(r) => r,
            Engine::Endpoint(_) => panic!("node {node} is an endpoint"),
        }
    }

    /// Moves time on, firing what is due, and runs the network until it is quiet.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        for (n, node) in self.nodes.iter_mut().enumerate() {
            // A stopped process runs no timers either.
            if !self.frozen.contains(&n) {
                node.engine.timeout(now);
            }
        }
        self.run();
    }

    /// Does what the nodes ask and moves bytes until nothing moves.
    pub fn run(&mut self) {
        for _ in 0..100_000 {
            let acted = self.actions();
            let moved = self.transfer();
            if !acted && moved == 0 {
                self.collect();
                return;
            }
        }
        panic!("the network did not settle");
    }

    fn collect(&mut self) {
        for node in &mut self.nodes {
            match &mut node.engine {
                Engine::Endpoint(e) => {
                    while let Some(event) = e.poll_event() {
                        node.endpoint_events.push(event);
                    }
                }
                Engine::Relay(r) => {
                    while let Some(event) = r.poll_event() {
                        node.relay_events.push(event);
                    }
                }
            }
        }
    }

    fn actions(&mut self) -> bool {
        let mut any = false;
        for i in 0..self.nodes.len() {
            loop {
                let ask = match &mut self.nodes[i].engine {
                    Engine::Endpoint(e) => match e.poll_action() {
                        None => break,
                        Some(msrp_session::Action::Connect { connection, target }) => {
                            Some(Ask::Connect(Conn::Endpoint(connection), target.addr))
                        }
                        Some(msrp_session::Action::Close(c)) => Some(Ask::Close(Conn::Endpoint(c))),
                        Some(_) => None,
                    },
                    Engine::Relay(r) => match r.poll_action() {
                        None => break,
                        Some(msrp_relay::Action::Connect { connection, target }) => {
                            Some(Ask::Connect(Conn::Relay(connection), target.addr))
                        }
                        Some(msrp_relay::Action::Close(c)) => Some(Ask::Close(Conn::Relay(c))),
                        Some(_) => None,
                    },
                };
                any = true;
                match ask {
                    Some(Ask::Connect(c, addr)) => {
                        self.nodes[i].connects += 1;
                        self.connect(i, c, addr);
                    }
                    Some(Ask::Close(c)) => self.hang_up((i, c)),
                    None => {}
                }
            }
        }
        any
    }

    fn connect(&mut self, client: usize, c: Conn, addr: Option<SocketAddr>) {
        let now = self.now;
        let server = addr
            .filter(|a| !self.unreachable.contains(a))
            .and_then(|a| self.nodes.iter().position(|n| n.addr == a));
        let Some(server) = server else {
            self.nodes[client].engine.lost(now, c);
            return;
        };
        let from = SocketAddr::new(self.nodes[client].addr.ip(), self.next_port);
        self.next_port += 1;
        let Some(accepted) = self.nodes[server].engine.accept(now, from) else {
            self.nodes[client].engine.lost(now, c);
            return;
        };
        let to = self.nodes[server].addr;
        let certificate = self.nodes[client].certificate.clone();
        self.nodes[server]
            .engine
            .established(now, accepted, from, certificate.as_deref());
        self.nodes[client].engine.established(now, c, to, None);
        self.links.push(Link {
            a: (client, c),
            b: (server, accepted),
            a_to_b: Pipe::default(),
            b_to_a: Pipe::default(),
        });
    }

    fn hang_up(&mut self, end: (usize, Conn)) {
        let now = self.now;
        if let Some(at) = self.links.iter().position(|l| l.a == end || l.b == end) {
            let link = self.links.remove(at);
            let other = if link.a == end { link.b } else { link.a };
            self.nodes[other.0].engine.lost(now, other.1);
        }
    }

    /// Moves bytes: output into pipes (as far as they have room), pipes into readers (as far
    /// as they read). Returns the bytes moved.
    fn transfer(&mut self) -> usize {
        let now = self.now;
        let mut moved = 0;
        for index in 0..self.links.len() {
            for forward in [true, false] {
                let link = &mut self.links[index];
                let (from, to, pipe) = if forward {
                    (link.a, link.b, &mut link.a_to_b)
                } else {
                    (link.b, link.a, &mut link.b_to_a)
                };
                let room = PIPE.saturating_sub(pipe.bytes.len());
                let mut pieces = core::mem::take(&mut self.pieces);
                if room > 0 {
                    moved += self.nodes[from.0]
                        .engine
                        .transmit(now, from.1, room, &mut pieces);
                }
                let link = &mut self.links[index];
                let pipe = if forward {
                    &mut link.a_to_b
                } else {
                    &mut link.b_to_a
                };
                for piece in pieces.drain(..) {
                    pipe.bytes.extend_from_slice(&piece);
                }
                self.pieces = pieces;
                if self.frozen.contains(&to.0) || pipe.bytes.is_empty() {
                    continue;
                }
                let engine = &mut self.nodes[to.0].engine;
                engine.resume(now, to.1);
                if engine.wants_read(to.1) {
                    let data = core::mem::take(&mut pipe.bytes);
                    moved += data.len();
                    engine.input(now, to.1, &data);
                }
            }
        }
        moved
    }

    /// Bytes waiting in the pipe toward `node` on its links.
    pub fn piled_up_toward(&self, node: usize) -> usize {
        self.links
            .iter()
            .map(|l| {
                let mut n = 0;
                if l.b.0 == node {
                    n += l.a_to_b.bytes.len();
                }
                if l.a.0 == node {
                    n += l.b_to_a.bytes.len();
                }
                n
            })
            .sum()
    }

    /// Takes the events an endpoint has told so far.
    pub fn endpoint_events(&mut self, node: usize) -> Vec<EndpointEvent> {
        self.collect();
        core::mem::take(&mut self.nodes[node].endpoint_events)
    }

    /// Takes the events a relay has told so far.
    pub fn relay_events(&mut self, node: usize) -> Vec<RelayEvent> {
        self.collect();
        core::mem::take(&mut self.nodes[node].relay_events)
    }

    /// Opens a raw connection to `server` (the test writes and reads its bytes by hand) and
    /// returns its id there.
    pub fn raw(&mut self, server: usize) -> Conn {
        let now = self.now;
        let from: SocketAddr = format!("192.0.2.1:{}", self.next_port).parse().unwrap();
        self.next_port += 1;
        let c = self.nodes[server].engine.accept(now, from).unwrap();
        self.nodes[server].engine.established(now, c, from, None);
        c
    }

    /// Writes bytes on a raw connection.
    pub fn write_raw(&mut self, server: usize, c: Conn, data: &[u8]) {
        let now = self.now;
        self.nodes[server].engine.input(now, c, data);
        self.run();
    }

    /// What a node has written on a raw connection.
    pub fn read_raw(&mut self, server: usize, c: Conn) -> String {
        let now = self.now;
        let mut pieces = Vec::new();
        self.nodes[server]
            .engine
            .transmit(now, c, usize::MAX, &mut pieces);
        String::from_utf8_lossy(&pieces.concat()).into_owned()
    }
}
