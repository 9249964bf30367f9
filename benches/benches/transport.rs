//! Benchmarks of `msrp-mio-transport` over TCP loopback (127.0.0.1), each against a plain
//! `std::net` or plain rustls loop measured in the same run, round by round.
//!
//! These are plain timing loops, not criterion benchmarks: every unit moves real bytes through
//! the kernel and two threads, and [`msrp_benches::compare`] alternates baseline and subject
//! round by round and takes the median of the per-round ratios. Each figure is printed as
//! `ratio NAME VALUE goal GOAL` for `cargo xtask bench`, absolute figures as `info NAME VALUE
//! UNIT` (GB/s is 10^9 bytes per second). Criterion's command-line options are accepted and
//! ignored. `MSRP_BENCH_QUICK=1` shortens the loops and sends 128 MiB instead of 1 GiB.
//! `cargo test --benches` runs every subject and baseline once, small, as a check.
//!
//! Subject and baseline run the same TCP: the system's congestion control, which the plain
//! sockets get, and which the endpoints here keep too (`EndpointConfig::loopback_congestion`
//! set to `None`; by default an endpoint gives its loopback connections Reno). These figures
//! measure what the transport costs over plain sockets; what Reno does on loopback is measured
//! through the relay (`benches/relay.rs`).
//!
//! Both endpoints of a subject run in this process, each on its own event-loop thread, with a
//! handler on that thread (`Endpoint::start_with_handler`): it counts received bytes, sends
//! the next message of a lockstep or pipelined run from the outcome of the previous one, and
//! tells the bench thread (which only waits) when a unit is done. Every wait has a deadline;
//! endpoints are shut down and helper threads joined at the end of each bench. Sessions are
//! set up before timing, on a connection of their own. Certificates are generated once
//! (ECDSA P-256) and used by the endpoints and the rustls baselines alike.
//!
//! What is measured, exactly (SIZE is 1 GiB, quick 128 MiB):
//!
//! - `transport_1gib_tcp_vs_std` (goal 0.8): one message whose body is SIZE pseudo-random
//!   bytes in memory (one `Bytes`), sent with the default interruptible chunking (one chunk)
//!   and Failure-Report `yes` (the default; it adds one 200 at the end, so the time covers the
//!   whole data path and its acknowledgement). Timed from `Handle::send` until both the
//!   receiver's `MessageEnd` (with every byte counted from its `MessageData` events, checked
//!   in order) and the sender's delivered outcome have arrived. Baseline: a connected pair of
//!   `std::net::TcpStream`s (kept across units, `TCP_NODELAY` as the transport sets it), a
//!   sender thread writing the same SIZE bytes with `write_all` of 16 KiB pieces, and the bench
//!   thread reading into a 256 KiB buffer until it has them all; then the same with 64 KiB
//!   writes. The baseline's time per round is the better of the two; the ratio is msrp's
//!   throughput over that best baseline's.
//! - `transport_1gib_tcp_2k_chunks_vs_std` (goal 0.5): the same with the sender's
//!   `SessionConfig::chunking = Chunking::Fixed(2048)`: 524 288 chunks per GiB, each with its
//!   head, end-line, transaction and 200 response.
//! - `transport_1gib_tls_vs_rustls` (goal 0.85): the same message over `msrps` (certificates
//!   checked by SDP fingerprint both ways). Baseline: plain rustls over a loopback TCP pair,
//!   same provider (ring's defaults, safe default versions: both negotiate the same suite, which
//!   is printed), handshake done beforehand; the sender writes plaintext in 64 KiB pieces and
//!   flushes records with `write_tls`, the receiver reads 256 KiB from the socket and feeds
//!   `read_tls` from that slice, reading out the plaintext after each `process_new_packets`.
//! - `transport_lockstep_200b_vs_pingpong` (goal 0.9): round trips per second of 200-byte text
//!   messages in lockstep: the handler on the sender's loop thread sends the next message when
//!   the previous one's outcome (its 200) arrives. Baseline: a `TcpStream` pair; the bench
//!   thread writes 200 bytes and reads a 100-byte answer that a server thread writes after
//!   reading the 200 bytes. The endpoints run with the default `EndpointConfig::busy_poll`
//!   (50 µs): their loops poll for the next event before sleeping while events come close
//!   together, which the blocking baseline does not; with `busy_poll` zero, the same run on
//!   2 vCPUs gives about 16,000 round trips per second, most of each spent waking the other
//!   loop's thread on the other CPU.
//! - `transport_pipelined_200b_per_s_over_500k` (goal 1.00): messages per second of 200-byte
//!   text messages with 1000 in flight (the handler sends one more per outcome), Failure-Report
//!   `yes`. No baseline runs: the goal is a fixed rate, 500 000 messages per second; the value
//!   printed is the median measured rate divided by it.
//! - `transport_tls_connect_first_send_vs_rustls` (goal 0.8): per second, a new `msrps`
//!   connection and its first SEND answered, one after the other: `open_session` of an active
//!   session on a connection of its own and `send` of a 200-byte message at once (it doubles
//!   as the binding SEND, and waits in the session until the connection and TLS are up), until
//!   its delivered outcome; the handler opens the next session from that outcome, on the loop
//!   thread (`Context::open_session`, `Context::send`), the first is opened through the
//!   `Handle`. The passive sessions are opened on the server before timing, and each sample
//!   runs on a fresh client endpoint that is shut down after the sample, untimed (the
//!   transport keeps a connection open after its last session is gone, so they would pile up).
//!   Baseline: a plain rustls client on the bench thread that connects, completes a handshake
//!   with the same certificates and checks (client certificate included, no resumption, as
//!   the transport's client), sends close_notify and closes; a server thread accepts,
//!   completes its side, checks the client's fingerprint and reads to the end. The endpoints
//!   run with the default `EndpointConfig::setup_poll` (500 µs): after each handshake flight
//!   and the first SEND their loops poll for the answer before sleeping; with it zero, the
//!   ratio is about 0.75 on 2 vCPUs.
//! - `info transport_lockstep_200b_10k_idle_vs_none` (no goal): the lockstep on endpoints that
//!   also carry 10 000 idle session pairs (100 connections of 100 sessions), against the
//!   lockstep on endpoints without them: what idle sessions cost a busy one.
//!
//! A figure whose run fails (a transfer that stalls, a deadline that passes) prints its ratio
//! as 0.00 and a line `error NAME: why`, and the other figures still run. `MSRP_BENCH_ONLY`
//! selects figures by name (see `msrp_benches::is_selected`).

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_benches::loopback::{
    Certs, Note, OnDrop, Record, Side, TlsPair, client_certificate_matches, client_handshake,
    endpoint_config as default_config, failure, open_pair, server_handshake, tcp_pair, tls_configs,
    tls_read_exact, tls_write_all, unique_session_id, uri,
};
use msrp_benches::{
    Settings, compare, guarded, is_bench_mode, is_quick, is_selected, measure, median, print_info,
    print_ratio, random_body, report, seeded_random,
};
use msrp_mio_transport::{EndpointConfig, Identity, Role, SessionId, SessionSpec};
use msrp_session::{Chunking, SessionConfig};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ServerConnection};

