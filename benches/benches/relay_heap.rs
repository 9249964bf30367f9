//! Heap held by idle relayed sessions in `msrp-relay`, counted with dhat's allocator: 10,000
//! relay sessions (RFC 4976 AUTH grants) over 10 client connections, on the sans-IO
//! [`msrp_relay::Relay`] itself, with the clients' bytes written by hand and fed to it in
//! memory.
//!
//! The relay's heap is the process's heap here: nothing else runs (no event loop, no test
//! harness, no criterion), and the clients' side is a few buffers reused across steps. Heap
//! means the bytes of live allocations (what dhat counts: requested sizes, without the
//! allocator's own overhead); sockets and their kernel buffers are not on it: an I/O layer adds
//! its own per connection, and nothing per session.
//!
//! Steps, each ending when the relay's output has been taken (as a transport would write it),
//! its actions and events drained, and 1.5 s have passed on the relay's clock (its
//! `RelayConfig::buffer_release`, 1 s, lets quiet connections give back their receive buffers),
//! then a reading of the heap:
//!
//! 1. The relay alone.
//! 2. 10 connections accepted and set up, each with one session granted: the cost of a
//!    connection plus one session.
//! 3. 999 more AUTHs granted on each connection (the default limit is 1,000 per connection),
//!    10,000 sessions in all: the cost of an idle session.
//! 4. One SEND (100-byte body, no reports asked) from every session to a session on the next
//!    connection, both behind this relay, forwarded to its owner's connection: what a session
//!    that has just carried a message holds (printed, not judged).
//!
//! Printed: `ratio relay_idle_heap_2kib_over_per_session VALUE goal 1.00`, where VALUE is 2048
//! divided by the bytes per session of step 3 (at least 1 means within 2 KiB per idle relayed
//! session beyond its connections), and `info` lines with every step's figure. `cargo test
//! --benches` runs it small (2 connections × 5 sessions) as a check.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_benches::{is_bench_mode, print_info, print_ratio, seeded_random};
use msrp_relay::{Action, ConnectionId, Relay, RelayConfig};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// The relay's host and port, as its URIs carry them.
const HOST: &str = "relay.example.com";
const PORT: u16 = 2855;

fn heap() -> f64 {
    dhat::HeapStats::get().curr_bytes as f64
}

/// The relay and its clients' connections, with buffers reused across steps.
struct Bench {
    relay: Relay,
    now: Instant,
    connections: Vec<ConnectionId>,
    /// The URIs the relay granted, one after the other; allocated up front, before the first
    /// reading, so that the bench's own notes do not count as the relay's heap.
    uris: String,
    /// Per connection, where in `uris` the URIs granted to it are, in order; allocated up
    /// front too.
    granted: Vec<Vec<std::ops::Range<usize>>>,
    /// A frame being written.
    frame: String,
    /// Output taken from the relay.
    pieces: Vec<Bytes>,
    /// Output of one connection, as text, for the Use-Paths of the AUTH responses.
    text: Vec<u8>,
    next_tid: u64,
}

impl Bench {
    fn new(connections: usize, per_connection: usize) -> Self {
        let now = Instant::now();
        Self {
            relay: Relay::new(RelayConfig::new(HOST, PORT), seeded_random(11), now),
            now,
            connections: Vec::with_capacity(connections),
            uris: String::with_capacity(connections * per_connection * 96),
            granted: (0..connections)
                .map(|_| Vec::with_capacity(per_connection))
                .collect(),
            frame: String::with_capacity(1024),
            pieces: Vec::new(),
            text: Vec::new(),
            next_tid: 0,
        }
    }

    fn connect(&mut self, n: usize) {
        for i in 0..n {
            let peer: SocketAddr = format!("192.0.2.{}:{}", 1 + i % 250, 40000 + i)
                .parse()
                .expect("address");
            let c = self.relay.handle_accept(self.now, peer).expect("accept");
            self.relay.handle_established(self.now, c, peer, None);
            self.connections.push(c);
        }
    }

    /// Lets 1.5 s pass: quiet connections give back their buffers.
    fn settle(&mut self) {
        self.now += Duration::from_millis(1500);
        self.relay.handle_timeout(self.now);
        self.drain(false);
    }

    fn tid(&mut self) -> String {
        self.next_tid += 1;
        format!("t{:08x}", self.next_tid)
    }

    /// `count` AUTHs on connection `i`.
    fn auth(&mut self, i: usize, count: usize) {
        for _ in 0..count {
            let tid = self.tid();
            self.frame.clear();
            let _ = write!(
                self.frame,
                "MSRP {tid} AUTH\r\nTo-Path: msrp://{HOST}:{PORT};tcp\r\n\
                 From-Path: msrp://client{i}.example.com:7000/{tid};tcp\r\n-------{tid}$\r\n"
            );
            self.relay
                .handle_input(self.now, self.connections[i], self.frame.as_bytes());
        }
        self.drain(true);
    }

