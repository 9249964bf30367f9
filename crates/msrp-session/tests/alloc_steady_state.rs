//! Small messages pipelined through a pair in memory cost no heap allocation per message once
//! the pair is warm.

mod common;

use std::time::Instant;

use bytes::Bytes;
use common::{ALICE, BOB, config};
use msrp_session::{
    Connection, ConnectionConfig, ConnectionEvent, Event, OutgoingMessage, Session,
};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

static TEXT: &[u8] = &[b'x'; 100];

fn no_allocation_per_message_in_steady_state() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let now = Instant::now();
    let mut a = Connection::new(ConnectionConfig::default());
    let mut b = Connection::new(ConnectionConfig::default());
    let ka = a
        .insert_session(Session::new(config(ALICE, BOB, 1)).unwrap())
        .unwrap();
    b.insert_session(Session::new(config(BOB, ALICE, 2)).unwrap())
        .unwrap();
    let mut pieces = Vec::new();
    // Like a socket, the pipe hands the reader contiguous bytes.
    let mut pipe = Vec::new();
    let mut run = |count: usize, a: &mut Connection, b: &mut Connection| {
        let mut delivered = 0;
        let mut received = 0;
        for _ in 0..count / 50 {
            for _ in 0..50 {
                a.send(
                    ka,
                    OutgoingMessage::new("text/plain", Bytes::from_static(TEXT)),
                )
                .unwrap();
            }
            a.poll_transmit_vectored(now, usize::MAX, &mut pieces);
            pipe.clear();
            pieces.drain(..).for_each(|p| pipe.extend_from_slice(&p));
            b.handle_input(now, &pipe);
            b.poll_transmit_vectored(now, usize::MAX, &mut pieces);
            pipe.clear();
            pieces.drain(..).for_each(|p| pipe.extend_from_slice(&p));
            a.handle_input(now, &pipe);
            while let Some(e) = b.poll_event() {
                if let ConnectionEvent::Session(_, Event::Message(m)) = e {
                    assert_eq!(m.body.len(), 100);
                    received += 1;
                }
            }
            while let Some(e) = a.poll_event() {
                if let ConnectionEvent::Session(_, Event::Outcome(o)) = e {
                    assert!(o.result.is_ok());
                    delivered += 1;
                }
            }
        }
        (delivered, received)
    };
    // Warm up past the duplicate-detection memory, so its tables are at full size.
    assert_eq!(run(3000, &mut a, &mut b), (3000, 3000));
    let before = dhat::HeapStats::get().total_blocks;
    assert_eq!(run(10_000, &mut a, &mut b), (10_000, 10_000));
    let blocks = dhat::HeapStats::get().total_blocks - before;
    println!("{blocks} allocations for 10000 messages");
    assert_eq!(blocks, 0, "allocations per message in steady state");
}

/// Runs without the test harness: its threads would allocate while the heap is counted.
fn main() {
    no_allocation_per_message_in_steady_state();
    println!("test no_allocation_per_message_in_steady_state ... ok");
}
