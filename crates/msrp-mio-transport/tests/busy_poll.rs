//! `EndpointConfig::busy_poll`: messages in lockstep all arrive, and once the traffic stops the
//! event loops go back to sleep instead of polling on. `EndpointConfig::setup_poll`: a loop
//! polls after a new connection's flight, and sleeps again when the peer does not answer.

mod common;

use std::time::Duration;

use common::{pair, random, uri, wait_for, wait_outcome};
use msrp_mio_transport::{
    Endpoint, EndpointConfig, EndpointEvent, PeerVerification, Role, SessionSpec,
};
use msrp_session::{Event, OutgoingMessage, SessionConfig};

/// Taken by each test for its whole run: they read the CPU time of every event loop of the
/// process, so they must not run side by side.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// CPU time (user and system, in clock ticks) of this process's event-loop threads, read from
/// `/proc`.
#[cfg(target_os = "linux")]
fn loop_threads_cpu_ticks() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != "msrp-endpoint" {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // The fields after the command name, which is in parentheses and may hold spaces:
        // utime and stime are the 14th and 15th fields of the line.
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        total += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    total
}

/// CPU ticks the event-loop threads use in the next second.
#[cfg(target_os = "linux")]
fn loop_threads_cpu_ticks_in_a_second() -> u64 {
    let before = loop_threads_cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    loop_threads_cpu_ticks() - before
}

#[test]
fn lockstep_with_busy_poll_delivers_everything_then_sleeps() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let mut config = EndpointConfig::default();
    config.busy_poll = Duration::from_millis(1);
    let p = pair(false, config, |_, _| {});
    for i in 0..300u32 {
        let text = format!("message {i}");
        let m = p.client.handle().send(
            p.client_session,
            OutgoingMessage::new("text/plain", text.clone()),
        );
        let body = wait_for(&p.server, Duration::from_secs(10), |e| match e {
            EndpointEvent::Session(_, Event::Message(m)) => Some(m.body),
            _ => None,
        });
        assert_eq!(&body[..], text.as_bytes());
        let outcome = wait_outcome(&p.client, m, Duration::from_secs(10));
        assert!(outcome.result.is_ok(), "{outcome:?}");
    }
    // Idle now: each loop polls for at most 1 ms more, then sleeps. Two loops polling through
    // the whole second would take about 200 ticks (at 100 per second); sleeping ones close to
    // none.
    #[cfg(target_os = "linux")]
    {
        std::thread::sleep(Duration::from_millis(50));
        let spent = loop_threads_cpu_ticks_in_a_second();
        assert!(
            spent <= 20,
            "the idle event loops used {spent} ticks of CPU in one second"
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
    config.connect_timeout = Duration::from_secs(30);
    let client = Endpoint::start(config).unwrap();
    let before = loop_threads_cpu_ticks();
    let local = uri("msrps", "127.0.0.1:9".parse().unwrap(), "cli0session");
    let remote = uri("msrps", addr, "srv0session");
    let spec = SessionSpec::new(
        SessionConfig::new(local.parse().unwrap(), remote.parse().unwrap(), random(1)),
        Role::Active,
    )
    .verification(PeerVerification::Fingerprints(Vec::new()));
    client.handle().open_session(spec).unwrap();
    let (mut silent, _) = listener.accept().unwrap();
    // The ClientHello arrives: the flight was written.
    let mut hello = [0u8; 5];
    std::io::Read::read_exact(&mut silent, &mut hello).unwrap();
    assert_eq!(hello[0], 22, "a TLS handshake record");
    std::thread::sleep(Duration::from_millis(600));
    let polled = loop_threads_cpu_ticks() - before;
    // 300 ms of polling is about 30 ticks; a loop that slept at once would show none. A third
    // is asked for, since a test running beside others does not get a CPU to itself.
    assert!(
        polled >= 10,
        "the loop polled for {polled} ticks after its ClientHello"
    );
    let spent = loop_threads_cpu_ticks_in_a_second();
    assert!(
        spent <= 10,
        "the loop used {spent} ticks of CPU in a second of waiting for a silent peer"
    );
    drop(silent);
}
