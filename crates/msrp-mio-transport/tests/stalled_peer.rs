//! A peer that stops reading: the sender's memory stays bounded, and the transfer resumes when
//! the peer reads again. Runs without the test harness, whose threads would allocate while the
//! heap is counted.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{Generated, random, uri, wait_outcome};
use msrp_mio_transport::{Endpoint, EndpointConfig, Role, SessionSpec};
use msrp_session::{OutgoingMessage, SessionConfig};
use msrp_wire::FailureReport;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const SIZE: u64 = 64 << 20;

fn stalled_peer_costs_bounded_memory() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let endpoint = Endpoint::start(EndpointConfig::default()).unwrap();
    let local = uri("msrp", "127.0.0.1:9".parse().unwrap(), "cli0session");
    let peer = uri("msrp", addr, "peer0session");
    let config = SessionConfig::new(local.parse().unwrap(), peer.parse().unwrap(), random(3));
    let session = endpoint
        .handle()
        .open_session(SessionSpec::new(config, Role::Active))
        .unwrap();
    let message = endpoint
        .handle()
        .send(
            session,
            OutgoingMessage::from_source("application/octet-stream", Generated::new(SIZE))
                .failure_report(FailureReport::No),
        )
        .expect("the endpoint runs");
    let (mut stream, _) = listener.accept().unwrap();

    // The peer reads nothing for a while: the sender fills the socket buffers, then waits.
    std::thread::sleep(Duration::from_secs(1));
    let stalled = dhat::HeapStats::get();
    println!(
        "heap while the peer is stalled: {} bytes",
        stalled.curr_bytes
    );
    assert!(
        stalled.curr_bytes < 4 << 20,
        "{} bytes held for a stalled peer",
        stalled.curr_bytes
    );

    // The peer reads again: the rest arrives.
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    while total < SIZE && Instant::now() < deadline {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the sender closed early");
        total += n as u64;
    }
    assert!(
        total >= SIZE,
        "the transfer resumed and completed: {total} bytes"
    );
    let outcome = wait_outcome(&endpoint, message, Duration::from_secs(30));
    assert_eq!(outcome.result.unwrap().bytes, SIZE);
    let peak = dhat::HeapStats::get().max_bytes;
    println!("peak heap during the transfer: {peak} bytes");
    assert!(peak < 8 << 20, "peak heap {peak} bytes");
}

fn main() {
    stalled_peer_costs_bounded_memory();
    println!("test stalled_peer_costs_bounded_memory ... ok");
}
