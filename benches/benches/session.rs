//! Benchmarks of the `msrp-session` engine in memory (no sockets, no threads): two
//! [`Connection`]s joined by the bench, each figure against a baseline measured in the same run.
//!
//! Criterion measures every subject and baseline for the report; then each figure is measured
//! again with the interleaved loop of [`msrp_benches::compare`] (or [`msrp_benches::measure`]
//! for a fixed goal) and printed as `ratio NAME VALUE goal GOAL` for `cargo xtask bench`, with
//! absolute figures as `info NAME VALUE UNIT` lines (GB/s is 10^9 bytes per second).
//! `MSRP_BENCH_QUICK=1` shortens everything and uses a 64 MiB message instead of 256 MiB.
//!
//! The pair: Alice's connection (the sender) and Bob's (the receiver), one session each,
//! created once and reused by every iteration. One pass moves bytes both ways:
//!
//! 1. Alice's `poll_transmit_vectored` with a budget of 256 KiB appends pieces (heads and
//!    end-lines written by the engine, body slices of the message's own `Bytes`);
//! 2. each piece goes to Bob's `handle_input`, which copies it into his decoder's buffer (the
//!    one copy a socket read would make) and processes it; Bob's events are drained;
//! 3. Bob's `poll_transmit_vectored` (his 200 responses) goes the same way into Alice's
//!    `handle_input`, and Alice's events are drained.
//!
//! What is measured, exactly:
//!
//! - `session_256mib_pair_vs_memcpy` (goal 0.5): bytes per second of one message whose
//!   256 MiB body (pseudo-random bytes, one `Bytes`) goes through the pair, from `send` until
//!   Bob has delivered the `MessageEnd` and Alice the delivered `Outcome` (Failure-Report
//!   `yes`, the default: one 200 for the message's one chunk). Bob's `MessageData` events carry
//!   slices of his receive buffer; they are checked to arrive in order and dropped, never
//!   copied. The baseline is `copy_from_slice` of the same 256 MiB into a preallocated,
//!   already written buffer. Quick: 64 MiB on both sides. The ratio can exceed 1: the pair
//!   copies each 256 KiB piece into a receive buffer that is reused while hot in cache, so its
//!   one pass over memory is a read, where memcpy also writes 256 MiB to memory.
//! - `session_small_messages_per_s_over_1M` (goal 1.00): messages per second of 100-byte text
//!   messages (Failure-Report `yes`, so each gets a 200), pipelined: a unit is a batch of 64
//!   `send`s, then passes until all 64 outcomes (and 64 received `Message` events) are in.
//!   There is no baseline to run: the goal is a fixed rate, 1 000 000 messages per second,
//!   and the printed value is the measured rate divided by it (median of the rounds).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode, Throughput};
use msrp_benches::{
    Settings, compare, is_bench_mode, is_quick, is_selected, measure, print_info, print_ratio,
    print_spread, random_body, seeded_random,
};
use msrp_session::{
    Connection, ConnectionConfig, ConnectionEvent, Event, OutgoingMessage, Session, SessionConfig,
    SessionKey,
};

/// Size of the large message (and of the copy it is compared with).
const BIG: usize = 256 << 20;
/// Size of the large message in quick mode.
const BIG_QUICK: usize = 64 << 20;
/// Size of the large message when the benches are only checked (`cargo test --benches`).
const BIG_CHECK: usize = 4 << 20;
/// Write budget of one `poll_transmit_vectored`, as the transport's default write buffer.
const BUDGET: usize = 256 << 10;
/// Messages per unit of the small-message benchmark.
const BATCH: usize = 64;
/// Body of the small messages.
static TEXT: [u8; 100] = [b'x'; 100];
/// Passes without any byte moving after which the pair is declared stuck.
const STUCK: u32 = 1000;

/// A measurement: does `iters` units of work and returns the time of the measured part.
type Measure<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// Alice and Bob in memory.
struct Pair {
    alice: Connection,
    bob: Connection,
    key: SessionKey,
    pieces: Vec<Bytes>,
}

/// What one pass saw.
#[derive(Default)]
struct Seen {
    moved: usize,
    /// Bytes of data events delivered in order, and of the current message.
    data: u64,
    ended: Option<u64>,
    messages: usize,
    outcomes: usize,
}

