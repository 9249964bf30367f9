//! A deterministic network of sans-IO endpoints: each node listens on an address, connections
//! are pairs of in-memory pipes, name lookups come from a table, and time only moves when a
//! test moves it. What the endpoints ask for (connect, transmit, close) is done at once, unless
//! a test says otherwise (an address that never answers).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_session::{
    Action, ConnectionError, ConnectionId, Endpoint, EndpointConfig, EndpointEvent, PeerCheck,
    matches_fingerprint,
};

/// One endpoint of the network, and what it has told its application.
pub struct Node {
    pub endpoint: Endpoint,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The certificate it shows on TLS connections, as server and as client.
    pub certificate: Vec<u8>,
    /// Events not yet taken by the test.
    pub events: Vec<EndpointEvent>,
    /// Connections it was told to close.
    pub closed: Vec<ConnectionId>,
    /// How many times it asked to connect.
    pub connects: usize,
}

/// Both ends of a connection: (node, connection) pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub client: (usize, ConnectionId),
    pub server: (usize, ConnectionId),
}

/// A connection one node asked for that no one has answered yet.
pub struct Pending {
    pub node: usize,
    pub connection: ConnectionId,
}

pub struct Net {
    pub now: Instant,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    /// Host names and their addresses.
    pub hosts: HashMap<String, SocketAddr>,
    /// Addresses whose connections never complete (a silent host).
    pub silent: HashSet<SocketAddr>,
    /// Connections asked for towards silent addresses.
    pub pending: Vec<Pending>,
    /// Nodes whose processes are stopped: they neither read nor write.
    pub frozen: HashSet<usize>,
    /// The port the next client connection comes from.
    next_port: u16,
    pieces: Vec<Bytes>,
}

impl Net {
    pub fn new() -> Self {
        Self {
            now: Instant::now(),
            nodes: Vec::new(),
            links: Vec::new(),
            hosts: HashMap::new(),
            silent: HashSet::new(),
            pending: Vec::new(),
            frozen: HashSet::new(),
            next_port: 40000,
            pieces: Vec::new(),
        }
    }

    /// Adds an endpoint listening on `addr`; returns its index.
    pub fn node(&mut self, addr: &str, config: EndpointConfig) -> usize {
        let addr: SocketAddr = addr.parse().unwrap();
        self.nodes.push(Node {
            endpoint: Endpoint::new(config),
            addr,
            certificate: format!("certificate of {addr}").into_bytes(),
            events: Vec::new(),
            closed: Vec::new(),
            connects: 0,
        });
        self.nodes.len() - 1
    }

    pub fn ep(&mut self, node: usize) -> &mut Endpoint {
        &mut self.nodes[node].endpoint
    }