/// An endpoint's configuration for these benches: the defaults with `identity`, on the system's
/// congestion control as the plain sockets of the baselines are.
fn endpoint_config(identity: Identity) -> EndpointConfig {
    let mut config = default_config(identity);
    config.loopback_congestion = None;
    config
}

/// Size of the bulk message.
const SIZE: usize = 1 << 30;
/// Size of the bulk message in quick mode.
const SIZE_QUICK: usize = 128 << 20;
/// Size of the bulk message in check mode (`cargo test --benches`).
const SIZE_CHECK: usize = 4 << 20;
/// Body size of the small messages.
const SMALL: usize = 200;
/// Answer size of the ping-pong baseline.
const ANSWER: usize = 100;
/// Messages in flight in the pipelined bench, and messages per unit.
const WINDOW: u64 = 1000;
/// Idle sessions of the crowded lockstep.
const IDLE: usize = 10_000;
/// Receive buffer of the baselines.
const READ_BUF: usize = 256 << 10;

/// A measurement: does `iters` units of work and returns the time of the measured part.
type Measure<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// A deadline for `n` round trips.
fn trips_limit(n: u64) -> Duration {
    Duration::from_secs(30) + Duration::from_micros(500 * n)
}

/// The server and client endpoints of a subject, and its sessions.
struct Subject {
    server: Side,
    client: Side,
    server_session: SessionId,
    client_session: SessionId,
    addr: SocketAddr,
}

