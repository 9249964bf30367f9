//! Benchmarks of the relay that `msrp-mio-transport` runs (`RelayServer`, the sans-IO
//! `msrp-relay` on an event loop), against Kamailio's MSRP relay on the same load and against
//! no relay at all, and of WebSocket clients against TCP ones through it, each baseline
//! measured in the same run, round by round.
//!
//! Like the transport benches these are plain timing loops over TCP loopback (127.0.0.1), with
//! [`msrp_benches::compare`] alternating baseline and subject and taking the median of the
//! per-round ratios; each figure is printed as `ratio NAME VALUE goal GOAL` for `cargo xtask
//! bench`, absolute figures as `info NAME VALUE UNIT`. Criterion's command-line options are
//! accepted and ignored. `cargo test --benches` runs every subject and baseline once, small,
//! as a check.
//!
//! The sender and the receiver are the same two endpoints (`Endpoint::start_with_handler`, each
//! on its own event-loop thread in this process) for a subject and its baseline: each figure
//! opens one session pair through each path, and only the path differs. A session through a
//! relay authenticates to it first (RFC 4976 AUTH, plain TCP as the relays listen on loopback,
//! no digest); the receiver's passive session learns its path from the relay (its Use-Path and
//! its own URI), and the sender's active session sends to that path, through its own AUTH to
//! the same relay. Our relay runs on its own thread in this process, Kamailio as its own
//! processes (its TCP workers), started from the project's configuration
//! (`interop/kamailio/relay.cfg`) on a free port and stopped at the end. Both relays are set up
//! before timing and get the same sessions, frames and chunk sizes. Against Kamailio our relay's
//! sockets keep the system's congestion control, as Kamailio's do; the endpoints are the same on
//! both paths.
//!
//! What is measured (SIZE is 32 MiB, quick 8 MiB; BIG is 256 MiB, quick 64 MiB):
//!
//! - `relay_10kb_chunks_vs_kamailio` (goal 3): bytes per second of one message of SIZE
//!   pseudo-random bytes, sent in chunks of 10,000 bytes (`Relay::max_chunk`: Kamailio relays
//!   no frame of 11,240 bytes or more), Failure-Report `yes` (a 200 for every chunk comes back
//!   through the relay), timed from `Handle::send` until the receiver has every byte in order
//!   and the sender its delivered outcome. Subject: through `RelayServer`; baseline: through
//!   Kamailio. Runs only when Kamailio is installed; otherwise an `info` line says so.
//! - `relay_pipelined_200b_vs_kamailio` (goal 3): messages per second of 200-byte text
//!   messages with [`WINDOW`] in flight (the sender's handler sends one more per outcome, which
//!   is the 200 that came back through the relay). Subject and baseline as above.
//! - `relay_64k_chunks_vs_direct` (goal 0.5): bytes per second of one message of BIG bytes in
//!   chunks of 64 KiB through `RelayServer`, against the same message in the same chunks over a
//!   direct connection between the same endpoints (no relay). Both paths run the default
//!   `EndpointConfig::loopback_congestion` (Reno on loopback): with BBR, the common system
//!   default, pacing timers cost the relayed path far more than the direct one (measured on a
//!   2-vCPU Intel Xeon VM: relayed 1.1-1.2 GB/s against 1.6-2.0 with Reno; direct about 3
//!   GB/s with either).
//!
//! - `ws_1gib_64k_vs_tcp` (goal 0.7): bytes per second of one message of WS bytes (1 GiB,
//!   quick 128 MiB) in chunks of 64 KiB from a sender that reaches `RelayServer` over
//!   WebSocket (RFC 7977: a `;ws` relay URI, its own URI a `.invalid` one) to a receiver behind
//!   the same relay over TCP, against the same with the sender over TCP.
//! - `wss_vs_msrps` (goal 0.8): the same through a relay over TLS, WSS bytes (256 MiB, quick
//!   64 MiB): the sender over wss against the sender over msrps. The relay's certificate is
//!   checked by its fingerprint on both paths.
//!
//! A figure whose run fails prints its ratio as 0.00 and a line `error NAME: why`, and the
//! other figures still run. `MSRP_BENCH_ONLY` selects figures by name.

