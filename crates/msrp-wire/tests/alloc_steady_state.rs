//! Once warm, the decoders allocate nothing per small frame: the header index lives inline in
//! the frame, and the receive buffer is reused once the frames cut from it are dropped.

use msrp_wire::{Decoder, Item, StreamDecoder};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const SEND: &[u8] = b"MSRP a786hjs2 SEND\r\n\
To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n\
From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n\
Message-ID: 87652491\r\n\
Byte-Range: 1-25/25\r\n\
Content-Type: text/plain\r\n\
\r\n\
Hey Bob, are you there?\r\n\
-------a786hjs2$\r\n";

fn blocks() -> u64 {
    dhat::HeapStats::get().total_blocks
}

fn no_allocation_per_small_frame_once_warm() {
    let _profiler = dhat::Profiler::builder().testing().build();

    // Whole frames, one push per frame.
    let mut decoder = Decoder::new();
    let run = |n: usize, decoder: &mut Decoder| {
        let mut bytes = 0;
        for _ in 0..n {
            decoder.push(SEND);
            let frame = decoder.decode().unwrap().expect("frame");
            bytes += frame.body().map_or(0, <[u8]>::len);
            assert!(frame.to_path().unwrap().is_some());
        }
        bytes
    };
    run(100, &mut decoder);
    let before = blocks();
    assert_eq!(run(10_000, &mut decoder), 10_000 * 23);
    assert_eq!(
        blocks() - before,
        0,
        "allocations per frame in steady state"
    );

    // Several frames per push, as a socket read delivers them.
    let batch: Vec<u8> = SEND.repeat(64);
    let drain = |decoder: &mut Decoder| {
        decoder.push(&batch);
        let mut n = 0;
        while let Some(frame) = decoder.decode().unwrap() {
            n += usize::from(frame.has_body());
        }
        n
    };
    drain(&mut decoder);
    let before = blocks();
    for _ in 0..100 {
        assert_eq!(drain(&mut decoder), 64);
    }
    assert_eq!(
        blocks() - before,
        0,
        "allocations per batch in steady state"
    );

    // The streaming decoder, with pushes that split frames.
    let mut decoder = StreamDecoder::new();
    let feed = |decoder: &mut StreamDecoder| {
        let mut items = 0;
        for piece in batch.chunks(1000) {
            decoder.push(piece);
            while let Some(item) = decoder.decode().unwrap() {
                items += 1;
                drop(item);
            }
        }
        items
    };
    feed(&mut decoder);
    let before = blocks();
    for _ in 0..100 {
        assert!(feed(&mut decoder) >= 64);
    }
    assert_eq!(
        blocks() - before,
        0,
        "allocations while streaming in steady state"
    );
    let _ = Item::End;
}

/// Runs without the test harness: its threads would allocate while the heap is counted.
fn main() {
    no_allocation_per_small_frame_once_warm();
    println!("test no_allocation_per_small_frame_once_warm ... ok");
}