impl Subject {
    /// Two endpoints over loopback with a session pair on a connection of its own; `tweak`
    /// adjusts the client's session.
    fn start(tls: bool, certs: &Certs, tweak: impl FnOnce(&mut SessionConfig)) -> Self {
        let small = Bytes::from(vec![b's'; SMALL]);
        let server = Side::start(endpoint_config(certs.server.identity()), small.clone());
        let client = Side::start(endpoint_config(certs.client.identity()), small);
        let addr = server
            .endpoint
            .handle()
            .listen("127.0.0.1:0".parse().expect("address"), tls)
            .expect("listen");
        let (server_session, client_session) = open_pair(&server, &client, addr, tls, certs, tweak);
        Self {
            server,
            client,
            server_session,
            client_session,
            addr,
        }
    }

    /// Opens `n` more session pairs that stay idle, 100 per connection on connections of their
    /// own (not the one the benches use), and waits until the server has bound them all.
    fn add_idle_sessions(&self, n: usize) {
        let client_addr: SocketAddr = "127.0.0.1:9".parse().expect("address");
        for i in 0..n {
            let s_uri = uri(false, self.addr, &unique_session_id("idls"));
            let c_uri = uri(false, client_addr, &unique_session_id("idlc"));
            let sc = SessionConfig::new(
                s_uri.parse().expect("uri"),
                c_uri.parse().expect("uri"),
                seeded_random(5),
            );
            self.server
                .endpoint
                .handle()
                .open_session(SessionSpec::new(sc, Role::Passive))
                .expect("open an idle passive session");
            let cc = SessionConfig::new(
                c_uri.parse().expect("uri"),
                s_uri.parse().expect("uri"),
                seeded_random(6),
            );
            // Every hundredth opens a connection, which the next 99 then share.
            let mut spec = SessionSpec::new(cc, Role::Active);
            if i % 100 == 0 {
                spec = spec.new_connection();
            }
            self.client
                .endpoint
                .handle()
                .open_session(spec)
                .expect("open an idle active session");
        }
        let mut bound = 0;
        self.server
            .wait(Duration::from_secs(60), "the idle sessions bound", |note| {
                failure(&note, "the idle sessions bound");
                if matches!(note, Note::Bound(_)) {
                    bound += 1;
                }
                (bound == n).then_some(())
            });
        // The last responses to the binding SENDs.
        thread::sleep(Duration::from_millis(200));
        self.client.clear_notes();
    }

    /// Sends `body` as one message and waits for its end at the receiver and its outcome.
    fn bulk(&self, body: &Bytes) {
        msrp_benches::loopback::bulk(
            (&self.client, self.client_session),
            (&self.server, self.server_session),
            body,
        );
    }
}

/// One bulk message per unit.
fn msrp_bulk<'a>(subject: &'a Subject, body: &'a Bytes) -> Measure<'a> {
    Box::new(move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            subject.bulk(body);
        }
        t.elapsed()
    })
}

/// The TCP baseline's sockets: kept across units.
struct TcpBaseline {
    writer: TcpStream,
    reader: TcpStream,
    buf: Vec<u8>,
}

impl TcpBaseline {
    fn new() -> Self {
        let (writer, reader) = tcp_pair();
        Self {
            writer,
            reader,
            buf: vec![1; READ_BUF],
        }
    }

    /// Moves `body` once with writes of `write` bytes; returns the time.
    fn transfer(&mut self, body: &[u8], write: usize) -> Duration {
        let t = Instant::now();
        thread::scope(|s| {
            let writer = &mut self.writer;
            s.spawn(move || {
                for piece in body.chunks(write) {
                    writer.write_all(piece).expect("write");
                }
            });
            let mut got = 0;
            while got < body.len() {
                let n = self.reader.read(&mut self.buf).expect("read");
                assert!(n > 0, "the writer closed early");
                black_box(&self.buf[..n]);
                got += n;
            }
        });
        t.elapsed()
    }
}

