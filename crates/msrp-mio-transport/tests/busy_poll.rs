//! `EndpointConfig::busy_poll`: messages in lockstep all arrive, and once the traffic stops the
//! event loops go back to sleep instead of polling on. `EndpointConfig::setup_poll`: a loop
//! polls after a new connection's flight, and sleeps again when the peer does not answer or
//! trickles its bytes in.

mod common;

use std::time::Duration;

use common::{pair, random, uri, wait_for, wait_outcome};
use msrp_mio_transport::{
    Endpoint, EndpointConfig, EndpointEvent, PeerVerification, Role, SessionSpec,
};
use msrp_session::{Event, OutgoingMessage, SessionConfig};

/// Taken by each test for its whole run: they read the scheduler's figures of every event loop
/// of the process, so they must not run side by side.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Milliseconds this process's event-loop threads have been runnable: on a CPU, or waiting for
/// one (the first two fields of `/proc/self/task/*/schedstat`). A loop that polls is runnable
/// all along, even while it yields its CPU to other threads (which a busy machine makes it do
/// most of the time, so its CPU time alone would not show it); a sleeping loop is not.
#[cfg(target_os = "linux")]
fn loop_threads_runnable_ms() -> u64 {
    // A loop thread names itself once it runs: give a new one a moment.
    for _ in 0..100 {
        if let Some(ms) = read_loop_threads_runnable_ms() {
            return ms;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no event loop's figures in /proc/self/task/*/schedstat");
}

/// The sum of [`loop_threads_runnable_ms`], or `None` if no loop thread shows.
#[cfg(target_os = "linux")]
fn read_loop_threads_runnable_ms() -> Option<u64> {
    let mut total_ns = 0;
    let mut read = false;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != "msrp-endpoint" {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("schedstat")) else {
            continue;
        };
        let fields: Vec<u64> = stat
            .split_whitespace()
            .map(|f| f.parse().expect("a schedstat field"))
            .collect();
        total_ns += fields[0] + fields[1];
        read = true;
    }
    read.then_some(total_ns / 1_000_000)
}

/// Milliseconds the event-loop threads are runnable in the next second.
#[cfg(target_os = "linux")]
fn loop_threads_runnable_ms_in_a_second() -> u64 {
    let before = loop_threads_runnable_ms();
    std::thread::sleep(Duration::from_secs(1));
    loop_threads_runnable_ms().saturating_sub(before)
}

#[test]
fn lockstep_with_busy_poll_delivers_everything_then_sleeps() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let mut config = EndpointConfig::default();
    config.busy_poll = Duration::from_millis(1);
    let p = pair(false, config, |_, _| {});
    for i in 0..300u32 {
        let text = format!("message {i}");
        let m = p
            .client
            .handle()
            .send(
                p.client_session,
                OutgoingMessage::new("text/plain", text.clone()),
            )
            .expect("the endpoint runs");
        let body = wait_for(&p.server, Duration::from_secs(10), |e| match e {
            EndpointEvent::Session(_, Event::Message(m)) => Some(m.body),
            _ => None,
        });
        assert_eq!(&body[..], text.as_bytes());
        let outcome = wait_outcome(&p.client, m, Duration::from_secs(10));
        assert!(outcome.result.is_ok(), "{outcome:?}");
    }
    // Idle now: each loop polls for at most 1 ms more, then sleeps. Two loops polling through
    // the whole second would be runnable for 2000 ms; sleeping ones for close to none.
    #[cfg(target_os = "linux")]
    {
        std::thread::sleep(Duration::from_millis(50));
        let runnable = loop_threads_runnable_ms_in_a_second();
        assert!(
            runnable <= 200,
            "the idle event loops were runnable for {runnable} ms of one second"
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn setup_poll_ends_when_the_peer_does_not_answer() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    // A TLS server that accepts and then says nothing: the endpoint's ClientHello is the last
    // flight it writes, so its loop polls for `setup_poll` after it and then sleeps.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = EndpointConfig::default();
    config.busy_poll = Duration::ZERO;
    config.setup_poll = Duration::from_millis(300);
    config.endpoint.connect_timeout = Duration::from_secs(30);
    let client = Endpoint::start(config).unwrap();
    let before = loop_threads_runnable_ms();
    let local = uri("msrps", "127.0.0.1:9".parse().unwrap(), "cli0session");
    let remote = uri("msrps", addr, "srv0session");
    let spec = SessionSpec::new(
        SessionConfig::new(local.parse().unwrap(), remote.parse().unwrap(), random(1)),
        Role::Active,
    )
    .peer_check(PeerVerification::Fingerprints(Vec::new()));
    client.handle().open_session(spec).unwrap();
    let (mut silent, _) = listener.accept().unwrap();
    // The ClientHello arrives: the flight was written.
    let mut hello = [0u8; 5];
    std::io::Read::read_exact(&mut silent, &mut hello).unwrap();
    assert_eq!(hello[0], 22, "a TLS handshake record");
    std::thread::sleep(Duration::from_millis(600));
    let polled = loop_threads_runnable_ms().saturating_sub(before);
    // A loop that polls for 300 ms is runnable for as long; one that slept at once, for close
    // to nothing.
    assert!(
        polled >= 200,
        "the loop was runnable for {polled} ms after its ClientHello"
    );
    let runnable = loop_threads_runnable_ms_in_a_second();
    assert!(
        runnable <= 100,
        "the loop was runnable for {runnable} ms of a second of waiting for a silent peer"
    );
    drop(silent);
}

#[cfg(target_os = "linux")]
#[test]
fn a_peer_trickling_its_handshake_does_not_keep_the_loop_polling() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    // Only what the endpoint writes starts the polling of `setup_poll`: a client that sends its
    // ClientHello a byte at a time gets no answer until it is whole, and each byte it sends
    // must not buy it another 500 µs of the loop's time.
    let mut config = EndpointConfig::default();
    config.busy_poll = Duration::ZERO;
    let server = Endpoint::start(config).unwrap();
    let addr = server
        .handle()
        .listen("127.0.0.1:0".parse().unwrap(), true)
        .unwrap();
    let mut peer = std::net::TcpStream::connect(addr).unwrap();
    peer.set_nodelay(true).unwrap();
    // A handshake record of 16 KiB, announced, then sent a byte every millisecond.
    std::io::Write::write_all(&mut peer, &[22, 3, 1, 0x40, 0]).unwrap();
    let before = loop_threads_runnable_ms();
    let start = std::time::Instant::now();
    let mut sent = 0;
    while start.elapsed() < Duration::from_secs(1) {
        std::io::Write::write_all(&mut peer, &[1]).unwrap();
        sent += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    let runnable = loop_threads_runnable_ms().saturating_sub(before);
    // Polling 500 µs after each of the bytes kept the loop runnable for about half of the
    // second (469 ms measured); reading them alone takes some 30 ms.
    assert!(
        runnable <= 200,
        "the loop was runnable for {runnable} ms of the second in which {sent} bytes trickled in"
    );
}