impl Pair {
    fn new() -> Self {
        let alice_uri = "msrp://alice.example.com:7654/iau39soe2843z;tcp";
        let bob_uri = "msrp://bob.example.com:8888/9di4eae923wzd;tcp";
        let config = |local: &str, peer: &str, seed| {
            SessionConfig::new(
                local.parse().expect("uri"),
                peer.parse().expect("uri"),
                seeded_random(seed),
            )
        };
        let mut alice = Connection::new(ConnectionConfig::default());
        let mut bob = Connection::new(ConnectionConfig::default());
        let key = alice
            .insert_session(Session::new(config(alice_uri, bob_uri, 1)).expect("session"))
            .expect("insert");
        bob.insert_session(Session::new(config(bob_uri, alice_uri, 2)).expect("session"))
            .expect("insert");
        Self {
            alice,
            bob,
            key,
            pieces: Vec::new(),
        }
    }

    /// One pass both ways; see the module documentation.
    fn pass(&mut self, now: Instant, seen: &mut Seen) {
        self.alice
            .poll_transmit_vectored(now, BUDGET, &mut self.pieces);
        for piece in self.pieces.drain(..) {
            assert!(self.bob.wants_read(), "the receiver stopped reading");
            seen.moved += piece.len();
            self.bob.handle_input(now, &piece);
            drop(piece);
            while let Some(event) = self.bob.poll_event() {
                match event {
                    ConnectionEvent::Session(_, Event::MessageStart(_)) => seen.data = 0,
                    ConnectionEvent::Session(_, Event::MessageData(d)) => {
                        assert_eq!(d.offset, seen.data, "data in order");
                        seen.data += d.data.len() as u64;
                        black_box(&d.data);
                    }
                    ConnectionEvent::Session(_, Event::MessageEnd(end)) => {
                        seen.ended = Some(end.result.expect("message complete"));
                    }
                    ConnectionEvent::Session(_, Event::Message(m)) => {
                        black_box(&m.body);
                        seen.messages += 1;
                    }
                    other => panic!("unexpected event at the receiver: {other:?}"),
                }
            }
        }
        self.bob
            .poll_transmit_vectored(now, usize::MAX, &mut self.pieces);
        for piece in self.pieces.drain(..) {
            seen.moved += piece.len();
            self.alice.handle_input(now, &piece);
        }
        while let Some(event) = self.alice.poll_event() {
            match event {
                ConnectionEvent::Session(_, Event::Outcome(o)) => {
                    let delivered = o.result.expect("delivered");
                    assert!(delivered.acknowledged);
                    seen.outcomes += 1;
                }
                other => panic!("unexpected event at the sender: {other:?}"),
            }
        }
    }

    /// Passes until `done`; panics if nothing moves for [`STUCK`] passes.
    fn run(&mut self, now: Instant, seen: &mut Seen, done: impl Fn(&Seen) -> bool) {
        let mut idle = 0;
        while !done(seen) {
            let before = seen.moved;
            self.pass(now, seen);
            idle = if seen.moved == before { idle + 1 } else { 0 };
            assert!(idle < STUCK, "the pair is stuck");
        }
    }

    /// Sends one large message through and checks it arrived whole.
    fn big(&mut self, body: &Bytes) {
        let now = Instant::now();
        self.alice
            .send(
                self.key,
                OutgoingMessage::new("application/octet-stream", body.clone()),
            )
            .expect("send");
        let mut seen = Seen::default();
        self.run(now, &mut seen, |s| s.ended.is_some() && s.outcomes == 1);
        assert_eq!(seen.ended, Some(body.len() as u64));
        assert_eq!(seen.data, body.len() as u64);
    }

    /// Sends a batch of small messages through.
    fn small_batch(&mut self) {
        let now = Instant::now();
        for _ in 0..BATCH {
            self.alice
                .send(
                    self.key,
                    OutgoingMessage::new("text/plain", Bytes::from_static(&TEXT)),
                )
                .expect("send");
        }
        let mut seen = Seen::default();
        self.run(now, &mut seen, |s| s.outcomes == BATCH);
        assert_eq!(seen.messages, BATCH);
    }
}

