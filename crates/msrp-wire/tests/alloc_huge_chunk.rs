//! A 10 GiB chunk passes through the streaming decoder in a few MiB (RFC 4975 §7.1: "All MSRP
//! nodes MUST be able to receive chunks of any size").

use msrp_wire::{Flag, Item, StreamDecoder};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn ten_gib_chunk_in_constant_memory() {
    let _profiler = dhat::Profiler::builder().testing().build();

    const PIECE: usize = 256 * 1024;
    const TOTAL: u64 = 10 << 30;
    // Body data with near-misses of the end-line every 16 KiB, so that the search has to look
    // closely (the property tests cover dense near-misses).
    let mut piece = vec![b'x'; PIECE];
    let near_misses = b"\r\n-------xyzw$\r\n-------9z8y7x6w5X\r\n-------9z8y7x6w+\r\n--";
    for at in (0..PIECE).step_by(16 * 1024) {
        piece[at..at + near_misses.len()].copy_from_slice(near_misses);
    }
    piece.truncate(PIECE);

    let mut decoder = StreamDecoder::new();
    decoder.push(
        b"MSRP 9z8y7x6w5 SEND\r\nTo-Path: msrp://b.example.com:9/s;tcp\r\n\
From-Path: msrp://a.example.com:9/t;tcp\r\nMessage-ID: big1\r\nByte-Range: 1-*/*\r\n\
Content-Type: application/octet-stream\r\n\r\n",
    );
    let mut received = 0u64;
    let mut heads = 0;
    let mut end = None;
    let mut take = |decoder: &mut StreamDecoder| {
        while let Some(item) = decoder.decode().unwrap() {
            match item {
                Item::Head(_) => heads += 1,
                Item::Body(bytes) => received += bytes.len() as u64,
                Item::End(flag) => end = Some(flag),
                Item::Frame(_) => panic!("a huge chunk cannot come whole"),
            }
        }
    };
    let mut sent = 0u64;
    while sent < TOTAL {
        decoder.push(&piece);
        sent += PIECE as u64;
        take(&mut decoder);
    }
    decoder.push(b"\r\n-------9z8y7x6w5$\r\n");
    take(&mut decoder);

    assert_eq!(heads, 1);
    assert_eq!(received, TOTAL);
    assert_eq!(end, Some(Flag::End));
    assert!(!decoder.is_mid_frame());
    assert_eq!(decoder.scanned(), TOTAL + 2 + 7 + 9 + 3);
    let stats = dhat::HeapStats::get();
    assert!(
        stats.max_bytes < 4 << 20,
        "peak heap {} bytes for a {} byte chunk",
        stats.max_bytes,
        TOTAL
    );
}

/// Runs without the test harness: its threads would allocate while the heap is counted.
fn main() {
    ten_gib_chunk_in_constant_memory();
    println!("test ten_gib_chunk_in_constant_memory ... ok");
}
