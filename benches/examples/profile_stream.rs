//! Temporary driver for profiling.
use msrp_benches::{SendFrame, random_body};
use msrp_wire::{Item, StreamDecoder};
use std::hint::black_box;
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(20_000);
    let body = random_body(1 << 20, 0x5eed);
    let frame = SendFrame::new("f8k2lq9d", &body);
    let mut decoder = StreamDecoder::new();
    let t = std::time::Instant::now();
    let mut pieces = 0u64;
    for _ in 0..n {
        for piece in frame.bytes.chunks(16 * 1024) {
            decoder.push(piece);
            while let Some(item) = decoder.decode().expect("valid") {
                if let Item::Body(b) = &item {
                    pieces += 1;
                    black_box(b);
                }
                black_box(&item);
            }
        }
    }
    let e = t.elapsed();
    println!(
        "{pieces} pieces, {:.1} us/MiB (incl push)",
        e.as_nanos() as f64 / n as f64 / 1000.0
    );
}
