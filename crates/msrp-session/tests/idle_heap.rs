//! An idle session holds at most 2 KiB of heap, measured with a counting allocator.

mod common;

use common::{Pair, config};
use msrp_session::{Connection, ConnectionConfig, OutgoingMessage, Session};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn heap() -> u64 {
    dhat::HeapStats::get().curr_bytes as u64
}

fn idle_sessions_hold_at_most_2_kib_each() {
    let _profiler = dhat::Profiler::builder().testing().build();
    const N: u64 = 1000;
    let mut conn = Connection::new(ConnectionConfig::default());
    let before = heap();
    for i in 0..N {
        let local = format!("msrp://b.example.com:8000/s{i:06}xx;tcp");
        let peer = format!("msrp://a{i}.example.com:7000/p{i:06}xx;tcp");
        conn.insert_session(Session::new(config(&local, &peer, i)).unwrap())
            .unwrap();
    }
    let per_session = (heap() - before) / N;
    println!("heap per idle session: {per_session} bytes");
    assert!(
        per_session <= 2048,
        "an idle session holds {per_session} bytes"
    );

    // A session that has exchanged messages and gone quiet again stays within the bound.
    let mut pair = Pair::alice_bob(40);
    let key = pair.a.key();
    for i in 0..20 {
        pair.a
            .conn
            .send(
                key,
                OutgoingMessage::new("text/plain", format!("message {i}")),
            )
            .unwrap();
    }
    pair.drive();
    assert_eq!(pair.b.seen.received.len(), 20);
    // Quiet for a while, each side gives back what the burst left in its tables.
    pair.advance(std::time::Duration::from_secs(30));
    for side in [&mut pair.a, &mut pair.b] {
        let key = side.key();
        let session = side.conn.take_session(key).unwrap();
        let before = heap();
        drop(session);
        let held = before - heap();
        println!("heap of a session after traffic: {held} bytes");
        assert!(held <= 2048, "a session that went idle holds {held} bytes");
    }
}

/// Runs without the test harness: its threads would allocate while the heap is counted.
fn main() {
    idle_sessions_hold_at_most_2_kib_each();
    println!("test idle_sessions_hold_at_most_2_kib_each ... ok");
}