    /// Moves time on, firing what is due, and runs the network until it is quiet.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        for (n, node) in self.nodes.iter_mut().enumerate() {
            if !self.frozen.contains(&n) {
                node.endpoint.handle_timeout(now);
            }
        }
        self.run();
    }

    /// Does what the endpoints ask and moves bytes until nothing moves.
    pub fn run(&mut self) {
        for _ in 0..10_000 {
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
            while let Some(event) = node.endpoint.poll_event() {
                node.events.push(event);
            }
        }
    }

    /// Carries out the endpoints' actions; `true` when there were any.
    fn actions(&mut self) -> bool {
        let mut any = false;
        for i in 0..self.nodes.len() {
            while let Some(action) = self.nodes[i].endpoint.poll_action() {
                any = true;
                match action {
                    Action::Connect { connection, target } => {
                        self.nodes[i].connects += 1;
                        let addr = target.addr.or_else(|| {
                            let (host, port) = target.host_port()?;
                            let mut addr = *self.hosts.get(host)?;
                            addr.set_port(port);
                            Some(addr)
                        });
                        self.connect(i, connection, addr, target.tls);
                    }
                    Action::Transmit(_) => {}
                    Action::Close(connection) => {
                        self.nodes[i].closed.push(connection);
                        self.hang_up((i, connection));
                    }
                    other => panic!("unexpected action {other:?}"),
                }
            }
        }
        any
    }

    fn connect(
        &mut self,
        client: usize,
        connection: ConnectionId,
        addr: Option<SocketAddr>,
        tls: Option<PeerCheck>,
    ) {
        let now = self.now;
        let Some(addr) = addr else {
            self.nodes[client].endpoint.handle_lost(now, connection);
            return;
        };
        if self.silent.contains(&addr) {
            self.pending.push(Pending {
                node: client,
                connection,
            });
            return;
        }
        let Some(server) = self.nodes.iter().position(|n| n.addr == addr) else {
            // Connection refused.
            self.nodes[client].endpoint.handle_lost(now, connection);
            return;
        };
        if let Some(PeerCheck::Fingerprints(expected)) = &tls {
            // The client's TLS check of the server's certificate.
            if !matches_fingerprint(&self.nodes[server].certificate, expected) {
                self.nodes[client].endpoint.handle_lost(now, connection);
                return;
            }
        }
        let from = SocketAddr::new(self.nodes[client].addr.ip(), self.next_port);
        self.next_port += 1;
        let Ok(accepted) = self.nodes[server].endpoint.handle_accept(now, from) else {
            self.nodes[client].endpoint.handle_lost(now, connection);
            return;
        };
        let (client_cert, server_cert) = match tls {
            Some(_) => (
                Some(self.nodes[client].certificate.clone()),
                Some(self.nodes[server].certificate.clone()),
            ),
            None => (None, None),
        };
        self.nodes[server]
            .endpoint
            .handle_established(now, accepted, from, client_cert.as_deref());
        self.nodes[client].endpoint.handle_established(
            now,
            connection,
            addr,
            server_cert.as_deref(),
        );
        self.links.push(Link {
            client: (client, connection),
            server: (server, accepted),
        });
    }

    /// Accepts a connection from nowhere (the test writes and reads its bytes by hand) and
    /// returns its id at `server`.
    pub fn accept_raw(&mut self, server: usize, certificate: Option<&[u8]>) -> ConnectionId {
        let now = self.now;
        let from: SocketAddr = format!("192.0.2.1:{}", self.next_port).parse().unwrap();
        self.next_port += 1;
        let ep = &mut self.nodes[server].endpoint;
        let connection = ep.handle_accept(now, from).unwrap();
        ep.handle_established(now, connection, from, certificate);
        connection
    }

    /// Output a node has for a connection, as bytes.
    pub fn output(&mut self, node: usize, connection: ConnectionId) -> Vec<u8> {
        let now = self.now;
        let mut pieces = Vec::new();
        self.nodes[node]
            .endpoint
            .poll_transmit(now, connection, usize::MAX, &mut pieces);
        pieces.concat()
    }

    /// One end of a link is gone: the other end loses its connection.
    fn hang_up(&mut self, end: (usize, ConnectionId)) {
        let now = self.now;
        if let Some(at) = self
            .links
            .iter()
            .position(|l| l.client == end || l.server == end)
        {
            let link = self.links.remove(at);
            let other = if link.client == end {
                link.server
            } else {
                link.client
            };
            self.nodes[other.0].endpoint.handle_lost(now, other.1);
        }
        self.pending.retain(|p| (p.node, p.connection) != end);
    }

    /// Breaks a link, as a reset would: both ends lose it.
    pub fn cut(&mut self, link: Link) {
        let now = self.now;
        self.links.retain(|l| *l != link);
        self.nodes[link.client.0]
            .endpoint
            .handle_lost(now, link.client.1);
        self.nodes[link.server.0]
            .endpoint
            .handle_lost(now, link.server.1);
        self.run();
    }

    /// Moves what every link carries, both ways; returns the bytes moved.
    fn transfer(&mut self) -> usize {
        let now = self.now;
        let mut moved = 0;
        for link in self.links.clone() {
            for (from, to) in [(link.client, link.server), (link.server, link.client)] {
                if self.frozen.contains(&from.0) || self.frozen.contains(&to.0) {
                    continue;
                }
                let mut pieces = core::mem::take(&mut self.pieces);
                moved +=
                    self.nodes[from.0]
                        .endpoint
                        .poll_transmit(now, from.1, usize::MAX, &mut pieces);
                for piece in pieces.drain(..) {
                    self.nodes[to.0].endpoint.handle_input(now, to.1, &piece);
                }
                self.pieces = pieces;
            }
        }
        moved
    }

    /// Takes the events a node has told so far.
    pub fn events(&mut self, node: usize) -> Vec<EndpointEvent> {
        self.collect();
        core::mem::take(&mut self.nodes[node].events)
    }
}

/// The error of the first `ConnectionClosed` among events.
pub fn closed_error(events: &[EndpointEvent]) -> Option<&ConnectionError> {
    events.iter().find_map(|e| match e {
        EndpointEvent::ConnectionClosed { error, .. } => Some(error),
        _ => None,
    })
}