/// The better of 16 KiB and 64 KiB writes per unit; each one's time per unit is recorded.
fn std_bulk<'a>(body: &'a [u8], record: &'a Record) -> Measure<'a> {
    let mut tcp = TcpBaseline::new();
    Box::new(move |iters| {
        let (mut t16, mut t64) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..iters {
            t16 += tcp.transfer(body, 16 << 10);
            t64 += tcp.transfer(body, 64 << 10);
        }
        let mut r = record.lock().expect("record");
        r.push(t16.as_secs_f64() / iters as f64);
        r.push(t64.as_secs_f64() / iters as f64);
        t16.min(t64)
    })
}

/// The rustls baseline: one TLS connection kept across units.
fn rustls_bulk<'a>(body: &'a [u8], certs: &Certs) -> (Measure<'a>, String) {
    let TlsPair {
        client: (mut c_conn, mut c_sock),
        server: (mut s_conn, mut s_sock),
    } = TlsPair::connect(certs);
    let negotiated = format!(
        "{:?} {:?}",
        c_conn.protocol_version(),
        c_conn.negotiated_cipher_suite().map(|s| s.suite())
    );
    let mut net = vec![1u8; READ_BUF];
    let mut plain = vec![1u8; READ_BUF];
    let measure = Box::new(move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            thread::scope(|s| {
                let (conn, sock) = (&mut c_conn, &mut c_sock);
                s.spawn(move || tls_write_all(conn, sock, body, 64 << 10).expect("TLS write"));
                tls_read_exact(
                    &mut s_conn,
                    &mut s_sock,
                    body.len() as u64,
                    &mut net,
                    &mut plain,
                )
                .expect("TLS read");
            });
        }
        t.elapsed()
    });
    (measure, negotiated)
}

/// Lockstep round trips of 200-byte messages, one per unit.
fn msrp_lockstep(subject: &Subject) -> Measure<'_> {
    Box::new(move |iters| {
        let t = Instant::now();
        subject
            .client
            .run_plan(subject.client_session, iters, 1, trips_limit(iters));
        t.elapsed()
    })
}

/// Pipelined 200-byte messages, [`WINDOW`] in flight, [`WINDOW`] per unit.
fn msrp_pipelined(subject: &Subject) -> Measure<'_> {
    Box::new(move |iters| {
        let n = iters * WINDOW;
        let t = Instant::now();
        subject
            .client
            .run_plan(subject.client_session, n, WINDOW, trips_limit(n / 10));
        t.elapsed()
    })
}

/// The ping-pong baseline: the bench thread writes [`SMALL`] bytes, a server thread answers
/// [`ANSWER`] bytes; one round trip per unit. The server thread ends when the measure is
/// dropped.
fn pingpong() -> Measure<'static> {
    let (mut client, mut server) = tcp_pair();
    let thread = thread::spawn(move || {
        let mut request = [0u8; SMALL];
        let answer = [b'a'; ANSWER];
        while server.read_exact(&mut request).is_ok() {
            if server.write_all(&answer).is_err() {
                break;
            }
        }
    });
    let request = [b's'; SMALL];
    let mut answer = [0u8; ANSWER];
    let mut thread = Some(thread);
    let stop = client.try_clone().expect("clone");
    let guard = OnDrop(move || {
        let _ = stop.shutdown(std::net::Shutdown::Both);
        if let Some(t) = thread.take() {
            let _ = t.join();
        }
    });
    Box::new(move |iters| {
        let _ = &guard;
        let t = Instant::now();
        for _ in 0..iters {
            client.write_all(&request).expect("write");
            client.read_exact(&mut answer).expect("read");
        }
        t.elapsed()
    })
}

/// The server of the connect bench, kept across samples.
struct ConnectServer {
    side: Side,
    addr: SocketAddr,
}