/// One large message through the pair per unit.
fn session_big(body: &Bytes) -> Measure<'_> {
    let mut pair = Pair::new();
    Box::new(move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            pair.big(body);
        }
        t.elapsed()
    })
}

/// `copy_from_slice` of the body into a preallocated, already written buffer, per unit.
fn memcpy(body: &Bytes) -> Measure<'_> {
    let mut dst = vec![1u8; body.len()];
    Box::new(move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            dst.copy_from_slice(black_box(body));
            black_box(&mut dst);
        }
        t.elapsed()
    })
}

/// A batch of [`BATCH`] small messages through the pair per unit.
fn session_small() -> Measure<'static> {
    let mut pair = Pair::new();
    Box::new(move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            pair.small_batch();
        }
        t.elapsed()
    })
}

fn main() {
    let settings = Settings::from_env();
    let mut criterion = Criterion::default()
        .warm_up_time(settings.warm_up_time)
        .measurement_time(settings.measurement_time)
        .sample_size(settings.sample_size)
        .configure_from_args();
    let size = match (is_bench_mode(), is_quick()) {
        // `cargo test --benches` runs each benchmark once: a small message will do.
        (false, _) => BIG_CHECK,
        (true, true) => BIG_QUICK,
        (true, false) => BIG,
    };
    let body = Bytes::from(random_body(size, 0x5eed));
    // A check before anything is timed: both subjects complete and deliver what they should.
    Pair::new().big(&body.slice(..BIG_CHECK));
    Pair::new().small_batch();

    // The report: criterion measures every subject and baseline. A unit of the large message
    // takes tens of milliseconds: flat sampling, ten samples.
    let mut group = criterion.benchmark_group("session_big_message");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Bytes(size as u64));
    let mut m = session_big(&body);
    group.bench_function(format!("pair_{}mib", size >> 20), |b| b.iter_custom(&mut m));
    let mut m = memcpy(&body);
    group.bench_function(format!("memcpy_{}mib", size >> 20), |b| {
        b.iter_custom(&mut m)
    });
    group.finish();
    drop(m);

    let mut group = criterion.benchmark_group("session_small_messages");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut m = session_small();
    group.bench_function("pipelined_100b", |b| b.iter_custom(&mut m));
    group.finish();
    drop(m);

    criterion.final_summary();
    if !is_bench_mode() {
        // `cargo test --benches` runs each benchmark once as a check; there is nothing to
        // compare.
        return;
    }

    println!();
    if is_selected("session_256mib_pair_vs_memcpy") {
        big_ratio(&body, &settings);
    }
    if is_selected("session_small_messages_per_s_over_1M") {
        small_ratio(&settings);
    }
}

/// `session_256mib_pair_vs_memcpy`.
fn big_ratio(body: &Bytes, settings: &Settings) {
    let size = body.len();
    let c = compare(&mut memcpy(body), &mut session_big(body), settings);
    print_ratio("session_256mib_pair_vs_memcpy", c.ratio, 0.5);
    print_spread("session_256mib_pair_vs_memcpy", &c);
    print_info("session_256mib_pair.message_size", size as f64, "bytes");
    print_info(
        "session_256mib_pair.pair",
        size as f64 / c.subject_ns,
        "GB/s",
    );
    print_info(
        "session_256mib_pair.memcpy",
        size as f64 / c.baseline_ns,
        "GB/s",
    );
}

/// `session_small_messages_per_s_over_1M`.
fn small_ratio(settings: &Settings) {
    let m = measure(&mut session_small(), settings);
    let rate = |ns: f64| BATCH as f64 * 1e9 / ns;
    print_ratio(
        "session_small_messages_per_s_over_1M",
        rate(m.ns) / 1e6,
        1.0,
    );
    print_info("session_small_messages_per_s", rate(m.ns), "msgs/s");
    print_info(
        "session_small_messages_per_s.slowest_round",
        rate(m.ns_max),
        "msgs/s",
    );
    print_info(
        "session_small_messages_per_s.fastest_round",
        rate(m.ns_min),
        "msgs/s",
    );
    print_info("session_small_messages.time", m.ns / BATCH as f64, "ns/msg");
}