use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_benches::kamailio::{self, Kamailio};
use msrp_benches::loopback::{Certs, Note, Side, bulk, endpoint_config, failure, open_pair, uri};
use msrp_benches::{
    Settings, compare, guarded, is_bench_mode, is_quick, is_selected, print_info, random_body,
    report, seeded_random,
};
use msrp_mio_transport::{
    PeerVerification, RelayConfig, RelayServer, RelayServerConfig, Role, SessionId, SessionSpec,
};
use msrp_session::{Chunking, FromPathCheck, Relay, SessionConfig};

/// The bulk message through both relays.
const SIZE: usize = 32 << 20;
/// The bulk message through both relays, quick run.
const SIZE_QUICK: usize = 8 << 20;
/// The bulk message through our relay and directly.
const BIG: usize = 256 << 20;
/// The bulk message through our relay and directly, quick run.
const BIG_QUICK: usize = 64 << 20;
/// Every bulk message in check mode (`cargo test --benches`).
const SIZE_CHECK: usize = 1 << 20;
/// Chunks through Kamailio: below its frame limit of 11,240 bytes, head included.
const KAMAILIO_CHUNK: usize = 10_000;
/// Chunks of the comparison with a direct connection.
const BIG_CHUNK: usize = 64 << 10;
/// The message over WebSocket and over TCP, and over TLS: full run, quick run.
const WS: (usize, usize) = (1 << 30, 128 << 20);
const WSS: (usize, usize) = (256 << 20, 64 << 20);
/// Body size of the small messages.
const SMALL: usize = 200;
/// Small messages in flight, and per unit.
const WINDOW: u64 = 100;

/// A measurement: does `iters` units of work and returns the time of the measured part.
type Measure<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// The two endpoints every figure uses: the receiver (passive sessions) and the sender.
struct Ends {
    server: Side,
    client: Side,
}

/// A session pair: (the receiver's, the sender's).
#[derive(Clone, Copy)]
struct Pair {
    server: SessionId,
    client: SessionId,
}

impl Ends {
    fn start(certs: &Certs) -> Self {
        let small = Bytes::from(vec![b's'; SMALL]);
        Self {
            server: Side::start(endpoint_config(certs.server.identity()), small.clone()),
            client: Side::start(endpoint_config(certs.client.identity()), small),
        }
    }

    /// A session pair through the relay at `relay` (its URI), with chunks of at most `chunk`
    /// bytes toward it.
    fn through(&self, relay: &str, chunk: usize) -> Pair {
        self.through_each(relay, relay, chunk, None)
    }

    /// A session pair through one relay, which the receiver reaches at `relay` and the sender
    /// at `sender_relay` (its WebSocket URI, say), checking its certificate with `check` when
    /// it is reached over TLS.
    fn through_each(
        &self,
        relay: &str,
        sender_relay: &str,
        chunk: usize,
        check: Option<&PeerVerification>,
    ) -> Pair {
        let relay: msrp_uri::MsrpUri = relay.parse().expect("relay URI");
        let sender_relay: msrp_uri::MsrpUri = sender_relay.parse().expect("relay URI");
        let unused = "127.0.0.1:9".parse().expect("address");
        let hop = |uri: &msrp_uri::MsrpUri| Relay::new(uri.clone()).max_chunk(chunk);
        let secure = |spec: SessionSpec| match check {
            Some(check) => spec.peer_check(check.clone()),
            None => spec.allow_plain_relay(),
        };
        // The receiver: who sends is known only from the path it names.
        let s_uri = uri(
            false,
            unused,
            &msrp_benches::loopback::unique_session_id("rsrv"),
        );
        let mut sc = SessionConfig::new(
            s_uri.parse().expect("uri"),
            "msrp://peer.invalid:9/anyone;tcp".parse().expect("uri"),
            seeded_random(7),
        );
        sc.from_path_check = FromPathCheck::Off;
        let spec = secure(SessionSpec::new(sc, Role::Passive).through(vec![hop(&relay)]));
        let server = self
            .server
            .endpoint
            .handle()
            .open_session(spec)
            .expect("open the receiver's session");
        let path = self
            .server
            .wait(Duration::from_secs(10), "the receiver's path", |n| {
                failure(&n, "the receiver's path");
                match n {
                    Note::Authenticated(s, path) if s == server => Some(path),
                    _ => None,
                }
            });
        // The sender, to that path, through its own AUTH. Over WebSocket its URI names a
        // made-up `.invalid` host (RFC 7977 §8.1.1): the relay routes to it by its connection.
        let id = msrp_benches::loopback::unique_session_id("rcli");
        let c_uri = if sender_relay.transport() == msrp_uri::Transport::Ws {
            let scheme = sender_relay.scheme().as_str();
            format!("{scheme}://bench.invalid:2855/{id};ws")
        } else {
            uri(false, unused, &id)
        };
        let cc = SessionConfig::new(
            c_uri.parse().expect("uri"),
            path.parse().expect("the granted path"),
            seeded_random(8),
        );
        let spec = secure(SessionSpec::new(cc, Role::Active).through(vec![hop(&sender_relay)]));
        let client = self
            .client
            .endpoint
            .handle()
            .open_session(spec)
            .expect("open the sender's session");
        self.client
            .wait(Duration::from_secs(10), "the sender's Bound", |n| {
                failure(&n, "the sender's Bound");
                matches!(n, Note::Bound(id) if id == client).then_some(())
            });
        self.server.clear_notes();
        Pair { server, client }
    }