/// New `msrps` connections with a first SEND answered, one per unit; see the module docs.
fn msrp_connect<'a>(server: &'a ConnectServer, certs: &'a Certs) -> Measure<'a> {
    let small = Bytes::from(vec![b's'; SMALL]);
    Box::new(move |iters| {
        let client_addr: SocketAddr = "127.0.0.1:9".parse().expect("address");
        // Untimed: a fresh client endpoint, and the passive sessions on the server.
        let client = Side::start(endpoint_config(certs.client.identity()), small.clone());
        let mut pairs = Vec::new();
        for _ in 0..iters {
            let s_id = unique_session_id("srv");
            let c_id = unique_session_id("cli");
            let s_uri = uri(true, server.addr, &s_id);
            let c_uri = uri(true, client_addr, &c_id);
            let sc = SessionConfig::new(
                s_uri.parse().expect("uri"),
                c_uri.parse().expect("uri"),
                seeded_random(3),
            );
            let spec = SessionSpec::new(sc, Role::Passive).peer_check(certs.client.verification());
            server
                .side
                .endpoint
                .handle()
                .open_session(spec)
                .expect("open the passive session");
            pairs.push((s_uri, c_uri));
        }
        let specs: Vec<SessionSpec> = pairs
            .into_iter()
            .map(|(s_uri, c_uri)| {
                let cc = SessionConfig::new(
                    c_uri.parse().expect("uri"),
                    s_uri.parse().expect("uri"),
                    seeded_random(4),
                );
                SessionSpec::new(cc, Role::Active)
                    .new_connection()
                    .peer_check(certs.server.verification())
            })
            .collect();
        let t = Instant::now();
        client.run_connect_plan(specs, trips_limit(iters * 20));
        let elapsed = t.elapsed();
        // Untimed: the client goes, and the server reaps its side of every connection.
        client.endpoint.shutdown();
        let mut closed = 0;
        server.side.wait(
            Duration::from_secs(30),
            "the server to close the connections",
            |n| {
                if matches!(n, Note::ConnectionError(_)) {
                    closed += 1;
                }
                (closed == iters).then_some(())
            },
        );
        server.side.clear_notes();
        elapsed
    })
}

/// The rustls handshake baseline; its acceptor thread ends when the measure is dropped.
fn rustls_connect(certs: &Certs) -> Measure<'static> {
    let (server_config, client_config) = tls_configs(certs);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let stop = Arc::new(AtomicBool::new(false));
    let certs_for_server = certs.clone();
    let stop_server = stop.clone();
    let thread = thread::spawn(move || {
        for stream in listener.incoming() {
            if stop_server.load(Ordering::Acquire) {
                break;
            }
            let Ok(mut sock) = stream else { continue };
            let _ = sock.set_nodelay(true);
            let mut conn = ServerConnection::new(server_config.clone()).expect("server");
            if server_handshake(&mut conn, &mut sock).is_err() {
                continue;
            }
            assert!(client_certificate_matches(&conn, &certs_for_server));
            // Read to the client's close_notify or the end of the stream.
            let mut buf = [0u8; 256];
            loop {
                match conn.complete_io(&mut sock) {
                    Ok((0, _)) | Err(_) => break,
                    Ok(_) => {}
                }
                match conn.reader().read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
        }
    });
    let mut thread = Some(thread);
    let guard = OnDrop(move || {
        stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(addr);
        if let Some(t) = thread.take() {
            let _ = t.join();
        }
    });
    Box::new(move |iters| {
        let _ = &guard;
        let t = Instant::now();
        for _ in 0..iters {
            let mut sock = TcpStream::connect(addr).expect("connect");
            sock.set_nodelay(true).expect("nodelay");
            let name = ServerName::try_from("localhost").expect("name");
            let mut conn = ClientConnection::new(client_config.clone(), name).expect("client");
            client_handshake(&mut conn, &mut sock).expect("handshake");
            conn.send_close_notify();
            while conn.wants_write() {
                conn.write_tls(&mut sock).expect("close_notify");
            }
        }
        t.elapsed()
    })
}

/// Settings for the bulk transfers: a unit of 1 GiB is long already, so 7 rounds; the quick
/// run's 128 MiB units are short, and the loopback's speed varies from round to round on a
/// shared machine, so 11 rounds.
fn bulk_settings(settings: &Settings) -> Settings {
    Settings {
        rounds: if is_quick() { 11 } else { 7 },
        ..*settings
    }
}