    /// A SEND from the `k`th session of connection `i` to the `k`th of connection `j`.
    fn send(&mut self, i: usize, j: usize, k: usize) {
        let tid = self.tid();
        let body = [b'm'; 100];
        self.frame.clear();
        let _ = write!(
            self.frame,
            "MSRP {tid} SEND\r\nTo-Path: {} {} msrp://client{j}.example.com:7000/peer;tcp\r\n\
             From-Path: msrp://client{i}.example.com:7000/{k};tcp\r\n\
             Message-ID: m{tid}\r\nByte-Range: 1-100/100\r\nFailure-Report: no\r\n\
             Content-Type: text/plain\r\n\r\n{}\r\n-------{tid}$\r\n",
            &self.uris[self.granted[i][k].clone()],
            &self.uris[self.granted[j][k].clone()],
            std::str::from_utf8(&body).expect("text"),
        );
        self.relay
            .handle_input(self.now, self.connections[i], self.frame.as_bytes());
    }

    /// Takes every connection's output, as a transport would write it, and the actions and
    /// events; with `uris`, notes the URIs granted by the Use-Paths of AUTH responses.
    fn drain(&mut self, uris: bool) {
        loop {
            let mut resumed = false;
            while let Some(action) = self.relay.poll_action() {
                // Input stopped while a next hop's output was full goes on once it is taken.
                if let Action::Resume(c) = action {
                    self.relay.resume(self.now, c);
                    resumed = true;
                }
            }
            while self.relay.poll_event().is_some() {}
            let mut wrote = false;
            for (i, &c) in self.connections.iter().enumerate() {
                while self.relay.wants_write(c) {
                    wrote = true;
                    self.relay
                        .poll_transmit(self.now, c, 1 << 20, &mut self.pieces);
                    if uris {
                        for piece in self.pieces.drain(..) {
                            self.text.extend_from_slice(&piece);
                        }
                    } else {
                        self.pieces.clear();
                    }
                }
                if uris {
                    let text = std::str::from_utf8(&self.text).expect("relay output is text");
                    for line in text.split("\r\n") {
                        if let Some(uri) = line.strip_prefix("Use-Path: ") {
                            let start = self.uris.len();
                            self.uris.push_str(uri);
                            self.granted[i].push(start..self.uris.len());
                        }
                    }
                    self.text.clear();
                }
            }
            if !resumed && !wrote {
                break;
            }
        }
        self.text.shrink_to_fit();
        self.pieces.shrink_to_fit();
    }
}

fn main() {
    let check = !is_bench_mode();
    let (connections, per_connection) = if check { (2, 5) } else { (10, 1000) };
    let _profiler = dhat::Profiler::builder().testing().build();
    let started = Instant::now();
    let mut bench = Bench::new(connections, per_connection);
    let uris_capacity = bench.uris.capacity();
    let alone = heap();

    bench.connect(connections);
    for i in 0..connections {
        bench.auth(i, 1);
    }
    bench.settle();
    let one_each = heap();

    for i in 0..connections {
        bench.auth(i, per_connection - 1);
    }
    bench.settle();
    let idle = heap();
    let sessions = connections * per_connection;
    assert_eq!(bench.relay.session_count(), sessions, "every AUTH granted");
    for granted in &bench.granted {
        assert_eq!(granted.len(), per_connection, "a Use-Path per AUTH");
    }
    assert!(
        bench.uris.capacity() == uris_capacity
            && bench.granted.iter().all(|g| g.capacity() == per_connection),
        "the bench's notes stayed in what they were given up front"
    );
    let per_session = (idle - one_each) / (sessions - connections) as f64;
    let per_connection_heap = (one_each - alone) / connections as f64 - per_session;

    for i in 0..connections {
        for k in 0..per_connection {
            bench.send(i, (i + 1) % connections, k);
        }
        bench.drain(false);
    }
    let forwarded = bench.relay.stats().forwarded;
    assert_eq!(forwarded, sessions as u64, "every SEND forwarded");
    bench.settle();
    let used = heap();
    let per_used_session = (used - one_each) / (sessions - connections) as f64;

    if check {
        println!(
            "relay heap: checked ({sessions} sessions, {per_session:.0} bytes each when idle)"
        );
        return;
    }
    print_ratio(
        "relay_idle_heap_2kib_over_per_session",
        2048.0 / per_session,
        1.0,
    );
    print_info("relay_idle_heap.per_session", per_session, "bytes");
    print_info(
        "relay_idle_heap.per_connection",
        per_connection_heap,
        "bytes",
    );
    print_info("relay_idle_heap.relay_alone", alone, "bytes");
    print_info("relay_idle_heap.10k_sessions_total", idle - alone, "bytes");
    print_info(
        "relay_idle_heap.per_session_after_a_message",
        per_used_session,
        "bytes",
    );
    print_info(
        "relay_idle_heap.bench_time",
        started.elapsed().as_secs_f64(),
        "s",
    );
}