    /// A session pair on a direct connection to the receiver, with fixed chunks of `chunk`.
    fn direct(&self, certs: &Certs, chunk: usize) -> Pair {
        let addr = self
            .server
            .endpoint
            .handle()
            .listen("127.0.0.1:0".parse().expect("address"), false)
            .expect("listen");
        let (server, client) = open_pair(&self.server, &self.client, addr, false, certs, |c| {
            c.chunking = Chunking::Fixed(chunk)
        });
        Pair { server, client }
    }

    /// One bulk message per unit on `pair`.
    fn bulk<'a>(&'a self, pair: Pair, body: &'a Bytes) -> Measure<'a> {
        Box::new(move |iters| {
            let t = Instant::now();
            for _ in 0..iters {
                bulk(
                    (&self.client, pair.client),
                    (&self.server, pair.server),
                    body,
                );
            }
            t.elapsed()
        })
    }

    /// Pipelined small messages on `pair`, [`WINDOW`] in flight and per unit.
    fn pipelined(&self, pair: Pair) -> Measure<'_> {
        Box::new(move |iters| {
            let n = iters * WINDOW;
            let limit = Duration::from_secs(30) + Duration::from_millis(n / 10);
            let t = Instant::now();
            self.client.run_plan(pair.client, n, WINDOW, limit);
            t.elapsed()
        })
    }
}

/// Our relay on a free loopback port, granting every AUTH. Against Kamailio its sockets keep
/// the system's congestion control, as Kamailio's do, rather than the transport's choice for
/// loopback (`EndpointConfig::loopback_congestion`): only the relay differs between the paths.
fn our_relay(against_kamailio: bool) -> RelayServer {
    let mut config = RelayServerConfig::new(RelayConfig::new("127.0.0.1", 0));
    if against_kamailio {
        config.transport.loopback_congestion = None;
    }
    RelayServer::start(config, "127.0.0.1:0".parse().expect("address"), false)
        .expect("start the relay")
}

/// Settings for the bulk transfers: fewer, longer rounds.
fn bulk_settings(settings: &Settings) -> Settings {
    Settings {
        rounds: if is_quick() { 9 } else { 7 },
        ..*settings
    }
}

/// The figures against Kamailio.
fn against_kamailio(settings: &Settings, certs: &Certs, size: usize, check: bool) {
    const BULK: &str = "relay_10kb_chunks_vs_kamailio";
    const SMALL_NAME: &str = "relay_pipelined_200b_vs_kamailio";
    if !is_selected(BULK) && !is_selected(SMALL_NAME) {
        return;
    }
    let Some(binary) = kamailio::binary() else {
        println!(
            "info relay_vs_kamailio skipped: kamailio is not installed (Debian: apt-get install \
             kamailio); {BULK} and {SMALL_NAME} did not run"
        );
        return;
    };
    let kamailio = Kamailio::start(&binary, "bench", &[]);
    let ours = our_relay(true);
    let ends = Ends::start(certs);
    let theirs = ends.through(&kamailio.uri(), KAMAILIO_CHUNK);
    let mine = ends.through(ours.uri(), KAMAILIO_CHUNK);
    let body = Bytes::from(random_body(size, 0x4e1a));
    if check {
        ends.bulk(theirs, &body)(1);
        ends.bulk(mine, &body)(1);
        ends.pipelined(theirs)(2);
        ends.pipelined(mine)(2);
        return;
    }
    if is_selected(BULK) {
        guarded(BULK, Some(3.0), check, || {
            let c = compare(
                &mut ends.bulk(theirs, &body),
                &mut ends.bulk(mine, &body),
                &bulk_settings(settings),
            );
            report(BULK, 3.0, &c, (size as f64, "GB/s"));
        });
    }
    if is_selected(SMALL_NAME) {
        guarded(SMALL_NAME, Some(3.0), check, || {
            let c = compare(
                &mut ends.pipelined(theirs),
                &mut ends.pipelined(mine),
                settings,
            );
            report(SMALL_NAME, 3.0, &c, (WINDOW as f64 * 1e9, "msgs/s"));
        });
    }
}