/// The bulk benches: TCP, TCP with 2 KiB chunks, TLS.
fn bulk(settings: &Settings, certs: &Certs, size: usize, check: bool) {
    if ![
        "transport_1gib_tcp_vs_std",
        "transport_1gib_tcp_2k_chunks_vs_std",
        "transport_1gib_tls_vs_rustls",
    ]
    .iter()
    .any(|n| is_selected(n))
    {
        return;
    }
    let body = Bytes::from(random_body(size, 0x5eed));
    let settings = bulk_settings(settings);

    let record: Record = Arc::new(Mutex::new(Vec::new()));
    if is_selected("transport_1gib_tcp_vs_std") {
        guarded("transport_1gib_tcp_vs_std", Some(0.8), check, || {
            bulk_tcp(&settings, certs, &body, &record, check)
        });
    }
    if is_selected("transport_1gib_tcp_2k_chunks_vs_std") {
        guarded(
            "transport_1gib_tcp_2k_chunks_vs_std",
            Some(0.5),
            check,
            || bulk_tcp_2k(&settings, certs, &body, &record, check),
        );
    }
    if is_selected("transport_1gib_tls_vs_rustls") {
        guarded("transport_1gib_tls_vs_rustls", Some(0.85), check, || {
            bulk_tls(&settings, certs, &body, check)
        });
    }
}

/// `transport_1gib_tcp_vs_std`.
fn bulk_tcp(settings: &Settings, certs: &Certs, body: &Bytes, record: &Record, check: bool) {
    let gb = body.len() as f64;
    let subject = Subject::start(false, certs, |_| {});
    if check {
        msrp_bulk(&subject, body)(1);
        std_bulk(body, record)(1);
    } else {
        let c = compare(
            &mut std_bulk(body, record),
            &mut msrp_bulk(&subject, body),
            settings,
        );
        report("transport_1gib_tcp_vs_std", 0.8, &c, (gb, "GB/s"));
        let r = record.lock().expect("record");
        let mut w16: Vec<f64> = r.iter().step_by(2).map(|t| gb / t / 1e9).collect();
        let mut w64: Vec<f64> = r.iter().skip(1).step_by(2).map(|t| gb / t / 1e9).collect();
        print_info(
            "transport_1gib_tcp.std_16k_writes",
            median(&mut w16),
            "GB/s",
        );
        print_info(
            "transport_1gib_tcp.std_64k_writes",
            median(&mut w64),
            "GB/s",
        );
        print_info("transport_1gib_tcp.message_size", gb, "bytes");
    }
}

/// `transport_1gib_tcp_2k_chunks_vs_std`.
fn bulk_tcp_2k(settings: &Settings, certs: &Certs, body: &Bytes, record: &Record, check: bool) {
    let gb = body.len() as f64;
    let subject = Subject::start(false, certs, |c| c.chunking = Chunking::Fixed(2048));
    if check {
        msrp_bulk(&subject, body)(1);
    } else {
        let c = compare(
            &mut std_bulk(body, record),
            &mut msrp_bulk(&subject, body),
            settings,
        );
        report("transport_1gib_tcp_2k_chunks_vs_std", 0.5, &c, (gb, "GB/s"));
    }
}

/// `transport_1gib_tls_vs_rustls`.
fn bulk_tls(settings: &Settings, certs: &Certs, body: &Bytes, check: bool) {
    let gb = body.len() as f64;
    let subject = Subject::start(true, certs, |_| {});
    let (mut baseline, negotiated) = rustls_bulk(body, certs);
    println!("info transport_1gib_tls.baseline_suite {negotiated}");
    if check {
        msrp_bulk(&subject, body)(1);
        baseline(1);
    } else {
        let c = compare(&mut baseline, &mut msrp_bulk(&subject, body), settings);
        report("transport_1gib_tls_vs_rustls", 0.85, &c, (gb, "GB/s"));
    }
}

