//! A deterministic harness: two connections joined by in-memory pipes, with simulated time,
//! random read splits and random write budgets (after quinn-proto's `Pair`).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_session::{
    Connection, ConnectionConfig, ConnectionEvent, Event, IncomingKey, MessageHandle, Outcome,
    Session, SessionConfig, SessionKey,
};
use msrp_wire::{Decoder, Flag, Frame, HeadWriter, TransactionId, end_line};

/// A small deterministic generator (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.fill(&mut v);
        v
    }
}

pub const ALICE: &str = "msrp://alice.example.com:7654/iau39soe2843z;tcp";
pub const BOB: &str = "msrp://bob.example.com:8888/9di4eae923wzd;tcp";

/// A SEND chunk as a peer writes it, by hand: from Alice to Bob unless told otherwise.
#[derive(Clone, Copy, Debug)]
pub struct RawChunk<'a> {
    pub to: &'a str,
    pub from: &'a str,
    pub tid: &'a str,
    pub message_id: &'a str,
    /// Where the body starts in the message, from zero.
    pub offset: usize,
    /// The total its Byte-Range announces, `*` when `None`.
    pub total: Option<usize>,
    pub flag: Flag,
    /// Whether the Byte-Range states its range-end rather than `*`.
    pub stated_end: bool,
    /// A Failure-Report header, when there is one.
    pub failure_report: Option<&'a str>,
}

impl<'a> RawChunk<'a> {
    /// A chunk of message `message_id` at offset zero, ending the message, with no total.
    pub fn new(tid: &'a str, message_id: &'a str) -> Self {
        Self {
            to: BOB,
            from: ALICE,
            tid,
            message_id,
            offset: 0,
            total: None,
            flag: Flag::End,
            stated_end: false,
            failure_report: None,
        }
    }

    /// The chunk's bytes, carrying `body`.
    pub fn encode(&self, body: &[u8]) -> Vec<u8> {
        let tid = TransactionId::new(self.tid).unwrap();
        let mut out = Vec::new();
        let mut w = HeadWriter::request(&mut out, &tid, "SEND").unwrap();
        let end = if self.stated_end {
            (self.offset + body.len()).to_string()
        } else {
            "*".into()
        };
        let total = self.total.map_or("*".to_owned(), |t| t.to_string());
        w.header("To-Path", self.to).unwrap();
        w.header("From-Path", self.from).unwrap();
        w.header("Message-ID", self.message_id).unwrap();
        if let Some(mode) = self.failure_report {
            w.header("Failure-Report", mode).unwrap();
        }
        w.header("Byte-Range", &format!("{}-{end}/{total}", self.offset + 1))
            .unwrap();
        w.header("Content-Type", "application/octet-stream")
            .unwrap();
        w.body_follows().unwrap();
        out.extend_from_slice(body);
        end_line(&mut out, &tid, self.flag);
        out
    }
}

/// The frames in bytes a side wrote.
pub fn frames(bytes: &[u8]) -> Vec<Frame> {
    let mut decoder = Decoder::new();
    decoder.push(bytes);
    std::iter::from_fn(|| decoder.decode().unwrap()).collect()
}

pub fn config(local: &str, peer: &str, seed: u64) -> SessionConfig {
    let mut rng = Rng::new(seed);
    SessionConfig::new(
        local.parse().unwrap(),
        peer.parse().unwrap(),
        move |buf: &mut [u8]| rng.fill(buf),
    )
}

/// What one side has seen.
#[derive(Debug, Default)]
pub struct Seen {
    /// Messages received whole or reassembled, in completion order: (Message-ID, body).
    pub received: Vec<(String, Vec<u8>)>,
    /// Messages given up: (Message-ID, reason).
    pub given_up: Vec<(String, msrp_session::IncomingFailure)>,
    pub outcomes: Vec<Outcome>,
    pub failures: Vec<msrp_session::SessionFailure>,
    pub unknown_sessions: Vec<String>,
    pub connection_failed: Vec<msrp_session::SessionFailure>,
    /// Messages being reassembled: key -> (Message-ID, bytes by offset).
    open: HashMap<IncomingKey, (String, BTreeMap<u64, Bytes>)>,
    pub starts: usize,
    /// Messages delivered whole, and data events.
    pub whole: usize,
    pub data_events: usize,
}