/// Through our relay against a direct connection.
fn against_direct(settings: &Settings, certs: &Certs, size: usize, check: bool) {
    const NAME: &str = "relay_64k_chunks_vs_direct";
    if !is_selected(NAME) {
        return;
    }
    let ours = our_relay(false);
    let ends = Ends::start(certs);
    let direct = ends.direct(certs, BIG_CHUNK);
    let relayed = ends.through(ours.uri(), BIG_CHUNK);
    let body = Bytes::from(random_body(size, 0xd1ec7));
    if check {
        ends.bulk(direct, &body)(1);
        ends.bulk(relayed, &body)(1);
        return;
    }
    guarded(NAME, Some(0.5), check, || {
        let c = compare(
            &mut ends.bulk(direct, &body),
            &mut ends.bulk(relayed, &body),
            &bulk_settings(settings),
        );
        report(NAME, 0.5, &c, (size as f64, "GB/s"));
    });
}

/// A sender over WebSocket against one over TCP, through our relay (plain, or TLS for both).
fn websocket(settings: &Settings, certs: &Certs, tls: bool, check: bool) {
    let (name, goal, (full, quick)) = if tls {
        ("wss_vs_msrps", 0.8, WSS)
    } else {
        ("ws_1gib_64k_vs_tcp", 0.7, WS)
    };
    if !is_selected(name) {
        return;
    }
    let size = match (check, is_quick()) {
        (true, _) => SIZE_CHECK,
        (false, true) => quick,
        (false, false) => full,
    };
    let mut config = RelayServerConfig::new(RelayConfig::new("127.0.0.1", 0));
    config.ws_bind = Some("127.0.0.1:0".parse().expect("address"));
    if tls {
        config.transport.identity = Some(certs.server.identity());
    }
    let relay = RelayServer::start(config, "127.0.0.1:0".parse().expect("address"), tls)
        .expect("start the relay");
    let ws = relay.ws_uri().expect("a WebSocket URI").to_owned();
    let verification = tls.then(|| certs.server.verification());
    let ends = Ends::start(certs);
    let over_tcp = ends.through_each(relay.uri(), relay.uri(), BIG_CHUNK, verification.as_ref());
    let over_ws = ends.through_each(relay.uri(), &ws, BIG_CHUNK, verification.as_ref());
    let body = Bytes::from(random_body(size, 0x3b5));
    if check {
        ends.bulk(over_tcp, &body)(1);
        ends.bulk(over_ws, &body)(1);
        return;
    }
    guarded(name, Some(goal), check, || {
        let c = compare(
            &mut ends.bulk(over_tcp, &body),
            &mut ends.bulk(over_ws, &body),
            &bulk_settings(settings),
        );
        report(name, goal, &c, (size as f64, "GB/s"));
    });
}

fn main() {
    let settings = Settings::from_env();
    // `cargo test --benches` runs everything once, small, as a check.
    let check = !is_bench_mode();
    let (size, big) = match (check, is_quick()) {
        (true, _) => (SIZE_CHECK, SIZE_CHECK),
        (false, true) => (SIZE_QUICK, BIG_QUICK),
        (false, false) => (SIZE, BIG),
    };
    let certs = Certs::generate();
    let started = Instant::now();
    against_kamailio(&settings, &certs, size, check);
    against_direct(&settings, &certs, big, check);
    websocket(&settings, &certs, false, check);
    websocket(&settings, &certs, true, check);
    if check {
        println!("relay benches: checked once each");
    } else {
        print_info("relay.bench_time", started.elapsed().as_secs_f64(), "s");
    }
}