/// The small-message benches: lockstep and pipelined.
fn small(settings: &Settings, certs: &Certs, check: bool) {
    if !is_selected("transport_lockstep_200b_vs_pingpong")
        && !is_selected("transport_pipelined_200b_per_s_over_500k")
        && !is_selected("transport_lockstep_200b_10k_idle")
    {
        return;
    }
    let subject = Subject::start(false, certs, |_| {});
    if check {
        msrp_lockstep(&subject)(10);
        pingpong()(10);
        msrp_pipelined(&subject)(2);
        let crowded = Subject::start(false, certs, |_| {});
        crowded.add_idle_sessions(150);
        msrp_lockstep(&crowded)(10);
        return;
    }
    if is_selected("transport_lockstep_200b_vs_pingpong") {
        guarded(
            "transport_lockstep_200b_vs_pingpong",
            Some(0.9),
            check,
            || {
                let c = compare(&mut pingpong(), &mut msrp_lockstep(&subject), settings);
                report(
                    "transport_lockstep_200b_vs_pingpong",
                    0.9,
                    &c,
                    (1e9, "round_trips/s"),
                );
            },
        );
    }
    if is_selected("transport_pipelined_200b_per_s_over_500k") {
        guarded(
            "transport_pipelined_200b_per_s_over_500k",
            Some(1.0),
            check,
            || pipelined(&subject, settings),
        );
    }
    if is_selected("transport_lockstep_200b_10k_idle") {
        guarded("transport_lockstep_200b_10k_idle", None, check, || {
            crowded_lockstep(&subject, settings, certs)
        });
    }
}

/// `transport_lockstep_200b_10k_idle_vs_none`.
fn crowded_lockstep(subject: &Subject, settings: &Settings, certs: &Certs) {
    // The same lockstep on endpoints that also carry 10 000 idle sessions, against the
    // lockstep without them: what idle sessions cost the busy one.
    let crowded = Subject::start(false, certs, |_| {});
    crowded.add_idle_sessions(IDLE);
    let c = compare(
        &mut msrp_lockstep(subject),
        &mut msrp_lockstep(&crowded),
        settings,
    );
    print_info("transport_lockstep_200b_10k_idle_vs_none", c.ratio, "x");
    print_info(
        "transport_lockstep_200b_10k_idle",
        1e9 / c.subject_ns,
        "round_trips/s",
    );
    print_info(
        "transport_lockstep_200b_10k_idle.without_idle",
        1e9 / c.baseline_ns,
        "round_trips/s",
    );
}

/// `transport_pipelined_200b_per_s_over_500k`.
fn pipelined(subject: &Subject, settings: &Settings) {
    let m = measure(&mut msrp_pipelined(subject), settings);
    let rate = |ns: f64| WINDOW as f64 * 1e9 / ns;
    print_ratio(
        "transport_pipelined_200b_per_s_over_500k",
        rate(m.ns) / 500e3,
        1.0,
    );
    print_info("transport_pipelined_200b_per_s", rate(m.ns), "msgs/s");
    print_info(
        "transport_pipelined_200b_per_s.slowest_round",
        rate(m.ns_max),
        "msgs/s",
    );
    print_info(
        "transport_pipelined_200b_per_s.fastest_round",
        rate(m.ns_min),
        "msgs/s",
    );
}

/// The connect bench.
fn connect(settings: &Settings, certs: &Certs, check: bool) {
    if !is_selected("transport_tls_connect_first_send_vs_rustls") {
        return;
    }
    let side = Side::start(
        endpoint_config(certs.server.identity()),
        Bytes::from_static(b"unused"),
    );
    let addr = side
        .endpoint
        .handle()
        .listen("127.0.0.1:0".parse().expect("address"), true)
        .expect("listen");
    let server = ConnectServer { side, addr };
    if check {
        msrp_connect(&server, certs)(3);
        rustls_connect(certs)(3);
        return;
    }
    guarded(
        "transport_tls_connect_first_send_vs_rustls",
        Some(0.8),
        check,
        || {
            let c = compare(
                &mut rustls_connect(certs),
                &mut msrp_connect(&server, certs),
                settings,
            );
            report(
                "transport_tls_connect_first_send_vs_rustls",
                0.8,
                &c,
                (1e9, "connections/s"),
            );
        },
    );
}

fn main() {
    let settings = Settings::from_env();
    // `cargo test --benches` runs everything once, small, as a check; there is nothing to
    // compare.
    let check = !is_bench_mode();
    let size = match (check, is_quick()) {
        (true, _) => SIZE_CHECK,
        (false, true) => SIZE_QUICK,
        (false, false) => SIZE,
    };
    let certs = Certs::generate();
    let started = Instant::now();
    bulk(&settings, &certs, size, check);
    small(&settings, &certs, check);
    connect(&settings, &certs, check);
    if check {
        println!("transport benches: checked once each");
    } else {
        print_info("transport.bench_time", started.elapsed().as_secs_f64(), "s");
    }
}