impl Seen {
    pub fn take(&mut self, event: ConnectionEvent) {
        match event {
            ConnectionEvent::Session(_, e) => match e {
                Event::Message(m) => {
                    self.whole += 1;
                    self.received
                        .push((m.message_id.to_string(), m.body.to_vec()));
                }
                Event::MessageStart(s) => {
                    self.starts += 1;
                    self.open
                        .insert(s.key, (s.message_id.to_string(), BTreeMap::new()));
                }
                Event::MessageData(d) => {
                    self.data_events += 1;
                    let (_, parts) = self.open.get_mut(&d.key).expect("data after start");
                    parts.insert(d.offset, d.data);
                }
                Event::MessageEnd(end) => {
                    let (id, parts) = self.open.remove(&end.key).expect("end after start");
                    match end.result {
                        Ok(size) => {
                            let mut body = vec![0u8; size as usize];
                            for (offset, data) in parts {
                                let o = offset as usize;
                                let n = data.len().min(size as usize - o.min(size as usize));
                                body[o..o + n].copy_from_slice(&data[..n]);
                            }
                            self.received.push((id, body));
                        }
                        Err(why) => self.given_up.push((id, why)),
                    }
                }
                Event::Outcome(o) => self.outcomes.push(o),
                Event::SessionFailed(f) => self.failures.push(f),
                _ => {}
            },
            ConnectionEvent::UnknownSession { session_id, .. } => {
                self.unknown_sessions.push(session_id)
            }
            ConnectionEvent::Failed(f) => self.connection_failed.push(f),
            _ => {}
        }
    }

    pub fn outcome(&self, handle: MessageHandle) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.handle == handle)
    }
}

/// One side: a connection, its session keys, and what it has seen.
pub struct Side {
    pub conn: Connection,
    pub keys: Vec<SessionKey>,
    pub seen: Seen,
}

impl Side {
    pub fn new(sessions: Vec<SessionConfig>) -> Self {
        let mut conn = Connection::new(ConnectionConfig::default());
        let keys = sessions
            .into_iter()
            .map(|c| conn.insert_session(Session::new(c).unwrap()).unwrap())
            .collect();
        Self {
            conn,
            keys,
            seen: Seen::default(),
        }
    }

    pub fn key(&self) -> SessionKey {
        self.keys[0]
    }

    pub fn drain_events_for_test(&mut self) {
        self.drain_events();
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.conn.poll_event() {
            self.seen.take(e);
        }
    }
}

/// Two sides and the pipes between them.
pub struct Pair {
    pub a: Side,
    pub b: Side,
    pub now: Instant,
    pub rng: Rng,
    /// Bytes written by a, not yet read by b; and the other way.
    pub a_to_b: VecDeque<u8>,
    pub b_to_a: VecDeque<u8>,
    /// Largest write budget per poll and largest read per input, or 0 for unbounded.
    pub max_write: usize,
    pub max_read: usize,
    /// Whether bytes from a reach b (false: a's output is dropped, as by a dead peer).
    pub a_connected: bool,
    pub b_connected: bool,
    /// Total bytes moved each way.
    pub moved: (u64, u64),
}

impl Pair {
    pub fn new(a: Side, b: Side, seed: u64) -> Self {
        Self {
            a,
            b,
            now: Instant::now(),
            rng: Rng::new(seed),
            a_to_b: VecDeque::new(),
            b_to_a: VecDeque::new(),
            max_write: 0,
            max_read: 0,
            a_connected: true,
            b_connected: true,
            moved: (0, 0),
        }
    }

    /// Alice (client) and Bob (server), one session each.
    pub fn alice_bob(seed: u64) -> Self {
        Self::new(
            Side::new(vec![config(ALICE, BOB, seed)]),
            Side::new(vec![config(BOB, ALICE, seed ^ 0xB0B)]),
            seed,
        )
    }

