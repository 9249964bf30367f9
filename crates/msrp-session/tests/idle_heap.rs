//! An idle session holds at most 2 KiB of heap, measured with a counting allocator: on the
//! active and the passive side, after its binding SEND was answered, and after an exchange of
//! messages once the session has been quiet long enough to give back what the exchange left.
//! A quiet connection gives back its output buffers too.

mod common;

use std::time::Duration;

use common::{Pair, Side, config};
use msrp_session::{Connection, ConnectionConfig, OutgoingMessage, Role, Session, SessionConfig};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// The bound of the issue: "An idle session holds at most 2 KiB of heap".
const BOUND: u64 = 2048;
/// Sessions measured per connection, beyond the first.
const MORE: u64 = 200;

fn heap() -> u64 {
    dhat::HeapStats::get().curr_bytes as u64
}

/// Session `i` of a pair: Alice's side is active and sends the binding SEND.
fn configs(i: u64) -> (SessionConfig, SessionConfig) {
    let a = format!("msrp://a{i}.example.com:7000/a{i:06}xx;tcp");
    let b = format!("msrp://b.example.com:8000/b{i:06}xx;tcp");
    let mut alice = config(&a, &b, 2 * i + 1);
    alice.role = Role::Active;
    (alice, config(&b, &a, 2 * i + 2))
}

/// A pair of connections carrying `n` sessions, bound (and, with `messages`, having exchanged
/// that many messages on each session both ways), then left quiet for `quiet`.
fn pair(n: u64, messages: usize, quiet: Duration) -> Pair {
    let (a, b): (Vec<_>, Vec<_>) = (0..n).map(configs).unzip();
    let mut pair = Pair::new(Side::new(a), Side::new(b), 7);
    // Socket-sized reads and writes, so that the decoders' buffers (per connection, and given
    // back only when the decoder is dropped) do not grow with the number of sessions.
    pair.max_read = 16 << 10;
    pair.max_write = 16 << 10;
    pair.drive();
    for _ in 0..messages {
        for side in [&mut pair.a, &mut pair.b] {
            for &key in &side.keys {
                side.conn
                    .send(key, OutgoingMessage::new("text/plain", vec![b'm'; 100]))
                    .unwrap();
            }
        }
        pair.drive();
    }
    assert!(pair.a.seen.failures.is_empty() && pair.b.seen.failures.is_empty());
    let expected = n as usize * messages;
    assert_eq!(pair.a.seen.received.len(), expected);
    assert_eq!(pair.b.seen.received.len(), expected);
    if !quiet.is_zero() {
        pair.advance(quiet);
    }
    pair
}

/// The heap each side of a pair holds: what dropping it gives back.
fn heap_of_sides(mut pair: Pair) -> (u64, u64) {
    pair.a.seen = Default::default();
    pair.b.seen = Default::default();
    let Pair { a, b, .. } = pair;
    let before = heap();
    drop(a);
    let active = before - heap();
    let before = heap();
    drop(b);
    (active, before - heap())
}

/// Heap per session on each side: what `MORE` more sessions on the same connections add.
fn per_session(messages: usize, quiet: Duration) -> (u64, u64) {
    let one = heap_of_sides(pair(1, messages, quiet));
    let many = heap_of_sides(pair(1 + MORE, messages, quiet));
    ((many.0 - one.0) / MORE, (many.1 - one.1) / MORE)
}

fn check(what: &str, (active, passive): (u64, u64), bound: u64) {
    println!("heap per session {what}: active {active} bytes, passive {passive} bytes");
    assert!(
        active <= bound && passive <= bound,
        "a session {what} holds {active} (active) and {passive} (passive) bytes"
    );
}

fn idle_sessions_hold_at_most_2_kib_each() {
    let _profiler = dhat::Profiler::builder().testing().build();

    // Sessions just attached to a connection.
    let mut conn = Connection::new(ConnectionConfig::default());
    let before = heap();
    for i in 0..1000 {
        let (_, b) = configs(i);
        conn.insert_session(Session::new(b).unwrap()).unwrap();
    }
    let attached = (heap() - before) / 1000;
    println!("heap per session attached: {attached} bytes");
    assert!(
        attached <= BOUND,
        "an attached session holds {attached} bytes"
    );
    drop(conn);

    // Bound: the active side's SEND answered, nothing else sent (what a transport holds for
    // each of many idle sessions).
    check("bound", per_session(0, Duration::ZERO), BOUND);
    // Three messages each way and 30 s of quiet: the exchange is forgotten.
    check(
        "quiet after an exchange",
        per_session(3, Duration::from_secs(31)),
        BOUND,
    );
    // Right after the exchange, before the quiet time, the tables of the exchange are still
    // there; they are sized by use, not ahead of it.
    check(
        "right after an exchange",
        per_session(3, Duration::ZERO),
        3 * BOUND,
    );
}

/// A connection gives back its buffers once quiet for `ConnectionConfig::buffer_release` (1 s),
/// long before its sessions forget their exchange (30 s).
fn quiet_connections_release_their_buffers() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let busy = heap_of_sides(pair(1, 3, Duration::from_millis(900)));
    let quiet = heap_of_sides(pair(1, 3, Duration::from_millis(1100)));
    println!("heap of a connection with one session: busy {busy:?} bytes, quiet {quiet:?} bytes");
    // Within the second, each side holds buffers for input, requests and responses, of 64 KiB
    // each; after it, little more than its session and what the exchange left in its tables.
    assert!(busy.0 >= 192 << 10 && busy.1 >= 192 << 10);
    assert!(quiet.0 <= 4 * BOUND && quiet.1 <= 4 * BOUND);
}

/// Runs without the test harness: its threads would allocate while the heap is counted.
fn main() {
    idle_sessions_hold_at_most_2_kib_each();
    println!("test idle_sessions_hold_at_most_2_kib_each ... ok");
    quiet_connections_release_their_buffers();
    println!("test quiet_connections_release_their_buffers ... ok");
}
