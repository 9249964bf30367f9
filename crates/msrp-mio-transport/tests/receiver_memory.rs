//! A receiver's memory stays bounded while a fast sender streams a large message at it: with a
//! handler on the loop's thread (events are handed over between reads, so the buffers their
//! data points into are let go), and with an application that stops taking its events from
//! the channel (reading pauses at `EndpointConfig::event_bytes`). Runs without the test
//! harness, whose threads would allocate while the heap is counted.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Generated, pair_of, wait_outcome};
use msrp_mio_transport::{Context, Endpoint, EndpointConfig, EndpointEvent};
use msrp_session::{Chunking, Event, OutgoingMessage};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const SIZE: u64 = 64 << 20;

fn message() -> OutgoingMessage {
    OutgoingMessage::from_source("application/octet-stream", Generated::new(SIZE))
}

/// A receiver with a handler that counts the data and says when the message has ended.
fn handler_receiver_holds_little() {
    let (done_tx, done) = mpsc::channel();
    let mut counted = 0u64;
    let handler = move |_: &mut Context<'_>, event: EndpointEvent| match event {
        EndpointEvent::Session(_, Event::MessageData(d)) => counted += d.data.len() as u64,
        EndpointEvent::Session(_, Event::MessageEnd(end)) => {
            let _ = done_tx.send((counted, end.result.is_ok()));
        }
        _ => {}
    };
    let server = Endpoint::start_with_handler(EndpointConfig::default(), handler).unwrap();
    let client = Endpoint::start(EndpointConfig::default()).unwrap();
    // Small chunks: many events per read, each pointing into the buffer it was read into.
    let p = pair_of(server, client, false, |c, server| {
        if !server {
            c.chunking = Chunking::Fixed(2048);
        }
    });
    let profiler = dhat::Profiler::builder().testing().build();
    let start = dhat::HeapStats::get().curr_bytes;
    p.client
        .handle()
        .send(p.client_session, message())
        .expect("the endpoint runs");
    let (counted, ok) = done.recv_timeout(Duration::from_secs(120)).unwrap();
    assert!(ok && counted == SIZE, "{counted} bytes, ok: {ok}");
    let peak = dhat::HeapStats::get().max_bytes - start;
    println!("handler: peak heap above the start during {SIZE} bytes: {peak}");
    assert!(peak < 16 << 20, "peak heap {peak} bytes above the start");
    drop(profiler);
}

/// A receiver whose application stops taking events for a while.
fn lagging_application_holds_little() {
    let mut config = EndpointConfig::default();
    config.event_bytes = 4 << 20;
    let server = Endpoint::start(config.clone()).unwrap();
    let client = Endpoint::start(config).unwrap();
    let p = pair_of(server, client, false, |_, _| {});
    let profiler = dhat::Profiler::builder().testing().build();
    let start = dhat::HeapStats::get().curr_bytes;
    let sent = p
        .client
        .handle()
        .send(p.client_session, message())
        .expect("the endpoint runs");
    // The application sleeps: the endpoint reads until 4 MiB of data wait, then stops.
    std::thread::sleep(Duration::from_secs(1));
    let held = dhat::HeapStats::get().curr_bytes - start;
    println!("lagging application: heap above the start after a second: {held}");
    assert!(
        held < 12 << 20,
        "{held} bytes held for a lagging application"
    );
    // It takes its events again: the whole message arrives.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut counted = 0u64;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match p.server.events().recv_timeout(left) {
            Some(EndpointEvent::Session(_, Event::MessageData(d))) => {
                counted += d.data.len() as u64;
            }
            Some(EndpointEvent::Session(_, Event::MessageEnd(end))) => {
                assert!(end.result.is_ok(), "{:?}", end.result);
                break;
            }
            Some(_) => {}
            None => panic!("timed out after {counted} bytes"),
        }
    }
    assert_eq!(counted, SIZE);
    let outcome = wait_outcome(&p.client, sent, Duration::from_secs(30));
    assert!(outcome.result.is_ok(), "{outcome:?}");
    drop(profiler);
}

fn main() {
    handler_receiver_holds_little();
    println!("test handler_receiver_holds_little ... ok");
    lagging_application_holds_little();
    println!("test lagging_application_holds_little ... ok");
}