    fn budget(&mut self, max: usize) -> usize {
        if max == 0 {
            usize::MAX
        } else {
            1 + self.rng.below(max as u64) as usize
        }
    }

    fn write_side(
        conn: &mut Connection,
        now: Instant,
        budget: usize,
        pipe: &mut VecDeque<u8>,
        deliver: bool,
    ) -> usize {
        let mut pieces = Vec::new();
        let n = conn.poll_transmit_vectored(now, budget, &mut pieces);
        if deliver {
            for p in pieces {
                pipe.extend(p.iter());
            }
        }
        n
    }

    fn read_side(
        conn: &mut Connection,
        now: Instant,
        max: usize,
        pipe: &mut VecDeque<u8>,
    ) -> usize {
        if pipe.is_empty() || !conn.wants_read() {
            return 0;
        }
        let n = max.min(pipe.len());
        let data: Vec<u8> = pipe.drain(..n).collect();
        conn.handle_input(now, &data);
        n
    }

    /// One round: each side writes a random budget and reads a random amount.
    pub fn step(&mut self) -> bool {
        let wa = self.budget(self.max_write);
        let wb = self.budget(self.max_write);
        let ra = self.budget(self.max_read);
        let rb = self.budget(self.max_read);
        let now = self.now;
        let sent_a = Self::write_side(
            &mut self.a.conn,
            now,
            wa,
            &mut self.a_to_b,
            self.a_connected,
        );
        let sent_b = Self::write_side(
            &mut self.b.conn,
            now,
            wb,
            &mut self.b_to_a,
            self.b_connected,
        );
        let read_b = Self::read_side(&mut self.b.conn, now, rb, &mut self.a_to_b);
        let read_a = Self::read_side(&mut self.a.conn, now, ra, &mut self.b_to_a);
        self.moved.0 += read_b as u64;
        self.moved.1 += read_a as u64;
        self.a.drain_events();
        self.b.drain_events();
        sent_a + sent_b + read_a + read_b > 0
    }

    /// One round that hands the raw events back instead of recording them: `('a', events)`
    /// and `('b', events)`.
    pub fn step_raw(&mut self) -> Vec<(char, Vec<ConnectionEvent>)> {
        let now = self.now;
        let wa = self.budget(self.max_write);
        let wb = self.budget(self.max_write);
        Self::write_side(
            &mut self.a.conn,
            now,
            wa,
            &mut self.a_to_b,
            self.a_connected,
        );
        Self::write_side(
            &mut self.b.conn,
            now,
            wb,
            &mut self.b_to_a,
            self.b_connected,
        );
        let rb = self.budget(self.max_read);
        let ra = self.budget(self.max_read);
        self.moved.0 += Self::read_side(&mut self.b.conn, now, rb, &mut self.a_to_b) as u64;
        self.moved.1 += Self::read_side(&mut self.a.conn, now, ra, &mut self.b_to_a) as u64;
        let a: Vec<_> = std::iter::from_fn(|| self.a.conn.poll_event()).collect();
        let b: Vec<_> = std::iter::from_fn(|| self.b.conn.poll_event()).collect();
        vec![('a', a), ('b', b)]
    }

    /// Runs rounds until nothing moves (bounded, so a livelock fails the test).
    pub fn drive(&mut self) {
        for _ in 0..10_000_000 {
            if !self.step() && !self.step() {
                return;
            }
        }
        panic!("the pair never became quiet");
    }

    /// Moves simulated time forward and fires timers on both sides.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        self.a.conn.handle_timeout(now);
        self.b.conn.handle_timeout(now);
        self.a.drain_events();
        self.b.drain_events();
    }

    /// Closes the connection on both sides.
    pub fn break_connection(&mut self) {
        let now = self.now;
        self.a.conn.handle_close(now);
        self.b.conn.handle_close(now);
        self.a_to_b.clear();
        self.b_to_a.clear();
        self.a.drain_events();
        self.b.drain_events();
    }
}
